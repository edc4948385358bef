//go:build linux

package e2e

// backup to a local store and the restore of what it stored: keys (flag,
// environment, config file, wrong key), logs and progress, interruption,
// openssl interoperability, a terminal on standard input.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
)

func TestBackupRestoreRoundTrip(t *testing.T) {
	data := corpus(3<<20 + 17)
	key := keyFile(t, "correct horse battery staple")
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"gzip pbkdf2", []string{"--encrypt-key-file", key}},
		{"gzip sha256", []string{"--encrypt-key-file", key, "--encrypt-kdf", "sha256"}},
		{"gzip md5", []string{"--encrypt-key-file", key, "--encrypt-kdf", "md5"}},
		{"zstd pbkdf2-sha512", []string{"--encrypt-key-file", key, "--compress", "zstd", "--encrypt-kdf", "pbkdf2-sha512", "--encrypt-iter", "2000"}},
		{"none unencrypted", []string{"--compress", "none", "--no-encrypt"}},
		{"gzip small blocks", []string{"--encrypt-key-file", key, "--compress-level", "1", "--compress-block-size", "256K", "--compress-concurrency", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			r := run(t, bytes.NewReader(data), nil, append([]string{"backup", "--engine", "stdin", "--storage", store, "--name", "t1"}, tc.flags...)...)
			must(t, r, "backup")
			if !idRE.MatchString(r.stdout) {
				t.Fatalf("backup stdout = %q, want the ID alone", r.stdout)
			}
			id := strings.TrimSpace(r.stdout)
			keyArgs := []string{}
			if !strings.Contains(tc.name, "unencrypted") {
				keyArgs = []string{"--encrypt-key-file", key}
			}
			// Flags after the ID, as scripts write them.
			r = run(t, nil, nil, append([]string{"restore", "--storage", store, id, "--to-stdout"}, keyArgs...)...)
			must(t, r, "restore")
			if !bytes.Equal([]byte(r.stdout), data) {
				t.Fatalf("restored %d bytes differ from the original %d", len(r.stdout), len(data))
			}
			r = run(t, nil, nil, append([]string{"verify", "--deep", "--storage", store, "latest"}, keyArgs...)...)
			must(t, r, "verify --deep")
		})
	}
}

