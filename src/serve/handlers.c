/* The KServe v2 endpoints. Each turns a complete HTTP request into a reply;
 * inference hands the request to the model's batcher and suspends the
 * connection, so no HTTP thread waits for a batch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avflow/version.h"
#include "core/error.h"
#include "serve/buf.h"
#include "serve/infer_json.h"
#include "serve/obs.h"
#include "serve/server_impl.h"

#define MAX_SEGMENTS 8

void avf_srv_reply_error(avf_srv_reply *out, int status, const char *msg) {
    memset(out, 0, sizeof *out);
    out->status = status;
    out->body = avf_srv_error_json(msg);
    out->len = out->body ? strlen(out->body) : 0;
    out->content_type = "application/json";
    if (status == 429)
        out->retry_after = 1;
}

static void reply_status(avf_srv_reply *out, avf_status st) {
    avf_srv_reply_error(out, avf_srv_http_status(st), avf_srv_strip_location(avf_last_error()));
}

static void reply_json(avf_srv_reply *out, json_t *j) {
    memset(out, 0, sizeof *out);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        avf_srv_reply_error(out, 500, "out of memory");
        return;
    }
    out->status = 200;
    out->body = s;
    out->len = strlen(s);
    out->content_type = "application/json";
}

static void reply_buf(avf_srv_reply *out, avf_srv_buf *b, const char *ctype) {
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *s = avf_srv_buf_take(b, &len);
    if (!s) {
        avf_srv_reply_error(out, 500, "out of memory");
        return;
    }
    out->status = 200;
    out->body = s;
    out->len = len;
    out->content_type = ctype;
}

static void reply_empty(avf_srv_reply *out, int status) {
    memset(out, 0, sizeof *out);
    out->status = status;
    out->content_type = "application/json";
}

/* Split "/a/b/c" into at most MAX_SEGMENTS parts (in buf). */
static int split(const char *url, char *buf, size_t cap, char **seg) {
    if (strlen(url) >= cap)
        return -1;
    memcpy(buf, url, strlen(url) + 1);
    int n = 0;
    char *save = NULL; /* strtok_r: HTTP threads route concurrently (strtok's state is global) */
    for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGMENTS)
            return -1;
        seg[n++] = p;
    }
    return n;
}

