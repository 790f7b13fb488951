/* SPDX-License-Identifier: MIT */
/* CIFAR-10/100 binary reader: record layout, labels, whole records only,
 * limits and error messages (file + byte offset), the directory layout,
 * and the generator's CIFAR files against its colour PNG trees. */
#include "color_data.h"
#include "tg_test.h"

enum { REC10 = 1 + 3072, REC100 = 2 + 3072 };

/* Record k of a test file: label, then planes R = k, G = 100 + k, B = pixel index. */
static void put_record(unsigned char *r, int nlab, const unsigned char *labels, int k)
{
    memcpy(r, labels, (size_t)nlab);
    unsigned char *p = r + nlab;
    for (int i = 0; i < 1024; i++) {
        p[i] = (unsigned char)k;
        p[1024 + i] = (unsigned char)(100 + k);
        p[2048 + i] = (unsigned char)(i & 0xff);
    }
}

static const char *write_cifar10(const char *name, int n, int first_label)
{
    unsigned char *buf = malloc((size_t)n * REC10);
    for (int k = 0; k < n; k++) {
        unsigned char l = (unsigned char)((first_label + k) % 10);
        put_record(buf + (size_t)k * REC10, 1, &l, k);
    }
    const char *p = tgd_path(name);
    tgd_write(p, buf, (size_t)n * REC10);
    free(buf);
    return p;
}

