/* SPDX-License-Identifier: MIT */
/* Per-sample loops of the direct convolution (kernels/conv_direct.c sets up
 * the jobs), included by kernels_impl.h once per ISA so that the padding,
 * masking and copy loops are vectorised for the ISA as well. */

/* Copy c planes of h x w into a zeroed padded buffer (interior only; the
 * border and slack stay zero across samples). */
static void FN(pad_planes)(const float *src, int64_t c, int64_t h, int64_t w, int pad,
                           const tg__conv_flat_geom *f, float *dst)
{
    for (int64_t ci = 0; ci < c; ci++) {
        const float *restrict s = src + ci * h * w;
        float *restrict d = dst + ci * f->in_cs + pad * f->wp + pad;
        for (int64_t y = 0; y < h; y++, s += w, d += f->wp)
            for (int64_t x = 0; x < w; x++) /* rows are short: no memcpy call */
                d[x] = s[x];
    }
}

/* The inverse: c planes of h rows of w floats from src (rows rs apart,
 * planes cs apart) stored into dense planes at dst, or added to them. */
static void FN(unpad_planes)(const float *src, int64_t cs, int64_t rs, int64_t c, int64_t h,
                             int64_t w, bool store, float *dst)
{
    for (int64_t ci = 0; ci < c; ci++) {
        const float *restrict s = src + ci * cs;
        float *restrict d = dst + ci * h * w;
        if (store) /* rows are short: no memcpy call */
            for (int64_t y = 0; y < h; y++, s += rs, d += w)
                for (int64_t x = 0; x < w; x++)
                    d[x] = s[x];
        else
            for (int64_t y = 0; y < h; y++, s += rs, d += w)
                for (int64_t x = 0; x < w; x++)
                    d[x] += s[x];
    }
}

/* pad_planes of a fused ReLU's masked dy: dy where y > 0 (or NaN), else 0,
 * as relu_mask, written straight into the padded planes (a masked copy
 * first, then the padded one, was two passes where one does). */
static void FN(pad_planes_masked)(const float *src, const float *y, int64_t c, int64_t h,
                                  int64_t w, int pad, const tg__conv_flat_geom *f, float *dst)
{
    for (int64_t ci = 0; ci < c; ci++) {
        const float *restrict s = src + ci * h * w, *restrict m = y + ci * h * w;
        float *restrict d = dst + ci * f->in_cs + pad * f->wp + pad;
        for (int64_t r = 0; r < h; r++, s += w, m += w, d += f->wp)
            for (int64_t x = 0; x < w; x++) {
                float g = s[x];
                d[x] = m[x] <= 0.0f ? 0.0f : g;
            }
    }
}

/* The stride-2 copies' kernels (kernels_impl.h, after this file). */
static void FN(gather_s2_pair)(const float *restrict src, int64_t ld, int64_t rows, int64_t n,
                               float *restrict dst, int64_t ldd, int64_t n2,
                               float *restrict dst2);
static void FN(interleave2)(const float *e, const float *o, int64_t ld, int64_t rows, int64_t n,
                            float *out, int64_t ldo, bool add);

/* The four phase planes of one plane padded by pad, as a stride-2
 * convolution reads it: plane 2a + b (in_cs apart), row i, column j holds
 * x[2i + a - pad][2j + b - pad] over the f->hp x f->wp the flat kernels
 * read. Writes only the elements inside x: the others (the padding) are
 * the same for every plane, zeroed once by the caller. */
static void FN(phase_planes)(const float *x, int64_t h, int64_t w, int pad,
                             const tg__conv_flat_geom *f, float *dst)
{
    /* x's even columns 2t go to column t + pad / 2 of phase pad % 2, its
     * odd ones to t + (pad + 1) / 2 of the other, as far as wp reaches */
    const int64_t je = pad / 2, jo = (pad + 1) / 2;
    int64_t ne = (w + 1) / 2, no = w / 2;
    ne = ne < f->wp - je ? ne : f->wp - je;
    no = no < f->wp - jo ? no : f->wp - jo;
    for (int a = 0; a < 2; a++) { /* rows r with (r + pad) % 2 == a: row (r + pad) / 2 */
        const int64_t r0 = (a + pad) % 2, i0 = (r0 + pad) / 2;
        int64_t rows = r0 < h ? (h - r0 + 1) / 2 : 0;
        rows = rows < f->hp - i0 ? rows : f->hp - i0;
        if (rows <= 0)
            continue;
        float *pe = dst + (2 * a + pad % 2) * f->in_cs + i0 * f->wp;
        float *po = dst + (2 * a + (pad + 1) % 2) * f->in_cs + i0 * f->wp;
        FN(gather_s2_pair)(x + r0 * w, 2 * w, rows, ne, pe + je, f->wp, no, po + jo);
    }
}

/* dx of one h x w plane (stored, or with add added to) from the gradients
 * of its phase planes (rows wp apart, planes cs apart, hph x wph): x[r][c]
 * is row (r + pad) / 2, column (c + pad) / 2 of plane 2 ((r + pad) % 2) +
 * (c + pad) % 2, and zero where no output reads it (the last rows or
 * columns of some layers without padding). */
static void FN(phase_scatter)(const float *dp, int64_t cs, int64_t wp, int64_t hph, int64_t wph,
                              int64_t h, int64_t w, int pad, float *dx, bool add)
{
    const int64_t c1 = 2 * wph - pad < w ? 2 * wph - pad : w; /* columns read */
    const int64_t r1 = 2 * hph - pad < h ? 2 * hph - pad : h; /* rows read */
    for (int a = 0; a < 2; a++) {
        /* rows r = r0 + 2 s: row i0 + s of phases (a, 0) (e) and (a, 1) (o);
         * x[r][2t] from A[t], x[r][2t + 1] from B[t] */
        const int64_t r0 = (a + pad) % 2, i0 = (r0 + pad) / 2;
        const int64_t rows = r0 < r1 ? (r1 - r0 + 1) / 2 : 0;
        const float *e = dp + 2 * a * cs + i0 * wp, *o = e + cs;
        const float *A = pad % 2 ? o + (pad - 1) / 2 : e + pad / 2;
        const float *B = pad % 2 ? e + (pad + 1) / 2 : o + pad / 2;
        float *d = dx + r0 * w;
        FN(interleave2)(A, B, wp, rows, c1 / 2, d, 2 * w, add);
        if (c1 % 2) /* the last column read: an even one, from A */
            for (int64_t s = 0; s < rows; s++)
                d[s * 2 * w + c1 - 1] = (add ? d[s * 2 * w + c1 - 1] : 0.0f) + A[s * wp + c1 / 2];
    }
    if (add)
        return;
    for (int64_t r = 0; r < h; r++) /* what no output reads */
        for (int64_t c = r < r1 ? c1 : 0; c < w; c++)
            dx[r * w + c] = 0.0f;
}

