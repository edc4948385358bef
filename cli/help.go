package cli

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Flag categories of every command's help, in the order a DBA reads them:
// the command's own options first (urfave/cli prints categories sorted by
// name, hence the numbers).
const (
	catCommand = "1. Options"
	catMySQL   = "2. MySQL connection"
	catStore   = "3. Store (directory or Swift)"
	catCrypto  = "4. Encryption"
	catRun     = "5. Output, logging and locking"
)

// flagCategory says which category a flag's help is printed under.
func flagCategory(name string) string {
	switch {
	case name == "storage" || name == "layout" || strings.HasPrefix(name, "swift-") || name == "insecure" ||
		name == "segment-size" || name == "upload-parallel" || name == "max-retries" || name == "limit-rate" ||
		name == "spool-dir" || name == "resume":
		return catStore
	case strings.HasPrefix(name, "encrypt-") || name == "no-encrypt" || strings.HasPrefix(name, "allow-unauth"):
		return catCrypto
	case name == "host" || name == "port" || name == "socket" || name == "user" || name == "defaults-file" || name == "defaults-extra-file" || name == "password-file":
		return catMySQL
	case name == "config" || strings.HasPrefix(name, "log-") || name == "progress" || name == "quiet" ||
		name == "metrics-file" || name == "lock-timeout" || name == "no-lock":
		return catRun
	}
	return catCommand
}

// setCategory sets f's help category.
func setCategory(f cli.Flag, cat string) {
	switch f := f.(type) {
	case *cli.StringFlag:
		f.Category = cat
	case *cli.BoolFlag:
		f.Category = cat
		// A switch is off unless given: "(default: false)" says nothing.
		f.DisableDefaultText = true
	case *cli.IntFlag:
		f.Category = cat
	case *cli.Int64Flag:
		f.Category = cat
	case *cli.DurationFlag:
		f.Category = cat
	case *cli.StringSliceFlag:
		f.Category = cat
	}
}

// commandExamples are the EXAMPLES section of each command's help.
var commandExamples = map[string][]string{
	"backup": {
		"mybak backup --engine auto --storage /var/backups/mysql --encrypt-key-file /etc/mybak.key",
		"mybak backup --engine auto --incremental --storage swift://backups/db1 --encrypt-key-file /etc/mybak.key",
		"mysqldump --all-databases | mybak backup --storage /var/backups/dumps --encrypt-key-file /etc/mybak.key --name nightly",
		"ssh primary mybak backup --engine auto --to-stdout | mybak make-replica --from-stdin --datadir /var/lib/mysql ...",
	},
	"restore": {
		"# 1. the original stream, to standard output:",
		"mybak restore --storage /var/backups/mysql latest --to-stdout > backup.xbstream",
		"# 2. a physical backup (and its chain) prepared into a directory, then copied into a stopped server's datadir:",
		"mybak restore --storage /var/backups/mysql latest --target-dir /srv/restore --copy-back --datadir /var/lib/mysql",
		"# 3. a dump applied to a running server:",
		"mybak restore --storage /var/backups/dumps latest --to-mysql --host db2 --user root --password-file /root/.pw",
	},
	"verify": {
		"mybak verify --storage /var/backups/mysql latest",
		"mybak verify --storage /var/backups/mysql --deep --list 20261203T010000Z-1a2b3c",
		"mybak verify --storage /var/backups/mysql --drill --scratch-dir /srv/drill --json latest > drill.json",
	},
	"list": {"mybak list --storage /var/backups/mysql", "mybak list --storage swift://backups/db1 --json"},
	"delete": {"mybak delete --storage /var/backups/mysql 20261203T010000Z-1a2b3c", "mybak delete --storage /var/backups/mysql latest",
		"mybak delete --storage /var/backups/mysql 20261201T010000Z-9f8e7d 20261202T010000Z-8e7d6c",
		"mybak delete --storage /var/backups/mysql --cascade 20261201T010000Z-9f8e7d"},
	"prune": {"mybak prune --storage /var/backups/mysql --keep-daily 7 --keep-weekly 4 --keep-monthly 6",
		"mybak prune --storage swift://backups --name db1-nightly --keep-last 14 --dry-run",
		"mybak prune --storage /var/backups/mysql --keep-within 30d --json"},
	"show":         {"mybak show --storage /var/backups/mysql latest", "mybak show --storage swift://backups/db1 --json 20261203T010000Z-1a2b3c | jq .meta.gtid"},
	"resume":       {"mybak resume --storage swift://backups/db1 --spool-dir /var/spool/mybak 20261203T010000Z-1a2b3c", "mybak resume --spool-dir /var/spool/mybak --discard 20261203T010000Z-1a2b3c"},
	"preflight":    {"sudo mybak preflight", "mybak preflight --host db1 --user backup --password-file /etc/mybak.pw --engine mariabackup --json"},
	"make-replica": {"mybak make-replica --backup latest --storage /var/backups/mysql --datadir /var/lib/mysql --start-cmd 'systemctl start mariadb' --primary-host db1 --replication-user repl --replication-password-file /etc/repl.pw"},
	"completion":   {"mybak completion bash > /etc/bash_completion.d/mybak", "mybak completion zsh > \"${fpath[1]}/_mybak\"", "mybak completion fish > ~/.config/fish/completions/mybak.fish"},
}

// decorateHelp groups every command's flags by category, adds its
// examples, turns on "did you mean" and the help command, and prints
// the version with its commit and Go version.
func decorateHelp(app *cli.App) {
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			setCategory(f, flagCategory(f.Names()[0]))
		}
		if ex := commandExamples[c.Name]; len(ex) > 0 {
			d := strings.TrimRight(c.Description, "\n")
			if d != "" {
				d += "\n\n"
			}
			c.Description = d + "EXAMPLES:\n   " + strings.Join(ex, "\n   ")
		}
	}
	app.Suggest = true
	app.HideHelpCommand = false
}

func init() {
	// One "(default: ...)" per flag: a usage that states its default (or
	// says the flag is required) keeps its own words, and urfave/cli's
	// "(default: 0)" after them goes.
	orig := cli.FlagStringer
	cli.FlagStringer = func(f cli.Flag) string { return oneDefault(orig(f)) }
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, versionLine()) }
}

var defaultText = regexp.MustCompile(` \(default: [^()]*(\([^()]*\)[^()]*)*\)`)

// oneDefault removes urfave/cli's appended default from a flag's help
// line when the usage already has one or says the flag is required.
func oneDefault(line string) string {
	ms := defaultText.FindAllStringIndex(line, -1)
	if len(ms) == 0 {
		return line
	}
	last := ms[len(ms)-1]
	if usage := strings.ToLower(line[:last[0]]); len(ms) > 1 || strings.Contains(usage, "(required)") || strings.Contains(usage, "default") {
		return line[:last[0]] + line[last[1]:]
	}
	return line
}

// versionLine is what --version prints: the version, the commit it was
// built from and the Go toolchain.
func versionLine() string {
	commit, modified, when := Commit, false, ""
	if bi, ok := debug.ReadBuildInfo(); ok && commit == "unknown" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = ", " + s.Value
			}
		}
	}
	if modified {
		commit += "-dirty"
	}
	return fmt.Sprintf("mybak version %s (commit %s%s, %s %s/%s)", Version, commit, when, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
