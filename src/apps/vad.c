/* avf_vad: Silero VAD over batches of audio files (include/avflow/vad.h).
 *
 * A call: every clip is decoded and brought to 16 kHz on the device
 * (vad_prep.c; a clip that fails there fails alone), the good clips are
 * sorted longest first and cut into groups (at most 256 clips, padded audio
 * under 512 MiB, so a long clip does not pad hundreds of short ones), each
 * group runs through Silero with one batch row per clip (vad_silero.c), and
 * the probabilities become segments on the host (vad_segments.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps/vad_impl.h"
#include "core/error.h"

/* ---------------------------------------------------------------- lanes */

static void lane_free(avf_vad *v, vad_lane *l) {
    if (!l)
        return;
    if (l->stream)
        (void)avf_stream_synchronize(l->stream);
    avf_op_ctx_release(&l->ctx);
    avf_staging_free(l->staging);
    if (l->stream) {
        (void)avf_pool_release_stream(v->pool, l->stream);
        avf_stream_free(l->stream);
    }
    free(l);
}

static avf_status lane_take(avf_vad *v, vad_lane **out) {
    pthread_mutex_lock(&v->mu);
    vad_lane *l = v->free_lanes;
    if (l)
        v->free_lanes = l->next;
    pthread_mutex_unlock(&v->mu);
    if (l) {
        *out = l;
        return AVF_OK;
    }
    l = calloc(1, sizeof *l);
    if (!l)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory");
    avf_status st = avf_stream_create(v->dev, &l->stream);
    /* 4 MiB slots: one second of 48 kHz stereo f32 is 384 KiB */
    if (st == AVF_OK)
        st = avf_staging_create(v->dev, (size_t)4 << 20, 4, &l->staging);
    if (st == AVF_OK)
        st = avf_op_ctx_init(&l->ctx, v->dev, l->stream, v->pool);
    if (st != AVF_OK) {
        lane_free(v, l);
        return st;
    }
    *out = l;
    return AVF_OK;
}

static void lane_give(avf_vad *v, vad_lane *l) {
    pthread_mutex_lock(&v->mu);
    l->next = v->free_lanes;
    v->free_lanes = l;
    pthread_mutex_unlock(&v->mu);
}

/* ---------------------------------------------------------------- create */

avf_status avf_vad_create(const char *model_path, avf_device *dev, avf_vad **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(model_path != NULL && dev != NULL);
    avf_vad *v = calloc(1, sizeof *v);
    if (!v)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory");
    v->dev = dev;
    v->gpu = avf_device_get_kind(dev) != AVF_DEVICE_CPU;
    pthread_mutex_init(&v->mu, NULL);
    avf_status st = avf_model_load(model_path, NULL, &v->model);
    if (st == AVF_OK) {
        /* Silero v5: input [B, 576] f32, state [2, B, 128] f32, sr i64 */
        avf_model_value_info a, b, c;
        int ok = avf_model_num_inputs(v->model) == 3 && avf_model_num_outputs(v->model) == 2 &&
                 avf_model_input_info(v->model, 0, &a) == AVF_OK &&
                 avf_model_input_info(v->model, 1, &b) == AVF_OK &&
                 avf_model_input_info(v->model, 2, &c) == AVF_OK && strcmp(a.name, "input") == 0 &&
                 strcmp(b.name, "state") == 0 && strcmp(c.name, "sr") == 0 && b.ndim == 3 &&
                 (b.dims[2] == 128 || b.dims[2] == -1);
        if (!ok)
            st = AVF_FAIL(AVF_ERR_UNSUPPORTED,
                          "vad: %s is not Silero VAD v5 (inputs input, state [2, B, 128], sr; "
                          "outputs output, stateN)",
                          model_path);
    }
    if (st == AVF_OK)
        st = avf_pool_create(dev, NULL, &v->pool);
    /* host decoding threads: a few, shared by all calls (none on one CPU) */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus > 8 ? 8 : (int)cpus;
    if (st == AVF_OK && threads >= 2)
        st = avf_threadpool_create(threads, 4096, &v->decoders);
    if (st != AVF_OK) {
        avf_vad_free(v);
        return st;
    }
    *out = v;
    return AVF_OK;
}

