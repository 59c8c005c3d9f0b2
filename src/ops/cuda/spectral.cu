/* CUDA spectral kernels: STFT / iSTFT through cuFFT, the mel projection
 * through cuBLAS, and the log step.
 *
 * STFT: frames are built (padding, window) chunk by chunk into pool scratch
 * of R rows, R a power of two so that only a few plans exist per n_fft, then
 * one batched R2C per chunk, then a kernel writes the bins in the output's
 * [batch, freq, frame] order. iSTFT: a kernel gathers the spectrum into
 * frame-major rows, C2R per chunk into a buffer of all frames, and the
 * overlap-add gathers per output sample (deterministic, the CPU kernel's
 * order). Products that the CPU computes unfused use __fmul_rn/__fadd_rn so
 * nvcc cannot contract them into FMAs.
 *
 * Plan cache: cuFFT plans cost milliseconds to make, so they are kept in a
 * small table keyed by (device, direction, n_fft, rows), guarded by a
 * mutex. A plan is checked out by one call at a time (cuFFT plans must not
 * be used by two threads at once), bound to the caller's stream and given a
 * work area from the caller's pool (auto-allocation is off) for that call.
 * When the table is full the least recently used idle plan is destroyed
 * (cufftDestroy frees its twiddles with cudaFree, which waits for work in
 * flight); when every slot is checked out, the call uses a private plan
 * and synchronizes its stream before destroying it (only under extreme
 * concurrency).
 */
#include <cufft.h>
#include <float.h>
#include <limits.h>
#include <pthread.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/libs.h"
#include "ops/cuda/spectral_cuda.h"

namespace {

constexpr int kThreads = 256;
constexpr int kSlots = 32;
constexpr int64_t kChunkElems = int64_t(1) << 24; /* reals per FFT execution */

unsigned grid_for(int64_t n) {
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b < 1)
        b = 1;
    return (unsigned)(b > (1 << 20) ? (1 << 20) : b); /* loops stride the rest */
}

cudaStream_t stream_of(const avf_op_ctx *ctx) {
    return (cudaStream_t)avf_stream_native(ctx->stream);
}

avf_status cufft_status(cufftResult r, const char *call, int line) {
    return avf_error_set(AVF_ERR_DEVICE, __FILE__, line, "%s failed: cuFFT error %d", call, (int)r);
}

#define AVF_CUFFT_TRY(call)                                  \
    do {                                                     \
        cufftResult avf_ff_r_ = (call);                      \
        if (avf_ff_r_ != CUFFT_SUCCESS)                      \
            return cufft_status(avf_ff_r_, #call, __LINE__); \
    } while (0)

/* ---- plan cache ---- */

struct plan_slot {
    int used, busy, dev, inverse, n, rows;
    cufftHandle h;
    size_t ws;
    uint64_t stamp;
};

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
plan_slot g_slots[kSlots];
uint64_t g_clock;

struct plan_ref {
    cufftHandle h;
    size_t ws;
    int slot; /* -1: private, destroy after use */
};

avf_status make_plan(int inverse, int n, int rows, cufftHandle *h, size_t *ws) {
    AVF_CUFFT_TRY(cufftCreate(h));
    int nn = n, nf = n / 2 + 1;
    cufftResult r = cufftSetAutoAllocation(*h, 0);
    if (r == CUFFT_SUCCESS)
        r = cufftMakePlanMany(*h, 1, &nn, NULL, 1, inverse ? nf : n, NULL, 1, inverse ? n : nf,
                              inverse ? CUFFT_C2R : CUFFT_R2C, rows, ws);
    if (r != CUFFT_SUCCESS) {
        cufftDestroy(*h);
        return cufft_status(r, inverse ? "cufftMakePlanMany(C2R)" : "cufftMakePlanMany(R2C)",
                            __LINE__);
    }
    return AVF_OK;
}

avf_status plan_acquire(int inverse, int n, int rows, plan_ref *out) {
    int dev = 0;
    AVF_CUDA_TRY(cudaGetDevice(&dev));
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < kSlots; i++) {
        plan_slot *s = &g_slots[i];
        if (s->used && !s->busy && s->dev == dev && s->inverse == inverse && s->n == n &&
            s->rows == rows) {
            s->busy = 1;
            *out = {s->h, s->ws, i};
            pthread_mutex_unlock(&g_mu);
            return AVF_OK;
        }
    }
    pthread_mutex_unlock(&g_mu);
    cufftHandle h;
    size_t ws = 0;
    AVF_TRY(make_plan(inverse, n, rows, &h, &ws));
    pthread_mutex_lock(&g_mu);
    int pick = -1, evict = 0;
    cufftHandle old = 0;
    for (int i = 0; i < kSlots && pick < 0; i++)
        if (!g_slots[i].used)
            pick = i;
    if (pick < 0) /* none free: the least recently used idle one */
        for (int i = 0; i < kSlots; i++)
            if (!g_slots[i].busy && (pick < 0 || g_slots[i].stamp < g_slots[pick].stamp))
                pick = i;
    if (pick >= 0) {
        evict = g_slots[pick].used;
        old = g_slots[pick].h;
        g_slots[pick] = {1, 1, dev, inverse, n, rows, h, ws, ++g_clock};
    }
    pthread_mutex_unlock(&g_mu);
    if (evict) /* outside the lock: it may wait for work in flight */
        cufftDestroy(old);
    *out = {h, ws, pick};
    return AVF_OK;
}

