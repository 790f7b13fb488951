/* SPDX-License-Identifier: MIT */
/* The module registry: named parameters, buffers and children, and the
 * recursive listings with PyTorch-style dotted names.
 *
 * Listings are served from a per-module cache (entries plus one block of
 * names) rebuilt only when the structure under that module changes. Every
 * structural change bumps a version counter on the module and on all its
 * ancestors, so a cache built on any module of the tree notices changes made
 * deep below it. Steady training steps therefore never allocate here. */
#include "nn_internal.h"

#include <stdio.h>

typedef struct {
    char *name;
    tg_tensor *t;
} named_tensor;

typedef struct {
    char *name;
    tg_module *m;
} named_child;

typedef struct {
    const char *name; /* points into the cache's name block */
    tg_tensor *t;
    bool is_param;
} cache_entry;

struct tg_module {
    tg__object obj; /* tracked by the ctx while it has no parent */
    const tg_module_vtable *vt;
    void *userdata;
    tg_ctx *ctx;
    tg_module *parent;
    bool training;

    named_tensor *params, *buffers;
    size_t n_params, cap_params, n_buffers, cap_buffers;
    named_child *children;
    size_t n_children, cap_children;

    uint64_t version;       /* bumped on any structural change in this subtree */
    uint64_t cache_version; /* version the cache was built at */
    bool cache_valid;
    cache_entry *state;     /* params and buffers, depth-first */
    size_t n_state;
    size_t *param_idx;      /* indices into state of the parameters */
    size_t n_param_idx;
    char *names;            /* NUL-separated dotted names */

    char **meta;            /* key, value pairs (tg_module_set_metadata), 2*n_meta */
    size_t n_meta;
};

static char *dup_str(tg_ctx *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tg__malloc(ctx, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Grow a registry array so it holds at least one more element. */
static bool reserve(tg_ctx *ctx, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t new_cap = *cap ? *cap * 2 : 4, bytes;
    if (!tg__mul_size(new_cap, elem, &bytes))
        return false;
    void *p = tg__malloc(ctx, bytes);
    if (!p)
        return false;
    if (*arr)
        memcpy(p, *arr, n * elem);
    tg__free(ctx, *arr);
    *arr = p;
    *cap = new_cap;
    return true;
}

static void touch(tg_module *m)
{
    for (; m; m = m->parent)
        m->version++;
}

static void free_cache(tg_module *m)
{
    tg__free(m->ctx, m->state);
    tg__free(m->ctx, m->param_idx);
    tg__free(m->ctx, m->names);
    m->state = NULL;
    m->param_idx = NULL;
    m->names = NULL;
    m->n_state = m->n_param_idx = 0;
    m->cache_valid = false;
}

static void module_release(tg__object *o);

tg_status tg_module_create(tg_ctx *ctx, const tg_module_vtable *vtable, void *userdata,
                           tg_module **out)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "module_create: out is NULL");
    if (!vtable)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "module_create: vtable is NULL");
    if (vtable->struct_size < offsetof(tg_module_vtable, forward) + sizeof vtable->forward ||
        vtable->struct_size > sizeof(tg_module_vtable))
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "module_create: vtable struct_size %zu is not sizeof(tg_module_vtable) "
                         "(%zu)",
                         vtable->struct_size, sizeof(tg_module_vtable));
    if (!vtable->type_name || !vtable->type_name[0])
        return tg__error(ctx, TG_ERR_INVALID_ARG, "module_create: vtable has no type_name");
    tg_module *m = tg__calloc(ctx, 1, sizeof *m);
    if (!m)
        return tg__error(ctx, TG_ERR_NOMEM, "module_create: out of memory");
    m->vt = vtable;
    m->userdata = userdata;
    m->ctx = ctx;
    m->training = true;
    tg__object_track(ctx, &m->obj, module_release);
    *out = m;
    return TG_OK;
}

