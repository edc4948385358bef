package swift

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncw/swift/v2"
	"golang.org/x/time/rate"

	"github.com/mybak/mybak/internal/ratelimit"
	"github.com/mybak/mybak/storage"
)

// The capabilities the Swift store declares (see storage.As).
var (
	_ storage.ChecksParts        = (*Backend)(nil)
	_ storage.Multipart          = (*Backend)(nil)
	_ storage.PartStatter        = (*Backend)(nil)
	_ storage.UncommittedSweeper = (*Backend)(nil)
	_ storage.RetriesItself      = (*Backend)(nil)
)

// ChecksParts marks Swift as a store that checks every segment (or plain
// object) by its MD5: Put sends it as ETag and checks the ETag returned,
// Get checks it before the bytes go further, StatParts compares the
// recorded MD5s with Swift's (see storage.ChecksParts).
func (b *Backend) ChecksParts() {}

// RetriesItself marks the Swift store as retrying its requests inside,
// where the bytes can be replayed (retry.go): storage/retry leaves it
// alone (see storage.RetriesItself).
func (b *Backend) RetriesItself() {}

// Backend stores objects in an OpenStack Swift container. Create it with
// New. It is safe for concurrent use.
type Backend struct {
	cfg    Config
	conn   *swift.Connection
	retr   *retrier
	limits limits
	// limiter caps the upload rate (nil: no limit).
	limiter *rate.Limiter
	// pool recycles segment buffers (*[]byte of cap cfg.SegmentSize).
	pool *segPool
	// inUse and maxInUse count segment buffers held, for tests that
	// check the memory bound.
	inUse, maxInUse atomic.Int64
}

// limits are the cluster's constraints that matter for uploads, read from
// /info (with Swift's defaults when /info is disabled).
type limits struct {
	maxFileSize     int64 // largest single object (swift.max_file_size)
	maxSegments     int   // slo.max_manifest_segments
	minSegmentSize  int64 // slo.min_segment_size
	sloSupported    bool
	infoUnavailable bool
}

// New connects to Swift with cfg: it authenticates, reads the cluster's
// limits from /info, checks cfg against them and creates the container and
// the segment container when they are missing. The caller must Close the
// backend.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Location(cfg.Container, cfg.Prefix), err)
	}
	loc := Location(cfg.Container, cfg.Prefix)
	transport := cfg.Transport
	if transport == nil {
		transport, err = newTransport(cfg)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", loc, err)
		}
	}
	conn := &swift.Connection{
		AuthUrl:        cfg.AuthURL,
		AuthVersion:    cfg.AuthVersion,
		UserName:       cfg.User,
		ApiKey:         cfg.Key,
		Domain:         cfg.UserDomain,
		Tenant:         cfg.ProjectName,
		TenantId:       cfg.TenantID,
		TenantDomain:   cfg.ProjectDomain,
		Region:         cfg.Region,
		EndpointType:   swift.EndpointType(cfg.EndpointType),
		StorageUrl:     cfg.StorageURL,
		AuthToken:      cfg.AuthToken,
		ConnectTimeout: cfg.ConnectTimeout,
		Timeout:        cfg.Timeout,
		Transport:      transport,
		UserAgent:      "mybak",
		// The library's own retries re-send only GET and HEAD after a
		// transport error and any request after a 401 when its body can
		// be rewound; keep one so that an expired token costs nothing,
		// and leave everything else to our retrier.
		Retries: 1,
	}
	if cfg.StorageURL != "" && cfg.AuthToken != "" && cfg.AuthURL == "" {
		// Pre-authenticated: nothing to re-authenticate with.
		conn.Auth = staticAuth{storageURL: cfg.StorageURL, token: cfg.AuthToken}
	}
	// A Put holds UploadParallel+1 buffers, a Get UploadParallel.
	b := &Backend{cfg: cfg, conn: conn, pool: &segPool{size: cfg.SegmentSize, max: cfg.UploadParallel + 1}}
	b.retr = &retrier{
		maxRetries: cfg.MaxRetries,
		base:       cfg.RetryBaseWait,
		max:        cfg.RetryMaxWait,
		unauth:     conn.UnAuthenticate,
		log:        cfg.Log,
		opening:    true, // until New returns: see retrier.opening
	}
	defer func() { b.retr.opening = false }()
	b.limiter = ratelimit.New(cfg.LimitRate)
	if !conn.Authenticated() {
		if err := b.retr.do(ctx, "authenticate at "+cfg.AuthURL, authenticate(conn)); err != nil {
			return nil, fmt.Errorf("open %s: authenticate at %s as %q: %w", loc, cfg.AuthURL, cfg.User, err)
		}
	}
	if err := b.readLimits(ctx); err != nil {
		return nil, fmt.Errorf("open %s: %w", loc, err)
	}
	if cfg.NoCreate {
		// Only the container must exist: its segment container may not
		// (no backup there was larger than a segment, or Trove's layout).
		if err := b.ensureContainer(ctx, cfg.Container, false); err != nil {
			return nil, fmt.Errorf("open %s: %w", loc, err)
		}
		return b, nil
	}
	for _, c := range []string{cfg.Container, cfg.SegmentContainer} {
		if err := b.ensureContainer(ctx, c, true); err != nil {
			return nil, fmt.Errorf("open %s: %w", loc, err)
		}
	}
	return b, nil
}

