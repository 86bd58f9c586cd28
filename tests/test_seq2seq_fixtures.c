/* test_seq2seq_fixtures.c: the whole design.md model against PyTorch (float64) reference values:
 * for every cell (lstm, gru), score (dot, general, additive), encoder (uni, bi) and input
 * feeding (off, on), the logits at every real target position, the mean loss (label smoothing 0.1), the
 * per-sentence log-probabilities and the gradient of every parameter tensor.
 * Error measure, per tensor: ||baton - ref|| / (TOL ||ref|| + ATOL), in double; <= 1 passes.
 * TOL = 2e-5: the fixtures' README expects ~1e-5 relative from a float32 implementation; this
 * graph chains two recurrent stacks, attention and a softmax, and the exp/tanh of cell_math.h are
 * within 2 ulp rather than libm's 1, so twice that leaves honest rounding room while a wrong
 * index, gate, mask or transpose gives errors of 1e-2 and more.
 * ATOL = 1e-9: float32 holds ~7 digits of the largest terms a result is summed from, not of a
 * result formed by cancellation. With these small weights the additive attention's gradients are
 * ~1e-8, sums over softmax-gradient rows (which add up to zero) of terms ~1e-5, so their float32
 * floor is ~1e-11 absolute, or 1e-3 relative. 1e-9 is above that floor and ten times below those
 * gradients' own size, so a missing or wrong term still fails. NaN fails.
 * Both decoder modes: input feeding off (whole sequences) and on (step by step). Both versions of
 * the generator + loss (be->versions.loss): plain (all logits materialised: logits, loss, log p,
 * gradients) and fused (src/model/generator.c: loss, log p and gradients; its logits are never
 * whole), the fused one in chunks of R rows with R the smallest number > 1 that does not divide
 * T*B, and R = 1, from the fused carve (baton_s2s_acts_carve_ex): the same TOL and ATOL hold, as
 * chunking changes float rounding only (test_seq2seq_paths compares the two versions directly, to
 * 1e-5). Exits 77 when ../shared/fixtures is absent. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/seq2seq.h"
#include "safetensors.h"
#include "testutil.h"

#define TOL 2e-5
#define ATOL 1e-9

/* ||got - ref|| / (TOL ||ref|| + ATOL); +inf on NaN (see the header comment). */
static double err_ratio(const float *got, const double *ref, size_t n)
{
    double d = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)got[i] - ref[i];
        d += e * e;
        r += ref[i] * ref[i];
    }
    double ratio = sqrt(d) / (TOL * sqrt(r) + ATOL);
    return isnan(ratio) ? INFINITY : ratio;
}

/* Prints and counts one tensor's check. */
static void check(tu_report *r, const char *what, const float *got, const double *ref, size_t n)
{
    char name[400];
    snprintf(name, sizeof name, "%s (err/tol)", what);
    tu_check(r, name, ref ? err_ratio(got, ref, n) : INFINITY, 1.0);
}

/* The loss, the per-sentence log-probabilities and every parameter gradient of one version (already
 * set in be->versions.loss) against the references; `acts` carved, with chunks of `chunk` rows when
 * fused. "loss" and "log p" come from an evaluation forward, the gradients from a training one. */
static void check_version(tu_report *r, const char *label, baton_backend *be, const baton_s2s *m, baton_s2s_acts *acts,
                          const float *params, float *grads, const baton_param_table *t, const baton_s2s_batch *batch,
                          st_file *f, const double *ref_loss, const double *ref_lp, int chunk)
{
    int B = batch->B, T = batch->T;
    char what[360];
    acts->chunk_rows = chunk;
    tu_fill_nan(acts->logp, (size_t)T * B);
    tu_fill_nan(acts->loss, 1);
    int ok = baton_s2s_forward(be, m, acts, params, t, batch, NULL, 0) == BATON_OK;
    float loss = ok ? acts->loss[0] / (float)batch->tgt_tokens : NAN, lp[64];
    snprintf(what, sizeof what, "%s loss", label);
    check(r, what, &loss, ref_loss, 1);
    for (int b = 0; b < B && b < 64; b++) {
        double s = 0.0;
        for (int s2 = 0; s2 < T; s2++)
            s += ok ? acts->logp[s2 * B + b] : NAN;
        lp[b] = (float)s;
    }
    snprintf(what, sizeof what, "%s sentence log-probabilities", label);
    check(r, what, lp, ref_lp, (size_t)(B < 64 ? B : 64));
    memset(grads, 0, t->total * sizeof(float)); /* backward accumulates */
    ok = baton_s2s_forward(be, m, acts, params, t, batch, NULL, 1) == BATON_OK &&
         baton_s2s_backward(be, m, acts, grads, params, t, batch, NULL) == BATON_OK;
    for (int i = 0; i < t->count; i++) {
        char key[BATON_PARAM_NAME_MAX + 2];
        snprintf(key, sizeof key, "d_%s", t->items[i].name);
        double *ref = st_read_double(f, key, t->items[i].numel);
        snprintf(what, sizeof what, "%s %s", label, key);
        if (ok)
            check(r, what, grads + t->items[i].offset, ref, t->items[i].numel);
        else
            tu_check(r, what, INFINITY, 1.0);
        free(ref);
    }
}

