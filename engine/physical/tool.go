package physical

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/trove"
)

// chooser is the restore.ToolChooser of a physical engine: the tool the
// manifest names (and where that came from), overruled by the stream's
// own files once they are extracted.
type chooser struct {
	tool mysql.Engine
	src  engineSource
}

var _ restore.ToolChooser = chooser{}

// BeforeExtract implements restore.ToolChooser (toolBeforeExtract).
func (c chooser) BeforeExtract(log *slog.Logger) (mysql.Tool, error) {
	return toolBeforeExtract(c.tool, c.src, log)
}

// Prepare implements restore.ToolChooser (prepareTool).
func (c chooser) Prepare(dir string, log *slog.Logger) (mysql.Tool, error) {
	return prepareTool(dir, c.tool, c.src, log)
}

// Which program prepares a physical backup (issue 12.13). The evidence,
// strongest first: the files the tool wrote into the stream
// (mysql.DetectStreamTool), read once the full backup is extracted; the
// manifest's engine (mybak records the tool it ran; Trove's Datastore
// metadata names the database, hence its tool); and last an assumption:
// a backup Trove made without datastore metadata (before 2015 it recorded
// only the LSN) is taken for xtrabackup, the tool of its MySQL datastore.

// troveMetaDatastore is trove.ManifestMetaDatastore.
const troveMetaDatastore = trove.ManifestMetaDatastore

// engineSource says where the manifest's engine came from.
type engineSource struct {
	why  string // for the log: "its manifest says engine=mariabackup"
	sure bool   // mybak recorded the tool it ran: fail early if it is missing
}

// engineSourceOf says where m's engine came from: the manifest mybak
// wrote, Trove's Datastore metadata, or the assumption for a Trove backup
// without it.
func engineSourceOf(m *backup.Manifest) engineSource {
	if !m.Synthesized() { // mybak wrote the manifest (trove.MadeByTrove is false)
		return engineSource{why: "its manifest says engine=" + m.Engine.Name, sure: true}
	}
	if ds := m.Meta[troveMetaDatastore]; ds != "" {
		return engineSource{why: fmt.Sprintf("Trove's Datastore metadata says %s, whose tool is %s", printableMeta(ds), m.Engine.Name)}
	}
	return engineSource{why: fmt.Sprintf("assumed: Trove recorded no Datastore for this backup (before 2015 it recorded only the LSN), "+
		"and %s is the tool of its MySQL datastore", m.Engine.Name)}
}

// toolBeforeExtract finds the tool of eng before anything is extracted,
// so that a restore that cannot prepare fails before it copies gigabytes.
// When the engine is not sure (a backup Trove made) and another physical
// tool is installed, the decision waits for the stream's own files
// (prepareTool): it returns a zero Tool and no error.
func toolBeforeExtract(eng mysql.Engine, src engineSource, log *slog.Logger) (mysql.Tool, error) {
	tool, err := mysql.LookupTool(eng)
	if err == nil || src.sure || !errors.Is(err, mysql.ErrToolNotFound) {
		return tool, err
	}
	for _, e := range []mysql.Engine{mysql.EngineMariabackup, mysql.EngineXtrabackup, mysql.EngineInnobackupex} {
		if _, lerr := mysql.LookupTool(e); lerr == nil {
			log.Info("the tool the metadata points to is missing; the stream's own files decide after extraction",
				"engine", eng, "because", src.why, "missing", err.Error())
			return mysql.Tool{}, nil
		}
	}
	return tool, err
}

// prepareTool chooses the program that prepares the full backup extracted
// into dir, logs which evidence decided, and finds it on PATH. eng and src
// are the manifest's engine and where it came from; the stream's files
// overrule them. A stream written by innobackupex (xtrabackup 2.x) is
// prepared with xtrabackup when innobackupex is missing.
func prepareTool(dir string, eng mysql.Engine, src engineSource, log *slog.Logger) (mysql.Tool, error) {
	ev, err := mysql.DetectStreamTool(dir)
	if err != nil {
		return mysql.Tool{}, err
	}
	chosen, why := eng, src.why
	if ev.Engine != "" {
		chosen, why = ev.Engine, ev.Why
		if ev.Engine != eng {
			log.Warn("the stream was written by another tool than the metadata says: the stream decides",
				"stream", ev.Engine, "metadata", eng, "metadata_basis", src.why)
		}
	} else if !src.sure {
		why += "; the stream names no tool (no xtrabackup_info tool_name, nothing in backup-my.cnf)"
	}
	candidates := []mysql.Engine{chosen}
	if chosen == mysql.EngineInnobackupex {
		candidates = append(candidates, mysql.EngineXtrabackup)
	}
	var lerr error
	for _, c := range candidates {
		tool, err := mysql.LookupTool(c)
		if err != nil {
			if lerr == nil {
				lerr = err
			}
			continue
		}
		attrs := []any{"tool", tool.Path}
		if ev.ToolVersion != "" {
			attrs = append(attrs, "stream_tool_version", ev.ToolVersion)
		}
		if ev.ServerVersion != "" {
			attrs = append(attrs, "stream_server_version", ev.ServerVersion)
		}
		log.Info(fmt.Sprintf("preparing with %s (%s)", tool.Engine, why), attrs...)
		return tool, nil
	}
	return mysql.Tool{}, fmt.Errorf("prepare the backup with %s (%s): %w", chosen, why, lerr)
}

// printableMeta quotes a metadata value for the log when it is not plain.
func printableMeta(s string) string {
	if len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return s
	}
	return fmt.Sprintf("%.64q", s)
}
