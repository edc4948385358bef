package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mybak/mybak/backup"
)

// ErrUnknown is returned (wrapped) by ByName for a name no engine
// registered.
var ErrUnknown = errors.New("unknown engine")

var registry = struct {
	sync.RWMutex
	byName   map[string]Engine
	fallback Engine
}{byName: map[string]Engine{}}

// Register makes e known under e.Name(). It panics when the name is empty
// or taken: registration happens in init functions, where a clash is a
// programming error.
func Register(e Engine) {
	registry.Lock()
	defer registry.Unlock()
	name := e.Name()
	if name == "" {
		panic("engine: Register of an engine without a name")
	}
	if _, dup := registry.byName[name]; dup {
		panic("engine: Register called twice for " + name)
	}
	registry.byName[name] = e
}

// RegisterFallback makes e the engine of backups whose manifest names no
// registered engine (an empty name, or one written by another program or
// a newer mybak): For returns it for them. The stdin engine registers
// itself, since such a backup is a stream of unknown bytes.
func RegisterFallback(e Engine) {
	registry.Lock()
	defer registry.Unlock()
	registry.fallback = e
}

// ByName returns the engine registered as name, or an error matching
// ErrUnknown.
func ByName(name string) (Engine, error) {
	registry.RLock()
	defer registry.RUnlock()
	if e, ok := registry.byName[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(namesLocked(), ", "))
}

// For returns the engine of the backup m describes: the one registered
// under its manifest's engine name, else the fallback (Vitess chooses its
// restore engine from the manifest the same way). The error matches
// ErrUnknown only when neither exists (engine/all was not imported).
func For(m *backup.Manifest) (Engine, error) {
	e, err := ForName(m.Engine.Name)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", m.ID, err)
	}
	return e, nil
}

// ForName is For for a backup known by its engine's name only (the
// header of a wire stream).
func ForName(name string) (Engine, error) {
	registry.RLock()
	defer registry.RUnlock()
	e, ok := registry.byName[name]
	if !ok {
		e = registry.fallback
	}
	if e == nil {
		return nil, fmt.Errorf("%w %q and no fallback engine is registered", ErrUnknown, name)
	}
	return e, nil
}

// Names lists the registered engines' names, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
