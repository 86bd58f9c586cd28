/* fuzz_corpus.c: parallel corpora as `baton train` reads them (src/data/reader.c): two files aligned
 * by line, or one source<TAB>target file, with and without --replace-invalid.
 *
 * Input: a mode byte, then the corpus. Mode bit 0: TSV (the rest is the one file) or two files (the
 * rest split at its first NUL byte: source before, target after; the target may hold more NULs);
 * bit 1: replace_invalid; bits 2-3: max_words 0 (no limit), 1, 3 or 50; bits 4-7: the pair after
 * which the position is taken for the resume check.
 * Promises checked: an error names one of the files; every pair is non-empty, valid UTF-8 without
 * trailing whitespace (TSV: without a tab), within max_words; seeking back to a position taken with
 * baton_reader_tell gives the same pairs and the same end (or error) again. */
#include <string.h>

#include "baton/reader.h"
#include "fuzz.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int words(const char *s)
{
    int n = 0;
    for (const char *p = s; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        n++;
        while (*p && !is_space(*p))
            p++;
    }
    return n;
}

static void check_side(const char *s, int tsv, int max_words, const char *what)
{
    size_t n = strlen(s);
    if (n == 0)
        fuzz_fail("corpus: an empty %s side was returned", what);
    if (!fuzz_utf8_valid(s, n))
        fuzz_fail("corpus: the %s side '%.80s' is not valid UTF-8", what, s);
    if (is_space(s[n - 1]))
        fuzz_fail("corpus: the %s side '%.80s' ends in whitespace", what, s);
    if (tsv && strchr(s, '\t'))
        fuzz_fail("corpus: the %s side '%.80s' of a TSV pair holds a tab", what, s);
    if (max_words > 0 && words(s) > max_words)
        fuzz_fail("corpus: the %s side '%.80s' has more than max_words %d words", what, s, max_words);
}

static uint64_t mix(uint64_t h, const char *s)
{
    for (const char *p = s;; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
        if (!*p)
            return h;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int max_words[4] = {0, 1, 3, 50};
    int mode = data[0], tsv = mode & 1, resume_after = mode >> 4;
    baton_reader_options opt = {.replace_invalid = (mode >> 1) & 1, .max_words = max_words[(mode >> 2) & 3]};
    data++, size--;
    const char *src, *tgt = NULL;
    if (tsv) {
        src = fuzz_file(0, data, size);
    } else {
        const uint8_t *nul = memchr(data, '\0', size);
        size_t k = nul ? (size_t)(nul - data) : size;
        src = fuzz_file(0, data, k);
        tgt = fuzz_file(1, data + k + (nul != NULL), size - k - (nul != NULL));
    }
    baton_reader *r;
    if (baton_reader_open(&r, src, tgt, &opt) != BATON_OK)
        fuzz_fail("corpus: cannot open %s: %s", src, baton_error_last());

    baton_reader_pos pos = baton_reader_tell(r);
    uint64_t hash = 0xcbf29ce484222325ull;
    int pairs = 0, got;
    const char *s, *t;
    while ((got = baton_reader_next(r, &s, &t)) == 1) {
        check_side(s, tsv, opt.max_words, "source");
        check_side(t, tsv, opt.max_words, "target");
        if (pairs++ < resume_after)
            pos = baton_reader_tell(r);
        else
            hash = mix(mix(hash, s), t);
    }
    if (got < 0 && !strstr(baton_error_last(), src) && !(tgt && strstr(baton_error_last(), tgt)))
        fuzz_fail("corpus: an error line that names neither file: '%s'", baton_error_last());
    if (baton_reader_next(r, &s, &t) != got)
        fuzz_fail("corpus: the end (or error) %d of a reader is not sticky", got);

    if (baton_reader_seek(r, &pos) != BATON_OK)
        fuzz_fail("corpus: cannot seek back to a position from baton_reader_tell: %s", baton_error_last());
    uint64_t again = 0xcbf29ce484222325ull;
    int got_again;
    while ((got_again = baton_reader_next(r, &s, &t)) == 1)
        again = mix(mix(again, s), t);
    if (got_again != got || again != hash)
        fuzz_fail("corpus: resuming after pair %d gives other pairs or another end (%d, then %d)", resume_after, got,
                  got_again);
    baton_reader_close(r);
    return 0;
}
