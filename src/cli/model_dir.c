/* model_dir.c: saving and loading a model directory (model_dir.h). */
#include "model_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton/atomic_file.h"
#include "baton/safetensors.h"

baton_status cli_path_in(char *out, size_t n, const char *dir, const char *file)
{
    int len = snprintf(out, n, "%s/%s", dir, file);
    BATON_REQUIRE(len > 0 && (size_t)len < n, "model directory '%s': path too long", dir);
    return BATON_OK;
}

/* config.txt through the atomic writer, like every other file of the directory: a kill or a full
 * disk leaves the old one whole. */
static baton_status save_config(const char *dir, const cli_settings *s)
{
    char path[4096];
    BATON_TRY(cli_path_in(path, sizeof path, dir, "config.txt"));
    baton_atomic_file a;
    BATON_TRY(baton_atomic_open(&a, path, "w"));
    fprintf(a.f, "# baton model settings: the options it was trained with\n");
    cli_opts_write(a.f, s, cli_settings_opts, CLI_TRAIN);
    baton_fault_write_pause();
    return baton_atomic_commit(&a); /* a failed fprintf shows there, in the stream's error flag */
}

baton_status cli_model_save(const char *dir, const char *file, const cli_settings *s, const baton_vocab *sv,
                            const baton_vocab *tv, const baton_param_table *t, const float *host_params)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return BATON_ERROR(BATON_ERR_IO, "model directory %s: %s", dir, strerror(errno));
    char path[4096];
    BATON_TRY(cli_path_in(path, sizeof path, dir, "src.vocab"));
    BATON_TRY(baton_vocab_save(sv, path));
    BATON_TRY(cli_path_in(path, sizeof path, dir, "tgt.vocab"));
    BATON_TRY(baton_vocab_save(tv, path));
    BATON_TRY(save_config(dir, s));
    BATON_TRY(cli_path_in(path, sizeof path, dir, file));
    const char *keys[] = {"format", "cell", "attention"}, *values[] = {"baton-seq2seq-1", s->cell, s->attention};
    return baton_safetensors_save(path, t, host_params, keys, values, 3);
}

/* A vocabulary of the model: the four specials and at least one token more (baton_s2s_init's rule). */
static baton_status load_vocab(baton_vocab *v, const char *path)
{
    BATON_TRY(baton_vocab_load(v, path));
    if (v->size <= BATON_SPECIALS)
        return BATON_ERROR(BATON_ERR_FORMAT, "%s: %d tokens, expected the %d special tokens and at least one more",
                           path, v->size, BATON_SPECIALS);
    return BATON_OK;
}

/* config.txt and the vocabularies size the model; before its weights are allocated, the weights
 * file must be large enough to hold them (a corrupted config.txt must not ask for gigabytes). */
