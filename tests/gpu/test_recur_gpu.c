/* test_recur_gpu.c: the whole-recurrence versions of --rnn-impl (fused-gemm, persistent; recur.h,
 * kernels/recurrence.cu) on the cuda backend against the CPU backend's plain path, layer by layer.
 *
 * Each case runs baton_rnn_forward and baton_rnn_backward on the same random weights, inputs,
 * states and ragged lengths (rows of length 1 and T among them) on both backends in the same
 * precision, and compares y, hn, cn, dx, dh0, dc0 and every gradient of the parameter table.
 * Gradients start from the same random values on both sides, so the accumulation (+=) is checked;
 * every other output is poisoned with NaN first, and NaN fails every check. y at padded positions
 * must be exactly zero. An inference forward (no_grad) of each case must give the training forward's
 * y, hn, cn to the bit and write none of the saved gates (poisoned first). Cases cover the three cells, one and two directions, 1, 2 and 4 layers,
 * h0/c0/dhn/dcn given and absent, fp32, tf32 and bf16, blocks owning one unit and several (the
 * last one partial), threads summing two tiles of units (Hd=600), and blocks with more elements
 * than threads (B=300). In bf16, persistent runs its tensor-core kernels (the default
 * --kernels recur=tensor; several output tiles, row chunks and k chunks at Hd=270, B=17) and,
 * with recur=simt, its CUDA-core ones. Then the refusals: persistent on a layer whose W_hh cannot stay on chip
 * must fail before any step with a line naming the limit, and auto must fall back and say so; on
 * the CPU backend the cuda versions are refused and auto picks the CPU's packed recurrence (fused in
 * a build without libxsmm). The CPU side is the per-step path (--kernels cpurnn=sgemm).
 *
 * Error measure: the relative norm ||gpu - cpu|| / ||cpu|| per tensor (tu_rel_err_ff).
 * fp32: both sides sum the same products in different orders (OpenBLAS's blocking against
 * split-K over lanes); each sum has at most G*Hd + I <= 300 terms, a few ulp of 1e-7 in norm, and
 * the recurrence carries that through T=6 steps and up to 4 layers with gate derivatives <= 1:
 * forward near 1e-6, backward about twice (one more pass, T*B outer products per weight gradient).
 * 2e-5 and 5e-5 leave a margin of ten; a wrong gate, unit, direction or step is O(0.1..1).
 * tf32: the input projections and weight gradients run on cuBLAS with operands rounded to tf32
 * (10-bit mantissa: 2^-11 = 4.9e-4 relative each), the CPU in fp32: errors near 1e-3, tolerance
 * 1e-2. bf16: both sides round every GEMM operand to bf16 the same way, but a different summation
 * order can flip the rounding of a state that the next step reads (one bf16 ulp, 2^-8), which the
 * recurrence then carries: errors of a few 1e-3, tolerance 3e-2 (a real defect is still O(0.1)).
 *
 * Exits 77 (skipped) where no CUDA device, real or emulated, is usable. Status: runs on the
 * emulation; never yet on a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/param.h"
#include "baton/rnn.h"
#include "baton_config.h"
#include "testutil.h"

#define SEED 0x72656375ULL
#define MAX_B 300

typedef struct {
    const char *impl;
    baton_cell cell;
    int dirs, L, I, Hd, T, B;
    baton_precision prec;
    int with_states;
    const char *kernels; /* --kernels of the cuda backend, NULL: the defaults (recur=tensor) */
    float dropout;       /* between layers (the wavefront applies it inside its steps) */
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
    if (!(p->weights = malloc(P * sizeof(float))))
        return 1;
    baton_rnn_init_weights(&p->rnn, &p->table, p->weights, SEED + id);
    for (int k = 0; k < N_IN; k++) {
        if (!(p->in[k] = malloc(n_in[k] * sizeof(float))))
            return 1;
        tu_fill_uniform(p->in[k], n_in[k], -1.0f, 1.0f, SEED, id * 16u + (uint32_t)k);
    }
    for (int b = 0; b < tc->B; b++) /* 1 and T first, then drawn */
        p->len[b] = b == 0 ? 1 : b == 1 ? tc->T : 1 + (int)((p->in[X][b] + 1.0f) * 0.5f * (float)tc->T) % tc->T;
    return 0;
}

