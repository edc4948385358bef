package restore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
)

// ErrTruncatedDump is returned (wrapped) when a dump restored into a server
// does not end with its "-- Dump completed" trailer.
var ErrTruncatedDump = errors.New(`the dump does not end with its "-- Dump completed" trailer: it is truncated`)

// LogicalOptions configure ToMySQL.
type LogicalOptions struct {
	Options
	Conn mysql.Conn
	// Force applies the dump into a server that already holds databases
	// other than the system ones.
	Force bool
	// LogPath keeps the client's whole stderr.
	LogPath string
	// NoBinlog applies the dump with sql_log_bin=0 (needs SUPER / BINLOG
	// ADMIN): a replica being built must not binlog the dump as its own
	// transactions, whose GTIDs would conflict with the primary's.
	NoBinlog bool
	// A logical engine backup's load (the other engines' restores
	// refuse them): Options.Parallel connections, the tables selected by
	// Include/Exclude (db or db.table patterns), Resume a load that
	// stopped, DeferIndexes, Users (accounts and grants).
	Include, Exclude []string
	Resume           bool
	DeferIndexes     bool
	Users            bool
	// Client is the tool family whose SQL client ToMySQL runs
	// (mysql.ClientTool): the engine sets it; empty means mariadb-dump's
	// (mariadb, else mysql).
	Client mysql.Engine
	Log    *slog.Logger
}

// LoadOnly returns an error naming the first option of o that only a
// logical engine backup's load has (Include, Exclude, Resume,
// DeferIndexes, Users), for the restores of the other engines.
func (o LogicalOptions) LoadOnly(id, engine string) error {
	for _, f := range []struct {
		set  bool
		flag string
	}{{len(o.Include) > 0, "--include"}, {len(o.Exclude) > 0, "--exclude"}, {o.Resume, "--resume"},
		{o.DeferIndexes, "--defer-indexes"}, {o.Users, "--users"}} {
		if f.set {
			return fmt.Errorf("%s applies to backups of the logical engine; %s was taken with %s, whose SQL is applied whole", f.flag, id, engine)
		}
	}
	return nil
}

// AppliedError is a failure of a logical restore after part of the dump
// was sent to the server: it says how much, so the user knows the server
// holds a partial restore.
type AppliedError struct {
	ID    string
	Bytes int64 // bytes of SQL handed to the client
	Lines int64 // complete lines handed to the client
	Err   error
}

func (e *AppliedError) Error() string {
	if e.Bytes == 0 {
		return fmt.Sprintf("restore %s into MySQL: %v; nothing was applied", e.ID, e.Err)
	}
	return fmt.Sprintf("restore %s into MySQL: %v; the server holds a PARTIAL restore: the first %d lines "+
		"(%d bytes) of the dump were sent to the client and may have been applied: drop the restored databases "+
		"before trying again with another backup", e.ID, e.Err, e.Lines, e.Bytes)
}

// Unwrap returns the cause.
func (e *AppliedError) Unwrap() error { return e.Err }

