/* SPDX-License-Identifier: MIT */
/* API misuse (docs/memory.md "Misuse rules"): stale transient tensors,
 * lifetimes between objects, one thread per context. Public API only. */
#include "tg_test.h"

#include <pthread.h>
#include <stdio.h>

static const int64_t s2[1] = {2};

static void assert_error(tg_ctx *ctx, tg_status st, const char *part)
{
    ck_assert_int_eq(tg_ctx_last_status(ctx), st);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), part) != NULL, "message \"%s\" lacks \"%s\"",
                  tg_ctx_last_error(ctx), part);
    tg_ctx_clear_error(ctx);
}

/* Issue 13, case 1: a and b kept across tg_ctx_reset(), c made in their
 * memory, d = a + b used to return 1s with no error. */
START_TEST(stale_issue_case)
{
    tg_ctx *ctx = tgt_ctx(1);
    for (int i = 0; i < 41; i++)
        tg_ctx_reset(ctx);
    tg_tensor *a = tg_ones(ctx, 1, s2), *b = tg_ones(ctx, 1, s2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    tg_ctx_reset(ctx);
    tg_tensor *c = tg_zeros(ctx, 1, s2);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(tg_add(ctx, a, b));
    assert_error(ctx, TG_ERR_MISUSE,
                 "add: input 0 was made before tg_ctx_reset() (step 41, now step 42)");
    ck_assert_ptr_null(tg_add(ctx, c, b));
    assert_error(ctx, TG_ERR_MISUSE, "add: input 1 was made before tg_ctx_reset()");
    /* the fresh tensor still works */
    tg_tensor *d = tg_add(ctx, c, c);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Every kind of use of a one-step-old handle is refused: ops with optional
 * inputs, views, backward and the accessors. */
START_TEST(stale_everywhere)
{
    tg_ctx *ctx = tgt_ctx(1);
    static const int64_t sw[2] = {3, 2};
    tg_tensor *w = tgt_rand(ctx, 2, sw, -1, 1, true); /* persistent: never stale */
    tg_tensor *x = tg_ones(ctx, 1, s2);
    tg_tensor *loss = tg_sum_all(ctx, tg_matmul(ctx, w, tg_reshape(ctx, x, 2, (int64_t[]){2, 1})));
    ck_assert_ptr_nonnull(loss);
    tg_tensor *v = tg_detach(ctx, x);
    ck_assert_ptr_nonnull(v);
    tg_tensor *b3 = tg_ones(ctx, 1, (int64_t[]){3});
    tg_ctx_reset(ctx);
    ck_assert_int_eq(tg_backward(ctx, loss), TG_ERR_MISUSE);
    assert_error(ctx, TG_ERR_MISUSE, "backward: input 0 was made before tg_ctx_reset()");
    ck_assert_ptr_null(tg_relu(ctx, x));
    assert_error(ctx, TG_ERR_MISUSE, "relu: input 0");
    ck_assert_ptr_null(tg_detach(ctx, v));
    assert_error(ctx, TG_ERR_MISUSE, "detach: input 0");
    ck_assert_ptr_null(tg_reshape(ctx, x, 1, s2));
    assert_error(ctx, TG_ERR_MISUSE, "input 0 was made before");
    ck_assert_ptr_null(tg_linear(ctx, tg_ones(ctx, 2, (int64_t[]){1, 2}), w, b3));
    assert_error(ctx, TG_ERR_MISUSE, "linear: input 2 was made before");
    ck_assert_ptr_null(tg_tensor_data(x));
    assert_error(ctx, TG_ERR_MISUSE, "tensor_data: input 0 was made before");
    ck_assert_ptr_null(tg_tensor_shape(x));
    assert_error(ctx, TG_ERR_MISUSE, "tensor_shape");
    ck_assert_int_eq(tg_tensor_ndim(x), 0);
    ck_assert_int_eq(tg_tensor_numel(x), 0);
    ck_assert_int_eq(tg_tensor_dim(x, 0), -1);
    float buf[2];
    ck_assert_int_eq(tg_tensor_copy_data(x, buf, 2), TG_ERR_MISUSE);
    ck_assert_int_eq(tg_tensor_set_data(x, buf, 2), TG_ERR_MISUSE);
    ck_assert_int_eq(tg_tensor_copy_grad(x, buf, 2), TG_ERR_MISUSE);
    ck_assert_int_eq(tg_tensor_set_requires_grad(x, true), TG_ERR_MISUSE);
    ck_assert_ptr_null(tg_tensor_grad(loss));
    assert_error(ctx, TG_ERR_MISUSE, "tensor_grad");
    /* persistent tensors are never stale */
    ck_assert_ptr_nonnull(tg_tensor_data(w));
    ck_assert_ptr_nonnull(tg_relu(ctx, w));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A handle one step old is detected whatever was allocated since; older
 * handles are detected unless their slot was reused on the current step
 * (documented). A training-like loop never aliases a one-step-old loss. */
START_TEST(stale_previous_loss_in_loop)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *prev = NULL;
    for (int step = 0; step < 20; step++) {
        tg_ctx_reset(ctx);
        if (prev) {
            ck_assert_ptr_null(tg_mul_scalar(ctx, prev, 2.0f));
            assert_error(ctx, TG_ERR_MISUSE, "was made before tg_ctx_reset()");
        }
        tg_tensor *x = tg_rand(ctx, 1, s2, 0, 1);
        prev = tg_sum_all(ctx, tg_mul(ctx, x, x));
        ck_assert_ptr_nonnull(prev);
    }
    tg_ctx_destroy(ctx);
}
END_TEST

static void plain_sgd(void *hyper, const tg_optim_update *u)
{
    (void)hyper;
    for (size_t i = 0; i < u->n; i++)
        u->param[i] -= u->lr * u->grad[i];
}

static const tg_optim_vtable sgd_vt = {.struct_size = sizeof sgd_vt, .name = "plain",
                                       .update = plain_sgd};

static tg_module *make_linear(tg_ctx *ctx)
{
    tg_module *m = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 2, 3, true, &m), TG_OK);
    return m;
}

