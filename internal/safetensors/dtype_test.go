package safetensors

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestDTypeSize(t *testing.T) {
	for _, c := range []struct {
		d    DType
		size int
	}{
		{F64, 8}, {F32, 4}, {F16, 2}, {BF16, 2}, {I64, 8}, {I32, 4}, {I16, 2}, {I8, 1},
		{U8, 1}, {BOOL, 1}, {F8E4M3, 1}, {F8E5M2, 1}, {U16, 2}, {U32, 4}, {U64, 8},
		{"", 0}, {"f32", 0}, {"F33", 0}, {"C64", 0},
	} {
		if got := c.d.Size(); got != c.size {
			t.Errorf("DType(%q).Size() = %d, want %d", c.d, got, c.size)
		}
	}
}

func TestF16ToF32Table(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3C00, 1},
		{0xC000, -2},
		{0x3555, 0.333251953125},
		{0x7BFF, 65504},                        // largest normal
		{0x0400, 6.103515625e-05},              // smallest normal, 2^-14
		{0x0001, 5.9604644775390625e-08},       // smallest subnormal, 2^-24
		{0x03FF, 6.097555160522461e-05},        // largest subnormal, 1023 * 2^-24
		{0x8001, -5.9604644775390625e-08},      // negative subnormal
		{0x7C00, float32(math.Inf(1))},         // +Inf
		{0xFC00, float32(math.Inf(-1))},        // -Inf
		{0x3BFF, 0.99951171875},                // just below 1
		{0x5640, 100},                          //
		{0xD3D0, -62.5},                        //
		{0x1001, 0.00048828125 * 1.0009765625}, //
	} {
		got := f16ToF32(c.bits)
		if got != c.want {
			t.Errorf("f16ToF32(%#04x) = %v, want %v", c.bits, got, c.want)
		}
	}
	if got := math.Float32bits(f16ToF32(0x8000)); got != 0x80000000 {
		t.Errorf("f16ToF32(0x8000) bits = %#x, want negative zero 0x80000000", got)
	}
	for _, bits := range []uint16{0x7E00, 0xFE00, 0x7C01, 0x7FFF} {
		if got := f16ToF32(bits); !math.IsNaN(float64(got)) {
			t.Errorf("f16ToF32(%#04x) = %v, want NaN", bits, got)
		}
	}
	// NaN sign and payload survive.
	if got := math.Float32bits(f16ToF32(0xFE01)); got != 0xFFC02000 {
		t.Errorf("f16ToF32(0xFE01) bits = %#x, want 0xffc02000", got)
	}
}

// TestF16ToF32Exhaustive checks every binary16 pattern against an
// independent decoding through math.Ldexp in float64.
func TestF16ToF32Exhaustive(t *testing.T) {
	for b := 0; b < 1<<16; b++ {
		h := uint16(b)
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		exp := int(h>>10) & 0x1f
		mant := float64(h & 0x3ff)
		var want float64
		switch exp {
		case 0x1f:
			if mant != 0 {
				want = math.NaN()
			} else {
				want = math.Inf(int(sign))
			}
		case 0:
			want = sign * math.Ldexp(mant, -24)
		default:
			want = sign * math.Ldexp(1+mant/1024, exp-15)
		}
		got := f16ToF32(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("f16ToF32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

func TestBF16ToF32Table(t *testing.T) {
	for _, c := range []struct {
		bits uint16
		want float32
	}{
		{0x3F80, 1},
		{0xC000, -2},
		{0x0000, 0},
		{0x4049, 3.140625},
		{0x7F80, float32(math.Inf(1))},
		{0xFF80, float32(math.Inf(-1))},
		{0x0001, math.Float32frombits(0x00010000)}, // subnormal
		{0x7F7F, math.Float32frombits(0x7F7F0000)}, // largest finite
	} {
		if got := bf16ToF32(c.bits); got != c.want {
			t.Errorf("bf16ToF32(%#04x) = %v, want %v", c.bits, got, c.want)
		}
	}
	if got := bf16ToF32(0x7FC0); !math.IsNaN(float64(got)) {
		t.Errorf("bf16ToF32(0x7FC0) = %v, want NaN", got)
	}
	// BF16 is the upper half of F32 for every pattern.
	for b := 0; b < 1<<16; b++ {
		if got := math.Float32bits(bf16ToF32(uint16(b))); got != uint32(b)<<16 {
			t.Fatalf("bf16ToF32(%#04x) bits = %#x", b, got)
		}
	}
}

func TestDecodeFloat64FromF64RoundsToFloat32(t *testing.T) {
	vals := []float64{0.1, 1.0 / 3, 1e-50, 1e50, math.Copysign(0, -1), math.Inf(-1), 16777217}
	src := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(src[8*i:], math.Float64bits(v))
	}
	dst32 := make([]float32, len(vals))
	decodeFloat32(F64, dst32, src)
	dst64 := make([]float64, len(vals))
	decodeFloat64(F64, dst64, src)
	for i, v := range vals {
		if dst32[i] != float32(v) || math.Signbit(float64(dst32[i])) != math.Signbit(v) {
			t.Errorf("F64 %v -> float32 %v, want %v", v, dst32[i], float32(v))
		}
		if dst64[i] != v || math.Signbit(dst64[i]) != math.Signbit(v) {
			t.Errorf("F64 %v -> float64 %v", v, dst64[i])
		}
	}
}
