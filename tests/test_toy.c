/* test_toy.c: the built-in toy tasks. Every generated pair is checked against a second, independent
 * implementation written here the other way round: a parser that reads the source sentence back
 * (number words to an integer, a date in any format to year-month-day with the calendar and the
 * weekday recomputed by other algorithms, the English sentence to its invented-language translation)
 * and must arrive at the generated target. The parsers are anchored by hand-worked examples. Also:
 * determinism, pinned output (the same on every machine), disjoint splits, distinct sources,
 * well-formed text, coverage of every format, and clear errors. */
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/toy.h"
#include "support/testutil.h"

#define MAX_TOKS 64

/* Splits a copy of s at single spaces into toks; returns the count, or -1 when s is not
 * well-formed (empty, leading/trailing/double spaces, other whitespace, upper case, too long). */
static int tokenize(const char *s, char *buf, size_t cap, char **toks)
{
    size_t len = strlen(s);
    if (len == 0 || len >= cap || s[0] == ' ' || s[len - 1] == ' ' || strstr(s, "  "))
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || (unsigned char)s[i] >= 128)
            return -1;
    memcpy(buf, s, len + 1);
    int n = 0;
    for (char *p = strtok(buf, " "); p; p = strtok(NULL, " ")) {
        if (n == MAX_TOKS)
            return -1;
        toks[n++] = p;
    }
    return n;
}

static int find_word(const char *w, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(w, list[i]) == 0)
            return i;
    return -1;
}

/* ---- numbers: words -> integer ---------------------------------------------------------------- */

/* Value of an English number word sentence, -1 when it is not in the canonical form the task
 * promises (American, no "and", "zero" only alone, groups in descending order). */
static long parse_number_words(const char *s)
{
    static const char *const small[] = {"zero",    "one",     "two",     "three",     "four",     "five",    "six",
                                        "seven",   "eight",   "nine",    "ten",       "eleven",   "twelve",  "thirteen",
                                        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
    static const char *const tens[] = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
    char buf[512], *t[MAX_TOKS];
    int n = tokenize(s, buf, sizeof buf, t);
    if (n <= 0)
        return -1;
    if (n == 1 && strcmp(t[0], "zero") == 0)
        return 0;
    long total = 0, group = 0;
    /* last: 0 start of a group, 1 after a units word, 2 after a tens word, 3 after "hundred" */
    int last = 0, saw_thousand = 0;
    for (int i = 0; i < n; i++) {
        int v = find_word(t[i], small, 20), d = find_word(t[i], tens, 8);
        if (v > 0) {
            if (last == 1 || (last == 2 && v >= 10))
                return -1; /* "five six", "twenty eleven" */
            group += v;
            last = 1;
        } else if (d >= 0) {
            if (last == 1 || last == 2)
                return -1;
            group += 10 * (d + 2);
            last = 2;
        } else if (strcmp(t[i], "hundred") == 0) {
            if (last != 1 || group < 1 || group > 9)
                return -1;
            group *= 100;
            last = 3;
        } else if (strcmp(t[i], "thousand") == 0) {
            if (saw_thousand || group == 0 || last == 0)
                return -1;
            total = group * 1000;
            group = 0;
            last = 0;
            saw_thousand = 1;
        } else {
            return -1;
        }
    }
    if (last == 0 && !saw_thousand)
        return -1;
    return total + group;
}

/* Writes v's decimal digits separated by spaces. */
static void spaced_digits(char *out, size_t cap, long v)
{
    char d[32];
    snprintf(d, sizeof d, "%ld", v);
    size_t k = 0;
    for (size_t i = 0; d[i] && k + 2 < cap; i++) {
        if (i)
            out[k++] = ' ';
        out[k++] = d[i];
    }
    out[k] = '\0';
}

/* Expected target of a numbers source, or 0 when the source does not parse. */
static int oracle_numbers(const char *src, char *out, size_t cap)
{
    long v = parse_number_words(src);
    if (v < 0 || v > 999999)
        return 0;
    spaced_digits(out, cap, v);
    return 1;
}

/* ---- dates: any format -> year, month, day ---------------------------------------------------- */

static const char *const months[12] = {"january", "february", "march",     "april",   "may",      "june",
                                       "july",    "august",   "september", "october", "november", "december"};
static const char *const weekdays[7] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};

