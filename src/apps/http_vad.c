/* POST /v1/audio/vad: an audio file in the body (WAV, FLAC, OGG; MP3, AAC,
 * M4A, Opus where FFmpeg is built in), speech segments out as JSON:
 *   {"duration_s": 6.2, "sample_rate": 16000, "channels": 1,
 *    "speech_s": 3.9, "segments": [{"start_s": 1.02, "end_s": 2.75}, ...],
 *    "batch": 12, "device": "cuda:0"}
 * (batch: the requests that ran together; device: where they ran).
 * Query arguments: threshold, min_speech_ms, min_silence_ms, speech_pad_ms
 * (see avflow/vad.h). Requests that arrive together and ask for the same
 * options run as one avf_vad_run_batch, so every Silero step serves all of
 * them at once. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apps/http_args.h"
#include "apps/http_batch.h"
#include "apps/http_vad.h"
#include "avflow/vad.h"

static int parse(void *user, avf_server_job *j, void *opts) {
    avf_vad_options *o = opts;
    avf_vad_options_default(o);
    o->fp16 = ((avf_http_vad *)user)->fp16;
    double t = o->threshold, ms = o->min_speech_ms, sil = o->min_silence_ms,
           pad = o->speech_pad_ms;
    if (!avf_http_arg_num(j, "threshold", 0.01, 0.99, &t) ||
        !avf_http_arg_num(j, "min_speech_ms", 0, 60000, &ms) ||
        !avf_http_arg_num(j, "min_silence_ms", 0, 60000, &sil) ||
        !avf_http_arg_num(j, "speech_pad_ms", 0, 10000, &pad))
        return 0;
    if (avf_server_job_arg(j, "threshold")) {
        o->threshold = (float)t;
        o->neg_threshold = (float)(t - 0.15 > 0.01 ? t - 0.15 : 0.01);
    }
    o->min_speech_ms = (int)ms;
    o->min_silence_ms = (int)sil;
    o->speech_pad_ms = (int)pad;
    return 1;
}

static char *result_json(const avf_vad_result *r, int batch, const char *device) {
    json_t *segs = json_array();
    double speech = 0;
    for (int i = 0; segs && i < r->n_segments; i++) {
        speech += r->segments[i].end_s - r->segments[i].start_s;
        json_array_append_new(segs, json_pack("{s:f,s:f}", "start_s", r->segments[i].start_s,
                                              "end_s", r->segments[i].end_s));
    }
    json_t *o = json_pack("{s:f,s:i,s:i,s:f,s:o,s:i,s:s}", "duration_s", r->duration_s,
                          "sample_rate", r->sample_rate, "channels", r->channels, "speech_s",
                          speech, "segments", segs ? segs : json_array(), "batch", batch,
                          "device", device);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return s;
}

/* One group: one avf_vad_run_batch, every Silero step serving all of it. */
static void run(void *user, const void *opts, int m, avf_server_job *const *jobs) {
    avf_http_vad *h = user;
    avf_vad_input *in = calloc((size_t)m, sizeof *in);
    avf_vad_result *res = calloc((size_t)m, sizeof *res);
    if (!in || !res) {
        for (int k = 0; k < m; k++)
            avf_server_job_fail(jobs[k], 503, "out of memory");
        free(in);
        free(res);
        return;
    }
    for (int k = 0; k < m; k++)
        in[k].data = avf_server_job_body(jobs[k], &in[k].len);
    int r = avf_http_replicas_acquire(&h->replicas);
    avf_status st = avf_vad_run_batch(h->vad[r], opts, m, in, res);
    avf_http_replicas_release(&h->replicas, r);
    for (int k = 0; k < m; k++) {
        if (st == AVF_OK && res[k].status == AVF_OK)
            avf_server_job_reply(jobs[k], result_json(&res[k], m, h->device[r]));
        else
            avf_server_job_fail(jobs[k], avf_server_http_status(st != AVF_OK ? st : res[k].status),
                                res[k].error[0] ? res[k].error : avf_last_error());
        avf_vad_result_free(&res[k]);
    }
    free(in);
    free(res);
}

void avf_http_vad_batch(void *user, int n, avf_server_job *const *jobs) {
    static const avf_http_group_ops ops = {sizeof(avf_vad_options), parse, run};
    avf_http_run_grouped(&ops, user, n, jobs);
}
