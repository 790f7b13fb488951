/* SPDX-License-Identifier: MIT */
/* libtinygrad-mpi: data-parallel training over MPI (include/tinygrad_mpi.h).
 * A separate library on top of the public API of libtinygrad: it sees no
 * internals, and the core library never sees MPI.
 *
 * Every collective of this file goes through coll_begin()/coll_end(): they
 * refuse to communicate once the handle has failed (so that all ranks, which
 * learn of a failure at the same collective, stop at the same point), arm
 * the watchdog and count calls, bytes and time. */
#define _POSIX_C_SOURCE 200809L
#include "tinygrad_mpi.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIST_MSG_SIZE 512
#define DIST_DEFAULT_BUCKET ((size_t)4 << 20)
#define DIST_MIN_BUCKET ((size_t)1024)

/* One contiguous run of floats taking part in a fused all-reduce. */
typedef struct seg {
    float *p;    /* NULL: contributes zeros, receives nothing */
    size_t n;
} seg;

struct tg_dist {
    tg_ctx *ctx;
    MPI_Comm comm;       /* our duplicate of the caller's communicator */
    int rank, size;
    bool owns_mpi;       /* MPI_Init_thread was called by tg_dist_create */
    tg_dist_options opts;

    /* failure state: once set, every collective returns it */
    tg_status fail_status;
    char fail_msg[DIST_MSG_SIZE];

    /* fused buffer and segment list, grown on demand (first call) */
    float *buf;
    size_t buf_cap;      /* floats */
    seg *segs;
    size_t segs_cap;
    size_t grad_total_checked; /* element count already checked across ranks (+1), 0 = none */

    tg_dist_stats stats;

