package repo

import "github.com/mybak/mybak/storage"

// PointInTime is the optional capability of a repository whose backups
// point-in-time recovery can start from: the binary log archive (package
// pitr) lives in the same store, under binlog/ beside the backups, and
// the backups record the GTID position a replay continues. mybak's layout
// has it; Trove's does not (Trove's backups record no GTID position and
// its container holds no archive). Commands find it with ForPointInTime,
// never by the layout's name.
type PointInTime interface {
	Repository
	// Archive is the store the binary log archive is kept in.
	Archive() storage.Backend
}

// ForPointInTime returns r as a PointInTime, or, when its layout cannot
// serve point-in-time recovery, a UsageError saying that it needs mybak's
// layout.
func ForPointInTime(r Repository) (PointInTime, error) {
	if p, ok := r.(PointInTime); ok {
		return p, nil
	}
	return nil, Usagef("point-in-time recovery (a recovery target, verify --pitr, the binlog commands) needs mybak's layout (--layout %s): the %s layout keeps no binary log archive beside its backups",
		MybakName, r.Layout().Name())
}

// Archive implements PointInTime: the archive is in the backups' store.
func (r *Mybak) Archive() storage.Backend { return r.st }

var _ PointInTime = (*Mybak)(nil)
