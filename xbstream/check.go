package xbstream

import (
	"context"
	"fmt"
	"io"
)

// Checker scans an xbstream as it is written to it (Scan in a goroutine of
// its own, fed through a pipe), so that a stream on its way somewhere
// else (to the encoder while a backup runs, out of the decoder in
// verify --deep) is checked without being held: the pipe holds no data.
// Damage that stops the scan does not stop the writer: what follows is
// read and thrown away, so the writer's own errors come first.
//
// Write it from one goroutine, then call exactly one of Abort or Finish.
type Checker struct {
	pw   *io.PipeWriter
	done chan struct{}
	sum  *Summary
	err  error
}

// NewChecker starts the scan. It stops when ctx is cancelled.
func NewChecker(ctx context.Context) *Checker {
	pr, pw := io.Pipe()
	c := &Checker{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.sum, c.err = Scan(ctx, pr)
		io.Copy(io.Discard, pr)
	}()
	return c
}

// Write implements io.Writer: p goes to the scan.
func (c *Checker) Write(p []byte) (int, error) {
	n, err := c.pw.Write(p)
	if err != nil {
		return n, fmt.Errorf("check the xbstream: %w", err)
	}
	return n, nil
}

// Abort ends the scan after the writer failed with err (the scan sees a
// stream cut short) and returns what the scan found until then, like
// Finish.
func (c *Checker) Abort(err error) (*Summary, error) {
	c.pw.CloseWithError(err)
	<-c.done
	return c.sum, c.err
}

// Finish ends the scan at the end of a complete stream and returns Scan's
// summary and error (Damaged tells damage from a scan that could not run).
func (c *Checker) Finish() (*Summary, error) {
	c.pw.Close()
	<-c.done
	return c.sum, c.err
}
