package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestBinlogUsage: every wrong command line of the binlog commands is a
// usage error (exit 2) that says what to give, before any store or server
// is touched.
func TestBinlogUsage(t *testing.T) {
	st := t.TempDir()
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"binlog"}, "binlog needs a command"},
		{[]string{"binlog", "nope"}, "unknown command"},
		{[]string{"binlog", "list", "--storage", st, "extra"}, "takes no arguments"},
		{[]string{"binlog", "find", "--storage", st}, "--statement REGEX or --table"},
		{[]string{"binlog", "find", "--storage", st, "--statement", "x", "--table", "a.b"}, "one of them"},
		{[]string{"binlog", "find", "--storage", st, "--statement", "(unclosed"}, "--statement"},
		{[]string{"binlog", "find", "--storage", st, "--table", "nodot"}, "want DB.TABLE"},
		{[]string{"binlog", "find", "--storage", st, "--table", "a.b", "--since", "yesterday"}, "--since"},
		{[]string{"binlog", "replay", "--storage", st}, "needs a target"},
		{[]string{"binlog", "replay", "--storage", st, "--until-gtid", "0-1-2", "--before-gtid", "0-1-3"}, "give one recovery target"},
		{[]string{"binlog", "replay", "--storage", st, "--until-gtid", "zero"}, "--until-gtid"},
		{[]string{"binlog", "replay", "--storage", st, "--until-position", "bin.000001"}, "FILE:POSITION"},
		{[]string{"binlog", "replay", "--storage", st, "--before-statement", "(("}, "--before-statement"},
		{[]string{"binlog", "replay", "--storage", st, "--until", "2026-12-03 09:00:00", "--json"}, "--json applies to --dry-run only"},
		{[]string{"binlog", "archive", "--storage", st, "--no-encrypt", "--flush-interval", "10ms"}, "at least 1s"},
		{[]string{"binlog", "archive", "--storage", st}, "no encryption key"},
		{[]string{"restore", "--storage", st, "--to-stdout", "--until", "2026-12-03 09:00:00"}, "restores into a server"},
		{[]string{"restore", "--storage", st, "--to-mysql", "--until-gtid", "nope"}, "--until-gtid"},
		{[]string{"restore", "--storage", st, "--to-mysql", "--until", "2026-12-03 09:00:00", "--before-gtid", "0-1-2"}, "give one recovery target"},
		{[]string{"restore", "--storage", st, "--to-mysql", "--until", "2026-12-03 09:00:00", "--start-cmd", "true"}, "--start-cmd"},
		{[]string{"restore", "--storage", st, "--target-dir", st, "--start-cmd", "true", "latest"}, "recovery target"},
		{[]string{"restore", "--storage", st, "--target-dir", st, "--host", "db2", "--until", "2026-12-03 09:00:00"}, "--host"},
	}
	for _, c := range cases {
		code, out, errs := mainOut(c.args...)
		if code != 2 || !strings.Contains(errs, c.says) {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 saying %q", c.args, code, errs, out, c.says)
		}
	}
}

// TestBinlogHelpAndEnv: each binlog command's help has examples and flag
// categories; its own flags read MYBAK_BINLOG_<COMMAND>_<FLAG>, the
// shared ones (the store, the key, the server) their global variables.
func TestBinlogHelpAndEnv(t *testing.T) {
	for _, sub := range []string{"archive", "list", "find", "verify", "replay", "prune"} {
		code, out, errs := mainOut("binlog", sub, "--help")
		if code != 0 || !strings.Contains(out, "EXAMPLES:") || !strings.Contains(out, "mybak binlog "+sub) || !strings.Contains(out, catStore) {
			t.Errorf("binlog %s --help: exit %d %s\n%s", sub, code, errs, out)
		}
	}
	_, out, _ := mainOut("binlog", "archive", "--help")
	for _, v := range []string{"$MYBAK_BINLOG_ARCHIVE_FLUSH_INTERVAL", "$MYBAK_STORAGE", "$MYBAK_ENCRYPT_KEY_FILE", "$MYBAK_HOST"} {
		if !strings.Contains(out, v) {
			t.Errorf("binlog archive --help does not name %s", v)
		}
	}
	// The environment sets a subcommand's flag.
	var o, e bytes.Buffer
	t.Setenv("MYBAK_BINLOG_REPLAY_UNTIL_GTID", "not-a-gtid")
	code := Main([]string{"mybak", "binlog", "replay", "--storage", t.TempDir()}, strings.NewReader(""), &o, &e)
	if code != 2 || !strings.Contains(e.String(), "--until-gtid") {
		t.Errorf("MYBAK_BINLOG_REPLAY_UNTIL_GTID: exit %d %s", code, e.String())
	}
}
