package swift

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mybak/mybak/internal/secretfile"
)

// Defaults for the fields of Config that are left zero.
const (
	DefaultSegmentSize    = 64 << 20
	DefaultUploadParallel = 4
	DefaultMaxRetries     = 10
	DefaultRetryBaseWait  = 250 * time.Millisecond
	DefaultRetryMaxWait   = 30 * time.Second
	// SegmentContainerSuffix is appended to the container's name to name
	// the container that holds the segments of large objects (the
	// convention of the swift CLI and rclone).
	SegmentContainerSuffix = "_segments"
)

// Config says where the backend stores objects, how it authenticates and
// how it uploads. ConfigFromEnv fills the credentials from the environment
// the way the `swift` CLI reads them; a CLI overrides fields from its
// flags. Secrets (Key, AuthToken) never come from a command line: use
// LoadKeyFile for a password file.
type Config struct {
	// Container and Prefix locate the objects: object name N is stored as
	// Prefix + "/" + N in Container (just N when Prefix is empty). Set
	// them with ParseLocation.
	Container string
	Prefix    string
	// SegmentContainer holds the segments of objects stored as Static
	// Large Objects. Default Container + SegmentContainerSuffix.
	SegmentContainer string

	// AuthURL is the auth endpoint (ST_AUTH, OS_AUTH_URL).
	AuthURL string
	// AuthVersion is 1 (tempauth/swauth), 2 or 3 (keystone); 0 detects it
	// from AuthURL (ST_AUTH_VERSION, OS_IDENTITY_API_VERSION).
	AuthVersion int
	// User is the user name (ST_USER "account:user", OS_USERNAME).
	User string
	// Key is the key or password (ST_KEY, OS_PASSWORD). Secret.
	Key string `json:"-"`
	// UserDomain, ProjectName, ProjectDomain, TenantID and Region are for
	// keystone (OS_USER_DOMAIN_NAME, OS_PROJECT_NAME or OS_TENANT_NAME,
	// OS_PROJECT_DOMAIN_NAME, OS_PROJECT_ID or OS_TENANT_ID,
	// OS_REGION_NAME).
	UserDomain    string
	ProjectName   string
	ProjectDomain string
	TenantID      string
	Region        string
	// EndpointType selects the catalogue endpoint: public (default),
	// internal or admin (OS_ENDPOINT_TYPE, OS_INTERFACE).
	EndpointType string
	// StorageURL and AuthToken skip authentication when both are set
	// (OS_STORAGE_URL, OS_AUTH_TOKEN). AuthToken is secret.
	StorageURL string
	AuthToken  string `json:"-"`

	// NoCreate opens an existing container only: New fails when it is
	// missing instead of creating it and its segment container. For
	// commands that only read or delete, so that a mistyped --storage
	// says so instead of leaving empty containers behind.
	NoCreate bool

	// CAFile is a PEM file of CA certificates trusted in addition to the
	// system's (OS_CACERT).
	CAFile string
	// Insecure skips TLS certificate verification.
	Insecure bool
	// Transport, when set, carries all HTTP requests (tests); CAFile and
	// Insecure are then ignored.
	Transport http.RoundTripper `json:"-"`
	// ConnectTimeout and Timeout are the swift library's timeouts: until
	// response headers arrive, and of silence on a data channel. Defaults
	// 10 s and 60 s. A timeout is reported as a 408 and retried.
	ConnectTimeout time.Duration
	Timeout        time.Duration

	// SegmentSize is the size of the segments a stream is cut into; each
	// is held in memory until Swift has stored it. Default 64 MiB; at most
	// Swift's max_file_size (from /info).
	SegmentSize int64
	// UploadParallel is the number of segments uploaded at once (and of
	// segments read ahead by Get). Put holds at most UploadParallel+1
	// segments in memory. Default 4.
	UploadParallel int
	// MaxRetries is how often a failed request is retried. Default 10;
	// negative means no retries.
	MaxRetries int
	// RetryBaseWait and RetryMaxWait shape the exponential backoff: the
	// n-th retry waits about RetryBaseWait*2^n (with jitter), never more
	// than RetryMaxWait. Defaults 250 ms and 30 s.
	RetryBaseWait time.Duration
	RetryMaxWait  time.Duration
	// LimitRate caps the upload rate of the backend, in bytes per second
	// over all Puts; 0 means no limit.
	LimitRate int64
	// KeepPartial keeps the segments of a failed Put instead of deleting
	// them (for inspection).
	KeepPartial bool

	// Log receives a line at info level for every retried request (what,
	// why, attempt k of n, the wait); nil discards them.
	Log *Logger `json:"-"`
}

