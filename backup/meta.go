package backup

import (
	"errors"
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
// cannot be the base of one: another engine, or no recorded LSN (see
// engine/physical).
var ErrBadParent = errors.New("parent cannot be the base of an incremental backup")

// AddVersionMeta records a MySQL engine's tool version and the server's
// flavour in meta (MetaToolVersion, MetaServerFlavor), where known.
func AddVersionMeta(meta map[string]string, toolVersion string, s *mysql.ServerInfo) {
	if toolVersion != "" {
		meta[MetaToolVersion] = toolVersion
	}
	if s != nil && s.Flavor != "" {
		meta[MetaServerFlavor] = string(s.Flavor)
	}
}

// AddBinlogMeta records the binary log coordinates of a backup's
// consistent point in meta (MetaBinlogFile, MetaBinlogPos, MetaGTID),
// where known.
func AddBinlogMeta(meta map[string]string, b mysql.BinlogPosition) {
	if b.File != "" {
		meta[MetaBinlogFile] = b.File
		meta[MetaBinlogPos] = strconv.FormatUint(b.Pos, 10)
	}
	if b.GTID != "" {
		meta[MetaGTID] = b.GTID
	}
}
