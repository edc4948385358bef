//go:build linux

package e2e

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestRestoreUntilTargetBinlog: a logical backup (each logical engine)
// restored into a running server and rolled forward, where the server's
// own binary log meets the GTIDs the replay keeps. The target is a new
// server with log_bin and gtid_strict_mode=ON (asserted), whose own
// transactions go to domain 0, the archive's domain:
//   - by default the load is binlogged as the target's own transactions in
//     domain 0, ahead of the replayed ones: refused before anything is
//     written, naming the domain and --no-binlog;
//   - --no-binlog restores and rolls forward without writing to the
//     target's binary log (its gtid_binlog_pos does not move);
//   - with the target's gtid_domain_id moved to a domain the archive does
//     not use, the default works: the load is binlogged in that domain,
//     the replay keeps the source's GTIDs (domain 0 ends just before the
//     DROP);
//   - a target whose binary log is ahead in domain 0 (set up here) is
//     refused, also with --no-binlog, naming its GTID and the first
//     replayed one; the data it holds is untouched.
func TestRestoreUntilTargetBinlog(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_untilbl_" + hex.EncodeToString(rnd[:])
	execSQL(t, db, "CREATE DATABASE "+name, "CREATE TABLE "+name+".t (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB",
		"INSERT INTO "+name+".t VALUES (1, 'in the backups')")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	store := t.TempDir()
	key := keyFile(t, "until binlog key")
	ids := map[string]string{}
	engines := []string{"mysqldump", "logical"}
	for _, eng := range engines {
		r := run(t, nil, nil, append([]string{"backup", "--engine", eng, "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
		must(t, r, eng+" backup")
		ids[eng] = strings.TrimSpace(r.stdout)
	}
	execSQL(t, db, "INSERT INTO "+name+".t VALUES (2, 'after the backups')", "UPDATE "+name+".t SET v='changed' WHERE id=1")
	want := checksums(t, db, name)
	drop := lastGTID(t, db, "DROP TABLE "+name+".t")
	if !strings.HasPrefix(drop, "0-") {
		t.Fatalf("precondition: the source writes in domain 0, its DROP is %s", drop)
	}
	var dropSeq int64
	var srcServer uint32
	fmt.Sscanf(drop, "0-%d-%d", &srcServer, &dropSeq)
	must(t, run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--encrypt-key-file", key}, p.conn(true)...)...), "archive")
	stmt := "(?i)^DROP TABLE `?" + name

	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			target := startSandbox(t, "e2e-untilbl-"+eng, "")
			tdb := target.db(t)
			var strict, logBin, domain int
			var pos string
			if err := tdb.QueryRow("SELECT @@gtid_strict_mode, @@log_bin, @@gtid_domain_id, @@gtid_binlog_pos").Scan(&strict, &logBin, &domain, &pos); err != nil {
				t.Fatal(err)
			}
			if strict != 1 || logBin != 1 || domain != 0 || pos != "" {
				t.Fatalf("precondition: a new target with gtid_strict_mode=ON, log_bin, gtid_domain_id 0 and an empty binary log; got %d %d %d %q", strict, logBin, domain, pos)
			}
			restore := func(extra ...string) result {
				args := append([]string{"restore", ids[eng], "--storage", store, "--encrypt-key-file", key, "--to-mysql", "--before-statement", stmt}, extra...)
				return run(t, nil, nil, append(args, target.conn(true)...)...)
			}

			// The default: the load would be binlogged in domain 0.
			r := restore()
			if r.code != 1 || !strings.Contains(r.stderr, "nothing was restored") || !strings.Contains(r.stderr, "domain 0") ||
				!strings.Contains(r.stderr, "--no-binlog") || !strings.Contains(r.stderr, "gtid_domain_id") {
				t.Fatalf("binlogged restore into domain 0: exit %d, want 1 naming domain 0, --no-binlog and gtid_domain_id:\n%s", r.code, r.stderr)
			}
			if n := schemas(t, tdb, name); n != 0 || binlogPos(t, tdb) != "" {
				t.Fatalf("a refused restore wrote to the server: %d schemas, gtid_binlog_pos %q", n, binlogPos(t, tdb))
			}

			// --no-binlog: restored and rolled forward, the target's binary log untouched.
			r = restore("--no-binlog")
			must(t, r, "restore --no-binlog --before-statement")
			sameChecksums(t, want, checksums(t, tdb, name))
			if got := binlogPos(t, tdb); got != "" {
				t.Errorf("--no-binlog wrote to the target's binary log: gtid_binlog_pos %q", got)
			}

			// Binlogged, with the target's own transactions in domain 9:
			// the replay keeps the source's GTIDs in domain 0.
			execSQL(t, tdb, "SET GLOBAL gtid_domain_id=9")
			r = restore("--force")
			execSQL(t, tdb, "SET GLOBAL gtid_domain_id=0")
			must(t, r, "binlogged restore with gtid_domain_id 9")
			sameChecksums(t, want, checksums(t, tdb, name))
			got := binlogPos(t, tdb)
			if !slices.Contains(strings.Split(got, ","), fmt.Sprintf("0-%d-%d", srcServer, dropSeq-1)) || !strings.Contains(got, "9-") {
				t.Errorf("binlogged restore: gtid_binlog_pos %q, want the source's 0-%d-%d and the load in domain 9", got, srcServer, dropSeq-1)
			}

			// The target's binary log ahead in domain 0.
			lastGTID(t, tdb, "SET SESSION sql_log_bin=0", "INSERT INTO "+name+".t VALUES (99, 'only on the target')", "SET SESSION sql_log_bin=1")
			ahead := lastGTID(t, tdb, "SET SESSION sql_log_bin=1", "SET SESSION gtid_domain_id=0", "SET SESSION gtid_seq_no=1000000", "CREATE DATABASE "+name+"_ahead")
			if got := binlogPos(t, tdb); !strings.HasPrefix(ahead, "0-") || !strings.Contains(got, ahead) {
				t.Fatalf("precondition: the target's binary log ends at %s in domain 0: gtid_binlog_pos %q", ahead, got)
			}
			for _, extra := range [][]string{{"--no-binlog", "--force"}, {"--force"}} {
				r = restore(extra...)
				if r.code != 1 || !strings.Contains(r.stderr, "nothing was restored") || !strings.Contains(r.stderr, "domain 0: the server's binary log is at "+ahead) ||
					!strings.Contains(r.stderr, "the replay starts at 0-") || !strings.Contains(r.stderr, "gtid_strict_mode") {
					t.Fatalf("restore %v into a server ahead in domain 0 (%s): exit %d, want 1 naming it:\n%s", extra, ahead, r.code, r.stderr)
				}
			}
			var n int
			tdb.QueryRow("SELECT COUNT(*) FROM " + name + ".t WHERE id=99").Scan(&n)
			if n != 1 {
				t.Fatal("a refused restore replaced the target's table")
			}
		})
	}
}

// binlogPos is the server's @@gtid_binlog_pos.
func binlogPos(t *testing.T, db *sql.DB) string {
	t.Helper()
	var s string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// schemas counts the server's databases named name.
func schemas(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name=?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
