/* cpu_backend.c: the CPU reference backend's memory and ops table. Matrix products are in
 * cpu_gemm.c, the loops in cpu_ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cpu_internal.h"

#if BATON_HAVE_OPENMP
#include <omp.h>
#endif
#if BATON_HAVE_BLAS
#include <cblas.h>
#endif

void baton_format_bytes(char *buf, size_t n, double bytes)
{
    if (bytes >= 1024.0 * 1024 * 1024)
        snprintf(buf, n, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024)
        snprintf(buf, n, "%.1f MiB", bytes / (1024.0 * 1024));
    else if (bytes >= 1024.0)
        snprintf(buf, n, "%.0f KiB", bytes / 1024.0);
    else
        snprintf(buf, n, "%.0f bytes", bytes);
}

/* A /proc file's "Key:   123 kB" line, in bytes; -1 when absent. */
static double proc_kb(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1.0;
    char line[256];
    size_t n = strlen(key);
    double v = -1.0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = 1024.0 * strtod(line + n + 1, NULL);
            break;
        }
    fclose(f);
    return v;
}

/* What host memory is free, in words: MemAvailable (the kernel's estimate of what can be
 * allocated without swapping), and the address-space limit (ulimit -v) when one is set, with what
 * of it this process already maps. */
void baton_host_memory_free(char *buf, size_t n)
{
    char a[32], b[32], c[32];
    double avail = proc_kb("/proc/meminfo", "MemAvailable");
    if (avail >= 0.0) {
        baton_format_bytes(a, sizeof a, avail);
        snprintf(buf, n, "%s available (MemAvailable)", a);
    } else {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        baton_format_bytes(a, sizeof a, pages > 0 && size > 0 ? (double)pages * (double)size : 0.0);
        snprintf(buf, n, "%s of memory free", a);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        double used = proc_kb("/proc/self/status", "VmSize");
        baton_format_bytes(b, sizeof b, (double)rl.rlim_cur);
        baton_format_bytes(c, sizeof c, used >= 0.0 ? (double)rl.rlim_cur - used : 0.0);
        size_t k = strlen(buf);
        snprintf(buf + k, n - k, "; the address-space limit (ulimit -v) is %s, %s of it left", b,
                 used >= 0.0 ? c : "an unknown part");
    }
}

static baton_status cpu_alloc(baton_backend *be, void **ptr, size_t bytes, const char *what)
{
    *ptr = NULL;
    /* 256-byte alignment, as the parameter table and arena assume, and as AVX-512 loads like. */
    size_t rounded = (bytes + 255) / 256 * 256;
    if (posix_memalign(ptr, 256, rounded ? rounded : 256) == 0)
        return BATON_OK;
    *ptr = NULL;
    char asked[32], free_text[256];
    baton_format_bytes(asked, sizeof asked, (double)bytes);
    baton_host_memory_free(free_text, sizeof free_text);
    return BATON_ERROR(BATON_ERR_OOM, "out of memory: %s needs %s (%zu bytes) of host memory; %s%s%s", what, asked,
                       bytes, free_text, be->alloc_hint ? "; " : "", be->alloc_hint ? be->alloc_hint : "");
}

static void cpu_free(baton_backend *be, void *ptr)
{
    (void)be;
    free(ptr);
}

static baton_status cpu_copy(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes)
        memmove(dst, src, bytes);
    return BATON_OK;
}

static baton_status cpu_zero(baton_backend *be, void *ptr, size_t bytes)
{
    (void)be;
    if (bytes)
        memset(ptr, 0, bytes);
    return BATON_OK;
}

static baton_status cpu_sync(baton_backend *be)
{
    (void)be;
    return BATON_OK;
}

#if BATON_HAVE_XSMM || BATON_HAVE_DNNL
/* ops->params_frozen: the copies each GEMM path keeps of constant weights. fp32's libxsmm panels
 * (cpu_frozen.c), or bf16's rounded weights (cpu_dnnl.c). */
