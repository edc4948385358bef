package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
)

// xbEngine is a physical engine (its Extension is .xbstream) whose tool
// "exits 0" after writing data.
type xbEngine struct{ data []byte }

func (xbEngine) Name() string      { return "mariabackup" }
func (xbEngine) Extension() string { return ".xbstream" }
func (e xbEngine) Run(_ context.Context, w io.Writer, _ *Manifest) (EngineResult, error) {
	// In pieces, as a tool writes.
	for p := e.data; len(p) > 0; {
		n := min(len(p), 7000)
		if _, err := w.Write(p[:n]); err != nil {
			return EngineResult{}, err
		}
		p = p[n:]
	}
	return EngineResult{}, nil
}

func goodXbstream(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := xbstream.NewWriter(&buf)
	w.ChunkSize = 16 << 10
	for _, f := range []struct{ path, data string }{
		{"ibdata1", strings.Repeat("ibdata", 20000)},
		{"db/t.ibd", strings.Repeat("t", 50000)},
		{"xtrabackup_checkpoints", "backup_type = full-backuped\n"},
	} {
		if _, err := w.WriteFile(f.path, strings.NewReader(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestToolStreamChecked: a physical tool's damaged stream fails the
// backup (no manifest, nothing left) although the tool succeeded.
func TestToolStreamChecked(t *testing.T) {
	good := goodXbstream(t)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40 // a payload byte: its chunk's CRC no longer matches
	badType := append([]byte(nil), good...)
	badType[bytes.Index(badType[100:], []byte(xbstream.Magic))+100+9] = 'D' // the second chunk's type
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
		want string
	}{
		{"intact", good, true, ""},
		{"payload byte flipped", flipped, false, "CRC"},
		{"bad chunk type", badType, false, "unknown chunk type 0x44"},
		{"cut short", good[:len(good)-100], false, "damaged"},
		{"not an xbstream", []byte("-- a dump, not a stream\n"), false, "damaged"},
		{"empty", nil, false, "no xbstream chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			m, err := Run(context.Background(), Options{Store: st, Engine: xbEngine{tc.data},
				Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.None}}})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if m.RawSize != int64(len(tc.data)) {
					t.Errorf("raw size %d, want %d", m.RawSize, len(tc.data))
				}
				return
			}
			if !errors.Is(err, ErrToolStream) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v: want ErrToolStream mentioning %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			entries, lerr := Catalogue(context.Background(), st)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(entries) != 0 {
				t.Errorf("the failed backup left %d entries (%s)", len(entries), entries[0].State)
			}
		})
	}
}