    /* watchdog */
    bool wd_running;
    pthread_t wd_thread;
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    bool wd_stop;
    _Atomic uint64_t wd_armed_ns; /* start of the current collective, 0 = none */
    _Atomic(const char *) wd_what;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- watchdog -------------------------------------------------------------- */

static void *watchdog_main(void *arg)
{
    tg_dist *d = arg;
    double poll = d->opts.timeout_s / 4.0;
    if (poll > 1.0)
        poll = 1.0;
    if (poll < 0.01)
        poll = 0.01;
    uint64_t limit = (uint64_t)(d->opts.timeout_s * 1e9);
    pthread_mutex_lock(&d->wd_mu);
    while (!d->wd_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec + (uint64_t)(poll * 1e9);
        ts.tv_sec += (time_t)(t / 1000000000u);
        ts.tv_nsec = (long)(t % 1000000000u);
        pthread_cond_timedwait(&d->wd_cv, &d->wd_mu, &ts);
        if (d->wd_stop)
            break;
        uint64_t armed = atomic_load(&d->wd_armed_ns);
        if (armed && now_ns() - armed > limit) {
            const char *what = atomic_load(&d->wd_what);
            fprintf(stderr,
                    "tinygrad-mpi: rank %d: %s did not return within %g s (another rank died, "
                    "hangs or left the training loop); calling MPI_Abort\n",
                    d->rank, what ? what : "a collective", d->opts.timeout_s);
            fflush(stderr);
            /* Last resort: MPI_Abort from a second thread is outside
             * MPI_THREAD_FUNNELED, but it is the documented way to end a
             * job, and the alternative is a job that hangs forever. */
            MPI_Abort(d->comm, 1);
            _exit(1);
        }
    }
    pthread_mutex_unlock(&d->wd_mu);
    return NULL;
}

static void watchdog_stop(tg_dist *d)
{
    if (!d->wd_running)
        return;
    pthread_mutex_lock(&d->wd_mu);
    d->wd_stop = true;
    pthread_cond_signal(&d->wd_cv);
    pthread_mutex_unlock(&d->wd_mu);
    pthread_join(d->wd_thread, NULL);
    pthread_cond_destroy(&d->wd_cv);
    pthread_mutex_destroy(&d->wd_mu);
    d->wd_running = false;
}

/* ---- errors and collectives ----------------------------------------------- */

/* Remember a failure (all ranks reach this at the same collective) and put
 * it in the context. */
static tg_status fail(tg_dist *d, tg_status s, const char *msg)
{
    d->fail_status = s;
    snprintf(d->fail_msg, sizeof d->fail_msg, "%s", msg);
    if (d->opts.verbose) {
        fprintf(stderr, "tinygrad-mpi: rank %d: %s\n", d->rank, msg);
        fflush(stderr);
    }
    return tg_ctx_set_error(d->ctx, s, "%s", d->fail_msg);
}

/* TG_OK when the collective may run; the remembered failure otherwise. */
static tg_status coll_begin(tg_dist *d, const char *what)
{
    if (d->fail_status != TG_OK)
        return tg_ctx_set_error(d->ctx, d->fail_status, "%s", d->fail_msg);
    atomic_store(&d->wd_what, what);
    atomic_store(&d->wd_armed_ns, now_ns());
    return TG_OK;
}

/* Account for one finished MPI call; turns an MPI error into a failure. */
static tg_status coll_end(tg_dist *d, const char *what, int rc, uint64_t bytes, bool grad)
{
    uint64_t t0 = atomic_exchange(&d->wd_armed_ns, 0);
    d->stats.collectives++;
    d->stats.comm_seconds += (double)(now_ns() - t0) * 1e-9;
    if (grad) {
        d->stats.grad_allreduces++;
        d->stats.grad_bytes += bytes;
    } else {
        d->stats.other_bytes += bytes;
    }
    if (rc == MPI_SUCCESS)
        return TG_OK;
    char err[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS)
        snprintf(err, sizeof err, "MPI error %d", rc);
    char msg[DIST_MSG_SIZE];
    snprintf(msg, sizeof msg, "rank %d: %s failed: %s (another rank may have died)", d->rank,
             what, err);
    return fail(d, TG_ERR_STATE, msg);
}

/* All-reduce a float buffer (count may exceed INT_MAX: chunked). */
static tg_status allreduce_f32(tg_dist *d, const char *what, float *p, size_t n, bool grad)
{
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        tg_status s = coll_begin(d, what);
        if (s != TG_OK)
            return s;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p, k, MPI_FLOAT, MPI_SUM, d->comm);
        if ((s = coll_end(d, what, rc, (uint64_t)k * sizeof(float), grad)) != TG_OK)
            return s;
        p += k;
        n -= (size_t)k;
    }
    return TG_OK;
}

static tg_status bcast_bytes(tg_dist *d, const char *what, void *p, size_t n, int root)
{
    char *c = p;
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        tg_status s = coll_begin(d, what);
        if (s != TG_OK)
            return s;
        int rc = MPI_Bcast(c, k, MPI_BYTE, root, d->comm);
        if ((s = coll_end(d, what, rc, (uint64_t)k, false)) != TG_OK)
            return s;
        c += k;
        n -= (size_t)k;
    }
    return TG_OK;
}

/* Agree on a status: see tg_dist_check(). */
static tg_status sync_status(tg_dist *d, tg_status local, const char *msg)
{
    const char *what = "status check (MPI_Allreduce)";
    tg_status s = coll_begin(d, what);
    if (s != TG_OK)
        return s;
    int mine = local != TG_OK ? d->rank : d->size, first = d->size;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if ((s = coll_end(d, what, rc, sizeof(int), false)) != TG_OK)
        return s;
    if (first >= d->size)
        return TG_OK;
    struct {
        int32_t status;
        char text[DIST_MSG_SIZE];
    } p;
    memset(&p, 0, sizeof p);
    if (d->rank == first) {
        const char *why = tg_ctx_last_error(d->ctx);
        if (!why || !why[0])
            why = tg_status_string(local);
        p.status = (int32_t)local;
        snprintf(p.text, sizeof p.text, "rank %d: %s%s%s", d->rank, msg ? msg : "",
                 msg ? ": " : "", why);
    }
    if ((s = bcast_bytes(d, "failure message (MPI_Bcast)", &p, sizeof p, first)) != TG_OK)
        return s;
    p.text[sizeof p.text - 1] = '\0';
    tg_status fs = (tg_status)p.status;
    if (fs == TG_OK)
        fs = TG_ERR_STATE;
    return fail(d, fs, p.text);
}

