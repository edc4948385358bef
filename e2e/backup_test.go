package e2e

// End-to-end tests of the mybak binary: they build it once and run it as a
// user would, checking standard output, standard error and exit codes.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
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

func TestBackupRestoreRoundTrip(t *testing.T) {
	data := corpus(3<<20 + 17)
	key := keyFile(t, "correct horse battery staple")
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"gzip pbkdf2", []string{"--encrypt-key-file", key}},
		{"gzip sha256", []string{"--encrypt-key-file", key, "--encrypt-kdf", "sha256"}},
		{"gzip md5", []string{"--encrypt-key-file", key, "--encrypt-kdf", "md5"}},
		{"zstd pbkdf2-sha512", []string{"--encrypt-key-file", key, "--compress", "zstd", "--encrypt-kdf", "pbkdf2-sha512", "--encrypt-iter", "2000"}},
		{"none unencrypted", []string{"--compress", "none", "--no-encrypt"}},
		{"gzip small blocks", []string{"--encrypt-key-file", key, "--compress-level", "1", "--compress-block-size", "256K", "--compress-concurrency", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			r := run(t, bytes.NewReader(data), nil, append([]string{"backup", "--engine", "stdin", "--storage", store, "--name", "t1"}, tc.flags...)...)
			must(t, r, "backup")
			if !idRE.MatchString(r.stdout) {
				t.Fatalf("backup stdout = %q, want the ID alone", r.stdout)
			}
			id := strings.TrimSpace(r.stdout)
			keyArgs := []string{}
			if !strings.Contains(tc.name, "unencrypted") {
				keyArgs = []string{"--encrypt-key-file", key}
			}
			// Flags after the ID, as scripts write them.
			r = run(t, nil, nil, append([]string{"restore", "--storage", store, id, "--to-stdout"}, keyArgs...)...)
			must(t, r, "restore")
			if !bytes.Equal([]byte(r.stdout), data) {
				t.Fatalf("restored %d bytes differ from the original %d", len(r.stdout), len(data))
			}
			r = run(t, nil, nil, append([]string{"verify", "--deep", "--storage", store, "latest"}, keyArgs...)...)
			must(t, r, "verify --deep")
		})
	}
}

