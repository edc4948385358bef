package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// Factory opens the store at location, a location of the scheme it was
// registered for (the whole string, scheme included: "swift://c/p", or a
// plain path for the scheme ""). Errors that say the location or a
// setting is wrong match ErrUsage (make them with Usagef); they name the
// setting as the command line does ("--limit-rate: ...").
type Factory func(ctx context.Context, location string, opts OpenOptions) (Backend, error)

// OpenOptions is what Open passes to a store's Factory besides the
// location.
type OpenOptions struct {
	// Create lets the factory create the store (a directory, Swift
	// containers) when it does not exist. Without it a missing store is
	// an error, so that a mistyped location is not a new empty store:
	// only commands that write a backup set it.
	Create bool
	// Settings holds the store's settings by name; nil: none given.
	Settings Settings
	// Log receives the store's warnings and retries; nil discards them.
	Log *slog.Logger
}

// Settings gives a store's factory the values of its settings by their
// command-line flag names without the dashes ("limit-rate",
// "swift-user", "segment-size"): the value given, else the flag's
// default, else the zero value. Each factory reads the names it knows and
// ignores the others. The cli passes its *cli.Context, which has these
// methods; tests pass a Values.
type Settings interface {
	String(name string) string
	Int(name string) int
	Bool(name string) bool
}

// String is the setting name of o.Settings, or "" when there are none.
func (o OpenOptions) String(name string) string {
	if o.Settings == nil {
		return ""
	}
	return o.Settings.String(name)
}

// Int is the setting name of o.Settings, or 0 when there are none.
func (o OpenOptions) Int(name string) int {
	if o.Settings == nil {
		return 0
	}
	return o.Settings.Int(name)
}

// Bool is the setting name of o.Settings, or false when there are none.
func (o OpenOptions) Bool(name string) bool {
	if o.Settings == nil {
		return false
	}
	return o.Settings.Bool(name)
}

// Values is Settings from a map of typed values (string, int, bool); a
// name that is missing or holds another type reads as the zero value.
type Values map[string]any

// String returns v[name] when it is a string.
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Int returns v[name] when it is an int.
func (v Values) Int(name string) int { n, _ := v[name].(int); return n }

// Bool returns v[name] when it is a bool.
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// ErrUsage is matched (errors.Is) by the errors of Open that say the
// location or a setting is wrong: the user must change what they wrote,
// retrying cannot help. The cli exits with its usage status for them.
var ErrUsage = errors.New("bad store location or setting")

// ErrUnknownScheme is returned (wrapped, also matching ErrUsage) by Open
// for a location whose scheme no store registered.
var ErrUnknownScheme = errors.New("unknown scheme")

// usageError marks an error as ErrUsage without changing its message.
type usageError struct{ err error }

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// Usagef formats an error (fmt.Errorf, %w wraps) that matches ErrUsage,
// with the formatted message as its text.
func Usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// Usage marks err as matching ErrUsage, keeping its message; nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes f the factory of the locations SCHEME://...; scheme ""
// is for locations without "://" (a plain directory). Stores register
// themselves in an init function; a program links the stores it offers
// by importing their packages. Register panics when scheme is registered
// twice or f is nil: both are programming errors.
func Register(scheme string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if f == nil {
		panic("storage: Register of a nil Factory for scheme " + scheme)
	}
	if _, dup := registry[scheme]; dup {
		panic("storage: scheme " + scheme + " registered twice")
	}
	registry[scheme] = f
}

// Schemes returns the registered schemes, sorted ("" for plain paths).
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s := make([]string, 0, len(registry))
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Scheme returns the scheme of location: what precedes "://", or "" for
// a location without one.
func Scheme(location string) string {
	scheme, _, ok := strings.Cut(location, "://")
	if !ok {
		return ""
	}
	return scheme
}

// Open opens the store that location names with the factory registered
// for its scheme. The caller must Close the Backend. A scheme that no
// store registered is an error wrapping ErrUnknownScheme (and ErrUsage).
func Open(ctx context.Context, location string, opts OpenOptions) (Backend, error) {
	scheme := Scheme(location)
	registryMu.RLock()
	f := registry[scheme]
	registryMu.RUnlock()
	if f == nil {
		return nil, Usage(fmt.Errorf("%q: %w %q", location, ErrUnknownScheme, scheme))
	}
	return f(ctx, location, opts)
}
