//go:build linux

package e2e

// End-to-end tests of spooled Swift backups (--spool-dir, resume) and of
// the leftovers of killed backups, against the Swift sandbox
// (scripts/swift-sandbox.sh), with mybak killed by SIGKILL at chosen
// points. A reverse proxy in front of Swift picks the points: it sees
// every request and can kill mybak after Swift has acted on one and
// before mybak hears the answer.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// swiftProxy sits between mybak and Swift.
type swiftProxy struct {
	srv *httptest.Server
	// before runs before a storage request is forwarded; a non-zero
	// status answers it instead.
	before func(r *http.Request) int
	// after runs when Swift has answered, before mybak gets the answer.
	after func(r *http.Request, status int)
}

func newSwiftProxy(t *testing.T) *swiftProxy {
	t.Helper()
	u, err := url.Parse(os.Getenv("ST_AUTH"))
	if err != nil {
		t.Fatal(err)
	}
	target := &url.URL{Scheme: u.Scheme, Host: u.Host}
	p := &swiftProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // tempauth builds the storage URL from it
		},
		ModifyResponse: func(resp *http.Response) error {
			if p.after != nil && strings.HasPrefix(resp.Request.URL.Path, "/v1/") {
				p.after(resp.Request, resp.StatusCode)
			}
			return nil
		},
		// Requests of killed processes fail; do not log them.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.before != nil && strings.HasPrefix(r.URL.Path, "/v1/") {
			if code := p.before(r); code != 0 {
				io.Copy(io.Discard, r.Body)
				http.Error(w, "injected", code)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// env is the environment that sends mybak through the proxy.
func (p *swiftProxy) env() []string {
	u, _ := url.Parse(os.Getenv("ST_AUTH"))
	return []string{"ST_AUTH=" + p.srv.URL + u.Path}
}

// isSegmentPut reports whether r uploads a segment.
func isSegmentPut(r *http.Request, container string) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+container+"_segments/")
}

// isManifestPut reports whether r commits the data object's SLO manifest.
func isManifestPut(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Query().Get("multipart-manifest") == "put"
}

