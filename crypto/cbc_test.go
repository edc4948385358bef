package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// stdCBC is the standard library's CBC encrypter, the reference.
func stdCBC(t testing.TB, key, iv []byte) cipher.BlockMode {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return cipher.NewCBCEncrypter(b, iv)
}

// TestExpandKey256 checks the key schedule against FIPS 197 appendix
// A.3 (the last round key) and C.3 (the ciphertext of its example).
func TestExpandKey256(t *testing.T) {
	key, _ := hex.DecodeString("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
	var rk [15][16]byte
	expandKey256(key, &rk)
	if got := hex.EncodeToString(rk[14][:]); got != "fe4890d1e6188d0b046df344706c631e" {
		t.Errorf("round key 14 = %s", got)
	}
	if got := hex.EncodeToString(rk[2][:]); got != "9ba354118e6925afa51a8b5f2067fcde" {
		t.Errorf("round key 2 = %s", got)
	}
	if !haveCBCAsm {
		t.Skip("no AES-NI: the assembly is not used here")
	}
	key, _ = hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	pt, _ := hex.DecodeString("00112233445566778899aabbccddeeff")
	m, err := newCBCEncrypter(key, make([]byte, 16)) // a zero IV: one block is plain AES
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*cbcEnc256); !ok {
		t.Fatalf("AES-256 with AES-NI got %T", m)
	}
	ct := make([]byte, 16)
	m.CryptBlocks(ct, pt)
	if got := hex.EncodeToString(ct); got != "8ea2b7ca516745bfeafc49904b496089" {
		t.Errorf("FIPS 197 C.3: %s", got)
	}
}

// TestCBCEncrypterMatchesStdlib: any key, IV, length, in place or not,
// in one call or many, the same ciphertext as crypto/cipher.
func TestCBCEncrypterMatchesStdlib(t *testing.T) {
	for _, keyLen := range []int{16, 24, 32} {
		for trial := range 20 {
			key := make([]byte, keyLen)
			iv := make([]byte, 16)
			rand.Read(key)
			rand.Read(iv)
			n := 16 * (trial * trial * 7 % 300)
			src := make([]byte, n)
			rand.Read(src)
			want := make([]byte, n)
			stdCBC(t, key, iv).CryptBlocks(want, src)

			m, err := newCBCEncrypter(key, iv)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n)
			// In pieces of varying size: the chaining value carries over.
			for off, step := 0, 16; off < n; off, step = off+step, step*2 {
				end := min(off+step, n)
				m.CryptBlocks(got[off:end], src[off:end])
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("key %d bytes, %d bytes in pieces: ciphertext differs", keyLen, n)
			}
			m, _ = newCBCEncrypter(key, iv)
			inPlace := append([]byte(nil), src...)
			m.CryptBlocks(inPlace, inPlace)
			if !bytes.Equal(inPlace, want) {
				t.Fatalf("key %d bytes, %d bytes in place: ciphertext differs", keyLen, n)
			}
		}
	}
}

func TestCBCEncrypterPanics(t *testing.T) {
	key := make([]byte, 32)
	for name, f := range map[string]func(m cipher.BlockMode){
		"partial block": func(m cipher.BlockMode) { m.CryptBlocks(make([]byte, 32), make([]byte, 17)) },
		"short dst":     func(m cipher.BlockMode) { m.CryptBlocks(make([]byte, 16), make([]byte, 32)) },
	} {
		m, err := newCBCEncrypter(key, make([]byte, 16))
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(m)
		}()
	}
}

// FuzzCBCEncrypter compares with the standard library on arbitrary input.
func FuzzCBCEncrypter(f *testing.F) {
	f.Add(make([]byte, 32), make([]byte, 16), []byte("sixteen byte blk"))
	f.Fuzz(func(t *testing.T, key, iv, src []byte) {
		if len(key) != 32 || len(iv) != 16 {
			return
		}
		src = src[:len(src)&^15]
		want := make([]byte, len(src))
		stdCBC(t, key, iv).CryptBlocks(want, src)
		m, err := newCBCEncrypter(key, iv)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(src))
		m.CryptBlocks(got, src)
		if !bytes.Equal(got, want) {
			t.Fatal("ciphertext differs from crypto/cipher's")
		}
	})
}

