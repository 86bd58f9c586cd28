/* backend.c: choosing a backend by name. The only file that knows which backends exist. */
#include "baton/backend.h"

#include <string.h>

#include "baton_config.h"

#if BATON_HAVE_CUDA
baton_status baton_cuda_backend_create(baton_backend *be, int tf32);
#endif

const char *baton_backend_list(void)
{
    return BATON_HAVE_CUDA ? "cpu, cuda" : "cpu";
}

baton_status baton_backend_create(baton_backend *be, const char *name, int threads)
{
    memset(be, 0, sizeof *be);
    if (strcmp(name, "cpu") == 0)
        return baton_cpu_backend_create(be, threads);
    if (strcmp(name, "cuda") == 0) {
#if BATON_HAVE_CUDA
        (void)threads;
        return baton_cuda_backend_create(be, 0);
#else
        return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                           "device 'cuda': this build has no CUDA; configure where nvcc and cuBLAS are installed");
#endif
    }
    return BATON_ERROR(BATON_ERR_INVALID, "device '%s': expected one of: %s", name, baton_backend_list());
}

void baton_backend_destroy(baton_backend *be)
{
    if (be->ops && be->ops->destroy)
        be->ops->destroy(be);
    memset(be, 0, sizeof *be);
}
