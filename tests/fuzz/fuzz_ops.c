/* SPDX-License-Identifier: MIT */
/* Op-layer fuzzer: the input is a little program over a stack of tensors
 * (random shapes, odd values, bad axes and parameters, NULL inputs, thread
 * counts 1-4). Every call through the public API must either give a result
 * or fail with a status and a message; a success must not disturb an error
 * state; and the same program run twice must give bit-identical tensors
 * (catches races and reads of uninitialised memory). */
#include "fuzz_common.h"

#include <math.h>

#define STACK 8
#define N_PERSIST 4

typedef struct vm {
    tg_ctx *ctx;
    fz_reader r;
    tg_tensor *st[STACK];
    tg_tensor *persist[N_PERSIST];
    int sp;
    uint64_t hash;
} vm;

static const int64_t dim_table[16] = {0, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 2,
                                      -1, INT64_C(1) << 40, INT64_MAX, 3};
static const float val_table[16] = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f, -3.0f, 1e-30f, 1e30f,
                                    NAN, INFINITY, -INFINITY, -0.0f, 1e-45f, 88.0f, -88.0f,
                                    3.5f};

static float rd_val(vm *v)
{
    uint8_t b = fz_u8(&v->r);
    if (b < 32)
        return val_table[b & 15];
    return (float)((int)b - 144) / 16.0f;
}

/* ndim 0-4; dims mostly small, rarely negative or huge (must be refused). */
static int rd_shape(vm *v, int64_t *shape)
{
    int nd = fz_u8(&v->r) % 5;
    for (int i = 0; i < nd; i++) {
        uint8_t b = fz_u8(&v->r);
        shape[i] = b >= 0xF8 ? dim_table[12 + (b & 3)] : dim_table[b & 7];
    }
    return nd;
}

static int rd_axis(vm *v) { return (int)(int8_t)fz_u8(&v->r) % 6; }

static void hash_bytes(vm *v, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        v->hash = (v->hash ^ b[i]) * 1099511628211u;
}

/* Pop (NULL when empty, which ops must reject cleanly). */
static tg_tensor *pop(vm *v) { return v->sp ? v->st[--v->sp] : NULL; }
static tg_tensor *peek(vm *v, int k) { return v->sp > k ? v->st[v->sp - 1 - k] : NULL; }

static void check_tensor(const tg_tensor *t)
{
    int nd = tg_tensor_ndim(t);
    FUZZ_CHECK(nd >= 0 && nd <= TG_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < nd; i++) {
        FUZZ_CHECK(tg_tensor_shape(t)[i] >= 0);
        n *= tg_tensor_shape(t)[i];
    }
    FUZZ_CHECK(n == tg_tensor_numel(t));
}

/* Record an op's result: success keeps the error state as it was, failure
 * must explain itself. Errors are then cleared so the program goes on. */
static void push(vm *v, tg_tensor *t, tg_status before)
{
    if (!t) {
        FUZZ_CHECK_ERROR(v->ctx);
        tg_ctx_clear_error(v->ctx);
        return;
    }
    FUZZ_CHECK(tg_tensor_ctx(t) == v->ctx);
    FUZZ_CHECK(tg_ctx_last_status(v->ctx) == before);
    check_tensor(t);
    if (v->sp == STACK) {
        memmove(v->st, v->st + 1, (STACK - 1) * sizeof *v->st);
        v->sp--;
    }
    v->st[v->sp++] = t;
}

static void reset(vm *v)
{
    tg_ctx_reset(v->ctx);
    v->sp = 0;
    for (int i = 0; i < N_PERSIST; i++)
        if (v->persist[i] && v->sp < STACK)
            v->st[v->sp++] = v->persist[i];
}

static void op_backward(vm *v)
{
    tg_tensor *t = peek(v, 0);
    tg_tensor *loss = t && tg_tensor_numel(t) != 1 ? tg_sum_all(v->ctx, t) : t;
    tg_status st = tg_backward(v->ctx, loss);
    if (st != TG_OK) {
        FUZZ_CHECK(st == tg_ctx_last_status(v->ctx));
        FUZZ_CHECK_ERROR(v->ctx);
        tg_ctx_clear_error(v->ctx);
    }
}

