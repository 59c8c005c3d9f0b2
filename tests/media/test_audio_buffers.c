/* The audio decoders' sample buffers (src/media/audio_buffers.c): a freed
 * clip's buffer goes to the next decode of its size. The cache itself is
 * tested in tests/unit/test_block_cache.c. */
#include <math.h>
#include <stdlib.h>

#include "test_util.h"
#include "avflow/audio.h"
#include "media/audio_impl.h"

/* 10 s of a 440 Hz sine, 16 kHz mono, as WAV bytes. */
static uint8_t *wav_clip(size_t *n) {
    avf_audio a = {.channels = 1, .sample_rate = 16000, .frames = 160000};
    a.data = malloc((size_t)a.frames * sizeof(float));
    assert_non_null(a.data);
    for (int64_t t = 0; t < a.frames; t++)
        a.data[t] = (float)(0.5 * sin(2 * M_PI * 440.0 * (double)t / 16000.0));
    uint8_t *bytes = NULL;
    assert_avf_ok(avf_audio_encode_memory(&a, AVF_AUDIO_WAV_PCM16, NULL, &bytes, n));
    avf_audio_free(&a);
    return bytes;
}

static void test_next_decode_reuses_the_freed_buffer(void **state) {
    (void)state;
    size_t n = 0;
    uint8_t *wav = wav_clip(&n);
    avf_audio d1, d2;
    assert_avf_ok(avf_audio_decode_memory(wav, n, &d1));
    float *first = d1.data;
    float probe = d1.data[1234];
    avf_audio_free(&d1);
    assert_true(avf_audio_buf_kept_bytes() >= 160000 * sizeof(float));
    assert_avf_ok(avf_audio_decode_memory(wav, n, &d2));
    assert_ptr_equal(d2.data, first); /* the same memory, no new mapping */
    assert_int_equal(d2.frames, 160000);
    assert_true(d2.data[1234] == probe); /* and the new samples in it */
    avf_audio_free(&d2);
    free(wav);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_decode_reuses_the_freed_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
