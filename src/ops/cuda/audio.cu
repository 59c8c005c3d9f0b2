/* CUDA kernels of the audio family (ops/audio.h): mixdown, polyphase
 * resampling, peak/RMS normalization and BS.1770 loudness.
 *
 * Kept simple: grid-stride loops with 64-bit indices. Resampling is one
 * thread per output sample (a dot product of `taps` weights of its phase
 * with the input; f32 accumulation with FMA, which the parity tests allow
 * for). Normalization reduces per clip in two steps (partials per block,
 * then one block per clip) into pool scratch, then scales. Loudness: the
 * K-weighting IIR is sequential, so each thread filters one chunk of 16
 * segments of one (clip, channel), starting from zero state a warm-up of
 * rate/4 samples early (60 time constants of the 38 Hz high-pass' double
 * pole: the state it reaches equals the true state to double rounding);
 * segment energies go to scratch, and one block per clip gates them and
 * writes LUFS, all on the device.
 */
#include <math.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/audio_cuda.h"

namespace {

constexpr int kThreads = 256;
constexpr int64_t kLoudChunkSegs = 16;

unsigned grid_for(int64_t n) {
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b < 1)
        b = 1;
    return (unsigned)(b > (1 << 20) ? (1 << 20) : b); /* loops stride the rest */
}

cudaStream_t stream_of(const avf_op_ctx *ctx) {
    return (cudaStream_t)avf_stream_native(ctx->stream);
}

struct weights_f {
    float w[AVF_AUDIO_OP_MAX_CHANNELS];
};
struct weights_d {
    double w[AVF_AUDIO_OP_MAX_CHANNELS];
};

__global__ void mixdown_kernel(weights_f w, int64_t B, int64_t C, int64_t T, const float *x,
                               float *y) {
    int64_t n = B * T;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = i / T, t = i % T;
        double acc = 0.0;
        for (int64_t c = 0; c < C; c++)
            acc += (double)w.w[c] * (double)x[(b * C + c) * T + t];
        y[i] = (float)acc;
    }
}

__global__ void resample_kernel(int64_t L, int64_t M, int64_t taps, const float *bank,
                                int64_t rows, int64_t T, int64_t T_out, const float *x,
                                float *y) {
    int64_t n_all = rows * T_out;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n_all;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / T_out, n = i % T_out;
        int64_t u = n * M, i0 = u / L, ph = u % L;
        int64_t j0 = i0 - taps / 2 + 1;
        const float *h = bank + ph * taps;
        const float *xr = x + r * T;
        int64_t k0 = j0 < 0 ? -j0 : 0, k1 = taps;
        if (j0 + k1 > T)
            k1 = T - j0;
        float acc = 0.0f;
        for (int64_t k = k0; k < k1; k++)
            acc = fmaf(h[k], xr[j0 + k], acc);
        y[i] = acc;
    }
}

/* ---- normalization ---- */

/* grid (nblk, B): partial peak and sum of squares of a slice of clip b. */
__global__ void level_partial_kernel(int64_t n, const float *x, double *part_sq,
                                     float *part_max) {
    __shared__ double s_sq[kThreads];
    __shared__ float s_mx[kThreads];
    int64_t b = blockIdx.y;
    const float *xb = x + b * n;
    double sq = 0.0;
    float mx = 0.0f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float v = xb[i];
        sq += (double)v * (double)v;
        mx = fmaxf(mx, fabsf(v));
    }
    s_sq[threadIdx.x] = sq;
    s_mx[threadIdx.x] = mx;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            s_sq[threadIdx.x] += s_sq[threadIdx.x + s];
            s_mx[threadIdx.x] = fmaxf(s_mx[threadIdx.x], s_mx[threadIdx.x + s]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        part_sq[b * gridDim.x + blockIdx.x] = s_sq[0];
        part_max[b * gridDim.x + blockIdx.x] = s_mx[0];
    }
}

/* One thread per clip: the gain from the partials. */
__global__ void level_gain_kernel(int64_t B, int nblk, int64_t n, int rms, double target,
                                  const double *part_sq, const float *part_max, float *gain) {
    int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (b >= B)
        return;
    double level = 0.0;
    for (int i = 0; i < nblk; i++) {
        if (rms)
            level += part_sq[b * nblk + i];
        else
            level = fmax(level, (double)part_max[b * nblk + i]);
    }
    if (rms)
        level = sqrt(level / (double)n);
    gain[b] = level > 0.0 ? (float)(target / level) : 1.0f;
}

