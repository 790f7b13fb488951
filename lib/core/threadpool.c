/* SPDX-License-Identifier: MIT */
/* A fork-join pool of n_threads-1 pthreads; the calling thread takes range 0.
 * pthreads rather than OpenMP: no extra runtime in the link line, no global
 * pool shared between contexts (each ctx owns its workers), and the split of
 * work is ours, so results are deterministic for a given thread count.
 *
 * Latency. A training step of a small CNN runs ~10 parallel regions of
 * 20-200 us. Waking a worker sleeping on a condition variable costs 44 us on
 * the (virtualised) dev box, which halved the 2-thread speed, so idle threads
 * first poll the job counter for up to TG_SPIN_US (default 200 us; the
 * environment variable of that name overrides it, 0 = never poll) and only
 * then sleep; the caller likewise polls before it sleeps while waiting for
 * the workers. 200 rather than 50: a step has serial stretches of 50-100 us
 * (loss, optimiser, small layers) that a 50 us poll often did not outlast,
 * and the next parallel region then waited for a wake-up (seed CNN, batch
 * 32, 2 threads, AVX2: 25.6k -> 29.5k samples/s, CPU time per step 2.17 ->
 * 2.11 ms; ResNet-8 unchanged). A sleeping worker is woken only when one is
 * known to sleep (the `sleepers` count is read under the mutex, so no
 * wake-up is lost).
 *
 * Polling only pays when every thread has a core. On an oversubscribed
 * machine a polling thread burns its share of the CPU and then waits a time
 * slice for its turn (measured: 2-thread training 2x slower than with
 * sleeping workers), so polling is off while the 1-minute load average
 * (sampled every TG_LOAD_JOBS jobs) exceeds the online CPUs by 1, or
 * for TG_NOSPIN_JOBS jobs after a thread saw itself preempted (a poll gap
 * or a job's pickup a time slice late, or two late pickups within
 * TG_SLOW_WINDOW jobs: one alone is a host's hiccup). */
#define _DEFAULT_SOURCE /* getloadavg */
#include "tg_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <immintrin.h>
#  define cpu_relax() _mm_pause()
#else
#  define cpu_relax() ((void)0)
#endif

#define TG_SPIN_US_DEFAULT 200
#define TG_PREEMPT_NS 200000u /* a poll gap this long: the thread was preempted */
#define TG_NOSPIN_JOBS 256u   /* jobs without polling after a preemption */
#define TG_LOAD_JOBS 64u      /* jobs between load-average samples */
#define TG_SLOW_PICKUP_NS 30000u /* a polling worker this late had no core */
#define TG_SLOW_WINDOW 32u        /* ... twice within these jobs, or over TG_PREEMPT_NS */
#define TG_NOSPIN_MAX 65536u

struct tg__pool {
    int n;                    /* total threads including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    atomic_uint_fast64_t generation; /* bumped per job (release: job fields below) */
    atomic_int pending;       /* workers still running the job */
    atomic_bool quit;
    atomic_uint_fast64_t nospin_until; /* no polling while generation < this */
    atomic_bool loaded;       /* load average above the CPU count */
    atomic_uint_fast64_t post_ns;   /* when the current job was posted */
    atomic_uint_fast64_t nospin_jobs; /* back-off window, doubled per slow pickup */
    atomic_uint_fast64_t last_slow;   /* generation of the last slow pickup (0: none) */
    uint64_t spin_ns;         /* polling time; 0 = sleep at once */
    double n_cpus;
    int sleepers;             /* workers waiting on work_cv (under mu) */
    bool caller_sleeps;       /* caller waiting on done_cv (under mu) */
    tg__range_fn fn;
    void *arg;
    int64_t total;
};

typedef struct {
    tg__pool *pool;
    int tid;
} worker_arg;

