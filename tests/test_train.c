/* SPDX-License-Identifier: MIT */
/* Training helpers (lib/train): tg_fit learns a synthetic task, early
 * stopping, callbacks, checkpoints and a bit-exact resume, NaN handling,
 * tg_evaluate's loss/accuracy/confusion/predictions, the metrics CSV and
 * SVG files, tg_image_load_png, and the error paths. Public API only. */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define HW 8
#define NC 4

/* n images of 8x8: label i % 4, class k lights rows 2k and 2k+1 over a
 * deterministic noise background. */
static tg_dataset *synth(tg_ctx *ctx, size_t n, uint32_t salt)
{
    uint8_t *img = malloc(n * HW * HW);
    int32_t *lab = malloc(n * sizeof *lab);
    uint32_t s = 12345u + salt;
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i % NC);
        for (int p = 0; p < HW * HW; p++) {
            s = s * 1664525u + 1013904223u;
            int row = p / HW;
            bool on = row / 2 == lab[i];
            img[i * HW * HW + (size_t)p] = (uint8_t)(on ? 160 + (s >> 27) : (s >> 26));
        }
    }
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, n, HW, HW, img, lab, NC, &ds), TG_OK);
    free(img);
    free(lab);
    return ds;
}

/* flatten + linear 64 -> 4 */
static tg_module *linear_model(tg_ctx *ctx)
{
    tg_module *seq = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_flatten_create(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, HW * HW, NC, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    return seq;
}

static tg_optim *sgd(tg_ctx *ctx, tg_module *m, float lr, float momentum)
{
    tg_sgd_options o;
    tg_sgd_options_init(&o);
    o.lr = lr;
    o.momentum = momentum;
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, &o, &opt), TG_OK);
    return opt;
}

typedef struct rec {
    tg_epoch_metrics m[16];
    int n;
    int stop_at;            /* epoch whose callback returns 1 (0 = never) */
    uint64_t allocs_b1;     /* n_allocs seen after batch index 1 of epoch 1 */
    uint64_t allocs_last;   /* ... and after the last batch of epoch 1 */
    tg_ctx *ctx;
    int batches;
} rec;

static int rec_epoch(void *user, const tg_epoch_metrics *m)
{
    rec *r = user;
    r->m[r->n++] = *m;
    return r->stop_at && m->epoch == r->stop_at;
}

static int rec_batch(void *user, int64_t epoch, size_t b, size_t nb, double loss,
                     double samples_per_s)
{
    rec *r = user;
    ck_assert(isfinite(loss));
    ck_assert(samples_per_s >= 0);
    ck_assert_uint_lt(b, nb);
    r->batches++;
    if (epoch == 1 && (b == 1 || b + 1 == nb)) {
        tg_mem_stats st;
        tg_ctx_mem_stats(r->ctx, &st);
        *(b == 1 ? &r->allocs_b1 : &r->allocs_last) = st.n_allocs;
    }
    return 0;
}

/* a/b into buf (size bytes); fails the test if it does not fit. */
static const char *pj(char *buf, size_t size, const char *a, const char *b)
{
    int k = snprintf(buf, size, "%s/%s", a, b);
    ck_assert(k > 0 && (size_t)k < size);
    return buf;
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/tg_train_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rm_dir(const char *d)
{
    const char *names[] = {"best.safetensors", "last.safetensors", "checkpoint.safetensors",
                           "m.csv", "loss.svg", "acc.svg", "c.svg", "bad.csv", "x.png", "sub"};
    char p[1024];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        pj(p, sizeof p, d, names[i]);
        remove(p);
    }
    rmdir(d);
}

