// Macros shared by the package's AVX-512 assembly.

// HSUMPD adds Z0's eight float64 lanes into X0 (Z1 clobbered).
#define HSUMPD \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPD        Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	VADDPD        X1, X0, X0; \
	VPERMILPD     $1, X0, X1; \
	VADDSD        X1, X0, X0

// PREFETCH_ROWS4(p, ld) prefetches the first 128 bytes of four rows ld
// bytes apart from p, and leaves p four rows on: a micro-kernel's C tile.
#define PREFETCH_ROW(p, ld) \
	PREFETCHT0 (p);         \
	PREFETCHT0 64(p);       \
	ADDQ       ld, p

#define PREFETCH_ROWS4(p, ld) \
	PREFETCH_ROW(p, ld);      \
	PREFETCH_ROW(p, ld);      \
	PREFETCH_ROW(p, ld);      \
	PREFETCH_ROW(p, ld)
