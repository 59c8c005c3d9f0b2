/* ONNX node-test conformance runner.
 *
 * For every directory DATA/test_* (default: Debian's libonnx-testdata) whose
 * model uses only ops avflow claims (claimed_ops.txt), load the model, feed
 * test_data_set_0/input_N.pb, run on --device and compare every output with
 * output_N.pb: floats with ONNX's backend-test tolerances (|x - y| <= atol +
 * rtol * |y|, rtol 1e-3, atol 1e-7; NaN equals NaN), integers and bools
 * exactly. Each test runs in a forked child, so a crash or a hang (time
 * limit) fails that test only.
 *
 * A test counts for the op its name starts with (test_reduce_mean_* ->
 * ReduceMean; expanded function tests included), else its model's first op.
 * Results: pass, fail (wrong values, or any run error other than
 * unsupported), unsupported (avflow refuses the model or a node with
 * AVF_ERR_UNSUPPORTED), bad data (listed in bad_data[] below: the stored
 * expected output contradicts the op's specification, so the test is not
 * run and never counts as passed). Tests of unclaimed ops are skipped and
 * not counted.
 *
 * bf16 test data: ONNX 1.12 stores bfloat16 tensors as uint16 (numpy has
 * no bfloat16); when the model declares that input or output bf16, the
 * stored uint16 words are read as the bf16 bit patterns they are.
 *
 * --expected FILE: every test named there must pass (exit 1 otherwise), so
 * CI catches regressions; --write-expected FILE writes this run's passing
 * set. Exit 77 (ctest: skipped) when the data directory is absent.
 */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avflow.h"
#include "core/half.h"
#include "graph/onnx.h"
#include "onnx.pb-c.h"

#define MAX_TESTS 4096
#define MAX_IO 64
#define TEST_SECONDS 120

enum { R_PASS = 0, R_FAIL, R_UNSUP, R_BAD_DATA, R_COUNT };
static const char *const result_name[] = {"pass", "FAIL", "unsupported", "bad-data"};

/* Tests whose expected outputs disagree with the specification avflow
 * implements (and ONNX Runtime, and later ONNX releases). */
static const struct {
    const char *test, *why;
} bad_data[] = {
    {"test_cast_FLOAT_to_BFLOAT16",
     "expected output truncates f32 to bf16 (onnx/onnx#3876); avflow rounds to nearest even, "
     "as ONNX Runtime and ONNX >= 1.13 do"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded",
     "expected output truncates f32 to bf16 (onnx/onnx#3876); avflow rounds to nearest even, "
     "as ONNX Runtime and ONNX >= 1.13 do"},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded",
     "the stored input 'like' has shape [1] but the model declares it [3,4]"},
};

static const char *bad_data_reason(const char *test) {
    for (size_t i = 0; i < sizeof bad_data / sizeof bad_data[0]; i++)
        if (strcmp(bad_data[i].test, test) == 0)
            return bad_data[i].why;
    return NULL;
}

typedef struct test_result {
    char name[128];
    char op[64];
    int result;
    char msg[512];
} test_result;

typedef struct options {
    const char *data, *claimed, *device, *op, *expected, *write_expected, *only;
    int list_failures, no_fork, verbose;
} options;

static char claimed[256][64];
static int n_claimed;

/* ------------------------------------------------------------ files */

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int load_claimed(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    while (fgets(line, sizeof line, f) && n_claimed < 256) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        size_t n = strcspn(p, " \t\r\n#");
        if (n == 0 || n >= sizeof claimed[0])
            continue;
        memcpy(claimed[n_claimed], p, n);
        claimed[n_claimed++][n] = '\0';
    }
    fclose(f);
    return 0;
}

