/* SPDX-License-Identifier: MIT */
/* tg_conv2d: a hand-computed case, a naive double-precision reference over
 * padding, stride, dilation, groups and bias, finite-difference gradients of
 * x, w and b, thread invariance, and the shape errors. */
#include "tg_test.h"

#include "tg_internal.h" /* tg__conv2d_bn_eval */

typedef struct {
    int64_t N, C, H, W, O, kh, kw;
    int s, p, d, g;
    bool bias;
} conv_case;

static const conv_case cases[] = {
    {2, 3, 6, 5, 4, 3, 3, 1, 0, 1, 1, true},  /* pad 0 */
    {2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, true},  /* pad 1 */
    {2, 2, 7, 7, 3, 3, 3, 2, 1, 1, 1, true},  /* stride 2 */
    {1, 2, 7, 6, 2, 3, 2, 1, 1, 2, 1, true},  /* dilation 2, non-square kernel */
    {2, 4, 5, 5, 6, 3, 3, 1, 1, 1, 2, true},  /* groups 2 */
    {2, 3, 5, 4, 2, 2, 2, 1, 0, 1, 1, false}, /* no bias */
    {2, 4, 3, 3, 2, 1, 1, 1, 0, 1, 2, true},  /* 1x1, groups: no unfold */
    {1, 1, 4, 4, 2, 1, 1, 2, 0, 1, 1, false}, /* 1x1 stride 2: unfold */
    {2, 4, 6, 5, 4, 3, 3, 1, 1, 1, 4, true},  /* depthwise: a filter per channel */
    {2, 3, 7, 6, 3, 5, 5, 1, 2, 1, 3, false}, /* depthwise 5x5 */
    {1, 2, 5, 5, 2, 3, 3, 1, 0, 1, 2, true},  /* depthwise, pad 0 */
    /* depthwise stride 2: a stride-1 convolution of each plane's four
     * phase planes (the direct kernels) */
    {1, 2, 7, 7, 2, 3, 3, 2, 1, 1, 2, true},
    {2, 3, 8, 9, 3, 5, 5, 2, 2, 1, 3, false},  /* 5x5, pad 2 */
    {2, 2, 10, 9, 2, 3, 3, 2, 0, 1, 2, true},  /* pad 0: x's last row read by no output */
    {1, 2, 7, 6, 2, 2, 2, 2, 0, 1, 2, true},   /* 2x2: one tap per phase */
    {1, 2, 8, 8, 2, 4, 4, 2, 1, 1, 2, false},  /* 4x4, pad 1 */
    {1, 2, 9, 9, 2, 7, 7, 2, 3, 1, 2, true},   /* 7x7, pad 3: four taps a side */
    {1, 2, 3, 4, 2, 3, 3, 2, 2, 1, 2, true},   /* padding wider than half of x */
    /* the direct kernels' rows of w + pad floats: a row's right padding is
     * the next row's left, whether pad is less than or more than "same" */
    {2, 3, 7, 6, 4, 5, 5, 1, 1, 1, 1, true},   /* 5x5, pad 1 */
    {2, 2, 5, 6, 3, 3, 3, 1, 2, 1, 1, true},   /* 3x3, pad 2: k - 1 */
};
#define N_CASES ((int)(sizeof cases / sizeof *cases))

static int64_t out_size(int64_t n, int64_t k, const conv_case *c)
{
    return (n + 2 * c->p - c->d * (k - 1) - 1) / c->s + 1;
}

/* Naive reference in double. */
static void ref_conv(const conv_case *c, const float *x, const float *w, const float *b,
                     float *y)
{
    int64_t Ho = out_size(c->H, c->kh, c), Wo = out_size(c->W, c->kw, c);
    int64_t cig = c->C / c->g, cog = c->O / c->g;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t o = 0; o < c->O; o++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b ? b[o] : 0.0;
                    int64_t gr = o / cog;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t i = 0; i < c->kh; i++)
                            for (int64_t j = 0; j < c->kw; j++) {
                                int64_t ih = oh * c->s - c->p + i * c->d;
                                int64_t iw = ow * c->s - c->p + j * c->d;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
                                    continue;
                                s += (double)x[((n * c->C + gr * cig + ci) * c->H + ih) * c->W + iw] *
                                     w[((o * cig + ci) * c->kh + i) * c->kw + j];
                            }
                    y[((n * c->O + o) * Ho + oh) * Wo + ow] = (float)s;
                }
}

static void make_inputs(tg_ctx *ctx, const conv_case *c, tg_tensor **in)
{
    in[0] = tgt_rand(ctx, 4, (int64_t[]){c->N, c->C, c->H, c->W}, -1, 1, true);
    in[1] = tgt_rand(ctx, 4, (int64_t[]){c->O, c->C / c->g, c->kh, c->kw}, -1, 1, true);
    in[2] = c->bias ? tgt_rand(ctx, 1, (int64_t[]){c->O}, -1, 1, true) : NULL;
}