/* The flat input planes of cin channels at x: padded, or at stride 2 the
 * four phase planes of one. */
static void FN(flat_in)(const tg__conv_geom *g, const tg__conv_flat_geom *f, const float *x,
                        int64_t cin, float *xp)
{
    if (g->stride == 2)
        FN(phase_planes)(x, g->h, g->w, g->pad, f, xp);
    else
        FN(pad_planes)(x, cin, g->h, g->w, g->pad, f, xp);
}

/* Sum in 32 interleaved partial sums, four vectors of 8 (independent add
 * chains: as one 8-float vector the sums were bound by the adds' latency,
 * 2.9% of a seed CNN training step in its bias gradients), combined in a
 * fixed order: deterministic, and the same lanes on every ISA. */
typedef float sum_v8 __attribute__((vector_size(32)));

static float FN(sum32)(const float *x, int64_t n)
{
    sum_v8 a[4] = {{0}};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            sum_v8 v;
            memcpy(&v, x + i + 8 * k, sizeof v);
            a[k] += v;
        }
    /* The tail into the first lanes, as if zero-padded to 32 floats (a
     * lane is never -0.0, so +0.0 would leave it as it is); not through a
     * zeroed copy: its stores stalled the loads (half of this function's
     * time on the seed CNN's 812-float rows). */
    int k = 0;
    for (; i + 8 <= n; i += 8, k++) {
        sum_v8 v;
        memcpy(&v, x + i, sizeof v);
        a[k] += v;
    }
    for (int l = 0; i < n; i++, l++)
        a[k][l] += x[i];
    sum_v8 h = (a[0] + a[2]) + (a[1] + a[3]); /* halves added pairwise */
    float t[8];
    memcpy(t, &h, sizeof t);
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

/* d = dy where y > 0 (or NaN), else 0, exactly as tg_relu's backward; the
 * unconditional load makes it a select the compiler vectorises (a branch on
 * random activations mispredicts half the time). */
static void FN(relu_mask)(float *restrict d, const float *restrict dy,
                          const float *restrict y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i];
        d[i] = y[i] <= 0.0f ? 0.0f : g;
    }
}

/* cin planes of x into the flat input xp, convolved with the flat filters
 * w into cout flat output planes at of (no bias). */
static void FN(fwd_flat)(const tg__conv_fwd_job *j, int64_t cin, int64_t cout, const float *x,
                         const float *w, float *xp, float *of)
{
    const tg__conv_flat_geom *f = &j->f;
    FN(flat_in)(j->g, f, x, cin, xp);
    FN(conv_flat)((int)cin, (int)cout, j->kf, f->wp, f->len, xp, f->in_cs, w, of, f->out_cs);
}

/* cin flat planes from x to cout output planes at y (bias and epilogue
 * channels co0 ..; w: the flat filters): one sample, or one plane of a
 * depthwise layer. */
static void FN(fwd_planes)(const tg__conv_fwd_job *j, int64_t cin, int64_t cout,
                           const float *x, const float *w, int64_t co0, float *y,
                           const float *res, float *xp, float *of)
{
    const tg__conv_flat_geom *f = &j->f;
    const tg__conv_epi *e = j->epi;
    const bool full = tg__conv_epi_full(e), relu = e && e->relu && !full;
    const int64_t plane_out = f->ho * f->wo;
    FN(fwd_flat)(j, cin, cout, x, w, xp, of);
    for (int64_t co = 0; co < cout; co++) {
        const float bias = j->b ? j->b[co0 + co] : 0.0f;
        const float *s = of + co * f->out_cs;
        float *d = y + co * plane_out;
        for (int64_t oy = 0; oy < f->ho; oy++, s += f->wp, d += f->wo) {
            if (relu) /* as tg_relu: NaN stays NaN */
                for (int64_t ox = 0; ox < f->wo; ox++) {
                    float v = s[ox] + bias;
                    d[ox] = v < 0.0f ? 0.0f : v;
                }
            else
                for (int64_t ox = 0; ox < f->wo; ox++)
                    d[ox] = s[ox] + bias;
        }
        if (full) /* the plane just written is still in L1 */
            tg__conv_epi_row(e, co0 + co, y + co * plane_out,
                             res ? res + co * plane_out : NULL, plane_out);
    }
}

static void FN(conv_fwd_range)(void *arg, int64_t n0, int64_t n1, int tid)
{
    tg__conv_fwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f;
    float *xp = j->ctx->scratch[tid];
    float *of = xp + g->cin * f->in_cs;
    if (tg__first_part(j->zeroed, tid))
        memset(xp, 0, (size_t)(g->cin * f->in_cs) * sizeof(float));
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    const float *res = j->epi ? j->epi->res : NULL;
    float *pool_y = j->epi ? j->epi->pool_y : NULL;
    int32_t *pool_idx = j->epi ? j->epi->pool_idx : NULL;
    const int64_t pho = f->ho / 2, pwo = f->wo / 2, pplane = pho * pwo;
    for (int64_t n = n0; n < n1; n++) {
        const float *xn = j->x + n * g->cin * plane_in;
        if (!pool_y) {
            FN(fwd_planes)(j, g->cin, g->cout, xn, j->w, 0, j->y + n * g->cout * plane_out,
                           res ? res + n * g->cout * plane_out : NULL, xp, of);
            continue;
        }
        /* A fused pool (after the ReLU alone) pools the flat output, the
         * bias and ReLU applied as it loads it: the ReLU's planes, written
         * out and read back, took 0.6% of a seed CNN step (AVX2 kernels)
         * and 3% of its AVX-512 ones' step. Its argmax indexes the flat
         * rows (wp apart), the layout of the backward's padded dy. */
        FN(fwd_flat)(j, g->cin, g->cout, xn, j->w, xp, of);
        for (int64_t co = 0; co < g->cout; co++) {
            const int64_t p = (n * g->cout + co) * pplane;
            const float bias = j->b ? j->b[co] : 0.0f; /* as fwd_planes adds it */
            j->pool2x2(of + co * f->out_cs, f->wp, &bias, pool_y + p,
                       pool_idx ? pool_idx + p : NULL, f->wp, pho, pwo);
        }
    }
}

/* Depthwise (a filter per channel): planes p = n * C + c, each on its own
 * (at stride 2 as its four phase planes, with the phase filters). */
