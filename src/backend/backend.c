/* backend.c: choosing a backend by name. The only file that knows which backends exist. */
#include "baton/backend.h"

#include <string.h>

#include "baton_config.h"

#if BATON_HAVE_CUDA
#include <cuda_runtime_api.h>

baton_status baton_cuda_backend_create(baton_backend *be, int tf32);
#endif

const char *baton_backend_list(void)
{
    return BATON_HAVE_CUDA ? "auto, cpu, cuda" : "auto, cpu";
}

int baton_backend_gpu_usable(void)
{
#if BATON_GPU_EMULATION
    return 0; /* the emulated GPU runs only when asked for (--device cuda): auto means a real one */
#elif BATON_HAVE_CUDA
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* a missing driver is an answer here, not an error to keep */
        return 0;
    }
    return n > 0;
#else
    return 0;
#endif
}

baton_status baton_backend_create_ex(baton_backend *be, const char *name, const baton_backend_options *opt)
{
    memset(be, 0, sizeof *be);
    if (strcmp(name, "auto") == 0)
        name = baton_backend_gpu_usable() ? "cuda" : "cpu";
    if (strcmp(name, "cpu") == 0)
        return baton_cpu_backend_create(be, opt->threads);
    if (strcmp(name, "cuda") == 0) {
#if BATON_HAVE_CUDA
        return baton_cuda_backend_create(be, opt->tf32);
#else
        return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                           "device 'cuda': this build has no CUDA; configure where nvcc and cuBLAS are installed");
#endif
    }
    return BATON_ERROR(BATON_ERR_INVALID, "device '%s': expected one of: %s", name, baton_backend_list());
}

baton_status baton_backend_create(baton_backend *be, const char *name, int threads)
{
    baton_backend_options opt = {.threads = threads, .tf32 = 0};
    return baton_backend_create_ex(be, name, &opt);
}

baton_status baton_backend_embed_reserve(baton_backend *be, int max_n)
{
    BATON_REQUIRE(max_n >= 0, "embedding reserve of %d ids, expected >= 0", max_n);
    return be->ops->embed_reserve ? be->ops->embed_reserve(be, max_n) : BATON_OK;
}

void baton_backend_destroy(baton_backend *be)
{
    if (be->ops && be->ops->destroy)
        be->ops->destroy(be);
    memset(be, 0, sizeof *be);
}
