/* grads.c: the gradient sum over ranks, in buckets (dist.h), and the MPI transport.
 *
 * The parameter table lays the model out in forward order (source embedding first, generator
 * last) and backward finishes it in reverse, so "final" is a watermark: grads[off, total) are
 * final once backward has passed `off`. A bucket is everything final and not yet started, started
 * when it reaches --bucket-mb and at the end (off 0): bucket edges fall on layer edges, and the
 * last bucket holds what backward finishes last (the source embedding and the encoder's first
 * layers), the only part that cannot overlap backward.
 *
 * The MPI transport sums with MPI_Iallreduce in place. CPU gradients are host memory and are
 * summed where they are; a device backend's are copied to a host staging buffer, summed there and
 * copied back (the path the emulation build tests; on GPUs NCCL is the fast path). Open MPI moves
 * a nonblocking collective forward only inside MPI calls, so every later bucket start tests the
 * earlier ones: the overlap is as good as the number of buckets allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/dist.h"
#include "baton_config.h"
#include "dist_internal.h"

#if BATON_HAVE_MPI
#include <mpi.h>
#endif

/* One MPI call sums at most this many floats (its count is an int). */
#define BUCKET_MAX_FLOATS ((size_t)1 << 30)
/* The tag of "this rank waits for update k's sum" on the exchanges' communicator (dist.c's
 * exchanges use tags below 30000). */
#define TAG_ARRIVED 32000
/* The tag of "still waiting" words, sent every heartbeat while a rank waits for a sum. */
#define TAG_ALIVE 32001

baton_status baton_dist_attach(baton_dist *d, baton_backend *be, size_t total, const char *transport)
{
    if (d->transport) /* a later trainer on the same ranks: a transport for its buffer */
        d->transport->destroy(d);
    d->transport = NULL;
    d->be = be;
    d->total = d->started = total;
    if (baton_dist_single(d))
        return BATON_OK;
    int cuda = strcmp(be->ops->name, "cuda") == 0;
    if (strcmp(transport, "nccl") == 0 || (strcmp(transport, "auto") == 0 && cuda && BATON_HAVE_NCCL))
        return baton_dist_nccl_transport(d);
    BATON_REQUIRE(strcmp(transport, "mpi") == 0 || strcmp(transport, "auto") == 0,
                  "--dist-transport %s: expected auto, mpi or nccl", transport);
    return baton_dist_mpi_transport(d);
}

void baton_dist_grads_begin(baton_dist *d)
{
    if (d)
        d->started = d->total;
}

baton_status baton_dist_grads_ready(baton_dist *d, float *grads, size_t off)
{
    if (baton_dist_single(d) || off >= d->started)
        return BATON_OK;
    if (off > 0 && d->started - off < d->bucket_floats)
        return BATON_OK;
    while (d->started > off) {
        size_t n = d->started - off < BUCKET_MAX_FLOATS ? d->started - off : BUCKET_MAX_FLOATS;
        BATON_TRY(d->transport->bucket_start(d, grads, d->started - n, n));
        d->started -= n;
        d->stats.buckets++;
        d->stats.bytes += (double)n * sizeof(float);
    }
    return BATON_OK;
}

baton_status baton_dist_grads_end(baton_dist *d)
{
    if (baton_dist_single(d))
        return BATON_OK;
    BATON_REQUIRE(d->started == 0, "gradient sum: backward left grads[0, %zu) unfinished (a model part did not "
                  "report its gradients)", d->started);
    double t0 = baton_dist_now();
    BATON_TRY(d->transport->buckets_wait(d));
    d->stats.wait_s += baton_dist_now() - t0;
    d->stats.reductions++;
    return BATON_OK;
}

#if BATON_HAVE_MPI

typedef struct {
    MPI_Comm comm;       /* the gradients' own communicator */
    int host;            /* 1: the backend's memory is host memory (cpu): summed in place */
    float *staging;      /* (total) device backends: the host copy the sum runs on */
    MPI_Request *reqs;   /* (cap) this step's buckets */
    size_t *off, *len;   /* (cap) where each lies */
    int n, cap;
    float *grads;        /* the device buffer the staged buckets go back to */
    MPI_Request *arrived; /* (N) rank 0: each rank's word that it waits for the sum; others: their own word */
    long *word;           /* (N) the update numbers those words carry */
    double *seen;         /* (N) rank 0: when each rank last said it still waits */
    long beat;            /* the payload of a "still waiting" word */
} mpi_grads;

