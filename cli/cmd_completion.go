package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// fishCompletion writes fish's completions of every command and its flags
// (urfave/cli's ToFishCompletion recurses for ever over the help command).
func fishCompletion(app *cli.App) string {
	var b strings.Builder
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
	b.WriteString("# mybak completion fish > ~/.config/fish/completions/mybak.fish\ncomplete -c mybak -f\n")
	for _, c := range app.Commands {
		for _, n := range c.Names() {
			fmt.Fprintf(&b, "complete -c mybak -n __fish_use_subcommand -a %s -d %s\n", n, q(c.Usage))
		}
		for _, f := range c.Flags {
			df, ok := f.(cli.DocGenerationFlag)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "complete -c mybak -n '__fish_seen_subcommand_from %s'", strings.Join(c.Names(), " "))
			for _, n := range f.Names() {
				if len(n) == 1 {
					fmt.Fprintf(&b, " -s %s", n)
				} else {
					fmt.Fprintf(&b, " -l %s", n)
				}
			}
			if df.TakesValue() {
				b.WriteString(" -r")
			}
			usage := df.GetUsage()
			if len(usage) > 80 {
				usage = usage[:77] + "..."
			}
			fmt.Fprintf(&b, " -d %s\n", q(usage))
		}
	}
	return b.String()
}

// completionCommand prints a shell completion script. The bash and zsh
// scripts are urfave/cli's own (autocomplete/, MIT licence), which ask
// mybak itself for the words (--generate-bash-completion); fish's is
// generated from the commands and flags.
func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("completion needs one shell: bash, zsh or fish")
			}
			switch sh := c.Args().First(); sh {
			case "bash":
				fmt.Fprint(e.stdout, "PROG=mybak\n"+bashCompletion)
			case "zsh":
				fmt.Fprint(e.stdout, strings.ReplaceAll(zshCompletion, "$PROG", "mybak"))
			case "fish":
				fmt.Fprint(e.stdout, fishCompletion(c.App))
			default:
				shells := []string{"bash", "zsh", "fish"}
				sort.Strings(shells)
				return usagef("completion %q: choose one of %s", sh, strings.Join(shells, ", "))
			}
			return nil
		},
	}
}

const bashCompletion = `_cli_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_cli_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts base words
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if declare -F _init_completion >/dev/null 2>&1; then
      _init_completion -n "=:" || return
    else
      _cli_init_completion -n "=:" || return
    fi
    words=("${words[@]:0:$cword}")
    if [[ "$cur" == "-"* ]]; then
      requestComp="${words[*]} ${cur} --generate-bash-completion"
    else
      requestComp="${words[*]} --generate-bash-completion"
    fi
    opts=$(eval "${requestComp}" 2>/dev/null)
    COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
    return 0
  fi
}

complete -o bashdefault -o default -o nospace -F _cli_bash_autocomplete $PROG
unset PROG
`

const zshCompletion = `#compdef $PROG

_cli_zsh_autocomplete() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _cli_zsh_autocomplete $PROG
`
