package mysql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIntegrationApplyDumpRunsOnlySQL: a dump that holds the SQL client's
// own commands (shell, files written and read on the host, a connection to
// another server) or LOAD DATA LOCAL (a host file sent to the server) must
// not get any of them executed by ApplyDump; it stops with the client's
// error instead. Each case names the effect it would have and checks that
// it did not happen.
func TestIntegrationApplyDumpRunsOnlySQL(t *testing.T) {
	s := source(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "host-secret")
	if err := os.WriteFile(secret, []byte("host-only secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "host.sql")
	if err := os.WriteFile(script, []byte("CREATE TABLE sourced (i INT);\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A server on another loopback address with the sandbox's port: the
	// client's connect command reaches it only with the port it already uses.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(s.Port)))
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (the connect case needs it): %v", err)
	}
	defer ln.Close()
	dialled := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialled <- struct{}{}
			c.Close()
		}
	}()

	// \e runs $EDITOR even in batch mode, and --sandbox lets it through.
	editor := filepath.Join(dir, "editor")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\ntouch \"$MARKER_DIR/edited\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDITOR", editor)
	t.Setenv("VISUAL", editor)
	t.Setenv("MARKER_DIR", dir)

	admin := s.admin(t)
	for i, tc := range []struct {
		name   string
		sql    string // %[1]s: the marker file, %[2]s: secret, %[3]s: script
		effect func(marker string) string
	}{
		{"system", "\\! touch %[1]s\n", fileMade},
		{"system named", "system touch %[1]s\n", fileMade},
		{"tee", "\\T %[1]s\nSELECT 'teed';\n", fileMade},
		{"tee named", "tee %[1]s\nSELECT 'teed';\n", fileMade},
		{"pager", "\\P touch %[1]s\nSELECT 1;\n", fileMade},
		{"source", "\\. %[3]s\n", nil},
		{"source named", "source %[3]s\n", nil},
		{"load data local", "CREATE TABLE leak (s TEXT);\nLOAD DATA LOCAL INFILE '%[2]s' INTO TABLE leak;\n", nil},
		{"connect", "connect mysql 127.0.0.2\nSELECT 1;\n", nil},
		{"connect short", "\\r mysql 127.0.0.2\nSELECT 1;\n", nil},
		{"edit", "SELECT 1\n\\e\n;\n", func(string) string { return fileMade(filepath.Join(dir, "edited")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := fmt.Sprintf("clientsafe_%d", i)
			mustExec(t, admin, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db)
			t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + db) })
			marker := filepath.Join(dir, "marker-"+strconv.Itoa(i))
			dump := "CREATE TABLE before_cmd (i INT);\n" + fmt.Sprintf(tc.sql, marker, secret, script) + "CREATE TABLE after_cmd (i INT);\n"
			err := ApplyDump(ctxT(t, time.Minute), ApplyOptions{Engine: EngineMariadbDump, Conn: s.adminConn(), Database: db},
				strings.NewReader(dump))
			if err == nil {
				t.Errorf("ApplyDump accepted a dump with %s", tc.name)
			} else {
				t.Logf("refused: %v", err)
			}
			if tc.effect != nil {
				if e := tc.effect(marker); e != "" {
					t.Errorf("the dump's %s ran on the host: %s", tc.name, e)
				}
			}
			var n int
			admin.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=? AND TABLE_NAME='sourced'", db).Scan(&n)
			if n != 0 {
				t.Errorf("the dump sourced the host file %s", script)
			}
			var leaked int
			if err := admin.QueryRow("SELECT COUNT(*) FROM " + db + ".leak").Scan(&leaked); err == nil && leaked != 0 {
				t.Errorf("LOAD DATA LOCAL read the host file %s into the server", secret)
			}
			select {
			case <-dialled:
				t.Errorf("the client connected to 127.0.0.2 on the dump's command")
			default:
			}
			admin.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=? AND TABLE_NAME='after_cmd'", db).Scan(&n)
			if n != 0 {
				t.Errorf("the client went on past the command")
			}
		})
	}
}

func fileMade(marker string) string {
	if _, err := os.Stat(marker); err == nil {
		return marker + " was created"
	}
	return ""
}

// TestSafeClientArgs: the sandbox switch is picked from what the client's
// --help lists (MariaDB --sandbox, MySQL --commands), and a client with
// neither is refused.
func TestSafeClientArgs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, help string
		want       []string
		err        bool
	}{
		{"mariadb 10.11", "  --sandbox           Disallow commands that access the file system (except \\P\n  --binary-mode       Binary mode\n", []string{"--sandbox", "--binary-mode", "--local-infile=0"}, false},
		{"mysql 8.4", "  --commands          Enable or disable processing of local mysql\n  --binary-mode       By default\n  -G, --named-commands Enable named commands.\n", []string{"--commands=OFF", "--binary-mode", "--local-infile=0"}, false},
		{"mysql 9 with a value", "  --commands[=name]   Enable or disable processing of local mysql commands.\n  --binary-mode       x\n", []string{"--commands=OFF", "--binary-mode", "--local-infile=0"}, false},
		{"old mariadb", "  --binary-mode       Binary mode\n  -G, --named-commands\n  --skip-sandboxes\n", nil, true},
		{"no help", "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n[ \"$1\" = --no-defaults ] && [ \"$2\" = --help ] || exit 2\ncat <<'EOF'\n"+tc.help+"EOF\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			got, err := SafeClientArgs(context.Background(), bin)
			if tc.err {
				if !errors.Is(err, ErrClientUnsafe) || !strings.Contains(err.Error(), "upgrade") {
					t.Fatalf("want ErrClientUnsafe with advice, got %v %v", got, err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

// TestApplyDumpRefusesUnsafeClient: a client without a sandbox switch is
// never started on the dump.
func TestApplyDumpRefusesUnsafeClient(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	bin := filepath.Join(dir, "mysql")
	os.WriteFile(bin, []byte("#!/bin/sh\nif [ \"$2\" = --help ]; then echo '  --binary-mode  x'; exit 0; fi\ntouch "+ran+"\ncat >/dev/null\n"), 0o755)
	err := ApplyDump(context.Background(), ApplyOptions{Client: bin}, strings.NewReader("SELECT 1;\n"))
	if !errors.Is(err, ErrClientUnsafe) {
		t.Fatalf("want ErrClientUnsafe, got %v", err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the unsafe client was run on the dump")
	}
}
