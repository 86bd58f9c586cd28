/* test_cpu_nn_ops.c: the CPU backend's layer ops (copy2d, add_bias, tanh, masked attention
 * softmax, Bahdanau scores, label-smoothed cross-entropy) against plain double-precision loops
 * written here, independently of attn_math.h, on random inputs (a distinct Philox stream per
 * tensor), with every output poisoned (NaN) before the call that must write it: an output left
 * unwritten, or a NaN produced, gives an infinite error and fails. The gradients of the softmax,
 * the additive scores and the cross-entropy are also compared with central finite differences of
 * the double-precision forward, so the backward formulas are checked against the definition and
 * not only against a second transcription of the same formulas. Last, each threaded op must give
 * the same bits on 1 and on 4 OpenMP threads.
 *
 * Error measures (testutil.h): tu_rel_err, the relative norm error ‖out − ref‖ / ‖ref‖ over a
 * whole tensor, for computed values; tu_max_abs = 0 where the op must be exact (copies, masked and
 * ignored entries); counts of bad entries where a property is checked. The tolerance of each
 * check is explained where it is set; u = 2^-24 = 6e-8 is float's unit roundoff. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "baton_config.h"
#include "support/testutil.h"
#if BATON_HAVE_OPENMP
#include <omp.h>
#endif

#define SEED 2027

static baton_backend be;
static uint32_t next_stream = 1; /* Philox stream of the next random tensor: every tensor its own */

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float *frand(size_t n, float lo, float hi)
{
    float *x = xmalloc(n * sizeof *x);
    tu_fill_uniform(x, n, lo, hi, SEED, next_stream++);
    return x;
}

static float *fnan(size_t n)
{
    float *x = xmalloc(n * sizeof *x);
    tu_fill_nan(x, n);
    return x;
}

static double *dalloc(size_t n)
{
    return xmalloc(n * sizeof(double));
}

static double *to_double(const float *x, size_t n)
{
    double *d = dalloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* The error of a call's output, or +inf when the call failed. The call must have run before: as
 * two arguments of one function call, op and measure would be evaluated in unspecified order. */
static double or_inf(baton_status st, double err)
{
    return st == BATON_OK ? err : INFINITY;
}

/* ---------------------------------------------------------------- double references ---- */

/* Masked softmax of one row in double: exp(x - max) / sum over s < len, 0 beyond. */
static void ref_softmax_row(double *p, const double *x, int len, int S)
{
    double m = x[0], sum = 0.0;
    for (int s = 1; s < len; s++)
        m = fmax(m, x[s]);
    for (int s = 0; s < len; s++)
        sum += p[s] = exp(x[s] - m);
    for (int s = 0; s < S; s++)
        p[s] = s < len ? p[s] / sum : 0.0;
}

/* J = sum_i w_i softmax(x)_i over all rows: the scalar whose gradient the softmax backward gives
 * when dp = w. */
static double ref_softmax_objective(const double *x, const float *w, const int *lengths, int B, int T, int S)
{
    double *p = dalloc((size_t)S), J = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t off = ((size_t)b * T + t) * S;
            ref_softmax_row(p, x + off, lengths[b], S);
            for (int s = 0; s < S; s++)
                J += w[off + s] * p[s];
        }
    free(p);
    return J;
}

/* scores[b,t,s] = sum_h v[h] tanh(q[t,b,h] + k[s,b,h]) in double. */
static void ref_additive(double *scores, const double *q, const double *k, const double *v, int B, int T, int S,
                         int H)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int s = 0; s < S; s++) {
                double acc = 0.0;
                for (int h = 0; h < H; h++)
                    acc += v[h] * tanh(q[((size_t)t * B + b) * H + h] + k[((size_t)s * B + b) * H + h]);
                scores[((size_t)b * T + t) * S + s] = acc;
            }
}

/* Analytic gradients of sum g * scores in double: dq, dk assigned, dv assigned (the caller adds
 * what the op accumulates onto). */
static void ref_additive_bwd(double *dq, double *dk, double *dv, const float *g, const double *q, const double *k,
                             const double *v, int B, int T, int S, int H)
{
    memset(dq, 0, (size_t)T * B * H * sizeof *dq);
    memset(dk, 0, (size_t)S * B * H * sizeof *dk);
    memset(dv, 0, (size_t)H * sizeof *dv);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int s = 0; s < S; s++) {
                double gs = g[((size_t)b * T + t) * S + s];
                for (int h = 0; h < H; h++) {
                    size_t iq = ((size_t)t * B + b) * H + h, ik = ((size_t)s * B + b) * H + h;
                    double e = tanh(q[iq] + k[ik]);
                    dq[iq] += gs * v[h] * (1.0 - e * e);
                    dk[ik] += gs * v[h] * (1.0 - e * e);
                    dv[h] += gs * e;
                }
            }
}

