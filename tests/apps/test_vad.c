/* The VAD pipeline (avf_vad_run_batch) on the real Silero model and the
 * data/speech clips: per-clip errors for broken files, batched results equal
 * to single-clip results (also across groups of more than 256 clips), calls
 * from several threads at once, bad arguments, and on cuda:0 the same
 * segments as the CPU with only the probabilities coming back to the host.
 * Skipped (77) without models/silero_vad.onnx or data/speech. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "avflow/audio.h"
#include "avflow/ledger.h"
#include "avflow/vad.h"
#include "test_util.h"

/* Paths: test_vad [MODEL [SPEECH_DIR]], else $AVF_VAD_MODEL / $AVF_VAD_DATA,
 * else the source tree's models/ and data/speech, else a bundle's layout
 * next to the executable (../models, ../speech). */
static char g_model[4096], g_speech[4096];
#define MODEL g_model

static int readable(const char *p) { return access(p, R_OK) == 0; }

static void find_paths(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : getenv("AVF_VAD_MODEL");
    const char *d = argc > 2 ? argv[2] : getenv("AVF_VAD_DATA");
    snprintf(g_model, sizeof g_model, "%s", m ? m : AVF_SOURCE_DIR "/models/silero_vad.onnx");
    snprintf(g_speech, sizeof g_speech, "%s", d ? d : AVF_SOURCE_DIR "/data/speech");
    char exe[3000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    if (!m && !readable(g_model))
        snprintf(g_model, sizeof g_model, "%s/../models/silero_vad.onnx", exe);
    if (!d) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/vad_mix.wav", g_speech);
        if (!readable(probe))
            snprintf(g_speech, sizeof g_speech, "%s/../speech", exe);
    }
}

/* data/speech/<name> */
static const char *speech(const char *name) {
    static char p[4400];
    snprintf(p, sizeof p, "%s/%s", g_speech, name);
    return p;
}

typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

static blob slurp(const char *path) {
    blob b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b.n = (size_t)n;
    return b;
}

static avf_vad *make(avf_device *dev) {
    avf_vad *v = NULL;
    assert_avf_ok(avf_vad_create(MODEL, dev, &v));
    return v;
}

static avf_vad_input in_of(blob b) { return (avf_vad_input){b.p, b.n}; }

/* Segments well formed: inside the clip, ordered, not overlapping. */
static void check_shape(const avf_vad_result *r) {
    assert_int_equal(r->status, AVF_OK);
    double prev = 0;
    for (int i = 0; i < r->n_segments; i++) {
        assert_true(r->segments[i].start_s >= prev);
        assert_true(r->segments[i].end_s > r->segments[i].start_s);
        assert_true(r->segments[i].end_s <= r->duration_s + 1.0 / 16000);
        prev = r->segments[i].end_s;
    }
}

static void same_segments(const avf_vad_result *a, const avf_vad_result *b, double tol_s) {
    assert_int_equal(a->status, AVF_OK);
    assert_int_equal(b->status, AVF_OK);
    assert_int_equal(a->n_segments, b->n_segments);
    for (int i = 0; i < a->n_segments; i++) {
        assert_true(fabs(a->segments[i].start_s - b->segments[i].start_s) <= tol_s);
        assert_true(fabs(a->segments[i].end_s - b->segments[i].end_s) <= tol_s);
    }
}

static int have_inputs(void) {
    if (!readable(MODEL) || !readable(speech("vad_mix.wav"))) {
        fprintf(stderr, "SKIP: %s or %s missing (scripts/fetch-models.sh, "
                        "scripts/make-test-data.sh; or pass MODEL SPEECH_DIR)\n",
                MODEL, speech("vad_mix.wav"));
        return 0;
    }
    return 1;
}

