package backup

// Authenticated backups.
//
// The data objects are what `openssl enc -aes-256-cbc` writes, and CBC has
// no integrity: whoever can write the store can flip plaintext bits (and
// garble the block before them), and could rewrite the hashes in the
// manifest to match. So when a key is configured, mybak authenticates
// every backup it writes with an HMAC-SHA-256 keyed by a MAC key derived
// from the passphrase:
//
//   - the manifest (which holds the size and SHA-256 of every object, the
//     raw stream's size and SHA-256, the Swift parts' MD5s, the frames, the
//     LSNs and binlog coordinates) carries an "auth" block, the last member
//     of the JSON object: {"alg":"hmac-sha256","kdf":"pbkdf2-sha256+hkdf-sha256",
//     "iter":N,"salt":HEX,"mac":HEX}. The MAC is over the exact stored bytes
//     with the mac value emptied (`"mac": ""`), at its fixed place at the
//     end of the file: the bytes are checked as stored, never re-encoded.
//   - the wire stream (`backup --to-stdout`) carries the same kind of block
//     in its header, and a chain of MACs over its header and every record
//     (see wire.go), so that a receiver checks each record before it passes
//     its bytes on, and a cut stream is detected.
//
// Key derivation: secret = PBKDF2-HMAC-SHA256(passphrase, salt, iter, 32);
// key = HKDF-SHA256(secret, salt, info, 32), with a random 16-byte salt per
// manifest and per stream, recorded beside the MAC, and info naming the
// purpose and version ("mybak manifest mac v1", "mybak wire mac v1"), so
// the MAC key is never the encryption key. The PBKDF2 step (10000
// iterations, the count of the data objects' own default KDF) keeps the MAC
// from being a cheaper oracle for guessing the passphrase than the
// encrypted data already is.
//
// Policy (AuthPolicy.Check): with a key configured, a backup whose MAC does
// not match is damage (ErrAuthentication, exit 3) and is never restored; a
// backup of this format (FormatVersion 2) without an auth block (made with
// --no-encrypt, or whose block was removed) is refused (ErrUnauthenticated,
// exit 3) unless --allow-unauthenticated. Backups made before this change
// (format_version 1) and backups OpenStack Trove made restore as before,
// with a warning that they are unauthenticated. Whoever can write the store
// can make a backup look like one of those (rewrite format_version to 1 and
// drop the auth block, or delete a Trove backup's <id>.mybak.json): that
// downgrade is announced by the same warning, and the data must then still
// match the (unauthenticated) hashes. Nothing protects against a backup
// being deleted or an older authenticated backup being kept in place of a
// newer one (its ID is in its manifest, so it cannot be moved to another
// ID).

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/mybak/mybak/crypto"
)

// ErrAuthentication is wrapped by the errors of a backup or stream whose
// authentication failed: its MAC does not match (it was altered, or made
// with another key), or data does not match the hashes an authenticated
// manifest holds. It is damage: such a backup is never restored.
var ErrAuthentication = errors.New("authentication failed")

// ErrUnauthenticated is wrapped when a key is configured and a backup or
// stream of the authenticated format carries no authentication, and
// --allow-unauthenticated was not given.
var ErrUnauthenticated = errors.New("the backup is not authenticated")

// Authentication parameters this build writes, and the bounds it reads.
const (
	AuthAlg       = "hmac-sha256"
	AuthKDF       = "pbkdf2-sha256+hkdf-sha256"
	authIter      = 10000
	authMaxIter   = 1000000
	authSaltLen   = 16
	authMACLen    = sha256.Size
	infoManifest  = "mybak manifest mac v1"
	infoWire      = "mybak wire mac v1"
	infoKeyCheck  = "mybak key check v1"
	authBlockTail = "\n  }\n}\n" // what follows the mac value in a manifest
)

// Auth is the authentication block of a manifest (and, without MAC, of a
// wire stream's header). It never contains a secret.
type Auth struct {
	Alg  string `json:"alg"`
	KDF  string `json:"kdf"`
	Iter int    `json:"iter"`
	Salt string `json:"salt"`
	// KeyCheck tells a wrong key from an altered manifest: the first 8
	// bytes of an HMAC of a constant under a key derived from the
	// passphrase for this alone (hex). A MAC that fails while KeyCheck
	// matches is an altered manifest (damage); a KeyCheck that differs is
	// the wrong key. Whoever alters the manifest can change it too, which
	// only turns "altered" into "wrong key": the backup is refused either
	// way. Absent in wire headers and in manifests sealed before it.
	KeyCheck string `json:"key_check,omitempty"`
	// MAC is the hex HMAC-SHA-256; empty in a wire header. It must stay
	// the last field (see manifestMACInput).
	MAC string `json:"mac"`
}

