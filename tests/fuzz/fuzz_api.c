/* SPDX-License-Identifier: MIT */
/* API-sequence fuzzer: the input is a program of public API calls over a few
 * handle slots: tensors (transient, persistent, module-owned; kept across
 * resets, so ops run on stale handles), modules (Linear, Conv2d, ReLU,
 * Sequential), optimisers (over a module or a tensor list), data sets
 * (create, subset, split) and batch iterators, with ops, backward, steps,
 * resets, save/load to a temporary file and destroys in any order.
 *
 * The harness plays a caller who keeps exactly the duties docs/memory.md
 * leaves to callers: it never destroys a handle twice and never uses a
 * handle after a destroy the library accepted (a refused destroy, status
 * TG_ERR_BUSY, keeps the handle). Everything else is fair game, and the
 * library must answer with a result or a status and a message, never a
 * crash or a sanitizer report. Invariants checked on top:
 *  - a transient tensor made one reset ago is refused (TG_ERR_MISUSE);
 *  - a refused destroy frees nothing (the handle keeps working);
 *  - tg_ctx_destroy() releases everything (LeakSanitizer). */
#include "fuzz_common.h"

#define NT 8 /* tensor slots */
#define NM 4 /* module slots */
#define NO 2 /* optimiser slots */
#define ND 3 /* data set slots */
#define NI 2 /* iterator slots */

enum { T_EMPTY, T_TRANSIENT, T_PERSISTENT, T_OWNED };

typedef struct {
    tg_tensor *t;
    int kind;
    uint64_t step;  /* transient: step made in */
    int owner;      /* T_OWNED: module slot whose tree owns it */
} tslot;

typedef struct {
    tg_module *m;
    int parent;     /* module slot of the parent, or -1 */
    int64_t in;     /* Linear: in_features; Conv2d: in_channels; else 0 */
    bool conv;
} mslot;

typedef struct vm {
    tg_ctx *ctx;
    fz_reader r;
    uint64_t step;
    tslot t[NT];
    mslot m[NM];
    tg_optim *o[NO];
    tg_dataset *d[ND];
    tg_batch_iter *it[NI];
    int it_ds[NI];
} vm;

static int pick(vm *v, int n) { return fz_u8(&v->r) % n; }

static void expect_error(vm *v)
{
    FUZZ_CHECK_ERROR(v->ctx);
    tg_ctx_clear_error(v->ctx);
}

/* Store an op result (NULL: the call must have said why). */
static void put(vm *v, int slot, tg_tensor *t)
{
    if (!t) {
        expect_error(v);
        return;
    }
    /* An op may hand back its (persistent) input, e.g. an empty Sequential:
     * not stored, so no slot holds a second handle that could outlive a
     * destroy. A persistent handle overwritten here is freed by tg_ctx_destroy. */
    if (tg_tensor_is_persistent(t))
        return;
    v->t[slot] = (tslot){t, T_TRANSIENT, v->step, -1};
}

static tg_tensor *tget(vm *v, int i) { return v->t[i].t; }

static bool one_step_stale(const vm *v, int i)
{
    return v->t[i].kind == T_TRANSIENT && v->t[i].step + 1 == v->step;
}

static int root_of(const vm *v, int mi)
{
    while (v->m[mi].parent >= 0)
        mi = v->m[mi].parent;
    return mi;
}

/* After an accepted destroy of root module slot r: forget its tree. */
static void forget_tree(vm *v, int r)
{
    int roots[NM];
    for (int i = 0; i < NM; i++)
        roots[i] = v->m[i].m ? root_of(v, i) : -1;
    for (int i = 0; i < NM; i++)
        if (roots[i] == r) {
            for (int k = 0; k < NT; k++)
                if (v->t[k].kind == T_OWNED && v->t[k].owner == i)
                    v->t[k] = (tslot){0};
            v->m[i] = (mslot){0};
            v->m[i].parent = -1;
        }
}

