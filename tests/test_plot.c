/* test_plot.c: attention heatmaps and loss curves (plot.h) written into a fresh temporary
 * directory and read back with libpng's png_image API. Heatmap: the size matches the documented
 * layout (left/top margins from the longest labels, 24 px cells), a weight-1 cell is dark blue, a
 * weight-0 cell white, a NaN cell grey, the background white. Curves: 800x500, a white corner,
 * each series' colour present along its line (more pixels than its legend sample alone), a curve
 * with a NaN point still drawn. Bars: 500 high, at least 800 wide and wider with more bars; along
 * the row just above the x axis the bars appear left to right in their series' colours (a NaN bar
 * missing, a grey "n/a" instead), their heights proportional to the values, a value printed above
 * the tallest, the legend swatches right of the bars; an all-zero chart draws no bars. Bad input
 * (including negative or infinite values) gives BATON_ERR_INVALID, an unwritable path
 * BATON_ERR_IO, and no ".tmp" file is left behind. Without libpng the calls must say
 * BATON_ERR_UNSUPPORTED and the test is skipped (exit 77). Exact checks pass at err 0, fail at 1. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton/plot.h"
#include "baton_config.h"
#include "testutil.h"

#if BATON_HAVE_PNG
#include <png.h>
#endif

static int check(tu_report *r, const char *name, int ok)
{
    return tu_check_abs(r, name, ok ? 0.0 : 1.0, 0.0);
}

#if BATON_HAVE_PNG

typedef struct {
    int w, h;
    unsigned char *px; /* RGB8 */
} image;

static int read_png(const char *path, image *im)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    im->px = NULL;
    if (!png_image_begin_read_from_file(&img, path)) {
        fprintf(stderr, "cannot read %s: %s\n", path, img.message);
        return 0;
    }
    img.format = PNG_FORMAT_RGB;
    im->px = malloc(PNG_IMAGE_SIZE(img));
    if (!im->px || !png_image_finish_read(&img, NULL, im->px, 0, NULL)) {
        fprintf(stderr, "cannot decode %s: %s\n", path, img.message);
        png_image_free(&img);
        free(im->px);
        im->px = NULL;
        return 0;
    }
    im->w = (int)img.width;
    im->h = (int)img.height;
    return 1;
}

static unsigned pixel(const image *im, int x, int y)
{
    const unsigned char *p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
    return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
}

static long count_color(const image *im, unsigned rgb, int x0, int x1)
{
    long n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = x0; x < x1; x++)
            n += pixel(im, x, y) == rgb;
    return n;
}

/* No file in dir ends in ".tmp". */
static int no_tmp_left(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int ok = 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n >= 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
            fprintf(stderr, "left behind: %s/%s\n", dir, e->d_name);
            ok = 0;
        }
    }
    closedir(d);
    return ok;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    closedir(d);
    rmdir(dir);
}

static int mkdir_p_ok(const char *path)
{
    return mkdir(path, 0700) == 0;
}

