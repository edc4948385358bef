// Package stdin is the engine of `mybak backup` without a MySQL engine:
// whatever standard input yields, stored as it is (backup.StdinEngine).
// Its backups go back --to-stdout; one that holds SQL can be applied
// --to-mysql (through mariadb, else mysql); verify --deep recognises an
// xbstream or a dump by its first bytes. It is also the fallback engine
// for manifests that name no registered engine.
package stdin

import (
	"context"
	"fmt"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/engine/dump"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
)

// Name is the stdin engine's name in manifests.
const Name = "stdin"

func init() {
	engine.Register(Engine{})
	engine.RegisterFallback(Engine{})
}

// Engine is the stdin engine.
type Engine struct{}

var _ engine.Offered = Engine{}

// client is the tool family whose SQL client applies a stream of SQL.
const client = mysql.EngineMariadbDump

// Name implements engine.Engine.
func (Engine) Name() string { return Name }

// Offer implements engine.Offered: not a server's engine (backup
// --engine stdin stores standard input), but streamed by --to-stdout.
func (Engine) Offer() engine.Offer { return engine.Offer{Wire: true} }

// NewBackup implements engine.Engine: a copy of cfg.Stdin.
func (Engine) NewBackup(cfg engine.BackupConfig) (backup.Engine, error) {
	return backup.StdinEngine{R: cfg.Stdin}, nil
}

// Into implements engine.Engine: SQL into a server, when the stream is SQL.
func (Engine) Into() engine.TargetKind { return engine.IntoServer }

// Restore implements engine.Engine: the stream is applied as SQL.
func (Engine) Restore(ctx context.Context, st storage.Backend, chain []*backup.Manifest, t engine.Target) error {
	return dump.ApplyChain(ctx, st, chain, t, client)
}

// RestoreWire implements engine.Engine: the stream is applied as SQL.
func (Engine) RestoreWire(ctx context.Context, wr *backup.WireReader, t engine.Target) (*backup.Manifest, error) {
	return dump.ApplyWire(ctx, wr, t, client)
}

// CheckChain implements engine.Engine: a stream stands alone.
func (Engine) CheckChain([]*backup.Manifest) error { return nil }

// NewContentCheck implements engine.Engine: the first bytes say whether
// the stream is an xbstream or a dump, checked as such; anything else is
// only hashed.
func (Engine) NewContentCheck(ctx context.Context, m *backup.Manifest) engine.ContentCheck {
	producer := m.Engine.Name // a name no engine registered: the stdin engine is the fallback
	if producer == "" || producer == Name {
		producer = "the program that produced it"
	}
	return engine.NewSniffCheck(ctx, m, producer)
}

// Drill implements engine.Engine: a stream of unknown bytes cannot be
// drilled.
func (Engine) Drill(m *backup.Manifest) (engine.DrillPlan, error) {
	return engine.DrillPlan{}, fmt.Errorf("backup %s was taken with the %s engine: a restore drill needs a MySQL backup (mariabackup, xtrabackup, innobackupex, mysqldump, mariadb-dump); use verify --deep", m.ID, m.Engine.Name)
}
