/* cuda_runtime.h (baton's CUDA emulation): the runtime API, plus, for C++ (the kernel sources),
 * the device side: built-in variables, barriers, warp intrinsics, atomics and launches. Kernel
 * sources get it the way nvcc gives it, as an implicit first include. */
#ifndef BATON_EMU_CUDA_RUNTIME_H
#define BATON_EMU_CUDA_RUNTIME_H

#include "cuda_runtime_api.h"

#ifdef __cplusplus
#include "baton_emu_device.h"
#endif

#endif
