package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/xbstream"
)

// Content kinds that a deep verify checks inside the decoded stream.
const (
	contentXbstream = "xbstream"
	contentDump     = "dump"
)

// dumpTail is how much of a dump's end the trailer check keeps.
const dumpTail = 4 << 10

// contentKind says what the stream of m holds, by its engine: an xbstream
// for the physical engines, a SQL dump for the logical ones, "" (look at
// the first bytes) for the others (stdin).
func contentKind(m *backup.Manifest) string {
	switch mysql.Engine(m.Engine.Name) {
	case mysql.EngineXtrabackup, mysql.EngineInnobackupex, mysql.EngineMariabackup:
		return contentXbstream
	case mysql.EngineMysqldump, mysql.EngineMariadbDump:
		return contentDump
	}
	return ""
}

// sniff recognises an xbstream or a mysqldump/mariadb-dump dump by its
// first bytes ("" when it is neither). MariaDB's dump tools since 10.5.25,
// 10.6.18 and 10.11.8 put a "/*M!999999\- enable the sandbox mode */"
// line before the "-- MariaDB dump" header.
func sniff(head []byte) string {
	if bytes.HasPrefix(head, []byte(xbstream.Magic)) {
		return contentXbstream
	}
	if bytes.HasPrefix(head, []byte("/*M!999999")) {
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			head = head[i+1:]
		}
	}
	if bytes.HasPrefix(head, []byte("-- MySQL dump ")) || bytes.HasPrefix(head, []byte("-- MariaDB dump ")) {
		return contentDump
	}
	return ""
}

// sniffLen is how many first bytes sniff looks at.
const sniffLen = 256

// contentChecker is the io.Writer a deep verify decodes into: it checks the
// stream's content as it passes, so the backup is downloaded and decoded
// once. An xbstream goes through xbstream.Scan in a goroutine fed by a
// pipe; a dump keeps its last bytes for the trailer check. Memory is
// bounded: the pipe holds no data, the dump tail is 4 KiB.
type contentChecker struct {
	ctx      context.Context
	kind     string
	sniffing bool
	head     []byte // the first bytes, while sniffing

	pw   *io.PipeWriter
	done chan struct{}
	sum  *xbstream.Summary
	serr error

	tail []byte
}

func newContentChecker(ctx context.Context, kind string) *contentChecker {
	c := &contentChecker{ctx: ctx, kind: kind, sniffing: kind == ""}
	c.start()
	return c
}

// start begins the check of c.kind once it is known.
func (c *contentChecker) start() {
	if c.kind != contentXbstream {
		return
	}
	pr, pw := io.Pipe()
	c.pw, c.done = pw, make(chan struct{})
	go func() {
		defer close(c.done)
		c.sum, c.serr = xbstream.Scan(c.ctx, pr)
		// Damage that stops the scan must not stop the decode, whose
		// hashes are still checked: drain what follows.
		io.Copy(io.Discard, pr)
	}()
}

// Write implements io.Writer.
func (c *contentChecker) Write(p []byte) (int, error) {
	n := len(p)
	if c.sniffing {
		take := min(sniffLen-len(c.head), len(p))
		c.head = append(c.head, p[:take]...)
		p = p[take:]
		if len(c.head) < sniffLen {
			return n, nil
		}
		if err := c.endSniff(); err != nil {
			return 0, err
		}
	}
	if err := c.feed(p); err != nil {
		return 0, err
	}
	return n, nil
}

func (c *contentChecker) endSniff() error {
	c.sniffing = false
	c.kind = sniff(c.head)
	c.start()
	head := c.head
	c.head = nil
	return c.feed(head)
}

