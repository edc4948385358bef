//go:build linux

package e2e

// End-to-end tests of authenticated backups (issue 10): the binary is run
// as a user would, against a local store and crafted streams; no server is
// needed.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storedBackup takes a backup of data into a new local store and returns
// the store and the ID.
func storedBackup(t *testing.T, data []byte, flags ...string) (string, string) {
	t.Helper()
	store := t.TempDir()
	r := run(t, bytes.NewReader(data), nil, append([]string{"backup", "--storage", store, "--compress", "none"}, flags...)...)
	must(t, r, "backup")
	return store, strings.TrimSpace(r.stdout)
}

// TestAuthStoredBackup: with a key, a backup is authenticated; an object
// altered by whoever can write the store, with the manifest's hashes
// rewritten to match, is damage (exit 3) and nothing is restored; an
// unauthenticated backup of this format is refused unless
// --allow-unauthenticated; one made before this change restores with a
// warning.
func TestAuthStoredBackup(t *testing.T) {
	data := corpus(2<<20 + 5)
	key := keyFile(t, "auth e2e key")

	t.Run("intact", func(t *testing.T) {
		store, id := storedBackup(t, data, "--encrypt-key-file", key)
		m := readJSON(t, filepath.Join(store, id, "manifest.json"))
		if a, ok := m["auth"].(map[string]any); !ok || a["alg"] != "hmac-sha256" || len(a["mac"].(string)) != 64 {
			t.Fatalf("manifest has no auth block: %v", m["auth"])
		}
		r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
		must(t, r, "restore")
		if r.stdout != string(data) || strings.Contains(r.stderr, "not authenticated") {
			t.Fatalf("restore: %d bytes\n%s", len(r.stdout), r.stderr)
		}
		r = run(t, nil, nil, "verify", "--storage", store, "--encrypt-key-file", key, id)
		must(t, r, "verify")
		if !strings.Contains(r.stdout, "ok     authentication: authenticated") {
			t.Errorf("verify:\n%s", r.stdout)
		}
		r = run(t, nil, nil, "verify", "--storage", store, id)
		must(t, r, "verify without a key")
		if !strings.Contains(r.stdout, "authentication: not checked: no key") {
			t.Errorf("verify without a key:\n%s", r.stdout)
		}
	})

	t.Run("object altered, hashes rewritten", func(t *testing.T) {
		store, id := storedBackup(t, data, "--encrypt-key-file", key)
		obj := filepath.Join(store, id, "data.enc")
		b, err := os.ReadFile(obj)
		if err != nil {
			t.Fatal(err)
		}
		old := sha256.Sum256(b)
		b[len(b)/2] ^= 0x20
		if err := os.WriteFile(obj, b, 0o644); err != nil {
			t.Fatal(err)
		}
		now := sha256.Sum256(b)
		mpath := filepath.Join(store, id, "manifest.json")
		mb, _ := os.ReadFile(mpath)
		if n := bytes.Count(mb, []byte(hex.EncodeToString(old[:]))); n != 2 {
			t.Fatalf("the stored hash appears %d times in the manifest, want 2 (stored_sha256, object)", n)
		}
		os.WriteFile(mpath, bytes.ReplaceAll(mb, []byte(hex.EncodeToString(old[:])), []byte(hex.EncodeToString(now[:]))), 0o644)

		r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
		if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, "does not match its MAC") {
			t.Fatalf("restore: exit %d, %d bytes out\n%s", r.code, len(r.stdout), r.stderr)
		}
		r = run(t, nil, nil, "verify", "--storage", store, "--encrypt-key-file", key, id)
		if r.code != 3 || !strings.Contains(r.stdout, "FAILED authentication") {
			t.Fatalf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		// --allow-unauthenticated does not accept a MAC that fails.
		r = run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, "--allow-unauthenticated", id, "--to-stdout")
		if r.code != 3 || r.stdout != "" {
			t.Fatalf("restore --allow-unauthenticated: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("object altered only", func(t *testing.T) {
		store, id := storedBackup(t, data, "--encrypt-key-file", key)
		obj := filepath.Join(store, id, "data.enc")
		b, _ := os.ReadFile(obj)
		b[len(b)/3] ^= 0x01
		os.WriteFile(obj, b, 0o644)
		r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
		if r.code != 3 || !strings.Contains(r.stderr, "authentication failed") {
			t.Fatalf("restore: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("unencrypted, key configured", func(t *testing.T) {
		store, id := storedBackup(t, data, "--no-encrypt")
		r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
		if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, "--allow-unauthenticated") {
			t.Fatalf("restore: exit %d\n%s", r.code, r.stderr)
		}
		r = run(t, nil, nil, "verify", "--storage", store, "--encrypt-key-file", key, id)
		if r.code != 3 || !strings.Contains(r.stdout, "FAILED authentication") {
			t.Fatalf("verify: exit %d\n%s", r.code, r.stdout)
		}
		r = run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, "--allow-unauthenticated", id, "--to-stdout")
		must(t, r, "restore --allow-unauthenticated")
		if r.stdout != string(data) || !strings.Contains(r.stderr, "not authenticated") {
			t.Fatalf("restore --allow-unauthenticated: %d bytes\n%s", len(r.stdout), r.stderr)
		}
		r = run(t, nil, nil, "restore", "--storage", store, id, "--to-stdout")
		must(t, r, "restore without a key")
		if r.stdout != string(data) || !strings.Contains(r.stderr, "not authenticated") {
			t.Fatalf("restore without a key: %d bytes\n%s", len(r.stdout), r.stderr)
		}
	})

	t.Run("auth block removed", func(t *testing.T) {
		store, id := storedBackup(t, data, "--encrypt-key-file", key)
		mpath := filepath.Join(store, id, "manifest.json")
		m := readJSON(t, mpath)
		delete(m, "auth")
		writeJSON(t, mpath, m)
		r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
		if r.code != 3 || r.stdout != "" || !strings.Contains(r.stderr, "removed") {
			t.Fatalf("restore: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("made before authentication", func(t *testing.T) {
		// What a mybak before this change wrote: format_version 1, no auth
		// block (this is also all a downgrade can achieve: the data must
		// still match the hashes, and the warning says it).
		store, id := storedBackup(t, data, "--encrypt-key-file", key)
		mpath := filepath.Join(store, id, "manifest.json")
		m := readJSON(t, mpath)
		delete(m, "auth")
		m["format_version"] = 1
		writeJSON(t, mpath, m)
		r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
		must(t, r, "restore")
		if r.stdout != string(data) || !strings.Contains(r.stderr, "not authenticated") || !strings.Contains(r.stderr, "made before") {
			t.Fatalf("restore: %d bytes\n%s", len(r.stdout), r.stderr)
		}
		r = run(t, nil, nil, "verify", "--storage", store, "--encrypt-key-file", key, id)
		must(t, r, "verify")
	})
}

// wireFrame frames one record of the wire format.
func wireFrame(typ byte, p []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(typ)
	binary.Write(&b, binary.BigEndian, uint32(len(p)))
	b.Write(p)
	crc := crc32.NewIEEE()
	crc.Write([]byte{typ})
	crc.Write(p)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// TestAuthWireStream: make-replica --from-stdin validates the header
// before anything is created (issue 10, first finding: an id of
// "/../../../escape" made mbstream plant files outside the target), and
// refuses an unauthenticated stream when a key is configured.
func TestAuthWireStream(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("x\n"), 0o600)
	key := keyFile(t, "auth e2e key")
	top := t.TempDir()
	datadir := filepath.Join(top, "a", "b", "datadir")
	base := []string{"make-replica", "--from-stdin", "--primary-host", "127.0.0.1", "--replication-user", "r",
		"--replication-password-file", pw, "--datadir", datadir, "--socket", filepath.Join(top, "no.sock")}

	evil := append([]byte("MYBAKWS1"), wireFrame('H', []byte(`{"format_version":1,"id":"/../../../escape","engine":"mariabackup","type":"full","compression":{"kind":"none"}}`))...)
	evil = append(evil, wireFrame('D', []byte("xbstream bytes"))...)
	r := run(t, bytes.NewReader(evil), nil, base...)
	if r.code != 1 || !strings.Contains(r.stderr, "not a backup ID") {
		t.Errorf("evil id: exit %d\n%s", r.code, r.stderr)
	}
	var found []string
	filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
		if p != top {
			found = append(found, p)
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("the refused stream left files: %q", found)
	}

	// An unencrypted (so unauthenticated) stream, with a key configured.
	plain := run(t, strings.NewReader("SELECT 1;\n"), nil, "backup", "--to-stdout", "--no-encrypt")
	must(t, plain, "backup --to-stdout")
	r = run(t, strings.NewReader(plain.stdout), nil, append(base, "--encrypt-key-file", key)...)
	if r.code != 3 || !strings.Contains(r.stderr, "--allow-unauthenticated") {
		t.Errorf("unauthenticated stream: exit %d\n%s", r.code, r.stderr)
	}

	// An authenticated stream read with another key fails its header's
	// MAC before anything is done (altered records: backup/auth_test.go).
	enc := run(t, strings.NewReader(strings.Repeat("SELECT 1;\n", 1000)), nil, "backup", "--to-stdout", "--encrypt-key-file", key)
	must(t, enc, "backup --to-stdout with a key")
	b := []byte(enc.stdout)
	if !strings.Contains(enc.stdout[:300], `"auth":{"alg":"hmac-sha256"`) {
		t.Fatalf("the stream's header has no auth block: %q", enc.stdout[:300])
	}
	wrongKey := keyFile(t, "another key")
	r = run(t, bytes.NewReader(b), nil, append(base, "--encrypt-key-file", wrongKey)...)
	if r.code != 3 || !strings.Contains(r.stderr, "header does not match its MAC") {
		t.Errorf("wrong key: exit %d\n%s", r.code, r.stderr)
	}
}

// flipStored flips one bit of backup id's data object at fraction at of
// its length (what whoever can write the store can do to CBC ciphertext).
func flipStored(t *testing.T, store, id string, at float64) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(store, id))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "data") {
			p := filepath.Join(store, id, e.Name())
			b, _ := os.ReadFile(p)
			b[int(float64(len(b))*at)] ^= 0x04
			os.WriteFile(p, b, 0o644)
			return
		}
	}
	t.Fatalf("no data object in %s", id)
}

