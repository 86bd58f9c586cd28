/* rnn.c: multi-layer, bidirectional recurrent layers over padded batches, written once against the
 * ops table. Per layer and direction: one GEMM projects the inputs of all T steps; each step is one
 * recurrent GEMM plus one fused cell op; backward through time is one fused cell op plus one GEMM
 * per step, and then three GEMMs and two column sums for all weight and input gradients at once.
 * The whole-recurrence versions (recur.h) replace the per-step loop of a layer (layer_*_recur), or
 * of the whole stack at once (wave_*: the wavefront, whose steps also take over the layers above
 * the first's input projections, output gradients and dropout).
 *
 * State slots. hs[l][d] holds T+1 states of B rows so that the states *before* each step are
 * contiguous in time order, which makes dW_hh a single GEMM over all steps:
 *   forward  direction: slot 0 = h0, slot t+1 = state after step t  -> before step t: slot t
 *   reverse  direction: slot T = h0, slot t   = state after step t  -> before step t: slot t+1
 * The final state is slot T (forward) or slot 0 (reverse); padded steps carry the state, so these
 * are the states at each sequence's last real token (forward) and first token (reverse). */
#include "baton/rnn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "baton_config.h"
#if BATON_HAVE_CUDNN
#include "baton/cudnn_rnn.h"
#endif

const char *baton_cell_name(baton_cell cell)
{
    switch (cell) {
    case BATON_CELL_RNN_TANH: return "rnn_tanh";
    case BATON_CELL_LSTM: return "lstm";
    case BATON_CELL_GRU: return "gru";
    }
    return "unknown";
}

baton_status baton_cell_parse(baton_cell *cell, const char *name)
{
    if (strcmp(name, "rnn_tanh") == 0 || strcmp(name, "rnn") == 0)
        *cell = BATON_CELL_RNN_TANH;
    else if (strcmp(name, "lstm") == 0)
        *cell = BATON_CELL_LSTM;
    else if (strcmp(name, "gru") == 0)
        *cell = BATON_CELL_GRU;
    else
        return BATON_ERROR(BATON_ERR_INVALID, "cell '%s': expected rnn_tanh, lstm or gru", name);
    return BATON_OK;
}

static int layer_input(const baton_rnn *rnn, int l)
{
    return l == 0 ? rnn->cfg.input_size : rnn->cfg.hidden_size;
}

