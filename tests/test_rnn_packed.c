/* test_rnn_packed.c: the CPU's packed recurrence (--rnn-impl packed, src/cpu/cpu_recur.c: W_hh packed
 * once per layer call, libxsmm kernels, the cell right after each thread's units) against the CPU's
 * per-step path (--rnn-impl fused with --kernels cpurnn=sgemm: an OpenBLAS sgemm and the cell op per
 * step), layer stack by layer stack.
 *
 * Each case runs baton_rnn_forward and baton_rnn_backward on the same fresh random weights, inputs,
 * initial states, output gradients and ragged lengths (rows of length 1 and T among them, the rest
 * drawn) on both paths, and compares y, hn, cn, dx, dh0, dc0 and every gradient of the parameter
 * table. Gradients start from the same random values on both sides, so the accumulation (+=) is
 * checked too; every other output is poisoned with NaN first, and NaN fails every check. y at padded
 * steps must be exactly zero. Cases cover the three cells, one and two directions, 1 to 3 layers
 * with dropout between them, initial states and final-state gradients given and absent, chunks of
 * units full and partial (Hd = 7: one chunk narrower than the 32 the plan cuts; Hd = 40: a full
 * one and a partial one; Hd = 64: two full), B = 1 and B = 33, and 1, 2 and 3 threads, whose
 * results must equal the 1-thread run's to the bit (every sum is taken in the same order, whatever
 * thread owns it). An inference forward (no_grad) on either path must give the training forward's
 * y, hn, cn to the bit, write none of the saved gates (poisoned first) and make backward refuse.
 * Then the refusals: packed in bf16 and on a build without libxsmm, and what
 * --rnn-impl fused and auto run on the CPU.
 *
 * Error measure: the relative norm ||packed - sgemm|| / ||sgemm|| per tensor (tu_rel_err_ff). Both
 * sides compute in fp32 and sum the same products in different orders (OpenBLAS's blocking against
 * libxsmm's register blocking), each sum at most G*Hd + I <= 260 terms, so a few ulp (1e-7 each)
 * in norm, carried through T = 6 steps and up to 3 layers whose gate derivatives are <= 1: forward
 * near 1e-6, backward about twice that (one more pass, T*B outer products per weight gradient).
 * 2e-5 forward and 5e-5 backward leave a margin of ten; a wrong gate, unit, direction, step or mask
 * gives O(0.1..1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/param.h"
#include "baton/rnn.h"
#include "baton_config.h"
#include "support/testutil.h"

#define SEED 0x7061636bULL
#define MAX_B 64

typedef struct {
    baton_cell cell;
    int dirs, L, I, Hd, T, B;
    int with_states;
    float dropout; /* between layers */
} tcase;

enum { X, H0, C0, DY, DHN, DCN, G0, N_IN };
enum { Y, HN, CN, DX, DH0, DC0, GR, N_OUT };
static const char *const out_names[N_OUT] = {"y", "hn", "cn", "dx", "dh0", "dc0", "grads"};

typedef struct {
    baton_rnn rnn;
    baton_param_table table;
    size_t n_in[N_IN], n_out[N_OUT];
    float *weights, *in[N_IN];
    int len[MAX_B];
} problem;

static tu_report report;

static void problem_free(problem *p)
{
    free(p->weights);
    for (int k = 0; k < N_IN; k++)
        free(p->in[k]);
    baton_param_table_free(&p->table);
}

