/* test_cells_gpu.c: the recurrent cell kernels (kernels/{rnn_tanh,lstm,gru}_cell.cu) against a
 * CPU loop over the same baton_*_fwd_at / baton_*_bwd_at functions of cell_math.h.
 *
 * Since both sides run the same formulas, what this test really checks is the kernels' indexing
 * and wiring: the grid covers every (b, j) once, rows past their length are masked, strided
 * outputs (y and dy at a column offset, as the reverse half of a bidirectional layer), in-place
 * backward (dh_prev == dh, dc_prev == dc), and pointers the cell does not use passed as NULL.
 * Every case draws fresh Philox inputs, poisons every output with NaN bits on both sides before
 * the call, and requires that what the reference leaves untouched
 * stays poisoned on the GPU, bit for bit.
 *
 * Exits 77 (meson's "skipped") when no CUDA device is usable, 1 on any mismatch or CUDA error. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "baton/cell_math.h"
#include "baton/cuda_check.h"
#include "baton/rng.h"
#include "baton/status.h"
#include "kernels/kernels.h"

/* Tolerance on max over elements of |gpu - ref| / max(1, |ref|).
 * Both sides evaluate the same source expressions in float, exp and tanh included (cell_math.h
 * computes them with its own polynomials, not libm or CUDA's math library), so they differ only
 * by rounding: nvcc fuses a*b + c into one FMA (one rounding) where the host's baseline code
 * rounds twice. One ulp of float is 2^-23 ~ 1.2e-7 relative; the longest chain here (LSTM
 * backward: tanh(c), dc = dc + dh*o*(1 - tc^2), then products with saved gates) has about ten
 * such roundings on values of magnitude up to ~4, so honest differences stay near 1e-6.
 * Scaling by max(1, |ref|) makes the measure absolute for small values, where cancellation such
 * as 1 - h*h near |h| = 1 makes relative error meaningless, and relative for large ones.
 * 1e-5 leaves a margin of about ten over that, while an indexing error (wrong gate block, row,
 * stride or mask) moves values by O(0.1). NaN fails: comparisons are written !(err <= TOL). */
#define TOL 1e-5

#define T_STEPS 6                    /* padded sequence length; lengths are in 1..T_STEPS */
#define MAX_B 67
#define MAX_HD 257
#define CAP ((size_t)MAX_B * 4 * MAX_HD) /* floats of the widest tensor, (B, 4*Hd) */
#define SEED 0x6261746f6e63656cULL   /* any fixed value; printed so a failure can be replayed */
#define MAX_REPORTS 10               /* failure lines printed per cell */

static const int batch_sizes[] = {1, 3, 32, 67};
static const int unit_counts[] = {1, 7, 64, 257};
/* t = 0: every row valid; t = 2: short rows masked; t = T-1: only full-length rows valid. */
static const int steps[] = {0, 2, T_STEPS - 1};

/* How the optional pieces are wired, as the layers will use them. */
enum {
    WIRE_PLAIN,   /* y, dy (B, Hd); save present; separate dh_prev, dc_prev */
    WIRE_STRIDED, /* y, dy at column Hd of (B, 2*Hd): the reverse direction of a bidirectional layer */
    WIRE_INPLACE,    /* in place: dh_prev == dh and dc_prev == dc, as the layers run backward */
    N_WIRINGS
};
static const char *const wiring_names[N_WIRINGS] = {"plain", "strided", "in-place"};

/* Every tensor of a case; the first group are inputs, the second outputs that get compared.
 * BSAVE, BH, BC are the backward's inputs save, h, c, taken from a host forward with save on. */
enum { XG, HG, BIH, BHH, HPREV, CPREV, DY, DH, DC, BSAVE, BH, BC, H, C, Y, SAVE, DGX, DGH, DHPREV, DCPREV, NBUF };
static const char *const buf_names[NBUF] = {"xg", "hg", "b_ih", "b_hh", "h_prev", "c_prev", "dy",
                                            "dh", "dc", "save(in)", "h(in)", "c(in)", "h", "c",
                                            "y", "save", "dgx", "dgh", "dh_prev", "dc_prev"};

static float *host[NBUF]; /* inputs, and the reference's outputs */
static float *got[NBUF];  /* the GPU's outputs, downloaded */
static float *dev[NBUF];  /* (CAP) floats each */
static int host_len[MAX_B];
static int *dev_len;