static baton_status add_tensor(baton_param_table *t, int *index, const char *prefix, const char *what, int l, int d,
                               int ndim, int64_t rows, int64_t cols)
{
    char name[BATON_PARAM_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s.%s_l%d%s", prefix, what, l, d ? "_reverse" : "");
    BATON_REQUIRE(n > 0 && (size_t)n < sizeof name, "rnn prefix '%s' is too long", prefix);
    int64_t shape[2] = {rows, cols};
    return baton_param_add(t, index, name, ndim, shape);
}

baton_status baton_rnn_init(baton_rnn *rnn, const baton_rnn_config *cfg, baton_param_table *t, const char *prefix)
{
    memset(rnn, 0, sizeof *rnn);
    BATON_REQUIRE(cfg->cell == BATON_CELL_RNN_TANH || cfg->cell == BATON_CELL_LSTM || cfg->cell == BATON_CELL_GRU,
                  "%s: unknown cell type %d", prefix, (int)cfg->cell);
    BATON_REQUIRE(cfg->input_size > 0, "%s: input size %d, expected > 0", prefix, cfg->input_size);
    BATON_REQUIRE(cfg->layers >= 1 && cfg->layers <= BATON_RNN_MAX_LAYERS, "%s: %d layers, expected 1 to %d",
                  prefix, cfg->layers, BATON_RNN_MAX_LAYERS);
    BATON_REQUIRE(cfg->bidirectional == 0 || cfg->bidirectional == 1, "%s: bidirectional must be 0 or 1", prefix);
    int dirs = cfg->bidirectional ? 2 : 1;
    BATON_REQUIRE(cfg->hidden_size > 0 && cfg->hidden_size % dirs == 0,
                  "%s: hidden size %d, expected a positive%s number", prefix, cfg->hidden_size,
                  dirs == 2 ? " even (two directions of H/2)" : "");
    BATON_REQUIRE(cfg->dropout >= 0.0f && cfg->dropout < 1.0f, "%s: dropout %g, expected 0 <= p < 1", prefix,
                  (double)cfg->dropout);
    rnn->cfg = *cfg;
    rnn->dirs = dirs;
    rnn->hd = cfg->hidden_size / dirs;
    rnn->gates = baton_cell_gates(cfg->cell);
    rnn->saved = baton_cell_saved(cfg->cell);
    int64_t gh = (int64_t)rnn->gates * rnn->hd;
    /* PyTorch's order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh. */
    for (int l = 0; l < cfg->layers; l++)
        for (int d = 0; d < dirs; d++) {
            BATON_TRY(add_tensor(t, &rnn->w_ih[l][d], prefix, "weight_ih", l, d, 2, gh, layer_input(rnn, l)));
            BATON_TRY(add_tensor(t, &rnn->w_hh[l][d], prefix, "weight_hh", l, d, 2, gh, rnn->hd));
            BATON_TRY(add_tensor(t, &rnn->b_ih[l][d], prefix, "bias_ih", l, d, 1, gh, 0));
            BATON_TRY(add_tensor(t, &rnn->b_hh[l][d], prefix, "bias_hh", l, d, 1, gh, 0));
        }
    return BATON_OK;
}

void baton_rnn_init_weights(const baton_rnn *rnn, const baton_param_table *t, float *host_params, uint64_t seed)
{
    float bound = 1.0f / sqrtf((float)rnn->hd);
    for (int l = 0; l < rnn->cfg.layers; l++)
        for (int d = 0; d < rnn->dirs; d++) {
            baton_param_init_uniform(t, host_params, rnn->w_ih[l][d], bound, seed);
            baton_param_init_uniform(t, host_params, rnn->w_hh[l][d], bound, seed);
            baton_param_init_uniform(t, host_params, rnn->b_ih[l][d], bound, seed);
            baton_param_init_uniform(t, host_params, rnn->b_hh[l][d], bound, seed);
        }
}

/* bf16 precision: the states and gate gradients that the per-step GEMMs read keep their own bf16
 * mirrors, written by the cell kernels beside them (h16, dgx16, dgh16), so that no time step
 * launches a conversion. Nothing to do on the cpu or in fp32. */
static baton_status keep_mirrors(const baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn, size_t T,
                                 size_t B)
{
    size_t Hd = (size_t)rnn->hd, GH = (size_t)rnn->gates * Hd;
    for (int l = 0; l < rnn->cfg.layers; l++)
        for (int d = 0; d < rnn->dirs; d++)
            BATON_TRY(baton_backend_bf16_mirror(be, acts->hs[l][d], (T + 1) * B * Hd, 1));
    size_t D = (size_t)rnn->dirs;
    BATON_TRY(baton_backend_bf16_mirror(be, acts->dgx, D * T * B * GH, 1));
    return acts->dgh ? baton_backend_bf16_mirror(be, acts->dgh, D * T * B * GH, 1) : BATON_OK;
}

baton_status baton_rnn_acts_carve(baton_rnn_acts *acts, baton_arena *a, const baton_rnn *rnn, int T_max, int B_max)
{
    memset(acts, 0, sizeof *acts);
    BATON_REQUIRE(T_max >= 1 && B_max >= 1, "rnn activations: T_max=%d B_max=%d, expected >= 1", T_max, B_max);
    acts->T_max = T_max;
    acts->B_max = B_max;
    size_t T = (size_t)T_max, B = (size_t)B_max, Hd = (size_t)rnn->hd, H = (size_t)rnn->cfg.hidden_size;
    size_t GH = (size_t)rnn->gates * Hd, L = (size_t)rnn->cfg.layers;
    int lstm = rnn->cfg.cell == BATON_CELL_LSTM;
    for (size_t l = 0; l < L; l++) {
        for (int d = 0; d < rnn->dirs; d++) {
            BATON_TRY(baton_arena_floats(a, &acts->hs[l][d], (T + 1) * B * Hd, "rnn states"));
            if (lstm)
                BATON_TRY(baton_arena_floats(a, &acts->cs[l][d], (T + 1) * B * Hd, "rnn cell states"));
            if (rnn->saved)
                BATON_TRY(baton_arena_floats(a, &acts->save[l][d], T * B * (size_t)rnn->saved * Hd,
                                             "rnn saved gates"));
        }
        if (l + 1 < L)
            BATON_TRY(baton_arena_floats(a, &acts->out[l], T * B * H, "rnn layer outputs"));
    }
    size_t D = (size_t)rnn->dirs;
    BATON_TRY(baton_arena_floats(a, &acts->xg, D * T * B * GH, "rnn input projection"));
    BATON_TRY(baton_arena_floats(a, &acts->hg, D * B * GH, "rnn recurrent projection"));
    BATON_TRY(baton_arena_floats(a, &acts->dgx, D * T * B * GH, "rnn gate gradients"));
    if (rnn->cfg.cell == BATON_CELL_GRU)
        BATON_TRY(baton_arena_floats(a, &acts->dgh, D * T * B * GH, "rnn recurrent gate gradients"));
    BATON_TRY(baton_arena_floats(a, &acts->dh, D * B * Hd, "rnn state gradient"));
    if (lstm)
        BATON_TRY(baton_arena_floats(a, &acts->dc, D * B * Hd, "rnn cell-state gradient"));
    if (L > 1)
        for (int i = 0; i < 2; i++)
            BATON_TRY(baton_arena_floats(a, &acts->dxl[i], T * B * H, "rnn inter-layer gradients"));
    return a->base ? keep_mirrors(acts, a->be, rnn, T, B) : BATON_OK;
}

static const float *tensor(const float *buf, const baton_param_table *t, int index)
{
    return buf + t->items[index].offset;
}

/* Copies n floats from src, or zeroes dst when src is NULL. */
static baton_status copy_or_zero(baton_backend *be, float *dst, const float *src, size_t n)
{
    return src ? be->ops->copy(be, dst, src, n * sizeof(float)) : be->ops->zero(be, dst, n * sizeof(float));
}

static baton_status check_shape(const baton_rnn_acts *acts, int T, int B)
{
    BATON_REQUIRE(T >= 1 && T <= acts->T_max && B >= 1 && B <= acts->B_max,
                  "rnn: batch of T=%d steps and B=%d rows, expected 1..%d and 1..%d as sized at setup", T, B,
                  acts->T_max, acts->B_max);
    return BATON_OK;
}

static int use_dropout(const baton_rnn *rnn, const baton_dropout_key *drop)
{
    return drop && rnn->cfg.dropout > 0.0f && rnn->cfg.layers > 1;
}

/* The saved gates of direction d of layer l that forward writes: none under no_grad (and none for
 * the tanh RNN, whose save is NULL). */
static float *saved(const baton_rnn_acts *acts, int l, int d)
{
    return acts->no_grad ? NULL : acts->save[l][d];
}

/* Those of step tt alone, or NULL. */
static float *saved_at(const baton_rnn *rnn, const baton_rnn_acts *acts, int l, int d, int tt, int B)
{
    float *s = saved(acts, l, d);
    return s ? s + (size_t)tt * B * rnn->saved * rnn->hd : NULL;
}

/* The initial state of direction d of layer l into its slot (h0, c0 this direction's or NULL). */
static baton_status direction_state0(baton_backend *be, baton_rnn_acts *acts, const baton_rnn *rnn, int l, int d,
                                     const float *h0, const float *c0, int T, int B)
{
    size_t step = (size_t)B * rnn->hd, first = d ? (size_t)T : 0;
    BATON_TRY(copy_or_zero(be, acts->hs[l][d] + first * step, h0, step));
    return acts->cs[l][d] ? copy_or_zero(be, acts->cs[l][d] + first * step, c0, step) : BATON_OK;
}

/* Input projection of all T steps of direction d of layer l into xg, and its initial state. */
static baton_status direction_start(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, int l, int d,
                                    float *xg, const float *xin, const float *h0, const float *c0,
                                    const float *params, const baton_param_table *t, int T, int B)
{
    int GH = rnn->gates * rnn->hd, in = layer_input(rnn, l);
    BATON_TRY(be->ops->gemm(be, 0, 1, T * B, GH, in, 1.0f, xin, in, tensor(params, t, rnn->w_ih[l][d]), in, 0.0f,
                            xg, GH));
    return direction_state0(be, acts, rnn, l, d, h0, c0, T, B);
}

/* One direction of layer l through the per-step ops: T steps of recurrent GEMM + fused cell. xin
 * NULL: acts->xg already holds the input projections (baton_rnn_forward_gathered). */
static baton_status direction_forward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, int l, int d,
                                      float *y, const float *xin, const float *h0, const float *c0,
                                      const int *lengths, const float *params, const baton_param_table *t, int T,
                                      int B)
{
    const baton_ops *ops = be->ops;
    int Hd = rnn->hd, H = rnn->cfg.hidden_size, GH = rnn->gates * Hd;
    size_t step = (size_t)B * Hd;
    float *hs = acts->hs[l][d], *cs = acts->cs[l][d];
    const float *w_hh = tensor(params, t, rnn->w_hh[l][d]);
    float *xg = acts->xg + (size_t)d * T * B * GH; /* each direction's own, as the gathered forward fills them */
    BATON_TRY(xin ? direction_start(be, rnn, acts, l, d, xg, xin, h0, c0, params, t, T, B)
                  : direction_state0(be, acts, rnn, l, d, h0, c0, T, B));
    for (int k = 0; k < T; k++) {
        int tt = d ? T - 1 - k : k, prev = d ? tt + 1 : tt, next = d ? tt : tt + 1;
        BATON_TRY(ops->gemm(be, 0, 1, B, GH, Hd, 1.0f, hs + prev * step, Hd, w_hh, Hd, 0.0f, acts->hg, GH));
        baton_cell_fwd_args a = {
            .B = B, .Hd = Hd, .t = tt, .lengths = lengths,
            .xg = xg + (size_t)tt * B * GH, .hg = acts->hg,
            .b_ih = tensor(params, t, rnn->b_ih[l][d]), .b_hh = tensor(params, t, rnn->b_hh[l][d]),
            .h_prev = hs + prev * step, .c_prev = cs ? cs + prev * step : NULL,
            .h = hs + next * step, .c = cs ? cs + next * step : NULL,
            .y = y + (size_t)tt * B * H + (size_t)d * Hd, .ldy = H,
            .save = saved_at(rnn, acts, l, d, tt, B),
            .h16 = baton_backend_bf16_twin(be, hs + next * step),
        };
        BATON_TRY(ops->cell_forward(be, rnn->cfg.cell, &a));
    }
    return BATON_OK;
}

