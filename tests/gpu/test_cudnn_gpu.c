/* test_cudnn_gpu.c: the cuDNN layer stacks (src/cudnn/) against the fused layers (baton_rnn_forward /
 * baton_rnn_backward on the "cuda" backend), on the same random weights, inputs and ragged lengths.
 *
 * For each cell (rnn_tanh, lstm, gru) x uni/bidirectional x 1..4 layers: y, hn, cn, dx, dh0, dc0 and
 * every gradient tensor of the parameter table, the weight round trip pack -> unpack (bit-identical),
 * exact zeros at padded positions of y and dx, the inference forward (same y), and the NULL
 * variants (no h0/c0/dhn/dcn; lengths only on the device). Gradients start from random values on
 * both sides, so the accumulation (+=) is checked too. Then one dropout run (cuDNN's masks are not
 * baton's: only its dropout-free inference output is compared, and its training output must differ)
 * and persist-static and persist-dynamic runs on batches whose rows all have length T, skipped with
 * a note where cuDNN refuses the shape. The persistent algorithms take no ragged batch: a ragged
 * one must be refused with BATON_ERR_UNSUPPORTED (lengths on the host and on the device).
 * Every output is poisoned with NaN before the call, and NaN fails every check.
 *
 * Exits 77 (meson's "skipped") when no CUDA device is usable. Status: never yet run on a GPU. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/cudnn_rnn.h"
#include "baton/param.h"
#include "baton/rnn.h"
#include "testutil.h"

/* Tolerances on the relative-norm error ||cudnn - fused|| / ||fused||.
 * Both sides compute in fp32 (cuBLAS with TF32 off, cuDNN with CUDNN_FMA_MATH) but sum in
 * different orders (cuBLAS's and cuDNN's GEMM tilings, FMA contraction) and evaluate sigmoid and
 * tanh differently (baton's polynomials are within 2 ulp; cuDNN uses CUDA's). Each product row
 * here sums at most ~60 terms, so one GEMM output differs by a few ulp, ~1e-7 relative in norm;
 * the recurrence carries such differences through at most T=7 steps per layer and 4 layers,
 * where gates with derivatives <= 1 keep them from growing much: forward outputs stay near
 * 1e-6. Gradients go back through the same chain once more and weight gradients add T*B outer
 * products, about doubling that. 1e-5 (forward) and 2e-5 (backward) leave a margin of about ten,
 * while a wrong gate block, direction or bias shows up as an O(0.1..1) error. */
#define TOL_FWD 1e-5
#define TOL_BWD 2e-5

#define SEED 0x6375644ULL /* any fixed value, printed so a failure can be replayed */
#define T_STEPS 7
#define BATCH 5

typedef struct {
    baton_cell cell;
    int dirs, L, I, Hd, T, B;
    int with_states;  /* h0, c0, dhn, dcn given (else NULL: zeros) */
    int host_lengths; /* host lengths passed (else the cuDNN path downloads them) */
    int ragged;       /* lengths 1, T and random; else all T */
    float dropout;    /* > 0: compare only the inference output */
    baton_cudnn_algo algo;
} tcase;

enum { X, H0, C0, DY, DHN, DCN, G0, N_IN };
enum { Y, HN, CN, DX, DH0, DC0, GR, N_OUT };
static const char *const out_names[N_OUT] = {"y", "hn", "cn", "dx", "dh0", "dc0", "grads"};

/* Everything of one case, host and device. */
typedef struct {
    tcase tc;
    baton_rnn rnn;
    baton_param_table table;
    int lstm, H;
    size_t n_in[N_IN], n_out[N_OUT];
    float *host_params, *in[N_IN];       /* host inputs */
    float *ref[N_OUT], *got[N_OUT];      /* fused and cuDNN results, downloaded */
    float *d_params, *d_in[N_IN], *d_out[N_OUT];
    int len[BATCH], *d_len;
    char name[64];
} run;

static tu_report report;

static baton_status dev_alloc(baton_backend *be, float **p, size_t n, const char *what)
{
    return be->ops->alloc(be, (void **)p, n * sizeof(float), what);
}

