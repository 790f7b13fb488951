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
    if (i < n) { /* the tail into the first lanes (+0.0 leaves the others) */
        float t[32] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof *t);
        for (int k = 0; k < 4; k++) {
            sum_v8 v;
            memcpy(&v, t + 8 * k, sizeof v);
            a[k] += v;
        }
    }
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

static void FN(conv_fwd_range)(void *arg, int64_t n0, int64_t n1, int tid)
{
    tg__conv_fwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f;
    const tg__conv_epi *e = j->epi;
    const bool full = tg__conv_epi_full(e), relu = e && e->relu && !full;
    float *xp = j->ctx->scratch[tid];
    float *of = xp + g->cin * f->in_cs;
    memset(xp, 0, (size_t)(g->cin * f->in_cs) * sizeof(float));
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    for (int64_t n = n0; n < n1; n++) {
        FN(pad_planes)(j->x + n * g->cin * plane_in, g->cin, g->h, g->w, g->pad, f, xp);
        FN(conv_flat)((int)g->cin, (int)g->cout, g->k, f->wp, f->len, xp, f->in_cs, j->w, of,
                         f->out_cs);
        float *yn = j->y + n * g->cout * plane_out;
        for (int64_t co = 0; co < g->cout; co++) {
            const float bias = j->b ? j->b[co] : 0.0f;
            const float *s = of + co * f->out_cs;
            float *d = yn + co * plane_out;
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
                tg__conv_epi_row(e, co, yn + co * plane_out,
                                 e->res ? e->res + (n * g->cout + co) * plane_out : NULL,
                                 plane_out);
        }
    }
}

static void FN(conv_bwd_range)(void *arg, int64_t c0, int64_t c1, int tid)
{
    tg__conv_bwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f, *fb = &j->fb;
    const int64_t kk = (int64_t)g->k * g->k;
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    const int pad_b = g->k - 1 - g->pad;

    /* Scratch: [dy masked][x padded][dy padded][dy flat][dx flat]. */
    float *dym = j->ctx->scratch[tid];
    float *xp = dym + (j->relu_y ? tg__round16(g->cout * plane_out) : 0);
    float *dyp = xp + (j->want_w ? g->cin * f->in_cs : 0);
    float *dyf = dyp + (j->dx || j->shared_dy ? g->cout * fb->in_cs : 0);
    float *dxf = dyf + (j->want_w && !j->shared_dy ? g->cout * f->out_cs : 0);
    bool use_dyp = j->dx || j->shared_dy;

    if (j->want_w)
        memset(xp, 0, (size_t)(g->cin * f->in_cs) * sizeof(float));
    if (use_dyp)
        memset(dyp, 0, (size_t)(g->cout * fb->in_cs) * sizeof(float));
    if (j->want_w && !j->shared_dy)
        memset(dyf, 0, (size_t)(g->cout * f->out_cs) * sizeof(float));

    for (int64_t ch = c0; ch < c1; ch++) {
        /* samples of chunk ch, split like the pool splits ranges */
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t n0 = ch * q + (ch < r ? ch : r), n1 = n0 + q + (ch < r ? 1 : 0);
        float *dw = j->parts ? j->parts + ch * j->part : NULL;
        float *db = dw ? dw + g->cout * g->cin * kk : NULL;
        if (dw)
            memset(dw, 0, (size_t)j->part * sizeof(float));
        for (int64_t n = n0; n < n1; n++) {
            const float *dyn = j->dy + n * g->cout * plane_out;
            const float *ry = j->relu_y ? j->relu_y + n * g->cout * plane_out : NULL;
            if (use_dyp) { /* dy (masked by the fused ReLU) into the padded planes */
                if (ry)
                    FN(pad_planes_masked)(dyn, ry, g->cout, f->ho, f->wo, pad_b, fb, dyp);
                else
                    FN(pad_planes)(dyn, g->cout, f->ho, f->wo, pad_b, fb, dyp);
            } else if (ry) { /* ReLU backward, fused */
                FN(relu_mask)(dym, dyn, ry, g->cout * plane_out);
                dyn = dym;
            }
            /* dy as the steps below read it (masked when fused): rows of wo
             * floats rs apart from dr + lead, channels cs apart; in the
             * padded planes where there are some (the bias gradient sums
             * their whole rows: the zero borders add nothing, and the sums
             * are the same fused or not) */
            const float *dr = use_dyp ? dyp + pad_b * fb->wp : dyn;
            const int64_t lead = use_dyp ? pad_b : 0, rs = use_dyp ? fb->wp : f->wo;
            const int64_t cs = use_dyp ? fb->in_cs : plane_out;
            if (j->want_b)
                for (int64_t co = 0; co < g->cout; co++)
                    db[co] += FN(sum32)(dr + co * cs, f->ho * rs);
            if (j->want_w) {
                FN(pad_planes)(j->x + n * g->cin * plane_in, g->cin, g->h, g->w, g->pad, f, xp);
                const float *flat_dy = dr + lead;
                int64_t dy_cs = cs;
                if (!j->shared_dy) { /* into the flat layout of f */
                    for (int64_t co = 0; co < g->cout; co++)
                        for (int64_t oy = 0; oy < f->ho; oy++)
                            memcpy(dyf + co * f->out_cs + oy * f->wp, flat_dy + co * cs + oy * rs,
                                   (size_t)f->wo * sizeof(float));
                    flat_dy = dyf;
                    dy_cs = f->out_cs;
                }
                FN(conv_wgrad)((int)g->cin, (int)g->cout, g->k, f->wp, f->len, xp,
                                  f->in_cs, flat_dy, dy_cs, dw);
            }
            if (j->dx) {
                FN(conv_flat)((int)g->cout, (int)g->cin, g->k, fb->wp, fb->len, dyp,
                                 fb->in_cs, j->wt, dxf, fb->out_cs);
                float *dxn = j->dx + n * g->cin * plane_in;
                for (int64_t ci = 0; ci < g->cin; ci++) {
                    const float *s = dxf + ci * fb->out_cs;
                    float *d = dxn + ci * plane_in;
                    if (j->dx_store)
                        for (int64_t iy = 0; iy < g->h; iy++, s += fb->wp, d += g->w)
                            memcpy(d, s, (size_t)g->w * sizeof(float));
                    else
                        for (int64_t iy = 0; iy < g->h; iy++, s += fb->wp, d += g->w)
                            for (int64_t ix = 0; ix < g->w; ix++)
                                d[ix] += s[ix];
                }
            }
        }
    }
}

