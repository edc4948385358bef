package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// sealed returns the stored bytes of a manifest sealed with pass.
func sealed(t *testing.T, pass []byte) []byte {
	t.Helper()
	m := validManifest()
	if err := m.Seal(pass); err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, m.raw) || !strings.Contains(string(b), `"alg": "hmac-sha256"`) {
		t.Fatalf("sealed manifest:\n%s", b)
	}
	return b
}

func parse(t *testing.T, b []byte) *Manifest {
	t.Helper()
	m, err := ParseManifest(b)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	return m
}

// TestManifestAuth: a sealed manifest authenticates with its key; any
// change of its bytes, another key, a removed auth block and a downgrade
// are each reported as the policy says.
func TestManifestAuth(t *testing.T) {
	pass := []byte("manifest key")
	good := sealed(t, pass)
	if st, err := (AuthPolicy{Pass: pass}).Check(parse(t, good)); err != nil || st != AuthOK {
		t.Fatalf("sealed manifest: %v %v", st, err)
	}
	if strings.Contains(string(good), string(pass)) {
		t.Fatal("the manifest holds the key")
	}

	var warned []string
	warn := func(msg string, args ...any) { warned = append(warned, msg) }
	strip := func(b []byte) []byte { // what an attacker does: drop the auth block
		var g map[string]any
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		delete(g, "auth")
		out, _ := json.MarshalIndent(g, "", "  ")
		return out
	}
	macFlipped := append([]byte(nil), good...)
	i := bytes.Index(macFlipped, []byte(`"mac": "`)) + len(`"mac": "`)
	if macFlipped[i] == '0' {
		macFlipped[i] = '1'
	} else {
		macFlipped[i] = '0'
	}
	v1 := bytes.Replace(strip(good), []byte(`"format_version": 2`), []byte(`"format_version": 1`), 1)
	for _, tc := range []struct {
		name    string
		b       []byte
		policy  AuthPolicy
		status  AuthStatus
		is      error
		warning bool
	}{
		{"wrong key", good, AuthPolicy{Pass: []byte("other")}, "", crypto.ErrWrongKey, false},
		{"key check rewritten, wrong key", bytes.Replace(good, []byte(`"key_check": "`), []byte(`"key_check": "0`), 1), AuthPolicy{Pass: []byte("other")}, "", crypto.ErrWrongKey, false},
		{"hash rewritten", bytes.Replace(good, []byte(strings.Repeat("a", 64)), []byte(strings.Repeat("c", 64)), 1), AuthPolicy{Pass: pass}, "", ErrAuthentication, false},
		{"size rewritten", bytes.Replace(good, []byte(`"raw_size": 100`), []byte(`"raw_size": 101`), 1), AuthPolicy{Pass: pass}, "", ErrAuthentication, false},
		{"mac rewritten", macFlipped, AuthPolicy{Pass: pass}, "", ErrAuthentication, false},
		{"re-encoded", append(bytes.ReplaceAll(good, []byte("\n  "), []byte("\n   ")), ' '), AuthPolicy{Pass: pass}, "", ErrAuthentication, false},
		{"no key", good, AuthPolicy{}, AuthNoKey, nil, false},
		{"auth removed", strip(good), AuthPolicy{Pass: pass, Warn: warn}, "", ErrUnauthenticated, false},
		{"auth removed, allowed", strip(good), AuthPolicy{Pass: pass, AllowUnauthenticated: true, Warn: warn}, AuthAllowed, nil, true},
		{"auth removed, no key", strip(good), AuthPolicy{Warn: warn}, AuthNoKeyNoAuth, nil, true},
		{"made before (format 1)", v1, AuthPolicy{Pass: pass, Warn: warn}, AuthLegacy, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warned = nil
			m, err := ParseManifest(tc.b)
			if err == nil {
				var st AuthStatus
				st, err = tc.policy.Check(m)
				if st != tc.status {
					t.Errorf("status %q, want %q", st, tc.status)
				}
			}
			if (tc.is == nil) != (err == nil) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			if (len(warned) > 0) != tc.warning {
				t.Errorf("warnings %q, want warning %v", warned, tc.warning)
			}
		})
	}

	t.Run("trove made", func(t *testing.T) {
		// A manifest its layout synthesized from another tool's objects
		// (besideLayout stands for Trove's).
		m := validManifest()
		m.ID, m.Layout, m.RawSHA256 = "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90", besideLayout{}.Name(), ""
		if st, err := (AuthPolicy{Pass: pass}).Check(m); err != nil || st != AuthLegacy {
			t.Fatalf("%v %v", st, err)
		}
	})
	t.Run("changed after seal", func(t *testing.T) {
		m := parse(t, good)
		m.RawSize++
		if _, err := (AuthPolicy{Pass: pass}).Check(m); err != nil {
			t.Fatal(err) // the bytes are what is authenticated...
		}
		if err := WriteManifest(context.Background(), nil, m); err == nil || !strings.Contains(err.Error(), "changed after it was sealed") {
			t.Fatalf("...and a changed manifest is not written as sealed: %v", err)
		}
	})
}