static baton_status check_weights_size(const baton_param_table *t, const char *path, const char *dir)
{
    unsigned long long need = 0;
    for (int i = 0; i < t->count; i++)
        need += (unsigned long long)t->items[i].numel * sizeof(float);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return BATON_ERROR(BATON_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    if ((unsigned long long)sb.st_size < need)
        return BATON_ERROR(BATON_ERR_FORMAT,
                           "%s: %lld bytes, but %s/config.txt and the vocabularies describe a model of %llu "
                           "parameters (%llu bytes as F32): expected the weights of that model",
                           path, (long long)sb.st_size, dir, need / sizeof(float), need);
    return BATON_OK;
}

static baton_status load_parts(cli_loaded_model *lm, const char *dir, baton_backend *be)
{
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
    BATON_TRY(cli_settings_check_model(&lm->s, path)); /* sizes from a file: checked before they size anything */
    BATON_TRY(cli_path_in(path, sizeof path, dir, "src.vocab"));
    BATON_TRY(load_vocab(&lm->sv, path));
    BATON_TRY(cli_path_in(path, sizeof path, dir, "tgt.vocab"));
    BATON_TRY(load_vocab(&lm->tv, path));
    BATON_TRY(cli_model_subword(&lm->ssw, dir, "src"));
    BATON_TRY(cli_model_subword(&lm->tsw, dir, "tgt"));
    baton_s2s_config mc;
    BATON_TRY(cli_model_config(&mc, &lm->s, lm->sv.size, lm->tv.size));
    /* config.txt's sizes with the vocabularies' may still give a tensor the library refuses: one line
     * that says where they came from */
    int was_quiet = baton_error_set_quiet(1);
    baton_status init = baton_s2s_init(&lm->m, &mc, &lm->t);
    baton_error_set_quiet(was_quiet);
    if (init != BATON_OK)
        return BATON_ERROR(init, "%s/config.txt with vocabularies of %d and %d tokens describes a model that cannot be "
                                 "built: %s",
                           dir, lm->sv.size, lm->tv.size, baton_error_last());
    BATON_TRY(cli_path_in(path, sizeof path, dir, "model.safetensors"));
    BATON_TRY(check_weights_size(&lm->t, path, dir));
    size_t bytes = baton_param_bytes(&lm->t);
    float *host = calloc(1, bytes);
    if (!host)
        return BATON_ERROR(BATON_ERR_OOM, "model weights: cannot allocate %zu bytes", bytes);
    baton_status st = baton_safetensors_load(path, &lm->t, host);
    if (st == BATON_OK)
        st = baton_param_weights_alloc(be, &lm->t, &lm->params);
    if (st == BATON_OK)
        st = be->ops->upload(be, lm->params, host, bytes);
    free(host);
    return st;
}

baton_status cli_model_load(cli_loaded_model *lm, const char *dir, baton_backend *be)
{
    memset(lm, 0, sizeof *lm);
    baton_status st = load_parts(lm, dir, be);
    if (st != BATON_OK)
        cli_model_free(lm); /* what was read before the failure */
    return st;
}

baton_status cli_model_subword(baton_subword **sw, const char *dir, const char *side)
{
    char path[4096], file[64];
    snprintf(file, sizeof file, "%s.spm.model", side);
    BATON_TRY(cli_path_in(path, sizeof path, dir, file));
    return baton_subword_open(sw, access(path, F_OK) == 0 ? path : NULL);
}

/* The files baton writes into a model directory (and removes with --overwrite). */
static int baton_file(const char *name)
{
    static const char *const exact[] = {"config.txt",        "src.vocab",     "tgt.vocab",
                                        "model.safetensors", "model.last.safetensors",
                                        "checkpoint.safetensors", "loss.png", "src.spm.model",
                                        "src.spm.vocab",     "tgt.spm.model", "tgt.spm.vocab",
                                        "train.src.txt",     "train.tgt.txt"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(name, exact[i]) == 0)
            return 1;
    size_t n = strlen(name);
    return (strncmp(name, "attention-", 10) == 0 && n > 14 && strcmp(name + n - 4, ".png") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

/* Lists up to three files of dir into what (n bytes); returns how many entries it holds. With
 * clear, removes baton's own files instead, and counts the others. */
static int dir_entries(const char *dir, char *what, size_t n, int clear)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    what[0] = '\0';
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        if (clear && baton_file(e->d_name) && cli_path_in(path, sizeof path, dir, e->d_name) == BATON_OK &&
            remove(path) == 0)
            continue;
        if (count < 3)
            snprintf(what + strlen(what), n - strlen(what), "%s%s", count ? ", " : "", e->d_name);
        count++;
    }
    closedir(d);
    return count;
}

/* On --resume: removes the temporary files (FILE.tmp of one of baton's files) that a write
 * interrupted by a kill, a crash or a full disk left behind; the next save would replace them, but
 * a checkpoint's can be large on a disk that is already full. */
static void remove_stale_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        char base[256], path[4096];
        if (n <= 4 || n - 4 >= sizeof base || strcmp(e->d_name + n - 4, ".tmp") != 0)
            continue;
        memcpy(base, e->d_name, n - 4);
        base[n - 4] = '\0';
        if (baton_file(base) && !(n - 4 > 4 && strcmp(base + n - 8, ".tmp") == 0) &&
            cli_path_in(path, sizeof path, dir, e->d_name) == BATON_OK && remove(path) == 0)
            fprintf(stderr, "removed %s: an unfinished write (its file, %s, was never replaced by it)\n", path, base);
    }
    closedir(d);
}

