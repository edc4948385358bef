package mysql

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/mybak/mybak/internal/secretfile"
)

// CheckOptionFile applies secretfile's rule to a MySQL option file given
// with --defaults-file (what names it in messages): the group and others
// may not write it (it decides which server gets the password, and its
// !include lines which further files are read); when it holds a password
// (in any group) they may not read it either. Files it !includes are not
// followed. Errors match secretfile.ErrInsecure.
func CheckOptionFile(what, path string) error {
	f, _, err := secretfile.Open(what, path, secretfile.Settings)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, _, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "_")
		if ok && k == "password" {
			_, err := secretfile.Check(what+" (it holds a password)", fi, secretfile.Password)
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}