__global__ void scale_kernel(int64_t B, int64_t n, const float *gain, const float *x, float *y) {
    int64_t all = B * n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = x[i] * gain[i / n];
}

/* ---- loudness ---- */

__global__ void fill_kernel(int64_t n, float v, float *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = v;
}

struct kcoef {
    double b0[3], a0[3], b1[3], a1[3];
};

/* Thread per (row = clip*C + channel, chunk of kLoudChunkSegs segments):
 * sums of squares of the K-weighted signal per segment into seg[row][s]. */
__global__ void kweight_kernel(kcoef k, int64_t rows, int64_t T, int64_t seglen, int64_t nseg,
                               int64_t nchunk, int64_t warm, const float *x, double *seg) {
    int64_t all = rows * nchunk;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / nchunk, q = i % nchunk;
        int64_t s_begin = q * kLoudChunkSegs, s_end = s_begin + kLoudChunkSegs;
        if (s_end > nseg)
            s_end = nseg;
        const float *xr = x + row * T;
        int64_t start = s_begin * seglen, t = start > warm ? start - warm : 0;
        double s0a = 0, s0b = 0, s1a = 0, s1b = 0, acc = 0;
        int64_t s = s_begin, seg_end = start + seglen;
        for (; t < s_end * seglen; t++) {
            double v = xr[t];
            double o = k.b0[0] * v + s0a;
            s0a = k.b0[1] * v - k.a0[1] * o + s0b;
            s0b = k.b0[2] * v - k.a0[2] * o;
            double z = k.b1[0] * o + s1a;
            s1a = k.b1[1] * o - k.a1[1] * z + s1b;
            s1b = k.b1[2] * o - k.a1[2] * z;
            if (t >= start) {
                acc += z * z;
                if (t + 1 == seg_end) {
                    seg[row * nseg + s] = acc;
                    acc = 0;
                    s++;
                    seg_end += seglen;
                }
            }
        }
    }
}

__device__ double block_energy(const double *seg_b, int64_t C, int64_t nseg, const weights_d &w,
                               int64_t j, double norm) {
    double e = 0.0;
    for (int64_t c = 0; c < C; c++) {
        if (w.w[c] == 0.0)
            continue;
        const double *sc = seg_b + c * nseg + j;
        e += w.w[c] * (sc[0] + sc[1] + sc[2] + sc[3]);
    }
    return e * norm;
}

/* One block per clip: absolute then relative gate over the 400 ms blocks. */
__global__ void gate_kernel(weights_d w, int64_t C, int64_t nseg, int64_t nblk, double norm,
                            const double *seg, float *y) {
    __shared__ double s_sum[kThreads];
    __shared__ long long s_cnt[kThreads];
    __shared__ double s_gate;
    const double *seg_b = seg + (int64_t)blockIdx.x * C * nseg;
    const double abs_gate = pow(10.0, (-70.0 + 0.691) / 10.0);
    double gate = abs_gate;
    for (int pass = 0; pass < 2; pass++) {
        double sum = 0.0;
        long long cnt = 0;
        for (int64_t j = threadIdx.x; j < nblk; j += blockDim.x) {
            double e = block_energy(seg_b, C, nseg, w, j, norm);
            if (e > abs_gate && e > gate) {
                sum += e;
                cnt++;
            }
        }
        s_sum[threadIdx.x] = sum;
        s_cnt[threadIdx.x] = cnt;
        __syncthreads();
        for (int s = kThreads / 2; s > 0; s >>= 1) {
            if ((int)threadIdx.x < s) {
                s_sum[threadIdx.x] += s_sum[threadIdx.x + s];
                s_cnt[threadIdx.x] += s_cnt[threadIdx.x + s];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            if (pass == 0)
                s_gate = s_cnt[0] > 0 ? 0.1 * s_sum[0] / (double)s_cnt[0] : -1.0;
            else
                y[blockIdx.x] = s_cnt[0] > 0 ? (float)(-0.691 + 10.0 * log10(s_sum[0] / (double)s_cnt[0]))
                                             : -INFINITY;
        }
        __syncthreads();
        gate = s_gate;
        if (gate < 0.0) { /* nothing above the absolute gate */
            if (threadIdx.x == 0)
                y[blockIdx.x] = -INFINITY;
            return;
        }
    }
}

} // namespace

