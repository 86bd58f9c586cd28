/* bench_plot.c: the pictures of `baton bench`: tokens/s per configuration as grouped bars (one
 * bar per system), and the fused kernels' speedup over cuDNN against the batch size, one line per
 * cell, H and L. Both are drawn from finished reports, so a plot shows exactly the table's numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baton/plot.h"
#include "bench_internal.h"

/* Index of s in list[0..*n), appended when absent; -1 when the list is full. */
static int intern(const char **list, int *n, int cap, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    if (*n == cap)
        return -1;
    list[*n] = s;
    return (*n)++;
}

baton_status bench_plot_train(const char *path, const baton_report *const *reports, int n_reports)
{
    enum { G = BATON_PLOT_MAX_GROUPS, S = BATON_PLOT_MAX_BAR_SERIES };
    const char *groups[G], *systems[S];
    char labels[G][48];
    int ng = 0, ns = 0;
    double *v = malloc((size_t)G * S * sizeof *v);
    if (!v)
        return BATON_ERROR(BATON_ERR_OOM, "bench plot: out of memory");
    for (int i = 0; i < G * S; i++)
        v[i] = NAN;
    for (int k = 0; k < n_reports; k++)
        for (int i = 0; i < reports[k]->nrow; i++) {
            const baton_report *r = reports[k];
            char label[48];
            snprintf(label, sizeof label, "%s/feed %s", baton_report_cell(r, i, "config"),
                     baton_report_cell(r, i, "feed"));
            int g = -1;
            for (int j = 0; j < ng && g < 0; j++)
                g = strcmp(labels[j], label) == 0 ? j : -1;
            if (g < 0 && ng < G) {
                g = ng++;
                snprintf(labels[g], sizeof labels[g], "%s", label);
                groups[g] = labels[g];
            }
            int s = intern(systems, &ns, S, baton_report_cell(r, i, "system"));
            if (g >= 0 && s >= 0)
                v[g * S + s] = atof(baton_report_cell(r, i, "tokens_per_s"));
        }
    for (int g = 0; g < ng; g++) /* compact the rows to the series actually seen */
        memmove(v + g * ns, v + g * S, (size_t)ns * sizeof *v);
    baton_status st = ng && ns ? baton_plot_bars(path, "training throughput", "tokens/s", groups, ng, systems, ns, v)
                               : BATON_ERROR(BATON_ERR_INVALID, "bench plot %s: no rows to draw", path);
    free(v);
    return st;
}

/* The speedup over cuDNN of row i, and the version it belongs to: a cudnn row carries the fused
 * kernels' (fused_speedup, cuDNN time / fused time), a later row its own (1 / vs_cudnn). 0: none. */
static double speedup_of(const baton_report *r, int i, const char **impl)
{
    *impl = baton_report_cell(r, i, "impl");
    if (strcmp(*impl, "cudnn") == 0 || strcmp(*impl, "cudnn-standard") == 0) {
        *impl = "fused";
        const char *v = baton_report_cell(r, i, "fused_speedup");
        return strcmp(v, "-") == 0 ? 0.0 : atof(v);
    }
    const char *v = baton_report_cell(r, i, "vs_cudnn");
    return strcmp(v, "-") == 0 || atof(v) <= 0.0 ? 0.0 : 1.0 / atof(v);
}

baton_status bench_plot_layer(const char *path, const baton_report *r)
{
    enum { MAXS = 32, MAXP = 64 };
    char names[MAXS][64];
    double xs[MAXS][MAXP], ys[MAXS][MAXP];
    baton_plot_series series[MAXS];
    int ns = 0, T0 = -1;
    for (int i = 0; i < r->nrow; i++) {
        const char *impl;
        double y = speedup_of(r, i, &impl);
        int T = atoi(baton_report_cell(r, i, "T"));
        if (y <= 0.0 || (T0 >= 0 && T != T0))
            continue;
        T0 = T;
        char name[64];
        snprintf(name, sizeof name, "%s %s H=%s L=%s", impl, baton_report_cell(r, i, "cell"),
                 baton_report_cell(r, i, "H"), baton_report_cell(r, i, "L"));
        int s = 0;
        while (s < ns && strcmp(names[s], name) != 0)
            s++;
        if (s == ns) {
            if (ns == MAXS)
                continue;
            snprintf(names[ns], sizeof names[ns], "%s", name);
            series[ns] = (baton_plot_series){names[ns], xs[ns], ys[ns], 0};
            ns++;
        }
        if (series[s].n < MAXP) {
            xs[s][series[s].n] = atof(baton_report_cell(r, i, "B"));
            ys[s][series[s].n++] = y;
        }
    }
    if (ns == 0)
        return BATON_ERROR(BATON_ERR_INVALID,
                           "bench plot %s: no cuDNN rows to compare with (run with --rnn-impl fused,cudnn on cuda)",
                           path);
    char title[64];
    snprintf(title, sizeof title, "speedup over cuDNN, T=%d", T0);
    return baton_plot_curves(path, title, "batch size B", "cuDNN time / this version's time", series, ns);
}
