package cli

import (
	"bytes"
	"errors"
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

func TestEnvNames(t *testing.T) {
	app := newApp(&env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	seen := 0
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			name := f.Names()[0]
			type envFlag interface{ GetEnvVars() []string }
			ef, ok := f.(envFlag)
			if !ok || !reflect.DeepEqual(ef.GetEnvVars(), []string{envName(name)}) {
				t.Errorf("%s --%s: env vars %v, want %s", c.Name, name, ef.GetEnvVars(), envName(name))
			}
			seen++
		}
	}
	if seen < 20 || envName("encrypt-key-file") != "MYBAK_ENCRYPT_KEY_FILE" {
		t.Errorf("checked %d flags; envName = %s", seen, envName("encrypt-key-file"))
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
