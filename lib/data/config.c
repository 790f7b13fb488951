/* SPDX-License-Identifier: MIT */
/* `key = value` configuration files with # comments. Every entry remembers
 * where it came from so errors can say "config.txt:7: ...". */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define CFG_MAX_FILE (1u << 20)
#define CFG_MAX_LINE 4096
#define CFG_MAX_ENTRIES 4096

typedef struct cfg_entry {
    char *key;
    char *value;
    int line;          /* 0 = set from the command line */
} cfg_entry;

struct tg_config {
    tg__object obj;    /* tracked by the ctx until destroyed */
    tg_ctx *ctx;
    char *source;      /* file name used in messages */
    cfg_entry *e;
    size_t n, cap;
};

/* "config.txt:7" or "command line" */
static const char *where(const tg_config *cfg, const cfg_entry *e, char *buf, size_t size)
{
    if (e->line == 0)
        snprintf(buf, size, "command line");
    else
        snprintf(buf, size, "%s:%d", cfg->source, e->line);
    return buf;
}

static bool valid_key(const char *k, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static cfg_entry *find(const tg_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->e[i].key, key) == 0)
            return &cfg->e[i];
    return NULL;
}

static char *dup_n(tg_ctx *ctx, const char *s, size_t n)
{
    char *p = tg__malloc(ctx, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static tg_status add_entry(tg_config *cfg, const char *key, size_t klen, const char *val,
                           size_t vlen, int line)
{
    tg_ctx *ctx = cfg->ctx;
    if (cfg->n >= CFG_MAX_ENTRIES)
        return tg__error(ctx, TG_ERR_LIMIT, "%s:%d: more than %d keys", cfg->source, line,
                         CFG_MAX_ENTRIES);
    if (cfg->n == cfg->cap) {
        size_t ncap = cfg->cap ? cfg->cap * 2 : 16;
        cfg_entry *ne = tg__malloc(ctx, ncap * sizeof *ne);
        if (!ne)
            return tg__error(ctx, TG_ERR_NOMEM, "config: out of memory");
        if (cfg->n)
            memcpy(ne, cfg->e, cfg->n * sizeof *ne);
        if (cfg->e)
            tg__free(ctx, cfg->e);
        cfg->e = ne;
        cfg->cap = ncap;
    }
    char *k = dup_n(ctx, key, klen);
    char *v = k ? dup_n(ctx, val, vlen) : NULL;
    if (!v) {
        if (k)
            tg__free(ctx, k);
        return tg__error(ctx, TG_ERR_NOMEM, "config: out of memory");
    }
    cfg->e[cfg->n++] = (cfg_entry){k, v, line};
    return TG_OK;
}

static void config_release(tg__object *o);

static tg_config *cfg_new(tg_ctx *ctx, const char *source)
{
    tg_config *cfg = tg__calloc(ctx, 1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->ctx = ctx;
    cfg->source = tg__strdup(ctx, source);
    if (!cfg->source) {
        tg__free(ctx, cfg);
        return NULL;
    }
    tg__object_track(ctx, &cfg->obj, config_release);
    return cfg;
}

tg_status tg_config_create(tg_ctx *ctx, tg_config **out)
{
    if (!ctx || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "config_create: NULL argument");
    tg_config *cfg = cfg_new(ctx, "<none>");
    if (!cfg)
        return tg__error(ctx, TG_ERR_NOMEM, "config: out of memory");
    *out = cfg;
    return TG_OK;
}

void tg_config_destroy(tg_config *cfg)
{
    if (!cfg)
        return;
    tg__object_untrack(cfg->ctx, &cfg->obj);
    config_release(&cfg->obj);
}

/* Also called by tg_ctx_destroy() for a config the caller left alive. */
static void config_release(tg__object *o)
{
    tg_config *cfg = (tg_config *)o;
    tg_ctx *ctx = cfg->ctx;
    for (size_t i = 0; i < cfg->n; i++) {
        tg__free(ctx, cfg->e[i].key);
        tg__free(ctx, cfg->e[i].value);
    }
    if (cfg->e)
        tg__free(ctx, cfg->e);
    tg__free(ctx, cfg->source);
    tg__free(ctx, cfg);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Parse one line [s, s+len) (no newline). */
static tg_status parse_line(tg_config *cfg, const char *s, size_t len, int line)
{
    tg_ctx *ctx = cfg->ctx;
    const char *src = cfg->source;
    /* Cut the comment: the first '#' outside double quotes. */
    bool quoted = false;
    size_t end = len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == '#' && !quoted) {
            end = i;
            break;
        }
    }
    size_t b = 0;
    while (b < end && is_space(s[b]))
        b++;
    while (end > b && is_space(s[end - 1]))
        end--;
    if (b == end)
        return TG_OK;
    const char *eq = memchr(s + b, '=', end - b);
    if (!eq)
        return tg__error(ctx, TG_ERR_FORMAT, "%s:%d: expected 'key = value', got '%.*s'", src,
                         line, (int)(end - b > 60 ? 60 : end - b), s + b);
    size_t kb = b, ke = (size_t)(eq - s);
    while (ke > kb && is_space(s[ke - 1]))
        ke--;
    size_t vb = (size_t)(eq - s) + 1, ve = end;
    while (vb < ve && is_space(s[vb]))
        vb++;
    if (ke == kb)
        return tg__error(ctx, TG_ERR_FORMAT, "%s:%d: missing key before '='", src, line);
    if (!valid_key(s + kb, ke - kb))
        return tg__error(ctx, TG_ERR_FORMAT,
                         "%s:%d: invalid key '%.*s' (use letters, digits, '_', '.', '-')", src,
                         line, (int)(ke - kb > 60 ? 60 : ke - kb), s + kb);
    if (vb < ve && s[vb] == '"') {
        if (ve - vb < 2 || s[ve - 1] != '"')
            return tg__error(ctx, TG_ERR_FORMAT, "%s:%d: unterminated quoted value", src, line);
        vb++;
        ve--;
        if (memchr(s + vb, '"', ve - vb))
            return tg__error(ctx, TG_ERR_FORMAT, "%s:%d: stray '\"' inside a quoted value", src,
                             line);
    } else if (vb < ve && memchr(s + vb, '"', ve - vb)) {
        return tg__error(ctx, TG_ERR_FORMAT, "%s:%d: stray '\"' in value (quote the whole value)",
                         src, line);
    }
    char key[CFG_MAX_LINE + 1];
    memcpy(key, s + kb, ke - kb);
    key[ke - kb] = '\0';
    const cfg_entry *prev = find(cfg, key);
    if (prev)
        return tg__error(ctx, TG_ERR_FORMAT, "%s:%d: duplicate key '%s' (first on line %d)", src,
                         line, key, prev->line);
    return add_entry(cfg, s + kb, ke - kb, s + vb, ve - vb, line);
}

static tg_status parse_text(tg_config *cfg, const char *text, size_t size)
{
    const char *src = cfg->source;
    if (memchr(text, '\0', size))
        return tg__error(cfg->ctx, TG_ERR_FORMAT, "%s: contains a NUL byte", src);
    size_t pos = 0;
    int line = 0;
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* UTF-8 byte order mark from some editors */
    while (pos < size) {
        line++;
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (text + pos)) : size - pos;
        if (len > CFG_MAX_LINE)
            return tg__error(cfg->ctx, TG_ERR_LIMIT, "%s:%d: line longer than %d bytes", src, line,
                             CFG_MAX_LINE);
        tg_status st = parse_line(cfg, text + pos, len, line);
        if (st != TG_OK)
            return st;
        pos += len + (nl ? 1 : 0);
    }
    return TG_OK;
}

tg_status tg_config_load_string(tg_ctx *ctx, const char *text, const char *source_name,
                                tg_config **out)
{
    if (!ctx || !text || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "config_load_string: NULL argument");
    const char *src = source_name ? source_name : "<string>";
    size_t size = strlen(text);
    if (size > CFG_MAX_FILE)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: larger than %u bytes", src, CFG_MAX_FILE);
    tg_config *cfg = cfg_new(ctx, src);
    if (!cfg)
        return tg__error(ctx, TG_ERR_NOMEM, "config: out of memory");
    tg_status st = parse_text(cfg, text, size);
    if (st != TG_OK) {
        tg_config_destroy(cfg);
        return st;
    }
    *out = cfg;
    return TG_OK;
}

tg_status tg_config_load_file(tg_ctx *ctx, const char *path, tg_config **out)
{
    if (!ctx || !path || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "config_load_file: NULL argument");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tg__error(ctx, TG_ERR_IO, "config: cannot open '%s': %s", path, strerror(errno));
    char *buf = tg__malloc(ctx, CFG_MAX_FILE + 1);
    if (!buf) {
        fclose(fp);
        return tg__error(ctx, TG_ERR_NOMEM, "config: out of memory");
    }
    size_t size = fread(buf, 1, CFG_MAX_FILE + 1, fp);
    bool err = ferror(fp) != 0;
    fclose(fp);
    tg_status st = TG_OK;
    tg_config *cfg = NULL;
    if (err)
        st = tg__error(ctx, TG_ERR_IO, "config: cannot read '%s'", path);
    else if (size > CFG_MAX_FILE)
        st = tg__error(ctx, TG_ERR_LIMIT, "%s: larger than %u bytes", path, CFG_MAX_FILE);
    else if (!(cfg = cfg_new(ctx, path)))
        st = tg__error(ctx, TG_ERR_NOMEM, "config: out of memory");
    else
        st = parse_text(cfg, buf, size);
    tg__free(ctx, buf);
    if (st != TG_OK) {
        tg_config_destroy(cfg);
        return st;
    }
    *out = cfg;
    return TG_OK;
}

tg_status tg_config_set(tg_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value)
        return tg__error(cfg ? cfg->ctx : NULL, TG_ERR_INVALID_ARG, "config_set: NULL argument");
    size_t klen = strlen(key);
    if (!valid_key(key, klen))
        return tg__error(cfg->ctx, TG_ERR_INVALID_ARG,
                         "command line: invalid key '%s' (use letters, digits, '_', '.', '-')",
                         key);
    cfg_entry *e = find(cfg, key);
    if (!e)
        return add_entry(cfg, key, klen, value, strlen(value), 0);
    char *v = tg__strdup(cfg->ctx, value);
    if (!v)
        return tg__error(cfg->ctx, TG_ERR_NOMEM, "config: out of memory");
    tg__free(cfg->ctx, e->value);
    e->value = v;
    e->line = 0;
    return TG_OK;
}

