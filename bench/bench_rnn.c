/* bench_rnn.c: baton-bench-rnn, the speed of one recurrent layer stack (forward, and forward +
 * backward) on one backend, in the same table as bench/pytorch_rnn.py so the two compare row by row.
 *
 * The layer is built directly on the public API rather than through tests/support/rnn_harness.c
 * because the harness creates its backend with the default thread count, and the thread count is
 * the variable this benchmark is about. Every size runs the full batch (all lengths = T), as
 * PyTorch's nn.LSTM without packing, so both sides do the same arithmetic. dx is computed, as in a
 * seq2seq encoder whose input is a trainable embedding (the PyTorch script sets x.requires_grad).
 *
 * --impl picks the layer implementation: baton's fused layers (default; on the CPU the packed
 * recurrence where built, --kernels cpurnn=sgemm for the per-step sgemm), "packed" (CPU), or cuDNN's
 * RNN API with one of its algorithms (src/cudnn/, builds with cuDNN only), on the same weights and
 * inputs. cuDNN's forward runs in training mode, keeping what backward needs, as the fused forward
 * always does, so both time the same forward. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/buildinfo.h"
#include "baton_config.h"
#if BATON_HAVE_CUDNN
#include "baton/cudnn_rnn.h"
#endif
#include "baton/param.h"
#include "baton/rng.h"
#include "baton/rnn.h"

#define PROG "baton-bench-rnn"
#define MAX_SIZES 32
#define WEIGHT_SEED 20240601u
#define INPUT_SEED 7u

typedef struct {
    const char *device;
    baton_cell cell;
    int batch, steps, input; /* input 0: the same as each hidden size */
    int hidden[MAX_SIZES], n_hidden;
    int layers, bidirectional, threads, warmup, reps, profile;
    const char *csv;
    const char *impl; /* "fused", "packed" or "cudnn-<algorithm>" */
    const char *kernels; /* --kernels: part=version list for the backend, or NULL */
    int cudnn;        /* 1 for a cudnn-* implementation */
    int algo;         /* its baton_cudnn_algo */
} options;

typedef struct {
    double median, min, q1, q3, max;
} stats;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [flags]\n"
            "Times forward and forward+backward of one recurrent layer stack (time-major, full batch).\n"
            "  --device NAME       backend (%s; default cpu)\n"
            "  --impl NAME         fused | packed | cudnn-standard | cudnn-persist-static | cudnn-persist-dynamic\n"
            "                      (default fused; packed: cpu; cudnn-* need --device cuda and a build with cuDNN%s)\n"
            "  --kernels SPEC      part=version,... as baton's --kernels (cpurnn=sgemm: the cpu's per-step sgemm)\n"
            "  --cell C            lstm | gru | rnn_tanh (default lstm)\n"
            "  --batch B           batch rows (default 32)\n"
            "  --steps T           time steps (default 50)\n"
            "  --input I           input width (default: the hidden size of each row)\n"
            "  --hidden H[,H...]   output widths, one table row each (default 256,512)\n"
            "  --layers L          stacked layers (default 2)\n"
            "  --bidirectional     two directions of H/2 each, outputs concatenated\n"
            "  --threads N         host threads, set for OpenBLAS and OpenMP alike (default 0: the libraries'\n"
            "                      defaults, all cores unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise)\n"
            "  --warmup N          untimed calls before timing (default 3)\n"
            "  --reps N            timed calls; the table quotes their median (default 10)\n"
            "  --csv FILE          also write the rows as CSV\n"
            "  --profile           also break each call's time down by op (GEMM, cell, column sums, copies);\n"
            "                      adds a clock read around every op (and a sync on an asynchronous device)\n"
            "  --help              this text\n",
            baton_backend_list(), BATON_HAVE_CUDNN ? "" : ", which this one is not");
}

/* Reports a bad flag or value in one line and exits with status 2, as command-line errors do. */
static _Noreturn void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    exit(2);
}

static int parse_int(const char *flag, const char *s, int min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < min || v > INT_MAX)
        bad_usage("%s: '%s', expected an integer >= %d", flag, s, min);
    return (int)v;
}

