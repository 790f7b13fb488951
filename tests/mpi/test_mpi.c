/* SPDX-License-Identifier: MIT */
/* libtinygrad-mpi tests, one mode per run under mpirun (tests/mpi/run.sh):
 *   test_mpi parity       broadcast + 3 steps on B per rank == one process on
 *                         the concatenated batch (MLP and seed CNN, SGD with
 *                         momentum and Adam), to 1e-6 relative; replicas
 *                         bitwise identical; bytes and collectives per step
 *   test_mpi fit          tg_fit with tg_dist_fit_options() on per-rank shards
 *                         == tg_fit of one process with the global batch;
 *                         prints "params-hash H" (determinism: run.sh twice)
 *   test_mpi fit-shard    the same through the sharded, shuffled sampler
 *                         (shard_rank/shard_count from tg_dist_fit_options)
 *   test_mpi mnist        real MNIST subset: N ranks reach one process's
 *                         test accuracy (within 0.5 point); 77 without data
 *   test_mpi ckpt-write DIR, ckpt-resume DIR
 *                         a checkpoint of an N-rank run resumes on M ranks
 *   test_mpi fault-path   the last rank cannot load its data: every rank
 *                         fails through tg_dist_check() naming it
 *   test_mpi fault-nan    the last rank's loss turns NaN inside tg_fit: every
 *                         rank's tg_fit fails, naming the rank and the reason
 *   test_mpi fault-hang   the last rank hangs: the watchdog ends the job
 *   test_mpi fault-kill   the last rank is killed: the job ends
 * Exit 0 on success, 1 on a failed check (the fault modes exit 1 by design;
 * run.sh checks the status, the message and the time). */
#define _POSIX_C_SOURCE 200809L
#include <tinygrad_mpi.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_rank = -1;
static tg_ctx *g_ctx;

