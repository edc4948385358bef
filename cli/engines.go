package cli

import (
	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	// Every engine registers itself: restore, verify, drills and
	// make-replica find a backup's engine from its manifest.
	_ "github.com/mybak/mybak/engine/all"
	"github.com/mybak/mybak/engine/stdin"
)

// stdinEngine is the stdin engine's backup side, reading mybak's standard
// input (backup --engine stdin).
func stdinEngine(e *env) (backup.Engine, error) {
	return stdin.Engine{}.NewBackup(engine.BackupConfig{Stdin: e.stdin})
}
