/* testutil.h: helpers shared by baton's tests: error measures against float64 references, a
 * pass/fail reporter, deterministic random and poison fills, batch-major <-> time-major
 * transposes (baton's layers are time-major, the PyTorch fixtures batch-major), and locating
 * the reference fixtures. */
#ifndef BATON_TESTS_TESTUTIL_H
#define BATON_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit status that meson reads as "test skipped". */
#define TU_EXIT_SKIP 77

/* Floor of the reference norm in tu_rel_err, so an all-zero reference demands an all-zero result
 * (any nonzero output gives a huge error) instead of dividing by zero. */
#define TU_REL_TINY 1e-30

/* ‖out − ref‖₂ / max(‖ref‖₂, TU_REL_TINY), accumulated in double; +inf if any element of
 * either array is NaN (so a poisoned, never-written output always fails). */
double tu_rel_err(const float *out, const double *ref, size_t n);

/* As tu_rel_err, with a float reference. */
double tu_rel_err_ff(const float *out, const float *ref, size_t n);

/* max_i |out[i] − ref[i]|; +inf if any element of either array is NaN. */
double tu_max_abs(const float *out, const double *ref, size_t n);

/* Counts checks and failures across a test program. */
typedef struct {
    int checks, failures;
} tu_report;

/* Prints "name: rel err X (tol Y) ok|FAIL", counts it, and returns 1 when err <= tol (NaN fails). */
int tu_check(tu_report *r, const char *name, double err, double tol);

/* As tu_check, with "max abs err" in the line: for errors measured by tu_max_abs. */
int tu_check_abs(tu_report *r, const char *name, double err, double tol);

/* Prints "<what>: N checks, M failed" and returns the process exit status (0 all passed, 1 not). */
int tu_summary(const tu_report *r, const char *what);

/* malloc that stops the test (exit 1, a line on stderr) instead of returning NULL. */
void *tu_malloc(size_t n);

/* The whole file as a malloc'd buffer with one spare NUL byte (*size bytes read), or NULL. */
unsigned char *tu_read_file(const char *path, size_t *size);

/* Writes n bytes of buf to path (replacing it); 1 on success. */
int tu_write_file(const char *path, const void *buf, size_t n);

/* Counts a check in *r; when cond is false, counts a failure and prints the condition, its place
 * and a printf-style explanation. */
#define TU_EXPECT(r, cond, ...)                                                \
    do {                                                                       \
        (r)->checks++;                                                         \
        if (!(cond)) {                                                         \
            (r)->failures++;                                                   \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);             \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* x[i] = lo + (hi − lo)·u_i with u_i = baton_rng_uniform(seed, BATON_RNG_TEST | k, 0, i);
 * k must be below 2^24 (the purpose's low bits). */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed, uint32_t k);

/* Fills n floats with quiet NaN, to poison outputs before the call that must write them. */
void tu_fill_nan(float *x, size_t n);

/* dst (T,B,D) = src (B,T,D): batch-major to time-major. dst and src must not overlap. */
void tu_bt_to_tb(float *dst, const float *src, int B, int T, int D);

/* dst (B,T,D) = src (T,B,D): time-major to batch-major. dst and src must not overlap. */
void tu_tb_to_bt(float *dst, const float *src, int T, int B, int D);

/* As tu_bt_to_tb / tu_tb_to_bt for doubles. */
void tu_bt_to_tb_d(double *dst, const double *src, int B, int T, int D);
void tu_tb_to_bt_d(double *dst, const double *src, int T, int B, int D);

/* Writes the fixture directory into out and returns 1 when it exists: $BATON_FIXTURES if set,
 * else BATON_SOURCE_ROOT "/../shared/fixtures" (a compile-time macro); returns 0 when neither
 * names an existing directory (the caller should print why and exit TU_EXIT_SKIP). */
int testutil_fixture_dir(char *out, size_t n);

#endif