/* Fills n device floats with NaN through the backend's own upload. The backend works on a
 * non-blocking stream, which a cudaMemset on the legacy default stream is not ordered with: the
 * poison could land after the op's results, or the op could write before it. */
static baton_status poison(baton_backend *be, float *d, size_t n)
{
    float *nan = malloc(n * sizeof(float) + 1); /* +1: n may be 0 */
    if (!nan)
        return BATON_ERROR(BATON_ERR_OOM, "cudnn_gpu: a host buffer of %zu floats for the poison", n);
    tu_fill_nan(nan, n);
    baton_status st = be->ops->upload(be, d, nan, n * sizeof(float));
    free(nan);
    return st;
}

static baton_status poison_outputs(baton_backend *be, run *r)
{
    for (int o = 0; o < GR; o++)
        BATON_TRY(poison(be, r->d_out[o], r->n_out[o]));
    /* gradients start from G0 on both sides: backward must add to them */
    return be->ops->upload(be, r->d_out[GR], r->in[G0], r->n_out[GR] * sizeof(float));
}

static baton_status download_outputs(baton_backend *be, run *r, float **dst)
{
    BATON_TRY(be->ops->sync(be));
    for (int o = 0; o < N_OUT; o++)
        BATON_TRY(be->ops->download(be, dst[o], r->d_out[o], r->n_out[o] * sizeof(float)));
    return BATON_OK;
}

/* Host inputs: weights as PyTorch initialises them, everything else U(-1, 1), lengths ragged. */
static void fill_inputs(run *r, uint32_t case_id)
{
    baton_rnn_init_weights(&r->rnn, &r->table, r->host_params, SEED + case_id);
    for (int k = 0; k < N_IN; k++)
        tu_fill_uniform(r->in[k], r->n_in[k], -1.0f, 1.0f, SEED, case_id * 16u + (uint32_t)k);
    for (int b = 0; b < r->tc.B; b++) {
        int drawn = 1 + (int)(r->in[X][b] * 0.5f * (float)r->tc.T + 0.5f * (float)r->tc.T) % r->tc.T;
        r->len[b] = !r->tc.ragged ? r->tc.T : b == 0 ? 1 : b == 1 ? r->tc.T : drawn;
    }
}

static baton_status setup_run(baton_backend *be, run *r, const tcase *tc, uint32_t case_id)
{
    memset(r, 0, sizeof *r);
    r->tc = *tc;
    baton_param_table_init(&r->table);
    baton_rnn_config cfg = {.cell = tc->cell, .input_size = tc->I, .hidden_size = tc->Hd * tc->dirs,
                            .layers = tc->L, .bidirectional = tc->dirs == 2, .dropout = tc->dropout};
    BATON_TRY(baton_rnn_init(&r->rnn, &cfg, &r->table, "rnn"));
    r->lstm = tc->cell == BATON_CELL_LSTM;
    r->H = cfg.hidden_size;
    size_t TB = (size_t)tc->T * tc->B, S = (size_t)tc->L * tc->dirs * tc->B * tc->Hd, P = r->table.total;
    size_t n_in[N_IN] = {TB * tc->I, S, S, TB * r->H, S, S, P}, n_out[N_OUT] = {TB * r->H, S, S, TB * tc->I, S, S, P};
    memcpy(r->n_in, n_in, sizeof n_in);
    memcpy(r->n_out, n_out, sizeof n_out);
    int persist = tc->algo != BATON_CUDNN_STANDARD;
    snprintf(r->name, sizeof r->name, "%s %s L%d%s%s", baton_cell_name(tc->cell), tc->dirs == 2 ? "bi" : "uni", tc->L,
             persist ? " " : "", persist ? baton_cudnn_algo_name(tc->algo) : "");
    r->host_params = calloc(P, sizeof(float));
    if (!r->host_params)
        return BATON_ERROR(BATON_ERR_OOM, "cudnn_gpu: host buffers");
    for (int k = 0; k < N_IN; k++)
        if (!(r->in[k] = malloc(n_in[k] * sizeof(float))))
            return BATON_ERROR(BATON_ERR_OOM, "cudnn_gpu: host buffers");
    for (int o = 0; o < N_OUT; o++)
        if (!(r->ref[o] = malloc(n_out[o] * sizeof(float))) || !(r->got[o] = malloc(n_out[o] * sizeof(float))))
            return BATON_ERROR(BATON_ERR_OOM, "cudnn_gpu: host buffers");
    fill_inputs(r, case_id);
    BATON_TRY(dev_alloc(be, &r->d_params, P, "params"));
    BATON_TRY(be->ops->upload(be, r->d_params, r->host_params, P * sizeof(float)));
    for (int k = 0; k < N_IN; k++) {
        BATON_TRY(dev_alloc(be, &r->d_in[k], n_in[k], "input"));
        BATON_TRY(be->ops->upload(be, r->d_in[k], r->in[k], n_in[k] * sizeof(float)));
    }
    for (int o = 0; o < N_OUT; o++)
        BATON_TRY(dev_alloc(be, &r->d_out[o], n_out[o], "output"));
    BATON_TRY(be->ops->alloc(be, (void **)&r->d_len, sizeof r->len, "lengths"));
    return be->ops->upload(be, r->d_len, r->len, (size_t)tc->B * sizeof(int));
}