/* PyTorch's label-smoothed cross-entropy of one row, written from its definition:
 * (1-eps)(-log p_y) + eps/V sum_v (-log p_v); sets *logp = log p_y and grad = scale (p - q)
 * (grad may be NULL). Target 0 is ignored: loss 0, logp 0, grad 0. */
static double ref_xent_row(double *grad, double *logp, const double *z, int y, int V, double eps, double scale)
{
    if (y == 0) {
        *logp = 0.0;
        for (int v = 0; grad && v < V; v++)
            grad[v] = 0.0;
        return 0.0;
    }
    double m = z[0], sum = 0.0, smooth = 0.0;
    for (int v = 1; v < V; v++)
        m = fmax(m, z[v]);
    for (int v = 0; v < V; v++)
        sum += exp(z[v] - m);
    double lse = m + log(sum);
    for (int v = 0; v < V; v++)
        smooth += lse - z[v]; /* -log p_v */
    *logp = z[y] - lse;
    for (int v = 0; grad && v < V; v++)
        grad[v] = scale * (exp(z[v] - lse) - eps / V - (v == y ? 1.0 - eps : 0.0));
    return (1.0 - eps) * (lse - z[y]) + eps / V * smooth;
}

/* ---------------------------------------------------------------- elementwise ---- */

static void check_copy2d(tu_report *r)
{
    const int shapes[][4] = {{7, 13, 17, 20}, {1, 1, 1, 1}, {300, 100, 101, 230}, {5, 0, 3, 4}, {0, 4, 4, 4}};
    for (int c = 0; c < 5; c++) {
        int rows = shapes[c][0], cols = shapes[c][1], ld_src = shapes[c][2], ld_dst = shapes[c][3];
        size_t ns = (size_t)rows * ld_src, nd = (size_t)rows * ld_dst;
        float *src = frand(ns, -1, 1), *dst = fnan(nd);
        double *ref = dalloc((size_t)rows * cols);
        float *got = xmalloc((size_t)rows * cols * sizeof *got);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                ref[(size_t)i * cols + j] = src[(size_t)i * ld_src + j];
        baton_status st = be.ops->copy2d(&be, dst, ld_dst, src, ld_src, rows, cols);
        int pad_written = 0; /* columns cols..ld_dst-1 of dst must stay as they were (NaN) */
        for (int i = 0; i < rows; i++) {
            memcpy(got + (size_t)i * cols, dst + (size_t)i * ld_dst, (size_t)cols * sizeof *got);
            for (int j = cols; j < ld_dst; j++)
                pad_written += !isnan(dst[(size_t)i * ld_dst + j]);
        }
        char name[96];
        snprintf(name, sizeof name, "copy2d %dx%d, ld_src %d, ld_dst %d (exact, padding untouched)", rows, cols,
                 ld_src, ld_dst);
        double err = tu_max_abs(got, ref, (size_t)rows * cols);
        tu_check_abs(r, name, or_inf(st, pad_written ? INFINITY : err), 0.0);
        free(src), free(dst), free(ref), free(got);
    }
}

static void check_add_bias(tu_report *r)
{
    const int shapes[][2] = {{37, 19}, {1, 1}, {200, 130}};
    for (int c = 0; c < 3; c++) {
        int rows = shapes[c][0], cols = shapes[c][1];
        size_t n = (size_t)rows * cols;
        float *y = frand(n, -2, 2), *bias = frand((size_t)cols, -1, 1);
        double *ref = dalloc(n);
        for (size_t i = 0; i < n; i++)
            ref[i] = (double)y[i] + bias[i % (size_t)cols];
        baton_status st = be.ops->add_bias(&be, y, bias, rows, cols);
        char name[64];
        snprintf(name, sizeof name, "add_bias %dx%d", rows, cols);
        /* one float addition per element: within u = 6e-8 of the exact sum, so of the norm too */
        tu_check(r, name, or_inf(st, tu_rel_err(y, ref, n)), 1e-7);
        free(y), free(bias), free(ref);
    }
}

