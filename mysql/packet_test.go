package mysql

import (
	"context"
	"strings"
	"testing"
)

// TestOpenTakesServersMaxAllowedPacket: a statement longer than the
// driver's default limit (64 MiB) runs when the server allows it; Open
// leaves the limit to the server's max_allowed_packet (a logical restore
// of a row of 70 MiB failed in the driver, with advice to raise the
// server's limit, which was already high enough).
func TestOpenTakesServersMaxAllowedPacket(t *testing.T) {
	s := startSandbox(t, "packet", "", "--max-allowed-packet=96M")
	t.Cleanup(func() { stopSandbox(t, "packet") })
	db, err := Open(context.Background(), s.adminConn())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got int64
	q := "SELECT LENGTH('" + strings.Repeat("x", 70<<20) + "')"
	if err := db.QueryRow(q).Scan(&got); err != nil {
		t.Fatalf("a 70 MiB statement on a server allowing 96 MiB: %v", err)
	}
	if got != 70<<20 {
		t.Fatalf("LENGTH = %d, want %d", got, 70<<20)
	}
}
