/* Host decoding ahead of the uploads: a call's clips are decoded on the
 * avf_vad's threads, in parallel, while the calling thread uploads and
 * resamples the ones already decoded, in order. At most AHEAD clips per
 * thread are decoded and not yet taken, which bounds the host memory held.
 * Without threads (one CPU, or a pool that refuses work) a clip is decoded
 * on the calling thread when it is taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/vad_impl.h"
#include "core/error.h"

#define AHEAD 2

typedef struct slot {
    struct vad_decoder *d;
    int index;
    int state; /* 0 not submitted, 1 submitted, 2 done, 3 taken */
    avf_status st;
    avf_audio a;
    char err[256];
} slot;

struct vad_decoder {
    avf_vad *v;
    const avf_vad_input *in;
    int n, next, ahead, in_flight;
    slot *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void decode_task(void *arg) {
    slot *s = arg;
    avf_audio a;
    avf_status st = vad_decode(&s->d->in[s->index], &a);
    vad_decoder *d = s->d;
    pthread_mutex_lock(&d->mu);
    s->st = st;
    s->a = a;
    if (st != AVF_OK)
        snprintf(s->err, sizeof s->err, "%s", avf_last_error()); /* the worker's message */
    s->state = 2;
    d->in_flight--;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Submit clips until `ahead` are decoded or in flight beyond `taken`. */
static void fill(vad_decoder *d, int taken) {
    while (d->v->decoders && d->next < d->n && d->next < taken + d->ahead) {
        slot *s = &d->s[d->next];
        pthread_mutex_lock(&d->mu);
        s->state = 1;
        d->in_flight++;
        pthread_mutex_unlock(&d->mu);
        if (avf_threadpool_submit(d->v->decoders, decode_task, s, 0) != AVF_OK) {
            pthread_mutex_lock(&d->mu);
            s->state = 0; /* decoded inline when taken */
            d->in_flight--;
            pthread_mutex_unlock(&d->mu);
            avf_clear_error();
            break;
        }
        d->next++;
    }
}

avf_status vad_decoder_start(avf_vad *v, const avf_vad_input *in, int n, vad_decoder **out) {
    *out = NULL;
    vad_decoder *d = calloc(1, sizeof *d);
    slot *s = calloc((size_t)n, sizeof *s);
    if (!d || !s) {
        free(d);
        free(s);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for %d clips", n);
    }
    d->v = v;
    d->in = in;
    d->n = n;
    d->s = s;
    for (int i = 0; i < n; i++) {
        s[i].d = d;
        s[i].index = i;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* one clip gains nothing from a hand-off */
    d->ahead = v->decoders && n > 1 ? AHEAD * avf_threadpool_size(v->decoders) : 0;
    fill(d, 0);
    *out = d;
    return AVF_OK;
}

avf_status vad_decoder_take(vad_decoder *d, int i, avf_audio *a, const char **err) {
    *err = NULL;
    memset(a, 0, sizeof *a);
    if (i < 0 || i >= d->n)
        return AVF_FAIL(AVF_ERR_INTERNAL, "vad: clip %d of %d taken", i, d->n);
    slot *s = &d->s[i];
    pthread_mutex_lock(&d->mu);
    while (s->state == 1)
        pthread_cond_wait(&d->cv, &d->mu);
    int state = s->state;
    pthread_mutex_unlock(&d->mu);
    avf_status st;
    if (state == 0) { /* never submitted: decode here */
        st = vad_decode(&d->in[i], &s->a);
        if (st != AVF_OK)
            snprintf(s->err, sizeof s->err, "%s", avf_last_error());
        if (d->next == i)
            d->next = i + 1;
    } else {
        st = s->st;
    }
    s->state = 3;
    *a = s->a;
    memset(&s->a, 0, sizeof s->a);
    if (st != AVF_OK)
        *err = s->err;
    fill(d, i + 1);
    return st;
}

void vad_decoder_finish(vad_decoder *d) {
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    while (d->in_flight > 0)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < d->n; i++)
        avf_audio_free(&d->s[i].a);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->s);
    free(d);
}
