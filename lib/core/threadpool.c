/* SPDX-License-Identifier: MIT */
/* A fork-join pool of n_threads-1 pthreads; the calling thread takes part too.
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
 * TG_SLOW_WINDOW jobs: one alone is a host's hiccup).
 *
 * Parts. A job is cut into TG_PARTS_PER_THREAD parts per thread; each
 * thread runs its own parts in order (the same samples every job, so each
 * core keeps its data in cache from layer to layer) and then takes the
 * unstarted parts of the others from their ends. With one fixed half each,
 * a step ran at the pace of the slower vCPU: when the host slowed one, the
 * seed CNN's two threads fell below one thread's speed (44-48k samples/s
 * against 47k), and a worker that woke late held the caller up for the whole
 * of its half. A thread's parts fall in size (part_range), so the last,
 * which a thief takes, is short: the seed CNN's two threads (AVX2 kernels)
 * spent 3.7-4.1% of their CPU time waiting at joins, against 5.7-7.2%
 * with equal parts. The cut depends on n and the thread count only, and
 * which thread runs a part never changes its results. */
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

/* Thread t's unstarted parts of job gen, [lo, hi): gen << 32 | lo << 16 | hi.
 * One cache line each, so a thread claims its own parts without bouncing a
 * line that the other threads write. */
typedef struct {
    _Alignas(64) atomic_uint_fast64_t w;
} tg__pool_slot;
_Static_assert(TG_MAX_THREADS * TG_PARTS_PER_THREAD <= 0xffff,
               "a job's parts must fit a slot's 16-bit fields");

