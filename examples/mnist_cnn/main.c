/* SPDX-License-Identifier: MIT */
/* mnist_cnn: train a small CNN on MNIST from a `key = value` config file and --key overrides.
 * Configuration, data lookup, schedules, fit, logging and the test report are in the library. */
#define _POSIX_C_SOURCE 200809L
#include <tinygrad.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef MNIST_SOURCE_ROOT
#  define MNIST_SOURCE_ROOT "."
#endif
static const char *const KEYS[] = {"data_dir", "image_type", "train_val_split", "train_subset",
    "normalize", "model", "threads", "log_file", "save_dir", "distributed", "export_onnx",
    "summary"};
static const char *const PASS[] = {"resume", "predictions"};
static const char *const IMAGE_TYPES[] = {"auto", "idx", "png"};
static const char USAGE[] =
    "usage: mnist_cnn [--config FILE] [--KEY VALUE ...] [--resume CHECKPOINT] [--predictions F]\n"
    "Trains a CNN on MNIST; last line `test_accuracy=0.XXXX train_seconds=N samples_per_s=N`.\n"
    "--config (default examples/mnist_cnn/config.txt); --resume SAVE_DIR/checkpoint.safetensors;\n"
    "--predictions F: one label per line. Keys are flags too: --batch-size 64, --batch-size=64\n"
    "  data_dir         MNIST IDX files (or .gz) or PNG tree, used as named; unset: the first of\n"
    "                   ../shared/data/mnist, data/mnist under ., the sources, the program's dir\n"
    "  image_type       idx | png (DIR/train/<label>/*.png, DIR/test/...) | auto\n"
    "  normalize        true: pixels (p/255 - 0.1307) / 0.3081 in training and test (false)\n"
    "  train_val_split  training share of the training images; 1.0 = no validation (0.8)\n"
    "  train_subset     use only the first N training images, 0 = all (0)\n"
    "  model            seed (the report's 3-conv CNN) | lenet5 | cnn_wide (conv 16, 32)\n"
    "  threads          worker threads, 0 = all CPUs (0); also log_file, loss_function\n"
    "  save_dir         best/last/checkpoint .safetensors, metrics.csv, loss.svg, accuracy.svg\n"
    "  distributed      true: data-parallel under mpirun; batch_size is per rank (false)\n"
    "  export_onnx      true: write SAVE_DIR/model.onnx of the weights tested (false)\n"
    "  summary          true (or bare --summary): print layers, shapes, parameter counts (false)\n";
static tg_ctx *ctx, *cctx; /* for die(): configuration errors are kept in cctx */
static void die(const char *what)
{
    tg_ctx *c = tg_ctx_last_status(cctx) != TG_OK || !ctx ? cctx : ctx;
    const char *err = tg_ctx_last_error(c), *sep = what && err[0] ? ": " : "";
    fprintf(stderr, "mnist_cnn: %s%s%s\n", what ? what : "", sep, err);
    exit(1);
}
#define CHECK(call) ((call) != TG_OK ? die(NULL) : (void)0)
#include "model.h"
#include "../common/dist.h"