void plan_release(const plan_ref *p, cudaStream_t s) {
    if (p->slot < 0) {
        cudaStreamSynchronize(s); /* see the header comment: rare */
        cufftDestroy(p->h);
        return;
    }
    pthread_mutex_lock(&g_mu);
    g_slots[p->slot].busy = 0;
    g_slots[p->slot].stamp = ++g_clock;
    pthread_mutex_unlock(&g_mu);
}

/* Rows per FFT execution: the next power of two >= total, capped so one
 * chunk holds at most kChunkElems reals. */
int64_t chunk_rows(int64_t n, int64_t total) {
    int64_t r = 1;
    while (r < total && 2 * r * n <= kChunkElems)
        r *= 2;
    return r;
}

size_t round256(size_t b) { return (b + 255) & ~(size_t)255; }

/* ---- kernels ---- */

__global__ void window_kernel(float *w, int64_t n, int64_t win) {
    for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n;
         j += (int64_t)gridDim.x * blockDim.x)
        w[j] = (float)avf_spec_window(n, win, j);
}

/* frames[rr, j] = x_pad[b, t*hop + j] * w[j] for rows r0 + rr (zero past total). */
__global__ void frame_kernel(const float *__restrict__ x, avf_stft_geom g,
                             const float *__restrict__ w, int64_t r0, int64_t rows, int64_t total,
                             float *__restrict__ frames) {
    const int64_t count = rows * g.n_fft;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t rr = e / g.n_fft, j = e % g.n_fft, r = r0 + rr;
        float v = 0.0f;
        if (r < total) {
            int64_t b = r / g.n_frames, t = r % g.n_frames;
            int64_t i = avf_spec_src(t * g.hop + j, g.pad, g.len, g.reflect);
            if (i >= 0)
                v = __fmul_rn(x[b * g.len + i], w[j]);
        }
        frames[e] = v;
    }
}

/* Bins of `rows` frames (from row r0) to y in [batch, freq, frame(, 2)]. */
__global__ void bins_kernel(const cufftComplex *__restrict__ c, avf_stft_geom g, int kind,
                            int64_t r0, int64_t rows, float *__restrict__ y) {
    const int64_t count = rows * g.n_freq;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (int64_t)gridDim.x * blockDim.x) {
        /* frame fastest, so consecutive threads write consecutive frames */
        int64_t f = e / rows, rr = e % rows, r = r0 + rr;
        int64_t b = r / g.n_frames, t = r % g.n_frames;
        cufftComplex v = c[rr * g.n_freq + f];
        int64_t o = (b * g.n_freq + f) * g.n_frames + t;
        if (kind == AVF_STFT_COMPLEX) {
            y[2 * o] = v.x;
            y[2 * o + 1] = v.y;
        } else {
            float p = __fadd_rn(__fmul_rn(v.x, v.x), __fmul_rn(v.y, v.y));
            y[o] = kind == AVF_STFT_POWER ? p : sqrtf(p);
        }
    }
}

/* Spectrum [batch, freq, frame, 2] -> frame-major rows of bins (zero past
 * total; imaginary DC/Nyquist dropped as a real inverse FFT does). */
