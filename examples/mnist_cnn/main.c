/* SPDX-License-Identifier: MIT */
/* mnist_cnn: train a small CNN on MNIST with libtinygrad, from a `key = value`
 * config file (default examples/mnist_cnn/config.txt) and --key overrides.
 * Everything reusable (data sets, fit, evaluate, checkpoints, metrics files)
 * lives in the library; this file only wires it up. Run with --help. */
#define _POSIX_C_SOURCE 200809L
#include <tinygrad.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MNIST_SOURCE_ROOT
#  define MNIST_SOURCE_ROOT "."
#endif
#define MAX_EPOCHS 100000

static const char *const KEYS[] = {
    "data_dir", "batch_size", "epochs", "learning_rate", "optimizer_type", "loss_function",
    "seed", "image_type", "train_val_split", "log_file", "save_dir", "momentum",
    "weight_decay", "patience", "model", "threads", "train_subset", "normalize", "lr_schedule",
    "lr_step_epochs", "lr_gamma", "lr_min"};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])
static const char *const OPTIMS[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
static const char *const IMAGE_TYPES[] = {"auto", "idx", "png"};
static const char *const SCHEDULES[] = {"none", "step", "cosine"};
static const char *const LOSSES[] = {"cross_entropy"};

static const char USAGE[] =
    "usage: mnist_cnn [--config FILE] [--KEY VALUE ...] [--resume CHECKPOINT]\n"
    "                 [--predictions FILE] [--help]\n"
    "Trains a CNN on MNIST; prints the test accuracy and a confusion matrix. The last\n"
    "line reads `test_accuracy=0.XXXX train_seconds=N samples_per_s=N`.\n\n"
    "  --config FILE        config file (default examples/mnist_cnn/config.txt)\n"
    "  --resume CHECKPOINT  continue from SAVE_DIR/checkpoint.safetensors (weights,\n"
    "                       optimiser state, epoch)\n"
    "  --predictions FILE   write one predicted test label per line\n"
    "Config keys, each also a flag with dashes (--batch-size 64 or --batch-size=64):\n"
    "  data_dir        MNIST directory (IDX files, optionally .gz, or a PNG tree)\n"
    "  image_type      idx | png (DIR/train/<label>/*.png, DIR/test/...) | auto\n"
    "  batch_size      images per step (32)\n"
    "  epochs          number of the last epoch (10)\n"
    "  learning_rate   (0.01)\n"
    "  optimizer_type  sgd | adam | adamw | rmsprop | adagrad (sgd)\n"
    "  momentum        sgd and rmsprop (0)\n"
    "  weight_decay    (0)\n"
    "  lr_schedule     learning rate per epoch: none | step (times lr_gamma every\n"
    "                  lr_step_epochs epochs) | cosine (from learning_rate down to lr_min\n"
    "                  over the epochs) (none)\n"
    "  lr_step_epochs  step: epochs between decays (5)\n"
    "  lr_gamma        step: decay factor in (0, 1] (0.1)\n"
    "  lr_min          cosine: where the curve ends, after the last epoch (0)\n"
    "  normalize       true: pixels (p/255 - 0.1307) / 0.3081 (MNIST's mean and std) for\n"
    "                  training and test; pass --normalize to mnist_predict (false)\n"
    "  loss_function   cross_entropy\n"
    "  seed            weights, split and shuffling (11)\n"
    "  train_val_split training share of the training images; 1.0 = no validation (0.8)\n"
    "  train_subset    use the first N training images, 0 = all (0)\n"
    "  patience        early stopping after N epochs without a better validation loss (0 = off)\n"
    "  model           seed (the report's 3-conv CNN) | lenet5 | cnn_wide (conv 16, 32)\n"
    "  threads         worker threads, 0 = all CPUs (0)\n"
    "  log_file        per-iteration and per-epoch log ('' = none)\n"
    "  save_dir        best/last/checkpoint .safetensors, metrics.csv, loss.svg, accuracy.svg\n";

typedef struct run {
    tg_ctx *ctx;
    tg_optim *opt;
    size_t schedule;
    double lr, lr_min, gamma;
    int64_t step_epochs;
    FILE *log;
    bool tty;
    double last_draw;
    size_t batch;
    int64_t epochs;
    const char *save_dir;
    tg_epoch_metrics *hist;
    size_t n_hist;
} run;

static tg_ctx *g_ctx; /* for die() */

static void die(const char *what)
{
    fprintf(stderr, "mnist_cnn: %s%s%s\n", what ? what : "", what ? ": " : "",
            g_ctx ? tg_ctx_last_error(g_ctx) : "error");
    exit(1);
}
#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK)                                                                   \
            die(NULL);                                                                         \
    } while (0)

