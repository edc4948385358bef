package local

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

// TestLimitRate: Put writes at most the rate given (after one burst), and
// a cancelled context ends a throttled Put.
func TestLimitRate(t *testing.T) {
	b, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 192<<10)
	start := time.Now()
	if _, err := b.Put(ctx, "free", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("precondition: an uncapped Put of 192 KiB took %v", d)
	}
	b.LimitRate(128 << 10)
	start = time.Now()
	if _, err := b.Put(ctx, "capped", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// 64 KiB of burst, then 128 KiB at 128 KiB/s.
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("192 KiB at 128 KiB/s took %v", d)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	b.LimitRate(1 << 10)
	start = time.Now()
	if _, err := b.Put(cctx, "cancelled", bytes.NewReader(data)); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("throttled Put (192 s at 1 KiB/s) with a 200 ms deadline: %v after %v", err, time.Since(start))
	}
	if _, err := b.Stat(ctx, "cancelled"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a cancelled Put left its object: %v", err)
	}
	b.LimitRate(0)
	start = time.Now()
	if _, err := b.Put(ctx, "free again", bytes.NewReader(data)); err != nil || time.Since(start) > time.Second {
		t.Errorf("LimitRate(0): %v after %v", err, time.Since(start))
	}
}
