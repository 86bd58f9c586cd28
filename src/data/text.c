/* text.c: whole-file line reading for pre-tokenized text (text.h). */
#include "baton/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void baton_text_free_lines(char **lines, int n)
{
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

size_t baton_text_bom(const char *s, size_t n)
{
    return n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF ? 3 : 0;
}

ssize_t baton_text_getline(char **buf, size_t *cap, FILE *f, size_t max)
{
    size_t n = 0;
    int c, over = 0;
    flockfile(f);
    while ((c = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) { /* room for c and the NUL, never more than max + 2 bytes in all */
            size_t grown = *cap < 128 ? 128 : 2 * *cap;
            grown = grown < max + 2 ? grown : max + 2;
            char *p = realloc(*buf, grown);
            if (!p) {
                funlockfile(f);
                errno = ENOMEM;
                return -1;
            }
            *buf = p;
            *cap = grown;
        }
        (*buf)[n++] = (char)c;
        if (c == '\n')
            break;
        if (n > max) {
            over = 1;
            break;
        }
    }
    funlockfile(f);
    if (n == 0)
        return -1;
    (*buf)[n] = '\0';
    return over ? -2 : (ssize_t)n;
}

baton_status baton_line_reader_open(baton_line_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!r->f)
        return BATON_ERROR(BATON_ERR_IO, "%s: %s", path, strerror(errno));
    return BATON_OK;
}

baton_status baton_line_reader_next(baton_line_reader *r, char **line)
{
    *line = NULL;
    errno = 0;
    ssize_t len = baton_text_getline(&r->buf, &r->cap, r->f, BATON_LINE_MAX);
    if (len == -2)
        return BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: a line of more than %d bytes; expected one sentence per line",
                           r->path, r->line + 1, BATON_LINE_MAX);
    if (len < 0) {
        if (ferror(r->f) || errno == ENOMEM)
            return BATON_ERROR(BATON_ERR_IO, "%s: read error after line %ld: %s", r->path, r->line,
                               strerror(errno ? errno : EIO));
        return BATON_OK;
    }
    r->line++;
    if (memchr(r->buf, '\0', (size_t)len))
        return BATON_ERROR(BATON_ERR_FORMAT, "%s:%ld: a NUL byte, expected text (is this a binary file?)", r->path,
                           r->line);
    while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r' || r->buf[len - 1] == ' ' ||
                       r->buf[len - 1] == '\t'))
        r->buf[--len] = '\0';
    *line = r->buf + (r->line == 1 ? baton_text_bom(r->buf, (size_t)len) : 0);
    return BATON_OK;
}

void baton_line_reader_close(baton_line_reader *r)
{
    if (r->f && r->f != stdin)
        fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

baton_status baton_text_read_lines(const char *path, char ***lines, int *n)
{
    *lines = NULL;
    *n = 0;
    baton_line_reader r;
    BATON_TRY(baton_line_reader_open(&r, path));
    int count = 0, alloc = 0;
    char **out = NULL, *line;
    baton_status st;
    while ((st = baton_line_reader_next(&r, &line)) == BATON_OK && line) {
        if (count == alloc) {
            alloc = alloc ? 2 * alloc : 1024;
            char **grown = realloc(out, (size_t)alloc * sizeof *grown);
            if (!grown) {
                st = BATON_ERROR(BATON_ERR_OOM, "%s: out of memory after %d lines", path, count);
                break;
            }
            out = grown;
        }
        if (!(out[count] = strdup(line))) {
            st = BATON_ERROR(BATON_ERR_OOM, "%s: out of memory after %d lines", path, count);
            break;
        }
        count++;
    }
    baton_line_reader_close(&r);
    if (st != BATON_OK) {
        baton_text_free_lines(out, count);
        return st;
    }
    *lines = out;
    *n = count;
    return BATON_OK;
}

void baton_pairs_free(baton_pairs *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        if (p->src)
            free(p->src[i]);
        if (p->tgt)
            free(p->tgt[i]);
    }
    free(p->src);
    free(p->tgt);
    p->src = p->tgt = NULL;
    p->n = 0;
}

baton_status baton_text_read_pairs(baton_pairs *p, const char *src_path, const char *tgt_path)
{
    int ns, nt;
    memset(p, 0, sizeof *p);
    BATON_TRY(baton_text_read_lines(src_path, &p->src, &ns));
    baton_status st = baton_text_read_lines(tgt_path, &p->tgt, &nt);
    if (st == BATON_OK && ns != nt)
        st = BATON_ERROR(BATON_ERR_FORMAT, "%s has %d lines but %s has %d; expected aligned files", src_path, ns,
                         tgt_path, nt);
    if (st != BATON_OK) {
        baton_text_free_lines(p->src, ns);
        if (p->tgt)
            baton_text_free_lines(p->tgt, nt);
        memset(p, 0, sizeof *p);
        return st;
    }
    p->n = ns;
    return BATON_OK;
}