static void FN(conv_dw_fwd_range)(void *arg, int64_t p0, int64_t p1, int tid)
{
    tg__conv_fwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f;
    const int64_t cf = g->stride == 2 ? 4 : 1;
    float *xp = j->ctx->scratch[tid];
    float *of = xp + cf * f->in_cs, *wf = of + f->out_cs;
    if (tg__first_part(j->zeroed, tid))
        memset(xp, 0, (size_t)(cf * f->in_cs) * sizeof(float));
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo, kk = (int64_t)g->k * g->k;
    const float *res = j->epi ? j->epi->res : NULL;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t c = p % g->cout;
        if (g->stride == 2) /* channel c's (64 floats at most: cheap against a plane) */
            tg__conv_phase_filters(j->w + c * kk, g->k, wf);
        FN(fwd_planes)(j, cf, 1, j->x + p * plane_in, g->stride == 2 ? wf : j->w + c * kk, c,
                       j->y + p * plane_out, res ? res + p * plane_out : NULL, xp, of);
    }
}

/* Backward scratch of cin -> cout flat planes: [dy masked][x padded][dy
 * padded][dy flat][dx flat][phase filters' dw], the padding zeroed once per
 * range. */
typedef struct {
    float *dym, *xp, *dyp, *dyf, *dxf, *dwf;
    bool use_dyp; /* dy read from the padded planes */
} FN(bwd_scratch);

static FN(bwd_scratch) FN(bwd_scratch_of)(tg__conv_bwd_job *j, int64_t cin,
                                          int64_t cout, int tid)
{
    const tg__conv_flat_geom *f = &j->f, *fb = &j->fb;
    const int64_t plane_out = f->ho * f->wo;
    FN(bwd_scratch) b;
    b.dym = j->ctx->scratch[tid];
    b.xp = b.dym + (j->relu_y || j->pool_gy ? tg__round16(cout * plane_out) : 0);
    b.dyp = b.xp + (j->want_w ? cin * f->in_cs : 0);
    b.dyf = b.dyp + (j->dx || j->shared_dy ? cout * fb->in_cs : 0);
    b.dxf = b.dyf + (j->want_w && !j->shared_dy ? cout * f->out_cs : 0);
    b.dwf = b.dxf + (j->dx ? cin * fb->out_cs : 0);
    b.use_dyp = j->dx || j->shared_dy;
    if (!tg__first_part(j->zeroed, tid))
        return b;
    if (j->want_w)
        memset(b.xp, 0, (size_t)(cin * f->in_cs) * sizeof(float));
    if (j->by_argmax) /* reads the pooled gradient, not dy planes */
        return b;
    if (b.use_dyp)
        memset(b.dyp, 0, (size_t)(cout * fb->in_cs) * sizeof(float));
    if (j->want_w && !j->shared_dy)
        memset(b.dyf, 0, (size_t)(cout * f->out_cs) * sizeof(float));
    return b;
}

#if VW == 8
/* ---- a fused ReLU + 2x2 max pool's gradients, from its pooled gradient -----
 * Of each 2x2 window's four dy only the argmax's can be nonzero: dW, dx and
 * db need a quarter of the dense sums' products. Where the input channels
 * fit one 8-float vector (stride 1, k <= 3: tg__conv_pool_by_argmax), they
 * are summed over the argmaxes alone, each pooled gradient (masked by the
 * ReLU) times the inputs or weights of its argmax's taps, on the forward's
 * flat padded input planes (f) with the cin channels of a position
 * interleaved into one vector: a tap is one multiply-add for all channels,
 * dW's into registers, dx's into the interleaved dx. The seed CNN's 6 -> 9 layer's
 * backward, one thread, batch 32: 469 -> 300-313 us (dW alone this way: 355;
 * dW by 4-float tap rows, two channels' paired into a vector, was bound by
 * loads and inserts: 431; the nonzeros first compacted into a list cost
 * more than the zeros they skipped). AVX2 only: with 16 lanes the dense
 * kernels were faster (seed CNN one thread 55.0k -> 49.1k samples/s). The
 * sums run in another order than the dense ones (the unfused ops' to about
 * 1e-5), the same for every thread count; the three other dy of a window,
 * zero, are not multiplied (an infinite input there gives NaN in the
 * dense sums, not here). */

/* The depthwise kernels' transpose (below): 8 x 8 with 8 lanes. */
TGK_INLINE void FN(dwc_transpose)(vf r[VW]);

/* Planes of c <= 8 channels cs apart <-> positions of 8 lanes (past c: 0),
 * n positions (a multiple of 8). */
static void FN(interleave8)(const float *planes, int64_t c, int64_t cs, int64_t n, float *xi)
{
    for (int64_t q = 0; q < n; q += 8) {
        __m256 r[8];
        for (int l = 0; l < 8; l++)
            r[l] = l < c ? _mm256_loadu_ps(planes + l * cs + q) : _mm256_setzero_ps();
        FN(dwc_transpose)(r);
        for (int l = 0; l < 8; l++)
            _mm256_storeu_ps(xi + (q + l) * 8, r[l]);
    }
}

static void FN(deinterleave8)(const float *xi, int64_t c, int64_t cs, int64_t n, float *planes)
{
    for (int64_t q = 0; q < n; q += 8) {
        __m256 r[8];
        for (int l = 0; l < 8; l++)
            r[l] = _mm256_loadu_ps(xi + (q + l) * 8);
        FN(dwc_transpose)(r);
        for (int l = 0; l < c; l++)
            _mm256_storeu_ps(planes + l * cs + q, r[l]);
    }
}

/* dW's taps: acc[ky * 3 + kx] += gv[i] * x at at[i] + ky * wp + kx, i < m. */
TGK_INLINE void FN(pooled_wgrad)(const int k, __m256 acc[9], const float *xi, int64_t wp,
                                 const float *gv, const int32_t *at, int64_t m)
{
    __m256 a[9];
    memcpy(a, acc, sizeof a);
    for (int64_t i = 0; i < m; i++) {
        const __m256 s = _mm256_set1_ps(gv[i]);
        for (int ky = 0; ky < k; ky++) {
            const float *r = xi + ((int64_t)at[i] + ky * wp) * 8;
            for (int kx = 0; kx < k; kx++)
                a[ky * 3 + kx] = _mm256_fmadd_ps(s, _mm256_loadu_ps(r + 8 * kx), a[ky * 3 + kx]);
        }
    }
    memcpy(acc, a, sizeof a);
}

