/* SPDX-License-Identifier: MIT */
/* libtinygrad benchmark: the same measurements as bench/torch_bench.py
 * (training and inference samples/s of the seed MNIST CNN, LeNet-5 and a
 * 784-1024-1024-10 MLP on random MNIST-shaped data, and of ResNet-8 on
 * random CIFAR-shaped data),
 * plus peak RSS, heap allocations per step, the
 * fraction of the core's measured FMA peak, a full 60k-sample epoch, and
 * (--profile) the time per op and per Conv2d/Linear layer, forward and
 * backward (tg_profiler_*).
 *
 *   bench [--model seed|lenet5|mlp|resnet8] [--threads N] [--batch B] [--mode train|infer]
 *         [--seconds S] [--repeats R] [--steps K] [--epoch] [--profile] [--retain-grads]
 *         [--json]
 *   bench --core-latency
 *   bench --fma-cores [--threads N]
 *   bench --host-gaps [--threads N] [--seconds S]
 *   bench --conv N,C,H,W,O,K,S,P,G [--threads N] [--seconds S] [--json]
 *
 * Training drops intermediate gradients as tg_fit() and PyTorch do
 * (tg_ctx_set_retain_grads); --retain-grads keeps them, as every figure
 * before 2026-12-06 did (ResNet-8's peak RSS about 40% higher).
 *
 * --steps fixes the timed steps per repeat (for perf stat; default: about
 * S seconds' worth). --core-latency prints the round trip of a cache line
 * between threads on the first two CPUs the process may use (the median of
 * 5 runs of 1,000,000) and exits: on one 2-vCPU machine it was 55-60 ns at
 * some times and 310-360 ns at others (the vCPUs then on cores that share
 * no cache), and the seed CNN's two-thread training a quarter slower in the
 * second state. --fma-cores prints the FMA peak of one core and that of N
 * threads running the same loop at once (see fma_cores()). --host-gaps
 * prints the share of S seconds each of N threads, one a CPU, did not run
 * (see host_gaps()).
 *
 * --conv times one convolution layer (input N x C x H x W, O filters of K x K,
 * stride S, padding P, G groups; bias, dilation 1): its forward alone, and
 * the backward of sum(y) (input, weight and bias gradients; the input is
 * x * 1, an op's result as inside a network, whose backward is timed too),
 * each the least time over as many runs as fit in S seconds (at least 5),
 * with the FLOP rate of the direct convolution's 2 * N * O * Ho * Wo * C/G
 * * K * K (twice that backward: input and weight gradients) and its share
 * of the FMA peak (above 100% where Winograd saves products);
 * bench/compare_layers.sh puts PyTorch's beside it.
 *
 * Uses only <tinygrad.h>. */
#define _GNU_SOURCE /* clock_gettime; CPU affinity for --core-latency */
#include <tinygrad.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#  include <sched.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#  include <immintrin.h>
#endif

#define N_DATA 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process (all threads): on a shared machine, less
 * disturbed by other processes than wall time. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(tg_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench: %s failed: %s\n", what, ctx ? tg_ctx_last_error(ctx) : "");
    exit(1);
}

