/* SPDX-License-Identifier: MIT */
/* Internal kernels: every ISA variant of the flat convolution, weight
 * gradient and GEMM micro-kernels against naive references on odd shapes;
 * the direct convolution drivers (forward, backward data/weight/bias) against
 * a naive convolution for each ISA and thread count; determinism; dispatch. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "tg_test.h"

#include "kernels/kernels.h"
#include "tg_internal.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static float *rand_buf(size_t n, uint64_t seed)
{
    float *p = malloc(n * sizeof *p + 64);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand(&seed);
    return p;
}

/* Naive NCHW convolution, stride 1, zero padding. */
static void ref_conv(const tg__conv_geom *g, const float *x, const float *w, const float *b,
                     float *y)
{
    int64_t ho = g->h + 2 * g->pad - g->k + 1, wo = g->w + 2 * g->pad - g->k + 1;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t co = 0; co < g->cout; co++)
            for (int64_t oy = 0; oy < ho; oy++)
                for (int64_t ox = 0; ox < wo; ox++) {
                    double acc = b ? b[co] : 0.0;
                    for (int64_t ci = 0; ci < g->cin; ci++)
                        for (int ky = 0; ky < g->k; ky++)
                            for (int kx = 0; kx < g->k; kx++) {
                                int64_t iy = oy - g->pad + ky, ix = ox - g->pad + kx;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                acc += (double)w[((co * g->cin + ci) * g->k + ky) * g->k + kx] *
                                       x[((n * g->cin + ci) * g->h + iy) * g->w + ix];
                            }
                    y[((n * g->cout + co) * ho + oy) * wo + ox] = (float)acc;
                }
}

static void ref_conv_backward(const tg__conv_geom *g, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
    int64_t ho = g->h + 2 * g->pad - g->k + 1, wo = g->w + 2 * g->pad - g->k + 1;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t co = 0; co < g->cout; co++)
            for (int64_t oy = 0; oy < ho; oy++)
                for (int64_t ox = 0; ox < wo; ox++) {
                    float d = dy[((n * g->cout + co) * ho + oy) * wo + ox];
                    db[co] += d;
                    for (int64_t ci = 0; ci < g->cin; ci++)
                        for (int ky = 0; ky < g->k; ky++)
                            for (int kx = 0; kx < g->k; kx++) {
                                int64_t iy = oy - g->pad + ky, ix = ox - g->pad + kx;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                int64_t wi = ((co * g->cin + ci) * g->k + ky) * g->k + kx;
                                int64_t xi = ((n * g->cin + ci) * g->h + iy) * g->w + ix;
                                dx[xi] += d * w[wi];
                                dw[wi] += d * x[xi];
                            }
                }
}

/* n, cin, h, w, cout, k, pad: the MNIST CNN's and LeNet-5's layers plus odd
 * shapes (widths not a multiple of any vector, 1x1, 7x7, asymmetric
 * padding needs, more channels than one register tile). */
static const tg__conv_geom shapes[] = {
    {3, 1, 28, 28, 3, 3, 1, false, 1},  {2, 3, 28, 28, 6, 3, 1, false, 1},
    {2, 6, 28, 28, 9, 3, 1, false, 1},  {2, 1, 28, 28, 6, 5, 2, false, 1},
    {3, 6, 14, 14, 16, 5, 0, false, 1}, {3, 2, 7, 11, 5, 3, 0, false, 1},
    {1, 4, 5, 9, 13, 1, 0, false, 1},   {2, 3, 9, 6, 7, 7, 3, false, 1},
    {2, 5, 10, 13, 3, 4, 2, false, 1},  {2, 1, 3, 3, 1, 3, 2, false, 1},
    {5, 2, 6, 17, 26, 3, 1, false, 1},  {2, 9, 12, 12, 8, 6, 1, false, 1},
};
#define N_SHAPES (int)(sizeof shapes / sizeof *shapes)

static void check_direct(const tg__kernels *kt, int n_threads, const tg__conv_geom *g)
{
    int64_t ho = g->h + 2 * g->pad - g->k + 1, wo = g->w + 2 * g->pad - g->k + 1;
    size_t nx = (size_t)(g->n * g->cin * g->h * g->w), nw = (size_t)(g->cout * g->cin * g->k * g->k);
    size_t ny = (size_t)(g->n * g->cout * ho * wo), nb = (size_t)g->cout;
    float *x = rand_buf(nx, 1), *w = rand_buf(nw, 2), *b = rand_buf(nb, 3), *dy = rand_buf(ny, 4);
    float *y = calloc(ny, sizeof *y), *yr = calloc(ny, sizeof *yr);
    float *dx = rand_buf(nx, 5), *dw = rand_buf(nw, 6), *db = rand_buf(nb, 7);
    float *dxr = malloc(nx * sizeof *dxr), *dwr = malloc(nw * sizeof *dwr),
          *dbr = malloc(nb * sizeof *dbr);
    memcpy(dxr, dx, nx * sizeof *dx); /* backward accumulates into old values */
    memcpy(dwr, dw, nw * sizeof *dw);
    memcpy(dbr, db, nb * sizeof *db);
    tg_ctx *ctx = tgt_ctx_threads(1, n_threads);
    ck_assert(tg__conv_direct_ok(g, 1, 1, 1));
    float *ws = NULL;
    ck_assert(tg__conv_direct_prepare(ctx, g, true, &ws));

    tg__conv_direct_forward(ctx, kt, g, x, w, b, y, NULL);
    ref_conv(g, x, w, b, yr);
    tgt_assert_close(y, yr, ny, 1e-4, 1e-5);

    /* Fused ReLU; no bias. */
    const tg__conv_epi relu = {.relu = true};
    tg__conv_direct_forward(ctx, kt, g, x, w, NULL, y, &relu);
    ref_conv(g, x, w, NULL, yr);
    for (size_t i = 0; i < ny; i++)
        yr[i] = yr[i] > 0 ? yr[i] : 0;
    tgt_assert_close(y, yr, ny, 1e-4, 1e-5);

    tg__conv_direct_backward(ctx, kt, g, x, w, dy, NULL, dx, false, dw, db, ws);
    ref_conv_backward(g, x, w, dy, dxr, dwr, dbr);
    tgt_assert_close(dx, dxr, nx, 1e-4, 1e-4);
    tgt_assert_close(dw, dwr, nw, 1e-4, 1e-3);
    tgt_assert_close(db, dbr, nb, 1e-4, 1e-3);

    /* Each gradient on its own (the others NULL) gives the same values. */
    float *dw2 = calloc(nw, sizeof *dw2), *dx2 = calloc(nx, sizeof *dx2);
    tg__conv_direct_backward(ctx, kt, g, x, w, dy, NULL, NULL, false, dw2, NULL, ws);
    tg__conv_direct_backward(ctx, kt, g, x, w, dy, NULL, dx2, false, NULL, NULL, ws);
    for (size_t i = 0; i < nw; i++)
        dwr[i] = dw[i] - dw2[i];
    /* dw held rand + grad; subtracting the lone grad must leave the start. */
    float *dw0 = rand_buf(nw, 6);
    tgt_assert_close(dwr, dw0, nw, 1e-4, 1e-3);
    float *dx0 = rand_buf(nx, 5);
    for (size_t i = 0; i < nx; i++)
        dxr[i] = dx[i] - dx2[i];
    tgt_assert_close(dxr, dx0, nx, 1e-4, 1e-4);
    /* dx_store overwrites stale values with the bits accumulation into zeros gives. */
    float *dx3 = rand_buf(nx, 9);
    tg__conv_direct_backward(ctx, kt, g, x, w, dy, NULL, dx3, true, NULL, NULL, ws);
    ck_assert(memcmp(dx3, dx2, nx * sizeof *dx3) == 0);
    free(dx3);

    tg_ctx_destroy(ctx);
    free(x), free(w), free(b), free(dy), free(y), free(yr), free(dx), free(dw), free(db);
    free(dxr), free(dwr), free(dbr), free(dw2), free(dx2), free(dw0), free(dx0);
}

START_TEST(direct_conv_matches_naive)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return; /* this CPU cannot run the ISA; the generic case always runs */
    ck_assert_int_eq(kt->isa, _i);
    for (int s = 0; s < N_SHAPES; s++)
        for (int t = 1; t <= 3; t++)
            check_direct(kt, t, &shapes[s]);
}
END_TEST

/* Weight and bias gradients are bit-identical for every thread count (the
 * batch is chunked by its size only), and so are repeated runs. */
