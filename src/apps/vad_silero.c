/* One group of clips through Silero VAD v5, step by step.
 *
 * Silero takes, per batch row, 576 samples (the 64 last samples of the
 * previous chunk, zeros before the first, then the 512-sample chunk, the last
 * one zero-padded), the recurrent state [2, B, 128] and sr = 16000, and gives
 * a speech probability [B, 1] and the next state. On the device:
 *
 *   audio  [Gb, 64 + 512 * S]  every clip's 16 kHz samples at column 64,
 *                              zeros around (one memset, one copy per clip)
 *   frames [K, B, 576]         K steps at once, one copy-map launch reading
 *                              overlapping windows of `audio` (no host work)
 *   probs  [S, Gb]             each step's [B, 1] output copied into row s
 *
 * Clips are sorted longest first, so the clips still running are a prefix:
 * when they fit a smaller power of two, the batch shrinks to it (the state's
 * first rows are kept, so running clips keep theirs); rows past the running
 * clips are padding whose outputs are ignored. Each batch size is one engine
 * plan (a CUDA graph after its second run). At the end `probs` comes back to
 * the host in one copy: the only device-to-host traffic of the pipeline. */
#include <stdlib.h>
#include <string.h>

#include "apps/vad_impl.h"
#include "core/error.h"
#include "ops/data.h"

#define W AVF_VAD_CHUNK
#define CTX AVF_VAD_CONTEXT
#define ROW (AVF_VAD_CONTEXT + AVF_VAD_CHUNK) /* 576 */
#define STATE 128

typedef struct group {
    avf_vad *v;
    vad_lane *l;
    int fp16;
    vad_clip *const *c;
    int n, gb;        /* clips, padded rows (bucket of n) */
    int64_t steps;    /* of the longest clip */
    int64_t tp;       /* row length of `audio` */
    avf_tensor audio, probs, state, frames;
    int b;            /* current batch rows */
} group;

static void group_release(group *g) {
    avf_stream *s = g->l->stream;
    avf_tensor_release(&g->audio, s);
    avf_tensor_release(&g->probs, s);
    avf_tensor_release(&g->state, s);
    avf_tensor_release(&g->frames, s);
}

/* audio rows, probs, zero state. */
static avf_status group_setup(group *g) {
    avf_vad *v = g->v;
    avf_stream *s = g->l->stream;
    avf_pool *pool = v->pool;
    int64_t ad[2] = {g->gb, g->tp};
    AVF_TRY(avf_tensor_alloc(&g->audio, pool, AVF_DTYPE_F32, 2, ad, s));
    AVF_TRY(avf_memset_async(v->dev, g->audio.data, 0, avf_tensor_nbytes(&g->audio), s));
    for (int k = 0; k < g->n; k++) {
        float *dst = (float *)g->audio.data + (int64_t)k * g->tp + CTX;
        AVF_TRY(avf_memcpy_async(v->dev, dst, g->c[k]->y16.data,
                                 (size_t)g->c[k]->n16 * sizeof(float), vad_d2d(v), s,
                                 "vad.batch"));
        avf_tensor_release(&g->c[k]->y16, s);
    }
    int64_t pd[2] = {g->steps, g->gb};
    AVF_TRY(avf_tensor_alloc(&g->probs, pool, AVF_DTYPE_F32, 2, pd, s));
    /* rows of finished clips are never written: keep them defined */
    AVF_TRY(avf_memset_async(v->dev, g->probs.data, 0, avf_tensor_nbytes(&g->probs), s));
    int64_t sd[3] = {2, g->gb, STATE};
    AVF_TRY(avf_tensor_alloc(&g->state, pool, AVF_DTYPE_F32, 3, sd, s));
    AVF_TRY(avf_memset_async(v->dev, g->state.data, 0, avf_tensor_nbytes(&g->state), s));
    g->b = g->gb;
    return AVF_OK;
}

/* Clips still running at step s: those with more than s steps (a prefix). */
static int running(const group *g, int64_t s) {
    int a = 0;
    while (a < g->n && g->c[a]->steps > s)
        a++;
    return a;
}