/* The whole recurrence of layer l (both directions at once) as recur.h describes it, for a
 * batch of T steps and B rows; the caller fills dy (backward) and the carried gradients. */
static baton_recur_args recur_args(const baton_rnn *rnn, baton_rnn_acts *acts, int l, float *y, const int *lengths,
                                   const float *params, const baton_param_table *t, int T, int B)
{
    int Hd = rnn->hd, GH = rnn->gates * Hd;
    size_t per_t = (size_t)T * B * GH;
    baton_recur_args ra = {.cell = rnn->cfg.cell, .T = T, .B = B, .Hd = Hd, .dirs = rnn->dirs,
                           .units = acts->recur_units, .lengths = lengths, .y = y, .ldy = rnn->cfg.hidden_size};
    for (int d = 0; d < rnn->dirs; d++)
        ra.dir[d] = (baton_recur_dir){
            .w_hh = tensor(params, t, rnn->w_hh[l][d]),
            .b_ih = tensor(params, t, rnn->b_ih[l][d]), .b_hh = tensor(params, t, rnn->b_hh[l][d]),
            .xg = acts->xg + d * per_t, .hs = acts->hs[l][d], .cs = acts->cs[l][d], .save = saved(acts, l, d),
            .hg = acts->hg + (size_t)d * B * GH, .dgx = acts->dgx + d * per_t,
            .dgh = acts->dgh ? acts->dgh + d * per_t : NULL,
            .dh = acts->dh + (size_t)d * B * Hd, .dc = acts->dc ? acts->dc + (size_t)d * B * Hd : NULL,
        };
    return ra;
}

