/* plot.c: attention heatmaps and loss curves as PNG files (see plot.h); the canvas, font, axes
 * and PNG writing they share live in draw.c (plot_internal.h). */
#include "baton/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot_internal.h"

/* heatmap-only colours */
static const rgb CELL_LINE = {238, 238, 238};
static const rgb NAN_FILL = {214, 214, 214};
static const rgb NAN_HATCH = {150, 150, 150};

/* ---- attention heatmap --------------------------------------------------------------------- */

#define HM_BAR_GAP 16
#define HM_BAR_W 16
#define HM_RIGHT (HM_BAR_GAP + HM_BAR_W + 6 + 3 * CHAR_W + PAD) /* colour bar and its "0.5" */
#define HM_BAR_MIN_H 120

/* White -> dark blue through matplotlib's "Blues" stops, linear between them. */
static rgb shade(float w)
{
    static const rgb stops[5] = {{255, 255, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    float t = w < 0.0f ? 0.0f : (w > 1.0f ? 1.0f : w);
    float s = t * 4.0f;
    int i = (int)s;
    if (i >= 4)
        return stops[4];
    float f = s - (float)i;
    rgb a = stops[i], b = stops[i + 1];
    rgb o = {(unsigned char)lrintf((float)a.r + f * (float)(b.r - a.r)),
             (unsigned char)lrintf((float)a.g + f * (float)(b.g - a.g)),
             (unsigned char)lrintf((float)a.b + f * (float)(b.b - a.b))};
    return o;
}

static int index_len(int i)
{
    char buf[16];
    return snprintf(buf, sizeof buf, "%d", i);
}

static int longest_label(const char *const *labels, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        int len = labels ? baton_draw_text_len(labels[i]) : index_len(i);
        if (len > m)
            m = len;
    }
    return m;
}

baton_status baton_plot_attention_layout(const char *title, int rows, int cols, const char *const *row_labels,
                                         const char *const *col_labels, baton_plot_layout *out)
{
    BATON_REQUIRE(out, "plot attention layout: out is NULL");
    BATON_REQUIRE(rows >= 1 && rows <= BATON_PLOT_MAX_CELLS && cols >= 1 && cols <= BATON_PLOT_MAX_CELLS,
                  "plot attention: rows (%d) and cols (%d) must be in 1..%d", rows, cols, BATON_PLOT_MAX_CELLS);
    int cell = BATON_PLOT_CELL_PX;
    out->cell = cell;
    out->left = PAD + longest_label(row_labels, rows) * CHAR_W + 6;
    out->top = (title ? PAD + CHAR_H + PAD : 0) + PAD + longest_label(col_labels, cols) * CHAR_W + 6;
    int grid_h = rows * cell;
    out->width = out->left + cols * cell + HM_RIGHT;
    int tw = baton_draw_text_width(title) + 2 * PAD;
    if (out->width < tw)
        out->width = tw;
    out->height = out->top + (grid_h > HM_BAR_MIN_H ? grid_h : HM_BAR_MIN_H) + PAD;
    return BATON_OK;
}

baton_status baton_plot_attention(const char *path, const char *title, const float *weights, int rows, int cols,
                                  const char *const *row_labels, const char *const *col_labels)
{
    BATON_REQUIRE(path && *path, "plot attention: path is NULL or empty");
    BATON_REQUIRE(rows >= 1 && rows <= BATON_PLOT_MAX_CELLS && cols >= 1 && cols <= BATON_PLOT_MAX_CELLS,
                  "plot attention %s: rows (%d) and cols (%d) must be in 1..%d", path, rows, cols,
                  BATON_PLOT_MAX_CELLS);
    BATON_REQUIRE(weights, "plot attention %s: weights is NULL", path);
    baton_plot_layout L;
    BATON_TRY(baton_plot_attention_layout(title, rows, cols, row_labels, col_labels, &L));
    canvas c;
    if (!baton_draw_canvas_init(&c, L.width, L.height))
        return BATON_ERROR(BATON_ERR_OOM, "plot attention %s: cannot allocate a %dx%d image", path, L.width,
                           L.height);
    const int cell = L.cell;
    if (title)
        baton_draw_text(&c, (L.width - baton_draw_text_width(title)) / 2, PAD, title, TEXT, 0);

    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            float w = weights[(size_t)r * (size_t)cols + (size_t)k];
            int x0 = L.left + k * cell, y0 = L.top + r * cell;
            if (isnan(w)) {
                baton_draw_fill_rect(&c, x0, y0, cell, cell, NAN_FILL);
                for (int y = 0; y < cell; y++)
                    for (int x = 0; x < cell; x++)
                        if ((x + y) % 6 == 0)
                            baton_draw_put(&c, x0 + x, y0 + y, NAN_HATCH);
            } else {
                baton_draw_fill_rect(&c, x0, y0, cell, cell, shade(w));
            }
        }
    /* faint cell boundaries, then a frame */
    for (int r = 1; r < rows; r++)
        baton_draw_hline(&c, L.left, L.left + cols * cell - 1, L.top + r * cell, CELL_LINE);
    for (int k = 1; k < cols; k++)
        baton_draw_vline(&c, L.left + k * cell, L.top, L.top + rows * cell - 1, CELL_LINE);
    baton_draw_rect_outline(&c, L.left - 1, L.top - 1, cols * cell + 2, rows * cell + 2, AXIS);

    /* labels: output tokens right-aligned on the left, source tokens rising from the top */
    char num[16];
    for (int r = 0; r < rows; r++) {
        const char *s = row_labels ? row_labels[r] : (snprintf(num, sizeof num, "%d", r), num);
        int w = baton_draw_text_len(s) * CHAR_W;
        baton_draw_label(&c, L.left - 6 - w, L.top + r * cell + (cell - CHAR_H) / 2, s, TEXT, 0);
    }
    for (int k = 0; k < cols; k++) {
        const char *s = col_labels ? col_labels[k] : (snprintf(num, sizeof num, "%d", k), num);
        baton_draw_label(&c, L.left + k * cell + (cell - CHAR_H) / 2, L.top - 6, s, TEXT, 1);
    }

    /* colour scale */
    int bar_x = L.left + cols * cell + HM_BAR_GAP;
    int bar_h = rows * cell > HM_BAR_MIN_H ? rows * cell : HM_BAR_MIN_H;
    for (int y = 0; y < bar_h; y++)
        baton_draw_hline(&c, bar_x, bar_x + HM_BAR_W - 1, L.top + y, shade(1.0f - (float)y / (float)(bar_h - 1)));
    baton_draw_rect_outline(&c, bar_x - 1, L.top - 1, HM_BAR_W + 2, bar_h + 2, AXIS);
    static const char *const bar_text[3] = {"1", "0.5", "0"};
    for (int i = 0; i < 3; i++) {
        int y = L.top + i * (bar_h - 1) / 2;
        baton_draw_hline(&c, bar_x + HM_BAR_W, bar_x + HM_BAR_W + 3, y, AXIS);
        int ty = y - CHAR_H / 2;
        if (ty < L.top)
            ty = L.top;
        if (ty > L.top + bar_h - CHAR_H)
            ty = L.top + bar_h - CHAR_H;
        baton_draw_text(&c, bar_x + HM_BAR_W + 6, ty, bar_text[i], TEXT, 0);
    }

    baton_status st = baton_draw_write_png(path, &c);
    free(c.px);
    return st;
}

