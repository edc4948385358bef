// Package dump is the engine of the SQL dump tools (mysqldump,
// mariadb-dump): a full backup only, restored by applying the SQL into a
// running server with the tool's own client (restore.ToMySQL), checked
// for its "-- Dump completed" trailer by verify --deep, drilled by
// applying it into an empty scratch server. It registers one Engine per
// tool.
package dump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// tools are the dump programs, one engine each.
var tools = []mysql.Engine{mysql.EngineMysqldump, mysql.EngineMariadbDump}

func init() {
	for _, t := range tools {
		engine.Register(Engine{tool: t})
	}
}

// Engine is the dump engine of one tool.
type Engine struct {
	tool mysql.Engine
}

var (
	_ engine.Dumper  = Engine{}
	_ engine.Offered = Engine{}
)

// Name implements engine.Engine: the tool's name.
func (e Engine) Name() string { return string(e.tool) }

// Offer implements engine.Offered: a --engine of backup and preflight,
// streamed by --to-stdout; listed after the physical engines.
func (e Engine) Offer() engine.Offer {
	return engine.Offer{Server: true, Wire: true, Rank: 20 + slices.Index(tools, e.tool)}
}

// physicalFlags are backup's flags for the physical tools only, in the
// order they are refused.
var physicalFlags = []string{"parallel", "throttle", "use-memory", "lock-wait-timeout", "ftwrl-wait-timeout"}

// NewBackup implements engine.Engine. The physical tools' flags are
// refused (--lock-wait-timeout as for every tool but xtrabackup).
func (e Engine) NewBackup(cfg engine.BackupConfig) (backup.Engine, error) {
	given := func(f string) bool { return cfg.Given != nil && cfg.Given(f) }
	if given("lock-wait-timeout") {
		return nil, &engine.UsageError{Msg: fmt.Sprintf("--lock-wait-timeout is xtrabackup 8.0's --backup-lock-timeout; %s has none: use --ftwrl-wait-timeout", e.tool)}
	}
	for _, f := range physicalFlags {
		if given(f) {
			return nil, &engine.UsageError{Msg: fmt.Sprintf("--%s applies to physical engines, not %s", f, e.tool)}
		}
	}
	return &Backup{Options: mysql.DumpOptions{Tool: cfg.Tool, Conn: cfg.Conn, Server: cfg.Server,
		ExtraArgs: cfg.ExtraArgs, LogPath: cfg.LogPath, OnLine: cfg.OnLine}, RowCounts: cfg.RowCounts}, nil
}

// Into implements engine.Engine: a server.
func (e Engine) Into() engine.TargetKind { return engine.IntoServer }

// NotFiles is the error of a restore of a backup of a non-physical
// engine (a dump, a stdin stream) into files.
func NotFiles(id, name string) error {
	return engine.WrongTarget(fmt.Sprintf("backup %s was taken with the %s engine, not a physical one: restore it with --to-mysql or --to-stdout", id, name))
}

// Restore implements engine.Engine: the last backup of chain (a dump has
// no parents) is applied with restore.ToMySQL through the tool's client.
func (e Engine) Restore(ctx context.Context, st storage.Backend, chain []*backup.Manifest, t engine.Target) error {
	return ApplyChain(ctx, st, chain, t, e.tool)
}

// ApplyChain restores the last backup of chain into t.Server with
// restore.ToMySQL through client's SQL client (engine/stdin shares it).
func ApplyChain(ctx context.Context, st storage.Backend, chain []*backup.Manifest, t engine.Target, client mysql.Engine) error {
	if len(chain) == 0 {
		return errors.New("empty backup chain")
	}
	if t.Server == nil {
		return NotFiles(chain[0].ID, chain[0].Engine.Name)
	}
	o := *t.Server
	o.Client = client
	if err := o.LoadOnly(chain[0].ID, chain[0].Engine.Name); err != nil {
		return err
	}
	return restore.ToMySQL(ctx, st, chain[len(chain)-1], o)
}

// RestoreWire implements engine.Engine.
func (e Engine) RestoreWire(ctx context.Context, wr *backup.WireReader, t engine.Target) (*backup.Manifest, error) {
	return ApplyWire(ctx, wr, t, e.tool)
}

