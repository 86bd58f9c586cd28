/* device.cuh: the seam between nvcc and baton's CUDA emulation (-Dgpu_emulation=true,
 * src/emu/), the only place where the kernel sources differ between the two. Under nvcc every
 * macro is the plain CUDA construct; under the emulation, the same kernel source is compiled by
 * the host C++ compiler and runs on the CPU with CUDA's execution model.
 *
 *   BATON_LAUNCH(grid, block, shmem, stream, kernel)(args...)   kernel<<<grid, block, shmem, stream>>>(args...)
 *   BATON_LAUNCH_COOPERATIVE(grid, block, shmem, stream, kernel)(args...)
 *                                  cudaLaunchCooperativeKernel: the whole grid resident, so the kernel
 *                                  may call cooperative_groups::this_grid().sync(); returns its error
 *   BATON_SHARED(type, name, count);                            __shared__ type name[count];
 *   BATON_DYNAMIC_SHARED(type, name);                           extern __shared__ type name[];
 *   BATON_GRID_CONST                                            const __grid_constant__ (before a kernel
 *                                  parameter: read in place even where it is indexed at run time or its
 *                                  address is taken, which would otherwise copy it to every thread's
 *                                  local memory; large argument structs such as the recurrences')
 *
 * The kernel is the last argument so that a template kernel's commas need no parentheses. In
 * the emulation a shared array is a pointer into the running block's own shared memory, which
 * is poisoned at the start of every block. */
#ifndef BATON_DEVICE_CUH
#define BATON_DEVICE_CUH

#if defined(BATON_EMU_RUNTIME)
#define BATON_LAUNCH(grid, block, shmem, stream, ...)                                                   \
    baton_emu_make_launcher(__VA_ARGS__, #__VA_ARGS__, __FILE__, __LINE__, grid, block, shmem, stream)
#define BATON_SHARED(type, name, count)                                                                 \
    static const baton_emu_shared_site name##_site_ = {sizeof(type) * (count), alignof(type)};          \
    type *name = (type *)baton_emu_shared_static(&name##_site_)
#define BATON_DYNAMIC_SHARED(type, name) type *name = (type *)baton_emu_shared_dynamic()
#define BATON_GRID_CONST const
#define BATON_LAUNCH_COOPERATIVE(grid, block, shmem, stream, ...)                                       \
    baton_emu_make_launcher(__VA_ARGS__, #__VA_ARGS__, __FILE__, __LINE__, grid, block, shmem, stream, 1)
#else
#include <tuple>
#include <utility>

/* cudaLaunchCooperativeKernel takes the arguments as an array of pointers to values of the
 * kernel's parameter types: they are converted into a tuple of exactly those types first. */
template <typename... P> struct baton_cooperative_launcher {
    void (*fn)(P...);
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;

    template <typename... A> cudaError_t operator()(A &&...a) const
    {
        std::tuple<P...> params(std::forward<A>(a)...);
        return launch(params, std::index_sequence_for<P...>{});
    }
    template <size_t... I> cudaError_t launch(std::tuple<P...> &params, std::index_sequence<I...>) const
    {
        void *args[] = {(void *)&std::get<I>(params)..., nullptr};
        return cudaLaunchCooperativeKernel((const void *)fn, grid, block, args, shmem, stream);
    }
};
template <typename... P>
baton_cooperative_launcher<P...> baton_make_cooperative(void (*fn)(P...), dim3 grid, dim3 block, size_t shmem,
                                                        cudaStream_t stream)
{
    return baton_cooperative_launcher<P...>{fn, grid, block, shmem, stream};
}
#define BATON_LAUNCH_COOPERATIVE(grid, block, shmem, stream, ...)                                       \
    baton_make_cooperative(__VA_ARGS__, grid, block, shmem, stream)
#define BATON_LAUNCH(grid, block, shmem, stream, ...) __VA_ARGS__<<<grid, block, shmem, stream>>>
#define BATON_SHARED(type, name, count) __shared__ type name[count]
#define BATON_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#define BATON_GRID_CONST const __grid_constant__
#endif

#endif
