package stream

// Frame marks where one independently decodable piece of the encoded stream
// begins: a gzip member or zstd frame. Frames let restore decrypt and
// decompress pieces in parallel (CBC decryption can start at any 16-byte
// block given the ciphertext block before it).
type Frame struct {
	// Raw is the offset of the frame's first byte in the original
	// (plaintext, uncompressed) stream.
	Raw int64 `json:"raw"`
	// Compressed is the offset of the frame's first byte in the compressed
	// stream, before encryption. With encryption, that byte is stored at
	// ciphertext offset 16+Compressed (after "Salted__" and the salt).
	Compressed int64 `json:"compressed"`
}
