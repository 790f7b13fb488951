/* SPDX-License-Identifier: MIT */
/* tg_fit / tg_evaluate on data sets beyond MNIST: colour images whose class
 * is one of 5 luminance levels x 2 opposite hues (scripts/gen_color_data.py),
 * learned from RGB PNG trees and from CIFAR-format files, capped near 50%
 * after a grey conversion (the level survives, the hue does not); regression with MSE and RMSE/MAE; a callback data set; the
 * busy rule for data sets with live iterators. */
#include "color_data.h"
#include "tg_test.h"

static char data_dir[512];

static void gen_setup(void)
{
    /* Once per process (unchecked fixture), shared by every test. */
    snprintf(data_dir, sizeof data_dir, "%s", tgc_generate(500, 200));
}

static void gen_teardown(void) { tgd_rmtree(); }

static const char *sub(const char *rel)
{
    static char buf[2][600];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", data_dir, rel);
    return buf[k];
}

/* Conv2d(C->8, 3x3, pad 1)-ReLU-MaxPool(4)-Flatten-Linear(8*8*8 -> 10),
 * written with the 0.1.0 constructors. */
static tg_module *small_net(tg_ctx *ctx, int64_t c)
{
    tg_module *seq = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
#define ADD(call)                                                                              \
    do {                                                                                       \
        ck_assert_int_eq((call), TG_OK);                                                       \
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);                                 \
    } while (0)
    ADD(tg_conv2d_create(ctx, c, 8, 3, 1, 1, 1, 1, true, &l));
    ADD(tg_relu_create(ctx, &l));
    ADD(tg_maxpool2d_create(ctx, 4, 0, 0, &l));
    ADD(tg_flatten_create(ctx, &l));
    ADD(tg_linear_create(ctx, 8 * 8 * 8, 10, true, &l));
#undef ADD
    return seq;
}

/* Train on train, return the test accuracy; channel statistics of the
 * training split normalise both. */
static double train_and_test(tg_ctx *ctx, tg_dataset *train, tg_dataset *test, int epochs)
{
    int64_t c = tg_dataset_channels(train);
    double mean[4], std[4];
    float fm[4], fs[4];
    ck_assert_int_eq(tg_dataset_channel_stats(train, mean, std, (int)c), TG_OK);
    for (int k = 0; k < c; k++) {
        fm[k] = (float)mean[k];
        fs[k] = (float)(std[k] > 0 ? std[k] : 1.0);
    }
    ck_assert_int_eq(tg_dataset_set_channel_normalization(train, true, fm, fs, (int)c), TG_OK);
    ck_assert_int_eq(tg_dataset_set_channel_normalization(test, true, fm, fs, (int)c), TG_OK);
    tg_module *m = small_net(ctx, c);
    tg_adam_options ao;
    tg_adam_options_init(&ao);
    ao.lr = 0.01f;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_adam_create(ctx, m, &ao, &opt), TG_OK);
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = epochs;
    fo.batch_size = 32;
    fo.seed = 5;
    fo.hflip = true;       /* colour survives flips and crops */
    fo.crop_padding = 2;
    tg_fit_result fr = {.struct_size = sizeof fr};
    ck_assert_int_eq(tg_fit(m, opt, train, test, &fo, &fr), TG_OK);
    ck_assert_int_eq(fr.stop, TG_FIT_COMPLETED);
    int64_t conf[100];
    tg_eval_options eo;
    tg_eval_options_init(&eo);
    eo.confusion = conf;
    eo.n_classes = 10;
    tg_eval_result er = {.struct_size = sizeof er};
    ck_assert_int_eq(tg_evaluate(m, test, &eo, &er), TG_OK);
    int64_t diag = 0, all = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) {
            all += conf[i * 10 + j];
            diag += i == j ? conf[i * 10 + j] : 0;
        }
    ck_assert_int_eq(all, (int64_t)er.n);
    ck_assert_int_eq(diag, (int64_t)er.n_correct);
    ck_assert(isnan(er.rmse) && isnan(er.mae));
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    return er.accuracy;
}

