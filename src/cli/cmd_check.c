/* cmd_check.c: baton check, "is my GPU path right". Runs one recurrent layer stack, then one whole
 * training step of the translator, through two implementations on the same random inputs and
 * weights, and prints for every output, final state and gradient tensor the largest absolute
 * difference and that difference relative to the reference tensor's largest magnitude.
 *
 * The candidate is baton's fused kernels on --device; the reference is --reference: cuDNN's RNN
 * ("cudnn", "cudnn-persist-static", "cudnn-persist-dynamic") on the same device, or "cpu" (the fused
 * code on the CPU backend, the project's reference implementation). Dropout is off in both runs:
 * cuDNN draws its masks from its own generator, so only dropout-free runs can agree.
 *
 * Tolerances (relative to the reference tensor's largest magnitude; both sides fp32, TF32 off):
 * the two paths sum the same products in different orders (cuBLAS vs OpenBLAS blockings, cuDNN's
 * own kernels), a few ulps (1e-7) per operation that compound over T steps and L layers; 1e-4
 * leaves a wide margin over that for the layer. A training step adds attention, the softmax over
 * the vocabulary and both stacks: 5e-4. A wrong gate, index or mask gives errors of order 1.
 * Other precisions scale both (precision_scale): tf32 rounds the GPU's GEMM operands to 10
 * fraction bits (2^-11, ~5e-4 relative per product) while the CPU keeps fp32: x20. bf16 against
 * the CPU: both round the same operands, and differ only where the sides' fp32 rounding puts a
 * value on different sides of a bf16 rounding boundary (one bf16 ulp, 2^-8, in rare elements):
 * x10. bf16 against cuDNN, whose reduced precision is its own (cudnn_rnn.c): x50. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/arena.h"
#include "baton/dataset.h"
#include "baton/rng.h"
#include "baton/rnn.h"
#include "baton/toy.h"
#include "baton/trainer.h"
#include "commands.h"
#include "model_dir.h"

#define LAYER_TOL 1e-4
#define STEP_TOL 5e-4

typedef struct {
    const char *device, *impl;
} check_path;

typedef struct {
    int checks, failures;
    double tol_scale; /* the precision's factor on LAYER_TOL and STEP_TOL */
} check_report;

/* How much looser than fp32's the tolerances are in this precision (see the file header). */
static double precision_scale(baton_precision p, int to_cpu)
{
    switch (p) {
    case BATON_PRECISION_TF32: return 20.0;
    case BATON_PRECISION_BF16: return to_cpu ? 10.0 : 50.0;
    default: return 1.0;
    }
}

/* Prints one comparison line; NaN anywhere fails. */
static void compare(check_report *r, const char *what, const float *got, const float *ref, size_t n, double tol)
{
    double dmax = 0.0, rmax = 0.0;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        nan |= isnan(got[i]) || isnan(ref[i]);
        dmax = fmax(dmax, fabs((double)got[i] - ref[i]));
        rmax = fmax(rmax, fabs((double)ref[i]));
    }
    double rel = rmax > 0 ? dmax / rmax : dmax;
    tol *= r->tol_scale;
    int ok = !nan && rel <= tol;
    r->checks++;
    r->failures += !ok;
    printf("  %-40s max|ref| %9.3e  max|diff| %9.3e  relative %9.3e  tol %.0e  %s\n", what, rmax, dmax, rel, tol,
           nan ? "NaN FAIL" : ok ? "ok" : "FAIL");
}

static baton_status make_backend(baton_backend *be, const check_path *p, const cli_settings *s)
{
    baton_backend_options opt = {.threads = s->threads, .versions = s->kernels};
    BATON_TRY(cli_precision(&opt.precision, s));
    return baton_backend_create_ex(be, p->device, &opt);
}

/* ---- the layer ---- */

enum { X, DY, DHN, DCN, Y, HN, CN, DX, DH0, DC0, NBUF }; /* host/device buffers of the layer check */

typedef struct {
    baton_rnn rnn;
    baton_param_table t;
    int T, B;
    int *len;         /* (B) lengths, ragged: 1, T and values between; or all T */
    float *params;    /* host, PyTorch's initialisation */
    float *buf[NBUF]; /* inputs filled at setup; outputs per run */
    size_t n[NBUF];
} layer_case;

