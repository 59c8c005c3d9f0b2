/* CUDA kernels of the elementwise family: broadcasting binary ops and Where.
 *
 * Two kernels per (op, dtypes), the op a template parameter:
 *   flat     the broadcast collapsed to one dim (same shapes, or a scalar
 *            operand): no index math, 16-byte vector loads/stores, a scalar
 *            operand loaded once per vector;
 *   general  up to 8 dims of per-input strides (0 where broadcast), with
 *            32-bit index math when the output has < 2^32 elements.
 * The host side (ops/elementwise.c) has already merged dims, so the general
 * kernel usually sees 2 or 3. Every numeric dtype the CPU takes runs here
 * too (f64 in double; Pow with integer bases as the CPU computes it). */
#include <type_traits>

#include "ops/cuda/elementwise_common.cuh"

using namespace avf_ew;

namespace {

/* Per-input strides for the general kernel (passed by value: 264 bytes). */
struct bargs {
    int nd;
    int64_t dims[AVF_MAX_DIMS];
    int64_t st[AVF_EW_MAX_IN][AVF_MAX_DIMS];
};

template <int OP> constexpr bool is_compare() {
    return OP >= AVF_BINARY_EQUAL && OP <= AVF_BINARY_GREATER_EQUAL;
}

/* Integer power with wrap-around, as the CPU's int_pow: a negative
 * exponent leaves only |base| == 1 with an integer result. */
__device__ __forceinline__ long long ipow(long long base, long long e) {
    if (e < 0)
        return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    unsigned long long r = 1, x = (unsigned long long)base;
    while (e) {
        if (e & 1)
            r *= x;
        x *= x;
        e >>= 1;
    }
    return (long long)r;
}

/* pow() in double for an integer base, whose result is then truncated to an
 * integer: CUDA's pow is within 2 ulp, not correctly rounded like glibc's,
 * so pow(-3, 1) can come out as -2.9999999999999996 and truncate to -2.
 * A result within 4 ulp of an integer is that integer. */
__device__ __forceinline__ double pow_snapped(double x, double e) {
    double r = pow(x, e), n = rint(r);
    return fabs(r - n) <= 4.0 * fabs(r) * 2.220446049250313e-16 ? n : r;
}

template <typename T> __device__ __forceinline__ double as_double(T v) {
    if constexpr (traits<T>::is_float)
        return (double)traits<T>::ld(v);
    else
        return (double)v;
}

template <int OP, typename TA, typename TB, typename TO>
__device__ __forceinline__ TO bin_apply(TA xa, TB yb) {
    using tr = traits<TA>;
    using C = typename tr::C;
    if constexpr (OP == AVF_BINARY_POW && !tr::is_float) {
        /* integer base: integer power when both are integers, else pow() in
         * double, converted like the CPU does (truncate, saturate, wrap) */
        if constexpr (!traits<TB>::is_float)
            return (TO)ipow((long long)xa, (long long)yb);
        else
            return (TO)f2i(pow_snapped((double)xa, as_double(yb)));
    } else if constexpr (OP == AVF_BINARY_POW && std::is_same<TA, double>::value) {
        return pow(xa, as_double(yb));
    } else if constexpr (OP == AVF_BINARY_POW) {
        float e;
        if constexpr (traits<TB>::is_float)
            e = traits<TB>::ld(yb);
        else
            e = (float)yb;
        return tr::st(powf(tr::ld(xa), e));
    } else {
        C x = tr::ld(xa), y = traits<TB>::ld(yb);
        if constexpr (OP == AVF_BINARY_EQUAL)
            return ewbool{(unsigned char)(x == y)};
        else if constexpr (OP == AVF_BINARY_LESS)
            return ewbool{(unsigned char)(x < y)};
        else if constexpr (OP == AVF_BINARY_LESS_EQUAL)
            return ewbool{(unsigned char)(x <= y)};
        else if constexpr (OP == AVF_BINARY_GREATER)
            return ewbool{(unsigned char)(x > y)};
        else if constexpr (OP == AVF_BINARY_GREATER_EQUAL)
            return ewbool{(unsigned char)(x >= y)};
        else if constexpr (OP == AVF_BINARY_AND)
            return ewbool{(unsigned char)(x && y)};
        else if constexpr (OP == AVF_BINARY_OR)
            return ewbool{(unsigned char)(x || y)};
        else if constexpr (OP == AVF_BINARY_MAX) /* NaN propagates */
            return tr::st((x > y || x != x) ? x : y);
        else if constexpr (OP == AVF_BINARY_MIN)
            return tr::st((x < y || x != x) ? x : y);
        else if constexpr (tr::is_float) {
            if constexpr (OP == AVF_BINARY_ADD)
                return tr::st(x + y);
            else if constexpr (OP == AVF_BINARY_SUB)
                return tr::st(x - y);
            else if constexpr (OP == AVF_BINARY_MUL)
                return tr::st(x * y);
            else {
                static_assert(OP == AVF_BINARY_DIV, "float binary op");
                return tr::st(x / y);
            }
        } else { /* integers wrap; x/0 is 0 and MIN/-1 wraps (no trap) */
            using U = typename std::make_unsigned<C>::type;
            if constexpr (OP == AVF_BINARY_ADD)
                return (TO)(C)((U)x + (U)y);
            else if constexpr (OP == AVF_BINARY_SUB)
                return (TO)(C)((U)x - (U)y);
            else if constexpr (OP == AVF_BINARY_MUL)
                return (TO)(C)((U)x * (U)y);
            else {
                static_assert(OP == AVF_BINARY_DIV, "integer binary op");
                if (y == 0)
                    return (TO)0;
                if constexpr (std::is_signed<C>::value)
                    if (y == (C)-1)
                        return (TO)(C)((U)0 - (U)x);
                return (TO)(C)(x / y);
            }
        }
    }
}

/* out may alias a (variadic Max/Min accumulate in place): no __restrict__. */
template <int OP, typename TA, typename TB, typename TO, int V>
__global__ void bin_flat(const TA *a, int sa, const TB *b, int sb, TO *o, int64_t n) {
    int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t nv = n / V;
    for (int64_t i = tid; i < nv; i += stride) {
        vec<TA, V> va;
        vec<TB, V> vb;
        vec<TO, V> vo;
        if (sa) {
            va = reinterpret_cast<const vec<TA, V> *>(a)[i];
        } else {
            TA s = a[0];
#pragma unroll
            for (int j = 0; j < V; j++)
                va.v[j] = s;
        }
        if (sb) {
            vb = reinterpret_cast<const vec<TB, V> *>(b)[i];
        } else {
            TB s = b[0];
#pragma unroll
            for (int j = 0; j < V; j++)
                vb.v[j] = s;
        }
#pragma unroll
        for (int j = 0; j < V; j++)
            vo.v[j] = bin_apply<OP, TA, TB, TO>(va.v[j], vb.v[j]);
        reinterpret_cast<vec<TO, V> *>(o)[i] = vo;
    }
    for (int64_t i = nv * V + tid; i < n; i += stride)
        o[i] = bin_apply<OP, TA, TB, TO>(a[sa ? i : 0], b[sb ? i : 0]);
}

/* Element offsets of output index i for the first `nin` inputs. */
template <int NIN>
__device__ __forceinline__ void offsets(const bargs &g, int64_t i, int64_t n, int64_t *off) {
    if (g.nd == 1) {
#pragma unroll
        for (int k = 0; k < NIN; k++)
            off[k] = i * g.st[k][0];
        return;
    }
#pragma unroll
    for (int k = 0; k < NIN; k++)
        off[k] = 0;
    if (n <= (int64_t)UINT32_MAX) { /* 32-bit division is several times cheaper */
        uint32_t rem = (uint32_t)i;
        for (int d = g.nd - 1; d >= 0; d--) {
            uint32_t dim = (uint32_t)g.dims[d];
            uint32_t q = rem / dim, c = rem - q * dim;
#pragma unroll
            for (int k = 0; k < NIN; k++)
                off[k] += (int64_t)c * g.st[k][d];
            rem = q;
        }
    } else {
        int64_t rem = i;
        for (int d = g.nd - 1; d >= 0; d--) {
            int64_t q = rem / g.dims[d], c = rem - q * g.dims[d];
#pragma unroll
            for (int k = 0; k < NIN; k++)
                off[k] += c * g.st[k][d];
            rem = q;
        }
    }
}

template <int OP, typename TA, typename TB, typename TO>
__global__ void bin_general(const TA *a, const TB *b, TO *o, int64_t n, bargs g) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        int64_t off[2];
        offsets<2>(g, i, n, off);
        o[i] = bin_apply<OP, TA, TB, TO>(a[off[0]], b[off[1]]);
    }
}