func newTransport(cfg Config) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 2*cfg.UploadParallel + 4
	t.ExpectContinueTimeout = 5 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if cfg.CAFile != "" || cfg.Insecure {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // the user asked for --insecure
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("read CA file %q: no PEM certificate in it", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		t.TLSClientConfig = tc
	}
	return t, nil
}

// staticAuth is a swift.Authenticator for a pre-authenticated storage URL
// and token (OS_STORAGE_URL, OS_AUTH_TOKEN).
type staticAuth struct{ storageURL, token string }

func (a staticAuth) Request(context.Context, *swift.Connection) (*http.Request, error) {
	return nil, nil
}
func (a staticAuth) Response(context.Context, *http.Response) error { return nil }
func (a staticAuth) StorageUrl(bool) string                         { return a.storageURL } //nolint:revive // interface method
func (a staticAuth) Token() string                                  { return a.token }
func (a staticAuth) CdnUrl() string                                 { return "" } //nolint:revive // interface method

func (b *Backend) readLimits(ctx context.Context) error {
	// Swift's defaults, used when /info is switched off.
	b.limits = limits{maxFileSize: 5<<30 + 2, maxSegments: 1000, minSegmentSize: 1, sloSupported: true}
	var info swift.SwiftInfo
	err := b.retr.do(ctx, "GET /info", func(ctx context.Context) error {
		var err error
		info, err = b.conn.QueryInfo(ctx)
		if err != nil && strings.Contains(err.Error(), "invalid status code for info request") {
			// The library reports the status only as text; /info is
			// disabled (404) or forbidden: not worth a retry.
			return &infoUnavailable{err}
		}
		return err
	})
	var iu *infoUnavailable
	if errors.As(err, &iu) {
		b.limits.infoUnavailable = true
		err = nil
	}
	if err != nil {
		return fmt.Errorf("read the cluster's limits from /info: %w", err)
	}
	if info != nil {
		if sw, ok := info["swift"].(map[string]any); ok {
			if v, ok := sw["max_file_size"].(float64); ok && v > 0 {
				b.limits.maxFileSize = int64(v)
			}
		}
		slo, ok := info["slo"].(map[string]any)
		b.limits.sloSupported = ok
		if ok {
			if v, ok := slo["max_manifest_segments"].(float64); ok && v > 0 {
				b.limits.maxSegments = int(v)
			}
			if v, ok := slo["min_segment_size"].(float64); ok && v > 0 {
				b.limits.minSegmentSize = int64(v)
			}
		}
	}
	switch {
	case !b.limits.sloSupported:
		return errors.New("the cluster does not support Static Large Objects (no \"slo\" in /info): ask its operator to enable the slo middleware")
	case b.cfg.SegmentSize > b.limits.maxFileSize:
		return fmt.Errorf("segment size %d is larger than the cluster's max_file_size %d: lower the segment size", b.cfg.SegmentSize, b.limits.maxFileSize)
	case b.cfg.SegmentSize < b.limits.minSegmentSize:
		return fmt.Errorf("segment size %d is smaller than the cluster's slo min_segment_size %d: raise the segment size", b.cfg.SegmentSize, b.limits.minSegmentSize)
	}
	return nil
}

type infoUnavailable struct{ err error }

func (e *infoUnavailable) Error() string { return e.err.Error() }