func TestBackupNeedsKey(t *testing.T) {
	store := t.TempDir()
	r := run(t, strings.NewReader("x"), nil, "backup", "--storage", store)
	if r.code != 2 || !strings.Contains(r.stderr, "--no-encrypt") || !strings.Contains(r.stderr, "--encrypt-key-file") {
		t.Fatalf("backup without a key: exit %d, stderr %q; want 2 and advice", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	entries, _ := os.ReadDir(store)
	if len(entries) != 0 {
		t.Errorf("a refused backup left %d entries in the store", len(entries))
	}
}

func TestKeyFromEnvironmentAndConfig(t *testing.T) {
	store := t.TempDir()
	data := corpus(100000)
	env := []string{"MYBAK_ENCRYPT_KEY=s3cret", "MYBAK_STORAGE=" + store}
	r := run(t, bytes.NewReader(data), env, "backup")
	must(t, r, "backup with env")
	id := strings.TrimSpace(r.stdout)
	if strings.Contains(r.stderr, "s3cret") {
		t.Error("the passphrase appears in the log")
	}

	// A config file sets the store and the key file; the command line wins.
	key := keyFile(t, "s3cret")
	cfg := filepath.Join(t.TempDir(), "mybak.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("storage: %s\nencrypt-key-file: %s\nrestore:\n  to-stdout: true\n", store, key)), 0o600)
	r = run(t, nil, nil, "restore", "--config", cfg, id)
	must(t, r, "restore with config")
	if r.stdout != string(data) {
		t.Fatal("restore with config: wrong bytes")
	}
	r = run(t, nil, []string{"MYBAK_CONFIG=" + cfg}, "list", "--storage", t.TempDir())
	must(t, r, "list")
	if strings.Contains(r.stdout, id) {
		t.Error("--storage on the command line did not win over the config file")
	}

	os.WriteFile(cfg, []byte("storag: /tmp\n"), 0o600)
	r = run(t, nil, nil, "list", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "unknown option(s) storag") {
		t.Errorf("typo in config: exit %d, %q", r.code, r.stderr)
	}
}

func TestWrongKey(t *testing.T) {
	store := t.TempDir()
	data := corpus(200000)
	for _, kdf := range []string{"pbkdf2", "md5"} {
		r := run(t, bytes.NewReader(data), []string{"MYBAK_ENCRYPT_KEY=right"}, "backup", "--storage", store, "--encrypt-kdf", kdf)
		must(t, r, "backup")
		id := strings.TrimSpace(r.stdout)
		r = run(t, nil, []string{"MYBAK_ENCRYPT_KEY=wrong"}, "restore", "--storage", store, id, "--to-stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "wrong encryption key or KDF") {
			t.Fatalf("%s: restore with a wrong key: exit %d, stderr %q", kdf, r.code, r.stderr)
		}
		if len(r.stdout) > 0 {
			t.Errorf("%s: wrong key wrote %d bytes of garbage to stdout", kdf, len(r.stdout))
		}
		r = run(t, nil, nil, "restore", "--storage", store, id, "--to-stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "encrypted and no key") {
			t.Errorf("restore without a key: exit %d, %q", r.code, r.stderr)
		}
	}
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

func TestVerifyFindsDamage(t *testing.T) {
	data := corpus(1 << 20)
	env := []string{"MYBAK_ENCRYPT_KEY=k"}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, store, id string)
		deep   bool
		want   string
	}{
		{"flipped byte", func(t *testing.T, store, id string) {
			p := dataObject(t, store, id)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o600)
		}, false, "sha256"},
		{"truncated", func(t *testing.T, store, id string) {
			p := dataObject(t, store, id)
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()-100)
		}, false, "manifest says"},
		{"deleted object", func(t *testing.T, store, id string) {
			os.Remove(dataObject(t, store, id))
		}, false, "missing"},
		{"deleted manifest", func(t *testing.T, store, id string) {
			os.Remove(filepath.Join(store, id, "manifest.json"))
		}, false, "without a manifest"},
		{"garbled manifest", func(t *testing.T, store, id string) {
			os.WriteFile(filepath.Join(store, id, "manifest.json"), []byte("{]"), 0o600)
		}, false, "invalid backup manifest"},
		// With a key, the manifest is authenticated: the fast check sees
		// any change of it.
		{"manifest hash of the original altered", func(t *testing.T, store, id string) {
			p := filepath.Join(store, id, "manifest.json")
			b, _ := os.ReadFile(p)
			var m map[string]any
			json.Unmarshal(b, &m)
			m["raw_sha256"] = strings.Repeat("0", 64)
			b, _ = json.Marshal(m)
			os.WriteFile(p, b, 0o600)
		}, false, "authentication failed"},
		// A manifest made before authentication (format 1, no auth block)
		// is not authenticated: only --deep sees the change.
		{"unauthenticated manifest's hash of the original altered", func(t *testing.T, store, id string) {
			p := filepath.Join(store, id, "manifest.json")
			b, _ := os.ReadFile(p)
			var m map[string]any
			json.Unmarshal(b, &m)
			m["raw_sha256"] = strings.Repeat("0", 64)
			m["format_version"] = 1
			delete(m, "auth")
			b, _ = json.Marshal(m)
			os.WriteFile(p, b, 0o600)
		}, true, "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			r := run(t, bytes.NewReader(data), env, "backup", "--storage", store)
			must(t, r, "backup")
			id := strings.TrimSpace(r.stdout)
			must(t, run(t, nil, env, "verify", "--deep", "--storage", store, id), "verify before damage")
			tc.damage(t, store, id)
			args := []string{"verify", "--storage", store, id}
			if tc.deep {
				// The fast check cannot see this; --deep must.
				must(t, run(t, nil, env, args...), "fast verify of a manifest-only change")
				args = append(args, "--deep")
			}
			r = run(t, nil, env, args...)
			if r.code != 3 || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("verify: exit %d, stdout %q, stderr %q; want exit 3 mentioning %q", r.code, r.stdout, r.stderr, tc.want)
			}
			r = run(t, nil, env, "restore", "--storage", store, id, "--to-stdout")
			if r.code == 0 {
				t.Fatal("restore of a damaged backup succeeded")
			}
		})
	}
	r := run(t, nil, env, "verify", "--storage", t.TempDir(), "20261121T162435Z-3fa9c1")
	if r.code != 1 || !strings.Contains(r.stderr, "no backup ") {
		t.Errorf("verify of an unknown ID: exit %d, %q", r.code, r.stderr)
	}
}

