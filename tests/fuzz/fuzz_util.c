/* fuzz_util.c: files, checks and small models the fuzz targets share (fuzz.h). */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton/subword.h"

/* A sanitizer runtime's way into its report (libFuzzer's -close_fd_mask=2 sends stderr to
 * /dev/null but keeps the reports); absent without sanitizers. */
extern void __sanitizer_report_error_summary(const char *summary) __attribute__((weak));

void fuzz_fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fuzz: %s\n", msg);
    if (__sanitizer_report_error_summary) {
        char summary[2100];
        snprintf(summary, sizeof summary, "fuzz: %s", msg);
        __sanitizer_report_error_summary(summary);
    }
    abort();
}

/* ---- files ------------------------------------------------------------------------------------- */

static char tmpdir[64];

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    DIR *d = opendir(tmpdir);
    if (d) {
        char path[512];
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            remove(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    tmpdir[0] = '\0';
}

const char *fuzz_tmpdir(void)
{
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%.40s/baton-fuzz-XXXXXX", base && base[0] && strlen(base) < 40 ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        fuzz_fail("cannot create a temporary directory %s: %s", tmpdir, strerror(errno));
    atexit(remove_tmpdir);
    return tmpdir;
}

static struct {
    int fd;
    char path[96];
} slots[FUZZ_SLOTS];

static void close_slots(void)
{
    for (int i = 0; i < FUZZ_SLOTS; i++)
        if (slots[i].path[0]) {
            close(slots[i].fd);
            slots[i].path[0] = '\0';
        }
}

static void open_slot(int slot)
{
    static int registered;
    if (!registered) {
        atexit(close_slots); /* registered before the directory's removal, so it runs after it: fine */
        registered = 1;
    }
    char name[16];
    snprintf(name, sizeof name, "fuzz%d", slot);
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd >= 0) {
        snprintf(slots[slot].path, sizeof slots[slot].path, "/proc/self/fd/%d", fd);
        if (access(slots[slot].path, R_OK) == 0) { /* /proc may be missing in a sandbox */
            slots[slot].fd = fd;
            return;
        }
        close(fd);
    }
    snprintf(slots[slot].path, sizeof slots[slot].path, "%s/input%d", fuzz_tmpdir(), slot);
    fd = open(slots[slot].path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        fuzz_fail("cannot create %s: %s", slots[slot].path, strerror(errno));
    slots[slot].fd = fd;
}

const char *fuzz_file(int slot, const void *data, size_t n)
{
    if (slot < 0 || slot >= FUZZ_SLOTS)
        fuzz_fail("file slot %d, expected 0 to %d", slot, FUZZ_SLOTS - 1);
    if (!slots[slot].path[0])
        open_slot(slot);
    int fd = slots[slot].fd;
    if (ftruncate(fd, 0) != 0)
        fuzz_fail("cannot truncate %s: %s", slots[slot].path, strerror(errno));
    const char *p = data;
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd, p + done, n - done, (off_t)done);
        if (w <= 0)
            fuzz_fail("cannot write %s: %s", slots[slot].path, strerror(errno));
        done += (size_t)w;
    }
    return slots[slot].path;
}

void fuzz_expect_names(baton_status st, const char *path, const char *what)
{
    if (st == BATON_OK)
        return;
    const char *msg = baton_error_last();
    if (!strstr(msg, path))
        fuzz_fail("%s failed (%s) with an error line that does not name the input %s: '%s'", what,
                  baton_status_name(st), path, msg);
}

const char *fuzz_capture_stdout(int slot, void (*fn)(void *ctx), void *ctx, size_t *n)
{
    static char *out[FUZZ_SLOTS];
    fuzz_file(slot, "", 0);
    int fd = slots[slot].fd;
    if (lseek(fd, 0, SEEK_SET) != 0)
        fuzz_fail("cannot rewind %s: %s", slots[slot].path, strerror(errno));
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(fd, STDOUT_FILENO) < 0)
        fuzz_fail("cannot capture standard output: %s", strerror(errno));
    fn(ctx);
    fflush(stdout);
    if (dup2(saved, STDOUT_FILENO) < 0)
        fuzz_fail("cannot restore standard output: %s", strerror(errno));
    close(saved);
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        fuzz_fail("cannot stat %s: %s", slots[slot].path, strerror(errno));
    *n = (size_t)sb.st_size;
    free(out[slot]);
    if (!(out[slot] = malloc(*n + 1)) || pread(fd, out[slot], *n, 0) != (ssize_t)*n)
        fuzz_fail("cannot read back standard output from %s", slots[slot].path);
    out[slot][*n] = '\0';
    return out[slot];
}

