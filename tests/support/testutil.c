/* testutil.c: see testutil.h. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* stat() when compiled outside meson's project arguments */
#endif

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baton/rng.h"

double tu_rel_err(const float *out, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(out[i]) || isnan(ref[i]))
            return INFINITY;
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return sqrt(num) / fmax(sqrt(den), TU_REL_TINY);
}

double tu_rel_err_ff(const float *out, const float *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(out[i]) || isnan(ref[i]))
            return INFINITY;
        double d = (double)out[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return sqrt(num) / fmax(sqrt(den), TU_REL_TINY);
}

double tu_max_abs(const float *out, const double *ref, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(out[i]) || isnan(ref[i]))
            return INFINITY;
        m = fmax(m, fabs((double)out[i] - ref[i]));
    }
    return m;
}

static int check(tu_report *r, const char *name, const char *kind, double err, double tol)
{
    int ok = err <= tol; /* false for NaN */
    r->checks++;
    if (!ok)
        r->failures++;
    printf("%s: %s %.3g (tol %.3g) %s\n", name, kind, err, tol, ok ? "ok" : "FAIL");
    return ok;
}

int tu_check(tu_report *r, const char *name, double err, double tol)
{
    return check(r, name, "rel err", err, tol);
}

int tu_check_abs(tu_report *r, const char *name, double err, double tol)
{
    return check(r, name, "max abs err", err, tol);
}

int tu_summary(const tu_report *r, const char *what)
{
    printf("%s: %d checks, %d failed\n", what, r->checks, r->failures);
    return r->failures ? 1 : 0;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed, uint32_t k)
{
    uint32_t purpose = (uint32_t)BATON_RNG_TEST | (k & 0xffffffu);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * baton_rng_uniform(seed, purpose, 0, i);
}

void tu_fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* dst (n1, n0, row) = src (n0, n1, row): swaps the two leading axes, moving whole rows. */
static void swap01(void *dst, const void *src, int n0, int n1, size_t row_bytes)
{
    char *d = dst;
    const char *s = src;
    for (int i = 0; i < n0; i++)
        for (int j = 0; j < n1; j++)
            memcpy(d + ((size_t)j * (size_t)n0 + (size_t)i) * row_bytes,
                   s + ((size_t)i * (size_t)n1 + (size_t)j) * row_bytes, row_bytes);
}

void tu_bt_to_tb(float *dst, const float *src, int B, int T, int D)
{
    swap01(dst, src, B, T, (size_t)D * sizeof *dst);
}

void tu_tb_to_bt(float *dst, const float *src, int T, int B, int D)
{
    swap01(dst, src, T, B, (size_t)D * sizeof *dst);
}

void tu_bt_to_tb_d(double *dst, const double *src, int B, int T, int D)
{
    swap01(dst, src, B, T, (size_t)D * sizeof *dst);
}

void tu_tb_to_bt_d(double *dst, const double *src, int T, int B, int D)
{
    swap01(dst, src, T, B, (size_t)D * sizeof *dst);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int testutil_fixture_dir(char *out, size_t n)
{
    const char *env = getenv("BATON_FIXTURES");
    if (env && *env) {
        /* An explicit setting wins even when wrong, so a typo is not masked by the default. */
        if ((size_t)snprintf(out, n, "%s", env) >= n || !is_dir(out)) {
            fprintf(stderr, "BATON_FIXTURES=%s is not a directory\n", env);
            return 0;
        }
        return 1;
    }
#ifdef BATON_SOURCE_ROOT
    if ((size_t)snprintf(out, n, "%s", BATON_SOURCE_ROOT "/../shared/fixtures") < n && is_dir(out))
        return 1;
#endif
    if (n)
        out[0] = '\0';
    return 0;
}

void *tu_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test: out of memory allocating %zu bytes\n", n);
        exit(1);
    }
    return p;
}

unsigned char *tu_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (buf = malloc((size_t)sb.st_size + 1))) {
        *size = fread(buf, 1, (size_t)sb.st_size, f);
        if (*size != (size_t)sb.st_size) {
            free(buf);
            buf = NULL;
        } else {
            buf[*size] = 0;
        }
    }
    fclose(f);
    return buf;
}

int tu_write_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}
