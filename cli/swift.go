package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/storage/swift"
)

// swiftFlags configure swift:// stores (storage/swift.OpenURL reads them
// by name). Credentials come from the
// environment as the `swift` CLI reads them (ST_AUTH/ST_USER/ST_KEY,
// OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/...); the flags override them, and a
// password is only ever taken from a file.
func swiftFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "swift-auth-url", Usage: "Swift auth URL (default: ST_AUTH or OS_AUTH_URL)"},
		&cli.IntFlag{Name: "swift-auth-version", Usage: "1 (tempauth), 2 or 3 (keystone); default: from the URL"},
		&cli.StringFlag{Name: "swift-user", Usage: "Swift user (default: ST_USER or OS_USERNAME)"},
		&cli.StringFlag{Name: "swift-key-file", Usage: "file whose first line is the Swift key / password (default: ST_KEY or OS_PASSWORD)"},
		&cli.StringFlag{Name: "swift-project", Usage: "keystone project (default: OS_PROJECT_NAME)"},
		&cli.StringFlag{Name: "swift-region", Usage: "keystone region (default: OS_REGION_NAME)"},
		&cli.StringFlag{Name: "swift-ca-file", Usage: "PEM file of extra CA certificates (default: OS_CACERT)"},
		&cli.BoolFlag{Name: "insecure", Usage: "do not verify the Swift endpoint's TLS certificate (test clouds only)"},
		&cli.StringFlag{Name: "segment-size", Value: "64M", Usage: "Swift segment size; each segment in flight is held in memory until stored"},
		&cli.IntFlag{Name: "upload-parallel", Value: swift.DefaultUploadParallel, Usage: "Swift segments uploaded (and downloaded ahead) at once"},
		&cli.IntFlag{Name: "max-retries", Value: swift.DefaultMaxRetries, Usage: "retries of a failed Swift request (408, 429, 5xx, resets, timeouts)"},
		&cli.StringFlag{Name: "limit-rate", Usage: "cap the upload bandwidth (Swift) or write rate (local store), bytes per second: 1048576, 512K, 50M, 1G (binary units; 0: no cap); default: no cap"},
	}
}