START_TEST(conv_hand)
{
    /* 1x1x3x3 input 1..9, 2x2 kernel of ones, pad 0: window sums */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_arange(ctx, 1, 10, 1);
    x = tg_reshape(ctx, x, 4, (int64_t[]){1, 1, 3, 3});
    tg_tensor *w = tg_ones(ctx, 4, (int64_t[]){1, 1, 2, 2});
    tg_tensor *b = tg_full(ctx, 1, (int64_t[]){1}, 0.5f);
    tg_tensor *y = tg_conv2d(ctx, x, w, b, 1, 0, 1, 1);
    tgt_assert_tensor(y, ((float[]){12.5f, 16.5f, 24.5f, 28.5f}), 4, 0);
    /* pad 1, stride 2: corners of the padded map */
    y = tg_conv2d(ctx, x, w, NULL, 2, 1, 1, 1);
    ck_assert_int_eq(tg_tensor_dim(y, 2), 2);
    tgt_assert_tensor(y, ((float[]){1, 5, 11, 28}), 4, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(conv_forward)
{
    const conv_case *c = &cases[_i];
    tg_ctx *ctx = tgt_ctx(100 + (uint64_t)_i);
    tg_tensor *in[3];
    make_inputs(ctx, c, in);
    tg_tensor *y = tg_conv2d(ctx, in[0], in[1], in[2], c->s, c->p, c->d, c->g);
    ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
    int64_t Ho = out_size(c->H, c->kh, c), Wo = out_size(c->W, c->kw, c);
    ck_assert_int_eq(tg_tensor_dim(y, 0), c->N);
    ck_assert_int_eq(tg_tensor_dim(y, 1), c->O);
    ck_assert_int_eq(tg_tensor_dim(y, 2), Ho);
    ck_assert_int_eq(tg_tensor_dim(y, 3), Wo);
    size_t n = (size_t)(c->N * c->O * Ho * Wo);
    float *want = malloc(n * sizeof *want);
    ref_conv(c, tg_tensor_data(in[0]), tg_tensor_data(in[1]),
             in[2] ? tg_tensor_data(in[2]) : NULL, want);
    tgt_assert_close(tg_tensor_data(y), want, n, 1e-5, 1e-5);
    free(want);
    tg_ctx_destroy(ctx);
}
END_TEST

static tg_tensor *conv_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const conv_case *c = arg;
    return tg_conv2d(ctx, in[0], in[1], in[2], c->s, c->p, c->d, c->g);
}

START_TEST(conv_grad)
{
    const conv_case *c = &cases[_i];
    tg_ctx *ctx = tgt_ctx(200 + (uint64_t)_i);
    tg_tensor *in[3];
    make_inputs(ctx, c, in);
    int n_in = c->bias ? 3 : 2; /* the checker walks in[0..n_in) */
    tgt_gradcheck(ctx, conv_fn, (void *)c, in, n_in);
    /* weights only (first layer: the input needs no gradient) */
    ck_assert_int_eq(tg_tensor_set_requires_grad(in[0], false), TG_OK);
    tgt_gradcheck(ctx, conv_fn, (void *)c, in, n_in);
    tg_ctx_destroy(ctx);
}
END_TEST

/* 1 and 2 threads give bit-identical outputs and gradients. */
START_TEST(conv_threads)
{
    /* direct path; Winograd path (dW by dot products, then by the packed
     * GEMM, the threads splitting its transform points); unfold path on 7x7 maps, whose forward multiplies several
     * samples at once (a group of 5 on 1 thread is 4 + 3 on 2) and whose
     * backward has 2-sample chunks (dx by one GEMM per chunk, dW packed) */
    static const conv_case tcases[] = {{5, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1, true},
                                       {5, 32, 9, 9, 32, 3, 3, 1, 1, 1, 1, true},
                                       {3, 128, 4, 4, 128, 3, 3, 1, 1, 1, 1, true},
                                       {7, 64, 14, 14, 128, 3, 3, 2, 1, 1, 1, true},
                                       {3, 16, 9, 9, 16, 3, 3, 1, 1, 1, 16, true},
                                       {3, 16, 18, 17, 16, 3, 3, 2, 1, 1, 16, true}};
    conv_case c = tcases[_i];
    float *res[2][4];
    for (int t = 0; t < 2; t++) {
        tg_ctx *ctx = tgt_ctx_threads(9, t + 1);
        tg_tensor *in[3];
        make_inputs(ctx, &c, in);
        tg_tensor *y = tg_conv2d(ctx, in[0], in[1], in[2], c.s, c.p, c.d, c.g);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
        tg_tensor *all[4] = {y, in[0], in[1], in[2]};
        for (int k = 0; k < 4; k++) {
            size_t n = (size_t)tg_tensor_numel(all[k]);
            res[t][k] = malloc(n * sizeof(float));
            memcpy(res[t][k], k ? tg_tensor_grad(all[k]) : tg_tensor_data(all[k]),
                   n * sizeof(float));
            if (t == 1) {
                ck_assert_msg(memcmp(res[0][k], res[1][k], n * sizeof(float)) == 0,
                              "tensor %d differs between 1 and 2 threads", k);
                free(res[0][k]);
                free(res[1][k]);
            }
        }
        tg_ctx_destroy(ctx);
    }
}
END_TEST

/* Gradients of the unfold + GEMM path against a double-precision reference
 * on larger maps than the finite-difference cases: weight-gradient dot
 * products longer than the vector loop with a tail (P > 256 output pixels,
 * odd) or over two samples (P = 16, 4 chunks of 2), the 3x3 stride-2 fold
 * with an odd width and 1x1 stride-2 shortcuts (one with odd H and W, whose
 * fresh dx is written in one pass), and stride-2 layers whose dx is four
 * phase GEMMs. Loss sum(y * r): dy = r. */
static const conv_case big_cases[] = {
    {2, 3, 34, 33, 5, 3, 3, 2, 1, 1, 1, true},  /* 3x3 s2: P = 289, W odd */
    {2, 16, 16, 16, 8, 3, 3, 2, 1, 1, 1, false}, /* 3x3 s2, Kg 144, W even */
    {2, 4, 40, 40, 6, 1, 1, 2, 0, 1, 1, false},  /* 1x1 s2: P = 400 */
    {2, 3, 9, 7, 5, 1, 1, 2, 0, 1, 1, true},     /* 1x1 s2, H and W odd */
    {2, 5, 20, 19, 3, 3, 3, 1, 2, 2, 1, true},   /* dilation 2: P = 380 */
    {8, 128, 8, 8, 64, 3, 3, 2, 1, 1, 1, true},  /* P = 16: 2 samples per dot */
    {2, 3, 16, 32, 8, 3, 3, 1, 1, 1, 1, true},   /* GEMM forward, direct backward */
    {2, 80, 8, 8, 8, 3, 3, 1, 1, 1, 1, false},   /* phase-plane forward, unfold backward */
    /* AVX2 and AVX-512 kernels, output rows of 16 or 32 floats: dx by
     * phases at stride 2 (H = 2 Ho, W = 2 Wo), and dW from runs of the
     * phase planes (wgrad_dots) */
    {2, 16, 32, 32, 32, 3, 3, 2, 1, 1, 1, true}, /* ResNet's 16 -> 32 on 32x32 */
    {2, 8, 32, 32, 8, 3, 3, 2, 1, 1, 2, false},  /* groups 2 */
    {3, 4, 6, 32, 8, 3, 3, 2, 1, 1, 1, true},    /* P = 48: GEMM tiles past the rows */
    {8, 128, 6, 32, 64, 3, 3, 2, 1, 1, 1, false}, /* ... 4 chunks of 2 samples per dot */
    {2, 4, 32, 32, 6, 4, 4, 2, 1, 1, 1, true},   /* 4x4: two taps per phase, dy padded before */
    {2, 4, 16, 32, 5, 2, 2, 2, 0, 1, 1, false},  /* 2x2, no padding: one tap per phase */
    {1, 3, 32, 32, 4, 5, 5, 2, 2, 1, 1, true},   /* 5x5 */
    {1, 130, 32, 32, 80, 3, 3, 2, 1, 1, 1, false}, /* 4 x 80 = 320 rows: two K blocks */
    {1, 300, 16, 16, 8, 3, 3, 1, 1, 1, 1, false}, /* stride 1, the padded sample's runs */
    {1, 4, 20, 32, 3, 3, 3, 1, 2, 2, 1, true},   /* stride 1, dilation 2 */
    {2, 16, 32, 32, 32, 1, 1, 2, 0, 1, 1, false}, /* 1x1 stride 2, rows of 16: unfold, one-pass dx */
    /* small maps: the forward multiplies several samples at once; dW by
     * the packed GEMM where the dots would end in a scalar tail (P = 49;
     * 3x3 outputs, two samples' 18 pixels), dx by one GEMM per 2-sample
     * chunk */
    {5, 32, 14, 14, 48, 3, 3, 2, 1, 1, 1, true},
    {8, 128, 6, 6, 64, 3, 3, 2, 1, 1, 1, true},
    /* depthwise: planes of several vectors, one sample (the forward splits
     * planes, not samples), 18 samples (chunks of 2) */
    {1, 24, 30, 33, 24, 3, 3, 1, 1, 1, 24, true},
    {18, 5, 12, 12, 5, 3, 3, 1, 1, 1, 5, false},
    /* depthwise stride 2: phase rows of whole vectors (AVX2 and AVX-512),
     * odd W; 14x14 planes (MobileNet's last stride-2 layer); 5x5 */
    {2, 8, 34, 33, 8, 3, 3, 2, 1, 1, 8, true},
    {3, 16, 14, 14, 16, 3, 3, 2, 1, 1, 16, false},
    {2, 4, 40, 40, 4, 5, 5, 2, 2, 1, 4, true},
};

static void ref_conv_grads(const conv_case *c, const float *x, const float *w, const float *r,
                           float *dx, float *dw)
{
    int64_t Ho = out_size(c->H, c->kh, c), Wo = out_size(c->W, c->kw, c);
    int64_t cig = c->C / c->g, cog = c->O / c->g;
    int64_t nx = c->N * c->C * c->H * c->W, nw = c->O * cig * c->kh * c->kw;
    double *gx = calloc((size_t)nx, sizeof *gx), *gw = calloc((size_t)nw, sizeof *gw);
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t o = 0; o < c->O; o++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double g = r[((n * c->O + o) * Ho + oh) * Wo + ow];
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t i = 0; i < c->kh; i++)
                            for (int64_t j = 0; j < c->kw; j++) {
                                int64_t ih = oh * c->s - c->p + i * c->d;
                                int64_t iw = ow * c->s - c->p + j * c->d;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
                                    continue;
                                int64_t xi = ((n * c->C + o / cog * cig + ci) * c->H + ih) * c->W + iw;
                                int64_t wi = ((o * cig + ci) * c->kh + i) * c->kw + j;
                                gx[xi] += g * w[wi];
                                gw[wi] += g * x[xi];
                            }
                }
    for (int64_t i = 0; i < nx; i++)
        dx[i] = (float)gx[i];
    for (int64_t i = 0; i < nw; i++)
        dw[i] = (float)gw[i];
    free(gx);
    free(gw);
}

