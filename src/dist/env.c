/* env.c: where this process stands among the launcher's ranks, from the launcher's environment
 * (dist.h). No MPI here: a plain run reads nothing and is rank 0 of 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/dist.h"

/* *out = the integer in variable `name` (absent: *out untouched, *found 0). */
static baton_status env_int(const char *name, int lo, int *out, int *found)
{
    const char *text = getenv(name);
    *found = text && *text;
    if (!*found)
        return BATON_OK;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    BATON_REQUIRE(errno == 0 && end != text && *end == 0 && v >= lo && v <= 1 << 24,
                  "environment variable %s=%s: expected a whole number from %d to %d (set by the launcher: mpirun or "
                  "srun)", name, text, lo, 1 << 24);
    *out = (int)v;
    return BATON_OK;
}

/* Slurm's SLURM_TASKS_PER_NODE is "4", "4(x2)" or "4(x2),3": this node's count is not in it for
 * uneven lists, so only its first number is taken, as the even case. */
static int slurm_local_size(int fallback)
{
    int n, found;
    if (env_int("SLURM_NTASKS_PER_NODE", 1, &n, &found) == BATON_OK && found)
        return n;
    const char *text = getenv("SLURM_TASKS_PER_NODE");
    long v = text ? strtol(text, NULL, 10) : 0;
    return v > 0 && v <= 1 << 24 ? (int)v : fallback;
}

/* Reads rank, size and local rank from one launcher's variables; *found 0 when its rank is unset. */
static baton_status read_set(baton_dist_env *e, const char *launcher, const char *rank, const char *size,
                             const char *local_rank, int *found)
{
    int have_size, have_local;
    BATON_TRY(env_int(rank, 0, &e->rank, found));
    if (!*found)
        return BATON_OK;
    BATON_TRY(env_int(size, 1, &e->size, &have_size));
    BATON_REQUIRE(have_size, "environment variable %s=%d is set but %s is not: expected both from %s", rank, e->rank,
                  size, launcher);
    BATON_REQUIRE(e->rank < e->size, "environment variables %s=%d, %s=%d: the rank must be below the size", rank,
                  e->rank, size, e->size);
    BATON_TRY(env_int(local_rank, 0, &e->local_rank, &have_local));
    if (!have_local)
        e->local_rank = e->rank;
    snprintf(e->launcher, sizeof e->launcher, "%s", launcher);
    return BATON_OK;
}

baton_status baton_dist_env_read(baton_dist_env *e)
{
    *e = (baton_dist_env){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1};
    snprintf(e->launcher, sizeof e->launcher, "none");
    int found, have;
    BATON_TRY(read_set(e, "mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                       &found));
    if (found) {
        BATON_TRY(env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1, &e->local_size, &have));
        if (!have)
            e->local_size = e->size;
    } else if (getenv("SLURM_STEP_ID") || getenv("SLURM_STEPID")) {
        /* a job step started by srun; a batch script's own shell has SLURM_PROCID too, and is one process */
        BATON_TRY(read_set(e, "srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", &found));
        if (found)
            e->local_size = slurm_local_size(e->size);
    }
    if (!found) {
        BATON_TRY(read_set(e, "a PMI launcher", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", &found));
        if (found)
            e->local_size = e->size;
    }
    BATON_REQUIRE(e->local_rank < e->local_size || e->local_size == 0,
                  "launcher %s: local rank %d of %d on this machine: expected a local rank below the local size",
                  e->launcher, e->local_rank, e->local_size);
    return BATON_OK;
}