// wireRecords splits a wire stream into its records (type and payload).
func wireRecords(t *testing.T, b []byte) (recs []struct {
	typ byte
	p   []byte
}) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(WireMagic)) {
		t.Fatal("no magic")
	}
	b = b[len(WireMagic):]
	for len(b) > 0 {
		n := binary.BigEndian.Uint32(b[1:5])
		recs = append(recs, struct {
			typ byte
			p   []byte
		}{b[0], append([]byte(nil), b[5:5+n]...)})
		b = b[5+n+4:]
	}
	return recs
}

func joinRecords(recs []struct {
	typ byte
	p   []byte
}) []byte {
	b := []byte(WireMagic)
	for _, r := range recs {
		b = append(b, rawRecord(r.typ, r.p)...)
	}
	return b
}

func wireStream(t *testing.T, data, pass []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: "none"}, Pass: pass}
	if pass != nil {
		enc.KDF = crypto.DefaultKDF
	}
	if _, err := RunToWriter(context.Background(), &out, Options{Engine: StdinEngine{R: bytes.NewReader(data)}, Encode: enc}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readWire reads a whole stream and returns the data bytes it yielded and
// the error.
func readWire(b []byte, o WireReadOptions) (int64, error) {
	wr, err := NewWireReader(bytes.NewReader(b), o)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, wr)
	if err == nil && wr.Manifest() == nil {
		err = errors.New("no manifest")
	}
	return n, err
}

