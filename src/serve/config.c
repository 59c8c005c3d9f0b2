/* Parsing config.json and the server's --config file with jansson. Every
 * number is range-checked here, so the batcher and the HTTP layer can trust
 * their configuration. */
#include "serve/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/error.h"

void avf_srv_config_default(avf_srv_model_config *c) {
    memset(c, 0, sizeof *c);
    c->max_batch_size = -1;
    c->max_queue_delay_us = 500;
    c->instance_count = 1;
    c->queue_capacity = 1024;
    c->priority_levels = 1;
    c->default_priority_level = 0; /* unset: resolved by parse/autofill to the middle lane */
}

avf_status avf_srv_read_file(const char *path, size_t max, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return AVF_FAIL(errno == ENOENT ? AVF_ERR_NOT_FOUND : AVF_ERR_IO, "%s: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return AVF_FAIL(AVF_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        fclose(f);
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %lld bytes, more than the %zu allowed", path,
                        (long long)sb.st_size, max);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return AVF_FAIL(AVF_ERR_IO, "%s: read failed", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AVF_OK;
}

/* An integer member in [lo, hi]; absent keys leave *v alone. */
static avf_status get_int(json_t *root, const char *key, int64_t lo, int64_t hi, int64_t *v) {
    json_t *j = json_object_get(root, key);
    if (!j)
        return AVF_OK;
    if (!json_is_integer(j))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(j);
    if (x < lo || x > hi)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"%s\" is %lld, outside [%lld, %lld]", key,
                        (long long)x, (long long)lo, (long long)hi);
    *v = x;
    return AVF_OK;
}

static avf_status parse_json(const char *text, size_t len, json_t **root) {
    if (len > AVF_SRV_MAX_CONFIG_BYTES)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: %zu bytes, more than 1 MiB", len);
    json_error_t err;
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!*root)
        return AVF_FAIL(AVF_ERR_CORRUPT, "config: line %d: %s", err.line, err.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return AVF_FAIL(AVF_ERR_CORRUPT, "config: the top level must be an object");
    }
    return AVF_OK;
}

static avf_status check_keys(json_t *root, const char *const *known) {
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: unknown key \"%s\"", key);
    }
    return AVF_OK;
}

