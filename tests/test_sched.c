/* SPDX-License-Identifier: MIT */
/* Learning-rate schedulers against torch.optim.lr_scheduler, gradient
 * clipping against torch.nn.utils.clip_grad_norm_ (values from
 * tests/fixtures/gen_torch_sched.py), optimisers by name, and both in
 * tg_fit(). Uses only the public API. */
#include "tg_test.h"

#include "fixtures/sched_expected.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static tg_scheduler *make(tg_ctx *ctx, const tg_scheduler_options *o)
{
    tg_scheduler *s = NULL;
    ck_assert_msg(tg_scheduler_create(ctx, o, &s) == TG_OK, "%s", tg_ctx_last_error(ctx));
    return s;
}

static void expect(const tg_scheduler *s, const double *want, size_t n, const char *what)
{
    for (size_t t = 0; t < n; t++) {
        double got = tg_scheduler_lr(s, 0.1, (int64_t)t);
        ck_assert_msg(fabs(got - want[t]) <= 1e-12 + 1e-9 * fabs(want[t]),
                      "%s step %zu: got %.17g, torch %.17g", what, t, got, want[t]);
    }
}

START_TEST(matches_torch)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_scheduler_options o;
    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_STEP;
    o.step_size = 3;
    o.gamma = 0.5;
    tg_scheduler *s = make(ctx, &o);
    expect(s, SCHED_STEP, N_OF(SCHED_STEP), "step");
    tg_scheduler_destroy(s);

    static const int64_t ms[3] = {2, 5, 9};
    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_MULTISTEP;
    o.milestones = ms;
    o.n_milestones = 3;
    s = make(ctx, &o);
    expect(s, SCHED_MULTISTEP, N_OF(SCHED_MULTISTEP), "multistep");
    tg_scheduler_destroy(s);

    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_COSINE;
    o.t_max = 10;
    o.eta_min = 0.001;
    s = make(ctx, &o);
    expect(s, SCHED_COSINE, N_OF(SCHED_COSINE), "cosine");
    tg_scheduler_destroy(s);

    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_COSINE;
    o.t_max = 8;
    o.warmup_steps = 4;
    o.warmup_start_factor = 0.25;
    s = make(ctx, &o);
    expect(s, SCHED_WARMUP_COSINE, N_OF(SCHED_WARMUP_COSINE), "warm-up + cosine");
    tg_scheduler_destroy(s);

    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_STEP;
    o.step_size = 2;
    o.gamma = 0.5;
    o.warmup_steps = 3;
    o.warmup_start_factor = 0.1;
    s = make(ctx, &o);
    expect(s, SCHED_WARMUP_STEP, N_OF(SCHED_WARMUP_STEP), "warm-up + step");
    tg_scheduler_destroy(s);

    tg_scheduler_options_init(&o);
    o.warmup_steps = 5;
    o.warmup_start_factor = 0.5;
    s = make(ctx, &o);
    expect(s, SCHED_WARMUP_ONLY, N_OF(SCHED_WARMUP_ONLY), "warm-up only");
    tg_scheduler_destroy(s);

    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_ONE_CYCLE;
    o.max_lr = 0.5;
    o.total_steps = 20;
    s = make(ctx, &o);
    expect(s, SCHED_ONE_CYCLE, N_OF(SCHED_ONE_CYCLE), "one-cycle");
    /* past the end it stays at the final rate */
    ck_assert_double_eq(tg_scheduler_lr(s, 0.1, 25), tg_scheduler_lr(s, 0.1, 19));
    ck_assert(isnan(tg_scheduler_lr(s, 0.1, -1)));
    ck_assert(isnan(tg_scheduler_lr(NULL, 0.1, 0)));
    tg_scheduler_destroy(s);
    tg_scheduler_destroy(NULL);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(create_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_scheduler *s = (tg_scheduler *)(uintptr_t)0x1;
    tg_scheduler_options o;
#define BAD(stmt, needle)                                                                      \
    do {                                                                                       \
        tg_scheduler_options_init(&o);                                                         \
        stmt;                                                                                  \
        ck_assert_int_eq(tg_scheduler_create(ctx, &o, &s), TG_ERR_INVALID_ARG);                \
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), needle) != NULL, "%s",                    \
                      tg_ctx_last_error(ctx));                                                 \
    } while (0)
    BAD(o.kind = (tg_sched_kind)9, "unknown kind 9");
    BAD((o.kind = TG_SCHED_STEP, o.step_size = 0), "step_size");
    BAD((o.kind = TG_SCHED_STEP, o.gamma = 0), "gamma");
    BAD((o.kind = TG_SCHED_COSINE, o.t_max = 0), "t_max");
    BAD((o.kind = TG_SCHED_COSINE, o.eta_min = -1), "eta_min");
    static const int64_t dec[2] = {5, 3};
    BAD((o.kind = TG_SCHED_MULTISTEP, o.milestones = dec, o.n_milestones = 2), "increasing");
    BAD((o.kind = TG_SCHED_MULTISTEP, o.n_milestones = 2), "milestones");
    BAD((o.kind = TG_SCHED_ONE_CYCLE, o.total_steps = 10), "max_lr");
    BAD((o.kind = TG_SCHED_ONE_CYCLE, o.max_lr = 1, o.total_steps = 0), "total_steps");
    BAD((o.kind = TG_SCHED_ONE_CYCLE, o.max_lr = 1, o.total_steps = 10, o.pct_start = 1),
        "pct_start");
    BAD((o.kind = TG_SCHED_ONE_CYCLE, o.max_lr = 1, o.total_steps = 10, o.warmup_steps = 2),
        "warmup_steps");
    BAD((o.warmup_steps = 2, o.warmup_start_factor = 0), "warmup_start_factor");
    BAD(o.base_lr = -1, "base_lr");
    BAD(o.struct_size = 1, "struct_size");