/* The bias gradient of loss sum(y * r): db[o] = sum of r over samples and
 * pixels (buf: O floats). */
static void assert_db(const conv_case *c, tg_tensor *b, tg_tensor *r, float *buf)
{
    const int64_t P = tg_tensor_numel(r) / (c->N * c->O);
    for (int64_t o = 0; o < c->O; o++) {
        double sum = 0;
        for (int64_t n = 0; n < c->N; n++)
            for (int64_t q = 0; q < P; q++)
                sum += tg_tensor_data(r)[(n * c->O + o) * P + q];
        buf[o] = (float)sum;
    }
    tgt_assert_close(tg_tensor_grad(b), buf, (size_t)c->O, 1e-4, 1e-4);
}

START_TEST(conv_grad_large_matches_reference)
{
    const conv_case *c = &big_cases[_i];
    tg_ctx *ctx = tgt_ctx(300 + (uint64_t)_i);
    tg_tensor *in[3];
    make_inputs(ctx, c, in);
    tg_tensor *y = tg_conv2d(ctx, in[0], in[1], in[2], c->s, c->p, c->d, c->g);
    ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
    tg_tensor *r = tgt_rand(ctx, 4, tg_tensor_shape(y), -1, 1, false);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, r))), TG_OK);
    size_t nx = (size_t)tg_tensor_numel(in[0]), nw = (size_t)tg_tensor_numel(in[1]);
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    ref_conv_grads(c, tg_tensor_data(in[0]), tg_tensor_data(in[1]), tg_tensor_data(r), dx, dw);
    tgt_assert_close(tg_tensor_grad(in[0]), dx, nx, 1e-4, 1e-4);
    tgt_assert_close(tg_tensor_grad(in[1]), dw, nw, 1e-4, 1e-4);
    if (in[2])
        assert_db(c, in[2], r, dw);
    free(dx);
    free(dw);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A batch's weight and bias gradients are the sums of its samples' (each
 * computed alone), where the unfold path's chunks hold two samples and dW
 * takes two packed GEMMs per chunk (P = 17 x 17 = 289 pixels, 128 x 576),
 * and its input gradient each sample's. Then a frozen weight: dx of
 * 2-sample chunks by one GEMM (3x3 outputs) without dW's copy of dy. */
