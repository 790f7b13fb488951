/* SPDX-License-Identifier: MIT */
/* A minimal protobuf writer (the wire format subset ONNX needs: varints,
 * fixed32 floats, length-delimited bytes and embedded messages). Nested
 * messages are built in their own buffer and appended with their length. */
#include "io_internal.h"

void tg__pb_init(tg__pb *b, tg_ctx *ctx)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
}

void tg__pb_free(tg__pb *b)
{
    tg__free(b->ctx, b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void tg__pb_raw(tg__pb *b, const void *data, size_t n)
{
    if (b->oom || !n)
        return;
    if (n > SIZE_MAX / 2 - b->n) {
        b->oom = true;
        return;
    }
    if (b->n + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + n)
            ncap *= 2;
        uint8_t *p = tg__malloc(b->ctx, ncap);
        if (!p) {
            b->oom = true;
            return;
        }
        if (b->n)
            memcpy(p, b->p, b->n);
        tg__free(b->ctx, b->p);
        b->p = p;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

void tg__pb_varint(tg__pb *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t k = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[k++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    tg__pb_raw(b, tmp, k);
}

static void tag(tg__pb *b, int field, int wire)
{
    tg__pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

void tg__pb_int(tg__pb *b, int field, int64_t v)
{
    tag(b, field, 0);
    tg__pb_varint(b, (uint64_t)v);
}

void tg__pb_float(tg__pb *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    tag(b, field, 5);
    tg__pb_raw(b, le, 4);
}

void tg__pb_bytes(tg__pb *b, int field, const void *data, size_t n)
{
    tag(b, field, 2);
    tg__pb_varint(b, n);
    tg__pb_raw(b, data, n);
}

void tg__pb_str(tg__pb *b, int field, const char *s) { tg__pb_bytes(b, field, s, strlen(s)); }

void tg__pb_msg(tg__pb *b, int field, const tg__pb *sub)
{
    if (sub->oom)
        b->oom = true;
    tg__pb_bytes(b, field, sub->p, sub->n);
}

void tg__pb_packed_int64(tg__pb *b, int field, const int64_t *v, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = (uint64_t)v[i];
        do {
            len++;
            u >>= 7;
        } while (u);
    }
    tag(b, field, 2);
    tg__pb_varint(b, len);
    for (size_t i = 0; i < n; i++)
        tg__pb_varint(b, (uint64_t)v[i]);
}

void tg__pb_f32le(tg__pb *b, int field, const float *v, size_t n)
{
    tag(b, field, 2);
    tg__pb_varint(b, (uint64_t)n * 4);
    for (size_t i = 0; i < n && !b->oom;) {
        uint8_t buf[1024];
        size_t k = 0;
        for (; k < sizeof buf / 4 && i < n; k++, i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            buf[4 * k] = (uint8_t)u;
            buf[4 * k + 1] = (uint8_t)(u >> 8);
            buf[4 * k + 2] = (uint8_t)(u >> 16);
            buf[4 * k + 3] = (uint8_t)(u >> 24);
        }
        tg__pb_raw(b, buf, 4 * k);
    }
}
