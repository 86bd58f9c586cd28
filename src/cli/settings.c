/* settings.c: the shared option table and its translation into library configurations. */
#include "settings.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "baton/rnn.h"

#define O(field) offsetof(cli_settings, field)
#define CLI_ALL (CLI_TRAIN | CLI_DEMO | CLI_TRANSLATE | CLI_SCORE | CLI_CHECK)
/* Each option's --help group and the commands that take it: check builds a model of its own shape
 * on a task; translate and score read everything that shaped the model from its directory. */
#define G_MODEL "model", CLI_TRAIN | CLI_DEMO | CLI_CHECK, 1
#define G_MODEL_TRAINED "model", CLI_TRAIN | CLI_DEMO, 1
#define G_REGULARIZE "model", CLI_TRAIN | CLI_DEMO | CLI_CHECK, 0
#define G_REGULARIZE_TRAINED "model", CLI_TRAIN | CLI_DEMO, 0
#define G_DATA "data", CLI_TRAIN, 0
#define G_VOCAB "data", CLI_TRAIN, 1
#define G_DATA_TASK "data", CLI_TRAIN | CLI_DEMO | CLI_CHECK, 0
#define G_DATA_TASK_SIZE "data", CLI_TRAIN | CLI_DEMO, 0
#define G_DATA_READ "data", CLI_TRAIN | CLI_TRANSLATE | CLI_SCORE, 0
#define G_TRAINING "training", CLI_TRAIN | CLI_DEMO, 0
#define G_TRAINING_CORPUS "training", CLI_TRAIN, 0
#define G_TRAINING_ALL "training", CLI_ALL, 0
#define G_VALID "validation and checkpoints", CLI_TRAIN | CLI_DEMO, 0
#define G_VALID_TRAIN "validation and checkpoints", CLI_TRAIN, 0
#define G_OUTPUT "output", CLI_TRAIN | CLI_DEMO, 0
#define G_OUTPUT_MODEL "output", CLI_ALL, 0
#define G_DEVICE "device", CLI_ALL, 0
#define G_DEVICE_CHECK "device", CLI_CHECK, 0
#define G_INPUT_TRANSLATE "input", CLI_TRANSLATE, 0
#define G_INPUT_SCORE "input", CLI_SCORE, 0
#define G_DECODING "decoding", CLI_TRANSLATE, 0
#define G_PARALLEL "data parallel (under mpirun or srun)", CLI_TRAIN, 0

