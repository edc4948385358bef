package crypto

// KDF names how the AES-256 key and IV are derived from the passphrase and
// the 8-byte salt, as `openssl enc` does it.
type KDF struct {
	// Name is "pbkdf2" (openssl enc -pbkdf2), or "evp" for OpenSSL's legacy
	// EVP_BytesToKey with one iteration (openssl enc -md DIGEST).
	Name string `json:"name"`
	// Digest is the hash: "sha256" or "sha512" for pbkdf2 (HMAC digest),
	// "md5" or "sha256" for evp.
	Digest string `json:"digest"`
	// Iter is the PBKDF2 iteration count (openssl's default 10000); 0 for evp.
	Iter int `json:"iter,omitempty"`
}
