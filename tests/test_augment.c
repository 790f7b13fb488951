/* SPDX-License-Identifier: MIT */
/* The batch iterator beyond 0.1.0: tg_batch for class and vector targets,
 * random crop with zero padding and horizontal flip (seeded, deterministic
 * per (seed, epoch, sample), never when off), DistributedSampler-style
 * shards, and no allocation per batch with augmentation on. */
#include "tg_test.h"

enum { N = 24, C = 3, H = 4, W = 5 };

/* Pixel (c, y, x) of image i: unique per image and position. */
static uint8_t px(size_t i, int c, int y, int x) { return (uint8_t)(i * 7 + c * 60 + y * 10 + x + 1); }

static tg_dataset *make(tg_ctx *ctx)
{
    static uint8_t img[N * C * H * W];
    int32_t lab[N];
    for (size_t i = 0; i < N; i++) {
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    img[((i * C + (size_t)c) * H + (size_t)y) * W + (size_t)x] = px(i, c, y, x);
        lab[i] = (int32_t)(i % 4);
    }
    tg_dataset_desc d;
    tg_dataset_desc_init(&d);
    d.n = N;
    d.sample_shape[0] = C;
    d.sample_shape[1] = H;
    d.sample_shape[2] = W;
    d.samples = img;
    d.labels = lab;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create_from(ctx, &d, &ds), TG_OK);
    /* Raw values: v = p. */
    float one = 1.0f, zero = 0.0f;
    ck_assert_int_eq(tg_dataset_set_channel_normalization(ds, false, &zero, &one, 1), TG_OK);
    return ds;
}

/* Which image a batch sample came from (pixel values are unique mod 256
 * for some unpadded position); returns the crop offset and flip found by
 * matching against every candidate. */
typedef struct found {
    size_t image;
    int dy, dx;
    bool flip;
} found;

static bool matches(const float *s, size_t i, int dy, int dx, bool flip)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
                float want = sy >= 0 && sy < H && sx >= 0 && sx < W ? (float)px(i, c, sy, sx) : 0.0f;
                if (s[(c * H + y) * W + x] != want)
                    return false;
            }
    return true;
}

static found identify(const float *s, int pad)
{
    for (size_t i = 0; i < N; i++)
        for (int dy = -pad; dy <= pad; dy++)
            for (int dx = -pad; dx <= pad; dx++)
                for (int f = 0; f < 2; f++)
                    if (matches(s, i, dy, dx, f))
                        return (found){i, dy, dx, f != 0};
    ck_abort_msg("batch sample matches no crop/flip of any image");
    return (found){0, 0, 0, false};
}

static void epoch_records(tg_batch_iter *it, int pad, found *rec, int32_t *labels, size_t *n)
{
    tg_batch b;
    *n = 0;
    while (tg_batch_iter_next_batch(it, &b)) {
        tgt_assert_shape(b.x, 4, (int64_t[]){(int64_t)b.n, C, H, W});
        ck_assert_ptr_null(b.targets);
        for (size_t k = 0; k < b.n; k++) {
            rec[*n] = identify(tg_tensor_data(b.x) + k * C * H * W, pad);
            labels[*n] = b.labels[k];
            (*n)++;
        }
    }
    ck_assert_int_eq(tg_batch_iter_status(it), TG_OK);
}

