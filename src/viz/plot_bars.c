/* plot_bars.c: grouped bar charts as PNG files (see plot.h), e.g. tokens/s per model configuration
 * for several systems side by side.
 *
 * Layout, left to right: the y label and tick labels, the axes with one slot per group (its bars
 * centred in it, its label underneath), then the legend outside the axes so it can never cover a
 * bar. Every bar is wide enough for its value printed above it, and every slot for its group label,
 * so the image grows with the number of bars; a small chart is stretched to the curve plot's width
 * instead, with wider bars. The y axis starts at 0 and ends at a round tick with room above the
 * tallest bar for its value. Drawing primitives come from draw.c (plot_internal.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/plot.h"
#include "plot_internal.h"

#define BAR_MIN_W 28   /* narrowest bar */
#define BAR_MAX_W 72   /* widest bar when a small chart is stretched */
#define BAR_GAP 2      /* between the bars of a group: keeps neighbours apart */
#define GROUP_GAP 36   /* between groups */
#define VALUE_GAP 4    /* between a bar's top and its value */
#define LEGEND_GAP 16  /* between the axes and the legend */
#define SWATCH 14      /* side of a legend colour square */
#define COMPACT_CAP 32 /* buffer for one compact number */

static const rgb MISSING = {150, 150, 150}; /* the "n/a" of a NaN value */

typedef struct {
    int width, height;
    int left, right, top, bottom; /* the axes frame */
    int pitch, bar_w, group_w;    /* px per group slot, per bar, per group of bars */
    int x0;                       /* left edge of the first slot */
    int legend_w;
    axis ay;
} bars_layout;

/* ---- numbers ------------------------------------------------------------------------------- */

/* Strips trailing zeros after a decimal point (and the point itself). */
static void trim_zeros(char *buf)
{
    if (!strchr(buf, '.'))
        return;
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[n - 1] = '\0';
}

/* v (>= 0) in about three significant digits with a k/M/G/T suffix: 0, 0.25, 950, 12.5k, 140k, 1.2M.
 * The unit is chosen after rounding, so 999960 prints as 1M rather than 1000k. */
static int compact(char *buf, size_t cap, double v)
{
    static const char *const suffix[5] = {"", "k", "M", "G", "T"};
    if (v == 0.0)
        return snprintf(buf, cap, "0");
    if (v < 1.0 || v >= 1e15) /* no unit fits: plain %g keeps these short */
        return snprintf(buf, cap, "%.3g", v);
    double m = v;
    int k = 0;
    for (;;) {
        snprintf(buf, cap, "%.*f", m >= 100.0 ? 0 : m >= 10.0 ? 1 : 2, m);
        if (k == 4 || strtod(buf, NULL) < 1000.0)
            break;
        m /= 1000.0;
        k++;
    }
    trim_zeros(buf);
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", suffix[k]);
    return (int)strlen(buf);
}

/* Width in px of the compact form of v. */
static int compact_w(double v)
{
    char buf[COMPACT_CAP];
    return compact(buf, sizeof buf, v) * CHAR_W;
}

/* ---- arguments and layout ------------------------------------------------------------------ */

static baton_status check_args(const char *path, const char *const *groups, int n_groups,
                               const char *const *series_names, int n_series, const double *values)
{
    BATON_REQUIRE(path && *path, "plot bars: path is NULL or empty");
    BATON_REQUIRE(n_groups >= 1 && n_groups <= BATON_PLOT_MAX_GROUPS, "plot bars %s: need 1..%d groups, got %d",
                  path, BATON_PLOT_MAX_GROUPS, n_groups);
    BATON_REQUIRE(n_series >= 1 && n_series <= BATON_PLOT_MAX_BAR_SERIES, "plot bars %s: need 1..%d series, got %d",
                  path, BATON_PLOT_MAX_BAR_SERIES, n_series);
    BATON_REQUIRE(n_groups * n_series <= BATON_PLOT_MAX_BARS, "plot bars %s: %d groups x %d series is over %d bars",
                  path, n_groups, n_series, BATON_PLOT_MAX_BARS);
    BATON_REQUIRE(groups && series_names && values, "plot bars %s: groups, series_names or values is NULL", path);
    for (int i = 0; i < n_groups * n_series; i++)
        BATON_REQUIRE(isnan(values[i]) || (isfinite(values[i]) && values[i] >= 0.0),
                      "plot bars %s: value (group %d, series %d) is %g; need a finite value >= 0 or NaN", path,
                      i / n_series, i % n_series, values[i]);
    return BATON_OK;
}