/* Layer l through the backend's whole-recurrence op: input projections, then one call for all
 * steps of both directions. The cpu's "packed" projects the input inside its steps instead, a step
 * at a time, so that xg is read where it was just written (in cache) rather than from a (T, B, G*Hd)
 * GEMM output that no cache holds. xin NULL: acts->xg already holds the input projections. */
static baton_status layer_forward_recur(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, int l,
                                        float *y, const float *xin, const float *h0, const float *c0,
                                        const int *lengths, const float *params, const baton_param_table *t, int T,
                                        int B)
{
    size_t state = (size_t)B * rnn->hd, per_t = (size_t)T * B * rnn->gates * rnn->hd;
    int inside = acts->recur == BATON_RECUR_PACKED && xin;
    for (int d = 0; d < rnn->dirs; d++) {
        size_t s = (size_t)(l * rnn->dirs + d) * state;
        if (inside || !xin)
            BATON_TRY(direction_state0(be, acts, rnn, l, d, h0 ? h0 + s : NULL, c0 ? c0 + s : NULL, T, B));
        else
            BATON_TRY(direction_start(be, rnn, acts, l, d, acts->xg + d * per_t, xin, h0 ? h0 + s : NULL,
                                      c0 ? c0 + s : NULL, params, t, T, B));
    }
    baton_recur_args ra = recur_args(rnn, acts, l, y, lengths, params, t, T, B);
    if (inside) {
        ra.x = xin;
        ra.I = layer_input(rnn, l);
        for (int d = 0; d < rnn->dirs; d++)
            ra.dir[d].w_ih = tensor(params, t, rnn->w_ih[l][d]);
    }
    return be->ops->recur_forward(be, acts->recur, &ra);
}

/* Layer l's tensors in a wavefront (recur.h): its own states and saved gates; the gate gradients
 * of layer 0 and the input projection of all its steps in the acts' shared blocks, those of the
 * layers above and every layer's one-step scratch in the wavefront's own (baton_rnn_acts_use_impl).
 * dy: the top layer's output gradient (backward), or NULL. */
