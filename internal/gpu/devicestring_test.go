//go:build cuda || kernelhost

package gpu

import "testing"

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		device, env string
		ordinal     int
		prec        Precision
		ok          bool
	}{
		{"cuda", "", 0, FP32, true},
		{"cuda:0", "", 0, FP32, true},
		{"cuda:3", "", 3, FP32, true},
		{"cuda:1:bf16", "", 1, BF16, true},
		{"cuda:1:TF32", "", 1, TF32, true},
		{"cuda:0", "bf16", 0, BF16, true},
		{"cuda:0:fp32", "bf16", 0, FP32, true}, // the string wins
		{"cuda:0", "fp16", 0, FP32, false},
		{"cuda:x", "", 0, FP32, false},
		{"cuda:-1", "", 0, FP32, false},
		{"cuda:0:fp8", "", 0, FP32, false},
		{"gpu:0", "", 0, FP32, false},
		{"cuda:0:bf16:x", "", 0, FP32, false},
	} {
		n, p, err := ParseDevice(c.device, c.env)
		if (err == nil) != c.ok || (c.ok && (n != c.ordinal || p != c.prec)) {
			t.Errorf("ParseDevice(%q, env %q) = %d, %v, %v; want %d, %v, ok %v", c.device, c.env, n, p, err, c.ordinal, c.prec, c.ok)
		}
	}
}
