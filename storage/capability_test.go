package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mybak/mybak/storage"
)

// base is a Backend with no capability (its methods are never called).
type base struct{ storage.Backend }

// stale is a Backend with one capability.
type stale struct{ storage.Backend }

func (stale) RemoveStaleTemp(context.Context, time.Duration) (int, error) { return 0, nil }

// wrapper is a decorator that declares what it wraps.
type wrapper struct{ storage.Backend }

func (w wrapper) Unwrap() storage.Backend { return w.Backend }

// hiding is a decorator that does not declare what it wraps.
type hiding struct{ storage.Backend }

// looping is a broken decorator that unwraps to itself.
type looping struct{ storage.Backend }

func (l *looping) Unwrap() storage.Backend { return l }

// ownStale is a decorator that implements the capability itself.
type ownStale struct{ wrapper }

func (ownStale) RemoveStaleTemp(context.Context, time.Duration) (int, error) { return 1, nil }

func TestAs(t *testing.T) {
	inner := stale{}
	for _, tc := range []struct {
		name  string
		b     storage.Backend
		found bool
		n     int // what the found RemoveStaleTemp returns
	}{
		{name: "the backend itself", b: inner, found: true},
		{name: "through a decorator", b: wrapper{inner}, found: true},
		{name: "through two decorators", b: wrapper{wrapper{inner}}, found: true},
		{name: "a decorator's own first", b: ownStale{wrapper{inner}}, found: true, n: 1},
		{name: "not declared", b: wrapper{base{}}},
		{name: "decorator without Unwrap hides it", b: hiding{inner}},
		{name: "decorator unwrapping to itself", b: &looping{}},
		{name: "nil", b: nil},
		{name: "decorator of nil", b: wrapper{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := storage.As[storage.StaleTempRemover](tc.b)
			if ok != tc.found || (got != nil) != tc.found {
				t.Fatalf("As = %v, %v; want found %v", got, ok, tc.found)
			}
			if !ok {
				return
			}
			if n, _ := got.RemoveStaleTemp(context.Background(), 0); n != tc.n {
				t.Errorf("found the capability of the wrong backend (returned %d, want %d)", n, tc.n)
			}
		})
	}
}

// TestAsMarker: As finds marker capabilities that embed Backend, and
// returns the backend that declares them.
func TestAsMarker(t *testing.T) {
	c := cheap{}
	got, ok := storage.As[storage.CheapRanges](wrapper{wrapper{c}})
	if !ok {
		t.Fatal("CheapRanges not found through two decorators")
	}
	if _, isCheap := got.(cheap); !isCheap {
		t.Errorf("As returned %T, want the cheap backend", got)
	}
	if _, ok := storage.As[storage.ChecksParts](wrapper{c}); ok {
		t.Error("ChecksParts found on a backend that does not declare it")
	}
}

type cheap struct{ storage.Backend }

func (cheap) CheapRanges() {}

func TestFeatures(t *testing.T) {
	for _, tc := range []struct {
		b    storage.Backend
		want string
	}{
		{base{}, "[]"},
		{wrapper{stale{}}, "[StaleTempRemover]"},
		{wrapper{cheap{}}, "[CheapRanges]"},
		{hiding{cheap{}}, "[]"},
	} {
		if got := fmt.Sprint(storage.Features(tc.b)); got != tc.want {
			t.Errorf("Features(%T) = %s, want %s", tc.b, got, tc.want)
		}
	}
}
