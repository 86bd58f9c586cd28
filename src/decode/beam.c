/* beam.c: batched beam search with finished hypotheses leaving the batch (decode.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baton/attn_math.h"
#include "baton/vocab.h"
#include "decode_internal.h"

typedef struct {
    double total; /* log-probability of the extended hypothesis */
    int row, tok;
} cand;

typedef struct {
    int step, row; /* tokens are the rows created at steps < step, backtracked from `row` */
    double logprob;
    float score;
    int finished;
    int order; /* position in the source's list: the tie-break */
} fin;

baton_status baton_beam_create(baton_beam *bm, baton_backend *be, const baton_s2s *m, int S_max, int B_max,
                               int beam, int max_len, int with_attn)
{
    memset(bm, 0, sizeof *bm);
    BATON_REQUIRE(beam >= 1 && beam < BATON_TOPK_MAX && beam < m->cfg.tgt_vocab && S_max >= 1 && B_max >= 1 &&
                      max_len >= 1,
                  "beam search: beam %d, S_max %d, B_max %d, max_len %d, expected each >= 1 and a beam below %d and "
                  "the target vocabulary (%d)",
                  beam, S_max, B_max, max_len, BATON_TOPK_MAX, m->cfg.tgt_vocab);
    bm->be = be, bm->m = m, bm->beam = beam, bm->S_max = S_max, bm->B_max = B_max, bm->max_len = max_len;
    int R = bm->R_max = B_max * beam, L = m->cfg.layers, H = m->cfg.hidden, K = bm->K = beam + 1;
    int G = S_max > L ? S_max : L;
    baton_arena measure = baton_arena_measuring();
    BATON_TRY(baton_s2s_acts_carve(&bm->acts, &measure, m, S_max, 1, R));
    BATON_TRY(baton_arena_create(&bm->arena, be, measure.used));
    BATON_TRY(baton_s2s_acts_carve(&bm->acts, &bm->arena, m, S_max, 1, R));
    baton_s2s_acts_no_grad(&bm->acts, 1);
    BATON_TRY(be->ops->alloc(be, (void **)&bm->mem, (size_t)S_max * B_max * H * sizeof(float), "beam memory"));
    if (be->versions.beammem && m->cfg.score != BATON_ATTN_ADDITIVE) {
        size_t bytes = (size_t)S_max * B_max * H * sizeof(float);
        BATON_TRY(be->ops->alloc(be, (void **)&bm->mem_values, bytes, "beam memory"));
        BATON_TRY(be->ops->alloc(be, (void **)&bm->group_values, bytes, "beam memory"));
    }
    float **states[] = {&bm->h, &bm->c, &bm->h2, &bm->c2};
    for (int i = 0; i < 4; i++)
        BATON_TRY(be->ops->alloc(be, (void **)states[i], (size_t)L * R * H * sizeof(float), "beam states"));
    int **dev[] = {&bm->d_ids, &bm->d_ones, &bm->d_len};
    for (int i = 0; i < 3; i++)
        BATON_TRY(be->ops->alloc(be, (void **)dev[i], (size_t)R * sizeof(int), "beam ids"));
    BATON_TRY(be->ops->alloc(be, (void **)&bm->d_gather, (size_t)G * R * sizeof(int), "beam row maps"));
    BATON_TRY(be->ops->alloc(be, (void **)&bm->d_val, (size_t)R * K * sizeof(float), "beam candidates"));
    BATON_TRY(be->ops->alloc(be, (void **)&bm->d_idx, (size_t)R * K * sizeof(int), "beam candidates"));
    BATON_TRY(be->ops->alloc(be, (void **)&bm->d_lse, (size_t)R * sizeof(float), "beam log-sum-exp"));
    bm->ids = malloc((size_t)R * sizeof(int));
    bm->lens = malloc((size_t)R * sizeof(int));
    bm->mem_src = malloc((size_t)R * sizeof(int));
    bm->groups = malloc((size_t)(B_max + 1) * sizeof(int));
    bm->gather = malloc((size_t)G * R * sizeof(int));
    bm->val = malloc((size_t)R * K * sizeof(float));
    bm->idx = malloc((size_t)R * K * sizeof(int));
    bm->lse = malloc((size_t)R * sizeof(float));
    bm->attn_step = malloc((size_t)R * S_max * sizeof(float));
    bm->tok_hist = malloc((size_t)max_len * R * sizeof(int));
    bm->par_hist = malloc((size_t)max_len * R * sizeof(int));
    bm->attn_hist = with_attn ? malloc((size_t)max_len * R * S_max * sizeof(float)) : NULL;
    if (!bm->ids || !bm->lens || !bm->mem_src || !bm->groups || !bm->gather || !bm->val || !bm->idx || !bm->lse ||
        !bm->attn_step || !bm->tok_hist || !bm->par_hist || (with_attn && !bm->attn_hist))
        return BATON_ERROR(BATON_ERR_OOM, "beam search: out of host memory for %d rows x %d steps", R, max_len);
    for (int r = 0; r < R; r++)
        bm->ids[r] = 1;
    return be->ops->upload(be, bm->d_ones, bm->ids, (size_t)R * sizeof(int));
}