START_TEST(direct_conv_deterministic)
{
    const tg__conv_geom g = {37, 3, 28, 28, 6, 3, 1, false, 1};
    enum { NX = 37 * 3 * 28 * 28, NW = 6 * 3 * 9, NY = 37 * 6 * 28 * 28 };
    float *x = rand_buf(NX, 11), *w = rand_buf(NW, 12), *dy = rand_buf(NY, 13);
    float dw[4][NW], db[4][6];
    memset(dw, 0, sizeof dw);
    memset(db, 0, sizeof db);
    for (int t = 1; t <= 3; t++) {
        tg_ctx *ctx = tgt_ctx_threads(1, t);
        float *ws = NULL;
        ck_assert(tg__conv_direct_prepare(ctx, &g, true, &ws));
        tg__conv_direct_backward(ctx, NULL, &g, x, w, dy, NULL, NULL, false, dw[t], db[t], ws);
        if (t == 3) /* run again on the same ctx */
            tg__conv_direct_backward(ctx, NULL, &g, x, w, dy, NULL, NULL, false, dw[0], db[0], ws);
        tg_ctx_destroy(ctx);
    }
    for (int t = 0; t <= 2; t++) {
        ck_assert_mem_eq(dw[t], dw[3], sizeof dw[0]);
        ck_assert_mem_eq(db[t], db[3], sizeof db[0]);
    }
    free(x), free(w), free(dy);
}
END_TEST

/* Depthwise layers with the channels in the vector lanes (conv_dwc_*, the
 * AVX2 and AVX-512 tables) against the same ISA's plane-at-a-time kernels
 * (the table without them): the forward bit for bit at stride 1 (the same
 * multiply-adds in the same order), within rounding at stride 2 and for the
 * gradients; fused ReLU masks; the same bits on 1 and 3 threads. Shapes
 * leave a part block of channels (37 = 2 x 16 + 5; 21, 35 on AVX2) and
 * planes whose pixels are no whole number of vectors; taps 1 to 7. */
static const tg__conv_geom dwc_shapes[] = {
    {3, 37, 7, 7, 37, 3, 1, true, 1},   {2, 16, 14, 14, 16, 3, 1, true, 2},
    {2, 21, 9, 11, 21, 5, 2, true, 1},  {1, 8, 13, 10, 8, 7, 3, true, 2},
    {2, 35, 12, 12, 35, 2, 0, true, 2}, {1, 17, 5, 6, 17, 4, 3, true, 1},
    {2, 3, 28, 28, 3, 1, 0, true, 1},   {5, 32, 10, 9, 32, 6, 2, true, 2},
};

/* Forward (bias, then fused ReLU without), backward (dx added, dw, db; the
 * ReLU mask fused) of g with table kt on n_threads into out[0..5]. */
static void dwc_run(const tg__kernels *kt, int n_threads, const tg__conv_geom *g, float *out[6])
{
    const int64_t ho = (g->h + 2 * g->pad - g->k) / g->stride + 1;
    const int64_t wo = (g->w + 2 * g->pad - g->k) / g->stride + 1;
    const size_t nx = (size_t)(g->n * g->cin * g->h * g->w), nw = (size_t)(g->cin * g->k * g->k);
    const size_t ny = (size_t)(g->n * g->cin * ho * wo);
    float *x = rand_buf(nx, 21), *w = rand_buf(nw, 22), *b = rand_buf((size_t)g->cin, 23);
    float *dy = rand_buf(ny, 24);
    out[0] = calloc(ny, sizeof(float)), out[1] = calloc(ny, sizeof(float));
    out[2] = rand_buf(nx, 25), out[3] = calloc(nw, sizeof(float));
    out[4] = calloc((size_t)g->cin, sizeof(float)), out[5] = rand_buf(nx, 26);
    tg_ctx *ctx = tgt_ctx_threads(1, n_threads);
    float *ws = NULL;
    ck_assert(tg__conv_direct_ok(g, g->stride, 1, (int)g->cin));
    ck_assert(tg__conv_direct_prepare(ctx, g, true, &ws));
    tg__conv_direct_forward(ctx, kt, g, x, w, b, out[0], NULL);
    const tg__conv_epi relu = {.relu = true};
    tg__conv_direct_forward(ctx, kt, g, x, w, NULL, out[1], &relu);
    tg__conv_direct_backward(ctx, kt, g, x, w, dy, out[1], out[2], false, out[3], out[4], ws);
    tg__conv_direct_backward(ctx, kt, g, x, w, dy, NULL, out[5], true, NULL, NULL, ws);
    tg_ctx_destroy(ctx);
    free(x), free(w), free(b), free(dy);
}

START_TEST(depthwise_lanes_match_planes)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt || !kt->conv_dwc_fwd_range)
        return; /* the plain C table has no lane kernels */
    tg__kernels planes = *kt;
    planes.conv_dwc_fwd_range = planes.conv_dwc_bwd_range = NULL;
    for (size_t s = 0; s < sizeof dwc_shapes / sizeof *dwc_shapes; s++) {
        const tg__conv_geom *g = &dwc_shapes[s];
        const int64_t ho = (g->h + 2 * g->pad - g->k) / g->stride + 1;
        const int64_t wo = (g->w + 2 * g->pad - g->k) / g->stride + 1;
        const size_t ny = (size_t)(g->n * g->cin * ho * wo);
        const size_t nx = (size_t)(g->n * g->cin * g->h * g->w);
        const size_t n[6] = {ny, ny, nx, (size_t)(g->cin * g->k * g->k), (size_t)g->cin, nx};
        float *lanes[6], *lanes3[6], *ref[6];
        dwc_run(kt, 1, g, lanes);
        dwc_run(kt, 3, g, lanes3);
        dwc_run(&planes, 1, g, ref);
        for (int i = 0; i < 6; i++) {
            ck_assert_msg(memcmp(lanes[i], lanes3[i], n[i] * sizeof(float)) == 0,
                          "shape %zu output %d differs between 1 and 3 threads", s, i);
            if (g->stride == 1 && i < 2)
                ck_assert_msg(memcmp(lanes[i], ref[i], n[i] * sizeof(float)) == 0,
                              "shape %zu forward %d: not the flat kernels' bits", s, i);
            else
                tgt_assert_close(lanes[i], ref[i], n[i], 1e-5, 1e-5);
            free(lanes[i]), free(lanes3[i]), free(ref[i]);
        }
    }
}
END_TEST

START_TEST(direct_conv_rejects)
{
    tg__conv_geom g = {1, 3, 28, 28, 6, 3, 1, false, 1};
    ck_assert(!tg__conv_direct_ok(&g, 2, 1, 1));
    ck_assert(!tg__conv_direct_ok(&g, 1, 2, 1));
    ck_assert(!tg__conv_direct_ok(&g, 1, 1, 3));
    g.pad = 3; /* pad > k-1: backward data would need negative padding */
    ck_assert(!tg__conv_direct_ok(&g, 1, 1, 1));
    g.pad = 1;
    g.k = 9;
    ck_assert(!tg__conv_direct_ok(&g, 1, 1, 1));
    g.k = 3;
    g.cin = 256;
    ck_assert(!tg__conv_direct_ok(&g, 1, 1, 1));
}
END_TEST

