// Package verify checks a stored backup without restoring it (mybak
// verify): its manifest is present, valid and authenticated, every stored
// object of the backup and of the backups its chain needs is present with
// its recorded size and hash, an incremental's LSNs continue its parent's;
// with Deep, the whole stream is also decoded once, its hashes checked
// against the manifest and its content on the way, by the backup's engine
// (deep.go, engine.Engine.NewContentCheck: xbstream chunk CRCs, a dump's
// trailer).
//
// The report is a list of check.Results. A failed check is damage
// (check.ErrDamaged, exit 3); an error without a failed check says that
// verification could not run (the store is unreachable, the key is
// missing): the backup's state is then unknown.
package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/xbstream"
)

// Options configure Run.
type Options struct {
	restore.Options
	// Deep decodes the whole stream and checks its hashes and content:
	// the CRC-32 of every xbstream chunk (physical engines), the trailer
	// of a dump (logical engines); a stdin backup is recognised by its
	// first bytes.
	Deep bool
	// List, with Deep, puts the xbstream's files in Report.Files.
	List bool
	// Catalogue finds the backup and its parents; nil means mybak's own
	// layout in the store (restore.MybakCatalogue). When it is a
	// restore.ObjectChecker, it checks the stored objects.
	Catalogue restore.Catalogue
}

// Report is the outcome of Run.
type Report struct {
	ID       string              `json:"id"`
	Deep     bool                `json:"deep"`
	OK       bool                `json:"ok"`
	Checks   check.VerifyResults `json:"checks"`
	Duration time.Duration       `json:"-"`
	// Seconds is Duration in seconds, for --json.
	Seconds float64 `json:"duration_seconds"`
	// Content is what a deep verify found in the stream: "xbstream",
	// "dump" or "" (not recognised, or not deep).
	Content string `json:"content,omitempty"`
	// Files lists the xbstream's files (Options.List).
	Files []xbstream.File `json:"files,omitempty"`
}

// add records the check name that returned err: a failed check of verify
// is damage of the backup.
func (r *Report) add(name string, err error) bool {
	r.Checks = append(r.Checks, check.FromError(name, err, true))
	return err == nil
}

// failed is the report's error: check.ErrDamaged naming the failed checks.
func (r *Report) failed() error { return check.Err(r.Checks, "") }

// Run checks backup ref (an ID or "latest") without restoring it: the
// manifest is present and valid, and every stored object, of the backup
// and of the backups its chain needs, is present with the recorded size and
// hash. With Deep, the whole stream is also
// decrypted, decompressed and hashed against the manifest, once, while its
// content is checked (see Options.Deep): a damaged xbstream chunk is
// reported with its file.
//
// The report lists every check. The error wraps check.ErrDamaged when a check
// failed, backup.ErrNoBackup when ref names nothing at all, and is some
// other error when verification itself could not run (the store is
// unreachable, the key is missing): the backup's state is then unknown.
func Run(ctx context.Context, st storage.Backend, ref string, opts Options) (*Report, error) {
	start := time.Now()
	rep := &Report{ID: ref, Deep: opts.Deep}
	defer func() {
		rep.Duration = time.Since(start)
		rep.Seconds = rep.Duration.Seconds()
		rep.OK = rep.failed() == nil
	}()

	cat := opts.Catalogue
	if cat == nil {
		cat = restore.MybakCatalogue{Store: st}
	}
	m, err := cat.Resolve(ctx, ref)
	if err != nil {
		return rep, notFound(ctx, st, cat, ref, err, rep)
	}
	rep.ID = m.ID
	rep.add("manifest", nil)
	authCheck(rep, m, "authentication", opts.Options)
	if err := checkObjects(ctx, st, cat, m, "", rep); err != nil {
		return rep, err
	}
	if m.Parent != "" {
		chain, perr := cat.Chain(ctx, m)
		if perr == nil {
			// The links must hold (a physical chain's LSNs line up: an
			// incremental taken from another parent would fail in
			// prepare, or worse, apply wrongly): the engine knows.
			eng, err := engine.For(m)
			if err != nil {
				return rep, err
			}
			perr = eng.CheckChain(chain)
		}
		rep.add("parent chain", perr)
		// Restoring an incremental needs every backup before it: their
		// objects are checked too.
		if perr == nil {
			for _, p := range chain[:len(chain)-1] {
				authCheck(rep, p, "authentication "+p.ID, opts.Options)
				if err := checkObjects(ctx, st, cat, p, p.ID+"/", rep); err != nil {
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

// notFound sorts the failure err to resolve ref: a manifest that does not
// parse, and objects stored without a manifest, are damage (a failed
// "manifest" check); a backup still being written, or nothing at all, is
// not (the error says so).
func notFound(ctx context.Context, st storage.Backend, cat restore.Catalogue, ref string, err error, rep *Report) error {
	if u, ok := cat.(restore.Unfinisher); ok && ref != "latest" && errors.Is(err, backup.ErrNoBackup) {
		// A backup being written is not damaged, just not finished.
		_, why, n, lerr := u.Unfinished(ctx, ref)
		if why != "" {
			return fmt.Errorf("backup %s in %s is in progress (%s): verify it once it has finished", ref, st.Location(), why)
		}
		// Objects without a manifest are damage; nothing at all is not.
		if lerr == nil && n > 0 {
			rep.add("manifest", fmt.Errorf("missing: %d object(s) stored without a manifest (an interrupted backup)", n))
			return rep.failed()
		}
		return err
	}
	if errors.Is(err, backup.ErrInvalidManifest) {
		rep.add("manifest", err)
		return rep.failed()
	}
	return err
}

// checkObjects adds a check of every stored object of b (named with
// prefix) to rep: the catalogue's own check when it has one, else
// restore.CheckObject. The error is not nil only when ctx ended.
func checkObjects(ctx context.Context, st storage.Backend, cat restore.Catalogue, b *backup.Manifest, prefix string, rep *Report) error {
	for _, o := range b.Objects {
		var cerr error
		if oc, ok := cat.(restore.ObjectChecker); ok {
			cerr = oc.CheckObject(ctx, b, o)
		} else {
			cerr = restore.CheckObject(ctx, st, b.ObjectPath(o.Name), o)
		}
		rep.add("object "+prefix+o.Name, cerr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// isDamage tells errors that say the data is bad from errors that say
// verification could not run.
func isDamage(err error) bool {
	return !errors.Is(err, restore.ErrNeedKey) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded)
}

// authCheck adds the "authentication" check of m to a verify report: a
// MAC that does not match, or an unauthenticated backup refused by the
// policy, is damage; "not checked: no key" and an accepted unauthenticated
// backup pass with that detail.
func authCheck(rep *Report, m *backup.Manifest, name string, o restore.Options) {
	st, err := o.Policy().Check(m)
	r := check.FromError(name, err, true)
	if err == nil {
		r.Detail = string(st)
	}
	rep.Checks = append(rep.Checks, r)
}
