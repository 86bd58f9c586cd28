/* bench_train.c: `baton bench train`: whole training steps (upload of the batch's ids, forward,
 * loss, backward, clip, Adam, download of the loss) of the named configurations in bench.h, with
 * input feeding off and on, on one device and through each requested recurrent implementation.
 * A step is timed between two timer marks (CUDA events on a GPU) around baton_trainer_step, which
 * enqueues the step and waits for nothing (the loss stays on the device; the last one is read at
 * the end), so the marks time the device's work of one step. Reported: median step time, tokens/s
 * (source + target non-pad tokens / median), memory, and in the emulation the work issued. */
#include "bench_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baton/trainer.h"
#include "baton_config.h"
#if BATON_GPU_EMULATION
#include "baton_emu.h"
#endif

static baton_s2s_config model_config(const baton_bench_model *m, int feed)
{
    return (baton_s2s_config){.cell = m->cell, .src_vocab = m->src_vocab, .tgt_vocab = m->tgt_vocab,
                              .emb = m->emb, .hidden = m->hidden, .layers = m->layers,
                              .bidirectional = m->bidirectional, .score = m->score, .input_feed = feed,
                              .dropout = m->dropout, .label_smoothing = m->label_smoothing};
}

/* The rotation of synthetic batches, built before anything is timed. */
static baton_status make_batches(baton_host_batch *hb, const baton_bench_model *m, uint64_t seed)
{
    for (int k = 0; k < BATON_BENCH_ROTATE; k++) {
        BATON_TRY(baton_host_batch_alloc(&hb[k], m->S, m->T, m->batch));
        baton_bench_batch_fill(&hb[k], m, k, seed);
    }
    return BATON_OK;
}

#if BATON_GPU_EMULATION
/* The emulated device's work per step over the timed steps: what a GPU would be asked to do,
 * counted, since the emulation's times say nothing about a GPU's. */
static void print_issued(const baton_emu_counters *a, const baton_emu_counters *b, int reps, const char *what)
{
    double n = reps;
    fprintf(stderr,
            "emulated cuda, per step of %s: %.0f kernel launches; GEMMs fp32 %.0f (%.3f GFLOP), tf32 %.0f (%.3f), "
            "bf16 %.0f (%.3f); %.0f library calls; copies %.0f: %.1f KiB host->device, %.1f KiB device->host, %.1f KiB "
            "device->device; %.0f host syncs; %.0f allocations; MiB through global memory: kernels %.1f%s, GEMM "
            "operands %.1f\n",
            what, (b->kernel_launches - a->kernel_launches) / n, (b->gemm_calls[0] - a->gemm_calls[0]) / n,
            (b->gemm_flops[0] - a->gemm_flops[0]) / n / 1e9, (b->gemm_calls[1] - a->gemm_calls[1]) / n,
            (b->gemm_flops[1] - a->gemm_flops[1]) / n / 1e9, (b->gemm_calls[2] - a->gemm_calls[2]) / n,
            (b->gemm_flops[2] - a->gemm_flops[2]) / n / 1e9, (b->library_calls - a->library_calls) / n,
            (b->copies - a->copies) / n, (b->bytes_h2d - a->bytes_h2d) / n / 1024, (b->bytes_d2h - a->bytes_d2h) / n / 1024,
            (b->bytes_d2d - a->bytes_d2d) / n / 1024, (b->host_syncs - a->host_syncs) / n,
            (b->allocations - a->allocations) / n, (b->kernel_bytes - a->kernel_bytes) / n / 1048576,
            baton_emu_executes() ? "" : " (not run: BATON_EMU_EXECUTE=count)", (b->gemm_bytes - a->gemm_bytes) / n / 1048576);
}
#endif

/* The work issued per step as report cells (launches_per_step ... gemm_bytes_per_step; launches are
 * the host's kernel launches, kernels the grids that ran, graph replays included): counted by
 * the CUDA emulation; "-" where nothing counts it (the cpu backend, a real GPU without a profiler). */
