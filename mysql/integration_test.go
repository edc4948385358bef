package mysql

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

func TestIntegrationProbe(t *testing.T) {
	s := source(t)
	ctx := ctxT(t, time.Minute)
	db, err := Open(ctx, s.conn())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	info, err := Probe(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *info)
	if info.Flavor != FlavorMariaDB || info.Major < 10 || !info.LogBin || !info.GTIDStrict || info.GTIDMode != "ON" {
		t.Errorf("probe: %+v", *info)
	}
	if info.Datadir == "" || info.RedoCapacity != 48<<20 || info.LSN == 0 || info.ServerID == 0 {
		t.Errorf("probe: datadir %q, redo capacity %d, lsn %d, server id %d", info.Datadir, info.RedoCapacity, info.LSN, info.ServerID)
	}
	grants, err := Grants(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Engine{EngineMariabackup, EngineMariadbDump} {
		if m := MissingPrivileges(grants, e, info); len(m) > 0 {
			t.Errorf("sandbox backup user misses %v for %s (grants %q)", m, e, grants)
		}
	}
	tool, err := SelectTool(EngineAuto, info, false)
	if err != nil || tool.Engine != EngineMariabackup {
		t.Errorf("SelectTool(auto) = %v, %v", tool, err)
	}
	if _, err := SelectTool(EngineXtrabackup, info, false); err == nil {
		t.Error("xtrabackup accepted for MariaDB")
	}
	if v, err := ToolVersion(ctx, tool); err != nil || !strings.HasPrefix(v, fmt.Sprintf("%d.%d", info.Major, info.Minor)) {
		t.Errorf("ToolVersion = %q, %v", v, err)
	}

	// A long query shows up in LongQueries.
	adm := s.admin(t)
	go adm.ExecContext(ctx, "SELECT SLEEP(4) /* mybak-long-query */")
	deadline := time.Now().Add(8 * time.Second)
	for {
		qs, err := LongQueries(ctx, db, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, q := range qs {
			if strings.Contains(q.Info, "mybak-long-query") && q.Time >= 2*time.Second {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("long query not listed: %+v", qs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestIntegrationPhysicalRoundTrip: full + incremental backup streamed to
// files, extract, prepare, apply the incremental, copy back, start a
// server on the result and compare CHECKSUM TABLE. Meanwhile no argv may
// show the password.
func TestIntegrationPhysicalRoundTrip(t *testing.T) {
	s := source(t)
	ctx := ctxT(t, 4*time.Minute)
	db := s.admin(t)
	work := t.TempDir()
	tool, err := LookupTool(EngineMariabackup)
	if err != nil {
		t.Fatal(err)
	}

	backup := func(name string, incLSN uint64) (*PhysicalResult, string) {
		path := filepath.Join(work, name+".xbstream")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stop := testenv.ArgvWatch(t, s.password(t), "--stream=xbstream")
		var lines int
		res, err := BackupPhysical(ctx, PhysicalOptions{Tool: tool, Conn: s.conn(), IncrementalLSN: incLSN, Parallel: 2,
			LogPath: filepath.Join(work, name+".log"), OnLine: func(string) { lines++ }, Warnf: logf(t)}, f)
		stop() // fails the test when it never saw mariabackup running
		if err != nil {
			t.Fatalf("%s backup: %v", name, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if lines == 0 {
			t.Error("OnLine never called")
		}
		t.Logf("%s: %+v", name, *res)
		return res, path
	}

	full, fullPath := backup("full", 0)
	if full.Checkpoints.BackupType != "full-backuped" || full.Checkpoints.ToLSN == 0 || full.Incremental {
		t.Errorf("full checkpoints %+v", full.Checkpoints)
	}
	if full.Binlog.File == "" || full.Binlog.Pos == 0 || full.Binlog.GTID == "" {
		t.Errorf("full binlog position %+v", full.Binlog)
	}
	if !strings.HasPrefix(full.ToolVersion, "10.") {
		t.Errorf("tool version %q", full.ToolVersion)
	}

	mustExec(t, db, "INSERT INTO shop.items (name, price) SELECT CONCAT('inc-', seq), 3 FROM shop.seq_1_to_500",
		"UPDATE shop.items SET price = price + 1 WHERE id % 7 = 0")
	inc, incPath := backup("inc", full.Checkpoints.ToLSN)
	if inc.Checkpoints.BackupType != "incremental" || inc.Checkpoints.FromLSN != full.Checkpoints.ToLSN || !inc.Incremental {
		t.Errorf("incremental checkpoints %+v", inc.Checkpoints)
	}
	want := checksums(t, db, testTables...)

	extract := func(path, dir string) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := Extract(ctx, EngineMariabackup, f, dir, ""); err != nil {
			t.Fatal(err)
		}
	}
	fullDir, incDir := filepath.Join(work, "full"), filepath.Join(work, "inc")
	extract(fullPath, fullDir)
	extract(incPath, incDir)
	if err := Prepare(ctx, PrepareOptions{Tool: tool, TargetDir: fullDir, MoreIncrementals: true, LogPath: filepath.Join(work, "prepare.log")}); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(ctx, PrepareOptions{Tool: tool, TargetDir: fullDir, IncrementalDir: incDir}); err != nil {
		t.Fatal(err)
	}
	datadir := filepath.Join(work, "datadir")
	if err := CopyBack(ctx, CopyBackOptions{Tool: tool, TargetDir: fullDir, Datadir: datadir}); err != nil {
		t.Fatal(err)
	}
	// A second copy-back into the now full datadir must fail with the tool's reason.
	if err := CopyBack(ctx, CopyBackOptions{Tool: tool, TargetDir: fullDir, Datadir: datadir}); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Errorf("copy-back over a non-empty datadir: %v", err)
	}

	r := startSandbox(t, "phys-restored", datadir)
	defer stopSandbox(t, "phys-restored")
	got := checksums(t, r.admin(t), testTables...)
	sameChecksums(t, want, got)
}

func TestIntegrationLogicalRoundTrip(t *testing.T) {
	s := source(t)
	ctx := ctxT(t, 3*time.Minute)
	want := checksums(t, s.admin(t), testTables...)
	path := filepath.Join(t.TempDir(), "dump.sql")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tool, err := LookupTool(EngineMariadbDump)
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.ArgvWatch(t, s.password(t), "--single-transaction")
	res, err := BackupLogical(ctx, DumpOptions{Tool: tool, Conn: s.socketConn()}, f)
	stop()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *res)
	if res.Binlog.File == "" || res.Binlog.Pos == 0 || res.Binlog.GTID == "" || res.Bytes == 0 || res.ToolVersion == "" {
		t.Errorf("dump result %+v", *res)
	}

	dst := startSandbox(t, "dump-dst", "")
	defer stopSandbox(t, "dump-dst")
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// The sandboxes share credentials, so the admin user exists on both.
	if err := ApplyDump(ctx, ApplyOptions{Engine: EngineMariadbDump, Conn: dst.adminConn()}, in); err != nil {
		t.Fatal(err)
	}
	adm := dst.admin(t)
	sameChecksums(t, want, checksums(t, adm, testTables...))
	var n int
	if err := adm.QueryRow("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='shop'").Scan(&n); err != nil || n != 1 {
		t.Errorf("routine not restored: %d %v", n, err)
	}
	if err := adm.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='shop'").Scan(&n); err != nil || n != 1 {
		t.Errorf("trigger not restored: %d %v", n, err)
	}
	if err := adm.QueryRow("SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='shop'").Scan(&n); err != nil || n != 1 {
		t.Errorf("event not restored: %d %v", n, err)
	}
}

func TestIntegrationWrongPassword(t *testing.T) {
	s := source(t)
	ctx := ctxT(t, time.Minute)
	bad := s.conn()
	bad.PasswordFile, bad.Password = "", "definitely-wrong"
	if _, err := Open(ctx, bad); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("Open: %v", err)
	}
	_, err := BackupPhysical(ctx, PhysicalOptions{Tool: Tool{Engine: EngineMariabackup}, Conn: bad}, io.Discard)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "check the user and password") {
		t.Errorf("mariabackup with a wrong password: %v", err)
	}
	_, err = BackupLogical(ctx, DumpOptions{Tool: Tool{Engine: EngineMariadbDump}, Conn: bad}, io.Discard)
	if !errors.Is(err, ErrAccessDenied) {
		t.Errorf("mariadb-dump with a wrong password: %v", err)
	}
	t.Log(err)
}

func TestIntegrationMissingPrivilege(t *testing.T) {
	s := source(t)
	ctx := ctxT(t, time.Minute)
	db := s.admin(t)
	mustExec(t, db, "CREATE OR REPLACE USER 'weak'@'127.0.0.1' IDENTIFIED BY 'weak-pass'",
		"GRANT PROCESS ON *.* TO 'weak'@'127.0.0.1'")
	weak := Conn{Host: "127.0.0.1", Port: s.Port, User: "weak", Password: "weak-pass"}
	_, err := BackupPhysical(ctx, PhysicalOptions{Tool: Tool{Engine: EngineMariabackup}, Conn: weak}, io.Discard)
	var mp *MissingPrivilegesError
	if !errors.As(err, &mp) || !errors.Is(err, ErrMissingPrivileges) {
		t.Fatalf("want MissingPrivilegesError, got %v", err)
	}
	if !strings.Contains(err.Error(), "RELOAD") || !strings.Contains(err.Error(), "GRANT") {
		t.Errorf("message does not name the privileges: %v", err)
	}
	t.Log(err)
	wdb, err := Open(ctx, weak)
	if err != nil {
		t.Fatal(err)
	}
	defer wdb.Close()
	grants, err := Grants(ctx, wdb)
	if err != nil {
		t.Fatal(err)
	}
	if m := MissingPrivileges(grants, EngineMariabackup, &ServerInfo{Flavor: FlavorMariaDB, Major: 10, Minor: 11}); len(m) != 3 {
		t.Errorf("MissingPrivileges = %v", m)
	}
}

// TestIntegrationApplyDumpSQLError: a dump with a syntax error at line 3
// followed by ~30 MB more SQL: the client's own ERROR line is reported, not
// the broken pipe of the feeder.
func TestIntegrationApplyDumpSQLError(t *testing.T) {
	s := source(t)
	ctx := ctxT(t, time.Minute)
	mustExec(t, s.admin(t), "DROP DATABASE IF EXISTS errtest", "CREATE DATABASE errtest")
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriter(pw)
		fmt.Fprintln(bw, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT);")
		fmt.Fprintln(bw, "INSERT INTO t VALUES (1, 'ok');")
		fmt.Fprintln(bw, "INSERT INTO t VALUES (2, 'broken' ;")
		row := strings.Repeat("x", 1000)
		for i := 0; i < 30000; i++ {
			if _, err := fmt.Fprintf(bw, "INSERT INTO t VALUES (%d, '%s');\n", i+10, row); err != nil {
				return
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	err := ApplyDump(ctx, ApplyOptions{Engine: EngineMariadbDump, Conn: s.adminConn(), Database: "errtest"}, pr)
	pr.CloseWithError(errors.New("consumer done"))
	var ae *ApplyDumpError
	if !errors.As(err, &ae) {
		t.Fatalf("want ApplyDumpError, got %v", err)
	}
	if !strings.Contains(err.Error(), "ERROR 1064") || !strings.Contains(err.Error(), "at line 3") || strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("error does not carry the client's message: %v", err)
	}
	t.Log(err)
}

// TestIntegrationRedoWrap reproduces a redo log wrap: 4 MiB redo, sysbench
// oltp_write_only with 8 threads, mariabackup --throttle=1. It must be
// detected and the tool killed within a minute, with the advice.
// (To leave it out of a run by hand: go test -skip TestIntegrationRedoWrap.)
func TestIntegrationRedoWrap(t *testing.T) {
	integration(t)
	testenv.NeedTool(t, "sysbench")
	heavyLoadLock(t)
	s := startSandbox(t, "redo", "", "--innodb-log-file-size=4M")
	defer stopSandbox(t, "redo")
	ctx := ctxT(t, 10*time.Minute) // sysbench's prepare and load
	mustExec(t, s.admin(t), "CREATE DATABASE sbtest")
	cfg := testenv.SysbenchConfig(t, s.AdminPassFile) // the password in a file, not on argv
	sb := func(ctx context.Context, args ...string) *exec.Cmd {
		base := []string{cfg, "oltp_write_only", "--db-driver=mysql", "--mysql-socket=" + s.Socket,
			"--mysql-user=" + s.AdminUser, "--tables=4", "--table-size=50000"}
		return exec.CommandContext(ctx, "sysbench", append(base, args...)...)
	}
	if out, err := sb(ctx, "--threads=2", "prepare").CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	lctx, stopLoad := context.WithCancel(ctx)
	load := sb(lctx, "--threads=8", "--time=600", "run") // until stopLoad: as long as the backup runs
	adm := s.admin(t)
	base := commits(t, adm)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); load.Wait() }()
	defer func() { stopLoad(); wg.Wait() }()
	// The load runs once the server commits its transactions.
	testenv.WaitFor(t, time.Minute, "sysbench's load to commit 200 transactions", func() bool { return commits(t, adm) >= base+200 })

	bctx := ctxT(t, 3*time.Minute) // the backup's own time, however long the prepare took
	start := time.Now()
	_, err := BackupPhysical(bctx, PhysicalOptions{Tool: Tool{Engine: EngineMariabackup}, Conn: s.conn(), Throttle: 1,
		Warnf: logf(t)}, io.Discard)
	took := time.Since(start)
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)
	var rw *RedoWrapError
	if !errors.As(err, &rw) || !errors.Is(err, ErrRedoWrapped) {
		t.Fatalf("want RedoWrapError, got %v", err)
	}
	if took > time.Minute {
		t.Errorf("detection took %s, want under a minute", took)
	}
	for _, want := range []string{"innodb_log_file_size", "--throttle", "quieter window", "local disk", "redo capacity 4.0 MiB", "/s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if rw.Capacity != 4<<20 || rw.Rate <= 0 {
		t.Errorf("capacity %d rate %f", rw.Capacity, rw.Rate)
	}
	// The tool must be gone (its process group killed). The pattern names
	// this test's work dir: mybak's own end-to-end test runs the same
	// tool with --throttle=1 (in its mybak-backup-* dir) at the same time.
	out, _ := exec.Command("pgrep", "-f", "mybak-physical-.*--throttle=1").Output()
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("mariabackup still running: %s", out)
	}
}

// commits returns the server's count of committed transactions.
func commits(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var name string
	var n int64
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_commit'").Scan(&name, &n); err != nil {
		t.Fatalf("SHOW GLOBAL STATUS LIKE 'Com_commit': %v", err)
	}
	return n
}

// heavyLoadLock serialises the redo-wrap reproductions of this package and
// of mybak's end-to-end tests (go test runs packages in parallel): two
// sysbench loads at once on a 2-core runner slow both servers so much that
// neither redo log wraps. It holds an flock on a file in the temp dir until
// the test ends.
func heavyLoadLock(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "mybak-test-redo-wrap.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}
