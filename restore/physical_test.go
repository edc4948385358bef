package restore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/testenv"
)

func man(id, engine, typ, parent, from, to string) *backup.Manifest {
	return &backup.Manifest{ID: id, Engine: backup.EngineInfo{Name: engine}, Type: typ, Parent: parent,
		Meta: map[string]string{backup.MetaFromLSN: from, backup.MetaToLSN: to}}
}

func TestCheckDatadirAndReplace(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	full := filepath.Join(dir, "full")
	os.MkdirAll(filepath.Join(full, "mysql"), 0o755)
	if err := CheckDatadir(filepath.Join(dir, "missing"), false); err != nil {
		t.Errorf("missing datadir: %v", err)
	}
	if err := CheckDatadir(empty, false); err != nil {
		t.Errorf("empty datadir: %v", err)
	}
	err := CheckDatadir(full, false)
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "holds a database") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("full datadir: %v", err)
	}
	if err := CheckDatadir(full, true); err != nil {
		t.Errorf("full datadir with force: %v", err)
	}

	// A POSIX lock on ibdata1, held by another process as a running InnoDB
	// holds it, is refused even with force.
	t.Run("locked ibdata1", func(t *testing.T) {
		python := testenv.NeedTool(t, "python3")
		ib := filepath.Join(full, "ibdata1")
		os.WriteFile(ib, []byte("x"), 0o644)
		holder := exec.Command(python, "-c", "import fcntl,sys,time; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()", ib)
		stdout, _ := holder.StdoutPipe()
		stdin, _ := holder.StdinPipe() // the holder keeps the lock until its input ends
		if err := holder.Start(); err != nil {
			t.Fatalf("start the lock holder: %v", err)
		}
		defer func() { holder.Process.Kill(); holder.Wait() }()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "locked" {
			t.Fatalf("the lock holder did not take the lock: %q, %v", buf, err)
		}
		if err := CheckDatadir(full, true); !errors.Is(err, ErrServerRunning) {
			t.Errorf("locked ibdata1: %v", err)
		}
		stdin.Close()
		if err := holder.Wait(); err != nil {
			t.Fatalf("the lock holder: %v", err)
		}
		if err := CheckDatadir(full, true); err != nil {
			t.Errorf("after the lock holder exited: %v", err)
		}
	})

	// replaceDir: into an empty dir, and over a non-empty one.
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("new"), 0o644)
	if _, err := replaceDir(src, empty, ""); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(empty, "f")); string(b) != "new" {
		t.Errorf("replace into empty dir: %q", b)
	}
	src2 := filepath.Join(dir, "src2")
	os.Mkdir(src2, 0o755)
	os.WriteFile(filepath.Join(src2, "g"), []byte("newer"), 0o644)
	if _, err := replaceDir(src2, empty, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(empty, "f")); err == nil {
		t.Error("old content survived the replacement")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "mybak-old") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func TestHoldWriter(t *testing.T) {
	var out bytes.Buffer
	h := &holdWriter{w: &out}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for i := 0; i < 5000; i++ {
		h.Write(line)
	}
	if int64(out.Len()) != h.sent || h.sent == 0 || h.sent > int64(5000*100-holdBack) {
		t.Errorf("sent %d (buffer %d) before flush, want all but at least %d held back", h.sent, out.Len(), holdBack)
	}
	if h.lines != h.sent/100 {
		t.Errorf("lines %d for %d bytes", h.lines, h.sent)
	}
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 5000*100 || h.lines != 5000 {
		t.Errorf("after flush: %d bytes, %d lines", out.Len(), h.lines)
	}
}
