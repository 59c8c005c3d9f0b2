/* LSTM, GRU, RNN: the CPU kernel against a naive double reference written
 * here step by step from the ONNX equations, the CUDA kernel against the
 * CPU one. */
#include "op_test_util.h"
#include "ops/rnn.h"

typedef struct rnn_case {
    avf_rnn_kind kind;
    avf_rnn_direction dir;
    int64_t seq, batch, input, hidden;
    int has_b, has_init, has_p, has_lens, layout;
    float clip; /* 0: none */
    int input_forget, lbr;
    int custom_acts; /* non-default activations */
} rnn_case;

static const rnn_case cases[] = {
    /* LSTM */
    {AVF_RNN_LSTM, AVF_RNN_FORWARD, 5, 3, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_FORWARD, 5, 3, 4, 6, 1, 1, 0, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_REVERSE, 4, 2, 3, 5, 1, 1, 1, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_BIDIRECTIONAL, 6, 3, 5, 7, 1, 1, 1, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_BIDIRECTIONAL, 6, 3, 5, 7, 1, 1, 1, 0, 1, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_BIDIRECTIONAL, 6, 4, 5, 7, 1, 1, 0, 1, 0, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_FORWARD, 5, 2, 3, 4, 1, 1, 1, 0, 0, 0.3f, 1, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_BIDIRECTIONAL, 4, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 1},
    {AVF_RNN_LSTM, AVF_RNN_FORWARD, 1, 1, 128, 128, 1, 1, 0, 0, 0, 0, 0, 0, 0}, /* Silero */
    /* Silero at batch 64: on CUDA the direct path (initial states read, Y_h/Y_c written in place) */
    {AVF_RNN_LSTM, AVF_RNN_FORWARD, 1, 64, 128, 128, 1, 1, 0, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_LSTM, AVF_RNN_FORWARD, 0, 2, 3, 4, 1, 1, 0, 0, 0, 0, 0, 0, 0},     /* no steps */
    /* GRU */
    {AVF_RNN_GRU, AVF_RNN_FORWARD, 5, 3, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_GRU, AVF_RNN_FORWARD, 5, 3, 4, 6, 1, 1, 0, 0, 0, 0, 0, 1, 0},
    {AVF_RNN_GRU, AVF_RNN_REVERSE, 5, 3, 4, 6, 1, 1, 0, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_GRU, AVF_RNN_BIDIRECTIONAL, 6, 4, 3, 5, 1, 1, 0, 1, 0, 0, 0, 0, 0},
    {AVF_RNN_GRU, AVF_RNN_BIDIRECTIONAL, 6, 4, 3, 5, 1, 1, 0, 1, 1, 0, 0, 1, 0},
    {AVF_RNN_GRU, AVF_RNN_FORWARD, 4, 2, 3, 4, 1, 0, 0, 0, 0, 0.5f, 0, 0, 1},
    /* RNN */
    {AVF_RNN_SIMPLE, AVF_RNN_FORWARD, 5, 3, 4, 6, 1, 1, 0, 0, 0, 0, 0, 0, 0},
    {AVF_RNN_SIMPLE, AVF_RNN_BIDIRECTIONAL, 5, 3, 4, 6, 0, 0, 0, 1, 1, 0, 0, 0, 0},
};

/* ---- the reference ---- */

