/* dist.h: data-parallel training over the processes a launcher started (mpirun, srun): the
 * communication seam beside the ops table, written once for every backend.
 *
 * Every rank holds the whole model and trains on its own share of each step's batches. Two kinds
 * of traffic cross the seam:
 *   - the gradient sum: the flat gradient buffer (param.h) summed over ranks in place, in buckets
 *     started as backward finishes each part of the model (the output layer first, the source
 *     embedding last), so communication overlaps the rest of backward. A transport does it:
 *     "mpi" (MPI_Iallreduce on host memory; device gradients are staged through the host) or
 *     "nccl" (ncclAllReduce on a side stream of the CUDA backend; src/cuda/cuda_nccl.c).
 *   - small host exchanges (a step's token counts, losses, validation sums, weight checksums):
 *     gathered at rank 0 and sent back, each with a deadline, so that a rank that died or hangs
 *     is named within --dist-timeout seconds and the job stops (MPI_Abort) instead of waiting.
 * A single process needs no MPI at all: every call below is then a copy or nothing.
 *
 * The mean: each batch's loss gradient is scaled by 1 / (the step's target tokens over all ranks)
 * and the transport sums, so N ranks with batches b_1..b_N make the update one process makes for
 * their union (up to the order of float additions). */
#ifndef BATON_DIST_H
#define BATON_DIST_H

#include <stddef.h>

#include "baton/backend.h"
#include "baton/status.h"

/* Where this process stands, as its launcher says (environment variables). */
typedef struct {
    int rank, size;             /* 0..size-1 of size processes; 0 of 1 without a launcher */
    int local_rank, local_size; /* on this machine: picks the GPU */
    char launcher[16];          /* "mpirun", "srun" or "none" */
} baton_dist_env;

typedef struct baton_dist baton_dist;

/* A gradient transport (mpi, nccl). */
typedef struct {
    const char *name;
    int device_side; /* 1: buckets are enqueued on the device and never wait on the host (nccl) */
    /* Starts the sum over ranks of grads[off, off + n), in place. */
    baton_status (*bucket_start)(baton_dist *d, float *grads, size_t off, size_t n);
    /* Every started bucket summed: on return (mpi) or for device work enqueued after it (nccl). */
    baton_status (*buckets_wait)(baton_dist *d);
    void (*destroy)(baton_dist *d);
} baton_dist_transport;

/* What the gradient sums of a run cost, for logs and benchmarks. */
typedef struct {
    long reductions;   /* optimizer updates whose gradients were summed */
    long buckets;      /* buckets started */
    double bytes;      /* bytes summed (each bucket counted once) */
    double wait_s;     /* host seconds spent in buckets_wait (mpi: the exposed communication) */
} baton_dist_stats;

struct baton_dist {
    baton_dist_env env;
    double timeout_s;        /* a host exchange or a gradient sum that takes longer names the late ranks and aborts */
    size_t bucket_floats;    /* a bucket is started once this many floats are final */
    const baton_dist_transport *transport; /* NULL until baton_dist_attach (and for one process) */
    void *transport_impl;
    baton_backend *be;
    size_t total;            /* floats of the flat gradient buffer */
    size_t started;          /* grads[started, total) are in started buckets this step */
    long exchanges;          /* host exchanges so far: every rank makes the same ones in the same order */
    baton_dist_stats stats;
    int mpi_inited;          /* this process called MPI_Init (and must finalize) */
    void *host_comm;         /* MPI: the exchanges' communicator (a duplicate of MPI_COMM_WORLD) */
};

/* Reads the launcher's variables: Open MPI's OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE},
 * else Slurm's SLURM_{PROCID,NTASKS,LOCALID} (with SLURM_NTASKS_PER_NODE or SLURM_TASKS_PER_NODE),
 * else PMIx's PMIX_RANK with OMPI/PMI sizes; none: rank 0 of 1. A value that is not a number in
 * range is refused with one line naming the variable. */
baton_status baton_dist_env_read(baton_dist_env *e);

/* Joins the launcher's ranks: MPI_Init where there is more than one process (a build without
 * Open MPI refuses then, saying how to build with it), and checks that MPI sees the ranks the
 * launcher announced. timeout_s > 0 bounds every wait on another rank; bucket_mb > 0 sizes buckets. */
baton_status baton_dist_init(baton_dist *d, double timeout_s, double bucket_mb);

/* Sums gradients of backend be over the ranks from now on: a flat buffer of `total` floats.
 * transport: "auto" (nccl for a CUDA backend where built, else mpi), "mpi" or "nccl". */
baton_status baton_dist_attach(baton_dist *d, baton_backend *be, size_t total, const char *transport);

/* Leaves the ranks (MPI_Finalize) and frees the transport. */
void baton_dist_finalize(baton_dist *d);

/* 1 where d is NULL or holds one process. */
int baton_dist_single(const baton_dist *d);

/* 1 on the rank that logs, validates... and writes files (rank 0; also without d). */
int baton_dist_leader(const baton_dist *d);

/* A new step's gradients: nothing of grads is final yet. */
void baton_dist_grads_begin(baton_dist *d);

/* grads[off, total) are final for this step: starts buckets over what is final and not started
 * once it reaches the bucket size, and everything left when off is 0. */
baton_status baton_dist_grads_ready(baton_dist *d, float *grads, size_t off);

/* Waits (with the deadline) until every bucket of this step is summed. */
baton_status baton_dist_grads_end(baton_dist *d);

/* all[r * n + i] = rank r's mine[i], on every rank; `what` names the exchange in a timeout's
 * line ("step 120's token counts"). A rank that is not there within the deadline is named and the
 * job is aborted (this call does not return then). */
baton_status baton_dist_gather(baton_dist *d, const char *what, const double *mine, int n, double *all);

/* sum[i] = the sum over ranks of mine[i], the same on every rank (added in rank order); sum may
 * be mine. Deadline and failure as baton_dist_gather. */
baton_status baton_dist_sum(baton_dist *d, const char *what, const double *mine, int n, double *sum);

/* buf (n bytes) = rank 0's buf on every rank (NCCL's unique id); deadline as baton_dist_gather. */
baton_status baton_dist_bcast(baton_dist *d, const char *what, void *buf, size_t n);

/* Every rank waits here until all are here (no deadline where timeout_s is 0 for this call's
 * `wait_s`; otherwise wait_s bounds it): for work one rank does for all (data preparation). */
baton_status baton_dist_barrier(baton_dist *d, const char *what, double wait_s);

/* A 64-bit checksum of n floats of host memory (FNV-1a over their bytes). */
unsigned long long baton_dist_checksum(const float *x, size_t n);

/* Compares the checksum of each rank's weights (host copy, n floats) at `step`: a mismatch is
 * BATON_ERR_INVALID with one line naming the ranks that differ from rank 0. */
baton_status baton_dist_check_weights(baton_dist *d, const float *weights, size_t n, long step);

/* Stops every rank now, after `st`'s line was printed by this rank: MPI_Abort where there are
 * several, which mpirun and srun turn into the end of the job. Returns only for one process. */
void baton_dist_abort(baton_dist *d, int code);

#endif
