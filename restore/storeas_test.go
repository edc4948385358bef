package restore

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// unwrappingStore is a decorator that declares what it wraps
// (storage.Unwrapper), as storage/retry's does.
type unwrappingStore struct{ storage.Backend }

func (u unwrappingStore) Unwrap() storage.Backend { return u.Backend }

// TestToWriterFindsCheapRangesThroughDecorator: a decorator around a store
// whose ranged reads are cheap does not hide that: the restore still reads
// the frames in parallel, by range (found with storage.As). A plain type
// assertion on the decorator stopped parallel restore without a word.
func TestToWriterFindsCheapRangesThroughDecorator(t *testing.T) {
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
	cs := &countingStore{Backend: lst}
	st := unwrappingStore{cheapCountingStore{cs}}
	var out bytes.Buffer
	if _, err := ToWriter(ctx, st, m, &out, Options{Pass: []byte("k"), Parallel: 2}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("restored bytes differ")
	}
	if got := cs.gets.Load(); got < 2 {
		t.Errorf("%d Gets of the data object through a decorator: parallel restore was not used", got)
	}
}

// TestBackupFindsChecksPartsThroughDecorator: a backup to a decorator
// around a store that checks its parts by MD5 skips the stored stream's
// SHA-256, as it does for the store itself.
func TestBackupFindsChecksPartsThroughDecorator(t *testing.T) {
	ctx := context.Background()
	lst, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := unwrappingStore{partsStore{lst}}
	m, err := backup.Run(ctx, backup.Options{Store: st, Engine: backup.StdinEngine{R: bytes.NewReader([]byte("some bytes"))},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}, Pass: []byte("k")}})
	if err != nil {
		t.Fatal(err)
	}
	if m.StoredSHA256 != "" {
		t.Errorf("stored_sha256 %q through a decorator of a part-checking store, want none", m.StoredSHA256)
	}
}
