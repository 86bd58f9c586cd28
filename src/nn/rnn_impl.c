/* rnn_impl.c: which implementation runs a layer's forward and backward: baton's fused kernels
 * (every backend) or cuDNN's RNN (the cuda backend of a build with cuDNN), chosen per set of
 * activations, so the model code calls baton_rnn_forward/backward the same way for both. */
#include "baton/rnn.h"

#include <string.h>

#include "baton_config.h"
#if BATON_HAVE_CUDNN
#include "baton/cudnn_rnn.h"
#endif

const char *baton_rnn_impl_list(void)
{
    return BATON_HAVE_CUDNN ? "fused, cudnn, cudnn-persist-static, cudnn-persist-dynamic" : "fused";
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

baton_status baton_rnn_acts_use_impl(baton_rnn_acts *acts, baton_backend *be, const baton_rnn *rnn, const char *impl,
                                     uint64_t seed)
{
    baton_rnn_acts_release(acts);
    if (strcmp(impl, "fused") == 0)
        return BATON_OK;
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
    (void)be;
    (void)rnn;
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
}
