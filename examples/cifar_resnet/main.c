/* SPDX-License-Identifier: MIT */
/* cifar_resnet: train a CIFAR ResNet (ResNet-8 by default, --depth 20) on CIFAR-10 binary
 * files or on colour PNG trees, from a `key = value` config file and --key overrides, as
 * mnist_cnn does. Configuration, data lookup, normalisation, schedules, fit and logging are in
 * the library. */
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
    "crop_padding", "hflip", "threads", "log_file", "save_dir", "distributed"};
static const char *const PASS[] = {"resume"};
static const char *const IMAGE_TYPES[] = {"cifar", "png"};
static const char USAGE[] =
    "usage: cifar_resnet --data-dir DIR [--config FILE] [--KEY VALUE ...] [--resume CHECKPOINT]\n"
    "Trains a CIFAR ResNet with per-channel normalisation (training-split statistics), random\n"
    "crops and horizontal flips; prints the test accuracy and last `test_accuracy=0.XXXX\n"
    "train_seconds=N samples_per_s=N`. --config FILE (default examples/cifar_resnet/config.txt);\n"
    "--resume SAVE_DIR/checkpoint.safetensors. Config keys, each also a flag with dashes\n"
    "(--batch-size=64):\n"
    "  data_dir      CIFAR-10 binary files (data_batch_*.bin, test_batch.bin) or a PNG tree,\n"
    "                used as named or an error; unset: cifar-10-batches-bin, then\n"
    "                data/cifar-10-batches-bin\n"
    "  image_type    cifar | png (DIR/train/<label>/*.png, DIR/test/<label>/*.png, colour kept)\n"
    "  grey          png only: convert the images to grey (false)\n"
    "  depth         ResNet depth 6n+2: 8 (default), 14, 20, 32, ...\n"
    "  train_subset  use only the first N training images, 0 = all (0)\n"
    "  crop_padding  random crop after zero padding by N pixels, 0 = off (4)\n"
    "  hflip         random flips (true)\n"
    "  threads       worker threads, 0 = all CPUs (0); also log_file\n"
    "  save_dir      checkpoints, metrics.csv, svg\n"
    "  distributed   true: data-parallel under mpirun (mpirun -np 2 cifar_resnet --distributed);\n"
    "                batch_size is per rank (false)\n";
static tg_ctx *ctx, *cctx; /* for die(): configuration errors are kept in cctx */
static void die(const char *what)
{
    tg_ctx *c = tg_ctx_last_status(cctx) != TG_OK || !ctx ? cctx : ctx;
    const char *err = tg_ctx_last_error(c), *sep = what && err[0] ? ": " : "";
    fprintf(stderr, "cifar_resnet: %s%s%s\n", what ? what : "", sep, err);
    exit(1);
}
#define CHECK(call) ((call) != TG_OK ? die(NULL) : (void)0)
#include "../common/dist.h"

/* cifar_resnet's own keys; the library's are read by tg_train_config_fit/_optim. */
typedef struct settings {
    const char *data_dir, *log_path, *save_dir, *schedule;
    size_t image_type; /* IMAGE_TYPES */
    int64_t depth, subset, pad, threads;
    bool grey, hflip, distributed;
} settings;

static void read_settings(const tg_config *cfg, settings *s)
{
    CHECK(tg_config_get_string(cfg, "data_dir", "", &s->data_dir));
    CHECK(tg_config_get_bool(cfg, "grey", false, &s->grey));
    CHECK(tg_config_get_choice(cfg, "image_type", IMAGE_TYPES, 2, 0, &s->image_type));
    CHECK(tg_config_get_int(cfg, "depth", 8, 8, 1000, &s->depth));
    CHECK(tg_config_get_bool(cfg, "hflip", true, &s->hflip));
    /* checked here with the others; tg_train_config_split() applies it */
    CHECK(tg_config_get_int(cfg, "train_subset", 0, 0, TG_DATASET_MAX_IMAGES, &s->subset));
    CHECK(tg_config_get_int(cfg, "crop_padding", 4, 0, 16, &s->pad));
    CHECK(tg_config_get_int(cfg, "threads", 0, 0, 256, &s->threads));
    CHECK(tg_config_get_string(cfg, "log_file", "", &s->log_path));
    CHECK(tg_config_get_string(cfg, "save_dir", "", &s->save_dir));
    CHECK(tg_config_get_string(cfg, "lr_schedule", "none", &s->schedule));
    CHECK(tg_config_get_bool(cfg, "distributed", false, &s->distributed));
}