static void parse_hidden(options *o, const char *s)
{
    char buf[512];
    if (strlen(s) >= sizeof buf)
        bad_usage("--hidden: list too long");
    strcpy(buf, s);
    o->n_hidden = 0;
    /* strtok would skip empty items ("256,,512"); a typo like that should be an error, not ignored. */
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (o->n_hidden == MAX_SIZES)
            bad_usage("--hidden: more than %d sizes", MAX_SIZES);
        if (*p == '\0')
            bad_usage("--hidden: '%s', expected a comma list of integers >= 1, e.g. 256,512", s);
        o->hidden[o->n_hidden++] = parse_int("--hidden", p, 1);
        if (!comma)
            break;
        p = comma + 1;
    }
}

static int name_in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
        while (*p == ' ') /* the list reads "cpu, cuda" */
            p++;
    }
    return 0;
}

/* --impl: "fused", or "cudnn-" and a cuDNN algorithm where the build has cuDNN. */
static void parse_impl(options *o, const char *val)
{
    o->impl = val;
    o->cudnn = strncmp(val, "cudnn-", 6) == 0;
    if (!o->cudnn) {
        if (strcmp(val, "fused") != 0 && strcmp(val, "packed") != 0)
            bad_usage("--impl: '%s', expected fused, packed, cudnn-standard, cudnn-persist-static or "
                      "cudnn-persist-dynamic",
                      val);
        return;
    }
#if BATON_HAVE_CUDNN
    baton_cudnn_algo a;
    if (baton_cudnn_algo_parse(&a, val + 6) != BATON_OK)
        bad_usage("--impl: '%s', expected fused, cudnn-standard, cudnn-persist-static or cudnn-persist-dynamic", val);
    o->algo = (int)a;
#else
    bad_usage("--impl %s: this build has no cuDNN (configure with -Dcudnn=enabled, or -Dcudnn_root=DIR)", val);
#endif
}

static void parse_args(options *o, int argc, char **argv)
{
    *o = (options){.device = "cpu", .cell = BATON_CELL_LSTM, .batch = 32, .steps = 50, .input = 0,
                   .hidden = {256, 512}, .n_hidden = 2, .layers = 2, .threads = 0, .warmup = 3, .reps = 10,
                   .impl = "fused"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(arg, "--bidirectional") == 0) {
            o->bidirectional = 1;
            continue;
        }
        if (strcmp(arg, "--profile") == 0) {
            o->profile = 1;
            continue;
        }
        /* Every other flag takes a value, as "--flag value" or "--flag=value". */
        char flag[64];
        const char *val, *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof flag) {
            memcpy(flag, arg, (size_t)(eq - arg));
            flag[eq - arg] = '\0';
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
            val = NULL;
        }
        static const char *const valued[] = {"--device", "--cell",   "--batch",  "--steps", "--input", "--hidden",
                                             "--layers", "--threads", "--warmup", "--reps",  "--csv",
                                             "--impl",   "--kernels"};
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++)
            known |= strcmp(flag, valued[k]) == 0;
        if (!known)
            bad_usage("unknown flag '%s'", arg);
        if (!val) {
            if (i + 1 >= argc)
                bad_usage("%s: expected a value after it", flag);
            val = argv[++i];
        }
        if (strcmp(flag, "--device") == 0) {
            if (!name_in_list(val, baton_backend_list()))
                bad_usage("--device: '%s', expected one of: %s (this build)", val, baton_backend_list());
            o->device = val;
        } else if (strcmp(flag, "--cell") == 0) {
            if (strcmp(val, "lstm") && strcmp(val, "gru") && strcmp(val, "rnn_tanh") && strcmp(val, "rnn"))
                bad_usage("--cell: '%s', expected lstm, gru or rnn_tanh", val);
            baton_cell_parse(&o->cell, val);
        } else if (strcmp(flag, "--batch") == 0) {
            o->batch = parse_int(flag, val, 1);
        } else if (strcmp(flag, "--steps") == 0) {
            o->steps = parse_int(flag, val, 1);
        } else if (strcmp(flag, "--input") == 0) {
            o->input = parse_int(flag, val, 1);
        } else if (strcmp(flag, "--hidden") == 0) {
            parse_hidden(o, val);
        } else if (strcmp(flag, "--layers") == 0) {
            o->layers = parse_int(flag, val, 1);
            if (o->layers > BATON_RNN_MAX_LAYERS)
                bad_usage("--layers: %d, expected at most %d", o->layers, BATON_RNN_MAX_LAYERS);
        } else if (strcmp(flag, "--threads") == 0) {
            o->threads = parse_int(flag, val, 0);
        } else if (strcmp(flag, "--warmup") == 0) {
            o->warmup = parse_int(flag, val, 0);
        } else if (strcmp(flag, "--reps") == 0) {
            o->reps = parse_int(flag, val, 1);
        } else if (strcmp(flag, "--impl") == 0) {
            parse_impl(o, val);
        } else if (strcmp(flag, "--kernels") == 0) {
            baton_versions v;
            if (baton_versions_parse(&v, val) != BATON_OK)
                bad_usage("--kernels: '%s' (the line above says why)", val);
            o->kernels = val;
        } else if (strcmp(flag, "--csv") == 0) {
            if (*val == '\0')
                bad_usage("--csv: expected a file name");
            o->csv = val;
        }
    }
    if (o->cudnn && strcmp(o->device, "cuda") != 0)
        bad_usage("--impl %s: cuDNN runs only with --device cuda (got --device %s)", o->impl, o->device);
    if (o->bidirectional)
        for (int k = 0; k < o->n_hidden; k++)
            if (o->hidden[k] % 2)
                bad_usage("--hidden: %d is odd; --bidirectional splits H into two directions of H/2", o->hidden[k]);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile by linear interpolation between order statistics (numpy's default), on sorted v. */
static double quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

static stats summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return (stats){quantile(v, n, 0.5), v[0], quantile(v, n, 0.25), quantile(v, n, 0.75), v[n - 1]};
}