/* Device buffers of one side. */
typedef struct {
    baton_backend be;
    float *params, *grads, *in[N_IN], *out[N_OUT];
    int *len;
    uint32_t *counter; /* (1) the dropout masks' counter */
    int no_grad;       /* an inference forward alone: saved gates poisoned first, left as they were */
    baton_arena arena;
    baton_rnn_acts acts;
} side;

static baton_status dev_floats(baton_backend *be, float **d, size_t n, const float *host)
{
    BATON_TRY(be->ops->alloc(be, (void **)d, n * sizeof(float) + 4, "test buffer"));
    return host ? be->ops->upload(be, *d, host, n * sizeof(float)) : BATON_OK;
}

static baton_status poison(baton_backend *be, float *d, size_t n)
{
    float *nan = malloc(n * sizeof(float) + 4);
    if (!nan)
        return BATON_ERROR(BATON_ERR_OOM, "recur_gpu: poison buffer");
    tu_fill_nan(nan, n);
    baton_status st = be->ops->upload(be, d, nan, n * sizeof(float));
    free(nan);
    return st;
}

/* Checks that every one of the `saved` floats of each layer's and direction's saved gates is still
 * the NaN it was poisoned with (an inference forward writes none). */
static baton_status untouched(baton_backend *be, const tcase *tc, const baton_rnn_acts *acts, size_t saved)
{
    float *host = saved ? malloc(saved * sizeof(float)) : NULL;
    if (saved && !host)
        return BATON_ERROR(BATON_ERR_OOM, "recur_gpu: saved-gate buffer");
    size_t left = 0;
    baton_status st = BATON_OK;
    for (int l = 0; saved && l < tc->L; l++)
        for (int d = 0; st == BATON_OK && d < tc->dirs; d++) {
            st = be->ops->download(be, host, acts->save[l][d], saved * sizeof(float));
            for (size_t i = 0; st == BATON_OK && i < saved; i++)
                left += !isnan(host[i]);
        }
    free(host);
    TU_EXPECT(&report, st != BATON_OK || left == 0, "no_grad forward through %s: %zu saved gates written",
              acts->impl_note, left);
    return st;
}

