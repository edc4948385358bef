//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxPacket is more than the largest read from a TUN device with TSO (a
// virtio_net_hdr and a GSO packet of up to 64 KiB), so a read never
// truncates a packet.
const maxPacket = 1 << 17

// line is one direction of the wire: a delay line. Every packet read from the
// source is stamped with the time it was read and written to the destination
// at that time plus delay, in the order read. Packets are read while earlier
// ones wait, so the delay does not limit the bandwidth (the wire is not
// stop-and-wait); at most queue packets wait at once, and while that many do
// the source is not read (back-pressure: the sender's queue fills, as a full
// router queue would).
type line struct {
	delay time.Duration
	queue int

	forwarded atomic.Int64 // packets written
	dropped   atomic.Int64 // packets the destination refused (e.g. a device not up yet)
}

// packet is a packet on the line and the time it may leave.
type packet struct {
	due time.Time
	buf *[]byte
	n   int
}

var buffers = sync.Pool{New: func() any { b := make([]byte, maxPacket); return &b }}

// run forwards packets from src to dst until src fails, then writes what is
// still on the line and returns. A source that was closed (os.ErrClosed, the
// shutdown path) or ended (io.EOF) is not an error; any other read error is
// returned. A failed write drops that packet only (counted in dropped), as a
// wire whose far end is down would, except a closed destination, which ends
// the line. src is read by one goroutine and dst written by another.
func (l *line) run(src io.Reader, dst io.Writer) error {
	q := make(chan packet, l.queue)
	done := make(chan struct{}) // the writer stopped: the reader must not block on q
	var readErr error
	go func() {
		defer close(q)
		for {
			b := buffers.Get().(*[]byte)
			n, err := src.Read(*b)
			if err != nil {
				buffers.Put(b)
				if !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
			select {
			case q <- packet{due: time.Now().Add(l.delay), buf: b, n: n}:
			case <-done:
				return
			}
		}
	}()
	defer close(done)
	var timer *time.Timer
	for p := range q {
		if d := time.Until(p.due); d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			<-timer.C
		}
		_, err := dst.Write((*p.buf)[:p.n])
		buffers.Put(p.buf)
		switch {
		case err == nil:
			l.forwarded.Add(1)
		case errors.Is(err, os.ErrClosed):
			return nil // shutting down; the reader stops at its next packet
		default:
			l.dropped.Add(1)
		}
	}
	return readErr // set before q was closed
}