/* Two dims after merging, e.g. an SE block's x[N,C,H,W] * s[N,C,1,1] as
 * [N*C, H*W] * [N*C, 1]: a 2-D grid (y over rows, x along a row) whose
 * offsets are products, with none of bin_general's 64-bit div/mod per
 * element (a plan trace had bin_general among the OCR models' top kernels). */
template <int OP, typename TA, typename TB, typename TO>
__global__ void bin_rows(const TA *a, const TB *b, TO *o, int64_t rows, int64_t cols,
                         int64_t sa0, int64_t sa1, int64_t sb0, int64_t sb1) {
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const TA *ar = a + r * sa0;
        const TB *br = b + r * sb0;
        TO *orow = o + r * cols;
        for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols;
             c += (int64_t)gridDim.x * blockDim.x)
            orow[c] = bin_apply<OP, TA, TB, TO>(ar[c * sa1], br[c * sb1]);
    }
}

bargs make_bargs(const avf_ew_bcast *bc) {
    bargs g;
    memset(&g, 0, sizeof g);
    g.nd = bc->ndim;
    for (int d = 0; d < bc->ndim; d++) {
        g.dims[d] = bc->dims[d];
        for (int k = 0; k < bc->n_in; k++)
            g.st[k][d] = bc->strides[k][d];
    }
    return g;
}