static tg_dataset *load(const char *dir, bool png, bool train)
{
    tg_dataset *ds = NULL;
    char path[4200]; /* png: DIR/train, DIR/test */
    snprintf(path, sizeof path, "%s/%s", dir, train ? "train" : "test");
    CHECK(png ? tg_dataset_load_png_dir(ctx, path, 28, 28, &ds)
              : tg_dataset_load_mnist(ctx, dir, train, &ds));
    return ds;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s%s", USAGE, tg_train_config_help()); /* the library's keys too */
            return 0;
        }
    tg_ctx_options co = {.struct_size = sizeof co, .n_threads = 1}; /* for the configuration */
    if (tg_ctx_create(&co, &cctx) != TG_OK)
        return 1;
    const char *cfgs[] = {"examples/mnist_cnn/config.txt",
                          MNIST_SOURCE_ROOT "/examples/mnist_cnn/config.txt"};
    const char *flags[2]; /* --resume, --predictions */
    tg_config *cfg = NULL;
    CHECK(tg_train_config_load(cctx, argc, (const char *const *)argv, cfgs, 2, KEYS, 12, PASS, 2,
                               flags, &cfg));
    tg_fit_options fo; /* the library's defaults, then mnist_cnn's seed, then the config */
    tg_fit_options_init(&fo);
    fo.seed = 11;
    CHECK(tg_train_config_fit(cfg, &fo));
    const char *opt_name, *data_dir, *log_path, *save_dir, *schedule;
    tg_optim_config oc;
    CHECK(tg_train_config_optim(cfg, &opt_name, &oc));
    CHECK(tg_config_get_string(cfg, "lr_schedule", "none", &schedule));
    CHECK(tg_config_get_string(cfg, "data_dir", "", &data_dir));
    size_t image_type, model;
    CHECK(tg_config_get_choice(cfg, "image_type", IMAGE_TYPES, 3, 0, &image_type));
    CHECK(tg_config_get_choice(cfg, "model", MODELS, N_MODELS, 0, &model));
    int64_t threads;
    CHECK(tg_config_get_int(cfg, "threads", 0, 0, 256, &threads));
    CHECK(tg_config_get_string(cfg, "log_file", "", &log_path));
    CHECK(tg_config_get_string(cfg, "save_dir", "", &save_dir));
    bool normalize, distributed, export_onnx, summary;
    CHECK(tg_config_get_bool(cfg, "normalize", false, &normalize));
    CHECK(tg_config_get_bool(cfg, "distributed", false, &distributed));
    CHECK(tg_config_get_bool(cfg, "export_onnx", false, &export_onnx));
    CHECK(tg_config_get_bool(cfg, "summary", false, &summary));
    co.n_threads = (int)threads;
    co.seed = fo.seed;
    CHECK(tg_ctx_create(&co, &ctx));
    CHECK(tg_train_config_scheduler(cfg, ctx, fo.epochs, &fo.scheduler));
    char dir[4096], path[4200];
    const char *markers[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train"};
    const char *roots[] = {MNIST_SOURCE_ROOT}, *defaults[] = {"../shared/data/mnist", "data/mnist"};
    tg_data_dir_options dd = {.struct_size = sizeof dd, /* a named data_dir is used or refused */
        .markers = markers, .n_markers = 3, .roots = roots, .n_roots = 1,
        .defaults = defaults, .n_defaults = 2, .argv0 = argv[0]};
    if (tg_data_dir_resolve(ctx, data_dir, &dd, dir, sizeof dir) != TG_OK)
        die("no MNIST data (set data_dir or run scripts/fetch_mnist.sh)");
    tg_dataset *train = load(dir, image_type == 2, true);
    tg_dataset *test = load(dir, image_type == 2, false);
    tg_dataset *val = NULL;
    if (normalize) { /* before subset/split: they copy it */
        CHECK(tg_dataset_set_normalization(train, true, MNIST_MEAN, MNIST_STD));
        CHECK(tg_dataset_set_normalization(test, true, MNIST_MEAN, MNIST_STD));
    }
    CHECK(tg_train_config_split(cfg, 0.8, fo.seed, &train, &val)); /* train_subset, _val_split */
    tg_module *net = build_model(ctx, (int)model);
    const float mean = MNIST_MEAN, std = MNIST_STD;
    CHECK(tg_module_set_preprocessing(net, 1.0 / 255.0, &mean, &std, normalize ? 1 : 0));
    if (summary) {
        CHECK(tg_module_summary(net, 4, MNIST_INPUT_SHAPE, path, sizeof path));
        fputs(path, stdout);
    }
    tg_optim *opt = NULL;
    CHECK(tg_optim_create_by_name(ctx, net, opt_name, &oc, &opt));
    tg_dist *mpi = dist_start(distributed, ctx, net, &fo, &save_dir, &log_path); /* common/dist.h */
    printf("data %s: %zu train, %zu validation, %zu test images; model %s (%lld weights); "
           "%s lr %g, schedule %s; %snormalized; %d threads\n", dir, tg_dataset_n(train),
           tg_dataset_n(val), tg_dataset_n(test), MODELS[model],
           (long long)tg_module_n_weights(net), opt_name, (double)oc.lr, schedule,
           normalize ? "" : "not ", tg_ctx_n_threads(ctx));
    if (flags[0]) {
        CHECK(tg_checkpoint_load(net, opt, &fo.start_epoch, flags[0]));
        printf("resuming from %s after epoch %lld\n", flags[0], (long long)fo.start_epoch);
    }
    fo.save_dir = save_dir[0] ? save_dir : NULL;
    tg_train_logger_options lo = {.struct_size = sizeof lo, .log_path = log_path,
        .append = flags[0] != NULL, .save_dir = fo.save_dir, .title = "MNIST CNN",
        .epochs = fo.epochs, .start_epoch = fo.start_epoch, .batch_size = fo.batch_size,
        .progress = isatty(STDOUT_FILENO) == 1, .opt = opt};
    tg_train_logger *lg = NULL;
    CHECK(tg_train_logger_create(ctx, &lo, &lg));
    if (tg_train_logger_fit(lg, net, opt, train, val, &fo, NULL) != TG_OK)
        die("training failed");
    tg_test_options to = {.struct_size = sizeof to, .save_dir = save_dir, /* best.safetensors */
        .export_onnx = export_onnx, .ndim = 4, .input_shape = MNIST_INPUT_SHAPE,
        .predictions = flags[1]}; /* the logger has the fit's time */
    CHECK(tg_train_logger_test(lg, net, test, &to, NULL)); /* last: test_accuracy=... */
    dist_end(mpi);
    tg_ctx_destroy(ctx); /* releases the model, data sets, optimiser, schedule and logger */
    tg_ctx_destroy(cctx); /* and the configuration */
    return 0;
}
