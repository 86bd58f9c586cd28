/* options.c: the option table machinery (options.h). */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt *find(const cli_opt *opts, const char *name)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

/* Whether value is one of the comma-separated choices. */
static int in_choices(const char *choices, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = choices; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return 1;
        p = end ? end + 1 : p + len;
    }
    return 0;
}

static baton_status set_one(void *base, const cli_opt *o, const char *value, const char *where)
{
    char *slot = (char *)base + o->offset, *end;
    errno = 0;
    switch (o->type) {
    case OPT_INT: {
        long v = strtol(value, &end, 10);
        BATON_REQUIRE(end != value && *end == '\0' && errno == 0 && v >= INT_MIN && v <= INT_MAX,
                      "%s: '%s', expected an integer", where, value);
        *(int *)(void *)slot = (int)v;
        return BATON_OK;
    }
    case OPT_FLOAT: {
        double v = strtod(value, &end);
        BATON_REQUIRE(end != value && *end == '\0' && errno == 0 && isfinite(v), "%s: '%s', expected a number",
                      where, value);
        *(float *)(void *)slot = (float)v;
        return BATON_OK;
    }
    case OPT_BOOL:
        BATON_REQUIRE(strcmp(value, "true") == 0 || strcmp(value, "false") == 0 || strcmp(value, "1") == 0 ||
                          strcmp(value, "0") == 0,
                      "%s: '%s', expected true or false", where, value);
        *(int *)(void *)slot = value[0] == 't' || value[0] == '1';
        return BATON_OK;
    case OPT_STR:
        BATON_REQUIRE(!o->choices || in_choices(o->choices, value), "%s: '%s', expected one of %s", where, value,
                      o->choices);
        *(const char **)(void *)slot = value;
        return BATON_OK;
    }
    return BATON_ERROR(BATON_ERR_INVALID, "%s: unknown option type", where);
}

void cli_opts_defaults(void *base, const cli_opt *opts)
{
    for (const cli_opt *o = opts; o->name; o++) {
        if (o->def)
            set_one(base, o, o->def, o->name);
        else if (o->type == OPT_STR)
            *(const char **)(void *)((char *)base + o->offset) = NULL;
    }
}

baton_status cli_opts_set(void *base, const cli_opt *opts, const char *name, const char *value, const char *where)
{
    const cli_opt *o = find(opts, name);
    BATON_REQUIRE(o != NULL, "%s: unknown option '%s' (see --help)", where, name);
    return set_one(base, o, value, where);
}

/* Strips leading and trailing blanks in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

baton_status cli_opts_file(void *base, const cli_opt *opts, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "config file %s: %s", path, strerror(errno));
    char line[1024], where[1100];
    baton_status st = BATON_OK;
    for (int no = 1; st == BATON_OK && fgets(line, sizeof line, f); no++) {
        snprintf(where, sizeof where, "%s:%d", path, no);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s: '%s', expected name = value", where, s);
            break;
        }
        *eq = '\0';
        /* string options keep a pointer: the value must outlive this buffer */
        char *value = strdup(trim(eq + 1));
        st = value ? cli_opts_set(base, opts, trim(s), value, where)
                   : BATON_ERROR(BATON_ERR_OOM, "%s: out of memory", where);
    }
    fclose(f);
    return st;
}

baton_status cli_opts_argv(void *base, const cli_opt *opts, int argc, char **argv, int first, int *help)
{
    *help = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            return BATON_OK;
        }
        BATON_REQUIRE(strncmp(arg, "--", 2) == 0 && arg[2], "'%s': expected a --flag (see --help)", arg);
        const char *name = arg + 2;
        if (strcmp(name, "config") == 0) {
            BATON_REQUIRE(i + 1 < argc, "--config: expected a file name");
            BATON_TRY(cli_opts_file(base, opts, argv[++i]));
            continue;
        }
        const cli_opt *o = find(opts, name);
        BATON_REQUIRE(o != NULL, "%s: unknown flag (see --help)", arg);
        if (o->type == OPT_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            *(int *)(void *)((char *)base + o->offset) = 1;
            continue;
        }
        BATON_REQUIRE(i + 1 < argc, "%s: expected a value", arg);
        BATON_TRY(set_one(base, o, argv[++i], arg));
    }
    return BATON_OK;
}

void cli_opts_help(FILE *out, const cli_opt *opts)
{
    for (const cli_opt *o = opts; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", o->name, o->type == OPT_BOOL ? "" : " X");
        fprintf(out, "  %-24s %s", flag, o->help);
        if (o->choices)
            fprintf(out, " (%s)", o->choices);
        if (o->def)
            fprintf(out, " [%s]", o->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-24s %s\n", "--config FILE", "read name = value lines; later flags override them");
}

void cli_opts_write(FILE *out, const void *base, const cli_opt *opts)
{
    for (const cli_opt *o = opts; o->name; o++) {
        const char *slot = (const char *)base + o->offset;
        switch (o->type) {
        case OPT_INT: fprintf(out, "%s = %d\n", o->name, *(const int *)(const void *)slot); break;
        case OPT_FLOAT: fprintf(out, "%s = %.9g\n", o->name, (double)*(const float *)(const void *)slot); break;
        case OPT_BOOL: fprintf(out, "%s = %s\n", o->name, *(const int *)(const void *)slot ? "true" : "false"); break;
        case OPT_STR: {
            const char *v = *(const char *const *)(const void *)slot;
            if (v)
                fprintf(out, "%s = %s\n", o->name, v);
            break;
        }
        }
    }
}
