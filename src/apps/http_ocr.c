/* POST /v1/image/ocr: an image (PNG, JPEG) in the body, its text lines out:
 *   {"width": 640, "height": 120, "batch": 3, "device": "cuda:0",
 *    "lines": [{"text": "TOTAL 42.00", "score": 0.98, "box_score": 0.81,
 *               "box": [[x,y],[x,y],[x,y],[x,y]], "rotated": false}, ...]}
 * Query arguments: det_threshold, box_threshold, unclip_ratio, max_side,
 * use_cls (see avflow/ocr.h). Requests that arrive together with the same
 * options run as one avf_ocr_run_batch: their crops share the cls and rec
 * batches. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apps/http_args.h"
#include "apps/http_batch.h"
#include "apps/http_ocr.h"
#include "avflow/ocr.h"

static int parse(void *user, avf_server_job *j, void *opts) {
    avf_ocr_options *o = opts;
    avf_ocr_options_default(o);
    o->fp16 = ((avf_http_ocr *)user)->fp16;
    double dt = o->det_threshold, bt = o->box_threshold, ur = o->unclip_ratio,
           side = o->max_side, cls = o->use_cls;
    if (!avf_http_arg_num(j, "det_threshold", 0.01, 0.99, &dt) ||
        !avf_http_arg_num(j, "box_threshold", 0.0, 1.0, &bt) ||
        !avf_http_arg_num(j, "unclip_ratio", 0.5, 4.0, &ur) ||
        !avf_http_arg_num(j, "max_side", 32, 4096, &side) ||
        !avf_http_arg_num(j, "use_cls", 0, 1, &cls))
        return 0;
    o->det_threshold = (float)dt;
    o->box_threshold = (float)bt;
    o->unclip_ratio = (float)ur;
    o->max_side = (int)side;
    o->use_cls = cls != 0;
    return 1;
}

static char *result_json(const avf_ocr_result *r, int batch, const char *device) {
    json_t *lines = json_array();
    for (int i = 0; lines && i < r->n_lines; i++) {
        const avf_ocr_line *l = &r->lines[i];
        json_t *box = json_array();
        for (int k = 0; box && k < 4; k++)
            json_array_append_new(box, json_pack("[f,f]", l->box[2 * k], l->box[2 * k + 1]));
        json_array_append_new(lines, json_pack("{s:s,s:f,s:f,s:o,s:b}", "text",
                                               l->text ? l->text : "", "score", l->text_score,
                                               "box_score", l->box_score, "box",
                                               box ? box : json_array(), "rotated", l->rotated));
    }
    json_t *o = json_pack("{s:i,s:i,s:i,s:s,s:o}", "width", r->width, "height", r->height,
                          "batch", batch, "device", device, "lines",
                          lines ? lines : json_array());
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return s;
}

/* One group: one avf_ocr_run_batch, its crops sharing the cls and rec batches. */
static void run(void *user, const void *opts, int m, avf_server_job *const *jobs) {
    avf_http_ocr *h = user;
    avf_ocr_input *in = calloc((size_t)m, sizeof *in);
    avf_ocr_result *res = calloc((size_t)m, sizeof *res);
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
    avf_status st = avf_ocr_run_batch(h->ocr[r], opts, m, in, res);
    avf_http_replicas_release(&h->replicas, r);
    for (int k = 0; k < m; k++) {
        if (st == AVF_OK && res[k].status == AVF_OK)
            avf_server_job_reply(jobs[k], result_json(&res[k], m, h->device[r]));
        else
            avf_server_job_fail(jobs[k], avf_server_http_status(st != AVF_OK ? st : res[k].status),
                                res[k].error[0] ? res[k].error : avf_last_error());
        avf_ocr_result_free(&res[k]);
    }
    free(in);
    free(res);
}

void avf_http_ocr_batch(void *user, int n, avf_server_job *const *jobs) {
    static const avf_http_group_ops ops = {sizeof(avf_ocr_options), parse, run};
    avf_http_run_grouped(&ops, user, n, jobs);
}
