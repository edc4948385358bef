package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/mybak/mybak/mysql"
)

// Manifest Meta keys written by the MySQL engines. They are stable: restore,
// incremental backups and scripts (`mybak list --json`, the manifest itself)
// read them.
const (
	MetaTool         = "tool"          // program family: mariabackup, xtrabackup, innobackupex, mysqldump, mariadb-dump
	MetaToolVersion  = "tool_version"  // e.g. 10.11.19-MariaDB
	MetaServerFlavor = "server_flavor" // MariaDB, MySQL, Percona
	MetaBackupType   = "backup_type"   // xtrabackup_checkpoints backup_type: full-backuped, incremental
	MetaFromLSN      = "from_lsn"      // decimal LSN; 0 for a full backup
	MetaToLSN        = "to_lsn"        // decimal LSN an incremental child starts from
	MetaLastLSN      = "last_lsn"      // decimal LSN
	MetaBinlogFile   = "binlog_file"   // binary log file at the consistent point
	MetaBinlogPos    = "binlog_pos"    // position in it (decimal)
	MetaGTID         = "gtid"          // GTID set (MySQL) or gtid_binlog_pos (MariaDB)
)

// ErrBadParent is returned (wrapped) when an incremental backup's parent
// cannot be the base of one: another engine, or no recorded LSN.
var ErrBadParent = errors.New("parent cannot be the base of an incremental backup")

// PhysicalEngine takes physical backups with xtrabackup, innobackupex or
// mariabackup (xbstream stream). It takes an incremental backup when Run
// is handed a parent: the parent's to_lsn is passed as --incremental-lsn.
type PhysicalEngine struct {
	// Options are passed to mysql.BackupPhysical; IncrementalLSN is set
	// from the parent. Options.LogPath should be set: it keeps the tool's
	// whole stderr, and errors point to it.
	Options mysql.PhysicalOptions
	// RowCounts, when set, counts the tables' rows after the backup (see
	// MetaRowCounts).
	RowCounts RowCountOptions
}

// Name implements Engine: the tool family (mariabackup, xtrabackup, ...).
func (e *PhysicalEngine) Name() string { return string(e.Options.Tool.Engine) }

// Extension implements Engine.
func (e *PhysicalEngine) Extension() string { return ".xbstream" }

// ParentLSN returns the LSN an incremental child of m starts from, with an
// error matching ErrBadParent when m is not a physical backup of engine.
func ParentLSN(m *Manifest, engine string) (uint64, error) {
	if m.Engine.Name != engine {
		return 0, fmt.Errorf("%w: %s was taken with %s, not %s: take a full %s backup first",
			ErrBadParent, m.ID, m.Engine.Name, engine, engine)
	}
	lsn, err := strconv.ParseUint(m.Meta[MetaToLSN], 10, 64)
	if err != nil || lsn == 0 {
		return 0, fmt.Errorf("%w: %s records no to_lsn: take a full backup first", ErrBadParent, m.ID)
	}
	return lsn, nil
}

// Run implements Engine: it streams the tool's xbstream to w and returns the
// checkpoints, binlog coordinates and versions as Meta.
func (e *PhysicalEngine) Run(ctx context.Context, w io.Writer, parent *Manifest) (EngineResult, error) {
	o := e.Options
	o.IncrementalLSN = 0
	if parent != nil {
		lsn, err := ParentLSN(parent, e.Name())
		if err != nil {
			return EngineResult{}, err
		}
		o.IncrementalLSN = lsn
	}
	res, err := mysql.BackupPhysical(ctx, o, w)
	if err != nil {
		return EngineResult{}, err
	}
	if parent != nil && res.Checkpoints.FromLSN != o.IncrementalLSN {
		return EngineResult{}, fmt.Errorf("%s wrote an incremental from LSN %d, asked for %d",
			e.Name(), res.Checkpoints.FromLSN, o.IncrementalLSN)
	}
	meta := map[string]string{
		MetaTool:       string(res.Engine),
		MetaBackupType: res.Checkpoints.BackupType,
		MetaFromLSN:    strconv.FormatUint(res.Checkpoints.FromLSN, 10),
		MetaToLSN:      strconv.FormatUint(res.Checkpoints.ToLSN, 10),
	}
	if res.Checkpoints.LastLSN > 0 {
		meta[MetaLastLSN] = strconv.FormatUint(res.Checkpoints.LastLSN, 10)
	}
	addVersionMeta(meta, res.ToolVersion, o.Server)
	addBinlogMeta(meta, res.Binlog)
	recordRowCounts(ctx, e.RowCounts, o.DB, o.Conn, o.Server, res.Binlog, meta)
	sv := res.ServerVersion
	if sv == "" && o.Server != nil {
		sv = o.Server.Version
	}
	return EngineResult{Version: res.ToolVersion, ServerVersion: sv, Incremental: parent != nil, Meta: meta}, nil
}

// LogicalEngine takes logical backups with mysqldump or mariadb-dump. The
// dump must end with its "-- Dump completed" trailer.
type LogicalEngine struct {
	Options mysql.DumpOptions
	// RowCounts, when set, counts the tables' rows after the dump (see
	// MetaRowCounts).
	RowCounts RowCountOptions
}

// Name implements Engine (mysqldump or mariadb-dump).
func (e *LogicalEngine) Name() string { return string(e.Options.Tool.Engine) }

// Extension implements Engine.
func (e *LogicalEngine) Extension() string { return ".sql" }

// Run implements Engine. A logical backup is always full.
func (e *LogicalEngine) Run(ctx context.Context, w io.Writer, parent *Manifest) (EngineResult, error) {
	if parent != nil {
		return EngineResult{}, fmt.Errorf("%s cannot take incremental backups: use a physical engine (mariabackup, xtrabackup)", e.Name())
	}
	res, err := mysql.BackupLogical(ctx, e.Options, w)
	if err != nil {
		return EngineResult{}, err
	}
	meta := map[string]string{MetaTool: string(res.Engine)}
	addVersionMeta(meta, res.ToolVersion, e.Options.Server)
	addBinlogMeta(meta, res.Binlog)
	recordRowCounts(ctx, e.RowCounts, nil, e.Options.Conn, e.Options.Server, res.Binlog, meta)
	var sv string
	if e.Options.Server != nil {
		sv = e.Options.Server.Version
	}
	return EngineResult{Version: res.ToolVersion, ServerVersion: sv, Meta: meta}, nil
}

func addVersionMeta(meta map[string]string, toolVersion string, s *mysql.ServerInfo) {
	if toolVersion != "" {
		meta[MetaToolVersion] = toolVersion
	}
	if s != nil && s.Flavor != "" {
		meta[MetaServerFlavor] = string(s.Flavor)
	}
}

func addBinlogMeta(meta map[string]string, b mysql.BinlogPosition) {
	if b.File != "" {
		meta[MetaBinlogFile] = b.File
		meta[MetaBinlogPos] = strconv.FormatUint(b.Pos, 10)
	}
	if b.GTID != "" {
		meta[MetaGTID] = b.GTID
	}
}