static void free_run(baton_backend *be, run *r)
{
    if (r->d_params)
        be->ops->free(be, r->d_params);
    for (int k = 0; k < N_IN; k++) {
        free(r->in[k]);
        if (r->d_in[k])
            be->ops->free(be, r->d_in[k]);
    }
    for (int o = 0; o < N_OUT; o++) {
        free(r->ref[o]);
        free(r->got[o]);
        if (r->d_out[o])
            be->ops->free(be, r->d_out[o]);
    }
    if (r->d_len)
        be->ops->free(be, r->d_len);
    free(r->host_params);
    baton_param_table_free(&r->table);
}

/* The optional inputs as the case passes them. */
static const float *opt_in(const run *r, int k, int want)
{
    return r->tc.with_states && want ? r->d_in[k] : NULL;
}

/* The reference: the fused layers on the same backend, no dropout. */
static baton_status run_fused(baton_backend *be, run *r)
{
    const tcase *tc = &r->tc;
    baton_arena measure = baton_arena_measuring(), arena;
    baton_rnn_acts acts;
    BATON_TRY(baton_rnn_acts_carve(&acts, &measure, &r->rnn, tc->T, tc->B));
    BATON_TRY(baton_arena_create(&arena, be, measure.used));
    baton_status st = baton_rnn_acts_carve(&acts, &arena, &r->rnn, tc->T, tc->B);
    if (st == BATON_OK)
        st = poison_outputs(be, r);
    if (st == BATON_OK)
        st = baton_rnn_forward(be, &r->rnn, &acts, r->d_out[Y], r->d_out[HN], r->lstm ? r->d_out[CN] : NULL,
                               r->d_in[X], opt_in(r, H0, 1), opt_in(r, C0, r->lstm), r->d_len, r->d_params, &r->table,
                               tc->T, tc->B, NULL);
    if (st == BATON_OK)
        st = baton_rnn_backward(be, &r->rnn, &acts, r->d_out[DX], r->d_out[DH0], r->lstm ? r->d_out[DC0] : NULL,
                                r->d_out[GR], r->d_in[DY], opt_in(r, DHN, 1), opt_in(r, DCN, r->lstm), r->d_in[X],
                                r->d_len, r->d_params, &r->table, tc->T, tc->B, NULL);
    if (st == BATON_OK)
        st = download_outputs(be, r, r->ref);
    baton_arena_destroy(&arena);
    return st;
}

