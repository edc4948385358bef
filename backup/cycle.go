package backup

import (
	"strings"
)

// CycleError is a chain of parents that comes back to a backup it has
// passed: a manifest cannot be its own ancestor, so the manifests were
// altered or damaged. It is ErrInvalidManifest to errors.Is (damage).
type CycleError struct {
	// Path is the walk from the backup it started at to the first
	// backup seen twice, which ends it: A -> B -> A.
	Path []string
}

func (e *CycleError) Error() string { return "parent cycle: " + strings.Join(e.Path, " -> ") }

// Is makes a CycleError match ErrInvalidManifest.
func (e *CycleError) Is(target error) bool { return target == ErrInvalidManifest }

// ParentWalk follows parent links from a backup and stops at a cycle.
// Every walk of a chain goes through one: the manifests come from the
// store, and nothing stops two of them naming each other.
type ParentWalk struct {
	path []string
	seen map[string]bool
}

// NewParentWalk starts a walk at backup id.
func NewParentWalk(id string) *ParentWalk {
	return &ParentWalk{path: []string{id}, seen: map[string]bool{id: true}}
}

// Step records the move to parent p; it returns a *CycleError when p was
// passed before.
func (w *ParentWalk) Step(p string) error {
	w.path = append(w.path, p)
	if w.seen[p] {
		return &CycleError{Path: append([]string(nil), w.path...)}
	}
	w.seen[p] = true
	return nil
}

// Ancestors returns the parents of id as parent maps them (a backup's ID
// to its parent's, "" or absent for none), nearest first, up to a backup
// that has none or is not in the map. A cycle is a *CycleError, returned
// with the ancestors before it.
func Ancestors(parent map[string]string, id string) ([]string, error) {
	w := NewParentWalk(id)
	var out []string
	for p := parent[id]; p != ""; p = parent[p] {
		if err := w.Step(p); err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parents maps the ID of each entry that has a manifest to its parent's.
func parents(entries []Entry) map[string]string {
	parent := map[string]string{}
	for _, e := range entries {
		if e.Manifest != nil {
			parent[e.ID] = e.Manifest.Parent
		}
	}
	return parent
}

// MarkParentCycles marks as damaged each complete entry whose chain of
// parents (as the entries' manifests name them) runs into a cycle: the
// backups of the cycle and those that descend from one. Err is the
// *CycleError; Manifest stays set, so that the parent links still show
// who depends on whom (delete --cascade removes a cycle).
func MarkParentCycles(entries []Entry) {
	parent := parents(entries)
	for i := range entries {
		e := &entries[i]
		if e.State != StateComplete {
			continue
		}
		if _, err := Ancestors(parent, e.ID); err != nil {
			e.State, e.Err = StateDamaged, err
		}
	}
}
