/* SPDX-License-Identifier: MIT */
/* Per-sample loop of the Winograd F(2x2, 3x3) convolution (kernels/winograd.c
 * sets up the job), included by kernels_impl.h once per ISA: the transforms
 * are plain C loops over a row of tiles, which the ISA's flags vectorise
 * (tiles in the lanes, every access unit-stride after the row transform),
 * or explicit vectors below; there, tiles 4 rows tall (F(4x2, 3x3), 24
 * points: see wino_input_tall).
 *
 * Per sample and block of tile rows:
 *   V[xi] (C x tiles)  = B^T d B of every 4x4 input tile, written straight
 *                        into the packed-B layout of tg__sgemm_papb;
 *   M[xi] (K x tiles)  = U[xi] V[xi], 16 GEMMs (U: packed transformed weights);
 *   y (2x2 per tile)   = A^T m A, plus bias, then the epilogue (ReLU, or
 *                        batch norm, residual and ReLU); or added into y. */

/* Row transforms (the B^T d B product along a row) of n padded input rows
 * at stride rs from r: t0..t3[i * tw + tx] for the four columns of tile tx
 * of row i. A call per row (tw of 4-16 tiles, 0-2 vectors) spent about as
 * long in the vector loop's set-up, and its alias checks, as in the loop;
 * the four outputs as restrict parameters need no checks. */
static void FN(wino_rows)(const float *restrict r, int64_t rs, int64_t n, int64_t tw,
                          float *restrict t0, float *restrict t1, float *restrict t2,
                          float *restrict t3)
{
    for (int64_t i = 0; i < n; i++, r += rs)
        for (int64_t tx = 0; tx < tw; tx++) {
            float d0 = r[2 * tx], d1 = r[2 * tx + 1], d2 = r[2 * tx + 2], d3 = r[2 * tx + 3];
            const int64_t o = i * tw + tx;
            t0[o] = d0 - d2;
            t1[o] = d1 + d2;
            t2[o] = d2 - d1;
            t3[o] = d1 - d3;
        }
}

/* Column transform of tiles [t0, t0 + len) of a block (len <= NR, one
 * packed panel): e/o hold the row transforms of the even/odd input rows of
 * the block (4 columns j at stride es, tile rows at stride tw, so tile t's
 * four rows are e[t], o[t], e[t + tw], o[t + tw]); writes the 16 panels at
 * v (stride vxi). */
TGK_INLINE void FN(wino_col_n)(const float *restrict e, const float *restrict o, int64_t es,
                               int64_t tw, int64_t t0, const int64_t len, float *restrict v,
                               int64_t vxi)
{
    for (int j = 0; j < 4; j++) {
        const float *restrict a = e + j * es + t0, *restrict b = o + j * es + t0;
        const float *restrict c = a + tw, *restrict d = b + tw;
        float *restrict v0 = v + j * vxi, *restrict v1 = v + (4 + j) * vxi,
                        *restrict v2 = v + (8 + j) * vxi, *restrict v3 = v + (12 + j) * vxi;
        for (int64_t i = 0; i < len; i++) {
            v0[i] = a[i] - c[i];
            v1[i] = b[i] + c[i];
            v2[i] = c[i] - b[i];
            v3[i] = b[i] - d[i];
        }
    }
}

/* A whole packed panel (len == NR, the common case) with a constant trip
 * count: the general loop's set-up cost as much as its 2-4 vectors. */
static void FN(wino_col)(const float *restrict e, const float *restrict o, int64_t es,
                         int64_t tw, int64_t t0, int64_t len, float *restrict v, int64_t vxi)
{
    if (len == GEMM_NR)
        FN(wino_col_n)(e, o, es, tw, t0, GEMM_NR, v, vxi);
    else
        FN(wino_col_n)(e, o, es, tw, t0, len, v, vxi);
}

/* Output transform A^T m A of nt tiles: m holds M[xi] at stride mxi; writes
 * the four outputs of every tile to y00, y01, y10, y11 (nt each). */
static void FN(wino_out)(const float *m, int64_t mxi, int64_t nt, float *restrict y00,
                         float *restrict y01, float *restrict y10, float *restrict y11)
{
    int64_t t = 0;
    for (; t + VW <= nt; t += VW) {
        vf s0[4], s1[4];
TGK_UNROLL
        for (int q = 0; q < 4; q++) {
            vf m0 = VLOAD(m + q * mxi + t), m1 = VLOAD(m + (4 + q) * mxi + t);
            vf m2 = VLOAD(m + (8 + q) * mxi + t), m3 = VLOAD(m + (12 + q) * mxi + t);
            s0[q] = (m0 + m1) + m2;
            s1[q] = (m1 - m2) - m3;
        }
        VSTORE(y00 + t, (s0[0] + s0[1]) + s0[2]);
        VSTORE(y01 + t, (s0[1] - s0[2]) - s0[3]);
        VSTORE(y10 + t, (s1[0] + s1[1]) + s1[2]);
        VSTORE(y11 + t, (s1[1] - s1[2]) - s1[3]);
    }
    for (; t < nt; t++) { /* the same sums, one tile at a time */
        float s0[4], s1[4];
        for (int q = 0; q < 4; q++) {
            float m0 = m[q * mxi + t], m1 = m[(4 + q) * mxi + t];
            float m2 = m[(8 + q) * mxi + t], m3 = m[(12 + q) * mxi + t];
            s0[q] = (m0 + m1) + m2;
            s1[q] = (m1 - m2) - m3;
        }
        y00[t] = (s0[0] + s0[1]) + s0[2];
        y01[t] = (s0[1] - s0[2]) - s0[3];
        y10[t] = (s1[0] + s1[1]) + s1[2];
        y11[t] = (s1[1] - s1[2]) - s1[3];
    }
}

