//go:build !purego

#include "textflag.h"

// The AMX bf16 micro-kernel (see gemmbf16.go and gemmamx_amd64.go): a
// 32×32 tile of float32 sums in four C tiles (TMM0..TMM3, 16×16 each) from
// two A tiles (TMM4, TMM5: 16 rows × 16 k-pairs of the row-by-row A panel)
// and two B tiles (TMM6, TMM7: 16 k-pairs × 16 columns of the B panel) per
// 16 k-pairs. The Go assembler has no AMX mnemonics: each instruction is
// its VEX bytes as GNU as encodes them. The tile configuration is loaded
// and released within the one call, so no tile state outlives it (a
// goroutine may move to another thread between calls).
//
// NOT RUN ON HARDWARE: written for Sapphire Rapids and later, on machines
// without AMX it is never selected.

// TILELOADD TMM4, (AX)(CX*1)
#define LOAD_A0 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x08
// TILELOADD TMM5, (BX)(CX*1)
#define LOAD_A1 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x2c; BYTE $0x0b
// TILELOADD TMM6, (SI)(DX*1)
#define LOAD_B0 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x16
// TILELOADD TMM7, (DI)(DX*1)
#define LOAD_B1 BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x3c; BYTE $0x17
// TDPBF16PS TMM(c) += TMM(a)·TMM(b): VEX.128.F3.0F38.W0 5C, reg c, vvvv b, rm a.
#define TDP(c, a, b) BYTE $0xc4; BYTE $0xe2; BYTE $(((15-(b))<<3) | 2); BYTE $0x5c; BYTE $(0xc0 | ((c)<<3) | (a))
// TILEZERO TMM(t)
#define TZERO(t) BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $(0xc0 | ((t)<<3))
// TILESTORED (AX)(CX*1), TMM(t)
#define TSTORE(t) BYTE $0xc4; BYTE $0xe2; BYTE $0x7a; BYTE $0x4b; BYTE $(0x04 | ((t)<<3)); BYTE $0x08
// LDTILECFG (AX)
#define LDTILECFG_AX BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00
// TILERELEASE
#define TILERELEASE BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0

// func amxTile32x32(kp int, a, b *uint32, out *float32, cfg *[64]byte)
//
// out (32×32 float32, row-major) = Σ over kp k-pairs (a multiple of 16) of
// A (32 rows of kp words) times B (kp rows of 32 words).
TEXT ·amxTile32x32(SB), NOSPLIT, $0-40
	MOVQ cfg+32(FP), AX
	LDTILECFG_AX
	MOVQ kp+0(FP), R8
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), SI
	MOVQ R8, CX
	SHLQ $2, CX                // A row stride: kp words
	MOVQ CX, BX
	SHLQ $4, BX
	ADDQ AX, BX                // A rows 16..31
	LEAQ 64(SI), DI            // B columns 16..31
	MOVQ $128, DX              // B row stride: 32 words
	SHRQ $4, R8
	TZERO(0)
	TZERO(1)
	TZERO(2)
	TZERO(3)
	TESTQ R8, R8
	JZ    store

loop:
	LOAD_A0
	LOAD_A1
	LOAD_B0
	LOAD_B1
	TDP(0, 4, 6)
	TDP(1, 4, 7)
	TDP(2, 5, 6)
	TDP(3, 5, 7)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $2048, SI
	ADDQ $2048, DI
	DECQ R8
	JNZ  loop

store:
	MOVQ out+24(FP), AX
	MOVQ $128, CX
	TSTORE(0)
	ADDQ $64, AX
	TSTORE(1)
	ADDQ $1984, AX
	TSTORE(2)
	ADDQ $64, AX
	TSTORE(3)
	TILERELEASE
	RET
