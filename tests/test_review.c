/* SPDX-License-Identifier: MIT */
/* Adversarial edge cases from the code review: zero-size and rank-8 shapes,
 * 0-d tensors, graph bookkeeping (twice-run backward, views, leaves made
 * under no-grad, cross-context graphs, traversal stamps), the thread pool
 * and determinism across thread counts. Internal: uses tg_internal.h. */
#include "tg_test.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "tg_internal.h"

#define ASSERT_ERR(expr, st)                                                                   \
    do {                                                                                       \
        ck_assert_ptr_null(expr);                                                              \
        ck_assert_int_eq(tg_ctx_last_status(ctx), (st));                                       \
        tg_ctx_clear_error(ctx);                                                               \
    } while (0)

/* ---- zero-size tensors ---------------------------------------------------- */

START_TEST(zero_size_with_huge_dims_is_rejected)
{
    /* [0, 2^40, 2^40] has 0 elements, but stride and outer/inner products of
     * its other dims overflow int64 (UB) in every op that walks it. */
    tg_ctx *ctx = tgt_ctx(1);
    const int64_t big[3] = {0, INT64_C(1) << 40, INT64_C(1) << 40};
    tg_tensor *t = (tg_tensor *)0x1;
    ck_assert_int_eq(tg_tensor_create(ctx, 3, big, &t), TG_ERR_LIMIT);
    ck_assert_ptr_eq(t, (tg_tensor *)0x1);
    ASSERT_ERR(tg_zeros(ctx, 3, big), TG_ERR_LIMIT);
    const int64_t e1[1] = {0};
    tg_tensor *empty = tg_zeros(ctx, 1, e1);
    ck_assert_ptr_nonnull(empty);
    ASSERT_ERR(tg_reshape(ctx, empty, 3, big), TG_ERR_LIMIT);
    /* moderate zero-size shapes stay valid */
    const int64_t ok[3] = {0, INT64_C(1) << 20, 3};
    tg_tensor *z = tg_zeros(ctx, 3, ok);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(tg_tensor_numel(z), 0);
    ck_assert_ptr_nonnull(tg_reshape(ctx, empty, 3, ok));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(zero_size_ops)
{
    tg_ctx *ctx = tgt_ctx(1);
    const int64_t s03[2] = {0, 3}, s13[2] = {1, 3}, s20[2] = {2, 0}, s03b[2] = {0, 3};
    tg_tensor *a = tgt_tensor(ctx, 2, s03, NULL, true);
    tg_tensor *b = tgt_rand(ctx, 2, s13, -1, 1, true);
    tg_tensor *c = tg_add(ctx, a, b);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(tg_tensor_dim(c, 0), 0);
    /* sum over the empty axis is zeros, mean is NaN (PyTorch), max fails */
    tgt_assert_tensor(tg_sum(ctx, a, 0, false), ((float[]){0, 0, 0}), 3, 0);
    tg_tensor *m = tg_mean(ctx, a, 0, true);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(tg_tensor_ndim(m), 2);
    for (int i = 0; i < 3; i++)
        ck_assert(isnan(tg_tensor_data(m)[i]));
    ck_assert(isnan(tg_tensor_data(tg_mean_all(ctx, a))[0]));
    ASSERT_ERR(tg_max(ctx, a, 0, false), TG_ERR_SHAPE);
    ASSERT_ERR(tg_max_all(ctx, a), TG_ERR_SHAPE);
    tg_tensor *mx = tg_max(ctx, a, 1, false); /* reduces size-3 rows: [0] */
    ck_assert_ptr_nonnull(mx);
    ck_assert_int_eq(tg_tensor_numel(mx), 0);
    ck_assert_ptr_nonnull(tg_softmax(ctx, a, 0));
    ck_assert_ptr_nonnull(tg_log_softmax(ctx, a, -1));
    const int perm[2] = {1, 0};
    ck_assert_ptr_nonnull(tg_permute(ctx, a, perm));
    /* matmul / linear with K = 0: zeros (and the bias), never garbage */
    tg_tensor *x20 = tgt_tensor(ctx, 2, s20, NULL, true);
    const int64_t s03w[2] = {0, 3};
    tg_tensor *w03 = tgt_tensor(ctx, 2, s03w, NULL, true);
    tgt_assert_tensor(tg_matmul(ctx, x20, w03), ((float[]){0, 0, 0, 0, 0, 0}), 6, 0);
    const int64_t s30[2] = {3, 0}, s3[1] = {3};
    tg_tensor *w30 = tgt_tensor(ctx, 2, s30, NULL, true);
    tg_tensor *bias = tgt_tensor(ctx, 1, s3, (float[]){1, 2, 3}, true);
    tgt_assert_tensor(tg_linear(ctx, x20, w30, bias), ((float[]){1, 2, 3, 1, 2, 3}), 6, 0);
    /* a loss over an empty batch: backward runs and gives zero gradients */
    tg_tensor *loss = tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, c, c)),
                             tg_sum_all(ctx, tg_linear(ctx, x20, w30, bias)));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    tgt_assert_close(tg_tensor_grad(bias), ((float[]){2, 2, 2}), 3, 0, 0);
    tgt_assert_close(tg_tensor_grad(b), ((float[]){0, 0, 0}), 3, 0, 0);
    /* cross-entropy over zero samples: NaN mean as PyTorch, no crash */
    tg_tensor *logits = tgt_tensor(ctx, 2, s03b, NULL, true);
    tg_tensor *ce = tg_cross_entropy(ctx, logits, NULL, 0, TG_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(ce);
    ck_assert(isnan(tg_tensor_data(ce)[0]));
    ck_assert_int_eq(tg_backward(ctx, tg_cross_entropy(ctx, logits, NULL, 0, TG_REDUCTION_SUM)),
                     TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(arange_follows_torch)
{
    /* torch.arange rejects non-finite bounds and a step pointing away from
     * end; both used to return an empty tensor. */
    tg_ctx *ctx = tgt_ctx(1);
    ASSERT_ERR(tg_arange(ctx, 0, 5, -1), TG_ERR_INVALID_ARG);
    ASSERT_ERR(tg_arange(ctx, 5, 0, 1), TG_ERR_INVALID_ARG);
    ASSERT_ERR(tg_arange(ctx, INFINITY, INFINITY, 1), TG_ERR_INVALID_ARG);
    ASSERT_ERR(tg_arange(ctx, 0, NAN, 1), TG_ERR_INVALID_ARG);
    ASSERT_ERR(tg_arange(ctx, 0, 1, INFINITY), TG_ERR_INVALID_ARG);
    ASSERT_ERR(tg_arange(ctx, 0, 1e10f, 1), TG_ERR_INVALID_ARG);
    tg_tensor *e = tg_arange(ctx, 3, 3, -1);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(tg_tensor_numel(e), 0);
    tgt_assert_tensor(tg_arange(ctx, 1, -1, -0.75f), ((float[]){1, 0.25f, -0.5f}), 3, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(arena_rejects_wrapping_sizes)
{
    tg_ctx *ctx = tgt_ctx(1);
    ck_assert_ptr_null(tg__arena_alloc(ctx, SIZE_MAX));
    ck_assert_ptr_null(tg__arena_alloc(ctx, SIZE_MAX - 10));
    ck_assert_ptr_nonnull(tg__arena_alloc(ctx, 0)); /* still usable */
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- 0-d tensors ---------------------------------------------------------- */

static tg_tensor *softmax0(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    return *(int *)arg ? tg_log_softmax(ctx, in[0], -1) : tg_softmax(ctx, in[0], 0);
}

START_TEST(zero_d_tensors)
{
    /* PyTorch allows dim 0 / -1 on a 0-d tensor for softmax and reductions. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *s = tgt_tensor(ctx, 0, NULL, (float[]){2.5f}, true);
    tgt_assert_tensor(tg_softmax(ctx, s, 0), ((float[]){1}), 1, 0);
    tgt_assert_tensor(tg_log_softmax(ctx, s, -1), ((float[]){0}), 1, 0);
    ASSERT_ERR(tg_softmax(ctx, s, 1), TG_ERR_INVALID_ARG);
    tgt_assert_tensor(tg_sum(ctx, s, 0, true), ((float[]){2.5f}), 1, 0);
    tgt_assert_tensor(tg_max(ctx, s, -1, false), ((float[]){2.5f}), 1, 0);
    tg_tensor *f = tg_flatten(ctx, s, 0, -1);
    ck_assert_int_eq(tg_tensor_ndim(f), 1);
    const int64_t one[1] = {1};
    tg_tensor *v = tgt_tensor(ctx, 1, one, (float[]){4}, true);
    tg_tensor *dot = tg_matmul(ctx, v, v); /* 1-D x 1-D -> 0-d */
    ck_assert_int_eq(tg_tensor_ndim(dot), 0);
    ck_assert_float_eq(tg_tensor_data(dot)[0], 16.0f);
    tg_tensor *tr = tg_transpose(ctx, s, 0, -1);
    ck_assert_int_eq(tg_tensor_ndim(tr), 0);
    ck_assert_float_eq(tg_tensor_data(tr)[0], 2.5f);
    ASSERT_ERR(tg_transpose(ctx, s, 0, 1), TG_ERR_INVALID_ARG);
    for (int lg = 0; lg < 2; lg++)
        tgt_gradcheck(ctx, softmax0, &lg, &s, 1);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- rank 8 --------------------------------------------------------------- */

static int r8_case;
static tg_tensor *rank8(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    static const int rev[8] = {7, 6, 5, 4, 3, 2, 1, 0};
    switch (r8_case) {
    case 0: return tg_mul(ctx, in[0], in[1]);
    case 1: return tg_permute(ctx, in[0], rev);
    case 2: return tg_max(ctx, in[0], 2, true);
    case 3: return tg_softmax(ctx, in[0], 2);
    default: return tg_matmul(ctx, in[0], in[1]);
    }
}

START_TEST(rank8_ops)
{
    tg_ctx *ctx = tgt_ctx(3);
    const int64_t a[8] = {2, 1, 2, 1, 2, 1, 2, 1}, b[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    tg_tensor *in[2] = {tgt_rand(ctx, 8, a, 0.5f, 2, true), tgt_rand(ctx, 8, b, 0.5f, 2, true)};
    tg_tensor *y = tg_mul(ctx, in[0], in[1]);
    ck_assert_int_eq(tg_tensor_numel(y), 256);
    for (r8_case = 0; r8_case < 4; r8_case++)
        tgt_gradcheck(ctx, rank8, NULL, in, r8_case == 0 ? 2 : 1);
    /* matmul: 6 batch dims broadcast both ways, then [2,1] @ [1,2] */
    r8_case = 4;
    const int64_t ma[8] = {2, 1, 1, 1, 1, 2, 2, 1}, mb[7] = {2, 1, 1, 1, 1, 1, 2};
    tg_tensor *mm[2] = {tgt_rand(ctx, 8, ma, -1, 1, true), tgt_rand(ctx, 7, mb, -1, 1, true)};
    y = tg_matmul(ctx, mm[0], mm[1]);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_ndim(y), 8);
    ck_assert_int_eq(tg_tensor_dim(y, 0), 2);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 2);
    tgt_gradcheck(ctx, rank8, NULL, mm, 2);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- graph bookkeeping ---------------------------------------------------- */

START_TEST(no_grad_result_can_become_a_leaf)
{
    /* PyTorch: a tensor computed under no_grad is a leaf, and
     * requires_grad_() on it works; it used to fail with TG_ERR_STATE. */
    tg_ctx *ctx = tgt_ctx(1);
    const int64_t s[1] = {3};
    tg_tensor *x = tgt_tensor(ctx, 1, s, (float[]){1, 2, 3}, false);
    bool prev = tg_ctx_set_grad_enabled(ctx, false);
    tg_tensor *y = tg_mul_scalar(ctx, x, 2.0f);
    tg_ctx_set_grad_enabled(ctx, prev);
    ck_assert_int_eq(tg_tensor_set_requires_grad(y, true), TG_OK);
    tg_tensor *loss = tg_sum_all(ctx, tg_mul(ctx, y, y));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    tgt_assert_close(tg_tensor_grad(y), ((float[]){4, 8, 12}), 3, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(x));
    /* a result of constants (grad enabled) is a leaf as well */
    tg_tensor *z = tg_add(ctx, x, x);
    ck_assert_int_eq(tg_tensor_set_requires_grad(z, true), TG_OK);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, z)), TG_OK);
    tgt_assert_close(tg_tensor_grad(z), ((float[]){1, 1, 1}), 3, 0, 0);
    /* but a result that requires grad is not a leaf: unchanged */
    ck_assert_int_eq(tg_tensor_set_requires_grad(loss, false), TG_ERR_STATE);
    ck_assert(tg_tensor_requires_grad(loss));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(backward_twice_views_and_shared_intermediates)
{
    tg_ctx *ctx = tgt_ctx(1);
    const int64_t s[2] = {2, 2}, f[1] = {4};
    tg_tensor *p = tgt_tensor(ctx, 2, s, (float[]){1, 2, 3, 4}, true);
    tg_tensor *v = tg_reshape(ctx, p, 1, f);        /* view of a persistent leaf */
    tg_tensor *h = tg_mul(ctx, v, v);               /* shared intermediate */
    tg_tensor *loss = tg_add(ctx, tg_sum_all(ctx, h), tg_sum_all(ctx, tg_mul_scalar(ctx, h, 2)));
    /* d loss / d p = 3 * 2p */
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    tgt_assert_close(tg_tensor_grad(p), ((float[]){6, 12, 18, 24}), 4, 0, 0);
    tgt_assert_close(tg_tensor_grad(v), ((float[]){6, 12, 18, 24}), 4, 0, 0);
    tgt_assert_close(tg_tensor_grad(h), ((float[]){3, 3, 3, 3}), 4, 0, 0);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    /* the leaf accumulates; intermediates and the view restart from zero */
    tgt_assert_close(tg_tensor_grad(p), ((float[]){12, 24, 36, 48}), 4, 0, 0);
    tgt_assert_close(tg_tensor_grad(v), ((float[]){6, 12, 18, 24}), 4, 0, 0);
    tgt_assert_close(tg_tensor_grad(h), ((float[]){3, 3, 3, 3}), 4, 0, 0);
    /* a second loss over part of the same graph */
    tg_tensor_zero_grad(p);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, h)), TG_OK);
    tgt_assert_close(tg_tensor_grad(p), ((float[]){2, 4, 6, 8}), 4, 0, 0);
    /* detach shares data but cuts the graph */
    tg_tensor *d = tg_detach(ctx, p);
    ck_assert(!tg_tensor_requires_grad(d));
    ck_assert_ptr_eq(tg_tensor_data(d), tg_tensor_data(p));
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, d)), TG_ERR_STATE);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(input_grad_disabled_after_forward)
{
    /* requires_grad switched off between forward and backward: backward
     * skips that input (dropout used to write to its NULL gradient). */
    tg_ctx *ctx = tgt_ctx(7);
    const int64_t s[1] = {64};
    tg_tensor *x = tgt_rand(ctx, 1, s, 1, 2, true);
    tg_tensor *w = tgt_rand(ctx, 1, s, 1, 2, true);
    tg_tensor *y = tg_dropout(ctx, x, 0.5f, true);
    tg_tensor *y2 = tg_dropout(ctx, x, 0.5f, false);
    tg_tensor *loss = tg_sum_all(ctx, tg_add(ctx, tg_mul(ctx, y, w), tg_mul(ctx, y2, w)));
    ck_assert_int_eq(tg_tensor_set_requires_grad(x, false), TG_OK);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    ck_assert_ptr_null(tg_tensor_grad(x));
    for (int i = 0; i < 64; i++)
        ck_assert_float_eq(tg_tensor_grad(w)[i], tg_tensor_data(y)[i] + tg_tensor_data(x)[i]);

    /* The same for the pooling ops. */
    tg_ctx_reset(ctx);
    const int64_t s4[4] = {1, 2, 4, 4}, s2[4] = {1, 2, 2, 2};
    tg_tensor *img = tgt_rand(ctx, 4, s4, 0, 1, true);
    tg_tensor *w2 = tgt_rand(ctx, 4, s2, 1, 2, true);
    tg_tensor *pooled = tg_add(ctx, tg_max_pool2d(ctx, img, 2, 2, 0), tg_avg_pool2d(ctx, img, 2, 2, 0));
    loss = tg_sum_all(ctx, tg_mul(ctx, pooled, w2));
    ck_assert_int_eq(tg_tensor_set_requires_grad(img, false), TG_OK);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    ck_assert_ptr_null(tg_tensor_grad(img));
    ck_assert_ptr_nonnull(tg_tensor_grad(w2));
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(cross_context_graph_is_rejected)
{
    /* The node bound of tg_backward counts only its ctx's arena: a long
     * chain built in another ctx used to overrun the order array. */
    tg_ctx *ctx = tgt_ctx(1), *other = tgt_ctx(2);
    const int64_t s[1] = {1};
    tg_tensor *p = tgt_tensor(other, 1, s, (float[]){1}, true);
    tg_tensor *h = p;
    for (int i = 0; i < 5000; i++)
        h = tg_add_scalar(other, h, 1.0f);
    tg_tensor *loss = tg_mul_scalar(ctx, h, 2.0f);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "another context"));
    ck_assert_ptr_null(tg_tensor_grad(p));
    tg_ctx_clear_error(ctx);
    ck_assert_int_eq(tg_backward(ctx, h), TG_ERR_INVALID_ARG); /* loss of another ctx */
    ck_assert_int_eq(tg_backward(other, h), TG_OK);            /* its own ctx is fine */
    ck_assert_float_eq(tg_tensor_grad(p)[0], 1.0f);
    tg_ctx_destroy(ctx);
    tg_ctx_destroy(other);
}
END_TEST

