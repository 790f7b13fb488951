/* SPDX-License-Identifier: MIT */
/* Internal declarations shared by the library's modules. Never installed.
 * Internal non-static functions use the tg__ prefix. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "tinygrad.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define TG_ALIGN 64
#define TG_ERRMSG_SIZE 512
#define TG_MAX_SRC 4
#define TG_MAX_THREADS 256

#if defined(__GNUC__)
#  define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#  define TG_UNUSED __attribute__((unused))
#else
#  define TG_PRINTF(a, b)
#  define TG_UNUSED
#endif

/* ---- ops -------------------------------------------------------------- */

/* Each op file defines one static tg__op_def per op. backward() reads
 * out->grad and accumulates into src[i]->grad for every src[i] that
 * requires grad; gradient buffers are allocated (zeroed) by tg_backward
 * before any backward runs, so backward cannot fail. */
typedef struct tg__op_def {
    const char *name;
    void (*backward)(tg_ctx *ctx, tg_tensor *out);
} tg__op_def;

/* Op parameters stored in the result tensor; each op picks its fields. */
typedef union tg__op_params {
    int32_t i[16];
    float f[8];
    int64_t l[8];
} tg__op_params;

struct tg_tensor {
    tg_ctx *ctx;
    float *data;                 /* numel floats; a view shares its base's data */
    float *grad;                 /* NULL until a backward reaches this tensor */
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
    int ndim;
    bool requires_grad;
    bool persistent;             /* malloc'd, outlives tg_ctx_reset() */
    bool owns_data;              /* persistent and not a view: free data on destroy */
    bool in_module;              /* owned by a module: tg_tensor_destroy() refuses */
    bool doomed;                 /* persistent, destroyed while the step's graph used it:
                                    freed by the next tg_ctx_reset() */
    bool grad_fresh;             /* backward: grad holds stale values; the first op to
                                    reach it stores instead of adding (tg__grad_fresh) */
    bool grad_view;              /* op result, a whole view of src[0] whose backward
                                    passes the gradient as it is (reshape, flatten):
                                    the planner may give both one gradient buffer */
    uint8_t bwd_stores;          /* op result: bit k (TG__SRC(k)) set where its backward
                                    honours grad_fresh on src[k], storing into or
                                    settling it (set by the op); tg_backward zero-fills
                                    every other fresh input first */
    uint32_t users;              /* persistent: live optimisers holding it */
    uint64_t step;               /* transient: ctx->step when made (stale check) */
    uint64_t used_step;          /* persistent: last step whose graph used it */
    uint64_t mark;               /* traversal stamp for tg_backward (never wraps) */
    const tg__op_def *op;        /* NULL for leaves */
    tg_tensor *src[TG_MAX_SRC];  /* inputs recorded for backward (requires_grad only) */
    tg__op_params p;
    void *aux;                   /* op-saved data (arena), e.g. argmax indices */
    tg_tensor *prev, *next;      /* ctx's list of persistent tensors */
};

/* ---- context ---------------------------------------------------------- */

typedef struct tg__chunk {
    struct tg__chunk *next;
    size_t size, used;
    /* data follows, TG_ALIGN-aligned */
} tg__chunk;

typedef struct tg__pool tg__pool; /* thread pool (core/threadpool.c) */

/* Transient tensor headers live in their own arena of equal-size slots, in
 * two chunk lists used on alternate steps (ctx->step & 1). So a header made
 * on step s is never overwritten on step s+1, and every slot always holds a
 * header (never float data): a stale handle's stamp is always readable and,
 * for one-step-old handles, always detected. The two lists always have the
 * same chunks (allocated in pairs), so steady steps allocate nothing. */
typedef struct tg__hdr_arena {
    tg__chunk *chunks, *cur;
} tg__hdr_arena;

/* Long-lived objects (modules, optimisers, data sets, ...) embed this header
 * and register with their ctx, so tg_ctx_destroy() can release whatever the
 * caller left alive: newest first, so dependents go before what they use. */
typedef struct tg__object tg__object;
struct tg__object {
    tg__object *prev, *next;
    void (*destroy)(tg__object *self);
};
void tg__object_track(tg_ctx *ctx, tg__object *o, void (*destroy)(tg__object *self));
void tg__object_untrack(tg_ctx *ctx, tg__object *o); /* no-op if not tracked */

