//go:build !purego

#include "textflag.h"
#include "macros_amd64.h"

// The bf16 micro-kernel for AVX512-BF16 (see gemmbf16.go): a 12×32 tile of
// C from a packed A micro-panel (kp k-pairs of 12 words) and a packed B
// micro-panel (kp k-pairs of 32 words), each word two bfloat16 values of
// consecutive k:
//
//	acc = Σ_p VDPBF16PS(b[p], broadcast(a[p][r]))   (float32 sums)
//	C   = alpha*acc + beta*C     (C not read when beta == 0)
//
// The Go assembler has no AVX512-BF16 mnemonics, so VDPBF16PS is spelled
// out as its EVEX bytes (checked against GNU as in gemmbf16_amd64_test.go).

// DPBF16(d, s1, s2) is VDPBF16PS Z(s2), Z(s1), Z(d) (Go operand order):
// Z(d).fp32[i] += Z(s1).bf16[2i+1]*Z(s2).bf16[2i+1] + Z(s1).bf16[2i]*Z(s2).bf16[2i].
// EVEX.512.F3.0F38.W0 52 /r, register form.
#define DPBF16(d, s1, s2) \
	BYTE $0x62; \
	BYTE $(((1-(((d)>>3)&1))<<7) | ((1-(((s2)>>4)&1))<<6) | ((1-(((s2)>>3)&1))<<5) | ((1-(((d)>>4)&1))<<4) | 2); \
	BYTE $(((15-((s1)&15))<<3) | 6); \
	BYTE $(0x40 | ((1-(((s1)>>4)&1))<<3)); \
	BYTE $0x52; \
	BYTE $(0xC0 | (((d)&7)<<3) | ((s2)&7))

// One k-pair: two 16-word vectors of B, twelve broadcasts of A, 24 dot
// products into Z8..Z31 (row r in Z(8+2r), Z(9+2r)).
#define STEPBF(aoff, boff) \
	VMOVUPS boff(BX), Z0; \
	VMOVUPS boff+64(BX), Z1; \
	VPBROADCASTD aoff+0(AX), Z2; \
	VPBROADCASTD aoff+4(AX), Z3; \
	DPBF16(8, 0, 2); \
	DPBF16(9, 1, 2); \
	DPBF16(10, 0, 3); \
	DPBF16(11, 1, 3); \
	VPBROADCASTD aoff+8(AX), Z4; \
	VPBROADCASTD aoff+12(AX), Z5; \
	DPBF16(12, 0, 4); \
	DPBF16(13, 1, 4); \
	DPBF16(14, 0, 5); \
	DPBF16(15, 1, 5); \
	VPBROADCASTD aoff+16(AX), Z6; \
	VPBROADCASTD aoff+20(AX), Z7; \
	DPBF16(16, 0, 6); \
	DPBF16(17, 1, 6); \
	DPBF16(18, 0, 7); \
	DPBF16(19, 1, 7); \
	VPBROADCASTD aoff+24(AX), Z2; \
	VPBROADCASTD aoff+28(AX), Z3; \
	DPBF16(20, 0, 2); \
	DPBF16(21, 1, 2); \
	DPBF16(22, 0, 3); \
	DPBF16(23, 1, 3); \
	VPBROADCASTD aoff+32(AX), Z4; \
	VPBROADCASTD aoff+36(AX), Z5; \
	DPBF16(24, 0, 4); \
	DPBF16(25, 1, 4); \
	DPBF16(26, 0, 5); \
	DPBF16(27, 1, 5); \
	VPBROADCASTD aoff+40(AX), Z6; \
	VPBROADCASTD aoff+44(AX), Z7; \
	DPBF16(28, 0, 6); \
	DPBF16(29, 1, 6); \
	DPBF16(30, 0, 7); \
	DPBF16(31, 1, 7)

