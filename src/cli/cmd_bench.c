/* cmd_bench.c: `baton bench train|layer|attention|compare|configs`: parses the flags, runs the
 * benchmark (src/bench/), prints the machine, the table (and for train the published anchors),
 * and writes CSV/JSON and a PNG when asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/bench_internal.h"
#include "baton/rnn.h"
#include "commands.h"
#include "model_dir.h"
#include "ranks.h"

typedef struct {
    const char *csv, *json, *plot;
} bench_outputs;

static const char *const bench_usage =
    "usage: baton bench train|layer|attention|translate [options]  measure (tables on stdout, progress on stderr)\n"
    "       baton bench compare A.csv B.csv ... [--plot P]  join train reports of several systems\n"
    "       baton bench configs                             the train configurations as JSON\n"
    "common:   --device auto|cpu|cuda  --threads N  --precision fp32|tf32|bf16  --seed N  --warmup N  --reps N\n"
    "          --kernels PART=VERSION,...  versions of parts (defaults: the newest, but loss=plain):\n"
    "                    colsum=plain|tiled dv=plain|tiled embed=plain|split loss=plain|fused step=eager|graph\n"
    "                    recur=simt|tensor cpurnn=sgemm|packed cpubf16=round|dnnl greedy=full|screened\n"
    "                    decin=product|table beammem=plain|projected\n"
    "          --csv FILE  --json FILE  --plot FILE.png\n"
    "train:    --configs tiny,base,gnmt (cpu default tiny,base)  --feed off,on\n"
    "          --rnn-impl fused,cudnn,auto,fused-gemm,persistent,wavefront (cuda default: fused, cudnn\n"
    "                    where built with cuDNN, fused-gemm, persistent, wavefront)\n"
    "layer:    --cells lstm,gru  --batch 8,32,128,256  --hidden 256,512,1024  --steps 25,50,100\n"
    "          --layers 1,4  --bidirectional  --rnn-impl fused,cudnn,fused-gemm,persistent,wavefront,...\n"
    "          (cpu default: --batch 32 --hidden 256 --steps 50 --layers 1, fused only)\n"
    "attention: --shapes 128x50x50,64x2048x2048 (B x T x S; cpu default 32x50x50,8x512x512)\n"
    "translate: --model DIR --input FILE  --batch 64  --beam 1,5  --alpha 0.6  --max-len-ratio 2\n"
    "          --limit N (sentences)  --write-ids DIR (sources in decode order, outputs and meta.json for\n"
    "          bench/pytorch_translate.py and bench/compare_translate.sh)\n"
    "Counting rules (tokens, FLOPs, bytes) are in include/baton/bench.h and bench/README.md.\n";

/* Splits a comma list into at most BENCH_MAX_LIST pieces (pointers into s, which is modified). */
static int split(char *s, const char **out)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < BENCH_MAX_LIST; tok = strtok(NULL, ","))
        out[n++] = tok;
    return n;
}

static baton_status parse_ints(bench_ints *v, char *s, const char *flag)
{
    const char *parts[BENCH_MAX_LIST];
    v->n = split(s, parts);
    for (int i = 0; i < v->n; i++) {
        char *end;
        long x = strtol(parts[i], &end, 10);
        BATON_REQUIRE(*end == 0 && x >= 1 && x <= 1 << 20, "%s: '%s' is not a positive integer", flag, parts[i]);
        v->v[i] = (int)x;
    }
    BATON_REQUIRE(v->n > 0, "%s: expected a comma-separated list of positive integers", flag);
    return BATON_OK;
}

static baton_status parse_shapes(bench_opts *o, char *s)
{
    const char *parts[BENCH_MAX_LIST];
    o->n_att = split(s, parts);
    for (int i = 0; i < o->n_att; i++) {
        int *a = o->att[i], used = 0;
        BATON_REQUIRE(sscanf(parts[i], "%dx%dx%d%n", &a[0], &a[1], &a[2], &used) == 3 && parts[i][used] == 0 &&
                          a[0] > 0 && a[1] > 0 && a[2] > 0,
                      "--shapes: '%s' is not BxTxS with positive sizes", parts[i]);
    }
    return BATON_OK;
}