// ConfigFromEnv returns a Config with the credentials found in the
// environment, read like the `swift` CLI: v1 auth from ST_AUTH, ST_USER,
// ST_KEY (taking precedence when ST_AUTH is set), otherwise keystone from
// OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME (OS_TENANT_NAME),
// OS_PROJECT_ID (OS_TENANT_ID), OS_USER_DOMAIN_NAME,
// OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME, OS_ENDPOINT_TYPE (OS_INTERFACE),
// OS_IDENTITY_API_VERSION; a pre-authenticated OS_STORAGE_URL and
// OS_AUTH_TOKEN in either case; OS_CACERT. Location and upload settings
// are left zero.
func ConfigFromEnv() (Config, error) {
	env := os.Getenv
	var c Config
	if env("ST_AUTH") != "" {
		c.AuthURL = env("ST_AUTH")
		c.User = env("ST_USER")
		c.Key = env("ST_KEY")
	} else {
		c.AuthURL = env("OS_AUTH_URL")
		c.User = env("OS_USERNAME")
		c.Key = env("OS_PASSWORD")
		c.ProjectName = firstNonEmpty(env("OS_PROJECT_NAME"), env("OS_TENANT_NAME"))
		c.TenantID = firstNonEmpty(env("OS_PROJECT_ID"), env("OS_TENANT_ID"))
		c.UserDomain = env("OS_USER_DOMAIN_NAME")
		c.ProjectDomain = env("OS_PROJECT_DOMAIN_NAME")
		c.Region = env("OS_REGION_NAME")
		c.EndpointType = firstNonEmpty(env("OS_ENDPOINT_TYPE"), env("OS_INTERFACE"))
	}
	c.StorageURL = env("OS_STORAGE_URL")
	c.AuthToken = env("OS_AUTH_TOKEN")
	c.CAFile = env("OS_CACERT")
	for _, name := range []string{"ST_AUTH_VERSION", "OS_IDENTITY_API_VERSION"} {
		v := env(name)
		if v == "" {
			continue
		}
		// "3", "3.0", "2.0" and "1.0" are all seen in the wild.
		major, _, _ := strings.Cut(v, ".")
		n, err := strconv.Atoi(major)
		if err != nil || n < 1 || n > 3 {
			return Config{}, fmt.Errorf("swift config: %s=%q: want 1, 2 or 3", name, v)
		}
		c.AuthVersion = n
		break
	}
	return c, nil
}

// LoadKeyFile sets c.Key from the first line of the file at path, so that
// a password never has to appear on a command line. The file follows
// secretfile's rule for a password: one the group or others may read or
// write, or that another user owns, is refused (error matching
// secretfile.ErrInsecure).
func (c *Config) LoadKeyFile(path string) error {
	f, _, err := secretfile.Open("Swift key file "+path, path, secretfile.Password)
	if err != nil {
		return fmt.Errorf("read Swift key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return fmt.Errorf("read Swift key file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return fmt.Errorf("read Swift key file %q: the first line is empty", path)
	}
	c.Key = line
	return nil
}

// ParseLocation splits "swift://CONTAINER[/PREFIX]" into the container
// and the prefix (without leading or trailing slash). The container must
// be a valid Swift container name (no slash, at most 256 bytes); the
// prefix must be a valid relative path.
func ParseLocation(loc string) (container, prefix string, err error) {
	rest, ok := strings.CutPrefix(loc, "swift://")
	if !ok {
		return "", "", fmt.Errorf("parse Swift location %q: want swift://CONTAINER[/PREFIX]", loc)
	}
	container, prefix, _ = strings.Cut(rest, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	switch {
	case container == "":
		return "", "", fmt.Errorf("parse Swift location %q: empty container name", loc)
	case len(container) > 256:
		return "", "", fmt.Errorf("parse Swift location %q: container name longer than 256 bytes", loc)
	case strings.ContainsAny(container, "?#"):
		return "", "", fmt.Errorf("parse Swift location %q: container name contains ? or #", loc)
	}
	for _, r := range loc {
		if r < 0x20 || r == 0x7f {
			return "", "", fmt.Errorf("parse Swift location %q: contains a control character", loc)
		}
	}
	if prefix != "" {
		for _, el := range strings.Split(prefix, "/") {
			if el == "" || el == "." || el == ".." {
				return "", "", fmt.Errorf("parse Swift location %q: prefix has an empty, . or .. element", loc)
			}
		}
	}
	return container, prefix, nil
}

// Location formats a container and prefix as ParseLocation reads them.
func Location(container, prefix string) string {
	if prefix == "" {
		return "swift://" + container
	}
	return "swift://" + container + "/" + prefix
}

// withDefaults fills in zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Container == "" {
		return c, errors.New("no container: give a location swift://CONTAINER[/PREFIX]")
	}
	if c.SegmentContainer == "" {
		c.SegmentContainer = c.Container + SegmentContainerSuffix
	}
	if c.StorageURL == "" || c.AuthToken == "" {
		switch {
		case c.AuthURL == "":
			return c, errors.New("no auth URL: set ST_AUTH (v1) or OS_AUTH_URL (keystone), or OS_STORAGE_URL and OS_AUTH_TOKEN")
		case c.User == "":
			return c, errors.New("no user: set ST_USER or OS_USERNAME")
		case c.Key == "":
			return c, errors.New("no key: set ST_KEY or OS_PASSWORD, or give a key file")
		}
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.SegmentSize < 1 || c.SegmentSize > 1<<40 {
		return c, fmt.Errorf("segment size %d: want 1 byte to 1 TiB", c.SegmentSize)
	}
	if c.UploadParallel == 0 {
		c.UploadParallel = DefaultUploadParallel
	}
	if c.UploadParallel < 1 {
		return c, fmt.Errorf("upload parallelism %d: want at least 1", c.UploadParallel)
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryBaseWait <= 0 {
		c.RetryBaseWait = DefaultRetryBaseWait
	}
	if c.RetryMaxWait <= 0 {
		c.RetryMaxWait = DefaultRetryMaxWait
	}
	if c.LimitRate < 0 {
		return c, fmt.Errorf("limit rate %d: want 0 (no limit) or more bytes per second", c.LimitRate)
	}
	return c, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