/* Check that every rank has the same two counts (one collective). */
static tg_status check_same(tg_dist *d, const char *what, int64_t a, int64_t b)
{
    const char *cname = "consistency check (MPI_Allreduce)";
    tg_status s = coll_begin(d, cname);
    if (s != TG_OK)
        return s;
    int64_t in[4] = {a, -a, b, -b}, out[4];
    int rc = MPI_Allreduce(in, out, 4, MPI_INT64_T, MPI_MAX, d->comm);
    if ((s = coll_end(d, cname, rc, sizeof in, false)) != TG_OK)
        return s;
    if (out[0] != -out[1] || out[2] != -out[3]) {
        char msg[DIST_MSG_SIZE];
        snprintf(msg, sizeof msg,
                 "%s: the models differ between ranks: %lld..%lld tensors and %lld..%lld "
                 "elements (this rank %d: %lld, %lld)",
                 what, (long long)-out[1], (long long)out[0], (long long)-out[3],
                 (long long)out[2], d->rank, (long long)a, (long long)b);
        return fail(d, TG_ERR_SHAPE, msg);
    }
    return TG_OK;
}

/* ---- lifetime -------------------------------------------------------------- */

void tg_dist_options_init(tg_dist_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->bucket_bytes = DIST_DEFAULT_BUCKET;
    o->timeout_s = 300.0;
}

