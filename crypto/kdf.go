package crypto

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

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

// DefaultPBKDF2Iter is the iteration count `openssl enc -pbkdf2` uses when
// -iter is not given.
const DefaultPBKDF2Iter = 10000

// DefaultKDF is what new backups use: PBKDF2-HMAC-SHA256 with 10000
// iterations, i.e. `openssl enc -pbkdf2` (-md sha256 -iter 10000).
var DefaultKDF = KDF{Name: "pbkdf2", Digest: "sha256", Iter: DefaultPBKDF2Iter}

// LegacyCandidates are the KDFs Detect tries when a backup's KDF is not
// recorded, in order: EVP md5 (`openssl enc` before OpenSSL 1.1.0), EVP
// sha256 (1.1.0 and later without -pbkdf2), PBKDF2 sha256 and PBKDF2 sha512
// with openssl's default 10000 iterations. Callers must not modify it.
var LegacyCandidates = []KDF{
	{Name: "evp", Digest: "md5"},
	{Name: "evp", Digest: "sha256"},
	{Name: "pbkdf2", Digest: "sha256", Iter: DefaultPBKDF2Iter},
	{Name: "pbkdf2", Digest: "sha512", Iter: DefaultPBKDF2Iter},
}

// ErrBadKDF is wrapped by ParseKDF and KDF.Validate for a KDF this package
// does not support.
var ErrBadKDF = errors.New("unsupported KDF")

// ParseKDF parses the CLI spelling of a KDF:
//
//	pbkdf2, pbkdf2-sha256        PBKDF2-HMAC-SHA256, 10000 iterations (DefaultKDF)
//	pbkdf2-sha512                PBKDF2-HMAC-SHA512, 10000 iterations
//	pbkdf2-DIGEST-N, pbkdf2-N    the same with N iterations (openssl -iter N)
//	sha256, evp-sha256           EVP_BytesToKey, sha256 (openssl 1.1.0+ without -pbkdf2)
//	md5, evp-md5                 EVP_BytesToKey, md5 (openssl before 1.1.0)
//
// It is case-insensitive and accepts everything KDF.String returns. The
// error wraps ErrBadKDF.
func ParseKDF(s string) (KDF, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "md5", "evp-md5":
		return KDF{Name: "evp", Digest: "md5"}, nil
	case "sha256", "evp-sha256":
		return KDF{Name: "evp", Digest: "sha256"}, nil
	}
	parts := strings.Split(v, "-")
	if parts[0] != "pbkdf2" || len(parts) > 3 {
		return KDF{}, fmt.Errorf("parse KDF %q: %w (want pbkdf2, pbkdf2-sha512, sha256 or md5)", s, ErrBadKDF)
	}
	k := DefaultKDF
	rest := parts[1:]
	if len(rest) > 0 && (rest[0] == "sha256" || rest[0] == "sha512") {
		k.Digest = rest[0]
		rest = rest[1:]
	}
	if len(rest) == 1 {
		n, err := strconv.Atoi(rest[0])
		if err != nil {
			return KDF{}, fmt.Errorf("parse KDF %q: %w (bad iteration count %q)", s, ErrBadKDF, rest[0])
		}
		k.Iter = n
		rest = rest[1:]
	}
	if len(rest) != 0 {
		return KDF{}, fmt.Errorf("parse KDF %q: %w", s, ErrBadKDF)
	}
	if err := k.Validate(); err != nil {
		return KDF{}, fmt.Errorf("parse KDF %q: %w", s, err)
	}
	return k, nil
}

// String returns the canonical spelling ParseKDF accepts: "md5" and
// "sha256" for EVP, "pbkdf2-DIGEST-ITER" for PBKDF2 (e.g.
// "pbkdf2-sha256-10000").
func (k KDF) String() string {
	switch k.Name {
	case "evp":
		return k.Digest
	case "pbkdf2":
		return fmt.Sprintf("pbkdf2-%s-%d", k.Digest, k.Iter)
	}
	return fmt.Sprintf("%s-%s-%d", k.Name, k.Digest, k.Iter)
}

