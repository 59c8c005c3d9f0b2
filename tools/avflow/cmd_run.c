/* `avflow run MODEL --input name=file.npy ... [--device cpu|cuda:N]
 * [--output-dir DIR]`: run a model once on .npy inputs, write one .npy per
 * output and print the outputs' names, shapes and the run time.
 *
 * With --sequence NAME=FILE.npy the model runs once per slice of FILE's
 * first axis (a streaming model over its chunks), --feedback OUT=IN feeding
 * output OUT of each step to input IN of the next (a recurrent state, kept
 * on the device), and every output is written stacked over the steps: one
 * process for a whole clip instead of one per chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "avflow.h"
#include "avflow/npy.h"
#include "commands.h"

#define MAX_INPUTS 64
#define MAX_FEEDBACK 16
#define MAX_STEPS (1 << 20)

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
            "  --sequence NAME=FILE  run once per slice of FILE's first axis, fed to input\n"
            "                      NAME (e.g. audio chunks [steps, 1, 576]); outputs are\n"
            "                      written stacked over the steps\n"
            "  --feedback OUT=IN   with --sequence: feed output OUT of each step to input\n"
            "                      IN of the next (a recurrent state; IN's --input is the\n"
            "                      first step's); may be given several times\n"
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

/* Index of the model input / output called `name`, or -1. */
static int input_index(const avf_model *m, const char *name) {
    avf_model_value_info info;
    for (int k = 0; k < avf_model_num_inputs(m); k++)
        if (avf_model_input_info(m, k, &info) == AVF_OK && strcmp(info.name, name) == 0)
            return k;
    return -1;
}

static int output_index(const avf_model *m, const char *name) {
    avf_model_value_info info;
    for (int k = 0; k < avf_model_num_outputs(m); k++)
        if (avf_model_output_info(m, k, &info) == AVF_OK && strcmp(info.name, name) == 0)
            return k;
    return -1;
}

/* "NAME=REST": NAME into buf, REST returned (NULL when there is no '=' or
 * NAME does not fit). */
static const char *split_eq(const char *arg, char *buf, size_t cap) {
    const char *eq = strchr(arg, '=');
    if (!eq || (size_t)(eq - arg) >= cap)
        return NULL;
    memcpy(buf, arg, (size_t)(eq - arg));
    buf[eq - arg] = '\0';
    return eq + 1;
}

/* Step `step` of output t (on dev) into its stacked host tensor (made at
 * step 0 with `steps` leading); every step must give the same dtype/shape.
 * 0, or -1 with a message printed. */
static int stack_output(avf_device *dev, avf_pool *host_pool, const avf_tensor *t, int k,
                        int64_t step, int64_t steps, avf_tensor *stack) {
    int64_t shape[AVF_MAX_DIMS];
    if (step == 0) {
        if (t->ndim + 1 > AVF_MAX_DIMS) {
            fprintf(stderr, "avflow run: output %d of rank %d cannot be stacked\n", k, t->ndim);
            return -1;
        }
        shape[0] = steps;
        memcpy(shape + 1, t->shape, (size_t)t->ndim * sizeof *shape);
        if (avf_tensor_alloc(stack, host_pool, t->dtype, t->ndim + 1, shape, NULL) != AVF_OK) {
            fprintf(stderr, "avflow run: output %d: %s\n", k, avf_last_error());
            return -1;
        }
    } else if (stack->dtype != t->dtype || stack->ndim != t->ndim + 1 ||
               memcmp(stack->shape + 1, t->shape, (size_t)t->ndim * sizeof *shape) != 0) {
        fprintf(stderr, "avflow run: step %lld gave output %d in another dtype or shape than "
                        "step 0: it cannot be stacked\n", (long long)step, k);
        return -1;
    }
    size_t n = avf_tensor_nbytes(t);
    if (n && avf_memcpy_async(dev, (char *)stack->data + (size_t)step * n, t->data, n,
                              avf_device_get_kind(dev) == AVF_DEVICE_CPU ? AVF_COPY_H2H
                                                                         : AVF_COPY_D2H,
                              NULL, "avflow-run") != AVF_OK) {
        fprintf(stderr, "avflow run: output %d: %s\n", k, avf_last_error());
        return -1;
    }
    return 0;
}