#include "model.h"

#define PATH_MAX_LEN 4096

/* a/b into buf (PATH_MAX_LEN bytes); exits if it does not fit. */
static const char *join(char *buf, const char *a, const char *b)
{
    int k = snprintf(buf, PATH_MAX_LEN, "%s/%s", a, b);
    if (k < 0 || k >= PATH_MAX_LEN) {
        fprintf(stderr, "mnist_cnn: path too long: %s/%s\n", a, b);
        exit(1);
    }
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A directory that holds MNIST in either layout. */
static bool has_mnist(const char *dir)
{
    char p[PATH_MAX_LEN];
    const char *names[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train"};
    for (int i = 0; i < 3; i++)
        if (exists(join(p, dir, names[i])))
            return true;
    return false;
}

/* data_dir as given, relative to the source tree and the executable, then data/mnist. */
static const char *find_data(const char *dir, const char *argv0, char *buf)
{
    char exe[PATH_MAX_LEN] = ".";
    const char *slash = strrchr(argv0, '/');
    if (slash && slash - argv0 < PATH_MAX_LEN)
        memcpy(exe, argv0, (size_t)(slash - argv0)), exe[slash - argv0] = '\0';
    const char *roots[] = {".", MNIST_SOURCE_ROOT, exe};
    const char *rel[] = {dir, "data/mnist"};
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++)
            if (has_mnist(rel[r][0] == '/' || k == 0 ? rel[r] : join(buf, roots[k], rel[r])))
                return rel[r][0] == '/' || k == 0 ? rel[r] : buf;
    return NULL;
}

static tg_dataset *load(tg_ctx *ctx, const char *dir, size_t type, bool train)
{
    tg_dataset *ds = NULL;
    char a[PATH_MAX_LEN], b[PATH_MAX_LEN];
    if (type == 0) {
        CHECK(tg_dataset_load_mnist(ctx, dir, train, &ds));
    } else if (type == 1) {
        bool gz = !exists(join(a, dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte"));
        join(a, dir, train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz");
        join(b, dir, train ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte.gz");
        if (!gz) /* plain files: drop ".gz" */
            a[strlen(a) - 3] = b[strlen(b) - 3] = '\0';
        CHECK(tg_dataset_load_idx(ctx, a, b, &ds));
    } else {
        CHECK(tg_dataset_load_png_dir(ctx, join(a, dir, train ? "train" : "test"), 28, 28, &ds));
    }
    return ds;
}

static tg_optim *make_optim(tg_ctx *ctx, tg_module *m, size_t type, float lr, float mom, float wd)
{
    tg_optim *o = NULL;
    tg_sgd_options sgd;
    tg_adam_options adam;
    tg_rmsprop_options rms;
    tg_adagrad_options ada;
    switch (type) {
    case 0:
        tg_sgd_options_init(&sgd);
        sgd.lr = lr, sgd.momentum = mom, sgd.weight_decay = wd;
        CHECK(tg_sgd_create(ctx, m, &sgd, &o));
        break;
    case 1:
    case 2:
        if (type == 1)
            tg_adam_options_init(&adam);
        else
            tg_adamw_options_init(&adam);
        adam.lr = lr, adam.weight_decay = wd;
        CHECK(type == 1 ? tg_adam_create(ctx, m, &adam, &o) : tg_adamw_create(ctx, m, &adam, &o));
        break;
    case 3:
        tg_rmsprop_options_init(&rms);
        rms.lr = lr, rms.momentum = mom, rms.weight_decay = wd;
        CHECK(tg_rmsprop_create(ctx, m, &rms, &o));
        break;
    default:
        tg_adagrad_options_init(&ada);
        ada.lr = lr, ada.weight_decay = wd;
        CHECK(tg_adagrad_create(ctx, m, &ada, &o));
    }
    return o;
}

/* The learning rate of epoch e (from 1) under the schedule. */
static double lr_at(const run *r, int64_t e)
{
    if (r->schedule == 1)
        return r->lr * pow(r->gamma, (double)((e - 1) / r->step_epochs));
    if (r->schedule == 2 && r->epochs > 0)
        return r->lr_min + (r->lr - r->lr_min) * 0.5 *
                               (1.0 + cos(acos(-1.0) * (double)(e - 1) / (double)r->epochs));
    return r->lr;
}

static int on_batch(void *user, int64_t epoch, size_t b, size_t nb, double loss, double sps)
{
    run *r = user;
    if (r->log)
        fprintf(r->log, "epoch %lld iter %zu/%zu loss %.6f\n", (long long)epoch, b + 1, nb, loss);
    double t = now();
    if (r->tty && (t - r->last_draw > 0.1 || b + 1 == nb)) {
        r->last_draw = t;
        int fill = (int)(30 * (b + 1) / nb);
        double eta = sps > 0 ? (double)((nb - b - 1) * r->batch) / sps : 0.0;
        printf("\repoch %lld/%lld [%.*s%*s] %zu/%zu loss %.4f %6.0f samples/s ETA %3.0fs ",
               (long long)epoch, (long long)r->epochs, fill, "==============================",
               30 - fill, "", b + 1, nb, loss, sps, eta);
        fflush(stdout);
    }
    return 0;
}

static void save_metrics(run *r)
{
    char p[PATH_MAX_LEN];
    CHECK(tg_metrics_write_csv(r->ctx, join(p, r->save_dir, "metrics.csv"), r->hist, r->n_hist));
    CHECK(tg_metrics_write_svg(r->ctx, join(p, r->save_dir, "loss.svg"), r->hist, r->n_hist,
                               TG_CHART_LOSS, "MNIST CNN: loss"));
    CHECK(tg_metrics_write_svg(r->ctx, join(p, r->save_dir, "accuracy.svg"), r->hist, r->n_hist,
                               TG_CHART_ACCURACY, "MNIST CNN: accuracy"));
}

static int on_epoch(void *user, const tg_epoch_metrics *m)
{
    run *r = user;
    if (r->tty)
        printf("\r%*s\r", 100, "");
    printf("epoch %lld/%lld train_loss %.4f train_acc %.4f val_loss %.4f val_acc %.4f "
           "%.1fs %.0f samples/s lr %.4g\n", (long long)m->epoch, (long long)r->epochs,
           m->train_loss, m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds,
           m->samples_per_s, (double)tg_optim_lr(r->opt));
    fflush(stdout);
    if (r->log) {
        fprintf(r->log, "epoch %lld train_loss %.6f train_accuracy %.6f val_loss %.6f "
                        "val_accuracy %.6f seconds %.2f\n", (long long)m->epoch, m->train_loss,
                m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds);
        fflush(r->log);
    }
    r->hist[r->n_hist++] = *m;
    tg_optim_set_lr(r->opt, (float)lr_at(r, m->epoch + 1)); /* for the next epoch */
    if (r->save_dir)
        save_metrics(r);
    return 0;
}

/* --config FILE, else the default config if found, else built-in defaults. */
static tg_config *load_config(tg_ctx *ctx, int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    if (!path && exists("examples/mnist_cnn/config.txt"))
        path = "examples/mnist_cnn/config.txt";
    if (!path && exists(MNIST_SOURCE_ROOT "/examples/mnist_cnn/config.txt"))
        path = MNIST_SOURCE_ROOT "/examples/mnist_cnn/config.txt";
    tg_config *cfg = NULL;
    CHECK(path ? tg_config_load_file(ctx, path, &cfg) : tg_config_create(ctx, &cfg));
    return cfg;
}

/* --some-key VALUE (or --some-key=VALUE) sets some_key; returns the next index. */
static void apply_flags(tg_config *cfg, int argc, char **argv, const char **resume,
                        const char **pred)
{
    for (int i = 1; i < argc; i++) {
        char key[64];
        const char *a = argv[i], *eq = strchr(a, '='), *val;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || len < 3 || len - 2 >= sizeof key) {
            fprintf(stderr, "mnist_cnn: unexpected argument '%s' (see --help)\n", a);
            exit(2);
        }
        memcpy(key, a + 2, len - 2);
        key[len - 2] = '\0';
        for (char *c = key; *c; c++)
            *c = *c == '-' ? '_' : *c;
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "mnist_cnn: %s needs a value (see --help)\n", a);
            exit(2);
        }
        if (strcmp(key, "config") == 0)
            continue;
        if (strcmp(key, "resume") == 0 || strcmp(key, "predictions") == 0) {
            *(key[0] == 'r' ? resume : pred) = val;
            continue;
        }
        size_t k = 0;
        while (k < N_KEYS && strcmp(KEYS[k], key) != 0)
            k++;
        if (k == N_KEYS) {
            fprintf(stderr, "mnist_cnn: unknown option '--%.*s' (see --help)\n", (int)len - 2,
                    a + 2);
            exit(2);
        }
        CHECK(tg_config_set(cfg, key, val));
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    tg_ctx_options co;
    tg_ctx_options_init(&co);
    co.n_threads = 1;
    tg_ctx *cctx; /* a small context for the configuration: it picks the threads */
    if (tg_ctx_create(&co, &cctx) != TG_OK)
        die("cannot create a context");
    g_ctx = cctx;
    const char *resume = NULL, *pred_path = NULL, *data_dir, *log_path, *save_dir;
    tg_config *cfg = load_config(cctx, argc, argv);
    apply_flags(cfg, argc, argv, &resume, &pred_path);
    int64_t batch, epochs, seed, patience, threads, subset, step_epochs;
    double lr, split, mom, wd, gamma, lr_min;
    size_t opt_type, img_type, model, loss_type, schedule;
    bool normalize;
    CHECK(tg_config_check_keys(cfg, KEYS, N_KEYS));
    CHECK(tg_config_get_string(cfg, "data_dir", "../shared/data/mnist", &data_dir));
    CHECK(tg_config_get_choice(cfg, "image_type", IMAGE_TYPES, 3, 0, &img_type));
    CHECK(tg_config_get_int(cfg, "batch_size", 32, 1, 65536, &batch));
    CHECK(tg_config_get_int(cfg, "epochs", 10, 0, MAX_EPOCHS, &epochs));
    CHECK(tg_config_get_float(cfg, "learning_rate", 0.01, 1e-12, 100.0, &lr));
    CHECK(tg_config_get_choice(cfg, "optimizer_type", OPTIMS, 5, 0, &opt_type));
    CHECK(tg_config_get_float(cfg, "momentum", 0.0, 0.0, 0.9999, &mom));
    CHECK(tg_config_get_float(cfg, "weight_decay", 0.0, 0.0, 1.0, &wd));
    CHECK(tg_config_get_choice(cfg, "loss_function", LOSSES, 1, 0, &loss_type));
    CHECK(tg_config_get_int(cfg, "seed", 11, 0, INT64_MAX, &seed));
    CHECK(tg_config_get_float(cfg, "train_val_split", 0.8, 1e-6, 1.0, &split));
    CHECK(tg_config_get_int(cfg, "train_subset", 0, 0, TG_DATASET_MAX_IMAGES, &subset));
    CHECK(tg_config_get_int(cfg, "patience", 0, 0, MAX_EPOCHS, &patience));
    CHECK(tg_config_get_choice(cfg, "lr_schedule", SCHEDULES, 3, 0, &schedule));
    CHECK(tg_config_get_int(cfg, "lr_step_epochs", 5, 1, MAX_EPOCHS, &step_epochs));
    CHECK(tg_config_get_float(cfg, "lr_gamma", 0.1, 1e-6, 1.0, &gamma));
    CHECK(tg_config_get_float(cfg, "lr_min", 0.0, 0.0, lr, &lr_min));
    CHECK(tg_config_get_bool(cfg, "normalize", false, &normalize));
    CHECK(tg_config_get_choice(cfg, "model", MODELS, N_MODELS, 0, &model));
    CHECK(tg_config_get_int(cfg, "threads", 0, 0, 256, &threads));
    CHECK(tg_config_get_string(cfg, "log_file", "", &log_path));
    CHECK(tg_config_get_string(cfg, "save_dir", "", &save_dir));

    co.n_threads = (int)threads;
    co.seed = (uint64_t)seed;
    tg_ctx *ctx;
    if (tg_ctx_create(&co, &ctx) != TG_OK)
        die("cannot create a context");
    g_ctx = ctx;
    char dir_buf[PATH_MAX_LEN];
    const char *dir = find_data(data_dir, argv[0], dir_buf);
    if (!dir) {
        fprintf(stderr, "mnist_cnn: no MNIST data in '%s' (nor data/mnist); set data_dir or "
                        "run scripts/fetch_mnist.sh\n", data_dir);
        return 1;
    }
    tg_dataset *full = load(ctx, dir, img_type, true), *test = load(ctx, dir, img_type, false);
    if (normalize) { /* before subset/split: they copy it */
        CHECK(tg_dataset_set_normalization(full, true, MNIST_MEAN, MNIST_STD));
        CHECK(tg_dataset_set_normalization(test, true, MNIST_MEAN, MNIST_STD));
    }
    /* Subset and split copy: drop each source so only one copy stays. */
    tg_dataset *train = full, *val = NULL, *part = NULL;
    if (subset > 0 && (size_t)subset < tg_dataset_n(train)) {
        CHECK(tg_dataset_subset(train, 0, (size_t)subset, &part));
        tg_dataset_destroy(train);
        train = part;
    }
    if (split < 1.0) { /* 1.0: every image trains, no validation set */
        CHECK(tg_dataset_split(train, split, (uint64_t)seed, &part, &val));
        tg_dataset_destroy(train);
        train = part;
    }
    tg_module *net = build_model(ctx, (int)model);
    tg_optim *opt = make_optim(ctx, net, opt_type, (float)lr, (float)mom, (float)wd);
    int64_t start = 0;
    if (resume)
        CHECK(tg_checkpoint_load(net, opt, &start, resume));
    printf("data %s: %zu train, %zu validation, %zu test images; model %s (%lld weights); "
           "%s lr %g, schedule %s; %snormalized; %d threads\n", dir, tg_dataset_n(train),
           tg_dataset_n(val), tg_dataset_n(test), MODELS[model],
           (long long)tg_module_n_weights(net), OPTIMS[opt_type], lr, SCHEDULES[schedule],
           normalize ? "" : "not ", tg_ctx_n_threads(ctx));
    if (resume)
        printf("resuming from %s after epoch %lld\n", resume, (long long)start);

    run r = {ctx, opt, schedule, lr, lr_min, gamma, step_epochs, NULL,
             isatty(STDOUT_FILENO) == 1, 0.0, (size_t)batch, epochs,
             save_dir[0] ? save_dir : NULL, NULL, 0};
    tg_optim_set_lr(opt, (float)lr_at(&r, start + 1));
    r.hist = calloc((size_t)(epochs > start ? epochs : start) + 1, sizeof *r.hist);
    if (!r.hist)
        die("out of memory");
    if (r.save_dir && start > 0) { /* keep the curves of the epochs already done */
        char p[PATH_MAX_LEN];
        size_t n = 0;
        if (exists(join(p, r.save_dir, "metrics.csv")))
            CHECK(tg_metrics_read_csv(ctx, p, r.hist, (size_t)(epochs > start ? epochs : start) + 1, &n));
        while (r.n_hist < n && r.hist[r.n_hist].epoch <= start)
            r.n_hist++;
    }
    if (log_path[0]) {
        char *slash = strrchr(log_path, '/');
        if (slash) { /* create the log's directory */
            char d[PATH_MAX_LEN];
            snprintf(d, sizeof d, "%.*s", (int)(slash - log_path) % PATH_MAX_LEN, log_path);
            for (char *c = d + 1; *c; c++)
                if (*c == '/')
                    *c = '\0', mkdir(d, 0777), *c = '/';
            mkdir(d, 0777);
        }
        r.log = fopen(log_path, resume ? "a" : "w");
        if (!r.log) {
            fprintf(stderr, "mnist_cnn: cannot open log file '%s'\n", log_path);
            return 1;
        }
    }

    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = epochs;
    fo.start_epoch = start;
    fo.batch_size = (size_t)batch;
    fo.seed = (uint64_t)seed;
    fo.patience = (int)patience;
    fo.save_dir = r.save_dir;
    fo.on_batch = on_batch;
    fo.on_epoch = on_epoch;
    fo.user = &r;
    tg_fit_result fr = {sizeof fr, TG_FIT_COMPLETED, 0, 0, 0, 0, 0, 0};
    if (tg_fit(net, opt, train, val, &fo, &fr) != TG_OK) {
        if (r.tty)
            printf("\n");
        die("training failed");
    }
    if (fr.stop == TG_FIT_EARLY_STOPPED)
        printf("early stop after epoch %lld (best epoch %lld)\n", (long long)fr.last_epoch,
               (long long)fr.best_epoch);

    /* Test the best weights (by validation loss) when they were saved. */
    char best[PATH_MAX_LEN];
    if (r.save_dir && exists(join(best, r.save_dir, "best.safetensors"))) {
        CHECK(tg_module_load(net, best));
        printf("test set, weights %s:\n", best);
    }
    int64_t conf[100];
    int32_t *pred = calloc(tg_dataset_n(test), sizeof *pred);
    tg_eval_options eo;
    tg_eval_options_init(&eo);
    eo.confusion = conf;
    eo.n_classes = 10;
    eo.predictions = pred;
    tg_eval_result er = {.struct_size = sizeof er};
    if (!pred)
        die("out of memory");
    CHECK(tg_evaluate(net, test, &eo, &er));
    printf("confusion matrix (rows: true label, columns: predicted)\n     ");
    for (int j = 0; j < 10; j++)
        printf("%6d", j);
    for (int i = 0; i < 10; i++) {
        printf("\n%4d ", i);
        for (int j = 0; j < 10; j++)
            printf("%6lld", (long long)conf[i * 10 + j]);
    }
    printf("\ntest loss %.4f, accuracy %.4f (%llu/%llu)\n", er.loss, er.accuracy,
           (unsigned long long)er.n_correct, (unsigned long long)er.n);
    if (pred_path) {
        FILE *f = fopen(pred_path, "w");
        for (size_t i = 0; f && i < er.n; i++)
            fprintf(f, "%d\n", (int)pred[i]);
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "mnist_cnn: cannot write '%s'\n", pred_path);
            return 1;
        }
    }
    if (r.log)
        fprintf(r.log, "test_accuracy %.6f\n", er.accuracy), fclose(r.log);
    printf("test_accuracy=%.4f train_seconds=%.1f samples_per_s=%.0f\n", er.accuracy,
           fr.train_seconds, fr.samples_per_s);
    free(pred);
    free(r.hist);
    tg_dataset_destroy(val);
    tg_dataset_destroy(train);
    tg_dataset_destroy(test);
    tg_config_destroy(cfg);
    tg_optim_destroy(opt);
    tg_module_destroy(net);
    tg_ctx_destroy(ctx);
    tg_ctx_destroy(cctx);
    return 0;
}
