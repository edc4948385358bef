package pitr

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mybak/mybak/stream"
)

// proxy forwards TCP connections to a server. cut closes every
// connection and refuses new ones until heal (the network gone, and the
// peers told); blackhole makes every open connection silently drop what
// it carries, for ever, without closing it (a firewall or NAT that lost
// its state: the peers are never told), and refuses new ones until heal.
type proxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]*pair
}

type pair struct {
	mu   sync.Mutex
	dead bool
}

func (p *pair) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

func newProxy(t *testing.T, backend string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, backend: backend, conns: map[net.Conn]*pair{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			pr := &pair{}
			p.mu.Lock()
			p.conns[c], p.conns[b] = pr, pr
			p.mu.Unlock()
			go forward(b, c, pr)
			go forward(c, b, pr)
		}
	}()
	return p
}

// forward copies src to dst until src ends; once the pair is dead, what
// arrives is dropped.
func forward(dst, src net.Conn, pr *pair) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pr.isDead() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if !pr.isDead() {
		dst.Close()
	}
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, pr := range p.conns {
		pr.mu.Lock()
		pr.dead = true
		pr.mu.Unlock()
	}
}

func (p *proxy) heal() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestFollowThroughRestartAndNetworkDrop: the archiver follows a server
// through a proxy; the server restarts, the network drops for 30 s (the
// outage issue 13 names), writes go on meanwhile; every
// write is archived, the archive is byte-equal to the server's files and
// continuous.
func TestFollowThroughRestartAndNetworkDrop(t *testing.T) {
	needMySQL(t)
	s := startSandbox(t, "pitr-restart")
	s.arch = s.archUser(t)
	ctx := context.Background()
	st := newStore(t)
	px := newProxy(t, "127.0.0.1:"+strconv.Itoa(s.admin.Port))
	from, _ := ParseState(s.str(t, "SELECT @@gtid_binlog_pos"))
	db := "pitr_" + randHex(3)
	s.exec(t, "CREATE DATABASE "+db)
	s.exec(t, "CREATE TABLE "+db+".t (id INT PRIMARY KEY)")

	conn := s.arch
	conn.Port = px.port()
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Archive(fctx, ArchiveOptions{Store: st, Conn: conn, FlushInterval: 200 * time.Millisecond, RetryMax: 500 * time.Millisecond, StallCheck: time.Second,
			SpoolDir: t.TempDir(), Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.Zstd}}})
	}()
	defer func() { cancel(); <-done }()
	waitArchived(t, st, s.write(t, "INSERT INTO "+db+".t VALUES (1)"))

	// A server restart (a clean shutdown: the file ends with a Stop event;
	// the server starts a new file).
	s.sb.Restart(t)
	s2 := connectServer(t, s.sb)
	waitArchived(t, st, s2.write(t, "INSERT INTO "+db+".t VALUES (2)"))

	// The network drops; a write meanwhile; the network comes back.
	px.cut()
	g3 := s2.write(t, "INSERT INTO "+db+".t VALUES (3)")
	time.Sleep(15 * time.Second) // the outage itself, not synchronisation
	g3 = s2.write(t, "INSERT INTO "+db+".t VALUES (5)")
	time.Sleep(15 * time.Second)
	px.heal()
	waitArchived(t, st, g3)

	// The network loses the connection without telling anyone: the
	// archiver's stall check finds the server ahead and nothing arriving,
	// and connects again.
	px.blackhole()
	g4 := s2.write(t, "INSERT INTO "+db+".t VALUES (4)")
	time.Sleep(2 * time.Second) // the outage itself
	px.heal()
	waitArchived(t, st, g4)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("archive: %v", err)
	}
	done <- nil

	ix, err := LoadIndex(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkArchiveMatches(t, s2, st, ix, ReadOptions{})
	rep, err := Verify(ctx, st, ix, VerifyOptions{Deep: true, From: from})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v, %v", rep.Problems, err)
	}
	if files := ix.Files(); len(files) < 2 || !files[len(files)-2].Closed() {
		t.Fatalf("want the file before the restart closed (by its Stop event), got %d files", len(files))
	}
}