/* Per-op timing (core/profile.c; public API tg_profiler_*). The op table
 * lives inside the ctx (no allocation); the per-call event log and the
 * module table (tg__prof_state) are allocated only while profiling is on.
 * Costs one branch per op when off. */
#define TG__PROF_MAX 96
typedef struct tg__prof_entry {
    const char *name;
    uint64_t fwd_ns, bwd_ns;
    uint64_t fwd_calls, bwd_calls;
    uint64_t bytes;              /* arena bytes allocated in forward intervals */
} tg__prof_entry;
typedef struct tg__prof_state tg__prof_state; /* core/profile.c */

/* Module-level trace of one forward pass (core/trace.c), used by ONNX export
 * and tg_module_summary(): while ctx->trace is set, tg_module_forward()
 * records every module call and tg__op_result()/tg__view() every op result,
 * in creation order. Arrays grow with tg__malloc; oom is sticky. */
typedef struct tg__trace_call {
    const tg_module *m;
    int parent;                  /* enclosing call, -1 for the outermost */
    int depth;
    tg_tensor *x, *y;            /* y NULL while running or on failure */
    size_t op_begin, op_end;     /* ops created during the call: [begin, end) */
} tg__trace_call;
typedef struct tg__trace {
    tg__trace_call *calls;
    size_t n_calls, cap_calls;
    tg_tensor **ops;             /* op results, creation order */
    int *op_call;                /* innermost call running when ops[i] was made, or -1 */
    size_t n_ops, cap_ops;
    int cur;                     /* innermost open call, -1 if none */
    bool oom;
} tg__trace;
/* Hooks (called only while ctx->observe is true). */
int tg__trace_call_begin(tg_ctx *ctx, const tg_module *m, tg_tensor *x);
void tg__trace_call_end(tg_ctx *ctx, int call, tg_tensor *y);
void tg__trace_op(tg_ctx *ctx, tg_tensor *t);
void tg__trace_free(tg_ctx *ctx, tg__trace *tr);

/* A weight tensor's form for a kernel (tg__prep_get). */
typedef struct tg__prep_entry {
    const float *w; /* the weights' data */
    int kind;       /* which form (the caller's numbering) */
    int64_t k0, k1; /* what else the form depends on (the caller's) */
    size_t floats;  /* its size */
    float *prep;    /* step arena */
} tg__prep_entry;
#define TG__PREP_MAX 64

struct tg_ctx {
    tg_ctx_options opts;
    int n_threads;
    tg__pool *pool;

    uint64_t rng[4];             /* xoshiro256** state */

    tg__chunk *chunks;           /* step arena: list kept across resets */
    tg__chunk *cur;              /* chunk being filled */
    size_t arena_used, arena_peak, arena_capacity;

    tg__object *objects;         /* live long-lived objects, newest first */
    tg__object *deferred;        /* destroyed while the step's graph used them:
                                    released by the next tg_ctx_reset() */
    size_t n_doomed;             /* persistent tensors with doomed set */
    bool destroying;             /* inside tg_ctx_destroy() */
    uint64_t step;               /* tg_ctx_reset() count: stamps transient tensors */
    tg__hdr_arena hdr[2];        /* transient tensor headers, by step parity */
    size_t n_headers;            /* headers made this step */
    _Atomic(uintptr_t) owner;    /* thread inside an entry point, or 0 (one thread per ctx) */
    const char *_Atomic owner_fn; /* entry point the owner is in (for messages) */
    _Atomic int xstate;          /* cross-thread misuse message: 0 none, 1 being written, 2 kept */
    char xmsg[256];              /* written once by the intruding thread (never the owner) */
    tg_tensor *persistent;       /* list head */
    size_t persistent_bytes;
    uint64_t n_allocs;
    uint64_t mark;               /* last traversal stamp */
    bool grad_enabled;
    bool detect_anomaly;
    bool drop_grads;             /* backward: intermediates' gradients not retained */

    int prep_depth;              /* tg__prep_begin() nesting */
    bool prep_frozen;            /* no new entries (they would be rewound) */
    int prep_n;
    tg__prep_entry prep[TG__PREP_MAX];

    void *scratch[TG_MAX_THREADS]; /* per-thread scratch, grown on demand */
    size_t scratch_size[TG_MAX_THREADS];

    tg_status status;
    char errmsg[TG_ERRMSG_SIZE];