/* Fresh random weights (PyTorch's init), inputs and lengths for case id; 0 on success. */
static int problem_init(problem *p, const tcase *tc, uint32_t id)
{
    memset(p, 0, sizeof *p);
    baton_param_table_init(&p->table);
    baton_rnn_config cfg = {.cell = tc->cell, .input_size = tc->I, .hidden_size = tc->Hd * tc->dirs,
                            .layers = tc->L, .bidirectional = tc->dirs == 2, .dropout = tc->dropout};
    if (baton_rnn_init(&p->rnn, &cfg, &p->table, "rnn") != BATON_OK)
        return 1;
    size_t TB = (size_t)tc->T * tc->B, S = (size_t)tc->L * tc->dirs * tc->B * tc->Hd, P = p->table.total;
    size_t H = (size_t)cfg.hidden_size;
    size_t n_in[N_IN] = {TB * tc->I, S, S, TB * H, S, S, P}, n_out[N_OUT] = {TB * H, S, S, TB * tc->I, S, S, P};
    memcpy(p->n_in, n_in, sizeof n_in);
    memcpy(p->n_out, n_out, sizeof n_out);
    p->weights = tu_malloc(P * sizeof(float));
    baton_rnn_init_weights(&p->rnn, &p->table, p->weights, SEED + id);
    for (int k = 0; k < N_IN; k++) {
        p->in[k] = tu_malloc(n_in[k] * sizeof(float));
        tu_fill_uniform(p->in[k], n_in[k], -1.0f, 1.0f, SEED, id * 16u + (uint32_t)k);
    }
    for (int b = 0; b < tc->B; b++) /* 1 and T first (where B allows), then drawn */
        p->len[b] = b == 0 && tc->B > 1 ? 1 : b <= 1 ? tc->T : 1 + (int)((p->in[X][b] + 1.0f) * 0.5f * tc->T) % tc->T;
    return 0;
}

/* One path's buffers. */
typedef struct {
    baton_backend be;
    float *params, *grads, *out[GR];
    int *len;
    uint32_t counter; /* the dropout masks' batch counter (host memory is the cpu's device memory) */
    int no_grad;      /* an inference forward alone: saved gates poisoned first, backward must refuse */
    baton_arena arena;
    baton_rnn_acts acts;
} side;

/* Forward and backward of the problem through implementation `impl` on s->be; the outputs into host_out. */
static baton_status side_run(side *s, const problem *p, const tcase *tc, const char *impl, float *host_out[N_OUT])
{
    baton_backend *be = &s->be;
    BATON_TRY(baton_param_weights_alloc(be, &p->table, &s->params));
    memcpy(s->params, p->weights, p->table.total * sizeof(float));
    s->grads = host_out[GR];
    memcpy(s->grads, p->in[G0], p->n_out[GR] * sizeof(float));
    for (int o = 0; o < GR; o++) {
        s->out[o] = host_out[o];
        tu_fill_nan(s->out[o], p->n_out[o]);
    }
    s->len = (int *)p->len;
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_rnn_acts_carve(&s->acts, &measure, &p->rnn, tc->T, tc->B));
    BATON_TRY(baton_arena_create(&s->arena, be, measure.used));
    BATON_TRY(baton_rnn_acts_carve(&s->acts, &s->arena, &p->rnn, tc->T, tc->B));
    BATON_TRY(baton_rnn_acts_use_impl(&s->acts, be, &p->rnn, impl, SEED));
    int st = tc->with_states, lstm = tc->cell == BATON_CELL_LSTM;
    s->counter = 3;
    baton_dropout_key drop = {.seed = SEED, .purpose = 40, .counter = &s->counter};
    float *const *in = p->in;
    s->acts.no_grad = s->no_grad;
    size_t saved = (size_t)tc->T * tc->B * p->rnn.saved * p->rnn.hd;
    for (int l = 0; s->no_grad && saved && l < tc->L; l++)
        for (int d = 0; d < tc->dirs; d++)
            tu_fill_nan(s->acts.save[l][d], saved);
    BATON_TRY(baton_rnn_forward(be, &p->rnn, &s->acts, s->out[Y], s->out[HN], lstm ? s->out[CN] : NULL, in[X],
                                st ? in[H0] : NULL, st && lstm ? in[C0] : NULL, s->len, s->params, &p->table, tc->T,
                                tc->B, &drop));
    if (s->no_grad)
        return BATON_OK;
    return baton_rnn_backward(be, &p->rnn, &s->acts, s->out[DX], s->out[DH0], lstm ? s->out[DC0] : NULL, s->grads,
                              in[DY], st ? in[DHN] : NULL, st && lstm ? in[DCN] : NULL, in[X], s->len, s->params,
                              &p->table, tc->T, tc->B, &drop);
}

