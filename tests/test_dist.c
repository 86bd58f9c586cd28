/* test_dist.c: data-parallel training over two real processes gives the update one process gives
 * for the union of their batches. Run as `mpirun -np 2 test_dist [cpu|cuda]` (tests/test_dist.sh);
 * exit 77 in a build without Open MPI, outside a launcher of 2 ranks, or where the backend cannot
 * be made (cuda: the gpu suite runs it on the emulation, with the MPI transport staging the
 * device's gradients through host memory).
 *
 * Each rank builds the same model from the same seed. Rank r trains a data-parallel trainer on
 * batch 2k + r of step k, and a plain trainer on the two batches merged into one (B1 + B2
 * sentences, padded to the longer), so every rank can compare. Checked:
 *   1. merged: after K steps of SGD, the summed loss of each step and every weight agree with the
 *      merged batch's. Not bit for bit: the merged batch sums its B1 + B2 rows inside each GEMM,
 *      the ranks sum two partial GEMMs, so float additions differ in order. The bound: weights
 *      |a - b| <= 1e-5 + 1e-4 |b|, losses relative 1e-5. A mean taken per rank instead of over the
 *      step's global tokens moves weights by ~lr * |g| ~ 1e-3, a missing bucket by as much, and
 *      NaN fails every comparison;
 *   2. a rank without a batch (an epoch's last round): rank 0 trains on b1, rank 1 on nothing, and
 *      the update equals the plain trainer's on b1 alone BIT FOR BIT, from fresh weights: the sum
 *      is g1 + 0, exact, so here the reduction order allows exactness, with Adam;
 *   3. every rank ends with the same weights, bit for bit (the checksum of --check-every);
 *   4. the buckets: with --bucket-mb small enough, one update's gradients leave in several buckets
 *      (backward's hook cut them), and every float is summed once: bytes = 4 x floats x updates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/dataset.h"
#include "baton/dist.h"
#include "baton/toy.h"
#include "baton/trainer.h"
#include "baton_config.h"
#include "testutil.h"

enum { BATCH = 12, STEPS = 3 };

static int load(baton_dataset *d)
{
    baton_pairs tr, dv;
    memset(d, 0, sizeof *d);
    if (baton_toy_generate(&tr, "numbers", "train", 300, 3) != BATON_OK)
        return 0;
    int ok = baton_toy_generate(&dv, "numbers", "dev", 20, 3) == BATON_OK &&
             baton_dataset_build(d, &tr, &dv, 3, 0, 64, BATCH) == BATON_OK;
    baton_pairs_free(&tr);
    baton_pairs_free(&dv);
    return ok;
}

static int make(baton_trainer *tr, baton_backend *be, const baton_dataset *d, baton_opt_kind kind, int B_max)
{
    baton_s2s_config mc = {.cell = BATON_CELL_LSTM, .src_vocab = d->sv.size, .tgt_vocab = d->tv.size, .emb = 16,
                           .hidden = 24, .layers = 2, .bidirectional = 1, .score = BATON_ATTN_GENERAL,
                           .dropout = 0.0f, .label_smoothing = 0.1f};
    baton_optim_config oc = baton_optim_defaults();
    oc.kind = kind;
    oc.lr = kind == BATON_OPT_SGD ? 0.5f : 2e-3f;
    return baton_trainer_create(tr, be, &mc, &oc, d->hb.S_max, d->hb.T_max, B_max, 11, 1) == BATON_OK;
}

/* m = a and b side by side: B_a + B_b sentences, time-major, padded with 0 to the longer. */
static void merge(baton_host_batch *m, const baton_host_batch *a, const baton_host_batch *b)
{
    m->B = a->B + b->B, m->S = a->S > b->S ? a->S : b->S, m->T = a->T > b->T ? a->T : b->T;
    m->tgt_tokens = a->tgt_tokens + b->tgt_tokens, m->src_tokens = a->src_tokens + b->src_tokens;
    memset(m->src, 0, (size_t)m->S * m->B * sizeof(int));
    memset(m->tgt_in, 0, (size_t)m->T * m->B * sizeof(int));
    memset(m->tgt_out, 0, (size_t)m->T * m->B * sizeof(int));
    const baton_host_batch *parts[2] = {a, b};
    for (int p = 0, col = 0; p < 2; col += parts[p]->B, p++) {
        const baton_host_batch *x = parts[p];
        for (int j = 0; j < x->B; j++) {
            m->src_len[col + j] = x->src_len[j], m->tgt_len[col + j] = x->tgt_len[j];
            for (int s = 0; s < x->S; s++)
                m->src[s * m->B + col + j] = x->src[s * x->B + j];
            for (int t = 0; t < x->T; t++) {
                m->tgt_in[t * m->B + col + j] = x->tgt_in[t * x->B + j];
                m->tgt_out[t * m->B + col + j] = x->tgt_out[t * x->B + j];
            }
        }
    }
}

