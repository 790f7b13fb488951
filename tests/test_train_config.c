/* SPDX-License-Identifier: MIT */
/* Training configuration in the library: config keys to fit options, the
 * optimiser and the schedule; command-line flags; the data-directory rule
 * (a named directory is used or refused, never replaced); the training
 * logger; the confusion-matrix text. Uses only the public API. */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static tg_config *cfg_of(tg_ctx *ctx, const char *text)
{
    tg_config *c = NULL;
    ck_assert_msg(tg_config_load_string(ctx, text, "cfg.txt", &c) == TG_OK, "%s",
                  tg_ctx_last_error(ctx));
    return c;
}

START_TEST(fit_and_optim_keys)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_config *c = cfg_of(ctx, "batch_size = 64\nepochs = 3\nseed = 5\npatience = 2\n"
                               "clip_grad_norm = 1.5\noptimizer_type = AdamW\n"
                               "learning_rate = 0.002\nweight_decay = 0\nloss_function = cross_entropy\n");
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    ck_assert_int_eq(tg_train_config_fit(c, &fo), TG_OK);
    ck_assert_uint_eq(fo.batch_size, 64);
    ck_assert_int_eq(fo.epochs, 3);
    ck_assert_uint_eq(fo.seed, 5);
    ck_assert_int_eq(fo.patience, 2);
    ck_assert_float_eq(fo.clip_grad_norm, 1.5f);
    const char *name = NULL;
    tg_optim_config oc;
    ck_assert_int_eq(tg_train_config_optim(c, &name, &oc), TG_OK);
    ck_assert_str_eq(name, "adamw");
    ck_assert_float_eq(oc.lr, 0.002f);
    tg_linear_options lo;
    tg_linear_options_init(&lo, 2, 2);
    tg_module *m = NULL;
    ck_assert_int_eq(tg_nn_linear(ctx, &lo, &m), TG_OK);
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_optim_create_by_name(ctx, m, name, &oc, &opt), TG_OK);
    ck_assert_str_eq(tg_optim_name(opt), "AdamW");
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_config_destroy(c);

    /* absent keys keep the caller's values; bad values name file:line and key */
    c = cfg_of(ctx, "epochs = 4\n");
    tg_fit_options_init(&fo);
    fo.seed = 11;
    ck_assert_int_eq(tg_train_config_fit(c, &fo), TG_OK);
    ck_assert_uint_eq(fo.seed, 11);
    ck_assert_uint_eq(fo.batch_size, 32);
    ck_assert_int_eq(tg_train_config_optim(c, &name, &oc), TG_OK);
    ck_assert_str_eq(name, "sgd");
    ck_assert_float_eq(oc.lr, 0.01f);
    tg_config_destroy(c);
    c = cfg_of(ctx, "epochs = 4\nbatch_size = many\n");
    ck_assert_int_eq(tg_train_config_fit(c, &fo), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "cfg.txt:2: batch_size"));
    ck_assert_int_eq(fo.epochs, 4); /* unchanged on error (from the call before) */
    tg_config_destroy(c);
    c = cfg_of(ctx, "optimizer_type = adm\n");
    ck_assert_int_eq(tg_train_config_optim(c, &name, &oc), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "optimizer_type"));
    tg_config_destroy(c);
    c = cfg_of(ctx, "lerning_rate = 1\nmodel = x\n");
    const char *extra[1] = {"model"};
    ck_assert_int_eq(tg_train_config_check_keys(c, extra, 1), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "cfg.txt:1: unknown key 'lerning_rate'"));
    tg_config_destroy(c);
    size_t n = 0;
    ck_assert_ptr_nonnull(tg_train_config_keys(&n));
    ck_assert_uint_ge(n, 18);
    for (size_t i = 0; i < n; i++) /* every key is documented */
        ck_assert_msg(strstr(tg_train_config_help(), tg_train_config_keys(NULL)[i]) != NULL,
                      "%s", tg_train_config_keys(NULL)[i]);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(schedule_keys)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_scheduler *s = (tg_scheduler *)(uintptr_t)0x1;
    tg_config *c = cfg_of(ctx, "learning_rate = 0.1\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 10, &s), TG_OK);
    ck_assert_ptr_null(s); /* none */
    tg_config_destroy(c);

    c = cfg_of(ctx, "learning_rate = 0.05\nlr_schedule = step\nlr_step_epochs = 1\nlr_gamma = 0.5\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 3, &s), TG_OK);
    ck_assert_double_eq_tol(tg_scheduler_lr(s, 1.0, 2), 0.0125, 1e-15);
    tg_scheduler_destroy(s);
    tg_config_destroy(c);

    /* mnist_cnn's cosine: learning_rate down to lr_min after the last epoch */
    c = cfg_of(ctx, "learning_rate = 0.05\nlr_schedule = cosine\nlr_min = 0.01\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 2, &s), TG_OK);
    ck_assert_double_eq_tol(tg_scheduler_lr(s, 1.0, 0), 0.05, 1e-15);
    ck_assert_double_eq_tol(tg_scheduler_lr(s, 1.0, 1), 0.03, 1e-15);
    ck_assert_double_eq_tol(tg_scheduler_lr(s, 1.0, 2), 0.01, 1e-15);
    tg_scheduler_destroy(s);
    tg_config_destroy(c);

    c = cfg_of(ctx, "learning_rate = 0.1\nlr_schedule = multistep\nlr_milestones = 2, 4\n"
                    "lr_warmup_epochs = 2\nlr_warmup_factor = 0.5\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 10, &s), TG_OK);
    static const double want[8] = {0.05, 0.075, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001};
    for (int t = 0; t < 8; t++)
        ck_assert_double_eq_tol(tg_scheduler_lr(s, 1.0, t), want[t], 1e-12);
    tg_scheduler_destroy(s);
    tg_config_destroy(c);

    c = cfg_of(ctx, "learning_rate = 0.01\nlr_schedule = onecycle\nlr_max = 0.5\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 20, &s), TG_OK);
    ck_assert_double_eq_tol(tg_scheduler_lr(s, 1.0, 5), 0.5, 1e-12);
    tg_scheduler_destroy(s);
    tg_config_destroy(c);

    s = (tg_scheduler *)(uintptr_t)0x1;
    c = cfg_of(ctx, "lr_schedule = multistep\nlr_milestones = 5,3\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 10, &s), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "lr_milestones '5,3'"));
    tg_config_destroy(c);
    c = cfg_of(ctx, "learning_rate = 0.05\nlr_schedule = cosine\nlr_min = 0.5\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 10, &s), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "lr_min"));
    tg_config_destroy(c);
    c = cfg_of(ctx, "lr_schedule = cosin\n");
    ck_assert_int_eq(tg_train_config_scheduler(c, ctx, 10, &s), TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "lr_schedule"));
    ck_assert_ptr_eq(s, (tg_scheduler *)(uintptr_t)0x1);
    tg_config_destroy(c);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(args_and_load)
{
    tg_ctx *ctx = tgt_ctx(1);
    const char *keys[2] = {"model", "data_dir"}, *pass[1] = {"resume"}, *vals[1];
    const char *argv[] = {"prog", "--epochs", "3", "--data-dir=/x", "--resume", "ck.st",
                          "--learning-rate", "0.5"};
    tg_config *c = NULL;
    ck_assert_int_eq(tg_train_config_load(ctx, 8, argv, NULL, 0, keys, 2, pass, 1, vals, &c),
                     TG_OK);
    ck_assert_str_eq(vals[0], "ck.st");
    const char *v;
    ck_assert_int_eq(tg_config_get_string(c, "data_dir", "", &v), TG_OK);
    ck_assert_str_eq(v, "/x");
    ck_assert_int_eq(tg_config_get_string(c, "learning_rate", "", &v), TG_OK);
    ck_assert_str_eq(v, "0.5");
    tg_config_destroy(c);

    /* a config file, flags on top */
    char path[] = "/tmp/tg-cfg-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "epochs = 7\nmodel = a\n", 21), 21);
    close(fd);
    const char *argv2[] = {"prog", "--config", path, "--model", "b"};
    ck_assert_int_eq(tg_train_config_load(ctx, 5, argv2, NULL, 0, keys, 2, pass, 1, vals, &c),
                     TG_OK);
    ck_assert_ptr_null(vals[0]);
    ck_assert_int_eq(tg_config_get_string(c, "model", "", &v), TG_OK);
    ck_assert_str_eq(v, "b");
    ck_assert_int_eq(tg_config_get_string(c, "epochs", "", &v), TG_OK);
    ck_assert_str_eq(v, "7");
    tg_config_destroy(c);
    const char *defaults[2] = {"/nonexistent/cfg.txt", path}; /* the first that exists */
    ck_assert_int_eq(tg_train_config_load(ctx, 1, argv2, defaults, 2, keys, 2, pass, 1, vals, &c),
                     TG_OK);
    ck_assert_int_eq(tg_config_get_string(c, "model", "", &v), TG_OK);
    ck_assert_str_eq(v, "a");
    tg_config_destroy(c);
    unlink(path);

    c = (tg_config *)(uintptr_t)0x1;
    const char *bad1[] = {"prog", "--epoch", "3"};
    ck_assert_int_eq(tg_train_config_load(ctx, 3, bad1, NULL, 0, keys, 2, pass, 1, vals, &c),
                     TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "unknown option '--epoch'");
    const char *bad2[] = {"prog", "--epochs"};
    ck_assert_int_eq(tg_train_config_load(ctx, 2, bad2, NULL, 0, keys, 2, pass, 1, vals, &c),
                     TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "needs a value"));
    const char *bad3[] = {"prog", "stray"};
    ck_assert_int_eq(tg_train_config_load(ctx, 2, bad3, NULL, 0, keys, 2, pass, 1, vals, &c),
                     TG_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "unexpected argument 'stray'"));
    ck_assert_ptr_eq(c, (tg_config *)(uintptr_t)0x1);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A named directory is used or refused; only an unnamed one is searched. */
START_TEST(data_dir_rule)
{
    tg_ctx *ctx = tgt_ctx(1);
    char root[] = "/tmp/tg-dd-XXXXXX", p[4096], out[4096];
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(p, sizeof p, "%s/good", root);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/good/marker", root);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/empty", root);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    const char *markers[1] = {"marker"}, *roots[1] = {root}, *defaults[2] = {"missing", "good"};
    tg_data_dir_options o;
    tg_data_dir_options_init(&o);
    o.markers = markers, o.n_markers = 1, o.roots = roots, o.n_roots = 1;
    o.defaults = defaults, o.n_defaults = 2;
    /* unnamed: the defaults in order, under the roots */
    ck_assert_int_eq(tg_data_dir_resolve(ctx, NULL, &o, out, sizeof out), TG_OK);
    snprintf(p, sizeof p, "%s/good", root);
    ck_assert_str_eq(out, p);
    ck_assert_int_eq(tg_data_dir_resolve(ctx, "", &o, out, sizeof out), TG_OK);
    /* named (relative, found under a root; absolute) */
    ck_assert_int_eq(tg_data_dir_resolve(ctx, "good", &o, out, sizeof out), TG_OK);
    ck_assert_str_eq(out, p);
    ck_assert_int_eq(tg_data_dir_resolve(ctx, p, &o, out, sizeof out), TG_OK);
    ck_assert_str_eq(out, p);
    /* named but wrong: refused, naming it, although a default would be found */
    strcpy(out, "untouched");
    ck_assert_int_eq(tg_data_dir_resolve(ctx, "/no/such/dir", &o, out, sizeof out),
                     TG_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "'/no/such/dir' does not exist"));
    ck_assert_str_eq(out, "untouched");
    snprintf(p, sizeof p, "%s/empty", root);
    ck_assert_int_eq(tg_data_dir_resolve(ctx, p, &o, out, sizeof out), TG_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "holds none of marker"));
    /* nothing named, nothing found */
    o.n_defaults = 1;
    ck_assert_int_eq(tg_data_dir_resolve(ctx, NULL, &o, out, sizeof out), TG_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "(missing)"));
    /* the executable's directory is a root too */
    o.n_roots = 0;
    snprintf(p, sizeof p, "%s/prog", root);
    o.argv0 = p;
    ck_assert_int_eq(tg_data_dir_resolve(ctx, "good", &o, out, 8), TG_ERR_LIMIT);
    ck_assert_int_eq(tg_data_dir_resolve(ctx, "good", &o, out, sizeof out), TG_OK);
    ck_assert_ptr_nonnull(strstr(out, "/good"));
    ck_assert_int_eq(tg_data_dir_resolve(ctx, "good", NULL, out, sizeof out), TG_ERR_INVALID_ARG);
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    ck_assert_int_eq(system(p), 0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(logger_and_confusion)
{
    tg_ctx *ctx = tgt_ctx(1);
    char root[] = "/tmp/tg-lg-XXXXXX", log[4096], p[4096];
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(log, sizeof log, "%s/sub/dir/train.log", root);
    tg_train_logger_options o;
    tg_train_logger_options_init(&o);
    o.log_path = log, o.save_dir = root, o.epochs = 2, o.title = "T";
    tg_train_logger *lg = NULL;
    ck_assert_int_eq(tg_train_logger_create(ctx, &o, &lg), TG_OK);
    ck_assert_int_eq(tg_train_logger_on_batch(lg, 1, 0, 2, 0.5, 100.0), 0);
    tg_epoch_metrics m = {.epoch = 1, .train_loss = 0.5, .train_accuracy = 0.8, .val_loss = NAN,
                          .val_accuracy = NAN, .seconds = 1.0, .samples_per_s = 100.0,
                          .train_rmse = NAN, .train_mae = NAN, .val_rmse = NAN, .val_mae = NAN};
    ck_assert_int_eq(tg_train_logger_on_epoch(lg, &m), 0);
    tg_train_logger_note(lg, "done");
    tg_train_logger_destroy(lg);
    FILE *f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    char text[512] = {0};
    ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "epoch 1 iter 1/2 loss 0.500000\n"));
    ck_assert_ptr_nonnull(strstr(text, "epoch 1 train_loss 0.500000 train_accuracy 0.800000"));
    ck_assert_ptr_nonnull(strstr(text, "done\n"));
    tg_epoch_metrics back[4];
    size_t n = 0;
    snprintf(p, sizeof p, "%s/metrics.csv", root);
    ck_assert_int_eq(tg_metrics_read_csv(ctx, p, back, 4, &n), TG_OK);
    ck_assert_uint_eq(n, 1);
    snprintf(p, sizeof p, "%s/loss.svg", root);
    ck_assert_int_eq(access(p, F_OK), 0);
    o.log_path = "/proc/no/such/train.log";
    ck_assert_int_ne(tg_train_logger_create(ctx, &o, &lg), TG_OK);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), "/proc/no") != NULL, "%s", tg_ctx_last_error(ctx));
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    ck_assert_int_eq(system(p), 0);

    const int64_t conf[4] = {5, 1, 0, 12};
    char buf[256];
    size_t len = tg_confusion_format(conf, 2, buf, sizeof buf);
    ck_assert_str_eq(buf, "          0     1\n   0      5     1\n   1      0    12\n");
    ck_assert_uint_eq(len, strlen(buf));
    ck_assert_uint_eq(tg_confusion_format(conf, 2, buf, 10), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(tg_confusion_format(NULL, 2, buf, sizeof buf), 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* A bare --flag means "true" for the program's keys and nesterov; the
 * library's other keys and the pass-through flags still need a value. */
START_TEST(bare_flags)
{
    tg_ctx *ctx = tgt_ctx(1);
    const char *keys[3] = {"summary", "export_onnx", "distributed"}, *pass[1] = {"resume"};
    const char *vals[1];
    const char *argv[] = {"prog", "--summary", "--epochs", "2", "--export-onnx", "--nesterov",
                          "--distributed=false"};
    tg_config *c = NULL;
    ck_assert_int_eq(tg_train_config_load(ctx, 7, argv, NULL, 0, keys, 3, pass, 1, vals, &c),
                     TG_OK);
    bool b = false;
    ck_assert_int_eq(tg_config_get_bool(c, "summary", false, &b), TG_OK);
    ck_assert(b);
    ck_assert_int_eq(tg_config_get_bool(c, "export_onnx", false, &b), TG_OK);
    ck_assert(b); /* before another --flag */
    ck_assert_int_eq(tg_config_get_bool(c, "distributed", true, &b), TG_OK);
    ck_assert(!b);
    const char *v;
    ck_assert_int_eq(tg_config_get_string(c, "epochs", "", &v), TG_OK);
    ck_assert_str_eq(v, "2");
    tg_optim_config oc;
    const char *name;
    ck_assert_int_eq(tg_train_config_optim(c, &name, &oc), TG_OK);
    ck_assert(oc.nesterov); /* --nesterov, last */
    tg_config_destroy(c);
    const char *argv2[] = {"prog", "--distributed", "true", "--summary", "false"}; /* as before */
    ck_assert_int_eq(tg_train_config_load(ctx, 5, argv2, NULL, 0, keys, 3, pass, 1, vals, &c),
                     TG_OK);
    ck_assert_int_eq(tg_config_get_bool(c, "distributed", false, &b), TG_OK);
    ck_assert(b);
    ck_assert_int_eq(tg_config_get_bool(c, "summary", true, &b), TG_OK);
    ck_assert(!b);
    tg_config_destroy(c);
    const char *bad1[] = {"prog", "--epochs", "--summary"}; /* a library key needs a value */
    ck_assert_int_eq(tg_train_config_load(ctx, 3, bad1, NULL, 0, keys, 3, pass, 1, vals, &c),
                     TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "option '--epochs' needs a value");
    const char *bad2[] = {"prog", "--summary", "--resume"}; /* and a pass-through flag */
    ck_assert_int_eq(tg_train_config_load(ctx, 3, bad2, NULL, 0, keys, 3, pass, 1, vals, &c),
                     TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "option '--resume' needs a value");
    const char *keys2[1] = {"threads"}; /* a bare non-boolean program key: its getter fails */
    const char *argv3[] = {"prog", "--threads"};
    ck_assert_int_eq(tg_train_config_load(ctx, 2, argv3, NULL, 0, keys2, 1, pass, 1, vals, &c),
                     TG_OK);
    int64_t t;
    ck_assert_int_eq(tg_config_get_int(c, "threads", 0, 0, 8, &t), TG_ERR_INVALID_ARG);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), "threads") != NULL, "%s",
                  tg_ctx_last_error(ctx));
    tg_config_destroy(c);
    ck_assert_ptr_nonnull(strstr(tg_train_config_help(), "without a value"));
    tg_ctx_destroy(ctx);
}
END_TEST

