/* options.h: one table describes a command's options; the same table parses flags (--name value,
 * --flag for booleans), config files (name = value per line, # comments), prints --help, and writes
 * the settings back out as a config file. Every bad value gets one line naming the flag or the
 * file:line and what was expected. */
#ifndef BATON_CLI_OPTIONS_H
#define BATON_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "baton/status.h"

typedef enum { OPT_INT, OPT_FLOAT, OPT_STR, OPT_BOOL } opt_type;

typedef struct {
    const char *name;    /* without the leading -- */
    opt_type type;
    size_t offset;       /* into the settings struct */
    const char *def;     /* default as text; NULL: none (strings) */
    const char *choices; /* comma list of accepted strings, or NULL */
    const char *help;
} cli_opt;

#define CLI_OPT_END {NULL, OPT_INT, 0, NULL, NULL, NULL}

/* Sets every option of the table to its default. */
void cli_opts_defaults(void *base, const cli_opt *opts);

/* Sets option `name` from text; `where` names the source in errors ("--lr", "run.cfg:3"). */
baton_status cli_opts_set(void *base, const cli_opt *opts, const char *name, const char *value, const char *where);

/* Reads name = value lines from path. */
baton_status cli_opts_file(void *base, const cli_opt *opts, const char *path);

/* Parses argv[first..argc); --config FILE is read where it stands, so later flags override it.
 * Sets *help when --help is given. */
baton_status cli_opts_argv(void *base, const cli_opt *opts, int argc, char **argv, int first, int *help);

/* Prints the options with their defaults and help. */
void cli_opts_help(FILE *out, const cli_opt *opts);

/* Writes the current settings as a config file (name = value). */
void cli_opts_write(FILE *out, const void *base, const cli_opt *opts);

#endif
