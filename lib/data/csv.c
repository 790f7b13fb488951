/* SPDX-License-Identifier: MIT */
/* CSV tables: the rules and limits are in csv.h. Two passes over the text:
 * the first checks everything (structure, every cell, limits) and collects
 * the class names, allocating only small bookkeeping; the second, after
 * the output is allocated at its exact size, only stores values, so nothing
 * is allocated for a file that fails. */
#define _POSIX_C_SOURCE 200809L
#include "csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- numbers ------------------------------------------------------------ */

static const double k_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

int tg__csv_parse_double(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    uint64_t m = 0;
    int nd = 0;          /* significant digits kept in m (<= 19) */
    long e10 = 0;        /* value = m * 10^e10 */
    bool any = false;
    for (; i < n && is_digit(s[i]); i++) {
        any = true;
        if (nd < 19) {
            if (m || s[i] != '0') {
                m = m * 10 + (uint64_t)(s[i] - '0');
                nd++;
            }
        } else {
            e10++; /* dropped integer digit */
        }
    }
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && is_digit(s[i]); i++) {
            any = true;
            if (nd < 19) {
                if (m || s[i] != '0') {
                    m = m * 10 + (uint64_t)(s[i] - '0');
                    nd++;
                }
                e10--;
            }
        }
    }
    if (!any)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || !is_digit(s[i]))
            return -1;
        long ev = 0;
        for (; i < n && is_digit(s[i]); i++)
            if (ev < 1000000)
                ev = ev * 10 + (s[i] - '0');
        e10 += eneg ? -ev : ev;
    }
    if (i != n)
        return -1;
    double v;
    if (m == 0) {
        v = 0.0;
    } else if (nd + e10 > 310) {
        v = HUGE_VAL;
    } else if (nd + e10 < -330) {
        v = 0.0;
    } else {
        v = (double)m; /* exact when m <= 2^53 */
        if (e10 >= 0) {
            while (e10 > 22) {
                v *= 1e22;
                e10 -= 22;
            }
            v *= k_pow10[e10];
        } else {
            /* keep the intermediate away from subnormals: divide the last
             * step only when the value is still large */
            while (e10 < -22) {
                v /= 1e22;
                e10 += 22;
            }
            v /= k_pow10[-e10];
        }
    }
    *out = neg ? -v : v;
    return 0;
}

/* ---- parser state ------------------------------------------------------- */

typedef struct csv_field {
    const char *s;      /* contents without the quotes (doubled quotes still doubled) */
    size_t n;
    size_t line;        /* line on which the field starts */
    bool esc;           /* contains "" pairs */
} csv_field;

typedef enum { ROLE_FEATURE, ROLE_TARGET, ROLE_IGNORE } csv_role;

typedef struct class_slot {
    uint32_t off;       /* offset of the name in the class pool + 1; 0 = empty */
    uint32_t len;
    uint32_t hash;
    int32_t index;      /* class index after sorting */
} class_slot;

typedef struct csv_parser {
    tg_ctx *ctx;
    const char *src;    /* name for messages */
    const char *text, *end, *p;
    size_t line;
    char delim;
    bool tab_is_space;
    tg__csv_limits lim;
    const tg__csv_spec *spec;

    size_t n_cols;
    char **col_names;   /* n_cols names (into names_blob) */
    char *names_blob;
    int *role;          /* csv_role per column */
    int *slot;          /* feature or target index per column */
    int n_features;
    csv_field *fields;  /* n_cols + 1 */
    char *scratch;      /* field_bytes + 1 */

    /* classes: open-addressing set of names, stored in a pool */
    class_slot *cls;
    size_t cls_cap, n_cls;
    char *pool;
    size_t pool_len, pool_cap;
} csv_parser;

static tg_status nomem(csv_parser *ps)
{
    return tg__error(ps->ctx, TG_ERR_NOMEM, "csv: out of memory");
}

