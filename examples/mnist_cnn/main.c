/* SPDX-License-Identifier: MIT */
/* mnist_cnn: train a small CNN on MNIST from a `key = value` config file and --key overrides. Everything
 * reusable (configuration, data directory, schedules, fit, logging, evaluation) is in the library. */
#define _POSIX_C_SOURCE 200809L
#include <tinygrad.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef MNIST_SOURCE_ROOT
#  define MNIST_SOURCE_ROOT "."
#endif
static const char *const KEYS[] = {"data_dir", "image_type", "train_val_split",
    "train_subset", "normalize", "model", "threads", "log_file", "save_dir", "distributed"};
static const char *const PASS[] = {"resume", "predictions"}, *const IMAGE_TYPES[] = {"auto", "idx", "png"};
static const char USAGE[] =
    "usage: mnist_cnn [--config FILE] [--KEY VALUE ...] [--resume CHECKPOINT] [--predictions FILE]\n"
    "Trains a CNN on MNIST; prints the test accuracy, a confusion matrix and last `test_accuracy=0.XXXX\n"
    "train_seconds=N samples_per_s=N`. --config FILE (default examples/mnist_cnn/config.txt); --resume\n"
    "SAVE_DIR/checkpoint.safetensors (weights, optimiser, epoch); --predictions FILE: one predicted\n"
    "test label per line. Config keys, each also a flag with dashes (--batch-size 64, --batch-size=64):\n"
    "  data_dir         MNIST (IDX files, optionally .gz, or a PNG tree), used as named or an error;\n"
    "                   unset: ../shared/data/mnist, then data/mnist (fetch_mnist.sh) under ., the\n"
    "                   source tree and the executable's directory\n"
    "  image_type       idx | png (DIR/train/<label>/*.png, DIR/test/...) | auto\n"
    "  normalize        true: pixels (p/255 - 0.1307) / 0.3081 in training and test (false)\n"
    "  train_val_split  training share of the training images; 1.0 = no validation (0.8)\n"
    "  train_subset     use only the first N training images, 0 = all (0)\n"
    "  model            seed (the report's 3-conv CNN) | lenet5 | cnn_wide (conv 16, 32)\n"
    "  threads          worker threads, 0 = all CPUs (0); loss_function: cross_entropy; log_file;\n"
    "  save_dir         best/last/checkpoint .safetensors, metrics.csv, loss.svg, accuracy.svg\n"
    "  distributed      true: data-parallel under mpirun (libtinygrad-mpi); batch_size per rank (false)\n";
static tg_ctx *ctx, *cctx; /* for die(): configuration errors are kept in cctx */
static void die(const char *what)
{
    tg_ctx *c = tg_ctx_last_status(cctx) != TG_OK || !ctx ? cctx : ctx;
    fprintf(stderr, "mnist_cnn: %s%s%s\n", what ? what : "", what ? ": " : "", tg_ctx_last_error(c));
    exit(1);
}
#define CHECK(call) ((call) != TG_OK ? die(NULL) : (void)0)
#include "model.h"
#include "dist.h"