static int is_claimed(const char *op) {
    for (int i = 0; i < n_claimed; i++)
        if (strcmp(claimed[i], op) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ model ops */

typedef struct op_set {
    char ops[64][64];
    int n;
    int all_claimed;
} op_set;

static void collect_ops(const Onnx__GraphProto *g, op_set *s, int depth) {
    if (!g || depth > 16)
        return;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        const char *op = n->op_type ? n->op_type : "";
        if ((n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0) || !is_claimed(op))
            s->all_claimed = 0;
        int seen = 0;
        for (int k = 0; k < s->n && !seen; k++)
            seen = strcmp(s->ops[k], op) == 0;
        if (!seen && s->n < 64 && strlen(op) < 64)
            strcpy(s->ops[s->n++], op);
        for (size_t a = 0; a < n->n_attribute; a++) {
            collect_ops(n->attribute[a]->g, s, depth + 1);
            for (size_t k = 0; k < n->attribute[a]->n_graphs; k++)
                collect_ops(n->attribute[a]->graphs[k], s, depth + 1);
        }
    }
}

static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* "ReduceMean" -> "reducemean"; the test name loses its '_' the same way. */
static void squash(const char *in, char *out, size_t cap) {
    size_t n = 0;
    for (; *in && n + 1 < cap; in++)
        if (*in != '_')
            out[n++] = (char)(*in >= 'A' && *in <= 'Z' ? *in - 'A' + 'a' : *in);
    out[n] = '\0';
}

static void primary_op(const char *test, const op_set *s, char *op, size_t cap) {
    char t[160], c[80];
    squash(test + 5, t, sizeof t); /* past "test_" */
    size_t best = 0;
    op[0] = '\0';
    for (int i = 0; i < n_claimed; i++) {
        squash(claimed[i], c, sizeof c);
        size_t l = strlen(c);
        if (l > best && strncmp(t, c, l) == 0) {
            best = l;
            copy_str(op, cap, claimed[i]);
        }
    }
    if (!best)
        copy_str(op, cap, s->n ? s->ops[0] : "?");
}

/* ------------------------------------------------------------ tensors */

/* The dtype the model declares for the value a test file holds: input
 * `index` (matched by the file's tensor name first) or, index < 0, output
 * -index-1. -1 when unknown. */
static int declared_dtype(const avf_model *m, int index, const char *name) {
    avf_model_value_info info;
    if (index < 0)
        return avf_model_output_info(m, -index - 1, &info) == AVF_OK && info.has_dtype
                   ? (int)info.dtype : -1;
    for (int k = 0; k < avf_model_num_inputs(m); k++)
        if (avf_model_input_info(m, k, &info) == AVF_OK && strcmp(info.name, name) == 0)
            return info.has_dtype ? (int)info.dtype : -1;
    return avf_model_input_info(m, index, &info) == AVF_OK && info.has_dtype ? (int)info.dtype
                                                                              : -1;
}

static int read_tensor(const avf_model *m, int index, const char *path, avf_tensor *t,
                       char *name, size_t name_cap, char *msg, size_t cap) {
    size_t len = 0;
    uint8_t *buf = read_all(path, &len);
    if (!buf) {
        snprintf(msg, cap, "cannot read %s", path);
        return -1;
    }
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) {
        snprintf(msg, cap, "%s is not a TensorProto", path);
        return -1;
    }
    snprintf(name, name_cap, "%s", tp->name ? tp->name : "");
    /* uint16 words that the model says are bf16 (see the top comment);
     * both are stored in int32_data or raw_data alike */
    if (tp->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__UINT16 &&
        declared_dtype(m, index, name) == AVF_DTYPE_BF16)
        tp->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
    avf_onnx_options o = {0};
    avf_status st = avf_onnx_tensor(tp, &o, path, t);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    if (st != AVF_OK) {
        snprintf(msg, cap, "%s", avf_last_error());
        return st == AVF_ERR_UNSUPPORTED ? -2 : -1;
    }
    return 0;
}

static double elem(const avf_tensor *t, int64_t i) {
    const void *d = t->data;
    switch (t->dtype) {
    case AVF_DTYPE_F32: return ((const float *)d)[i];
    case AVF_DTYPE_F16: return avf_f16_to_f32(((const uint16_t *)d)[i]);
    case AVF_DTYPE_BF16: return avf_bf16_to_f32(((const uint16_t *)d)[i]);
    case AVF_DTYPE_F64: return ((const double *)d)[i];
    case AVF_DTYPE_I64: return (double)((const int64_t *)d)[i];
    case AVF_DTYPE_I32: return ((const int32_t *)d)[i];
    case AVF_DTYPE_I16: return ((const int16_t *)d)[i];
    case AVF_DTYPE_I8: return ((const int8_t *)d)[i];
    case AVF_DTYPE_U8:
    case AVF_DTYPE_BOOL: return ((const uint8_t *)d)[i];
    case AVF_DTYPE_U16: return ((const uint16_t *)d)[i];
    case AVF_DTYPE_U32: return ((const uint32_t *)d)[i];
    case AVF_DTYPE_U64: return (double)((const uint64_t *)d)[i];
    default: return NAN;
    }
}

