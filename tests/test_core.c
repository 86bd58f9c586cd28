/* test_core.c: the parameter table (names, alignment, errors) and the arena (measure-then-carve,
 * and a clear failure when a real arena is too small), and quiet error lines. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "baton/arena.h"
#include "baton/param.h"
#include "support/testutil.h"

static void check_table(tu_report *r)
{
    baton_param_table t;
    baton_param_table_init(&t);
    int64_t a[2] = {3, 5}, b[1] = {64}, c[2] = {1, 1}, bad[2] = {4, 0};
    int ia = -1, ib = -1, ic = -1;
    int ok = baton_param_add(&t, &ia, "enc.w", 2, a) == BATON_OK && baton_param_add(&t, &ib, "enc.b", 1, b) == BATON_OK &&
             baton_param_add(&t, &ic, "dec.w", 2, c) == BATON_OK;
    tu_check_abs(r, "table: three tensors added", !ok, 0);
    size_t misaligned = 0;
    for (int i = 0; i < t.count; i++)
        misaligned += (t.items[i].offset * sizeof(float)) % 256 != 0;
    tu_check_abs(r, "table: offsets not 256-byte aligned", (double)misaligned, 0);
    tu_check_abs(r, "table: offsets 0, 64, 128", (double)(t.items[0].offset != 0) + (t.items[1].offset != 64) +
                 (t.items[2].offset != 128), 0);
    tu_check_abs(r, "table: total floats - 192", (double)t.total - 192, 0);
    tu_check_abs(r, "table: find", (double)(baton_param_find(&t, "enc.b") != ib) + (baton_param_find(&t, "x") != -1), 0);
    fprintf(stderr, "(the next two errors are expected)\n");
    tu_check_abs(r, "table: duplicate name refused", baton_param_add(&t, NULL, "enc.w", 2, a) != BATON_ERR_INVALID, 0);
    tu_check_abs(r, "table: zero dimension refused", baton_param_add(&t, NULL, "z", 2, bad) != BATON_ERR_INVALID, 0);
    baton_param_table_free(&t);
}

static void check_arena(tu_report *r)
{
    baton_backend be;
    baton_cpu_backend_create(&be, 1);
    float *p[3];
    size_t n[3] = {1, 100, 64};
    baton_arena m = baton_arena_measuring();
    for (int i = 0; i < 3; i++)
        baton_arena_floats(&m, &p[i], n[i], "test");
    tu_check_abs(r, "arena: measured bytes - 3 aligned blocks (256 + 512 + 256)", (double)m.used - 1024, 0);
    baton_arena a;
    int bad = baton_arena_create(&a, &be, m.used) != BATON_OK;
    for (int i = 0; i < 3 && !bad; i++)
        bad = baton_arena_floats(&a, &p[i], n[i], "test") != BATON_OK || ((uintptr_t)p[i] % 256) != 0;
    tu_check_abs(r, "arena: carving what was measured, aligned", bad, 0);
    fprintf(stderr, "(the next error is expected)\n");
    tu_check_abs(r, "arena: overflow refused", baton_arena_floats(&a, &p[0], 1, "one more") != BATON_ERR_OOM, 0);
    baton_arena_destroy(&a);
    baton_backend_destroy(&be);
}

/* baton_error_set_quiet: a quiet error is recorded but not printed; the setting is restored. */
static void check_quiet(tu_report *r)
{
    int was = baton_error_set_quiet(1);
    baton_status st = BATON_ERROR(BATON_ERR_FORMAT, "quiet %d", 7);
    int quiet_again = baton_error_set_quiet(was);
    tu_check_abs(r, "errors: a quiet error is recorded with its status",
                 (double)(st != BATON_ERR_FORMAT) + (strcmp(baton_error_last(), "quiet 7") != 0), 0);
    tu_check_abs(r, "errors: set_quiet returns the previous setting", (double)(was != 0) + (quiet_again != 1), 0);
}

int main(void)
{
    tu_report r = {0, 0};
    check_table(&r);
    check_arena(&r);
    check_quiet(&r);
    return tu_summary(&r, "core");
}