static avf_status model_config_from(json_t *root, avf_srv_model_config *c) {
    static const char *const known[] = {"max_batch_size", "max_queue_delay_us",
                                        "preferred_batch_sizes", "instance_count",
                                        "queue_capacity", "priority_levels", "timeout_us",
                                        "pinned", "default_priority_level", "devices", NULL};
    AVF_TRY(check_keys(root, known));
    json_t *devs = json_object_get(root, "devices");
    if (devs) {
        if (!json_is_array(devs) || json_array_size(devs) < 1 ||
            json_array_size(devs) > AVF_SRV_MAX_LANES)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"devices\" must be an array of 1 to "
                            "%d device names", AVF_SRV_MAX_LANES);
        size_t i;
        json_t *e;
        c->n_devices = 0;
        json_array_foreach(devs, i, e) {
            if (!json_is_string(e) || json_string_length(e) < 1 ||
                json_string_length(e) >= sizeof c->devices[0])
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: devices[%zu] must be a device "
                                "name (\"cuda:0\")", i);
            memcpy(c->devices[c->n_devices++], json_string_value(e), json_string_length(e) + 1);
        }
    }
    int64_t v = c->max_batch_size;
    AVF_TRY(get_int(root, "max_batch_size", 0, AVF_SRV_MAX_BATCH, &v));
    c->max_batch_size = (int)v;
    AVF_TRY(get_int(root, "max_queue_delay_us", 0, AVF_SRV_MAX_DELAY_US, &c->max_queue_delay_us));
    v = c->instance_count;
    AVF_TRY(get_int(root, "instance_count", 1, AVF_SRV_MAX_INSTANCES, &v));
    c->instance_count = (int)v;
    v = c->queue_capacity;
    AVF_TRY(get_int(root, "queue_capacity", 1, AVF_SRV_MAX_QUEUE, &v));
    c->queue_capacity = (int)v;
    v = c->priority_levels;
    AVF_TRY(get_int(root, "priority_levels", 1, 16, &v));
    c->priority_levels = (int)v;
    v = c->default_priority_level;
    AVF_TRY(get_int(root, "default_priority_level", 0, 16, &v));
    if (v > c->priority_levels)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"default_priority_level\" %lld exceeds "
                        "priority_levels %d", (long long)v, c->priority_levels);
    /* unset: the middle level, so callers can ask both for sooner and for later */
    c->default_priority_level = v ? (int)v : (c->priority_levels + 1) / 2;
    AVF_TRY(get_int(root, "timeout_us", 0, INT64_C(3600000000), &c->timeout_us));
    json_t *p = json_object_get(root, "pinned");
    if (p) {
        if (!json_is_boolean(p))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"pinned\" must be true or false");
        c->pinned = json_is_true(p);
    }
    json_t *pref = json_object_get(root, "preferred_batch_sizes");
    if (pref) {
        if (!json_is_array(pref) || json_array_size(pref) > AVF_SRV_MAX_PREFERRED)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "config: \"preferred_batch_sizes\" must be an array of at most %d "
                            "sizes", AVF_SRV_MAX_PREFERRED);
        c->n_preferred = 0;
        size_t i;
        json_t *e;
        json_array_foreach(pref, i, e) {
            json_int_t x = json_is_integer(e) ? json_integer_value(e) : -1;
            if (x < 1 || x > AVF_SRV_MAX_BATCH)
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "config: preferred_batch_sizes[%zu] must be in [1, %d]", i,
                                AVF_SRV_MAX_BATCH);
            c->preferred[c->n_preferred++] = (int)x;
        }
    }
    for (int i = 0; i < c->n_preferred; i++)
        if (c->max_batch_size >= 0 && c->preferred[i] > c->max_batch_size)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "config: preferred batch size %d exceeds max_batch_size %d",
                            c->preferred[i], c->max_batch_size);
    return AVF_OK;
}

avf_status avf_srv_config_parse(const char *text, size_t len, avf_srv_model_config *c) {
    json_t *root;
    AVF_TRY(parse_json(text, len, &root));
    avf_srv_model_config tmp = *c;
    avf_status st = model_config_from(root, &tmp);
    json_decref(root);
    if (st == AVF_OK)
        *c = tmp;
    return st;
}

avf_status avf_srv_config_load(const char *path, avf_srv_model_config *c) {
    char *text;
    size_t len;
    AVF_TRY(avf_srv_read_file(path, AVF_SRV_MAX_CONFIG_BYTES, &text, &len));
    avf_status st = avf_srv_config_parse(text, len, c);
    free(text);
    return st;
}

/* dim 0 of every input and output is dynamic (-1) and the rank is >= 1. */
static int batchable(const avf_model *m) {
    avf_model_value_info info;
    for (int i = 0; i < avf_model_num_inputs(m); i++)
        if (avf_model_input_info(m, i, &info) != AVF_OK || info.ndim < 1 || info.dims[0] != -1)
            return 0;
    for (int i = 0; i < avf_model_num_outputs(m); i++)
        if (avf_model_output_info(m, i, &info) != AVF_OK || info.ndim < 1 || info.dims[0] != -1)
            return 0;
    return avf_model_num_inputs(m) > 0;
}