/* dx's taps: dxi at at[i] + ky * wp + kx += gv[i] * wv[ky * 3 + kx], i < m
 * (neighbours share taps; read after write through memory, but taking them
 * from two halves of the list in turn gained nothing). */
TGK_INLINE void FN(pooled_dgrad)(const int k, const __m256 wv[9], float *dxi, int64_t wp,
                                 const float *gv, const int32_t *at, int64_t m)
{
    for (int64_t i = 0; i < m; i++) {
        const __m256 s = _mm256_set1_ps(gv[i]);
        for (int ky = 0; ky < k; ky++) {
            float *r = dxi + ((int64_t)at[i] + ky * wp) * 8;
            for (int kx = 0; kx < k; kx++)
                _mm256_storeu_ps(r + 8 * kx, _mm256_fmadd_ps(s, wv[ky * 3 + kx],
                                                           _mm256_loadu_ps(r + 8 * kx)));
        }
    }
}

/* Sample n's dW (+=), db (+=) and dx (stored or added) from the pooled
 * gradient; b's xp and the interleaved x and dx after dwf as scratch. */
static void FN(bwd_pooled)(const tg__conv_bwd_job *j, const FN(bwd_scratch) *b, int64_t n,
                           const float *xn, float *dxn, float *dw, float *db)
{
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f;
    const int k = j->kf;
    const int64_t cin = g->cin, cout = g->cout, cs = f->in_cs, wp = f->wp, kk = (int64_t)k * k;
    const int64_t pwo = f->wo / 2, pplane = (f->ho / 2) * pwo;
    float *xi = b->dwf + tg__round16(4 * kk), *dxi = xi + 8 * cs;
    if (j->want_w) {
        FN(flat_in)(g, f, xn, cin, b->xp);
        FN(interleave8)(b->xp, cin, cs, cs, xi);
    }
    if (j->dx)
        memset(dxi, 0, (size_t)(8 * cs) * sizeof *dxi);
    for (int64_t co = 0; co < cout; co++) {
        const int64_t p = (n * cout + co) * pplane;
        __m256 acc[9], wv[9]; /* tap (ky, kx) at ky * 3 + kx */
        for (int t = 0; t < 9; t++)
            acc[t] = wv[t] = _mm256_setzero_ps();
        for (int64_t t = 0; t < kk && j->dx; t++) {
            float l[8] = {0};
            for (int64_t ci = 0; ci < cin; ci++)
                l[ci] = j->w[(co * cin + ci) * kk + t];
            wv[t / k * 3 + t % k] = _mm256_loadu_ps(l);
        }
        float sb = 0.0f;
        for (int64_t o0 = 0; o0 < pplane; o0 += 256) { /* masked, 256 at a time */
            float gv[256];
            const int64_t m = pplane - o0 < 256 ? pplane - o0 : 256;
            const int32_t *at = j->pool_idx + p + o0;
            FN(relu_mask)(gv, j->pool_gy + p + o0, j->pool_y + p + o0, m);
            if (j->want_b)
                sb += FN(sum32)(gv, m);
            if (j->want_w && k == 3) /* a constant k: the taps' loops unroll */
                FN(pooled_wgrad)(3, acc, xi, wp, gv, at, m);
            else if (j->want_w)
                FN(pooled_wgrad)(k, acc, xi, wp, gv, at, m);
            if (j->dx && k == 3)
                FN(pooled_dgrad)(3, wv, dxi, wp, gv, at, m);
            else if (j->dx)
                FN(pooled_dgrad)(k, wv, dxi, wp, gv, at, m);
        }
        if (j->want_b)
            db[co] += sb;
        for (int t = 0; t < kk && j->want_w; t++) {
            float l[8];
            _mm256_storeu_ps(l, acc[t / k * 3 + t % k]);
            for (int64_t ci = 0; ci < cin; ci++)
                dw[(co * cin + ci) * kk + t] += l[ci];
        }
    }
    if (!j->dx)
        return;
    FN(deinterleave8)(dxi, cin, cs, cs, xi); /* planes into xi, free again */
    FN(unpad_planes)(xi + g->pad * wp + g->pad, cs, wp, cin, g->h, g->w, j->dx_store, dxn);
}
#endif

/* Gradients of cout output planes dyn (masked by ry > 0 if fused) from cin
 * flat input planes of xn: db[co] += sums, dw (+)= the weight gradient,
 * dxn (+)= the input gradient through wt (transposed, flipped flat
 * filters). One sample, or one plane of a depthwise layer. */
static void FN(bwd_planes)(const tg__conv_bwd_job *j, const FN(bwd_scratch) *b, int64_t cin,
                           int64_t cout, const float *dyn, const float *ry, const float *xn,
                           const float *wt, float *dxn, float *dw, float *db)
{
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f, *fb = &j->fb;
    const int64_t plane_out = f->ho * f->wo;
    const int pad_b = j->kf - 1 - j->padf;
    /* dy as the steps below read it (masked when fused): rows of wo
     * floats rs apart from dr + lead, channels cs apart; in the
     * padded planes where there are some (the bias gradient sums
     * their whole rows: the zero borders add nothing, and the sums
     * are the same fused or not) */
    const float *dr = b->use_dyp ? b->dyp + pad_b * fb->wp : dyn;
    const int64_t lead = b->use_dyp ? pad_b : 0, rs = b->use_dyp ? fb->wp : f->wo;
    const int64_t cs = b->use_dyp ? fb->in_cs : plane_out;
    if (b->use_dyp) /* dy (masked by the fused ReLU) into the padded planes */
        for (int64_t co = 0; co < cout; co++) { /* (there already if dyn is NULL), */
            if (dyn && ry)
                FN(pad_planes_masked)(dyn + co * plane_out, ry + co * plane_out, 1, f->ho,
                                      f->wo, pad_b, fb, b->dyp + co * fb->in_cs);
            else if (dyn)
                FN(pad_planes)(dyn + co * plane_out, 1, f->ho, f->wo, pad_b, fb,
                               b->dyp + co * fb->in_cs);
            if (j->want_b) /* each summed while in L1 */
                db[co] += FN(sum32)(dr + co * cs, f->ho * rs);
        }
    else {
        if (ry) { /* ReLU backward, fused */
            FN(relu_mask)(b->dym, dyn, ry, cout * plane_out);
            dyn = dr = b->dym;
        }
        if (j->want_b)
            for (int64_t co = 0; co < cout; co++)
                db[co] += FN(sum32)(dr + co * cs, f->ho * rs);
    }
    if (j->want_w) {
        FN(flat_in)(g, f, xn, cin, b->xp);
        const float *flat_dy = dr + lead;
        int64_t dy_cs = cs;
        if (!j->shared_dy) { /* into the flat layout of f */
            for (int64_t co = 0; co < cout; co++)
                for (int64_t oy = 0; oy < f->ho; oy++) {
                    float *restrict d = b->dyf + co * f->out_cs + oy * f->wp;
                    const float *restrict s = flat_dy + co * cs + oy * rs;
                    for (int64_t ox = 0; ox < f->wo; ox++)
                        d[ox] = s[ox];
                }
            flat_dy = b->dyf;
            dy_cs = f->out_cs;
        }
        if (g->stride == 2) { /* the phase filters', then w's */
            const int kf = j->kf, k = g->k;
            memset(b->dwf, 0, (size_t)(4 * kf * kf) * sizeof(float));
            FN(conv_wgrad)(4, 1, kf, f->wp, f->len, b->xp, f->in_cs, flat_dy, dy_cs, b->dwf);
            for (int ph = 0; ph < 4; ph++)
                for (int m = 0; 2 * m + ph / 2 < k; m++)
                    for (int q = 0; 2 * q + ph % 2 < k; q++)
                        dw[(2 * m + ph / 2) * k + 2 * q + ph % 2] +=
                            b->dwf[(ph * kf + m) * kf + q];
        } else
            FN(conv_wgrad)((int)cin, (int)cout, j->kf, f->wp, f->len, b->xp, f->in_cs, flat_dy,
                           dy_cs, dw);
    }
    if (j->dx) {
        FN(conv_flat)((int)cout, (int)cin, j->kf, fb->wp, fb->len, b->dyp, fb->in_cs, wt, b->dxf,
                      fb->out_cs);
        if (g->stride == 2) {
            FN(phase_scatter)(b->dxf, fb->out_cs, fb->wp, fb->ho, fb->wo, g->h, g->w, g->pad, dxn,
                              !j->dx_store);
            return;
        }
        FN(unpad_planes)(b->dxf, fb->out_cs, fb->wp, cin, g->h, g->w, j->dx_store, dxn);
    }
}

