package mysql

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinels for errors.Is. The typed errors below match them.
var (
	// ErrAccessDenied: the server refused the user or password.
	ErrAccessDenied = errors.New("access denied")
	// ErrMissingPrivileges: the user lacks privileges the tool needs.
	ErrMissingPrivileges = errors.New("missing privileges")
	// ErrLockTimeout: the backup could not take its lock (FTWRL / BACKUP STAGE)
	// because of long-running queries.
	ErrLockTimeout = errors.New("backup lock not obtained")
	// ErrTableChanged: DDL (DROP, TRUNCATE, RENAME, a rebuilding ALTER)
	// changed a table after the dump's snapshot and before it read it.
	ErrTableChanged = errors.New("a table changed during the backup")
	// ErrRedoWrapped: the redo log was overwritten before the backup tool
	// copied it; the backup is unusable.
	ErrRedoWrapped = errors.New("redo log wrapped")
	// ErrToolNotFound: a required program is not on PATH.
	ErrToolNotFound = errors.New("tool not found")
	// ErrIncomplete: the tool exited 0 but did not report success
	// ("completed OK!" missing, dump trailer missing).
	ErrIncomplete = errors.New("tool output incomplete")
)

// ExitError is returned when a child process fails: it exited non-zero, was
// killed, or exited 0 without its success marker. Tail holds the last lines
// of its stderr (the full log is at LogPath when one was kept).
type ExitError struct {
	Tool     string   // program name, e.g. "mariabackup"
	ExitCode int      // -1 when killed by a signal
	Signal   string   // signal name when killed
	Tail     []string // last lines of stderr
	LogPath  string   // full stderr log, if kept
	Reason   string   // set when exit status 0 was not enough (e.g. no "completed OK!")
}

func (e *ExitError) Error() string {
	var b strings.Builder
	switch {
	case e.Reason != "":
		fmt.Fprintf(&b, "%s: %s", e.Tool, e.Reason)
	case e.Signal != "":
		fmt.Fprintf(&b, "%s killed by %s", e.Tool, e.Signal)
	default:
		fmt.Fprintf(&b, "%s exited with status %d", e.Tool, e.ExitCode)
	}
	if len(e.Tail) > 0 {
		b.WriteString("; last output:\n  ")
		b.WriteString(strings.Join(e.Tail, "\n  "))
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, "\n(full log: %s)", e.LogPath)
	}
	return b.String()
}

// Is makes an ExitError with Reason match ErrIncomplete.
func (e *ExitError) Is(target error) bool { return target == ErrIncomplete && e.Reason != "" }

// AccessDeniedError: the server refused the credentials.
type AccessDeniedError struct {
	Who    string // the connection, without password
	Detail string // the server's message
	err    error
}

func (e *AccessDeniedError) Error() string {
	return fmt.Sprintf("access denied for %s: %s: check the user and password (password file or %s) "+
		"and that the account exists for the host mybak connects from", e.Who, e.Detail, PasswordEnv)
}

// Unwrap returns the underlying tool or driver error.
func (e *AccessDeniedError) Unwrap() error { return e.err }

// Is matches ErrAccessDenied.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// MissingPrivilegesError: the user lacks privileges a tool needs.
type MissingPrivilegesError struct {
	Tool       string
	User       string
	Privileges []string // e.g. "RELOAD on *.*"
	err        error
}

func (e *MissingPrivilegesError) Error() string {
	user := e.User
	if user == "" {
		user = "the backup user"
	}
	var privs []string
	for _, p := range e.Privileges {
		privs = append(privs, strings.TrimSuffix(p, " on *.*"))
	}
	return fmt.Sprintf("%s: %s lacks privileges %s: run GRANT %s ON *.* TO %s",
		e.Tool, user, strings.Join(e.Privileges, ", "), strings.Join(privs, ", "), user)
}

// Unwrap returns the underlying ExitError.
func (e *MissingPrivilegesError) Unwrap() error { return e.err }

// Is matches ErrMissingPrivileges.
func (e *MissingPrivilegesError) Is(target error) bool { return target == ErrMissingPrivileges }

// LockTimeoutError: the backup lock could not be taken, usually because of
// long-running queries.
type LockTimeoutError struct {
	Tool    string
	Queries []string // "Waiting for query ..." lines, when the tool printed them
	err     error
}

func (e *LockTimeoutError) Error() string {
	msg := fmt.Sprintf("%s could not take its backup lock (FLUSH TABLES WITH READ LOCK / BACKUP STAGE) "+
		"because long-running queries held it up: ", e.Tool)
	if len(e.Queries) > 0 {
		msg += "blocking: " + strings.Join(e.Queries, "; ") + "; "
	}
	return msg + "run the backup in a quieter window, end those queries, or raise --ftwrl-wait-timeout " +
		"(`mybak preflight` lists the long-running queries)"
}