static int is_leap(int y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int month_days(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && is_leap(y));
}

/* Sakamoto's weekday (0 = Sunday): a different algorithm from the generator's day count. */
static int weekday(int y, int m, int d)
{
    static const int t[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

/* Month of a three-letter abbreviation ("may" is the full name and classed as such), or -1. */
static int month_abbr(const char *w)
{
    if (strlen(w) != 3 || strcmp(w, "may") == 0)
        return -1;
    for (int k = 0; k < 12; k++)
        if (strncmp(w, months[k], 3) == 0)
            return k;
    return -1;
}

static int all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) /* stops at the terminating NUL too: it is no digit */
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return s[len] == '\0';
}

/* Day of a token "3" or, when `ordinal`, "3rd" (no leading zero either way); 0 when it is not one. */
static int day_token(const char *s, int ordinal)
{
    size_t len = strlen(s);
    size_t nd = 0;
    while (nd < len && s[nd] >= '0' && s[nd] <= '9')
        nd++;
    if (nd == 0 || nd > 2 || s[0] == '0')
        return 0;
    int d = s[0] - '0';
    if (nd == 2)
        d = 10 * d + (s[1] - '0');
    if (!ordinal)
        return nd == len ? d : 0;
    const char *want = (d % 10 == 1 && d != 11) ? "st" : (d % 10 == 2 && d != 12) ? "nd" : (d % 10 == 3 && d != 13) ? "rd" : "th";
    return strcmp(s + nd, want) == 0 ? d : 0;
}

/* Reads a date in any of the task's formats into a signature of token classes (W weekday, M month,
 * m abbreviation, d day, D ordinal, Y year, y 'yy, n zero-padded number, punctuation and "the"/"of"
 * as themselves) and the date; 0 when a token fits no class or a part is missing or repeated. */
static int parse_date(const char *s, int *Y, int *M, int *D, int *W, char *sig, size_t sigcap)
{
    char buf[512], *t[MAX_TOKS];
    int n = tokenize(s, buf, sizeof buf, t);
    if (n <= 0)
        return 0;
    *Y = *M = *D = 0;
    *W = -1;
    sig[0] = '\0';
    int dotted = n == 5 && strcmp(t[1], ".") == 0 && strcmp(t[3], ".") == 0;
    for (int i = 0; i < n; i++) {
        const char *w = t[i], *cls = NULL;
        int v;
        if (dotted && (i == 1 || i == 3)) {
            cls = ".";
        } else if (dotted && i < 4) {
            if (!all_digits(w, 2))
                return 0;
            if (i == 0)
                *D = atoi(w);
            else
                *M = atoi(w);
            cls = "n";
        } else if ((v = find_word(w, months, 12)) >= 0) {
            if (*M)
                return 0;
            *M = v + 1;
            cls = "M";
        } else if ((v = month_abbr(w)) >= 0) {
            if (*M)
                return 0;
            *M = v + 1;
            cls = "m";
        } else if (w[0] == '\'' && all_digits(w + 1, 2)) {
            if (*Y)
                return 0;
            int yy = atoi(w + 1);
            *Y = yy >= 69 ? 1900 + yy : 2000 + yy; /* POSIX strptime's %y */
            cls = "y";
        } else if (strcmp(w, "the") == 0) {
            cls = "the";
        } else if ((v = find_word(w, weekdays, 7)) >= 0) {
            *W = v;
            cls = "W";
        } else if (all_digits(w, 4)) {
            if (*Y)
                return 0;
            *Y = atoi(w);
            cls = "Y";
        } else if ((v = day_token(w, 0)) > 0 || (v = day_token(w, 1)) > 0) {
            if (*D)
                return 0;
            *D = v;
            cls = all_digits(w, strlen(w)) ? "d" : "D";
        } else if (strcmp(w, ",") == 0 || strcmp(w, "of") == 0) {
            cls = w;
        } else {
            return 0;
        }
        if (strlen(sig) + strlen(cls) + 2 < sigcap) {
            if (sig[0])
                strcat(sig, " ");
            strcat(sig, cls);
        }
    }
    return *Y && *M && *D;
}

