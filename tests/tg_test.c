/* SPDX-License-Identifier: MIT */
#include "tg_test.h"

#include <stdio.h>

#include "tg_internal.h"

tg_ctx *tgt_ctx_threads(uint64_t seed, int n_threads)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.seed = seed;
    o.n_threads = n_threads;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    return ctx;
}

tg_ctx *tgt_ctx(uint64_t seed) { return tgt_ctx_threads(seed, 1); }

tg_tensor *tgt_tensor(tg_ctx *ctx, int ndim, const int64_t *shape, const float *data,
                      bool requires_grad)
{
    tg_tensor *t = NULL;
    ck_assert_int_eq(tg_tensor_create(ctx, ndim, shape, &t), TG_OK);
    if (data)
        ck_assert_int_eq(tg_tensor_set_data(t, data, (size_t)tg_tensor_numel(t)), TG_OK);
    ck_assert_int_eq(tg_tensor_set_requires_grad(t, requires_grad), TG_OK);
    return t;
}

void tgt_poison_arena(tg_ctx *ctx, int mib)
{
    /* Rewind first: filling from the cursor would poison only the chunks
     * after the last step's tensors, and the next step reuses those. */
    tg_ctx_reset(ctx);
    const int64_t n = 1 << 14; /* small tensors fill the chunks the step made */
    for (int64_t k = 0; k < (int64_t)mib * (1 << 20) / (n * 4); k++) {
        tg_tensor *t = tg_zeros(ctx, 1, &n);
        ck_assert_ptr_nonnull(t);
        float *d = tg_tensor_data(t);
        for (int64_t i = 0; i < n; i++)
            d[i] = NAN;
    }
    tg_ctx_reset(ctx);
}

void tgt_check_fresh_grad(tg_tensor *(*fn)(tg_ctx *, tg_tensor **, void *), void *arg,
                          int ndim, const int64_t *shape)
{
    tg_ctx *ctx = tgt_ctx_threads(9, 2);
    tg_tensor *x = tgt_tensor(ctx, ndim, shape, NULL, true);
    const int64_t n = tg_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) /* distinct values: no ties to break */
        tg_tensor_data(x)[i] = (float)((i * 37) % n) * 0.05f - 3.0f;
    float *want = malloc((size_t)n * sizeof *want);
    ck_assert_ptr_nonnull(want);
    const float *stale = NULL;
    for (int run = 0; run < 3; run++) { /* leaf, fresh (then poisoned), fresh */
        tg_tensor *in = run ? tg_mul_scalar(ctx, x, 1.0f) : x;
        tg_tensor *y = fn(ctx, &in, arg);
        ck_assert_msg(y != NULL, "%s", tg_ctx_last_error(ctx));
        ck_assert_int_eq(tg_backward(ctx, tg_sum_all(ctx, tg_mul(ctx, y, y))), TG_OK);
        const float *g = tg_tensor_grad(x);
        for (int64_t i = 0; i < n; i++)
            if (run == 0)
                want[i] = g[i];
            else /* == : a stored -0 may meet an added +0 */
                ck_assert_msg(g[i] == want[i], "run %d: grad[%lld] = %g, want %g", run,
                              (long long)i, (double)g[i], (double)want[i]);
        if (run == 1) {
            float *gi = tg_tensor_grad(in);
            for (int64_t i = 0; i < n; i++)
                gi[i] = NAN;
            stale = gi;
        } else if (run == 2) {
            ck_assert_ptr_eq(tg_tensor_grad(in), stale); /* the poisoned buffer */
        }
        memset(tg_tensor_grad(x), 0, (size_t)n * sizeof *want);
        tg_ctx_reset(ctx);
    }
    free(want);
    tg_ctx_destroy(ctx);
}

tg_tensor *tgt_rand(tg_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi,
                    bool requires_grad)
{
    tg_tensor *t = tgt_tensor(ctx, ndim, shape, NULL, requires_grad);
    tg_tensor_uniform_(t, lo, hi);
    return t;
}

