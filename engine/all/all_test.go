package all

import (
	"errors"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
)

// TestRegistry: every name mybak writes into manifests finds the engine
// of that name; a name no engine registered finds the stdin engine (a
// stream of unknown bytes); ByName is strict.
func TestRegistry(t *testing.T) {
	for _, name := range []string{"mariabackup", "xtrabackup", "innobackupex", "mysqldump", "mariadb-dump", "stdin", "logical"} {
		e, err := engine.For(&backup.Manifest{ID: "X", Engine: backup.EngineInfo{Name: name}})
		if err != nil || e.Name() != name {
			t.Errorf("For(%s) = %v, %v", name, e, err)
		}
		if e, err := engine.ByName(name); err != nil || e.Name() != name {
			t.Errorf("ByName(%s) = %v, %v", name, e, err)
		}
	}
	for _, name := range []string{"", "someday-engine"} {
		e, err := engine.For(&backup.Manifest{ID: "X", Engine: backup.EngineInfo{Name: name}})
		if err != nil || e.Name() != "stdin" {
			t.Errorf("For(%q) = %v, %v, want the stdin engine", name, e, err)
		}
	}
	if _, err := engine.ByName("someday-engine"); !errors.Is(err, engine.ErrUnknown) {
		t.Errorf("ByName of an unknown engine: %v", err)
	}
	if _, ok := mustByName(t, "mariabackup").(engine.Incremental); !ok {
		t.Error("mariabackup takes incrementals")
	}
	if _, ok := mustByName(t, "mysqldump").(engine.Incremental); ok {
		t.Error("mysqldump takes no incrementals")
	}
	if _, ok := mustByName(t, "mariadb-dump").(engine.Dumper); !ok {
		t.Error("mariadb-dump dumps over the network")
	}
	if _, ok := mustByName(t, "logical").(engine.Toolless); !ok {
		t.Error("the logical engine reads the server itself")
	}
	if _, ok := mustByName(t, "logical").(engine.Dumper); !ok {
		t.Error("the logical engine dumps over the network")
	}
	if _, ok := mustByName(t, "mariadb-dump").(engine.Toolless); ok {
		t.Error("mariadb-dump is a tool")
	}
	if _, ok := mustByName(t, "xtrabackup").(engine.Dumper); ok {
		t.Error("xtrabackup runs on the server's host")
	}
}

func mustByName(t *testing.T, name string) engine.Engine {
	t.Helper()
	e, err := engine.ByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
