/* status.c: status names and the one place that formats error lines. */
#include "baton/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *baton_status_name(baton_status st)
{
    switch (st) {
    case BATON_OK: return "ok";
    case BATON_ERR_INVALID: return "invalid argument";
    case BATON_ERR_OOM: return "out of memory";
    case BATON_ERR_IO: return "i/o error";
    case BATON_ERR_FORMAT: return "bad format";
    case BATON_ERR_UNSUPPORTED: return "unsupported";
    case BATON_ERR_CUDA: return "CUDA error";
    case BATON_ERR_CUBLAS: return "cuBLAS error";
    case BATON_ERR_CUDNN: return "cuDNN error";
    }
    return "unknown status";
}

#ifdef NDEBUG
static int show_source = 0;
#else
static int show_source = 1;
#endif

void baton_error_show_source(int on)
{
    show_source = on;
}

/* Where error lines go (NULL: stderr) and what they start with: one rank of several names itself. */
static FILE *err_out;
static char err_prefix[48];

void baton_error_route(FILE *out, const char *prefix)
{
    err_out = out;
    snprintf(err_prefix, sizeof err_prefix, "%s", prefix ? prefix : "");
}

FILE *baton_error_stream(void)
{
    return err_out ? err_out : stderr;
}

/* Per thread, so a worker's error never overwrites the one its caller is looking at. */
static _Thread_local char last_msg[1024];
static _Thread_local int quiet;

int baton_error_set_quiet(int q)
{
    int was = quiet;
    quiet = q;
    return was;
}

const char *baton_error_last(void)
{
    return last_msg;
}

baton_status baton_error_at(baton_status st, const char *file, int line, const char *fmt, ...)
{
    /* Builds compile from a sibling directory (../src/nn/rnn.c); name the file from the source root. */
    const char *base = file;
    while (strncmp(base, "../", 3) == 0)
        base += 3;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_msg, msg, sizeof msg);
    if (quiet)
        return st;
    if (show_source)
        fprintf(baton_error_stream(), "baton: error: %s%s (%s:%d)\n", err_prefix, msg, base, line);
    else
        fprintf(baton_error_stream(), "baton: error: %s%s\n", err_prefix, msg);
    return st;
}
