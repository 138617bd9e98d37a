// cuinit_shim.h: the driver's answer to cuInit, recorded by cuinit_shim.c.
#ifndef MIXFT_CUINIT_SHIM_H
#define MIXFT_CUINIT_SHIM_H

// MIXFT_CUINIT_NOT_FOUND: no driver cuInit was found behind the shim.
#define MIXFT_CUINIT_NOT_FOUND (-2)

// mixft_cuinit_status returns the CUresult of the driver's cuInit, -1 when
// it has not run, or MIXFT_CUINIT_NOT_FOUND.
int mixft_cuinit_status(void);

#endif