static baton_recur_args wave_layer(const baton_rnn *rnn, baton_rnn_acts *acts, int l, float *y, const float *dy,
                                   const int *lengths, const float *params, const baton_param_table *t, int T, int B)
{
    int L = rnn->cfg.layers, Hd = rnn->hd, GH = rnn->gates * Hd, top = l + 1 == L;
    size_t sb = (size_t)acts->B_max, gh = sb * GH, hd = sb * Hd;
    size_t dg_block = (size_t)acts->T_max * gh;
    float *step = acts->wave_step + (size_t)l * (2 * gh + 3 * hd);
    float *dgx = l ? acts->wave_dg + (size_t)(l - 1) * dg_block : acts->dgx;
    float *dgh = !acts->dgh ? NULL : l ? acts->wave_dg + (size_t)(L - 1 + l - 1) * dg_block : acts->dgh;
    baton_recur_args ra = {.cell = rnn->cfg.cell, .T = T, .B = B, .Hd = Hd, .dirs = 1, .units = acts->recur_units,
                           .lengths = lengths, .y = top ? y : acts->out[l], .dy = top ? dy : step + 2 * gh + 2 * hd,
                           .ldy = top ? rnn->cfg.hidden_size : Hd};
    ra.dir[0] = (baton_recur_dir){
        .w_hh = tensor(params, t, rnn->w_hh[l][0]),
        .b_ih = tensor(params, t, rnn->b_ih[l][0]), .b_hh = tensor(params, t, rnn->b_hh[l][0]),
        .xg = l ? step : acts->xg, .hs = acts->hs[l][0], .cs = acts->cs[l][0], .save = saved(acts, l, 0),
        .hg = step + gh, .dgx = dgx, .dgh = dgh,
        .dh = step + 2 * gh, .dc = acts->dc ? step + 2 * gh + hd : NULL,
    };
    return ra;
}

/* The whole stack as one wavefront: every layer's tensors, the input weights, the dropout key. */
static baton_recur_wave wave_args(const baton_rnn *rnn, baton_rnn_acts *acts, float *y, const float *dy,
                                  const int *lengths, const float *params, const baton_param_table *t, int T, int B,
                                  const baton_dropout_key *drop)
{
    baton_recur_wave w = {.L = rnn->cfg.layers};
    for (int l = 0; l < w.L; l++) {
        w.layer[l] = wave_layer(rnn, acts, l, y, dy, lengths, params, t, T, B);
        w.w_ih[l] = tensor(params, t, rnn->w_ih[l][0]);
    }
    if (use_dropout(rnn, drop)) {
        w.dropout = rnn->cfg.dropout;
        w.seed = drop->seed;
        w.purpose = drop->purpose;
        w.counter = drop->counter;
    }
    return w;
}

/* All layers as one wavefront: layer 0's input projection, then one call for every step of every
 * layer; the dropout between layers happens inside. */
static baton_status wave_forward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *y, float *hn,
                                 float *cn, const float *x, const float *h0, const float *c0, const int *lengths,
                                 const float *params, const baton_param_table *t, int T, int B,
                                 const baton_dropout_key *drop)
{
    size_t state = (size_t)B * rnn->hd;
    BATON_TRY(direction_start(be, rnn, acts, 0, 0, acts->xg, x, h0, c0, params, t, T, B));
    for (int l = 1; l < rnn->cfg.layers; l++)
        BATON_TRY(direction_state0(be, acts, rnn, l, 0, h0 ? h0 + l * state : NULL, c0 ? c0 + l * state : NULL, T,
                                   B));
    baton_recur_wave w = wave_args(rnn, acts, y, NULL, lengths, params, t, T, B, drop);
    BATON_TRY(be->ops->recur_wave_forward(be, &w));
    for (int l = 0; l < rnn->cfg.layers; l++) {
        if (hn)
            BATON_TRY(be->ops->copy(be, hn + l * state, acts->hs[l][0] + T * state, state * sizeof(float)));
        if (cn && acts->cs[l][0])
            BATON_TRY(be->ops->copy(be, cn + l * state, acts->cs[l][0] + T * state, state * sizeof(float)));
    }
    return BATON_OK;
}

/* The layers through per-step ops or a whole-recurrence op; x NULL: layer 0's input projections
 * are already in acts->xg. */
