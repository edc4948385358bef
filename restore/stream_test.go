package restore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/stream"
)

// failingEngine writes some bytes and fails.
type failingEngine struct{}

func (failingEngine) Name() string      { return "stdin" }
func (failingEngine) Extension() string { return "" }
func (failingEngine) Run(ctx context.Context, w io.Writer, _ *backup.Manifest) (backup.EngineResult, error) {
	w.Write(bytes.Repeat([]byte("x"), 3<<20))
	return backup.EngineResult{}, errors.New("mariabackup exited 1")
}

func wireOf(t *testing.T, data []byte, pass []byte, kind string) ([]byte, *backup.Manifest) {
	t.Helper()
	var out bytes.Buffer
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: kind}, Pass: pass, FrameSize: 1 << 20}
	if pass != nil {
		enc.KDF = crypto.DefaultKDF
	}
	m, err := backup.RunToWriter(context.Background(), &out, backup.Options{
		Engine: backup.StdinEngine{R: bytes.NewReader(data)}, Encode: enc})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), m
}

// TestWireRoundTrip: what RunToWriter writes, DecodeWire restores and
// proves with the in-band manifest; every kind of damage is an error.
func TestWireRoundTrip(t *testing.T) {
	data := make([]byte, 5<<20+123)
	rand.Read(data[:1<<20])
	pass := []byte("wire key")
	for _, kind := range []string{"gzip", "zstd", "none"} {
		t.Run(kind, func(t *testing.T) {
			w, sent := wireOf(t, data, pass, kind)
			wr, err := backup.NewWireReader(bytes.NewReader(w), backup.WireReadOptions{Pass: pass})
			if err != nil {
				t.Fatal(err)
			}
			if wr.Header.ID != sent.ID || wr.Header.Compression.Kind != kind || wr.Header.Encryption == nil {
				t.Fatalf("header %+v", wr.Header)
			}
			var got bytes.Buffer
			m, err := DecodeWire(context.Background(), wr, &got, Options{Pass: pass})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data) || m.RawSHA256 != sent.RawSHA256 || m.ID != sent.ID {
				t.Fatalf("round trip: %d bytes, manifest %s", got.Len(), m.ID)
			}
		})
	}

	w, _ := wireOf(t, data, pass, "gzip")
	decode := func(b []byte, pass []byte) error {
		wr, err := backup.NewWireReader(bytes.NewReader(b), backup.WireReadOptions{Pass: pass})
		if err != nil {
			return err
		}
		_, err = DecodeWire(context.Background(), wr, io.Discard, Options{Pass: pass})
		return err
	}
	flip := append([]byte(nil), w...)
	flip[len(flip)/2] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		pass []byte
		want string
		is   error
	}{
		{"empty", nil, pass, "standard input is empty", backup.ErrWire},
		{"foreign", []byte("-- MySQL dump 10.19\n"), pass, "does not start with", backup.ErrWire},
		{"truncated", w[:len(w)/2], pass, "truncated", backup.ErrWire},
		{"no manifest", w[:len(w)-300], pass, "truncated", backup.ErrWire},
		{"damaged", flip, pass, "CRC mismatch", backup.ErrWire},
		{"trailing", append(append([]byte(nil), w...), 'x'), pass, "data after the manifest", backup.ErrWire},
		// An authenticated stream needs its key before anything is read,
		// and another key fails the header's MAC.
		{"no key", w, nil, "authenticated (and encrypted) with a key", backup.ErrWire},
		{"wrong key", w, []byte("other"), "another key", backup.ErrAuthentication},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decode(tc.b, tc.pass)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %q (%v)", err, tc.want, tc.is)
			}
		})
	}

	t.Run("sender failed", func(t *testing.T) {
		var out bytes.Buffer
		_, err := backup.RunToWriter(context.Background(), &out, backup.Options{Engine: failingEngine{},
			Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}}})
		if err == nil {
			t.Fatal("no error")
		}
		err = decode(out.Bytes(), nil)
		var se *backup.WireSenderError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "mariabackup exited 1") {
			t.Fatalf("got %v", err)
		}
	})
}