/* The defaults of one benchmark, sized for the device the run lands on. */
static void defaults(bench_opts *o, const char *what, int gpu)
{
    memset(o, 0, sizeof *o);
    o->device = gpu ? "cuda" : "cpu";
    o->seed = 1;
    o->warmup = gpu ? 5 : 1;
    o->reps = gpu ? 20 : 3;
    o->progress = isatty(2);
    static const char *cfg_gpu[] = {"tiny", "base", "gnmt"}, *cfg_cpu[] = {"tiny", "base"};
    o->n_configs = gpu ? 3 : 2;
    memcpy(o->configs, gpu ? cfg_gpu : cfg_cpu, (size_t)o->n_configs * sizeof *o->configs);
    o->feeds[0] = 0;
    o->feeds[1] = 1;
    o->n_feeds = 2;
    o->impls[0] = "fused";
    o->n_impls = 1;
    if (gpu && strstr(baton_rnn_impl_list(), "cudnn"))
        o->impls[o->n_impls++] = "cudnn";
    if (gpu) { /* the whole-recurrence versions beside the plain path and cuDNN */
        o->impls[o->n_impls++] = "fused-gemm";
        o->impls[o->n_impls++] = "persistent";
        o->impls[o->n_impls++] = "wavefront";
    }
    o->cells[0] = BATON_CELL_LSTM;
    o->cells[1] = BATON_CELL_GRU;
    o->n_cells = 2;
    bench_ints b_gpu = {4, {8, 32, 128, 256}}, h_gpu = {3, {256, 512, 1024}}, t_gpu = {3, {25, 50, 100}};
    bench_ints l_gpu = {2, {1, 4}}, b_cpu = {1, {32}}, h_cpu = {1, {256}}, t_cpu = {1, {50}}, l_cpu = {1, {1}};
    o->batches = gpu ? b_gpu : b_cpu;
    if (strcmp(what, "translate") == 0)
        o->batches = (bench_ints){1, {64}};
    o->beams = (bench_ints){2, {1, 5}};
    o->alpha = 0.6f;
    o->max_len_ratio = 2.0f;
    o->hiddens = gpu ? h_gpu : h_cpu;
    o->steps = gpu ? t_gpu : t_cpu;
    o->layers = gpu ? l_gpu : l_cpu;
    int shapes_gpu[2][3] = {{128, 50, 50}, {64, 2048, 2048}}, shapes_cpu[2][3] = {{32, 50, 50}, {8, 512, 512}};
    memcpy(o->att, gpu ? shapes_gpu : shapes_cpu, sizeof shapes_gpu);
    o->n_att = 2;
}

/* Where --device points before the flags are read (the defaults depend on it). */
static int wants_gpu(int argc, char **argv)
{
    const char *dev = "auto";
    for (int i = 3; i + 1 < argc; i++)
        if (strcmp(argv[i], "--device") == 0)
            dev = argv[i + 1];
    return strcmp(dev, "cuda") == 0 || (strcmp(dev, "auto") == 0 && baton_backend_gpu_usable());
}

/* The integer option flag names, with its smallest value, or NULL. */
static int *int_flag(bench_opts *o, const char *flag, int *min)
{
    struct {
        const char *name;
        int *field, min;
    } ints[] = {{"--threads", &o->threads, 0}, {"--seed", &o->seed, 0}, {"--warmup", &o->warmup, 0},
                {"--reps", &o->reps, 1}, {"--limit", &o->limit, 0}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(flag, ints[i].name) == 0) {
            *min = ints[i].min;
            return ints[i].field;
        }
    return NULL;
}

