/* libFuzzer harness: any byte string given to avf_model_load_memory() must
 * give a status or a model, never a crash, leak or sanitizer report. Loads
 * with AVF_MODEL_ALLOW_UNSUPPORTED so that fuzzed graphs get past the op
 * check into the summary and the accessors too. See tests/fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>

#include "avflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    avf_model_options opts = {.flags = AVF_MODEL_ALLOW_UNSUPPORTED};
    avf_model *m = NULL;
    if (avf_model_load_memory(data, size, &opts, &m) != AVF_OK)
        return 0;
    avf_model_summary s;
    avf_model_value_info v;
    (void)avf_model_get_summary(m, &s);
    for (int i = 0; i < avf_model_num_inputs(m); i++)
        (void)avf_model_input_info(m, i, &v);
    for (int i = 0; i < avf_model_num_outputs(m); i++)
        (void)avf_model_output_info(m, i, &v);
    avf_model_free(m);
    return 0;
}
