/* plot_internal.h: the drawing primitives that the plot files share (draw.c implements them):
 * an RGB8 canvas, lines and rectangles, the 5x7 bitmap font drawn at 2x, round axis ticks, the
 * series palette and the atomic PNG write. Coordinates are pixels, (0, 0) the top-left corner;
 * anything drawn outside the canvas is clipped. */
#ifndef BATON_PLOT_INTERNAL_H
#define BATON_PLOT_INTERNAL_H

#include <stddef.h>

#include "baton/status.h"

typedef struct {
    unsigned char r, g, b;
} rgb;

typedef struct {
    int w, h;
    unsigned char *px; /* w * h * 3, row-major */
} canvas;

/* Colours every plot uses (static so each file gets constants the compiler can fold). */
static const rgb WHITE = {255, 255, 255};
static const rgb TEXT = {34, 34, 34};
static const rgb AXIS = {90, 90, 90};
static const rgb GRID = {232, 232, 232};

#define FONT_SCALE 2
#define CHAR_W (6 * FONT_SCALE) /* advance: 5 columns and a gap */
#define CHAR_H (7 * FONT_SCALE)
#define MAX_LABEL 16 /* longer labels: the first MAX_LABEL - 2 characters and ".." */
#define MAX_TEXT 160 /* titles and axis labels are cut here (the canvas clips them anyway) */
#define PAD 10

/* Allocates a white w x h canvas; returns 0 when out of memory. */
int baton_draw_canvas_init(canvas *c, int w, int h);

/* One pixel (ignored outside the canvas). */
void baton_draw_put(canvas *c, int x, int y, rgb col);

/* A filled w x h rectangle with its top-left corner at (x0, y0). */
void baton_draw_fill_rect(canvas *c, int x0, int y0, int w, int h, rgb col);

/* Horizontal line from x0 to x1 inclusive at row y. */
void baton_draw_hline(canvas *c, int x0, int x1, int y, rgb col);

/* Vertical line from y0 to y1 inclusive at column x. */
void baton_draw_vline(canvas *c, int x, int y0, int y1, rgb col);

/* The one-pixel border of the w x h rectangle at (x0, y0). */
void baton_draw_rect_outline(canvas *c, int x0, int y0, int w, int h, rgb col);

/* A 3 px wide line from (x0,y0) to (x1,y1), clipped to [cx0,cx1] x [cy0,cy1]. */
void baton_draw_thick_line(canvas *c, int x0, int y0, int x1, int y1, rgb col, int cx0, int cy0, int cx1, int cy1);

/* Glyph codes of label s cut to MAX_LABEL characters (non-ASCII shows as '?'); returns their count. */
int baton_draw_glyphs(const char *s, char out[MAX_LABEL + 1]);

/* Characters label s shows after cutting (0 for NULL). */
int baton_draw_text_len(const char *s);

/* Draws n characters at (x, y) (top-left; vertical: bottom-left, rising); returns the advance in px. */
int baton_draw_chars(canvas *c, int x, int y, const char *s, size_t n, rgb col, int vertical);

/* A label, cut to MAX_LABEL characters; returns its width in px. */
int baton_draw_label(canvas *c, int x, int y, const char *s, rgb col, int vertical);

/* A title or axis label (not cut below MAX_TEXT); returns its width in px. */
int baton_draw_text(canvas *c, int x, int y, const char *s, rgb col, int vertical);

/* Width in px that baton_draw_text gives s. */
int baton_draw_text_width(const char *s);

/* Encodes c into "<path>.tmp", syncs it and renames it to path (BATON_ERR_UNSUPPORTED without libpng). */
baton_status baton_draw_write_png(const char *path, const canvas *c);

/* 0xRRGGBB as an rgb. */
rgb baton_draw_rgb_hex(unsigned v);

/* Number of distinct colours in the series palette (baton_plot_series_color repeats after it). */
#define PLOT_PALETTE_SIZE 10

/* An axis with round ticks lo, lo + step, ..., hi (n of them). */
typedef struct {
    double lo, hi, step;
    int n;
} axis;

/* Axis covering [lo, hi] widened to multiples of a 1-2-5 step (about six intervals). */
axis baton_draw_axis_make(double lo, double hi);

/* Value of tick i (exactly 0 where rounding left a tiny residue). */
double baton_draw_tick_value(const axis *a, int i);

/* Pixel coordinate of v on an axis mapped to [p0, p1], clamped far outside the canvas. */
int baton_draw_to_px(double v, const axis *a, int p0, int p1);

#endif