void baton_beam_destroy(baton_beam *bm)
{
    if (!bm->be)
        return;
    void *dev[] = {bm->mem,    bm->mem_values, bm->group_values, bm->h,     bm->c,     bm->h2,    bm->c2,
                   bm->d_ids,  bm->d_ones,     bm->d_len,        bm->d_gather, bm->d_val, bm->d_idx, bm->d_lse};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++)
        if (dev[i])
            bm->be->ops->free(bm->be, dev[i]);
    baton_decode_fixed_free(bm->be, &bm->fixed);
    baton_s2s_acts_release(&bm->acts);
    baton_arena_destroy(&bm->arena);
    void *host[] = {bm->ids, bm->lens,      bm->mem_src,  bm->groups,   bm->gather,   bm->val,
                    bm->idx, bm->lse,       bm->attn_step, bm->tok_hist, bm->par_hist, bm->attn_hist};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
    memset(bm, 0, sizeof *bm);
}

/* GNMT's length penalty for n output tokens. */
static float length_penalty(int n, float alpha)
{
    return (float)pow((5.0 + n) / 6.0, alpha);
}

/* The k best extensions of rows [r0, r1) with running log-probabilities score[], best first, from
 * each row's K best logits: log p = logit - lse. A row's candidates are taken in column order, as
 * a scan of the whole row would meet them, so equal totals keep the same one. None ends at step 0
 * (fairseq's min_len 1): the source is never empty (an empty line is answered without decoding),
 * so neither is its translation, however likely the model finds </s> there. */
static int top_k(const baton_beam *bm, const double *score, int r0, int r1, int step, cand *c)
{
    int n = 0, k = bm->beam, K = bm->K;
    for (int r = r0; r < r1; r++) {
        const float *val = bm->val + (size_t)r * K;
        const int *idx = bm->idx + (size_t)r * K;
        int order[BATON_TOPK_MAX];
        for (int i = 0; i < K; i++) { /* column order: insertion sort of K small */
            int j = i;
            for (; j > 0 && idx[order[j - 1]] > idx[i]; j--)
                order[j] = order[j - 1];
            order[j] = i;
        }
        for (int q = 0; q < K; q++) {
            int v = idx[order[q]];
            if (step == 0 && v == BATON_EOS) /* a non-empty source gets a non-empty translation */
                continue;
            float logp = val[order[q]] - bm->lse[r];
            double total = score[r] + logp;
            if (n == k && total <= c[k - 1].total)
                continue;
            int i = n < k ? n++ : k - 1;
            while (i > 0 && c[i - 1].total < total) {
                c[i] = c[i - 1];
                i--;
            }
            c[i] = (cand){total, r, v};
        }
    }
    return n;
}

/* Reorders the (L, R, H) states to the survivors' parents: new row r' takes old row par[r']. */
static baton_status reorder(baton_beam *bm, const int *par, int R, int nR)
{
    baton_backend *be = bm->be;
    int L = bm->m->cfg.layers, H = bm->m->cfg.hidden;
    for (int l = 0; l < L; l++)
        for (int r = 0; r < nR; r++)
            bm->gather[l * nR + r] = l * R + par[r];
    BATON_TRY(be->ops->upload(be, bm->d_gather, bm->gather, (size_t)L * nR * sizeof(int)));
    BATON_TRY(be->ops->embed_gather(be, bm->h2, bm->d_gather, bm->h, L * nR, H));
    if (bm->m->cfg.input_feed) { /* the fed h~ of each survivor: the first nR of the gather rows (l = 0) */
        BATON_TRY(be->ops->embed_gather(be, bm->acts.d_feed, bm->d_gather, bm->acts.feed0, nR, H));
        BATON_TRY(be->ops->copy(be, bm->acts.feed0, bm->acts.d_feed, (size_t)nR * H * sizeof(float)));
    }
    float *t = bm->h;
    bm->h = bm->h2, bm->h2 = t;
    if (bm->m->cfg.cell != BATON_CELL_LSTM)
        return BATON_OK;
    BATON_TRY(be->ops->embed_gather(be, bm->c2, bm->d_gather, bm->c, L * nR, H));
    t = bm->c;
    bm->c = bm->c2, bm->c2 = t;
    return BATON_OK;
}