    bool observe;                /* prof_on || trace: the one branch ops take */
    tg__trace *trace;            /* forward trace being recorded, or NULL */
    tg__prof_state *prof_state;  /* event log and module table (profiling on) */
    bool prof_on;                /* per-op timing enabled (tg__prof_enable) */
    const tg__op_def *prof_op;   /* op whose forward is being timed, or NULL */
    uint64_t prof_t0;            /* when prof_op's result was created */
    const tg_module *prof_module; /* innermost module forward running (profiling) */
    int prof_n;
    tg__prof_entry prof[TG__PROF_MAX];
};

/* Record an error in ctx (if not NULL) and return status. */
tg_status tg__error(tg_ctx *ctx, tg_status status, const char *fmt, ...) TG_PRINTF(3, 4);
/* Format a shape as "[2,3]" into buf (always NUL-terminated). */
const char *tg__shape_str(char *buf, size_t size, int ndim, const int64_t *shape);
/* For ops: true if any input is NULL; records TG_ERR_INVALID_ARG naming the
 * op unless an earlier error is already kept (so the first error survives). */
bool tg__null_input(tg_ctx *ctx, const char *op, int n, ...);

/* ---- misuse checks (core/ctx.c, core/tensor.c) ----------------------- */

/* True if t is a transient tensor made before the last tg_ctx_reset(). */
static inline bool tg__stale(const tg_tensor *t)
{
    return !t->persistent && t->step != t->ctx->step;
}
/* Records TG_ERR_MISUSE "who: input i was made before tg_ctx_reset() (...)"
 * (replacing any kept error) and returns it. */
tg_status tg__stale_error(tg_ctx *ctx, const char *who, int i, const tg_tensor *t);
/* Accessors: true if t is stale (error recorded in t's ctx). */
bool tg__stale_access(const tg_tensor *t, const char *who);

/* One thread per ctx. tg__enter() takes the ctx for the calling thread and
 * returns 1 (taken: call tg__leave(ctx, 1) on exit), 0 (already held by this
 * thread: a nested call, tg__leave(ctx, 0) does nothing) or -1 (another
 * thread is inside: TG_ERR_MISUSE is recorded and the caller must return at
 * once without touching the ctx). tg__check_thread() is the per-op form
 * (one relaxed load when no entry point is active): false, with the same
 * error, if another thread is inside an entry point. */
int tg__enter(tg_ctx *ctx, const char *who);
void tg__leave(tg_ctx *ctx, int entered);
bool tg__check_thread(tg_ctx *ctx, const char *who);
/* The body of every public op: runs `call` (the op, returning a tensor or
 * NULL) with the ctx taken for the calling thread, so a second thread inside
 * any op or entry point at the same time is refused (TG_ERR_MISUSE) instead
 * of sharing the arena, tape, scratch buffers and thread pool. Nested calls
 * (ops inside a module's forward) cost one compare. */
#define TG__OP(ctx, who, call)                                                                 \
    do {                                                                                       \
        tg_ctx *op_ctx_ = (ctx);                                                               \
        int op_in_ = op_ctx_ ? tg__enter(op_ctx_, (who)) : 0;                                  \
        if (op_in_ < 0)                                                                        \
            return NULL;                                                                       \
        tg_tensor *op_out_ = (call);                                                           \
        if (op_ctx_)                                                                           \
            tg__leave(op_ctx_, op_in_);                                                        \
        return op_out_;                                                                        \
    } while (0)

/* Frees a persistent tensor with no checks (module and ctx teardown). */
void tg__tensor_free(tg_tensor *t);
/* Destroys a long-lived object now, or at the next tg_ctx_reset() if busy
 * says the step's graph still uses it. */
void tg__object_defer(tg_ctx *ctx, tg__object *o);

/* Allocator (counts calls; honours the ctx's custom allocator). */
void *tg__malloc(tg_ctx *ctx, size_t size);
void *tg__calloc(tg_ctx *ctx, size_t n, size_t size);
void tg__free(tg_ctx *ctx, void *p);
/* TG_ALIGN-aligned allocation through tg__malloc; free with tg__free_aligned. */
void *tg__malloc_aligned(tg_ctx *ctx, size_t size);
void tg__free_aligned(tg_ctx *ctx, void *p);
/* Overflow-checked size computations: false on overflow. */
bool tg__mul_size(size_t a, size_t b, size_t *out);
/* numel of a shape; false (and TG_ERR_*) on bad dims or overflow. */
bool tg__shape_numel(tg_ctx *ctx, const char *who, int ndim, const int64_t *shape,
                     int64_t *numel);

