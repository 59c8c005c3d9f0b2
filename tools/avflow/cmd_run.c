/* `avflow run MODEL --input name=file.npy ... [--device cpu|cuda:N]
 * [--output-dir DIR]`: run a model once on .npy inputs, write one .npy per
 * output and print the outputs' names, shapes and the run time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "avflow.h"
#include "avflow/npy.h"
#include "commands.h"

#define MAX_INPUTS 64

static void usage(FILE *out) {
    fprintf(out,
            "usage: avflow run MODEL --input NAME=FILE.npy ... [options]\n\n"
            "Run an ONNX model once on .npy inputs; write one .npy per output and print\n"
            "the outputs' names, dtypes, shapes and the run time.\n\n"
            "options:\n"
            "  --input NAME=FILE   feed the model input NAME from FILE (.npy); the NAME=\n"
            "                      part may be left out to feed the inputs in model order\n"
            "  --device DEV        cpu (default) or cuda:N\n"
            "  --output-dir DIR    where the outputs go, as DIR/<output name>.npy\n"
            "                      (default: the current directory; created if missing)\n"
            "  --no-write          print only, write no files\n"
            "  --fp16              keep float values in f16 on the GPU (outputs stay f32)\n"
            "  --tf32              let f32 GEMMs and convolutions use TF32 tensor cores\n"
            "  -h, --help          show this help\n\n"
            "exit status: 0 ok, 1 the run failed, 2 bad usage or unreadable files\n");
}

/* Output names may hold '/', ':' and the like: keep a safe file name. */
static void file_name(const char *name, char *buf, size_t cap) {
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        buf[n] = ok && !(n == 0 && c == '.') ? c : '_';
        n++;
    }
    if (n == 0)
        buf[n++] = '_';
    buf[n] = '\0';
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int avf_cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *device = "cpu", *out_dir = ".";
    const char *in_arg[MAX_INPUTS];
    int n_in = 0, write = 1, fp16 = 0, tf32 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--fp16") == 0) {
            fp16 = 1;
        } else if (strcmp(a, "--tf32") == 0) {
            tf32 = 1;
        } else if (strcmp(a, "--no-write") == 0) {
            write = 0;
        } else if ((strcmp(a, "--input") == 0 || strcmp(a, "--device") == 0 ||
                    strcmp(a, "--output-dir") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "avflow run: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--device") == 0)
                device = v;
            else if (strcmp(a, "--output-dir") == 0)
                out_dir = v;
            else if (n_in == MAX_INPUTS) {
                fprintf(stderr, "avflow run: more than %d inputs\n", MAX_INPUTS);
                return 2;
            } else
                in_arg[n_in++] = v;
        } else if (a[0] == '-') {
            fprintf(stderr, "avflow run: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "avflow run: more than one model given ('%s')\n", a);
            return 2;
        }
    }
    if (!model_path) {
        usage(stderr);
        return 2;
    }

    avf_device *dev = NULL, *cpu = NULL;
    if (avf_device_parse(device, &dev) != AVF_OK || avf_device_get(AVF_DEVICE_CPU, 0, &cpu) != AVF_OK) {
        fprintf(stderr, "avflow run: device '%s': %s\n", device, avf_last_error());
        return 2;
    }
    avf_model *m = NULL;
    if (avf_model_load(model_path, NULL, &m) != AVF_OK) {
        fprintf(stderr, "avflow run: %s\n", avf_last_error());
        return 2;
    }
    int rc = 0;
    avf_pool *host_pool = NULL, *pool = NULL;
    avf_tensor inputs[MAX_INPUTS], *outputs = NULL;
    const char *names[MAX_INPUTS];
    char name_buf[MAX_INPUTS][256];
    memset(inputs, 0, sizeof inputs);
    int n_out = avf_model_num_outputs(m);
    if (avf_pool_create(cpu, NULL, &host_pool) != AVF_OK ||
        (dev == cpu ? (pool = host_pool, 0) : avf_pool_create(dev, NULL, &pool) != AVF_OK) ||
        !(outputs = calloc((size_t)(n_out ? n_out : 1), sizeof *outputs))) {
        fprintf(stderr, "avflow run: %s\n", avf_last_error());
        rc = 2;
        goto done;
    }
    for (int i = 0; i < n_in && rc == 0; i++) {
        const char *eq = strchr(in_arg[i], '=');
        const char *path = in_arg[i];
        avf_model_value_info info;
        names[i] = NULL;
        if (eq && (size_t)(eq - in_arg[i]) < sizeof name_buf[i]) {
            memcpy(name_buf[i], in_arg[i], (size_t)(eq - in_arg[i]));
            name_buf[i][eq - in_arg[i]] = '\0';
            for (int k = 0; k < avf_model_num_inputs(m); k++)
                if (avf_model_input_info(m, k, &info) == AVF_OK &&
                    strcmp(info.name, name_buf[i]) == 0) {
                    names[i] = name_buf[i];
                    path = eq + 1;
                }
        }
        if (!names[i]) { /* positional */
            if (avf_model_input_info(m, i, &info) != AVF_OK) {
                fprintf(stderr, "avflow run: input '%s' names no model input\n", in_arg[i]);
                rc = 2;
                break;
            }
            names[i] = info.name;
        }
        if (avf_npy_read(path, host_pool, &inputs[i]) != AVF_OK) {
            fprintf(stderr, "avflow run: %s\n", avf_last_error());
            rc = 2;
        }
    }
    if (rc)
        goto done;

    avf_run_options opts = {.device = dev, .pool = pool, .fp16 = fp16, .allow_tf32 = tf32};
    double t0 = now_ms();
    avf_status st = avf_model_run(m, &opts, n_in, names, inputs, n_out, NULL, outputs);
    if (st == AVF_OK)
        st = avf_device_synchronize(dev);
    double ms = now_ms() - t0;
    if (st != AVF_OK) {
        fprintf(stderr, "avflow run: %s: %s\n", avf_status_name(st), avf_last_error());
        rc = 1;
        goto done;
    }
    if (write && mkdir(out_dir, 0777) != 0) {
        struct stat sb;
        if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "avflow run: cannot create the output directory %s\n", out_dir);
            rc = 2;
            goto done;
        }
    }
    printf("ran %s on %s in %.3f ms (first run: includes compiling and weight upload)\n",
           model_path, avf_device_get_name(dev), ms);
    for (int k = 0; k < n_out; k++) {
        avf_model_value_info info;
        char desc[160], fname[200], path[4096];
        avf_tensor host = outputs[k];
        if (avf_model_output_info(m, k, &info) != AVF_OK)
            continue;
        if (dev != cpu) {
            memset(&host, 0, sizeof host);
            if (avf_tensor_alloc(&host, host_pool, outputs[k].dtype, outputs[k].ndim,
                                 outputs[k].shape, NULL) != AVF_OK ||
                avf_memcpy_async(dev, host.data, outputs[k].data, avf_tensor_nbytes(&host),
                                 AVF_COPY_D2H, NULL, "avflow-run") != AVF_OK ||
                avf_device_synchronize(dev) != AVF_OK) {
                fprintf(stderr, "avflow run: %s\n", avf_last_error());
                avf_tensor_release(&host, NULL);
                rc = 1;
                continue;
            }
        }
        file_name(info.name, fname, sizeof fname);
        snprintf(path, sizeof path, "%s/%s.npy", out_dir, fname);
        printf("  %-24s %s", info.name, avf_tensor_describe(&outputs[k], desc, sizeof desc));
        if (write && avf_npy_write(path, &host) != AVF_OK) {
            fprintf(stderr, "\navflow run: %s\n", avf_last_error());
            rc = 2;
        } else if (write) {
            printf("  -> %s", path);
        }
        printf("\n");
        if (dev != cpu)
            avf_tensor_release(&host, NULL);
    }
done:
    for (int k = 0; outputs && k < n_out; k++)
        avf_tensor_release(&outputs[k], NULL);
    free(outputs);
    for (int i = 0; i < n_in; i++)
        avf_tensor_release(&inputs[i], NULL);
    if (pool && pool != host_pool)
        avf_pool_free_all(pool);
    avf_pool_free_all(host_pool);
    avf_model_free(m);
    return rc;
}
