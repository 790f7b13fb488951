/* SPDX-License-Identifier: MIT */
/* PNG folder trees: colour-type conversion, deterministic order, wrong size,
 * corrupt files, and equality of the IDX and PNG paths. */
#include "data_test_util.h"

#include <png.h>
#include <zlib.h>

#include "tg_test.h"

enum { H = 4, W = 5 };

/* Gray value of pixel (x, y) for image `seed`. */
static unsigned char pix(int seed, int x, int y) { return (unsigned char)(seed * 37 + y * 11 + x * 3); }

/* Write an H x W PNG of the given colour type whose gray value is pix(). */
static void write_png(const char *path, int color, int depth, int seed, int h, int w)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("libpng write failed");
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < 256; i++)
            pal[i].red = pal[i].green = pal[i].blue = (png_byte)(255 - i); /* gray ramp, reversed */
        png_set_PLTE(png, info, pal, 256);
    }
    png_write_info(png, info);
    unsigned char row[64 * 8];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            unsigned char v = pix(seed, x, y);
            switch (color) {
            case PNG_COLOR_TYPE_GRAY:
                if (depth == 16) {
                    row[2 * x] = v; /* v * 257, big-endian: strip_16 keeps v */
                    row[2 * x + 1] = v;
                } else {
                    row[x] = v;
                }
                break;
            case PNG_COLOR_TYPE_PALETTE: row[x] = (unsigned char)(255 - v); break;
            case PNG_COLOR_TYPE_RGB: row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = v; break;
            case PNG_COLOR_TYPE_RGB_ALPHA:
                row[4 * x] = row[4 * x + 1] = row[4 * x + 2] = v;
                row[4 * x + 3] = (unsigned char)(x * 50); /* alpha is dropped, not blended */
                break;
            case PNG_COLOR_TYPE_GRAY_ALPHA:
                row[2 * x] = v;
                row[2 * x + 1] = 7;
                break;
            default: ck_abort();
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    ck_assert_int_eq(fclose(fp), 0);
}

static void check_image(const tg_dataset *ds, size_t i, int seed)
{
    const uint8_t *img = tg_dataset_image(ds, i);
    ck_assert_ptr_nonnull(img);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            ck_assert_msg(img[y * W + x] == pix(seed, x, y), "image %zu pixel (%d,%d): %d != %d",
                          i, x, y, img[y * W + x], pix(seed, x, y));
}