/* Flat kernels straight: every ISA against the generic one and a naive loop. */
START_TEST(flat_kernels_match)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return;
    struct { int cin, cout, k; int64_t wp, ho; } cases[] = {
        {1, 3, 3, 30, 28}, {6, 9, 3, 30, 28}, {2, 13, 5, 11, 3}, {3, 1, 1, 7, 5}, {4, 8, 7, 13, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int cin = cases[c].cin, cout = cases[c].cout, k = cases[c].k;
        int64_t wp = cases[c].wp, len = cases[c].ho * wp, n = tg__conv_round(len);
        int64_t in_cs = n + (k - 1) * (wp + 1) + 5, out_cs = n + 3;
        float *in = rand_buf((size_t)(cin * in_cs), 21), *w = rand_buf((size_t)(cout * cin * k * k), 22);
        float *dy = rand_buf((size_t)(cout * out_cs), 23);
        for (int co = 0; co < cout; co++) /* zero past len, as the contract asks */
            for (int64_t o = len; o < out_cs; o++)
                dy[co * out_cs + o] = 0;
        float *o1 = calloc((size_t)(cout * out_cs), 4), *o2 = calloc((size_t)(cout * out_cs), 4);
        float *ref = calloc((size_t)(cout * out_cs), 4);
        size_t nw = (size_t)(cout * cin * k * k);
        float *g1 = calloc(nw, 4), *g2 = calloc(nw, 4), *gr = calloc(nw, 4);
        kt->conv_flat(cin, cout, k, wp, len, in, in_cs, w, o1, out_cs);
        tg__kernels_generic.conv_flat(cin, cout, k, wp, len, in, in_cs, w, o2, out_cs);
        kt->conv_wgrad(cin, cout, k, wp, len, in, in_cs, dy, out_cs, g1);
        tg__kernels_generic.conv_wgrad(cin, cout, k, wp, len, in, in_cs, dy, out_cs, g2);
        for (int co = 0; co < cout; co++)
            for (int64_t o = 0; o < len; o++) {
                double acc = 0;
                for (int ci = 0; ci < cin; ci++)
                    for (int t = 0; t < k * k; t++) {
                        float xv = in[ci * in_cs + o + (t / k) * wp + t % k];
                        acc += (double)w[(co * cin + ci) * k * k + t] * xv;
                        gr[(co * cin + ci) * k * k + t] += dy[co * out_cs + o] * xv;
                    }
                ref[co * out_cs + o] = (float)acc;
            }
        for (int co = 0; co < cout; co++) {
            tgt_assert_close(o1 + co * out_cs, ref + co * out_cs, (size_t)len, 1e-4, 1e-5);
            tgt_assert_close(o2 + co * out_cs, ref + co * out_cs, (size_t)len, 1e-4, 1e-5);
        }
        tgt_assert_close(g1, gr, nw, 1e-4, 1e-3);
        tgt_assert_close(g2, gr, nw, 1e-4, 1e-3);
        free(in), free(w), free(dy), free(o1), free(o2), free(ref), free(g1), free(g2), free(gr);
    }
}
END_TEST

START_TEST(gemm_micro_matches)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return;
    int mr = kt->gemm_mr, nr = kt->gemm_nr;
    ck_assert_int_gt(mr, 0);
    ck_assert_int_gt(nr, 0);
    const int64_t kcs[] = {1, 7, 64};
    for (size_t q = 0; q < 3; q++) {
        int64_t kc = kcs[q];
        float *a = rand_buf((size_t)(kc * mr), 31), *b = rand_buf((size_t)(kc * nr), 32);
        int64_t ldc = nr + 3;
        /* nr / 2: one vector of columns on AVX2 and AVX-512 (a kernel of its own) */
        const int ns[] = {nr, 1, nr - 1 > 0 ? nr - 1 : 1, nr / 2 > 0 ? nr / 2 : 1};
        /* alpha 1.5 / beta 0, 0.75: the general store; alpha 1 / beta 0, 1 on a
         * full-width tile: the direct store. Every row count (partial tiles
         * run a shorter kernel: rows 2, 4, 8 or MR). */
        const float alphas[] = {1.5f, 1.5f, 1.0f, 1.0f}, betas[] = {0.0f, 0.75f, 0.0f, 1.0f};
        float *fulls = malloc((size_t)(16 * mr * ldc) * 4); /* per (n, alpha/beta) */
        for (int t = 0; t < 4 * mr; t++) /* m = mr (t < 4) first, n = nr (t = 0) first */
            for (int ab = 0; ab < 4; ab++) {
                float alpha = alphas[ab], beta = betas[ab];
                int m = mr - t / 4, n = ns[t % 4];
                float *full = fulls + (t % 4 * 4 + ab) * mr * ldc;
                float *c = rand_buf((size_t)(mr * ldc), 33), *want = malloc((size_t)(mr * ldc) * 4);
                if (beta == 0.0f)
                    for (int64_t i = 0; i < mr * ldc; i++)
                        c[i] = NAN; /* beta 0 must not read C */
                memcpy(want, c, (size_t)(mr * ldc) * 4);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double acc = 0;
                        for (int64_t p = 0; p < kc; p++)
                            acc += (double)a[p * mr + i] * b[p * nr + j];
                        want[i * ldc + j] = (float)(alpha * acc +
                                                    (beta != 0.0f ? beta * c[i * ldc + j] : 0.0));
                    }
                if (m == mr) /* a full tile's rows, for the bits of the shorter ones */
                    memcpy(full, c, (size_t)(mr * ldc) * 4);
                kt->gemm_micro(kc, alpha, a, b, beta, m == mr ? full : c, ldc, m, n);
                if (m == mr) {
                    memcpy(c, full, (size_t)(mr * ldc) * 4);
                    /* nor a column's on how many columns ran (the same C at the start) */
                    for (int i = 0; i < mr && n < nr; i++)
                        ck_assert_msg(memcmp(full + i * ldc, fulls + ab * mr * ldc + i * ldc,
                                             (size_t)n * 4) == 0,
                                      "isa %s kc %lld n %d: row %d differs from the full "
                                      "width's",
                                      kt->name, (long long)kc, n, i);
                } else /* a row's result does not depend on how many rows ran */
                    for (int i = 0; i < m; i++)
                        ck_assert_msg(memcmp(c + i * ldc, full + i * ldc, (size_t)n * 4) == 0,
                                      "isa %s kc %lld m %d: row %d differs from the full tile's",
                                      kt->name, (long long)kc, m, i);
                for (int i = 0; i < mr; i++) /* untouched outside m x n (NaN stays NaN) */
                    for (int j = 0; j < ldc; j++) {
                        float g = c[i * ldc + j], e = want[i * ldc + j];
                        if (isnan(e))
                            ck_assert(isnan(g));
                        else
                            ck_assert_msg(fabsf(g - e) <= 1e-4f + 1e-4f * fabsf(e),
                                          "isa %s kc %lld (%d,%d): %g vs %g", kt->name,
                                          (long long)kc, i, j, (double)g, (double)e);
                    }
                free(c), free(want);
            }
        free(a), free(b), free(fulls);
    }
}
END_TEST

/* Pack row-major B [K,N] (ldb) into tg__sgemm_papb's layout (kernels.h). */
static void pack_b_ref(int64_t K, int64_t N, const float *B, int64_t ldb, int64_t NR, float *dst)
{
    const int64_t nround = (N + NR - 1) / NR * NR;
    for (int64_t p = 0; p < K; p++) /* panels of NR columns, all K rows each */
        for (int64_t j = 0; j < nround; j++)
            dst[(j / NR) * K * NR + p * NR + j % NR] = j < N ? B[p * ldb + j] : 0.0f;
}

/* The workspace drivers of the convolution (tg__sgemm_ws, tg__sgemm_pa,
 * tg__sgemm_papb) give the same bits as each other and, where B is not
 * transposed, as tg__sgemm_st (same K blocking, same micro-kernel; with B
 * transposed tg__sgemm_st may take dot products instead), on the
 * dispatched path (the test setups run each), for odd sizes, K beyond one
 * block and both transposes; and both match a naive product. */
START_TEST(gemm_workspace_drivers)
{
    const int64_t sizes[][3] = {{1, 1, 1}, {13, 33, 17}, {37, 300, 300}, {64, 64, 576},
                                {5, 7, 3}};
    const int64_t NR = tg__kernels_get()->gemm_nr;
    float *work = malloc(TG__SGEMM_WORK_FLOATS * sizeof(float));
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) {
        int64_t M = sizes[q][0], N = sizes[q][1], K = sizes[q][2];
        float *A = rand_buf((size_t)(M * K), 41), *B = rand_buf((size_t)(K * N), 42);
        float *C0 = rand_buf((size_t)(M * N), 43);
        float *want = malloc((size_t)(M * N) * 4), *got = malloc((size_t)(M * N) * 4);
        float *ap = malloc((size_t)tg__sgemm_pack_a_floats(M, K) * 4);
        float *bp = malloc((size_t)tg__sgemm_pack_b_floats(K, N) * 4);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (float beta = 0.0f; beta <= 1.0f; beta += 1.0f) {
                    /* op(A) [M,K]: A is [M,K] (lda K) or [K,M] (lda M) */
                    int64_t lda = ta ? M : K, ldb = tb ? K : N;
                    memcpy(want, C0, (size_t)(M * N) * 4);
                    tg__sgemm_st(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, want, N);
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double acc = 0;
                            for (int64_t p = 0; p < K; p++)
                                acc += (double)(ta ? A[p * M + i] : A[i * K + p]) *
                                       (tb ? B[j * K + p] : B[p * N + j]);
                            acc += beta * C0[i * N + j];
                            ck_assert_msg(fabs(want[i * N + j] - acc) <= 1e-4 + 1e-4 * fabs(acc),
                                          "st %lldx%lldx%lld", (long long)M, (long long)N,
                                          (long long)K);
                        }
                    memcpy(got, C0, (size_t)(M * N) * 4);
                    tg__sgemm_ws(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, got, N, work);
                    if (!tb)
                        ck_assert_mem_eq(got, want, (size_t)(M * N) * 4);
                    else { /* close to tg__sgemm_st (checked above); then the reference */
                        tgt_assert_close(got, want, (size_t)(M * N), 1e-4, 1e-4);
                        memcpy(want, got, (size_t)(M * N) * 4);
                    }
                    tg__sgemm_pack_a(ta, M, K, A, lda, ap);
                    memcpy(got, C0, (size_t)(M * N) * 4);
                    tg__sgemm_pa(M, N, K, 1.0f, ap, tb, B, ldb, beta, got, N, work);
                    ck_assert_mem_eq(got, want, (size_t)(M * N) * 4);
                    if (!tb) {
                        pack_b_ref(K, N, B, ldb, NR, bp);
                        memcpy(got, C0, (size_t)(M * N) * 4);
                        tg__sgemm_papb(M, N, K, ap, bp, beta, got, N);
                        ck_assert_mem_eq(got, want, (size_t)(M * N) * 4);
                    }
                }
        free(A), free(B), free(C0), free(want), free(got), free(ap), free(bp);
    }
    free(work);
}
END_TEST