// WithIter returns k with n PBKDF2 iterations (openssl -iter n). It does
// not validate; n is ignored by EVP, whose Validate then fails.
func (k KDF) WithIter(n int) KDF {
	k.Iter = n
	return k
}

// Validate reports (wrapping ErrBadKDF) whether k is a KDF this package and
// `openssl enc` support: pbkdf2 with sha256 or sha512 and Iter >= 1, or evp
// with md5 or sha256 and Iter 0.
func (k KDF) Validate() error {
	switch k.Name {
	case "pbkdf2":
		if k.Digest != "sha256" && k.Digest != "sha512" {
			return fmt.Errorf("%w: pbkdf2 digest %q (want sha256 or sha512)", ErrBadKDF, k.Digest)
		}
		if k.Iter < 1 {
			return fmt.Errorf("%w: pbkdf2 iteration count %d (want >= 1)", ErrBadKDF, k.Iter)
		}
	case "evp":
		if k.Digest != "md5" && k.Digest != "sha256" {
			return fmt.Errorf("%w: evp digest %q (want md5 or sha256)", ErrBadKDF, k.Digest)
		}
		if k.Iter != 0 {
			return fmt.Errorf("%w: evp takes no iteration count (got %d)", ErrBadKDF, k.Iter)
		}
	default:
		return fmt.Errorf("%w: name %q (want pbkdf2 or evp)", ErrBadKDF, k.Name)
	}
	return nil
}

// OpenSSLArgs returns the `openssl enc` options that select k, e.g.
// ["-md", "sha256", "-pbkdf2", "-iter", "10000"], to append to
// `openssl enc -d -aes-256-cbc` when decrypting by hand.
func (k KDF) OpenSSLArgs() []string {
	args := []string{"-md", k.Digest}
	if k.Name == "pbkdf2" {
		args = append(args, "-pbkdf2", "-iter", strconv.Itoa(k.Iter))
	}
	return args
}

func (k KDF) newHash() func() hash.Hash {
	switch k.Digest {
	case "md5":
		return md5.New
	case "sha256":
		return sha256.New
	case "sha512":
		return sha512.New
	}
	return nil
}

// Key and IV sizes of AES-256-CBC.
const (
	KeySize  = 32
	IVSize   = 16
	SaltSize = 8
	// HeaderSize is the length of "Salted__" plus the salt.
	HeaderSize = 16
)

// DeriveKeyIV derives the AES-256 key (32 bytes) and IV (16 bytes) from
// pass and the 8-byte salt as `openssl enc` does with kdf. It fails only if
// kdf is invalid or the salt is not 8 bytes. PBKDF2 costs kdf.Iter HMAC
// rounds, so derive once per stream and reuse the result (NewRangeReader).
func DeriveKeyIV(pass, salt []byte, kdf KDF) (key, iv []byte, err error) {
	if err := kdf.Validate(); err != nil {
		return nil, nil, err
	}
	if len(salt) != SaltSize {
		return nil, nil, fmt.Errorf("derive key: salt is %d bytes, want %d", len(salt), SaltSize)
	}
	newHash := kdf.newHash()
	var out []byte
	switch kdf.Name {
	case "pbkdf2":
		out, err = pbkdf2.Key(newHash, string(pass), salt, kdf.Iter, KeySize+IVSize)
		if err != nil {
			return nil, nil, fmt.Errorf("derive key: %w", err)
		}
	case "evp":
		// EVP_BytesToKey(cipher, md, salt, pass, count=1):
		// D_1 = H(pass || salt), D_i = H(D_{i-1} || pass || salt).
		h := newHash()
		var prev []byte
		for len(out) < KeySize+IVSize {
			h.Reset()
			h.Write(prev)
			h.Write(pass)
			h.Write(salt)
			prev = h.Sum(nil)
			out = append(out, prev...)
		}
	}
	return out[:KeySize:KeySize], out[KeySize : KeySize+IVSize : KeySize+IVSize], nil
}
