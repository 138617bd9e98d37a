//go:build cuda

package gpu

// #include <cuda.h>
// #include "cuinit_shim.h"
import "C"

import "fmt"

// driverReady returns nil when the CUDA driver initialised (cuInit, run by
// gorgonia.org/cu's package init through cuinit_shim.c), else an error that
// says why: no device, no or an old driver. Every path to the driver starts
// here, so a cuda build runs its CPU commands on any machine and fails only
// when asked for a GPU.
func driverReady() error {
	r := int(C.mixft_cuinit_status())
	switch r {
	case 0:
		return nil
	case -1:
		return fmt.Errorf("cuda: the driver was never initialised (cuInit did not run)")
	case C.MIXFT_CUINIT_NOT_FOUND:
		return fmt.Errorf("cuda: no CUDA driver (libcuda.so.1 has no cuInit)")
	}
	var name, desc *C.char
	C.cuGetErrorName(C.CUresult(r), &name)
	C.cuGetErrorString(C.CUresult(r), &desc)
	if name == nil || desc == nil {
		return fmt.Errorf("cuda: no usable GPU: cuInit returned %d", r)
	}
	return fmt.Errorf("cuda: no usable GPU: %s (%s)", C.GoString(desc), C.GoString(name))
}
