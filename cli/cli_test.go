package cli

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mybak/mybak/restore"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "64M": 64 << 20, "64MiB": 64 << 20, "64mb": 64 << 20, "2G": 2 << 30,
		"1k": 1024, " 3T ": 3 << 40, "256Ki": 256 << 10,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1", "1.5G", "12X", "99999999999T"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestInterspersed(t *testing.T) {
	app := newApp(&env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	tests := []struct{ in, want []string }{
		{[]string{"mybak", "restore", "--storage", "s", "ID", "--to-stdout"},
			[]string{"mybak", "restore", "--storage", "s", "--to-stdout", "ID"}},
		{[]string{"mybak", "restore", "ID", "--storage=s", "--to-stdout"},
			[]string{"mybak", "restore", "--storage=s", "--to-stdout", "ID"}},
		{[]string{"mybak", "rm", "ID", "--cascade", "-s", "x"},
			[]string{"mybak", "rm", "--cascade", "-s", "x", "ID"}},
		{[]string{"mybak", "backup", "--storage", "s", "--", "--extra", "arg"},
			[]string{"mybak", "backup", "--storage", "s", "--", "--extra", "arg"}},
		{[]string{"mybak", "--help"}, []string{"mybak", "--help"}},
		{[]string{"mybak", "nosuch", "a", "--b"}, []string{"mybak", "nosuch", "a", "--b"}},
	}
	for _, tt := range tests {
		if got := interspersed(app, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("interspersed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEnvNames: a variable that more than one command reads is one of the
// environment-describing flags, of the same type everywhere; every other
// flag has its command's own MYBAK_<COMMAND>_<FLAG>.
func TestEnvNames(t *testing.T) {
	app := newApp(&env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	type envFlag interface{ GetEnvVars() []string }
	readers := map[string][]string{} // variable -> "command --flag (type)"
	types := map[string]map[string]bool{}
	seen := 0
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			name := f.Names()[0]
			if name == "help" {
				continue
			}
			ef, ok := f.(envFlag)
			if !ok || len(ef.GetEnvVars()) != 1 {
				t.Errorf("%s --%s: env vars %v, want one", c.Name, name, ef)
				continue
			}
			v := ef.GetEnvVars()[0]
			want := "MYBAK_" + strings.ToUpper(strings.ReplaceAll(c.Name, "-", "_")) + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			if envGlobal[name] {
				want = envName(name)
			}
			if v != want {
				t.Errorf("%s --%s: env var %s, want %s", c.Name, name, v, want)
			}
			readers[v] = append(readers[v], c.Name+" --"+name)
			if types[v] == nil {
				types[v] = map[string]bool{}
			}
			types[v][fmt.Sprintf("%T", f)] = true
			seen++
		}
	}
	for v, r := range readers {
		if len(r) > 1 && len(types[v]) > 1 {
			t.Errorf("%s is read by %v with different types %v", v, r, types[v])
		}
	}
	for _, v := range []string{"MYBAK_KEEP", "MYBAK_PARALLEL", "MYBAK_TO_STDOUT", "MYBAK_ENGINE", "MYBAK_FORCE", "MYBAK_JSON"} {
		if len(readers[v]) > 0 {
			t.Errorf("%s is still read by %v: it means different things to different commands", v, readers[v])
		}
	}
	if seen < 100 || len(readers["MYBAK_PRUNE_KEEP"]) != 1 || len(readers["MYBAK_VERIFY_KEEP"]) != 1 ||
		len(readers["MYBAK_STORAGE"]) < 9 || envName("encrypt-key-file") != "MYBAK_ENCRYPT_KEY_FILE" {
		t.Errorf("checked %d flags; MYBAK_PRUNE_KEEP %v, MYBAK_VERIFY_KEEP %v, MYBAK_STORAGE %v",
			seen, readers["MYBAK_PRUNE_KEEP"], readers["MYBAK_VERIFY_KEEP"], readers["MYBAK_STORAGE"])
	}
}

// TestExportedVariablesDoNotCollide runs commands in-process with the
// variables a cron or CI environment exported for other commands (the
// case found: MYBAK_KEEP=7 mybak verify failed to parse 7 as a bool).
func TestExportedVariablesDoNotCollide(t *testing.T) {
	store := t.TempDir()
	for k, v := range map[string]string{"MYBAK_KEEP": "7", "MYBAK_PARALLEL": "x", "MYBAK_TO_STDOUT": "yes please",
		"MYBAK_ENGINE": "mariabackup", "MYBAK_FORCE": "7", "MYBAK_JSON": "7", "MYBAK_DRY_RUN": "no"} {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := Main([]string{"mybak", "backup", "--storage", store, "--no-encrypt"}, strings.NewReader("some data\n"), &out, &errb)
	if code != 0 {
		t.Fatalf("backup with foreign variables exported: exit %d\n%s", code, errb.String())
	}
	id := strings.TrimSpace(out.String())
	for _, args := range [][]string{{"verify", id}, {"list"}, {"prune", "--keep", "3", "--dry-run"}} {
		out.Reset()
		errb.Reset()
		if code := Main(append([]string{"mybak", args[0], "--storage", store}, args[1:]...), strings.NewReader(""), &out, &errb); code != 0 {
			t.Errorf("%v with foreign variables exported: exit %d\n%s", args, code, errb.String())
		}
	}
	// The command's own variable is read.
	t.Setenv("MYBAK_VERIFY_JSON", "true")
	out.Reset()
	if code := Main([]string{"mybak", "verify", "--storage", store, id}, strings.NewReader(""), &out, &errb); code != 0 || !strings.HasPrefix(strings.TrimSpace(out.String()), "{") {
		t.Errorf("MYBAK_VERIFY_JSON=true: exit %d, stdout %q", code, out.String())
	}
	t.Setenv("MYBAK_PRUNE_KEEP", "-1")
	errb.Reset()
	if code := Main([]string{"mybak", "prune", "--storage", store}, strings.NewReader(""), &out, &errb); code != ExitUsage {
		t.Errorf("MYBAK_PRUNE_KEEP=-1: exit %d, want %d (the variable is read and checked)\n%s", code, ExitUsage, errb.String())
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{usagef("bad flag"), ExitUsage},
		{errors.Join(errors.New("x"), restore.ErrDamaged), ExitDamaged},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestMainInProcess(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"mybak", "--version"}, strings.NewReader(""), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "mybak version") {
		t.Errorf("--version: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	code = Main([]string{"mybak", "backup", "--help"}, strings.NewReader(""), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "--encrypt-key-file") || !strings.Contains(out.String(), "MYBAK_ENCRYPT_KEY_FILE") {
		t.Errorf("backup --help: %d %q", code, out.String())
	}
}
