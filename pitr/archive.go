package pitr

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mybak/mybak/binlog"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/storage"
	"github.com/mybak/mybak/stream"
)

// ArchiveOptions configure Archive.
type ArchiveOptions struct {
	Store storage.Backend
	// Conn is the server to follow. Its user needs REPLICATION SLAVE (to
	// read the binary log) and BINLOG MONITOR / REPLICATION CLIENT (SHOW
	// BINARY LOGS).
	Conn   mysql.Conn
	Encode stream.EncodeOptions
	// FlushInterval is the longest time an archived event waits in the
	// spool before it is stored (0: 30 s).
	FlushInterval time.Duration
	// Once catches up to the server's current position and returns.
	Once bool
	// SpoolDir is where the child writes the binary log before it is
	// stored (a private 0700 directory is made in it; "": os.TempDir()).
	SpoolDir string
	// Tool is the program (""): mariadb-binlog, else mysqlbinlog).
	Tool string
	// ReplicaServerID is the server_id the child presents to the server
	// (0: the tool's default). Two archivers of one server need two.
	ReplicaServerID uint32
	// MaxPiece cuts pieces at about this many bytes (0: 64 MiB).
	MaxPiece int64
	// RetryMax is the longest wait between reconnections (0: 30 s).
	RetryMax time.Duration
	// StallCheck is how often the server's position is compared with what
	// was received (0: the larger of 3 flush intervals and 30 s). When the
	// server is ahead and nothing arrived since the previous check, the
	// connection is taken for dead (a network that drops packets silently:
	// the child would wait for ever) and made again.
	StallCheck time.Duration
	Log        *slog.Logger
	// OnPiece, when set, is called after each piece is stored.
	OnPiece func(*Piece)
	// Now returns the current time (tests set it).
	Now func() time.Time
}

// Archive follows the server's binary log and stores it under Prefix
// until ctx ends (or, with Once, until it has caught up).
//
// It runs the server's own client tool, mariadb-binlog (or mysqlbinlog)
// --read-from-remote-server --raw, as a child through mysql.Run, rather
// than a replication client of its own: the tool speaks every
// authentication plugin and TLS setting the server may require, reads the
// connection from the same option files as every other child (the password
// through an in-memory defaults file, never argv), and is the server
// vendor's reference reader of its own protocol. mybak decodes what the
// tool writes (package binlog), checks every event's CRC, and stores it.
//
// It resumes where the archive of this server ends (by file and
// position), after a network drop or a server restart too; a server it
// has not archived before (a new primary after a switchover) is archived
// from its newest binary log that starts where the archive already is
// (else its oldest), so that its transactions continue the GTID sequence
// of the previous primary's (replay takes what both hold once). A file
// purged from the server before it was archived is logged as a gap.
func Archive(ctx context.Context, opts ArchiveOptions) error {
	a, err := newArchiver(opts)
	if err != nil {
		return err
	}
	defer os.RemoveAll(a.spool)
	wait := time.Second
	for {
		err := a.session(ctx)
		if opts.Once || ctx.Err() != nil {
			if ctx.Err() != nil && !opts.Once {
				return nil
			}
			return err
		}
		if err == nil {
			wait = time.Second
			continue
		}
		a.log.Warn("binlog archive: lost the server; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if wait *= 2; wait > a.opts.RetryMax {
			wait = a.opts.RetryMax
		}
	}
}

type archiver struct {
	opts  ArchiveOptions
	log   *slog.Logger
	spool string
	runs  int
	// files are the spool files of the current session, by path.
	files map[string]*spoolFile
	srv   *serverInfo
	// recvFile and recvEnd are where the events received so far end.
	recvFile string
	recvEnd  int64
	// seal authenticates the records (nil without a key).
	seal *sealer
	// resumeCreated is the creation time of the file resumed mid-way.
	resumeCreated time.Time
}