template <int OP, typename TA, typename TB, typename TO>
avf_status launch_bin(avf_op_ctx *ctx, const avf_ew_bcast *bc, const avf_tensor *a,
                      const avf_tensor *b, avf_tensor *out) {
    constexpr size_t m1 = sizeof(TA) > sizeof(TB) ? sizeof(TA) : sizeof(TB);
    constexpr size_t mx = m1 > sizeof(TO) ? m1 : sizeof(TO);
    constexpr int V = (int)(16 / mx);
    int64_t n = bc->numel;
    cudaStream_t s = stream_of(ctx);
    int sa = bc->strides[0][0] != 0, sb = bc->strides[1][0] != 0;
    if (bc->ndim == 1 && (!sa || aligned(a->data, V * sizeof(TA))) &&
        (!sb || aligned(b->data, V * sizeof(TB))) && aligned(out->data, V * sizeof(TO))) {
        bin_flat<OP, TA, TB, TO, V><<<grid_for(n / V + 1), kThreads, 0, s>>>(
            (const TA *)a->data, sa, (const TB *)b->data, sb, (TO *)out->data, n);
    } else if (bc->ndim == 2 && bc->dims[1] >= 32) {
        int64_t rows = bc->dims[0], cols = bc->dims[1];
        dim3 grid((unsigned)((cols + kThreads - 1) / kThreads > 1024 ? 1024
                                                                     : (cols + kThreads - 1) / kThreads),
                  (unsigned)(rows > 65535 ? 65535 : rows));
        bin_rows<OP, TA, TB, TO><<<grid, kThreads, 0, s>>>(
            (const TA *)a->data, (const TB *)b->data, (TO *)out->data, rows, cols,
            bc->strides[0][0], bc->strides[0][1], bc->strides[1][0], bc->strides[1][1]);
    } else {
        bin_general<OP, TA, TB, TO><<<grid_for(n), kThreads, 0, s>>>(
            (const TA *)a->data, (const TB *)b->data, (TO *)out->data, n, make_bargs(bc));
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

#define BCASE(OP, TO)                                                              \
    case OP:                                                                       \
        return launch_bin<OP, T, T, TO>(ctx, bc, a, b, out);

/* f32 f16 bf16 f64 i64 i32 i16 i8 u8: arithmetic and comparisons. */
template <typename T>
avf_status bin_numeric(avf_op_ctx *ctx, avf_binary_op op, const avf_ew_bcast *bc,
                       const avf_tensor *a, const avf_tensor *b, avf_tensor *out) {
    switch (op) {
        BCASE(AVF_BINARY_ADD, T)
        BCASE(AVF_BINARY_SUB, T)
        BCASE(AVF_BINARY_MUL, T)
        BCASE(AVF_BINARY_DIV, T)
        BCASE(AVF_BINARY_MAX, T)
        BCASE(AVF_BINARY_MIN, T)
        BCASE(AVF_BINARY_EQUAL, ewbool)
        BCASE(AVF_BINARY_LESS, ewbool)
        BCASE(AVF_BINARY_LESS_EQUAL, ewbool)
        BCASE(AVF_BINARY_GREATER, ewbool)
        BCASE(AVF_BINARY_GREATER_EQUAL, ewbool)
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: not supported for %s on CUDA",
                        avf_binary_op_name(op), avf_dtype_name(a->dtype));
    }
}

template <typename T>
avf_status bin_bool(avf_op_ctx *ctx, avf_binary_op op, const avf_ew_bcast *bc,
                    const avf_tensor *a, const avf_tensor *b, avf_tensor *out) {
    switch (op) {
        BCASE(AVF_BINARY_EQUAL, ewbool)
        BCASE(AVF_BINARY_AND, ewbool)
        BCASE(AVF_BINARY_OR, ewbool)
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: not supported for bool on CUDA",
                        avf_binary_op_name(op));
    }
}

