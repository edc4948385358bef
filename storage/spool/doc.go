// Package spool writes an encoded backup stream to local segment files at
// the speed of the disk and uploads them to a store that takes objects
// part by part (storage.Multipart, found with storage.As: storage/swift),
// concurrently, so that the database-side
// backup is never slowed down by the network (a slow sink is one cause of
// InnoDB redo log wrap), and so that a backup survives its process being
// killed or the network staying down: the files and a journal stay in the
// spool directory and the upload can be finished later (Open, Finish).
//
// # Layout
//
// A spool of backup ID lives in DIR/ID/:
//
//	journal.jsonl          append-only JSON lines, fsynced one by one:
//	                       start (object, upload ID, store), part (n, size,
//	                       MD5: the file is complete and fsynced), uploaded
//	                       (n: the store confirmed it), end (the stream is
//	                       complete), committed (the object is visible)
//	part-00000000, ...     the segments, PartSize bytes each but the last
//	pending-manifest.json  what the caller needs to finish the backup
//	                       (SavePending), written once the stream is complete
//
// A kill can tear only the last journal line (a record is one write); Open
// ignores a torn last line and refuses a journal damaged elsewhere.
//
// # Resume
//
// A spool whose stream is complete (an end record) can be finished by any
// process: Finish asks the store for every part (StatPart) and uploads only
// those it lacks or holds with another size or MD5, after checking the
// file's MD5 against the journal, then commits. A spool whose stream was
// cut (the process died while the engine was still writing) cannot be
// finished, because the rest of the stream is gone; Discard removes it and
// its uploaded parts.
//
// # Disk space
//
// Create checks that the spool directory's file system has room for the
// expected size (Options.SizeHint) and every segment checks for room for a
// whole segment before it is written, so that a full disk fails the backup
// early with a message that says how much is free and how much is needed,
// not with a short write.
//
// # Memory
//
// One copy buffer (1 MiB) for the writer and the store's own buffers for
// uploads, which read the segment files: independent of the stream's size.
package spool