func newArchiver(opts ArchiveOptions) (*archiver, error) {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 30 * time.Second
	}
	if opts.MaxPiece <= 0 {
		opts.MaxPiece = 64 << 20
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Second
	}
	if opts.StallCheck <= 0 {
		opts.StallCheck = max(3*opts.FlushInterval, 30*time.Second)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := opts.Encode.Compression.Validate(); err != nil {
		return nil, err
	}
	removeStaleSpools(opts.SpoolDir, opts.Log)
	dir, err := os.MkdirTemp(opts.SpoolDir, spoolPrefix)
	if err != nil {
		return nil, fmt.Errorf("binlog archive: make a spool directory: %w (set --spool-dir to a writable directory)", err)
	}
	// Who owns it, for the next run to remove it if this one is killed.
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("binlog archive: %w", err)
	}
	seal, err := newSealer(opts.Encode.Pass)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &archiver{opts: opts, log: opts.Log, spool: dir, seal: seal}, nil
}

// serverInfo is what the archiver asks the server before it follows it.
type serverInfo struct {
	ID      uint32
	UUID    string
	Version string
	MariaDB bool
	// Logs are SHOW BINARY LOGS' files, oldest first.
	Logs []string
	Key  string
}

func probeServer(ctx context.Context, conn mysql.Conn) (*serverInfo, error) {
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s := &serverInfo{}
	var id uint64
	if err := db.QueryRowContext(ctx, "SELECT @@server_id, @@version").Scan(&id, &s.Version); err != nil {
		return nil, fmt.Errorf("read server_id and version: %w", err)
	}
	s.ID = uint32(id)
	s.MariaDB = strings.Contains(s.Version, "MariaDB")
	if !s.MariaDB {
		if err := db.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&s.UUID); err != nil {
			return nil, fmt.Errorf("read server_uuid: %w", err)
		}
	}
	var logBin string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin").Scan(&logBin); err != nil {
		return nil, fmt.Errorf("read log_bin: %w", err)
	}
	if logBin != "1" && !strings.EqualFold(logBin, "ON") {
		return nil, errors.New("the server's binary log is off (log_bin): there is nothing to archive; enable log_bin (and restart the server)")
	}
	if s.Logs, err = binaryLogs(ctx, db); err != nil {
		return nil, err
	}
	if len(s.Logs) == 0 {
		return nil, errors.New("SHOW BINARY LOGS lists no file")
	}
	s.Key = ServerKey(s.ID, s.UUID)
	return s, nil
}

