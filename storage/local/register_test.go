package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mybak/mybak/storage"
)

// TestOpenByLocation: the local store's factories, through storage.Open.
func TestOpenByLocation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		loc     string
		opts    storage.OpenOptions
		wantDir string // the store's directory; "" when Open must fail
		usage   bool   // the failure is ErrUsage
	}{
		{name: "plain path", loc: dir, wantDir: dir},
		{name: "file URL", loc: "file://" + dir, wantDir: dir},
		{name: "file URL of localhost", loc: "file://localhost" + dir, wantDir: dir},
		{name: "file URL with a host", loc: "file://host" + dir, usage: true},
		{name: "file URL without a path", loc: "file://", usage: true},
		{name: "missing without Create", loc: filepath.Join(dir, "missing")},
		{name: "missing with Create", loc: filepath.Join(dir, "new"), opts: storage.OpenOptions{Create: true}, wantDir: filepath.Join(dir, "new")},
		{name: "bad limit-rate", loc: dir, opts: storage.OpenOptions{Settings: storage.Values{"limit-rate": "fast"}}, usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := storage.Open(ctx, tc.loc, tc.opts)
			if tc.wantDir == "" {
				if err == nil {
					b.Close()
					t.Fatalf("opened %s", tc.loc)
				}
				if errors.Is(err, storage.ErrUsage) != tc.usage {
					t.Fatalf("err %v: ErrUsage %v, want %v", err, !tc.usage, tc.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.Location() != tc.wantDir {
				t.Errorf("Location() = %q, want %q", b.Location(), tc.wantDir)
			}
			if _, err := os.Stat(tc.wantDir); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("opening without Create created the directory")
	}
}

// TestOpenLimitRate: the limit-rate setting caps the writes.
func TestOpenLimitRate(t *testing.T) {
	for _, rate := range []string{"", "512K"} {
		b, err := storage.Open(context.Background(), t.TempDir(), storage.OpenOptions{Settings: storage.Values{"limit-rate": rate}})
		if err != nil {
			t.Fatal(err)
		}
		lb := b.(*Backend)
		if got := lb.limiter != nil; got != (rate != "") {
			t.Errorf("limit-rate %q: limiter set %v", rate, got)
		}
		if rate != "" && lb.limiter.Limit() != 512<<10 {
			t.Errorf("limit-rate %q: limit %v", rate, lb.limiter.Limit())
		}
		b.Close()
	}
}
