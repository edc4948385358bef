package stdin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/xbstream"
)

// TestStdinEngine: a stream of unknown bytes is copied as is, goes to a
// server as SQL or nowhere else, and is not drilled; the messages are the
// ones restore and the drill gave before the engines moved.
func TestStdinEngine(t *testing.T) {
	be, err := Engine{}.NewBackup(engine.BackupConfig{Stdin: strings.NewReader("data")})
	if err != nil || be.Name() != "stdin" || be.Extension() != "" {
		t.Fatalf("backup side: %v, %v", be, err)
	}
	m := &backup.Manifest{ID: "A", Engine: backup.EngineInfo{Name: "stdin"}, Type: "full"}
	err = Engine{}.Restore(context.Background(), nil, []*backup.Manifest{m}, engine.Target{Files: &restore.PhysicalOptions{}})
	if want := "backup A was taken with the stdin engine, not a physical one: restore it with --to-mysql or --to-stdout"; !errors.Is(err, engine.ErrWrongTarget) || err.Error() != want {
		t.Errorf("Restore into files: %v, want %q", err, want)
	}
	_, err = Engine{}.Drill(m)
	if err == nil || !strings.Contains(err.Error(), "a restore drill needs a MySQL backup") || !strings.Contains(err.Error(), "use verify --deep") {
		t.Errorf("Drill: %v", err)
	}
}

// TestStdinProducer: a damaged xbstream piped into mybak is said to be
// written damaged by "the program that produced it", and by its name when
// the manifest names an engine no one registered.
func TestStdinProducer(t *testing.T) {
	var buf bytes.Buffer
	w := xbstream.NewWriter(&buf)
	w.WriteFile("db/t1.ibd", bytes.NewReader(bytes.Repeat([]byte("t1"), 1000)))
	bad := buf.Bytes()
	bad[len(bad)/2] ^= 1
	for name, want := range map[string]string{"stdin": "the program that produced it", "": "the program that produced it", "newtool": "newtool wrote it damaged"} {
		m := &backup.Manifest{ID: "A", RawSHA256: "ab", Engine: backup.EngineInfo{Name: name}}
		c := Engine{}.NewContentCheck(context.Background(), m)
		c.Write(bad)
		rep := c.Finish(nil)
		if len(rep.Checks) != 1 || !strings.Contains(rep.Checks[0].Detail, want) {
			t.Errorf("engine %q: %+v, want %q", name, rep.Checks, want)
		}
	}
}
