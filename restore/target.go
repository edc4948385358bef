package restore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrUnsafeTarget is returned (wrapped) when a restore's target dir or
// datadir is, contains or lies inside a directory the restore must not
// touch (PhysicalOptions.Protect, the store it reads from), or when the
// target dir and the datadir overlap. Force does not override it.
var ErrUnsafeTarget = errors.New("unsafe restore target")

// Protected names a directory that a restore must neither write into nor
// replace: the store it reads from, a spool dir, a scratch dir.
type Protected struct {
	What string // e.g. "the store"
	Dir  string
}

// checkTarget refuses dir (what: "target dir", "datadir") when it is,
// contains or lies inside one of protect. Paths are compared as the kernel
// sees them (each existing ancestor by device and inode, os.SameFile), so a
// symlink, a relative path or a bind mount naming the same directory is
// caught; a dir that does not exist yet is compared through its nearest
// existing ancestor.
func checkTarget(dir, what string, protect []Protected) error {
	for _, p := range protect {
		if p.Dir == "" {
			continue
		}
		switch {
		case within(dir, p.Dir):
			return fmt.Errorf("%w: the %s %s is or lies inside %s %s: choose a %s outside it", ErrUnsafeTarget, what, dir, p.What, p.Dir, what)
		case within(p.Dir, dir):
			return fmt.Errorf("%w: the %s %s contains %s %s, which restoring there would replace: choose a new or empty %s outside it",
				ErrUnsafeTarget, what, dir, p.What, p.Dir, what)
		}
	}
	return nil
}

// within reports whether path is dir or lies below it. Both are first
// resolved (absolute, symlinks of their existing part followed, so that
// ".." steps out of the real directory) and compared as paths; then, when
// dir exists, path and each of its ancestors is compared with dir by
// os.SameFile, which catches a bind mount of dir.
func within(path, dir string) bool {
	p, d := resolve(path), resolve(dir)
	if p == "" || d == "" {
		return false
	}
	if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
		return true
	}
	dfi, err := os.Stat(d)
	if err != nil {
		return false
	}
	for {
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, dfi) {
			return true
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
}

// resolve returns path made absolute with the symlinks of its longest
// existing prefix followed ("" if it cannot be made absolute).
func resolve(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for q, rest := p, ""; ; {
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(q)
		if parent == q {
			return p
		}
		rest, q = filepath.Join(filepath.Base(q), rest), parent
	}
}

// asideName returns the name next to dir that its old contents are moved
// to by a forced restore: DIR.mybak-old-<UTC time of t>, with a counter
// when that exists.
func asideName(dir string, t time.Time) string {
	base := dir + ".mybak-old-" + t.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}
