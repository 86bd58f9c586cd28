/* cpu_screen.c: greedy decoding's generator argmax without most of its logits (ops->generator_argmax).
 *
 * What: idx[i] = argmax_v of x_i W^T + b + mask for the generator's W (V, H) and b (V) while the
 * weights are frozen (a translator decoding). Greedy decoding wants that id alone, and the generator
 * is half of a decoder step's products (Multi30k model: 2.0 M of 4.1 M multiply-adds per row).
 *
 * How: a bound per logit. With P (k, H) orthonormal rows, w.x = (Pw).(Px) + r_w.r_x (r: the parts
 * outside P's span), and |r_w.r_x| <= |r_w| |r_x|. So t_v = (P w_v).(P x) + b_v is within
 * s_v = |r_x| |r_w_v| of each logit (plus the margin below); a v whose upper bound t_v + s_v is
 * below the largest lower bound max_u (t_u - s_u) cannot be the argmax. The others (the candidates)
 * are computed in full, x.w_v + b_v in fp32, and the first largest wins, as argmax_rows. Cost per
 * row: k/H of the generator for t, two passes over V for the bounds, and H per candidate.
 *
 * P: the k = H/2 principal directions of the generator's inputs, fitted on the first CALIB_ROWS
 * rows of the frozen period (those rows run in full): their second moment sum x x^T, then subspace
 * iteration (ITERS products with it, Gram-Schmidt in double after each). Any orthonormal P gives
 * the same ids; a good one only gives fewer candidates. On the Multi30k model (H = 512, V = 3981)
 * k = 256 leaves 12 candidates per row on test2016 (k = 192: 81), 0.50 of the generator's products
 * in all; bench/generator_screen.py measures the trade on any model.
 *
 * Margin: t is computed in fp32 from Px (a K = H product) and P w (the same): each is off by at
 * most E |x| with E = sqrt(k) gamma_H (gamma_n = n u / (1 - n u), u = 2^-24), and the logits the
 * full path compares carry gamma_H |x||w| of rounding. s_v therefore adds MARGIN_SCALE (2E +
 * 2 gamma_H) |x||w_v| + 4u (|t_v| + 2 |b_v|), and |r_x|, |r_w| come from |x|^2 - |Px|^2 +
 * 2 |Px| E |x| (the largest the true residual can be given the rounded Px). The rounding of P itself to fp32 moves
 * w.x by about u sqrt(k) |x||w|, inside the same margin. The ids are the full path's up to near-ties
 * within fp32 rounding, where the two orders of summation may pick different ones.
 *
 * When it does not pay (an untrained model, a small H or V), it turns itself off: H < MIN_H or
 * V < MIN_V never screen, and after PROBE_ROWS screened rows a modelled cost ((k + 1) / H + the
 * candidates' share of V) above OFF_COST sends the rest of the frozen period to the full path.
 * Rows whose bounds are not numbers (NaN, Inf in x) are computed in full. A basis whose rows are not
 * orthonormal within E / (4k) (check_basis) turns it off too. Results do not depend on the thread
 * count: every row's work is its own. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

#define CALIB_ROWS 4096   /* generator inputs that fit the basis: about 4 batches of 64 rows */
#define ITERS 8           /* subspace iterations: the basis's quality only moves the candidate count */
#define MIN_H 128         /* below this k/H buys too little */
#define MIN_V 1024        /* below this the bounds' passes over V cost as much as the products save */
#define PROBE_ROWS 512    /* screened rows before the cost is judged */
#define OFF_COST 0.85     /* modelled share of the full generator's work above which the screen turns off */
#define MARGIN_SCALE 2.0  /* the rounding bounds above, doubled */
#define CAND_BATCH 16     /* candidate rows prefetched before they are multiplied: about 12 per row on Multi30k */

enum { CALIBRATING, SCREENING, OFF };

