/* options.c: the option table machinery (options.h). */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const cli_opt *cli_opts_find(const cli_opt *opts, const char *name)
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

/* Longest text of a string option: a path (PATH_MAX); quoted and escaped, its config line still
 * fits CLI_LINE_MAX. */
#define CLI_VALUE_MAX 4096
/* Longest config line accepted: options are short; a longer line is not a config file. */
#define CLI_LINE_MAX (2 * CLI_VALUE_MAX + 128)

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
        /* a double beyond float's range would be stored as inf, which config.txt could not read back */
        BATON_REQUIRE(isfinite((float)v), "%s: '%s', expected a number of at most 3.4e38 in magnitude", where, value);
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
        BATON_REQUIRE(strlen(value) <= CLI_VALUE_MAX, "%s: a value of %zu bytes ('%.40s...'), expected at most %d",
                      where, strlen(value), value, CLI_VALUE_MAX);
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
    const cli_opt *o = cli_opts_find(opts, name);
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

/* The text of string options read from config files. Settings structs are copied by value (a
 * model directory's saved settings over the command line's), so they cannot own their strings;
 * the text lives here, reachable, until cli_opts_release. */
static char **kept;
static size_t n_kept, cap_kept;

static char *keep(const char *text)
{
    if (n_kept == cap_kept) {
        size_t cap = cap_kept ? 2 * cap_kept : 16;
        char **grown = realloc(kept, cap * sizeof *grown);
        if (!grown)
            return NULL;
        kept = grown, cap_kept = cap;
    }
    char *copy = strdup(text);
    if (copy)
        kept[n_kept++] = copy;
    return copy;
}

void cli_opts_release(void)
{
    for (size_t i = 0; i < n_kept; i++)
        free(kept[i]);
    free(kept);
    kept = NULL, n_kept = cap_kept = 0;
}

/* A value that cli_opts_write puts in double quotes: one that plain `name = value` would not give
 * back (a '#' would start a comment, blanks at either end would be trimmed, a line break would end
 * the line), or that starts with a quote itself. */
static int needs_quotes(const char *v)
{
    size_t n = strlen(v);
    return n && (v[0] == ' ' || v[0] == '\t' || v[0] == '"' || v[n - 1] == ' ' || v[n - 1] == '\t' ||
                 strpbrk(v, "#\n\r"));
}

/* Unquotes the value that starts at the '"' at s, in place: \\, \", \n and \r are its escapes;
 * after the closing quote only blanks and a # comment may follow. NULL with *why on error. */
static char *unquote(char *s, const char **why)
{
    char *w = s;
    for (char *r = s + 1;; r++) {
        if (*r == '\0' || *r == '\n' || *r == '\r') {
            *why = "a quoted value without its closing '\"'";
            return NULL;
        }
        if (*r == '"') {
            *w = '\0';
            r = trim(r + 1);
            if (*r && *r != '#') {
                *why = "text after a quoted value's closing '\"'";
                return NULL;
            }
            return s;
        }
        if (*r == '\\') {
            r++;
            if (*r != '\\' && *r != '"' && *r != 'n' && *r != 'r') {
                *why = "an escape other than \\\\, \\\", \\n or \\r in a quoted value";
                return NULL;
            }
            *w++ = *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
        } else {
            *w++ = *r;
        }
    }
}

baton_status cli_opts_file(void *base, const cli_opt *opts, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "config file %s: %s", path, strerror(errno));
    char line[CLI_LINE_MAX + 2], where[1100];
    baton_status st = BATON_OK;
    for (int no = 1; st == BATON_OK && fgets(line, sizeof line, f); no++) {
        snprintf(where, sizeof where, "%s:%d", path, no);
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s: a line longer than %d bytes, expected name = value", where,
                             CLI_LINE_MAX);
            break;
        }
        char *hash = strchr(line, '#'), *eq = strchr(line, '=');
        if (hash && (!eq || hash < eq)) /* a comment line, or one that has no '=' before its comment */
            *hash = '\0', eq = NULL;
        char *s = trim(line);
        if (!*s)
            continue;
        if (!eq) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s: '%.60s', expected name = value", where, s);
            break;
        }
        *eq = '\0';
        char *text = eq + 1;
        while (*text == ' ' || *text == '\t')
            text++;
        const char *why = NULL;
        if (*text == '"') {
            text = unquote(text, &why);
        } else {
            if ((hash = strchr(text, '#')) != NULL)
                *hash = '\0';
            text = trim(text);
        }
        if (!text) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s: %s; expected name = value or name = \"value\"", where, why);
            break;
        }
        char *value = keep(text);
        st = value ? cli_opts_set(base, opts, trim(s), value, where)
                   : BATON_ERROR(BATON_ERR_OOM, "%s: out of memory", where);
    }
    if (st == BATON_OK && ferror(f))
        st = BATON_ERROR(BATON_ERR_IO, "config file %s: %s", path, strerror(errno));
    fclose(f);
    return st;
}