START_TEST(crop_and_flip)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx);
    tg_batch_options o;
    tg_batch_options_init(&o);
    ck_assert_int_eq(o.crop_padding, 0);
    ck_assert(!o.hflip);
    ck_assert_uint_eq(o.shard_count, 1);
    o.batch_size = 5;
    o.seed = 9;
    o.crop_padding = 2;
    o.hflip = true;
    tg_batch_iter *it = NULL, *it2 = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it), TG_OK);
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it2), TG_OK);
    found a[N], b[N];
    int32_t la[N], lb[N];
    size_t na, nb;
    epoch_records(it, 2, a, la, &na);
    ck_assert_uint_eq(na, N);
    int flips = 0, shifted = 0;
    bool seen[N] = {false};
    for (size_t k = 0; k < na; k++) {
        ck_assert_int_eq(la[k], (int32_t)(a[k].image % 4));
        ck_assert(!seen[a[k].image]);
        seen[a[k].image] = true;
        flips += a[k].flip;
        shifted += a[k].dy != 0 || a[k].dx != 0;
    }
    ck_assert(flips > 3 && flips < N - 3);
    ck_assert(shifted > N / 2);
    /* Another epoch draws other crops; the same epoch again the same ones,
     * and a second iterator with another batch size agrees per sample. */
    found e1[N];
    epoch_records(it, 2, e1, la, &na);
    int same = 0;
    for (size_t k = 0; k < N; k++)
        for (size_t j = 0; j < N; j++)
            if (e1[k].image == a[j].image)
                same += e1[k].dx == a[j].dx && e1[k].dy == a[j].dy && e1[k].flip == a[j].flip;
    ck_assert(same < N / 2);
    tg_batch_iter_destroy(it2);
    o.batch_size = 7;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it2), TG_OK);
    epoch_records(it2, 2, b, lb, &nb);
    for (size_t k = 0; k < N; k++) {
        ck_assert_uint_eq(a[k].image, b[k].image);
        ck_assert(a[k].dx == b[k].dx && a[k].dy == b[k].dy && a[k].flip == b[k].flip);
    }
    tg_batch_iter_set_epoch(it2, 0);
    epoch_records(it2, 2, b, lb, &nb);
    ck_assert(a[5].dx == b[5].dx && a[5].flip == b[5].flip);
    tg_batch_iter_destroy(it2);
    /* Off: batches are the plain images (evaluation never augments). */
    o.crop_padding = 0;
    o.hflip = false;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it2), TG_OK);
    epoch_records(it2, 0, b, lb, &nb);
    for (size_t k = 0; k < N; k++)
        ck_assert(b[k].dx == 0 && b[k].dy == 0 && !b[k].flip);
    tg_batch_iter_destroy(it2);
    /* Augmentation needs images; bad values are refused. */
    o.crop_padding = -1;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it2), TG_ERR_INVALID_ARG);
    tg_batch_iter_destroy(it);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(padding_uses_normalised_zero)
{
    /* With normalisation, padded pixels are what a raw 0 becomes. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx);
    float mean[3] = {0.5f, 0.25f, 0.0f}, std[3] = {2.0f, 0.5f, 1.0f};
    ck_assert_int_eq(tg_dataset_set_channel_normalization(ds, true, mean, std, 3), TG_OK);
    tg_batch_options o;
    tg_batch_options_init(&o);
    o.batch_size = N;
    o.crop_padding = 3;
    o.shuffle = false;
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it), TG_OK);
    tg_batch b;
    ck_assert(tg_batch_iter_next_batch(it, &b));
    int padded = 0;
    for (size_t k = 0; k < N; k++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < H * W; j++) {
                float v = tg_tensor_data(b.x)[(k * C + (size_t)c) * H * W + (size_t)j];
                if (v == (0.0f - mean[c]) / std[c])
                    padded++;
            }
    ck_assert_int_gt(padded, 0);
    tg_batch_iter_destroy(it);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(shards_partition_each_epoch)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx), *odd = NULL;
    ck_assert_int_eq(tg_dataset_subset(ds, 0, 23, &odd), TG_OK); /* 23 = 3 * 7 + 2 */
    for (int epoch = 0; epoch < 2; epoch++) {
        bool seen[N] = {false};
        size_t total = 0;
        for (size_t r = 0; r < 3; r++) {
            tg_batch_options o;
            tg_batch_options_init(&o);
            o.batch_size = 4;
            o.seed = 3;
            o.shard_rank = r;
            o.shard_count = 3;
            tg_batch_iter *it = NULL;
            ck_assert_int_eq(tg_batch_iter_create(odd, &o, &it), TG_OK);
            tg_batch_iter_set_epoch(it, epoch);
            ck_assert_uint_eq(tg_batch_iter_n_samples(it), 7);
            ck_assert_uint_eq(tg_batch_iter_n_batches(it), 2);
            found rec[N];
            int32_t lab[N];
            size_t n;
            epoch_records(it, 0, rec, lab, &n);
            ck_assert_uint_eq(n, 7);
            for (size_t k = 0; k < n; k++) {
                ck_assert(!seen[rec[k].image]); /* disjoint shards */
                seen[rec[k].image] = true;
            }
            total += n;
            tg_batch_iter_destroy(it);
        }
        ck_assert_uint_eq(total, 21); /* the tail of 2 is dropped */
    }
    tg_batch_options o;
    tg_batch_options_init(&o);
    o.shard_count = 2;
    o.shard_rank = 2;
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "shard_rank 2"));
    o.shard_count = 0;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it), TG_ERR_INVALID_ARG);
    tg_dataset_destroy(odd);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(augmented_batches_allocate_nothing)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = make(ctx);
    tg_batch_options o;
    tg_batch_options_init(&o);
    o.batch_size = 4;
    o.crop_padding = 1;
    o.hflip = true;
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(ds, &o, &it), TG_OK);
    tg_batch b;
    ck_assert(tg_batch_iter_next_batch(it, &b));
    tg_ctx_reset(ctx);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    for (int k = 0; k < 20; k++) {
        if (!tg_batch_iter_next_batch(it, &b))
            ck_assert_int_eq(tg_batch_iter_status(it), TG_OK);
        tg_ctx_reset(ctx);
    }
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(after.n_allocs, before.n_allocs);
    tg_batch_iter_destroy(it);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("augment");
    tcase_add_test(tc, crop_and_flip);
    tcase_add_test(tc, padding_uses_normalised_zero);
    tcase_add_test(tc, shards_partition_each_epoch);
    tcase_add_test(tc, augmented_batches_allocate_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