/* One output row: e/o are its even/odd columns; writes W columns of out
 * (bias added, then ReLU; or added into out). */
static void FN(wino_put)(float *restrict out, const float *restrict e, const float *restrict o,
                         int64_t W, float bias, bool relu, bool add)
{
    const int64_t h = W / 2;
    if (add) {
        for (int64_t i = 0; i < h; i++) {
            out[2 * i] += e[i];
            out[2 * i + 1] += o[i];
        }
        if (W & 1)
            out[W - 1] += e[h];
    } else if (relu) { /* as tg_relu: NaN stays NaN */
        for (int64_t i = 0; i < h; i++) {
            float a = e[i] + bias, b = o[i] + bias;
            out[2 * i] = a < 0.0f ? 0.0f : a;
            out[2 * i + 1] = b < 0.0f ? 0.0f : b;
        }
        if (W & 1) {
            float a = e[h] + bias;
            out[W - 1] = a < 0.0f ? 0.0f : a;
        }
    } else {
        for (int64_t i = 0; i < h; i++) {
            out[2 * i] = e[i] + bias;
            out[2 * i + 1] = o[i] + bias;
        }
        if (W & 1)
            out[W - 1] = e[h] + bias;
    }
}

/* Interior of c zero-padded planes (border 1, plane stride ps, row stride
 * wp) from c planes of h x w; with mask, zero where mask <= 0 (not NaN). */
static void FN(wino_pad)(const float *x, const float *mask, int64_t c, int64_t h, int64_t w,
                         int64_t wp, int64_t ps, float *dst)
{
    for (int64_t ci = 0; ci < c; ci++) {
        const float *restrict s = x + ci * h * w;
        float *restrict d = dst + ci * ps + wp + 1;
        if (mask) { /* dy where the fused ReLU's output is > 0 (or NaN) */
            const float *restrict q = mask + ci * h * w;
            for (int64_t y = 0; y < h; y++, s += w, q += w, d += wp)
                for (int64_t i = 0; i < w; i++)
                    d[i] = q[i] <= 0.0f ? 0.0f : s[i];
        } else {
            for (int64_t y = 0; y < h; y++, s += w, d += wp)
                for (int64_t i = 0; i < w; i++)
                    d[i] = s[i];
        }
    }
}

/* Zero the border of c padded planes (hp x wp, interior h x w at row and
 * column 1), which wino_pad never writes: at batch 1 a memset of the whole
 * planes once per call was a pass of its own. */
static void FN(wino_border)(float *xp, int64_t c, int64_t h, int64_t w, int64_t hp, int64_t wp)
{
    for (int64_t ci = 0; ci < c; ci++) {
        float *pl = xp + ci * hp * wp;
        memset(pl, 0, (size_t)wp * sizeof(float));
        for (int64_t y = 1; y <= h; y++) {
            float *r = pl + y * wp;
            r[0] = 0.0f;
            for (int64_t x = w + 1; x < wp; x++)
                r[x] = 0.0f;
        }
        memset(pl + (h + 1) * wp, 0, (size_t)((hp - h - 1) * wp) * sizeof(float));
    }
}

/* Zero lanes [nt % NR, NR) of the last packed panel of V (C rows, 16
 * points at stride vxi) when nt is not a multiple of NR: the GEMM reads
 * them (their results are never stored, but stale or uninitialised floats
 * could be slow denormals). */
static void FN(wino_v_tail)(float *v, int64_t vxi, int npts, int64_t C, int64_t nt)
{
    const int64_t NR = GEMM_NR, l0 = nt % NR;
    if (l0 == 0)
        return;
    for (int xi = 0; xi < npts; xi++) {
        float *p = v + xi * vxi + (nt - l0) * C;
        for (int64_t c = 0; c < C; c++)
            for (int64_t l = l0; l < NR; l++)
                p[c * NR + l] = 0.0f;
    }
}

/* V = B^T d B of the tiles of tile rows [ty0, ty1) of every channel of the
 * padded planes xp, nt of them: in the packed-B panels of tg__sgemm_papb
 * as the block's tiles [base, base + nt) (ldv 0), or as rows of ldv floats
 * per channel (the tiles at v); 16 transform points at stride vxi.
 * rte/rto: scratch for 4 x (rows + 1) x tw floats each. */
static void FN(wino_input)(const tg__wino_job *j, const float *xp, int64_t ty0, int64_t ty1,
                           int64_t base, int64_t ldv, float *rte, float *rto, float *v)
{
    const int64_t C = j->g->cin, tw = j->tw, wp = j->wp, nt = (ty1 - ty0) * tw;
    const int64_t NR = tg__kernels_get()->gemm_nr, es = (j->rows + 1) * tw;
    for (int64_t c = 0; c < C; c++) {
        const float *pl = xp + (c * j->hp + 2 * ty0) * wp;
        const int64_t n = ty1 - ty0 + 1; /* even rows, then odd rows */
        FN(wino_rows)(pl, 2 * wp, n, tw, rte, rte + es, rte + 2 * es, rte + 3 * es);
        FN(wino_rows)(pl + wp, 2 * wp, n, tw, rto, rto + es, rto + 2 * es, rto + 3 * es);
        if (ldv)
            FN(wino_col)(rte, rto, es, tw, 0, nt, v + c * ldv, j->vxi);
        else /* in pieces that stay within one NR-tile panel */
            for (int64_t t0 = 0, len; t0 < nt; t0 += len) {
                const int64_t lane = (base + t0) % NR;
                len = nt - t0 < NR - lane ? nt - t0 : NR - lane;
                FN(wino_col)(rte, rto, es, tw, t0, len,
                             v + (base + t0 - lane) * C + c * NR + lane, j->vxi);
            }
    }
}

