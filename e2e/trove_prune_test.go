//go:build linux

package e2e

// End-to-end tests of delete and prune with --layout trove against the
// Swift sandbox: backups mybak wrote in Trove's layout and backups made
// exactly as Trove made them (SLO, DLO, single objects, incrementals with
// Parent-Location), and the leftovers of an upload killed with SIGKILL.

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

// names lists the container's objects.
func (s *troveSwift) names() []string {
	s.t.Helper()
	return strings.Fields(s.swift("list", s.container))
}

// without returns the names that do not start with any of ids.
func without(names []string, ids ...string) []string {
	var out []string
	for _, n := range names {
		if !slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(n, id) }) {
			out = append(out, n)
		}
	}
	return out
}

// of returns the names that start with id.
func of(names []string, id string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, id) {
			out = append(out, n)
		}
	}
	return out
}

// troveFile writes data to a file of its own directory.
func troveFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "orig")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTroveDelete(t *testing.T) {
	s := newTroveSwift(t)
	key := keyFile(t, "the user's own key")
	base := append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container, "MYBAK_ENCRYPT_KEY_FILE="+key)
	env := append(base, "MYBAK_LAYOUT=trove")

	// mybak's: one over several segments (a Static Large Object), one small.
	r := run(t, bytes.NewReader(troveData(3<<20+77)), env, "backup", "--segment-size", "1M")
	must(t, r, "backup --layout trove")
	big := strings.TrimSpace(r.stdout)
	r = run(t, strings.NewReader("a small backup\n"), env, "backup")
	must(t, r, "backup --layout trove")
	small := strings.TrimSpace(r.stdout)
	// Trove's: a DLO (before 2015), and an SLO full backup with an incremental.
	dlo := troveBackup{id: "1a2b3c4d-0000-4000-8000-00000000d10a", ext: ".gz.enc", md: "-md md5", kind: "dlo"}
	s.makeTroveBackup(t, troveFile(t, troveDump(3<<20)), key, dlo)
	orig := troveFile(t, troveXbstream(t, 2<<20+99))
	full := troveBackup{id: "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90", ext: ".xbstream.gz.enc", md: "-md sha256", kind: "slo",
		meta: map[string]string{"Lsn": "1626101", "Datastore": "mysql", "Datastore-Version": "5.7.29"}}
	fullETag := s.makeTroveBackup(t, orig, key, full)
	incr := troveBackup{id: "7d0e8a2c-5b4f-4c6e-8a1d-3f9b2e7c6d50", ext: ".xbstream.gz.enc", md: "-md sha256", kind: "slo",
		meta: map[string]string{"Lsn": "1700000", "Parent-Location": s.url(full.object()), "Parent-Checksum": fullETag,
			"Datastore": "mysql", "Datastore-Version": "5.7.29"}}
	s.makeTroveBackup(t, orig, key, incr)

	before := s.names()
	if n := len(of(before, big+"_")); n < 3 {
		t.Fatalf("mybak's backup %s has %d segments, the test wants several: %v", big, n, before)
	}
	for _, id := range []string{big, small} {
		if !slices.Contains(before, id+".mybak.json") {
			t.Fatalf("no mybak manifest beside %s: %v", id, before)
		}
	}

	t.Run("mybak's SLO backup", func(t *testing.T) {
		r := run(t, nil, env, "delete", big) // MYBAK_LAYOUT=trove
		must(t, r, "delete (MYBAK_LAYOUT=trove)")
		if !strings.Contains(r.stderr, "id="+big) || !strings.Contains(r.stderr, "made_by=mybak") {
			t.Errorf("delete does not log what it deleted: %s", r.stderr)
		}
		after := s.names()
		if left := of(after, big); len(left) > 0 {
			t.Errorf("delete left %v", left)
		}
		if got, want := after, without(before, big); !slices.Equal(got, want) {
			t.Errorf("delete touched other backups: %v, want %v", got, want)
		}
		must(t, run(t, nil, env, "verify", small), "verify of the other mybak backup")
		must(t, run(t, nil, env, "verify", incr.id), "verify of Trove's chain")
		r = run(t, nil, env, "restore", big, "--to-stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "no backup ") {
			t.Errorf("restore of a deleted backup: exit %d %q", r.code, r.stderr)
		}
	})

	t.Run("Trove's DLO backup", func(t *testing.T) {
		if len(of(s.names(), dlo.id+"_")) < 3 {
			t.Fatal("the DLO has fewer than 3 segments")
		}
		r := run(t, nil, base, "rm", "--layout", "trove", dlo.id) // the flag, and the alias
		must(t, r, "delete --layout trove")
		if !strings.Contains(r.stderr, "made by Trove") || !strings.Contains(r.stderr, "made_by=trove") {
			t.Errorf("delete of a backup Trove made does not say so: %s", r.stderr)
		}
		if left := of(s.names(), dlo.id); len(left) > 0 {
			t.Errorf("delete of the DLO left %v", left)
		}
	})

	t.Run("a parent", func(t *testing.T) {
		was := s.names()
		r := run(t, nil, env, "delete", full.id)
		if r.code != 1 || !strings.Contains(r.stderr, incr.id) || !strings.Contains(r.stderr, "--cascade") {
			t.Errorf("delete of a parent without --cascade: exit %d %q", r.code, r.stderr)
		}
		if got := s.names(); !slices.Equal(got, was) {
			t.Fatalf("a refused delete changed the container: %v -> %v", was, got)
		}
		r = run(t, nil, env, "delete", "--cascade", full.id)
		must(t, r, "delete --cascade")
		t.Logf("delete --cascade:\n%s", r.stderr)
		ic, fc := strings.Index(r.stderr, "id="+incr.id), strings.Index(r.stderr, "id="+full.id)
		if ic < 0 || fc < 0 || ic > fc {
			t.Errorf("delete --cascade did not delete the incremental, then the full backup: %s", r.stderr)
		}
		if got, want := s.names(), without(was, full.id, incr.id); !slices.Equal(got, want) {
			t.Errorf("after delete --cascade: %v, want %v", got, want)
		}
		must(t, run(t, nil, env, "verify", small), "verify of the backup left")
	})

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"an unknown ID", env, []string{"delete", "5e6f7a8b-1111-4222-8333-444455556666"}, 1, "no backup "},
		{"a Trove ID without the layout", base, []string{"delete", small}, 2, "not a backup ID"},
		{"latest and an unknown ID: nothing deleted", env, []string{"delete", "latest", "5e6f7a8b-1111-4222-8333-444455556666"}, 1, "nothing deleted"},
		{"a directory", []string{"MYBAK_LAYOUT=trove"}, []string{"delete", "--storage", t.TempDir(), small}, 2, "Swift"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("%v: exit %d %q, want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
			}
		})
	}
	if got := s.names(); !slices.Equal(got, of(before, small)) {
		t.Errorf("the container holds %v, want only %s's objects", got, small)
	}
}