static int is_float(avf_dtype dt) {
    return dt == AVF_DTYPE_F32 || dt == AVF_DTYPE_F16 || dt == AVF_DTYPE_BF16 ||
           dt == AVF_DTYPE_F64;
}

/* 0 when equal within tolerance; else a message. */
static int compare(const char *what, const avf_tensor *got, const avf_tensor *want, double rtol,
                   double atol, char *msg, size_t cap) {
    char a[160], b[160];
    int same = got->dtype == want->dtype && got->ndim == want->ndim;
    for (int d = 0; same && d < got->ndim; d++)
        same = got->shape[d] == want->shape[d];
    if (!same) {
        snprintf(msg, cap, "%s: got %s, expected %s", what, avf_tensor_describe(got, a, sizeof a),
                 avf_tensor_describe(want, b, sizeof b));
        return 1;
    }
    int64_t n = avf_tensor_numel(want), bad = 0, first = -1;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = elem(got, i), y = elem(want, i);
        int ok;
        if (is_float(want->dtype)) {
            if (isnan(y) || isnan(x))
                ok = isnan(x) && isnan(y);
            else if (isinf(y) || isinf(x))
                ok = x == y;
            else
                ok = fabs(x - y) <= atol + rtol * fabs(y);
        } else if (want->dtype == AVF_DTYPE_I64 || want->dtype == AVF_DTYPE_U64) {
            /* 64-bit integers exactly: a double would round them */
            ok = ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i];
        } else {
            ok = x == y;
        }
        if (!ok) {
            if (first < 0)
                first = i;
            bad++;
            double e = fabs(x - y);
            if (e > worst || isnan(e))
                worst = e;
        }
    }
    if (bad) {
        snprintf(msg, cap, "%s: %lld of %lld elements differ (first at %lld: got %.9g, expected "
                 "%.9g; max abs err %.3g)",
                 what, (long long)bad, (long long)n, (long long)first, elem(got, first),
                 elem(want, first), worst);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ one test */

/* Tests known to need more than rtol 1e-3 / atol 1e-7 (as ONNX's own
 * backend test does for some). */
static void tolerance(const char *test, double *rtol, double *atol) {
    static const struct {
        const char *prefix;
        double rtol, atol;
    } table[] = {
        {"test_gelu_tanh", 1e-3, 1e-6},
        {"test_layer_normalization", 1e-3, 1e-6},
    };
    *rtol = 1e-3;
    *atol = 1e-7;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strncmp(test, table[i].prefix, strlen(table[i].prefix)) == 0) {
            *rtol = table[i].rtol;
            *atol = table[i].atol;
        }
}