/* U(-1, 1) from Philox, stream `which` of the benchmark's test purpose: never zeros, and the same
 * values on every backend because they are drawn on the host and uploaded. */
static void fill_uniform(float *v, size_t n, uint32_t which)
{
    for (size_t blk = 0; blk * 4 < n; blk++) {
        baton_u32x4 r = baton_rng_block(INPUT_SEED, BATON_RNG_TEST | which, 0, blk);
        for (size_t lane = 0; lane < 4 && blk * 4 + lane < n; lane++)
            v[blk * 4 + lane] = 2.0f * baton_rng_u32_to_unit(r.v[lane]) - 1.0f;
    }
}

/* Device buffer of n floats filled from host values. */
static baton_status upload_new(baton_backend *be, float **dst, const float *host, size_t n, const char *what)
{
    BATON_TRY(be->ops->alloc(be, (void **)dst, n * sizeof(float), what));
    return be->ops->upload(be, *dst, host, n * sizeof(float));
}

/* ---- --profile: an ops table that forwards every call to the backend's own and adds up, per kind
 * of op, the time it took. The per-step GEMMs (M = B rows: h W_hh^T forward, dgh W_hh backward) are
 * told apart from the bulk ones (M or K = T*B: input projection, weight and input gradients)
 * because they are latency-bound and the bulk ones are throughput-bound. ---- */
enum { P_GEMM_STEP, P_GEMM_BULK, P_CELL_FWD, P_CELL_BWD, P_RECUR_FWD, P_RECUR_BWD, P_COLSUM, P_COPY_ZERO, P_OTHER,
       P_KINDS };
static const char *const prof_names[P_KINDS] = {"gemm/step", "gemm/bulk", "cell fwd",  "cell bwd", "recur fwd",
                                                "recur bwd", "colsum",    "copy+zero", "other"};
static struct {
    const baton_ops *inner;
    baton_ops ops;
    int on, step_rows;
    double ms[P_KINDS];
} prof;

static void prof_add(baton_backend *be, int kind, double t0)
{
    if (prof.on) {
        prof.inner->sync(be);
        prof.ms[kind] += now_ms() - t0;
    }
}