START_TEST(colour_from_png_tree)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *tr = NULL, *te = NULL;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, sub("train"), NULL, &tr), TG_OK);
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, sub("test"), NULL, &te), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(tr), 3);
    double acc = train_and_test(ctx, tr, te, 6);
    printf("colour PNG tree: test accuracy %.4f\n", acc);
    ck_assert_msg(acc >= 0.95, "accuracy %.4f < 0.95", acc);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(colour_from_cifar_files)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *tr = NULL, *te = NULL;
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, data_dir, true, 10, &tr), TG_OK);
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, data_dir, false, 10, &te), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(tr), 500);
    ck_assert_uint_eq(tg_dataset_n(te), 200);
    double acc = train_and_test(ctx, tr, te, 6);
    printf("colour CIFAR files: test accuracy %.4f\n", acc);
    ck_assert_msg(acc >= 0.95, "accuracy %.4f < 0.95", acc);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(grey_conversion_caps_accuracy)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_png_options po;
    tg_png_options_init(&po);
    po.channels = 1;
    tg_dataset *tr = NULL, *te = NULL;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, sub("train"), &po, &tr), TG_OK);
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, sub("test"), &po, &te), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(tr), 1);
    double acc = train_and_test(ctx, tr, te, 6);
    printf("grey PNG tree: test accuracy %.4f\n", acc);
    /* Grey tells the luminance level (5 pairs of classes) but not the hue
     * within a pair: about 50%, far above chance (10%), far below colour. */
    ck_assert_msg(acc >= 0.35 && acc <= 0.60, "grey accuracy %.4f outside [0.35, 0.60]", acc);
    tg_ctx_destroy(ctx);
}
END_TEST

/* y = x . w + b (+ small noise), 4 features, 1 target. */
static tg_dataset *linear_problem(tg_ctx *ctx, size_t n, uint64_t seed, int64_t td)
{
    float *x = malloc(n * 4 * sizeof *x), *y = malloc(n * (size_t)td * sizeof *y);
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n * 4; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((s >> 33) % 20001) / 1000.0f - 10.0f; /* [-10, 10] */
    }
    for (size_t i = 0; i < n; i++)
        for (int64_t t = 0; t < td; t++)
            y[i * (size_t)td + (size_t)t] = 1.5f * x[i * 4] - 2.0f * x[i * 4 + 1] +
                                             0.5f * x[i * 4 + 2] + (float)t * x[i * 4 + 3] + 3.0f;
    tg_dataset_desc d;
    tg_dataset_desc_init(&d);
    d.n = n;
    d.sample_ndim = 1;
    d.sample_shape[0] = 4;
    d.dtype = TG_F32;
    d.samples = x;
    d.targets = y;
    d.target_dim = td;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &ds), TG_OK);
    free(x);
    free(y);
    return ds;
}

static tg_tensor *count_mse(void *user, tg_ctx *ctx, tg_tensor *out, const tg_batch *b)
{
    (*(int *)user)++;
    ck_assert_ptr_null(b->labels);
    ck_assert_int_eq(tg_tensor_dim(b->targets, 0), (int64_t)b->n);
    return tg_mse_loss(ctx, out, b->targets, TG_REDUCTION_MEAN);
}

static tg_tensor *label_loss(void *user, tg_ctx *ctx, tg_tensor *out, const int32_t *l, size_t n)
{
    (void)user;
    return tg_cross_entropy(ctx, out, l, n, TG_REDUCTION_MEAN);
}

