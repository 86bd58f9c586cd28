/* rnn_impl.c: which implementation runs a layer's forward and backward, chosen per set of
 * activations so that the model code calls baton_rnn_forward/backward the same way for all:
 *   fused       per step, a cuBLAS GEMM and a fused cell kernel (every backend; the plain version); on the
 *               cpu, the packed recurrence where the build has it, unless --kernels cpurnn=sgemm
 *   packed      cpu: W_hh packed once per layer call, per step libxsmm kernels and the cell (recur.h)
 *   fused-gemm  per step, one kernel: the recurrent product fused with the cell, both directions
 *   persistent  per layer, one cooperative kernel holding W_hh in shared memory (recur.h)
 *   wavefront   fused-gemm's steps for all layers at once, layer l one step behind layer l-1, where
 *               the layers are unidirectional (recur.h's baton_recur_wave); else fused-gemm
 *   cudnn*      cuDNN's RNN (the cuda backend of a build with cuDNN)
 *   auto        per layer shape, the one rnn_auto.c's table expects fastest on this device; the cpu:
 *               packed where built, else fused */
#include "baton/rnn.h"

#include <stdio.h>
#include <string.h>

#include "baton_config.h"
#if BATON_HAVE_CUDNN
#include "baton/cudnn_rnn.h"
#endif

const char *baton_rnn_impl_list(void)
{
    return BATON_HAVE_CUDNN
               ? "auto, fused, packed, fused-gemm, persistent, wavefront, cudnn, cudnn-persist-static, "
                 "cudnn-persist-dynamic"
               : "auto, fused, packed, fused-gemm, persistent, wavefront";
}

const char *baton_recur_version_name(baton_recur_version v)
{
    return v == BATON_RECUR_PERSISTENT ? "persistent"
           : v == BATON_RECUR_GEMM     ? "fused-gemm"
           : v == BATON_RECUR_WAVEFRONT ? "wavefront"
           : v == BATON_RECUR_PACKED   ? "packed"
                                        : "fused";
}

int baton_rnn_impl_takes_ragged(const char *impl)
{
    return strncmp(impl, "cudnn-persist", 13) != 0;
}

baton_status baton_rnn_impl_check_ragged(const char *impl, const char *why)
{
    if (baton_rnn_impl_takes_ragged(impl))
        return BATON_OK;
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "--rnn-impl %s needs every sequence of a batch to have the same length (cuDNN's persistent "
                       "RNN kernels do not take ragged batches); %s: use --rnn-impl cudnn or fused",
                       impl, why);
}

/* Runs the layer through whole-recurrence version v (the backend has recur_plan) where the shape
 * fits; otherwise *fits = 0 and why says which limit it met. */
static baton_status try_recur(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn, baton_recur_version v,
                              int *fits, char *why, size_t why_len)
{
    *fits = 0;
    int units = 0;
    BATON_TRY(be->ops->recur_plan(be, v, rnn->cfg.cell, rnn->hd, rnn->dirs, &units, why, why_len));
    if (units > 0) {
        acts->recur = v;
        acts->recur_units = units;
        *fits = 1;
    }
    return BATON_OK;
}

_Static_assert(BATON_RECUR_MAX_WAVE == 8, "wave_refusal's message names the limit");

/* Why a wavefront cannot run this layer stack (then fused-gemm does), or NULL where it can. */
static const char *wave_refusal(const baton_rnn *rnn)
{
    if (rnn->dirs == 2)
        return "a bidirectional layer's reverse direction needs all of the layer below, so the layers run one "
               "after another, each launch both directions";
    if (rnn->cfg.layers > BATON_RECUR_MAX_WAVE)
        return "a wavefront holds at most BATON_RECUR_MAX_WAVE = 8 layers in its launch arguments";
    return NULL;
}

/* The wavefront's own memory (rnn.h): the gate gradients of layers 1..L-1, kept in bf16 too as the
 * cells write them, and one step's scratch per layer. */
