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
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
)

// lsnEngine stands in for a physical engine: it writes a small xbstream
// (backups check the tool's stream) and reports the LSNs it is told to.
type lsnEngine struct{ from, to string }

func (lsnEngine) Name() string      { return "mariabackup" }
func (lsnEngine) Extension() string { return ".xbstream" }
func (e lsnEngine) Run(ctx context.Context, w io.Writer, parent *backup.Manifest) (backup.EngineResult, error) {
	_, err := xbstream.NewWriter(w).WriteFile("xtrabackup_checkpoints", strings.NewReader("to_lsn = "+e.to+"\n"))
	return backup.EngineResult{Incremental: parent != nil,
		Meta: map[string]string{backup.MetaFromLSN: e.from, backup.MetaToLSN: e.to}}, err
}

// TestVerifyChainLSNs: an incremental whose from_lsn is not its parent's
// to_lsn is damage that the fast verify reports, before any restore.
func TestVerifyChainLSNs(t *testing.T) {
	ctx := context.Background()
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	take := func(e lsnEngine, parent *backup.Manifest) *backup.Manifest {
		t.Helper()
		m, err := backup.Run(ctx, backup.Options{Store: st, Engine: e, Parent: parent,
			Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	full := take(lsnEngine{"0", "1000"}, nil)
	good := take(lsnEngine{"1000", "2000"}, full)
	bad := take(lsnEngine{"1500", "2500"}, good) // taken from some other parent
	if _, err := Run(ctx, st, good.ID, Options{}); err != nil {
		t.Fatalf("verify of a consistent chain: %v", err)
	}
	rep, err := Run(ctx, st, bad.ID, Options{})
	if !errors.Is(err, check.ErrDamaged) || !strings.Contains(err.Error(), "starts at LSN 1500") || rep.OK {
		t.Fatalf("verify of an incremental that does not continue its parent: %v", err)
	}

	// A damaged object of the full backup is damage of every incremental
	// that needs it.
	obj := full.ObjectPath(full.Objects[0].Name)
	rc, err := st.Get(ctx, obj, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	b[len(b)/2] ^= 1
	if _, err := st.Put(ctx, obj, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, st, good.ID, Options{})
	if !errors.Is(err, check.ErrDamaged) || !strings.Contains(err.Error(), "object "+full.ID+"/") || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("verify of an incremental whose full backup is damaged: %v", err)
	}
}
