/* test_nccl_gpu.c: the NCCL gradient transport's smoke test on one GPU (src/cuda/cuda_nccl.c).
 *
 * A communicator of one rank from a unique id, two buckets of a device buffer summed in place on
 * the side stream, the backend's stream ordered after them: the sum over one rank is the buffer
 * itself, so the result must equal the input bit for bit (any NCCL, CUDA or ordering fault shows as
 * an error or a changed float; the buffer is random, never zeros). Exit 77 where no GPU is usable
 * or the build has no NCCL. This is what gpu-check runs of NCCL: several GPUs are not lent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/dist/dist_internal.h"
#include "baton/backend.h"
#include "baton_config.h"
#include "testutil.h"

int main(void)
{
    if (!BATON_HAVE_NCCL || !baton_backend_gpu_usable()) {
        printf("skip: %s\n", BATON_HAVE_NCCL ? "no usable GPU" : "this build has no NCCL");
        return 77;
    }
    baton_backend be;
    baton_dist d;
    tu_report r = {0};
    if (baton_backend_create(&be, "cuda", 1) != BATON_OK || baton_dist_init(&d, 60.0, 25.0) != BATON_OK)
        return 1;
    enum { N = 1 << 20 };
    float *host = tu_malloc(N * sizeof(float)), *back = tu_malloc(N * sizeof(float)), *dev = NULL;
    tu_fill_uniform(host, N, -1.0f, 1.0f, 5, 0);
    d.be = &be, d.total = N;
    baton_status st = baton_dist_nccl_transport(&d);
    if (st == BATON_OK)
        st = be.ops->alloc(&be, (void **)&dev, N * sizeof(float), "test buffer");
    if (st == BATON_OK)
        st = be.ops->upload(&be, dev, host, N * sizeof(float));
    if (st == BATON_OK) /* the end first, as backward finishes it */
        st = d.transport->bucket_start(&d, dev, N / 2, N - N / 2);
    if (st == BATON_OK)
        st = d.transport->bucket_start(&d, dev, 0, N / 2);
    if (st == BATON_OK)
        st = d.transport->buckets_wait(&d);
    if (st == BATON_OK)
        st = be.ops->download(&be, back, dev, N * sizeof(float));
    tu_check(&r, "NCCL: one-rank all-reduce of two buckets runs", st == BATON_OK ? 0.0 : 1.0, 0.0);
    tu_check(&r, "NCCL: the sum over one rank is the buffer, bit for bit",
             st == BATON_OK && memcmp(host, back, N * sizeof(float)) == 0 ? 0.0 : 1.0, 0.0);
    if (dev)
        be.ops->free(&be, dev);
    baton_dist_finalize(&d);
    baton_backend_destroy(&be);
    free(host), free(back);
    return tu_summary(&r, "NCCL transport");
}
