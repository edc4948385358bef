package trove

import (
	"bytes"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"

	ncw "github.com/ncw/swift/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage/swift"
	"github.com/mybak/mybak/stream"
)

// testStore opens a Swift store on a fresh container, removed at the end.
func testStore(t *testing.T) *swift.Backend {
	t.Helper()
	testenv.NeedSwift(t)
	cfg, err := swift.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Container = fmt.Sprintf("trove-test-%s-%08x", time.Now().Format("150405"), mrand.Uint32())
	cfg.SegmentSize = 256 << 10
	ctx := context.Background()
	b, err := swift.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		c := &ncw.Connection{AuthUrl: cfg.AuthURL, UserName: cfg.User, ApiKey: cfg.Key}
		for _, container := range []string{cfg.Container, cfg.Container + swift.SegmentContainerSuffix} {
			names, _ := c.ObjectNamesAll(ctx, container, nil)
			for _, n := range names {
				_ = c.ObjectDelete(ctx, container, n)
			}
			_ = c.ContainerDelete(ctx, container)
		}
	})
	return b
}

// fakePhysical is an xtrabackup-like engine: it writes data and reports
// LSNs.
type fakePhysical struct {
	data     []byte
	from, to string
}

func (e fakePhysical) Name() string      { return "xtrabackup" }
func (e fakePhysical) Extension() string { return ".xbstream" }
func (e fakePhysical) Run(ctx context.Context, w io.Writer, parent *backup.Manifest) (backup.EngineResult, error) {
	_, err := w.Write(e.data)
	return backup.EngineResult{Incremental: parent != nil, ServerVersion: "5.7.29",
		Meta: map[string]string{backup.MetaFromLSN: e.from, backup.MetaToLSN: e.to, backup.MetaServerFlavor: "MySQL"}}, err
}

// TestWriterIncrementalChain writes a full and an incremental backup in
// Trove's layout, checks Trove's metadata on the objects, and reads the
// chain back both with mybak's manifests and, after removing them, as
// Trove-made backups.
func TestWriterIncrementalChain(t *testing.T) {
	sw := testStore(t)
	ctx := context.Background()
	pass := []byte("user key")
	// The engine's stream is checked as it passes: an xbstream.
	data := [][]byte{randXbstream(t, 700<<10), randXbstream(t, 300<<10)}
	enc := stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}, Pass: pass}
	enc.KDF.Name, enc.KDF.Digest, enc.KDF.Iter = "pbkdf2", "sha512", 10000

	var ms []*backup.Manifest
	for i, eng := range []fakePhysical{{data[0], "0", "1000"}, {data[1], "1000", "2000"}} {
		var parent *backup.Manifest
		if i > 0 {
			parent = ms[0]
		}
		w := NewWriter(sw, parent)
		m, err := backup.Run(ctx, backup.Options{Store: sw, Engine: eng, Parent: parent, Encode: enc,
			Writer: w})
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		ms = append(ms, m)
	}
	full, incr := ms[0], ms[1]
	if len(full.Objects[0].Parts) < 2 || full.Objects[0].Parts[0].Name != sw.Location()[len("swift://"):]+"/"+full.ID+"_00000000" {
		t.Fatalf("parts of the full backup: %+v", full.Objects[0].Parts)
	}

	fro, err := sw.HeadRaw(ctx, full.ID+".xbstream.gz.enc")
	if err != nil {
		t.Fatal(err)
	}
	iro, err := sw.HeadRaw(ctx, incr.ID+".xbstream.gz.enc")
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := sw.ObjectURL(ctx, full.ID+".xbstream.gz.enc")
	for k, want := range map[string]string{MetaLsn: "2000", MetaParentLocation: loc, MetaParentChecksum: fro.ETag,
		MetaDatastore: "mysql", MetaDatastoreVersion: "5.7.29"} {
		if iro.Meta[k] != want {
			t.Errorf("incremental's X-Object-Meta-%s = %q, want %q (all: %v)", k, iro.Meta[k], want, iro.Meta)
		}
	}
	if fro.Meta[MetaLsn] != "1000" || fro.Meta[MetaParentLocation] != "" {
		t.Errorf("full backup's metadata: %v", fro.Meta)
	}
	// mybak's manifest of the incremental records them too, for Chain.
	if incr.Meta[ManifestMetaParentLocation] != loc || incr.Meta[ManifestMetaParentChecksum] != fro.ETag {
		t.Errorf("incremental's manifest meta: %v", incr.Meta)
	}

	check := func(t *testing.T, ownManifests bool) {
		cat := NewCatalogue(sw)
		entries, err := cat.Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].ID != full.ID || entries[1].ID != incr.ID ||
			entries[1].Manifest.Type != "incremental" || entries[1].Manifest.Parent != full.ID {
			t.Fatalf("entries: %+v", entries)
		}
		if got := entries[0].Manifest.RawSHA256 != ""; got != ownManifests {
			t.Errorf("full backup read from mybak's manifest: %v, want %v", got, ownManifests)
		}
		for _, e := range entries {
			if MadeByTrove(e.Manifest) == ownManifests {
				t.Errorf("MadeByTrove(%s) = %v with mybak's manifests %v", e.ID, !ownManifests, ownManifests)
			}
		}
		m, err := cat.Resolve(ctx, incr.ID)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := cat.Chain(ctx, m)
		if err != nil || len(chain) != 2 || chain[0].ID != full.ID || m.Meta[backup.MetaFromLSN] != "1000" {
			t.Fatalf("chain %v, %v; from_lsn %q", chain, err, m.Meta[backup.MetaFromLSN])
		}
		for i, cm := range chain {
			if err := cat.CheckObject(ctx, cm, cm.Objects[0]); err != nil {
				t.Errorf("CheckObject(%s): %v", cm.ID, err)
			}
			var out bytes.Buffer
			if _, err := restore.ToWriter(ctx, cat.Store(), cm, &out, restore.Options{Pass: pass}); err != nil {
				t.Fatalf("restore %s: %v", cm.ID, err)
			}
			if !bytes.Equal(out.Bytes(), data[i]) {
				t.Errorf("restore %s: %d bytes differ from the original %d", cm.ID, out.Len(), len(data[i]))
			}
		}
		latest, err := cat.Resolve(ctx, "latest")
		if err != nil || latest.ID != incr.ID {
			t.Errorf("latest = %v, %v", latest, err)
		}
	}
	t.Run("with mybak's manifests", func(t *testing.T) { check(t, true) })
	for _, m := range ms {
		if err := sw.Delete(ctx, troveLayout{}.ManifestPath(m.ID)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("as Trove made them", func(t *testing.T) { check(t, false) })
}