typedef struct {
    baton_cell cell;
    const char *name;
    int B, Hd, t, wiring;
} test_case;

typedef struct {
    int cases, failures, reports;
    double max_fwd, max_bwd;
} cell_stats;

static const uint32_t POISON = 0xffffffffu; /* a quiet NaN; cudaMemset and memset write it bytewise */

static int is_poison(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits == POISON;
}

/* x[i] = U(lo, hi) from the Philox stream (SEED, purpose, counter). */
static void fill(float *x, size_t n, float lo, float hi, uint32_t purpose, uint32_t counter)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * baton_rng_uniform(SEED, purpose, counter, i);
}

static baton_status upload(int id, size_t n)
{
    BATON_CUDA_CHECK(cudaMemcpy(dev[id], host[id], n * sizeof(float), cudaMemcpyHostToDevice));
    return BATON_OK;
}

static baton_status download(int id, size_t n)
{
    BATON_CUDA_CHECK(cudaMemcpy(got[id], dev[id], n * sizeof(float), cudaMemcpyDeviceToHost));
    return BATON_OK;
}

/* Fills output `id` with NaN bits in the reference and on the device. */
static baton_status poison(int id, size_t n)
{
    memset(host[id], 0xff, n * sizeof(float));
    BATON_CUDA_CHECK(cudaMemset(dev[id], 0xff, n * sizeof(float)));
    return BATON_OK;
}

/* Forward args over the table p (host or dev) of the case's tensors. */
static baton_cell_fwd_args fwd_args(float *const *p, const int *len, const test_case *tc)
{
    int lstm = tc->cell == BATON_CELL_LSTM, Hd = tc->Hd;
    baton_cell_fwd_args a;
    memset(&a, 0, sizeof a);
    a.B = tc->B;
    a.Hd = Hd;
    a.t = tc->t;
    a.lengths = len;
    a.xg = p[XG];
    a.hg = p[HG];
    a.b_ih = p[BIH];
    a.b_hh = p[BHH];
    a.h_prev = p[HPREV];
    a.c_prev = lstm ? p[CPREV] : NULL;
    a.h = p[H];
    a.c = lstm ? p[C] : NULL;
    a.y = p[Y] + (tc->wiring == WIRE_STRIDED ? Hd : 0);
    a.ldy = tc->wiring == WIRE_STRIDED ? 2 * Hd : Hd;
    a.save = baton_cell_saved(tc->cell) == 0 ? NULL : p[SAVE];
    return a;
}

/* Backward args over the table p; in the in-place wiring dh and dc live in dh_prev and dc_prev. */
static baton_cell_bwd_args bwd_args(float *const *p, const int *len, const test_case *tc)
{
    int lstm = tc->cell == BATON_CELL_LSTM, Hd = tc->Hd, inplace = tc->wiring == WIRE_INPLACE;
    baton_cell_bwd_args a;
    memset(&a, 0, sizeof a);
    a.B = tc->B;
    a.Hd = Hd;
    a.t = tc->t;
    a.lengths = len;
    a.dy = p[DY] + (tc->wiring == WIRE_STRIDED ? Hd : 0);
    a.ldy = tc->wiring == WIRE_STRIDED ? 2 * Hd : Hd;
    a.dh = inplace ? p[DHPREV] : p[DH];
    a.dc = lstm ? (inplace ? p[DCPREV] : p[DC]) : NULL;
    a.save = baton_cell_saved(tc->cell) ? p[BSAVE] : NULL;
    a.h_prev = p[HPREV];
    a.h = p[BH];
    a.c_prev = lstm ? p[CPREV] : NULL;
    a.c = lstm ? p[BC] : NULL;
    a.dgx = p[DGX];
    a.dgh = tc->cell == BATON_CELL_GRU ? p[DGH] : NULL;
    a.dh_prev = p[DHPREV];
    a.dc_prev = lstm ? p[DCPREV] : NULL;
    return a;
}

/* The reference: the CPU backend's loop, element by element. */
static void ref_forward(baton_cell cell, const baton_cell_fwd_args *a)
{
    for (int b = 0; b < a->B; b++)
        for (int j = 0; j < a->Hd; j++) {
            if (cell == BATON_CELL_LSTM)
                baton_lstm_fwd_at(a, b, j);
            else if (cell == BATON_CELL_GRU)
                baton_gru_fwd_at(a, b, j);
            else
                baton_rnn_tanh_fwd_at(a, b, j);
        }
}

