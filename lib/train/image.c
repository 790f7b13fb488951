/* SPDX-License-Identifier: MIT */
/* tg_image_load_png: one PNG as 8-bit grayscale, for classifying single
 * images with a trained model. Decoding is lib/data's (same conversions as
 * the PNG tree loader); this wrapper adds validation and leaves the
 * caller's buffer untouched on error. */
#include "data/data_internal.h"
#include "train/train_internal.h"

tg_status tg_image_load_png(tg_ctx *ctx, const char *path, int64_t h, int64_t w, uint8_t *dst)
{
    const char *who = "image_load_png";
    if (!ctx || !path || !dst)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (h < 1 || w < 1 || h > TG_DATASET_MAX_DIM || w > TG_DATASET_MAX_DIM)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: size %lldx%lld outside 1..%d", who,
                         (long long)h, (long long)w, TG_DATASET_MAX_DIM);
    uint8_t *tmp = tg__malloc(ctx, (size_t)h * (size_t)w);
    if (!tmp)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory for '%s'", who, path);
    tg_status s = tg__png_read_gray(ctx, path, h, w, tmp);
    if (s == TG_OK)
        memcpy(dst, tmp, (size_t)h * (size_t)w);
    tg__free(ctx, tmp);
    return s;
}

tg_status tg_image_load_png_channels(tg_ctx *ctx, const char *path, int channels, int64_t h,
                                     int64_t w, uint8_t *dst)
{
    const char *who = "image_load_png_channels";
    if (!ctx || !path || !dst)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (channels < 1 || channels > TG_DATASET_MAX_CHANNELS)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: channels %d outside 1..%d", who, channels,
                         TG_DATASET_MAX_CHANNELS);
    if (h < 1 || w < 1 || h > TG_DATASET_MAX_DIM || w > TG_DATASET_MAX_DIM)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: size %lldx%lld outside 1..%d", who,
                         (long long)h, (long long)w, TG_DATASET_MAX_DIM);
    size_t bytes = (size_t)channels * (size_t)h * (size_t)w;
    uint8_t *tmp = tg__malloc(ctx, bytes);
    if (!tmp)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory for '%s'", who, path);
    tg_status s = tg__png_read(ctx, path, channels, &h, &w, NULL, tmp);
    if (s == TG_OK)
        memcpy(dst, tmp, bytes);
    tg__free(ctx, tmp);
    return s;
}
