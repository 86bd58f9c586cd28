/* report.c: benchmark tables (report.h). Cells are kept as the strings they will be printed as,
 * so the terminal, CSV and JSON show the same digits. */
#include "baton/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bench.h"

void baton_report_init(baton_report *r, const char *const *cols, int ncol)
{
    memset(r, 0, sizeof *r);
    r->cols = cols;
    r->ncol = ncol;
}

void baton_report_free(baton_report *r)
{
    for (int i = 0; i < r->nrow * r->ncol; i++)
        free(r->cells[i]);
    free(r->cells);
    for (int c = 0; r->own_cols && c < r->ncol; c++)
        free(r->own_cols[c]);
    free(r->own_cols);
    memset(r, 0, sizeof *r);
}

baton_status baton_report_row(baton_report *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->nrow == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        char **cells = realloc(r->cells, (size_t)cap * r->ncol * sizeof *cells);
        if (!cells)
            return BATON_ERROR(BATON_ERR_OOM, "report: out of memory at row %d", r->nrow);
        r->cells = cells;
        r->cap = cap;
    }
    char **row = r->cells + (size_t)r->nrow * r->ncol, *p = line;
    for (int c = 0; c < r->ncol; c++) {
        char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        row[c] = bar || c == r->ncol - 1 ? malloc(n + 1) : NULL;
        if (!row[c]) {
            for (int k = 0; k < c; k++)
                free(row[k]);
            if (bar || c == r->ncol - 1)
                return BATON_ERROR(BATON_ERR_OOM, "report: out of memory");
            return BATON_ERROR(BATON_ERR_FORMAT, "report: row '%s' has %d cells, expected %d", line, c + 1, r->ncol);
        }
        memcpy(row[c], p, n);
        row[c][n] = 0;
        p = bar ? bar + 1 : p + n;
    }
    BATON_REQUIRE(*p == 0 || strchr(line, '|') == NULL, "report: row '%s' has more than %d cells", line, r->ncol);
    r->nrow++;
    return BATON_OK;
}

const char *baton_report_cell(const baton_report *r, int row, const char *col)
{
    for (int c = 0; c < r->ncol; c++)
        if (strcmp(r->cols[c], col) == 0)
            return row >= 0 && row < r->nrow ? r->cells[(size_t)row * r->ncol + c] : NULL;
    return NULL;
}

/* A cell that reads whole as a number (JSON writes it unquoted; tables align it right). */
static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == 0;
}

void baton_report_print(const baton_report *r, FILE *out)
{
    int width[64] = {0};
    int ncol = r->ncol < 64 ? r->ncol : 64;
    for (int c = 0; c < ncol; c++) {
        width[c] = (int)strlen(r->cols[c]);
        for (int i = 0; i < r->nrow; i++) {
            int w = (int)strlen(r->cells[(size_t)i * r->ncol + c]);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (int c = 0; c < ncol; c++)
        fprintf(out, "%s%-*s", c ? "  " : "", width[c], r->cols[c]);
    fputc('\n', out);
    for (int i = 0; i < r->nrow; i++) {
        for (int c = 0; c < ncol; c++) {
            const char *s = r->cells[(size_t)i * r->ncol + c];
            fprintf(out, is_number(s) ? "%s%*s" : "%s%-*s", c ? "  " : "", width[c], s);
        }
        fputc('\n', out);
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* The machine lines without their "# " prefix, as a JSON array. */
static void json_machine(FILE *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fputs("[]", f);
        return;
    }
    baton_bench_machine(m);
    fclose(m);
    fputc('[', f);
    int first = 1;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        fputs(first ? "\n    " : ",\n    ", f);
        json_string(f, strncmp(line, "# ", 2) == 0 ? line + 2 : line);
        first = 0;
    }
    fputs("\n  ]", f);
    free(buf);
}

static void write_json(const baton_report *r, FILE *f)
{
    fputs("{\n  \"machine\": ", f);
    json_machine(f);
    fputs(",\n  \"rows\": [", f);
    for (int i = 0; i < r->nrow; i++) {
        fputs(i ? ",\n    {" : "\n    {", f);
        for (int c = 0; c < r->ncol; c++) {
            const char *s = r->cells[(size_t)i * r->ncol + c];
            fputs(c ? ", " : "", f);
            json_string(f, r->cols[c]);
            fputs(": ", f);
            if (is_number(s))
                fputs(s, f);
            else if (strcmp(s, "-") == 0) /* not measured in this run */
                fputs("null", f);
            else
                json_string(f, s);
        }
        fputc('}', f);
    }
    fputs("\n  ]\n}\n", f);
}

static void write_csv(const baton_report *r, FILE *f)
{
    baton_bench_machine(f);
    for (int c = 0; c < r->ncol; c++)
        fprintf(f, "%s%s", c ? "," : "", r->cols[c]);
    fputc('\n', f);
    for (int i = 0; i < r->nrow; i++)
        for (int c = 0; c < r->ncol; c++) { /* cells are names and numbers: quoting a comma is enough */
            const char *s = r->cells[(size_t)i * r->ncol + c], *q = strchr(s, ',') ? "\"" : "";
            fprintf(f, "%s%s%s%s%s", c ? "," : "", q, s, q, c == r->ncol - 1 ? "\n" : "");
        }
}

baton_status baton_report_write(const baton_report *r, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "report %s: cannot write (%s)", path, strerror(errno));
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0)
        write_json(r, f);
    else
        write_csv(r, f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return BATON_ERROR(BATON_ERR_IO, "report %s: write failed (%s)", path, strerror(errno));
    }
    return BATON_OK;
}

/* Splits a CSV header line into owned column names. */
static baton_status read_header(baton_report *r, char *line, const char *path)
{
    int n = 1;
    for (char *p = line; *p; p++)
        n += *p == ',';
    r->own_cols = calloc((size_t)n, sizeof *r->own_cols);
    if (!r->own_cols)
        return BATON_ERROR(BATON_ERR_OOM, "report %s: out of memory", path);
    r->ncol = n;
    r->cols = (const char *const *)r->own_cols;
    char *save = NULL;
    for (int c = 0; c < n; c++) {
        char *tok = strtok_r(c ? NULL : line, ",", &save);
        r->own_cols[c] = strdup(tok ? tok : "");
        if (!r->own_cols[c])
            return BATON_ERROR(BATON_ERR_OOM, "report %s: out of memory", path);
    }
    return BATON_OK;
}

baton_status baton_report_read_csv(baton_report *r, const char *path)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "report %s: cannot read (%s)", path, strerror(errno));
    char line[4096];
    int lineno = 0;
    baton_status st = BATON_OK;
    while (st == BATON_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#' || line[0] == 0)
            continue;
        if (!r->cols) {
            st = read_header(r, line, path);
            continue;
        }
        int cells = 1;
        for (char *p = line; *p; p++) { /* the cells are names and numbers: commas only separate */
            cells += *p == ',';
            *p = *p == ',' ? '|' : *p == '"' ? ' ' : *p;
        }
        st = cells == r->ncol ? baton_report_row(r, "%s", line)
                              : BATON_ERROR(BATON_ERR_FORMAT, "report %s:%d: %d cells, expected %d (the header's)",
                                            path, lineno, cells, r->ncol);
    }
    fclose(f);
    if (st == BATON_OK && !r->cols)
        st = BATON_ERROR(BATON_ERR_FORMAT, "report %s: no header line; expected a CSV written by baton bench", path);
    return st;
}
