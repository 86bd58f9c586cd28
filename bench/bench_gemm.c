/* bench_gemm.c: baton-bench-gemm, the fp32 matrix products of a training step timed in each CPU
 * library that could run them: OpenBLAS (what the CPU backend calls), oneDNN's dnnl_sgemm where the
 * build has oneDNN, and BLIS where --blis names its shared library. It answers one question before
 * anyone wires a library into src/cpu/: would the products of a step run faster there?
 *
 * The shapes are those of a `baton bench train` configuration (--config), each product of the step
 * that is not per time step: the generator's forward and both of its gradients, the decoder's and
 * the encoder's input projections with theirs, and the attention's output layer; plus the per-step
 * recurrent product h W_hh^T at M = B (the `cpurnn=sgemm` version's shape). --shapes replaces them.
 * Each library runs with its own threads (--threads); each product is timed alone, the median of
 * --reps after a warm-up call, in --rounds rounds of ABBA order, on the same random operands for
 * every library; C is checked against OpenBLAS's C (relative max error), so that a transpose passed
 * wrongly cannot look fast.
 *
 * BLIS is loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND): it exports the same cblas_ and BLAS
 * symbols as OpenBLAS, and must neither take OpenBLAS's place in this process nor call into it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baton/bench.h"
#include "baton/rng.h"
#include "baton_config.h"
/* after baton's headers: OpenBLAS's cblas.h brings complex.h, whose macro I is a name in recur.h */
#include <cblas.h>
#if BATON_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

#define PROG "baton-bench-gemm"
#define MAX_SHAPES 32
#define MAX_REPS 101
#define MAX_ROUNDS 15
#define MAX_LIBS 3
#define SEED 20261207u

typedef struct {
    char name[32];
    int ta, tb, M, N, K; /* C (M,N) = op(A) op(B), row-major; op transposes where ta / tb */
} shape;

/* BLIS's typed API (blis.h, 0.9); dims and strides are 64-bit. Its general strides express every
 * transpose, so the trans_t arguments stay BLIS_NO_TRANSPOSE (0). */
typedef void (*blis_sgemm_fn)(int ta, int tb, long m, long n, long k, float *alpha, float *a, long rsa, long csa,
                              float *b, long rsb, long csb, float *beta, float *c, long rsc, long csc);
typedef void (*blis_threads_fn)(long n);

typedef struct {
    const char *name;
    void (*run)(const shape *s, const float *A, const float *B, float *C);
} library;

static blis_sgemm_fn blis_sgemm;

static void run_openblas(const shape *s, const float *A, const float *B, float *C)
{
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N,
                s->K, 1.0f, A, s->ta ? s->M : s->K, B, s->tb ? s->K : s->N, 0.0f, C, s->N);
}

#if BATON_HAVE_DNNL
static void run_onednn(const shape *s, const float *A, const float *B, float *C)
{
    dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, 1.0f, A, s->ta ? s->M : s->K, B,
               s->tb ? s->K : s->N, 0.0f, C, s->N);
}
#endif

static void run_blis(const shape *s, const float *A, const float *B, float *C)
{
    float one = 1.0f, zero = 0.0f;
    /* row-major op(A) (M,K): element (i,k) at A[i*K + k], or at A[k*M + i] when stored transposed */
    blis_sgemm(0, 0, s->M, s->N, s->K, &one, (float *)A, s->ta ? 1 : s->K, s->ta ? s->M : 1, (float *)B,
               s->tb ? 1 : s->N, s->tb ? s->K : 1, &zero, C, s->N, 1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [--config tiny|base|gnmt] [--shapes NAME:MxNxK[:nt],...] [--threads N] [--reps R]\n"
            "                        [--rounds N] [--blis PATH/libblis.so]\n"
            "  times each fp32 product of a training step (default: base's) in OpenBLAS, oneDNN (where built)\n"
            "  and BLIS (where --blis loads it); prints GFLOP/s and each library's ratio to OpenBLAS.\n"
            "  A shape's optional :xy says which operands are transposed (n or t; default nn).\n");
}

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 2;
}