const cli_opt cli_settings_opts[] = {
    {"cell", OPT_STR, O(cell), "lstm", "rnn_tanh,lstm,gru", "recurrent cell", G_MODEL},
    {"attention", OPT_STR, O(attention), "general", "dot,general,additive", "attention score", G_MODEL},
    {"emb", OPT_INT, O(emb), "128", NULL, "embedding size E", G_MODEL},
    {"hidden", OPT_INT, O(hidden), "256", NULL, "hidden size H", G_MODEL},
    {"layers", OPT_INT, O(layers), "1", NULL, "recurrent layers L (encoder and decoder)", G_MODEL},
    {"bidirectional", OPT_BOOL, O(bidirectional), "true", NULL, "bidirectional encoder", G_MODEL},
    {"input-feed", OPT_BOOL, O(input_feed), "false", NULL, "input feeding (step-by-step decoder)", G_MODEL},
    {"tie", OPT_BOOL, O(tie), "false", NULL,
     "tie the generator to the target embedding (needs emb == hidden)", G_MODEL_TRAINED},
    {"dropout", OPT_FLOAT, O(dropout), "0.1", NULL, "dropout probability", G_REGULARIZE},
    {"label-smoothing", OPT_FLOAT, O(label_smoothing), "0.1", NULL, "label smoothing of the loss",
     G_REGULARIZE_TRAINED},
    {"task", OPT_STR, O(task), "numbers", "dates,numbers,reorder",
     "built-in task, when no --train-src is given", G_DATA_TASK},
    {"train-src", OPT_STR, O(train_src), NULL, NULL,
     "training sources, one sentence per line (or source<TAB>target lines without --train-tgt)", G_DATA},
    {"train-tgt", OPT_STR, O(train_tgt), NULL, NULL, "training targets, aligned by line", G_DATA},
    {"dev-src", OPT_STR, O(dev_src), NULL, NULL, "validation sources", G_DATA},
    {"dev-tgt", OPT_STR, O(dev_tgt), NULL, NULL, "validation targets", G_DATA},
    {"train-size", OPT_INT, O(train_size), "20000", NULL, "built-in task: training pairs", G_DATA_TASK_SIZE},
    {"dev-size", OPT_INT, O(dev_size), "500", NULL, "built-in task: validation pairs", G_DATA_TASK_SIZE},
    {"max-len", OPT_INT, O(max_len), "100", NULL, "skip pairs with a side longer than this (tokens)", G_DATA_TASK},
    {"subwords", OPT_STR, O(subwords), "none", "none,spm",
     "none: text is pre-tokenized; spm: SentencePiece models trained on the training corpus", G_VOCAB},
    {"subword-vocab", OPT_INT, O(subword_vocab), "8000", NULL, "pieces per SentencePiece model", G_VOCAB},
    {"joint-subwords", OPT_BOOL, O(joint_subwords), "true", NULL, "one SentencePiece model for both sides", G_VOCAB},
    {"subword-sample", OPT_INT, O(subword_sample), "1000000", NULL,
     "SentencePiece trains on the first N lines", G_DATA},
    {"replace-invalid", OPT_BOOL, O(replace_invalid), "false", NULL,
     "replace invalid UTF-8 bytes by U+FFFD instead of stopping", G_DATA_READ},
    {"vocab-size", OPT_INT, O(vocab_size), "0", NULL, "vocabulary size limit, specials included (0: none)", G_VOCAB},
    {"min-count", OPT_INT, O(min_count), "1", NULL, "drop tokens seen fewer times", G_VOCAB},
    {"optimizer", OPT_STR, O(optimizer), "adam", "adam,sgd", "optimizer", G_TRAINING},
    {"lr", OPT_FLOAT, O(lr), "0.002", NULL, "learning rate", G_TRAINING},
    {"weight-decay", OPT_FLOAT, O(weight_decay), "0", NULL, "decoupled weight decay (AdamW) / L2 (SGD)", G_TRAINING},
    {"clip", OPT_FLOAT, O(clip), "5", NULL, "global gradient-norm clip (0: off)", G_TRAINING},
    {"warmup", OPT_INT, O(warmup), "0", NULL, "linear warm-up steps", G_TRAINING},
    {"ema", OPT_FLOAT, O(ema), "0", NULL,
     "decay of the weights' moving average, which validation and the saved models hold (0: off; 0.999: about "
     "the last 1000 updates)", G_TRAINING},
    {"lr-decay", OPT_STR, O(lr_decay), "none", "none,invsqrt,exp,plateau",
     "learning-rate decay after warm-up (plateau: on validations without improvement)", G_TRAINING},
    {"decay-rate", OPT_FLOAT, O(decay_rate), "0.5", NULL, "exp decay: factor per --decay-every steps", G_TRAINING},
    {"decay-every", OPT_INT, O(decay_every), "1000", NULL, "exp decay: steps per factor", G_TRAINING},
    {"batch", OPT_INT, O(batch), "64", NULL, "sentences per batch (with --batch-tokens: at most)", G_TRAINING_ALL},
    {"batch-tokens", OPT_INT, O(batch_tokens), "0", NULL,
     "corpus files: batches of at most this many padded tokens per side (0: --batch sentences)", G_TRAINING_CORPUS},
    {"steps", OPT_INT, O(steps), "0", NULL, "optimizer updates to train (0: 2000, or no limit with --epochs)",
     G_TRAINING},
    {"epochs", OPT_INT, O(epochs), "0", NULL,
     "corpus files: stop after this many epochs (0: --steps only)", G_TRAINING_CORPUS},
    {"valid-bleu", OPT_BOOL, O(valid_bleu), "true", NULL,
     "validation also translates (greedy) and scores BLEU", G_VALID},
    {"keep-best", OPT_STR, O(keep_best), "bleu", "bleu,loss,last",
     "which weights model.safetensors keeps: the best validation BLEU or loss, or the last", G_VALID},
    {"stop-on", OPT_STR, O(stop_on), "loss", "loss,bleu",
     "what --patience and --lr-decay plateau watch: validation loss, or BLEU", G_VALID},
    {"patience", OPT_INT, O(patience), "0", NULL,
     "stop after this many validations without improvement (0: never)", G_VALID},
    {"plateau-patience", OPT_INT, O(plateau_patience), "2", NULL,
     "--lr-decay plateau: validations without improvement before the rate is multiplied by --decay-rate", G_VALID},
    {"save-every", OPT_INT, O(save_every), "0", NULL, "steps between checkpoints (0: at each validation)", G_VALID},
    {"resume", OPT_BOOL, O(resume), "false", NULL,
     "continue from the model directory's checkpoint.safetensors", G_VALID_TRAIN},
    {"overwrite", OPT_BOOL, O(overwrite), "false", NULL,
     "train into a --model directory that holds another run's files, replacing them", G_VALID},
    {"accumulate", OPT_INT, O(accumulate), "1", NULL, "batches per update (gradient accumulation)", G_TRAINING},
    {"max-bad-steps", OPT_INT, O(max_bad_steps), "5", NULL,
     "a step whose loss or gradient norm is NaN or Inf is skipped (no update) and logged; stop, without "
     "saving over the last checkpoint, after this many in a row (0: never stop)", G_TRAINING},
    {"dist-transport", OPT_STR, O(dist_transport), "auto", "auto,mpi,nccl",
     "how gradients are summed over ranks: auto is nccl on GPUs where built, else mpi", G_PARALLEL},
    {"bucket-mb", OPT_FLOAT, O(bucket_mb), "25", NULL,
     "gradient sum buckets: one starts once this many MB of gradients are final in backward", G_PARALLEL},
    {"dist-timeout", OPT_FLOAT, O(dist_timeout), "600", NULL,
     "seconds a rank waits for the others before it names the late ones and stops the job", G_PARALLEL},
    {"check-every", OPT_INT, O(check_every), "100", NULL,
     "steps between comparisons of every rank's weights by checksum (0: never)", G_PARALLEL},
    {"log-every", OPT_INT, O(log_every), "100", NULL, "steps between log lines when not on a terminal", G_OUTPUT},
    {"valid-every", OPT_INT, O(valid_every), "500", NULL, "steps between validations (0: only at the end)", G_VALID},
    {"metrics", OPT_STR, O(metrics), NULL, NULL, "write metrics as JSON lines to this file", G_OUTPUT},
    {"model", OPT_STR, O(model), NULL, NULL,
     "model directory (written by train; read by translate and score; check takes its shape)", G_OUTPUT_MODEL},
    {"device", OPT_STR, O(device), "auto", "auto,cpu,cuda", "backend (auto: the GPU when one is usable)", G_DEVICE},
    {"rnn-impl", OPT_STR, O(rnn_impl), "fused",
     "fused,packed,fused-gemm,persistent,wavefront,auto,cudnn,cudnn-persist-static,cudnn-persist-dynamic",
     "recurrent layers: fused (GEMM + fused cell per step; on the cpu the packed recurrence where built), "
     "packed (cpu: weights packed once per layer call, libxsmm), fused-gemm, persistent or wavefront "
     "(whole recurrences, cuda), auto (per layer shape), or cuDNN's RNN (cuda; with an algorithm)", G_DEVICE},
    {"reference", OPT_STR, O(reference), "cudnn", "cpu,cudnn,cudnn-persist-static,cudnn-persist-dynamic",
     "check: what the fused kernels are compared with", G_DEVICE_CHECK},
    {"precision", OPT_STR, O(precision), "fp32", "fp32,tf32,bf16",
     "matrix products: fp32, TF32 tensor cores (cuda), or bf16 operands with fp32 accumulation", G_DEVICE},
    {"tf32", OPT_BOOL, O(tf32), "false", NULL,
     "the same as --precision tf32 (kept for older scripts and models)", G_DEVICE},
    {"kernels", OPT_STR, O(kernels), "", NULL,
     "versions of parts, e.g. colsum=plain,loss=plain,step=eager (baton bench --help lists them)", G_DEVICE},
    {"threads", OPT_INT, O(threads), "0", NULL, "CPU threads (0: all cores)", G_DEVICE},
    {"seed", OPT_INT, O(seed), "1", NULL, "seed of weights, dropout, data and batch order", G_DEVICE},
    {"input", OPT_STR, O(input), NULL, NULL, "translate: input file (default: standard input)", G_INPUT_TRANSLATE},
    {"src", OPT_STR, O(src), NULL, NULL, "score: source file", G_INPUT_SCORE},
    {"tgt", OPT_STR, O(tgt), NULL, NULL, "score: target file", G_INPUT_SCORE},
    {"max-input-tokens", OPT_INT, O(max_input_tokens), "256", NULL,
     "translate the first N tokens of a longer line, with a warning naming it", G_DECODING},
    {"max-len-ratio", OPT_FLOAT, O(max_len_ratio), "2", NULL,
     "translate: output at most ratio x source + 5 tokens", G_DECODING},
    {"beam", OPT_INT, O(beam), "5", NULL, "translate: beam size (1: greedy)", G_DECODING},
    {"alpha", OPT_FLOAT, O(alpha), "0.6", NULL, "translate: GNMT length penalty exponent", G_DECODING},
    {"nbest", OPT_INT, O(nbest), "1", NULL,
     "translate: hypotheses per sentence (lines 'i ||| text ||| score' when > 1)", G_DECODING},
    CLI_OPT_END,
};