static void check_tanh(tu_report *r)
{
    const size_t sizes[] = {1, 10007}; /* 10007: odd, and more than one of the op's 4096-element blocks */
    for (int c = 0; c < 2; c++) {
        size_t n = sizes[c];
        float *x = frand(n, -6, 6), *y = fnan(n), *dy = frand(n, -1, 1), *dx = fnan(n);
        double *ref = dalloc(n), *dref = dalloc(n);
        for (size_t i = 0; i < n; i++)
            ref[i] = tanh((double)x[i]);
        char name[96];
        baton_status st;
        /* baton_tanh is within 2 ulp (test_cell_math), 2.4e-7 relative at most per element */
        snprintf(name, sizeof name, "tanh_forward n=%zu", n);
        st = be.ops->tanh_forward(&be, y, x, n);
        tu_check(r, name, or_inf(st, tu_rel_err(y, ref, n)), 3e-7);
        snprintf(name, sizeof name, "tanh_forward n=%zu in place", n);
        st = be.ops->tanh_forward(&be, x, x, n);
        tu_check(r, name, or_inf(st, tu_rel_err(x, ref, n)), 3e-7);
        /* backward from the float y the forward stored: (1 - y)(1 + y) and the product with dy
         * are within ~4 u = 2.4e-7 per element even where |y| -> 1: 5e-7 */
        for (size_t i = 0; i < n; i++)
            dref[i] = dy[i] * (1.0 - (double)x[i] * x[i]);
        snprintf(name, sizeof name, "tanh_backward n=%zu", n);
        st = be.ops->tanh_backward(&be, dx, dy, x, n);
        tu_check(r, name, or_inf(st, tu_rel_err(dx, dref, n)), 5e-7);
        snprintf(name, sizeof name, "tanh_backward n=%zu in place (dx = dy)", n);
        st = be.ops->tanh_backward(&be, dy, dy, x, n);
        tu_check(r, name, or_inf(st, tu_rel_err(dy, dref, n)), 5e-7);
        free(x), free(y), free(dy), free(dx), free(ref), free(dref);
    }
}

/* ---------------------------------------------------------------- attention softmax ---- */

typedef struct {
    int B, T, S;
    float lo, hi; /* score range */
    int lengths[8];
    const char *what;
} softmax_case;

/* Entries at s >= lengths[b] that are not exactly 0. */
static int masked_nonzero(const float *x, const int *lengths, int B, int T, int S)
{
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int s = lengths[b]; s < S; s++)
                bad += x[((size_t)b * T + t) * S + s] != 0.0f;
    return bad;
}