#ifdef VDEINT
#  if !defined(VDEINT_PAIR) || !defined(VLOAD_PAIR) || !defined(VINTERLEAVE) || !defined(VRELU)
#    error "an ISA with VDEINT defines VDEINT_PAIR, VLOAD_PAIR, VINTERLEAVE and VRELU too"
#  endif
/* Whole vectors of tiles: the input transform straight from the padded
 * planes to V and the output transform straight to y, each tile row's
 * transforms kept in registers (the loops above stage them in scratch: on
 * 32x32 maps with 16 channels the transforms took as long as the GEMMs).
 * Same operations in the same order, so the same bits. A vector holds one
 * row of tiles or part of it (R = 1: rows of a multiple of VW tiles), or
 * R rows of VW / R tiles (R = 2: 16x16 maps on AVX-512, 8x8 on AVX2; R = 4:
 * 8x8 on AVX-512; a multiple of R tile rows per block). 0: the loops
 * above. */
static int FN(wino_vec_rows)(const tg__wino_job *j)
{
    if (j->tall)
        return j->tall;
    if (j->g->w % 2 != 0)
        return 0;
    if (j->tw % VW == 0)
        return 1;
    if (2 * j->tw == VW && j->g->h % 2 == 0 && j->th % 2 == 0 && j->rows % 2 == 0)
        return 2;
#  ifdef VDEINT_QUAD
    if (4 * j->tw == VW && j->g->h % 2 == 0 && j->th % 4 == 0 && j->rows % 4 == 0)
        return 4;
#  endif
    return 0;
}

/* Row transform (as wino_rows) of the VW tiles whose columns start at p;
 * with R > 1, the second of its R parts' at p + ps, and so on. */
TGK_INLINE void FN(wino_row_vec)(const int R, const float *p, int64_t ps, vf t[4])
{
    vf d0, d1, d2, d3;
    if (R == 1) {
        vf a = VLOAD(p), b = VLOAD(p + VW), c = VLOAD(p + 2), d = VLOAD(p + 2 + VW);
        d0 = VDEINT(a, b, 0), d1 = VDEINT(a, b, 1), d2 = VDEINT(c, d, 0), d3 = VDEINT(c, d, 1);
#  ifdef VDEINT_QUAD
    } else if (R == 4) {
        vf a = VLOAD_QUAD(p, ps), b = VLOAD_QUAD(p + 4, ps);
        vf c = VLOAD_QUAD(p + 2, ps), d = VLOAD_QUAD(p + 6, ps);
        d0 = VDEINT_QUAD(a, b, 0), d1 = VDEINT_QUAD(a, b, 1);
        d2 = VDEINT_QUAD(c, d, 0), d3 = VDEINT_QUAD(c, d, 1);
#  endif
    } else {
        const int h = VW / 2;
        vf a = VLOAD_PAIR(p, p + ps), b = VLOAD_PAIR(p + h, p + ps + h);
        vf c = VLOAD_PAIR(p + 2, p + ps + 2), d = VLOAD_PAIR(p + 2 + h, p + ps + 2 + h);
        d0 = VDEINT_PAIR(a, b, 0), d1 = VDEINT_PAIR(a, b, 1);
        d2 = VDEINT_PAIR(c, d, 0), d3 = VDEINT_PAIR(c, d, 1);
    }
    t[0] = d0 - d2;
    t[1] = d1 + d2;
    t[2] = d2 - d1;
    t[3] = d1 - d3;
}

/* The 16 points of a vector of tiles from the row transforms of its four
 * input rows (as wino_col_n), to d (stride vxi). */
TGK_INLINE void FN(wino_col_vec)(const vf r0[4], const vf r1[4], const vf r2[4], const vf r3[4],
                                 float *d, int64_t vxi)
{
TGK_UNROLL
    for (int q = 0; q < 4; q++) {
        VSTORE(d + q * vxi, r0[q] - r2[q]);
        VSTORE(d + (4 + q) * vxi, r1[q] + r2[q]);
        VSTORE(d + (8 + q) * vxi, r2[q] - r1[q]);
        VSTORE(d + (12 + q) * vxi, r1[q] - r3[q]);
    }
}

/* wino_input's V (same arguments, less the row scratch). R = 1: the two
 * padded rows a tile row shares with the next stay in registers. */
TGK_INLINE void FN(wino_input_vec_r)(const int R, const tg__wino_job *j, const float *xp,
                                     int64_t ty0, int64_t ty1, int64_t base, int64_t ldv,
                                     float *v)
{
    const int64_t C = j->g->cin, tw = j->tw, wp = j->wp, vxi = j->vxi, NR = GEMM_NR;
    for (int64_t c = 0; c < C; c++)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += VW) {
            const float *p = xp + (c * j->hp + 2 * ty0) * wp + 2 * tx0;
            vf r0[4], r1[4], r2[4], r3[4];
            if (R == 1) {
                FN(wino_row_vec)(1, p, 0, r0);
                FN(wino_row_vec)(1, p + wp, 0, r1);
            }
            for (int64_t ty = ty0; ty < ty1; ty += R) {
                const int64_t t = base + (ty - ty0) * tw + tx0;
                float *d = v + (ldv ? c * ldv + t : t / NR * C * NR + c * NR + t % NR);
                if (R == 1) {
                    p += 2 * wp;
                    FN(wino_row_vec)(1, p, 0, r2);
                    FN(wino_row_vec)(1, p + wp, 0, r3);
                    FN(wino_col_vec)(r0, r1, r2, r3, d, vxi);
TGK_UNROLL
                    for (int q = 0; q < 4; q++) {
                        r0[q] = r2[q];
                        r1[q] = r3[q];
                    }
                } else { /* tile rows ty + q (q < R): padded rows 2 (ty + q) + i */
                    FN(wino_row_vec)(R, p, 2 * wp, r0);
                    FN(wino_row_vec)(R, p + wp, 2 * wp, r1);
                    FN(wino_row_vec)(R, p + 2 * wp, 2 * wp, r2);
                    FN(wino_row_vec)(R, p + 3 * wp, 2 * wp, r3);
                    FN(wino_col_vec)(r0, r1, r2, r3, d, vxi);
                    p += 2 * R * wp;
                }
            }
        }
}