/* Seconds between "still waiting" words: a rank silent for three of them hangs. */
static double heartbeat(const baton_dist *d)
{
    return d->timeout_s / 6 < 1.0 ? d->timeout_s / 6 : 1.0;
}

/* Rank 0 takes every "still waiting" word that has come, noting when each rank was last heard. */
static void hear_alive(baton_dist *d, mpi_grads *g)
{
    MPI_Comm host = *(MPI_Comm *)d->host_comm;
    for (;;) {
        int flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_ALIVE, host, &flag, &status);
        if (!flag)
            return;
        long word;
        MPI_Recv(&word, 1, MPI_LONG, status.MPI_SOURCE, TAG_ALIVE, host, MPI_STATUS_IGNORE);
        g->seen[status.MPI_SOURCE] = baton_dist_now();
    }
}

static baton_status mpi_bucket_start(baton_dist *d, float *grads, size_t off, size_t n)
{
    mpi_grads *g = d->transport_impl;
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        MPI_Request *r = realloc(g->reqs, (size_t)cap * sizeof *r);
        size_t *o = r ? realloc(g->off, (size_t)cap * sizeof *o) : NULL, *l = o ? realloc(g->len, (size_t)cap * sizeof *l) : NULL;
        g->reqs = r ? r : g->reqs, g->off = o ? o : g->off, g->len = l ? l : g->len;
        BATON_REQUIRE(r && o && l, "gradient sum: out of memory for %d buckets", cap);
        g->cap = cap;
    }
    float *at = grads + off;
    if (!g->host) { /* the copy waits for backward so far: the price of the staged path */
        BATON_TRY(d->be->ops->download(d->be, g->staging + off, grads + off, n * sizeof(float)));
        at = g->staging + off;
        g->grads = grads;
    }
    BATON_TRY(baton_dist_mpi_check(MPI_Iallreduce(MPI_IN_PLACE, at, (int)n, MPI_FLOAT, MPI_SUM, g->comm, &g->reqs[g->n]),
                                   "gradient sum (MPI_Iallreduce)"));
    g->off[g->n] = off, g->len[g->n] = n, g->n++;
    int flag; /* moves the earlier buckets forward: Open MPI progresses them only inside MPI calls */
    MPI_Testall(g->n, g->reqs, &flag, MPI_STATUSES_IGNORE);
    return BATON_OK;
}

/* Each rank tells rank 0 that it waits for this update's sum, so that a sum that never completes
 * can be blamed on the ranks that never came: the words are the only extra messages, N - 1 an update. */
static void post_arrivals(baton_dist *d, mpi_grads *g)
{
    MPI_Comm host = *(MPI_Comm *)d->host_comm;
    int N = d->env.size;
    g->word[0] = d->stats.reductions + 1;
    g->arrived[0] = MPI_REQUEST_NULL;
    if (d->env.rank != 0) {
        MPI_Isend(&g->word[0], 1, MPI_LONG, 0, TAG_ARRIVED, host, &g->arrived[0]);
        return;
    }
    for (int r = 1; r < N; r++)
        MPI_Irecv(&g->word[r], 1, MPI_LONG, r, TAG_ARRIVED, host, &g->arrived[r]);
}

/* The line of a sum that did not complete in time: rank 0 names the ranks whose word is missing. */
static void give_up_on_sum(baton_dist *d, mpi_grads *g)
{
    char line[512];
    long k = d->stats.reductions + 1;
    int len = snprintf(line, sizeof line, "update %ld's gradient sum: ", k), missing = 0;
    for (int r = 1; d->env.rank == 0 && r < d->env.size && len < (int)sizeof line - 64; r++) {
        int done = 1;
        if (g->arrived[r] != MPI_REQUEST_NULL)
            MPI_Test(&g->arrived[r], &done, MPI_STATUS_IGNORE);
        if (!done)
            len += snprintf(line + len, sizeof line - len, "%s %d", missing++ ? "," : "no word from rank", r);
    }
    double now = baton_dist_now();
    for (int r = 1; !missing && d->env.rank == 0 && r < d->env.size && len < (int)sizeof line - 64; r++)
        if (now - g->seen[r] > 3 * heartbeat(d))
            len += snprintf(line + len, sizeof line - len, "%s %d", missing++ ? "," : "no word from rank", r);
    if (missing)
        snprintf(line + len, sizeof line - len, " within --dist-timeout %g s (it died or hangs)", d->timeout_s);
    else if (d->env.rank == 0)
        snprintf(line + len, sizeof line - len, "every rank came, but it did not complete within --dist-timeout %g s",
                 d->timeout_s);
    else
        snprintf(line + len, sizeof line - len, "not complete within --dist-timeout %g s, and rank 0 said nothing (it "
                 "died or hangs)", d->timeout_s);
    baton_dist_give_up(d, line);
}