static void side_free(side *s)
{
    if (!s->be.ops)
        return;
    baton_rnn_acts_release(&s->acts);
    baton_arena_destroy(&s->arena);
    s->be.ops->free(&s->be, s->params);
    baton_backend_destroy(&s->be);
}

/* A side on a fresh cpu backend of `threads` threads and --kernels `versions`, run through impl
 * (with no_grad, an inference forward alone). */
static int side_make(side *s, const problem *p, const tcase *tc, int threads, const char *versions, const char *impl,
                     int no_grad, float *out[N_OUT])
{
    memset(s, 0, sizeof *s);
    s->no_grad = no_grad;
    baton_backend_options o = {.threads = threads, .versions = versions};
    return baton_backend_create_ex(&s->be, "cpu", &o) != BATON_OK || side_run(s, p, tc, impl, out) != BATON_OK;
}

static float **outputs_alloc(const problem *p)
{
    float **out = tu_malloc(N_OUT * sizeof *out);
    for (int o = 0; o < N_OUT; o++)
        out[o] = tu_malloc(p->n_out[o] * sizeof(float));
    return out;
}

static void outputs_free(float **out)
{
    for (int o = 0; o < N_OUT; o++)
        free(out[o]);
    free(out);
}

/* Every output of got against ref within the tolerances the header explains, padded outputs zero. */
static void compare(const char *name, const problem *p, const tcase *tc, float **got, float **ref)
{
    int lstm = tc->cell == BATON_CELL_LSTM;
    for (int o = 0; o < N_OUT; o++) {
        if ((o == CN || o == DC0) && !lstm)
            continue;
        char what[200];
        snprintf(what, sizeof what, "  %s", out_names[o]);
        tu_check(&report, what, tu_rel_err_ff(got[o], ref[o], p->n_out[o]), o >= DX ? 5e-5 : 2e-5);
    }
    int H = tc->Hd * tc->dirs, nonzero = 0;
    for (int t = 0; t < tc->T; t++)
        for (int b = 0; b < tc->B; b++)
            for (int h = 0; t >= p->len[b] && h < H; h++)
                nonzero += got[Y][((size_t)t * tc->B + b) * H + h] != 0.0f;
    TU_EXPECT(&report, nonzero == 0, "%s: %d outputs at padded steps are not exactly zero", name, nonzero);
}

/* An inference forward (acts.no_grad) through impl: y, hn, cn equal the training forward's `train`
 * to the bit, the saved gates keep their poison (nothing written), and backward refuses. */
static void check_no_grad(const char *name, const problem *p, const tcase *tc, const char *versions, const char *impl,
                          float **train)
{
    float **out = outputs_alloc(p);
    side s;
    int bad = side_make(&s, p, tc, 1, versions, impl, 1, out), same = 1, lstm = tc->cell == BATON_CELL_LSTM;
    TU_EXPECT(&report, !bad, "%s, %s no_grad: the forward failed (error above)", name, impl);
    for (int o = Y; !bad && o <= CN; o++)
        if (o != CN || lstm)
            same &= memcmp(out[o], train[o], p->n_out[o] * sizeof(float)) == 0;
    TU_EXPECT(&report, bad || same, "%s, %s no_grad: y, hn or cn differ from the training forward's", name, impl);
    size_t saved = (size_t)tc->T * tc->B * p->rnn.saved * p->rnn.hd, written = 0;
    for (int l = 0; !bad && l < tc->L; l++)
        for (int d = 0; d < tc->dirs; d++)
            for (size_t i = 0; i < saved; i++)
                written += !isnan(s.acts.save[l][d][i]);
    TU_EXPECT(&report, written == 0, "%s, %s no_grad: %zu saved gates written", name, impl, written);
    baton_status st = bad ? BATON_OK
                          : baton_rnn_backward(&s.be, &p->rnn, &s.acts, out[DX], NULL, NULL, out[GR], p->in[DY], NULL,
                                               NULL, p->in[X], s.len, s.params, &p->table, tc->T, tc->B, NULL);
    TU_EXPECT(&report, bad || (st == BATON_ERR_INVALID && strstr(baton_error_last(), "no_grad")),
              "%s, %s no_grad: backward returned %d, expected a refusal naming no_grad", name, impl, (int)st);
    side_free(&s);
    outputs_free(out);
}