static void test_heatmap(tu_report *r, const char *dir)
{
    /* 3 output tokens x 4 source tokens; the longest row label has 5 characters, the longest
     * column label 6, and one column label is cut to 16 */
    const char *rows_l[3] = {"drei", "vier", "</s>!"};
    const char *cols_l[4] = {"three", "four", "<eos>a", "a_very_long_source_token"};
    float w[12] = {1.0f, 0.0f, 0.5f, 0.0f,  /* */
                   0.0f, 1.0f, 0.0f, 0.25f, /* */
                   0.0f, NAN,  0.0f, 1.0f};
    char path[4200];
    snprintf(path, sizeof path, "%s/attn.png", dir);
    baton_status st = baton_plot_attention(path, "attention: example", w, 3, 4, rows_l, cols_l);
    check(r, "heatmap: written", st == BATON_OK);

    baton_plot_layout L;
    check(r, "heatmap: layout", baton_plot_attention_layout("attention: example", 3, 4, rows_l, cols_l, &L) == BATON_OK);
    check(r, "heatmap: left margin = 16 + 12 * 5", L.left == 16 + 12 * 5);
    check(r, "heatmap: top margin = 16 + 12 * 16 + 34 (long label cut)", L.top == 16 + 12 * 16 + 34);
    check(r, "heatmap: cell 24 px", L.cell == 24);

    image im;
    if (!check(r, "heatmap: reads back", read_png(path, &im)))
        return;
    printf("heatmap %dx%d, cells from (%d, %d)\n", im.w, im.h, L.left, L.top);
    check(r, "heatmap: size as laid out", im.w == L.width && im.h == L.height);
    check(r, "heatmap: grid and scale fit", im.w >= L.left + 4 * 24 && im.h >= L.top + 3 * 24);
#define CENTRE(rr, cc) pixel(&im, L.left + (cc) * 24 + 12, L.top + (rr) * 24 + 12)
    unsigned one = CENTRE(0, 0), zero = CENTRE(0, 1), half = CENTRE(0, 2), nanc = CENTRE(2, 1);
    printf("weight 1: %06x, 0: %06x, 0.5: %06x, NaN: %06x\n", one, zero, half, nanc);
    int r1 = (int)(one >> 16), g1 = (int)(one >> 8 & 255), b1 = (int)(one & 255);
    check(r, "heatmap: weight-1 cell dark blue", r1 < 40 && g1 < 80 && b1 > 80 && b1 < 160);
    check(r, "heatmap: weight-0 cell white", zero == 0xffffff);
    check(r, "heatmap: weight-1 cells all alike", CENTRE(1, 1) == one && CENTRE(2, 3) == one);
    int rh = (int)(half >> 16);
    check(r, "heatmap: weight-0.5 between", rh > r1 && rh < 255 && (half & 255) > (half >> 16));
    unsigned nr = nanc >> 16, ng = nanc >> 8 & 255, nb = nanc & 255;
    check(r, "heatmap: NaN cell grey", nr == ng && ng == nb && nr > 100 && nr < 240);
    check(r, "heatmap: background white (bottom-left corner)", pixel(&im, 1, im.h - 2) == 0xffffff);
    /* some dark text in the label margins */
    long dark = 0;
    for (int y = L.top; y < L.top + 3 * 24; y++)
        for (int x = 0; x < L.left - 4; x++)
            dark += pixel(&im, x, y) == 0x222222;
    check(r, "heatmap: row labels drawn", dark > 30);
    free(im.px);
}

static void test_curves(tu_report *r, const char *dir)
{
    enum { N = 200 };
    double x[N], y0[N], y1[N];
    for (int i = 0; i < N; i++) {
        x[i] = 10.0 * i;
        y0[i] = 4.0 * exp(-i / 40.0) + 0.3;
        y1[i] = 4.5 * exp(-i / 60.0) + 0.5;
    }
    y1[50] = NAN; /* skipped */
    baton_plot_series s[2] = {{"train", x, y0, N}, {"dev", x, y1, N}};
    char path[4200];
    snprintf(path, sizeof path, "%s/loss.png", dir);
    baton_status st = baton_plot_curves(path, "loss", "step", "loss (nats)", s, 2);
    check(r, "curves: written", st == BATON_OK);
    image im;
    if (!check(r, "curves: reads back", read_png(path, &im)))
        return;
    check(r, "curves: 800x500", im.w == BATON_PLOT_CURVE_W && im.h == BATON_PLOT_CURVE_H);
    check(r, "curves: background white (corner)", pixel(&im, 2, im.h - 2) == 0xffffff);
    for (int k = 0; k < 2; k++) {
        unsigned col = baton_plot_series_color(k);
        /* the legend sample is 24x3 = 72 pixels at the right; the line spans the whole width */
        long left_half = count_color(&im, col, 0, im.w / 2);
        long all = count_color(&im, col, 0, im.w);
        printf("series %d colour %06x: %ld pixels (%ld in the left half)\n", k, col, all, left_half);
        char name[64];
        snprintf(name, sizeof name, "curves: series %d colour along its line", k);
        check(r, name, left_half > 300 && all > left_half + 72);
    }
    check(r, "curves: distinct colours", baton_plot_series_color(0) != baton_plot_series_color(1));
    free(im.px);

    /* one series, all NaN but one point; no names: still a valid image */
    double xs[3] = {0, 1, 2}, ys[3] = {NAN, 1.0, NAN};
    baton_plot_series lone = {NULL, xs, ys, 3};
    snprintf(path, sizeof path, "%s/lone.png", dir);
    check(r, "curves: lone point, no labels", baton_plot_curves(path, NULL, NULL, NULL, &lone, 1) == BATON_OK);
    if (check(r, "curves: lone point reads back", read_png(path, &im))) {
        check(r, "curves: lone point drawn", count_color(&im, baton_plot_series_color(0), 0, im.w) >= 72 + 25);
        free(im.px);
    }
}