static void check_softmax(tu_report *r)
{
    const softmax_case cases[] = {
        {3, 5, 7, -3, 3, {7, 1, 4}, "odd sizes, lengths 7/1/4"},
        {1, 1, 1, -3, 3, {1}, "S=1, T=1"},
        {2, 1, 3000, -6, 6, {3000, 1777}, "long rows S=3000, lengths 3000/1777"},
        {4, 3, 33, -80, 80, {33, 1, 17, 32}, "scores in [-80, 80]"},
        {6, 9, 50, -4, 4, {50, 3, 1, 49, 25, 50}, "B=6, T=9, mixed lengths"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const softmax_case *k = &cases[c];
        int B = k->B, T = k->T, S = k->S;
        size_t n = (size_t)B * T * S;
        float *scores = frand(n, k->lo, k->hi), *p = fnan(n), *dp = frand(n, -1, 1), *ds = fnan(n);
        double *xd = to_double(scores, n), *ref = dalloc(n), *dref = dalloc(n);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                size_t off = ((size_t)b * T + t) * S;
                ref_softmax_row(ref + off, xd + off, k->lengths[b], S);
            }
        char name[160];
        baton_status st = be.ops->attn_softmax_forward(&be, p, scores, k->lengths, B, T, S);
        /* Per entry: the argument x - m (exact near the maximum, where the mass is), 2 ulp of exp,
         * one rounding each of the block sums (<= 256/lanes terms per float lane) and of the
         * scaling: a few u on the entries that carry the norm. 1e-6 leaves 5x room. Entries far
         * below the maximum err more in relative terms (rounding of x - m, the exp clamp at
         * e^-87), but they are below 1e-30 of the norm. */
        snprintf(name, sizeof name, "attn_softmax_forward %s (B=%d T=%d S=%d)", k->what, B, T, S);
        tu_check(r, name, or_inf(st, tu_rel_err(p, ref, n)), 1e-6);
        snprintf(name, sizeof name, "attn_softmax_forward %s: masked entries exactly 0 (count)", k->what);
        tu_check_abs(r, name, masked_nonzero(p, k->lengths, B, T, S), 0);

        /* backward from the float p the forward produced, referenced in double from the same p */
        for (size_t row = 0; row < n / S; row++) {
            double dot = 0.0;
            for (int s = 0; s < S; s++)
                dot += (double)p[row * S + s] * dp[row * S + s];
            for (int s = 0; s < S; s++)
                dref[row * S + s] = (double)p[row * S + s] * (dp[row * S + s] - dot);
        }
        st = be.ops->attn_softmax_backward(&be, ds, dp, p, B, T, S);
        /* The dot sums S terms (float within 256-blocks), then dp - dot may cancel: an absolute
         * error of a few u times max|dp| on each difference, relative to a norm of the same order
         * as |p||dp|: 1e-5 covers rows where dp - dot is systematically small. */
        snprintf(name, sizeof name, "attn_softmax_backward %s", k->what);
        tu_check(r, name, or_inf(st, tu_rel_err(ds, dref, n)), 1e-5);
        snprintf(name, sizeof name, "attn_softmax_backward %s: masked entries exactly 0 (count)", k->what);
        tu_check_abs(r, name, masked_nonzero(ds, k->lengths, B, T, S), 0);

        /* NaN (e.g. never-written memory) in dp at masked positions must not leak: dscores there is
         * 0 whatever dp holds, and the valid entries do not change */
        if (c == 0) {
            float *dp_nan = xmalloc(n * sizeof *dp_nan);
            memcpy(dp_nan, dp, n * sizeof *dp_nan);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    for (int s = k->lengths[b]; s < S; s++)
                        dp_nan[((size_t)b * T + t) * S + s] = NAN;
            tu_fill_nan(ds, n);
            st = be.ops->attn_softmax_backward(&be, ds, dp_nan, p, B, T, S);
            snprintf(name, sizeof name, "attn_softmax_backward %s, NaN in dp at masked positions", k->what);
            tu_check(r, name, or_inf(st, tu_rel_err(ds, dref, n)), 1e-5);
            free(dp_nan);
        }
        free(scores), free(p), free(dp), free(ds), free(xd), free(ref), free(dref);
    }

    /* NaN in a valid score must come out as NaN in its row, not be hidden by the max */
    {
        enum { S = 6 };
        const int len[1] = {4};
        float x[S] = {0.5f, NAN, -1.0f, 2.0f, 1.0f, 1.0f}, p[S];
        tu_fill_nan(p, S);
        baton_status st = be.ops->attn_softmax_forward(&be, p, x, len, 1, 1, S);
        int nan_valid = 0;
        for (int s = 0; s < len[0]; s++)
            nan_valid += isnan(p[s]) != 0;
        tu_check_abs(r, "attn_softmax_forward: NaN score propagates to its row (valid entries not NaN)",
                     st == BATON_OK ? len[0] - nan_valid : INFINITY, 0);
    }

    /* gradient against central differences of the double forward: J = sum w p, dp = w */
    {
        enum { B = 2, T = 2, S = 5 };
        const int len[B] = {5, 3};
        size_t n = (size_t)B * T * S;
        float *scores = frand(n, -2, 2), *w = frand(n, -1, 1), *p = fnan(n), *ds = fnan(n);
        double *x = to_double(scores, n), *fd = dalloc(n);
        const double h = 1e-4; /* truncation ~h^2 * |J'''| ~ 1e-8, rounding ~1e-16 / h = 1e-12 */
        for (size_t i = 0; i < n; i++) {
            double x0 = x[i];
            x[i] = x0 + h;
            double jp = ref_softmax_objective(x, w, len, B, T, S);
            x[i] = x0 - h;
            double jm = ref_softmax_objective(x, w, len, B, T, S);
            x[i] = x0;
            fd[i] = (jp - jm) / (2 * h);
        }
        baton_status st = be.ops->attn_softmax_forward(&be, p, scores, len, B, T, S);
        if (st == BATON_OK)
            st = be.ops->attn_softmax_backward(&be, ds, w, p, B, T, S);
        /* float forward and backward (a few u) against an FD error near 1e-8: 1e-5 */
        tu_check(r, "attn_softmax gradient vs central differences (B=2 T=2 S=5, lengths 5/3)",
                 or_inf(st, tu_rel_err(ds, fd, n)), 1e-5);
        free(scores), free(w), free(p), free(ds), free(x), free(fd);
    }
}

/* ---------------------------------------------------------------- additive scores ---- */

typedef struct {
    int B, T, S, H;
    int lengths[4]; /* dscores is zero at s >= length, as the softmax backward leaves it */
    const char *what;
} additive_case;