/* Printable, shortened copy of a cell for messages. */
static const char *show(char *buf, size_t size, const char *s, size_t n)
{
    size_t k = 0, max = size > 4 ? size - 4 : 0;
    for (size_t i = 0; i < n && k < max; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (k < n && size >= 4) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k < size ? k : size - 1] = '\0';
    return buf;
}

static bool is_space(const csv_parser *ps, char c)
{
    return c == ' ' || (c == '\t' && ps->tab_is_space);
}

/* Read one field at ps->p; *last is set when it ends the record. */
static tg_status read_field(csv_parser *ps, size_t col, csv_field *f, bool *last)
{
    const char *p = ps->p, *end = ps->end;
    while (p < end && is_space(ps, *p))
        p++;
    f->line = ps->line;
    f->esc = false;
    if (p < end && *p == '"') {
        const char *s = ++p;
        size_t doubled = 0;
        for (;;) {
            const char *q = p;
            while (q < end && *q != '"') {
                if (*q == '\n')
                    ps->line++;
                q++;
            }
            if (q >= end)
                return tg__error(ps->ctx, TG_ERR_FORMAT, "%s:%zu:%zu: unterminated quoted field",
                                 ps->src, f->line, col + 1);
            if (q + 1 < end && q[1] == '"') {
                doubled++;
                p = q + 2;
                continue;
            }
            f->s = s;
            f->n = (size_t)(q - s);
            p = q + 1;
            break;
        }
        f->esc = doubled > 0;
        if (f->n - doubled > ps->lim.field_bytes)
            return tg__error(ps->ctx, TG_ERR_LIMIT,
                             "%s:%zu:%zu: field longer than %zu bytes (TG_CSV_MAX_FIELD_BYTES)",
                             ps->src, f->line, col + 1, ps->lim.field_bytes);
        while (p < end && is_space(ps, *p))
            p++;
        if (p < end && *p != ps->delim && *p != '\n' && *p != '\r') {
            char c = *p;
            return tg__error(ps->ctx, TG_ERR_FORMAT,
                             "%s:%zu:%zu: unexpected '%c' after a closing quote", ps->src,
                             ps->line, col + 1, (c >= 0x20 && c < 0x7f) ? c : '?');
        }
    } else {
        const char *s = p;
        while (p < end && *p != ps->delim && *p != '\n' && *p != '\r') {
            if (*p == '"')
                return tg__error(ps->ctx, TG_ERR_FORMAT,
                                 "%s:%zu:%zu: '\"' inside an unquoted field (quote the field "
                                 "and double the quote)",
                                 ps->src, ps->line, col + 1);
            p++;
        }
        const char *e = p;
        while (e > s && is_space(ps, e[-1]))
            e--;
        f->s = s;
        f->n = (size_t)(e - s);
        if (f->n > ps->lim.field_bytes)
            return tg__error(ps->ctx, TG_ERR_LIMIT,
                             "%s:%zu:%zu: field longer than %zu bytes (TG_CSV_MAX_FIELD_BYTES)",
                             ps->src, f->line, col + 1, ps->lim.field_bytes);
    }
    /* terminator */
    if (p >= end) {
        *last = true;
    } else if (*p == ps->delim) {
        p++;
        *last = false;
    } else if (*p == '\n') {
        p++;
        ps->line++;
        *last = true;
    } else { /* '\r' */
        if (p + 1 >= end || p[1] != '\n')
            return tg__error(ps->ctx, TG_ERR_FORMAT,
                             "%s:%zu: carriage return not followed by a line feed", ps->src,
                             ps->line);
        p += 2;
        ps->line++;
        *last = true;
    }
    ps->p = p;
    return TG_OK;
}

/* Field contents with doubled quotes undone: f->s itself, or a copy in the
 * scratch buffer. */
static const char *field_text(csv_parser *ps, const csv_field *f, size_t *n)
{
    if (!f->esc) {
        *n = f->n;
        return f->s;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        ps->scratch[k++] = f->s[i];
        if (f->s[i] == '"')
            i++; /* skip the second quote of the pair */
    }
    *n = k;
    return ps->scratch;
}

