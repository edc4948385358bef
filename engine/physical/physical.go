// Package physical is the engine of the physical tools (mariabackup,
// xtrabackup, innobackupex): an xbstream of the server's InnoDB files,
// taken full or incremental (Parent chooses an incremental's parent),
// restored into files (extract, prepare, copy-back: restore.Physical),
// checked chunk by chunk by verify --deep, drilled by restoring into a
// scratch server's datadir. It registers one Engine per tool.
package physical

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// tools are the programs whose names the physical engines write into
// manifests, one engine each.
var tools = []mysql.Engine{mysql.EngineMariabackup, mysql.EngineXtrabackup, mysql.EngineInnobackupex}

func init() {
	for _, t := range tools {
		engine.Register(Engine{tool: t})
	}
}

// isPhysical reports whether name is the name of a physical engine.
func isPhysical(name string) bool {
	for _, t := range tools {
		if string(t) == name {
			return true
		}
	}
	return false
}

// Engine is the physical engine of one tool.
type Engine struct {
	tool mysql.Engine
}

var (
	_ engine.Incremental = Engine{}
	_ engine.Offered     = Engine{}
)

// Name implements engine.Engine: the tool's name.
func (e Engine) Name() string { return string(e.tool) }

// Offer implements engine.Offered: a --engine of backup and preflight,
// streamed by --to-stdout; listed first, in the order of tools.
func (e Engine) Offer() engine.Offer {
	return engine.Offer{Server: true, Wire: true, Rank: 10 + slices.Index(tools, e.tool)}
}

// NewBackup implements engine.Engine. --lock-wait-timeout is
// xtrabackup's only.
func (e Engine) NewBackup(cfg engine.BackupConfig) (backup.Engine, error) {
	if err := checkLockWait(cfg, e.tool); err != nil {
		return nil, err
	}
	return &Backup{Options: mysql.PhysicalOptions{
		Tool: cfg.Tool, Conn: cfg.Conn, DB: cfg.DB, Server: cfg.Server,
		Parallel: cfg.Parallel, Throttle: cfg.Throttle, UseMemory: cfg.UseMemory,
		FTWRLWaitTimeout: cfg.FTWRLWaitTimeout, LockWaitTimeout: cfg.LockWaitTimeout,
		ExtraArgs: cfg.ExtraArgs, WorkDir: cfg.WorkDir, LogPath: cfg.LogPath, OnLine: cfg.OnLine, Warnf: cfg.Warnf,
	}, RowCounts: cfg.RowCounts}, nil
}

// checkLockWait refuses --lock-wait-timeout for a tool other than
// xtrabackup 8.0 (whose --backup-lock-timeout it is).
func checkLockWait(cfg engine.BackupConfig, tool mysql.Engine) error {
	if cfg.Given != nil && cfg.Given("lock-wait-timeout") && tool != mysql.EngineXtrabackup {
		return &engine.UsageError{Msg: fmt.Sprintf("--lock-wait-timeout is xtrabackup 8.0's --backup-lock-timeout; %s has none: use --ftwrl-wait-timeout", tool)}
	}
	return nil
}

// Into implements engine.Engine: files.
func (e Engine) Into() engine.TargetKind { return engine.IntoFiles }

// wrongTarget is the error of a restore of m into a server.
func wrongTarget(id string, tool string) error {
	return engine.WrongTarget(fmt.Sprintf("backup %s is a physical %s backup: restore it with --target-dir DIR (and --copy-back --datadir)", id, tool))
}

// Restore implements engine.Engine: the chain is checked (CheckChain),
// then extracted, prepared and copied back by restore.Physical.
func (e Engine) Restore(ctx context.Context, st storage.Backend, chain []*backup.Manifest, t engine.Target) error {
	if len(chain) == 0 {
		return errors.New("empty backup chain")
	}
	if t.Files == nil {
		last := chain[len(chain)-1]
		return wrongTarget(last.ID, last.Engine.Name)
	}
	if err := e.CheckChain(chain); err != nil {
		return err
	}
	o := *t.Files
	o.Tools = chooser{tool: e.tool, src: engineSourceOf(chain[0])}
	return restore.Physical(ctx, st, chain, o)
}

// RestoreWire implements engine.Engine with restore.PhysicalFromWire.
func (e Engine) RestoreWire(ctx context.Context, wr *backup.WireReader, t engine.Target) (*backup.Manifest, error) {
	if t.Files == nil {
		return nil, wrongTarget(wr.Header.ID, wr.Header.Engine)
	}
	o := *t.Files
	o.Tools = chooser{tool: e.tool, src: engineSource{why: "its manifest says engine=" + e.Name(), sure: true}}
	return restore.PhysicalFromWire(ctx, wr, o)
}

// CheckChain implements engine.Engine: a full backup followed by its
// incrementals in order, all of one tool, each starting at the LSN its
// parent ends at.
func (e Engine) CheckChain(chain []*backup.Manifest) error {
	if len(chain) == 0 {
		return errors.New("empty backup chain")
	}
	if chain[0].Incremental() {
		return fmt.Errorf("backup chain starts with incremental %s: its full backup is missing", chain[0].ID)
	}
	for i := 1; i < len(chain); i++ {
		m, p := chain[i], chain[i-1]
		if m.Engine.Name != chain[0].Engine.Name || m.Parent != p.ID || !m.Incremental() {
			return fmt.Errorf("backup chain broken at %s (parent %s, engine %s)", m.ID, m.Parent, m.Engine.Name)
		}
		if m.Meta[backup.MetaFromLSN] != p.Meta[backup.MetaToLSN] {
			return fmt.Errorf("backup chain broken: %s starts at LSN %s but its parent %s ends at %s",
				m.ID, m.Meta[backup.MetaFromLSN], p.ID, p.Meta[backup.MetaToLSN])
		}
	}
	return nil
}

// NewContentCheck implements engine.Engine: every xbstream chunk.
func (e Engine) NewContentCheck(ctx context.Context, m *backup.Manifest) engine.ContentCheck {
	return engine.NewXbstreamCheck(ctx, m, m.Engine.Name)
}

// Drill implements engine.Engine: the chain is restored into the scratch
// server's datadir, which must run the backup's major.minor version.
func (e Engine) Drill(m *backup.Manifest) (engine.DrillPlan, error) {
	p := engine.DrillPlan{Kind: "physical", Into: engine.IntoFiles, SameMajorMinor: true,
		Data: func(raw int64) int64 { return raw }}
	if e.tool == mysql.EngineMariabackup {
		p.Flavor = mysql.FlavorMariaDB
	}
	return p, nil
}