static void find_data(const char *named, const char *argv0, char *dir, size_t cap)
{
    const char *markers[] = {"data_batch_1.bin", "test_batch.bin", "train"};
    const char *roots[] = {CIFAR_SOURCE_ROOT};
    const char *defaults[] = {"cifar-10-batches-bin", "data/cifar-10-batches-bin"};
    tg_data_dir_options dd = {.struct_size = sizeof dd, /* a named data_dir is used or refused */
        .markers = markers, .n_markers = 3, .roots = roots, .n_roots = 1,
        .defaults = defaults, .n_defaults = 2, .argv0 = argv0};
    if (tg_data_dir_resolve(ctx, named, &dd, dir, cap) != TG_OK)
        die("no CIFAR data (set --data-dir; docs/residual-networks.md says where to get it)");
}

static tg_dataset *load(const char *dir, const settings *s, bool train)
{
    tg_dataset *ds = NULL;
    char path[4200]; /* png: DIR/train, DIR/test */
    snprintf(path, sizeof path, "%s/%s", dir, train ? "train" : "test");
    tg_png_options po;
    tg_png_options_init(&po);
    po.channels = s->grey ? 1 : 0; /* 0: as stored */
    CHECK(s->image_type == 0 ? tg_dataset_load_cifar_dir(ctx, dir, train, 10, &ds)
                             : tg_dataset_load_png_tree(ctx, path, &po, &ds));
    return ds;
}