static baton_status side_run(side *s, const problem *p, const tcase *tc, const char *impl, float *host_out[N_OUT])
{
    baton_backend *be = &s->be;
    BATON_TRY(baton_param_weights_alloc(be, &p->table, &s->params));
    BATON_TRY(be->ops->upload(be, s->params, p->weights, p->table.total * sizeof(float)));
    BATON_TRY(dev_floats(be, &s->grads, p->n_out[GR], p->in[G0]));
    for (int k = 0; k < N_IN; k++)
        BATON_TRY(dev_floats(be, &s->in[k], p->n_in[k], p->in[k]));
    for (int o = 0; o < GR; o++) {
        BATON_TRY(dev_floats(be, &s->out[o], p->n_out[o], NULL));
        BATON_TRY(poison(be, s->out[o], p->n_out[o]));
    }
    BATON_TRY(be->ops->alloc(be, (void **)&s->len, sizeof p->len, "lengths"));
    BATON_TRY(be->ops->upload(be, s->len, p->len, (size_t)tc->B * sizeof(int)));
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_rnn_acts_carve(&s->acts, &measure, &p->rnn, tc->T, tc->B));
    BATON_TRY(baton_arena_create(&s->arena, be, measure.used));
    BATON_TRY(baton_rnn_acts_carve(&s->acts, &s->arena, &p->rnn, tc->T, tc->B));
    BATON_TRY(baton_rnn_acts_use_impl(&s->acts, be, &p->rnn, impl, SEED));
    int st = tc->with_states, lstm = tc->cell == BATON_CELL_LSTM;
    uint32_t step = 3;
    BATON_TRY(be->ops->alloc(be, (void **)&s->counter, sizeof step, "dropout counter"));
    BATON_TRY(be->ops->upload(be, s->counter, &step, sizeof step));
    baton_dropout_key drop = {.seed = SEED, .purpose = 40, .counter = s->counter};
    s->acts.no_grad = s->no_grad;
    size_t saved = (size_t)tc->T * tc->B * p->rnn.saved * p->rnn.hd;
    for (int l = 0; s->no_grad && saved && l < tc->L; l++)
        for (int d = 0; d < tc->dirs; d++)
            BATON_TRY(poison(be, s->acts.save[l][d], saved));
    BATON_TRY(baton_rnn_forward(be, &p->rnn, &s->acts, s->out[Y], s->out[HN], lstm ? s->out[CN] : NULL, s->in[X],
                                st ? s->in[H0] : NULL, st && lstm ? s->in[C0] : NULL, s->len, s->params, &p->table,
                                tc->T, tc->B, &drop));
    if (s->no_grad) { /* y, hn, cn, and the saved gates: every one must still be NaN */
        for (int o = Y; o <= CN; o++)
            BATON_TRY(be->ops->download(be, host_out[o], s->out[o], p->n_out[o] * sizeof(float)));
        return untouched(be, tc, &s->acts, saved);
    }
    BATON_TRY(baton_rnn_backward(be, &p->rnn, &s->acts, s->out[DX], s->out[DH0], lstm ? s->out[DC0] : NULL, s->grads,
                                 s->in[DY], st ? s->in[DHN] : NULL, st && lstm ? s->in[DCN] : NULL, s->in[X], s->len,
                                 s->params, &p->table, tc->T, tc->B, &drop));
    BATON_TRY(be->ops->sync(be));
    for (int o = 0; o < GR; o++)
        BATON_TRY(be->ops->download(be, host_out[o], s->out[o], p->n_out[o] * sizeof(float)));
    return be->ops->download(be, host_out[GR], s->grads, p->n_out[GR] * sizeof(float));
}

static void side_free(side *s)
{
    baton_backend *be = &s->be;
    if (!be->ops)
        return;
    baton_rnn_acts_release(&s->acts);
    baton_arena_destroy(&s->arena);
    be->ops->free(be, s->params);
    be->ops->free(be, s->grads);
    be->ops->free(be, s->len);
    be->ops->free(be, s->counter);
    for (int k = 0; k < N_IN; k++)
        be->ops->free(be, s->in[k]);
    for (int o = 0; o < GR; o++)
        be->ops->free(be, s->out[o]);
    baton_backend_destroy(be);
}

static double tol_of(baton_precision p, int backward)
{
    return p == BATON_PRECISION_BF16 ? 3e-2 : p == BATON_PRECISION_TF32 ? 1e-2 : backward ? 5e-5 : 2e-5;
}

/* An inference forward (acts.no_grad) of the same case on the cuda backend: y, hn, cn equal the
 * training forward's (`train`) to the bit, and no saved gate is written (side_run checks). */
static void check_no_grad(const char *name, const problem *p, const tcase *tc, const baton_backend_options *go,
                          float **train)
{
    side s = {.no_grad = 1};
    float *out[N_OUT] = {0};
    int bad = 0, lstm = tc->cell == BATON_CELL_LSTM, same = 1;
    for (int o = 0; !bad && o < N_OUT; o++)
        bad = !(out[o] = malloc(p->n_out[o] * sizeof(float)));
    bad = bad || baton_backend_create_ex(&s.be, "cuda", go) != BATON_OK || side_run(&s, p, tc, tc->impl, out) != BATON_OK;
    TU_EXPECT(&report, !bad, "%s no_grad: the forward did not run (error above)", name);
    for (int o = Y; !bad && o <= CN; o++)
        if (o != CN || lstm)
            same &= memcmp(out[o], train[o], p->n_out[o] * sizeof(float)) == 0;
    TU_EXPECT(&report, bad || same, "%s no_grad: y, hn or cn differ from the training forward's", name);
    side_free(&s);
    for (int o = 0; o < N_OUT; o++)
        free(out[o]);
}

