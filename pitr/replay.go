package pitr

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	Store storage.Backend
	Pass  []byte
	Plan  *Plan
	// Target is the server the transactions are applied to (a restored
	// backup, running).
	Target mysql.Conn
	// Decoder is the program that turns binary log events into SQL
	// ("": mariadb-binlog, or mysqlbinlog for a MySQL archive); Client the
	// SQL client ("": mariadb, or mysql).
	Decoder, Client string
	// NoBinlog applies the transactions with sql_log_bin=0: the target's
	// binary log does not get them (its replicas neither). They keep
	// their GTIDs either way.
	NoBinlog bool
	Log      *slog.Logger
}

// Replay applies the plan's ranges to the target: it writes them as one
// binary log stream (each file's Format_description before its first
// range) into `mariadb-binlog -` and pipes its SQL into `mariadb
// --binary-mode`, both children of mysql.Run. The stream is built by
// mybak, transaction by transaction, so the tool never sees a transaction
// outside the plan (no --start/--stop options whose meaning differs
// between versions, no GTID filter that gtid_strict_mode would refuse).
// The replayed transactions keep their GTIDs. Before anything is
// applied the target's binary log is read: one that gtid_strict_mode
// makes refuse the replay is an error wrapping ErrTargetBinlog
// (Plan.CheckTarget), and nothing is applied.
func Replay(ctx context.Context, opts ReplayOptions) error {
	p := opts.Plan
	if p == nil || len(p.Segments) == 0 {
		return nil
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sb, err := ReadServerBinlog(ctx, opts.Target)
	if err != nil {
		return fmt.Errorf("replay: nothing was applied: %w", err)
	}
	if err := p.CheckTarget(sb, TargetOptions{NoBinlog: opts.NoBinlog}); err != nil {
		return fmt.Errorf("replay: nothing was applied: %w", err)
	}
	decoder, client := opts.Decoder, opts.Client
	mysqlArchive := len(p.Segments[0].File.Pieces) > 0 && p.Segments[0].File.Pieces[0].ServerUUID != ""
	if decoder == "" {
		decoder = "mariadb-binlog"
		if mysqlArchive {
			decoder = "mysqlbinlog"
		}
	}
	if client == "" {
		client = "mariadb"
		if mysqlArchive {
			client = "mysql"
		}
	}
	log.Info("replay: applying binary logs", "transactions", p.Txns, "first", p.First.GTID, "last", p.Last.GTID,
		"from_file", p.First.File, "to_file", p.Last.File)
	binR, binW := io.Pipe()
	sqlR, sqlW := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := WriteStream(gctx, opts.Store, opts.Pass, p, binW)
		binW.CloseWithError(err)
		return err
	})
	g.Go(func() error {
		_, err := mysql.Run(gctx, &mysql.Command{Path: decoder, Args: []string{"-"}, Stdin: binR, Stdout: sqlW})
		binR.CloseWithError(errors.New("decoder ended"))
		if err != nil {
			err = fmt.Errorf("%s: %w", decoder, err)
		}
		sqlW.CloseWithError(err)
		return err
	})
	g.Go(func() error {
		conn := opts.Target
		var in io.Reader = sqlR
		if opts.NoBinlog {
			in = io.MultiReader(strings.NewReader("SET SESSION sql_log_bin=0;\n"), sqlR)
		}
		_, err := mysql.Run(gctx, &mysql.Command{Path: client, Args: []string{"--binary-mode", "--batch"}, Conn: &conn, Stdin: in})
		sqlR.CloseWithError(errors.New("client ended"))
		if err != nil {
			return fmt.Errorf("apply the binary logs with %s: %w", client, err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// WriteStream writes the plan's ranges to w as one binary log: the magic
// number, then for each range its file's Format_description (when the
// file changes) and its bytes. Ranges are read from the archive as they
// are written; one reader is open per file at a time.
func WriteStream(ctx context.Context, st storage.Backend, pass []byte, p *Plan, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.Write(binlog.Magic); err != nil {
		return err
	}
	cursors := map[*File]*cursor{}
	defer func() {
		for _, c := range cursors {
			c.close()
		}
	}()
	var fdeOf *File
	for _, seg := range p.Segments {
		c := cursors[seg.File]
		if c == nil {
			var err error
			if c, err = openCursor(ctx, st, seg.File, pass); err != nil {
				return err
			}
			cursors[seg.File] = c
		}
		if fdeOf != seg.File {
			if _, err := bw.Write(c.fde); err != nil {
				return err
			}
			fdeOf = seg.File
		}
		if err := c.copyRange(bw, seg.Start, seg.End); err != nil {
			return fmt.Errorf("%s %d-%d: %w", seg.File.Key, seg.Start, seg.End, err)
		}
	}
	return bw.Flush()
}

// cursor reads one archived file forwards.
type cursor struct {
	r      *bufio.Reader
	pr     *io.PipeReader
	pos    int64
	fde    []byte
	cancel context.CancelFunc
}

func openCursor(ctx context.Context, st storage.Backend, f *File, pass []byte) (*cursor, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		_, err := ReadFile(ctx, st, f, pw, -1, ReadOptions{Pass: pass})
		pw.CloseWithError(err)
	}()
	c := &cursor{r: bufio.NewReaderSize(pr, 256<<10), pr: pr, cancel: cancel}
	head := make([]byte, 4+binlog.HeaderSize)
	if _, err := io.ReadFull(c.r, head); err != nil {
		c.close()
		return nil, fmt.Errorf("read %s: %w", f.Key, err)
	}
	size := int64(binary.LittleEndian.Uint32(head[4+9:]))
	if binlog.EventType(head[4+4]) != binlog.FormatDescriptionEvent || size < binlog.HeaderSize || size > 1<<20 {
		c.close()
		return nil, fmt.Errorf("read %s: %w: no Format_description event at 4", f.Key, binlog.ErrCorrupt)
	}
	c.fde = make([]byte, size)
	copy(c.fde, head[4:])
	if _, err := io.ReadFull(c.r, c.fde[binlog.HeaderSize:]); err != nil {
		c.close()
		return nil, fmt.Errorf("read %s: %w", f.Key, err)
	}
	c.pos = 4 + size
	return c, nil
}

func (c *cursor) copyRange(w io.Writer, start, end int64) error {
	if start < c.pos {
		return fmt.Errorf("range starts at %d, before the reader (%d)", start, c.pos)
	}
	if _, err := io.CopyN(io.Discard, c.r, start-c.pos); err != nil {
		return err
	}
	c.pos = start
	n, err := io.CopyN(w, c.r, end-start)
	c.pos += n
	return err
}

func (c *cursor) close() {
	c.cancel()
	c.pr.Close()
}