// systemSchemas are databases every server has; restoring over them is
// what a full dump does.
var systemSchemas = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// UserDatabases lists the databases of a server other than the system ones.
func UserDatabases(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
		if !systemSchemas[strings.ToLower(s)] {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}

// ToMySQL streams the SQL of logical backup m (the engine chose this
// restore: engine/dump, engine/stdin) into the mysql / mariadb
// client connected by o.Conn. Before anything is applied it checks that
// every stored object is present with its size (so a cut-off object fails
// first) and that the server holds no user database (unless Force). While
// the dump flows, its last bytes are held back until the whole stream has
// decoded with the manifest's sizes and hashes and ends with the dump
// trailer; on any failure the client is killed before it sees them. The
// client's own error ("ERROR 1064 (42000) at line N: ...") is reported,
// never a broken pipe. Errors after the first byte was sent are
// *AppliedError, saying how much was sent.
func ToMySQL(ctx context.Context, st storage.Backend, m *backup.Manifest, o LogicalOptions) error {
	if m.Incremental() {
		return fmt.Errorf("backup %s is incremental: only logical backups can go --to-mysql", m.ID)
	}
	if _, err := decodeOptions(m, o.Options); err != nil {
		return err
	}
	if err := checkObjects(ctx, st, m); err != nil {
		return err
	}
	// An authenticated backup's objects are read back and compared with
	// their authenticated hashes before the first statement is applied.
	if err := checkAuthenticatedObjects(ctx, st, m); err != nil {
		return err
	}
	client := o.Client
	if client == "" {
		client = mysql.EngineMariadbDump
	}
	return ApplySQL(ctx, m.ID, client, func(ctx context.Context, w io.Writer) error {
		_, err := ToWriter(ctx, st, m, w, o.Options)
		return err
	}, o)
}

// ApplySQL streams the SQL that produce writes into the mysql / mariadb
// client connected by o.Conn, with ToMySQL's safeguards: a server holding
// user databases is refused unless Force; the last bytes are held back
// until produce returned nil and the SQL ends with the dump trailer, and on
// any failure the client is killed before it sees them. name names the
// dump in messages, client is the tool family whose SQL client applies it
// (mysql.ClientTool: mariadb for mariadb-dump, mysql for mysqldump).
// With NoBinlog the session runs SET SESSION sql_log_bin=0 first. Errors
// after the first byte was sent are *AppliedError.
func ApplySQL(ctx context.Context, name string, client mysql.Engine, produce func(ctx context.Context, w io.Writer) error, o LogicalOptions) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := mysql.Open(ctx, o.Conn)
	if err != nil {
		return err
	}
	dbs, err := UserDatabases(ctx, db)
	db.Close()
	if err != nil {
		return err
	}
	if len(dbs) > 0 && !o.Force {
		return fmt.Errorf("%w: the server %s already holds the database(s) %s: restore into an empty server, or add --force to apply the dump over them",
			ErrNotEmpty, o.Conn, strings.Join(dbs, ", "))
	}
	clientPath, err := mysql.ClientTool(client)
	if err != nil {
		return err
	}

	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pr, pw := io.Pipe()
	hw := &holdWriter{w: pw}
	decodeErr := make(chan error, 1)
	go func() {
		var err error
		if o.NoBinlog {
			_, err = pw.Write([]byte("SET SESSION sql_log_bin=0;\n"))
		}
		if err == nil {
			err = produce(cctx, hw)
		}
		if err == nil && !mysql.DumpComplete(hw.held) {
			err = fmt.Errorf("backup %s: %w", name, ErrTruncatedDump)
		}
		if err == nil {
			err = hw.flush()
		}
		if err != nil {
			// Kill the client before it reads past what was sent: a cut
			// statement must not be executed.
			cancel(err)
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
		decodeErr <- err
	}()
	log.Info("applying dump", "id", name, "client", clientPath, "server", o.Conn.String())
	applyErr := mysql.ApplyDump(cctx, mysql.ApplyOptions{Client: clientPath, Engine: client, Conn: o.Conn, LogPath: o.LogPath}, pr)
	pr.CloseWithError(errors.New("the SQL client stopped"))
	derr := <-decodeErr
	applied := &AppliedError{ID: name, Bytes: hw.sent, Lines: hw.lines}
	switch {
	case derr != nil && (applyErr == nil || errors.Is(applyErr, context.Canceled) || strings.Contains(applyErr.Error(), "aborted")):
		applied.Err = derr
		return applied
	case applyErr != nil:
		var ad *mysql.ApplyDumpError
		if errors.As(applyErr, &ad) || errors.Is(applyErr, mysql.ErrAccessDenied) {
			applied.Err = applyErr
			return applied
		}
		if derr != nil {
			applied.Err = fmt.Errorf("%w (%v)", derr, applyErr)
			return applied
		}
		applied.Err = applyErr
		return applied
	}
	return nil
}

// checkObjects compares the stored objects' sizes with the manifest.
func checkObjects(ctx context.Context, st storage.Backend, m *backup.Manifest) error {
	for _, o := range m.Objects {
		oi, err := st.Stat(ctx, m.ObjectPath(o.Name))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return fmt.Errorf("restore %s: %w: object %s is missing; nothing was applied", m.ID, ErrDamaged, o.Name)
		case err != nil:
			return fmt.Errorf("restore %s: %w", m.ID, err)
		case oi.Size != o.Size:
			return fmt.Errorf("restore %s: %w: object %s holds %d bytes, the manifest says %d (truncated?); nothing was applied",
				m.ID, ErrDamaged, o.Name, oi.Size, o.Size)
		}
	}
	return nil
}

// holdWriter passes bytes on but always holds the last holdBack bytes
// until flush, counting what it sent.
type holdWriter struct {
	w     io.Writer
	held  []byte
	sent  int64
	lines int64
}

// holdBack covers the dump trailer and the statement before it.
const holdBack = 64 << 10

func (h *holdWriter) Write(p []byte) (int, error) {
	h.held = append(h.held, p...)
	if len(h.held) <= 2*holdBack {
		return len(p), nil
	}
	out := h.held[:len(h.held)-holdBack]
	if err := h.send(out); err != nil {
		return 0, err
	}
	h.held = append(h.held[:0], h.held[len(h.held)-holdBack:]...)
	return len(p), nil
}

func (h *holdWriter) send(b []byte) error {
	n, err := h.w.Write(b)
	h.sent += int64(n)
	h.lines += int64(bytes.Count(b[:n], []byte{'\n'}))
	return err
}

func (h *holdWriter) flush() error {
	err := h.send(h.held)
	h.held = nil
	return err
}