/* 1 when every output of a equals b's to the bit. */
static int same_bits(const problem *p, const tcase *tc, float **a, float **b)
{
    int lstm = tc->cell == BATON_CELL_LSTM, same = 1;
    for (int o = 0; o < N_OUT; o++)
        if (lstm || (o != CN && o != DC0))
            same &= memcmp(a[o], b[o], p->n_out[o] * sizeof(float)) == 0;
    return same;
}

static void run_case(const tcase *tc, uint32_t id)
{
    problem p;
    char name[160];
    snprintf(name, sizeof name, "packed %s %s L%d I%d Hd%d T%d B%d%s dropout %g", baton_cell_name(tc->cell),
             tc->dirs == 2 ? "bi" : "uni", tc->L, tc->I, tc->Hd, tc->T, tc->B, tc->with_states ? "" : " no-states",
             (double)tc->dropout);
    if (problem_init(&p, tc, id) != 0) {
        TU_EXPECT(&report, 0, "%s: setup failed (error above)", name);
        return;
    }
    float **ref = outputs_alloc(&p), **got = outputs_alloc(&p), **more = outputs_alloc(&p);
    side a = {0}, b = {0}; /* b is freed even where a failed and b was never made */
    int bad = side_make(&a, &p, tc, 1, "cpurnn=sgemm", "fused", 0, ref);
    TU_EXPECT(&report, !bad && a.acts.recur == 0, "%s: the per-step reference did not run (error above)", name);
    bad = bad || side_make(&b, &p, tc, 1, NULL, "packed", 0, got);
    TU_EXPECT(&report, !bad && b.acts.recur == BATON_RECUR_PACKED, "%s: packed did not run (error above)", name);
    if (!bad) {
        printf("%s (%s, %d units a chunk)\n", name, b.acts.impl_note, b.acts.recur_units);
        compare(name, &p, tc, got, ref);
        for (int threads = 2; threads <= 3; threads++) {
            side c;
            int cbad = side_make(&c, &p, tc, threads, NULL, "packed", 0, more);
            TU_EXPECT(&report, !cbad && same_bits(&p, tc, more, got),
                      "%s: %d threads do not give the 1-thread results to the bit", name, threads);
            side_free(&c);
        }
        check_no_grad(name, &p, tc, "cpurnn=sgemm", "fused", ref);
        check_no_grad(name, &p, tc, NULL, "packed", got);
    }
    side_free(&b);
    side_free(&a);
    outputs_free(ref);
    outputs_free(got);
    outputs_free(more);
    problem_free(&p);
}