static double act_ref(const avf_rnn_act *a, double x) {
    switch (a->kind) {
    case AVF_RNN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case AVF_RNN_ACT_TANH: return tanh(x);
    case AVF_RNN_ACT_RELU: return x > 0 ? x : 0;
    case AVF_RNN_ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
    case AVF_RNN_ACT_HARD_SIGMOID: {
        double v = a->alpha * x + a->beta;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case AVF_RNN_ACT_SOFTSIGN: return x / (1 + fabs(x));
    case AVF_RNN_ACT_SCALED_TANH: return a->alpha * tanh(a->beta * x);
    default: fail_msg("activation %d not in the reference", (int)a->kind); return 0;
    }
}

typedef struct rnn_data {
    int64_t n[8];
    float *in[8]; /* X W R B lens(int32 stored in floats' place) h0 c0 P */
    int32_t *lens;
} rnn_data;

static void set_params(const rnn_case *c, avf_rnn_params *p) {
    memset(p, 0, sizeof *p);
    p->kind = c->kind;
    p->direction = c->dir;
    p->hidden_size = c->hidden;
    p->layout = c->layout;
    p->has_clip = c->clip > 0;
    p->clip = c->clip;
    p->input_forget = c->input_forget;
    p->linear_before_reset = c->lbr;
    avf_rnn_default_acts(p);
    if (c->custom_acts) {
        /* direction 0: HardSigmoid / Softsign / ScaledTanh; direction 1 LeakyRelu variants */
        assert_avf_ok(avf_rnn_act_parse("HardSigmoid", &p->act[0][0], NULL, NULL));
        assert_avf_ok(avf_rnn_act_parse("Softsign", &p->act[0][1], NULL, NULL));
        assert_avf_ok(avf_rnn_act_parse("ScaledTanh", &p->act[0][2], NULL, NULL));
        p->act[0][2].alpha = 0.9f;
        p->act[0][2].beta = 1.1f;
        assert_avf_ok(avf_rnn_act_parse("sigmoid", &p->act[1][0], NULL, NULL));
        assert_avf_ok(avf_rnn_act_parse("LeakyRelu", &p->act[1][1], NULL, NULL));
        p->act[1][1].alpha = 0.2f;
        assert_avf_ok(avf_rnn_act_parse("Tanh", &p->act[1][2], NULL, NULL));
    }
}

static double clip_ref(const avf_rnn_params *p, double x) {
    if (!p->has_clip)
        return x;
    return x < -p->clip ? -p->clip : x > p->clip ? p->clip : x;
}

/* Y [seq, dirs, batch, H] (layout 0) etc. as doubles; ny/nh sizes. */
static void rnn_ref(const rnn_case *c, const avf_rnn_params *p, const rnn_data *dt, double *y,
                    double *yh, double *yc) {
    int dirs = c->dir == AVF_RNN_BIDIRECTIONAL ? 2 : 1;
    int64_t H = c->hidden, I = c->input, S = c->seq, Bn = c->batch;
    int G = avf_rnn_gates(c->kind);
    const float *X = dt->in[0], *W = dt->in[1], *R = dt->in[2], *B = dt->in[3];
    const float *H0 = dt->in[5], *C0 = dt->in[6], *P = dt->in[7];
    memset(y, 0, sizeof(double) * (size_t)(S * dirs * Bn * H));
    double *h = calloc((size_t)H, sizeof *h), *cc = calloc((size_t)H, sizeof *cc);
    double *hn = calloc((size_t)H, sizeof *hn);
    for (int d = 0; d < dirs; d++) {
        const float *w = W + d * G * H * I, *r = R + d * G * H * H;
        const float *wb = B ? B + d * 2 * G * H : NULL, *rb = wb ? wb + G * H : NULL;
        const float *pp = P ? P + d * 3 * H : NULL;
        const avf_rnn_act *act = p->act[d];
        int reverse = c->dir == AVF_RNN_REVERSE || d == 1;
        for (int64_t b = 0; b < Bn; b++) {
            int64_t len = dt->lens ? dt->lens[b] : S;
            int64_t so = c->layout ? (b * dirs + d) * H : (d * Bn + b) * H;
            for (int64_t j = 0; j < H; j++) {
                h[j] = H0 ? H0[so + j] : 0.0;
                cc[j] = C0 ? C0[so + j] : 0.0;
            }
            for (int64_t k = 0; k < len; k++) {
                int64_t t = reverse ? len - 1 - k : k;
                const float *x = X + (c->layout ? b * S + t : t * Bn + b) * I;
                /* x W^T and h R^T per gate row, biases kept apart */
                double xw[4 * 256], hr[4 * 256];
                for (int64_t q = 0; q < G * H; q++) {
                    double sx = 0, sh = 0;
                    for (int64_t i = 0; i < I; i++)
                        sx += (double)x[i] * w[q * I + i];
                    for (int64_t i = 0; i < H; i++)
                        sh += h[i] * r[q * H + i];
                    xw[q] = sx + (wb ? wb[q] : 0.0);
                    hr[q] = sh + (rb ? rb[q] : 0.0);
                }
                for (int64_t j = 0; j < H; j++) {
                    if (c->kind == AVF_RNN_SIMPLE) {
                        hn[j] = act_ref(&act[0], clip_ref(p, xw[j] + hr[j]));
                    } else if (c->kind == AVF_RNN_GRU) {
                        double z = act_ref(&act[0], clip_ref(p, xw[j] + hr[j]));
                        double rr = act_ref(&act[0], clip_ref(p, xw[H + j] + hr[H + j]));
                        double pre;
                        if (c->lbr) {
                            pre = xw[2 * H + j] + rr * hr[2 * H + j];
                        } else { /* (r . h) Rh^T + Rbh */
                            double s = 0;
                            for (int64_t i = 0; i < H; i++) {
                                double ri = act_ref(&act[0], clip_ref(p, xw[H + i] + hr[H + i]));
                                s += ri * h[i] * r[(2 * H + j) * H + i];
                            }
                            pre = xw[2 * H + j] + s + (rb ? rb[2 * H + j] : 0.0);
                        }
                        double hh = act_ref(&act[1], clip_ref(p, pre));
                        hn[j] = (1 - z) * hh + z * h[j];
                    } else {
                        double ig = act_ref(&act[0], clip_ref(p, xw[j] + hr[j] + (pp ? pp[j] * cc[j] : 0)));
                        double fg = c->input_forget
                                        ? 1 - ig
                                        : act_ref(&act[0], clip_ref(p, xw[2 * H + j] + hr[2 * H + j] +
                                                                           (pp ? pp[2 * H + j] * cc[j] : 0)));
                        double cg = act_ref(&act[1], clip_ref(p, xw[3 * H + j] + hr[3 * H + j]));
                        double cn = fg * cc[j] + ig * cg;
                        double og = act_ref(&act[0], clip_ref(p, xw[H + j] + hr[H + j] + (pp ? pp[H + j] * cn : 0)));
                        cc[j] = cn;
                        hn[j] = og * act_ref(&act[2], cn);
                    }
                }
                memcpy(h, hn, sizeof(double) * (size_t)H);
                int64_t yo = c->layout ? ((b * S + t) * dirs + d) * H : ((t * dirs + d) * Bn + b) * H;
                memcpy(y + yo, h, sizeof(double) * (size_t)H);
            }
            memcpy(yh + so, h, sizeof(double) * (size_t)H);
            memcpy(yc + so, cc, sizeof(double) * (size_t)H);
        }
    }
    free(h);
    free(cc);
    free(hn);
}

/* ---- running the op ---- */

static void make_data(const rnn_case *c, uint64_t *seed, rnn_data *d) {
    memset(d, 0, sizeof *d);
    int dirs = c->dir == AVF_RNN_BIDIRECTIONAL ? 2 : 1;
    int64_t G = avf_rnn_gates(c->kind), H = c->hidden;
    d->n[0] = c->seq * c->batch * c->input;
    d->n[1] = dirs * G * H * c->input;
    d->n[2] = dirs * G * H * H;
    d->n[3] = c->has_b ? dirs * 2 * G * H : 0;
    d->n[5] = c->has_init ? dirs * c->batch * H : 0;
    d->n[6] = c->has_init && c->kind == AVF_RNN_LSTM ? dirs * c->batch * H : 0;
    d->n[7] = c->has_p ? dirs * 3 * H : 0;
    double scale = 1.0 / sqrt((double)(H > c->input ? H : c->input));
    for (int i = 0; i < 8; i++) {
        if (i == 4 || (i >= 3 && d->n[i] == 0))
            continue;
        d->in[i] = malloc((size_t)(d->n[i] + 1) * sizeof(float));
        double lim = (i == 1 || i == 2) ? 2.0 * scale : 1.0;
        avf_test_fill_f32(d->in[i], d->n[i], seed, -lim, lim);
    }
    if (c->has_lens) {
        d->lens = malloc((size_t)c->batch * sizeof *d->lens);
        for (int64_t b = 0; b < c->batch; b++) /* full, shorter, one step, ... */
            d->lens[b] = (int32_t)(b % 3 == 0 ? c->seq : b % 3 == 1 ? c->seq - 2 : 1);
    }
}

static void free_data(rnn_data *d) {
    for (int i = 0; i < 8; i++)
        free(d->in[i]);
    free(d->lens);
}

/* Runs on ctx; fills y/yh/yc (float) for the outputs wanted (NULL: not). */
static void run_rnn(avf_op_ctx *ctx, const rnn_case *c, const avf_rnn_params *p,
                    const rnn_data *d, float *y, float *yh, float *yc) {
    avf_rnn_shapes sh;
    int dirs = c->dir == AVF_RNN_BIDIRECTIONAL ? 2 : 1;
    int64_t G = avf_rnn_gates(c->kind), H = c->hidden;
    int64_t st[3] = {dirs, c->batch, H};
    if (c->layout) {
        st[0] = c->batch;
        st[1] = dirs;
    }
    int64_t dims[8][3] = {
        {c->layout ? c->batch : c->seq, c->layout ? c->seq : c->batch, c->input},
        {dirs, G * H, c->input},
        {dirs, G * H, H},
        {dirs, 2 * G * H, 0},
        {c->batch, 0, 0},
        {st[0], st[1], st[2]},
        {st[0], st[1], st[2]},
        {dirs, 3 * H, 0},
    };
    static const int ranks[8] = {3, 3, 3, 2, 1, 3, 3, 2};
    avf_tensor tin[8];
    const avf_tensor *in[8];
    for (int i = 0; i < 8; i++) {
        in[i] = NULL;
        sh.ndim[i] = -1;
        const void *host = i == 4 ? (const void *)d->lens : (const void *)d->in[i];
        if (!host)
            continue;
        avf_test_tensor(ctx, &tin[i], i == 4 ? AVF_DTYPE_I32 : AVF_DTYPE_F32, ranks[i], dims[i], host);
        in[i] = &tin[i];
        sh.ndim[i] = ranks[i];
        memcpy(sh.dims[i], dims[i], sizeof dims[i]);
    }
    int on[3];
    int64_t od[3][AVF_MAX_DIMS];
    assert_avf_ok(avf_rnn_shape(p, &sh, on, od));
    avf_tensor tout[3];
    avf_tensor *out[3] = {NULL, NULL, NULL};
    float *hosts[3] = {y, yh, yc};
    for (int i = 0; i < 3; i++)
        if (hosts[i] && on[i] >= 0) {
            avf_test_tensor(ctx, &tout[i], AVF_DTYPE_F32, on[i], od[i], NULL);
            out[i] = &tout[i];
        }
    assert_avf_ok(avf_op_rnn(ctx, p, in, out));
    for (int i = 0; i < 3; i++)
        if (out[i]) {
            avf_test_read(ctx, out[i], hosts[i]);
            avf_tensor_release(out[i], ctx->stream);
        }
    for (int i = 0; i < 8; i++)
        if (in[i])
            avf_tensor_release(&tin[i], ctx->stream);
}

static void sizes(const rnn_case *c, int64_t *ny, int64_t *nh) {
    int dirs = c->dir == AVF_RNN_BIDIRECTIONAL ? 2 : 1;
    *ny = c->seq * dirs * c->batch * c->hidden;
    *nh = dirs * c->batch * c->hidden;
}

static void test_rnn_cpu(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    uint64_t seed = 0x7157;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const rnn_case *c = &cases[ci];
        avf_rnn_params p;
        set_params(c, &p);
        rnn_data d;
        make_data(c, &seed, &d);
        int64_t ny, nh;
        sizes(c, &ny, &nh);
        double *wy = malloc((size_t)(ny + 1) * sizeof(double));
        double *wh = malloc((size_t)(nh + 1) * sizeof(double));
        double *wc = malloc((size_t)(nh + 1) * sizeof(double));
        float *gy = malloc((size_t)(ny + 1) * sizeof(float));
        float *gh = malloc((size_t)(nh + 1) * sizeof(float));
        float *gc = malloc((size_t)(nh + 1) * sizeof(float));
        rnn_ref(c, &p, &d, wy, wh, wc);
        run_rnn(&env.cpu_ctx, c, &p, &d, gy, gh, c->kind == AVF_RNN_LSTM ? gc : NULL);
        double e1 = avf_test_rel_err(gy, wy, ny), e2 = avf_test_rel_err(gh, wh, nh);
        double e3 = c->kind == AVF_RNN_LSTM ? avf_test_rel_err(gc, wc, nh) : 0.0;
        if (!(e1 <= 1e-5 && e2 <= 1e-5 && e3 <= 1e-5))
            print_message("case %zu: Y %g Y_h %g Y_c %g\n", ci, e1, e2, e3);
        assert_rel_err_below(e1, 1e-5);
        assert_rel_err_below(e2, 1e-5);
        assert_rel_err_below(e3, 1e-5);
        /* only Y_h wanted: the same state comes out */
        float *gh2 = malloc((size_t)(nh + 1) * sizeof(float));
        run_rnn(&env.cpu_ctx, c, &p, &d, NULL, gh2, NULL);
        assert_rel_err_below(avf_test_rel_err_f32(gh2, gh, nh), 0.0);
        free(gh2);
        free(wy);
        free(wh);
        free(wc);
        free(gy);
        free(gh);
        free(gc);
        free_data(&d);
    }
    avf_test_env_free(&env);
}

