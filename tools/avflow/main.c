/* `avflow`: the command-line entry point; dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "avflow.h"
#include "commands.h"

typedef struct avf_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} avf_command;

static const avf_command avf_commands[] = {
    {"bench", avf_cmd_bench, "load an HTTP endpoint (closed/open loop), report throughput and latency"},
    {"info", avf_cmd_info, "list devices, memory, compute capability, backends and libraries"},
    {"inspect", avf_cmd_inspect, "show a model's inputs, outputs, ops (supported or not), parameters"},
    {"run", avf_cmd_run, "run a model once on .npy inputs and write its outputs as .npy"},
    {"serve", avf_cmd_serve, "serve a model repository over HTTP (KServe v2), with batching"},
    {"ocr", avf_cmd_ocr, "read the text lines of PNG/JPEG images (PaddleOCR v4 det + cls + rec)"},
    {"vad", avf_cmd_vad, "speech segments of audio files (Silero VAD, batched)"},
};

static void usage(FILE *out) {
    fprintf(out,
            "avflow %s: GPU inference runtime for audio and video ML\n\n"
            "usage: avflow <command> [options]\n"
            "       avflow <command> --help\n\n"
            "commands:\n",
            avf_version());
    for (size_t i = 0; i < sizeof avf_commands / sizeof avf_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", avf_commands[i].name, avf_commands[i].summary);
    fprintf(out,
            "\noptions:\n"
            "  -h, --help     show this help\n"
            "  --version      print the version and build facts\n\n"
            "environment:\n"
            "  AVF_LOG        log level: error, warn (default), info, debug, trace\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("avflow %s (%s)\n", avf_version(), avf_build_info());
        return 0;
    }
    for (size_t i = 0; i < sizeof avf_commands / sizeof avf_commands[0]; i++)
        if (strcmp(cmd, avf_commands[i].name) == 0)
            return avf_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "avflow: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