/* dy of sample n's cout planes (channels cs apart, rows rs apart from d)
 * from the gradient of the fused ReLU + 2x2 max pool, as its separate
 * backward ops would give it: each pooled gradient (+0.0, as max_pool2d's
 * store) at its argmax where the pooled value (the ReLU's output there) is
 * > 0 or NaN, zero elsewhere (the rows' other floats: the padded dy's zero
 * borders when rs is the flat rows' wp). */
static void FN(unpool)(const tg__conv_bwd_job *j, int64_t n, int64_t cout, float *d, int64_t cs,
                       int64_t rs)
{
    const tg__conv_flat_geom *f = &j->f;
    const int64_t pwo = f->wo / 2, pplane = (f->ho / 2) * pwo, wp = f->wp;
    for (int64_t co = 0; co < cout; co++) {
        const int64_t p = (n * cout + co) * pplane;
        const float *y = j->pool_y + p, *gy = j->pool_gy + p;
        const int32_t *idx = j->pool_idx + p;
        float *dc = d + co * cs;
        memset(dc, 0, (size_t)(f->ho * rs) * sizeof *dc);
        for (int64_t o0 = 0; o0 < pplane; o0 += 256) {
            /* masked first, a vectorised select (as a branch in the scatter
             * it mispredicted: 7.3% of a seed CNN step, where the separate
             * max_pool2d backward took 2.0%) */
            float t[256];
            const int64_t m = pplane - o0 < 256 ? pplane - o0 : 256;
            FN(relu_mask)(t, gy + o0, y + o0, m);
            if (rs == wp) { /* the forward's flat rows: straight into dy */
                for (int64_t o = 0; o < m; o++)
                    dc[idx[o0 + o]] = 0.0f + t[o];
                continue;
            }
            /* dense rows: the argmax's row r and column in its 2x2 window */
            int64_t oy = o0 / pwo, ox = o0 % pwo;
            for (int64_t o = 0; o < m; o++) {
                const int64_t at = idx[o0 + o] - (2 * oy * wp + 2 * ox), r = at >= wp;
                dc[(2 * oy + r) * rs + 2 * ox + at - r * wp] = 0.0f + t[o];
                if (++ox == pwo)
                    ox = 0, oy++;
            }
        }
    }
}

static void FN(conv_bwd_range)(void *arg, int64_t c0, int64_t c1, int tid)
{
    tg__conv_bwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const int64_t kk = (int64_t)g->k * g->k;
    const int64_t plane_in = g->h * g->w, plane_out = j->f.ho * j->f.wo;
    const FN(bwd_scratch) b = FN(bwd_scratch_of)(j, g->cin, g->cout, tid);
    const int64_t pad_b = j->kf - 1 - j->padf;
    for (int64_t ch = c0; ch < c1; ch++) {
        /* samples of chunk ch, split like the pool splits ranges */
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t n0 = ch * q + (ch < r ? ch : r), n1 = n0 + q + (ch < r ? 1 : 0);
        float *dw = j->parts ? j->parts + ch * j->part : NULL;
        float *db = dw ? dw + g->cout * g->cin * kk : NULL;
        if (dw)
            memset(dw, 0, (size_t)j->part * sizeof(float));
        for (int64_t n = n0; n < n1; n++) {
#if VW == 8
            if (j->by_argmax) {
                FN(bwd_pooled)(j, &b, n, j->x + n * g->cin * plane_in,
                               j->dx ? j->dx + n * g->cin * plane_in : NULL, dw, db);
                continue;
            }
#endif
            const float *dyn = j->pool_gy ? NULL : j->dy + n * g->cout * plane_out;
            if (j->pool_gy && b.use_dyp) /* into the padded planes (dyn NULL) */
                FN(unpool)(j, n, g->cout, b.dyp + pad_b * (j->fb.wp + 1), j->fb.in_cs, j->fb.wp);
            else if (j->pool_gy) {
                FN(unpool)(j, n, g->cout, b.dym, plane_out, j->f.wo);
                dyn = b.dym;
            }
            FN(bwd_planes)(j, &b, g->cin, g->cout, dyn,
                           j->relu_y ? j->relu_y + n * g->cout * plane_out : NULL,
                           j->x + n * g->cin * plane_in, j->wt,
                           j->dx ? j->dx + n * g->cin * plane_in : NULL, dw, db);
        }
    }
}

/* Depthwise: the chunks' samples plane by plane, channel c's filter at
 * c * k * k (dw: [C][k][k], then db [C]); its transposed flat filters
 * (one, or four phases' at stride 2) at c * cf * kf * kf. */