tg_status tg_dist_create(tg_ctx *ctx, MPI_Comm comm, const tg_dist_options *opts, tg_dist **out)
{
    const char *who = "dist_create";
    if (!ctx || !out)
        return tg_ctx_set_error(ctx, TG_ERR_INVALID_ARG, "%s: %s is NULL", who,
                                !ctx ? "ctx" : "out");
    tg_dist_options o;
    tg_dist_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return tg_ctx_set_error(ctx, TG_ERR_INVALID_ARG,
                                    "%s: bad struct_size %zu (use tg_dist_options_init)", who,
                                    opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.bucket_bytes < DIST_MIN_BUCKET)
        return tg_ctx_set_error(ctx, TG_ERR_INVALID_ARG, "%s: bucket_bytes %zu is below %zu", who,
                                o.bucket_bytes, DIST_MIN_BUCKET);
    if (!(o.timeout_s >= 0.0) || o.timeout_s > 1e9)
        return tg_ctx_set_error(ctx, TG_ERR_INVALID_ARG,
                                "%s: timeout_s %g must be in [0, 1e9] (0 = no watchdog)", who,
                                o.timeout_s);
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return tg_ctx_set_error(ctx, TG_ERR_STATE, "%s: MPI is already finalised", who);
    bool owns = false;
    if (!inited) {
        if (comm != MPI_COMM_NULL)
            return tg_ctx_set_error(ctx, TG_ERR_STATE,
                                    "%s: a communicator was given but MPI is not initialised", who);
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return tg_ctx_set_error(ctx, TG_ERR_STATE, "%s: MPI_Init_thread failed", who);
        owns = true;
    }
    if (comm == MPI_COMM_NULL)
        comm = MPI_COMM_WORLD;
    tg_dist *d = calloc(1, sizeof *d);
    if (!d) {
        if (owns)
            MPI_Finalize();
        return tg_ctx_set_error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    d->ctx = ctx;
    d->opts = o;
    d->owns_mpi = owns;
    int rc = MPI_Comm_dup(comm, &d->comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(d->comm, &d->rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(d->comm, &d->size);
    if (rc != MPI_SUCCESS) {
        char err[MPI_MAX_ERROR_STRING];
        int len = 0;
        if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS)
            snprintf(err, sizeof err, "MPI error %d", rc);
        free(d);
        if (owns)
            MPI_Finalize();
        return tg_ctx_set_error(ctx, TG_ERR_STATE, "%s: cannot duplicate the communicator: %s",
                                who, err);
    }
    if (o.timeout_s > 0) {
        if (pthread_mutex_init(&d->wd_mu, NULL) != 0 || pthread_cond_init(&d->wd_cv, NULL) != 0 ||
            pthread_create(&d->wd_thread, NULL, watchdog_main, d) != 0) {
            MPI_Comm_free(&d->comm);
            free(d);
            if (owns)
                MPI_Finalize();
            return tg_ctx_set_error(ctx, TG_ERR_NOMEM, "%s: cannot start the watchdog thread",
                                    who);
        }
        d->wd_running = true;
    }
    d->stats.struct_size = sizeof d->stats;
    *out = d;
    return TG_OK;
}

void tg_dist_destroy(tg_dist *d)
{
    if (!d)
        return;
    /* Freeing the communicator and finalising wait for the other ranks: keep
     * the watchdog on while they do. */
    atomic_store(&d->wd_what, "tg_dist_destroy (MPI_Comm_free, MPI_Finalize)");
    atomic_store(&d->wd_armed_ns, now_ns());
    MPI_Comm_free(&d->comm);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (d->owns_mpi && !finalized)
        MPI_Finalize();
    atomic_store(&d->wd_armed_ns, 0);
    watchdog_stop(d);
    free(d->buf);
    free(d->segs);
    free(d);
}

int tg_dist_rank(const tg_dist *d) { return d ? d->rank : -1; }

int tg_dist_size(const tg_dist *d) { return d ? d->size : 0; }

void tg_dist_get_stats(const tg_dist *d, tg_dist_stats *out)
{
    if (!d || !out || out->struct_size < sizeof(size_t))
        return;
    size_t have = out->struct_size < sizeof d->stats ? out->struct_size : sizeof d->stats;
    memcpy((char *)out + sizeof(size_t), (const char *)&d->stats + sizeof(size_t),
           have - sizeof(size_t));
}

/* ---- fused all-reduce over segments ----------------------------------------- */

static tg_status reserve(tg_dist *d, size_t n_segs, size_t total)
{
    size_t bucket = d->opts.bucket_bytes / sizeof(float);
    size_t want = total < bucket ? total : bucket;
    if (want == 0)
        want = 1;
    if (want > d->buf_cap) {
        float *b = realloc(d->buf, want * sizeof *b);
        if (!b)
            return tg_ctx_set_error(d->ctx, TG_ERR_NOMEM,
                                    "dist: cannot allocate a %zu-byte bucket", want * sizeof *b);
        d->buf = b;
        d->buf_cap = want;
    }
    if (n_segs > d->segs_cap) {
        seg *s = realloc(d->segs, n_segs * sizeof *s);
        if (!s)
            return tg_ctx_set_error(d->ctx, TG_ERR_NOMEM, "dist: cannot allocate %zu segments",
                                    n_segs);
        d->segs = s;
        d->segs_cap = n_segs;
    }
    return TG_OK;
}

/* Average d->segs[0..n) over the ranks: packed in order into buckets of at
 * most buf_cap floats (a segment may span buckets), one MPI_Allreduce each. */
static tg_status allreduce_segs(tg_dist *d, size_t n, const char *what, bool grad)
{
    size_t si = 0, off = 0; /* pack cursor */
    const float n_ranks = (float)d->size;
    while (si < n) {
        size_t start_si = si, start_off = off, fill = 0;
        while (si < n && fill < d->buf_cap) {
            size_t k = d->segs[si].n - off;
            if (k > d->buf_cap - fill)
                k = d->buf_cap - fill;
            if (d->segs[si].p)
                memcpy(d->buf + fill, d->segs[si].p + off, k * sizeof(float));
            else
                memset(d->buf + fill, 0, k * sizeof(float));
            fill += k;
            off += k;
            if (off == d->segs[si].n) {
                si++;
                off = 0;
            }
        }
        if (fill == 0)
            break;
        tg_status s = allreduce_f32(d, what, d->buf, fill, grad);
        if (s != TG_OK)
            return s;
        size_t ui = start_si, uoff = start_off, pos = 0;
        while (pos < fill) {
            size_t k = d->segs[ui].n - uoff;
            if (k > fill - pos)
                k = fill - pos;
            float *dst = d->segs[ui].p;
            if (dst)
                for (size_t j = 0; j < k; j++)
                    dst[uoff + j] = d->buf[pos + j] / n_ranks;
            pos += k;
            uoff += k;
            if (uoff == d->segs[ui].n) {
                ui++;
                uoff = 0;
            }
        }
    }
    return TG_OK;
}

tg_status tg_dist_allreduce_grads(tg_dist *d, tg_module *m)
{
    if (!d || !m)
        return tg_ctx_set_error(d ? d->ctx : NULL, TG_ERR_INVALID_ARG,
                                "dist_allreduce_grads: %s is NULL", !d ? "dist" : "module");
    size_t np = tg_module_n_params(m), total = 0;
    tg_status s = reserve(d, np, (size_t)tg_module_n_weights(m));
    if (s != TG_OK)
        return s;
    size_t k = 0;
    for (size_t i = 0; i < np; i++) {
        tg_tensor *t = tg_module_param(m, i, NULL);
        if (!t)
            continue;
        size_t n = (size_t)tg_tensor_numel(t);
        if (n == 0)
            continue;
        d->segs[k].p = tg_tensor_grad(t);
        d->segs[k].n = n;
        total += n;
        k++;
    }
    if (d->grad_total_checked != total + 1) {
        if ((s = check_same(d, "dist_allreduce_grads", (int64_t)k, (int64_t)total)) != TG_OK)
            return s;
        d->grad_total_checked = total + 1;
    }
    return allreduce_segs(d, k, "gradient all-reduce (MPI_Allreduce)", true);
}

tg_status tg_dist_allreduce_buffers(tg_dist *d, tg_module *m)
{
    if (!d || !m)
        return tg_ctx_set_error(d ? d->ctx : NULL, TG_ERR_INVALID_ARG,
                                "dist_allreduce_buffers: %s is NULL", !d ? "dist" : "module");
    size_t ns = tg_module_n_state(m), total = 0, k = 0;
    tg_status s = reserve(d, ns, 0);
    if (s != TG_OK)
        return s;
    for (size_t i = 0; i < ns; i++) {
        bool is_param = true;
        tg_tensor *t = tg_module_state(m, i, NULL, &is_param);
        if (!t || is_param || tg_tensor_numel(t) == 0)
            continue;
        d->segs[k].p = tg_tensor_data(t);
        d->segs[k].n = (size_t)tg_tensor_numel(t);
        total += d->segs[k].n;
        k++;
    }
    if ((s = reserve(d, ns, total)) != TG_OK)
        return s;
    if ((s = check_same(d, "dist_allreduce_buffers", (int64_t)k, (int64_t)total)) != TG_OK)
        return s;
    return allreduce_segs(d, k, "buffer all-reduce (MPI_Allreduce)", false);
}

tg_status tg_dist_broadcast_module(tg_dist *d, tg_module *m)
{
    if (!d || !m)
        return tg_ctx_set_error(d ? d->ctx : NULL, TG_ERR_INVALID_ARG,
                                "dist_broadcast_module: %s is NULL", !d ? "dist" : "module");
    size_t ns = tg_module_n_state(m);
    int64_t total = 0;
    for (size_t i = 0; i < ns; i++) {
        tg_tensor *t = tg_module_state(m, i, NULL, NULL);
        total += t ? tg_tensor_numel(t) : 0;
    }
    tg_status s = check_same(d, "dist_broadcast_module", (int64_t)ns, total);
    for (size_t i = 0; s == TG_OK && i < ns; i++) {
        tg_tensor *t = tg_module_state(m, i, NULL, NULL);
        if (t && tg_tensor_numel(t) > 0)
            s = bcast_bytes(d, "parameter broadcast (MPI_Bcast)", tg_tensor_data(t),
                            (size_t)tg_tensor_numel(t) * sizeof(float), 0);
    }
    return s;
}

tg_status tg_dist_allreduce_metrics(tg_dist *d, double *v, size_t n, tg_dist_reduce op)
{
    const char *what = "metrics all-reduce (MPI_Allreduce)";
    if (!d || (!v && n > 0) || (op != TG_DIST_SUM && op != TG_DIST_MEAN))
        return tg_ctx_set_error(d ? d->ctx : NULL, TG_ERR_INVALID_ARG,
                                "dist_allreduce_metrics: %s", !d ? "dist is NULL"
                                : !v ? "values are NULL" : "unknown reduction");
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        tg_status s = coll_begin(d, what);
        if (s != TG_OK)
            return s;
        int rc = MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_DOUBLE, MPI_SUM, d->comm);
        if ((s = coll_end(d, what, rc, (uint64_t)k * sizeof(double), false)) != TG_OK)
            return s;
        if (op == TG_DIST_MEAN)
            for (int i = 0; i < k; i++)
                v[i] /= (double)d->size;
        v += k;
        n -= (size_t)k;
    }
    return TG_OK;
}