/* ---- curves -------------------------------------------------------------------------------- */

#define CURVE_MAX_SERIES 64

static int tick_label(char *buf, size_t cap, double v)
{
    return snprintf(buf, cap, "%g", v);
}

baton_status baton_plot_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                               const baton_plot_series *series, int n_series)
{
    BATON_REQUIRE(path && *path, "plot curves: path is NULL or empty");
    BATON_REQUIRE(series && n_series >= 1 && n_series <= CURVE_MAX_SERIES,
                  "plot curves %s: need 1..%d series, got %d%s", path, CURVE_MAX_SERIES, n_series,
                  series ? "" : " (series is NULL)");
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < n_series; s++) {
        const baton_plot_series *S = &series[s];
        BATON_REQUIRE(S->n >= 0, "plot curves %s: series %d has n = %d points", path, s, S->n);
        BATON_REQUIRE(S->n == 0 || (S->x && S->y), "plot curves %s: series %d has %d points but NULL x or y", path,
                      s, S->n);
        for (int i = 0; i < S->n; i++) {
            if (!isfinite(S->x[i]) || !isfinite(S->y[i]))
                continue;
            xlo = fmin(xlo, S->x[i]);
            xhi = fmax(xhi, S->x[i]);
            ylo = fmin(ylo, S->y[i]);
            yhi = fmax(yhi, S->y[i]);
        }
    }
    axis ax = baton_draw_axis_make(xlo, xhi), ay = baton_draw_axis_make(ylo, yhi);

    const int W = BATON_PLOT_CURVE_W, H = BATON_PLOT_CURVE_H;
    char buf[64];
    int ytick_w = 0;
    for (int i = 0; i < ay.n; i++) {
        int w = tick_label(buf, sizeof buf, baton_draw_tick_value(&ay, i)) * CHAR_W;
        if (w > ytick_w)
            ytick_w = w;
    }
    int left = PAD + (ylabel ? CHAR_H + 10 : 0) + ytick_w + 10;
    /* room for half of the last x tick label past the right end of the axis */
    int last_w = tick_label(buf, sizeof buf, baton_draw_tick_value(&ax, ax.n - 1)) * CHAR_W;
    int right = W - (last_w / 2 + PAD > 24 ? last_w / 2 + PAD : 24);
    int top = PAD + CHAR_H + PAD + 6;
    int bottom = H - (6 + 4 + CHAR_H + (xlabel ? 10 + CHAR_H : 0) + PAD + 4);
    if (left > W / 2)
        left = W / 2;

    canvas c;
    if (!baton_draw_canvas_init(&c, W, H))
        return BATON_ERROR(BATON_ERR_OOM, "plot curves %s: cannot allocate a %dx%d image", path, W, H);

    if (title)
        baton_draw_text(&c, (W - baton_draw_text_width(title)) / 2, PAD, title, TEXT, 0);
    if (xlabel)
        baton_draw_text(&c, left + (right - left - baton_draw_text_width(xlabel)) / 2, H - PAD - CHAR_H, xlabel, TEXT,
                        0);
    if (ylabel)
        baton_draw_text(&c, PAD, top + (bottom - top + baton_draw_text_width(ylabel)) / 2, ylabel, TEXT, 1);

    /* gridlines, ticks and tick labels */
    for (int i = 0; i < ax.n; i++) {
        double v = baton_draw_tick_value(&ax, i);
        int x = baton_draw_to_px(v, &ax, left, right);
        baton_draw_vline(&c, x, top, bottom, GRID);
        baton_draw_vline(&c, x, bottom, bottom + 5, AXIS);
        int n = tick_label(buf, sizeof buf, v);
        baton_draw_chars(&c, x - n * CHAR_W / 2, bottom + 10, buf, (size_t)n, TEXT, 0);
    }
    for (int i = 0; i < ay.n; i++) {
        double v = baton_draw_tick_value(&ay, i);
        int y = baton_draw_to_px(v, &ay, bottom, top);
        baton_draw_hline(&c, left, right, y, GRID);
        baton_draw_hline(&c, left - 5, left, y, AXIS);
        int n = tick_label(buf, sizeof buf, v);
        baton_draw_chars(&c, left - 8 - n * CHAR_W, y - CHAR_H / 2, buf, (size_t)n, TEXT, 0);
    }
    baton_draw_rect_outline(&c, left, top, right - left + 1, bottom - top + 1, AXIS);

    /* the series: polylines broken at non-finite points, lone points as dots */
    for (int s = 0; s < n_series; s++) {
        const baton_plot_series *S = &series[s];
        rgb col = baton_draw_rgb_hex(baton_plot_series_color(s));
        int have_prev = 0, px = 0, py = 0;
        for (int i = 0; i < S->n; i++) {
            if (!isfinite(S->x[i]) || !isfinite(S->y[i])) {
                have_prev = 0;
                continue;
            }
            int x = baton_draw_to_px(S->x[i], &ax, left, right), y = baton_draw_to_px(S->y[i], &ay, bottom, top);
            int next_ok = i + 1 < S->n && isfinite(S->x[i + 1]) && isfinite(S->y[i + 1]);
            if (have_prev)
                baton_draw_thick_line(&c, px, py, x, y, col, left + 1, top + 1, right - 1, bottom - 1);
            else if (!next_ok) /* a lone point: a 5x5 dot */
                for (int d = -1; d <= 1; d++)
                    baton_draw_thick_line(&c, x - 1, y + d, x + 1, y + d, col, left + 1, top + 1, right - 1,
                                          bottom - 1);
            have_prev = 1;
            px = x;
            py = y;
        }
    }

    /* legend, top right inside the axes */
    int name_w = 0;
    char nbuf[32];
    for (int s = 0; s < n_series; s++) {
        int w;
        if (series[s].name)
            w = baton_draw_text_len(series[s].name) * CHAR_W;
        else
            w = snprintf(nbuf, sizeof nbuf, "series %d", s) * CHAR_W;
        if (w > name_w)
            name_w = w;
    }
    int row_h = CHAR_H + 6;
    int lw = 8 + 24 + 8 + name_w + 8, lh = 8 + n_series * row_h - 6 + 8;
    int lx = right - 10 - lw, ly = top + 10;
    baton_draw_fill_rect(&c, lx, ly, lw, lh, WHITE);
    baton_draw_rect_outline(&c, lx, ly, lw, lh, AXIS);
    for (int s = 0; s < n_series; s++) {
        rgb col = baton_draw_rgb_hex(baton_plot_series_color(s));
        int y = ly + 8 + s * row_h;
        baton_draw_fill_rect(&c, lx + 8, y + CHAR_H / 2 - 1, 24, 3, col);
        if (series[s].name) {
            baton_draw_label(&c, lx + 8 + 24 + 8, y, series[s].name, TEXT, 0);
        } else {
            int n = snprintf(nbuf, sizeof nbuf, "series %d", s);
            baton_draw_chars(&c, lx + 8 + 24 + 8, y, nbuf, (size_t)n, TEXT, 0);
        }
    }

    baton_status st = baton_draw_write_png(path, &c);
    free(c.px);
    return st;
}