static baton_status forward_layers(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *y,
                                   float *hn, float *cn, const float *x, const float *h0, const float *c0,
                                   const int *lengths, const float *params, const baton_param_table *t, int T, int B,
                                   const baton_dropout_key *drop)
{
    int L = rnn->cfg.layers, H = rnn->cfg.hidden_size;
    size_t state = (size_t)B * rnn->hd;
    for (int l = 0; l < L; l++) {
        const float *xin = l ? acts->out[l - 1] : x;
        float *yl = l + 1 < L ? acts->out[l] : y;
        if (acts->recur)
            BATON_TRY(layer_forward_recur(be, rnn, acts, l, yl, xin, h0, c0, lengths, params, t, T, B));
        for (int d = 0; d < rnn->dirs; d++) {
            size_t s = (size_t)(l * rnn->dirs + d) * state, last = d ? 0 : (size_t)T * state;
            if (!acts->recur)
                BATON_TRY(direction_forward(be, rnn, acts, l, d, yl, xin, h0 ? h0 + s : NULL, c0 ? c0 + s : NULL,
                                            lengths, params, t, T, B));
            if (hn)
                BATON_TRY(be->ops->copy(be, hn + s, acts->hs[l][d] + last, state * sizeof(float)));
            if (cn && acts->cs[l][d])
                BATON_TRY(be->ops->copy(be, cn + s, acts->cs[l][d] + last, state * sizeof(float)));
        }
        if (l + 1 < L && use_dropout(rnn, drop))
            BATON_TRY(be->ops->dropout(be, yl, yl, (size_t)T * B * H, rnn->cfg.dropout, drop->seed,
                                       drop->purpose + (uint32_t)l, drop->counter));
    }
    return BATON_OK;
}

baton_status baton_rnn_forward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *y, float *hn,
                               float *cn, const float *x, const float *h0, const float *c0, const int *lengths,
                               const float *params, const baton_param_table *t, int T, int B,
                               const baton_dropout_key *drop)
{
    BATON_TRY(check_shape(acts, T, B));
#if BATON_HAVE_CUDNN
    if (acts->cudnn)
        return baton_cudnn_rnn_forward(acts->cudnn, y, hn, cn, x, h0, c0, lengths, acts->host_lengths, params, t, T,
                                       B, drop != NULL && !acts->no_grad);
#endif
    if (acts->recur == BATON_RECUR_WAVEFRONT)
        return wave_forward(be, rnn, acts, y, hn, cn, x, h0, c0, lengths, params, t, T, B, drop);
    return forward_layers(be, rnn, acts, y, hn, cn, x, h0, c0, lengths, params, t, T, B, drop);
}

int baton_rnn_gathers(const baton_rnn_acts *acts)
{
    return !acts->cudnn && acts->recur != BATON_RECUR_WAVEFRONT;
}

baton_status baton_rnn_forward_gathered(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *y,
                                        float *hn, float *cn, const int *ids, const float *table, int V,
                                        const float *h0, const float *c0, const int *lengths, const float *params,
                                        const baton_param_table *t, int T, int B)
{
    BATON_REQUIRE(baton_rnn_gathers(acts), "rnn forward from a table of input projections: not with cuDNN or "
                  "the wavefront");
    BATON_TRY(check_shape(acts, T, B));
    size_t GH = (size_t)rnn->gates * rnn->hd;
    for (int d = 0; d < rnn->dirs; d++)
        BATON_TRY(be->ops->embed_gather(be, acts->xg + d * (size_t)T * B * GH, ids, table + d * (size_t)V * GH,
                                        T * B, (int)GH));
    return forward_layers(be, rnn, acts, y, hn, cn, NULL, h0, c0, lengths, params, t, T, B, NULL);
}

/* After the steps of direction d of layer l: the initial-state gradients from the carried dh, dc,
 * then all weight gradients and the input gradient (assigned for d = 0, accumulated for d = 1)
 * from the gate gradients dgx (input side) and dgr (recurrent side: dgx but for the GRU). */
static baton_status direction_grads(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, int l, int d,
                                    float *dxin, float *dh0, float *dc0, float *grads, const float *dgx,
                                    const float *dgr, const float *dh, const float *dc, const float *xin,
                                    const float *params, const baton_param_table *t, int T, int B)
{
    const baton_ops *ops = be->ops;
    int Hd = rnn->hd, GH = rnn->gates * Hd, in = layer_input(rnn, l), TB = T * B;
    size_t step = (size_t)B * Hd;
    if (dh0)
        BATON_TRY(ops->copy(be, dh0, dh, step * sizeof(float)));
    if (dc0 && dc)
        BATON_TRY(ops->copy(be, dc0, dc, step * sizeof(float)));
    const float *h_before = acts->hs[l][d] + (d ? step : 0); /* states before steps 0..T-1, in time order */
    float *dw_ih = grads + t->items[rnn->w_ih[l][d]].offset, *dw_hh = grads + t->items[rnn->w_hh[l][d]].offset;
    float *db_ih = grads + t->items[rnn->b_ih[l][d]].offset, *db_hh = grads + t->items[rnn->b_hh[l][d]].offset;
    BATON_TRY(ops->gemm(be, 1, 0, GH, Hd, TB, 1.0f, dgr, GH, h_before, Hd, 1.0f, dw_hh, Hd));
    /* db_ih and db_hh are the same column sums unless the cell is a GRU: one pass writes both */
    BATON_TRY(ops->colsum_add(be, db_hh, dgr == dgx ? db_ih : NULL, dgr, TB, GH));
    BATON_TRY(ops->gemm(be, 1, 0, GH, in, TB, 1.0f, dgx, GH, xin, in, 1.0f, dw_ih, in));
    if (dgr != dgx)
        BATON_TRY(ops->colsum_add(be, db_ih, NULL, dgx, TB, GH));
    if (dxin)
        BATON_TRY(ops->gemm(be, 0, 0, TB, in, GH, 1.0f, dgx, GH, tensor(params, t, rnn->w_ih[l][d]), in,
                            d ? 1.0f : 0.0f, dxin, in));
    return BATON_OK;
}

