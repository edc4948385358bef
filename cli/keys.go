package cli

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/crypto"
)

// keyEnv holds the passphrase itself (never a flag: argv is visible to
// every user of the host).
const keyEnv = "MYBAK_ENCRYPT_KEY"

func keyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "encrypt-key-file", Usage: "file whose first line is the passphrase (as openssl enc -pass file:FILE reads it); or set " + keyEnv},
	}
}

// loadKey returns the configured passphrase, or nil when none is set. The
// environment variable is removed once read so that child processes do not
// inherit it.
func loadKey(c *cli.Context, e *env) ([]byte, error) {
	envKey, hasEnv := os.LookupEnv(keyEnv)
	os.Unsetenv(keyEnv)
	path := c.String("encrypt-key-file")
	switch {
	case path != "" && hasEnv:
		return nil, usagef("both --encrypt-key-file and %s are set: keep one", keyEnv)
	case path != "":
		pass, warning, err := crypto.ReadPassFile(path)
		if err != nil {
			return nil, usagef("--encrypt-key-file: %w", err)
		}
		if warning != "" {
			e.log.Warn("--encrypt-key-file: "+warning, "file", path)
		}
		if len(pass) == 0 {
			return nil, usagef("--encrypt-key-file %s: the first line is empty", path)
		}
		return pass, nil
	case hasEnv:
		if envKey == "" {
			return nil, usagef("%s is set but empty", keyEnv)
		}
		return []byte(envKey), nil
	}
	return nil, nil
}