static int run_test(const options *o, const char *dir, const char *test, char *msg, size_t cap) {
    char path[1024], tname[256];
    avf_model *m = NULL;
    avf_device *dev = NULL, *cpu = NULL;
    avf_pool *pool = NULL, *host_pool = NULL;
    avf_tensor in[MAX_IO], out[MAX_IO], want;
    const char *names[MAX_IO];
    char name_buf[MAX_IO][256];
    int n_in = 0, n_out = 0, result = R_FAIL;
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    memset(&want, 0, sizeof want);
    msg[0] = '\0';

    snprintf(path, sizeof path, "%s/model.onnx", dir);
    avf_status st = avf_model_load(path, NULL, &m);
    if (st != AVF_OK) {
        snprintf(msg, cap, "load: %s", avf_last_error());
        return st == AVF_ERR_UNSUPPORTED ? R_UNSUP : R_FAIL;
    }
    if (avf_device_parse(o->device, &dev) != AVF_OK ||
        avf_device_get(AVF_DEVICE_CPU, 0, &cpu) != AVF_OK ||
        avf_pool_create(dev, NULL, &pool) != AVF_OK ||
        avf_pool_create(cpu, NULL, &host_pool) != AVF_OK) {
        snprintf(msg, cap, "device: %s", avf_last_error());
        goto done;
    }
    n_out = avf_model_num_outputs(m);
    if (n_out > MAX_IO || avf_model_num_inputs(m) > MAX_IO) {
        snprintf(msg, cap, "too many inputs or outputs");
        goto done;
    }
    for (;; n_in++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, n_in);
        if (access(path, R_OK) != 0)
            break;
        if (n_in == MAX_IO) {
            snprintf(msg, cap, "too many inputs");
            goto done;
        }
        int r = read_tensor(m, n_in, path, &in[n_in], name_buf[n_in], sizeof name_buf[n_in], msg,
                            cap);
        if (r) {
            result = r == -2 ? R_UNSUP : R_FAIL;
            goto done;
        }
        /* by name when the file names a model input, else by position */
        names[n_in] = NULL;
        avf_model_value_info info;
        for (int k = 0; k < avf_model_num_inputs(m); k++)
            if (avf_model_input_info(m, k, &info) == AVF_OK &&
                strcmp(info.name, name_buf[n_in]) == 0)
                names[n_in] = name_buf[n_in];
        if (!names[n_in]) {
            if (avf_model_input_info(m, n_in, &info) != AVF_OK) {
                snprintf(msg, cap, "input_%d.pb matches no model input", n_in);
                goto done;
            }
            snprintf(name_buf[n_in], sizeof name_buf[n_in], "%s", info.name);
            names[n_in] = name_buf[n_in];
        }
    }
    /* device_only: on a GPU every node runs its CUDA kernel, however small
     * (by default small integer shape arithmetic would stay on the host). */
    avf_run_options ro = {.device = dev, .pool = pool,
                          .device_only = avf_device_get_kind(dev) != AVF_DEVICE_CPU};
    st = avf_model_run(m, &ro, n_in, names, in, n_out, NULL, out);
    if (st == AVF_OK)
        st = avf_device_synchronize(dev);
    if (st != AVF_OK) {
        snprintf(msg, cap, "run: %s", avf_last_error());
        result = st == AVF_ERR_UNSUPPORTED ? R_UNSUP : R_FAIL;
        goto done;
    }
    double rtol, atol;
    tolerance(test, &rtol, &atol);
    result = R_PASS;
    for (int k = 0; k < n_out && result == R_PASS; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, k);
        int rr = read_tensor(m, -k - 1, path, &want, tname, sizeof tname, msg, cap);
        if (rr) {
            result = rr == -2 ? R_UNSUP : R_FAIL; /* e.g. bf16 stored as uint16 */
            break;
        }
        avf_tensor got = out[k];
        if (dev != cpu) {
            memset(&got, 0, sizeof got);
            if (avf_tensor_alloc(&got, host_pool, out[k].dtype, out[k].ndim, out[k].shape,
                                 NULL) != AVF_OK ||
                avf_memcpy_async(dev, got.data, out[k].data, avf_tensor_nbytes(&got),
                                 AVF_COPY_D2H, NULL, "conformance") != AVF_OK ||
                avf_device_synchronize(dev) != AVF_OK) {
                snprintf(msg, cap, "download: %s", avf_last_error());
                result = R_FAIL;
            }
        }
        char what[64];
        snprintf(what, sizeof what, "output %d", k);
        if (result == R_PASS && compare(what, &got, &want, rtol, atol, msg, cap))
            result = R_FAIL;
        if (dev != cpu)
            avf_tensor_release(&got, NULL);
        free(want.data);
        memset(&want, 0, sizeof want);
    }
done:
    for (int k = 0; k < MAX_IO; k++)
        avf_tensor_release(&out[k], NULL);
    for (int i = 0; i < n_in; i++)
        free(in[i].data);
    avf_pool_free_all(pool);
    avf_pool_free_all(host_pool);
    avf_model_free(m);
    return result;
}