/* The legend text of series k: its name, or "series k" for a NULL one. */
static const char *series_label(const char *const *names, int k, char *buf, size_t cap)
{
    if (names[k])
        return names[k];
    snprintf(buf, cap, "series %d", k);
    return buf;
}

/* Legend box width: swatch, gap, longest series name, margins. */
static int legend_width(const char *const *names, int n_series)
{
    int name_w = 0;
    char buf[32];
    for (int s = 0; s < n_series; s++) {
        int w = baton_draw_text_len(series_label(names, s, buf, sizeof buf)) * CHAR_W;
        if (w > name_w)
            name_w = w;
    }
    return 8 + SWATCH + 8 + name_w + 8;
}

/* The y axis: 0 to a round tick, extended by whole steps until the tallest bar's value fits
 * between the bar and the top of the axes. */
static axis y_axis(const double *values, int n, int top, int bottom)
{
    double max = 0.0;
    for (int i = 0; i < n; i++)
        if (!isnan(values[i]) && values[i] > max)
            max = values[i];
    axis a = baton_draw_axis_make(0.0, max > 0.0 ? max : 1.0);
    for (int tries = 0; tries < 8 && baton_draw_to_px(max, &a, bottom, top) - top < CHAR_H + VALUE_GAP + 4;
         tries++) {
        a.hi += a.step;
        a.n++;
    }
    return a;
}

/* Widest y tick label, in px. */
static int ytick_width(const axis *a)
{
    int w = 0;
    for (int i = 0; i < a->n; i++) {
        int t = compact_w(baton_draw_tick_value(a, i));
        if (t > w)
            w = t;
    }
    return w;
}

/* Bar width that fits every value (or "n/a") printed above it. */
static int bar_width(const double *values, int n)
{
    int w = 0;
    for (int i = 0; i < n; i++) {
        int t = isnan(values[i]) ? 3 * CHAR_W : compact_w(values[i]);
        if (t > w)
            w = t;
    }
    return w + 8 > BAR_MIN_W ? w + 8 : BAR_MIN_W; /* a 10 px gap between neighbouring values */
}

/* Widens a chart narrower than BATON_PLOT_CURVE_W (or its title) to that width: the slots share the
 * extra room and the bars grow into up to three quarters of their slot. */
static void stretch(bars_layout *L, int n_groups, int n_series, int min_w)
{
    if (L->width >= min_w)
        return;
    int plot_w = L->right - L->left + min_w - L->width;
    L->width = min_w;
    L->right = L->left + plot_w;
    L->pitch = plot_w / n_groups;
    L->x0 = L->left + (plot_w - L->pitch * n_groups) / 2;
    int w = (L->pitch * 3 / 4 - (n_series - 1) * BAR_GAP) / n_series;
    if (w > BAR_MAX_W)
        w = BAR_MAX_W;
    if (w > L->bar_w) {
        L->bar_w = w;
        L->group_w = n_series * w + (n_series - 1) * BAR_GAP;
    }
}

static void layout(bars_layout *L, const char *title, const char *ylabel, const char *const *groups, int n_groups,
                   const char *const *series_names, int n_series, const double *values)
{
    int n = n_groups * n_series;
    L->height = BATON_PLOT_CURVE_H;
    L->top = PAD + CHAR_H + PAD + 6;
    L->bottom = L->height - (8 + CHAR_H + PAD + 4); /* group labels below */
    L->ay = y_axis(values, n, L->top, L->bottom);
    L->left = PAD + (ylabel ? CHAR_H + 10 : 0) + ytick_width(&L->ay) + 10;
    L->bar_w = bar_width(values, n);
    L->group_w = n_series * L->bar_w + (n_series - 1) * BAR_GAP;
    int label_w = 0;
    for (int g = 0; g < n_groups; g++) {
        int w = baton_draw_text_len(groups[g]) * CHAR_W;
        if (w > label_w)
            label_w = w;
    }
    L->pitch = (L->group_w > label_w ? L->group_w : label_w) + GROUP_GAP;
    L->x0 = L->left;
    L->right = L->left + n_groups * L->pitch;
    L->legend_w = legend_width(series_names, n_series);
    L->width = L->right + LEGEND_GAP + L->legend_w + PAD;
    int title_w = baton_draw_text_width(title) + 2 * PAD;
    stretch(L, n_groups, n_series, title_w > BATON_PLOT_CURVE_W ? title_w : BATON_PLOT_CURVE_W);
}

/* ---- drawing ------------------------------------------------------------------------------- */

