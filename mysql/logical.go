package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DumpOptions configures BackupLogical.
type DumpOptions struct {
	Tool Tool // mysqldump or mariadb-dump; Path empty means LookupTool
	Conn Conn
	// Server decides the flavour-specific options (--gtid on MariaDB,
	// --source-data on MySQL 8.0.26+, --set-gtid-purged). Nil: MariaDB
	// options for mariadb-dump, MySQL 5.7 ones for mysqldump.
	Server *ServerInfo
	// Databases limits the dump (--databases ...); empty means --all-databases.
	Databases []string
	ExtraArgs []string
	LogPath   string
	OnLine    func(line string)
}

// DumpResult is what the manifest needs about a logical backup.
type DumpResult struct {
	Engine      Engine
	ToolPath    string
	ToolVersion string
	Binlog      BinlogPosition // from the dump's CHANGE MASTER / GTID comments
	Bytes       int64          // bytes of SQL written
	Started     time.Time
	Finished    time.Time
}

// DumpArgs builds the mysqldump / mariadb-dump command line (without the
// defaults file).
func DumpArgs(o *DumpOptions) ([]string, error) {
	a := []string{"--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--quick"}
	mariadb := toolNames[o.Tool.Engine].mariaDBDump
	if o.Server != nil {
		mariadb = o.Server.Flavor == FlavorMariaDB
	}
	switch {
	case mariadb:
		a = append(a, "--master-data=2", "--gtid")
	case o.Server != nil && o.Server.AtLeast(8, 0, 26):
		a = append(a, "--source-data=2")
	default:
		a = append(a, "--master-data=2")
	}
	if !mariadb {
		gtid := "AUTO"
		if o.Server != nil && strings.EqualFold(o.Server.GTIDMode, "ON") {
			gtid = "ON"
		}
		a = append(a, "--set-gtid-purged="+gtid)
	}
	if len(o.Databases) > 0 {
		for _, d := range o.Databases {
			if d == "" || strings.HasPrefix(d, "-") {
				return nil, fmt.Errorf("bad database name %q", d)
			}
		}
		a = append(a, "--databases")
		a = append(a, o.Databases...)
	} else {
		a = append(a, "--all-databases")
	}
	// ExtraArgs go before the database names would be ambiguous; options
	// after --databases are still parsed as options by mysqldump.
	return append(a, o.ExtraArgs...), nil
}

// dumpHeadSize is how much of a dump's beginning is kept to find the
// replication coordinates (they precede any table data).
const dumpHeadSize = 64 << 10

// dumpTailSize is how much of a dump's end is kept: the trailer, and
// mariadb-dump 10.11's deferred "-- SET GLOBAL gtid_slave_pos" comment.
const dumpTailSize = 4 << 10

// dumpWatcher passes the dump through, keeping its head and its last bytes.
type dumpWatcher struct {
	w    io.Writer
	head []byte
	tail []byte
	n    int64
}

func (d *dumpWatcher) Write(p []byte) (int, error) {
	if room := dumpHeadSize - len(d.head); room > 0 {
		d.head = append(d.head, p[:min(room, len(p))]...)
	}
	const keep = dumpTailSize
	if len(p) >= keep {
		d.tail = append(d.tail[:0], p[len(p)-keep:]...)
	} else {
		d.tail = append(d.tail, p...)
		if len(d.tail) > keep {
			d.tail = d.tail[len(d.tail)-keep:]
		}
	}
	n, err := d.w.Write(p)
	d.n += int64(n)
	return n, err
}