// Row stores: C[row] = alpha*acc (+ beta*C[row]); Z0 = alpha, Z1 = beta, R8 the row.
#define STOREBF_B0(lo, hi) \
	VMULPS  Z0, lo, lo; \
	VMULPS  Z0, hi, hi; \
	VMOVUPS lo, (R8);   \
	VMOVUPS hi, 64(R8); \
	ADDQ    DX, R8

#define STOREBF(lo, hi) \
	VMULPS      Z0, lo, lo;     \
	VMULPS      Z0, hi, hi;     \
	VFMADD231PS (R8), Z1, lo;   \
	VFMADD231PS 64(R8), Z1, hi; \
	VMOVUPS     lo, (R8);       \
	VMOVUPS     hi, 64(R8);     \
	ADDQ        DX, R8

// func bf16Kernel12x32(kp int, a, b *uint32, c *float32, ldc int, alpha, beta float32)
TEXT ·bf16Kernel12x32(SB), NOSPLIT, $0-48
	MOVQ kp+0(FP), CX
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
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

	// C's tile, read or written at the end, is fetched meanwhile.
	MOVQ R8, R10
	PREFETCH_ROWS4(R10, DX)
	PREFETCH_ROWS4(R10, DX)
	PREFETCH_ROWS4(R10, DX)

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tailbf

loopbf:
	STEPBF(0, 0)
	STEPBF(48, 128)
	STEPBF(96, 256)
	STEPBF(144, 384)
	ADDQ $192, AX
	ADDQ $512, BX
	DECQ R9
	JNZ  loopbf

tailbf:
	ANDQ $3, CX
	JZ   storebf

tailloopbf:
	STEPBF(0, 0)
	ADDQ $48, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  tailloopbf

storebf:
	VBROADCASTSS alpha+40(FP), Z0
	MOVSS        beta+44(FP), X1
	XORPS        X2, X2
	UCOMISS      X2, X1
	JNE          betabf
	JPS          betabf
	STOREBF_B0(Z8, Z9)
	STOREBF_B0(Z10, Z11)
	STOREBF_B0(Z12, Z13)
	STOREBF_B0(Z14, Z15)
	STOREBF_B0(Z16, Z17)
	STOREBF_B0(Z18, Z19)
	STOREBF_B0(Z20, Z21)
	STOREBF_B0(Z22, Z23)
	STOREBF_B0(Z24, Z25)
	STOREBF_B0(Z26, Z27)
	STOREBF_B0(Z28, Z29)
	STOREBF_B0(Z30, Z31)
	VZEROUPPER
	RET

betabf:
	VBROADCASTSS beta+44(FP), Z1
	STOREBF(Z8, Z9)
	STOREBF(Z10, Z11)
	STOREBF(Z12, Z13)
	STOREBF(Z14, Z15)
	STOREBF(Z16, Z17)
	STOREBF(Z18, Z19)
	STOREBF(Z20, Z21)
	STOREBF(Z22, Z23)
	STOREBF(Z24, Z25)
	STOREBF(Z26, Z27)
	STOREBF(Z28, Z29)
	STOREBF(Z30, Z31)
	VZEROUPPER
	RET

// ---------------------------------------------------------------- fp32 -> bf16

// CVTNE2(d, s1, s2) is VCVTNE2PS2BF16 Z(s2), Z(s1), Z(d) (Go operand
// order): Z(d)'s 32 bfloat16 values are Z(s2)'s 16 floats rounded to
// nearest even, then Z(s1)'s. EVEX.512.F2.0F38.W0 72 /r.
#define CVTNE2(d, s1, s2) \
	BYTE $0x62; \
	BYTE $(((1-(((d)>>3)&1))<<7) | ((1-(((s2)>>4)&1))<<6) | ((1-(((s2)>>3)&1))<<5) | ((1-(((d)>>4)&1))<<4) | 2); \
	BYTE $(((15-((s1)&15))<<3) | 7); \
	BYTE $(0x40 | ((1-(((s1)>>4)&1))<<3)); \
	BYTE $0x72; \
	BYTE $(0xC0 | (((d)&7)<<3) | ((s2)&7))