/* pack then unpack into a poisoned buffer: every tensor of the layer comes back bit for bit. */
static baton_status check_round_trip(baton_backend *be, run *r, baton_cudnn_rnn *c)
{
    size_t P = r->table.total;
    float *d_back = NULL, *back = malloc(P * sizeof(float));
    if (!back)
        return BATON_ERROR(BATON_ERR_OOM, "cudnn_gpu: round-trip buffer");
    baton_status st = dev_alloc(be, &d_back, P, "round trip");
    if (st == BATON_OK)
        st = poison(be, d_back, P);
    if (st == BATON_OK)
        st = baton_cudnn_rnn_pack(c, r->d_params, &r->table);
    if (st == BATON_OK)
        st = baton_cudnn_rnn_unpack(c, d_back, &r->table);
    if (st == BATON_OK)
        st = be->ops->download(be, back, d_back, P * sizeof(float));
    if (st == BATON_OK) {
        int differ = 0;
        for (int i = 0; i < r->table.count; i++) {
            const baton_param *p = &r->table.items[i];
            differ += memcmp(back + p->offset, r->host_params + p->offset, p->numel * sizeof(float)) != 0;
        }
        char name[512];
        snprintf(name, sizeof name, "%s: pack/unpack tensors differing of %d", r->name, r->table.count);
        tu_check_abs(&report, name, (double)differ, 0.0);
    }
    if (d_back)
        be->ops->free(be, d_back);
    free(back);
    return st;
}

/* Forward (training) and backward through cuDNN into r->got. */
static baton_status run_cudnn_train(baton_backend *be, run *r, baton_cudnn_rnn *c)
{
    const tcase *tc = &r->tc;
    const int *host_len = tc->host_lengths ? r->len : NULL;
    BATON_TRY(poison_outputs(be, r));
    BATON_TRY(baton_cudnn_rnn_forward(c, r->d_out[Y], r->d_out[HN], r->lstm ? r->d_out[CN] : NULL, r->d_in[X],
                                      opt_in(r, H0, 1), opt_in(r, C0, r->lstm), r->d_len, host_len, r->d_params,
                                      &r->table, tc->T, tc->B, 1));
    BATON_TRY(baton_cudnn_rnn_backward(c, r->d_out[DX], r->d_out[DH0], r->lstm ? r->d_out[DC0] : NULL, r->d_out[GR],
                                       r->d_in[DY], opt_in(r, DHN, 1), opt_in(r, DCN, r->lstm), r->d_in[X], r->d_len,
                                       host_len, r->d_params, &r->table, tc->T, tc->B));
    return download_outputs(be, r, r->got);
}

/* Inference forward into a poisoned y; its result goes to got[Y]. */
static baton_status run_cudnn_infer(baton_backend *be, run *r, baton_cudnn_rnn *c)
{
    const tcase *tc = &r->tc;
    BATON_TRY(poison(be, r->d_out[Y], r->n_out[Y]));
    BATON_TRY(baton_cudnn_rnn_forward(c, r->d_out[Y], NULL, NULL, r->d_in[X], opt_in(r, H0, 1),
                                      opt_in(r, C0, r->lstm), r->d_len, r->len, r->d_params, &r->table, tc->T, tc->B,
                                      0));
    BATON_TRY(be->ops->sync(be));
    return be->ops->download(be, r->got[Y], r->d_out[Y], r->n_out[Y] * sizeof(float));
}

/* ||got - ref|| / ||ref - g0|| over n floats: the error of what backward added; +inf on NaN. */
static double rel_err_increment(const float *got, const float *ref, const float *g0, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)got[i] - ref[i], g = (double)ref[i] - g0[i];
        num += e * e;
        den += g * g;
    }
    if (isnan(num) || isnan(den))
        return INFINITY;
    return sqrt(num) / fmax(sqrt(den), TU_REL_TINY);
}

/* Largest |value| at padded steps (t >= len[b]) of a (T, B, width) tensor; NaN counts as inf. */
static double padded_max(const run *r, const float *v, int width)
{
    double worst = 0.0;
    for (int t = 0; t < r->tc.T; t++)
        for (int b = 0; b < r->tc.B; b++)
            if (t >= r->len[b])
                for (int j = 0; j < width; j++) {
                    double a = fabs((double)v[((size_t)t * r->tc.B + b) * width + j]);
                    worst = isnan(a) ? INFINITY : fmax(worst, a);
                }
    return worst;
}

static void check_out(run *r, const char *what, const float *got, const float *ref, size_t n, double tol)
{
    char name[512];
    snprintf(name, sizeof name, "%s: %s", r->name, what);
    tu_check(&report, name, tu_rel_err_ff(got, ref, n), tol);
}

