//go:build !purego

#include "textflag.h"

// GELU's table lookups (gelu.go's tabulated) with AVX-512F: the same
// float32 operations unfused and in the same order, two gathers for the
// interpolation's ends, so each element is bit for bit the Go loop's.

// TABULATED(x) leaves tabulated(tab, x) in Z6 for the 16 values in x,
// with the table at R9 and the constants Z20..Z25 of GELUCONSTS: K4 is the
// lanes inside (−8, 8) (each gather consumes its copy of it), K3 those at
// 8 or above, which get 1; the others (at −8 or below, NaN) get 0.
#define TABULATED(x) \
	VCMPPS     $0x1e, Z20, x, K4; \
	VCMPPS     $0x11, Z21, x, K1; \
	KANDW      K4, K1, K4; \
	KMOVW      K4, K1; \
	KMOVW      K4, K2; \
	VCMPPS     $0x1d, Z21, x, K3; \
	VMULPS     Z22, x, Z2; \
	VADDPS     Z23, Z2, Z3; \
	VCVTTPS2DQ Z3, Z3; \
	VPSUBD     Z24, Z3, Z4; \
	VCVTDQ2PS  Z4, Z4; \
	VSUBPS     Z4, Z2, Z4; \
	VPXORD     Z5, Z5, Z5; \
	VPXORD     Z6, Z6, Z6; \
	VGATHERDPS (R9)(Z3*4), K1, Z5; \
	VGATHERDPS 4(R9)(Z3*4), K2, Z6; \
	VSUBPS     Z5, Z6, Z6; \
	VMULPS     Z6, Z4, Z6; \
	VADDPS     Z6, Z5, Z6; \
	VMOVAPS.Z  Z6, K4, Z6; \
	VMOVAPS    Z25, K3, Z6

// GELUCONSTS loads -8, 8, 512, 4096 (float), 4096 (int) and 1.
#define GELUCONSTS \
	MOVL         $0xc1000000, AX; \
	VPBROADCASTD AX, Z20; \
	MOVL         $0x41000000, AX; \
	VPBROADCASTD AX, Z21; \
	MOVL         $0x44000000, AX; \
	VPBROADCASTD AX, Z22; \
	MOVL         $0x45800000, AX; \
	VPBROADCASTD AX, Z23; \
	MOVL         $4096, AX; \
	VPBROADCASTD AX, Z24; \
	MOVL         $0x3f800000, AX; \
	VPBROADCASTD AX, Z25

// func geluRow16(o, x *float32, n int, tab *float32)
//
// o[j] = x[j]·tabulated(tab, x[j]); n is a positive multiple of 16.
TEXT ·geluRow16(SB), NOSPLIT, $0-32
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ tab+24(FP), R9
	GELUCONSTS

geluloop:
	VMOVUPS (SI), Z1
	TABULATED(Z1)
	VMULPS  Z6, Z1, Z6
	VMOVUPS Z6, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     geluloop
	VZEROUPPER
	RET

// func geluGradRow16(dx, dy, x *float32, n int, tab *float32)
//
// dx[j] = dy[j]·tabulated(tab, x[j]); n is a positive multiple of 16.
TEXT ·geluGradRow16(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ tab+32(FP), R9
	GELUCONSTS

gelugradloop:
	VMOVUPS (SI), Z1
	TABULATED(Z1)
	VMULPS  (DX), Z6, Z6
	VMOVUPS Z6, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     gelugradloop
	VZEROUPPER
	RET