static int json_int(const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static int json_true(const cJSON *cfg, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, key));
}

static const char *json_str(const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* (B,N) batch-major ids to (N,B) time-major. */
static int *ids_tb(const int *bt, int B, int N)
{
    int *tb = malloc((size_t)B * N * sizeof(int));
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            tb[n * B + b] = bt[b * N + n];
    return tb;
}

static void run_file(tu_report *r, const char *dir, const char *name)
{
    char path[1100], label[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(label, sizeof label, "%.*s", (int)(strlen(name) - strlen(".safetensors")), name);
    st_file f;
    if (st_open(&f, path) != 0) {
        tu_check(r, label, INFINITY, 1.0);
        return;
    }
    cJSON *cfg = cJSON_Parse(st_config(&f) ? st_config(&f) : "");
    baton_s2s_config mc = {0};
    int ok = cfg != NULL && baton_cell_parse(&mc.cell, json_str(cfg, "cell")) == BATON_OK &&
             baton_attn_score_parse(&mc.score, json_str(cfg, "attention")) == BATON_OK;
    if (ok) {
        mc.src_vocab = json_int(cfg, "src_vocab");
        mc.tgt_vocab = json_int(cfg, "tgt_vocab");
        mc.emb = json_int(cfg, "emb");
        mc.hidden = json_int(cfg, "hidden");
        mc.layers = json_int(cfg, "layers");
        mc.bidirectional = json_true(cfg, "bidirectional");
        mc.input_feed = json_true(cfg, "input_feed");
        mc.tie_generator = json_true(cfg, "tied");
        mc.label_smoothing = (float)cJSON_GetObjectItemCaseSensitive(cfg, "label_smoothing")->valuedouble;
    }
    const st_tensor *src_t = st_get(&f, "src"), *tgt_t = st_get(&f, "tgt_in");
    ok = ok && src_t && tgt_t;
    int B = ok ? (int)src_t->shape[0] : 0, S = ok ? (int)src_t->shape[1] : 0, T = ok ? (int)tgt_t->shape[1] : 0;
    int V = mc.tgt_vocab, TB = T * B;

    baton_backend be;
    baton_param_table t;
    baton_param_table_init(&t);
    baton_s2s m;
    ok = ok && baton_cpu_backend_create(&be, 0) == BATON_OK && baton_s2s_init(&m, &mc, &t) == BATON_OK;
    float *params = NULL, *grads = NULL;
    int *src = NULL, *tgt_in = NULL, *tgt_out = NULL, *src_len = NULL, *tgt_len = calloc((size_t)B + 1, sizeof(int));
    ok = ok && baton_param_buffer_alloc(&be, &t, &params, "parameters") == BATON_OK &&
         baton_param_buffer_alloc(&be, &t, &grads, "gradients") == BATON_OK;
    for (int i = 0; ok && i < t.count; i++) {
        float *w = st_read_float(&f, t.items[i].name, t.items[i].numel);
        ok = w != NULL;
        if (ok)
            memcpy(params + t.items[i].offset, w, t.items[i].numel * sizeof(float));
        free(w);
    }
    int *bt_src = ok ? st_read_int(&f, "src", (size_t)B * S) : NULL, *bt_in = ok ? st_read_int(&f, "tgt_in", (size_t)TB) : NULL;
    int *bt_out = ok ? st_read_int(&f, "tgt_out", (size_t)TB) : NULL;
    src_len = ok ? st_read_int(&f, "src_lengths", (size_t)B) : NULL;
    ok = ok && bt_src && bt_in && bt_out && src_len;
    baton_s2s_batch batch = {.B = B, .S = S, .T = T};
    if (ok) {
        src = ids_tb(bt_src, B, S);
        tgt_in = ids_tb(bt_in, B, T);
        tgt_out = ids_tb(bt_out, B, T);
        for (int i = 0; i < TB; i++)
            if (bt_out[i]) {
                tgt_len[i / T]++;
                batch.tgt_tokens++;
            }
        batch.src = src, batch.src_len = src_len, batch.tgt_in = tgt_in, batch.tgt_out = tgt_out;
        batch.tgt_len = tgt_len;
    }
    float scale = batch.tgt_tokens ? 1.0f / (float)batch.tgt_tokens : 1.0f; /* cpu: host memory */
    batch.loss_scale = &scale;

    baton_arena measure = baton_arena_measuring(), arena = {0};
    baton_s2s_acts acts;
    memset(&acts, 0, sizeof acts);
    be.versions.loss = 0; /* plain first: its logits are whole */
    ok = ok && baton_s2s_acts_carve(&acts, &measure, &m, S, T, B) == BATON_OK &&
         baton_arena_create(&arena, &be, measure.used) == BATON_OK &&
         baton_s2s_acts_carve(&acts, &arena, &m, S, T, B) == BATON_OK;
    char what[320];
    if (ok) {
        tu_fill_nan(acts.logits, (size_t)TB * V);
        tu_fill_nan(acts.logp, (size_t)TB);
        ok = baton_s2s_forward(&be, &m, &acts, params, &t, &batch, NULL, 0) == BATON_OK;
    }
    double *ref_logits = ok ? st_read_double(&f, "logits", (size_t)TB * V) : NULL;
    double *ref_loss = ok ? st_read_double(&f, "loss", 1) : NULL, *ref_lp = ok ? st_read_double(&f, "sentence_logprob", (size_t)B) : NULL;
    if (ok && ref_logits && ref_loss && ref_lp) {
        /* logits at real target positions only: what the model computes at padding is unspecified */
        size_t n = 0;
        float *got = malloc((size_t)TB * V * sizeof(float));
        double *want = malloc((size_t)TB * V * sizeof(double));
        for (int b = 0; b < B; b++)
            for (int s = 0; s < T; s++)
                if (bt_out[b * T + s])
                    for (int v = 0; v < V; v++, n++) {
                        got[n] = acts.logits[((size_t)s * B + b) * V + v];
                        want[n] = ref_logits[((size_t)b * T + s) * V + v];
                    }
        snprintf(what, sizeof what, "%s logits", label);
        check(r, what, got, want, n);
        free(got);
        free(want);
        snprintf(what, sizeof what, "%s plain", label);
        check_version(r, what, &be, &m, &acts, params, grads, &t, &batch, &f, ref_loss, ref_lp, acts.chunk_rows);
        /* fused, from its own carve, in chunks that do not divide T*B and of one row */
        int chunks[2] = {2, 1};
        while (chunks[0] < TB && TB % chunks[0] == 0)
            chunks[0]++;
        baton_s2s_acts_release(&acts);
        baton_arena_destroy(&arena);
        measure = baton_arena_measuring();
        be.versions.loss = 1;
        ok = baton_s2s_acts_carve_ex(&acts, &measure, &m, S, T, B, 1) == BATON_OK &&
             baton_arena_create(&arena, &be, measure.used) == BATON_OK &&
             baton_s2s_acts_carve_ex(&acts, &arena, &m, S, T, B, 1) == BATON_OK;
        for (int k = 0; ok && k < 2; k++) {
            snprintf(what, sizeof what, "%s fused R=%d", label, chunks[k]);
            check_version(r, what, &be, &m, &acts, params, grads, &t, &batch, &f, ref_loss, ref_lp, chunks[k]);
        }
    }
    if (!ok) {
        snprintf(what, sizeof what, "%s (setup or run failed)", label);
        tu_check(r, what, INFINITY, 1.0);
    }
    free(ref_logits), free(ref_loss), free(ref_lp), free(bt_src), free(bt_in), free(bt_out);
    free(src), free(tgt_in), free(tgt_out), free(src_len), free(tgt_len);
    baton_s2s_acts_release(&acts);
    baton_arena_destroy(&arena);
    if (params)
        be.ops->free(&be, params);
    if (grads)
        be.ops->free(&be, grads);
    baton_param_table_free(&t);
    baton_backend_destroy(&be);
    cJSON_Delete(cfg);
    st_close(&f);
}

int main(void)
{
    char dir[900];
    if (!testutil_fixture_dir(dir, sizeof dir)) {
        fprintf(stderr, "seq2seq_fixtures: skipped: no fixture directory (set BATON_FIXTURES)\n");
        return TU_EXIT_SKIP;
    }
    tu_report r = {0, 0};
    const char *cells[] = {"lstm", "gru"}, *scores[] = {"dot", "general", "additive"}, *dirs[] = {"uni", "bi"};
    const char *feeds[] = {"nofeed", "feed"};
    for (int c = 0; c < 2; c++)
        for (int s = 0; s < 3; s++)
            for (int fd = 0; fd < 2; fd++)
                for (int d = 0; d < 2; d++) {
                    char name[128];
                    snprintf(name, sizeof name, "seq2seq_%s_%s_%s_%s.safetensors", cells[c], scores[s], feeds[fd],
                             dirs[d]);
                    run_file(&r, dir, name);
                }
    return tu_summary(&r, "seq2seq fixtures");
}
