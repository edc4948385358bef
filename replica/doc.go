// Package replica turns an empty server into a running replica of a
// primary (`mybak make-replica`): it fills the replica from a backup (a
// stored chain, a wire stream from `mybak backup --to-stdout`, or a dump
// taken from the primary on the spot), starts the server or waits for it,
// positions replication at the backup's recorded coordinates in the
// replica's own SQL dialect, and waits until the replica has caught up.
//
// The SQL is built by pure functions (Dialect, Setup, CreateUser,
// WaitQuery, ParseGTIDSet) so that every dialect (MariaDB, MySQL 5.6, 5.7,
// 8.0, 8.0.23+, 8.4; GTID or binlog file and position) is covered by table
// tests without a server of each kind. Statements carry a redacted form for
// logs: the replication password never reaches a log, an error or a
// child's argv.
package replica