#undef BAD
    ck_assert_int_eq(tg_scheduler_create(ctx, NULL, &s), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_scheduler_create(NULL, &o, &s), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(s, (tg_scheduler *)(uintptr_t)0x1);
    tg_ctx_destroy(ctx);
}
END_TEST

static tg_module *tiny(tg_ctx *ctx)
{
    tg_linear_options lo;
    tg_linear_options_init(&lo, 3, 2);
    tg_module *m = NULL;
    ck_assert_int_eq(tg_nn_linear(ctx, &lo, &m), TG_OK);
    return m;
}

START_TEST(apply_fixes_base)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = tiny(ctx);
    tg_optim *opt = NULL;
    tg_optim_config c;
    tg_optim_config_init(&c);
    c.lr = 0.2f;
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, "sgd", &c, &opt), TG_OK);
    tg_scheduler_options o;
    tg_scheduler_options_init(&o);
    o.kind = TG_SCHED_STEP;
    o.gamma = 0.5;
    tg_scheduler *s = make(ctx, &o);
    ck_assert_int_eq(tg_scheduler_apply(s, opt, 2), TG_OK);
    ck_assert_float_eq_tol(tg_optim_lr(opt), 0.05f, 1e-9f);
    ck_assert_int_eq(tg_scheduler_apply(s, opt, 1), TG_OK); /* base stays 0.2 */
    ck_assert_float_eq_tol(tg_optim_lr(opt), 0.1f, 1e-9f);
    ck_assert_int_eq(tg_scheduler_apply(s, NULL, 1), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_scheduler_apply(s, opt, -1), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_scheduler_apply(NULL, opt, 1), TG_ERR_INVALID_ARG);
    tg_scheduler_destroy(s);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

static tg_tensor *identity(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}