START_TEST(colour_types_and_order)
{
    tgd_mkdtemp();
    tgd_mkdir("train");
    tgd_mkdir("train/10");
    tgd_mkdir("train/2");
    tgd_mkdir("train/0");
    tgd_mkdir("train/notes"); /* not a number: ignored */
    /* class 2: names out of creation order; sorted by name */
    write_png(tgd_path("train/2/b.png"), PNG_COLOR_TYPE_RGB, 8, 1, H, W);
    write_png(tgd_path("train/2/a.png"), PNG_COLOR_TYPE_GRAY, 16, 2, H, W);
    write_png(tgd_path("train/2/c.PNG"), PNG_COLOR_TYPE_PALETTE, 8, 3, H, W);
    write_png(tgd_path("train/10/x.png"), PNG_COLOR_TYPE_RGB_ALPHA, 8, 4, H, W);
    write_png(tgd_path("train/0/z.png"), PNG_COLOR_TYPE_GRAY, 8, 5, H, W);
    write_png(tgd_path("train/0/y.png"), PNG_COLOR_TYPE_GRAY_ALPHA, 8, 6, H, W);
    tgd_write(tgd_path("train/0/readme.txt"), "x", 1); /* not a .png: ignored */
    tgd_write(tgd_path("train/notes/q.png"), "x", 1);

    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("train"), H, W, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 6);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 11);
    /* classes numerically: 0, 2, 10; files by name */
    const int want_label[6] = {0, 0, 2, 2, 2, 10};
    const int want_seed[6] = {6, 5, 2, 1, 3, 4}; /* y, z | a, b, c.PNG | x */
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(tg_dataset_label(ds, i), want_label[i]);
        check_image(ds, i, want_seed[i]);
    }
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(wrong_size_and_corrupt)
{
    tgd_mkdtemp();
    tgd_mkdir("d");
    tgd_mkdir("d/1");
    write_png(tgd_path("d/1/a.png"), PNG_COLOR_TYPE_GRAY, 8, 1, H, W);
    write_png(tgd_path("d/1/b.png"), PNG_COLOR_TYPE_GRAY, 8, 1, H + 1, W);
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = (tg_dataset *)0x1;
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("d"), H, W, &ds), TG_ERR_SHAPE);
    tgd_assert_err(ctx, TG_ERR_SHAPE, tgd_path("d/1/b.png"), "5x5", "expected 4x5");
    remove(tgd_path("d/1/b.png"));

    /* Not a PNG at all. */
    tgd_write(tgd_path("d/1/c.png"), "hello world, not a png", 22);
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("d"), H, W, &ds), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, tgd_path("d/1/c.png"), "signature");
    /* A valid PNG cut in half (signature and header intact). */
    write_png(tgd_path("big.png"), PNG_COLOR_TYPE_GRAY, 8, 1, H, W);
    size_t n;
    unsigned char *bytes = tgd_read(tgd_path("big.png"), &n);
    tgd_write(tgd_path("d/1/c.png"), bytes, n - 20);
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("d"), H, W, &ds), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, tgd_path("d/1/c.png"), "corrupt");
    /* A flipped byte in the image data (CRC mismatch). */
    bytes[n - 20] ^= 0x55;
    tgd_write(tgd_path("d/1/c.png"), bytes, n);
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("d"), H, W, &ds), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, tgd_path("d/1/c.png"));
    free(bytes);
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);

    /* Layout errors. */
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("none"), H, W, &ds), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, tgd_path("none"));
    tgd_mkdir("empty");
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("empty"), H, W, &ds), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "no class directories");
    tgd_mkdir("dup");
    tgd_mkdir("dup/1");
    tgd_mkdir("dup/01");
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("dup"), H, W, &ds), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "both label 1");
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("d"), 0, W, &ds), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(ds, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The same images through IDX and through a PNG tree written by
 * tg_dataset_save_png_dir() give bit-identical batch tensors. */
START_TEST(idx_and_png_agree)
{
    tgd_mkdtemp();
    enum { N = 30, S = 28 };
    /* Sorted by label so the PNG order (class, then index) matches. */
    static unsigned char img[16 + N * S * S], lab[8 + N];
    put_be32(img, 0x803);
    put_be32(img + 4, N);
    put_be32(img + 8, S);
    put_be32(img + 12, S);
    put_be32(lab, 0x801);
    put_be32(lab + 4, N);
    uint64_t r = 12345;
    for (int i = 0; i < N * S * S; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        img[16 + i] = (unsigned char)(r >> 56);
    }
    for (int i = 0; i < N; i++)
        lab[8 + i] = (unsigned char)(i / 3);
    gzFile gz = gzopen(tgd_path("img.gz"), "wb");
    ck_assert_int_eq(gzwrite(gz, img, sizeof img), (int)sizeof img);
    gzclose(gz);
    tgd_write(tgd_path("lab"), lab, sizeof lab);

    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *a = NULL, *b = NULL;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("img.gz"), tgd_path("lab"), &a), TG_OK);
    ck_assert_int_eq(tg_dataset_save_png_dir(a, tgd_path("out/train")), TG_OK);
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("out/train"), S, S, &b), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(b), N);
    ck_assert_int_eq(tg_dataset_n_classes(b), 10);
    ck_assert_int_eq(memcmp(tg_dataset_labels(a), tg_dataset_labels(b), N * sizeof(int32_t)), 0);
    ck_assert_int_eq(tg_dataset_set_normalization(a, true, 0.1307f, 0.3081f), TG_OK);
    ck_assert_int_eq(tg_dataset_set_normalization(b, true, 0.1307f, 0.3081f), TG_OK);
    tg_tensor *ta = tg_dataset_to_tensor(a, 0, N), *tb = tg_dataset_to_tensor(b, 0, N);
    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(tb);
    ck_assert_int_eq(tg_tensor_ndim(ta), 4);
    ck_assert_int_eq(tg_tensor_dim(ta, 1), 1);
    ck_assert_int_eq(memcmp(tg_tensor_data(ta), tg_tensor_data(tb), N * S * S * sizeof(float)), 0);
    /* The MNIST loader falls back to the PNG tree. */
    tg_dataset *c = NULL;
    ck_assert_int_eq(tg_dataset_load_mnist(ctx, tgd_path("out"), true, &c), TG_OK);
    ck_assert_int_eq(memcmp(tg_dataset_image(c, 0), tg_dataset_image(a, 0), N * S * S), 0);
    tg_dataset_destroy(a);
    tg_dataset_destroy(b);
    tg_dataset_destroy(c);
    /* Saving into a path under a regular file fails and names it. */
    tgd_write(tgd_path("file"), "x", 1);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, tgd_path("img.gz"), tgd_path("lab"), &a), TG_OK);
    ck_assert_int_eq(tg_dataset_save_png_dir(a, tgd_path("file/sub")), TG_ERR_IO);
    tgd_assert_err(ctx, TG_ERR_IO, tgd_path("file"));
    tg_dataset_destroy(a);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST


/* RGB image whose planes are R = 10 x, G = 10 y, B = seed (distinct). */
static void write_rgb(const char *path, int seed, int h, int w, int depth)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("libpng write failed");
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    unsigned char row[64 * 6];
    int bpc = depth / 8;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            unsigned char v[3] = {(unsigned char)(10 * x), (unsigned char)(10 * y), (unsigned char)seed};
            for (int c = 0; c < 3; c++)
                for (int b = 0; b < bpc; b++)
                    row[(x * 3 + c) * bpc + b] = v[c]; /* 16-bit: v * 257 */
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(png_tree_keeps_colour)
{
    tgd_mkdtemp();
    tgd_mkdir("t");
    tgd_mkdir("t/0");
    tgd_mkdir("t/1");
    write_rgb(tgd_path("t/0/a.png"), 200, H, W, 8);
    write_rgb(tgd_path("t/1/b.png"), 100, H, W, 16);
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), NULL, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(ds), 3);
    ck_assert_int_eq(tg_dataset_height(ds), H);
    ck_assert_int_eq(tg_dataset_width(ds), W);
    for (size_t i = 0; i < 2; i++) {
        const uint8_t *img = tg_dataset_image(ds, i);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                ck_assert_int_eq(img[y * W + x], 10 * x);
                ck_assert_int_eq(img[H * W + y * W + x], 10 * y);
                ck_assert_int_eq(img[2 * H * W + y * W + x], i ? 100 : 200);
            }
    }
    tg_dataset_destroy(ds);
    /* Grey conversion gives what the 0.1.0 loader gives. */
    tg_png_options o;
    tg_png_options_init(&o);
    o.channels = 1;
    tg_dataset *g = NULL, *old = NULL;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), &o, &g), TG_OK);
    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, tgd_path("t"), H, W, &old), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(g), 1);
    ck_assert_int_eq(memcmp(tg_dataset_image(g, 1), tg_dataset_image(old, 1), H * W), 0);
    tg_dataset_destroy(g);
    tg_dataset_destroy(old);
    /* RGBA: alpha 255 added; explicit size must match. */
    o.channels = 4;
    o.height = H;
    o.width = W;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), &o, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(ds), 4);
    ck_assert_int_eq(tg_dataset_image(ds, 0)[3 * H * W + 7], 255);
    ck_assert_int_eq(tg_dataset_image(ds, 0)[2 * H * W + 7], 200);
    tg_dataset_destroy(ds);
    tg_dataset *keep = (tg_dataset *)0x1;
    o.height = H + 1;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), &o, &keep), TG_ERR_SHAPE);
    o.height = 0;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), &o, &keep), TG_ERR_INVALID_ARG);
    o.height = H;
    o.channels = 5;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), &o, &keep), TG_ERR_INVALID_ARG);
    /* One image alone, as the tree loader reads it. */
    uint8_t one[3 * H * W], grey[H * W];
    memset(one, 0xAB, sizeof one);
    ck_assert_int_eq(tg_image_load_png_channels(ctx, tgd_path("t/1/b.png"), 3, H, W, one), TG_OK);
    ck_assert_int_eq(one[2 * H * W + 3], 100);
    ck_assert_int_eq(one[H * W + W], 10);
    ck_assert_int_eq(tg_image_load_png_channels(ctx, tgd_path("t/1/b.png"), 1, H, W, grey), TG_OK);
    uint8_t grey_old[H * W];
    ck_assert_int_eq(tg_image_load_png(ctx, tgd_path("t/1/b.png"), H, W, grey_old), TG_OK);
    ck_assert_int_eq(memcmp(grey, grey_old, sizeof grey), 0);
    memset(one, 0xAB, sizeof one);
    ck_assert_int_eq(tg_image_load_png_channels(ctx, tgd_path("t/1/b.png"), 3, H, W + 1, one),
                     TG_ERR_SHAPE);
    ck_assert_int_eq(tg_image_load_png_channels(ctx, tgd_path("t/1/b.png"), 0, H, W, one),
                     TG_ERR_INVALID_ARG);
    ck_assert_int_eq(one[0], 0xAB);
    /* Size taken from the first image: a later image of another size fails. */
    write_rgb(tgd_path("t/1/c.png"), 1, H + 2, W, 8);
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("t"), NULL, &keep), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "c.png"));
    ck_assert_ptr_eq(keep, (tg_dataset *)0x1);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(png_tree_mixed_types_convert_up)
{
    /* Grey, grey+alpha, palette, RGB and RGBA in one tree: kept as RGBA
     * (the largest stored count), grey replicated, alpha 255 added. */
    tgd_mkdtemp();
    tgd_mkdir("m");
    tgd_mkdir("m/0");
    write_png(tgd_path("m/0/a.png"), PNG_COLOR_TYPE_GRAY, 8, 1, H, W);
    write_png(tgd_path("m/0/b.png"), PNG_COLOR_TYPE_GRAY_ALPHA, 8, 2, H, W);
    write_png(tgd_path("m/0/c.png"), PNG_COLOR_TYPE_PALETTE, 8, 3, H, W);
    write_png(tgd_path("m/0/d.png"), PNG_COLOR_TYPE_RGB_ALPHA, 8, 4, H, W);
    write_png(tgd_path("m/0/e.png"), PNG_COLOR_TYPE_GRAY, 16, 5, H, W);
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("m"), NULL, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(ds), 4);
    const int seeds[5] = {1, 2, 3, 4, 5};
    for (size_t i = 0; i < 5; i++) {
        const uint8_t *img = tg_dataset_image(ds, i);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int k = y * W + x;
                for (int c = 0; c < 3; c++)
                    ck_assert_int_eq(img[c * H * W + k], pix(seeds[i], x, y));
                int a = i == 1 ? 7 : i == 3 ? x * 50 : 255;
                ck_assert_int_eq(img[3 * H * W + k], a);
            }
    }
    tg_dataset_destroy(ds);
    /* Without the RGBA file: grey+alpha is the largest... palette is RGB. */
    remove(tgd_path("m/0/d.png"));
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("m"), NULL, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(ds), 3);
    tg_dataset_destroy(ds);
    remove(tgd_path("m/0/c.png"));
    ck_assert_int_eq(tg_dataset_load_png_tree(ctx, tgd_path("m"), NULL, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_channels(ds), 2);
    ck_assert_int_eq(tg_dataset_image(ds, 1)[H * W], 7);
    ck_assert_int_eq(tg_dataset_image(ds, 0)[H * W], 255);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("png");
    tcase_add_test(tc, colour_types_and_order);
    tcase_add_test(tc, wrong_size_and_corrupt);
    tcase_add_test(tc, idx_and_png_agree);
    tcase_add_test(tc, png_tree_keeps_colour);
    tcase_add_test(tc, png_tree_mixed_types_convert_up);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