/* Edit distance of a and b (Levenshtein), capped at 9: names are short. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 9;
    int row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb] < 9 ? row[lb] : 9;
}

/* The option of cmd nearest to name (at most 2 edits, or name a prefix of it), or NULL. */
static const cli_opt *near_miss(const cli_opt *opts, unsigned cmd, const char *name)
{
    const cli_opt *best = NULL;
    int best_d = 3;
    for (const cli_opt *o = opts; o->name; o++) {
        if (!(o->cmds & cmd))
            continue;
        int d = strncmp(o->name, name, strlen(name)) == 0 ? 1 : distance(o->name, name);
        if (d < best_d)
            best = o, best_d = d;
    }
    return best;
}

/* The commands of mask as "train, demo". */
static const char *command_names(char *buf, size_t n, unsigned mask)
{
    static const char *const names[] = {"train", "demo", "translate", "score", "check"};
    buf[0] = '\0';
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (mask & (1u << i))
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "", names[i]);
    return buf;
}

/* The option a flag names for cmd, or an error saying what was meant. */
static baton_status lookup(const cli_opt **out, const cli_opt *opts, const cli_command *cmd, const char *flag,
                           const char *name)
{
    const cli_opt *o = cli_opts_find(opts, name);
    if (o && (o->cmds & cmd->id)) {
        *out = o;
        return BATON_OK;
    }
    char cmds[80];
    if (o)
        return BATON_ERROR(BATON_ERR_INVALID, "%s: not an option of baton %s (it is one of %s; see baton %s --help)",
                           flag, cmd->name, command_names(cmds, sizeof cmds, o->cmds), cmd->name);
    const cli_opt *near = near_miss(opts, cmd->id, name);
    if (near)
        return BATON_ERROR(BATON_ERR_INVALID, "%s: unknown option of baton %s; did you mean --%s?", flag, cmd->name,
                           near->name);
    return BATON_ERROR(BATON_ERR_INVALID, "%s: unknown option of baton %s (see baton %s --help)", flag, cmd->name,
                       cmd->name);
}

/* Whether text is a boolean value (a bool flag takes it as its value rather than as the next flag). */
static int is_bool_text(const char *text)
{
    return strcmp(text, "true") == 0 || strcmp(text, "false") == 0 || strcmp(text, "1") == 0 ||
           strcmp(text, "0") == 0;
}

/* One flag at argv[*i] (not --config): --name value, --name=value, --flag, --no-flag. */
static baton_status one_flag(void *base, const cli_opt *opts, const cli_command *cmd, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    char name[128];
    const char *eq = strchr(arg, '='), *value = eq ? eq + 1 : NULL;
    size_t len = eq ? (size_t)(eq - arg) - 2 : strlen(arg) - 2;
    BATON_REQUIRE(len < sizeof name, "%.40s...: no option has so long a name", arg);
    memcpy(name, arg + 2, len);
    name[len] = '\0';
    const cli_opt *o = NULL;
    if (strncmp(name, "no-", 3) == 0 && !cli_opts_find(opts, name)) { /* --no-flag */
        const cli_opt *b = cli_opts_find(opts, name + 3);
        if (b && b->type == OPT_BOOL) {
            BATON_REQUIRE(!value, "%s: --no-%s takes no value", arg, b->name);
            BATON_TRY(lookup(&o, opts, cmd, arg, name + 3));
            *(int *)(void *)((char *)base + o->offset) = 0;
            return BATON_OK;
        }
    }
    char flag[140];
    snprintf(flag, sizeof flag, "--%s", name);
    BATON_TRY(lookup(&o, opts, cmd, flag, name));
    if (!value && o->type == OPT_BOOL) {
        if (*i + 1 < argc && is_bool_text(argv[*i + 1]))
            value = argv[++*i];
        else
            value = "true";
    }
    if (!value) {
        BATON_REQUIRE(*i + 1 < argc, "%s: expected a value", flag);
        value = argv[++*i];
    }
    return set_one(base, o, value, flag);
}

baton_status cli_opts_argv(void *base, const cli_opt *opts, const cli_command *cmd, int argc, char **argv,
                           int first, int *help)
{
    *help = 0;
    for (int i = first; i < argc; i++) /* --help and --verbose first: they change how the rest is reported */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            *help = 1;
        else if (strcmp(argv[i], "--verbose") == 0)
            baton_error_show_source(1);
    if (*help)
        return BATON_OK;
    for (int i = first; i < argc; i++) { /* config files, in order, before any flag */
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0) {
            BATON_REQUIRE(i + 1 < argc, "--config: expected a file name");
            BATON_TRY(cli_opts_file(base, opts, argv[++i]));
        } else if (strncmp(arg, "--config=", 9) == 0) {
            BATON_TRY(cli_opts_file(base, opts, arg + 9));
        }
    }
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0 || strcmp(arg, "--verbose") == 0)
            continue;
        BATON_REQUIRE(strncmp(arg, "--", 2) == 0 && arg[2], "'%s': expected a --flag (see baton %s --help)", arg,
                      cmd->name);
        BATON_TRY(one_flag(base, opts, cmd, argc, argv, &i));
    }
    return BATON_OK;
}

