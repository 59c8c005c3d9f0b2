/* Residency over several devices, with the real repository and residency
 * manager on simulated devices cpu:1 and cpu:2 (budgets of one and two
 * models): models pinned by config.json "devices" stay there, a model that
 * fits one device only goes there only, eviction to make room on one device
 * leaves the other's models alone, a busy model is never evicted (the load
 * fails, naming the device). The models are y = x + w, w of 4 floats: 16
 * bytes of weights each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_build.h"

#include "serve/repo.h"
#include "serve/residency.h"

static char g_dir[256];

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* <repo>/<name>/1/model.onnx and, when config is not NULL, config.json */
static void add_model(const onnx_built *m, const char *name, const char *config) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/%s/1", g_dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/%s/1/model.onnx", g_dir, name);
    write_file(p, m->buf, m->len);
    if (config) {
        snprintf(p, sizeof p, "%s/%s/config.json", g_dir, name);
        write_file(p, config, strlen(config));
    }
}

static void make_repo(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/avf_residency_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    Onnx__GraphProto *g = graph("add");
    int64_t d[2] = {-1, 4}, wd[1] = {4};
    float w[4] = {1, 2, 3, 4};
    PUSH(g->input, g->n_input, vi("x", T_F32, 2, d));
    PUSH(g->initializer, g->n_initializer, tensor("w", T_F32, 1, wd, w, sizeof w));
    node(g, "Add", "x", "w", "y");
    PUSH(g->output, g->n_output, vi("y", T_F32, 2, d));
    onnx_built m = onnx_pack(g, 13);
    add_model(&m, "a1", "{\"devices\": [\"cpu:1\"]}");
    add_model(&m, "b2", "{\"devices\": [\"cpu:2\"]}");
    add_model(&m, "c1", "{\"devices\": [\"cpu:1\"]}");
    add_model(&m, "free", NULL);
    add_model(&m, "bad", "{\"devices\": [\"cpu:5\"]}");
    onnx_build_free();
}

static void remove_repo(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

typedef struct env {
    avf_srv_lanes *lanes;
    avf_srv_residency *res;
    avf_srv_repo *repo;
} env;

static void env_start(env *e, const char *devices, const uint64_t *budgets) {
    avf_device *devs[4];
    int n = 0;
    assert_avf_ok(avf_device_parse_list(devices, devs, 4, &n));
    assert_avf_ok(avf_srv_lanes_create(devs, n, NULL, budgets, &e->lanes));
    assert_avf_ok(avf_srv_residency_create(NULL, 0, &e->res));
    assert_avf_ok(avf_srv_repo_create(g_dir, e->lanes, &e->repo));
    avf_srv_repo_policy pol = {.residency = e->res};
    avf_srv_repo_set_policy(e->repo, &pol);
    assert_avf_ok(avf_srv_residency_start(e->res, e->repo));
}

static void env_stop(env *e) {
    avf_srv_residency_stop(e->res);
    avf_srv_repo_free(e->repo);
    avf_srv_lanes_free(e->lanes);
    avf_srv_residency_free(e->res);
}

/* The lanes of a loaded model, 0 when it is not loaded. */
static uint32_t lanes_of(env *e, const char *name) {
    avf_srv_instance *in = NULL;
    if (avf_srv_repo_acquire(e->repo, name, NULL, 0, &in) != AVF_OK)
        return 0;
    uint32_t m = in->lanes;
    avf_srv_repo_release(e->repo, in);
    return m;
}

static avf_status load(env *e, const char *name) { return avf_srv_repo_load(e->repo, name); }

static void test_per_device_placement_and_eviction(void **state) {
    (void)state;
    make_repo();
    uint64_t budgets[2] = {16, 32}; /* cpu:1 holds one model, cpu:2 two */
    env e;
    env_start(&e, "cpu:1,cpu:2", budgets);

    /* replicated where it fits: both */
    assert_avf_ok(load(&e, "free"));
    assert_int_equal(lanes_of(&e, "free"), 3u);
    uint64_t bytes[2];
    int models[2];
    avf_srv_residency_lane_usage(e.res, 2, bytes, models);
    assert_int_equal(bytes[0], 16);
    assert_int_equal(bytes[1], 16);
    assert_avf_ok(avf_srv_repo_unload(e.repo, "free"));

    /* pinned models go where they are pinned */
    assert_avf_ok(load(&e, "a1"));
    assert_avf_ok(load(&e, "b2"));
    assert_int_equal(lanes_of(&e, "a1"), 1u);
    assert_int_equal(lanes_of(&e, "b2"), 2u);

    /* cpu:1 is full: loading c1 evicts a1 (on cpu:1), b2 (cpu:2) stays */
    assert_avf_ok(load(&e, "c1"));
    assert_int_equal(lanes_of(&e, "a1"), 0u);
    assert_int_equal(lanes_of(&e, "b2"), 2u);
    assert_int_equal(lanes_of(&e, "c1"), 1u);
    avf_srv_residency_stats st;
    avf_srv_residency_get_stats(e.res, &st);
    assert_int_equal(st.evictions_budget, 1);
    assert_int_equal(st.budget_bytes, 48);

    /* free fits on cpu:2 only now: one replica, nothing evicted */
    assert_avf_ok(load(&e, "free"));
    assert_int_equal(lanes_of(&e, "free"), 2u);
    assert_int_equal(lanes_of(&e, "c1"), 1u);
    avf_srv_residency_get_stats(e.res, &st);
    assert_int_equal(st.evictions_budget, 1);

    /* a busy model is not evicted: the load fails and says where */
    avf_srv_instance *held = NULL;
    assert_avf_ok(avf_srv_repo_acquire(e.repo, "c1", NULL, 0, &held));
    assert_avf_fails(load(&e, "a1"), AVF_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(avf_last_error(), "on cpu:1"));
    assert_int_equal(lanes_of(&e, "free"), 2u); /* cpu:2's models untouched */
    assert_int_equal(lanes_of(&e, "b2"), 2u);
    avf_srv_repo_release(e.repo, held);
    /* idle again: now it goes */
    assert_avf_ok(load(&e, "a1"));
    assert_int_equal(lanes_of(&e, "c1"), 0u);

    /* a device the server does not drive: the load fails naming it */
    assert_avf_fails(load(&e, "bad"), AVF_ERR_CLOSED);
    assert_non_null(strstr(avf_last_error(), "device 'cpu:5' is not one the server drives"));
    env_stop(&e);
    remove_repo();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_device_placement_and_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
