//go:build cuda || kernelhost

package gpu

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseDevice parses a --device value for the CUDA backend: "cuda",
// "cuda:N" or "cuda:N:PRECISION" (fp32, tf32 or bf16). envPrec (the value
// of MIXFT_PRECISION) applies when the string names no precision.
func ParseDevice(device, envPrec string) (ordinal int, prec Precision, err error) {
	bad := func(why string) (int, Precision, error) {
		return 0, FP32, fmt.Errorf("--device %q: %s (expected cpu, cuda, cuda:N or cuda:N:fp32|tf32|bf16)", device, why)
	}
	parts := strings.Split(device, ":")
	if parts[0] != "cuda" || len(parts) > 3 {
		return bad("unknown device")
	}
	if len(parts) >= 2 {
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 0 {
			return bad(fmt.Sprintf("%q is not a GPU number", parts[1]))
		}
		ordinal = n
	}
	name := envPrec
	if len(parts) == 3 {
		name = parts[2]
	}
	if prec, err = ParsePrecision(name); err != nil {
		if len(parts) == 3 {
			return bad(err.Error())
		}
		return 0, FP32, fmt.Errorf("MIXFT_PRECISION: %w", err)
	}
	return ordinal, prec, nil
}
