package pitr

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/stream"
)

// TestPlanTakesEachTransactionOnce: two servers' archives hold the same
// transactions (a replica's binary log after a switchover repeats the old
// primary's): the plan applies each once. (It applied a transaction twice
// when both servers' next transactions were the same one: the second copy
// had been read before the first was applied, and was not checked again.)
func TestPlanTakesEachTransactionOnce(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	raw, err := os.ReadFile("../binlog/testdata/mariadb-10.11.bin")
	if err != nil {
		t.Fatal(err)
	}
	// The old primary's archive ends after its third transaction (at 964);
	// the new primary's holds them all.
	for _, srv := range []struct {
		id  uint32
		end int
	}{{1139269868, 964}, {77, len(raw)}} {
		p := &Piece{Format: PieceFormat, Server: ServerKey(srv.id, ""), ServerID: srv.id, File: "primary-bin.000002",
			Created: time.Unix(1796287846, 0).UTC(), Start: 0, End: int64(srv.end)}
		if err := storePiece(ctx, st, p, bytes.NewReader(raw[:srv.end]), stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}, nil, time.Now); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := LoadIndex(ctx, st, nil)
	if err != nil || len(ix.Pieces) != 2 {
		t.Fatalf("%+v %v", ix, err)
	}
	from, _ := ParseState("0-1139269868-3")
	last, _ := binlog.ParseGTID("0-1139269868-12")
	p, err := MakePlan(ctx, PlanOptions{Store: st, Index: ix, From: from, Target: Target{UntilGTID: &last}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Txns != 10 {
		t.Fatalf("%d transactions planned, want 10 (each once)", p.Txns)
	}
	var out bytes.Buffer
	if err := WriteStream(ctx, st, nil, p, &out); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	sc := binlog.NewScanner(bytes.NewReader(out.Bytes()), binlog.ScanOptions{})
	for {
		tx, err := sc.Next()
		if err != nil {
			break
		}
		if seen[tx.GTID.String()] {
			t.Fatalf("%s twice in the replay stream", tx.GTID)
		}
		seen[tx.GTID.String()] = true
	}
	if len(seen) != 10 {
		t.Fatalf("%d transactions in the stream", len(seen))
	}
}