START_TEST(conv_batch_sums_samples)
{
    const conv_case c = {8, 64, 34, 34, 128, 3, 3, 2, 1, 1, 1, true};
    tg_ctx *ctx = tgt_ctx(41);
    tg_tensor *in[3];
    make_inputs(ctx, &c, in);
    tg_tensor *y = tg_conv2d(ctx, in[0], in[1], in[2], c.s, c.p, c.d, c.g);
    ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
    tg_tensor *r = tgt_rand(ctx, 4, tg_tensor_shape(y), -1, 1, false);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, r))), TG_OK);
    const size_t nw = (size_t)tg_tensor_numel(in[1]), nx1 = (size_t)(c.C * c.H * c.W);
    const size_t ny1 = (size_t)(tg_tensor_numel(y) / c.N);
    float *gw = malloc(nw * sizeof *gw), *gb = malloc((size_t)c.O * sizeof *gb);
    float *gx = malloc((size_t)c.N * nx1 * sizeof *gx);
    memcpy(gw, tg_tensor_grad(in[1]), nw * sizeof *gw);
    memcpy(gb, tg_tensor_grad(in[2]), (size_t)c.O * sizeof *gb);
    memcpy(gx, tg_tensor_grad(in[0]), (size_t)c.N * nx1 * sizeof *gx);
    double *sw = calloc(nw, sizeof *sw), *sb = calloc((size_t)c.O, sizeof *sb);
    for (int64_t n = 0; n < c.N; n++) {
        tg_ctx_reset(ctx);
        tg_tensor *xn = tgt_rand(ctx, 4, (int64_t[]){1, c.C, c.H, c.W}, 0, 0, true);
        memcpy(tg_tensor_data(xn), tg_tensor_data(in[0]) + n * (int64_t)nx1, nx1 * sizeof(float));
        tg_tensor_zero_grad(in[1]);
        tg_tensor_zero_grad(in[2]);
        tg_tensor *yn = tg_conv2d(ctx, xn, in[1], in[2], c.s, c.p, c.d, c.g);
        tg_tensor *rn = tgt_rand(ctx, 4, tg_tensor_shape(yn), 0, 0, false);
        memcpy(tg_tensor_data(rn), tg_tensor_data(r) + n * (int64_t)ny1, ny1 * sizeof(float));
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, yn, rn))), TG_OK);
        for (size_t i = 0; i < nw; i++)
            sw[i] += tg_tensor_grad(in[1])[i];
        for (int64_t o = 0; o < c.O; o++)
            sb[o] += tg_tensor_grad(in[2])[o];
        tgt_assert_close(gx + n * (int64_t)nx1, tg_tensor_grad(xn), nx1, 1e-5, 1e-5);
    }
    float *fw = malloc(nw * sizeof *fw), *fb = malloc((size_t)c.O * sizeof *fb);
    for (size_t i = 0; i < nw; i++)
        fw[i] = (float)sw[i];
    for (int64_t o = 0; o < c.O; o++)
        fb[o] = (float)sb[o];
    tgt_assert_close(gw, fw, nw, 1e-4, 1e-4);
    tgt_assert_close(gb, fb, (size_t)c.O, 1e-4, 1e-4);
    free(gw), free(gb), free(gx), free(sw), free(sb), free(fw), free(fb);

    const conv_case f = {8, 128, 6, 6, 64, 3, 3, 2, 1, 1, 1, false};
    tg_ctx_reset(ctx);
    make_inputs(ctx, &f, in);
    ck_assert_int_eq(tg_tensor_set_requires_grad(in[1], false), TG_OK);
    y = tg_conv2d(ctx, in[0], in[1], NULL, f.s, f.p, f.d, f.g);
    r = tgt_rand(ctx, 4, tg_tensor_shape(y), -1, 1, false);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, r))), TG_OK);
    const size_t nx = (size_t)tg_tensor_numel(in[0]), nwf = (size_t)tg_tensor_numel(in[1]);
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nwf * sizeof *dw);
    ref_conv_grads(&f, tg_tensor_data(in[0]), tg_tensor_data(in[1]), tg_tensor_data(r), dx, dw);
    tgt_assert_close(tg_tensor_grad(in[0]), dx, nx, 1e-4, 1e-4);
    free(dx), free(dw);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A depthwise layer with its ReLU fused (as Sequential runs Conv2d then
 * ReLU) equals tg_relu(tg_conv2d()) bit for bit, values and gradients; at
 * stride 1 and 2. */
START_TEST(conv_depthwise_relu_fused)
{
    const conv_case c = {4, 12, 10, 11, 12, 3, 3, 1 + _i, 1, 1, 12, true};
    float *got[4] = {0}, *want[4] = {0};
    size_t ns[4];
    for (int fused = 0; fused < 2; fused++) {
        tg_ctx *ctx = tgt_ctx_threads(61, 2);
        tg_tensor *in[3];
        make_inputs(ctx, &c, in);
        tg_tensor *y = fused ? tg__conv2d_relu(ctx, in[0], in[1], in[2], c.s, 1, 1, 12)
                             : tg_relu(ctx, tg_conv2d(ctx, in[0], in[1], in[2], c.s, 1, 1, 12));
        ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
        tg_tensor *r = tgt_rand(ctx, 4, tg_tensor_shape(y), -1, 1, false);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, r))), TG_OK);
        tg_tensor *ts[4] = {y, in[0], in[1], in[2]};
        for (int k = 0; k < 4; k++) {
            ns[k] = (size_t)tg_tensor_numel(ts[k]);
            float **dst = fused ? got : want;
            dst[k] = malloc(ns[k] * sizeof(float));
            memcpy(dst[k], k ? tg_tensor_grad(ts[k]) : tg_tensor_data(ts[k]),
                   ns[k] * sizeof(float));
        }
        tg_ctx_destroy(ctx);
    }
    for (int k = 0; k < 4; k++) {
        tgt_assert_close(got[k], want[k], ns[k], 0, 0);
        free(got[k]), free(want[k]);
    }
}
END_TEST

/* Strided layers whose forward multiplies straight from phase planes (AVX2
 * and AVX-512 kernels; the plain C kernels unfold). Output rows of whole
 * vectors are read as runs: two K blocks (Kg 288) on 16 columns, 8 columns
 * (AVX2; half vectors on AVX-512), 32 columns (tiles inside a row). Other widths
 * compute Wph columns per row and drop the extra: groups with odd W,
 * dilation 2 with padding 2, stride 3 (the scalar split). 1x1 stride 2 is
 * written straight to y either way. Stride 1 reads whole-vector rows from
 * the padded sample (one plane): a layer of the direct kernels (3 channels),
 * one of the unfold (80 channels, 8 columns), a 5x5 kernel. Each on 1 and 2
 * threads (same bits) against the double-precision reference. */
static const conv_case phased_cases[] = {
    {2, 32, 32, 32, 5, 3, 3, 2, 1, 1, 1, true},  /* Kg 288, Wo 16 */
    {2, 8, 16, 16, 5, 3, 3, 2, 1, 1, 1, true},   /* Wo 8 */
    {1, 4, 64, 64, 3, 3, 3, 2, 1, 1, 1, false},  /* Wo 32 */
    {2, 8, 34, 33, 6, 3, 3, 2, 1, 1, 2, true},   /* groups 2, Wp 35 */
    {1, 2, 72, 72, 3, 3, 3, 2, 2, 2, 1, false},  /* dilation 2, pad 2 */
    {1, 4, 50, 50, 3, 3, 3, 3, 1, 1, 1, true},   /* stride 3 */
    {2, 16, 16, 16, 32, 1, 1, 2, 0, 1, 1, true}, /* 1x1 stride 2 */
    {2, 3, 16, 16, 16, 3, 3, 1, 1, 1, 1, true},  /* stride 1, few channels */
    {1, 80, 8, 8, 8, 3, 3, 1, 1, 1, 1, true},    /* stride 1, unfold's layer, Wo 8 */
    {1, 3, 32, 32, 8, 5, 5, 1, 2, 1, 1, false},  /* 5x5 stride 1, Wo 32 */
};

