/* SPDX-License-Identifier: MIT */
/* Data sets in memory: creation, subsets, seeded splits, normalisation and
 * the batch iterator (shuffle determinism, drop_last, no steady-state
 * allocation). Each image encodes its index in pixels 0 and 1. */
#include "tg_test.h"

enum { N = 100, H = 2, W = 3 };

static tg_dataset *make(tg_ctx *ctx, size_t n)
{
    uint8_t *img = malloc(n * H * W);
    int32_t *lab = malloc(n * sizeof *lab);
    for (size_t i = 0; i < n; i++) {
        img[i * H * W] = (uint8_t)(i & 0xff);
        img[i * H * W + 1] = (uint8_t)(i >> 8);
        for (int k = 2; k < H * W; k++)
            img[i * H * W + k] = (uint8_t)(k * 40);
        lab[i] = (int32_t)(i % 7);
    }
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, n, H, W, img, lab, 0, &ds), TG_OK);
    free(img);
    free(lab);
    return ds;
}

static size_t index_of(const uint8_t *img) { return (size_t)img[0] | (size_t)img[1] << 8; }

START_TEST(create_and_query)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx, N);
    ck_assert_uint_eq(tg_dataset_n(ds), N);
    ck_assert_int_eq(tg_dataset_height(ds), H);
    ck_assert_int_eq(tg_dataset_width(ds), W);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 7);
    ck_assert_ptr_eq(tg_dataset_ctx(ds), ctx);
    ck_assert_uint_eq(index_of(tg_dataset_image(ds, 42)), 42);
    ck_assert_int_eq(tg_dataset_label(ds, 42), 0);
    ck_assert_int_eq(tg_dataset_labels(ds)[43], 1);

    tg_dataset *bad = (tg_dataset *)0x1;
    uint8_t img[H * W] = {0};
    int32_t lab = 5;
    ck_assert_int_eq(tg_dataset_create(ctx, 1, H, W, img, &lab, 3, &bad), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "label 5"));
    lab = -1;
    ck_assert_int_eq(tg_dataset_create(ctx, 1, H, W, img, &lab, 0, &bad), TG_ERR_INVALID_ARG);
    lab = 0;
    ck_assert_int_eq(tg_dataset_create(ctx, 1, 0, W, img, &lab, 0, &bad), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_dataset_create(ctx, 1, 5000, W, img, &lab, 0, &bad), TG_ERR_LIMIT);
    ck_assert_int_eq(tg_dataset_create(ctx, 1, H, W, NULL, &lab, 0, &bad), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(bad, (tg_dataset *)0x1);
    /* An empty data set is valid. */
    tg_dataset *empty = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, 0, H, W, NULL, NULL, 10, &empty), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(empty), 0);
    ck_assert_int_eq(tg_dataset_n_classes(empty), 10);
    tg_dataset_destroy(empty);
    tg_dataset_destroy(ds);
    tg_dataset_destroy(NULL);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(subset_and_select)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx, N);
    tg_dataset *s = NULL;
    ck_assert_int_eq(tg_dataset_subset(ds, 10, 5, &s), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(s), 5);
    ck_assert_int_eq(tg_dataset_n_classes(s), 7);
    for (size_t i = 0; i < 5; i++)
        ck_assert_uint_eq(index_of(tg_dataset_image(s, i)), 10 + i);
    tg_dataset_destroy(s);
    size_t idx[3] = {99, 0, 99};
    ck_assert_int_eq(tg_dataset_select(ds, idx, 3, &s), TG_OK);
    ck_assert_uint_eq(index_of(tg_dataset_image(s, 0)), 99);
    ck_assert_uint_eq(index_of(tg_dataset_image(s, 1)), 0);
    ck_assert_int_eq(tg_dataset_label(s, 2), 99 % 7);
    tg_dataset_destroy(s);
    s = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_subset(ds, 96, 5, &s), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "100 images"));
    ck_assert_int_eq(tg_dataset_subset(ds, SIZE_MAX, 2, &s), TG_ERR_INVALID_ARG);
    idx[1] = 100;
    ck_assert_int_eq(tg_dataset_select(ds, idx, 3, &s), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(s, (tg_dataset *)0x1);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(split_is_seeded)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx, N);
    tg_dataset *tr1, *va1, *tr2, *va2, *tr3, *va3;
    ck_assert_int_eq(tg_dataset_split(ds, 0.8, 7, &tr1, &va1), TG_OK);
    ck_assert_int_eq(tg_dataset_split(ds, 0.8, 7, &tr2, &va2), TG_OK);
    ck_assert_int_eq(tg_dataset_split(ds, 0.8, 8, &tr3, &va3), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(tr1), 80);
    ck_assert_uint_eq(tg_dataset_n(va1), 20);
    /* same seed: same split; every index exactly once */
    for (size_t i = 0; i < 80; i++)
        ck_assert_int_eq(memcmp(tg_dataset_image(tr1, i), tg_dataset_image(tr2, i), H * W), 0);
    for (size_t i = 0; i < 20; i++)
        ck_assert_int_eq(memcmp(tg_dataset_image(va1, i), tg_dataset_image(va2, i), H * W), 0);
    int seen[N] = {0};
    for (size_t i = 0; i < 80; i++)
        seen[index_of(tg_dataset_image(tr1, i))]++;
    for (size_t i = 0; i < 20; i++) {
        size_t k = index_of(tg_dataset_image(va1, i));
        seen[k]++;
        ck_assert_int_eq(tg_dataset_label(va1, i), (int)(k % 7));
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    /* another seed: another split; and it is actually shuffled */
    size_t same = 0;
    for (size_t i = 0; i < 80; i++)
        same += index_of(tg_dataset_image(tr1, i)) == index_of(tg_dataset_image(tr3, i));
    ck_assert_uint_lt(same, 80);
    size_t in_order = 0;
    for (size_t i = 0; i < 80; i++)
        in_order += index_of(tg_dataset_image(tr1, i)) == i;
    ck_assert_uint_lt(in_order, 10);
    tg_dataset_destroy(tr1);
    tg_dataset_destroy(va1);
    tg_dataset_destroy(tr2);
    tg_dataset_destroy(va2);
    tg_dataset_destroy(tr3);
    tg_dataset_destroy(va3);
    /* edges and errors */
    ck_assert_int_eq(tg_dataset_split(ds, 1.0, 1, &tr1, &va1), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(tr1), N);
    ck_assert_uint_eq(tg_dataset_n(va1), 0);
    tg_dataset_destroy(tr1);
    tg_dataset_destroy(va1);
    tr1 = va1 = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_split(ds, 1.5, 1, &tr1, &va1), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_dataset_split(ds, (double)NAN, 1, &tr1, &va1), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(tr1, (tg_dataset *)0x1);
    ck_assert_ptr_eq(va1, (tg_dataset *)0x1);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Indices of one epoch, batch by batch. */
static size_t run_epoch(tg_batch_iter *it, size_t *order, size_t *sizes, size_t *n_batches)
{
    tg_tensor *x;
    const int32_t *lab;
    size_t b, k = 0, nb = 0;
    while (tg_batch_iter_next(it, &x, &lab, &b)) {
        ck_assert_int_eq(tg_tensor_ndim(x), 4);
        ck_assert_int_eq(tg_tensor_dim(x, 0), (int64_t)b);
        ck_assert_int_eq(tg_tensor_dim(x, 1), 1);
        ck_assert_int_eq(tg_tensor_dim(x, 2), H);
        ck_assert_int_eq(tg_tensor_dim(x, 3), W);
        const float *d = tg_tensor_data(x);
        for (size_t i = 0; i < b; i++) {
            /* default normalisation: p / 255 */
            size_t idx = (size_t)(d[i * H * W] * 255.0f + 0.5f) |
                         (size_t)(d[i * H * W + 1] * 255.0f + 0.5f) << 8;
            ck_assert_int_eq(lab[i], (int)(idx % 7));
            order[k++] = idx;
        }
        sizes[nb++] = b;
    }
    ck_assert_int_eq(tg_batch_iter_status(it), TG_OK);
    *n_batches = nb;
    return k;
}

START_TEST(batches_shuffle_and_drop_last)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx, N);
    tg_batch_options o;
    tg_batch_options_init(&o);
    ck_assert_uint_eq(o.batch_size, 32);
    o.batch_size = 32;
    o.seed = 5;
    tg_batch_iter *a = NULL, *b = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &a), TG_OK);
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &b), TG_OK);
    ck_assert_uint_eq(tg_batch_iter_n_batches(a), 4);
    size_t oa[N], ob[N], oa1[N], sizes[8], nb;
    ck_assert_uint_eq(run_epoch(a, oa, sizes, &nb), N);
    ck_assert_uint_eq(nb, 4);
    ck_assert_uint_eq(sizes[3], 4); /* 100 = 3*32 + 4 */
    ck_assert_uint_eq(run_epoch(b, ob, sizes, &nb), N);
    ck_assert_int_eq(memcmp(oa, ob, sizeof oa), 0); /* same seed, same order */
    int seen[N] = {0};
    size_t in_order = 0;
    for (int i = 0; i < N; i++) {
        seen[oa[i]]++;
        in_order += oa[i] == (size_t)i;
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_uint_lt(in_order, 10);
    /* the next call starts epoch 1, with another order */
    ck_assert_uint_eq(run_epoch(a, oa1, sizes, &nb), N);
    ck_assert_int_eq(tg_batch_iter_epoch(a), 1);
    ck_assert_int_ne(memcmp(oa, oa1, sizeof oa), 0);
    /* epoch order depends only on (seed, epoch): jump b straight to epoch 1 */
    tg_batch_iter_set_epoch(b, 1);
    ck_assert_uint_eq(run_epoch(b, ob, sizes, &nb), N);
    ck_assert_int_eq(memcmp(oa1, ob, sizeof oa), 0);
    tg_batch_iter_destroy(a);
    tg_batch_iter_destroy(b);

    /* drop_last, no shuffle */
    o.drop_last = true;
    o.shuffle = false;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &a), TG_OK);
    ck_assert_uint_eq(tg_batch_iter_n_batches(a), 3);
    ck_assert_uint_eq(run_epoch(a, oa, sizes, &nb), 96);
    ck_assert_uint_eq(nb, 3);
    for (int i = 0; i < 96; i++)
        ck_assert_uint_eq(oa[i], (size_t)i);
    tg_batch_iter_destroy(a);

    /* errors */
    o.batch_size = 0;
    a = (tg_batch_iter *)0x1;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &a), TG_ERR_INVALID_ARG);
    o.batch_size = 4;
    o.struct_size = 1000;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &a), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(a, (tg_batch_iter *)0x1);
    ck_assert_int_eq(tg_batch_iter_create(ds, NULL, &a), TG_OK); /* NULL = defaults */
    tg_tensor *x;
    const int32_t *lab;
    ck_assert(!tg_batch_iter_next(a, NULL, &lab, NULL));
    ck_assert_int_eq(tg_batch_iter_status(a), TG_ERR_INVALID_ARG);
    ck_assert(tg_batch_iter_next(a, &x, &lab, NULL));
    ck_assert_int_eq(tg_batch_iter_status(a), TG_OK);
    tg_batch_iter_destroy(a);
    tg_batch_iter_destroy(NULL);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(steady_batches_allocate_nothing)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx, N);
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, NULL, &it), TG_OK);
    tg_tensor *x;
    const int32_t *lab;
    ck_assert(tg_batch_iter_next(it, &x, &lab, NULL));
    tg_ctx_reset(ctx);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    for (int e = 0; e < 3; e++) {
        while (tg_batch_iter_next(it, &x, &lab, NULL))
            tg_ctx_reset(ctx);
    }
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(after.n_allocs, before.n_allocs);
    tg_batch_iter_destroy(it);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(normalisation)
{
    tg_ctx *ctx = tgt_ctx(1);
    uint8_t img[4] = {0, 51, 255, 102};
    int32_t lab[2] = {0, 1};
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, 2, 1, 2, img, lab, 2, &ds), TG_OK);
    tg_tensor *t = tg_dataset_to_tensor(ds, 0, 2);
    tgt_assert_tensor(t, ((float[]){0.0f, 0.2f, 1.0f, 0.4f}), 4, 1e-7);
    ck_assert_int_eq(tg_dataset_set_normalization(ds, true, 0.5f, 0.25f), TG_OK);
    t = tg_dataset_to_tensor(ds, 1, 1);
    tgt_assert_tensor(t, ((float[]){2.0f, -0.4f}), 2, 1e-6);
    ck_assert_int_eq(tg_dataset_set_normalization(ds, false, 100.0f, 2.0f), TG_OK);
    t = tg_dataset_to_tensor(ds, 0, 1);
    tgt_assert_tensor(t, ((float[]){-50.0f, -24.5f}), 2, 1e-6);
    /* bad std: rejected, setting unchanged */
    ck_assert_int_eq(tg_dataset_set_normalization(ds, true, 0.0f, 0.0f), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_dataset_set_normalization(ds, true, NAN, 1.0f), TG_ERR_INVALID_ARG);
    t = tg_dataset_to_tensor(ds, 0, 1);
    tgt_assert_tensor(t, ((float[]){-50.0f, -24.5f}), 2, 1e-6);
    ck_assert_ptr_null(tg_dataset_to_tensor(ds, 1, 2));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    /* statistics after the scale step */
    ck_assert_int_eq(tg_dataset_set_normalization(ds, true, 0.0f, 1.0f), TG_OK);
    double mean, std;
    ck_assert_int_eq(tg_dataset_pixel_stats(ds, &mean, &std), TG_OK);
    ck_assert_double_eq_tol(mean, 0.4, 1e-12);
    ck_assert_double_eq_tol(std, sqrt((0.16 + 0.04 + 0.36 + 0.0) / 4.0), 1e-12);
    /* batches use the setting */
    ck_assert_int_eq(tg_dataset_set_normalization(ds, true, 0.4f, 0.5f), TG_OK);
    tg_batch_options o;
    tg_batch_options_init(&o);
    o.shuffle = false;
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it), TG_OK);
    tg_tensor *x;
    const int32_t *l;
    size_t b;
    ck_assert(tg_batch_iter_next(it, &x, &l, &b));
    ck_assert_uint_eq(b, 2);
    tgt_assert_tensor(x, ((float[]){-0.8f, -0.4f, 1.2f, 0.0f}), 4, 1e-6);
    ck_assert_int_eq(l[1], 1);
    tg_batch_iter_destroy(it);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