static baton_status parse_flag(bench_opts *o, bench_outputs *out, const char *flag, char *val)
{
    const char *parts[BENCH_MAX_LIST];
    int *target, min;
    if (strcmp(flag, "--device") == 0)
        o->device = strcmp(val, "auto") == 0 ? (baton_backend_gpu_usable() ? "cuda" : "cpu") : val;
    else if ((target = int_flag(o, flag, &min))) {
        char *end;
        long x = strtol(val, &end, 10);
        BATON_REQUIRE(*end == 0 && x >= min && x <= 1000000, "%s: '%s', expected an integer >= %d", flag, val, min);
        *target = (int)x;
    } else if (strcmp(flag, "--configs") == 0) {
        o->n_configs = split(val, o->configs);
        for (int i = 0; i < o->n_configs; i++)
            BATON_REQUIRE(baton_bench_model_find(o->configs[i]), "--configs: '%s', expected tiny, base or gnmt",
                          o->configs[i]);
    } else if (strcmp(flag, "--feed") == 0) {
        o->n_feeds = split(val, parts);
        for (int i = 0; i < o->n_feeds; i++) {
            BATON_REQUIRE(strcmp(parts[i], "on") == 0 || strcmp(parts[i], "off") == 0,
                          "--feed: '%s', expected on, off or on,off", parts[i]);
            o->feeds[i] = strcmp(parts[i], "on") == 0;
        }
    } else if (strcmp(flag, "--rnn-impl") == 0) {
        o->n_impls = split(val, o->impls);
        /* fused first and cudnn next: the other rows are compared with them */
        const char *front[2] = {"fused", "cudnn"};
        for (int f = 0, at = 0; f < 2; f++)
            for (int i = at; i < o->n_impls; i++)
                if (strcmp(o->impls[i], front[f]) == 0) {
                    o->impls[i] = o->impls[at];
                    o->impls[at++] = front[f];
                    break;
                }
    } else if (strcmp(flag, "--cells") == 0) {
        o->n_cells = split(val, parts);
        for (int i = 0; i < o->n_cells && i < 3; i++)
            BATON_TRY(baton_cell_parse(&o->cells[i], parts[i]));
    } else if (strcmp(flag, "--batch") == 0)
        return parse_ints(&o->batches, val, flag);
    else if (strcmp(flag, "--hidden") == 0)
        return parse_ints(&o->hiddens, val, flag);
    else if (strcmp(flag, "--steps") == 0)
        return parse_ints(&o->steps, val, flag);
    else if (strcmp(flag, "--layers") == 0)
        return parse_ints(&o->layers, val, flag);
    else if (strcmp(flag, "--beam") == 0)
        return parse_ints(&o->beams, val, flag);
    else if (strcmp(flag, "--model") == 0)
        o->model = val;
    else if (strcmp(flag, "--input") == 0)
        o->input = val;
    else if (strcmp(flag, "--write-ids") == 0)
        o->write_ids = val;
    else if (strcmp(flag, "--alpha") == 0 || strcmp(flag, "--max-len-ratio") == 0) {
        char *end;
        float x = strtof(val, &end);
        int alpha = strcmp(flag, "--alpha") == 0;
        BATON_REQUIRE(*end == 0 && (alpha ? x >= 0.0f : x > 0.0f) && x <= 100.0f, "%s: '%s', expected a number %s",
                      flag, val, alpha ? "in [0, 100]" : "in (0, 100]");
        *(alpha ? &o->alpha : &o->max_len_ratio) = x;
    } else if (strcmp(flag, "--shapes") == 0)
        return parse_shapes(o, val);
    else if (strcmp(flag, "--precision") == 0)
        return baton_precision_parse(&o->precision, val, flag);
    else if (strcmp(flag, "--kernels") == 0) {
        baton_versions v;
        o->kernels = val;
        return baton_versions_parse(&v, val);
    } else if (strcmp(flag, "--csv") == 0)
        out->csv = val;
    else if (strcmp(flag, "--json") == 0)
        out->json = val;
    else if (strcmp(flag, "--plot") == 0)
        out->plot = val;
    else
        return BATON_ERROR(BATON_ERR_INVALID, "bench: unknown option '%s' (baton bench --help lists them)", flag);
    return BATON_OK;
}

/* Flags from argv[first..]; positional arguments (compare's files) into files. */
static baton_status parse(bench_opts *o, bench_outputs *out, int argc, char **argv, int first, char **files,
                          int *nfiles)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            BATON_REQUIRE(*nfiles < BENCH_MAX_LIST, "bench: more than %d files", BENCH_MAX_LIST);
            files[(*nfiles)++] = argv[i];
        } else if (strcmp(a, "--tf32") == 0) /* kept: older scripts say --tf32 */
            o->precision = BATON_PRECISION_TF32;
        else if (strcmp(a, "--bidirectional") == 0)
            o->bidirectional = 1;
        else {
            BATON_REQUIRE(i + 1 < argc, "bench: %s needs a value", a);
            BATON_TRY(parse_flag(o, out, a, argv[++i]));
        }
    }
    return BATON_OK;
}

static baton_status finish(const baton_report *r, const bench_outputs *out, int train)
{
    baton_bench_machine(stdout);
    baton_report_print(r, stdout);
    if (train)
        bench_train_anchors(stdout);
    if (out->csv)
        BATON_TRY(baton_report_write(r, out->csv));
    if (out->json)
        BATON_TRY(baton_report_write(r, out->json));
    return BATON_OK;
}

/* Joins train reports from files; the table, CSV/JSON and a bar chart of every system. */
static baton_status compare(baton_report *joined, const bench_outputs *out, char **files, int n)
{
    BATON_REQUIRE(n >= 1, "bench compare: expected train reports (CSV files) to join");
    baton_report in[BENCH_MAX_LIST];
    const baton_report *ptr[BENCH_MAX_LIST];
    memset(in, 0, sizeof in);
    baton_status st = BATON_OK;
    for (int i = 0; st == BATON_OK && i < n; i++) {
        st = baton_report_read_csv(&in[i], files[i]);
        ptr[i] = &in[i];
    }
    if (st == BATON_OK)
        st = bench_compare(joined, ptr, n);
    if (st == BATON_OK) {
        printf("# compared on one machine, from:");
        for (int i = 0; i < n; i++)
            printf(" %s", files[i]);
        printf("\n");
        st = finish(joined, out, 1);
    }
    if (st == BATON_OK && out->plot)
        st = bench_plot_train(out->plot, ptr, n);
    for (int i = 0; i < n; i++)
        baton_report_free(&in[i]);
    return st;
}

