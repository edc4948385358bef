package restore

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkNoISL refuses a copy-back or move-back of the prepared backup in
// dir when it holds InnoDB link files (*.isl: a table created with DATA
// DIRECTORY). mariabackup --copy-back and --move-back put such a table's
// .ibd where its .isl says, creating directories as needed, outside the
// datadir: a crafted backup names any new file on the host (as root, e.g.
// /etc/cron.d/x), and a genuine one the table's location on the server it
// came from, which on the same host is that server's live file (a drill's
// scratch server would take it). mybak restores only into the datadir:
// such a backup is restored with --target-dir, and the tablespaces moved
// by hand (ErrUnsafeName, naming up to three .isl files and where they
// point).
func checkNoISL(dir string) error {
	var found []string
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".isl") {
			n++
			if len(found) < 3 {
				rel, _ := filepath.Rel(dir, p)
				found = append(found, fmt.Sprintf("%s -> %q", rel, islTarget(p)))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("look for DATA DIRECTORY tables in %s: %w", dir, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: the backup has %d table(s) with DATA DIRECTORY (%s): --copy-back/--move-back would write their files there, outside the datadir; mybak refuses: restore with --target-dir only and place those tablespaces yourself",
			ErrUnsafeName, n, strings.Join(found, ", "))
	}
	return nil
}

// islTarget returns the start of the path an .isl file holds.
func islTarget(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "?"
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 512))
	return strings.TrimSpace(string(b))
}
