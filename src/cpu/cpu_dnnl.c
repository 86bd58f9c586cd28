/* cpu_dnnl.c: the CPU backend's bf16 GEMMs on oneDNN's matmul (Meson feature `dnnl`, Debian's
 * libdnnl-dev), which runs AMX tiles (Sapphire Rapids and later) or AVX512-BF16 dot products (Cooper
 * Lake, Zen 4) where the CPU has them: several times the fp32 sgemm's rate.
 *
 * Numbers: A and B are rounded to bf16 as bf16.h says (nearest even, NaN kept); the products of two
 * bf16 values are exact in fp32 and accumulate in fp32, so the result is the fp32 GEMM of the rounded
 * operands (cpu_gemm.c's `round` version, --kernels cpubf16=round) up to summation order, and AMX's
 * flush of bf16 denormals (below 1.2e-38) to zero. That is what bf16 precision means on every backend.
 *
 * Layout: the operands keep their row-major layout and leading dimensions (transposes are strides),
 * so each is rounded in one pass over its extent into a per-slot uint16 buffer, except where it lies
 * in the frozen parameters (ops->params_frozen: a training step's forward and backward, a translator
 * decoding), which are rounded once when frozen: a recurrent layer's W_hh is an operand at every
 * step. A batch is one 3-D matmul; a batch stride of 0 broadcasts that operand. Primitives are
 * cached per shape (a small ring): creating one JIT-compiles its kernel, which costs more than most
 * of the products.
 *
 * Threads: oneDNN runs on the OpenMP threads the backend set (cpu_backend.c), but products below
 * SERIAL_FLOPS on the calling thread alone. */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bf16.h"
#include "cpu_internal.h"
#if BATON_HAVE_OPENMP
#include <omp.h>
#endif

enum { PLANS = 64 };

/* One cached matmul: its shape, scalars and primitive, with memory objects whose handles are set at
 * each call. */
typedef struct {
    int64_t key[13];
    float alpha, beta;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} plan;

struct cpu_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    plan plans[PLANS];
    int used, next;      /* filled plans; the slot the next new shape takes (ring) */
    uint16_t *ops[2];    /* A and B rounded to bf16, grown as needed */
    size_t ops_n[2];     /* their capacity in elements */
    const float *lo, *hi; /* the frozen parameters [lo, hi); lo NULL: none */
    uint16_t *frozen;    /* (hi - lo) their bf16 roundings */
    size_t frozen_n;     /* its capacity in elements */
};

#define DNNL_TRY(call)                                                                                               \
    do {                                                                                                             \
        dnnl_status_t s_ = (call);                                                                                   \
        if (s_ != dnnl_success)                                                                                      \
            return BATON_ERROR(BATON_ERR_UNSUPPORTED, "oneDNN: %s failed with status %d", #call, (int)s_);                \
    } while (0)

int baton_cpu_dnnl_on(const baton_backend *be)
{
    /* bf16 matmuls on older ISAs are emulated in fp32 by oneDNN, slower than the rounding path */
    static int hardware = -1;
    if (hardware < 0) {
        unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), bf16 = (unsigned)dnnl_cpu_isa_avx512_core_bf16;
        hardware = (isa & bf16) == bf16;
    }
    return be->precision == BATON_PRECISION_BF16 && be->versions.cpubf16 == 1 && hardware;
}

static void plan_free(plan *p)
{
    if (p->prim)
        dnnl_primitive_destroy(p->prim);
    dnnl_memory_t m[] = {p->a, p->b, p->c};
    for (int i = 0; i < 3; i++)
        if (m[i])
            dnnl_memory_destroy(m[i]);
    memset(p, 0, sizeof *p);
}

void baton_cpu_dnnl_free(cpu_dnnl *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->used; i++)
        plan_free(&d->plans[i]);
    if (d->stream)
        dnnl_stream_destroy(d->stream);
    if (d->engine)
        dnnl_engine_destroy(d->engine);
    free(d->ops[0]), free(d->ops[1]), free(d->frozen);
    free(d);
}

static baton_status dnnl_ctx(baton_backend *be, cpu_dnnl **out)
{
    cpu_ctx *c = be->impl;
    if (!c->dnnl) {
        cpu_dnnl *d = calloc(1, sizeof *d);
        if (!d)
            return BATON_ERROR(BATON_ERR_OOM, "bf16 gemm: out of host memory for oneDNN's state");
        dnnl_status_t s = dnnl_engine_create(&d->engine, dnnl_cpu, 0);
        if (s == dnnl_success)
            s = dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags);
        if (s != dnnl_success) {
            baton_cpu_dnnl_free(d);
            return BATON_ERROR(BATON_ERR_UNSUPPORTED, "oneDNN: no CPU engine and stream (status %d)", (int)s);
        }
        c->dnnl = d;
    }
    *out = c->dnnl;
    return BATON_OK;
}