// segRE matches a segment name and captures the backup's ID.
var segRE = regexp.MustCompile(`^(.+)_[0-9]{8}$`)

// killedUpload starts `mybak backup --layout trove` on a stream that never
// ends, waits until Swift holds two of its segments and kills it with
// SIGKILL, as the OOM killer or a reboot would: the segments stay, with no
// data object. It returns the backup's ID.
func killedUpload(t *testing.T, s *troveSwift, env []string) string {
	t.Helper()
	before := s.names()
	cmd := exec.Command(mybakBin, "backup", "--segment-size", "1M")
	cmd.Env = append(cleanEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	go in.Write(troveData(8 << 20)) // and stays open: the backup never ends
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var id string
		n := 0
		for _, name := range without(s.names(), before...) {
			if m := segRE.FindStringSubmatch(name); m != nil {
				id = m[1]
				n++
			}
		}
		if n >= 2 {
			cmd.Process.Kill()
			cmd.Wait()
			// Its segments, and the marker that said who was writing it.
			if left := of(s.names(), id); len(left) != len(of(left, id+"_"))+1 || !slices.Contains(left, id+".mybak.started.json") {
				t.Fatalf("the killed upload left %v, want segments and its marker only", left)
			}
			return id
		}
	}
	t.Fatalf("no two segments of the backup in Swift after 60s; mybak said: %s", stderr.String())
	return ""
}