/* tg_train_config_split, tg_module_set_preprocessing, tg_train_logger_fit
 * and tg_train_logger_test on a tiny data set. */
START_TEST(split_metadata_fit_test)
{
    tg_ctx *ctx = tgt_ctx(1);
    enum { N = 40 };
    uint8_t px[N * 4];
    int32_t lab[N];
    for (int i = 0; i < N; i++) {
        lab[i] = i % 2;
        for (int k = 0; k < 4; k++)
            px[i * 4 + k] = (uint8_t)(lab[i] ? 200 + k : 10 + k);
    }
    tg_dataset *train = NULL, *val = (tg_dataset *)(uintptr_t)0x1, *test = NULL;
    ck_assert_int_eq(tg_dataset_create(ctx, N, 2, 2, px, lab, 2, &train), TG_OK);
    ck_assert_int_eq(tg_dataset_create(ctx, N, 2, 2, px, lab, 2, &test), TG_OK);
    tg_config *c = cfg_of(ctx, "train_subset = 30\ntrain_val_split = 0.5\n");
    tg_dataset *old = train;
    ck_assert_int_eq(tg_train_config_split(c, 0.8, 3, &train, &val), TG_OK);
    ck_assert_ptr_ne(train, old);
    ck_assert_uint_eq(tg_dataset_n(train), 15);
    ck_assert_uint_eq(tg_dataset_n(val), 15);
    tg_config_destroy(c);
    tg_dataset_destroy(val);
    c = cfg_of(ctx, "train_val_split = 1.0\n"); /* no validation, nothing to cut */
    old = train;
    ck_assert_int_eq(tg_train_config_split(c, 0.8, 3, &train, &val), TG_OK);
    ck_assert_ptr_eq(train, old);
    ck_assert_ptr_null(val);
    tg_config_destroy(c);
    c = cfg_of(ctx, "train_val_split = 1.5\n");
    ck_assert_int_eq(tg_train_config_split(c, 0.8, 3, &train, &val), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(train, old);
    tg_config_destroy(c);

    tg_module *net = NULL, *l = NULL;
    tg_linear_options lo;
    tg_linear_options_init(&lo, 4, 2);
    ck_assert_int_eq(tg_nn_sequential(ctx, &net), TG_OK);
    ck_assert_int_eq(tg_nn_flatten(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(net, l), TG_OK);
    ck_assert_int_eq(tg_nn_linear(ctx, &lo, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(net, l), TG_OK);
    const float mean[3] = {0.1307f, 0.5f, 0.25f}, std[3] = {0.3081f, 1.0f, 0.125f};
    ck_assert_int_eq(tg_module_set_preprocessing(net, 1.0 / 255.0, mean, std, 3), TG_OK);
    ck_assert_str_eq(tg_module_metadata(net, "tg.input_scale"), "0.00392156862745098");
    ck_assert_str_eq(tg_module_metadata(net, "tg.input_mean"), "0.1307,0.5,0.25");
    ck_assert_str_eq(tg_module_metadata(net, "tg.input_std"), "0.3081,1,0.125");
    const float bad_std[1] = {0.0f};
    ck_assert_int_eq(tg_module_set_preprocessing(net, 1.0, mean, bad_std, 1), TG_ERR_INVALID_ARG);
    ck_assert_str_eq(tg_module_metadata(net, "tg.input_mean"), "0.1307,0.5,0.25"); /* kept */
    ck_assert_int_eq(tg_module_set_preprocessing(net, 0.0, NULL, NULL, 0), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_set_preprocessing(net, 1.0 / 255.0, NULL, NULL, 0), TG_OK);
    ck_assert_ptr_null(tg_module_metadata(net, "tg.input_mean")); /* n = 0 removes them */
    ck_assert_ptr_null(tg_module_metadata(net, "tg.input_std"));

    tg_optim *opt = NULL;
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.5f;
    ck_assert_int_eq(tg_sgd_create(ctx, net, &so, &opt), TG_OK);
    char root[] = "/tmp/tg-lt-XXXXXX", p[4096], out[8192] = {0};
    ck_assert_ptr_nonnull(mkdtemp(root));
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 20;
    fo.batch_size = 5;
    fo.save_dir = root;
    tg_train_logger_options o;
    tg_train_logger_options_init(&o);
    o.save_dir = root, o.epochs = fo.epochs;
    tg_train_logger *lg = NULL;
    ck_assert_int_eq(tg_train_logger_create(ctx, &o, &lg), TG_OK);
    snprintf(p, sizeof p, "%s/stdout.txt", root);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ck_assert(freopen(p, "w", stdout) != NULL);
    tg_fit_result fr = {.struct_size = sizeof fr};
    tg_status fs = tg_train_logger_fit(lg, net, opt, train, NULL, &fo, &fr);
    const int64_t shape[4] = {1, 1, 2, 2};
    snprintf(p, sizeof p, "%s/pred.txt", root);
    tg_test_options to;
    tg_test_options_init(&to);
    to.save_dir = root, to.export_onnx = true, to.ndim = 4, to.input_shape = shape;
    to.predictions = p;
    tg_eval_result er = {.struct_size = sizeof er};
    tg_status ts = tg_train_logger_test(lg, net, test, &to, &er);
    fflush(stdout);
    ck_assert_int_ge(dup2(saved, STDOUT_FILENO), 0);
    close(saved);
    ck_assert_int_eq(fs, TG_OK);
    ck_assert_int_eq(ts, TG_OK);
    ck_assert_int_eq(fr.last_epoch, 20);
    ck_assert_double_eq(er.accuracy, 1.0);
    snprintf(p, sizeof p, "%s/stdout.txt", root);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(out, 1, sizeof out - 1, f), 0);
    fclose(f);
    ck_assert_msg(strstr(out, "epoch 20/20 ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "test set, weights ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "model.onnx\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "test loss ") && strstr(out, "accuracy 1.0000 (40/40)"), "%s", out);
    const char *last = strstr(out, "test_accuracy=1.0000 train_seconds=");
    ck_assert_msg(last != NULL && strchr(last, '\n')[1] == '\0', "%s", out); /* the last line */
    snprintf(p, sizeof p, "%s/model.onnx", root);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    snprintf(p, sizeof p, "%s/pred.txt", root);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    int lines = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        lines += ch == '\n';
    fclose(f);
    ck_assert_int_eq(lines, N);
    to.predictions = "/proc/no/such/pred.txt"; /* a bad file: error naming it */
    to.export_onnx = false;
    to.save_dir = NULL;
    ck_assert_int_eq(tg_train_logger_test(lg, net, test, &to, NULL), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "/proc/no/such/pred.txt"));
    to.export_onnx = true;
    to.save_dir = root;
    to.input_shape = NULL;
    ck_assert_int_eq(tg_train_logger_test(lg, net, test, &to, NULL), TG_ERR_INVALID_ARG);
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    ck_assert_int_eq(system(p), 0);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("train_config");
    TCase *tc = tcase_create("train_config");
    tcase_add_test(tc, fit_and_optim_keys);
    tcase_add_test(tc, schedule_keys);
    tcase_add_test(tc, args_and_load);
    tcase_add_test(tc, data_dir_rule);
    tcase_add_test(tc, logger_and_confusion);
    tcase_add_test(tc, bare_flags);
    tcase_add_test(tc, split_metadata_fit_test);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
