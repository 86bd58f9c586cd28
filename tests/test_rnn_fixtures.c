/* test_rnn_fixtures.c: baton_rnn forward and backward against PyTorch's float64 results.
 *
 * For each layer_<cell>_<uni|bi>_L<1|3>.safetensors in the shared fixtures (see their README):
 * build the layer from the file's config, load the fixture's weights into the parameter table,
 * run forward on the ragged batch (lengths 5, 3, 1) and compare y, hn (and cn); run backward with
 * the fixture's dy, dhn (and dcn) and compare dx, dh0 (and dc0) and every parameter gradient.
 * Two contract checks ride along: outputs and input gradients at padded positions are exactly
 * zero, and a second forward+backward without re-zeroing assigns dx again but doubles the
 * parameter gradients (they accumulate).
 *
 * Usage: test_rnn_fixtures [backend]   (default "cpu"). Exit 0 all passed, 1 any failure,
 * 77 when the fixture directory is absent (meson's "skipped"). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/arena.h"
#include "baton/backend.h"
#include "baton/param.h"
#include "baton/rnn.h"
#include "support/safetensors.h"
#include "support/testutil.h"

/* Relative-norm tolerance per tensor: 1e-5, the agreement the fixtures' README promises for a
 * float32 implementation. The inputs and weights are exactly representable in float32, so the only
 * difference from the float64 reference is float32 rounding (unit roundoff 6e-8) in dot products
 * of at most 12 terms and the cell nonlinearities, compounded over 5 steps x 3 layers forward and
 * again backward; the CPU backend measures 3e-8..7e-7 (worst: d_bias_ih_l1_reverse of the 3-layer
 * bidirectional tanh RNN, where a bias gradient sums terms of both signs). 1e-5 leaves over 10x
 * room for any summation order a backend may choose (blocked GEMMs, GPU reductions) and is still
 * sharp: changing one recurrent weight of the 3-layer bidirectional LSTM by 1e-3 (of ~0.3) already
 * fails 22 tensors at 1.1e-5..1.4e-4, and structural mistakes (gate order, a missing bias, padding,
 * direction) are far larger. The deeper networks measured no worse, so they get no extra slack. */
#define REL_TOL 1e-5

static const char *const CELLS[] = {"rnn_tanh", "lstm", "gru"};
static const char *const DIRS[] = {"uni", "bi"};
static const int LAYERS[] = {1, 3};

/* Device buffers of one fixture, freed together. */
typedef struct {
    baton_backend *be;
    void *p[32];
    int n;
} dev_list;

static void *dev_alloc(dev_list *dl, size_t bytes, const char *what)
{
    void *p = NULL;
    if (dl->n == (int)(sizeof dl->p / sizeof dl->p[0])) {
        fprintf(stderr, "test_rnn_fixtures: too many device buffers (raise dev_list.p)\n");
        return NULL;
    }
    if (dl->be->ops->alloc(dl->be, &p, bytes, what) != BATON_OK)
        return NULL;
    dl->p[dl->n++] = p;
    return p;
}

static void dev_free_all(dev_list *dl)
{
    for (int i = 0; i < dl->n; i++)
        dl->be->ops->free(dl->be, dl->p[i]);
    dl->n = 0;
}

/* Fills a device buffer of n floats with NaN so that a value the call fails to write shows up. */
static int poison(baton_backend *be, float *dev, size_t n)
{
    float *h = malloc(n * sizeof *h);
    if (!h)
        return -1;
    tu_fill_nan(h, n);
    baton_status st = be->ops->upload(be, dev, h, n * sizeof *h);
    free(h);
    return st == BATON_OK ? 0 : -1;
}

/* Largest |v| over the padded positions t >= len[b] of a batch-major (B,T,D) array; inf on NaN. */
static double padded_max_abs(const float *bt, const int *len, int B, int T, int D)
{
    double m = 0.0;
    for (int b = 0; b < B; b++)
        for (int t = len[b]; t < T; t++)
            for (int k = 0; k < D; k++) {
                float v = bt[((size_t)b * T + t) * D + k];
                if (isnan(v))
                    return INFINITY;
                m = fmax(m, fabs(v));
            }
    return m;
}

