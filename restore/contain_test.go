package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
)

// needPhysicalTools skips the test without mariabackup and mbstream (it
// fails under CI or MYBAK_REQUIRE_TOOLS).
func needPhysicalTools(t *testing.T) {
	t.Helper()
	_, err := mysql.LookupTool(mysql.EngineMariabackup)
	if err == nil {
		_, err = mysql.StreamTool(mysql.EngineMariabackup)
	}
	testenv.Need(t, err == nil, fmt.Sprintf("mariabackup and mbstream are needed (apt-get install mariadb-backup): %v", err))
}

// files lists the regular files below dir (relative), and the
// directories that hold nothing.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !fi.IsDir() {
			out = append(out, rel)
		} else if ents, _ := os.ReadDir(p); len(ents) == 0 {
			out = append(out, rel+"/")
		}
		return nil
	})
	return out
}

// onlyLogs fails unless everything below parent is a kept tool log of a
// failed restore (or nothing).
func onlyLogs(t *testing.T, parent string) {
	t.Helper()
	for _, f := range files(t, parent) {
		if !strings.Contains(f, ".mybak-staging-") || !strings.Contains(f, "/logs/") {
			t.Errorf("%s appeared in %s", f, parent)
		}
	}
}

// escapeTo returns an ID that, joined below any dir, names dir.
func escapeTo(dir string) string {
	return "/.." + strings.Repeat("/..", 40) + dir
}

// smallXbstream is a valid xbstream of two files.
func smallXbstream(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := xbstream.NewWriter(&b)
	w.WriteFile("ibdata1", bytes.NewReader(bytes.Repeat([]byte("pages"), 1000)))
	w.WriteFile("xtrabackup_checkpoints", strings.NewReader("backup_type = full-backuped\n"))
	return b.Bytes()
}

// TestWireIDNotAPath reproduces finding 1 of issue 10: the ID of a wire
// stream's header ("/../../../../etc/cron.d") became the extract dir and
// the log path of make-replica --from-stdin, and mbstream extracted there
// before the manifest was checked. The header reaches restore as the
// reader parsed it, whatever the reader checks.
func TestWireIDNotAPath(t *testing.T) {
	needPhysicalTools(t)
	w, _ := wireOf(t, smallXbstream(t), nil, "none")
	for _, eng := range []string{"mariabackup"} {
		victim := filepath.Join(t.TempDir(), "cron.d")
		parent := t.TempDir()
		wr, err := backup.NewWireReader(bytes.NewReader(w), backup.WireReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wr.Header.ID, wr.Header.Engine = escapeTo(victim), eng
		_, err = PhysicalFromWire(context.Background(), wr, PhysicalOptions{TargetDir: filepath.Join(parent, "target")})
		if !errors.Is(err, ErrUnsafeName) {
			t.Errorf("restore of a stream whose ID is %q: %v, want ErrUnsafeName", wr.Header.ID, err)
		}
		for _, p := range []string{victim, victim + ".log"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s was created (%v)", p, files(t, filepath.Dir(victim)))
			}
		}
		onlyLogs(t, parent)
	}
}

// TestChainIDNotAPath: a chain member's ID from a manifest is checked too
// before it names a directory (manifests are validated when loaded; this
// is the second line).
func TestChainIDNotAPath(t *testing.T) {
	needPhysicalTools(t)
	victim := filepath.Join(t.TempDir(), "planted")
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{escapeTo(victim), "../planted", "a/b", "", "."} {
		parent := t.TempDir()
		m := man(id, "mariabackup", "full", "", "0", "100")
		err := Physical(context.Background(), st, []*backup.Manifest{m}, PhysicalOptions{TargetDir: filepath.Join(parent, "t")})
		if !errors.Is(err, ErrUnsafeName) {
			t.Errorf("chain of %q: %v, want ErrUnsafeName", id, err)
		}
		if f := files(t, parent); len(f) > 0 {
			t.Errorf("chain of %q left %v", id, f)
		}
	}
	if _, err := os.Stat(victim); err == nil {
		t.Errorf("%s was created", victim)
	}
	for _, name := range []string{"", ".", "..", "a/b", "/a", "../a"} {
		if _, err := below("/x", name); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("below(%q): %v", name, err)
		}
	}
	if p, err := below("/x", "00-20261121T162435Z-3fa9c1"); err != nil || p != "/x/00-20261121T162435Z-3fa9c1" {
		t.Errorf("below of a good name: %q %v", p, err)
	}
}

