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

// Offer says where the command line offers an engine, beside what its
// methods do. An engine declares it through Offered; one without it is
// offered nowhere (it is still found by name and from manifests).
type Offer struct {
	// Server: the engine backs up a running server. backup and preflight
	// take it as --engine NAME, with the connection options.
	Server bool
	// Wire: its backups travel as a wire stream (backup --to-stdout,
	// make-replica --from-stdin): a stream header may name it.
	Wire bool
	// Rank places it in the lists the command line prints (help, usage
	// errors): lower first, then by name.
	Rank int
}

// Offered is the optional interface of an engine that declares its Offer.
type Offered interface {
	Engine
	Offer() Offer
}

// offerOf returns what e declares (the zero Offer without Offered).
func offerOf(e Engine) Offer {
	if o, ok := e.(Offered); ok {
		return o.Offer()
	}
	return Offer{}
}

// ServerNames lists the registered engines that back up a running server
// (Offer.Server), in their Rank order.
func ServerNames() []string {
	registry.RLock()
	defer registry.RUnlock()
	var es []Engine
	for _, e := range registry.byName {
		if offerOf(e).Server {
			es = append(es, e)
		}
	}
	sort.Slice(es, func(i, j int) bool {
		ri, rj := offerOf(es[i]).Rank, offerOf(es[j]).Rank
		if ri != rj {
			return ri < rj
		}
		return es[i].Name() < es[j].Name()
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name()
	}
	return out
}

// Wire reports whether a wire stream may carry a backup of the engine
// registered as name (Offer.Wire): backup.WireReadOptions.Engines.
func Wire(name string) bool {
	registry.RLock()
	defer registry.RUnlock()
	e, ok := registry.byName[name]
	return ok && offerOf(e).Wire
}
