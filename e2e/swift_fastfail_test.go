package e2e

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestSwiftUnreachableFailsFast: a Swift auth URL where nothing listens
// ends the command within seconds, names the URL and what to check, and
// each retry was logged at the default level (issue 12.6: 80 s of silence
// before "gave up after 11 attempts").
func TestSwiftUnreachableFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	authURL := "http://" + l.Addr().String() + "/auth/v1.0"
	l.Close()
	start := time.Now()
	r := run(t, nil, []string{"ST_AUTH=" + authURL, "ST_USER=test:tester", "ST_KEY=testing", "OS_AUTH_URL=", "OS_STORAGE_URL=", "OS_AUTH_TOKEN="},
		"list", "--storage", "swift://mybak-fastfail")
	took := time.Since(start)
	if r.code == 0 || took > 10*time.Second {
		t.Errorf("exit %d after %v; want a failure within seconds", r.code, took)
	}
	for _, want := range []string{authURL, "connection refused", "nothing answers there", "--swift-auth-url, ST_AUTH or OS_AUTH_URL",
		`msg="Swift request failed, retrying" what="authenticate at ` + authURL + `"`, "attempt=1 of=3 next_in="} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