baton_status cli_precision(baton_precision *p, const cli_settings *s)
{
    BATON_TRY(baton_precision_parse(p, s->precision, "--precision"));
    if (s->tf32 && *p == BATON_PRECISION_FP32)
        *p = BATON_PRECISION_TF32;
    return BATON_OK;
}

baton_status cli_backend_create(baton_backend *be, const cli_settings *s, int announce)
{
    baton_backend_options opt = {.threads = s->threads, .versions = s->kernels};
    BATON_TRY(cli_precision(&opt.precision, s));
    BATON_TRY(baton_backend_create_ex(be, s->device, &opt));
    if (announce)
        fprintf(stderr, "device: %s\n", be->description);
    return BATON_OK;
}

baton_status cli_model_config(baton_s2s_config *mc, const cli_settings *s, int src_vocab, int tgt_vocab)
{
    memset(mc, 0, sizeof *mc);
    BATON_TRY(baton_cell_parse(&mc->cell, s->cell));
    BATON_TRY(baton_attn_score_parse(&mc->score, s->attention));
    mc->src_vocab = src_vocab;
    mc->tgt_vocab = tgt_vocab;
    mc->emb = s->emb;
    mc->hidden = s->hidden;
    mc->layers = s->layers;
    mc->bidirectional = s->bidirectional;
    mc->input_feed = s->input_feed;
    mc->tie_generator = s->tie;
    mc->dropout = s->dropout;
    mc->label_smoothing = s->label_smoothing;
    return BATON_OK;
}