// TestAuthMySQLNothingApplied: an authenticated backup whose stored data
// was altered is damage (exit 3) and nothing of it reaches the server or
// the target: a dump's objects are checked against the authenticated
// manifest before the SQL client starts, and a physical backup is only
// extracted into the scratch dir, never prepared or moved into place.
func TestAuthMySQLNothingApplied(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	key := keyFile(t, "auth mysql key")

	t.Run("dump", func(t *testing.T) {
		name := "auth_e2e_" + strings.ToLower(hex.EncodeToString([]byte(t.Name()))[:8])
		execSQL(t, db, "DROP DATABASE IF EXISTS "+name)
		var dump strings.Builder
		fmt.Fprintf(&dump, "CREATE DATABASE %s;\nUSE %s;\nCREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200));\n", name, name)
		for i := 0; i < 20000; i++ { // well past the held-back end
			fmt.Fprintf(&dump, "INSERT INTO t VALUES (%d, 'row %d %s');\n", i, i, strings.Repeat("x", 50))
		}
		dump.WriteString("-- Dump completed on 2026-12-03  6:00:00\n")
		store, id := storedBackup(t, []byte(dump.String()), "--encrypt-key-file", key)
		flipStored(t, store, id, 0.9)
		r := run(t, nil, nil, append([]string{"restore", id, "--storage", store, "--encrypt-key-file", key, "--to-mysql", "--force"}, p.conn(true)...)...)
		if r.code != 3 || !strings.Contains(r.stderr, "nothing was applied") {
			t.Errorf("restore --to-mysql: exit %d\n%s", r.code, r.stderr)
		}
		var n int
		db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
		if n != 0 {
			execSQL(t, db, "DROP DATABASE "+name)
			t.Errorf("the altered dump was applied: database %s exists", name)
		}
	})

	t.Run("physical", func(t *testing.T) {
		seed(t, db, "auth_e2e_phys")
		store := t.TempDir()
		r := run(t, nil, nil, append([]string{"backup", "--engine", "mariabackup", "--storage", store, "--encrypt-key-file", key, "--compress", "none"}, p.conn(false)...)...)
		must(t, r, "physical backup")
		id := strings.TrimSpace(r.stdout)
		flipStored(t, store, id, 0.5)
		top := t.TempDir()
		target := filepath.Join(top, "restored")
		r = run(t, nil, nil, "restore", id, "--storage", store, "--encrypt-key-file", key, "--target-dir", target)
		if r.code != 3 || !strings.Contains(r.stderr, "authentication failed") {
			t.Errorf("restore --target-dir: exit %d\n%s", r.code, r.stderr)
		}
		ents, _ := os.ReadDir(top)
		for _, e := range ents {
			if e.Name() == "restored" {
				t.Errorf("the altered backup was restored into %s", target)
			}
			// The staging dir keeps only the tools' logs.
			if sub, _ := os.ReadDir(filepath.Join(top, e.Name())); e.IsDir() && strings.Contains(e.Name(), "staging") {
				for _, s := range sub {
					if s.Name() != "logs" {
						t.Errorf("extracted data left behind: %s/%s", e.Name(), s.Name())
					}
				}
			}
		}
	})
}