static baton_status wave_alloc(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn)
{
    size_t L = (size_t)rnn->cfg.layers, B = (size_t)acts->B_max, Hd = (size_t)rnn->hd, GH = rnn->gates * Hd;
    size_t blocks = (L - 1) * (rnn->cfg.cell == BATON_CELL_GRU ? 2 : 1), dg = blocks * acts->T_max * B * GH;
    acts->wave_be = be;
    if (dg) {
        BATON_TRY(be->ops->alloc(be, (void **)&acts->wave_dg, dg * sizeof(float), "wavefront gate gradients"));
        BATON_TRY(baton_backend_bf16_mirror(be, acts->wave_dg, dg, 1));
    }
    return be->ops->alloc(be, (void **)&acts->wave_step, L * (2 * B * GH + 3 * B * Hd) * sizeof(float),
                          "wavefront step scratch");
}

/* --rnn-impl wavefront: the stack as one wavefront where it can run as one, else fused-gemm. */
static baton_status use_wavefront(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn)
{
    const char *refusal = wave_refusal(rnn);
    baton_recur_version v = refusal ? BATON_RECUR_GEMM : BATON_RECUR_WAVEFRONT;
    int units = 0;
    char why[200];
    BATON_TRY(be->ops->recur_plan(be, v, rnn->cfg.cell, rnn->hd, refusal ? rnn->dirs : rnn->cfg.layers, &units, why,
                                  sizeof why));
    BATON_REQUIRE(units > 0, "--rnn-impl wavefront: %s", why); /* fused-gemm and wavefront fit every shape */
    if (!refusal)
        BATON_TRY(wave_alloc(acts, be, rnn));
    acts->recur = v;
    acts->recur_units = units;
    if (refusal)
        snprintf(acts->impl_note, sizeof acts->impl_note, "wavefront: fused-gemm (%s)", refusal);
    return BATON_OK;
}

/* 1 for the cpu backend, whose only whole recurrence is "packed" (the cuda versions are not its). */
static int is_cpu(const baton_backend *be)
{
    return strcmp(be->ops->name, "cpu") == 0;
}

/* The cpu's packed recurrence where the backend has it (a build with libxsmm) and the shape and
 * precision fit; else, where `asked` (--rnn-impl packed) an error naming why, otherwise the per-step
 * path with the reason in the note. */
static baton_status use_packed(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn, int asked,
                               const char *impl)
{
    char why[200] = "this build has no libxsmm (libxsmm-dev)";
    int fits = 0;
    if (is_cpu(be) && be->ops->recur_plan)
        BATON_TRY(try_recur(acts, be, rnn, BATON_RECUR_PACKED, &fits, why, sizeof why));
    if (!is_cpu(be))
        snprintf(why, sizeof why, "packed runs on the cpu, not on '%s'", be->ops->name);
    if (fits)
        snprintf(acts->impl_note, sizeof acts->impl_note, "%s: packed (W_hh packed once per call, libxsmm)", impl);
    else if (asked)
        return BATON_ERROR(BATON_ERR_UNSUPPORTED, "--rnn-impl packed: %s; use --rnn-impl fused", why);
    else
        snprintf(acts->impl_note, sizeof acts->impl_note, "%s: per-step sgemm (not packed: %s)", impl, why);
    return BATON_OK;
}

/* --rnn-impl auto: the version baton_rnn_auto_pick expects fastest; where that is persistent and
 * the shape does not fit, the fastest of the others. The note says what runs and why. */
