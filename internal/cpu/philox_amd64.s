//go:build !purego

#include "textflag.h"

// Philox4x32-10 with AVX-512F (see philox.go's fillWords): sixteen blocks
// side by side, block j of the call in lane j, the same 32-bit arithmetic
// as philox.Block; the words come out in the stream's order.

// MULHILO(x, m, hi, lo) sets hi and lo to the high and low halves of the
// 64-bit products of x's lanes with m's (K1 selects the odd lanes); Z14
// and Z15 are clobbered.
#define MULHILO(x, m, hi, lo) \
	VPMULUDQ  m, x, Z14;       \
	VPSRLQ    $32, x, Z15;     \
	VPMULUDQ  m, Z15, Z15;     \
	VPSLLQ    $32, Z15, lo;    \
	VPBLENDMD lo, Z14, K1, lo; \
	VPSRLQ    $32, Z14, hi;    \
	VPBLENDMD Z15, hi, K1, hi

// ROUND: (a0, a1, a2, a3) = (hi(M1·a2)^a1^k0, lo(M1·a2), hi(M0·a0)^a3^k1, lo(M0·a0)).
#define ROUND \
	MULHILO(Z0, Z4, Z10, Z11); \
	MULHILO(Z2, Z5, Z12, Z13); \
	VPTERNLOGD $0x96, Z6, Z1, Z12; \
	VPTERNLOGD $0x96, Z7, Z3, Z10; \
	VMOVDQA32  Z12, Z0;            \
	VMOVDQA32  Z13, Z1;            \
	VMOVDQA32  Z10, Z2;            \
	VMOVDQA32  Z11, Z3

// STORE4(q) stores the 128-bit chunks q of u0..u3 (Z20..Z23): blocks 4q..4q+3.
#define STORE4(q) \
	VEXTRACTI32X4 $q, Z20, (q*64)(DI);    \
	VEXTRACTI32X4 $q, Z21, (q*64+16)(DI); \
	VEXTRACTI32X4 $q, Z22, (q*64+32)(DI); \
	VEXTRACTI32X4 $q, Z23, (q*64+48)(DI)

// func philox16(dst *uint32, blocks int, b, id, st0, st1, k0, k1 uint32)
//
// dst[4i..4i+3] = philox.Block({b+i, id, st0, st1}, {k0, k1}) for
// i < blocks, a positive multiple of 16.
TEXT ·philox16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ blocks+8(FP), CX
	SHRQ $4, CX
	MOVL $0xaaaa, AX
	KMOVW AX, K1
	MOVL         b+16(FP), AX
	VPBROADCASTD AX, Z16
	VPADDD       ·lanes16(SB), Z16, Z16
	MOVL         $16, AX
	VPBROADCASTD AX, Z17
	MOVL         $0xD2511F53, AX
	VPBROADCASTD AX, Z4
	MOVL         $0xCD9E8D57, AX
	VPBROADCASTD AX, Z5
	MOVL         $0x9E3779B9, AX
	VPBROADCASTD AX, Z8
	MOVL         $0xBB67AE85, AX
	VPBROADCASTD AX, Z9
	MOVL         id+20(FP), AX
	VPBROADCASTD AX, Z18
	MOVL         st0+24(FP), AX
	VPBROADCASTD AX, Z19
	MOVL         st1+28(FP), AX
	VPBROADCASTD AX, Z24
	MOVL         k0+32(FP), AX
	VPBROADCASTD AX, Z25
	MOVL         k1+36(FP), AX
	VPBROADCASTD AX, Z26

philoxloop:
	VMOVDQA32 Z16, Z0
	VMOVDQA32 Z18, Z1
	VMOVDQA32 Z19, Z2
	VMOVDQA32 Z24, Z3
	VMOVDQA32 Z25, Z6
	VMOVDQA32 Z26, Z7
	MOVQ      $10, DX

roundloop:
	ROUND
	VPADDD Z8, Z6, Z6
	VPADDD Z9, Z7, Z7
	DECQ   DX
	JNZ    roundloop

	// Lane j holds block j's four words in Z0..Z3: transpose to the
	// stream's order within each 128-bit chunk, then store by chunks.
	VPUNPCKLDQ  Z1, Z0, Z10
	VPUNPCKHDQ  Z1, Z0, Z11
	VPUNPCKLDQ  Z3, Z2, Z12
	VPUNPCKHDQ  Z3, Z2, Z13
	VPUNPCKLQDQ Z12, Z10, Z20
	VPUNPCKHQDQ Z12, Z10, Z21
	VPUNPCKLQDQ Z13, Z11, Z22
	VPUNPCKHQDQ Z13, Z11, Z23
	STORE4(0)
	STORE4(1)
	STORE4(2)
	STORE4(3)
	ADDQ   $256, DI
	VPADDD Z17, Z16, Z16
	DECQ   CX
	JNZ    philoxloop
	VZEROUPPER
	RET