static baton_status cpu_params_frozen(baton_backend *be, const float *params, size_t n)
{
#if BATON_HAVE_DNNL
    if (baton_cpu_dnnl_on(be))
        return baton_cpu_dnnl_freeze(be, params, n);
#endif
#if BATON_HAVE_XSMM
    return baton_cpu_params_frozen(be, params, n);
#else
    (void)be, (void)params, (void)n;
    return BATON_OK;
#endif
}
#endif

static void cpu_destroy(baton_backend *be)
{
    cpu_ctx *c = be->impl;
    if (c) {
        for (int i = 0; i < 2; i++)
            free(c->rounded[i]);
        free(c->packed);
#if BATON_HAVE_XSMM
        baton_cpu_frozen_free(c->frozen);
#endif
#if BATON_HAVE_DNNL
        baton_cpu_dnnl_free(c->dnnl);
#endif
    }
    free(be->impl);
    be->impl = NULL;
}

static baton_status cpu_timer_mark(baton_backend *be, int slot)
{
    BATON_REQUIRE(slot >= 0 && slot < BATON_TIMER_SLOTS, "timer mark %d: expected 0..%d", slot, BATON_TIMER_SLOTS - 1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ((cpu_ctx *)be->impl)->marks[slot] = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return BATON_OK;
}

static baton_status cpu_timer_elapsed(baton_backend *be, int a, int b, float *ms)
{
    BATON_REQUIRE(a >= 0 && a < BATON_TIMER_SLOTS && b >= 0 && b < BATON_TIMER_SLOTS,
                  "timer marks %d, %d: expected 0..%d", a, b, BATON_TIMER_SLOTS - 1);
    const double *m = ((cpu_ctx *)be->impl)->marks;
    *ms = (float)(1e3 * (m[b] - m[a]));
    return BATON_OK;
}

static baton_status cpu_memory_used(baton_backend *be, size_t *bytes)
{
    (void)be;
    struct rusage ru;
    BATON_REQUIRE(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage failed");
    *bytes = (size_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
    return BATON_OK;
}

static const baton_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .upload_async = cpu_copy, /* the host's memory is the device's: the copy is done when it returns */
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .gemm = baton_cpu_gemm,
    .gemm_batched = baton_cpu_gemm_batched,
    .cell_forward = baton_cpu_cell_forward,
    .cell_backward = baton_cpu_cell_backward,
#if BATON_HAVE_XSMM
    .recur_plan = baton_cpu_recur_plan,
    .recur_forward = baton_cpu_recur_forward,
    .recur_backward = baton_cpu_recur_backward,
#endif
#if BATON_HAVE_XSMM || BATON_HAVE_DNNL
    .params_frozen = cpu_params_frozen,
#endif
    .axpby = baton_cpu_axpby,
    .colsum_add = baton_cpu_colsum_add,
    .sumsq = baton_cpu_sumsq,
    .dropout = baton_cpu_dropout,
    .copy2d = baton_cpu_copy2d,
    .add_bias = baton_cpu_add_bias,
    .tanh_forward = baton_cpu_tanh_forward,
    .tanh_backward = baton_cpu_tanh_backward,
    .attn_softmax_forward = baton_cpu_attn_softmax_forward,
    .attn_softmax_backward = baton_cpu_attn_softmax_backward,
    .additive_scores_forward = baton_cpu_additive_scores_forward,
    .additive_scores_backward = baton_cpu_additive_scores_backward,
    .xent_forward_backward = baton_cpu_xent_forward_backward,
    .argmax_rows = baton_cpu_argmax_rows,
#if BATON_HAVE_XSMM
    .generator_argmax = baton_cpu_generator_argmax,
#endif
    .topk_rows = baton_cpu_topk_rows,
    .optim_update = baton_cpu_optim_update,
    .embed_gather = baton_cpu_embed_gather,
    .embed_scatter_add = baton_cpu_embed_scatter_add,
    .embed_reserve = NULL, /* the CPU scatter needs no scratch */
    .timer_mark = cpu_timer_mark,
    .timer_elapsed = cpu_timer_elapsed,
    .memory_used = cpu_memory_used,
};

/* Threads of the backend's own loops. One pool must own the cores: a pthreads OpenBLAS keeps its
 * workers spinning after each GEMM and an OpenMP team spins after each loop, and with both the
 * per-step GEMMs and cell ops of a recurrent layer slow down several times as they steal each
 * other's cores (measured: bench/results/2026-11-28-cpu-investigation). So the loops use OpenMP
 * only when OpenBLAS itself runs on OpenMP (one shared pool), or there is no BLAS, or OpenMP's idle
 * threads sleep at once instead of spinning (OMP_WAIT_POLICY=passive, which the baton program sets
 * for itself: src/cli/main.c); otherwise, beside a pthreads OpenBLAS, they stay on the calling
 * thread, and the GEMMs, which are most of the work, use them all. Passive, the loops and oneDNN's
 * bf16 products (OpenMP too) use every thread: 2 threads, tiny 1.16x and base 1.07x a training
 * step in fp32, 1.65x base's in bf16, 1.6x beam decoding (bench/README.md). */
/* The packed recurrence (cpu_recur.c) runs on cpu_deal.c's pool of threads, so in builds that have
 * it, beside a pthreads OpenBLAS, that pool owns the cores instead: OpenBLAS runs on the calling
 * thread and the GEMMs are cut in slices of C dealt over the pool (cpu_gemm.c), while the loops stay
 * on the calling thread as before. Beside OpenBLAS's own workers, which spin for a while after each
 * GEMM, the recurrence's threads would lose their cores to them. */
static int one_pool(void)
{
#if BATON_HAVE_BLAS && defined(OPENBLAS_VERSION) && BATON_HAVE_XSMM
    return openblas_get_parallel() != OPENBLAS_OPENMP;
#else
    return 0;
#endif
}

#if BATON_HAVE_OPENMP
static int loop_threads(int threads)
{
#if BATON_HAVE_BLAS && defined(OPENBLAS_VERSION)
    const char *policy = getenv("OMP_WAIT_POLICY");
    if (openblas_get_parallel() != OPENBLAS_OPENMP && !(policy && strcasecmp(policy, "passive") == 0))
        return 1;
#endif
    return threads;
}
#endif

/* The thread count that `threads` <= 0 asks for: OpenBLAS's default (all cores unless
 * OPENBLAS_NUM_THREADS says otherwise), read before any backend changed it, else OpenMP's. */
static int default_threads(void)
{
    static int first = 0;
#if BATON_HAVE_BLAS && defined(OPENBLAS_VERSION)
    if (!first)
        first = openblas_get_num_threads();
#endif
#if BATON_HAVE_OPENMP
    if (first <= 0)
        first = omp_get_num_procs();
#endif
    return first > 0 ? first : 1;
}

baton_status baton_cpu_backend_create(baton_backend *be, int threads)
{
    memset(be, 0, sizeof *be);
    if (threads <= 0)
        threads = default_threads();
    int split = one_pool() ? threads : 1;
    /* OpenBLAS and OpenMP thread counts are process-wide; the CPU backend owns them while it lives. */
#if BATON_HAVE_OPENMP
    omp_set_num_threads(loop_threads(threads));
#endif
#if BATON_HAVE_BLAS && defined(OPENBLAS_VERSION)
    openblas_set_num_threads(split > 1 ? 1 : threads);
#endif
    be->impl = calloc(1, sizeof(cpu_ctx));
    if (!be->impl)
        return BATON_ERROR(BATON_ERR_OOM, "cpu backend: out of host memory");
    ((cpu_ctx *)be->impl)->gemm_split = split;
    be->ops = &cpu_ops;
    be->threads = threads > 0 ? threads : 1;
    snprintf(be->description, sizeof be->description, "cpu (%d thread%s, %s%s)", be->threads,
             be->threads == 1 ? "" : "s", BATON_HAVE_BLAS ? "OpenBLAS sgemm" : "plain C sgemm",
             BATON_HAVE_XSMM ? ", libxsmm recurrence" : "");
    return BATON_OK;
}