/* r[i] = bf16(p[i]) for i < n: a loop the AVX-512 clone runs 16 lanes wide (the NaN test a blend). */
BATON_CPU_CLONES_512 static void round_bf16(uint16_t *r, const float *p, long n)
{
    long work = n;
    BATON_PARALLEL_FOR
    for (long i = 0; i < work; i++)
        r[i] = baton_bf16_from_f32(p[i]);
}

/* *buf (capacity *cap) grown to n elements. */
static baton_status reserve(uint16_t **buf, size_t *cap, size_t n)
{
    if (*cap >= n)
        return BATON_OK;
    uint16_t *r = realloc(*buf, n * sizeof *r);
    if (!r)
        return BATON_ERROR(BATON_ERR_OOM, "bf16 gemm: cannot round %zu floats (out of host memory)", n);
    *buf = r, *cap = n;
    return BATON_OK;
}

/* The n floats at p rounded to bf16, same layout: the frozen copy where p lies in the frozen range,
 * else rounded now into ops[slot]. */
static baton_status round_into(cpu_dnnl *d, int slot, const float *p, size_t n, const uint16_t **out)
{
    if (d->lo && p >= d->lo && p + n <= d->hi) {
        *out = d->frozen + (p - d->lo);
        return BATON_OK;
    }
    BATON_TRY(reserve(&d->ops[slot], &d->ops_n[slot], n));
    round_bf16(d->ops[slot], p, (long)n);
    *out = d->ops[slot];
    return BATON_OK;
}

baton_status baton_cpu_dnnl_freeze(baton_backend *be, const float *params, size_t n)
{
    cpu_dnnl *d = NULL;
    BATON_TRY(dnnl_ctx(be, &d));
    d->lo = d->hi = NULL;
    if (!n)
        return BATON_OK;
    BATON_TRY(reserve(&d->frozen, &d->frozen_n, n));
    round_bf16(d->frozen, params, (long)n);
    d->lo = params, d->hi = params + n;
    return BATON_OK;
}

/* The 3-D descriptor of a rows x cols operand (row-major, leading dimension ld, transposed: stored
 * cols x rows) in `batch` matrices `stride` apart; stride 0 with batch > 1 broadcasts one matrix. */
static baton_status desc(dnnl_memory_desc_t *md, int batch, int rows, int cols, int ld, int trans, int64_t stride,
                         dnnl_data_type_t type)
{
    int64_t n = stride == 0 ? 1 : batch;
    dnnl_dims_t dims = {n, rows, cols};
    dnnl_dims_t strides = {stride ? stride : (int64_t)rows * cols, trans ? 1 : ld, trans ? ld : 1};
    if (stride == 0 && (int64_t)ld * (trans ? cols : rows) > strides[0])
        strides[0] = (int64_t)ld * (trans ? cols : rows);
    DNNL_TRY(dnnl_memory_desc_init_by_strides(md, 3, dims, type, strides));
    return BATON_OK;
}

static baton_status plan_create(cpu_dnnl *d, plan *p, const int64_t *k, float alpha, float beta)
{
    int trans_a = (int)k[0], trans_b = (int)k[1], M = (int)k[2], N = (int)k[3], K = (int)k[4], batch = (int)k[11];
    dnnl_memory_desc_t a, b, c;
    BATON_TRY(desc(&a, batch, M, K, (int)k[5], trans_a, k[8], dnnl_bf16));
    BATON_TRY(desc(&b, batch, K, N, (int)k[6], trans_b, k[9], dnnl_bf16));
    BATON_TRY(desc(&c, batch, M, N, (int)k[7], 0, k[10], dnnl_f32));
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c));
    dnnl_primitive_attr_t attr;
    DNNL_TRY(dnnl_primitive_attr_create(&attr));
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = alpha != 1.0f ? dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) : dnnl_success;
    if (s == dnnl_success && beta != 0.0f && (s = dnnl_post_ops_create(&po)) == dnnl_success &&
        (s = dnnl_post_ops_append_sum(po, beta)) == dnnl_success)
        s = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &md, attr, d->engine, NULL);
    if (po)
        dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_success)
        s = dnnl_primitive_create(&p->prim, pd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success)
        return BATON_ERROR(BATON_ERR_UNSUPPORTED, "oneDNN: no bf16 matmul for M=%d N=%d K=%d batch %d (status %d)", M,
                           N, K, batch, (int)s);
    DNNL_TRY(dnnl_memory_create(&p->a, &a, d->engine, DNNL_MEMORY_NONE));
    DNNL_TRY(dnnl_memory_create(&p->b, &b, d->engine, DNNL_MEMORY_NONE));
    DNNL_TRY(dnnl_memory_create(&p->c, &c, d->engine, DNNL_MEMORY_NONE));
    memcpy(p->key, k, sizeof p->key);
    p->alpha = alpha, p->beta = beta;
    return BATON_OK;
}

