/* test_screen.c: ops->generator_argmax (the CPU's screened greedy generator, cpu_screen.c) against
 * the argmax of logits computed in double, on inputs shaped like a trained decoder's: generator
 * inputs x = tanh(U z + noise) close to a 24-dimensional subspace of H = 256, W's rows partly in
 * it, V = 2048 (the screen needs H >= 128 and V >= 1024). Ids are poisoned (-1) before each call.
 *
 * The measure: an id must be the double argmax, or within a near-tie of it: its double logit below
 * the largest by at most 8 gamma_H |x| max|w_v| (gamma_H = H 2^-24: what fp32 rounding can move a
 * logit, doubled twice), so a different order of summation may pick it. Then an untrained case:
 * isotropic inputs and weights, where the screen must turn itself off. NaN rows must get
 * argmax_rows' id for the same logits. The op's scratch tells which path ran (white box): the
 * full path leaves the logits there, the screen each logit's upper bound. The test requires the
 * screen to run on the structured inputs (after calibration) and to turn itself off on isotropic
 * ones, and every bound the screen leaves to be at or above its double logit: the ids alone rarely
 * show a bound too tight, since on such inputs the argmax is nearly always the largest projection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "support/testutil.h"

/* 64 calls of R rows calibrate (CALIB_ROWS 4096), 8 more probe the cost (PROBE_ROWS 512): the last
 * LAST calls must show the screen on (structured) or off (isotropic: off once enough probe rows
 * show the cost, a few calls after the probe). */
enum { H = 256, V = 2048, R = 64, D = 24, CALLS = 110, LAST = 20, P = V * H + V + 16 };

static baton_backend be;
static float params[P];                /* W (V, H) at 16, then b (V): a frozen range with W inside */
static float *const W = params + 16, *const b = params + 16 + (size_t)V * H;
static float x[R * H], mask[V], scratch[R * V], U[H * D];

static void fill_inputs(int call, int isotropic)
{
    float z[D], noise[H];
    for (int i = 0; i < R; i++) {
        tu_fill_uniform(z, D, -2, 2, call, 100 + i);
        tu_fill_uniform(noise, H, -0.05f, 0.05f, call, 300 + i);
        for (int h = 0; h < H; h++) {
            double a = noise[h];
            for (int d = 0; d < D && !isotropic; d++)
                a += (double)U[h * D + d] * z[d];
            x[i * H + h] = isotropic ? (float)(40.0 * noise[h]) : (float)tanh(a);
        }
    }
}

/* Row i's double logits' largest value and the near-tie allowance. */
static double row_max(int i, const float *msk, double *tie)
{
    double best = -INFINITY, xn = 0.0, wmax = 0.0;
    for (int h = 0; h < H; h++)
        xn += (double)x[i * H + h] * x[i * H + h];
    for (int v = 0; v < V; v++) {
        double l = b[v] + (msk ? msk[v] : 0.0), wn = 0.0;
        for (int h = 0; h < H; h++)
            l += (double)x[i * H + h] * W[(size_t)v * H + h], wn += (double)W[(size_t)v * H + h] * W[(size_t)v * H + h];
        best = l > best ? l : best;
        wmax = wn > wmax ? wn : wmax;
    }
    *tie = 8.0 * H * ldexp(1.0, -24) * sqrt(xn * wmax);
    return best;
}

static double logit(int i, int v, const float *msk)
{
    double l = b[v] + (msk ? msk[v] : 0.0);
    for (int h = 0; h < H; h++)
        l += (double)x[i * H + h] * W[(size_t)v * H + h];
    return l;
}

/* How far the ids fall below the double argmax beyond the near-tie allowance (0: all good). */
static double ids_error(const int *ids, const float *msk)
{
    double worst = 0.0;
    for (int i = 0; i < R; i++) {
        double tie, top = row_max(i, msk, &tie);
        double gap = ids[i] < 0 || ids[i] >= V ? INFINITY : top - logit(i, ids[i], msk) - tie;
        worst = gap > worst ? gap : worst;
    }
    return worst;
}

/* Did the last call leave row 0's full logits (+ mask) in the scratch (the full path)? */
static int full_path_ran(const float *msk)
{
    for (int v = 0; v < V; v += 97) {
        double l = logit(0, v, msk);
        if (fabs(scratch[v] - l) > 1e-3 * (1.0 + fabs(l)))
            return 0;
    }
    return 1;
}

/* How many of the scratch's upper bounds fall below their double logits (ids the mask forbids
 * aside: -1e30 absorbs the logit in fp32). */
static double bounds_error(const float *msk)
{
    long below = 0;
    for (int i = 0; i < R; i++)
        for (int v = 0; v < V; v++)
            below += !(msk && msk[v] < -1e29f) && !(scratch[(size_t)i * V + v] >= logit(i, v, msk));
    return (double)below;
}

