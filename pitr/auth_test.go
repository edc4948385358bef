package pitr

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/stream"
)

// TestRecordAuth: with a key, a record must carry a MAC that matches: an
// altered record, one whose MAC line was removed, and the wrong key are
// refused (listed damaged, never used); without a key records are read
// unchecked.
func TestRecordAuth(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	pass := []byte("record key")
	seal, err := newSealer(pass)
	if err != nil {
		t.Fatal(err)
	}
	p := &Piece{Format: PieceFormat, Server: "mariadb-7", ServerID: 7, File: "db-bin.000003",
		Created: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), Start: 0, End: 4}
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}, Pass: pass}
	if err := storePiece(ctx, st, p, bytes.NewReader([]byte{0xfe, 'b', 'i', 'n'}), enc, seal, time.Now); err != nil {
		t.Fatal(err)
	}
	load := func(pass []byte) (*Index, error) { return LoadIndex(ctx, st, pass) }
	if ix, err := load(pass); err != nil || len(ix.Pieces) != 1 || len(ix.Damaged) != 0 {
		t.Fatalf("sealed record with its key: %+v %v", ix, err)
	}
	if ix, _ := load([]byte("other key")); len(ix.Pieces) != 0 || !errors.Is(ix.Damaged[p.RecordName()], backup.ErrAuthentication) {
		t.Fatalf("wrong key: %+v", ix)
	}
	if ix, _ := load(nil); len(ix.Pieces) != 1 {
		t.Fatalf("no key: %+v", ix)
	}
	orig := readAll(t, st, p.RecordName())
	for _, c := range []struct {
		name string
		edit func(string) string
		want error
	}{
		{"altered end", func(s string) string { return strings.Replace(s, `"end": 4`, `"end": 5`, 1) }, backup.ErrAuthentication},
		{"MAC removed", func(s string) string { return s[:strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")+1] }, backup.ErrUnauthenticated},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := st.Put(ctx, p.RecordName(), strings.NewReader(c.edit(orig))); err != nil {
				t.Fatal(err)
			}
			defer st.Put(ctx, p.RecordName(), strings.NewReader(orig))
			ix, _ := load(pass)
			if len(ix.Pieces) != 0 || !errors.Is(ix.Damaged[p.RecordName()], c.want) {
				t.Fatalf("%+v, want %v", ix.Damaged, c.want)
			}
		})
	}
}

func readAll(t *testing.T, st interface {
	Get(context.Context, string, int64) (io.ReadCloser, error)
}, name string) string {
	rc, err := st.Get(context.Background(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}