static void FN(conv_dw_bwd_range)(void *arg, int64_t c0, int64_t c1, int tid)
{
    tg__conv_bwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const int64_t kk = (int64_t)g->k * g->k, C = g->cout, cf = g->stride == 2 ? 4 : 1;
    const int64_t plane_in = g->h * g->w, plane_out = j->f.ho * j->f.wo;
    const FN(bwd_scratch) b = FN(bwd_scratch_of)(j, cf, 1, tid);
    for (int64_t ch = c0; ch < c1; ch++) {
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t n0 = ch * q + (ch < r ? ch : r), n1 = n0 + q + (ch < r ? 1 : 0);
        float *dw = j->parts ? j->parts + ch * j->part : NULL;
        float *db = dw ? dw + C * kk : NULL;
        if (dw)
            memset(dw, 0, (size_t)j->part * sizeof(float));
        for (int64_t p = n0 * C; p < n1 * C; p++) {
            const int64_t c = p % C;
            FN(bwd_planes)(j, &b, cf, 1, j->dy + p * plane_out,
                           j->relu_y ? j->relu_y + p * plane_out : NULL, j->x + p * plane_in,
                           j->wt ? j->wt + c * cf * j->kf * j->kf : NULL,
                           j->dx ? j->dx + p * plane_in : NULL, dw ? dw + c * kk : NULL,
                           db ? db + c : NULL);
        }
    }
}

#if VW >= 8
/* ---- depthwise layers, channels in the vector lanes ----------------------
 * A plane at a time, the flat kernels above spend more on each plane's
 * copies, tails and calls (at stride 2 also its phase split) than on its
 * few taps (8 x 1024 x 7x7, 3x3: 60 ns a plane). Here VW channels of one
 * sample at a time are transposed (VW x VW blocks in registers) into a
 * tile of pixels, each pixel the VW channels' values as one vector:
 * tile[(y * wp + x) * VW + lane]. A tap is
 * then one multiply-add of a pixel vector by the tap's VW weights, at any
 * stride, and the result is transposed back. The forward sums a pixel's
 * taps in the same order as the flat kernels (ky, then kx, from zero, the
 * bias added after), so at stride 1 it has their bits. */

typedef int32_t FN(dwc_vi) __attribute__((vector_size(VW * 4)));

#define DWC_LO(d, l) (((l) & (d)) ? VW + (l) - (d) : (l))
#define DWC_HI(d, l) (((l) & (d)) ? VW + (l) : (l) + (d))
#if VW == 16
#  define DWC_LANES(M, d)                                                                      \
      M(d, 0), M(d, 1), M(d, 2), M(d, 3), M(d, 4), M(d, 5), M(d, 6), M(d, 7), M(d, 8),         \
      M(d, 9), M(d, 10), M(d, 11), M(d, 12), M(d, 13), M(d, 14), M(d, 15)
#else
#  define DWC_LANES(M, d) M(d, 0), M(d, 1), M(d, 2), M(d, 3), M(d, 4), M(d, 5), M(d, 6), M(d, 7)
#endif
/* Rows i and i + d swap their off-diagonal d x d blocks: after every d, r
 * is transposed. */
#define DWC_STAGE(r, d)                                                                        \
    TGK_UNROLL for (int i_ = 0; i_ < VW; i_++) if (!(i_ & (d))) {                              \
        vf a_ = r[i_], b_ = r[i_ + (d)];                                                       \
        r[i_] = __builtin_shufflevector(a_, b_, DWC_LANES(DWC_LO, d));                         \
        r[i_ + (d)] = __builtin_shufflevector(a_, b_, DWC_LANES(DWC_HI, d));                   \
    }

/* Lane l of r[i] to lane i of r[l]. */
TGK_INLINE void FN(dwc_transpose)(vf r[VW])
{
#if VW == 16
    DWC_STAGE(r, 8)
#endif
    DWC_STAGE(r, 4)
    DWC_STAGE(r, 2)
    DWC_STAGE(r, 1)
}

/* v where m > 0 (or NaN), else 0: tg_relu's backward on its result m */
static inline vf FN(dwc_relu_mask)(vf v, vf m)
{
    FN(dwc_vi) dead = m <= VZERO();
    return (vf)((FN(dwc_vi))v & ~dead);
}

/* Planes -> tile: pixel p (of hw, rows of w) of nc planes at src (cs floats
 * apart) to dst + ((p / w + pad) * wp + p % w + pad) * VW; lanes from nc on
 * are zero. With m (a fused ReLU's output, laid out as src) only where
 * m > 0. */
static void FN(dwc_in)(const float *src, const float *m, int64_t cs, int nc, int64_t hw,
                       int64_t w, int64_t wp, int64_t pad, float *dst)
{
    int64_t y = 0, x = 0;
    for (int64_t p0 = 0; p0 < hw; p0 += VW) {
        const int np = hw - p0 < VW ? (int)(hw - p0) : VW;
        vf r[VW];
        if (np < VW) { /* the planes' last pixels: lane by lane */
            for (int i = 0; i < np; i++) {
                float *d = dst + ((y + pad) * wp + x + pad) * VW;
                for (int c = 0; c < VW; c++) {
                    float v = c < nc ? src[c * cs + p0 + i] : 0.0f;
                    d[c] = m && c < nc && m[c * cs + p0 + i] <= 0.0f ? 0.0f : v;
                }
                if (++x == w)
                    x = 0, y++;
            }
            continue;
        }
TGK_UNROLL
        for (int c = 0; c < VW; c++) { /* unrolled: r stays in registers */
            r[c] = VZERO();
            if (c >= nc)
                continue;
            r[c] = VLOAD(src + c * cs + p0);
            if (m)
                r[c] = FN(dwc_relu_mask)(r[c], VLOAD(m + c * cs + p0));
        }
        FN(dwc_transpose)(r);
TGK_UNROLL
        for (int i = 0; i < VW; i++) {
            VSTORE(dst + ((y + pad) * wp + x + pad) * VW, r[i]);
            if (++x == w)
                x = 0, y++;
        }
    }
}

/* Tile -> planes: pixel p's lanes at src + p * VW (hw pixels) to pixel p
 * of nc planes at dst (cs floats apart), stored, or added with add. */