#define CHECK(ctx, call)                                                                       \
    do {                                                                                       \
        if ((call) != TG_OK)                                                                   \
            die((ctx), #call);                                                                 \
    } while (0)

/* ---- models ------------------------------------------------------------- */

typedef struct {
    double fwd_flops; /* multiply-adds x 2 of conv and linear layers, one sample */
    int64_t c, h, w;  /* input sample shape */
} model_info;

static void add(tg_ctx *ctx, tg_module *seq, tg_module *m)
{
    CHECK(ctx, tg_sequential_append(seq, m));
}

static tg_module *conv(tg_ctx *ctx, model_info *mi, int64_t cin, int64_t cout, int k, int pad,
                       int64_t *hw)
{
    tg_module *m;
    CHECK(ctx, tg_conv2d_create(ctx, cin, cout, k, 1, pad, 1, 1, true, &m));
    int64_t o = *hw + 2 * pad - k + 1;
    mi->fwd_flops += 2.0 * (double)(cout * o * o * cin * k * k);
    *hw = o;
    return m;
}

static tg_module *linear(tg_ctx *ctx, model_info *mi, int64_t in, int64_t out)
{
    tg_module *m;
    CHECK(ctx, tg_linear_create(ctx, in, out, true, &m));
    mi->fwd_flops += 2.0 * (double)(in * out);
    return m;
}

static tg_module *relu(tg_ctx *ctx)
{
    tg_module *m;
    CHECK(ctx, tg_relu_create(ctx, &m));
    return m;
}

static tg_module *pool(tg_ctx *ctx, int64_t *hw)
{
    tg_module *m;
    CHECK(ctx, tg_maxpool2d_create(ctx, 2, 2, 0, &m));
    *hw /= 2;
    return m;
}

static tg_module *flatten(tg_ctx *ctx)
{
    tg_module *m;
    CHECK(ctx, tg_flatten_create(ctx, &m));
    return m;
}

/* ---- ResNet-8 (CIFAR shape) -------------------------------------------------
 * The library's tg_nn_resnet_cifar, depth 8: stem conv3x3 3->16 + BN + ReLU,
 * one BasicBlock (conv3x3-BN-ReLU-conv3x3-BN + identity or 1x1conv-BN
 * shortcut, add, ReLU) per stage of 16/32/64 channels, stride 2 at stages 2
 * and 3, global average pool, Linear 64->10. Convolutions without bias, as
 * in torchvision; 78,042 weights. bench/torch_bench.py builds the same net.
 * (Before 2026-12-02 the network around the blocks was a custom module here;
 * using the built-in one lets its no-grad forward run tiled.) */

/* FLOPs of a convolution of side *hw, which it updates to the output side. */
static void conv_flops(model_info *mi, int64_t cin, int64_t cout, int k, int stride, int64_t *hw)
{
    int pad = k / 2;
    int64_t o = (*hw + 2 * pad - k) / stride + 1;
    mi->fwd_flops += 2.0 * (double)(cout * o * o * cin * k * k);
    *hw = o;
}

static tg_module *resnet8(tg_ctx *ctx, model_info *mi)
{
    tg_resnet_cifar_options o;
    tg_resnet_cifar_options_init(&o, 8);
    tg_module *m;
    CHECK(ctx, tg_nn_resnet_cifar(ctx, &o, &m));
    int64_t hw = 32, cin = 16;
    conv_flops(mi, 3, 16, 3, 1, &hw); /* stem */
    const int64_t widths[3] = {16, 32, 64};
    for (int i = 0; i < 3; i++) {
        int stride = i == 0 ? 1 : 2;
        int64_t hws = hw;
        conv_flops(mi, cin, widths[i], 3, stride, &hw);
        conv_flops(mi, widths[i], widths[i], 3, 1, &hw);
        if (stride != 1 || cin != widths[i]) /* 1x1 shortcut */
            conv_flops(mi, cin, widths[i], 1, stride, &hws);
        cin = widths[i];
    }
    mi->fwd_flops += 2.0 * (double)(cin * 10); /* fc */
    mi->c = 3, mi->h = mi->w = 32;
    return m;
}

static tg_module *build(tg_ctx *ctx, const char *name, model_info *mi)
{
    tg_module *s;
    int64_t hw = 28;
    mi->c = 1, mi->h = mi->w = 28;
    if (strcmp(name, "resnet8") == 0)
        return resnet8(ctx, mi);
    CHECK(ctx, tg_sequential_create(ctx, &s));
    if (strcmp(name, "seed") == 0) {
        add(ctx, s, conv(ctx, mi, 1, 3, 3, 1, &hw));
        add(ctx, s, relu(ctx));
        add(ctx, s, conv(ctx, mi, 3, 6, 3, 1, &hw));
        add(ctx, s, relu(ctx));
        add(ctx, s, conv(ctx, mi, 6, 9, 3, 1, &hw));
        add(ctx, s, relu(ctx));
        add(ctx, s, pool(ctx, &hw));
        add(ctx, s, flatten(ctx));
        add(ctx, s, linear(ctx, mi, 9 * hw * hw, 10));
    } else if (strcmp(name, "lenet5") == 0) {
        add(ctx, s, conv(ctx, mi, 1, 6, 5, 2, &hw));
        add(ctx, s, relu(ctx));
        add(ctx, s, pool(ctx, &hw));
        add(ctx, s, conv(ctx, mi, 6, 16, 5, 0, &hw));
        add(ctx, s, relu(ctx));
        add(ctx, s, pool(ctx, &hw));
        add(ctx, s, flatten(ctx));
        add(ctx, s, linear(ctx, mi, 16 * hw * hw, 120));
        add(ctx, s, relu(ctx));
        add(ctx, s, linear(ctx, mi, 120, 84));
        add(ctx, s, relu(ctx));
        add(ctx, s, linear(ctx, mi, 84, 10));
    } else if (strcmp(name, "mlp") == 0) { /* wide linear layers (tables, embeddings) */
        add(ctx, s, flatten(ctx));
        add(ctx, s, linear(ctx, mi, 784, 1024));
        add(ctx, s, relu(ctx));
        add(ctx, s, linear(ctx, mi, 1024, 1024));
        add(ctx, s, relu(ctx));
        add(ctx, s, linear(ctx, mi, 1024, 10));
    } else {
        fprintf(stderr, "bench: unknown model '%s' (seed, lenet5, mlp, resnet8)\n", name);
        exit(2);
    }
    return s;
}

/* ---- FMA peak of one core --------------------------------------------------- */

#if defined(__x86_64__) && defined(__GNUC__)
/* 16 independent FMA chains of 16 floats (more than latency x ports), in
 * named variables: with an array gcc interchanged the loops and streamed the
 * accumulators through memory, which measured half the peak. */
__attribute__((target("avx512f"))) static double fma_peak_avx512(void)
{
    const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    __m512 c0 = _mm512_set1_ps(0), c1 = _mm512_set1_ps(1), c2 = _mm512_set1_ps(2),
           c3 = _mm512_set1_ps(3), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5),
           c6 = _mm512_set1_ps(6), c7 = _mm512_set1_ps(7), c8 = _mm512_set1_ps(8),
           c9 = _mm512_set1_ps(9), c10 = _mm512_set1_ps(10), c11 = _mm512_set1_ps(11),
           c12 = _mm512_set1_ps(12), c13 = _mm512_set1_ps(13), c14 = _mm512_set1_ps(14),
           c15 = _mm512_set1_ps(15);
    const long iters = 4000000;
    double t = now_s();
    for (long it = 0; it < iters; it++) {
#define F(c) c = _mm512_fmadd_ps(c, m, a)
        F(c0), F(c1), F(c2), F(c3), F(c4), F(c5), F(c6), F(c7);
        F(c8), F(c9), F(c10), F(c11), F(c12), F(c13), F(c14), F(c15);
#undef F
    }
    t = now_s() - t;
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), c10),
                                       _mm512_add_ps(_mm512_add_ps(c11, c12),
                                                     _mm512_add_ps(_mm512_add_ps(c13, c14),
                                                                   c15))));
    if (_mm512_reduce_add_ps(s) == 12345.0f) /* keep the result alive */
        puts("");
    return (double)iters * 16 * 16 * 2 / t;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* The AVX2 path: 12 independent chains of 8 floats (2 FMA ports x 4-5
 * cycles latency on Zen 3 / Zen 5 / Intel cores; 12 of the 16 ymm
 * registers). */