static void FN(wino_input_vec)(int R, const tg__wino_job *j, const float *xp, int64_t ty0,
                               int64_t ty1, int64_t base, int64_t ldv, float *v)
{
    if (R == 1)
        FN(wino_input_vec_r)(1, j, xp, ty0, ty1, base, ldv, v);
#  ifdef VDEINT_QUAD
    else if (R == 4)
        FN(wino_input_vec_r)(4, j, xp, ty0, ty1, base, ldv, v);
#  endif
    else
        FN(wino_input_vec_r)(2, j, xp, ty0, ty1, base, ldv, v);
}

/* Two output rows' worth of VW tiles: their even and odd columns e, o
 * interleaved; the first VW floats to out, the next to out + next (R = 1:
 * VW; R = 2: the next tile row's; R = 4: each VW floats as halves, the
 * second hs floats after the first). Then as wino_put (bias, ReLU, or added
 * into the output) and, with a full epilogue, as tg__conv_epi_row: scale
 * and shift, the residual (r: its floats matching out), ReLU. The flags are
 * constants in each instance (tested per vector, their branches and
 * reloads were the stage's hottest instructions). */
#  ifdef VSTORE_HALVES
#    define WINO_LOAD(p, hs) ((hs) ? VLOAD_HALVES(p, (p) + (hs)) : VLOAD(p))
#    define WINO_STORE(p, hs, v) ((hs) ? VSTORE_HALVES(p, (p) + (hs), v) : VSTORE(p, v))
#  else
#    define WINO_LOAD(p, hs) VLOAD(p)
#    define WINO_STORE(p, hs, v) VSTORE(p, v)
#  endif
TGK_INLINE void FN(wino_put_vec)(float *out, int64_t next, const int64_t hs, vf e, vf o, vf bias,
                                 const bool add, const bool scale, const bool res,
                                 const bool relu, vf sa, vf sh, const float *r)
{
    vf y[2];
    VINTERLEAVE(e, o, &y[0], &y[1]);
TGK_UNROLL
    for (int h = 0; h < 2; h++) {
        float *p = out + h * next;
        TGK_PF_W(p);
        if (hs)
            TGK_PF_W(p + hs);
        vf u;
        if (add) {
            u = WINO_LOAD(p, hs) + y[h];
        } else {
            u = y[h] + bias;
            if (scale)
                u = u * sa + sh;
            if (res)
                u = u + WINO_LOAD(r + h * next, hs);
            if (relu)
                u = VRELU(u);
        }
        WINO_STORE(p, hs, u);
    }
}

/* wino_range's output stage for this path: A^T m A of channel k's tiles of
 * one sample's block (m: its first tile, points at stride mxi, tile rows
 * at stride tw) into rows 2 ty0 .. of yn's channel k. */
TGK_INLINE void FN(wino_output_vec_r)(const int R, const bool add, const bool scale,
                                      const bool res, const bool relu, const tg__wino_job *j,
                                      int64_t k, const float *m, int64_t ty0, int64_t ty1,
                                      float *yn, const float *resn)
{
    const tg__conv_geom *g = j->g;
    const int64_t H = g->h, W = g->w, tw = j->tw, mxi = j->mxi;
    /* where the second half of the interleaved output goes, and with R = 4
     * the upper half of each */
    const int64_t next = R == 1 ? VW : R == 2 ? 2 * W : 4 * W, hs = R == 4 ? 2 * W : 0;
    const tg__conv_epi *e = j->epi;
    const vf bias = VSET1(j->b ? j->b[k] : 0.0f);
    const vf sa = VSET1(scale ? e->scale[k] : 1.0f), sh = VSET1(scale ? e->shift[k] : 0.0f);
    for (int64_t ty = ty0; ty < ty1; ty += R)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += VW) {
            const float *mt = m + (ty - ty0) * tw + tx0;
            vf s0[4], s1[4];
TGK_UNROLL
            for (int q = 0; q < 4; q++) { /* as wino_out */
                vf m0 = VLOAD(mt + q * mxi), m1 = VLOAD(mt + (4 + q) * mxi);
                vf m2 = VLOAD(mt + (8 + q) * mxi), m3 = VLOAD(mt + (12 + q) * mxi);
                s0[q] = (m0 + m1) + m2;
                s1[q] = (m1 - m2) - m3;
            }
            const int64_t o = (k * H + 2 * ty) * W + 2 * tx0;
            const float *r = res ? resn + o : NULL;
            FN(wino_put_vec)(yn + o, next, hs, (s0[0] + s0[1]) + s0[2],
                             (s0[1] - s0[2]) - s0[3], bias, add, scale, res, relu, sa, sh, r);
            if (2 * ty + 1 >= H) /* R = 1 only: R > 1 takes even heights */
                continue;
            FN(wino_put_vec)(yn + o + W, next, hs, (s1[0] + s1[1]) + s1[2],
                             (s1[1] - s1[2]) - s1[3], bias, add, scale, res, relu, sa, sh,
                             res ? r + W : NULL);
        }
}

/* ---- tiles 4 output rows tall: F(4x2, 3x3) --------------------------------
 * Down the columns F(4, 3): 6 input rows per tile (the last two shared with
 * the next tile row, kept in registers) and
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *          0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1];
 * along the rows F(2, 3) as above. Point xi = 4 i + q: i down, q across.
 * Vectors as wino_vec_rows's R = 1 and R = 2 (j->tall: job_init makes
 * tiles tall only there, with whole tile rows where R = 2). */
