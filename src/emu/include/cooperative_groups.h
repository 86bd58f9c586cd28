/* cooperative_groups.h (baton's CUDA emulation): the groups baton uses. this_grid().sync() is the
 * grid-wide barrier of a cooperative launch (cudaLaunchCooperativeKernel); in any other launch
 * the emulation reports it as an error, where a GPU would deadlock or fault. */
#ifndef BATON_EMU_COOPERATIVE_GROUPS_H
#define BATON_EMU_COOPERATIVE_GROUPS_H

#include "baton_emu_device.h"

namespace cooperative_groups {

struct grid_group {
    void sync(const char *f = __builtin_FILE(), int l = __builtin_LINE()) const
    {
        baton_emu_grid_sync(f, l);
    }
    unsigned long long size() const
    {
        return (unsigned long long)gridDim.x * gridDim.y * gridDim.z * blockDim.x * blockDim.y * blockDim.z;
    }
    unsigned long long thread_rank() const
    {
        unsigned long long b = blockIdx.x + gridDim.x * (blockIdx.y + (unsigned long long)gridDim.y * blockIdx.z);
        unsigned long long t = threadIdx.x + blockDim.x * (threadIdx.y + (unsigned long long)blockDim.y * threadIdx.z);
        return b * blockDim.x * blockDim.y * blockDim.z + t;
    }
};

struct thread_block {
    void sync(const char *f = __builtin_FILE(), int l = __builtin_LINE()) const
    {
        baton_emu_syncthreads(f, l);
    }
    unsigned size() const
    {
        return blockDim.x * blockDim.y * blockDim.z;
    }
    unsigned thread_rank() const
    {
        return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    }
};

inline grid_group this_grid()
{
    return grid_group();
}
inline thread_block this_thread_block()
{
    return thread_block();
}

} // namespace cooperative_groups

#endif