static bool file_exists(const char *dir, const char *name)
{
    char p[1024];
    pj(p, sizeof p, dir, name);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

START_TEST(fit_learns)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *train = synth(ctx, 200, 0), *val = synth(ctx, 80, 7);
    tg_module *m = linear_model(ctx);
    tg_optim *opt = sgd(ctx, m, 0.1f, 0.0f);
    rec r = {.ctx = ctx};
    tg_fit_options o;
    tg_fit_options_init(&o);
    o.epochs = 5;
    o.batch_size = 16;
    o.on_epoch = rec_epoch;
    o.on_batch = rec_batch;
    o.user = &r;
    tg_fit_result res = {.struct_size = sizeof res};
    ck_assert_int_eq(tg_fit(m, opt, train, val, &o, &res), TG_OK);
    ck_assert_int_eq(res.stop, TG_FIT_COMPLETED);
    ck_assert_int_eq(res.last_epoch, 5);
    ck_assert_int_eq(r.n, 5);
    ck_assert_int_eq(r.batches, 5 * 13);
    ck_assert_uint_eq(res.samples, 5 * 200);
    ck_assert(res.samples_per_s > 0 && res.train_seconds > 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(r.m[i].epoch, i + 1);
        ck_assert(isfinite(r.m[i].val_loss) && r.m[i].seconds > 0);
    }
    ck_assert(r.m[4].train_loss < 0.5 * r.m[0].train_loss);
    ck_assert(r.m[4].val_accuracy >= 0.95);
    ck_assert(r.m[4].train_accuracy >= 0.9);
    ck_assert_int_eq(tg_optim_step_count(opt), 5 * 13);
    /* steady-state steps allocate nothing */
    ck_assert_uint_eq(r.allocs_b1, r.allocs_last);
    /* mode and grad setting are restored */
    ck_assert(tg_module_is_training(m));
    ck_assert(tg_ctx_grad_enabled(ctx));

    /* evaluate agrees with the last epoch's validation metrics */
    tg_eval_result er = {.struct_size = sizeof er};
    ck_assert_int_eq(tg_evaluate(m, val, NULL, &er), TG_OK);
    ck_assert_uint_eq(er.n, 80);
    ck_assert_double_eq_tol(er.loss, r.m[4].val_loss, 1e-6);
    ck_assert_double_eq_tol(er.accuracy, r.m[4].val_accuracy, 1e-12);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_dataset_destroy(train);
    tg_dataset_destroy(val);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(fit_early_stopping_and_checkpoints)
{
    tg_ctx *ctx = tgt_ctx(2);
    tg_dataset *train = synth(ctx, 64, 0), *val = synth(ctx, 32, 3);
    tg_module *m = linear_model(ctx);
    tg_optim *opt = sgd(ctx, m, 1e-9f, 0.0f); /* nothing improves by min_delta */
    char *dir = tmpdir();
    char sub[1024];
    pj(sub, sizeof sub, dir, "sub"); /* created by fit */
    rec r = {.ctx = ctx};
    tg_fit_options o;
    tg_fit_options_init(&o);
    o.epochs = 20;
    o.patience = 2;
    o.min_delta = 1e-3;
    o.save_dir = sub;
    o.on_epoch = rec_epoch;
    o.user = &r;
    tg_fit_result res = {.struct_size = sizeof res};
    ck_assert_int_eq(tg_fit(m, opt, train, val, &o, &res), TG_OK);
    ck_assert_int_eq(res.stop, TG_FIT_EARLY_STOPPED);
    ck_assert_int_eq(res.best_epoch, 1);
    ck_assert_int_eq(res.last_epoch, 3);
    ck_assert_int_eq(r.n, 3);
    ck_assert_double_eq_tol(res.best_loss, r.m[0].val_loss, 1e-12);
    ck_assert(file_exists(sub, "best.safetensors"));
    ck_assert(file_exists(sub, "last.safetensors"));
    ck_assert(file_exists(sub, "checkpoint.safetensors"));
    char path[1024], buf[64];
    pj(path, sizeof path, sub, "best.safetensors");
    ck_assert_int_eq(tg_safetensors_get_metadata(ctx, path, "tg.epoch", buf, sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "1");
    pj(path, sizeof path, sub, "checkpoint.safetensors");
    int64_t ep = -1;
    ck_assert_int_eq(tg_checkpoint_load(m, opt, &ep, path), TG_OK);
    ck_assert_int_eq(ep, 3);
    /* last.safetensors loads into a model (module state only) */
    pj(path, sizeof path, sub, "last.safetensors");
    ck_assert_int_eq(tg_module_load(m, path), TG_OK);

    /* resuming reads the best epoch back: patience is already used up */
    r.n = 0;
    o.start_epoch = 3;
    ck_assert_int_eq(tg_fit(m, opt, train, val, &o, &res), TG_OK);
    ck_assert_int_eq(res.stop, TG_FIT_EARLY_STOPPED);
    ck_assert_int_eq(res.best_epoch, 1);
    ck_assert_int_eq(res.last_epoch, 4);

    /* patience without a validation set is off; a callback can stop */
    r.n = 0;
    r.stop_at = 2;
    o.start_epoch = 0;
    o.save_dir = NULL;
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, &o, &res), TG_OK);
    ck_assert_int_eq(res.stop, TG_FIT_CALLBACK_STOPPED);
    ck_assert_int_eq(res.last_epoch, 2);
    ck_assert(isnan(r.m[0].val_loss) && isnan(r.m[0].val_accuracy));
    rm_dir(sub);
    rm_dir(dir);
    free(dir);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_dataset_destroy(train);
    tg_dataset_destroy(val);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A model in a fresh context with its own copy of the data. */
typedef struct setup {
    tg_ctx *ctx;
    tg_dataset *train, *val;
    tg_module *m;
    tg_optim *opt;
} setup;

static setup make_setup(uint64_t seed)
{
    setup s;
    s.ctx = tgt_ctx(seed);
    s.train = synth(s.ctx, 96, 0);
    s.val = synth(s.ctx, 32, 5);
    s.m = linear_model(s.ctx);
    tg_adam_options ao;
    tg_adam_options_init(&ao);
    ao.lr = 0.01f;
    ck_assert_int_eq(tg_adam_create(s.ctx, s.m, &ao, &s.opt), TG_OK);
    return s;
}

static void free_setup(setup *s)
{
    tg_optim_destroy(s->opt);
    tg_module_destroy(s->m);
    tg_dataset_destroy(s->train);
    tg_dataset_destroy(s->val);
    tg_ctx_destroy(s->ctx);
}

START_TEST(fit_resume_bit_exact)
{
    tg_fit_options o;
    tg_fit_options_init(&o);
    o.batch_size = 10; /* a partial last batch too */
    o.seed = 99;
    /* uninterrupted: 2 epochs */
    setup a = make_setup(5);
    o.epochs = 2;
    ck_assert_int_eq(tg_fit(a.m, a.opt, a.train, a.val, &o, NULL), TG_OK);
    /* 1 epoch, checkpoint, then a fresh model and optimiser resume */
    char *dir = tmpdir();
    setup b = make_setup(5);
    o.epochs = 1;
    o.save_dir = dir;
    ck_assert_int_eq(tg_fit(b.m, b.opt, b.train, b.val, &o, NULL), TG_OK);
    free_setup(&b);
    setup c = make_setup(77); /* other init: everything comes from the file */
    char path[1024];
    pj(path, sizeof path, dir, "checkpoint.safetensors");
    int64_t start = -1;
    ck_assert_int_eq(tg_checkpoint_load(c.m, c.opt, &start, path), TG_OK);
    ck_assert_int_eq(start, 1);
    o.start_epoch = start;
    o.epochs = 2;
    ck_assert_int_eq(tg_fit(c.m, c.opt, c.train, c.val, &o, NULL), TG_OK);
    ck_assert_int_eq(tg_optim_step_count(c.opt), tg_optim_step_count(a.opt));
    size_t np = tg_module_n_params(a.m);
    ck_assert_uint_eq(np, tg_module_n_params(c.m));
    for (size_t i = 0; i < np; i++) {
        tg_tensor *pa = tg_module_param(a.m, i, NULL), *pc = tg_module_param(c.m, i, NULL);
        size_t n = (size_t)tg_tensor_numel(pa);
        ck_assert_int_eq(memcmp(tg_tensor_data(pa), tg_tensor_data(pc), n * sizeof(float)), 0);
    }
    free_setup(&a);
    free_setup(&c);
    rm_dir(dir);
    free(dir);
}
END_TEST

/* Cross-entropy that turns NaN on the 10th call. */
static tg_tensor *nan_loss(void *user, tg_ctx *ctx, tg_tensor *y, const int32_t *labels, size_t n)
{
    int *calls = user;
    tg_tensor *l = tg_cross_entropy(ctx, y, labels, n, TG_REDUCTION_MEAN);
    return ++*calls >= 10 ? tg_mul_scalar(ctx, l, NAN) : l;
}

START_TEST(fit_nan_stops)
{
    tg_ctx *ctx = tgt_ctx(3);
    tg_dataset *train = synth(ctx, 64, 0);
    tg_module *m = linear_model(ctx);
    tg_optim *opt = sgd(ctx, m, 0.1f, 0.0f);
    char *dir = tmpdir();
    int calls = 0;
    tg_fit_options o;
    tg_fit_options_init(&o);
    o.epochs = 3;
    o.loss = nan_loss;
    o.loss_user = &calls;
    o.batch_size = 8; /* 8 batches per epoch: NaN at epoch 2, batch 2 */
    o.save_dir = dir;
    tg_fit_result res = {.struct_size = sizeof res};
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, &o, &res), TG_ERR_NUMERIC);
    ck_assert_int_eq(tg_ctx_last_status(ctx), TG_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "epoch 2, batch 2 of 8"));
    ck_assert_int_eq(res.stop, TG_FIT_FAILED);
    ck_assert_int_eq(res.last_epoch, 1);
    ck_assert_int_eq(tg_optim_step_count(opt), 9); /* no step on the NaN batch */
    char path[1024];
    pj(path, sizeof path, dir, "checkpoint.safetensors");
    int64_t ep = -1;
    ck_assert_int_eq(tg_checkpoint_load(m, opt, &ep, path), TG_OK);
    ck_assert_int_eq(ep, 1);
    rm_dir(dir);
    free(dir);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_dataset_destroy(train);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Model whose logits are the first 4 pixels: the brightest decides. */
