/* rnn_auto.c: --rnn-impl auto: which implementation should run a layer of a given shape fastest on
 * this GPU, from a committed table of per-GPU constants and the step-time model of
 * docs/recurrence.md ("Which version, when"). The constants are MODELLED, from the data sheets and
 * the usual latencies of kernel boundaries and grid barriers, not measured: no baton code has run on
 * a GPU yet. bench/gpu-check.sh times every version beside cuDNN (baton bench layer); when it has
 * run on a GPU, that GPU's row is to be refitted to its numbers and marked measured.
 *
 * Per time step of a layer with D directions, B rows, Hd units, G gates (GH = G*Hd):
 *   fused       D * (max(gemm_latency, 2*B*GH*Hd / tensor_rate) + cell)  the directions one after another
 *   fused-gemm  boundary + D*B*GH*Hd / fma_rate + D*GH*Hd*elt / l2_rate   W_hh re-read from L2 each step
 *   persistent  barrier + max(sums, blocks*B*Hd*elt / l2_rate)            W_hh stays in shared memory,
 *               every block reads all of h; sums = D*B*GH*Hd / fma_rate, or 2*D*B*GH*Hd / recur_tc_rate
 *               on tensor cores (bf16, --kernels recur=tensor)
 *   wavefront   (boundary + (2L-1) * (B*GH*Hd / fma_rate + GH*Hd*elt / l2_rate)) / L   L layers (D = 1)
 *               share a launch; layers above the first also sum their input projection on CUDA cores,
 *               where the others take it from a tensor-core GEMM over all steps: its share,
 *               2*B*GH*Hd / tensor_rate a step of a pass (forward x W_ih, backward dg W_ih), which
 *               the others pay and the wavefront's upper layers do not, comes off its time
 * fused-gemm and persistent's simt sums run on CUDA cores (fma_rate), the plain path's GEMM on tensor
 * cores (tensor_rate of the precision), so they win where the GEMM is latency-bound: small B. */
#include "baton/rnn.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *gpu;        /* a substring of the device's name */
    double fma_rate;        /* FMA/s that the recurrence kernels' sums reach on CUDA cores */
    double tensor_rate[3];  /* FLOP/s of the plain path's GEMMs at these shapes: fp32, tf32, bf16 */
    double gemm_latency_us; /* a small GEMM's floor: launch, ramp, one wave */
    double cell_us;         /* one cell kernel over a (B, Hd) step */
    double boundary_us;     /* one kernel-to-kernel boundary inside a CUDA Graph */
    double barrier_us;      /* one grid-wide barrier of a cooperative kernel */
    double l2_rate;         /* bytes/s of L2 reads */
    double recur_tc_rate;   /* FLOP/s of persistent's warp matrix products (bf16, 16-row tiles) */
    const char *source;     /* "modelled", or the gpu-check run that measured the row */
} auto_row;

/* H100 SXM and H200: 132 SMs at 1.98 GHz, 128 fp32 lanes each: 33.4 TFMA/s peak, half of it reached
 * by split-K dot products; dense tensor peaks 67 (fp32 SIMT, 2 FLOP/FMA), 495 (tf32), 989 (bf16)
 * TFLOP/s, half reached at the recurrent GEMM's shapes, a fifth by persistent's 16-row warp tiles;
 * L2 reads at 5.5 TB/s (L2_BW in bench/perfmodel/constants.py). The two differ in HBM, which a recurrence
 * whose weights stay in L2 or shared memory barely touches. */
static const auto_row rows[] = {
    {"H200", 16.7e12, {33e12, 247e12, 494e12}, 5.0, 2.0, 1.5, 1.5, 5.5e12, 198e12, "modelled"},
    {"H100", 16.7e12, {33e12, 247e12, 494e12}, 5.0, 2.0, 1.5, 1.5, 5.5e12, 198e12, "modelled"},
};

static const auto_row *row_for(const char *description)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strstr(description, rows[i].gpu))
            return &rows[i];
    return &rows[sizeof rows / sizeof rows[0] - 1]; /* an unknown GPU: the H100's row */
}

baton_recur_version baton_rnn_auto_pick(const baton_backend *be, const baton_rnn *rnn, int B, int persistent_fits,
                                        char *basis, size_t basis_len)
{
    if (!be->ops->recur_plan) {
        snprintf(basis, basis_len, "the %s backend has no other", be->ops->name);
        return 0;
    }
    const auto_row *r = row_for(be->description);
    double D = rnn->dirs, Hd = rnn->hd, GH = rnn->gates * Hd, fma = D * B * GH * Hd;
    double elt = be->precision == BATON_PRECISION_BF16 ? 2 : 4;
    double gemm = 2.0 * B * GH * Hd / r->tensor_rate[be->precision] * 1e6;
    double t_fused = D * ((gemm > r->gemm_latency_us ? gemm : r->gemm_latency_us) + r->cell_us);
    double t_gemm = r->boundary_us + fma / r->fma_rate * 1e6 + D * GH * Hd * elt / r->l2_rate * 1e6;
    int tensor = be->precision == BATON_PRECISION_BF16 && be->versions.recur == 1;
    double sums = tensor ? 2.0 * fma / r->recur_tc_rate * 1e6 : fma / r->fma_rate * 1e6;
    double blocks = D * Hd < 132 ? D * Hd : 132, h_reads = blocks * B * Hd * elt / r->l2_rate * 1e6;
    double t_persistent = r->barrier_us + (sums > h_reads ? sums : h_reads);
    int L = rnn->cfg.layers, wave = rnn->dirs == 1 && L >= 2 && L <= BATON_RECUR_MAX_WAVE;
    double input_gemms = gemm * (L - 1) / L; /* what the wavefront's steps take over, per layer step */
    double per_layer = fma / r->fma_rate * 1e6 + GH * Hd * elt / r->l2_rate * 1e6;
    double t_wave = (r->boundary_us + (2.0 * L - 1) * per_layer) / L - input_gemms;
    char waves[40] = "";
    if (wave)
        snprintf(waves, sizeof waves, "wavefront %.1f, ", t_wave);
    snprintf(basis, basis_len, "%s %s at B=%d: persistent %.1f, %sfused-gemm %.1f, fused %.1f us/step", r->source,
             r->gpu, B, t_persistent, waves, t_gemm, t_fused);
    double best = t_fused;
    baton_recur_version v = 0;
    if (t_gemm < best)
        best = t_gemm, v = BATON_RECUR_GEMM;
    if (wave && t_wave < best)
        best = t_wave, v = BATON_RECUR_WAVEFRONT;
    if (persistent_fits && t_persistent <= best)
        v = BATON_RECUR_PERSISTENT;
    return v;
}