/* Expected target of a dates source: the date must exist, lie in 1900-2099, and agree with its
 * weekday when one is named. */
static int oracle_dates(const char *src, char *out, size_t cap, char *sig, size_t sigcap)
{
    int y, m, d, w;
    if (!parse_date(src, &y, &m, &d, &w, sig, sigcap))
        return 0;
    if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return 0;
    if (w >= 0 && w != weekday(y, m, d))
        return 0;
    snprintf(out, cap, "%d %d %d %d - %d %d - %d %d", y / 1000, y / 100 % 10, y / 10 % 10, y % 10, m / 10, m % 10,
             d / 10, d % 10);
    return 1;
}

/* ---- reorder: English -> the invented language ------------------------------------------------ */

typedef struct {
    const char *en_sg, *en_pl, *stem;
} lex_noun;
typedef struct {
    const char *base, *s3, *past, *stem;
    int transitive;
} lex_verb;

/* The lexicon the task promises (toy.h's example and its dictionary, written out again here). */
static const lex_noun t_agents[] = {
    {"dog", "dogs", "kalo"},     {"cat", "cats", "miru"},         {"bird", "birds", "tesa"},
    {"fox", "foxes", "vupo"},    {"mouse", "mice", "nibi"},       {"child", "children", "rako"},
    {"farmer", "farmers", "gondu"}, {"teacher", "teachers", "selim"}, {"horse", "horses", "paro"},
    {"king", "kings", "tavo"},   {"girl", "girls", "lumi"},       {"wolf", "wolves", "zeka"}};
static const lex_noun t_places[] = {{"house", "houses", "doma"},   {"garden", "gardens", "beli"},
                                    {"river", "rivers", "sulo"},   {"forest", "forests", "kivu"},
                                    {"tree", "trees", "arbo"},     {"bridge", "bridges", "ponte"}};
static const char *const t_adj_en[] = {"big", "small", "red", "old", "young", "happy", "angry", "black", "white", "quick"};
static const char *const t_adj_stem[] = {"umba", "piti", "roso", "kena", "jovi", "halu", "grum", "nera", "bela", "fasi"};
static const lex_verb t_verbs[] = {
    {"see", "sees", "saw", "vido", 1},          {"chase", "chases", "chased", "kuro", 1},
    {"watch", "watches", "watched", "oba", 1},  {"follow", "follows", "followed", "seku", 1},
    {"help", "helps", "helped", "ajuta", 1},    {"find", "finds", "found", "trova", 1},
    {"carry", "carries", "carried", "porta", 1}, {"like", "likes", "liked", "lubo", 1},
    {"sleep", "sleeps", "slept", "dormi", 0},   {"run", "runs", "ran", "laufa", 0},
    {"sing", "sings", "sang", "kanta", 0},      {"wait", "waits", "waited", "espa", 0}};
static const char *const t_prep_en[] = {"in", "near", "under", "behind"};
static const char *const t_prep_stem[] = {"ina", "apud", "suba", "posa"};

static void cat_tok(char *out, size_t cap, const char *w)
{
    if (strlen(out) + strlen(w) + 2 >= cap)
        return;
    if (out[0])
        strcat(out, " ");
    strcat(out, w);
}

/* Parses "det adj* noun" at t[*i] into the target phrase "noun NUM adj_k NUM ... adj_1 NUM";
 * checks English's own agreement (a/an by the next word's sound, "some" only plural, "a" only
 * singular) and that two adjectives differ. Returns 0 on anything else. */