func stdCBCDec(t testing.TB, key, iv []byte) cipher.BlockMode {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return cipher.NewCBCDecrypter(b, iv)
}

// TestCBCDecrypterMatchesStdlib: every length (the four-block loop and
// the single-block tail), in place or not, in pieces: the same plaintext
// as crypto/cipher, and the round trip of the encrypter.
func TestCBCDecrypterMatchesStdlib(t *testing.T) {
	for _, keyLen := range []int{16, 32} {
		for blocks := 0; blocks < 40; blocks++ {
			key := make([]byte, keyLen)
			iv := make([]byte, 16)
			rand.Read(key)
			rand.Read(iv)
			plain := make([]byte, 16*blocks)
			rand.Read(plain)
			ct := make([]byte, len(plain))
			stdCBC(t, key, iv).CryptBlocks(ct, plain)

			m, err := newCBCDecrypter(key, iv)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.(*cbcDec256); ok != (keyLen == 32 && haveCBCAsm) {
				t.Fatalf("key of %d bytes: %T", keyLen, m)
			}
			got := make([]byte, len(ct))
			for off, step := 0, 16; off < len(ct); off, step = off+step, step+48 { // 1, 4, 7, ... blocks
				end := min(off+step, len(ct))
				m.CryptBlocks(got[off:end], ct[off:end])
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("key %d bytes, %d blocks in pieces: plaintext differs", keyLen, blocks)
			}
			m, _ = newCBCDecrypter(key, iv)
			inPlace := append([]byte(nil), ct...)
			m.CryptBlocks(inPlace, inPlace)
			if !bytes.Equal(inPlace, plain) {
				t.Fatalf("key %d bytes, %d blocks in place: plaintext differs", keyLen, blocks)
			}
			want := make([]byte, len(ct))
			stdCBCDec(t, key, iv).CryptBlocks(want, ct)
			if !bytes.Equal(want, plain) {
				t.Fatal("the reference itself disagrees")
			}
		}
	}
	m, _ := newCBCDecrypter(make([]byte, 32), make([]byte, 16))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("partial block: no panic")
			}
		}()
		m.CryptBlocks(make([]byte, 32), make([]byte, 17))
	}()
}

// FuzzCBCDecrypter compares with the standard library on arbitrary input.
func FuzzCBCDecrypter(f *testing.F) {
	f.Add(make([]byte, 32), make([]byte, 16), bytes.Repeat([]byte("sixteen byte blk"), 5))
	f.Fuzz(func(t *testing.T, key, iv, src []byte) {
		if len(key) != 32 || len(iv) != 16 {
			return
		}
		src = src[:len(src)&^15]
		want := make([]byte, len(src))
		stdCBCDec(t, key, iv).CryptBlocks(want, src)
		m, err := newCBCDecrypter(key, iv)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(src))
		m.CryptBlocks(got, src)
		if !bytes.Equal(got, want) {
			t.Fatal("plaintext differs from crypto/cipher's")
		}
	})
}

// BenchmarkCBC: the standard library's CBC modes against mybak's.
func BenchmarkCBC(b *testing.B) {
	key := make([]byte, 32)
	iv := make([]byte, 16)
	buf := make([]byte, 1<<20)
	mine := func(f func(key, iv []byte) (cipher.BlockMode, error)) cipher.BlockMode {
		m, err := f(key, iv)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	for _, impl := range []struct {
		name string
		m    cipher.BlockMode
	}{
		{"encrypt/stdlib", stdCBC(b, key, iv)},
		{"encrypt/mybak", mine(newCBCEncrypter)},
		{"decrypt/stdlib", stdCBCDec(b, key, iv)},
		{"decrypt/mybak", mine(newCBCDecrypter)},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				impl.m.CryptBlocks(buf, buf)
			}
		})
	}
}