/* Step arena: TG_ALIGN-aligned, uninitialised, freed by tg_ctx_reset(). */
void *tg__arena_alloc(tg_ctx *ctx, size_t size);

/* Arena position; tg__arena_rewind() releases everything allocated after
 * tg__arena_get_mark() (the memory is reused, as after tg_ctx_reset()).
 * Tensors allocated after the mark must not be used afterwards. */
typedef struct tg__arena_mark {
    tg__chunk *chunk;
    size_t used, arena_used;
    tg__chunk *hchunk;
    size_t hused, n_headers;
} tg__arena_mark;
/* A transient tensor header (slot in ctx->hdr[ctx->step & 1]); NULL on no memory. */
tg_tensor *tg__header_alloc(tg_ctx *ctx);
tg__arena_mark tg__arena_get_mark(const tg_ctx *ctx);
void tg__arena_rewind(tg_ctx *ctx, tg__arena_mark m);

/* Prepared weights: a kernel's form of a weight tensor (Winograd-transformed
 * and packed, packed for the GEMM), made once per forward instead of once
 * per tile while a tiled inference forward (nn/layers.c) runs the same
 * layers tile after tile; no user code runs in between, so the weights
 * cannot change. tg__prep_begin() (nestable) and tg__prep_end() bracket the
 * forward; tg__prep_freeze() after its first tile, whose arena memory the
 * later tiles keep: entries are made only before it. */
void tg__prep_begin(tg_ctx *ctx);
void tg__prep_freeze(tg_ctx *ctx);
void tg__prep_end(tg_ctx *ctx);
/* Forget the entries (their memory is about to be rewound); the bracket
 * stays open. */
void tg__prep_drop(tg_ctx *ctx);
/* Step-arena memory for @p floats of w's form @p kind / @p k0, @p k1 (an
 * entry matches all five). *fresh: the caller has to fill it (false:
 * filled earlier in this forward, use as is). Outside a bracket, always
 * fresh memory. NULL on no memory. */
float *tg__prep_get(tg_ctx *ctx, const float *w, int kind, int64_t k0, int64_t k1,
                    size_t floats, bool *fresh);

/* Per-thread scratch: call tg__scratch_reserve() on the calling thread before
 * a parallel region (it allocates only when a larger size is asked, so steady
 * steps allocate nothing); inside, thread tid uses ctx->scratch[tid]. */
bool tg__scratch_reserve(tg_ctx *ctx, size_t size_per_thread);

/* ---- strings (core/util.c) ------------------------------------------ */

/* Join a and b with '/' into a new tg__malloc'd string; NULL on no memory. */
char *tg__path_join(tg_ctx *ctx, const char *a, const char *b);
/* tg__malloc'd copy of s; NULL on no memory. */
char *tg__strdup(tg_ctx *ctx, const char *s);

/* ---- tensors ---------------------------------------------------------- */

/* New transient tensor (uninitialised data) or NULL (error recorded). */
tg_tensor *tg__tensor_new(tg_ctx *ctx, const char *who, int ndim, const int64_t *shape);
/* New transient tensor that is the result of op: records src[] (NULL-terminated
 * up to TG_MAX_SRC) if grad is enabled and any src requires grad. Data is
 * uninitialised. */
tg_tensor *tg__op_result(tg_ctx *ctx, const tg__op_def *op, int ndim, const int64_t *shape,
                         tg_tensor *s0, tg_tensor *s1, tg_tensor *s2);
/* New transient view of base's data with another shape (same numel). */
tg_tensor *tg__view(tg_ctx *ctx, const tg__op_def *op, tg_tensor *base, int ndim,
                    const int64_t *shape);
/* Gradient buffer of t, allocated if missing (zero-filled when zero is set,
 * else left as the allocator gave it); NULL on no memory. */
float *tg__grad_buffer(tg_ctx *ctx, tg_tensor *t, bool zero);
#define TG__SRC(k) ((uint8_t)(1u << (k))) /* bwd_stores bit of src[k] */
/* In a backward whose result has t's bwd_stores bit: true when t's gradient
 * is fresh, i.e. holds stale values that the caller must overwrite (store,
 * not accumulate) in full; clears the flag, so a later consumer of t adds. */
static inline bool tg__grad_fresh(tg_tensor *t)
{
    bool f = t->grad_fresh;
    t->grad_fresh = false;
    return f;
}
/* Zero-fill t's gradient if it is still fresh. */
void tg__grad_settle(tg_tensor *t);
/* Normalise a possibly negative axis; -1 (and error) if out of range. */
int tg__axis(tg_ctx *ctx, const char *who, int axis, int ndim);
bool tg__same_shape(const tg_tensor *a, const tg_tensor *b);