static int parse_np(char **t, int n, int *i, const lex_noun *nouns, int n_nouns, char *out, size_t cap, int *plural)
{
    if (*i >= n)
        return 0;
    const char *det = t[(*i)++];
    int adj[2], n_adj = 0, k;
    while (*i < n && (k = find_word(t[*i], t_adj_en, 10)) >= 0) {
        if (n_adj == 2)
            return 0;
        adj[n_adj++] = k;
        (*i)++;
    }
    if (*i >= n || (n_adj == 2 && adj[0] == adj[1]))
        return 0;
    const char *w = t[(*i)++];
    int noun = -1, pl = 0;
    for (k = 0; k < n_nouns; k++) {
        if (strcmp(w, nouns[k].en_sg) == 0)
            noun = k;
        else if (strcmp(w, nouns[k].en_pl) == 0)
            noun = k, pl = 1;
    }
    if (noun < 0)
        return 0;
    const char *next = n_adj ? t_adj_en[adj[0]] : w;
    int vowel = strchr("aeiou", next[0]) != NULL;
    int det_ok = strcmp(det, "the") == 0 || (strcmp(det, "some") == 0 && pl) ||
                 (!pl && strcmp(det, vowel ? "an" : "a") == 0);
    if (!det_ok)
        return 0;
    const char *num = pl ? "-ta" : NULL;
    cat_tok(out, cap, nouns[noun].stem);
    if (num)
        cat_tok(out, cap, num);
    for (k = n_adj - 1; k >= 0; k--) {
        cat_tok(out, cap, t_adj_stem[adj[k]]);
        if (num)
            cat_tok(out, cap, num);
    }
    *plural = pl;
    return 1;
}

/* Expected target of a reorder source: "S V [O] [prep P]" -> "S ga [P prep'] [O wo] V AGR [-ri]". */
static int oracle_reorder(const char *src, char *out, size_t cap)
{
    char buf[512], *t[MAX_TOKS];
    int n = tokenize(src, buf, sizeof buf, t);
    if (n <= 0)
        return 0;
    char subj[256] = "", obj[256] = "", pp[256] = "";
    int i = 0, s_pl, pl;
    if (!parse_np(t, n, &i, t_agents, 12, subj, sizeof subj, &s_pl) || i >= n)
        return 0;
    const char *vw = t[i++];
    int v = -1, past = 0;
    for (int k = 0; k < 12; k++) {
        if (strcmp(vw, t_verbs[k].past) == 0)
            v = k, past = 1;
        else if (strcmp(vw, s_pl ? t_verbs[k].base : t_verbs[k].s3) == 0)
            v = k; /* "the dogs sees" and "the dog see" are not found */
    }
    if (v < 0)
        return 0;
    if (t_verbs[v].transitive && !parse_np(t, n, &i, t_agents, 12, obj, sizeof obj, &pl))
        return 0;
    if (i < n) {
        int p = find_word(t[i++], t_prep_en, 4);
        if (p < 0 || !parse_np(t, n, &i, t_places, 6, pp, sizeof pp, &pl))
            return 0;
        cat_tok(pp, sizeof pp, t_prep_stem[p]);
    }
    if (i != n)
        return 0;
    out[0] = '\0';
    cat_tok(out, cap, subj);
    cat_tok(out, cap, "ga");
    if (pp[0])
        cat_tok(out, cap, pp);
    if (obj[0]) {
        cat_tok(out, cap, obj);
        cat_tok(out, cap, "wo");
    }
    cat_tok(out, cap, t_verbs[v].stem);
    cat_tok(out, cap, s_pl ? "-un" : "-u");
    if (past)
        cat_tok(out, cap, "-ri");
    return 1;
}

/* ---- the checks ------------------------------------------------------------------------------- */

static int oracle(const char *task, const char *src, char *out, size_t cap, char *sig, size_t sigcap)
{
    sig[0] = '\0';
    if (strcmp(task, "numbers") == 0)
        return oracle_numbers(src, out, cap);
    if (strcmp(task, "dates") == 0)
        return oracle_dates(src, out, cap, sig, sigcap);
    return oracle_reorder(src, out, cap);
}

