/* test_seq2seq_paths.c: ways through the model that must agree.
 *   - The training forward (all T target steps in one call; with input feeding, its own step
 *     loop) and the decoding path (T = 1 per call, state and fed h~ carried), fed the same target
 *     tokens, give the same logits at every real target position. Tolerance 1e-5 relative norm: the two
 *     paths multiply the same numbers in GEMMs of different shapes (different blockings).
 *   - A model saved to safetensors and loaded back has bit-identical parameters and gives
 *     bit-identical logits (needs a build with cJSON to load; skipped otherwise).
 *   - The fused generator + loss (be->versions.loss = 1, src/model/generator.c) against the plain
 *     one, with dropout on every site (h~ after dropout feeds the generator) and label smoothing:
 *     training (forward + backward: the loss, log p of every token and every parameter gradient)
 *     and evaluation (forward alone: loss and log p), in chunks of R = T*B (one chunk), 4 (does
 *     not divide T*B = 18: 4+4+4+4+2) and 1 row. The activations are told that their logits hold
 *     R rows only, as a carve for such a chunk would make them, and every row past R must still
 *     hold its poison afterwards (the logits are never materialised beyond one chunk).
 *     Error: relative norm per tensor (tu_rel_err_ff; NaN fails), the worst gradient tensor
 *     reported. FUSED_TOL = 5e-5: both versions compute the same products; the fused one splits the
 *     sums over rows (dW_out, db_out, the loss) at chunk boundaries, each boundary adding one float
 *     rounding (2^-24 ~ 6e-8 of the running sum) and GEMMs of other shapes may block differently
 *     (a few ulp); with at most 18 chunks that is ~1e-6 where terms do not cancel. Where they do
 *     (the additive attention's query gradients: sums of tanh' terms of both signs) the relative
 *     error grows by the cancellation: up to 2.3e-5 measured on an AMD Zen 3 (OpenBLAS's Haswell
 *     kernels; under 1e-5 on an AVX-512 Xeon). A chunk skipped, taken twice or offset by a row
 *     changes a tensor by ~1/18 ~ 5e-2.
 *   - The carve for the fused loss: acts->logits of one chunk (baton_s2s_chunk_rows: 192 rows for
 *     V = 32000, 768 for V = 8000) instead of T*B rows; the measured arena shrinks by exactly the
 *     difference (gnmt's batch of 128 x 50 tokens: 795 MB). The plain loss on activations whose
 *     logits hold fewer rows than the batch is refused (BATON_ERR_INVALID), never overrun. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/rng.h"
#include "baton/safetensors.h"
#include "baton/seq2seq.h"
#include "baton_config.h"
#include "testutil.h"

enum { B = 3, S = 5, T = 6, V = 11 };
static const int src_len[B] = {5, 1, 3}, tgt_len[B] = {6, 2, 4};

typedef struct {
    baton_backend be;
    baton_s2s m;
    baton_param_table t;
    float *params;
    int src[S * B], tin[T * B], tout[T * B];
    baton_s2s_batch batch;
} fixture;

static int setup(fixture *f, baton_cell cell, baton_attn_score score, int bidir, int feed)
{
    baton_s2s_config c = {.cell = cell, .src_vocab = V, .tgt_vocab = V, .emb = 8, .hidden = 8, .layers = 2,
                          .bidirectional = bidir, .score = score, .label_smoothing = 0.1f, .input_feed = feed,
                          .dropout = 0.2f}; /* used by the fused-vs-plain check only: the others pass no key */
    baton_param_table_init(&f->t);
    f->params = NULL;
    if (baton_cpu_backend_create(&f->be, 1) != BATON_OK || baton_s2s_init(&f->m, &c, &f->t) != BATON_OK ||
        baton_param_buffer_alloc(&f->be, &f->t, &f->params, "params") != BATON_OK)
        return 0;
    tu_fill_uniform(f->params, f->t.total, -0.5f, 0.5f, 5, (uint32_t)(cell * 8 + score * 2 + bidir));
    int tokens = 0;
    for (int b = 0; b < B; b++) {
        for (int s = 0; s < S; s++)
            f->src[s * B + b] = s < src_len[b] ? 4 + (int)(baton_rng_uniform(1, BATON_RNG_TEST | 7, 0, (uint64_t)(s * B + b)) * (V - 4)) : 0;
        for (int s = 0; s < T; s++) {
            int y = 4 + (int)(baton_rng_uniform(1, BATON_RNG_TEST | 8, 0, (uint64_t)(s * B + b)) * (V - 4));
            f->tin[s * B + b] = s == 0 ? 2 : s < tgt_len[b] ? f->tout[(s - 1) * B + b] : 0;
            f->tout[s * B + b] = s < tgt_len[b] ? (s + 1 == tgt_len[b] ? 3 : y) : 0;
            tokens += s < tgt_len[b];
        }
    }
    f->batch = (baton_s2s_batch){.B = B, .S = S, .T = T, .src = f->src, .src_len = src_len, .tgt_in = f->tin,
                                 .tgt_out = f->tout, .tgt_len = tgt_len, .tgt_tokens = tokens};
    return 1;
}