static void FN(dwc_out)(const float *src, int64_t hw, int nc, float *dst, int64_t cs, bool add)
{
    for (int64_t p0 = 0; p0 < hw; p0 += VW) {
        const int np = hw - p0 < VW ? (int)(hw - p0) : VW;
        if (np == VW) { /* whole vectors: unrolled, r in registers */
            vf r[VW];
TGK_UNROLL
            for (int i = 0; i < VW; i++)
                r[i] = VLOAD(src + (p0 + i) * VW);
            FN(dwc_transpose)(r);
TGK_UNROLL
            for (int c = 0; c < VW; c++) {
                if (c >= nc)
                    break;
                float *d = dst + c * cs + p0;
                VSTORE(d, add ? VADD(VLOAD(d), r[c]) : r[c]);
            }
            continue;
        }
        for (int c = 0; c < nc; c++) /* the planes' last pixels: lane by lane */
            for (int i = 0; i < np; i++) {
                float *d = dst + c * cs + p0 + i, v = src[(p0 + i) * VW + c];
                *d = add ? *d + v : v;
            }
    }
}

/* The VW channels' weights from c0 (nc of them) as a vector per tap. */
static void FN(dwc_weights)(const float *w, int64_t c0, int nc, int kk, vf *wv)
{
    for (int t = 0; t < kk; t++) {
        float l[VW] = {0};
        for (int c = 0; c < nc; c++)
            l[c] = w[(c0 + c) * kk + t];
        wv[t] = VLOAD(l);
    }
}

/* Outputs of a K x K filter at stride S from tile xt (rows of wp pixels)
 * to ot (ho x wo pixels): sum over the taps in order, + bias, ReLU. */
TGK_INLINE void FN(dwc_fwd_k)(const int K, const int S, const float *xt, int64_t wp,
                              int64_t ho, int64_t wo, const vf *wv, vf bias, bool relu,
                              float *ot)
{
    for (int64_t oy = 0; oy < ho; oy++)
        for (int64_t ox = 0; ox < wo; ox++) {
            const float *b = xt + (oy * S * wp + ox * S) * VW;
            vf acc = VZERO();
TGK_UNROLL
            for (int ky = 0; ky < K; ky++)
TGK_UNROLL
                for (int kx = 0; kx < K; kx++)
                    acc = VFMA(wv[ky * K + kx], VLOAD(b + (ky * wp + kx) * VW), acc);
            acc = acc + bias;
            if (relu) /* v < 0 ? 0 : v: NaN and -0 stay */
                acc = (vf)((FN(dwc_vi))acc & ~(FN(dwc_vi))(acc < VZERO()));
            VSTORE(ot + (oy * wo + ox) * VW, acc);
        }
}

/* dw[t] = sum over outputs of dy * the pixel tap t reads; dy from tile dyt
 * (rows of wd pixels, output (0, 0) at pixel (B, B)). Two sums per tap
 * (even and odd columns), so that a row of taps has 2K independent chains. */
TGK_INLINE void FN(dwc_wgrad_k)(const int K, const int S, const float *xt, int64_t wp,
                                const float *dyt, int64_t wd, int64_t B, int64_t ho,
                                int64_t wo, vf *dw)
{
TGK_UNROLL
    for (int ky = 0; ky < K; ky++) {
        vf a0[TG__CONV_KMAX], a1[TG__CONV_KMAX];
TGK_UNROLL
        for (int kx = 0; kx < K; kx++)
            a0[kx] = a1[kx] = VZERO();
        for (int64_t oy = 0; oy < ho; oy++) {
            const float *d = dyt + ((oy + B) * wd + B) * VW;
            const float *xr = xt + (oy * S + ky) * wp * VW;
            int64_t ox = 0;
            for (; ox + 2 <= wo; ox += 2) {
                vf g0 = VLOAD(d + ox * VW), g1 = VLOAD(d + (ox + 1) * VW);
TGK_UNROLL
                for (int kx = 0; kx < K; kx++) {
                    a0[kx] = VFMA(g0, VLOAD(xr + (ox * S + kx) * VW), a0[kx]);
                    a1[kx] = VFMA(g1, VLOAD(xr + ((ox + 1) * S + kx) * VW), a1[kx]);
                }
            }
            if (ox < wo) {
                vf g0 = VLOAD(d + ox * VW);
TGK_UNROLL
                for (int kx = 0; kx < K; kx++)
                    a0[kx] = VFMA(g0, VLOAD(xr + (ox * S + kx) * VW), a0[kx]);
            }
        }
TGK_UNROLL
        for (int kx = 0; kx < K; kx++)
            dw[ky * K + kx] = a0[kx] + a1[kx];
    }
}

/* dx at each input pixel (h x w, to dxt) from the outputs that read it:
 * tap (ky, kx) of output (oy, ox) reads pixel (oy S + ky - pad, ox S + kx
 * - pad); at stride 2 only taps of the pixel's parity. */
TGK_INLINE void FN(dwc_dx_k)(const int K, const int S, int64_t pad, const float *dyt,
                             int64_t wd, int64_t B, int64_t h, int64_t w, const vf *wv,
                             float *dxt)
{
    for (int64_t iy = 0; iy < h; iy++)
        for (int64_t ix = 0; ix < w; ix++) {
            vf acc = VZERO();
            for (int ky = S == 2 ? (int)((iy + pad) & 1) : 0; ky < K; ky += S) {
                const int64_t oy = (iy + pad - ky) / S; /* exact: same parity */
                const float *d = dyt + ((oy + B) * wd + B) * VW;
                for (int kx = S == 2 ? (int)((ix + pad) & 1) : 0; kx < K; kx += S)
                    acc = VFMA(wv[ky * K + kx], VLOAD(d + (ix + pad - kx) / S * VW), acc);
            }
            VSTORE(dxt + (iy * w + ix) * VW, acc);
        }
}

#define DWC_SWITCH(CALL)                                                                       \
    switch (g->k * 2 + g->stride - 1) {                                                        \
    case 2: CALL(1, 1); break; case 3: CALL(1, 2); break;                                      \
    case 4: CALL(2, 1); break; case 5: CALL(2, 2); break;                                      \
    case 6: CALL(3, 1); break; case 7: CALL(3, 2); break;                                      \
    case 8: CALL(4, 1); break; case 9: CALL(4, 2); break;                                      \
    case 10: CALL(5, 1); break; case 11: CALL(5, 2); break;                                    \
    case 12: CALL(6, 1); break; case 13: CALL(6, 2); break;                                    \
    case 14: CALL(7, 1); break; case 15: CALL(7, 2); break;                                    \
    }

/* Forward over units u = b * N + n: channels b * VW .. of sample n (the
 * block's weights loaded once for its samples). */
