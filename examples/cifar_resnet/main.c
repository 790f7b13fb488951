/* SPDX-License-Identifier: MIT */
/* cifar_resnet: train a CIFAR ResNet (ResNet-8 by default, --depth 20) on CIFAR-10 binary files or on
 * colour PNG trees, from a `key = value` config file and --key overrides, as mnist_cnn does. Everything
 * reusable (configuration, data directory, data sets, schedules, fit, logging) is in the library. */
#define _POSIX_C_SOURCE 200809L
#include <tinygrad.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef CIFAR_SOURCE_ROOT
#  define CIFAR_SOURCE_ROOT "."
#endif
static const char *const KEYS[] = {"data_dir", "image_type", "grey", "depth", "train_subset",
    "crop_padding", "hflip", "threads", "log_file", "save_dir"};
static const char *const PASS[] = {"resume"}, *const IMAGE_TYPES[] = {"cifar", "png"};
static const char USAGE[] =
    "usage: cifar_resnet --data-dir DIR [--config FILE] [--KEY VALUE ...] [--resume CHECKPOINT]\n"
    "Trains a CIFAR ResNet with per-channel normalisation (training-split statistics), random crops and\n"
    "horizontal flips; prints the test accuracy and last `test_accuracy=0.XXXX train_seconds=N\n"
    "samples_per_s=N`. --config FILE (default examples/cifar_resnet/config.txt); --resume\n"
    "SAVE_DIR/checkpoint.safetensors. Config keys, each also a flag with dashes (--batch-size=64):\n"
    "  data_dir      CIFAR-10 binary files (data_batch_*.bin, test_batch.bin) or a PNG tree, used as\n"
    "                named or an error; unset: cifar-10-batches-bin, then data/cifar-10-batches-bin\n"
    "  image_type    cifar | png (DIR/train/<label>/*.png, DIR/test/<label>/*.png, colour kept)\n"
    "  grey          png only: convert the images to grey (false)\n"
    "  depth         ResNet depth 6n+2: 8 (default), 14, 20, 32, ...\n"
    "  train_subset  use only the first N training images, 0 = all (0)\n"
    "  crop_padding  random crop after zero padding by N pixels, 0 = off (4); hflip: random flips (true)\n"
    "  threads       worker threads, 0 = all CPUs (0); log_file; save_dir: checkpoints, metrics.csv, svg\n";

static tg_ctx *ctx, *cctx; /* for die(): configuration errors are kept in cctx */
static void die(const char *what)
{
    tg_ctx *c = tg_ctx_last_status(cctx) != TG_OK || !ctx ? cctx : ctx;
    fprintf(stderr, "cifar_resnet: %s%s%s\n", what ? what : "", what ? ": " : "", tg_ctx_last_error(c));
    exit(1);
}
#define CHECK(call) ((call) != TG_OK ? die(NULL) : (void)0)