/* ragged: lengths T..1, else all T (for cuDNN's persistent algorithms, which take no ragged batch). */
static baton_status layer_setup(layer_case *c, const cli_settings *s, int ragged)
{
    memset(c, 0, sizeof *c);
    baton_rnn_config cfg = {.input_size = s->emb, .hidden_size = s->hidden, .layers = s->layers,
                            .bidirectional = s->bidirectional, .dropout = 0.0f};
    BATON_TRY(baton_cell_parse(&cfg.cell, s->cell));
    baton_param_table_init(&c->t);
    BATON_TRY(baton_rnn_init(&c->rnn, &cfg, &c->t, "rnn"));
    c->T = s->max_len;
    c->B = s->batch;
    BATON_REQUIRE(c->T >= 1 && c->B >= 1, "check: --max-len %d and --batch %d: expected >= 1", c->T, c->B);
    size_t TB = (size_t)c->T * c->B, st = (size_t)s->layers * c->rnn.dirs * c->B * c->rnn.hd;
    size_t sizes[NBUF] = {TB * s->emb, TB * s->hidden, st, st, TB * s->hidden, st, st, TB * s->emb, st, st};
    memcpy(c->n, sizes, sizeof sizes);
    c->params = calloc(1, baton_param_bytes(&c->t));
    c->len = malloc((size_t)c->B * sizeof(int));
    int ok = c->params && c->len;
    for (int i = 0; i < NBUF; i++)
        ok &= (c->buf[i] = malloc(c->n[i] * sizeof(float))) != NULL;
    if (!ok)
        return BATON_ERROR(BATON_ERR_OOM, "check: out of host memory for the layer");
    baton_rnn_init_weights(&c->rnn, &c->t, c->params, (uint64_t)s->seed);
    for (int i = X; i <= DCN; i++)
        for (size_t k = 0; k < c->n[i]; k++)
            c->buf[i][k] = 2.0f * baton_rng_uniform((uint64_t)s->seed, BATON_RNG_TEST, (uint32_t)i, k) - 1.0f;
    for (int b = 0; b < c->B; b++) /* the longest first, then ragged down to 1 */
        c->len[b] = b == 0 || !ragged ? c->T
                    : b == c->B - 1   ? 1
                                      : 1 + (int)((c->T - 1) * (uint64_t)(c->B - 1 - b) / c->B);
    return BATON_OK;
}

static void layer_free(layer_case *c)
{
    for (int i = 0; i < NBUF; i++)
        free(c->buf[i]);
    free(c->params);
    free(c->len);
    baton_param_table_free(&c->t);
}

