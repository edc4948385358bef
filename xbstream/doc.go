// Package xbstream reads and writes the xbstream archive format that
// xtrabackup and mariabackup produce with --stream=xbstream, so that mybak
// can check a physical backup chunk by chunk without extracting it.
//
// An xbstream is a sequence of chunks. The chunks of several files are
// interleaved (the tools copy files in parallel); each file ends with an
// end-of-file chunk. All integers are little-endian:
//
//	magic        8 bytes  "XBSTCK01"
//	flags        1 byte   bit 0: a chunk of unknown type may be ignored
//	type         1 byte   'P' payload, 'S' sparse payload, 'E' end of file
//	path length  4 bytes  less than 512
//	path         path length bytes
//	-- end of an 'E' chunk --
//	map entries  4 bytes  'S' only: number of sparse map entries
//	payload len  8 bytes
//	file offset  8 bytes  where the payload goes in the file
//	checksum     4 bytes  CRC-32 (IEEE 802.3 / ISO 3309 polynomial, the one
//	                      of zlib's crc32) of the sparse map and the payload
//	sparse map   8 bytes per entry, 'S' only: skip (4 bytes) then len
//	             (4 bytes): advance the file by skip, write len payload bytes
//	payload      payload len bytes
//
// MariaDB's mbstream and Percona's xbstream both compute the checksum with
// the ISO 3309 CRC-32 (crc32_iso3309 in Percona's crc_glue, my_checksum in
// MariaDB), not CRC-32C: hash/crc32.IEEETable. Sparse chunks ('S') come
// from Percona XtraBackup 8.0 (punch-hole tablespaces); MariaDB's tools
// write only 'P' and 'E' chunks.
//
// Reader streams payloads: memory does not depend on the size of a chunk or
// of the archive. Scan checks a whole stream and summarises its files.
package xbstream
