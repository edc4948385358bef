// Package logicaldump is mybak's own parallel logical backup (`--engine
// logical`): Dump takes one consistent snapshot shared by N connections and
// writes every user schema as SQL into one xbstream container; Load restores
// such a container into a server with N connections, resumably and, with
// Include, partially.
//
// # Snapshot
//
// A control connection blocks commits for a moment (BACKUP STAGE
// BLOCK_COMMIT on MariaDB 10.4+, FLUSH TABLES WITH READ LOCK elsewhere),
// reads the binary log file, position and GTID, while every worker runs
// START TRANSACTION WITH CONSISTENT SNAPSHOT; then the lock is released.
// All workers read the same InnoDB snapshot, which the recorded
// coordinates describe. When the selection holds tables of
// non-transactional engines (MyISAM, Aria, MEMORY), the block is FLUSH
// TABLES WITH READ LOCK (BACKUP STAGE would stop a write that holds its
// table lock) and lasts until those tables are read, so that they too are
// at the snapshot's point; then the InnoDB tables are read with commits
// going on.
//
// # Container
//
// The xbstream holds, in this order (names are encoded by pathName, so
// that any schema or table name is a safe file name):
//
//	DB.schema.sql                 CREATE DATABASE
//	DB/TABLE.schema.sql           CREATE TABLE (or CREATE SEQUENCE)
//	plan.json                     the Index without chunks and objects
//	DB/TABLE.NNNNNN.sql           one chunk: INSERT statements, one per line
//	DB/NAME.KIND.sql              views, routines, triggers, events, sequence values
//	users.sql                     users and grants (Options.Users)
//	index.json                    the Index: every file, chunk rows, bytes, sha256
//
// `mbstream -x -C DIR` unpacks it into that directory. A chunk file is a
// sequence of INSERT statements, each on one line ending in ";\n" and
// shorter than the statement limit (below max_allowed_packet); they run in
// the session Load sets up (SessionSetup: utf8mb4, time_zone +00:00,
// sql_mode NO_AUTO_VALUE_ON_ZERO, foreign and unique checks off).
//
// # Load
//
// Schemas first (secondary indexes left out with DeferIndexes), then the
// chunks, each in its own transaction on one of N connections, together
// with a row in the progress table mybak_progress.chunks on the target
// (outside the restored data): a chunk is committed whole or not at all,
// a lost connection retries it, and Resume skips the committed ones, so no
// chunk is loaded twice; restores running at the same time keep to their
// own records (see ProgressSchema). Then the deferred indexes, then views, routines,
// triggers, events and sequence values, and the users.
package logicaldump