__attribute__((target("avx2,fma"))) static double fma_peak_avx2(void)
{
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(0), c1 = _mm256_set1_ps(1), c2 = _mm256_set1_ps(2),
           c3 = _mm256_set1_ps(3), c4 = _mm256_set1_ps(4), c5 = _mm256_set1_ps(5),
           c6 = _mm256_set1_ps(6), c7 = _mm256_set1_ps(7), c8 = _mm256_set1_ps(8),
           c9 = _mm256_set1_ps(9), c10 = _mm256_set1_ps(10), c11 = _mm256_set1_ps(11);
    const long iters = 6000000;
    double t = now_s();
    for (long it = 0; it < iters; it++) {
#define F(c) c = _mm256_fmadd_ps(c, m, a)
        F(c0), F(c1), F(c2), F(c3), F(c4), F(c5), F(c6), F(c7), F(c8), F(c9), F(c10), F(c11);
#undef F
    }
    t = now_s() - t;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    if (lanes[0] + lanes[7] == 12345.0f) /* keep the result alive */
        puts("");
    return (double)iters * 12 * 8 * 2 / t;
}
#endif

/* The SIMD path the library dispatches to, by the same rule as
 * lib/kernels/cpu.c (the highest the CPU runs, capped by $TG_CPU); the
 * library has no public call for it. */
static const char *simd_path(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const char *env = getenv("TG_CPU");
    int cap = 2;
    if (env && strcmp(env, "generic") == 0)
        cap = 0;
    else if (env && strcmp(env, "avx2") == 0)
        cap = 1;
    __builtin_cpu_init();
    if (cap >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return "avx512";
    if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "avx2";
#endif
    return "generic";
}

/* One measurement of the FMA loop of the path; 0 for the plain C path. */
static double fma_rate(const char *path)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return strcmp(path, "avx512") == 0 ? fma_peak_avx512()
           : strcmp(path, "avx2") == 0 ? fma_peak_avx2()
                                       : 0;
#else
    (void)path;
    return 0;
#endif
}

/* FMA peak of one core on the dispatched path (best of 3); 0 = unknown (the
 * plain C path: % of peak is not reported). */
static double fma_peak(const char *path)
{
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double p = fma_rate(path);
        best = p > best ? p : best;
    }
    return best;
}

