/* avf_vad_segments_from_probs: the post-processing without a model. Expected
 * segments are worked out by hand from silero-vad's rules (positions in
 * 16 kHz samples, chunk i starts at 512 i; defaults: threshold 0.5, neg 0.35,
 * min speech 4000 samples, min silence 1600, pad 480). */
#include <math.h>
#include <stdlib.h>

#include "avflow/vad.h"
#include "test_util.h"

#define CH 512

typedef struct run {
    avf_vad_span *s;
    int n;
} run;

/* probs: n chunks of `fill`, then value v on chunks [a, b) for each (a, b, v)
 * triple in `spans` (k of them). */
static float *probs_make(int n, float fill, int k, const float *spans) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (int i = 0; i < n; i++)
        p[i] = fill;
    for (int j = 0; j < k; j++)
        for (int i = (int)spans[3 * j]; i < (int)spans[3 * j + 1]; i++)
            p[i] = spans[3 * j + 2];
    return p;
}

static run segs(const avf_vad_options *o, const float *p, int n, int64_t samples) {
    run r;
    assert_avf_ok(avf_vad_segments_from_probs(o, p, n, samples, &r.s, &r.n));
    return r;
}

static void expect(run r, int n, const int64_t *se) {
    if (r.n != n) {
        for (int i = 0; i < r.n; i++)
            print_message("  got [%lld, %lld)\n", (long long)r.s[i].start, (long long)r.s[i].end);
    }
    assert_int_equal(r.n, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(r.s[i].start, se[2 * i]);
        assert_int_equal(r.s[i].end, se[2 * i + 1]);
    }
    free(r.s);
}

static void defaults(void **state) {
    (void)state;
    avf_vad_options o;
    memset(&o, 0xab, sizeof o); /* padding too: memcmp-comparable after default */
    avf_vad_options_default(&o);
    avf_vad_options z;
    memset(&z, 0, sizeof z);
    z.threshold = 0.5f;
    z.neg_threshold = 0.35f;
    z.min_speech_ms = 250;
    z.min_silence_ms = 100;
    z.speech_pad_ms = 30;
    assert_memory_equal(&o, &z, sizeof o);
    assert_avf_ok(avf_vad_options_check(&o));
}

static void silence_and_empty(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    float *p = probs_make(100, 0.0f, 0, NULL);
    expect(segs(&o, p, 100, 100 * CH), 0, NULL);
    /* nothing at all */
    run r = segs(&o, NULL, 0, 0);
    assert_int_equal(r.n, 0);
    assert_null(r.s);
    free(p);
}

static void one_burst(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    /* speech on chunks 10..29: starts at 5120; silence from 15360 ends it
     * once 1600 samples have passed (chunk 34); padded by 480 */
    float sp[] = {10, 30, 0.9f};
    float *p = probs_make(100, 0.05f, 1, sp);
    int64_t want[] = {5120 - 480, 15360 + 480};
    expect(segs(&o, p, 100, 100 * CH), 1, want);
    free(p);
}

static void all_speech_clamps_to_clip(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    /* 16000 samples = 31.25 chunks -> 32 probabilities; the end is the clip's
     * end, not the padded chunk's, and the start clamps at 0 */
    float *p = probs_make(32, 1.0f, 0, NULL);
    int64_t want[] = {0, 16000};
    expect(segs(&o, p, 32, 16000), 1, want);
    free(p);
}

static void min_speech(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    /* 7 chunks = 3584 samples <= 4000: dropped; 8 chunks = 4096: kept */
    float sp7[] = {10, 17, 1.0f}, sp8[] = {10, 18, 1.0f};
    float *p = probs_make(60, 0.0f, 1, sp7);
    expect(segs(&o, p, 60, 60 * CH), 0, NULL);
    free(p);
    p = probs_make(60, 0.0f, 1, sp8);
    int64_t want[] = {5120 - 480, 18 * CH + 480};
    expect(segs(&o, p, 60, 60 * CH), 1, want);
    free(p);
    /* a short burst at the very end (no silence after it) follows the same rule */
    float tail[] = {55, 60, 1.0f};
    p = probs_make(60, 0.0f, 1, tail);
    expect(segs(&o, p, 60, 60 * CH), 0, NULL);
    free(p);
}