/* Run one test in a child: a crash or a hang fails it, nothing more. */
static int run_isolated(const options *o, const char *dir, const char *test, char *msg,
                        size_t cap) {
    if (o->no_fork)
        return run_test(o, dir, test, msg, cap);
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(msg, cap, "pipe failed");
        return R_FAIL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        snprintf(msg, cap, "fork failed");
        return R_FAIL;
    }
    if (pid == 0) {
        close(fd[0]);
        alarm(TEST_SECONDS);
        char m[512];
        int r = run_test(o, dir, test, m, sizeof m);
        char line[600];
        int n = snprintf(line, sizeof line, "%d %s", r, m);
        if (write(fd[1], line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0)
            _exit(3);
        close(fd[1]);
        /* exit(), not _exit(): LeakSanitizer checks at exit in sanitizer builds */
        exit(0);
    }
    close(fd[1]);
    char line[600];
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof line && (k = read(fd[0], line + got, sizeof line - 1 - got)) > 0)
        got += (size_t)k;
    line[got] = '\0';
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(msg, cap, sig == SIGALRM ? "timed out after %d s" : "crashed (signal %d)",
                 sig == SIGALRM ? TEST_SECONDS : sig);
        return R_FAIL;
    }
    int r = R_FAIL;
    char *sp = strchr(line, ' ');
    if (got == 0 || !sp || sscanf(line, "%d", &r) != 1 || r < R_PASS || r > R_UNSUP) {
        snprintf(msg, cap, "the test process exited without a result (status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return R_FAIL;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(msg, cap, "the test process exited with status %d (a sanitizer report is on "
                 "stderr): %s", WEXITSTATUS(status), sp + 1);
        return R_FAIL;
    }
    snprintf(msg, cap, "%s", sp + 1);
    return r;
}

/* ------------------------------------------------------------ main */

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: run_node_tests [options]\n"
            "  --data DIR            ONNX node tests (default "
            "/usr/share/libonnx-testdata/data/node)\n"
            "  --claimed FILE        the ops avflow claims (default: next to the sources)\n"
            "  --device DEV          cpu (default) or cuda:N\n"
            "  --op NAME             only the tests counted for op NAME\n"
            "  --test NAME           only the test NAME\n"
            "  --list-failures       print each test that does not pass (failed, unsupported,\n"
            "                        bad data) and why\n"
            "  --verbose             print every test's result\n"
            "  --expected FILE       exit 1 unless every test listed there passes\n"
            "  --write-expected FILE write the passing tests' names\n"
            "  --no-fork             run tests in this process (for debuggers)\n");
}