static tg_module *pixel_model(tg_ctx *ctx)
{
    tg_module *m = linear_model(ctx);
    tg_tensor *w = tg_module_find(m, "1.weight"), *b = tg_module_find(m, "1.bias");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(b);
    float wd[NC * HW * HW] = {0};
    for (int k = 0; k < NC; k++)
        wd[k * HW * HW + k] = 1.0f;
    ck_assert_int_eq(tg_tensor_set_data(w, wd, NC * HW * HW), TG_OK);
    tg_tensor_fill(b, 0.0f);
    return m;
}

START_TEST(evaluate_confusion)
{
    tg_ctx *ctx = tgt_ctx(4);
    static const int32_t lab[6] = {0, 1, 2, 3, 3, 2};
    static const int pred[6] = {0, 1, 1, 3, 0, 2};
    uint8_t img[6 * HW * HW] = {0};
    for (int i = 0; i < 6; i++)
        img[i * HW * HW + pred[i]] = 255;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, 6, HW, HW, img, lab, NC, &ds), TG_OK);
    tg_module *m = pixel_model(ctx);
    int64_t conf[NC * NC];
    int32_t p[6];
    tg_eval_options o;
    tg_eval_options_init(&o);
    o.batch_size = 4; /* two batches, the second partial */
    o.confusion = conf;
    o.n_classes = NC;
    o.predictions = p;
    tg_eval_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(tg_evaluate(m, ds, &o, &r), TG_OK);
    ck_assert_uint_eq(r.n, 6);
    ck_assert_uint_eq(r.n_correct, 4);
    ck_assert_double_eq_tol(r.accuracy, 4.0 / 6.0, 1e-12);
    double e = exp(1.0), right = -log(e / (e + 3)), wrong = -log(1 / (e + 3));
    ck_assert_double_eq_tol(r.loss, (4 * right + 2 * wrong) / 6, 1e-5);
    static const int64_t want[NC * NC] = {1, 0, 0, 0, /**/ 0, 1, 0, 0, /**/ 0, 1, 1, 0,
                                          /**/ 1, 0, 0, 1};
    for (int i = 0; i < NC * NC; i++)
        ck_assert_int_eq(conf[i], want[i]);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(p[i], pred[i]);
    ck_assert(tg_module_is_training(m));

    /* errors leave the outputs untouched */
    int64_t conf3[9];
    memset(conf3, 0x5a, sizeof conf3);
    memset(p, 0x5a, sizeof p);
    o.confusion = conf3;
    o.n_classes = 3;
    r.loss = 42;
    ck_assert_int_eq(tg_evaluate(m, ds, &o, &r), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "n_classes 3"));
    ck_assert_int_eq(r.loss, 42);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(conf3[i], 0x5a5a5a5a5a5a5a5aLL);
    ck_assert_int_eq(p[0], 0x5a5a5a5a);
    o.batch_size = 0;
    ck_assert_int_eq(tg_evaluate(m, ds, &o, &r), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_evaluate(NULL, ds, NULL, &r), TG_ERR_INVALID_ARG);
    o.struct_size = 3;
    ck_assert_int_eq(tg_evaluate(m, ds, &o, &r), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "struct_size"));
    tg_module_destroy(m);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A module that returns its input: the output is not [batch, classes]. */