/* Forward and backward of the layer through path p; outputs into out[Y..DC0], gradients into grads. */
static baton_status layer_run(const check_path *p, const cli_settings *s, layer_case *c, float **out, float *grads)
{
    baton_backend be;
    BATON_TRY(make_backend(&be, p, s));
    baton_arena measure = baton_arena_measuring(), arena = {0};
    baton_rnn_acts acts;
    float *d[NBUF] = {0}, *dp = NULL, *dg = NULL;
    int *dlen = NULL; /* (B + 1): the lengths, then the dropout counter (0) */
    int lstm = c->rnn.cfg.cell == BATON_CELL_LSTM;
    size_t pbytes = baton_param_bytes(&c->t);
    baton_status st = baton_rnn_acts_carve(&acts, &measure, &c->rnn, c->T, c->B);
    if (st == BATON_OK)
        st = baton_arena_create(&arena, &be, measure.used);
    if (st == BATON_OK)
        st = baton_rnn_acts_carve(&acts, &arena, &c->rnn, c->T, c->B);
    if (st == BATON_OK)
        st = baton_rnn_acts_use_impl(&acts, &be, &c->rnn, p->impl, (uint64_t)s->seed);
    for (int i = 0; st == BATON_OK && i < NBUF; i++)
        st = be.ops->alloc(&be, (void **)&d[i], c->n[i] * sizeof(float), "check buffers");
    if (st == BATON_OK)
        st = baton_param_weights_alloc(&be, &c->t, &dp);
    if (st == BATON_OK)
        st = baton_param_buffer_alloc(&be, &c->t, &dg, "gradients");
    if (st == BATON_OK)
        st = be.ops->alloc(&be, (void **)&dlen, (size_t)(c->B + 1) * sizeof(int), "lengths");
    if (st == BATON_OK)
        st = be.ops->zero(&be, dlen + c->B, sizeof(int));
    if (st == BATON_OK)
        st = be.ops->upload(&be, dp, c->params, pbytes);
    if (st == BATON_OK)
        st = be.ops->upload(&be, dlen, c->len, (size_t)c->B * sizeof(int));
    for (int i = X; st == BATON_OK && i <= DCN; i++)
        st = be.ops->upload(&be, d[i], c->buf[i], c->n[i] * sizeof(float));
    acts.host_lengths = c->len;
    baton_dropout_key train = {.seed = (uint64_t)s->seed, .purpose = BATON_RNG_DROPOUT,
                               .counter = (const uint32_t *)(dlen + c->B)};
    if (st == BATON_OK)
        st = baton_rnn_forward(&be, &c->rnn, &acts, d[Y], d[HN], lstm ? d[CN] : NULL, d[X], NULL, NULL, dlen, dp,
                               &c->t, c->T, c->B, &train);
    if (st == BATON_OK)
        st = baton_rnn_backward(&be, &c->rnn, &acts, d[DX], d[DH0], lstm ? d[DC0] : NULL, dg, d[DY], d[DHN],
                                lstm ? d[DCN] : NULL, d[X], dlen, dp, &c->t, c->T, c->B, &train);
    for (int i = Y; st == BATON_OK && i < NBUF; i++)
        if (lstm || (i != CN && i != DC0))
            st = be.ops->download(&be, out[i], d[i], c->n[i] * sizeof(float));
    if (st == BATON_OK)
        st = be.ops->download(&be, grads, dg, pbytes);
    for (int i = 0; i < NBUF; i++)
        if (d[i])
            be.ops->free(&be, d[i]);
    if (dp)
        be.ops->free(&be, dp);
    if (dg)
        be.ops->free(&be, dg);
    if (dlen)
        be.ops->free(&be, dlen);
    baton_rnn_acts_release(&acts);
    baton_arena_destroy(&arena);
    baton_backend_destroy(&be);
    return st;
}

static baton_status check_layer(check_report *r, const check_path *cand, const check_path *ref, const cli_settings *s)
{
    layer_case c;
    int ragged = baton_rnn_impl_takes_ragged(ref->impl);
    baton_status st = layer_setup(&c, s, ragged);
    static const char *names[NBUF] = {"", "", "", "", "y", "hn", "cn", "dx", "dh0", "dc0"};
    float *got[NBUF] = {0}, *want[NBUF] = {0}, *g_got = NULL, *g_want = NULL;
    size_t np = baton_param_bytes(&c.t);
    for (int i = Y; st == BATON_OK && i < NBUF; i++) {
        got[i] = malloc(c.n[i] * sizeof(float));
        want[i] = malloc(c.n[i] * sizeof(float));
        st = got[i] && want[i] ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "check: out of host memory");
    }
    if (st == BATON_OK) {
        g_got = malloc(np);
        g_want = malloc(np);
        st = g_got && g_want ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "check: out of host memory");
    }
    if (st == BATON_OK) {
        printf("layer: %s, I=%d H=%d L=%d %s, T=%d B=%d (lengths %d..%d)\n", s->cell, s->emb, s->hidden, s->layers,
               s->bidirectional ? "bidirectional" : "unidirectional", c.T, c.B, c.T, ragged ? 1 : c.T);
        st = layer_run(cand, s, &c, got, g_got);
    }
    if (st == BATON_OK)
        st = layer_run(ref, s, &c, want, g_want);
    int lstm = c.rnn.cfg.cell == BATON_CELL_LSTM;
    for (int i = Y; st == BATON_OK && i < NBUF; i++)
        if (lstm || (i != CN && i != DC0))
            compare(r, names[i], got[i], want[i], c.n[i], LAYER_TOL);
    for (int i = 0; st == BATON_OK && i < c.t.count; i++) {
        char what[BATON_PARAM_NAME_MAX + 8];
        snprintf(what, sizeof what, "d %s", c.t.items[i].name);
        compare(r, what, g_got + c.t.items[i].offset, g_want + c.t.items[i].offset, c.t.items[i].numel, LAYER_TOL);
    }
    for (int i = 0; i < NBUF; i++) {
        free(got[i]);
        free(want[i]);
    }
    free(g_got);
    free(g_want);
    layer_free(&c);
    return st;
}

