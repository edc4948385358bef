package logical

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/engine"
	_ "github.com/mybak/mybak/engine/dump" // the dump engines, for their refusals
	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// conns are the sandbox's backup and admin users (see logicaldump's
// tests: MYBAK_TEST_MYSQL=1 and the env of mysql-sandbox.sh).
func conns(t *testing.T) (bk, admin mysql.Conn) {
	t.Helper()
	testenv.Need(t, os.Getenv("MYBAK_TEST_MYSQL") == "1",
		"MySQL integration tests are not configured: start a server with mysql-sandbox.sh start primary and eval its env")
	port, _ := strconv.Atoi(os.Getenv("MYBAK_TEST_MYSQL_PORT"))
	host := os.Getenv("MYBAK_TEST_MYSQL_HOST")
	return mysql.Conn{Host: host, Port: port, User: os.Getenv("MYBAK_TEST_MYSQL_USER"), PasswordFile: os.Getenv("MYBAK_TEST_MYSQL_PASSWORD_FILE")},
		mysql.Conn{Host: host, Port: port, User: os.Getenv("MYBAK_TEST_MYSQL_ADMIN_USER"), PasswordFile: os.Getenv("MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")}
}

// scratchSchema connects as admin and names a schema of the test's own
// (prefix and random hex), dropped when the test ends; ctx bounds the
// test to 3 minutes.
func scratchSchema(t *testing.T, adminConn mysql.Conn, prefix string) (context.Context, *sql.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	admin, err := mysql.Open(ctx, adminConn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 4)
	rand.Read(b)
	z := prefix + hex.EncodeToString(b)
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + z + "`") })
	return ctx, admin, z
}

func checksum(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var name, sum sql.NullString
	if err := db.QueryRow("CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	return sum.String
}

// TestBackupVerifyRestore: a logical backup through backup.Run (gzip,
// encrypted, a local store) is found by the registry from its manifest,
// passes the deep content check, restores into the server with a table
// left out, and a damaged stream fails the content check.
func TestBackupVerifyRestore(t *testing.T) {
	bk, adminConn := conns(t)
	ctx, admin, z := scratchSchema(t, adminConn, "t_engine_")
	for _, q := range []string{"CREATE DATABASE `" + z + "`",
		"CREATE TABLE `" + z + "`.a (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO `" + z + "`.a SELECT seq, CONCAT('a', seq) FROM `" + z + "`.seq_1_to_5000",
		// b is system-versioned with history: its backup holds two row
		// versions, its row count is the one current row.
		"CREATE TABLE `" + z + "`.b (id INT PRIMARY KEY) WITH SYSTEM VERSIONING", "INSERT INTO `" + z + "`.b VALUES (1)",
		"UPDATE `" + z + "`.b SET id = 2"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	want := checksum(t, admin, "`"+z+"`.a")

	en, err := engine.ByName(Name)
	if err != nil {
		t.Fatal(err)
	}
	be, err := en.NewBackup(engine.BackupConfig{Conn: bk, DumpThreads: 2, Include: []string{z}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("engine test passphrase")
	m, err := backup.Run(ctx, backup.Options{Store: st, Engine: be, Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}, Pass: pass}})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if m.Engine.Name != Name || m.Meta[backup.MetaBinlogFile] == "" || m.Meta[MetaTables] != "2" {
		t.Errorf("manifest: engine %q meta %v", m.Engine.Name, m.Meta)
	}
	rc, err := backup.RowCountsOf(m)
	if err != nil || rc == nil || !rc.Exact || len(rc.Tables) != 2 || rc.Tables[0].Rows != 5000 || rc.Tables[1].Rows != 1 {
		t.Errorf("row counts: %+v, %v; want exact counts of a (5000) and b (1: its current row, not its history)", rc, err)
	}
	found, err := engine.For(m)
	if err != nil || found.Name() != Name {
		t.Fatalf("engine.For: %v, %v", found, err)
	}

	// verify --deep's content check, on the decoded stream.
	var raw bytes.Buffer
	if _, err := restore.ToWriter(ctx, st, m, &raw, restore.Options{Pass: pass}); err != nil {
		t.Fatal(err)
	}
	cc := found.NewContentCheck(ctx, m)
	cc.Write(raw.Bytes())
	rep := cc.Finish(nil)
	if rep.Content != ContentLogical || len(rep.Checks) != 1 || rep.Checks[0].Status != check.OK || rep.Err != nil {
		t.Errorf("content check of a good backup: %+v", rep)
	}
	bad := bytes.Clone(raw.Bytes())
	i := bytes.Index(bad, []byte("'a2500'"))
	bad[i+2] = 'X'
	cc = found.NewContentCheck(ctx, m)
	cc.Write(bad)
	rep = cc.Finish(nil)
	if len(rep.Checks) != 1 || rep.Checks[0].Status != check.Failed || !rep.Checks[0].Damage || !strings.Contains(rep.Checks[0].Detail, "damaged") {
		t.Errorf("content check of a damaged stream: %+v", rep)
	}

	// Restore a alone (b excluded) after dropping it.
	if _, err := admin.Exec("DROP TABLE `" + z + "`.a"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("DELETE FROM `" + z + "`.b"); err != nil {
		t.Fatal(err)
	}
	err = found.Restore(ctx, st, []*backup.Manifest{m}, engine.Target{Server: &restore.LogicalOptions{
		Options: restore.Options{Pass: pass, Parallel: 2}, Conn: adminConn, Exclude: []string{z + ".b"}, DeferIndexes: true}})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := checksum(t, admin, "`"+z+"`.a"); got != want {
		t.Errorf("restored a: checksum %s, want %s", got, want)
	}
	var n int
	admin.QueryRow("SELECT COUNT(*) FROM `" + z + "`.b").Scan(&n)
	if n != 0 {
		t.Errorf("the excluded table b was restored (%d rows)", n)
	}
	// Into files: refused with the flags that fit.
	err = found.Restore(ctx, st, []*backup.Manifest{m}, engine.Target{Files: &restore.PhysicalOptions{}})
	if err == nil || !strings.Contains(err.Error(), "--to-mysql") {
		t.Errorf("restore into files: %v", err)
	}
}

// TestLoadOnlyOptionsRefused: the load's options (--include, --exclude,
// --resume, --defer-indexes, --users) are refused for a dump tool's
// backup, whose SQL is applied whole, before anything is read.
func TestLoadOnlyOptionsRefused(t *testing.T) {
	en, err := engine.ByName("mariadb-dump")
	if err != nil {
		t.Fatal(err)
	}
	m := &backup.Manifest{ID: "20261203T000000Z-aaaaaa", Engine: backup.EngineInfo{Name: "mariadb-dump"}}
	for flag, o := range map[string]restore.LogicalOptions{
		"--include": {Include: []string{"a"}}, "--exclude": {Exclude: []string{"a"}}, "--resume": {Resume: true},
		"--defer-indexes": {DeferIndexes: true}, "--users": {Users: true}} {
		err := en.Restore(context.Background(), nil, []*backup.Manifest{m}, engine.Target{Server: &o})
		if err == nil || !strings.Contains(err.Error(), flag+" applies to backups of the logical engine") {
			t.Errorf("%s on a mariadb-dump backup: %v", flag, err)
		}
	}
}