int fuzz_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t need = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!need || i + need > n)
            return 0;
        unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (need > 1 && (s[i + 1] < lo || s[i + 1] > hi))
            return 0;
        for (size_t k = 2; k < need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need;
    }
    return 1;
}

/* ---- models ------------------------------------------------------------------------------------ */

baton_status fuzz_tiny_model(baton_s2s *m, baton_param_table *t, int src_vocab, int tgt_vocab, int input_feed)
{
    baton_s2s_config c = {.cell = BATON_CELL_LSTM, .src_vocab = src_vocab, .tgt_vocab = tgt_vocab, .emb = 4,
                          .hidden = 4, .layers = 1, .bidirectional = 1, .score = BATON_ATTN_GENERAL,
                          .input_feed = input_feed};
    baton_param_table_init(t);
    return baton_s2s_init(m, &c, t);
}

const char *const fuzz_sentences[] = {
    "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
    "Two young, White males are outside near many bushes.",
    "Mehrere Männer mit Schutzhelmen bedienen ein Antriebsradsystem.",
    "Several men in hard hats are operating a giant pulley system.",
    "Ein kleines Mädchen klettert in ein Spielhaus aus Holz.",
    "A little girl climbing into a wooden playhouse.",
    "Ein Mann in einem blauen Hemd steht auf einer Leiter und putzt ein Fenster.",
    "A man in a blue shirt is standing on a ladder cleaning windows.",
    "Zwei Männer stehen am Herd und bereiten Essen zu.",
    "Two men are at the stove preparing food.",
    "Ein Mann in grün hält eine Gitarre, während der andere Mann sein Hemd ansieht.",
    "A man in green holds a guitar while the other man observes his shirt.",
    "Un homme en chemise bleue est debout sur une échelle et nettoie les fenêtres.",
    "Deux hommes sont au fourneau et préparent à manger.",
    "Une petite fille grimpe dans une maisonnette en bois.",
    "Straße, Größe, Fußball: ß ist kein Problem.",
    "Café, naïve, résumé – “quotes” and ‘more’…",
    "Ｆｕｌｌｗｉｄｔｈ letters and ﬁ ligatures are normalised.",
    "Ελληνικά: Σίσυφος ΟΔΥΣΣΕΥΣ.",
    "Русский текст: Ёж и ёлка.",
    "東京と大阪 😀 stay as they are.",
    "numbers 3 4 5 3 and 2026-11-28, 1,000.50 $ % & * ( ) [ ] { } < > / \\ | ~ ^ _ + = @ # ! ? ; : ' \"",
    "tab\tseparated\twords and   runs   of   spaces",
    "x",
};
const int fuzz_n_sentences = (int)(sizeof fuzz_sentences / sizeof fuzz_sentences[0]);

const char *fuzz_spm_model(void)
{
    static char model[160];
    static int tried;
    if (tried)
        return model[0] ? model : NULL;
    tried = 1;
    if (!baton_subword_have_sentencepiece())
        return NULL;
    char text[128], prefix[128];
    snprintf(text, sizeof text, "%s/spm-train.txt", fuzz_tmpdir());
    snprintf(prefix, sizeof prefix, "%s/spm", fuzz_tmpdir());
    FILE *f = fopen(text, "w");
    if (!f)
        fuzz_fail("cannot write %s: %s", text, strerror(errno));
    for (int i = 0; i < fuzz_n_sentences; i++)
        fprintf(f, "%s\n", fuzz_sentences[i]);
    if (fclose(f) != 0)
        fuzz_fail("cannot write %s: %s", text, strerror(errno));
    const char *paths[] = {text};
    baton_subword_train_options o = {.vocab_size = 240, .num_threads = 1};
    if (baton_subword_train(paths, 1, prefix, &o) != BATON_OK)
        fuzz_fail("cannot train the SentencePiece model of the fuzz targets: %s", baton_error_last());
    remove(text);
    snprintf(model, sizeof model, "%s.model", prefix);
    return model;
}