/* Products below this many FLOPs run on the calling thread alone. With passive waits (cpu_backend.c)
 * every parallel region wakes the sleeping workers, which costs tens of microseconds: as long as such
 * a product takes on one core with AMX. Beam search's per-source attention products (5 x S x H,
 * batched over the sources) are of this size. Beam 5 on Multi30k, 2 threads: 2.5-2.9 s with every product
 * split, 2.05-2.13 s with this bound at 3e6-1e8 FLOPs; greedy within its spread. */
#define SERIAL_FLOPS 1e7

/* Narrows the calling thread's OpenMP team to itself; returns the team size to restore (0 where
 * there is no OpenMP). A primitive is created and run with the team it will have: oneDNN sizes its
 * work split to the team at creation, hence the team's place in the plan key. */
static int team_serial(void)
{
#if BATON_HAVE_OPENMP
    int all = omp_get_max_threads();
    omp_set_num_threads(1);
    return all;
#else
    return 0;
#endif
}

/* Restores the team team_serial narrowed (all: its return; 0: nothing to do). */
static void team_restore(int all)
{
#if BATON_HAVE_OPENMP
    if (all)
        omp_set_num_threads(all);
#else
    (void)all;
#endif
}

/* The cached plan of this shape, created (in the ring's next slot) where there is none. */
static baton_status plan_get(cpu_dnnl *d, const int64_t *k, float alpha, float beta, plan **out)
{
    for (int i = 0; i < d->used; i++) {
        plan *p = &d->plans[i];
        if (memcmp(p->key, k, sizeof p->key) == 0 && p->alpha == alpha && p->beta == beta) {
            *out = p;
            return BATON_OK;
        }
    }
    plan *p = &d->plans[d->next];
    plan_free(p);
    BATON_TRY(plan_create(d, p, k, alpha, beta));
    d->next = (d->next + 1) % PLANS;
    if (d->used < PLANS)
        d->used++;
    *out = p;
    return BATON_OK;
}

/* C = alpha A B + beta C through the cached plan of key, on the team the caller set. */
static baton_status execute(cpu_dnnl *d, const int64_t *key, float alpha, float beta, const uint16_t *a,
                            const uint16_t *b, float *C)
{
    plan *p = NULL;
    BATON_TRY(plan_get(d, key, alpha, beta, &p));
    DNNL_TRY(dnnl_memory_set_data_handle(p->a, (void *)a));
    DNNL_TRY(dnnl_memory_set_data_handle(p->b, (void *)b));
    DNNL_TRY(dnnl_memory_set_data_handle(p->c, C));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p->a}, {DNNL_ARG_WEIGHTS, p->b}, {DNNL_ARG_DST, p->c}};
    DNNL_TRY(dnnl_primitive_execute(p->prim, d->stream, 3, args));
    DNNL_TRY(dnnl_stream_wait(d->stream));
    return BATON_OK;
}

baton_status baton_cpu_dnnl_gemm(baton_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                 const float *A, int lda, int64_t stride_a, const float *B, int ldb,
                                 int64_t stride_b, float beta, float *C, int ldc, int64_t stride_c, int batch)
{
    cpu_dnnl *d = NULL;
    BATON_TRY(dnnl_ctx(be, &d));
    const uint16_t *a = NULL, *b = NULL;
    BATON_TRY(round_into(d, 0, A, baton_cpu_extent(trans_a ? K : M, trans_a ? M : K, lda, stride_a, batch), &a));
    BATON_TRY(round_into(d, 1, B, baton_cpu_extent(trans_b ? N : K, trans_b ? K : N, ldb, stride_b, batch), &b));
    int serial = 2.0 * M * N * K * batch < SERIAL_FLOPS;
    int64_t key[13] = {trans_a, trans_b, M, N, K, lda, ldb, ldc, batch > 1 ? stride_a : 0,
                       batch > 1 ? stride_b : 0, batch > 1 ? stride_c : 0, batch, serial};
    int all = serial ? team_serial() : 0;
    baton_status st = execute(d, key, alpha, beta, a, b, C);
    team_restore(all);
    return st;
}