static tg_dataset *load(const char *dir, size_t type, bool train)
{
    tg_dataset *ds = NULL;
    char a[4200], b[4200];
    snprintf(b, sizeof b, "%s/%s-images-idx3-ubyte", dir, train ? "train" : "t10k");
    if (type == 1 && access(b, F_OK) != 0 && access(strcat(b, ".gz"), F_OK) != 0)
        fprintf(stderr, "mnist_cnn: no IDX files in %s\n", dir), exit(1);
    snprintf(a, sizeof a, "%s/%s", dir, train ? "train" : "test");
    CHECK(type < 2 ? tg_dataset_load_mnist(ctx, dir, train, &ds) : tg_dataset_load_png_dir(ctx, a, 28, 28, &ds));
    return ds;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) /* the library's keys too */
            return fputs(USAGE, stdout), fputs(tg_train_config_help(), stdout), 0;
    tg_ctx_options co; /* a small context for the configuration: it picks the threads */
    tg_ctx_options_init(&co), co.n_threads = 1;
    if (tg_ctx_create(&co, &cctx) != TG_OK)
        return fputs("mnist_cnn: cannot create a context\n", stderr), 1;
    const char *flags[2], *data_dir, *log_path, *save_dir, *opt_name, *schedule, *cfgs[] = {
        "examples/mnist_cnn/config.txt", MNIST_SOURCE_ROOT "/examples/mnist_cnn/config.txt"};
    size_t img_type, model; int64_t subset, threads;
    double split; tg_optim_config oc;
    bool normalize, dist;
    tg_config *cfg = NULL; tg_scheduler *sched = NULL;
    tg_fit_options fo; /* the library's defaults, then mnist_cnn's seed, then the config */
    tg_fit_options_init(&fo), fo.seed = 11;
    CHECK(tg_train_config_load(cctx, argc, (const char *const *)argv, cfgs, 2, KEYS, 10, PASS, 2, flags, &cfg));
    CHECK(tg_train_config_fit(cfg, &fo) || tg_train_config_optim(cfg, &opt_name, &oc) ||
          tg_config_get_string(cfg, "data_dir", "", &data_dir) || tg_config_get_bool(cfg, "normalize", false, &normalize) ||
          tg_config_get_choice(cfg, "image_type", IMAGE_TYPES, 3, 0, &img_type) || tg_config_get_bool(cfg, "distributed", false, &dist) ||
          tg_config_get_float(cfg, "train_val_split", 0.8, 1e-6, 1.0, &split) ||
          tg_config_get_int(cfg, "train_subset", 0, 0, TG_DATASET_MAX_IMAGES, &subset) ||
          tg_config_get_choice(cfg, "model", MODELS, N_MODELS, 0, &model) ||
          tg_config_get_int(cfg, "threads", 0, 0, 256, &threads) || tg_config_get_string(cfg, "log_file", "", &log_path) ||
          tg_config_get_string(cfg, "save_dir", "", &save_dir) || tg_config_get_string(cfg, "lr_schedule", "none", &schedule));
    co.n_threads = (int)threads, co.seed = fo.seed;
    CHECK(tg_ctx_create(&co, &ctx));
    CHECK(tg_train_config_scheduler(cfg, ctx, fo.epochs, &sched));
    char dir[4096], text[4200];
    const char *markers[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train"},
               *roots[] = {MNIST_SOURCE_ROOT}, *defaults[] = {"../shared/data/mnist", "data/mnist"};
    tg_data_dir_options dd; /* a named data_dir is used or refused, never replaced */
    tg_data_dir_options_init(&dd), dd.markers = markers, dd.n_markers = 3, dd.roots = roots;
    dd.n_roots = 1, dd.defaults = defaults, dd.n_defaults = 2, dd.argv0 = argv[0];
    if (tg_data_dir_resolve(ctx, data_dir, &dd, dir, sizeof dir) != TG_OK)
        die("no MNIST data (set data_dir or run scripts/fetch_mnist.sh)");
    tg_dataset *train = load(dir, img_type, true), *test = load(dir, img_type, false);
    tg_dataset *val = NULL, *part = NULL;
    if (normalize) /* before subset/split: they copy it */
        CHECK(tg_dataset_set_normalization(train, true, MNIST_MEAN, MNIST_STD) ||
              tg_dataset_set_normalization(test, true, MNIST_MEAN, MNIST_STD));
    if (subset > 0 && (size_t)subset < tg_dataset_n(train))
        CHECK(tg_dataset_subset(train, 0, (size_t)subset, &part)), tg_dataset_destroy(train), train = part;
    if (split < 1.0) /* 1.0: every image trains, no validation set */
        CHECK(tg_dataset_split(train, split, fo.seed, &part, &val)), tg_dataset_destroy(train), train = part;
    tg_module *net = build_model(ctx, (int)model);
    tg_optim *opt = NULL;
    CHECK(tg_optim_create_by_name(ctx, net, opt_name, &oc, &opt));
    tg_dist *mpi = dist_start(dist, ctx, net, &fo, &save_dir, &log_path); /* distributed = true: dist.h */
    printf("data %s: %zu train, %zu validation, %zu test images; model %s (%lld weights); "
           "%s lr %g, schedule %s; %snormalized; %d threads\n", dir, tg_dataset_n(train),
           tg_dataset_n(val), tg_dataset_n(test), MODELS[model], (long long)tg_module_n_weights(net),
           opt_name, (double)oc.lr, schedule, normalize ? "" : "not ", tg_ctx_n_threads(ctx));
    if (flags[0] && (tg_checkpoint_load(net, opt, &fo.start_epoch, flags[0]) != TG_OK ||
                     printf("resuming from %s after epoch %lld\n", flags[0], (long long)fo.start_epoch) < 0))
        die(NULL);
    tg_train_logger_options lo;
    tg_train_logger_options_init(&lo), lo.log_path = log_path, lo.append = flags[0] != NULL, lo.save_dir = save_dir[0] ? save_dir : NULL;
    lo.title = "MNIST CNN", lo.epochs = fo.epochs, lo.start_epoch = fo.start_epoch;
    lo.batch_size = fo.batch_size, lo.progress = isatty(STDOUT_FILENO) == 1, lo.opt = opt;
    tg_train_logger *lg = NULL;
    CHECK(tg_train_logger_create(ctx, &lo, &lg));
    fo.save_dir = lo.save_dir, fo.scheduler = sched, fo.user = lg;
    fo.on_batch = tg_train_logger_on_batch, fo.on_epoch = tg_train_logger_on_epoch;
    tg_fit_result fr = {sizeof fr, TG_FIT_COMPLETED, 0, 0, 0, 0, 0, 0};
    if (tg_fit(net, opt, train, val, &fo, &fr) != TG_OK || fr.stop == TG_FIT_CALLBACK_STOPPED)
        printf("%s", lo.progress ? "\n" : ""), die("training failed");
    if (fr.stop == TG_FIT_EARLY_STOPPED)
        printf("early stop after epoch %lld (best epoch %lld)\n", (long long)fr.last_epoch, (long long)fr.best_epoch);
    snprintf(text, sizeof text, "%s/best.safetensors", save_dir);
    if (save_dir[0] && access(text, F_OK) == 0) /* test the best weights (by validation loss) */
        CHECK(tg_module_load(net, text)), printf("test set, weights %s:\n", text);
    int64_t conf[100];
    int32_t *pred = calloc(tg_dataset_n(test), sizeof *pred);
    tg_eval_options eo;
    tg_eval_options_init(&eo), eo.confusion = conf, eo.n_classes = 10, eo.predictions = pred;
    tg_eval_result er = {.struct_size = sizeof er};
    if (!pred || tg_evaluate(net, test, &eo, &er) != TG_OK)
        die(pred ? NULL : "out of memory");
    tg_confusion_format(conf, 10, text, sizeof text);
    printf("confusion matrix (rows: true label, columns: predicted)\n%stest loss %.4f, accuracy %.4f "
           "(%llu/%llu)\n", text, er.loss, er.accuracy, (unsigned long long)er.n_correct, (unsigned long long)er.n);
    FILE *f = flags[1] ? fopen(flags[1], "w") : NULL;
    for (size_t i = 0; f && i < er.n; i++)
        fprintf(f, "%d\n", (int)pred[i]);
    if (flags[1] && (!f || fclose(f) != 0))
        return fprintf(stderr, "mnist_cnn: cannot write '%s'\n", flags[1]), 1;
    snprintf(text, sizeof text, "test_accuracy %.6f", er.accuracy);
    tg_train_logger_note(lg, text);
    printf("test_accuracy=%.4f train_seconds=%.1f samples_per_s=%.0f\n", er.accuracy, fr.train_seconds, fr.samples_per_s);
    free(pred), dist_end(mpi), tg_train_logger_destroy(lg), tg_scheduler_destroy(sched), tg_dataset_destroy(val), tg_dataset_destroy(train);
    tg_dataset_destroy(test), tg_optim_destroy(opt), tg_module_destroy(net), tg_config_destroy(cfg), tg_ctx_destroy(ctx), tg_ctx_destroy(cctx);
    return 0;
}