void tgt_assert_shape(const tg_tensor *t, int nd, const int64_t *want)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(tg_tensor_ndim(t), nd);
    for (int i = 0; i < nd; i++)
        ck_assert_int_eq(tg_tensor_shape(t)[i], want[i]);
}

void tgt_assert_close_impl(const float *got, const float *want, size_t n, double rtol,
                           double atol, const char *file, int line)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i])))
            ck_abort_msg("%s:%d: element %zu: got %.8g, want %.8g (diff %.3g)", file, line, i,
                         (double)got[i], (double)want[i], d);
    }
}

/* out = sum_i w_i * x_i: a private op so the checker needs no library ops. */
static void wsum_backward(tg_ctx *ctx, tg_tensor *out)
{
    (void)ctx;
    tg_tensor *x = out->src[0];
    const float *w = out->aux;
    for (int64_t i = 0; i < x->numel; i++)
        x->grad[i] += out->grad[0] * w[i];
}
static const tg__op_def wsum_op = {"test_wsum", wsum_backward};

static double weighted(const tg_tensor *y, const float *w)
{
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++)
        s += (double)w[i] * (double)y->data[i];
    return s;
}

void tgt_gradcheck_impl(tg_ctx *ctx, tgt_fn fn, void *arg, tg_tensor **in, int n_in,
                        double eps, double rtol, double atol, const char *file, int line)
{
    tg_ctx_reset(ctx);
    tg_tensor *y = fn(ctx, in, arg);
    if (!y)
        ck_abort_msg("%s:%d: forward failed: %s", file, line, tg_ctx_last_error(ctx));
    int64_t ny = y->numel;
    float *w = malloc((size_t)(ny ? ny : 1) * sizeof *w);
    uint64_t rng[4];
    tg__rng_seed(rng, 12345);
    for (int64_t i = 0; i < ny; i++)
        w[i] = 0.5f + tg__rng_uniform(rng); /* positive and varied */

    for (int k = 0; k < n_in; k++)
        tg_tensor_zero_grad(in[k]);
    int64_t one = 1;
    tg_tensor *loss = tg__op_result(ctx, &wsum_op, 0, &one, y, NULL, NULL);
    ck_assert_ptr_nonnull(loss);
    loss->aux = w;
    loss->data[0] = (float)weighted(y, w);
    ck_assert_msg(tg_backward(ctx, loss) == TG_OK, "%s:%d: backward: %s", file, line,
                  tg_ctx_last_error(ctx));

    for (int k = 0; k < n_in; k++) {
        tg_tensor *x = in[k];
        if (!x->requires_grad)
            continue;
        ck_assert_msg(x->grad != NULL, "%s:%d: input %d got no gradient", file, line, k);
        for (int64_t i = 0; i < x->numel; i++) {
            float orig = x->data[i];
            x->data[i] = orig + (float)eps;
            tg_ctx_reset(ctx);
            tg_tensor *yp = fn(ctx, in, arg);
            ck_assert_ptr_nonnull(yp);
            double lp = weighted(yp, w);
            x->data[i] = orig - (float)eps;
            tg_ctx_reset(ctx);
            tg_tensor *ym = fn(ctx, in, arg);
            ck_assert_ptr_nonnull(ym);
            double lm = weighted(ym, w);
            x->data[i] = orig;
            double num = (lp - lm) / (2.0 * eps);
            double ana = x->grad[i];
            if (!(fabs(ana - num) <= atol + rtol * fabs(num)))
                ck_abort_msg("%s:%d: input %d element %lld: analytic %.6g, numeric %.6g", file,
                             line, k, (long long)i, ana, num);
        }
    }
    free(w);
    tg_ctx_reset(ctx);
}

int tgt_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

float *tgt_read_fixture(const char *name, size_t *n)
{
    char path[1024];
    const char *dir = getenv("TG_FIXTURES");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : TG_FIXTURE_DIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "fixture %s missing", path);
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *buf = malloc((size_t)bytes + 4);
    ck_assert_int_eq(fread(buf, 1, (size_t)bytes, f), (size_t)bytes);
    fclose(f);
    *n = (size_t)bytes / sizeof(float);
    return buf;
}
