/* dist_internal.h: what the exchanges (dist.c) and the gradient transports share. */
#ifndef BATON_DIST_INTERNAL_H
#define BATON_DIST_INTERNAL_H

#include "baton/dist.h"

/* Monotonic seconds. */
double baton_dist_now(void);

/* Backs off the polls-th poll of a wait: spins first, then sleeps up to 1 ms. */
void baton_dist_pause(int polls);

/* When a rank waiting on rank 0 gives up: later than rank 0 gives up on the others. */
double baton_dist_peer_deadline(const baton_dist *d);

/* Prints "baton: rank R of N: <line>; stopping every rank ..." and aborts the job; never returns. */
void baton_dist_give_up(baton_dist *d, const char *line) __attribute__((noreturn));

/* BATON_OK for MPI_SUCCESS, else one line with `what` and MPI's words for rc (MPI builds only). */
baton_status baton_dist_mpi_check(int rc, const char *what);

/* The MPI gradient transport (grads.c); and NCCL's where built (src/cuda/cuda_nccl.c). */
baton_status baton_dist_mpi_transport(baton_dist *d);
baton_status baton_dist_nccl_transport(baton_dist *d);

#endif