/* The few-columns A B^T path of every ISA against a naive product, and
 * through tg__sgemm with 1..3 threads and tg__sgemm_st: same bits. */
/* The unpacked-B micro-kernel (the strided convolution's phase planes) has
 * the packed one's bits: B's rows at irregular offsets, its two vectors
 * contiguous or vstep apart, and (AVX-512) each vector's halves hstep
 * apart, against the same values packed; every row count, full and part
 * tiles, beta 0 (C not read) and 1. */
START_TEST(gemm_micro_ind_matches)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt || !kt->gemm_micro_ind)
        return;
    const int mr = kt->gemm_mr, nr = kt->gemm_nr, vw = kt->gemm_vw;
    ck_assert_int_eq(nr, 2 * vw);
    const int64_t kc = 37, gap = 3 * nr + 5, ldc = nr + 3;
    float *a = rand_buf((size_t)(kc * mr), 41), *bb = rand_buf((size_t)(kc * gap + 4 * nr), 42);
    float *b = malloc((size_t)(kc * nr) * sizeof *b);
    int64_t off[37];
    for (int64_t p = 0; p < kc; p++)
        off[p] = p * gap + p % 3;
    /* mode 0: one run; 1: vectors vw + 5 apart; 2: halves nr + 1 apart */
    for (int mode = 0; mode < 3; mode++) {
        if (mode == 2 && !kt->gemm_ind_halves)
            continue;
        const int64_t vstep = mode == 0 ? vw : vw + 5, hstep = mode == 2 ? nr + 1 : 0;
        for (int64_t p = 0; p < kc; p++)
            for (int j = 0; j < nr; j++) {
                int64_t v = j / vw, l = j % vw, h = hstep && l >= vw / 2;
                b[p * nr + j] = bb[off[p] + v * vstep + (h ? hstep + l - vw / 2 : l)];
            }
        const int ns[] = {nr, vw, 1};
        for (int m = 1; m <= mr; m++)
            for (int q = 0; q < 3; q++)
                for (int beta = 0; beta < 2; beta++) {
                    float *c1 = rand_buf((size_t)(mr * ldc), 43);
                    float *c2 = malloc((size_t)(mr * ldc) * sizeof *c2);
                    memcpy(c2, c1, (size_t)(mr * ldc) * sizeof *c2);
                    kt->gemm_micro(kc, 1.0f, a, b, (float)beta, c1, ldc, m, ns[q]);
                    kt->gemm_micro_ind(kc, a, bb, off, vstep, hstep, (float)beta, c2, ldc, m,
                                       ns[q]);
                    ck_assert_msg(memcmp(c1, c2, (size_t)(mr * ldc) * sizeof *c1) == 0,
                                  "isa %s mode %d m %d n %d beta %d", kt->name, mode, m, ns[q],
                                  beta);
                    free(c1), free(c2);
                }
    }
    free(a), free(bb), free(b);
}
END_TEST

START_TEST(gemm_abt_matches)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return;
    const int64_t Ms[] = {1, 5, 32}, Ns[] = {1, 3, 5, 16}, Ks[] = {32, 37, 100};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 3; c++) {
                int64_t M = Ms[a], N = Ns[b], K = Ks[c], ldc = N + 2;
                float *A = rand_buf((size_t)(M * K), 41), *B = rand_buf((size_t)(N * K), 42);
                float *C = rand_buf((size_t)(M * ldc), 43), *want = malloc((size_t)(M * ldc) * 4);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < ldc; j++) {
                        double acc = 0;
                        for (int64_t k = 0; k < K; k++)
                            acc += (double)A[i * K + k] * B[j % N * K + k];
                        want[i * ldc + j] = j < N ? (float)(0.5 * acc + 2.0 * C[i * ldc + j])
                                                  : C[i * ldc + j];
                    }
                kt->gemm_abt(M, N, K, 0.5f, A, K, B, K, 2.0f, C, ldc);
                tgt_assert_close(C, want, (size_t)(M * ldc), 1e-4, 1e-4);
                for (int64_t i = 0; i < M * ldc; i++) /* beta 0 ignores NaN in C */
                    C[i] = NAN;
                kt->gemm_abt(M, N, K, 1.0f, A, K, B, K, 0.0f, C, ldc);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < ldc; j++)
                        ck_assert(j < N ? !isnan(C[i * ldc + j]) : isnan(C[i * ldc + j]));
                free(A), free(B), free(C), free(want);
            }
}
END_TEST

/* A 4-column tile of gemm_abt (summed as one vector on AVX2) gives the
 * bits of the same columns computed one at a time, for every ISA, with and
 * without a K tail, for alpha/beta 0.5/2 and 1/0. */
START_TEST(gemm_abt_columns_independent)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return;
    const int64_t Ms[] = {1, 2, 3, 5, 7}, Ks[] = {8, 64, 256, 37};
    const int64_t N = 8, ldc = N + 1;
    const float alphas[] = {0.5f, 1.0f}, betas[] = {2.0f, 0.0f};
    for (int a = 0; a < 5; a++)
        for (int k = 0; k < 4; k++)
            for (int ab = 0; ab < 2; ab++) {
                int64_t M = Ms[a], K = Ks[k];
                float *A = rand_buf((size_t)(M * K), 44), *B = rand_buf((size_t)(N * K), 45);
                float *C4 = rand_buf((size_t)(M * ldc), 46), *C1 = rand_buf((size_t)(M * ldc), 46);
                kt->gemm_abt(M, N, K, alphas[ab], A, K, B, K, betas[ab], C4, ldc);
                for (int64_t j = 0; j < N; j++)
                    kt->gemm_abt(M, 1, K, alphas[ab], A, K, B + j * K, K, betas[ab], C1 + j, ldc);
                ck_assert_msg(memcmp(C4, C1, (size_t)(M * ldc) * sizeof(float)) == 0,
                              "isa %s M %lld K %lld alpha %g", kt->name, (long long)M,
                              (long long)K, (double)alphas[ab]);
                free(A), free(B), free(C4), free(C1);
            }
}
END_TEST

START_TEST(gemm_abt_thread_independent)
{
    const int64_t M = 301, N = 10, K = 1764;
    float *A = rand_buf((size_t)(M * K), 51), *B = rand_buf((size_t)(N * K), 52);
    float *C[4];
    for (int t = 0; t < 4; t++) {
        C[t] = calloc((size_t)(M * N), sizeof(float));
        if (t == 0) {
            tg__sgemm_st(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C[t], N);
        } else {
            tg_ctx *ctx = tgt_ctx_threads(1, t);
            tg__sgemm(ctx, false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C[t], N);
            tg_ctx_destroy(ctx);
        }
    }
    for (int t = 1; t < 4; t++)
        ck_assert_mem_eq(C[t], C[0], (size_t)(M * N) * sizeof(float));
    for (int t = 0; t < 4; t++)
        free(C[t]);
    free(A), free(B);
}
END_TEST

/* 2x2 max pooling of every ISA equals the plain C one bit for bit, indices
 * included, with ties, NaNs, odd widths, rows of 1-3, 5, 6 and 14-33
 * outputs (a last block that overlaps the one before). With the fused
 * epilogue (rows ld floats apart, relu(x + bias) first) it equals the
 * plain pool of the ReLU's output, as the conv + ReLU + pool fusion needs,
 * -0 (x = -0, bias -0) and NaN included. */