/* ---- FMA peak of all cores at once ------------------------------------------ */

/* --fma-cores: the FMA loop on N threads at once against one thread alone
 * (best of 3 rounds, the threads' rates added). About N where each thread
 * has a core's FMA units to itself; less where two vCPUs are hardware
 * threads of one core, or the host runs something else on one, which
 * steal time does not show. On the Zen 5 of docs/performance.md it stayed
 * at 1.97-2.02 for two threads, also while the seed CNN's two-thread
 * training ran a sixth slower than at other times: that slowdown is not
 * the FMA units'. Threads are not pinned: the scheduler spreads them over
 * the CPUs, as it does the pool's. */
typedef struct {
    const char *path;
    pthread_barrier_t *start;
    double rate[3];
} fma_thread;

static void *fma_thread_main(void *arg)
{
    fma_thread *f = arg;
    for (int r = 0; r < 3; r++) {
        pthread_barrier_wait(f->start);
        f->rate[r] = fma_rate(f->path);
    }
    return NULL;
}

static int fma_cores(const char *path, int threads)
{
    double one = fma_peak(path), all = 0;
    if (one <= 0 || threads < 1 || threads > 256) {
        fprintf(stderr, "bench: --fma-cores needs the AVX2 or AVX-512 path and 1-256 threads\n");
        return 2;
    }
    fma_thread f[256];
    pthread_t t[256];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    int started = 1;
    for (int i = 0; i < threads; i++)
        f[i] = (fma_thread){path, &start, {0}};
    for (int i = 1; i < threads && started == i; i++)
        if (pthread_create(&t[i], NULL, fma_thread_main, &f[i]) == 0)
            started++;
    if (started < threads) { /* the others wait at the barrier for ever */
        fprintf(stderr, "bench: --fma-cores: pthread_create failed\n");
        exit(1);
    }
    fma_thread_main(&f[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int r = 0; r < 3; r++) { /* the best round: all threads' rates added */
        double s = 0;
        for (int i = 0; i < threads; i++)
            s += f[i].rate[r];
        all = s > all ? s : all;
    }
    printf("fma_one_core_gflops=%.1f fma_%d_threads_gflops=%.1f ratio=%.2f\n", one * 1e-9,
           threads, all * 1e-9, all / one);
    return 0;
}

/* ---- timing ------------------------------------------------------------------ */

typedef struct {
    tg_ctx *ctx;
    tg_module *model;
    tg_optim *opt;
    const float *xs;
    const int32_t *ys;
    int64_t batch, n_data;
    int64_t c, h, w; /* sample shape */
    bool train;
} runner;

static void step(runner *r, long i)
{
    int64_t nb = r->n_data / r->batch, j = (i % nb) * r->batch, sz = r->c * r->h * r->w;
    const int64_t shape[4] = {r->batch, r->c, r->h, r->w};
    tg_ctx *ctx = r->ctx;
    tg_tensor *x = tg_from_data(ctx, 4, shape, r->xs + j * sz, (size_t)(r->batch * sz));
    tg_tensor *logits = tg_module_forward(r->model, x);
    if (r->train) {
        tg_tensor *loss = tg_cross_entropy(ctx, logits, r->ys + j, (size_t)r->batch,
                                           TG_REDUCTION_MEAN);
        tg_optim_zero_grad(r->opt);
        CHECK(ctx, tg_backward(ctx, loss));
        CHECK(ctx, tg_optim_step(r->opt));
    } else if (!logits) {
        die(ctx, "forward");
    }
    tg_ctx_reset(ctx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- core-to-core latency ---------------------------------------------------- */

#define PP_TRIPS 1000000

static _Alignas(64) atomic_long pp_flag; /* odd: the main thread's turn is over */

#ifdef __linux__
/* The n-th CPU the process may run on, -1 if none. */
static int nth_cpu(int n)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set) && n-- == 0)
            return c;
    return -1;
}

static void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
#endif