/* *out = s as a whole decimal integer in lo..hi; 0 when it is not one. */
static int int_in(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

static void add(shape *v, int *n, const char *name, int ta, int tb, int M, int N, int K)
{
    if (*n < MAX_SHAPES && M > 0 && N > 0 && K > 0) {
        v[*n] = (shape){.ta = ta, .tb = tb, .M = M, .N = N, .K = K};
        snprintf(v[*n].name, sizeof v[*n].name, "%s", name);
        (*n)++;
    }
}

/* The step's products of configuration m (fp32, input feeding off), as the model code runs them. */
static int config_shapes(shape *v, const baton_bench_model *m)
{
    int n = 0, TB = m->T * m->batch, SB = m->S * m->batch, E = m->emb, H = m->hidden, V = m->tgt_vocab;
    int G = m->cell == BATON_CELL_LSTM ? 4 : m->cell == BATON_CELL_GRU ? 3 : 1;
    int Hd = m->bidirectional ? H / 2 : H;
    add(v, &n, "generator", 0, 1, TB, V, H);
    add(v, &n, "generator dW", 1, 0, V, H, TB);
    add(v, &n, "generator dh", 0, 0, TB, H, V);
    add(v, &n, "decoder x W_ih", 0, 1, TB, G * H, E);
    add(v, &n, "decoder dW_ih", 1, 0, G * H, E, TB);
    add(v, &n, "decoder dx", 0, 0, TB, E, G * H);
    add(v, &n, "encoder x W_ih", 0, 1, SB, G * Hd, E);
    add(v, &n, "encoder dW_ih", 1, 0, G * Hd, E, SB);
    add(v, &n, "attention W_c", 0, 1, TB, H, 2 * H);
    add(v, &n, "decoder h W_hh (step)", 0, 1, m->batch, G * H, H);
    add(v, &n, "encoder h W_hh (step)", 0, 1, m->batch, G * Hd, Hd);
    return n;
}

/* "NAME:MxNxK[:xy]" items, comma-separated. */
static int parse_shapes(shape *v, char *spec)
{
    int n = 0;
    for (char *item = strtok(spec, ","); item; item = strtok(NULL, ",")) {
        char name[32], tr[3] = "nn";
        int M, N, K;
        if (n == MAX_SHAPES || sscanf(item, "%31[^:]:%dx%dx%d:%2s", name, &M, &N, &K, tr) < 4 || M < 1 || N < 1 ||
            K < 1 || strspn(tr, "nt") != 2)
            return -1;
        add(v, &n, name, tr[0] == 't', tr[1] == 't', M, N, K);
    }
    return n;
}

/* n uniform floats in [-1, 1) from stream `purpose` of the bench's seed. */
static float *random_floats(size_t n, uint32_t purpose)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++)
        x[i] = baton_rng_uniform(SEED, purpose, 0, i) * 2.0f - 1.0f;
    return x;
}

/* Median seconds of reps calls after one warm-up. The library before this one may still hold the
 * cores: OpenBLAS's pthreads workers spin for about 2^28 cycles after a call (its THREAD_TIMEOUT),
 * OpenMP's (oneDNN's, BLIS's) for a while too, before they sleep, and a small product on threads
 * that wait for those cores took 100 times its time (measured). So first a pause longer than that. */
static double time_calls(const library *lib, const shape *s, const float *A, const float *B, float *C, int reps)
{
    double t[MAX_REPS];
    nanosleep(&(struct timespec){0, 250000000}, NULL);
    lib->run(s, A, B, C);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        lib->run(s, A, B, C);
        t[r] = now() - t0;
    }
    return baton_bench_median(t, reps);
}

/* Largest |C - ref| over largest |ref| (NaN if any element is NaN): both sum the same K products of
 * values in [-1, 1) in some order, so they differ by float roundings of the sums, about sqrt(K) 2^-24
 * relative (under 1e-5 at a step's largest K, V = 32000); 1e-4 is above that and far below the
 * error of a wrong layout or an unwritten element. */
static double rel_error(const float *C, const float *ref, size_t n)
{
    double err = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)C[i] - ref[i]);
        err = d > err || d != d ? d : err;
        scale = fmax(scale, fabs((double)ref[i]));
    }
    return scale > 0.0 ? err / scale : err;
}

/* Times each library on shape s in `rounds` rounds, in ABBA order (the order reversed every other
 * round: this machine's speed drifts), into t[l] = the median over rounds of each round's median;
 * returns 0, or 1 where a library's product differs from OpenBLAS's. */
static int time_shape(const shape *s, int i, const library *libs, int n_libs, int reps, int rounds, double *t)
{
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    float *A = random_floats(na, 11u + i), *B = random_floats(nb, 101u + i), *C = malloc(nc * sizeof *C),
          *ref = malloc(nc * sizeof *ref);
    int bad = !A || !B || !C || !ref;
    if (bad)
        fprintf(stderr, PROG ": %s: out of memory for its operands\n", s->name);
    double per[MAX_LIBS][MAX_ROUNDS];
    for (int r = 0; r < rounds && !bad; r++)
        for (int k = 0; k < n_libs; k++) {
            int l = r % 2 ? n_libs - 1 - k : k;
            per[l][r] = time_calls(&libs[l], s, A, B, l ? C : ref, reps);
        }
    for (int l = 1; l < n_libs && !bad; l++) { /* ref is OpenBLAS's C; C poisoned, so what is not written fails */
        for (size_t k = 0; k < nc; k++)
            C[k] = NAN;
        libs[l].run(s, A, B, C);
        double err = rel_error(C, ref, nc);
        if (!(err <= 1e-4)) {
            fprintf(stderr, PROG ": %s: %s's product differs from OpenBLAS's by %.3g (relative), expected <= 1e-4\n",
                    s->name, libs[l].name, err);
            bad = 1;
        }
    }
    for (int l = 0; l < n_libs && !bad; l++)
        t[l] = baton_bench_median(per[l], rounds);
    free(A), free(B), free(C), free(ref);
    return bad;
}