static void create_errors(void **state) {
    (void)state;
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_vad *v = (avf_vad *)1;
    assert_int_not_equal(avf_vad_create("/nonexistent/silero.onnx", cpu, &v), AVF_OK);
    assert_null(v);
    assert_avf_fails(avf_vad_create(NULL, cpu, &v), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_create(MODEL, NULL, &v), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_create(MODEL, cpu, NULL), AVF_ERR_INVALID_ARG);
    const char *other = AVF_SOURCE_DIR "/models/ppocr_mobile_v2_cls.onnx";
    if (access(other, R_OK) == 0) {
        assert_avf_fails(avf_vad_create(other, cpu, &v), AVF_ERR_UNSUPPORTED);
        assert_null(v);
    }
    avf_vad_free(NULL);
}

/* Broken files fail alone, in the middle of good ones. */
static void broken_files_fail_alone(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_vad *v = make(dev);
    blob mix = slurp(speech("vad_mix.wav")), num = slurp(speech("en_numbers.wav"));
    unsigned char noise[4096];
    uint64_t seed = 99;
    for (size_t i = 0; i < sizeof noise; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        noise[i] = (unsigned char)(seed >> 56);
    }
    avf_vad_input in[7] = {
        in_of(mix),
        {NULL, 0},                   /* empty */
        {mix.p, 20},                 /* a cut header */
        {noise, sizeof noise},       /* not audio */
        {num.p, num.n * 6 / 10},     /* data cut short: decodes what is there */
        in_of(num),
        {mix.p, 44},                 /* a header and no samples */
    };
    avf_vad_result res[7];
    avf_vad_options o;
    avf_vad_options_default(&o);
    assert_avf_ok(avf_vad_run_batch(v, &o, 7, in, res));
    check_shape(&res[0]);
    assert_true(res[0].n_segments >= 1);
    assert_int_equal(res[0].sample_rate, 16000);
    assert_int_equal(res[0].channels, 1);
    assert_true(fabs(res[0].duration_s - 166868 / 16000.0) < 1e-9);
    for (int i = 1; i <= 3; i++) {
        assert_int_not_equal(res[i].status, AVF_OK);
        assert_true(res[i].error[0] != '\0');
        assert_int_equal(res[i].n_segments, 0);
        assert_null(res[i].segments);
        print_message("clip %d: %s\n", i, res[i].error);
    }
    assert_int_not_equal(res[6].status, AVF_OK);
    check_shape(&res[4]);
    check_shape(&res[5]);
    assert_true(res[4].duration_s < res[5].duration_s);
    /* the cut clip's first segment is the whole clip's first */
    assert_true(res[4].n_segments >= 1);
    assert_true(fabs(res[4].segments[0].start_s - res[5].segments[0].start_s) < 1e-9);
    for (int i = 0; i < 7; i++)
        avf_vad_result_free(&res[i]);
    avf_vad_stats st;
    avf_vad_get_stats(v, &st);
    assert_int_equal(st.clips, 3);
    assert_int_equal(st.failed_clips, 4);
    assert_true(st.steps >= (uint64_t)((166868 + 511) / 512));
    assert_true(st.chunks > st.steps);
    free(mix.p);
    free(num.p);
    avf_vad_free(v);
}

/* A clip's segments do not depend on what it is batched with. */
static void batch_equals_single(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_vad *v = make(dev);
    const char *names[] = {"vad_mix.wav", "en_fox.wav", "en_numbers.wav", "en_weather.wav"};
    enum { N = 4 };
    blob b[N];
    avf_vad_input in[2 * N];
    for (int i = 0; i < N; i++) {
        b[i] = slurp(speech(names[i]));
        in[i] = in[N + i] = in_of(b[i]);
    }
    avf_vad_options o;
    avf_vad_options_default(&o);
    avf_vad_result batch[2 * N], one;
    assert_avf_ok(avf_vad_run_batch(v, &o, 2 * N, in, batch));
    for (int i = 0; i < N; i++) {
        assert_avf_ok(avf_vad_run_batch(v, &o, 1, &in[i], &one));
        check_shape(&one);
        same_segments(&one, &batch[i], 0);
        same_segments(&one, &batch[N + i], 0);
        avf_vad_result_free(&one);
    }
    for (int i = 0; i < 2 * N; i++)
        avf_vad_result_free(&batch[i]);
    for (int i = 0; i < N; i++)
        free(b[i].p);
    avf_vad_free(v);
}

