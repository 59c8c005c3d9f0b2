/* Gather an observability snapshot from a running server: recorders, NVML,
 * the device pool, the global transfer ledger, the repository and the app
 * queues. Called per scrape; costs one NVML query per GPU and a copy of
 * each model's counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/ledger.h"
#include "serve/obs.h"
#include "serve/server_impl.h"

void avf_srv_obs_collect(avf_server *srv, avf_srv_obs_snapshot *s) {
    memset(s, 0, sizeof *s);
    avf_srv_obs_snapshot_recorders(s, avf_srv_now_ns());
    snprintf(s->device, sizeof s->device, "%s",
             srv->o.devices[0] ? srv->lanes->lane[0].name : srv->o.device);
    s->n_gpus = avf_srv_nvml_sample(s->gpus, AVF_SRV_NVML_MAX_GPUS);
    s->nvml = avf_srv_nvml_available();
    snprintf(s->nvml_reason, sizeof s->nvml_reason, "%s", avf_srv_nvml_reason());
    s->has_pool = avf_pool_get_stats(srv->pool, &s->pool) == AVF_OK;
    uint64_t bytes[AVF_SRV_MAX_LANES];
    int models[AVF_SRV_MAX_LANES];
    s->n_devices = srv->lanes->n;
    avf_srv_residency_lane_usage(srv->res, s->n_devices, bytes, models);
    for (int l = 0; l < s->n_devices; l++) {
        avf_srv_lane_get_stats(&srv->lanes->lane[l], &s->devices[l]);
        s->devices[l].resident_bytes = bytes[l];
        s->devices[l].models_resident = models[l];
    }
    for (int k = 0; k < 4; k++)
        avf_ledger_totals(avf_ledger_global(), (avf_copy_kind)k, &s->xfer_bytes[k],
                          &s->xfer_copies[k]);
    s->models_cap = AVF_SRV_MAX_MODELS;
    s->models = calloc((size_t)s->models_cap, sizeof *s->models);
    if (s->models)
        s->n_models = avf_srv_repo_rows(srv->repo, s->models, s->models_cap);
    int n = atomic_load(&srv->n_apps);
    for (int i = 0; i < n && i < AVF_SRV_APP_MAX; i++) {
        avf_srv_obs_app *a = &s->apps[s->n_apps++];
        snprintf(a->path, sizeof a->path, "%s", avf_srv_app_queue_app(srv->apps[i])->path);
        avf_srv_app_queue_stats(srv->apps[i], &a->st);
        a->queued = avf_srv_app_queue_waiting(srv->apps[i]);
    }
}

void avf_srv_obs_snapshot_free(avf_srv_obs_snapshot *s) {
    free(s->models);
    s->models = NULL;
    s->n_models = 0;
}

void avf_srv_obs_metrics(avf_server *srv, avf_srv_buf *out) {
    avf_srv_obs_snapshot *s = malloc(sizeof *s);
    if (!s) {
        out->failed = 1;
        return;
    }
    avf_srv_obs_collect(srv, s);
    avf_srv_obs_render_metrics(s, out);
    avf_srv_obs_snapshot_free(s);
    free(s);
}

void avf_srv_obs_status(avf_server *srv, avf_srv_buf *out) {
    avf_srv_obs_snapshot *s = malloc(sizeof *s);
    if (!s) {
        out->failed = 1;
        return;
    }
    avf_srv_obs_collect(srv, s);
    avf_srv_obs_render_status(s, out);
    avf_srv_obs_snapshot_free(s);
    free(s);
}
