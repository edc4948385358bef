package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/xbstream"
)

// ErrDamaged is returned (wrapped) by Verify when a backup fails a check.
// Its message lists the failed checks.
var ErrDamaged = errors.New("backup is damaged")

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Options
	// Deep decodes the whole stream and checks its hashes and content:
	// the CRC-32 of every xbstream chunk (physical engines), the trailer
	// of a dump (logical engines); a stdin backup is recognised by its
	// first bytes.
	Deep bool
	// List, with Deep, puts the xbstream's files in Report.Files.
	List bool
	// Catalogue finds the backup and its parents; nil means mybak's own
	// layout in the store (MybakCatalogue). When it is an ObjectChecker,
	// it checks the stored objects.
	Catalogue Catalogue
}

// Check is one verified property of a backup.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	ID       string        `json:"id"`
	Deep     bool          `json:"deep"`
	OK       bool          `json:"ok"`
	Checks   []Check       `json:"checks"`
	Duration time.Duration `json:"-"`
	// Seconds is Duration in seconds, for --json.
	Seconds float64 `json:"duration_seconds"`
	// Content is what a deep verify found in the stream: "xbstream",
	// "dump" or "" (not recognised, or not deep).
	Content string `json:"content,omitempty"`
	// Files lists the xbstream's files (VerifyOptions.List).
	Files []xbstream.File `json:"files,omitempty"`
}

func (r *Report) add(name string, err error) bool {
	c := Check{Name: name, OK: err == nil}
	if err != nil {
		c.Detail = err.Error()
	}
	r.Checks = append(r.Checks, c)
	return err == nil
}

// failed joins the failed checks into one error wrapping ErrDamaged.
func (r *Report) failed() error {
	var msgs []string
	for _, c := range r.Checks {
		if !c.OK {
			msgs = append(msgs, c.Name+": "+c.Detail)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrDamaged, strings.Join(msgs, "; "))
}

// Verify checks backup ref (an ID or "latest") without restoring it: the
// manifest is present and valid, and every stored object, of the backup
// and of the backups its chain needs, is present with the recorded size and
// hash. With Deep, the whole stream is also
// decrypted, decompressed and hashed against the manifest, once, while its
// content is checked (see VerifyOptions.Deep): a damaged xbstream chunk is
// reported with its file.
//
// The report lists every check. The error wraps ErrDamaged when a check
// failed, backup.ErrNoBackup when ref names nothing at all, and is some
// other error when verification itself could not run (the store is
// unreachable, the key is missing): the backup's state is then unknown.
func Verify(ctx context.Context, st storage.Backend, ref string, opts VerifyOptions) (*Report, error) {
	start := time.Now()
	rep := &Report{ID: ref, Deep: opts.Deep}
	defer func() {
		rep.Duration = time.Since(start)
		rep.Seconds = rep.Duration.Seconds()
		rep.OK = rep.failed() == nil
	}()

	cat := opts.Catalogue
	if cat == nil {
		cat = MybakCatalogue{Store: st}
	}
	m, err := cat.Resolve(ctx, ref)
	if err != nil {
		if _, mybak := cat.(MybakCatalogue); mybak && ref != "latest" && errors.Is(err, backup.ErrNoBackup) {
			// A backup being written is not damaged, just not finished.
			if why, _ := backup.InProgress(ctx, st, ref); why != "" {
				return rep, fmt.Errorf("backup %s in %s is in progress (%s): verify it once it has finished", ref, st.Location(), why)
			}
			// Objects without a manifest are damage; nothing at all is not.
			if n, lerr := countObjects(ctx, st, ref+"/"); lerr == nil && n > 0 {
				rep.add("manifest", fmt.Errorf("missing: %d object(s) stored without a manifest (an interrupted backup)", n))
				return rep, rep.failed()
			}
			return rep, err
		}
		if errors.Is(err, backup.ErrInvalidManifest) {
			rep.add("manifest", err)
			return rep, rep.failed()
		}
		return rep, err
	}
	rep.ID = m.ID
	rep.add("manifest", nil)
	authCheck(rep, m, "authentication", opts.Options)

	checkObjects := func(b *backup.Manifest, prefix string) error {
		for _, o := range b.Objects {
			var cerr error
			if oc, ok := cat.(ObjectChecker); ok {
				cerr = oc.CheckObject(ctx, b, o)
			} else {
				cerr = checkObject(ctx, st, b.ObjectPath(o.Name), o)
			}
			rep.add("object "+prefix+o.Name, cerr)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	}
	if err := checkObjects(m, ""); err != nil {
		return rep, err
	}
	if m.Parent != "" {
		chain, perr := cat.Chain(ctx, m)
		if perr == nil && mysql.Engine(m.Engine.Name).Physical() {
			// The LSNs must line up: an incremental taken from another
			// parent would fail in prepare, or worse, apply wrongly.
			_, perr = checkChain(chain)
		}
		rep.add("parent chain", perr)
		// Restoring an incremental needs every backup before it: their
		// objects are checked too.
		if perr == nil {
			for _, p := range chain[:len(chain)-1] {
				authCheck(rep, p, "authentication "+p.ID, opts.Options)
				if err := checkObjects(p, p.ID+"/"); err != nil {
					return rep, err
				}
			}
		}
	}
	if opts.Deep && rep.failed() == nil {
		if err := deepVerify(ctx, st, m, opts, rep); err != nil {
			return rep, err
		}
	}
	return rep, rep.failed()
}

// isDamage tells errors that say the data is bad from errors that say
// verification could not run.
func isDamage(err error) bool {
	return !errors.Is(err, ErrNeedKey) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded)
}

// checkObject compares a stored object with its manifest record: presence,
// size, and a hash: the parts' MD5s where the store can check them without
// a download, the backend's MD5 when it reports one, else SHA-256 of the
// bytes read back.
func checkObject(ctx context.Context, st storage.Backend, name string, o backup.Object) error {
	oi, err := st.Stat(ctx, name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return errors.New("missing")
		}
		return err
	}
	if oi.Size != o.Size {
		return fmt.Errorf("size %d, manifest says %d", oi.Size, o.Size)
	}
	if ps, ok := storage.As[storage.PartStatter](st); ok && len(o.Parts) > 0 {
		if err := ps.StatParts(ctx, o.Parts); err != nil {
			return err
		}
		return nil
	}
	if oi.MD5 != "" && o.MD5 != "" && len(o.Parts) == 0 {
		if !strings.EqualFold(oi.MD5, o.MD5) {
			return fmt.Errorf("md5 %s, manifest says %s", oi.MD5, o.MD5)
		}
		return nil
	}
	if o.SHA256 == "" {
		return nil
	}
	rc, err := st.Get(ctx, name, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, rc, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if n != o.Size {
		return fmt.Errorf("read %d bytes, manifest says %d", n, o.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != o.SHA256 {
		return fmt.Errorf("sha256 %s, manifest says %s", got, o.SHA256)
	}
	return nil
}

func countObjects(ctx context.Context, st storage.Backend, prefix string) (int, error) {
	n := 0
	err := st.List(ctx, prefix, func(storage.ObjectInfo) error { n++; return nil })
	return n, err
}
