/* progress.c: where a long benchmark sweep is, on stderr. */
#include <stdarg.h>

#include "bench_internal.h"

void bench_progress(const bench_opts *o, int k, int n, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (o->progress)
        fprintf(stderr, "\r\033[K[%d/%d] %s", k, n, what);
    else
        fprintf(stderr, "[%d/%d] %s\n", k, n, what);
}

void bench_progress_done(const bench_opts *o)
{
    if (o->progress)
        fputs("\r\033[K", stderr);
}