template <typename TA>
avf_status bin_pow(avf_op_ctx *ctx, const avf_ew_bcast *bc, const avf_tensor *a,
                   const avf_tensor *b, avf_tensor *out) {
    switch (b->dtype) {
    case AVF_DTYPE_F32: return launch_bin<AVF_BINARY_POW, TA, float, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_F16: return launch_bin<AVF_BINARY_POW, TA, __half, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_BF16:
        return launch_bin<AVF_BINARY_POW, TA, __nv_bfloat16, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_I32: return launch_bin<AVF_BINARY_POW, TA, int, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_I64: return launch_bin<AVF_BINARY_POW, TA, long long, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_F64: return launch_bin<AVF_BINARY_POW, TA, double, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_I16: return launch_bin<AVF_BINARY_POW, TA, short, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_I8: return launch_bin<AVF_BINARY_POW, TA, signed char, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_U8:
        return launch_bin<AVF_BINARY_POW, TA, unsigned char, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_U16:
        return launch_bin<AVF_BINARY_POW, TA, unsigned short, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_U32:
        return launch_bin<AVF_BINARY_POW, TA, unsigned int, TA>(ctx, bc, a, b, out);
    case AVF_DTYPE_U64:
        return launch_bin<AVF_BINARY_POW, TA, unsigned long long, TA>(ctx, bc, a, b, out);
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Pow: exponent dtype %s is not supported on CUDA",
                        avf_dtype_name(b->dtype));
    }
}

/* ------------------------------------------------------------- Where */