struct cpu_screen {
    const float *w, *b; /* the generator's W (V, H) and b (V), in the frozen range */
    int V, H, k, state;
    float *cov;        /* (H, H) sum of x x^T over the calibration rows */
    long calib_rows;
    float *p;          /* (k, H) the basis, orthonormal rows */
    float *wp;         /* (V, k) W P^T */
    float *rw, *wn;    /* (V) bounds on |r_w_v|, and |w_v| */
    float *bu;         /* (V) 8u |b_v|: the rounding of adding b, in the slack */
    float *xp;         /* (rows, k) x P^T; t (rows, V) goes to the op's scratch */
    int *cands;        /* (rows) candidates per row */
    int cap;           /* rows xp and cands hold */
    long screened, candidates;
    double err;        /* E: relative error bound of a projection */
};

void baton_cpu_screen_free(cpu_screen *s)
{
    if (!s)
        return;
    free(s->cov), free(s->p), free(s->wp), free(s->rw), free(s->wn), free(s->bu), free(s->xp), free(s->cands);
    free(s);
}

static double gamma_n(int n)
{
    double u = 0.5 * FLT_EPSILON;
    return n * u / (1.0 - n * u);
}

BATON_CPU_CLONES
static double norm2(const float *a, int n)
{
    double d = 0.0;
    BATON_OMP_PRAGMA(omp simd reduction(+ : d))
    for (int i = 0; i < n; i++)
        d += (double)a[i] * a[i];
    return d;
}

/* The largest |r| can be for a vector of norm xn whose computed projection has norm pn. */
static double residual_bound(double xn, double pn, double err)
{
    double r2 = xn * xn - pn * pn + 2.0 * pn * err * xn;
    return r2 > 0.0 ? sqrt(r2) : 0.0;
}

static baton_status grow(cpu_screen *s, int rows)
{
    if (rows <= s->cap)
        return BATON_OK;
    float *xp = realloc(s->xp, (size_t)rows * s->k * sizeof(float));
    int *cands = xp ? realloc(s->cands, (size_t)rows * sizeof(int)) : NULL;
    if (xp)
        s->xp = xp;
    if (!xp || !cands)
        return BATON_ERROR(BATON_ERR_OOM, "greedy screen: out of memory for %d rows", rows);
    s->cands = cands;
    s->cap = rows;
    return BATON_OK;
}

static baton_status screen_make(cpu_screen **slot, const float *w, const float *b, int V, int H)
{
    cpu_screen *s = calloc(1, sizeof *s);
    if (!s)
        return BATON_ERROR(BATON_ERR_OOM, "greedy screen: out of memory");
    *slot = s;
    s->w = w, s->b = b, s->V = V, s->H = H, s->k = (H / 2 + 7) / 8 * 8;
    s->state = H >= MIN_H && V >= MIN_V ? CALIBRATING : OFF;
    s->err = sqrt((double)s->k) * gamma_n(H);
    if (s->state == OFF)
        return BATON_OK;
    s->cov = calloc((size_t)H * H, sizeof(float));
    return s->cov ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "greedy screen: out of memory for a %d x %d moment", H, H);
}

BATON_CPU_CLONES
static double dot_d(const double *a, const float *b, int n)
{
    double d = 0.0;
    BATON_OMP_PRAGMA(omp simd reduction(+ : d))
    for (int i = 0; i < n; i++)
        d += a[i] * b[i];
    return d;
}

/* Each row of q (n rows of H) minus its projections on the rows before it (`passes` times: twice
 * keeps them orthogonal to working precision), then normalised; in double. A row that vanishes
 * stays zero, and check_basis turns the screen off. */
static void orthonormalise(float *q, int n, int H, double *row, int passes)
{
    for (int i = 0; i < n; i++) {
        float *qi = q + (size_t)i * H;
        for (int h = 0; h < H; h++)
            row[h] = qi[h];
        for (int pass = 0; pass < passes; pass++)
            for (int j = 0; j < i; j++) {
                const float *qj = q + (size_t)j * H;
                double d = dot_d(row, qj, H);
                for (int h = 0; h < H; h++)
                    row[h] -= d * qj[h];
            }
        double nn = 0.0;
        for (int h = 0; h < H; h++)
            nn += row[h] * row[h];
        double inv = nn > 0.0 ? 1.0 / sqrt(nn) : 0.0;
        for (int h = 0; h < H; h++)
            qi[h] = (float)(row[h] * inv);
    }
}