static void run_case(const tcase *tc, uint32_t id)
{
    problem p;
    side cpu = {0}, gpu = {0};
    float *ref[N_OUT] = {0}, *got[N_OUT] = {0};
    char name[160];
    snprintf(name, sizeof name, "%s %s %s L%d Hd%d B%d %s%s%s%s dropout %g", tc->impl, baton_cell_name(tc->cell),
             tc->dirs == 2 ? "bi" : "uni", tc->L, tc->Hd, tc->B, baton_precision_name(tc->prec),
             tc->with_states ? "" : " no-states", tc->kernels ? " " : "", tc->kernels ? tc->kernels : "",
             (double)tc->dropout);
    int bad = problem_init(&p, tc, id);
    for (int o = 0; !bad && o < N_OUT; o++)
        bad = !(ref[o] = malloc(p.n_out[o] * sizeof(float))) || !(got[o] = malloc(p.n_out[o] * sizeof(float)));
    /* the reference: the cpu's per-step path (its default is the packed recurrence where built) */
    baton_backend_options co = {.threads = 1, .precision = tc->prec, .versions = "cpurnn=sgemm"}, go = {.precision = tc->prec, .versions = tc->kernels};
    bad = bad || baton_backend_create_ex(&cpu.be, "cpu", &co) != BATON_OK ||
          side_run(&cpu, &p, tc, "fused", ref) != BATON_OK ||
          baton_backend_create_ex(&gpu.be, "cuda", &go) != BATON_OK ||
          side_run(&gpu, &p, tc, tc->impl, got) != BATON_OK;
    TU_EXPECT(&report, !bad, "%s: the case did not run (error above)", name);
    if (!bad) {
        printf("%s (%s, %d units a block)\n", name, gpu.acts.impl_note, gpu.acts.recur_units);
        if (strcmp(tc->impl, "wavefront") == 0)
            TU_EXPECT(&report,
                      tc->dirs == 1 ? gpu.acts.recur == BATON_RECUR_WAVEFRONT
                                    : gpu.acts.recur == BATON_RECUR_GEMM && strstr(gpu.acts.impl_note, "bidirectional"),
                      "%s: ran as %d, note '%s'", name, (int)gpu.acts.recur, gpu.acts.impl_note);
        int lstm = tc->cell == BATON_CELL_LSTM;
        for (int o = 0; o < N_OUT; o++) {
            if ((o == CN || o == DC0) && !lstm)
                continue;
            char what[200];
            snprintf(what, sizeof what, "  %s", out_names[o]);
            tu_check(&report, what, tu_rel_err_ff(got[o], ref[o], p.n_out[o]), tol_of(tc->prec, o >= DX));
        }
        int H = tc->Hd * tc->dirs, nonzero = 0;
        for (int t = 0; t < tc->T; t++)
            for (int b = 0; b < tc->B; b++)
                for (int h = 0; t >= p.len[b] && h < H; h++)
                    nonzero += got[Y][((size_t)t * tc->B + b) * H + h] != 0.0f;
        TU_EXPECT(&report, nonzero == 0, "%s: %d outputs at padded steps are not exactly zero", name, nonzero);
        if (tc->Hd < 100 && tc->B < 100) /* the small cases cover every version and cell; the big ones take long */
            check_no_grad(name, &p, tc, &go, got);
    }
    side_free(&gpu);
    side_free(&cpu);
    for (int o = 0; o < N_OUT; o++) {
        free(ref[o]);
        free(got[o]);
    }
    problem_free(&p);
}