START_TEST(regression_with_mse)
{
    tg_ctx *ctx = tgt_ctx(3);
    tg_dataset *all = linear_problem(ctx, 600, 1, 2), *tr = NULL, *te = NULL;
    ck_assert_int_eq(tg_dataset_split(all, 0.8, 7, &tr, &te), TG_OK);
    ck_assert_int_eq(tg_dataset_target_dim(te), 2);
    /* Standardise with training-split statistics. */
    double mean[4], std[4];
    float fm[4], fs[4];
    ck_assert_int_eq(tg_dataset_feature_stats(tr, mean, std, 4), TG_OK);
    for (int k = 0; k < 4; k++) {
        ck_assert(fabs(mean[k]) < 1.5 && std[k] > 5.0 && std[k] < 6.5);
        fm[k] = (float)mean[k];
        fs[k] = (float)std[k];
    }
    ck_assert_int_eq(tg_dataset_set_channel_normalization(tr, false, fm, fs, 4), TG_OK);
    ck_assert_int_eq(tg_dataset_set_channel_normalization(te, false, fm, fs, 4), TG_OK);
    tg_module *m = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 4, 2, true, &m), TG_OK);
    /* Baseline: predicting the mean target. */
    const float *t = tg_dataset_targets(te);
    size_t n = tg_dataset_n(te);
    double mu[2] = {0, 0}, var = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            mu[k] += t[i * 2 + k] / (double)n;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            var += (t[i * 2 + k] - mu[k]) * (t[i * 2 + k] - mu[k]) / (double)(2 * n);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.05f;
    so.momentum = 0.9f;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &so, &opt), TG_OK);
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 20;
    fo.batch_size = 16;
    tg_fit_result fr = {.struct_size = sizeof fr};
    ck_assert_int_eq(tg_fit(m, opt, tr, te, &fo, &fr), TG_OK);
    tg_eval_result er = {.struct_size = sizeof er};
    ck_assert_int_eq(tg_evaluate(m, te, NULL, &er), TG_OK);
    printf("regression: test RMSE %.5f MAE %.5f (mean predictor RMSE %.3f)\n", er.rmse, er.mae,
           sqrt(var));
    ck_assert(isnan(er.accuracy));
    ck_assert(er.rmse < 0.01 * sqrt(var));
    ck_assert(er.mae <= er.rmse + 1e-9);
    ck_assert(fabs(er.loss - er.rmse * er.rmse) <= 1e-3 * er.loss + 1e-7);
    /* A batch-level loss sees every batch; a shard trains on its share. */
    int calls = 0;
    fo.epochs = 2;
    fo.batch_loss = count_mse;
    fo.loss_user = &calls;
    fo.shard_rank = 1;
    fo.shard_count = 3;
    fr = (tg_fit_result){.struct_size = sizeof fr};
    ck_assert_int_eq(tg_fit(m, opt, tr, NULL, &fo, &fr), TG_OK);
    ck_assert_uint_eq(fr.samples, 2 * (480 / 3));
    ck_assert_int_eq(calls, 2 * 10); /* 160 samples in batches of 16 */
    fo.loss = label_loss;
    ck_assert_int_eq(tg_fit(m, opt, tr, NULL, &fo, &fr), TG_ERR_INVALID_ARG);
    fo.batch_loss = NULL;
    ck_assert_int_eq(tg_fit(m, opt, tr, NULL, &fo, &fr), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "vector targets"));
    /* A label loss cannot serve vector targets; confusion needs labels. */
    tg_eval_options eo;
    tg_eval_options_init(&eo);
    int64_t conf[4];
    eo.confusion = conf;
    eo.n_classes = 2;
    ck_assert_int_eq(tg_evaluate(m, te, &eo, &er), TG_ERR_INVALID_ARG);
    /* Output width must equal target_dim. */
    tg_module *bad = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 4, 3, true, &bad), TG_OK);
    ck_assert_int_eq(tg_evaluate(bad, te, NULL, &er), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "target_dim=2"));
    tg_ctx_destroy(ctx);
}
END_TEST

/* Callback data set: two Gaussian blobs in 2-D, class = which blob. */
typedef struct blobs {
    int calls;
    int fail_at;
    int destroyed;
} blobs;

static tg_status blob_item(void *user, size_t i, float *sample, int32_t *label, float *target)
{
    blobs *b = user;
    b->calls++;
    if (b->fail_at == -2)
        return TG_ERR_IO;
    ck_assert_ptr_null(target);
    int32_t k = (int32_t)(i % 2);
    uint64_t s = i * 0x9e3779b97f4a7c15ULL + 17;
    float nx = (float)((s >> 40) % 1000) / 1000.0f - 0.5f;
    float ny = (float)((s >> 20) % 1000) / 1000.0f - 0.5f;
    sample[0] = (k ? 2.0f : -2.0f) + nx;
    sample[1] = (k ? -1.0f : 1.0f) + ny;
    *label = k;
    return TG_OK;
}

