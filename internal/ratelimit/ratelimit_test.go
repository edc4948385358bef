package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNoCapIsTheReaderItself(t *testing.T) {
	r := strings.NewReader("x")
	if New(0) != nil || New(-1) != nil || Reader(context.Background(), r, nil) != io.Reader(r) {
		t.Error("no cap must not wrap the reader")
	}
	if l := New(10); l.Burst() != 10 {
		t.Errorf("burst %d, want the rate when under Burst", l.Burst())
	}
	if l := New(1 << 30); l.Burst() != Burst {
		t.Errorf("burst %d, want %d", l.Burst(), Burst)
	}
}

// TestReaderWaitsForTheLimiter: reads are cut to the burst, and a read that
// must wait ends with its context (no timing: the wait cannot be met).
func TestReaderWaitsForTheLimiter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, bytes.NewReader(make([]byte, 100)), New(4))
	p := make([]byte, 100)
	n, err := r.Read(p)
	if n != 4 || err != nil {
		t.Fatalf("first read: %d %v, want the burst of 4", n, err)
	}
	cancel()
	if _, err := r.Read(p); !errors.Is(err, context.Canceled) {
		t.Errorf("a read that must wait, after cancel: %v", err)
	}
}
