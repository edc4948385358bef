//go:build linux

package e2e

// End-to-end tests of verify --deep's content checks: the xbstream of a
// physical backup chunk by chunk (CRC-32, damaged file named, --list), the
// trailer of a dump. TestVerifyDeepContent needs only mbstream (package
// mariadb-backup); TestMySQLVerifyDeep needs the MariaDB sandbox (see
// helpers_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mybak/mybak/xbstream"
)

// flipPayload flips one byte of the first payload chunk of path in an
// xbstream, at offset into the payload.
func flipPayload(t *testing.T, stream []byte, path string, offset int) []byte {
	t.Helper()
	r := xbstream.NewReader(bytes.NewReader(stream))
	for {
		c, err := r.Next()
		if err != nil {
			t.Fatalf("no payload chunk of %s: %v", path, err)
		}
		if c.Path == path && c.Type == xbstream.TypePayload && c.Length > int64(offset) {
			b := bytes.Clone(stream)
			b[int(c.StreamOffset)+14+len(c.Path)+20+offset] ^= 0x20
			return b
		}
	}
}

// listed parses the PATH/SIZE table of verify --list.
func listed(t *testing.T, out string) map[string]string {
	t.Helper()
	files := map[string]string{}
	_, table, ok := strings.Cut(out, "\nPATH ")
	if !ok {
		t.Fatalf("no file list in:\n%s", out)
	}
	for _, l := range strings.Split(table, "\n")[1:] {
		if f := strings.Fields(l); len(f) >= 2 {
			files[f[0]] = strings.Join(f[1:], " ")
		}
	}
	return files
}