START_TEST(cifar10_records)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    const char *paths[2];
    static char a[512], b[512];
    snprintf(a, sizeof a, "%s", write_cifar10("a.bin", 3, 7));
    snprintf(b, sizeof b, "%s", write_cifar10("b.bin", 2, 0));
    paths[0] = a;
    paths[1] = b;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, paths, 2, NULL, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 5);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 10);
    ck_assert_int_eq(tg_dataset_sample_ndim(ds), 3);
    ck_assert_int_eq(tg_dataset_sample_shape(ds)[0], 3);
    ck_assert_int_eq(tg_dataset_height(ds), 32);
    ck_assert_int_eq(tg_dataset_width(ds), 32);
    ck_assert_int_eq(tg_dataset_dtype(ds), TG_U8);
    const int32_t want[5] = {7, 8, 9, 0, 1};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(tg_dataset_label(ds, (size_t)i), want[i]);
    const uint8_t *img = tg_dataset_image(ds, 4); /* record 1 of b.bin */
    ck_assert_int_eq(img[0], 1);
    ck_assert_int_eq(img[1024 + 5], 101);
    ck_assert_int_eq(img[2048 + 300], 300 & 0xff);
    /* Batches are [B, 3, 32, 32]. */
    tg_tensor *x = tg_dataset_to_tensor(ds, 0, 2);
    tgt_assert_shape(x, 4, (int64_t[]){2, 3, 32, 32});
    ck_assert_float_eq_tol(tg_tensor_data(x)[3072 + 1024], 101.0f / 255.0f, 1e-6f);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(cifar100_coarse_and_fine)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    unsigned char buf[2 * REC100];
    put_record(buf, 2, (const unsigned char[]){19, 99}, 0);
    put_record(buf + REC100, 2, (const unsigned char[]){3, 42}, 1);
    const char *p = tgd_path("train.bin");
    tgd_write(p, buf, sizeof buf);
    tg_cifar_options o;
    tg_cifar_options_init(&o);
    ck_assert_int_eq(o.variant, 10);
    o.variant = 100;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, &o, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 100);
    ck_assert_int_eq(tg_dataset_label(ds, 0), 99);
    ck_assert_int_eq(tg_dataset_label(ds, 1), 42);
    ck_assert_int_eq(tg_dataset_image(ds, 1)[1024], 101);
    tg_dataset_destroy(ds);
    o.coarse = true;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, &o, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 20);
    ck_assert_int_eq(tg_dataset_label(ds, 0), 19);
    ck_assert_int_eq(tg_dataset_label(ds, 1), 3);
    tg_dataset_destroy(ds);
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, tgd_dir, true, 100, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_label(ds, 1), 42);
    tg_dataset_destroy(ds);
    /* The same file read as CIFAR-10 is not whole records. */
    tg_dataset *keep = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, NULL, &keep), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "train.bin", "partial record at byte offset 6146");
    ck_assert_ptr_eq(keep, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(cifar_errors)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *keep = (tg_dataset *)0x1;
    /* Trailing partial record. */
    unsigned char *buf = calloc(2 * REC10 + 5, 1);
    put_record(buf, 1, (const unsigned char[]){1}, 0);
    put_record(buf + REC10, 1, (const unsigned char[]){2}, 1);
    const char *p = tgd_path("partial.bin");
    tgd_write(p, buf, 2 * REC10 + 5);
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, NULL, &keep), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "partial.bin", "byte offset 6146");
    /* Label out of range, named with its offset. */
    buf[REC10] = 10;
    p = tgd_path("label.bin");
    tgd_write(p, buf, 2 * REC10);
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, NULL, &keep), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "label.bin", "label 10 at byte offset 3073");
    /* Empty, missing, a directory, NULL, bad options. */
    p = tgd_path("empty.bin");
    tgd_write(p, buf, 0);
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, NULL, &keep), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "empty.bin", "no records");
    p = tgd_path("missing.bin");
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, NULL, &keep), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "missing.bin");
    p = tgd_dir;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, NULL, &keep), TG_ERR_IO);
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, NULL, 1, NULL, &keep), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 0, NULL, &keep), TG_ERR_INVALID_ARG);
    tg_cifar_options o;
    tg_cifar_options_init(&o);
    o.variant = 7;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, &o, &keep), TG_ERR_INVALID_ARG);
    o.variant = 10;
    o.struct_size = 1000;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, &p, 1, &o, &keep), TG_ERR_INVALID_ARG);
    /* A later file's error leaves nothing behind (and names that file). */
    const char *two[2] = {tgd_path("ok.bin"), tgd_path("partial.bin")};
    tgd_write(two[0], buf, REC10);
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, two, 2, NULL, &keep), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "partial.bin");
    /* Directory layout: the batches present are used; test_batch.bin missing. */
    tgd_write(tgd_path("data_batch_2.bin"), buf, REC10);
    tgd_write(tgd_path("data_batch_4.bin"), buf, REC10);
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, tgd_dir, true, 10, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 2);
    tg_dataset_destroy(ds);
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, tgd_dir, false, 10, &keep), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "test_batch.bin", tgd_dir);
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, "/nonexistent/cifar", true, 10, &keep),
                     TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "/nonexistent/cifar");
    ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, tgd_dir, true, 12, &keep), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(keep, (tg_dataset *)0x1);
    free(buf);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(generator_png_equals_cifar)
{
    const char *dir = tgc_generate(40, 20);
    static char root[512], tree[600];
    snprintf(root, sizeof root, "%s", dir);
    tg_ctx *ctx = tgt_ctx(1);
    for (int split = 0; split < 2; split++) {
        tg_dataset *cif = NULL, *png = NULL;
        ck_assert_int_eq(tg_dataset_load_cifar_dir(ctx, root, split == 0, 10, &cif), TG_OK);
        snprintf(tree, sizeof tree, "%s/%s", root, split == 0 ? "train" : "test");
        ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tree, NULL, &png), TG_OK);
        size_t n = tg_dataset_n(cif), per = n / 10;
        ck_assert_uint_eq(tg_dataset_n(png), n);
        ck_assert_int_eq(tg_dataset_channels(png), 3);
        ck_assert_int_eq(tg_dataset_height(png), 32);
        /* Generated image i has label i % 10 and file name i: the tree
         * lists class k's images k, k + 10, ... */
        tg_tensor *tc = tg_dataset_to_tensor(cif, 0, n), *tp = tg_dataset_to_tensor(png, 0, n);
        for (size_t i = 0; i < n; i++) {
            size_t j = (i % 10) * per + i / 10;
            ck_assert_int_eq(tg_dataset_label(cif, i), tg_dataset_label(png, j));
            ck_assert_int_eq(memcmp(tg_dataset_image(cif, i), tg_dataset_image(png, j), 3072), 0);
            ck_assert_int_eq(memcmp(tg_tensor_data(tc) + i * 3072, tg_tensor_data(tp) + j * 3072,
                                    3072 * sizeof(float)), 0);
        }
        /* A colour data set survives a PNG round trip. */
        snprintf(tree, sizeof tree, "%s/again%d", root, split);
        ck_assert_int_eq(tg_dataset_save_png_dir(cif, tree), TG_OK);
        tg_dataset *back = NULL;
        ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tree, NULL, &back), TG_OK);
        ck_assert_int_eq(tg_dataset_channels(back), 3);
        for (size_t i = 0; i < n; i++) {
            size_t j = (i % 10) * per + i / 10;
            ck_assert_int_eq(memcmp(tg_dataset_image(cif, i), tg_dataset_image(back, j), 3072), 0);
        }
        tg_ctx_reset(ctx);
    }
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cifar");
    TCase *tc = tcase_create("cifar");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cifar10_records);
    tcase_add_test(tc, cifar100_coarse_and_fine);
    tcase_add_test(tc, cifar_errors);
    tcase_add_test(tc, generator_png_equals_cifar);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
