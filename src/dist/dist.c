/* dist.c: joining the ranks, and the host exchanges with their deadlines (dist.h).
 *
 * An exchange gathers every rank's few numbers at rank 0, which sends the whole table back: 2(N-1)
 * messages, where an all-to-all would send N(N-1). Rank 0 waits for each rank with the deadline
 * and so can name the ones that did not come; the others wait for rank 0 a little longer than the
 * deadline, so that rank 0's line, which names the late rank, comes first. A rank that gives up
 * prints its line and calls MPI_Abort, which the launcher turns into the end of every rank.
 * Waits poll MPI_Test with a short sleep rather than block in MPI_Wait, because a blocking wait has
 * no deadline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baton/dist.h"
#include "baton_config.h"
#include "dist_internal.h"

#if BATON_HAVE_MPI
#include <mpi.h>
#endif

double baton_dist_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void baton_dist_pause(int polls)
{
    /* the first polls spin (a reply within microseconds is common), then sleep up to 1 ms */
    if (polls < 64)
        return;
    struct timespec ts = {0, polls < 1024 ? 50000 : 1000000};
    nanosleep(&ts, NULL);
}

int baton_dist_single(const baton_dist *d)
{
    return !d || d->env.size == 1;
}

int baton_dist_leader(const baton_dist *d)
{
    return !d || d->env.rank == 0;
}

unsigned long long baton_dist_checksum(const float *x, size_t n)
{
    const unsigned char *p = (const unsigned char *)x;
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < n * sizeof(float); i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

#if BATON_HAVE_MPI

/* The exchanges' own communicator, apart from the gradient transport's. */
static MPI_Comm host_comm(const baton_dist *d)
{
    return *(const MPI_Comm *)d->host_comm;
}

baton_status baton_dist_mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return BATON_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return BATON_ERROR(BATON_ERR_IO, "%s: MPI error: %s", what, text);
}

static baton_status mpi_join(baton_dist *d)
{
    int inited = 0, provided = 0, size = 0, rank = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        BATON_TRY(baton_dist_mpi_check(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "MPI_Init"));
        d->mpi_inited = 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    BATON_REQUIRE(size == d->env.size && rank == d->env.rank,
                  "%s announced rank %d of %d, but MPI sees rank %d of %d: start baton with the launcher of the MPI it "
                  "was built with (Open MPI's mpirun, or srun --mpi=pmix)", d->env.launcher, d->env.rank, d->env.size,
                  rank, size);
    MPI_Comm *comm = malloc(sizeof *comm);
    BATON_REQUIRE(comm, "MPI: out of memory");
    d->host_comm = comm;
    return baton_dist_mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, comm), "MPI_Comm_dup");
}

/* Waits for n requests until the deadline; *late[i] = 1 for each one not complete then. Returns
 * the count not complete. */
static int wait_until(MPI_Request *reqs, int n, double deadline, int *late)
{
    int left = n;
    for (int polls = 0; left > 0; polls++) {
        left = 0;
        for (int i = 0; i < n; i++) {
            int done = 1;
            if (reqs[i] != MPI_REQUEST_NULL)
                MPI_Test(&reqs[i], &done, MPI_STATUS_IGNORE);
            late[i] = !done;
            left += !done;
        }
        if (left == 0 || baton_dist_now() > deadline)
            break;
        baton_dist_pause(polls);
    }
    return left;
}

double baton_dist_peer_deadline(const baton_dist *d)
{
    /* the others wait for rank 0 longer than rank 0 waits for them: its line names the late rank */
    return baton_dist_now() + d->timeout_s + 5.0 + 0.1 * d->timeout_s;
}

void baton_dist_give_up(baton_dist *d, const char *line)
{
    FILE *err = baton_error_stream();
    fprintf(err, "baton: error: rank %d of %d: %s; stopping every rank (the last checkpoint on disk stays as it "
            "was)\n", d->env.rank, d->env.size, line);
    fflush(err);
    MPI_Abort(MPI_COMM_WORLD, 3);
    exit(3);
}

