/* SPDX-License-Identifier: MIT */
/* Optimisers: each built-in's update against PyTorch 1.13 for three steps,
 * per-parameter step counts, learning-rate changes, state access, a user
 * optimiser through the public vtable, and the validation errors. */
#include "tg_test.h"

#include "tg_internal.h"

static const int64_t S4[1] = {4};
static const float P0[4] = {0.5f, -1.0f, 2.0f, 0.0f};
static const float G[3][4] = {
    {0.1f, -0.2f, 0.3f, 0.0f}, {-0.4f, 0.5f, 0.1f, 0.2f}, {0.3f, 0.3f, -0.1f, -0.5f}};

/* A module with one parameter "w" of 4 elements set to P0. */
static tg_module *one_param_module(tg_ctx *ctx, tg_tensor **w)
{
    static const tg_module_vtable vt = {sizeof(tg_module_vtable), "Holder", NULL, NULL};
    tg_module *m = NULL;
    ck_assert_int_eq(tg_module_create(ctx, &vt, NULL, &m), TG_OK);
    ck_assert_int_eq(tg_module_add_param(m, "w", 1, S4, w), TG_OK);
    ck_assert_int_eq(tg_tensor_set_data(*w, P0, 4), TG_OK);
    return m;
}

/* Give t the gradient g (as a backward would leave it). */
static void set_grad(tg_tensor *t, const float *g)
{
    float *buf = tg__grad_buffer(t->ctx, t, true);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, g, (size_t)t->numel * sizeof(float));
}

/* Expected parameter after steps 1..3, from tests/fixtures/gen_torch_optim.py. */
static const float EXPECT[9][3][4] = {
    /* SGD plain: {'lr': 0.1} */
    {{4.900000095e-01f, -9.800000191e-01f, 1.970000029e+00f, 0.000000000e+00f}, {5.300000310e-01f, -1.029999971e+00f, 1.960000038e+00f, -2.000000142e-02f}, {5.000000000e-01f, -1.059999943e+00f, 1.970000029e+00f, 2.999999933e-02f}},
    /* SGD momentum: {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.1, 'weight_decay': 0.01} */
    {{4.894999862e-01f, -9.789999723e-01f, 1.968000054e+00f, 0.000000000e+00f}, {5.156094432e-01f, -1.004218817e+00f, 1.928428888e+00f, -1.799999923e-02f}, {5.116438866e-01f, -1.053012013e+00f, 1.900079250e+00f, 1.081620064e-02f}},
    /* SGD nesterov: {'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weight_decay': 0.01} */
    {{4.800499976e-01f, -9.600999951e-01f, 1.939200044e+00f, 0.000000000e+00f}, {5.466328859e-01f, -1.036265850e+00f, 1.890595555e+00f, -3.799999878e-02f}, {5.129509568e-01f, -1.115710258e+00f, 1.873004675e+00f, 4.087219387e-02f}},
    /* Adam: {'lr': 0.01} */
    {{4.900000095e-01f, -9.900000095e-01f, 1.990000010e+00f, 0.000000000e+00f}, {4.955950379e-01f, -9.944221377e-01f, 1.981289387e+00f, -7.441367023e-03f}, {4.953318536e-01f, -1.000518203e+00f, 1.976797700e+00f, -3.645115299e-03f}},
    /* Adam wd: {'lr': 0.01, 'betas': (0.8, 0.99), 'weight_decay': 0.1} */
    {{4.900000095e-01f, -9.900000095e-01f, 1.990000010e+00f, 0.000000000e+00f}, {4.947464764e-01f, -9.925240278e-01f, 1.980561972e+00f, -7.837075740e-03f}, {4.924919605e-01f, -9.968635440e-01f, 1.972637177e+00f, -3.370363731e-03f}},
    /* AdamW: {'lr': 0.01, 'weight_decay': 0.1} */
    {{4.895000160e-01f, -9.890000224e-01f, 1.988000035e+00f, 0.000000000e+00f}, {4.946055412e-01f, -9.924331903e-01f, 1.977301478e+00f, -7.441367023e-03f}, {4.938477576e-01f, -9.975368381e-01f, 1.970832467e+00f, -3.637674032e-03f}},
    /* RMSprop: {'lr': 0.01} */
    {{4.000000954e-01f, -9.000000358e-01f, 1.900000095e+00f, 0.000000000e+00f}, {4.970428646e-01f, -9.929117560e-01f, 1.868234038e+00f, -9.999995679e-02f}, {4.380034208e-01f, -1.041790605e+00f, 1.898647666e+00f, -7.088214159e-03f}},
    /* RMSprop momentum: {'lr': 0.01, 'alpha': 0.9, 'momentum': 0.9, 'weight_decay': 0.1} */
    {{4.683772326e-01f, -9.683772326e-01f, 1.968377233e+00f, 0.000000000e+00f}, {4.692479372e-01f, -9.657509327e-01f, 1.923141479e+00f, -3.162277117e-02f}, {4.481265843e-01f, -9.759894013e-01f, 1.877011418e+00f, -3.049430437e-02f}},
    /* Adagrad: {'lr': 0.1, 'lr_decay': 0.1, 'weight_decay': 0.1} */
    {{4.000000060e-01f, -8.999999762e-01f, 1.899999976e+00f, 0.000000000e+00f}, {4.839161038e-01f, -9.733663797e-01f, 1.854389191e+00f, -9.090909362e-02f}, {4.283990562e-01f, -1.004243255e+00f, 1.842203736e+00f, -1.334646344e-02f}},
};