static void range_of(int64_t n, int parts, int i, int64_t *b, int64_t *e)
{
    int64_t q = n / parts, r = n % parts;
    *b = i * q + (i < r ? i : r);
    *e = *b + q + (i < r ? 1 : 0);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool may_spin(tg__pool *pool)
{
    return pool->spin_ns > 0 && !atomic_load_explicit(&pool->loaded, memory_order_relaxed) &&
           atomic_load_explicit(&pool->generation, memory_order_relaxed) >=
               atomic_load_explicit(&pool->nospin_until, memory_order_relaxed);
}

/* Called every 256 polls: false when it is time to stop polling. */
static bool keep_spinning(tg__pool *pool, uint64_t *t0, uint64_t *last)
{
    uint64_t t = mono_ns();
    if (!*t0) {
        *t0 = *last = t;
        return true;
    }
    if (t - *last > TG_PREEMPT_NS) {
        atomic_store_explicit(&pool->nospin_until,
                              atomic_load_explicit(&pool->generation, memory_order_relaxed) +
                                  atomic_load_explicit(&pool->nospin_jobs, memory_order_relaxed),
                              memory_order_relaxed);
        return false;
    }
    *last = t;
    return t - *t0 <= pool->spin_ns;
}

/* Poll until the generation differs from seen (true) or the time is up. */
static bool spin_for_job(tg__pool *pool, uint64_t seen)
{
    uint64_t t0 = 0, last = 0;
    if (!may_spin(pool))
        return atomic_load_explicit(&pool->generation, memory_order_acquire) != seen;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&pool->generation, memory_order_acquire) != seen ||
            atomic_load_explicit(&pool->quit, memory_order_relaxed))
            return true;
        cpu_relax();
        if ((i & 255) == 255 && !keep_spinning(pool, &t0, &last))
            return false;
    }
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    tg__pool *pool = wa->pool;
    int tid = wa->tid;
    uint64_t seen = 0;
    for (;;) {
        bool polled = may_spin(pool);
        if (!spin_for_job(pool, seen)) {
            polled = false;
            pthread_mutex_lock(&pool->mu);
            pool->sleepers++;
            while (!atomic_load(&pool->quit) && atomic_load(&pool->generation) == seen)
                pthread_cond_wait(&pool->work_cv, &pool->mu);
            pool->sleepers--;
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->quit))
            return NULL;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (polled) { /* a polling worker should see a job within a few us */
            uint64_t lat = mono_ns() - atomic_load_explicit(&pool->post_ns, memory_order_relaxed);
            uint64_t w = atomic_load_explicit(&pool->nospin_jobs, memory_order_relaxed);
            if (lat > TG_SLOW_PICKUP_NS) {
                /* A time slice late, or late twice within a few jobs: it had
                 * no core; back off, longer each time. Once 30-150 us late: a
                 * hiccup of the host (a KVM guest saw one every 1000-2000
                 * jobs; backing off for each put a quarter of ResNet-8's jobs
                 * on sleeping threads) */
                uint64_t prev = atomic_exchange_explicit(&pool->last_slow, seen,
                                                         memory_order_relaxed);
                if (lat > TG_PREEMPT_NS || (prev && seen - prev <= TG_SLOW_WINDOW)) {
                    atomic_store_explicit(&pool->nospin_until, seen + w, memory_order_relaxed);
                    if (w < TG_NOSPIN_MAX)
                        atomic_store_explicit(&pool->nospin_jobs, 2 * w, memory_order_relaxed);
                }
            } else if (w > TG_NOSPIN_JOBS) {
                atomic_store_explicit(&pool->nospin_jobs, w / 2, memory_order_relaxed);
            }
        }
        tg__range_fn fn = pool->fn;
        void *arg = pool->arg;
        int64_t total = pool->total;

        int64_t b, e;
        range_of(total, pool->n, tid, &b, &e);
        if (b < e)
            fn(arg, b, e, tid);

        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mu);
            if (pool->caller_sleeps)
                pthread_cond_signal(&pool->done_cv);
            pthread_mutex_unlock(&pool->mu);
        }
    }
}

static uint64_t spin_ns_from_env(void)
{
    const char *env = getenv("TG_SPIN_US");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 0 && v <= 1000000)
            return (uint64_t)v * 1000u;
    }
    return TG_SPIN_US_DEFAULT * 1000u;
}

