/* SPDX-License-Identifier: MIT */
/* A strict, bounded JSON reader (RFC 8259) for safetensors headers: depth and
 * node count are capped, strings are decoded into one buffer, numbers are
 * kept as validated text. No recursion deeper than max_depth. */
#include "io_internal.h"

#include <stdio.h>

typedef struct jparser {
    tg_ctx *ctx;
    const char *who;
    const char *s;
    size_t len, pos;
    int max_depth;
    tgj_doc *doc;
    size_t str_used;
} jparser;

static tg_status jerr(jparser *p, const char *what)
{
    return tg__error(p->ctx, TG_ERR_FORMAT, "%s: bad JSON header at byte %zu: %s", p->who,
                     p->pos, what);
}

static void skip_ws(jparser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static tg_status new_node(jparser *p, tgj_type type, int32_t *out)
{
    tgj_doc *d = p->doc;
    if (d->n >= TGJ_MAX_NODES)
        return tg__error(p->ctx, TG_ERR_LIMIT, "%s: JSON header has more than %d values", p->who,
                         TGJ_MAX_NODES);
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 64;
        tgj_node *nn = tg__malloc(p->ctx, ncap * sizeof *nn);
        if (!nn)
            return tg__error(p->ctx, TG_ERR_NOMEM, "%s: out of memory parsing JSON", p->who);
        if (d->n)
            memcpy(nn, d->nodes, d->n * sizeof *nn);
        if (d->nodes)
            tg__free(p->ctx, d->nodes);
        d->nodes = nn;
        d->cap = ncap;
    }
    tgj_node *nd = &d->nodes[d->n];
    memset(nd, 0, sizeof *nd);
    nd->type = type;
    nd->first = nd->next = -1;
    nd->key = NULL;
    *out = (int32_t)d->n++;
    return TG_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(jparser *p, unsigned *out)
{
    if (p->len - p->pos < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + (size_t)i]);
        if (h < 0)
            return false;
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

/* Decode a string starting at the opening quote into the string buffer. */
static tg_status parse_string(jparser *p, const char **out, size_t *out_len)
{
    p->pos++; /* opening quote */
    char *dst = p->doc->strbuf + p->str_used;
    size_t k = 0;
    for (;;) {
        if (p->pos >= p->len)
            return jerr(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return jerr(p, "control character in string");
        if (c != '\\') {
            dst[k++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        if (p->pos >= p->len)
            return jerr(p, "unterminated escape");
        char e = p->s[p->pos++];
        switch (e) {
        case '"': dst[k++] = '"'; break;
        case '\\': dst[k++] = '\\'; break;
        case '/': dst[k++] = '/'; break;
        case 'b': dst[k++] = '\b'; break;
        case 'f': dst[k++] = '\f'; break;
        case 'n': dst[k++] = '\n'; break;
        case 'r': dst[k++] = '\r'; break;
        case 't': dst[k++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(p, &cp))
                return jerr(p, "bad \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                    return jerr(p, "unpaired surrogate");
                p->pos += 2;
                if (!read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return jerr(p, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return jerr(p, "unpaired surrogate");
            }
            if (cp == 0)
                return jerr(p, "\\u0000 in string");
            /* UTF-8 output never exceeds the 6+ escape bytes it replaces. */
            if (cp < 0x80) {
                dst[k++] = (char)cp;
            } else if (cp < 0x800) {
                dst[k++] = (char)(0xC0 | (cp >> 6));
                dst[k++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                dst[k++] = (char)(0xE0 | (cp >> 12));
                dst[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                dst[k++] = (char)(0x80 | (cp & 0x3F));
            } else {
                dst[k++] = (char)(0xF0 | (cp >> 18));
                dst[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                dst[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                dst[k++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: return jerr(p, "bad escape");
        }
    }
    dst[k] = '\0';
    p->str_used += k + 1;
    *out = dst;
    *out_len = k;
    return TG_OK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static tg_status parse_number(jparser *p, int32_t *out)
{
    size_t b = p->pos;
    const char *s = p->s;
    if (p->pos < p->len && s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || !is_digit(s[p->pos]))
        return jerr(p, "bad number");
    if (s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && is_digit(s[p->pos]))
            p->pos++;
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(s[p->pos]))
            return jerr(p, "bad number");
        while (p->pos < p->len && is_digit(s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(s[p->pos]))
            return jerr(p, "bad number");
        while (p->pos < p->len && is_digit(s[p->pos]))
            p->pos++;
    }
    tg_status st = new_node(p, TGJ_NUM, out);
    if (st != TG_OK)
        return st;
    p->doc->nodes[*out].str = s + b;
    p->doc->nodes[*out].len = p->pos - b;
    return TG_OK;
}

static bool literal(jparser *p, const char *lit)
{
    size_t n = strlen(lit);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static tg_status parse_value(jparser *p, int depth, int32_t *out);

/* Parse the members/elements of an object or array after its opening char. */
static tg_status parse_container(jparser *p, int depth, bool object, int32_t self)
{
    char close = object ? '}' : ']';
    int32_t last = -1;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return TG_OK;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        skip_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return jerr(p, "expected a string key");
            tg_status st = parse_string(p, &key, &key_len);
            if (st != TG_OK)
                return st;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return jerr(p, "expected ':'");
            p->pos++;
        }
        int32_t child;
        tg_status st = parse_value(p, depth + 1, &child);
        if (st != TG_OK)
            return st;
        tgj_node *c = &p->doc->nodes[child];
        c->key = key;
        c->key_len = key_len;
        if (last < 0)
            p->doc->nodes[self].first = child;
        else
            p->doc->nodes[last].next = child;
        last = child;
        p->doc->nodes[self].n_children++;
        skip_ws(p);
        if (p->pos >= p->len)
            return jerr(p, object ? "unterminated object" : "unterminated array");
        char ch = p->s[p->pos++];
        if (ch == close)
            return TG_OK;
        if (ch != ',')
            return jerr(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static tg_status parse_value(jparser *p, int depth, int32_t *out)
{
    if (depth > p->max_depth)
        return tg__error(p->ctx, TG_ERR_LIMIT, "%s: JSON header nested deeper than %d", p->who,
                         p->max_depth);
    skip_ws(p);
    if (p->pos >= p->len)
        return jerr(p, "unexpected end");
    char c = p->s[p->pos];
    tg_status st;
    if (c == '{' || c == '[') {
        p->pos++;
        st = new_node(p, c == '{' ? TGJ_OBJ : TGJ_ARR, out);
        if (st != TG_OK)
            return st;
        return parse_container(p, depth, c == '{', *out);
    }
    if (c == '"') {
        const char *s;
        size_t n;
        st = parse_string(p, &s, &n);
        if (st != TG_OK)
            return st;
        st = new_node(p, TGJ_STR, out);
        if (st == TG_OK) {
            p->doc->nodes[*out].str = s;
            p->doc->nodes[*out].len = n;
        }
        return st;
    }
    if (c == '-' || is_digit(c))
        return parse_number(p, out);
    if (literal(p, "true") || literal(p, "false")) {
        st = new_node(p, TGJ_BOOL, out);
        if (st == TG_OK)
            p->doc->nodes[*out].b = p->s[p->pos - 1] == 'e' && p->s[p->pos - 2] == 'u';
        return st;
    }
    if (literal(p, "null"))
        return new_node(p, TGJ_NULL, out);
    return jerr(p, "unexpected character");
}

tg_status tg__json_parse(tg_ctx *ctx, const char *who, const char *text, size_t len,
                         int max_depth, tgj_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    doc->strbuf = tg__malloc(ctx, len + 1);
    if (!doc->strbuf)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory parsing JSON", who);
    jparser p = {ctx, who, text, len, 0, max_depth, doc, 0};
    int32_t root;
    tg_status st = parse_value(&p, 0, &root);
    if (st == TG_OK) {
        skip_ws(&p);
        if (p.pos != len)
            st = jerr(&p, "trailing characters after the top-level value");
    }
    if (st != TG_OK)
        tg__json_free(ctx, doc);
    return st;
}

void tg__json_free(tg_ctx *ctx, tgj_doc *doc)
{
    if (doc->nodes)
        tg__free(ctx, doc->nodes);
    if (doc->strbuf)
        tg__free(ctx, doc->strbuf);
    memset(doc, 0, sizeof *doc);
}

bool tg__json_int(const tgj_node *n, int64_t *out)
{
    if (!n || n->type != TGJ_NUM || n->len == 0)
        return false;
    size_t i = n->str[0] == '-' ? 1 : 0;
    /* At most 18 digits: always fits in int64 and is plenty for sizes. */
    if (i == n->len || n->len - i > 18)
        return false;
    int64_t v = 0;
    for (size_t k = i; k < n->len; k++) {
        if (!is_digit(n->str[k]))
            return false; /* fraction or exponent: not an integer */
        v = v * 10 + (n->str[k] - '0');
    }
    *out = i ? -v : v;
    return true;
}

const tgj_node *tg__json_get(const tgj_doc *doc, const tgj_node *obj, const char *key)
{
    if (!obj || obj->type != TGJ_OBJ)
        return NULL;
    size_t kl = strlen(key);
    for (int32_t c = obj->first; c >= 0; c = doc->nodes[c].next) {
        const tgj_node *n = &doc->nodes[c];
        if (n->key_len == kl && memcmp(n->key, key, kl) == 0)
            return n;
    }
    return NULL;
}
