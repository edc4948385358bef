package engine

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/status"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// Engine is one kind of backup: how it is taken, restored, checked and
// drilled. Implementations are registered (Register) under the name they
// write into manifests and are safe for concurrent use: they hold no
// state of one backup (NewBackup returns that).
type Engine interface {
	// Name is the engine's name as written into manifests
	// (Manifest.Engine.Name): mariabackup, mysqldump, stdin, ...
	Name() string
	// NewBackup returns the backup side of the engine, configured by
	// cfg, for backup.Run. A flag cfg.Given reports that does not apply
	// to the engine is a *UsageError.
	NewBackup(cfg BackupConfig) (backup.Engine, error)
	// Into says which kind of Target the engine restores into; callers
	// that prepare a target first (make-replica, a drill) ask it.
	Into() TargetKind
	// Restore restores chain (the full backup first, the backup to
	// restore last; a backup without parents is a chain of one) from st
	// into t. A target of the other kind than Into is an error matching
	// ErrWrongTarget that says which flags fit the backup.
	Restore(ctx context.Context, st storage.Backend, chain []*backup.Manifest, t Target) error
	// RestoreWire restores the full backup a wire stream carries
	// (`mybak backup --to-stdout`) into t and returns its manifest, like
	// Restore.
	RestoreWire(ctx context.Context, wr *backup.WireReader, t Target) (*backup.Manifest, error)
	// CheckChain says why chain (full first) cannot be restored, or
	// returns nil: the links between the backups (verify checks them).
	CheckChain(chain []*backup.Manifest) error
	// NewContentCheck returns the check verify --deep writes m's decoded
	// stream into.
	NewContentCheck(ctx context.Context, m *backup.Manifest) ContentCheck
	// Drill says what a restore drill of m needs, or why m cannot be
	// drilled (an error that says what to do instead).
	Drill(m *backup.Manifest) (DrillPlan, error)
}

// Incremental is implemented by engines that take incremental backups:
// the engine chooses the parent of one.
type Incremental interface {
	Engine
	// Parent returns the backup an incremental taken now from q.Server
	// applies onto: the backup q.Ref names, or for "latest" the newest
	// complete backup of the engine that can be a parent. A backup that
	// cannot be one is an error matching backup.ErrBadParent; none at
	// all, backup.ErrNoBackup.
	Parent(ctx context.Context, q ParentQuery) (*backup.Manifest, error)
}

// Dumper is implemented by engines whose tool reads a server over the
// network, so that make-replica --fresh can stream a new backup of the
// primary straight into the replica, with no store in between.
type Dumper interface {
	Engine
	// DumpInto backs up the server cfg describes (Tool, Conn, Server,
	// LogPath) into t as the backup is taken, and returns the binary log
	// position of the backup's consistent point.
	DumpInto(ctx context.Context, cfg BackupConfig, t Target) (mysql.BinlogPosition, error)
}

// Toolless is implemented by engines that read the server themselves,
// with no program of their own to find (the logical engine): the cli
// connects and probes the server but chooses no tool for them.
type Toolless interface {
	Engine
	Toolless()
}

// ParentQuery is what Incremental.Parent needs to know about where it
// looks and what it is for.
type ParentQuery struct {
	// Ref is --parent: an ID, or "latest".
	Ref string
	// Load returns the manifest of the backup with ID id, in the store's
	// layout (Trove's catalogue for Trove's).
	Load func(ctx context.Context, id string) (*backup.Manifest, error)
	// Entries lists the store's backups, oldest first.
	Entries func(ctx context.Context) ([]backup.Entry, error)
	// Server is the server the incremental is taken from, probed.
	Server *mysql.ServerInfo
	// Location names the store in messages.
	Location string
	// Log gets the choice and the backups passed over.
	Log *slog.Logger
}

