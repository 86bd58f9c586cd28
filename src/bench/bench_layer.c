/* bench_layer.c: `baton bench layer`: one recurrent layer stack (input width = H, full lengths, so
 * the FLOP count of bench.h is exact), forward in training mode and forward+backward (data and
 * weights), for every implementation asked for, over the sweep cell x B x H x T x L.
 * Each configuration is set up once per implementation; the timed calls alternate between
 * LAYER_ROTATE input/gradient buffers so that no call starts with its inputs already in cache from
 * the previous one. Rows: median times, achieved TFLOP/s, fused_speedup = this row's
 * forward+backward time / the fused row's (> 1: the fused kernels are faster than this row), and
 * vs_cudnn = this row's forward+backward time / cuDNN's standard algorithm's (< 1: faster than
 * cuDNN; the goal of the whole-recurrence versions). cmd_bench puts fused first and cudnn second. */
#include "bench_internal.h"

#include <stdlib.h>
#include <string.h>

#include "baton/arena.h"
#include "baton/rng.h"
#include "baton/rnn.h"

#define LAYER_ROTATE 2

typedef struct {
    int cell, B, H, T, L;
} layer_shape;

typedef struct {
    baton_backend be;
    baton_rnn rnn;
    baton_param_table t;
    baton_arena arena;
    baton_rnn_acts acts;
    float *params, *grads, *x[LAYER_ROTATE], *dy[LAYER_ROTATE], *y, *dx;
    int *len, *host_len;
} layer_rig;

static baton_status upload_random(baton_backend *be, float *dst, size_t n, uint64_t seed, uint32_t k)
{
    float *h = malloc(n * sizeof *h);
    if (!h)
        return BATON_ERROR(BATON_ERR_OOM, "bench layer: out of host memory");
    for (size_t i = 0; i < n; i++)
        h[i] = 2.0f * baton_rng_uniform(seed, BATON_RNG_TEST | 3, k, i) - 1.0f;
    baton_status st = be->ops->upload(be, dst, h, n * sizeof *h);
    free(h);
    return st;
}

static baton_status rig_buffers(layer_rig *g, const layer_shape *sh, uint64_t seed)
{
    baton_backend *be = &g->be;
    size_t TBH = (size_t)sh->T * sh->B * sh->H, bytes = baton_param_bytes(&g->t);
    float *host = calloc(1, bytes);
    if (!host)
        return BATON_ERROR(BATON_ERR_OOM, "bench layer: out of host memory");
    baton_rnn_init_weights(&g->rnn, &g->t, host, seed);
    baton_status st = baton_param_weights_alloc(be, &g->t, &g->params);
    if (st == BATON_OK)
        st = be->ops->upload(be, g->params, host, bytes);
    free(host);
    if (st == BATON_OK)
        st = baton_param_buffer_alloc(be, &g->t, &g->grads, "gradients");
    for (int r = 0; st == BATON_OK && r < LAYER_ROTATE; r++) {
        st = be->ops->alloc(be, (void **)&g->x[r], TBH * sizeof(float), "layer inputs");
        if (st == BATON_OK)
            st = be->ops->alloc(be, (void **)&g->dy[r], TBH * sizeof(float), "layer output gradients");
        if (st == BATON_OK)
            st = upload_random(be, g->x[r], TBH, seed, (uint32_t)(2 * r));
        if (st == BATON_OK)
            st = upload_random(be, g->dy[r], TBH, seed, (uint32_t)(2 * r + 1));
    }
    if (st == BATON_OK)
        st = be->ops->alloc(be, (void **)&g->y, TBH * sizeof(float), "layer outputs");
    if (st == BATON_OK)
        st = be->ops->alloc(be, (void **)&g->dx, TBH * sizeof(float), "layer input gradients");
    if (st == BATON_OK)
        st = be->ops->alloc(be, (void **)&g->len, (size_t)sh->B * sizeof(int), "lengths");
    g->host_len = malloc((size_t)sh->B * sizeof(int));
    if (st == BATON_OK && !g->host_len)
        st = BATON_ERROR(BATON_ERR_OOM, "bench layer: out of host memory");
    for (int b = 0; st == BATON_OK && b < sh->B; b++)
        g->host_len[b] = sh->T;
    if (st == BATON_OK)
        st = be->ops->upload(be, g->len, g->host_len, (size_t)sh->B * sizeof(int));
    return st;
}

