package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreLocationErrors pins what a wrong --storage or store flag says
// and its exit status: the registry of stores (storage.Open) must keep
// both as they were when the cli parsed locations itself.
func TestStoreLocationErrors(t *testing.T) {
	for _, v := range []string{"ST_AUTH", "ST_USER", "ST_KEY", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD",
		"OS_STORAGE_URL", "OS_AUTH_TOKEN", "OS_CACERT", "ST_AUTH_VERSION", "OS_IDENTITY_API_VERSION", "MYBAK_STORAGE"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{name: "no storage", args: []string{"list"}, code: ExitUsage,
			msg: "--storage is required (a directory, file:///path or swift://container[/prefix]; or MYBAK_STORAGE)"},
		{name: "unknown scheme", args: []string{"list", "--storage", "ftp://host/x"}, code: ExitUsage,
			msg: `--storage "ftp://host/x": unknown scheme "ftp" (use a directory, file:///path or swift://container[/prefix])`},
		{name: "file URL with a host", args: []string{"list", "--storage", "file://host/x"}, code: ExitUsage,
			msg: `--storage "file://host/x": a file URL must look like file:///path`},
		{name: "file URL without a path", args: []string{"list", "--storage", "file://"}, code: ExitUsage,
			msg: `--storage "file://": a file URL must look like file:///path`},
		{name: "missing directory", args: []string{"list", "--storage", filepath.Join(dir, "nope")}, code: ExitFailure,
			msg: "open local store: "},
		{name: "missing directory by file URL", args: []string{"list", "--storage", "file://" + filepath.Join(dir, "nope")}, code: ExitFailure,
			msg: "open local store: "},
		{name: "bad local limit-rate", args: []string{"list", "--storage", dir, "--limit-rate", "fast"}, code: ExitUsage,
			msg: `--limit-rate: "fast" is not a size`},
		{name: "swift without credentials", args: []string{"list", "--storage", "swift://c/p"}, code: ExitUsage,
			msg: "--storage swift://c/p: no Swift credentials: set ST_AUTH/ST_USER/ST_KEY or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD (or --swift-auth-url, --swift-user, --swift-key-file)"},
		{name: "swift bad container", args: []string{"list", "--storage", "swift://"}, code: ExitUsage,
			msg: "swift://"},
		{name: "swift bad auth version", env: map[string]string{"ST_AUTH_VERSION": "9"}, args: []string{"list", "--storage", "swift://c"}, code: ExitUsage,
			msg: `Swift credentials from the environment: swift config: ST_AUTH_VERSION="9": want 1, 2 or 3`},
		{name: "swift bad segment size", args: []string{"list", "--storage", "swift://c", "--swift-auth-url", "http://127.0.0.1:1/auth/v1.0", "--segment-size", "big"}, code: ExitUsage,
			msg: `--segment-size: "big" is not a size`},
		{name: "swift bad limit-rate", args: []string{"list", "--storage", "swift://c", "--swift-auth-url", "http://127.0.0.1:1/auth/v1.0", "--limit-rate", "x"}, code: ExitUsage,
			msg: `--limit-rate: "x" is not a size`},
		{name: "swift missing key file", args: []string{"list", "--storage", "swift://c", "--swift-key-file", filepath.Join(dir, "no-key")}, code: ExitUsage,
			msg: "no-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := Main(append([]string{"mybak"}, tc.args...), strings.NewReader(""), &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant it to contain %q", code, tc.code, errb.String(), tc.msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Error("list created the missing store directory")
	}
}
