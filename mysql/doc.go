// Package mysql is mybak's MySQL-facing layer: it talks to servers (with
// go-sql-driver/mysql) and runs their backup tools as child processes.
//
// The story of a backup, as backup/ uses this package:
//
//  1. Open(ctx, conn) and Probe(ctx, db) learn the server: flavour (MariaDB,
//     MySQL, Percona), version, datadir, binlog and GTID settings, redo
//     capacity and current LSN. Grants + MissingPrivileges check the backup
//     user before anything runs; LongQueries shows what would block the
//     backup lock.
//  2. SelectTool(engine, info, logical) picks mariabackup for MariaDB,
//     xtrabackup for MySQL/Percona (innobackupex for 5.5/5.6), mariadb-dump
//     or mysqldump for logical backups, and says which package to install
//     when the program is missing.
//  3. BackupPhysical streams `--backup --stream=xbstream` into the caller's
//     io.Writer (stream.Encode's input) and returns the metadata for the
//     manifest: xtrabackup_checkpoints LSNs, binlog file/position/GTID,
//     tool version. It insists on exit status 0 AND "completed OK!". A redo
//     monitor watches the tool's log and samples the server's LSN; when the
//     redo log wraps (the server overwrote redo not yet copied) it kills
//     the tool at once instead of letting mariabackup retry for minutes,
//     and returns a *RedoWrapError that says what to change.
//     BackupLogical does the same for mysqldump/mariadb-dump: coordinates
//     from the dump's head, "-- Dump completed" required at its end.
//
// and restore/ uses the other half: Extract (mbstream/xbstream -x), Prepare
// (with --apply-log-only / --redo-only while incrementals follow, except on
// mariabackup which rejects it), CopyBack (explicit --datadir, chown to the
// server user) and ApplyDump (SQL into the client, whose own "ERROR nnnn at
// line N" is reported rather than a broken pipe).
//
// Every child goes through Run: its own process group (killed as a whole on
// cancel), stderr drained while it runs (a tool blocks when its stderr pipe
// fills), kept in a log file and a tail for errors, stdout copied to the
// caller's writer, a parent-death signal so that no child outlives mybak
// (Linux; other platforms have none: internal/procattr).
// Passwords never appear on argv or on disk: they are written to a 0600
// memfd that the child inherits as descriptor 3 and reads as
// --defaults-extra-file=/dev/fd/3 (the first argument); MYSQL_PWD is
// stripped from the child's environment. Where there is no memfd (darwin)
// descriptor 3 is a pipe holding the same settings, readable once: the
// tools that read their option file twice (mariabackup, xtrabackup) are
// refused there with ErrUnsupportedPlatform, never given a file on disk. ApplyDump runs the client with
// its sandbox switch (SafeClientArgs): a dump is applied as SQL only.
//
// Known failures become typed errors matching sentinels (ErrAccessDenied,
// ErrMissingPrivileges, ErrLockTimeout, ErrRedoWrapped, ErrToolNotFound,
// ErrIncomplete); their messages tell the user what to do. The package
// returns errors and never exits.
//
// Tests: unit tests and fuzz targets for every parser run anywhere, with
// recorded Percona/MySQL samples in testdata/mysql. Integration tests run
// against real MariaDB servers started by scripts/mysql-sandbox.sh when
// MYBAK_TEST_MYSQL=1 (with CI=true or MYBAK_REQUIRE_TOOLS=1 they fail
// instead of skipping: internal/testenv.Required).
package mysql
