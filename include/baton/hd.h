/* hd.h: one macro that lets a static inline function serve both the host compiler and nvcc.
 * Headers of per-element math (cell_math.h, rng.h) mark every function BATON_HD so that the CPU
 * backend and the CUDA kernels evaluate literally the same formulas. */
#ifndef BATON_HD_H
#define BATON_HD_H

#if defined(__CUDACC__)
/* The functions are already `static inline`; nvcc inlines them and rejects a second inline specifier. */
#define BATON_HD __host__ __device__
#else
#define BATON_HD
#endif

#endif
