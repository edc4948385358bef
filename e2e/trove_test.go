//go:build linux

package e2e

// End-to-end tests of --layout trove against the Swift sandbox: backups
// made exactly as OpenStack Trove made them (shell pipelines, segments
// <id>_%08d uploaded with the swift CLI, SLO and DLO manifests PUT over
// HTTP, metadata headers) are listed, verified and restored by mybak; and
// backups mybak writes in Trove's layout are read back by swift download |
// openssl enc -d | gzip -d.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"

	"github.com/mybak/mybak/xbstream"
)

// troveSwift talks to the sandbox the way Trove's code and an operator do.
type troveSwift struct {
	t          *testing.T
	container  string
	storageURL string
	token      string
}

func newTroveSwift(t *testing.T) *troveSwift {
	t.Helper()
	return newTroveSwiftIn(t, uniqueName("database_backups"))
}

// newTroveSwiftIn creates container (removed, with what it holds, when
// the test ends).
func newTroveSwiftIn(t *testing.T, container string) *troveSwift {
	t.Helper()
	testenv.NeedSwift(t)
	for _, tool := range []string{"swift", "openssl", "gzip", "split"} {
		testenv.NeedTool(t, tool)
	}
	req, _ := http.NewRequest("GET", os.Getenv("ST_AUTH"), nil)
	req.Header.Set("X-Auth-User", os.Getenv("ST_USER"))
	req.Header.Set("X-Auth-Key", os.Getenv("ST_KEY"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := &troveSwift{t: t, container: container,
		storageURL: resp.Header.Get("X-Storage-Url"), token: resp.Header.Get("X-Auth-Token")}
	if s.token == "" {
		t.Fatalf("auth at %s: %s", os.Getenv("ST_AUTH"), resp.Status)
	}
	s.http("PUT", "", nil, nil)
	t.Cleanup(func() {
		exec.Command("swift", s.authArgs("delete", s.container)...).Run()
		exec.Command("swift", s.authArgs("delete", s.container+"_segments")...).Run()
	})
	// The test's own container: nothing in it but what the test puts.
	if l := strings.TrimSpace(s.swift("list", s.container)); l != "" {
		t.Fatalf("the new container %s is not empty:\n%s", s.container, l)
	}
	return s
}

func (s *troveSwift) authArgs(args ...string) []string {
	return append([]string{"--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY")}, args...)
}

// swift runs the swift CLI and returns its standard output.
func (s *troveSwift) swift(args ...string) string {
	s.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command("swift", s.authArgs(args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("swift %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// url is the object's URL, as Trove records it in Parent-Location.
func (s *troveSwift) url(obj string) string { return s.storageURL + "/" + s.container + "/" + obj }

// http sends a raw request to the container (obj "") or an object.
func (s *troveSwift) http(method, obj string, body []byte, hdr map[string]string) http.Header {
	s.t.Helper()
	u := s.storageURL + "/" + s.container
	if obj != "" {
		u += "/" + obj
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("X-Auth-Token", s.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("%s %s: %s", method, u, resp.Status)
	}
	return resp.Header
}

func sh(t *testing.T, script string) {
	t.Helper()
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// troveBackup describes one backup to make as Trove did.
type troveBackup struct {
	id, ext string // ext ".xbstream.gz.enc" or ".gz.enc"
	md      string // openssl enc options selecting the KDF
	kind    string // "slo", "dlo" or "single"
	meta    map[string]string
	segSize int // bytes per segment; 0: 1 MiB
}

func (b troveBackup) object() string { return b.id + b.ext }

// makeTroveBackup encrypts orig exactly as Trove's pipeline did, cuts it
// into 1 MiB segments <id>_%08d, uploads them with the swift CLI and joins
// them with a manifest. It returns the ETag of the result.
func (s *troveSwift) makeTroveBackup(t *testing.T, orig, key string, b troveBackup) string {
	t.Helper()
	dir := t.TempDir()
	enc := filepath.Join(dir, "stream")
	sh(t, fmt.Sprintf("gzip -c %s | openssl enc -aes-256-cbc -salt %s -pass file:%s > %s", orig, b.md, key, enc))
	return s.uploadTroveBackup(t, enc, b)
}

// uploadTroveBackup stores enc, an encoded stream in a directory of its
// own, as Trove's swift storage did: cut into segments <id>_%08d uploaded
// with the swift CLI and joined with a manifest, or copied to the
// object's name when b.kind is "single". It returns the ETag of the result.
func (s *troveSwift) uploadTroveBackup(t *testing.T, enc string, b troveBackup) string {
	t.Helper()
	dir := filepath.Dir(enc)
	segSize := b.segSize
	if segSize == 0 {
		segSize = 1 << 20
	}
	hdr := map[string]string{}
	for k, v := range b.meta {
		hdr["X-Object-Meta-"+k] = v
	}
	if b.kind == "single" {
		// Trove copies a lone segment to the object's name.
		s.swift("upload", s.container, enc, "--object-name", b.object())
		if len(hdr) > 0 {
			s.http("POST", b.object(), nil, hdr)
		}
		return strings.Trim(s.http("HEAD", b.object(), nil, nil).Get("Etag"), `"`)
	}
	sh(t, fmt.Sprintf("cd %s && split -b %d -d -a 8 %s %s_", dir, segSize, filepath.Base(enc), b.id))
	segs, _ := filepath.Glob(filepath.Join(dir, b.id+"_*"))
	sort.Strings(segs)
	if len(segs) < 2 {
		t.Fatalf("%d segments: the test wants a multi-segment backup", len(segs))
	}
	type entry struct {
		Path string `json:"path"`
		Etag string `json:"etag"`
		Size int64  `json:"size_bytes"`
	}
	var manifest []entry
	for _, p := range segs {
		name := filepath.Base(p)
		s.swift("upload", s.container, p, "--object-name", name)
		fi, _ := os.Stat(p)
		etag := strings.Trim(s.http("HEAD", name, nil, nil).Get("Etag"), `"`)
		manifest = append(manifest, entry{Path: s.container + "/" + name, Etag: etag, Size: fi.Size()})
	}
	switch b.kind {
	case "slo":
		body, _ := json.Marshal(manifest)
		s.http("PUT", b.object()+"?multipart-manifest=put", body, hdr)
	case "dlo":
		hdr["X-Object-Manifest"] = s.container + "/" + b.id + "_"
		s.http("PUT", b.object(), nil, hdr)
	}
	return strings.Trim(s.http("HEAD", b.object(), nil, nil).Get("Etag"), `"`)
}

func TestTroveRestoreVerifyList(t *testing.T) {
	s := newTroveSwift(t)
	// Trove's physical backups hold an xbstream, its logical ones a dump:
	// verify --deep checks both, so the test data must be what they claim.
	data := troveXbstream(t, 3<<20+4321)
	orig := filepath.Join(t.TempDir(), "orig")
	os.WriteFile(orig, data, 0o600)
	dump := troveDump(3<<20 + 17)
	origDump := filepath.Join(t.TempDir(), "dump")
	os.WriteFile(origDump, dump, 0o600)
	key := keyFile(t, "the user's own key")
	env := append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container, "MYBAK_LAYOUT=trove", "MYBAK_ENCRYPT_KEY_FILE="+key)

	full := troveBackup{id: "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90", ext: ".xbstream.gz.enc", md: "-md md5", kind: "slo",
		meta: map[string]string{"Lsn": "1626101", "Datastore": "mysql", "Datastore-Version": "5.7.29"}}
	fullETag := s.makeTroveBackup(t, orig, key, full)
	incr := troveBackup{id: "7d0e8a2c-5b4f-4c6e-8a1d-3f9b2e7c6d50", ext: ".xbstream.gz.enc", md: "-md sha256", kind: "slo",
		meta: map[string]string{"Lsn": "1700000", "Parent-Location": s.url(full.object()), "Parent-Checksum": fullETag,
			"Datastore": "mysql", "Datastore-Version": "5.7.29"}}
	s.makeTroveBackup(t, orig, key, incr)
	// Before 2015: a DLO, and no metadata on multi-segment backups.
	dlo := troveBackup{id: "1a2b3c4d-0000-4000-8000-00000000d10a", ext: ".gz.enc", md: "-md sha512 -pbkdf2 -iter 10000", kind: "dlo"}
	s.makeTroveBackup(t, origDump, key, dlo)
	smallDump := troveDump(100000)
	small := filepath.Join(t.TempDir(), "small")
	os.WriteFile(small, smallDump, 0o600)
	single := troveBackup{id: "5e6f7a8b-1111-4222-8333-444455556666", ext: ".gz.enc", md: "-md md5", kind: "single",
		meta: map[string]string{"Datastore": "mysql"}}
	s.makeTroveBackup(t, small, key, single)

	want := map[string][]byte{full.id: data, incr.id: data, dlo.id: dump, single.id: smallDump}
	for _, b := range []troveBackup{full, incr, dlo, single} {
		t.Run("restore "+b.kind+" "+b.md, func(t *testing.T) {
			r := run(t, nil, env, "restore", "--storage", "swift://"+s.container, b.id, "--to-stdout")
			must(t, r, "restore --layout trove")
			if !bytes.Equal([]byte(r.stdout), want[b.id]) {
				t.Fatalf("restored %d bytes, want the original %d", len(r.stdout), len(want[b.id]))
			}
			r = run(t, nil, env, "verify", b.id)
			must(t, r, "verify --layout trove")
			for _, check := range []string{"ok     manifest", "ok     object " + b.object()} {
				if !strings.Contains(r.stdout, check) {
					t.Errorf("verify output lacks %q:\n%s", check, r.stdout)
				}
			}
			must(t, run(t, nil, env, "verify", "--deep", b.id), "verify --deep --layout trove")
		})
	}
	r := run(t, nil, env, "verify", incr.id)
	if !strings.Contains(r.stdout, "ok     parent chain") {
		t.Errorf("verify of the incremental does not check its chain:\n%s", r.stdout)
	}

	// list shows the four, with the incremental's parent.
	r = run(t, nil, env, "list", "--json")
	must(t, r, "list --layout trove --json")
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	got := map[string]map[string]any{}
	for _, it := range items {
		got[it["id"].(string)] = it
	}
	for id, wantType := range map[string]string{full.id: "full", incr.id: "incremental", dlo.id: "full", single.id: "full"} {
		it := got[id]
		if it == nil || it["state"] != "complete" || it["type"] != wantType || it["encrypted"] != true || it["compression"] != "gzip" {
			t.Errorf("list item %s = %v, want a complete %s backup", id, it, wantType)
		}
	}
	if len(items) != 4 || got[incr.id]["parent"] != full.id || got[full.id]["engine"] != "xtrabackup" || got[dlo.id]["engine"] != "mysqldump" {
		t.Errorf("list --json = %s", r.stdout)
	}
	r = run(t, nil, env, "list")
	must(t, r, "list --layout trove")
	if !strings.Contains(r.stdout, "incremental of "+full.id) {
		t.Errorf("list table:\n%s", r.stdout)
	}
	r = run(t, nil, env, "restore", "latest", "--to-stdout")
	must(t, r, "restore latest")

	// The key is the user's: Trove's default key is not assumed.
	r = run(t, nil, append(env, "MYBAK_ENCRYPT_KEY_FILE="+keyFile(t, "default_aes_cbc_key")), "restore", full.id, "--to-stdout")
	if r.code != 1 || !strings.Contains(r.stderr, "wrong encryption key") || r.stdout != "" {
		t.Errorf("restore with another key: exit %d, %d bytes out, stderr %q", r.code, len(r.stdout), r.stderr)
	}

	// A segment of the SLO replaced by damaged bytes: verify names it.
	seg := incr.id + "_00000001"
	bad := filepath.Join(t.TempDir(), seg)
	sh(t, fmt.Sprintf("cd %s && swift %s download %s %s -o %s", filepath.Dir(bad), strings.Join(s.authArgs(), " "), s.container, seg, bad))
	b, _ := os.ReadFile(bad)
	b[len(b)/2] ^= 0x20
	os.WriteFile(bad, b, 0o600)
	s.swift("upload", s.container, bad, "--object-name", seg)
	r = run(t, nil, env, "verify", incr.id)
	if r.code != 3 || !strings.Contains(r.stdout, seg) {
		t.Fatalf("verify of a damaged segment: exit %d, stdout %q, stderr %q; want 3 naming %s", r.code, r.stdout, r.stderr, seg)
	}
	r = run(t, nil, env, "restore", incr.id, "--to-stdout")
	if r.code == 0 || !strings.Contains(r.stderr, seg) {
		t.Errorf("restore of a damaged segment: exit %d, stderr %q", r.code, r.stderr)
	}
	// The full backup is still intact.
	must(t, run(t, nil, env, "verify", full.id), "verify of the untouched parent")

	// A DLO records no checksums of its own: a replaced segment is found
	// by decoding (--deep).
	seg = dlo.id + "_00000002"
	sh(t, fmt.Sprintf("cd %s && swift %s download %s %s -o %s", filepath.Dir(bad), strings.Join(s.authArgs(), " "), s.container, seg, bad))
	b, _ = os.ReadFile(bad)
	b[len(b)/2] ^= 0x20
	os.WriteFile(bad, b, 0o600)
	s.swift("upload", s.container, bad, "--object-name", seg)
	r = run(t, nil, env, "verify", "--deep", dlo.id)
	if r.code != 3 {
		t.Errorf("verify --deep of a damaged DLO: exit %d, stdout %q, stderr %q; want 3", r.code, r.stdout, r.stderr)
	}

	// Usage: a Trove ID is not a mybak ID, and the layout needs Swift.
	if r := run(t, nil, append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container), "restore", full.id, "--to-stdout"); r.code != 2 {
		t.Errorf("restore of a Trove ID without --layout trove: exit %d %q", r.code, r.stderr)
	}
	if r := run(t, nil, nil, "list", "--layout", "trove", "--storage", t.TempDir()); r.code != 2 || !strings.Contains(r.stderr, "Swift") {
		t.Errorf("list --layout trove of a directory: exit %d %q", r.code, r.stderr)
	}
	if r := run(t, nil, env, "restore", "no-such-backup", "--to-stdout"); r.code != 1 || !strings.Contains(r.stderr, "no backup ") {
		t.Errorf("restore of an unknown Trove ID: exit %d %q", r.code, r.stderr)
	}
}

// troveData returns n bytes that gzip cannot shrink much, so that the
// stored stream spans several 1 MiB segments: a corpus with random bytes.
func troveData(n int) []byte {
	b := corpus(n)
	rand.Read(b[len(b)/4:])
	return b
}

// troveXbstream returns an xbstream of about n bytes (one file of
// troveData), as xtrabackup --stream=xbstream would write it.
func troveXbstream(t *testing.T, n int) []byte {
	var b bytes.Buffer
	if _, err := xbstream.NewWriter(&b).WriteFile("ibdata1", bytes.NewReader(troveData(n))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// troveDump returns about n bytes shaped like a mysqldump: a header, rows
// and the trailer a complete dump ends with.
func troveDump(n int) []byte {
	b := []byte("-- MySQL dump 10.13  Distrib 5.7.29, for Linux (x86_64)\n")
	b = append(b, troveData(n)...)
	return append(b, "\n-- Dump completed on 2020-05-01 10:00:00\n"...)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)

func TestTroveBackupReadByOpenSSL(t *testing.T) {
	s := newTroveSwift(t)
	data := troveData(4<<20 + 99)
	key := keyFile(t, "trove writer key")
	outDir := t.TempDir() // subtests' names hold parentheses: no TempDir of theirs in sh
	env := append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container, "MYBAK_ENCRYPT_KEY_FILE="+key)
	for _, tc := range []struct {
		name    string
		flags   []string
		openssl string
		size    int
	}{
		{"default pbkdf2-sha512 (Victoria)", nil, "-md sha512 -pbkdf2 -iter 10000", len(data)},
		{"md5 (OpenSSL before 1.1.0)", []string{"--encrypt-kdf", "md5"}, "-md md5", len(data)},
		{"sha256 (OpenSSL 1.1.0+)", []string{"--encrypt-kdf", "sha256"}, "-md sha256", len(data)},
		{"single segment", []string{"--encrypt-kdf", "md5"}, "-md md5", 50000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"backup", "--layout", "trove", "--segment-size", "1M", "--name", tc.name}, tc.flags...)
			r := run(t, bytes.NewReader(data[:tc.size]), env, args...)
			must(t, r, "backup --layout trove")
			if !uuidRE.MatchString(r.stdout) {
				t.Fatalf("backup printed %q, want a UUID", r.stdout)
			}
			id := strings.TrimSpace(r.stdout)
			obj := id + ".gz.enc"

			// Trove's restore path: swift download | openssl enc -d | gzip -d.
			out := filepath.Join(outDir, id)
			sh(t, fmt.Sprintf("swift %s download %s %s -o - | openssl enc -d -aes-256-cbc %s -pass file:%s | gzip -d > %s",
				strings.Join(s.authArgs(), " "), s.container, obj, tc.openssl, key, out))
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, data[:tc.size]) {
				t.Fatalf("swift download | openssl | gzip -d gave %d bytes, want the original %d", len(got), tc.size)
			}

			// Laid out as Trove lays it out.
			listing := strings.Fields(s.swift("list", s.container, "--prefix", id))
			stat := s.swift("stat", s.container, obj)
			if tc.size > 1<<20 {
				var segs []string
				for _, n := range listing {
					if strings.HasPrefix(n, id+"_") {
						segs = append(segs, n)
					}
				}
				if len(segs) < 2 || segs[0] != id+"_00000000" || segs[1] != id+"_00000001" {
					t.Errorf("segments in %s: %v, want %s_00000000, ...", s.container, listing, id)
				}
				if !strings.Contains(stat, "Manifest") && !strings.Contains(strings.ToLower(stat), "static-large-object") {
					t.Errorf("%s is not a Static Large Object:\n%s", obj, stat)
				}
				if out := s.swift("list", s.container+"_segments"); strings.Contains(out, id) {
					t.Errorf("segments went to the _segments container: %s", out)
				}
			} else if len(listing) != 2 { // the object and mybak's manifest beside it
				t.Errorf("a one-segment backup left %v", listing)
			}

			// And mybak reads it back, with its own manifest's hashes.
			r = run(t, nil, env, "restore", "--layout", "trove", id, "--to-stdout")
			must(t, r, "restore --layout trove")
			if r.stdout != string(data[:tc.size]) {
				t.Fatal("mybak restore of its own Trove backup: wrong bytes")
			}
			must(t, run(t, nil, env, "verify", "--layout", "trove", "--deep", id), "verify --deep")
			r = run(t, nil, env, "list", "--layout", "trove", "--json")
			must(t, r, "list")
			if !strings.Contains(r.stdout, tc.name) {
				t.Errorf("list does not show the label of %s (mybak's manifest beside it):\n%s", id, r.stdout)
			}
		})
	}
	r := run(t, strings.NewReader("x"), env, "backup", "--layout", "trove", "--compress", "zstd")
	if r.code != 2 || !strings.Contains(r.stderr, "gzip") {
		t.Errorf("backup --layout trove --compress zstd: exit %d %q", r.code, r.stderr)
	}
	r = run(t, strings.NewReader("x"), env, "backup", "--layout", "trove", "--spool-dir", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "--spool-dir") {
		t.Errorf("backup --layout trove --spool-dir: exit %d %q", r.code, r.stderr)
	}
}
