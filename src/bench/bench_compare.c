/* bench_compare.c: `baton bench compare`: train reports of several systems (baton's, and
 * bench/pytorch_baseline.py's, which writes the same columns) joined on configuration, input
 * feeding, device and precision; one row per key with each system's tokens/s and the ratio of each
 * baton system over each other system (> 1: baton is faster). The rows must come from one machine
 * for the ratios to mean anything: the machine lines of each file are printed with the table. */
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"

enum { MAX_SYS = 8, MAX_KEYS = 64 };

typedef struct {
    const char *sys[MAX_SYS];
    int nsys;
    char keys[MAX_KEYS][4][32]; /* config, feed, device, precision */
    double tps[MAX_KEYS][MAX_SYS];
    int nkeys;
} joined;

static int key_index(joined *j, const baton_report *r, int row)
{
    static const char *kc[4] = {"config", "feed", "device", "precision"};
    for (int k = 0; k < j->nkeys; k++) {
        int same = 1;
        for (int c = 0; c < 4 && same; c++)
            same = strcmp(j->keys[k][c], baton_report_cell(r, row, kc[c])) == 0;
        if (same)
            return k;
    }
    if (j->nkeys == MAX_KEYS)
        return -1;
    for (int c = 0; c < 4; c++)
        snprintf(j->keys[j->nkeys][c], sizeof j->keys[0][c], "%s", baton_report_cell(r, row, kc[c]));
    for (int s = 0; s < MAX_SYS; s++)
        j->tps[j->nkeys][s] = 0.0;
    return j->nkeys++;
}

static int sys_index(joined *j, const char *name)
{
    for (int s = 0; s < j->nsys; s++)
        if (strcmp(j->sys[s], name) == 0)
            return s;
    if (j->nsys == MAX_SYS)
        return -1;
    j->sys[j->nsys] = name;
    return j->nsys++;
}

static baton_status join(joined *j, const baton_report *const *in, int n)
{
    static const char *need[] = {"system", "config", "feed", "device", "precision", "tokens_per_s"};
    memset(j, 0, sizeof *j);
    for (int f = 0; f < n; f++) {
        for (size_t c = 0; c < sizeof need / sizeof need[0]; c++)
            BATON_REQUIRE(in[f]->nrow == 0 || baton_report_cell(in[f], 0, need[c]),
                          "bench compare: report %d has no column '%s'; expected a train report", f + 1, need[c]);
        for (int i = 0; i < in[f]->nrow; i++) {
            int k = key_index(j, in[f], i), s = sys_index(j, baton_report_cell(in[f], i, "system"));
            BATON_REQUIRE(k >= 0 && s >= 0, "bench compare: more than %d keys or %d systems", MAX_KEYS, MAX_SYS);
            j->tps[k][s] = atof(baton_report_cell(in[f], i, "tokens_per_s"));
        }
    }
    return BATON_OK;
}

/* Column names: the key, "<system> tok/s" each, "<baton system>/<other>" each pair. */
static baton_status columns(baton_report *out, const joined *j)
{
    char *cols[4 + MAX_SYS + MAX_SYS * MAX_SYS];
    int n = 0;
    const char *key[4] = {"config", "feed", "device", "precision"};
    for (int c = 0; c < 4; c++)
        cols[n++] = strdup(key[c]);
    for (int s = 0; s < j->nsys; s++) {
        char name[96];
        snprintf(name, sizeof name, "%s tok/s", j->sys[s]);
        cols[n++] = strdup(name);
    }
    for (int a = 0; a < j->nsys; a++)
        for (int b = 0; b < j->nsys; b++)
            if (a != b && strncmp(j->sys[a], "baton-", 6) == 0) {
                char name[96];
                snprintf(name, sizeof name, "%s/%s", j->sys[a], j->sys[b]);
                cols[n++] = strdup(name);
            }
    baton_report_init(out, NULL, n);
    out->own_cols = malloc((size_t)n * sizeof *out->own_cols);
    int ok = out->own_cols != NULL;
    for (int c = 0; c < n; c++) {
        ok &= cols[c] != NULL;
        if (out->own_cols)
            out->own_cols[c] = cols[c];
        else
            free(cols[c]);
    }
    out->cols = (const char *const *)out->own_cols;
    return ok ? BATON_OK : BATON_ERROR(BATON_ERR_OOM, "bench compare: out of memory");
}

/* "|value" in fmt when known, "|-" when not; the characters written. */
static int cell(char *dst, size_t cap, const char *fmt, int known, double value)
{
    char v[64] = "-";
    if (known)
        snprintf(v, sizeof v, fmt, value);
    return snprintf(dst, cap, "|%s", v);
}

baton_status bench_compare(baton_report *out, const baton_report *const *in, int n)
{
    joined *j = malloc(sizeof *j);
    if (!j)
        return BATON_ERROR(BATON_ERR_OOM, "bench compare: out of memory");
    baton_status st = join(j, in, n);
    if (st == BATON_OK)
        st = columns(out, j);
    for (int k = 0; st == BATON_OK && k < j->nkeys; k++) {
        char row[2048];
        int len = snprintf(row, sizeof row, "%s|%s|%s|%s", j->keys[k][0], j->keys[k][1], j->keys[k][2], j->keys[k][3]);
        for (int s = 0; s < j->nsys; s++)
            len += cell(row + len, sizeof row - (size_t)len, "%.0f", j->tps[k][s] > 0, j->tps[k][s]);
        for (int a = 0; a < j->nsys; a++)
            for (int b = 0; b < j->nsys; b++)
                if (a != b && strncmp(j->sys[a], "baton-", 6) == 0)
                    len += cell(row + len, sizeof row - (size_t)len, "%.2f", j->tps[k][a] > 0 && j->tps[k][b] > 0,
                                j->tps[k][a] / j->tps[k][b]);
        st = baton_report_row(out, "%s", row);
    }
    free(j);
    return st;
}