int avf_cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *device = "cpu", *out_dir = ".", *seq_arg = NULL;
    const char *in_arg[MAX_INPUTS], *fb_arg[MAX_FEEDBACK];
    int n_in = 0, n_fb = 0, write = 1, fp16 = 0, tf32 = 0;
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
                    strcmp(a, "--output-dir") == 0 || strcmp(a, "--sequence") == 0 ||
                    strcmp(a, "--feedback") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "avflow run: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--device") == 0) {
                device = v;
            } else if (strcmp(a, "--output-dir") == 0) {
                out_dir = v;
            } else if (strcmp(a, "--sequence") == 0) {
                if (seq_arg) {
                    fprintf(stderr, "avflow run: --sequence given twice\n");
                    return 2;
                }
                seq_arg = v;
            } else if (strcmp(a, "--feedback") == 0) {
                if (n_fb == MAX_FEEDBACK) {
                    fprintf(stderr, "avflow run: more than %d --feedback pairs\n", MAX_FEEDBACK);
                    return 2;
                }
                fb_arg[n_fb++] = v;
            } else if (n_in == MAX_INPUTS - 1) { /* one slot kept for --sequence */
                fprintf(stderr, "avflow run: more than %d inputs\n", MAX_INPUTS - 1);
                return 2;
            } else {
                in_arg[n_in++] = v;
            }
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
    if (n_fb && !seq_arg) {
        fprintf(stderr, "avflow run: --feedback needs --sequence (the steps to feed back over)\n");
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
    avf_tensor inputs[MAX_INPUTS], seq = {0}, *outputs = NULL, *prev = NULL, *stacks = NULL;
    int owned[MAX_INPUTS] = {0};
    const char *names[MAX_INPUTS];
    char name_buf[MAX_INPUTS][256];
    int fb_out[MAX_FEEDBACK], fb_in[MAX_FEEDBACK];
    memset(inputs, 0, sizeof inputs);
    int n_out = avf_model_num_outputs(m);
    size_t n_alloc = (size_t)(n_out ? n_out : 1);
    if (avf_pool_create(cpu, NULL, &host_pool) != AVF_OK ||
        (dev == cpu ? (pool = host_pool, 0) : avf_pool_create(dev, NULL, &pool) != AVF_OK) ||
        !(outputs = calloc(n_alloc, sizeof *outputs)) || !(prev = calloc(n_alloc, sizeof *prev)) ||
        !(stacks = calloc(n_alloc, sizeof *stacks))) {
        fprintf(stderr, "avflow run: %s\n", avf_last_error());
        rc = 2;
        goto done;
    }
    for (int i = 0; i < n_in && rc == 0; i++) {
        const char *path = split_eq(in_arg[i], name_buf[i], sizeof name_buf[i]);
        if (path && input_index(m, name_buf[i]) >= 0) {
            names[i] = name_buf[i];
        } else { /* positional */
            avf_model_value_info info;
            path = in_arg[i];
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
        owned[i] = 1;
    }
    if (rc)
        goto done;
    for (int f = 0; f < n_fb; f++) { /* among the --input ones (not yet the sequence) */
        char out_name[256];
        const char *in_name = split_eq(fb_arg[f], out_name, sizeof out_name);
        fb_out[f] = in_name ? output_index(m, out_name) : -1;
        fb_in[f] = -1;
        for (int i = 0; in_name && i < n_in; i++)
            if (strcmp(names[i], in_name) == 0)
                fb_in[f] = i;
        if (fb_out[f] < 0 || fb_in[f] < 0) {
            fprintf(stderr, "avflow run: --feedback '%s': OUT must be a model output and IN an "
                            "input given with --input\n", fb_arg[f]);
            rc = 2;
            goto done;
        }
    }

    int64_t steps = 1;
    int seq_slot = -1;
    if (seq_arg) {
        seq_slot = n_in;
        const char *path = split_eq(seq_arg, name_buf[seq_slot], sizeof name_buf[seq_slot]);
        if (!path || input_index(m, name_buf[seq_slot]) < 0) {
            fprintf(stderr, "avflow run: --sequence '%s' is not NAME=FILE of a model input\n",
                    seq_arg);
            rc = 2;
            goto done;
        }
        names[seq_slot] = name_buf[seq_slot];
        if (avf_npy_read(path, host_pool, &seq) != AVF_OK) {
            fprintf(stderr, "avflow run: %s\n", avf_last_error());
            rc = 2;
            goto done;
        }
        steps = seq.ndim >= 1 ? seq.shape[0] : 0;
        if (steps < 1 || steps > MAX_STEPS) {
            fprintf(stderr, "avflow run: --sequence %s: %lld steps (its first axis; 1..%d)\n",
                    path, (long long)steps, MAX_STEPS);
            rc = 2;
            goto done;
        }
        n_in++;
    }
    avf_run_options opts = {.device = dev, .pool = pool, .fp16 = fp16, .allow_tf32 = tf32};
    double t0 = now_ms(), first_ms = 0.0;
    for (int64_t s = 0; s < steps; s++) {
        if (seq_arg) {
            size_t step_bytes = avf_tensor_nbytes(&seq) / (size_t)steps;
            avf_tensor_init_borrowed(&inputs[seq_slot], (char *)seq.data + (size_t)s * step_bytes,
                                     seq.dtype, seq.ndim - 1, seq.shape + 1, cpu);
        }
        avf_status st = avf_model_run(m, &opts, n_in, names, inputs, n_out, NULL, outputs);
        if (st == AVF_OK)
            st = avf_device_synchronize(dev);
        if (st != AVF_OK) {
            fprintf(stderr, "avflow run: step %lld: %s: %s\n", (long long)s, avf_status_name(st),
                    avf_last_error());
            rc = 1;
            goto done;
        }
        if (s == 0)
            first_ms = now_ms() - t0;
        for (int k = 0; seq_arg && k < n_out; k++)
            if (stack_output(dev, host_pool, &outputs[k], k, s, steps, &stacks[k]) != 0) {
                rc = 1;
                goto done;
            }
        /* the copies done before the outputs go back to the pool below */
        if (seq_arg && avf_device_synchronize(dev) != AVF_OK) {
            fprintf(stderr, "avflow run: %s\n", avf_last_error());
            rc = 1;
            goto done;
        }
        /* this step's inputs are consumed: the previous step's outputs go,
         * this step's fed-back ones become the next step's inputs */
        for (int f = 0; f < n_fb; f++) {
            if (owned[fb_in[f]])
                avf_tensor_release(&inputs[fb_in[f]], NULL);
            owned[fb_in[f]] = 0;
            inputs[fb_in[f]] = outputs[fb_out[f]];
        }
        for (int k = 0; s + 1 < steps && k < n_out; k++) {
            avf_tensor_release(&prev[k], NULL);
            prev[k] = outputs[k];
            memset(&outputs[k], 0, sizeof outputs[k]);
        }
    }
    double ms = now_ms() - t0;
    if (write && mkdir(out_dir, 0777) != 0) {
        struct stat sb;
        if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "avflow run: cannot create the output directory %s\n", out_dir);
            rc = 2;
            goto done;
        }
    }
    if (steps == 1)
        printf("ran %s on %s in %.3f ms (first run: includes compiling and weight upload)\n",
               model_path, avf_device_get_name(dev), ms);
    else
        printf("ran %s on %s: %lld steps in %.3f ms (the first %.3f ms, with compiling and "
               "weight upload; then %.3f ms per step)\n",
               model_path, avf_device_get_name(dev), (long long)steps, ms, first_ms,
               (ms - first_ms) / (double)(steps - 1));
    for (int k = 0; k < n_out; k++) {
        avf_model_value_info info;
        char desc[160], fname[200], path[4096];
        avf_tensor host = seq_arg ? stacks[k] : outputs[k];
        if (avf_model_output_info(m, k, &info) != AVF_OK)
            continue;
        if (!seq_arg && dev != cpu) {
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
        printf("  %-24s %s", info.name, avf_tensor_describe(&host, desc, sizeof desc));
        if (write && avf_npy_write(path, &host) != AVF_OK) {
            fprintf(stderr, "\navflow run: %s\n", avf_last_error());
            rc = 2;
        } else if (write) {
            printf("  -> %s", path);
        }
        printf("\n");
        if (!seq_arg && dev != cpu)
            avf_tensor_release(&host, NULL);
    }
done:
    for (int k = 0; outputs && k < n_out; k++) {
        avf_tensor_release(&outputs[k], NULL);
        avf_tensor_release(&prev[k], NULL);
        avf_tensor_release(&stacks[k], NULL);
    }
    free(outputs);
    free(prev);
    free(stacks);
    for (int i = 0; i < n_in; i++)
        if (owned[i])
            avf_tensor_release(&inputs[i], NULL);
    avf_tensor_release(&seq, NULL);
    if (pool && pool != host_pool)
        avf_pool_free_all(pool);
    avf_pool_free_all(host_pool);
    avf_model_free(m);
    return rc;
}