/* The weights after the last epoch: there is no validation split to pick a best epoch. */
static void report(tg_train_logger *lg, tg_module *net, const tg_dataset *test,
                   const tg_fit_result *fr)
{
    tg_eval_options eo;
    tg_eval_options_init(&eo);
    tg_eval_result er = {.struct_size = sizeof er};
    CHECK(tg_evaluate(net, test, &eo, &er));
    printf("test loss %.4f, accuracy %.4f (%llu/%llu)\n", er.loss, er.accuracy,
           (unsigned long long)er.n_correct, (unsigned long long)er.n);
    char note[64];
    snprintf(note, sizeof note, "test_accuracy %.6f", er.accuracy);
    tg_train_logger_note(lg, note);
    printf("test_accuracy=%.4f train_seconds=%.1f samples_per_s=%.0f\n", er.accuracy,
           fr->train_seconds, fr->samples_per_s); /* last line: the machine-readable contract */
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s%s", USAGE, tg_train_config_help()); /* the library's keys too */
            return 0;
        }
    tg_ctx_options co = {.struct_size = sizeof co, .n_threads = 1}; /* for the configuration */
    if (tg_ctx_create(&co, &cctx) != TG_OK) {
        fputs("cifar_resnet: cannot create a context\n", stderr);
        return 1;
    }
    const char *cfgs[] = {"examples/cifar_resnet/config.txt",
                          CIFAR_SOURCE_ROOT "/examples/cifar_resnet/config.txt"};
    const char *flags[1]; /* --resume */
    tg_config *cfg = NULL;
    CHECK(tg_train_config_load(cctx, argc, (const char *const *)argv, cfgs, 2, KEYS, 11, PASS, 1,
                               flags, &cfg));
    tg_fit_options fo; /* the library's defaults, then the config */
    tg_fit_options_init(&fo);
    CHECK(tg_train_config_fit(cfg, &fo));
    const char *opt_name;
    tg_optim_config oc;
    CHECK(tg_train_config_optim(cfg, &opt_name, &oc));
    settings s;
    read_settings(cfg, &s);
    if (s.grey && s.image_type == 0) {
        fputs("cifar_resnet: grey needs image_type png\n", stderr);
        return 1;
    }
    co.n_threads = (int)s.threads;
    co.seed = fo.seed;
    CHECK(tg_ctx_create(&co, &ctx));
    CHECK(tg_train_config_scheduler(cfg, ctx, fo.epochs, &fo.scheduler));
    char dir[4096];
    find_data(s.data_dir, argv[0], dir, sizeof dir);
    tg_dataset *train = load(dir, &s, true);
    tg_dataset *test = load(dir, &s, false);
    tg_dataset *val = NULL; /* none: the test set is evaluated after the last epoch */
    tg_dataset *sets[] = {train, test};
    float mean[4]; /* at most 4 channels */
    CHECK(tg_dataset_standardize(sets, 2, mean, NULL)); /* before the subset: it copies */
    CHECK(tg_train_config_split(cfg, 1.0, fo.seed, &train, &val)); /* train_subset */
    int c = (int)tg_dataset_channels(train);
    tg_resnet_cifar_options ro;
    tg_resnet_cifar_options_init(&ro, (int)s.depth);
    ro.in_channels = c;
    tg_module *net = NULL;
    CHECK(tg_nn_resnet_cifar(ctx, &ro, &net));
    tg_optim *opt = NULL;
    CHECK(tg_optim_create_by_name(ctx, net, opt_name, &oc, &opt));
    tg_dist *mpi = dist_start(s.distributed, ctx, net, &fo, &s.save_dir, &s.log_path); /* dist.h */
    printf("data %s: %zu train, %zu test images (%d channels, mean", dir, tg_dataset_n(train),
           tg_dataset_n(test), c);
    for (int k = 0; k < c; k++)
        printf(" %.4f", (double)mean[k]);
    printf("); ResNet-%d (%lld weights); %s lr %g momentum %g weight decay %g, schedule %s; "
           "crop padding %d%s; %d threads\n", (int)s.depth, (long long)tg_module_n_weights(net),
           opt_name, (double)oc.lr, (double)oc.momentum, (double)oc.weight_decay, s.schedule,
           (int)s.pad, s.hflip ? ", flips" : "", tg_ctx_n_threads(ctx));
    if (flags[0]) {
        CHECK(tg_checkpoint_load(net, opt, &fo.start_epoch, flags[0]));
        printf("resuming from %s after epoch %lld\n", flags[0], (long long)fo.start_epoch);
    }
    fo.save_dir = s.save_dir[0] ? s.save_dir : NULL;
    fo.crop_padding = (int)s.pad;
    fo.hflip = s.hflip;
    tg_train_logger_options lo = {.struct_size = sizeof lo, .log_path = s.log_path,
        .append = flags[0] != NULL, .save_dir = fo.save_dir, .title = "CIFAR ResNet",
        .epochs = fo.epochs, .start_epoch = fo.start_epoch, .batch_size = fo.batch_size,
        .progress = isatty(STDOUT_FILENO) == 1, .opt = opt};
    tg_train_logger *lg = NULL;
    CHECK(tg_train_logger_create(ctx, &lo, &lg));
    tg_fit_result fr = {.struct_size = sizeof fr};
    if (tg_train_logger_fit(lg, net, opt, train, val, &fo, &fr) != TG_OK)
        die("training failed");
    report(lg, net, test, &fr); /* on every rank; only rank 0's stdout is kept (dist.h) */
    dist_end(mpi);
    tg_ctx_destroy(ctx); /* releases the model, data sets, optimiser, schedule and logger */
    tg_ctx_destroy(cctx); /* and the configuration */
    return 0;
}
