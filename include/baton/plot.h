/* plot.h: pictures of a model, its training and its benchmarks, written as PNG files (through libpng).
 *
 * Text is drawn with a small built-in 5x7 bitmap font at twice its size (12 px per character,
 * printable ASCII; any other byte or UTF-8 sequence shows as '?'); labels longer than 16
 * characters are cut to 14 and end in "..".
 *
 * The plotting functions write atomically: the image goes to "<path>.tmp", is synced, and is renamed to
 * path, so a reader never sees a partial file; on failure the .tmp file is removed and one
 * BATON_ERROR line names the path. They return BATON_ERR_INVALID for bad arguments (NULL
 * pointers, sizes out of range, negative bar values), BATON_ERR_IO when the file cannot be written, BATON_ERR_OOM when
 * the image cannot be allocated, and BATON_ERR_UNSUPPORTED in a build without libpng (libpng-dev;
 * meson option -Dpng). */
#ifndef BATON_PLOT_H
#define BATON_PLOT_H

#include "baton/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest heatmap side (rows or columns) that baton_plot_attention accepts. */
#define BATON_PLOT_MAX_CELLS 512
/* Size of a heatmap cell in pixels, and of the curve image. */
#define BATON_PLOT_CELL_PX 24
#define BATON_PLOT_CURVE_W 800
#define BATON_PLOT_CURVE_H 500

/* Attention heatmap: rows = output tokens, columns = source tokens, cell shade = weight in [0,1]
 * (white -> dark blue; values outside [0,1] are clamped, NaN cells are drawn grey with a hatch).
 * Output-token labels run down the left, source-token labels up the top (vertical, read
 * bottom to top), the title above them and a colour scale on the right. weights: (rows x cols)
 * row-major floats, 1 <= rows, cols <= BATON_PLOT_MAX_CELLS. row_labels / col_labels may be NULL
 * (the indices are shown) and may hold NULL entries (no label); title may be NULL.
 * Cell (r, c) covers the BATON_PLOT_CELL_PX square whose top-left corner is
 * (left + c * CELL, top + r * CELL) with, counting label characters after truncation,
 *   left = 16 + 12 * (longest row label),  top = 16 + 12 * (longest column label) + (title ? 34 : 0). */
baton_status baton_plot_attention(const char *path, const char *title, const float *weights, int rows, int cols,
                                  const char *const *row_labels, const char *const *col_labels);

/* Geometry of the heatmap that baton_plot_attention draws for these arguments, in pixels. */
typedef struct {
    int width, height; /* the image */
    int left, top;     /* top-left corner of cell (0, 0) */
    int cell;          /* side of a cell: BATON_PLOT_CELL_PX */
} baton_plot_layout;

/* Fills *out (BATON_ERR_INVALID for sizes out of range or a NULL out). Needs no libpng. */
baton_status baton_plot_attention_layout(const char *title, int rows, int cols, const char *const *row_labels,
                                         const char *const *col_labels, baton_plot_layout *out);

/* One line of a curve plot: n points (x[i], y[i]); name is shown in the legend (NULL: "series k"). */
typedef struct {
    const char *name;
    const double *x, *y;
    int n;
} baton_plot_series;

/* Loss curves: BATON_PLOT_CURVE_W x BATON_PLOT_CURVE_H, white background, each series a polyline
 * in its own colour (a 10-colour palette, repeating) on axes with gridlines, ticks at round
 * values with numeric labels, a legend with the series names (top right), title and axis labels
 * (any may be NULL). Points whose x or y is NaN or infinite are skipped: the line breaks there
 * (a lone finite point between them is drawn as a dot). The axes span all finite points of all
 * series, widened to round tick values. 1 <= n_series <= 64; each series needs n >= 0 and, when
 * n > 0, non-NULL x and y. */
baton_status baton_plot_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                               const baton_plot_series *series, int n_series);

/* Colour of series k in baton_plot_curves and baton_plot_bars, as 0xRRGGBB. */
unsigned baton_plot_series_color(int k);

/* Limits of baton_plot_bars: groups, series (one distinct palette colour each) and bars in all. */
#define BATON_PLOT_MAX_GROUPS 64
#define BATON_PLOT_MAX_BAR_SERIES 10
#define BATON_PLOT_MAX_BARS 256

/* Grouped bar chart, e.g. tokens/s per model configuration (groups) for several systems (series):
 * white background, BATON_PLOT_CURVE_H high and at least BATON_PLOT_CURVE_W wide (wider as bars,
 * group labels or the title need). Each group is a slot on the x axis with its label (cut like
 * other labels) underneath and its n_series bars side by side, bar s in baton_plot_series_color(s)
 * with its value printed above it in a compact form (950, 12.5k, 140k, 1.2M); the y axis runs from
 * 0 to a round value above the tallest bar, with gridlines and compact tick labels; the legend with
 * the series names is to the right of the axes; title and ylabel may be NULL. values: (n_groups x
 * n_series) row-major, each finite and >= 0, or NaN for a missing bar (a grey "n/a" on the
 * baseline instead). groups, series_names and values must not be NULL; an entry of groups may be
 * NULL (no label), one of series_names too ("series k"). 1 <= n_groups <= BATON_PLOT_MAX_GROUPS,
 * 1 <= n_series <= BATON_PLOT_MAX_BAR_SERIES, n_groups * n_series <= BATON_PLOT_MAX_BARS. */
baton_status baton_plot_bars(const char *path, const char *title, const char *ylabel, const char *const *groups,
                             int n_groups, const char *const *series_names, int n_series, const double *values);

#ifdef __cplusplus
}
#endif

#endif
