// Package stream is the one pipeline every backup and restore goes through:
//
//	Encode: src -> SHA-256 of raw -> gzip|zstd|none -> AES-256-CBC (openssl enc) -> SHA-256+MD5 of stored -> dst
//	Decode: src -> SHA-256 of stored -> decrypt (KDF detection) -> decompress -> SHA-256 of raw -> dst
//
// The stored format is exactly what the command line tools produce and read:
//
//	gzip -6 < raw | openssl enc -aes-256-cbc -pbkdf2 -pass file:KEY    (Compression "gzip")
//	zstd < raw | openssl enc ...                                        (Compression "zstd")
//
// so a backup can always be restored by hand with openssl enc -d | gzip -d.
//
// Encode cuts the compressed stream into independent gzip members (or zstd
// frames) every EncodeOptions.FrameSize raw bytes and records where each one
// starts (Result.Frames). Concatenated members are still one valid gzip
// file, and because AES-CBC can start decrypting at any 16-byte block given
// the ciphertext block before it, DecodeParallel can decrypt and decompress
// several frames at once and still write the output in order.
//
// Memory use is bounded and independent of the data size: Encode holds
// Concurrency compression blocks, DecodeParallel at most Parallel frames of
// output. Errors of any stage (including Close errors) reach the caller;
// cancelling the context stops every goroutine of the pipeline.
package stream