START_TEST(max_pool2x2_matches)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return;
    const int64_t Ws[] = {28, 7, 34, 66, 2, 10, 13}, Hs[] = {28, 5, 4, 3, 2, 10, 7};
    for (int c = 0; c < 7; c++) {
        int64_t W = Ws[c], H = Hs[c], Ho = H / 2, Wo = W / 2;
        float *x = rand_buf((size_t)(H * W), 61);
        for (int64_t i = 0; i < H * W; i++) {
            if (i % 7 == 3)
                x[i] = x[i - 1]; /* ties */
            if (i % 29 == 5)
                x[i] = NAN;
            if (i % 31 == 6)
                x[i] = -INFINITY;
        }
        size_t no = (size_t)(Ho * Wo);
        float *y1 = calloc(no, 4), *y2 = calloc(no, 4);
        int32_t *i1 = calloc(no, 4), *i2 = calloc(no, 4);
        kt->max_pool2x2(x, W, NULL, y1, i1, W, Ho, Wo);
        tg__kernels_generic.max_pool2x2(x, W, NULL, y2, i2, W, Ho, Wo);
        ck_assert_mem_eq(y1, y2, no * 4); /* same bits, NaNs included */
        ck_assert_mem_eq(i1, i2, no * 4);
        kt->max_pool2x2(x, W, NULL, y1, NULL, W, Ho, Wo); /* no indices (inference) */
        ck_assert_mem_eq(y1, y2, no * 4);
        for (size_t o = 0; o < no; o++) /* the index points at the value */
            if (!isnan(y2[o]))
                ck_assert(x[i2[o]] == y2[o]);
        const int64_t ld = W + 3;
        float *xl = malloc((size_t)(H * ld) * 4), *r = malloc((size_t)(H * W) * 4);
        for (int b = 0; b < 2; b++) {
            const float bias = b ? -0.0f : -0.25f;
            for (int64_t i = 0; i < H * ld; i++) /* the gaps: never read */
                xl[i] = i % ld < W ? x[i / ld * W + i % ld] : NAN;
            if (b)
                xl[0] = -0.0f;
            for (int64_t i = 0; i < H * W; i++) {
                float v = xl[i / W * ld + i % W] + bias;
                r[i] = v < 0.0f ? 0.0f : v;
            }
            tg__kernels_generic.max_pool2x2(r, W, NULL, y2, i2, W, Ho, Wo);
            kt->max_pool2x2(xl, ld, &bias, y1, i1, W, Ho, Wo);
            ck_assert_mem_eq(y1, y2, no * 4);
            ck_assert_mem_eq(i1, i2, no * 4);
        }
        free(xl), free(r);
        free(x), free(y1), free(y2), free(i1), free(i2);
    }
}
END_TEST

/* The stride-2 gather of every ISA copies exactly src[r * ld + 2 i] to
 * dst[r * ldd + i], for widths around the vector lengths (and AVX-512's
 * 8-wide step), and leaves the gaps between destination rows alone; the
 * pair version (n2 of n - 1, n, n + 1) also src[r * ld + 2 i + 1] to its
 * second destination. The source ends at the last element copied, so a
 * load past it shows up under ASan/valgrind. */
START_TEST(gather_s2_matches)
{
    const tg__kernels *kt = tg__kernels_for((tg__isa)_i);
    if (!kt)
        return;
    for (int64_t n = 1; n <= 40; n++)
        for (int64_t rows = 1; rows <= 3; rows++)
            for (int64_t n2 = n - 2; n2 <= n + 1; n2++) { /* n - 2: no dst2 */
                const bool two = n2 >= n - 1 && n2 > 0;
                const int64_t last = two && 2 * n2 - 1 > 2 * (n - 1) ? 2 * n2 - 1 : 2 * (n - 1);
                const int64_t ld = 2 * n + 5, len = (rows - 1) * ld + last + 1;
                float *src = malloc((size_t)len * sizeof *src); /* no slack */
                for (int64_t i = 0; i < len; i++)
                    src[i] = (float)i + 0.25f;
                const int64_t ldd = n + rows; /* gaps of rows (n2 <= n + 1) */
                float *dst = malloc((size_t)(2 * rows * ldd) * sizeof *dst);
                float *dst2 = dst + rows * ldd;
                for (int64_t i = 0; i < 2 * rows * ldd; i++)
                    dst[i] = -1.0f;
                if (two)
                    kt->gather_s2_pair(src, ld, rows, n, dst, ldd, n2, dst2);
                else
                    kt->gather_s2(src, ld, rows, n, dst, ldd);
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t i = 0; i < ldd; i++) {
                        ck_assert_msg(dst[r * ldd + i] == (i < n ? src[r * ld + 2 * i] : -1.0f),
                                      "isa %s n %lld row %lld col %lld", kt->name, (long long)n,
                                      (long long)r, (long long)i);
                        const float want2 = two && i < n2 ? src[r * ld + 2 * i + 1] : -1.0f;
                        ck_assert_msg(dst2[r * ldd + i] == want2,
                                      "isa %s n %lld n2 %lld row %lld col %lld (second)",
                                      kt->name, (long long)n, (long long)n2, (long long)r,
                                      (long long)i);
                    }
                free(src);
                free(dst);
            }
}
END_TEST

START_TEST(dispatch_follows_env)
{
    const tg__kernels *kt = tg__kernels_get();
    ck_assert_ptr_nonnull(kt);
    ck_assert_ptr_eq(kt, tg__kernels_get()); /* chosen once */
    ck_assert_ptr_nonnull(tg__kernels_for(TG__ISA_GENERIC));
    const char *env = getenv("TG_CPU");
    if (env && strcmp(env, "generic") == 0) {
        ck_assert_int_eq(kt->isa, TG__ISA_GENERIC);
    } else if (!env || !*env) {
        int best = TG__ISA_GENERIC;
        for (int i = 0; i < TG__ISA_COUNT; i++)
            if (tg__kernels_for((tg__isa)i))
                best = i;
        ck_assert_int_eq(kt->isa, best);
    }
    ck_assert_ptr_eq(tg__kernels_for(kt->isa), kt);
}
END_TEST

/* ---- fused ops against the unfused ones ----------------------------------- */

/* y's values and x's, w's and b's gradients copied out (ns: their lengths),
 * to compare two runs once their contexts are gone. */
static void copy_results(tg_tensor *y, tg_tensor *x, tg_tensor *w, tg_tensor *b, float **dst,
                         size_t *ns)
{
    tg_tensor *ts[4] = {y, x, w, b};
    for (int k = 0; k < 4; k++) {
        ns[k] = (size_t)ts[k]->numel;
        dst[k] = calloc(ns[k], sizeof(float)); /* zeros for a gradient not wanted */
        const float *src = k ? ts[k]->grad : ts[k]->data;
        if (src)
            memcpy(dst[k], src, ns[k] * sizeof(float));
    }
}

/* The two runs' results have the same lengths and bits, but for the
 * gradients within rtol and atol (0, 0: the same bits too); frees both. */
static void assert_same_results(float **got, const size_t *ng, float **want, const size_t *nw,
                                double rtol, double atol)
{
    for (int k = 0; k < 4; k++) {
        ck_assert_uint_eq(ng[k], nw[k]);
        tgt_assert_close(got[k], want[k], ng[k], k ? rtol : 0, k ? atol : 0);
        free(got[k]), free(want[k]);
    }
}

/* ---- fused conv2d + ReLU -------------------------------------------------- */

static tg_tensor *fused_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const int *pad = arg;
    return tg__conv2d_relu(ctx, in[0], in[1], in[2], 1, *pad, 1, 1);
}

START_TEST(conv_relu_gradcheck)
{
    /* Inputs away from the ReLU kink: finite differences straddling 0 lie. */
    static const int64_t xs[4] = {2, 2, 5, 6}, ws[4] = {3, 2, 3, 3}, bs[1] = {3};
    int pad = _i; /* 0 and 1: unpadded and "same" */
    tg_ctx *ctx = tgt_ctx_threads(3, 2);
    tg_tensor *in[3] = {tgt_rand(ctx, 4, xs, -1, 1, true), tgt_rand(ctx, 4, ws, -1, 1, true),
                        tgt_rand(ctx, 1, bs, -0.5f, 0.5f, true)};
    tgt_gradcheck_tol(ctx, fused_fn, &pad, in, 3, 1e-3, 3e-2, 3e-3);
    tg_ctx_destroy(ctx);
}
END_TEST

