/* SPDX-License-Identifier: MIT */
/* IDX (MNIST) loading: raw and gzip, header validation, limits, truncation,
 * count mismatch, the MNIST directory lookup. Fixtures are written to a
 * temp directory by each test. */
#include "data_test_util.h"

#include <zlib.h>

#include "tg_test.h"

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Write an IDX file: magic, dims, then `n` payload bytes (raw or gzip). */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndim,
                      const unsigned char *payload, size_t n, bool gz)
{
    size_t hl = 4 + 4 * (size_t)ndim;
    unsigned char *buf = malloc(hl + n + 1);
    ck_assert_ptr_nonnull(buf);
    put_be32(buf, magic);
    for (int i = 0; i < ndim; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    if (n)
        memcpy(buf + hl, payload, n);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, buf, (unsigned)(hl + n)), (int)(hl + n));
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        tgd_write(path, buf, hl + n);
    }
    free(buf);
}

enum { N = 5, H = 3, W = 4 };
static unsigned char pixels[N * H * W];
static unsigned char labels8[N] = {3, 1, 4, 1, 5};

static void write_set(const char *img, const char *lab, bool gz)
{
    for (int i = 0; i < N * H * W; i++)
        pixels[i] = (unsigned char)(i * 7 + 1);
    write_idx(img, 0x803, (uint32_t[]){N, H, W}, 3, pixels, sizeof pixels, gz);
    write_idx(lab, 0x801, (uint32_t[]){N}, 1, labels8, N, gz);
}

static void check_set(const tg_dataset *ds)
{
    ck_assert_uint_eq(tg_dataset_n(ds), N);
    ck_assert_int_eq(tg_dataset_height(ds), H);
    ck_assert_int_eq(tg_dataset_width(ds), W);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 6);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(tg_dataset_label(ds, (size_t)i), labels8[i]);
        ck_assert_int_eq(memcmp(tg_dataset_image(ds, (size_t)i), pixels + i * H * W, H * W), 0);
    }
    ck_assert_ptr_null(tg_dataset_image(ds, N));
    ck_assert_int_eq(tg_dataset_label(ds, N), -1);
}

START_TEST(raw_and_gz)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tgd_path(gz ? "img.gz" : "img"), *lab = tgd_path(gz ? "lab.gz" : "lab");
        write_set(img, lab, gz);
        tg_dataset *ds = NULL;
        ck_assert_int_eq(tg_dataset_load_idx(ctx, img, lab, &ds), TG_OK);
        check_set(ds);
        tg_dataset_destroy(ds);
    }
    /* gzip detection is by content, not by name. */
    write_set(tgd_path("plainname"), tgd_path("plainlab"), true);
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("plainname"), tgd_path("plainlab"), &ds),
                     TG_OK);
    check_set(ds);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(bad_magic)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    write_set(tgd_path("img"), tgd_path("lab"), false);
    tg_dataset *ds = (tg_dataset *)0x1;
    /* Swapped arguments: each file has the other's magic. */
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("lab"), tgd_path("img"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "bad magic", "0x00000801", tgd_path("lab"));
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    /* A wrong element type (0x0D = float) is rejected too. */
    write_idx(tgd_path("f32"), 0xD03, (uint32_t[]){N, H, W}, 3, pixels, sizeof pixels, false);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("f32"), tgd_path("lab"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "0x00000d03");
    /* Empty file: header truncated. */
    tgd_write(tgd_path("empty"), "", 0);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("empty"), tgd_path("lab"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "truncated", "header", tgd_path("empty"));
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(truncated)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    write_set(tgd_path("img"), tgd_path("lab"), false);
    write_idx(tgd_path("short"), 0x803, (uint32_t[]){N, H, W}, 3, pixels, sizeof pixels - 5,
              false);
    tg_dataset *ds = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("short"), tgd_path("lab"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "truncated", tgd_path("short"), "60 bytes", "55");
    /* A gzip stream cut in the middle. */
    static unsigned char big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 2654435761u >> 13);
    write_idx(tgd_path("big.gz"), 0x803, (uint32_t[]){200, 10, 10}, 3, big, sizeof big, true);
    size_t n;
    unsigned char *bytes = tgd_read(tgd_path("big.gz"), &n);
    tgd_write(tgd_path("cut.gz"), bytes, n / 2);
    free(bytes);
    write_idx(tgd_path("lab200"), 0x801, (uint32_t[]){200}, 1, big, 200, false);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("cut.gz"), tgd_path("lab200"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, tgd_path("cut.gz"));
    /* Truncated labels. */
    write_idx(tgd_path("labshort"), 0x801, (uint32_t[]){N}, 1, labels8, N - 1, false);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("img"), tgd_path("labshort"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "truncated", tgd_path("labshort"));
    /* Trailing garbage means the header lies. */
    write_idx(tgd_path("long"), 0x803, (uint32_t[]){N, H, W}, 3, big, sizeof pixels + 3, false);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("long"), tgd_path("lab"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "unexpected bytes");
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

/* Allocator that records the largest single request. */
static size_t max_request;
static void *track_alloc(void *opaque, size_t size)
{
    (void)opaque;
    if (size > max_request)
        max_request = size;
    return malloc(size);
}
static void track_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