/* More clips than one group holds (256), of several lengths: the clips are
 * short pieces of vad_mix encoded here as WAV. */
static void many_clips_across_groups(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_vad *v = make(dev);
    avf_audio a;
    assert_avf_ok(avf_audio_decode_file(speech("vad_mix.wav"), &a));
    enum { K = 3, N = 300 };
    /* 1.5 s, 2.2 s and 0.7 s of speech-bearing audio starting at 1 s */
    const int64_t len[K] = {24000, 35200, 11200};
    blob enc[K];
    for (int k = 0; k < K; k++) {
        avf_audio piece = {a.data + 16000, 1, 16000, len[k]};
        uint8_t *bytes;
        size_t n;
        assert_avf_ok(avf_audio_encode_memory(&piece, AVF_AUDIO_WAV_F32, NULL, &bytes, &n));
        enc[k] = (blob){bytes, n};
    }
    avf_audio_free(&a);
    avf_vad_input *in = calloc(N, sizeof *in);
    avf_vad_result *res = calloc(N, sizeof *res), single[K];
    assert_non_null(in);
    assert_non_null(res);
    for (int i = 0; i < N; i++)
        in[i] = in_of(enc[i % K]);
    avf_vad_options o;
    avf_vad_options_default(&o);
    for (int k = 0; k < K; k++) {
        assert_avf_ok(avf_vad_run_batch(v, &o, 1, &in[k], &single[k]));
        check_shape(&single[k]);
        assert_true(single[k].n_segments >= 1);
    }
    assert_avf_ok(avf_vad_run_batch(v, &o, N, in, res));
    for (int i = 0; i < N; i++) {
        same_segments(&single[i % K], &res[i], 0);
        avf_vad_result_free(&res[i]);
    }
    for (int k = 0; k < K; k++) {
        avf_vad_result_free(&single[k]);
        free(enc[k].p);
    }
    free(in);
    free(res);
    avf_vad_free(v);
}

/* An odd rate whose resampling bank is too big to cache (44099 Hz: 16000
 * phases) goes through a bank made for the call; a common rate is cached.
 * Both give well-formed, repeatable results. */
static void odd_rate_bank(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_vad *v = make(dev);
    avf_audio a;
    assert_avf_ok(avf_audio_decode_file(speech("en_fox.wav"), &a));
    blob enc[2];
    const int rates[2] = {44099, 22050};
    for (int k = 0; k < 2; k++) {
        avf_audio r = {a.data, 1, rates[k], a.frames};
        uint8_t *bytes;
        size_t n;
        assert_avf_ok(avf_audio_encode_memory(&r, AVF_AUDIO_WAV_F32, NULL, &bytes, &n));
        enc[k] = (blob){bytes, n};
    }
    avf_audio_free(&a);
    avf_vad_input in[2] = {in_of(enc[0]), in_of(enc[1])};
    avf_vad_options o;
    avf_vad_options_default(&o);
    avf_vad_result r1[2], r2[2];
    assert_avf_ok(avf_vad_run_batch(v, &o, 2, in, r1));
    assert_avf_ok(avf_vad_run_batch(v, &o, 2, in, r2));
    for (int k = 0; k < 2; k++) {
        check_shape(&r1[k]);
        assert_int_equal(r1[k].sample_rate, rates[k]);
        same_segments(&r1[k], &r2[k], 0);
        avf_vad_result_free(&r1[k]);
        avf_vad_result_free(&r2[k]);
        free(enc[k].p);
    }
    avf_vad_free(v);
}