static tg_optim *make_case(tg_ctx *ctx, tg_module *m, int which)
{
    tg_optim *o = NULL;
    tg_sgd_options sgd;
    tg_adam_options adam;
    tg_rmsprop_options rms;
    tg_adagrad_options ada;
    tg_sgd_options_init(&sgd);
    tg_adam_options_init(&adam);
    tg_rmsprop_options_init(&rms);
    tg_adagrad_options_init(&ada);
    tg_status s = TG_ERR_STATE;
    switch (which) {
    case 0: sgd.lr = 0.1f; s = tg_sgd_create(ctx, m, &sgd, &o); break;
    case 1:
        sgd.lr = 0.1f, sgd.momentum = 0.9f, sgd.dampening = 0.1f, sgd.weight_decay = 0.01f;
        s = tg_sgd_create(ctx, m, &sgd, &o);
        break;
    case 2:
        sgd.lr = 0.1f, sgd.momentum = 0.9f, sgd.nesterov = true, sgd.weight_decay = 0.01f;
        s = tg_sgd_create(ctx, m, &sgd, &o);
        break;
    case 3: adam.lr = 0.01f; s = tg_adam_create(ctx, m, &adam, &o); break;
    case 4:
        adam.lr = 0.01f, adam.beta1 = 0.8f, adam.beta2 = 0.99f, adam.weight_decay = 0.1f;
        s = tg_adam_create(ctx, m, &adam, &o);
        break;
    case 5:
        tg_adamw_options_init(&adam);
        ck_assert_float_eq(adam.weight_decay, 0.01f);
        adam.lr = 0.01f, adam.weight_decay = 0.1f;
        s = tg_adamw_create(ctx, m, &adam, &o);
        break;
    case 6: s = tg_rmsprop_create(ctx, m, NULL, &o); break; /* defaults: lr 0.01 */
    case 7:
        rms.alpha = 0.9f, rms.momentum = 0.9f, rms.weight_decay = 0.1f;
        s = tg_rmsprop_create(ctx, m, &rms, &o);
        break;
    case 8:
        ada.lr = 0.1f, ada.lr_decay = 0.1f, ada.weight_decay = 0.1f;
        s = tg_adagrad_create(ctx, m, &ada, &o);
        break;
    }
    ck_assert_msg(s == TG_OK, "case %d: %s", which, tg_ctx_last_error(ctx));
    return o;
}