/* Is P P^T within tol of the identity, entry by entry (in double)? The bound needs orthonormal
 * rows: |P P^T - I| <= tol = E / (4k) moves no norm by more than E / 4, inside the margin. */
static int check_basis(const float *p, int k, int H, double tol, double *row)
{
    for (int i = 0; i < k; i++) {
        for (int h = 0; h < H; h++)
            row[h] = p[(size_t)i * H + h];
        for (int j = 0; j <= i; j++)
            if (fabs(dot_d(row, p + (size_t)j * H, H) - (i == j)) > tol)
                return 0;
    }
    return 1;
}

/* W P^T, and per row of W its norm and the bound on its residual. */
static baton_status project_weights(baton_backend *be, cpu_screen *s)
{
    int H = s->H, k = s->k, V = s->V;
    BATON_TRY(be->ops->gemm(be, 0, 1, V, k, H, 1.0f, s->w, H, s->p, H, 0.0f, s->wp, k));
    for (int v = 0; v < V; v++) {
        double wn = sqrt(norm2(s->w + (size_t)v * H, H)), pn = sqrt(norm2(s->wp + (size_t)v * k, k));
        s->wn[v] = (float)wn * (1.0f + FLT_EPSILON);
        s->rw[v] = (float)residual_bound(wn, pn, s->err) * (1.0f + FLT_EPSILON);
        s->bu[v] = 4.0f * FLT_EPSILON * fabsf(s->b[v]);
    }
    return BATON_OK;
}

/* The basis from the calibration moment by subspace iteration from a fixed start, then W's side of
 * the bounds; the screen screens from now on, or is off when the basis is not orthonormal. */
static baton_status fit(baton_backend *be, cpu_screen *s)
{
    int H = s->H, k = s->k, V = s->V;
    s->p = malloc((size_t)k * H * sizeof(float));
    s->wp = malloc((size_t)V * k * sizeof(float));
    s->rw = malloc((size_t)V * sizeof(float));
    s->wn = malloc((size_t)V * sizeof(float));
    s->bu = malloc((size_t)V * sizeof(float));
    float *z = malloc((size_t)k * H * sizeof(float));
    double *row = malloc((size_t)H * sizeof(double));
    baton_status st = s->p && s->wp && s->rw && s->wn && s->bu && z && row
                          ? BATON_OK
                          : BATON_ERROR(BATON_ERR_OOM, "greedy screen: out of memory for a basis of %d x %d", k, H);
    uint32_t seed = 2463534242u; /* xorshift32: the same start, hence the same basis, on every run */
    for (size_t i = 0; st == BATON_OK && i < (size_t)k * H; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        s->p[i] = (float)seed / 4294967296.0f - 0.5f;
    }
    for (int it = 0; st == BATON_OK && it <= ITERS; it++) {
        if (it) { /* the rows of p times the moment (symmetric): z = p cov */
            st = be->ops->gemm(be, 0, 0, k, H, H, 1.0f, s->p, H, s->cov, H, 0.0f, z, H);
            memcpy(s->p, z, (size_t)k * H * sizeof(float));
        }
        orthonormalise(s->p, k, H, row, it == ITERS ? 2 : 1);
    }
    int ok = st == BATON_OK && check_basis(s->p, k, H, s->err / (4.0 * k), row);
    if (ok)
        st = project_weights(be, s);
    free(z), free(row);
    free(s->cov);
    s->cov = NULL;
    s->state = ok && st == BATON_OK ? SCREENING : OFF;
    return st;
}