/* Constant time in the key's length, so the comparison leaks no prefix. */
static int authorized(const avf_srv_conn *c) {
    const char *key = c->s->o.api_key;
    if (!key[0])
        return 1;
    const char *h = c->authorization;
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    size_t n = strlen(key), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)key[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

static json_t *io_json(const avf_model_value_info *info) {
    json_t *shape = json_array();
    if (info->ndim < 0)
        json_array_append_new(shape, json_integer(-1));
    for (int d = 0; d < info->ndim; d++)
        json_array_append_new(shape, json_integer(info->dims[d]));
    const char *dt = info->has_dtype ? avf_srv_datatype_name(info->dtype) : NULL;
    return json_pack("{s:s,s:s,s:o}", "name", info->name, "datatype", dt ? dt : "UNKNOWN",
                     "shape", shape);
}

static void model_metadata(avf_srv_instance *in, avf_srv_reply *out) {
    json_t *ins = json_array(), *outs = json_array();
    avf_model_value_info info;
    for (int i = 0; i < avf_model_num_inputs(in->model); i++)
        if (avf_model_input_info(in->model, i, &info) == AVF_OK)
            json_array_append_new(ins, io_json(&info));
    for (int i = 0; i < avf_model_num_outputs(in->model); i++)
        if (avf_model_output_info(in->model, i, &info) == AVF_OK)
            json_array_append_new(outs, io_json(&info));
    reply_json(out, json_pack("{s:s,s:[s],s:s,s:o,s:o}", "name", in->name, "versions",
                              in->version, "platform", "onnx", "inputs", ins, "outputs", outs));
}

static void model_config(avf_srv_instance *in, avf_srv_reply *out) {
    const avf_srv_model_config *c = &in->cfg;
    json_t *pref = json_array();
    for (int i = 0; i < c->n_preferred; i++)
        json_array_append_new(pref, json_integer(c->preferred[i]));
    reply_json(out, json_pack("{s:s,s:s,s:i,s:I,s:o,s:i,s:i,s:i,s:I,s:b}", "name", in->name,
                              "platform", "onnx", "max_batch_size", c->max_batch_size,
                              "max_queue_delay_us", (json_int_t)c->max_queue_delay_us,
                              "preferred_batch_sizes", pref, "instance_count",
                              c->instance_count, "queue_capacity", c->queue_capacity,
                              "priority_levels", c->priority_levels, "timeout_us",
                              (json_int_t)c->timeout_us, "pinned", c->pinned));
}

static void on_done(avf_srv_request *r, void *user) {
    avf_srv_conn *c = user;
    pthread_mutex_lock(&c->mu);
    c->phase = CONN_FINISHED;
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
    pthread_mutex_unlock(&c->mu);
}

/* Inference: parse, check, queue; 1 when queued (connection suspended). */
static int infer(avf_srv_conn *c, const char *name, const char *version, avf_srv_reply *out) {
    avf_server *s = c->s;
    if (c->content_encoding && strcmp(c->content_encoding, "identity") != 0) {
        avf_srv_reply_error(out, 400, "compressed request bodies are not supported");
        return 0;
    }
    size_t json_len = c->len;
    if (c->header_len) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(c->header_len, &end, 10);
        if (errno || *end || end == c->header_len || v > c->len) {
            avf_srv_reply_error(out, 400, "Inference-Header-Content-Length must be a number of "
                                          "bytes within the body");
            return 0;
        }
        json_len = (size_t)v;
    }
    avf_status st = avf_srv_repo_acquire(s->repo, name, version, 1, &c->inst);
    if (st != AVF_OK) {
        reply_status(out, st);
        return 0;
    }
    avf_srv_request *r = avf_srv_request_new();
    if (!r) {
        avf_srv_reply_error(out, 503, "out of memory");
        return 0;
    }
    c->req = r;
    r->body = c->body; /* binary inputs point into it */
    c->body = NULL;
    st = avf_srv_parse_infer(r->body, c->len, json_len, r);
    if (st == AVF_OK)
        st = avf_srv_request_check(r, c->inst->model, &c->inst->cfg);
    if (st != AVF_OK) {
        avf_srv_metrics_failure(c->inst->metrics);
        if (st == AVF_ERR_FULL) /* the JSON part over its own bound */
            avf_srv_reply_error(out, 413, avf_srv_strip_location(avf_last_error()));
        else
            reply_status(out, st);
        return 0;
    }
    r->on_done = on_done;
    r->user = c;
    pthread_mutex_lock(&c->mu);
    st = avf_srv_batcher_submit(c->inst->batcher, r);
    if (st == AVF_OK) {
        /* The worker's on_done needs mu, so it cannot resume before this
         * suspend, however fast the batch runs. */
        c->phase = CONN_QUEUED;
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&c->mu);
    if (st != AVF_OK) {
        avf_srv_metrics_failure(c->inst->metrics);
        reply_status(out, st);
        return 0;
    }
    return 1;
}

void avf_srv_handle_finished(avf_srv_conn *c, avf_srv_reply *out) {
    avf_srv_request *r = c->req;
    pthread_mutex_lock(&c->mu); /* the worker's resume has returned */
    pthread_mutex_unlock(&c->mu);
    avf_srv_metrics_request(c->inst->metrics, r, avf_srv_now_ns());
    if (r->status != AVF_OK) {
        avf_srv_reply_error(out, r->http_status ? r->http_status : avf_srv_http_status(r->status),
                            r->error);
        return;
    }
    avf_srv_encoded e;
    avf_status st = avf_srv_encode_infer_segs(r, c->inst->name, c->inst->version, &e);
    if (st != AVF_OK) {
        reply_status(out, st);
        return;
    }
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->body = e.json;
    out->len = e.json_len;
    if (e.n_segs) {
        /* the tensors go out of the batch's output buffer as they are */
        out->n_segs = e.n_segs;
        memcpy(out->seg, e.seg, sizeof e.seg);
        memcpy(out->seg_len, e.seg_len, sizeof e.seg_len);
        avf_srv_request_ref(r);
        out->hold = r;
        out->json_len = e.json_len;
        out->content_type = "application/octet-stream";
    } else {
        out->content_type = "application/json";
    }
}

