/* SPDX-License-Identifier: MIT */
/* Declarations shared by the serialization sources (JSON reader,
 * safetensors, and later ONNX). Never installed. */
#ifndef TG_IO_INTERNAL_H
#define TG_IO_INTERNAL_H

#include "tg_internal.h"

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

#endif /* TG_IO_INTERNAL_H */