static void destroy_tree(tg_module *m)
{
    tg_ctx *ctx = m->ctx;
    for (size_t i = 0; i < m->n_children; i++) {
        destroy_tree(m->children[i].m);
        tg__free(ctx, m->children[i].name);
    }
    named_tensor *lists[2] = {m->params, m->buffers};
    size_t counts[2] = {m->n_params, m->n_buffers};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < counts[k]; i++) {
            tg__tensor_free(lists[k][i].t);
            tg__free(ctx, lists[k][i].name);
        }
    free_cache(m);
    for (size_t i = 0; i < 2 * m->n_meta; i++)
        tg__free(ctx, m->meta[i]);
    tg__free(ctx, m->meta);
    tg__free(ctx, m->params);
    tg__free(ctx, m->buffers);
    tg__free(ctx, m->children);
    if (m->vt->struct_size >= offsetof(tg_module_vtable, destroy_userdata) +
                                  sizeof m->vt->destroy_userdata &&
        m->vt->destroy_userdata)
        m->vt->destroy_userdata(m->userdata);
    tg__free(ctx, m);
}

/* Lifetime check before a destroy: the first tensor of the tree that a live
 * optimiser holds (refuse), else whether the step's graph uses one (defer). */
static const tg_module *find_user(const tg_module *m, const char **name, bool *graph)
{
    for (int k = 0; k < 2; k++) {
        const named_tensor *arr = k == 0 ? m->params : m->buffers;
        size_t n = k == 0 ? m->n_params : m->n_buffers;
        for (size_t i = 0; i < n; i++) {
            if (arr[i].t->users) {
                *name = arr[i].name;
                return m;
            }
            if (arr[i].t->used_step == m->ctx->step)
                *graph = true;
        }
    }
    for (size_t i = 0; i < m->n_children; i++) {
        const tg_module *u = find_user(m->children[i].m, name, graph);
        if (u)
            return u;
    }
    return NULL;
}

void tg_module_destroy(tg_module *m)
{
    if (!m)
        return;
    tg_ctx *ctx = m->ctx;
    int e = tg__enter(ctx, "module_destroy");
    if (e < 0)
        return;
    const char *name = NULL;
    bool graph = false;
    const tg_module *u = m->parent ? NULL : find_user(m, &name, &graph);
    if (m->parent)
        tg__error(ctx, TG_ERR_BUSY,
                  "module_destroy: this %s is a child of a %s, which frees it (destroy the root)",
                  m->vt->type_name, m->parent->vt->type_name);
    else if (u)
        tg__error(ctx, TG_ERR_BUSY,
                  "module_destroy: %s: tensor \"%s\" of a %s is held by a live optimiser "
                  "(destroy the optimiser first)",
                  m->vt->type_name, name, u->vt->type_name);
    else if (graph)
        tg__object_defer(ctx, &m->obj); /* the step's graph reads its tensors */
    else {
        tg__object_untrack(ctx, &m->obj);
        destroy_tree(m);
    }
    tg__leave(ctx, e);
}

/* Called by tg_ctx_destroy() for a root module the caller left alive. */
static void module_release(tg__object *o) { destroy_tree((tg_module *)o); }

void *tg_module_userdata(const tg_module *m) { return m ? m->userdata : NULL; }

const char *tg_module_type(const tg_module *m) { return m ? m->vt->type_name : NULL; }

tg_ctx *tg_module_ctx(const tg_module *m) { return m ? m->ctx : NULL; }

/* ---- registration ------------------------------------------------------- */

static bool name_taken(const tg_module *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name))
            return true;
    for (size_t i = 0; i < m->n_buffers; i++)
        if (!strcmp(m->buffers[i].name, name))
            return true;
    for (size_t i = 0; i < m->n_children; i++)
        if (!strcmp(m->children[i].name, name))
            return true;
    return false;
}