// newAuth returns a block with a fresh random salt.
func newAuth() *Auth {
	var salt [authSaltLen]byte
	if _, err := rand.Read(salt[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on Linux
	}
	return &Auth{Alg: AuthAlg, KDF: AuthKDF, Iter: authIter, Salt: hex.EncodeToString(salt[:])}
}

// validate checks the block's parameters (not the MAC).
func (a *Auth) validate() error {
	if a.Alg != AuthAlg || a.KDF != AuthKDF {
		return fmt.Errorf("unknown authentication %s/%s (this mybak knows %s/%s): upgrade mybak", a.Alg, a.KDF, AuthAlg, AuthKDF)
	}
	if a.Iter < 1 || a.Iter > authMaxIter {
		return fmt.Errorf("authentication iteration count %d out of range (1..%d)", a.Iter, authMaxIter)
	}
	if s, err := hex.DecodeString(a.Salt); err != nil || len(s) != authSaltLen {
		return fmt.Errorf("authentication salt is not %d hex bytes", authSaltLen)
	}
	if a.MAC != "" {
		if m, err := hex.DecodeString(a.MAC); err != nil || len(m) != authMACLen {
			return fmt.Errorf("authentication MAC is not %d hex bytes", authMACLen)
		}
	}
	return nil
}

// keyCache keeps derived MAC keys for the life of the process, so that a
// chain read twice (verify, then restore) derives each key once.
var keyCache = struct {
	sync.Mutex
	m map[[32]byte][]byte
}{m: map[[32]byte][]byte{}}

// macKey derives the MAC key for info from pass and a's salt and count.
func (a *Auth) macKey(pass []byte, info string) ([]byte, error) {
	salt, err := hex.DecodeString(a.Salt)
	if err != nil {
		return nil, err
	}
	return MACKey(pass, salt, a.Iter, info)
}

// MACKey derives a MAC key from a passphrase as backup manifests' and
// binlog pieces' MACs are keyed: PBKDF2-HMAC-SHA256(pass, salt, iter),
// then HKDF-SHA256 with info (never the encryption key). Keys are cached
// for the life of the process. The caller bounds iter.
func MACKey(pass, salt []byte, iter int, info string) ([]byte, error) {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(iter))
	for _, p := range [][]byte{[]byte(info), {0}, salt, n[:], pass} {
		h.Write(p)
	}
	var ck [32]byte
	h.Sum(ck[:0])
	keyCache.Lock()
	k, ok := keyCache.m[ck]
	keyCache.Unlock()
	if ok {
		return k, nil
	}
	secret, err := pbkdf2.Key(sha256.New, string(pass), salt, iter, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the MAC key: %w", err)
	}
	k, err = hkdf.Key(sha256.New, secret, salt, info, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the MAC key: %w", err)
	}
	keyCache.Lock()
	keyCache.m[ck] = k
	keyCache.Unlock()
	return k, nil
}

// keyCheck computes Auth.KeyCheck for pass.
func (a *Auth) keyCheck(pass []byte) (string, error) {
	k, err := a.macKey(pass, infoKeyCheck)
	if err != nil {
		return "", err
	}
	h := hmac.New(sha256.New, k)
	h.Write([]byte(infoKeyCheck))
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// manifestMACInput returns the bytes a manifest's MAC covers: raw, the
// manifest as stored, with the value of its mac (the last member of the
// last object) emptied. It fails when raw does not end the way Marshal
// ends an authenticated manifest.
func manifestMACInput(raw []byte, mac string) ([]byte, error) {
	tail := []byte(`    "mac": "` + mac + `"` + authBlockTail)
	if !bytes.HasSuffix(raw, tail) {
		return nil, errors.New("its auth block is not where mybak writes it (the manifest was rewritten)")
	}
	in := make([]byte, 0, len(raw))
	in = append(in, raw[:len(raw)-len(tail)]...)
	return append(in, `    "mac": ""`+authBlockTail...), nil
}

// Seal authenticates m with a MAC key derived from pass (see the top of
// auth.go): it sets m.Auth and keeps the exact bytes WriteManifest stores.
// m must not change afterwards (Seal again if it does).
func (m *Manifest) Seal(pass []byte) error {
	if len(pass) == 0 {
		return errors.New("seal manifest: no key")
	}
	m.Auth = newAuth()
	kc, err := m.Auth.keyCheck(pass)
	if err != nil {
		return err
	}
	m.Auth.KeyCheck = kc
	unsigned, err := m.Marshal()
	if err != nil {
		return err
	}
	k, err := m.Auth.macKey(pass, infoManifest)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, k)
	mac.Write(unsigned)
	m.Auth.MAC = hex.EncodeToString(mac.Sum(nil))
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if in, err := manifestMACInput(b, m.Auth.MAC); err != nil || !bytes.Equal(in, unsigned) {
		return fmt.Errorf("seal manifest of %s: the encoding is not the one Seal expects", m.ID) // a bug
	}
	m.raw, m.authOK = b, true
	return nil
}

