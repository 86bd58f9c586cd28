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

baton_status baton_text_read_lines(const char *path, char ***lines, int *n)
{
    *lines = NULL;
    *n = 0;
    int std = strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "r");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    int count = 0, alloc = 0;
    char **out = NULL;
    baton_status st = BATON_OK;
    ssize_t len;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        if (memchr(buf, '\0', (size_t)len)) {
            st = BATON_ERROR(BATON_ERR_FORMAT, "%s:%d: a NUL byte, expected text (is this a binary file?)", path,
                             count + 1);
            break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
            buf[--len] = '\0';
        if (count == alloc) {
            alloc = alloc ? 2 * alloc : 1024;
            char **grown = realloc(out, (size_t)alloc * sizeof *grown);
            if (!grown) {
                st = BATON_ERROR(BATON_ERR_OOM, "%s: out of memory after %d lines", path, count);
                break;
            }
            out = grown;
        }
        if (!(out[count] = strdup(buf))) {
            st = BATON_ERROR(BATON_ERR_OOM, "%s: out of memory after %d lines", path, count);
            break;
        }
        count++;
    }
    if (st == BATON_OK && ferror(f))
        st = BATON_ERROR(BATON_ERR_IO, "%s: read error: %s", path, strerror(errno));
    free(buf);
    if (!std)
        fclose(f);
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
