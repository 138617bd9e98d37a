//go:build cuda

// cuinit_shim.c: gorgonia.org/cu calls cuInit in its package init and exits
// the process when it fails, so a cuda build of mixft would die at start on
// every machine without a GPU, even for `mixft --version`. This file defines
// cuInit in the executable itself; the linker binds gorgonia's call to it
// rather than to libcuda's. It calls the driver's cuInit (the next definition
// in the search order), records the result, and reports success, so the
// process starts; the CUDA backend reads the recorded result before it
// touches the driver and turns a failure into one error.
#define _GNU_SOURCE
#include <cuda.h>
#include <dlfcn.h>

#include "cuinit_shim.h"

// mixft_cuinit_result is the driver's answer, or -1 before cuInit ran, or
// MIXFT_CUINIT_NOT_FOUND when no cuInit could be found.
static int mixft_cuinit_result = -1;

CUresult CUDAAPI cuInit(unsigned int flags) {
    CUresult (*real)(unsigned int) = (CUresult(*)(unsigned int))dlsym(RTLD_NEXT, "cuInit");
    if (real == NULL) {
        mixft_cuinit_result = MIXFT_CUINIT_NOT_FOUND;
        return CUDA_SUCCESS;
    }
    mixft_cuinit_result = (int)real(flags);
    return CUDA_SUCCESS;
}

int mixft_cuinit_status(void) { return mixft_cuinit_result; }
