//go:build amd64 && !purego

package crypto

import "golang.org/x/sys/cpu"

var haveCBCAsm = cpu.X86.HasAES && cpu.X86.HasSSE2

// cbcEncryptAsm encrypts len(src)/16 blocks of src into dst with the
// AES-256 round keys rk, chaining from iv, and leaves the last ciphertext
// block in iv. len(src) must be a positive multiple of 16, dst as long.
//
//go:noescape
func cbcEncryptAsm(rk *[15][16]byte, iv *[16]byte, dst, src []byte)

// cbcDecryptAsm decrypts len(src)/16 blocks of src into dst with the
// AES-256 decryption round keys dk (the equivalent inverse cipher's),
// chaining from iv, and leaves the last ciphertext block in iv. len(src)
// must be a positive multiple of 16, dst as long; dst may be src.
//
//go:noescape
func cbcDecryptAsm(dk *[15][16]byte, iv *[16]byte, dst, src []byte)
