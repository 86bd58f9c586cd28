/* prepare.h: subword models and vocabularies for training on a corpus on disk. */
#ifndef BATON_CLI_PREPARE_H
#define BATON_CLI_PREPARE_H

#include "baton/reader.h"
#include "baton/subword.h"
#include "baton/vocab.h"
#include "settings.h"

/* With --subwords spm and no dir/src.spm.model yet: trains the SentencePiece model(s) on the
 * training corpus into dir (src.spm.model and tgt.spm.model; the same model twice when joint). */
baton_status cli_prepare_subwords(const cli_settings *s, const char *dir, const baton_reader_options *ro);

/* dir/src.vocab and dir/tgt.vocab when both exist; else counts the tokenized training corpus
 * (--min-count, --vocab-size) and writes them. */
baton_status cli_prepare_vocabs(baton_vocab *sv, baton_vocab *tv, const cli_settings *s, const char *dir,
                                const baton_reader_options *ro, baton_subword *ssw, baton_subword *tsw);

#endif