/* Dot and general scores: the rows' groups by source (rows are in source order) and, where the
 * live sources changed, their memory, (G, S, H): one copy per source, which all its rows read as
 * one product (attention.h). Returns the memory's gather count (0: it stays). */
static int group_rows(baton_beam *bm, const int *row_src, int S, int B, int R)
{
    int G = 0, same = 1;
    for (int r = 0; r < R; r++)
        if (r == 0 || row_src[r] != row_src[r - 1]) {
            same = same && G < bm->n_groups && row_src[r] == bm->mem_src[bm->groups[G]]; /* the old group G's */
            bm->groups[G++] = r;
        }
    same = same && G == bm->n_groups;
    bm->groups[G] = R;
    bm->n_groups = G;
    if (same && bm->mem_R >= 0)
        return 0;
    for (int g = 0; g < G; g++)
        for (int s = 0; s < S; s++)
            bm->gather[g * S + s] = s * B + row_src[bm->groups[g]];
    return G * S;
}

/* The rows' memory (shared keys) and source lengths, gathered from their sources' only when the
 * rows' sources changed. A source's rows share its memory, so reordering survivors within sources
 * (most steps) moves none; with dot and general scores each live source has one copy (group_rows),
 * with additive ones each row (S x R x H floats, the largest copy a step could make). */
static baton_status rows_memory(baton_beam *bm, const float *params, const baton_param_table *t, const int *row_src,
                                const int *src_len_host, int S, int B, int R)
{
    if (R == bm->mem_R && memcmp(row_src, bm->mem_src, (size_t)R * sizeof(int)) == 0)
        return BATON_OK;
    baton_backend *be = bm->be;
    for (int r = 0; r < R; r++)
        bm->lens[r] = src_len_host[row_src[r]];
    if (bm->m->cfg.score == BATON_ATTN_ADDITIVE) {
        BATON_TRY(baton_decode_rows_memory(be, bm->m, &bm->acts, params, t, bm->gather, bm->d_gather, bm->mem, row_src,
                                           S, B, R));
    } else {
        int n = group_rows(bm, row_src, S, B, R);
        if (n) {
            BATON_TRY(be->ops->upload(be, bm->d_gather, bm->gather, (size_t)n * sizeof(int)));
            BATON_TRY(be->ops->embed_gather(be, bm->acts.enc_out, bm->d_gather, bm->mem, n, bm->m->cfg.hidden));
            if (bm->mem_values)
                BATON_TRY(be->ops->embed_gather(be, bm->group_values, bm->d_gather, bm->mem_values, n,
                                                bm->m->cfg.hidden));
        }
    }
    BATON_TRY(be->ops->upload(be, bm->d_len, bm->lens, (size_t)R * sizeof(int)));
    memcpy(bm->mem_src, row_src, (size_t)R * sizeof(int));
    bm->mem_R = R;
    return BATON_OK;
}

/* One decoder step over the R live rows: memory and lengths of their sources, the previous
 * tokens, then each row's best candidates (and attention) on the host. */
static baton_status step_rows(baton_beam *bm, const float *params, const baton_param_table *t, const int *row_src,
                              const int *src_len_host, int S, int B, int R, int step)
{
    baton_backend *be = bm->be;
    int V = bm->m->cfg.tgt_vocab;
    BATON_TRY(rows_memory(bm, params, t, row_src, src_len_host, S, B, R));
    for (int r = 0; r < R; r++)
        bm->ids[r] = step ? bm->tok_hist[(size_t)(step - 1) * bm->R_max + r] : BATON_BOS;
    BATON_TRY(be->ops->upload(be, bm->d_ids, bm->ids, (size_t)R * sizeof(int)));
    /* additive scores: no groups */
    baton_s2s_acts_group_rows(&bm->acts, bm->n_groups ? bm->groups : NULL, bm->n_groups, bm->group_values);
    baton_status st = baton_s2s_decode(be, bm->m, &bm->acts, params, t, bm->d_len, S, bm->d_ids, bm->d_ones, 1, R,
                                       bm->h, bm->c, bm->h, bm->c, NULL);
    baton_s2s_acts_group_rows(&bm->acts, NULL, 0, NULL);
    BATON_TRY(st);
    BATON_TRY(be->ops->topk_rows(be, bm->d_val, bm->d_idx, bm->d_lse, bm->acts.logits, R, V, bm->K));
    BATON_TRY(be->ops->download(be, bm->val, bm->d_val, (size_t)R * bm->K * sizeof(float)));
    BATON_TRY(be->ops->download(be, bm->idx, bm->d_idx, (size_t)R * bm->K * sizeof(int)));
    BATON_TRY(be->ops->download(be, bm->lse, bm->d_lse, (size_t)R * sizeof(float)));
    if (!bm->attn_hist)
        return BATON_OK;
    BATON_TRY(be->ops->download(be, bm->attn_step, bm->acts.attn.p, (size_t)R * S * sizeof(float)));
    for (int r = 0; r < R; r++)
        memcpy(bm->attn_hist + ((size_t)step * bm->R_max + r) * bm->S_max, bm->attn_step + (size_t)r * S,
               (size_t)S * sizeof(float));
    return BATON_OK;
}

