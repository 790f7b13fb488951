/* SPDX-License-Identifier: MIT */
/* An outside program built with nothing but `pkg-config --cflags --libs
 * tinygrad` (shared) or `--static`: version agreement, a tiny graph with a
 * gradient, and an error path. Exit 0 and "consumer: OK" on success. */
#include <tinygrad.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "consumer: %s:%d: check failed: %s\n", __FILE__,   \
                    __LINE__, #cond);                                          \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(void)
{
    /* Headers, run-time library and the .pc file must agree. */
    CHECK(tg_version() == TG_VERSION_NUMBER);
    CHECK(strcmp(tg_version_string(), TG_VERSION_STRING) == 0);
#ifdef EXPECTED_VERSION
    CHECK(strcmp(tg_version_string(), EXPECTED_VERSION) == 0);
#endif

    tg_ctx_options opts;
    tg_ctx_options_init(&opts);
    opts.n_threads = 1;
    opts.seed = 42;
    tg_ctx *ctx = NULL;
    CHECK(tg_ctx_create(&opts, &ctx) == TG_OK && ctx);

    /* y = sum(w * x)  =>  dy/dw = x */
    const int64_t shape[1] = {3};
    tg_tensor *w = NULL;
    CHECK(tg_tensor_create(ctx, 1, shape, &w) == TG_OK);
    const float wv[3] = {0.5f, -1.0f, 2.0f}, xv[3] = {1.0f, 2.0f, 3.0f};
    CHECK(tg_tensor_set_data(w, wv, 3) == TG_OK);
    CHECK(tg_tensor_set_requires_grad(w, true) == TG_OK);
    tg_tensor *x = tg_from_data(ctx, 1, shape, xv, 3);
    tg_tensor *y = tg_sum_all(ctx, tg_mul(ctx, w, x));
    CHECK(y != NULL);
    CHECK(fabsf(tg_tensor_data(y)[0] - 4.5f) < 1e-6f);
    CHECK(tg_backward(ctx, y) == TG_OK);
    float g[3];
    CHECK(tg_tensor_copy_grad(w, g, 3) == TG_OK);
    for (int i = 0; i < 3; i++)
        CHECK(g[i] == xv[i]);

    /* Errors come back as NULL plus a message kept in the context. */
    const int64_t other[1] = {4};
    CHECK(tg_add(ctx, x, tg_zeros(ctx, 1, other)) == NULL);
    CHECK(tg_ctx_last_status(ctx) == TG_ERR_SHAPE);
    CHECK(strlen(tg_ctx_last_error(ctx)) > 0);
    CHECK(strcmp(tg_status_string(TG_ERR_SHAPE), "") != 0);

    tg_ctx_reset(ctx);
    tg_ctx_destroy(ctx);
    printf("consumer: OK (libtinygrad %s)\n", tg_version_string());
    return 0;
}
