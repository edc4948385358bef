package cli

import (
	"flag"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/engine"
)

// TestEnginesRegistered: the binary registers every engine it offers. The
// stdin engine is also the fallback for unknown names, so a missing
// registration would not fail loudly: a mariabackup backup would be
// restored as a stream of unknown bytes.
func TestEnginesRegistered(t *testing.T) {
	for _, name := range append([]string{"stdin"}, mysqlEngines()[1:]...) {
		if _, err := engine.ByName(name); err != nil {
			t.Errorf("engine %q is not registered in the cli (is engine/all imported?): %v", name, err)
		}
	}
}

// TestEnginesOffered: the --engine values backup and preflight list (in
// their help and usage errors) and the engines a wire stream may carry
// come from what the engines declare (engine.Offer), in the order and
// with the members they had as lists in the cli and in backup/wire.go.
func TestEnginesOffered(t *testing.T) {
	const want = "auto, mariabackup, xtrabackup, innobackupex, mysqldump, mariadb-dump, logical"
	if got := strings.Join(mysqlEngines(), ", "); got != want {
		t.Errorf("--engine values: %s\nwant %s", got, want)
	}
	for _, name := range []string{"auto", "mariabackup", "logical"} {
		if !isMySQLEngine(name) {
			t.Errorf("isMySQLEngine(%q) = false", name)
		}
	}
	if isMySQLEngine("stdin") || isMySQLEngine("mydumper") {
		t.Error("isMySQLEngine: true for stdin or an unknown name")
	}
	// A stream header naming an engine this mybak cannot restore from a
	// stream is refused as the header is read.
	opts := wireReadOptions(cli.NewContext(cli.NewApp(), flag.NewFlagSet("make-replica", flag.ContinueOnError), nil), &env{}, nil)
	for name, ok := range map[string]bool{"stdin": true, "mariabackup": true, "xtrabackup": true, "innobackupex": true,
		"mysqldump": true, "mariadb-dump": true, "logical": false, "auto": false, "mydumper": false} {
		if opts.Engines == nil || opts.Engines(name) != ok {
			t.Errorf("a stream of engine %q: accepted should be %v", name, ok)
		}
	}
}