/* The oracles themselves, on examples worked out by hand. */
static void check_oracles(tu_report *r)
{
    static const struct {
        const char *task, *src, *tgt; /* tgt NULL: the source must be refused */
    } ex[] = {
        {"numbers", "three hundred forty two thousand seven", "3 4 2 0 0 7"},
        {"numbers", "twenty one", "2 1"},
        {"numbers", "nineteen thousand twelve", "1 9 0 1 2"},
        {"numbers", "one hundred thousand", "1 0 0 0 0 0"},
        {"numbers", "nine hundred ninety nine thousand nine hundred ninety nine", "9 9 9 9 9 9"},
        {"numbers", "zero", "0"},
        {"numbers", "twenty eleven", NULL},
        {"numbers", "thousand", NULL},
        {"dates", "the 3rd of march , 2021", "2 0 2 1 - 0 3 - 0 3"},
        {"dates", "wednesday , march 3 , 2021", "2 0 2 1 - 0 3 - 0 3"},
        {"dates", "thursday , march 3 , 2021", NULL}, /* 2021-03-03 was a Wednesday */
        {"dates", "feb 29th '00", "2 0 0 0 - 0 2 - 2 9"},
        {"dates", "29 . 02 . 1900", NULL}, /* 1900 was not a leap year */
        {"dates", "jan 1st '69", "1 9 6 9 - 0 1 - 0 1"},
        {"dates", "dec 31st '68", "2 0 6 8 - 1 2 - 3 1"},
        {"dates", "monday 1st january 1900", "1 9 0 0 - 0 1 - 0 1"},
        {"dates", "the 22th of may 2000", NULL},
        {"reorder", "the big dogs chased a cat", "kalo -ta umba -ta ga miru wo kuro -un -ri"},
        {"reorder", "an old small fox sleeps under some red trees", "vupo piti kena ga arbo -ta roso -ta suba dormi -u"},
        {"reorder", "some children watch the king near a bridge", "rako -ta ga ponte apud tavo wo oba -un"},
        {"reorder", "a old fox sleeps", NULL},
        {"reorder", "the dogs sees a cat", NULL},
    };
    int wrong = 0;
    char out[512], sig[256];
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        int ok = oracle(ex[i].task, ex[i].src, out, sizeof out, sig, sizeof sig);
        int good = ex[i].tgt ? ok && strcmp(out, ex[i].tgt) == 0 : !ok;
        if (!good) {
            printf("  oracle %s: '%s' -> %s, expected '%s'\n", ex[i].task, ex[i].src, ok ? out : "(refused)",
                   ex[i].tgt ? ex[i].tgt : "(refused)");
            wrong++;
        }
    }
    tu_check_abs(r, "test oracles on hand-worked examples (wrong)", wrong, 0);
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (h ^ '\n') * 0x100000001b3ull;
}

static uint64_t pairs_hash(const baton_pairs *p)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < p->n; i++)
        h = fnv(fnv(h, p->src[i]), p->tgt[i]);
    return h;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sources present in both sorted lists. */
static int common(char **a, int na, char **b, int nb)
{
    int i = 0, j = 0, c = 0;
    while (i < na && j < nb) {
        int s = strcmp(a[i], b[j]);
        c += s == 0;
        i += s <= 0;
        j += s >= 0;
    }
    return c;
}

/* Whether a numbers pair is one of the task's building blocks (below 100: one or two digits). */
static int numbers_core(const char *tgt)
{
    return strlen(tgt) <= 3;
}

/* Repeated sources among sorted a[0..n); with `numbers`, repeats of a number below 100 (a word
 * or two without "hundred" or "thousand") are allowed, as the training split holds them. */
static int sorted_dups(char **a, int n, int numbers)
{
    int d = 0;
    for (int i = 1; i < n; i++)
        d += strcmp(a[i - 1], a[i]) == 0 &&
             !(numbers && !strstr(a[i], "hundred") && !strstr(a[i], "thousand") &&
               strchr(a[i], ' ') == strrchr(a[i], ' '));
    return d;
}