func binaryLogs(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("SHOW BINARY LOGS: %w (the user needs BINLOG MONITOR on MariaDB, REPLICATION CLIENT on MySQL)", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// resumePoint is where the archive of srv ends: the file to read and the
// offset archived so far (0: the file from its start).
func (a *archiver) resumePoint(ctx context.Context, srv *serverInfo) (string, int64, error) {
	ix, err := LoadIndex(ctx, a.opts.Store, a.opts.Encode.Pass)
	if err != nil {
		return "", 0, err
	}
	for n, err := range ix.Damaged {
		if strings.HasPrefix(n, Prefix+srv.Key+"/") {
			a.log.Warn("binlog archive: unreadable piece record (verify --pitr reports it)", "record", n, "err", err)
		}
	}
	var last *File
	for _, f := range ix.Files() {
		if f.Server == srv.Key {
			last = f // files sort by creation time within a server
		}
	}
	has := func(name string) bool {
		for _, l := range srv.Logs {
			if l == name {
				return true
			}
		}
		return false
	}
	if last == nil {
		// A server new to the archive (a promoted replica): from its
		// newest file that starts where the archive already is (its
		// Gtid_list covered by the states the archived files start from),
		// else from its oldest. Replay takes each transaction once.
		start := srv.Logs[0]
		if held := startStates(ix); !held.Empty() {
			f, err := firstNeeded(ctx, a.opts.Conn, srv, held)
			if err != nil {
				a.log.Warn("binlog archive: could not read the new server's files' GTID states; archiving from its oldest", "err", err)
			} else if f != "" {
				start = f
			}
		}
		a.log.Info("binlog archive: new server", "server", srv.Key, "from_file", start, "oldest", srv.Logs[0])
		return start, 0, nil
	}
	file, pos := last.Name, int64(0)
	if end, gap := last.End(); gap >= 0 {
		return "", 0, fmt.Errorf("the archive of %s has a gap at %d (its pieces are not contiguous): run mybak verify --pitr", last.Key, gap)
	} else if last.Closed() {
		file = last.Last().Next
	} else {
		pos = end
	}
	if !has(file) {
		a.log.Error("binlog archive: GAP: the server no longer has the file where the archive ends (purged before it was archived); archiving from its oldest file",
			"server", srv.Key, "file", file, "position", pos, "oldest", srv.Logs[0])
		return srv.Logs[0], 0, nil
	}
	if pos > 0 {
		a.resumeCreated = last.Created
	}
	return file, pos, nil
}

// session connects once: it probes the server, starts the child at the
// archive's end and stores what it writes until the child exits.
func (a *archiver) session(ctx context.Context) error {
	srv, err := probeServer(ctx, a.opts.Conn)
	if err != nil {
		return fmt.Errorf("binlog archive: %w", err)
	}
	a.srv = srv
	a.resumeCreated = time.Time{}
	file, pos, err := a.resumePoint(ctx, srv)
	if err != nil {
		return fmt.Errorf("binlog archive: %w", err)
	}
	a.runs++
	dir := filepath.Join(a.spool, "run"+strconv.Itoa(a.runs))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("binlog archive: %w", err)
	}
	defer os.RemoveAll(dir)
	a.files = map[string]*spoolFile{}
	tool := a.opts.Tool
	if tool == "" {
		tool = "mariadb-binlog"
		if !srv.MariaDB {
			tool = "mysqlbinlog"
		}
	}
	start := pos
	if start < 4 {
		start = 4
	}
	args := []string{"--read-from-remote-server", "--raw", "--result-file=" + dir + "/", "--start-position=" + strconv.FormatInt(start, 10)}
	if a.opts.Once {
		args = append(args, "--to-last-log")
	} else {
		args = append(args, "--stop-never")
	}
	if a.opts.ReplicaServerID != 0 {
		args = append(args, "--stop-never-slave-server-id="+strconv.FormatUint(uint64(a.opts.ReplicaServerID), 10))
	}
	args = append(args, file)
	a.log.Info("binlog archive: following", "server", srv.Key, "version", srv.Version, "file", file, "position", start)
	a.files[file] = &spoolFile{name: file, path: filepath.Join(dir, file), end: pos, expectCreated: a.resumeCreated}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	childDone := make(chan error, 1)
	go func() {
		conn := a.opts.Conn
		_, err := mysql.Run(cctx, &mysql.Command{Path: tool, Args: args, Conn: &conn})
		childDone <- err
	}()
	tick := time.NewTicker(a.opts.FlushInterval)
	defer tick.Stop()
	watch := time.NewTicker(a.opts.StallCheck)
	defer watch.Stop()
	a.recvFile, a.recvEnd = file, pos
	lastFile, lastEnd, behind := a.recvFile, a.recvEnd, false
	for {
		select {
		case <-watch.C:
			if a.opts.Once {
				continue
			}
			ahead, err := a.serverAhead(ctx)
			stalled := err != nil || (ahead && behind && a.recvFile == lastFile && a.recvEnd == lastEnd)
			if stalled {
				if err == nil {
					err = fmt.Errorf("the server's binary log is ahead of %s:%d and nothing arrived for %v", a.recvFile, a.recvEnd, a.opts.StallCheck)
				}
				cancel()
				<-childDone
				perr := a.pass(context.WithoutCancel(ctx), dir)
				return errors.Join(fmt.Errorf("the connection looks dead: %w", err), perr)
			}
			lastFile, lastEnd, behind = a.recvFile, a.recvEnd, ahead
		case err := <-childDone:
			// What the child wrote before it ended is stored, then its
			// error (if any) is returned.
			perr := a.pass(context.WithoutCancel(ctx), dir)
			if err != nil && ctx.Err() == nil {
				return errors.Join(fmt.Errorf("binlog archive: read the server's binary log: %w (the user needs REPLICATION SLAVE and BINLOG MONITOR)", err), perr)
			}
			return perr
		case <-tick.C:
			if err := a.pass(ctx, dir); err != nil {
				cancel()
				<-childDone
				return err
			}
		}
	}
}

// spoolFile is the archiver's state of one file the child writes.
type spoolFile struct {
	name string
	path string
	// read is the spool offset where unread events start; held the spool
	// offset where events not yet stored start (at or before read).
	read, held int64
	format     *binlog.Format
	created    time.Time
	// end is the file offset up to which the archive holds the file;
	// heldAt the file offset of spool offset held.
	end    int64
	heldAt int64
	closed bool
	next   string
	// expectCreated is the archived file's creation time when it is
	// resumed mid-way: the server's must be the same file.
	expectCreated time.Time
	// p accumulates the record of the piece being held.
	p *Piece
}

// pass stores every complete event the child has written since the last
// pass, file by file in name order.
func (a *archiver) pass(ctx context.Context, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("binlog archive: read spool: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		sf := a.files[n]
		if sf == nil {
			sf = &spoolFile{name: n, path: filepath.Join(dir, n)}
			a.files[n] = sf
		}
		if sf.closed {
			continue
		}
		if err := a.follow(ctx, sf); err != nil {
			return fmt.Errorf("binlog archive: %s: %w", n, err)
		}
		if sf.closed {
			os.Remove(sf.path)
		}
	}
	return nil
}

// follow reads the new complete events of sf and stores them.
func (a *archiver) follow(ctx context.Context, sf *spoolFile) error {
	f, err := os.Open(sf.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(sf.read, io.SeekStart); err != nil {
		return err
	}
	r := binlog.NewReader(f, binlog.ReaderOptions{Offset: sf.read, NoMagic: sf.read > 0, Format: sf.format})
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, binlog.ErrTruncated) {
			break // the rest is still being written
		}
		if err != nil {
			return err
		}
		size := int64(ev.Header.EventSize)
		sf.read = ev.Offset + size
		if ev.Format != nil && sf.format == nil {
			sf.format = ev.Format
			sf.created = ev.Header.Time()
			if !sf.expectCreated.IsZero() && !sf.created.Equal(sf.expectCreated) {
				return fmt.Errorf("the server's %s was created at %s, the archived one at %s: not the same file (a server rebuilt with the same server_id and binary log name?); archive it to another store, or move the old archive of this server aside",
					sf.name, sf.created.UTC().Format(time.RFC3339), sf.expectCreated.UTC().Format(time.RFC3339))
			}
		}
		if ev.Header.LogPos == 0 || ev.Header.Flags&binlog.FlagArtificial != 0 {
			// Made up by the server for us (the Format_description sent
			// when reading starts mid-file): not part of the file.
			if sf.p == nil {
				sf.held = sf.read
			}
			continue
		}
		orig := int64(ev.Header.LogPos) - size
		if sf.p != nil {
			orig = sf.heldAt + (ev.Offset - sf.held) // log_pos wraps past 4 GiB
		}
		switch {
		case sf.end == 0 && orig == 4:
		case orig < sf.end:
			sf.held = sf.read // already archived
			continue
		case orig > sf.end:
			return fmt.Errorf("the server sent the event at %d but the archive ends at %d (nothing in between was received)", orig, sf.end)
		}
		if sf.p == nil {
			sf.held, sf.heldAt = ev.Offset, orig
			if orig == 4 {
				// The file from its start: the spool file starts with the
				// same magic number, and the piece with it.
				if ev.Offset != 4 {
					return fmt.Errorf("the file's first event is at %d of the spool, want 4", ev.Offset)
				}
				sf.held, sf.heldAt = 0, 0
			}
			sf.p = a.newPiece(sf)
		}
		a.note(sf, ev)
		sf.end = orig + size
		a.recvFile, a.recvEnd = sf.name, sf.end
		if ev.Header.Type == binlog.RotateEvent || ev.Header.Type == binlog.StopEvent {
			sf.closed = true
			if ev.Rotate != nil {
				sf.next = ev.Rotate.NextFile
			}
			break
		}
		if sf.end-sf.heldAt >= a.opts.MaxPiece {
			if err := a.flush(ctx, sf); err != nil {
				return err
			}
		}
	}
	return a.flush(ctx, sf)
}