static void op_unary(vm *v)
{
    int a = pick(v, NT), dst = pick(v, NT), which = pick(v, 8);
    tg_tensor *x = tget(v, a), *y = NULL;
    bool stale = x && one_step_stale(v, a);
    switch (which) {
    case 0: y = tg_relu(v->ctx, x); break;
    case 1: y = tg_sum_all(v->ctx, x); break;
    case 2: y = tg_sigmoid(v->ctx, x); break;
    case 3: y = tg_mul_scalar(v->ctx, x, 0.5f); break;
    case 4: y = tg_detach(v->ctx, x); break;
    case 5: y = tg_flatten(v->ctx, x, 0, -1); break;
    case 6: y = tg_softmax(v->ctx, x, -1); break;
    default: y = tg_mean_all(v->ctx, x); break;
    }
    if (stale && y && getenv("FUZZ_API_TRACE"))
        fprintf(stderr, "unary %d on slot %d (kind %d, step %llu) succeeded\n", which, a,
                v->t[a].kind, (unsigned long long)v->t[a].step);
    if (stale) {
        FUZZ_CHECK(y == NULL);
        FUZZ_CHECK(tg_ctx_last_status(v->ctx) == TG_ERR_MISUSE);
    }
    put(v, dst, y);
}

static void op_binary(vm *v)
{
    int a = pick(v, NT), b = pick(v, NT), dst = pick(v, NT), which = pick(v, 4);
    tg_tensor *x = tget(v, a), *y = tget(v, b), *z = NULL;
    bool stale = (x && one_step_stale(v, a)) || (y && one_step_stale(v, b));
    switch (which) {
    case 0: z = tg_add(v->ctx, x, y); break;
    case 1: z = tg_mul(v->ctx, x, y); break;
    case 2: z = tg_matmul(v->ctx, x, y); break;
    default: z = tg_sub(v->ctx, x, y); break;
    }
    if (stale) {
        FUZZ_CHECK(z == NULL);
        FUZZ_CHECK(tg_ctx_last_status(v->ctx) == TG_ERR_MISUSE);
    }
    put(v, dst, z);
}

static void make_tensor(vm *v)
{
    int dst = pick(v, NT), how = pick(v, 4);
    int64_t shape[4];
    int nd = 1 + pick(v, 4);
    for (int i = 0; i < nd; i++)
        shape[i] = 1 + pick(v, 4);
    tg_tensor *t = NULL;
    if (how == 0) {
        if (v->t[dst].kind == T_PERSISTENT)
            return; /* keep the slot's handle; ctx frees it at the end */
        if (tg_tensor_create(v->ctx, nd, shape, &t) != TG_OK) {
            expect_error(v);
            return;
        }
        tg_tensor_uniform_(t, -1, 1);
        FUZZ_CHECK(tg_tensor_set_requires_grad(t, fz_u8(&v->r) & 1) == TG_OK);
        v->t[dst] = (tslot){t, T_PERSISTENT, 0, -1};
        return;
    }
    if (v->t[dst].kind == T_PERSISTENT)
        return;
    if (how == 1) {
        /* an input that fits module slot mi */
        int mi = pick(v, NM);
        if (v->m[mi].m && v->m[mi].in > 0) {
            if (v->m[mi].conv) {
                int64_t s[4] = {1 + pick(v, 3), v->m[mi].in, 3 + pick(v, 4), 3 + pick(v, 4)};
                t = tg_rand(v->ctx, 4, s, -1, 1);
            } else {
                int64_t s[2] = {1 + pick(v, 4), v->m[mi].in};
                t = tg_rand(v->ctx, 2, s, -1, 1);
            }
            put(v, dst, t);
            return;
        }
    }
    put(v, dst, tg_randn(v->ctx, nd, shape, 0, 1));
}

