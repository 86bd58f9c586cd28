/* atomic_file.h: replacing a file so that a kill, a crash or a full disk at any moment leaves the
 * old file or the new one, whole. The writer fills PATH.tmp, in the same directory so that the
 * rename cannot cross filesystems; commit flushes and fsyncs it, renames it over PATH and fsyncs the
 * directory, which makes the rename itself durable. Every failure is one error line naming PATH,
 * the step that failed and its cause, and saying that PATH is unchanged; PATH.tmp is removed. Every
 * file baton writes into a model directory goes through here (docs/faults.md). */
#ifndef BATON_ATOMIC_FILE_H
#define BATON_ATOMIC_FILE_H

#include <stdio.h>

#include "baton/status.h"

typedef struct {
    FILE *f;          /* PATH.tmp, open for writing */
    const char *path; /* the file commit replaces (the caller's string, kept until commit or abort) */
    char *tmp;        /* PATH.tmp */
} baton_atomic_file;

/* Creates PATH.tmp for writing with fopen's mode ("w" or "wb"). */
baton_status baton_atomic_open(baton_atomic_file *a, const char *path, const char *mode);

/* Flushes PATH.tmp to disk, renames it over PATH and syncs the directory. A write error the stream
 * remembers (ferror) fails it too, so writers may check their fprintf calls only here. Closes the
 * file either way; on failure PATH.tmp is gone and PATH as it was. */
baton_status baton_atomic_commit(baton_atomic_file *a);

/* Closes and removes PATH.tmp: the writer failed (its error already set); PATH is as it was. */
void baton_atomic_abort(baton_atomic_file *a);

/* Test hook (docs/faults.md): with BATON_FAULT_WRITE_PAUSE_MS=N in the environment, writers call
 * this in the middle of a file (a safetensors file after its header and first tensor, config.txt
 * before its commit), so that a test's kill -9 lands inside writes and a test can free a
 * full disk between two attempts. Without the variable, nothing. */
void baton_fault_write_pause(void);

#endif