static baton_status prof_gemm(baton_backend *be, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                              int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    double t0 = now_ms();
    baton_status st = prof.inner->gemm(be, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    prof_add(be, M == prof.step_rows ? P_GEMM_STEP : P_GEMM_BULK, t0);
    return st;
}

static baton_status prof_gemm_batched(baton_backend *be, int ta, int tb, int M, int N, int K, float alpha,
                                      const float *A, int lda, int64_t sa, const float *B, int ldb, int64_t sb,
                                      float beta, float *C, int ldc, int64_t sc, int batch)
{
    double t0 = now_ms();
    baton_status st =
        prof.inner->gemm_batched(be, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
    prof_add(be, P_GEMM_BULK, t0);
    return st;
}

static baton_status prof_cell_forward(baton_backend *be, baton_cell cell, const baton_cell_fwd_args *a)
{
    double t0 = now_ms();
    baton_status st = prof.inner->cell_forward(be, cell, a);
    prof_add(be, P_CELL_FWD, t0);
    return st;
}

static baton_status prof_cell_backward(baton_backend *be, baton_cell cell, const baton_cell_bwd_args *a)
{
    double t0 = now_ms();
    baton_status st = prof.inner->cell_backward(be, cell, a);
    prof_add(be, P_CELL_BWD, t0);
    return st;
}

/* A whole recurrence (--impl packed): all steps' products and cells of a layer in one op. */
static baton_status prof_recur_forward(baton_backend *be, baton_recur_version v, const baton_recur_args *a)
{
    double t0 = now_ms();
    baton_status st = prof.inner->recur_forward(be, v, a);
    prof_add(be, P_RECUR_FWD, t0);
    return st;
}

static baton_status prof_recur_backward(baton_backend *be, baton_recur_version v, const baton_recur_args *a)
{
    double t0 = now_ms();
    baton_status st = prof.inner->recur_backward(be, v, a);
    prof_add(be, P_RECUR_BWD, t0);
    return st;
}

static baton_status prof_colsum_add(baton_backend *be, float *out, float *out2, const float *in, int rows, int cols)
{
    double t0 = now_ms();
    baton_status st = prof.inner->colsum_add(be, out, out2, in, rows, cols);
    prof_add(be, P_COLSUM, t0);
    return st;
}

static baton_status prof_copy(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    double t0 = now_ms();
    baton_status st = prof.inner->copy(be, dst, src, bytes);
    prof_add(be, P_COPY_ZERO, t0);
    return st;
}

static baton_status prof_zero(baton_backend *be, void *ptr, size_t bytes)
{
    double t0 = now_ms();
    baton_status st = prof.inner->zero(be, ptr, bytes);
    prof_add(be, P_COPY_ZERO, t0);
    return st;
}

static baton_status prof_axpby(baton_backend *be, float *y, const float *x, float alpha, float beta, size_t n)
{
    double t0 = now_ms();
    baton_status st = prof.inner->axpby(be, y, x, alpha, beta, n);
    prof_add(be, P_OTHER, t0);
    return st;
}

static baton_status prof_dropout(baton_backend *be, float *y, const float *x, size_t n, float p, uint64_t seed,
                                 uint32_t purpose, const uint32_t *counter)
{
    double t0 = now_ms();
    baton_status st = prof.inner->dropout(be, y, x, n, p, seed, purpose, counter);
    prof_add(be, P_OTHER, t0);
    return st;
}

/* Routes the backend's ops through the timing wrappers; the ops the layer does not call stay as they are. */
static void prof_install(baton_backend *be, int step_rows)
{
    prof.inner = be->ops;
    prof.ops = *be->ops;
    prof.ops.gemm = prof_gemm;
    prof.ops.gemm_batched = prof_gemm_batched;
    prof.ops.cell_forward = prof_cell_forward;
    prof.ops.cell_backward = prof_cell_backward;
    prof.ops.colsum_add = prof_colsum_add;
    if (be->ops->recur_forward) {
        prof.ops.recur_forward = prof_recur_forward;
        prof.ops.recur_backward = prof_recur_backward;
    }
    prof.ops.copy = prof_copy;
    prof.ops.zero = prof_zero;
    prof.ops.axpby = prof_axpby;
    prof.ops.dropout = prof_dropout;
    prof.step_rows = step_rows;
    be->ops = &prof.ops;
}

typedef struct {
    baton_rnn rnn;
    baton_param_table table;
    baton_arena arena;
    baton_rnn_acts acts;
    float *params, *grads, *x, *y, *hn, *cn, *dy, *dx;
    int *lengths, *host_len; /* (B) on the device, and on the host for cuDNN's descriptors */
    size_t nx, ny, ns;
#if BATON_HAVE_CUDNN
    baton_cudnn_rnn *cudnn; /* --impl cudnn-*: the layer through cuDNN, else NULL */
#endif
} layer;

static void layer_free(baton_backend *be, layer *ly)
{
#if BATON_HAVE_CUDNN
    baton_cudnn_rnn_destroy(ly->cudnn);
#endif
    free(ly->host_len);
    baton_arena_destroy(&ly->arena);
    void *bufs[] = {ly->params, ly->grads, ly->x, ly->y, ly->hn, ly->cn, ly->dy, ly->dx, ly->lengths};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            be->ops->free(be, bufs[i]);
    baton_param_table_free(&ly->table);
}

/* The implementation's own state: cuDNN's descriptors and spaces, or the fused layers' arena. */
static baton_status layer_init_impl(baton_backend *be, layer *ly, const options *o, int T, int B)
{
#if BATON_HAVE_CUDNN
    if (o->cudnn)
        return baton_cudnn_rnn_create(&ly->cudnn, be, &ly->rnn, T, B, (baton_cudnn_algo)o->algo, WEIGHT_SEED);
#else
    (void)o;
#endif
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_rnn_acts_carve(&ly->acts, &measure, &ly->rnn, T, B));
    BATON_TRY(baton_arena_create(&ly->arena, be, measure.used));
    BATON_TRY(baton_rnn_acts_carve(&ly->acts, &ly->arena, &ly->rnn, T, B));
    return baton_rnn_acts_use_impl(&ly->acts, be, &ly->rnn, o->impl, WEIGHT_SEED);
}

static baton_status layer_init(baton_backend *be, layer *ly, const options *o, const baton_rnn_config *cfg, int T,
                               int B)
{
    memset(ly, 0, sizeof *ly);
    baton_param_table_init(&ly->table);
    BATON_TRY(baton_rnn_init(&ly->rnn, cfg, &ly->table, "rnn"));
    ly->nx = (size_t)T * B * cfg->input_size;
    ly->ny = (size_t)T * B * cfg->hidden_size;
    ly->ns = (size_t)cfg->layers * ly->rnn.dirs * B * ly->rnn.hd;
    size_t pbytes = baton_param_bytes(&ly->table), nhost = ly->nx > ly->ny ? ly->nx : ly->ny;
    float *host = malloc(pbytes > nhost * sizeof(float) ? pbytes : nhost * sizeof(float));
    int *host_len = ly->host_len = malloc((size_t)B * sizeof(int));
    if (!host || !host_len) {
        free(host);
        return BATON_ERROR(BATON_ERR_OOM, "benchmark: host staging buffers");
    }
    memset(host, 0, pbytes); /* padding between tensors */
    baton_rnn_init_weights(&ly->rnn, &ly->table, host, WEIGHT_SEED);
    baton_status st = baton_param_buffer_alloc(be, &ly->table, &ly->params, "parameters");
    if (st == BATON_OK)
        st = be->ops->upload(be, ly->params, host, pbytes);
    if (st == BATON_OK)
        st = baton_param_buffer_alloc(be, &ly->table, &ly->grads, "gradients");
    if (st == BATON_OK) {
        fill_uniform(host, ly->nx, 1);
        st = upload_new(be, &ly->x, host, ly->nx, "input x");
    }
    if (st == BATON_OK) {
        fill_uniform(host, ly->ny, 2);
        st = upload_new(be, &ly->dy, host, ly->ny, "output gradient dy");
    }
    if (st == BATON_OK) {
        for (int b = 0; b < B; b++)
            host_len[b] = T;
        st = be->ops->alloc(be, (void **)&ly->lengths, (size_t)B * sizeof(int), "lengths");
        if (st == BATON_OK)
            st = be->ops->upload(be, ly->lengths, host_len, (size_t)B * sizeof(int));
    }
    free(host);
    BATON_TRY(st);
    BATON_TRY(be->ops->alloc(be, (void **)&ly->y, ly->ny * sizeof(float), "output y"));
    BATON_TRY(be->ops->alloc(be, (void **)&ly->dx, ly->nx * sizeof(float), "input gradient dx"));
    BATON_TRY(be->ops->alloc(be, (void **)&ly->hn, ly->ns * sizeof(float), "final states hn"));
    BATON_TRY(be->ops->alloc(be, (void **)&ly->cn, ly->ns * sizeof(float), "final cell states cn"));
    return layer_init_impl(be, ly, o, T, B);
}

static baton_status run_forward(baton_backend *be, layer *ly, int T, int B)
{
    int lstm = ly->rnn.cfg.cell == BATON_CELL_LSTM;
#if BATON_HAVE_CUDNN
    if (ly->cudnn) /* training mode, keeping what backward needs, unless the forward is timed alone */
        return baton_cudnn_rnn_forward(ly->cudnn, ly->y, ly->hn, lstm ? ly->cn : NULL, ly->x, NULL, NULL, ly->lengths,
                                       ly->host_len, ly->params, &ly->table, T, B, !ly->acts.no_grad);
#endif
    return baton_rnn_forward(be, &ly->rnn, &ly->acts, ly->y, ly->hn, lstm ? ly->cn : NULL, ly->x, NULL, NULL,
                             ly->lengths, ly->params, &ly->table, T, B, NULL);
}

static baton_status run_backward(baton_backend *be, layer *ly, int T, int B)
{
#if BATON_HAVE_CUDNN
    if (ly->cudnn)
        return baton_cudnn_rnn_backward(ly->cudnn, ly->dx, NULL, NULL, ly->grads, ly->dy, NULL, NULL, ly->x,
                                        ly->lengths, ly->host_len, ly->params, &ly->table, T, B);
#endif
    return baton_rnn_backward(be, &ly->rnn, &ly->acts, ly->dx, NULL, NULL, ly->grads, ly->dy, NULL, NULL, ly->x,
                              ly->lengths, ly->params, &ly->table, T, B, NULL);
}

/* Times `calls` calls of forward (with_backward 0) or forward+backward; ms[i] per call and, under
 * --profile, kind_ms[i*P_KINDS + k] per kind of op. Gradients are zeroed before each call, outside
 * the timed region, as PyTorch's zero_grad is in the script. A forward timed alone is an inference
 * forward (no_grad: nothing kept for backward), as the script's runs under torch.no_grad. */
static baton_status time_calls(baton_backend *be, layer *ly, int T, int B, int with_backward, double *ms,
                               double *kind_ms, int calls)
{
    size_t gbytes = baton_param_bytes(&ly->table);
    ly->acts.no_grad = !with_backward;
    for (int i = 0; i < calls; i++) {
        if (with_backward)
            BATON_TRY(be->ops->zero(be, ly->grads, gbytes));
        BATON_TRY(be->ops->sync(be));
        memset(prof.ms, 0, sizeof prof.ms);
        prof.on = kind_ms != NULL;
        double t0 = now_ms();
        baton_status st = run_forward(be, ly, T, B);
        if (st == BATON_OK && with_backward)
            st = run_backward(be, ly, T, B);
        if (st == BATON_OK)
            st = be->ops->sync(be);
        double t1 = now_ms();
        prof.on = 0;
        BATON_TRY(st);
        if (ms)
            ms[i] = t1 - t0;
        if (kind_ms)
            memcpy(kind_ms + (size_t)i * P_KINDS, prof.ms, sizeof prof.ms);
    }
    return BATON_OK;
}

/* Median time per call of each kind of op, and what is left of the median call outside all ops. */
static void print_profile(const char *what, double *kind_ms, int calls, double median)
{
    double *col = malloc((size_t)calls * sizeof *col), sum = 0.0;
    if (!col)
        return;
    printf("#   profile %-7s", what);
    for (int k = 0; k < P_KINDS; k++) {
        for (int i = 0; i < calls; i++)
            col[i] = kind_ms[(size_t)i * P_KINDS + k];
        stats s = summarize(col, calls);
        sum += s.median;
        printf(" %s %.2f (%.0f%%)%s", prof_names[k], s.median, 100.0 * s.median / median, k + 1 < P_KINDS ? "," : "");
    }
    printf("; outside ops %.2f ms of %.2f\n", median - sum, median);
    free(col);
}

/* 1 when every value of the device buffer is finite and at least one is non-zero: a benchmark
 * that quietly computed NaNs or nothing would time the wrong thing. */
static int looks_computed(baton_backend *be, const float *dev, size_t n)
{
    float *host = malloc(n * sizeof(float));
    if (!host || be->ops->download(be, host, dev, n * sizeof(float)) != BATON_OK) {
        free(host);
        return 0;
    }
    int finite = 1, nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        finite &= isfinite(host[i]) != 0;
        nonzero |= host[i] != 0.0f;
    }
    free(host);
    return finite && nonzero;
}

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        /* x86 says "model name"; some ARM kernels say "Model" or nothing useful. */
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model\t", 6) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, cap, "%s", colon);
                break;
            }
        }
    }
    fclose(f);
}

