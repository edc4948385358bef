package mysql

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Engine names a backup program family.
type Engine string

// Engines. EngineAuto picks by server flavour (see SelectPhysical, SelectLogical).
const (
	EngineAuto         Engine = "auto"
	EngineMariabackup  Engine = "mariabackup"
	EngineXtrabackup   Engine = "xtrabackup"
	EngineInnobackupex Engine = "innobackupex"
	EngineMysqldump    Engine = "mysqldump"
	EngineMariadbDump  Engine = "mariadb-dump"
)

// Tool is a resolved program: which engine and where it is.
type Tool struct {
	Engine Engine
	Path   string // absolute path found on PATH
}

// toolInfo is what mybak knows of each program family: the names tried
// on PATH and the Debian package that provides them (for the error
// message), the server flavours it can back up (nil: any; a physical tool
// copies InnoDB files of its own family only) and how its chain is
// prepared.
type toolInfo struct {
	names []string
	pkg   string
	// copiesFiles: the tool copies InnoDB's files and follows the redo
	// log while it does (it fails when the log wraps before it is done),
	// and only for its own server family (mariaDB says which); a dump
	// tool reads any server over SQL.
	copiesFiles bool
	mariaDB     bool
	// finalApply: after the last incremental's prepare (with --redo-only)
	// the chain needs one more --apply-log to roll back.
	finalApply bool
	// style is how the tool's prepare and copy-back command lines look.
	style toolStyle
	// applyLogOnly: a prepare followed by more incrementals takes
	// --apply-log-only (xtrabackup 8.0; mariabackup 10.2+ needs no such
	// flag, 10.11 rejects it).
	applyLogOnly bool
	// mariaDBDump: the dump tool writes MariaDB's dialect (--gtid).
	mariaDBDump bool
}

// toolStyle is the command-line family of a physical tool.
type toolStyle int

const (
	noStyle   toolStyle = iota // not a physical tool: cannot prepare
	xtraStyle                  // --prepare --target-dir=DIR, --copy-back --target-dir=DIR
	innoStyle                  // --apply-log [--redo-only] DIR, --copy-back DIR
)

var toolNames = map[Engine]toolInfo{
	EngineMariabackup: {names: []string{"mariabackup", "mariadb-backup"}, pkg: "mariadb-backup",
		copiesFiles: true, mariaDB: true, style: xtraStyle},
	EngineXtrabackup: {names: []string{"xtrabackup"}, pkg: "percona-xtrabackup-80 (or percona-xtrabackup-24 for MySQL 5.7)",
		copiesFiles: true, style: xtraStyle, applyLogOnly: true},
	EngineInnobackupex: {names: []string{"innobackupex"}, pkg: "percona-xtrabackup (2.x)",
		copiesFiles: true, style: innoStyle, finalApply: true},
	EngineMysqldump:   {names: []string{"mysqldump"}, pkg: "mysql-client"},
	EngineMariadbDump: {names: []string{"mariadb-dump", "mysqldump"}, pkg: "mariadb-client", mariaDBDump: true},
}

// FollowsRedo reports whether the program of e copies the redo log while
// it copies files: its backup fails when the server writes a whole redo
// log's worth before it is done (preflight's redo check).
func FollowsRedo(e Engine) bool { return toolNames[e].copiesFiles }

// FinalApply reports whether a chain prepared with t needs one more
// --apply-log after its last incremental (innobackupex, which applies
// incrementals with --redo-only; xtrabackup 8.0 and mariabackup roll back
// in the last incremental's prepare).
func (t Tool) FinalApply() bool { return toolNames[t.Engine].finalApply }

// LookupTool finds the program of engine e on PATH. When none is found the
// error matches ErrToolNotFound and says which package to install.
func LookupTool(e Engine) (Tool, error) {
	tn, ok := toolNames[e]
	if !ok {
		return Tool{}, fmt.Errorf("unknown backup engine %q (want auto, mariabackup, xtrabackup, innobackupex, mysqldump or mariadb-dump)", e)
	}
	for _, n := range tn.names {
		if p, err := exec.LookPath(n); err == nil {
			return Tool{Engine: e, Path: p}, nil
		}
	}
	return Tool{}, fmt.Errorf("%s not found on PATH: install %s: %w", tn.names[0], tn.pkg, ErrToolNotFound)
}