#define CHECK(call)                                                                            \
    do {                                                                                       \
        tg_status s_ = (call);                                                                 \
        if (s_ != TG_OK) {                                                                     \
            fprintf(stderr, "rank %d: %s:%d: %s: %s\n", g_rank, __FILE__, __LINE__,            \
                    tg_status_string(s_), tg_ctx_last_error(g_ctx));                           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static int failures;
#define EXPECT(cond, ...)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", g_rank, __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

enum { MLP, CNN };

static tg_module *build(tg_ctx *ctx, int kind, uint64_t seed)
{
    tg_ctx_manual_seed(ctx, seed);
    tg_module *seq, *l;
#define ADD(create)                                                                            \
    do {                                                                                       \
        CHECK(create);                                                                         \
        CHECK(tg_sequential_append(seq, l));                                                   \
    } while (0)
    CHECK(tg_sequential_create(ctx, &seq));
    if (kind == MLP) {
        ADD(tg_flatten_create(ctx, &l));
        ADD(tg_linear_create(ctx, 784, 32, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_linear_create(ctx, 32, 10, true, &l));
    } else { /* the seed CNN of examples/mnist_cnn */
        ADD(tg_conv2d_create(ctx, 1, 3, 3, 1, 1, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_conv2d_create(ctx, 3, 6, 3, 1, 1, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_conv2d_create(ctx, 6, 9, 3, 1, 1, 1, 1, true, &l));
        ADD(tg_relu_create(ctx, &l));
        ADD(tg_maxpool2d_create(ctx, 2, 0, 0, &l));
        ADD(tg_flatten_create(ctx, &l));
        ADD(tg_linear_create(ctx, 1764, 10, true, &l));
    }
#undef ADD
    return seq;
}

/* n deterministic 28x28 images (same on every rank), labels 0..9. */
static tg_dataset *make_data(tg_ctx *ctx, size_t n, uint32_t seed)
{
    uint8_t *img = malloc(n * 784);
    int32_t *lab = malloc(n * sizeof *lab);
    if (!img || !lab)
        exit(1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        lab[i] = (int32_t)(i * 7 % 10);
        for (size_t j = 0; j < 784; j++) {
            x = x * 1664525u + 1013904223u;
            /* a faint class-dependent pattern plus noise, so training moves */
            uint32_t v = (x >> 24) / 2 + ((j % 10) == (size_t)lab[i] ? 100 : 0);
            img[i * 784 + j] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    tg_dataset *ds;
    CHECK(tg_dataset_create(ctx, n, 28, 28, img, lab, 10, &ds));
    free(img);
    free(lab);
    return ds;
}

static tg_optim *make_opt(tg_ctx *ctx, tg_module *m, bool adam)
{
    tg_optim *o;
    if (adam) {
        tg_adam_options ao;
        tg_adam_options_init(&ao);
        ao.lr = 0.01f;
        CHECK(tg_adam_create(ctx, m, &ao, &o));
    } else {
        tg_sgd_options so;
        tg_sgd_options_init(&so);
        so.lr = 0.1f;
        so.momentum = 0.9f;
        CHECK(tg_sgd_create(ctx, m, &so, &o));
    }
    return o;
}

/* One step of m on images [start, start+count) of ds; dist: average grads. */
static void step(tg_ctx *ctx, tg_module *m, tg_optim *opt, const tg_dataset *ds, size_t start,
                 size_t count, tg_dist *d)
{
    tg_optim_zero_grad(opt);
    tg_tensor *x = tg_dataset_to_tensor(ds, start, count);
    tg_tensor *y = x ? tg_module_forward(m, x) : NULL;
    tg_tensor *loss =
        y ? tg_cross_entropy(ctx, y, tg_dataset_labels(ds) + start, count, TG_REDUCTION_MEAN)
          : NULL;
    CHECK(loss ? tg_backward(ctx, loss) : tg_ctx_last_status(ctx));
    if (d)
        CHECK(tg_dist_allreduce_grads(d, m));
    CHECK(tg_optim_step(opt));
    tg_ctx_reset(ctx);
}

/* Largest |a-b| / max(|b|, 1e-2) over the parameters (the floor keeps
 * parameters that pass through zero from dividing by ~0). */
static double max_rel_diff(tg_module *a, tg_module *b, double *max_abs)
{
    double worst = 0.0;
    *max_abs = 0.0;
    for (size_t i = 0; i < tg_module_n_params(a); i++) {
        tg_tensor *ta = tg_module_param(a, i, NULL), *tb = tg_module_param(b, i, NULL);
        const float *pa = tg_tensor_data(ta), *pb = tg_tensor_data(tb);
        for (int64_t j = 0; j < tg_tensor_numel(ta); j++) {
            double diff = fabs((double)pa[j] - (double)pb[j]);
            double rel = diff / fmax(fabs((double)pb[j]), 1e-2);
            if (diff > *max_abs)
                *max_abs = diff;
            if (rel > worst)
                worst = rel;
        }
    }
    return worst;
}

/* Largest |a-b| / max(|b|, 1e-2) over the parameters whose gradient in b
 * (still there after the step) exceeds @p gmin in magnitude; *skipped
 * counts the others. */
static double max_rel_diff_where_grad(tg_module *a, tg_module *b, float gmin, size_t *skipped)
{
    double worst = 0.0;
    *skipped = 0;
    for (size_t i = 0; i < tg_module_n_params(a); i++) {
        tg_tensor *ta = tg_module_param(a, i, NULL), *tb = tg_module_param(b, i, NULL);
        const float *pa = tg_tensor_data(ta), *pb = tg_tensor_data(tb), *gb = tg_tensor_grad(tb);
        for (int64_t j = 0; gb && j < tg_tensor_numel(ta); j++) {
            if (fabsf(gb[j]) <= gmin) {
                ++*skipped;
                continue;
            }
            double rel = fabs((double)pa[j] - (double)pb[j]) / fmax(fabs((double)pb[j]), 1e-2);
            if (rel > worst)
                worst = rel;
        }
    }
    return worst;
}

/* Largest |ga-gb| / max|gb| per tensor: the averaged gradient against the
 * one of the whole batch. */
static double max_grad_diff(tg_module *a, tg_module *b)
{
    double worst = 0.0;
    for (size_t i = 0; i < tg_module_n_params(a); i++) {
        tg_tensor *ta = tg_module_param(a, i, NULL), *tb = tg_module_param(b, i, NULL);
        const float *ga = tg_tensor_grad(ta), *gb = tg_tensor_grad(tb);
        double scale = 0.0, diff = 0.0;
        for (int64_t j = 0; ga && gb && j < tg_tensor_numel(ta); j++) {
            scale = fmax(scale, fabs((double)gb[j]));
            diff = fmax(diff, fabs((double)ga[j] - (double)gb[j]));
        }
        if (scale > 0 && diff / scale > worst)
            worst = diff / scale;
    }
    return worst;
}

/* Largest ||a-b||_2 / ||b||_2 over the parameter tensors. */
static double max_rel_l2(tg_module *a, tg_module *b)
{
    double worst = 0.0;
    for (size_t i = 0; i < tg_module_n_params(a); i++) {
        tg_tensor *ta = tg_module_param(a, i, NULL), *tb = tg_module_param(b, i, NULL);
        const float *pa = tg_tensor_data(ta), *pb = tg_tensor_data(tb);
        double num = 0.0, den = 0.0;
        for (int64_t j = 0; j < tg_tensor_numel(ta); j++) {
            double diff = (double)pa[j] - (double)pb[j];
            num += diff * diff;
            den += (double)pb[j] * (double)pb[j];
        }
        double r = den > 0 ? sqrt(num / den) : sqrt(num);
        if (r > worst)
            worst = r;
    }
    return worst;
}

static uint64_t params_hash(tg_module *m)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < tg_module_n_state(m); i++) {
        tg_tensor *t = tg_module_state(m, i, NULL, NULL);
        const unsigned char *p = (const unsigned char *)tg_tensor_data(t);
        for (size_t j = 0; j < (size_t)tg_tensor_numel(t) * sizeof(float); j++)
            h = (h ^ p[j]) * 1099511628211ull;
    }
    return h;
}

/* Every rank holds the same hash? */
static bool same_everywhere(uint64_t h)
{
    uint64_t mx = 0, mn = 0;
    MPI_Allreduce(&h, &mx, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&h, &mn, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    return mx == mn;
}

static void parity(tg_ctx *ctx, tg_dist *d)
{
    const int size = tg_dist_size(d), rank = tg_dist_rank(d);
    const size_t B = 4, G = B * (size_t)size;
    tg_dataset *ds = make_data(ctx, G * 3, 5);
    for (int kind = MLP; kind <= CNN; kind++) {
        for (int adam = 0; adam <= 1; adam++) {
            const char *name = kind == MLP ? (adam ? "mlp/adam" : "mlp/sgd")
                                           : (adam ? "cnn/adam" : "cnn/sgd");
            /* Replicas start different on purpose: the broadcast fixes it. */
            tg_module *m = build(ctx, kind, 100 + (uint64_t)rank);
            tg_module *ref = build(ctx, kind, 100);
            CHECK(tg_dist_broadcast_module(d, m));
            double ma;
            EXPECT(max_rel_diff(m, ref, &ma) == 0.0, "%s: broadcast left a difference %g", name,
                   ma);
            EXPECT(same_everywhere(params_hash(m)), "%s: replicas differ after broadcast", name);
            tg_optim *om = make_opt(ctx, m, adam), *oref = make_opt(ctx, ref, adam);
            /* SGD: 3 steps (momentum); Adam: 1 step (see below) */
            const size_t steps = adam ? 1 : 3;
            tg_dist_stats st0 = {sizeof st0, 0, 0, 0, 0, 0}, st1 = st0;
            tg_dist_get_stats(d, &st0);
            for (size_t s = 0; s < steps; s++) {
                step(ctx, m, om, ds, s * G + (size_t)rank * B, B, d); /* this rank's shard */
                step(ctx, ref, oref, ds, s * G, G, NULL);             /* the whole batch */
            }
            tg_dist_get_stats(d, &st1);
            double rel = max_rel_diff(m, ref, &ma), l2 = max_rel_l2(m, ref);
            double gd = max_grad_diff(m, ref);
            size_t skipped = 0;
            /* Adam's first step is lr * g / (|g| + eps): for a gradient
             * that cancels to within a few eps, the last-bit difference of
             * summing 4+4 instead of 8 is an O(1) relative change of its
             * update. Elements with |g| > 1000 eps are compared; SGD: all. */
            double rel_ok = adam ? max_rel_diff_where_grad(m, ref, 1e-5f, &skipped) : rel;
            EXPECT(gd <= 1e-5, "%s: averaged gradient differs from the whole batch's by %g of "
                   "the tensor's largest", name, gd);
            EXPECT(rel_ok <= 1e-6,
                   "%s: distributed params differ from one process by %g relative (all "
                   "elements %g, per tensor %g, absolute %g)", name, rel_ok, rel, l2, ma);
            EXPECT(same_everywhere(params_hash(m)), "%s: replicas differ after %zu steps", name,
                   steps);
            if (rank == 0)
                printf("%s: %d ranks x batch %zu vs 1 x %zu: params max rel diff %.3g (%zu "
                       "ill-conditioned elements skipped; all: %.3g, abs %.3g, tensor L2 %.3g), "
                       "grad diff %.3g; per step %.1f collectives, %.0f gradient bytes, %lld "
                       "weights\n",
                       name, size, B, G, rel_ok, skipped, rel, ma, l2, gd,
                       (double)(st1.collectives - st0.collectives) / (double)steps,
                       (double)(st1.grad_bytes - st0.grad_bytes) / (double)steps,
                       (long long)tg_module_n_weights(m));
            tg_optim_destroy(om);
            tg_optim_destroy(oref);
            tg_module_destroy(m);
            tg_module_destroy(ref);
        }
    }
    tg_dataset_destroy(ds);
}

/* Rank r's shard for tg_fit with shuffle off: of every global batch of
 * size*B images, the r-th block of B, so that rank r's k-th batch is its part
 * of the single process's k-th batch. */
static tg_dataset *shard(const tg_dataset *ds, size_t B, int rank, int size)
{
    size_t n = tg_dataset_n(ds), G = B * (size_t)size, k = 0;
    size_t *idx = malloc(n * sizeof *idx);
    for (size_t b = 0; b + G <= n; b += G)
        for (size_t j = 0; j < B; j++)
            idx[k++] = b + (size_t)rank * B + j;
    tg_dataset *out;
    CHECK(tg_dataset_select(ds, idx, k, &out));
    free(idx);
    return out;
}

static double nan_at_rank = -1; /* fault-nan: this rank's 3rd loss is NaN */
static tg_tensor *loss_fn(void *user, tg_ctx *ctx, tg_tensor *y, const int32_t *labels, size_t n)
{
    static int calls;
    tg_tensor *l = tg_cross_entropy(ctx, y, labels, n, TG_REDUCTION_MEAN);
    if (g_rank == (int)nan_at_rank && ++calls == 3)
        return tg_mul_scalar(ctx, l, NAN);
    return l;
}

static int fit(tg_ctx *ctx, tg_dist *d, bool nan)
{
    const int size = tg_dist_size(d), rank = tg_dist_rank(d);
    const size_t B = 8, G = B * (size_t)size;
    tg_dataset *all = make_data(ctx, G * 6, 9);
    tg_dataset *mine = shard(all, B, rank, size);
    tg_module *m = build(ctx, MLP, 7 + (uint64_t)rank), *ref = NULL;
    CHECK(tg_dist_broadcast_module(d, m));
    tg_optim *om = make_opt(ctx, m, false);
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 2;
    fo.batch_size = B;
    fo.shuffle = false;
    if (nan) {
        nan_at_rank = size - 1;
        fo.loss = loss_fn;
    }
    CHECK(tg_dist_fit_options(d, &fo));
    fo.shard_rank = 0, fo.shard_count = 1; /* `mine` is this rank's shard already */
    tg_fit_result r = {sizeof r, 0, 0, 0, 0, 0, 0, 0};
    tg_status s = tg_fit(m, om, mine, NULL, &fo, &r);
    /* After a failure every rank holds the same message. */
    s = tg_dist_check(d, s, "fit");
    if (s != TG_OK) {
        fprintf(stderr, "rank %d: error: %s\n", rank, tg_ctx_last_error(ctx));
        return 1;
    }
    /* Reference: one process, whole data set, batch G, same start. */
    ref = build(ctx, MLP, 7);
    tg_optim *oref = make_opt(ctx, ref, false);
    tg_fit_options fr;
    tg_fit_options_init(&fr);
    fr.epochs = 2;
    fr.batch_size = G;
    fr.shuffle = false;
    tg_fit_result rr = {sizeof rr, 0, 0, 0, 0, 0, 0, 0};
    CHECK(tg_fit(ref, oref, all, NULL, &fr, &rr));
    /* 12 steps of the MLP (the CNN's max-pool ties on these synthetic
     * images are broken differently by last-bit differences, which moves
     * single elements by ~1e-4; the exact-step comparison is parity's). */
    double ma, rel = max_rel_diff(m, ref, &ma), l2 = max_rel_l2(m, ref);
    EXPECT(rel <= 1e-5 && l2 <= 1e-6, "fit: %d ranks differ from one process by %g relative "
           "(%g per tensor, %g absolute)", size, rel, l2, ma);
    EXPECT(fabs(r.best_loss - rr.best_loss) <= 1e-5 * fabs(rr.best_loss),
           "fit: training loss %.9g vs %.9g", r.best_loss, rr.best_loss);
    EXPECT(r.samples == rr.samples, "fit: %llu samples vs %llu", (unsigned long long)r.samples,
           (unsigned long long)rr.samples);
    uint64_t h = params_hash(m);
    EXPECT(same_everywhere(h), "fit: replicas differ");
    if (rank == 0)
        printf("fit: %d ranks x batch %zu vs 1 x %zu, 2 epochs: max rel diff %.3g (tensor L2 "
               "%.3g); best loss %.6f vs %.6f\nparams-hash %016llx\n",
               size, B, G, rel, l2, r.best_loss, rr.best_loss, (unsigned long long)h);
    tg_optim_destroy(om);
    tg_optim_destroy(oref);
    tg_module_destroy(m);
    tg_module_destroy(ref);
    tg_dataset_destroy(mine);
    tg_dataset_destroy(all);
    return failures ? 1 : 0;
}

/* fit-shard: the real sharded sampler (tg_dist_fit_options sets
 * shard_rank/shard_count) with shuffling: rank r takes positions r, r+k,
 * ... of each epoch's order, so with n a multiple of the global batch the
 * ranks' k-th batches together are the single process's k-th batch. */
static int fit_shard(tg_ctx *ctx, tg_dist *d)
{
    const int size = tg_dist_size(d), rank = tg_dist_rank(d);
    const size_t B = 8, G = B * (size_t)size;
    tg_dataset *all = make_data(ctx, G * 6, 9);
    tg_module *m = build(ctx, MLP, 7 + (uint64_t)rank), *ref;
    CHECK(tg_dist_broadcast_module(d, m));
    tg_optim *om = make_opt(ctx, m, false), *oref;
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = 2;
    fo.batch_size = B;
    fo.seed = 3;
    CHECK(tg_dist_fit_options(d, &fo));
    EXPECT(fo.shard_rank == (size_t)rank && fo.shard_count == (size_t)size, "shard fields");
    tg_fit_result r = {sizeof r, 0, 0, 0, 0, 0, 0, 0}, rr = r;
    CHECK(tg_dist_check(d, tg_fit(m, om, all, NULL, &fo, &r), "fit"));
    ref = build(ctx, MLP, 7);
    oref = make_opt(ctx, ref, false);
    tg_fit_options fr;
    tg_fit_options_init(&fr);
    fr.epochs = 2;
    fr.batch_size = G;
    fr.seed = 3;
    CHECK(tg_fit(ref, oref, all, NULL, &fr, &rr));
    double ma, rel = max_rel_diff(m, ref, &ma), l2 = max_rel_l2(m, ref);
    EXPECT(rel <= 1e-5 && l2 <= 1e-6, "fit-shard: %d ranks differ from one process by %g "
           "relative (%g per tensor, %g absolute)", size, rel, l2, ma);
    EXPECT(r.samples == rr.samples, "fit-shard: %llu samples vs %llu",
           (unsigned long long)r.samples, (unsigned long long)rr.samples);
    EXPECT(same_everywhere(params_hash(m)), "fit-shard: replicas differ");
    if (rank == 0)
        printf("fit-shard: %d ranks x batch %zu (sharded sampler, shuffled) vs 1 x %zu: max rel "
               "diff %.3g (tensor L2 %.3g)\n", size, B, G, rel, l2);
    tg_optim_destroy(om);
    tg_optim_destroy(oref);
    tg_module_destroy(m);
    tg_module_destroy(ref);
    tg_dataset_destroy(all);
    return failures ? 1 : 0;
}

/* mnist: the seed CNN on a subset of the real MNIST (../shared/data/mnist
 * or $TG_MNIST_DIR; exit 77 when absent), one epoch, 2 or 3 ranks x batch 16
 * on hand-made shards against one process with the global batch: test
 * accuracies within 0.5 point (they are in fact equal or nearly). */
static int mnist(tg_ctx *ctx, tg_dist *d)
{
    const int size = tg_dist_size(d), rank = tg_dist_rank(d);
    const char *dir = getenv("TG_MNIST_DIR");
    if (!dir)
        dir = TG_SOURCE_ROOT "/../shared/data/mnist";
    tg_dataset *full = NULL, *test_full = NULL;
    tg_status s = tg_dataset_load_mnist(ctx, dir, true, &full);
    if (s == TG_OK)
        s = tg_dataset_load_mnist(ctx, dir, false, &test_full);
    /* every rank must agree on skipping (77) */
    int missing = s != TG_OK, any = 0;
    MPI_Allreduce(&missing, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
        if (rank == 0)
            printf("SKIP: no MNIST at %s\n", dir);
        return 77;
    }
    const size_t B = 16, G = B * (size_t)size, n = G * (3000 / G);
    tg_dataset *all, *test, *mine;
    CHECK(tg_dataset_set_normalization(full, true, 0.1307f, 0.3081f));
    CHECK(tg_dataset_set_normalization(test_full, true, 0.1307f, 0.3081f));
    CHECK(tg_dataset_subset(full, 0, n, &all));
    CHECK(tg_dataset_subset(test_full, 0, 2000, &test));
    mine = shard(all, B, rank, size);
    double acc[2];
    for (int run = 0; run < 2; run++) { /* 0: distributed, 1: one process */
        tg_module *m = build(ctx, CNN, 21);
        tg_sgd_options so;
        tg_sgd_options_init(&so);
        so.lr = 0.02f;
        so.momentum = 0.9f;
        tg_optim *o;
        CHECK(tg_sgd_create(ctx, m, &so, &o));
        tg_fit_options fo;
        tg_fit_options_init(&fo);
        fo.epochs = 1;
        fo.shuffle = false;
        fo.batch_size = run == 0 ? B : G;
        if (run == 0)
            CHECK(tg_dist_fit_options(d, &fo));
        fo.shard_rank = 0, fo.shard_count = 1; /* hand-made shards */
        CHECK(run == 0 ? tg_dist_check(d, tg_fit(m, o, mine, NULL, &fo, NULL), "fit")
                       : tg_fit(m, o, all, NULL, &fo, NULL));
        tg_eval_result er;
        memset(&er, 0, sizeof er);
        er.struct_size = sizeof er;
        CHECK(tg_evaluate(m, test, NULL, &er));
        acc[run] = er.accuracy;
        tg_optim_destroy(o);
        tg_module_destroy(m);
    }
    EXPECT(fabs(acc[0] - acc[1]) <= 0.005, "mnist: %d ranks reach %.4f, one process %.4f", size,
           acc[0], acc[1]);
    EXPECT(acc[1] > 0.3, "mnist: one process reaches only %.4f (not training?)", acc[1]);
    if (rank == 0)
        printf("mnist: seed CNN, %zu training images, 1 epoch: %d ranks x batch %zu -> test "
               "accuracy %.4f; 1 process x batch %zu -> %.4f\n",
               n, size, B, acc[0], G, acc[1]);
    tg_dataset_destroy(mine);
    tg_dataset_destroy(all);
    tg_dataset_destroy(test);
    tg_dataset_destroy(full);
    tg_dataset_destroy(test_full);
    return failures ? 1 : 0;
}

/* ckpt-write DIR / ckpt-resume DIR: a checkpoint written by an N-rank
 * tg_fit (rank 0, epoch 1) resumes on M ranks (every rank loads it; epoch
 * 2): the replicas stay identical and equal one process resumed from the
 * same file with the same global batch. The data are the same G*6 synthetic
 * images; the global batch is 24 for every N and M that divide it. */
static int ckpt(tg_ctx *ctx, tg_dist *d, const char *dir, bool resume)
{
    const int size = tg_dist_size(d), rank = tg_dist_rank(d);
    const size_t G = 24, B = G / (size_t)size;
    if (G % (size_t)size != 0)
        return fprintf(stderr, "ckpt: %d ranks do not divide %zu\n", size, G), 2;
    tg_dataset *all = make_data(ctx, G * 6, 13);
    tg_dataset *mine = shard(all, B, rank, size);
    tg_module *m = build(ctx, MLP, 31 + (uint64_t)rank);
    tg_optim *o = make_opt(ctx, m, true); /* Adam: its state must resume too */
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    fo.epochs = resume ? 2 : 1;
    fo.batch_size = B;
    fo.shuffle = false;
    fo.save_dir = resume ? NULL : dir; /* the reference below reads the epoch-1 file */
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    if (resume) /* every rank loads the file (a shared file system) */
        CHECK(tg_dist_check(d, tg_checkpoint_load(m, o, &fo.start_epoch, path), "resume"));
    else
        CHECK(tg_dist_broadcast_module(d, m));
    CHECK(tg_dist_fit_options(d, &fo));
    fo.shard_rank = 0, fo.shard_count = 1; /* hand-made shards */
    CHECK(tg_dist_check(d, tg_fit(m, o, mine, NULL, &fo, NULL), "fit"));
    EXPECT(same_everywhere(params_hash(m)), "ckpt: replicas differ");
    if (resume) { /* one process from the same checkpoint, global batch G */
        tg_module *ref = build(ctx, MLP, 99);
        tg_optim *oref = make_opt(ctx, ref, true);
        tg_fit_options fr;
        tg_fit_options_init(&fr);
        fr.epochs = 2;
        fr.batch_size = G;
        fr.shuffle = false;
        CHECK(tg_checkpoint_load(ref, oref, &fr.start_epoch, path));
        EXPECT(fr.start_epoch == 1, "ckpt: checkpoint epoch %lld", (long long)fr.start_epoch);
        CHECK(tg_fit(ref, oref, all, NULL, &fr, NULL));
        double ma, rel = max_rel_diff(m, ref, &ma), l2 = max_rel_l2(m, ref);
        EXPECT(l2 <= 1e-5, "ckpt: resumed on %d ranks differs from one process by %g per tensor",
               size, l2);
        if (rank == 0)
            printf("ckpt: written by N ranks, resumed on %d ranks x batch %zu vs 1 x %zu: max rel "
                   "diff %.3g (tensor L2 %.3g)\n", size, B, G, rel, l2);
        tg_optim_destroy(oref);
        tg_module_destroy(ref);
    }
    tg_optim_destroy(o);
    tg_module_destroy(m);
    tg_dataset_destroy(mine);
    tg_dataset_destroy(all);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "parity";
    tg_ctx_options co;
    tg_ctx_options_init(&co);
    co.n_threads = 1;
    CHECK(tg_ctx_create(&co, &g_ctx));
    tg_dist_options dopt;
    tg_dist_options_init(&dopt);
    dopt.bucket_bytes = 16384; /* several buckets, a tensor split across two */
    if (strcmp(mode, "fault-hang") == 0)
        dopt.timeout_s = 2;
    tg_dist *d;
    CHECK(tg_dist_create(g_ctx, MPI_COMM_NULL, &dopt, &d));
    g_rank = tg_dist_rank(d);
    int last = tg_dist_size(d) - 1, rc = 0;
    if (strcmp(mode, "parity") == 0) {
        parity(g_ctx, d);
        rc = failures ? 1 : 0;
    } else if (strcmp(mode, "fit") == 0 || strcmp(mode, "fault-nan") == 0) {
        rc = fit(g_ctx, d, strcmp(mode, "fault-nan") == 0);
    } else if (strcmp(mode, "fit-shard") == 0) {
        rc = fit_shard(g_ctx, d);
    } else if (strcmp(mode, "mnist") == 0) {
        rc = mnist(g_ctx, d);
    } else if (strncmp(mode, "ckpt-", 5) == 0 && argc > 2) {
        rc = ckpt(g_ctx, d, argv[2], strcmp(mode, "ckpt-resume") == 0);
    } else if (strcmp(mode, "fault-path") == 0) {
        tg_dataset *tr = NULL;
        tg_status s = TG_OK;
        if (g_rank == last)
            s = tg_dataset_load_mnist(g_ctx, "/nonexistent/mnist", true, &tr);
        s = tg_dist_check(d, s, "load data");
        if (s != TG_OK) {
            fprintf(stderr, "rank %d: error: %s\n", g_rank, tg_ctx_last_error(g_ctx));
            rc = 1;
        }
    } else if (strcmp(mode, "fault-hang") == 0 || strcmp(mode, "fault-kill") == 0) {
        if (g_rank == last) {
            if (mode[6] == 'k')
                raise(SIGKILL);
            sleep(120); /* hangs: never reaches the collective */
        }
        CHECK(tg_dist_check(d, TG_OK, "after the hang"));
        rc = 0;
    } else {
        fprintf(stderr, "test_mpi: unknown mode '%s'\n", mode);
        rc = 2;
    }
    tg_dist_destroy(d);
    tg_ctx_destroy(g_ctx);
    return rc;
}
