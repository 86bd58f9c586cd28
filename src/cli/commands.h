/* commands.h: the subcommands of the baton program; each parses its own flags (argv[2..]) and
 * returns the process exit status (0 ok, 1 failure, 2 bad usage). */
#ifndef BATON_CLI_COMMANDS_H
#define BATON_CLI_COMMANDS_H

#include "settings.h"

/* baton train */
int cli_train(int argc, char **argv);
/* Runs training with settings already parsed and checked (the demo's first half); returns the
 * exit status: 0, 1 on failure, 128 + the signal that stopped it after saving a checkpoint. */
int cli_train_run(const cli_settings *s);
/* baton translate */
int cli_translate(int argc, char **argv);
/* baton score */
int cli_score(int argc, char **argv);
/* baton check: fused kernels against cuDNN (or the CPU) */
int cli_check(int argc, char **argv);
/* baton bench: layer, attention and training-step benchmarks */
int cli_bench(int argc, char **argv);
/* baton bleu: sacreBLEU-equal corpus BLEU and chrF of two files */
int cli_bleu(int argc, char **argv);
/* baton demo */
int cli_demo(int argc, char **argv);

#endif
