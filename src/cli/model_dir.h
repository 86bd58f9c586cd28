/* model_dir.h: a trained model on disk, a directory of these files:
 *   config.txt          the settings it was trained with (name = value, as --config reads)
 *   src.vocab, tgt.vocab one token per line, id order
 *   model.safetensors   the weights under design.md's names (readable by safetensors.torch): the
 *                       best validation's by --keep-best
 *   model.last.safetensors  the weights at the end of training, beside the best ones
 *   src.spm.model, tgt.spm.model  SentencePiece models when trained on subwords (else the text
 *                       is taken as pre-tokenized, split at whitespace)
 *   checkpoint.safetensors  the training state to resume from (baton train --resume) */
#ifndef BATON_CLI_MODEL_DIR_H
#define BATON_CLI_MODEL_DIR_H

#include "baton/subword.h"
#include "baton/vocab.h"
#include "settings.h"

/* A model loaded for inference: settings, vocabularies, the model and its weights on be. */
typedef struct {
    cli_settings s;
    baton_vocab sv, tv;
    baton_subword *ssw, *tsw; /* tokenizers: SentencePiece models or whitespace mode */
    baton_s2s m;
    baton_param_table t;
    float *params; /* device */
    baton_backend *be;
} cli_loaded_model;

/* Writes the directory (created if missing) with the weights as `file` (model.safetensors, or
 * model.last.safetensors beside it); each file is written atomically. */
baton_status cli_model_save(const char *dir, const char *file, const cli_settings *s, const baton_vocab *sv,
                            const baton_vocab *tv, const baton_param_table *t, const float *host_params);

/* Reads a directory written by cli_model_save: its settings, vocabularies, tokenizers and
 * model.safetensors. On failure nothing is left to free. */
baton_status cli_model_load(cli_loaded_model *lm, const char *dir, baton_backend *be);

/* Opens DIR/<side>.spm.model when it exists, else whitespace mode. */
baton_status cli_model_subword(baton_subword **sw, const char *dir, const char *side);

/* Path of file in dir into out (n bytes); fails when it does not fit. */
baton_status cli_path_in(char *out, size_t n, const char *dir, const char *file);

/* Before training into s->model: refuses a directory that holds files unless --resume (continue
 * its run) or --overwrite (remove what baton wrote there first, so no vocabulary or subword model
 * of another run is reused); creates it. */
baton_status cli_model_dir_claim(const cli_settings *s);

/* Writes s->model/config.txt (atomically): at the first step, so that the directory describes its
 * model from then on, before any checkpoint. */
baton_status cli_model_dir_describe(const cli_settings *s);

/* --resume: the settings of the model in s->model (its config.txt) under the command line's
 * (argv, as cli_opts_argv parses them for cmd), refusing by option name a flag that would change
 * what shaped the model. BATON_ERR_INVALID then (usage), BATON_ERR_IO for an unreadable file. */
baton_status cli_model_dir_resume_settings(cli_settings *s, const cli_command *cmd, int argc, char **argv);

/* baton check --model DIR: the options that shaped the model in DIR (its config.txt), then the
 * command line (argv, for cmd) over them. */
baton_status cli_model_dir_shape(cli_settings *s, const cli_command *cmd, int argc, char **argv);

/* Frees what cli_model_load made. */
void cli_model_free(cli_loaded_model *lm);

#endif