static char **sorted_copy(const baton_pairs *p)
{
    char **a = malloc((size_t)p->n * sizeof *a);
    memcpy(a, p->src, (size_t)p->n * sizeof *a);
    qsort(a, (size_t)p->n, sizeof *a, cmp_str);
    return a;
}

static void check_task(tu_report *r, const char *task, int min_signatures)
{
    static const char *const splits[3] = {"train", "dev", "test"};
    static const int sizes[3] = {2000, 200, 200};
    baton_pairs p[3];
    char name[160];
    int gen_failed = 0;
    for (int s = 0; s < 3; s++)
        gen_failed += baton_toy_generate(&p[s], task, splits[s], sizes[s], 1) != BATON_OK || p[s].n != sizes[s];
    snprintf(name, sizeof name, "%s: train 2000, dev 200, test 200 generated (failures)", task);
    if (!tu_check_abs(r, name, gen_failed, 0)) {
        for (int s = 0; s < 3; s++)
            baton_pairs_free(&p[s]);
        return;
    }
    printf("  %s samples:\n", task);
    for (int i = 0; i < 3; i++)
        printf("    %-60s -> %s\n", p[0].src[i], p[0].tgt[i]);

    /* Well-formed and correct, every pair of every split. */
    int malformed = 0, wrong = 0, n_sig = 0;
    char sigs[64][128];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < p[s].n; i++) {
            char buf[512], *t[MAX_TOKS], want[512], sig[128];
            malformed += tokenize(p[s].src[i], buf, sizeof buf, t) <= 0;
            malformed += tokenize(p[s].tgt[i], buf, sizeof buf, t) <= 0;
            if (!oracle(task, p[s].src[i], want, sizeof want, sig, sizeof sig) || strcmp(want, p[s].tgt[i]) != 0) {
                if (wrong++ < 5)
                    printf("  %s %s: '%s' -> '%s', the oracle says '%s'\n", task, splits[s], p[s].src[i], p[s].tgt[i],
                           want);
            }
            int seen = 0;
            for (int k = 0; k < n_sig; k++)
                seen |= strcmp(sigs[k], sig) == 0;
            if (!seen && n_sig < 64)
                strcpy(sigs[n_sig++], sig);
        }
    }
    snprintf(name, sizeof name, "%s: malformed sentences (empty, double or edge spaces, upper case)", task);
    tu_check_abs(r, name, malformed, 0);
    snprintf(name, sizeof name, "%s: pairs whose target differs from the independent oracle's", task);
    tu_check_abs(r, name, wrong, 0);
    if (min_signatures > 0) {
        snprintf(name, sizeof name, "%s: source formats seen in 2400 pairs, short of %d", task, min_signatures);
        tu_check_abs(r, name, n_sig < min_signatures ? min_signatures - n_sig : 0, 0);
    }

    /* Splits disjoint, sources distinct within each. */
    char **sorted[3];
    for (int s = 0; s < 3; s++)
        sorted[s] = sorted_copy(&p[s]);
    int overlap = common(sorted[0], p[0].n, sorted[1], p[1].n) + common(sorted[0], p[0].n, sorted[2], p[2].n) +
                  common(sorted[1], p[1].n, sorted[2], p[2].n);
    int num = strcmp(task, "numbers") == 0;
    int dups = sorted_dups(sorted[0], p[0].n, num) + sorted_dups(sorted[1], p[1].n, 0) + sorted_dups(sorted[2], p[2].n, 0);
    snprintf(name, sizeof name, "%s: sources in two splits", task);
    tu_check_abs(r, name, overlap, 0);
    snprintf(name, sizeof name, "%s: repeated sources within a split", task);
    tu_check_abs(r, name, dups, 0);
    /* The building blocks: train alone, where a third of the draws are (a sixth one digit, a sixth
     * two) and all of them are kept, against 8 in 10 of the others: a share of (1/3) / (1/3 + 2/3 *
     * 0.8) = 5/13. Of 2000 pairs its standard deviation is 0.011: 0.03 is almost three. */
    if (num) {
        int core[3] = {0, 0, 0};
        for (int s = 0; s < 3; s++)
            for (int i = 0; i < p[s].n; i++)
                core[s] += numbers_core(p[s].tgt[i]) && strlen(p[s].tgt[i]) > 0;
        tu_check_abs(r, "numbers: numbers below 100 in dev or test", core[1] + core[2], 0);
        tu_check(r, "numbers: the share of numbers below 100 in train, against 5/13",
                 fabs((double)core[0] / p[0].n - 5.0 / 13.0), 0.03);
    }

    /* Another seed's test split is still disjoint from this train split: the split is the text's. */
    baton_pairs other;
    int other_overlap = -1;
    if (baton_toy_generate(&other, task, "test", 500, 99) == BATON_OK) {
        char **o = sorted_copy(&other);
        other_overlap = common(sorted[0], p[0].n, o, other.n);
        free(o);
        baton_pairs_free(&other);
    }
    snprintf(name, sizeof name, "%s: train (seed 1) sources in test (seed 99)", task);
    tu_check_abs(r, name, other_overlap, 0);
    for (int s = 0; s < 3; s++)
        free(sorted[s]);

    /* Determinism: same arguments, same pairs; another seed, other pairs; a shorter run is a prefix. */
    baton_pairs again, seed2, shorter;
    int st = baton_toy_generate(&again, task, "train", 2000, 1) | baton_toy_generate(&seed2, task, "train", 2000, 2) |
             baton_toy_generate(&shorter, task, "train", 100, 1);
    int differ = 0, same_as_seed2 = 0, not_prefix = 0;
    if (st == BATON_OK) {
        for (int i = 0; i < 2000; i++) {
            differ += strcmp(again.src[i], p[0].src[i]) != 0 || strcmp(again.tgt[i], p[0].tgt[i]) != 0;
            same_as_seed2 += strcmp(seed2.src[i], p[0].src[i]) == 0;
        }
        for (int i = 0; i < 100; i++)
            not_prefix += strcmp(shorter.src[i], p[0].src[i]) != 0;
    }
    snprintf(name, sizeof name, "%s: second call with the same arguments, pairs that differ", task);
    tu_check_abs(r, name, st != BATON_OK ? -1 : differ, 0);
    /* Different seeds may agree on a short sentence by chance, never on most of them. */
    snprintf(name, sizeof name, "%s: seed 2 vs seed 1, positions with the same source (of 2000)", task);
    tu_check_abs(r, name, same_as_seed2, 20);
    snprintf(name, sizeof name, "%s: n = 100 is not the first 100 of n = 2000", task);
    tu_check_abs(r, name, not_prefix, 0);
    baton_pairs_free(&again);
    baton_pairs_free(&seed2);
    baton_pairs_free(&shorter);
    for (int s = 0; s < 3; s++)
        baton_pairs_free(&p[s]);
}

