//go:build linux

package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

func TestSwiftBackupRestoreVerify(t *testing.T) {
	testenv.NeedSwift(t)
	container := uniqueName("e2e")
	store := "swift://" + container + "/nightly"
	env := append(swiftEnv(), "MYBAK_ENCRYPT_KEY=swift pass", "MYBAK_STORAGE="+store, "MYBAK_SEGMENT_SIZE=1M")
	t.Cleanup(func() {
		exec.Command("swift", "--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY"),
			"delete", container).Run()
		exec.Command("swift", "--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY"),
			"delete", container+"_segments").Run()
	})
	data := corpus(5<<20 + 123)
	r := run(t, bytes.NewReader(data), env, "backup", "--upload-parallel", "3", "--compress", "none")
	must(t, r, "backup to swift")
	if !idRE.MatchString(r.stdout) {
		t.Fatalf("stdout %q", r.stdout)
	}
	id := strings.TrimSpace(r.stdout)
	r = run(t, nil, env, "restore", id, "--to-stdout")
	must(t, r, "restore from swift")
	if r.stdout != string(data) {
		t.Fatal("restored bytes differ")
	}
	must(t, run(t, nil, env, "verify", id), "verify")
	must(t, run(t, nil, env, "verify", "--deep", id), "verify --deep")

	// Overwrite one segment behind mybak's back (same size): the fast
	// verify sees the ETag change and names the segment; restore fails.
	var seg string
	out, err := exec.Command("swift", "--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY"),
		"list", container+"_segments").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasSuffix(l, "/00000002") {
			seg = l
		}
	}
	if seg == "" {
		t.Fatalf("no third segment among %q", out)
	}
	junk := bytes.Repeat([]byte{0x5a}, 1<<20)
	f, _ := os.CreateTemp(t.TempDir(), "seg")
	f.Write(junk)
	f.Close()
	put := exec.Command("swift", "--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY"),
		"upload", "--object-name", seg, container+"_segments", f.Name())
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("overwrite segment: %v %s", err, out)
	}
	r = run(t, nil, env, "verify", id)
	if r.code != 3 || !strings.Contains(r.stdout, "part 2") || !strings.Contains(r.stdout, "00000002") {
		t.Fatalf("verify after overwriting segment 2: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, env, "restore", id, "--to-stdout")
	if r.code == 0 || !strings.Contains(r.stderr, "00000002") {
		t.Fatalf("restore of a damaged segment: exit %d, %s", r.code, r.stderr)
	}
}

// TestSwiftReadCommandsCreateNoContainer: list/restore/verify of a
// container that does not exist say so and create nothing; backup creates
// it.
func TestSwiftReadCommandsCreateNoContainer(t *testing.T) {
	testenv.NeedSwift(t)
	container := uniqueName("e2e-typo")
	swiftCLI := func(args ...string) (string, error) {
		out, err := exec.Command("swift", append([]string{"--auth", os.Getenv("ST_AUTH"), "--user", os.Getenv("ST_USER"), "--key", os.Getenv("ST_KEY")}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		swiftCLI("delete", container)
		swiftCLI("delete", container+"_segments")
	})
	env := append(swiftEnv(), "MYBAK_ENCRYPT_KEY=k", "MYBAK_STORAGE=swift://"+container)
	for _, args := range [][]string{{"list"}, {"restore", "latest", "--to-stdout"}, {"verify", "latest"}} {
		r := run(t, nil, env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "no container") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stderr)
		}
	}
	if out, _ := swiftCLI("list"); strings.Contains(out, container) {
		t.Fatalf("read commands created containers:\n%s", out)
	}
	must(t, run(t, strings.NewReader("x"), env, "backup"), "backup")
	must(t, run(t, nil, env, "list"), "list after backup")
}

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