// TestWireAuth: a stream sent with a key is authenticated record by
// record: altering, dropping, repeating or reordering records, or the
// header, fails before the altered record's bytes are passed on; a cut
// stream is truncated; an unauthenticated stream is refused when a key is
// configured unless allowed.
func TestWireAuth(t *testing.T) {
	pass := []byte("wire key")
	data := make([]byte, 3*WireChunk+100)
	rand.Read(data)
	w := wireStream(t, data, pass)
	recs := wireRecords(t, w)
	if recs[0].typ != 'H' || recs[1].typ != 'A' || recs[len(recs)-1].typ != 'M' || len(recs) != 7 {
		t.Fatalf("records: %d, first %c %c", len(recs), recs[0].typ, recs[1].typ)
	}
	if n, err := readWire(w, WireReadOptions{Pass: pass}); err != nil || n < int64(len(data)) {
		t.Fatalf("intact stream: %d bytes, %v", n, err)
	}
	edit := func(f func(r []struct {
		typ byte
		p   []byte
	}) []struct {
		typ byte
		p   []byte
	}) []byte {
		cp := wireRecords(t, w)
		return joinRecords(f(cp))
	}
	type recs_t = []struct {
		typ byte
		p   []byte
	}
	otherID := func(r recs_t) recs_t {
		var h WireHeader
		json.Unmarshal(r[0].p, &h)
		h.ID = "20200101T000000Z-000000"
		r[0].p, _ = json.Marshal(h)
		return r
	}
	for _, tc := range []struct {
		name string
		b    []byte
		max  int64 // data bytes that may be passed on before the error
		is   error
		want string
	}{
		{"data byte flipped (CRC fixed)", edit(func(r recs_t) recs_t { r[3].p[100] ^= 1; return r }), WireChunk, ErrAuthentication, "does not match its MAC"},
		{"data record dropped", edit(func(r recs_t) recs_t { return append(r[:3], r[4:]...) }), WireChunk, ErrAuthentication, "dropped"},
		{"data record repeated", edit(func(r recs_t) recs_t { return append(r[:4], r[3:]...) }), 2 * WireChunk, ErrAuthentication, "repeated"},
		{"data records swapped", edit(func(r recs_t) recs_t { r[2], r[3] = r[3], r[2]; return r }), 0, ErrAuthentication, "reordered"},
		{"header altered", edit(otherID), 0, ErrAuthentication, "header does not match"},
		{"auth record removed", edit(func(r recs_t) recs_t { return append(r[:1], r[2:]...) }), 0, ErrAuthentication, "header does not match"},
		{"manifest altered", edit(func(r recs_t) recs_t {
			r[6].p = bytes.Replace(r[6].p, []byte(`"raw_size"`), []byte(`"raw_size" `), 1)
			return r
		}), int64(len(data)) + 64, ErrAuthentication, "manifest record"},
		{"cut before the manifest", edit(func(r recs_t) recs_t { return r[:6] }), int64(len(data)) + 64, ErrWire, "truncated"},
		{"tag cut off", edit(func(r recs_t) recs_t { r[6].p = r[6].p[:len(r[6].p)-wireTagLen]; return r }), int64(len(data)) + 64, ErrAuthentication, "manifest record"},
		{"error record injected", edit(func(r recs_t) recs_t {
			return append(r[:3], struct {
				typ byte
				p   []byte
			}{'E', []byte("fake failure" + strings.Repeat("x", wireTagLen))})
		}), WireChunk, ErrAuthentication, "error record"},
		{"no key", w, 0, ErrWire, "give it with --encrypt-key-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := WireReadOptions{Pass: pass}
			if tc.name == "no key" {
				o.Pass = nil
			}
			n, err := readWire(tc.b, o)
			if err == nil || !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.is, tc.want)
			}
			if n > tc.max {
				t.Errorf("%d data bytes passed on before the error, at most %d", n, tc.max)
			}
		})
	}

	t.Run("unauthenticated", func(t *testing.T) {
		plain := wireStream(t, data[:1000], nil)
		if _, err := readWire(plain, WireReadOptions{Pass: pass}); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "--allow-unauthenticated") {
			t.Fatalf("with a key: %v", err)
		}
		var warned int
		o := WireReadOptions{Pass: pass, AllowUnauthenticated: true, Warn: func(string, ...any) { warned++ }}
		if n, err := readWire(plain, o); err != nil || n == 0 || warned != 1 {
			t.Fatalf("allowed: %d bytes, %v, %d warnings", n, err, warned)
		}
		warned = 0
		if _, err := readWire(plain, WireReadOptions{Warn: o.Warn}); err != nil || warned != 1 {
			t.Fatalf("no key: %v, %d warnings", err, warned)
		}
		// An authenticated stream whose auth block was removed is the same.
		stripped := edit(func(r recs_t) recs_t {
			var h WireHeader
			json.Unmarshal(r[0].p, &h)
			h.Auth = nil
			r[0].p, _ = json.Marshal(h)
			return append(r[:1], r[2:]...)
		})
		if _, err := readWire(stripped, WireReadOptions{Pass: pass}); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("stripped: %v", err)
		}
	})

	t.Run("sender error is printable", func(t *testing.T) {
		b := rawStream(`{"format_version":1,"id":"20261121T162435Z-3fa9c1","engine":"stdin","type":"full","compression":{"kind":"none"}}`,
			rawRecord('E', []byte("boom\x1b]0;pwned\x07\xff")))
		_, err := readWire(b, WireReadOptions{})
		var se *WireSenderError
		if !errors.As(err, &se) || strings.ContainsAny(se.Msg, "\x1b\x07") || !strings.Contains(se.Msg, "boom") {
			t.Fatalf("got %q", err)
		}
	})
}