static float *weights(baton_trainer *tr)
{
    size_t bytes = baton_param_bytes(&tr->table);
    float *h = tu_malloc(bytes);
    if (tr->be->ops->download(tr->be, h, tr->params, bytes) != BATON_OK)
        tu_fill_nan(h, bytes / sizeof(float));
    return h;
}

/* max over weights of |a - b| / (1e-5 + 1e-4 |b|): <= 1 passes; NaN anywhere gives NaN. */
static double weight_err(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1e-5 + 1e-4 * fabs((double)b[i]));
        if (!(e <= worst))
            worst = e; /* NaN sticks */
    }
    return worst;
}

/* Check 1 and 4: K steps of SGD, two ranks against the merged batch. */
static void union_of_batches(tu_report *r, baton_dist *dist, baton_backend *be, baton_dataset *d)
{
    baton_trainer dp, one;
    baton_host_batch a, b, m;
    if (!make(&dp, be, d, BATON_OPT_SGD, BATCH) || !make(&one, be, d, BATON_OPT_SGD, 2 * BATCH) ||
        baton_trainer_use_dist(&dp, dist, "mpi") != BATON_OK ||
        baton_host_batch_alloc(&a, d->hb.S_max, d->hb.T_max, BATCH) != BATON_OK ||
        baton_host_batch_alloc(&b, d->hb.S_max, d->hb.T_max, BATCH) != BATON_OK ||
        baton_host_batch_alloc(&m, d->hb.S_max, d->hb.T_max, 2 * BATCH) != BATON_OK) {
        tu_check(r, "set-up", NAN, 0);
        return;
    }
    double loss_err = 0.0;
    for (int k = 0; k < STEPS; k++) {
        float mine, merged;
        double sum;
        baton_host_batch_fill(&a, &d->train, &d->train_b, 2 * k);
        baton_host_batch_fill(&b, &d->train, &d->train_b, 2 * k + 1);
        merge(&m, &a, &b);
        const baton_host_batch *own = dist->env.rank == 0 ? &a : &b;
        if (baton_trainer_step_shared(&dp, own, m.tgt_tokens, &mine) != BATON_OK ||
            baton_trainer_step(&one, &m, &merged) != BATON_OK) {
            tu_check(r, "steps", NAN, 0);
            return;
        }
        double l = mine;
        baton_dist_sum(dist, "the test's losses", &l, 1, &sum);
        double e = fabs(sum - merged) / fabs((double)merged);
        loss_err = e > loss_err || isnan(e) ? e : loss_err;
    }
    float *wd = weights(&dp), *w1 = weights(&one);
    size_t n = dp.table.total;
    tu_check(r, "two ranks = one process on the merged batch: loss (relative)", loss_err, 1e-5);
    tu_check(r, "two ranks = one process on the merged batch: weights after 3 SGD steps (err / bound)",
             weight_err(wd, w1, n), 1.0);
    tu_check(r, "every rank holds the same weights (checksum)",
             baton_dist_check_weights(dist, wd, n, STEPS) == BATON_OK ? 0.0 : 1.0, 0.0);
    tu_check(r, "several buckets per update", dist->stats.buckets > dist->stats.reductions ? 0.0 : 1.0, 0.0);
    tu_check(r, "every float summed once per update",
             fabs(dist->stats.bytes - 4.0 * (double)n * (double)dist->stats.reductions), 0.0);
    free(wd), free(w1);
    baton_host_batch_free(&a), baton_host_batch_free(&b), baton_host_batch_free(&m);
    baton_trainer_destroy(&dp), baton_trainer_destroy(&one);
}