/* Keep the first b rows of the state (of each of its two halves). */
static avf_status shrink_state(group *g, int b) {
    avf_stream *s = g->l->stream;
    int64_t sd[3] = {2, b, STATE};
    avf_tensor ns;
    AVF_TRY(avf_tensor_alloc(&ns, g->v->pool, AVF_DTYPE_F32, 3, sd, s));
    size_t half = (size_t)b * STATE * sizeof(float);
    avf_status st = AVF_OK;
    for (int h = 0; h < 2 && st == AVF_OK; h++)
        st = avf_memcpy_async(g->v->dev, (char *)ns.data + h * half,
                              (const float *)g->state.data + (int64_t)h * g->b * STATE, half,
                              vad_d2d(g->v), s, "vad.state");
    if (st != AVF_OK) {
        avf_tensor_release(&ns, s);
        return st;
    }
    avf_tensor_release(&g->state, s);
    g->state = ns;
    g->b = b;
    return AVF_OK;
}

/* frames[j, r, :] = audio[r, (s0 + j) * 512 : (s0 + j) * 512 + 576] for
 * j < k, r < b: one launch of the copy map over overlapping windows. */
static avf_status make_frames(group *g, int64_t s0, int64_t k) {
    avf_stream *s = g->l->stream;
    int64_t fd[3] = {k, g->b, ROW};
    AVF_TRY(avf_tensor_alloc(&g->frames, g->v->pool, AVF_DTYPE_F32, 3, fd, s));
    avf_copy_map m;
    memset(&m, 0, sizeof m);
    m.ndim = 3;
    m.border = AVF_BORDER_NONE;
    m.elem_size = sizeof(float);
    int64_t shape[3] = {k, g->b, ROW}, in_dim[3] = {g->steps, g->gb, ROW},
            in_stride[3] = {W, g->tp, 1};
    for (int d = 0; d < 3; d++) {
        m.shape[d] = shape[d];
        m.in_step[d] = 1;
        m.in_dim[d] = in_dim[d];
        m.in_stride[d] = in_stride[d];
    }
    m.in_start[0] = s0;
    avf_contiguous_strides(3, shape, m.out_stride);
    return avf_op_copy_map(&g->l->ctx, &m, &g->audio, &g->frames);
}

/* One Silero step on frames row j; its probabilities go to probs row s. */
static avf_status step(group *g, int64_t j, int64_t s) {
    avf_vad *v = g->v;
    avf_stream *st = g->l->stream;
    avf_device *cpu;
    AVF_TRY(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    int64_t sr = AVF_VAD_RATE;
    int64_t xd[2] = {g->b, ROW};
    avf_tensor in[3];
    AVF_TRY(avf_tensor_init_borrowed(&in[0], (float *)g->frames.data + j * g->b * ROW,
                                     AVF_DTYPE_F32, 2, xd, v->dev));
    in[1] = g->state;
    in[1].flags = 0; /* lent to the run, still ours */
    in[1].pool = NULL;
    AVF_TRY(avf_tensor_init_borrowed(&in[2], &sr, AVF_DTYPE_I64, 0, NULL, cpu));
    static const char *const in_names[] = {"input", "state", "sr"};
    static const char *const out_names[] = {"output", "stateN"};
    avf_run_options o = {.device = v->dev, .stream = st, .pool = v->pool, .fp16 = g->fp16};
    avf_tensor out[2];
    AVF_TRY(avf_model_run(v->model, &o, 3, in_names, in, 2, out_names, out));
    avf_status r = AVF_OK;
    if (out[0].dtype != AVF_DTYPE_F32 || avf_tensor_numel(&out[0]) != g->b ||
        out[1].dtype != AVF_DTYPE_F32 || avf_tensor_numel(&out[1]) != 2 * g->b * STATE)
        r = AVF_FAIL(AVF_ERR_INTERNAL, "vad: Silero gave %lld probabilities and %lld state "
                     "values for a batch of %d",
                     (long long)avf_tensor_numel(&out[0]), (long long)avf_tensor_numel(&out[1]),
                     g->b);
    if (r == AVF_OK)
        r = avf_memcpy_async(v->dev, (float *)g->probs.data + s * g->gb, out[0].data,
                             (size_t)g->b * sizeof(float), vad_d2d(v), st, "vad.probs");
    avf_tensor_release(&out[0], st);
    if (r != AVF_OK) {
        avf_tensor_release(&out[1], st);
        return r;
    }
    avf_tensor_release(&g->state, st);
    g->state = out[1];
    return AVF_OK;
}

/* How far the host runs ahead of the device: at most two windows of
 * VAD_AHEAD_STEPS steps in flight, so a 10 s clip does not queue its ~2,600
 * commands (326 steps of copies and graph launches) before the first has run.
 * On an H200 the bound alone did not lower the calling thread's CPU: that was
 * cudaEventSynchronize busy-waiting on events made without
 * cudaEventBlockingSync (backend_cuda.c). Under blocking sync the wait on
 * the window before last sleeps and still leaves ~12 ms of work queued. */
#define VAD_AHEAD_STEPS 32

typedef struct ahead {
    avf_event *ev[2];
    int recorded[2];
    int64_t done; /* steps launched */
} ahead;

static void ahead_init(ahead *a, avf_device *dev) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 2; i++)
        if (avf_event_create(dev, 0, &a->ev[i]) != AVF_OK) {
            avf_clear_error(); /* no bound: slower host, same results */
            a->ev[i] = NULL;
        }
}

