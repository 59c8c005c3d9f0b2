/* Internal: recurrent ops — LSTM, GRU and RNN (ONNX semantics).
 *
 * Inputs (layout 0; layout 1 swaps the first two dims of X, Y's batch to the
 * front, and puts batch before direction in initial_h/c and Y_h/Y_c):
 *   X [seq, batch, input], W [dirs, G*hidden, input], R [dirs, G*hidden, hidden],
 *   B [dirs, 2*G*hidden] (optional; W biases then R biases),
 *   sequence_lens [batch] i32 (optional), initial_h/initial_c [dirs, batch, hidden]
 *   (optional), P [dirs, 3*hidden] (LSTM peepholes i, o, f; optional),
 * with G = 4 (LSTM gates i, o, f, c), 3 (GRU z, r, h), 1 (RNN).
 * Outputs (each optional): Y [seq, dirs, batch, hidden], Y_h and Y_c
 * [dirs, batch, hidden]. Steps at or past a batch entry's sequence length
 * leave its state unchanged and write zeros to Y (lengths are clamped to
 * [0, seq]).
 *
 * Both backends project the inputs of all steps with one GEMM, then per step
 * run one GEMM for the recurrent part and one fused kernel for the gates
 * (GRU with linear_before_reset = 0 needs two of each). f32 only.
 */
#ifndef AVF_OPS_RNN_H
#define AVF_OPS_RNN_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum avf_rnn_kind { AVF_RNN_SIMPLE = 0, AVF_RNN_GRU, AVF_RNN_LSTM } avf_rnn_kind;

typedef enum avf_rnn_direction {
    AVF_RNN_FORWARD = 0,
    AVF_RNN_REVERSE,
    AVF_RNN_BIDIRECTIONAL
} avf_rnn_direction;

typedef enum avf_rnn_act_kind {
    AVF_RNN_ACT_SIGMOID = 0,
    AVF_RNN_ACT_TANH,
    AVF_RNN_ACT_RELU,
    AVF_RNN_ACT_AFFINE,           /* alpha*x + beta */
    AVF_RNN_ACT_LEAKY_RELU,       /* x >= 0 ? x : alpha*x */
    AVF_RNN_ACT_THRESHOLDED_RELU, /* x > alpha ? x : 0 */
    AVF_RNN_ACT_SCALED_TANH,      /* alpha*tanh(beta*x) */
    AVF_RNN_ACT_HARD_SIGMOID,     /* clamp(alpha*x + beta, 0, 1) */
    AVF_RNN_ACT_ELU,              /* x >= 0 ? x : alpha*(e^x - 1) */
    AVF_RNN_ACT_SOFTSIGN,         /* x / (1 + |x|) */
    AVF_RNN_ACT_SOFTPLUS,         /* log(1 + e^x) */
    AVF_RNN_ACT_COUNT
} avf_rnn_act_kind;

typedef struct avf_rnn_act {
    avf_rnn_act_kind kind;
    float alpha, beta;
} avf_rnn_act;

/* Activation slots per direction: LSTM f, g, h; GRU f, g; RNN f. */
#define AVF_RNN_MAX_ACTS 3

typedef struct avf_rnn_params {
    avf_rnn_kind kind;
    avf_rnn_direction direction;
    int64_t hidden_size;
    int layout;              /* 0 or 1 */
    int has_clip;
    float clip;              /* > 0: gate pre-activations clamped to [-clip, clip] */
    int input_forget;        /* LSTM: forget gate = 1 - input gate */
    int linear_before_reset; /* GRU */
    avf_rnn_act act[2][AVF_RNN_MAX_ACTS]; /* [direction][slot] */
} avf_rnn_params;

/* Gates per kind (G above) and activation slots per direction. */
int avf_rnn_gates(avf_rnn_kind kind);
int avf_rnn_num_acts(avf_rnn_kind kind);
/* Fill p->act with the ONNX defaults for p->kind (Sigmoid, Tanh, Tanh /
 * Sigmoid, Tanh / Tanh). */
void avf_rnn_default_acts(avf_rnn_params *p);
/* Activation by ONNX name (case-insensitive), with ONNX's default alpha and
 * beta; AVF_ERR_UNSUPPORTED for an unknown name. has_alpha/has_beta say
 * whether it reads activation_alpha / activation_beta. */
avf_status avf_rnn_act_parse(const char *name, avf_rnn_act *out, int *has_alpha, int *has_beta);

/* The shapes of an RNN node's inputs (ndim < 0: input absent). */
typedef struct avf_rnn_shapes {
    int ndim[8];
    int64_t dims[8][AVF_MAX_DIMS];
} avf_rnn_shapes;

enum { AVF_RNN_IN_X = 0, AVF_RNN_IN_W, AVF_RNN_IN_R, AVF_RNN_IN_B, AVF_RNN_IN_SEQ_LENS,
       AVF_RNN_IN_INITIAL_H, AVF_RNN_IN_INITIAL_C, AVF_RNN_IN_P };

/* Validate the inputs' shapes and give the three outputs' shapes (Y, Y_h,
 * Y_c; Y_c only for LSTM: ndim -1 otherwise). */
avf_status avf_rnn_shape(const avf_rnn_params *p, const avf_rnn_shapes *in, int out_ndim[3],
                         int64_t out_dims[3][AVF_MAX_DIMS]);

/* in[8] as above (NULL: absent; initial_c and P only for LSTM), out[3] =
 * Y, Y_h, Y_c (NULL: not wanted). */
avf_status avf_op_rnn(avf_op_ctx *ctx, const avf_rnn_params *p, const avf_tensor *const in[8],
                      avf_tensor *const out[3]);

/* ---- shared with the backends ---- */

typedef struct avf_rnn_dims {
    int64_t seq, batch, input, hidden;
    int dirs, gates;
} avf_rnn_dims;

avf_status avf_cpu_rnn(avf_op_ctx *ctx, const avf_rnn_params *p, const avf_rnn_dims *d,
                       const avf_tensor *const in[8], avf_tensor *const out[3]);

/* The activation functions, shared by the CPU kernel and the tests. */
float avf_rnn_act_apply(const avf_rnn_act *a, float x);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_RNN_H */
