/* toy.h: built-in toy translation tasks, generated from a seed and needing no files.
 *
 * They let a new user watch baton learn to translate on any machine, and give tests a corpus
 * whose correct translation is known. Every task's alignment is non-monotonic:
 *   dates    free-form English dates -> ISO digits: "the 3rd of march , 2021" -> "2 0 2 1 - 0 3 - 0 3"
 *   numbers  English number words -> digits: "forty two thousand seven" -> "4 2 0 0 7"
 *   reorder  English-like SVO -> an invented SOV language with post-nominal adjectives, case
 *            particles and number agreement suffixes: "the big dogs chased a cat" ->
 *            "kalo -ta umba -ta ga miru wo kuro -un -ri"
 * Output is a pure function of (task, split, n, seed), identical on every machine: the only
 * randomness is Philox (rng.h, purpose BATON_RNG_DATA | BATON_TOY_RNG_ID + task, counter = draw).
 * A source sentence belongs to train, dev or test by a hash of its text alone (80/10/10), so the
 * splits are disjoint for any seeds; within one call no source repeats, except a task's few
 * building blocks (numbers below 100), which train alone holds, as often as they are drawn (a
 * sixth of the numbers have one digit, a sixth two). Sentences are lowercase,
 * tokens separated by single spaces; punctuation is a token of its own, and targets spell numbers
 * digit by digit so that the target vocabulary stays small. */
#ifndef BATON_TOY_H
#define BATON_TOY_H

#include <stdint.h>

#include "baton/status.h"
#include "baton/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Low 24 bits of the Philox purpose of toy task k are BATON_TOY_RNG_ID + k, apart from other data draws. */
#define BATON_TOY_RNG_ID 0x100u

/* Fills *out with n distinct-source pairs (but the building blocks above) of `task` in `split`
 * ("train", "dev", "test") for `seed`;
 * fails, leaving *out empty, on an unknown task or split or an n beyond what the split can hold. */
baton_status baton_toy_generate(baton_pairs *out, const char *task, const char *split, int n, uint64_t seed);

/* The task names, comma-separated: "dates, numbers, reorder". */
const char *baton_toy_task_list(void);

/* One line describing `task`, or NULL when there is no such task. */
const char *baton_toy_task_about(const char *task);

#ifdef __cplusplus
}
#endif

#endif