// ApplyWire applies the SQL a wire stream carries into t.Server with
// restore.ApplySQL through client's SQL client, and returns the stream's
// manifest (engine/stdin shares it).
func ApplyWire(ctx context.Context, wr *backup.WireReader, t engine.Target, client mysql.Engine) (*backup.Manifest, error) {
	if t.Server == nil {
		return nil, NotFiles(wr.Header.ID, wr.Header.Engine)
	}
	if err := t.Server.LoadOnly(wr.Header.ID, wr.Header.Engine); err != nil {
		return nil, err
	}
	var m *backup.Manifest
	err := restore.ApplySQL(ctx, wr.Header.ID, client, func(ctx context.Context, w io.Writer) error {
		var err error
		m, err = restore.DecodeWire(ctx, wr, w, t.Server.Options)
		return err
	}, *t.Server)
	return m, err
}

// DumpInto implements engine.Dumper: the tool's dump of cfg's server is
// applied into t.Server as it is written (restore.ApplySQL's safeguards:
// the trailer is held back until the dump completed).
func (e Engine) DumpInto(ctx context.Context, cfg engine.BackupConfig, t engine.Target) (mysql.BinlogPosition, error) {
	if t.Server == nil {
		return mysql.BinlogPosition{}, errors.New("a fresh dump is applied into a running server: no server given")
	}
	o := mysql.DumpOptions{Tool: cfg.Tool, Conn: cfg.Conn, Server: cfg.Server, LogPath: cfg.LogPath}
	var res *mysql.DumpResult
	err := restore.ApplySQL(ctx, "fresh dump of "+o.Conn.String(), e.tool, func(ctx context.Context, w io.Writer) error {
		var err error
		res, err = mysql.BackupLogical(ctx, o, w)
		return err
	}, *t.Server)
	if err != nil {
		return mysql.BinlogPosition{}, err
	}
	return res.Binlog, nil
}

// CheckChain implements engine.Engine: a dump stands alone.
func (e Engine) CheckChain(chain []*backup.Manifest) error { return nil }

// NewContentCheck implements engine.Engine: the dump's trailer.
func (e Engine) NewContentCheck(ctx context.Context, m *backup.Manifest) engine.ContentCheck {
	return engine.NewDumpCheck(ctx, m)
}

// Drill implements engine.Engine: the dump is applied into an empty
// scratch server (of any version: a dump is portable); its tables take
// more room than its SQL text (indexes, page fill): half as much again.
func (e Engine) Drill(m *backup.Manifest) (engine.DrillPlan, error) {
	p := engine.DrillPlan{Kind: "logical", Into: engine.IntoServer,
		Data: func(raw int64) int64 { return raw + raw/2 }}
	if e.tool == mysql.EngineMariadbDump {
		p.Flavor = mysql.FlavorMariaDB
	}
	return p, nil
}

// Backup is the backup side of a dump engine: mysqldump or mariadb-dump.
// The dump must end with its "-- Dump completed" trailer.
type Backup struct {
	Options mysql.DumpOptions
	// RowCounts, when set, counts the tables' rows after the dump (see
	// backup.MetaRowCounts).
	RowCounts backup.RowCountOptions
}

var _ backup.Engine = (*Backup)(nil)

// Name implements backup.Engine (mysqldump or mariadb-dump).
func (e *Backup) Name() string { return string(e.Options.Tool.Engine) }

// Extension implements backup.Engine.
func (e *Backup) Extension() string { return ".sql" }

// Run implements backup.Engine. A logical backup is always full.
func (e *Backup) Run(ctx context.Context, w io.Writer, parent *backup.Manifest) (backup.EngineResult, error) {
	if parent != nil {
		return backup.EngineResult{}, fmt.Errorf("%s cannot take incremental backups: use a physical engine (mariabackup, xtrabackup)", e.Name())
	}
	res, err := mysql.BackupLogical(ctx, e.Options, w)
	if err != nil {
		return backup.EngineResult{}, err
	}
	meta := map[string]string{backup.MetaTool: string(res.Engine)}
	backup.AddVersionMeta(meta, res.ToolVersion, e.Options.Server)
	backup.AddBinlogMeta(meta, res.Binlog)
	backup.RecordRowCounts(ctx, e.RowCounts, nil, e.Options.Conn, e.Options.Server, res.Binlog, meta)
	var sv string
	if e.Options.Server != nil {
		sv = e.Options.Server.Version
	}
	return backup.EngineResult{Version: res.ToolVersion, ServerVersion: sv, Meta: meta}, nil
}
