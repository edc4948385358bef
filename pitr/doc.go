// Package pitr is point-in-time recovery: an archive of a server's binary
// logs in a store, its index, and replaying a range of it onto a restored
// backup.
//
// The archive lives under Prefix ("binlog/") in the same store as the
// backups, beside them: backup.Catalogue ignores it (its first path element
// is not a backup ID). Every binary log file is stored in pieces, each
// piece an object encoded like a backup's data (stream.Encode: compressed,
// optionally encrypted, hashed), named after the server, the file, the
// time the file was created and the byte range it holds:
//
//	binlog/<server>/<file>@<created>/<start>-<end>.binlog[.gz|.zst][.enc]
//	binlog/<server>/<file>@<created>/<start>-<end>.json
//
// <server> is mariadb-<server_id> (MariaDB has no server UUID) or MySQL's
// server_uuid; <created> (the file's Format_description time, UTC) keeps
// names unique when a server is rebuilt with the same server_id and starts
// again at -bin.000001. The JSON record, written after the data (like a
// backup's manifest), is the piece's index entry: what the piece holds (its
// first and last GTID, times, transactions) and its object's hashes. A
// piece without a record does not exist for readers. Objects are never
// replaced: a name that exists is not written again.
//
// The pieces of one file are contiguous ([0,a), [a,b), ...): their
// concatenation is the file as the server wrote it, from its magic number.
// Archive follows a server through mariadb-binlog / mysqlbinlog
// --read-from-remote-server --raw as a child process (see Archive for why).
package pitr