static void blob_destroy(void *user) { ((blobs *)user)->destroyed++; }

START_TEST(callback_data_set_trains)
{
    tg_ctx *ctx = tgt_ctx(4);
    blobs b = {0, -1, 0};
    tg_dataset_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.n = 200;
    cb.sample_ndim = 1;
    cb.sample_shape[0] = 2;
    cb.n_classes = 2;
    cb.get_item = blob_item;
    cb.destroy_user = blob_destroy;
    tg_dataset *ds = NULL, *tr = NULL, *te = NULL;
    ck_assert_int_eq(tg_dataset_create_callback(ctx, &cb, &b, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_dtype(ds), TG_F32);
    ck_assert_ptr_null(tg_dataset_labels(ds));
    ck_assert_int_eq(tg_dataset_split(ds, 0.75, 1, &tr, &te), TG_OK);
    tg_dataset_destroy(ds);
    ck_assert_int_eq(b.destroyed, 0); /* the splits still use the callbacks */
    tg_module *m = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 2, 2, true, &m), TG_OK);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.1f;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &so, &opt), TG_OK);
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 5;
    ck_assert_int_eq(tg_fit(m, opt, tr, NULL, &fo, NULL), TG_OK);
    tg_eval_result er = {.struct_size = sizeof er};
    ck_assert_int_eq(tg_evaluate(m, te, NULL, &er), TG_OK);
    ck_assert_uint_eq(er.n, 50);
    ck_assert_double_eq(er.accuracy, 1.0);
    ck_assert_int_ge(b.calls, 5 * 150 + 50);
    /* A failing get_item stops evaluation with its status and the index. */
    b.fail_at = -2;
    tg_eval_result untouched = {.struct_size = sizeof untouched, .n = 12345};
    ck_assert_int_eq(tg_evaluate(m, te, NULL, &untouched), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "get_item("));
    ck_assert_uint_eq(untouched.n, 12345);
    b.fail_at = -1;
    tg_dataset_destroy(tr);
    ck_assert_int_eq(b.destroyed, 0);
    tg_dataset_destroy(te);
    ck_assert_int_eq(b.destroyed, 1);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(destroy_with_live_iterator_is_refused)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = linear_problem(ctx, 10, 2, 1);
    tg_batch_iter *a = NULL, *b = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, NULL, &a), TG_OK);
    ck_assert_int_eq(tg_batch_iter_create(ds, NULL, &b), TG_OK);
    tg_dataset_destroy(ds);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_BUSY);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "2 batch iterators"));
    ck_assert_uint_eq(tg_dataset_n(ds), 10); /* still alive */
    tg_batch bt;
    ck_assert(tg_batch_iter_next_batch(a, &bt));
    ck_assert_ptr_null(bt.labels);
    ck_assert_int_eq(tg_tensor_dim(bt.targets, 1), 1);
    tg_tensor *x;
    const int32_t *lab;
    ck_assert(!tg_batch_iter_next(a, &x, &lab, NULL)); /* vector targets */
    ck_assert_int_eq(tg_batch_iter_status(a), TG_ERR_INVALID_ARG);
    tg_batch_iter_destroy(a);
    tg_dataset_destroy(ds);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "1 batch iterator "));
    tg_batch_iter_destroy(b);
    tg_dataset_destroy(ds);
    /* An iterator left alive goes first with the context. */
    tg_dataset *d2 = linear_problem(ctx, 10, 3, 1);
    ck_assert_int_eq(tg_batch_iter_create(d2, NULL, &a), TG_OK);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fit_general");
    TCase *tc = tcase_create("fit_general");
    tcase_add_unchecked_fixture(tc, gen_setup, gen_teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, colour_from_png_tree);
    tcase_add_test(tc, colour_from_cifar_files);
    tcase_add_test(tc, grey_conversion_caps_accuracy);
    tcase_add_test(tc, regression_with_mse);
    tcase_add_test(tc, callback_data_set_trains);
    tcase_add_test(tc, destroy_with_live_iterator_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