bool tg_config_has(const tg_config *cfg, const char *key)
{
    return cfg && key && find(cfg, key) != NULL;
}

size_t tg_config_n(const tg_config *cfg) { return cfg ? cfg->n : 0; }

const char *tg_config_key(const tg_config *cfg, size_t i, const char **value)
{
    if (!cfg || i >= cfg->n)
        return NULL;
    if (value)
        *value = cfg->e[i].value;
    return cfg->e[i].key;
}

tg_status tg_config_check_keys(const tg_config *cfg, const char *const *allowed, size_t n)
{
    if (!cfg || (n && !allowed))
        return tg__error(cfg ? cfg->ctx : NULL, TG_ERR_INVALID_ARG,
                         "config_check_keys: NULL argument");
    for (size_t i = 0; i < cfg->n; i++) {
        bool ok = false;
        for (size_t j = 0; j < n && !ok; j++)
            ok = allowed[j] && strcmp(allowed[j], cfg->e[i].key) == 0;
        if (!ok) {
            char w[300];
            return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "%s: unknown key '%s'",
                             where(cfg, &cfg->e[i], w, sizeof w), cfg->e[i].key);
        }
    }
    return TG_OK;
}

/* Lookup shared by the getters: NULL entry = absent. */
static tg_status lookup(const tg_config *cfg, const char *key, const void *out, const char *who,
                        const cfg_entry **e)
{
    if (!cfg || !key || !out)
        return tg__error(cfg ? cfg->ctx : NULL, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    *e = find(cfg, key);
    return TG_OK;
}

tg_status tg_config_get_string(const tg_config *cfg, const char *key, const char *def,
                               const char **out)
{
    const cfg_entry *e = NULL;
    tg_status st = lookup(cfg, key, out, "config_get_string", &e);
    if (st != TG_OK)
        return st;
    if (!e && !def)
        return tg__error(cfg->ctx, TG_ERR_NOT_FOUND, "%s: required key '%s' is missing",
                         cfg->source, key);
    *out = e ? e->value : def;
    return TG_OK;
}

tg_status tg_config_get_int(const tg_config *cfg, const char *key, int64_t def, int64_t min,
                            int64_t max, int64_t *out)
{
    const cfg_entry *e = NULL;
    tg_status st = lookup(cfg, key, out, "config_get_int", &e);
    if (st != TG_OK)
        return st;
    if (!e) {
        *out = def;
        return TG_OK;
    }
    char w[300];
    const char *v = e->value;
    char *endp = NULL;
    errno = 0;
    long long x = strtoll(v, &endp, 10);
    if (!*v || isspace((unsigned char)*v) || *endp)
        return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "%s: %s: '%s' is not an integer",
                         where(cfg, e, w, sizeof w), key, v);
    if (errno == ERANGE || x < min || x > max)
        return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "%s: %s: %s is out of range [%lld, %lld]",
                         where(cfg, e, w, sizeof w), key, v, (long long)min, (long long)max);
    *out = (int64_t)x;
    return TG_OK;
}