static const char *const csv_header =
    "impl,device,cell,B,T,I,H,L,dirs,threads,warmup,reps,"
    "fwd_ms_median,fwd_ms_min,fwd_ms_q1,fwd_ms_q3,fwd_ms_max,fwd_tokens_per_s,"
    "fwdbwd_ms_median,fwdbwd_ms_min,fwdbwd_ms_q1,fwdbwd_ms_q3,fwdbwd_ms_max,fwdbwd_tokens_per_s\n";

int main(int argc, char **argv)
{
    options o;
    parse_args(&o, argc, argv);

    baton_backend be;
    baton_backend_options bo = {.threads = o.threads, .versions = o.kernels};
    if (baton_backend_create_ex(&be, o.device, &bo) != BATON_OK)
        return 1;

    FILE *csv = NULL;
    if (o.csv) {
        csv = fopen(o.csv, "w");
        if (!csv) {
            fprintf(stderr, PROG ": --csv: cannot write '%s': %s\n", o.csv, strerror(errno));
            baton_backend_destroy(&be);
            return 2;
        }
        fputs(csv_header, csv);
    }

    char model[256];
    cpu_model(model, sizeof model);
    printf("# machine: %s, %ld cores online, threads used: %d (device %s)\n", model, sysconf(_SC_NPROCESSORS_ONLN),
           be.threads, o.device);
    baton_buildinfo_print(stdout);
    printf("# baton %s, impl %s, time-major, full batch (all lengths = T); tokens = B*T per call; "
           "medians of %d reps after %d warmup; spread = [min, max]\n",
           baton_cell_name(o.cell), o.impl, o.reps, o.warmup);
    printf("%-8s %4s %4s %5s %5s %2s %4s %3s | %9s %21s %10s | %9s %21s %10s\n", "cell", "B", "T", "I", "H", "L",
           "dirs", "thr", "fwd ms", "[min, max]", "fwd tok/s", "f+b ms", "[min, max]", "f+b tok/s");
    fflush(stdout);

    /* the CSV's impl column: "baton" for the defaults, else what differs (compare_cpu.sh's variants) */
    char label[160];
    int plain = o.cudnn || strcmp(o.impl, "fused") == 0;
    snprintf(label, sizeof label, "%s%s%s", o.cudnn ? o.impl : "baton", plain ? "" : "-", plain ? "" : o.impl);
    if (o.kernels)
        snprintf(label + strlen(label), sizeof label - strlen(label), "-%s", o.kernels);
    double *ms = malloc((size_t)o.reps * sizeof *ms);
    double *fwd_kinds = o.profile ? calloc((size_t)o.reps * P_KINDS, sizeof(double)) : NULL;
    double *fb_kinds = o.profile ? calloc((size_t)o.reps * P_KINDS, sizeof(double)) : NULL;
    int rc = ms && (!o.profile || (fwd_kinds && fb_kinds)) ? 0 : 1;
    if (o.profile)
        prof_install(&be, o.batch);
    for (int k = 0; k < o.n_hidden && rc == 0; k++) {
        int H = o.hidden[k], I = o.input ? o.input : H, T = o.steps, B = o.batch;
        baton_rnn_config cfg = {.cell = o.cell, .input_size = I, .hidden_size = H, .layers = o.layers,
                                .bidirectional = o.bidirectional, .dropout = 0.0f};
        layer ly;
        stats fwd = {0}, fb = {0};
        baton_status st = layer_init(&be, &ly, &o, &cfg, T, B);
        if (st == BATON_OK && !o.cudnn) {
            printf("# H=%d: %s\n", H, ly.acts.impl_note);
            fflush(stdout);
        }
        if (st == BATON_OK)
            st = time_calls(&be, &ly, T, B, 0, NULL, NULL, o.warmup);
        if (st == BATON_OK)
            st = time_calls(&be, &ly, T, B, 0, ms, fwd_kinds, o.reps);
        if (st == BATON_OK)
            fwd = summarize(ms, o.reps);
        if (st == BATON_OK)
            st = time_calls(&be, &ly, T, B, 1, NULL, NULL, o.warmup);
        if (st == BATON_OK)
            st = time_calls(&be, &ly, T, B, 1, ms, fb_kinds, o.reps);
        if (st == BATON_OK)
            fb = summarize(ms, o.reps);
        if (st != BATON_OK) {
            fprintf(stderr, PROG ": H=%d: setup or run failed (%s)\n", H, baton_status_name(st));
            rc = 1;
        } else if (!looks_computed(&be, ly.y, ly.ny) || !looks_computed(&be, ly.dx, ly.nx) ||
                   !looks_computed(&be, ly.grads, baton_param_bytes(&ly.table) / sizeof(float))) {
            fprintf(stderr, PROG ": H=%d: y, dx or the gradients are all zero or not finite\n", H);
            rc = 1;
        } else {
            double tokens = (double)B * T;
            printf("%-8s %4d %4d %5d %5d %2d %4d %3d | %9.3f [%9.3f, %9.3f] %10.0f | %9.3f [%9.3f, %9.3f] %10.0f\n",
                   baton_cell_name(o.cell), B, T, I, H, o.layers, ly.rnn.dirs, be.threads, fwd.median, fwd.min,
                   fwd.max, tokens / (fwd.median * 1e-3), fb.median, fb.min, fb.max, tokens / (fb.median * 1e-3));
            if (o.profile) {
                print_profile("fwd", fwd_kinds, o.reps, fwd.median);
                print_profile("fwd+bwd", fb_kinds, o.reps, fb.median);
            }
            fflush(stdout);
            if (csv)
                fprintf(csv,
                        "%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,"
                        "%.4f,%.4f,%.4f,%.4f,%.4f,%.1f,%.4f,%.4f,%.4f,%.4f,%.4f,%.1f\n",
                        label, o.device, baton_cell_name(o.cell), B, T, I, H, o.layers,
                        ly.rnn.dirs, be.threads, o.warmup, o.reps, fwd.median, fwd.min, fwd.q1, fwd.q3, fwd.max,
                        tokens / (fwd.median * 1e-3), fb.median, fb.min, fb.q1, fb.q3, fb.max,
                        tokens / (fb.median * 1e-3));
        }
        layer_free(&be, &ly);
    }
    free(ms);
    free(fwd_kinds);
    free(fb_kinds);
    if (csv && fclose(csv) != 0) {
        fprintf(stderr, PROG ": --csv: error writing '%s'\n", o.csv);
        rc = 1;
    }
    baton_backend_destroy(&be);
    return rc;
}