static long live_allocs;
static void *count_alloc(void *op, size_t n) { (void)op; live_allocs++; return malloc(n); }
static void count_free(void *op, void *p) { (void)op; live_allocs--; free(p); }

START_TEST(derived_sets_outlive_their_source)
{
    /* Subsets and splits share the source's pixels; destroying the source
     * first must keep them valid (ASan/valgrind watch this test). */
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx, N), *sub = NULL, *tr = NULL, *va = NULL, *sel = NULL;
    ck_assert_int_eq(tg_dataset_subset(ds, 10, 50, &sub), TG_OK);
    tg_dataset_destroy(ds);
    ck_assert_int_eq(tg_dataset_split(sub, 0.8, 3, &tr, &va), TG_OK);
    tg_dataset_destroy(sub);
    size_t pick[2] = {1, 0};
    ck_assert_int_eq(tg_dataset_select(va, pick, 2, &sel), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(tr) + tg_dataset_n(va), 50);
    for (size_t i = 0; i < tg_dataset_n(tr); i++) {
        size_t k = index_of(tg_dataset_image(tr, i));
        ck_assert(k >= 10 && k < 60);
        ck_assert_int_eq(tg_dataset_label(tr, i), (int32_t)(k % 7));
        ck_assert_int_eq(tg_dataset_image(tr, i)[2], 80);
    }
    ck_assert_uint_eq(index_of(tg_dataset_image(sel, 0)), index_of(tg_dataset_image(va, 1)));
    tg_dataset_destroy(tr);
    tg_dataset_destroy(va);
    ck_assert_uint_eq(index_of(tg_dataset_image(sel, 1)), index_of(tg_dataset_image(sel, 1)));
    tg_dataset_destroy(sel);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(ctx_destroy_releases_data_objects)
{
    /* A data set destroyed by hand before its iterator, and others left
     * alive, all go with the context. */
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = 1;
    o.alloc = count_alloc;
    o.free = count_free;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    tg_dataset *ds = make(ctx, N), *kept = make(ctx, 10);
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(kept, NULL, &it), TG_OK);
    tg_batch_iter *orphan = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, NULL, &orphan), TG_OK);
    tg_dataset_destroy(ds);
    tg_config *cfg = NULL;
    ck_assert_int_eq(tg_config_load_string(ctx, "a = 1\n", NULL, &cfg), TG_OK);
    ck_assert_int_gt(live_allocs, 0);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(live_allocs, 0);
}
END_TEST


