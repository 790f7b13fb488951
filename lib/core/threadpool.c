/* SPDX-License-Identifier: MIT */
/* A fork-join pool of n_threads-1 pthreads; the calling thread takes range 0.
 * pthreads rather than OpenMP: no extra runtime in the link line, no global
 * pool shared between contexts (each ctx owns its workers), and the split of
 * work is ours, so results are deterministic for a given thread count. */
#include "tg_internal.h"

#include <pthread.h>

struct tg__pool {
    int n;                    /* total threads including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    uint64_t generation;      /* bumped per job */
    int pending;              /* workers still running the job */
    bool quit;
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

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    tg__pool *pool = wa->pool;
    int tid = wa->tid;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        while (!pool->quit && pool->generation == seen)
            pthread_cond_wait(&pool->work_cv, &pool->mu);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        seen = pool->generation;
        tg__range_fn fn = pool->fn;
        void *arg = pool->arg;
        int64_t total = pool->total;
        pthread_mutex_unlock(&pool->mu);

        int64_t b, e;
        range_of(total, pool->n, tid, &b, &e);
        if (b < e)
            fn(arg, b, e, tid);

        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done_cv);
        pthread_mutex_unlock(&pool->mu);
    }
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
    pool->quit = true;
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
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->total = n;
    pool->pending = pool->n - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);

    int64_t b, e;
    range_of(n, pool->n, 0, &b, &e);
    if (b < e)
        fn(arg, b, e, 0);

    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}
