package logicaldump

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRowsAboveMaxAllowedPacket: rows longer than max_allowed_packet.
// The source runs with max_allowed_packet 64 MiB and holds a 40 MiB
// LONGBLOB: the dump works (the row is one statement of its own) and
// loads into a server like the source (by its INSERT, faster than a LOAD
// DATA line that long). Into the package's server (16 MiB) the load must
// fail at once, by LOAD DATA and by INSERT statements alike, naming the
// chunk, the row's size and max_allowed_packet, without retrying. A row
// longer than the source's own max_allowed_packet (two 40 MiB columns)
// is dumped with a warning naming the table and what a target needs.
func TestRowsAboveMaxAllowedPacket(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	var targetPacket int64
	if err := db.QueryRow("SELECT @@GLOBAL.max_allowed_packet").Scan(&targetPacket); err != nil {
		t.Fatal(err)
	}
	const blob = 40 << 20
	if targetPacket >= blob {
		t.Fatalf("the package's server has max_allowed_packet %d: the test needs less than %d", targetPacket, blob)
	}
	src := startOwnServer(t, "ldpacket")
	execSQL(t, src.db(t), "SET GLOBAL max_allowed_packet = 64 << 20")
	sdb := src.db(t) // connections made after the SET have 64 MiB
	z, z2 := schemaName(t, "pkt"), schemaName(t, "wide")
	t.Cleanup(func() { dropSchemas(t, db, z) })
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	allHex := hex.EncodeToString(all)
	execSQL(t, sdb, "CREATE DATABASE "+quoteIdent(z), "CREATE DATABASE "+quoteIdent(z2),
		"CREATE TABLE "+qualified(z, "small")+" (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB",
		"INSERT INTO "+qualified(z, "small")+" SELECT seq, 'v' FROM "+quoteIdent(z)+".seq_1_to_100",
		"CREATE TABLE "+qualified(z, "big")+" (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB",
		fmt.Sprintf("INSERT INTO %s VALUES (1, REPEAT(UNHEX('%s'), %d)), (2, 'x')", qualified(z, "big"), allHex, blob/256),
		"CREATE TABLE "+qualified(z2, "wide")+" (id INT PRIMARY KEY, b LONGBLOB, c LONGBLOB) ENGINE=InnoDB",
		fmt.Sprintf("INSERT INTO %s VALUES (1, REPEAT('b', %d), NULL)", qualified(z2, "wide"), blob),
		fmt.Sprintf("UPDATE %s SET c = REPEAT('c', %d)", qualified(z2, "wide"), blob))
	want := state(t, sdb, z)

	ix, data := dump(t, src.server, Options{Threads: 2}, z)
	var bigChunk string
	for _, tb := range ix.Tables {
		for _, ch := range tb.Chunks {
			if tb.Name == "big" && ch.Bytes > blob {
				bigChunk = ch.File
			}
		}
	}
	if bigChunk == "" {
		t.Fatalf("no chunk of big holds the %d-byte row: %+v", blob, ix.Tables)
	}

	// By INSERT statements the server would drop the connection (which
	// looked like a lost one: retried for 3 minutes); LOAD DATA would
	// load the row, but leave in the target's binary log an event longer
	// than max_allowed_packet, which its replicas, mariadb-binlog and
	// BINLOG_GTID_POS cannot read (mariadb-dump --master-data then
	// crashes: seen here). Both refuse it.
	for _, insertOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("target below the row, insertOnly=%v", insertOnly), func(t *testing.T) {
			dropSchemas(t, db, z)
			var logs syncBuffer
			start := time.Now()
			_, err := Load(ctxT(t, 5*time.Minute), LoadOptions{Conn: s.admin, Threads: 2, insertOnly: insertOnly,
				Log: slog.New(slog.NewTextHandler(&logs, nil))}, bytesReader(data))
			took := time.Since(start)
			var ce *ChunkError
			if !errors.As(err, &ce) || ce.File != bigChunk {
				t.Fatalf("load of a %d-byte row into a server with max_allowed_packet %d: %v; want a ChunkError of %s", blob, targetPacket, err, bigChunk)
			}
			msg := err.Error()
			for _, w := range []string{"max_allowed_packet (" + fmt.Sprint(targetPacket) + ")", "SET GLOBAL max_allowed_packet", "--resume", qualified(z, "big")} {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q: %s", w, msg)
				}
			}
			if ce.StatementBytes <= blob || !strings.Contains(msg, fmt.Sprintf("%d bytes", ce.StatementBytes)) {
				t.Errorf("the error gives the row's size as %d: %s", ce.StatementBytes, msg)
			}
			if strings.Contains(logs.String(), "retrying") || took > 30*time.Second {
				t.Errorf("the load retried (took %s):\n%s", took, logs.String())
			}
			db.Exec("DELETE FROM "+progressTable+" WHERE dump_id = ?", ix.DumpID)
		})
	}

	t.Run("target like the source", func(t *testing.T) {
		dropSchemas(t, sdb, z)
		res := load(t, src.server, LoadOptions{Threads: 2}, data)
		if res.LoadData != res.Chunks-1 {
			t.Errorf("%d of %d chunks by LOAD DATA; want all but the 40 MiB row's, which its INSERT loads faster", res.LoadData, res.Chunks)
		}
		sameState(t, "round trip of a 40 MiB row", want, state(t, sdb, z))
	})

	t.Run("row above the source's packet", func(t *testing.T) {
		var logs syncBuffer
		ix2, data2 := dump(t, src.server, Options{Threads: 2, Log: slog.New(slog.NewTextHandler(&logs, nil))}, z2)
		if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "max_allowed_packet") || !strings.Contains(l, "wide") {
			t.Errorf("the dump of a %d-byte row did not warn naming the table and max_allowed_packet:\n%s", 2*blob, l)
		}
		dropSchemas(t, sdb, z2)
		_, err := Load(ctxT(t, 5*time.Minute), LoadOptions{Conn: src.admin, Threads: 2, insertOnly: true}, bytesReader(data2))
		var ce *ChunkError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "max_allowed_packet") || ce.StatementBytes <= 2*blob {
			t.Fatalf("load of a %d-byte row by INSERT into a server with max_allowed_packet 64 MiB: %v", 2*blob, err)
		}
		sdb.Exec("DELETE FROM "+progressTable+" WHERE dump_id = ?", ix2.DumpID)
		// By LOAD DATA the row loads (checksums equal, in 20 s), but the
		// server parses such a line slowly, from 20 s to over 5 minutes
		// on the shared test machine: not a test's work.
	})
}