/* Integer member `key` of a JSON object, or -1 after a message. */
static int cfg_int(const cJSON *cfg, const char *key, const char *file)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble <= 1e6) ||
        v->valuedouble != (double)(int)v->valuedouble) {
        fprintf(stderr, "fixture %s: config \"%s\" is missing or not a non-negative integer\n", file, key);
        return -1;
    }
    return v->valueint;
}

/* Compares a downloaded float array with the fixture tensor `name` (read as double). */
static void compare(tu_report *r, const char *tag, const st_file *f, const char *name, const float *out, size_t n,
                    double scale)
{
    char label[384];
    snprintf(label, sizeof label, "%s %s", tag, name);
    double *ref = st_read_double(f, name, n);
    if (!ref) {
        tu_check(r, label, INFINITY, REL_TOL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ref[i] *= scale;
    tu_check(r, label, tu_rel_err(out, ref, n), REL_TOL);
    free(ref);
}

/* Everything one fixture needs on the host; all malloc'd, freed by host_free. */
typedef struct {
    float *x_bt, *x_tb, *h0, *c0, *dy_bt, *dy_tb, *dhn, *dcn, *params;
    float *y_tb, *y_bt, *hn, *cn, *dx_tb, *dx_bt, *dh0, *dc0, *grads;
    int *lengths;
} host_bufs;

static void host_free(host_bufs *h)
{
    float **fs[] = {&h->x_bt, &h->x_tb,  &h->h0,   &h->c0,    &h->dy_bt, &h->dy_tb, &h->dhn,
                    &h->dcn,  &h->params, &h->y_tb, &h->y_bt, &h->hn,    &h->cn,    &h->dx_tb,
                    &h->dx_bt, &h->dh0,  &h->dc0,  &h->grads};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        free(*fs[i]);
        *fs[i] = NULL;
    }
    free(h->lengths);
    h->lengths = NULL;
}

#define FAIL_SETUP(...)                                      \
    do {                                                     \
        fprintf(stderr, __VA_ARGS__);                        \
        fputc('\n', stderr);                                 \
        tu_check(r, tag, INFINITY, REL_TOL); /* counts it */ \
        goto done;                                           \
    } while (0)

#define BTRY(expr)                                                    \
    do {                                                              \
        if ((expr) != BATON_OK)                                       \
            FAIL_SETUP("%s: %s failed (see the error above)", tag, #expr); \
    } while (0)

static void run_fixture(tu_report *r, const char *dir, const char *backend, const char *cell_name,
                        const char *dir_name, int layers_in_name)
{
    char tag[64], path[4096 + 96]; /* dir, "/", tag, ".safetensors" always fit */
    snprintf(tag, sizeof tag, "layer_%s_%s_L%d", cell_name, dir_name, layers_in_name);
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, tag);

    st_file f;
    cJSON *cfg = NULL;
    baton_param_table table;
    baton_backend be;
    baton_arena arena = {0};
    host_bufs h;
    dev_list dl = {.be = &be};
    int have_be = 0;
    memset(&h, 0, sizeof h);
    memset(&be, 0, sizeof be);
    baton_param_table_init(&table);
    if (st_open(&f, path) != 0) {
        tu_check(r, tag, INFINITY, REL_TOL);
        baton_param_table_free(&table);
        return;
    }

    /* ---- configuration: from the file, cross-checked against its name and its tensors ---- */
    const char *cfg_str = st_config(&f);
    if (!cfg_str || !(cfg = cJSON_Parse(cfg_str)))
        FAIL_SETUP("fixture %s: config is missing or not JSON", f.label);
    const cJSON *jcell = cJSON_GetObjectItemCaseSensitive(cfg, "cell");
    const cJSON *jbi = cJSON_GetObjectItemCaseSensitive(cfg, "bidirectional");
    if (!cJSON_IsString(jcell) || !cJSON_IsBool(jbi))
        FAIL_SETUP("fixture %s: config needs \"cell\" (string) and \"bidirectional\" (bool)", f.label);
    int B = cfg_int(cfg, "batch", f.label), T = cfg_int(cfg, "seq", f.label), I = cfg_int(cfg, "input", f.label);
    int Hd = cfg_int(cfg, "hidden_per_direction", f.label), L = cfg_int(cfg, "layers", f.label);
    int dirs = cJSON_IsTrue(jbi) ? 2 : 1;
    if (B <= 0 || T <= 0 || I <= 0 || Hd <= 0 || L <= 0)
        FAIL_SETUP("fixture %s: config has a missing or zero size", f.label);
    if (strcmp(jcell->valuestring, cell_name) != 0 || dirs != (strcmp(dir_name, "bi") == 0 ? 2 : 1) ||
        L != layers_in_name)
        FAIL_SETUP("fixture %s: config (cell %s, %s, %d layers) disagrees with the file name", f.label,
                   jcell->valuestring, dirs == 2 ? "bi" : "uni", L);
    int H = dirs * Hd, LD = L * dirs;
    baton_cell cell;
    BTRY(baton_cell_parse(&cell, jcell->valuestring));
    int lstm = cell == BATON_CELL_LSTM;
    size_t n_x = (size_t)B * T * I, n_y = (size_t)B * T * H, n_s = (size_t)LD * B * Hd;
    {
        const int64_t sx[] = {B, T, I}, sy[] = {B, T, H}, ss[] = {LD, B, Hd}, sl[] = {B};
        const int64_t sw[] = {(int64_t)baton_cell_gates(cell) * Hd, I};
        if (!st_get_shaped(&f, "x", 3, sx) || !st_get_shaped(&f, "y", 3, sy) || !st_get_shaped(&f, "dy", 3, sy) ||
            !st_get_shaped(&f, "dx", 3, sx) || !st_get_shaped(&f, "lengths", 1, sl) ||
            !st_get_shaped(&f, "h0", 3, ss) || !st_get_shaped(&f, "hn", 3, ss) ||
            !st_get_shaped(&f, "dhn", 3, ss) || !st_get_shaped(&f, "dh0", 3, ss) ||
            !st_get_shaped(&f, "weight_ih_l0", 2, sw))
            FAIL_SETUP("%s: tensor shapes disagree with the config", tag);
        if (lstm && (!st_get_shaped(&f, "c0", 3, ss) || !st_get_shaped(&f, "cn", 3, ss) ||
                     !st_get_shaped(&f, "dcn", 3, ss) || !st_get_shaped(&f, "dc0", 3, ss)))
            FAIL_SETUP("%s: LSTM state shapes disagree with the config", tag);
        if (!lstm && (st_find(&f, "c0") || st_find(&f, "cn")))
            FAIL_SETUP("fixture %s: a %s fixture carries cell states", f.label, cell_name);
    }
    printf("%s: cell %s, B=%d T=%d I=%d H=%d (%s, Hd=%d), L=%d\n", tag, cell_name, B, T, I, H,
           dirs == 2 ? "bidirectional" : "unidirectional", Hd, L);

    /* ---- the layer and its parameters, loaded from the fixture by name ---- */
    baton_rnn rnn;
    baton_rnn_config rc = {.cell = cell, .input_size = I, .hidden_size = H, .layers = L,
                           .bidirectional = dirs == 2, .dropout = 0.0f};
    BTRY(baton_rnn_init(&rnn, &rc, &table, "rnn"));
    if (!(h.params = calloc(table.total ? table.total : 1, sizeof *h.params)))
        FAIL_SETUP("%s: out of memory", tag);
    int fixture_params = 0;
    for (int i = 0; i < f.count; i++)
        if (strncmp(f.tensors[i].name, "weight_", 7) == 0 || strncmp(f.tensors[i].name, "bias_", 5) == 0)
            fixture_params++;
    if (fixture_params != table.count)
        FAIL_SETUP("%s: the layer registers %d parameter tensors, the fixture has %d", tag, table.count,
                   fixture_params);
    for (int i = 0; i < table.count; i++) {
        const baton_param *p = &table.items[i];
        const char *key = p->name + strlen("rnn.");
        if (strncmp(p->name, "rnn.", 4) != 0 || !st_get_shaped(&f, key, p->ndim, p->shape))
            FAIL_SETUP("%s: parameter %s has no fixture tensor of its shape", tag, p->name);
        float *w = st_read_float(&f, key, p->numel);
        if (!w)
            FAIL_SETUP("%s: cannot read parameter %s", tag, key);
        memcpy(h.params + p->offset, w, p->numel * sizeof *w);
        free(w);
    }

    /* ---- host inputs; time-major where the layer wants it ---- */
    h.x_bt = st_read_float(&f, "x", n_x);
    h.dy_bt = st_read_float(&f, "dy", n_y);
    h.h0 = st_read_float(&f, "h0", n_s);
    h.dhn = st_read_float(&f, "dhn", n_s);
    h.lengths = st_read_int(&f, "lengths", (size_t)B);
    if (lstm) {
        h.c0 = st_read_float(&f, "c0", n_s);
        h.dcn = st_read_float(&f, "dcn", n_s);
    }
    h.x_tb = malloc(n_x * sizeof(float));
    h.dx_tb = malloc(n_x * sizeof(float));
    h.dx_bt = malloc(n_x * sizeof(float));
    h.dy_tb = malloc(n_y * sizeof(float));
    h.y_tb = malloc(n_y * sizeof(float));
    h.y_bt = malloc(n_y * sizeof(float));
    h.hn = malloc(n_s * sizeof(float));
    h.cn = malloc(n_s * sizeof(float));
    h.dh0 = malloc(n_s * sizeof(float));
    h.dc0 = malloc(n_s * sizeof(float));
    h.grads = malloc((table.total ? table.total : 1) * sizeof(float));
    if (!h.x_bt || !h.dy_bt || !h.h0 || !h.dhn || !h.lengths || (lstm && (!h.c0 || !h.dcn)) || !h.x_tb ||
        !h.dx_tb || !h.dx_bt || !h.dy_tb || !h.y_tb || !h.y_bt || !h.hn || !h.cn || !h.dh0 || !h.dc0 || !h.grads)
        FAIL_SETUP("%s: cannot read the fixture's inputs (see above) or out of memory", tag);
    for (int b = 0; b < B; b++)
        if (h.lengths[b] < 1 || h.lengths[b] > T)
            FAIL_SETUP("fixture %s: lengths[%d] = %d, expected 1..%d", f.label, b, h.lengths[b], T);
    tu_bt_to_tb(h.x_tb, h.x_bt, B, T, I);
    tu_bt_to_tb(h.dy_tb, h.dy_bt, B, T, H);

    /* ---- backend, device copies, arena ---- */
    BTRY(strcmp(backend, "cpu") == 0 ? baton_cpu_backend_create(&be, 0) : baton_backend_create(&be, backend, 0));
    have_be = 1;
    size_t fb = sizeof(float);
    float *d_params = NULL, *d_grads = NULL;
    /* The parameter buffers join the list at once so that a later failure still frees them. */
    BTRY(baton_param_buffer_alloc(&be, &table, &d_params, "fixture parameters"));
    dl.p[dl.n++] = d_params;
    BTRY(baton_param_buffer_alloc(&be, &table, &d_grads, "fixture gradients"));
    dl.p[dl.n++] = d_grads;
    float *d_x = dev_alloc(&dl, n_x * fb, "x"), *d_y = dev_alloc(&dl, n_y * fb, "y");
    float *d_dy = dev_alloc(&dl, n_y * fb, "dy"), *d_dx = dev_alloc(&dl, n_x * fb, "dx");
    float *d_h0 = dev_alloc(&dl, n_s * fb, "h0"), *d_hn = dev_alloc(&dl, n_s * fb, "hn");
    float *d_dhn = dev_alloc(&dl, n_s * fb, "dhn"), *d_dh0 = dev_alloc(&dl, n_s * fb, "dh0");
    float *d_c0 = lstm ? dev_alloc(&dl, n_s * fb, "c0") : NULL, *d_cn = lstm ? dev_alloc(&dl, n_s * fb, "cn") : NULL;
    float *d_dcn = lstm ? dev_alloc(&dl, n_s * fb, "dcn") : NULL;
    float *d_dc0 = lstm ? dev_alloc(&dl, n_s * fb, "dc0") : NULL;
    int *d_len = dev_alloc(&dl, (size_t)B * sizeof(int), "lengths");
    if (!d_x || !d_y || !d_dy || !d_dx || !d_h0 || !d_hn || !d_dhn || !d_dh0 || !d_len ||
        (lstm && (!d_c0 || !d_cn || !d_dcn || !d_dc0)))
        FAIL_SETUP("%s: device allocation failed", tag);
    BTRY(be.ops->upload(&be, d_params, h.params, baton_param_bytes(&table)));
    BTRY(be.ops->upload(&be, d_x, h.x_tb, n_x * fb));
    BTRY(be.ops->upload(&be, d_dy, h.dy_tb, n_y * fb));
    BTRY(be.ops->upload(&be, d_h0, h.h0, n_s * fb));
    BTRY(be.ops->upload(&be, d_dhn, h.dhn, n_s * fb));
    BTRY(be.ops->upload(&be, d_len, h.lengths, (size_t)B * sizeof(int)));
    if (lstm) {
        BTRY(be.ops->upload(&be, d_c0, h.c0, n_s * fb));
        BTRY(be.ops->upload(&be, d_dcn, h.dcn, n_s * fb));
    }
    baton_rnn_acts acts;
    baton_arena measure = baton_arena_measuring();
    BTRY(baton_rnn_acts_carve(&acts, &measure, &rnn, T, B));
    BTRY(baton_arena_create(&arena, &be, measure.used));
    BTRY(baton_rnn_acts_carve(&acts, &arena, &rnn, T, B));

    /* ---- two rounds: the first checks values, the second assign-vs-accumulate ---- */
    for (int round = 1; round <= 2; round++) {
        if (poison(&be, d_y, n_y) || poison(&be, d_hn, n_s) || (lstm && poison(&be, d_cn, n_s)))
            FAIL_SETUP("%s: cannot poison outputs", tag);
        BTRY(baton_rnn_forward(&be, &rnn, &acts, d_y, d_hn, d_cn, d_x, d_h0, d_c0, d_len, d_params, &table, T, B,
                               NULL));
        if (poison(&be, d_dx, n_x) || poison(&be, d_dh0, n_s) || (lstm && poison(&be, d_dc0, n_s)))
            FAIL_SETUP("%s: cannot poison input gradients", tag);
        BTRY(baton_rnn_backward(&be, &rnn, &acts, d_dx, d_dh0, d_dc0, d_grads, d_dy, d_dhn, d_dcn, d_x, d_len,
                                d_params, &table, T, B, NULL));
        BTRY(be.ops->sync(&be));
        BTRY(be.ops->download(&be, h.y_tb, d_y, n_y * fb));
        BTRY(be.ops->download(&be, h.hn, d_hn, n_s * fb));
        BTRY(be.ops->download(&be, h.dx_tb, d_dx, n_x * fb));
        BTRY(be.ops->download(&be, h.dh0, d_dh0, n_s * fb));
        BTRY(be.ops->download(&be, h.grads, d_grads, baton_param_bytes(&table)));
        if (lstm) {
            BTRY(be.ops->download(&be, h.cn, d_cn, n_s * fb));
            BTRY(be.ops->download(&be, h.dc0, d_dc0, n_s * fb));
        }
        tu_tb_to_bt(h.y_bt, h.y_tb, T, B, H);
        tu_tb_to_bt(h.dx_bt, h.dx_tb, T, B, I);

        if (round == 1) {
            compare(r, tag, &f, "y", h.y_bt, n_y, 1.0);
            compare(r, tag, &f, "hn", h.hn, n_s, 1.0);
            if (lstm)
                compare(r, tag, &f, "cn", h.cn, n_s, 1.0);
            char label[256];
            snprintf(label, sizeof label, "%s y at padded steps", tag);
            tu_check_abs(r, label, padded_max_abs(h.y_bt, h.lengths, B, T, H), 0.0);
            compare(r, tag, &f, "dx", h.dx_bt, n_x, 1.0);
            snprintf(label, sizeof label, "%s dx at padded steps", tag);
            tu_check_abs(r, label, padded_max_abs(h.dx_bt, h.lengths, B, T, I), 0.0);
            compare(r, tag, &f, "dh0", h.dh0, n_s, 1.0);
            if (lstm)
                compare(r, tag, &f, "dc0", h.dc0, n_s, 1.0);
            for (int i = 0; i < table.count; i++) {
                char key[BATON_PARAM_NAME_MAX + 8];
                snprintf(key, sizeof key, "d_%s", table.items[i].name + strlen("rnn."));
                compare(r, tag, &f, key, h.grads + table.items[i].offset, table.items[i].numel, 1.0);
            }
        } else {
            /* Activation gradients assign: the second dx equals the first reference. Parameter
             * gradients accumulate: after two passes without zeroing they are twice the reference. */
            char label[256];
            snprintf(label, sizeof label, "%s (2nd pass, assigns)", tag);
            compare(r, label, &f, "dx", h.dx_bt, n_x, 1.0);
            double worst = 0.0;
            const char *worst_name = "-";
            for (int i = 0; i < table.count; i++) {
                char key[BATON_PARAM_NAME_MAX + 8];
                snprintf(key, sizeof key, "d_%s", table.items[i].name + strlen("rnn."));
                double *ref = st_read_double(&f, key, table.items[i].numel);
                double e = INFINITY;
                if (ref) {
                    for (size_t k = 0; k < table.items[i].numel; k++)
                        ref[k] *= 2.0;
                    e = tu_rel_err(h.grads + table.items[i].offset, ref, table.items[i].numel);
                    free(ref);
                }
                if (!(e <= worst)) {
                    worst = e;
                    worst_name = table.items[i].name;
                }
            }
            snprintf(label, sizeof label, "%s (2nd pass, accumulates) d_params vs 2x ref, worst %s", tag,
                     worst_name);
            tu_check(r, label, worst, REL_TOL);
        }
    }

done:
    if (arena.base)
        baton_arena_destroy(&arena);
    if (have_be) {
        dev_free_all(&dl);
        baton_backend_destroy(&be);
    }
    host_free(&h);
    cJSON_Delete(cfg);
    baton_param_table_free(&table);
    st_close(&f);
}

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "cpu";
    char dir[4096];
    if (!testutil_fixture_dir(dir, sizeof dir)) {
        printf("test_rnn_fixtures: skipped: no fixture directory (set BATON_FIXTURES or place ../shared/fixtures "
               "beside the source tree)\n");
        return TU_EXIT_SKIP;
    }
    printf("test_rnn_fixtures: fixtures in %s, backend %s, tolerance %.0e relative per tensor\n", dir, backend,
           REL_TOL);
    tu_report r = {0};
    for (size_t c = 0; c < sizeof CELLS / sizeof CELLS[0]; c++)
        for (size_t d = 0; d < sizeof DIRS / sizeof DIRS[0]; d++)
            for (size_t l = 0; l < sizeof LAYERS / sizeof LAYERS[0]; l++)
                run_fixture(&r, dir, backend, CELLS[c], DIRS[d], LAYERS[l]);
    return tu_summary(&r, "test_rnn_fixtures");
}