static void hysteresis(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    /* 0.4 is below the threshold but not below neg (0.35): speech goes on */
    float sp[] = {10, 15, 0.9f, 15, 35, 0.4f};
    float *p = probs_make(80, 0.1f, 2, sp);
    int64_t want[] = {5120 - 480, 35 * CH + 480};
    expect(segs(&o, p, 80, 80 * CH), 1, want);
    free(p);
    /* 0.4 never starts speech */
    p = probs_make(80, 0.4f, 0, NULL);
    expect(segs(&o, p, 80, 80 * CH), 0, NULL);
    free(p);
}

static void short_silence_does_not_split(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    /* 4 chunks of silence inside speech: the last silent chunk starts 1536
     * (< 1600) samples after the silence began, so speech goes on */
    float sp[] = {10, 20, 0.9f, 20, 24, 0.0f, 24, 40, 0.9f};
    float *p = probs_make(80, 0.0f, 3, sp);
    int64_t want[] = {5120 - 480, 40 * CH + 480};
    expect(segs(&o, p, 80, 80 * CH), 1, want);
    free(p);
    /* 5 chunks: the fifth is 2048 >= 1600 samples in, which ends the first
     * segment at the silence's start (10240); the next starts at 12800 */
    float sp2[] = {10, 20, 0.9f, 20, 25, 0.0f, 25, 40, 0.9f};
    p = probs_make(80, 0.0f, 3, sp2);
    int64_t want2[] = {5120 - 480, 10240 + 480, 12800 - 480, 40 * CH + 480};
    expect(segs(&o, p, 80, 80 * CH), 2, want2);
    free(p);
}

static void close_segments_share_the_gap(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    o.speech_pad_ms = 100; /* pad 1600: a gap under 3200 is shared */
    float sp[] = {10, 20, 0.9f, 26, 40, 0.9f};
    float *p = probs_make(80, 0.0f, 2, sp);
    /* A ends at 10240, B starts at 13312: gap 3072, half 1536 each */
    int64_t want[] = {5120 - 1600, 10240 + 1536, 13312 - 1536, 40 * CH + 1600};
    expect(segs(&o, p, 80, 80 * CH), 2, want);
    free(p);
}

static void max_speech_splits(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    o.speech_pad_ms = 0;
    o.max_speech_s = 1.0f; /* limit 16000 - 512 = 15488 samples */
    /* continuous speech: no silence to split at, so a hard cut at the first
     * chunk past the limit (31 * 512 = 15872 > 15488), which starts nothing;
     * the next chunk starts the next segment */
    float *p = probs_make(80, 1.0f, 0, NULL);
    int64_t want[] = {0, 31 * CH, 32 * CH, 63 * CH, 64 * CH, 80 * CH};
    expect(segs(&o, p, 80, 80 * CH), 3, want);
    free(p);
    /* a silence longer than 98 ms (5 chunks: 2048 > 1568 samples after its
     * start) inside the limit, too short to end speech (min silence 3 s):
     * the first split goes at the silence's start (prev_end = 5120) and the
     * next segment starts where speech resumed (next_start = 15 * 512); the
     * second has no silence and is cut hard at 7680 + 15488 -> chunk 46 */
    o.min_silence_ms = 3000;
    float sp[] = {10, 15, 0.0f};
    p = probs_make(70, 1.0f, 1, sp);
    int64_t want2[] = {0, 10 * CH, 15 * CH, 46 * CH, 47 * CH, 70 * CH};
    expect(segs(&o, p, 70, 70 * CH), 3, want2);
    free(p);
}

