// Package engine is the one seam for the kinds of backup mybak takes and
// restores: an Engine takes a backup (its backup side is the
// backup.Engine that backup.Run streams), restores a chain to a target,
// checks its decoded stream for verify --deep, and says what a restore
// drill of its backups needs. Engines register under the names they write
// into manifests (Engine.Name); restore, verify, drills and make-replica
// find the engine of a backup with For(manifest), as Vitess chooses its
// restore engine from the manifest's BackupMethod, and nothing outside
// the engine packages compares engine names or branches on kinds.
//
// The implementations live in subpackages and register themselves in
// their init functions: engine/physical (mariabackup, xtrabackup,
// innobackupex: xbstream, prepare, copy-back, incrementals),
// engine/dump (mysqldump, mariadb-dump: SQL into a server),
// engine/logical (mybak's own parallel logical dump, logicaldump's) and
// engine/stdin (stdin: any stream; also the fallback for names no engine
// registered). engine/all imports them all; the cli imports engine/all.
//
// Adding an engine (the binlog archive for point-in-time recovery, the
// parallel logical dump named "logical") is one package and one line:
//
//  1. a package engine/NAME with a type implementing Engine: Name returns
//     the name the engine writes into manifests; NewBackup builds its
//     backup side (a backup.Engine) from BackupConfig and returns a
//     *UsageError for a flag that does not apply to it; Restore and
//     RestoreWire put a backup into the Target kind Into names (and
//     return the error ErrWrongTarget wraps for the other kind); CheckChain
//     says whether a chain lines up; NewContentCheck checks the decoded
//     stream (NewXbstreamCheck, NewDumpCheck and NewSniffCheck are there
//     to reuse); Drill says what a drill needs, or why there is none;
//  2. an init function calling Register, and a blank import of the
//     package in engine/all/all.go.
//
// An engine that takes incremental backups also implements Incremental
// (the choice of an incremental's parent is the engine's); one whose tool
// reads a server over the network implements Dumper (make-replica
// --fresh); one that reads the server itself, with no tool to find,
// implements Toolless. Callers ask for these capabilities with a type assertion on
// the Engine; the cli maps its flags to a BackupConfig and a Target and
// never asks which engine it holds.
package engine
