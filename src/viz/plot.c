/* plot.c: attention heatmaps and loss curves as PNG files (see plot.h).
 *
 * Images are drawn into an RGB8 canvas in memory and encoded by libpng's simplified write API
 * (png_image_write_to_stdio) into "<path>.tmp", which is synced and renamed to path. Without
 * libpng everything but the encoding is still compiled (and checked by the compiler); the write
 * step then reports BATON_ERR_UNSUPPORTED. Text uses a 5x7 bitmap font drawn at 2x. */
#include "baton/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton_config.h"

#if BATON_HAVE_PNG
#include <png.h>
#endif

/* ---- canvas -------------------------------------------------------------------------------- */

typedef struct {
    unsigned char r, g, b;
} rgb;

typedef struct {
    int w, h;
    unsigned char *px; /* w * h * 3, row-major */
} canvas;

static const rgb WHITE = {255, 255, 255};
static const rgb TEXT = {34, 34, 34};
static const rgb AXIS = {90, 90, 90};
static const rgb GRID = {232, 232, 232};
static const rgb CELL_LINE = {238, 238, 238};
static const rgb NAN_FILL = {214, 214, 214};
static const rgb NAN_HATCH = {150, 150, 150};

static int canvas_init(canvas *c, int w, int h)
{
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px)
        return 0;
    memset(c->px, 255, (size_t)w * (size_t)h * 3);
    return 1;
}

static void put(canvas *c, int x, int y, rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void fill_rect(canvas *c, int x0, int y0, int w, int h, rgb col)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            put(c, x, y, col);
}

static void hline(canvas *c, int x0, int x1, int y, rgb col)
{
    for (int x = x0; x <= x1; x++)
        put(c, x, y, col);
}

static void vline(canvas *c, int x, int y0, int y1, rgb col)
{
    for (int y = y0; y <= y1; y++)
        put(c, x, y, col);
}

static void rect_outline(canvas *c, int x0, int y0, int w, int h, rgb col)
{
    hline(c, x0, x0 + w - 1, y0, col);
    hline(c, x0, x0 + w - 1, y0 + h - 1, col);
    vline(c, x0, y0, y0 + h - 1, col);
    vline(c, x0 + w - 1, y0, y0 + h - 1, col);
}

/* A 3x3 dot for each pixel of the Bresenham line from (x0,y0) to (x1,y1), kept inside the clip
 * rectangle [cx0,cx1] x [cy0,cy1]. */
static void thick_line(canvas *c, int x0, int y0, int x1, int y1, rgb col, int cx0, int cy0, int cx1, int cy1)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        for (int oy = -1; oy <= 1; oy++)
            for (int ox = -1; ox <= 1; ox++) {
                int x = x0 + ox, y = y0 + oy;
                if (x >= cx0 && x <= cx1 && y >= cy0 && y <= cy1)
                    put(c, x, y, col);
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

#define FONT_SCALE 2
#define CHAR_W (6 * FONT_SCALE) /* advance: 5 columns and a gap */
#define CHAR_H (7 * FONT_SCALE)
#define MAX_LABEL 16 /* longer labels: the first MAX_LABEL - 2 characters and ".." */
#define PAD 10

/* Glyph codes (32..126) of s, at most MAX_LABEL; a non-ASCII byte or UTF-8 sequence becomes '?'. */
static int glyphs(const char *s, char out[MAX_LABEL + 1])
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

static int text_len(const char *s)
{
    char g[MAX_LABEL + 1];
    return glyphs(s, g);
}

/* Draws the n characters of s (printable ASCII) with the top-left corner at (x, y);
 * vertical: rotated a quarter turn counter-clockwise, read bottom to top, starting at the bottom
 * (x, y) and rising. Returns the width (or height) in pixels. */
static int draw_chars(canvas *c, int x, int y, const char *s, size_t n, rgb col, int vertical)
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
                            put(c, x + v, y - u, col);
                        else
                            put(c, x + u, y + v, col);
                    }
            }
    }
    return (int)n * CHAR_W;
}