/* Horizontal gridlines, y ticks with compact labels, the y label and the title. */
static void draw_frame(canvas *c, const bars_layout *L, const char *title, const char *ylabel)
{
    char buf[COMPACT_CAP];
    for (int i = 0; i < L->ay.n; i++) {
        double v = baton_draw_tick_value(&L->ay, i);
        int y = baton_draw_to_px(v, &L->ay, L->bottom, L->top);
        baton_draw_hline(c, L->left, L->right, y, GRID);
        baton_draw_hline(c, L->left - 5, L->left, y, AXIS);
        int n = compact(buf, sizeof buf, v);
        baton_draw_chars(c, L->left - 8 - n * CHAR_W, y - CHAR_H / 2, buf, (size_t)n, TEXT, 0);
    }
    if (title)
        baton_draw_text(c, (L->width - baton_draw_text_width(title)) / 2, PAD, title, TEXT, 0);
    if (ylabel)
        baton_draw_text(c, PAD, L->top + (L->bottom - L->top + baton_draw_text_width(ylabel)) / 2, ylabel, TEXT, 1);
}

/* Bar (g, s) with its value above it, or a grey "n/a" on the baseline for NaN. */
static void draw_bar(canvas *c, const bars_layout *L, int g, int s, double v)
{
    int x = L->x0 + g * L->pitch + (L->pitch - L->group_w) / 2 + s * (L->bar_w + BAR_GAP);
    char buf[COMPACT_CAP];
    if (isnan(v)) {
        baton_draw_chars(c, x + (L->bar_w - 3 * CHAR_W) / 2, L->bottom - 4 - CHAR_H, "n/a", 3, MISSING, 0);
        return;
    }
    int y = baton_draw_to_px(v, &L->ay, L->bottom, L->top);
    if (v > 0.0 && y >= L->bottom) /* too small for a pixel: show a sliver, not nothing */
        y = L->bottom - 1;
    baton_draw_fill_rect(c, x, y, L->bar_w, L->bottom - y, baton_draw_rgb_hex(baton_plot_series_color(s)));
    int n = compact(buf, sizeof buf, v);
    baton_draw_chars(c, x + (L->bar_w - n * CHAR_W) / 2, y - VALUE_GAP - CHAR_H, buf, (size_t)n, TEXT, 0);
}

/* Legend to the right of the axes, top-aligned with them: a colour square and name per series. */
static void draw_legend(canvas *c, const bars_layout *L, const char *const *names, int n_series)
{
    const int row_h = CHAR_H + 8;
    int lx = L->right + LEGEND_GAP, ly = L->top, lh = 8 + n_series * row_h - 8 + 8;
    char buf[32];
    baton_draw_rect_outline(c, lx, ly, L->legend_w, lh, AXIS);
    for (int s = 0; s < n_series; s++) {
        int y = ly + 8 + s * row_h;
        baton_draw_fill_rect(c, lx + 8, y, SWATCH, SWATCH, baton_draw_rgb_hex(baton_plot_series_color(s)));
        baton_draw_label(c, lx + 8 + SWATCH + 8, y, series_label(names, s, buf, sizeof buf), TEXT, 0);
    }
}

baton_status baton_plot_bars(const char *path, const char *title, const char *ylabel, const char *const *groups,
                             int n_groups, const char *const *series_names, int n_series, const double *values)
{
    BATON_TRY(check_args(path, groups, n_groups, series_names, n_series, values));
    bars_layout L;
    layout(&L, title, ylabel, groups, n_groups, series_names, n_series, values);
    canvas c;
    if (!baton_draw_canvas_init(&c, L.width, L.height))
        return BATON_ERROR(BATON_ERR_OOM, "plot bars %s: cannot allocate a %dx%d image", path, L.width, L.height);
    draw_frame(&c, &L, title, ylabel);
    for (int g = 0; g < n_groups; g++) {
        for (int s = 0; s < n_series; s++)
            draw_bar(&c, &L, g, s, values[(size_t)g * (size_t)n_series + (size_t)s]);
        int label_w = baton_draw_text_len(groups[g]) * CHAR_W;
        baton_draw_label(&c, L.x0 + g * L.pitch + (L.pitch - label_w) / 2, L.bottom + 8, groups[g], TEXT, 0);
    }
    baton_draw_rect_outline(&c, L.left, L.top, L.right - L.left + 1, L.bottom - L.top + 1, AXIS);
    draw_legend(&c, &L, series_names, n_series);
    baton_status st = baton_draw_write_png(path, &c);
    free(c.px);
    return st;
}
