/* SPDX-License-Identifier: MIT */
/* Binary arithmetic with broadcasting: forward values and gradients. */
#include "tg_test.h"

static const int64_t S23[2] = {2, 3}, S3[1] = {3}, S21[2] = {2, 1}, S1[1] = {1};

START_TEST(forward_broadcast)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *a = tg_from_data(ctx, 2, S23, (float[]){1, 2, 3, 4, 5, 6}, 6);
    tg_tensor *r = tg_from_data(ctx, 1, S3, (float[]){10, 20, 30}, 3);
    tg_tensor *c = tg_from_data(ctx, 2, S21, (float[]){2, 4}, 2);
    tgt_assert_tensor(tg_add(ctx, a, r), ((float[]){11, 22, 33, 14, 25, 36}), 6, 0);
    tgt_assert_tensor(tg_sub(ctx, a, c), ((float[]){-1, 0, 1, 0, 1, 2}), 6, 0);
    tgt_assert_tensor(tg_mul(ctx, c, r), ((float[]){20, 40, 60, 40, 80, 120}), 6, 0);
    tgt_assert_tensor(tg_div(ctx, a, c), ((float[]){0.5f, 1, 1.5f, 1, 1.25f, 1.5f}), 6, 1e-7);
    tg_tensor *s = tg_from_data(ctx, 1, S1, (float[]){2}, 1);
    tgt_assert_tensor(tg_mul(ctx, s, a), ((float[]){2, 4, 6, 8, 10, 12}), 6, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

static int which;
static tg_tensor *bin(tg_ctx *ctx, tg_tensor **in, void *arg)
{
    (void)arg;
    switch (which) {
    case 0: return tg_add(ctx, in[0], in[1]);
    case 1: return tg_sub(ctx, in[0], in[1]);
    case 2: return tg_mul(ctx, in[0], in[1]);
    default: return tg_div(ctx, in[0], in[1]);
    }
}

START_TEST(grad_broadcast)
{
    /* _i selects the op; shapes cover same, row, column, scalar and
     * both-sides broadcasting ([2,1,3] with [4,1]). */
    which = _i;
    static const int64_t A[3] = {2, 1, 3}, B[2] = {4, 1};
    struct { int na, nb; const int64_t *a, *b; } cases[] = {
        {2, 2, S23, S23}, {2, 1, S23, S3}, {2, 2, S23, S21}, {1, 2, S1, S23}, {3, 2, A, B},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_ctx *ctx = tgt_ctx(k + 1);
        tg_tensor *in[2] = {tgt_rand(ctx, cases[k].na, cases[k].a, 0.5f, 2.0f, true),
                            tgt_rand(ctx, cases[k].nb, cases[k].b, 0.5f, 2.0f, true)};
        tgt_gradcheck(ctx, bin, NULL, in, 2);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("binary");
    tcase_add_test(tc, forward_broadcast);
    tcase_add_loop_test(tc, grad_broadcast, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
