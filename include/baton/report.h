/* report.h: a benchmark's results as a table of named columns, printed aligned on a terminal and
 * written as CSV or JSON (chosen by the file's extension), each file headed by the machine lines. */
#ifndef BATON_REPORT_H
#define BATON_REPORT_H

#include <stdio.h>

#include "baton/status.h"

typedef struct {
    int ncol, nrow, cap;
    const char *const *cols; /* (ncol) column names, borrowed */
    char **cells;            /* (nrow * ncol) owned strings */
    char **own_cols;         /* (ncol) when read from a file: the names cols points at */
} baton_report;

/* An empty report with columns cols (borrowed: they must outlive the report). */
void baton_report_init(baton_report *r, const char *const *cols, int ncol);

/* Appends a row: fmt expands to the ncol cells separated by '|'. */
baton_status baton_report_row(baton_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The cell of `row` under column `col`, or NULL. */
const char *baton_report_cell(const baton_report *r, int row, const char *col);

/* Prints the table with aligned columns (numbers right-aligned). */
void baton_report_print(const baton_report *r, FILE *out);

/* Writes path: ".json" gives {"machine": [...], "rows": [{col: value}]} with numbers unquoted;
 * anything else CSV with "# " machine lines first. Written to path.tmp and renamed. */
baton_status baton_report_write(const baton_report *r, const char *path);

/* Reads a CSV report written by baton_report_write (or bench/pytorch_baseline.py): "#" lines
 * skipped, the first other line names the columns. */
baton_status baton_report_read_csv(baton_report *r, const char *path);

void baton_report_free(baton_report *r);

#endif
