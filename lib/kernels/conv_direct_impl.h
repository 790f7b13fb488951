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

/* cin flat planes from x to cout output planes at y (bias and epilogue
 * channels co0 ..; w: the flat filters): one sample, or one plane of a
 * depthwise layer. */
static void FN(fwd_planes)(const tg__conv_fwd_job *j, int64_t cin, int64_t cout,
                           const float *x, const float *w, int64_t co0, float *y,
                           const float *res, float *xp, float *of)
{
    const tg__conv_geom *g = j->g;
    const tg__conv_flat_geom *f = &j->f;
    const tg__conv_epi *e = j->epi;
    const bool full = tg__conv_epi_full(e), relu = e && e->relu && !full;
    const int64_t plane_out = f->ho * f->wo;
    FN(flat_in)(g, f, x, cin, xp);
    FN(conv_flat)((int)cin, (int)cout, j->kf, f->wp, f->len, xp, f->in_cs, w, of, f->out_cs);
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
    memset(xp, 0, (size_t)(g->cin * f->in_cs) * sizeof(float));
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    const float *res = j->epi ? j->epi->res : NULL;
    for (int64_t n = n0; n < n1; n++)
        FN(fwd_planes)(j, g->cin, g->cout, j->x + n * g->cin * plane_in, j->w, 0,
                       j->y + n * g->cout * plane_out,
                       res ? res + n * g->cout * plane_out : NULL, xp, of);
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

static FN(bwd_scratch) FN(bwd_scratch_of)(const tg__conv_bwd_job *j, int64_t cin,
                                          int64_t cout, int tid)
{
    const tg__conv_flat_geom *f = &j->f, *fb = &j->fb;
    const int64_t plane_out = f->ho * f->wo;
    FN(bwd_scratch) b;
    b.dym = j->ctx->scratch[tid];
    b.xp = b.dym + (j->relu_y ? tg__round16(cout * plane_out) : 0);
    b.dyp = b.xp + (j->want_w ? cin * f->in_cs : 0);
    b.dyf = b.dyp + (j->dx || j->shared_dy ? cout * fb->in_cs : 0);
    b.dxf = b.dyf + (j->want_w && !j->shared_dy ? cout * f->out_cs : 0);
    b.dwf = b.dxf + (j->dx ? cin * fb->out_cs : 0);
    b.use_dyp = j->dx || j->shared_dy;
    if (j->want_w)
        memset(b.xp, 0, (size_t)(cin * f->in_cs) * sizeof(float));
    if (b.use_dyp)
        memset(b.dyp, 0, (size_t)(cout * fb->in_cs) * sizeof(float));
    if (j->want_w && !j->shared_dy)
        memset(b.dyf, 0, (size_t)(cout * f->out_cs) * sizeof(float));
    return b;
}

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
    const int64_t plane_in = g->h * g->w, plane_out = f->ho * f->wo;
    const int pad_b = j->kf - 1 - j->padf;
    if (b->use_dyp) { /* dy (masked by the fused ReLU) into the padded planes */
        if (ry)
            FN(pad_planes_masked)(dyn, ry, cout, f->ho, f->wo, pad_b, fb, b->dyp);
        else
            FN(pad_planes)(dyn, cout, f->ho, f->wo, pad_b, fb, b->dyp);
    } else if (ry) { /* ReLU backward, fused */
        FN(relu_mask)(b->dym, dyn, ry, cout * plane_out);
        dyn = b->dym;
    }
    /* dy as the steps below read it (masked when fused): rows of wo
     * floats rs apart from dr + lead, channels cs apart; in the
     * padded planes where there are some (the bias gradient sums
     * their whole rows: the zero borders add nothing, and the sums
     * are the same fused or not) */
    const float *dr = b->use_dyp ? b->dyp + pad_b * fb->wp : dyn;
    const int64_t lead = b->use_dyp ? pad_b : 0, rs = b->use_dyp ? fb->wp : f->wo;
    const int64_t cs = b->use_dyp ? fb->in_cs : plane_out;
    if (j->want_b)
        for (int64_t co = 0; co < cout; co++)
            db[co] += FN(sum32)(dr + co * cs, f->ho * rs);
    if (j->want_w) {
        FN(flat_in)(g, f, xn, cin, b->xp);
        const float *flat_dy = dr + lead;
        int64_t dy_cs = cs;
        if (!j->shared_dy) { /* into the flat layout of f */
            for (int64_t co = 0; co < cout; co++)
                for (int64_t oy = 0; oy < f->ho; oy++)
                    memcpy(b->dyf + co * f->out_cs + oy * f->wp, flat_dy + co * cs + oy * rs,
                           (size_t)f->wo * sizeof(float));
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
        for (int64_t ci = 0; ci < cin; ci++) {
            const float *s = b->dxf + ci * fb->out_cs;
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

static void FN(conv_bwd_range)(void *arg, int64_t c0, int64_t c1, int tid)
{
    tg__conv_bwd_job *j = arg;
    const tg__conv_geom *g = j->g;
    const int64_t kk = (int64_t)g->k * g->k;
    const int64_t plane_in = g->h * g->w, plane_out = j->f.ho * j->f.wo;
    const FN(bwd_scratch) b = FN(bwd_scratch_of)(j, g->cin, g->cout, tid);
    for (int64_t ch = c0; ch < c1; ch++) {
        /* samples of chunk ch, split like the pool splits ranges */
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t n0 = ch * q + (ch < r ? ch : r), n1 = n0 + q + (ch < r ? 1 : 0);
        float *dw = j->parts ? j->parts + ch * j->part : NULL;
        float *db = dw ? dw + g->cout * g->cin * kk : NULL;
        if (dw)
            memset(dw, 0, (size_t)j->part * sizeof(float));
        for (int64_t n = n0; n < n1; n++)
            FN(bwd_planes)(j, &b, g->cin, g->cout, j->dy + n * g->cout * plane_out,
                           j->relu_y ? j->relu_y + n * g->cout * plane_out : NULL,
                           j->x + n * g->cin * plane_in, j->wt,
                           j->dx ? j->dx + n * g->cin * plane_in : NULL, dw, db);
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