/* True when only spaces, tabs, CR and LF remain from p on. */
static bool only_blank_from(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return false;
    return true;
}

/* Is the line at ps->p blank (spaces/tabs only, then a line end or EOF)? */
static bool blank_line(const csv_parser *ps)
{
    const char *p = ps->p;
    while (p < ps->end && is_space(ps, *p))
        p++;
    return p >= ps->end || *p == '\n' || (*p == '\r' && p + 1 < ps->end && p[1] == '\n');
}

/* Read one whole record into ps->fields; *nf receives its field count
 * (fields past n_cols + 1 are counted, not stored). */
static tg_status read_record(csv_parser *ps, size_t max_cols, size_t *nf)
{
    size_t k = 0;
    bool last = false;
    while (!last) {
        csv_field tmp;
        csv_field *f = k < max_cols ? &ps->fields[k] : &tmp;
        tg_status st = read_field(ps, k, f, &last);
        if (st != TG_OK)
            return st;
        k++;
    }
    *nf = k;
    return TG_OK;
}

/* ---- header ------------------------------------------------------------- */

static tg_status read_header(csv_parser *ps)
{
    tg_ctx *ctx = ps->ctx;
    const char *start = ps->p;
    size_t start_line = ps->line;
    if (only_blank_from(ps->p, ps->end))
        return tg__error(ctx, TG_ERR_FORMAT, "%s: empty file (a header row is required)",
                         ps->src);
    if (blank_line(ps))
        return tg__error(ctx, TG_ERR_FORMAT, "%s:1: empty header row", ps->src);
    /* count the columns first (no allocation before the limit check) */
    size_t n = 0, bytes = 0;
    bool last = false;
    while (!last) {
        csv_field f;
        tg_status st = read_field(ps, n, &f, &last);
        if (st != TG_OK)
            return st;
        if (++n > ps->lim.columns)
            return tg__error(ctx, TG_ERR_LIMIT, "%s:%zu: more than %zu columns (TG_CSV_MAX_COLUMNS)",
                             ps->src, f.line, ps->lim.columns);
        bytes += f.n + 1;
    }
    ps->n_cols = n;
    ps->col_names = tg__calloc(ctx, n, sizeof *ps->col_names);
    ps->names_blob = tg__malloc(ctx, bytes);
    ps->role = tg__calloc(ctx, n, sizeof *ps->role);
    ps->slot = tg__calloc(ctx, n, sizeof *ps->slot);
    ps->fields = tg__calloc(ctx, n + 1, sizeof *ps->fields);
    if (!ps->col_names || !ps->names_blob || !ps->role || !ps->slot || !ps->fields)
        return nomem(ps);
    /* second read: the names */
    ps->p = start;
    ps->line = start_line;
    size_t nf;
    tg_status st = read_record(ps, n + 1, &nf);
    if (st != TG_OK)
        return st;
    char *w = ps->names_blob;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = field_text(ps, &ps->fields[i], &len);
        if (len == 0)
            return tg__error(ctx, TG_ERR_FORMAT, "%s:%zu:%zu: empty column name", ps->src,
                             ps->fields[i].line, i + 1);
        memcpy(w, s, len);
        w[len] = '\0';
        ps->col_names[i] = w;
        w += len + 1;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(ps->col_names[i], ps->col_names[j]) == 0) {
                char b[64];
                return tg__error(ctx, TG_ERR_FORMAT,
                                 "%s:%zu:%zu: duplicate column name \"%s\" (also column %zu)",
                                 ps->src, ps->fields[i].line, i + 1,
                                 show(b, sizeof b, ps->col_names[i], strlen(ps->col_names[i])),
                                 j + 1);
            }
    return TG_OK;
}

static long find_col(const csv_parser *ps, const char *name)
{
    for (size_t i = 0; i < ps->n_cols; i++)
        if (strcmp(ps->col_names[i], name) == 0)
            return (long)i;
    return -1;
}

