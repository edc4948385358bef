package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// newCBCEncrypter returns AES-CBC encryption with key (16, 24 or 32 bytes)
// and iv. For AES-256 on CPUs with AES-NI it is cbcEnc256, whose assembly
// loop keeps the round keys in registers: the standard library's CBC
// encrypter calls the block cipher once per 16 bytes (and XORs in Go), a
// third more CPU per byte, which shows on a backup that encrypts gigabytes
// on a machine whose other core runs the database or the Swift proxy.
// CBC encryption is sequential by nature, so this is the one place where
// the time per byte is the time of the stream.
func newCBCEncrypter(key, iv []byte) (cipher.BlockMode, error) {
	if len(key) == 32 && haveCBCAsm {
		e := &cbcEnc256{}
		expandKey256(key, &e.rk)
		copy(e.iv[:], iv)
		return e, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewCBCEncrypter(block, iv), nil
}

// newCBCDecrypter is newCBCEncrypter's counterpart: cbcDec256 for
// AES-256 with AES-NI, which decrypts four blocks at once (CBC decryption
// is parallel; the standard library's does one block per call), else the
// standard library's.
func newCBCDecrypter(key, iv []byte) (cipher.BlockMode, error) {
	if len(key) == 32 && haveCBCAsm {
		d := &cbcDec256{}
		var rk [15][16]byte
		expandKey256(key, &rk)
		// The equivalent inverse cipher (FIPS 197 section 5.3.5): the
		// round keys in reverse order, InvMixColumns applied to all but
		// the first and last, as AESDEC expects them.
		d.dk[0], d.dk[14] = rk[14], rk[0]
		for i := 1; i < 14; i++ {
			d.dk[i] = invMixColumns(rk[14-i])
		}
		copy(d.iv[:], iv)
		return d, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewCBCDecrypter(block, iv), nil
}

// cbcDec256 is AES-256-CBC decryption by cbcDecryptAsm.
type cbcDec256 struct {
	dk [15][16]byte // decryption round keys
	iv [16]byte     // the last ciphertext block seen
}

func (d *cbcDec256) BlockSize() int { return aes.BlockSize }

// CryptBlocks decrypts src into dst, which may be the same slice; it
// panics like the standard library's on partial blocks or a short dst.
func (d *cbcDec256) CryptBlocks(dst, src []byte) {
	if checkBlocks(dst, src) {
		cbcDecryptAsm(&d.dk, &d.iv, dst[:len(src)], src)
	}
}

// checkBlocks panics as the standard library's CBC modes do on partial
// blocks or a short dst, and reports whether there is anything to do.
func checkBlocks(dst, src []byte) bool {
	if len(src)%aes.BlockSize != 0 {
		panic("crypto: CBC input not full blocks")
	}
	if len(dst) < len(src) {
		panic("crypto: CBC output smaller than input")
	}
	return len(src) > 0
}

// invMixColumns is AES's InvMixColumns of a round key (16 bytes, four
// columns of four).
func invMixColumns(k [16]byte) [16]byte {
	var out [16]byte
	for c := 0; c < 16; c += 4 {
		a0, a1, a2, a3 := k[c], k[c+1], k[c+2], k[c+3]
		out[c] = gmul(a0, 14) ^ gmul(a1, 11) ^ gmul(a2, 13) ^ gmul(a3, 9)
		out[c+1] = gmul(a0, 9) ^ gmul(a1, 14) ^ gmul(a2, 11) ^ gmul(a3, 13)
		out[c+2] = gmul(a0, 13) ^ gmul(a1, 9) ^ gmul(a2, 14) ^ gmul(a3, 11)
		out[c+3] = gmul(a0, 11) ^ gmul(a1, 13) ^ gmul(a2, 9) ^ gmul(a3, 14)
	}
	return out
}

// gmul multiplies in AES's GF(2^8) (polynomial x^8+x^4+x^3+x+1).
func gmul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= 0x1b
		}
		b >>= 1
	}
	return p
}

// cbcEnc256 is AES-256-CBC encryption by cbcEncryptAsm.
type cbcEnc256 struct {
	rk [15][16]byte // round keys, in the byte order AESENC takes them
	iv [16]byte     // the chaining value: the last ciphertext block
}

func (e *cbcEnc256) BlockSize() int { return aes.BlockSize }

// CryptBlocks encrypts src into dst, which may be the same slice; like
// the standard library's, it panics unless len(src) is a multiple of the
// block size and dst is at least as long.
func (e *cbcEnc256) CryptBlocks(dst, src []byte) {
	if checkBlocks(dst, src) {
		cbcEncryptAsm(&e.rk, &e.iv, dst[:len(src)], src)
	}
}

// expandKey256 is the AES-256 key schedule of FIPS 197 (section 5.2):
// 60 words, stored as 15 round keys of 16 bytes.
func expandKey256(key []byte, rk *[15][16]byte) {
	var w [60]uint32
	for i := range 8 {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := 8; i < len(w); i++ {
		t := w[i-1]
		switch i % 8 {
		case 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon <<= 1 // 8 rounds need rcon up to 0x40: no reduction
		case 4:
			t = subWord(t)
		}
		w[i] = w[i-8] ^ t
	}
	for r := range rk {
		for j := range 4 {
			binary.BigEndian.PutUint32(rk[r][4*j:], w[4*r+j])
		}
	}
}

func subWord(w uint32) uint32 {
	return uint32(sbox[w>>24])<<24 | uint32(sbox[w>>16&0xff])<<16 | uint32(sbox[w>>8&0xff])<<8 | uint32(sbox[w&0xff])
}

// sbox is the AES S-box (FIPS 197, figure 7).
var sbox = [256]byte{
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
	0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
	0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
	0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
	0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
	0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
	0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
	0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
	0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
	0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
	0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
}