static void make_module(vm *v)
{
    int dst = pick(v, NM), kind = pick(v, 4);
    if (v->m[dst].m)
        return; /* keep the handle; the ctx frees it at the end */
    tg_module *m = NULL;
    tg_status s;
    int64_t in = 1 + pick(v, 4), out = 1 + pick(v, 4);
    bool conv = false;
    switch (kind) {
    case 0: s = tg_linear_create(v->ctx, in, out, fz_u8(&v->r) & 1, &m); break;
    case 1:
        s = tg_conv2d_create(v->ctx, in, out, 1 + 2 * pick(v, 2), 1, pick(v, 2), 1, 1, true, &m);
        conv = true;
        break;
    case 2: s = tg_relu_create(v->ctx, &m); in = 0; break;
    default: s = tg_sequential_create(v->ctx, &m); in = 0; break;
    }
    if (s != TG_OK) {
        expect_error(v);
        return;
    }
    v->m[dst] = (mslot){m, -1, in, conv};
    /* expose a parameter as a tensor handle */
    int ts = pick(v, NT);
    if (tg_module_n_params(m) && v->t[ts].kind != T_PERSISTENT) {
        tg_tensor *p = tg_module_param(m, 0, NULL);
        FUZZ_CHECK(p);
        v->t[ts] = (tslot){p, T_OWNED, 0, dst};
    }
}

static void seq_append(vm *v)
{
    int a = pick(v, NM), b = pick(v, NM);
    if (!v->m[a].m || !v->m[b].m)
        return;
    if (tg_sequential_append(v->m[a].m, v->m[b].m) == TG_OK) {
        FUZZ_CHECK(a != b);
        v->m[b].parent = a;
        if (v->m[a].in == 0 && v->m[b].in > 0) { /* first layer decides the input */
            v->m[a].in = v->m[b].in;
            v->m[a].conv = v->m[b].conv;
        }
    } else {
        expect_error(v);
    }
}

static void forward(vm *v)
{
    int mi = pick(v, NM), a = pick(v, NT), dst = pick(v, NT);
    if (!v->m[mi].m)
        return;
    bool stale = tget(v, a) && one_step_stale(v, a);
    tg_tensor *y = tg_module_forward(v->m[mi].m, tget(v, a));
    if (stale)
        FUZZ_CHECK(!y && tg_ctx_last_status(v->ctx) == TG_ERR_MISUSE);
    if (v->t[dst].kind != T_PERSISTENT)
        put(v, dst, y);
    else if (!y)
        expect_error(v);
}

static void backward(vm *v)
{
    int a = pick(v, NT);
    tg_tensor *x = tget(v, a);
    bool stale = x && one_step_stale(v, a);
    tg_status s = tg_backward(v->ctx, fz_u8(&v->r) & 1 ? tg_sum_all(v->ctx, x) : x);
    if (stale)
        FUZZ_CHECK(s == TG_ERR_MISUSE);
    if (s != TG_OK)
        expect_error(v);
}

static void plain_sgd(void *hyper, const tg_optim_update *u)
{
    (void)hyper;
    for (size_t i = 0; i < u->n; i++)
        u->param[i] -= u->lr * u->grad[i];
}
static const tg_optim_vtable fz_plain_sgd = {.struct_size = sizeof fz_plain_sgd, .name = "plain",
                                      .update = plain_sgd};

static void make_optim(vm *v)
{
    int dst = pick(v, NO);
    if (v->o[dst])
        return;
    tg_optim *o = NULL;
    tg_status s;
    if (fz_u8(&v->r) & 1) {
        int mi = pick(v, NM);
        if (!v->m[mi].m)
            return;
        s = fz_u8(&v->r) & 1 ? tg_sgd_create(v->ctx, v->m[mi].m, NULL, &o)
                             : tg_adam_create(v->ctx, v->m[mi].m, NULL, &o);
    } else {
        /* any tensor slots: transient, stale and NULL ones must be refused */
        tg_tensor *ps[2] = {tget(v, pick(v, NT)), tget(v, pick(v, NT))};
        s = tg_sgd_create(v->ctx, NULL, NULL, &o); /* NULL module: refused */
        FUZZ_CHECK(s != TG_OK);
        tg_ctx_clear_error(v->ctx);
        s = tg_optim_create_params(v->ctx, ps, NULL, 1 + pick(v, 2), &fz_plain_sgd, NULL, 0.1f,
                                   &o);
    }
    if (s != TG_OK) {
        expect_error(v);
        return;
    }
    v->o[dst] = o;
}

