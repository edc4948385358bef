package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/mybak/mybak/internal/secretfile"
)

// envName is the environment variable that sets a flag that describes
// the environment (see envGlobal): MYBAK_ and the flag's name in upper case
// with dashes as underscores.
func envName(flag string) string {
	return "MYBAK_" + envWord(flag)
}

// cmdEnvName is the environment variable that sets a command's own flag:
// MYBAK_<COMMAND>_<FLAG> (MYBAK_PRUNE_KEEP, MYBAK_MAKE_REPLICA_ENGINE).
func cmdEnvName(cmd, flag string) string {
	return "MYBAK_" + envWord(cmd) + "_" + envWord(flag)
}

func envWord(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

// envGlobal lists the flags that say where things are and how to reach
// them (the store, the key, the server, Swift, logging): they mean the
// same in every command, so one exported MYBAK_<FLAG> serves all of them.
// Every other flag chooses what a command does, and the same name can mean
// different things (--keep: a number for prune, a switch for verify;
// --to-stdout, --engine, --force, --parallel): those are set only by
// MYBAK_<COMMAND>_<FLAG>, so that a variable exported for one command in
// a cron or CI environment never changes, or breaks, another.
var envGlobal = map[string]bool{
	"storage": true, "layout": true, "encrypt-key-file": true, "config": true,
	"host": true, "port": true, "socket": true, "user": true, "defaults-file": true, "defaults-extra-file": true, "password-file": true,
	"swift-auth-url": true, "swift-auth-version": true, "swift-user": true, "swift-key-file": true,
	"swift-project": true, "swift-region": true, "swift-ca-file": true, "insecure": true,
	"segment-size": true, "upload-parallel": true, "max-retries": true, "limit-rate": true,
	"log-format": true, "log-level": true, "progress": true, "metrics-file": true,
	"spool-dir": true, "lock-timeout": true,
}

// envVarsOf returns the environment variables of command cmd's flag.
func envVarsOf(cmd, flag string) []string {
	if envGlobal[flag] {
		return []string{envName(flag)}
	}
	return []string{cmdEnvName(cmd, flag)}
}

// withEnv gives every flag of every command its environment variable.
func withEnv(cmds []*cli.Command) {
	for _, c := range cmds {
		for _, f := range c.Flags {
			name := f.Names()[0]
			env := envVarsOf(c.Name, name)
			switch f := f.(type) {
			case *cli.StringFlag:
				f.EnvVars = env
			case *cli.BoolFlag:
				f.EnvVars = env
			case *cli.IntFlag:
				f.EnvVars = env
			case *cli.Int64Flag:
				f.EnvVars = env
			case *cli.DurationFlag:
				f.EnvVars = env
			case *cli.StringSliceFlag:
				f.EnvVars = env
			default:
				panic(fmt.Sprintf("flag %s: type %T has no env support", name, f))
			}
		}
	}
}

// applyConfig reads the YAML config file named by --config (if any) and
// sets the command's flags that neither the command line nor the
// environment set. Keys are flag names; a key named after a command holds a
// map of flags for that command only, which wins over top-level keys.
//
//	storage: /var/backups/mysql
//	encrypt-key-file: /etc/mybak/key
//	backup:
//	  compress: zstd
func applyConfig(c *cli.Context, commands []*cli.Command) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	// It names the key file, the store and the server: whoever may write
	// it decides where backups go and with which key.
	f, _, err := secretfile.Open("config file "+path, path, secretfile.Settings)
	if err != nil {
		return usagef("read config file: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil {
		return usagef("read config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return usagef("config file %s: %w", path, err)
	}
	known := map[string]bool{}
	cmdNames := map[string]bool{}
	for _, cmd := range commands {
		cmdNames[cmd.Name] = true
		for _, f := range cmd.Flags {
			known[f.Names()[0]] = true
		}
	}
	values := map[string]any{}
	var unknown []string
	for k, v := range raw {
		switch {
		case cmdNames[k]:
			sub, ok := v.(map[string]any)
			if !ok {
				return usagef("config file %s: %q must hold a map of flags", path, k)
			}
			for sk := range sub {
				if !known[sk] {
					unknown = append(unknown, k+"."+sk)
				}
			}
		case known[k]:
			values[k] = v
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return usagef("config file %s: unknown option(s) %s", path, strings.Join(unknown, ", "))
	}
	if sub, ok := raw[c.Command.Name].(map[string]any); ok {
		for k, v := range sub {
			values[k] = v
		}
	}
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		v, ok := values[name]
		if !ok || c.IsSet(name) {
			continue
		}
		var items []any
		if list, isList := v.([]any); isList {
			items = list
		} else {
			items = []any{v}
		}
		for _, it := range items {
			if err := c.Set(name, fmt.Sprint(it)); err != nil {
				return usagef("config file %s: %s: %w", path, name, err)
			}
		}
	}
	return nil
}
