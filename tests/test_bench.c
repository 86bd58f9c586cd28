/* test_bench.c: the counting and reporting rules of `baton bench` (include/baton/bench.h):
 *   - recurrent FLOPs against values worked out by hand from the documented formula;
 *   - the synthetic batches: lengths by the formula, tokens per step (tiny: 3392, which
 *     bench/pytorch_baseline.py prints for the same configuration), the <s>/</s>/pad layout and
 *     ids in [4, V);
 *   - the median;
 *   - a report written as CSV and read back cell for cell, its JSON with numbers unquoted, and
 *     the join of two systems' train reports with their tokens/s ratio.
 * Exact comparisons throughout: these are counts and strings, not floating-point results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/bench/bench_internal.h"
#include "baton/vocab.h"
#include "testutil.h"

static void check_true(tu_report *r, const char *name, int ok)
{
    tu_check_abs(r, name, ok ? 0.0 : 1.0, 0.0);
}

static void test_flops(tu_report *r)
{
    /* LSTM, I = H = 256, one layer, one direction, T = 50, B = 32: 50 * 2*32*4*256*(256+256) */
    check_true(r, "flops lstm L1 uni", baton_bench_rnn_flops(BATON_CELL_LSTM, 256, 256, 1, 0, 50, 32, 0) ==
                                           1677721600.0);
    check_true(r, "flops fwd+bwd = 3 fwd", baton_bench_rnn_flops(BATON_CELL_LSTM, 256, 256, 1, 0, 50, 32, 1) ==
                                               3.0 * 1677721600.0);
    /* GRU, I = 100, H = 64 bidirectional (Hd = 32), 2 layers, T = 10, B = 4:
     * layer 0: 2 dirs * 10 * 2*4*3*32*(100+32) = 2027520; layer 1: 2 * 10 * 2*4*3*32*(64+32) = 1474560 */
    check_true(r, "flops gru L2 bi", baton_bench_rnn_flops(BATON_CELL_GRU, 100, 64, 2, 1, 10, 4, 0) == 3502080.0);
    /* tanh RNN: one gate block */
    check_true(r, "flops rnn_tanh", baton_bench_rnn_flops(BATON_CELL_RNN_TANH, 8, 8, 1, 0, 1, 1, 0) == 256.0);
}

static void test_batches(tu_report *r)
{
    const baton_bench_model *m = baton_bench_model_find("tiny");
    check_true(r, "tiny configuration exists", m != NULL && baton_bench_model_find("nope") == NULL);
    if (!m)
        return;
    baton_host_batch hb;
    if (baton_host_batch_alloc(&hb, m->S, m->T, m->batch) != BATON_OK) {
        check_true(r, "host batch", 0);
        return;
    }
    baton_bench_batch_fill(&hb, m, 3, 1);
    check_true(r, "tiny tokens per step 3392", hb.src_tokens + hb.tgt_tokens == 3392);
    int layout = 1, ids = 1;
    for (int b = 0; b < hb.B; b++) {
        int ls = hb.src_len[b], lt = hb.tgt_len[b];
        layout &= ls == m->S - (37 * b) % (m->S / 4 + 1) && lt == m->T - (53 * b) % (m->T / 4 + 1);
        layout &= hb.tgt_in[b] == BATON_BOS && hb.tgt_out[(lt - 1) * hb.B + b] == BATON_EOS;
        for (int s = 0; s < m->S; s++) {
            int id = hb.src[s * hb.B + b];
            ids &= s < ls ? id >= BATON_SPECIALS && id < m->src_vocab : id == BATON_PAD;
        }
        for (int t = 0; t < m->T; t++) {
            int out = hb.tgt_out[t * hb.B + b], in = hb.tgt_in[t * hb.B + b];
            ids &= t < lt - 1 ? out >= BATON_SPECIALS && out < m->tgt_vocab : t >= lt ? out == BATON_PAD : 1;
            layout &= t > 0 && t < lt ? in == hb.tgt_out[(t - 1) * hb.B + b] : t >= lt ? in == BATON_PAD : 1;
        }
    }
    check_true(r, "synthetic batch: lengths, <s>, </s> and padding", layout);
    check_true(r, "synthetic batch: ids in [4, V)", ids);
    baton_host_batch_free(&hb);
}

static void test_median(tu_report *r)
{
    double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
    check_true(r, "median odd", baton_bench_median(odd, 3) == 3.0);
    check_true(r, "median even", baton_bench_median(even, 4) == 2.5);
}

/* The columns bench/pytorch_baseline.py writes: the first of baton's train report (which adds the
 * issued-work columns after them). */
enum { PYTORCH_NCOL = 12 };
static const char *const cols[PYTORCH_NCOL] = {"system", "config", "feed", "device", "precision", "batch",
                                                   "src_len", "tgt_len", "tokens_per_step", "median_step_ms",
                                                   "tokens_per_s", "peak_mem_mib"};

