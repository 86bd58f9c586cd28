/* test_corpus.c: the streamed parallel-corpus reader (reader.h) on files this test writes: aligned
 * and TSV input with CRLF, trailing spaces, empty and over-long pairs; every refused input with
 * the file and line its error message must name; replacement of invalid UTF-8; resuming with
 * tell/seek; a line over 1 MB; and, when ../shared/data exists, the real Multi30k train files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/reader.h"
#include "baton/text.h"
#include "testutil.h"

static tu_report rep;
static char dir[64];

#define CHECK(cond, ...) TU_EXPECT(&rep, cond, __VA_ARGS__)

/* Writes n bytes to dir/name and returns the path (static storage, one per slot). */
static const char *write_file(int slot, const char *name, const char *bytes, size_t n)
{
    static char paths[4][128];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", dir, name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        printf("cannot write %s\n", paths[slot]);
        exit(1);
    }
    return paths[slot];
}

#define WRITE(slot, name, lit) write_file(slot, name, lit, sizeof lit - 1)

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Reads every pair and joins them as "src|tgt;" into out. */
static int read_all(baton_reader *r, char *out, size_t n)
{
    const char *s, *t;
    int got;
    out[0] = '\0';
    while ((got = baton_reader_next(r, &s, &t)) == 1) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s|%s;", s, t);
    }
    return got;
}

static void test_aligned(void)
{
    const char *src = WRITE(0, "a.de", "Hallo Welt\nZwei  M\xC3\xA4nner \r\n\nEins zwei drei vier\nx\nEnde");
    const char *tgt = WRITE(1, "a.en", "Hello world\nTwo men\t\r\nempty partner\nOne two three four\n   \nEnd\n");
    baton_reader_options opt = {.max_words = 3};
    baton_reader *r;
    CHECK(baton_reader_open(&r, src, tgt, &opt) == BATON_OK, "open");
    char all[512];
    int got = read_all(r, all, sizeof all);
    CHECK(got == 0, "end %d", got);
    CHECK(strcmp(all, "Hallo Welt|Hello world;Zwei  M\xC3\xA4nner|Two men;Ende|End;") == 0, "pairs '%s'", all);
    baton_reader_counts c = baton_reader_counts_get(r);
    CHECK(c.lines == 6 && c.pairs == 3 && c.skipped_empty == 2 && c.skipped_long == 1 && c.replaced == 0,
          "counts %lld %lld %lld %lld %lld", c.lines, c.pairs, c.skipped_empty, c.skipped_long, c.replaced);
    CHECK(baton_reader_next(r, &src, &tgt) == 0, "end stays the end");
    baton_reader_close(r);
}

static void test_tsv(void)
{
    const char *p = WRITE(0, "a.tsv", "a b\tA B\r\n\nc \t\nd \t D  \r\ne\tE");
    baton_reader *r;
    CHECK(baton_reader_open(&r, p, NULL, NULL) == BATON_OK, "open tsv");
    char all[256];
    CHECK(read_all(r, all, sizeof all) == 0, "end");
    CHECK(strcmp(all, "a b|A B;d| D;e|E;") == 0, "tsv pairs '%s'", all);
    baton_reader_counts c = baton_reader_counts_get(r);
    CHECK(c.lines == 5 && c.pairs == 3 && c.skipped_empty == 2, "tsv counts %lld %lld %lld", c.lines, c.pairs,
          c.skipped_empty);
    baton_reader_close(r);
}

/* Reads src (and tgt, or TSV) until the error and checks the status and that the message has
 * every one of the given fragments. */