func TestListDeletePrune(t *testing.T) {
	store := t.TempDir()
	env := []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + store}
	var ids []string
	for i := 0; i < 3; i++ {
		r := run(t, strings.NewReader(strings.Repeat("row\n", 1000*(i+1))), env, "backup", "--name", fmt.Sprintf("n%d", i))
		must(t, r, "backup")
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	// A leftover of a killed run: objects, no manifest.
	leftover := "20200101T000000Z-abcdef"
	os.MkdirAll(filepath.Join(store, leftover), 0o700)
	os.WriteFile(filepath.Join(store, leftover, "data.gz.enc"), []byte("partial"), 0o600)
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(store, leftover, "data.gz.enc"), old, old)
	// A temporary file of a write killed by kill -9.
	staleTemp := filepath.Join(store, ".mybak-tmp", "put-killed")
	if err := os.WriteFile(staleTemp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(staleTemp, old, old)

	r := run(t, nil, env, "list", "--json")
	must(t, r, "list --json")
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if len(items) != 4 || items[0]["id"] != leftover || items[0]["state"] != "incomplete" {
		t.Fatalf("list --json = %v", items)
	}
	for i, it := range items[1:] {
		if it["id"] != ids[i] || it["state"] != "complete" || it["engine"] != "stdin" || it["type"] != "full" ||
			it["label"] != fmt.Sprintf("n%d", i) || it["raw_size"].(float64) != float64(4000*(i+1)) || it["encrypted"] != true {
			t.Errorf("list item %d = %v", i, it)
		}
	}
	r = run(t, nil, env, "list")
	must(t, r, "list")
	if !strings.Contains(r.stdout, "incomplete") || !strings.Contains(r.stdout, "STATE") || strings.Count(r.stdout, "complete") != 4 {
		t.Errorf("list table:\n%s", r.stdout)
	}

	must(t, run(t, nil, env, "delete", ids[1]), "delete")
	r = run(t, nil, env, "restore", ids[1], "--to-stdout")
	if r.code != 1 || !strings.Contains(r.stderr, "no backup ") {
		t.Errorf("restore of a deleted backup: %d %q", r.code, r.stderr)
	}

	// Each --name is a job of its own: --keep 1 keeps n0's and n2's newest.
	r = run(t, nil, env, "prune", "--keep", "1", "--dry-run")
	must(t, r, "prune --dry-run")
	if !strings.Contains(r.stderr, leftover) || strings.Contains(r.stderr, "id="+ids[0]) {
		t.Errorf("prune --dry-run does not name what it would remove (only the leftover): %s", r.stderr)
	}
	must(t, run(t, nil, env, "prune", "--keep", "1"), "prune")
	entries, _ := os.ReadDir(store)
	var left []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			left = append(left, e.Name())
		}
	}
	if _, err := os.Stat(staleTemp); !os.IsNotExist(err) {
		t.Errorf("prune left the stale temporary file: %v", err)
	}
	if slices.Sort(left); len(left) != 2 || !slices.Contains(left, ids[0]) || !slices.Contains(left, ids[2]) {
		t.Errorf("after prune --keep 1 the store holds %v, want [%s %s] (the newest of each --name)", left, ids[0], ids[2])
	}
	if r := run(t, nil, env, "prune"); r.code != 2 {
		t.Errorf("prune without --keep: exit %d", r.code)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "--bogus"},
		{"backup", "--storage", "x", "--no-encrypt", "--compress", "lz4"},
		{"restore", "--storage", "x", "not-an-id", "--to-stdout"},
		{"restore", "--storage", "x"},
		{"nosuchcommand"},
		{"list", "--storage", "ftp://host/x"},
		{"list", "--log-format", "xml", "--storage", "x"},
		{"list"},
	} {
		r := run(t, nil, nil, args...)
		if r.code != 2 {
			t.Errorf("mybak %s: exit %d (stderr %q), want 2", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

func TestLogFormatJSONAndProgress(t *testing.T) {
	store := t.TempDir()
	r := run(t, bytes.NewReader(corpus(1<<20)), nil, "backup", "--storage", store, "--no-encrypt", "--log-format", "json", "--progress", "always")
	must(t, r, "backup")
	if !idRE.MatchString(r.stdout) {
		t.Fatalf("stdout %q", r.stdout)
	}
	var sawJSON, sawBar bool
	for _, line := range strings.Split(r.stderr, "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(line), &v) == nil && v["msg"] == "backup complete" {
			sawJSON = true
		}
		if strings.Contains(line, "backup (") && strings.Contains(line, "iB/s") {
			sawBar = true
		}
	}
	if !sawJSON || !sawBar {
		t.Errorf("json log %v, progress bar %v in stderr:\n%s", sawJSON, sawBar, r.stderr)
	}
	r = run(t, bytes.NewReader(corpus(1<<20)), nil, "backup", "--storage", store, "--no-encrypt", "--progress", "never", "--log-level", "warn")
	must(t, r, "backup quiet")
	if strings.Contains(r.stderr, "iB/s") || strings.Contains(r.stderr, "backup complete") {
		t.Errorf("--progress never --log-level warn still printed: %q", r.stderr)
	}
}

// TestInterruptedBackup sends SIGTERM (and SIGINT) to a backup whose input
// is still flowing: it must stop, exit 130 as the README says, write no
// manifest and leave no objects behind.
func TestInterruptedBackup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			store := t.TempDir()
			cmd := exec.Command(mybakBin, "backup", "--storage", store, "--no-encrypt")
			cmd.Env = cleanEnv()
			in, _ := cmd.StdinPipe()
			var se bytes.Buffer
			cmd.Stderr = &se
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			chunk := corpus(1 << 20)
			for i := 0; i < 8; i++ {
				in.Write(chunk)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			go func() { // keep feeding: the input does not end by itself
				for {
					if _, err := in.Write(chunk); err != nil {
						return
					}
				}
			}()
			select {
			case err := <-done:
				// The README: 130 when interrupted (SIGINT or SIGTERM).
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
					t.Fatalf("an interrupted backup: %v, want exit status 130\n%s", err, se.String())
				}
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("backup did not stop within 20s of the signal")
			}
			in.Close()
			if !strings.Contains(se.String(), "interrupted") {
				t.Errorf("stderr does not say the backup was interrupted: %s", se.String())
			}
			var files []string
			filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if len(files) != 0 {
				t.Errorf("an interrupted backup left files: %v", files)
			}
		})
	}
}

