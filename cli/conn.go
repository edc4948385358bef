package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/mysql"
)

// connFromFlags builds the connection from connFlags and resolves it as
// the mysql client would (mysql.ResolveConn): the option files
// (--defaults-file, or the global ones, --defaults-extra-file and
// ~/.my.cnf), then the defaults (localhost: the Unix socket; the OS
// user). The result says where each setting came from, for messages.
func connFromFlags(c *cli.Context) (mysql.Conn, error) {
	conn, err := connFlagValues(c)
	if err != nil {
		return conn, err
	}
	extra := c.String("defaults-extra-file")
	if extra != "" && conn.DefaultsFile != "" {
		return conn, usagef("--defaults-file is the only option file read; --defaults-extra-file adds one to the default files: give one of them")
	}
	if extra != "" {
		if err := mysql.CheckOptionFile("option file "+extra, extra); err != nil {
			return conn, usagef("--defaults-extra-file: %w", err)
		}
	}
	r, err := mysql.ResolveConn(conn, mysql.ResolveOptions{DefaultsExtraFile: extra})
	if err != nil {
		return conn, usagef("MySQL connection: %w", err)
	}
	return r, nil
}