struct tg__pool {
    int n;                    /* total threads including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    atomic_uint_fast64_t generation; /* bumped per job (release: job fields below) */
    tg__pool_slot *slots;     /* per thread: its parts not yet started */
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
    int parts;                /* the job's parts (TG_PARTS_PER_THREAD a thread, or 1) */
    /* Parts of the job finished, added once per thread per job. On a line
     * of its own: the polling workers read the fields above, and a
     * counter on their line took it away from them at every part. */
    _Alignas(64) atomic_int done;
    char done_pad[64 - sizeof(atomic_int)];
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

/* Claims a part of job gen from a thread's slot: its first unstarted one
 * (own: the owner walks its parts in order) or its last (a thief). */
static bool claim_part(tg__pool_slot *slot, uint32_t gen, bool own, int *part)
{
    uint64_t w = atomic_load_explicit(&slot->w, memory_order_acquire);
    for (;;) {
        unsigned lo = (w >> 16) & 0xffff, hi = w & 0xffff;
        if ((uint32_t)(w >> 32) != gen || lo >= hi)
            return false;
        uint64_t nw = own ? w + (1u << 16) : w - 1;
        if (atomic_compare_exchange_weak_explicit(&slot->w, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *part = (int)(own ? lo : hi - 1);
            return true;
        }
    }
}

static void signal_caller(tg__pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    if (pool->caller_sleeps)
        pthread_cond_signal(&pool->done_cv);
    pthread_mutex_unlock(&pool->mu);
}

/* Part i of a job of n units in parts: with TG_PARTS_PER_THREAD parts a
 * thread, thread t's share (range_of over the threads) cut into parts of
 * falling size, 4 : 3 : 2 : 1 (16 samples: 6, 5, 3, 2). The owner runs
 * them in order and thieves take the last, the smallest: at the end a
 * thread waits for at most a small part. Else (fewer parts) even parts. */
static void part_range(int64_t n, int parts, int nthreads, int i, int64_t *b, int64_t *e)
{
    const int per = TG_PARTS_PER_THREAD;
    if (parts != nthreads * per) {
        range_of(n, parts, i, b, e);
        return;
    }
    int64_t s0, s1;
    range_of(n, nthreads, i / per, &s0, &s1);
    const int k = i % per, tot = per * (per + 1) / 2;
    /* parts before k weigh per + (per - 1) + ... + (per - k + 1) */
    const int64_t w0 = (int64_t)k * per - (int64_t)k * (k - 1) / 2, w1 = w0 + per - k;
    *b = s0 + (s1 - s0) * w0 / tot;
    *e = s0 + (s1 - s0) * w1 / tot;
}

/* Runs a claimed part; returns the job's part count (read while the part
 * is claimed, so the job's fields are this job's). */
static int run_part(tg__pool *pool, int part, int tid)
{
    const int parts = pool->parts;
    int64_t b, e;
    part_range(pool->total, parts, pool->n, part, &b, &e);
    if (b < e)
        pool->fn(pool->arg, b, e, tid);
    return parts;
}

/* Runs thread tid's own parts of job gen, then takes the others' unstarted
 * ones from their ends, and counts them done once all are run (one
 * cross-core transfer of the counter per thread, not one per part; nothing
 * waits on a single part). The fields of the job stay valid while a part
 * is claimed: the caller returns only once every part is done. */
static void run_parts(tg__pool *pool, uint32_t gen, int tid)
{
    int part, ran = 0, parts = 0;
    for (; claim_part(&pool->slots[tid], gen, true, &part); ran++)
        parts = run_part(pool, part, tid);
    for (int i = 1; i < pool->n; i++) {
        int v = (tid + i) % pool->n;
        for (; claim_part(&pool->slots[v], gen, false, &part); ran++)
            parts = run_part(pool, part, tid);
    }
    if (ran && atomic_fetch_add_explicit(&pool->done, ran, memory_order_acq_rel) + ran == parts &&
        tid)
        signal_caller(pool);
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
        run_parts(pool, (uint32_t)seen, tid);
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
    tg__pool *pool = tg__malloc_aligned(ctx, sizeof *pool); /* done's alignment */
    if (!pool)
        return TG_ERR_NOMEM;
    memset(pool, 0, sizeof *pool);
    pool->n = n_threads;
    pool->threads = tg__calloc(ctx, (size_t)n_threads, sizeof(pthread_t) + sizeof(worker_arg));
    pool->slots = tg__malloc_aligned(ctx, (size_t)n_threads * sizeof *pool->slots);
    if (!pool->threads || !pool->slots) {
        tg__free(ctx, pool->threads);
        tg__free_aligned(ctx, pool->slots);
        tg__free_aligned(ctx, pool);
        return TG_ERR_NOMEM;
    }
    worker_arg *args = (worker_arg *)(pool->threads + n_threads);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->done, 0);
    for (int t = 0; t < n_threads; t++)
        atomic_init(&pool->slots[t].w, 0);
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
    tg__free_aligned(ctx, pool->slots);
    tg__free_aligned(ctx, pool);
}

static void parallel_for(tg_ctx *ctx, int64_t n, int per_thread, tg__range_fn fn, void *arg)
{
    tg__pool *pool = ctx->pool;
    if (n <= 0)
        return;
    if (!pool || n < 2) {
        fn(arg, 0, n, 0);
        return;
    }
    int64_t parts = (int64_t)pool->n * per_thread;
    if (parts > n)
        parts = n;
    /* Every part of the previous job is done, so no thread reads these
     * plain fields now; the release stores of the slots publish them. */
    pool->fn = fn;
    pool->arg = arg;
    pool->total = n;
    pool->parts = (int)parts;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->post_ns, mono_ns(), memory_order_relaxed);
    uint64_t gen = atomic_load_explicit(&pool->generation, memory_order_relaxed) + 1;
    for (int t = 0; t < pool->n; t++) {
        int64_t lo, hi;
        range_of(parts, pool->n, t, &lo, &hi);
        atomic_store_explicit(&pool->slots[t].w,
                              (gen & 0xffffffffu) << 32 | (uint64_t)lo << 16 | (uint64_t)hi,
                              memory_order_release);
    }
    atomic_store_explicit(&pool->generation, gen, memory_order_release);
    pthread_mutex_lock(&pool->mu);
    if (pool->sleepers > 0)
        pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    if (gen % TG_LOAD_JOBS == 0)
        sample_load(pool);

    run_parts(pool, (uint32_t)gen, 0);

    uint64_t t0 = 0, last = 0;
    bool spin = may_spin(pool);
    for (unsigned i = 0; atomic_load_explicit(&pool->done, memory_order_acquire) < parts; i++) {
        if (spin) {
            cpu_relax();
            if ((i & 255) != 255 || keep_spinning(pool, &t0, &last))
                continue;
        }
        pthread_mutex_lock(&pool->mu);
        pool->caller_sleeps = true;
        while (atomic_load(&pool->done) < parts)
            pthread_cond_wait(&pool->done_cv, &pool->mu);
        pool->caller_sleeps = false;
        pthread_mutex_unlock(&pool->mu);
        break;
    }
}

void tg__parallel_for(tg_ctx *ctx, int64_t n, tg__range_fn fn, void *arg)
{
    parallel_for(ctx, n, TG_PARTS_PER_THREAD, fn, arg);
}

void tg__parallel_for_coarse(tg_ctx *ctx, int64_t n, tg__range_fn fn, void *arg)
{
    parallel_for(ctx, n, 1, fn, arg);
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
