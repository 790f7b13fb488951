/* SPDX-License-Identifier: MIT */
/* A 200-step training loop written the obvious way (forward, cross-entropy,
 * backward, step, zero_grad, tg_ctx_reset) through a counting allocator:
 * after the first step the library must not call the allocator at all, the
 * bytes it holds must not change, the arena peak must be stable, and the
 * loss must go down. Uses only the public API. */
#include "tg_test.h"

#include <stdint.h>

/* Counting allocator: a 16-byte header keeps each block's size. */
typedef struct {
    uint64_t calls;
    size_t live_bytes;
} counter;

static void *count_alloc(void *opaque, size_t size)
{
    counter *c = opaque;
    unsigned char *p = malloc(size + 16);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    c->calls++;
    c->live_bytes += size;
    return p + 16;
}

static void count_free(void *opaque, void *ptr)
{
    counter *c = opaque;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *)ptr - 16;
    size_t size;
    memcpy(&size, p, sizeof size);
    c->live_bytes -= size;
    free(p);
}

#define BATCH 8

static tg_module *small_cnn(tg_ctx *ctx)
{
    tg_module *seq = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
#define ADD(call)                                                                              \
    do {                                                                                       \
        ck_assert_int_eq((call), TG_OK);                                                       \
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);                                 \
    } while (0)
    ADD(tg_conv2d_create(ctx, 1, 4, 3, 1, 1, 1, 1, true, &l));
    ADD(tg_batchnorm2d_create(ctx, 4, 1e-5f, 0.1f, &l));
    ADD(tg_relu_create(ctx, &l));
    ADD(tg_conv2d_create(ctx, 4, 6, 3, 1, 1, 1, 1, true, &l));
    ADD(tg_relu_create(ctx, &l));
    ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
    ADD(tg_dropout_create(ctx, 0.1f, &l));
    ADD(tg_flatten_create(ctx, &l));
    ADD(tg_linear_create(ctx, 6 * 8 * 8, 10, true, &l));
#undef ADD
    return seq;
}

static void run(int n_threads, bool adam)
{
    counter c = {0, 0};
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = n_threads;
    o.seed = 99;
    o.alloc = count_alloc;
    o.free = count_free;
    o.alloc_opaque = &c;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    tg_module *net = small_cnn(ctx);
    tg_optim *opt = NULL;
    if (adam) {
        ck_assert_int_eq(tg_adam_create(ctx, net, NULL, &opt), TG_OK);
    } else {
        tg_sgd_options so;
        tg_sgd_options_init(&so);
        so.lr = 0.05f;
        so.momentum = 0.9f;
        ck_assert_int_eq(tg_sgd_create(ctx, net, &so, &opt), TG_OK);
    }

    /* One fixed batch (the model should fit it). */
    static float images[BATCH * 16 * 16];
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH * 16 * 16; i++)
        images[i] = (float)((i * 7919) % 251) / 251.0f;
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int32_t)((i * 3) % 10);
    static const int64_t xs[4] = {BATCH, 1, 16, 16};

    uint64_t calls1 = 0;
    size_t live1 = 0, peak1 = 0;
    float first = 0, last = 0;
    for (int step = 1; step <= 200; step++) {
        tg_tensor *x = tg_from_data(ctx, 4, xs, images, BATCH * 16 * 16);
        tg_tensor *loss = tg_cross_entropy(ctx, tg_module_forward(net, x), labels, BATCH,
                                           TG_REDUCTION_MEAN);
        ck_assert_msg(loss != NULL, "step %d: %s", step, tg_ctx_last_error(ctx));
        ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
        ck_assert_int_eq(tg_optim_step(opt), TG_OK);
        last = tg_tensor_data(loss)[0];
        if (step == 1)
            first = last;
        tg_optim_zero_grad(opt);
        tg_ctx_reset(ctx);

        tg_mem_stats ms;
        tg_ctx_mem_stats(ctx, &ms);
        if (step == 1) {
            calls1 = c.calls;
            live1 = c.live_bytes;
            peak1 = ms.arena_peak;
            ck_assert_uint_eq(ms.n_allocs, c.calls); /* the ctx counts what we count */
        } else {
            ck_assert_msg(c.calls == calls1, "step %d: %llu allocator calls after step 1", step,
                          (unsigned long long)(c.calls - calls1));
            ck_assert_msg(c.live_bytes == live1, "step %d: live bytes %zu, after step 1 %zu",
                          step, c.live_bytes, live1);
            ck_assert_msg(ms.arena_peak == peak1, "step %d: arena peak %zu, after step 1 %zu",
                          step, ms.arena_peak, peak1);
            ck_assert_uint_eq(ms.n_allocs, calls1);
        }
    }
    ck_assert_msg(last < 0.5f * first, "loss %g -> %g did not decrease enough", (double)first,
                  (double)last);
    tg_optim_destroy(opt);
    tg_module_destroy(net);
    tg_ctx_destroy(ctx);
    ck_assert_uint_eq(c.live_bytes, 0);
}

START_TEST(sgd_no_allocation_after_step_one) { run(_i + 1, false); }
END_TEST

START_TEST(adam_no_allocation_after_step_one) { run(2, true); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train_memory");
    TCase *tc = tcase_create("loop");
    tcase_add_loop_test(tc, sgd_no_allocation_after_step_one, 0, 2); /* 1 and 2 threads */
    tcase_add_test(tc, adam_no_allocation_after_step_one);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
