/* memory.cc: the emulated device's memory.
 *
 * Device memory is one reserved range of the address space, so "is this a device pointer" is a
 * subtraction. Allocations start 256-byte aligned (as cudaMalloc's) and are followed by at least
 * 256 unaddressable bytes; one shadow byte per 8 bytes says how many of them are addressable,
 * as AddressSanitizer's does, so a kernel's access one element past an allocation is caught to
 * the byte. Freed memory stays unaddressable in a quarantine before it is reused, so a kernel
 * using a freed buffer faults too. Fresh allocations are filled with 0xff bytes (NaN as float,
 * -1 as int), so reading what nobody wrote shows in the results.
 *
 * The host cannot dereference device pointers on a GPU; here the range is mapped PROT_NONE
 * whenever no kernel, copy or library call is running, and a SIGSEGV handler turns a host
 * access into an error naming the allocation.
 *
 * The access log serves the race check of exec.cc: during a launch the first access to each
 * 64-byte chunk saves the chunk's old bytes (reads too, since the instrumentation reports a
 * read-modify-write as its read), so a run can be undone and rerun under another
 * schedule, and the results compared chunk by chunk. */
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <vector>

#include "emu_internal.h"

namespace baton_emu {

uintptr_t dev_base = 0;
size_t dev_size = 0;
uint8_t *dev_shadow = nullptr;
bool log_active = false;

static const size_t ALIGN = 256, REDZONE = 256, CHUNK = 64;
static const size_t QUARANTINE_BYTES = 64u << 20;

static std::map<uintptr_t, allocation> live;      /* by base */
static std::map<uintptr_t, size_t> free_ranges;   /* reusable [start, start+len) */
static std::deque<std::pair<uintptr_t, size_t>> quarantine;
static size_t quarantined = 0, in_use = 0;
static uintptr_t bump = 0, high_water = 0;        /* first never-used byte; end of touched pages */
static uint64_t serial = 0;
static int access_depth = 0;
static uint64_t *dirty = nullptr;                  /* one bit per chunk */

struct chunk_log {
    size_t index;
    uint8_t before[CHUNK], result[CHUNK];
};
static std::vector<chunk_log> log_chunks;

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

static void shadow_set(uintptr_t a, size_t bytes, bool addressable, uint8_t dead)
{
    size_t off = a - dev_base;
    for (size_t g = off / 8, end = (off + bytes + 7) / 8; g < end; g++) {
        if (!addressable) {
            dev_shadow[g] = dead;
        } else {
            size_t left = off + bytes - g * 8;
            dev_shadow[g] = (uint8_t)(left >= 8 ? 8 : left);
        }
    }
}

static void on_segv(int sig, siginfo_t *si, void *ctx);

void mem_init()
{
    if (dev_base)
        return;
    dev_size = opts().memory_bytes;
    void *r = mmap(nullptr, dev_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *s = mmap(nullptr, dev_size / 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *d = mmap(nullptr, dev_size / CHUNK / 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (r == MAP_FAILED || s == MAP_FAILED || d == MAP_FAILED) {
        std::fprintf(stderr, "baton-emu: cannot reserve %zu MiB of address space for the emulated device "
                             "(set BATON_EMU_MEMORY_MB lower)\n", dev_size >> 20);
        std::exit(1);
    }
    dev_base = (uintptr_t)r;
    bump = high_water = dev_base;
    dev_shadow = (uint8_t *)s; /* zero: nothing addressable */
    dirty = (uint64_t *)d;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
}

static void protect(int prot)
{
    if (high_water > dev_base)
        mprotect((void *)dev_base, high_water - dev_base, prot);
}

device_access::device_access()
{
    if (access_depth++ == 0)
        protect(PROT_READ | PROT_WRITE);
}

device_access::~device_access()
{
    if (--access_depth == 0)
        protect(PROT_NONE);
}

static void release_quarantine()
{
    while (quarantined > QUARANTINE_BYTES && !quarantine.empty()) {
        auto q = quarantine.front();
        quarantine.pop_front();
        quarantined -= q.second;
        shadow_set(q.first, q.second, false, 0);
        /* coalesce with neighbours */
        uintptr_t start = q.first;
        size_t len = q.second;
        auto next = free_ranges.lower_bound(start);
        if (next != free_ranges.end() && next->first == start + len) {
            len += next->second;
            next = free_ranges.erase(next);
        }
        if (next != free_ranges.begin()) {
            auto prev = std::prev(next);
            if (prev->first + prev->second == start) {
                start = prev->first;
                len += prev->second;
                free_ranges.erase(prev);
            }
        }
        free_ranges[start] = len;
    }
}

void *mem_alloc(size_t bytes)
{
    mem_init();
    size_t span = round_up(bytes ? bytes : 1, ALIGN) + REDZONE;
    uintptr_t at = 0;
    for (auto it = free_ranges.begin(); it != free_ranges.end(); ++it) {
        if (it->second >= span) {
            at = it->first;
            size_t rest = it->second - span;
            free_ranges.erase(it);
            if (rest)
                free_ranges[at + span] = rest;
            break;
        }
    }
    if (!at) {
        if (bump + span > dev_base + dev_size)
            return nullptr;
        at = bump;
        bump += span;
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        uintptr_t hw = dev_base + round_up(bump - dev_base, page);
        if (hw > high_water) {
            high_water = hw;
        }
    }
    live[at] = allocation{at, bytes, ++serial};
    in_use += bytes;
    shadow_set(at, bytes, true, 0);
    {
        device_access rw;
        std::memset((void *)at, 0xff, bytes);
    }
    return (void *)at;
}

bool mem_free(void *p)
{
    auto it = live.find((uintptr_t)p);
    if (it == live.end())
        return false;
    size_t span = round_up(it->second.bytes ? it->second.bytes : 1, ALIGN) + REDZONE;
    in_use -= it->second.bytes;
    live.erase(it);
    shadow_set((uintptr_t)p, span, false, 0xfd);
    quarantine.push_back({(uintptr_t)p, span});
    quarantined += span;
    release_quarantine();
    return true;
}

bool mem_in_device(const void *p)
{
    return dev_base && (uintptr_t)p - dev_base < dev_size;
}

const allocation *mem_find(uintptr_t a)
{
    auto it = live.upper_bound(a);
    if (it == live.begin())
        return nullptr;
    --it;
    return a - it->first < it->second.bytes ? &it->second : nullptr;
}

size_t mem_in_use()
{
    return in_use;
}

std::string mem_describe(uintptr_t a)
{
    char buf[256];
    if (!mem_in_device((const void *)a)) {
        std::snprintf(buf, sizeof buf, "host memory, not a device allocation");
        return buf;
    }
    if (const allocation *al = mem_find(a)) {
        std::snprintf(buf, sizeof buf, "byte %zu of a %zu-byte allocation (cudaMalloc #%" PRIu64 ")",
                      (size_t)(a - al->base), al->bytes, al->serial);
        return buf;
    }
    if (dev_shadow[(a - dev_base) / 8] == 0xfd) {
        std::snprintf(buf, sizeof buf, "freed device memory (cudaFree'd, in quarantine)");
        return buf;
    }
    /* the nearest allocation below: an overrun; above: an underrun */
    auto it = live.upper_bound(a);
    if (it != live.begin()) {
        auto below = std::prev(it);
        size_t past = a - (below->first + below->second.bytes);
        if (past < 4096 || it == live.end() || it->first - a > past) {
            std::snprintf(buf, sizeof buf, "%zu bytes past the end of a %zu-byte allocation (cudaMalloc #%" PRIu64 ")",
                          past, below->second.bytes, below->second.serial);
            return buf;
        }
    }
    if (it != live.end()) {
        std::snprintf(buf, sizeof buf, "%zu bytes before a %zu-byte allocation (cudaMalloc #%" PRIu64 ")",
                      (size_t)(it->first - a), it->second.bytes, it->second.serial);
        return buf;
    }
    std::snprintf(buf, sizeof buf, "device memory outside every allocation");
    return buf;
}

bool mem_range_ok(const void *p, size_t n, std::string *why)
{
    uintptr_t a = (uintptr_t)p;
    const allocation *al = mem_find(a);
    if (!al) {
        *why = mem_describe(a);
        return false;
    }
    if (n > al->bytes - (a - al->base)) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%zu bytes from byte %zu of a %zu-byte allocation (cudaMalloc #%" PRIu64
                      ") run %zu bytes past its end", n, (size_t)(a - al->base), al->bytes, al->serial,
                      n - (al->bytes - (size_t)(a - al->base)));
        *why = buf;
        return false;
    }
    return true;
}

/* ---- access log ---- */

void log_begin()
{
    log_chunks.clear();
    log_active = true;
}

void log_touch(uintptr_t off, size_t n)
{
    for (size_t c = off / CHUNK, last = (off + n - 1) / CHUNK; c <= last; c++) {
        uint64_t bit = 1ull << (c & 63);
        if (dirty[c >> 6] & bit)
            continue;
        dirty[c >> 6] |= bit;
        chunk_log l;
        l.index = c;
        std::memcpy(l.before, (const void *)(dev_base + c * CHUNK), CHUNK);
        std::memcpy(l.result, l.before, CHUNK); /* a chunk the first schedule left alone */
        log_chunks.push_back(l);
    }
}

void log_snapshot_results()
{
    for (auto &l : log_chunks)
        std::memcpy(l.result, (const void *)(dev_base + l.index * CHUNK), CHUNK);
}

void log_restore()
{
    for (auto &l : log_chunks)
        std::memcpy((void *)(dev_base + l.index * CHUNK), l.before, CHUNK);
}

bool log_compare(const char *kernel, const char *first, const char *other)
{
    for (auto &l : log_chunks) {
        const uint8_t *now = (const uint8_t *)(dev_base + l.index * CHUNK);
        if (std::memcmp(now, l.result, CHUNK) == 0)
            continue;
        size_t i = 0;
        while (now[i] == l.result[i])
            i++;
        i &= ~(size_t)3;
        uintptr_t a = dev_base + l.index * CHUNK + i;
        uint32_t x, y;
        float fx, fy;
        std::memcpy(&x, l.result + i, 4);
        std::memcpy(&y, now + i, 4);
        std::memcpy(&fx, &x, 4);
        std::memcpy(&fy, &y, 4);
        report("kernel %s: its results differ between the %s and the %s schedule at %s: 0x%08x (%g) vs "
               "0x%08x (%g). A data race (threads or blocks writing or reading the same memory without a "
               "barrier between them) or a read of memory nobody wrote",
               kernel, first, other, mem_describe(a).c_str(), x, (double)fx, y, (double)fy);
        return false;
    }
    return true;
}

void log_end()
{
    for (auto &l : log_chunks)
        dirty[l.index >> 6] &= ~(1ull << (l.index & 63));
    log_chunks.clear();
    log_active = false;
}

/* ---- host accesses to device memory ---- */

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (mem_in_device((const void *)a) && access_depth == 0) {
        char buf[512];
        int n = std::snprintf(buf, sizeof buf,
                              "baton-emu: error: host code dereferenced device pointer %p (%s): device memory "
                              "is reachable only by kernels and cudaMemcpy\n", (void *)a, mem_describe(a).c_str());
        if (write(2, buf, (size_t)n) < 0) {
        }
        _exit(opts().error_exitcode ? opts().error_exitcode : 1);
    }
    signal(sig, SIG_DFL); /* not ours: let it crash as it would have */
}

} // namespace baton_emu
