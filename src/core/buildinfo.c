/* buildinfo.c: what this build contains, for --version and the head of benchmark reports. */
#include "baton/buildinfo.h"

#include <stdio.h>
#include <string.h>

#include "baton_config.h"

#if BATON_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif
#if BATON_HAVE_CUDNN
#include <cudnn.h>
#endif
#if BATON_HAVE_OPENMP
#include <omp.h>
#endif
#if BATON_HAVE_BLAS
#include <cblas.h>
#endif
#if BATON_HAVE_MPI
#include <mpi.h>
#endif
#if BATON_HAVE_NCCL
#include <nccl.h>
#endif

void baton_buildinfo_print(FILE *out)
{
    fprintf(out, "baton %s\n", BATON_VERSION);
#if BATON_HAVE_BLAS && defined(OPENBLAS_VERSION)
    fprintf(out, "  cpu backend: %s, threads: %s", openblas_get_config(), /* version, core type */
            openblas_get_parallel() == OPENBLAS_OPENMP ? "OpenMP" : openblas_get_parallel() ? "pthreads" : "no");
#elif BATON_HAVE_BLAS
    fprintf(out, "  cpu backend: CBLAS");
#else
    fprintf(out, "  cpu backend: plain C GEMM (no BLAS in this build: slow)");
#endif
#if BATON_HAVE_OPENMP
    fprintf(out, "; loops: OpenMP, %d thread(s)", omp_get_max_threads());
#endif
    fputc('\n', out);
#if BATON_HAVE_CUDA
    /* Informational: a failing query is reported as such instead of stopping the report. */
    int rt = 0, drv = 0, ndev = 0;
    cudaError_t e_rt = cudaRuntimeGetVersion(&rt), e_drv = cudaDriverGetVersion(&drv);
    cudaError_t e_dev = cudaGetDeviceCount(&ndev);
    fprintf(out, "  cuda: runtime %d.%d, driver %d.%d", rt / 1000, rt % 1000 / 10, drv / 1000, drv % 1000 / 10);
    if (e_rt != cudaSuccess || e_drv != cudaSuccess)
        fprintf(out, " (version query failed: %s)", cudaGetErrorString(e_rt != cudaSuccess ? e_rt : e_drv));
    if (e_dev == cudaSuccess)
        fprintf(out, ", %d device(s)\n", ndev);
    else
        fprintf(out, ", no usable device (%s)\n", cudaGetErrorString(e_dev));
#else
    fprintf(out, "  cuda: not built\n");
#endif
    fprintf(out, "  checkpoints: %s\n", BATON_HAVE_CJSON ? "save and load" : "save only (built without cJSON)");
    fprintf(out, "  plots: %s\n", BATON_HAVE_PNG ? "libpng" : "none (built without libpng)");
    fprintf(out, "  subwords: %s\n",
            BATON_HAVE_SENTENCEPIECE ? "SentencePiece" : "whitespace only (built without SentencePiece)");
#if BATON_HAVE_CUDNN
    size_t v = cudnnGetVersion();
    fprintf(out, "  cudnn: %zu.%zu.%zu (headers %d.%d.%d)\n", v / 10000, v % 10000 / 100, v % 100, CUDNN_MAJOR,
            CUDNN_MINOR, CUDNN_PATCHLEVEL);
#else
    fprintf(out, "  cudnn: not built\n");
#endif
#if BATON_HAVE_MPI
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len); /* callable before MPI_Init */
    lib[strcspn(lib, ",\n")] = 0;
    fprintf(out, "  data parallel: mpi (%s)", lib);
#else
    fprintf(out, "  data parallel: one process only (built without Open MPI)");
#endif
#if BATON_HAVE_NCCL
    fprintf(out, ", nccl %d.%d.%d", NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
#endif
    fputc('\n', out);
}