static tg_status missing_col(csv_parser *ps, const char *what, const char *name)
{
    char list[200];
    size_t k = 0;
    list[0] = '\0';
    for (size_t i = 0; i < ps->n_cols && k + 8 < sizeof list; i++) {
        int w = snprintf(list + k, sizeof list - k, "%s\"%s\"", i ? ", " : "", ps->col_names[i]);
        if (w < 0 || (size_t)w >= sizeof list - k) {
            k = sizeof list;
            break;
        }
        k += (size_t)w;
    }
    if (k >= sizeof list)
        memcpy(list + sizeof list - 5, " ...", 5);
    char b[64];
    return tg__error(ps->ctx, TG_ERR_NOT_FOUND, "%s: no %s column \"%s\"; the header has %s",
                     ps->src, what, show(b, sizeof b, name, strlen(name)), list);
}

static tg_status assign_roles(csv_parser *ps)
{
    const tg__csv_spec *sp = ps->spec;
    for (size_t i = 0; i < ps->n_cols; i++)
        ps->role[i] = ROLE_FEATURE;
    for (int t = 0; t < sp->n_targets; t++) {
        long c = find_col(ps, sp->targets[t]);
        if (c < 0)
            return missing_col(ps, "target", sp->targets[t]);
        ps->role[c] = ROLE_TARGET;
        ps->slot[c] = t;
    }
    for (int g = 0; g < sp->n_ignore; g++) {
        long c = find_col(ps, sp->ignore[g]);
        if (c < 0)
            return missing_col(ps, "ignored", sp->ignore[g]);
        ps->role[c] = ROLE_IGNORE;
    }
    int nfeat = 0;
    for (size_t i = 0; i < ps->n_cols; i++)
        if (ps->role[i] == ROLE_FEATURE)
            ps->slot[i] = nfeat++;
    if (nfeat == 0)
        return tg__error(ps->ctx, TG_ERR_FORMAT,
                         "%s: no feature columns (every column is a target or ignored)", ps->src);
    ps->n_features = nfeat;
    return TG_OK;
}

/* ---- classes ------------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static const char *slot_name(const csv_parser *ps, const class_slot *c)
{
    return ps->pool + c->off - 1;
}

static class_slot *class_find(csv_parser *ps, const char *s, size_t n, uint32_t h)
{
    size_t mask = ps->cls_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        class_slot *c = &ps->cls[i];
        if (!c->off || (c->hash == h && c->len == n && memcmp(slot_name(ps, c), s, n) == 0))
            return c;
    }
}

static tg_status class_grow(csv_parser *ps)
{
    size_t ncap = ps->cls_cap ? ps->cls_cap * 2 : 64;
    class_slot *nt = tg__calloc(ps->ctx, ncap, sizeof *nt);
    if (!nt)
        return nomem(ps);
    class_slot *old = ps->cls;
    size_t ocap = ps->cls_cap;
    ps->cls = nt;
    ps->cls_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].off)
            *class_find(ps, slot_name(ps, &old[i]), old[i].len, old[i].hash) = old[i];
    if (old)
        tg__free(ps->ctx, old);
    return TG_OK;
}

/* Add a class name seen at line:col (limit checked before growing). */
static tg_status class_add(csv_parser *ps, const char *s, size_t n, size_t line, size_t col)
{
    if (!ps->cls && class_grow(ps) != TG_OK)
        return TG_ERR_NOMEM;
    uint32_t h = hash_bytes(s, n);
    class_slot *c = class_find(ps, s, n, h);
    if (c->off)
        return TG_OK;
    if (ps->n_cls >= ps->lim.classes)
        return tg__error(ps->ctx, TG_ERR_LIMIT,
                         "%s:%zu:%zu: more than %zu classes in column \"%s\" (TG_CSV_MAX_CLASSES)",
                         ps->src, line, col + 1, ps->lim.classes, ps->col_names[col]);
    if (ps->pool_len + n + 1 > ps->pool_cap) {
        size_t ncap = ps->pool_cap ? ps->pool_cap : 1024;
        while (ncap < ps->pool_len + n + 1)
            ncap *= 2;
        char *np = tg__malloc(ps->ctx, ncap);
        if (!np)
            return nomem(ps);
        if (ps->pool_len)
            memcpy(np, ps->pool, ps->pool_len);
        if (ps->pool)
            tg__free(ps->ctx, ps->pool);
        ps->pool = np;
        ps->pool_cap = ncap;
    }
    memcpy(ps->pool + ps->pool_len, s, n);
    ps->pool[ps->pool_len + n] = '\0';
    c->off = (uint32_t)(ps->pool_len + 1);
    c->len = (uint32_t)n;
    c->hash = h;
    c->index = -1;
    ps->pool_len += n + 1;
    ps->n_cls++;
    if (ps->n_cls * 2 > ps->cls_cap)
        return class_grow(ps);
    return TG_OK;
}

