package safetensors

import (
	"encoding/binary"
	"math"
)

// DType is a safetensors element type, spelled as in the JSON header ("F32", "BF16", ...).
type DType string

// The element types this package knows. Float32, Float64 and Int64 convert
// only some of them; the others can still be opened, validated and read with
// Raw.
const (
	F64    DType = "F64"     // IEEE 754 binary64
	F32    DType = "F32"     // IEEE 754 binary32
	F16    DType = "F16"     // IEEE 754 binary16
	BF16   DType = "BF16"    // bfloat16: the upper 16 bits of a binary32
	I64    DType = "I64"     // signed 64-bit integer
	I32    DType = "I32"     // signed 32-bit integer
	I16    DType = "I16"     // signed 16-bit integer
	I8     DType = "I8"      // signed 8-bit integer
	U64    DType = "U64"     // unsigned 64-bit integer
	U32    DType = "U32"     // unsigned 32-bit integer
	U16    DType = "U16"     // unsigned 16-bit integer
	U8     DType = "U8"      // unsigned 8-bit integer
	BOOL   DType = "BOOL"    // one byte per element, 0 or 1
	F8E4M3 DType = "F8_E4M3" // 8-bit float (4 exponent bits); size known, not converted
	F8E5M2 DType = "F8_E5M2" // 8-bit float (5 exponent bits); size known, not converted
)

// Size returns the size of one element in bytes, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL, F8E4M3, F8E5M2:
		return 1
	}
	return 0
}

// isFloat reports whether d converts to float32/float64 with Float32 and Float64.
func (d DType) isFloat() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// isInt reports whether d converts to int64 with Int64.
func (d DType) isInt() bool {
	switch d {
	case I64, I32, I16, I8, U64, U32, U16, U8, BOOL:
		return true
	}
	return false
}

// f16ToF32 converts IEEE binary16 bits to float32 exactly (every binary16
// value, subnormals included, is representable as a binary32). Infinities
// keep their sign and NaNs keep sign and payload.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant * 2^-24, exact in binary32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+(127-15))<<23 | mant<<13)
}

// bf16ToF32 converts bfloat16 bits to float32: they are its upper 16 bits.
func bf16ToF32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// decodeFloat32 converts little-endian elements of a float dtype in src
// into dst (len(dst) elements). F64 values are rounded to nearest float32.
func decodeFloat32(d DType, dst []float32, src []byte) {
	le := binary.LittleEndian
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = f16ToF32(le.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = bf16ToF32(le.Uint16(src[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	}
}

// decodeFloat64 converts little-endian elements of a float dtype in src
// into dst (len(dst) elements); every conversion is exact.
func decodeFloat64(d DType, dst []float64, src []byte) {
	le := binary.LittleEndian
	switch d {
	case F64:
		for i := range dst {
			dst[i] = math.Float64frombits(le.Uint64(src[8*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(le.Uint32(src[4*i:])))
		}
	case F16:
		for i := range dst {
			dst[i] = float64(f16ToF32(le.Uint16(src[2*i:])))
		}
	case BF16:
		for i := range dst {
			dst[i] = float64(bf16ToF32(le.Uint16(src[2*i:])))
		}
	}
}

// decodeInt64 converts little-endian elements of an integer dtype in src
// into dst (len(dst) elements). It returns the index of the first element
// that has no int64 value (a U64 above math.MaxInt64, a BOOL byte other than
// 0 or 1) and false, or -1 and true.
func decodeInt64(d DType, dst []int64, src []byte) (int, bool) {
	le := binary.LittleEndian
	switch d {
	case I64:
		for i := range dst {
			dst[i] = int64(le.Uint64(src[8*i:]))
		}
	case U64:
		for i := range dst {
			v := le.Uint64(src[8*i:])
			if v > math.MaxInt64 {
				return i, false
			}
			dst[i] = int64(v)
		}
	case I32:
		for i := range dst {
			dst[i] = int64(int32(le.Uint32(src[4*i:])))
		}
	case U32:
		for i := range dst {
			dst[i] = int64(le.Uint32(src[4*i:]))
		}
	case I16:
		for i := range dst {
			dst[i] = int64(int16(le.Uint16(src[2*i:])))
		}
	case U16:
		for i := range dst {
			dst[i] = int64(le.Uint16(src[2*i:]))
		}
	case I8:
		for i := range dst {
			dst[i] = int64(int8(src[i]))
		}
	case U8:
		for i := range dst {
			dst[i] = int64(src[i])
		}
	case BOOL:
		for i := range dst {
			if src[i] > 1 {
				return i, false
			}
			dst[i] = int64(src[i])
		}
	}
	return -1, true
}

// DecodeFloat32 converts the little-endian elements of src, of float dtype
// d (F64, F32, F16 or BF16), into dst (len(dst) elements), as Float32 does;
// for readers of other containers of the same dtypes (torch.save files).
func DecodeFloat32(d DType, dst []float32, src []byte) {
	decodeFloat32(d, dst, src)
}