func TestBackupNeedsKey(t *testing.T) {
	store := t.TempDir()
	r := run(t, strings.NewReader("x"), nil, "backup", "--storage", store)
	if r.code != 2 || !strings.Contains(r.stderr, "--no-encrypt") || !strings.Contains(r.stderr, "--encrypt-key-file") {
		t.Fatalf("backup without a key: exit %d, stderr %q; want 2 and advice", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	entries, _ := os.ReadDir(store)
	if len(entries) != 0 {
		t.Errorf("a refused backup left %d entries in the store", len(entries))
	}
}

func TestKeyFromEnvironmentAndConfig(t *testing.T) {
	store := t.TempDir()
	data := corpus(100000)
	env := []string{"MYBAK_ENCRYPT_KEY=s3cret", "MYBAK_STORAGE=" + store}
	r := run(t, bytes.NewReader(data), env, "backup")
	must(t, r, "backup with env")
	id := strings.TrimSpace(r.stdout)
	if strings.Contains(r.stderr, "s3cret") {
		t.Error("the passphrase appears in the log")
	}

	// A config file sets the store and the key file; the command line wins.
	key := keyFile(t, "s3cret")
	cfg := filepath.Join(t.TempDir(), "mybak.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("storage: %s\nencrypt-key-file: %s\nrestore:\n  to-stdout: true\n", store, key)), 0o600)
	r = run(t, nil, nil, "restore", "--config", cfg, id)
	must(t, r, "restore with config")
	if r.stdout != string(data) {
		t.Fatal("restore with config: wrong bytes")
	}
	r = run(t, nil, []string{"MYBAK_CONFIG=" + cfg}, "list", "--storage", t.TempDir())
	must(t, r, "list")
	if strings.Contains(r.stdout, id) {
		t.Error("--storage on the command line did not win over the config file")
	}

	os.WriteFile(cfg, []byte("storag: /tmp\n"), 0o600)
	r = run(t, nil, nil, "list", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "unknown option(s) storag") {
		t.Errorf("typo in config: exit %d, %q", r.code, r.stderr)
	}
}

func TestWrongKey(t *testing.T) {
	store := t.TempDir()
	data := corpus(200000)
	for _, kdf := range []string{"pbkdf2", "md5"} {
		r := run(t, bytes.NewReader(data), []string{"MYBAK_ENCRYPT_KEY=right"}, "backup", "--storage", store, "--encrypt-kdf", kdf)
		must(t, r, "backup")
		id := strings.TrimSpace(r.stdout)
		r = run(t, nil, []string{"MYBAK_ENCRYPT_KEY=wrong"}, "restore", "--storage", store, id, "--to-stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "wrong encryption key or KDF") {
			t.Fatalf("%s: restore with a wrong key: exit %d, stderr %q", kdf, r.code, r.stderr)
		}
		if len(r.stdout) > 0 {
			t.Errorf("%s: wrong key wrote %d bytes of garbage to stdout", kdf, len(r.stdout))
		}
		r = run(t, nil, nil, "restore", "--storage", store, id, "--to-stdout")
		if r.code != 1 || !strings.Contains(r.stderr, "encrypted and no key") {
			t.Errorf("restore without a key: exit %d, %q", r.code, r.stderr)
		}
	}
}

func TestLogFormatJSONAndProgress(t *testing.T) {
	store := t.TempDir()
	r := run(t, bytes.NewReader(corpus(1<<20)), nil, "backup", "--storage", store, "--no-encrypt", "--log-format", "json", "--progress", "always")
	must(t, r, "backup")
	if !idRE.MatchString(r.stdout) {
		t.Fatalf("stdout %q", r.stdout)
	}
	var sawJSON, sawBar bool
	for _, line := range strings.Split(r.stderr, "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(line), &v) == nil && v["msg"] == "backup complete" {
			sawJSON = true
		}
		if strings.Contains(line, "backup (") && strings.Contains(line, "iB/s") {
			sawBar = true
		}
	}
	if !sawJSON || !sawBar {
		t.Errorf("json log %v, progress bar %v in stderr:\n%s", sawJSON, sawBar, r.stderr)
	}
	r = run(t, bytes.NewReader(corpus(1<<20)), nil, "backup", "--storage", store, "--no-encrypt", "--progress", "never", "--log-level", "warn")
	must(t, r, "backup quiet")
	if strings.Contains(r.stderr, "iB/s") || strings.Contains(r.stderr, "backup complete") {
		t.Errorf("--progress never --log-level warn still printed: %q", r.stderr)
	}
}

// TestInterruptedBackup sends SIGTERM (and SIGINT) to a backup whose input
// is still flowing: it must stop, exit 130 as the README says, write no
// manifest and leave no objects behind.
func TestInterruptedBackup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			store := t.TempDir()
			cmd := exec.Command(mybakBin, "backup", "--storage", store, "--no-encrypt")
			cmd.Env = cleanEnv()
			in, _ := cmd.StdinPipe()
			var se bytes.Buffer
			cmd.Stderr = &se
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			chunk := corpus(1 << 20)
			for i := 0; i < 8; i++ {
				in.Write(chunk)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			go func() { // keep feeding: the input does not end by itself
				for {
					if _, err := in.Write(chunk); err != nil {
						return
					}
				}
			}()
			select {
			case err := <-done:
				// The README: 130 when interrupted (SIGINT or SIGTERM).
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
					t.Fatalf("an interrupted backup: %v, want exit status 130\n%s", err, se.String())
				}
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("backup did not stop within 20s of the signal")
			}
			in.Close()
			if !strings.Contains(se.String(), "interrupted") {
				t.Errorf("stderr does not say the backup was interrupted: %s", se.String())
			}
			var files []string
			filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if len(files) != 0 {
				t.Errorf("an interrupted backup left files: %v", files)
			}
		})
	}
}