__global__ void gather_kernel(const float *__restrict__ spec, avf_stft_geom g, int64_t r0,
                              int64_t rows, int64_t total, cufftComplex *__restrict__ c) {
    const int64_t count = rows * g.n_freq;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t rr = e / g.n_freq, f = e % g.n_freq, r = r0 + rr;
        cufftComplex v = {0.0f, 0.0f};
        if (r < total) {
            int64_t b = r / g.n_frames, t = r % g.n_frames;
            int64_t o = (b * g.n_freq + f) * g.n_frames + t;
            int real_only = f == 0 || (g.n_fft % 2 == 0 && f == g.n_freq - 1);
            v.x = spec[2 * o];
            v.y = real_only ? 0.0f : spec[2 * o + 1];
        }
        c[e] = v;
    }
}

/* Windowed overlap-add and sum-square normalization, one output sample per
 * thread, frames in increasing order (as the CPU kernel). */
__global__ void ola_kernel(const float *__restrict__ frames, const float *__restrict__ w,
                           avf_stft_geom g, float *__restrict__ y) {
    const int64_t count = g.batch * g.len, n = g.n_fft, nt = g.n_frames;
    const int64_t full = n + g.hop * (nt - 1);
    const float inv_n = 1.0f / (float)n;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = e / g.len, q = e % g.len + g.pad;
        if (q >= full) {
            y[e] = 0.0f;
            continue;
        }
        int64_t t_lo = q >= n ? (q - n) / g.hop + 1 : 0;
        int64_t t_hi = q / g.hop < nt - 1 ? q / g.hop : nt - 1;
        float acc = 0.0f, wss = 0.0f;
        for (int64_t t = t_lo; t <= t_hi; t++) {
            int64_t j = q - t * g.hop;
            float wj = w[j];
            acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(frames[(b * nt + t) * n + j], inv_n), wj));
            wss = __fadd_rn(wss, __fmul_rn(wj, wj));
        }
        y[e] = wss > FLT_MIN ? __fdiv_rn(acc, wss) : acc;
    }
}

/* Per-clip max of non-negative values: float bits order like ints there. */
__global__ void clip_max_kernel(const float *__restrict__ y, int64_t per, int64_t blocks_per_clip,
                                int *__restrict__ out) {
    __shared__ float sh[kThreads];
    int64_t b = blockIdx.x / blocks_per_clip, k = blockIdx.x % blocks_per_clip;
    const float *yb = y + b * per;
    float m = 0.0f;
    for (int64_t i = k * blockDim.x + threadIdx.x; i < per; i += blocks_per_clip * blockDim.x)
        m = fmaxf(m, yb[i]);
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        atomicMax(out + b, __float_as_int(sh[0]));
}

__global__ void log_kernel(float *__restrict__ y, int64_t count, int64_t per, int mode,
                           const int *__restrict__ clip_max, float amin, float ref_db,
                           float top_db, float eps) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (int64_t)gridDim.x * blockDim.x) {
        float lo = -INFINITY;
        if (clip_max)
            lo = avf_spec_log_floor(mode, __int_as_float(clip_max[e / per]), amin, ref_db, top_db);
        y[e] = avf_spec_log_value(mode, y[e], amin, ref_db, eps, lo);
    }
}