avf_status avf_srv_config_autofill(avf_srv_model_config *c, const avf_model *m) {
    if (c->default_priority_level < 1 || c->default_priority_level > c->priority_levels)
        c->default_priority_level = (c->priority_levels + 1) / 2;
    int ok = batchable(m);
    if (c->max_batch_size < 0)
        c->max_batch_size = ok ? 8 : 0;
    else if (c->max_batch_size > 0 && !ok)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "config: max_batch_size %d, but not every input and output of the model "
                        "has a dynamic dim 0 to batch along", c->max_batch_size);
    for (int i = 0; i < c->n_preferred; i++)
        if (c->preferred[i] > c->max_batch_size)
            c->n_preferred = 0; /* meaningless without batching; drop rather than fail */
    return AVF_OK;
}

/* ---------------------------------------------------------------- server */

void avf_server_options_default(avf_srv_options *o) {
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = 8000;
    snprintf(o->device, sizeof o->device, "cpu");
    o->max_body_bytes = UINT64_C(64) << 20;
    o->threads = 4;
}

static avf_status get_str(json_t *root, const char *key, char *dst, size_t cap) {
    json_t *j = json_object_get(root, key);
    if (!j)
        return AVF_OK;
    if (!json_is_string(j) || json_string_length(j) >= cap)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"%s\" must be a string under %zu bytes",
                        key, cap);
    memcpy(dst, json_string_value(j), json_string_length(j) + 1);
    return AVF_OK;
}

avf_status avf_srv_options_check(const avf_srv_options *o) {
    if (o->port < 0 || o->port > 65535)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "port %d outside [0, 65535]", o->port);
    if (o->threads < 1 || o->threads > 256)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "threads %d outside [1, 256]", o->threads);
    if (o->max_body_bytes < 1024 || o->max_body_bytes > (UINT64_C(4) << 30))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "max_body_bytes %llu outside [1 KiB, 4 GiB]",
                        (unsigned long long)o->max_body_bytes);
    if (!o->model_repository[0])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "no model repository given");
    if (o->n_pins < 0 || o->n_pins > 64)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "at most 64 pinned models");
    if (o->default_timeout_us < 0 || o->default_timeout_us > INT64_C(3600000000))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "default_timeout_us outside [0, 3600 s]");
    return AVF_OK;
}

