/* cuda_graph.c: what lets a training step run without the host waiting: uploads through a ring
 * of pinned staging buffers, and steps recorded once per shape as CUDA graphs and replayed.
 *
 * upload_async: a cudaMemcpyAsync from pageable memory would wait for the copy, so the bytes are
 * first copied into the next of BATON_CUDA_STAGES pinned buffers, whose event records when the
 * device has read it; the host waits on that event only when it comes round to the same buffer
 * and the device has not got there yet, i.e. when it is a whole ring of steps ahead.
 * Graphs: stream capture of the backend's stream (cuBLAS has a fixed workspace, set at creation,
 * so that it allocates nothing while captured), instantiated once and launched per step.
 * Status: compiled in every CUDA build; run only in the emulation, never yet on a GPU. */
#include <cuda_runtime_api.h>
#include <string.h>

#include "baton/cuda_check.h"
#include "cuda_internal.h"

static cuda_ctx *ctx(baton_backend *be)
{
    return (cuda_ctx *)be->impl;
}

baton_status baton_cuda_stage_reserve(baton_backend *be, size_t bytes)
{
    cuda_ctx *c = ctx(be);
    if (bytes <= c->stage_bytes)
        return BATON_OK;
    BATON_CUDA_CHECK(cudaStreamSynchronize(c->stream)); /* setup: no staged copy may be in flight */
    for (int i = 0; i < BATON_CUDA_STAGES; i++) {
        if (c->stage[i])
            cudaFreeHost(c->stage[i]);
        c->stage[i] = NULL;
    }
    c->stage_bytes = 0;
    for (int i = 0; i < BATON_CUDA_STAGES; i++) {
        cudaError_t e = cudaMallocHost(&c->stage[i], bytes);
        if (e != cudaSuccess)
            return BATON_ERROR(BATON_ERR_OOM, "upload staging: cudaMallocHost of %zu bytes failed (%s)", bytes,
                               cudaGetErrorString(e));
    }
    c->stage_bytes = bytes;
    return BATON_OK;
}

baton_status baton_cuda_upload_async(baton_backend *be, void *dst, const void *src, size_t bytes)
{
    cuda_ctx *c = ctx(be);
    BATON_REQUIRE(bytes <= c->stage_bytes,
                  "upload_async of %zu bytes: %zu were reserved at setup (stage_reserve with the largest upload)",
                  bytes, c->stage_bytes);
    if (bytes == 0)
        return BATON_OK;
    int k = c->stage_next;
    c->stage_next = (k + 1) % BATON_CUDA_STAGES;
    /* the device may still be reading this buffer: wait only if it is (an event never recorded
     * reports done) */
    cudaError_t q = cudaEventQuery(c->stage_done[k]);
    if (q == cudaErrorNotReady)
        BATON_CUDA_CHECK(cudaEventSynchronize(c->stage_done[k]));
    else
        BATON_CUDA_CHECK(q);
    memcpy(c->stage[k], src, bytes);
    BATON_CUDA_CHECK(cudaMemcpyAsync(dst, c->stage[k], bytes, cudaMemcpyHostToDevice, c->stream));
    BATON_CUDA_CHECK(cudaEventRecord(c->stage_done[k], c->stream));
    return BATON_OK;
}

baton_status baton_cuda_graph_begin(baton_backend *be)
{
    BATON_CUDA_CHECK(cudaStreamBeginCapture(ctx(be)->stream, cudaStreamCaptureModeThreadLocal));
    return BATON_OK;
}

baton_status baton_cuda_graph_end(baton_backend *be, void **graph)
{
    cudaGraph_t g = NULL;
    cudaGraphExec_t exec = NULL;
    *graph = NULL;
    BATON_CUDA_CHECK(cudaStreamEndCapture(ctx(be)->stream, &g));
    cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
    cudaGraphDestroy(g); /* the executable graph keeps what it needs */
    BATON_CUDA_CHECK(e);
    *graph = exec;
    return BATON_OK;
}

baton_status baton_cuda_graph_launch(baton_backend *be, void *graph)
{
    BATON_CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)graph, ctx(be)->stream));
    return BATON_OK;
}

void baton_cuda_graph_free(baton_backend *be, void *graph)
{
    (void)be;
    if (graph)
        cudaGraphExecDestroy((cudaGraphExec_t)graph);
}
