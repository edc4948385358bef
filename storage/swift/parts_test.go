package swift

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// putParts uploads data cut into parts of size n as upload id of name.
func putParts(t *testing.T, b *Backend, name, id string, data []byte, n int) []storage.Part {
	t.Helper()
	var parts []storage.Part
	for i := 0; i*n < len(data); i++ {
		chunk := data[i*n : min(len(data), (i+1)*n)]
		p, err := b.PutPart(context.Background(), name, id, i, bytes.NewReader(chunk), int64(len(chunk)), md5hex(chunk))
		if err != nil {
			t.Fatalf("PutPart %d: %v", i, err)
		}
		parts = append(parts, p)
	}
	return parts
}

// TestParts: parts uploaded, checked, committed (several: an SLO; one: a
// plain object), committed again, swept and deleted.
func TestParts(t *testing.T) {
	cfg := testConfig(t)
	b := newTestBackend(t, cfg)
	ctx := context.Background()
	data := randomBytes(7, 3<<20+123)

	parts := putParts(t, b, "ID/data", "up1", data, 1<<20)
	if len(parts) != 4 {
		t.Fatalf("%d parts", len(parts))
	}
	got, err := b.StatPart(ctx, "ID/data", "up1", 2)
	if err != nil || got != parts[2] {
		t.Fatalf("StatPart = %+v, %v; want %+v", got, err, parts[2])
	}
	if _, err := b.StatPart(ctx, "ID/data", "up1", 9); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("StatPart of a missing part: %v", err)
	}
	if _, err := b.Stat(ctx, "ID/data"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("object visible before the commit: %v", err)
	}
	info, err := b.CommitParts(ctx, "ID/data", parts)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || len(info.Parts) != 4 {
		t.Errorf("CommitParts info %+v", info)
	}
	if !bytes.Equal(readBack(t, b, "ID/data"), data) {
		t.Fatal("committed object differs")
	}
	if _, err := b.CommitParts(ctx, "ID/data", parts); err != nil {
		t.Fatalf("commit again: %v", err)
	}

	// One part: a plain object, its segment gone.
	small := randomBytes(8, 1000)
	one := putParts(t, b, "ID/small", "up2", small, 1<<20)
	info, err = b.CommitParts(ctx, "ID/small", one)
	if err != nil {
		t.Fatal(err)
	}
	if info.MD5 != md5hex(small) || info.Parts != nil {
		t.Errorf("one-part commit info %+v", info)
	}
	if st, err := b.Stat(ctx, "ID/small"); err != nil || st.MD5 != md5hex(small) {
		t.Errorf("one-part object: %+v, %v (want a plain object with its MD5)", st, err)
	}
	if _, err := b.StatPart(ctx, "ID/small", "up2", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the copied part is still there: %v", err)
	}
	if _, err := b.CommitParts(ctx, "ID/small", one); err != nil {
		t.Fatalf("commit of one part again (after its segment was deleted): %v", err)
	}

	// Orphans: a killed upload under ID/, and one under another ID.
	putParts(t, b, "ID/data", "killed", randomBytes(9, 2<<20), 1<<20)
	putParts(t, b, "OTHER/data", "killed", randomBytes(9, 1<<20), 1<<20)
	if err := b.SweepUncommitted(ctx, "ID/"); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, n := range segmentNames(t, cfg) {
		if strings.Contains(n, "/killed/") {
			left = append(left, n)
		}
	}
	if len(left) != 1 || !strings.Contains(left[0], "OTHER/") {
		t.Errorf("after the sweep of ID/: killed segments %v, want only OTHER's", left)
	}
	if !bytes.Equal(readBack(t, b, "ID/data"), data) {
		t.Fatal("the sweep damaged a committed object")
	}
	if err := b.DeleteUpload(ctx, "OTHER/data", "killed"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "ID/data"); err != nil {
		t.Fatal(err)
	}
	if n := segmentNames(t, cfg); len(n) != 0 {
		t.Errorf("segments left: %v", n)
	}
}

// TestPartsThroughFaults: PutPart rewinds its reader for every retry, so
// parts read from a file survive resets, 408s and 503s.
func TestPartsThroughFaults(t *testing.T) {
	cfg := testConfig(t)
	p := newFaultProxy(t, cfg.AuthURL, 4242)
	p.rate = 0.3
	p.faults = []fault{fault408, fault503, faultResetBody}
	cfg.AuthURL = p.authURL(cfg.AuthURL)
	cfg.MaxRetries = 15
	cfg.Timeout = 2 * time.Second
	b := newTestBackend(t, cfg)
	data := randomBytes(11, 6<<20+7)
	parts := putParts(t, b, "ID/data", "up", data, 1<<20)
	if _, err := b.CommitParts(context.Background(), "ID/data", parts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBack(t, b, "ID/data"), data) {
		t.Fatal("object put through faults differs")
	}
	if p.count(faultResetBody) == 0 {
		t.Error("no reset was injected")
	}
	if _, err := b.PutPart(context.Background(), "ID/data", "a/b", 0, bytes.NewReader(nil), 0, md5hex(nil)); err == nil {
		t.Error("an upload ID with a slash was accepted")
	}
}