baton_status cli_optim_config(baton_optim_config *oc, const cli_settings *s)
{
    *oc = baton_optim_defaults();
    oc->kind = strcmp(s->optimizer, "sgd") == 0 ? BATON_OPT_SGD : BATON_OPT_ADAM;
    oc->lr = s->lr;
    oc->weight_decay = s->weight_decay;
    oc->max_norm = s->clip;
    oc->ema = s->ema;
    oc->warmup = s->warmup;
    oc->decay = strcmp(s->lr_decay, "invsqrt") == 0 ? BATON_LR_INVSQRT
                : strcmp(s->lr_decay, "exp") == 0    ? BATON_LR_EXP
                                                     : BATON_LR_CONSTANT;
    oc->decay_rate = s->decay_rate;
    oc->decay_every = s->decay_every;
    return BATON_OK;
}

/* One range check: the option's name, its value and the range, in the error. */
#define RANGE(cond, name, fmt, value, expected) \
    BATON_REQUIRE(cond, "--%s " fmt ": expected %s", name, value, expected)

/* The same for an option read from a file (a model directory's config.txt): "FILE: name = value: expected ...". */
#define RANGE_IN(file, cond, name, fmt, value, expected)                                                       \
    do {                                                                                                       \
        if (file)                                                                                              \
            BATON_REQUIRE(cond, "%s: %s = " fmt ": expected %s", file, name, value, expected);                 \
        else                                                                                                   \
            RANGE(cond, name, fmt, value, expected);                                                           \
    } while (0)

