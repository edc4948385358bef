package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/restore"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// partsStore is a local store that claims to check every part by MD5, as
// Swift's does (storage.ChecksParts).
type partsStore struct{ storage.Backend }

func (partsStore) ChecksParts() {}

// TestDeepVerifyPartCheckingStores: a backup to a store that checks its
// parts itself records no SHA-256 of the stored stream but the raw
// stream's, and verify --deep passes on it as on any other store.
func TestDeepVerifyPartCheckingStores(t *testing.T) {
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
		if (m.StoredSHA256 == "") != parts {
			t.Fatalf("checks parts %v: stored_sha256 %q", parts, m.StoredSHA256)
		}
		rep, err := Run(ctx, st, m.ID, Options{Options: restore.Options{Pass: []byte("k")}, Deep: true})
		if err != nil || !rep.OK {
			t.Fatalf("checks parts %v: verify --deep: %v", parts, err)
		}
	}
}

// TestVerifyAlteredManifest: a manifest rewritten after it was
// authenticated fails verify's "authentication" check: damage.
func TestVerifyAlteredManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lst, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("verify auth key")
	m, err := backup.Run(ctx, backup.Options{Store: lst, Engine: backup.StdinEngine{R: strings.NewReader("some data")},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "none"}, Pass: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Run(ctx, lst, m.ID, Options{Options: restore.Options{Pass: pass}}); err != nil || !rep.OK ||
		!strings.Contains(check.Find(rep.Checks, "authentication").Detail, "authenticated") {
		t.Fatalf("verify of an intact authenticated backup: %v", err)
	}
	mpath := filepath.Join(dir, m.ID, backup.ManifestName)
	orig, _ := os.ReadFile(mpath)
	os.WriteFile(mpath, bytes.Replace(orig, []byte(`"raw_size": `), []byte(`"raw_size": 1`), 1), 0o600)
	rep, err := Run(ctx, lst, m.ID, Options{Options: restore.Options{Pass: pass}})
	if !errors.Is(err, check.ErrDamaged) || rep.OK || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("verify of an altered manifest: %v", err)
	}
}
