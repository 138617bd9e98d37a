//go:build !purego

#include "textflag.h"

// AdamW's update (see train.go's adamwRange) sixteen elements at a time in
// AVX-512F: the same float32 operations in the same order, unfused, each
// correctly rounded as Go's scalar ones are (VSQRTPS is the float32 square
// root Go gets by rounding math.Sqrt of the widened value), so the result
// is the Go loop's bit for bit.

// ADAMW_REST finishes an element block whose decayed parameter is in Z0:
//
//	gi = g·scale
//	m  = m·β1 + gi·(1-β1)
//	v  = v·β2 + (1-β2)·gi·gi
//	p  = p - step·(m / (√v/√bc2 + eps))
//
// and stores m, v and p. R8 is the byte offset, advanced by 64; Z20..Z29
// the constants (grad scale, decay, lr·wd, β1, β2, 1-β1, 1-β2, step size,
// √bc2, eps).
#define ADAMW_REST \
	VMULPS  (SI)(R8*1), Z20, Z2;  \
	VMULPS  (R9)(R8*1), Z23, Z3;  \
	VMULPS  Z2, Z25, Z4;          \
	VADDPS  Z4, Z3, Z3;           \
	VMOVUPS Z3, (R9)(R8*1);       \
	VMULPS  (R10)(R8*1), Z24, Z5; \
	VMULPS  Z2, Z26, Z6;          \
	VMULPS  Z2, Z6, Z6;           \
	VADDPS  Z6, Z5, Z5;           \
	VMOVUPS Z5, (R10)(R8*1);      \
	VSQRTPS Z5, Z7;               \
	VDIVPS  Z28, Z7, Z7;          \
	VADDPS  Z29, Z7, Z7;          \
	VDIVPS  Z7, Z3, Z8;           \
	VMULPS  Z8, Z27, Z8;          \
	VSUBPS  Z8, Z0, Z0;           \
	VMOVUPS Z0, (DI)(R8*1);       \
	ADDQ    $64, R8

// func adamwRow16(p, gr, m, v, t *float32, n int, k *[10]float32, mode int)
//
// n is a positive multiple of 16; mode 0 leaves the parameter undecayed, 1
// multiplies it by k's decay, 2 moves it toward t by lr·wd (mixout's
// target); t is read only in mode 2.
TEXT ·adamwRow16(SB), NOSPLIT, $0-64
	MOVQ p+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), R9
	MOVQ v+24(FP), R10
	MOVQ t+32(FP), R11
	MOVQ n+40(FP), CX
	MOVQ k+48(FP), AX
	MOVQ mode+56(FP), DX
	VBROADCASTSS 0(AX), Z20
	VBROADCASTSS 4(AX), Z21
	VBROADCASTSS 8(AX), Z22
	VBROADCASTSS 12(AX), Z23
	VBROADCASTSS 16(AX), Z24
	VBROADCASTSS 20(AX), Z25
	VBROADCASTSS 24(AX), Z26
	VBROADCASTSS 28(AX), Z27
	VBROADCASTSS 32(AX), Z28
	VBROADCASTSS 36(AX), Z29
	XORQ R8, R8
	SHLQ $2, CX
	CMPQ DX, $1
	JEQ  scaleloop
	JGT  targetloop

plainloop:
	VMOVUPS (DI)(R8*1), Z0
	ADAMW_REST
	CMPQ R8, CX
	JLT  plainloop
	JMP  adamwdone

scaleloop:
	VMULPS (DI)(R8*1), Z21, Z0 // p·decay
	ADAMW_REST
	CMPQ R8, CX
	JLT  scaleloop
	JMP  adamwdone

targetloop:
	VMOVUPS (DI)(R8*1), Z0
	VSUBPS  (R11)(R8*1), Z0, Z1 // p - t
	VMULPS  Z1, Z22, Z1         // lr·wd·(p - t)
	VSUBPS  Z1, Z0, Z0
	ADAMW_REST
	CMPQ R8, CX
	JLT  targetloop

adamwdone:
	VZEROUPPER
	RET