static void *pp_echo(void *arg)
{
#ifdef __linux__
    if (*(const int *)arg >= 0)
        pin_to(*(const int *)arg);
#else
    (void)arg;
#endif
    for (long i = 0; i < PP_TRIPS; i++) {
        while (atomic_load_explicit(&pp_flag, memory_order_acquire) != 2 * i + 1)
            ;
        atomic_store_explicit(&pp_flag, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

/* ns per round trip of pp_flag between threads on the first two CPUs the
 * process may use (unpinned, readings of one machine varied 4x); -1 with
 * one CPU (each trip would be a context switch) or no thread. */
static double round_trip_ns(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return -1;
    int cpu[2] = {-1, -1};
#ifdef __linux__
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0)
        return -1;
    cpu[0] = nth_cpu(0), cpu[1] = nth_cpu(1);
    if (cpu[1] < 0)
        return -1;
    pin_to(cpu[0]);
#endif
    atomic_store(&pp_flag, 0);
    pthread_t t;
    double ns = -1;
    if (pthread_create(&t, NULL, pp_echo, &cpu[1]) == 0) {
        double t0 = now_s();
        for (long i = 0; i < PP_TRIPS; i++) {
            atomic_store_explicit(&pp_flag, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&pp_flag, memory_order_acquire) != 2 * i + 2)
                ;
        }
        ns = (now_s() - t0) * 1e9 / PP_TRIPS;
        pthread_join(t, NULL);
    }
#ifdef __linux__
    pthread_setaffinity_np(pthread_self(), sizeof mine, &mine);
#endif
    return ns;
}

static int core_latency(void)
{
    double r[5];
    for (int k = 0; k < 5; k++)
        r[k] = round_trip_ns();
    qsort(r, 5, sizeof *r, cmp_double);
    printf("core_round_trip_ns=%.0f\n", r[2]);
    return 0;
}

/* ---- time the host takes from the vCPUs -------------------------------------- */

/* Each of N threads, pinned to the process's first N CPUs, reads the clock
 * in a loop for S seconds; a gap of 10 us or more between two readings is
 * time the thread did not run (the host ran something else on its CPU, or
 * the guest's kernel did). On a KVM guest whose steal time read 0.0-0.1%
 * each vCPU lost 1-3% of its time this way, in 400-1,000 gaps a second of
 * 10-50 us and a few of 1-8 ms; a two-thread step waits at every join for
 * the thread that lost the time, so the figures show the host as much as
 * the code when this is high. */
#define GAP_S 10e-6

typedef struct {
    int cpu;
    double seconds;
    double lost_s, max_s;
    long gaps;
} gap_arg;

static void *gap_probe(void *p)
{
    gap_arg *a = p;
#ifdef __linux__
    if (a->cpu >= 0)
        pin_to(a->cpu);
#endif
    const double t0 = now_s(), end = t0 + a->seconds;
    for (double last = t0;;) {
        const double t = now_s(), gap = t - last;
        last = t;
        if (gap >= GAP_S) {
            a->lost_s += gap;
            a->gaps++;
            if (gap > a->max_s)
                a->max_s = gap;
        }
        if (t >= end)
            return NULL;
    }
}

static int host_gaps(int threads, double seconds)
{
    if (threads < 1 || threads > 256 || !(seconds > 0 && seconds <= 60)) {
        fprintf(stderr, "bench: --host-gaps needs 1-256 threads and 0-60 seconds\n");
        return 2;
    }
    gap_arg a[256];
    pthread_t t[256];
    for (int i = 0; i < threads; i++) {
        a[i] = (gap_arg){-1, seconds, 0, 0, 0};
#ifdef __linux__
        a[i].cpu = nth_cpu(i);
#endif
        if (pthread_create(&t[i], NULL, gap_probe, &a[i]) != 0) {
            fprintf(stderr, "bench: --host-gaps: pthread_create failed\n");
            for (int k = 0; k < i; k++)
                pthread_join(t[k], NULL);
            return 1;
        }
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < threads; i++)
        printf("%sthread%d_cpu=%d lost_pct=%.2f gaps_per_s=%.0f max_gap_us=%.0f", i ? " " : "",
               i, a[i].cpu, 100 * a[i].lost_s / seconds, a[i].gaps / seconds, a[i].max_s * 1e6);
    printf("\n");
    return 0;
}

static tg_ctx *make_ctx(int threads)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = threads;
    o.seed = 1;
    tg_ctx *ctx;
    if (tg_ctx_create(&o, &ctx) != TG_OK)
        die(NULL, "tg_ctx_create");
    return ctx;
}