static void optim_call(vm *v)
{
    int oi = pick(v, NO);
    if (!v->o[oi])
        return;
    switch (pick(v, 3)) {
    case 0:
        if (tg_optim_step(v->o[oi]) != TG_OK)
            expect_error(v);
        break;
    case 1: tg_optim_zero_grad(v->o[oi]); break;
    default:
        tg_optim_destroy(v->o[oi]);
        v->o[oi] = NULL;
        break;
    }
}

/* Destroy a module or a tensor; a refusal must keep the handle usable. */
static void destroy_something(vm *v)
{
    tg_ctx_clear_error(v->ctx);
    if (fz_u8(&v->r) & 1) {
        int mi = pick(v, NM);
        if (!v->m[mi].m)
            return;
        tg_module_destroy(v->m[mi].m);
        tg_status s = tg_ctx_last_status(v->ctx);
        if (s == TG_OK) {
            FUZZ_CHECK(v->m[mi].parent < 0);
            forget_tree(v, mi);
        } else {
            FUZZ_CHECK(s == TG_ERR_BUSY);
            tg_ctx_clear_error(v->ctx);
            FUZZ_CHECK(tg_module_type(v->m[mi].m) != NULL); /* still alive */
            (void)tg_module_n_params(v->m[mi].m);
        }
        return;
    }
    int ti = pick(v, NT);
    if (v->t[ti].kind == T_EMPTY)
        return;
    tg_tensor_destroy(v->t[ti].t);
    tg_status s = tg_ctx_last_status(v->ctx);
    if (v->t[ti].kind == T_PERSISTENT) {
        if (s == TG_OK)
            v->t[ti] = (tslot){0};
        else
            FUZZ_CHECK(s == TG_ERR_BUSY);
    } else if (v->t[ti].kind == T_OWNED) {
        FUZZ_CHECK(s == TG_ERR_BUSY); /* a module's tensor: refused */
    }
    tg_ctx_clear_error(v->ctx);
}

static void save_load(vm *v)
{
    int mi = pick(v, NM);
    if (!v->m[mi].m)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/api.safetensors", fz_dir());
    int oi = pick(v, NO);
    tg_status s;
    switch (pick(v, 4)) {
    case 0: s = tg_module_save(v->m[mi].m, path, NULL, 0); break;
    case 1: s = tg_module_load(v->m[mi].m, path); break;
    case 2: s = tg_checkpoint_save(v->m[mi].m, v->o[oi], 3, path); break;
    default: {
        int64_t epoch = 0;
        s = tg_checkpoint_load(v->m[mi].m, v->o[oi], &epoch, path);
        break;
    }
    }
    if (s != TG_OK)
        expect_error(v);
}

static void destroy_iters_of(vm *v, int di)
{
    for (int k = 0; k < NI; k++)
        if (v->it[k] && v->it_ds[k] == di) {
            tg_batch_iter_destroy(v->it[k]);
            v->it[k] = NULL;
        }
}