typedef struct thread_arg {
    avf_vad *v;
    const avf_vad_input *in;
    int n;
    avf_vad_result res[4];
    avf_status st;
} thread_arg;

static void *thread_main(void *p) {
    thread_arg *t = p;
    avf_vad_options o;
    avf_vad_options_default(&o);
    t->st = AVF_OK;
    for (int r = 0; r < 3 && t->st == AVF_OK; r++) {
        if (r)
            for (int i = 0; i < t->n; i++)
                avf_vad_result_free(&t->res[i]);
        t->st = avf_vad_run_batch(t->v, &o, t->n, t->in, t->res);
    }
    return NULL;
}

static void concurrent_calls(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_vad *v = make(dev);
    blob mix = slurp(speech("vad_mix.wav")), fox = slurp(speech("en_fox.wav"));
    avf_vad_input in[3] = {in_of(mix), in_of(fox), in_of(mix)};
    avf_vad_options o;
    avf_vad_options_default(&o);
    avf_vad_result base[3];
    assert_avf_ok(avf_vad_run_batch(v, &o, 3, in, base));
    enum { T = 4 };
    thread_arg t[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].v = v;
        t[i].in = in + (i % 2); /* batches of 2 and 3 clips, offset */
        t[i].n = 3 - (i % 2);
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].st, AVF_OK);
        for (int k = 0; k < t[i].n; k++) {
            same_segments(&base[(i % 2) + k], &t[i].res[k], 0);
            avf_vad_result_free(&t[i].res[k]);
        }
    }
    for (int i = 0; i < 3; i++)
        avf_vad_result_free(&base[i]);
    free(mix.p);
    free(fox.p);
    avf_vad_free(v);
}

static void bad_arguments(void **state) {
    (void)state;
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_vad *v = make(cpu);
    blob mix = slurp(speech("vad_mix.wav"));
    avf_vad_input in[2] = {in_of(mix), in_of(mix)};
    avf_vad_result res[2];
    avf_vad_options o;
    avf_vad_options_default(&o);
    assert_avf_fails(avf_vad_run_batch(v, &o, 0, in, res), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_run_batch(v, &o, AVF_VAD_MAX_BATCH + 1, in, res),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_run_batch(v, &o, 2, NULL, res), AVF_ERR_INVALID_ARG);
    assert_int_equal(res[0].status, AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_run_batch(NULL, &o, 2, in, res), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_vad_run_batch(v, NULL, 2, in, res), AVF_ERR_INVALID_ARG);
    /* bad options: every result says so */
    o.threshold = 1.5f;
    assert_avf_fails(avf_vad_run_batch(v, &o, 2, in, res), AVF_ERR_INVALID_ARG);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(res[i].status, AVF_ERR_INVALID_ARG);
        assert_non_null(strstr(res[i].error, "threshold"));
        assert_int_equal(res[i].n_segments, 0);
    }
    /* fp16 is for CUDA devices */
    avf_vad_options_default(&o);
    o.fp16 = 1;
    assert_avf_fails(avf_vad_run_batch(v, &o, 2, in, res), AVF_ERR_UNSUPPORTED);
    assert_int_equal(res[1].status, AVF_ERR_UNSUPPORTED);
    /* still fine afterwards */
    o.fp16 = 0;
    assert_avf_ok(avf_vad_run_batch(v, &o, 2, in, res));
    check_shape(&res[0]);
    same_segments(&res[0], &res[1], 0);
    avf_vad_result_free(&res[0]);
    avf_vad_result_free(&res[1]);
    free(mix.p);
    avf_vad_free(v);
}

/* cuda:0 against the CPU (f32: the same segments within a chunk; f16:
 * reported, same count within one), and the ledger: after warm-up, the
 * only device-to-host bytes of a call are the probabilities. */