/* Validates a new member name of m; records the error naming @p who. */
static tg_status check_name(tg_module *m, const char *who, const char *name)
{
    if (!name)
        return tg__error(m->ctx, TG_ERR_INVALID_ARG, "%s: name is NULL", who);
    if (!name[0])
        return tg__error(m->ctx, TG_ERR_INVALID_ARG, "%s: name is empty", who);
    if (strchr(name, '.'))
        return tg__error(m->ctx, TG_ERR_INVALID_ARG, "%s: name \"%s\" contains a dot", who,
                         name);
    if (name_taken(m, name))
        return tg__error(m->ctx, TG_ERR_INVALID_ARG, "%s: %s already has a member named \"%s\"",
                         who, m->vt->type_name, name);
    return TG_OK;
}

static tg_status add_tensor(tg_module *m, const char *who, const char *name, int ndim,
                            const int64_t *shape, tg_tensor **out, bool is_param)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = m->ctx;
    if (!out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: out is NULL", who);
    tg_status s = check_name(m, who, name);
    if (s != TG_OK)
        return s;
    named_tensor **arr = is_param ? &m->params : &m->buffers;
    size_t *n = is_param ? &m->n_params : &m->n_buffers;
    size_t *cap = is_param ? &m->cap_params : &m->cap_buffers;
    if (!reserve(ctx, (void **)arr, cap, *n, sizeof **arr))
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    char *dup = dup_str(ctx, name);
    if (!dup)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    tg_tensor *t = NULL;
    s = tg_tensor_create(ctx, ndim, shape, &t);
    if (s != TG_OK) {
        tg__free(ctx, dup);
        /* tg_tensor_create's message names tensor_create; name our call too. */
        char msg[TG_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ctx->errmsg);
        return tg__error(ctx, s, "%s \"%s\": %s", who, name, msg);
    }
    t->requires_grad = is_param;
    t->in_module = true;
    (*arr)[*n].name = dup;
    (*arr)[*n].t = t;
    (*n)++;
    touch(m);
    *out = t;
    return TG_OK;
}

tg_status tg_module_add_param(tg_module *m, const char *name, int ndim, const int64_t *shape,
                              tg_tensor **out)
{
    return add_tensor(m, "module_add_param", name, ndim, shape, out, true);
}

tg_status tg_module_add_buffer(tg_module *m, const char *name, int ndim, const int64_t *shape,
                               tg_tensor **out)
{
    return add_tensor(m, "module_add_buffer", name, ndim, shape, out, false);
}

tg_status tg_module_add_child(tg_module *m, const char *name, tg_module *child)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = m->ctx;
    const char *who = "module_add_child";
    if (!child)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: child is NULL", who);
    if (child->ctx != ctx)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: child belongs to another context", who);
    if (child->parent)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: child %s already has an owner", who,
                         child->vt->type_name);
    for (const tg_module *a = m; a; a = a->parent)
        if (a == child)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: adding %s under itself would make a cycle", who,
                             child->vt->type_name);
    tg_status s = check_name(m, who, name);
    if (s != TG_OK)
        return s;
    if (!reserve(ctx, (void **)&m->children, &m->cap_children, m->n_children,
                 sizeof *m->children))
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    char *dup = dup_str(ctx, name);
    if (!dup)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    m->children[m->n_children].name = dup;
    m->children[m->n_children].m = child;
    m->n_children++;
    child->parent = m;
    tg__object_untrack(ctx, &child->obj); /* the parent frees it now */
    touch(m);
    return TG_OK;
}

size_t tg_module_n_children(const tg_module *m) { return m ? m->n_children : 0; }

tg_module *tg_module_child(const tg_module *m, size_t i)
{
    return m && i < m->n_children ? m->children[i].m : NULL;
}

static tg_module *child_n(const tg_module *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n_children; i++)
        if (!strncmp(m->children[i].name, name, len) && m->children[i].name[len] == '\0')
            return m->children[i].m;
    return NULL;
}