baton_status cli_model_dir_claim(const cli_settings *s)
{
    char what[600];
    if (s->resume)
        remove_stale_tmp(s->model);
    if (!s->resume && s->overwrite) {
        int left = dir_entries(s->model, what, sizeof what, 1);
        if (left)
            fprintf(stderr, "model directory %s: --overwrite removed baton's files; %d other file(s) stay (%s)\n",
                    s->model, left, what);
    } else if (!s->resume) {
        int n = dir_entries(s->model, what, sizeof what, 0);
        BATON_REQUIRE(n == 0,
                      "--model %s: the directory is not empty (%s%s): --resume continues its training, --overwrite "
                      "replaces it, or name a new directory",
                      s->model, what, n > 3 ? ", ..." : "");
    }
    if (mkdir(s->model, 0777) != 0 && errno != EEXIST)
        return BATON_ERROR(BATON_ERR_IO, "model directory %s: %s", s->model, strerror(errno));
    return BATON_OK;
}

baton_status cli_model_dir_describe(const cli_settings *s)
{
    return save_config(s->model, s);
}

/* The settings in dir/config.txt over the defaults into *saved; `what` names the flag in errors. */
static baton_status read_config(cli_settings *saved, const char *dir, const char *what, const char *instead)
{
    char path[4096];
    BATON_TRY(cli_path_in(path, sizeof path, dir, "config.txt"));
    BATON_REQUIRE(access(path, F_OK) == 0, "%s: %s does not exist; expected a directory that baton train wrote%s",
                  what, path, instead);
    cli_opts_defaults(saved, cli_settings_opts);
    return cli_opts_file(saved, cli_settings_opts, path);
}

baton_status cli_model_dir_shape(cli_settings *s, const cli_command *cmd, int argc, char **argv)
{
    cli_settings saved;
    BATON_TRY(read_config(&saved, s->model, "--model", ""));
    for (const cli_opt *o = cli_settings_opts; o->name; o++)
        if (o->shapes && (o->cmds & cmd->id))
            memcpy((char *)s + o->offset, (const char *)&saved + o->offset,
                   o->type == OPT_STR ? sizeof(const char *) : o->type == OPT_FLOAT ? sizeof(float) : sizeof(int));
    int help;
    return cli_opts_argv(s, cli_settings_opts, cmd, argc, argv, 2, &help);
}

baton_status cli_model_dir_resume_settings(cli_settings *s, const cli_command *cmd, int argc, char **argv)
{
    cli_settings saved;
    BATON_TRY(read_config(&saved, s->model, "--resume", " (drop --resume to start a new run)"));
    *s = saved;
    int help;
    BATON_TRY(cli_opts_argv(s, cli_settings_opts, cmd, argc, argv, 2, &help));
    for (const cli_opt *o = cli_settings_opts; o->name; o++)
        if (o->shapes && !cli_opts_equal(s, &saved, o)) {
            char was[256], now[256];
            return BATON_ERROR(BATON_ERR_INVALID,
                               "--%s %s: the checkpoint in %s was trained with --%s %s; what shapes the model (sizes, "
                               "cell, vocabularies) cannot change on --resume",
                               o->name, cli_opts_text(now, sizeof now, s, o), s->model, o->name,
                               cli_opts_text(was, sizeof was, &saved, o));
        }
    return BATON_OK;
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
