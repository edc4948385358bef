package pitr

import (
	"testing"

	"github.com/mybak/mybak/backup"
)

func TestOldestBackup(t *testing.T) {
	gtid := func(id, g string) *backup.Manifest {
		return &backup.Manifest{ID: id, Meta: map[string]string{backup.MetaGTID: g}}
	}
	entries := []backup.Entry{
		{ID: "a", State: backup.StateIncomplete, Manifest: gtid("a", "0-1-1")},
		{ID: "b", State: backup.StateComplete, Manifest: gtid("b", "")},
		{ID: "c", State: backup.StateComplete, Manifest: gtid("c", "0-1-5")},
		{ID: "d", State: backup.StateComplete, Manifest: gtid("d", "0-1-9")},
	}
	if m := OldestBackup(entries); m == nil || m.ID != "c" {
		t.Fatalf("OldestBackup = %v, want c (a is incomplete, b has no GTID position)", m)
	}
	if m := OldestBackup(entries[:2]); m != nil {
		t.Fatalf("OldestBackup without a GTID position = %s, want nil", m.ID)
	}
}