avf_status check_launch() {
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

avf_status fft_dims(const avf_stft_geom *g, int64_t *total, int64_t *rows) {
    if (g->batch > INT64_MAX / (g->n_frames > 0 ? g->n_frames : 1))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT (CUDA): batch x frames overflows");
    *total = g->batch * g->n_frames;
    *rows = chunk_rows(g->n_fft, *total);
    return AVF_OK;
}

/* Check out the plan, give it the stream and a work area from the pool. */
avf_status plan_bind(avf_op_ctx *ctx, int inverse, int64_t n, int64_t rows, plan_ref *pr,
                     void **work) {
    *work = NULL;
    AVF_TRY(plan_acquire(inverse, (int)n, (int)rows, pr));
    avf_status s = AVF_OK;
    cufftResult r = cufftSetStream(pr->h, stream_of(ctx));
    if (r != CUFFT_SUCCESS)
        s = cufft_status(r, "cufftSetStream", __LINE__);
    if (s == AVF_OK && pr->ws > 0)
        s = avf_pool_alloc(ctx->pool, pr->ws, ctx->stream, work);
    if (s == AVF_OK) {
        r = cufftSetWorkArea(pr->h, *work);
        if (r != CUFFT_SUCCESS)
            s = cufft_status(r, "cufftSetWorkArea", __LINE__);
    }
    if (s != AVF_OK) {
        if (*work)
            avf_pool_free(ctx->pool, *work, ctx->stream);
        *work = NULL;
        plan_release(pr, stream_of(ctx));
    }
    return s;
}

avf_status plan_unbind(avf_op_ctx *ctx, const plan_ref *pr, void *work) {
    avf_status s = work ? avf_pool_free(ctx->pool, work, ctx->stream) : AVF_OK;
    plan_release(pr, stream_of(ctx));
    return s;
}

avf_status stft_run(avf_op_ctx *ctx, const avf_stft_geom *g, int kind, const float *x, float *y,
                    char *scratch, int64_t total, int64_t rows, plan_ref *pr) {
    cudaStream_t st = stream_of(ctx);
    float *w = (float *)scratch;
    float *frames = (float *)(scratch + round256((size_t)g->n_fft * sizeof(float)));
    cufftComplex *c = (cufftComplex *)((char *)frames +
                                       round256((size_t)(rows * g->n_fft) * sizeof(float)));
    window_kernel<<<grid_for(g->n_fft), kThreads, 0, st>>>(w, g->n_fft, g->win_length);
    AVF_TRY(check_launch());
    for (int64_t r0 = 0; r0 < total; r0 += rows) {
        int64_t nr = total - r0 < rows ? total - r0 : rows;
        frame_kernel<<<grid_for(rows * g->n_fft), kThreads, 0, st>>>(x, *g, w, r0, rows, total,
                                                                      frames);
        AVF_TRY(check_launch());
        AVF_CUFFT_TRY(cufftExecR2C(pr->h, frames, c));
        bins_kernel<<<grid_for(nr * g->n_freq), kThreads, 0, st>>>(c, *g, kind, r0, nr, y);
        AVF_TRY(check_launch());
    }
    return AVF_OK;
}

avf_status istft_run(avf_op_ctx *ctx, const avf_stft_geom *g, const float *spec, float *y,
                     char *scratch, int64_t total, int64_t rows, plan_ref *pr) {
    cudaStream_t st = stream_of(ctx);
    float *w = (float *)scratch;
    cufftComplex *c = (cufftComplex *)(scratch + round256((size_t)g->n_fft * sizeof(float)));
    float *frames =
        (float *)((char *)c + round256((size_t)(rows * g->n_freq) * sizeof(cufftComplex)));
    window_kernel<<<grid_for(g->n_fft), kThreads, 0, st>>>(w, g->n_fft, g->win_length);
    AVF_TRY(check_launch());
    for (int64_t r0 = 0; r0 < total; r0 += rows) {
        gather_kernel<<<grid_for(rows * g->n_freq), kThreads, 0, st>>>(spec, *g, r0, rows, total,
                                                                       c);
        AVF_TRY(check_launch());
        AVF_CUFFT_TRY(cufftExecC2R(pr->h, c, frames + r0 * g->n_fft));
    }
    ola_kernel<<<grid_for(g->batch * g->len), kThreads, 0, st>>>(frames, w, *g, y);
    return check_launch();
}

} // namespace

extern "C" avf_status avf_cuda_stft(avf_op_ctx *ctx, const avf_stft_geom *g, avf_stft_output kind,
                                    const float *x, float *y) {
    int64_t total, rows;
    AVF_TRY(fft_dims(g, &total, &rows));
    size_t bytes = round256((size_t)g->n_fft * sizeof(float)) +
                   round256((size_t)(rows * g->n_fft) * sizeof(float)) +
                   round256((size_t)(rows * g->n_freq) * sizeof(cufftComplex));
    void *scratch = NULL, *work = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &scratch));
    plan_ref pr;
    avf_status s = plan_bind(ctx, 0, g->n_fft, rows, &pr, &work);
    if (s == AVF_OK) {
        s = stft_run(ctx, g, (int)kind, x, y, (char *)scratch, total, rows, &pr);
        avf_status us = plan_unbind(ctx, &pr, work);
        if (s == AVF_OK)
            s = us;
    }
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}

