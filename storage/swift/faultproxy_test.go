package swift

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fault is what the fault proxy does to one request.
type fault string

const (
	faultNone      fault = ""
	fault408       fault = "408"
	fault503       fault = "503"
	fault401       fault = "401"
	faultResetBody fault = "reset-mid-body" // RST in the middle of a request or response body
	faultStall     fault = "stall"          // answer later than the client's timeout
	fault403       fault = "403"
	fault413       fault = "413"
)

// faultProxy is a reverse proxy in front of the real Swift that breaks a
// share of the requests. Auth requests (/auth/) and /info pass untouched,
// so that what is tested is the storage traffic; the storage URL that
// tempauth returns points back at the proxy because tempauth builds it
// from the Host header, which the proxy keeps.
type faultProxy struct {
	t      *testing.T
	srv    *httptest.Server
	rp     *httputil.ReverseProxy
	target *url.URL

	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64 // share of storage requests that get a fault
	faults []fault // drawn from uniformly
	// decide, when set, overrides rate/faults.
	decide func(r *http.Request) fault
	// info, when set, edits the /info document.
	info     func(map[string]any)
	counts   map[fault]int
	requests int
	auths    int
	stall    time.Duration
}

func newFaultProxy(t *testing.T, authURL string, seed uint64) *faultProxy {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	target := &url.URL{Scheme: u.Scheme, Host: u.Host}
	p := &faultProxy{
		t:      t,
		target: target,
		rng:    rand.New(rand.NewPCG(seed, 0x6d796261)),
		counts: map[fault]int{},
		stall:  1500 * time.Millisecond,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // tempauth builds the storage URL from it
		},
		// Aborted requests are the point; do not log them.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	t.Logf("fault proxy %s -> %s (seed %d)", p.srv.URL, target, seed)
	return p
}

// authURL is the auth URL to give the backend.
func (p *faultProxy) authURL(orig string) string {
	u, _ := url.Parse(orig)
	return p.srv.URL + u.Path
}

func (p *faultProxy) pick(r *http.Request) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/auth/") {
		p.auths++
		return faultNone
	}
	if r.URL.Path == "/info" {
		return faultNone
	}
	p.requests++
	f := faultNone
	switch {
	case p.decide != nil:
		f = p.decide(r)
	case len(p.faults) > 0 && p.rng.Float64() < p.rate:
		f = p.faults[p.rng.IntN(len(p.faults))]
	}
	if f != faultNone {
		p.counts[f]++
	}
	return f
}

func (p *faultProxy) count(f fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[f]
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/info" && p.info != nil {
		p.serveInfo(w, r)
		return
	}
	switch p.pick(r) {
	case fault408:
		http.Error(w, "request timeout (injected)", http.StatusRequestTimeout)
	case fault503:
		http.Error(w, "service unavailable (injected)", http.StatusServiceUnavailable)
	case fault401:
		http.Error(w, "unauthorized (injected)", http.StatusUnauthorized)
	case fault403:
		http.Error(w, "forbidden (injected)", http.StatusForbidden)
	case fault413:
		http.Error(w, "too large (injected)", http.StatusRequestEntityTooLarge)
	case faultStall:
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		time.Sleep(p.stall)
		http.Error(w, "late (injected)", http.StatusServiceUnavailable)
	case faultResetBody:
		if r.Method == http.MethodPut && r.ContentLength > 1 {
			// Take half the body, then reset the connection.
			_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
			reset(w)
			return
		}
		if r.Method == http.MethodGet {
			p.rp.ServeHTTP(&breakingWriter{ResponseWriter: w, after: 100 << 10}, r)
			return
		}
		reset(w)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// breakingWriter passes a response through and resets the connection
// after `after` body bytes.
type breakingWriter struct {
	http.ResponseWriter
	after   int
	written int
}

func (b *breakingWriter) Write(p []byte) (int, error) {
	if b.written+len(p) > b.after {
		k := b.after - b.written
		if k > 0 {
			_, _ = b.ResponseWriter.Write(p[:k])
		}
		_ = http.NewResponseController(b.ResponseWriter).Flush()
		reset(b.ResponseWriter)
		panic(http.ErrAbortHandler)
	}
	n, err := b.ResponseWriter.Write(p)
	b.written += n
	return n, err
}

func (b *breakingWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }

func (p *faultProxy) serveInfo(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(p.target.String() + "/info")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	var info map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.info(info)
	data, _ := json.Marshal(info)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = io.Copy(w, bytes.NewReader(data))
}