START_TEST(general_samples_and_targets)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* Float feature vectors [F] with vector targets. */
    enum { n = 6, F = 3, D = 2 };
    float x[n * F], y[n * D];
    for (int i = 0; i < n * F; i++)
        x[i] = (float)i * 0.5f - 2.0f;
    for (int i = 0; i < n * D; i++)
        y[i] = (float)i;
    tg_dataset_desc d;
    tg_dataset_desc_init(&d);
    ck_assert_int_eq(d.sample_ndim, 3);
    ck_assert_int_eq(d.dtype, TG_U8);
    d.n = n;
    d.sample_ndim = 1;
    d.sample_shape[0] = F;
    d.dtype = TG_F32;
    d.samples = x;
    d.targets = y;
    d.target_dim = D;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_sample_ndim(ds), 1);
    ck_assert_int_eq(tg_dataset_sample_shape(ds)[0], F);
    ck_assert_int_eq(tg_dataset_dtype(ds), TG_F32);
    ck_assert_int_eq(tg_dataset_channels(ds), 0);
    ck_assert_int_eq(tg_dataset_target_dim(ds), D);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 0);
    ck_assert_ptr_null(tg_dataset_labels(ds));
    ck_assert_ptr_null(tg_dataset_image(ds, 0));
    ck_assert_int_eq(tg_dataset_label(ds, 0), -1);
    ck_assert_float_eq(tg_dataset_features(ds, 2)[1], x[7]);
    ck_assert_float_eq(tg_dataset_targets(ds)[5], 5.0f);
    tg_tensor *t = tg_dataset_to_tensor(ds, 1, 2);
    tgt_assert_shape(t, 2, (int64_t[]){2, F});
    tgt_assert_close(tg_tensor_data(t), x + F, 2 * F, 0, 0); /* float data: no scaling by default */
    /* Feature statistics and per-feature standardisation. */
    double mean[F], std[F];
    ck_assert_int_eq(tg_dataset_feature_stats(ds, mean, std, F), TG_OK);
    for (int f = 0; f < F; f++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++)
            m += x[i * F + f] / (double)n;
        for (int i = 0; i < n; i++)
            v += (x[i * F + f] - m) * (x[i * F + f] - m) / (double)n;
        ck_assert_double_eq_tol(mean[f], m, 1e-9);
        ck_assert_double_eq_tol(std[f], sqrt(v), 1e-9);
    }
    ck_assert_int_eq(tg_dataset_channel_stats(ds, mean, std, F), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_dataset_feature_stats(ds, mean, std, 2), TG_ERR_INVALID_ARG);
    float fm[F] = {(float)mean[0], (float)mean[1], (float)mean[2]};
    float fs[F] = {(float)std[0], (float)std[1], (float)std[2]};
    ck_assert_int_eq(tg_dataset_set_channel_normalization(ds, false, fm, fs, F), TG_OK);
    ck_assert_int_eq(tg_dataset_set_channel_normalization(ds, false, fm, fs, 2), TG_ERR_INVALID_ARG);
    t = tg_dataset_to_tensor(ds, 0, n);
    for (int f = 0; f < F; f++) {
        double m = 0;
        for (int i = 0; i < n; i++)
            m += tg_tensor_data(t)[i * F + f];
        ck_assert_double_eq_tol(m, 0.0, 1e-5);
    }
    /* Subsets and splits carry targets and normalisation; batches give a
     * targets tensor. */
    tg_dataset *tr = NULL, *va = NULL;
    ck_assert_int_eq(tg_dataset_split(ds, 0.5, 4, &tr, &va), TG_OK);
    ck_assert_int_eq(tg_dataset_target_dim(va), D);
    tg_batch_options bo;
    tg_batch_options_init(&bo);
    bo.batch_size = 2;
    bo.shuffle = false;
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(va, &bo, &it), TG_OK);
    tg_batch b;
    ck_assert(tg_batch_iter_next_batch(it, &b));
    tgt_assert_shape(b.targets, 2, (int64_t[]){2, D});
    ck_assert_ptr_null(b.labels);
    const float *vt = tg_dataset_targets(va);
    tgt_assert_close(tg_tensor_data(b.targets), vt, 2 * D, 0, 0);
    /* Sample k of va is row k of its to_tensor. */
    tg_tensor *vx = tg_dataset_to_tensor(va, 0, 2);
    tgt_assert_close(tg_tensor_data(b.x), tg_tensor_data(vx), 2 * F, 0, 0);
    tg_batch_iter_destroy(it);
    tg_dataset_destroy(tr);
    tg_dataset_destroy(va);
    tg_dataset_destroy(ds);

    /* uint8 images with vector targets (e.g. keypoints). */
    uint8_t pix[2 * 2 * 2 * 2];
    for (int i = 0; i < 16; i++)
        pix[i] = (uint8_t)(i * 16);
    tg_dataset_desc di;
    tg_dataset_desc_init(&di);
    di.n = 2;
    di.sample_shape[0] = 2;
    di.sample_shape[1] = di.sample_shape[2] = 2;
    di.samples = pix;
    di.targets = y;
    di.target_dim = 3;
    tg_dataset *img = NULL;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &di, &img), TG_OK);
    ck_assert_int_eq(tg_batch_iter_create(img, &bo, &it), TG_OK);
    ck_assert(tg_batch_iter_next_batch(it, &b));
    tgt_assert_shape(b.x, 4, (int64_t[]){2, 2, 2, 2});
    tgt_assert_close(tg_tensor_data(b.targets), y, 6, 0, 0);
    ck_assert_float_eq_tol(tg_tensor_data(b.x)[15], 240.0f / 255.0f, 1e-6f);
    tg_batch_iter_destroy(it);
    tg_dataset_destroy(img);

    /* Invalid descriptions; *out untouched. */
    tg_dataset *keep = (tg_dataset *)0x1;
    d.labels = (const int32_t[]){0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_INVALID_ARG); /* both kinds */
    d.labels = NULL;
    x[4] = NAN;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "sample 1 element 1"));
    x[4] = 0.0f;
    d.sample_ndim = 2;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_INVALID_ARG);
    d.sample_ndim = 3;
    d.sample_shape[0] = 5;
    d.sample_shape[1] = d.sample_shape[2] = 1;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "5 channels"));
    d.sample_ndim = 1;
    d.sample_shape[0] = TG_DATASET_MAX_FEATURES + 1;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_LIMIT);
    d.sample_shape[0] = F;
    d.dtype = TG_I32;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_INVALID_ARG);
    d.dtype = TG_F32;
    d.struct_size = 0;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &keep), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(keep, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(channels_names_and_stats)
{
    tg_ctx *ctx = tgt_ctx(1);
    /* 4 RGB images 2 x 2: channel c of image i is (c + 1) * 10 + i. */
    uint8_t img[4 * 3 * 4];
    int32_t lab[4] = {0, 1, 2, 1};
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 4; k++)
                img[(i * 3 + c) * 4 + k] = (uint8_t)((c + 1) * 10 + i);
    tg_dataset_desc d;
    tg_dataset_desc_init(&d);
    d.n = 4;
    d.sample_shape[0] = 3;
    d.sample_shape[1] = d.sample_shape[2] = 2;
    d.samples = img;
    d.labels = lab;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 3);
    ck_assert_int_eq(tg_dataset_channels(ds), 3);
    double mean[3], std[3];
    ck_assert_int_eq(tg_dataset_channel_stats(ds, mean, std, 3), TG_OK);
    for (int c = 0; c < 3; c++) {
        ck_assert_double_eq_tol(mean[c], ((c + 1) * 10 + 1.5) / 255.0, 1e-12);
        ck_assert_double_eq_tol(std[c], sqrt(1.25) / 255.0, 1e-12);
    }
    ck_assert_int_eq(tg_dataset_channel_stats(ds, mean, std, 1), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_dataset_feature_stats(ds, mean, std, 3), TG_ERR_INVALID_ARG);
    float m[3] = {0.1f, 0.2f, 0.3f}, s[3] = {0.5f, 0.25f, 2.0f};
    ck_assert_int_eq(tg_dataset_set_channel_normalization(ds, true, m, s, 3), TG_OK);
    tg_tensor *t = tg_dataset_to_tensor(ds, 2, 1);
    tgt_assert_shape(t, 4, (int64_t[]){1, 3, 2, 2});
    for (int c = 0; c < 3; c++)
        ck_assert_float_eq_tol(tg_tensor_data(t)[c * 4 + 3],
                               (((float)((c + 1) * 10 + 2)) / 255.0f - m[c]) / s[c], 1e-6f);
    s[1] = 0.0f;
    ck_assert_int_eq(tg_dataset_set_channel_normalization(ds, true, m, s, 3), TG_ERR_INVALID_ARG);
    /* The scalar call sets every channel. */
    ck_assert_int_eq(tg_dataset_set_normalization(ds, false, 1.0f, 2.0f), TG_OK);
    t = tg_dataset_to_tensor(ds, 0, 1);
    ck_assert_float_eq(tg_tensor_data(t)[8], (30.0f - 1.0f) / 2.0f);
    /* Class names: copied, kept by subsets and splits, replaced later. */
    const char *names[3] = {"cat", "dog", "emu"};
    ck_assert_int_eq(tg_dataset_set_class_names(ds, names, 2), TG_ERR_INVALID_ARG);
    ck_assert_ptr_null(tg_dataset_class_name(ds, 0));
    char buf[8] = "dog";
    names[1] = buf;
    ck_assert_int_eq(tg_dataset_set_class_names(ds, names, 3), TG_OK);
    buf[0] = 'x';
    tg_dataset *sub = NULL, *a = NULL, *b = NULL;
    ck_assert_int_eq(tg_dataset_subset(ds, 1, 2, &sub), TG_OK);
    ck_assert_int_eq(tg_dataset_split(ds, 0.5, 1, &a, &b), TG_OK);
    tg_dataset_destroy(ds);
    ck_assert_str_eq(tg_dataset_class_name(sub, 1), "dog");
    ck_assert_str_eq(tg_dataset_class_name(b, 2), "emu");
    ck_assert_ptr_null(tg_dataset_class_name(a, 3));
    ck_assert_ptr_null(tg_dataset_class_name(a, -1));
    const char *other[3] = {"a", "b", "c"};
    ck_assert_int_eq(tg_dataset_set_class_names(a, other, 3), TG_OK);
    ck_assert_str_eq(tg_dataset_class_name(a, 0), "a");
    ck_assert_str_eq(tg_dataset_class_name(b, 0), "cat");
    /* Normalisation is per data set. */
    t = tg_dataset_to_tensor(sub, 0, 1);
    ck_assert_float_eq(tg_tensor_data(t)[8], (31.0f - 1.0f) / 2.0f);
    ck_assert_int_eq(tg_dataset_pixel_stats(sub, mean, std), TG_OK);
    tg_dataset_destroy(sub);
    tg_dataset_destroy(a);
    tg_dataset_destroy(b);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, create_and_query);
    tcase_add_test(tc, subset_and_select);
    tcase_add_test(tc, split_is_seeded);
    tcase_add_test(tc, batches_shuffle_and_drop_last);
    tcase_add_test(tc, steady_batches_allocate_nothing);
    tcase_add_test(tc, normalisation);
    tcase_add_test(tc, ctx_destroy_releases_data_objects);
    tcase_add_test(tc, derived_sets_outlive_their_source);
    tcase_add_test(tc, general_samples_and_targets);
    tcase_add_test(tc, channels_names_and_stats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
