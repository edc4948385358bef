package drill

import (
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	_ "github.com/mybak/mybak/engine/all" // the drill finds a backup's engine from its manifest
)

// TestNoSpaceLine: the error-log lines of servers that ran out of room
// (recorded from MariaDB 10.11 on a full tmpfs, and the forms MySQL and
// older MariaDB print) are told apart from a server that refuses its data.
func TestNoSpaceLine(t *testing.T) {
	for _, tc := range []struct {
		log  string
		full bool
	}{
		{"2026-12-03  6:15:19 0 [Note] InnoDB: Resizing redo log from 12.016KiB to 1.000GiB; LSN=2091734\n" +
			"  2026-12-03  6:15:19 0 [ERROR] InnoDB: preallocating 1073741824 bytes for file ./ib_logfile101 failed with error 28", true},
		{`2024-01-01 0 [ERROR] mariadbd: Error writing file './ibtmp1' (Errcode: 28 "No space left on device")`, true},
		{"2024-01-01T00:00:00.000000Z 1 [ERROR] [MY-012639] [InnoDB] Write to file ./ib_logfile0 failed at offset 0, 1048576 bytes should have been written, only 0 were written. Operating system error number 28. Check that your OS and file system support files of this size. OS errno 28 - No space left on device", true},
		{"2026-12-03  6:12:40 0 [ERROR] InnoDB: Data file './ibdata1' uses page size 16384, but the innodb_page_size start-up parameter is 32768", false},
		{"2026-12-03  6:12:40 0 [ERROR] InnoDB: Table test/t1 has 28 columns", false},
		{"", false},
	} {
		if got := noSpaceLine(tc.log) != ""; got != tc.full {
			t.Errorf("noSpaceLine(%q) found=%v, want %v", tc.log, got, tc.full)
		}
	}
}

// TestScratchNeed: the room a drill asks for covers what the server adds
// to the restored files (the case found: a 31 MB stream, a 141 MB datadir).
func TestScratchNeed(t *testing.T) {
	plan := func(name string) engine.DrillPlan {
		t.Helper()
		e, err := engine.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.Drill(&backup.Manifest{ID: "X", Engine: backup.EngineInfo{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	physical, logical := plan("mariabackup"), plan("mysqldump")
	if n := scratchNeed(physical, 31_000_000); n < 141_000_000 {
		t.Errorf("physical 31 MB: need %d, the datadir was 141 MB", n)
	}
	if n := scratchNeed(logical, 100<<20); n <= scratchNeed(physical, 100<<20) {
		t.Errorf("a dump's tables need more room than its text: %d", n)
	}
}