// BackupConfig is what the command line says about a backup, for
// NewBackup. Each engine takes what applies to it.
type BackupConfig struct {
	// Stdin is the stream the stdin engine backs up.
	Stdin io.Reader

	// Tool is the program of a MySQL engine (chosen by mysql.SelectTool);
	// Conn, DB and Server reach and describe the server.
	Tool   mysql.Tool
	Conn   mysql.Conn
	DB     *sql.DB
	Server *mysql.ServerInfo

	// The tool's options from backup's flags (see Given).
	Parallel         int
	Throttle         int
	UseMemory        string
	FTWRLWaitTimeout int
	LockWaitTimeout  int
	// Given reports whether the user gave flag (without its dashes): an
	// engine refuses one that does not apply to it. Nil: none given.
	Given func(flag string) bool

	// The logical engine's options: connections reading the snapshot
	// (--dump-threads), the tables selected (--include/--exclude
	// patterns db or db.table), accounts and grants (--users).
	DumpThreads      int
	Include, Exclude []string
	Users            bool
	// Log gets the engine's progress (nil: none).
	Log *slog.Logger
	// Status, when set, gets the engine's account of how far the backup
	// is in its own units (tables, rows against the server's estimate);
	// an engine that has none never calls it.
	Status status.Func

	// ExtraArgs go to the tool verbatim (after -- on mybak's command line).
	ExtraArgs []string
	// WorkDir is the tool's temporary dir; LogPath keeps its whole stderr.
	WorkDir string
	LogPath string
	// OnLine sees every line of the tool's stderr; Warnf gets warnings.
	OnLine func(string)
	Warnf  func(format string, a ...any)
	// RowCounts configures the row counts recorded after the backup.
	RowCounts backup.RowCountOptions
}

// given reports whether flag was given.
func (c BackupConfig) given(flag string) bool { return c.Given != nil && c.Given(flag) }

// UsageError is a flag or argument that does not apply to the engine;
// the cli reports it as a usage error.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// TargetKind is a kind of restore target.
type TargetKind int

// Target kinds.
const (
	// IntoFiles restores files: a target dir, a server's (stopped)
	// datadir.
	IntoFiles TargetKind = iota + 1
	// IntoServer applies SQL into a running server.
	IntoServer
)

// Target is where a restore goes: the cli's flags say which of its
// fields are set (restore --target-dir/--datadir: Files; --to-mysql:
// Server; make-replica both, the engine takes the one it restores into).
type Target struct {
	// Files receives the files of a backup (see restore.Physical).
	Files *restore.PhysicalOptions
	// Server receives SQL (see restore.ApplySQL).
	Server *restore.LogicalOptions
}

// ErrWrongTarget is matched by the error of a restore into a target the
// engine does not restore into (a dump into --target-dir).
var ErrWrongTarget = errors.New("the backup cannot be restored into this kind of target")

// wrongTarget wraps a message for ErrWrongTarget without changing it.
type wrongTarget struct{ msg string }

func (e wrongTarget) Error() string { return e.msg }
func (e wrongTarget) Is(t error) bool {
	return t == ErrWrongTarget
}

// WrongTarget returns an error matching ErrWrongTarget whose message is
// msg as it is.
func WrongTarget(msg string) error { return wrongTarget{msg} }

// DrillPlan is what a restore drill of a backup needs.
type DrillPlan struct {
	// Kind names the backup's kind in the drill's report: "physical",
	// "logical".
	Kind string
	// Into: IntoFiles restores into the scratch server's datadir before
	// it starts; IntoServer starts an empty scratch server and applies
	// the backup into it.
	Into TargetKind
	// Flavor is the server flavour assumed when the backup does not
	// record its server's version ("" when the engine does not say).
	Flavor mysql.Flavor
	// SameMajorMinor: the scratch server must run the backup's server's
	// major.minor version (a newer one would upgrade the files).
	SameMajorMinor bool
	// Data estimates the room the restored data takes, from the chain's
	// raw bytes (the server's own files come on top).
	Data func(raw int64) int64
}