baton_status cli_settings_check_model(const cli_settings *s, const char *file)
{
    RANGE_IN(file, s->emb >= 1 && s->emb <= CLI_LIMIT_DIM, "emb", "%d", s->emb, "1 to 65536");
    RANGE_IN(file, s->hidden >= 1 && s->hidden <= CLI_LIMIT_DIM, "hidden", "%d", s->hidden, "1 to 65536");
    RANGE_IN(file, s->layers >= 1 && s->layers <= BATON_RNN_MAX_LAYERS, "layers", "%d", s->layers, "1 to 16");
    RANGE_IN(file, !s->bidirectional || s->hidden % 2 == 0, "hidden", "%d", s->hidden,
             "an even size (a bidirectional encoder has two directions of H/2; or --no-bidirectional)");
    RANGE_IN(file, s->dropout >= 0.0f && s->dropout < 1.0f, "dropout", "%g", (double)s->dropout, "0 <= p < 1");
    RANGE_IN(file, s->label_smoothing >= 0.0f && s->label_smoothing < 1.0f, "label-smoothing", "%g",
             (double)s->label_smoothing, "0 <= eps < 1");
    RANGE_IN(file, !s->tie || s->emb == s->hidden, "tie", "%s", "true", "--emb equal to --hidden");
    return BATON_OK;
}

static baton_status check_data(const cli_settings *s)
{
    RANGE(s->train_size >= 1 && s->train_size <= CLI_LIMIT_PAIRS, "train-size", "%d", s->train_size,
          "1 to 16777216");
    RANGE(s->dev_size >= 1 && s->dev_size <= CLI_LIMIT_PAIRS, "dev-size", "%d", s->dev_size, "1 to 16777216");
    RANGE(s->max_len >= 1 && s->max_len <= CLI_LIMIT_LEN, "max-len", "%d", s->max_len, "1 to 65536");
    RANGE(s->vocab_size == 0 || (s->vocab_size > 4 && s->vocab_size <= CLI_LIMIT_VOCAB), "vocab-size", "%d",
          s->vocab_size, "0 (no limit) or 5 (the 4 special tokens and one more) to 16777216");
    RANGE(s->min_count >= 1, "min-count", "%d", s->min_count, ">= 1");
    RANGE(s->subword_vocab >= 8 && s->subword_vocab <= CLI_LIMIT_VOCAB, "subword-vocab", "%d", s->subword_vocab,
          "8 to 16777216");
    RANGE(s->subword_sample >= 1, "subword-sample", "%d", s->subword_sample, ">= 1");
    BATON_REQUIRE(!s->train_tgt || s->train_src,
                  "--train-tgt without --train-src: give both files (or --train-src alone with source<TAB>target "
                  "lines)");
    BATON_REQUIRE(!s->dev_tgt || s->dev_src, "--dev-tgt without --dev-src: give both files");
    BATON_REQUIRE(!(s->dev_src || s->dev_tgt) || s->train_src,
                  "--dev-src: validation files go with training files (--train-src); a --task makes its own");
    BATON_REQUIRE(strcmp(s->subwords, "none") == 0 || s->train_src,
                  "--subwords %s: subword models are trained on corpus files (--train-src)", s->subwords);
    BATON_REQUIRE(!s->train_src || s->batch_tokens == 0 || s->batch_tokens > s->max_len,
                  "--batch-tokens %d: expected more than --max-len %d (one longest pair must fit)", s->batch_tokens,
                  s->max_len);
    return BATON_OK;
}

