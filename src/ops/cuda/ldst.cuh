/* Internal: the f32/f16 element loads and stores of the kernels that read
 * through the read-only cache and compute in f32 (conv_dw.cu,
 * conv_short1d.cu, magnitude.cu): one overload set instead of a copy each. */
#ifndef AVF_OPS_CUDA_LDST_CUH
#define AVF_OPS_CUDA_LDST_CUH

#include <cuda_fp16.h>
#include <stdint.h>

namespace avf_ldst {

__device__ __forceinline__ float ld(const float *p, int64_t i) { return __ldg(p + i); }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half(v); }

} // namespace avf_ldst

#endif /* AVF_OPS_CUDA_LDST_CUH */
