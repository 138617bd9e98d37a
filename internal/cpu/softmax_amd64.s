//go:build !purego

#include "textflag.h"
#include "macros_amd64.h"

// The attention's row loops with AVX-512F (see attention.go): the same
// float32 operations as the Go loops, in the same order and unfused, so
// every element comes out bit for bit as the Go loop's; only the float64
// sums are added in another order.

// BCAST(bits, z) broadcasts a 32-bit constant into z.
#define BCAST(bits, z) \
	MOVL         $bits, AX; \
	VPBROADCASTD AX, z

// func softmaxRow16(row *float32, n int)
//
// softmaxRow's no-padding case: row[j] = e^max(row[j]-max, -87) / Σ, e^x
// by expf's polynomial as softmaxRow inlines it, Σ in float64. n is a
// positive multiple of 16.
TEXT ·softmaxRow16(SB), NOSPLIT, $0-16
	MOVQ row+0(FP), SI
	MOVQ n+8(FP), CX

	// The maximum; a NaN never replaces it (s > max is false).
	BCAST(0xff800000, Z0)
	MOVQ SI, DI
	MOVQ CX, DX

smaxloop:
	VMOVUPS (DI), Z1
	VMAXPS  Z0, Z1, Z0 // (s > max) ? s : max
	ADDQ    $64, DI
	SUBQ    $16, DX
	JNZ     smaxloop
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y0, Y1, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X0, X1, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X0, X1, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXPS        X0, X1, X0
	VBROADCASTSS  X0, Z2

	BCAST(0xc2ae0000, Z3)  // -87
	BCAST(0x3fb8aa3b, Z4)  // log2(e)
	BCAST(0x4b400000, Z5)  // 1.5·2^23
	BCAST(0x3f318000, Z6)  // ln2 high part
	BCAST(0x395e8083, Z7)  // -(ln2 low part)
	BCAST(0x39506967, Z8)  // the polynomial, highest degree first
	BCAST(0x3ab743ce, Z9)
	BCAST(0x3c088908, Z10)
	BCAST(0x3d2aa9c1, Z11)
	BCAST(0x3e2aaaaa, Z12)
	BCAST(0x3f000000, Z13)
	BCAST(0x3f800000, Z14) // 1
	BCAST(0x007fffff, Z15)
	BCAST(0xffc0007f, Z16) // 127 - 0x400000
	VPXORQ Z17, Z17, Z17
	VPXORQ Z18, Z18, Z18
	MOVQ   SI, DI
	MOVQ   CX, DX

sexploop:
	VMOVUPS (DI), Z20
	VSUBPS  Z2, Z20, Z20  // x = s - max
	VMAXPS  Z20, Z3, Z20  // (-87 > x) ? -87 : x
	VMULPS  Z4, Z20, Z21
	VADDPS  Z5, Z21, Z21  // t
	VSUBPS  Z5, Z21, Z22  // n
	VMULPS  Z6, Z22, Z23
	VSUBPS  Z23, Z20, Z23
	VMULPS  Z7, Z22, Z24
	VADDPS  Z24, Z23, Z23 // r
	VMULPS  Z23, Z8, Z24
	VADDPS  Z9, Z24, Z24
	VMULPS  Z23, Z24, Z24
	VADDPS  Z10, Z24, Z24
	VMULPS  Z23, Z24, Z24
	VADDPS  Z11, Z24, Z24
	VMULPS  Z23, Z24, Z24
	VADDPS  Z12, Z24, Z24
	VMULPS  Z23, Z24, Z24
	VADDPS  Z13, Z24, Z24 // p
	VMULPS  Z23, Z24, Z24
	VMULPS  Z23, Z24, Z24
	VADDPS  Z23, Z24, Z24
	VADDPS  Z14, Z24, Z24 // p·r·r + r + 1
	VPANDD  Z15, Z21, Z25
	VPADDD  Z16, Z25, Z25
	VPSLLD  $23, Z25, Z25 // 2^n
	VMULPS  Z25, Z24, Z24
	VMOVUPS Z24, (DI)
	VCVTPS2PD     Y24, Z26
	VADDPD        Z26, Z17, Z17
	VEXTRACTF32X8 $1, Z24, Y27
	VCVTPS2PD     Y27, Z27
	VADDPD        Z27, Z18, Z18
	ADDQ    $64, DI
	SUBQ    $16, DX
	JNZ     sexploop

	VADDPD        Z18, Z17, Z0
	HSUMPD
	// inv = float32(1 / Σ)
	MOVQ          $0x3ff0000000000000, AX
	MOVQ          AX, X1
	VDIVSD        X0, X1, X1
	VCVTSD2SS     X1, X1, X1
	VBROADCASTSS  X1, Z19

sscaleloop:
	VMULPS  (SI), Z19, Z20
	VMOVUPS Z20, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JNZ     sscaleloop
	VZEROUPPER
	RET

// func dotF64(a, b *float32, n int) float64
//
// Σ float64(a[j])·float64(b[j]) (each product exact), n a positive
// multiple of 16.
TEXT ·dotF64(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1

dotloop:
	VCVTPS2PD   (SI), Z2
	VCVTPS2PD   (DI), Z3
	VFMADD231PD Z3, Z2, Z0
	VCVTPS2PD   32(SI), Z4
	VCVTPS2PD   32(DI), Z5
	VFMADD231PD Z5, Z4, Z1
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JNZ         dotloop

	VADDPD        Z1, Z0, Z0
	HSUMPD
	MOVSD         X0, ret+24(FP)
	VZEROUPPER
	RET

// func softmaxGradRow16(gr, pv, p *float32, n int, d, scale float32)
//
// gr[j] = scale·(pv[j]·gr[j] − p[j]·d), unfused as attentionBackward's
// loop; n is a positive multiple of 16.
TEXT ·softmaxGradRow16(SB), NOSPLIT, $0-40
	MOVQ         gr+0(FP), DI
	MOVQ         pv+8(FP), SI
	MOVQ         p+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS d+32(FP), Z0
	VBROADCASTSS scale+36(FP), Z1

gradloop:
	VMOVUPS (SI), Z2
	VMULPS  (DI), Z2, Z2 // pv·g
	VMOVUPS (DX), Z3
	VMULPS  Z0, Z3, Z3   // p·d
	VSUBPS  Z3, Z2, Z2
	VMULPS  Z1, Z2, Z2
	VMOVUPS Z2, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $64, DX
	SUBQ    $16, CX
	JNZ     gradloop
	VZEROUPPER
	RET
