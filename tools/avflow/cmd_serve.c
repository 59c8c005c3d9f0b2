/* `avflow serve --model-repository DIR [...]`: the KServe v2 HTTP server.
 * Runs until SIGINT or SIGTERM, then stops accepting, lets in-flight
 * requests finish and exits. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow.h"
#include "avflow/serve.h"
#include "commands.h"
#include "serve_apps.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: avflow serve --model-repository DIR [options]\n\n"
            "Serve the models in DIR over HTTP with the KServe v2 (Triton) protocol:\n"
            "DIR/<model>/<version>/model.onnx, optional DIR/<model>/config.json.\n"
            "Models load at their first request; requests are batched per model.\n\n"
            "options:\n"
            "  --model-repository DIR  the model repository (required)\n"
            "  --host ADDR             address to bind (default 127.0.0.1)\n"
            "  --port N                port (default 8000; 0 picks a free one)\n"
            "  --device DEV            cpu (default) or cuda:N: serve on one device\n"
            "  --devices LIST          serve on several: cuda:0,cuda:1 or all (every GPU;\n"
            "                          cpu:0,cpu:1 simulate two devices on the host);\n"
            "                          each device gets its own workers, pool and budget,\n"
            "                          models are replicated on every device that has room\n"
            "                          (config.json \"devices\" pins one to some), and each\n"
            "                          batch goes to the least loaded device holding it\n"
            "  --api-key KEY           repository load/unload/index need\n"
            "                          'Authorization: Bearer KEY'\n"
            "  --config FILE           JSON options file (keys as the flags, with '_':\n"
            "                          model_repository, host, port, device, devices, api_key,\n"
            "                          max_body_bytes, threads, vram_budget_bytes, pin,\n"
            "                          pool_cap_bytes, default_timeout_us); flags override it\n"
            "  --max-body-bytes N      larger request bodies get 413 (default 64 MiB)\n"
            "  --threads N             HTTP threads (default 4)\n"
            "  --vram-budget-bytes N   keep loaded models' weights + plan arenas under N on\n"
            "                          each device (N,N,...: one per device of --devices);\n"
            "                          the least recently used idle model there is unloaded\n"
            "  --pin NAME              never evict NAME (repeatable)\n"
            "  --pool-cap-bytes N      cap each device's run memory pool (beyond: 503)\n"
            "  --default-timeout-us N  deadline of requests whose model sets none\n");
    avf_serve_apps_usage(out);
    fprintf(out,
            "  -h, --help              show this help\n\n"
            "The first line on stdout is 'avflow serve: listening on http://HOST:PORT'.\n"
            "SIGINT/SIGTERM: stop accepting, finish in-flight requests (30 s at most), exit.\n"
            "AVF_CUDA_SYNC=blocking (the default here)|yield|spin|auto: how threads wait for the GPU.\n"
            "exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad usage\n");
}

static int parse_int(const char *flag, const char *v, long long lo, long long hi,
                     long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "avflow serve: %s wants an integer in [%lld, %lld], got '%s'\n", flag,
                lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int copy_str(const char *flag, const char *v, char *dst, size_t cap) {
    if (strlen(v) >= cap) {
        fprintf(stderr, "avflow serve: %s value is too long\n", flag);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int avf_cmd_serve(int argc, char **argv) {
    avf_server_options o;
    avf_server_options_default(&o);
    avf_serve_apps_flags apps;
    avf_serve_apps_flags_init(&apps);
    /* The file first, so flags override it wherever they appear. */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && avf_server_options_load(argv[i + 1], &o) != AVF_OK) {
            fprintf(stderr, "avflow serve: %s\n", avf_last_error());
            return 2;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "avflow serve: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "avflow serve: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        long long x = 0;
        int bad = 0;
        if (strcmp(a, "--config") == 0)
            continue;
        else if (avf_serve_apps_flag(&apps, a, v, &bad))
            ;
        else if (strcmp(a, "--model-repository") == 0)
            bad = copy_str(a, v, o.model_repository, sizeof o.model_repository);
        else if (strcmp(a, "--host") == 0)
            bad = copy_str(a, v, o.host, sizeof o.host);
        else if (strcmp(a, "--device") == 0)
            bad = copy_str(a, v, o.device, sizeof o.device) || (o.devices[0] = '\0', 0);
        else if (strcmp(a, "--devices") == 0)
            bad = copy_str(a, v, o.devices, sizeof o.devices);
        else if (strcmp(a, "--api-key") == 0)
            bad = copy_str(a, v, o.api_key, sizeof o.api_key);
        else if (strcmp(a, "--port") == 0)
            bad = parse_int(a, v, 0, 65535, &x) || (o.port = (int)x, 0);
        else if (strcmp(a, "--threads") == 0)
            bad = parse_int(a, v, 1, 256, &x) || (o.threads = (int)x, 0);
        else if (strcmp(a, "--vram-budget-bytes") == 0) {
            if (avf_server_options_set_budgets(&o, v) != AVF_OK) {
                fprintf(stderr, "avflow serve: %s: %s\n", a, avf_last_error());
                bad = 1;
            }
        }
        else if (strcmp(a, "--pool-cap-bytes") == 0)
            bad = parse_int(a, v, 0, 1LL << 50, &x) || (o.pool_cap_bytes = (uint64_t)x, 0);
        else if (strcmp(a, "--default-timeout-us") == 0)
            bad = parse_int(a, v, 0, 3600000000LL, &x) || (o.default_timeout_us = x, 0);
        else if (strcmp(a, "--pin") == 0) {
            if (o.n_pins == 64) {
                fprintf(stderr, "avflow serve: at most 64 --pin\n");
                return 2;
            }
            bad = copy_str(a, v, o.pins[o.n_pins], sizeof o.pins[0]) || (o.n_pins++, 0);
        } else if (strcmp(a, "--max-body-bytes") == 0)
            bad = parse_int(a, v, 1024, 4LL << 30, &x) || (o.max_body_bytes = (uint64_t)x, 0);
        else {
            fprintf(stderr, "avflow serve: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (!o.model_repository[0]) {
        fprintf(stderr, "avflow serve: --model-repository is required\n\n");
        usage(stderr);
        return 2;
    }

    /* Block the stop signals in every thread (the server's threads inherit
     * this mask) and take them synchronously here. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Request bodies and outputs of 128 KiB and more are mmap'd and go back to
     * the system when freed. glibc would otherwise raise this threshold after
     * the first such free and keep them in per-thread arenas: RSS then climbs
     * to the peak of concurrent bodies across every arena and stays there. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    /* Workers wait on the GPU for every batch: sleep in those waits rather
     * than spin a host core each (AVF_CUDA_SYNC overrides). */
    setenv("AVF_CUDA_SYNC", "blocking", 0);
    avf_server *s = NULL;
    if (avf_server_create(&o, &s) != AVF_OK) {
        fprintf(stderr, "avflow serve: %s\n", avf_last_error());
        return 1;
    }
    void *apps_state = NULL;
    char apps_msg[512];
    /* the apps run on the server's devices (--devices, else --device) */
    const char *app_device = o.devices[0] ? o.devices : o.device;
    if (avf_serve_apps_start(&apps, s, app_device, &apps_state, apps_msg, sizeof apps_msg) != 0) {
        avf_server_free(s);
        avf_serve_apps_free(apps_state);
        return 1;
    }
    printf("avflow serve: listening on http://%s:%d (device%s %s, repository %s)\n", o.host,
           avf_server_port(s), o.devices[0] ? "s" : "", o.devices[0] ? o.devices : o.device,
           o.model_repository);
    if (apps_msg[0])
        printf("%s\n", apps_msg);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "avflow serve: %s: draining in-flight requests\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    int rc = 0;
    if (avf_server_shutdown(s, 30000) != AVF_OK) {
        fprintf(stderr, "avflow serve: %s\n", avf_last_error());
        rc = 1;
        /* Suspended requests would outlive the HTTP threads: wait them out. */
        avf_server_shutdown(s, -1);
    }
    avf_server_free(s);
    avf_serve_apps_free(apps_state); /* after the server: its endpoints point into it */
    fprintf(stderr, "avflow serve: stopped\n");
    return rc;
}
