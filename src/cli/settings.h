/* settings.h: the options every baton command shares (model, data, training, decoding, device),
 * one table for flags, config files and the model directory's config.txt. */
#ifndef BATON_CLI_SETTINGS_H
#define BATON_CLI_SETTINGS_H

#include "baton/optim.h"
#include "baton/seq2seq.h"
#include "options.h"

typedef struct {
    /* model */
    const char *cell, *attention;
    int emb, hidden, layers, bidirectional, input_feed, tie;
    float dropout, label_smoothing;
    /* data */
    const char *task, *train_src, *train_tgt, *dev_src, *dev_tgt, *subwords;
    int train_size, dev_size, max_len, vocab_size, min_count;
    int subword_vocab, joint_subwords, subword_sample, replace_invalid;
    /* training */
    const char *optimizer, *lr_decay, *metrics;
    float lr, weight_decay, clip, decay_rate, ema;
    int warmup, decay_every, batch, batch_tokens, steps, epochs, accumulate, log_every, valid_every;
    int valid_bleu, patience, plateau_patience, save_every, resume, overwrite;
    int max_bad_steps; /* stop after this many skipped (non-finite) steps in a row; 0: never */
    const char *keep_best, *stop_on;
    /* data parallel (mpirun, srun: docs/distributed.md) */
    const char *dist_transport;
    float dist_timeout, bucket_mb;
    int check_every;
    /* running */
    const char *model, *device, *rnn_impl, *reference, *input, *src, *tgt, *precision, *kernels;
    int threads, seed, tf32;
    float max_len_ratio, alpha;
    int beam, nbest, max_input_tokens;
} cli_settings;

/* The largest sizes flags (and score's input lines) may ask for; each check's error text says the same. */
enum {
    CLI_LIMIT_DIM = 1 << 16,   /* --emb, --hidden */
    CLI_LIMIT_LEN = 1 << 16,   /* --max-len, --max-input-tokens: tokens per sentence */
    CLI_LIMIT_BATCH = 1 << 20, /* --batch: sentences */
    CLI_LIMIT_VOCAB = 1 << 24, /* --vocab-size, --subword-vocab */
    CLI_LIMIT_PAIRS = 1 << 24, /* --train-size, --dev-size of a built-in task */
};

/* The option table of cli_settings. */
extern const cli_opt cli_settings_opts[];

/* Checks every option that command cmd (CLI_*) takes against its range, and the ones that go
 * together, before any work starts: one line naming the option, the value and what was expected. */
baton_status cli_settings_check(const cli_settings *s, unsigned cmd);

/* Checks the options that shape a model (sizes, layers, dropout, tying), as cli_settings_check
 * does for train, demo and check; with file (not NULL) the error line names the file the settings
 * came from and the option as it is written there (a model directory's config.txt). */
baton_status cli_settings_check_model(const cli_settings *s, const char *file);

/* The precision --precision names (--tf32, kept for older scripts, means tf32). */
baton_status cli_precision(baton_precision *p, const cli_settings *s);

/* Creates the backend --device names (with --threads, --precision, --kernels); announce: print "device: ..." to stderr. */
baton_status cli_backend_create(baton_backend *be, const cli_settings *s, int announce);

/* The model configuration the settings describe, with the vocabulary sizes filled in. */
baton_status cli_model_config(baton_s2s_config *mc, const cli_settings *s, int src_vocab, int tgt_vocab);

/* The optimizer configuration the settings describe. */
baton_status cli_optim_config(baton_optim_config *oc, const cli_settings *s);

#endif