TGK_INLINE void FN(wino_input_tall_r)(const int R, const tg__wino_job *j, const float *xp,
                                      int64_t ty0, int64_t ty1, int64_t base, int64_t ldv,
                                      float *v)
{
    const int64_t C = j->g->cin, tw = j->tw, wp = j->wp, vxi = j->vxi, NR = GEMM_NR;
    const vf two = VSET1(2.0f), four = VSET1(4.0f), five = VSET1(5.0f);
    for (int64_t c = 0; c < C; c++)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += VW) {
            const float *p = xp + (c * j->hp + 4 * ty0) * wp + 2 * tx0;
            vf r[6][4];
            if (R == 1) { /* the rows shared with the previous tile row */
                FN(wino_row_vec)(1, p, 0, r[0]);
                FN(wino_row_vec)(1, p + wp, 0, r[1]);
            }
            for (int64_t ty = ty0; ty < ty1; ty += R, p += 4 * R * wp) {
                const int64_t t = base + (ty - ty0) * tw + tx0;
                float *d = v + (ldv ? c * ldv + t : t / NR * C * NR + c * NR + t % NR);
TGK_UNROLL
                for (int i = R == 1 ? 2 : 0; i < 6; i++) /* R = 2: tile rows ty, ty + 1 */
                    FN(wino_row_vec)(R, p + i * wp, 4 * wp, r[i]);
TGK_UNROLL
                for (int q = 0; q < 4; q++) {
                    const vf d0 = r[0][q], d1 = r[1][q], d2 = r[2][q], d3 = r[3][q],
                             d4 = r[4][q], d5 = r[5][q];
                    VSTORE(d + q * vxi, (four * d0 - five * d2) + d4);
                    VSTORE(d + (4 + q) * vxi, (d3 + d4) - four * (d1 + d2));
                    VSTORE(d + (8 + q) * vxi, (d4 - d3) + four * (d1 - d2));
                    VSTORE(d + (12 + q) * vxi, (d4 - d2) + two * (d3 - d1));
                    VSTORE(d + (16 + q) * vxi, (d4 - d2) - two * (d3 - d1));
                    VSTORE(d + (20 + q) * vxi, (four * d1 - five * d3) + d5);
                    r[0][q] = d4;
                    r[1][q] = d5;
                }
            }
        }
}

/* As wino_input_vec: V into packed panels (ldv 0) or rows of ldv floats. */
static void FN(wino_input_tall)(const tg__wino_job *j, const float *xp, int64_t ty0,
                                int64_t ty1, int64_t base, int64_t ldv, float *v)
{
    if (j->tall == 1)
        FN(wino_input_tall_r)(1, j, xp, ty0, ty1, base, ldv, v);
    else
        FN(wino_input_tall_r)(2, j, xp, ty0, ty1, base, ldv, v);
}

/* wino_output_vec_r for tall tiles: four output rows per tile row, with
 * R = 1 those past the image skipped (R = 2 takes whole tile rows). */
TGK_INLINE void FN(wino_output_tall_r)(const int R, const bool add, const bool scale,
                                       const bool res, const bool relu, const tg__wino_job *j,
                                       int64_t k, const float *m, int64_t ty0, int64_t ty1,
                                       float *yn, const float *resn)
{
    const tg__conv_geom *g = j->g;
    const int64_t H = g->h, W = g->w, tw = j->tw, mxi = j->mxi;
    const tg__conv_epi *e = j->epi;
    const vf bias = VSET1(j->b ? j->b[k] : 0.0f);
    const vf sa = VSET1(scale ? e->scale[k] : 1.0f), sh = VSET1(scale ? e->shift[k] : 0.0f);
    const vf two = VSET1(2.0f), four = VSET1(4.0f), eight = VSET1(8.0f);
    const int64_t next = R == 1 ? VW : 4 * W; /* the interleave's second half */
    for (int64_t ty = ty0; ty < ty1; ty += R)
        for (int64_t tx0 = 0; tx0 < tw; tx0 += VW) {
            const float *mt = m + (ty - ty0) * tw + tx0;
            /* output row h's even and odd columns, (s0 + s1) + s2 and
             * (s1 - s2) - s3 of its column transforms s_q, formed as the
             * s_q come (all sixteen at once spilled on AVX2) */
            vf ev[4], od[4];
TGK_UNROLL
            for (int q = 0; q < 4; q++) {
                const vf m0 = VLOAD(mt + q * mxi), m1 = VLOAD(mt + (4 + q) * mxi),
                         m2 = VLOAD(mt + (8 + q) * mxi), m3 = VLOAD(mt + (12 + q) * mxi),
                         m4 = VLOAD(mt + (16 + q) * mxi), m5 = VLOAD(mt + (20 + q) * mxi);
                const vf a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
                const vf s[4] = {(m0 + a) + c, b + two * d, a + four * c, (b + eight * d) + m5};
TGK_UNROLL
                for (int h = 0; h < 4; h++) {
                    if (q == 0)
                        ev[h] = s[h];
                    else if (q == 1) {
                        ev[h] = ev[h] + s[h];
                        od[h] = s[h];
                    } else if (q == 2) {
                        ev[h] = ev[h] + s[h];
                        od[h] = od[h] - s[h];
                    } else
                        od[h] = od[h] - s[h];
                }
            }
TGK_UNROLL
            for (int h = 0; h < 4; h++) {
                if (R == 1 && 4 * ty + h >= H)
                    break;
                const int64_t o = (k * H + 4 * ty + h) * W + 2 * tx0;
                FN(wino_put_vec)(yn + o, next, 0, ev[h], od[h], bias, add, scale, res, relu, sa,
                                 sh, res ? resn + o : NULL);
            }
        }
}