/* Loads --model on --device and decodes --input (bench_translate). */
static baton_status translate(baton_report *r, const bench_opts *o, const bench_outputs *out)
{
    BATON_REQUIRE(o->model, "bench translate: --model DIR (a trained model directory) is required");
    for (int i = 0; i < o->beams.n; i++)
        BATON_REQUIRE(o->beams.v[i] <= 64, "--beam: %d, expected 1..64", o->beams.v[i]);
    baton_backend be;
    baton_backend_options bo = {.threads = o->threads, .precision = o->precision, .versions = o->kernels};
    BATON_TRY(baton_backend_create_ex(&be, o->device, &bo));
    cli_loaded_model lm;
    baton_status st = cli_model_load(&lm, o->model, &be);
    if (st == BATON_OK) {
        bench_translate_model x = {&be, &lm.m, &lm.t, lm.params, &lm.sv, lm.ssw, o->model};
        st = bench_translate(r, o, &x);
        if (st == BATON_OK)
            st = finish(r, out, 0);
        cli_model_free(&lm);
    }
    baton_backend_destroy(&be);
    return st;
}

static baton_status run(const char *what, int argc, char **argv)
{
    bench_opts o;
    bench_outputs out = {0};
    char *files[BENCH_MAX_LIST];
    int nfiles = 0;
    defaults(&o, what, wants_gpu(argc, argv));
    BATON_TRY(parse(&o, &out, argc, argv, 3, files, &nfiles));
    BATON_REQUIRE(nfiles == 0 || strcmp(what, "compare") == 0, "bench %s: unexpected argument '%s'", what, files[0]);
    baton_report r = {0};
    baton_status st;
    if (strcmp(what, "train") == 0) {
        /* before any row is timed: the synthetic batches are ragged, as real ones are */
        for (int i = 0; i < o.n_impls; i++)
            BATON_TRY(baton_rnn_impl_check_ragged(o.impls[i], "bench train's batches have ragged lengths, as "
                                                              "real training batches do"));
        baton_dist dist; /* under mpirun or srun: data parallel, and rank 0 alone reports and writes */
        BATON_TRY(cli_ranks_join(&dist, 600.0, 25.0));
        o.dist = &dist;
        if (!baton_dist_leader(&dist))
            out = (bench_outputs){0};
        st = bench_train(&r, &o);
        if (st == BATON_OK)
            st = finish(&r, &out, 1);
        if (st == BATON_OK && out.plot)
            st = bench_plot_train(out.plot, (const baton_report *const[]){&r}, 1);
        cli_ranks_leave(&dist, st);
    } else if (strcmp(what, "layer") == 0) {
        st = bench_layer(&r, &o);
        if (st == BATON_OK)
            st = finish(&r, &out, 0);
        if (st == BATON_OK && out.plot)
            st = bench_plot_layer(out.plot, &r);
    } else if (strcmp(what, "translate") == 0) {
        st = translate(&r, &o, &out);
    } else if (strcmp(what, "attention") == 0) {
        st = bench_attention(&r, &o);
        if (st == BATON_OK)
            st = finish(&r, &out, 0);
    } else {
        st = compare(&r, &out, files, nfiles);
    }
    baton_report_free(&r);
    return st;
}

int cli_bench(int argc, char **argv)
{
    const char *what = argc > 2 ? argv[2] : "";
    if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
        fputs(bench_usage, stdout);
        return 0;
    }
    if (strcmp(what, "configs") == 0) {
        baton_bench_models_json(stdout);
        return 0;
    }
    static const char *known[] = {"train", "layer", "attention", "translate", "compare"};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok |= strcmp(what, known[i]) == 0;
    if (!ok) {
        fprintf(stderr, "baton: error: bench: '%s': expected train, layer, attention, translate, compare or configs\n%s", what,
                bench_usage);
        return 2;
    }
    for (int i = 3; i < argc; i++) /* `baton bench train --help`: the same help, not a missing value */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(bench_usage, stdout);
            return 0;
        }
    baton_status st = run(what, argc, argv);
    return st == BATON_OK ? 0 : st == BATON_ERR_INVALID ? 2 : 1;
}
