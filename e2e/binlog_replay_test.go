//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPointInTimeLogical is the whole story with a logical backup: a
// backup; writes in phases; an accidental DROP TABLE; a write after it.
// find names the DROP; a new server gets the backup (restore --to-mysql)
// and then binlog replay --before-statement 'DROP TABLE': the table holds
// exactly the rows it held just before the DROP (CHECKSUM TABLE equal to
// the one taken then), and nothing after it. Bad targets fail before
// anything is applied, naming the window.
func TestPointInTimeLogical(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_pitr_" + hex.EncodeToString(rnd[:])
	execSQL(t, db, "CREATE DATABASE "+name, "CREATE TABLE "+name+".orders (id INT PRIMARY KEY, v VARCHAR(50))",
		"INSERT INTO "+name+".orders VALUES (1, 'in the backup')")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	execSQL(t, db, "FLUSH BINARY LOGS") // the file before the backup is closed: binlog prune may remove it
	store := t.TempDir()
	key := keyFile(t, "pitr key")
	r := run(t, nil, nil, append([]string{"backup", "--engine", "mysqldump", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)

	for i := 2; i <= 4; i++ {
		lastGTID(t, db, fmt.Sprintf("INSERT INTO %s.orders VALUES (%d, 'phase 1')", name, i))
	}
	lastGTID(t, db, "UPDATE "+name+".orders SET v='phase 2' WHERE id=2", "DELETE FROM "+name+".orders WHERE id=3")
	want := checksums(t, db, name)
	drop := lastGTID(t, db, "DROP TABLE "+name+".orders")
	lastGTID(t, db, "CREATE TABLE "+name+".after_the_drop (id INT)")
	must(t, run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--encrypt-key-file", key}, p.conn(true)...)...), "archive")

	r = run(t, nil, nil, "binlog", "find", "--storage", store, "--encrypt-key-file", key, "--statement", "(?i)^DROP TABLE `?"+name, "--json")
	must(t, r, "find")
	var hits []struct{ GTID string }
	json.Unmarshal([]byte(r.stdout), &hits)
	if len(hits) != 1 || hits[0].GTID != drop {
		t.Fatalf("find: %s, want %s", r.stdout, drop)
	}

	// Prune the archive to what the backup needs; the replay below still
	// has all it needs.
	r = run(t, nil, nil, "binlog", "prune", "--storage", store, "--json", "--dry-run")
	must(t, r, "binlog prune --dry-run")
	var pruned []struct{ File string }
	if err := json.Unmarshal([]byte(r.stdout), &pruned); err != nil || len(pruned) == 0 {
		t.Fatalf("binlog prune would remove nothing: %s %v", r.stdout, err)
	}
	// mybak prune does it too, after the backups (the one backup is kept).
	r = run(t, nil, nil, "prune", "--storage", store, "--keep-last", "1")
	must(t, r, "prune")
	if !strings.Contains(r.stderr, "binlog prune: removing") {
		t.Fatalf("prune did not prune the archive:\n%s", r.stderr)
	}
	r = run(t, nil, nil, "binlog", "prune", "--storage", store, "--json", "--dry-run")
	if must(t, r, "binlog prune after prune"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("after prune, binlog prune would still remove: %s", r.stdout)
	}

	// The new server gets the backup without binlogging it (--no-binlog):
	// its binary log stays empty, so the replay's GTIDs (which it keeps)
	// follow in domain 0 under gtid_strict_mode=ON however few
	// transactions the source ran before the backup.
	target := startSandbox(t, "e2e-pitr", "")
	var strict int
	if err := target.db(t).QueryRow("SELECT @@gtid_strict_mode").Scan(&strict); err != nil || strict != 1 || binlogPos(t, target.db(t)) != "" {
		t.Fatalf("precondition: a new target with gtid_strict_mode=ON (%d, %v) and an empty binary log (%q)", strict, err, binlogPos(t, target.db(t)))
	}
	must(t, run(t, nil, nil, append([]string{"restore", id, "--storage", store, "--encrypt-key-file", key, "--to-mysql", "--force", "--no-binlog"}, target.conn(true)...)...), "restore --to-mysql --no-binlog")
	if pos := binlogPos(t, target.db(t)); pos != "" {
		t.Fatalf("restore --no-binlog wrote to the binary log: gtid_binlog_pos %q", pos)
	}

	replay := func(extra ...string) result {
		args := append([]string{"binlog", "replay", "--storage", store, "--encrypt-key-file", key, "--backup", id}, extra...)
		return run(t, nil, nil, append(args, target.conn(true)...)...)
	}
	r = replay("--before-statement", "(?i)^DROP TABLE `?"+name, "--dry-run", "--json")
	must(t, r, "replay --dry-run")
	var plan struct {
		Transactions int
		StopBefore   struct{ GTID string } `json:"stop_before"`
	}
	json.Unmarshal([]byte(r.stdout), &plan)
	if plan.Transactions < 4 || plan.StopBefore.GTID != drop {
		t.Fatalf("plan: %s", r.stdout)
	}
	// Bad targets: errors naming the window, nothing applied.
	r = replay("--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if r.code != 1 || !strings.Contains(r.stderr, "recoverable window from this backup ends at") {
		t.Errorf("target after the archive: exit %d %s", r.code, r.stderr)
	}
	r = replay("--until", "2000-01-01 00:00:00")
	if r.code != 1 || !strings.Contains(r.stderr, "before the backup") {
		t.Errorf("target before the backup: exit %d %s", r.code, r.stderr)
	}

	r = replay("--before-statement", "(?i)^DROP TABLE `?"+name)
	must(t, r, "replay")
	sameChecksums(t, want, checksums(t, target.db(t), name))
	// The replayed transactions kept their GTIDs: the target's binary log
	// ends just before the DROP. Replaying again is refused before
	// anything is applied: the target is past the first replayed GTID.
	var srv uint32
	var seq int64
	fmt.Sscanf(drop, "0-%d-%d", &srv, &seq)
	if pos := binlogPos(t, target.db(t)); !slices.Contains(strings.Split(pos, ","), fmt.Sprintf("0-%d-%d", srv, seq-1)) {
		t.Errorf("after the replay, gtid_binlog_pos %q, want 0-%d-%d in domain 0", pos, srv, seq-1)
	}
	r = replay("--before-statement", "(?i)^DROP TABLE `?"+name)
	if r.code != 1 || !strings.Contains(r.stderr, "domain 0") || !strings.Contains(r.stderr, "gtid_strict_mode") || !strings.Contains(r.stderr, "nothing was applied") {
		t.Errorf("a second replay: exit %d, want 1 naming domain 0 and gtid_strict_mode before applying:\n%s", r.code, r.stderr)
	}
	sameChecksums(t, want, checksums(t, target.db(t), name))
	var n int
	target.db(t).QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema=? AND table_name='after_the_drop'", name).Scan(&n)
	if n != 0 {
		t.Fatal("a transaction after the target was replayed")
	}
}

// TestPointInTimePhysicalIncremental: a full and an incremental physical
// backup with writes between and after them, then an accidental DROP
// TABLE. The chain is restored into a new datadir, a server started on
// it, and the archive replayed from the incremental's position to just
// before the DROP: no duplicate key (nothing the incremental holds is
// replayed again), the table as it was just before the DROP, with
// gtid_strict_mode=ON on the restored server.
func TestPointInTimePhysicalIncremental(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	name := "e2e_pitr_phys_" + hex.EncodeToString(rnd[:])
	execSQL(t, db, "CREATE DATABASE "+name, "CREATE TABLE "+name+".t (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB",
		"INSERT INTO "+name+".t VALUES (1, 'full')")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	store, work := t.TempDir(), t.TempDir()
	key := keyFile(t, "pitr physical key")
	backupArgs := append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)
	must(t, run(t, nil, nil, backupArgs...), "full backup")
	execSQL(t, db, "INSERT INTO "+name+".t VALUES (2, 'in the incremental')")
	r := run(t, nil, nil, append(backupArgs, "--incremental")...)
	must(t, r, "incremental")
	inc := strings.TrimSpace(r.stdout)
	execSQL(t, db, "INSERT INTO "+name+".t VALUES (3, 'after the incremental')", "UPDATE "+name+".t SET v='updated after' WHERE id=1")
	want := checksums(t, db, name)
	drop := lastGTID(t, db, "DROP TABLE "+name+".t")
	must(t, run(t, nil, nil, append([]string{"binlog", "archive", "--once", "--storage", store, "--encrypt-key-file", key}, p.conn(true)...)...), "archive")

	datadir := filepath.Join(work, "restored", "data")
	must(t, run(t, nil, nil, "restore", inc, "--storage", store, "--encrypt-key-file", key, "--target-dir", filepath.Join(work, "prepared"),
		"--copy-back", "--datadir", datadir), "restore chain")
	restored := startSandbox(t, "e2e-pitr-phys", datadir)
	var strict string
	restored.db(t).QueryRow("SELECT @@gtid_strict_mode").Scan(&strict)
	if strict != "1" {
		t.Fatalf("gtid_strict_mode on the restored server: %q, want 1", strict)
	}
	r = run(t, nil, nil, append([]string{"binlog", "replay", "--storage", store, "--encrypt-key-file", key, "--backup", inc,
		"--before-gtid", drop}, restored.conn(true)...)...)
	must(t, r, "replay onto the restored incremental chain")
	sameChecksums(t, want, checksums(t, restored.db(t), name))
}
