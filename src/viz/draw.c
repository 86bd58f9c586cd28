/* draw.c: the drawing primitives the plot files share (see plot_internal.h): canvas, lines,
 * rectangles, the 5x7 font, the series palette, round axis ticks and the atomic PNG write.
 *
 * Images are drawn into an RGB8 canvas in memory and encoded by libpng's simplified write API
 * (png_image_write_to_stdio) into "<path>.tmp", which is synced and renamed to path. Without
 * libpng everything but the encoding is still compiled (and checked by the compiler); the write
 * step then reports BATON_ERR_UNSUPPORTED. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/atomic_file.h"
#include "baton/plot.h"
#include "baton_config.h"
#include "plot_internal.h"

#if BATON_HAVE_PNG
#include <png.h>
#endif

/* ---- canvas -------------------------------------------------------------------------------- */

int baton_draw_canvas_init(canvas *c, int w, int h)
{
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px)
        return 0;
    memset(c->px, 255, (size_t)w * (size_t)h * 3);
    return 1;
}

void baton_draw_put(canvas *c, int x, int y, rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

void baton_draw_fill_rect(canvas *c, int x0, int y0, int w, int h, rgb col)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            baton_draw_put(c, x, y, col);
}

void baton_draw_hline(canvas *c, int x0, int x1, int y, rgb col)
{
    for (int x = x0; x <= x1; x++)
        baton_draw_put(c, x, y, col);
}

void baton_draw_vline(canvas *c, int x, int y0, int y1, rgb col)
{
    for (int y = y0; y <= y1; y++)
        baton_draw_put(c, x, y, col);
}

void baton_draw_rect_outline(canvas *c, int x0, int y0, int w, int h, rgb col)
{
    baton_draw_hline(c, x0, x0 + w - 1, y0, col);
    baton_draw_hline(c, x0, x0 + w - 1, y0 + h - 1, col);
    baton_draw_vline(c, x0, y0, y0 + h - 1, col);
    baton_draw_vline(c, x0 + w - 1, y0, y0 + h - 1, col);
}

/* A 3x3 dot for each pixel of the Bresenham line from (x0,y0) to (x1,y1), kept inside the clip
 * rectangle [cx0,cx1] x [cy0,cy1]. */
void baton_draw_thick_line(canvas *c, int x0, int y0, int x1, int y1, rgb col, int cx0, int cy0, int cx1, int cy1)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        for (int oy = -1; oy <= 1; oy++)
            for (int ox = -1; ox <= 1; ox++) {
                int x = x0 + ox, y = y0 + oy;
                if (x >= cx0 && x <= cx1 && y >= cy0 && y <= cy1)
                    baton_draw_put(c, x, y, col);
            }
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

/* ---- text ---------------------------------------------------------------------------------- */

/* 5x7 font for ASCII 32..126: five column bytes per glyph, bit 0 the top row. */
static const unsigned char FONT5X7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x14, 0x08, 0x3E, 0x08, 0x14}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x0C, 0x52, 0x52, 0x52, 0x3E},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08},
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},
};

/* Glyph codes (32..126) of s, at most MAX_LABEL; a non-ASCII byte or UTF-8 sequence becomes '?'. */
int baton_draw_glyphs(const char *s, char out[MAX_LABEL + 1])
{
    int n = 0, total = 0;
    char tmp[MAX_LABEL + 1];
    if (!s) {
        out[0] = '\0';
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char g;
        if (*p < 0x80) {
            g = (*p >= 32 && *p <= 126) ? (char)*p : '?';
            p++;
        } else {
            g = '?';
            p++;
            while ((*p & 0xC0) == 0x80) /* continuation bytes of the same character */
                p++;
        }
        if (n < MAX_LABEL)
            tmp[n++] = g;
        total++;
    }
    if (total > MAX_LABEL) {
        n = MAX_LABEL;
        tmp[MAX_LABEL - 2] = '.';
        tmp[MAX_LABEL - 1] = '.';
    }
    memcpy(out, tmp, (size_t)n);
    out[n] = '\0';
    return n;
}

int baton_draw_text_len(const char *s)
{
    char g[MAX_LABEL + 1];
    return baton_draw_glyphs(s, g);
}

/* Draws the n characters of s (printable ASCII) with the top-left corner at (x, y);
 * vertical: rotated a quarter turn counter-clockwise, read bottom to top, starting at the bottom
 * (x, y) and rising. Returns the width (or height) in pixels. */