/* Issue 13, case 2: tg_module_destroy() with a live optimiser, then
 * tg_optim_step(): was a heap-use-after-free. Now the destroy is refused. */
START_TEST(module_with_live_optimiser)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = make_linear(ctx);
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &o), TG_OK);
    tg_tensor *y = tg_module_forward(m, tg_ones(ctx, 2, (int64_t[]){4, 2}));
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    tg_module_destroy(m);
    assert_error(ctx, TG_ERR_BUSY, "held by a live optimiser");
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    /* a parameter of it cannot go either */
    tg_tensor_destroy(tg_module_param(m, 0, NULL));
    assert_error(ctx, TG_ERR_BUSY, "belongs to a module");
    tg_optim_destroy(o);
    tg_ctx_reset(ctx);
    tg_module_destroy(m); /* now allowed */
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

/* tg_ctx_destroy() releases a module and its optimiser in any order. */
START_TEST(ctx_destroy_releases_busy_objects)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *child = make_linear(ctx);
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_adam_create(ctx, child, NULL, &o), TG_OK);
    tg_module *seq = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, child), TG_OK); /* seq is newer than o */
    tg_module_destroy(child);
    assert_error(ctx, TG_ERR_BUSY, "child of a Sequential");
    tg_module_destroy(seq);
    assert_error(ctx, TG_ERR_BUSY, "held by a live optimiser");
    tg_ctx_destroy(ctx); /* frees seq before o: o must not touch the parameters */
}
END_TEST