START_TEST(builtin_matches_pytorch)
{
    static const char *names[9] = {"SGD", "SGD", "SGD", "Adam", "Adam",
                                   "AdamW", "RMSprop", "RMSprop", "Adagrad"};
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *w;
    tg_module *m = one_param_module(ctx, &w);
    tg_optim *o = make_case(ctx, m, _i);
    ck_assert_str_eq(tg_optim_name(o), names[_i]);
    ck_assert_uint_eq(tg_optim_n_params(o), 1);
    for (int step = 0; step < 3; step++) {
        set_grad(w, G[step]);
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        tgt_assert_close(tg_tensor_data(w), EXPECT[_i][step], 4, 1e-6, 1e-7);
    }
    ck_assert_int_eq(tg_optim_step_count(o), 3);
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Each built-in on 1 and 3 threads over parameters big enough for the
 * threads to split the update (each thread a slice of a parameter, which
 * ends mid-run of 16 floats), one of them without a gradient on the first
 * step: the same parameters and state, bit for bit. */
static void threaded_steps(int which, int threads, float *out)
{
    static const tg_module_vtable vt = {sizeof(tg_module_vtable), "Three", NULL, NULL};
    static const int64_t shapes[3][2] = {{150, 211}, {37, 1}, {100, 33}};
    tg_ctx *ctx = tgt_ctx_threads(1, threads);
    tg_module *m = NULL;
    tg_tensor *p[3];
    ck_assert_int_eq(tg_module_create(ctx, &vt, NULL, &m), TG_OK);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(tg_module_add_param(m, (const char *[]){"a", "b", "c"}[k], 2, shapes[k],
                                             &p[k]),
                         TG_OK);
        for (int64_t i = 0; i < tg_tensor_numel(p[k]); i++)
            tg_tensor_data(p[k])[i] = (float)((i * 7919 + k) % 2001) * 1e-3f - 1.0f;
    }
    tg_optim *o = make_case(ctx, m, which);
    for (int step = 0; step < 3; step++) {
        for (int k = 0; k < 3; k++) {
            if (k == 1 && step == 0)
                continue;
            float *g = tg__grad_buffer(ctx, p[k], true);
            ck_assert_ptr_nonnull(g);
            for (int64_t i = 0; i < tg_tensor_numel(p[k]); i++)
                g[i] = (float)((i * 104729 + 31 * step + k) % 1999) * 1e-3f - 0.999f;
        }
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
    }
    for (int k = 0; k < 3; k++) {
        const int64_t n = tg_tensor_numel(p[k]);
        memcpy(out, tg_tensor_data(p[k]), (size_t)n * sizeof *out);
        out += n;
        for (int st = 0; st < tg_optim_n_state(o); st++) {
            const float *state = tg_optim_state(o, (size_t)k, st);
            ck_assert_ptr_nonnull(state);
            memcpy(out, state, (size_t)n * sizeof *out);
            out += n;
        }
    }
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}

START_TEST(builtin_threads_same_bits)
{
    enum { MAXF = 3 * (150 * 211 + 37 + 100 * 33) };
    static float r1[MAXF], r3[MAXF];
    memset(r1, 0, sizeof r1);
    memset(r3, 0, sizeof r3);
    threaded_steps(_i, 1, r1);
    threaded_steps(_i, 3, r3);
    ck_assert_msg(memcmp(r1, r3, sizeof r1) == 0, "case %d", _i);
}
END_TEST