/* Every logit of the rows into `logits`, then argmax_rows. */
static baton_status logits_argmax(baton_backend *be, const cpu_screen *s, int *idx, float *logits, const float *x,
                                  const float *mask, int rows)
{
    int V = s->V, H = s->H;
    BATON_TRY(be->ops->gemm(be, 0, 1, rows, V, H, 1.0f, x, H, s->w, H, 0.0f, logits, V));
    BATON_TRY(baton_cpu_add_bias(be, logits, s->b, rows, V));
    if (mask)
        BATON_TRY(baton_cpu_add_bias(be, logits, mask, rows, V));
    return baton_cpu_argmax_rows(be, idx, logits, rows, V);
}

/* The full path; while calibrating, the rows join the moment. */
static baton_status full(baton_backend *be, cpu_screen *s, int *idx, float *logits, const float *x,
                         const float *mask, int rows)
{
    int H = s->H;
    BATON_TRY(logits_argmax(be, s, idx, logits, x, mask, rows));
    if (s->state != CALIBRATING)
        return BATON_OK;
    BATON_TRY(be->ops->gemm(be, 1, 0, H, H, rows, 1.0f, x, H, x, H, 1.0f, s->cov, H));
    s->calib_rows += rows;
    return s->calib_rows >= CALIB_ROWS ? fit(be, s) : BATON_OK;
}

BATON_CPU_CLONES
static float dot(const float *a, const float *b, int n)
{
    float d = 0.0f;
    BATON_OMP_PRAGMA(omp simd reduction(+ : d))
    for (int i = 0; i < n; i++)
        d += a[i] * b[i];
    return d;
}

/* The candidates c[0..n) of one row in full, in order: the first largest wins, as argmax_rows. */
static void candidates_argmax(const cpu_screen *s, int *arg, float *top, const float *x, const float *mask,
                              const int *c, int n)
{
    for (int i = 0; i < n; i++) {
        int v = c[i];
        float f = dot(x, s->w + (size_t)v * s->H, s->H) + s->b[v];
        if (mask)
            f += mask[v];
        if (*arg < 0 || f > *top)
            *top = f, *arg = v;
    }
}

/* Row x's argmax from t (V) = (P x).(P w_v), overwritten with each logit's upper bound: the
 * candidates computed in full; returns their count, 0 when the bounds are not numbers (the caller
 * then computes the row in full). The slack of v is rx |r_w_v| + c |w_v| + 4u (|t_v| + 2 |b_v|):
 * the bound, the products' rounding, and that of the two additions. The bounds run in one
 * vectorised pass (a ternary max, not fmaxf, which compilers call rather than inline); a candidate's
 * W row, scattered in a matrix larger than L2, is prefetched when the scan finds it and multiplied
 * when CAND_BATCH of them are in flight or the scan ends. */
BATON_CPU_CLONES
static int screen_row(const cpu_screen *s, int *best, const float *x, float *t, const float *xp, const float *mask)
{
    int V = s->V, H = s->H;
    const float *b = s->b, *rw = s->rw, *wn = s->wn, *bu = s->bu;
    double xn = sqrt(norm2(x, H));
    float rx = (float)residual_bound(xn, sqrt(norm2(xp, s->k)), s->err) * (1.0f + FLT_EPSILON);
    float c = (float)(MARGIN_SCALE * (2.0 * s->err + 2.0 * gamma_n(H)) * xn), u4 = 2.0f * FLT_EPSILON;
    if (!isfinite(rx) || !isfinite(c))
        return 0;
    if (mask) {
        BATON_OMP_PRAGMA(omp simd)
        for (int v = 0; v < V; v++)
            t[v] += mask[v];
    }
    float low = -INFINITY;
    BATON_OMP_PRAGMA(omp simd reduction(max : low))
    for (int v = 0; v < V; v++) {
        float tv = t[v] + b[v], slack = rx * rw[v] + c * wn[v] + u4 * fabsf(tv) + bu[v], lo = tv - slack;
        t[v] = tv + slack;
        low = lo > low ? lo : low; /* a NaN lo leaves low alone, as fmaxf would */
    }
    if (!isfinite(low))
        return 0;
    int n = 0, arg = -1, cand[CAND_BATCH], held = 0;
    float top = 0.0f;
    for (int v = 0; v < V; v++) {
        if (t[v] < low) /* a NaN bound stays a candidate */
            continue;
        const char *row = (const char *)(s->w + (size_t)v * H);
        for (size_t at = 0; at < (size_t)H * sizeof(float); at += 64)
            __builtin_prefetch(row + at);
        cand[held++] = v;
        n++;
        if (held == CAND_BATCH)
            candidates_argmax(s, &arg, &top, x, mask, cand, held), held = 0;
    }
    candidates_argmax(s, &arg, &top, x, mask, cand, held);
    *best = arg;
    return arg < 0 ? 0 : n;
}

