package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestNoFlagIgnored: a flag that does nothing in the mode chosen is a
// usage error naming the mode, never accepted and ignored.
func TestNoFlagIgnored(t *testing.T) {
	store := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main([]string{"mybak", "backup", "--storage", store, "--no-encrypt"}, strings.NewReader("data\n"), &out, &errb); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, errb.String())
	}
	id := strings.TrimSpace(out.String())
	for _, tc := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"backup", "--engine", "stdin", "--host", "127.0.0.1"}, "--host does nothing here"},
		{[]string{"backup", "--engine", "stdin", "--user", "u", "--password-file", "/nonexistent"}, "--user, --password-file do nothing here"},
		{[]string{"backup", "--row-counts", "exact"}, "--row-counts does nothing here: it applies to a MySQL --engine"},
		{[]string{"backup", "--use-memory", "1G", "--work-dir", "/tmp"}, "--use-memory, --work-dir do nothing here"},
		{[]string{"backup", "--compress", "none", "--compress-level", "3"}, "--compress-level does nothing here: it applies to --compress gzip or zstd"},
		{[]string{"backup", "--encrypt-iter", "5"}, "--encrypt-iter does nothing here: it applies to encrypted backups"},
		{[]string{"restore", "--to-stdout", "--to-mysql", id}, "--to-mysql and --to-stdout exclude each other"},
		{[]string{"restore", "--to-stdout", "--target-dir", "/tmp/x", id}, "--target-dir and --to-stdout exclude each other"},
		{[]string{"restore", "--to-stdout", "--use-memory", "1G", id}, "--use-memory does nothing here: it applies to a physical restore"},
		{[]string{"restore", "--to-stdout", "--force", id}, "--force does nothing here"},
		{[]string{"restore", "--target-dir", "/tmp/x", "--host", "h", id}, "--host does nothing here: it applies to --to-mysql"},
		{[]string{"restore", "--to-mysql", "--owner", "mysql", id}, "--owner does nothing here"},
		{[]string{"restore", "--to-mysql", "--force", "--remove-old", id}, "--remove-old does nothing here"},
		{[]string{"restore", "--target-dir", "/tmp/x", "--remove-old", id}, "--remove-old goes with --force"},
		{[]string{"restore", "--target-dir", "/tmp/x", "--no-binlog", id}, "--no-binlog does nothing here: it applies to --to-mysql"},
		{[]string{"restore", "--target-dir", "/tmp/x", "--copy-back", "--datadir", "/tmp/y", "--until-gtid", "0-1-5", "--no-binlog"}, "--no-binlog does nothing here: it applies to --to-mysql"},
		{[]string{"verify", "--keep", id}, "--keep does nothing here: it applies with --drill"},
		{[]string{"verify", "--parallel", "2", id}, "--parallel does nothing here: it applies with --deep or --drill"},
		{[]string{"make-replica", "--fresh", "--datadir", "/x", "--primary-host", "h", "--replication-user", "r"}, "--datadir does nothing here"},
		{[]string{"make-replica", "--from-stdin", "--storage", "/x", "--primary-host", "h", "--replication-user", "r"}, "--storage does nothing here: it applies to --backup"},
		{[]string{"make-replica", "--from-stdin", "--engine", "mysqldump", "--primary-host", "h", "--replication-user", "r"}, "--engine does nothing here: it applies to --fresh"},
		{[]string{"make-replica", "--from-stdin", "--replication-user-host", "%", "--primary-host", "h", "--replication-user", "r"}, "--replication-user-host does nothing here"},
	} {
		out.Reset()
		errb.Reset()
		code := Main(append([]string{"mybak", tc.args[0], "--storage", store, "--no-encrypt"}, tc.args[1:]...), strings.NewReader("x"), &out, &errb)
		if tc.args[0] == "make-replica" {
			code = Main(append([]string{"mybak"}, tc.args...), strings.NewReader("x"), &out, &errb)
		} else if tc.args[0] != "backup" {
			// --no-encrypt is backup's; the others take no key here.
			code = Main(append([]string{"mybak", tc.args[0], "--storage", store}, tc.args[1:]...), strings.NewReader("x"), &out, &errb)
		}
		if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s", tc.args, code, ExitUsage, tc.want, errb.String())
		}
	}
}

// TestConnectionOptionsChooseAuto: connection options on the command line
// without --engine back up that server (here: nothing listens, so the
// backup fails) instead of an empty standard input (exit 0 under cron).
// Connection variables exported for every command do not.
func TestConnectionOptionsChooseAuto(t *testing.T) {
	store := t.TempDir()
	var out, errb bytes.Buffer
	code := Main([]string{"mybak", "backup", "--storage", store, "--no-encrypt", "--host", "127.0.0.1", "--port", "1", "--user", "nobody"},
		strings.NewReader(""), &out, &errb)
	if code == 0 || out.Len() != 0 || !strings.Contains(errb.String(), "engine auto") {
		t.Errorf("backup --host without --engine: exit %d, stdout %q\n%s", code, out.String(), errb.String())
	}
	t.Setenv("MYBAK_HOST", "127.0.0.1")
	t.Setenv("MYBAK_USER", "nobody")
	out.Reset()
	errb.Reset()
	code = Main([]string{"mybak", "backup", "--storage", store, "--no-encrypt"}, strings.NewReader("a dump\n"), &out, &errb)
	if code != 0 || out.Len() == 0 {
		t.Errorf("backup of stdin with MYBAK_HOST exported: exit %d\n%s", code, errb.String())
	}
	code = Main([]string{"mybak", "backup", "--engine", "stdin", "--storage", store, "--no-encrypt"}, strings.NewReader("a dump\n"), &out, &errb)
	if code != 0 {
		t.Errorf("backup --engine stdin with MYBAK_HOST exported: exit %d\n%s", code, errb.String())
	}
}
