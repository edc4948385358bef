package restore

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
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
)

// TestAuthOnRestore: ToWriter authenticates the manifest before reading
// any data; the stored objects of an authenticated backup are checked
// against it before a dump is applied; data that does not match an
// authenticated manifest is an authentication failure.
func TestAuthOnRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lst, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("restore auth key")
	data := make([]byte, 3<<20)
	rand.Read(data)
	sent, err := backup.Run(ctx, backup.Options{Store: lst, Engine: backup.StdinEngine{R: bytes.NewReader(data)},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "none"}, Pass: pass}})
	if err != nil {
		t.Fatal(err)
	}
	load := func() *backup.Manifest {
		m, err := backup.LoadManifest(ctx, lst, sent.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var out bytes.Buffer
	if _, err := ToWriter(ctx, lst, load(), &out, Options{Pass: pass}); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("intact: %v", err)
	}
	if err := checkAuthenticatedObjects(ctx, lst, load()); err != nil {
		t.Fatalf("intact objects: %v", err)
	}

	// The manifest rewritten (here: its raw size): nothing is read.
	mpath := filepath.Join(dir, sent.ID, backup.ManifestName)
	orig, _ := os.ReadFile(mpath)
	os.WriteFile(mpath, bytes.Replace(orig, []byte(`"raw_size": `), []byte(`"raw_size": 1`), 1), 0o600)
	out.Reset()
	_, err = ToWriter(ctx, lst, load(), &out, Options{Pass: pass})
	if !errors.Is(err, backup.ErrAuthentication) || out.Len() != 0 {
		t.Fatalf("altered manifest: %v, %d bytes written", err, out.Len())
	}
	os.WriteFile(mpath, orig, 0o600)

	// The object altered: refused before anything is applied, and an
	// authentication failure when decoded.
	obj := filepath.Join(dir, sent.ObjectPath(sent.Objects[0].Name))
	b, _ := os.ReadFile(obj)
	b[len(b)/2] ^= 1
	os.WriteFile(obj, b, 0o600)
	if err := checkAuthenticatedObjects(ctx, lst, load()); !errors.Is(err, backup.ErrAuthentication) || !strings.Contains(err.Error(), "nothing was applied") {
		t.Fatalf("altered object: %v", err)
	}
	_, err = ToWriter(ctx, lst, load(), &bytes.Buffer{}, Options{Pass: pass})
	if !errors.Is(err, backup.ErrAuthentication) || !errors.Is(err, stream.ErrCorrupt) {
		t.Fatalf("decoding an altered object: %v", err)
	}

	// An authenticated manifest whose object has no hash at all.
	m := load()
	m.Objects[0].SHA256, m.StoredSHA256 = "", ""
	if err := checkAuthenticatedObjects(ctx, lst, m); !errors.Is(err, backup.ErrAuthentication) || !strings.Contains(err.Error(), "no hash") {
		t.Fatalf("no hash: %v", err)
	}
	// An unauthenticated one is not read back here (its hashes prove
	// nothing against whoever wrote the store).
	m.Auth = nil
	if err := checkAuthenticatedObjects(ctx, lst, m); err != nil {
		t.Fatalf("unauthenticated: %v", err)
	}
}