START_TEST(sgd_momentum_by_hand)
{
    /* SGD lr 0.5, momentum 0.5 on p = 1: step 1 buf = g = 2 -> p = 0;
     * step 2 buf = 0.5*2 + 1 = 2 -> p = -1; step 3 with g = 0: buf = 1 -> p = -1.5. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *w;
    tg_module *m = one_param_module(ctx, &w);
    tg_tensor_fill(w, 1.0f);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.5f;
    so.momentum = 0.5f;
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &so, &o), TG_OK);
    const float g[3] = {2, 1, 0}, want[3] = {0, -1, -1.5f};
    for (int k = 0; k < 3; k++) {
        float gv[4] = {g[k], g[k], g[k], g[k]};
        set_grad(w, gv);
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        ck_assert_float_eq(tg_tensor_data(w)[0], want[k]);
    }
    /* The momentum buffer is state slot 0. */
    ck_assert_int_eq(tg_optim_n_state(o), 1);
    ck_assert_float_eq(tg_optim_state(o, 0, 0)[2], 1.0f);
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(lr_change_between_steps)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *w;
    tg_module *m = one_param_module(ctx, &w);
    tg_optim *o = NULL;
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.1f;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &so, &o), TG_OK);
    ck_assert_float_eq(tg_optim_lr(o), 0.1f);
    const float g[4] = {1, 1, 1, 1};
    set_grad(w, g);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    tg_optim_set_lr(o, 0.25f);
    ck_assert_float_eq(tg_optim_lr(o), 0.25f);
    ck_assert_int_eq(tg_optim_step(o), TG_OK); /* same gradient again */
    float want[4];
    for (int i = 0; i < 4; i++)
        want[i] = P0[i] - 0.1f - 0.25f;
    tgt_assert_close(tg_tensor_data(w), want, 4, 1e-6, 1e-6);
    /* A bad lr is refused and the old one kept. */
    tg_optim_set_lr(o, -1.0f);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "learning rate"));
    ck_assert_float_eq(tg_optim_lr(o), 0.25f);
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(skips_params_without_grad)
{
    /* Two parameters; b gets no gradient on step 1, so it must be untouched
     * and its own step count must not advance: when it gets a gradient on
     * step 2, Adam's first-step update (|dp| = lr) applies to it. */
    static const tg_module_vtable vt = {sizeof(tg_module_vtable), "Pair", NULL, NULL};
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = NULL;
    tg_tensor *a, *b;
    ck_assert_int_eq(tg_module_create(ctx, &vt, NULL, &m), TG_OK);
    ck_assert_int_eq(tg_module_add_param(m, "a", 1, S4, &a), TG_OK);
    ck_assert_int_eq(tg_module_add_param(m, "b", 1, S4, &b), TG_OK);
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_adam_create(ctx, m, NULL, &o), TG_OK);
    const float g[4] = {1, -1, 2, -2};
    set_grad(a, g);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_ptr_null(tg_tensor_grad(b));
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(tg_tensor_data(b)[i], 0.0f);
    set_grad(b, g);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    const float want[4] = {-0.001f, 0.001f, -0.001f, 0.001f};
    tgt_assert_close(tg_tensor_data(b), want, 4, 1e-5, 0);
    ck_assert_int_eq(tg_optim_step_count(o), 2);
    /* zero_grad zeroes every gradient (keeps the memory). */
    tg_optim_zero_grad(o);
    ck_assert_float_eq(tg_tensor_grad(a)[0], 0.0f);
    ck_assert_float_eq(tg_tensor_grad(b)[3], 0.0f);
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A user optimiser: sign descent with a decaying lr, counting its calls in
 * its state buffer and checking what the library hands it. */
typedef struct {
    int calls;
    int destroyed;
} sign_hyper;

static void sign_update(void *hyper, const tg_optim_update *u)
{
    sign_hyper *h = hyper;
    h->calls++;
    ck_assert_uint_eq(u->n, 4);
    ck_assert_str_eq(u->name, u->index == 0 ? "first" : "");
    for (size_t i = 0; i < u->n; i++) {
        u->state[0][i] += 1.0f;                 /* counts updates */
        ck_assert_float_eq(u->state[0][i], (float)u->step);
        float s = u->grad[i] > 0 ? 1.0f : u->grad[i] < 0 ? -1.0f : 0.0f;
        u->param[i] -= u->lr * s / (float)u->step;
    }
}

static void sign_destroy(void *hyper) { ((sign_hyper *)hyper)->destroyed++; }

static const tg_optim_vtable sign_vtable = {sizeof(tg_optim_vtable), "SignSGD", 1, sign_update,
                                            sign_destroy};