typedef struct class_key {
    const char *name;
    double value;
    class_slot *slot;
} class_key;

static int cmp_numeric(const void *a, const void *b)
{
    const class_key *x = a, *y = b;
    if (x->value < y->value)
        return -1;
    if (x->value > y->value)
        return 1;
    return strcmp(x->name, y->name);
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(((const class_key *)a)->name, ((const class_key *)b)->name);
}

/* ---- passes ------------------------------------------------------------- */

/* One cell of a numeric column; store it at *dst when dst is not NULL. */
static tg_status number_cell(csv_parser *ps, const csv_field *f, size_t col, float *dst)
{
    size_t n;
    const char *s = field_text(ps, f, &n);
    char b[48];
    if (n == 0)
        return tg__error(ps->ctx, TG_ERR_FORMAT, "%s:%zu:%zu: empty cell (column \"%s\")",
                         ps->src, f->line, col + 1, ps->col_names[col]);
    double d;
    if (tg__csv_parse_double(s, n, &d) != 0)
        return tg__error(ps->ctx, TG_ERR_FORMAT, "%s:%zu:%zu: '%s' is not a number (column \"%s\")",
                         ps->src, f->line, col + 1, show(b, sizeof b, s, n), ps->col_names[col]);
    /* 2^128 - 2^103: the midpoint between FLT_MAX and 2^128; from here on
     * the float conversion would overflow (checked in double: converting an
     * out-of-range double is undefined behaviour in ISO C) */
    if (!(fabs(d) < 340282356779733661637539395458142568448.0))
        return tg__error(ps->ctx, TG_ERR_FORMAT,
                         "%s:%zu:%zu: '%s' is outside the float range (column \"%s\")", ps->src,
                         f->line, col + 1, show(b, sizeof b, s, n), ps->col_names[col]);
    if (dst)
        *dst = (float)d;
    return TG_OK;
}

/* pass 1 (out == NULL): check every record, count rows, collect classes;
 * pass 2: store values into out (allocated for exactly the counted rows). */
