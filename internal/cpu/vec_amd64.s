//go:build !purego

#include "textflag.h"

// Elementwise loops in AVX-512F (see rows_amd64.go: addF32, accF64,
// mixRow, mixGradRow, dropScale): each element's IEEE operations in the Go
// loops' order, unfused, so the results are theirs bit for bit.

// func addF32x16(dst, a, b *float32, n int)
//
// dst[j] = a[j] + b[j] for j < n, a positive multiple of 16; dst may be a.
TEXT ·addF32x16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

addloop:
	VMOVUPS (SI)(AX*1), Z0
	VADDPS  (DX)(AX*1), Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     addloop
	VZEROUPPER
	RET

// func accF64x16(dst *float64, src *float32, n int)
//
// dst[j] += float64(src[j]) for j < n, a positive multiple of 16.
TEXT ·accF64x16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX

accloop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VADDPD    (DI), Z0, Z0
	VADDPD    64(DI), Z1, Z1
	VMOVUPD   Z0, (DI)
	VMOVUPD   Z1, 64(DI)
	ADDQ      $64, SI
	ADDQ      $128, DI
	DECQ      CX
	JNZ       accloop
	VZEROUPPER
	RET

// func mixRow16(o, w, u, m *float32, n int, inv float32)
//
// o[j] = u[j] + m[j]·(w[j] - u[j])·inv for j < n, a positive multiple of
// 16: mixout's mixed weight, in Go's order.
TEXT ·mixRow16(SB), NOSPLIT, $0-44
	MOVQ o+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ m+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS inv+40(FP), Z2
	SHLQ $2, CX
	XORQ AX, AX

mixloop:
	VMOVUPS (SI)(AX*1), Z0
	VMOVUPS (DX)(AX*1), Z1
	VSUBPS  Z1, Z0, Z0
	VMULPS  (R8)(AX*1), Z0, Z0
	VMULPS  Z2, Z0, Z0
	VADDPS  Z1, Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     mixloop
	VZEROUPPER
	RET

// func mixGradRow16(gw, gm, m *float32, n int, scale float32)
//
// gw[j] += gm[j]·m[j]·scale for j < n, a positive multiple of 16:
// mixout's backward, in Go's order.
TEXT ·mixGradRow16(SB), NOSPLIT, $0-36
	MOVQ gw+0(FP), DI
	MOVQ gm+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ n+24(FP), CX
	VBROADCASTSS scale+32(FP), Z2
	SHLQ $2, CX
	XORQ AX, AX

mixgradloop:
	VMOVUPS (SI)(AX*1), Z0
	VMULPS  (R8)(AX*1), Z0, Z0
	VMULPS  Z2, Z0, Z0
	VADDPS  (DI)(AX*1), Z0, Z0
	VMOVUPS Z0, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     mixgradloop
	VZEROUPPER
	RET

// func dropScale16(dst, src *float32, words *uint32, n int, thr uint32, scale float32)
//
// dst[j] = src[j]·scale where words[j]>>8 >= thr, else 0 (dropout with
// philox.Keep's rule); n is a positive multiple of 16.
TEXT ·dropScale16(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         words+16(FP), DX
	MOVQ         n+24(FP), CX
	MOVL         thr+32(FP), AX
	VPBROADCASTD AX, Z2
	VBROADCASTSS scale+36(FP), Z3

droploop:
	VMOVDQU32 (DX), Z0
	VPSRLD    $8, Z0, Z0
	VPCMPUD   $5, Z2, Z0, K1 // words>>8 >= thr
	VMULPS.Z  (SI), Z3, K1, Z1
	VMOVUPS   Z1, (DI)
	ADDQ      $64, DI
	ADDQ      $64, SI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JNZ       droploop
	VZEROUPPER
	RET
