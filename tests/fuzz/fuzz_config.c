/* fuzz_config.c: baton's options as it reads them (src/cli/options.c on the real table
 * cli_settings_opts of src/cli/settings.c): config files (--config FILE, a model directory's
 * config.txt) and command lines.
 *
 * Input: a mode byte, then text. mode % 5 picks the command (train, demo, translate, score, check).
 * The text is read (1) as a config file (cli_opts_file), and (2) split at NULs and newlines into the
 * command's arguments after "baton <command>" (cli_opts_argv), where an argument "@" names the
 * config file of (1), so that "--config @" reads it; (3) with mode bit 3, the text is also the
 * config.txt of a tiny model directory that translate loads (cli_model_load).
 * Promises checked: a refused file is named in its error line; settings that parse are checked
 * (cli_settings_check); settings written as a config file (cli_opts_write, what config.txt holds)
 * read back equal, option by option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/backend.h"
#include "fuzz.h"
#include "model_dir.h"
#include "options.h"
#include "settings.h"

enum { MAX_ARGS = 256 };

static const cli_command commands[5] = {
    {"train", CLI_TRAIN, "usage: baton train"},
    {"demo", CLI_DEMO, "usage: baton demo"},
    {"translate", CLI_TRANSLATE, "usage: baton translate"},
    {"score", CLI_SCORE, "usage: baton score"},
    {"check", CLI_CHECK, "usage: baton check"},
};

static baton_backend be;
static char model_dir[128], config_txt[160];

/* A model directory of the tiny translator, as baton train writes it. */
static void make_model_dir(void)
{
    snprintf(model_dir, sizeof model_dir, "%s/model", fuzz_tmpdir());
    snprintf(config_txt, sizeof config_txt, "%s/config.txt", model_dir);
    cli_settings s;
    cli_opts_defaults(&s, cli_settings_opts);
    s.emb = 4, s.hidden = 4, s.model = model_dir;
    baton_vocab sv, tv;
    char *text[] = {"a b c d e f g h", "1 2 3 4 5 6"};
    baton_s2s m;
    baton_param_table t;
    baton_s2s_config mc;
    if (baton_cpu_backend_create(&be, 1) != BATON_OK || baton_vocab_build(&sv, text, 1, 1, 0) != BATON_OK ||
        baton_vocab_build(&tv, text + 1, 1, 1, 0) != BATON_OK ||
        cli_model_config(&mc, &s, sv.size, tv.size) != BATON_OK)
        fuzz_fail("config: cannot set up the model directory: %s", baton_error_last());
    baton_param_table_init(&t);
    if (baton_s2s_init(&m, &mc, &t) != BATON_OK)
        fuzz_fail("config: cannot set up the model: %s", baton_error_last());
    float *host = calloc(1, baton_param_bytes(&t));
    if (!host)
        fuzz_fail("config: out of memory");
    baton_s2s_init_weights(&m, &t, host, 1);
    if (cli_model_save(model_dir, "model.safetensors", &s, &sv, &tv, &t, host) != BATON_OK)
        fuzz_fail("config: cannot write the model directory: %s", baton_error_last());
    free(host);
    baton_param_table_free(&t);
    baton_vocab_free(&sv);
    baton_vocab_free(&tv);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    make_model_dir();
    return 0;
}

/* Settings written out (as config.txt) and read back must be the same, option by option. */
static void round_trip(const cli_settings *s, const cli_command *cmd)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        fuzz_fail("config: open_memstream failed");
    cli_opts_write(f, s, cli_settings_opts, cmd->id);
    fclose(f);
    const char *path = fuzz_file(1, text, len);
    cli_settings back;
    cli_opts_defaults(&back, cli_settings_opts);
    if (cli_opts_file(&back, cli_settings_opts, path) != BATON_OK)
        fuzz_fail("config: settings that baton %s accepted, written as a config file, are refused: %s\n%s",
                  cmd->name, baton_error_last(), text);
    for (const cli_opt *o = cli_settings_opts; o->name; o++) {
        char a[512], b[512];
        if ((o->cmds & cmd->id) && !cli_opts_equal(s, &back, o))
            fuzz_fail("config: --%s '%s' written as a config file reads back as '%s'", o->name,
                      cli_opts_text(a, sizeof a, s, o), cli_opts_text(b, sizeof b, &back, o));
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const cli_command *cmd = &commands[data[0] % 5];
    int load_model = data[0] & 8;
    data++, size--;
    baton_error_show_source(0);

    /* (1) a config file */
    const char *path = fuzz_file(0, data, size);
    cli_settings s;
    cli_opts_defaults(&s, cli_settings_opts);
    baton_status st = cli_opts_file(&s, cli_settings_opts, path);
    fuzz_expect_names(st, path, "cli_opts_file");
    if (st == BATON_OK)
        cli_settings_check(&s, cmd->id);
    cli_opts_release();

    /* (2) a command line */
    char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
    if (!copy)
        fuzz_fail("config: out of memory");
    memcpy(copy, data, size);
    copy[size] = '\0';
    int argc = 0;
    argv[argc++] = "baton";
    argv[argc++] = (char *)cmd->name;
    for (char *p = copy; p <= copy + size && argc < MAX_ARGS + 2;) {
        char *end = p;
        while (end < copy + size && *end != '\0' && *end != '\n')
            end++;
        *end = '\0';
        argv[argc++] = strcmp(p, "@") == 0 ? (char *)path : p;
        p = end + 1;
    }
    int help = 0;
    cli_opts_defaults(&s, cli_settings_opts);
    st = cli_opts_argv(&s, cli_settings_opts, cmd, argc, argv, 2, &help);
    if (st == BATON_OK && help) {
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            cli_opts_help(null, &s, cli_settings_opts, cmd);
            fclose(null);
        }
    } else if (st == BATON_OK) {
        cli_settings_check(&s, cmd->id);
        round_trip(&s, cmd);
    }
    cli_opts_release();
    free(copy);

    /* (3) the config.txt of a model directory */
    if (load_model) {
        FILE *f = fopen(config_txt, "wb");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
            fuzz_fail("config: cannot write %s", config_txt);
        cli_loaded_model lm;
        st = cli_model_load(&lm, model_dir, &be);
        if (st != BATON_OK && !strstr(baton_error_last(), model_dir))
            fuzz_fail("config: loading the model directory failed with an error line that names no file of it: '%s'",
                      baton_error_last());
        cli_model_free(&lm);
        cli_opts_release();
    }
    return 0;
}
