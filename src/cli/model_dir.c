/* model_dir.c: saving and loading a model directory (model_dir.h). */
#include "model_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton/safetensors.h"

baton_status cli_path_in(char *out, size_t n, const char *dir, const char *file)
{
    int len = snprintf(out, n, "%s/%s", dir, file);
    BATON_REQUIRE(len > 0 && (size_t)len < n, "model directory '%s': path too long", dir);
    return BATON_OK;
}

/* config.txt through a temporary file and rename, like every other file of the directory. */
static baton_status save_config(const char *dir, const cli_settings *s)
{
    char path[4096], tmp[4200];
    BATON_TRY(cli_path_in(path, sizeof path, dir, "config.txt"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return BATON_ERROR(BATON_ERR_IO, "%s: %s", tmp, strerror(errno));
    fprintf(f, "# baton model settings: the options it was trained with\n");
    cli_opts_write(f, s, cli_settings_opts, CLI_TRAIN);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0)
        return BATON_ERROR(BATON_ERR_IO, "%s: %s", path, strerror(errno));
    return BATON_OK;
}

baton_status cli_model_save(const char *dir, const cli_settings *s, const baton_vocab *sv, const baton_vocab *tv,
                            const baton_param_table *t, const float *host_params)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return BATON_ERROR(BATON_ERR_IO, "model directory %s: %s", dir, strerror(errno));
    char path[4096];
    BATON_TRY(cli_path_in(path, sizeof path, dir, "src.vocab"));
    BATON_TRY(baton_vocab_save(sv, path));
    BATON_TRY(cli_path_in(path, sizeof path, dir, "tgt.vocab"));
    BATON_TRY(baton_vocab_save(tv, path));
    BATON_TRY(save_config(dir, s));
    BATON_TRY(cli_path_in(path, sizeof path, dir, "model.safetensors"));
    const char *keys[] = {"format", "cell", "attention"}, *values[] = {"baton-seq2seq-1", s->cell, s->attention};
    return baton_safetensors_save(path, t, host_params, keys, values, 3);
}

baton_status cli_model_load(cli_loaded_model *lm, const char *dir, baton_backend *be)
{
    memset(lm, 0, sizeof *lm);
    lm->be = be;
    baton_param_table_init(&lm->t);
    char path[4096];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return BATON_ERROR(BATON_ERR_IO, "model directory %s: %s; expected a directory written by baton train", dir,
                           errno ? strerror(errno) : "not a directory");
    cli_opts_defaults(&lm->s, cli_settings_opts);
    BATON_TRY(cli_path_in(path, sizeof path, dir, "config.txt"));
    BATON_TRY(cli_opts_file(&lm->s, cli_settings_opts, path));
    BATON_TRY(cli_path_in(path, sizeof path, dir, "src.vocab"));
    BATON_TRY(baton_vocab_load(&lm->sv, path));
    BATON_TRY(cli_path_in(path, sizeof path, dir, "tgt.vocab"));
    BATON_TRY(baton_vocab_load(&lm->tv, path));
    BATON_TRY(cli_model_subword(&lm->ssw, dir, "src"));
    BATON_TRY(cli_model_subword(&lm->tsw, dir, "tgt"));
    baton_s2s_config mc;
    BATON_TRY(cli_model_config(&mc, &lm->s, lm->sv.size, lm->tv.size));
    BATON_TRY(baton_s2s_init(&lm->m, &mc, &lm->t));
    size_t bytes = baton_param_bytes(&lm->t);
    float *host = calloc(1, bytes);
    if (!host)
        return BATON_ERROR(BATON_ERR_OOM, "model weights: cannot allocate %zu bytes", bytes);
    baton_status st = cli_path_in(path, sizeof path, dir, "model.safetensors");
    if (st == BATON_OK)
        st = baton_safetensors_load(path, &lm->t, host);
    if (st == BATON_OK)
        st = baton_param_weights_alloc(be, &lm->t, &lm->params);
    if (st == BATON_OK)
        st = be->ops->upload(be, lm->params, host, bytes);
    free(host);
    return st;
}

baton_status cli_model_subword(baton_subword **sw, const char *dir, const char *side)
{
    char path[4096], file[64];
    snprintf(file, sizeof file, "%s.spm.model", side);
    BATON_TRY(cli_path_in(path, sizeof path, dir, file));
    return baton_subword_open(sw, access(path, F_OK) == 0 ? path : NULL);
}

void cli_model_free(cli_loaded_model *lm)
{
    baton_subword_close(lm->ssw);
    baton_subword_close(lm->tsw);
    if (lm->be && lm->params)
        lm->be->ops->free(lm->be, lm->params);
    baton_vocab_free(&lm->sv);
    baton_vocab_free(&lm->tv);
    baton_param_table_free(&lm->t);
    memset(lm, 0, sizeof *lm);
}