static tg_status scan(csv_parser *ps, const char *data_start, size_t data_line, tg__table *out,
                      size_t *n_rows)
{
    ps->p = data_start;
    ps->line = data_line;
    size_t r = 0;
    const tg__csv_spec *sp = ps->spec;
    while (ps->p < ps->end) {
        if (blank_line(ps)) {
            if (only_blank_from(ps->p, ps->end))
                break;
            return tg__error(ps->ctx, TG_ERR_FORMAT,
                             "%s:%zu: empty line inside the table (only trailing empty lines "
                             "are allowed)",
                             ps->src, ps->line);
        }
        size_t line = ps->line, nf;
        tg_status st = read_record(ps, ps->n_cols + 1, &nf);
        if (st != TG_OK)
            return st;
        if (nf != ps->n_cols)
            return tg__error(ps->ctx, TG_ERR_FORMAT, "%s:%zu: %zu fields, expected %zu (as in the header)",
                             ps->src, line, nf, ps->n_cols);
        if (r >= ps->lim.rows)
            return tg__error(ps->ctx, TG_ERR_LIMIT, "%s:%zu: more than %zu rows (TG_CSV_MAX_ROWS)",
                             ps->src, line, ps->lim.rows);
        for (size_t c = 0; c < ps->n_cols; c++) {
            const csv_field *f = &ps->fields[c];
            int slot = ps->slot[c];
            if (ps->role[c] == ROLE_IGNORE)
                continue;
            if (ps->role[c] == ROLE_FEATURE) {
                st = number_cell(ps, f, c,
                                 out ? &out->features[r * (size_t)ps->n_features + (size_t)slot]
                                     : NULL);
            } else if (sp->task == TG__CSV_REGRESSION) {
                st = number_cell(ps, f, c,
                                 out ? &out->targets[r * (size_t)sp->n_targets + (size_t)slot]
                                     : NULL);
            } else {
                size_t n;
                const char *s = field_text(ps, f, &n);
                if (n == 0)
                    return tg__error(ps->ctx, TG_ERR_FORMAT,
                                     "%s:%zu:%zu: empty cell (column \"%s\")", ps->src, f->line,
                                     c + 1, ps->col_names[c]);
                if (out) {
                    class_slot *cs = class_find(ps, s, n, hash_bytes(s, n));
                    out->labels[r] = cs->index;
                } else {
                    st = class_add(ps, s, n, f->line, c);
                }
            }
            if (st != TG_OK)
                return st;
        }
        r++;
    }
    if (r == 0)
        return tg__error(ps->ctx, TG_ERR_FORMAT, "%s: no data rows (only a header)", ps->src);
    *n_rows = r;
    return TG_OK;
}

/* ---- output ------------------------------------------------------------- */

void tg__table_free(tg_ctx *ctx, tg__table *t)
{
    if (!t)
        return;
    void *ptrs[] = {t->features, t->feature_names, t->target_names, t->labels,
                    t->targets,  t->class_names,   t->strings};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        if (ptrs[i])
            tg__free(ctx, ptrs[i]);
    memset(t, 0, sizeof *t);
}

/* Allocate the output and fill the names (classes sorted). */
static tg_status build_table(csv_parser *ps, size_t n_rows, tg__table *t)
{
    tg_ctx *ctx = ps->ctx;
    const tg__csv_spec *sp = ps->spec;
    bool cls = sp->task == TG__CSV_CLASSIFICATION;
    size_t per_row = (size_t)ps->n_features + (cls ? 0 : (size_t)sp->n_targets);
    if (n_rows > ps->lim.values / per_row)
        return tg__error(ctx, TG_ERR_LIMIT,
                         "%s: %zu rows x %zu values is over %zu values (TG_CSV_MAX_VALUES)",
                         ps->src, n_rows, per_row, ps->lim.values);
    size_t bytes = 0;
    for (size_t i = 0; i < ps->n_cols; i++)
        if (ps->role[i] != ROLE_IGNORE)
            bytes += strlen(ps->col_names[i]) + 1;
    if (cls)
        bytes += ps->pool_len;
    t->task = sp->task;
    t->n_rows = n_rows;
    t->n_features = ps->n_features;
    t->n_targets = sp->n_targets;
    t->features = tg__malloc(ctx, n_rows * (size_t)ps->n_features * sizeof(float));
    t->feature_names = tg__calloc(ctx, (size_t)ps->n_features, sizeof(char *));
    t->target_names = tg__calloc(ctx, (size_t)sp->n_targets, sizeof(char *));
    t->strings = tg__malloc(ctx, bytes);
    if (cls) {
        t->labels = tg__malloc(ctx, n_rows * sizeof(int32_t));
        t->class_names = tg__calloc(ctx, ps->n_cls, sizeof(char *));
    } else {
        t->targets = tg__malloc(ctx, n_rows * (size_t)sp->n_targets * sizeof(float));
    }
    if (!t->features || !t->feature_names || !t->target_names || !t->strings ||
        (cls ? (!t->labels || !t->class_names) : !t->targets))
        return nomem(ps);
    char *w = t->strings;
    for (size_t i = 0; i < ps->n_cols; i++) {
        if (ps->role[i] == ROLE_IGNORE)
            continue;
        size_t len = strlen(ps->col_names[i]) + 1;
        memcpy(w, ps->col_names[i], len);
        if (ps->role[i] == ROLE_FEATURE)
            t->feature_names[ps->slot[i]] = w;
        else
            t->target_names[ps->slot[i]] = w;
        w += len;
    }
    if (!cls)
        return TG_OK;
    class_key *keys = tg__malloc(ctx, ps->n_cls * sizeof *keys);
    if (!keys)
        return nomem(ps);
    size_t k = 0;
    bool numeric = true;
    for (size_t i = 0; i < ps->cls_cap; i++) {
        class_slot *c = &ps->cls[i];
        if (!c->off)
            continue;
        keys[k].name = slot_name(ps, c);
        keys[k].slot = c;
        keys[k].value = 0;
        if (numeric && tg__csv_parse_double(keys[k].name, c->len, &keys[k].value) != 0)
            numeric = false;
        k++;
    }
    qsort(keys, k, sizeof *keys, numeric ? cmp_numeric : cmp_bytes);
    for (size_t i = 0; i < k; i++) {
        size_t len = keys[i].slot->len + 1;
        memcpy(w, keys[i].name, len);
        t->class_names[i] = w;
        w += len;
        keys[i].slot->index = (int32_t)i;
    }
    t->n_classes = (int)k;
    tg__free(ctx, keys);
    return TG_OK;
}

