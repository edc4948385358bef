package mysql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSecretPipe: where there is no memfd (darwin) the child's defaults
// come through a pipe. The test runs it on Linux with a real child: the
// child reads the content once through /dev/fd/3, a second read finds it
// empty (which is why checkDefaultsReopen refuses the tools that read
// twice), and nothing is left in TMPDIR.
func TestSecretPipe(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	content := []byte("[client]\npassword=\"pw-in-a-pipe\"\n")
	f, err := secretPipe(content)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "tool")
	os.WriteFile(script, []byte("#!/bin/sh\necho first; cat /dev/fd/3; echo second; cat /dev/fd/3; echo end\n"), 0o755)
	var out bytes.Buffer
	cmd := execWithFD(script, f, &out)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := "first\n" + string(content) + "second\nend\n"
	if got := out.String(); got != want {
		t.Errorf("the child read:\n%q\nwant:\n%q", got, want)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("secretPipe left files in TMPDIR: %v", ents)
	}
}

// TestSecretPipeTooLarge: content that would not fit in the pipe before
// the child starts is refused (writing it would block for ever).
func TestSecretPipeTooLarge(t *testing.T) {
	_, err := secretPipe(bytes.Repeat([]byte("x"), maxPipedDefaults+1))
	if err == nil || !strings.Contains(err.Error(), "a pipe holds") {
		t.Fatalf("err = %v, want a refusal saying the settings do not fit in a pipe", err)
	}
	f, err := secretPipe(bytes.Repeat([]byte("x"), maxPipedDefaults))
	if err != nil {
		t.Fatalf("%d bytes: %v", maxPipedDefaults, err)
	}
	f.Close()
}

// TestCheckDefaultsReopen: where the defaults can be read only once, a
// tool that reads them twice (mariabackup, by any name and path) is
// refused with an error naming the platform and what to do instead, before
// anything runs; the dump and client tools, which read them once, are not.
// Where the defaults can be reopened (Linux's memfd) nothing is refused.
func TestCheckDefaultsReopen(t *testing.T) {
	for _, tool := range []string{"mariabackup", "/usr/bin/mariadb-backup", "xtrabackup"} {
		err := checkDefaultsReopen(tool, false)
		if !errors.Is(err, ErrUnsupportedPlatform) || !strings.Contains(err.Error(), "physical backups need Linux") ||
			!strings.Contains(err.Error(), "--engine mariadb-dump") {
			t.Errorf("%s through a pipe: err = %v, want ErrUnsupportedPlatform saying what to do", tool, err)
		}
		if err := checkDefaultsReopen(tool, true); err != nil {
			t.Errorf("%s with reopenable defaults: %v", tool, err)
		}
	}
	for _, tool := range []string{"mariadb-dump", "mysqldump", "/usr/bin/mariadb", "mysql"} {
		if err := checkDefaultsReopen(tool, false); err != nil {
			t.Errorf("%s reads its defaults once: %v", tool, err)
		}
	}
}

// TestRunDefaultsReopenOnLinux: on Linux (memfd, defaultsReopen) Run
// still hands a tool named mariabackup its defaults, which it reads twice:
// the refusal of TestCheckDefaultsReopen is for the platforms without.
func TestRunDefaultsReopenOnLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("on " + runtime.GOOS + " the defaults come through a pipe")
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "mariabackup")
	os.WriteFile(tool, []byte("#!/bin/sh\nf=\"${1#--defaults-extra-file=}\"\ncat \"$f\" >/dev/null; cat \"$f\"\n"), 0o755)
	var out bytes.Buffer
	if _, err := Run(context.Background(), &Command{Path: tool, Conn: &Conn{Password: "pw-twice"}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "pw-twice") {
		t.Errorf("a tool named mariabackup did not read its defaults a second time:\n%s", out.String())
	}
}

// execWithFD returns a command running script with f as descriptor 3 and
// its standard output into out.
func execWithFD(script string, f *os.File, out io.Writer) *exec.Cmd {
	cmd := exec.Command(script)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout = out
	return cmd
}
