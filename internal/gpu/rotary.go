//go:build cuda || kernelhost

package gpu

import (
	"fmt"
	"unsafe"

	"github.com/mixft/mixft/internal/backend"
	"github.com/mixft/mixft/internal/philox"
)

// ropeMaxHeadDim is the largest head dimension kernels/rotary.cu handles
// (32 lanes × kRopeMaxPerLane).
const ropeMaxHeadDim = 256

// ropeTables uploads backend.RopeTables and returns the device addresses of
// the cos and sin tables.
func (be *Backend) ropeTables(seq, headDim int, theta float32) (pcos, psin uint64) {
	cos, sin := backend.RopeTables(seq, headDim, theta)
	n := len(cos)
	p := be.need(&be.sc.rope, 8*max(n, 1))
	if n > 0 {
		be.dev.upload(p, unsafe.Pointer(unsafe.SliceData(cos)), 4*n)
		be.dev.upload(p+uint64(4*n), unsafe.Pointer(unsafe.SliceData(sin)), 4*n)
	}
	return p, p + uint64(4*n)
}

func (be *Backend) checkRope(op string, batch, seq, heads, headDim int, dropP float32) {
	if headDim%2 != 0 || headDim > ropeMaxHeadDim {
		panic(fmt.Sprintf("%s: %s: head dimension %d must be even and at most %d", be.Name(), op, headDim, ropeMaxHeadDim))
	}
	if dropP > 0 {
		checkStreamRange(batch * heads * seq * seq)
	}
}

// RotaryAttention implements backend.Backend: one warp per query row
// walking its window's keys with an online softmax (kernels/rotary.cu).
func (be *Backend) RotaryAttention(ctx, lse, qkv, keyMask backend.Buffer, batch, seq, heads, headDim, window int, theta, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	if batch*seq*hidden == 0 {
		return
	}
	be.checkRope("RotaryAttention", batch, seq, heads, headDim, dropP)
	defer be.op()()
	pc, pl := be.needLen("RotaryAttention ctx", ctx, batch*seq*hidden), be.needLen("RotaryAttention lse", lse, batch*heads*seq)
	px, pm := be.needLen("RotaryAttention qkv", qkv, batch*seq*3*hidden), be.needLen("RotaryAttention keyMask", keyMask, batch*seq)
	pcos, psin := be.ropeTables(seq, headDim, theta)
	args := []uint64{pc, pl, px, pm, pcos, psin, i32(batch), i32(seq), i32(heads), i32(headDim), i32(window),
		f32(scale), f32(dropP), f32(1 / (1 - dropP))}
	be.warpRowsLaunch(kRopeAttnFwd, batch*heads*seq, append(args, streamArgs(drop)...)...)
}

// RotaryAttentionBackward implements backend.Backend: dq per query row,
// then dk and dv per key row (no atomics), then the inverse rotation.
func (be *Backend) RotaryAttentionBackward(dqkv, dctx, ctx, lse, qkv, keyMask backend.Buffer, batch, seq, heads, headDim, window int, theta, scale, dropP float32, drop philox.Stream) {
	hidden := heads * headDim
	if batch*seq*hidden == 0 {
		return
	}
	be.checkRope("RotaryAttentionBackward", batch, seq, heads, headDim, dropP)
	defer be.op()()
	n := batch * seq * hidden
	pd, pdc := be.needLen("RotaryAttentionBackward dqkv", dqkv, 3*n), be.needLen("RotaryAttentionBackward dctx", dctx, n)
	pc, pl := be.needLen("RotaryAttentionBackward ctx", ctx, n), be.needLen("RotaryAttentionBackward lse", lse, batch*heads*seq)
	px, pm := be.needLen("RotaryAttentionBackward qkv", qkv, 3*n), be.needLen("RotaryAttentionBackward keyMask", keyMask, batch*seq)
	pcos, psin := be.ropeTables(seq, headDim, theta)
	pD := be.need(&be.sc.ropeD, 4*batch*heads*seq)
	tail := append([]uint64{pcos, psin, i32(batch), i32(seq), i32(heads), i32(headDim), i32(window),
		f32(scale), f32(dropP), f32(1 / (1 - dropP))}, streamArgs(drop)...)
	rows := batch * heads * seq
	be.warpRowsLaunch(kRopeAttnBwdDq, rows, append([]uint64{pd, pD, pdc, pc, pl, px, pm}, tail...)...)
	be.warpRowsLaunch(kRopeAttnBwdDkv, rows, append([]uint64{pd, pD, pdc, pl, px, pm}, tail...)...)
	be.launch1(kRopeUnrotate, batch*seq*heads*headDim, pd, pcos, psin, i32(batch), i32(seq), i32(heads), i32(headDim))
}

// GatedActivate implements backend.Backend.
func (be *Backend) GatedActivate(out, x backend.Buffer, rows, cols int, act backend.Activation) {
	defer be.op()()
	po, px := be.needLen("GatedActivate out", out, rows*cols), be.needLen("GatedActivate x", x, 2*rows*cols)
	be.launch1(kGatedActivate, rows*cols, po, px, i64(rows), i32(cols), i32(actCode(act)))
}

// GatedActivateBackward implements backend.Backend.
func (be *Backend) GatedActivateBackward(dx, dy, x backend.Buffer, rows, cols int, act backend.Activation) {
	defer be.op()()
	pdx, pdy := be.needLen("GatedActivateBackward dx", dx, 2*rows*cols), be.needLen("GatedActivateBackward dy", dy, rows*cols)
	px := be.needLen("GatedActivateBackward x", x, 2*rows*cols)
	be.launch1(kGatedActivateBackward, rows*cols, pdx, pdy, px, i64(rows), i32(cols), i32(actCode(act)))
}
