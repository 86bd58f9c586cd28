/* options.h: one table describes every option of the commands; the same table parses flags
 * (--name value, --name=value, --flag and --no-flag for booleans), config files (name = value per
 * line, # comments), prints each command's --help (its options, grouped, with defaults), and writes
 * the settings back out as a config file. Every bad value gets one line naming the flag or the
 * file:line and what was expected; an option that does not apply to the command, or a near-miss
 * of one that does, is named with what was meant. */
#ifndef BATON_CLI_OPTIONS_H
#define BATON_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "baton/status.h"

typedef enum { OPT_INT, OPT_FLOAT, OPT_STR, OPT_BOOL } opt_type;

/* The commands an option applies to (cli_opt.cmds, a mask). */
enum {
    CLI_TRAIN = 1u << 0,
    CLI_DEMO = 1u << 1,
    CLI_TRANSLATE = 1u << 2,
    CLI_SCORE = 1u << 3,
    CLI_CHECK = 1u << 4,
};

typedef struct {
    const char *name;    /* without the leading -- */
    opt_type type;
    size_t offset;       /* into the settings struct */
    const char *def;     /* default as text; NULL: none (strings) */
    const char *choices; /* comma list of accepted strings, or NULL */
    const char *help;
    const char *group;   /* its heading in --help ("model", "data", ...) */
    unsigned cmds;       /* CLI_* commands that take it */
    int shapes;          /* 1: it shapes the trained model (sizes, cell, vocabularies): fixed once trained */
} cli_opt;

#define CLI_OPT_END {NULL, OPT_INT, 0, NULL, NULL, NULL, NULL, 0, 0}

/* A command as the parser sees it: its name and bit, and what --help prints before the options. */
typedef struct {
    const char *name;  /* "train" */
    unsigned id;       /* CLI_TRAIN */
    const char *usage; /* the lines --help prints first */
} cli_command;

/* Sets every option of the table to its default. */
void cli_opts_defaults(void *base, const cli_opt *opts);

/* Sets option `name` from text; `where` names the source in errors ("--lr", "run.cfg:3"). */
baton_status cli_opts_set(void *base, const cli_opt *opts, const char *name, const char *value, const char *where);

/* Reads name = value lines from path (any option of the table: one file serves every command). The
 * text of string options stays valid until cli_opts_release. */
baton_status cli_opts_file(void *base, const cli_opt *opts, const char *path);

/* Frees the text of every string option read from config files; settings that point there are
 * stale afterwards (call at exit). */
void cli_opts_release(void);

/* Parses argv[first..argc) for command cmd. Every --config FILE is read first, in order, then the
 * other flags, so the command line beats a config file wherever they stand. --verbose adds baton's
 * own source positions to error lines. Sets *help when --help is given. */
baton_status cli_opts_argv(void *base, const cli_opt *opts, const cli_command *cmd, int argc, char **argv,
                           int first, int *help);

/* Prints cmd's usage, then its options by group with their defaults (shown: the values in base). */
void cli_opts_help(FILE *out, const void *base, const cli_opt *opts, const cli_command *cmd);

/* Writes the current settings as a config file (name = value), the options of cmds only. */
void cli_opts_write(FILE *out, const void *base, const cli_opt *opts, unsigned cmds);

/* The option called name, or NULL. */
const cli_opt *cli_opts_find(const cli_opt *opts, const char *name);

/* Whether the option's value in a and b is the same. */
int cli_opts_equal(const void *a, const void *b, const cli_opt *o);

/* The option's value in base as text, into buf (n bytes); returns buf. */
const char *cli_opts_text(char *buf, size_t n, const void *base, const cli_opt *o);

#endif