static int bench(const shape *v, int n, const library *libs, int n_libs, int reps, int rounds)
{
    double flops_total = 0.0, secs_total[MAX_LIBS] = {0};
    printf("%-24s %2s %6s %6s %6s", "product", "op", "M", "N", "K");
    for (int l = 0; l < n_libs; l++)
        printf(" | %8s GFLOP/s  ratio", libs[l].name);
    printf("\n");
    for (int i = 0; i < n; i++) {
        const shape *s = &v[i];
        double t[MAX_LIBS], flops = 2.0 * s->M * s->N * s->K;
        if (time_shape(s, i, libs, n_libs, reps, rounds, t))
            return 1;
        printf("%-24s %c%c %6d %6d %6d", s->name, s->ta ? 't' : 'n', s->tb ? 't' : 'n', s->M, s->N, s->K);
        for (int l = 0; l < n_libs; l++) {
            secs_total[l] += t[l];
            printf(" | %16.1f %6.2f", flops / t[l] * 1e-9, t[0] / t[l]);
        }
        printf("\n");
        flops_total += flops;
    }
    printf("%-24s %2s %6s %6s %6s", "all (one of each)", "", "", "", "");
    for (int l = 0; l < n_libs; l++)
        printf(" | %16.1f %6.2f", flops_total / secs_total[l] * 1e-9, secs_total[0] / secs_total[l]);
    printf("\n# ratio = OpenBLAS's time / this library's (> 1: faster than OpenBLAS); medians over rounds of the "
           "medians of the reps\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = "base", *blis_path = NULL;
    char *shapes = NULL;
    int threads = 0, reps = 5, rounds = 3;
    for (int i = 1; i < argc; i += 2) { /* every option but --help takes a value */
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int *num = !strcmp(a, "--threads") ? &threads : !strcmp(a, "--reps") ? &reps
                 : !strcmp(a, "--rounds") ? &rounds : NULL;
        int hi = num == &threads ? 1024 : num == &reps ? MAX_REPS : MAX_ROUNDS;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!num && strcmp(a, "--config") && strcmp(a, "--shapes") && strcmp(a, "--blis"))
            return fail("unknown option '%s' (--help)", a);
        if (!val)
            return fail("%s: expected a value after it (--help)", a);
        if (num && !int_in(val, 1, hi, num)) {
            fprintf(stderr, PROG ": %s '%s': expected an integer in 1..%d\n", a, val, hi);
            return 2;
        }
        if (!strcmp(a, "--config"))
            config = val;
        else if (!strcmp(a, "--shapes"))
            shapes = argv[i + 1];
        else if (!strcmp(a, "--blis"))
            blis_path = val;
    }
    shape v[MAX_SHAPES];
    char spec_copy[256];
    snprintf(spec_copy, sizeof spec_copy, "%s", shapes ? shapes : "");
    const baton_bench_model *m = baton_bench_model_find(config);
    int n = shapes ? parse_shapes(v, shapes) : m ? config_shapes(v, m) : -1;
    if (n < 1)
        return shapes ? fail("--shapes '%s': expected NAME:MxNxK[:xy],... with M, N, K >= 1, x and y n or t",
                             spec_copy)
                      : fail("--config '%s': expected tiny, base or gnmt", config);
    library libs[MAX_LIBS] = {{"OpenBLAS", run_openblas}};
    int n_libs = 1;
    if (threads)
        openblas_set_num_threads(threads);
#if BATON_HAVE_DNNL
    if (threads)
        omp_set_num_threads(threads);
    libs[n_libs++] = (library){"oneDNN", run_onednn};
#endif
    if (blis_path) {
        void *h = dlopen(blis_path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
        blis_sgemm = h ? (blis_sgemm_fn)dlsym(h, "bli_sgemm") : NULL;
        if (!blis_sgemm)
            return fail("--blis %s: expected a BLIS shared library exporting bli_sgemm", blis_path);
        blis_threads_fn set = (blis_threads_fn)dlsym(h, "bli_thread_set_num_threads");
        if (set && threads)
            set(threads);
        libs[n_libs++] = (library){"BLIS", run_blis};
    }
    printf("# %s: %s products, %d thread(s) (0: each library's default), %d rounds of %d reps\n", PROG,
           shapes ? "--shapes" : config, threads, rounds, reps);
    return bench(v, n, libs, n_libs, reps, rounds);
}