tg_module *tg_module_child_by_name(const tg_module *m, const char *name)
{
    return m && name ? child_n(m, name, strlen(name)) : NULL;
}

/* ---- forward ------------------------------------------------------------ */

/* Dotted name of m below its root ("features.0"), or its type name for a
 * root; always NUL-terminated, truncated to size. */
void tg__module_path(const tg_module *m, char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    if (!m->parent) {
        snprintf(buf, size, "%s", m->vt->type_name);
        return;
    }
    /* Collect the names leaf to root, then write them root first. */
    const char *parts[64];
    int n = 0;
    for (const tg_module *c = m; c->parent && n < 64; c = c->parent)
        for (size_t i = 0; i < c->parent->n_children; i++)
            if (c->parent->children[i].m == c) {
                parts[n++] = c->parent->children[i].name;
                break;
            }
    size_t len = 0;
    while (n-- > 0 && len + 1 < size) {
        int w = snprintf(buf + len, size - len, "%s%s", len ? "." : "", parts[n]);
        if (w < 0)
            break;
        len += (size_t)w < size - len ? (size_t)w : size - len - 1;
    }
}

/* run(m, ctx, x, arg) counted as m's forward by the profiler: the ops'
 * results belong to m, and m's row gets the time. */
static tg_tensor *profiled(tg_module *m, tg_ctx *ctx, tg_tensor *x, tg__nn_run_fn run,
                           void *arg)
{
    uint64_t t0 = ctx->prof_on ? tg__now_ns() : 0;
    const tg_module *outer = ctx->prof_module;
    ctx->prof_module = m;
    tg_tensor *y = run(m, ctx, x, arg);
    ctx->prof_module = outer;
    if (ctx->prof_on) {
        uint64_t ns = tg__now_ns() - t0;
        char path[256];
        tg__module_path(m, path, sizeof path);
        tg__prof_module(ctx, m, path, t0, ns);
    }
    return y;
}

static tg_tensor *run_forward(tg_module *m, tg_ctx *ctx, tg_tensor *x, void *arg)
{
    (void)arg;
    return m->vt->forward(m, ctx, x);
}

/* Forward with the profiler or a trace watching (ctx->observe). */
static tg_tensor *forward_observed(tg_module *m, tg_ctx *ctx, tg_tensor *x)
{
    int call = ctx->trace ? tg__trace_call_begin(ctx, m, x) : -1;
    tg_tensor *y = profiled(m, ctx, x, run_forward, NULL);
    if (ctx->trace)
        tg__trace_call_end(ctx, call, y);
    return y;
}

tg_tensor *tg__nn_run_as(tg_module *m, tg_tensor *x, tg__nn_run_fn run, void *arg)
{
    tg_ctx *ctx = m->ctx;
    return ctx->prof_on ? profiled(m, ctx, x, run, arg) : run(m, ctx, x, arg);
}

tg_tensor *tg_module_forward(tg_module *m, tg_tensor *x)
{
    if (!m)
        return NULL;
    tg_ctx *ctx = m->ctx;
    if (tg__null_input(ctx, m->vt->type_name, 1, x))
        return NULL;
    if (!m->vt->forward) {
        tg__error(ctx, TG_ERR_STATE, "%s: module type has no forward function",
                  m->vt->type_name);
        return NULL;
    }
    int e = tg__enter(ctx, "module_forward");
    if (e < 0)
        return NULL;
    tg_tensor *y = ctx->observe ? forward_observed(m, ctx, x) : m->vt->forward(m, ctx, x);
    if (!y && ctx->status == TG_OK)
        tg__error(ctx, TG_ERR_STATE, "%s: forward returned NULL without reporting an error",
                  m->vt->type_name);
    tg__leave(ctx, e);
    return y;
}

/* ---- recursive listings -------------------------------------------------- */