START_TEST(conv_phased_matches_reference)
{
    const conv_case *c = &phased_cases[_i];
    int64_t Ho = out_size(c->H, c->kh, c), Wo = out_size(c->W, c->kw, c);
    size_t n = (size_t)(c->N * c->O * Ho * Wo);
    float *y1 = malloc(n * sizeof *y1), *want = malloc(n * sizeof *want);
    for (int t = 1; t <= 2; t++) {
        tg_ctx *ctx = tgt_ctx_threads(500 + (uint64_t)_i, t);
        tg_tensor *in[3];
        make_inputs(ctx, c, in);
        tg_tensor *y = tg_conv2d(ctx, in[0], in[1], in[2], c->s, c->p, c->d, c->g);
        ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
        ck_assert_int_eq(tg_tensor_numel(y), (int64_t)n);
        if (t == 1) {
            memcpy(y1, tg_tensor_data(y), n * sizeof *y1);
            ref_conv(c, tg_tensor_data(in[0]), tg_tensor_data(in[1]),
                     in[2] ? tg_tensor_data(in[2]) : NULL, want);
            tgt_assert_close(y1, want, n, 1e-5, 1e-5);
        } else {
            ck_assert_msg(memcmp(y1, tg_tensor_data(y), n * sizeof *y1) == 0,
                          "case %d differs between 1 and 2 threads", _i);
        }
        tg_ctx_destroy(ctx);
    }
    free(y1);
    free(want);
}
END_TEST

/* Layers the Winograd path takes (3x3, stride 1, padding 1, at least 16
 * channels each way), against the double-precision reference, each value
 * also within 2e-6 of the sum of its terms' magnitudes (a few float
 * roundings; tiles 4 rows tall measured up to 7.2e-7, 2x2 1.5e-7):
 * odd heights and widths (a last tile half outside), tile rows that straddle
 * the GEMM's packed panels (width 37: 19 tiles per row), more than one block
 * of tile rows (13x37: 7 tile rows in blocks of 6), whole samples per block
 * in the forward, backward-data and weight-gradient passes (8x8, 2x3, and
 * blocks of 2 to 4 samples whose tiles straddle the packed panels: 3 x 8x8,
 * 8 x 6x5), channel counts that are not multiples of the micro-tile, rows
 * of tiles that are whole vectors or two or four rows a vector (32, 16,
 * 8 and 4 wide: the transforms in registers; tiles 4 rows tall where a
 * vector holds one or two tile rows, in blocks of tile rows on 36x64). The
 * output is also added to
 * the input (y + x when C == O), so that dx is once stored and once added.
 * Loss sum((y [+ x]) * r). */
static const conv_case wino_cases[] = {
    {2, 32, 9, 7, 32, 3, 3, 1, 1, 1, 1, true},
    {2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, false},
    {1, 40, 13, 37, 33, 3, 3, 1, 1, 1, 1, true},
    {3, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, true},
    {2, 33, 2, 3, 50, 3, 3, 1, 1, 1, 1, true},
    {8, 64, 6, 5, 64, 3, 3, 1, 1, 1, 1, true}, /* 4 chunks of 2 samples */
    {2, 16, 33, 32, 16, 3, 3, 1, 1, 1, 1, true}, /* whole vectors of tiles, last row half */
    {2, 24, 15, 16, 40, 3, 3, 1, 1, 1, 1, true}, /* the same on AVX2: rows of 8 tiles */
    {3, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, true}, /* AVX-512: two rows of 8 tiles a vector */
    {3, 16, 16, 8, 24, 3, 3, 1, 1, 1, 1, true},  /* AVX-512: four rows of 4 tiles a vector */
    {1, 16, 36, 64, 16, 3, 3, 1, 1, 1, 1, true}, /* tall tiles in 3 blocks of tile rows */
    {2, 16, 32, 8, 24, 3, 3, 1, 1, 1, 1, true},  /* AVX2: tall, two tile rows a vector */
    {2, 48, 14, 14, 48, 3, 3, 1, 1, 1, 1, true}, /* dU by the packed GEMM: blocks of 98 tiles */
    {1, 128, 4, 4, 128, 3, 3, 1, 1, 1, 1, false}, /* ... 128 x 128 channels */
    {1, 48, 20, 26, 48, 3, 3, 1, 1, 1, 1, true}, /* ... two blocks of tile rows (117 tiles) */
    /* more than one K block (256 channels) in a packed panel of V: dx's
     * 264 input channels over several panels of tiles */
    {1, 16, 16, 20, 264, 3, 3, 1, 1, 1, 1, false},
    /* more than 256 input channels (and 96 output pixels or more): U and
     * V in two K blocks (tall tiles; 2x2 tiles with W odd), dU split by
     * transform points (from 128 x 128 channels) */
    {2, 264, 6, 10, 32, 3, 3, 1, 1, 1, 1, true},
    {3, 272, 5, 9, 64, 3, 3, 1, 1, 1, 1, true},
};

/* |got - want| <= 2e-6 * mag + 1e-30 elementwise (mag: the sum of the
 * terms' magnitudes). */
static void assert_rounding(const float *got, const float *want, const float *mag, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= 2e-6 * mag[i] + 1e-30,
                      "element %zu: got %.9g, want %.9g, terms' magnitudes %.3g", i, got[i],
                      want[i], mag[i]);
}

static float *abs_copy(const float *x, size_t n)
{
    float *a = calloc(n ? n : 1, sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < n; i++)
        a[i] = fabsf(x[i]);
    return a;
}

