/* Speech probabilities per 512-sample chunk -> speech segments, with the
 * meaning of silero-vad's get_speech_timestamps (v5.1): a hysteresis state
 * machine over the chunks (enter at p >= threshold, leave after
 * min_silence of p < neg_threshold), splitting speech longer than
 * max_speech at the last silence of more than 98 ms (or hard at the limit),
 * dropping speech no longer than min_speech, then padding each segment by
 * speech_pad on both sides (or sharing a shorter gap equally). Positions are
 * 16 kHz samples; thresholds in samples are doubles, as in the reference,
 * because max_speech may be fractional. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/vad.h"
#include "core/error.h"

void avf_vad_options_default(avf_vad_options *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.5f;
    o->neg_threshold = 0.35f;
    o->min_speech_ms = 250;
    o->min_silence_ms = 100;
    o->speech_pad_ms = 30;
    o->max_speech_s = 0.0f;
    o->fp16 = 0;
}

avf_status avf_vad_options_check(const avf_vad_options *o) {
    AVF_CHECK_ARG(o != NULL);
    if (!(o->threshold > 0.0f && o->threshold < 1.0f))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: threshold %g is not in (0, 1)",
                        (double)o->threshold);
    if (!(o->neg_threshold >= 0.0f && o->neg_threshold <= o->threshold))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: neg_threshold %g is not in [0, threshold %g]",
                        (double)o->neg_threshold, (double)o->threshold);
    if (o->min_speech_ms < 0 || o->min_speech_ms > 600000)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: min_speech_ms %d is not in [0, 600000]",
                        o->min_speech_ms);
    if (o->min_silence_ms < 0 || o->min_silence_ms > 600000)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: min_silence_ms %d is not in [0, 600000]",
                        o->min_silence_ms);
    if (o->speech_pad_ms < 0 || o->speech_pad_ms > 60000)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: speech_pad_ms %d is not in [0, 60000]",
                        o->speech_pad_ms);
    if (o->max_speech_s != 0.0f) {
        /* below this the reference's limit is <= 0: every chunk would split */
        double lo = (AVF_VAD_CHUNK + 2.0 * AVF_VAD_RATE * o->speech_pad_ms / 1000.0) / AVF_VAD_RATE;
        if (!(o->max_speech_s > lo && o->max_speech_s <= 86400.0f))
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "vad: max_speech_s %g is not 0 (unlimited) or in (%g, 86400]",
                            (double)o->max_speech_s, lo);
    }
    if (o->fp16 != 0 && o->fp16 != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: fp16 must be 0 or 1, not %d", o->fp16);
    return AVF_OK;
}

typedef struct span_list {
    avf_vad_span *v;
    int n, cap;
} span_list;

static avf_status push(span_list *l, int64_t start, int64_t end) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        if (cap > AVF_VAD_MAX_SEGMENTS)
            return AVF_FAIL(AVF_ERR_FULL, "vad: more than %d segments", AVF_VAD_MAX_SEGMENTS);
        avf_vad_span *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for %d segments", cap);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].start = start;
    l->v[l->n].end = end;
    l->n++;
    return AVF_OK;
}