// TestOpenSSLInterop checks both directions against the real openssl and
// gzip commands, in every key derivation mode.
func TestOpenSSLInterop(t *testing.T) {
	for _, tool := range []string{"openssl", "gzip"} {
		testenv.NeedTool(t, tool)
	}
	data := corpus(2<<20 + 5)
	orig := filepath.Join(t.TempDir(), "orig")
	os.WriteFile(orig, data, 0o600)
	key := keyFile(t, "interop pass")
	modes := []struct {
		kdf     string
		openssl []string
	}{
		{"pbkdf2", []string{"-pbkdf2"}},
		{"pbkdf2-sha512", []string{"-pbkdf2", "-md", "sha512"}},
		{"sha256", []string{"-md", "sha256"}},
		{"md5", []string{"-md", "md5"}},
	}
	for _, mode := range modes {
		t.Run("mybak to openssl "+mode.kdf, func(t *testing.T) {
			store := t.TempDir()
			r := run(t, bytes.NewReader(data), nil, "backup", "--storage", store, "--encrypt-key-file", key, "--encrypt-kdf", mode.kdf)
			must(t, r, "backup")
			obj := dataObject(t, store, strings.TrimSpace(r.stdout))
			sh := fmt.Sprintf("openssl enc -d -aes-256-cbc %s -pass file:%s -in %s | gzip -d | cmp - %s",
				strings.Join(mode.openssl, " "), key, obj, orig)
			if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
		})
		t.Run("openssl to mybak "+mode.kdf, func(t *testing.T) {
			// A backup made by a shell pipeline (as Trove did), described by
			// a manifest without a KDF record: mybak must detect the KDF.
			store := t.TempDir()
			id := "20261121T120000Z-0a0b0c"
			os.MkdirAll(filepath.Join(store, id), 0o700)
			obj := filepath.Join(store, id, "data.gz.enc")
			sh := fmt.Sprintf("gzip -c %s | openssl enc -aes-256-cbc -salt %s -pass file:%s -out %s",
				orig, strings.Join(mode.openssl, " "), key, obj)
			if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
			fi, _ := os.Stat(obj)
			manifest := fmt.Sprintf(`{"format_version":1,"id":%q,"start_time":"2026-11-21T12:00:00Z","end_time":"2026-11-21T12:01:00Z",
"engine":{"name":"stdin"},"type":"full","compression":{"kind":"gzip"},"encryption":{"cipher":"aes-256-cbc"},
"raw_size":%d,"raw_sha256":"","stored_size":%d,"stored_sha256":"","objects":[{"name":"data.gz.enc","size":%d}]}`,
				id, len(data), fi.Size(), fi.Size())
			os.WriteFile(filepath.Join(store, id, "manifest.json"), []byte(manifest), 0o600)
			r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
			must(t, r, "restore")
			if r.stdout != string(data) {
				t.Fatalf("restored %d bytes, want the original %d", len(r.stdout), len(data))
			}
		})
	}
}

// TestStdinTerminal: the stdin engine refuses a terminal as its input (it
// would wait for typing) with a usage error that says what to do.
func TestStdinTerminal(t *testing.T) {
	testenv.NeedTool(t, "script")
	cmd := exec.Command("script", "-qec", mybakBin+" backup --no-encrypt --storage "+t.TempDir(), "/dev/null")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "standard input, which is a terminal") {
		t.Fatalf("backup with a terminal as stdin: %v\n%s", err, out)
	}
}

// TestReadCommandsCreateNoStore: a mistyped --storage is an error for the
// commands that only read or delete, and leaves nothing behind.
func TestReadCommandsCreateNoStore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	env := []string{"MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=" + missing}
	for _, args := range [][]string{{"list"}, {"restore", "latest", "--to-stdout"}, {"verify", "latest"}, {"prune", "--keep", "1"}} {
		r := run(t, nil, env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "no such directory") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stderr)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("%v created %s", args, missing)
		}
	}
	must(t, run(t, strings.NewReader("x"), env, "backup"), "backup")
	must(t, run(t, nil, env, "list"), "list after backup")
}
