// Package xbstreamtest gives tests a small xbstream, whole and damaged.
package xbstreamtest

import (
	"bytes"
	"strings"

	"github.com/mybak/mybak/xbstream"
)

// Sample returns an xbstream of a few files as a physical backup holds
// them (ibdata1, db/t1.ibd, xtrabackup_checkpoints), and its bytes with
// one payload byte of "db/t1.ibd" flipped (its chunk's CRC no longer
// matches).
func Sample() (good, bad []byte) {
	var buf bytes.Buffer
	w := xbstream.NewWriter(&buf)
	w.ChunkSize = 64 << 10
	w.WriteFile("ibdata1", bytes.NewReader(bytes.Repeat([]byte("ibdata"), 50000)))
	w.WriteFile("db/t1.ibd", bytes.NewReader(bytes.Repeat([]byte("t1"), 100000)))
	w.WriteFile("xtrabackup_checkpoints", strings.NewReader("backup_type = full-backuped\n"))
	good = buf.Bytes()
	bad = bytes.Clone(good)
	i := bytes.Index(bad, []byte("db/t1.ibd"))
	bad[i+len("db/t1.ibd")+20+5000] ^= 1
	return good, bad
}