START_TEST(conv_winograd_matches_reference)
{
    const conv_case *c = &wino_cases[_i];
    tg_ctx *ctx = tgt_ctx_threads(400 + (uint64_t)_i, 2);
    tg_tensor *in[3];
    make_inputs(ctx, c, in);
    tg_tensor *y = tg_conv2d(ctx, in[0], in[1], in[2], c->s, c->p, c->d, c->g);
    ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
    size_t ny = (size_t)tg_tensor_numel(y), nx = (size_t)tg_tensor_numel(in[0]);
    size_t nw = (size_t)tg_tensor_numel(in[1]);
    float *want = malloc(ny * sizeof *want);
    ref_conv(c, tg_tensor_data(in[0]), tg_tensor_data(in[1]),
             in[2] ? tg_tensor_data(in[2]) : NULL, want);
    tgt_assert_close(tg_tensor_data(y), want, ny, 1e-4, 1e-4);
    bool residual = c->C == c->O;
    tg_tensor *r = tgt_rand(ctx, 4, tg_tensor_shape(y), -1, 1, false);
    tg_tensor *s = residual ? tg_add(ctx, y, in[0]) : y;
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, s, r))), TG_OK);
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    ref_conv_grads(c, tg_tensor_data(in[0]), tg_tensor_data(in[1]), tg_tensor_data(r), dx, dw);
    if (residual) /* d(y + x)/dx adds r itself */
        for (size_t i = 0; i < nx; i++)
            dx[i] += tg_tensor_data(r)[i];
    tgt_assert_close(tg_tensor_grad(in[0]), dx, nx, 1e-4, 1e-4);
    tgt_assert_close(tg_tensor_grad(in[1]), dw, nw, 1e-4, 1e-4);
    /* the same with magnitudes: how far from the exact values rounding took */
    float *ax = abs_copy(tg_tensor_data(in[0]), nx), *aw = abs_copy(tg_tensor_data(in[1]), nw);
    float *ab = in[2] ? abs_copy(tg_tensor_data(in[2]), (size_t)c->O) : NULL;
    float *ar = abs_copy(tg_tensor_data(r), ny), *my = malloc(ny * sizeof *my);
    float *mx = malloc(nx * sizeof *mx), *mw = malloc(nw * sizeof *mw);
    ref_conv(c, ax, aw, ab, my);
    ref_conv_grads(c, ax, aw, ar, mx, mw);
    if (residual)
        for (size_t i = 0; i < nx; i++)
            mx[i] += ar[i];
    assert_rounding(tg_tensor_data(y), want, my, ny);
    assert_rounding(tg_tensor_grad(in[0]), dx, mx, nx);
    assert_rounding(tg_tensor_grad(in[1]), dw, mw, nw);
    free(ax), free(aw), free(ab), free(ar), free(my), free(mx), free(mw);
    if (in[2])
        assert_db(c, in[2], r, want);
    free(want);
    free(dx);
    free(dw);
    tg_ctx_destroy(ctx);
}
END_TEST

/* The case's convolution for tgt_check_fresh_grad; its weights are made in
 * the helper's context on the first call and kept for the later runs. */
typedef struct {
    const conv_case *c;
    tg_ctx *ctx;
    tg_tensor *w, *b;
} fresh_arg;

static tg_tensor *case_conv(tg_ctx *ctx, tg_tensor **x, void *arg)
{
    fresh_arg *a = arg;
    const conv_case *c = a->c;
    if (a->ctx != ctx) {
        a->ctx = ctx;
        a->w = tgt_rand(ctx, 4, (int64_t[]){c->O, c->C / c->g, c->kh, c->kw}, -1, 1, true);
        a->b = c->bias ? tgt_rand(ctx, 1, (int64_t[]){c->O}, -1, 1, true) : NULL;
    }
    return tg_conv2d(ctx, *x, a->w, a->b, c->s, c->p, c->d, c->g);
}

/* A convolution whose input is an intermediate stores dx into a fresh
 * gradient buffer that holds a previous step's values (here NaN): every
 * path (direct kernels, 1x1 GEMM, unfold + GEMM + fold, Winograd) must
 * overwrite all of it. dx must equal, exactly, that of a leaf input (added
 * into zeros). _i walks cases, then big_cases, then wino_cases. */
START_TEST(conv_fresh_dx_overwrites_stale)
{
    const int nb = (int)(sizeof big_cases / sizeof *big_cases);
    const conv_case *c = _i < N_CASES        ? &cases[_i]
                         : _i < N_CASES + nb ? &big_cases[_i - N_CASES]
                                             : &wino_cases[_i - N_CASES - nb];
    fresh_arg a = {c, NULL, NULL, NULL};
    tgt_check_fresh_grad(case_conv, &a, 4, (int64_t[]){c->N, c->C, c->H, c->W});
}
END_TEST

START_TEST(conv_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *x = tg_zeros(ctx, 4, (int64_t[]){2, 4, 5, 5});
    tg_tensor *w = tg_zeros(ctx, 4, (int64_t[]){6, 4, 3, 3});
    tg_mem_stats before, after;

    ck_assert_ptr_null(tg_conv2d(ctx, tg_zeros(ctx, 3, (int64_t[]){4, 5, 5}), w, NULL, 1, 0, 1, 1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "conv2d: input must be 4-D [N,C,H,W], got [4,5,5]");

    ck_assert_ptr_null(tg_conv2d(ctx, x, tg_zeros(ctx, 2, (int64_t[]){6, 4}), NULL, 1, 0, 1, 1));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "weight must be 4-D"));

    /* C_in/groups mismatch */
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 1, 0, 1, 2));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx),
                                 "conv2d: input [2,4,5,5] and weight [6,4,3,3] do not match "
                                 "with groups 2"));
    tg_tensor *w5 = tg_zeros(ctx, 4, (int64_t[]){6, 3, 3, 3});
    ck_assert_ptr_null(tg_conv2d(ctx, x, w5, NULL, 1, 0, 1, 1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);

    /* bad parameters */
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 0, 0, 1, 1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "got stride 0"));
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 1, -1, 1, 1));
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 1, 0, 0, 1));
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 1, 0, 1, 0));

    /* output would be empty */
    tg_tensor *big = tg_zeros(ctx, 4, (int64_t[]){6, 4, 7, 3});
    ck_assert_ptr_null(tg_conv2d(ctx, x, big, NULL, 1, 0, 1, 1));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "conv2d: kernel 7x3 (dilation 1) is larger than "
                                             "the padded input 5x5 of [2,4,5,5]");
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 1, 0, 3, 1)); /* effective kernel 7 */
    ck_assert_ptr_nonnull(tg_conv2d(ctx, x, big, NULL, 1, 1, 1, 1)); /* padded 7x7 fits */

    /* bias */
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, tg_zeros(ctx, 1, (int64_t[]){5}), 1, 0, 1, 1));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "conv2d: bias [5] does not match"));

    /* a failed call allocates nothing */
    tg_ctx_mem_stats(ctx, &before);
    ck_assert_ptr_null(tg_conv2d(ctx, x, w, NULL, 1, 0, 1, 2));
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(before.arena_used, after.arena_used);

    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_conv2d(ctx, NULL, w, NULL, 1, 0, 1, 1));
    ck_assert_str_eq(tg_ctx_last_error(ctx), "conv2d: input tensor is NULL");
    tg_ctx_destroy(ctx);
}
END_TEST

