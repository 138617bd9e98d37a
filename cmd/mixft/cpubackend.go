package main

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/mixft/mixft/internal/cpu"
)

// precisionHelp is the help of --precision on the commands that take it
// outside the run settings (bench, eval, predict).
const precisionHelp = "GEMM precision: fp32, or bf16 (GEMM inputs rounded to bfloat16, float32 sums; everything else fp32); tf32 on cuda only; a precision in --device cuda:N:PREC wins"

// newCPUBackend is the CPU backend with its GEMMs at precision and the
// micro-kernels this machine's calibration chose.
func newCPUBackend(threads int, precision string) (*cpu.Backend, error) {
	prec, err := cpu.ParsePrecision(precision)
	if err != nil {
		return nil, err
	}
	be := cpu.New(threads)
	be.UseCalibration(calibration())
	be.SetPrecision(prec)
	return be, nil
}

// calibration is this machine's GEMM calibration, kept in the user cache
// directory (XDG_CACHE_HOME/mixft, else ~/.cache/mixft, on Linux) and
// measured at the first use there; once per process.
var calibration = sync.OnceValue(func() cpu.Calibration {
	return cpu.Calibrate(calibrationPath())
})

// calibrationPath is where the calibration is kept ("" where there is no
// user cache directory: it is measured in every process).
func calibrationPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "mixft", "gemm-calibration.json")
}

// bf16KernelNames names the CPU's bf16 micro-kernels, best first.
func bf16KernelNames() []string {
	names, _ := cpu.BF16Kernels()
	return names
}