/* Counts entries and the bytes of their dotted names; *max_prefix receives
 * the longest "a.b." prefix, for the scratch buffer fill_entries() needs. */
static void count_tree(const tg_module *m, size_t *n_params, size_t *n_state, size_t *name_bytes,
                       size_t *max_prefix, size_t prefix)
{
    if (prefix > *max_prefix)
        *max_prefix = prefix;
    for (size_t i = 0; i < m->n_params; i++)
        *name_bytes += prefix + strlen(m->params[i].name) + 1;
    for (size_t i = 0; i < m->n_buffers; i++)
        *name_bytes += prefix + strlen(m->buffers[i].name) + 1;
    *n_params += m->n_params;
    *n_state += m->n_params + m->n_buffers;
    for (size_t i = 0; i < m->n_children; i++)
        count_tree(m->children[i].m, n_params, n_state, name_bytes, max_prefix,
                   prefix + strlen(m->children[i].name) + 1);
}

/* Appends m's entries (own params, own buffers, then children's, as
 * PyTorch's state_dict) to root's cache; prefix[0..plen) is "a.b.". */
static void fill_entries(tg_module *root, char **pos, const tg_module *m, char *prefix,
                         size_t plen)
{
    for (int k = 0; k < 2; k++) {
        const named_tensor *arr = k == 0 ? m->params : m->buffers;
        size_t n = k == 0 ? m->n_params : m->n_buffers;
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(arr[i].name);
            memcpy(*pos, prefix, plen);
            memcpy(*pos + plen, arr[i].name, len + 1);
            if (k == 0)
                root->param_idx[root->n_param_idx++] = root->n_state;
            root->state[root->n_state++] = (cache_entry){*pos, arr[i].t, k == 0};
            *pos += plen + len + 1;
        }
    }
    for (size_t i = 0; i < m->n_children; i++) {
        size_t clen = strlen(m->children[i].name);
        memcpy(prefix + plen, m->children[i].name, clen);
        prefix[plen + clen] = '.';
        fill_entries(root, pos, m->children[i].m, prefix, plen + clen + 1);
    }
}

/* Rebuild m's listing cache if the structure below m changed. */
static bool ensure_cache(tg_module *m)
{
    if (m->cache_valid && m->cache_version == m->version)
        return true;
    free_cache(m);
    size_t n_params = 0, n_state = 0, name_bytes = 0, max_prefix = 0;
    count_tree(m, &n_params, &n_state, &name_bytes, &max_prefix, 0);
    m->state = tg__calloc(m->ctx, n_state ? n_state : 1, sizeof *m->state);
    m->param_idx = tg__calloc(m->ctx, n_params ? n_params : 1, sizeof *m->param_idx);
    m->names = tg__malloc(m->ctx, name_bytes ? name_bytes : 1);
    char *prefix = tg__malloc(m->ctx, max_prefix + 1);
    if (!m->state || !m->param_idx || !m->names || !prefix) {
        tg__free(m->ctx, prefix);
        free_cache(m);
        tg__error(m->ctx, TG_ERR_NOMEM, "module: out of memory listing parameters");
        return false;
    }
    char *pos = m->names;
    fill_entries(m, &pos, m, prefix, 0);
    tg__free(m->ctx, prefix);
    m->cache_valid = true;
    m->cache_version = m->version;
    return true;
}

size_t tg_module_n_params(const tg_module *m)
{
    if (!m)
        return 0;
    size_t np = 0, ns = 0, nb = 0, mp = 0;
    count_tree(m, &np, &ns, &nb, &mp, 0);
    return np;
}

size_t tg_module_n_state(const tg_module *m)
{
    if (!m)
        return 0;
    size_t np = 0, ns = 0, nb = 0, mp = 0;
    count_tree(m, &np, &ns, &nb, &mp, 0);
    return ns;
}