static tg_dataset *load(const char *dir, size_t type, bool grey, bool train)
{
    tg_dataset *ds = NULL;
    char path[4200];
    tg_png_options po;
    tg_png_options_init(&po), po.channels = grey ? 1 : 0;
    snprintf(path, sizeof path, "%s/%s", dir, train ? "train" : "test");
    CHECK(type == 0 ? tg_dataset_load_cifar_dir(ctx, dir, train, 10, &ds) : tg_dataset_load_png_tree(ctx, path, &po, &ds));
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
        return fputs("cifar_resnet: cannot create a context\n", stderr), 1;
    const char *flags[1], *data_dir, *log_path, *save_dir, *opt_name, *schedule, *cfgs[] = {
        "examples/cifar_resnet/config.txt", CIFAR_SOURCE_ROOT "/examples/cifar_resnet/config.txt"};
    size_t img_type;
    int64_t subset, threads, depth, pad;
    bool grey, hflip;
    tg_config *cfg = NULL; tg_scheduler *sched = NULL;
    tg_optim_config oc;
    tg_fit_options fo; /* the library's defaults, then the config */
    tg_fit_options_init(&fo);
    CHECK(tg_train_config_load(cctx, argc, (const char *const *)argv, cfgs, 2, KEYS, 10, PASS, 1, flags, &cfg));
    CHECK(tg_train_config_fit(cfg, &fo) || tg_train_config_optim(cfg, &opt_name, &oc) ||
          tg_config_get_string(cfg, "data_dir", "", &data_dir) || tg_config_get_bool(cfg, "grey", false, &grey) ||
          tg_config_get_choice(cfg, "image_type", IMAGE_TYPES, 2, 0, &img_type) ||
          tg_config_get_int(cfg, "depth", 8, 8, 1000, &depth) || tg_config_get_bool(cfg, "hflip", true, &hflip) ||
          tg_config_get_int(cfg, "train_subset", 0, 0, TG_DATASET_MAX_IMAGES, &subset) ||
          tg_config_get_int(cfg, "crop_padding", 4, 0, 16, &pad) ||
          tg_config_get_int(cfg, "threads", 0, 0, 256, &threads) || tg_config_get_string(cfg, "log_file", "", &log_path) ||
          tg_config_get_string(cfg, "save_dir", "", &save_dir) || tg_config_get_string(cfg, "lr_schedule", "none", &schedule));
    if (grey && img_type == 0)
        fputs("cifar_resnet: grey needs image_type png\n", stderr), exit(1);
    co.n_threads = (int)threads, co.seed = fo.seed;
    CHECK(tg_ctx_create(&co, &ctx));
    CHECK(tg_train_config_scheduler(cfg, ctx, fo.epochs, &sched));
    char dir[4096], text[200];
    const char *markers[] = {"data_batch_1.bin", "test_batch.bin", "train"}, *roots[] = {CIFAR_SOURCE_ROOT},
               *defaults[] = {"cifar-10-batches-bin", "data/cifar-10-batches-bin"};
    tg_data_dir_options dd; /* a named data_dir is used or refused, never replaced */
    tg_data_dir_options_init(&dd), dd.markers = markers, dd.n_markers = 3, dd.roots = roots;
    dd.n_roots = 1, dd.defaults = defaults, dd.n_defaults = 2, dd.argv0 = argv[0];
    if (tg_data_dir_resolve(ctx, data_dir, &dd, dir, sizeof dir) != TG_OK)
        die("no CIFAR data (set --data-dir; docs/residual-networks.md says where to get it)");
    tg_dataset *train = load(dir, img_type, grey, true), *test = load(dir, img_type, grey, false), *part = NULL;
    int c = (int)tg_dataset_channels(train);
    double mean[4], std[4];
    float fm[4], fs[4];
    CHECK(tg_dataset_channel_stats(train, mean, std, c)); /* training split only; before subset: it copies */
    for (int k = 0; k < c; k++)
        fm[k] = (float)mean[k], fs[k] = (float)(std[k] > 1e-6 ? std[k] : 1.0);
    CHECK(tg_dataset_set_channel_normalization(train, true, fm, fs, c) ||
          tg_dataset_set_channel_normalization(test, true, fm, fs, c));
    if (subset > 0 && (size_t)subset < tg_dataset_n(train))
        CHECK(tg_dataset_subset(train, 0, (size_t)subset, &part)), tg_dataset_destroy(train), train = part;
    tg_resnet_cifar_options ro;
    tg_resnet_cifar_options_init(&ro, (int)depth), ro.in_channels = c;
    tg_module *net = NULL;
    tg_optim *opt = NULL;
    CHECK(tg_nn_resnet_cifar(ctx, &ro, &net) || tg_optim_create_by_name(ctx, net, opt_name, &oc, &opt));
    printf("data %s: %zu train, %zu test images (%d channels, mean", dir, tg_dataset_n(train), tg_dataset_n(test), c);
    for (int k = 0; k < c; k++)
        printf(" %.4f", mean[k]);
    printf("); ResNet-%d (%lld weights); %s lr %g momentum %g weight decay %g, schedule %s; crop padding %d%s; "
           "%d threads\n", (int)depth, (long long)tg_module_n_weights(net), opt_name, (double)oc.lr,
           (double)oc.momentum, (double)oc.weight_decay, schedule, (int)pad, hflip ? ", flips" : "", tg_ctx_n_threads(ctx));
    if (flags[0] && (tg_checkpoint_load(net, opt, &fo.start_epoch, flags[0]) != TG_OK ||
                     printf("resuming from %s after epoch %lld\n", flags[0], (long long)fo.start_epoch) < 0))
        die(NULL);
    tg_train_logger_options lo;
    tg_train_logger_options_init(&lo), lo.log_path = log_path, lo.append = flags[0] != NULL, lo.save_dir = save_dir[0] ? save_dir : NULL;
    lo.title = "CIFAR ResNet", lo.epochs = fo.epochs, lo.start_epoch = fo.start_epoch;
    lo.batch_size = fo.batch_size, lo.progress = isatty(STDOUT_FILENO) == 1, lo.opt = opt;
    tg_train_logger *lg = NULL;
    CHECK(tg_train_logger_create(ctx, &lo, &lg));
    fo.save_dir = lo.save_dir, fo.scheduler = sched, fo.user = lg, fo.crop_padding = (int)pad, fo.hflip = hflip;
    fo.on_batch = tg_train_logger_on_batch, fo.on_epoch = tg_train_logger_on_epoch;
    tg_fit_result fr = {sizeof fr, TG_FIT_COMPLETED, 0, 0, 0, 0, 0, 0};
    if (tg_fit(net, opt, train, NULL, &fo, &fr) != TG_OK || fr.stop == TG_FIT_CALLBACK_STOPPED)
        printf("%s", lo.progress ? "\n" : ""), die("training failed");
    tg_eval_options eo; /* the last weights: there is no validation split to pick a best epoch */
    tg_eval_options_init(&eo);
    tg_eval_result er = {.struct_size = sizeof er};
    CHECK(tg_evaluate(net, test, &eo, &er));
    printf("test loss %.4f, accuracy %.4f (%llu/%llu)\n", er.loss, er.accuracy, (unsigned long long)er.n_correct,
           (unsigned long long)er.n);
    snprintf(text, sizeof text, "test_accuracy %.6f", er.accuracy);
    tg_train_logger_note(lg, text);
    printf("test_accuracy=%.4f train_seconds=%.1f samples_per_s=%.0f\n", er.accuracy, fr.train_seconds, fr.samples_per_s);
    tg_train_logger_destroy(lg), tg_scheduler_destroy(sched), tg_dataset_destroy(train), tg_dataset_destroy(test);
    tg_optim_destroy(opt), tg_module_destroy(net), tg_config_destroy(cfg), tg_ctx_destroy(ctx), tg_ctx_destroy(cctx);
    return 0;
}