START_TEST(clip_matches_torch)
{
    static const float g[7] = {3.0f, -4.0f, 0.5f, 1.0f, 2.0f, -2.0f, 0.25f};
    for (int k = 0; k < 2; k++) {
        tg_ctx *ctx = tgt_ctx(1);
        static const tg_module_vtable vt = {sizeof vt, "Three", identity, NULL};
        tg_module *m = NULL;
        ck_assert_int_eq(tg_module_create(ctx, &vt, NULL, &m), TG_OK);
        const int64_t s1 = 3, s2[2] = {2, 2};
        tg_tensor *a = NULL, *b = NULL, *c = NULL;
        ck_assert_int_eq(tg_module_add_param(m, "a", 1, &s1, &a), TG_OK);
        ck_assert_int_eq(tg_module_add_param(m, "b", 2, s2, &b), TG_OK);
        ck_assert_int_eq(tg_module_add_param(m, "c", 1, &s1, &c), TG_OK); /* no gradient */
        tg_tensor *w1 = tg_from_data(ctx, 1, &s1, g, 3), *w2 = tg_from_data(ctx, 2, s2, g + 3, 4);
        tg_tensor *l = tg_add(ctx, tg_sum_all(ctx, tg_mul(ctx, a, w1)),
                              tg_sum_all(ctx, tg_mul(ctx, b, w2)));
        ck_assert_int_eq(tg_backward(ctx, l), TG_OK);
        tg_optim *opt = NULL;
        ck_assert_int_eq(tg_optim_create_by_name(ctx, m, "SGD", NULL, &opt), TG_OK);
        float norm = -1.0f;
        ck_assert_int_eq(tg_clip_grad_norm(opt, k == 0 ? 2.0f : 100.0f, &norm), TG_OK);
        ck_assert(fabs(norm - (k == 0 ? CLIP_2_NORM : CLIP_100_NORM)) < 1e-6 * CLIP_2_NORM);
        const float *want = k == 0 ? CLIP_2_GRADS : CLIP_100_GRADS;
        tgt_assert_close(tg_tensor_grad(a), want, 3, 1e-6, 1e-7);
        tgt_assert_close(tg_tensor_grad(b), want + 3, 4, 1e-6, 1e-7);
        ck_assert_int_eq(tg_clip_grad_norm(opt, 0.0f, &norm), TG_ERR_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "max_norm"));
        ck_assert_int_eq(tg_clip_grad_norm(NULL, 1.0f, &norm), TG_ERR_INVALID_ARG);
        /* a non-finite norm leaves the gradients as they are */
        tg_tensor_grad(b)[1] = INFINITY;
        ck_assert_int_eq(tg_clip_grad_norm(opt, 1.0f, NULL), TG_ERR_NUMERIC);
        tgt_assert_close(tg_tensor_grad(a), want, 3, 1e-6, 1e-7);
        tg_optim_destroy(opt);
        tg_module_destroy(m);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

START_TEST(optim_by_name)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = tiny(ctx);
    static const char *const names[5] = {"sgd", "Adam", "adamw", "RMSprop", "adagrad"};
    static const char *const types[5] = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"};
    static const float dflt[5] = {0.01f, 0.001f, 0.001f, 0.01f, 0.01f};
    for (int i = 0; i < 5; i++) {
        tg_optim *o = NULL;
        ck_assert_int_eq(tg_optim_create_by_name(ctx, m, names[i], NULL, &o), TG_OK);
        ck_assert_str_eq(tg_optim_name(o), types[i]);
        ck_assert_float_eq(tg_optim_lr(o), dflt[i]);
        tg_optim_destroy(o);
    }
    tg_optim_config c;
    tg_optim_config_init(&c);
    c.lr = 0.5f;
    c.momentum = 0.9f;
    c.nesterov = true;
    c.weight_decay = 1e-4f;
    tg_optim *o = NULL;
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, "sgd", &c, &o), TG_OK);
    ck_assert_float_eq(tg_optim_lr(o), 0.5f);
    tg_optim_destroy(o);
    o = (tg_optim *)(uintptr_t)0x1;
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, "adm", &c, &o), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "'adm' (valid: sgd, adam, adamw, rmsprop, adagrad)"));
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, NULL, &c, &o), TG_ERR_INVALID_ARG);
    c.momentum = -1.0f;
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, "sgd", &c, &o), TG_ERR_INVALID_ARG);
    c.struct_size = 2;
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, "sgd", &c, &o), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(o, (tg_optim *)(uintptr_t)0x1);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* 8x8 images, 4 classes: class k lights rows 2k and 2k+1. */
static tg_dataset *synth(tg_ctx *ctx, size_t n)
{
    uint8_t *img = malloc(n * 64);
    int32_t *lab = malloc(n * sizeof *lab);
    ck_assert(img && lab);
    uint32_t s = 99u;
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % 4);
        for (int p = 0; p < 64; p++) {
            s = s * 1664525u + 1013904223u;
            img[i * 64 + (size_t)p] = (uint8_t)(p / 16 == lab[i] ? 160 + (s >> 27) : (s >> 26));
        }
    }
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, n, 8, 8, img, lab, 4, &ds), TG_OK);
    free(img);
    free(lab);
    return ds;
}

typedef struct {
    tg_optim *opt;
    float lr[16];
    int n;
} seen;

static int on_batch(void *user, int64_t epoch, size_t b, size_t nb, double loss, double sps)
{
    (void)epoch, (void)b, (void)nb, (void)loss, (void)sps;
    seen *s = user;
    if (s->n < 16)
        s->lr[s->n++] = tg_optim_lr(s->opt);
    return 0;
}