static void ref_backward(baton_cell cell, const baton_cell_bwd_args *a)
{
    for (int b = 0; b < a->B; b++)
        for (int j = 0; j < a->Hd; j++) {
            if (cell == BATON_CELL_LSTM)
                baton_lstm_bwd_at(a, b, j);
            else if (cell == BATON_CELL_GRU)
                baton_gru_bwd_at(a, b, j);
            else
                baton_rnn_tanh_bwd_at(a, b, j);
        }
}

/* Compares output `id` over n floats: where the reference wrote a number the GPU must be within
 * TOL; where the reference left the poison the GPU must have left it too. Returns 1 on failure. */
static int check(const test_case *tc, int id, size_t n, double *max_err, cell_stats *st)
{
    double worst = 0.0;
    size_t where = 0;
    for (size_t i = 0; i < n; i++) {
        float r = host[id][i], g = got[id][i];
        double e;
        if (is_poison(r))
            e = is_poison(g) ? 0.0 : INFINITY; /* the kernel wrote where the math does not */
        else
            e = fabs((double)g - (double)r) / fmax(1.0, fabs((double)r)); /* NaN if g is NaN */
        if (!(e <= worst) && !isnan(worst)) {
            worst = e;
            where = i;
        }
    }
    if (!(worst <= *max_err) && !isnan(*max_err)) /* NaN and inf stick, so the summary shows them */
        *max_err = worst;
    if (worst <= TOL)
        return 0;
    if (st->reports++ < MAX_REPORTS) {
        size_t width = n / (size_t)tc->B; /* every compared tensor is (B, width) */
        char ref[48];
        if (is_poison(host[id][where]))
            snprintf(ref, sizeof ref, "untouched (the kernel must not write here)");
        else
            snprintf(ref, sizeof ref, "%.9g", (double)host[id][where]);
        fprintf(stderr,
                "cells_gpu: FAIL %s B=%d Hd=%d t=%d wiring=%s: %s[%zu][%zu] gpu=%.9g ref=%s err=%.3g (tol %.0e)\n",
                tc->name, tc->B, tc->Hd, tc->t, wiring_names[tc->wiring], buf_names[id], where / width,
                where % width, (double)got[id][where], ref, worst, TOL);
    }
    return 1;
}