static void test_rnn_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    env.gpu_ctx.allow_tf32 = 0;
    uint64_t seed = 0x9a9a;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const rnn_case *c = &cases[ci];
        avf_rnn_params p;
        set_params(c, &p);
        rnn_data d;
        make_data(c, &seed, &d);
        int64_t ny, nh;
        sizes(c, &ny, &nh);
        int lstm = c->kind == AVF_RNN_LSTM;
        float *v[6];
        for (int i = 0; i < 6; i++)
            v[i] = malloc((size_t)((i % 3 == 0 ? ny : nh) + 1) * sizeof(float));
        run_rnn(&env.cpu_ctx, c, &p, &d, v[0], v[1], lstm ? v[2] : NULL);
        run_rnn(&env.gpu_ctx, c, &p, &d, v[3], v[4], lstm ? v[5] : NULL);
        double e1 = avf_test_rel_err_f32(v[3], v[0], ny), e2 = avf_test_rel_err_f32(v[4], v[1], nh);
        double e3 = lstm ? avf_test_rel_err_f32(v[5], v[2], nh) : 0.0;
        if (!(e1 <= 1e-5 && e2 <= 1e-5 && e3 <= 1e-5))
            print_message("case %zu: Y %g Y_h %g Y_c %g\n", ci, e1, e2, e3);
        assert_rel_err_below(e1, 1e-5);
        assert_rel_err_below(e2, 1e-5);
        assert_rel_err_below(e3, 1e-5);
        for (int i = 0; i < 6; i++)
            free(v[i]);
        free_data(&d);
    }
    avf_test_env_free(&env);
}