extern "C" avf_status avf_cuda_mixdown(avf_op_ctx *ctx, const float *w, int64_t B, int64_t C,
                                       int64_t T, const float *x, float *y) {
    weights_f wf;
    for (int64_t c = 0; c < C; c++)
        wf.w[c] = w[c];
    mixdown_kernel<<<grid_for(B * T), kThreads, 0, stream_of(ctx)>>>(wf, B, C, T, x, y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

extern "C" avf_status avf_cuda_resample(avf_op_ctx *ctx, const avf_resample_filter *f,
                                        const float *bank, int64_t rows, int64_t T,
                                        int64_t T_out, const float *x, float *y) {
    resample_kernel<<<grid_for(rows * T_out), kThreads, 0, stream_of(ctx)>>>(
        f->L, f->M, f->taps, bank, rows, T, T_out, x, y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

extern "C" avf_status avf_cuda_normalize(avf_op_ctx *ctx, const avf_normalize_params *p,
                                         int64_t B, int64_t n, const float *x, float *y) {
    if (B > 65535)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "normalize: %lld clips in one batch (max 65535)",
                        (long long)B);
    int64_t want = (n + kThreads * 16 - 1) / (kThreads * 16);
    int nblk = (int)(want < 1 ? 1 : want > 256 ? 256 : want);
    size_t bytes = (size_t)B * nblk * (sizeof(double) + sizeof(float)) + (size_t)B * sizeof(float);
    void *scratch = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &scratch));
    double *part_sq = (double *)scratch;
    float *part_max = (float *)(part_sq + B * nblk);
    float *gain = part_max + B * nblk;
    cudaStream_t st = stream_of(ctx);
    avf_status s = AVF_OK;
    level_partial_kernel<<<dim3((unsigned)nblk, (unsigned)B), kThreads, 0, st>>>(n, x, part_sq,
                                                                              part_max);
    s = AVF_CUDA_CHECK(cudaGetLastError());
    if (s == AVF_OK) {
        level_gain_kernel<<<grid_for(B), kThreads, 0, st>>>(
            B, nblk, n, p->kind == AVF_NORMALIZE_RMS, pow(10.0, p->target_db / 20.0), part_sq,
            part_max, gain);
        s = AVF_CUDA_CHECK(cudaGetLastError());
    }
    if (s == AVF_OK) {
        scale_kernel<<<grid_for(B * n), kThreads, 0, st>>>(B, n, gain, x, y);
        s = AVF_CUDA_CHECK(cudaGetLastError());
    }
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}

extern "C" avf_status avf_cuda_loudness(avf_op_ctx *ctx, int rate, const double *w, int64_t B,
                                        int64_t C, int64_t T, const float *x, float *y) {
    int64_t seglen = avf_loudness_segment(rate), nseg = T / seglen;
    int64_t nblk = avf_loudness_blocks(rate, T);
    cudaStream_t st = stream_of(ctx);
    if (nblk == 0) { /* every clip is shorter than one block: -inf */
        fill_kernel<<<grid_for(B), kThreads, 0, st>>>(B, -INFINITY, y);
        AVF_CUDA_TRY(cudaGetLastError());
        return AVF_OK;
    }
    if (B > 2147483647)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "loudness: %lld clips in one batch", (long long)B);
    void *scratch = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)(B * C * nseg) * sizeof(double), ctx->stream,
                           &scratch));
    double *seg = (double *)scratch;
    avf_kweight k;
    avf_kweight_design(rate, &k);
    kcoef kc;
    for (int i = 0; i < 3; i++) {
        kc.b0[i] = k.b[0][i];
        kc.a0[i] = k.a[0][i];
        kc.b1[i] = k.b[1][i];
        kc.a1[i] = k.a[1][i];
    }
    weights_d wd;
    for (int64_t c = 0; c < C; c++)
        wd.w[c] = w[c];
    int64_t nchunk = (nseg + kLoudChunkSegs - 1) / kLoudChunkSegs;
    int64_t warm = ((int64_t)rate + 3) / 4;
    avf_status s = AVF_OK;
    kweight_kernel<<<grid_for(B * C * nchunk), kThreads, 0, st>>>(kc, B * C, T, seglen, nseg,
                                                                  nchunk, warm, x, seg);
    s = AVF_CUDA_CHECK(cudaGetLastError());
    if (s == AVF_OK) {
        gate_kernel<<<(unsigned)B, kThreads, 0, st>>>(wd, C, nseg, nblk, 1.0 / (4.0 * (double)seglen),
                                                      seg, y);
        s = AVF_CUDA_CHECK(cudaGetLastError());
    }
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}