static void expect_error(const char *what, const char *src, const char *tgt, baton_status want, const char *frag1,
                         const char *frag2)
{
    baton_reader *r;
    baton_status st = baton_reader_open(&r, src, tgt, NULL);
    int got = 0;
    if (st == BATON_OK) {
        char all[256];
        got = read_all(r, all, sizeof all);
        st = got < 0 ? (baton_status)-got : BATON_OK;
        baton_reader_close(r);
    }
    const char *msg = baton_error_last();
    CHECK(st == want, "%s: status %s, want %s", what, baton_status_name(st), baton_status_name(want));
    CHECK(contains(msg, frag1) && (!frag2 || contains(msg, frag2)), "%s: message '%s' lacks '%s' / '%s'", what, msg,
          frag1, frag2 ? frag2 : "");
}

static void test_errors(void)
{
    char missing[128], line[160];
    snprintf(missing, sizeof missing, "%s/missing.de", dir);
    expect_error("missing file", missing, NULL, BATON_ERR_IO, missing, "No such file");
    expect_error("directory", dir, NULL, BATON_ERR_IO, dir, "directory");
    const char *ok = WRITE(1, "ok.en", "one\ntwo\n");
    const char *longer = WRITE(0, "three.de", "eins\nzwei\ndrei\n");
    snprintf(line, sizeof line, "%s has 3 lines but %s ended after 2", longer, ok);
    expect_error("src longer", longer, ok, BATON_ERR_FORMAT, line, NULL);
    snprintf(line, sizeof line, "%s has 3 lines but %s ended after 2", longer, ok);
    expect_error("tgt longer", ok, longer, BATON_ERR_FORMAT, line, NULL);

    static const struct {
        const char *name, *bytes, *why;
        int col;
    } bad[] = {
        {"overlong 2-byte", "ok\nab\xC0\xAF\n", "overlong", 3},
        {"overlong 3-byte", "ok\n\xE0\x80\xAF\n", "overlong", 1},
        {"overlong 4-byte", "ok\nx\xF0\x8F\xBF\xBF\n", "overlong", 2},
        {"surrogate", "ok\nxy\xED\xA0\x80z\n", "surrogate", 3},
        {"above U+10FFFF", "ok\n\xF4\x90\x80\x80\n", "above U+10FFFF", 1},
        {"F5 lead", "ok\n\xF5\x80\x80\x80\n", "above U+10FFFF", 1},
        {"FF byte", "ok\nq\xFF\n", "never occurs", 2},
        {"truncated at end", "ok\nEuro \xE2\x82\n", "truncated", 6},
        {"truncated mid-line", "ok\n\xE2\x82x\n", "truncated", 1},
        {"lone continuation", "ok\nab\x80\n", "continuation", 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = write_file(0, "bad.de", bad[i].bytes, strlen(bad[i].bytes));
        char where[200], col[64];
        snprintf(where, sizeof where, "%s:2: invalid UTF-8", p);
        snprintf(col, sizeof col, "byte column %d", bad[i].col);
        expect_error(bad[i].name, p, ok, BATON_ERR_FORMAT, where, col);
        expect_error(bad[i].name, p, ok, BATON_ERR_FORMAT, bad[i].why, NULL);
    }
    const char *bin = write_file(0, "bin.de", "one\nt\0wo\n", 9);
    snprintf(line, sizeof line, "%s:2: a NUL byte at byte column 2", bin);
    expect_error("NUL byte", bin, ok, BATON_ERR_FORMAT, line, "binary");
    const char *notab = WRITE(0, "notab.tsv", "a\tA\nno tab here\n");
    snprintf(line, sizeof line, "%s:2: 0 tabs", notab);
    expect_error("TSV without tab", notab, NULL, BATON_ERR_FORMAT, line, "exactly one tab");
    const char *twotabs = WRITE(0, "twotabs.tsv", "a\tA\nb\tB\tC\n");
    snprintf(line, sizeof line, "%s:2: 2 tabs", twotabs);
    expect_error("TSV with two tabs", twotabs, NULL, BATON_ERR_FORMAT, line, NULL);
    /* Valid edge cases: the largest code point, U+FFFD itself, a 4-byte emoji. */
    const char *edge = WRITE(0, "edge.de", "\xF4\x8F\xBF\xBF \xEF\xBF\xBD \xF0\x9F\x98\x80\n\xED\x9F\xBF\n");
    const char *two = WRITE(1, "two.en", "a\nb\n");
    baton_reader *r;
    char all[128];
    CHECK(baton_reader_open(&r, edge, two, NULL) == BATON_OK && read_all(r, all, sizeof all) == 0, "valid edge cases");
    baton_reader_close(r);
}

static void test_replace(void)
{
    const char *src = WRITE(0, "r.de", "a\xC0\xAF" "b\n\xE2\x82x\ngood\n");
    const char *tgt = WRITE(1, "r.en", "A\nB\xED\xA0\x80\ngood\n");
    baton_reader_options opt = {.replace_invalid = 1};
    baton_reader *r;
    CHECK(baton_reader_open(&r, src, tgt, &opt) == BATON_OK, "open replace");
    char all[256];
    CHECK(read_all(r, all, sizeof all) == 0, "replace end");
    const char *want = "a\xEF\xBF\xBD\xEF\xBF\xBD" "b|A;\xEF\xBF\xBD\xEF\xBF\xBDx|B\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD;good|good;";
    CHECK(strcmp(all, want) == 0, "replaced '%s'", all);
    baton_reader_counts c = baton_reader_counts_get(r);
    CHECK(c.replaced == 3 && c.pairs == 3, "replaced lines %lld, pairs %lld", c.replaced, c.pairs);
    baton_reader_close(r);
}

static void test_seek(void)
{
    const char *src = WRITE(0, "s.de", "s1\r\ns2\n\ns4\ns5 \ns6\ns7\ns8\n");
    const char *tgt = WRITE(1, "s.en", "t1\nt2\r\nt3\nt4\nt5\nt6\t\nt7\nt8");
    baton_reader *r, *r2;
    const char *s, *t;
    CHECK(baton_reader_open(&r, src, tgt, NULL) == BATON_OK, "open seek");
    for (int i = 0; i < 3; i++) /* s1, s2, (empty skipped), s4 */
        CHECK(baton_reader_next(r, &s, &t) == 1, "pair %d", i);
    baton_reader_pos pos = baton_reader_tell(r);
    CHECK(pos.line[0] == 4 && pos.line[1] == 4, "tell lines %lld %lld", pos.line[0], pos.line[1]);
    char rest1[256], rest2[256], rest3[256];
    read_all(r, rest1, sizeof rest1);
    CHECK(strcmp(rest1, "s5|t5;s6|t6;s7|t7;s8|t8;") == 0, "rest '%s'", rest1);
    CHECK(baton_reader_seek(r, &pos) == BATON_OK, "seek back");
    read_all(r, rest2, sizeof rest2);
    CHECK(strcmp(rest1, rest2) == 0, "after seek '%s'", rest2);
    /* A fresh reader (a resumed run) lands on the same pair and keeps numbering lines right. */
    CHECK(baton_reader_open(&r2, src, tgt, NULL) == BATON_OK && baton_reader_seek(r2, &pos) == BATON_OK, "resume");
    read_all(r2, rest3, sizeof rest3);
    CHECK(strcmp(rest1, rest3) == 0, "resumed '%s'", rest3);
    baton_reader_pos end = baton_reader_tell(r2);
    CHECK(end.line[0] == 8 && end.line[1] == 8, "end lines %lld %lld", end.line[0], end.line[1]);
    baton_reader_close(r);
    baton_reader_close(r2);
}

static void test_long_line(void)
{
    size_t n = (3u << 20) / 2; /* 1.5 MB: 262144 words of "abcde" */
    char *big = malloc(n + 16);
    for (size_t i = 0; i < n; i++)
        big[i] = i % 6 == 5 ? ' ' : (char)('a' + i % 6);
    memcpy(big + n, "\nshort\n", 8);
    const char *src = write_file(0, "big.de", big, n + 7);
    const char *tgt = WRITE(1, "big.en", "long\nkurz\n");
    baton_reader *r;
    const char *s, *t;
    CHECK(baton_reader_open(&r, src, tgt, NULL) == BATON_OK, "open big");
    CHECK(baton_reader_next(r, &s, &t) == 1 && strlen(s) == n - 1 && strcmp(t, "long") == 0, "big line");
    CHECK(baton_reader_next(r, &s, &t) == 1 && strcmp(s, "short") == 0, "after big line");
    baton_reader_close(r);
    baton_reader_options opt = {.max_words = 250};
    CHECK(baton_reader_open(&r, src, tgt, &opt) == BATON_OK, "open big limited");
    CHECK(baton_reader_next(r, &s, &t) == 1 && strcmp(s, "short") == 0, "big line skipped");
    CHECK(baton_reader_counts_get(r).skipped_long == 1, "counted long");
    baton_reader_close(r);
    free(big);
}

/* A line over BATON_LINE_MAX bytes is an error naming file:line, read no further than the limit. */
static void test_line_limit(void)
{
    size_t n = (size_t)BATON_LINE_MAX + 1;
    char *big = malloc(n + 16);
    memcpy(big, "ok\n", 3);
    memset(big + 3, 'x', n);
    memcpy(big + 3 + n, "\nafter\n", 7);
    const char *src = write_file(0, "huge.de", big, n + 10);
    const char *tgt = WRITE(1, "huge.en", "ok\nhuge\nafter\n");
    baton_reader *r;
    const char *s, *t;
    CHECK(baton_reader_open(&r, src, tgt, NULL) == BATON_OK, "open huge");
    CHECK(baton_reader_next(r, &s, &t) == 1 && strcmp(s, "ok") == 0, "the line before the huge one");
    CHECK(baton_reader_next(r, &s, &t) == -BATON_ERR_FORMAT, "a line over BATON_LINE_MAX is refused");
    CHECK(contains(baton_error_last(), "huge.de:2: a line of more than 16777216 bytes"), "message '%s'",
          baton_error_last());
    baton_reader_close(r);
    free(big);
}

/* Streams a real corpus and checks it yields want pairs with nothing skipped. */
static void check_real(const char *src, const char *tgt, long long want)
{
    baton_reader *r;
    const char *s, *t;
    int got = -1;
    if (baton_reader_open(&r, src, tgt, NULL) == BATON_OK) {
        while ((got = baton_reader_next(r, &s, &t)) == 1)
            ;
        baton_reader_counts c = baton_reader_counts_get(r);
        CHECK(got == 0 && c.pairs == want && c.lines == want && c.skipped_empty == 0 && c.replaced == 0,
              "%s: got %d, %lld pairs of %lld lines, want %lld", src, got, c.pairs, c.lines, want);
        printf("%s: %lld pairs\n", src, c.pairs);
        baton_reader_close(r);
    } else {
        CHECK(0, "cannot open %s", src);
    }
}

static void test_real(void)
{
    char de[512], en[512], fra[512];
    snprintf(de, sizeof de, "%s/data/multi30k/train.de", BATON_SHARED_DIR);
    snprintf(en, sizeof en, "%s/data/multi30k/train.en", BATON_SHARED_DIR);
    snprintf(fra, sizeof fra, "%s/data/tatoeba-eng-fra/fra.txt", BATON_SHARED_DIR);
    if (access(de, R_OK) != 0 || access(en, R_OK) != 0) {
        printf("skipping the Multi30k part: %s not found\n", de);
        return;
    }
    check_real(de, en, 29000);
    if (access(fra, R_OK) == 0)
        check_real(fra, NULL, 142787);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/baton_corpus_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_aligned();
    test_tsv();
    test_errors();
    test_replace();
    test_seek();
    test_long_line();
    test_line_limit();
    test_real();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return tu_summary(&rep, "corpus");
}
