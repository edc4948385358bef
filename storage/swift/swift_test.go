package swift

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"

	"github.com/ncw/swift/v2"

	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/storage/storagetest"
)

// Integration tests run against a real Swift. Start the sandbox and
// export its settings:
//
//	scripts/swift-sandbox.sh start
//	eval "$(scripts/swift-sandbox.sh env)"
//	go test ./storage/swift/
//
// They are switched on by MYBAK_TEST_SWIFT=1 or ST_AUTH. With CI=true a
// missing configuration fails the tests instead of skipping them, so that
// CI cannot pass without having talked to Swift.

// testConfig returns a Config for a fresh container (removed with its
// segment container when the test ends), small segments and fast retries.
func testConfig(t *testing.T) Config {
	t.Helper()
	testenv.NeedSwift(t)
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Container = fmt.Sprintf("mybak-test-%s-%08x", time.Now().Format("150405"), rand.Uint32())
	cfg.Prefix = "pre/fix"
	cfg.SegmentSize = 1 << 20
	cfg.RetryBaseWait = 20 * time.Millisecond
	cfg.RetryMaxWait = 500 * time.Millisecond
	t.Cleanup(func() { removeContainers(t, cfg) })
	return cfg
}

// newTestBackend opens a backend with cfg and closes it when t ends.
func newTestBackend(t *testing.T, cfg Config) *Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// removeContainers deletes a test's containers and everything in them,
// straight through the swift library (with the sandbox's credentials, not
// through any fault proxy).
func removeContainers(t *testing.T, cfg Config) {
	env, err := ConfigFromEnv()
	if err != nil {
		t.Error(err)
		return
	}
	c := &swift.Connection{AuthUrl: env.AuthURL, UserName: env.User, ApiKey: env.Key}
	ctx := context.Background()
	for _, container := range []string{cfg.Container, cfg.Container + SegmentContainerSuffix} {
		names, err := c.ObjectNamesAll(ctx, container, nil)
		if err != nil {
			continue
		}
		for _, n := range names {
			_ = c.ObjectDelete(ctx, container, n)
		}
		_ = c.ContainerDelete(ctx, container)
	}
}

// rawConn is a connection to the sandbox that bypasses the backend, for
// tests that look at or tamper with what is stored.
func rawConn(t *testing.T) *swift.Connection {
	t.Helper()
	env, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	c := &swift.Connection{AuthUrl: env.AuthURL, UserName: env.User, ApiKey: env.Key}
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func segmentNames(t *testing.T, cfg Config) []string {
	t.Helper()
	names, err := rawConn(t).ObjectNamesAll(context.Background(), cfg.Container+SegmentContainerSuffix, nil)
	if err != nil {
		t.Fatalf("list segments: %v", err)
	}
	return names
}

func TestConformance(t *testing.T) {
	testenv.NeedSwift(t)
	storagetest.RunOptions(t, func(t *testing.T) storage.Backend {
		cfg := testConfig(t)
		return newTestBackend(t, cfg)
	}, storagetest.Options{
		LargeSize:   8<<20 + 5,
		StallAfter:  2<<20 + 7,
		ReplaceSize: 3<<20 + 11,
		Writers:     6,
		WriterSize:  1<<20 + 100<<10, // two segments each: concurrent SLO commits
		// Replacing an SLO deletes the old segments; a reader of the old
		// object then fails (with an error, never mixed bytes).
		EarlyReaderMayFail: true,
		Timeout:            90 * time.Second,
		Features:           []string{"ChecksParts", "Multipart", "PartStatter", "UncommittedSweeper", "RetriesItself"},
	})
}