/* Logits (T,B,V) of the batched path into out. */
static int batched(fixture *f, const float *params, float *out)
{
    baton_arena measure = baton_arena_measuring(), arena;
    baton_s2s_acts a;
    int ok = baton_s2s_acts_carve(&a, &measure, &f->m, S, T, B) == BATON_OK &&
             baton_arena_create(&arena, &f->be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve(&a, &arena, &f->m, S, T, B) == BATON_OK &&
             baton_s2s_forward(&f->be, &f->m, &a, params, &f->t, &f->batch, NULL, 0) == BATON_OK;
    if (ok)
        memcpy(out, a.logits, sizeof(float) * T * B * V);
    baton_s2s_acts_release(&a);
    baton_arena_destroy(&arena);
    return ok;
}

/* Logits of the step-by-step path, one target step per call with the state carried. */
static int stepwise(fixture *f, float *out)
{
    baton_arena measure = baton_arena_measuring(), arena;
    baton_s2s_acts a;
    int L = f->m.cfg.layers, H = f->m.cfg.hidden, ones[B] = {1, 1, 1};
    float *h = malloc(sizeof(float) * L * B * H), *c = malloc(sizeof(float) * L * B * H);
    int ok = baton_s2s_acts_carve(&a, &measure, &f->m, S, 1, B) == BATON_OK &&
             baton_arena_create(&arena, &f->be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve(&a, &arena, &f->m, S, 1, B) == BATON_OK &&
             baton_s2s_encode(&f->be, &f->m, &a, f->params, &f->t, f->src, src_len, S, B, NULL) == BATON_OK;
    for (int s = 0; ok && s < T; s++) {
        ok = baton_s2s_decode(&f->be, &f->m, &a, f->params, &f->t, src_len, S, f->tin + s * B, ones, 1, B,
                              s ? h : a.dec_h0, s ? c : a.dec_c0, h, c, NULL) == BATON_OK;
        if (ok)
            memcpy(out + (size_t)s * B * V, a.logits, sizeof(float) * B * V);
    }
    baton_s2s_acts_release(&a);
    baton_arena_destroy(&arena);
    free(h);
    free(c);
    return ok;
}

/* Copies the logits of real target positions only (padding differs by design: masked vs fed). */
static size_t real_positions(const float *logits, float *dst)
{
    size_t n = 0;
    for (int s = 0; s < T; s++)
        for (int b = 0; b < B; b++)
            if (s < tgt_len[b])
                for (int v = 0; v < V; v++)
                    dst[n++] = logits[((size_t)s * B + b) * V + v];
    return n;
}

static void check_round_trip(tu_report *r, fixture *f, const char *label, const float *ref_logits)
{
#if BATON_HAVE_CJSON
    char dir[] = "/tmp/baton_paths_XXXXXX", path[64], name[160];
    float *loaded = malloc(sizeof(float) * f->t.total), *logits = malloc(sizeof(float) * T * B * V);
    tu_fill_nan(loaded, f->t.total);
    int ok = mkdtemp(dir) != NULL;
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ok = ok && baton_safetensors_save(path, &f->t, f->params, NULL, NULL, 0) == BATON_OK &&
         baton_safetensors_load(path, &f->t, loaded) == BATON_OK;
    double differ = 0;
    for (int i = 0; ok && i < f->t.count; i++)
        differ += memcmp(loaded + f->t.items[i].offset, f->params + f->t.items[i].offset,
                         f->t.items[i].numel * sizeof(float)) != 0;
    ok = ok && batched(f, loaded, logits);
    snprintf(name, sizeof name, "%s: save/load, tensors that differ", label);
    tu_check_abs(r, name, ok ? differ : INFINITY, 0);
    snprintf(name, sizeof name, "%s: save/load, logits identical (bytes that differ)", label);
    tu_check_abs(r, name, ok ? (double)(memcmp(logits, ref_logits, sizeof(float) * T * B * V) != 0) : INFINITY, 0);
    unlink(path);
    rmdir(dir);
    free(loaded);
    free(logits);
#else
    (void)r, (void)f, (void)label, (void)ref_logits;
    printf("save/load round trip skipped: this build has no cJSON to load safetensors\n");
#endif
}

#define FUSED_TOL 5e-5

/* One forward (and with grads, backward) with loss version `version` and dropout; for the fused
 * version chunks of `chunk` rows, the logits declared to hold only those rows. *beyond = elements
 * of the logits past that chunk that lost their poison (NaN). Returns 1 when everything ran. */
static int loss_run(fixture *f, int version, int chunk, float *loss, float *logp, float *grads, int *beyond)
{
    enum { TB = T * B };
    static const uint32_t counter = 7;
    baton_dropout_key drop = {.seed = 23, .counter = &counter};
    float scale = 1.0f / (float)f->batch.tgt_tokens; /* cpu: the loss scale's device memory is the host's */
    baton_s2s_batch batch = f->batch;
    batch.loss_scale = &scale;
    f->be.versions.loss = version;
    baton_arena measure = baton_arena_measuring(), arena = {0};
    baton_s2s_acts a;
    int ok = baton_s2s_acts_carve_ex(&a, &measure, &f->m, S, T, B, version) == BATON_OK &&
             baton_arena_create(&arena, &f->be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve_ex(&a, &arena, &f->m, S, T, B, version) == BATON_OK;
    int carved = ok ? a.logit_rows : 0;
    if (ok) {
        tu_fill_nan(a.logits, (size_t)carved * V);
        tu_fill_nan(a.logp, TB);
        tu_fill_nan(a.loss, 1);
        tu_fill_nan(a.d_th, (size_t)TB * f->m.cfg.hidden);
        if (version) /* as a carve for chunks of this size would lay them out */
            a.chunk_rows = a.logit_rows = chunk;
        if (grads)
            memset(grads, 0, f->t.total * sizeof(float));
        ok = baton_s2s_forward(&f->be, &f->m, &a, f->params, &f->t, &batch, &drop, grads != NULL) == BATON_OK &&
             (!grads || baton_s2s_backward(&f->be, &f->m, &a, grads, f->params, &f->t, &batch, &drop) == BATON_OK);
    }
    *beyond = 0;
    for (size_t i = version ? (size_t)chunk * V : (size_t)carved * V; ok && i < (size_t)carved * V; i++)
        *beyond += !isnan(a.logits[i]);
    if (ok) {
        *loss = a.loss[0];
        memcpy(logp, a.logp, sizeof(float) * TB);
    }
    baton_s2s_acts_release(&a);
    baton_arena_destroy(&arena);
    f->be.versions.loss = 0;
    return ok;
}

/* The fused loss against the plain one (see the header comment). */
static void check_fused(tu_report *r, fixture *f, const char *label)
{
    enum { TB = T * B };
    float pl, pe, fl, fe, plp[TB], pelp[TB], flp[TB], felp[TB];
    float *pg = malloc(f->t.total * sizeof(float)), *fg = malloc(f->t.total * sizeof(float));
    int beyond = 0, unused;
    int ok = pg && fg && loss_run(f, 0, 0, &pl, plp, pg, &unused) && loss_run(f, 0, 0, &pe, pelp, NULL, &unused);
    const int chunks[] = {TB, 4, 1};
    char name[400];
    for (int k = 0; k < 3; k++) {
        int R = chunks[k], okf = ok, be2 = 0;
        okf = okf && loss_run(f, 1, R, &fl, flp, fg, &beyond) && loss_run(f, 1, R, &fe, felp, NULL, &be2);
        snprintf(name, sizeof name, "%s: fused R=%d vs plain, training: loss", label, R);
        tu_check(r, name, okf ? tu_rel_err_ff(&fl, &pl, 1) : INFINITY, FUSED_TOL);
        snprintf(name, sizeof name, "%s: fused R=%d vs plain, training: log p per token", label, R);
        tu_check(r, name, okf ? tu_rel_err_ff(flp, plp, TB) : INFINITY, FUSED_TOL);
        double worst = okf ? 0.0 : INFINITY;
        const char *which = "all bit-identical";
        for (int i = 0; okf && i < f->t.count; i++) {
            const baton_param *p = &f->t.items[i];
            double e = tu_rel_err_ff(fg + p->offset, pg + p->offset, p->numel);
            if (!(e <= worst)) /* NaN wins */
                worst = e, which = p->name;
        }
        snprintf(name, sizeof name, "%s: fused R=%d vs plain, training: gradients, worst of %d tensors (%s)", label, R,
                 f->t.count, which);
        tu_check(r, name, worst, FUSED_TOL);
        snprintf(name, sizeof name, "%s: fused R=%d vs plain, evaluation: loss and log p per token", label, R);
        tu_check(r, name, okf ? fmax(tu_rel_err_ff(&fe, &pe, 1), tu_rel_err_ff(felp, pelp, TB)) : INFINITY, FUSED_TOL);
        snprintf(name, sizeof name, "%s: fused R=%d: logits written past the chunk", label, R);
        tu_check_abs(r, name, okf ? (double)(beyond + be2) : INFINITY, 0);
    }
    free(pg);
    free(fg);
}

/* The plain loss refuses activations whose logits hold one chunk of fewer rows than the batch. */
static void check_plain_refused(tu_report *r, fixture *f)
{
    float scale = 1.0f / (float)f->batch.tgt_tokens;
    baton_s2s_batch batch = f->batch;
    batch.loss_scale = &scale;
    baton_arena measure = baton_arena_measuring(), arena = {0};
    baton_s2s_acts a;
    int ok = baton_s2s_acts_carve_ex(&a, &measure, &f->m, S, T, B, 1) == BATON_OK &&
             baton_arena_create(&arena, &f->be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve_ex(&a, &arena, &f->m, S, T, B, 1) == BATON_OK;
    baton_status st = BATON_OK;
    if (ok) {
        a.logit_rows = a.chunk_rows = 4; /* as a carve for chunks of 4 rows would lay them out */
        tu_fill_nan(a.logits + 4 * V, (size_t)(T * B - 4) * V);
        f->be.versions.loss = 0;
        printf("seq2seq_paths: the plain loss on a fused carve: the error line below is expected\n");
        st = baton_s2s_forward(&f->be, &f->m, &a, f->params, &f->t, &batch, NULL, 0);
    }
    int untouched = 1;
    for (size_t i = 4 * V; ok && i < (size_t)T * B * V; i++)
        untouched &= isnan(a.logits[i]);
    tu_check_abs(r, "plain loss on activations carved for the fused one: refused, logits past the chunk untouched",
                 ok && st == BATON_ERR_INVALID && untouched ? 0 : 1, 0);
    baton_s2s_acts_release(&a);
    baton_arena_destroy(&arena);
}

/* The fused carve's logits: one chunk, and the arena smaller by exactly the rows it leaves out. */
static void check_carve(tu_report *r, int V_big, int B_big, int T_big, int want_rows)
{
    baton_s2s_config c = {.cell = BATON_CELL_LSTM, .src_vocab = V_big, .tgt_vocab = V_big, .emb = 8, .hidden = 8,
                          .layers = 1, .score = BATON_ATTN_GENERAL, .dropout = 0.2f};
    baton_param_table t;
    baton_param_table_init(&t);
    baton_s2s m;
    baton_s2s_acts plain, fused;
    baton_arena mp = baton_arena_measuring(), mf = baton_arena_measuring();
    int ok = baton_s2s_init(&m, &c, &t) == BATON_OK &&
             baton_s2s_acts_carve_ex(&plain, &mp, &m, T_big, T_big, B_big, 0) == BATON_OK &&
             baton_s2s_acts_carve_ex(&fused, &mf, &m, T_big, T_big, B_big, 1) == BATON_OK;
    char name[200];
    snprintf(name, sizeof name, "carve V=%d, B=%d, T=%d: fused chunk rows %d (expected %d), plain logit rows %d",
             V_big, B_big, T_big, ok ? fused.logit_rows : -1, want_rows, ok ? plain.logit_rows : -1);
    tu_check_abs(r, name,
                 ok && fused.logit_rows == want_rows && fused.chunk_rows == want_rows &&
                         plain.logit_rows == T_big * B_big &&
                         (want_rows < T_big * B_big ? baton_s2s_chunk_rows(V_big) == want_rows
                                                    : baton_s2s_chunk_rows(V_big) >= want_rows)
                     ? 0 : 1, 0);
    double saved = ok ? (double)mp.used - (double)mf.used : 0.0;
    double want = ((double)T_big * B_big - want_rows) * V_big * sizeof(float);
    printf("carve V=%d, B=%d, T=%d: arena %.1f MB plain, %.1f MB fused\n", V_big, B_big, T_big, mp.used / 1e6,
           mf.used / 1e6);
    snprintf(name, sizeof name, "carve V=%d, B=%d, T=%d: bytes saved %.0f, expected the left-out rows' %.0f", V_big,
             B_big, T_big, saved, want);
    tu_check_abs(r, name, ok ? fabs(saved - want) : INFINITY, BATON_ARENA_ALIGN);
    baton_s2s_acts_release(&plain);
    baton_s2s_acts_release(&fused);
    baton_param_table_free(&t);
}

int main(void)
{
    tu_report r = {0, 0};
    baton_cell cells[] = {BATON_CELL_LSTM, BATON_CELL_GRU};
    for (int ci = 0; ci < 2; ci++)
        for (int sc = BATON_ATTN_DOT; sc <= BATON_ATTN_ADDITIVE; sc++)
            for (int bf = 0; bf < 4; bf++) {
                int bidir = bf & 1, feed = bf >> 1;
                fixture f;
                char label[96], name[160];
                snprintf(label, sizeof label, "%s %s %s%s", baton_cell_name(cells[ci]),
                         baton_attn_score_name((baton_attn_score)sc), bidir ? "bi" : "uni", feed ? " feed" : "");
                static float a[T * B * V], s[T * B * V], ra[T * B * V], rs[T * B * V];
                tu_fill_nan(s, T * B * V);
                int ok = setup(&f, cells[ci], (baton_attn_score)sc, bidir, feed) && batched(&f, f.params, a) && stepwise(&f, s);
                size_t n = real_positions(a, ra);
                real_positions(s, rs);
                snprintf(name, sizeof name, "%s: step-by-step logits vs batched", label);
                tu_check(&r, name, ok ? tu_rel_err_ff(rs, ra, n) : INFINITY, 1e-5);
                if (ok)
                    check_round_trip(&r, &f, label, a);
                if (ok)
                    check_fused(&r, &f, label);
                if (ok && ci == 0 && sc == BATON_ATTN_DOT && bf == 0)
                    check_plain_refused(&r, &f);
                if (f.params)
                    f.be.ops->free(&f.be, f.params);
                baton_param_table_free(&f.t);
                baton_backend_destroy(&f.be);
            }
    check_carve(&r, 32000, 128, 50, 192); /* gnmt */
    check_carve(&r, 8000, 64, 50, 768);   /* base */
    check_carve(&r, 11, 3, 6, 18);        /* a chunk larger than the batch: all of its rows */
    return tu_summary(&r, "seq2seq paths");
}
