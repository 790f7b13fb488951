/* SPDX-License-Identifier: MIT */
/* Distinct contexts run concurrently: four small CNNs (conv-relu-maxpool-
 * linear, cross-entropy, SGD with momentum), each in its own thread with its
 * own ctx (and that ctx's own worker pool), must end bit-identical to the
 * same four trained one after another. Catches shared mutable state between
 * contexts (globals, static scratch, a shared pool). Public API only. */
#include "tg_test.h"

#include <pthread.h>
#include <stdio.h>

#define N_MODELS 4
#define STEPS 12
#define BATCH 8
#define IMG 10

typedef struct job {
    uint64_t seed;
    int n_threads;
    float params[2048];
    size_t n_params;
    float losses[STEPS];
    tg_status status;
    char err[256];
} job;

static tg_tensor *fwd(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}
static const tg_module_vtable net_vt = {sizeof(tg_module_vtable), "Net", fwd, NULL};

static tg_status job_fail(job *j, tg_ctx *ctx, tg_status st)
{
    j->status = st;
    snprintf(j->err, sizeof j->err, "%s", ctx ? tg_ctx_last_error(ctx) : "no ctx");
    return st;
}

/* Train one model; everything it touches hangs off its own ctx. */
static tg_status train(job *j)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.seed = j->seed;
    o.n_threads = j->n_threads;
    tg_ctx *ctx = NULL;
    tg_status st = tg_ctx_create(&o, &ctx);
    if (st != TG_OK)
        return job_fail(j, NULL, st);
    tg_module *m = NULL;
    tg_optim *opt = NULL;
    tg_tensor *cw, *cb, *lw, *lb;
    static const int64_t scw[4] = {4, 1, 3, 3}, scb[1] = {4}, slw[2] = {10, 4 * 5 * 5},
                         slb[1] = {10};
    if ((st = tg_module_create(ctx, &net_vt, NULL, &m)) != TG_OK ||
        (st = tg_module_add_param(m, "cw", 4, scw, &cw)) != TG_OK ||
        (st = tg_module_add_param(m, "cb", 1, scb, &cb)) != TG_OK ||
        (st = tg_module_add_param(m, "lw", 2, slw, &lw)) != TG_OK ||
        (st = tg_module_add_param(m, "lb", 1, slb, &lb)) != TG_OK)
        goto out;
    tg_tensor_uniform_(cw, -0.3f, 0.3f);
    tg_tensor_uniform_(cb, -0.1f, 0.1f);
    tg_tensor_uniform_(lw, -0.1f, 0.1f);
    tg_tensor_uniform_(lb, -0.1f, 0.1f);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.05f;
    so.momentum = 0.9f;
    if ((st = tg_sgd_create(ctx, m, &so, &opt)) != TG_OK)
        goto out;
    static const int64_t sx[4] = {BATCH, 1, IMG, IMG};
    for (int s = 0; s < STEPS; s++) {
        tg_tensor *x = tg_rand(ctx, 4, sx, 0.0f, 1.0f);
        int32_t y[BATCH];
        for (int i = 0; i < BATCH; i++)
            y[i] = (int32_t)((j->seed * 7 + (uint64_t)s * 3 + (uint64_t)i) % 10);
        tg_tensor *h = tg_conv2d(ctx, x, cw, cb, 1, 1, 1, 1);
        h = tg_max_pool2d(ctx, tg_relu(ctx, h), 2, 2, 0);
        h = tg_linear(ctx, tg_flatten(ctx, h, 1, -1), lw, lb);
        tg_tensor *loss = tg_cross_entropy(ctx, h, y, BATCH, TG_REDUCTION_MEAN);
        if (!loss) {
            st = tg_ctx_last_status(ctx);
            goto out;
        }
        tg_optim_zero_grad(opt);
        if ((st = tg_backward(ctx, loss)) != TG_OK || (st = tg_optim_step(opt)) != TG_OK)
            goto out;
        j->losses[s] = tg_tensor_data(loss)[0];
        tg_ctx_reset(ctx);
    }
    j->n_params = 0;
    for (size_t i = 0; i < tg_module_n_params(m); i++) {
        tg_tensor *p = tg_module_param(m, i, NULL);
        size_t n = (size_t)tg_tensor_numel(p);
        if (j->n_params + n > sizeof j->params / sizeof j->params[0]) {
            st = TG_ERR_LIMIT;
            goto out;
        }
        memcpy(j->params + j->n_params, tg_tensor_data(p), n * sizeof(float));
        j->n_params += n;
    }
out:
    if (st != TG_OK)
        job_fail(j, ctx, st);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
    return st;
}

static void *thread_main(void *arg)
{
    train(arg);
    return NULL;
}

static void run_all(job *jobs, bool concurrent)
{
    pthread_t th[N_MODELS];
    for (int i = 0; i < N_MODELS; i++) {
        if (concurrent)
            ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
        else
            train(&jobs[i]);
    }
    if (concurrent)
        for (int i = 0; i < N_MODELS; i++)
            ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < N_MODELS; i++)
        ck_assert_msg(jobs[i].status == TG_OK, "model %d: %s", i, jobs[i].err);
}

static void check_same(int n_threads)
{
    static job seq[N_MODELS], par[N_MODELS];
    memset(seq, 0, sizeof seq);
    memset(par, 0, sizeof par);
    for (int i = 0; i < N_MODELS; i++) {
        seq[i].seed = par[i].seed = 100 + (uint64_t)i;
        seq[i].n_threads = par[i].n_threads = n_threads;
    }
    run_all(seq, false);
    run_all(par, true);
    for (int i = 0; i < N_MODELS; i++) {
        ck_assert_uint_eq(seq[i].n_params, par[i].n_params);
        ck_assert_uint_gt(seq[i].n_params, 0);
        ck_assert_msg(memcmp(seq[i].losses, par[i].losses, sizeof seq[i].losses) == 0,
                      "model %d: losses differ", i);
        ck_assert_msg(memcmp(seq[i].params, par[i].params, seq[i].n_params * sizeof(float)) == 0,
                      "model %d: parameters differ", i);
        /* it trained: the loss moved and is finite */
        ck_assert(isfinite(seq[i].losses[STEPS - 1]));
        ck_assert(seq[i].losses[0] != seq[i].losses[STEPS - 1]);
    }
    /* different seeds: different models (the comparison is not vacuous) */
    ck_assert(memcmp(seq[0].params, seq[1].params, seq[0].n_params * sizeof(float)) != 0);
}

START_TEST(four_contexts_one_thread_each) { check_same(1); }
END_TEST

START_TEST(four_contexts_with_worker_pools) { check_same(2); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("contexts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, four_contexts_one_thread_each);
    tcase_add_test(tc, four_contexts_with_worker_pools);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
