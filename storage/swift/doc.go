// Package swift is the storage.Backend for OpenStack Swift
// (swift://CONTAINER[/PREFIX]), built on github.com/ncw/swift/v2.
// storage.Open opens it through OpenURL (register.go), which reads the
// credentials from the environment and the store flags from
// storage.OpenOptions.Settings.
//
// # Layout
//
// Object name N is stored as PREFIX/N in CONTAINER. An object shorter than
// one segment is a plain Swift object. A longer one is a Static Large
// Object: its segments are stored in CONTAINER_segments (the convention of
// the swift CLI and rclone) as PREFIX/N/UPLOAD-ID/00000000, 00000001, ...
// where UPLOAD-ID is unique per Put, and the manifest is PUT as PREFIX/N
// last. List reads CONTAINER only, so segments of a Put in progress are
// never listed, and nothing is visible under N before the manifest is.
//
// # Uploads
//
// The stream given to Put is read once. Each segment is held whole in a
// pooled buffer until Swift has stored it, so that a failed segment PUT
// can be sent again: this is what lets a backup survive a proxy's 408
// (client_timeout), a 499, a 5xx, a reset connection or an expired token,
// where a streamed PUT (Trove: "no ability to reset contents for
// reupload") cannot. Which Swift statuses are transient is one list in
// retry.go (classify, retryableStatus); the backoff, the transport errors
// and the log line of a retry are storage/retry's Policy. The retries stay
// inside the store, where the held bytes are: the Backend declares
// storage.RetriesItself, and storage/retry's decorator leaves it alone.
//
// # Parts
//
// parts.go exposes the segments (storage.Multipart; the other
// capabilities declared are ChecksParts, PartStatter and
// UncommittedSweeper, see swift.go) to a caller that keeps them itself
// (storage/spool keeps them in files, so that an upload can be finished by
// another process): PutPart, StatPart and CommitParts use the same names,
// retries, ETag checks and SLO manifest as Put. SweepUncommitted deletes
// the segments of uploads that were killed before their commit (prune
// calls it).
//
// # Memory
//
// A Put holds at most UploadParallel+1 segment buffers; when all are busy
// it stops reading its source. A Get of an SLO holds at most
// UploadParallel segments (read-ahead).
//
// # Tests
//
// The tests run against a real Swift started by scripts/swift-sandbox.sh
// when MYBAK_TEST_SWIFT=1 or ST_AUTH is set; under CI=true they fail when
// it is not configured. See swift_test.go.
package swift
