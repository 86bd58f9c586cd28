/* cub/device/device_radix_sort.cuh (baton's CUDA emulation): DeviceRadixSort::SortPairs, a
 * stable sort of (key, value) pairs by the key's bits [begin_bit, end_bit), with CUB's two-phase
 * temporary-storage protocol (a NULL d_temp_storage asks for the size). src/emu/cub.cc does the
 * work on the stream, after checking every buffer against its allocation. */
#ifndef BATON_EMU_CUB_DEVICE_RADIX_SORT_CUH
#define BATON_EMU_CUB_DEVICE_RADIX_SORT_CUH

#include <cstddef>
#include <type_traits>

#include "cuda_runtime_api.h"

cudaError_t baton_emu_sort_pairs(void *temp, size_t *temp_bytes, const void *keys_in, void *keys_out,
                                 const void *values_in, void *values_out, int n, int begin_bit, int end_bit,
                                 cudaStream_t stream, size_t key_bytes, int key_kind, size_t value_bytes);

namespace cub {

struct DeviceRadixSort {
    template <typename K, typename V>
    static cudaError_t SortPairs(void *d_temp_storage, size_t &temp_storage_bytes, const K *d_keys_in, K *d_keys_out,
                                 const V *d_values_in, V *d_values_out, int num_items, int begin_bit = 0,
                                 int end_bit = (int)(sizeof(K) * 8), cudaStream_t stream = 0)
    {
        static_assert(std::is_integral<K>::value || std::is_floating_point<K>::value, "keys are numbers");
        int kind = std::is_floating_point<K>::value ? 2 : std::is_signed<K>::value ? 1 : 0;
        return baton_emu_sort_pairs(d_temp_storage, &temp_storage_bytes, d_keys_in, d_keys_out, d_values_in,
                                    d_values_out, num_items, begin_bit, end_bit, stream, sizeof(K), kind, sizeof(V));
    }
};

} // namespace cub

#endif
