/* SPDX-License-Identifier: MIT */
/* Train an MLP on a CSV table (classification or regression).
 *   usage: tabular --csv FILE --target COLUMN --task classification|regression
 *          [--test-split 0.2] [--epochs N] [--seed S] [--batch-size B] [--lr LR]
 *          [--hidden H] [--threads T] [--save FILE.safetensors]
 * Seeded train/test split, features standardised with the training split's
 * statistics, Linear-ReLU-Linear-ReLU-Linear trained with Adam on
 * cross-entropy or MSE. Last line: test_accuracy=X or test_rmse=X (regression
 * also prints baseline_rmse=Y, the RMSE of predicting the training mean). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tinygrad.h>

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK) {                                                                 \
            fprintf(stderr, "tabular: %s\n", tg_ctx_last_error(ctx));                         \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    const char *csv = NULL, *target = NULL, *task = NULL, *save = NULL;
    double split = 0.2, lr = 0.01;
    long epochs = 50, seed = 0, batch = 32, hidden = 32, threads = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = (char *)"";
        if (!v)
            goto usage;
        if (!strcmp(k, "--csv")) csv = v;
        else if (!strcmp(k, "--target")) target = v;
        else if (!strcmp(k, "--task")) task = v;
        else if (!strcmp(k, "--save")) save = v;
        else if (!strcmp(k, "--test-split")) split = strtod(v, &end);
        else if (!strcmp(k, "--lr")) lr = strtod(v, &end);
        else if (!strcmp(k, "--epochs")) epochs = strtol(v, &end, 10);
        else if (!strcmp(k, "--seed")) seed = strtol(v, &end, 10);
        else if (!strcmp(k, "--batch-size")) batch = strtol(v, &end, 10);
        else if (!strcmp(k, "--hidden")) hidden = strtol(v, &end, 10);
        else if (!strcmp(k, "--threads")) threads = strtol(v, &end, 10);
        else goto usage;
        if (*end || end == v)
            goto usage;
    }
    bool cls = task && !strcmp(task, "classification");
    if (!csv || !target || !task || (!cls && strcmp(task, "regression")) || !(split > 0) ||
        !(split < 1) || epochs < 1 || batch < 1 || hidden < 1 || threads < 1 || !(lr > 0))
        goto usage;

    tg_ctx_options co;
    tg_ctx_options_init(&co);
    co.n_threads = (int)threads;
    co.seed = (uint64_t)seed;
    tg_ctx *ctx = NULL;
    if (tg_ctx_create(&co, &ctx) != TG_OK)
        return 1;
    tg_csv_options o;
    tg_csv_options_init(&o);
    o.target = target;
    o.task = cls ? TG_CSV_CLASSIFICATION : TG_CSV_REGRESSION;
    tg_dataset *all = NULL, *sets[2] = {NULL, NULL};
    CHECK(tg_dataset_load_csv(ctx, csv, &o, &all));
    CHECK(tg_dataset_split(all, 1.0 - split, (uint64_t)seed, &sets[0], &sets[1]));
    CHECK(tg_dataset_standardize(sets, 2, NULL, NULL));
    int64_t f = tg_dataset_sample_shape(all)[0];
    int64_t n_out = cls ? tg_dataset_n_classes(all) : tg_dataset_target_dim(all);
    printf("%s: %zu rows, %lld features, %lld %s; train %zu, test %zu\n", csv, tg_dataset_n(all),
           (long long)f, (long long)n_out, cls ? "classes" : "targets", tg_dataset_n(sets[0]),
           tg_dataset_n(sets[1]));

    tg_module *net = NULL, *l = NULL;
    CHECK(tg_nn_sequential(ctx, &net)); /* Linear-ReLU-Linear-ReLU-Linear */
    int64_t width[4] = {f, hidden, hidden, n_out};
    for (int i = 0; i < 3; i++) {
        tg_linear_options lo;
        tg_linear_options_init(&lo, width[i], width[i + 1]);
        CHECK(tg_nn_linear(ctx, &lo, &l));
        CHECK(tg_sequential_append(net, l));
        if (i < 2) {
            CHECK(tg_nn_relu(ctx, &l));
            CHECK(tg_sequential_append(net, l));
        }
    }
    tg_adam_options ao;
    tg_adam_options_init(&ao);
    ao.lr = (float)lr;
    tg_optim *opt = NULL;
    CHECK(tg_adam_create(ctx, net, &ao, &opt));
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = epochs;
    fo.batch_size = (size_t)batch;
    fo.seed = (uint64_t)seed;
    CHECK(tg_fit(net, opt, sets[0], NULL, &fo, NULL)); /* CE or MSE by target kind */
    tg_eval_result r = {.struct_size = sizeof r};
    CHECK(tg_evaluate(net, sets[1], NULL, &r));

    if (save) { /* class k's name is entry k of a JSON array in "tg.class_names" */
        size_t len = 0;
        if (cls)
            CHECK(tg_dataset_class_names_json(all, NULL, 0, &len));
        char *names = calloc(1, len + 1);
        tg_kv kv[1] = {{"tg.class_names", names}};
        if (!names || (cls && tg_dataset_class_names_json(all, names, len + 1, NULL) != TG_OK) ||
            tg_module_save(net, save, kv, cls ? 1 : 0) != TG_OK) {
            fprintf(stderr, "tabular: %s\n", names ? tg_ctx_last_error(ctx) : "out of memory");
            free(names);
            return 1;
        }
        free(names);
    }
    if (cls) {
        printf("test_accuracy=%.4f\n", r.accuracy);
    } else { /* baseline: predict the training mean (one target: var + bias^2 on test) */
        double mtr, str, mte, ste;
        CHECK(tg_dataset_target_stats(sets[0], &mtr, &str, 1));
        CHECK(tg_dataset_target_stats(sets[1], &mte, &ste, 1));
        printf("baseline_rmse=%.4f\ntest_rmse=%.4f\n", sqrt(ste * ste + (mte - mtr) * (mte - mtr)),
               r.rmse);
    }
    tg_optim_destroy(opt);
    tg_module_destroy(net);
    tg_dataset_destroy(sets[0]);
    tg_dataset_destroy(sets[1]);
    tg_dataset_destroy(all);
    tg_ctx_destroy(ctx);
    return 0;
usage:
    fprintf(stderr, "usage: %s --csv FILE --target COLUMN --task classification|regression\n"
                    "  [--test-split 0.2] [--epochs 50] [--seed 0] [--batch-size 32] [--lr 0.01]\n"
                    "  [--hidden 32] [--threads 1] [--save FILE.safetensors]\n",
            argv[0]);
    return 2;
}