static void run(tu_report *r, int isotropic)
{
    int ids[R];
    int screened = 0, full_after = 0;
    TU_EXPECT(r, be.ops->params_frozen(&be, params, P) == BATON_OK, "params_frozen failed");
    for (int call = 0; call < CALLS; call++) {
        fill_inputs(call, isotropic);
        const float *msk = call % 7 == 3 ? mask : NULL;
        memset(ids, 0xff, sizeof ids);
        baton_status st = be.ops->generator_argmax(&be, ids, scratch, x, W, b, msk, R, V, H);
        double err = st == BATON_OK ? ids_error(ids, msk) : INFINITY;
        if (err > 0.0 || call == 0 || call == CALLS - 1) {
            char name[96];
            snprintf(name, sizeof name, "%s inputs, call %d%s: ids below the argmax beyond ties",
                     isotropic ? "isotropic" : "structured", call, msk ? " (masked)" : "");
            tu_check(r, name, err, 0.0);
        }
        int full = full_path_ran(msk);
        screened += call >= CALLS - LAST && !full;
        if (call >= CALLS - LAST && !full) {
            double below = bounds_error(msk);
            if (below > 0.0 || call == CALLS - 1)
                tu_check(r, call == CALLS - 1 ? "screened, last call: upper bounds below their logits"
                                              : "screened: upper bounds below their logits", below, 0.0);
        }
        full_after += call >= CALLS - LAST && full;
    }
    if (isotropic)
        TU_EXPECT(r, full_after == LAST, "isotropic inputs: the screen stayed on in %d calls", screened);
    else
        TU_EXPECT(r, screened == LAST, "structured inputs: the screen ran in %d of the last %d calls", screened, LAST);
    /* a row of NaN: the full path's answer for it, the other rows unharmed */
    fill_inputs(CALLS, isotropic);
    x[5 * H + 7] = NAN;
    int want[R];
    static float logits[R * V];
    TU_EXPECT(r, be.ops->gemm(&be, 0, 1, R, V, H, 1.0f, x, H, W, H, 0.0f, logits, V) == BATON_OK &&
                     be.ops->add_bias(&be, logits, b, R, V) == BATON_OK &&
                     be.ops->argmax_rows(&be, want, logits, R, V) == BATON_OK, "full logits failed");
    memset(ids, 0xff, sizeof ids);
    TU_EXPECT(r, be.ops->generator_argmax(&be, ids, scratch, x, W, b, NULL, R, V, H) == BATON_OK, "call failed");
    TU_EXPECT(r, ids[5] == want[5], "NaN row: id %d, argmax_rows gives %d", ids[5], want[5]);
    TU_EXPECT(r, ids[4] >= 0 && ids[6] >= 0, "rows beside the NaN row: ids %d %d", ids[4], ids[6]);
    TU_EXPECT(r, be.ops->params_frozen(&be, NULL, 0) == BATON_OK, "thaw failed");
}

int main(void)
{
    tu_report r = {0, 0};
    if (baton_cpu_backend_create(&be, 0) != BATON_OK)
        return 1;
    if (!be.ops->generator_argmax || !be.ops->params_frozen) {
        printf("generator_argmax: not in this build (no libxsmm): skipped\n");
        baton_backend_destroy(&be);
        return TU_EXIT_SKIP;
    }
    tu_fill_uniform(U, H * D, -0.5f, 0.5f, 1, 1);
    float wz[D], wnoise[H];
    for (int v = 0; v < V; v++) { /* rows mostly in U's span, as a trained generator's */
        tu_fill_uniform(wz, D, -1, 1, 2, v);
        tu_fill_uniform(wnoise, H, -0.1f, 0.1f, 3, v);
        for (int h = 0; h < H; h++) {
            double a = wnoise[h];
            for (int d = 0; d < D; d++)
                a += (double)U[h * D + d] * wz[d];
            W[(size_t)v * H + h] = (float)a;
        }
    }
    tu_fill_uniform(b, V, -0.5f, 0.5f, 4, 1);
    for (int v = 0; v < V; v++) /* forbid every 3rd id, as greedy's first step forbids </s> */
        mask[v] = v % 3 ? 0.0f : -1e30f;
    run(&r, 0);
    tu_fill_uniform(W, (size_t)V * H, -0.2f, 0.2f, 5, 1); /* an untrained generator: no subspace to use */
    run(&r, 1);
    /* weights not frozen: the full path, same ids */
    int ids[R];
    fill_inputs(0, 0);
    memset(ids, 0xff, sizeof ids);
    baton_status st = be.ops->generator_argmax(&be, ids, scratch, x, W, b, NULL, R, V, H);
    tu_check(&r, "not frozen: ids below the argmax beyond ties", st == BATON_OK ? ids_error(ids, NULL) : INFINITY,
             0.0);
    baton_backend_destroy(&be);
    return tu_summary(&r, "generator argmax");
}