// TestVerifyDeepContent: stdin backups of an xbstream made by mbstream -c
// are recognised by their first bytes; --deep --list lists the files with
// their sizes (text and JSON); a payload byte flipped before the backup
// (the stream's SHA-256 then matches the manifest) fails verify --deep
// with exit 3 naming the file; a dump without its trailer too.
func TestVerifyDeepContent(t *testing.T) {
	bin := mbstreamBin(t)
	env := []string{"MYBAK_ENCRYPT_KEY=verify key"}
	src := t.TempDir()
	files := map[string][]byte{
		"ibdata1":         corpus(3 << 20),
		"db1/t1.ibd":      corpus(200000),
		"xtrabackup_info": []byte("tool_name = mariabackup\n"),
		"db1/empty.frm":   nil,
	}
	var names []string
	for p, b := range files {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, p)
	}
	cmd := exec.Command(bin, append([]string{"-c"}, names...)...)
	cmd.Dir = src
	good, err := cmd.Output()
	if err != nil {
		t.Fatalf("mbstream -c: %v", err)
	}
	store := t.TempDir()
	backupOf := func(data []byte) string {
		t.Helper()
		r := run(t, bytes.NewReader(data), env, "backup", "--storage", store, "--compress", "zstd")
		must(t, r, "backup")
		return strings.TrimSpace(r.stdout)
	}

	id := backupOf(good)
	r := run(t, nil, env, "verify", "--deep", "--list", "--storage", store, id)
	must(t, r, "verify --deep --list")
	got := listed(t, r.stdout)
	for p, b := range files {
		if got[p] != fmt.Sprint(len(b)) {
			t.Errorf("listed %s as %q, want size %d\n%s", p, got[p], len(b), r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "ok     xbstream chunks (CRC-32): 4 files") {
		t.Errorf("no xbstream check in:\n%s", r.stdout)
	}
	r = run(t, nil, env, "verify", "--deep", "--list", "--json", "--storage", store, id)
	must(t, r, "verify --json")
	var rep struct {
		OK      bool
		Content string
		Files   []struct {
			Path string
			Size int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !rep.OK || rep.Content != "xbstream" || len(rep.Files) != len(files) {
		t.Errorf("JSON report: %+v", rep)
	}
	for _, f := range rep.Files {
		if int64(len(files[f.Path])) != f.Size {
			t.Errorf("JSON file %+v", f)
		}
	}

	id = backupOf(flipPayload(t, good, "db1/t1.ibd", 1234))
	must(t, run(t, nil, env, "verify", "--storage", store, id), "fast verify (the stored stream is intact)")
	r = run(t, nil, env, "verify", "--deep", "--list", "--storage", store, id)
	t.Logf("verify --deep of a damaged xbstream: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	if r.code != 3 {
		t.Fatalf("verify --deep of a damaged xbstream: exit %d", r.code)
	}
	for _, want := range []string{
		`FAILED xbstream chunks (CRC-32): chunk `, `(file "db1/t1.ibd", offset 0): CRC mismatch`,
		"matches the SHA-256 recorded when it was stored", "ok     decode and hash the stream",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q", want)
		}
	}
	if got := listed(t, r.stdout); !strings.Contains(got["db1/t1.ibd"], "DAMAGED") || strings.Contains(got["ibdata1"], "DAMAGED") {
		t.Errorf("list: %v", got)
	}
	// mbstream agrees that it is damaged.
	x := exec.Command(bin, "-x", "-C", t.TempDir())
	x.Stdin = bytes.NewReader(flipPayload(t, good, "db1/t1.ibd", 1234))
	if out, err := x.CombinedOutput(); err == nil {
		t.Errorf("mbstream -x accepted the damaged stream: %s", out)
	}

	id = backupOf(good[:len(good)-200])
	r = run(t, nil, env, "verify", "--deep", "--storage", store, id)
	if r.code != 3 || !strings.Contains(r.stdout, "end-of-file chunk is missing") {
		t.Errorf("verify --deep of a cut xbstream: exit %d\n%s", r.code, r.stdout)
	}

	dump := "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n--\n" +
		"CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n"
	id = backupOf([]byte(dump + "-- Dump completed on 2026-11-21 16:24:35\n"))
	r = run(t, nil, env, "verify", "--deep", "--storage", store, id)
	must(t, r, "verify --deep of a complete dump")
	if !strings.Contains(r.stdout, "ok     dump trailer") {
		t.Errorf("no trailer check:\n%s", r.stdout)
	}
	id = backupOf([]byte(dump))
	r = run(t, nil, env, "verify", "--deep", "--storage", store, id)
	if r.code != 3 || !strings.Contains(r.stdout, `FAILED dump trailer: the dump does not end with "-- Dump completed"`) {
		t.Errorf("verify --deep of a dump without trailer: exit %d\n%s", r.code, r.stdout)
	}

	r = run(t, nil, env, "verify", "--list", "--storage", store, id)
	if r.code != 2 || !strings.Contains(r.stderr, "--list needs --deep") {
		t.Errorf("--list without --deep: exit %d %q", r.code, r.stderr)
	}
}

// TestMySQLVerifyDeep: a real mariabackup backup lists ibdata1 and the
// table files with --deep --list; its stream with one byte of ibdata1
// flipped (backed up through stdin) fails with the file named; a real dump
// passes the trailer check, and the same dump cut short fails it.
func TestMySQLVerifyDeep(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	seed(t, db, "e2e_verify")
	store := t.TempDir()
	key := keyFile(t, "verify deep key")
	r := run(t, nil, nil, append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	must(t, r, "mariabackup backup")
	id := strings.TrimSpace(r.stdout)
	r = run(t, nil, nil, "verify", "--deep", "--list", "--storage", store, "--encrypt-key-file", key, id)
	must(t, r, "verify --deep --list")
	files := listed(t, r.stdout)
	// mariabackup streams a tablespace created since the last checkpoint
	// (seed just made it) as items.new; prepare renames it.
	items := "e2e_verify/items.ibd"
	if files[items] == "" {
		items = "e2e_verify/items.new"
	}
	for _, want := range []string{"ibdata1", items, "e2e_verify/items.frm", "e2e_verify/notes.MAD", "xtrabackup_checkpoints", "backup-my.cnf"} {
		if files[want] == "" {
			t.Errorf("%s not listed:\n%s", want, r.stdout)
		}
	}
	size := regexp.MustCompile(`^[1-9][0-9]*$`)
	if !size.MatchString(files["ibdata1"]) || !size.MatchString(files[items]) {
		t.Errorf("sizes: ibdata1 %q, %s %q", files["ibdata1"], items, files[items])
	}
	t.Logf("%d files in the mariabackup stream", len(files))

	r = run(t, nil, nil, "restore", id, "--storage", store, "--encrypt-key-file", key, "--to-stdout")
	must(t, r, "restore --to-stdout")
	bad := flipPayload(t, []byte(r.stdout), "ibdata1", 20000)
	env := []string{"MYBAK_ENCRYPT_KEY=k"}
	r = run(t, bytes.NewReader(bad), env, "backup", "--storage", store)
	must(t, r, "stdin backup of the damaged stream")
	r = run(t, nil, env, "verify", "--deep", "--storage", store, strings.TrimSpace(r.stdout))
	if r.code != 3 || !strings.Contains(r.stdout, `(file "ibdata1", offset 0): CRC mismatch`) {
		t.Errorf("verify --deep of a damaged mariabackup stream: exit %d\n%s", r.code, r.stdout)
	}

	r = run(t, nil, nil, append([]string{"backup", "--engine", "mysqldump", "--storage", store, "--encrypt-key-file", key}, p.conn(false)...)...)
	must(t, r, "dump backup")
	id = strings.TrimSpace(r.stdout)
	r = run(t, nil, nil, "verify", "--deep", "--storage", store, "--encrypt-key-file", key, id)
	must(t, r, "verify --deep of a dump")
	if !strings.Contains(r.stdout, "ok     dump trailer") {
		t.Errorf("no trailer check:\n%s", r.stdout)
	}
	r = run(t, nil, nil, "restore", id, "--storage", store, "--encrypt-key-file", key, "--to-stdout")
	must(t, r, "restore the dump")
	cut := r.stdout[:strings.LastIndex(r.stdout, "-- Dump completed")]
	r = run(t, strings.NewReader(cut), env, "backup", "--storage", store)
	must(t, r, "stdin backup of the cut dump")
	r = run(t, nil, env, "verify", "--deep", "--storage", store, strings.TrimSpace(r.stdout))
	if r.code != 3 || !strings.Contains(r.stdout, "FAILED dump trailer") {
		t.Errorf("verify --deep of a dump without trailer: exit %d\n%s", r.code, r.stdout)
	}
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