/* A persistent tensor held by tg_optim_create_params. */
START_TEST(tensor_with_live_optimiser)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *p = tgt_rand(ctx, 1, s2, -1, 1, true);
    tg_module *m = make_linear(ctx);
    tg_optim *o = NULL, *o2 = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &o), TG_OK); /* for its vtable-free path */
    tg_optim_destroy(o);
    o = NULL;
    tg_tensor *ps[1] = {p};
    const char *names[1] = {"p"};
    ck_assert_int_eq(tg_optim_create_params(ctx, ps, names, 1, &sgd_vt, NULL, 0.1f,
                                            &o),
                     TG_OK);
    ck_assert_int_eq(tg_optim_create_params(ctx, ps, names, 1, &sgd_vt, NULL, 0.1f,
                                            &o2),
                     TG_OK);
    tg_tensor_destroy(p);
    assert_error(ctx, TG_ERR_BUSY, "2 live optimisers");
    tg_optim_destroy(o);
    tg_tensor_destroy(p);
    assert_error(ctx, TG_ERR_BUSY, "1 live optimiser");
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, p, p))), TG_OK);
    ck_assert_int_eq(tg_optim_step(o2), TG_OK);
    tg_optim_destroy(o2);
    tg_ctx_reset(ctx);
    tg_tensor_destroy(p);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A persistent tensor (or a module) destroyed while the step's graph uses
 * it is freed at the next tg_ctx_reset(): backward still works. */
START_TEST(destroy_deferred_while_graph_uses)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *p = tgt_rand(ctx, 1, s2, -1, 1, true);
    tg_tensor *q = tgt_rand(ctx, 1, s2, -1, 1, true);
    tg_module *m = make_linear(ctx);
    tg_tensor *y = tg_module_forward(m, tg_reshape(ctx, tg_mul(ctx, p, q), 2, (int64_t[]){1, 2}));
    tg_tensor *v = tg_detach(ctx, q); /* a view of q's data */
    tg_tensor_destroy(p);
    tg_tensor_destroy(q);
    tg_module_destroy(m);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, y)), TG_OK);
    ck_assert_ptr_nonnull(tg_relu(ctx, v));
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    tg_ctx_reset(ctx); /* frees p, q and m */
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_lt(after.persistent_bytes, before.persistent_bytes);
    ck_assert_uint_eq(after.persistent_bytes, 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* fuzz_api's first finding (a harness bug, kept as an input in
 * tests/fuzz/regressions/fuzz_api): an empty Sequential returns its input,
 * so a forward result can be persistent, and such a result is never stale. */
START_TEST(forward_may_return_persistent_input)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *seq = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    tg_tensor *p = tgt_rand(ctx, 1, s2, -1, 1, false);
    tg_tensor *y = tg_module_forward(seq, p);
    ck_assert_ptr_eq(y, p);
    tg_ctx_reset(ctx);
    ck_assert_ptr_nonnull(tg_relu(ctx, y));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_tensor_destroy(p); /* used by this step's graph: freed at the reset */
    tg_ctx_reset(ctx);
    tg_module_destroy(seq);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- one thread per context ------------------------------------------- */

typedef struct {
    tg_ctx *ctx;
    tg_tensor *x;
    tg_tensor *y;
    tg_status st;
    char msg[512];
    volatile int *inside, *release;
} intruder_arg;

/* The intruder's call was refused with a message naming the entry point the
 * owner was inside; the error is kept in the ctx until cleared. */
static void assert_refused(tg_ctx *ctx, const intruder_arg *a, const char *msg)
{
    ck_assert_ptr_null(a->y);
    ck_assert_int_eq(a->st, TG_ERR_MISUSE);
    ck_assert_msg(strstr(a->msg, msg) != NULL, "%s", a->msg);
    assert_error(ctx, TG_ERR_MISUSE, msg);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
}

/* A module whose forward parks the owner thread inside the ctx until the
 * intruder has tried its call. */
static tg_tensor *park_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    intruder_arg *a = tg_module_userdata(self);
    __atomic_store_n(a->inside, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(a->release, __ATOMIC_SEQ_CST))
        ;
    return tg_relu(ctx, x);
}