// BackupLogical runs mysqldump / mariadb-dump and streams the SQL to w (not
// closed). The binlog file, position and GTID are read from the dump's head
// as it passes; the dump must end with its "-- Dump completed" trailer,
// otherwise (a dump cut short) the result is an error matching ErrIncomplete.
func BackupLogical(ctx context.Context, o DumpOptions, w io.Writer) (*DumpResult, error) {
	if o.Tool.Path == "" {
		t, err := LookupTool(o.Tool.Engine)
		if err != nil {
			return nil, err
		}
		o.Tool = t
	}
	args, err := DumpArgs(&o)
	if err != nil {
		return nil, err
	}
	name := string(o.Tool.Engine)
	dw := &dumpWatcher{w: w}
	res := &DumpResult{Engine: o.Tool.Engine, ToolPath: o.Tool.Path, Started: time.Now()}
	r, err := Run(ctx, &Command{Path: o.Tool.Path, Args: args, Conn: &o.Conn, Groups: toolGroups(o.Tool.Engine),
		Stdout: dw, LogPath: o.LogPath, OnLine: o.OnLine})
	res.Finished = time.Now()
	res.Bytes = dw.n
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			err := classify(ee, append(r.Notable, r.Tail...))
			var tc *TableChangedError
			if errors.As(err, &tc) && !strings.Contains(tc.Table, ".") && len(o.Databases) == 1 {
				tc.Table = o.Databases[0] + "." + tc.Table // the 1412 line names the table only
			}
			return nil, err
		}
		return nil, err
	}
	if !DumpComplete(dw.tail) {
		return nil, &ExitError{Tool: name, Tail: r.Tail, LogPath: o.LogPath,
			Reason: `the dump does not end with "-- Dump completed": it is truncated`}
	}
	res.Binlog, _ = ParseDumpCoordinates(dw.head, dw.tail)
	h := dw.head[:min(len(dw.head), 1024)]
	res.ToolVersion, _ = ParseToolVersion(string(h))
	return res, nil
}

// DumpComplete reports whether the last bytes of a dump hold its trailer
// line "-- Dump completed" (followed by an optional date).
func DumpComplete(tail []byte) bool {
	t := bytes.TrimRight(tail, "\r\n ")
	i := bytes.LastIndexByte(t, '\n')
	return bytes.HasPrefix(t[i+1:], []byte("-- Dump completed"))
}

var (
	reChangeMaster = regexp.MustCompile(`(?m)^(?:-- )?CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([^']+)', (?:MASTER|SOURCE)_LOG_POS=(\d+)`)
	reGTIDSlave    = regexp.MustCompile(`(?m)^(?:-- )?SET GLOBAL gtid_slave_pos\s*=\s*'([^']*)'`)
	reGTIDPurged   = regexp.MustCompile(`(?s)SET @@GLOBAL\.GTID_PURGED\s*=\s*(?:/\*!80000 '\+'\*/ )?'([^']*)'`)
)

// ParseDumpCoordinates finds the replication coordinates of a dump in its
// head and tail: "-- CHANGE MASTER TO MASTER_LOG_FILE='f', MASTER_LOG_POS=p;"
// (CHANGE REPLICATION SOURCE TO ... SOURCE_LOG_FILE on MySQL 8.0.26+), and
// the GTID from "-- SET GLOBAL gtid_slave_pos='...'" (mariadb-dump --gtid;
// 10.11 defers it to the end of the dump) or "SET @@GLOBAL.GTID_PURGED=
// '...'" (mysqldump, possibly over several lines).
func ParseDumpCoordinates(head, tail []byte) (BinlogPosition, error) {
	var p BinlogPosition
	s := string(head)
	m := reChangeMaster.FindStringSubmatch(s)
	if m == nil {
		return p, errors.New("no CHANGE MASTER line in the dump's head (binary log off?)")
	}
	p.File = m[1]
	p.Pos, _ = strconv.ParseUint(m[2], 10, 64)
	for _, part := range []string{s, string(tail)} {
		if g := reGTIDSlave.FindStringSubmatch(part); g != nil {
			p.GTID = g[1]
			break
		}
		if g := reGTIDPurged.FindStringSubmatch(part); g != nil {
			p.GTID = normaliseGTID(g[1])
			break
		}
	}
	return p, nil
}