static void repository(avf_srv_conn *c, char **seg, int n, avf_srv_reply *out) {
    avf_server *s = c->s;
    if (!authorized(c)) {
        avf_srv_reply_error(out, 401, "repository control needs the API key "
                                      "(Authorization: Bearer KEY)");
        out->auth_challenge = 1;
        return;
    }
    if (n == 3 && strcmp(seg[2], "index") == 0) {
        int ready = 0;
        if (c->len) {
            json_t *j = json_loadb(c->body, c->len, 0, NULL);
            json_t *rd = json_is_object(j) ? json_object_get(j, "ready") : NULL;
            int bad = !json_is_object(j) || (rd && !json_is_boolean(rd));
            ready = json_is_true(rd);
            json_decref(j);
            if (bad) {
                avf_srv_reply_error(out, 400, "the index request must be {} or {\"ready\": bool}");
                return;
            }
        }
        avf_srv_buf b = {0};
        avf_status st = avf_srv_repo_index(s->repo, ready, &b);
        if (st != AVF_OK) {
            avf_srv_buf_free(&b);
            reply_status(out, st);
            return;
        }
        reply_buf(out, &b, "application/json");
        return;
    }
    if (n == 5 && strcmp(seg[2], "models") == 0 &&
        (strcmp(seg[4], "load") == 0 || strcmp(seg[4], "unload") == 0)) {
        avf_status st = strcmp(seg[4], "load") == 0 ? avf_srv_repo_load(s->repo, seg[3])
                                                     : avf_srv_repo_unload(s->repo, seg[3]);
        if (st != AVF_OK)
            reply_status(out, st);
        else
            reply_empty(out, 200);
        return;
    }
    avf_srv_reply_error(out, 404, "no such repository endpoint");
}

/* GET /v2/models[/NAME[/versions/V]]/stats: counters only, so a model of
 * the repository that is not loaded is not loaded for it (zeros). */
static void stats(avf_srv_conn *c, const char *name, const char *version, int get,
                  avf_srv_reply *out) {
    if (!get) {
        avf_srv_reply_error(out, 405, "statistics take GET");
        return;
    }
    avf_srv_buf b = {0};
    avf_status st = avf_srv_repo_stats(c->s->repo, name, version, &b);
    if (st != AVF_OK) {
        avf_srv_buf_free(&b);
        reply_status(out, st);
        return;
    }
    reply_buf(out, &b, "application/json");
}

static void server_metadata(avf_srv_reply *out) {
    reply_json(out, json_pack("{s:s,s:s,s:[s,s,s]}", "name", "avflow", "version",
                              avf_version(), "extensions", "binary_tensor_data",
                              "model_repository", "statistics"));
}