/* The convolution with evaluation-mode batch norm, residual add and ReLU
 * fused into its output (tg__conv2d_bn_eval, inference) gives the bits of
 * the unfused public ops, on every convolution path: direct kernels (few
 * channels), Winograd (16 channels, odd sizes, whole vectors of tiles),
 * unfold + GEMM (stride 2, 1x1 stride 2, groups) and the 1x1 GEMM without
 * unfold. _i % N_BN: the layer;
 * _i / N_BN % 3: plain, ReLU, residual + ReLU; _i / (3 * N_BN): threads - 1. The conv
 * bias and the BN affine parameters are there in some cases, not in others;
 * a NaN in the input must come out where the unfused ops put it. */
static const conv_case bn_cases[] = {
    {3, 3, 12, 10, 8, 3, 3, 1, 1, 1, 1, true},    /* direct */
    {3, 3, 16, 16, 8, 3, 3, 1, 1, 1, 1, true},    /* GEMM from the padded sample */
    {3, 16, 9, 7, 16, 3, 3, 1, 1, 1, 1, false},   /* Winograd */
    {3, 16, 9, 9, 32, 3, 3, 2, 1, 1, 1, false},   /* unfold + GEMM, stride 2 */
    {3, 16, 9, 9, 32, 1, 1, 2, 0, 1, 1, true},    /* 1x1 stride 2 (the shortcut) */
    {3, 8, 6, 6, 8, 3, 3, 1, 1, 1, 2, true},      /* groups 2 */
    {3, 16, 5, 5, 16, 1, 1, 1, 0, 1, 1, false},   /* 1x1: no unfold */
    {1, 16, 39, 38, 16, 3, 3, 1, 1, 1, 1, true},  /* Winograd, two blocks of tile rows */
    {2, 16, 33, 32, 16, 3, 3, 1, 1, 1, 1, true},  /* Winograd, whole vectors of tiles */
    {2, 16, 15, 16, 24, 3, 3, 1, 1, 1, 1, false}, /* the same on AVX2 */
    {2, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, true},  /* two tile rows a vector (AVX-512) */
    {3, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, false},   /* the same on AVX2; four rows (AVX-512) */
    {3, 12, 9, 10, 12, 3, 3, 1, 1, 1, 12, true},  /* depthwise (direct, a plane at a time) */
    {3, 12, 11, 10, 12, 3, 3, 2, 1, 1, 12, false}, /* depthwise stride 2 (phase planes) */
};
#define N_BN ((int)(sizeof bn_cases / sizeof *bn_cases))

static const char *op_name(const tg_tensor *t) { return t && t->op ? t->op->name : ""; }

START_TEST(conv_bn_eval_fused_bits)
{
    const conv_case *c = &bn_cases[_i % N_BN];
    const int mode = _i / N_BN % 3;
    const bool affine = _i % 2 == 0;
    tg_ctx *ctx = tgt_ctx_threads(11, 1 + _i / (3 * N_BN));
    const int64_t Ho = out_size(c->H, c->kh, c), Wo = out_size(c->W, c->kw, c);
    const int64_t xs[4] = {c->N, c->C, c->H, c->W}, ws[4] = {c->O, c->C / c->g, c->kh, c->kw};
    const int64_t ys[4] = {c->N, c->O, Ho, Wo}, vs[1] = {c->O};
    tg_tensor *x = tgt_rand(ctx, 4, xs, -2, 2, false), *w = tgt_rand(ctx, 4, ws, -0.5f, 0.5f, false);
    tg_tensor *b = c->bias ? tgt_rand(ctx, 1, vs, -0.5f, 0.5f, false) : NULL;
    tg_tensor *bw = affine ? tgt_rand(ctx, 1, vs, 0.5f, 1.5f, false) : NULL;
    tg_tensor *bb = affine ? tgt_rand(ctx, 1, vs, -0.5f, 0.5f, false) : NULL;
    tg_tensor *rm = tgt_rand(ctx, 1, vs, -0.3f, 0.3f, false);
    tg_tensor *rv = tgt_rand(ctx, 1, vs, 0.5f, 2.0f, false);
    tg_tensor *res = mode == 2 ? tgt_rand(ctx, 4, ys, -1, 1, false) : NULL;
    tg_tensor_data(x)[2 * c->W + 2] = NAN; /* an even row and column: every layer reads it */
    const tg__bn_eval bn = {bw, bb, rm, rv, 1e-5f};
    const size_t bytes = (size_t)(c->N * c->O * Ho * Wo) * sizeof(float);
    for (int grad = 0; grad < 2; grad++) {
        /* with grad enabled and w needing a gradient: the unfused ops */
        tg_ctx_set_grad_enabled(ctx, grad);
        ck_assert_int_eq(tg_tensor_set_requires_grad(w, grad), TG_OK);
        tg_tensor *y = tg__conv2d_bn_eval(ctx, x, w, b, c->s, c->p, c->d, c->g, &bn, res,
                                          mode == 1);
        tg_tensor *z = tg_batch_norm2d(ctx, tg_conv2d(ctx, x, w, b, c->s, c->p, c->d, c->g), bw,
                                       bb, rm, rv, false, 0.1f, 1e-5f);
        if (res)
            z = tg_add(ctx, z, res);
        if (mode)
            z = tg_relu(ctx, z);
        ck_assert_ptr_nonnull(y);
        ck_assert_ptr_nonnull(z);
        tgt_assert_shape(y, 4, ys);
        ck_assert(memcmp(tg_tensor_data(y), tg_tensor_data(z), bytes) == 0);
        const char *fused[3] = {"conv2d_bn", "conv2d_bn_relu", "conv2d_bn_add_relu"};
        if (grad)
            ck_assert_str_ne(op_name(y), fused[mode]);
        else
            ck_assert_str_eq(op_name(y), fused[mode]);
        tg_ctx_reset(ctx);
    }
    int nan = 0, zero = 0;
    tg_ctx_set_grad_enabled(ctx, false);
    tg_tensor *y = tg__conv2d_bn_eval(ctx, x, w, b, c->s, c->p, c->d, c->g, &bn, res, mode == 1);
    for (int64_t i = 0; i < tg_tensor_numel(y); i++) {
        nan += isnan(tg_tensor_data(y)[i]);
        zero += tg_tensor_data(y)[i] == 0.0f;
    }
    ck_assert_int_gt(nan, 0);
    if (mode) /* the ReLU cuts some */
        ck_assert_int_gt(zero, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Where the fused form does not fit, tg__conv2d_bn_eval is the unfused ops:
 * a residual that broadcasts, BN tensors of another size (the batch norm's
 * own error), a bad convolution (conv2d's error). */
START_TEST(conv_bn_eval_falls_back)
{
    tg_ctx *ctx = tgt_ctx(12);
    tg_ctx_set_grad_enabled(ctx, false);
    const int64_t xs[4] = {2, 3, 6, 6}, ws[4] = {4, 3, 3, 3}, vs[1] = {4}, rs[4] = {1, 4, 1, 1};
    tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false), *w = tgt_rand(ctx, 4, ws, -1, 1, false);
    tg_tensor *rm = tgt_rand(ctx, 1, vs, -0.3f, 0.3f, false);
    tg_tensor *rv = tgt_rand(ctx, 1, vs, 0.5f, 2.0f, false);
    tg_tensor *res = tgt_rand(ctx, 4, rs, -1, 1, false);
    tg__bn_eval bn = {NULL, NULL, rm, rv, 1e-5f};
    tg_tensor *y = tg__conv2d_bn_eval(ctx, x, w, NULL, 1, 1, 1, 1, &bn, res, true);
    tg_tensor *z = tg_relu(ctx, tg_add(ctx, tg_batch_norm2d(ctx, tg_conv2d(ctx, x, w, NULL, 1, 1,
                                                                          1, 1),
                                                            NULL, NULL, rm, rv, false, 0.1f,
                                                            1e-5f),
                                       res));
    ck_assert_ptr_nonnull(y);
    ck_assert_str_eq(op_name(y), "relu");
    ck_assert(memcmp(tg_tensor_data(y), tg_tensor_data(z), 2 * 4 * 6 * 6 * sizeof(float)) == 0);

    bn.running_var = tgt_rand(ctx, 1, (int64_t[]){3}, 0.5f, 2.0f, false);
    ck_assert_ptr_null(tg__conv2d_bn_eval(ctx, x, w, NULL, 1, 1, 1, 1, &bn, NULL, true));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "batch_norm2d: running_var [3]"));
    bn.running_var = rv;
    ck_assert_ptr_null(tg__conv2d_bn_eval(ctx, x, w, NULL, 0, 1, 1, 1, &bn, NULL, true));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "conv2d:"));
    /* a kernel wider than the padded input, with a residual (whose shape
     * the fused form checks against an output width of 0): conv2d's error */
    tg_tensor *w7 = tgt_rand(ctx, 4, (int64_t[]){4, 3, 7, 7}, -1, 1, false);
    ck_assert_ptr_null(tg__conv2d_bn_eval(ctx, x, w7, NULL, 1, 0, 1, 1, &bn, res, true));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "conv2d: kernel 7x7"));
    tg_ctx_destroy(ctx);
}
END_TEST