static void rig_free(layer_rig *g)
{
    baton_backend *be = &g->be;
    float *bufs[] = {g->params, g->grads, g->x[0], g->x[1], g->dy[0], g->dy[1], g->y, g->dx};
    for (size_t i = 0; be->ops && i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            be->ops->free(be, bufs[i]);
    if (be->ops && g->len)
        be->ops->free(be, g->len);
    free(g->host_len);
    baton_rnn_acts_release(&g->acts);
    baton_arena_destroy(&g->arena);
    baton_param_table_free(&g->t);
    baton_backend_destroy(be);
}

static baton_status rig_create(layer_rig *g, const bench_opts *o, const layer_shape *sh, const char *impl)
{
    memset(g, 0, sizeof *g);
    baton_backend_options bo = {.threads = o->threads, .precision = o->precision, .versions = o->kernels};
    BATON_TRY(baton_backend_create_ex(&g->be, o->device, &bo));
    baton_param_table_init(&g->t);
    baton_rnn_config cfg = {.cell = (baton_cell)sh->cell, .input_size = sh->H, .hidden_size = sh->H,
                            .layers = sh->L, .bidirectional = o->bidirectional, .dropout = 0.0f};
    BATON_TRY(baton_rnn_init(&g->rnn, &cfg, &g->t, "rnn"));
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_rnn_acts_carve(&g->acts, &measure, &g->rnn, sh->T, sh->B));
    BATON_TRY(baton_arena_create(&g->arena, &g->be, measure.used));
    BATON_TRY(baton_rnn_acts_carve(&g->acts, &g->arena, &g->rnn, sh->T, sh->B));
    BATON_TRY(rig_buffers(g, sh, (uint64_t)o->seed));
    BATON_TRY(baton_rnn_acts_use_impl(&g->acts, &g->be, &g->rnn, impl, (uint64_t)o->seed));
    g->acts.host_lengths = g->host_len;
    return BATON_OK;
}

/* One timed call: an inference forward, or with backward a training forward and the backward; *ms
 * between two timer marks. */
static baton_status rig_call(layer_rig *g, const layer_shape *sh, int r, int backward, float *ms)
{
    baton_backend *be = &g->be;
    baton_dropout_key train = {.seed = 1, .purpose = BATON_RNG_DROPOUT, .counter = NULL}; /* dropout 0: unread */
    g->acts.no_grad = !backward; /* a forward timed alone keeps nothing, as torch.no_grad */
    BATON_TRY(be->ops->timer_mark(be, 0));
    BATON_TRY(baton_rnn_forward(be, &g->rnn, &g->acts, g->y, NULL, NULL, g->x[r], NULL, NULL, g->len, g->params,
                                &g->t, sh->T, sh->B, &train));
    if (backward)
        BATON_TRY(baton_rnn_backward(be, &g->rnn, &g->acts, g->dx, NULL, NULL, g->grads, g->dy[r], NULL, NULL,
                                     g->x[r], g->len, g->params, &g->t, sh->T, sh->B, &train));
    BATON_TRY(be->ops->timer_mark(be, 1));
    return be->ops->timer_elapsed(be, 0, 1, ms);
}

