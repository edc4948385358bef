// Command mybak backs up MySQL / MariaDB / Percona servers, restores them,
// verifies backups and builds replicas. See README.md.
package main

import (
	"os"

	"github.com/mybak/mybak/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
