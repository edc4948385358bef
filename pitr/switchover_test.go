package pitr

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/stream"
)

// TestSwitchover: a replica follows the primary; the primary's binary log
// is archived; the replica is promoted and written to; the archiver,
// pointed at it, archives it as a new server from its oldest binary log.
// The archive verifies as one continuous GTID sequence across both
// servers, and a plan from before the switchover to a transaction of the
// new primary crosses from one server's files to the other's.
func TestSwitchover(t *testing.T) {
	needMySQL(t)
	// Two fresh servers: the archive holds their whole history, and the
	// shared sandbox's history is not this test's.
	s := startSandbox(t, "pitr-old-primary")
	s.arch = s.archUser(t)
	ctx := context.Background()
	st := newStore(t)
	replica := startSandbox(t, "pitr-replica")
	db := "pitr_" + randHex(3)
	ddl := "CREATE TABLE " + db + ".t (id INT PRIMARY KEY, v VARCHAR(50))"
	s.exec(t, "CREATE DATABASE "+db)
	s.exec(t, ddl)
	from, _ := ParseState(s.str(t, "SELECT @@gtid_binlog_pos"))
	// The first insert is in the old primary's binary log only: the
	// replica starts after it (with the schema made by hand).
	onPrimary := []string{s.write(t, fmt.Sprintf("INSERT INTO %s.t VALUES (1, 'primary only')", db))}
	replica.write(t, "SET sql_log_bin=0", "CREATE DATABASE "+db, ddl, "SET sql_log_bin=1")
	pos := s.str(t, "SELECT @@gtid_binlog_pos")
	replPw, err := os.ReadFile(os.Getenv("MYBAK_TEST_MYSQL_REPL_PASSWORD_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	replica.exec(t, "SET GLOBAL gtid_slave_pos = '"+pos+"'")
	replica.exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='mybak_repl', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos",
		s.admin.Port, strings.TrimSpace(string(replPw))))
	replica.exec(t, "START SLAVE")
	for i := 2; i <= 3; i++ {
		onPrimary = append(onPrimary, s.write(t, fmt.Sprintf("INSERT INTO %s.t VALUES (%d, 'primary, replicated')", db, i)))
	}
	if got := replica.str(t, "SELECT MASTER_GTID_WAIT('"+onPrimary[2]+"', 30)"); got != "0" {
		t.Fatalf("the replica did not reach %s: %s", onPrimary[2], got)
	}
	// Both rotate: the replica's second file starts where the archive of
	// the old primary already is, so the new server is archived from it.
	s.exec(t, "FLUSH BINARY LOGS")
	replica.exec(t, "FLUSH BINARY LOGS")
	replicaSecond := replica.currentLog(t)
	opts := ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Zstd}}}
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}

	// Switchover: the replica becomes the primary.
	replica.exec(t, "STOP SLAVE")
	replica.exec(t, "RESET SLAVE ALL")
	var onNew []string
	for i := 4; i <= 5; i++ {
		onNew = append(onNew, replica.write(t, fmt.Sprintf("INSERT INTO %s.t VALUES (%d, 'new primary')", db, i)))
	}
	newArch := replica.archUser(t)
	opts.Conn = newArch
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	ix, err := LoadIndex(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, st, ix, VerifyOptions{Deep: true, From: from})
	if err != nil || len(rep.Problems) != 0 || len(rep.Servers) != 2 {
		t.Fatalf("verify across the switchover: %+v, %v", rep, err)
	}
	for _, f := range ix.Files() {
		if f.Server == ServerKey(replicaID(t, replica), "") && f.Name != replicaSecond {
			t.Errorf("the new server's %s was archived: want only from %s on (its start is already archived)", f.Name, replicaSecond)
		}
	}
	g5, _ := binlog.ParseGTID(onNew[1])
	p, err := MakePlan(ctx, PlanOptions{Store: st, Index: ix, From: from, Target: Target{UntilGTID: &g5}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Txns != 5 || p.First.GTID != onPrimary[0] || p.Last.GTID != onNew[1] || p.First.Server == p.Last.Server {
		t.Fatalf("plan across the switchover: %d txns, first %+v, last %+v", p.Txns, p.First, p.Last)
	}
}

// TestRebuiltServer: a server rebuilt with the same server_id starts again
// at -bin.000001; the archive's names differ by the file's creation time,
// so nothing archived is overwritten, and resuming the old file's position
// in the new one is refused with a message that says what happened.
func TestRebuiltServer(t *testing.T) {
	needMySQL(t)
	ctx := context.Background()
	st := newStore(t)
	s := startSandbox(t, "pitr-rebuilt")
	s.arch = s.archUser(t)
	s.write(t, "CREATE DATABASE rebuilt_a")
	opts := ArchiveOptions{Store: st, Conn: s.arch, Once: true, SpoolDir: t.TempDir(),
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Gzip}}}
	if err := Archive(ctx, opts); err != nil {
		t.Fatal(err)
	}
	before, _ := LoadIndex(ctx, st, nil)

	s2 := startSandbox(t, "pitr-rebuilt") // destroyed and made again: same name, same server_id
	s2.arch = s2.archUser(t)
	s2.write(t, "CREATE DATABASE rebuilt_b")
	opts.Conn = s2.arch
	err := Archive(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "not the same file") {
		t.Fatalf("archive of the rebuilt server: %v, want a refusal saying it is not the same file", err)
	}
	after, _ := LoadIndex(ctx, st, nil)
	if len(after.Pieces) != len(before.Pieces) {
		t.Fatalf("%d pieces, want the %d from before", len(after.Pieces), len(before.Pieces))
	}
}

func replicaID(t *testing.T, s *server) uint32 {
	n, err := strconv.ParseUint(s.str(t, "SELECT @@server_id"), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}
