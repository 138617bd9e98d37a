package cpu

import "unsafe"

// unsafeSlice views n float32s starting at p.
func unsafeSlice(p *float32, n int) []float32 { return unsafe.Slice(p, n) }
