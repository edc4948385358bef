package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// envName is the environment variable that sets a flag: MYBAK_ and the
// flag's name in upper case with dashes as underscores.
func envName(flag string) string {
	return "MYBAK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnv gives every flag of every command its MYBAK_<FLAG> variable.
func withEnv(cmds []*cli.Command) {
	for _, c := range cmds {
		for _, f := range c.Flags {
			name := f.Names()[0]
			env := []string{envName(name)}
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
	b, err := os.ReadFile(path)
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
