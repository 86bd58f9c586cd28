/* fuzz_safetensors.c: safetensors files as baton reads them (src/io/safetensors_read.c,
 * src/io/checkpoint.c): a model file (model.safetensors of a model directory) and a training
 * checkpoint (checkpoint.safetensors, with and without Adam's moments), against the parameter
 * table of a tiny translator, the one tests/fuzz/seeds/safetensors was written with
 * (fuzz_make_seeds). Promises checked: a refused file is named in its error line; a file that loads
 * as a checkpoint also gives its metadata and texts; a model that loads gives its metadata. */
#include <stdlib.h>
#include <string.h>

#include "baton/checkpoint.h"
#include "baton/safetensors.h"
#include "fuzz.h"

static baton_s2s model;
static baton_param_table table;
static float *params, *m, *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (fuzz_tiny_model(&model, &table, FUZZ_SRC_VOCAB, FUZZ_TGT_VOCAB, 0) != BATON_OK)
        fuzz_fail("safetensors: cannot build the tiny model's parameter table");
    size_t bytes = baton_param_bytes(&table);
    params = calloc(1, bytes), m = calloc(1, bytes), v = calloc(1, bytes);
    if (!params || !m || !v)
        fuzz_fail("safetensors: out of memory");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(0, data, size);

    baton_status model_st = baton_safetensors_load(path, &table, params);
    fuzz_expect_names(model_st, path, "baton_safetensors_load");
    baton_status meta_st;
    char *format = baton_safetensors_metadata(path, "format", &meta_st);
    fuzz_expect_names(meta_st, path, "baton_safetensors_metadata");
    if (model_st == BATON_OK && meta_st != BATON_OK)
        fuzz_fail("safetensors: %s loads as a model, but its metadata is refused", path);
    free(format);

    baton_ckpt_state state;
    baton_status adam_st = baton_ckpt_load(path, &table, params, m, v, NULL, &state);
    fuzz_expect_names(adam_st, path, "baton_ckpt_load (Adam)");
    baton_status sgd_st = baton_ckpt_load(path, &table, params, NULL, NULL, NULL, NULL);
    fuzz_expect_names(sgd_st, path, "baton_ckpt_load (SGD)");
    if (adam_st == BATON_OK && sgd_st != BATON_OK)
        fuzz_fail("checkpoint: %s loads with Adam's moments but not without them", path);
    baton_status text_st;
    char *config = baton_ckpt_text_get(path, "config", &text_st);
    fuzz_expect_names(text_st, path, "baton_ckpt_text_get");
    if (sgd_st == BATON_OK && text_st != BATON_OK)
        fuzz_fail("checkpoint: %s loads, but its texts are refused", path);
    free(config);
    return 0;
}
