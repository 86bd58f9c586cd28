/* toy.c: the built-in toy translation tasks (toy.h).
 *
 * Each draw k renders one random sentence pair from Philox stream (seed, DATA | id, counter k).
 * The pair is kept when the hash of its source text falls in the requested split and the source
 * is new to this call; drawing goes on until n pairs are kept. Because the split depends on the
 * text only, every split filters the same stream, and a source can never be in two splits, even
 * across seeds. The limit on n (half of the split's share of the task's distinct sources) keeps
 * the share of rejected draws bounded, so the loop ends after a few draws per pair. */
#include "baton/toy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baton/rng.h"

/* ---- random integers -------------------------------------------------------------------------- */

typedef struct {
    uint64_t seed;
    uint32_t purpose, counter; /* counter = draw index */
    uint64_t next;             /* element index of the next uniform within this draw */
} toy_rng;

/* Uniform integer in [0, range), range <= 2^32. Two 24-bit uniforms give 48 bits, so the modulo
 * bias is below 2^-16 and, being integer arithmetic, the same on every machine. */
static uint64_t draw(toy_rng *g, uint64_t range)
{
    /* baton_rng_uniform is (bits >> 8) / 2^24, exact in float, so scaling back recovers the bits. */
    uint64_t hi = (uint64_t)(baton_rng_uniform(g->seed, g->purpose, g->counter, g->next) * 16777216.0f);
    uint64_t lo = (uint64_t)(baton_rng_uniform(g->seed, g->purpose, g->counter, g->next + 1) * 16777216.0f);
    g->next += 2;
    return ((hi << 24) | lo) % range;
}

/* True with probability percent / 100. */
static int chance(toy_rng *g, int percent)
{
    return draw(g, 100) < (uint64_t)percent;
}

/* ---- sentences under construction ------------------------------------------------------------- */

/* Longer than any sentence a task renders (the longest reorder sentence is about 100 bytes);
 * `overflow` turns a future task that outgrows it into an error instead of a truncated pair. */
#define TOY_TEXT_MAX 320

typedef struct {
    char s[TOY_TEXT_MAX];
    size_t len;
    int overflow;
} text;

static void text_clear(text *t)
{
    t->s[0] = '\0';
    t->len = 0;
    t->overflow = 0;
}

/* Appends one token, with the single separating space. */
static void tok(text *t, const char *w)
{
    size_t n = strlen(w), sep = t->len > 0;
    if (t->len + sep + n + 1 > sizeof t->s) {
        t->overflow = 1;
        return;
    }
    if (sep)
        t->s[t->len++] = ' ';
    memcpy(t->s + t->len, w, n + 1);
    t->len += n;
}

/* Appends the decimal digits of v, zero-padded to `width`, each as a token of its own. */
static void digit_toks(text *t, unsigned v, int width)
{
    char d[16];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || n < width);
    while (n > 0) {
        char one[2] = {d[--n], '\0'};
        tok(t, one);
    }
}

/* Appends v (zero-padded to `width`) as one token. */
static void number_tok(text *t, unsigned v, int width)
{
    char w[16];
    int n = 0;
    char d[16];
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || n < width);
    for (int i = 0; i < n; i++)
        w[i] = d[n - 1 - i];
    w[n] = '\0';
    tok(t, w);
}

/* ---- dates ------------------------------------------------------------------------------------ */

static const char *const month_name[12] = {"january", "february", "march",     "april",   "may",      "june",
                                           "july",    "august",   "september", "october", "november", "december"};