func (a *archiver) newPiece(sf *spoolFile) *Piece {
	return &Piece{Format: PieceFormat, Server: a.srv.Key, ServerID: a.srv.ID, ServerUUID: a.srv.UUID,
		ServerVersion: a.srv.Version, File: sf.name, Created: sf.created.UTC(),
		Compression: a.opts.Encode.Compression, Encrypted: a.opts.Encode.Pass != nil}
}

// note records ev in the held piece's record.
func (a *archiver) note(sf *spoolFile, ev *binlog.Event) {
	p := sf.p
	t := ev.Header.Time()
	if p.FirstTime.IsZero() {
		p.FirstTime = t
	}
	if t.After(p.LastTime) {
		p.LastTime = t
	}
	if ev.GTID != nil {
		g := ev.GTID.String()
		if p.FirstGTID == "" {
			p.FirstGTID = g
		}
		p.LastGTID = g
		p.GTIDs++
	}
	if ev.GTIDList != nil {
		parts := make([]string, len(ev.GTIDList))
		for i, g := range ev.GTIDList {
			parts[i] = g.String()
		}
		p.GTIDList = strings.Join(parts, ",")
	}
	if ev.Previous != "" {
		p.GTIDList = ev.Previous
	}
}

// flush stores the held piece of sf, if any.
func (a *archiver) flush(ctx context.Context, sf *spoolFile) error {
	p := sf.p
	if p == nil {
		return nil
	}
	p.Start, p.End = sf.heldAt, sf.end
	p.Closed, p.Next = sf.closed, sf.next
	f, err := os.Open(sf.path)
	if err != nil {
		return err
	}
	defer f.Close()
	src := io.NewSectionReader(f, sf.held, sf.end-sf.heldAt)
	if err := storePiece(ctx, a.opts.Store, p, src, a.opts.Encode, a.seal, a.opts.Now); err != nil {
		return err
	}
	a.log.Info("binlog archive: stored", "object", p.ObjectName(), "bytes", p.End-p.Start,
		"first_gtid", p.FirstGTID, "last_gtid", p.LastGTID)
	if a.opts.OnPiece != nil {
		a.opts.OnPiece(p)
	}
	punch(sf.path, sf.held, sf.end-sf.heldAt)
	sf.held, sf.heldAt, sf.p = sf.read, sf.end, nil
	return nil
}

