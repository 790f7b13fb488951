/* SPDX-License-Identifier: MIT */
/* The subproject example: a forward pass and a gradient with the library
 * built as part of this project. */
#include <tinygrad.h>

#include <stdio.h>

int main(void)
{
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(NULL, &ctx) != TG_OK)
        return 1;
    const int64_t shape[2] = {2, 2};
    const float v[4] = {1, 2, 3, 4};
    tg_tensor *w = NULL;
    if (tg_tensor_create(ctx, 2, shape, &w) != TG_OK || tg_tensor_set_data(w, v, 4) != TG_OK ||
        tg_tensor_set_requires_grad(w, true) != TG_OK) {
        fprintf(stderr, "app: %s\n", tg_ctx_last_error(ctx));
        tg_ctx_destroy(ctx);
        return 1;
    }
    /* loss = sum(w * w)  =>  grad = 2 w */
    tg_tensor *loss = tg_sum_all(ctx, tg_mul(ctx, w, w));
    int rc = 1;
    if (loss && tg_backward(ctx, loss) == TG_OK && tg_tensor_grad(w)[3] == 8.0f) {
        printf("app: libtinygrad %s, loss %.1f, OK\n", tg_version_string(),
               tg_tensor_data(loss)[0]);
        rc = 0;
    } else {
        fprintf(stderr, "app: %s\n", tg_ctx_last_error(ctx));
    }
    tg_ctx_destroy(ctx);
    return rc;
}
