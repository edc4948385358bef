// Package binlog decodes MySQL and MariaDB binary logs (format version 4)
// as far as point-in-time recovery needs them: the file header, every
// event's header and CRC32 checksum, and the bodies that say where a
// transaction starts and ends and what it touched: Format_description,
// Rotate, MariaDB's GTID and Gtid_list, MySQL's GTID and Previous_gtids,
// Query (database and statement), Annotate_rows (MariaDB's copy of a row
// event's statement), Xid and Table_map, and the table of every row
// event.
//
// A binary log is input from outside (an archive in a store, a file a user
// names): Reader never panics on it, checks every length against the
// event's size before it reads, and allocates only as the bytes arrive,
// up to ReaderOptions.MaxEventSize per event, so a hostile event size
// costs what was actually sent, not what the header claims.
//
// Other event types are returned with their header and raw bytes, their
// body not decoded. Encrypted binary logs (MariaDB's Start_encryption) and
// MySQL 8's compressed transactions (Transaction_payload) are recognised
// but not decoded: their events are reported as such.
package binlog
