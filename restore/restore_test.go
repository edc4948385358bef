package restore

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"sync/atomic"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// countingStore counts Gets and hides the local store's CheapRanges, as
// Swift's store would not have it.
type countingStore struct {
	storage.Backend
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Backend.Get(ctx, name, off)
}

// cheapCountingStore is a countingStore that reads ranges cheaply.
type cheapCountingStore struct{ *countingStore }

func (cheapCountingStore) CheapRanges() {}

// TestToWriterRangesOnlyWhenCheap: a backup of several frames is read
// frame by frame, in parallel, only from a store whose ranged reads are
// cheap; any other store is read once, in order.
func TestToWriterRangesOnlyWhenCheap(t *testing.T) {
	ctx := context.Background()
	lst, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5<<20)
	rand.Read(data[:1<<20])
	m, err := backup.Run(ctx, backup.Options{Store: lst, Engine: backup.StdinEngine{R: bytes.NewReader(data)},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}, Pass: []byte("k"), FrameSize: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) < 4 {
		t.Fatalf("%d frames, want several", len(m.Frames))
	}
	for _, tc := range []struct {
		name     string
		parallel int
		wantOne  bool
	}{
		{name: "not cheap", wantOne: true},
		{name: "cheap", parallel: 2},
		{name: "cheap, --parallel 1", parallel: 1, wantOne: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &countingStore{Backend: lst}
			var st storage.Backend = cs
			if tc.name != "not cheap" {
				st = cheapCountingStore{cs}
			}
			var out bytes.Buffer
			if _, err := ToWriter(ctx, st, m, &out, Options{Pass: []byte("k"), Parallel: tc.parallel}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatal("restored bytes differ")
			}
			if got := cs.gets.Load(); (got == 1) != tc.wantOne {
				t.Errorf("%d Gets of the data object", got)
			}
		})
	}
}

// partsStore is a local store that claims to check every part by MD5, as
// Swift's does (storage.ChecksParts).
type partsStore struct{ storage.Backend }

func (partsStore) ChecksParts() {}

// TestNoStoredHashForPartCheckingStores: a backup to a store that checks
// its parts itself records no SHA-256 of the stored stream (the CPU it
// costs is a sixth of a Swift upload's) but still the raw stream's, and
// restores (verify/parts_test.go verifies it); any other store gets both.
func TestNoStoredHashForPartCheckingStores(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 3<<20)
	rand.Read(data)
	for _, parts := range []bool{false, true} {
		lst, err := local.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var st storage.Backend = lst
		if parts {
			st = partsStore{lst}
		}
		m, err := backup.Run(ctx, backup.Options{Store: st, Engine: backup.StdinEngine{R: bytes.NewReader(data)},
			Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}, Pass: []byte("k")}})
		if err != nil {
			t.Fatal(err)
		}
		if (m.StoredSHA256 == "") != parts || (m.Objects[0].SHA256 == "") != parts {
			t.Errorf("checks parts %v: stored_sha256 %q, object sha256 %q", parts, m.StoredSHA256, m.Objects[0].SHA256)
		}
		if m.RawSHA256 == "" || m.StoredSize == 0 {
			t.Errorf("checks parts %v: raw sha256 %q, stored size %d", parts, m.RawSHA256, m.StoredSize)
		}
		var out bytes.Buffer
		if _, err := ToWriter(ctx, st, m, &out, Options{Pass: []byte("k")}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("checks parts %v: restored bytes differ", parts)
		}
	}
}