static void check_additive(tu_report *r)
{
    const additive_case cases[] = {
        {3, 5, 7, 9, {7, 1, 4}, "odd sizes"},
        {1, 1, 1, 1, {1}, "B=T=S=H=1"},
        {2, 4, 3, 70, {3, 1}, "H=70 (slices of 32 with a tail)"},
        {1, 2, 3000, 8, {3000}, "long source S=3000"},
        {4, 3, 5, 33, {5, 5, 2, 1}, "B=4, lengths 5/5/2/1"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const additive_case *k = &cases[c];
        int B = k->B, T = k->T, S = k->S, H = k->H;
        size_t nq = (size_t)T * B * H, nk = (size_t)S * B * H, ns = (size_t)B * T * S;
        float *q = frand(nq, -1.5f, 1.5f), *kk = frand(nk, -1.5f, 1.5f), *v = frand((size_t)H, -1, 1);
        float *scores = fnan(ns), *g = frand(ns, -1, 1), *dq = fnan(nq), *dk = fnan(nk);
        float *dv = frand((size_t)H, -1, 1);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int s = k->lengths[b]; s < S; s++)
                    g[((size_t)b * T + t) * S + s] = 0.0f;
        double *qd = to_double(q, nq), *kd = to_double(kk, nk), *vd = to_double(v, (size_t)H);
        double *sref = dalloc(ns), *dqref = dalloc(nq), *dkref = dalloc(nk), *dvref = dalloc((size_t)H);
        ref_additive(sref, qd, kd, vd, B, T, S, H);
        ref_additive_bwd(dqref, dkref, dvref, g, qd, kd, vd, B, T, S, H);
        for (int h = 0; h < H; h++)
            dvref[h] += dv[h]; /* the op accumulates onto what dv holds */

        char name[160];
        baton_status st = be.ops->additive_scores_forward(&be, scores, q, kk, v, B, T, S, H);
        /* Each score sums H terms v tanh(.) (tanh within 2 ulp) in float: an error of about
         * sqrt(H) u |v e| against a score whose typical size is also sqrt(H) |v e|, so a few u
         * over the norm; 2e-6 leaves room for scores that cancel. */
        snprintf(name, sizeof name, "additive_scores_forward %s (B=%d T=%d S=%d H=%d)", k->what, B, T, S, H);
        tu_check(r, name, or_inf(st, tu_rel_err(scores, sref, ns)), 2e-6);

        st = be.ops->additive_scores_backward(&be, dq, dk, dv, g, q, kk, v, B, T, S, H);
        /* dq sums S terms in float blocks of 64 (double across blocks), dk T <= 5 terms in float,
         * each term a few u from tanh and the products: a random-walk error of ~sqrt(64) u = 5e-7
         * at most, relative to sums of the same random-sign terms: 2e-6. dv is summed in double
         * and then holds one float rounding: 1e-6. */
        snprintf(name, sizeof name, "additive_scores_backward %s: dq", k->what);
        tu_check(r, name, or_inf(st, tu_rel_err(dq, dqref, nq)), 2e-6);
        snprintf(name, sizeof name, "additive_scores_backward %s: dk", k->what);
        tu_check(r, name, or_inf(st, tu_rel_err(dk, dkref, nk)), 2e-6);
        snprintf(name, sizeof name, "additive_scores_backward %s: dv (accumulated)", k->what);
        tu_check(r, name, or_inf(st, tu_rel_err(dv, dvref, (size_t)H)), 1e-6);
        free(q), free(kk), free(v), free(scores), free(g), free(dq), free(dk), free(dv);
        free(qd), free(kd), free(vd), free(sref), free(dqref), free(dkref), free(dvref);
    }

    /* gradients against central differences of the double forward: J = sum w scores, dscores = w */
    {
        enum { B = 2, T = 3, S = 4, H = 5 };
        size_t nq = (size_t)T * B * H, nk = (size_t)S * B * H, ns = (size_t)B * T * S;
        float *q = frand(nq, -1.5f, 1.5f), *kk = frand(nk, -1.5f, 1.5f), *v = frand(H, -1, 1);
        float *w = frand(ns, -1, 1), *dq = fnan(nq), *dk = fnan(nk), *dv = xmalloc(H * sizeof *dv);
        memset(dv, 0, H * sizeof *dv);
        double *qd = to_double(q, nq), *kd = to_double(kk, nk), *vd = to_double(v, H), *sc = dalloc(ns);
        double *fdq = dalloc(nq), *fdk = dalloc(nk), *fdv = dalloc(H);
        double *params[3] = {qd, kd, vd}, *fds[3] = {fdq, fdk, fdv};
        size_t sizes[3] = {nq, nk, H};
        const double h = 1e-5; /* truncation ~h^2 = 1e-10, rounding ~1e-16 / h = 1e-11 */
        for (int a = 0; a < 3; a++)
            for (size_t i = 0; i < sizes[a]; i++) {
                double x0 = params[a][i], jp = 0.0, jm = 0.0;
                params[a][i] = x0 + h;
                ref_additive(sc, qd, kd, vd, B, T, S, H);
                for (size_t j = 0; j < ns; j++)
                    jp += w[j] * sc[j];
                params[a][i] = x0 - h;
                ref_additive(sc, qd, kd, vd, B, T, S, H);
                for (size_t j = 0; j < ns; j++)
                    jm += w[j] * sc[j];
                params[a][i] = x0;
                fds[a][i] = (jp - jm) / (2 * h);
            }
        baton_status st = be.ops->additive_scores_backward(&be, dq, dk, dv, w, q, kk, v, B, T, S, H);
        /* float sums of at most 12 terms against an FD error near 1e-10: 1e-5 */
        tu_check(r, "additive_scores gradient dq vs central differences", or_inf(st, tu_rel_err(dq, fdq, nq)), 1e-5);
        tu_check(r, "additive_scores gradient dk vs central differences", or_inf(st, tu_rel_err(dk, fdk, nk)), 1e-5);
        tu_check(r, "additive_scores gradient dv vs central differences", or_inf(st, tu_rel_err(dv, fdv, H)), 1e-5);
        free(q), free(kk), free(v), free(w), free(dq), free(dk), free(dv);
        free(qd), free(kd), free(vd), free(sc), free(fdq), free(fdk), free(fdv);
    }
}