func (b *Backend) ensureContainer(ctx context.Context, container string, create bool) error {
	err := b.retr.do(ctx, "HEAD container "+container, func(ctx context.Context) error {
		_, _, err := b.conn.Container(ctx, container)
		return err
	})
	if errors.Is(err, swift.ContainerNotFound) && !create {
		return fmt.Errorf("there is no container %q in this account (check --storage and the credentials' project; backup creates it)", container)
	}
	if errors.Is(err, swift.ContainerNotFound) {
		err = b.retr.do(ctx, "PUT container "+container, func(ctx context.Context) error {
			return b.conn.ContainerCreate(ctx, container, nil)
		})
		if err != nil {
			return fmt.Errorf("create container %q: %w", container, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("check container %q: %w", container, err)
	}
	return nil
}

// Location returns swift://CONTAINER[/PREFIX].
func (b *Backend) Location() string { return Location(b.cfg.Container, b.cfg.Prefix) }

// Close releases idle connections. It does not wait for operations in
// progress.
func (b *Backend) Close() error {
	b.pool.drop()
	if t, ok := b.conn.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// key maps an object name to its Swift object name in the container.
func (b *Backend) key(name string) string {
	if b.cfg.Prefix == "" {
		return name
	}
	return b.cfg.Prefix + "/" + name
}

// check validates name and ctx before an operation.
func check(ctx context.Context, op, name string) error {
	if err := storage.ValidateName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %q: %w", op, name, err)
	}
	return nil
}

// notFound turns the swift library's 404s into storage.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, swift.ObjectNotFound) || errors.Is(err, swift.ContainerNotFound) {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	var se *swift.Error
	if errors.As(err, &se) && se.StatusCode == 404 {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	return err
}

// head returns the headers of an object (HEAD with retries).
func (b *Backend) head(ctx context.Context, container, obj string) (swift.Object, swift.Headers, error) {
	var (
		info swift.Object
		h    swift.Headers
	)
	err := b.retr.do(ctx, "HEAD "+container+"/"+obj, func(ctx context.Context) error {
		var err error
		info, h, err = b.conn.Object(ctx, container, obj)
		return err
	})
	return info, h, notFound(err)
}

// Stat describes the object. MD5 is set for objects stored in one piece;
// for a Static Large Object it is empty (Swift's ETag is then the MD5 of
// the segments' MD5s) and Parts is nil: Parts reads them.
func (b *Backend) Stat(ctx context.Context, name string) (storage.ObjectInfo, error) {
	if err := check(ctx, "stat", name); err != nil {
		return storage.ObjectInfo{}, err
	}
	info, h, err := b.head(ctx, b.cfg.Container, b.key(name))
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("stat %q: %w", name, err)
	}
	oi := storage.ObjectInfo{Name: name, Size: info.Bytes, ModTime: info.LastModified}
	if !h.IsLargeObject() {
		oi.MD5 = strings.ToLower(info.Hash)
	}
	return oi, nil
}

// List calls fn for the objects under prefix in lexical (byte) order,
// which is Swift's listing order. Segments live in the segment container
// and are never listed.
func (b *Backend) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	strip := ""
	if b.cfg.Prefix != "" {
		strip = b.cfg.Prefix + "/"
	}
	opts := &swift.ObjectsOpts{Prefix: strip + prefix, Limit: 1000}
	for {
		var objs []swift.Object
		err := b.retr.do(ctx, "list "+b.cfg.Container, func(ctx context.Context) error {
			var err error
			objs, err = b.conn.Objects(ctx, b.cfg.Container, opts)
			return err
		})
		if err != nil {
			return fmt.Errorf("list %q in %s: %w", prefix, b.Location(), err)
		}
		for _, o := range objs {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("list %q: %w", prefix, err)
			}
			name := strings.TrimPrefix(o.Name, strip)
			oi := storage.ObjectInfo{Name: name, Size: o.Bytes, ModTime: o.LastModified}
			if o.SLOHash == "" && o.ObjectType == swift.RegularObjectType {
				oi.MD5 = strings.ToLower(o.Hash)
			}
			if err := fn(oi); err != nil {
				return err
			}
		}
		if len(objs) < opts.Limit {
			return nil
		}
		opts.Marker = objs[len(objs)-1].Name
	}
}

// Delete removes the object; a Static Large Object is removed with its
// segments (DELETE ?multipart-manifest=delete).
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := check(ctx, "delete", name); err != nil {
		return err
	}
	key := b.key(name)
	_, h, err := b.head(ctx, b.cfg.Container, key)
	if err != nil {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	if h.IsLargeObjectSLO() {
		err = b.deleteSLO(ctx, b.cfg.Container, key)
	} else {
		err = b.deleteKey(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("delete %q: %w", name, notFound(err))
	}
	return nil
}

// deleteSLO deletes a manifest and its segments. Swift answers 200 and
// reports the outcome in the body.
func (b *Backend) deleteSLO(ctx context.Context, container, obj string) error {
	return b.retr.do(ctx, "DELETE large object "+container+"/"+obj, func(ctx context.Context) error {
		resp, _, err := b.call(ctx, swift.RequestOpts{
			Container:  container,
			ObjectName: obj,
			Operation:  "DELETE",
			Parameters: url.Values{"multipart-manifest": {"delete"}},
			Headers:    swift.Headers{"Accept": "application/json"},
		})
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var res struct {
			Status   string     `json:"Response Status"`
			Body     string     `json:"Response Body"`
			Errors   [][]string `json:"Errors"`
			NotFound int        `json:"Number Not Found"`
			Deleted  int        `json:"Number Deleted"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
			return fmt.Errorf("read the result of deleting manifest: %w", err)
		}
		code, _, _ := strings.Cut(res.Status, " ")
		status, _ := strconv.Atoi(code)
		switch {
		case status == 404 && res.Deleted == 0:
			return swift.ObjectNotFound
		case status/100 != 2:
			return &swift.Error{StatusCode: status, Text: fmt.Sprintf("delete manifest and segments: %s %s %v", res.Status, res.Body, res.Errors)}
		}
		return nil
	})
}

// call is the swift library's Call against the storage URL, for the
// requests it has no method for (manifests).
func (b *Backend) call(ctx context.Context, opts swift.RequestOpts) (*http.Response, swift.Headers, error) {
	u, err := b.conn.GetStorageUrl(ctx)
	if err != nil {
		return nil, nil, err
	}
	opts.OnReAuth = func() (string, error) { return b.conn.StorageUrl, nil }
	return b.conn.Call(ctx, u, opts)
}
