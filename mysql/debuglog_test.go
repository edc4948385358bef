package mysql

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestRedactArgs(t *testing.T) {
	in := []string{"--backup", "--password=hunter2", "--target-dir", "/x", "--ssl-key", "/k.pem", "-pSecret", "--user=u", "--encrypt-key=abc"}
	want := []string{"--backup", "--password=***", "--target-dir", "/x", "--ssl-key", "***", "-p***", "--user=u", "--encrypt-key=***"}
	if got := redactArgs(in); !reflect.DeepEqual(got, want) {
		t.Errorf("redactArgs = %q, want %q", got, want)
	}
}

// TestRunLogsCommandLineAtDebug: with a debug logger in the context every
// child's command line is logged, never the password of its connection.
func TestRunLogsCommandLineAtDebug(t *testing.T) {
	var buf bytes.Buffer
	ctx := WithLog(context.Background(), slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if _, err := Run(ctx, &Command{Path: "true", Args: []string{"--some-flag", "value"}, Conn: &Conn{User: "u", Password: "s3cret-pw"}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "msg=run") || !strings.Contains(out, "--some-flag") || strings.Contains(out, "s3cret-pw") {
		t.Errorf("debug log: %s", out)
	}
	buf.Reset()
	ctx = WithLog(context.Background(), slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	Run(ctx, &Command{Path: "true"})
	if buf.Len() != 0 {
		t.Errorf("logged at info: %s", buf.String())
	}
}
