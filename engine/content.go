package engine

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
	"github.com/mybak/mybak/xbstream"
)

// ContentCheck is the io.Writer verify --deep decodes a backup's stream
// into: it checks the content as it passes, so the backup is downloaded
// and decoded once, and holds a bounded amount of memory. Write it from
// one goroutine, then call Finish once.
type ContentCheck interface {
	io.Writer
	// Finish ends the check once the decode returned decodeErr (nil: the
	// whole stream was written, its hashes matched) and says what it
	// found.
	Finish(decodeErr error) ContentReport
}

// Content kinds a deep verify reports (Verify's report, "content").
const (
	ContentXbstream = "xbstream"
	ContentDump     = "dump"
)

// ContentReport is what a ContentCheck found.
type ContentReport struct {
	// Content is what the stream holds: ContentXbstream, ContentDump or
	// "" (not recognised).
	Content string
	// Checks are the content's checks, in order: a failed one is damage
	// of the backup.
	Checks []check.Result
	// Files lists an xbstream's files (nil when there is no list).
	Files []xbstream.File
	// Err is set when the check itself could not run (cancelled): the
	// backup's state is then unknown.
	Err error
}

// dumpTail is how much of a dump's end the trailer check keeps.
const dumpTail = 4 << 10

// sniffLen is how many first bytes a sniffing check looks at.
const sniffLen = 256

// NewXbstreamCheck checks every chunk of an xbstream (framing, CRC-32,
// safe names) with xbstream.Checker. producer names who wrote m's stream
// in the damage message ("mariabackup", "the program that produced it").
func NewXbstreamCheck(ctx context.Context, m *backup.Manifest, producer string) ContentCheck {
	return &contentCheck{ctx: ctx, m: m, producer: producer, kind: ContentXbstream, xb: xbstream.NewChecker(ctx)}
}

// NewDumpCheck checks that a dump ends with its "-- Dump completed"
// trailer (it keeps the last 4 KiB).
func NewDumpCheck(ctx context.Context, m *backup.Manifest) ContentCheck {
	return &contentCheck{ctx: ctx, m: m, kind: ContentDump}
}

// NewSniffCheck recognises an xbstream or a mysqldump/mariadb-dump dump by
// its first bytes and checks it like NewXbstreamCheck or NewDumpCheck;
// other content is only hashed. producer is as for NewXbstreamCheck.
func NewSniffCheck(ctx context.Context, m *backup.Manifest, producer string) ContentCheck {
	return &contentCheck{ctx: ctx, m: m, producer: producer, sniffing: true}
}

// contentCheck implements the three checks: an xbstream goes through an
// xbstream.Checker, a dump keeps its tail, and a sniffing check holds the
// first bytes until it knows which.
type contentCheck struct {
	ctx      context.Context
	m        *backup.Manifest
	producer string
	kind     string
	sniffing bool
	head     []byte // the first bytes, while sniffing

	xb   *xbstream.Checker
	tail []byte
}

// Write implements io.Writer.
func (c *contentCheck) Write(p []byte) (int, error) {
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

func (c *contentCheck) endSniff() error {
	c.sniffing = false
	c.kind = sniff(c.head)
	if c.kind == ContentXbstream {
		c.xb = xbstream.NewChecker(c.ctx)
	}
	head := c.head
	c.head = nil
	return c.feed(head)
}

// feed passes p to the check of c.kind.
func (c *contentCheck) feed(p []byte) error {
	switch {
	case c.xb != nil:
		_, err := c.xb.Write(p)
		return err
	case c.kind == ContentDump:
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

// Finish implements ContentCheck.
func (c *contentCheck) Finish(derr error) ContentReport {
	if c.sniffing && derr == nil {
		c.endSniff() // a stream shorter than sniffLen
	}
	rep := ContentReport{Content: c.kind}
	switch {
	case c.xb != nil:
		var s *xbstream.Summary
		var err error
		if derr != nil {
			s, err = c.xb.Abort(derr)
		} else {
			s, err = c.xb.Finish()
		}
		c.xbstreamReport(s, err, derr, &rep)
	case c.kind == ContentDump && derr == nil:
		var err error
		if !mysql.DumpComplete(c.tail) {
			err = errors.New(`the dump does not end with "-- Dump completed": the dump tool did not finish (restore would stop half-way)`)
		}
		rep.Checks = append(rep.Checks, check.FromError("dump trailer", err, true))
	}
	return rep
}

// xbstreamReport adds the outcome of the xbstream scan to rep.
func (c *contentCheck) xbstreamReport(s *xbstream.Summary, err, derr error, rep *ContentReport) {
	const name = "xbstream chunks (CRC-32)"
	if err != nil && !xbstream.Damaged(err) && derr == nil {
		rep.Err = err // the scan itself could not run (cancelled)
		return
	}
	if derr != nil {
		// The decode failed: the scan saw a cut stream. Only the chunks
		// found damaged before that point are worth saying.
		if damage := damageOnly(err); damage != "" {
			rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.Failed, Damage: true, Detail: "before the decode failed: " + damage})
		}
		return
	}
	if err != nil {
		detail := damageOnly(err)
		if c.m.RawSHA256 != "" {
			detail += fmt.Sprintf(" (the stream matches the SHA-256 recorded when it was stored: %s wrote it damaged; storage did not damage it)", c.producer)
		}
		rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.Failed, Damage: true, Detail: detail})
	} else {
		rep.Checks = append(rep.Checks, check.Result{Name: name, Status: check.OK,
			Detail: fmt.Sprintf("%d files, %d chunks, %d payload bytes", len(s.Files), s.Chunks, s.Payload)})
	}
	if s != nil {
		rep.Files = s.Files
		if rep.Files == nil {
			rep.Files = []xbstream.File{}
		}
	}
}

// sniff recognises an xbstream or a mysqldump/mariadb-dump dump by its
// first bytes ("" when it is neither). MariaDB's dump tools since 10.5.25,
// 10.6.18 and 10.11.8 put a "/*M!999999\- enable the sandbox mode */"
// line before the "-- MariaDB dump" header.
func sniff(head []byte) string {
	if bytes.HasPrefix(head, []byte(xbstream.Magic)) {
		return ContentXbstream
	}
	if bytes.HasPrefix(head, []byte("/*M!999999")) {
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			head = head[i+1:]
		}
	}
	if bytes.HasPrefix(head, []byte("-- MySQL dump ")) || bytes.HasPrefix(head, []byte("-- MariaDB dump ")) {
		return ContentDump
	}
	return ""
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