/* The output is pinned, so that any machine, compiler or later change that alters it shows here. */
static void check_pinned(tu_report *r)
{
    static const struct {
        const char *task, *split, *first_src, *first_tgt;
        uint64_t hash; /* pairs_hash of n = 300, seed 1 */
    } pin[] = {
        {"dates", "train", "jan 17 , 2073", "2 0 7 3 - 0 1 - 1 7", 0xf5a7913510878c5cull},
        {"numbers", "dev", "three thousand four hundred fifty three", "3 4 5 3", 0xe976052b78d6169full},
        {"reorder", "test", "a small child helps some black red dogs under a house",
         "rako piti ga doma suba kalo -ta roso -ta nera -ta wo ajuta -u", 0xb2f1440454ab237aull},
    };
    for (size_t i = 0; i < sizeof pin / sizeof pin[0]; i++) {
        baton_pairs p;
        char name[128];
        int bad = 1;
        if (baton_toy_generate(&p, pin[i].task, pin[i].split, 300, 1) == BATON_OK) {
            uint64_t h = pairs_hash(&p);
            bad = strcmp(p.src[0], pin[i].first_src) != 0 || strcmp(p.tgt[0], pin[i].first_tgt) != 0 || h != pin[i].hash;
            if (bad)
                printf("  %s %s seed 1: first pair '%s' -> '%s', hash of 300 0x%016llx\n", pin[i].task, pin[i].split,
                       p.src[0], p.tgt[0], (unsigned long long)h);
            baton_pairs_free(&p);
        }
        snprintf(name, sizeof name, "%s %s: output differs from the pinned one", pin[i].task, pin[i].split);
        tu_check_abs(r, name, bad, 0);
    }
}