static void sample_load(tg__pool *pool)
{
    double l;
    if (pool->spin_ns > 0 && getloadavg(&l, 1) == 1)
        atomic_store_explicit(&pool->loaded, l > pool->n_cpus + 1.0, memory_order_relaxed);
}

tg_status tg__pool_create(tg_ctx *ctx, int n_threads, tg__pool **out)
{
    tg__pool *pool = tg__calloc(ctx, 1, sizeof *pool);
    if (!pool)
        return TG_ERR_NOMEM;
    pool->n = n_threads;
    pool->threads = tg__calloc(ctx, (size_t)n_threads, sizeof(pthread_t) + sizeof(worker_arg));
    if (!pool->threads) {
        tg__free(ctx, pool);
        return TG_ERR_NOMEM;
    }
    worker_arg *args = (worker_arg *)(pool->threads + n_threads);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->quit, false);
    atomic_init(&pool->nospin_until, 0);
    atomic_init(&pool->loaded, false);
    atomic_init(&pool->post_ns, 0);
    atomic_init(&pool->nospin_jobs, TG_NOSPIN_JOBS);
    atomic_init(&pool->last_slow, 0);
    pool->spin_ns = spin_ns_from_env();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pool->n_cpus = cpus > 0 ? (double)cpus : 1.0;
    sample_load(pool);
    for (int i = 1; i < n_threads; i++) {
        args[i].pool = pool;
        args[i].tid = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, &args[i]) != 0) {
            pool->n = i; /* join the ones that started */
            tg__pool_destroy(ctx, pool);
            return TG_ERR_NOMEM;
        }
    }
    *out = pool;
    return TG_OK;
}

void tg__pool_destroy(tg_ctx *ctx, tg__pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->quit, true);
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    tg__free(ctx, pool->threads);
    tg__free(ctx, pool);
}

void tg__parallel_for(tg_ctx *ctx, int64_t n, tg__range_fn fn, void *arg)
{
    tg__pool *pool = ctx->pool;
    if (n <= 0)
        return;
    if (!pool || n < 2) {
        fn(arg, 0, n, 0);
        return;
    }
    /* Workers are idle (the previous job finished), so these plain stores
     * are published by the release increment of generation. */
    pool->fn = fn;
    pool->arg = arg;
    pool->total = n;
    atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_relaxed);
    atomic_store_explicit(&pool->post_ns, mono_ns(), memory_order_relaxed);
    uint64_t gen = atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release) + 1;
    pthread_mutex_lock(&pool->mu);
    if (pool->sleepers > 0)
        pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    if (gen % TG_LOAD_JOBS == 0)
        sample_load(pool);

    int64_t b, e;
    range_of(n, pool->n, 0, &b, &e);
    if (b < e)
        fn(arg, b, e, 0);

    uint64_t t0 = 0, last = 0;
    bool spin = may_spin(pool);
    for (unsigned i = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; i++) {
        if (spin) {
            cpu_relax();
            if ((i & 255) != 255 || keep_spinning(pool, &t0, &last))
                continue;
        }
        pthread_mutex_lock(&pool->mu);
        pool->caller_sleeps = true;
        while (atomic_load(&pool->pending) > 0)
            pthread_cond_wait(&pool->done_cv, &pool->mu);
        pool->caller_sleeps = false;
        pthread_mutex_unlock(&pool->mu);
        break;
    }
}

void tg__parallel_for_elems(tg_ctx *ctx, int64_t n, int64_t elems, tg__range_fn fn, void *arg)
{
    if (elems < TG_PAR_MIN_ELEMS) {
        if (n > 0)
            fn(arg, 0, n, 0);
        return;
    }
    tg__parallel_for(ctx, n, fn, arg);
}

int64_t tg__batch_chunks(int64_t n, int64_t c)
{
    c = c < 4 ? 4 : (c + 3) / 4 * 4;
    if (c >= n)
        return n;
    for (int64_t d = c; d >= 4; d -= 4)
        if (n % d == 0)
            return d;
    return c; /* no such divisor (n odd, say): as even as range_of makes them */
}