static tg_tensor *identity_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}

START_TEST(fit_errors)
{
    tg_ctx *ctx = tgt_ctx(6), *other = tgt_ctx(6);
    tg_dataset *train = synth(ctx, 32, 0), *foreign = synth(other, 32, 0);
    tg_module *m = linear_model(ctx);
    tg_optim *opt = sgd(ctx, m, 0.1f, 0.0f);
    float before[NC];
    tg_tensor *bias = tg_module_find(m, "1.bias");
    memcpy(before, tg_tensor_data(bias), sizeof before);
    ck_assert_int_eq(tg_fit(NULL, opt, train, NULL, NULL, NULL), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_fit(m, NULL, train, NULL, NULL, NULL), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_fit(m, opt, NULL, NULL, NULL, NULL), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_fit(m, opt, train, foreign, NULL, NULL), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "different contexts"));
    tg_fit_options o;
    tg_fit_options_init(&o);
    o.batch_size = 0;
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, &o, NULL), TG_ERR_INVALID_ARG);
    tg_fit_options_init(&o);
    o.patience = -1;
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, &o, NULL), TG_ERR_INVALID_ARG);
    tg_fit_options_init(&o);
    o.drop_last = true;
    o.batch_size = 64;
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, &o, NULL), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "drop_last"));
    tg_fit_options_init(&o);
    o.save_dir = "/proc/definitely/not/writable";
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, &o, NULL), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "/proc/definitely"));
    tg_fit_result res = {.struct_size = 0};
    ck_assert_int_eq(tg_fit(m, opt, train, NULL, NULL, &res), TG_ERR_INVALID_ARG);
    /* none of that trained anything */
    ck_assert_int_eq(memcmp(before, tg_tensor_data(bias), sizeof before), 0);
    ck_assert_int_eq(tg_optim_step_count(opt), 0);

    static const tg_module_vtable idv = {sizeof(tg_module_vtable), "Identity", identity_forward,
                                         NULL};
    tg_module *id = NULL;
    ck_assert_int_eq(tg_module_create(ctx, &idv, NULL, &id), TG_OK);
    tg_optim *opt2 = NULL;
    tg_tensor *dummy = NULL;
    ck_assert_int_eq(tg_module_add_param(id, "w", 1, (const int64_t[]){1}, &dummy), TG_OK);
    ck_assert_int_eq(tg_sgd_create(ctx, id, NULL, &opt2), TG_OK);
    ck_assert_int_eq(tg_fit(id, opt2, train, NULL, NULL, NULL), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "[32,1,8,8]"));
    tg_optim_destroy(opt2);
    tg_module_destroy(id);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_dataset_destroy(train);
    tg_dataset_destroy(foreign);
    tg_ctx_destroy(ctx);
    tg_ctx_destroy(other);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

