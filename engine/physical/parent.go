package physical

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/trove"
)

// Parent implements engine.Incremental: q.Ref names the parent, or
// "latest" picks the newest complete backup of e's tool that can be one
// (Problem). It looks through q.Load and q.Entries, so in Trove's layout
// the parent may be a backup Trove made. Newer backups of the engine that
// latest passes over are logged with the reason. A parent that cannot be
// one is an error matching backup.ErrBadParent; none at all,
// backup.ErrNoBackup.
func (e Engine) Parent(ctx context.Context, q engine.ParentQuery) (*backup.Manifest, error) {
	log := q.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if q.Ref != "latest" {
		m, err := q.Load(ctx, q.Ref)
		if err != nil {
			return nil, fmt.Errorf("parent of the incremental backup: %w", err)
		}
		if why := e.Problem(m, q.Server); why != "" {
			return nil, fmt.Errorf("%w: %s: take a full backup first (without --incremental), or name another --parent", backup.ErrBadParent, why)
		}
		logParent(log, m)
		return m, nil
	}
	entries, err := q.Entries(ctx)
	if err != nil {
		return nil, err
	}
	var passed []string
	other := "" // why the newest physical backup of another tool cannot be the parent
	for i := len(entries) - 1; i >= 0; i-- {
		m := entries[i].Manifest
		if entries[i].State != backup.StateComplete {
			continue
		}
		if m.Engine.Name != e.Name() {
			if other == "" && isPhysical(m.Engine.Name) {
				other = e.Problem(m, q.Server)
			}
			continue
		}
		if why := e.Problem(m, q.Server); why != "" {
			passed = append(passed, why)
			continue
		}
		for _, why := range passed {
			log.Warn("passed over a newer backup that cannot be the parent", "why", why)
		}
		logParent(log, m)
		return m, nil
	}
	note := ""
	switch {
	case len(passed) > 0:
		note = " (passed over: " + strings.Join(passed, "; ") + ")"
	case other != "":
		note = " (the newest physical backup there: " + other + ")"
	}
	return nil, fmt.Errorf("%w: no complete %s backup in %s can be the parent of an incremental%s: take a full backup first (without --incremental)",
		backup.ErrNoBackup, e.tool, q.Location, note)
}

// logParent says which backup the incremental applies onto.
func logParent(log *slog.Logger, m *backup.Manifest) {
	by := "mybak"
	if trove.MadeByTrove(m) {
		by = "trove"
	}
	log.Info("parent", "id", m.ID, "made_by", by, "to_lsn", m.Meta[backup.MetaToLSN])
}

var reMajorMinor = regexp.MustCompile(`(\d+)\.(\d+)`)

// Problem says why m cannot be the parent of an incremental taken with
// e's tool from server s now, or returns "". A parent is a physical
// backup of e's tool with an LSN (ParentLSN; a backup Trove made has its
// engine from its Datastore header and its LSN from X-Object-Meta-Lsn),
// not beyond the server's current LSN (the tools take an "incremental"
// from any LSN, and one from another server's holds the wrong pages), and
// of the server's major.minor version where both are known (a full backup
// from before an upgrade, or from another server, is not prepared with
// this server's increments).
func (e Engine) Problem(m *backup.Manifest, s *mysql.ServerInfo) string {
	tool := e.tool
	what := m.ID
	byTrove := trove.MadeByTrove(m)
	if byTrove {
		ds := "no datastore recorded"
		if d := strings.TrimSpace(m.Meta[trove.ManifestMetaDatastore] + " " + m.Meta[trove.ManifestMetaDatastoreVersion]); d != "" {
			ds = "datastore " + d
		}
		what = fmt.Sprintf("Trove backup %s (%s)", m.ID, ds)
	}
	physical := isPhysical(m.Engine.Name)
	switch {
	case byTrove && physical && m.Meta[backup.MetaToLSN] == "" &&
		(m.Engine.Name == string(tool) || m.Meta[trove.ManifestMetaDatastore] == ""):
		// Without its metadata (older Trove releases left it off
		// backups of more than one segment) the engine is a guess:
		// what rules the backup out is the missing LSN.
		return what + " has no X-Object-Meta-Lsn, the LSN an incremental starts from " +
			"(older Trove releases did not record it on backups of more than one segment)"
	case !physical:
		return fmt.Sprintf("%s is a logical (%s) backup, not a physical %s one", what, m.Engine.Name, tool)
	case byTrove && m.Engine.Name != string(tool):
		return fmt.Sprintf("%s was made with %s (mybak takes the tool from the Datastore Trove recorded: mariabackup for MariaDB, xtrabackup otherwise), "+
			"not with %s, which %s %s needs", what, m.Engine.Name, tool, s.Flavor, s.Version)
	case m.Engine.Name != string(tool):
		return fmt.Sprintf("%s was taken with %s, not %s", what, m.Engine.Name, tool)
	}
	lsn, err := ParentLSN(m, string(tool))
	if err != nil {
		return fmt.Sprintf("%s records no to_lsn", what)
	}
	if s.LSN > 0 && lsn > s.LSN {
		return fmt.Sprintf("%s ends at LSN %d, beyond this server's current LSN %d: it was not taken from this server "+
			"(or the server was restored from an older backup since)", what, lsn, s.LSN)
	}
	if mm := reMajorMinor.FindStringSubmatch(m.Engine.ServerVersion); mm != nil && s.Major > 0 &&
		(mm[1] != strconv.Itoa(s.Major) || mm[2] != strconv.Itoa(s.Minor)) {
		return fmt.Sprintf("%s was taken from a %s.%s server, this one runs %s (a full backup and its incrementals are prepared by one version of the tool)",
			what, mm[1], mm[2], s.Version)
	}
	return ""
}
