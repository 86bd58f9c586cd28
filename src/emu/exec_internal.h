/* exec_internal.h: what exec.cc (grids, blocks, schedules) and device.cc (what kernel code calls,
 * and the memory checks behind every access) share: the running grid, its blocks and threads. */
#ifndef BATON_EMU_EXEC_INTERNAL_H
#define BATON_EMU_EXEC_INTERNAL_H

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "emu_internal.h"
#include "fiber.h"

namespace baton_emu {

enum { S_FORWARD, S_REVERSE, S_RANDOM, S_WARP, N_SCHEDULES };
extern const uint8_t shared_poison[N_SCHEDULES]; /* each schedule's poison of shared memory */

/* ---- limits of the emulated device: an H100 SXM ---- */
static const unsigned SMS = 132, MAX_BLOCKS_PER_SM = 32, MAX_THREADS_PER_SM = 2048;
static const size_t STATIC_SHARED_LIMIT = 48 * 1024, OPTIN_SHARED_LIMIT = 227 * 1024;
static const size_t SHARED_SLOT = 256 * 1024;

/* ---- kernel attributes: opt-in shared memory and the static shared arrays met so far ---- */
struct kernel_facts {
    std::unordered_map<const void *, size_t> sites; /* static shared arrays: offset of each */
    size_t static_bytes = 0;
    int dyn_limit = -1;                             /* cudaFuncAttributeMaxDynamicSharedMemorySize */
};
extern std::unordered_map<const void *, kernel_facts> facts;

/* ---- one grid run ---- */
enum { T_RUN, T_BARRIER, T_WARP, T_GRID, T_DONE };

struct block;
struct ethread {
    baton_emu_builtins bi;
    fiber *f;
    int state;
    const char *file; /* where it waits */
    int line;
    int op, arg, width;
    unsigned mask;
    uint64_t value, result;
    block *blk;
    unsigned tid, lane, warp;
};

/* Lanes of one warp as bit masks, so a collective's bookkeeping is a few bit operations. */
struct warp_info {
    unsigned exists, exited, waiting; /* waiting: lanes in a collective */
    int op;                           /* the collective the waiting lanes are in (the last one begun) */
    unsigned mask;
    const char *file;
    int line;
};

struct block {
    uint3 idx;
    std::vector<ethread> th;
    std::vector<warp_info> warps;
    char *shared;
    size_t shared_used;
    unsigned live, at_barrier;
    const char *bfile;
    int bline;
};

struct grid_run {
    const launch *l;
    int schedule;
    fiber_host host;
    std::vector<block *> resident;
    unsigned live, at_grid;
    bool fault;
    cudaError_t err;
    uint64_t rng;
    kernel_facts *kf;
};

extern grid_run *G; /* the grid running, or nullptr */
extern __thread ethread *cur __attribute__((tls_model("initial-exec"))); /* the thread running, or nullptr */
extern int preempt_mode; /* the running schedule's: 0 none, 1 random, 2 every access */
extern bool count_bytes; /* the first schedule of a run: kernel_bytes counts its accesses */
extern char *shared_base; /* the blocks' shared memory: shared_slots slots of SHARED_SLOT bytes */
extern size_t shared_slots;
extern std::vector<std::pair<uintptr_t, uintptr_t>> image; /* static data of the program */

static inline uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Reports an error of the running grid, stops it, and never returns to the faulting thread. */
void fault(ethread *t, cudaError_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Gives the host back the running thread t until the scheduler resumes it. */
void suspend(ethread *t);
/* Releases block b's __syncthreads once every live thread waits there. */
void release_barrier(block *b);
/* Releases the grid barrier once every live thread of the grid waits there. */
void release_grid();
/* Whether two waits are at the same call site. */
bool same_site(const char *f1, int l1, const char *f2, int l2);
/* The thread of lane `lane` of warp `warp` in b, or nullptr past the block's end. */
ethread *lane_thread(block *b, unsigned warp, unsigned lane);
/* The CUDA name of warp collective op (BATON_EMU_SHFL_IDX, ...). */
const char *op_name(int op);
/* Completes the collective t waits at when all its lanes are there. */
void try_complete_warp(ethread *t);

/* The random and warp schedules switch threads at memory accesses. */
static inline void preempt(ethread *t)
{
    if (preempt_mode && (preempt_mode == 2 || (next_random(&G->rng) & 7) == 0))
        suspend(t);
}

} // namespace baton_emu

#endif
