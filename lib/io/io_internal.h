/* SPDX-License-Identifier: MIT */
/* Declarations shared by the serialization sources (JSON reader,
 * safetensors, and later ONNX). Never installed. */
#ifndef TG_IO_INTERNAL_H
#define TG_IO_INTERNAL_H

#include "tg_internal.h"

#include <stdio.h>

/* ---- JSON reader (lib/io/json.c) -------------------------------------- */

#define TGJ_MAX_NODES (1 << 22)

typedef enum tgj_type { TGJ_NULL, TGJ_BOOL, TGJ_NUM, TGJ_STR, TGJ_ARR, TGJ_OBJ } tgj_type;

typedef struct tgj_node {
    tgj_type type;
    bool b;            /* TGJ_BOOL */
    const char *str;   /* TGJ_STR: decoded, NUL-terminated; TGJ_NUM: raw text */
    size_t len;
    const char *key;   /* member name when the parent is an object */
    size_t key_len;
    int32_t first;     /* first child (-1 none) */
    int32_t next;      /* next sibling (-1 none) */
    int32_t n_children;
} tgj_node;

typedef struct tgj_doc {
    tgj_node *nodes;   /* nodes[0] is the root */
    size_t n, cap;
    char *strbuf;
} tgj_doc;

/* Parse text[0..len) strictly; TG_ERR_FORMAT/LIMIT name `who`. */
tg_status tg__json_parse(tg_ctx *ctx, const char *who, const char *text, size_t len,
                         int max_depth, tgj_doc *doc);
void tg__json_free(tg_ctx *ctx, tgj_doc *doc);
/* Integer value (no fraction/exponent, at most 18 digits). */
bool tg__json_int(const tgj_node *n, int64_t *out);
/* Member of an object by name (first match), or NULL. */
const tgj_node *tg__json_get(const tgj_doc *doc, const tgj_node *obj, const char *key);

/* ---- protobuf writer (lib/io/pb.c) ----------------------------------- */

/* A growable byte buffer; a failed allocation sets oom and later writes do
 * nothing, so a message is checked once at the end. */
typedef struct tg__pb {
    tg_ctx *ctx;
    uint8_t *p;
    size_t n, cap;
    bool oom;
} tg__pb;

void tg__pb_init(tg__pb *b, tg_ctx *ctx);
void tg__pb_free(tg__pb *b);
void tg__pb_raw(tg__pb *b, const void *data, size_t n);
void tg__pb_varint(tg__pb *b, uint64_t v);
/* field with wire type 0 (int32/int64/enum: negative values as 10 bytes) */
void tg__pb_int(tg__pb *b, int field, int64_t v);
/* wire type 5 (float) */
void tg__pb_float(tg__pb *b, int field, float v);
/* wire type 2: bytes, string, embedded message */
void tg__pb_bytes(tg__pb *b, int field, const void *data, size_t n);
void tg__pb_str(tg__pb *b, int field, const char *s);
void tg__pb_msg(tg__pb *b, int field, const tg__pb *sub);
/* packed repeated int64 */
void tg__pb_packed_int64(tg__pb *b, int field, const int64_t *v, size_t n);
/* little-endian float32 array (raw_data) */
void tg__pb_f32le(tg__pb *b, int field, const float *v, size_t n);

/* ---- atomic file writes (lib/io/safetensors.c) ------------------------- */

/* Write a file by calling write(fp, arg) on a temporary file next to path,
 * then fflush, fsync, rename over path and fsync the directory. On any
 * failure the temporary file is removed, path is untouched and a TG_ERR_IO
 * naming @p who and the path is recorded. */
tg_status tg__write_atomic(tg_ctx *ctx, const char *who, const char *path,
                           tg_status (*write)(FILE *fp, void *arg), void *arg);

#endif /* TG_IO_INTERNAL_H */