START_TEST(user_optimizer)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *p[2];
    p[0] = tgt_tensor(ctx, 1, S4, P0, true);
    p[1] = tgt_tensor(ctx, 1, S4, P0, true);
    const char *names[2] = {"first", NULL};
    sign_hyper h = {0, 0};
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_optim_create_params(ctx, p, names, 2, &sign_vtable, &h, 0.5f, &o), TG_OK);
    ck_assert_ptr_eq(tg_optim_hyper(o), &h);
    const char *nm = NULL;
    ck_assert_ptr_eq(tg_optim_param(o, 1, &nm), p[1]);
    ck_assert_str_eq(nm, "");
    ck_assert_ptr_null(tg_optim_param(o, 2, &nm));
    const float g[4] = {3, -3, 0, 1};
    set_grad(p[0], g);
    set_grad(p[1], g);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_int_eq(h.calls, 4);
    /* step 1: -0.5*s, step 2: -0.25*s */
    const float want[4] = {0.5f - 0.75f, -1.0f + 0.75f, 2.0f, -0.75f};
    tgt_assert_close(tg_tensor_data(p[0]), want, 4, 1e-6, 1e-6);
    tgt_assert_close(tg_tensor_data(p[1]), want, 4, 1e-6, 1e-6);
    tg_optim_destroy(o);
    ck_assert_int_eq(h.destroyed, 1);
    tg_ctx_destroy(ctx);
}
END_TEST

/* An empty parameter with a gradient still gets its (empty) update, on
 * one thread or several, next to one big enough for the threads to split:
 * a user optimiser is called once per parameter and step, with all of it. */
static int empty_calls[2];

static void count_update(void *hyper, const tg_optim_update *u)
{
    (void)hyper;
    ck_assert_uint_eq(u->n, u->index == 0 ? 0 : 40000);
    empty_calls[u->index]++;
    for (size_t i = 0; i < u->n; i++)
        u->param[i] -= u->lr * u->grad[i];
}

static const tg_optim_vtable count_vtable = {sizeof(tg_optim_vtable), "Count", 0, count_update,
                                             NULL};

START_TEST(empty_param_updated)
{
    tg_ctx *ctx = tgt_ctx_threads(1, 2);
    tg_tensor *p[2] = {tgt_tensor(ctx, 1, (int64_t[]){0}, NULL, true),
                       tgt_tensor(ctx, 1, (int64_t[]){40000}, NULL, true)};
    for (int k = 0; k < 2; k++)
        ck_assert_ptr_nonnull(tg__grad_buffer(ctx, p[k], true));
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_optim_create_params(ctx, p, NULL, 2, &count_vtable, NULL, 0.5f, &o),
                     TG_OK);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_int_eq(empty_calls[0], 1);
    ck_assert_int_eq(empty_calls[1], 1);
    tg_optim_destroy(o);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.momentum = 0.9f;
    tg_module *m = NULL;
    static const tg_module_vtable vt = {sizeof(tg_module_vtable), "Two", NULL, NULL};
    tg_tensor *q[2];
    ck_assert_int_eq(tg_module_create(ctx, &vt, NULL, &m), TG_OK);
    ck_assert_int_eq(tg_module_add_param(m, "e", 1, (int64_t[]){0}, &q[0]), TG_OK);
    ck_assert_int_eq(tg_module_add_param(m, "w", 1, (int64_t[]){40000}, &q[1]), TG_OK);
    for (int k = 0; k < 2; k++)
        ck_assert_ptr_nonnull(tg__grad_buffer(ctx, q[k], true));
    tg_tensor_grad(q[1])[39999] = 1.0f;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &so, &o), TG_OK);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_float_eq(tg_tensor_data(q[1])[39999], -so.lr);
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(state_restore_before_first_step)
{
    /* Restore a checkpoint: momentum buffer and step count set before the
     * first step, so the update uses the buffer instead of cloning the grad. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *w;
    tg_module *m = one_param_module(ctx, &w);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 1.0f;
    so.momentum = 0.5f;
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &so, &o), TG_OK);
    tg_mem_stats before, after;
    tg_ctx_mem_stats(ctx, &before);
    float *buf = tg_optim_state(o, 0, 0);
    ck_assert_ptr_nonnull(buf);
    tg_ctx_mem_stats(ctx, &after);
    ck_assert_uint_eq(after.persistent_bytes, before.persistent_bytes + 4 * sizeof(float));
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(buf[i], 0.0f); /* zeroed on allocation */
        buf[i] = 2.0f;
    }
    tg_optim_set_step_count(o, 10);
    ck_assert_int_eq(tg_optim_step_count(o), 10);
    const float g[4] = {1, 1, 1, 1};
    set_grad(w, g);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    /* buf = 0.5*2 + 1 = 2, p -= 2 */
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(tg_tensor_data(w)[i], P0[i] - 2.0f);
    ck_assert_ptr_eq(tg_optim_state(o, 0, 0), buf); /* same buffer, not reallocated */
    ck_assert_int_eq(tg_optim_step_count(o), 11);

    /* Bad index or slot: NULL with a message. */
    tg_ctx_clear_error(ctx);
    ck_assert_ptr_null(tg_optim_state(o, 1, 0));
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);
    ck_assert_ptr_null(tg_optim_state(o, 0, 1));
    ck_assert_ptr_null(tg_optim_state(o, 0, -1));
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "slot -1"));
    tg_optim_destroy(o);
    tg_ctx_mem_stats(ctx, &after); /* the state is gone; w's gradient remains */
    ck_assert_uint_eq(after.persistent_bytes, before.persistent_bytes + 4 * sizeof(float));
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Each invalid hyper-parameter: TG_ERR_INVALID_ARG, a message naming it,
 * *out untouched. */