void avf_vad_free(avf_vad *v) {
    if (!v)
        return;
    avf_threadpool_free(v->decoders);
    while (v->free_lanes) {
        vad_lane *l = v->free_lanes;
        v->free_lanes = l->next;
        lane_free(v, l);
    }
    for (int i = 0; i < v->n_banks; i++)
        vad_bank_free(&v->banks[i], NULL);
    if (v->pool)
        (void)avf_device_synchronize(v->dev);
    avf_model_free(v->model);
    avf_pool_free_all(v->pool);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

void avf_vad_result_free(avf_vad_result *r) {
    if (!r)
        return;
    free(r->segments);
    r->segments = NULL;
    r->n_segments = 0;
}

void avf_vad_get_stats(const avf_vad *v, avf_vad_stats *out) {
    memset(out, 0, sizeof *out);
    if (!v)
        return;
    pthread_mutex_lock((pthread_mutex_t *)&v->mu);
    *out = v->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&v->mu);
}

/* ---------------------------------------------------------------- a batch */

static void set_error(avf_vad_result *r, avf_status st) {
    r->status = st;
    snprintf(r->error, sizeof r->error, "%s", avf_last_error());
}

/* Longest first; equal lengths keep arrival order (stable results). */
static int by_steps_desc(const void *a, const void *b) {
    const vad_clip *x = *(vad_clip *const *)a, *y = *(vad_clip *const *)b;
    if (x->steps != y->steps)
        return x->steps < y->steps ? 1 : -1;
    return x->index - y->index;
}

