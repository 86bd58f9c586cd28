/* cmd_demo.c: `baton demo`: trains a small translator on a built-in task (spelled-out numbers to
 * digits by default), then translates validation sentences it has never seen and prints them
 * beside the reference, so a new user watches baton learn on any machine in under a minute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/bleu.h"
#include "baton/decode.h"
#include "baton/plot.h"
#include "baton_config.h"
#include "baton/toy.h"
#include "commands.h"
#include "model_dir.h"

enum { SHOW = 8, CHECK = 200, PICTURES = 3, S_MAX = 64, MAX_LEN = 64 };

/* Splits a copy of sentence into at most max tokens (pointers into buf). */
static int split(char *buf, size_t n, const char *sentence, const char **tok, int max)
{
    snprintf(buf, n, "%s", sentence);
    int k = 0;
    for (char *p = strtok(buf, " "); p && k < max; p = strtok(NULL, " "))
        tok[k++] = p;
    return k;
}

/* Draws example i's attention: a row per output token (and </s>), a column per source token. */
static void picture(const cli_settings *s, int i, const char *src, const char *out_text, const float *attn, int S)
{
    char path[4096], sbuf[1024], obuf[1024];
    const char *cols[S_MAX], *rows[MAX_LEN + 1];
    int nc = split(sbuf, sizeof sbuf, src, cols, S_MAX), nr = split(obuf, sizeof obuf, out_text, rows, MAX_LEN);
    if (nr < MAX_LEN)
        rows[nr++] = "</s>";
    snprintf(path, sizeof path, "%s/attention-%d.png", s->model, i + 1);
    /* the decoder attended once per output token and once more for </s>: nr rows of weights */
    if (nc == S && baton_plot_attention(path, src, attn, nr, S, rows, cols) == BATON_OK)
        printf("attention picture: %s\n", path);
}

/* Settings for the demo unless flags say otherwise: small and quick on a laptop CPU. */
static void demo_defaults(cli_settings *s)
{
    cli_opts_defaults(s, cli_settings_opts);
    s->emb = 64;
    s->hidden = 128;
    s->train_size = 8000;
    s->dev_size = CHECK;
    s->batch = 32;
    s->steps = 1500;
    s->valid_every = 500;
    s->model = "baton-demo-model";
    s->overwrite = 1; /* the demo's own directory: each run replaces the last */
}

/* Translates the task's first CHECK validation pairs with the saved model; prints SHOW of them. */
static baton_status show(const cli_settings *s)
{
    baton_backend be;
    cli_loaded_model lm;
    baton_pairs dev;
    BATON_TRY(cli_backend_create(&be, s, 0));
    BATON_TRY(cli_model_load(&lm, s->model, &be));
    BATON_TRY(baton_toy_generate(&dev, s->task, "dev", CHECK, (uint64_t)s->seed));
    baton_greedy g;
    int src[S_MAX], len, out[MAX_LEN], out_len, right = 0, pictures = 0;
    static float attn[MAX_LEN * S_MAX];
    char text[1024];
    baton_bleu_stats bleu;
    memset(&bleu, 0, sizeof bleu);
    baton_status st = baton_greedy_create(&g, &be, &lm.m, S_MAX, 1);
    printf("\n%-58s %-24s %s\n", "source (never seen in training)", "baton", "reference");
    for (int i = 0; st == BATON_OK && i < dev.n; i++) {
        len = baton_vocab_encode(&lm.sv, dev.src[i], src, S_MAX);
        len = len > S_MAX ? S_MAX : len;
        st = baton_greedy_decode(&g, lm.params, &lm.t, src, &len, &len, len, 1, MAX_LEN, out, &out_len, attn);
        baton_vocab_decode(&lm.tv, out, out_len, text, sizeof text);
        int ok = strcmp(text, dev.tgt[i]) == 0;
        baton_bleu_add(&bleu, text, dev.tgt[i]);
        right += ok;
        if (i < SHOW)
            printf("%-58s %-24s %s %s\n", dev.src[i], text, dev.tgt[i], ok ? "ok" : "(differs)");
        if (BATON_HAVE_PNG && st == BATON_OK && pictures < PICTURES && out_len >= 3) /* skip one-token toys */
            picture(s, pictures++, dev.src[i], text, attn, len);
    }
    if (st == BATON_OK)
        printf("\n%d of %d validation sentences translated exactly right (%.1f%%), BLEU %.2f (greedy decoding).\n"
               "The model is in %s/; try: baton translate --model %s\n",
               right, dev.n, 100.0 * right / dev.n, baton_bleu_score(&bleu), s->model, s->model);
    baton_greedy_destroy(&g);
    baton_pairs_free(&dev);
    cli_model_free(&lm);
    baton_backend_destroy(&be);
    return st;
}

int cli_demo(int argc, char **argv)
{
    cli_settings s;
    demo_defaults(&s);
    static const cli_command cmd = {
        "demo", CLI_DEMO,
        "usage: baton demo [options]\n"
        "Trains a small translator on a built-in task (default: numbers, spelled out -> digits; also dates\n"
        "and reorder) into --model (replacing what is there), then translates validation sentences it has\n"
        "never seen, greedily, and prints them beside the references. The options are train's for a task,\n"
        "with demo-sized defaults (shown below)."};
    int help;
    if (cli_opts_argv(&s, cli_settings_opts, &cmd, argc, argv, 2, &help) != BATON_OK)
        return 2;
    if (help) {
        cli_opts_help(stdout, &s, cli_settings_opts, &cmd);
        return 0;
    }
    if (cli_settings_check(&s, CLI_DEMO) != BATON_OK)
        return 2;
    printf("baton demo: task '%s': %s\n", s.task, baton_toy_task_about(s.task) ? baton_toy_task_about(s.task) : "?");
    fflush(stdout); /* before training's progress lines on stderr */
    int rc = cli_train_run(&s);
    if (rc != 0)
        return rc;
    return show(&s) == BATON_OK ? 0 : 1;
}