/* Backward of one direction of layer l through the per-step ops: T fused cell steps with the
 * recurrent GEMM, then direction_grads. */
static baton_status direction_backward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, int l, int d,
                                       float *dxin, float *dh0, float *dc0, float *grads, const float *dyl,
                                       const float *dhn, const float *dcn, const float *xin, const int *lengths,
                                       const float *params, const baton_param_table *t, int T, int B)
{
    const baton_ops *ops = be->ops;
    int Hd = rnn->hd, H = rnn->cfg.hidden_size, GH = rnn->gates * Hd;
    size_t step = (size_t)B * Hd;
    float *hs = acts->hs[l][d], *cs = acts->cs[l][d];
    /* only the GRU's recurrent-side gate gradients differ from the input side's */
    float *dgh = rnn->cfg.cell == BATON_CELL_GRU ? acts->dgh : acts->dgx;
    const float *w_hh = tensor(params, t, rnn->w_hh[l][d]);
    BATON_TRY(copy_or_zero(be, acts->dh, dhn, step));
    if (cs)
        BATON_TRY(copy_or_zero(be, acts->dc, dcn, step));
    for (int k = T - 1; k >= 0; k--) {
        int tt = d ? T - 1 - k : k, prev = d ? tt + 1 : tt, next = d ? tt : tt + 1;
        baton_cell_bwd_args a = {
            .B = B, .Hd = Hd, .t = tt, .lengths = lengths,
            .dy = dyl + (size_t)tt * B * H + (size_t)d * Hd, .ldy = H,
            .dh = acts->dh, .dc = acts->dc,
            .save = saved_at(rnn, acts, l, d, tt, B),
            .h_prev = hs + prev * step, .h = hs + next * step,
            .c_prev = cs ? cs + prev * step : NULL, .c = cs ? cs + next * step : NULL,
            .dgx = acts->dgx + (size_t)tt * B * GH, .dgh = acts->dgh ? acts->dgh + (size_t)tt * B * GH : NULL,
            .dh_prev = acts->dh, .dc_prev = acts->dc,
            .dgx16 = baton_backend_bf16_twin(be, acts->dgx + (size_t)tt * B * GH),
            .dgh16 = acts->dgh ? baton_backend_bf16_twin(be, acts->dgh + (size_t)tt * B * GH) : NULL,
        };
        BATON_TRY(ops->cell_backward(be, rnn->cfg.cell, &a));
        BATON_TRY(ops->gemm(be, 0, 0, B, Hd, GH, 1.0f, dgh + (size_t)tt * B * GH, GH, w_hh, Hd, 1.0f, acts->dh, Hd));
    }
    return direction_grads(be, rnn, acts, l, d, dxin, dh0, dc0, grads, acts->dgx, dgh, acts->dh, cs ? acts->dc : NULL,
                           xin, params, t, T, B);
}

/* Backward of layer l through the backend's whole-recurrence op, then direction_grads per direction. */
static baton_status layer_backward_recur(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, int l,
                                         float *dxin, float *dh0, float *dc0, float *grads, const float *dyl,
                                         const float *dhn, const float *dcn, const float *xin, const int *lengths,
                                         const float *params, const baton_param_table *t, int T, int B)
{
    baton_recur_args ra = recur_args(rnn, acts, l, NULL, lengths, params, t, T, B);
    ra.dy = dyl;
    size_t state = (size_t)B * rnn->hd;
    for (int d = 0; d < rnn->dirs; d++) {
        size_t s = (size_t)(l * rnn->dirs + d) * state;
        BATON_TRY(copy_or_zero(be, ra.dir[d].dh, dhn ? dhn + s : NULL, state));
        if (ra.dir[d].dc)
            BATON_TRY(copy_or_zero(be, ra.dir[d].dc, dcn ? dcn + s : NULL, state));
    }
    BATON_TRY(be->ops->recur_backward(be, acts->recur, &ra));
    for (int d = 0; d < rnn->dirs; d++) {
        size_t s = (size_t)(l * rnn->dirs + d) * state;
        const baton_recur_dir *r = &ra.dir[d];
        BATON_TRY(direction_grads(be, rnn, acts, l, d, dxin, dh0 ? dh0 + s : NULL, dc0 ? dc0 + s : NULL, grads,
                                  r->dgx, r->dgh ? r->dgh : r->dgx, r->dh, r->dc, xin, params, t, T, B));
    }
    return BATON_OK;
}