static const char *const month_abbr[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const weekday_name[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
 * Date Algorithms"): exact for any year, with no tables and no loop over years. */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long)yoe + era * 400 + (*m <= 2);
}

static void ordinal_tok(text *t, unsigned d)
{
    const char *suffix = "th";
    if (d % 100 < 11 || d % 100 > 13) {
        if (d % 10 == 1)
            suffix = "st";
        else if (d % 10 == 2)
            suffix = "nd";
        else if (d % 10 == 3)
            suffix = "rd";
    }
    char w[16];
    w[0] = '\0';
    if (d >= 10)
        w[0] = (char)('0' + d / 10);
    size_t n = d >= 10;
    w[n++] = (char)('0' + d % 10);
    memcpy(w + n, suffix, 3);
    tok(t, w);
}

/* The source formats: M month name, m abbreviation, d day, D ordinal day, dd/mm zero-padded,
 * Y year, 'y two-digit year (POSIX strptime's pivot: 69-99 -> 19xx, 00-68 -> 20xx), W weekday. */
enum {
    DATE_M_d_c_Y,   /* march 3 , 2021 */
    DATE_M_d_Y,     /* march 3 2021 */
    DATE_M_D_c_Y,   /* march 3rd , 2021 */
    DATE_d_M_Y,     /* 3 march 2021 */
    DATE_D_M_Y,     /* 3rd march 2021 */
    DATE_the_D_of_M_c_Y, /* the 3rd of march , 2021 */
    DATE_the_D_of_M_Y,   /* the 3rd of march 2021 */
    DATE_m_d_c_Y,   /* mar 3 , 2021 */
    DATE_d_m_Y,     /* 3 mar 2021 */
    DATE_m_D_yy,    /* mar 3rd '21 */
    DATE_W_c_M_d_c_Y, /* wednesday , march 3 , 2021 */
    DATE_W_D_M_Y,   /* wednesday 3rd march 2021 */
    DATE_dd_mm_Y,   /* 03 . 03 . 2021 */
    DATE_FORMATS
};

#define DATE_YEAR_MIN 1900
#define DATE_YEAR_MAX 2099

static void gen_dates(toy_rng *g, text *src, text *tgt)
{
    int fmt = (int)draw(g, DATE_FORMATS);
    long lo = days_from_civil(DATE_YEAR_MIN, 1, 1), hi = days_from_civil(DATE_YEAR_MAX, 12, 31);
    if (fmt == DATE_m_D_yy) { /* only the years that a two-digit year names unambiguously */
        lo = days_from_civil(1969, 1, 1);
        hi = days_from_civil(2068, 12, 31);
    }
    long z = lo + (long)draw(g, (uint64_t)(hi - lo + 1)), y;
    unsigned m, d;
    civil_from_days(z, &y, &m, &d);
    /* 1970-01-01 was a Thursday (4); z + 4 >= 0 for every day since 1900. */
    const char *W = weekday_name[(z % 7 + 7 + 4) % 7], *M = month_name[m - 1], *mab = month_abbr[m - 1];
    unsigned Y = (unsigned)y;
    switch (fmt) {
    case DATE_M_d_c_Y: tok(src, M), number_tok(src, d, 1), tok(src, ","), number_tok(src, Y, 4); break;
    case DATE_M_d_Y: tok(src, M), number_tok(src, d, 1), number_tok(src, Y, 4); break;
    case DATE_M_D_c_Y: tok(src, M), ordinal_tok(src, d), tok(src, ","), number_tok(src, Y, 4); break;
    case DATE_d_M_Y: number_tok(src, d, 1), tok(src, M), number_tok(src, Y, 4); break;
    case DATE_D_M_Y: ordinal_tok(src, d), tok(src, M), number_tok(src, Y, 4); break;
    case DATE_the_D_of_M_c_Y:
        tok(src, "the"), ordinal_tok(src, d), tok(src, "of"), tok(src, M), tok(src, ","), number_tok(src, Y, 4);
        break;
    case DATE_the_D_of_M_Y:
        tok(src, "the"), ordinal_tok(src, d), tok(src, "of"), tok(src, M), number_tok(src, Y, 4);
        break;
    case DATE_m_d_c_Y: tok(src, mab), number_tok(src, d, 1), tok(src, ","), number_tok(src, Y, 4); break;
    case DATE_d_m_Y: number_tok(src, d, 1), tok(src, mab), number_tok(src, Y, 4); break;
    case DATE_m_D_yy: {
        char yy[4] = {'\'', (char)('0' + Y / 10 % 10), (char)('0' + Y % 10), '\0'};
        tok(src, mab), ordinal_tok(src, d), tok(src, yy);
        break;
    }
    case DATE_W_c_M_d_c_Y:
        tok(src, W), tok(src, ","), tok(src, M), number_tok(src, d, 1), tok(src, ","), number_tok(src, Y, 4);
        break;
    case DATE_W_D_M_Y: tok(src, W), ordinal_tok(src, d), tok(src, M), number_tok(src, Y, 4); break;
    default: /* DATE_dd_mm_Y */
        number_tok(src, d, 2), tok(src, "."), number_tok(src, m, 2), tok(src, "."), number_tok(src, Y, 4);
        break;
    }
    digit_toks(tgt, Y, 4);
    tok(tgt, "-");
    digit_toks(tgt, m, 2);
    tok(tgt, "-");
    digit_toks(tgt, d, 2);
}

/* ---- numbers ---------------------------------------------------------------------------------- */

static const char *const ones_word[20] = {
    "zero",    "one",     "two",       "three",    "four",     "five",    "six",
    "seven",   "eight",   "nine",      "ten",      "eleven",   "twelve",  "thirteen",
    "fourteen", "fifteen", "sixteen",  "seventeen", "eighteen", "nineteen"};
static const char *const tens_word[10] = {"",      "",      "twenty",  "thirty", "forty",
                                          "fifty", "sixty", "seventy", "eighty", "ninety"};

/* Words of 1 <= v <= 999, American style: no "and", no hyphens ("forty two"). */
static void below_thousand(text *t, unsigned v)
{
    if (v >= 100) {
        tok(t, ones_word[v / 100]);
        tok(t, "hundred");
        v %= 100;
    }
    if (v >= 20) {
        tok(t, tens_word[v / 10]);
        v %= 10;
    }
    if (v > 0)
        tok(t, ones_word[v]);
}

static void gen_numbers(toy_rng *g, text *src, text *tgt)
{
    /* The digit count first, so that short numbers (whose words recur inside long ones) are
     * common enough to learn instead of 1 in 10^5. */
    int k = 1 + (int)draw(g, 6);
    unsigned lo = 1;
    for (int i = 1; i < k; i++)
        lo *= 10;
    unsigned v = k == 1 ? (unsigned)draw(g, 10) : lo + (unsigned)draw(g, 9ull * lo);
    if (v == 0) {
        tok(src, "zero");
    } else {
        if (v >= 1000) {
            below_thousand(src, v / 1000);
            tok(src, "thousand");
        }
        if (v % 1000)
            below_thousand(src, v % 1000);
    }
    digit_toks(tgt, v, 1);
}

/* ---- reorder ---------------------------------------------------------------------------------- */

/* English singular, English plural, target stem. */
typedef struct {
    const char *sg, *pl, *stem;
} noun;
/* English base, third person singular, past; target stem. */
typedef struct {
    const char *base, *s3, *past, *stem;
} verb;
typedef struct {
    const char *en, *stem;
} word;

static const noun agents[] = {
    {"dog", "dogs", "kalo"},         {"cat", "cats", "miru"},       {"bird", "birds", "tesa"},
    {"fox", "foxes", "vupo"},        {"mouse", "mice", "nibi"},     {"child", "children", "rako"},
    {"farmer", "farmers", "gondu"},  {"teacher", "teachers", "selim"}, {"horse", "horses", "paro"},
    {"king", "kings", "tavo"},       {"girl", "girls", "lumi"},     {"wolf", "wolves", "zeka"},
};
static const noun places[] = {
    {"house", "houses", "doma"}, {"garden", "gardens", "beli"}, {"river", "rivers", "sulo"},
    {"forest", "forests", "kivu"}, {"tree", "trees", "arbo"},   {"bridge", "bridges", "ponte"},
};
static const word adjectives[] = {
    {"big", "umba"},   {"small", "piti"}, {"red", "roso"},   {"old", "kena"},  {"young", "jovi"},
    {"happy", "halu"}, {"angry", "grum"}, {"black", "nera"}, {"white", "bela"}, {"quick", "fasi"},
};
static const verb transitive[] = {
    {"see", "sees", "saw", "vido"},           {"chase", "chases", "chased", "kuro"},
    {"watch", "watches", "watched", "oba"},   {"follow", "follows", "followed", "seku"},
    {"help", "helps", "helped", "ajuta"},     {"find", "finds", "found", "trova"},
    {"carry", "carries", "carried", "porta"}, {"like", "likes", "liked", "lubo"},
};
static const verb intransitive[] = {
    {"sleep", "sleeps", "slept", "dormi"}, {"run", "runs", "ran", "laufa"},
    {"sing", "sings", "sang", "kanta"},    {"wait", "waits", "waited", "espa"},
};
static const word prepositions[] = {{"in", "ina"}, {"near", "apud"}, {"under", "suba"}, {"behind", "posa"}};

#define COUNT(a) ((uint64_t)(sizeof(a) / sizeof((a)[0])))

/* One noun phrase: English "det adj1 adj2 noun", target "noun NUM adj2 NUM adj1 NUM" (adjectives
 * mirrored after the noun, each agreeing in number: "-ta" marks plural, singular is bare), then
 * `particle` (a case particle or a postposition). Definiteness has no target marking. */
static void noun_phrase(toy_rng *g, text *src, text *tgt, const noun *nouns, uint64_t n_nouns, const char *particle,
                        int *plural_out)
{
    const noun *N = &nouns[draw(g, n_nouns)];
    int plural = chance(g, 40), definite = chance(g, 50);
    int n_adj = (int)draw(g, 100);
    n_adj = n_adj < 50 ? 0 : n_adj < 85 ? 1 : 2;
    const word *A[2] = {NULL, NULL};
    for (int i = 0; i < n_adj; i++) {
        A[i] = &adjectives[draw(g, COUNT(adjectives))];
        if (i == 1 && A[1] == A[0]) /* "big big dog": take the next adjective instead */
            A[1] = &adjectives[(uint64_t)(A[0] - adjectives + 1) % COUNT(adjectives)];
    }
    const char *first = n_adj > 0 ? A[0]->en : plural ? N->pl : N->sg;
    if (definite)
        tok(src, "the");
    else if (plural)
        tok(src, "some");
    else
        tok(src, strchr("aeiou", first[0]) ? "an" : "a");
    for (int i = 0; i < n_adj; i++)
        tok(src, A[i]->en);
    tok(src, plural ? N->pl : N->sg);

    tok(tgt, N->stem);
    if (plural)
        tok(tgt, "-ta");
    for (int i = n_adj - 1; i >= 0; i--) {
        tok(tgt, A[i]->stem);
        if (plural)
            tok(tgt, "-ta");
    }
    tok(tgt, particle);
    if (plural_out)
        *plural_out = plural;
}

static void gen_reorder(toy_rng *g, text *src, text *tgt)
{
    /* English: S V [O] [P place]. Target: S ga [place P] [O wo] V AGR [-ri]: the verb moves to the
     * end, the prepositional phrase before the object, and the verb agrees with the subject even
     * where English does not show it (past tense). Built as separate target segments because their
     * order differs from the source's. */
    text subj, obj, pp, src_obj, src_pp;
    text_clear(&obj);
    text_clear(&pp);
    text_clear(&src_obj);
    text_clear(&src_pp);
    text_clear(&subj);
    int plural = 0;
    noun_phrase(g, src, &subj, agents, COUNT(agents), "ga", &plural);
    int is_transitive = chance(g, 70), past = chance(g, 50), has_pp = chance(g, 40);
    const verb *V = is_transitive ? &transitive[draw(g, COUNT(transitive))] : &intransitive[draw(g, COUNT(intransitive))];
    tok(src, past ? V->past : plural ? V->base : V->s3);
    if (is_transitive)
        noun_phrase(g, &src_obj, &obj, agents, COUNT(agents), "wo", NULL);
    if (has_pp) {
        const word *P = &prepositions[draw(g, COUNT(prepositions))];
        tok(&src_pp, P->en);
        noun_phrase(g, &src_pp, &pp, places, COUNT(places), P->stem, NULL);
    }
    const text *parts[] = {&src_obj, &src_pp, &subj, &pp, &obj};
    for (int i = 0; i < 5; i++) {
        text *dst = i < 2 ? src : tgt;
        if (parts[i]->len > 0)
            tok(dst, parts[i]->s);
        dst->overflow |= parts[i]->overflow;
    }
    tok(tgt, V->stem);
    tok(tgt, plural ? "-un" : "-u");
    if (past)
        tok(tgt, "-ri");
}

/* ---- tasks, splits and the draw loop ---------------------------------------------------------- */

typedef struct {
    const char *name, *about;
    void (*gen)(toy_rng *g, text *src, text *tgt);
    double sources; /* distinct source sentences the task can produce, counted low */
    /* NULL, or whether a pair is one of the task's few building blocks (the numbers below 100):
     * those belong to train alone, which holds them as often as they are drawn. Distinct sources
     * would leave them a handful of pairs among thousands (and send some, such as "zero", the
     * only source with that word, to dev or test, never trained on), so that a model fails on
     * one-word inputs while it translates long ones. */
    int (*core)(const text *src, const text *tgt);
} toy_task;

/* numbers: below 100, i.e. at most two digit tokens. */
static int numbers_core(const text *src, const text *tgt)
{
    (void)src;
    int tokens = 1;
    for (size_t i = 0; i < tgt->len; i++)
        tokens += tgt->s[i] == ' ';
    return tokens <= 2;
}

static const toy_task tasks[] = {
    {"dates",
     "free-form English dates, 13 formats, 1900-2099 -> ISO date as digit tokens: "
     "'the 3rd of march , 2021' -> '2 0 2 1 - 0 3 - 0 3'",
     /* 73049 days in 13 formats; counted as 11 for "may" being its own abbreviation and the
      * two-digit years covering half the range. */
     gen_dates, 73049.0 * 11, NULL},
    {"numbers",
     "English number words for 0-999999 -> digit tokens: 'three hundred forty two thousand seven' -> '3 4 2 0 0 7'",
     gen_numbers, 1e6, numbers_core},
    {"reorder",
     "English-like SVO -> invented SOV language with adjectives after the noun, case particles and "
     "number agreement: 'the big dogs chased a cat' -> 'kalo -ta umba -ta ga miru wo kuro -un -ri'",
     /* far above 1e9 (12 nouns x 2 numbers x 101 adjective lists per phrase, three phrases) */
     gen_reorder, 1e9, NULL},
};
#define N_TASKS ((int)COUNT(tasks))

static const char *const split_names[3] = {"train", "dev", "test"};
static const int split_tenths[3] = {8, 1, 1};

const char *baton_toy_task_list(void)
{
    return "dates, numbers, reorder";
}

const char *baton_toy_task_about(const char *task)
{
    for (int i = 0; task && i < N_TASKS; i++)
        if (strcmp(task, tasks[i].name) == 0)
            return tasks[i].about;
    return NULL;
}

/* FNV-1a, then a SplitMix64 finaliser so that the low digits used for the split are well mixed. */
static uint64_t text_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

/* 0 train, 1 dev, 2 test. */
static int split_of(uint64_t h)
{
    int tenth = (int)(h % 10);
    return tenth < split_tenths[0] ? 0 : tenth < split_tenths[0] + split_tenths[1] ? 1 : 2;
}

static char *dup_text(const text *t)
{
    char *s = malloc(t->len + 1);
    if (s)
        memcpy(s, t->s, t->len + 1);
    return s;
}

baton_status baton_toy_generate(baton_pairs *out, const char *task, const char *split, int n, uint64_t seed)
{
    BATON_REQUIRE(out, "toy data: expected an output pair set, got NULL");
    out->src = out->tgt = NULL;
    out->n = 0;
    int ti = -1, si = -1;
    for (int i = 0; task && i < N_TASKS; i++)
        if (strcmp(task, tasks[i].name) == 0)
            ti = i;
    BATON_REQUIRE(ti >= 0, "toy task '%s': expected one of %s", task ? task : "(null)", baton_toy_task_list());
    for (int i = 0; split && i < 3; i++)
        if (strcmp(split, split_names[i]) == 0)
            si = i;
    BATON_REQUIRE(si >= 0, "toy split '%s': expected train, dev or test", split ? split : "(null)");
    const toy_task *T = &tasks[ti];
    double limit = T->sources * split_tenths[si] / 10.0 / 2.0;
    BATON_REQUIRE(n >= 1 && n <= limit,
                  "toy task '%s', split '%s': n = %d, expected 1 to %.0f (half of the about %.0f distinct sources "
                  "in this split, so that drawing them stays fast)",
                  task, split, n, limit > 2147483647.0 ? 2147483647.0 : limit, 2.0 * limit);

    /* Open addressing over indices into out, at most half full; slot value 0 means empty. */
    size_t cap = 16;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    int *slots = calloc(cap, sizeof *slots);
    uint64_t *hashes = malloc((size_t)n * sizeof *hashes);
    out->src = calloc((size_t)n, sizeof *out->src);
    out->tgt = calloc((size_t)n, sizeof *out->tgt);
    if (!slots || !hashes || !out->src || !out->tgt) {
        free(slots);
        free(hashes);
        baton_pairs_free(out);
        return BATON_ERROR(BATON_ERR_OOM, "toy task '%s': cannot allocate %d pairs", task, n);
    }

    /* With n at most half of the split's sources, at least one draw in ~10 (dev, test) or ~2.5
     * (train) is kept even at the end; this bound is only a guard against a broken task. */
    uint64_t max_draws = 1000ull * (uint64_t)n + 1000000ull;
    if (max_draws > UINT32_MAX)
        max_draws = UINT32_MAX;
    baton_status st = BATON_OK;
    text src, tgt;
    toy_rng g = {seed, BATON_RNG_DATA | (BATON_TOY_RNG_ID + (uint32_t)ti), 0, 0};
    uint64_t k;
    for (k = 0; out->n < n && k < max_draws; k++) {
        g.counter = (uint32_t)k;
        g.next = 0;
        text_clear(&src);
        text_clear(&tgt);
        T->gen(&g, &src, &tgt);
        if (src.overflow || tgt.overflow) {
            st = BATON_ERROR(BATON_ERR_INVALID, "toy task '%s': draw %llu renders a sentence longer than %d bytes",
                             task, (unsigned long long)k, TOY_TEXT_MAX - 1);
            break;
        }
        uint64_t h = text_hash(src.s);
        int core = T->core && T->core(&src, &tgt);
        if (core ? si != 0 : split_of(h) != si)
            continue;
        size_t s = (size_t)(h >> 20) & (cap - 1);
        int seen = 0;
        while (!core && slots[s] && !seen) {
            int j = slots[s] - 1;
            seen = hashes[j] == h && strcmp(out->src[j], src.s) == 0;
            s = (s + 1) & (cap - 1);
        }
        if (seen)
            continue;
        char *a = dup_text(&src), *b = dup_text(&tgt);
        if (!a || !b) {
            free(a);
            free(b);
            st = BATON_ERROR(BATON_ERR_OOM, "toy task '%s': out of memory after %d pairs", task, out->n);
            break;
        }
        if (!core)
            slots[s] = out->n + 1;
        hashes[out->n] = h;
        out->src[out->n] = a;
        out->tgt[out->n] = b;
        out->n++;
    }
    if (st == BATON_OK && out->n < n)
        st = BATON_ERROR(BATON_ERR_INVALID, "toy task '%s', split '%s': only %d of n = %d distinct pairs after %llu draws",
                         task, split, out->n, n, (unsigned long long)k);
    free(slots);
    free(hashes);
    if (st != BATON_OK)
        baton_pairs_free(out);
    return st;
}
