package repo

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// Repository is a store's backups as one layout keeps them. Errors for a
// reference that names nothing wrap backup.ErrNoBackup and end with the
// `mybak list` advice of the layout (backup.ListHint). What a repository
// removes it also logs, one line per backup, to the logger it was opened
// with. Safe for concurrent use.
//
// Repository implements restore.Catalogue (Resolve, Chain),
// restore.ObjectChecker (CheckObject) and restore.Unfinisher, which verify
// and drill use.
type Repository interface {
	// Layout is how the repository names its objects (Manifest.Layout,
	// the form of its IDs, ListArgs for the messages).
	Layout() backup.Layout
	// Location is the store's, for messages.
	Location() string
	// Store is the store the repository was opened on (markers, liveness).
	Store() storage.Backend
	// Data is the store a backup's objects are read through
	// (Manifest.ObjectPath names them); for Trove's layout it checks each
	// segment as it streams.
	Data() storage.Backend

	// Entries lists every backup, oldest first, with its state
	// (backup.StateComplete, StateIncomplete, StateDamaged).
	Entries(ctx context.Context) ([]backup.Entry, error)
	// Resolve returns the manifest of the complete backup ref names (an
	// ID or "latest").
	Resolve(ctx context.Context, ref string) (*backup.Manifest, error)
	// Chain returns the backups restoring m needs, the full one first
	// and m last; a cycle is an error.
	Chain(ctx context.Context, m *backup.Manifest) ([]*backup.Manifest, error)
	// CheckObject checks stored object o of backup m against its
	// manifest record: nil when intact, else an error that says what is
	// wrong (naming the bad piece) or why it could not be read. It
	// implements restore.ObjectChecker.
	CheckObject(ctx context.Context, m *backup.Manifest, o backup.Object) error
	// Unfinished says what there is of backup id that Resolve did not
	// find: its marker and why its writer is believed alive (nil, "" when
	// it is not being written, or the layout cannot tell), and how many
	// objects it left (0 where the layout does not count them).
	Unfinished(ctx context.Context, id string) (mk *backup.Marker, writer string, objects int, err error)
	// Describe returns log attributes (key, value, ...) the layout adds
	// about a backup (who made it, in Trove's), or nil.
	Describe(m *backup.Manifest) []any

	// Delete removes the backups ids, in that order, as
	// backup.ResolveIDs returned them from entries (with cascade, as
	// asked: a layout may look again). It stops at the first failure and
	// returns what it removed until then.
	Delete(ctx context.Context, entries []backup.Entry, ids []string, cascade bool) ([]Removal, error)
	// PlanPrune applies opts (backup.PlanRetention's rules) to entries,
	// with the layout's own rules on top (Trove's: damaged backups are
	// kept, unreadable ones stop the plan).
	PlanPrune(entries []backup.Entry, opts backup.RetentionOptions) (*PrunePlan, error)
	// Prune carries out a plan of PlanPrune: it removes plan.Remove and
	// plan.Stale, every backup before its parent. It stops at the first
	// failure and returns what it removed until then.
	Prune(ctx context.Context, plan *PrunePlan) ([]Removal, error)

	// PrepareWrite checks the options of a backup into the repository
	// and adjusts enc to the layout (Trove's: gzip only, its default
	// KDF), before anything is taken. Its errors about flags are
	// UsageError.
	PrepareWrite(enc *stream.EncodeOptions, o WriteOptions) error
	// Writer returns the backup.Writer of a backup whose parent (nil for
	// a full one) is parent, for backup.Options.Writer.
	Writer(parent *backup.Manifest) backup.Writer
}

// WriteOptions are the options of a backup that PrepareWrite judges.
type WriteOptions struct {
	// KDFSet is true when the user chose the key derivation.
	KDFSet bool
	// Spool is true when the backup is spooled (--spool-dir).
	Spool bool
}

// Removal reports what Delete or Prune did with one backup.
type Removal struct {
	// ID is the backup's ID.
	ID string
	// State is the backup's state in the catalogue when it was chosen
	// (backup.StateComplete, StateIncomplete or StateDamaged).
	State string
	// Synthesized is true for a complete backup whose manifest the layout
	// made up from another tool's objects (a backup Trove made, whose
	// record in Trove's database is not touched).
	Synthesized bool
	// StoredBytes is the backup's stored size as the catalogue listed it.
	StoredBytes int64
	// Objects counts the objects deleted, where the layout counts them
	// (Trove's: data object, segments and <id>.mybak.json).
	Objects int
	// Foreign lists the parts ("CONTAINER/OBJECT") that the data object
	// joined but that are not the backup's own: they were left in place.
	Foreign []string
	// Skipped, when set, says why nothing was deleted.
	Skipped string
}

// PrunePlan is what Prune removes and keeps: backup.PlanRetention's plan
// and what the layout adds.
type PrunePlan struct {
	backup.PrunePlan
	// Damaged are backups the layout keeps although they are damaged
	// (Trove's: headers that describe nothing mybak can read): the user
	// deletes one by naming it.
	Damaged []backup.Entry
	// Entries are the catalogue the plan was made from; Order is Remove
	// and Stale in the order Prune removes them (children first).
	Entries []backup.Entry
	Order   []string
}

// UsageError marks an error in how a repository was asked for: a flag
// that does not fit the layout, a store it cannot live in. The command
// line exits with its usage status.
type UsageError struct{ Err error }

// Error is the wrapped error's text, unchanged.
func (e UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, a ...any) error {
	return UsageError{fmt.Errorf(format, a...)}
}

// Kind is a layout as the command line chooses it.
type Kind struct {
	// Name is the --layout value that selects it ("mybak", "trove").
	Name string
	// Layout is how it names objects (usable before a store is open:
	// the form of IDs).
	Layout backup.Layout
	// Open opens st as a repository of this layout; log receives what it
	// removes. An error about the store is a UsageError.
	Open func(st storage.Backend, log *slog.Logger) (Repository, error)
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]*Kind{}
	names   []string
)

// Register makes k selectable by its name and by aliases (mybak's layout
// is also ""). It is called from the init of the layout's package and
// panics when a name is taken.
func Register(k Kind, aliases ...string) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	for _, n := range append([]string{k.Name}, aliases...) {
		if _, dup := kinds[n]; dup {
			panic(fmt.Sprintf("repo: layout %q registered twice", n))
		}
		kinds[n] = &k
	}
	names = append(names, k.Name)
	sort.Strings(names)
}

// Lookup returns the layout registered under name (a --layout value); a
// UsageError naming the registered ones otherwise.
func Lookup(name string) (*Kind, error) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	if k, ok := kinds[name]; ok {
		return k, nil
	}
	return nil, UsageError{fmt.Errorf("--layout %q: use %s", name, orList(names))}
}

// Names returns the names of the registered layouts, sorted.
func Names() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return append([]string(nil), names...)
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