static void issued_cells(char *buf, size_t size, const baton_backend *be, const void *a_, const void *b_, int reps)
{
    snprintf(buf, size, "-|-|-|-|-|-|-|-|-|-|-");
#if BATON_GPU_EMULATION
    const baton_emu_counters *a = a_, *b = b_;
    double n = reps;
    if (strcmp(be->ops->name, "cuda") == 0) {
        char kbytes[32] = "-"; /* kernels that did not run moved nothing */
        if (baton_emu_executes())
            snprintf(kbytes, sizeof kbytes, "%.0f", (b->kernel_bytes - a->kernel_bytes) / n);
        snprintf(buf, size, "%.1f|%.1f|%.2f|%.2f|%.2f|%.6g|%.6g|%.6g|%.0f|%s|%.0f",
                 (b->kernel_launches - a->kernel_launches) / n, (b->kernels_run - a->kernels_run) / n,
                 (b->graph_launches - a->graph_launches) / n, (b->host_syncs - a->host_syncs) / n,
                 (b->allocations - a->allocations) / n, (b->gemm_flops[0] - a->gemm_flops[0]) / n,
                 (b->gemm_flops[1] - a->gemm_flops[1]) / n, (b->gemm_flops[2] - a->gemm_flops[2]) / n,
                 (b->bytes_h2d - a->bytes_h2d) / n, kbytes, (b->gemm_bytes - a->gemm_bytes) / n);
    }
#else
    (void)be, (void)a_, (void)b_, (void)reps;
#endif
}

/* A step's target tokens over the ranks: every rank's batches have the same lengths. */
static long step_tokens(const baton_trainer *tr, const baton_host_batch *hb)
{
    return (long)hb[0].tgt_tokens * (tr->dist ? tr->dist->env.size : 1);
}

/* Warm-up, then timed steps; *median_ms, *mem (bytes in use afterwards), issued: report cells. */
static baton_status time_steps(baton_trainer *tr, baton_host_batch *hb, const bench_opts *o, double *median_ms,
                               size_t *mem, char *issued, size_t issued_size, const char *what)
{
#if BATON_GPU_EMULATION
    /* work issued over the timed steps; waits and allocations only inside baton_trainer_step, not
     * the timer's own wait for its mark */
    baton_emu_counters before, after, in0, in1;
    uint64_t syncs = 0, allocs = 0;
#else
    (void)what;
#endif
    baton_backend *be = tr->be;
    double *ms = malloc((size_t)o->reps * sizeof *ms);
    if (!ms)
        return BATON_ERROR(BATON_ERR_OOM, "bench: out of host memory");
    baton_status st = BATON_OK;
    for (int k = 0; st == BATON_OK && k < o->warmup + o->reps; k++) {
#if BATON_GPU_EMULATION
        if (k == o->warmup)
            baton_emu_counters_get(&before);
        baton_emu_counters_get(&in0);
#endif
        st = be->ops->timer_mark(be, 0);
        if (st == BATON_OK) /* the loss stays on the device: a step waits for nothing */
            st = baton_trainer_step_shared(tr, &hb[k % BATON_BENCH_ROTATE], step_tokens(tr, hb), NULL);
#if BATON_GPU_EMULATION
        baton_emu_counters_get(&in1);
        if (k >= o->warmup)
            syncs += in1.host_syncs - in0.host_syncs, allocs += in1.allocations - in0.allocations;
#endif
        if (st == BATON_OK)
            st = be->ops->timer_mark(be, 1);
        float t = 0.0f;
        if (st == BATON_OK)
            st = be->ops->timer_elapsed(be, 0, 1, &t);
        if (st == BATON_OK && k >= o->warmup)
            ms[k - o->warmup] = t;
    }
    float loss = 0.0f; /* the last step's, read once: a failure inside the steps surfaces here */
    if (st == BATON_OK)
        st = baton_trainer_loss(tr, tr->batches - 1, &loss);
    int counting_only = 0; /* the emulation counting without running: no loss to check */
#if BATON_GPU_EMULATION
    counting_only = !baton_emu_executes();
#endif
    if (st == BATON_OK && !isfinite(loss) && !counting_only)
        st = BATON_ERROR(BATON_ERR_INVALID, "bench train %s: the loss is %g after %d steps", what, (double)loss,
                         o->warmup + o->reps);
#if BATON_GPU_EMULATION
    baton_emu_counters_get(&after);
    after.host_syncs = before.host_syncs + syncs, after.allocations = before.allocations + allocs;
    if (st == BATON_OK && !strcmp(be->ops->name, "cuda"))
        print_issued(&before, &after, o->reps, what);
    issued_cells(issued, issued_size, be, &before, &after, o->reps);
#else
    issued_cells(issued, issued_size, be, NULL, NULL, o->reps);
#endif
    if (st == BATON_OK)
        st = be->ops->memory_used(be, mem);
    if (st == BATON_OK)
        *median_ms = baton_bench_median(ms, o->reps);
    free(ms);
    return st;
}