// func cvtBF16Row(dst *uint32, src *float32, n int)
//
// dst[i] = bf16(src[2i]) | bf16(src[2i+1])<<16 for i < n/2; n is a
// multiple of 32.
TEXT ·cvtBF16Row(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	JZ   rowdone

rowloop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	CVTNE2(2, 1, 0)
	VMOVDQU32 Z2, (DI)
	ADDQ $128, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  rowloop

rowdone:
	VZEROUPPER
	RET

// interleaveWords is the VPERMW index that makes word 2j of the result word
// j of the source, and word 2j+1 word 16+j.
DATA interleaveWords<>+0(SB)/8, $0x0011000100100000
DATA interleaveWords<>+8(SB)/8, $0x0013000300120002
DATA interleaveWords<>+16(SB)/8, $0x0015000500140004
DATA interleaveWords<>+24(SB)/8, $0x0017000700160006
DATA interleaveWords<>+32(SB)/8, $0x0019000900180008
DATA interleaveWords<>+40(SB)/8, $0x001b000b001a000a
DATA interleaveWords<>+48(SB)/8, $0x001d000d001c000c
DATA interleaveWords<>+56(SB)/8, $0x001f000f001e000e
GLOBL interleaveWords<>(SB), RODATA|NOPTR, $64

// LANEMASK(k) sets k to the CL lowest lanes, (1<<CL)-1 (AX clobbered).
#define LANEMASK(k) \
	MOVQ  $1, AX; \
	SHLQ  CL, AX; \
	DECQ  AX;     \
	KMOVW AX, k

// func cvtBF16PairsPanels(dst *uint32, width, pstride int, r0, r1 *float32, panels, ahead int)
//
// dst[j] = bf16(r0[j]) | bf16(r1[j])<<16 (VPERMW interleaves the halves
// of VCVTNE2PS2BF16's result), width words to a panel, written straight into panels
// pstride words apart: dst[q*pstride+j] = bf16(r0[q*width+j]) |
// bf16(r1[q*width+j])<<16 for j < width and q < panels. Each panel is 16
// words at a time and a last piece of width%16 under a mask (the masked
// loads read nothing past it). Both rows ahead bytes on are prefetched.
TEXT ·cvtBF16PairsPanels(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ width+8(FP), R11
	MOVQ pstride+16(FP), R12
	SHLQ $2, R12
	MOVQ r0+24(FP), SI
	MOVQ r1+32(FP), DX
	MOVQ panels+40(FP), R13
	MOVQ ahead+48(FP), BX
	TESTQ R13, R13
	JZ    ppdone
	VMOVDQU64 interleaveWords<>(SB), Z31
	MOVQ R11, CX
	ANDQ $15, CX
	LANEMASK(K1)
	SHLQ $2, CX // the last piece's bytes of a row

pppanel:
	MOVQ DI, R10
	MOVQ R11, R9
	SHRQ $4, R9
	JZ   pppart

ppfull:
	PREFETCHT0 (SI)(BX*1)
	PREFETCHT0 (DX)(BX*1)
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	CVTNE2(2, 1, 0)
	VPERMW  Z2, Z31, Z3
	VMOVDQU32 Z3, (R10)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R10
	DECQ R9
	JNZ  ppfull

pppart:
	TESTQ CX, CX
	JZ    ppnext
	PREFETCHT0 (SI)(BX*1)
	PREFETCHT0 (DX)(BX*1)
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	CVTNE2(2, 1, 0)
	VPERMW  Z2, Z31, Z3
	VMOVDQU32 Z3, K1, (R10)
	ADDQ CX, SI
	ADDQ CX, DX

ppnext:
	ADDQ R12, DI
	DECQ R13
	JNZ  pppanel

ppdone:
	VZEROUPPER
	RET

// TRANSPOSE16 transposes the 16×16 matrix of 32-bit words in Z0..Z15 (row
// i in Z(i)) in place, through Z16..Z31: 32-bit unpacks, 64-bit unpacks,
// then two rounds of 128-bit lane shuffles.
#define TRANSPOSE16 \
	VPUNPCKLDQ Z1, Z0, Z16; \
	VPUNPCKHDQ Z1, Z0, Z17; \
	VPUNPCKLDQ Z3, Z2, Z18; \
	VPUNPCKHDQ Z3, Z2, Z19; \
	VPUNPCKLDQ Z5, Z4, Z20; \
	VPUNPCKHDQ Z5, Z4, Z21; \
	VPUNPCKLDQ Z7, Z6, Z22; \
	VPUNPCKHDQ Z7, Z6, Z23; \
	VPUNPCKLDQ Z9, Z8, Z24; \
	VPUNPCKHDQ Z9, Z8, Z25; \
	VPUNPCKLDQ Z11, Z10, Z26; \
	VPUNPCKHDQ Z11, Z10, Z27; \
	VPUNPCKLDQ Z13, Z12, Z28; \
	VPUNPCKHDQ Z13, Z12, Z29; \
	VPUNPCKLDQ Z15, Z14, Z30; \
	VPUNPCKHDQ Z15, Z14, Z31; \
	VPUNPCKLQDQ Z18, Z16, Z0; \
	VPUNPCKHQDQ Z18, Z16, Z1; \
	VPUNPCKLQDQ Z19, Z17, Z2; \
	VPUNPCKHQDQ Z19, Z17, Z3; \
	VPUNPCKLQDQ Z22, Z20, Z4; \
	VPUNPCKHQDQ Z22, Z20, Z5; \
	VPUNPCKLQDQ Z23, Z21, Z6; \
	VPUNPCKHQDQ Z23, Z21, Z7; \
	VPUNPCKLQDQ Z26, Z24, Z8; \
	VPUNPCKHQDQ Z26, Z24, Z9; \
	VPUNPCKLQDQ Z27, Z25, Z10; \
	VPUNPCKHQDQ Z27, Z25, Z11; \
	VPUNPCKLQDQ Z30, Z28, Z12; \
	VPUNPCKHQDQ Z30, Z28, Z13; \
	VPUNPCKLQDQ Z31, Z29, Z14; \
	VPUNPCKHQDQ Z31, Z29, Z15; \
	VSHUFI32X4 $0x88, Z4, Z0, Z16; \
	VSHUFI32X4 $0xdd, Z4, Z0, Z20; \
	VSHUFI32X4 $0x88, Z5, Z1, Z17; \
	VSHUFI32X4 $0xdd, Z5, Z1, Z21; \
	VSHUFI32X4 $0x88, Z6, Z2, Z18; \
	VSHUFI32X4 $0xdd, Z6, Z2, Z22; \
	VSHUFI32X4 $0x88, Z7, Z3, Z19; \
	VSHUFI32X4 $0xdd, Z7, Z3, Z23; \
	VSHUFI32X4 $0x88, Z12, Z8, Z24; \
	VSHUFI32X4 $0xdd, Z12, Z8, Z28; \
	VSHUFI32X4 $0x88, Z13, Z9, Z25; \
	VSHUFI32X4 $0xdd, Z13, Z9, Z29; \
	VSHUFI32X4 $0x88, Z14, Z10, Z26; \
	VSHUFI32X4 $0xdd, Z14, Z10, Z30; \
	VSHUFI32X4 $0x88, Z15, Z11, Z27; \
	VSHUFI32X4 $0xdd, Z15, Z11, Z31; \
	VSHUFI32X4 $0x88, Z24, Z16, Z0; \
	VSHUFI32X4 $0xdd, Z24, Z16, Z8; \
	VSHUFI32X4 $0x88, Z25, Z17, Z1; \
	VSHUFI32X4 $0xdd, Z25, Z17, Z9; \
	VSHUFI32X4 $0x88, Z26, Z18, Z2; \
	VSHUFI32X4 $0xdd, Z26, Z18, Z10; \
	VSHUFI32X4 $0x88, Z27, Z19, Z3; \
	VSHUFI32X4 $0xdd, Z27, Z19, Z11; \
	VSHUFI32X4 $0x88, Z28, Z20, Z4; \
	VSHUFI32X4 $0xdd, Z28, Z20, Z12; \
	VSHUFI32X4 $0x88, Z29, Z21, Z5; \
	VSHUFI32X4 $0xdd, Z29, Z21, Z13; \
	VSHUFI32X4 $0x88, Z30, Z22, Z6; \
	VSHUFI32X4 $0xdd, Z30, Z22, Z14; \
	VSHUFI32X4 $0x88, Z31, Z23, Z7; \
	VSHUFI32X4 $0xdd, Z31, Z23, Z15

// PRPAIR(z) converts the k-pair of rows R10 and R10+R11 (K2's columns)
// into z, pair r in lane r, and moves R10 two rows on. PRSTORE(z) stores z
// at R13, moves R13 a stride (R12) on, and ends the stores after the
// rows'th (R9 counts them down).
#define PRPAIR(z) \
	VMOVUPS.Z (R10), K2, Z16;        \
	VMOVUPS.Z (R10)(R11*1), K2, Z17; \
	CVTNE2(18, 17, 16);              \
	VPERMW    Z18, Z31, z;           \
	LEAQ      (R10)(R11*2), R10

#define PRSTORE(z) \
	VMOVDQU32 z, (R13); \
	ADDQ      R12, R13; \
	DECQ      R9;       \
	JZ        prstored

// func cvtBF16PairsRows(dst *uint32, stride int, src *float32, lda, rows, n int)
//
// dst[r*stride+p] = bf16(src[2p*lda+r]) | bf16(src[(2p+1)*lda+r])<<16 for
// r < rows and p < n: a transposed A (k rows of m) into AMX's row-by-row
// micro-panels. Each 16 k-pairs, the pairs of up to 16 columns convert
// into Z0..Z15 (pair q in Z(q), column r in lane r; masked loads read
// only rows columns), TRANSPOSE16 leaves row r's 16 words in Z(r), and
// rows of them are stored. n is a multiple of 16, 1 <= rows <= 16.
TEXT ·cvtBF16PairsRows(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), R12
	SHLQ $2, R12
	MOVQ src+16(FP), SI
	MOVQ lda+24(FP), R11
	SHLQ $2, R11
	MOVQ rows+32(FP), CX
	MOVQ CX, BX
	LANEMASK(K2)
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ   prdone

prloop:
	VMOVDQU64 interleaveWords<>(SB), Z31
	MOVQ SI, R10
	PRPAIR(Z0)
	PRPAIR(Z1)
	PRPAIR(Z2)
	PRPAIR(Z3)
	PRPAIR(Z4)
	PRPAIR(Z5)
	PRPAIR(Z6)
	PRPAIR(Z7)
	PRPAIR(Z8)
	PRPAIR(Z9)
	PRPAIR(Z10)
	PRPAIR(Z11)
	PRPAIR(Z12)
	PRPAIR(Z13)
	PRPAIR(Z14)
	PRPAIR(Z15)
	TRANSPOSE16
	MOVQ DI, R13
	MOVQ BX, R9
	PRSTORE(Z0)
	PRSTORE(Z1)
	PRSTORE(Z2)
	PRSTORE(Z3)
	PRSTORE(Z4)
	PRSTORE(Z5)
	PRSTORE(Z6)
	PRSTORE(Z7)
	PRSTORE(Z8)
	PRSTORE(Z9)
	PRSTORE(Z10)
	PRSTORE(Z11)
	PRSTORE(Z12)
	PRSTORE(Z13)
	PRSTORE(Z14)
	VMOVDQU32 Z15, (R13)

prstored:
	MOVQ R10, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  prloop

prdone:
	VZEROUPPER
	RET

// lanes16 is 0, 1, ..., 15 as 32-bit words (also philox_amd64.s's lane
// numbers).
DATA ·lanes16+0(SB)/8, $0x0000000100000000
DATA ·lanes16+8(SB)/8, $0x0000000300000002
DATA ·lanes16+16(SB)/8, $0x0000000500000004
DATA ·lanes16+24(SB)/8, $0x0000000700000006
DATA ·lanes16+32(SB)/8, $0x0000000900000008
DATA ·lanes16+40(SB)/8, $0x0000000b0000000a
DATA ·lanes16+48(SB)/8, $0x0000000d0000000c
DATA ·lanes16+56(SB)/8, $0x0000000f0000000e
GLOBL ·lanes16(SB), RODATA|NOPTR, $64

// TRLOAD(r) converts row R10's next 32 values into Z(r) (the row 256
// bytes on prefetched); TRROW(r) then moves R10 a row (R11) on and ends
// the loads after the rows'th (R9 counts them down). TRSTORE(z) stores z
// under K1 at DI and moves DI a stride (R12) on.
#define TRLOAD(r) \
	PREFETCHT0 128(R10); \
	PREFETCHT0 192(R10); \
	VMOVUPS    (R10), Z16; \
	VMOVUPS    64(R10), Z17; \
	CVTNE2(r, 17, 16)

#define TRROW(r) \
	TRLOAD(r);     \
	ADDQ R11, R10; \
	DECQ R9;       \
	JZ   trloaded

#define TRSTORE(z) \
	VMOVDQU32 z, K1, (DI); \
	ADDQ      R12, DI

// func cvtBF16Transpose(dst *uint32, stride int, src *float32, lda, rows, n int)
//
// dst[p*stride+r] = bf16(src[r*lda+2p]) | bf16(src[r*lda+2p+1])<<16 for
// r < rows and p < n/2: the packing of rows of k into a k-pair-major
// micro-panel (a transpose). Each 32 values of up to 16 rows convert to
// 16 words a row in Z0..Z15 (rows past rows zero); TRANSPOSE16 leaves
// k-pair p's words in Z(p), each stored with a mask of rows lanes. n is a
// multiple of 32, 1 <= rows <= 16; each row's next 32 values are
// prefetched as it is read.
TEXT ·cvtBF16Transpose(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), R12
	SHLQ $2, R12
	MOVQ src+16(FP), SI
	MOVQ lda+24(FP), R11
	SHLQ $2, R11
	MOVQ rows+32(FP), CX
	MOVQ CX, BX
	LANEMASK(K1)
	MOVQ n+40(FP), CX
	SHRQ $5, CX
	JZ   trdone

trloop:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	MOVQ SI, R10
	MOVQ BX, R9
	TRROW(0)
	TRROW(1)
	TRROW(2)
	TRROW(3)
	TRROW(4)
	TRROW(5)
	TRROW(6)
	TRROW(7)
	TRROW(8)
	TRROW(9)
	TRROW(10)
	TRROW(11)
	TRROW(12)
	TRROW(13)
	TRROW(14)
	TRLOAD(15)

trloaded:
	TRANSPOSE16
	TRSTORE(Z0)
	TRSTORE(Z1)
	TRSTORE(Z2)
	TRSTORE(Z3)
	TRSTORE(Z4)
	TRSTORE(Z5)
	TRSTORE(Z6)
	TRSTORE(Z7)
	TRSTORE(Z8)
	TRSTORE(Z9)
	TRSTORE(Z10)
	TRSTORE(Z11)
	TRSTORE(Z12)
	TRSTORE(Z13)
	TRSTORE(Z14)
	TRSTORE(Z15)
	ADDQ $128, SI
	DECQ CX
	JNZ  trloop

trdone:
	VZEROUPPER
	RET