static void step(vm *v)
{
    tg_ctx *ctx = v->ctx;
    uint8_t opc = fz_u8(&v->r);
    tg_status before = tg_ctx_last_status(ctx);
    int64_t shape[TG_MAX_DIMS];
    tg_tensor *a, *b, *c, *res = NULL;
    switch (opc % 62) {
    case 0: { /* from_data */
        int nd = rd_shape(v, shape);
        float buf[64];
        for (int i = 0; i < 64; i++)
            buf[i] = rd_val(v);
        int64_t n = 1;
        for (int i = 0; i < nd; i++)
            n = shape[i] < 0 || shape[i] > 64 || n * shape[i] > 64 ? -1 : n * shape[i];
        /* n == -1: pass a wrong count, which must be refused */
        res = tg_from_data(ctx, nd, shape, buf, n < 0 ? 64 : (size_t)n);
        if (res && fz_u8(&v->r) & 1) {
            /* a transient leaf may require grad */
            if (tg_tensor_set_requires_grad(res, true) != TG_OK) {
                FUZZ_CHECK_ERROR(ctx);
                tg_ctx_clear_error(ctx);
            }
        }
        break;
    }
    case 1: {
        int nd = rd_shape(v, shape);
        res = tg_zeros(ctx, nd, shape);
        break;
    }
    case 2: {
        int nd = rd_shape(v, shape);
        res = tg_full(ctx, nd, shape, rd_val(v));
        break;
    }
    case 3: {
        int nd = rd_shape(v, shape);
        res = tg_rand(ctx, nd, shape, rd_val(v), rd_val(v));
        break;
    }
    case 4: {
        int nd = rd_shape(v, shape);
        res = tg_randn(ctx, nd, shape, rd_val(v), rd_val(v));
        break;
    }
    case 5: {
        float s = rd_val(v), e = rd_val(v), stp = rd_val(v);
        res = tg_arange(ctx, s, e, stp);
        break;
    }
    case 6: { /* persistent parameter (kept until the ctx goes: graphs point to it) */
        int nd = rd_shape(v, shape);
        int slot = fz_u8(&v->r) % N_PERSIST;
        if (v->persist[slot]) {
            res = v->persist[slot];
            break;
        }
        tg_tensor *t = NULL;
        tg_status st = tg_tensor_create(ctx, nd, shape, &t);
        if (st != TG_OK) {
            FUZZ_CHECK(t == NULL);
            FUZZ_CHECK_ERROR(ctx);
            tg_ctx_clear_error(ctx);
            return;
        }
        tg_tensor_uniform_(t, -1.0f, 1.0f);
        FUZZ_CHECK(tg_tensor_set_requires_grad(t, true) == TG_OK);
        v->persist[slot] = t;
        res = t;
        break;
    }
    case 7: a = pop(v); b = pop(v); res = tg_add(ctx, a, b); break;
    case 8: a = pop(v); b = pop(v); res = tg_sub(ctx, a, b); break;
    case 9: a = pop(v); b = pop(v); res = tg_mul(ctx, a, b); break;
    case 10: a = pop(v); b = pop(v); res = tg_div(ctx, a, b); break;
    case 11: a = pop(v); res = tg_add_scalar(ctx, a, rd_val(v)); break;
    case 12: a = pop(v); res = tg_mul_scalar(ctx, a, rd_val(v)); break;
    case 13: a = pop(v); res = tg_neg(ctx, a); break;
    case 14: a = pop(v); res = tg_exp(ctx, a); break;
    case 15: a = pop(v); res = tg_log(ctx, a); break;
    case 16: a = pop(v); res = tg_sqrt(ctx, a); break;
    case 17: a = pop(v); res = tg_pow(ctx, a, rd_val(v)); break;
    case 18: a = pop(v); b = pop(v); res = tg_matmul(ctx, a, b); break;
    case 19: {
        a = pop(v);
        b = pop(v);
        c = fz_u8(&v->r) & 1 ? pop(v) : NULL;
        res = tg_linear(ctx, a, b, c);
        break;
    }
    case 20: {
        a = pop(v);
        int nd = rd_shape(v, shape);
        if (nd && fz_u8(&v->r) & 1)
            shape[fz_u8(&v->r) % nd] = -1;
        res = tg_reshape(ctx, a, nd, shape);
        break;
    }
    case 21: a = pop(v); res = tg_flatten(ctx, a, rd_axis(v), rd_axis(v)); break;
    case 22: a = pop(v); res = tg_transpose(ctx, a, rd_axis(v), rd_axis(v)); break;
    case 23: {
        a = pop(v);
        int perm[TG_MAX_DIMS];
        int nd = a ? tg_tensor_ndim(a) : 2;
        for (int i = 0; i < TG_MAX_DIMS; i++)
            perm[i] = i < nd ? i : 0;
        for (int i = nd - 1; i > 0; i--) { /* shuffle; sometimes corrupt */
            int j = fz_u8(&v->r) % (i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        if (nd && (fz_u8(&v->r) & 7) == 0)
            perm[0] = rd_axis(v);
        res = tg_permute(ctx, a, perm);
        break;
    }
    case 24: a = pop(v); res = tg_sum(ctx, a, rd_axis(v), fz_u8(&v->r) & 1); break;
    case 25: a = pop(v); res = tg_mean(ctx, a, rd_axis(v), fz_u8(&v->r) & 1); break;
    case 26: a = pop(v); res = tg_max(ctx, a, rd_axis(v), fz_u8(&v->r) & 1); break;
    case 27: a = pop(v); res = tg_sum_all(ctx, a); break;
    case 28: a = pop(v); res = tg_mean_all(ctx, a); break;
    case 29: a = pop(v); res = tg_max_all(ctx, a); break;
    case 30: a = pop(v); res = tg_relu(ctx, a); break;
    case 31: a = pop(v); res = tg_leaky_relu(ctx, a, rd_val(v)); break;
    case 32: a = pop(v); res = tg_sigmoid(ctx, a); break;
    case 33: a = pop(v); res = tg_tanh(ctx, a); break;
    case 34: a = pop(v); res = tg_softmax(ctx, a, rd_axis(v)); break;
    case 35: a = pop(v); res = tg_log_softmax(ctx, a, rd_axis(v)); break;
    case 36:
    case 37: {
        a = pop(v);
        int32_t tgt[16];
        size_t n = fz_u8(&v->r) % 17;
        for (size_t i = 0; i < 16; i++)
            tgt[i] = (int8_t)fz_u8(&v->r) % 12;
        tg_reduction red = (tg_reduction)(fz_u8(&v->r) % 4); /* 3 is invalid */
        res = opc % 62 == 36 ? tg_cross_entropy(ctx, a, fz_u8(&v->r) & 7 ? tgt : NULL, n, red)
                             : tg_nll_loss(ctx, a, tgt, n, red);
        break;
    }
    case 38: {
        a = pop(v);
        b = pop(v);
        res = tg_mse_loss(ctx, a, b, (tg_reduction)(fz_u8(&v->r) % 4));
        break;
    }
    case 39: {
        a = pop(v);
        b = pop(v);
        c = fz_u8(&v->r) & 1 ? pop(v) : NULL;
        int stride = (int8_t)fz_u8(&v->r) % 4, pad = (int8_t)fz_u8(&v->r) % 3;
        int dil = (int8_t)fz_u8(&v->r) % 3, groups = (int8_t)fz_u8(&v->r) % 4;
        res = tg_conv2d(ctx, a, b, c, stride, pad, dil, groups);
        break;
    }
    case 40:
    case 41: {
        a = pop(v);
        int k = (int8_t)fz_u8(&v->r) % 5, s = (int8_t)fz_u8(&v->r) % 4;
        int p = (int8_t)fz_u8(&v->r) % 4;
        res = opc % 62 == 40 ? tg_max_pool2d(ctx, a, k, s, p) : tg_avg_pool2d(ctx, a, k, s, p);
        break;
    }
    case 42: {
        a = pop(v);
        float p = (float)((int)fz_u8(&v->r) - 16) / 200.0f; /* some < 0, some >= 1 */
        res = tg_dropout(ctx, a, p, fz_u8(&v->r) & 1);
        break;
    }
    case 43: {
        a = pop(v);
        uint8_t m = fz_u8(&v->r);
        tg_tensor *w = m & 1 ? pop(v) : NULL, *bb = m & 2 ? pop(v) : NULL;
        tg_tensor *rm = m & 4 ? pop(v) : NULL, *rv = m & 8 ? pop(v) : NULL;
        res = tg_batch_norm2d(ctx, a, w, bb, rm, rv, m & 16, rd_val(v), rd_val(v));
        break;
    }
    case 44: a = pop(v); res = tg_detach(ctx, a); break;
    case 45: op_backward(v); return;
    case 46: reset(v); return;
    case 47: {
        uint8_t m = fz_u8(&v->r);
        if (m & 1)
            tg_ctx_set_grad_enabled(ctx, m & 2);
        else
            tg_ctx_set_detect_anomaly(ctx, m & 2);
        return;
    }
    case 48: { /* concat of 0-6 stack entries (NULL when the stack runs out) */
        tg_tensor *xs[6];
        int n = fz_u8(&v->r) % 7;
        for (int i = 0; i < n; i++)
            xs[i] = pop(v);
        res = tg_concat(ctx, fz_u8(&v->r) & 15 ? xs : NULL, n, rd_axis(v));
        break;
    }
    case 49: {
        a = pop(v);
        int ax = rd_axis(v);
        int64_t st = (int8_t)fz_u8(&v->r) % 9, len = (int8_t)fz_u8(&v->r) % 9;
        res = tg_narrow(ctx, a, ax, st, len);
        break;
    }
    case 50: {
        a = pop(v);
        int ax = rd_axis(v);
        int64_t st = (int8_t)fz_u8(&v->r) % 9, e = (int8_t)fz_u8(&v->r) % 9;
        res = tg_slice(ctx, a, ax, st, e, (int8_t)fz_u8(&v->r) % 4);
        break;
    }
    case 51: {
        a = pop(v);
        int64_t pad[10];
        int n = fz_u8(&v->r) % 11;
        for (int i = 0; i < n; i++)
            pad[i] = fz_u8(&v->r) == 0xFF ? INT64_MAX : (int8_t)fz_u8(&v->r) % 4;
        res = tg_pad(ctx, a, n, fz_u8(&v->r) & 15 ? pad : NULL, rd_val(v));
        break;
    }
    case 52: {
        a = pop(v);
        int64_t oh = (int8_t)fz_u8(&v->r) % 5, ow = (int8_t)fz_u8(&v->r) % 5;
        res = tg_adaptive_avg_pool2d(ctx, a, oh, ow);
        break;
    }
    case 53: a = pop(v); res = tg_global_avg_pool2d(ctx, a); break;
    case 54: {
        a = pop(v);
        uint8_t m = fz_u8(&v->r);
        tg_tensor *w = m & 1 ? pop(v) : NULL, *bb = m & 2 ? pop(v) : NULL;
        tg_tensor *rm = m & 4 ? pop(v) : NULL, *rv = m & 8 ? pop(v) : NULL;
        res = tg_batch_norm1d(ctx, a, w, bb, rm, rv, m & 16, rd_val(v), rd_val(v));
        break;
    }
    case 55: {
        a = pop(v);
        uint8_t m = fz_u8(&v->r);
        tg_tensor *w = m & 1 ? pop(v) : NULL, *bb = m & 2 ? pop(v) : NULL;
        res = tg_layer_norm(ctx, a, (int8_t)fz_u8(&v->r) % 5, w, bb, rd_val(v));
        break;
    }
    case 56: a = pop(v); res = tg_gelu(ctx, a); break;
    case 57: a = pop(v); res = tg_clamp(ctx, a, rd_val(v), rd_val(v)); break;
    case 58: a = pop(v); res = tg_abs(ctx, a); break;
    case 59: a = pop(v); b = pop(v); res = tg_maximum(ctx, a, b); break;
    case 60: a = pop(v); b = pop(v); res = tg_minimum(ctx, a, b); break;
    case 61: a = pop(v); res = tg_argmax(ctx, a, rd_axis(v), fz_u8(&v->r) & 1); break;
    }
    push(v, res, before);
}

static uint64_t run(const uint8_t *data, size_t size, int n_threads, uint64_t seed)
{
    vm v = {0};
    v.ctx = fz_ctx(n_threads, seed);
    v.r = (fz_reader){data, size, 2};
    v.hash = 14695981039346656037u;
    for (int n = 0; n < 256 && !fz_done(&v.r); n++)
        step(&v);
    op_backward(&v);
    for (int i = 0; i < v.sp; i++) {
        tg_tensor *t = v.st[i];
        hash_bytes(&v, tg_tensor_shape(t), (size_t)tg_tensor_ndim(t) * sizeof(int64_t));
        hash_bytes(&v, tg_tensor_data(t), (size_t)tg_tensor_numel(t) * sizeof(float));
    }
    for (int i = 0; i < N_PERSIST; i++)
        if (v.persist[i] && tg_tensor_grad(v.persist[i]))
            hash_bytes(&v, tg_tensor_grad(v.persist[i]),
                       (size_t)tg_tensor_numel(v.persist[i]) * sizeof(float));
    tg_ctx_destroy(v.ctx);
    return v.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int n_threads = 1 + data[0] % 4;
    uint64_t seed = data[1];
    uint64_t h1 = run(data, size, n_threads, seed);
    uint64_t h2 = run(data, size, n_threads, seed);
    FUZZ_CHECK(h1 == h2);
    return 0;
}
