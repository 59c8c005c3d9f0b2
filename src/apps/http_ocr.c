/* POST /v1/image/ocr: an image (PNG, JPEG) in the body, its text lines out:
 *   {"width": 640, "height": 120, "batch": 3,
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
#include "apps/http_ocr.h"
#include "avflow/ocr.h"

typedef struct job_opts {
    avf_ocr_options o;
    int ok;
} job_opts;

static int parse(avf_server_job *j, avf_ocr_options *o, int fp16) {
    avf_ocr_options_default(o);
    o->fp16 = fp16;
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

static char *result_json(const avf_ocr_result *r, int batch) {
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
    json_t *o = json_pack("{s:i,s:i,s:i,s:o}", "width", r->width, "height", r->height, "batch",
                          batch, "lines", lines ? lines : json_array());
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return s;
}

void avf_http_ocr_batch(void *user, int n, avf_server_job *const *jobs) {
    avf_http_ocr *h = user;
    job_opts *opt = calloc((size_t)n, sizeof *opt);
    avf_ocr_input *in = calloc((size_t)n, sizeof *in);
    avf_ocr_result *res = calloc((size_t)n, sizeof *res);
    avf_server_job **grp = calloc((size_t)n, sizeof *grp);
    if (!opt || !in || !res || !grp) {
        for (int i = 0; i < n; i++)
            avf_server_job_fail(jobs[i], 503, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        opt[i].ok = parse(jobs[i], &opt[i].o, h->fp16);
    for (int first = 0; first < n; first++) {
        if (!opt[first].ok)
            continue;
        int m = 0;
        for (int i = first; i < n; i++)
            if (opt[i].ok && memcmp(&opt[i].o, &opt[first].o, sizeof opt[first].o) == 0) {
                grp[m] = jobs[i];
                in[m].data = avf_server_job_body(jobs[i], &in[m].len);
                if (i != first)
                    opt[i].ok = 0;
                m++;
            }
        opt[first].ok = 0;
        memset(res, 0, (size_t)m * sizeof *res);
        avf_status st = avf_ocr_run_batch(h->ocr, &opt[first].o, m, in, res);
        for (int k = 0; k < m; k++) {
            if (st == AVF_OK && res[k].status == AVF_OK)
                avf_server_job_reply(grp[k], result_json(&res[k], m));
            else
                avf_server_job_fail(grp[k],
                                    avf_server_http_status(st != AVF_OK ? st : res[k].status),
                                    res[k].error[0] ? res[k].error : avf_last_error());
            avf_ocr_result_free(&res[k]);
        }
    }
done:
    free(opt);
    free(in);
    free(res);
    free(grp);
}