/* Every compared output of a training run, each gradient tensor on its own. */
static void compare_train(run *r)
{
    for (int o = Y; o <= DC0; o++)
        if (r->lstm || (o != CN && o != DC0))
            check_out(r, out_names[o], r->got[o], r->ref[o], r->n_out[o], o < DX ? TOL_FWD : TOL_BWD);
    char name[512];
    for (int i = 0; i < r->table.count; i++) {
        const baton_param *p = &r->table.items[i];
        snprintf(name, sizeof name, "%s: d%s", r->name, p->name);
        tu_check(&report, name,
                 rel_err_increment(r->got[GR] + p->offset, r->ref[GR] + p->offset, r->in[G0] + p->offset, p->numel),
                 TOL_BWD);
    }
    snprintf(name, sizeof name, "%s: y and dx at padded steps", r->name);
    tu_check_abs(&report, name, fmax(padded_max(r, r->got[Y], r->H), padded_max(r, r->got[DX], r->tc.I)), 0.0);
}

/* With dropout: the training output must differ from the dropout-free one (and be finite), the
 * inference output must equal it. */
static void compare_dropout(run *r)
{
    double diff = tu_rel_err_ff(r->got[Y], r->ref[Y], r->n_out[Y]);
    char name[512];
    snprintf(name, sizeof name, "%s dropout %.2f: training y differs from dropout-free y (expects > 1e-3)", r->name,
             (double)r->tc.dropout);
    tu_check(&report, name, isfinite(diff) && diff > 1e-3 ? 0.0 : 1.0, 0.0);
}

/* A ragged batch through a persistent algorithm: forward must return BATON_ERR_UNSUPPORTED with the
 * line naming the option, whether the lengths come from the host or are downloaded. */
static baton_status check_ragged_refused(baton_backend *be, const tcase *tc, uint32_t case_id)
{
    run r;
    baton_cudnn_rnn *c = NULL;
    baton_status st = setup_run(be, &r, tc, case_id);
    if (st == BATON_OK)
        st = baton_cudnn_rnn_create(&c, be, &r.rnn, tc->T, tc->B, tc->algo, SEED);
    if (st == BATON_ERR_UNSUPPORTED) {
        printf("cudnn_gpu: note: %s: cuDNN refuses this shape (see the error line above); ragged check skipped\n",
               r.name);
        st = BATON_OK;
    } else {
        for (int host = 1; st == BATON_OK && host >= 0; host--) {
            printf("cudnn_gpu: %s: a ragged batch, lengths from the %s: the error line below is expected\n", r.name,
                   host ? "host" : "device");
            baton_status got = baton_cudnn_rnn_forward(c, r.d_out[Y], NULL, NULL, r.d_in[X], NULL, NULL, r.d_len,
                                                       host ? r.len : NULL, r.d_params, &r.table, tc->T, tc->B, 1);
            char name[512];
            snprintf(name, sizeof name, "%s: ragged batch (lengths from the %s) refused, naming --rnn-impl", r.name,
                     host ? "host" : "device");
            int refused = got == BATON_ERR_UNSUPPORTED && strstr(baton_error_last(), "--rnn-impl cudnn-persist-") &&
                          strstr(baton_error_last(), "same length");
            tu_check_abs(&report, name, refused ? 0.0 : 1.0, 0.0);
        }
    }
    baton_cudnn_rnn_destroy(c);
    free_run(be, &r);
    return st;
}