static void bad_input(void **state) {
    (void)state;
    avf_vad_options o;
    avf_vad_options_default(&o);
    float p[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    avf_vad_span *s = (avf_vad_span *)1;
    int n = 7;
    /* counts that do not fit the length */
    assert_avf_fails(avf_vad_segments_from_probs(&o, p, 4, 512 * 5, &s, &n),
                     AVF_ERR_INVALID_ARG);
    assert_null(s);
    assert_int_equal(n, 0);
    assert_avf_fails(avf_vad_segments_from_probs(&o, p, 3, 512 * 4, &s, &n),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_segments_from_probs(&o, p, -1, 0, &s, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_segments_from_probs(&o, p, 4, -5, &s, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_segments_from_probs(&o, NULL, 4, 2048, &s, &n),
                     AVF_ERR_INVALID_ARG);
    /* longer than a clip may be */
    assert_avf_fails(avf_vad_segments_from_probs(&o, p, 4,
                                                 (int64_t)AVF_VAD_MAX_CLIP_SECONDS * 16000 + 1,
                                                 &s, &n),
                     AVF_ERR_INVALID_ARG);
    /* probabilities outside [0, 1] and NaN */
    float q[4] = {0.1f, NAN, 0.3f, 0.4f};
    assert_avf_fails(avf_vad_segments_from_probs(&o, q, 4, 2048, &s, &n), AVF_ERR_INVALID_ARG);
    q[1] = 1.5f;
    assert_avf_fails(avf_vad_segments_from_probs(&o, q, 4, 2048, &s, &n), AVF_ERR_INVALID_ARG);
    q[1] = -0.1f;
    assert_avf_fails(avf_vad_segments_from_probs(&o, q, 4, 2048, &s, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_segments_from_probs(&o, p, 4, 2048, NULL, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_segments_from_probs(NULL, p, 4, 2048, &s, &n), AVF_ERR_INVALID_ARG);
}

static void bad_options(void **state) {
    (void)state;
    float p[4] = {0};
    avf_vad_span *s;
    int n;
    struct {
        const char *what;
        void (*set)(avf_vad_options *);
    } cases[] = {
        {"threshold 0", NULL}, {"threshold 1", NULL},     {"neg > thr", NULL},
        {"neg < 0", NULL},     {"min speech < 0", NULL},  {"min silence huge", NULL},
        {"pad < 0", NULL},     {"max speech tiny", NULL}, {"max speech < 0", NULL},
        {"fp16 2", NULL},      {"threshold NaN", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        avf_vad_options o;
        avf_vad_options_default(&o);
        switch (i) {
        case 0: o.threshold = 0; break;
        case 1: o.threshold = 1; break;
        case 2: o.neg_threshold = 0.6f; break;
        case 3: o.neg_threshold = -0.1f; break;
        case 4: o.min_speech_ms = -1; break;
        case 5: o.min_silence_ms = 600001; break;
        case 6: o.speech_pad_ms = -1; break;
        case 7: o.max_speech_s = 0.05f; break; /* (512 + 960) / 16000 = 0.092 */
        case 8: o.max_speech_s = -1; break;
        case 9: o.fp16 = 2; break;
        default: o.threshold = NAN; break;
        }
        avf_clear_error();
        avf_status st = avf_vad_segments_from_probs(&o, p, 4, 2048, &s, &n);
        if (st != AVF_ERR_INVALID_ARG)
            print_error("case '%s' gave %s\n", cases[i].what, avf_status_name(st));
        assert_int_equal(st, AVF_ERR_INVALID_ARG);
        assert_int_equal(avf_vad_options_check(&o), AVF_ERR_INVALID_ARG);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(silence_and_empty),
        cmocka_unit_test(one_burst),
        cmocka_unit_test(all_speech_clamps_to_clip),
        cmocka_unit_test(min_speech),
        cmocka_unit_test(hysteresis),
        cmocka_unit_test(short_silence_does_not_split),
        cmocka_unit_test(close_segments_share_the_gap),
        cmocka_unit_test(max_speech_splits),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