/* Runs baton_toy_generate with stderr captured; returns its status and the message in msg. */
static baton_status generate_captured(baton_pairs *p, const char *task, const char *split, int n, char *msg, size_t cap)
{
    msg[0] = '\0';
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    if (!tmp || saved < 0 || dup2(fileno(tmp), STDERR_FILENO) < 0) {
        if (tmp)
            fclose(tmp);
        if (saved >= 0)
            close(saved);
        return baton_toy_generate(p, task, split, n, 1);
    }
    baton_status st = baton_toy_generate(p, task, split, n, 1);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t got = fread(msg, 1, cap - 1, tmp);
    msg[got] = '\0';
    fclose(tmp);
    fprintf(stderr, "(expected) %s", msg);
    return st;
}

static void check_errors(tu_report *r)
{
    static const struct {
        const char *name, *task, *split;
        int n;
        const char *must1, *must2; /* the message names the value and lists what is accepted */
    } bad[] = {
        {"unknown task", "french", "train", 10, "'french'", "dates, numbers, reorder"},
        {"unknown split", "dates", "validation", 10, "'validation'", "train, dev or test"},
        {"n = 0", "numbers", "train", 0, "n = 0", "expected 1 to"},
        {"n beyond the split", "numbers", "dev", 60000, "n = 60000", "expected 1 to 50000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        baton_pairs p = {(char **)1, (char **)1, 7}; /* must come back empty */
        char msg[1024], name[128];
        baton_status st = generate_captured(&p, bad[i].task, bad[i].split, bad[i].n, msg, sizeof msg);
        int fails = (st != BATON_ERR_INVALID) + (p.n != 0 || p.src || p.tgt) + !strstr(msg, bad[i].must1) +
                    !strstr(msg, bad[i].must2);
        snprintf(name, sizeof name, "error: %s refused with a message that names it (failures)", bad[i].name);
        tu_check_abs(r, name, fails, 0);
    }
    baton_pairs p;
    fprintf(stderr, "(the next error is expected)\n");
    tu_check_abs(r, "error: NULL task refused", baton_toy_generate(&p, NULL, "train", 1, 1) != BATON_ERR_INVALID, 0);
    const char *list = baton_toy_task_list();
    int missing = !strstr(list, "dates") + !strstr(list, "numbers") + !strstr(list, "reorder");
    missing += !baton_toy_task_about("dates") + !baton_toy_task_about("numbers") + !baton_toy_task_about("reorder");
    missing += baton_toy_task_about("french") != NULL;
    tu_check_abs(r, "task list and descriptions", missing, 0);
    baton_pairs_free(&p); /* freeing an empty set twice is harmless */
    baton_pairs_free(&p);
}

/* The largest n a split allows is drawn in bounded time (numbers' dev split: 50000 of ~100000). */
static void check_largest(tu_report *r)
{
    baton_pairs p;
    int bad = baton_toy_generate(&p, "numbers", "dev", 50000, 3) != BATON_OK || p.n != 50000;
    int dups = 0;
    if (!bad) {
        char **s = sorted_copy(&p);
        dups = sorted_dups(s, p.n, 0);
        free(s);
        baton_pairs_free(&p);
    }
    tu_check_abs(r, "numbers dev at its largest n (50000): failed or repeated sources", bad + dups, 0);
}

int main(void)
{
    tu_report r = {0, 0};
    check_oracles(&r);
    check_task(&r, "dates", 13);
    check_task(&r, "numbers", 0);
    check_task(&r, "reorder", 0);
    check_pinned(&r);
    check_errors(&r);
    check_largest(&r);
    return tu_summary(&r, "toy");
}
