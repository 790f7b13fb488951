/* SPDX-License-Identifier: MIT */
/* Regression tests for crashes and hangs found by the fuzzers and the
 * sanitizer runs (docs/reliability.md lists each finding). One test per
 * finding, named after it. Public API only. */
#include "tg_test.h"

/* F3: with grad disabled, a Sequential that could run in tiles and a batch
 * bigger than two tiles, an error in the first tile made the untiled redo
 * tile again: endless recursion (stack overflow; a hang in -O3 builds). */
START_TEST(f3_tiled_sequential_error_returns)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_module *seq = NULL, *conv = NULL, *relu = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_conv2d_create(ctx, 1, 3, 3, 1, 1, 1, 1, true, &conv), TG_OK);
    ck_assert_int_eq(tg_relu_create(ctx, &relu), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, conv), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, relu), TG_OK);
    tg_ctx_set_grad_enabled(ctx, false);
    static const int64_t bad[4] = {300, 2, 8, 8}; /* 2 channels; the conv wants 1 */
    ck_assert_ptr_null(tg_module_forward(seq, tg_zeros(ctx, 4, bad)));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), "[300,2,8,8]") != NULL, "%s",
                  tg_ctx_last_error(ctx));
    /* and the same module still works on a good batch */
    tg_ctx_clear_error(ctx);
    static const int64_t good[4] = {300, 1, 8, 8};
    tg_tensor *y = tg_module_forward(seq, tg_ones(ctx, 4, good));
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_dim(y, 1), 3);
    tg_module_destroy(seq);
    tg_ctx_destroy(ctx);
}
END_TEST

/* F4 (fuzz_ops timeout): reducing a 0-element tensor whose other dims are
 * huge looped over them (2^40 iterations of nothing). Must return at once,
 * forward and backward. */
START_TEST(f4_reduce_empty_huge_dims)
{
    tg_ctx *ctx = tgt_ctx(1);
    static const int64_t s[3] = {INT64_C(1) << 40, 0, 3};
    tg_tensor *p = tgt_tensor(ctx, 3, s, NULL, true);
    tg_tensor *r = tg_sum(ctx, p, 0, false);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(tg_tensor_numel(r), 0);
    ck_assert_ptr_nonnull(tg_mean(ctx, p, 2, true));
    ck_assert_ptr_nonnull(tg_max(ctx, p, 0, false));
    tg_tensor *loss = tg_sum_all(ctx, tg_sum(ctx, p, 2, false));
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    ck_assert_float_eq(tg_tensor_data(loss)[0], 0.0f);
    tg_ctx_destroy(ctx);
}
END_TEST

/* F10 (fuzz_ops timeout in CI, 2026-12-02): argmax over an axis of size 3
 * with an empty dim after it and a huge one before it looped 2^40 times over
 * nothing. Probe every 0.2 op with such shapes: each returns at once. */
START_TEST(f10_new_ops_empty_huge_dims)
{
    tg_ctx *ctx = tgt_ctx(1);
    static const int64_t s[4] = {INT64_C(1) << 40, 3, 0, 2};
    tg_tensor *p = tgt_tensor(ctx, 4, s, NULL, true);
    tg_tensor *r = tg_argmax(ctx, p, 1, false);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(tg_tensor_numel(r), 0);
    tg_tensor *xs[2] = {p, p};
    ck_assert_ptr_nonnull(tg_concat(ctx, xs, 2, 1));
    ck_assert_ptr_nonnull(tg_narrow(ctx, p, 1, 1, 2));
    ck_assert_ptr_nonnull(tg_slice(ctx, p, 1, 0, 3, 2));
    static const int64_t pad[2] = {1, 1};
    ck_assert_ptr_nonnull(tg_pad(ctx, p, 2, pad, 0.0f));
    ck_assert_ptr_nonnull(tg_gelu(ctx, p));
    ck_assert_ptr_nonnull(tg_clamp(ctx, p, -1.0f, 1.0f));
    ck_assert_ptr_nonnull(tg_abs(ctx, p));
    ck_assert_ptr_nonnull(tg_maximum(ctx, p, p));
    ck_assert_ptr_nonnull(tg_minimum(ctx, p, p));
    ck_assert_ptr_nonnull(tg_layer_norm(ctx, p, 1, NULL, NULL, 1e-5f));
    ck_assert_ptr_null(tg_global_avg_pool2d(ctx, p)); /* empty plane: refused, as torch */
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    tg_ctx_clear_error(ctx);
    tg_tensor *m = tg_maximum(ctx, tg_narrow(ctx, p, 1, 1, 2), tg_slice(ctx, p, 1, 0, 3, 2));
    tg_tensor *loss = tg_add(ctx, tg_sum_all(ctx, m), tg_sum_all(ctx, tg_concat(ctx, xs, 2, 1)));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

/* F5 (probe of every op with such shapes): a batched matmul whose
 * per-batch product is empty looped over 2^40 batches. */
START_TEST(f5_matmul_empty_huge_batch)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    static const int64_t sa[3] = {INT64_C(1) << 40, 0, 1}, sb[3] = {INT64_C(1) << 40, 1, 0};
    tg_tensor *a = tgt_tensor(ctx, 3, sa, NULL, true), *b = tgt_tensor(ctx, 3, sb, NULL, true);
    tg_tensor *y = tg_matmul(ctx, a, b);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    y = tg_matmul(ctx, tg_transpose(ctx, b, 1, 2), tg_transpose(ctx, a, 1, 2)); /* [H,0,0] */
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

/* F6 (fuzz_ops on the 16-core run, 7 crashes): max pooling of an empty
 * plane with padding made windows with no element, whose bogus argmax the
 * backward wrote through (heap overflow). Empty planes are refused, as in
 * PyTorch; an empty batch still works. */
START_TEST(f6_pool_empty_plane)
{
    tg_ctx *ctx = tgt_ctx(1);
    static const int64_t sh[4] = {1, 1, 0, 2}, sw[4] = {2, 1, 3, 0}, sn[4] = {0, 2, 4, 4};
    tg_tensor *h0 = tgt_tensor(ctx, 4, sh, NULL, true), *w0 = tgt_tensor(ctx, 4, sw, NULL, true);
    ck_assert_ptr_null(tg_max_pool2d(ctx, h0, 2, 1, 1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "max_pool2d: input [1,1,0,2]"));
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_avg_pool2d(ctx, w0, 3, 1, 1));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_SHAPE);
    tg_ctx_clear_error(ctx);
    tg_tensor *n0 = tgt_tensor(ctx, 4, sn, NULL, true);
    tg_tensor *y = tg_max_pool2d(ctx, n0, 2, 2, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(tg_tensor_numel(y), 0);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("regressions");
    TCase *tc = tcase_create("findings");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, f3_tiled_sequential_error_returns);
    tcase_add_test(tc, f4_reduce_empty_huge_dims);
    tcase_add_test(tc, f5_matmul_empty_huge_batch);
    tcase_add_test(tc, f6_pool_empty_plane);
    tcase_add_test(tc, f10_new_ops_empty_huge_dims);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