int main(int argc, char **argv) {
    options o = {"/usr/share/libonnx-testdata/data/node", AVF_CONFORMANCE_DIR "/claimed_ops.txt",
                 "cpu", NULL, NULL, NULL, NULL, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = strcmp(a, "--data") == 0             ? &o.data
                           : strcmp(a, "--claimed") == 0        ? &o.claimed
                           : strcmp(a, "--device") == 0         ? &o.device
                           : strcmp(a, "--op") == 0             ? &o.op
                           : strcmp(a, "--test") == 0           ? &o.only
                           : strcmp(a, "--expected") == 0       ? &o.expected
                           : strcmp(a, "--write-expected") == 0 ? &o.write_expected
                                                                : NULL;
        if (val && i + 1 < argc)
            *val = argv[++i];
        else if (strcmp(a, "--list-failures") == 0)
            o.list_failures = 1;
        else if (strcmp(a, "--verbose") == 0)
            o.verbose = 1;
        else if (strcmp(a, "--no-fork") == 0)
            o.no_fork = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (load_claimed(o.claimed) != 0) {
        fprintf(stderr, "run_node_tests: cannot read %s\n", o.claimed);
        return 2;
    }
    DIR *d = opendir(o.data);
    if (!d) {
        printf("run_node_tests: no test data at %s: skipped\n", o.data);
        return 77;
    }
    static char *dirs[MAX_TESTS];
    int n_dirs = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n_dirs < MAX_TESTS)
        if (strncmp(e->d_name, "test_", 5) == 0 && strlen(e->d_name) < 120)
            dirs[n_dirs++] = strdup(e->d_name);
    closedir(d);
    qsort(dirs, (size_t)n_dirs, sizeof *dirs, by_name);

    static test_result res[MAX_TESTS];
    int n_res = 0;
    for (int i = 0; i < n_dirs; i++) {
        char dir[1024], path[1100];
        if (o.only && strcmp(o.only, dirs[i]) != 0)
            continue;
        snprintf(dir, sizeof dir, "%s/%s", o.data, dirs[i]);
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        size_t len = 0;
        uint8_t *buf = read_all(path, &len);
        Onnx__ModelProto *mp = buf ? onnx__model_proto__unpack(NULL, len, buf) : NULL;
        free(buf);
        if (!mp)
            continue;
        op_set s;
        memset(&s, 0, sizeof s);
        s.all_claimed = 1;
        collect_ops(mp->graph, &s, 0);
        onnx__model_proto__free_unpacked(mp, NULL);
        if (!s.all_claimed || s.n == 0)
            continue;
        test_result *r = &res[n_res];
        snprintf(r->name, sizeof r->name, "%s", dirs[i]);
        primary_op(dirs[i], &s, r->op, sizeof r->op);
        if (o.op && strcmp(o.op, r->op) != 0)
            continue;
        const char *bad = bad_data_reason(dirs[i]);
        if (bad) {
            r->result = R_BAD_DATA;
            snprintf(r->msg, sizeof r->msg, "%s", bad);
        } else {
            r->result = run_isolated(&o, dir, dirs[i], r->msg, sizeof r->msg);
        }
        if (o.verbose)
            printf("%-60s %-11s %s\n", r->name, result_name[r->result], r->msg);
        n_res++;
    }

    /* the per-op table, ops in claimed order */
    int total[R_COUNT] = {0};
    printf("\n%-22s %6s %7s %7s %12s %9s\n", "op", "tests", "passed", "failed", "unsupported",
           "bad-data");
    for (int c = -1; c < n_claimed; c++) {
        /* c == -1: tests counted for an op outside the list (shouldn't be) */
        int cnt[R_COUNT] = {0}, n = 0;
        for (int i = 0; i < n_res; i++) {
            int mine = c >= 0 ? strcmp(res[i].op, claimed[c]) == 0 : !is_claimed(res[i].op);
            if (mine) {
                cnt[res[i].result]++;
                n++;
            }
        }
        if (!n)
            continue;
        printf("%-22s %6d %7d %7d %12d %9d\n", c >= 0 ? claimed[c] : "(other)", n, cnt[R_PASS],
               cnt[R_FAIL], cnt[R_UNSUP], cnt[R_BAD_DATA]);
        for (int k = 0; k < R_COUNT; k++)
            total[k] += cnt[k];
    }
    printf("%-22s %6d %7d %7d %12d %9d\n", "TOTAL", n_res, total[R_PASS], total[R_FAIL],
           total[R_UNSUP], total[R_BAD_DATA]);

    if (o.list_failures) {
        /* every test that does not pass, with its kind: an unsupported or
         * bad-data test is as much a gap in the table as a failure */
        printf("\nnot passing:\n");
        for (int i = 0; i < n_res; i++)
            if (res[i].result != R_PASS)
                printf("  %-50s %-11s %s\n", res[i].name, result_name[res[i].result],
                       res[i].msg);
    }
    int rc = 0;
    if (o.write_expected) {
        FILE *f = fopen(o.write_expected, "w");
        if (!f) {
            fprintf(stderr, "run_node_tests: cannot write %s\n", o.write_expected);
            rc = 2;
        } else {
            fprintf(f, "# ONNX node tests that must pass on the CPU (run_node_tests "
                       "--write-expected)\n");
            for (int i = 0; i < n_res; i++)
                if (res[i].result == R_PASS)
                    fprintf(f, "%s\n", res[i].name);
            fclose(f);
        }
    }
    if (o.expected) {
        FILE *f = fopen(o.expected, "r");
        if (!f) {
            fprintf(stderr, "run_node_tests: cannot read %s\n", o.expected);
            return 2;
        }
        char line[256];
        int missing = 0, checked = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!line[0] || line[0] == '#')
                continue;
            int found = -1;
            for (int i = 0; i < n_res && found < 0; i++)
                if (strcmp(res[i].name, line) == 0)
                    found = i;
            if (found < 0 && (o.op || o.only))
                continue; /* filtered out of this run */
            checked++;
            if (found < 0 || res[found].result != R_PASS) {
                printf("REGRESSION: %s: %s\n", line,
                       found < 0 ? "not run (missing or no longer claimed)"
                                 : res[found].msg);
                missing++;
            }
        }
        fclose(f);
        printf("\nexpected: %d of %d listed tests pass\n", checked - missing, checked);
        if (missing)
            rc = 1;
    }
    for (int i = 0; i < n_dirs; i++)
        free(dirs[i]);
    return rc;
}