// Unwrap returns the underlying ExitError.
func (e *LockTimeoutError) Unwrap() error { return e.err }

// Is matches ErrLockTimeout.
func (e *LockTimeoutError) Is(target error) bool { return target == ErrLockTimeout }

// TableChangedError: mysqldump / mariadb-dump could not read a table that
// DDL changed after its snapshot (errors 1146 and 1412).
type TableChangedError struct {
	Tool  string
	Table string // as the tool names it, "" when it does not
	Line  string // the tool's line
	err   error
}

func (e *TableChangedError) Error() string {
	t, leave := "a table", "db.table"
	if e.Table != "" {
		t, leave = e.Table, e.Table
		if !strings.Contains(leave, ".") {
			leave = "db." + leave // mariadb-dump named the table only
		}
	}
	return fmt.Sprintf("%s: %s was dropped, truncated, renamed or rebuilt after the backup's snapshot and before %s read it (%s): "+
		"run the backup again when no DDL runs on the dumped tables, or leave the table out (after --: --ignore-table=%s)",
		e.Tool, t, e.Tool, e.Line, leave)
}

// Unwrap returns the underlying ExitError.
func (e *TableChangedError) Unwrap() error { return e.err }

// Is matches ErrTableChanged.
func (e *TableChangedError) Is(target error) bool { return target == ErrTableChanged }

var (
	// mariadb-dump: "Couldn't execute 'show create table `b`': Table 'zz.b'
	// doesn't exist (1146)"; "Error 1412: Table definition has changed,
	// please retry transaction when dumping table `b` at row: 0".
	reTableGone    = regexp.MustCompile(`Table '([^']*)' doesn't exist \(1146\)`)
	reTableChanged = regexp.MustCompile(`Error 1412: .*? when dumping table (` + "`" + `(?:[^` + "`" + `]|` + "``" + `)*` + "`" + `)`)
	reAccessDenied = regexp.MustCompile(`Access denied for user '([^']*)'@'([^']*)'(?: \(using password: (?:YES|NO)\))?`)
	reMissingPriv  = regexp.MustCompile(`missing required privilege (.+? on \S+)`)
	reWaitingQuery = regexp.MustCompile(`Waiting for query \d+ \(duration \d+ sec\): (.*)`)
	reNeedPriv     = regexp.MustCompile(`you need \(at least one of\) the (.+?) privilege`)
)

// classify turns a failed tool's output into a typed, actionable error where
// it recognises the failure; otherwise it returns ee unchanged.
func classify(ee *ExitError, lines []string) error {
	var missing []string
	var waiting []string
	for _, l := range lines {
		if m := reAccessDenied.FindStringSubmatch(l); m != nil {
			return &AccessDeniedError{Who: m[1] + "@" + m[2], Detail: strings.TrimSpace(m[0]), err: ee}
		}
		if m := reMissingPriv.FindStringSubmatch(l); m != nil {
			missing = appendUnique(missing, strings.TrimSuffix(strings.TrimSpace(m[1]), "."))
		}
		if m := reNeedPriv.FindStringSubmatch(l); m != nil {
			missing = appendUnique(missing, m[1]+" on *.*")
		}
		if m := reWaitingQuery.FindStringSubmatch(l); m != nil {
			waiting = appendUnique(waiting, strings.TrimSpace(m[1]))
		}
	}
	if len(missing) > 0 {
		return &MissingPrivilegesError{Tool: ee.Tool, Privileges: missing, err: ee}
	}
	for _, l := range lines {
		if m := reTableGone.FindStringSubmatch(l); m != nil {
			return &TableChangedError{Tool: ee.Tool, Table: m[1], Line: strings.TrimSpace(l), err: ee}
		}
		if m := reTableChanged.FindStringSubmatch(l); m != nil {
			return &TableChangedError{Tool: ee.Tool, Table: strings.Trim(m[1], "`"), Line: strings.TrimSpace(l), err: ee}
		}
		if strings.Contains(l, "Unable to obtain lock") ||
			(strings.Contains(l, "Lock wait timeout exceeded") && strings.Contains(l, "BACKUP")) ||
			(strings.Contains(l, "Lock wait timeout exceeded") && strings.Contains(l, "FLUSH TABLES")) {
			return &LockTimeoutError{Tool: ee.Tool, Queries: waiting, err: ee}
		}
	}
	return ee
}

func appendUnique(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}