static void data_call(vm *v)
{
    int di = pick(v, ND), dj = pick(v, ND);
    switch (pick(v, 5)) {
    case 0: {
        if (v->d[di])
            return;
        uint8_t img[6 * 2 * 2];
        int32_t lab[6];
        size_t n = pick(v, 7);
        for (size_t i = 0; i < sizeof img; i++)
            img[i] = fz_u8(&v->r);
        for (size_t i = 0; i < 6; i++)
            lab[i] = (int32_t)(fz_u8(&v->r) % 4) - (fz_u8(&v->r) == 0xFF);
        if (tg_dataset_create(v->ctx, n, 2, 2, n ? img : NULL, n ? lab : NULL, 0, &v->d[di]) !=
            TG_OK)
            expect_error(v);
        break;
    }
    case 1:
        if (!v->d[di] || v->d[dj] || v->d[(dj + 1) % ND])
            return;
        if ((fz_u8(&v->r) & 1
                 ? tg_dataset_subset(v->d[di], pick(v, 4), pick(v, 4), &v->d[dj])
                 : tg_dataset_split(v->d[di], pick(v, 3) / 2.0, 7, &v->d[dj],
                                    &v->d[(dj + 1) % ND])) != TG_OK)
            expect_error(v);
        break;
    case 2: {
        int k = pick(v, NI);
        if (!v->d[di] || v->it[k])
            return;
        tg_batch_options o;
        tg_batch_options_init(&o);
        o.batch_size = pick(v, 4);
        if (tg_batch_iter_create(v->d[di], &o, &v->it[k]) != TG_OK) {
            expect_error(v);
            return;
        }
        v->it_ds[k] = di;
        break;
    }
    case 3: {
        int k = pick(v, NI), dst = pick(v, NT);
        if (!v->it[k] || v->t[dst].kind == T_PERSISTENT)
            return;
        tg_tensor *x = NULL;
        const int32_t *labels = NULL;
        size_t n = 0;
        if (tg_batch_iter_next(v->it[k], &x, &labels, &n))
            v->t[dst] = (tslot){x, T_TRANSIENT, v->step, -1};
        break;
    }
    default:
        if (!v->d[di])
            return;
        bool iters = false;
        for (int k = 0; k < NI; k++)
            iters |= v->it[k] && v->it_ds[k] == di;
        if (fz_u8(&v->r) & 1) {
            destroy_iters_of(v, di);
            iters = false;
        }
        tg_ctx_clear_error(v->ctx);
        tg_dataset_destroy(v->d[di]);
        tg_status st = tg_ctx_last_status(v->ctx);
        FUZZ_CHECK(!iters || st == TG_ERR_BUSY); /* live iterators: refused */
        if (st == TG_OK) /* refused (BUSY) with live subsets or iterators */
            v->d[di] = NULL;
        tg_ctx_clear_error(v->ctx);
        break;
    }
}

static void accessors(vm *v)
{
    int a = pick(v, NT);
    tg_tensor *x = tget(v, a);
    if (!x)
        return;
    bool stale = one_step_stale(v, a);
    float buf[64];
    int64_t n = tg_tensor_numel(x);
    const float *d = tg_tensor_data(x);
    if (stale) {
        FUZZ_CHECK(d == NULL && n == 0);
        expect_error(v);
        return;
    }
    if (d && n > 0 && n <= 64) {
        FUZZ_CHECK(tg_tensor_copy_data(x, buf, (size_t)n) == TG_OK);
        FUZZ_CHECK(tg_tensor_copy_grad(x, buf, (size_t)n) == TG_OK);
        FUZZ_CHECK(tg_tensor_shape(x) != NULL);
    }
    tg_ctx_clear_error(v->ctx);
}

static void run(const uint8_t *data, size_t size)
{
    vm v = {0};
    v.r = (fz_reader){data, size, 2};
    v.ctx = fz_ctx(1 + data[0] % 2, data[1]);
    for (int i = 0; i < NM; i++)
        v.m[i].parent = -1;
    int budget = 400;
    bool trace = getenv("FUZZ_API_TRACE") != NULL; /* debugging a crash input */
    while (!fz_done(&v.r) && budget-- > 0) {
        int opcode = fz_u8(&v.r) % 14;
        if (trace)
            fprintf(stderr, "op %d at byte %zu (step %llu)\n", opcode, v.r.i - 1,
                    (unsigned long long)v.step);
        switch (opcode) {
        case 0: make_tensor(&v); break;
        case 1: op_unary(&v); break;
        case 2: op_binary(&v); break;
        case 3: make_module(&v); break;
        case 4: seq_append(&v); break;
        case 5: forward(&v); break;
        case 6: backward(&v); break;
        case 7: make_optim(&v); break;
        case 8: optim_call(&v); break;
        case 9: destroy_something(&v); break;
        case 10: save_load(&v); break;
        case 11: data_call(&v); break;
        case 12: accessors(&v); break;
        default:
            tg_ctx_reset(v.ctx);
            v.step++;
            break;
        }
    }
    tg_ctx_destroy(v.ctx); /* releases every handle still alive */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    run(data, size);
    return 0;
}
