/* Internal: the pieces of the VAD pipeline (include/avflow/vad.h).
 *
 *   vad.c          avf_vad: model, device pool, lanes, resampling banks,
 *                  avf_vad_run_batch (decode -> group -> Silero -> segments)
 *   vad_decode.c   host decoding of a call's clips on a few threads, ahead
 *                  of the uploads
 *   vad_prep.c     one clip: decode on the host, upload once, mixdown and
 *                  resample to 16 kHz on the device
 *   vad_silero.c   one group of clips through Silero, step by step, batch =
 *                  clips still running; probabilities back in one copy
 *   vad_segments.c probabilities -> segments (pure host code)
 */
#ifndef AVF_APPS_VAD_IMPL_H
#define AVF_APPS_VAD_IMPL_H

#include <pthread.h>

#include "avflow/audio.h"
#include "avflow/model.h"
#include "avflow/staging.h"
#include "avflow/threadpool.h"
#include "avflow/vad.h"
#include "ops/audio.h"
#include "ops/op.h"

/* One caller's device resources: a stream, a staging ring for uploads and
 * the probability download, an op context. Calls take a lane from the free
 * list (or make one) and give it back, so concurrent calls never share a
 * stream. */
typedef struct vad_lane {
    avf_stream *stream;
    avf_staging *staging;
    avf_op_ctx ctx;
    struct vad_lane *next;
} vad_lane;

/* A resampling bank from one input rate to 16 kHz, uploaded once. */
typedef struct vad_bank {
    int in_rate;
    avf_resample_filter filt;
    avf_tensor bank;
} vad_bank;

#define VAD_MAX_BANKS 32 /* distinct input rates cached; more are built per use */
#define VAD_BANK_CACHE_TAPS (1 << 20) /* larger banks (odd rates) are not cached */
/* Clips run together in one group (the Silero batch); 256 keeps the plan
 * buckets (1..256) few. */
#define VAD_MAX_GROUP 256
/* A group's padded 16 kHz audio [rows, 64 + 512 * steps] stays under this
 * many floats (512 MiB): long and short clips then land in different groups. */
#define VAD_MAX_GROUP_SAMPLES ((int64_t)1 << 27)
/* The per-block frames [steps, rows, 576] stay under this many bytes. */
#define VAD_MAX_FRAME_BYTES ((size_t)64 << 20)

struct avf_vad {
    avf_model *model;
    avf_device *dev;
    int gpu;
    avf_pool *pool;
    pthread_mutex_t mu; /* lanes, banks, stats */
    vad_lane *free_lanes;
    vad_bank banks[VAD_MAX_BANKS];
    int n_banks;
    avf_vad_stats stats;
    avf_threadpool *decoders; /* NULL: decode on the calling thread */
};

/* A decoded clip at 16 kHz on the device. */
typedef struct vad_clip {
    int index;        /* into the caller's arrays */
    avf_tensor y16;   /* [n16] f32 on the device (owned) */
    int64_t n16;      /* samples at 16 kHz */
    int64_t steps;    /* ceil(n16 / 512) >= 1 */
    float *probs;     /* steps probabilities (host, malloc'ed), after Silero */
} vad_clip;

/* The bank for in_rate: from the cache, or made and uploaded (and waited
 * for) once. *tmp is set when the cache was full: the caller then owns
 * *out and frees it with vad_bank_free after its stream is done. */
avf_status vad_bank_get(avf_vad *v, vad_lane *l, int in_rate, const vad_bank **out,
                        vad_bank **tmp);
void vad_bank_free(vad_bank *b, avf_stream *s);

/* Decode one input on the host (any thread): empty, oversized, undecodable
 * or sample-less inputs fail with a message. */
avf_status vad_decode(const avf_vad_input *in, avf_audio *a);

/* Bring decoded audio to 16 kHz mono on the device (c->y16); takes `a` over
 * (freed on every path). Fills the result's rate/channels/duration. On
 * failure the clip holds nothing. `budget` is the 16 kHz samples the call
 * may still take; the clip's are subtracted. */
avf_status vad_prep_audio(avf_vad *v, vad_lane *l, avf_audio *a, vad_clip *c,
                          avf_vad_result *res, int64_t *budget);

/* Decoding ahead on the avf_vad's host threads (vad_decode.c): clips are
 * decoded in parallel, at most VAD_DECODE_AHEAD per thread ahead of the one
 * being uploaded, and taken in order. */
typedef struct vad_decoder vad_decoder;
avf_status vad_decoder_start(avf_vad *v, const avf_vad_input *in, int n, vad_decoder **out);
/* Clip i's audio (i in order 0, 1, ...); on failure *err is its message. */
avf_status vad_decoder_take(vad_decoder *d, int i, avf_audio *a, const char **err);
/* Waits for the tasks in flight and frees what was not taken. NULL ignored. */
void vad_decoder_finish(vad_decoder *d);

/* Run clips c[0..n) (sorted by steps, longest first; n <= VAD_MAX_GROUP)
 * through Silero; sets each clip's probs and releases its y16. */
avf_status vad_run_group(avf_vad *v, vad_lane *l, int fp16, vad_clip *const *c, int n);

/* The smallest power of two >= n (n >= 1). */
static inline int vad_bucket(int n) {
    int b = 1;
    while (b < n)
        b <<= 1;
    return b;
}

/* The copy kind for device-to-device copies on this device. */
static inline avf_copy_kind vad_d2d(const avf_vad *v) {
    return v->gpu ? AVF_COPY_D2D : AVF_COPY_H2H;
}

#endif
