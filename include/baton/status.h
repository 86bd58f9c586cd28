/* status.h: status codes and error reporting.
 * Library functions return a baton_status and print one line to stderr that says what was
 * expected and where; only the command line decides to exit. */
#ifndef BATON_STATUS_H
#define BATON_STATUS_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BATON_OK = 0,
    BATON_ERR_INVALID,     /* a bad argument, shape or option */
    BATON_ERR_OOM,         /* an allocation failed or an arena is too small */
    BATON_ERR_IO,          /* a file could not be read or written */
    BATON_ERR_FORMAT,      /* a file's contents are not what was expected */
    BATON_ERR_UNSUPPORTED, /* the build or device lacks the feature */
    BATON_ERR_CUDA,        /* a CUDA runtime call or kernel launch failed */
    BATON_ERR_CUBLAS,      /* a cuBLAS call failed */
    BATON_ERR_CUDNN,       /* a cuDNN call failed */
} baton_status;

/* Short, stable name of a status ("invalid argument", ...). */
const char *baton_status_name(baton_status st);

/* Prints "baton: error: <message>" (and, see baton_error_show_source, " (<file>:<line>)") to
 * stderr and returns st. */
baton_status baton_error_at(baton_status st, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether error lines end with baton's own source position "(src/nn/rnn.c:42)": on in debug
 * builds, off otherwise until a program asks (baton's --verbose). Users need the option, file and
 * line of their input, which the messages carry; the source position is for baton's developers. */
void baton_error_show_source(int on);

/* Sends error lines to out (NULL: stderr), each message starting with prefix ("rank 1 of 2: "):
 * a data-parallel rank that keeps quiet still reports its failures. Not thread-safe: set it first. */
void baton_error_route(FILE *out, const char *prefix);

/* The stream error lines go to. */
FILE *baton_error_stream(void);

/* The message of the last error reported on this thread (no prefix, no source position), or ""
 * before any: lets tests assert on what a failure said without capturing stderr. */
const char *baton_error_last(void);

/* On this thread, quiet (1) makes error lines recorded (baton_error_last) but not printed, for a
 * caller that reports a failure itself as one line with its own context (the file the bad values
 * came from); returns the previous setting, which the caller restores. */
int baton_error_set_quiet(int quiet);

/* Returns st after printing the message with the caller's source position. */
#define BATON_ERROR(st, ...) baton_error_at((st), __FILE__, __LINE__, __VA_ARGS__)

/* Evaluates a baton_status expression and returns it from the caller when it is not BATON_OK. */
#define BATON_TRY(expr)                    \
    do {                                   \
        baton_status baton_try_st_ = (expr); \
        if (baton_try_st_ != BATON_OK)     \
            return baton_try_st_;          \
    } while (0)

/* Returns BATON_ERR_INVALID with a message when cond is false. */
#define BATON_REQUIRE(cond, ...)                             \
    do {                                                     \
        if (!(cond))                                         \
            return BATON_ERROR(BATON_ERR_INVALID, __VA_ARGS__); \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