START_TEST(invalid_hyper_parameters)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *w;
    tg_module *m = one_param_module(ctx, &w);
    tg_optim *sentinel = (tg_optim *)&w, *o = sentinel;
    tg_sgd_options so;
    tg_adam_options ao;
    tg_rmsprop_options ro;
    tg_adagrad_options go;

#define EXPECT_BAD(call, text)                                                                 \
    do {                                                                                       \
        tg_ctx_clear_error(ctx);                                                               \
        ck_assert_int_eq((call), TG_ERR_INVALID_ARG);                                          \
        ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_INVALID_ARG);                         \
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), text) != NULL, "message \"%s\" lacks %s", \
                      tg_ctx_last_error(ctx), text);                                           \
        ck_assert_ptr_eq(o, sentinel);                                                         \
    } while (0)

    tg_sgd_options_init(&so);
    so.lr = -0.1f;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "learning rate");
    tg_sgd_options_init(&so);
    so.lr = NAN;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "learning rate");
    tg_sgd_options_init(&so);
    so.momentum = -0.5f;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "momentum");
    tg_sgd_options_init(&so);
    so.nesterov = true;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "Nesterov");
    so.momentum = 0.9f;
    so.dampening = 0.1f;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "dampening");
    tg_sgd_options_init(&so);
    so.weight_decay = -1.0f;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "weight_decay");
    tg_sgd_options_init(&so);
    so.struct_size = 3;
    EXPECT_BAD(tg_sgd_create(ctx, m, &so, &o), "struct_size");

    tg_adam_options_init(&ao);
    ao.beta1 = 1.0f;
    EXPECT_BAD(tg_adam_create(ctx, m, &ao, &o), "beta1");
    tg_adam_options_init(&ao);
    ao.beta2 = -0.1f;
    EXPECT_BAD(tg_adam_create(ctx, m, &ao, &o), "beta2");
    tg_adamw_options_init(&ao);
    ao.eps = -1e-8f;
    EXPECT_BAD(tg_adamw_create(ctx, m, &ao, &o), "eps");
    tg_adamw_options_init(&ao);
    ao.lr = -1;
    EXPECT_BAD(tg_adamw_create(ctx, m, &ao, &o), "learning rate");

    tg_rmsprop_options_init(&ro);
    ro.alpha = -0.5f;
    EXPECT_BAD(tg_rmsprop_create(ctx, m, &ro, &o), "alpha");
    tg_rmsprop_options_init(&ro);
    ro.momentum = INFINITY;
    EXPECT_BAD(tg_rmsprop_create(ctx, m, &ro, &o), "momentum");

    tg_adagrad_options_init(&go);
    go.lr_decay = -0.1f;
    EXPECT_BAD(tg_adagrad_create(ctx, m, &go, &o), "lr_decay");

    EXPECT_BAD(tg_sgd_create(ctx, NULL, NULL, &o), "module is NULL");
    EXPECT_BAD(tg_optim_create(ctx, m, &sign_vtable, NULL, -1.0f, &o), "learning rate");
    EXPECT_BAD(tg_optim_create(ctx, m, NULL, NULL, 0.1f, &o), "vtable is NULL");
    tg_optim_vtable bad = sign_vtable;
    bad.n_state = 9;
    EXPECT_BAD(tg_optim_create(ctx, m, &bad, NULL, 0.1f, &o), "n_state 9");
    bad = sign_vtable;
    bad.update = NULL;
    EXPECT_BAD(tg_optim_create(ctx, m, &bad, NULL, 0.1f, &o), "update");
    bad = sign_vtable;
    bad.struct_size = 1;
    EXPECT_BAD(tg_optim_create(ctx, m, &bad, NULL, 0.1f, &o), "struct_size");

    /* Parameter lists: transient, duplicated, NULL. */
    tg_tensor *tr = tg_zeros(ctx, 1, S4);
    tg_tensor *list[2] = {w, tr};
    EXPECT_BAD(tg_optim_create_params(ctx, list, NULL, 2, &sign_vtable, NULL, 0.1f, &o),
               "transient");
    list[1] = w;
    EXPECT_BAD(tg_optim_create_params(ctx, list, NULL, 2, &sign_vtable, NULL, 0.1f, &o),
               "twice");
    list[1] = NULL;
    EXPECT_BAD(tg_optim_create_params(ctx, list, NULL, 2, &sign_vtable, NULL, 0.1f, &o),
               "parameter 1 is NULL");