const char *cli_opts_text(char *buf, size_t n, const void *base, const cli_opt *o)
{
    const char *slot = (const char *)base + o->offset;
    switch (o->type) {
    case OPT_INT: snprintf(buf, n, "%d", *(const int *)(const void *)slot); break;
    case OPT_FLOAT: { /* the shortest text that reads back as the same float: 0.1, not 0.100000001 */
        float v = *(const float *)(const void *)slot;
        char text[32];
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(text, sizeof text, "%.*g", prec, (double)v);
            if (strtof(text, NULL) == v)
                break;
        }
        snprintf(buf, n, "%s", text);
        break;
    }
    case OPT_BOOL: snprintf(buf, n, "%s", *(const int *)(const void *)slot ? "true" : "false"); break;
    case OPT_STR: {
        const char *v = *(const char *const *)(const void *)slot;
        snprintf(buf, n, "%s", v ? v : "");
        break;
    }
    }
    return buf;
}

int cli_opts_equal(const void *a, const void *b, const cli_opt *o)
{
    if (o->type == OPT_STR) { /* whole strings: cli_opts_text would cut long ones */
        const char *x = *(const char *const *)(const void *)((const char *)a + o->offset);
        const char *y = *(const char *const *)(const void *)((const char *)b + o->offset);
        return strcmp(x ? x : "", y ? y : "") == 0;
    }
    char x[512], y[512];
    return strcmp(cli_opts_text(x, sizeof x, a, o), cli_opts_text(y, sizeof y, b, o)) == 0;
}

void cli_opts_help(FILE *out, const void *base, const cli_opt *opts, const cli_command *cmd)
{
    fprintf(out, "%s\n", cmd->usage);
    const char *groups[16];
    int n = 0;
    for (const cli_opt *o = opts; o->name; o++) { /* the groups in table order, each once */
        int seen = 0;
        for (int g = 0; g < n; g++)
            seen |= strcmp(groups[g], o->group) == 0;
        if (!seen && (o->cmds & cmd->id) && n < 16)
            groups[n++] = o->group;
    }
    for (int g = 0; g < n; g++) {
        fprintf(out, "\n%s:\n", groups[g]);
        for (const cli_opt *o = opts; o->name; o++) {
            if (!(o->cmds & cmd->id) || strcmp(o->group, groups[g]) != 0)
                continue;
            char flag[64], value[256];
            snprintf(flag, sizeof flag, "--%s%s", o->name, o->type == OPT_BOOL ? "" : " X");
            fprintf(out, "  %-24s %s", flag, o->help);
            if (o->choices)
                fprintf(out, " (%s)", o->choices);
            cli_opts_text(value, sizeof value, base, o);
            if (o->type == OPT_BOOL || value[0])
                fprintf(out, " [%s]", value);
            fputc('\n', out);
        }
    }
    fprintf(out, "\nevery command:\n");
    fprintf(out, "  %-24s %s\n", "--config FILE", "read name = value lines (the command line wins over them)");
    fprintf(out, "  %-24s %s\n", "--verbose", "add baton's source position to error lines");
    fprintf(out, "  %-24s %s\n", "--help", "this list; --name=value works too, and --no-NAME for a boolean");
}

void cli_opts_write(FILE *out, const void *base, const cli_opt *opts, unsigned cmds)
{
    char value[512];
    for (const cli_opt *o = opts; o->name; o++) {
        if (!(o->cmds & cmds))
            continue;
        if (o->type != OPT_STR) {
            fprintf(out, "%s = %s\n", o->name, cli_opts_text(value, sizeof value, base, o));
            continue;
        }
        const char *v = *(const char *const *)(const void *)((const char *)base + o->offset);
        if (!v)
            continue;
        if (!needs_quotes(v)) { /* the whole string, however long: cli_opts_text would cut it */
            fprintf(out, "%s = %s\n", o->name, v);
            continue;
        }
        fprintf(out, "%s = \"", o->name);
        for (const char *p = v; *p; p++) {
            if (*p == '\\' || *p == '"')
                fputc('\\', out);
            fputs(*p == '\n' ? "\\n" : *p == '\r' ? "\\r" : (char[2]){*p, '\0'}, out);
        }
        fputs("\"\n", out);
    }
}