/* One row: configuration m, input feeding feed, implementation impl. */
static baton_status bench_one(baton_report *r, const bench_opts *o, const baton_bench_model *m, int feed,
                              const char *impl)
{
    baton_backend be;
    baton_backend_options bo = {.threads = o->threads, .precision = o->precision, .versions = o->kernels};
    int ranks = o->dist ? o->dist->env.size : 1, rank = o->dist ? o->dist->env.rank : 0;
    char gpu[160];
    if (ranks > 1)
        BATON_TRY(baton_backend_use_gpu(o->dist->env.local_rank, o->dist->env.local_size, gpu, sizeof gpu));
    BATON_TRY(baton_backend_create_ex(&be, o->device, &bo));
    baton_trainer tr;
    memset(&tr, 0, sizeof tr);
    baton_host_batch hb[BATON_BENCH_ROTATE];
    memset(hb, 0, sizeof hb);
    baton_s2s_config mc = model_config(m, feed);
    baton_optim_config oc = baton_optim_defaults(); /* Adam, lr 1e-3, clip 5: as pytorch_baseline.py */
    double median = 0.0;
    size_t mem = 0;
    baton_status st = make_batches(hb, m, (uint64_t)o->seed + (uint64_t)rank); /* each rank its own sentences */
    if (st == BATON_OK)
        st = baton_trainer_create(&tr, &be, &mc, &oc, m->S, m->T, m->batch, (uint64_t)o->seed, 1);
    if (st == BATON_OK)
        st = baton_trainer_use_rnn_impl(&tr, impl);
    if (st == BATON_OK && ranks > 1)
        st = baton_trainer_use_dist(&tr, o->dist, "auto");
    char what[160], issued[320] = "";
    snprintf(what, sizeof what, "%s (input feeding %s, %s)", m->name, feed ? "on" : "off", impl);
    if (st == BATON_OK)
        st = time_steps(&tr, hb, o, &median, &mem, issued, sizeof issued, what);
    if (st == BATON_OK) {
        /* every batch of the rotation has the same lengths; data parallel, a step is every rank's */
        long tokens = (long)(hb[0].src_tokens + hb[0].tgt_tokens) * ranks;
        char system[64]; /* the batch column stays one rank's */
        if (ranks > 1)
            snprintf(system, sizeof system, "baton-%s x%d ranks", impl, ranks);
        else
            snprintf(system, sizeof system, "baton-%s", impl);
        st = baton_report_row(r, "%s|%s|%s|%s|%s|%d|%d|%d|%ld|%.3f|%.0f|%.0f|%s", system, m->name, feed ? "on" : "off",
                              be.ops->name, baton_precision_name(o->precision), m->batch, m->S, m->T, tokens, median,
                              tokens / (median * 1e-3), (double)mem / 1048576.0, issued);
    }
    baton_trainer_destroy(&tr);
    for (int k = 0; k < BATON_BENCH_ROTATE; k++)
        baton_host_batch_free(&hb[k]);
    baton_backend_destroy(&be);
    return st;
}

const char *const bench_train_cols[BENCH_TRAIN_NCOL] = {
    "system", "config", "feed", "device", "precision", "batch", "src_len", "tgt_len", "tokens_per_step",
    "median_step_ms", "tokens_per_s", "peak_mem_mib",
    /* issued work per step, counted by the CUDA emulation ("-" elsewhere) */
    "launches_per_step", "kernels_per_step", "graph_launches_per_step", "syncs_per_step", "allocs_per_step", "gemm_flops_fp32",
    "gemm_flops_tf32", "gemm_flops_bf16", "bytes_h2d_per_step",
    /* bytes through global memory per step: kernels' loads and stores (each access, no cache), GEMM operands */
    "kernel_bytes_per_step", "gemm_bytes_per_step"};

baton_status bench_train(baton_report *r, const bench_opts *o)
{
    baton_report_init(r, bench_train_cols, BENCH_TRAIN_NCOL);
    int total = o->n_configs * o->n_feeds * o->n_impls, done = 0;
    for (int c = 0; c < o->n_configs; c++)
        for (int f = 0; f < o->n_feeds; f++)
            for (int i = 0; i < o->n_impls; i++) {
                const baton_bench_model *m = baton_bench_model_find(o->configs[c]);
                BATON_REQUIRE(m, "bench train: configuration '%s': expected tiny, base or gnmt", o->configs[c]);
                bench_progress(o, ++done, total, "train %s, input feeding %s, %s", m->name, o->feeds[f] ? "on" : "off",
                               o->impls[i]);
                BATON_TRY(bench_one(r, o, m, o->feeds[f], o->impls[i]));
            }
    bench_progress_done(o);
    return BATON_OK;
}

void bench_train_anchors(FILE *out)
{
    fprintf(out, "# published numbers on other hardware (reference only, not measured here):\n"
                 "#   NVIDIA GNMT v2 (PyTorch) README, 1x A100 40GB, batch 128: 140,909 tok/s mixed precision, "
                 "83,214 tok/s TF32\n"
                 "#   MLPerf Training v0.7 GNMT: about 244k tok/s per A100 (fp16, batch 384)\n");
}