/* Median forward and forward+backward milliseconds of one implementation on one shape. */
static baton_status time_impl(const bench_opts *o, const layer_shape *sh, const char *impl, double *fwd, double *fb)
{
    layer_rig g;
    double *t = malloc(2 * (size_t)o->reps * sizeof *t);
    baton_status st = t ? rig_create(&g, o, sh, impl) : BATON_ERROR(BATON_ERR_OOM, "bench layer: out of memory");
    for (int pass = 0; st == BATON_OK && pass < 2; pass++)
        for (int k = 0; st == BATON_OK && k < o->warmup + o->reps; k++) {
            float ms = 0.0f;
            st = rig_call(&g, sh, k % LAYER_ROTATE, pass, &ms);
            if (k >= o->warmup)
                t[pass * o->reps + k - o->warmup] = ms;
        }
    if (st == BATON_OK) {
        *fwd = baton_bench_median(t, o->reps);
        *fb = baton_bench_median(t + o->reps, o->reps);
    }
    if (t)
        rig_free(&g);
    free(t);
    return st;
}

const char *const bench_layer_cols[BENCH_LAYER_NCOL] = {"impl", "device", "cell", "B", "T", "H", "L", "dirs", "fwd_ms",
                                        "fwdbwd_ms", "fwd_tflops", "fwdbwd_tflops", "fused_speedup",
                                        "vs_cudnn"};

static baton_status layer_row(baton_report *r, const bench_opts *o, const layer_shape *sh, const char *impl,
                              double fused_fb, double cudnn_fb)
{
    double fwd = 0.0, fb = 0.0;
    baton_status st = time_impl(o, sh, impl, &fwd, &fb);
    const char *cell = baton_cell_name((baton_cell)sh->cell);
    if (st == BATON_ERR_UNSUPPORTED) /* cuDNN refused this algorithm for this shape: say so, go on */
        return baton_report_row(r, "%s|%s|%s|%d|%d|%d|%d|%d|refused|refused|-|-|-|-", impl, o->device, cell, sh->B,
                                sh->T, sh->H, sh->L, o->bidirectional ? 2 : 1);
    BATON_TRY(st);
    double flops = baton_bench_rnn_flops((baton_cell)sh->cell, sh->H, sh->H, sh->L, o->bidirectional, sh->T, sh->B, 0);
    char speed[32] = "-", vs[32] = "-";
    if (fused_fb > 0.0)
        snprintf(speed, sizeof speed, "%.3f", fb / fused_fb);
    if (cudnn_fb > 0.0)
        snprintf(vs, sizeof vs, "%.3f", fb / cudnn_fb);
    return baton_report_row(r, "%s|%s|%s|%d|%d|%d|%d|%d|%.4f|%.4f|%.3f|%.3f|%s|%s", impl, o->device, cell, sh->B,
                            sh->T, sh->H, sh->L, o->bidirectional ? 2 : 1, fwd, fb, flops / (fwd * 1e9),
                            3.0 * flops / (fb * 1e9), speed, vs);
}

baton_status bench_layer(baton_report *r, const bench_opts *o)
{
    baton_report_init(r, bench_layer_cols, BENCH_LAYER_NCOL);
    int total = o->n_cells * o->batches.n * o->hiddens.n * o->steps.n * o->layers.n, done = 0;
    for (int c = 0; c < o->n_cells; c++)
        for (int h = 0; h < o->hiddens.n; h++)
            for (int l = 0; l < o->layers.n; l++)
                for (int t = 0; t < o->steps.n; t++)
                    for (int b = 0; b < o->batches.n; b++) {
                        layer_shape sh = {o->cells[c], o->batches.v[b], o->hiddens.v[h], o->steps.v[t],
                                          o->layers.v[l]};
                        bench_progress(o, ++done, total, "layer %s B=%d H=%d T=%d L=%d",
                                       baton_cell_name(o->cells[c]), sh.B, sh.H, sh.T, sh.L);
                        double fused = 0.0, cudnn = 0.0;
                        for (int i = 0; i < o->n_impls; i++) {
                            int first = r->nrow;
                            BATON_TRY(layer_row(r, o, &sh, o->impls[i], fused, cudnn));
                            if (strcmp(o->impls[i], "fused") == 0)
                                fused = atof(baton_report_cell(r, first, "fwdbwd_ms"));
                            if (strcmp(o->impls[i], "cudnn") == 0)
                                cudnn = atof(baton_report_cell(r, first, "fwdbwd_ms"));
                        }
                    }
    bench_progress_done(o);
    return BATON_OK;
}
