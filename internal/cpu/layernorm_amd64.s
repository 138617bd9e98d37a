//go:build !purego

#include "textflag.h"
#include "macros_amd64.h"

// LayerNorm's backward row (see train.go's layerNormBackwardRow) in
// AVX-512F, in float64 as the Go loops: the same operations per element in
// the same order, unfused, so pg, pb and (given the same sums) dx come out
// bit for bit as Go's; only the two row sums are added in another order
// (sixteen partial sums, one per lane).

// func layerNormSums16(dy, x, gamma *float32, pg, pb *float64, n int, mu, r float64) (sumG, sumGX float64)
//
// For j < n (a positive multiple of 16), with x̂ = (x[j]-mu)·r and
// gj = dy[j]·gamma[j]: returns Σ gj and Σ gj·x̂, and adds dy[j]·x̂ to pg[j] and
// dy[j] to pb[j].
TEXT ·layerNormSums16(SB), NOSPLIT, $0-80
	MOVQ dy+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ gamma+16(FP), DX
	MOVQ pg+24(FP), R8
	MOVQ pb+32(FP), R9
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	VBROADCASTSD mu+48(FP), Z30
	VBROADCASTSD r+56(FP), Z31
	VXORPD Z20, Z20, Z20 // Σ gj, lanes 0-7
	VXORPD Z21, Z21, Z21 // lanes 8-15
	VXORPD Z22, Z22, Z22 // Σ gj·x̂
	VXORPD Z23, Z23, Z23

sumsloop:
	VCVTPS2PD (DI), Z0
	VCVTPS2PD 32(DI), Z1
	VSUBPD    Z30, Z0, Z0
	VSUBPD    Z30, Z1, Z1
	VMULPD    Z31, Z0, Z0 // x̂
	VMULPD    Z31, Z1, Z1
	VCVTPS2PD (SI), Z2    // dy
	VCVTPS2PD 32(SI), Z3
	VCVTPS2PD (DX), Z4
	VCVTPS2PD 32(DX), Z5
	VMULPD    Z4, Z2, Z4  // gj = dy·g
	VMULPD    Z5, Z3, Z5
	VADDPD    Z4, Z20, Z20
	VADDPD    Z5, Z21, Z21
	VMULPD    Z0, Z4, Z6  // gj·x̂
	VMULPD    Z1, Z5, Z7
	VADDPD    Z6, Z22, Z22
	VADDPD    Z7, Z23, Z23
	VMULPD    Z0, Z2, Z6  // dy·x̂
	VMULPD    Z1, Z3, Z7
	VADDPD    (R8), Z6, Z6
	VADDPD    64(R8), Z7, Z7
	VMOVUPD   Z6, (R8)
	VMOVUPD   Z7, 64(R8)
	VADDPD    (R9), Z2, Z2
	VADDPD    64(R9), Z3, Z3
	VMOVUPD   Z2, (R9)
	VMOVUPD   Z3, 64(R9)
	ADDQ      $64, SI
	ADDQ      $64, DI
	ADDQ      $64, DX
	ADDQ      $128, R8
	ADDQ      $128, R9
	DECQ      CX
	JNZ       sumsloop

	VADDPD Z21, Z20, Z0
	HSUMPD
	MOVSD  X0, sumG+64(FP)
	VADDPD Z23, Z22, Z0
	HSUMPD
	MOVSD  X0, sumGX+72(FP)
	VZEROUPPER
	RET

// func layerNormDx8(dx, dy, x, gamma *float32, n int, mu, r, a, sgx, nf float64)
//
// dx[j] = float32(r·((dy[j]·gamma[j] - a) - (x̂·sgx)/nf)) for j < n (a positive
// multiple of 8), x̂ = (x[j]-mu)·r: the Go loop's r·(gj - ΣG/n - x̂·ΣGX/n)
// with a = ΣG/n.
TEXT ·layerNormDx8(SB), NOSPLIT, $0-80
	MOVQ dx+0(FP), R8
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ gamma+24(FP), DX
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	VBROADCASTSD mu+40(FP), Z30
	VBROADCASTSD r+48(FP), Z31
	VBROADCASTSD a+56(FP), Z29
	VBROADCASTSD sgx+64(FP), Z28
	VBROADCASTSD nf+72(FP), Z27

dxloop:
	VCVTPS2PD (DI), Z0
	VSUBPD    Z30, Z0, Z0
	VMULPD    Z31, Z0, Z0 // x̂
	VCVTPS2PD (SI), Z2
	VCVTPS2PD (DX), Z4
	VMULPD    Z4, Z2, Z4  // gj
	VSUBPD    Z29, Z4, Z4 // gj - a
	VMULPD    Z28, Z0, Z0 // x̂·sgx
	VDIVPD    Z27, Z0, Z0 // /nf
	VSUBPD    Z0, Z4, Z4
	VMULPD    Z4, Z31, Z4 // r·
	VCVTPD2PS Z4, Y4
	VMOVUPS   Y4, (R8)
	ADDQ      $32, SI
	ADDQ      $32, DI
	ADDQ      $32, DX
	ADDQ      $32, R8
	DECQ      CX
	JNZ       dxloop
	VZEROUPPER
	RET