// feed passes p to the check of c.kind.
func (c *contentChecker) feed(p []byte) error {
	switch c.kind {
	case contentXbstream:
		if _, err := c.pw.Write(p); err != nil {
			return fmt.Errorf("check the xbstream: %w", err)
		}
	case contentDump:
		if len(p) >= dumpTail {
			c.tail = append(c.tail[:0], p[len(p)-dumpTail:]...)
		} else {
			c.tail = append(c.tail, p...)
			if len(c.tail) > dumpTail {
				c.tail = append(c.tail[:0], c.tail[len(c.tail)-dumpTail:]...)
			}
		}
	}
	return nil
}

// finish ends the checks once the decode returned decodeErr, and waits
// for the scan.
func (c *contentChecker) finish(decodeErr error) {
	if c.sniffing && decodeErr == nil {
		c.endSniff() // a stream shorter than sniffLen
	}
	if c.pw == nil {
		return
	}
	if decodeErr != nil {
		c.pw.CloseWithError(decodeErr)
	} else {
		c.pw.Close()
	}
	<-c.done
}

// deepVerify decodes m's whole stream once, checking its hashes against
// the manifest and what it holds: every chunk's CRC-32 of an xbstream
// (physical engines, or a stdin backup that starts like one), the trailer
// of a dump. It adds the checks to rep and lists the xbstream's files in
// rep.Files when list is set. The error is not nil only when the check
// could not run (no key, cancelled).
func deepVerify(ctx context.Context, st storage.Backend, m *backup.Manifest, opts Options, rep *Report) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cc := newContentChecker(cctx, contentKind(m))
	_, derr := restore.ToWriter(ctx, st, m, cc, opts.Options)
	cc.finish(derr)
	if derr != nil && !isDamage(derr) {
		return derr
	}
	rep.add("decode and hash the stream", derr)
	rep.Content = cc.kind
	switch cc.kind {
	case contentXbstream:
		return xbstreamCheck(m, cc, derr, opts.List, rep)
	case contentDump:
		if derr == nil {
			var err error
			if !mysql.DumpComplete(cc.tail) {
				err = errors.New(`the dump does not end with "-- Dump completed": the dump tool did not finish (restore would stop half-way)`)
			}
			rep.add("dump trailer", err)
		}
	}
	return nil
}

// xbstreamCheck adds the outcome of the xbstream scan to rep.
func xbstreamCheck(m *backup.Manifest, cc *contentChecker, derr error, list bool, rep *Report) error {
	const name = "xbstream chunks (CRC-32)"
	s, err := cc.sum, cc.serr
	if err != nil && !xbstream.Damaged(err) {
		if derr == nil {
			return err // the scan itself could not run (cancelled)
		}
	}
	if derr != nil {
		// The decode failed: the scan saw a cut stream. Only the chunks
		// found damaged before that point are worth saying.
		if damage := damageOnly(err); damage != "" {
			rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.Failed, Damage: true, Detail: "before the decode failed: " + damage})
		}
		return nil
	}
	if err != nil {
		detail := damageOnly(err)
		if m.RawSHA256 != "" {
			detail += fmt.Sprintf(" (the stream matches the SHA-256 recorded when it was stored: %s wrote it damaged; storage did not damage it)", toolName(m))
		}
		rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.Failed, Damage: true, Detail: detail})
	} else {
		rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.OK,
			Detail: fmt.Sprintf("%d files, %d chunks, %d payload bytes", len(s.Files), s.Chunks, s.Payload)})
	}
	if list && s != nil {
		rep.Files = s.Files
		if rep.Files == nil {
			rep.Files = []xbstream.File{}
		}
	}
	return nil
}

// damageOnly joins the damage found by a scan, one per "; ", leaving out
// the reader's own error.
func damageOnly(err error) string {
	if err == nil {
		return ""
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var msgs []string
	for _, e := range errs {
		if xbstream.Damaged(e) {
			msgs = append(msgs, e.Error())
		}
	}
	return strings.Join(msgs, "; ")
}

// toolName names who produced m's stream.
func toolName(m *backup.Manifest) string {
	if m.Engine.Name == "" || m.Engine.Name == "stdin" {
		return "the program that produced it"
	}
	return m.Engine.Name
}