static void ahead_free(ahead *a) {
    for (int i = 0; i < 2; i++)
        avf_event_free(a->ev[i]);
}

/* After each launched step: at each window's end, wait for the end of the
 * window before the last, then mark this one. */
static avf_status ahead_step(ahead *a, avf_stream *s) {
    if (++a->done % VAD_AHEAD_STEPS || !a->ev[0] || !a->ev[1])
        return AVF_OK;
    int k = (int)((a->done / VAD_AHEAD_STEPS) & 1);
    if (a->recorded[k])
        AVF_TRY(avf_event_synchronize(a->ev[k]));
    AVF_TRY(avf_event_record(a->ev[k], s));
    a->recorded[k] = 1;
    return AVF_OK;
}

static avf_status group_steps(group *g, ahead *a);

static avf_status group_run(group *g) {
    AVF_TRY(group_setup(g));
    ahead a;
    ahead_init(&a, g->v->dev);
    avf_status st = group_steps(g, &a);
    ahead_free(&a);
    return st;
}

static avf_status group_steps(group *g, ahead *a) {
    int64_t s = 0;
    while (s < g->steps) {
        int b = vad_bucket(running(g, s));
        if (b < g->b)
            AVF_TRY(shrink_state(g, b));
        /* the block ends where the batch may shrink next, or at the frame
         * memory bound */
        int64_t end = g->steps;
        if (g->b > 1 && g->b / 2 < g->n)
            end = g->c[g->b / 2]->steps; /* from here at most b/2 run */
        int64_t kmax = (int64_t)(VAD_MAX_FRAME_BYTES / ((size_t)g->b * ROW * sizeof(float)));
        if (kmax < 1)
            kmax = 1;
        if (end - s > kmax)
            end = s + kmax;
        AVF_TRY(make_frames(g, s, end - s));
        for (int64_t j = 0; j < end - s; j++) {
            AVF_TRY(step(g, j, s + j));
            AVF_TRY(ahead_step(a, g->l->stream));
        }
        avf_tensor_release(&g->frames, g->l->stream);
        s = end;
    }
    /* the one device-to-host copy: every step's probabilities */
    size_t bytes = avf_tensor_nbytes(&g->probs);
    float *h = malloc(bytes);
    if (!h)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for %zu bytes", bytes);
    avf_status st =
        avf_staging_download(g->l->staging, h, g->probs.data, bytes, g->l->stream, "vad.probs");
    for (int k = 0; st == AVF_OK && k < g->n; k++) {
        vad_clip *c = g->c[k];
        c->probs = malloc((size_t)c->steps * sizeof(float));
        if (!c->probs) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "vad: out of memory for probabilities");
            break;
        }
        for (int64_t i = 0; i < c->steps; i++)
            c->probs[i] = h[i * g->gb + k];
    }
    free(h);
    return st;
}

avf_status vad_run_group(avf_vad *v, vad_lane *l, int fp16, vad_clip *const *c, int n) {
    if (n < 1 || n > VAD_MAX_GROUP)
        return AVF_FAIL(AVF_ERR_INTERNAL, "vad: a group of %d clips", n);
    group g;
    memset(&g, 0, sizeof g);
    g.v = v;
    g.l = l;
    g.fp16 = fp16;
    g.c = c;
    g.n = n;
    g.gb = vad_bucket(n);
    g.steps = c[0]->steps;
    g.tp = CTX + g.steps * W;
    avf_status st = group_run(&g);
    group_release(&g);
    for (int k = 0; k < n; k++)
        avf_tensor_release(&c[k]->y16, l->stream); /* if setup stopped early */
    if (st != AVF_OK)
        for (int k = 0; k < n; k++) {
            free(c[k]->probs);
            c[k]->probs = NULL;
        }
    return st;
}
