package pitr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
)

// ErrNoBackupFor is wrapped when no complete backup can start a replay to
// the target (all are newer, or none recorded a GTID position).
var ErrNoBackupFor = errors.New("no backup to start from")

// BackupState returns the GTID state a backup recorded (Meta "gtid") and
// when it was consistent (its end).
func BackupState(m *backup.Manifest) (State, time.Time, error) {
	g := m.Meta[backup.MetaGTID]
	if g == "" {
		return State{}, time.Time{}, fmt.Errorf("backup %s recorded no GTID position: it cannot start a point-in-time recovery (binary log off when it was taken?)", m.ID)
	}
	st, err := ParseState(g)
	if err != nil {
		return State{}, time.Time{}, fmt.Errorf("backup %s: %w", m.ID, err)
	}
	return st, m.EndTime, nil
}

// Backups is what PlanRestore needs of the backups' repository (a
// repo.Repository has it): every backup, oldest first, and a reference
// resolved to a complete backup.
type Backups interface {
	Entries(ctx context.Context) ([]backup.Entry, error)
	Resolve(ctx context.Context, ref string) (*backup.Manifest, error)
}

// RestorePlan is a backup and the replay that brings it to a target.
type RestorePlan struct {
	Backup *backup.Manifest
	Plan   *Plan
}

// PlanRestore chooses the backup of bs to start from (id, or "": the
// newest complete backup from which the archive in st reaches the target)
// and plans the replay from it. Nothing is written. Errors name the recoverable
// window (ErrTarget), the missing GTIDs (ErrGap), or say that no backup
// fits (ErrNoBackupFor).
func PlanRestore(ctx context.Context, st storage.Backend, bs Backups, id string, t Target, pass []byte) (*RestorePlan, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	ix, err := LoadIndex(ctx, st, pass)
	if err != nil {
		return nil, err
	}
	try := func(m *backup.Manifest) (*RestorePlan, error) {
		from, at, err := BackupState(m)
		if err != nil {
			return nil, err
		}
		p, err := MakePlan(ctx, PlanOptions{Store: st, Pass: pass, Index: ix, From: from, FromTime: at, Target: t})
		if err != nil {
			return nil, fmt.Errorf("from backup %s: %w", m.ID, err)
		}
		return &RestorePlan{Backup: m, Plan: p}, nil
	}
	if id != "" {
		m, err := bs.Resolve(ctx, id)
		if err != nil {
			return nil, err
		}
		return try(m)
	}
	entries, err := bs.Entries(ctx)
	if err != nil {
		return nil, err
	}
	// Newest first: the shortest replay. A backup that already holds the
	// target, or is newer than it, fails with ErrTarget and the next older
	// one is tried; a gap or damage stops the search (an older backup
	// would have to cross it too).
	var firstErr error
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.State != backup.StateComplete || e.Manifest.Meta[backup.MetaGTID] == "" {
			continue
		}
		if !t.Until.IsZero() && e.Manifest.EndTime.After(t.Until) {
			continue
		}
		rp, err := try(e.Manifest)
		if err == nil {
			return rp, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if !errors.Is(err, ErrTarget) {
			return nil, err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, fmt.Errorf("%w: no complete backup with a recorded GTID position is older than %s in %s", ErrNoBackupFor, t, st.Location())
}

// OldestBackup returns the oldest complete backup among entries (oldest
// first, as catalogues list them) that recorded a GTID position, or nil:
// where the archive's continuity starts to matter, since nothing before it
// is ever replayed, and what binlog prune keeps.
func OldestBackup(entries []backup.Entry) *backup.Manifest {
	for _, en := range entries {
		if en.State == backup.StateComplete && en.Manifest != nil && en.Manifest.Meta[backup.MetaGTID] != "" {
			return en.Manifest
		}
	}
	return nil
}
