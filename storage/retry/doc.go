// Package retry runs a store's requests again after transient failures.
//
// Policy is the one rule of how often and how long (exponential backoff
// with jitter, MaxRetries), of which failures are transient (Classify:
// resets, refused connections, timeouts, early EOFs; never the caller's
// context, a missing object, a TLS problem) and of the log line of every
// retry. A store whose protocol has its own statuses classifies those
// first and calls Classify for the rest (storage/swift: 401, 408, 409,
// 429, 498, 499, 5xx).
//
// Backend is a decorator that applies a Policy to any storage.Backend,
// where a request can be replayed (see its doc comment): restic's
// retry.Backend. It declares what it wraps (Unwrap), so storage.As finds
// the capabilities underneath.
//
// Retry only what can be replayed. A store that can replay more than the
// decorator can (Swift holds each segment of a Put in memory and sends it
// again; the decorator cannot rewind the caller's stream) retries inside,
// with a Policy of its own, and declares storage.RetriesItself; New then
// returns it unwrapped, so that no request is retried twice over (11
// attempts times 11). Wrap such a store only with a Policy of MaxRetries
// 0 if ever, and say why where you do.
//
// Nothing in mybak wraps its stores today: the local store does not fail
// transiently and Swift retries itself. A new network store (S3) either
// retries inside like Swift or is opened by its Factory as
// retry.New(store, Policy{...}).
package retry
