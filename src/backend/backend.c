/* backend.c: choosing a backend by name. The only file that knows which backends exist. */
#include "baton/backend.h"

#include <stddef.h>
#include <string.h>

#include "baton_config.h"

#if BATON_HAVE_CUDA
#include <cuda_runtime_api.h>

baton_status baton_cuda_backend_create(baton_backend *be, baton_precision precision);
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

static const char *const precision_names[] = {"fp32", "tf32", "bf16"};

baton_status baton_precision_parse(baton_precision *p, const char *name, const char *what)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, precision_names[i]) == 0) {
            *p = (baton_precision)i;
            return BATON_OK;
        }
    return BATON_ERROR(BATON_ERR_INVALID, "%s: '%s', expected fp32, tf32 or bf16", what, name);
}

const char *baton_precision_name(baton_precision p)
{
    return (unsigned)p < 3 ? precision_names[p] : "?";
}

/* The parts of baton_versions, their version names (index = value) and defaults. */
static const struct {
    const char *part;
    size_t offset;
    const char *names[2];
    int def;
} version_parts[] = {
    {"colsum", offsetof(baton_versions, colsum), {"plain", "tiled"}, 1},
    {"dv", offsetof(baton_versions, dv), {"plain", "tiled"}, 1},
    {"embed", offsetof(baton_versions, embed), {"plain", "split"}, 1},
    {"loss", offsetof(baton_versions, loss), {"plain", "fused"}, 0}, /* see backend.h */
    {"step", offsetof(baton_versions, step), {"eager", "graph"}, 1},
    {"recur", offsetof(baton_versions, recur), {"simt", "tensor"}, 1},
    {"cpurnn", offsetof(baton_versions, cpurnn), {"sgemm", "packed"}, 1},
    {"cpubf16", offsetof(baton_versions, cpubf16), {"round", "dnnl"}, 1},
    {"greedy", offsetof(baton_versions, greedy), {"full", "screened"}, 1},
    {"decin", offsetof(baton_versions, decin), {"product", "table"}, 1},
    {"beammem", offsetof(baton_versions, beammem), {"plain", "projected"}, 1},
};
#define N_PARTS (sizeof version_parts / sizeof *version_parts)

static int *version_field(baton_versions *v, size_t k)
{
    return (int *)((char *)v + version_parts[k].offset);
}

/* One "part=version" item of length len. */
static baton_status version_item(baton_versions *v, const char *item, size_t len)
{
    const char *eq = memchr(item, '=', len);
    for (size_t k = 0; eq && k < N_PARTS; k++) {
        if (strlen(version_parts[k].part) != (size_t)(eq - item) || strncmp(item, version_parts[k].part, eq - item))
            continue;
        size_t vlen = len - (size_t)(eq + 1 - item);
        for (int i = 0; i < 2; i++)
            if (strlen(version_parts[k].names[i]) == vlen && !strncmp(eq + 1, version_parts[k].names[i], vlen)) {
                *version_field(v, k) = i;
                return BATON_OK;
            }
        return BATON_ERROR(BATON_ERR_INVALID, "--kernels: '%.*s', expected %s=%s or %s=%s", (int)len, item,
                           version_parts[k].part, version_parts[k].names[0], version_parts[k].part,
                           version_parts[k].names[1]);
    }
    return BATON_ERROR(BATON_ERR_INVALID,
                       "--kernels: '%.*s', expected part=version with part colsum, dv, embed, loss, step, recur, cpurnn, "
                       "cpubf16, greedy, decin or beammem",
                       (int)len, item);
}

baton_status baton_versions_parse(baton_versions *v, const char *spec)
{
    for (size_t k = 0; k < N_PARTS; k++)
        *version_field(v, k) = version_parts[k].def;
    while (spec && *spec) {
        size_t len = strcspn(spec, ",");
        if (len)
            BATON_TRY(version_item(v, spec, len));
        spec += len + (spec[len] == ',');
    }
    return BATON_OK;
}

baton_status baton_backend_use_gpu(int local_rank, int local_size, char *note, size_t n)
{
    snprintf(note, n, "no GPU");
#if BATON_HAVE_CUDA
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();
        return BATON_OK;
    }
    int dev = local_rank % count;
    cudaError_t e = cudaSetDevice(dev);
    if (e != cudaSuccess)
        return BATON_ERROR(BATON_ERR_CUDA, "local rank %d: cudaSetDevice(%d): %s", local_rank, dev,
                           cudaGetErrorString(e));
    snprintf(note, n, "GPU %d of %d%s", dev, count,
             local_size > count ? " (more ranks than GPUs on this machine: ranks share GPUs)" : "");
#else
    (void)local_rank, (void)local_size;
#endif
    return BATON_OK;
}

static baton_status create_named(baton_backend *be, const char *name, const baton_backend_options *opt)
{
    if (strcmp(name, "auto") == 0)
        name = baton_backend_gpu_usable() ? "cuda" : "cpu";
    if (strcmp(name, "cpu") == 0)
        return baton_cpu_backend_create(be, opt->threads);
    if (strcmp(name, "cuda") == 0) {
#if BATON_HAVE_CUDA
        return baton_cuda_backend_create(be, opt->precision);
#else
        return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                           "device 'cuda': this build has no CUDA; configure where nvcc and cuBLAS are installed");
#endif
    }
    return BATON_ERROR(BATON_ERR_INVALID, "device '%s': expected one of: %s", name, baton_backend_list());
}

baton_status baton_backend_create_ex(baton_backend *be, const char *name, const baton_backend_options *opt)
{
    memset(be, 0, sizeof *be);
    baton_versions v;
    BATON_TRY(baton_versions_parse(&v, opt->versions));
    BATON_REQUIRE((unsigned)opt->precision < 3, "backend: precision %d, expected fp32, tf32 or bf16",
                  (int)opt->precision);
    BATON_TRY(create_named(be, name, opt));
    be->precision = opt->precision;
    be->versions = v;
    return BATON_OK;
}

baton_status baton_backend_create(baton_backend *be, const char *name, int threads)
{
    baton_backend_options opt = {.threads = threads};
    return baton_backend_create_ex(be, name, &opt);
}

baton_status baton_backend_embed_reserve(baton_backend *be, int max_n)
{
    BATON_REQUIRE(max_n >= 0, "embedding reserve of %d ids, expected >= 0", max_n);
    return be->ops->embed_reserve ? be->ops->embed_reserve(be, max_n) : BATON_OK;
}

baton_status baton_backend_stage_reserve(baton_backend *be, size_t bytes)
{
    return be->ops->stage_reserve ? be->ops->stage_reserve(be, bytes) : BATON_OK;
}

static int keeps_mirrors(const baton_backend *be)
{
    return be->precision == BATON_PRECISION_BF16 && be->ops->bf16_mirror && be->ops->bf16_twin;
}

baton_status baton_backend_bf16_mirror(baton_backend *be, const float *f, size_t n, int kept)
{
    return keeps_mirrors(be) && n ? be->ops->bf16_mirror(be, f, n, kept) : BATON_OK;
}

uint16_t *baton_backend_bf16_twin(baton_backend *be, const float *f)
{
    return keeps_mirrors(be) && f ? be->ops->bf16_twin(be, f) : NULL;
}

void baton_backend_destroy(baton_backend *be)
{
    if (be->ops && be->ops->destroy)
        be->ops->destroy(be);
    memset(be, 0, sizeof *be);
}