/* Check 2: rank 1 without a batch; Adam; bit for bit. */
static void idle_rank(tu_report *r, baton_dist *dist, baton_backend *be, baton_dataset *d)
{
    baton_trainer dp, one;
    if (!make(&dp, be, d, BATON_OPT_ADAM, BATCH) || !make(&one, be, d, BATON_OPT_ADAM, BATCH) ||
        baton_trainer_use_dist(&dp, dist, "mpi") != BATON_OK) {
        tu_check(r, "set-up (idle rank)", NAN, 0);
        return;
    }
    baton_host_batch_fill(&d->hb, &d->train, &d->train_b, 5);
    float l0 = NAN, l1 = NAN;
    int ok = baton_trainer_step_shared(&dp, dist->env.rank == 0 ? &d->hb : NULL, d->hb.tgt_tokens, &l0) == BATON_OK &&
             baton_trainer_step(&one, &d->hb, &l1) == BATON_OK;
    float *wd = weights(&dp), *w1 = weights(&one);
    size_t n = dp.table.total, diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += memcmp(&wd[i], &w1[i], sizeof(float)) != 0;
    tu_check(r, "a rank without a batch: the update is the other rank's alone, bit for bit (floats that differ)",
             ok ? (double)diff : NAN, 0.0);
    tu_check(r, "a rank without a batch adds no loss", dist->env.rank == 1 ? fabs((double)l0) : fabs((double)(l0 - l1)),
             0.0);
    free(wd), free(w1);
    baton_trainer_destroy(&dp), baton_trainer_destroy(&one);
}

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "cpu";
    if (!BATON_HAVE_MPI) {
        printf("skip: this build has no Open MPI\n");
        return 77;
    }
    baton_dist dist;
    /* 0.004 MB = 1048 floats: the small model's ~30k gradients leave in several buckets */
    if (baton_dist_init(&dist, 60.0, 0.004) != BATON_OK)
        return 1;
    if (dist.env.size != 2) {
        printf("skip: run under a launcher of 2 ranks (mpirun -np 2), not %d\n", dist.env.size);
        baton_dist_finalize(&dist);
        return 77;
    }
    baton_backend be;
    baton_backend_options o = {.threads = 1, .precision = BATON_PRECISION_FP32};
    if (baton_backend_create_ex(&be, backend, &o) != BATON_OK) {
        printf("skip: no %s backend\n", backend);
        baton_dist_finalize(&dist);
        return 77;
    }
    baton_dataset d;
    tu_report r = {0};
    if (!load(&d))
        tu_check(&r, "data", NAN, 0);
    else {
        union_of_batches(&r, &dist, &be, &d);
        idle_rank(&r, &dist, &be, &d);
        baton_dataset_free(&d);
    }
    baton_backend_destroy(&be);
    char what[64];
    snprintf(what, sizeof what, "data parallel, rank %d of 2, %s", dist.env.rank, backend);
    int rc = tu_summary(&r, what);
    double fails = rc != 0, all;
    baton_dist_sum(&dist, "the test's verdicts", &fails, 1, &all); /* one rank's failure fails both */
    baton_dist_finalize(&dist);
    return all > 0 ? 1 : 0;
}
