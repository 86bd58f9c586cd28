/* mma.h (baton's CUDA emulation): the warp matrix operations of nvcuda::wmma that baton uses, for
 * bf16 inputs with fp32 accumulation on 16x16x16 tiles.
 *
 * On a GPU a fragment is spread over the 32 lanes of a warp in an unspecified layout; here every
 * lane holds the whole tile, so the results are the same wherever a program depends only on the
 * documented operations (load, store, fill, mma). A program that reads fragment elements by index
 * (x[i], num_elements) would see another layout than on a GPU: baton's kernels do not. Each
 * operation is a warp collective, as on a GPU: every lane of the warp must reach the same call
 * (checked as __syncwarp is), and every lane reads the tile, so the memory checks see each access.
 * The products are exact fp32 sums of the bf16 inputs, in k order (tensor cores sum in an order of
 * their own; results agree to rounding). */
#ifndef BATON_EMU_MMA_H
#define BATON_EMU_MMA_H

#include "baton_emu_device.h"
#include "cuda_bf16.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
    static constexpr int rows = std::is_same<Use, matrix_b>::value ? K : M;
    static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
    static constexpr int num_elements = rows * cols; /* a GPU's lane holds far fewer */
    float x[rows * cols];                           /* the whole tile, row-major, in every lane */
};

template <typename Use, int M, int N, int K, typename T, typename L>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, float v, const char *file = __builtin_FILE(),
                          int line = __builtin_LINE())
{
    __syncwarp(0xffffffffu, file, line);
    for (float &e : f.x)
        e = v;
}

/* Element (r, c) of a tile at p with leading dimension ldm, stored row- or column-major. */
inline float baton_emu_mma_at(const __nv_bfloat16 *p, unsigned ldm, bool row, int r, int c)
{
    return __bfloat162float(p[row ? (size_t)r * ldm + c : (size_t)c * ldm + r]);
}

template <typename Use, int M, int N, int K, typename L>
inline void load_matrix_sync(fragment<Use, M, N, K, __nv_bfloat16, L> &f, const __nv_bfloat16 *p, unsigned ldm,
                             const char *file = __builtin_FILE(), int line = __builtin_LINE())
{
    static_assert(!std::is_same<Use, accumulator>::value, "an accumulator is loaded with a layout_t");
    __syncwarp(0xffffffffu, file, line);
    typedef fragment<Use, M, N, K, __nv_bfloat16, L> F;
    for (int r = 0; r < F::rows; r++)
        for (int c = 0; c < F::cols; c++)
            f.x[r * F::cols + c] = baton_emu_mma_at(p, ldm, std::is_same<L, row_major>::value, r, c);
}

template <int M, int N, int K>
inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm, layout_t layout,
                              const char *file = __builtin_FILE(), int line = __builtin_LINE())
{
    __syncwarp(0xffffffffu, file, line);
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++)
            p[layout == mem_row_major ? (size_t)r * ldm + c : (size_t)c * ldm + r] = f.x[r * N + c];
}

/* Register arithmetic only, so not instrumented: the memory checks have nothing to see here, and
 * 32 lanes each computing the tile would otherwise call the checks for every operand. */
template <int M, int N, int K, typename LA, typename LB>
__attribute__((no_sanitize_address)) inline void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, __nv_bfloat16, LA> &a,
                     const fragment<matrix_b, M, N, K, __nv_bfloat16, LB> &b,
                     const fragment<accumulator, M, N, K, float> &c, const char *file = __builtin_FILE(),
                     int line = __builtin_LINE())
{
    __syncwarp(0xffffffffu, file, line);
    for (int r = 0; r < M; r++)
        for (int col = 0; col < N; col++) {
            float s = c.x[r * N + col];
            for (int k = 0; k < K; k++)
                s += a.x[r * K + k] * b.x[k * N + col];
            d.x[r * N + col] = s;
        }
}

} // namespace wmma
} // namespace nvcuda

#endif