static baton_status use_auto(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn)
{
    char basis[120], why[200] = "", unused[200];
    int fits = 1;
    baton_recur_version v = baton_rnn_auto_pick(be, rnn, acts->B_max, 1, basis, sizeof basis);
    if (v == BATON_RECUR_PERSISTENT)
        BATON_TRY(try_recur(acts, be, rnn, v, &fits, why, sizeof why));
    if (!fits)
        v = baton_rnn_auto_pick(be, rnn, acts->B_max, 0, basis, sizeof basis);
    if (v == BATON_RECUR_WAVEFRONT)
        BATON_TRY(use_wavefront(acts, be, rnn)); /* fits every shape it is picked for */
    else if (v && !acts->recur)
        BATON_TRY(try_recur(acts, be, rnn, v, &fits, unused, sizeof unused)); /* fused-gemm always fits */
    snprintf(acts->impl_note, sizeof acts->impl_note, "auto: %s (%s)%s%s", baton_recur_version_name(v), basis,
             why[0] ? "; not persistent: " : "", why);
    return BATON_OK;
}

baton_status baton_rnn_acts_use_impl(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn, const char *impl,
                                     uint64_t seed)
{
    baton_rnn_acts_release(acts);
    snprintf(acts->impl_note, sizeof acts->impl_note, "%s", impl);
    if (strcmp(impl, "packed") == 0)
        return use_packed(acts, be, rnn, 1, impl);
    if (is_cpu(be) && (strcmp(impl, "auto") == 0 || (strcmp(impl, "fused") == 0 && be->versions.cpurnn == 1)))
        return use_packed(acts, be, rnn, 0, impl);
    if (strcmp(impl, "fused") == 0)
        return BATON_OK;
    if (strcmp(impl, "auto") == 0)
        return use_auto(acts, be, rnn);
    baton_recur_version v = strcmp(impl, "persistent") == 0   ? BATON_RECUR_PERSISTENT
                            : strcmp(impl, "fused-gemm") == 0 ? BATON_RECUR_GEMM
                            : strcmp(impl, "wavefront") == 0  ? BATON_RECUR_WAVEFRONT
                                                              : 0;
    if (v) {
        if (!be->ops->recur_plan || is_cpu(be))
            return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                               "--rnn-impl %s runs on the cuda device, not on '%s': use --rnn-impl fused (or auto)",
                               impl, be->ops->name);
        if (v == BATON_RECUR_WAVEFRONT)
            return use_wavefront(acts, be, rnn);
        char why[200];
        int fits;
        BATON_TRY(try_recur(acts, be, rnn, v, &fits, why, sizeof why));
        return fits ? BATON_OK
                    : BATON_ERROR(BATON_ERR_UNSUPPORTED, "--rnn-impl %s: %s; use --rnn-impl auto, fused-gemm or fused",
                                  impl, why);
    }
    BATON_REQUIRE(strncmp(impl, "cudnn", 5) == 0 && (impl[5] == 0 || impl[5] == '-'),
                  "rnn implementation '%s': expected one of: %s", impl, baton_rnn_impl_list());
#if BATON_HAVE_CUDNN
    BATON_REQUIRE(strcmp(be->ops->name, "cuda") == 0, "rnn implementation '%s' runs on the cuda device, not on '%s'",
                  impl, be->ops->name);
    baton_cudnn_algo algo = BATON_CUDNN_STANDARD;
    if (impl[5] == '-')
        BATON_TRY(baton_cudnn_algo_parse(&algo, impl + 6));
    return baton_cudnn_rnn_create(&acts->cudnn, be, rnn, acts->T_max, acts->B_max, algo, seed);
#else
    (void)seed;
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "rnn implementation '%s': this build has no cuDNN; configure with cuDNN installed "
                       "(or -Dcudnn_root=DIR)",
                       impl);
#endif
}

void baton_rnn_acts_release(baton_rnn_acts *acts)
{
#if BATON_HAVE_CUDNN
    baton_cudnn_rnn_destroy(acts->cudnn);
#endif
    acts->cudnn = NULL;
    if (acts->wave_be) {
        acts->wave_be->ops->free(acts->wave_be, acts->wave_dg);
        acts->wave_be->ops->free(acts->wave_be, acts->wave_step);
    }
    acts->wave_be = NULL;
    acts->wave_dg = acts->wave_step = NULL;
    acts->recur = 0;
    acts->recur_units = 0;
}
