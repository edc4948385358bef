package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func mainOut(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(append([]string{"mybak"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestHelp: every command's help groups its flags, has examples, and says
// each default once; restore's names its three modes.
func TestHelp(t *testing.T) {
	app := newApp(&env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	twoDefaults := regexp.MustCompile(`\(default[: ].*\(default: |\(required\).*\(default: |\(default: false\)`)
	for _, c := range app.Commands {
		if c.Name == "help" {
			continue
		}
		code, out, errs := mainOut(c.Name, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d %s", c.Name, code, errs)
		}
		if !strings.Contains(out, "EXAMPLES:") || !strings.Contains(out, "mybak "+c.Name) {
			t.Errorf("%s --help has no examples:\n%s", c.Name, out)
		}
		if c.Name != "completion" && len(c.Subcommands) == 0 && !strings.Contains(out, catCommand) && !strings.Contains(out, catStore) {
			t.Errorf("%s --help has no flag categories:\n%s", c.Name, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if twoDefaults.MatchString(l) {
				t.Errorf("%s --help: doubled or empty default: %s", c.Name, strings.TrimSpace(l))
			}
		}
	}
	_, out, _ := mainOut("restore", "--help")
	for _, mode := range []string{"--to-stdout", "--target-dir", "--to-mysql"} {
		if !strings.Contains(out[:strings.Index(out, "OPTIONS:")], mode) {
			t.Errorf("restore --help does not name the mode %s before its options", mode)
		}
	}
	if code, out2, _ := mainOut("help", "restore"); code != 0 || out2 != out {
		t.Errorf("mybak help restore: exit %d, differs from restore --help", code)
	}
}

func TestUsageConveniences(t *testing.T) {
	if code, out, errs := mainOut(); code != ExitUsage || out != "" || !strings.Contains(errs, "USAGE:") {
		t.Errorf("mybak without arguments: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, errs := mainOut("lst"); code != ExitUsage || !strings.Contains(errs, `Did you mean "list"?`) {
		t.Errorf("mybak lst: exit %d %s", code, errs)
	}
	if code, _, errs := mainOut("list", "--storag", "x"); code != ExitUsage || !strings.Contains(errs, "did you mean --storage?") {
		t.Errorf("mybak list --storag: exit %d %s", code, errs)
	}
	if code, out, _ := mainOut("--version"); code != 0 || !regexp.MustCompile(`^mybak version \S+ \(commit \S+.*go1\.\d+`).MatchString(out) {
		t.Errorf("--version: %d %q", code, out)
	}
	store := t.TempDir()
	if code, out, errs := mainOut("--storage", store, "--json", "list"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("options before the command: exit %d %q %s", code, out, errs)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, errs := mainOut("completion", sh)
		if code != 0 || !strings.Contains(out, "mybak") || strings.Contains(out, "$PROG\n") && sh == "zsh" {
			t.Errorf("completion %s: exit %d %s", sh, code, errs)
		}
	}
	if code, out, _ := mainOut("completion", "bash"); code != 0 || !strings.Contains(out, "complete -o bashdefault") {
		t.Errorf("completion bash: %d", code)
	}
	if code, _, _ := mainOut("completion", "tcsh"); code != ExitUsage {
		t.Errorf("completion tcsh: exit %d", code)
	}
}

// TestUsageErrorJSON: with --log-format json a usage error is a JSON line
// too, even one found before the flags are parsed.
func TestUsageErrorJSON(t *testing.T) {
	for _, args := range [][]string{
		{"list", "--log-format", "json", "--no-such-flag"},
		{"--log-format=json", "prune", "--storage", t.TempDir(), "--keep", "-1"},
		{"list", "--log-format", "json", "extra-argument"},
	} {
		code, _, errs := mainOut(args...)
		var line map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(errs)), &line); code != ExitUsage || err != nil || line["level"] != "ERROR" || line["exit_code"] != float64(ExitUsage) {
			t.Errorf("%v: exit %d, stderr %q is not one JSON error line (%v)", args, code, errs, err)
		}
	}
	t.Setenv("MYBAK_LOG_FORMAT", "json")
	if code, _, errs := mainOut("lst"); code != ExitUsage || !strings.HasPrefix(errs, "{") {
		t.Errorf("MYBAK_LOG_FORMAT=json mybak lst: %d %q", code, errs)
	}
}