// PhysicalEngineFor picks the physical engine for a server: mariabackup for
// MariaDB, innobackupex for MySQL/Percona 5.5 and 5.6, xtrabackup otherwise.
func PhysicalEngineFor(s *ServerInfo) Engine {
	switch {
	case s.Flavor == FlavorMariaDB:
		return EngineMariabackup
	case s.Major == 5 && s.Minor < 7:
		return EngineInnobackupex
	}
	return EngineXtrabackup
}

// LogicalEngineFor picks the dump engine: mariadb-dump for MariaDB,
// mysqldump otherwise.
func LogicalEngineFor(s *ServerInfo) Engine {
	if s.Flavor == FlavorMariaDB {
		return EngineMariadbDump
	}
	return EngineMysqldump
}

// SelectTool resolves want ("auto", "" or an engine name) for server s. With
// logical set, auto means the dump tool; otherwise the physical one. A
// physical engine that does not fit the flavour (xtrabackup on MariaDB,
// mariabackup on MySQL) is refused, since it would produce a broken backup.
func SelectTool(want Engine, s *ServerInfo, logical bool) (Tool, error) {
	e := want
	if e == "" || e == EngineAuto {
		if s == nil {
			return Tool{}, fmt.Errorf("engine auto needs the server probe")
		}
		if logical {
			e = LogicalEngineFor(s)
		} else {
			e = PhysicalEngineFor(s)
		}
	}
	if ti := toolNames[e]; s != nil && ti.copiesFiles && (s.Flavor == FlavorMariaDB) != ti.mariaDB {
		return Tool{}, fmt.Errorf("%s cannot back up %s %s: use %s (or engine auto)",
			e, s.Flavor, s.Version, PhysicalEngineFor(s))
	}
	return LookupTool(e)
}

// StreamTool returns the xbstream extractor matching a physical engine:
// mbstream for mariabackup, xbstream for the Percona tools; when that one
// is missing, the other family's (mbstream and xbstream read the same
// XBSTCK01 chunk format), so that a stream whose tool is only assumed can
// be extracted and its own files read.
func StreamTool(e Engine) (string, error) {
	names, pkg := []string{"xbstream", "mbstream", "mariadb-mbstream"}, "percona-xtrabackup-80"
	if e == EngineMariabackup {
		names, pkg = []string{"mbstream", "mariadb-mbstream", "xbstream"}, "mariadb-backup"
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH: install %s: %w", names[0], pkg, ErrToolNotFound)
}

// ClientTool returns the SQL client for a dump engine: mariadb (else mysql)
// for MariaDB dumps, mysql otherwise.
func ClientTool(e Engine) (string, error) {
	names, pkg := []string{"mysql"}, "mysql-client"
	if e == EngineMariadbDump || e == EngineMariabackup {
		names, pkg = []string{"mariadb", "mysql"}, "mariadb-client"
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH: install %s: %w", names[0], pkg, ErrToolNotFound)
}

var reToolVersion = regexp.MustCompile(`(?i)(?:based on MariaDB server|version|Ver|Distrib)\s+(\d+\.\d+\.\d+[-\w.]*)`)

// ToolVersion runs the tool with --version and returns the version it
// prints (e.g. "10.11.19-MariaDB", "8.0.35-30").
func ToolVersion(ctx context.Context, t Tool) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, t.Path, "--version")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = childEnv(nil) // no MYSQL_PWD for a child that needs no password
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s --version: %w", t.Path, err)
	}
	return ParseToolVersion(out.String())
}

// ParseToolVersion extracts the version from a tool's --version output.
func ParseToolVersion(s string) (string, error) {
	m := reToolVersion.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("no version in %q", strings.TrimSpace(firstLine(s)))
	}
	return m[1], nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