/* A label, cut to MAX_LABEL characters. */
static int draw_label(canvas *c, int x, int y, const char *s, rgb col, int vertical)
{
    char g[MAX_LABEL + 1];
    int n = glyphs(s, g);
    return draw_chars(c, x, y, g, (size_t)n, col, vertical);
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

#define MAX_TEXT 160

static int draw_text(canvas *c, int x, int y, const char *s, rgb col, int vertical)
{
    char buf[MAX_TEXT];
    size_t n = text_sanitize(s, buf, sizeof buf);
    return draw_chars(c, x, y, buf, n, col, vertical);
}

static int text_width(const char *s)
{
    char buf[MAX_TEXT];
    return (int)text_sanitize(s, buf, sizeof buf) * CHAR_W;
}

/* ---- PNG output ---------------------------------------------------------------------------- */

static baton_status write_png(const char *path, const canvas *c)
{
#if BATON_HAVE_PNG
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return BATON_ERROR(BATON_ERR_OOM, "plot %s: cannot allocate a file name", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        baton_status st = BATON_ERROR(BATON_ERR_IO, "plot %s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    baton_status st = BATON_OK;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)c->w;
    img.height = (png_uint_32)c->h;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&img, f, 0, c->px, 0, NULL))
        st = BATON_ERROR(BATON_ERR_IO, "plot %s: libpng cannot write %s: %s", path, tmp, img.message);
    png_image_free(&img);
    if (st == BATON_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = BATON_ERROR(BATON_ERR_IO, "plot %s: cannot flush %s to disk: %s", path, tmp, strerror(errno));
    if (fclose(f) != 0 && st == BATON_OK)
        st = BATON_ERROR(BATON_ERR_IO, "plot %s: cannot close %s: %s", path, tmp, strerror(errno));
    if (st == BATON_OK && rename(tmp, path) != 0)
        st = BATON_ERROR(BATON_ERR_IO, "plot %s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != BATON_OK)
        remove(tmp);
    free(tmp);
    return st;
#else
    (void)c;
    return BATON_ERROR(BATON_ERR_UNSUPPORTED,
                       "plot %s: this build lacks libpng (install libpng-dev and reconfigure with -Dpng=enabled)",
                       path);
#endif
}

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
        int len = labels ? text_len(labels[i]) : index_len(i);
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
    int tw = text_width(title) + 2 * PAD;
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
    if (!canvas_init(&c, L.width, L.height))
        return BATON_ERROR(BATON_ERR_OOM, "plot attention %s: cannot allocate a %dx%d image", path, L.width,
                           L.height);
    const int cell = L.cell;
    if (title)
        draw_text(&c, (L.width - text_width(title)) / 2, PAD, title, TEXT, 0);

    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            float w = weights[(size_t)r * (size_t)cols + (size_t)k];
            int x0 = L.left + k * cell, y0 = L.top + r * cell;
            if (isnan(w)) {
                fill_rect(&c, x0, y0, cell, cell, NAN_FILL);
                for (int y = 0; y < cell; y++)
                    for (int x = 0; x < cell; x++)
                        if ((x + y) % 6 == 0)
                            put(&c, x0 + x, y0 + y, NAN_HATCH);
            } else {
                fill_rect(&c, x0, y0, cell, cell, shade(w));
            }
        }
    /* faint cell boundaries, then a frame */
    for (int r = 1; r < rows; r++)
        hline(&c, L.left, L.left + cols * cell - 1, L.top + r * cell, CELL_LINE);
    for (int k = 1; k < cols; k++)
        vline(&c, L.left + k * cell, L.top, L.top + rows * cell - 1, CELL_LINE);
    rect_outline(&c, L.left - 1, L.top - 1, cols * cell + 2, rows * cell + 2, AXIS);

    /* labels: output tokens right-aligned on the left, source tokens rising from the top */
    char num[16];
    for (int r = 0; r < rows; r++) {
        const char *s = row_labels ? row_labels[r] : (snprintf(num, sizeof num, "%d", r), num);
        int w = text_len(s) * CHAR_W;
        draw_label(&c, L.left - 6 - w, L.top + r * cell + (cell - CHAR_H) / 2, s, TEXT, 0);
    }
    for (int k = 0; k < cols; k++) {
        const char *s = col_labels ? col_labels[k] : (snprintf(num, sizeof num, "%d", k), num);
        draw_label(&c, L.left + k * cell + (cell - CHAR_H) / 2, L.top - 6, s, TEXT, 1);
    }

    /* colour scale */
    int bar_x = L.left + cols * cell + HM_BAR_GAP;
    int bar_h = rows * cell > HM_BAR_MIN_H ? rows * cell : HM_BAR_MIN_H;
    for (int y = 0; y < bar_h; y++)
        hline(&c, bar_x, bar_x + HM_BAR_W - 1, L.top + y, shade(1.0f - (float)y / (float)(bar_h - 1)));
    rect_outline(&c, bar_x - 1, L.top - 1, HM_BAR_W + 2, bar_h + 2, AXIS);
    static const char *const bar_text[3] = {"1", "0.5", "0"};
    for (int i = 0; i < 3; i++) {
        int y = L.top + i * (bar_h - 1) / 2;
        hline(&c, bar_x + HM_BAR_W, bar_x + HM_BAR_W + 3, y, AXIS);
        int ty = y - CHAR_H / 2;
        if (ty < L.top)
            ty = L.top;
        if (ty > L.top + bar_h - CHAR_H)
            ty = L.top + bar_h - CHAR_H;
        draw_text(&c, bar_x + HM_BAR_W + 6, ty, bar_text[i], TEXT, 0);
    }

    baton_status st = write_png(path, &c);
    free(c.px);
    return st;
}

/* ---- curves -------------------------------------------------------------------------------- */

#define CURVE_MAX_SERIES 64

static const unsigned PALETTE[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

unsigned baton_plot_series_color(int k)
{
    return PALETTE[(unsigned)k % 10u];
}

static rgb rgb_hex(unsigned v)
{
    rgb o = {(unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    return o;
}

typedef struct {
    double lo, hi, step;
    int n; /* ticks lo, lo + step, ..., hi */
} axis;

/* Round tick spacing (1, 2 or 5 times a power of ten) giving about six intervals; the axis is
 * widened to multiples of it. */
static axis make_axis(double lo, double hi)
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

static double tick_value(const axis *a, int i)
{
    double v = a->lo + (double)i * a->step;
    if (fabs(v) < a->step * 1e-9)
        v = 0.0;
    return v;
}

static int tick_label(char *buf, size_t cap, double v)
{
    return snprintf(buf, cap, "%g", v);
}

/* Pixel coordinate of v on an axis mapped to [p0, p1], clamped far outside the canvas. */
static int to_px(double v, const axis *a, int p0, int p1)
{
    double t = (v - a->lo) / (a->hi - a->lo);
    double p = (double)p0 + t * (double)(p1 - p0);
    if (!(p > -10000.0))
        p = -10000.0;
    if (p > 10000.0)
        p = 10000.0;
    return (int)lround(p);
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
    axis ax = make_axis(xlo, xhi), ay = make_axis(ylo, yhi);

    const int W = BATON_PLOT_CURVE_W, H = BATON_PLOT_CURVE_H;
    char buf[64];
    int ytick_w = 0;
    for (int i = 0; i < ay.n; i++) {
        int w = tick_label(buf, sizeof buf, tick_value(&ay, i)) * CHAR_W;
        if (w > ytick_w)
            ytick_w = w;
    }
    int left = PAD + (ylabel ? CHAR_H + 10 : 0) + ytick_w + 10;
    /* room for half of the last x tick label past the right end of the axis */
    int last_w = tick_label(buf, sizeof buf, tick_value(&ax, ax.n - 1)) * CHAR_W;
    int right = W - (last_w / 2 + PAD > 24 ? last_w / 2 + PAD : 24);
    int top = PAD + CHAR_H + PAD + 6;
    int bottom = H - (6 + 4 + CHAR_H + (xlabel ? 10 + CHAR_H : 0) + PAD + 4);
    if (left > W / 2)
        left = W / 2;

    canvas c;
    if (!canvas_init(&c, W, H))
        return BATON_ERROR(BATON_ERR_OOM, "plot curves %s: cannot allocate a %dx%d image", path, W, H);

    if (title)
        draw_text(&c, (W - text_width(title)) / 2, PAD, title, TEXT, 0);
    if (xlabel)
        draw_text(&c, left + (right - left - text_width(xlabel)) / 2, H - PAD - CHAR_H, xlabel, TEXT, 0);
    if (ylabel)
        draw_text(&c, PAD, top + (bottom - top + text_width(ylabel)) / 2, ylabel, TEXT, 1);

    /* gridlines, ticks and tick labels */
    for (int i = 0; i < ax.n; i++) {
        double v = tick_value(&ax, i);
        int x = to_px(v, &ax, left, right);
        vline(&c, x, top, bottom, GRID);
        vline(&c, x, bottom, bottom + 5, AXIS);
        int n = tick_label(buf, sizeof buf, v);
        draw_chars(&c, x - n * CHAR_W / 2, bottom + 10, buf, (size_t)n, TEXT, 0);
    }
    for (int i = 0; i < ay.n; i++) {
        double v = tick_value(&ay, i);
        int y = to_px(v, &ay, bottom, top);
        hline(&c, left, right, y, GRID);
        hline(&c, left - 5, left, y, AXIS);
        int n = tick_label(buf, sizeof buf, v);
        draw_chars(&c, left - 8 - n * CHAR_W, y - CHAR_H / 2, buf, (size_t)n, TEXT, 0);
    }
    rect_outline(&c, left, top, right - left + 1, bottom - top + 1, AXIS);

    /* the series: polylines broken at non-finite points, lone points as dots */
    for (int s = 0; s < n_series; s++) {
        const baton_plot_series *S = &series[s];
        rgb col = rgb_hex(baton_plot_series_color(s));
        int have_prev = 0, px = 0, py = 0;
        for (int i = 0; i < S->n; i++) {
            if (!isfinite(S->x[i]) || !isfinite(S->y[i])) {
                have_prev = 0;
                continue;
            }
            int x = to_px(S->x[i], &ax, left, right), y = to_px(S->y[i], &ay, bottom, top);
            int next_ok = i + 1 < S->n && isfinite(S->x[i + 1]) && isfinite(S->y[i + 1]);
            if (have_prev)
                thick_line(&c, px, py, x, y, col, left + 1, top + 1, right - 1, bottom - 1);
            else if (!next_ok) /* a lone point: a 5x5 dot */
                for (int d = -1; d <= 1; d++)
                    thick_line(&c, x - 1, y + d, x + 1, y + d, col, left + 1, top + 1, right - 1, bottom - 1);
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
            w = text_len(series[s].name) * CHAR_W;
        else
            w = snprintf(nbuf, sizeof nbuf, "series %d", s) * CHAR_W;
        if (w > name_w)
            name_w = w;
    }
    int row_h = CHAR_H + 6;
    int lw = 8 + 24 + 8 + name_w + 8, lh = 8 + n_series * row_h - 6 + 8;
    int lx = right - 10 - lw, ly = top + 10;
    fill_rect(&c, lx, ly, lw, lh, WHITE);
    rect_outline(&c, lx, ly, lw, lh, AXIS);
    for (int s = 0; s < n_series; s++) {
        rgb col = rgb_hex(baton_plot_series_color(s));
        int y = ly + 8 + s * row_h;
        fill_rect(&c, lx + 8, y + CHAR_H / 2 - 1, 24, 3, col);
        if (series[s].name) {
            draw_label(&c, lx + 8 + 24 + 8, y, series[s].name, TEXT, 0);
        } else {
            int n = snprintf(nbuf, sizeof nbuf, "series %d", s);
            draw_chars(&c, lx + 8 + 24 + 8, y, nbuf, (size_t)n, TEXT, 0);
        }
    }

    baton_status st = write_png(path, &c);
    free(c.px);
    return st;
}
