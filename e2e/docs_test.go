//go:build linux

package e2e

// The examples in README.md and docs/*.md name only commands and options
// that exist: every mybak command line in a code block is parsed against
// the built binary's own help (mybak CMD --help), so a renamed flag breaks
// this test before it breaks a reader's script. The cron recipe is run as
// written by cron_test.go; the quick start and the recipes need real
// servers and hosts of the reader's.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docCommandLines returns the mybak command lines in the code blocks of a
// Markdown file: from the word mybak to the end of its shell command.
func docCommandLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	inCode := false
	var cont string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			continue
		}
		if cont != "" {
			l = cont + " " + strings.TrimSpace(l)
			cont = ""
		}
		if strings.HasSuffix(l, "\\") {
			cont = strings.TrimSuffix(l, "\\")
			continue
		}
		for _, m := range regexp.MustCompile(`(?:^|[\s|(;$])(?:\./)?mybak\s+([^|;&>#)]*)`).FindAllStringSubmatch(l, -1) {
			lines = append(lines, strings.TrimSpace(m[1]))
		}
	}
	return lines
}

func TestDocExamplesUseRealOptions(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	files = append(files, filepath.Join(repoRoot, "README.md"))
	helps := map[string]string{}
	help := func(cmd ...string) string {
		key := strings.Join(cmd, " ")
		if h, ok := helps[key]; ok {
			return h
		}
		r := run(t, nil, nil, append(cmd, "--help")...)
		h := r.stdout
		if r.code != 0 {
			h = ""
		}
		helps[key] = h
		return h
	}
	checked := 0
	for _, f := range files {
		for _, line := range docCommandLines(t, f) {
			fields := strings.Fields(line)
			cmd, sub := "", ""
			for _, w := range fields {
				if !strings.HasPrefix(w, "-") {
					if cmd != "" {
						sub = w
						break
					}
					cmd = w
				}
			}
			if !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(cmd) {
				continue // not a command line: go build -o mybak ., install ... mybak /usr/local/bin/mybak, prose
			}
			h := help(cmd)
			if h == "" {
				t.Errorf("%s: `mybak %s`: %q is not a command", f, line, cmd)
				continue
			}
			if strings.Contains(h, "\nCOMMANDS:\n") && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(sub) {
				// A command of commands (mybak binlog archive ...).
				if h = help(cmd, sub); h == "" {
					t.Errorf("%s: `mybak %s`: %q is not a command of %s", f, line, sub, cmd)
					continue
				}
			}
			for _, w := range fields {
				if !strings.HasPrefix(w, "--") || w == "--" {
					continue
				}
				name, _, _ := strings.Cut(w, "=")
				if !regexp.MustCompile(`(?m)^\s+(-\w, )?`+regexp.QuoteMeta(name)+`[ ,]`).MatchString(h) &&
					!strings.Contains(h, ", "+name+" ") && !strings.Contains(h, ", "+name+"\t") {
					t.Errorf("%s: `mybak %s`: %s has no option %s", f, line, cmd, name)
				}
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("checked only %d documented command lines: the extraction broke", checked)
	}
	t.Logf("checked %d documented command lines", checked)
}