/* ---- the training step ---- */

/* One training batch through path p: the mean loss and every gradient (accumulate = 2 keeps the
 * gradients of the first batch in the buffer: no update has run yet). */
static baton_status step_run(const check_path *p, const cli_settings *s, baton_dataset *d, float *loss, float **grads,
                             baton_param_table *table)
{
    baton_backend be;
    baton_trainer tr;
    baton_s2s_config mc;
    baton_optim_config oc;
    memset(&tr, 0, sizeof tr);
    BATON_TRY(make_backend(&be, p, s));
    baton_status st = cli_model_config(&mc, s, d->sv.size, d->tv.size);
    mc.dropout = 0.0f;
    if (st == BATON_OK)
        st = cli_optim_config(&oc, s);
    if (st == BATON_OK)
        st = baton_trainer_create(&tr, &be, &mc, &oc, d->hb.S_max, d->hb.T_max, s->batch, (uint64_t)s->seed, 2);
    if (st == BATON_OK)
        st = baton_trainer_use_rnn_impl(&tr, p->impl);
    if (st == BATON_OK)
        st = baton_host_batch_fill(&d->hb, &d->train, &d->train_b, 0);
    if (st == BATON_OK)
        st = baton_trainer_step(&tr, &d->hb, loss);
    if (st == BATON_OK) {
        *loss /= (float)d->hb.tgt_tokens;
        *grads = malloc(tr.table.total * sizeof(float));
        st = *grads ? be.ops->download(&be, *grads, tr.grads, tr.table.total * sizeof(float))
                    : BATON_ERROR(BATON_ERR_OOM, "check: out of host memory");
    }
    if (st == BATON_OK && table) { /* the rows outlive the trainer */
        *table = tr.table;
        table->items = malloc((size_t)tr.table.count * sizeof *table->items);
        st = table->items ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "check: out of host memory");
        if (st == BATON_OK)
            memcpy(table->items, tr.table.items, (size_t)tr.table.count * sizeof *table->items);
    }
    baton_trainer_destroy(&tr);
    baton_backend_destroy(&be);
    return st;
}

static baton_status check_step(check_report *r, const check_path *cand, const check_path *ref, const cli_settings *s)
{
    if (!baton_rnn_impl_takes_ragged(ref->impl)) { /* a note, not a failure: the layer was compared */
        printf("training step: skipped: %s takes no ragged batches, and the %s task's batches are ragged\n",
               ref->impl, s->task);
        return BATON_OK;
    }
    baton_pairs tr, dv;
    baton_dataset d;
    memset(&d, 0, sizeof d);
    BATON_TRY(baton_toy_generate(&tr, s->task, "train", 4 * s->batch, (uint64_t)s->seed));
    baton_status st = baton_toy_generate(&dv, s->task, "dev", s->batch, (uint64_t)s->seed);
    if (st == BATON_OK)
        st = baton_dataset_build(&d, &tr, &dv, 1, 0, s->max_len, s->batch);
    float l_got = 0, l_want = 0, *g_got = NULL, *g_want = NULL;
    baton_param_table t = {0};
    if (st == BATON_OK) {
        printf("training step: %s task, %s %s attention, E=%d H=%d L=%d, batch %d, input feeding %s\n", s->task,
               s->cell, s->attention, s->emb, s->hidden, s->layers, s->batch, s->input_feed ? "on" : "off");
        st = step_run(cand, s, &d, &l_got, &g_got, &t);
    }
    if (st == BATON_OK)
        st = step_run(ref, s, &d, &l_want, &g_want, NULL);
    if (st == BATON_OK)
        compare(r, "loss", &l_got, &l_want, 1, STEP_TOL);
    for (int i = 0; st == BATON_OK && i < t.count; i++) {
        char what[BATON_PARAM_NAME_MAX + 8];
        snprintf(what, sizeof what, "d %s", t.items[i].name);
        compare(r, what, g_got + t.items[i].offset, g_want + t.items[i].offset, t.items[i].numel, STEP_TOL);
    }
    free(g_got);
    free(g_want);
    free(t.items);
    baton_pairs_free(&tr);
    baton_pairs_free(&dv);
    baton_dataset_free(&d);
    return st;
}