static void test_rnn_errors(void **state) {
    (void)state;
    avf_rnn_params p;
    memset(&p, 0, sizeof p);
    p.kind = AVF_RNN_LSTM;
    p.hidden_size = 4;
    avf_rnn_default_acts(&p);
    avf_rnn_shapes sh;
    for (int i = 0; i < 8; i++)
        sh.ndim[i] = -1;
    int on[3];
    int64_t od[3][AVF_MAX_DIMS];
    int64_t x[3] = {5, 2, 3}, w[3] = {1, 16, 3}, r[3] = {1, 16, 4};
    sh.ndim[0] = 2; /* X must be 3-D */
    memcpy(sh.dims[0], x, sizeof x);
    sh.ndim[1] = 3;
    memcpy(sh.dims[1], w, sizeof w);
    sh.ndim[2] = 3;
    memcpy(sh.dims[2], r, sizeof r);
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);
    sh.ndim[0] = 3;
    assert_avf_ok(avf_rnn_shape(&p, &sh, on, od));
    assert_int_equal(on[0], 4);
    assert_int_equal(od[0][0], 5);
    assert_int_equal(od[0][1], 1);
    assert_int_equal(od[0][2], 2);
    assert_int_equal(od[0][3], 4);
    p.direction = AVF_RNN_BIDIRECTIONAL; /* W has one direction */
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);
    p.direction = AVF_RNN_FORWARD;
    p.hidden_size = 5; /* R says 4 */
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);
    p.hidden_size = 4;
    int64_t b_bad[2] = {1, 16};
    sh.ndim[3] = 2;
    memcpy(sh.dims[3], b_bad, sizeof b_bad);
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);
    sh.ndim[3] = -1;
    int64_t h_bad[3] = {1, 3, 4};
    sh.ndim[5] = 3;
    memcpy(sh.dims[5], h_bad, sizeof h_bad);
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);
    sh.ndim[5] = -1;
    p.kind = AVF_RNN_GRU; /* P belongs to LSTM; and W's 16 rows are not 3*4 */
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);
    p.layout = 2;
    assert_avf_fails(avf_rnn_shape(&p, &sh, on, od), AVF_ERR_INVALID_ARG);

    avf_rnn_act a;
    assert_avf_fails(avf_rnn_act_parse("Swish", &a, NULL, NULL), AVF_ERR_UNSUPPORTED);
    int ha = 0, hb = 0;
    assert_avf_ok(avf_rnn_act_parse("hardsigmoid", &a, &ha, &hb));
    assert_int_equal(a.kind, AVF_RNN_ACT_HARD_SIGMOID);
    assert_true(ha && hb);

    /* op entry: f16 X is refused, a missing W too */
    avf_test_env env;
    avf_test_env_init(&env);
    p.kind = AVF_RNN_LSTM;
    p.layout = 0;
    avf_tensor tx, tw, tr, th;
    avf_test_tensor(&env.cpu_ctx, &tx, AVF_DTYPE_F16, 3, x, NULL);
    avf_test_tensor(&env.cpu_ctx, &tw, AVF_DTYPE_F32, 3, w, NULL);
    avf_test_tensor(&env.cpu_ctx, &tr, AVF_DTYPE_F32, 3, r, NULL);
    int64_t hs[3] = {1, 2, 4};
    avf_test_tensor(&env.cpu_ctx, &th, AVF_DTYPE_F32, 3, hs, NULL);
    const avf_tensor *in[8] = {&tx, &tw, &tr, NULL, NULL, NULL, NULL, NULL};
    avf_tensor *out[3] = {NULL, &th, NULL};
    assert_avf_fails(avf_op_rnn(&env.cpu_ctx, &p, in, out), AVF_ERR_UNSUPPORTED);
    avf_tensor tx32, tw3, tr3;
    int64_t w3[3] = {1, 12, 3}, r3[3] = {1, 12, 4};
    avf_test_tensor(&env.cpu_ctx, &tx32, AVF_DTYPE_F32, 3, x, NULL);
    avf_test_tensor(&env.cpu_ctx, &tw3, AVF_DTYPE_F32, 3, w3, NULL);
    avf_test_tensor(&env.cpu_ctx, &tr3, AVF_DTYPE_F32, 3, r3, NULL);
    in[0] = &tx32;
    in[1] = NULL;
    assert_avf_fails(avf_op_rnn(&env.cpu_ctx, &p, in, out), AVF_ERR_INVALID_ARG);
    in[1] = &tw;
    assert_avf_ok(avf_op_rnn(&env.cpu_ctx, &p, in, out));
    p.kind = AVF_RNN_GRU; /* GRU has no Y_c */
    in[1] = &tw3;
    in[2] = &tr3;
    assert_avf_ok(avf_op_rnn(&env.cpu_ctx, &p, in, out));
    out[2] = &th;
    assert_avf_fails(avf_op_rnn(&env.cpu_ctx, &p, in, out), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tx32, NULL);
    avf_tensor_release(&tw3, NULL);
    avf_tensor_release(&tr3, NULL);
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&tw, NULL);
    avf_tensor_release(&tr, NULL);
    avf_tensor_release(&th, NULL);
    avf_test_env_free(&env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn_errors),
        cmocka_unit_test(test_rnn_cpu),
        cmocka_unit_test(test_rnn_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