/* The fused op equals tg_relu(tg_conv2d()) bit for bit, values and gradients,
 * for every ISA the process runs with; and a non-direct shape (stride 2)
 * falls back to the unfused pair. */
START_TEST(conv_relu_matches_unfused)
{
    /* _i 0: the direct path; 1: the Winograd path; 2: rows of 16, whole
     * vectors: the forward reads the padded sample as a GEMM (AVX2, AVX-512),
     * the backward is the direct kernels'; 3: Winograd with rows of 16 tiles
     * (whole vectors, on AVX2 and AVX-512), an odd height */
    static const int64_t xss[4][4] = {{5, 3, 28, 28}, {5, 32, 14, 14}, {5, 3, 16, 16},
                                      {5, 16, 31, 32}},
                         wss[4][4] = {{6, 3, 3, 3}, {32, 32, 3, 3}, {6, 3, 3, 3},
                                      {16, 16, 3, 3}};
    const int64_t *xs = xss[_i], *ws = wss[_i], bs[1] = {ws[0]};
    for (int stride = 1; stride <= 2; stride++) {
        float *got[4], *want[4];
        size_t ng[4], nw[4];
        for (int fused = 0; fused < 2; fused++) {
            tg_ctx *ctx = tgt_ctx_threads(7, 2);
            tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, true), *w = tgt_rand(ctx, 4, ws, -1, 1, true),
                      *b = tgt_rand(ctx, 1, bs, -1, 1, true);
            tg_tensor *y = fused ? tg__conv2d_relu(ctx, x, w, b, stride, 1, 1, 1)
                                 : tg_relu(ctx, tg_conv2d(ctx, x, w, b, stride, 1, 1, 1));
            ck_assert_ptr_nonnull(y);
            if (fused && stride == 1)
                ck_assert_str_eq(y->op->name, "conv2d_relu");
            tg_tensor *loss = tg_sum_all(ctx, tg_mul(ctx, y, tgt_rand(ctx, 4, y->shape, -1, 1, false)));
            ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
            copy_results(y, x, w, b, fused ? got : want, fused ? ng : nw);
            tg_ctx_destroy(ctx);
        }
        int64_t ho = (xs[2] - 1) / stride + 1, wo = (xs[3] - 1) / stride + 1;
        size_t ns[4] = {(size_t)(5 * ws[0] * ho * wo), (size_t)(5 * xs[1] * xs[2] * xs[3]),
                        (size_t)(ws[0] * xs[1] * 9), (size_t)ws[0]};
        for (int k = 0; k < 4; k++)
            ck_assert_uint_eq(nw[k], ns[k]);
        assert_same_results(got, ng, want, nw, 0, 0);
    }
}
END_TEST

/* Sequential runs Conv2d + ReLU fused; a lone ReLU or a Conv2d at the end
 * are left alone, and the result equals the layer-by-layer one. */
START_TEST(sequential_fuses_conv_relu)
{
    static const int64_t xs[4] = {4, 1, 12, 12};
    float *out[2];
    for (int manual = 0; manual < 2; manual++) {
        tg_ctx *ctx = tgt_ctx_threads(5, 2);
        tg_module *seq, *c1, *r1, *c2, *r2;
        ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
        ck_assert_int_eq(tg_conv2d_create(ctx, 1, 4, 3, 1, 1, 1, 1, true, &c1), TG_OK);
        ck_assert_int_eq(tg_relu_create(ctx, &r1), TG_OK);
        ck_assert_int_eq(tg_relu_create(ctx, &r2), TG_OK);
        ck_assert_int_eq(tg_conv2d_create(ctx, 4, 2, 3, 1, 0, 1, 1, true, &c2), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, c1), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, r1), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, r2), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, c2), TG_OK);
        tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false);
        tg_tensor *y;
        if (manual) {
            y = x;
            for (size_t i = 0; i < 4; i++)
                y = tg_module_forward(tg_module_child(seq, i), y);
        } else {
            y = tg_module_forward(seq, x);
            ck_assert_str_eq(y->op->name, "conv2d");
            ck_assert_str_eq(y->src[0]->op->name, "relu");
            ck_assert_str_eq(y->src[0]->src[0]->op->name, "conv2d_relu");
        }
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
        out[manual] = malloc(4 * 2 * 10 * 10 * sizeof(float) + 4 * 9 * sizeof(float));
        memcpy(out[manual], y->data, 4 * 2 * 10 * 10 * sizeof(float));
        memcpy(out[manual] + 800, tg_module_param(seq, 0, NULL)->grad, 36 * sizeof(float));
        tg_module_destroy(seq);
        tg_ctx_destroy(ctx);
    }
    tgt_assert_close(out[0], out[1], 836, 0, 0);
    free(out[0]), free(out[1]);
}
END_TEST

/* ---- fused conv2d + ReLU + 2x2 max pool ----------------------------------- */

static tg_tensor *fused_pool_fn(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    const int *pad = arg;
    return tg__conv2d_relu_pool(ctx, in[0], in[1], in[2], 1, *pad, 1, 1);
}

START_TEST(conv_relu_pool_gradcheck)
{
    /* odd conv outputs (5x6 and 3x4 unpadded): the pool drops a row */
    static const int64_t xs[4] = {2, 2, 5, 6}, ws[4] = {3, 2, 3, 3}, bs[1] = {3};
    int pad = _i;
    tg_ctx *ctx = tgt_ctx_threads(13, 2);
    tg_tensor *in[3] = {tgt_rand(ctx, 4, xs, -1, 1, true), tgt_rand(ctx, 4, ws, -1, 1, true),
                        tgt_rand(ctx, 1, bs, -0.5f, 0.5f, true)};
    tg_tensor *y = fused_pool_fn(ctx, in, &pad);
    ck_assert_str_eq(y->op->name, "conv2d_relu_maxpool2d");
    tgt_gradcheck_tol(ctx, fused_pool_fn, &pad, in, 3, 1e-3, 3e-2, 3e-3);
    tg_ctx_destroy(ctx);
}
END_TEST

/* The fused op equals max_pool2d(relu(conv2d())) bit for bit, values and
 * gradients (dx stored, then added to; the AVX2 kernels' gradients over
 * the argmaxes within 1e-5 + 1e-4), the gradients with the same bits on 1
 * and 2 threads, with gradients
 * for all inputs, for w and b (dy unpooled into the weight gradient's
 * padded planes at "same" padding) or for b alone (into dense planes);
 * where the direct path does not apply it is those ops. */
START_TEST(conv_relu_pool_matches_unfused)
{
    /* _i 0: the seed CNN's third layer; 1: odd output, padding 0 (13x11 ->
     * 11x9 -> 5x4); 2: Winograd (the unfused ops); 3: stride 2 (likewise) */
    static const int64_t xss[4][4] = {{5, 6, 28, 28}, {3, 2, 13, 11}, {3, 32, 14, 14},
                                      {3, 3, 16, 16}},
                         wss[4][4] = {{9, 6, 3, 3}, {4, 2, 3, 3}, {32, 32, 3, 3}, {4, 3, 3, 3}};
    static const int pads[4] = {1, 0, 1, 1}, strides[4] = {1, 1, 1, 2};
    const int64_t *xs = xss[_i], *ws = wss[_i], bs[1] = {ws[0]};
    const int pad = pads[_i], stride = strides[_i];
    float *g1[4] = {NULL};
    for (int run = 0; run < 6; run++) {
        const int threads = 1 + run % 2, wants = run / 2; /* 0 all, 1 w and b, 2 b */
        float *got[4], *want[4];
        size_t ng[4], nw[4];
        for (int fused = 0; fused < 2; fused++) {
            tg_ctx *ctx = tgt_ctx_threads(17, threads);
            tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, wants == 0),
                      *w = tgt_rand(ctx, 4, ws, -1, 1, wants < 2),
                      *b = tgt_rand(ctx, 1, bs, -1, 1, true);
            tg_tensor *y = fused ? tg__conv2d_relu_pool(ctx, x, w, b, stride, pad, 1, 1)
                                 : tg_max_pool2d(ctx, tg_relu(ctx, tg_conv2d(ctx, x, w, b, stride,
                                                                              pad, 1, 1)),
                                                 2, 2, 0);
            ck_assert_ptr_nonnull(y);
            if (fused)
                ck_assert_str_eq(y->op->name, _i < 2 ? "conv2d_relu_maxpool2d" : "max_pool2d");
            tg_tensor *r = tgt_rand(ctx, 4, y->shape, -1, 1, false);
            ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, r))), TG_OK);
            /* a second backward: dx, dW and db add to what is there */
            ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
            copy_results(y, x, w, b, fused ? got : want, fused ? ng : nw);
            tg_ctx_destroy(ctx);
        }
        /* the gradients: the same bits on 1 and 2 threads */
        for (int k = 1; k < 4; k++)
            if (threads == 1)
                g1[k] = memcpy(malloc(ng[k] * sizeof(float)), got[k], ng[k] * sizeof(float));
            else {
                tgt_assert_close(got[k], g1[k], ng[k], 0, 0);
                free(g1[k]);
            }
        /* the AVX2 kernels' backward over the argmaxes alone (shapes 0 and
         * 1) adds in another order than the dense ops; elsewhere the bits */
        const bool by_argmax = _i < 2 && tg__kernels_get()->isa == TG__ISA_AVX2;
        assert_same_results(got, ng, want, nw, by_argmax ? 1e-5 : 0, by_argmax ? 1e-4 : 0);
    }
}
END_TEST