/* The output stage of a block's channel k: the instance for R, the tile
 * shape and the epilogue's flags. */
static void FN(wino_output_vec)(int R, const tg__wino_job *j, int64_t k, const float *m,
                                int64_t ty0, int64_t ty1, float *yn, const float *resn)
{
    const tg__conv_epi *e = j->epi;
    const bool add = j->add, scale = e && e->scale, res = e && e->res, relu = e && e->relu;
    const int f = add ? 8 : (scale ? 4 : 0) | (res ? 2 : 0) | (relu ? 1 : 0);
#  define WINO_OUT(fn_, r_, t_, f_)                                                           \
      case ((t_) + (r_)) * 16 + (f_):                                                        \
          FN(fn_)(r_, (f_) == 8, (f_) & 4, (f_) & 2, (f_) & 1, j, k, m, ty0, ty1, yn, resn);   \
          return;
#  define WINO_OUTS(fn_, r_, t_)                                                              \
      WINO_OUT(fn_, r_, t_, 0) WINO_OUT(fn_, r_, t_, 1) WINO_OUT(fn_, r_, t_, 2)              \
      WINO_OUT(fn_, r_, t_, 3) WINO_OUT(fn_, r_, t_, 4) WINO_OUT(fn_, r_, t_, 5)              \
      WINO_OUT(fn_, r_, t_, 6) WINO_OUT(fn_, r_, t_, 7) WINO_OUT(fn_, r_, t_, 8)
    switch (((j->tall ? 8 : 0) + R) * 16 + f) {
        WINO_OUTS(wino_output_vec_r, 1, 0)
        WINO_OUTS(wino_output_vec_r, 2, 0)
#  ifdef VDEINT_QUAD
        WINO_OUTS(wino_output_vec_r, 4, 0)
#  endif
        WINO_OUTS(wino_output_tall_r, 1, 8)
        WINO_OUTS(wino_output_tall_r, 2, 8)
    }
#  undef WINO_OUTS
#  undef WINO_OUT
}
#  undef WINO_LOAD
#  undef WINO_STORE
#endif

static void FN(wino_range)(void *arg, int64_t n0, int64_t n1, int tid)
{
    tg__wino_job *j = arg;
    const tg__conv_geom *g = j->g;
    const int64_t C = g->cin, K = g->cout, H = g->h, W = g->w, tw = j->tw;
    const int64_t es = (j->rows + 1) * tw; /* one column j of the row transforms */
    float *xp = j->ctx->scratch[tid];
    float *rte = xp + j->plane_floats, *rto = rte + 4 * es; /* even / odd rows */
    float *v = rto + 4 * es;
    float *m = v + j->npts * j->vxi;
    float *ot = m + j->npts * j->mxi; /* output transform: 4 x the block's tiles */
    const int64_t ots = j->rows * tw;
    const tg__conv_epi *e = j->epi;
    const bool full = tg__conv_epi_full(e), relu = e && e->relu && !full;
#ifdef VDEINT
    const int vec = FN(wino_vec_rows)(j);
#endif
    if (tg__first_part(j->zeroed, tid)) /* wino_pad writes inside it only */
        FN(wino_border)(xp, C, H, W, j->hp, j->wp);
    for (int64_t nb = n0; nb < n1; nb += j->fspb) {
        const int64_t cnt = n1 - nb < j->fspb ? n1 - nb : j->fspb;
        for (int64_t ty0 = 0; ty0 < j->th; ty0 += j->rows) {
            const int64_t ty1 = ty0 + j->rows < j->th ? ty0 + j->rows : j->th;
            const int64_t ns = (ty1 - ty0) * tw, nt = cnt * ns; /* tiles: sample, block */
            for (int64_t s = 0; s < cnt; s++) {
                const int64_t n = nb + s;
                if (ty0 == 0) /* blocks of tile rows share one sample's planes */
                    FN(wino_pad)(j->x + n * C * H * W, j->mask ? j->mask + n * C * H * W : NULL,
                                 C, H, W, j->wp, j->hp * j->wp, xp);
#ifdef VDEINT
                if (j->tall) {
                    FN(wino_input_tall)(j, xp, ty0, ty1, s * ns, 0, v);
                    continue;
                }
                if (vec) {
                    FN(wino_input_vec)(vec, j, xp, ty0, ty1, s * ns, 0, v);
                    continue;
                }
#endif
                FN(wino_input)(j, xp, ty0, ty1, s * ns, 0, rte, rto, v);
            }
            FN(wino_v_tail)(v, j->vxi, j->npts, C, nt);
            for (int xi = 0; xi < j->npts; xi++)
                tg__sgemm_papb(K, nt, C, j->up + xi * j->uxi, v + xi * j->vxi, 0.0f,
                               m + xi * j->mxi, nt);
            for (int64_t s = 0; s < cnt; s++) {
                const int64_t n = nb + s;
                float *yn = j->y + n * K * H * W;
#ifdef VDEINT
                if (vec) {
                    const float *resn = e && e->res ? e->res + n * K * H * W : NULL;
                    for (int64_t k = 0; k < K; k++)
                        FN(wino_output_vec)(vec, j, k, m + k * nt + s * ns, ty0, ty1, yn, resn);
                    continue;
                }
#endif
                for (int64_t k = 0; k < K; k++) {
                    const float bias = j->b ? j->b[k] : 0.0f;
                    FN(wino_out)(m + k * nt + s * ns, j->mxi, ns, ot, ot + ots, ot + 2 * ots,
                                 ot + 3 * ots);
                    for (int64_t ty = ty0; ty < ty1; ty++) {
                        const int64_t o = (ty - ty0) * tw;
                        float *out = yn + (k * H + 2 * ty) * W;
                        FN(wino_put)(out, ot + o, ot + ots + o, W, bias, relu, j->add);
                        if (2 * ty + 1 < H)
                            FN(wino_put)(out + W, ot + 2 * ots + o, ot + 3 * ots + o, W, bias,
                                         relu, j->add);
                    }
                    if (full) { /* the block's rows of channel k, still in L1 */
                        const int64_t r0 = (k * H + 2 * ty0) * W;
                        const int64_t len = ((2 * ty1 < H ? 2 * ty1 : H) - 2 * ty0) * W;
                        tg__conv_epi_row(e, k, yn + r0,
                                         e->res ? e->res + n * K * H * W + r0 : NULL, len);
                    }
                }
            }
        }
    }
}