/* ---------------------------------------------------------------- cross-entropy ---- */

enum { DL_SEPARATE, DL_IN_PLACE, DL_NULL };

typedef struct {
    int N, V;
    float eps, lo, hi; /* logits range */
    int dlogits;       /* DL_* */
    int with_logp;
    int all_ignored;
    const char *what;
} xent_case;

/* Targets in [1, V) from a random stream, with every third row (from row 1) ignored (0). */
static int *make_targets(int N, int V, int all_ignored)
{
    int *y = xmalloc((size_t)N * sizeof *y);
    float *u = frand((size_t)N, 0, 1);
    for (int i = 0; i < N; i++) {
        int t = 1 + (int)(u[i] * (float)(V - 1));
        y[i] = all_ignored || i % 3 == 1 ? 0 : t < V ? t : V - 1;
    }
    free(u);
    return y;
}

static void check_xent(tu_report *r)
{
    const xent_case cases[] = {
        {9, 7, 0.0f, -3, 3, DL_SEPARATE, 1, 0, "V=7, eps=0"},
        {9, 7, 0.1f, -3, 3, DL_SEPARATE, 1, 0, "V=7, eps=0.1"},
        {5, 32000, 0.1f, -8, 8, DL_IN_PLACE, 1, 0, "V=32000, eps=0.1, dlogits = logits"},
        {6, 101, 0.1f, -4, 4, DL_NULL, 0, 0, "V=101, eps=0.1, dlogits and logp NULL"},
        {7, 50, 0.1f, 995, 1005, DL_SEPARATE, 1, 0, "logits near 1000, eps=0.1"},
        {1, 3, 0.0f, -1, 1, DL_SEPARATE, 1, 0, "N=1, V=3"},
        {3, 11, 0.1f, -2, 2, DL_SEPARATE, 1, 1, "all rows ignored"},
        {40, 300, 0.1f, -5, 5, DL_SEPARATE, 1, 0, "N=40, V=300"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const xent_case *k = &cases[c];
        int N = k->N, V = k->V;
        size_t n = (size_t)N * V;
        float *logits = frand(n, k->lo, k->hi);
        int *y = make_targets(N, V, k->all_ignored);
        int kept = 0;
        for (int i = 0; i < N; i++)
            kept += y[i] != 0;
        float scale = kept ? 1.0f / (float)kept : 1.0f; /* the mean over non-pad tokens */
        double *zd = to_double(logits, n), *gref = dalloc(n), *lpref = dalloc((size_t)N), loss_ref = 0.0;
        for (int i = 0; i < N; i++)
            loss_ref += ref_xent_row(gref + (size_t)i * V, lpref + i, zd + (size_t)i * V, y[i], V, k->eps, scale);
        float loss = NAN, *logp = k->with_logp ? fnan((size_t)N) : NULL;
        float *dl = k->dlogits == DL_SEPARATE ? fnan(n) : k->dlogits == DL_IN_PLACE ? logits : NULL;
        baton_status st = be.ops->xent_forward_backward(&be, &loss, logp, dl, NULL, logits, y, N, V, k->eps, &scale);

        char name[160];
        /* Each row loss is assembled in float from terms >= 0 (no cancellation): logf of the
         * exp-sum (1 ulp, plus the sum's few u), m - z_y and the mean of m - z_v (double-summed
         * float blocks); the rows are added in double. A few u in all: 1e-6. When every row is
         * ignored the reference is 0 and rel err demands exactly 0. */
        snprintf(name, sizeof name, "xent %s (N=%d): loss_sum", k->what, N);
        tu_check(r, name, or_inf(st, tu_rel_err(&loss, &loss_ref, 1)), 1e-6);
        if (logp) {
            /* log p_y = (z_y - m) - log_sum: both exact or within an ulp or two, and of one sign */
            snprintf(name, sizeof name, "xent %s: logp", k->what);
            tu_check(r, name, or_inf(st, tu_rel_err(logp, lpref, (size_t)N)), 1e-6);
        }
        if (dl) {
            /* scale (e^(z-m) / sum - q): exp within 2 ulp, the sum a few u, one subtraction that
             * cancels only where p_v is close to q_v, which does not dominate the norm: 1e-6 */
            snprintf(name, sizeof name, "xent %s: dlogits", k->what);
            tu_check(r, name, or_inf(st, tu_rel_err(dl, gref, n)), 1e-6);
        }
        int bad = 0; /* ignored rows: gradient and logp exactly 0 */
        for (int i = 0; i < N; i++)
            if (y[i] == 0) {
                bad += logp && logp[i] != 0.0f;
                for (int v = 0; dl && v < V; v++)
                    bad += dl[(size_t)i * V + v] != 0.0f;
            }
        snprintf(name, sizeof name, "xent %s: ignored rows exactly 0 (count)", k->what);
        tu_check_abs(r, name, st == BATON_OK ? bad : INFINITY, 0);
        free(logits), free(y), free(zd), free(gref), free(lpref), free(logp);
        if (k->dlogits == DL_SEPARATE)
            free(dl);
    }

    /* a NaN logit in a counted row must reach the loss */
    {
        float z[8] = {0.1f, 0.2f, NAN, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f}, loss = 0.0f;
        const int y[2] = {1, 3};
        baton_status st = be.ops->xent_forward_backward(&be, &loss, NULL, NULL, NULL, z, y, 2, 4, 0.1f, &(float){1.0f});
        tu_check_abs(r, "xent: NaN logit propagates to loss_sum", st == BATON_OK && isnan(loss) ? 0 : INFINITY, 0);
    }

    /* gradient against central differences of the double loss: J = scale sum_rows loss */
    for (int e = 0; e < 2; e++) {
        enum { N = 4, V = 6 };
        const int y[N] = {2, 0, 5, 1};
        const double eps = e ? 0.1 : 0.0, scale = 0.5;
        size_t n = (size_t)N * V;
        float *z = frand(n, -2, 2), *dl = fnan(n), loss = NAN;
        double *zd = to_double(z, n), *fd = dalloc(n), lp;
        const double h = 1e-5; /* truncation ~h^2 = 1e-10, rounding ~1e-16 / h = 1e-11 */
        for (size_t i = 0; i < n; i++) {
            double x0 = zd[i], jp = 0.0, jm = 0.0;
            for (int sgn = 0; sgn < 2; sgn++) {
                zd[i] = sgn ? x0 - h : x0 + h;
                double J = 0.0;
                for (int row = 0; row < N; row++)
                    J += scale * ref_xent_row(NULL, &lp, zd + (size_t)row * V, y[row], V, eps, scale);
                *(sgn ? &jm : &jp) = J;
            }
            zd[i] = x0;
            fd[i] = (jp - jm) / (2 * h);
        }
        baton_status st = be.ops->xent_forward_backward(&be, &loss, NULL, dl, NULL, z, y, N, V, (float)eps, &(float){(float)scale});
        char name[96];
        /* the float gradient (a few u) against an FD error near 1e-10: 1e-5 */
        snprintf(name, sizeof name, "xent gradient vs central differences (N=4 V=6, one ignored, eps=%g)", eps);
        tu_check(r, name, or_inf(st, tu_rel_err(dl, fd, n)), 1e-5);
        free(z), free(dl), free(zd), free(fd);
    }
}

/* ---------------------------------------------------------------- arguments ---- */

static void check_refusals(tu_report *r)
{
    float x[12] = {0}, p[12], loss;
    const int len0[2] = {3, 0}, len_big[2] = {3, 7}, y_big[2] = {1, 4}, y_neg[2] = {-1, 1};
    fprintf(stderr, "(the next four errors are expected)\n");
    tu_check_abs(r, "attn_softmax_forward refuses length 0",
                 be.ops->attn_softmax_forward(&be, p, x, len0, 2, 2, 3) == BATON_ERR_INVALID ? 0 : 1, 0);
    tu_check_abs(r, "attn_softmax_forward refuses length > S",
                 be.ops->attn_softmax_forward(&be, p, x, len_big, 2, 2, 3) == BATON_ERR_INVALID ? 0 : 1, 0);
    tu_check_abs(r, "xent refuses target >= V",
                 be.ops->xent_forward_backward(&be, &loss, NULL, NULL, NULL, x, y_big, 2, 4, 0.0f, &(float){1.0f}) == BATON_ERR_INVALID
                     ? 0 : 1, 0);
    tu_check_abs(r, "xent refuses a negative target",
                 be.ops->xent_forward_backward(&be, &loss, NULL, NULL, NULL, x, y_neg, 2, 4, 0.0f, &(float){1.0f}) == BATON_ERR_INVALID
                     ? 0 : 1, 0);
}

/* ---------------------------------------------------------------- thread counts ---- */

#if BATON_HAVE_OPENMP
/* Runs every threaded op at a size above the parallel threshold into out (which it fills, in a
 * fixed order); the caller compares the bytes across thread counts. */
static size_t run_all(float *out, const float *in, const int *lengths, const int *targets)
{
    enum { B = 8, T = 16, S = 200, H = 96, V = 1000, N = 64, NT = 100003 };
    size_t o = 0, nsc = (size_t)B * T * S;
    be.ops->attn_softmax_forward(&be, out + o, in, lengths, B, T, S);
    be.ops->attn_softmax_backward(&be, out + o + nsc, in + nsc, out + o, B, T, S);
    o += 2 * nsc;
    /* additive: q (T,B,H) and k (S,B,H) from in, dscores = in too (any values serve) */
    int Sa = 16;
    size_t nq = (size_t)T * B * H, nk = (size_t)Sa * B * H, na = (size_t)B * T * Sa;
    be.ops->additive_scores_forward(&be, out + o, in, in + nq, in + nq + nk, B, T, Sa, H);
    o += na;
    memset(out + o + nq + nk, 0, H * sizeof *out);
    be.ops->additive_scores_backward(&be, out + o, out + o + nq, out + o + nq + nk, in, in + 1, in + 2, in + 3, B, T,
                                     Sa, H);
    o += nq + nk + H;
    be.ops->xent_forward_backward(&be, out + o, out + o + 1, out + o + 1 + N, NULL, in, targets, N, V, 0.1f, &(float){0.01f});
    o += 1 + N + (size_t)N * V;
    be.ops->tanh_forward(&be, out + o, in, NT);
    o += NT;
    return o;
}

static void check_thread_counts(tu_report *r)
{
    enum { IN = 200000, OUT = 2 * 8 * 16 * 200 + 8 * 16 * 16 + 16 * 8 * 96 + 16 * 8 * 96 + 96 + 1 + 64 + 64 * 1000 +
                              100003 };
    float *in = frand(IN, -3, 3), *a = fnan(OUT), *b = fnan(OUT);
    int lengths[8] = {200, 1, 57, 199, 200, 3, 100, 150}, *targets = make_targets(64, 1000, 0);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    size_t n1 = run_all(a, in, lengths, targets);
    omp_set_num_threads(4);
    size_t n4 = run_all(b, in, lengths, targets);
    omp_set_num_threads(saved);
    size_t differ = 0;
    for (size_t i = 0; i < n1 && n1 == n4 && n1 == OUT; i++)
        differ += memcmp(&a[i], &b[i], sizeof *a) != 0;
    tu_check_abs(r, "softmax, additive, xent, tanh: same bits on 1 and 4 threads (differing count)",
                 n1 == n4 && n1 == OUT ? (double)differ : INFINITY, 0);
    free(in), free(a), free(b), free(targets);
}
#endif

int main(void)
{
    tu_report r = {0, 0};
    if (baton_cpu_backend_create(&be, 0) != BATON_OK)
        return 1;
    check_copy2d(&r);
    check_add_bias(&r);
    check_tanh(&r);
    check_softmax(&r);
    check_additive(&r);
    check_xent(&r);
    check_refusals(&r);
#if BATON_HAVE_OPENMP
    check_thread_counts(&r);
#endif
    baton_backend_destroy(&be);
    return tu_summary(&r, "cpu nn ops");
}