/* Sequential runs Conv2d + ReLU + MaxPool2d(2) as the fused op and gives the
 * layer-by-layer result; a pool of stride 1 is left to the ops. */
START_TEST(sequential_fuses_conv_relu_pool)
{
    static const int64_t xs[4] = {4, 1, 12, 12};
    const int stride = _i ? 1 : 0; /* 0: the kernel's */
    const int64_t po = _i ? 11 : 6;
    float *out[2];
    for (int manual = 0; manual < 2; manual++) {
        tg_ctx *ctx = tgt_ctx_threads(5, 2);
        tg_module *seq, *c1, *r1, *p1;
        ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
        ck_assert_int_eq(tg_conv2d_create(ctx, 1, 4, 3, 1, 1, 1, 1, true, &c1), TG_OK);
        ck_assert_int_eq(tg_relu_create(ctx, &r1), TG_OK);
        ck_assert_int_eq(tg_maxpool2d_create(ctx, 2, stride, 0, &p1), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, c1), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, r1), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, p1), TG_OK);
        tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false);
        tg_tensor *y;
        if (manual) {
            y = x;
            for (size_t i = 0; i < 3; i++)
                y = tg_module_forward(tg_module_child(seq, i), y);
        } else {
            y = tg_module_forward(seq, x);
            ck_assert_str_eq(y->op->name, _i ? "max_pool2d" : "conv2d_relu_maxpool2d");
        }
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
        const size_t ny = (size_t)(4 * 4 * po * po);
        out[manual] = malloc((ny + 40) * sizeof(float));
        memcpy(out[manual], y->data, ny * sizeof(float));
        memcpy(out[manual] + ny, tg_module_param(seq, 0, NULL)->grad, 36 * sizeof(float));
        memcpy(out[manual] + ny + 36, tg_module_param(seq, 1, NULL)->grad, 4 * sizeof(float));
        tg_module_destroy(seq);
        tg_ctx_destroy(ctx);
        if (manual) { /* the argmax path's gradients within 1e-5, as above */
            const double tol = !_i && tg__kernels_get()->isa == TG__ISA_AVX2 ? 1e-5 : 0;
            tgt_assert_close(out[0], out[1], ny, 0, 0);
            tgt_assert_close(out[0] + ny, out[1] + ny, 40, tol, tol);
        }
    }
    free(out[0]), free(out[1]);
}
END_TEST

/* No-grad Sequential forward of a large batch runs in tiles: the output is
 * bit-identical to the layer-by-layer forward, uses less arena, and an error
 * still names the caller's shapes. */
START_TEST(sequential_tiled_inference)
{
    static const int64_t xs[4] = {203, 1, 10, 10}, bad[4] = {203, 2, 10, 10};
    tg_ctx *ctx = tgt_ctx_threads(9, 2);
    tg_module *seq, *m;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_conv2d_create(ctx, 1, 3, 3, 1, 1, 1, 1, true, &m), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, m), TG_OK);
    ck_assert_int_eq(tg_relu_create(ctx, &m), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, m), TG_OK);
    ck_assert_int_eq(tg_maxpool2d_create(ctx, 2, 0, 0, &m), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, m), TG_OK);
    ck_assert_int_eq(tg_flatten_create(ctx, &m), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, m), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, 75, 4, true, &m), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, m), TG_OK);
    tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false);
    tg_ctx_set_grad_enabled(ctx, false);

    tg_mem_stats m0, m1;
    tg_ctx_mem_stats(ctx, &m0);
    tg_tensor *y = tg_module_forward(seq, x);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_dim(y, 0), 203);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 4);
    tg_ctx_mem_stats(ctx, &m1);
    size_t tiled_bytes = m1.arena_used - m0.arena_used;
    float *want = malloc(203 * 4 * sizeof(float));
    tg_tensor *z = x;
    for (size_t i = 0; i < tg_module_n_children(seq); i++) /* untiled reference */
        z = tg_module_forward(tg_module_child(seq, i), z);
    ck_assert_ptr_nonnull(z);
    tg_ctx_mem_stats(ctx, &m0);
    memcpy(want, tg_tensor_data(z), 203 * 4 * sizeof(float));
    ck_assert_mem_eq(tg_tensor_data(y), want, 203 * 4 * sizeof(float));
    ck_assert_uint_lt(tiled_bytes, m0.arena_used - m1.arena_used); /* less memory */

    /* Wrong channel count: the message shows the whole batch, not a tile. */
    tg_tensor *xb = tgt_rand(ctx, 4, bad, -1, 1, false);
    ck_assert_ptr_null(tg_module_forward(seq, xb));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), "[203,2,10,10]") != NULL, "%s",
                  tg_ctx_last_error(ctx));
    free(want);
    tg_module_destroy(seq);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A CIFAR ResNet in evaluation mode runs its no-grad forward in tiles too
 * (BatchNorm with running statistics and the residual blocks are per
 * sample): bit-identical to the untiled forward (grad on), less arena; in
 * training mode (batch statistics) it is not tiled. */
START_TEST(resnet_tiled_inference)
{
    static const int64_t xs[4] = {70, 3, 8, 8};
    tg_ctx *ctx = tgt_ctx_threads(5, 2);
    tg_resnet_cifar_options ro;
    tg_resnet_cifar_options_init(&ro, 8);
    tg_module *net;
    ck_assert_int_eq(tg_nn_resnet_cifar(ctx, &ro, &net), TG_OK);
    tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false);
    ck_assert_ptr_nonnull(tg_module_forward(net, x)); /* training: moves running stats */
    tg_module_train(net, false);
    tg_mem_stats m0, m1, m2;
    tg_ctx_mem_stats(ctx, &m0);
    tg_tensor *want = tg_module_forward(net, x); /* grad on: untiled */
    ck_assert_ptr_nonnull(want);
    tg_ctx_mem_stats(ctx, &m1);
    tg_ctx_set_grad_enabled(ctx, false);
    tg_tensor *y = tg_module_forward(net, x);
    ck_assert_ptr_nonnull(y);
    tg_ctx_mem_stats(ctx, &m2);
    ck_assert_int_eq(tg_tensor_numel(y), 70 * 10);
    ck_assert_mem_eq(tg_tensor_data(y), tg_tensor_data(want), 70 * 10 * sizeof(float));
    ck_assert_uint_lt(m2.arena_used - m1.arena_used, (m1.arena_used - m0.arena_used) / 2);
    ck_assert_int_eq(ctx->prep_depth, 0); /* the prepared weights' bracket is closed */

    /* The tiles share prepared (transformed, packed) weights for one forward
     * only: weights changed between two forwards are seen by the next. */
    float *w1 = tg_tensor_data(tg_module_find(net, "layer1.0.conv1.weight"));
    float *w3 = tg_tensor_data(tg_module_find(net, "layer3.0.conv1.weight"));
    for (int i = 0; i < 16 * 16 * 9; i++)
        w1[i] *= -0.5f;
    w3[7] += 1.0f;
    tg_tensor *y2 = tg_module_forward(net, x);
    tg_ctx_set_grad_enabled(ctx, true);
    tg_tensor *want2 = tg_module_forward(net, x);
    ck_assert_ptr_nonnull(y2);
    ck_assert_ptr_nonnull(want2);
    ck_assert_mem_eq(tg_tensor_data(y2), tg_tensor_data(want2), 70 * 10 * sizeof(float));
    ck_assert(memcmp(tg_tensor_data(y2), tg_tensor_data(y), 70 * 10 * sizeof(float)) != 0);
    tg_module_destroy(net);
    tg_ctx_destroy(ctx);
}
END_TEST