avf_status avf_srv_options_parse(const char *text, size_t len, avf_srv_options *o) {
    static const char *const known[] = {"model_repository", "host", "port", "device", "devices",
                                        "api_key", "max_body_bytes", "threads",
                                        "vram_budget_bytes", "pool_cap_bytes",
                                        "default_timeout_us", "pin", NULL};
    json_t *root;
    AVF_TRY(parse_json(text, len, &root));
    avf_srv_options t = *o;
    int64_t port = t.port, threads = t.threads, body = (int64_t)t.max_body_bytes;
    avf_status st = check_keys(root, known);
    if (st == AVF_OK) st = get_str(root, "model_repository", t.model_repository, sizeof t.model_repository);
    if (st == AVF_OK) st = get_str(root, "host", t.host, sizeof t.host);
    if (st == AVF_OK) st = get_str(root, "device", t.device, sizeof t.device);
    if (st == AVF_OK) st = get_str(root, "devices", t.devices, sizeof t.devices);
    if (st == AVF_OK) st = get_str(root, "api_key", t.api_key, sizeof t.api_key);
    if (st == AVF_OK) st = get_int(root, "port", 0, 65535, &port);
    if (st == AVF_OK) st = get_int(root, "threads", 1, 256, &threads);
    if (st == AVF_OK) st = get_int(root, "max_body_bytes", 1024, INT64_C(4) << 30, &body);
    int64_t budget = (int64_t)t.vram_budget_bytes, cap = (int64_t)t.pool_cap_bytes;
    json_t *budgets = json_object_get(root, "vram_budget_bytes");
    if (st == AVF_OK && json_is_array(budgets)) {
        /* one budget per device of "devices", in order */
        size_t i;
        json_t *e;
        if (json_array_size(budgets) < 1 || json_array_size(budgets) > AVF_SERVER_MAX_DEVICES)
            st = AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"vram_budget_bytes\" as an array has 1 "
                          "to %d budgets", AVF_SERVER_MAX_DEVICES);
        t.n_device_budgets = 0;
        json_array_foreach(budgets, i, e) {
            if (st != AVF_OK)
                break;
            json_int_t x = json_is_integer(e) ? json_integer_value(e) : -1;
            if (x < 0 || x > (INT64_C(1) << 50))
                st = AVF_FAIL(AVF_ERR_INVALID_ARG, "config: vram_budget_bytes[%zu] must be an "
                              "integer in [0, 2^50]", i);
            else
                t.device_budget_bytes[t.n_device_budgets++] = (uint64_t)x;
        }
    } else if (st == AVF_OK) {
        st = get_int(root, "vram_budget_bytes", 0, INT64_C(1) << 50, &budget);
    }
    if (st == AVF_OK) st = get_int(root, "pool_cap_bytes", 0, INT64_C(1) << 50, &cap);
    if (st == AVF_OK)
        st = get_int(root, "default_timeout_us", 0, INT64_C(3600000000), &t.default_timeout_us);
    json_t *pins = json_object_get(root, "pin");
    if (st == AVF_OK && pins) {
        if (!json_is_array(pins) || json_array_size(pins) > 64)
            st = AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"pin\" must be an array of at most 64 "
                          "model names");
        size_t i;
        json_t *e;
        t.n_pins = 0;
        json_array_foreach(pins, i, e) {
            if (st != AVF_OK)
                break;
            if (!json_is_string(e) || json_string_length(e) >= sizeof t.pins[0])
                st = AVF_FAIL(AVF_ERR_INVALID_ARG, "config: \"pin\" entries are model names");
            else
                memcpy(t.pins[t.n_pins++], json_string_value(e), json_string_length(e) + 1);
        }
    }
    t.vram_budget_bytes = (uint64_t)budget;
    t.pool_cap_bytes = (uint64_t)cap;
    json_decref(root);
    if (st != AVF_OK)
        return st;
    t.port = (int)port;
    t.threads = (int)threads;
    t.max_body_bytes = (uint64_t)body;
    *o = t;
    return AVF_OK;
}

avf_status avf_srv_parse_budgets(const char *text, uint64_t *out, int cap, int *n) {
    *n = 0;
    int k = 0;
    for (const char *p = text;;) {
        char *end = NULL;
        errno = 0;
        unsigned long long x = *p >= '0' && *p <= '9' ? strtoull(p, &end, 10) : 0;
        if (!end || (*end != '\0' && *end != ','))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "budget list '%.64s': expected N or N,N,...",
                            text);
        if (errno || x > (UINT64_C(1) << 50))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "budget list '%.64s': a budget over 2^50",
                            text);
        if (k == cap)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "budget list '%.64s': more than %d budgets",
                            text, cap);
        out[k++] = x;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *n = k;
    return AVF_OK;
}

avf_status avf_server_options_set_budgets(avf_srv_options *o, const char *text) {
    uint64_t b[AVF_SERVER_MAX_DEVICES];
    int n = 0;
    AVF_CHECK_ARG(o && text);
    AVF_TRY(avf_srv_parse_budgets(text, b, AVF_SERVER_MAX_DEVICES, &n));
    if (n == 1 && !strchr(text, ',')) {
        o->vram_budget_bytes = b[0];
        o->n_device_budgets = 0;
    } else {
        memcpy(o->device_budget_bytes, b, (size_t)n * sizeof b[0]);
        o->n_device_budgets = n;
    }
    return AVF_OK;
}

avf_status avf_server_options_load(const char *path, avf_srv_options *o) {
    char *text;
    size_t len;
    AVF_TRY(avf_srv_read_file(path, AVF_SRV_MAX_CONFIG_BYTES, &text, &len));
    avf_status st = avf_srv_options_parse(text, len, o);
    free(text);
    return st;
}