/* ---- weight gradient ------------------------------------------------------ */

/* dy of one sample as 2 rp planes of th x tw per channel (stride qs apart,
 * channels ks apart): for each of a tile's rp rows (2, or 4 tall) its even
 * and its odd column's elements, in that order (2x2: (even row, even
 * column), (even, odd), (odd, even), (odd, odd)), zero past the image;
 * masked. */
TGK_INLINE void FN(wino_dy_split)(const float *dy, const float *mask, int64_t K, int64_t H,
                                  int64_t W, const int64_t rp, int64_t tw, int64_t ks,
                                  int64_t qs, float *dst)
{
    const int64_t h = W / 2;
    for (int64_t k = 0; k < K; k++)
        for (int64_t y = 0; y < H; y++) {
            const float *restrict r = dy + (k * H + y) * W;
            const float *restrict q = mask ? mask + (k * H + y) * W : NULL;
            float *restrict e = dst + y % rp * 2 * qs + k * ks + y / rp * tw;
            float *restrict o = e + qs;
            if (q) {
                for (int64_t i = 0; i < h; i++) {
                    e[i] = q[2 * i] <= 0.0f ? 0.0f : r[2 * i];
                    o[i] = q[2 * i + 1] <= 0.0f ? 0.0f : r[2 * i + 1];
                }
                if (W & 1)
                    e[h] = q[W - 1] <= 0.0f ? 0.0f : r[W - 1];
            } else {
                for (int64_t i = 0; i < h; i++) {
                    e[i] = r[2 * i];
                    o[i] = r[2 * i + 1];
                }
                if (W & 1)
                    e[h] = r[W - 1];
            }
        }
}

/* dM = A dy A^T of nt tiles (a, b, c, d: their four dy values) into the 16
 * rows at m (stride mxi). */
static void FN(wino_dy)(const float *restrict a, const float *restrict b,
                        const float *restrict c, const float *restrict d, int64_t nt,
                        float *restrict m, int64_t mxi)
{
    int64_t t = 0;
    const vf zero = VZERO();
    for (; t + VW <= nt; t += VW) { /* explicit vectors: gcc kept this scalar */
        vf av = VLOAD(a + t), bv = VLOAD(b + t), cv = VLOAD(c + t), dv = VLOAD(d + t);
        vf p[4] = {av, av + cv, av - cv, zero - cv};
        vf q[4] = {bv, bv + dv, bv - dv, zero - dv};
TGK_UNROLL
        for (int i = 0; i < 4; i++) {
            VSTORE(m + (4 * i) * mxi + t, p[i]);
            VSTORE(m + (4 * i + 1) * mxi + t, p[i] + q[i]);
            VSTORE(m + (4 * i + 2) * mxi + t, p[i] - q[i]);
            VSTORE(m + (4 * i + 3) * mxi + t, zero - q[i]);
        }
    }
    for (; t < nt; t++) {
        float p[4] = {a[t], a[t] + c[t], a[t] - c[t], 0.0f - c[t]};
        float q[4] = {b[t], b[t] + d[t], b[t] - d[t], 0.0f - d[t]};
        for (int i = 0; i < 4; i++) {
            m[(4 * i) * mxi + t] = p[i];
            m[(4 * i + 1) * mxi + t] = p[i] + q[i];
            m[(4 * i + 2) * mxi + t] = p[i] - q[i];
            m[(4 * i + 3) * mxi + t] = 0.0f - q[i];
        }
    }
}

/* wino_dy for tiles 4 rows tall: the 24 rows of dM = A4 dy A^T from the
 * planes at a (stride qs: rows 0-3, even then odd column), with F(4, 3)'s
 * A4 = (A^T)^T down the columns (see wino_input_tall). nt is a multiple of
 * VW (tall tiles come in whole vectors). */
static void FN(wino_dy_tall)(const float *a, int64_t qs, int64_t nt, float *restrict m,
                             int64_t mxi)
{
    const vf zero = VZERO(), two = VSET1(2.0f), four = VSET1(4.0f), eight = VSET1(8.0f);
    for (int64_t t = 0; t < nt; t += VW) {
        vf p[2][6];
TGK_UNROLL
        for (int c = 0; c < 2; c++) { /* the even, then the odd column */
            const vf d0 = VLOAD(a + c * qs + t), d1 = VLOAD(a + (2 + c) * qs + t),
                     d2 = VLOAD(a + (4 + c) * qs + t), d3 = VLOAD(a + (6 + c) * qs + t);
            p[c][0] = d0;
            p[c][1] = (d0 + d1) + (d2 + d3);
            p[c][2] = (d0 - d1) + (d2 - d3);
            p[c][3] = (d0 + two * d1) + (four * d2 + eight * d3);
            p[c][4] = (d0 - two * d1) + (four * d2 - eight * d3);
            p[c][5] = d3;
        }
TGK_UNROLL
        for (int i = 0; i < 6; i++) {
            VSTORE(m + (4 * i) * mxi + t, p[0][i]);
            VSTORE(m + (4 * i + 1) * mxi + t, p[0][i] + p[1][i]);
            VSTORE(m + (4 * i + 2) * mxi + t, p[0][i] - p[1][i]);
            VSTORE(m + (4 * i + 3) * mxi + t, zero - p[1][i]);
        }
    }
}

