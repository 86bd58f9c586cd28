/* machine.c: the "# " lines that head every benchmark report: where the numbers were measured
 * (CPU model and threads, the GPU with its clocks and library versions) and what was measured
 * (baton's version and commit). Every query is informational: a failure prints as such. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "baton/bench.h"
#include "baton_commit.h"
#include "baton_config.h"

#if BATON_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif
#if BATON_HAVE_CUDNN
#include <cudnn.h>
#endif

static void cpu_line(FILE *out)
{
    char model[256] = "unknown CPU", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    if (f)
        fclose(f);
    fprintf(out, "# cpu: %s, %ld hardware threads\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}

#if BATON_HAVE_CUDA
static void gpu_lines(FILE *out)
{
    int n = 0, dev = 0, sms = 0, clock = 0, mem_clock = 0, rt = 0, drv = 0, major = 0, minor = 0, patch = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        cudaGetLastError();
        fprintf(out, "# gpu: none usable\n");
        return;
    }
    struct cudaDeviceProp p;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        fprintf(out, "# gpu: properties unavailable\n");
        return;
    }
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    cudaDeviceGetAttribute(&clock, cudaDevAttrClockRate, dev);
    cudaDeviceGetAttribute(&mem_clock, cudaDevAttrMemoryClockRate, dev);
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    cublasGetProperty(MAJOR_VERSION, &major);
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    fprintf(out, "# gpu: cuda:%d %s, sm_%d%d, %d SMs, %.0f MHz SM clock, %.0f MHz memory clock, %.1f GiB\n", dev,
            p.name, p.major, p.minor, sms, clock / 1e3, mem_clock / 1e3, p.totalGlobalMem / 1073741824.0);
    fprintf(out, "# cuda: driver %d.%d, runtime %d.%d, cuBLAS %d.%d.%d", drv / 1000, drv % 1000 / 10, rt / 1000,
            rt % 1000 / 10, major, minor, patch);
#if BATON_HAVE_CUDNN
    size_t v = cudnnGetVersion();
    fprintf(out, ", cuDNN %zu.%zu.%zu", v / 10000, v % 10000 / 100, v % 100);
#else
    fprintf(out, ", cuDNN not built");
#endif
    fputc('\n', out);
}
#endif

void baton_bench_machine(FILE *out)
{
    fprintf(out, "# baton %s, commit %s\n", BATON_VERSION, BATON_COMMIT);
    cpu_line(out);
#if BATON_HAVE_CUDA
    gpu_lines(out);
#else
    fprintf(out, "# gpu: this build has no CUDA\n");
#endif
}
