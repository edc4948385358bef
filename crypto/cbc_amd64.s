//go:build amd64 && !purego

#include "textflag.h"

// func cbcEncryptAsm(rk *[15][16]byte, iv *[16]byte, dst, src []byte)
TEXT ·cbcEncryptAsm(SB), NOSPLIT, $0-64
	MOVQ rk+0(FP), AX
	MOVQ iv+8(FP), BX
	MOVQ dst_base+16(FP), DI
	MOVQ src_base+40(FP), SI
	MOVQ src_len+48(FP), CX
	SHRQ $4, CX

	// X0: the chaining value; X1: the block being read and round key 0
	// (loaded each time: 16 registers hold the 14 others and X0, X1).
	MOVOU (BX), X0
	MOVOU 16(AX), X2
	MOVOU 32(AX), X3
	MOVOU 48(AX), X4
	MOVOU 64(AX), X5
	MOVOU 80(AX), X6
	MOVOU 96(AX), X7
	MOVOU 112(AX), X8
	MOVOU 128(AX), X9
	MOVOU 144(AX), X10
	MOVOU 160(AX), X11
	MOVOU 176(AX), X12
	MOVOU 192(AX), X13
	MOVOU 208(AX), X14
	MOVOU 224(AX), X15

loop:
	MOVOU (SI), X1
	PXOR  X1, X0
	MOVOU (AX), X1
	PXOR  X1, X0
	AESENC X2, X0
	AESENC X3, X0
	AESENC X4, X0
	AESENC X5, X0
	AESENC X6, X0
	AESENC X7, X0
	AESENC X8, X0
	AESENC X9, X0
	AESENC X10, X0
	AESENC X11, X0
	AESENC X12, X0
	AESENC X13, X0
	AESENC X14, X0
	AESENCLAST X15, X0
	MOVOU X0, (DI)
	ADDQ  $16, SI
	ADDQ  $16, DI
	DECQ  CX
	JNZ   loop

	MOVOU X0, (BX)
	RET
