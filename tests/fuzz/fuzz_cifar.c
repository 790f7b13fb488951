/* SPDX-License-Identifier: MIT */
/* CIFAR binary reader fuzzer. Input: 1 option byte (bit 0: CIFAR-100,
 * bit 1: coarse labels), 2 bytes giving where to split the rest into two
 * files (0 = one file), then the file bytes. A load either fails with a
 * status and a message (and *out untouched) or gives [3, 32, 32] samples
 * with labels below n_classes whose first augmented batch can be made. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t opt = data[0];
    size_t split = (size_t)(data[1] | data[2] << 8);
    data += 3;
    size -= 3;
    if (split > size)
        split = size;
    static char a[4096];
    const char *paths[2];
    size_t n_paths = 1;
    if (split) {
        snprintf(a, sizeof a, "%s", fz_write_file("a.bin", data, split));
        paths[0] = a;
        paths[1] = fz_write_file("b.bin", data + split, size - split);
        n_paths = 2;
    } else {
        paths[0] = fz_write_file("a.bin", data, size);
    }
    tg_cifar_options o;
    tg_cifar_options_init(&o);
    o.variant = opt & 1 ? 100 : 10;
    o.coarse = (opt & 2) != 0;
    tg_ctx *ctx = fz_ctx(1, 0);
    tg_dataset *sentinel = (tg_dataset *)&sentinel, *ds = sentinel;
    tg_status st = tg_dataset_load_cifar(ctx, paths, n_paths, &o, &ds);
    if (st != TG_OK) {
        FUZZ_CHECK(ds == sentinel);
        FUZZ_CHECK(st == tg_ctx_last_status(ctx));
        FUZZ_CHECK_ERROR(ctx);
    } else {
        size_t n = tg_dataset_n(ds);
        int nc = tg_dataset_n_classes(ds);
        FUZZ_CHECK(n >= 1 && n <= size / 3073);
        FUZZ_CHECK(nc == (o.variant == 10 ? 10 : o.coarse ? 20 : 100));
        FUZZ_CHECK(tg_dataset_channels(ds) == 3 && tg_dataset_height(ds) == 32 &&
                   tg_dataset_width(ds) == 32);
        for (size_t i = 0; i < n; i++) {
            int32_t l = tg_dataset_label(ds, i);
            FUZZ_CHECK(l >= 0 && l < nc);
        }
        tg_batch_options bo;
        tg_batch_options_init(&bo);
        bo.batch_size = 4;
        bo.crop_padding = 4;
        bo.hflip = true;
        tg_batch_iter *it = NULL;
        FUZZ_CHECK(tg_batch_iter_create(ds, &bo, &it) == TG_OK);
        tg_batch b;
        FUZZ_CHECK(tg_batch_iter_next_batch(it, &b));
        FUZZ_CHECK(b.n == (n < 4 ? n : 4) && tg_tensor_numel(b.x) == (int64_t)b.n * 3072);
        for (int64_t i = 0; i < tg_tensor_numel(b.x); i++)
            FUZZ_CHECK(tg_tensor_data(b.x)[i] >= 0.0f && tg_tensor_data(b.x)[i] <= 1.0f);
        tg_batch_iter_destroy(it);
        tg_dataset_destroy(ds);
    }
    tg_ctx_destroy(ctx);
    return 0;
}
