package main

import "github.com/mixft/mixft/internal/cpu"

// precisionHelp is the help of --precision on the commands that take it
// outside the run settings (bench, eval, predict).
const precisionHelp = "GEMM precision: fp32, or bf16 (GEMM inputs rounded to bfloat16, float32 sums; everything else fp32); tf32 on cuda only; a precision in --device cuda:N:PREC wins"

// newCPUBackend is the CPU backend with its GEMMs at precision.
func newCPUBackend(threads int, precision string) (*cpu.Backend, error) {
	prec, err := cpu.ParsePrecision(precision)
	if err != nil {
		return nil, err
	}
	be := cpu.New(threads)
	be.SetPrecision(prec)
	return be, nil
}

// bf16KernelNames names the CPU's bf16 micro-kernels, best first.
func bf16KernelNames() []string {
	names, _ := cpu.BF16Kernels()
	return names
}