static void cuda_matches_cpu(void **state) {
    avf_device *gpu = avf_test_device(state);
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_vad *vc = make(cpu), *vg = make(gpu);
    const char *names[] = {"vad_mix.wav", "en_fox.wav", "en_numbers.wav", "en_weather.wav"};
    enum { N = 4 };
    blob b[N];
    avf_vad_input in[N];
    for (int i = 0; i < N; i++) {
        b[i] = slurp(speech(names[i]));
        in[i] = in_of(b[i]);
    }
    avf_vad_options o;
    avf_vad_options_default(&o);
    avf_vad_result rc[N], rg[N], rh[N];
    assert_avf_ok(avf_vad_run_batch(vc, &o, N, in, rc));
    assert_avf_ok(avf_vad_run_batch(vg, &o, N, in, rg)); /* warm-up: plans, banks */
    for (int i = 0; i < N; i++)
        avf_vad_result_free(&rg[i]);
    avf_ledger *l = avf_ledger_global();
    avf_ledger_entry p0, p1;
    uint64_t d0, d1, c0, c1;
    memset(&p0, 0, sizeof p0);
    memset(&p1, 0, sizeof p1);
    (void)avf_ledger_get(l, "vad.probs", &p0);
    avf_ledger_totals(l, AVF_COPY_D2H, &d0, &c0);
    assert_avf_ok(avf_vad_run_batch(vg, &o, N, in, rg));
    avf_ledger_totals(l, AVF_COPY_D2H, &d1, &c1);
    assert_avf_ok(avf_ledger_get(l, "vad.probs", &p1));
    uint64_t probs = p1.bytes[AVF_COPY_D2H] - p0.bytes[AVF_COPY_D2H];
    print_message("cuda: D2H %llu bytes in %llu copies, of them probabilities %llu bytes\n",
                  (unsigned long long)(d1 - d0), (unsigned long long)(c1 - c0),
                  (unsigned long long)probs);
    assert_true(probs > 0);
    assert_int_equal(d1 - d0, probs);
    for (int i = 0; i < N; i++) {
        same_segments(&rc[i], &rg[i], 512.0 / 16000);
        avf_vad_result_free(&rg[i]);
    }
    o.fp16 = 1;
    assert_avf_ok(avf_vad_run_batch(vg, &o, N, in, rh));
    for (int i = 0; i < N; i++) {
        double worst = 0;
        int k = rc[i].n_segments < rh[i].n_segments ? rc[i].n_segments : rh[i].n_segments;
        for (int s = 0; s < k; s++) {
            double d1s = fabs(rc[i].segments[s].start_s - rh[i].segments[s].start_s);
            double d2s = fabs(rc[i].segments[s].end_s - rh[i].segments[s].end_s);
            worst = fmax(worst, fmax(d1s, d2s));
        }
        print_message("fp16 %s: %d segments (f32 CPU %d), max boundary difference %.0f samples\n",
                      names[i], rh[i].n_segments, rc[i].n_segments, worst * 16000);
        assert_true(abs(rh[i].n_segments - rc[i].n_segments) <= 1);
        avf_vad_result_free(&rh[i]);
        avf_vad_result_free(&rc[i]);
    }
    for (int i = 0; i < N; i++)
        free(b[i].p);
    avf_vad_free(vc);
    avf_vad_free(vg);
}

int main(int argc, char **argv) {
    find_paths(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_errors),
        AVF_DEVICE_TESTS(broken_files_fail_alone),
        AVF_DEVICE_TESTS(batch_equals_single),
        AVF_DEVICE_TESTS(many_clips_across_groups),
        AVF_DEVICE_TESTS(concurrent_calls),
        AVF_DEVICE_TESTS(odd_rate_bank),
        cmocka_unit_test(bad_arguments),
        AVF_DEVICE_TEST_ON(cuda_matches_cpu, cuda),
    };
    if (!have_inputs())
        return 77;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
