/* cub.cc: CUB's DeviceRadixSort::SortPairs for the emulation (include/cub/...). Keys are mapped
 * to unsigned integers that order as the keys do (sign bit flipped for signed integers, IEEE
 * order for floats), the bits [begin_bit, end_bit) extracted, and the pairs sorted stably by
 * them: the result of an LSD radix sort, bit for bit. */
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "emu_internal.h"
#include "include/cub/device/device_radix_sort.cuh"

using namespace baton_emu;

static uint64_t ordered_bits(const unsigned char *p, size_t bytes, int kind)
{
    uint64_t u = 0;
    std::memcpy(&u, p, bytes);
    uint64_t sign = 1ull << (bytes * 8 - 1);
    if (kind == 1)
        u ^= sign;
    else if (kind == 2)
        u = (u & sign) ? ~u & (bytes == 8 ? ~0ull : (1ull << (bytes * 8)) - 1) : u | sign;
    return u;
}

static bool in_device(const char *what, const void *p, size_t n, std::string *msg)
{
    std::string why;
    if (n == 0)
        return true;
    if (!mem_in_device(p) || !mem_range_ok(p, n, &why)) {
        *msg = std::string(what) + ": " + (mem_in_device(p) ? why : "host memory, not a device allocation");
        return false;
    }
    return true;
}

cudaError_t baton_emu_sort_pairs(void *temp, size_t *temp_bytes, const void *keys_in, void *keys_out,
                                 const void *values_in, void *values_out, int n, int begin_bit, int end_bit,
                                 cudaStream_t stream, size_t key_bytes, int key_kind, size_t value_bytes)
{
    std::lock_guard<std::recursive_mutex> lock(api_mutex);
    mem_init();
    /* what CUB itself would need: a second copy of keys and values, plus bookkeeping */
    size_t need = (size_t)(n > 0 ? n : 0) * (key_bytes + value_bytes) + 1024;
    if (!temp) {
        *temp_bytes = need;
        return cudaSuccess;
    }
    if (sticky_error() != cudaSuccess)
        return sticky_error();
    if (n < 0 || begin_bit < 0 || end_bit > (int)(key_bytes * 8) || begin_bit >= end_bit || *temp_bytes < need) {
        report("cub::DeviceRadixSort::SortPairs: n %d, bits [%d, %d) of %zu-byte keys, %zu bytes of temporary "
               "storage where %zu are needed", n, begin_bit, end_bit, key_bytes, *temp_bytes, need);
        return set_error(cudaErrorInvalidValue);
    }
    std::string msg;
    size_t kb = (size_t)n * key_bytes, vb = (size_t)n * value_bytes;
    if (!in_device("temporary storage", temp, *temp_bytes, &msg) || !in_device("keys in", keys_in, kb, &msg) ||
        !in_device("keys out", keys_out, kb, &msg) || !in_device("values in", values_in, vb, &msg) ||
        !in_device("values out", values_out, vb, &msg)) {
        report("cub::DeviceRadixSort::SortPairs of %d pairs: %s", n, msg.c_str());
        return set_error(cudaErrorInvalidValue);
    }
    size_t have = *temp_bytes;
    return set_error(enqueue(stream, "cub::DeviceRadixSort::SortPairs", [=]() {
        counters.library_calls++; /* counted when run, so graph replays count too */
        const unsigned char *k = (const unsigned char *)keys_in, *v = (const unsigned char *)values_in;
        uint64_t mask = end_bit - begin_bit >= 64 ? ~0ull : ((1ull << (end_bit - begin_bit)) - 1);
        std::vector<uint64_t> bits((size_t)n);
        for (int i = 0; i < n; i++)
            bits[(size_t)i] = ordered_bits(k + (size_t)i * key_bytes, key_bytes, key_kind) >> begin_bit & mask;
        std::vector<int> order((size_t)n);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bits[(size_t)a] < bits[(size_t)b]; });
        std::vector<unsigned char> ko((size_t)kb), vo((size_t)vb);
        for (int i = 0; i < n; i++) {
            std::memcpy(&ko[(size_t)i * key_bytes], k + (size_t)order[(size_t)i] * key_bytes, key_bytes);
            std::memcpy(&vo[(size_t)i * value_bytes], v + (size_t)order[(size_t)i] * value_bytes, value_bytes);
        }
        std::memcpy(keys_out, ko.data(), kb);
        std::memcpy(values_out, vo.data(), vb);
        std::memset(temp, 0xff, have < need ? have : need); /* CUB leaves its scratch undefined */
    }));
}
