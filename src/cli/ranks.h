/* ranks.h: a command's side of data-parallel runs (dist.h): joining the launcher's ranks with
 * one voice, and leaving them. */
#ifndef BATON_CLI_RANKS_H
#define BATON_CLI_RANKS_H

#include "baton/dist.h"

/* Joins the launcher's ranks (one process: nothing to join). Every rank but 0 keeps quiet: its
 * stdout and stderr go to /dev/null, and only its error lines, which name the rank, reach the
 * terminal; rank 0's error lines name it too. */
baton_status cli_ranks_join(baton_dist *d, double timeout_s, double bucket_mb);

/* Leaves the ranks: after a failure (st not OK) the whole job is stopped first, since the other
 * ranks would otherwise wait for this one until their deadline. */
void cli_ranks_leave(baton_dist *d, baton_status st);

#endif