#define STARTS(s, lit) (strncmp((s), lit, sizeof lit - 1) == 0)

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(metrics_files)
{
    tg_ctx *ctx = tgt_ctx(7);
    char *dir = tmpdir();
    tg_epoch_metrics m[3] = {{1, 2.3, 0.11, 2.2, 0.15, 1.5, 1000, NAN, NAN, NAN, NAN},
                             {2, 1.1, 0.61, 1.2, 0.65, 1.25, 1200, NAN, NAN, NAN, NAN},
                             {3, 0.4, 0.91, NAN, NAN, 1.0, 1500.5, 0.5, 0.25, 0.75, 0.125}};
    char path[1024];
    pj(path, sizeof path, dir, "m.csv");
    ck_assert_int_eq(tg_metrics_write_csv(ctx, path, m, 3), TG_OK);
    const char *csv = slurp(path);
    ck_assert(STARTS(csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,"
                          "samples_per_s,train_rmse,train_mae,val_rmse,val_mae\n"
                          "1,2.3,0.11,2.2,0.15,1.5,1000,,,,\n"));
    ck_assert_ptr_nonnull(strstr(csv, "\n3,0.4,0.91,,,1,1500.5,0.5,0.25,0.75,0.125\n"));
    tg_epoch_metrics back[4];
    size_t n = 0;
    ck_assert_int_eq(tg_metrics_read_csv(ctx, path, back, 4, &n), TG_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(back[1].epoch, 2);
    ck_assert_double_eq(back[1].val_accuracy, 0.65);
    ck_assert(isnan(back[2].val_loss));
    ck_assert_double_eq(back[2].samples_per_s, 1500.5);
    ck_assert(isnan(back[0].train_rmse) && isnan(back[1].val_mae));
    ck_assert_double_eq(back[2].train_rmse, 0.5);
    ck_assert_double_eq(back[2].train_mae, 0.25);
    ck_assert_double_eq(back[2].val_rmse, 0.75);
    ck_assert_double_eq(back[2].val_mae, 0.125);
    n = 99;
    ck_assert_int_eq(tg_metrics_read_csv(ctx, path, back, 2, &n), TG_ERR_LIMIT);
    ck_assert_uint_eq(n, 99);

    pj(path, sizeof path, dir, "bad.csv");
    FILE *f = fopen(path, "w");
    fputs("epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_s\n"
          "1,2,3,4,5,6,7\n1,2,x,4,5,6,7\n", f);
    fclose(f);
    ck_assert_int_eq(tg_metrics_read_csv(ctx, path, back, 4, &n), TG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "bad.csv:3"));
    ck_assert_int_eq(tg_metrics_read_csv(ctx, "/nonexistent/m.csv", back, 4, &n), TG_ERR_IO);
    ck_assert_int_eq(tg_metrics_write_csv(ctx, "/nonexistent/m.csv", m, 3), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "/nonexistent/m.csv"));

    pj(path, sizeof path, dir, "loss.svg");
    ck_assert_int_eq(tg_metrics_write_svg(ctx, path, m, 3, TG_CHART_LOSS, "Loss <&>"), TG_OK);
    const char *svg = slurp(path);
    ck_assert(STARTS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" "));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>\n"));
    ck_assert_int_eq(count(svg, "<polyline"), 2); /* val curve stops at epoch 2 */
    ck_assert_ptr_nonnull(strstr(svg, "Loss &lt;&amp;&gt;"));
    ck_assert_ptr_nonnull(strstr(svg, ">validation loss</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">epoch</text>"));
    ck_assert_int_eq(count(svg, "<"), count(svg, ">")); /* tags balanced, text escaped */
    ck_assert_int_eq(count(svg, "<text"), count(svg, "</text>"));
    ck_assert_int_eq(count(svg, "<g"), count(svg, "</g>"));
    pj(path, sizeof path, dir, "acc.svg");
    ck_assert_int_eq(tg_metrics_write_svg(ctx, path, m, 3, TG_CHART_ACCURACY, NULL), TG_OK);
    svg = slurp(path);
    ck_assert_ptr_nonnull(strstr(svg, ">Accuracy</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">accuracy (%)</text>"));
    ck_assert_int_eq(count(svg, "<polyline"), 2);

    double x[2] = {0, 10}, y0[2] = {1, 2}, y1[2] = {NAN, NAN};
    const double *ys[2] = {y0, y1};
    tg_line_chart c;
    tg_line_chart_init(&c);
    c.n_points = 2;
    c.x = x;
    c.n_series = 2;
    c.y = ys;
    pj(path, sizeof path, dir, "c.svg");
    ck_assert_int_eq(tg_line_chart_write_svg(ctx, path, &c), TG_OK);
    ck_assert_int_eq(count(slurp(path), "<polyline"), 1);
    c.n_series = 9;
    ck_assert_int_eq(tg_line_chart_write_svg(ctx, path, &c), TG_ERR_INVALID_ARG);
    c.n_series = 1;
    c.n_points = 0;
    ck_assert_int_eq(tg_line_chart_write_svg(ctx, path, &c), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_metrics_write_svg(ctx, path, m, 3, (tg_metrics_chart)7, NULL),
                     TG_ERR_INVALID_ARG);
    rm_dir(dir);
    free(dir);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(image_load_png)
{
    tg_ctx *ctx = tgt_ctx(8);
    char *dir = tmpdir();
    uint8_t img[HW * HW];
    for (int i = 0; i < HW * HW; i++)
        img[i] = (uint8_t)(i * 3);
    int32_t lab = 0;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, 1, HW, HW, img, &lab, 1, &ds), TG_OK);
    char sub[1024], path[1024];
    pj(sub, sizeof sub, dir, "sub");
    ck_assert_int_eq(tg_dataset_save_png_dir(ds, sub), TG_OK);
    pj(path, sizeof path, sub, "0/00000.png");
    uint8_t got[HW * HW];
    ck_assert_int_eq(tg_image_load_png(ctx, path, HW, HW, got), TG_OK);
    ck_assert_int_eq(memcmp(got, img, sizeof img), 0);
    memset(got, 7, sizeof got);
    ck_assert_int_eq(tg_image_load_png(ctx, path, 28, 28, got), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "00000.png"));
    ck_assert_int_eq(got[0], 7);
    ck_assert_int_eq(tg_image_load_png(ctx, "/nonexistent.png", HW, HW, got), TG_ERR_IO);
    ck_assert_int_eq(tg_image_load_png(ctx, path, 0, HW, got), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_image_load_png(ctx, path, HW, HW, NULL), TG_ERR_INVALID_ARG);
    remove(path);
    pj(path, sizeof path, sub, "0");
    rmdir(path);
    rmdir(sub);
    rm_dir(dir);
    free(dir);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, fit_learns);
    tcase_add_test(tc, fit_early_stopping_and_checkpoints);
    tcase_add_test(tc, fit_resume_bit_exact);
    tcase_add_test(tc, fit_nan_stops);
    tcase_add_test(tc, evaluate_confusion);
    tcase_add_test(tc, fit_errors);
    tcase_add_test(tc, metrics_files);
    tcase_add_test(tc, image_load_png);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