/* Weights, bias and batch-norm parameters that are intermediates (p0 * 1):
 * their gradients (through the multiply, to p0) equal those of the leaves,
 * step after step, although the arena hands back buffers holding the last
 * step's values. Convolution and batch norm add into their parameters'
 * gradients: left "fresh", tg_backward zeroed them after the op had added
 * (the parameters' gradients were zero). Each convolution path: the direct
 * kernels (3 channels), Winograd (16, 3x3), the GEMM path (stride 2). */
static const int64_t inter_cases[][3] = {{3, 5, 1}, {16, 16, 1}, {16, 8, 2}}; /* C, O, stride */

START_TEST(conv_bn_intermediate_params)
{
    const int64_t C = inter_cases[_i][0], O = inter_cases[_i][1];
    const int stride = (int)inter_cases[_i][2];
    tg_ctx *ctx = tgt_ctx_threads(9, 2);
    tg_tensor *x = tgt_rand(ctx, 4, (int64_t[]){4, C, 10, 10}, -1, 1, false);
    tg_tensor *p[4] = {tgt_rand(ctx, 4, (int64_t[]){O, C, 3, 3}, -0.5f, 0.5f, true),
                       tgt_rand(ctx, 1, (int64_t[]){O}, -0.5f, 0.5f, true),
                       tgt_rand(ctx, 1, (int64_t[]){O}, 0.5f, 1.5f, true),
                       tgt_rand(ctx, 1, (int64_t[]){O}, -0.5f, 0.5f, true)};
    const int64_t n = O * C * 9 + 3 * O;
    float *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);
    ck_assert(want && got);
    for (int run = 0; run < 4; run++) {
        tg_tensor *q[4];
        for (int k = 0; k < 4; k++)
            q[k] = run ? tg_mul_scalar(ctx, p[k], 1.0f) : p[k];
        tg_tensor *y = tg_conv2d(ctx, x, q[0], q[1], stride, 1, 1, 1);
        y = tg_batch_norm2d(ctx, y, q[2], q[3], NULL, NULL, true, 0.1f, 1e-5f);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
        int64_t off = 0;
        for (int k = 0; k < 4; k++) {
            memcpy(got + off, tg_tensor_grad(p[k]), (size_t)tg_tensor_numel(p[k]) * sizeof *got);
            off += tg_tensor_numel(p[k]);
            tg_tensor_zero_grad(p[k]);
        }
        if (run == 0)
            memcpy(want, got, (size_t)n * sizeof *got);
        else
            for (int64_t i = 0; i < n; i++)
                ck_assert_msg(got[i] == want[i], "case %d run %d: gradient %lld = %g, want %g",
                              _i, run, (long long)i, (double)got[i], (double)want[i]);
        tg_ctx_reset(ctx);
    }
    free(want);
    free(got);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv2d");
    tcase_add_test(tc, conv_hand);
    tcase_add_loop_test(tc, conv_forward, 0, N_CASES);
    tcase_add_loop_test(tc, conv_grad, 0, N_CASES);
    tcase_add_loop_test(tc, conv_threads, 0, 6);
    tcase_add_test(tc, conv_batch_sums_samples);
    tcase_add_loop_test(tc, conv_depthwise_relu_fused, 0, 2);
    tcase_add_loop_test(tc, conv_grad_large_matches_reference, 0,
                        (int)(sizeof big_cases / sizeof *big_cases));
    tcase_add_loop_test(tc, conv_phased_matches_reference, 0,
                        (int)(sizeof phased_cases / sizeof *phased_cases));
    tcase_add_loop_test(tc, conv_winograd_matches_reference, 0,
                        (int)(sizeof wino_cases / sizeof *wino_cases));
    tcase_add_loop_test(tc, conv_fresh_dx_overwrites_stale, 0,
                        N_CASES + (int)(sizeof big_cases / sizeof *big_cases) +
                            (int)(sizeof wino_cases / sizeof *wino_cases));
    tcase_add_test(tc, conv_errors);
    tcase_add_loop_test(tc, conv_bn_eval_fused_bits, 0, 6 * N_BN);
    tcase_add_test(tc, conv_bn_eval_falls_back);
    tcase_add_loop_test(tc, conv_bn_intermediate_params, 0,
                        (int)(sizeof inter_cases / sizeof *inter_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