/* Persistent on a layer too large to stay on chip, auto on it, and both versions on the CPU. */
static void check_refusals(void)
{
    baton_param_table table;
    baton_param_table_init(&table);
    baton_rnn rnn;
    baton_rnn_config cfg = {.cell = BATON_CELL_LSTM, .input_size = 8, .hidden_size = 4096, .layers = 1};
    baton_backend gpu = {0}, cpu = {0};
    baton_backend_options o = {.threads = 1};
    if (baton_rnn_init(&rnn, &cfg, &table, "big") != BATON_OK || baton_backend_create_ex(&gpu, "cuda", &o) != BATON_OK ||
        baton_backend_create_ex(&cpu, "cpu", &o) != BATON_OK) {
        TU_EXPECT(&report, 0, "refusal setup failed (error above)");
        return;
    }
    baton_rnn_acts acts = {.T_max = 4, .B_max = 4};
    baton_status st = baton_rnn_acts_use_impl(&acts, &gpu, &rnn, "persistent", 1);
    const char *msg = baton_error_last();
    TU_EXPECT(&report, st == BATON_ERR_UNSUPPORTED && strstr(msg, "persistent") && strstr(msg, "shared memory"),
              "persistent on an LSTM of Hd=4096 (64 MiB of fp32 W_hh): status %d, message '%s'", (int)st, msg);
    st = baton_rnn_acts_use_impl(&acts, &gpu, &rnn, "auto", 1);
    TU_EXPECT(&report, st == BATON_OK && acts.recur != BATON_RECUR_PERSISTENT && strstr(acts.impl_note, "auto: ") &&
                  strstr(acts.impl_note, "not persistent"),
              "auto on Hd=4096: status %d, note '%s'", (int)st, acts.impl_note);
    printf("refused as expected: %s\nauto: %s\n", msg, acts.impl_note);
    baton_rnn_acts_release(&acts);
    const char *impls[] = {"persistent", "fused-gemm", "wavefront"};
    for (int i = 0; i < 3; i++) {
        st = baton_rnn_acts_use_impl(&acts, &cpu, &rnn, impls[i], 1);
        msg = baton_error_last();
        TU_EXPECT(&report, st == BATON_ERR_UNSUPPORTED && strstr(msg, "cuda"), "%s on cpu: status %d, '%s'",
                  impls[i], (int)st, msg);
    }
    st = baton_rnn_acts_use_impl(&acts, &cpu, &rnn, "auto", 1);
    TU_EXPECT(&report, st == BATON_OK && (int)acts.recur == (BATON_HAVE_XSMM ? BATON_RECUR_PACKED : 0),
              "auto on cpu: status %d, recur %d (the packed recurrence where built, else fused)", (int)st, acts.recur);
    st = baton_rnn_acts_use_impl(&acts, &gpu, &rnn, "persist", 1);
    TU_EXPECT(&report, st == BATON_ERR_INVALID && strstr(baton_error_last(), "persistent"),
              "a misspelt implementation: status %d, '%s'", (int)st, baton_error_last());
    baton_backend_destroy(&gpu);
    baton_backend_destroy(&cpu);
    baton_param_table_free(&table);
}