/* tg__prep_get: fresh memory outside a bracket; inside, the first request
 * of a form is fresh and kept, the next ones get it back, until the
 * bracket ends; after tg__prep_freeze nothing new is kept. */
START_TEST(prepared_weights)
{
    tg_ctx *ctx = tgt_ctx(4);
    float w[4] = {0}, v[4] = {0};
    bool fresh;
    float *a = tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh);
    ck_assert(a && fresh);
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh) != a && fresh); /* no bracket */
    tg__prep_begin(ctx);
    a = tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh);
    ck_assert(a && fresh);
    tg__prep_begin(ctx); /* nested: the same bracket */
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh) == a && !fresh);
    tg__prep_end(ctx);
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh) == a && !fresh);
    /* another tensor, form, key or size is another entry */
    ck_assert(tg__prep_get(ctx, v, 1, 2, 3, 16, &fresh) != a && fresh);
    ck_assert(tg__prep_get(ctx, w, 2, 2, 3, 16, &fresh) != a && fresh);
    ck_assert(tg__prep_get(ctx, w, 1, 2, 4, 16, &fresh) != a && fresh);
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 32, &fresh) != a && fresh); /* another size */
    tg__prep_freeze(ctx);
    float *b = tg__prep_get(ctx, w, 1, 9, 9, 16, &fresh);
    ck_assert(b && fresh);
    ck_assert(tg__prep_get(ctx, w, 1, 9, 9, 16, &fresh) != b && fresh); /* not kept */
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh) == a && !fresh);
    tg__prep_drop(ctx); /* forgotten, the bracket still open */
    float *c = tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh);
    ck_assert(c != a && fresh);
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh) != c && fresh); /* frozen */
    tg__prep_end(ctx);
    ck_assert(tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh) != a && fresh);
    tg__prep_begin(ctx);
    tg__prep_get(ctx, w, 1, 2, 3, 16, &fresh);
    tg_ctx_reset(ctx); /* the arena is gone: so are the entries */
    ck_assert_int_eq(ctx->prep_depth, 0);
    ck_assert_int_eq(ctx->prep_n, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* The per-op timing table: off by default; when on, each op's forward and
 * backward calls are counted under its name. */
START_TEST(profile_table)
{
    static const int64_t xs[4] = {2, 1, 6, 6}, ws[4] = {2, 1, 3, 3};
    tg_ctx *ctx = tgt_ctx_threads(2, 1);
    tg_tensor *x = tgt_rand(ctx, 4, xs, -1, 1, false), *w = tgt_rand(ctx, 4, ws, -1, 1, true);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_conv2d(ctx, x, w, NULL, 1, 1, 1, 1))),
                     TG_OK);
    ck_assert_int_eq(ctx->prof_n, 0); /* off: nothing recorded */
    tg__prof_enable(ctx, true);
    for (int i = 0; i < 3; i++) {
        tg_tensor *y = tg_relu(ctx, tg_conv2d(ctx, x, w, NULL, 1, 1, 1, 1));
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    }
    tg__prof_mark(ctx, NULL);
    bool seen_conv = false, seen_relu = false;
    for (int k = 0; k < ctx->prof_n; k++) {
        const tg__prof_entry *e = &ctx->prof[k];
        if (strcmp(e->name, "conv2d") == 0) {
            seen_conv = true;
            ck_assert_uint_eq(e->fwd_calls, 3);
            ck_assert_uint_eq(e->bwd_calls, 3);
            ck_assert_uint_gt(e->fwd_ns + e->bwd_ns, 0);
        } else if (strcmp(e->name, "relu") == 0) {
            seen_relu = true;
            ck_assert_uint_eq(e->bwd_calls, 3);
        }
    }
    ck_assert(seen_conv && seen_relu);
    tg__prof_enable(ctx, false);
    ck_assert_int_eq(ctx->prof_n, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* The pool runs every range exactly once whether idle workers poll for
 * jobs (TG_SPIN_US large) or sleep at once (TG_SPIN_US=0). */
typedef struct {
    int64_t hits[3 * 1000];
} pool_job;

static void count_range(void *arg, int64_t b, int64_t e, int tid)
{
    (void)tid;
    pool_job *j = arg;
    for (int64_t i = b; i < e; i++)
        j->hits[i]++;
}

START_TEST(pool_spin_and_sleep)
{
    const char *spins[] = {"0", "1000", "50"};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(setenv("TG_SPIN_US", spins[k], 1), 0);
        tg_ctx *ctx = tgt_ctx_threads(1, 3);
        pool_job *j = calloc(1, sizeof *j);
        for (int rep = 0; rep < 200; rep++)
            tg__parallel_for(ctx, 3 * 1000, count_range, j);
        for (int i = 0; i < 3 * 1000; i++)
            ck_assert_int_eq(j->hits[i], 200);
        free(j);
        tg_ctx_destroy(ctx);
    }
    unsetenv("TG_SPIN_US");
}
END_TEST

/* Chunks of a batch for partial sums: equal shares for 2 and 4 threads
 * wherever a multiple of 4 not above the budget divides the batch. */
START_TEST(batch_chunks_even)
{
    ck_assert_int_eq(tg__batch_chunks(64, 56), 32); /* was 56: 8 chunks of two first */
    ck_assert_int_eq(tg__batch_chunks(64, 10), 8);
    ck_assert_int_eq(tg__batch_chunks(100, 56), 20);
    ck_assert_int_eq(tg__batch_chunks(3, 100), 3);
    ck_assert_int_eq(tg__batch_chunks(63, 12), 12); /* no such divisor: the budget */
    for (int64_t n = 1; n <= 300; n++)
        for (int64_t c = 0; c <= 80; c++) {
            const int64_t r = tg__batch_chunks(n, c), c4 = c < 4 ? 4 : (c + 3) / 4 * 4;
            ck_assert(r >= 1 && r <= n && r <= c4);
            ck_assert(r >= (n < 4 ? n : 4));
            bool divisible = c4 >= n;
            for (int64_t d = 4; d <= c4 && !divisible; d += 4)
                divisible = n % d == 0;
            if (divisible && r < n) /* equal chunks, a multiple of 4 of them */
                ck_assert_msg(n % r == 0 && r % 4 == 0, "n %lld c %lld: %lld chunks",
                              (long long)n, (long long)c, (long long)r);
        }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, direct_conv_matches_naive, 0, TG__ISA_COUNT);
    tcase_add_loop_test(tc, flat_kernels_match, 0, TG__ISA_COUNT);
    tcase_add_loop_test(tc, gemm_micro_matches, 0, TG__ISA_COUNT);
    tcase_add_loop_test(tc, gemm_micro_ind_matches, 0, TG__ISA_COUNT);
    tcase_add_loop_test(tc, gemm_abt_matches, 0, TG__ISA_COUNT);
    tcase_add_loop_test(tc, gemm_abt_columns_independent, 0, TG__ISA_COUNT);
    tcase_add_test(tc, gemm_abt_thread_independent);
    tcase_add_test(tc, gemm_workspace_drivers);
    tcase_add_loop_test(tc, max_pool2x2_matches, 0, TG__ISA_COUNT);
    tcase_add_loop_test(tc, gather_s2_matches, 0, TG__ISA_COUNT);
    tcase_add_test(tc, direct_conv_deterministic);
    tcase_add_loop_test(tc, depthwise_lanes_match_planes, 0, TG__ISA_COUNT);
    tcase_add_test(tc, direct_conv_rejects);
    tcase_add_test(tc, dispatch_follows_env);
    tcase_add_loop_test(tc, conv_relu_gradcheck, 0, 2);
    tcase_add_loop_test(tc, conv_relu_matches_unfused, 0, 4);
    tcase_add_test(tc, sequential_fuses_conv_relu);
    tcase_add_loop_test(tc, conv_relu_pool_gradcheck, 0, 2);
    tcase_add_loop_test(tc, conv_relu_pool_matches_unfused, 0, 4);
    tcase_add_loop_test(tc, sequential_fuses_conv_relu_pool, 0, 2);
    tcase_add_test(tc, sequential_tiled_inference);
    tcase_add_test(tc, resnet_tiled_inference);
    tcase_add_test(tc, prepared_weights);
    tcase_add_test(tc, profile_table);
    tcase_add_test(tc, pool_spin_and_sleep);
    tcase_add_test(tc, batch_chunks_even);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
