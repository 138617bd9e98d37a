//go:build !purego

#include "textflag.h"
#include "macros_amd64.h"

// Micro-kernels of the packed SGEMM (see gemm.go). Each computes one MR×NR
// tile of C from a packed A micro-panel (k steps of MR values) and a packed
// B micro-panel (k steps of NR values):
//
//	acc = Σ_p a[p*MR:(p+1)*MR] ⊗ b[p*NR:(p+1)*NR]
//	C   = alpha*acc + beta*C     (C not read when beta == 0)
//
// C is row-major with a leading dimension of ldc elements.

// ---------------------------------------------------------------- AVX-512: 8×32

// One k step: two 16-float vectors of B, eight broadcasts of A, 16 FMAs
// into Z8..Z23 (row r in Z(8+2r), Z(9+2r)).
#define STEP512(aoff, boff) \
	VMOVUPS      boff(BX), Z0;          \
	VMOVUPS      boff+64(BX), Z1;       \
	VBROADCASTSS aoff(AX), Z2;          \
	VBROADCASTSS aoff+4(AX), Z3;        \
	VFMADD231PS  Z0, Z2, Z8;            \
	VFMADD231PS  Z1, Z2, Z9;            \
	VFMADD231PS  Z0, Z3, Z10;           \
	VFMADD231PS  Z1, Z3, Z11;           \
	VBROADCASTSS aoff+8(AX), Z4;        \
	VBROADCASTSS aoff+12(AX), Z5;       \
	VFMADD231PS  Z0, Z4, Z12;           \
	VFMADD231PS  Z1, Z4, Z13;           \
	VFMADD231PS  Z0, Z5, Z14;           \
	VFMADD231PS  Z1, Z5, Z15;           \
	VBROADCASTSS aoff+16(AX), Z6;       \
	VBROADCASTSS aoff+20(AX), Z7;       \
	VFMADD231PS  Z0, Z6, Z16;           \
	VFMADD231PS  Z1, Z6, Z17;           \
	VFMADD231PS  Z0, Z7, Z18;           \
	VFMADD231PS  Z1, Z7, Z19;           \
	VBROADCASTSS aoff+24(AX), Z2;       \
	VBROADCASTSS aoff+28(AX), Z3;       \
	VFMADD231PS  Z0, Z2, Z20;           \
	VFMADD231PS  Z1, Z2, Z21;           \
	VFMADD231PS  Z0, Z3, Z22;           \
	VFMADD231PS  Z1, Z3, Z23

// Row store: C[row] = alpha*acc (+ beta*C[row]); Z0 = alpha, Z1 = beta, R8 the row.
#define STORE512_B0(lo, hi) \
	VMULPS  Z0, lo, lo;     \
	VMULPS  Z0, hi, hi;     \
	VMOVUPS lo, (R8);       \
	VMOVUPS hi, 64(R8);     \
	ADDQ    DX, R8

#define STORE512(lo, hi)           \
	VMULPS      Z0, lo, lo;        \
	VMULPS      Z0, hi, hi;        \
	VFMADD231PS (R8), Z1, lo;      \
	VFMADD231PS 64(R8), Z1, hi;    \
	VMOVUPS     lo, (R8);          \
	VMOVUPS     hi, 64(R8);        \
	ADDQ        DX, R8

// func sgemmKernel8x32(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel8x32(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), R8
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	// C's tile, read or written at the end, is fetched meanwhile.
	MOVQ R8, SI
	PREFETCH_ROWS4(SI, DX)
	PREFETCH_ROWS4(SI, DX)

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail512

loop512:
	STEP512(0, 0)
	STEP512(32, 128)
	STEP512(64, 256)
	STEP512(96, 384)
	ADDQ $128, AX
	ADDQ $512, BX
	DECQ R9
	JNZ  loop512

tail512:
	ANDQ $3, CX
	JZ   store512

tailloop512:
	STEP512(0, 0)
	ADDQ $32, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  tailloop512

