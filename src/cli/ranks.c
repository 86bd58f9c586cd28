/* ranks.c: joining and leaving the ranks of a data-parallel run (ranks.h). */
#include "ranks.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

baton_status cli_ranks_join(baton_dist *d, double timeout_s, double bucket_mb)
{
    BATON_TRY(baton_dist_init(d, timeout_s, bucket_mb));
    if (baton_dist_single(d))
        return BATON_OK;
    /* a rank whose launcher went away must not die of a log line before it can save */
    signal(SIGPIPE, SIG_IGN);
    char prefix[48];
    snprintf(prefix, sizeof prefix, "rank %d of %d: ", d->env.rank, d->env.size);
    if (baton_dist_leader(d)) {
        baton_error_route(NULL, prefix);
        return BATON_OK;
    }
    int keep = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    FILE *err = keep >= 0 ? fdopen(keep, "w") : NULL;
    BATON_REQUIRE(err && null >= 0, "rank %d: cannot set up its quiet output", d->env.rank);
    setvbuf(err, NULL, _IOLBF, 0);
    fflush(stdout), fflush(stderr);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
    baton_error_route(err, prefix);
    return BATON_OK;
}

void cli_ranks_leave(baton_dist *d, baton_status st)
{
    if (st != BATON_OK)
        baton_dist_abort(d, 1);
    baton_dist_finalize(d);
}