/* Writes one hypothesis's tokens (and attention) by following parents back from `row`. */
static void backtrack(const baton_beam *bm, const fin *f, int S, int *ids, float *attn)
{
    int row = f->row;
    for (int j = f->step - 1; j >= 0; j--) {
        size_t at = (size_t)j * bm->R_max + row;
        ids[j] = bm->tok_hist[at];
        if (attn)
            memcpy(attn + (size_t)j * S, bm->attn_hist + ((size_t)j * bm->R_max + bm->par_hist[at]) * bm->S_max,
                   (size_t)S * sizeof(float));
        row = bm->par_hist[at];
    }
}

/* Best score first; equal scores keep the order they were found in (qsort is not stable). */
static int by_score(const void *a, const void *b)
{
    const fin *p = a, *q = b;
    return p->score != q->score ? (p->score < q->score) - (p->score > q->score) : (p->order > q->order) - (p->order < q->order);
}

/* Host scratch of one decode call. */
typedef struct {
    int *row_src, *new_src, *par, *nfin;
    double *score, *new_score;
    cand *c;
    fin *fins; /* (B, 2*beam): finished, then live leftovers at max_len */
} scratch;

static void scratch_free(scratch *x)
{
    free(x->row_src), free(x->new_src), free(x->par), free(x->nfin);
    free(x->score), free(x->new_score), free(x->c), free(x->fins);
}

static baton_status scratch_alloc(scratch *x, int R, int B, int beam)
{
    x->row_src = malloc((size_t)R * sizeof(int));
    x->new_src = malloc((size_t)R * sizeof(int));
    x->par = malloc((size_t)R * sizeof(int));
    x->nfin = calloc((size_t)B, sizeof(int));
    x->score = malloc((size_t)R * sizeof(double));
    x->new_score = malloc((size_t)R * sizeof(double));
    x->c = malloc((size_t)beam * sizeof(cand));
    x->fins = malloc((size_t)B * 2 * beam * sizeof(fin));
    if (x->row_src && x->new_src && x->par && x->nfin && x->score && x->new_score && x->c && x->fins)
        return BATON_OK;
    scratch_free(x);
    return BATON_ERROR(BATON_ERR_OOM, "beam search: out of host memory for %d rows", R);
}

/* Keeps each source's best extensions: finished ones go to its list, the rest become next step's
 * rows (none once the source has `beam` finished). Returns the new row count. */
static int select_rows(baton_beam *bm, scratch *x, int R, int B, int step, float alpha)
{
    int nR = 0, r0 = 0;
    for (int b = 0; b < B; b++) {
        int r1 = r0;
        while (r1 < R && x->row_src[r1] == b)
            r1++;
        if (r1 == r0)
            continue;
        int n = top_k(bm, x->score, r0, r1, step, x->c), start = nR;
        for (int i = 0; i < n; i++) {
            const cand *c = &x->c[i];
            if (c->tok == BATON_EOS) {
                if (x->nfin[b] < bm->beam) {
                    int k = x->nfin[b]++;
                    x->fins[(size_t)b * 2 * bm->beam + k] =
                        (fin){step, c->row, c->total, (float)(c->total / length_penalty(step + 1, alpha)), 1, k};
                }
                continue;
            }
            size_t at = (size_t)step * bm->R_max + nR;
            bm->tok_hist[at] = c->tok;
            bm->par_hist[at] = c->row;
            x->par[nR] = c->row;
            x->new_src[nR] = b;
            x->new_score[nR++] = c->total;
        }
        if (x->nfin[b] >= bm->beam)
            nR = start; /* this source is done: its live extensions leave the batch too */
        r0 = r1;
    }
    return nR;
}