template <typename T>
__global__ void where_kernel(const ewbool *c, const T *x, const T *y, T *o, int64_t n, bargs g) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        int64_t off[3];
        offsets<3>(g, i, n, off);
        o[i] = c[off[0]].v ? x[off[1]] : y[off[2]];
    }
}

template <typename T>
avf_status launch_where(avf_op_ctx *ctx, const avf_ew_bcast *bc, const avf_tensor *c,
                        const avf_tensor *x, const avf_tensor *y, avf_tensor *out) {
    int64_t n = bc->numel;
    where_kernel<T><<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(
        (const ewbool *)c->data, (const T *)x->data, (const T *)y->data, (T *)out->data, n,
        make_bargs(bc));
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_binary(avf_op_ctx *ctx, avf_binary_op op, const avf_ew_bcast *bc,
                                      const avf_tensor *a, const avf_tensor *b, avf_tensor *out) {
    AVF_TRY(set_device(ctx));
    if (op == AVF_BINARY_POW) {
        switch (a->dtype) {
        case AVF_DTYPE_F32: return bin_pow<float>(ctx, bc, a, b, out);
        case AVF_DTYPE_F16: return bin_pow<__half>(ctx, bc, a, b, out);
        case AVF_DTYPE_BF16: return bin_pow<__nv_bfloat16>(ctx, bc, a, b, out);
        case AVF_DTYPE_F64: return bin_pow<double>(ctx, bc, a, b, out);
        case AVF_DTYPE_I64: return bin_pow<long long>(ctx, bc, a, b, out);
        case AVF_DTYPE_I32: return bin_pow<int>(ctx, bc, a, b, out);
        case AVF_DTYPE_I16: return bin_pow<short>(ctx, bc, a, b, out);
        case AVF_DTYPE_I8: return bin_pow<signed char>(ctx, bc, a, b, out);
        case AVF_DTYPE_U8: return bin_pow<unsigned char>(ctx, bc, a, b, out);
        case AVF_DTYPE_U16: return bin_pow<unsigned short>(ctx, bc, a, b, out);
        case AVF_DTYPE_U32: return bin_pow<unsigned int>(ctx, bc, a, b, out);
        case AVF_DTYPE_U64: return bin_pow<unsigned long long>(ctx, bc, a, b, out);
        default: break;
        }
    } else {
        switch (a->dtype) {
        case AVF_DTYPE_F32: return bin_numeric<float>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_F16: return bin_numeric<__half>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_BF16: return bin_numeric<__nv_bfloat16>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_I32: return bin_numeric<int>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_I64: return bin_numeric<long long>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_F64: return bin_numeric<double>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_I16: return bin_numeric<short>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_I8: return bin_numeric<signed char>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_U8: return bin_numeric<unsigned char>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_U16: return bin_numeric<unsigned short>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_U32: return bin_numeric<unsigned int>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_U64: return bin_numeric<unsigned long long>(ctx, op, bc, a, b, out);
        case AVF_DTYPE_BOOL: return bin_bool<ewbool>(ctx, op, bc, a, b, out);
        default: break;
        }
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported on CUDA",
                    avf_binary_op_name(op), avf_dtype_name(a->dtype));
}

extern "C" avf_status avf_cuda_where(avf_op_ctx *ctx, const avf_ew_bcast *bc,
                                     const avf_tensor *cond, const avf_tensor *x,
                                     const avf_tensor *y, avf_tensor *out) {
    AVF_TRY(set_device(ctx));
    switch (avf_dtype_size(out->dtype)) {
    case 1: return launch_where<uint8_t>(ctx, bc, cond, x, y, out);
    case 2: return launch_where<uint16_t>(ctx, bc, cond, x, y, out);
    case 4: return launch_where<uint32_t>(ctx, bc, cond, x, y, out);
    case 8: return launch_where<uint64_t>(ctx, bc, cond, x, y, out);
    default:
        return AVF_FAIL(AVF_ERR_INTERNAL, "Where: element size %zu",
                        avf_dtype_size(out->dtype));
    }
}