func TestTrovePrune(t *testing.T) {
	s := newTroveSwift(t)
	key := keyFile(t, "the user's own key")
	env := append(swiftEnv(), "MYBAK_STORAGE=swift://"+s.container, "MYBAK_ENCRYPT_KEY_FILE="+key, "MYBAK_LAYOUT=trove")
	const grace = 12 * time.Second // the young leftover must stay younger through two runs of mybak on a busy machine

	killed := killedUpload(t, s, env)
	// A backup whose headers name no parent mybak can find: damaged, and
	// never removed unless named.
	damaged := troveBackup{id: "9f8e7d6c-2222-4333-8444-555566667777", ext: ".gz.enc", md: "-md md5", kind: "single",
		meta: map[string]string{"Parent-Location": s.url("")}}
	s.makeTroveBackup(t, troveFile(t, troveDump(1000)), key, damaged)
	// Three full backups, the oldest over several segments.
	var fulls []string
	for _, size := range []int{2<<20 + 5, 1000, 2000} {
		r := run(t, bytes.NewReader(troveData(size)), env, "backup", "--segment-size", "1M", "--name", "full")
		must(t, r, "backup --layout trove")
		fulls = append(fulls, strings.TrimSpace(r.stdout))
	}
	if n := len(of(s.names(), fulls[0]+"_")); n < 2 {
		t.Fatalf("the oldest backup has %d segments, the test wants several", n)
	}
	// The killed upload's segments are older than the grace period by the
	// store's own clock (their Last-Modified, whole seconds), as prune sees them.
	killedSegs := of(s.names(), killed)
	testenv.WaitFor(t, grace+time.Minute, "the killed upload's segments to age past the grace period", func() bool {
		for _, name := range killedSegs {
			lm, err := http.ParseTime(s.head(name).Get("Last-Modified"))
			if err != nil || time.Since(lm) <= grace+time.Second {
				return false
			}
		}
		return true
	})
	// An upload Trove is running now: segments, no object yet.
	young := "3c4d5e6f-7777-4888-9999-aaaabbbbcccc"
	for n := 0; n < 2; n++ {
		seg := filepath.Join(t.TempDir(), "seg")
		os.WriteFile(seg, troveData(1000), 0o600)
		s.swift("upload", s.container, seg, "--object-name", fmt.Sprintf("%s_%08d", young, n))
	}
	before := s.names()
	prune := []string{"prune", "--keep", "1", "--grace", grace.String()}

	r := run(t, nil, env, append(prune, "--dry-run")...)
	must(t, r, "prune --dry-run")
	t.Logf("prune --dry-run:\n%s", r.stderr)
	if got := s.names(); !slices.Equal(got, before) {
		t.Fatalf("prune --dry-run changed the container: %v -> %v", before, got)
	}
	for _, id := range []string{fulls[0], fulls[1], killed} {
		if !strings.Contains(r.stderr, "would remove") || !strings.Contains(r.stderr, "id="+id) {
			t.Errorf("prune --dry-run does not name %s:\n%s", id, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "keeping a damaged backup") || !strings.Contains(r.stderr, damaged.id) ||
		!strings.Contains(r.stderr, young) {
		t.Errorf("prune --dry-run does not say what it keeps:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "id="+fulls[2]) {
		t.Errorf("prune --dry-run would remove the newest backup:\n%s", r.stderr)
	}

	r = run(t, nil, env, prune...)
	must(t, r, "prune")
	t.Logf("prune:\n%s", r.stderr)
	if got, want := s.names(), without(before, fulls[0], fulls[1], killed); !slices.Equal(got, want) {
		t.Errorf("after prune --keep 1: %v, want %v", got, want)
	}
	for _, id := range []string{fulls[2], damaged.id, young} {
		if len(of(s.names(), id)) == 0 {
			t.Errorf("prune removed %s", id)
		}
	}
	must(t, run(t, nil, env, "verify", fulls[2]), "verify of the backup kept")

	// The newest is now an incremental Trove made: prune keeps it and its
	// parent (Trove's backups are a job of their own, without label or
	// host) and mybak's full backup, the newest of its job.
	orig := troveFile(t, troveXbstream(t, 100000))
	tfull := troveBackup{id: "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90", ext: ".xbstream.gz.enc", md: "-md sha256", kind: "single",
		meta: map[string]string{"Lsn": "1626101", "Datastore": "mysql"}}
	etag := s.makeTroveBackup(t, orig, key, tfull)
	tincr := troveBackup{id: "7d0e8a2c-5b4f-4c6e-8a1d-3f9b2e7c6d50", ext: ".xbstream.gz.enc", md: "-md sha256", kind: "single",
		meta: map[string]string{"Lsn": "1700000", "Parent-Location": s.url(tfull.object()), "Parent-Checksum": etag, "Datastore": "mysql"}}
	s.makeTroveBackup(t, orig, key, tincr)
	before = s.names()
	r = run(t, nil, env, "prune", "--keep", "1") // the default grace, 24h: the young leftover stays
	must(t, r, "prune of a chain")
	if got := s.names(); !slices.Equal(got, before) {
		t.Errorf("after prune --keep 1 with a chain on top: %v, want %v", got, before)
	}
	if !strings.Contains(r.stdout, "parent of "+tincr.id) {
		t.Errorf("prune does not say it keeps %s as the parent of %s:\n%s", tfull.id, tincr.id, r.stdout)
	}
	must(t, run(t, nil, env, "verify", tincr.id), "verify of the chain kept")
	r = run(t, nil, env, "show", tincr.id)
	must(t, r, "show of a Trove incremental")
	for _, want := range []string{tfull.id + " \\(full\\) -> " + tincr.id + " \\(incremental\\)", "from 1626101 to 1700000",
		`raw size +not recorded`, `verification +ok \(`} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("show of a Trove incremental does not say %q:\n%s", want, r.stdout)
		}
	}

	// Named, the damaged backup goes; then the young leftover.
	must(t, run(t, nil, env, "delete", damaged.id), "delete of a damaged backup")
	must(t, run(t, nil, env, "delete", young), "delete of a leftover")
	if got, want := s.names(), without(before, damaged.id, young); !slices.Equal(got, want) {
		t.Errorf("after the deletes: %v, want %v", got, want)
	}
	if r := run(t, nil, env, "prune"); r.code != 2 {
		t.Errorf("prune --layout trove without --keep: exit %d", r.code)
	}
}
