//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// source hands out the packets sent on its channel, one per Read, noting when
// each was read; io.EOF once the channel is closed.
type source struct {
	c     chan []byte
	reads atomic.Int64
	mu    sync.Mutex
	at    []time.Time
}

func (s *source) Read(p []byte) (int, error) {
	b, ok := <-s.c
	if !ok {
		return 0, io.EOF
	}
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	s.reads.Add(1)
	return copy(p, b), nil
}

// sink records the packets written to it and when; fail says which writes
// fail, and with what; hold, when set, is called before the first write
// (which waits until it returns).
type sink struct {
	mu   sync.Mutex
	got  []string
	at   []time.Time
	fail func(i int) error
	hold func()
	n    int
}

func (s *sink) Write(p []byte) (int, error) {
	if s.hold != nil {
		s.hold()
		s.hold = nil // only the writer goroutine writes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.fail != nil {
		if err := s.fail(s.n - 1); err != nil {
			return 0, err
		}
	}
	s.got = append(s.got, string(p))
	s.at = append(s.at, time.Now())
	return len(p), nil
}

func packets(n int) []string {
	var ps []string
	for i := range n {
		ps = append(ps, fmt.Sprintf("packet %d", i))
	}
	return ps
}

// TestLineDelaysEveryPacketInOrder: every packet leaves the delay after it
// was read, in order, and a burst is not serialised by the delay: the whole
// burst is read while its first packet waits (the first write waits for
// that), and it takes far less than one delay per packet.
func TestLineDelaysEveryPacketInOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		n     int
	}{
		{"burst of 200, 30ms", 30 * time.Millisecond, 200},
		{"one packet, 20ms", 20 * time.Millisecond, 1},
		{"no delay", 0, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &source{c: make(chan []byte, tc.n)}
			dst := &sink{}
			readAll := make(chan struct{})
			dst.hold = func() {
				// A line that read only after writing would never get here.
				for src.reads.Load() < int64(tc.n) {
					select {
					case <-readAll:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}
			timeout := time.AfterFunc(30*time.Second, func() { close(readAll) })
			defer timeout.Stop()
			want := packets(tc.n)
			for _, p := range want {
				src.c <- []byte(p)
			}
			close(src.c)
			l := &line{delay: tc.delay, queue: 2 * tc.n}
			start := time.Now()
			if err := l.run(src, dst); err != nil {
				t.Fatalf("run: %v", err)
			}
			elapsed := time.Since(start)
			if got := src.reads.Load(); dst.n > 0 && got < int64(tc.n) {
				t.Errorf("the first packet left after %d of %d reads: the line does not read while packets wait", got, tc.n)
			}
			if fmt.Sprint(dst.got) != fmt.Sprint(want) {
				t.Fatalf("written %q, want %q", dst.got, want)
			}
			for i := range want {
				if d := dst.at[i].Sub(src.at[i]); d < tc.delay {
					t.Errorf("packet %d left %v after it was read, want >= %v", i, d, tc.delay)
				}
			}
			// Serialised, the burst would take n delays; half of that is
			// generous for a loaded machine and still tells the two apart.
			if limit := time.Duration(tc.n) * tc.delay / 2; tc.n > 2 && tc.delay > 0 && elapsed > limit {
				t.Errorf("%d packets took %v, want about one delay (< %v): the line serialises them", tc.n, elapsed, limit)
			}
			if got := l.forwarded.Load(); got != int64(tc.n) {
				t.Errorf("forwarded = %d, want %d", got, tc.n)
			}
		})
	}
}

// TestLineBackPressure: with queue packets waiting, the line stops reading.
func TestLineBackPressure(t *testing.T) {
	const queue = 4
	src := &source{c: make(chan []byte, 20)}
	for _, p := range packets(20) {
		src.c <- []byte(p)
	}
	close(src.c)
	l := &line{delay: 0, queue: queue}
	release := make(chan struct{})
	dst := &sink{hold: func() { <-release }} // the first packet cannot leave
	done := make(chan error, 1)
	go func() { done <- l.run(src, dst) }()
	// The reader stops once it blocks on the full queue: queue in the
	// channel, one in the writer, one read and not yet queued. Wait until
	// it is blocked there (its goroutine parked on the channel send), then
	// count.
	deadline := time.Now().Add(30 * time.Second)
	for !readerBlocked() {
		if time.Now().After(deadline) {
			t.Fatalf("the reader never blocked on a full queue (%d packets read)", src.reads.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if got := src.reads.Load(); got > queue+2 {
		t.Errorf("%d packets read while the first waits, want <= %d", got, queue+2)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := l.forwarded.Load(); got != 20 {
		t.Errorf("forwarded = %d, want 20", got)
	}
}

// TestLineWriteErrors: a refused packet is dropped and counted, and the line
// goes on; a closed destination ends the line without an error.
func TestLineWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name               string
		fail               func(i int) error
		forwarded, dropped int64
	}{
		{"device down drops one", func(i int) error {
			if i == 1 {
				return errors.New("input/output error")
			}
			return nil
		}, 4, 1},
		{"closed ends the line", func(i int) error {
			if i >= 2 {
				return os.ErrClosed
			}
			return nil
		}, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &source{c: make(chan []byte, 5)}
			for _, p := range packets(5) {
				src.c <- []byte(p)
			}
			close(src.c)
			l := &line{delay: time.Millisecond, queue: 8}
			if err := l.run(src, &sink{fail: tc.fail}); err != nil {
				t.Fatalf("run: %v", err)
			}
			if f, d := l.forwarded.Load(), l.dropped.Load(); f != tc.forwarded || d != tc.dropped {
				t.Errorf("forwarded %d, dropped %d; want %d, %d", f, d, tc.forwarded, tc.dropped)
			}
		})
	}
}

// TestLineReadError: a read error other than a closed or ended source is the
// line's error.
func TestLineReadError(t *testing.T) {
	l := &line{delay: time.Millisecond, queue: 8}
	boom := errors.New("boom")
	err := l.run(readerFunc(func([]byte) (int, error) { return 0, boom }), &sink{})
	if !errors.Is(err, boom) {
		t.Fatalf("run = %v, want %v", err, boom)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// readerBlocked reports whether line.run's reader goroutine is parked in
// its select on sending to the queue (the queue is full).
func readerBlocked() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, ".(*line).run.func") {
			return true
		}
	}
	return false
}