// unsafeXbstreams are valid xbstreams but for one name each.
func unsafeXbstreams(t *testing.T, victim string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, path := range map[string]string{
		"dot-dot":       "../escaped.txt",
		"deep dot-dot":  "db/../../../../../../../../../../../../../../../../../../.." + victim,
		"absolute":      victim + "/abs.txt",
		"NUL":           "db/t.ibd\x00/../../escaped",
		"long name":     "db/" + strings.Repeat("n", 300),
		"dir then file": "db",
		"file then dir": "ibdata1/x",
	} {
		var b bytes.Buffer
		b.Write(smallXbstream(t))
		w := xbstream.NewWriter(&b)
		w.WriteFile("db/t.ibd", strings.NewReader("rows"))
		w.WriteFile(path, strings.NewReader("planted\n"))
		w.WriteFile("after.txt", strings.NewReader("after the unsafe name"))
		out[name] = b.Bytes()
	}
	return out
}

// TestExtractUnsafeStream reproduces the first half of finding 9 for
// restore: a stored physical backup, or a wire stream, whose xbstream
// names a file outside the extract dir fails the restore with
// xbstream.ErrUnsafePath before mbstream extracts that chunk (mbstream
// logs "invalid filename" and exits 0, dropping the rest), and nothing
// appears outside the target.
func TestExtractUnsafeStream(t *testing.T) {
	needPhysicalTools(t)
	ctx := context.Background()
	victim := filepath.Join(t.TempDir(), "victim")
	os.Mkdir(victim, 0o755)
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range unsafeXbstreams(t, victim) {
		t.Run(name, func(t *testing.T) {
			// Stored as a physical backup (the engine stands in for a
			// tool; backups of physical tools refuse such a stream).
			m, err := backup.Run(ctx, backup.Options{Store: st, Engine: bytesEngine{"mariabackup", data},
				Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}}})
			if err != nil {
				t.Fatal(err)
			}
			parent := filepath.Join(t.TempDir(), "a", "b")
			err = Physical(ctx, st, []*backup.Manifest{m}, PhysicalOptions{TargetDir: filepath.Join(parent, "target")})
			if !errors.Is(err, xbstream.ErrUnsafePath) {
				t.Errorf("restore: %v, want ErrUnsafePath", err)
			}
			onlyLogs(t, filepath.Dir(filepath.Dir(parent)))

			var w bytes.Buffer
			if _, err := backup.RunToWriter(ctx, &w, backup.Options{Engine: bytesEngine{"mariabackup", data},
				Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "zstd"}}}); err != nil {
				t.Fatal(err)
			}
			wr, err := backup.NewWireReader(bytes.NewReader(w.Bytes()), backup.WireReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			parent = filepath.Join(t.TempDir(), "a", "b")
			_, err = PhysicalFromWire(ctx, wr, PhysicalOptions{Datadir: filepath.Join(parent, "datadir")})
			if !errors.Is(err, xbstream.ErrUnsafePath) {
				t.Errorf("restore from a wire stream: %v, want ErrUnsafePath", err)
			}
			onlyLogs(t, filepath.Dir(filepath.Dir(parent)))
			if f := files(t, victim); len(f) > 0 {
				t.Errorf("%s holds %v", victim, f)
			}
		})
	}
}