static void test_report(tu_report *r, const char *dir)
{
    baton_report a, b, back, joined;
    baton_report_init(&a, cols, PYTORCH_NCOL);
    baton_report_init(&b, cols, PYTORCH_NCOL);
    int ok = baton_report_row(&a, "baton-fused|tiny|off|cpu|fp32|64|30|30|3392|300.0|11306|421") == BATON_OK &&
             baton_report_row(&b, "pytorch-2.5|tiny|off|cpu|fp32|64|30|30|3392|600.0|5653|700") == BATON_OK;
    check_true(r, "report rows", ok && a.nrow == 1);
    check_true(r, "a row with too few cells is refused", baton_report_row(&a, "x|y") != BATON_OK && a.nrow == 1);
    char csv[512], json[512];
    snprintf(csv, sizeof csv, "%s/a.csv", dir);
    snprintf(json, sizeof json, "%s/a.json", dir);
    ok = baton_report_write(&a, csv) == BATON_OK && baton_report_read_csv(&back, csv) == BATON_OK;
    check_true(r, "CSV round trip", ok && back.nrow == 1 && back.ncol == PYTORCH_NCOL &&
                                        strcmp(baton_report_cell(&back, 0, "tokens_per_s"), "11306") == 0 &&
                                        strcmp(baton_report_cell(&back, 0, "system"), "baton-fused") == 0);
    char text[4096] = "";
    FILE *f = baton_report_write(&a, json) == BATON_OK ? fopen(json, "r") : NULL;
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f)
        fclose(f);
    check_true(r, "JSON: machine lines, numbers unquoted, names quoted",
               strstr(text, "\"machine\": [") && strstr(text, "\"tokens_per_s\": 11306") &&
                   strstr(text, "\"system\": \"baton-fused\""));
    baton_report issued;
    const char *two[2] = {"system", "launches_per_step"};
    baton_report_init(&issued, two, 2);
    ok = baton_report_row(&issued, "baton-fused|-") == BATON_OK && baton_report_write(&issued, json) == BATON_OK;
    f = ok ? fopen(json, "r") : NULL;
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = 0;
    if (f)
        fclose(f);
    check_true(r, "JSON: a cell not measured ('-') is null", strstr(text, "\"launches_per_step\": null") != NULL);
    baton_report_free(&issued);
    const baton_report *both[2] = {&a, &b};
    ok = bench_compare(&joined, both, 2) == BATON_OK;
    const char *ratio = ok ? baton_report_cell(&joined, 0, "baton-fused/pytorch-2.5") : NULL;
    check_true(r, "compare: one row, ratio baton/pytorch 2.00", ok && joined.nrow == 1 && ratio &&
                                                                     strcmp(ratio, "2.00") == 0);
    if (ok)
        baton_report_free(&joined);
    if (back.cols)
        baton_report_free(&back);
    baton_report_free(&a);
    baton_report_free(&b);
    remove(csv);
    remove(json);
}

/* bench layer's picture: a line per version against cuDNN, from cudnn rows (fused_speedup) and
 * later rows (1 / vs_cudnn); a report without cuDNN rows is refused with a message. */
static void test_layer_plot(tu_report *r, const char *dir)
{
    baton_report rep;
    baton_report_init(&rep, bench_layer_cols, (int)BENCH_LAYER_NCOL);
    const char *rows[] = {
        "fused|cuda|lstm|8|50|1024|1|1|1.0|2.0|1|1|-|-",      "cudnn|cuda|lstm|8|50|1024|1|1|2.0|4.0|1|1|2.000|-",
        "persistent|cuda|lstm|8|50|1024|1|1|0.4|1.0|1|1|0.500|0.250", "fused|cuda|lstm|16|50|1024|1|1|1.0|2.0|1|1|-|-",
        "cudnn|cuda|lstm|16|50|1024|1|1|2.0|4.0|1|1|2.000|-", "persistent|cuda|lstm|16|50|1024|1|1|0.8|2.0|1|1|1.000|0.500",
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ok = ok && baton_report_row(&rep, "%s", rows[i]) == BATON_OK;
    char png[256];
    snprintf(png, sizeof png, "%s/layer.png", dir);
    check_true(r, "layer plot: fused and persistent against cuDNN", ok && bench_plot_layer(png, &rep) == BATON_OK &&
                                                                        access(png, R_OK) == 0);
    remove(png);
    baton_report_free(&rep);
    baton_report_init(&rep, bench_layer_cols, (int)BENCH_LAYER_NCOL);
    ok = baton_report_row(&rep, "%s", rows[0]) == BATON_OK;
    printf("layer plot: the next error line is expected\n");
    check_true(r, "layer plot without cuDNN rows: refused, names the option",
               ok && bench_plot_layer(png, &rep) == BATON_ERR_INVALID && strstr(baton_error_last(), "--rnn-impl"));
    baton_report_free(&rep);
}

int main(void)
{
    tu_report r = {0, 0};
    char dir[] = "/tmp/baton-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_flops(&r);
    test_batches(&r);
    test_median(&r);
    test_report(&r, dir);
    test_layer_plot(&r, dir);
    rmdir(dir);
    return tu_summary(&r, "bench");
}