/* One case: forward, then backward on inputs from a host forward with save on. */
static baton_status run_case(const test_case *tc, uint32_t case_id, cudaStream_t stream, cell_stats *st)
{
    baton_cell cell = tc->cell;
    int B = tc->B, Hd = tc->Hd, G = baton_cell_gates(cell), S = baton_cell_saved(cell);
    int lstm = cell == BATON_CELL_LSTM, gru = cell == BATON_CELL_GRU;
    size_t nbh = (size_t)B * Hd, ngate = nbh * G, nsave = nbh * S, ny = nbh * 2;
    size_t n[NBUF] = {
        [XG] = ngate, [HG] = ngate, [BIH] = (size_t)G * Hd, [BHH] = (size_t)G * Hd, [HPREV] = nbh,
        [CPREV] = nbh, [DY] = ny, [DH] = nbh, [DC] = nbh, [BSAVE] = nsave, [BH] = nbh, [BC] = nbh,
        [H] = nbh, [C] = nbh, [Y] = ny, [SAVE] = nsave, [DGX] = ngate, [DGH] = ngate, [DHPREV] = nbh,
        [DCPREV] = nbh,
    };
    uint32_t purpose = (uint32_t)BATON_RNG_TEST | ((uint32_t)cell << 16) | case_id;

    /* Inputs. Pre-activations reach |6| so that sigmoid and tanh are also tried where they
     * saturate; c_prev is wider than h_prev because a cell state is not bounded by 1. */
    fill(host[XG], n[XG], -2.0f, 2.0f, purpose, XG);
    fill(host[HG], n[HG], -2.0f, 2.0f, purpose, HG);
    fill(host[BIH], n[BIH], -1.0f, 1.0f, purpose, BIH);
    fill(host[BHH], n[BHH], -1.0f, 1.0f, purpose, BHH);
    fill(host[HPREV], n[HPREV], -1.0f, 1.0f, purpose, HPREV);
    fill(host[CPREV], n[CPREV], -2.0f, 2.0f, purpose, CPREV);
    fill(host[DY], n[DY], -1.0f, 1.0f, purpose, DY);
    fill(host[DH], n[DH], -1.0f, 1.0f, purpose, DH);
    fill(host[DC], n[DC], -1.0f, 1.0f, purpose, DC);
    /* Ragged lengths: row 0 has one step, row 1 (when present) all of them, the rest random. */
    for (int b = 0; b < B; b++) {
        int drawn = 1 + (int)(baton_rng_uniform(SEED, purpose, NBUF, (uint64_t)b) * T_STEPS); /* 1..T */
        host_len[b] = b == 0 ? 1 : b == 1 ? T_STEPS : drawn;
    }
    BATON_CUDA_CHECK(cudaMemcpy(dev_len, host_len, (size_t)B * sizeof(int), cudaMemcpyHostToDevice));
    for (int id = XG; id <= DC; id++)
        BATON_TRY(upload(id, n[id]));

    /* ---- forward ---- */
    for (int id = H; id <= SAVE; id++)
        BATON_TRY(poison(id, n[id]));
    baton_cell_fwd_args ga = fwd_args(dev, dev_len, tc), ha = fwd_args(host, host_len, tc);
    BATON_TRY(baton_kernel_cell_forward(cell, &ga, stream));
    BATON_CUDA_CHECK(cudaStreamSynchronize(stream));
    ref_forward(cell, &ha);
    int fail = 0;
    for (int id = H; id <= SAVE; id++) {
        if ((id == C && !lstm) || (id == SAVE && S == 0))
            continue;
        BATON_TRY(download(id, n[id]));
        fail |= check(tc, id, n[id], &st->max_fwd, st);
    }

    /* ---- backward ---- */
    /* Its inputs save, h, c come from a host forward that always saves, so that both sides
     * differentiate the same numbers whatever the forward wiring was. */
    baton_cell_fwd_args sa = ha;
    sa.h = host[BH];
    sa.c = lstm ? host[BC] : NULL;
    sa.save = S ? host[BSAVE] : NULL;
    ref_forward(cell, &sa);
    for (int id = BSAVE; id <= BC; id++)
        BATON_TRY(upload(id, n[id]));
    for (int id = DGX; id <= DCPREV; id++)
        BATON_TRY(poison(id, n[id]));
    if (tc->wiring == WIRE_INPLACE) { /* in place: the incoming gradients sit in the outputs */
        memcpy(host[DHPREV], host[DH], n[DH] * sizeof(float));
        memcpy(host[DCPREV], host[DC], n[DC] * sizeof(float));
        BATON_TRY(upload(DHPREV, n[DHPREV]));
        BATON_TRY(upload(DCPREV, n[DCPREV]));
    }
    baton_cell_bwd_args gb = bwd_args(dev, dev_len, tc), hb = bwd_args(host, host_len, tc);
    BATON_TRY(baton_kernel_cell_backward(cell, &gb, stream));
    BATON_CUDA_CHECK(cudaStreamSynchronize(stream));
    ref_backward(cell, &hb);
    for (int id = DGX; id <= DCPREV; id++) {
        if ((id == DGH && !gru) || (id == DCPREV && !lstm))
            continue;
        BATON_TRY(download(id, n[id]));
        fail |= check(tc, id, n[id], &st->max_bwd, st);
    }
    st->cases++;
    st->failures += fail;
    return BATON_OK;
}

/* Argument errors come back as BATON_ERR_INVALID before anything is launched, and an empty batch
 * launches nothing. Returns the number of unexpected results. */