store512:
	VBROADCASTSS alpha+40(FP), Z0
	MOVSS        beta+44(FP), X1
	XORPS        X2, X2
	UCOMISS      X2, X1
	JNE          beta512
	JPS          beta512
	STORE512_B0(Z8, Z9)
	STORE512_B0(Z10, Z11)
	STORE512_B0(Z12, Z13)
	STORE512_B0(Z14, Z15)
	STORE512_B0(Z16, Z17)
	STORE512_B0(Z18, Z19)
	STORE512_B0(Z20, Z21)
	STORE512_B0(Z22, Z23)
	VZEROUPPER
	RET

beta512:
	VBROADCASTSS beta+44(FP), Z1
	STORE512(Z8, Z9)
	STORE512(Z10, Z11)
	STORE512(Z12, Z13)
	STORE512(Z14, Z15)
	STORE512(Z16, Z17)
	STORE512(Z18, Z19)
	STORE512(Z20, Z21)
	STORE512(Z22, Z23)
	VZEROUPPER
	RET

// ---------------------------------------------------------------- AVX2+FMA: 6×16

// One k step: two 8-float vectors of B, six broadcasts of A, 12 FMAs into
// Y4..Y15 (row r in Y(4+2r), Y(5+2r)).
#define STEP256(aoff, boff) \
	VMOVUPS      boff(BX), Y0;     \
	VMOVUPS      boff+32(BX), Y1;  \
	VBROADCASTSS aoff(AX), Y2;     \
	VBROADCASTSS aoff+4(AX), Y3;   \
	VFMADD231PS  Y0, Y2, Y4;       \
	VFMADD231PS  Y1, Y2, Y5;       \
	VFMADD231PS  Y0, Y3, Y6;       \
	VFMADD231PS  Y1, Y3, Y7;       \
	VBROADCASTSS aoff+8(AX), Y2;   \
	VBROADCASTSS aoff+12(AX), Y3;  \
	VFMADD231PS  Y0, Y2, Y8;       \
	VFMADD231PS  Y1, Y2, Y9;       \
	VFMADD231PS  Y0, Y3, Y10;      \
	VFMADD231PS  Y1, Y3, Y11;      \
	VBROADCASTSS aoff+16(AX), Y2;  \
	VBROADCASTSS aoff+20(AX), Y3;  \
	VFMADD231PS  Y0, Y2, Y12;      \
	VFMADD231PS  Y1, Y2, Y13;      \
	VFMADD231PS  Y0, Y3, Y14;      \
	VFMADD231PS  Y1, Y3, Y15

#define STORE256_B0(lo, hi) \
	VMULPS  Y0, lo, lo;     \
	VMULPS  Y0, hi, hi;     \
	VMOVUPS lo, (R8);       \
	VMOVUPS hi, 32(R8);     \
	ADDQ    DX, R8

#define STORE256(lo, hi)           \
	VMULPS      Y0, lo, lo;        \
	VMULPS      Y0, hi, hi;        \
	VFMADD231PS (R8), Y1, lo;      \
	VFMADD231PS 32(R8), Y1, hi;    \
	VMOVUPS     lo, (R8);          \
	VMOVUPS     hi, 32(R8);        \
	ADDQ        DX, R8

// func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), R8
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail256

