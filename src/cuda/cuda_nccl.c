/* cuda_nccl.c: the NCCL gradient transport (dist.h): each bucket an ncclAllReduce (sum, fp32, in
 * place) on a side stream, so that the backend's stream goes on with backward while the bucket
 * travels; an event orders each bucket after the backward work that finished it, and the optimizer
 * waits for the side stream's last event. The communicator is made once from an ncclUniqueId that
 * rank 0 draws and broadcasts over MPI.
 *
 * Waiting: a step's host never blocks on NCCL; a rank that dies or hangs inside a collective is
 * caught at the next host exchange (dist.c) or, where the host waits for the device, by polling
 * ncclCommGetAsyncError with the deadline and then ncclCommAbort.
 *
 * Status: compiled against the CUDA toolkit's nccl.h, never run (no baton code has run on a real
 * GPU); bench/gpu-check.sh runs its 1-GPU smoke test where a GPU is lent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nccl.h>

#include "../dist/dist_internal.h"
#include "baton/cuda_check.h"
#include "cuda_internal.h"

#define NCCL_CHECK(call, what)                                                                       \
    do {                                                                                             \
        ncclResult_t nccl_rc_ = (call);                                                              \
        if (nccl_rc_ != ncclSuccess)                                                                 \
            return BATON_ERROR(BATON_ERR_CUDA, "%s: NCCL error %d: %s", (what), (int)nccl_rc_,       \
                               ncclGetErrorString(nccl_rc_));                                       \
    } while (0)

typedef struct {
    ncclComm_t comm;
    cudaStream_t side;       /* the buckets' stream */
    cudaEvent_t ready, done; /* backward reached a bucket; the side stream finished its buckets */
    int pending;             /* buckets started this step */
} nccl_grads;

static baton_status nccl_bucket_start(baton_dist *d, float *grads, size_t off, size_t n)
{
    nccl_grads *g = d->transport_impl;
    cuda_ctx *c = d->be->impl;
    BATON_CUDA_CHECK(cudaEventRecord(g->ready, c->stream));
    BATON_CUDA_CHECK(cudaStreamWaitEvent(g->side, g->ready, 0));
    NCCL_CHECK(ncclAllReduce(grads + off, grads + off, n, ncclFloat32, ncclSum, g->comm, g->side),
               "gradient sum (ncclAllReduce)");
    g->pending++;
    return BATON_OK;
}

static baton_status nccl_buckets_wait(baton_dist *d)
{
    nccl_grads *g = d->transport_impl;
    cuda_ctx *c = d->be->impl;
    ncclResult_t async = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(g->comm, &async), "gradient sum (ncclCommGetAsyncError)");
    if (async != ncclSuccess) {
        char line[256];
        snprintf(line, sizeof line, "the gradient sum failed in NCCL: %s", ncclGetErrorString(async));
        ncclCommAbort(g->comm);
        baton_dist_give_up(d, line);
    }
    BATON_CUDA_CHECK(cudaEventRecord(g->done, g->side));
    BATON_CUDA_CHECK(cudaStreamWaitEvent(c->stream, g->done, 0)); /* the optimizer reads the sums */
    g->pending = 0;
    return BATON_OK;
}

static void nccl_destroy(baton_dist *d)
{
    nccl_grads *g = d->transport_impl;
    if (!g)
        return;
    if (g->comm)
        ncclCommDestroy(g->comm);
    if (g->side)
        cudaStreamDestroy(g->side);
    if (g->ready)
        cudaEventDestroy(g->ready);
    if (g->done)
        cudaEventDestroy(g->done);
    free(g);
    d->transport_impl = NULL;
}

static const baton_dist_transport nccl_transport = {"nccl", 1, nccl_bucket_start, nccl_buckets_wait, nccl_destroy};

baton_status baton_dist_nccl_transport(baton_dist *d)
{
    BATON_REQUIRE(strcmp(d->be->ops->name, "cuda") == 0, "--dist-transport nccl: the %s backend has no GPU memory; "
                  "use --device cuda, or --dist-transport mpi", d->be->ops->name);
    nccl_grads *g = calloc(1, sizeof *g);
    BATON_REQUIRE(g, "NCCL: out of memory");
    d->transport = &nccl_transport, d->transport_impl = g;
    BATON_CUDA_CHECK(cudaStreamCreateWithFlags(&g->side, cudaStreamNonBlocking));
    BATON_CUDA_CHECK(cudaEventCreateWithFlags(&g->ready, cudaEventDisableTiming));
    BATON_CUDA_CHECK(cudaEventCreateWithFlags(&g->done, cudaEventDisableTiming));
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (d->env.rank == 0)
        NCCL_CHECK(ncclGetUniqueId(&id), "ncclGetUniqueId");
    BATON_TRY(baton_dist_bcast(d, "NCCL's unique id", &id, sizeof id));
    NCCL_CHECK(ncclCommInitRank(&g->comm, d->env.size, id, d->env.rank), "ncclCommInitRank");
    return BATON_OK;
}