#undef EXPECT_BAD

    ck_assert_int_eq(tg_sgd_create(NULL, m, NULL, &o), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_optim_step(NULL), TG_ERR_INVALID_ARG);
    tg_optim_destroy(NULL);
    tg_optim_zero_grad(NULL);
    ck_assert_ptr_null(tg_optim_name(NULL));
    /* The parameter is untouched by all of this. */
    tgt_assert_close(tg_tensor_data(w), P0, 4, 0, 0);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(options_defaults)
{
    tg_sgd_options s;
    tg_adam_options a;
    tg_rmsprop_options r;
    tg_adagrad_options g;
    tg_sgd_options_init(&s);
    ck_assert_float_eq(s.lr, 0.01f);
    ck_assert(!s.nesterov && s.momentum == 0 && s.dampening == 0 && s.weight_decay == 0);
    tg_adam_options_init(&a);
    ck_assert(a.lr == 0.001f && a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f &&
              a.weight_decay == 0);
    tg_rmsprop_options_init(&r);
    ck_assert(r.lr == 0.01f && r.alpha == 0.99f && r.eps == 1e-8f && r.momentum == 0);
    tg_adagrad_options_init(&g);
    ck_assert(g.lr == 0.01f && g.eps == 1e-10f && g.lr_decay == 0 && g.weight_decay == 0);
    /* An older, shorter options struct keeps the defaults for later fields. */
    tg_ctx *ctx = tgt_ctx(1);
    tg_tensor *w;
    tg_module *m = one_param_module(ctx, &w);
    tg_sgd_options_init(&s);
    s.lr = 1.0f;
    s.momentum = 123.0f; /* beyond struct_size: must be ignored */
    s.struct_size = offsetof(tg_sgd_options, momentum);
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &s, &o), TG_OK);
    const float gr[4] = {1, 1, 1, 1};
    set_grad(w, gr);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    set_grad(w, gr);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    ck_assert_float_eq(tg_tensor_data(w)[0], 0.5f - 2.0f); /* plain SGD, lr 1 */
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_loop_test(tc, builtin_matches_pytorch, 0, 9);
    tcase_add_loop_test(tc, builtin_threads_same_bits, 0, 9);
    tcase_add_test(tc, sgd_momentum_by_hand);
    tcase_add_test(tc, lr_change_between_steps);
    tcase_add_test(tc, skips_params_without_grad);
    tcase_add_test(tc, user_optimizer);
    tcase_add_test(tc, empty_param_updated);
    tcase_add_test(tc, state_restore_before_first_step);
    tcase_add_test(tc, invalid_hyper_parameters);
    tcase_add_test(tc, options_defaults);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