static void test_errors(tu_report *r, const char *dir)
{
    char path[4200];
    float w[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    snprintf(path, sizeof path, "%s/bad.png", dir);
    fprintf(stderr, "(expected error lines follow)\n");
    check(r, "heatmap: rows = 0 invalid", baton_plot_attention(path, "t", w, 0, 2, NULL, NULL) == BATON_ERR_INVALID);
    check(r, "heatmap: cols < 0 invalid", baton_plot_attention(path, "t", w, 2, -1, NULL, NULL) == BATON_ERR_INVALID);
    check(r, "heatmap: too many rows invalid",
          baton_plot_attention(path, "t", w, BATON_PLOT_MAX_CELLS + 1, 2, NULL, NULL) == BATON_ERR_INVALID);
    check(r, "heatmap: NULL weights invalid", baton_plot_attention(path, "t", NULL, 2, 2, NULL, NULL) == BATON_ERR_INVALID);
    double x[2] = {0, 1};
    baton_plot_series bad = {"b", x, NULL, 2};
    check(r, "curves: NULL y invalid", baton_plot_curves(path, "t", "x", "y", &bad, 1) == BATON_ERR_INVALID);
    check(r, "curves: 0 series invalid", baton_plot_curves(path, "t", "x", "y", &bad, 0) == BATON_ERR_INVALID);
    bad.y = x;
    bad.n = -1;
    check(r, "curves: n < 0 invalid", baton_plot_curves(path, "t", "x", "y", &bad, 1) == BATON_ERR_INVALID);
    check(r, "bad input wrote nothing", access(path, F_OK) != 0);

    snprintf(path, sizeof path, "%s/no/such/dir/attn.png", dir);
    check(r, "heatmap: unwritable path is an IO error",
          baton_plot_attention(path, "t", w, 2, 2, NULL, NULL) == BATON_ERR_IO);
    bad.n = 2;
    check(r, "curves: unwritable path is an IO error", baton_plot_curves(path, "t", "x", "y", &bad, 1) == BATON_ERR_IO);
    /* a directory where the file should go: the .tmp is written, the rename fails and the .tmp
     * must be removed */
    snprintf(path, sizeof path, "%s/adir.png", dir);
    if (check(r, "made a directory in the way", mkdir_p_ok(path))) {
        check(r, "heatmap: rename onto a directory is an IO error",
              baton_plot_attention(path, "t", w, 2, 2, NULL, NULL) == BATON_ERR_IO);
    }
    fprintf(stderr, "(end of expected error lines)\n");
}

/* A bar found along one row: its colour, first and last column, and its height in pixels. */
typedef struct {
    unsigned col;
    int x0, x1, h;
} bar_run;

static int is_series_color(unsigned c, int n_series)
{
    for (int s = 0; s < n_series; s++)
        if (c == baton_plot_series_color(s))
            return 1;
    return 0;
}

/* The lowest row holding a series colour: the one just above the x axis, on which every bar
 * stands (the legend swatches are higher up). -1 when there is none. */
static int bar_base_row(const image *im, int n_series)
{
    for (int y = im->h - 1; y >= 0; y--)
        for (int x = 0; x < im->w; x++)
            if (is_series_color(pixel(im, x, y), n_series))
                return y;
    return -1;
}

/* Runs of series colours along row y, with the height of each bar measured up its middle. */
static int bar_runs(const image *im, int y, int n_series, bar_run *out, int cap)
{
    int n = 0;
    for (int x = 0; x < im->w && n < cap;) {
        unsigned c = pixel(im, x, y);
        if (!is_series_color(c, n_series)) {
            x++;
            continue;
        }
        bar_run *b = &out[n++];
        b->col = c;
        b->x0 = x;
        while (x < im->w && pixel(im, x, y) == c)
            x++;
        b->x1 = x - 1;
        int mid = (b->x0 + b->x1) / 2;
        b->h = 0;
        while (y - b->h >= 0 && pixel(im, mid, y - b->h) == c)
            b->h++;
    }
    return n;
}

static void test_bars(tu_report *r, const char *dir)
{
    enum { G = 3, S = 3 };
    const char *groups[G] = {"small", "base-2x512", "a_very_long_configuration_name"};
    const char *systems[S] = {"baton-fused", "baton-cudnn", "pytorch"};
    const double v[G * S] = {142000, 118500, 95300, /* */
                             81200,  NAN,    60100, /* */
                             33450,  35100,  1200000};
    char path[4200];
    snprintf(path, sizeof path, "%s/bars.png", dir);
    check(r, "bars: written", baton_plot_bars(path, "tokens/s", "tokens/s", groups, G, systems, S, v) == BATON_OK);
    image im;
    if (!check(r, "bars: reads back", read_png(path, &im)))
        return;
    printf("bars %dx%d\n", im.w, im.h);
    check(r, "bars: 500 high, at least 800 wide", im.h == BATON_PLOT_CURVE_H && im.w >= BATON_PLOT_CURVE_W);
    check(r, "bars: background white (corner)", pixel(&im, 2, im.h - 2) == 0xffffff);
    int base = bar_base_row(&im, S);
    bar_run run[16];
    int n = base >= 0 ? bar_runs(&im, base, S, run, 16) : 0;
    check(r, "bars: 8 bars on the baseline (the NaN one missing)", n == 8);
    if (n == 8) {
        /* left to right: group by group, series in order, skipping (1, 1) */
        const int series_of[8] = {0, 1, 2, 0, 2, 0, 1, 2}, value_of[8] = {0, 1, 2, 3, 5, 6, 7, 8};
        int order_ok = 1, height_ok = 1, tallest = 7;
        for (int i = 0; i < 8; i++) {
            order_ok &= run[i].col == baton_plot_series_color(series_of[i]);
            order_ok &= i == 0 || run[i].x0 > run[i - 1].x1;
            double want = v[value_of[i]] / v[8] * run[tallest].h;
            printf("bar %d: x %d..%d colour %06x height %d (want %.1f)\n", i, run[i].x0, run[i].x1, run[i].col,
                   run[i].h, want);
            height_ok &= fabs(run[i].h - want) <= 2.0;
        }
        check(r, "bars: series colours in group order", order_ok);
        check(r, "bars: heights proportional to the values", height_ok);
        check(r, "bars: all bars one width", run[0].x1 - run[0].x0 == run[7].x1 - run[7].x0);
        /* the gap left by the NaN bar: wider between bars 3 and 4 than inside group 0 */
        int inner_gap = run[1].x0 - run[0].x1, width = run[0].x1 - run[0].x0;
        check(r, "bars: gap where the NaN bar is", run[4].x0 - run[3].x1 > inner_gap + width);
        long text = 0; /* the value above the tallest bar, within two text heights */
        for (int y = base - run[7].h - 30; y < base - run[7].h; y++)
            for (int x = run[7].x0; x <= run[7].x1; x++)
                text += pixel(&im, x, y) == 0x222222;
        check(r, "bars: value printed above the tallest bar", text > 20);
        long legend = 0;
        for (int s = 0; s < S; s++)
            legend += count_color(&im, baton_plot_series_color(s), run[7].x1 + 1, im.w);
        check(r, "bars: legend swatches right of the bars", legend >= 3 * 100);
    }
    check(r, "bars: grey n/a drawn for the NaN value", count_color(&im, 0x969696, 0, im.w) > 20);
    int narrow = im.w;
    free(im.px);

    /* twelve groups need more room than three */
    const char *many_g[12] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
    double many_v[12 * S];
    for (int i = 0; i < 12 * S; i++)
        many_v[i] = 1000.0 * (i + 1);
    snprintf(path, sizeof path, "%s/bars_many.png", dir);
    check(r, "bars: many written", baton_plot_bars(path, NULL, NULL, many_g, 12, systems, S, many_v) == BATON_OK);
    if (check(r, "bars: many reads back", read_png(path, &im))) {
        printf("bars, 12 groups: %dx%d\n", im.w, im.h);
        check(r, "bars: width grows with the bars", im.w > narrow);
        free(im.px);
    }
}

static void test_bars_zero(tu_report *r, const char *dir)
{
    const char *groups[2] = {"x", NULL};
    const char *names[2] = {"one", NULL};
    const double v[4] = {0.0, 0.0, 0.0, 0.0};
    char path[4200];
    snprintf(path, sizeof path, "%s/bars_zero.png", dir);
    check(r, "bars: all-zero written", baton_plot_bars(path, NULL, NULL, groups, 2, names, 2, v) == BATON_OK);
    image im;
    if (!check(r, "bars: all-zero reads back", read_png(path, &im)))
        return;
    check(r, "bars: all-zero is 800x500", im.w == BATON_PLOT_CURVE_W && im.h == BATON_PLOT_CURVE_H);
    /* only the two 14x14 legend swatches carry series colours */
    long c0 = count_color(&im, baton_plot_series_color(0), 0, im.w);
    long c1 = count_color(&im, baton_plot_series_color(1), 0, im.w);
    printf("all-zero chart: %ld and %ld series pixels\n", c0, c1);
    check(r, "bars: all-zero draws no bars", c0 == 14 * 14 && c1 == 14 * 14);
    free(im.px);
}

static void test_bars_errors(tu_report *r, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/bad_bars.png", dir);
    const char *g[2] = {"a", "b"}, *s[2] = {"x", "y"};
    double v[4] = {1, 2, 3, 4};
    static double big[BATON_PLOT_MAX_BARS + 64];
    static const char *many[BATON_PLOT_MAX_GROUPS + 1];
    fprintf(stderr, "(expected error lines follow)\n");
    check(r, "bars: NULL path invalid", baton_plot_bars(NULL, "t", "y", g, 2, s, 2, v) == BATON_ERR_INVALID);
    check(r, "bars: 0 groups invalid", baton_plot_bars(path, "t", "y", g, 0, s, 2, v) == BATON_ERR_INVALID);
    check(r, "bars: 0 series invalid", baton_plot_bars(path, "t", "y", g, 2, s, 0, v) == BATON_ERR_INVALID);
    check(r, "bars: too many groups invalid",
          baton_plot_bars(path, "t", "y", many, BATON_PLOT_MAX_GROUPS + 1, s, 1, big) == BATON_ERR_INVALID);
    check(r, "bars: too many series invalid",
          baton_plot_bars(path, "t", "y", many, 1, many, BATON_PLOT_MAX_BAR_SERIES + 1, big) == BATON_ERR_INVALID);
    check(r, "bars: too many bars invalid",
          baton_plot_bars(path, "t", "y", many, BATON_PLOT_MAX_GROUPS, many, 5, big) == BATON_ERR_INVALID);
    check(r, "bars: NULL values invalid", baton_plot_bars(path, "t", "y", g, 2, s, 2, NULL) == BATON_ERR_INVALID);
    check(r, "bars: NULL groups invalid", baton_plot_bars(path, "t", "y", NULL, 2, s, 2, v) == BATON_ERR_INVALID);
    check(r, "bars: NULL names invalid", baton_plot_bars(path, "t", "y", g, 2, NULL, 2, v) == BATON_ERR_INVALID);
    v[3] = -1.0;
    check(r, "bars: negative value invalid", baton_plot_bars(path, "t", "y", g, 2, s, 2, v) == BATON_ERR_INVALID);
    v[3] = INFINITY;
    check(r, "bars: infinite value invalid", baton_plot_bars(path, "t", "y", g, 2, s, 2, v) == BATON_ERR_INVALID);
    check(r, "bars: bad input wrote nothing", access(path, F_OK) != 0);
    v[3] = 4.0;
    snprintf(path, sizeof path, "%s/no/such/dir/bars.png", dir);
    check(r, "bars: unwritable path is an IO error", baton_plot_bars(path, "t", "y", g, 2, s, 2, v) == BATON_ERR_IO);
    fprintf(stderr, "(end of expected error lines)\n");
}

int main(void)
{
    tu_report r = {0, 0};
    char dir[] = "/tmp/baton-plot-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    const char *keep = getenv("BATON_PLOT_KEEP"); /* set to keep the images for a look */
    test_heatmap(&r, dir);
    test_curves(&r, dir);
    test_errors(&r, dir);
    test_bars(&r, dir);
    test_bars_zero(&r, dir);
    test_bars_errors(&r, dir);
    check(&r, "no .tmp file left", no_tmp_left(dir));
    if (keep)
        printf("images kept in %s\n", dir);
    else
        remove_dir(dir);
    return tu_summary(&r, "plot");
}

#else /* no libpng */

int main(void)
{
    tu_report r = {0, 0};
    float w[1] = {0.5f};
    double x[1] = {0.0};
    baton_plot_series s = {"s", x, x, 1};
    fprintf(stderr, "(expected error lines follow)\n");
    check(&r, "heatmap unsupported", baton_plot_attention("/tmp/baton-plot-none.png", "t", w, 1, 1, NULL, NULL) ==
                                         BATON_ERR_UNSUPPORTED);
    check(&r, "curves unsupported",
          baton_plot_curves("/tmp/baton-plot-none.png", "t", "x", "y", &s, 1) == BATON_ERR_UNSUPPORTED);
    const char *g[1] = {"g"};
    check(&r, "bars unsupported",
          baton_plot_bars("/tmp/baton-plot-none.png", "t", "y", g, 1, g, 1, x) == BATON_ERR_UNSUPPORTED);
    if (tu_summary(&r, "plot (no libpng)") != 0)
        return 1;
    printf("built without libpng (libpng-dev): skipped\n");
    return TU_EXIT_SKIP;
}

#endif