extern "C" avf_status avf_cuda_istft(avf_op_ctx *ctx, const avf_stft_geom *g, const float *spec,
                                     float *y) {
    int64_t total, rows;
    AVF_TRY(fft_dims(g, &total, &rows));
    int64_t padded = (total + rows - 1) / rows * rows;
    size_t bytes = round256((size_t)g->n_fft * sizeof(float)) +
                   round256((size_t)(rows * g->n_freq) * sizeof(cufftComplex)) +
                   round256((size_t)(padded * g->n_fft) * sizeof(float));
    void *scratch = NULL, *work = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &scratch));
    plan_ref pr;
    avf_status s = plan_bind(ctx, 1, g->n_fft, rows, &pr, &work);
    if (s == AVF_OK) {
        s = istft_run(ctx, g, spec, y, (char *)scratch, total, rows, &pr);
        avf_status us = plan_unbind(ctx, &pr, work);
        if (s == AVF_OK)
            s = us;
    }
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}

extern "C" avf_status avf_cuda_mel_project(avf_op_ctx *ctx, const avf_mel_geom *g, const float *fb,
                                           const float *power, float *y) {
    if (g->n_mels > INT_MAX || g->n_out > INT_MAX || g->n_freq > INT_MAX ||
        g->n_frames > INT_MAX || g->batch > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "log-mel (CUDA): dims exceed cuBLAS's int range");
    cublasHandle_t h;
    AVF_TRY(avf_cuda_cublas(ctx, &h));
    /* Row-major Y_b = FB x P_b is column-major Y_b^T = P_b^T FB^T: P_b read
     * column-major is P_b^T with ld n_frames; its first n_out rows used. */
    const float one = 1.0f, zero = 0.0f;
    AVF_CUBLAS_TRY(cublasSgemmStridedBatched(
        h, CUBLAS_OP_N, CUBLAS_OP_N, (int)g->n_out, (int)g->n_mels, (int)g->n_freq, &one, power,
        (int)g->n_frames, (long long)(g->n_freq * g->n_frames), fb, (int)g->n_freq, 0LL, &zero, y,
        (int)g->n_out, (long long)(g->n_mels * g->n_out), (int)g->batch));
    return AVF_OK;
}

extern "C" avf_status avf_cuda_mel_log(avf_op_ctx *ctx, const avf_logmel_params *p,
                                       const avf_mel_geom *g, float *y) {
    if (p->mode == AVF_LOGMEL_NONE)
        return AVF_OK;
    cudaStream_t st = stream_of(ctx);
    const int mode = (int)p->mode;
    const float ref_db = 10.0f * log10f(fmaxf(p->amin, fabsf(p->ref)));
    const int64_t per = g->n_mels * g->n_out, count = g->batch * per;
    int need_max = (p->mode == AVF_LOGMEL_DB && p->top_db > 0.0f) || p->mode == AVF_LOGMEL_WHISPER;
    void *mx = NULL;
    if (need_max) {
        int64_t bpc = (per + kThreads * 8 - 1) / (kThreads * 8);
        if (bpc > 1024)
            bpc = 1024;
        if (g->batch > INT_MAX / bpc)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "log-mel (CUDA): batch %lld too large",
                            (long long)g->batch);
        AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)g->batch * sizeof(int), ctx->stream, &mx));
        avf_status s = avf_memset_async(ctx->dev, mx, 0, (size_t)g->batch * sizeof(int),
                                        ctx->stream);
        if (s == AVF_OK) {
            clip_max_kernel<<<(unsigned)(g->batch * bpc), kThreads, 0, st>>>(y, per, bpc,
                                                                             (int *)mx);
            s = check_launch();
        }
        if (s != AVF_OK) {
            avf_pool_free(ctx->pool, mx, ctx->stream);
            return s;
        }
    }
    log_kernel<<<grid_for(count), kThreads, 0, st>>>(y, count, per, mode, (const int *)mx, p->amin,
                                                     ref_db, p->top_db, p->eps);
    avf_status s = check_launch();
    avf_status fs = mx ? avf_pool_free(ctx->pool, mx, ctx->stream) : AVF_OK;
    return s != AVF_OK ? s : fs;
}

extern "C" void avf_cuda_spectral_release(void) {
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < kSlots; i++)
        if (g_slots[i].used && !g_slots[i].busy) {
            cufftDestroy(g_slots[i].h);
            g_slots[i].used = 0;
        }
    pthread_mutex_unlock(&g_mu);
}