tg_tensor *tg_module_param(tg_module *m, size_t i, const char **name)
{
    if (!m || !ensure_cache(m) || i >= m->n_param_idx)
        return NULL;
    const cache_entry *e = &m->state[m->param_idx[i]];
    if (name)
        *name = e->name;
    return e->t;
}

tg_tensor *tg_module_state(tg_module *m, size_t i, const char **name, bool *is_param)
{
    if (!m || !ensure_cache(m) || i >= m->n_state)
        return NULL;
    const cache_entry *e = &m->state[i];
    if (name)
        *name = e->name;
    if (is_param)
        *is_param = e->is_param;
    return e->t;
}

tg_tensor *tg_module_find(tg_module *m, const char *dotted_name)
{
    if (!m || !dotted_name)
        return NULL;
    const char *s = dotted_name;
    for (const char *dot; (dot = strchr(s, '.')) != NULL; s = dot + 1) {
        m = child_n(m, s, (size_t)(dot - s));
        if (!m)
            return NULL;
    }
    for (size_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, s))
            return m->params[i].t;
    for (size_t i = 0; i < m->n_buffers; i++)
        if (!strcmp(m->buffers[i].name, s))
            return m->buffers[i].t;
    return NULL;
}

int64_t tg_module_n_weights(const tg_module *m)
{
    if (!m)
        return 0;
    int64_t n = 0;
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].t->requires_grad)
            n += m->params[i].t->numel;
    for (size_t i = 0; i < m->n_children; i++)
        n += tg_module_n_weights(m->children[i].m);
    return n;
}

/* ---- modes and gradients ------------------------------------------------- */

void tg_module_train(tg_module *m, bool training)
{
    if (!m)
        return;
    m->training = training;
    for (size_t i = 0; i < m->n_children; i++)
        tg_module_train(m->children[i].m, training);
}

bool tg_module_is_training(const tg_module *m) { return m && m->training; }

void tg_module_zero_grad(tg_module *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_params; i++)
        tg_tensor_zero_grad(m->params[i].t);
    for (size_t i = 0; i < m->n_children; i++)
        tg_module_zero_grad(m->children[i].m);
}

/* ---- metadata ------------------------------------------------------------ */

#define TG_META_MAX_ENTRIES 256
#define TG_META_MAX_LEN 65536