static void leader_gather(baton_dist *d, const char *what, int tag, const double *mine, int n, double *all)
{
    int N = d->env.size;
    MPI_Request *reqs = malloc((size_t)N * sizeof *reqs);
    int *late = malloc((size_t)N * sizeof *late);
    if (!reqs || !late)
        baton_dist_give_up(d, "out of memory for an exchange");
    reqs[0] = MPI_REQUEST_NULL;
    memcpy(all, mine, (size_t)n * sizeof *all);
    for (int r = 1; r < N; r++)
        MPI_Irecv(all + (size_t)r * n, n, MPI_DOUBLE, r, tag, host_comm(d), &reqs[r]);
    if (wait_until(reqs, N, baton_dist_now() + d->timeout_s, late) > 0) {
        char line[512];
        int len = snprintf(line, sizeof line, "%s: no word from rank", what);
        for (int r = 1, k = 0; r < N && len < (int)sizeof line - 32; r++)
            if (late[r])
                len += snprintf(line + len, sizeof line - len, "%s %d", k++ ? "," : "", r);
        snprintf(line + len, sizeof line - len, " within --dist-timeout %g s (it died, hangs, or stopped early)",
                 d->timeout_s);
        baton_dist_give_up(d, line);
    }
    free(reqs), free(late);
}

baton_status baton_dist_gather(baton_dist *d, const char *what, const double *mine, int n, double *all)
{
    if (baton_dist_single(d)) {
        memcpy(all, mine, (size_t)n * sizeof *all);
        return BATON_OK;
    }
    int tag = (int)(d->exchanges++ % 30000), N = d->env.size;
    if (d->env.rank == 0)
        leader_gather(d, what, tag, mine, n, all);
    else {
        MPI_Request req;
        int late;
        MPI_Isend(mine, n, MPI_DOUBLE, 0, tag, host_comm(d), &req);
        if (wait_until(&req, 1, baton_dist_peer_deadline(d), &late) > 0) {
            char line[400];
            snprintf(line, sizeof line, "%s: rank 0 took no word from this rank within --dist-timeout %g s (rank 0 "
                     "died or hangs)", what, d->timeout_s);
            baton_dist_give_up(d, line);
        }
    }
    MPI_Request req;
    int late;
    MPI_Ibcast(all, n * N, MPI_DOUBLE, 0, host_comm(d), &req);
    if (wait_until(&req, 1, baton_dist_peer_deadline(d), &late) > 0) {
        char line[400];
        snprintf(line, sizeof line, "%s: no answer from rank 0 within --dist-timeout %g s (rank 0 died or hangs)",
                 what, d->timeout_s);
        baton_dist_give_up(d, line);
    }
    return BATON_OK;
}

baton_status baton_dist_bcast(baton_dist *d, const char *what, void *buf, size_t n)
{
    if (baton_dist_single(d))
        return BATON_OK;
    BATON_REQUIRE(n <= (size_t)1 << 30, "%s: %zu bytes, more than one broadcast carries", what, n);
    MPI_Request req;
    int late;
    BATON_TRY(baton_dist_mpi_check(MPI_Ibcast(buf, (int)n, MPI_BYTE, 0, host_comm(d), &req), what));
    double deadline = d->env.rank == 0 ? baton_dist_now() + d->timeout_s : baton_dist_peer_deadline(d);
    if (wait_until(&req, 1, deadline, &late) > 0) {
        char line[400];
        snprintf(line, sizeof line, "%s: the broadcast from rank 0 did not complete within --dist-timeout %g s (a rank "
                 "died or hangs)", what, d->timeout_s);
        baton_dist_give_up(d, line);
    }
    return BATON_OK;
}

void baton_dist_abort(baton_dist *d, int code)
{
    if (baton_dist_single(d))
        return;
    fflush(baton_error_stream());
    MPI_Abort(MPI_COMM_WORLD, code);
}

static void mpi_leave(baton_dist *d)
{
    if (d->host_comm) {
        MPI_Comm_free((MPI_Comm *)d->host_comm);
        free(d->host_comm);
    }
    if (d->mpi_inited)
        MPI_Finalize();
}

#else /* no MPI in this build: one process */

static baton_status mpi_join(baton_dist *d)
{
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "%s started this process as rank %d of %d, but this baton was built without Open MPI: install "
                       "libopenmpi-dev and configure with -Dmpi=enabled (README, 'Several GPUs and machines')",
                       d->env.launcher, d->env.rank, d->env.size);
}

