//go:build linux

package e2e

// The shared harness of the end-to-end tests: TestMain builds mybak once
// per run, run runs it as a user would; the MariaDB sandboxes
// (scripts/mysql-sandbox.sh), the Swift sandbox (scripts/swift-sandbox.sh)
// and the manifests of a local store are reached through the helpers here.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
	"github.com/ncw/swift/v2"
)

// mybakBin is the mybak binary TestMain built for this run.
var mybakBin string

// repoRoot is the repository's top directory (absolute): the tests run in
// e2e/, and read the docs and run the scripts from there.
var repoRoot string

// mysqlSandboxSh is the MariaDB sandbox script (scripts/mysql-sandbox.sh).
var mysqlSandboxSh string

// TestMain builds mybak once for the whole run (from the repository's
// top directory) and removes it at the end.
func TestMain(m *testing.M) {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	repoRoot = root
	mysqlSandboxSh = filepath.Join(repoRoot, "scripts", "mysql-sandbox.sh")
	dir, err := os.MkdirTemp("", "mybak-bin")
	if err != nil {
		panic(err)
	}
	mybakBin = filepath.Join(dir, "mybak")
	build := exec.Command("go", "build", "-o", mybakBin, ".")
	build.Dir = repoRoot
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mybak: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs mybak with args, stdin and extra environment variables.
func run(t *testing.T, stdin io.Reader, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(mybakBin, args...)
	cmd.Stdin = stdin
	cmd.Env = append(cleanEnv(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

// cleanEnv is the test's environment without any MYBAK_ variable.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MYBAK_") {
			env = append(env, kv)
		}
	}
	return env
}

func must(t *testing.T, r result, what string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
}

var idRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}\n$`)

// corpus returns n bytes of mixed data: text, zeros and random bytes.
func corpus(n int) []byte {
	b := make([]byte, 0, n)
	rnd := make([]byte, 4096)
	for i := 0; len(b) < n; i++ {
		switch i % 3 {
		case 0:
			b = append(b, fmt.Sprintf("INSERT INTO t VALUES (%d, 'row %d');\n", i, i*31)...)
		case 1:
			b = append(b, make([]byte, 1000)...)
		case 2:
			rand.Read(rnd[:200])
			b = append(b, rnd[:200]...)
		}
	}
	return b[:n]
}

func keyFile(t *testing.T, pass string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dataObject returns the path of the single data object of a backup.
func dataObject(t *testing.T, store, id string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(store, id, "data*"))
	if len(m) != 1 {
		t.Fatalf("data objects of %s: %v", id, m)
	}
	return m[0]
}

// readJSON returns the JSON object in the file at path.
func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeJSON(t *testing.T, path string, m map[string]any) {
	t.Helper()
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mysqlTests skips (or, under CI, fails) unless the MySQL tests are on.
func mysqlTests(t *testing.T) {
	t.Helper()
	testenv.Need(t, os.Getenv("MYBAK_TEST_MYSQL") == "1" && os.Getenv("MYBAK_TEST_MYSQL_PORT") != "",
		"MySQL end-to-end tests are not configured: run scripts/test.sh, or start a sandbox and "+
			"eval \"$(scripts/mysql-sandbox.sh env primary)\" (sets MYBAK_TEST_MYSQL=1 and MYBAK_TEST_MYSQL_*)")
}

// sandbox is one MariaDB server of scripts/mysql-sandbox.sh.
type sandbox struct {
	name, socket, datadir string
	port                  int
	user, passFile        string
	admin, adminPassFile  string
}

func sandboxFromEnv(get func(string) string) *sandbox {
	port, _ := strconv.Atoi(get("MYBAK_TEST_MYSQL_PORT"))
	return &sandbox{name: get("MYBAK_TEST_MYSQL_NAME"), socket: get("MYBAK_TEST_MYSQL_SOCKET"),
		datadir: get("MYBAK_TEST_MYSQL_DATADIR"), port: port,
		user: get("MYBAK_TEST_MYSQL_USER"), passFile: get("MYBAK_TEST_MYSQL_PASSWORD_FILE"),
		admin: get("MYBAK_TEST_MYSQL_ADMIN_USER"), adminPassFile: get("MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")}
}

// primary is the sandbox scripts/test.sh started.
func primary(t *testing.T) *sandbox {
	t.Helper()
	mysqlTests(t)
	privateTmp(t)
	return sandboxFromEnv(os.Getenv)
}

// privateTmp points TMPDIR (inherited by mybak through run) at the test's
// temp dir, so the state dirs that failed backups keep are removed with it.
func privateTmp(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
}

func sandboxScript(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(mysqlSandboxSh, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mysql-sandbox.sh %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// startSandbox starts a fresh sandbox (on datadir when not empty) and
// destroys it when the test ends.
func startSandbox(t *testing.T, name, datadir string, extra ...string) *sandbox {
	t.Helper()
	exec.Command(mysqlSandboxSh, "destroy", name).Run()
	if datadir != "" {
		sandboxScript(t, append([]string{"start-datadir", name, datadir}, extra...)...)
	} else {
		sandboxScript(t, append([]string{"start", name}, extra...)...)
	}
	t.Cleanup(func() { exec.Command(mysqlSandboxSh, "destroy", name).Run() })
	env := map[string]string{}
	for _, l := range strings.Split(sandboxScript(t, "env", name), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	return sandboxFromEnv(func(k string) string { return env[k] })
}

// conn returns mybak's connection flags for the backup user (or the admin).
func (s *sandbox) conn(admin bool) []string {
	u, f := s.user, s.passFile
	if admin {
		u, f = s.admin, s.adminPassFile
	}
	return []string{"--host", "127.0.0.1", "--port", strconv.Itoa(s.port), "--user", u, "--password-file", f}
}

func (s *sandbox) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := mysql.Open(context.Background(), mysql.Conn{Host: "127.0.0.1", Port: s.port, User: s.admin, PasswordFile: s.adminPassFile})
	if err != nil {
		t.Fatalf("connect to sandbox %s: %v", s.name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (s *sandbox) password(t *testing.T) string {
	b, err := os.ReadFile(s.passFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func execSQL(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// checksums returns CHECKSUM TABLE and COUNT(*) of every table of the databases.
func checksums(t *testing.T, db *sql.DB, dbs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dbs {
		rows, err := db.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=? AND TABLE_TYPE='BASE TABLE'", d)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			tables = append(tables, d+"."+n)
		}
		rows.Close()
		for _, tb := range tables {
			var name string
			var sum sql.NullString
			var n int64
			if err := db.QueryRow("CHECKSUM TABLE "+tb).Scan(&name, &sum); err != nil {
				t.Fatalf("checksum %s: %v", tb, err)
			}
			db.QueryRow("SELECT COUNT(*) FROM " + tb).Scan(&n)
			out[tb] = fmt.Sprintf("%s/%d rows", sum.String, n)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no tables in %v", dbs)
	}
	return out
}

func sameChecksums(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: restored %q, source %q", k, got[k], v)
		}
	}
}

// seed creates database name with a few tables and rows on db.
func seed(t *testing.T, db *sql.DB, name string) {
	t.Helper()
	execSQL(t, db,
		"DROP DATABASE IF EXISTS "+name,
		"CREATE DATABASE "+name,
		"CREATE TABLE "+name+".items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64), price DECIMAL(10,2), b VARBINARY(32))",
		"CREATE TABLE "+name+".notes (id INT PRIMARY KEY, txt TEXT) ENGINE=Aria",
		"CREATE VIEW "+name+".cheap AS SELECT id, name FROM "+name+".items WHERE price < 10",
		"INSERT INTO "+name+".items (name, price, b) SELECT CONCAT('item-', seq), seq % 100, UNHEX(SHA2(seq, 256)) FROM "+name+".seq_1_to_20000",
		"INSERT INTO "+name+".notes VALUES (1, 'quote '' and \\\\ backslash'), (2, 'aria')",
	)
}

// manifestOf returns the manifest of backup id in the local store.
func manifestOf(t *testing.T, store, id string) map[string]any {
	t.Helper()
	return readJSON(t, filepath.Join(store, id, "manifest.json"))
}

func metaOf(t *testing.T, store, id string) map[string]string {
	out := map[string]string{}
	for k, v := range manifestOf(t, store, id)["meta"].(map[string]any) {
		out[k] = v.(string)
	}
	return out
}

// editManifest rewrites store/id/manifest.json through fn.
func editManifest(t *testing.T, store, id string, fn func(m map[string]any)) {
	t.Helper()
	m := manifestOf(t, store, id)
	fn(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, id, "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// swiftEnv passes the Swift credentials of the test environment.
func swiftEnv() []string {
	var env []string
	for _, k := range []string{"ST_AUTH", "ST_USER", "ST_KEY"} {
		env = append(env, k+"="+os.Getenv(k))
	}
	return env
}

// swiftConn is a direct connection to the sandbox, for looking at what is
// stored.
func swiftConn(t *testing.T) *swift.Connection {
	t.Helper()
	c := &swift.Connection{AuthUrl: os.Getenv("ST_AUTH"), UserName: os.Getenv("ST_USER"), ApiKey: os.Getenv("ST_KEY")}
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// testContainer names a fresh container, removed (with its segment
// container) when the test ends.
// uniqueName is prefix and 8 random hex digits: a container name no other
// test, and no earlier run (a killed one left its containers), uses.
func uniqueName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%x", prefix, b)
}

func testContainer(t *testing.T) string {
	t.Helper()
	testenv.NeedSwift(t)
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("mybak-e2e-%x", b)
	t.Cleanup(func() {
		c := swiftConn(t)
		ctx := context.Background()
		for _, ct := range []string{name, name + "_segments"} {
			names, _ := c.ObjectNamesAll(ctx, ct, nil)
			for _, n := range names {
				c.ObjectDelete(ctx, ct, n)
			}
			c.ContainerDelete(ctx, ct)
		}
	})
	return name
}

// segments lists the segment container's objects whose names contain s.
func segments(t *testing.T, container, s string) []string {
	t.Helper()
	names, err := swiftConn(t).ObjectNamesAll(context.Background(), container+"_segments", nil)
	if err != nil && err != swift.ContainerNotFound {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.Contains(n, s) {
			out = append(out, n)
		}
	}
	return out
}

// victim is a mybak process that a test kills.
type victim struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	stdout bytes.Buffer
	exited chan struct{}
	once   sync.Once
	killed bool
}

func startMybak(t *testing.T, stdin io.Reader, env []string, args ...string) *victim {
	t.Helper()
	v := &victim{cmd: exec.Command(mybakBin, args...), exited: make(chan struct{})}
	v.cmd.Stdin = stdin
	v.cmd.Env = append(cleanEnv(), env...)
	v.cmd.Stdout, v.cmd.Stderr = &v.stdout, &v.stderr
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { v.cmd.Wait(); close(v.exited) }()
	t.Cleanup(func() { v.cmd.Process.Kill(); <-v.exited })
	return v
}

// kill sends SIGKILL (once) and waits until the process is gone.
func (v *victim) kill() {
	v.once.Do(func() {
		v.killed = true
		v.cmd.Process.Kill()
		<-v.exited
	})
}

func (v *victim) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-v.exited:
	case <-time.After(d):
		t.Fatalf("mybak did not finish within %v\nstderr: %s", d, v.stderr.String())
	}
}

// waitFor polls cond for up to 30 s.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sameIDs(a, b []string) bool {
	return strings.Join(a, " ") == strings.Join(b, " ")
}

// listIDs returns the IDs that `list --json` shows in state ("complete",
// "incomplete").
func listIDs(t *testing.T, env []string, state string) []string {
	t.Helper()
	r := run(t, nil, env, "list", "--json")
	must(t, r, "list --json")
	var items []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	var ids []string
	for _, it := range items {
		if it.State == state {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// keepEnv returns the environment of a local store with a key.
func keepEnv(t *testing.T) (string, []string) {
	store := t.TempDir()
	return store, []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + store}
}

// backupIDs takes n backups of label name and returns their IDs.
func backupIDs(t *testing.T, env []string, name string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		r := run(t, strings.NewReader(fmt.Sprintf("%s %d", name, i)), env, "backup", "--name", name)
		must(t, r, "backup")
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	return ids
}

// mbstreamBin returns mbstream's path; without it the test is skipped, or
// fails when testenv.Required.
func mbstreamBin(t *testing.T) string {
	t.Helper()
	return testenv.NeedTool(t, "mbstream", "xbstream")
}

// sealManifest authenticates the (edited) manifest of backup id with the
// key pass, as mybak does when it writes one: for tests whose edits stand
// for what a mybak with the key could have recorded.
func sealManifest(t *testing.T, store, id, pass string) {
	t.Helper()
	p := filepath.Join(store, id, backup.ManifestName)
	var g map[string]any
	b, _ := os.ReadFile(p)
	json.Unmarshal(b, &g)
	delete(g, "auth")
	b, _ = json.Marshal(g)
	m, err := backup.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Seal([]byte(pass)); err != nil {
		t.Fatal(err)
	}
	if b, err = m.Marshal(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