/* Chunks [c0, c1) of the batch; with by_points, transform points [c0, c1)
 * of the whole batch (one chunk; db by the range holding point 0). */
static void FN(wino_wgrad_range)(void *arg, int64_t c0, int64_t c1, int tid)
{
    tg__wino_job *j = arg;
    const tg__conv_geom *g = j->g;
    const int64_t C = g->cin, K = g->cout, H = g->h, W = g->w, tw = j->tw;
    const int64_t es = (j->rows + 1) * tw, tp = j->th * tw;
    const int64_t ks = j->spb * tp, qs = K * ks; /* dy planes: [2 rp][K][spb x tp] */
    const int64_t rp = j->tall ? 4 : 2;
    float *xp = j->ctx->scratch[tid];
    float *rte = xp + j->plane_floats, *rto = rte + 4 * es;
    float *v = rto + 4 * es;
    float *m = v + j->npts * j->vxi;
    float *dq = m + j->npts * j->mxi; /* dy's four tile planes */
    float *gw = dq + j->dy_floats;    /* the packed GEMM's panels (du_packed) */
#ifdef VDEINT
    const int vec = FN(wino_vec_rows)(j);
#endif
    if (tg__first_part(j->zeroed, tid)) { /* wino_pad, wino_dy_split write inside */
        FN(wino_border)(xp, C, H, W, j->hp, j->wp);
        memset(dq, 0, (size_t)j->dy_floats * sizeof(float));
    }
    const int x0 = j->by_points ? (int)c0 : 0, x1 = j->by_points ? (int)c1 : j->npts;
    const bool want_b = j->want_b && x0 == 0;
    if (j->by_points && !j->want_w && !want_b)
        return;
    if (j->by_points)
        c0 = 0, c1 = 1;
    for (int64_t ch = c0; ch < c1; ch++) {
        /* samples of chunk ch: the same split as the thread pool's */
        int64_t q = g->n / j->nchunks, r = g->n % j->nchunks;
        int64_t nb = ch * q + (ch < r ? ch : r), ne = nb + q + (ch < r ? 1 : 0);
        float *du = j->parts + ch * j->part, *db = du + j->npts * K * C;
        memset(du + x0 * K * C, 0, (size_t)((x1 - x0) * K * C) * sizeof(float));
        if (x0 == 0)
            memset(db, 0, (size_t)K * sizeof(float));
        /* groups of spb samples (small planes), or one sample in blocks of
         * tile rows (spb = 1) */
        for (int64_t n0 = nb; n0 < ne; n0 += j->spb) {
            const int64_t cnt = ne - n0 < j->spb ? ne - n0 : j->spb;
            for (int64_t s = 0; s < cnt; s++) {
                const int64_t n = n0 + s;
                const float *dyn = j->dy + n * K * H * W;
                const float *mn = j->dy_mask ? j->dy_mask + n * K * H * W : NULL;
                if (j->tall) /* rp a constant: y % rp, y / rp without divisions */
                    FN(wino_dy_split)(dyn, mn, K, H, W, 4, tw, ks, qs, dq + s * tp);
                else
                    FN(wino_dy_split)(dyn, mn, K, H, W, 2, tw, ks, qs, dq + s * tp);
                if (want_b)
                    for (int64_t k = 0; k < K; k++) {
                        const float *p = dq + k * ks + s * tp;
                        float sb = FN(sum32)(p, tp);
                        for (int64_t pl = 1; pl < 2 * rp; pl++) /* in plane order */
                            sb += FN(sum32)(p + pl * qs, tp);
                        db[k] += sb;
                    }
            }
            if (!j->want_w)
                continue;
            for (int64_t ty0 = 0; ty0 < j->th; ty0 += j->rows) {
                const int64_t ty1 = ty0 + j->rows < j->th ? ty0 + j->rows : j->th;
                const int64_t nt = cnt * (ty1 - ty0) * tw; /* tiles of the block */
                for (int64_t s = 0; s < cnt; s++) { /* V of every sample's tiles */
                    const int64_t n = n0 + s;
                    FN(wino_pad)(j->x + n * C * H * W, NULL, C, H, W, j->wp, j->hp * j->wp, xp);
#ifdef VDEINT
                    if (j->tall) {
                        FN(wino_input_tall)(j, xp, ty0, ty1, 0, nt, v + s * tp);
                        continue;
                    }
                    if (vec) {
                        FN(wino_input_vec)(vec, j, xp, ty0, ty1, 0, nt, v + s * tp);
                        continue;
                    }
#endif
                    FN(wino_input)(j, xp, ty0, ty1, 0, nt, rte, rto, v + s * tp);
                }
                for (int64_t k = 0; k < K; k++) {
                    const float *a = dq + k * ks + ty0 * tw;
                    if (j->tall)
                        FN(wino_dy_tall)(a, qs, nt, m + k * nt, j->mxi);
                    else
                        FN(wino_dy)(a, a + qs, a + 2 * qs, a + 3 * qs, nt, m + k * nt, j->mxi);
                }
                for (int xi = x0; xi < x1; xi++) /* dU[xi] += dM[xi] V[xi]^T */
                    if (j->du_packed)
                        tg__sgemm_ws(false, true, K, C, nt, 1.0f, m + xi * j->mxi, nt,
                                     v + xi * j->vxi, nt, 1.0f, du + xi * K * C, C, gw);
                    else
                        FN(gemm_abt)(K, C, nt, 1.0f, m + xi * j->mxi, nt, v + xi * j->vxi, nt,
                                     1.0f, du + xi * K * C, C);
            }
        }
    }
}