// Legacy reports whether m is of a kind that restores, unauthenticated,
// with a warning even when a key is configured: made before mybak
// authenticated backups (format_version 1), or by OpenStack Trove (a
// manifest synthesized from a Trove object: no raw hash).
func (m *Manifest) Legacy() bool {
	return m.Auth == nil && (m.FormatVersion < 2 || m.Synthesized())
}

// Authenticated reports whether m's MAC was checked and matched (by
// AuthPolicy.Check or Seal).
func (m *Manifest) Authenticated() bool { return m.authOK }

// checkMAC checks m's MAC over the bytes it was parsed from.
func (m *Manifest) checkMAC(pass []byte) error {
	if m.authOK {
		return nil
	}
	fail := func(why string) error {
		return fmt.Errorf("%w: the manifest of %s does not match its MAC (%s): it was altered after the backup, or the key is not the one it was made with; do not restore it: restore an older backup",
			ErrAuthentication, m.ID, why)
	}
	if err := m.Auth.validate(); err != nil {
		return fail(err.Error())
	}
	if m.Auth.MAC == "" {
		return fail("its auth block has no MAC")
	}
	if m.raw == nil {
		return fail("it was not read from a store")
	}
	in, err := manifestMACInput(m.raw, m.Auth.MAC)
	if err != nil {
		return fail(err.Error())
	}
	k, err := m.Auth.macKey(pass, infoManifest)
	if err != nil {
		return err
	}
	h := hmac.New(sha256.New, k)
	h.Write(in)
	want, _ := hex.DecodeString(m.Auth.MAC)
	if !hmac.Equal(h.Sum(nil), want) {
		if m.Auth.KeyCheck != "" {
			if kc, err := m.Auth.keyCheck(pass); err == nil && kc != m.Auth.KeyCheck {
				return fmt.Errorf("%w: the key is not the one backup %s was made with (its key check differs): give the key file it was taken with",
					crypto.ErrWrongKey, m.ID)
			}
		}
		return fail("HMAC-SHA-256 differs")
	}
	m.authOK = true
	return nil
}

// AuthPolicy decides which backups a command trusts (see the top of
// auth.go).
type AuthPolicy struct {
	// Pass is the configured passphrase; nil when no key is configured.
	Pass []byte
	// AllowUnauthenticated accepts, with a warning, a backup or stream of
	// the authenticated format that carries no authentication
	// (--allow-unauthenticated).
	AllowUnauthenticated bool
	// Warn, when set, is told about every unauthenticated backup accepted.
	Warn func(msg string, args ...any)
}

// AuthStatus is what AuthPolicy.Check found.
type AuthStatus string

// Outcomes of AuthPolicy.Check (with a nil error).
const (
	AuthOK          AuthStatus = "authenticated"
	AuthNoKey       AuthStatus = "not checked: no key"
	AuthLegacy      AuthStatus = "unauthenticated (made before mybak authenticated backups, or by Trove)"
	AuthAllowed     AuthStatus = "unauthenticated (allowed by --allow-unauthenticated)"
	AuthNoKeyNoAuth AuthStatus = "unauthenticated (no key configured)"
)

// Check authenticates m. It returns an error wrapping ErrAuthentication
// when m's MAC does not match, and ErrUnauthenticated when a key is
// configured and m, of the authenticated format, has no auth block and
// unauthenticated backups are not allowed. An authenticated m with no key
// configured is AuthNoKey (its data cannot be decrypted either).
func (p AuthPolicy) Check(m *Manifest) (AuthStatus, error) {
	warn := func(st AuthStatus) (AuthStatus, error) {
		if p.Warn != nil && !m.warned {
			m.warned = true
			p.Warn("backup is not authenticated: anyone who could write the store could have altered it undetected",
				"id", m.ID, "why", string(st))
		}
		return st, nil
	}
	switch {
	case m.Auth != nil && p.Pass == nil:
		return AuthNoKey, nil
	case m.Auth != nil:
		if err := m.checkMAC(p.Pass); err != nil {
			return "", err
		}
		return AuthOK, nil
	case m.Legacy():
		return warn(AuthLegacy)
	case p.Pass == nil:
		return warn(AuthNoKeyNoAuth)
	case p.AllowUnauthenticated:
		return warn(AuthAllowed)
	}
	why := "it was made without a key (--no-encrypt)"
	if m.Encryption != nil {
		why = "it is encrypted but its auth block is missing: it was removed"
	}
	return "", fmt.Errorf("%w: backup %s carries no MAC (%s); a key is configured, so it is refused: add --allow-unauthenticated to accept it anyway",
		ErrUnauthenticated, m.ID, why)
}