START_TEST(huge_claimed_dims)
{
    tgd_mkdtemp();
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = 1;
    o.alloc = track_alloc;
    o.free = track_free;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    write_set(tgd_path("img"), tgd_path("lab"), false);
    tg_dataset *ds = (tg_dataset *)0x1;
    /* 2^31 images of 2^31 x 2^31: rejected from the header alone. */
    write_idx(tgd_path("huge"), 0x803, (uint32_t[]){0x80000000u, 0x80000000u, 0x80000000u}, 3,
              pixels, 10, false);
    max_request = 0;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("huge"), tgd_path("lab"), &ds),
                     TG_ERR_LIMIT);
    tgd_assert_err(ctx, TG_ERR_LIMIT, tgd_path("huge"), "2147483648");
    ck_assert_uint_lt(max_request, 1u << 20);
    /* Within the limits (1e6 x 28 x 28 = 784 MB) but the file is tiny: the
     * buffer grows only with the data actually present. */
    write_idx(tgd_path("liar"), 0x803, (uint32_t[]){1000000, 28, 28}, 3, pixels, 10, false);
    static unsigned char many[1000000];
    write_idx(tgd_path("liarlab"), 0x801, (uint32_t[]){1000000}, 1, many, sizeof many, false);
    max_request = 0;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("liar"), tgd_path("liarlab"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "truncated", tgd_path("liar"));
    ck_assert_uint_lt(max_request, 8u << 20);
    /* Zero-sized images. */
    write_idx(tgd_path("zero"), 0x803, (uint32_t[]){N, 0, W}, 3, pixels, 0, false);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("zero"), tgd_path("lab"), &ds),
                     TG_ERR_FORMAT);
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(count_mismatch_and_missing)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    write_set(tgd_path("img"), tgd_path("lab"), false);
    write_idx(tgd_path("lab4"), 0x801, (uint32_t[]){4}, 1, labels8, 4, false);
    tg_dataset *ds = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("img"), tgd_path("lab4"), &ds),
                     TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "5 images", "4 labels", tgd_path("lab4"));
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("nope"), tgd_path("lab"), &ds), TG_ERR_IO);
    tgd_assert_err(ctx, TG_ERR_IO, tgd_path("nope"));
    ck_assert_int_eq(tg_dataset_load_idx(ctx, NULL, tgd_path("lab"), &ds), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(mnist_directory)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, tgd_dir, true, &ds), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "train-images-idx3-ubyte", tgd_dir);
    /* Train raw, test gzip'd. */
    write_set(tgd_path("train-images-idx3-ubyte"), tgd_path("train-labels-idx1-ubyte"), false);
    write_set(tgd_path("t10k-images-idx3-ubyte.gz"), tgd_path("t10k-labels-idx1-ubyte.gz"), true);
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, tgd_dir, true, &ds), TG_OK);
    check_set(ds);
    tg_dataset_destroy(ds);
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, tgd_dir, false, &ds), TG_OK);
    check_set(ds);
    tg_dataset_destroy(ds);
    /* Images without labels is an error that names the missing file. */
    remove(tgd_path("train-labels-idx1-ubyte"));
    ds = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, tgd_dir, true, &ds), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "train-labels-idx1-ubyte");
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST


START_TEST(mnist_never_falls_back)
{
    /* New-user bug 1 (issue 9): a named directory is used or refused, even
     * when ./data/mnist holds a valid set. */
    char here[4096];
    ck_assert_ptr_nonnull(getcwd(here, sizeof here));
    tgd_mkdtemp();
    ck_assert_int_eq(chdir(tgd_dir), 0);
    ck_assert_int_eq(mkdir("data", 0777), 0);
    ck_assert_int_eq(mkdir("data/mnist", 0777), 0);
    write_set("data/mnist/train-images-idx3-ubyte", "data/mnist/train-labels-idx1-ubyte", false);
    tgd_mkdir("wrong");
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, tgd_path("wrong"), true, &ds), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, tgd_path("wrong"));
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, "/nonexistent/mnist", true, &ds), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "/nonexistent/mnist");
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, "data/mnist", true, &ds), TG_OK);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(chdir(here), 0); /* CK_FORK=no runs the next test here */
    tgd_rmtree();
}
END_TEST

/* The real MNIST test set, when the shared copy is present. */
START_TEST(real_mnist_test_set)
{
    const char *dir = "/work/shared/data/mnist";
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return;
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, dir, false, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 10000);
    ck_assert_int_eq(tg_dataset_height(ds), 28);
    ck_assert_int_eq(tg_dataset_width(ds), 28);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 10);
    ck_assert_int_eq(tg_dataset_label(ds, 0), 7); /* the well-known first test digit */
    ck_assert_int_eq(tg_dataset_label(ds, 1), 2);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_test(tc, raw_and_gz);
    tcase_add_test(tc, bad_magic);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, huge_claimed_dims);
    tcase_add_test(tc, count_mismatch_and_missing);
    tcase_add_test(tc, mnist_directory);
    tcase_add_test(tc, mnist_never_falls_back);
    tcase_add_test(tc, real_mnist_test_set);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
