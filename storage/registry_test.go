package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mybak/mybak/storage"
)

// TestOpenDispatchesByScheme: Open hands the whole location and the
// options to the factory of its scheme, and "" is the scheme of plain
// paths.
func TestOpenDispatchesByScheme(t *testing.T) {
	type call struct {
		loc  string
		opts storage.OpenOptions
	}
	var got []call
	f := func(_ context.Context, loc string, opts storage.OpenOptions) (storage.Backend, error) {
		got = append(got, call{loc, opts})
		return base{}, nil
	}
	storage.Register("test-dispatch", f)
	if !slices.Contains(storage.Schemes(), "test-dispatch") {
		t.Fatalf("Schemes() = %q, want test-dispatch in it", storage.Schemes())
	}
	opts := storage.OpenOptions{Create: true, Settings: storage.Values{"limit-rate": "1M", "max-retries": 3, "insecure": true}}
	if _, err := storage.Open(context.Background(), "test-dispatch://c/p", opts); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].loc != "test-dispatch://c/p" || !got[0].opts.Create {
		t.Fatalf("factory got %+v", got)
	}
	o := got[0].opts
	if o.String("limit-rate") != "1M" || o.Int("max-retries") != 3 || !o.Bool("insecure") ||
		o.String("max-retries") != "" || o.Int("nope") != 0 || o.Bool("limit-rate") {
		t.Errorf("settings read back wrong: %v", o.Settings)
	}
	var none storage.OpenOptions
	if none.String("x") != "" || none.Int("x") != 0 || none.Bool("x") {
		t.Error("no settings must read as zero values")
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	_, err := storage.Open(context.Background(), "nosuch://x", storage.OpenOptions{})
	if !errors.Is(err, storage.ErrUnknownScheme) || !errors.Is(err, storage.ErrUsage) {
		t.Fatalf("err = %v, want ErrUnknownScheme and ErrUsage", err)
	}
	if storage.Scheme("nosuch://x") != "nosuch" || storage.Scheme("/a/b") != "" || storage.Scheme("a:b") != "" {
		t.Error("Scheme is wrong")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	f := func(context.Context, string, storage.OpenOptions) (storage.Backend, error) { return nil, nil }
	storage.Register("test-twice", f)
	for _, tc := range []struct {
		name   string
		scheme string
		f      storage.Factory
	}{{"twice", "test-twice", f}, {"nil factory", "test-nil", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			storage.Register(tc.scheme, tc.f)
		})
	}
}

// TestUsagef: a usage error keeps its message and its cause.
func TestUsagef(t *testing.T) {
	cause := errors.New("cause")
	err := storage.Usagef("--x: %w", cause)
	if err.Error() != "--x: cause" || !errors.Is(err, cause) || !errors.Is(err, storage.ErrUsage) {
		t.Errorf("Usagef = %q (is cause %v, is ErrUsage %v)", err, errors.Is(err, cause), errors.Is(err, storage.ErrUsage))
	}
	if storage.Usage(nil) != nil {
		t.Error("Usage(nil) is not nil")
	}
	if errors.Is(cause, storage.ErrUsage) {
		t.Error("a plain error matches ErrUsage")
	}
}