// spooledIDs returns the backups in a spool dir.
func spooledIDs(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

func pendingSaved(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*", "pending-manifest.json"))
	return len(m) > 0
}

// restoreEquals restores id and compares it with want.
func restoreEquals(t *testing.T, store, key, id string, want []byte) {
	t.Helper()
	r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
	must(t, r, "restore")
	if !bytes.Equal([]byte(r.stdout), want) {
		t.Fatalf("restored %d bytes that differ from the %d backed up", len(r.stdout), len(want))
	}
}

// TestSpoolKillAndResume kills a spooled backup (SIGKILL) at several
// points; `mybak resume` then finishes it, and it restores byte-identical.
func TestSpoolKillAndResume(t *testing.T) {
	data := randomData(8<<20 + 17) // 9 segments of 1 MiB
	key := keyFile(t, "spool pass")
	for _, tc := range []struct {
		name string
		// arm sets the proxy up to kill v.
		arm func(p *swiftProxy, v **victim, container, spool string)
		// resume is the command line that finishes the backup.
		resume []string
	}{
		{"after the stream, during the uploads", func(p *swiftProxy, v **victim, container, spool string) {
			var mu sync.Mutex
			n := 0
			p.before = func(r *http.Request) int {
				if isSegmentPut(r, container) {
					waitFor(func() bool { return pendingSaved(spool) })
				}
				return 0
			}
			p.after = func(r *http.Request, status int) {
				if !isSegmentPut(r, container) {
					return
				}
				mu.Lock()
				n++
				k := n
				mu.Unlock()
				if k == 3 {
					(*v).kill()
				}
			}
		}, []string{"resume"}},
		{"after the commit, before the manifest", func(p *swiftProxy, v **victim, container, spool string) {
			p.after = func(r *http.Request, status int) {
				if isManifestPut(r) && status/100 == 2 {
					(*v).kill()
				}
			}
		}, []string{"backup", "--resume"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			container := testContainer(t)
			store := "swift://" + container + "/pre"
			spool := t.TempDir()
			p := newSwiftProxy(t)
			var v *victim
			tc.arm(p, &v, container, spool)
			start := time.Now()
			v = startMybak(t, bytes.NewReader(data), p.env(), "backup", "--storage", store, "--encrypt-key-file", key,
				"--segment-size", "1M", "--spool-dir", spool)
			v.wait(t, 60*time.Second)
			if !v.killed {
				t.Fatalf("mybak was not killed (exit %v)\nstderr: %s", v.cmd.ProcessState, v.stderr.String())
			}
			t.Logf("killed after %v", time.Since(start).Round(time.Millisecond))
			ids := spooledIDs(spool)
			if len(ids) != 1 {
				t.Fatalf("spool dir holds %v", ids)
			}
			id := ids[0]
			r := run(t, nil, nil, "list", "--storage", store)
			must(t, r, "list")
			if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "incomplete") {
				t.Errorf("list after the kill does not show %s incomplete:\n%s", id, r.stdout)
			}
			args := append(append([]string{}, tc.resume...), id, "--storage", store, "--spool-dir", spool, "--encrypt-key-file", key)
			start = time.Now()
			r = run(t, nil, nil, args...)
			must(t, r, strings.Join(tc.resume, " "))
			t.Logf("%s in %v: %s", strings.Join(tc.resume, " "), time.Since(start).Round(time.Millisecond), lastLine(r.stderr))
			if strings.TrimSpace(r.stdout) != id {
				t.Errorf("resume printed %q, want the ID", r.stdout)
			}
			if !strings.Contains(r.stderr, "already_stored=") || strings.Contains(r.stderr, "already_stored=0 ") {
				t.Errorf("resume did not skip the parts already stored: %s", r.stderr)
			}
			restoreEquals(t, store, key, id, data)
			if ids := spooledIDs(spool); len(ids) != 0 {
				t.Errorf("spool files left after the resume: %v", ids)
			}
			r = run(t, nil, nil, "verify", "--deep", "--storage", store, "--encrypt-key-file", key, id)
			must(t, r, "verify --deep")
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestSpoolKilledDuringStream: killed while the engine was still writing,
// the backup cannot be resumed: resume says so and offers --discard,
// which removes the spool files, the uploaded segments and the marker.
func TestSpoolKilledDuringStream(t *testing.T) {
	container := testContainer(t)
	store := "swift://" + container
	spool := t.TempDir()
	// An OS pipe: mybak reads it directly, and killing mybak does not
	// wait for the input to end.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	v := startMybak(t, pr, nil, "backup", "--storage", store, "--no-encrypt", "--compress", "none",
		"--segment-size", "1M", "--spool-dir", spool)
	go pw.Write(randomData(3<<20 + 5)) // the input does not end
	if !waitFor(func() bool {
		m, _ := filepath.Glob(filepath.Join(spool, "*", "part-00000002"))
		return len(m) == 1 && len(segments(t, container, "/00000000")) > 0
	}) {
		t.Fatalf("the spool never got 3 parts\nstderr: %s", v.stderr.String())
	}
	v.kill()
	ids := spooledIDs(spool)
	if len(ids) != 1 {
		t.Fatalf("spool dir holds %v", ids)
	}
	id := ids[0]
	r := run(t, nil, nil, "resume", id, "--storage", store, "--spool-dir", spool)
	if r.code != 1 || !strings.Contains(r.stderr, "cannot be resumed") || !strings.Contains(r.stderr, "--discard") {
		t.Fatalf("resume of a cut stream: exit %d\n%s", r.code, r.stderr)
	}
	t.Logf("resume of a cut stream says: %s", lastLine(r.stderr))
	if len(segments(t, container, id)) == 0 {
		t.Fatal("no uploaded segments to discard: the test did not test it")
	}
	r = run(t, nil, nil, "resume", id, "--discard", "--storage", store, "--spool-dir", spool)
	must(t, r, "resume --discard")
	if s := segments(t, container, id); len(s) != 0 {
		t.Errorf("segments left after --discard: %v", s)
	}
	if ids := spooledIDs(spool); len(ids) != 0 {
		t.Errorf("spool files left after --discard: %v", ids)
	}
	r = run(t, nil, nil, "list", "--storage", store)
	if strings.Contains(r.stdout, id) {
		t.Errorf("list still shows %s after --discard:\n%s", id, r.stdout)
	}
}

// TestSpoolNetworkDown: every segment upload fails past the retries; the
// backup fails and says how to finish it; resume then succeeds.
func TestSpoolNetworkDown(t *testing.T) {
	container := testContainer(t)
	store := "swift://" + container
	spool := t.TempDir()
	key := keyFile(t, "down")
	data := randomData(5<<20 + 3)
	p := newSwiftProxy(t)
	p.before = func(r *http.Request) int {
		if isSegmentPut(r, container) {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	start := time.Now()
	r := run(t, bytes.NewReader(data), p.env(), "backup", "--storage", store, "--encrypt-key-file", key,
		"--segment-size", "1M", "--spool-dir", spool, "--max-retries", "2")
	t.Logf("failed backup took %v", time.Since(start).Round(time.Millisecond))
	if r.code != 1 {
		t.Fatalf("backup with the network down: exit %d\n%s", r.code, r.stderr)
	}
	ids := spooledIDs(spool)
	if len(ids) != 1 {
		t.Fatalf("spool dir holds %v", ids)
	}
	id := ids[0]
	want := fmt.Sprintf("mybak resume %s --spool-dir %s --storage %s", id, spool, store)
	t.Logf("the failed backup says: %s", lastLine(r.stderr))
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "503") {
		t.Fatalf("the error does not say what failed and %q:\n%s", want, r.stderr)
	}
	// The manifest of an encrypted backup is authenticated with its key:
	// resume needs it, and refuses another one.
	r = run(t, nil, nil, "resume", id, "--storage", store, "--spool-dir", spool)
	if r.code != 1 || !strings.Contains(r.stderr, "give the key it was taken with") {
		t.Fatalf("resume without the key: exit %d\n%s", r.code, r.stderr)
	}
	r = run(t, nil, nil, "resume", id, "--storage", store, "--spool-dir", spool, "--encrypt-key-file", keyFile(t, "another"))
	if r.code != 1 || !strings.Contains(r.stderr, "does not authenticate with the key given") {
		t.Fatalf("resume with another key: exit %d\n%s", r.code, r.stderr)
	}
	r = run(t, nil, nil, "resume", id, "--storage", store, "--spool-dir", spool, "--encrypt-key-file", key)
	must(t, r, "resume")
	restoreEquals(t, store, key, id, data)
	r = run(t, nil, nil, "verify", "--storage", store, "--encrypt-key-file", key, id)
	if r.code != 0 || !strings.Contains(r.stdout, "authentication: authenticated") {
		t.Errorf("verify after resume: exit %d\n%s", r.code, r.stdout)
	}
}

// TestKilledUploadWithoutSpool: a backup killed in the middle of its
// upload leaves segments and its marker; list shows it incomplete, and
// prune removes the marker and the segments.
func TestKilledUploadWithoutSpool(t *testing.T) {
	container := testContainer(t)
	store := "swift://" + container
	p := newSwiftProxy(t)
	var v *victim
	var mu sync.Mutex
	n := 0
	p.after = func(r *http.Request, status int) {
		if isSegmentPut(r, container) {
			mu.Lock()
			n++
			k := n
			mu.Unlock()
			if k == 3 {
				v.kill()
			}
		}
	}
	v = startMybak(t, bytes.NewReader(randomData(8<<20)), p.env(), "backup", "--storage", store, "--no-encrypt",
		"--segment-size", "1M")
	v.wait(t, 60*time.Second)
	if !v.killed {
		t.Fatalf("not killed\n%s", v.stderr.String())
	}
	r := run(t, nil, nil, "list", "--storage", store, "--json")
	must(t, r, "list")
	if !strings.Contains(r.stdout, `"state": "incomplete"`) {
		t.Fatalf("list does not show the killed backup incomplete:\n%s", r.stdout)
	}
	if len(segments(t, container, "/")) < 3 {
		t.Fatal("the killed backup left no segments: the test did not test it")
	}
	r = run(t, nil, nil, "prune", "--storage", store, "--keep", "1", "--grace", "0s")
	must(t, r, "prune")
	if s := segments(t, container, "/"); len(s) != 0 {
		t.Errorf("prune left %d segments: %v", len(s), s)
	}
	names, _ := swiftConn(t).ObjectNamesAll(context.Background(), container, nil)
	if len(names) != 0 {
		t.Errorf("prune left objects: %v", names)
	}
}

// TestSpoolFreeSpace runs out of room in a small tmpfs: with a known input
// size the backup fails before it starts; with a pipe it fails at the
// segment that does not fit, and leaves nothing behind.
func TestSpoolFreeSpace(t *testing.T) {
	container := testContainer(t)
	store := "swift://" + container
	spool := testenv.Tmpfs(t, "72m")
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, randomData(20<<20), 0o600)
	f, _ := os.Open(in)
	defer f.Close()
	r := run(t, f, nil, "backup", "--storage", store, "--no-encrypt", "--segment-size", "1M", "--spool-dir", spool)
	if r.code != 1 || !regexpMatch(`spool dir \S+ has \d+\.\d MiB free, the backup needs about 20\.0 MiB`, r.stderr) {
		t.Fatalf("backup into a small spool: exit %d\n%s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(in)
	r = run(t, bytes.NewReader(data), nil, "backup", "--storage", store, "--no-encrypt", "--compress", "none", "--segment-size", "1M", "--spool-dir", spool)
	if r.code != 1 || !strings.Contains(r.stderr, "the next segment needs 1.0 MiB") {
		t.Fatalf("backup that fills the spool: exit %d\n%s", r.code, r.stderr)
	}
	if ids := spooledIDs(spool); len(ids) != 0 {
		t.Errorf("a failed spooled backup left spool files: %v", ids)
	}
	if s := segments(t, container, "/"); len(s) != 0 {
		t.Errorf("a failed spooled backup left segments: %v", s)
	}
	r = run(t, nil, nil, "list", "--storage", store)
	must(t, r, "list")
	if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Errorf("failed backups left entries:\n%s", r.stdout)
	}
}

// TestSpoolDirLocalStore: a local store does not need a spool.
func TestSpoolDirLocalStore(t *testing.T) {
	r := run(t, strings.NewReader("x"), nil, "backup", "--storage", t.TempDir(), "--no-encrypt", "--spool-dir", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "--spool-dir works with swift:// stores only") {
		t.Errorf("local store with --spool-dir: exit %d\n%s", r.code, r.stderr)
	}
}

func regexpMatch(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}