int main(void)
{
    baton_backend probe;
    if (baton_backend_create(&probe, "cuda", 1) != BATON_OK) {
        printf("recur_gpu: skipped: no CUDA device\n");
        return TU_EXIT_SKIP;
    }
    baton_backend_destroy(&probe);
    const baton_precision F = BATON_PRECISION_FP32, T32 = BATON_PRECISION_TF32, BF = BATON_PRECISION_BF16;
    const baton_cell R = BATON_CELL_RNN_TANH, LS = BATON_CELL_LSTM, GR_ = BATON_CELL_GRU;
    const tcase cases[] = {
        /* every cell, one and two directions, both versions, fp32 */
        {"persistent", LS, 1, 1, 5, 7, 6, 5, F, 1, NULL, 0.0f},  {"persistent", LS, 2, 2, 5, 6, 6, 5, F, 1, NULL, 0.0f},
        {"persistent", GR_, 1, 1, 5, 7, 6, 5, F, 0, NULL, 0.0f}, {"persistent", GR_, 2, 2, 5, 6, 6, 5, F, 1, NULL, 0.0f},
        {"persistent", R, 1, 2, 5, 7, 6, 5, F, 1, NULL, 0.0f},   {"persistent", R, 2, 1, 5, 6, 6, 5, F, 0, NULL, 0.0f},
        {"fused-gemm", LS, 1, 1, 5, 7, 6, 5, F, 0, NULL, 0.0f},  {"fused-gemm", LS, 2, 2, 5, 6, 6, 5, F, 1, NULL, 0.0f},
        {"fused-gemm", GR_, 2, 1, 5, 6, 6, 5, F, 1, NULL, 0.0f}, {"fused-gemm", R, 1, 2, 5, 7, 6, 5, F, 1, NULL, 0.0f},
        /* four layers; blocks of two units, the last one partial (2*67 units > 132 SMs) */
        {"persistent", LS, 1, 4, 4, 5, 5, 4, F, 1, NULL, 0.0f},  {"persistent", LS, 2, 1, 3, 67, 4, 3, F, 1, NULL, 0.0f},
        {"fused-gemm", GR_, 2, 1, 3, 67, 4, 3, F, 0, NULL, 0.0f},
        /* blocks of 10 units (2*600 units > 132 SMs): two unit tiles a thread, the second partial */
        {"persistent", LS, 2, 1, 3, 600, 2, 2, F, 1, NULL, 0.0f}, {"fused-gemm", GR_, 2, 1, 3, 600, 2, 2, BF, 1, NULL, 0.0f},
        /* more elements than a block has threads: no split-K, several passes of the block */
        {"persistent", GR_, 1, 1, 3, 3, 3, 300, F, 1, NULL, 0.0f}, {"fused-gemm", LS, 2, 1, 3, 2, 3, 300, F, 1, NULL, 0.0f},
        /* bf16 (persistent on tensor cores by default, or on CUDA cores) and tf32 */
        {"persistent", LS, 2, 2, 5, 6, 6, 5, BF, 1, NULL, 0.0f}, {"persistent", GR_, 1, 1, 5, 7, 6, 5, BF, 1, NULL, 0.0f},
        {"persistent", LS, 2, 2, 5, 6, 6, 5, BF, 1, "recur=simt", 0.0f}, {"persistent", R, 1, 1, 5, 7, 6, 5, BF, 0, NULL, 0.0f},
        /* tensor cores: 5 units a block (two output tiles forward), two chunks of 16 rows, three of k
         * backward (G*Hd = 1080 > 512) */
        {"persistent", LS, 2, 1, 3, 270, 2, 17, BF, 1, NULL, 0.0f},
        {"fused-gemm", LS, 2, 1, 5, 6, 6, 5, BF, 1, NULL, 0.0f}, {"fused-gemm", R, 1, 1, 5, 7, 6, 5, BF, 0, NULL, 0.0f},
        {"persistent", LS, 2, 1, 5, 6, 6, 5, T32, 1, NULL, 0.0f}, {"fused-gemm", GR_, 1, 2, 5, 7, 6, 5, T32, 1, NULL, 0.0f},
        /* auto picks a version per shape: small B, so a whole-recurrence one */
        {"auto", LS, 2, 2, 5, 6, 6, 5, F, 1, NULL, 0.0f},
        /* the wavefront: every cell, 1-4 layers, dropout between layers drawn inside the steps */
        {"wavefront", LS, 1, 2, 5, 7, 6, 5, F, 1, NULL, 0.3f}, {"wavefront", GR_, 1, 4, 5, 6, 7, 5, F, 0, NULL, 0.2f},
        {"wavefront", R, 1, 3, 5, 7, 6, 5, F, 1, NULL, 0.0f},  {"wavefront", LS, 1, 1, 5, 7, 6, 5, F, 1, NULL, 0.0f},
        /* blocks of 2 units, the last partial (3*67 > 132 SMs); more elements than threads */
        {"wavefront", LS, 1, 3, 4, 67, 4, 3, F, 1, NULL, 0.25f}, {"wavefront", GR_, 1, 2, 3, 2, 3, 300, F, 1, NULL, 0.1f},
        /* bf16 (inputs and upper gradients rounded as they are read) and tf32 */
        {"wavefront", LS, 1, 3, 5, 6, 6, 5, BF, 1, NULL, 0.25f}, {"wavefront", GR_, 1, 2, 5, 7, 6, 5, BF, 0, NULL, 0.0f},
        {"wavefront", LS, 1, 2, 5, 6, 6, 5, T32, 1, NULL, 0.2f},
        /* bidirectional: fused-gemm, whose launches run both directions */
        {"wavefront", LS, 2, 2, 5, 6, 6, 5, F, 1, NULL, 0.2f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], (uint32_t)i);
    check_refusals();
    return tu_summary(&report, "recur_gpu");
}
