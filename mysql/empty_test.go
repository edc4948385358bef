package mysql

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupLogicalEmpty: a dump tool that exits 0 without writing a byte
// has not made a backup.
func TestBackupLogicalEmpty(t *testing.T) {
	script := filepath.Join(t.TempDir(), "mysqldump")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err := BackupLogical(context.Background(), DumpOptions{Tool: Tool{Engine: EngineMysqldump, Path: script}}, &out)
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "Dump completed") {
		t.Fatalf("an empty dump: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("precondition: the tool wrote %d bytes", out.Len())
	}
}
