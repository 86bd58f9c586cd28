/* train_loop.h: the loop of `baton train` over a prepared trainer and data: validation, the best
 * model, plateau decay, early stopping, checkpoints and resuming from them. */
#ifndef BATON_CLI_TRAIN_LOOP_H
#define BATON_CLI_TRAIN_LOOP_H

#include "baton/checkpoint.h"
#include "baton/progress.h"
#include "baton/trainer.h"
#include "settings.h"
#include "train_data.h"

typedef struct {
    double *xyz; /* (n, 3): step, loss, BLEU (-1: none) */
    int n, cap;
} train_curve;

typedef struct {
    const cli_settings *s;
    train_data *td;
    baton_trainer *tr;
    baton_progress *p;
    long max_steps;     /* the --steps limit (none with --epochs alone: LONG_MAX) */
    long step;          /* updates done */
    int epoch;          /* epochs finished */
    double best;        /* best validation score by --keep-best, larger is better (NAN: none yet) */
    long best_step;     /* the step model.safetensors holds (--keep-best bleu or loss) */
    double best_stop;   /* best validation score by --stop-on, larger is better (NAN: none yet) */
    long bad;           /* validations since best_stop */
    double lr_scale;    /* product of plateau decays */
    float base_lr;      /* --lr */
    int interrupted;    /* the signal (SIGINT, SIGTERM) that stopped the run after saving, or 0 */
    train_curve train_curve, dev_curve;
    /* faults (docs/faults.md) */
    long skipped;       /* steps skipped for a non-finite loss or gradient norm, resumed runs' included */
    long bad_run;       /* of them, the run of consecutive ones that the last reported step ends */
    long saved_step;    /* the step checkpoint.safetensors holds on disk (-1: none written or read) */
    int save_owed;      /* a checkpoint fell due at a skipped step or could not be written: the next
                         * good step that is due writes one */
    float *pending_best;   /* host weights of a best model that could not be written (a full disk), or NULL */
    long pending_best_step;
    const char *pending_why;
    struct { long from, to; baton_fault kind; } faults[32]; /* the test hook's poisoned steps */
    int n_faults;
    /* data parallel (dist.h): every rank runs this loop in step; rank 0 alone writes files */
    baton_dist *dist;   /* NULL or one process: alone */
    int signalled;      /* a rank got SIGINT or SIGTERM: agreed at each step's exchange, so all stop together */
} train_loop;

/* Trains until --steps, --epochs or early stopping, or a signal, and says which ended it;
 * validates at the end; saves the checkpoint, model.safetensors (per --keep-best) and loss.png. */
baton_status train_loop_run(train_loop *L);

/* Writes DIR/checkpoint.safetensors: weights, moments, counters, data position, curves. */
baton_status train_loop_save(train_loop *L);

/* Restores what train_loop_save wrote into the trainer, the data stream and L. */
baton_status train_loop_resume(train_loop *L);

/* Reads the fault-injection hook (BATON_FAULT_NAN_STEPS, BATON_FAULT_INF_LOSS_STEPS: docs/faults.md)
 * into L and turns the trainer's hook on when either is set; call before the first step. */
baton_status train_loop_faults(train_loop *L);

/* Appends the point (x, y, z) to c. */
baton_status train_curve_add(train_curve *c, double x, double y, double z);

/* Draws the curves into DIR/loss.png (a line on stderr says where, or why not). */
void train_loop_plot(const train_loop *L);

/* Takes validation (loss, bleu) at `step` into the best scores, as a validation and a resume do;
 * returns 1 when it is the best by --keep-best. */
int train_loop_track(train_loop *L, long step, double loss, double bleu);

/* Frees the curves. */
void train_loop_free(train_loop *L);

#endif