static avf_status to_segments(const avf_vad_options *o, const vad_clip *c, avf_vad_result *r) {
    avf_vad_span *sp;
    int n;
    AVF_TRY(avf_vad_segments_from_probs(o, c->probs, c->steps, c->n16, &sp, &n));
    if (n > 0) {
        r->segments = malloc((size_t)n * sizeof *r->segments);
        if (!r->segments) {
            free(sp);
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for %d segments", n);
        }
        for (int i = 0; i < n; i++) {
            r->segments[i].start_s = (double)sp[i].start / AVF_VAD_RATE;
            r->segments[i].end_s = (double)sp[i].end / AVF_VAD_RATE;
        }
    }
    r->n_segments = n;
    free(sp);
    return AVF_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Device failures end the call; a clip's own trouble (its bytes, its size)
 * fails only that clip. */
static int fatal(avf_status st) {
    return st == AVF_ERR_DEVICE || st == AVF_ERR_INTERNAL;
}

static avf_status run(avf_vad *v, vad_lane *l, const avf_vad_options *o, int n,
                      const avf_vad_input *in, avf_vad_result *res, vad_clip *clips,
                      vad_clip **order) {
    int64_t budget = (int64_t)AVF_VAD_MAX_BATCH_SECONDS * AVF_VAD_RATE;
    int good = 0;
    double t0 = now_s();
    vad_decoder *dec;
    AVF_TRY(vad_decoder_start(v, in, n, &dec));
    for (int i = 0; i < n; i++) {
        clips[i].index = i;
        avf_audio a;
        const char *err;
        avf_status st = vad_decoder_take(dec, i, &a, &err);
        if (st != AVF_OK) { /* the clip's own bytes */
            res[i].status = st;
            snprintf(res[i].error, sizeof res[i].error, "%s", err ? err : avf_last_error());
            continue;
        }
        st = vad_prep_audio(v, l, &a, &clips[i], &res[i], &budget);
        if (st != AVF_OK) {
            if (fatal(st)) {
                vad_decoder_finish(dec);
                return st;
            }
            set_error(&res[i], st);
            continue;
        }
        order[good++] = &clips[i];
    }
    vad_decoder_finish(dec);
    qsort(order, (size_t)good, sizeof *order, by_steps_desc);
    uint64_t steps = 0, chunks = 0;
    double t1 = now_s();
    for (int g0 = 0; g0 < good;) {
        int64_t tp = AVF_VAD_CONTEXT + order[g0]->steps * AVF_VAD_CHUNK;
        int m = 1;
        while (g0 + m < good && m < VAD_MAX_GROUP &&
               (int64_t)vad_bucket(m + 1) * tp <= VAD_MAX_GROUP_SAMPLES)
            m++;
        AVF_TRY(vad_run_group(v, l, o->fp16, order + g0, m));
        steps += (uint64_t)order[g0]->steps;
        for (int k = 0; k < m; k++)
            chunks += (uint64_t)order[g0 + k]->steps;
        g0 += m;
    }
    double audio_s = 0, t2 = now_s();
    int ok = 0;
    for (int k = 0; k < good; k++) {
        vad_clip *c = order[k];
        avf_status st = to_segments(o, c, &res[c->index]);
        if (st != AVF_OK) {
            set_error(&res[c->index], st);
            continue;
        }
        ok++;
        audio_s += (double)c->n16 / AVF_VAD_RATE;
    }
    pthread_mutex_lock(&v->mu);
    v->stats.clips += (uint64_t)ok;
    v->stats.failed_clips += (uint64_t)(n - ok);
    v->stats.steps += steps;
    v->stats.chunks += chunks;
    v->stats.audio_s += audio_s;
    v->stats.prep_s += t1 - t0;
    v->stats.silero_s += t2 - t1;
    v->stats.post_s += now_s() - t2;
    pthread_mutex_unlock(&v->mu);
    return AVF_OK;
}

avf_status avf_vad_run_batch(avf_vad *v, const avf_vad_options *o, int n,
                             const avf_vad_input *in, avf_vad_result *res) {
    AVF_CHECK_ARG(res != NULL || n == 0);
    if (n < 1 || n > AVF_VAD_MAX_BATCH)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: %d clips in a batch, not in [1, %d]", n,
                        AVF_VAD_MAX_BATCH);
    memset(res, 0, (size_t)n * sizeof *res);
    avf_status st = AVF_OK;
    vad_clip *clips = NULL;
    vad_clip **order = NULL;
    vad_lane *l = NULL;
    if (!v || !o || !in)
        st = AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: NULL %s", !v ? "vad" : !o ? "options" : "inputs");
    if (st == AVF_OK)
        st = avf_vad_options_check(o);
    if (st == AVF_OK && o->fp16 && !v->gpu)
        st = AVF_FAIL(AVF_ERR_UNSUPPORTED, "vad: fp16 runs need a CUDA device, not %s",
                      avf_device_get_name(v->dev));
    if (st == AVF_OK) {
        clips = calloc((size_t)n, sizeof *clips);
        order = calloc((size_t)n, sizeof *order);
        if (!clips || !order)
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for %d clips", n);
    }
    if (st == AVF_OK)
        st = lane_take(v, &l);
    if (st == AVF_OK)
        st = run(v, l, o, n, in, res, clips, order);
    if (l) {
        for (int i = 0; i < n; i++) {
            avf_tensor_release(&clips[i].y16, l->stream);
            free(clips[i].probs);
        }
        /* a lane whose stream failed is not reused */
        avf_status s2 = avf_stream_synchronize(l->stream);
        if (st == AVF_OK && s2 != AVF_OK)
            st = s2;
        if (st == AVF_OK)
            lane_give(v, l);
        else
            lane_free(v, l);
    }
    if (st != AVF_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", avf_last_error());
        for (int i = 0; i < n; i++) {
            avf_vad_result_free(&res[i]);
            res[i].status = st;
            snprintf(res[i].error, sizeof res[i].error, "%s", msg);
        }
    }
    free(clips);
    free(order);
    return st;
}