// TestOpenSSLInterop checks both directions against the real openssl and
// gzip commands, in every key derivation mode.
func TestOpenSSLInterop(t *testing.T) {
	for _, tool := range []string{"openssl", "gzip"} {
		testenv.NeedTool(t, tool)
	}
	data := corpus(2<<20 + 5)
	orig := filepath.Join(t.TempDir(), "orig")
	os.WriteFile(orig, data, 0o600)
	key := keyFile(t, "interop pass")
	modes := []struct {
		kdf     string
		openssl []string
	}{
		{"pbkdf2", []string{"-pbkdf2"}},
		{"pbkdf2-sha512", []string{"-pbkdf2", "-md", "sha512"}},
		{"sha256", []string{"-md", "sha256"}},
		{"md5", []string{"-md", "md5"}},
	}
	for _, mode := range modes {
		t.Run("mybak to openssl "+mode.kdf, func(t *testing.T) {
			store := t.TempDir()
			r := run(t, bytes.NewReader(data), nil, "backup", "--storage", store, "--encrypt-key-file", key, "--encrypt-kdf", mode.kdf)
			must(t, r, "backup")
			obj := dataObject(t, store, strings.TrimSpace(r.stdout))
			sh := fmt.Sprintf("openssl enc -d -aes-256-cbc %s -pass file:%s -in %s | gzip -d | cmp - %s",
				strings.Join(mode.openssl, " "), key, obj, orig)
			if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
		})
		t.Run("openssl to mybak "+mode.kdf, func(t *testing.T) {
			// A backup made by a shell pipeline (as Trove did), described by
			// a manifest without a KDF record: mybak must detect the KDF.
			store := t.TempDir()
			id := "20261121T120000Z-0a0b0c"
			os.MkdirAll(filepath.Join(store, id), 0o700)
			obj := filepath.Join(store, id, "data.gz.enc")
			sh := fmt.Sprintf("gzip -c %s | openssl enc -aes-256-cbc -salt %s -pass file:%s -out %s",
				orig, strings.Join(mode.openssl, " "), key, obj)
			if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
			fi, _ := os.Stat(obj)
			manifest := fmt.Sprintf(`{"format_version":1,"id":%q,"start_time":"2026-11-21T12:00:00Z","end_time":"2026-11-21T12:01:00Z",
"engine":{"name":"stdin"},"type":"full","compression":{"kind":"gzip"},"encryption":{"cipher":"aes-256-cbc"},
"raw_size":%d,"raw_sha256":"","stored_size":%d,"stored_sha256":"","objects":[{"name":"data.gz.enc","size":%d}]}`,
				id, len(data), fi.Size(), fi.Size())
			os.WriteFile(filepath.Join(store, id, "manifest.json"), []byte(manifest), 0o600)
			r := run(t, nil, nil, "restore", "--storage", store, "--encrypt-key-file", key, id, "--to-stdout")
			must(t, r, "restore")
			if r.stdout != string(data) {
				t.Fatalf("restored %d bytes, want the original %d", len(r.stdout), len(data))
			}
		})
	}
}

// TestStdinTerminal: the stdin engine refuses a terminal as its input (it
// would wait for typing) with a usage error that says what to do.
func TestStdinTerminal(t *testing.T) {
	testenv.NeedTool(t, "script")
	cmd := exec.Command("script", "-qec", mybakBin+" backup --no-encrypt --storage "+t.TempDir(), "/dev/null")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "standard input, which is a terminal") {
		t.Fatalf("backup with a terminal as stdin: %v\n%s", err, out)
	}
}
