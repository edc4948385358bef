//go:build linux

package e2e

// The cron recipe of docs/drills.md, run as written (each crontab line's command
// through sh, with the recipe's variables), against a MariaDB sandbox of
// its own: every job prints nothing when it succeeds, and a failing job
// prints why (cron mails what a job prints).

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cronRecipe returns the README's cron recipe: its variable assignments and
// the commands of its crontab lines.
func cronRecipe(t *testing.T) (vars map[string]string, cmds []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "drills.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- cron-recipe")
	if !ok {
		t.Fatal("docs/drills.md has no <!-- cron-recipe --> block")
	}
	_, block, _ := strings.Cut(after, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	vars = map[string]string{}
	line := regexp.MustCompile(`^(\S+\s+){5}root\s+(.+)$`)
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case regexp.MustCompile(`^[A-Z_]+=\S+$`).MatchString(l):
			k, v, _ := strings.Cut(l, "=")
			vars[k] = v
		case line.MatchString(l):
			cmds = append(cmds, line.FindStringSubmatch(l)[2])
		default:
			t.Fatalf("cron recipe: cannot read line %q", l)
		}
	}
	if len(cmds) < 4 || vars["MYBAK_CONFIG"] == "" {
		t.Fatalf("cron recipe: %d commands, vars %v", len(cmds), vars)
	}
	return vars, cmds
}

func TestCronRecipeQuiet(t *testing.T) {
	mysqlTests(t)
	vars, cmds := cronRecipe(t)
	src := startSandbox(t, "cron-src", "")
	seed(t, src.db(t), "cron_db")
	dir := t.TempDir()
	store, key, scratch, metrics := filepath.Join(dir, "store"), keyFile(t, "cron key"), scratchParent(t), filepath.Join(dir, "mybak.prom")
	config := filepath.Join(dir, "mybak.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("storage: %s\nencrypt-key-file: %s\nhost: 127.0.0.1\nport: %d\nuser: %s\npassword-file: %s\n",
		store, key, src.port, src.user, src.passFile)), 0o600)

	// cron runs each line with sh and the crontab's variables, with mybak
	// on PATH; the recipe's paths are this test's.
	cronEnv := append(cleanEnv(), "PATH="+filepath.Dir(mybakBin)+":"+os.Getenv("PATH"), "MYBAK_CONFIG="+config, "M="+metrics)
	for k := range vars {
		if k != "MYBAK_CONFIG" && k != "M" {
			t.Fatalf("the recipe sets %s: teach this test its value", k)
		}
	}
	job := func(cmd string) (string, error) {
		cmd = strings.ReplaceAll(cmd, "/srv/drill", scratch)
		c := exec.Command("sh", "-c", cmd)
		c.Env = cronEnv
		out, err := c.CombinedOutput()
		return string(out), err
	}
	// The backup first (the others need one), twice: prune has two to keep.
	jobs := append([]string{cmds[0]}, cmds...)
	for _, cmd := range jobs {
		out, err := job(cmd)
		if err != nil || out != "" {
			t.Errorf("cron job %q succeeded noisily or failed: %v\n%s", cmd, err, out)
		}
	}
	if m, _ := os.ReadFile(metrics); !strings.Contains(string(m), `mybak_last_run_success{command="verify-drill"`) {
		t.Errorf("the jobs wrote no metrics:\n%s", m)
	}

	// A failing job prints why: a damaged stored object for verify, a
	// server that refuses the backup user for backup.
	ents, _ := filepath.Glob(filepath.Join(store, "*", "data*"))
	if len(ents) == 0 {
		t.Fatalf("no data objects in %s", store)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(e)
		b[len(b)/2] ^= 0xff
		os.WriteFile(e, b, 0o600)
	}
	for _, cmd := range cmds[1:3] {
		out, err := job(cmd)
		if err == nil || !strings.Contains(out, "FAILED") && !strings.Contains(out, "failed") {
			t.Errorf("cron job %q on a damaged store: err %v, output %q: a failure must say so", cmd, err, out)
		}
	}
	os.WriteFile(config, []byte(fmt.Sprintf("storage: %s\nencrypt-key-file: %s\nhost: 127.0.0.1\nport: %d\nuser: nosuchuser\npassword-file: %s\n",
		store, key, src.port, src.passFile)), 0o600)
	if out, err := job(cmds[0]); err == nil || !strings.Contains(out, "nosuchuser") {
		t.Errorf("cron backup with a refused user: err %v, output %q", err, out)
	}
}
