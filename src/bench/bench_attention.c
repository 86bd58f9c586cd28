/* bench_attention.c: `baton bench attention`: the batched masked softmax over (B, T, S) rows,
 * forward (reads scores, writes p: 8 B T S bytes) and backward (reads dp and p, writes dscores:
 * 12 B T S bytes), as achieved GB/s against the device's own copy bandwidth measured in the same
 * run (a device-to-device copy of B T S floats: 8 B T S bytes moved). The softmax is memory-bound,
 * so the fraction of copy bandwidth is how close it runs to the hardware's limit. Source lengths
 * are ragged, uniform in [S/2, S], so masking is exercised as in training. */
#include "bench_internal.h"

#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"

typedef struct {
    baton_backend be;
    float *scores, *p, *dp, *ds;
    int *len;
} att_rig;

static void att_free(att_rig *g)
{
    float *bufs[] = {g->scores, g->p, g->dp, g->ds};
    for (size_t i = 0; g->be.ops && i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            g->be.ops->free(&g->be, bufs[i]);
    if (g->be.ops && g->len)
        g->be.ops->free(&g->be, g->len);
    baton_backend_destroy(&g->be);
}

static baton_status att_create(att_rig *g, const bench_opts *o, int B, int T, int S)
{
    memset(g, 0, sizeof *g);
    baton_backend_options bo = {.threads = o->threads, .precision = o->precision, .versions = o->kernels};
    BATON_TRY(baton_backend_create_ex(&g->be, o->device, &bo));
    baton_backend *be = &g->be;
    size_t n = (size_t)B * T * S;
    float **bufs[] = {&g->scores, &g->p, &g->dp, &g->ds};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        BATON_TRY(be->ops->alloc(be, (void **)bufs[i], n * sizeof(float), "attention buffers"));
    BATON_TRY(be->ops->alloc(be, (void **)&g->len, (size_t)B * sizeof(int), "source lengths"));
    float *h = malloc(n * sizeof *h);
    int *len = malloc((size_t)B * sizeof *len);
    baton_status st = h && len ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "bench attention: out of host memory");
    for (size_t i = 0; st == BATON_OK && i < n; i++)
        h[i] = 8.0f * baton_rng_uniform((uint64_t)o->seed, BATON_RNG_TEST | 4, 0, i) - 4.0f;
    for (int b = 0; st == BATON_OK && b < B; b++)
        len[b] = S / 2 + (int)(baton_rng_uniform((uint64_t)o->seed, BATON_RNG_TEST | 5, 0, (uint64_t)b) *
                               (float)(S - S / 2)) + 1;
    for (int b = 0; st == BATON_OK && b < B; b++)
        len[b] = len[b] > S ? S : len[b];
    if (st == BATON_OK)
        st = be->ops->upload(be, g->scores, h, n * sizeof *h);
    if (st == BATON_OK)
        st = be->ops->upload(be, g->dp, h, n * sizeof *h);
    if (st == BATON_OK)
        st = be->ops->upload(be, g->len, len, (size_t)B * sizeof *len);
    free(h);
    free(len);
    return st;
}

/* Median milliseconds of op 0 (forward), 1 (backward) or 2 (copy). */
static baton_status att_time(att_rig *g, const bench_opts *o, int op, int B, int T, int S, double *median)
{
    baton_backend *be = &g->be;
    double *t = malloc((size_t)o->reps * sizeof *t);
    if (!t)
        return BATON_ERROR(BATON_ERR_OOM, "bench attention: out of host memory");
    baton_status st = BATON_OK;
    for (int k = 0; st == BATON_OK && k < o->warmup + o->reps; k++) {
        st = be->ops->timer_mark(be, 0);
        if (st == BATON_OK)
            st = op == 0   ? be->ops->attn_softmax_forward(be, g->p, g->scores, g->len, B, T, S)
                 : op == 1 ? be->ops->attn_softmax_backward(be, g->ds, g->dp, g->p, B, T, S)
                           : be->ops->copy(be, g->ds, g->scores, (size_t)B * T * S * sizeof(float));
        if (st == BATON_OK)
            st = be->ops->timer_mark(be, 1);
        float ms = 0.0f;
        if (st == BATON_OK)
            st = be->ops->timer_elapsed(be, 0, 1, &ms);
        if (k >= o->warmup)
            t[k - o->warmup] = ms;
    }
    if (st == BATON_OK)
        *median = baton_bench_median(t, o->reps);
    free(t);
    return st;
}

const char *const bench_attention_cols[] = {"device", "B", "T", "S", "pass", "median_ms", "gb_per_s", "copy_gb_per_s",
                                            "of_copy"};

static baton_status att_shape(baton_report *r, const bench_opts *o, int B, int T, int S)
{
    att_rig g;
    double ms[3] = {0, 0, 0}, bytes = 4.0 * B * T * S, moved[3] = {2 * bytes, 3 * bytes, 2 * bytes};
    baton_status st = att_create(&g, o, B, T, S);
    for (int op = 2; st == BATON_OK && op >= 0; op--) /* the copy first: the reference of the others */
        st = att_time(&g, o, op, B, T, S, &ms[op]);
    double copy_gbs = moved[2] / (ms[2] * 1e6);
    for (int op = 0; st == BATON_OK && op < 2; op++) {
        double gbs = moved[op] / (ms[op] * 1e6);
        st = baton_report_row(r, "%s|%d|%d|%d|%s|%.4f|%.1f|%.1f|%.2f", g.be.ops->name, B, T, S,
                              op ? "backward" : "forward", ms[op], gbs, copy_gbs, gbs / copy_gbs);
    }
    att_free(&g);
    return st;
}

baton_status bench_attention(baton_report *r, const bench_opts *o)
{
    baton_report_init(r, bench_attention_cols, (int)(sizeof bench_attention_cols / sizeof bench_attention_cols[0]));
    for (int i = 0; i < o->n_att; i++) {
        bench_progress(o, i + 1, o->n_att, "attention B=%d T=%d S=%d", o->att[i][0], o->att[i][1], o->att[i][2]);
        BATON_TRY(att_shape(r, o, o->att[i][0], o->att[i][1], o->att[i][2]));
    }
    bench_progress_done(o);
    return BATON_OK;
}