// storePiece encodes src into the piece's data object and then writes its
// record. Neither replaces an existing object: when the name is taken (a
// run that died between the two), a random suffix makes a new one.
func storePiece(ctx context.Context, st storage.Backend, p *Piece, src io.Reader, enc stream.EncodeOptions, seal *sealer, now func() time.Time) error {
	base := rangeName(p.Start, p.End)
	ext := ".binlog" + compressionExt(enc.Compression.Kind)
	if enc.Pass != nil {
		ext += ".enc"
	}
	for i := 0; ; i++ {
		taken, err := exists(ctx, st, p.Dir()+base+ext)
		if err != nil {
			return err
		}
		rtaken, err := exists(ctx, st, p.Dir()+base+".json")
		if err != nil {
			return err
		}
		if !taken && !rtaken {
			break
		}
		if i == 3 {
			return fmt.Errorf("store piece %s: names taken", p.Dir()+base)
		}
		var b [3]byte
		rand.Read(b[:])
		base = rangeName(p.Start, p.End) + "-r" + hex.EncodeToString(b[:])
	}
	p.Object = base + ext
	p.name = p.Dir() + base + ".json"
	pr, pw := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	var res stream.Result
	g.Go(func() error {
		var err error
		res, err = stream.Encode(gctx, pw, src, enc)
		pw.CloseWithError(err)
		return err
	})
	var info storage.ObjectInfo
	g.Go(func() error {
		var err error
		info, err = st.Put(gctx, p.ObjectName(), pr)
		pr.CloseWithError(err)
		return err
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("store piece %s: %w", p.ObjectName(), err)
	}
	if res.RawSize != p.End-p.Start || info.Size != res.StoredSize {
		return fmt.Errorf("store piece %s: %d raw bytes for range %d-%d, %d stored of %d", p.ObjectName(), res.RawSize, p.Start, p.End, info.Size, res.StoredSize)
	}
	p.Expect = stream.Expect{RawSize: res.RawSize, RawSHA256: res.RawSHA256, StoredSize: res.StoredSize, StoredSHA256: res.StoredSHA256}
	p.Archived = now().UTC()
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if _, err := st.Put(ctx, p.name, bytes.NewReader(seal.seal(b))); err != nil {
		return fmt.Errorf("store piece record %s: %w", p.name, err)
	}
	return nil
}

func exists(ctx context.Context, st storage.Backend, name string) (bool, error) {
	_, err := st.Stat(ctx, name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("stat %s: %w", name, err)
}

func compressionExt(kind string) string {
	switch kind {
	case stream.Gzip, "":
		return ".gz"
	case stream.Zstd:
		return ".zst"
	}
	return ""
}

// serverAhead reports whether the server's binary log goes beyond what
// was received (SHOW MASTER STATUS), within 10 s.
func (a *archiver) serverAhead(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := mysql.Open(ctx, a.opts.Conn)
	if err != nil {
		return false, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return false, fmt.Errorf("SHOW MASTER STATUS: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || len(cols) < 2 {
		return false, fmt.Errorf("SHOW MASTER STATUS: %d columns, %v", len(cols), err)
	}
	if !rows.Next() {
		return false, errors.New("SHOW MASTER STATUS: no row (binary log off?)")
	}
	vals := make([]any, len(cols))
	var file string
	var pos int64
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		return false, err
	}
	return file > a.recvFile || (file == a.recvFile && pos > a.recvEnd), nil
}

const spoolPrefix = "mybak-binlog-"

// removeStaleSpools removes the spool directories of archivers that were
// killed (kill -9 leaves them: they hold the binary log unencrypted): those
// whose pid file names a process that no longer runs.
func removeStaleSpools(parent string, log *slog.Logger) {
	if parent == "" {
		parent = os.TempDir()
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), spoolPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processRuns(pid) {
			continue
		}
		if err := os.RemoveAll(dir); err == nil {
			log.Info("binlog archive: removed the spool of a killed run", "dir", dir, "pid", pid)
		}
	}
}

// processRuns reports whether a process with pid exists.
func processRuns(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// startStates merges the GTID states the archived files start from (their
// Gtid_list or Previous_gtids): transactions the archive holds, or that
// were before it began.
func startStates(ix *Index) State {
	var held State
	for _, f := range ix.Files() {
		p := f.Pieces[0]
		if p.Start != 0 || p.GTIDList == "" {
			continue
		}
		if st, err := ParseState(p.GTIDList); err == nil {
			held.Merge(st)
		}
	}
	return held
}

// firstNeeded returns the newest binary log of srv whose starting GTID
// state held covers ("" when none does), reading each file's Gtid_list /
// Previous_gtids with SHOW BINLOG EVENTS, newest first.
func firstNeeded(ctx context.Context, conn mysql.Conn, srv *serverInfo, held State) (string, error) {
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	for i := len(srv.Logs) - 1; i >= 0; i-- {
		st, err := fileStartState(ctx, db, srv.Logs[i])
		if err != nil {
			return "", err
		}
		if !st.Empty() && held.Covers(st) {
			return srv.Logs[i], nil
		}
	}
	return "", nil
}

// fileStartState reads a binary log file's Gtid_list (MariaDB) or
// Previous_gtids (MySQL) through SHOW BINLOG EVENTS.
func fileStartState(ctx context.Context, db *sql.DB, file string) (State, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN '"+strings.ReplaceAll(file, "'", "")+"' LIMIT 4")
	if err != nil {
		return State{}, fmt.Errorf("SHOW BINLOG EVENTS IN %s: %w", file, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return State{}, err
	}
	typ, info := -1, -1
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "event_type":
			typ = i
		case "info":
			info = i
		}
	}
	if typ < 0 || info < 0 {
		return State{}, fmt.Errorf("SHOW BINLOG EVENTS: no Event_type or Info column in %v", cols)
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return State{}, err
		}
		switch vals[typ].String {
		case "Gtid_list", "Previous_gtids":
			return ParseState(strings.Trim(strings.TrimSpace(vals[info].String), "[]"))
		}
	}
	return State{}, rows.Err()
}