tg_status tg_dist_check(tg_dist *d, tg_status local_status, const char *msg)
{
    if (!d)
        return TG_ERR_INVALID_ARG;
    return sync_status(d, local_status, msg);
}

/* ---- tg_fit hooks ------------------------------------------------------------ */

static tg_status fit_step_hook(void *user, tg_module *m, tg_optim *opt, tg_status status)
{
    (void)opt;
    tg_dist *d = user;
    if (status != TG_OK) {
        /* This rank failed: tell the others at their next collective (a
         * no-op when the failure came from a collective: all know). */
        if (d->fail_status == TG_OK)
            (void)sync_status(d, status, NULL);
        return status;
    }
    tg_status s = sync_status(d, TG_OK, "fit");
    if (s == TG_OK)
        s = tg_dist_allreduce_grads(d, m);
    return s;
}

static tg_status fit_reduce_hook(void *user, tg_module *m, double *sums, size_t n)
{
    tg_dist *d = user;
    tg_status s = sync_status(d, TG_OK, "fit");
    if (s == TG_OK)
        s = tg_dist_allreduce_metrics(d, sums, n, TG_DIST_SUM);
    if (s == TG_OK)
        s = tg_dist_allreduce_buffers(d, m);
    return s;
}

tg_status tg_dist_fit_options(tg_dist *d, tg_fit_options *o)
{
    if (!d || !o)
        return tg_ctx_set_error(d ? d->ctx : NULL, TG_ERR_INVALID_ARG,
                                "dist_fit_options: %s is NULL", !d ? "dist" : "options");
    if (o->struct_size < sizeof *o)
        return tg_ctx_set_error(d->ctx, TG_ERR_INVALID_ARG,
                                "dist_fit_options: struct_size %zu is older than this library's "
                                "%zu (use tg_fit_options_init)",
                                o->struct_size, sizeof *o);
    o->after_backward = fit_step_hook;
    o->reduce_metrics = fit_reduce_hook;
    o->hook_user = d;
    o->is_main = d->rank == 0;
    o->shard_rank = (size_t)d->rank;
    o->shard_count = (size_t)d->size;
    return TG_OK;
}

tg_status tg_dist_fit_setup(tg_dist *d, tg_module *m, tg_fit_options *o, bool quiet)
{
    tg_status s;
    if (!d || !m || !o)
        return tg_ctx_set_error(d ? d->ctx : NULL, TG_ERR_INVALID_ARG, "dist_fit_setup: %s is NULL",
                                !d ? "dist" : !m ? "module" : "options");
    if ((s = tg_dist_fit_options(d, o)) != TG_OK || (s = tg_dist_broadcast_module(d, m)) != TG_OK)
        return s;
    if (quiet && d->rank > 0) {
        fflush(stdout);
        if (!freopen("/dev/null", "w", stdout))
            return tg_ctx_set_error(d->ctx, TG_ERR_IO,
                                    "dist_fit_setup: rank %d cannot send stdout to /dev/null",
                                    d->rank);
    }
    return TG_OK;
}