/* --conv: one layer's forward and backward times (see the header). */
static int conv_layer(const char *spec, int threads, double seconds, bool json)
{
    long long v[9];
    if (sscanf(spec, "%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7], &v[8]) != 9 || v[0] < 1 || v[8] < 1 ||
        v[1] % v[8] != 0 || v[4] % v[8] != 0) {
        fprintf(stderr, "bench: --conv wants N,C,H,W,O,K,S,P,G (C and O multiples of G)\n");
        return 2;
    }
    const int64_t N = v[0], C = v[1], H = v[2], W = v[3], O = v[4], K = v[5];
    const int S = (int)v[6], P = (int)v[7], G = (int)v[8];
    tg_ctx *ctx = make_ctx(threads);
    tg_ctx_set_retain_grads(ctx, false);
    tg_tensor *x, *w, *b;
    CHECK(ctx, tg_tensor_create(ctx, 4, (int64_t[]){N, C, H, W}, &x));
    CHECK(ctx, tg_tensor_create(ctx, 4, (int64_t[]){O, C / G, K, K}, &w));
    CHECK(ctx, tg_tensor_create(ctx, 1, (int64_t[]){O}, &b));
    tg_tensor *ts[3] = {x, w, b};
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (int t = 0; t < 3; t++) {
        float *d = tg_tensor_data(ts[t]);
        for (int64_t i = 0; i < tg_tensor_numel(ts[t]); i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            d[i] = ((float)(r >> 40) / 16777216.0f - 0.5f) * (t == 1 ? 0.2f : 1.0f);
        }
        CHECK(ctx, tg_tensor_set_requires_grad(ts[t], true));
    }
    double tf = 1e30, tb = 1e30, t_end = now_s() + seconds;
    for (int k = 0; k < 5 || now_s() < t_end; k++) {
        /* x * 1: the layer's input is an op's result, as inside a network
         * (its gradient is stored, not added to a leaf's) */
        tg_tensor *xi = tg_mul_scalar(ctx, x, 1.0f);
        double t0 = now_s();
        tg_tensor *y = tg_conv2d(ctx, xi, w, b, S, P, 1, G);
        double t1 = now_s();
        if (!y)
            die(ctx, "tg_conv2d");
        tg_tensor *loss = tg_sum_all(ctx, y);
        double t2 = now_s();
        CHECK(ctx, tg_backward(ctx, loss));
        double t3 = now_s();
        tf = t1 - t0 < tf ? t1 - t0 : tf;
        tb = t3 - t2 < tb ? t3 - t2 : tb;
        tg_tensor_zero_grad(x), tg_tensor_zero_grad(w), tg_tensor_zero_grad(b);
        tg_ctx_reset(ctx);
    }
    const int64_t Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    const double flops = 2.0 * (double)(N * O * Ho * Wo * (C / G) * K * K);
    const char *path = simd_path();
    const double peak = fma_peak(path) * threads;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (json)
        printf("{\"impl\": \"libtinygrad-%s\", \"conv\": \"%s\", \"threads\": %d, "
               "\"forward_us\": %.1f, \"backward_us\": %.1f, \"gflops_fwd\": %.2f, "
               "\"gflops_bwd\": %.2f, \"pct_of_peak_fwd\": %.1f, \"pct_of_peak_bwd\": %.1f, "
               "\"simd\": \"%s\", \"peak_rss_kb\": %ld}\n",
               tg_version_string(), spec, threads, tf * 1e6, tb * 1e6, flops / tf * 1e-9,
               2 * flops / tb * 1e-9, peak > 0 ? 100 * flops / tf / peak : -1,
               peak > 0 ? 100 * 2 * flops / tb / peak : -1, path, ru.ru_maxrss);
    else
        printf("conv %s threads %d: forward %.0f us (%.1f GFLOP/s, %.0f%% of peak), backward "
               "%.0f us (%.1f GFLOP/s, %.0f%%), %s path\n",
               spec, threads, tf * 1e6, flops / tf * 1e-9,
               peak > 0 ? 100 * flops / tf / peak : -1, tb * 1e6, 2 * flops / tb * 1e-9,
               peak > 0 ? 100 * 2 * flops / tb / peak : -1, path);
    tg_ctx_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_name = "seed", *mode = "train";
    int threads = 1, repeats = 5;
    long fixed_steps = 0; /* --steps: timed steps per repeat, no calibration */
    int64_t batch = 32;
    double seconds = 1.0;
    bool json = false, profile = false, epoch = false, retain = false, fma_cores_mode = false;
    bool gaps_mode = false;
    const char *conv_spec = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--model") == 0 && v)
            model_name = argv[++i];
        else if (strcmp(a, "--threads") == 0 && v)
            threads = atoi(argv[++i]);
        else if (strcmp(a, "--batch") == 0 && v)
            batch = atoll(argv[++i]);
        else if (strcmp(a, "--mode") == 0 && v)
            mode = argv[++i];
        else if (strcmp(a, "--seconds") == 0 && v)
            seconds = atof(argv[++i]);
        else if (strcmp(a, "--repeats") == 0 && v)
            repeats = atoi(argv[++i]);
        else if (strcmp(a, "--steps") == 0 && v)
            fixed_steps = atol(argv[++i]);
        else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--core-latency") == 0)
            return core_latency();
        else if (strcmp(a, "--fma-cores") == 0)
            fma_cores_mode = true;
        else if (strcmp(a, "--host-gaps") == 0)
            gaps_mode = true;
        else if (strcmp(a, "--profile") == 0)
            profile = true;
        else if (strcmp(a, "--epoch") == 0)
            epoch = true;
        else if (strcmp(a, "--retain-grads") == 0)
            retain = true;
        else if (strcmp(a, "--conv") == 0 && v)
            conv_spec = argv[++i];
        else {
            fprintf(stderr,
                    "usage: bench [--model seed|lenet5|mlp|resnet8] [--threads N] [--batch B] "
                    "[--mode train|infer] [--seconds S] [--repeats R] [--steps K] [--epoch] [--profile] "
                    "[--retain-grads] [--json]\n       bench --core-latency\n"
                    "       bench --fma-cores [--threads N]\n"
                    "       bench --host-gaps [--threads N] [--seconds S]\n"
                    "       bench --conv N,C,H,W,O,K,S,P,G [--threads N] [--seconds S] "
                    "[--json]\n");
            return 2;
        }
    }
    if (fma_cores_mode)
        return fma_cores(simd_path(), threads);
    if (gaps_mode)
        return host_gaps(threads, seconds);
    if (conv_spec)
        return threads < 1 ? 2 : conv_layer(conv_spec, threads, seconds, json);
    /* 4096 MNIST-shaped samples (as torch_bench.py), 1024 CIFAR-shaped ones */
    const int64_t n_data = strcmp(model_name, "resnet8") == 0 ? 1024 : N_DATA;
    if (threads < 1 || batch < 1 || batch > n_data || repeats < 1 ||
        (strcmp(mode, "train") != 0 && strcmp(mode, "infer") != 0)) {
        fprintf(stderr, "bench: bad arguments\n");
        return 2;
    }

    tg_ctx *ctx = make_ctx(threads);
    model_info mi = {0};
    tg_module *model = build(ctx, model_name, &mi);
    tg_optim *opt = NULL;
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.lr = 0.01f;
    CHECK(ctx, tg_sgd_create(ctx, model, &so, &opt));

    /* Random data of the model's input shape, fixed seed. */
    const int64_t sample = mi.c * mi.h * mi.w;
    float *xs = malloc(sizeof(float) * (size_t)(n_data * sample));
    int32_t *ys = malloc(sizeof(int32_t) * (size_t)n_data);
    if (!xs || !ys)
        die(NULL, "malloc");
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < (size_t)(n_data * sample); i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        xs[i] = (float)(s >> 40) / 16777216.0f;
    }
    for (int64_t i = 0; i < n_data; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        ys[i] = (int32_t)(s % 10);
    }

    bool train = strcmp(mode, "train") == 0;
    runner r = {ctx, model, opt, xs, ys, batch, n_data, mi.c, mi.h, mi.w, train};
    tg_module_train(model, train);
    tg_ctx_set_grad_enabled(ctx, train);
    tg_ctx_set_retain_grads(ctx, retain);

    long i = 0;
    for (; i < 20; i++) /* warm-up: arena, scratch, optimiser state */
        step(&r, i);
    double t = now_s();
    long n = 0;
    while (fixed_steps <= 0 && now_s() - t < 0.2)
        step(&r, i++), n++;
    long steps = fixed_steps > 0 ? fixed_steps : (long)((double)n * seconds / (now_s() - t));
    if (steps < 5)
        steps = 5;
    if (fixed_steps > 0)
        steps = fixed_steps;

    tg_mem_stats ms0, ms1;
    tg_ctx_mem_stats(ctx, &ms0);
    double *rates = malloc(sizeof(double) * (size_t)repeats);
    double cpu_best = 0; /* least CPU ms per step over the repeats */
    for (int rep = 0; rep < repeats; rep++) {
        t = now_s();
        double c = cpu_s();
        for (long k = 0; k < steps; k++)
            step(&r, i++);
        rates[rep] = (double)(steps * batch) / (now_s() - t);
        c = (cpu_s() - c) * 1e3 / (double)steps;
        if (rep == 0 || c < cpu_best)
            cpu_best = c;
    }
    tg_ctx_mem_stats(ctx, &ms1);
    double allocs_per_step = (double)(ms1.n_allocs - ms0.n_allocs) / (double)(steps * repeats);
    double *sorted = malloc(sizeof(double) * (size_t)repeats);
    memcpy(sorted, rates, sizeof(double) * (size_t)repeats);
    qsort(sorted, (size_t)repeats, sizeof(double), cmp_double);
    double median = sorted[repeats / 2];

    double epoch_s = 0;
    if (epoch) { /* 60000 samples in steps of batch (the last one short) */
        t = now_s();
        for (int64_t done = 0; done < 60000; done += batch)
            step(&r, i++);
        epoch_s = now_s() - t;
    }

    const char *path = simd_path();
    double peak = fma_peak(path); /* one core, FLOP/s */
    /* Training = forward + backward data + backward weights: 3x forward. */
    double flops = mi.fwd_flops * (train ? 3.0 : 1.0);
    double pct = peak > 0 ? 100.0 * flops * median / (peak * threads) : -1;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    if (json) {
        printf("{\"impl\": \"libtinygrad-%s\", \"model\": \"%s\", \"mode\": \"%s\", "
               "\"threads\": %d, \"batch\": %lld, \"samples_per_s\": %.1f, \"runs\": [",
               tg_version_string(), model_name, mode, threads, (long long)batch, median);
        for (int k = 0; k < repeats; k++)
            printf("%s%.1f", k ? ", " : "", rates[k]);
        printf("], \"peak_rss_kb\": %ld, \"allocs_per_step\": %.3f, \"mflop_per_sample\": %.4f, "
               "\"simd\": \"%s\", \"core_peak_gflops\": %.1f, \"pct_of_peak\": %.2f, "
               "\"cpu_ms_per_step\": %.3f",
               ru.ru_maxrss, allocs_per_step, flops * 1e-6, path, peak * 1e-9, pct, cpu_best);
        if (epoch)
            printf(", \"epoch_60k_s\": %.3f", epoch_s);
        printf("}\n");
    } else {
        printf("%-7s %-5s threads %d batch %4lld: %10.0f samples/s (peak RSS %ld KiB, %.2f "
               "allocs/step, %.2f MFLOP/sample, %.2f CPU ms/step, ",
               model_name, mode, threads, (long long)batch, median, ru.ru_maxrss,
               allocs_per_step, flops * 1e-6, cpu_best);
        if (peak > 0)
            printf("%.1f%% of %d x %.0f GFLOP/s %s FMA peak)\n", pct, threads, peak * 1e-9,
                   path);
        else
            printf("%s path, FMA peak not measured)\n", path);
        if (epoch)
            printf("60k-sample epoch: %.3f s\n", epoch_s);
    }

    if (profile) {
        long psteps = steps;
        if (tg_profiler_enable(ctx, true) != TG_OK)
            return 1;
        t = now_s();
        for (long k = 0; k < psteps; k++)
            step(&r, i++);
        double total = (now_s() - t) / (double)psteps * 1e6;
        if (tg_profiler_enable(ctx, false) != TG_OK) /* closes the last forward interval */
            return 1;
        double sum = 0;
        printf("\nper-step profile (%ld steps, us/step; forward = op result to next op)\n",
               psteps);
        printf("%-22s %10s %10s %8s\n", "op", "forward", "backward", "calls");
        for (size_t k = 0; k < tg_profiler_n_rows(ctx); k++) {
            tg_profile_row e;
            if (tg_profiler_row(ctx, k, &e) != TG_OK || e.module_type)
                continue; /* module rows overlap the ops */
            double f = e.forward_ms * 1e3 / (double)psteps;
            double b = e.backward_ms * 1e3 / (double)psteps;
            sum += f + b;
            printf("%-22s %10.1f %10.1f %8.1f\n", e.name, f, b,
                   (double)e.forward_calls / (double)psteps);
        }
        printf("%-22s %10.1f\n", "other", total - sum);
        printf("%-22s %10.1f\n", "total", total);
        /* Leaf layers with weights, one line per call site: where the conv
         * time goes layer by layer (the op rows above sum all of them). A
         * Conv2d that Sequential runs fused with the next ReLU is not called
         * as a module, so it has no line (the seed CNN and LeNet-5). */
        printf("\n%-24s %-8s %10s %10s\n", "layer", "type", "forward", "backward");
        for (size_t k = 0; k < tg_profiler_n_rows(ctx); k++) {
            tg_profile_row e;
            if (tg_profiler_row(ctx, k, &e) != TG_OK || !e.module_type ||
                (strcmp(e.module_type, "Conv2d") != 0 && strcmp(e.module_type, "Linear") != 0))
                continue;
            printf("%-24s %-8s %10.1f %10.1f\n", e.name, e.module_type,
                   e.forward_ms * 1e3 / (double)psteps, e.backward_ms * 1e3 / (double)psteps);
        }
        tg_profiler_reset(ctx);
    }

    free(rates);
    free(sorted);
    free(xs);
    free(ys);
    tg_optim_destroy(opt);
    tg_module_destroy(model);
    tg_ctx_destroy(ctx);
    return 0;
}
