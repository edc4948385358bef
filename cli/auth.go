package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/engine"
	"github.com/mybak/mybak/restore"
)

// authFlags are the flags of the commands that read backups (restore,
// verify, make-replica): see backup/auth.go for the policy.
func authFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "allow-unauthenticated", Usage: "with a key configured, accept (with a warning) a backup or stream that carries no MAC: made with --no-encrypt, or whose authentication was removed"},
	}
}

// readOptions returns the restore options every command that reads
// backups starts from: the key and the authentication policy.
func readOptions(c *cli.Context, e *env, pass []byte) restore.Options {
	return restore.Options{Pass: pass, Parallel: c.Int("parallel"), Auth: authPolicy(c, e, pass)}
}

func authPolicy(c *cli.Context, e *env, pass []byte) backup.AuthPolicy {
	return backup.AuthPolicy{Pass: pass, AllowUnauthenticated: c.Bool("allow-unauthenticated"), Warn: e.log.Warn}
}

// wireReadOptions is authPolicy for a stream on standard input.
func wireReadOptions(c *cli.Context, e *env, pass []byte) backup.WireReadOptions {
	return backup.WireReadOptions{Pass: pass, AllowUnauthenticated: c.Bool("allow-unauthenticated"), Warn: e.log.Warn, Engines: engine.Wire}
}