START_TEST(traversal_stamp_does_not_wrap)
{
    /* With a 32-bit stamp, the 2^32-th backward reused stamp 0, which every
     * new tensor carries: the graph looked visited and got no gradient. */
    tg_ctx *ctx = tgt_ctx(1);
    const int64_t s[1] = {2};
    tg_tensor *p = tgt_tensor(ctx, 1, s, (float[]){1, 2}, true);
    ctx->mark = UINT32_MAX;
    tg_tensor *loss = tg_sum_all(ctx, tg_mul(ctx, tg_mul_scalar(ctx, p, 3), p));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    tgt_assert_close(tg_tensor_grad(p), ((float[]){6, 12}), 2, 0, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- threads -------------------------------------------------------------- */

typedef struct {
    int64_t hits[64];
    int64_t calls[8];
} pf_state;

static void pf_range(void *arg, int64_t b, int64_t e, int tid)
{
    pf_state *st = arg;
    st->calls[tid]++;
    for (int64_t i = b; i < e; i++)
        st->hits[i]++;
}

START_TEST(thread_pool_many_small_jobs)
{
    /* Back-to-back jobs of every size, fewer items than threads included,
     * and from 16 items (4 parts a thread, of falling size) up to 63: each
     * index runs exactly once per job and the caller never returns before
     * every part finished (no lost or spurious wake-ups). */
    tg_ctx *ctx = tgt_ctx_threads(1, 4);
    pf_state st;
    memset(&st, 0, sizeof st);
    int64_t expect[64] = {0};
    for (int rep = 0; rep < 3000; rep++) {
        int64_t n = rep % 2 ? rep % 11 : 16 + rep % 48;
        tg__parallel_for(ctx, n, pf_range, &st);
        for (int64_t i = 0; i < n; i++)
            expect[i]++;
    }
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(st.hits[i], expect[i]);
    tg_ctx_destroy(ctx);
}
END_TEST

typedef struct {
    atomic_int started;
    atomic_int timed_out;
    int64_t calls[8];
} meet_state;

/* Each part waits until the other has started: the job completes only if
 * a worker takes the part that the caller, busy in its own, cannot. */
static void meet_range(void *arg, int64_t b, int64_t e, int tid)
{
    meet_state *st = arg;
    st->calls[tid] += e - b;
    atomic_fetch_add(&st->started, 1);
    time_t t0 = time(NULL);
    while (atomic_load(&st->started) < 2)
        if (time(NULL) - t0 > 10) { /* fail, not hang */
            atomic_store(&st->timed_out, 1);
            return;
        }
}

START_TEST(thread_pool_workers_take_parts)
{
    /* The caller runs whatever parts no worker has started, so a worker
     * that sleeps through a short job is not waited for; a job still gets
     * done by several threads when it needs them. */
    tg_ctx *ctx = tgt_ctx_threads(1, 4);
    for (int rep = 0; rep < 20; rep++) {
        meet_state st = {0};
        tg__parallel_for(ctx, 2, meet_range, &st);
        ck_assert_int_eq(atomic_load(&st.timed_out), 0);
        ck_assert_int_eq(st.calls[0] + st.calls[1] + st.calls[2] + st.calls[3], 2);
        ck_assert_int_lt(st.calls[0], 2);
    }
    tg_ctx_destroy(ctx);
}
END_TEST

/* One forward + backward through ops that promise thread-independent
 * results; returns the loss and copies every gradient into g. */
static float det_run(int threads, float *g, size_t ng)
{
    tg_ctx *ctx = tgt_ctx_threads(42, threads);
    const int64_t xs[4] = {8, 8, 32, 33}, ls[2] = {33, 16};
    tg_tensor *x = tgt_rand(ctx, 4, xs, -2, 2, true);
    tg_tensor *w = tgt_rand(ctx, 2, ls, -1, 1, true);
    tg_tensor *y = tg_softmax(ctx, x, 1);                    /* inner > 1, parallel */
    y = tg_add(ctx, y, tg_log_softmax(ctx, x, -1));
    y = tg_batch_norm2d(ctx, tg_tanh(ctx, y), NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f);
    y = tg_matmul(ctx, tg_sigmoid(ctx, y), w);             /* [8,8,32,16] */
    tg_tensor *loss = tg_mean_all(ctx, tg_mul(ctx, y, y));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    size_t nx = (size_t)tg_tensor_numel(x);
    ck_assert_uint_eq(nx + (size_t)tg_tensor_numel(w), ng);
    memcpy(g, tg_tensor_grad(x), nx * sizeof *g);
    memcpy(g + nx, tg_tensor_grad(w), (ng - nx) * sizeof *g);
    float l = tg_tensor_data(loss)[0];
    tg_ctx_destroy(ctx);
    return l;
}

START_TEST(same_results_for_every_thread_count)
{
    size_t ng = 8 * 8 * 32 * 33 + 33 * 16;
    float *g1 = malloc(ng * sizeof *g1), *g3 = malloc(ng * sizeof *g3);
    float l1 = det_run(1, g1, ng), l2 = det_run(2, g3, ng);
    ck_assert_msg(l1 == l2, "loss differs: %.9g vs %.9g", (double)l1, (double)l2);
    ck_assert(memcmp(g1, g3, ng * sizeof *g1) == 0);
    float l3 = det_run(3, g3, ng);
    ck_assert(l1 == l3);
    ck_assert(memcmp(g1, g3, ng * sizeof *g1) == 0);
    free(g1);
    free(g3);
}
END_TEST

/* ---- losses and optimisers ------------------------------------------------ */

START_TEST(cross_entropy_reductions_agree)
{
    tg_ctx *ctx = tgt_ctx(5);
    const int64_t s[2] = {4, 5};
    tg_tensor *x = tgt_rand(ctx, 2, s, -3, 3, true);
    const int32_t t[4] = {0, 4, 2, 2};
    tg_tensor *none = tg_cross_entropy(ctx, x, t, 4, TG_REDUCTION_NONE);
    tg_tensor *sum = tg_cross_entropy(ctx, x, t, 4, TG_REDUCTION_SUM);
    tg_tensor *mean = tg_cross_entropy(ctx, x, t, 4, TG_REDUCTION_MEAN);
    double acc = 0;
    for (int i = 0; i < 4; i++)
        acc += tg_tensor_data(none)[i];
    ck_assert_float_eq_tol(tg_tensor_data(sum)[0], (float)acc, 1e-5f);
    ck_assert_float_eq_tol(tg_tensor_data(mean)[0], (float)(acc / 4), 1e-6f);
    /* equals nll(log_softmax) */
    tg_tensor *nll = tg_nll_loss(ctx, tg_log_softmax(ctx, x, 1), t, 4, TG_REDUCTION_MEAN);
    ck_assert_float_eq_tol(tg_tensor_data(nll)[0], tg_tensor_data(mean)[0], 1e-6f);
    ck_assert_int_eq(tg_backward(ctx, sum), TG_OK);
    float gs[20];
    memcpy(gs, tg_tensor_grad(x), sizeof gs);
    tg_tensor_zero_grad(x);
    ck_assert_int_eq(tg_backward(ctx, mean), TG_OK);
    for (int i = 0; i < 20; i++)
        ck_assert_float_eq_tol(tg_tensor_grad(x)[i] * 4, gs[i], 1e-6f);
    /* bad target: error, nothing returned */
    const int32_t bad[4] = {0, 5, 0, 0};
    ASSERT_ERR(tg_cross_entropy(ctx, x, bad, 4, TG_REDUCTION_MEAN), TG_ERR_INVALID_ARG);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(sgd_nesterov_weight_decay_matches_formula)
{
    /* torch.optim.SGD(lr, momentum, dampening=0, weight_decay, nesterov) by
     * hand for three steps on p with a constant gradient g. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 1, 1, false, &m), TG_OK);
    tg_tensor *p = tg_module_param(m, 0, NULL);
    ck_assert_int_eq(tg_tensor_set_data(p, (float[]){1.0f}, 1), TG_OK);
    tg_sgd_options o;
    tg_sgd_options_init(&o);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    o.weight_decay = 0.01f;
    o.nesterov = true;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &o, &opt), TG_OK);
    float pv = 1.0f, buf = 0.0f;
    for (int step = 1; step <= 3; step++) {
        tg_optim_zero_grad(opt);
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul_scalar(ctx, p, 0.5f))), TG_OK);
        float d = 0.5f + o.weight_decay * pv;
        buf = step == 1 ? d : buf * o.momentum + d;
        d = d + o.momentum * buf;
        pv = pv + (-o.lr) * d;
        ck_assert_int_eq(tg_optim_step(opt), TG_OK);
        ck_assert_float_eq_tol(tg_tensor_data(p)[0], pv, 1e-7f);
        tg_ctx_reset(ctx);
    }
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("review");
    TCase *tc = tcase_create("review");
    tcase_add_test(tc, zero_size_with_huge_dims_is_rejected);
    tcase_add_test(tc, zero_size_ops);
    tcase_add_test(tc, arena_rejects_wrapping_sizes);
    tcase_add_test(tc, arange_follows_torch);
    tcase_add_test(tc, zero_d_tensors);
    tcase_add_test(tc, rank8_ops);
    tcase_add_test(tc, no_grad_result_can_become_a_leaf);
    tcase_add_test(tc, backward_twice_views_and_shared_intermediates);
    tcase_add_test(tc, input_grad_disabled_after_forward);
    tcase_add_test(tc, cross_context_graph_is_rejected);
    tcase_add_test(tc, traversal_stamp_does_not_wrap);
    tcase_add_test(tc, thread_pool_many_small_jobs);
    tcase_add_test(tc, thread_pool_workers_take_parts);
    tcase_add_test(tc, same_results_for_every_thread_count);
    tcase_add_test(tc, cross_entropy_reductions_agree);
    tcase_add_test(tc, sgd_nesterov_weight_decay_matches_formula);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
