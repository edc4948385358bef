package trove

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/stream"
)

// gatedEngine writes data, then waits for its gate: a backup in progress
// that the test ends, with err (a failure) or without.
type gatedEngine struct {
	data    []byte
	written chan struct{}
	gate    chan error
}

func (e gatedEngine) Name() string      { return "xtrabackup" }
func (e gatedEngine) Extension() string { return "" }
func (e gatedEngine) Run(ctx context.Context, w io.Writer, _ *backup.Manifest) (backup.EngineResult, error) {
	if _, err := w.Write(e.data); err != nil {
		return backup.EngineResult{}, err
	}
	close(e.written)
	select {
	case err := <-e.gate:
		return backup.EngineResult{}, err
	case <-ctx.Done():
		return backup.EngineResult{}, ctx.Err()
	}
}

// TestMarkerOfARunningBackup: a Trove backup in progress shows as an
// incomplete entry whose writer is alive (its marker beside the data);
// once complete the marker is gone, and a failed one leaves nothing.
func TestMarkerOfARunningBackup(t *testing.T) {
	sw := prefixedStore(t, testStore(t), "marker")
	ctx := context.Background()
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}
	for _, fail := range []bool{false, true} {
		eng := gatedEngine{data: randXbstream(t, 600<<10), written: make(chan struct{}), gate: make(chan error, 1)}
		w := NewWriter(sw, nil)
		done := make(chan error, 1)
		go func() {
			_, err := backup.Run(ctx, backup.Options{Store: sw, Engine: eng, Encode: enc,
				Writer: w})
			done <- err
		}()
		<-eng.written
		entries, err := NewCatalogue(sw).Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var running *backup.Entry
		for i, e := range entries {
			if e.State == backup.StateIncomplete {
				running = &entries[i]
			}
		}
		if running == nil {
			t.Fatalf("the running backup is not listed: %+v", entries)
		}
		why, err := backup.WriterAlive(ctx, sw, *running, time.Now())
		if err != nil || !strings.Contains(why, "is writing it") {
			t.Errorf("WriterAlive of the running Trove backup = %q, %v", why, err)
		}
		if fail {
			eng.gate <- errors.New("the tool failed")
		} else {
			eng.gate <- nil
		}
		if err := <-done; (err != nil) != fail {
			t.Fatalf("backup (fail=%v): %v", fail, err)
		}
		left := withID(names(t, sw), running.ID)
		if fail && len(left) != 0 {
			t.Errorf("the failed backup left %v", left)
		}
		for _, n := range left {
			if strings.HasSuffix(n, MarkerSuffix) {
				t.Errorf("the complete backup kept its marker: %v", left)
			}
		}
		if !fail && len(left) < 2 {
			t.Errorf("the complete backup: %v", left)
		}
	}
}
