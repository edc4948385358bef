package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"time"
)

// ErrClientUnsafe: the SQL client cannot be told to run nothing but SQL,
// so a dump (input from a backup, i.e. from outside) is not given to it.
var ErrClientUnsafe = errors.New("the SQL client has no sandbox switch")

// The mysql/mariadb client interprets more than SQL: its own commands run
// a shell (\! system, \e edit), write host files (\T tee, pager), read
// host files (\. source) and connect elsewhere with the same credentials
// (\r connect); LOAD DATA LOCAL INFILE sends a host file to the server. A dump
// can hold any of them (a crafted object name in an old dump is one way),
// and mybak often runs the client as root. Tested against MariaDB 10.11
// (mysql/clientsafe_test.go):
//   - --sandbox (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 and later) stops
//     at system, tee, pager with an argument and source, but lets connect,
//     edit (\e runs $EDITOR, even in batch mode) and LOAD DATA LOCAL
//     through;
//   - --commands=OFF (MySQL 9.4, where it is the default, and the 8.0 and
//     8.4 releases that backported it) turns the client's commands off in
//     non-interactive use;
//   - --binary-mode (every client since MySQL 5.6 / MariaDB 10.0) leaves
//     only charset and delimiter as commands in non-interactive use, so it
//     also stops connect and edit; it keeps '\r\n' and NUL bytes inside statements
//     as they are (dumps escape both, so a dump reads the same);
//   - --local-infile=0 refuses LOAD DATA LOCAL.
//
// The switches are given on the command line, after the defaults files, so
// no option file can turn them back off.

var (
	// An option line of --help: "  --sandbox   Disallow ...", possibly
	// "--commands[=name]" or with a short form before it.
	reHelpSandbox  = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--sandbox(?:\s|\[|=)`)
	reHelpCommands = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--commands(?:\s|\[|=)`)
	reHelpBinary   = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--binary-mode(?:\s|\[|=)`)
)

type clientProbe struct {
	mod  time.Time
	size int64
	args []string
	err  error
}

var clientProbes sync.Map // path -> clientProbe

// SafeClientArgs returns the arguments that make the mysql/mariadb client
// at bin run only SQL from its input: the client's sandbox switch
// (MariaDB's --sandbox or MySQL's --commands=OFF, whichever its --help
// lists), --binary-mode and --local-infile=0. A client with neither
// sandbox switch gets an error matching ErrClientUnsafe that says which
// versions have one. The answer is cached per program file.
func SafeClientArgs(ctx context.Context, bin string) ([]string, error) {
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("SQL client %s: %w", bin, err)
	}
	if v, ok := clientProbes.Load(bin); ok {
		if p := v.(clientProbe); p.mod.Equal(fi.ModTime()) && p.size == fi.Size() {
			return p.args, p.err
		}
	}
	args, err := probeClient(ctx, bin)
	if ctx.Err() == nil {
		clientProbes.Store(bin, clientProbe{mod: fi.ModTime(), size: fi.Size(), args: args, err: err})
	}
	return args, err
}

func probeClient(ctx context.Context, bin string) ([]string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--no-defaults", "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = childEnv(nil)
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("ask the SQL client %s for its options (--help): %w", bin, err)
	}
	help := out.Bytes()
	var args []string
	switch {
	case reHelpSandbox.Match(help):
		args = append(args, "--sandbox")
	case reHelpCommands.Match(help):
		args = append(args, "--commands=OFF")
	default:
		return nil, fmt.Errorf("%w: %s lists neither --sandbox nor --commands, so a dump could run shell commands through it: "+
			"upgrade the client (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 or later; MySQL 9.4, or an 8.0 or 8.4 "+
			"release whose `mysql --help` lists --commands) and run mybak again", ErrClientUnsafe, bin)
	}
	if !reHelpBinary.Match(help) {
		return nil, fmt.Errorf("%w: %s does not list --binary-mode: upgrade the client", ErrClientUnsafe, bin)
	}
	return append(args, "--binary-mode", "--local-infile=0"), nil
}