static void FN(conv_dwc_fwd_range)(void *arg, int64_t u0, int64_t u1, int tid)
{
    tg__conv_fwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const tg__conv_dwc_geom d = tg__conv_dwc_geom_of(g, VW);
    const tg__conv_epi *e = j->epi;
    const bool full = tg__conv_epi_full(e), relu = e && e->relu && !full;
    const int kk = g->k * g->k;
    const int64_t C = g->cin, plane_in = g->h * g->w, plane_out = d.ho * d.wo;
    float *xt = j->ctx->scratch[tid], *ot = xt + d.xt_floats;
    if (tg__first_part(j->zeroed, tid))
        memset(xt, 0, (size_t)d.xt_floats * sizeof(float)); /* the padding */
    vf wv[TG__CONV_KMAX * TG__CONV_KMAX], bias = VZERO();
    for (int64_t u = u0, c_w = -1; u < u1; u++) {
        const int64_t n = u % g->n, c0 = u / g->n * VW;
        const int nc = C - c0 < VW ? (int)(C - c0) : VW;
        if (c0 != c_w) {
            FN(dwc_weights)(j->w, c0, nc, kk, wv);
            float bl[VW] = {0};
            for (int c = 0; c < nc && j->b; c++)
                bl[c] = j->b[c0 + c];
            bias = VLOAD(bl);
            c_w = c0;
        }
        FN(dwc_in)(j->x + (n * C + c0) * plane_in, NULL, plane_in, nc, plane_in, g->w, d.wp,
                   g->pad, xt);
#define DWC_FWD(K, S) FN(dwc_fwd_k)(K, S, xt, d.wp, d.ho, d.wo, wv, bias, relu, ot)
        DWC_SWITCH(DWC_FWD)
#undef DWC_FWD
        float *y = j->y + (n * C + c0) * plane_out;
        FN(dwc_out)(ot, plane_out, nc, y, plane_out, false);
        if (full)
            for (int c = 0; c < nc; c++)
                tg__conv_epi_row(e, c0 + c, y + c * plane_out,
                                 e->res ? e->res + (n * C + c0 + c) * plane_out : NULL,
                                 plane_out);
    }
}

/* Backward over the batch's chunks, a block of VW channels at a time for
 * the chunk's samples in order. A chunk's partial holds its weight
 * gradients lane by lane, [C / VW][k * k][VW], then its bias gradients [C
 * rounded up to VW] (tg__conv_direct_backward adds them up). */
static void FN(conv_dwc_bwd_range)(void *arg, int64_t ch0, int64_t ch1, int tid)
{
    tg__conv_bwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const tg__conv_dwc_geom d = tg__conv_dwc_geom_of(g, VW);
    const int kk = g->k * g->k;
    const int64_t C = g->cin, nb = (C + VW - 1) / VW;
    const int64_t plane_in = g->h * g->w, plane_out = d.ho * d.wo;
    float *dyt = j->ctx->scratch[tid], *xt = dyt + d.dyt_floats, *dxt = xt + d.xt_floats;
    if (tg__first_part(j->zeroed, tid)) /* the padding */
        memset(dyt, 0, (size_t)(d.dyt_floats + d.xt_floats) * sizeof(float));
    for (int64_t ch = ch0; ch < ch1; ch++) {
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t n0 = ch * q + (ch < r ? ch : r), n1 = n0 + q + (ch < r ? 1 : 0);
        float *dw = j->parts ? j->parts + ch * j->part : NULL;
        float *db = dw ? dw + nb * kk * VW : NULL;
        if (dw)
            memset(dw, 0, (size_t)j->part * sizeof(float));
        for (int64_t c0 = 0; c0 < C; c0 += VW) {
            const int nc = C - c0 < VW ? (int)(C - c0) : VW;
            vf wv[TG__CONV_KMAX * TG__CONV_KMAX];
            if (j->dx)
                FN(dwc_weights)(j->w, c0, nc, kk, wv);
            float *dwb = dw ? dw + c0 * kk : NULL;
            for (int64_t n = n0; n < n1; n++) {
                const int64_t po = (n * C + c0) * plane_out, pi = (n * C + c0) * plane_in;
                FN(dwc_in)(j->dy + po, j->relu_y ? j->relu_y + po : NULL, plane_out, nc,
                           plane_out, d.wo, d.wd, d.b, dyt);
                if (j->want_b) { /* four sums a lane (columns mod 4), rows in order */
                    vf s0 = VZERO(), s1 = VZERO(), s2 = VZERO(), s3 = VZERO();
                    for (int64_t oy = 0; oy < d.ho; oy++) {
                        const float *p = dyt + ((oy + d.b) * d.wd + d.b) * VW;
                        int64_t ox = 0;
                        for (; ox + 4 <= d.wo; ox += 4) {
                            s0 = VADD(s0, VLOAD(p + ox * VW));
                            s1 = VADD(s1, VLOAD(p + (ox + 1) * VW));
                            s2 = VADD(s2, VLOAD(p + (ox + 2) * VW));
                            s3 = VADD(s3, VLOAD(p + (ox + 3) * VW));
                        }
                        for (; ox < d.wo; ox++)
                            s0 = VADD(s0, VLOAD(p + ox * VW));
                    }
                    VSTORE(db + c0, VADD(VLOAD(db + c0), VADD(VADD(s0, s1), VADD(s2, s3))));
                }
                if (j->want_w) {
                    FN(dwc_in)(j->x + pi, NULL, plane_in, nc, plane_in, g->w, d.wp, g->pad, xt);
                    vf gw[TG__CONV_KMAX * TG__CONV_KMAX];
#define DWC_WG(K, S) FN(dwc_wgrad_k)(K, S, xt, d.wp, dyt, d.wd, d.b, d.ho, d.wo, gw)
                    DWC_SWITCH(DWC_WG)
#undef DWC_WG
                    for (int t = 0; t < kk; t++)
                        VSTORE(dwb + t * VW, VADD(VLOAD(dwb + t * VW), gw[t]));
                }
                if (j->dx) {
#define DWC_DX(K, S) FN(dwc_dx_k)(K, S, g->pad, dyt, d.wd, d.b, g->h, g->w, wv, dxt)
                    DWC_SWITCH(DWC_DX)
#undef DWC_DX
                    FN(dwc_out)(dxt, plane_in, nc, j->dx + pi, plane_in, !j->dx_store);
                }
            }
        }
    }
}
#  define CONV_DWC_FWD FN(conv_dwc_fwd_range)
#  define CONV_DWC_BWD FN(conv_dwc_bwd_range)
#else
#  define CONV_DWC_FWD NULL
#  define CONV_DWC_BWD NULL
#endif
