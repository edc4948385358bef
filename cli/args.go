package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves a command's flags in front of its positional
// arguments, so that `mybak restore ID --to-stdout` works as well as
// `mybak restore --to-stdout ID` (urfave/cli v2, like Go's flag package,
// stops parsing flags at the first argument). Everything after "--" stays
// positional and in place.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Options before the command (mybak --storage S list) are the
	// command's: they move after its name. Which of them take a value is
	// known from every command's flags.
	anyTakesValue := map[string]bool{}
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			_, isBool := f.(*cli.BoolFlag)
			for _, n := range f.Names() {
				anyTakesValue[n] = anyTakesValue[n] || !isBool
			}
		}
	}
	appFlag := map[string]bool{"help": true, "h": true, "version": true, "v": true, "generate-bash-completion": true}
	var cmd *cli.Command
	var early []string
	ci := -1
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return args
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if appFlag[name] {
				continue
			}
			early = append(early, a)
			if !hasValue && anyTakesValue[name] && i+1 < len(args) {
				early = append(early, args[i+1])
				i++
			}
			continue
		}
		cmd, ci = app.Command(a), i
		break
	}
	if cmd == nil {
		return args
	}
	if len(cmd.Subcommands) > 0 && len(early) == 0 && ci+1 < len(args) && cmd.Command(args[ci+1]) != nil {
		// mybak binlog archive ...: the subcommand's flags go after its name.
		sub := interspersed(&cli.App{Commands: cmd.Subcommands}, append([]string{args[0]}, args[ci+1:]...))
		return append(append([]string(nil), args[:ci+1]...), sub[1:]...)
	}
	if len(early) > 0 {
		// The app's own flags stay first; the command's follow its name.
		var head []string
		for _, a := range args[1:ci] {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if strings.HasPrefix(a, "-") && appFlag[name] {
				head = append(head, a)
			}
		}
		re := append(append(append([]string{args[0]}, head...), args[ci]), early...)
		args = append(re, args[ci+1:]...)
		ci = len(head) + 1
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[ci+1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos = append(pos, rest[i:]...)
			i = len(rest)
		case len(a) > 1 && strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				flags = append(flags, rest[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	out := append([]string{}, args[:ci+1]...)
	out = append(out, flags...)
	return append(out, pos...)
}

// oneRef returns the command's single ID|latest argument.
func oneRef(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s needs one backup ID (or latest)", c.Command.Name)
	}
	ref := c.Args().First()
	if err := validateRef(c, ref); err != nil {
		return "", err
	}
	return ref, nil
}