int baton_draw_chars(canvas *c, int x, int y, const char *s, size_t n, rgb col, int vertical)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const unsigned char *g = FONT5X7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
        for (int gx = 0; gx < 5; gx++)
            for (int gy = 0; gy < 7; gy++) {
                if (!(g[gx] >> gy & 1))
                    continue;
                for (int sy = 0; sy < FONT_SCALE; sy++)
                    for (int sx = 0; sx < FONT_SCALE; sx++) {
                        int u = (int)i * CHAR_W + gx * FONT_SCALE + sx; /* along the text */
                        int v = gy * FONT_SCALE + sy;                   /* down the glyph */
                        if (vertical)
                            baton_draw_put(c, x + v, y - u, col);
                        else
                            baton_draw_put(c, x + u, y + v, col);
                    }
            }
    }
    return (int)n * CHAR_W;
}

/* A label, cut to MAX_LABEL characters. */
int baton_draw_label(canvas *c, int x, int y, const char *s, rgb col, int vertical)
{
    char g[MAX_LABEL + 1];
    int n = baton_draw_glyphs(s, g);
    return baton_draw_chars(c, x, y, g, (size_t)n, col, vertical);
}

/* A title or axis label: printable ASCII, not cut (the canvas clips it). */
static size_t text_sanitize(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 1 < cap;) {
        if (*p < 0x80) {
            out[n++] = (*p >= 32 && *p <= 126) ? (char)*p : '?';
            p++;
        } else {
            out[n++] = '?';
            p++;
            while ((*p & 0xC0) == 0x80)
                p++;
        }
    }
    out[n] = '\0';
    return n;
}

int baton_draw_text(canvas *c, int x, int y, const char *s, rgb col, int vertical)
{
    char buf[MAX_TEXT];
    size_t n = text_sanitize(s, buf, sizeof buf);
    return baton_draw_chars(c, x, y, buf, n, col, vertical);
}

int baton_draw_text_width(const char *s)
{
    char buf[MAX_TEXT];
    return (int)text_sanitize(s, buf, sizeof buf) * CHAR_W;
}

/* ---- PNG output ---------------------------------------------------------------------------- */

baton_status baton_draw_write_png(const char *path, const canvas *c)
{
#if BATON_HAVE_PNG
    baton_atomic_file a;
    BATON_TRY(baton_atomic_open(&a, path, "wb"));
    baton_status st = BATON_OK;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)c->w;
    img.height = (png_uint_32)c->h;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&img, a.f, 0, c->px, 0, NULL))
        st = BATON_ERROR(BATON_ERR_IO, "cannot write %s (libpng into %s): %s; %s is unchanged", path, a.tmp,
                         img.message, path);
    png_image_free(&img);
    if (st != BATON_OK) {
        baton_atomic_abort(&a);
        return st;
    }
    return baton_atomic_commit(&a);
#else
    (void)c;
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "plot %s: this build lacks libpng (install libpng-dev and reconfigure with -Dpng=enabled)",
                       path);
#endif
}

/* ---- palette and axes ---------------------------------------------------------------------- */

static const unsigned PALETTE[PLOT_PALETTE_SIZE] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

unsigned baton_plot_series_color(int k)
{
    return PALETTE[(unsigned)k % PLOT_PALETTE_SIZE];
}

rgb baton_draw_rgb_hex(unsigned v)
{
    rgb o = {(unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    return o;
}

/* Round tick spacing (1, 2 or 5 times a power of ten) giving about six intervals; the axis is
 * widened to multiples of it. */
axis baton_draw_axis_make(double lo, double hi)
{
    axis a;
    if (!(lo <= hi)) { /* no finite data */
        lo = 0.0;
        hi = 1.0;
    }
    if (hi - lo <= 0.0) {
        double d = lo != 0.0 ? fabs(lo) * 0.1 : 1.0;
        lo -= d;
        hi += d;
    }
    double span = hi - lo;
    if (!isfinite(span)) { /* beyond double range: no round ticks, just the ends */
        a.lo = lo;
        a.hi = hi;
        a.step = hi / 2 - lo / 2;
        a.n = 3;
        return a;
    }
    double raw = span / 6.0;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    double step = (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
    a.lo = floor(lo / step) * step;
    a.hi = ceil(hi / step) * step;
    a.step = step;
    a.n = (int)lround((a.hi - a.lo) / step) + 1;
    if (a.n < 2 || a.n > 50) { /* rounding trouble at extreme magnitudes */
        a.lo = lo;
        a.hi = hi;
        a.step = (hi - lo) / 4;
        a.n = 5;
    }
    return a;
}

double baton_draw_tick_value(const axis *a, int i)
{
    double v = a->lo + (double)i * a->step;
    if (fabs(v) < a->step * 1e-9)
        v = 0.0;
    return v;
}

/* Pixel coordinate of v on an axis mapped to [p0, p1], clamped far outside the canvas. */
int baton_draw_to_px(double v, const axis *a, int p0, int p1)
{
    double t = (v - a->lo) / (a->hi - a->lo);
    double p = (double)p0 + t * (double)(p1 - p0);
    if (!(p > -10000.0))
        p = -10000.0;
    if (p > 10000.0)
        p = 10000.0;
    return (int)lround(p);
}