/* tg_fit applies the scheduler per epoch or per batch, and clips. */
START_TEST(fit_uses_scheduler_and_clip)
{
    for (int per_batch = 0; per_batch < 2; per_batch++) {
        tg_ctx *ctx = tgt_ctx(1);
        tg_dataset *ds = synth(ctx, 32);
        tg_module *seq = NULL, *l = NULL;
        ck_assert_int_eq(tg_nn_sequential(ctx, &seq), TG_OK);
        ck_assert_int_eq(tg_nn_flatten(ctx, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
        tg_linear_options lo;
        tg_linear_options_init(&lo, 64, 4);
        ck_assert_int_eq(tg_nn_linear(ctx, &lo, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
        tg_optim_config c;
        tg_optim_config_init(&c);
        c.lr = 0.4f;
        tg_optim *opt = NULL;
        ck_assert_int_eq(tg_optim_create_by_name(ctx, seq, "sgd", &c, &opt), TG_OK);
        tg_scheduler_options so;
        tg_scheduler_options_init(&so);
        so.kind = TG_SCHED_STEP;
        so.gamma = 0.5;
        so.per_batch = per_batch;
        tg_scheduler *s = make(ctx, &so);
        seen sn = {opt, {0}, 0};
        tg_fit_options fo;
        tg_fit_options_init(&fo);
        fo.epochs = 3;
        fo.batch_size = 16; /* 2 batches an epoch */
        fo.scheduler = s;
        fo.clip_grad_norm = 0.5f;
        fo.on_batch = on_batch;
        fo.user = &sn;
        ck_assert_int_eq(tg_fit(seq, opt, ds, NULL, &fo, NULL), TG_OK);
        ck_assert_int_eq(sn.n, 6);
        for (int i = 0; i < 6; i++) {
            int step = per_batch ? i : i / 2;
            ck_assert_float_eq_tol(sn.lr[i], 0.4f * powf(0.5f, (float)step), 1e-7f);
        }
        /* resumed at epoch 2: the schedule continues */
        sn.n = 0;
        fo.start_epoch = 2;
        ck_assert_int_eq(tg_fit(seq, opt, ds, NULL, &fo, NULL), TG_OK);
        ck_assert_int_eq(sn.n, 2);
        ck_assert_float_eq_tol(sn.lr[0], 0.4f * powf(0.5f, per_batch ? 4.0f : 2.0f), 1e-7f);
        fo.clip_grad_norm = -1.0f;
        ck_assert_int_eq(tg_fit(seq, opt, ds, NULL, &fo, NULL), TG_ERR_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "clip_grad_norm"));
        tg_scheduler_destroy(s);
        tg_optim_destroy(opt);
        tg_module_destroy(seq);
        tg_dataset_destroy(ds);
        tg_ctx_destroy(ctx);
    }
}
END_TEST

/* Clipping in tg_fit changes the update exactly as a manual clip would. */
START_TEST(fit_clip_equals_manual)
{
    float after[2][260];
    for (int way = 0; way < 2; way++) {
        tg_ctx *ctx = tgt_ctx(4);
        tg_dataset *ds = synth(ctx, 16);
        tg_module *seq = NULL, *l = NULL;
        ck_assert_int_eq(tg_nn_sequential(ctx, &seq), TG_OK);
        ck_assert_int_eq(tg_nn_flatten(ctx, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
        tg_linear_options lo;
        tg_linear_options_init(&lo, 64, 4);
        ck_assert_int_eq(tg_nn_linear(ctx, &lo, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
        tg_optim *opt = NULL;
        ck_assert_int_eq(tg_optim_create_by_name(ctx, seq, "sgd", NULL, &opt), TG_OK);
        if (way == 0) {
            tg_fit_options fo;
            tg_fit_options_init(&fo);
            fo.epochs = 1;
            fo.batch_size = 16;
            fo.shuffle = false;
            fo.clip_grad_norm = 0.01f;
            ck_assert_int_eq(tg_fit(seq, opt, ds, NULL, &fo, NULL), TG_OK);
        } else {
            tg_tensor *x = tg_dataset_to_tensor(ds, 0, 16);
            tg_tensor *loss = tg_cross_entropy(ctx, tg_module_forward(seq, x),
                                               tg_dataset_labels(ds), 16, TG_REDUCTION_MEAN);
            ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
            float norm = 0;
            ck_assert_int_eq(tg_clip_grad_norm(opt, 0.01f, &norm), TG_OK);
            ck_assert(norm > 0.01f); /* it did clip */
            ck_assert_int_eq(tg_optim_step(opt), TG_OK);
        }
        tg_tensor *w = tg_module_find(seq, "1.weight"), *b = tg_module_find(seq, "1.bias");
        memcpy(after[way], tg_tensor_data(w), 256 * sizeof(float));
        memcpy(after[way] + 256, tg_tensor_data(b), 4 * sizeof(float));
        tg_optim_destroy(opt);
        tg_module_destroy(seq);
        tg_dataset_destroy(ds);
        tg_ctx_destroy(ctx);
    }
    tgt_assert_close(after[0], after[1], 260, 1e-6, 1e-7);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("sched");
    tcase_add_test(tc, matches_torch);
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, apply_fixes_base);
    tcase_add_test(tc, clip_matches_torch);
    tcase_add_test(tc, optim_by_name);
    tcase_add_test(tc, fit_uses_scheduler_and_clip);
    tcase_add_test(tc, fit_clip_equals_manual);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