baton_status baton_dist_gather(baton_dist *d, const char *what, const double *mine, int n, double *all)
{
    (void)d, (void)what;
    memcpy(all, mine, (size_t)n * sizeof *all);
    return BATON_OK;
}

baton_status baton_dist_bcast(baton_dist *d, const char *what, void *buf, size_t n)
{
    (void)d, (void)what, (void)buf, (void)n;
    return BATON_OK;
}

void baton_dist_abort(baton_dist *d, int code)
{
    (void)d, (void)code;
}

static void mpi_leave(baton_dist *d)
{
    (void)d;
}

#endif

baton_status baton_dist_init(baton_dist *d, double timeout_s, double bucket_mb)
{
    memset(d, 0, sizeof *d);
    BATON_REQUIRE(timeout_s > 0 && isfinite(timeout_s), "--dist-timeout %g: expected seconds > 0", timeout_s);
    BATON_REQUIRE(bucket_mb > 0 && bucket_mb <= 4096, "--bucket-mb %g: expected 0 < MB <= 4096", bucket_mb);
    d->timeout_s = timeout_s;
    d->bucket_floats = (size_t)(bucket_mb * 1048576.0 / sizeof(float));
    if (d->bucket_floats == 0)
        d->bucket_floats = 1;
    BATON_TRY(baton_dist_env_read(&d->env));
    return d->env.size > 1 ? mpi_join(d) : BATON_OK;
}

void baton_dist_finalize(baton_dist *d)
{
    if (d->transport)
        d->transport->destroy(d);
    d->transport = NULL;
    mpi_leave(d);
    memset(d, 0, sizeof *d);
}

baton_status baton_dist_sum(baton_dist *d, const char *what, const double *mine, int n, double *sum)
{
    if (baton_dist_single(d)) {
        if (sum != mine)
            memmove(sum, mine, (size_t)n * sizeof *sum);
        return BATON_OK;
    }
    int N = d->env.size;
    double *all = malloc((size_t)N * n * sizeof *all);
    BATON_REQUIRE(all, "%s: out of memory", what);
    baton_status st = baton_dist_gather(d, what, mine, n, all);
    for (int i = 0; st == BATON_OK && i < n; i++) {
        double s = 0.0;
        for (int r = 0; r < N; r++)
            s += all[(size_t)r * n + i];
        sum[i] = s;
    }
    free(all);
    return st;
}

baton_status baton_dist_barrier(baton_dist *d, const char *what, double wait_s)
{
    if (baton_dist_single(d))
        return BATON_OK;
    double keep = d->timeout_s, one = 1.0, all;
    d->timeout_s = wait_s > 0 ? wait_s : 1e9;
    baton_status st = baton_dist_sum(d, what, &one, 1, &all);
    d->timeout_s = keep;
    return st;
}

baton_status baton_dist_check_weights(baton_dist *d, const float *weights, size_t n, long step)
{
    if (baton_dist_single(d))
        return BATON_OK;
    unsigned long long h = baton_dist_checksum(weights, n);
    double mine[2] = {(double)(h >> 32), (double)(h & 0xffffffffULL)}, *all = malloc(2 * sizeof(double) * d->env.size);
    BATON_REQUIRE(all, "weight check: out of memory");
    char what[64];
    snprintf(what, sizeof what, "step %ld's weight checksums", step);
    baton_status st = baton_dist_gather(d, what, mine, 2, all);
    char bad[256] = "";
    int len = 0;
    for (int r = 1; st == BATON_OK && r < d->env.size && len < (int)sizeof bad - 16; r++)
        if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
            len += snprintf(bad + len, sizeof bad - len, "%s%d", len ? ", " : "", r);
    unsigned long long h0 = st == BATON_OK ? (unsigned long long)all[0] << 32 | (unsigned long long)all[1] : 0;
    free(all);
    BATON_TRY(st);
    BATON_REQUIRE(len == 0, "step %ld: the weights of rank %s differ from rank 0's (checksum %016llx): the ranks no "
                  "longer train one model (a fault in memory, a device, or the reduction); stopping (--check-every)",
                  step, bad, h0);
    return BATON_OK;
}
