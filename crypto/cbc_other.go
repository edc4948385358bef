//go:build !amd64 || purego

package crypto

const haveCBCAsm = false

func cbcEncryptAsm(rk *[15][16]byte, iv *[16]byte, dst, src []byte) {
	panic("crypto: no CBC assembly on this platform")
}

func cbcDecryptAsm(dk *[15][16]byte, iv *[16]byte, dst, src []byte) {
	panic("crypto: no CBC assembly on this platform")
}
