package verify

import (
	"context"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
)

// deepVerify decodes m's whole stream once, checking its hashes against
// the manifest and, on the way, its content with the check m's engine
// gives (engine.Engine.NewContentCheck: every chunk's CRC-32 of an
// xbstream, the trailer of a dump, a stdin backup recognised by its first
// bytes). It adds the checks to rep and lists the xbstream's files in
// rep.Files when opts.List is set. The error is not nil only when the
// check could not run (no key, cancelled).
func deepVerify(ctx context.Context, st storage.Backend, m *backup.Manifest, opts Options, rep *Report) error {
	eng, err := engine.For(m)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cc := eng.NewContentCheck(cctx, m)
	_, derr := restore.ToWriter(ctx, st, m, cc, opts.Options)
	content := cc.Finish(derr)
	if derr != nil && !isDamage(derr) {
		return derr
	}
	rep.add("decode and hash the stream", derr)
	rep.Content = content.Content
	if content.Err != nil {
		return content.Err // the content check itself could not run (cancelled)
	}
	rep.Checks = append(rep.Checks, content.Checks...)
	if opts.List && content.Files != nil {
		rep.Files = content.Files
	}
	return nil
}