loop256:
	STEP256(0, 0)
	STEP256(24, 64)
	STEP256(48, 128)
	STEP256(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R9
	JNZ  loop256

tail256:
	ANDQ $3, CX
	JZ   store256

tailloop256:
	STEP256(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  tailloop256

store256:
	VBROADCASTSS alpha+40(FP), Y0
	MOVSS        beta+44(FP), X1
	XORPS        X2, X2
	UCOMISS      X2, X1
	JNE          beta256
	JPS          beta256
	STORE256_B0(Y4, Y5)
	STORE256_B0(Y6, Y7)
	STORE256_B0(Y8, Y9)
	STORE256_B0(Y10, Y11)
	STORE256_B0(Y12, Y13)
	STORE256_B0(Y14, Y15)
	VZEROUPPER
	RET

beta256:
	VBROADCASTSS beta+44(FP), Y1
	STORE256(Y4, Y5)
	STORE256(Y6, Y7)
	STORE256(Y8, Y9)
	STORE256(Y10, Y11)
	STORE256(Y12, Y13)
	STORE256(Y14, Y15)
	VZEROUPPER
	RET

// ---------------------------------------------------------------- AVX-512 8×32, A unpacked

// As sgemmKernel8x32, but A is read where it lies: element (r, p) of the
// 8×k panel at a + r*rs + p*ks bytes (rs = lda*4, ks = 4 for a row-major A;
// rs = 4, ks = lda*4 for a transposed one), so A needs no packing.
#define STEP512S \
	VMOVUPS      (BX), Z0;            \
	VMOVUPS      64(BX), Z1;          \
	VBROADCASTSS (AX), Z2;            \
	VBROADCASTSS (AX)(R10*1), Z3;     \
	VFMADD231PS  Z0, Z2, Z8;          \
	VFMADD231PS  Z1, Z2, Z9;          \
	VFMADD231PS  Z0, Z3, Z10;         \
	VFMADD231PS  Z1, Z3, Z11;         \
	VBROADCASTSS (AX)(R10*2), Z4;     \
	VBROADCASTSS (AX)(R11*1), Z5;     \
	VFMADD231PS  Z0, Z4, Z12;         \
	VFMADD231PS  Z1, Z4, Z13;         \
	VFMADD231PS  Z0, Z5, Z14;         \
	VFMADD231PS  Z1, Z5, Z15;         \
	VBROADCASTSS (R12), Z6;           \
	VBROADCASTSS (R12)(R10*1), Z7;    \
	VFMADD231PS  Z0, Z6, Z16;         \
	VFMADD231PS  Z1, Z6, Z17;         \
	VFMADD231PS  Z0, Z7, Z18;         \
	VFMADD231PS  Z1, Z7, Z19;         \
	VBROADCASTSS (R12)(R10*2), Z2;    \
	VBROADCASTSS (R12)(R11*1), Z3;    \
	VFMADD231PS  Z0, Z2, Z20;         \
	VFMADD231PS  Z1, Z2, Z21;         \
	VFMADD231PS  Z0, Z3, Z22;         \
	VFMADD231PS  Z1, Z3, Z23;         \
	ADDQ         R13, AX;             \
	ADDQ         R13, R12;            \
	ADDQ         $128, BX

// func sgemmKernel8x32s(k int, a *float32, rs, ks int, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel8x32s(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R10
	MOVQ ks+24(FP), R13
	MOVQ b+32(FP), BX
	MOVQ c+40(FP), R8
	MOVQ ldc+48(FP), DX
	SHLQ $2, DX
	LEAQ (R10)(R10*2), R11
	LEAQ (AX)(R10*4), R12

	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	// C's tile, read or written at the end, is fetched meanwhile.
	MOVQ R8, SI
	PREFETCH_ROWS4(SI, DX)
	PREFETCH_ROWS4(SI, DX)

	MOVQ CX, R9
	SHRQ $1, R9
	JZ   tail512s

loop512s:
	STEP512S
	STEP512S
	DECQ R9
	JNZ  loop512s

tail512s:
	ANDQ $1, CX
	JZ   store512s
	STEP512S

store512s:
	VBROADCASTSS alpha+56(FP), Z0
	MOVSS        beta+60(FP), X1
	XORPS        X2, X2
	UCOMISS      X2, X1
	JNE          beta512s
	JPS          beta512s
	STORE512_B0(Z8, Z9)
	STORE512_B0(Z10, Z11)
	STORE512_B0(Z12, Z13)
	STORE512_B0(Z14, Z15)
	STORE512_B0(Z16, Z17)
	STORE512_B0(Z18, Z19)
	STORE512_B0(Z20, Z21)
	STORE512_B0(Z22, Z23)
	VZEROUPPER
	RET

beta512s:
	VBROADCASTSS beta+60(FP), Z1
	STORE512(Z8, Z9)
	STORE512(Z10, Z11)
	STORE512(Z12, Z13)
	STORE512(Z14, Z15)
	STORE512(Z16, Z17)
	STORE512(Z18, Z19)
	STORE512(Z20, Z21)
	STORE512(Z22, Z23)
	VZEROUPPER
	RET