baton_status baton_beam_fix_weights(baton_beam *bm, const float *params, const baton_param_table *t)
{
    return baton_decode_fix(bm->be, bm->m, &bm->fixed, params, t);
}

baton_status baton_beam_decode(baton_beam *bm, const float *params, const baton_param_table *t, const int *src,
                               const int *src_len, const int *src_len_host, int S, int B, float alpha, int nbest,
                               baton_hyp *hyps, int *out, float *attn)
{
    baton_backend *be = bm->be;
    BATON_REQUIRE(B >= 1 && B <= bm->B_max && S >= 1 && S <= bm->S_max && nbest >= 1 && nbest <= bm->beam,
                  "beam search: B=%d S=%d nbest=%d, expected 1..%d, 1..%d and 1..%d", B, S, nbest, bm->B_max,
                  bm->S_max, bm->beam);
    BATON_REQUIRE(!attn || bm->attn_hist, "beam search: attention wanted but not kept (see baton_beam_create)");
    int H = bm->m->cfg.hidden, L = bm->m->cfg.layers, R = B, beam = bm->beam;
    baton_decode_use_fixed(&bm->acts, &bm->fixed, params);
    scratch x;
    BATON_TRY(scratch_alloc(&x, bm->R_max, B, beam));
    baton_status st = baton_s2s_encode(be, bm->m, &bm->acts, params, t, src, src_len, S, B, NULL);
    /* projected general scores: the keys W_a m take the memory's place */
    if (st == BATON_OK && !(bm->mem_values && bm->m->cfg.score == BATON_ATTN_GENERAL))
        st = be->ops->copy(be, bm->mem, bm->acts.enc_out, (size_t)S * B * H * sizeof(float));
    if (st == BATON_OK && bm->mem_values) /* once for all steps: each source's rows outnumber its memory rows */
        st = baton_s2s_project_memory(be, bm->m, bm->mem, bm->mem_values, bm->acts.enc_out, params, t, S * B);
    if (st == BATON_OK) /* one live row per source to start with: (L, B, H) is already the row layout */
        st = be->ops->copy(be, bm->h, bm->acts.dec_h0, (size_t)L * B * H * sizeof(float));
    if (st == BATON_OK && bm->m->cfg.cell == BATON_CELL_LSTM)
        st = be->ops->copy(be, bm->c, bm->acts.dec_c0, (size_t)L * B * H * sizeof(float));
    for (int r = 0; r < R; r++)
        x.row_src[r] = r, x.score[r] = 0.0;
    bm->mem_R = -1; /* a new batch: no row has its memory yet */
    int step = 0;
    for (; st == BATON_OK && step < bm->max_len && R > 0; step++) {
        st = step_rows(bm, params, t, x.row_src, src_len_host, S, B, R, step);
        int nR = st == BATON_OK ? select_rows(bm, &x, R, B, step, alpha) : 0;
        if (st == BATON_OK && nR > 0)
            st = reorder(bm, x.par, R, nR);
        memcpy(x.row_src, x.new_src, (size_t)nR * sizeof(int));
        memcpy(x.score, x.new_score, (size_t)nR * sizeof(double));
        R = nR;
    }
    /* sources still open at max_len: their live hypotheses count, unfinished */
    for (int r = 0; st == BATON_OK && r < R; r++) {
        int b = x.row_src[r], k = x.nfin[b]++;
        x.fins[(size_t)b * 2 * beam + k] =
            (fin){step, r, x.score[r], (float)(x.score[r] / length_penalty(step, alpha)), 0, k};
    }
    for (int b = 0; st == BATON_OK && b < B; b++) {
        fin *f = x.fins + (size_t)b * 2 * beam;
        qsort(f, (size_t)x.nfin[b], sizeof *f, by_score);
        for (int i = 0; i < nbest; i++) {
            baton_hyp *h = &hyps[b * nbest + i];
            memset(h, 0, sizeof *h);
            if (i >= x.nfin[b])
                continue;
            *h = (baton_hyp){f[i].step, (float)f[i].logprob, f[i].score, f[i].finished};
            size_t at = (size_t)(b * nbest + i) * bm->max_len;
            backtrack(bm, &f[i], S, out + at, attn ? attn + at * S : NULL);
        }
    }
    scratch_free(&x);
    return st;
}
