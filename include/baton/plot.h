/* plot.h: pictures of a model and its training, written as PNG files (through libpng).
 *
 * Text is drawn with a small built-in 5x7 bitmap font at twice its size (12 px per character,
 * printable ASCII; any other byte or UTF-8 sequence shows as '?'); labels longer than 16
 * characters are cut to 14 and end in "..".
 *
 * Both functions write atomically: the image goes to "<path>.tmp", is synced, and is renamed to
 * path, so a reader never sees a partial file; on failure the .tmp file is removed and one
 * BATON_ERROR line names the path. They return BATON_ERR_INVALID for bad arguments (NULL
 * pointers, sizes out of range), BATON_ERR_IO when the file cannot be written, BATON_ERR_OOM when
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

/* Colour of series k in baton_plot_curves, as 0xRRGGBB. */
unsigned baton_plot_series_color(int k);

#ifdef __cplusplus
}
#endif

#endif
