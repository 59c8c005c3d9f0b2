/* `avflow info`: what this machine offers avflow. */
#include <stdio.h>
#include <string.h>

#include "avflow.h"
#include "avflow/video.h"
#include "commands.h"

static double gib(uint64_t b) { return (double)b / (1024.0 * 1024.0 * 1024.0); }

static void print_device(avf_device *dev, int json, int *first) {
    avf_device_props p;
    uint64_t free_b = 0, total_b = 0;
    if (avf_device_get_props(dev, &p) != AVF_OK) {
        fprintf(stderr, "avflow info: %s: %s\n", avf_device_get_name(dev), avf_last_error());
        return;
    }
    if (avf_device_mem_info(dev, &free_b, &total_b) != AVF_OK)
        free_b = 0, total_b = p.total_memory;
    if (json) {
        printf("%s\n    {\"device\": \"%s\", \"name\": \"%s\", \"total_bytes\": %llu, "
               "\"free_bytes\": %llu, \"compute_capability\": \"%d.%d\", \"processors\": %d, "
               "\"l2_bytes\": %llu, \"copy_engines\": %d}",
               *first ? "" : ",", avf_device_get_name(dev), p.name,
               (unsigned long long)total_b, (unsigned long long)free_b, p.cc_major, p.cc_minor,
               p.multiprocessors, (unsigned long long)p.l2_cache_bytes, p.async_engines);
        *first = 0;
        return;
    }
    if (p.kind == AVF_DEVICE_CPU) {
        printf("  %-7s %s, %d cores, %.1f GiB memory (%.1f GiB free)\n", avf_device_get_name(dev),
               p.name, p.multiprocessors, gib(total_b), gib(free_b));
    } else {
        printf("  %-7s %s, compute capability %d.%d, %d SMs, %.1f GiB memory (%.1f GiB free), "
               "L2 %.0f MiB, %d copy engines, PCI bus %d\n",
               avf_device_get_name(dev), p.name, p.cc_major, p.cc_minor, p.multiprocessors,
               gib(total_b), gib(free_b), (double)p.l2_cache_bytes / (1024.0 * 1024.0),
               p.async_engines, p.pci_bus_id);
    }
}

int avf_cmd_info(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: avflow info [--json]\n\n"
                   "Lists the backends compiled into this build, every device with its memory\n"
                   "and compute capability, and the versions of the runtime libraries.\n");
            return 0;
        } else {
            fprintf(stderr, "avflow info: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }

    int counts[AVF_DEVICE_KIND_COUNT] = {0};
    for (int k = 0; k < AVF_DEVICE_KIND_COUNT; k++)
        if (avf_device_count((avf_device_kind)k, &counts[k]) != AVF_OK)
            counts[k] = 0;

    char versions[1024];
    avf_runtime_versions(versions, sizeof versions);

    if (json) {
        printf("{\n  \"version\": \"%s\",\n  \"build\": \"%s\",\n  \"backends\": {", avf_version(),
               avf_build_info());
        for (int k = 0; k < AVF_DEVICE_KIND_COUNT; k++)
            printf("%s\"%s\": {\"compiled\": %s, \"devices\": %d}", k ? ", " : "",
                   avf_device_kind_name((avf_device_kind)k),
                   avf_backend_compiled((avf_device_kind)k) ? "true" : "false", counts[k]);
        printf("},\n  \"devices\": [");
    } else {
        printf("avflow %s (%s)\n\nbackends:\n", avf_version(), avf_build_info());
        for (int k = 0; k < AVF_DEVICE_KIND_COUNT; k++) {
            const char *name = avf_device_kind_name((avf_device_kind)k);
            if (!avf_backend_compiled((avf_device_kind)k))
                printf("  backend %s: not compiled into this build\n", name);
            else if (counts[k] == 0)
                printf("  backend %s: compiled, but no device found\n", name);
            else
                printf("  backend %s: available (%d device%s)\n", name, counts[k],
                       counts[k] == 1 ? "" : "s");
        }
        printf("\ndevices:\n");
    }
    int first = 1;
    for (int k = 0; k < AVF_DEVICE_KIND_COUNT; k++) {
        for (int i = 0; i < counts[k]; i++) {
            avf_device *dev = NULL;
            if (avf_device_get((avf_device_kind)k, i, &dev) == AVF_OK)
                print_device(dev, json, &first);
        }
    }
    /* video engines: NVDEC through libnvcuvid, NVENC by opening a session */
    if (!json)
        printf("\nvideo:\n");
    else
        printf("\n  ],\n  \"video\": [");
    for (int i = 0; i < counts[AVF_DEVICE_CUDA]; i++) {
        avf_device *dev = NULL;
        if (avf_device_get(AVF_DEVICE_CUDA, i, &dev) != AVF_OK)
            continue;
        char dec[256], enc[256];
        int has_dec = avf_nvdec_available(dev) == AVF_OK;
        snprintf(dec, sizeof dec, "%s", has_dec ? "" : avf_last_error());
        int has_enc = avf_nvenc_available(dev) == AVF_OK;
        snprintf(enc, sizeof enc, "%s", has_enc ? "" : avf_last_error());
        if (json)
            printf("%s{\"device\": \"%s\", \"nvdec\": %s, \"nvenc\": %s}", i ? ", " : "",
                   avf_device_get_name(dev), has_dec ? "true" : "false", has_enc ? "true" : "false");
        else
            printf("  %-7s nvdec: %s%s%s\n  %-7s nvenc: %s%s%s\n", avf_device_get_name(dev),
                   has_dec ? "available" : "none (", dec, has_dec ? "" : ")",
                   avf_device_get_name(dev), has_enc ? "available" : "none (", enc,
                   has_enc ? "" : ")");
    }
    if (!json && counts[AVF_DEVICE_CUDA] == 0)
        printf("  nvdec: none (no CUDA device)\n  nvenc: none (no CUDA device)\n");
    if (json) {
        printf("]");
        printf(",\n  \"libraries\": {");
        int firstlib = 1;
        for (char *line = strtok(versions, "\n"); line; line = strtok(NULL, "\n")) {
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            *eq = '\0';
            printf("%s\"%s\": \"%s\"", firstlib ? "" : ", ", line, eq + 1);
            firstlib = 0;
        }
        printf("}\n}\n");
    } else {
        printf("\nlibraries:\n");
        for (char *line = strtok(versions, "\n"); line; line = strtok(NULL, "\n"))
            printf("  %s\n", line);
    }
    return 0;
}
