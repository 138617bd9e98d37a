package backend

import (
	"fmt"
	"strings"
)

// DeviceInfo describes the device an accelerator backend runs on: what a
// log or a benchmark record needs to say which card, driver, kernels and
// GEMM library produced its numbers. Fields a device does not have are
// left zero (and omitted from JSON).
type DeviceInfo struct {
	// Device is the backend name ("cuda:0", "emu").
	Device string `json:"device"`
	// Name is the card's name ("NVIDIA H100 80GB HBM3"), or "host
	// emulation" for the kernels run on the CPU.
	Name string `json:"name"`
	// Capability is the compute capability ("9.0").
	Capability string `json:"compute_capability,omitempty"`
	// Multiprocessors is the card's SM count.
	Multiprocessors int `json:"multiprocessors,omitempty"`
	// MemoryBytes is the card's total memory.
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
	// Driver is the driver's CUDA version (cuDriverGetVersion: 13000 is 13.0).
	Driver int `json:"driver_version,omitempty"`
	// PTXTarget is the embedded PTX the driver compiled for the card
	// ("sm_90"), and PTXJITMillis how long loading it took.
	PTXTarget    string  `json:"ptx_target,omitempty"`
	PTXJITMillis float64 `json:"ptx_jit_ms,omitempty"`
	// GEMMLibrary is the file the GEMMs run in (the libcublas.so.N that
	// was loaded) or a description of the emulation's reference GEMM;
	// GEMMLibraryVersion its version (cublasGetVersion: 130100).
	GEMMLibrary        string `json:"gemm_library"`
	GEMMLibraryVersion int    `json:"gemm_library_version,omitempty"`
	// GEMMPrecision is fp32, tf32 or bf16.
	GEMMPrecision string `json:"gemm_precision"`
}

// String is the description on one line, for logs.
func (i DeviceInfo) String() string {
	parts := []string{i.Device + ": " + i.Name}
	if i.Capability != "" {
		parts = append(parts, "compute capability "+i.Capability)
	}
	if i.Multiprocessors > 0 {
		parts = append(parts, fmt.Sprintf("%d SMs", i.Multiprocessors))
	}
	if i.MemoryBytes > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB", float64(i.MemoryBytes)/(1<<30)))
	}
	if i.Driver > 0 {
		parts = append(parts, fmt.Sprintf("driver CUDA %d.%d", i.Driver/1000, i.Driver%1000/10))
	}
	if i.PTXTarget != "" {
		parts = append(parts, fmt.Sprintf("PTX %s (loaded in %.0f ms)", i.PTXTarget, i.PTXJITMillis))
	}
	lib := "GEMMs: " + i.GEMMLibrary
	if i.GEMMLibraryVersion > 0 {
		lib += fmt.Sprintf(" (version %d)", i.GEMMLibraryVersion)
	}
	parts = append(parts, lib, "precision "+i.GEMMPrecision)
	return strings.Join(parts, ", ")
}
