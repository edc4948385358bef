//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
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
// fail, and with what.
type sink struct {
	mu   sync.Mutex
	got  []string
	at   []time.Time
	fail func(i int) error
	n    int
}

func (s *sink) Write(p []byte) (int, error) {
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
// was read, in order, and a burst is not serialised by the delay (the whole
// burst takes about one delay, not one per packet).
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
			if fmt.Sprint(dst.got) != fmt.Sprint(want) {
				t.Fatalf("written %q, want %q", dst.got, want)
			}
			for i := range want {
				if d := dst.at[i].Sub(src.at[i]); d < tc.delay {
					t.Errorf("packet %d left %v after it was read, want >= %v", i, d, tc.delay)
				}
			}
			if limit := tc.delay + 500*time.Millisecond; elapsed > limit {
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
	l := &line{delay: 200 * time.Millisecond, queue: queue}
	done := make(chan error, 1)
	go func() { done <- l.run(src, &sink{}) }()
	time.Sleep(100 * time.Millisecond)
	// queue in the channel, one waiting in the writer, one read and not yet queued.
	if got := src.reads.Load(); got > queue+2 {
		t.Errorf("%d packets read while the first waits, want <= %d", got, queue+2)
	}
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