/* ---- RNG (xoshiro256**, seeded by splitmix64) --------------------------- */
void tg__rng_seed(uint64_t state[4], uint64_t seed);
uint64_t tg__rng_next(uint64_t state[4]);
float tg__rng_uniform(uint64_t state[4]);            /* [0, 1) */
float tg__rng_normal(uint64_t state[4]);             /* N(0, 1) */

/* ---- threads ---------------------------------------------------------- */

/* fn(arg, begin, end, tid) over [0, n) cut into TG_PARTS_PER_THREAD
 * contiguous parts per thread, of falling size (fewer, even ones if n is
 * small); the cut depends on n and the thread count only. Thread t runs
 * its own parts first, in order, then takes the other threads' unstarted
 * ones, so a vCPU that the host slows or a worker that wakes late holds up
 * at most a part, and any thread may run any part: fn's results must not
 * depend on tid, which only picks the thread's scratch (ctx->scratch[tid]).
 * Runs inline when the ctx has one thread or n < 2. Never called
 * recursively. */
typedef void (*tg__range_fn)(void *arg, int64_t begin, int64_t end, int tid);
#define TG_PARTS_PER_THREAD 4
void tg__parallel_for(tg_ctx *ctx, int64_t n, tg__range_fn fn, void *arg);
/* tg__parallel_for() with one part per thread, for jobs whose parts each
 * pay a set-up (a GEMM packs its panels once per part). */
void tg__parallel_for_coarse(tg_ctx *ctx, int64_t n, tg__range_fn fn, void *arg);
/* tg__parallel_for() for a job that touches about @p elems floats: runs on
 * the calling thread below TG_PAR_MIN_ELEMS, where waking a worker costs
 * more than the work (batch-1 inference was 2x slower on 2 threads). */
#define TG_PAR_MIN_ELEMS ((int64_t)1 << 15)
void tg__parallel_for_elems(tg_ctx *ctx, int64_t n, int64_t elems, tg__range_fn fn, void *arg);
/* How many chunks (partial sums) to cut a batch of n into, given a budget
 * of about c: at least min(n, 4); a multiple of 4 that divides n where one
 * not above c does, so 2 or 4 threads get equal shares of the samples
 * whatever the chunks' order (64 samples in 56 chunks had put the 8 chunks
 * of two samples first: one of 2 threads took 36 of 64). Depends on n and c
 * only, never on the thread count. */
int64_t tg__batch_chunks(int64_t n, int64_t c);
tg_status tg__pool_create(tg_ctx *ctx, int n_threads, tg__pool **out);
void tg__pool_destroy(tg_ctx *ctx, tg__pool *pool);

/* ---- profiling (core/profile.c) ----------------------------------------- */

/* Ops run eagerly, so an op's forward time is taken as the time from its
 * tg__op_result() to the next op's (or to tg_backward / tg__prof_mark(ctx,
 * NULL)); backward time is measured around op->backward. */
void tg__prof_enable(tg_ctx *ctx, bool on); /* also clears the table */
void tg__prof_mark(tg_ctx *ctx, const tg__op_def *op);
/* t's op->backward took [t0, t0+ns); also charged to the module whose
 * forward made t (recorded by tg__prof_result). */
void tg__prof_add_backward(tg_ctx *ctx, const tg_tensor *t, uint64_t t0, uint64_t ns);
/* Remember that ctx->prof_module made op result t (profiling on). */
void tg__prof_result(tg_ctx *ctx, const tg_tensor *t);
/* tg_ctx_reset(): close the forward interval, forget this step's results. */
void tg__prof_step_end(tg_ctx *ctx);
/* A module's forward took [t0, t0+ns); path is its dotted name (copied). */
void tg__prof_module(tg_ctx *ctx, const tg_module *m, const char *path, uint64_t t0,
                     uint64_t ns);
void tg__prof_free(tg_ctx *ctx); /* tg_ctx_destroy() */
uint64_t tg__now_ns(void);

/* ---- modules (nn/module.c, nn/trace.c) ------------------------------------ */

