//go:build linux

package e2e

// End-to-end test of incremental backups in Trove's layout: the mybak
// binary against the MariaDB sandbox (scripts/mysql-sandbox.sh) and the
// Swift sandbox (scripts/swift-sandbox.sh). Incrementals must carry the
// metadata Trove's restore follows (Parent-Location, Parent-Checksum,
// Lsn), apply onto mybak's full backups and onto full backups Trove made
// itself, and restore into a datadir a server starts on.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// head returns the headers of object obj (HEAD).
func (s *troveSwift) head(obj string) http.Header { return s.http("HEAD", obj, nil, nil) }

// getURL fetches u with the token, as Trove's restore loads a parent from
// its Parent-Location, and returns the response's headers.
func (s *troveSwift) getURL(u string) http.Header {
	s.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-Auth-Token", s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return resp.Header
}

// troveManifest reads the manifest mybak wrote beside backup id.
func (s *troveSwift) troveManifest(id string) map[string]any {
	s.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s.swift("download", s.container, id+".mybak.json", "-o", "-")), &m); err != nil {
		s.t.Fatalf("manifest of %s: %v", id, err)
	}
	return m
}

func etag(h http.Header) string { return strings.Trim(h.Get("Etag"), `"`) }

func countRows(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

var reTroveLSN = regexp.MustCompile(`The latest check point \(for incremental\): '(\d+)'`)

// TestTroveMySQLIncremental: in Trove's layout, with the real MariaDB and
// Swift: a full mariabackup backup, rows written, an incremental of the
// latest backup (passing over newer ones that cannot be parents); the
// incremental's Swift metadata points at its parent as Trove's does; list
// shows the chain, verify checks it, restore gives a datadir with the new
// rows. Then a full backup made as Trove's mariabackup driver makes one
// (its LSN only in X-Object-Meta-Lsn) is the parent of a mybak
// incremental, restored with it. The refusals: no parent in the
// container, an unknown --parent, a Trove backup without LSN metadata, one
// of another datastore, one from another server (LSN ahead), one of
// another version.
func TestTroveMySQLIncremental(t *testing.T) {
	p := primary(t)
	db := p.db(t)
	seed(t, db, "e2e_trove")
	s := newTroveSwiftIn(t, uniqueName("database_backups-mysql"))
	key := keyFile(t, "trove incremental key")
	env := append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container, "MYBAK_LAYOUT=trove", "MYBAK_ENCRYPT_KEY_FILE="+key)
	bargs := append([]string{"backup", "--engine", "mariabackup", "--segment-size", "16M"}, p.conn(false)...)
	var version string
	if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	majorMinor := regexp.MustCompile(`^\d+\.\d+`).FindString(version)

	// Nothing in the container to apply an incremental onto.
	r := run(t, nil, env, append(bargs, "--incremental")...)
	if r.code != 1 || !strings.Contains(r.stderr, "no complete mariabackup backup in swift://"+s.container) ||
		!strings.Contains(r.stderr, "take a full backup first") || r.stdout != "" {
		t.Errorf("--incremental into an empty container: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, env, append(bargs, "--incremental", "--parent", "0b3c1f4e-1d1a-4b9e-9f3a-000000000000")...)
	if r.code != 1 || !strings.Contains(r.stderr, "no backup ") || !strings.Contains(r.stderr, "0b3c1f4e-1d1a-4b9e-9f3a-000000000000") {
		t.Errorf("--parent of an unknown ID: exit %d\n%s", r.code, r.stderr)
	}
	if r = run(t, nil, env, append(bargs, "--incremental", "--parent", "not/an.id")...); r.code != 2 {
		t.Errorf("--parent not/an.id: exit %d, want 2 (usage)\n%s", r.code, r.stderr)
	}

	r = run(t, nil, env, bargs...)
	must(t, r, "full backup --layout trove")
	if !uuidRE.MatchString(r.stdout) {
		t.Fatalf("backup printed %q, want a UUID", r.stdout)
	}
	full := strings.TrimSpace(r.stdout)
	fullObj := full + ".xbstream.gz.enc"

	// Trove backups newer than the full one that cannot be parents of
	// this server's incrementals (their data is never read: the refusal
	// comes first).
	fake := filepath.Join(t.TempDir(), "fake")
	os.WriteFile(fake, troveXbstream(t, 3<<20), 0o600)
	bad := []struct {
		b    troveBackup
		want string
	}{
		// Before 2015 Trove put no metadata on multi-segment backups.
		{troveBackup{id: "1f5d2c3a-0000-4000-8000-0000000000a1", kind: "slo"}, "has no X-Object-Meta-Lsn"},
		{troveBackup{id: "1f5d2c3a-0000-4000-8000-0000000000a2", kind: "single",
			meta: map[string]string{"Datastore": "mariadb", "Datastore-Version": majorMinor}}, "has no X-Object-Meta-Lsn"},
		{troveBackup{id: "1f5d2c3a-0000-4000-8000-0000000000a3", kind: "single",
			meta: map[string]string{"Lsn": "1000", "Datastore": "mysql", "Datastore-Version": "8.0.35"}}, "was made with xtrabackup"},
		{troveBackup{id: "1f5d2c3a-0000-4000-8000-0000000000a4", kind: "single",
			meta: map[string]string{"Lsn": "999999999999999", "Datastore": "mariadb", "Datastore-Version": majorMinor}}, "beyond this server's current LSN"},
		{troveBackup{id: "1f5d2c3a-0000-4000-8000-0000000000a5", kind: "single",
			meta: map[string]string{"Lsn": "1000", "Datastore": "mariadb", "Datastore-Version": "10.6"}}, "was taken from a 10.6 server"},
	}
	for _, tc := range bad {
		tc.b.ext, tc.b.md = ".xbstream.gz.enc", "-md sha256"
		s.makeTroveBackup(t, fake, key, tc.b)
		r := run(t, nil, env, append(bargs, "--incremental", "--parent", tc.b.id)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "take a full backup first") {
			t.Errorf("--parent %s (%v): exit %d, want 1 saying %q\n%s", tc.b.id, tc.b.meta, r.code, tc.want, r.stderr)
		}
	}

	execSQL(t, db, "INSERT INTO e2e_trove.items (name, price) SELECT CONCAT('trove-inc-', seq), 7 FROM e2e_trove.seq_1_to_2500",
		"UPDATE e2e_trove.items SET price = price + 1 WHERE id % 5 = 0", "INSERT INTO e2e_trove.notes VALUES (3, 'after the full')")
	r = run(t, nil, env, append(bargs, "--incremental")...)
	must(t, r, "incremental --layout trove")
	inc := strings.TrimSpace(r.stdout)
	incObj := inc + ".xbstream.gz.enc"
	want := checksums(t, db, "e2e_trove")
	// latest passed over the newer MariaDB backups that cannot be parents.
	for _, id := range []string{bad[1].b.id, bad[3].b.id, bad[4].b.id} {
		if !strings.Contains(r.stderr, "passed over") || !strings.Contains(r.stderr, id) {
			t.Errorf("the incremental's log does not say it passed over %s:\n%s", id, r.stderr)
		}
	}

	// Trove's metadata: the parent's URL and ETag, and the LSN.
	fm, im := s.troveManifest(full), s.troveManifest(inc)
	fmeta, imeta := fm["meta"].(map[string]any), im["meta"].(map[string]any)
	ih, fh := s.head(incObj), s.head(fullObj)
	if got := ih.Get("X-Object-Meta-Parent-Location"); got != s.url(fullObj) {
		t.Errorf("Parent-Location %q, want %q", got, s.url(fullObj))
	}
	if got := ih.Get("X-Object-Meta-Parent-Checksum"); got == "" || got != etag(fh) {
		t.Errorf("Parent-Checksum %q, the parent's ETag is %q", got, etag(fh))
	}
	if ih.Get("X-Object-Meta-Lsn") != imeta["to_lsn"] || fh.Get("X-Object-Meta-Lsn") != fmeta["to_lsn"] ||
		imeta["from_lsn"] != fmeta["to_lsn"] || fh.Get("X-Object-Meta-Lsn") == "" {
		t.Errorf("LSNs: full %s (manifest %v), incremental %s (manifest from %v to %v)",
			fh.Get("X-Object-Meta-Lsn"), fmeta["to_lsn"], ih.Get("X-Object-Meta-Lsn"), imeta["from_lsn"], imeta["to_lsn"])
	}
	if ih.Get("X-Object-Meta-Datastore") != "mariadb" || fh.Get("X-Object-Meta-Parent-Location") != "" {
		t.Errorf("Datastore %q; the full backup's Parent-Location %q", ih.Get("X-Object-Meta-Datastore"), fh.Get("X-Object-Meta-Parent-Location"))
	}
	if im["parent"] != full || im["type"] != "incremental" || imeta["trove_parent_checksum"] != etag(fh) {
		t.Errorf("incremental's manifest: parent %v, type %v, meta %v", im["parent"], im["type"], imeta)
	}
	// Trove's restore loads the parent from its location and checks its
	// ETag against the checksum.
	if got := etag(s.getURL(ih.Get("X-Object-Meta-Parent-Location"))); got != ih.Get("X-Object-Meta-Parent-Checksum") {
		t.Errorf("GET Parent-Location: ETag %q, Parent-Checksum %q", got, ih.Get("X-Object-Meta-Parent-Checksum"))
	}

	r = run(t, nil, env, "list")
	must(t, r, "list --layout trove")
	if !strings.Contains(r.stdout, "incremental of "+full) {
		t.Errorf("list does not show the chain:\n%s", r.stdout)
	}
	r = run(t, nil, env, "list", "--json")
	must(t, r, "list --layout trove --json")
	var items []map[string]any
	json.Unmarshal([]byte(r.stdout), &items)
	found := false
	for _, it := range items {
		if it["id"] == inc {
			found = it["parent"] == full && it["type"] == "incremental" && it["engine"] == "mariabackup" && it["state"] == "complete"
		}
	}
	if !found {
		t.Errorf("list --json does not show %s as a complete incremental of %s:\n%s", inc, full, r.stdout)
	}
	r = run(t, nil, env, "verify", inc)
	must(t, r, "verify --layout trove of the incremental")
	for _, check := range []string{"ok     parent chain", "ok     object " + incObj, "ok     object " + full + "/" + fullObj} {
		if !strings.Contains(r.stdout, check) {
			t.Errorf("verify output lacks %q:\n%s", check, r.stdout)
		}
	}

	work := t.TempDir()
	target, datadir := filepath.Join(work, "prepared"), filepath.Join(work, "restored", "data")
	r = run(t, nil, env, "restore", inc, "--target-dir", target, "--copy-back", "--datadir", datadir)
	must(t, r, "restore --layout trove of the incremental")
	if !strings.Contains(r.stderr, full+" -> "+inc) {
		t.Errorf("restore log does not show the chain %s -> %s:\n%s", full, inc, r.stderr)
	}
	rs := startSandbox(t, "e2e-trove-restored", datadir)
	rdb := rs.db(t)
	sameChecksums(t, want, checksums(t, rdb, "e2e_trove"))
	if n := countRows(t, rdb, "SELECT COUNT(*) FROM e2e_trove.items WHERE name LIKE 'trove-inc-%'"); n != 2500 {
		t.Errorf("restored %d rows written after the full backup, want 2500", n)
	}
	rdb.Close()
	exec.Command(mysqlSandboxSh, "destroy", "e2e-trove-restored").Run()

	// A full backup made as Trove's mariabackup driver makes it:
	// mariabackup --backup --stream=xbstream | gzip | openssl enc (Victoria's
	// KDF), segments <id>_%08d joined by an SLO, the LSN from the tool's log.
	troveFull := troveBackup{id: "6c1e9d2a-4b7f-4e3a-9c5d-8f2a1b3c4d5e", ext: ".xbstream.gz.enc",
		md: "-md sha512 -pbkdf2 -iter 10000", kind: "slo"}
	dir := t.TempDir()
	cnf := filepath.Join(dir, "client.cnf")
	os.WriteFile(cnf, []byte(fmt.Sprintf("[client]\nuser=%s\npassword=%s\nhost=127.0.0.1\nport=%d\n", p.user, p.password(t), p.port)), 0o600)
	enc, log := filepath.Join(dir, "stream"), filepath.Join(dir, "mariabackup.log")
	pipeline := fmt.Sprintf("mariabackup --defaults-extra-file=%s --backup --stream=xbstream --target-dir=%s 2>%s | gzip | openssl enc -aes-256-cbc -salt %s -pass file:%s > %s",
		cnf, filepath.Join(dir, "tmp"), log, troveFull.md, key, enc)
	if out, err := exec.Command("bash", "-o", "pipefail", "-c", pipeline).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", pipeline, err, out)
	}
	tlog, _ := os.ReadFile(log)
	lsn := reTroveLSN.FindSubmatch(tlog)
	if lsn == nil || !strings.Contains(string(tlog), "completed OK!") {
		t.Fatalf("mariabackup log has no LSN or no completed OK!:\n%s", tlog)
	}
	troveFull.meta = map[string]string{"Lsn": string(lsn[1]), "Datastore": "mariadb", "Datastore-Version": majorMinor}
	// Three segments of this stream, whatever the server holds (Trove cuts
	// at a fixed size; a fresh server's whole backup is smaller than one).
	fi, err := os.Stat(enc)
	if err != nil {
		t.Fatal(err)
	}
	troveFull.segSize = int(fi.Size()/3 + 1)
	troveETag := s.uploadTroveBackup(t, enc, troveFull)

	execSQL(t, db, "INSERT INTO e2e_trove.items (name, price) SELECT CONCAT('after-trove-', seq), 9 FROM e2e_trove.seq_1_to_1500",
		"DELETE FROM e2e_trove.items WHERE id % 13 = 0")
	r = run(t, nil, env, append(bargs, "--incremental", "--parent", troveFull.id)...)
	must(t, r, "incremental of a full backup Trove made")
	inc2 := strings.TrimSpace(r.stdout)
	want2 := checksums(t, db, "e2e_trove")
	ih = s.head(inc2 + ".xbstream.gz.enc")
	im2 := s.troveManifest(inc2)
	if ih.Get("X-Object-Meta-Parent-Location") != s.url(troveFull.object()) || ih.Get("X-Object-Meta-Parent-Checksum") != troveETag ||
		im2["meta"].(map[string]any)["from_lsn"] != string(lsn[1]) {
		t.Errorf("incremental of the Trove backup: Parent-Location %q, Parent-Checksum %q (want %q), from_lsn %v (want %s)",
			ih.Get("X-Object-Meta-Parent-Location"), ih.Get("X-Object-Meta-Parent-Checksum"), troveETag, im2["meta"].(map[string]any)["from_lsn"], lsn[1])
	}
	r = run(t, nil, env, "verify", inc2)
	must(t, r, "verify of the incremental of a Trove backup")
	if !strings.Contains(r.stdout, "ok     parent chain") {
		t.Errorf("verify does not check the chain:\n%s", r.stdout)
	}
	datadir2 := filepath.Join(work, "restored2", "data")
	r = run(t, nil, env, "restore", inc2, "--copy-back", "--datadir", datadir2)
	must(t, r, "restore of the Trove full backup + mybak incremental")
	rs2 := startSandbox(t, "e2e-trove-mixed", datadir2)
	rdb2 := rs2.db(t)
	sameChecksums(t, want2, checksums(t, rdb2, "e2e_trove"))
	q := "SELECT COUNT(*) FROM e2e_trove.items WHERE name LIKE 'after-trove-%'"
	if n, src := countRows(t, rdb2, q), countRows(t, db, q); n != src || n == 0 {
		t.Errorf("restored %d rows written after the Trove backup, the source has %d", n, src)
	}
}
