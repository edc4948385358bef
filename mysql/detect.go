package mysql

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxToolFile bounds what DetectStreamTool reads of one file of an
// extracted backup: they are a few hundred bytes, and the stream is
// input from outside.
const maxToolFile = 64 << 10

// StreamEvidence is what the files of an extracted physical backup say
// about the program that wrote it. Engine is empty when they say nothing.
type StreamEvidence struct {
	Engine Engine
	// Why names the file and the line that decided, e.g. "the stream's
	// xtrabackup_info says tool_name=mariabackup".
	Why string
	// ToolVersion and ServerVersion are from xtrabackup_info, when it
	// has them (for the log).
	ToolVersion, ServerVersion string
}

// DetectStreamTool reads the files a physical backup tool writes into its
// stream, in the extracted backup dir, and says which tool wrote it:
//
//  1. xtrabackup_info (mariadb_backup_info from MariaDB 10.8 on):
//     tool_name is mariabackup, xtrabackup or innobackupex; without one, a
//     tool_version, ibbackup_version or server_version naming MariaDB
//     means mariabackup (Percona's tools back up MariaDB only up to 10.1,
//     and those write tool_name);
//  2. a mariadb_backup_* file means mariabackup;
//  3. backup-my.cnf: xtrabackup 8.0 records server_version (MariaDB in
//     it means mariabackup, otherwise xtrabackup); innodb_compression_level
//     is a MariaDB server option;
//  4. aria_log_control: Aria tables exist only in MariaDB.
//
// The files are read bounded (64 KiB), only when they are regular files
// (never through a symlink), and a malformed line is skipped: a damaged
// or hostile stream yields no evidence, never a panic. An error is
// returned only when dir cannot be read at all.
func DetectStreamTool(dir string) (StreamEvidence, error) {
	if _, err := os.Stat(dir); err != nil {
		return StreamEvidence{}, fmt.Errorf("read the extracted backup: %w", err)
	}
	for _, name := range []string{"xtrabackup_info", "mariadb_backup_info"} {
		text, ok := readToolFile(dir, name)
		if !ok {
			continue
		}
		if ev := EvidenceFromInfo(name, text); ev.Engine != "" {
			return ev, nil
		}
	}
	for _, name := range []string{"mariadb_backup_checkpoints", "mariadb_backup_binlog_info"} {
		if _, ok := readToolFile(dir, name); ok {
			return StreamEvidence{Engine: EngineMariabackup, Why: "the stream holds " + name + ", which only mariabackup writes"}, nil
		}
	}
	if text, ok := readToolFile(dir, "backup-my.cnf"); ok {
		if ev := EvidenceFromBackupCnf(text); ev.Engine != "" {
			return ev, nil
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "aria_log_control")); err == nil && fi.Mode().IsRegular() {
		return StreamEvidence{Engine: EngineMariabackup, Why: "the stream holds aria_log_control (Aria tables exist only in MariaDB)"}, nil
	}
	return StreamEvidence{}, nil
}

// readToolFile returns the first maxToolFile bytes of dir/name when it is
// a regular file (not followed through a symlink).
func readToolFile(dir, name string) (string, bool) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	b, err := io.ReadAll(io.LimitReader(f, maxToolFile))
	if err != nil && !errors.Is(err, fs.ErrClosed) {
		return "", false
	}
	return string(b), true
}

// toolKV parses "key = value" lines; the first occurrence of a key wins.
func toolKV(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxToolFile)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := out[k]; !seen && k != "" {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// EvidenceFromInfo reads xtrabackup_info's text (name is the file's name,
// for Why). See DetectStreamTool.
func EvidenceFromInfo(name, text string) StreamEvidence {
	kv := toolKV(text)
	ev := StreamEvidence{ToolVersion: printable(kv["tool_version"]), ServerVersion: printable(kv["server_version"])}
	switch tn := strings.ToLower(kv["tool_name"]); tn {
	case "mariabackup", "mariadb-backup":
		ev.Engine = EngineMariabackup
	case "xtrabackup":
		ev.Engine = EngineXtrabackup
	case "innobackupex":
		ev.Engine = EngineInnobackupex
	}
	if ev.Engine != "" {
		ev.Why = fmt.Sprintf("the stream's %s says tool_name=%s", name, printable(kv["tool_name"]))
		return ev
	}
	for _, k := range []string{"tool_version", "ibbackup_version", "server_version"} {
		if strings.Contains(strings.ToLower(kv[k]), "mariadb") {
			ev.Engine = EngineMariabackup
			ev.Why = fmt.Sprintf("the stream's %s names no tool, but says %s=%s", name, k, printable(kv[k]))
			return ev
		}
	}
	return ev
}

// EvidenceFromBackupCnf reads backup-my.cnf's text. See DetectStreamTool.
func EvidenceFromBackupCnf(text string) StreamEvidence {
	kv := toolKV(text)
	if v := kv["server_version"]; v != "" {
		if strings.Contains(strings.ToLower(v), "mariadb") {
			return StreamEvidence{Engine: EngineMariabackup, ServerVersion: printable(v), Why: "the stream's backup-my.cnf says server_version=" + printable(v)}
		}
		return StreamEvidence{Engine: EngineXtrabackup, ServerVersion: printable(v),
			Why: "the stream's backup-my.cnf says server_version=" + printable(v) + " (xtrabackup 8.0 records it; mariabackup does not)"}
	}
	if _, ok := kv["innodb_compression_level"]; ok {
		return StreamEvidence{Engine: EngineMariabackup, Why: "the stream's backup-my.cnf sets innodb_compression_level, a MariaDB server option"}
	}
	return StreamEvidence{}
}

// printable cuts s to 100 bytes and replaces what is not printable ASCII,
// for a value from a stream that goes into the log.
func printable(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