/* Runs one case; a persistent algorithm cuDNN refuses for the shape is skipped with a note. */
static baton_status run_case(baton_backend *be, const tcase *tc, uint32_t case_id)
{
    run r;
    baton_cudnn_rnn *c = NULL;
    baton_status st = setup_run(be, &r, tc, case_id);
    if (st == BATON_OK)
        st = run_fused(be, &r);
    if (st == BATON_OK)
        st = baton_cudnn_rnn_create(&c, be, &r.rnn, tc->T, tc->B, tc->algo, SEED);
    if (st == BATON_OK)
        st = check_round_trip(be, &r, c);
    if (st == BATON_OK)
        st = run_cudnn_train(be, &r, c);
    if (st == BATON_OK && tc->dropout > 0.0f)
        compare_dropout(&r);
    else if (st == BATON_OK)
        compare_train(&r);
    if (st == BATON_OK)
        st = run_cudnn_infer(be, &r, c);
    if (st == BATON_OK)
        check_out(&r, "y (inference)", r.got[Y], r.ref[Y], r.n_out[Y], TOL_FWD);
    if (st == BATON_ERR_UNSUPPORTED && tc->algo != BATON_CUDNN_STANDARD) {
        printf("cudnn_gpu: note: %s: cuDNN refuses this case (see the error line above); skipped\n", r.name);
        st = BATON_OK;
    }
    baton_cudnn_rnn_destroy(c);
    free_run(be, &r);
    return st;
}

static int run_all(baton_backend *be)
{
    static const baton_cell cells[] = {BATON_CELL_RNN_TANH, BATON_CELL_LSTM, BATON_CELL_GRU};
    uint32_t id = 0;
    for (size_t ci = 0; ci < sizeof cells / sizeof cells[0]; ci++)
        for (int dirs = 1; dirs <= 2; dirs++)
            for (int L = 1; L <= 4; L++, id++) {
                /* odd widths, so that no size happens to match another; NULL variants rotate */
                tcase tc = {cells[ci], dirs, L, 5 + 2 * L, dirs == 2 ? 7 : 9, T_STEPS, BATCH,
                            (id / 2) % 2 == 0, id % 2 == 0, 1, 0.0f, BATON_CUDNN_STANDARD};
                if (run_case(be, &tc, id) != BATON_OK)
                    return 1;
            }
    /* the persistent algorithms only with every row of length T (ragged 0); the GRU case leaves
     * the lengths on the device (host_lengths 0) */
    const tcase extra[] = {
        {BATON_CELL_LSTM, 2, 2, 6, 8, T_STEPS, BATCH, 1, 1, 1, 0.25f, BATON_CUDNN_STANDARD},
        {BATON_CELL_LSTM, 1, 2, 32, 32, T_STEPS, BATCH, 1, 1, 0, 0.0f, BATON_CUDNN_PERSIST_STATIC},
        {BATON_CELL_GRU, 2, 2, 32, 32, T_STEPS, BATCH, 1, 0, 0, 0.0f, BATON_CUDNN_PERSIST_STATIC},
        {BATON_CELL_LSTM, 1, 2, 32, 32, T_STEPS, BATCH, 1, 1, 0, 0.0f, BATON_CUDNN_PERSIST_DYNAMIC},
    };
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++, id++)
        if (run_case(be, &extra[k], id) != BATON_OK)
            return 1;
    /* and a ragged batch (lengths 1, T and between) must be refused by both */
    const tcase ragged[] = {
        {BATON_CELL_LSTM, 1, 2, 32, 32, T_STEPS, BATCH, 1, 1, 1, 0.0f, BATON_CUDNN_PERSIST_STATIC},
        {BATON_CELL_LSTM, 1, 2, 32, 32, T_STEPS, BATCH, 1, 1, 1, 0.0f, BATON_CUDNN_PERSIST_DYNAMIC},
    };
    for (size_t k = 0; k < sizeof ragged / sizeof ragged[0]; k++, id++)
        if (check_ragged_refused(be, &ragged[k], id) != BATON_OK)
            return 1;
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep check lines in order with error lines in logs */
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        fprintf(stderr, "cudnn_gpu: skipped: no usable CUDA device (cudaGetDeviceCount: %s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
        return TU_EXIT_SKIP;
    }
    baton_backend be;
    if (baton_backend_create(&be, "cuda", 1) != BATON_OK)
        return 1;
    printf("cudnn_gpu: %s, seed 0x%llx\n", be.description, (unsigned long long)SEED);
    int failed = run_all(&be);
    baton_backend_destroy(&be);
    if (failed) {
        fprintf(stderr, "cudnn_gpu: stopped at an error\n");
        return 1;
    }
    return tu_summary(&report, "cudnn_gpu");
}