int avf_srv_handle(avf_srv_conn *c, const char *method, const char *url, avf_srv_reply *out) {
    char buf[1024], *seg[MAX_SEGMENTS];
    int n = split(url, buf, sizeof buf, seg);
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    if (n < 0) {
        avf_srv_reply_error(out, 404, "no such endpoint");
        return 0;
    }
    if (c->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body exceeds %llu bytes",
                 (unsigned long long)c->s->o.max_body_bytes);
        avf_srv_reply_error(out, 413, msg);
        return 0;
    }
    if (n == 1 && strcmp(seg[0], "metrics") == 0 && get) {
        avf_srv_buf b = {0};
        avf_srv_repo_metrics(c->s->repo, &b);
        avf_srv_apps_metrics(c->s, &b);
        avf_srv_obs_metrics(c->s, &b); /* GPU, pool, transfers, CPU, residency */
        reply_buf(out, &b, "text/plain; version=0.0.4");
        return 0;
    }
    if (n == 2 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "residency") == 0 && get) {
        avf_srv_buf b = {0};
        avf_srv_residency_json(c->s->res, &b);
        reply_buf(out, &b, "application/json");
        return 0;
    }
    if (n == 3 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "performance") == 0 &&
        strcmp(seg[2], "status") == 0 && get) {
        avf_srv_buf b = {0};
        avf_srv_obs_status(c->s, &b);
        reply_buf(out, &b, "application/json");
        return 0;
    }
    if (n == 0 && get) { /* GET /: the dashboard */
        avf_srv_obs_dashboard(out);
        return 0;
    }
    if (n >= 2 && strcmp(seg[0], "v1") == 0) {
        /* the path after /v1/, without the query string (MHD strips it) */
        const char *path = strstr(url, "v1/") + 3;
        while (*path == '/')
            path++;
        return avf_srv_app_handle(c, method, path, out);
    }
    if (n < 1 || strcmp(seg[0], "v2") != 0) {
        avf_srv_reply_error(out, 404, "no such endpoint");
        return 0;
    }
    if (n == 1 && get) {
        server_metadata(out);
        return 0;
    }
    if (n == 3 && strcmp(seg[1], "health") == 0 && get) {
        if (strcmp(seg[2], "live") == 0)
            reply_empty(out, 200);
        else if (strcmp(seg[2], "ready") == 0)
            reply_empty(out, atomic_load(&c->s->draining) ? 503 : 200);
        else
            avf_srv_reply_error(out, 404, "no such endpoint");
        return 0;
    }
    if (n >= 2 && strcmp(seg[1], "repository") == 0) {
        if (!post)
            avf_srv_reply_error(out, 405, "repository endpoints take POST");
        else
            repository(c, seg, n, out);
        return 0;
    }
    if (n == 3 && strcmp(seg[1], "models") == 0 && strcmp(seg[2], "stats") == 0) {
        stats(c, NULL, NULL, get, out); /* every model (Triton's statistics extension) */
        return 0;
    }
    if (n >= 3 && strcmp(seg[1], "models") == 0) {
        const char *name = seg[2], *version = NULL;
        int k = 3;
        if (n >= 5 && strcmp(seg[3], "versions") == 0) {
            version = seg[4];
            k = 5;
        }
        const char *action = k < n ? seg[k] : NULL;
        if (k + 1 < n || (action && strcmp(action, "infer") != 0 &&
                          strcmp(action, "ready") != 0 && strcmp(action, "config") != 0 &&
                          strcmp(action, "stats") != 0)) {
            avf_srv_reply_error(out, 404, "no such endpoint");
            return 0;
        }
        if (action && strcmp(action, "stats") == 0) {
            stats(c, name, version, get, out);
            return 0;
        }
        if (action && strcmp(action, "infer") == 0) {
            if (!post) {
                avf_srv_reply_error(out, 405, "infer takes POST");
                return 0;
            }
            return infer(c, name, version, out);
        }
        if (!get) {
            avf_srv_reply_error(out, 405, "model metadata takes GET");
            return 0;
        }
        int ready = action && strcmp(action, "ready") == 0;
        /* Readiness reports residency; metadata and config load on demand. */
        avf_status st = avf_srv_repo_acquire(c->s->repo, name, version, !ready, &c->inst);
        if (st != AVF_OK) {
            if (ready && st != AVF_ERR_NOT_FOUND)
                reply_empty(out, 503);
            else
                reply_status(out, st);
            return 0;
        }
        if (ready)
            reply_empty(out, 200);
        else if (strcmp(action ? action : "", "config") == 0)
            model_config(c->inst, out);
        else
            model_metadata(c->inst, out);
        return 0;
    }
    avf_srv_reply_error(out, 404, "no such endpoint");
    return 0;
}