static baton_status check_training(const cli_settings *s)
{
    RANGE(s->lr > 0.0f, "lr", "%g", (double)s->lr, "> 0");
    RANGE(s->weight_decay >= 0.0f, "weight-decay", "%g", (double)s->weight_decay, ">= 0");
    RANGE(s->clip >= 0.0f, "clip", "%g", (double)s->clip, ">= 0 (0: off)");
    RANGE(s->warmup >= 0, "warmup", "%d", s->warmup, ">= 0");
    RANGE(s->ema >= 0.0f && s->ema < 1.0f, "ema", "%g", (double)s->ema, "0 (off) or 0 < decay < 1");
    RANGE(s->decay_rate > 0.0f && s->decay_rate <= 1.0f, "decay-rate", "%g", (double)s->decay_rate, "0 < r <= 1");
    RANGE(s->decay_every >= 1, "decay-every", "%d", s->decay_every, ">= 1");
    RANGE(s->batch_tokens >= 0 && s->batch_tokens <= CLI_LIMIT_BATCH * 64, "batch-tokens", "%d", s->batch_tokens,
          "0 (off) to 67108864");
    RANGE(s->steps >= 0, "steps", "%d", s->steps, ">= 0 (0: no limit with --epochs, else 2000)");
    RANGE(s->epochs >= 0, "epochs", "%d", s->epochs, ">= 0");
    RANGE(s->accumulate >= 1 && s->accumulate <= 65536, "accumulate", "%d", s->accumulate, "1 to 65536");
    RANGE(s->max_bad_steps >= 0, "max-bad-steps", "%d", s->max_bad_steps, ">= 0 (0: never stop)");
    RANGE(s->bucket_mb > 0 && s->bucket_mb <= 4096, "bucket-mb", "%g", (double)s->bucket_mb, "0 < MB <= 4096");
    RANGE(s->dist_timeout > 0 && s->dist_timeout <= 86400, "dist-timeout", "%g", (double)s->dist_timeout,
          "0 < seconds <= 86400");
    RANGE(s->check_every >= 0, "check-every", "%d", s->check_every, ">= 0 (0: never)");
    RANGE(s->log_every >= 1, "log-every", "%d", s->log_every, ">= 1");
    RANGE(s->valid_every >= 0, "valid-every", "%d", s->valid_every, ">= 0");
    RANGE(s->save_every >= 0, "save-every", "%d", s->save_every, ">= 0");
    RANGE(s->patience >= 0, "patience", "%d", s->patience, ">= 0");
    BATON_REQUIRE(strcmp(s->stop_on, "bleu") != 0 || s->valid_bleu,
                  "--stop-on bleu: validation computes no BLEU with --no-valid-bleu");
    RANGE(s->plateau_patience >= 1, "plateau-patience", "%d", s->plateau_patience, ">= 1");
    return BATON_OK;
}

static baton_status check_decoding(const cli_settings *s)
{
    RANGE(s->beam >= 1 && s->beam <= 1024, "beam", "%d", s->beam, "1 to 1024");
    RANGE(s->nbest >= 1 && s->nbest <= s->beam, "nbest", "%d", s->nbest, "1 <= nbest <= beam");
    RANGE(s->alpha >= 0.0f, "alpha", "%g", (double)s->alpha, ">= 0");
    RANGE(s->max_len_ratio > 0.0f, "max-len-ratio", "%g", (double)s->max_len_ratio, "> 0");
    RANGE(s->max_input_tokens >= 1 && s->max_input_tokens <= CLI_LIMIT_LEN, "max-input-tokens", "%d",
          s->max_input_tokens, "1 to 65536");
    return BATON_OK;
}

baton_status cli_settings_check(const cli_settings *s, unsigned cmd)
{
    /* Upper limits keep every size computed from these (in int where the code indexes with int)
     * from wrapping before the arena and the parameter table check each tensor's element count. */
    RANGE(s->batch >= 1 && s->batch <= CLI_LIMIT_BATCH, "batch", "%d", s->batch, "1 to 1048576");
    RANGE(s->threads >= 0 && s->threads <= 4096, "threads", "%d", s->threads, "0 (all cores) to 4096");
    baton_precision p;
    BATON_TRY(cli_precision(&p, s));
    if (cmd & (CLI_TRAIN | CLI_DEMO | CLI_CHECK))
        BATON_TRY(cli_settings_check_model(s, NULL));
    if (cmd & (CLI_TRAIN | CLI_DEMO)) {
        BATON_TRY(check_data(s));
        BATON_TRY(check_training(s));
    }
    if (cmd & CLI_CHECK)
        RANGE(s->max_len >= 1 && s->max_len <= CLI_LIMIT_LEN, "max-len", "%d", s->max_len, "1 to 65536");
    if (cmd & CLI_TRANSLATE)
        BATON_TRY(check_decoding(s));
    BATON_REQUIRE(!(cmd & (CLI_TRAIN | CLI_DEMO | CLI_TRANSLATE | CLI_SCORE)) || s->model,
                  "--model DIR: expected the model directory (train and demo write it; translate and score read it)");
    BATON_REQUIRE(!(cmd & CLI_SCORE) || (s->src && s->tgt), "score: expected --src FILE and --tgt FILE");
    return BATON_OK;
}
