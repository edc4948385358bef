package backup

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// silentEngine exits successfully without writing a byte.
type silentEngine struct{ ext string }

func (e silentEngine) Name() string      { return "silent" }
func (e silentEngine) Extension() string { return e.ext }
func (silentEngine) Run(context.Context, io.Writer, *Manifest) (EngineResult, error) {
	return EngineResult{}, nil
}

func objectNames(t *testing.T, st storage.Backend) []string {
	t.Helper()
	var out []string
	if err := st.List(context.Background(), "", func(oi storage.ObjectInfo) error {
		out = append(out, oi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEmptyStream: an engine that yields nothing (an empty standard
// input: `failing-dump | mybak backup` without pipefail) is not a backup:
// Run fails with ErrEmptyStream and leaves no object, unless AllowEmpty.
// An xbstream engine that yields nothing fails even with AllowEmpty.
func TestEmptyStream(t *testing.T) {
	ctx := context.Background()
	for _, eng := range []Engine{StdinEngine{R: strings.NewReader("")}, silentEngine{}} {
		st := newStore(t)
		_, err := Run(ctx, Options{Store: st, Engine: eng, Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}})
		if !errors.Is(err, ErrEmptyStream) || !strings.Contains(err.Error(), "--allow-empty") {
			t.Errorf("%s: %v, want ErrEmptyStream saying --allow-empty", eng.Name(), err)
		}
		if names := objectNames(t, st); len(names) != 0 {
			t.Errorf("%s: a refused empty backup left %v", eng.Name(), names)
		}
		m, err := Run(ctx, Options{Store: st, Engine: eng, AllowEmpty: true, Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}})
		if err != nil || m.RawSize != 0 {
			t.Errorf("%s with AllowEmpty: %v, %v", eng.Name(), m, err)
		}
	}
	st := newStore(t)
	_, err := Run(ctx, Options{Store: st, Engine: silentEngine{ext: ".xbstream"}, AllowEmpty: true})
	if !errors.Is(err, ErrToolStream) {
		t.Errorf("an empty xbstream with AllowEmpty: %v", err)
	}
	if names := objectNames(t, st); len(names) != 0 {
		t.Errorf("a failed empty xbstream backup left %v", names)
	}
}