static void parser_free(csv_parser *ps)
{
    void *ptrs[] = {ps->col_names, ps->names_blob, ps->role, ps->slot,
                    ps->fields,    ps->scratch,    ps->cls,  ps->pool};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        if (ptrs[i])
            tg__free(ps->ctx, ptrs[i]);
}

static size_t limit(size_t asked, size_t dflt) { return asked && asked < dflt ? asked : dflt; }

static tg_status check_spec(tg_ctx *ctx, const tg__csv_spec *sp)
{
    if (sp->task != TG__CSV_CLASSIFICATION && sp->task != TG__CSV_REGRESSION)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "csv: unknown task %d", (int)sp->task);
    if (sp->n_targets < 1 || !sp->targets)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "csv: no target column given");
    if (sp->task == TG__CSV_CLASSIFICATION && sp->n_targets != 1)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "csv: classification takes exactly one target column, got %d",
                         sp->n_targets);
    if (sp->n_targets > TG_CSV_MAX_COLUMNS || sp->n_ignore < 0 ||
        sp->n_ignore > TG_CSV_MAX_COLUMNS || (sp->n_ignore > 0 && !sp->ignore))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "csv: bad number of target or ignored columns");
    char d = sp->delimiter ? sp->delimiter : ',';
    if (d != ',' && d != ';' && d != '\t' && d != '|')
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "csv: delimiter 0x%02x not supported (use ',', ';', '\\t' or '|')",
                         (unsigned)(unsigned char)d);
    for (int i = 0; i < sp->n_targets + sp->n_ignore; i++) {
        const char *a = i < sp->n_targets ? sp->targets[i] : sp->ignore[i - sp->n_targets];
        if (!a)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "csv: NULL column name");
        for (int j = 0; j < i; j++) {
            const char *b = j < sp->n_targets ? sp->targets[j] : sp->ignore[j - sp->n_targets];
            if (strcmp(a, b) == 0)
                return tg__error(ctx, TG_ERR_INVALID_ARG,
                                 "csv: column \"%.100s\" named twice in the target and ignore "
                                 "lists",
                                 a);
        }
    }
    return TG_OK;
}

