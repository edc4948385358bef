package swift

import (
	"errors"
	"net/url"
	"testing"
)

// TestClassifyEmptyStorageURL: the swift library reads the cached storage
// URL without its lock before a request; when another request has just
// dropped the token after a 401 (UnAuthenticate) and a third one has
// authenticated again, the request goes to a URL without scheme or host
// and fails with "unsupported protocol scheme". That is the re-auth race,
// not a broken endpoint: retried (a CI run's TestFaults failed on it).
func TestClassifyEmptyStorageURL(t *testing.T) {
	err := &url.Error{Op: "Put", URL: "/mybak_segments/pre/fix/00000001", Err: errors.New(`unsupported protocol scheme ""`)}
	if v := classify(err); v != retry {
		t.Fatalf("classify(a request to a URL without scheme) = %v, want retry", v)
	}
	bad := &url.Error{Op: "Put", URL: "ftp://example.com/x", Err: errors.New(`unsupported protocol scheme "ftp"`)}
	if v := classify(bad); v == retry {
		t.Fatalf("classify(a request to an ftp URL) = retry, want no retry: the configuration is wrong")
	}
}
