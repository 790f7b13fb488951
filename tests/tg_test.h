/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check test programs: contexts, value comparison and
 * the finite-difference gradient checker. Internal tests may include
 * tg_internal.h; public-API tests include only <tinygrad.h>. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinygrad.h"

/* A deterministic single-threaded context (fails the test on error). */
tg_ctx *tgt_ctx(uint64_t seed);
tg_ctx *tgt_ctx_threads(uint64_t seed, int n_threads);

/* Persistent tensor filled from data (or uniform in [lo,hi) when data NULL). */
tg_tensor *tgt_tensor(tg_ctx *ctx, int ndim, const int64_t *shape, const float *data,
                      bool requires_grad);
/* Fill the first mib MiB of ctx's step arena with NaN and reset the ctx, so
 * that the next step's transient tensors and gradients start on NaN: a
 * gradient read before it is written then shows. */
void tgt_poison_arena(tg_ctx *ctx, int mib);
/* An op's input gradient comes out the same whether the input is a leaf
 * (its zeroed gradient is added into) or a fresh op result (the op stores
 * it, with bwd_stores, or the autograd zero-fills it first): fn's input is
 * once a leaf x, then an op result of x's values, twice, the second time on
 * the first one's gradient buffer filled with NaN (the same graph gets the
 * same arena memory, which is asserted); the gradients reaching x must be
 * equal. Loss sum(y * y); x distinct values in [-3, 3) of the given shape. */
void tgt_check_fresh_grad(tg_tensor *(*fn)(tg_ctx *, tg_tensor **, void *), void *arg,
                          int ndim, const int64_t *shape);
tg_tensor *tgt_rand(tg_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi,
                    bool requires_grad);

/* ck_assert that |got[i]-want[i]| <= atol + rtol*|want[i]| for all i. */
#define tgt_assert_close(got, want, n, rtol, atol)                                             \
    tgt_assert_close_impl((got), (want), (n), (rtol), (atol), __FILE__, __LINE__)
void tgt_assert_close_impl(const float *got, const float *want, size_t n, double rtol,
                           double atol, const char *file, int line);

/* Assert t is not NULL and has rank nd and shape want[0..nd). */
void tgt_assert_shape(const tg_tensor *t, int nd, const int64_t *want);

/* Assert the tensor's data equals want (n must be numel). */
#define tgt_assert_tensor(t, want, n, tol)                                                     \
    do {                                                                                       \
        ck_assert_ptr_nonnull(t);                                                              \
        ck_assert_int_eq(tg_tensor_numel(t), (int64_t)(n));                                     \
        tgt_assert_close(tg_tensor_data(t), (want), (n), (tol), (tol));                        \
    } while (0)

/* Finite-difference gradient check.
 * fn builds an output from n_in inputs (persistent leaves requiring grad);
 * the checker reduces the output to a scalar with fixed random weights,
 * runs tg_backward, and compares each input gradient with central
 * differences (step eps, in float; the loss is accumulated in double).
 * Asserts |analytic - numeric| <= atol + rtol * |numeric| elementwise. */
typedef tg_tensor *(*tgt_fn)(tg_ctx *ctx, tg_tensor **in, void *arg);
void tgt_gradcheck_impl(tg_ctx *ctx, tgt_fn fn, void *arg, tg_tensor **in, int n_in,
                        double eps, double rtol, double atol, const char *file, int line);
#define tgt_gradcheck(ctx, fn, arg, in, n_in)                                                  \
    tgt_gradcheck_impl((ctx), (fn), (arg), (in), (n_in), 1e-2, 2e-2, 2e-3, __FILE__, __LINE__)
#define tgt_gradcheck_tol(ctx, fn, arg, in, n_in, eps, rtol, atol)                             \
    tgt_gradcheck_impl((ctx), (fn), (arg), (in), (n_in), (eps), (rtol), (atol), __FILE__,      \
                       __LINE__)

/* Run one suite; returns the number of failures (for main()). */
int tgt_run(Suite *s);

/* Read a little-endian float32 fixture file written by tests/fixtures/gen_torch.py
 * into a malloc'd buffer; *n receives the count. Fails the test if missing. */
float *tgt_read_fixture(const char *name, size_t *n);

#endif
