package physical

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
)

// Backup is the backup side of a physical engine: it takes physical
// backups with xtrabackup, innobackupex or mariabackup (xbstream stream),
// and an incremental one when Run is handed a parent: the parent's to_lsn
// is passed as --incremental-lsn.
type Backup struct {
	// Options are passed to mysql.BackupPhysical; IncrementalLSN is set
	// from the parent. Options.LogPath should be set: it keeps the tool's
	// whole stderr, and errors point to it.
	Options mysql.PhysicalOptions
	// RowCounts, when set, counts the tables' rows after the backup (see
	// backup.MetaRowCounts).
	RowCounts backup.RowCountOptions
}

var _ backup.Engine = (*Backup)(nil)

// Name implements backup.Engine: the tool family (mariabackup, xtrabackup, ...).
func (e *Backup) Name() string { return string(e.Options.Tool.Engine) }

// Extension implements backup.Engine.
func (e *Backup) Extension() string { return ".xbstream" }

// ParentLSN returns the LSN an incremental child of m starts from, with an
// error matching backup.ErrBadParent when m is not a physical backup of
// engine.
func ParentLSN(m *backup.Manifest, engine string) (uint64, error) {
	if m.Engine.Name != engine {
		return 0, fmt.Errorf("%w: %s was taken with %s, not %s: take a full %s backup first",
			backup.ErrBadParent, m.ID, m.Engine.Name, engine, engine)
	}
	lsn, err := strconv.ParseUint(m.Meta[backup.MetaToLSN], 10, 64)
	if err != nil || lsn == 0 {
		return 0, fmt.Errorf("%w: %s records no to_lsn: take a full backup first", backup.ErrBadParent, m.ID)
	}
	return lsn, nil
}

// Run implements backup.Engine: it streams the tool's xbstream to w and
// returns the checkpoints, binlog coordinates and versions as Meta.
func (e *Backup) Run(ctx context.Context, w io.Writer, parent *backup.Manifest) (backup.EngineResult, error) {
	o := e.Options
	o.IncrementalLSN = 0
	if parent != nil {
		lsn, err := ParentLSN(parent, e.Name())
		if err != nil {
			return backup.EngineResult{}, err
		}
		o.IncrementalLSN = lsn
	}
	res, err := mysql.BackupPhysical(ctx, o, w)
	if err != nil {
		return backup.EngineResult{}, err
	}
	if parent != nil && res.Checkpoints.FromLSN != o.IncrementalLSN {
		return backup.EngineResult{}, fmt.Errorf("%s wrote an incremental from LSN %d, asked for %d",
			e.Name(), res.Checkpoints.FromLSN, o.IncrementalLSN)
	}
	meta := map[string]string{
		backup.MetaTool:       string(res.Engine),
		backup.MetaBackupType: res.Checkpoints.BackupType,
		backup.MetaFromLSN:    strconv.FormatUint(res.Checkpoints.FromLSN, 10),
		backup.MetaToLSN:      strconv.FormatUint(res.Checkpoints.ToLSN, 10),
	}
	if res.Checkpoints.LastLSN > 0 {
		meta[backup.MetaLastLSN] = strconv.FormatUint(res.Checkpoints.LastLSN, 10)
	}
	backup.AddVersionMeta(meta, res.ToolVersion, o.Server)
	backup.AddBinlogMeta(meta, res.Binlog)
	backup.RecordRowCounts(ctx, e.RowCounts, o.DB, o.Conn, o.Server, res.Binlog, meta)
	sv := res.ServerVersion
	if sv == "" && o.Server != nil {
		sv = o.Server.Version
	}
	return backup.EngineResult{Version: res.ToolVersion, ServerVersion: sv, Incremental: parent != nil, Meta: meta}, nil
}