/* Dotted name of m below its root, or the type name of a root. */
void tg__module_path(const tg_module *m, char *buf, size_t size);
/* Run m's forward once in evaluation mode, grad enabled, on a zero input of
 * the given shape that requires grad (so every op records its inputs), with
 * a trace recording. On success *y is the output and tr holds the trace;
 * the module's training flags, the grad mode and ctx->trace are restored.
 * The caller frees tr with tg__trace_free() and the tensors with the arena
 * (the caller's tg__arena_get_mark/rewind). */
tg_status tg__module_trace(tg_module *m, const char *who, int ndim, const int64_t *shape,
                           tg__trace *tr, tg_tensor **x, tg_tensor **y);

/* ---- kernels (lib/kernels) --------------------------------------------- */

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(X) = X or X^T.
 * Multithreaded over the context's pool; deterministic for a thread count. */
void tg__sgemm(tg_ctx *ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
               float *C, int64_t ldc);
/* tg__sgemm with the threads splitting C's rows as evenly as the pool
 * splits a batch, where each gets at least a micro-tile's rows and K <= M:
 * where the rows are samples, each thread writes the rows of the samples
 * it owns in the ops before and after (the same bits as tg__sgemm). */
void tg__sgemm_rows(tg_ctx *ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc);
/* Single-threaded variant for use inside a parallel region. */
void tg__sgemm_st(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc);

/* ---- fused ops (ops/conv.c) --------------------------------------------- */

/* relu(conv2d(...)) as one op where the direct convolution applies (the
 * ReLU runs in the conv's output copy and its backward masks dy there);
 * otherwise exactly tg_relu(tg_conv2d(...)). Values and gradients equal the
 * unfused pair's. Used by Sequential for a Conv2d followed by a ReLU. */
tg_tensor *tg__conv2d_relu(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                           int padding, int dilation, int groups);

/* max_pool2d(relu(conv2d(...)), 2, 2, 0) as one op where the direct
 * convolution applies: each sample's output is pooled while in cache and
 * never stored, and backward unpools the gradient per sample; otherwise
 * exactly the three ops. Values and gradients equal the unfused ops'. Used
 * by Sequential for a Conv2d, a ReLU and a 2x2 MaxPool2d of stride 2. */
tg_tensor *tg__conv2d_relu_pool(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                                int stride, int padding, int dilation, int groups);

/* relu(batch_norm2d(...)) as one op (ops/norm.c): the ReLU runs in the
 * apply pass and its backward masks dy by the result in the two backward
 * passes. Values and gradients equal the unfused pair's. Used by the nn
 * layer for a BatchNorm2d followed by a ReLU while training. */
tg_tensor *tg__batch_norm2d_relu(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                                 tg_tensor *running_mean, tg_tensor *running_var, bool training,
                                 float momentum, float eps);
/* relu(batch_norm2d(...) + res) as one op, res of x's shape (the end of a
 * residual block): the apply pass adds res, and the first backward pass
 * writes res's gradient (dy masked by the result). Values and gradients
 * equal the unfused bn, add, relu's. */
tg_tensor *tg__batch_norm2d_add_relu(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight,
                                     tg_tensor *bias, tg_tensor *running_mean,
                                     tg_tensor *running_var, bool training, float momentum,
                                     float eps, tg_tensor *res);
/* ka[c], kb[c] of evaluation-mode batch norm (y = x * ka + kb, from the
 * running statistics; weight, bias may be NULL), exactly as
 * tg_batch_norm2d computes them (ops/norm.c). */
void tg__bn_eval_coeffs(int64_t C, const float *weight, const float *bias, const float *mean,
                        const float *var, float eps, float *ka, float *kb);

/* A BatchNorm2d's tensors in evaluation mode (weight, bias may be NULL). */
typedef struct tg__bn_eval {
    tg_tensor *weight, *bias, *running_mean, *running_var;
    float eps;
} tg__bn_eval;
/* batch_norm2d(conv2d(x, w, b), evaluation), then + res (res implies the
 * ReLU, as tg__batch_norm2d_add_relu), then ReLU if relu (ops/conv.c). When
 * nothing needs a gradient (inference), one op: the batch norm, residual
 * and ReLU run on each sample's output while the convolution has it in
 * cache, with the unfused ops' bits. Otherwise (a gradient to record, a
 * trace, shapes the fused form does not take) exactly the unfused ops. */
tg_tensor *tg__conv2d_bn_eval(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                              int padding, int dilation, int groups, const tg__bn_eval *bn,
                              tg_tensor *res, bool relu);

#endif /* TG_INTERNAL_H */