static int check_argument_errors(cudaStream_t stream)
{
    test_case tc = {BATON_CELL_LSTM, "lstm", 3, 7, 0, WIRE_PLAIN};
    baton_cell_fwd_args a = fwd_args(dev, dev_len, &tc);
    int bad = 0;
    fprintf(stderr, "cells_gpu: the next 2 error lines are expected (argument checks)\n");
    if (baton_kernel_cell_forward((baton_cell)7, &a, stream) != BATON_ERR_INVALID) {
        fprintf(stderr, "cells_gpu: FAIL an unknown cell type was not rejected\n");
        bad++;
    }
    a.c = NULL;
    if (baton_kernel_lstm_forward(&a, stream) != BATON_ERR_INVALID) {
        fprintf(stderr, "cells_gpu: FAIL an LSTM step without c was not rejected\n");
        bad++;
    }
    a.B = 0; /* still without c: nothing is launched, so nothing is dereferenced */
    if (baton_kernel_lstm_forward(&a, stream) != BATON_OK) {
        fprintf(stderr, "cells_gpu: FAIL an empty batch was not accepted\n");
        bad++;
    }
    printf("cells_gpu: argument checks: %s\n", bad ? "FAILED" : "ok");
    return bad;
}

/* Buffers of the largest shape, allocated once; a non-default stream so that the launchers'
 * stream argument is exercised. It must stay a blocking stream (cudaStreamCreate, not
 * cudaStreamNonBlocking): upload, download and poison use cudaMemcpy / cudaMemset on the legacy
 * default stream, which only blocking streams are ordered with. */
static baton_status setup(cudaStream_t *stream)
{
    for (int id = 0; id < NBUF; id++) {
        host[id] = malloc(CAP * sizeof(float));
        got[id] = malloc(CAP * sizeof(float));
        if (!host[id] || !got[id])
            return BATON_ERROR(BATON_ERR_OOM, "cells_gpu: host buffers of %zu floats", CAP);
        BATON_CUDA_CHECK(cudaMalloc((void **)&dev[id], CAP * sizeof(float)));
    }
    BATON_CUDA_CHECK(cudaMalloc((void **)&dev_len, MAX_B * sizeof(int)));
    BATON_CUDA_CHECK(cudaStreamCreate(stream));
    return BATON_OK;
}

static void teardown(void)
{
    for (int id = 0; id < NBUF; id++) {
        free(host[id]);
        free(got[id]);
        cudaFree(dev[id]); /* failures here change nothing the test reports */
    }
    cudaFree(dev_len);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep summary lines in order with the stderr ones in logs */
    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        fprintf(stderr, "cells_gpu: skipped: no usable CUDA device (cudaGetDeviceCount: %s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
        return 77;
    }

    cudaStream_t stream = NULL;
    if (setup(&stream) != BATON_OK)
        return 1;
    int failed = check_argument_errors(stream);

    static const struct {
        baton_cell cell;
        const char *name;
    } cells[] = {{BATON_CELL_RNN_TANH, "rnn_tanh"}, {BATON_CELL_LSTM, "lstm"}, {BATON_CELL_GRU, "gru"}};
    for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
        cell_stats st = {0, 0, 0, 0.0, 0.0};
        uint32_t case_id = 0;
        for (size_t ib = 0; ib < sizeof batch_sizes / sizeof batch_sizes[0]; ib++)
            for (size_t ih = 0; ih < sizeof unit_counts / sizeof unit_counts[0]; ih++)
                for (size_t it = 0; it < sizeof steps / sizeof steps[0]; it++)
                    for (int w = 0; w < N_WIRINGS; w++) {
                        test_case tc = {cells[c].cell, cells[c].name, batch_sizes[ib], unit_counts[ih],
                                        steps[it], w};
                        if (run_case(&tc, case_id++, stream, &st) != BATON_OK) {
                            fprintf(stderr, "cells_gpu: %s B=%d Hd=%d t=%d wiring=%s: CUDA error, stopping\n",
                                    tc.name, tc.B, tc.Hd, tc.t, wiring_names[w]);
                            return 1; /* the context may be unusable after a fault */
                        }
                    }
        printf("cells_gpu: %-8s %3d cases (B 1,3,32,67 x Hd 1,7,64,257 x t 0,2,%d x 3 wirings), "
               "max err fwd %.2e bwd %.2e (tol %.0e, seed 0x%llx): %s\n",
               cells[c].name, st.cases, T_STEPS - 1, st.max_fwd, st.max_bwd, TOL, (unsigned long long)SEED,
               st.failures ? "FAILED" : "ok");
        if (st.failures)
            fprintf(stderr, "cells_gpu: %s: %d of %d cases failed\n", cells[c].name, st.failures, st.cases);
        failed += st.failures;
    }

    cudaStreamDestroy(stream);
    teardown();
    return failed ? 1 : 0;
}