/* t (rows, V) = (x P^T) (W P^T)^T: packed panels while frozen, else sgemm. */
static baton_status bounds_products(baton_backend *be, cpu_screen *s, float *xp, float *t, const float *x, int rows)
{
    int H = s->H, k = s->k, V = s->V;
    if (!baton_cpu_frozen_gemm_owned(be, rows, k, H, x, H, s->p, xp, k))
        BATON_TRY(be->ops->gemm(be, 0, 1, rows, k, H, 1.0f, x, H, s->p, H, 0.0f, xp, k));
    if (!baton_cpu_frozen_gemm_owned(be, rows, V, k, xp, k, s->wp, t, V))
        BATON_TRY(be->ops->gemm(be, 0, 1, rows, V, k, 1.0f, xp, k, s->wp, k, 0.0f, t, V));
    return BATON_OK;
}

static baton_status screened(baton_backend *be, cpu_screen *s, int *idx, float *t, const float *x, const float *mask,
                             int rows)
{
    int H = s->H, k = s->k, V = s->V;
    BATON_TRY(grow(s, rows));
    float *xp = s->xp;
    BATON_TRY(bounds_products(be, s, xp, t, x, rows));
    long work = (long)rows * V * 4;
    BATON_PARALLEL_FOR
    for (int i = 0; i < rows; i++) {
        s->cands[i] = screen_row(s, &idx[i], x + (size_t)i * H, t + (size_t)i * V, xp + (size_t)i * k, mask);
    }
    for (int i = 0; i < rows; i++) {
        if (s->cands[i] == 0) { /* bounds that are not numbers: this row in full */
            BATON_TRY(logits_argmax(be, s, &idx[i], t + (size_t)i * V, x + (size_t)i * H, mask, 1));
            s->cands[i] = V;
        }
        s->candidates += s->cands[i];
    }
    s->screened += rows;
    double cost = (double)(k + 1) / H + (double)s->candidates / ((double)s->screened * V);
    if (s->screened >= PROBE_ROWS && cost > OFF_COST)
        s->state = OFF;
    return BATON_OK;
}

baton_status baton_cpu_generator_argmax(baton_backend *be, int *idx, float *scratch, const float *x, const float *w,
                                        const float *b, const float *mask, int rows, int V, int K)
{
    BATON_REQUIRE(rows >= 0 && V >= 1 && K >= 1, "generator argmax: %d rows, V = %d, K = %d; expected rows >= 0, "
                  "V and K >= 1", rows, V, K);
    cpu_screen **slot = be->precision == BATON_PRECISION_FP32 ? baton_cpu_frozen_screen(be) : NULL;
    if (slot && *slot && ((*slot)->w != w || (*slot)->b != b || (*slot)->V != V || (*slot)->H != K)) {
        baton_cpu_screen_free(*slot); /* another generator in the same frozen range: start over */
        *slot = NULL;
    }
    if (slot && !*slot)
        BATON_TRY(screen_make(slot, w, b, V, K));
    cpu_screen none = {.w = w, .b = b, .V = V, .H = K, .state = OFF}, *s = slot ? *slot : &none;
    if (rows == 0)
        return BATON_OK;
    return s->state == SCREENING ? screened(be, s, idx, scratch, x, mask, rows)
                                 : full(be, s, idx, scratch, x, mask, rows);
}
