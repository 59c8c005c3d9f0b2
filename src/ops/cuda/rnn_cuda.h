/* Internal: the CUDA half of the recurrent ops (src/ops/cuda/rnn.cu). */
#ifndef AVF_OPS_CUDA_RNN_CUDA_H
#define AVF_OPS_CUDA_RNN_CUDA_H
#ifdef AVF_HAVE_CUDA

#include "ops/rnn.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_rnn(avf_op_ctx *ctx, const avf_rnn_params *p, const avf_rnn_dims *d,
                        const avf_tensor *const in[8], avf_tensor *const out[3]);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_RNN_CUDA_H */