// FuzzWireReader: whatever arrives on standard input, the reader never
// panics, never accepts a header whose ID is not a backup ID, and never
// returns more data than the stream holds.
func FuzzWireReader(f *testing.F) {
	pass := []byte("fuzz key")
	var out bytes.Buffer
	RunToWriter(context.Background(), &out, Options{Engine: StdinEngine{R: strings.NewReader("hello, world\n")},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "none"}, Pass: pass, KDF: crypto.KDF{Name: "pbkdf2", Digest: "sha256", Iter: 1}}})
	f.Add(out.Bytes(), true)
	out.Reset()
	RunToWriter(context.Background(), &out, Options{Engine: StdinEngine{R: strings.NewReader("hello, world\n")},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}}})
	f.Add(out.Bytes(), false)
	f.Add(rawStream(`{"format_version":1,"id":"/../../../../etc/cron.d","engine":"mariabackup","type":"full","compression":{"kind":"gzip"}}`), false)
	f.Add([]byte(WireMagic+"H\xff\xff\xff\xff"), false)
	f.Fuzz(func(t *testing.T, b []byte, withKey bool) {
		o := WireReadOptions{AllowUnauthenticated: true}
		if withKey {
			o.Pass = pass
		}
		wr, err := NewWireReader(bytes.NewReader(b), o)
		if err != nil {
			return
		}
		if ValidateID(wr.Header.ID) != nil || wr.Header.validate(nil) != nil {
			t.Fatalf("accepted header %+v", wr.Header)
		}
		n, err := io.Copy(io.Discard, wr)
		if n > int64(len(b)) {
			t.Fatalf("read %d data bytes from a %d-byte stream", n, len(b))
		}
		if err == nil {
			m := wr.Manifest()
			if m == nil || m.ID != wr.Header.ID {
				t.Fatalf("clean end without the header's manifest: %+v", m)
			}
		}
	})
}

// incEngine claims to take an incremental backup of its parent.
type incEngine struct{}

func (incEngine) Name() string      { return "mariabackup" }
func (incEngine) Extension() string { return ".xbstream" }
func (incEngine) Run(ctx context.Context, w io.Writer, parent *Manifest) (EngineResult, error) {
	return EngineResult{Incremental: true}, errors.New("the engine must not run")
}

// TestIncrementalParentAuthenticated: an incremental of a parent whose
// manifest fails its MAC is refused before anything is stored.
func TestIncrementalParentAuthenticated(t *testing.T) {
	dir := t.TempDir()
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The parent was sealed with the key the incremental is taken with, and
	// its manifest altered afterwards.
	b := bytes.Replace(sealed(t, []byte("the key")), []byte(`"raw_size": 100`), []byte(`"raw_size": 101`), 1)
	parent := parse(t, b)
	if parent.RawSize != 101 {
		t.Fatal("the parent's manifest was not altered: the test's premise changed")
	}
	_, err = Run(context.Background(), Options{Store: st, Engine: incEngine{}, Parent: parent,
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "none"}, Pass: []byte("the key"), KDF: crypto.DefaultKDF}})
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "parent "+parent.ID) {
		t.Fatalf("got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if ValidateID(e.Name()) == nil {
			t.Errorf("the refused backup stored %s", e.Name())
		}
	}
}