tg_status tg__csv_parse(tg_ctx *ctx, const char *text, size_t len, const char *source_name,
                        const tg__csv_spec *spec, tg__table *out)
{
    if (!ctx || (!text && len) || !spec || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "csv: NULL argument");
    tg_status st = check_spec(ctx, spec);
    if (st != TG_OK)
        return st;
    csv_parser ps;
    memset(&ps, 0, sizeof ps);
    ps.ctx = ctx;
    ps.src = source_name ? source_name : "<csv>";
    ps.spec = spec;
    ps.delim = spec->delimiter ? spec->delimiter : ',';
    ps.tab_is_space = ps.delim != '\t';
    const tg__csv_limits *l = spec->limits;
    ps.lim.file_bytes = limit(l ? l->file_bytes : 0, TG_CSV_MAX_FILE_BYTES);
    ps.lim.columns = limit(l ? l->columns : 0, TG_CSV_MAX_COLUMNS);
    ps.lim.rows = limit(l ? l->rows : 0, TG_CSV_MAX_ROWS);
    ps.lim.field_bytes = limit(l ? l->field_bytes : 0, TG_CSV_MAX_FIELD_BYTES);
    ps.lim.classes = limit(l ? l->classes : 0, TG_CSV_MAX_CLASSES);
    ps.lim.values = limit(l ? l->values : 0, TG_CSV_MAX_VALUES);
    if (len > ps.lim.file_bytes)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: larger than %zu bytes (TG_CSV_MAX_FILE_BYTES)",
                         ps.src, ps.lim.file_bytes);
    if (len == 0)
        return tg__error(ctx, TG_ERR_FORMAT, "%s: empty file (a header row is required)", ps.src);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        return tg__error(ctx, TG_ERR_FORMAT, "%s:%zu: contains a NUL byte", ps.src, line);
    }
    ps.text = text;
    ps.end = text + len;
    ps.p = text;
    ps.line = 1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3;

    tg__table t;
    memset(&t, 0, sizeof t);
    size_t n_rows = 0;
    ps.scratch = tg__malloc(ctx, ps.lim.field_bytes + 1);
    if (!ps.scratch)
        st = nomem(&ps);
    if (st == TG_OK)
        st = read_header(&ps);
    if (st == TG_OK)
        st = assign_roles(&ps);
    const char *data_start = ps.p;
    size_t data_line = ps.line;
    if (st == TG_OK)
        st = scan(&ps, data_start, data_line, NULL, &n_rows);
    if (st == TG_OK)
        st = build_table(&ps, n_rows, &t);
    size_t n2 = 0;
    if (st == TG_OK) {
        st = scan(&ps, data_start, data_line, &t, &n2);
        if (st == TG_OK && n2 != n_rows)
            st = tg__error(ctx, TG_ERR_STATE, "csv: internal error: row count changed");
    }
    parser_free(&ps);
    if (st != TG_OK) {
        tg__table_free(ctx, &t);
        return st;
    }
    *out = t;
    return TG_OK;
}

tg_status tg__csv_read(tg_ctx *ctx, const char *path, const tg__csv_spec *spec, tg__table *out)
{
    if (!ctx || !path || !spec || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "csv: NULL argument");
    tg_status st = check_spec(ctx, spec);
    if (st != TG_OK)
        return st;
    size_t max = limit(spec->limits ? spec->limits->file_bytes : 0, TG_CSV_MAX_FILE_BYTES);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tg__error(ctx, TG_ERR_IO, "csv: cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return tg__error(ctx, TG_ERR_IO, "csv: '%s' is not a regular file", path);
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)max) {
        fclose(fp);
        return tg__error(ctx, TG_ERR_LIMIT, "%s: larger than %zu bytes (TG_CSV_MAX_FILE_BYTES)",
                         path, max);
    }
    size_t size = (size_t)sb.st_size;
    char *buf = tg__malloc(ctx, size + 1);
    if (!buf) {
        fclose(fp);
        return tg__error(ctx, TG_ERR_NOMEM, "csv: out of memory");
    }
    size_t got = fread(buf, 1, size + 1, fp);
    bool err = ferror(fp) != 0;
    fclose(fp);
    if (err)
        st = tg__error(ctx, TG_ERR_IO, "csv: cannot read '%s'", path);
    else if (got != size)
        st = tg__error(ctx, TG_ERR_IO, "csv: '%s' changed size while being read", path);
    else
        st = tg__csv_parse(ctx, buf, size, path, spec, out);
    tg__free(ctx, buf);
    return st;
}
