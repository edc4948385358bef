package restore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxBackupCnf bounds the backup-my.cnf restore reads (the tools write a
// few hundred bytes).
const maxBackupCnf = 1 << 20

// checkBackupCnf refuses the backup-my.cnf of an extracted backup in dir
// when it could make prepare touch files outside dir. mariabackup and
// xtrabackup --prepare read the server options in it: with an absolute
// name in innodb_data_file_path ("ibdata1:12M;/etc/x:12M") prepare
// creates that file, wherever it is. A backup's options name files inside
// the backup (innodb_undo_directory=./), so every value that is an
// absolute path, starts with "~" or climbs with "..", every file of
// innodb_data_file_path / innodb_temp_data_file_path that is not a local
// name, and every !include directive is refused (ErrUnsafeName). A
// missing backup-my.cnf is not an error.
func checkBackupCnf(dir string) error {
	path := filepath.Join(dir, "backup-my.cnf")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the backup's options: %w", err)
	}
	defer f.Close()
	bad := func(line int, text, why string) error {
		return fmt.Errorf("%w: backup-my.cnf line %d (%q) %s: prepare would reach outside the backup's dir; refusing to prepare it",
			ErrUnsafeName, line, text, why)
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxBackupCnf+1))
	sc.Buffer(make([]byte, 64<<10), maxBackupCnf+1)
	n, size := 0, 0
	for sc.Scan() {
		n++
		size += len(sc.Bytes()) + 1
		if size > maxBackupCnf {
			return fmt.Errorf("%w: backup-my.cnf is larger than %d bytes", ErrUnsafeName, maxBackupCnf)
		}
		raw := sc.Text()
		l := strings.TrimSpace(raw)
		switch {
		case l == "", l[0] == '#', l[0] == ';', l[0] == '[':
			continue
		case l[0] == '!':
			return bad(n, raw, "includes another file")
		}
		key, val, _ := strings.Cut(l, "=")
		key = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
		key = strings.TrimPrefix(key, "loose_")
		val = strings.Trim(strings.TrimSpace(val), `"'`)
		if key == "innodb_data_file_path" || key == "innodb_temp_data_file_path" {
			for _, spec := range strings.Split(val, ";") {
				name, _, _ := strings.Cut(strings.TrimSpace(spec), ":")
				if name != "" && !filepath.IsLocal(name) {
					return bad(n, raw, fmt.Sprintf("names the data file %q, not a file of the backup", name))
				}
			}
			continue
		}
		if pathOutside(val) {
			return bad(n, raw, "names a path outside the backup")
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: backup-my.cnf: %v", ErrUnsafeName, err)
	}
	return nil
}

// pathOutside reports whether an option's value, read as a path, leaves
// the dir it is relative to: absolute, "~", or a ".." component.
func pathOutside(v string) bool {
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~") || strings.ContainsRune(v, '\\') {
		return true
	}
	for _, c := range strings.Split(v, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}
