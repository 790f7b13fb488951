/* SPDX-License-Identifier: MIT */
/* IDX loader fuzzer. Input: 2 bytes giving where to split, then the images
 * file and the labels file (each raw or gzip; zlib decides). A load either
 * fails with a status and a message or gives a data set whose sizes agree
 * with each other and whose first batch can be made. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)(data[0] | data[1] << 8);
    data += 2;
    size -= 2;
    if (split > size)
        split = size;
    /* both files first: fz_write_file reuses one path buffer */
    static char img[4096];
    snprintf(img, sizeof img, "%s", fz_write_file("img.idx", data, split));
    const char *lbl = fz_write_file("lbl.idx", data + split, size - split);

    tg_ctx *ctx = fz_ctx(1, 0);
    tg_dataset *ds = NULL;
    tg_status st = tg_dataset_load_idx(ctx, img, lbl, &ds);
    if (st != TG_OK) {
        FUZZ_CHECK(ds == NULL);
        FUZZ_CHECK(st == tg_ctx_last_status(ctx));
        FUZZ_CHECK_ERROR(ctx);
    } else {
        size_t n = tg_dataset_n(ds);
        int64_t h = tg_dataset_height(ds), w = tg_dataset_width(ds);
        int nc = tg_dataset_n_classes(ds);
        FUZZ_CHECK(h >= 1 && h <= TG_DATASET_MAX_DIM && w >= 1 && w <= TG_DATASET_MAX_DIM);
        FUZZ_CHECK(n <= TG_DATASET_MAX_IMAGES && nc >= 0 && nc <= TG_DATASET_MAX_CLASSES);
        for (size_t i = 0; i < n; i++) {
            int32_t l = tg_dataset_label(ds, i);
            FUZZ_CHECK(l >= 0 && l < nc);
        }
        FUZZ_CHECK(tg_dataset_label(ds, n) == -1 && tg_dataset_image(ds, n) == NULL);
        if (n) {
            size_t k = n < 4 ? n : 4;
            tg_tensor *x = tg_dataset_to_tensor(ds, 0, k);
            FUZZ_CHECK(x && tg_tensor_numel(x) == (int64_t)k * h * w);
            for (int64_t i = 0; i < tg_tensor_numel(x); i++)
                FUZZ_CHECK(tg_tensor_data(x)[i] >= 0.0f && tg_tensor_data(x)[i] <= 1.0f);
        }
        tg_dataset_destroy(ds);
    }
    tg_ctx_destroy(ctx);
    return 0;
}
