/* test_emu.h: what the CUDA emulation's test programs share (emu_harness.c): test_emu.c checks
 * that each feature works, test_emu_faults.c that each check fires, test_emu_lt.c cuBLASLt. */
#ifndef BATON_TESTS_TEST_EMU_H
#define BATON_TESTS_TEST_EMU_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "testutil.h"

extern tu_report emu_rep;

/* Inside a forked child: the expectations that failed (emu_isolated's child exits 3 when any did). */
extern int emu_bad;

/* Setup calls that must succeed: a failure here is not what the test is about, so it stops. */
#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s failed: %s (%s:%d)\n", #call, cudaGetErrorName(e_), __FILE__, __LINE__); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CB(call)                                                                                   \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            fprintf(stderr, "%s failed: %s (%s:%d)\n", #call, cublasGetStatusName(s_), __FILE__, __LINE__); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Inside a child: counts a failed expectation and says which. */
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("    %s:%d: %s: ", __FILE__, __LINE__, #cond);                                  \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            emu_bad++;                                                                             \
        }                                                                                          \
    } while (0)

/* Prints "name: ok" or "name: FAIL: <why>" (why printf-style), counts it; returns ok. */
int emu_check(const char *name, int ok, const char *why, ...) __attribute__((format(printf, 3, 4)));

/* Errors the emulation has reported so far (baton_emu_counters.errors). */
uint64_t emu_errors(void);

/* True when BATON_EMU_SCHEDULES runs the reverse schedule and another, whose results the race
 * checks compare (the default, all four, does). */
int emu_races_checked(void);

/* cudaMalloc, and copies up and down, that stop the program on failure. */
void *dalloc(size_t bytes);
void up(void *d, const void *h, size_t bytes);
void down(void *h, const void *d, size_t bytes);

enum { EMU_EXIT_NORMAL, EMU_DIES_BY_SIGNAL };

/* Runs fn in a forked child that expects errors; a check that passes when the child ends as
 * `how` says (exit status `status`, or killed by signal `status`) with `msg` in its stderr. */
void emu_isolated(const char *name, void (*fn)(void), int how, int status, const char *msg);

/* Every check that must fire, each in a forked child (test_emu_faults.c). */
void emu_fault_checks(void);

#endif