static void *intruder(void *p)
{
    intruder_arg *a = p;
    while (!__atomic_load_n(a->inside, __ATOMIC_SEQ_CST))
        ;
    a->y = tg_relu(a->ctx, a->x);
    a->st = tg_backward(a->ctx, a->x);
    snprintf(a->msg, sizeof a->msg, "%s", tg_ctx_last_error(a->ctx));
    __atomic_store_n(a->release, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(second_thread_is_refused)
{
    tg_ctx *ctx = tgt_ctx(1);
    volatile int inside = 0, release = 0;
    intruder_arg a = {.ctx = ctx, .inside = &inside, .release = &release};
    a.x = tg_ones(ctx, 1, s2);
    static const tg_module_vtable vt = {.struct_size = sizeof vt, .type_name = "Park",
                                        .forward = park_forward};
    tg_module *m = NULL;
    ck_assert_int_eq(tg_module_create(ctx, &vt, &a, &m), TG_OK);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, intruder, &a), 0);
    tg_tensor *y = tg_module_forward(m, a.x);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(y); /* the owner's call is unaffected */
    assert_refused(ctx, &a,
                   "called from a second thread while another thread is inside module_forward");
    /* one thread at a time is fine: the ctx moves to another thread */
    a.y = NULL;
    release = 0;
    inside = 1;
    ck_assert_int_eq(pthread_create(&th, NULL, intruder, &a), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(a.y);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Two threads each calling single ops: the owner is parked inside tg_zeros()
 * (in the ctx's allocator, asked for a new arena chunk) while a second
 * thread calls tg_relu() and tg_ones() on the same ctx. */
static struct {
    volatile int park, inside, release;
} op_park;

static void *parking_alloc(void *opaque, size_t size)
{
    (void)opaque;
    if (__atomic_load_n(&op_park.park, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&op_park.park, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&op_park.inside, 1, __ATOMIC_SEQ_CST);
        while (!__atomic_load_n(&op_park.release, __ATOMIC_SEQ_CST))
            ;
    }
    return malloc(size);
}

static void plain_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static void *op_intruder(void *p)
{
    intruder_arg *a = p;
    while (!__atomic_load_n(&op_park.inside, __ATOMIC_SEQ_CST))
        ;
    a->y = tg_relu(a->ctx, a->x);
    tg_tensor *z = tg_ones(a->ctx, 1, s2);
    a->st = z ? TG_OK : tg_ctx_last_status(a->ctx);
    snprintf(a->msg, sizeof a->msg, "%s", tg_ctx_last_error(a->ctx));
    __atomic_store_n(&op_park.release, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

START_TEST(second_thread_in_single_ops_is_refused)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = 1;
    o.alloc = parking_alloc;
    o.free = plain_free;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    intruder_arg a = {.ctx = ctx};
    a.x = tg_ones(ctx, 1, s2);
    ck_assert_ptr_nonnull(a.x);
    memset((void *)&op_park, 0, sizeof op_park);
    op_park.park = 1;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, op_intruder, &a), 0);
    const int64_t big[1] = {1 << 22}; /* 16 MiB: needs a new arena chunk */
    tg_tensor *z = tg_zeros(ctx, 1, big);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(z); /* the owner's op is unaffected */
    ck_assert_float_eq(tg_tensor_data(z)[(1 << 22) - 1], 0.0f);
    assert_refused(ctx, &a,
                   "relu: called from a second thread while another thread is inside zeros");
    ck_assert_ptr_nonnull(tg_relu(ctx, a.x)); /* the owner carries on */
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc = tcase_create("misuse");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stale_issue_case);
    tcase_add_test(tc, stale_everywhere);
    tcase_add_test(tc, stale_previous_loss_in_loop);
    tcase_add_test(tc, module_with_live_optimiser);
    tcase_add_test(tc, ctx_destroy_releases_busy_objects);
    tcase_add_test(tc, tensor_with_live_optimiser);
    tcase_add_test(tc, destroy_deferred_while_graph_uses);
    tcase_add_test(tc, forward_may_return_persistent_input);
    tcase_add_test(tc, second_thread_is_refused);
    tcase_add_test(tc, second_thread_in_single_ops_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
