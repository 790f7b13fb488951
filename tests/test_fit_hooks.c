/* SPDX-License-Identifier: MIT */
/* The generic distributed hooks of tg_fit() (after_backward,
 * reduce_metrics, is_main) and tg_ctx_set_error(), without MPI: the MPI
 * back end (libtinygrad-mpi) is tested under mpirun in tests/mpi. */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int ok_calls, err_calls, fail_at;
    tg_status last_err;
    int reduce_calls;
    double factor;
} hooks;

static tg_status after_backward(void *user, tg_module *m, tg_optim *opt, tg_status s)
{
    hooks *h = user;
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(opt);
    if (s != TG_OK) {
        h->err_calls++;
        h->last_err = s;
        return s;
    }
    h->ok_calls++;
    if (h->fail_at && h->ok_calls == h->fail_at)
        return tg_ctx_set_error(tg_module_ctx(m), TG_ERR_STATE, "hook: rank %d failed", 1);
    return TG_OK;
}

static tg_status reduce_metrics(void *user, tg_module *m, double *sums, size_t n)
{
    hooks *h = user;
    ck_assert_uint_eq(n, 5);
    ck_assert_ptr_nonnull(m);
    h->reduce_calls++;
    for (size_t i = 0; i < n; i++) /* as if `factor` identical ranks */
        sums[i] *= h->factor;
    return TG_OK;
}

static tg_dataset *data(tg_ctx *ctx, size_t n)
{
    uint8_t *img = calloc(n * 16, 1);
    int32_t *lab = calloc(n, sizeof *lab);
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % 2);
        for (size_t j = 0; j < 16; j++)
            img[i * 16 + j] = (uint8_t)((j % 2) == (size_t)lab[i] ? 200 : 20);
    }
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, n, 4, 4, img, lab, 2, &ds), TG_OK);
    free(img);
    free(lab);
    return ds;
}

static tg_module *mlp(tg_ctx *ctx)
{
    tg_module *seq, *l;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_flatten_create(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, 16, 2, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    return seq;
}

START_TEST(hooks_called_every_step)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = data(ctx, 40);
    tg_module *m = mlp(ctx);
    tg_optim *opt;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &opt), TG_OK);
    hooks h = {0, 0, 0, TG_OK, 0, 2.0};
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    ck_assert(fo.is_main);
    ck_assert(fo.after_backward == NULL && fo.reduce_metrics == NULL);
    fo.epochs = 3;
    fo.batch_size = 8;
    fo.after_backward = after_backward;
    fo.reduce_metrics = reduce_metrics;
    fo.hook_user = &h;
    tg_fit_result r = {sizeof r, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(tg_fit(m, opt, ds, NULL, &fo, &r), TG_OK);
    ck_assert_int_eq(h.ok_calls, 3 * 5);
    ck_assert_int_eq(h.err_calls, 0);
    ck_assert_int_eq(h.reduce_calls, 3);
    /* the reduced counts are what tg_fit reports (two "ranks") */
    ck_assert_uint_eq(r.samples, 2 * 3 * 40);
    /* fit drops intermediate gradients for its steps, then restores the
     * setting: on (the default) before, so on after */
    ck_assert(tg_ctx_set_retain_grads(ctx, false));
    ck_assert_int_eq(tg_fit(m, opt, ds, NULL, &fo, &r), TG_OK);
    ck_assert(!tg_ctx_set_retain_grads(ctx, true));
    tg_optim_destroy(opt);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(hook_failure_ends_fit)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = data(ctx, 40);
    tg_module *m = mlp(ctx);
    tg_optim *opt;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &opt), TG_OK);
    hooks h = {0, 0, 3, TG_OK, 0, 1.0};
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 2;
    fo.batch_size = 8;
    fo.after_backward = after_backward;
    fo.hook_user = &h;
    ck_assert_int_eq(tg_optim_step_count(opt), 0);
    ck_assert_int_eq(tg_fit(m, opt, ds, NULL, &fo, NULL), TG_ERR_STATE);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "hook: rank 1 failed");
    ck_assert_int_eq(h.ok_calls, 3);
    ck_assert_int_eq(tg_optim_step_count(opt), 2); /* no step after the failing hook */
    ck_assert_int_eq(h.err_calls, 1);              /* told once, with the error */
    ck_assert_int_eq(h.last_err, TG_ERR_STATE);
    ck_assert(tg_ctx_set_retain_grads(ctx, true)); /* restored on failure too */
    tg_optim_destroy(opt);
    tg_ctx_destroy(ctx);
}
END_TEST

static tg_tensor *nan_loss(void *user, tg_ctx *ctx, tg_tensor *y, const int32_t *labels, size_t n)
{
    int *calls = user;
    tg_tensor *l = tg_cross_entropy(ctx, y, labels, n, TG_REDUCTION_MEAN);
    return ++*calls == 2 ? tg_mul_scalar(ctx, l, NAN) : l;
}

START_TEST(local_failure_reported_to_hook)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = data(ctx, 40);
    tg_module *m = mlp(ctx);
    tg_optim *opt;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &opt), TG_OK);
    hooks h = {0, 0, 0, TG_OK, 0, 1.0};
    int calls = 0;
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 1;
    fo.batch_size = 8;
    fo.loss = nan_loss;
    fo.loss_user = &calls;
    fo.after_backward = after_backward;
    fo.hook_user = &h;
    ck_assert_int_eq(tg_fit(m, opt, ds, NULL, &fo, NULL), TG_ERR_NUMERIC);
    ck_assert_int_eq(h.ok_calls, 1);
    ck_assert_int_eq(h.err_calls, 1);
    ck_assert_int_eq(h.last_err, TG_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "loss is nan"));
    tg_optim_destroy(opt);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(not_main_writes_no_checkpoints)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = data(ctx, 16);
    tg_module *m = mlp(ctx);
    tg_optim *opt;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &opt), TG_OK);
    char dir[] = "/tmp/tg-fit-hooks-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 1;
    fo.save_dir = dir;
    fo.is_main = false;
    ck_assert_int_eq(tg_fit(m, opt, ds, NULL, &fo, NULL), TG_OK);
    struct stat st;
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    ck_assert_int_ne(stat(path, &st), 0);
    fo.is_main = true;
    ck_assert_int_eq(tg_fit(m, opt, ds, NULL, &fo, NULL), TG_OK);
    ck_assert_int_eq(stat(path, &st), 0);
    const char *names[] = {"last.safetensors", "checkpoint.safetensors", "best.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    tg_optim_destroy(opt);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(ctx_set_error)
{
    tg_ctx *ctx = tgt_ctx(1);
    ck_assert_int_eq(tg_ctx_set_error(ctx, TG_ERR_IO, "x %d: %s", 7, "why"), TG_ERR_IO);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_IO);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "x 7: why");
    ck_assert_int_eq(tg_ctx_set_error(NULL, TG_ERR_STATE, "ignored"), TG_ERR_STATE);
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(tg_ctx_set_error(ctx, TG_ERR_LIMIT, "%s", big), TG_ERR_LIMIT);
    ck_assert_uint_lt(strlen(tg_ctx_last_error(ctx)), sizeof big - 1); /* truncated */
    tg_ctx_clear_error(ctx);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fit_hooks");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hooks_called_every_step);
    tcase_add_test(tc, hook_failure_ends_fit);
    tcase_add_test(tc, local_failure_reported_to_hook);
    tcase_add_test(tc, not_main_writes_no_checkpoints);
    tcase_add_test(tc, ctx_set_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
