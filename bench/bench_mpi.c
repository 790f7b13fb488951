/* SPDX-License-Identifier: MIT */
/* Data-parallel training throughput with libtinygrad-mpi: the seed MNIST CNN
 * or LeNet-5 on random MNIST-shaped data, a fixed global batch split over
 * the ranks, gradients averaged with tg_dist_allreduce_grads() every step.
 *
 *   mpirun -np R bench_mpi [--model seed|lenet5] [--global-batch G]
 *          [--threads T] [--seconds S] [--repeats N] [--comm-only]
 *
 * --comm-only times the gradient all-reduce alone (after one real step, so
 * that the gradients exist): the communication cost of a step.
 * Rank 0 prints the median global samples/s over N timed runs, the step
 * time, and per step: collectives, gradient bytes and time inside MPI. */
#define _POSIX_C_SOURCE 200809L
#include <tinygrad_mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static tg_ctx *g_ctx;
#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK) {                                                                 \
            fprintf(stderr, "bench_mpi: %s: %s\n", #call, tg_ctx_last_error(g_ctx));          \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#include "mnist_cnn/model.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define N_DATA 2048

int main(int argc, char **argv)
{
    const char *model = "seed";
    int global = 64, threads = 1, repeats = 5, comm_only = 0;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--comm-only")) { /* the gradient all-reduce alone */
            comm_only = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_mpi: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--global-batch"))
            global = atoi(v);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--seconds"))
            seconds = atof(v);
        else if (!strcmp(a, "--repeats"))
            repeats = atoi(v);
        else {
            fprintf(stderr, "usage: bench_mpi [--model seed|lenet5] [--global-batch G] "
                            "[--threads T] [--seconds S] [--repeats N] [--comm-only]\n");
            return 2;
        }
        i++;
    }
    int kind = !strcmp(model, "lenet5") ? MODEL_LENET5 : MODEL_SEED;
    tg_ctx_options co;
    tg_ctx_options_init(&co);
    co.n_threads = threads;
    co.seed = 1;
    CHECK(tg_ctx_create(&co, &g_ctx));
    tg_dist *d;
    CHECK(tg_dist_create(g_ctx, MPI_COMM_NULL, NULL, &d));
    int rank = tg_dist_rank(d), size = tg_dist_size(d);
    if (global < size || repeats < 1 || threads < 1) {
        fprintf(stderr, "bench_mpi: bad --global-batch, --repeats or --threads\n");
        return 2;
    }
    int batch = global / size;
    tg_module *m = build_model(g_ctx, kind);
    CHECK(tg_dist_broadcast_module(d, m));
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.01f;
    tg_optim *opt;
    CHECK(tg_sgd_create(g_ctx, m, &so, &opt));

    float *xs = malloc(sizeof(float) * N_DATA * 784);
    int32_t *ys = malloc(sizeof(int32_t) * N_DATA);
    uint64_t s = 0x9E3779B97F4A7C15ull + (uint64_t)rank;
    for (size_t i = 0; i < (size_t)N_DATA * 784; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        xs[i] = (float)(s >> 40) / 16777216.0f;
    }
    for (int i = 0; i < N_DATA; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        ys[i] = (int32_t)(s % 10);
    }
    const int64_t shape[4] = {batch, 1, 28, 28};
    long it = 0;
    #define STEP()                                                                             \
        do {                                                                                   \
            size_t off = (size_t)(it++ * batch) % (N_DATA - (size_t)batch);                    \
            if (comm_only) {                                                                   \
                CHECK(tg_dist_allreduce_grads(d, m));                                          \
                break;                                                                         \
            }                                                                                  \
            tg_optim_zero_grad(opt);                                                           \
            tg_tensor *x = tg_from_data(g_ctx, 4, shape, xs + off * 784, (size_t)batch * 784);             \
            tg_tensor *y = x ? tg_module_forward(m, x) : NULL;                                 \
            tg_tensor *l = y ? tg_cross_entropy(g_ctx, y, ys + off, (size_t)batch,             \
                                                TG_REDUCTION_MEAN) : NULL;                     \
            CHECK(l ? tg_backward(g_ctx, l) : tg_ctx_last_status(g_ctx));                      \
            CHECK(tg_dist_allreduce_grads(d, m));                                              \
            CHECK(tg_optim_step(opt));                                                         \
            tg_ctx_reset(g_ctx);                                                               \
        } while (0)
    int saved = comm_only;
    comm_only = 0;
    for (int i = 0; i < 10; i++)
        STEP();
    comm_only = saved;
    /* Steps per timed run: from 10 probe steps, agreed on by every rank
     * (every rank must run the same number of steps: each is a collective). */
    MPI_Barrier(MPI_COMM_WORLD);
    double t = now_s();
    for (int i = 0; i < 10; i++)
        STEP();
    double est = 10.0 * seconds / (now_s() - t);
    MPI_Allreduce(MPI_IN_PLACE, &est, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    long steps = est < 5 ? 5 : (long)est;
    double *rates = malloc(sizeof(double) * (size_t)repeats);
    tg_dist_stats a = {sizeof a, 0, 0, 0, 0, 0}, b = a;
    tg_dist_get_stats(d, &a);
    for (int r = 0; r < repeats; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        t = now_s();
        for (long k = 0; k < steps; k++)
            STEP();
        MPI_Barrier(MPI_COMM_WORLD);
        rates[r] = (double)steps * (double)batch * size / (now_s() - t);
    }
    tg_dist_get_stats(d, &b);
    qsort(rates, (size_t)repeats, sizeof *rates, cmp_double);
    double total = (double)steps * repeats, med = rates[repeats / 2];
    if (rank == 0)
        printf("%smodel %s, %d rank(s) x %d thread(s), global batch %d (%d per rank): "
               "%.0f samples/s (median of %d; min %.0f, max %.0f), %.2f ms/step; per step "
               "%.1f collectives, %.0f gradient bytes, %.3f ms in MPI (rank 0), %lld weights\n",
               comm_only ? "[all-reduce only] " : "", model, size, threads, batch * size, batch, med, repeats, rates[0],
               rates[repeats - 1], 1e3 * global / med,
               (double)(b.collectives - a.collectives) / total,
               (double)(b.grad_bytes - a.grad_bytes) / total,
               1e3 * (b.comm_seconds - a.comm_seconds) / total,
               (long long)tg_module_n_weights(m));
    if (comm_only) { /* also the per-step status check of the tg_fit hooks */
        MPI_Barrier(MPI_COMM_WORLD);
        t = now_s();
        for (int k = 0; k < 2000; k++)
            CHECK(tg_dist_check(d, TG_OK, NULL));
        double us = (now_s() - t) / 2000 * 1e6;
        if (rank == 0)
            printf("[status check only] %d rank(s): %.1f us per tg_dist_check (4-byte "
                   "MPI_Allreduce)\n", size, us);
    }
    free(rates);
    free(xs);
    free(ys);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_dist_destroy(d);
    tg_ctx_destroy(g_ctx);
    return 0;
}