/* Backward of all layers as one wavefront, then each layer's weight gradients; only layer 0's
 * input gradient leaves (the others were consumed inside, step by step). */
static baton_status wave_backward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *dx,
                                  float *dh0, float *dc0, float *grads, const float *dy, const float *dhn,
                                  const float *dcn, const float *x, const int *lengths, const float *params,
                                  const baton_param_table *t, int T, int B, const baton_dropout_key *drop)
{
    int L = rnn->cfg.layers;
    size_t state = (size_t)B * rnn->hd;
    baton_recur_wave w = wave_args(rnn, acts, NULL, dy, lengths, params, t, T, B, drop);
    for (int l = 0; l < L; l++) {
        const baton_recur_dir *r = &w.layer[l].dir[0];
        BATON_TRY(copy_or_zero(be, r->dh, dhn ? dhn + l * state : NULL, state));
        if (r->dc)
            BATON_TRY(copy_or_zero(be, r->dc, dcn ? dcn + l * state : NULL, state));
    }
    BATON_TRY(be->ops->recur_wave_backward(be, &w));
    for (int l = 0; l < L; l++) {
        const baton_recur_dir *r = &w.layer[l].dir[0];
        BATON_TRY(direction_grads(be, rnn, acts, l, 0, l ? NULL : dx, dh0 ? dh0 + l * state : NULL,
                                  dc0 ? dc0 + l * state : NULL, grads, r->dgx, r->dgh ? r->dgh : r->dgx, r->dh, r->dc,
                                  l ? acts->out[l - 1] : x, params, t, T, B));
    }
    return BATON_OK;
}

baton_status baton_rnn_backward(baton_backend *be, const baton_rnn *rnn, baton_rnn_acts *acts, float *dx,
                                float *dh0, float *dc0, float *grads, const float *dy, const float *dhn,
                                const float *dcn, const float *x, const int *lengths, const float *params,
                                const baton_param_table *t, int T, int B, const baton_dropout_key *drop)
{
    BATON_TRY(check_shape(acts, T, B));
    BATON_REQUIRE(!acts->no_grad, "rnn backward: the activations are set no_grad (an inference forward kept nothing)");
#if BATON_HAVE_CUDNN
    if (acts->cudnn)
        return baton_cudnn_rnn_backward(acts->cudnn, dx, dh0, dc0, grads, dy, dhn, dcn, x, lengths,
                                        acts->host_lengths, params, t, T, B);
#endif
    if (acts->recur == BATON_RECUR_WAVEFRONT)
        return wave_backward(be, rnn, acts, dx, dh0, dc0, grads, dy, dhn, dcn, x, lengths, params, t, T, B, drop);
    int L = rnn->cfg.layers, H = rnn->cfg.hidden_size;
    size_t state = (size_t)B * rnn->hd;
    for (int l = L - 1; l >= 0; l--) {
        float *dyl = l + 1 < L ? acts->dxl[(l + 1) & 1] : (float *)dy;
        if (l + 1 < L && use_dropout(rnn, drop))
            BATON_TRY(be->ops->dropout(be, dyl, dyl, (size_t)T * B * H, rnn->cfg.dropout, drop->seed,
                                       drop->purpose + (uint32_t)l, drop->counter));
        float *dxin = l ? acts->dxl[l & 1] : dx;
        const float *xin = l ? acts->out[l - 1] : x;
        if (acts->recur) {
            BATON_TRY(layer_backward_recur(be, rnn, acts, l, dxin, dh0, dc0, grads, dyl, dhn, dcn, xin, lengths,
                                           params, t, T, B));
            continue;
        }
        for (int d = 0; d < rnn->dirs; d++) {
            size_t s = (size_t)(l * rnn->dirs + d) * state;
            BATON_TRY(direction_backward(be, rnn, acts, l, d, dxin, dh0 ? dh0 + s : NULL, dc0 ? dc0 + s : NULL,
                                         grads, dyl, dhn ? dhn + s : NULL, dcn ? dcn + s : NULL, xin, lengths,
                                         params, t, T, B));
        }
    }
    return BATON_OK;
}
