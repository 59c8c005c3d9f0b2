/* One clip to 16 kHz mono on the device: decode on the host (libavflow_media),
 * upload the planar samples once through the lane's pinned ring, then mixdown
 * (mean of the channels) and polyphase resampling with the audio kernels, all
 * on the lane's stream. Nothing comes back to the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/vad_impl.h"
#include "core/error.h"

void vad_bank_free(vad_bank *b, avf_stream *s) {
    if (!b)
        return;
    avf_tensor_release(&b->bank, s);
    avf_resample_filter_free(&b->filt);
    memset(b, 0, sizeof *b);
}

/* Upload b's host taps on the lane and wait, so that other lanes may use the
 * bank at once and the host taps may be freed at any time. */
static avf_status bank_upload(vad_lane *l, vad_bank *b) {
    avf_status st = avf_resample_filter_upload(&l->ctx, &b->filt, &b->bank);
    if (st == AVF_OK)
        st = avf_stream_synchronize(l->stream);
    return st;
}

static const vad_bank *bank_find(const avf_vad *v, int in_rate) {
    for (int i = 0; i < v->n_banks; i++)
        if (v->banks[i].in_rate == in_rate)
            return &v->banks[i];
    return NULL;
}

avf_status vad_bank_get(avf_vad *v, vad_lane *l, int in_rate, const vad_bank **out,
                        vad_bank **tmp) {
    *out = NULL;
    *tmp = NULL;
    pthread_mutex_lock(&v->mu);
    *out = bank_find(v, in_rate);
    pthread_mutex_unlock(&v->mu);
    if (*out)
        return AVF_OK;
    vad_bank b;
    memset(&b, 0, sizeof b);
    b.in_rate = in_rate;
    avf_resample_params p = {.in_rate = in_rate, .out_rate = AVF_VAD_RATE};
    AVF_TRY(avf_resample_filter_make(&p, &b.filt));
    /* cache small banks (common rates are < 100k taps); odd rates with
     * huge banks (up to 2^25 taps) are made for the call and dropped, so
     * requests cannot pin much device memory */
    int cache = b.filt.L * (int64_t)b.filt.taps <= VAD_BANK_CACHE_TAPS;
    avf_status st = AVF_OK;
    if (cache) {
        int ours = 0;
        pthread_mutex_lock(&v->mu);
        *out = bank_find(v, in_rate); /* another call may have made it meanwhile */
        if (!*out && v->n_banks < VAD_MAX_BANKS) {
            st = bank_upload(l, &b);
            if (st == AVF_OK) {
                v->banks[v->n_banks] = b;
                *out = &v->banks[v->n_banks++];
                ours = 1;
            }
        }
        pthread_mutex_unlock(&v->mu);
        if (st != AVF_OK) {
            vad_bank_free(&b, l->stream);
            return st;
        }
        if (*out) {
            if (!ours)
                avf_resample_filter_free(&b.filt);
            return AVF_OK;
        }
    }
    vad_bank *t = malloc(sizeof *t);
    if (!t) {
        avf_resample_filter_free(&b.filt);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for a resampling bank");
    }
    *t = b;
    st = bank_upload(l, t);
    if (st != AVF_OK) {
        vad_bank_free(t, l->stream);
        free(t);
        return st;
    }
    *out = *tmp = t;
    return AVF_OK;
}

/* x [1, C, T] -> y [1, 1, T] (mean of the channels). */
static avf_status mixdown(vad_lane *l, const avf_tensor *x, avf_tensor *y) {
    avf_mixdown_params p = {0};
    int64_t dims[3];
    AVF_TRY(avf_mixdown_shape(&p, x->ndim, x->shape, dims));
    AVF_TRY(avf_tensor_alloc(y, l->ctx.pool, AVF_DTYPE_F32, 3, dims, l->stream));
    avf_status st = avf_op_mixdown(&l->ctx, &p, x, y);
    if (st != AVF_OK)
        avf_tensor_release(y, l->stream);
    return st;
}

