package pitr

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/mybak/mybak/backup"
)

// Piece records are authenticated as backup manifests are (backup/auth.go):
// with a key configured, each record ends with a line
// {"alg":"hmac-sha256","kdf":"pbkdf2-sha256+hkdf-sha256","iter":N,"salt":HEX,"mac":HEX}
// whose MAC (HMAC-SHA-256) covers the record's bytes before it exactly as
// stored. The MAC key is PBKDF2-HMAC-SHA256(passphrase, salt, iter) then
// HKDF-SHA256 with info "mybak binlog piece mac v1": never the encryption
// key, and no cheaper to guess the passphrase with than the data. One salt
// serves all the records of one archiver run, so readers derive a key per
// run, not per record. With a key, a record without a MAC or with a wrong
// one is refused (listed as damaged, never used); without a key records
// are read unchecked, as unencrypted backups are.

const (
	pieceAuthInfo = "mybak binlog piece mac v1"
	pieceAuthIter = 10000
	pieceSaltLen  = 16
)

type recordAuth struct {
	Alg  string `json:"alg"`
	KDF  string `json:"kdf"`
	Iter int    `json:"iter"`
	Salt string `json:"salt"`
	MAC  string `json:"mac"`
}

func pieceKey(pass []byte, salt []byte, iter int) ([]byte, error) {
	return backup.MACKey(pass, salt, iter, pieceAuthInfo)
}

// sealer authenticates the records of one archiver run.
type sealer struct {
	salt []byte
	key  []byte
}

func newSealer(pass []byte) (*sealer, error) {
	if pass == nil {
		return nil, nil
	}
	salt := make([]byte, pieceSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	k, err := pieceKey(pass, salt, pieceAuthIter)
	if err != nil {
		return nil, err
	}
	return &sealer{salt: salt, key: k}, nil
}

// seal returns the stored form of a record body: the body, and with a key
// its auth line.
func (s *sealer) seal(body []byte) []byte {
	out := append(append([]byte(nil), body...), '\n')
	if s == nil {
		return out
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	a, _ := json.Marshal(recordAuth{Alg: backup.AuthAlg, KDF: backup.AuthKDF, Iter: pieceAuthIter,
		Salt: hex.EncodeToString(s.salt), MAC: hex.EncodeToString(m.Sum(nil))})
	return append(append(out, a...), '\n')
}

// openRecord splits a stored record into its body and checks its MAC
// when pass is set.
func openRecord(b, pass []byte) ([]byte, error) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	body, last := b, []byte(nil)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 && bytes.HasPrefix(b[i+1:], []byte(`{"alg"`)) {
		body, last = b[:i], b[i+1:]
	}
	if pass == nil {
		return body, nil
	}
	if last == nil {
		return nil, fmt.Errorf("%w: the record has no MAC, and a key is configured (it was written without one, or its MAC was removed)", backup.ErrUnauthenticated)
	}
	var a recordAuth
	if err := json.Unmarshal(last, &a); err != nil {
		return nil, fmt.Errorf("%w: its auth line: %v", backup.ErrAuthentication, err)
	}
	salt, err := hex.DecodeString(a.Salt)
	mac, err2 := hex.DecodeString(a.MAC)
	if a.Alg != backup.AuthAlg || a.KDF != backup.AuthKDF || a.Iter < 1 || a.Iter > 1000000 || err != nil || len(salt) != pieceSaltLen ||
		err2 != nil || len(mac) != sha256.Size {
		return nil, fmt.Errorf("%w: its auth line is not one mybak writes", backup.ErrAuthentication)
	}
	k, err := pieceKey(pass, salt, a.Iter)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), mac) {
		return nil, fmt.Errorf("%w: its MAC does not match (the record was altered, or the key is not the one it was written with)", backup.ErrAuthentication)
	}
	return body, nil
}