tg_status tg_module_set_metadata(tg_module *m, const char *key, const char *value)
{
    if (!m)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = m->ctx;
    const char *who = "module_set_metadata";
    if (!key || !key[0])
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: key is NULL or empty", who);
    if (strlen(key) > 256 || (value && strlen(value) > TG_META_MAX_LEN))
        return tg__error(ctx, TG_ERR_LIMIT,
                         "%s: key \"%.32s...\" or its value is too long (key at most 256 "
                         "bytes, value at most %d)",
                         who, key, TG_META_MAX_LEN);
    size_t i = 0;
    while (i < m->n_meta && strcmp(m->meta[2 * i], key) != 0)
        i++;
    if (!value) { /* remove */
        if (i < m->n_meta) {
            tg__free(ctx, m->meta[2 * i]);
            tg__free(ctx, m->meta[2 * i + 1]);
            memmove(&m->meta[2 * i], &m->meta[2 * i + 2],
                    (m->n_meta - i - 1) * 2 * sizeof *m->meta);
            m->n_meta--;
        }
        return TG_OK;
    }
    char *v = dup_str(ctx, value);
    if (!v)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    if (i < m->n_meta) {
        tg__free(ctx, m->meta[2 * i + 1]);
        m->meta[2 * i + 1] = v;
        return TG_OK;
    }
    if (m->n_meta == TG_META_MAX_ENTRIES) {
        tg__free(ctx, v);
        return tg__error(ctx, TG_ERR_LIMIT, "%s: a module holds at most %d metadata entries",
                         who, TG_META_MAX_ENTRIES);
    }
    char *k = dup_str(ctx, key);
    char **arr = k ? tg__malloc(ctx, (m->n_meta + 1) * 2 * sizeof *arr) : NULL;
    if (!arr) {
        tg__free(ctx, k);
        tg__free(ctx, v);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    if (m->n_meta)
        memcpy(arr, m->meta, m->n_meta * 2 * sizeof *arr);
    tg__free(ctx, m->meta);
    arr[2 * m->n_meta] = k;
    arr[2 * m->n_meta + 1] = v;
    m->meta = arr;
    m->n_meta++;
    return TG_OK;
}

const char *tg_module_metadata(const tg_module *m, const char *key)
{
    if (!m || !key)
        return NULL;
    for (size_t i = 0; i < m->n_meta; i++)
        if (!strcmp(m->meta[2 * i], key))
            return m->meta[2 * i + 1];
    return NULL;
}

size_t tg_module_n_metadata(const tg_module *m) { return m ? m->n_meta : 0; }

const char *tg_module_metadata_at(const tg_module *m, size_t i, const char **value)
{
    if (!m || i >= m->n_meta)
        return NULL;
    if (value)
        *value = m->meta[2 * i + 1];
    return m->meta[2 * i];
}

/* ---- tracing (ONNX export, summaries) -------------------------------------- */

static size_t count_modules(const tg_module *m)
{
    size_t n = 1;
    for (size_t i = 0; i < m->n_children; i++)
        n += count_modules(m->children[i].m);
    return n;
}

static void save_training(const tg_module *m, bool *flags, size_t *k)
{
    flags[(*k)++] = m->training;
    for (size_t i = 0; i < m->n_children; i++)
        save_training(m->children[i].m, flags, k);
}

static void restore_training(tg_module *m, const bool *flags, size_t *k)
{
    m->training = flags[(*k)++];
    for (size_t i = 0; i < m->n_children; i++)
        restore_training(m->children[i].m, flags, k);
}

tg_status tg__module_trace(tg_module *m, const char *who, int ndim, const int64_t *shape,
                           tg__trace *tr, tg_tensor **x_out, tg_tensor **y_out)
{
    tg_ctx *ctx = m->ctx;
    if (ctx->trace)
        return tg__error(ctx, TG_ERR_STATE, "%s: a trace is already being recorded", who);
    if (!shape || ndim < 1 || ndim > TG_MAX_DIMS)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad input rank %d (1..%d)", who, ndim,
                         TG_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) {
            char b[160];
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: input shape %s must have positive dimensions", who,
                             tg__shape_str(b, sizeof b, ndim, shape));
        }
    size_t n_mod = count_modules(m), k = 0;
    bool *flags = tg__malloc(ctx, n_mod * sizeof *flags);
    if (!flags)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    save_training(m, flags, &k);
    bool grad = ctx->grad_enabled;

    memset(tr, 0, sizeof *tr);
    tr->cur = -1;
    tg_tensor *x = tg_zeros(ctx, ndim, shape);
    tg_tensor *y = NULL;
    if (x) {
        x->requires_grad = true; /* every op on the input records its sources */
        tg_module_train(m, false);
        ctx->grad_enabled = true;
        ctx->trace = tr;
        ctx->observe = true;
        y = tg_module_forward(m, x);
        ctx->trace = NULL;
        ctx->observe = ctx->prof_on;
        ctx->grad_enabled = grad;
        k = 0;
        restore_training(m, flags, &k);
    }
    tg__free(ctx, flags);
    if (!y) {
        tg__trace_free(ctx, tr);
        char msg[TG_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ctx->errmsg);
        return tg__error(ctx, ctx->status != TG_OK ? ctx->status : TG_ERR_STATE,
                         "%s: the forward pass on a zero input failed: %s", who, msg);
    }
    if (tr->oom) {
        tg__trace_free(ctx, tr);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory recording the forward pass",
                         who);
    }
    *x_out = x;
    *y_out = y;
    return TG_OK;
}