static void check_defaults(cli_settings *s)
{
    cli_opts_defaults(s, cli_settings_opts);
    s->emb = 128;
    s->hidden = 256;
    s->layers = 2;
    s->batch = 16;
    s->max_len = 24;
    s->dropout = 0.0f;
}

int cli_check(int argc, char **argv)
{
    cli_settings s;
    check_defaults(&s);
    char usage[1200];
    snprintf(usage, sizeof usage,
             "usage: baton check [options]\n"
             "Runs a recurrent layer stack (I = --emb, H = --hidden, L = --layers, T = --max-len, B = --batch,\n"
             "ragged lengths T..1), then one training step of the translator, through baton's fused kernels on\n"
             "--device and through --reference (cudnn, cudnn-persist-static, cudnn-persist-dynamic on the same\n"
             "device, or cpu), and compares every output, final state and gradient. The persistent algorithms\n"
             "take no ragged batches: against them the layer runs with all lengths T and the step is skipped.\n"
             "Exits 1 when a difference exceeds its tolerance (relative to the reference tensor's largest\n"
             "magnitude: layer %.0e, training step %.0e in fp32; x20 in tf32, x10 in bf16 against the cpu, x50\n"
             "against cuDNN). Dropout is off in both runs.",
             LAYER_TOL, STEP_TOL);
    cli_command cmd = {"check", CLI_CHECK, usage};
    int help;
    if (cli_opts_argv(&s, cli_settings_opts, &cmd, argc, argv, 2, &help) != BATON_OK)
        return 2;
    if (help) {
        cli_opts_help(stdout, &s, cli_settings_opts, &cmd);
        return 0;
    }
    if (s.model && cli_model_dir_shape(&s, &cmd, argc, argv) != BATON_OK)
        return 2;
    if (cli_settings_check(&s, CLI_CHECK) != BATON_OK)
        return 2;
    int to_cpu = strcmp(s.reference, "cpu") == 0;
    if (strcmp(s.device, "auto") == 0 && !to_cpu && !baton_backend_gpu_usable()) {
        /* 77: "skipped", as test harnesses read it; 1 stays for a real mismatch */
        printf("baton check: no usable GPU here, so no fused GPU kernels to compare with %s; nothing was checked.\n"
               "To compare the CPU path with itself (the same model code, the CPU backend): baton check --device cpu "
               "--reference cpu\n",
               s.reference);
        return 77;
    }
    const char *dev = strcmp(s.device, "auto") == 0 ? (baton_backend_gpu_usable() ? "cuda" : "cpu") : s.device;
    check_path cand = {dev, "fused"}, ref = {to_cpu ? "cpu" : dev, to_cpu ? "fused" : s.reference};
    printf("baton check: fused on %s against %s on %s\n", cand.device, ref.impl, ref.device);
    baton_precision precision;
    if (cli_precision(&precision, &s) != BATON_OK)
        return 2;
    check_report r = {0, 0, precision_scale(precision, to_cpu)};
    if (precision != BATON_PRECISION_FP32)
        printf("precision %s: tolerances x%g of fp32's\n", baton_precision_name(precision), r.tol_scale);
    if (check_layer(&r, &cand, &ref, &s) != BATON_OK || check_step(&r, &cand, &ref, &s) != BATON_OK)
        return 1;
    printf("%d of %d comparisons within tolerance%s\n", r.checks - r.failures, r.checks,
           r.failures ? ": FAILED" : "");
    return r.failures ? 1 : 0;
}