static baton_status mpi_buckets_wait(baton_dist *d)
{
    mpi_grads *g = d->transport_impl;
    int N = d->env.size, words = d->env.rank == 0 ? N : 1;
    post_arrivals(d, g);
    /* rank 0 gives up first, so that its line, which names the late ranks, is the one printed */
    double deadline = d->env.rank == 0 ? baton_dist_now() + d->timeout_s : baton_dist_peer_deadline(d);
    double next_beat = baton_dist_now() + heartbeat(d);
    for (int r = 0; d->env.rank == 0 && r < N; r++)
        g->seen[r] = baton_dist_now(); /* the arrival words speak for the start */
    for (int polls = 0;; polls++) {
        if (d->env.rank == 0)
            hear_alive(d, g);
        else if (baton_dist_now() >= next_beat) { /* a rank stopped inside the sum falls silent */
            MPI_Request beat;
            g->beat = d->stats.reductions + 1;
            MPI_Isend(&g->beat, 1, MPI_LONG, 0, TAG_ALIVE, *(MPI_Comm *)d->host_comm, &beat);
            MPI_Request_free(&beat);
            next_beat = baton_dist_now() + heartbeat(d);
        }
        int done = 0, heard = 0;
        BATON_TRY(baton_dist_mpi_check(MPI_Testall(g->n, g->reqs, &done, MPI_STATUSES_IGNORE),
                                       "gradient sum (MPI_Testall)"));
        MPI_Testall(words, g->arrived, &heard, MPI_STATUSES_IGNORE);
        if (done && heard)
            break;
        if (baton_dist_now() > deadline)
            give_up_on_sum(d, g);
        baton_dist_pause(polls);
    }
    for (int i = 0; !g->host && i < g->n; i++)
        BATON_TRY(d->be->ops->upload(d->be, g->grads + g->off[i], g->staging + g->off[i], g->len[i] * sizeof(float)));
    g->n = 0;
    return BATON_OK;
}

static void mpi_destroy(baton_dist *d)
{
    mpi_grads *g = d->transport_impl;
    if (!g)
        return;
    if (d->env.rank == 0 && d->host_comm)
        hear_alive(d, g); /* words sent after the last sum completed */
    if (g->comm != MPI_COMM_NULL)
        MPI_Comm_free(&g->comm);
    free(g->staging), free(g->reqs), free(g->off), free(g->len), free(g->arrived), free(g->word), free(g->seen), free(g);
    d->transport_impl = NULL;
}

static const baton_dist_transport mpi_transport = {"mpi", 0, mpi_bucket_start, mpi_buckets_wait, mpi_destroy};

baton_status baton_dist_mpi_transport(baton_dist *d)
{
    mpi_grads *g = calloc(1, sizeof *g);
    BATON_REQUIRE(g, "gradient sum: out of memory");
    g->comm = MPI_COMM_NULL;
    d->transport = &mpi_transport, d->transport_impl = g;
    g->host = strcmp(d->be->ops->name, "cpu") == 0;
    g->arrived = malloc((size_t)d->env.size * sizeof *g->arrived);
    g->word = malloc((size_t)d->env.size * sizeof *g->word);
    g->seen = calloc((size_t)d->env.size, sizeof *g->seen);
    BATON_REQUIRE(g->arrived && g->word && g->seen, "gradient sum: out of memory");
    if (!g->host) {
        g->staging = malloc(d->total * sizeof(float));
        BATON_REQUIRE(g->staging, "gradient sum: cannot allocate %zu bytes of host staging", d->total * sizeof(float));
    }
    return baton_dist_mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &g->comm), "MPI_Comm_dup");
}

#else

baton_status baton_dist_mpi_transport(baton_dist *d)
{
    (void)d;
    return BATON_ERROR(BATON_ERR_UNSUPPORTED, "gradient sum over MPI: this baton was built without Open MPI");
}

#endif

#if !BATON_HAVE_NCCL
baton_status baton_dist_nccl_transport(baton_dist *d)
{
    (void)d;
    return BATON_ERROR(BATON_ERR_UNSUPPORTED, "--dist-transport nccl: this baton was built without NCCL (it needs the "
                       "CUDA backend and nccl.h: -Dnccl=enabled, or -Dnccl_root=DIR for Python's nvidia-nccl package)");
}
#endif
