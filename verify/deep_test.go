package verify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
	"github.com/mybak/mybak/xbstream/xbstreamtest"
)

// bytesEngine is an engine named name whose stream is data.
type bytesEngine struct {
	name string
	data []byte
}

func (e bytesEngine) Name() string      { return e.name }
func (e bytesEngine) Extension() string { return "" }
func (e bytesEngine) Run(_ context.Context, w io.Writer, _ *backup.Manifest) (backup.EngineResult, error) {
	_, err := w.Write(e.data)
	return backup.EngineResult{}, err
}

func TestDeepVerifyContent(t *testing.T) {
	good, bad := xbstreamtest.Sample()
	dump := []byte("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n\nCREATE TABLE t (a int);\n-- Dump completed on 2026-11-21 16:24:35\n")
	cut := dump[:len(dump)-45]
	for _, tc := range []struct {
		name, engine string
		data         []byte
		compression  string
		pass         []byte
		ok           bool
		content      string
		want         []string // in the failed check's detail, or the OK one's
	}{
		{"mariabackup", "mariabackup", good, "zstd", nil, true, "xbstream", []string{"3 files"}},
		{"xtrabackup damaged chunk", "xtrabackup", bad, "gzip", []byte("k"), false, "xbstream",
			[]string{`(file "db/t1.ibd", offset 0): CRC mismatch`, "xtrabackup wrote it damaged"}},
		{"stdin xbstream recognised", "stdin", bad, "none", nil, false, "xbstream", []string{`file "db/t1.ibd"`, "the program that produced it"}},
		{"stdin other data", "stdin", []byte("just some bytes, no format"), "gzip", nil, true, "", nil},
		{"stdin tiny", "stdin", []byte("x"), "gzip", nil, true, "", nil},
		{"mariabackup not an xbstream", "mariabackup", dump, "gzip", nil, false, "xbstream", []string{"magic"}},
		{"dump", "mariadb-dump", dump, "zstd", nil, true, "dump", nil},
		{"dump without trailer", "mysqldump", cut, "zstd", []byte("k"), false, "dump", []string{`does not end with "-- Dump completed"`}},
		{"stdin dump without trailer", "stdin", cut, "gzip", nil, false, "dump", []string{"-- Dump completed"}},
		{"stdin sandbox-mode dump without trailer", "stdin", append([]byte("/*M!999999\\- enable the sandbox mode */ \n"), cut...), "gzip", nil, false, "dump", []string{"-- Dump completed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := local.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			m, err := backup.Run(ctx, backup.Options{Store: st, Engine: bytesEngine{tc.engine, tc.data},
				Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: tc.compression}, Pass: tc.pass, FrameSize: 100 << 10,
					KDF: crypto.KDF{Name: "pbkdf2", Digest: "sha256", Iter: 1000}}})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(ctx, st, m.ID, Options{Deep: true, List: true, Options: restore.Options{Pass: tc.pass}})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, check.ErrDamaged)) {
				t.Fatalf("Verify: %v (want ok=%v)\n%+v", err, tc.ok, rep.Checks)
			}
			if rep.Content != tc.content {
				t.Errorf("content %q, want %q", rep.Content, tc.content)
			}
			last := rep.Checks[len(rep.Checks)-1]
			for _, w := range tc.want {
				if !strings.Contains(last.Detail, w) {
					t.Errorf("check %q: %q lacks %q", last.Name, last.Detail, w)
				}
			}
			if tc.content == "xbstream" && !tc.ok && err != nil && !strings.Contains(err.Error(), last.Detail[:20]) {
				t.Errorf("error %q does not carry the check", err)
			}
			if tc.content == "xbstream" && strings.HasPrefix(string(tc.data), xbstream.Magic) {
				if len(rep.Files) != 3 || rep.Files[1].Path != "db/t1.ibd" || rep.Files[1].Size != 200000 {
					t.Errorf("files %+v", rep.Files)
				}
				if !tc.ok && rep.Files[1].Damaged != 1 {
					t.Errorf("damaged file not marked: %+v", rep.Files[1])
				}
			}
			for _, c := range rep.Checks[:len(rep.Checks)-1] {
				if c.Status != check.OK && c.Name != "decode and hash the stream" {
					t.Errorf("check %q failed: %s", c.Name, c.Detail)
				}
			}
		})
	}
}

// TestDeepVerifyStoredDamage: damage in storage fails the hash, and the
// xbstream check does not claim the tool wrote it so.
func TestDeepVerifyStoredDamage(t *testing.T) {
	ctx := context.Background()
	good, _ := xbstreamtest.Sample()
	dir := t.TempDir()
	st, _ := local.New(dir)
	m, err := backup.Run(ctx, backup.Options{Store: st, Engine: bytesEngine{"mariabackup", good},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "none"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Flip a payload byte in the stored object and fix its manifest
	// record, so only the deep check can see it.
	name := m.ObjectPath(m.Objects[0].Name)
	rc, _ := st.Get(ctx, name, 0)
	b, _ := io.ReadAll(rc)
	rc.Close()
	i := bytes.Index(b, []byte("db/t1.ibd"))
	b[i+len("db/t1.ibd")+20+100] ^= 1
	if _, err := st.Put(ctx, name, bytes.NewReader(b)); err != nil {
		t.Fatalf("rewrite the object: %v", err)
	}
	m.Objects[0].SHA256, m.Objects[0].MD5, m.StoredSHA256 = "", "", ""
	mb, _ := m.Marshal()
	st.Put(ctx, m.ID+"/"+backup.ManifestName, bytes.NewReader(mb))
	rep, err := Run(ctx, st, m.ID, Options{Deep: true})
	if !errors.Is(err, check.ErrDamaged) {
		t.Fatalf("Verify: %v", err)
	}
	var details []string
	for _, c := range rep.Checks {
		details = append(details, c.Name+": "+c.Detail)
	}
	all := strings.Join(details, "\n")
	if !strings.Contains(all, "sha256") || !strings.Contains(all, `file "db/t1.ibd"`) || strings.Contains(all, "wrote it damaged") {
		t.Errorf("checks:\n%s", all)
	}
}