/* Python's a // 2 (floor) for possibly negative a. */
static int64_t floor_half(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

/* The hysteresis pass: raw speech spans, before padding. */
static avf_status detect(const avf_vad_options *o, const float *probs, int64_t n_probs,
                         int64_t n_samples, span_list *out) {
    const int64_t W = AVF_VAD_CHUNK;
    const double rate = AVF_VAD_RATE;
    double min_speech = rate * o->min_speech_ms / 1000.0;
    double pad = rate * o->speech_pad_ms / 1000.0;
    double max_speech = o->max_speech_s > 0 ? rate * o->max_speech_s - W - 2 * pad : INFINITY;
    double min_silence = rate * o->min_silence_ms / 1000.0;
    /* a split at the limit prefers a silence longer than this */
    double min_silence_at_max = rate * 98 / 1000.0;
    float thr = o->threshold, neg = o->neg_threshold;

    int triggered = 0, open = 0; /* open: a span has a start */
    int64_t start = 0;
    /* 0 means "unset" for the three below, as in the reference (chunk 0 can
     * never be a silence start: speech cannot have begun before it) */
    int64_t temp_end = 0, prev_end = 0, next_start = 0;
    for (int64_t i = 0; i < n_probs; i++) {
        float p = probs[i];
        int64_t pos = W * i;
        if (p >= thr && temp_end) { /* speech again: the silence ended */
            temp_end = 0;
            if (next_start < prev_end)
                next_start = pos;
        }
        if (p >= thr && !triggered) {
            triggered = open = 1;
            start = pos;
            continue;
        }
        if (triggered && (double)(pos - start) > max_speech) {
            if (prev_end) { /* split at the last long silence */
                AVF_TRY(push(out, start, prev_end));
                open = 0;
                if (next_start < prev_end) {
                    triggered = 0; /* still in that silence */
                } else {
                    start = next_start;
                    open = 1;
                }
                prev_end = next_start = temp_end = 0;
            } else { /* no silence to split at: cut here */
                AVF_TRY(push(out, start, pos));
                open = 0;
                prev_end = next_start = temp_end = 0;
                triggered = 0;
                continue;
            }
        }
        if (p < neg && triggered) {
            if (!temp_end)
                temp_end = pos;
            if ((double)(pos - temp_end) > min_silence_at_max)
                prev_end = temp_end;
            if ((double)(pos - temp_end) < min_silence)
                continue;
            if ((double)(temp_end - start) > min_speech)
                AVF_TRY(push(out, start, temp_end));
            open = 0;
            prev_end = next_start = temp_end = 0;
            triggered = 0;
        }
    }
    if (open && (double)(n_samples - start) > min_speech)
        AVF_TRY(push(out, start, n_samples));
    return AVF_OK;
}

/* Pad every span by `pad` samples each side within [0, n_samples]; two
 * spans closer than 2 * pad share their gap. */
static void pad_spans(avf_vad_span *s, int n, double pad, int64_t n_samples) {
    for (int i = 0; i < n; i++) {
        if (i == 0) {
            double st = (double)s[0].start - pad;
            s[0].start = st > 0 ? (int64_t)st : 0;
        }
        if (i != n - 1) {
            int64_t gap = s[i + 1].start - s[i].end;
            if ((double)gap < 2 * pad) {
                int64_t half = floor_half(gap);
                s[i].end += half;
                s[i + 1].start = s[i + 1].start - half > 0 ? s[i + 1].start - half : 0;
            } else {
                double e = (double)s[i].end + pad, st = (double)s[i + 1].start - pad;
                s[i].end = e < (double)n_samples ? (int64_t)e : n_samples;
                s[i + 1].start = st > 0 ? (int64_t)st : 0;
            }
        } else {
            double e = (double)s[i].end + pad;
            s[i].end = e < (double)n_samples ? (int64_t)e : n_samples;
        }
    }
}

avf_status avf_vad_segments_from_probs(const avf_vad_options *o, const float *probs,
                                       int64_t n_probs, int64_t n_samples, avf_vad_span **out,
                                       int *n_out) {
    AVF_CHECK_ARG(out != NULL && n_out != NULL);
    *out = NULL;
    *n_out = 0;
    AVF_TRY(avf_vad_options_check(o));
    const int64_t max_samples = (int64_t)AVF_VAD_MAX_CLIP_SECONDS * AVF_VAD_RATE;
    if (n_samples < 0 || n_samples > max_samples)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: %lld samples is not in [0, %lld]",
                        (long long)n_samples, (long long)max_samples);
    int64_t want = (n_samples + AVF_VAD_CHUNK - 1) / AVF_VAD_CHUNK;
    if (n_probs != want)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "vad: %lld probabilities for %lld samples (expected %lld, one per %d)",
                        (long long)n_probs, (long long)n_samples, (long long)want, AVF_VAD_CHUNK);
    if (n_probs > 0 && !probs)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: probabilities are NULL");
    for (int64_t i = 0; i < n_probs; i++)
        if (!(probs[i] >= 0.0f && probs[i] <= 1.0f)) /* NaN fails too */
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "vad: probability %lld is %g, not in [0, 1]",
                            (long long)i, (double)probs[i]);
    span_list l = {0};
    avf_status st = detect(o, probs, n_probs, n_samples, &l);
    if (st != AVF_OK) {
        free(l.v);
        return st;
    }
    pad_spans(l.v, l.n, AVF_VAD_RATE * o->speech_pad_ms / 1000.0, n_samples);
    *out = l.v;
    *n_out = l.n;
    return AVF_OK;
}
