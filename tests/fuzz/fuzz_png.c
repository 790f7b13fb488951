/* SPDX-License-Identifier: MIT */
/* PNG tree fuzzer: the input is one PNG file, placed as <dir>/3/a.png next
 * to a fixed valid image <dir>/1/b.png; the required size comes from the
 * input's IHDR when present (so decoding is reached), else from its first
 * bytes. A load fails with a status and a message or gives two images;
 * the same tree is then read by the colour loader. */
#include "fuzz_common.h"

#include <stdlib.h>

/* 2x3 8-bit grayscale PNG, rows 0 1 2 / 3 4 5 */
static const uint8_t k_valid_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0xb8,
    0x1f, 0x39, 0xc6, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60,
    0x60, 0x64, 0x62, 0x60, 0x66, 0x61, 0x05, 0x00, 0x00, 0x2e, 0x00, 0x10, 0xfa, 0xd8, 0xc7,
    0x0c, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t w, h;
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        w = be32(data + 16);
        h = be32(data + 20);
    } else {
        w = size > 0 ? 1 + data[0] % 8 : 1;
        h = size > 1 ? 1 + data[1] % 8 : 1;
    }
    static char dir[4096];
    fz_write_file("png/3/a.png", data, size);
    const char *b = fz_write_file("png/1/b.png", k_valid_png, sizeof k_valid_png);
    snprintf(dir, sizeof dir, "%s", b);
    *strrchr(dir, '/') = '\0';
    *strrchr(dir, '/') = '\0';

    tg_ctx *ctx = fz_ctx(1, 0);
    tg_dataset *ds = NULL;
    tg_status st = tg_dataset_load_png_dir(ctx, dir, h, w, &ds);
    if (st != TG_OK) {
        FUZZ_CHECK(ds == NULL);
        FUZZ_CHECK(st == tg_ctx_last_status(ctx));
        FUZZ_CHECK_ERROR(ctx);
    } else {
        FUZZ_CHECK(h == 2 && w == 3); /* the fixed image must match */
        FUZZ_CHECK(tg_dataset_n(ds) == 2 && tg_dataset_n_classes(ds) == 4);
        FUZZ_CHECK(tg_dataset_label(ds, 0) == 1 && tg_dataset_label(ds, 1) == 3);
        FUZZ_CHECK(memcmp(tg_dataset_image(ds, 0), "\0\1\2\3\4\5", 6) == 0);
        tg_dataset_destroy(ds);
    }
    /* The colour tree loader (0.2.0): size from the first image (b.png,
     * label 1), channels kept (0) or chosen by the input's size. */
    tg_png_options po;
    tg_png_options_init(&po);
    po.channels = (int)(size % 5);
    tg_dataset *sentinel = (tg_dataset *)&sentinel;
    ds = sentinel;
    st = tg_dataset_load_png_tree(ctx, dir, &po, &ds);
    if (st != TG_OK) {
        FUZZ_CHECK(ds == sentinel);
        FUZZ_CHECK(st == tg_ctx_last_status(ctx));
        FUZZ_CHECK_ERROR(ctx);
    } else {
        int64_t c = tg_dataset_channels(ds);
        FUZZ_CHECK(c >= 1 && c <= 4 && (po.channels == 0 || c == po.channels));
        FUZZ_CHECK(tg_dataset_height(ds) == 2 && tg_dataset_width(ds) == 3);
        FUZZ_CHECK(tg_dataset_n(ds) == 2 && tg_dataset_label(ds, 1) == 3);
        /* grey 0..5 replicated into every colour channel */
        for (int64_t k = 0; k < (c >= 3 ? 3 : 1); k++)
            FUZZ_CHECK(memcmp(tg_dataset_image(ds, 0) + k * 6, "\0\1\2\3\4\5", 6) == 0);
        tg_tensor *x = tg_dataset_to_tensor(ds, 0, 2);
        FUZZ_CHECK(x && tg_tensor_numel(x) == 2 * c * 6);
        tg_dataset_destroy(ds);
    }
    tg_ctx_destroy(ctx);
    return 0;
}