tg_status tg_config_get_float(const tg_config *cfg, const char *key, double def, double min,
                              double max, double *out)
{
    const cfg_entry *e = NULL;
    tg_status st = lookup(cfg, key, out, "config_get_float", &e);
    if (st != TG_OK)
        return st;
    if (!e) {
        *out = def;
        return TG_OK;
    }
    char w[300];
    const char *v = e->value;
    char *endp = NULL;
    errno = 0;
    double x = strtod(v, &endp);
    if (!*v || isspace((unsigned char)*v) || *endp || !isfinite(x))
        return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "%s: %s: '%s' is not a finite number",
                         where(cfg, e, w, sizeof w), key, v);
    if (x < min || x > max)
        return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "%s: %s: %s is out of range [%g, %g]",
                         where(cfg, e, w, sizeof w), key, v, min, max);
    *out = x;
    return TG_OK;
}

tg_status tg_config_get_bool(const tg_config *cfg, const char *key, bool def, bool *out)
{
    const cfg_entry *e = NULL;
    tg_status st = lookup(cfg, key, out, "config_get_bool", &e);
    if (st != TG_OK)
        return st;
    if (!e) {
        *out = def;
        return TG_OK;
    }
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(e->value, yes[i]) == 0) {
            *out = true;
            return TG_OK;
        }
        if (strcasecmp(e->value, no[i]) == 0) {
            *out = false;
            return TG_OK;
        }
    }
    char w[300];
    return tg__error(cfg->ctx, TG_ERR_INVALID_ARG,
                     "%s: %s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                     where(cfg, e, w, sizeof w), key, e->value);
}

tg_status tg_config_get_choice(const tg_config *cfg, const char *key, const char *const *choices,
                               size_t n, size_t def_index, size_t *index)
{
    const cfg_entry *e = NULL;
    tg_status st = lookup(cfg, key, index, "config_get_choice", &e);
    if (st != TG_OK)
        return st;
    if (n == 0 || !choices)
        return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "config_get_choice: no choices for '%s'",
                         key);
    if (!e) {
        *index = def_index;
        return TG_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (choices[i] && strcasecmp(choices[i], e->value) == 0) {
            *index = i;
            return TG_OK;
        }
    char list[512];
    size_t k = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && k + 2 < sizeof list; i++) {
        int r = snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                         choices[i] ? choices[i] : "");
        if (r < 0)
            break;
        k += (size_t)r;
    }
    char w[300];
    return tg__error(cfg->ctx, TG_ERR_INVALID_ARG, "%s: %s: '%s' is not one of %s",
                     where(cfg, e, w, sizeof w), key, e->value, list);
}