static avf_status resample(avf_vad *v, vad_lane *l, int rate, const avf_tensor *x,
                           avf_tensor *y) {
    const vad_bank *b;
    vad_bank *tmp;
    AVF_TRY(vad_bank_get(v, l, rate, &b, &tmp));
    int64_t dims[3];
    avf_status st = avf_resample_shape(&b->filt, x->ndim, x->shape, dims);
    if (st == AVF_OK)
        st = avf_tensor_alloc(y, l->ctx.pool, AVF_DTYPE_F32, 3, dims, l->stream);
    if (st == AVF_OK) {
        st = avf_op_resample(&l->ctx, &b->filt, &b->bank, x, y);
        if (st != AVF_OK)
            avf_tensor_release(y, l->stream);
    }
    if (tmp) {
        /* a bank of its own: the resampling must be done before it goes */
        avf_status s2 = avf_stream_synchronize(l->stream);
        if (st == AVF_OK)
            st = s2;
        vad_bank_free(tmp, l->stream);
        free(tmp);
    }
    return st;
}

avf_status vad_decode(const avf_vad_input *in, avf_audio *a) {
    memset(a, 0, sizeof *a);
    if (!in->data || in->len == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "vad: empty input (no bytes)");
    if (in->len > AVF_VAD_MAX_INPUT_BYTES)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "vad: input of %zu bytes, more than %zu", in->len,
                        AVF_VAD_MAX_INPUT_BYTES);
    AVF_TRY(avf_audio_decode_memory(in->data, in->len, a));
    if (a->frames <= 0 || a->sample_rate <= 0) {
        avf_audio_free(a);
        return AVF_FAIL(AVF_ERR_CORRUPT, "vad: the audio has no samples");
    }
    return AVF_OK;
}

avf_status vad_prep_audio(avf_vad *v, vad_lane *l, avf_audio *dec, vad_clip *c,
                          avf_vad_result *res, int64_t *budget) {
    memset(&c->y16, 0, sizeof c->y16);
    c->n16 = c->steps = 0;
    c->probs = NULL;
    avf_audio a = *dec; /* ours now: freed on every path */
    memset(dec, 0, sizeof *dec);
    res->sample_rate = a.sample_rate;
    res->channels = a.channels;
    res->duration_s = (double)a.frames / a.sample_rate;
    if (res->duration_s > AVF_VAD_MAX_CLIP_SECONDS) {
        avf_audio_free(&a);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "vad: %.1f s of audio, more than %d s per clip",
                        res->duration_s, AVF_VAD_MAX_CLIP_SECONDS);
    }
    /* the 16 kHz length, known before any device work, against the budget */
    int64_t n16 = a.sample_rate == AVF_VAD_RATE
                      ? a.frames
                      : (a.frames * AVF_VAD_RATE + a.sample_rate - 1) / a.sample_rate;
    if (n16 > *budget) {
        avf_audio_free(&a);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "vad: the batch would hold more than %d s of audio; send this clip "
                        "in another request",
                        AVF_VAD_MAX_BATCH_SECONDS);
    }
    avf_tensor x;
    avf_status st = avf_audio_upload(&a, l->staging, l->ctx.pool, l->stream, &x);
    int rate = a.sample_rate;
    avf_audio_free(&a);
    AVF_TRY(st);
    /* [C, T] -> [1, C, T]: the audio ops take batches */
    x.ndim = 3;
    x.shape[2] = x.shape[1];
    x.shape[1] = x.shape[0];
    x.shape[0] = 1;
    x.strides[2] = 1;
    x.strides[1] = x.shape[2];
    x.strides[0] = x.shape[1] * x.shape[2];
    avf_tensor cur = x;
    if (cur.shape[1] > 1) {
        avf_tensor m;
        st = mixdown(l, &cur, &m);
        avf_tensor_release(&cur, l->stream);
        AVF_TRY(st);
        cur = m;
    }
    if (rate != AVF_VAD_RATE) {
        avf_tensor r;
        st = resample(v, l, rate, &cur, &r);
        avf_tensor_release(&cur, l->stream);
        AVF_TRY(st);
        cur = r;
    }
    if (cur.shape[2] != n16) {
        avf_tensor_release(&cur, l->stream);
        return AVF_FAIL(AVF_ERR_INTERNAL, "vad: resampled to %lld samples, expected %lld",
                        (long long)cur.shape[2], (long long)n16);
    }
    c->y16 = cur;
    c->n16 = n16;
    c->steps = (n16 + AVF_VAD_CHUNK - 1) / AVF_VAD_CHUNK;
    *budget -= n16;
    return AVF_OK;
}