/* What each implementation name runs on the cpu, and where packed is refused. */
static void check_choices(void)
{
    baton_param_table table;
    baton_param_table_init(&table);
    baton_rnn rnn;
    baton_rnn_config cfg = {.cell = BATON_CELL_GRU, .input_size = 8, .hidden_size = 16, .layers = 1};
    baton_backend fp32 = {0}, bf16 = {0}, sgemm = {0};
    baton_backend_options o = {.threads = 1}, ob = {.threads = 1, .precision = BATON_PRECISION_BF16},
                          os = {.threads = 1, .versions = "cpurnn=sgemm"};
    if (baton_rnn_init(&rnn, &cfg, &table, "rnn") != BATON_OK ||
        baton_backend_create_ex(&fp32, "cpu", &o) != BATON_OK ||
        baton_backend_create_ex(&bf16, "cpu", &ob) != BATON_OK ||
        baton_backend_create_ex(&sgemm, "cpu", &os) != BATON_OK) {
        TU_EXPECT(&report, 0, "choice setup failed (error above)");
        return;
    }
    baton_rnn_acts acts = {.T_max = 4, .B_max = 4};
    int want = BATON_HAVE_XSMM ? BATON_RECUR_PACKED : 0;
    const char *impls[] = {"fused", "auto"};
    for (int i = 0; i < 2; i++) {
        baton_status st = baton_rnn_acts_use_impl(&acts, &fp32, &rnn, impls[i], 1);
        TU_EXPECT(&report, st == BATON_OK && (int)acts.recur == want, "%s on cpu: status %d, recur %d, note '%s'",
                  impls[i], (int)st, (int)acts.recur, acts.impl_note);
        printf("%s on cpu: %s\n", impls[i], acts.impl_note);
    }
    baton_status st = baton_rnn_acts_use_impl(&acts, &sgemm, &rnn, "fused", 1);
    TU_EXPECT(&report, st == BATON_OK && acts.recur == 0, "fused with cpurnn=sgemm: status %d, recur %d", (int)st,
              (int)acts.recur);
    st = baton_rnn_acts_use_impl(&acts, &bf16, &rnn, "fused", 1);
    const char *cause = BATON_HAVE_XSMM ? "bf16" : "libxsmm";
    TU_EXPECT(&report, st == BATON_OK && acts.recur == 0 && strstr(acts.impl_note, cause),
              "fused in bf16 runs the per-step path: status %d, recur %d, note '%s'", (int)st, (int)acts.recur,
              acts.impl_note);
    st = baton_rnn_acts_use_impl(&acts, &bf16, &rnn, "packed", 1);
    const char *msg = baton_error_last();
    TU_EXPECT(&report, st == BATON_ERR_UNSUPPORTED && strstr(msg, cause),
              "packed in bf16: status %d, '%s'", (int)st, msg);
    printf("packed in bf16 refused: %s\n", msg);
    baton_rnn_acts_release(&acts);
    baton_backend_destroy(&fp32);
    baton_backend_destroy(&bf16);
    baton_backend_destroy(&sgemm);
    baton_param_table_free(&table);
}

int main(void)
{
    const baton_cell R = BATON_CELL_RNN_TANH, LS = BATON_CELL_LSTM, GR_ = BATON_CELL_GRU;
    const tcase cases[] = {
        /* every cell, one and two directions, one chunk narrower than 32 units */
        {LS, 1, 1, 5, 7, 6, 5, 1, 0.0f},   {LS, 2, 2, 5, 7, 6, 5, 1, 0.3f},  {GR_, 1, 1, 5, 7, 6, 5, 0, 0.0f},
        {GR_, 2, 2, 5, 7, 6, 5, 1, 0.2f},  {R, 1, 2, 5, 7, 6, 5, 1, 0.0f},   {R, 2, 1, 5, 7, 6, 5, 0, 0.0f},
        /* a full chunk and a partial one; two full; three layers */
        {LS, 2, 1, 9, 40, 6, 33, 1, 0.0f}, {GR_, 1, 3, 6, 40, 5, 9, 1, 0.25f}, {R, 2, 1, 4, 40, 6, 7, 0, 0.0f},
        {LS, 1, 2, 16, 64, 6, 33, 1, 0.1f}, {GR_, 2, 1, 8, 64, 6, 4, 1, 0.0f},
        /* one row (no padding at all) */
        {LS, 2, 1, 3, 40, 6, 1, 1, 0.0f},  {GR_, 1, 1, 3, 9, 6, 1, 0, 0.0f},
    };
    if (!BATON_HAVE_XSMM)
        printf("rnn_packed: this build has no libxsmm; only the refusals run\n");
    for (size_t i = 0; BATON_HAVE_XSMM && i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], (uint32_t)i);
    check_choices();
    return tu_summary(&report, "rnn_packed");
}
