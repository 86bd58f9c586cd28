/* test_emu.h: what the two halves of the CUDA emulation's test program share: test_emu.c checks
 * that each feature works, test_emu_faults.c that each check fires. */
#ifndef BATON_TESTS_TEST_EMU_H
#define BATON_TESTS_TEST_EMU_H

#include <stdint.h>

#include "testutil.h"

extern tu_report emu_rep;

/* Prints "name: ok" or "name: FAIL: <why>" (why printf-style), counts it; returns ok. */
int emu_check(const char *name, int ok, const char *why, ...) __attribute__((format(printf, 3, 4)));

/* Errors the emulation has reported so far (baton_emu_counters.errors). */
uint64_t emu_errors(void);

/* True when BATON_EMU_SCHEDULES runs the reverse schedule and another, whose results the race
 * checks compare (the default, all four, does). */
int emu_races_checked(void);

/* Every check that must fire, each in a forked child (test_emu_faults.c). */
void emu_fault_checks(void);

#endif
