/* SPDX-License-Identifier: MIT */
/**
 * @file tinygrad.h
 * @brief libtinygrad: tensors, reverse-mode autodiff, modules, optimisers,
 *        data loading and training helpers for C and C++.
 *
 * Only what this file (and the generated tinygrad_version.h it includes)
 * declares is public API; the comments here are the contract.
 *
 * Threading: a tg_ctx and every object created from it must be used by one
 * thread at a time; distinct contexts may run concurrently. tg_version*(),
 * tg_status_string() are thread-safe. Internal worker threads never call user
 * code, except the log callback, which is serialized.
 *
 * Memory: two lifetimes, no reference counting (see docs/memory.md).
 *  - Long-lived objects (ctx, persistent tensors, modules, optimisers, data
 *    sets) have create/destroy pairs; destroy accepts NULL.
 *  - Everything an op returns, and every tensor made by the transient creators
 *    (tg_zeros(), tg_from_data(), ...), lives in the context's step arena and
 *    is released in bulk by tg_ctx_reset(). The arena keeps its memory, so a
 *    training step that repeats the same shapes allocates nothing after the
 *    first step.
 */
#ifndef TINYGRAD_H
#define TINYGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinygrad_version.h"

/** @defgroup tg_version Version
 *  @brief Compile-time and run-time version numbers. */
/** @defgroup tg_errors Errors
 *  @brief Status codes and per-context error messages. */
/** @defgroup tg_context Contexts
 *  @brief The context: allocator, threads, RNG, step arena, last error. */
/** @defgroup tg_tensor Tensors
 *  @brief Float32 N-d tensors: creation, queries, data access. */
/** @defgroup tg_ops Operations
 *  @brief Graph-building ops, computed eagerly (define-by-run). */
/** @defgroup tg_autograd Autograd
 *  @brief Reverse-mode differentiation and no-grad mode. */
/** @defgroup tg_module Modules
 *  @brief Named, nested parameter containers and built-in layers. */
/** @defgroup tg_optim Optimisers
 *  @brief Pluggable optimisers and the built-in ones. */
/** @defgroup tg_data Data
 *  @brief Data sets (IDX, PNG trees), mini-batches and config files. */
/** @defgroup tg_io Serialization
 *  @brief safetensors save/load of module state and checkpoints. */
/** @defgroup tg_profile Profiling and summaries
 *  @brief Per-op and per-module timing (table, Chrome trace) and model
 *  summaries (layer tree, shapes, parameters, FLOPs). */
/** @defgroup tg_train Training
 *  @brief Optional layer over the core: fit/evaluate loops, early stopping,
 *  checkpoints, metrics files and charts. The core never calls into it. */

#ifndef TG_API
#  if defined(_WIN32) && defined(TG_BUILDING)
#    define TG_API __declspec(dllexport)
#  elif defined(_WIN32) && !defined(TG_STATIC)
#    define TG_API __declspec(dllimport)
#  elif defined(__GNUC__)
#    define TG_API __attribute__((visibility("default")))
#  else
#    define TG_API
#  endif
#endif

#ifndef TG_NODISCARD
#  if defined(__GNUC__)
#    define TG_NODISCARD __attribute__((warn_unused_result))
#  else
#    define TG_NODISCARD
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_version
 *  @{ */

/** @brief TG_VERSION_NUMBER of the library linked at run time.
 *  @since 0.1.0 */
TG_API unsigned tg_version(void);

/** @brief "MAJOR.MINOR.PATCH" of the library linked at run time.
 *  Ownership: static storage; never free. @since 0.1.0 */
TG_API const char *tg_version_string(void);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_errors
 *  @{ */

/** @brief Status codes. Values are ABI: never renumbered, only appended. */
typedef enum tg_status {
    TG_OK = 0,               /**< success */
    TG_ERR_INVALID_ARG = 1,  /**< NULL handle, bad value or option */
    TG_ERR_SHAPE = 2,        /**< shapes do not match or broadcast */
    TG_ERR_NOMEM = 3,        /**< allocation failed */
    TG_ERR_IO = 4,           /**< file could not be opened, read or written */
    TG_ERR_FORMAT = 5,       /**< malformed or unsupported file content */
    TG_ERR_STATE = 6,        /**< call not valid in the object's current state */
    TG_ERR_DTYPE = 7,        /**< wrong element type */
    TG_ERR_NOT_FOUND = 8,    /**< named item (parameter, key, file) missing */
    TG_ERR_LIMIT = 9,        /**< input exceeds a hard limit (size, rank) */
    TG_ERR_NUMERIC = 10,     /**< NaN or Inf detected */
    TG_ERR_MISUSE = 11,      /**< API misuse detected (stale handle, wrong thread); like SQLITE_MISUSE */
    TG_ERR_BUSY = 12         /**< object still in use by another (destroy refused); like SQLITE_BUSY */
} tg_status;

/** @brief Static English text for a status; never NULL, never free.
 *  Thread-safe. @since 0.1.0 */
TG_API const char *tg_status_string(tg_status status);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_context
 *  @{ */

/** @brief Opaque context: owns the allocator, worker threads, RNG, the step
 *  arena and the last error. One thread at a time. */
typedef struct tg_ctx tg_ctx;

/** @brief Opaque tensor handle (float32, contiguous, row-major). */
typedef struct tg_tensor tg_tensor;

/** @brief Log callback; @p level is 0 (info), 1 (warning) or 2 (error). */
typedef void (*tg_log_fn)(void *user, int level, const char *message);

/** @brief Context options. Initialise with tg_ctx_options_init(); fields are
 *  append-only and @p struct_size tells the library which ones you know. */
typedef struct tg_ctx_options {
    size_t struct_size;   /**< set by tg_ctx_options_init() */
    int n_threads;        /**< worker threads; 0 = $TG_NUM_THREADS, else all online CPUs */
    uint64_t seed;        /**< RNG seed for initialisers, rand/randn and dropout */
    /** Custom allocator (all three NULL = malloc/free). Memory returned must
     *  be aligned to at least 16 bytes; the library aligns to 64 itself. */
    void *(*alloc)(void *opaque, size_t size);
    void (*free)(void *opaque, void *ptr);   /**< releases what @p alloc returned */
    void *alloc_opaque;   /**< first argument to alloc/free */
    tg_log_fn log;        /**< optional log sink (NULL = silent) */
    void *log_user;       /**< first argument to @p log */
} tg_ctx_options;

/** @brief Fill @p opts with defaults (n_threads 0, seed 0, malloc, no log).
 *  @since 0.1.0 */
TG_API void tg_ctx_options_init(tg_ctx_options *opts);

/** @brief Create a context.
 *  @param[in]  opts options, or NULL for defaults
 *  @param[out] out  the new context; untouched on error
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_ctx_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_ctx_create(const tg_ctx_options *opts, tg_ctx **out);

/** @brief Destroy a context and everything still created from it (tensors,
 *  modules, optimisers, data sets), in any state and order of use. NULL is
 *  a no-op. @since 0.1.0 */
TG_API void tg_ctx_destroy(tg_ctx *ctx);

/** @brief Status of the last failing call on @p ctx (TG_OK if none since the
 *  last tg_ctx_clear_error()). @since 0.1.0 */
TG_API tg_status tg_ctx_last_status(const tg_ctx *ctx);

/** @brief Message of the last failing call, e.g. "matmul: shapes [32,1764]
 *  and [10,1764] do not align"; "" if none. Ownership: owned by @p ctx, valid
 *  until the next failing call. @since 0.1.0 */
TG_API const char *tg_ctx_last_error(const tg_ctx *ctx);

/** @brief Forget the last error. @since 0.1.0 */
TG_API void tg_ctx_clear_error(tg_ctx *ctx);

/** @brief Record a failure in @p ctx as the library's own calls do: sets the
 *  status and the message (printf-style, truncated to the context's message
 *  buffer) and passes the message to the context's log callback. For code
 *  layered on the public API (user modules, losses, hooks, libtinygrad-mpi)
 *  whose errors callers read with tg_ctx_last_error().
 *  @return @p status (so that `return tg_ctx_set_error(...)` reads well);
 *          a NULL @p ctx records nothing. @since 0.2.0 */
TG_API tg_status tg_ctx_set_error(tg_ctx *ctx, tg_status status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** @brief Release every transient tensor (op results and tensors made by the
 *  transient creators) in bulk. Persistent tensors, module parameters and
 *  their gradients live on. The arena keeps its memory for the next step.
 *  Tensors and modules destroyed while this step's graph used them are
 *  freed here. A transient tensor kept across the reset is refused by
 *  every op and accessor afterwards (TG_ERR_MISUSE; see @ref misuse).
 *  @since 0.1.0 */
TG_API void tg_ctx_reset(tg_ctx *ctx);

/** @brief Number of worker threads the context computes with (>= 1). */
TG_API int tg_ctx_n_threads(const tg_ctx *ctx);

/** @brief Re-seed the context's RNG (initialisers, rand/randn, dropout). */
TG_API void tg_ctx_manual_seed(tg_ctx *ctx, uint64_t seed);

/** @brief Memory statistics of a context. */
typedef struct tg_mem_stats {
    size_t arena_capacity;   /**< bytes reserved by the step arena */
    size_t arena_used;       /**< bytes in use in the step arena now */
    size_t arena_peak;       /**< high-water mark of arena_used */
    size_t persistent_bytes; /**< bytes held by persistent tensors and state */
    uint64_t n_allocs;       /**< calls made to the allocator so far */
} tg_mem_stats;

/** @brief Fill @p out with the context's memory statistics. @since 0.1.0 */
TG_API void tg_ctx_mem_stats(const tg_ctx *ctx, tg_mem_stats *out);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_tensor
 *  @{ */

/** @brief Maximum rank of a tensor. */
#define TG_MAX_DIMS 8

/** @brief Element types (only TG_F32 holds tensor data today). */
typedef enum tg_dtype { TG_F32 = 0, TG_I32 = 1, TG_U8 = 2 } tg_dtype;

/** @brief Create a persistent, zero-filled tensor (e.g. a parameter).
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, rank > TG_MAX_DIMS, dim < 0),
 *          TG_ERR_LIMIT (element count overflows), TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_tensor_destroy() (or it goes
 *  with tg_ctx_destroy()). *out untouched on error. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_tensor_create(tg_ctx *ctx, int ndim, const int64_t *shape,
                                               tg_tensor **out);

/** @brief Destroy a persistent tensor. NULL is a no-op; a transient tensor is
 *  left alone (the arena owns it). Refused (nothing freed, TG_ERR_BUSY and a
 *  message kept in the context) for a module's parameter or buffer (the
 *  module owns it) and for a tensor a live optimiser holds. If the current
 *  step's graph uses @p t (an op read it, or a view shares its data), it is
 *  freed at the next tg_ctx_reset(); the handle must not be used after this
 *  call either way. See @ref misuse. @since 0.1.0 */
TG_API void tg_tensor_destroy(tg_tensor *t);

/** @name Transient creators
 *  Return a new tensor in the step arena, or NULL with the reason kept in the
 *  context. Ownership: borrowed from @p ctx; valid until tg_ctx_reset().
 *  @{ */
/** Filled with zeros. */
TG_API tg_tensor *tg_zeros(tg_ctx *ctx, int ndim, const int64_t *shape);
/** Filled with ones. */
TG_API tg_tensor *tg_ones(tg_ctx *ctx, int ndim, const int64_t *shape);
/** Filled with @p value. */
TG_API tg_tensor *tg_full(tg_ctx *ctx, int ndim, const int64_t *shape, float value);
/** 1-D [start, start+step, ...) below @p end, like torch.arange. */
TG_API tg_tensor *tg_arange(tg_ctx *ctx, float start, float end, float step);
/** Copies @p n = numel floats from @p data. */
TG_API tg_tensor *tg_from_data(tg_ctx *ctx, int ndim, const int64_t *shape, const float *data,
                               size_t n);
/** Uniform in [lo, hi) from the context RNG. */
TG_API tg_tensor *tg_rand(tg_ctx *ctx, int ndim, const int64_t *shape, float lo, float hi);
/** Normal(mean, std) from the context RNG. */
TG_API tg_tensor *tg_randn(tg_ctx *ctx, int ndim, const int64_t *shape, float mean, float std);
/** A view sharing @p t's data that does not require grad (torch.detach). */
TG_API tg_tensor *tg_detach(tg_ctx *ctx, tg_tensor *t);
/** @} */

/** @brief Rank of @p t (0 if @p t is NULL). */
TG_API int tg_tensor_ndim(const tg_tensor *t);
/** @brief Size of dimension @p dim (negative counts from the end); -1 if out of range. */
TG_API int64_t tg_tensor_dim(const tg_tensor *t, int dim);
/** @brief The shape array (ndim entries). Ownership: borrowed from @p t. */
TG_API const int64_t *tg_tensor_shape(const tg_tensor *t);
/** @brief Number of elements. */
TG_API int64_t tg_tensor_numel(const tg_tensor *t);
/** @brief Element type (always TG_F32 today). */
TG_API tg_dtype tg_tensor_dtype(const tg_tensor *t);
/** @brief The context @p t belongs to. */
TG_API tg_ctx *tg_tensor_ctx(const tg_tensor *t);
/** @brief True for persistent tensors (tg_tensor_create(), parameters). */
TG_API bool tg_tensor_is_persistent(const tg_tensor *t);

/** @brief Zero-copy access to the elements (numel floats, row-major).
 *  Writing through it changes the tensor (not recorded by autograd).
 *  Ownership: borrowed from @p t. */
TG_API float *tg_tensor_data(tg_tensor *t);
/** @brief Copy the elements out. @p n must equal numel.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_SHAPE */
TG_API TG_NODISCARD tg_status tg_tensor_copy_data(const tg_tensor *t, float *dst, size_t n);
/** @brief Copy @p n = numel floats in. @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_SHAPE */
TG_API TG_NODISCARD tg_status tg_tensor_set_data(tg_tensor *t, const float *src, size_t n);
/** @brief Fill every element with @p value (in place, not recorded). */
TG_API void tg_tensor_fill(tg_tensor *t, float value);
/** @brief Fill uniformly in [lo, hi) from the context RNG (in place). */
TG_API void tg_tensor_uniform_(tg_tensor *t, float lo, float hi);
/** @brief Fill from Normal(mean, std) from the context RNG (in place). */
TG_API void tg_tensor_normal_(tg_tensor *t, float mean, float std);

/** @brief Whether gradients are tracked for @p t. */
TG_API bool tg_tensor_requires_grad(const tg_tensor *t);
/** @brief Mark a leaf tensor as requiring gradients. As in PyTorch, an op
 *  result that does not require grad (e.g. computed with grad disabled) is a
 *  leaf too; once marked it is differentiated as a leaf.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_STATE (not a leaf) */
TG_API TG_NODISCARD tg_status tg_tensor_set_requires_grad(tg_tensor *t, bool requires_grad);
/** @brief The accumulated gradient (numel floats), or NULL before the first
 *  backward that reached @p t (and for an op result after a backward that
 *  did not retain it: tg_ctx_set_retain_grads()). Ownership: borrowed from
 *  @p t; for transient tensors valid until tg_ctx_reset(). */
TG_API float *tg_tensor_grad(tg_tensor *t);
/** @brief Copy the gradient out (zeros if none yet). @p n must equal numel. */
TG_API TG_NODISCARD tg_status tg_tensor_copy_grad(const tg_tensor *t, float *dst, size_t n);
/** @brief Set the gradient to zero (keeps its memory). */
TG_API void tg_tensor_zero_grad(tg_tensor *t);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_ops
 *  Every op takes the context first and returns a new transient tensor, or
 *  NULL with the reason kept in the context. An op given a NULL input returns
 *  NULL and keeps the first error, so a whole forward pass can be checked
 *  once at the end. Binary ops broadcast like NumPy/PyTorch. Axes may be
 *  negative (counted from the end).
 *  Ownership of results: borrowed from @p ctx; valid until tg_ctx_reset().
 *  @{ */

/** @brief Loss reduction. */
typedef enum tg_reduction {
    TG_REDUCTION_MEAN = 0, /**< mean over elements (samples) */
    TG_REDUCTION_SUM = 1,  /**< sum */
    TG_REDUCTION_NONE = 2  /**< per-sample values */
} tg_reduction;

TG_API tg_tensor *tg_add(tg_ctx *ctx, tg_tensor *a, tg_tensor *b); /**< a + b */
TG_API tg_tensor *tg_sub(tg_ctx *ctx, tg_tensor *a, tg_tensor *b); /**< a - b */
TG_API tg_tensor *tg_mul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b); /**< a * b */
TG_API tg_tensor *tg_div(tg_ctx *ctx, tg_tensor *a, tg_tensor *b); /**< a / b */
TG_API tg_tensor *tg_add_scalar(tg_ctx *ctx, tg_tensor *a, float s); /**< a + s */
TG_API tg_tensor *tg_mul_scalar(tg_ctx *ctx, tg_tensor *a, float s); /**< a * s */
TG_API tg_tensor *tg_neg(tg_ctx *ctx, tg_tensor *a);                 /**< -a */
TG_API tg_tensor *tg_exp(tg_ctx *ctx, tg_tensor *a);                 /**< e^a */
TG_API tg_tensor *tg_log(tg_ctx *ctx, tg_tensor *a);                 /**< natural log */
TG_API tg_tensor *tg_sqrt(tg_ctx *ctx, tg_tensor *a);                /**< square root */
TG_API tg_tensor *tg_pow(tg_ctx *ctx, tg_tensor *a, float exponent); /**< a^exponent */

/** @brief Matrix product with torch.matmul semantics: 1-D x 1-D is a dot
 *  product, 1-D operands are promoted and the added dim removed, N-D operands
 *  broadcast their batch dims. Error example: "matmul: shapes [32,1764] and
 *  [10,1764] do not align". */
TG_API tg_tensor *tg_matmul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
/** @brief x @ w^T + b (torch.nn.functional.linear); x [..., in], w [out, in],
 *  b [out] or NULL. Fused: faster than matmul + add. */
TG_API tg_tensor *tg_linear(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b);

/** @brief Same data, new shape (no copy). One entry may be -1 (inferred). */
TG_API tg_tensor *tg_reshape(tg_ctx *ctx, tg_tensor *a, int ndim, const int64_t *shape);
/** @brief Merge dims start_dim..end_dim into one (no copy), like torch.flatten. */
TG_API tg_tensor *tg_flatten(tg_ctx *ctx, tg_tensor *a, int start_dim, int end_dim);
/** @brief Swap two dims (copies into a contiguous result). */
TG_API tg_tensor *tg_transpose(tg_ctx *ctx, tg_tensor *a, int dim0, int dim1);
/** @brief Reorder dims: result dim i is input dim perm[i]. */
TG_API tg_tensor *tg_permute(tg_ctx *ctx, tg_tensor *a, const int *perm);

/** @brief Sum over @p axis. */
TG_API tg_tensor *tg_sum(tg_ctx *ctx, tg_tensor *a, int axis, bool keepdim);
/** @brief Mean over @p axis. */
TG_API tg_tensor *tg_mean(tg_ctx *ctx, tg_tensor *a, int axis, bool keepdim);
/** @brief Max over @p axis; the gradient goes to the first maximum. */
TG_API tg_tensor *tg_max(tg_ctx *ctx, tg_tensor *a, int axis, bool keepdim);
/** @brief Sum of all elements (0-d result). */
TG_API tg_tensor *tg_sum_all(tg_ctx *ctx, tg_tensor *a);
/** @brief Mean of all elements (0-d result). */
TG_API tg_tensor *tg_mean_all(tg_ctx *ctx, tg_tensor *a);
/** @brief Max of all elements (0-d result); gradient to the first maximum. */
TG_API tg_tensor *tg_max_all(tg_ctx *ctx, tg_tensor *a);

TG_API tg_tensor *tg_relu(tg_ctx *ctx, tg_tensor *a);                       /**< max(a, 0) */
TG_API tg_tensor *tg_leaky_relu(tg_ctx *ctx, tg_tensor *a, float slope);   /**< a<0 ? slope*a : a */
TG_API tg_tensor *tg_sigmoid(tg_ctx *ctx, tg_tensor *a);                    /**< 1/(1+e^-a) */
TG_API tg_tensor *tg_tanh(tg_ctx *ctx, tg_tensor *a);                       /**< tanh(a) */
/** @brief Numerically stable softmax along @p axis. */
TG_API tg_tensor *tg_softmax(tg_ctx *ctx, tg_tensor *a, int axis);
/** @brief Numerically stable log-softmax along @p axis. */
TG_API tg_tensor *tg_log_softmax(tg_ctx *ctx, tg_tensor *a, int axis);

/** @brief Fused log-softmax + NLL from logits [N, C] and class indices
 *  @p targets (N values in [0, C); copied). Result 0-d (mean/sum) or [N]. */
TG_API tg_tensor *tg_cross_entropy(tg_ctx *ctx, tg_tensor *logits, const int32_t *targets,
                                   size_t n, tg_reduction reduction);
/** @brief Negative log-likelihood of log-probabilities [N, C]. */
TG_API tg_tensor *tg_nll_loss(tg_ctx *ctx, tg_tensor *log_probs, const int32_t *targets,
                              size_t n, tg_reduction reduction);
/** @brief Squared error between same-shaped @p a and @p b. */
TG_API tg_tensor *tg_mse_loss(tg_ctx *ctx, tg_tensor *a, tg_tensor *b, tg_reduction reduction);

/** @brief 2-D convolution (cross-correlation) like torch.nn.functional.conv2d.
 *  @param ctx the context
 *  @param x input [N, C_in, H, W]
 *  @param w weight [C_out, C_in/groups, kH, kW]
 *  @param b bias [C_out] or NULL
 *  @param stride step between windows (>= 1), both dims
 *  @param padding zeros added on every side (>= 0)
 *  @param dilation spacing between kernel taps (>= 1)
 *  @param groups channel groups (>= 1; divides C_in and C_out)
 *  Output [N, C_out, (H+2p-d(kH-1)-1)/s+1, ...]. */
TG_API tg_tensor *tg_conv2d(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b, int stride,
                            int padding, int dilation, int groups);
/** @brief Max pooling over [N, C, H, W]; padding counts as -inf; ties go to
 *  the first maximum in the window (as PyTorch). @p stride 0 = kernel. */
TG_API tg_tensor *tg_max_pool2d(tg_ctx *ctx, tg_tensor *x, int kernel, int stride, int padding);
/** @brief Average pooling over [N, C, H, W]; zero padding is counted in the
 *  divisor (PyTorch's count_include_pad=True). @p stride 0 = kernel. */
TG_API tg_tensor *tg_avg_pool2d(tg_ctx *ctx, tg_tensor *x, int kernel, int stride, int padding);
/** @brief Inverted dropout: in training zeroes each element with probability
 *  @p p (context RNG) and scales the rest by 1/(1-p); identity otherwise. */
TG_API tg_tensor *tg_dropout(tg_ctx *ctx, tg_tensor *x, float p, bool training);
/** @brief Batch normalisation over [N, C, H, W] per channel.
 *  In training, normalises with the batch statistics and updates
 *  @p running_mean / @p running_var in place (unbiased variance, like
 *  PyTorch) with @p momentum; otherwise uses the running statistics.
 *  @p weight, @p bias [C] may be NULL; running stats [C] may be NULL only
 *  in training. */
TG_API tg_tensor *tg_batch_norm2d(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                                  tg_tensor *running_mean, tg_tensor *running_var, bool training,
                                  float momentum, float eps);

/** @brief Join tensors along @p axis (torch.cat).
 *  All @p n inputs must have the same rank and the same size on every other
 *  dim; sizes on @p axis may differ (0 included). The result is a copy.
 *  Error example: "concat: input 1 has shape [2,4], input 0 has [3,3] (they
 *  must match except on axis 0)".
 *  @param ctx the context
 *  @param xs array of @p n input tensors
 *  @param n number of inputs (>= 1)
 *  @param axis dim to join along (negative counts from the end) */
TG_API tg_tensor *tg_concat(tg_ctx *ctx, tg_tensor *const *xs, int n, int axis);
/** @brief Elements start .. start+length-1 of @p axis (torch.narrow).
 *  The result is a view sharing @p x's data when those elements are
 *  contiguous (every dim before @p axis is 1, or the whole axis is taken),
 *  otherwise a copy. Backward adds the gradient into the selected elements.
 *  @p start may be negative (counted from the end). */
TG_API tg_tensor *tg_narrow(tg_ctx *ctx, tg_tensor *x, int axis, int64_t start, int64_t length);
/** @brief Python slice x[start:end:step] along @p axis: negative bounds
 *  count from the end and out-of-range bounds are clamped, as in Python;
 *  @p step >= 1. With step 1 this is tg_narrow() (a view when possible),
 *  otherwise a copy. */
TG_API tg_tensor *tg_slice(tg_ctx *ctx, tg_tensor *x, int axis, int64_t start, int64_t end,
                           int64_t step);
/** @brief Constant padding like torch.nn.functional.pad(mode="constant").
 *  @p pad holds @p n_pad values (even, at most twice the rank) in F.pad
 *  order: (last dim before, last dim after, next-to-last before, ...).
 *  Negative values crop. New elements are @p value; they get no gradient. */
TG_API tg_tensor *tg_pad(tg_ctx *ctx, tg_tensor *x, int n_pad, const int64_t *pad, float value);
/** @brief Adaptive average pooling of [N, C, H, W] to [N, C, out_h, out_w]
 *  (torch adaptive_avg_pool2d): output row i averages input rows
 *  floor(i*H/out_h) .. ceil((i+1)*H/out_h)-1, and likewise for columns. */
TG_API tg_tensor *tg_adaptive_avg_pool2d(tg_ctx *ctx, tg_tensor *x, int64_t out_h,
                                         int64_t out_w);
/** @brief Mean over each [H, W] plane: [N, C, H, W] -> [N, C, 1, 1]. */
TG_API tg_tensor *tg_global_avg_pool2d(tg_ctx *ctx, tg_tensor *x);
/** @brief Batch normalisation of [N, C] or [N, C, L] per channel
 *  (torch.nn.functional.batch_norm on 2-D/3-D input). Same rules as
 *  tg_batch_norm2d(): training uses the batch statistics and updates
 *  @p running_mean / @p running_var in place (unbiased variance) with
 *  @p momentum; evaluation uses the running statistics. @p weight, @p bias
 *  [C] may be NULL; running stats [C] may be NULL only in training. */
TG_API tg_tensor *tg_batch_norm1d(tg_ctx *ctx, tg_tensor *x, tg_tensor *weight, tg_tensor *bias,
                                  tg_tensor *running_mean, tg_tensor *running_var, bool training,
                                  float momentum, float eps);
/** @brief Layer normalisation over the last @p n_norm_dims dims
 *  (torch.nn.functional.layer_norm): each group is shifted to mean 0 and
 *  scaled by 1/sqrt(biased variance + @p eps), then multiplied by @p weight
 *  and shifted by @p bias (either may be NULL; both have the shape of the
 *  normalised dims).
 *  @param ctx the context
 *  @param x input of rank >= @p n_norm_dims
 *  @param n_norm_dims how many trailing dims form one group (>= 1)
 *  @param weight scale of the normalised shape, or NULL
 *  @param bias shift of the normalised shape, or NULL
 *  @param eps added to the variance (>= 0, e.g. 1e-5) */
TG_API tg_tensor *tg_layer_norm(tg_ctx *ctx, tg_tensor *x, int n_norm_dims, tg_tensor *weight,
                                tg_tensor *bias, float eps);
/** @brief GELU, exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
 *  (torch.nn.functional.gelu with approximate="none"). */
TG_API tg_tensor *tg_gelu(tg_ctx *ctx, tg_tensor *x);
/** @brief min(max(x, lo), hi) like torch.clamp (if lo > hi every element
 *  becomes hi). The gradient passes where lo <= x <= hi. Infinite bounds
 *  give a one-sided clamp; NaN bounds are refused. */
TG_API tg_tensor *tg_clamp(tg_ctx *ctx, tg_tensor *x, float lo, float hi);
/** @brief |x|; the gradient is sign(x), 0 at 0 (as PyTorch). */
TG_API tg_tensor *tg_abs(tg_ctx *ctx, tg_tensor *x);
/** @brief Element-wise maximum with broadcasting (torch.maximum). NaN
 *  propagates; where a == b each operand gets half the gradient. */
TG_API tg_tensor *tg_maximum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
/** @brief Element-wise minimum with broadcasting (torch.minimum). NaN
 *  propagates; where a == b each operand gets half the gradient. */
TG_API tg_tensor *tg_minimum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
/** @brief Index of the largest value along @p axis, stored as float
 *  (0, 1, ...); the first one on ties, the first NaN if any (torch.argmax).
 *  The result never requires grad. With @p keepdim the axis stays as size 1. */
TG_API tg_tensor *tg_argmax(tg_ctx *ctx, tg_tensor *x, int axis, bool keepdim);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_autograd
 *  @{ */

/** @brief Reverse-mode autodiff from a scalar (numel 1) @p loss: fills the
 *  gradient of every tensor that requires grad and reached @p loss, in
 *  reverse topological order. Gradients of leaves accumulate across calls
 *  until zeroed (tg_tensor_zero_grad(), tg_module_zero_grad(),
 *  tg_optim_zero_grad()); the graph stays valid until tg_ctx_reset(), so
 *  backward may be called again on it.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, not scalar), TG_ERR_STATE (loss
 *  does not require grad), TG_ERR_NOMEM */
TG_API TG_NODISCARD tg_status tg_backward(tg_ctx *ctx, tg_tensor *loss);

/** @brief Enable or disable graph recording (torch.no_grad()); returns the
 *  previous setting. With grad disabled, op results never require grad and
 *  record no inputs, which saves memory and time in inference. */
TG_API bool tg_ctx_set_grad_enabled(tg_ctx *ctx, bool enabled);
/** @brief Whether graph recording is enabled (default true). */
TG_API bool tg_ctx_grad_enabled(const tg_ctx *ctx);

/** @brief Anomaly detection (like torch.autograd.detect_anomaly): when on,
 *  tg_backward() first checks every value in the graph and then every
 *  gradient as it is produced, and fails with TG_ERR_NUMERIC naming the first
 *  op whose output (or input gradient) holds a NaN or Inf, e.g.
 *  "anomaly: log produced a non-finite value in its output (element 3 of
 *  [4])". Costs a pass over the graph; off by default. Returns the previous
 *  setting. */
TG_API bool tg_ctx_set_detect_anomaly(tg_ctx *ctx, bool enabled);

/** @brief Whether tg_backward() keeps the gradients of intermediate tensors
 *  (op results) after it returns; returns the previous setting. On by
 *  default, as in 0.1.0. Off, as in PyTorch without retain_grad(), an
 *  intermediate's gradient lives only while backward needs it, from the
 *  first backward function that writes it to that of the op that made it;
 *  its buffer then takes the gradient of a tensor further back, and
 *  tg_tensor_grad() returns NULL for it afterwards. Leaves (parameters, and
 *  inputs marked with tg_tensor_set_requires_grad()) keep theirs either way,
 *  bit for bit the same. Off needs less memory (ResNet-8 training at batch
 *  64: 79 MB peak RSS instead of 110). tg_fit() turns it off for its steps.
 *  @since 0.2.0 */
TG_API bool tg_ctx_set_retain_grads(tg_ctx *ctx, bool retain);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_module
 *  A module owns named parameters (persistent tensors that require grad),
 *  named buffers (persistent tensors that do not, e.g. running statistics)
 *  and named child modules. Parameter names are dotted paths as in PyTorch
 *  (`features.0.weight`). Built-in layers initialise like PyTorch's defaults
 *  (Kaiming-uniform) from the context RNG.
 *  @{ */

/** @brief Opaque module. */
typedef struct tg_module tg_module;

/** @brief Behaviour of a module type; user-defined modules provide one. */
typedef struct tg_module_vtable {
    size_t struct_size;   /**< sizeof(tg_module_vtable) */
    const char *type_name;/**< e.g. "Linear"; static storage */
    /** Forward pass; returns a transient tensor or NULL (error kept in ctx). */
    tg_tensor *(*forward)(tg_module *self, tg_ctx *ctx, tg_tensor *x);
    /** Optional: release @p userdata when the module is destroyed. */
    void (*destroy_userdata)(void *userdata);
} tg_module_vtable;

/** @brief Create a module of a user-defined type.
 *  @param ctx the context the module and its parameters live in
 *  @param vtable must outlive the module (usually static)
 *  @param userdata handed back by tg_module_userdata(); released with
 *         vtable->destroy_userdata if set
 *  @param[out] out the new module; untouched on error
 *  Ownership: caller owns *out; release with tg_module_destroy() unless it is
 *  added to a parent, which then owns it. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_module_create(tg_ctx *ctx, const tg_module_vtable *vtable,
                                               void *userdata, tg_module **out);
/** @brief Destroy a module, its children, parameters and buffers. NULL is a
 *  no-op. Refused (nothing freed, TG_ERR_BUSY and a message kept in the
 *  context) for a module owned by a parent, or while a live optimiser holds
 *  one of its tensors. If the current step's graph uses one of its tensors,
 *  it is freed at the next tg_ctx_reset(). See @ref misuse. */
TG_API void tg_module_destroy(tg_module *m);
/** @brief The userdata given at creation. */
TG_API void *tg_module_userdata(const tg_module *m);
/** @brief The type name from the vtable (e.g. "Conv2d"). */
TG_API const char *tg_module_type(const tg_module *m);
/** @brief The context the module was created in. */
TG_API tg_ctx *tg_module_ctx(const tg_module *m);

/** @brief Register a new zero-filled parameter named @p name (no dots).
 *  Ownership of *out: borrowed from @p m (lives as long as the module).
 *  @return TG_OK, TG_ERR_INVALID_ARG (bad or duplicate name), TG_ERR_NOMEM */
TG_API TG_NODISCARD tg_status tg_module_add_param(tg_module *m, const char *name, int ndim,
                                                  const int64_t *shape, tg_tensor **out);
/** @brief Register a new zero-filled buffer (saved with the state, never
 *  trained). Ownership of *out: borrowed from @p m. */
TG_API TG_NODISCARD tg_status tg_module_add_buffer(tg_module *m, const char *name, int ndim,
                                                   const int64_t *shape, tg_tensor **out);
/** @brief Add @p child under @p name; @p m takes ownership (also on error,
 *  @p child is left untouched and still the caller's). */
TG_API TG_NODISCARD tg_status tg_module_add_child(tg_module *m, const char *name,
                                                  tg_module *child);
/** @brief Number of direct children. */
TG_API size_t tg_module_n_children(const tg_module *m);
/** @brief Direct child @p i (NULL if out of range); borrowed. */
TG_API tg_module *tg_module_child(const tg_module *m, size_t i);
/** @brief Direct child by name (NULL if none); borrowed. */
TG_API tg_module *tg_module_child_by_name(const tg_module *m, const char *name);

/** @brief Run the module's forward pass on @p x. */
TG_API tg_tensor *tg_module_forward(tg_module *m, tg_tensor *x);

/** @brief Number of parameters in @p m and its descendants (recursive). */
TG_API size_t tg_module_n_params(const tg_module *m);
/** @brief Parameter @p i in registration order (depth-first, own parameters
 *  before children's), with its dotted name in *name if @p name is not NULL.
 *  Ownership: both borrowed from @p m; the name is valid until the module's
 *  structure changes. NULL if out of range. */
TG_API tg_tensor *tg_module_param(tg_module *m, size_t i, const char **name);
/** @brief Number of state entries (parameters and buffers, recursive). */
TG_API size_t tg_module_n_state(const tg_module *m);
/** @brief State entry @p i (parameters and buffers in registration order);
 *  *is_param tells which. Ownership as tg_module_param(). */
TG_API tg_tensor *tg_module_state(tg_module *m, size_t i, const char **name, bool *is_param);
/** @brief Find a parameter or buffer by dotted name; NULL if absent. */
TG_API tg_tensor *tg_module_find(tg_module *m, const char *dotted_name);
/** @brief Total number of trainable scalars. */
TG_API int64_t tg_module_n_weights(const tg_module *m);

/** @brief Set training (true) or evaluation mode, recursively. */
TG_API void tg_module_train(tg_module *m, bool training);
/** @brief Whether @p m is in training mode (default true). */
TG_API bool tg_module_is_training(const tg_module *m);
/** @brief Zero the gradients of every parameter (recursive). */
TG_API void tg_module_zero_grad(tg_module *m);

/** @name Built-in layers
 *  Each creates a module the caller owns (tg_module_destroy() or a parent).
 *  Return TG_OK, TG_ERR_INVALID_ARG (NULL ctx/out, non-positive sizes),
 *  TG_ERR_NOMEM; *out untouched on error.
 *  @{ */
/** Linear: weight [out, in], bias [out]; y = x W^T + b.
 *  @deprecated Use tg_nn_linear() (tg_linear_options). */
TG_API TG_NODISCARD tg_status tg_linear_create(tg_ctx *ctx, int64_t in_features,
                                               int64_t out_features, bool bias, tg_module **out);
/** Conv2d: weight [out_c, in_c/groups, k, k], bias [out_c].
 *  @deprecated Use tg_nn_conv2d() (tg_conv2d_options). */
TG_API TG_NODISCARD tg_status tg_conv2d_create(tg_ctx *ctx, int64_t in_channels,
                                               int64_t out_channels, int kernel, int stride,
                                               int padding, int dilation, int groups, bool bias,
                                               tg_module **out);
/** MaxPool2d (stride 0 = kernel).
 *  @deprecated Use tg_nn_maxpool2d() (tg_pool2d_options). */
TG_API TG_NODISCARD tg_status tg_maxpool2d_create(tg_ctx *ctx, int kernel, int stride,
                                                  int padding, tg_module **out);
/** AvgPool2d (stride 0 = kernel).
 *  @deprecated Use tg_nn_avgpool2d() (tg_pool2d_options). */
TG_API TG_NODISCARD tg_status tg_avgpool2d_create(tg_ctx *ctx, int kernel, int stride,
                                                  int padding, tg_module **out);
/** ReLU. @deprecated Use tg_nn_relu(). */
TG_API TG_NODISCARD tg_status tg_relu_create(tg_ctx *ctx, tg_module **out);
/** Flatten all but the first dim. @deprecated Use tg_nn_flatten(). */
TG_API TG_NODISCARD tg_status tg_flatten_create(tg_ctx *ctx, tg_module **out);
/** Dropout with probability @p p (active in training mode only).
 *  @deprecated Use tg_nn_dropout(). */
TG_API TG_NODISCARD tg_status tg_dropout_create(tg_ctx *ctx, float p, tg_module **out);
/** BatchNorm2d: weight/bias [C] (ones/zeros), buffers running_mean,
 *  running_var [C] and num_batches_tracked [1].
 *  @deprecated Use tg_nn_batchnorm2d() (tg_batchnorm_options). */
TG_API TG_NODISCARD tg_status tg_batchnorm2d_create(tg_ctx *ctx, int64_t channels, float eps,
                                                    float momentum, tg_module **out);
/** Sequential: forward runs children in order; children named "0", "1", ...
 *  @deprecated Use tg_nn_sequential() (same module; the new name matches
 *  the other constructors). */
TG_API TG_NODISCARD tg_status tg_sequential_create(tg_ctx *ctx, tg_module **out);
/** Append @p child to a Sequential (ownership as tg_module_add_child()). */
TG_API TG_NODISCARD tg_status tg_sequential_append(tg_module *seq, tg_module *child);
/** @} */

/** @name Layer options (0.2.0)
 *  Options structs for the layer constructors, in the style of the
 *  optimisers: fill the defaults with tg_x_options_init() (required sizes
 *  as arguments, everything else as PyTorch's defaults), change what
 *  matters, then pass a pointer, so that a call names what it sets:
 *  @code
 *  tg_conv2d_options c;
 *  tg_conv2d_options_init(&c, 1, 16, 3);   // in, out, kernel
 *  c.padding = 1;
 *  tg_module *conv;
 *  if (tg_nn_conv2d(ctx, &c, &conv) != TG_OK) ...
 *  @endcode
 *  @{ */

/** @brief tg_nn_linear() options (torch.nn.Linear). */
typedef struct tg_linear_options {
    size_t struct_size;      /**< set by tg_linear_options_init() */
    int64_t in_features;     /**< input width (> 0) */
    int64_t out_features;    /**< output width (> 0) */
    bool bias;               /**< add a bias (default true) */
} tg_linear_options;
/** @brief Defaults: bias true. @since 0.2.0 */
TG_API void tg_linear_options_init(tg_linear_options *o, int64_t in_features,
                                   int64_t out_features);

/** @brief tg_nn_conv2d() options (torch.nn.Conv2d with square kernels). */
typedef struct tg_conv2d_options {
    size_t struct_size;      /**< set by tg_conv2d_options_init() */
    int64_t in_channels;     /**< input channels (> 0, divisible by groups) */
    int64_t out_channels;    /**< output channels (> 0, divisible by groups) */
    int kernel;              /**< kernel height and width (> 0) */
    int stride;              /**< default 1 */
    int padding;             /**< zero padding on every side (default 0) */
    int dilation;            /**< default 1 */
    int groups;              /**< default 1 */
    bool bias;               /**< default true */
} tg_conv2d_options;
/** @brief Defaults: stride 1, padding 0, dilation 1, groups 1, bias true.
 *  @since 0.2.0 */
TG_API void tg_conv2d_options_init(tg_conv2d_options *o, int64_t in_channels,
                                   int64_t out_channels, int kernel);

/** @brief tg_nn_batchnorm2d() options (torch.nn.BatchNorm2d). */
typedef struct tg_batchnorm_options {
    size_t struct_size;      /**< set by tg_batchnorm_options_init() */
    int64_t num_features;    /**< channels C of an [N, C, H, W] input (> 0) */
    float eps;               /**< added to the variance (default 1e-5) */
    float momentum;          /**< running-statistics momentum in [0, 1] (default 0.1) */
    /** Learnable weight and bias (default true); false: no parameters, the
     *  normalised input is returned as is (torch affine=False). */
    bool affine;
} tg_batchnorm_options;
/** @brief Defaults: eps 1e-5, momentum 0.1, affine true. @since 0.2.0 */
TG_API void tg_batchnorm_options_init(tg_batchnorm_options *o, int64_t num_features);

/** @brief tg_nn_maxpool2d() / tg_nn_avgpool2d() options. */
typedef struct tg_pool2d_options {
    size_t struct_size;      /**< set by tg_pool2d_options_init() */
    int kernel;              /**< window height and width (> 0) */
    int stride;              /**< 0 (default) = kernel, as PyTorch's stride=None */
    int padding;             /**< default 0; at most kernel / 2 */
} tg_pool2d_options;
/** @brief Defaults: stride = kernel, padding 0. @since 0.2.0 */
TG_API void tg_pool2d_options_init(tg_pool2d_options *o, int kernel);
/** @} */

/** @name Layer constructors (0.2.0)
 *  Each creates a module the caller owns (tg_module_destroy() or a parent
 *  through tg_module_add_child() / tg_sequential_append()), with PyTorch's
 *  default initialisation from the context RNG. Type names (tg_module_type())
 *  are PyTorch's class names. Each returns TG_OK, TG_ERR_INVALID_ARG (NULL
 *  ctx, out or options, bad struct_size, a bad value: the message names it)
 *  or TG_ERR_NOMEM; *out is untouched on error.
 *  Ownership: caller owns *out; release with tg_module_destroy().
 *  @{ */
/** @brief Linear ("Linear"): weight [out, in], bias [out]; y = x W^T + b.
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_linear(tg_ctx *ctx, const tg_linear_options *o,
                                           tg_module **out);
/** @brief Conv2d ("Conv2d"): weight [out_c, in_c/groups, k, k], bias [out_c].
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_conv2d(tg_ctx *ctx, const tg_conv2d_options *o,
                                           tg_module **out);
/** @brief BatchNorm2d ("BatchNorm2d"): weight/bias [C] (ones/zeros, when
 *  affine), buffers running_mean, running_var [C] and num_batches_tracked [1].
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_batchnorm2d(tg_ctx *ctx, const tg_batchnorm_options *o,
                                                tg_module **out);
/** @brief MaxPool2d ("MaxPool2d"). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_maxpool2d(tg_ctx *ctx, const tg_pool2d_options *o,
                                              tg_module **out);
/** @brief AvgPool2d ("AvgPool2d"; padding counts as zeros, torch's
 *  count_include_pad=True). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_avgpool2d(tg_ctx *ctx, const tg_pool2d_options *o,
                                              tg_module **out);
/** @brief ReLU ("ReLU"). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_relu(tg_ctx *ctx, tg_module **out);
/** @brief Flatten ("Flatten"): every dimension but the first into one.
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_flatten(tg_ctx *ctx, tg_module **out);
/** @brief Dropout ("Dropout") with drop probability @p p in [0, 1], active
 *  in training mode only. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_dropout(tg_ctx *ctx, float p, tg_module **out);
/** @brief Global average pooling ("AdaptiveAvgPool2d", output size 1x1):
 *  [N, C, H, W] -> [N, C, 1, 1], like torch.nn.AdaptiveAvgPool2d(1)
 *  (tg_global_avg_pool2d()).
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_global_avgpool2d(tg_ctx *ctx, tg_module **out);
/** @brief Sequential ("Sequential"): forward runs the children in order;
 *  tg_sequential_append() names them "0", "1", ... @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_sequential(tg_ctx *ctx, tg_module **out);
/** @} */

/** @name Residual networks (0.2.0)
 *  See the guide @ref residual-networks "Residual networks".
 *  @{ */

/** @brief tg_nn_resnet_block() options. */
typedef struct tg_resnet_block_options {
    size_t struct_size;      /**< set by tg_resnet_block_options_init() */
    int64_t in_channels;     /**< input channels (> 0) */
    int64_t out_channels;    /**< output channels (> 0) */
    int stride;              /**< stride of conv1 and of the shortcut (default 1) */
} tg_resnet_block_options;
/** @brief Defaults: stride 1. @since 0.2.0 */
TG_API void tg_resnet_block_options_init(tg_resnet_block_options *o, int64_t in_channels,
                                         int64_t out_channels);

/** @brief A ResNet basic block (type "BasicBlock", torchvision's
 *  BasicBlock): y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
 *  conv1 is 3x3 with the block's stride, conv2 3x3 stride 1, both padding 1
 *  and without bias; bn1, bn2 are BatchNorm2d (eps 1e-5, momentum 0.1). The
 *  shortcut is the identity when the shape is kept (stride 1 and
 *  in_channels == out_channels); otherwise a child "shortcut", a Sequential
 *  of a 1x1 convolution with the block's stride (no bias) "0" and a
 *  BatchNorm2d "1". State names: conv1.weight, bn1.weight, bn1.bias,
 *  bn1.running_mean, ..., conv2.weight, bn2.*, shortcut.0.weight,
 *  shortcut.1.*: torchvision's names with "downsample" renamed "shortcut".
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size, channels <= 0,
 *          stride <= 0), TG_ERR_NOMEM; *out untouched on error.
 *  Ownership: caller owns *out; release with tg_module_destroy().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_resnet_block(tg_ctx *ctx, const tg_resnet_block_options *o,
                                                 tg_module **out);

/** @brief tg_nn_resnet_cifar() options. */
typedef struct tg_resnet_cifar_options {
    size_t struct_size;      /**< set by tg_resnet_cifar_options_init() */
    int depth;               /**< 6n + 2: 8 (n = 1), 14, 20 (n = 3), 32, ... */
    int64_t in_channels;     /**< input channels (default 3) */
    int64_t num_classes;     /**< output width of the final Linear (default 10) */
} tg_resnet_cifar_options;
/** @brief Defaults: 3 input channels, 10 classes. @since 0.2.0 */
TG_API void tg_resnet_cifar_options_init(tg_resnet_cifar_options *o, int depth);

/** @brief The CIFAR ResNet of He et al. (2016, section 4.2), type "ResNet":
 *  stem conv3x3 (16 channels, no bias) "conv1" + BatchNorm2d "bn1" + ReLU,
 *  then three stages "layer1", "layer2", "layer3" (each a Sequential of n =
 *  (depth - 2) / 6 tg_nn_resnet_block() blocks at 16, 32 and 64 channels;
 *  the first block of stages 2 and 3 has stride 2 and a 1x1 shortcut), global
 *  average pooling, and a Linear "fc" to num_classes. Input [N, C, H, W]
 *  (32x32 for CIFAR), output [N, num_classes]. ResNet-8 for 10 classes has
 *  78,042 weights, ResNet-20 272,474.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size, depth not 6n+2
 *          with n >= 1, channels or classes <= 0), TG_ERR_NOMEM.
 *  Ownership: caller owns *out; release with tg_module_destroy().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_resnet_cifar(tg_ctx *ctx, const tg_resnet_cifar_options *o,
                                                 tg_module **out);
/** @} */

/** @name Layers for the 0.2.0 ops
 *  Same conventions as the other tg_nn_* constructors.
 *  @{ */
/** @brief GELU ("GELU"), the exact erf form (tg_gelu()). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_gelu(tg_ctx *ctx, tg_module **out);
/** @brief Identity ("Identity"): returns its input (a placeholder, e.g. a
 *  removed head). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_identity(tg_ctx *ctx, tg_module **out);
/** @brief BatchNorm1d ("BatchNorm1d") over [N, C] or [N, C, L]
 *  (tg_batch_norm1d()); parameters and buffers as tg_nn_batchnorm2d().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_batchnorm1d(tg_ctx *ctx, const tg_batchnorm_options *o,
                                                tg_module **out);
/** @brief AdaptiveAvgPool2d ("AdaptiveAvgPool2d") to @p out_h x @p out_w
 *  (tg_adaptive_avg_pool2d()). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_adaptive_avgpool2d(tg_ctx *ctx, int64_t out_h,
                                                       int64_t out_w, tg_module **out);

/** @brief tg_nn_layernorm() options (torch.nn.LayerNorm). */
typedef struct tg_layernorm_options {
    size_t struct_size;            /**< set by tg_layernorm_options_init() */
    int n_dims;                    /**< trailing dimensions normalised (1..4) */
    int64_t normalized_shape[4];   /**< their sizes (the first n_dims entries) */
    float eps;                     /**< default 1e-5 */
    bool elementwise_affine;       /**< learnable weight (ones) and bias (zeros) of normalized_shape (default true) */
} tg_layernorm_options;
/** @brief Defaults: eps 1e-5, elementwise_affine true; @p n_dims sizes
 *  from @p shape (at most 4 are read). @since 0.2.0 */
TG_API void tg_layernorm_options_init(tg_layernorm_options *o, int n_dims,
                                      const int64_t *shape);
/** @brief LayerNorm ("LayerNorm") over the last n_dims dimensions
 *  (tg_layer_norm()). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_nn_layernorm(tg_ctx *ctx, const tg_layernorm_options *o,
                                              tg_module **out);
/** @} */

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_optim
 *  An optimiser updates a fixed list of parameters. Its algorithm is a
 *  vtable: per-parameter update over flat arrays plus per-parameter state
 *  buffers that the library allocates (zeroed) on the first step. Built-in
 *  optimisers use the same interface a user's does.
 *  @{ */

/** @brief Opaque optimiser. */
typedef struct tg_optim tg_optim;

/** @brief What one per-parameter update sees. */
typedef struct tg_optim_update {
    float *param;          /**< parameter values, @p n floats (update in place) */
    const float *grad;     /**< gradient, @p n floats */
    float *const *state;   /**< vtable->n_state buffers of @p n floats each */
    size_t n;              /**< number of elements */
    int64_t step;          /**< 1 on the first step */
    float lr;              /**< current learning rate */
    size_t index;          /**< parameter index */
    const char *name;      /**< parameter's dotted name ("" if none) */
} tg_optim_update;

/** @brief Behaviour of an optimiser type. */
typedef struct tg_optim_vtable {
    size_t struct_size;    /**< sizeof(tg_optim_vtable) */
    const char *name;      /**< e.g. "SGD"; static storage */
    int n_state;           /**< per-parameter state buffers (0..8), e.g. Adam 2 */
    /** Update one parameter; @p hyper is the creator's pointer. */
    void (*update)(void *hyper, const tg_optim_update *u);
    /** Optional: release @p hyper when the optimiser is destroyed. */
    void (*destroy_hyper)(void *hyper);
} tg_optim_vtable;

/** @brief Create an optimiser over every parameter of @p m (recursive).
 *  Ownership: caller owns *out; release with tg_optim_destroy(). While it
 *  lives, tg_module_destroy() on @p m is refused (TG_ERR_BUSY). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_optim_create(tg_ctx *ctx, tg_module *m,
                                              const tg_optim_vtable *vtable, void *hyper, float lr,
                                              tg_optim **out);
/** @brief Create an optimiser over an explicit list of persistent tensors
 *  (copied list; while it lives, destroying one of them, or the module
 *  owning it, is refused with TG_ERR_BUSY). @p names may be NULL. */
TG_API TG_NODISCARD tg_status tg_optim_create_params(tg_ctx *ctx, tg_tensor *const *params,
                                                     const char *const *names, size_t n,
                                                     const tg_optim_vtable *vtable, void *hyper,
                                                     float lr, tg_optim **out);
/** @brief Destroy; NULL is a no-op. */
TG_API void tg_optim_destroy(tg_optim *opt);
/** @brief Apply one update to every parameter that has a gradient.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_NOMEM (first step only) */
TG_API TG_NODISCARD tg_status tg_optim_step(tg_optim *opt);
/** @brief Zero every parameter's gradient. */
TG_API void tg_optim_zero_grad(tg_optim *opt);
/** @brief Set the learning rate used from the next step on. */
TG_API void tg_optim_set_lr(tg_optim *opt, float lr);
/** @brief Current learning rate. */
TG_API float tg_optim_lr(const tg_optim *opt);
/** @brief Steps taken so far. */
TG_API int64_t tg_optim_step_count(const tg_optim *opt);
/** @brief Set the step count (when restoring a checkpoint). */
TG_API void tg_optim_set_step_count(tg_optim *opt, int64_t steps);
/** @brief The optimiser's name from its vtable. */
TG_API const char *tg_optim_name(const tg_optim *opt);
/** @brief The hyper-parameter pointer given at creation. */
TG_API void *tg_optim_hyper(const tg_optim *opt);
/** @brief Number of parameters optimised. */
TG_API size_t tg_optim_n_params(const tg_optim *opt);
/** @brief Parameter @p i and its name (borrowed). NULL if out of range. */
TG_API tg_tensor *tg_optim_param(const tg_optim *opt, size_t i, const char **name);
/** @brief State buffers per parameter (vtable->n_state). */
TG_API int tg_optim_n_state(const tg_optim *opt);
/** @brief State buffer @p slot of parameter @p i (numel floats), allocated
 *  (zeroed) on demand so a checkpoint can be restored before the first step.
 *  Ownership: borrowed from @p opt. NULL on bad index or no memory. */
TG_API float *tg_optim_state(tg_optim *opt, size_t i, int slot);

/** @brief SGD options (torch.optim.SGD). */
typedef struct tg_sgd_options {
    size_t struct_size;    /**< set by tg_sgd_options_init() */
    float lr;              /**< learning rate (default 0.01) */
    float momentum;        /**< default 0 */
    float dampening;       /**< default 0 */
    float weight_decay;    /**< L2 penalty added to the gradient (default 0) */
    bool nesterov;         /**< Nesterov momentum (needs momentum > 0) */
} tg_sgd_options;
/** @brief Adam / AdamW options (torch.optim.Adam, AdamW). */
typedef struct tg_adam_options {
    size_t struct_size;    /**< set by tg_adam_options_init() */
    float lr;              /**< default 0.001 */
    float beta1;           /**< default 0.9 */
    float beta2;           /**< default 0.999 */
    float eps;             /**< default 1e-8 */
    float weight_decay;    /**< Adam: L2 into the gradient; AdamW: decoupled (default 0, AdamW 0.01) */
} tg_adam_options;
/** @brief RMSprop options (torch.optim.RMSprop). */
typedef struct tg_rmsprop_options {
    size_t struct_size;    /**< set by tg_rmsprop_options_init() */
    float lr;              /**< default 0.01 */
    float alpha;           /**< smoothing constant, default 0.99 */
    float eps;             /**< default 1e-8 */
    float weight_decay;    /**< default 0 */
    float momentum;        /**< default 0 */
} tg_rmsprop_options;
/** @brief Adagrad options (torch.optim.Adagrad). */
typedef struct tg_adagrad_options {
    size_t struct_size;    /**< set by tg_adagrad_options_init() */
    float lr;              /**< default 0.01 */
    float lr_decay;        /**< default 0 */
    float weight_decay;    /**< default 0 */
    float eps;             /**< default 1e-10 */
} tg_adagrad_options;

TG_API void tg_sgd_options_init(tg_sgd_options *o);         /**< PyTorch defaults */
TG_API void tg_adam_options_init(tg_adam_options *o);       /**< PyTorch defaults */
TG_API void tg_adamw_options_init(tg_adam_options *o);      /**< weight_decay 0.01 */
TG_API void tg_rmsprop_options_init(tg_rmsprop_options *o); /**< PyTorch defaults */
TG_API void tg_adagrad_options_init(tg_adagrad_options *o); /**< PyTorch defaults */

/** @name Built-in optimisers over every parameter of @p m
 *  @p opts NULL = defaults. Ownership: caller owns *out; tg_optim_destroy().
 *  @return TG_OK, TG_ERR_INVALID_ARG (bad hyper-parameter), TG_ERR_NOMEM
 *  @{ */
/** SGD with optional momentum, dampening, Nesterov and weight decay. */
TG_API TG_NODISCARD tg_status tg_sgd_create(tg_ctx *ctx, tg_module *m, const tg_sgd_options *opts,
                                            tg_optim **out);
/** Adam (2 state buffers: first and second moments). */
TG_API TG_NODISCARD tg_status tg_adam_create(tg_ctx *ctx, tg_module *m,
                                             const tg_adam_options *opts, tg_optim **out);
/** AdamW: Adam with decoupled weight decay. */
TG_API TG_NODISCARD tg_status tg_adamw_create(tg_ctx *ctx, tg_module *m,
                                              const tg_adam_options *opts, tg_optim **out);
/** RMSprop. */
TG_API TG_NODISCARD tg_status tg_rmsprop_create(tg_ctx *ctx, tg_module *m,
                                                const tg_rmsprop_options *opts, tg_optim **out);
/** Adagrad. */
TG_API TG_NODISCARD tg_status tg_adagrad_create(tg_ctx *ctx, tg_module *m,
                                                const tg_adagrad_options *opts, tg_optim **out);
/** @} */

/** @name Learning-rate schedulers (0.2.0)
 *  A scheduler is a function of the number of steps taken, t = 0, 1, ...
 *  (epochs or batches, as @ref tg_scheduler_options.per_batch says), whose
 *  value is the learning rate torch.optim.lr_scheduler gives after t calls
 *  of scheduler.step(). Because it depends on t alone, a run resumed from a
 *  checkpoint sees the same rates. tg_fit() applies one when given in
 *  tg_fit_options.scheduler. Guide: @ref schedulers "Learning-rate schedules".
 *  @{ */

/** @brief Scheduler kinds (values are ABI). */
typedef enum tg_sched_kind {
    TG_SCHED_CONSTANT = 0,   /**< base_lr (with warm-up: torch LinearLR alone) */
    TG_SCHED_STEP = 1,       /**< StepLR: base_lr * gamma^(t / step_size) */
    TG_SCHED_MULTISTEP = 2,  /**< MultiStepLR: base_lr * gamma^(milestones passed) */
    TG_SCHED_COSINE = 3,     /**< CosineAnnealingLR(T_max, eta_min) */
    TG_SCHED_ONE_CYCLE = 4   /**< OneCycleLR (cosine annealing, two phases) */
} tg_sched_kind;

/** @brief Largest number of milestones of a multi-step schedule. */
#define TG_SCHED_MAX_MILESTONES 64

/** @brief tg_scheduler_create() options. */
typedef struct tg_scheduler_options {
    size_t struct_size;      /**< set by tg_scheduler_options_init() */
    tg_sched_kind kind;      /**< default TG_SCHED_CONSTANT */
    /** Learning rate at t = 0 (before warm-up); 0 (default) = the
     *  optimiser's rate when the scheduler is first applied to it. Set it
     *  when resuming: tg_checkpoint_load() restores the optimiser's last
     *  rate, not its first. Not used by one-cycle. */
    double base_lr;
    /** Count batches (true) or epochs (false, default) as steps. */
    bool per_batch;
    int64_t step_size;       /**< step: steps between decays (default 1) */
    double gamma;            /**< step, multi-step: decay factor (default 0.1) */
    /** multi-step: increasing step numbers at which the rate is multiplied
     *  by gamma (copied; at most TG_SCHED_MAX_MILESTONES) */
    const int64_t *milestones;
    size_t n_milestones;     /**< number of @p milestones */
    int64_t t_max;           /**< cosine: half period in steps (default 1) */
    double eta_min;          /**< cosine: lowest rate (default 0) */
    /** Linear warm-up before the main schedule (torch SequentialLR of
     *  LinearLR(start_factor, 1.0, warmup_steps) then the schedule, which
     *  starts its own count at 0 after the warm-up). 0 = none (default).
     *  Not combined with one-cycle, which has its own warm-up. */
    int64_t warmup_steps;
    double warmup_start_factor; /**< warm-up: factor at t = 0 (default 1/3, as LinearLR) */
    double max_lr;           /**< one-cycle: peak rate */
    int64_t total_steps;     /**< one-cycle: length of the cycle in steps */
    double pct_start;        /**< one-cycle: share of the cycle spent rising (default 0.3) */
    double div_factor;       /**< one-cycle: initial rate = max_lr / div_factor (default 25) */
    double final_div_factor; /**< one-cycle: final rate = initial / final_div_factor (default 1e4) */
} tg_scheduler_options;

/** @brief Defaults as torch.optim.lr_scheduler's. @since 0.2.0 */
TG_API void tg_scheduler_options_init(tg_scheduler_options *o);

/** @brief Opaque learning-rate scheduler. */
typedef struct tg_scheduler tg_scheduler;

/** @brief Create a scheduler.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size or kind, a
 *          non-positive step_size/t_max/total_steps, gamma <= 0, negative
 *          base_lr or eta_min, milestones not increasing or too many,
 *          pct_start outside (0, 1), max_lr <= 0, warm-up with one-cycle:
 *          the message names the field), TG_ERR_NOMEM; *out untouched on error.
 *  Ownership: caller owns *out; release with tg_scheduler_destroy().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_scheduler_create(tg_ctx *ctx, const tg_scheduler_options *o,
                                                  tg_scheduler **out);
/** @brief Destroy; NULL is a no-op. @since 0.2.0 */
TG_API void tg_scheduler_destroy(tg_scheduler *s);
/** @brief The learning rate after @p step steps (step >= 0; one-cycle
 *  stays at its final rate after total_steps - 1), with @p base_lr in place
 *  of the options' base_lr when that is 0. @since 0.2.0 */
TG_API double tg_scheduler_lr(const tg_scheduler *s, double base_lr, int64_t step);
/** @brief Whether steps are batches (true) or epochs. @since 0.2.0 */
TG_API bool tg_scheduler_per_batch(const tg_scheduler *s);
/** @brief Set @p opt's learning rate to the value after @p step steps. The
 *  first call fixes the base rate (options.base_lr, else @p opt's current
 *  rate), so later calls do not compound.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, step < 0) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_scheduler_apply(tg_scheduler *s, tg_optim *opt, int64_t step);
/** @} */

/** @brief Clip the gradients of @p opt's parameters by their global L2
 *  norm, like torch.nn.utils.clip_grad_norm_(params, max_norm): the norm
 *  of all gradients together is computed (parameters without a gradient
 *  are skipped) and, when it exceeds @p max_norm, every gradient is
 *  multiplied by max_norm / (norm + 1e-6).
 *  @param[in] opt        optimiser whose parameters are clipped
 *  @param[in] max_norm   largest allowed norm (> 0)
 *  @param[out] total_norm optional: the norm before clipping
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, max_norm not > 0),
 *          TG_ERR_NUMERIC (the norm is NaN or Inf: gradients left
 *          unchanged, like error_if_nonfinite=True) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_clip_grad_norm(tg_optim *opt, float max_norm,
                                                float *total_norm);

/** @brief Hyper-parameters for tg_optim_create_by_name(); fields an
 *  optimiser does not have are ignored. */
typedef struct tg_optim_config {
    size_t struct_size;      /**< set by tg_optim_config_init() */
    /** learning rate; 0 (default) = the optimiser's own default (SGD,
     *  RMSprop, Adagrad 0.01; Adam, AdamW 0.001) */
    float lr;
    float momentum;          /**< sgd, rmsprop (default 0) */
    /** default 0; 0 for adamw means AdamW's own 0.01 unless
     *  weight_decay_set is true */
    float weight_decay;
    bool nesterov;           /**< sgd (default false) */
    float beta1;             /**< adam, adamw; 0 = default 0.9 */
    float beta2;             /**< adam, adamw; 0 = default 0.999 */
    float eps;               /**< adam, adamw, rmsprop, adagrad; 0 = the optimiser's default */
    bool weight_decay_set;   /**< use weight_decay as given even when 0 (AdamW) */
} tg_optim_config;

/** @brief Defaults: every field 0 / false (each optimiser's defaults).
 *  @since 0.2.0 */
TG_API void tg_optim_config_init(tg_optim_config *c);

/** @brief Create a built-in optimiser by name: "sgd", "adam", "adamw",
 *  "rmsprop" or "adagrad" (any case).
 *  @param[in] ctx  context
 *  @param[in] m    module whose parameters are optimised
 *  @param[in] name optimiser name
 *  @param[in] c    hyper-parameters, or NULL for the optimiser's defaults
 *  @param[out] out the optimiser
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, unknown name: the message lists
 *          the valid ones; bad hyper-parameter), TG_ERR_NOMEM.
 *  Ownership: caller owns *out; release with tg_optim_destroy().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_optim_create_by_name(tg_ctx *ctx, tg_module *m,
                                                      const char *name,
                                                      const tg_optim_config *c,
                                                      tg_optim **out);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_data
 *  Data sets hold n samples, images [C, H, W] (C 1..4; the 0.1.0 loaders
 *  make grey [1, h, w]) or feature vectors [F], stored as uint8 or float32,
 *  with an int32 class label or a float vector target each, or they read
 *  samples from a user callback. Loaders validate every size against hard
 *  limits before allocating and name the offending file in the error
 *  message. A data set is immutable once created except for its
 *  normalisation setting and class names; every
 *  derived data set (subset, select, split) is independent of its source:
 *  it shares the immutable pixels (no copy; they are freed with the last
 *  data set using them) and has its own labels and normalisation, so the
 *  source may be destroyed first.
 *  @{ */

/** @brief Opaque data set: n samples ([C, H, W] or [F], uint8 or float32)
 *  and their targets (class labels or float vectors). */
typedef struct tg_dataset tg_dataset;

/** @name Data set limits
 *  Hard limits enforced by the loaders: a file claiming more is rejected
 *  with TG_ERR_LIMIT before anything large is allocated.
 *  @{ */
#define TG_DATASET_MAX_IMAGES 10000000          /**< images per data set */
#define TG_DATASET_MAX_DIM 4096                 /**< pixels per image side */
#define TG_DATASET_MAX_BYTES (INT64_C(1) << 32) /**< total pixel bytes */
#define TG_DATASET_MAX_CLASSES 65536            /**< labels are below this */
/** @} */

/** @brief Create a data set by copying caller buffers.
 *  @param ctx context (errors, allocator)
 *  @param n number of images (may be 0)
 *  @param h,w image size (1..TG_DATASET_MAX_DIM)
 *  @param images n*h*w bytes, row-major, image after image (NULL iff n == 0)
 *  @param labels n labels in [0, n_classes) (NULL iff n == 0)
 *  @param n_classes number of classes; 0 = max label + 1
 *  @param[out] out new data set; untouched on error
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad size, label out of range),
 *          TG_ERR_LIMIT, TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_create(tg_ctx *ctx, size_t n, int64_t h, int64_t w,
                                                const uint8_t *images, const int32_t *labels,
                                                int n_classes, tg_dataset **out);

/** @brief Load an IDX image file (magic 0x00000803, [n, h, w] uint8) and an
 *  IDX label file (magic 0x00000801, [n] uint8), each raw or gzip-compressed
 *  (detected from the content). n_classes = max label + 1.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (cannot open/read: names the
 *          file), TG_ERR_FORMAT (bad magic, truncated, count mismatch),
 *          TG_ERR_LIMIT (claimed sizes over the limits), TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_load_idx(tg_ctx *ctx, const char *images_path,
                                                  const char *labels_path, tg_dataset **out);

/** @brief Load a PNG folder tree: @p dir/\<class\>/\<file\>.png, e.g. DIR/train.
 *  Rule: every sub-directory of @p dir whose name is a decimal number
 *  (digits only, value < TG_DATASET_MAX_CLASSES) is a class with that label;
 *  other entries and names starting with '.' are ignored. Classes are read
 *  in numeric order, files (ending in ".png", any case) in strcmp order, so
 *  the order is deterministic. Any PNG colour type and bit depth is
 *  converted to 8-bit grayscale (palette expanded, 16-bit stripped, RGB(A)
 *  converted with the libpng default weights, alpha dropped).
 *  n_classes = max label + 1.
 *  @param ctx context (errors, allocator)
 *  @param dir the split directory, e.g. DIR/train
 *  @param h,w required image size; an image of another size is an error
 *  @param[out] out new data set; untouched on error
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO, TG_ERR_NOT_FOUND (no class
 *          directories or no images), TG_ERR_SHAPE (wrong image size, names
 *          the file), TG_ERR_FORMAT (corrupt PNG, names the file),
 *          TG_ERR_LIMIT, TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_load_png_dir(tg_ctx *ctx, const char *dir, int64_t h,
                                                      int64_t w, tg_dataset **out);

/** @brief Load MNIST from @p data_dir: the standard IDX names
 *  (train-images-idx3-ubyte / train-labels-idx1-ubyte, or t10k-* when
 *  @p train is false), each with or without ".gz"; failing that, a PNG tree
 *  @p data_dir/train or @p data_dir/test of 28 x 28 images.
 *  @return as tg_dataset_load_idx() / tg_dataset_load_png_dir(); TG_ERR_NOT_FOUND
 *          if neither layout is present.
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_load_mnist(tg_ctx *ctx, const char *data_dir,
                                                    bool train, tg_dataset **out);

/** @brief Destroy a data set; NULL is a no-op. Destroy its batch iterators
 *  first (they borrow it): while any is alive the call frees nothing and
 *  keeps TG_ERR_BUSY and a message with their count in the context (since
 *  0.2.0). tg_ctx_destroy() releases data sets, iterators (before their data
 *  sets) and configs still alive. @since 0.1.0 */
TG_API void tg_dataset_destroy(tg_dataset *ds);

/** @brief Number of samples (0 if @p ds is NULL). */
TG_API size_t tg_dataset_n(const tg_dataset *ds);
/** @brief Image height H (rows); 0 for feature vectors. */
TG_API int64_t tg_dataset_height(const tg_dataset *ds);
/** @brief Image width W (columns); 0 for feature vectors. */
TG_API int64_t tg_dataset_width(const tg_dataset *ds);
/** @brief Number of classes (labels are in [0, n_classes)). */
TG_API int tg_dataset_n_classes(const tg_dataset *ds);
/** @brief The context the data set was created in. */
TG_API tg_ctx *tg_dataset_ctx(const tg_dataset *ds);
/** @brief Pixels of image @p i (C*h*w bytes, planar [C, H, W], row-major);
 *  NULL if out of range or not a uint8 data set (callback sets included).
 *  Ownership: borrowed from @p ds. */
TG_API const uint8_t *tg_dataset_image(const tg_dataset *ds, size_t i);
/** @brief Label of sample @p i; -1 if out of range, vector targets or a
 *  callback data set. */
TG_API int32_t tg_dataset_label(const tg_dataset *ds, size_t i);
/** @brief All n labels; NULL for vector targets or a callback data set.
 *  Ownership: borrowed from @p ds. */
TG_API const int32_t *tg_dataset_labels(const tg_dataset *ds);

/** @brief Images [start, start+count) as a new data set (same
 *  n_classes and normalisation).
 *  @return TG_OK, TG_ERR_INVALID_ARG (range outside [0, n)), TG_ERR_NOMEM
 *  Ownership: caller owns *out (independent of @p ds); release with
 *  tg_dataset_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_subset(const tg_dataset *ds, size_t start, size_t count,
                                                tg_dataset **out);
/** @brief The images listed in @p indices (any order, repeats allowed)
 *  into a new data set. @return TG_OK, TG_ERR_INVALID_ARG (index >= n),
 *  TG_ERR_NOMEM. Ownership: as tg_dataset_subset(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_select(const tg_dataset *ds, const size_t *indices,
                                                size_t count, tg_dataset **out);
/** @brief Seeded random split: shuffles the indices with @p seed
 *  (Fisher-Yates on the library's xoshiro256** RNG), the first
 *  floor(fraction * n + 0.5) go to @p train and the rest to @p val, both
 *  in that shuffled order. Same seed => same split.
 *  @param ds the data set to split (unchanged)
 *  @param fraction share of images for @p train, in [0, 1]
 *  @param seed shuffling seed
 *  @param[out] train,val the two new data sets
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_NOMEM; on error both outputs
 *          are untouched.
 *  Ownership: caller owns both *train and *val, independent of
 *  @p ds; release each with tg_dataset_destroy(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_split(const tg_dataset *ds, double fraction,
                                               uint64_t seed, tg_dataset **train,
                                               tg_dataset **val);

/** @brief Set how pixels become floats for batches and tg_dataset_to_tensor():
 *  v = ((scale01 ? p / 255 : p) - mean) / std. The default is scale01 true,
 *  mean 0, std 1 (values in [0, 1]); MNIST's usual values are mean 0.1307,
 *  std 0.3081. @return TG_OK, TG_ERR_INVALID_ARG (NULL, std <= 0 or not
 *  finite). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_set_normalization(tg_dataset *ds, bool scale01,
                                                           float mean, float std);
/** @brief Mean and standard deviation (population) over every pixel (all
 *  channels) after the scale01 step only, to feed
 *  tg_dataset_set_normalization().
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, empty or not a uint8 data set) */
TG_API TG_NODISCARD tg_status tg_dataset_pixel_stats(const tg_dataset *ds, double *mean,
                                                     double *std);
/** @brief Samples [start, start+count) as a normalised float tensor
 *  [count, C, h, w] or [count, F] in the step arena, or NULL (error in the
 *  context, e.g. a callback's).
 *  Ownership: borrowed from the data set's context; valid until
 *  tg_ctx_reset(). @since 0.1.0 */
TG_API tg_tensor *tg_dataset_to_tensor(const tg_dataset *ds, size_t start, size_t count);

/** @brief Write a uint8 image data set with class labels as a PNG tree
 *  (8-bit grey, grey+alpha, RGB or RGBA by its channel count):
 *  @p dir/\<label\>/\<index\>.png with the index zero-padded to 5+ digits, so
 *  tg_dataset_load_png_dir() reads back the same images per class. Creates
 *  @p dir (and parents) and the class directories as needed.
 *  @return TG_OK, TG_ERR_INVALID_ARG (also float or vector-target data),
 *          TG_ERR_IO (names the path) @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_dataset_save_png_dir(const tg_dataset *ds, const char *dir);

/** @brief Opaque mini-batch iterator over a data set. */
typedef struct tg_batch_iter tg_batch_iter;

/** @brief Batch iterator options; initialise with tg_batch_options_init(). */
typedef struct tg_batch_options {
    size_t struct_size;  /**< set by tg_batch_options_init() */
    size_t batch_size;   /**< images per batch (default 32) */
    bool shuffle;        /**< reshuffle every epoch (default true) */
    bool drop_last;      /**< skip a final batch smaller than batch_size (default false) */
    uint64_t seed;       /**< shuffling seed; epoch e uses a stream derived from (seed, e) */
    /** Random crop with zero padding (0 = off, default): the image is padded
     *  by this many raw zero pixels on every side and an H x W window is
     *  taken at a random offset (image data sets only). @since 0.2.0 */
    int crop_padding;
    /** Random horizontal flip with probability 1/2 (default false; image
     *  data sets only). Augmentation depends only on (seed, epoch, sample
     *  index), never on batch size or shard. @since 0.2.0 */
    bool hflip;
    /** Shard of this iterator in [0, shard_count) (default 0). Like
     *  torch's DistributedSampler without padding: each epoch's order is cut
     *  to shard_count * floor(n / shard_count) and shard r takes positions
     *  r, r + shard_count, ..., so every shard has floor(n / shard_count)
     *  samples and the tail is dropped. @since 0.2.0 */
    size_t shard_rank;
    size_t shard_count;  /**< number of shards (default 1 = no sharding) @since 0.2.0 */
} tg_batch_options;

/** @brief Defaults: batch 32, shuffle, keep the last partial batch, seed 0. */
TG_API void tg_batch_options_init(tg_batch_options *opts);

/** @brief Create an iterator over @p ds (which must outlive it). Batches
 *  come from the data set's context. The iterator starts at epoch 0.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, batch_size 0, bad struct_size),
 *          TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_batch_iter_destroy(). */
TG_API TG_NODISCARD tg_status tg_batch_iter_create(const tg_dataset *ds,
                                                   const tg_batch_options *opts,
                                                   tg_batch_iter **out);
/** @brief Destroy; NULL is a no-op. */
TG_API void tg_batch_iter_destroy(tg_batch_iter *it);
/** @brief Restart at the first batch of epoch @p epoch (its order depends
 *  only on seed and epoch, so a resumed run sees the same batches). */
TG_API void tg_batch_iter_set_epoch(tg_batch_iter *it, int64_t epoch);
/** @brief The epoch being iterated. */
TG_API int64_t tg_batch_iter_epoch(const tg_batch_iter *it);
/** @brief Batches per epoch (with drop_last taken into account). */
TG_API size_t tg_batch_iter_n_batches(const tg_batch_iter *it);
/** @brief Produce the next batch of the current epoch.
 *  @param it the iterator
 *  Class-label data sets only (else TG_ERR_INVALID_ARG); see
 *  tg_batch_iter_next_batch() for any data set.
 *  @param[out] x     input tensor [B, C, h, w] or [B, F] float, normalised
 *                    (and augmented) as set; transient: in the context's step arena,
 *                    valid until tg_ctx_reset() (steady-state batches
 *                    allocate nothing)
 *  @param[out] labels B labels; owned by the iterator, valid until the next
 *                    call on it
 *  @param[out] batch_n B (may be NULL)
 *  @return true with a batch; false at the end of the epoch (the next call
 *          then starts epoch + 1) or on error (NULL argument or arena out of
 *          memory: tg_batch_iter_status() says which; outputs untouched). */
TG_API bool tg_batch_iter_next(tg_batch_iter *it, tg_tensor **x, const int32_t **labels,
                               size_t *batch_n);
/** @brief TG_OK unless the last tg_batch_iter_next() failed (then its status). */
TG_API tg_status tg_batch_iter_status(const tg_batch_iter *it);

/** @name Data sets beyond MNIST (0.2.0)
 *  Samples are images [C, H, W] (C 1..4) or feature vectors [F], stored
 *  as uint8 (pixels) or float32 (features); targets are class labels
 *  (int32) or float vectors [target_dim] (regression). See the guide
 *  "Data sets beyond MNIST" (docs/datasets.md).
 *  @{ */
#define TG_DATASET_MAX_CHANNELS 4               /**< channels per image sample */
#define TG_DATASET_MAX_FEATURES 1048576         /**< elements of an [F] sample */
#define TG_DATASET_MAX_TARGET_DIM 65536         /**< elements of a vector target */

/** @brief Description of a data set for tg_dataset_create_from(); initialise
 *  with tg_dataset_desc_init(). Give either @p labels (class targets) or
 *  @p targets with @p target_dim > 0 (vector targets), not both. */
typedef struct tg_dataset_desc {
    size_t struct_size;        /**< set by tg_dataset_desc_init() */
    size_t n;                  /**< number of samples (may be 0) */
    int sample_ndim;           /**< 3: [C, H, W] image, 1: [F] feature vector (default 3) */
    int64_t sample_shape[3];   /**< C, H, W (C 1..4, H, W 1..TG_DATASET_MAX_DIM) or F */
    tg_dtype dtype;            /**< TG_U8 (default) or TG_F32 */
    const void *samples;       /**< n samples, row-major, sample after sample (NULL iff n == 0) */
    const int32_t *labels;     /**< n class labels in [0, n_classes), or NULL */
    int n_classes;             /**< classes; 0 = max label + 1 */
    const float *targets;      /**< n * target_dim floats, or NULL */
    int64_t target_dim;        /**< elements per vector target; 0 = class labels */
} tg_dataset_desc;

/** @brief Defaults: n 0, a [1, 1, 1] uint8 image, class labels, no buffers.
 *  @since 0.2.0 */
TG_API void tg_dataset_desc_init(tg_dataset_desc *desc);

/** @brief Create a data set by copying the buffers that @p desc describes.
 *  Float samples must be finite; float targets must be finite.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size, shape, dtype,
 *          both or neither target kind, label out of range, non-finite
 *          value: names the sample), TG_ERR_LIMIT, TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_create_from(tg_ctx *ctx, const tg_dataset_desc *desc,
                                                     tg_dataset **out);

/** @brief Get-item callback of a callback data set: write sample @p i
 *  (elements of the sample shape, as float) to @p sample and its target to
 *  @p label (class data sets) or @p target (target_dim floats; vector data
 *  sets); the other target pointer is NULL. Return TG_OK or an error status
 *  (the iterator or loop then stops with it). */
typedef tg_status (*tg_dataset_get_item_fn)(void *user, size_t i, float *sample,
                                             int32_t *label, float *target);

/** @brief Callbacks of tg_dataset_create_callback(); zero it and set
 *  @p struct_size = sizeof(tg_dataset_callbacks). */
typedef struct tg_dataset_callbacks {
    size_t struct_size;        /**< sizeof(tg_dataset_callbacks) */
    size_t n;                  /**< number of samples */
    int sample_ndim;           /**< 3 ([C, H, W]) or 1 ([F]) */
    int64_t sample_shape[3];   /**< as in tg_dataset_desc */
    int n_classes;             /**< > 0: class targets in [0, n_classes) */
    int64_t target_dim;        /**< > 0: vector targets (then n_classes is 0) */
    tg_dataset_get_item_fn get_item; /**< required */
    /** Optional: called with @p user when the last data set using these
     *  callbacks (the set, its subsets and splits) is released. */
    void (*destroy_user)(void *user);
} tg_dataset_callbacks;

/** @brief A data set whose samples come from @p cb->get_item (float
 *  samples, dtype TG_F32; normalisation defaults to none: scale01 false,
 *  mean 0, std 1). Subsets, splits and selections of it keep an index list
 *  and call the same callback. Batch iterators, tg_fit() and tg_evaluate()
 *  accept it; tg_dataset_labels(), tg_dataset_targets(),
 *  tg_dataset_image() and tg_dataset_label() return NULL / -1 for it
 *  (its targets are known only through the callback).
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size, shape or target
 *          kind), TG_ERR_LIMIT, TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_dataset_destroy(); @p user
 *  stays the caller's (see destroy_user). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_create_callback(tg_ctx *ctx,
                                                         const tg_dataset_callbacks *cb,
                                                         void *user, tg_dataset **out);

/** @brief Rank of a sample: 3 ([C, H, W]) or 1 ([F]); 0 if NULL. @since 0.2.0 */
TG_API int tg_dataset_sample_ndim(const tg_dataset *ds);
/** @brief Sample shape (tg_dataset_sample_ndim() entries); NULL if @p ds is
 *  NULL. Ownership: borrowed from @p ds. @since 0.2.0 */
TG_API const int64_t *tg_dataset_sample_shape(const tg_dataset *ds);
/** @brief Storage type of the samples: TG_U8 or TG_F32. @since 0.2.0 */
TG_API tg_dtype tg_dataset_dtype(const tg_dataset *ds);
/** @brief Channels C of an image data set (0 for feature vectors). @since 0.2.0 */
TG_API int64_t tg_dataset_channels(const tg_dataset *ds);
/** @brief Elements of a vector target, 0 for class labels. @since 0.2.0 */
TG_API int64_t tg_dataset_target_dim(const tg_dataset *ds);
/** @brief All n * target_dim vector targets, or NULL (class data set or
 *  callback). Ownership: borrowed from @p ds. @since 0.2.0 */
TG_API const float *tg_dataset_targets(const tg_dataset *ds);
/** @brief Sample @p i of a float (TG_F32, not callback) data set, or NULL.
 *  Ownership: borrowed from @p ds. @since 0.2.0 */
TG_API const float *tg_dataset_features(const tg_dataset *ds, size_t i);

/** @brief Name the classes (copied): @p names[k] is class k. Subsets,
 *  selections and splits made afterwards keep the names.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, a vector-target data set, n
 *          differs from n_classes), TG_ERR_NOMEM @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_set_class_names(tg_dataset *ds,
                                                         const char *const *names, size_t n);
/** @brief Name of class @p label, or NULL (no names or out of range).
 *  Ownership: borrowed from @p ds. @since 0.2.0 */
TG_API const char *tg_dataset_class_name(const tg_dataset *ds, int32_t label);

/** @brief Per-channel (images, @p n = C) or per-feature ([F] samples, @p n =
 *  F) normalisation: v = ((scale01 ? x / 255 : x) - mean[g]) / std[g]; @p n
 *  = 1 applies one pair to every group (as tg_dataset_set_normalization()).
 *  Defaults: uint8 data scale01 true, float and callback data false; mean 0,
 *  std 1.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, n not 1 or the group count,
 *          std <= 0 or not finite) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_set_channel_normalization(tg_dataset *ds, bool scale01,
                                                                   const float *mean,
                                                                   const float *std, int n);
/** @brief Per-channel mean and population standard deviation of an image
 *  data set (after the scale01 step only), e.g. of the training split, to
 *  feed tg_dataset_set_channel_normalization(); @p n must be C.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, empty, not images, n != C), or a
 *          callback's error @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_channel_stats(const tg_dataset *ds, double *mean,
                                                       double *std, int n);
/** @brief Per-feature mean and population standard deviation of an [F]
 *  data set (after the scale01 step only); @p n must be F. A constant
 *  feature has std 0: pass 1 instead to tg_dataset_set_channel_normalization().
 *  @return as tg_dataset_channel_stats() @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_feature_stats(const tg_dataset *ds, double *mean,
                                                       double *std, int n);

/** @brief Options of tg_dataset_load_png_tree(); initialise with
 *  tg_png_options_init(). */
typedef struct tg_png_options {
    size_t struct_size;  /**< set by tg_png_options_init() */
    /** 0 (default) = keep what is stored: grey 1, grey+alpha 2, RGB 3, RGBA
     *  4 (palette images count as RGB, or RGBA with transparency); if the
     *  images of a tree differ, all are converted up to the largest count
     *  met (grey is replicated to RGB, alpha 255 is added). 1 = grey
     *  (libpng's default weights, alpha dropped), 2 = grey+alpha, 3 = RGB,
     *  4 = RGBA. */
    int channels;
    int64_t height;      /**< 0 (default) = from the first image; then all must match */
    int64_t width;       /**< 0 (default) = from the first image; then all must match */
} tg_png_options;

/** @brief Defaults: keep channels, size from the first image. @since 0.2.0 */
TG_API void tg_png_options_init(tg_png_options *opts);

/** @brief Load a PNG folder tree @p dir/\<class\>/\<file\>.png keeping colour:
 *  classes and file order as tg_dataset_load_png_dir(); samples [C, H, W]
 *  uint8 with C from @p opts->channels; 8- and 16-bit files (16-bit keeps
 *  the high byte).
 *  @return as tg_dataset_load_png_dir(); TG_ERR_INVALID_ARG also for a bad
 *          option @since 0.2.0
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). */
TG_API TG_NODISCARD tg_status tg_dataset_load_png_tree(tg_ctx *ctx, const char *dir,
                                                       const tg_png_options *opts,
                                                       tg_dataset **out);

/** @brief Options of tg_dataset_load_cifar(); initialise with
 *  tg_cifar_options_init(). */
typedef struct tg_cifar_options {
    size_t struct_size;  /**< set by tg_cifar_options_init() */
    int variant;         /**< 10 (default; 1 label byte per record) or 100 (2 label bytes) */
    bool coarse;         /**< CIFAR-100: use the coarse label (20 classes) instead of the fine one (100) */
} tg_cifar_options;

/** @brief Defaults: CIFAR-10. @since 0.2.0 */
TG_API void tg_cifar_options_init(tg_cifar_options *opts);

/** @brief Load CIFAR binary files (the "binary version" of
 *  https://www.cs.toronto.edu/~kriz/cifar.html): each record is the label
 *  byte (CIFAR-100: coarse then fine) and 3072 bytes, the 32 x 32 R, G and
 *  B planes. Each file holds any whole number of records; the files are
 *  concatenated in order. Samples are [3, 32, 32] uint8; n_classes is 10,
 *  20 (coarse) or 100 and every label must be below it.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the file),
 *          TG_ERR_FORMAT (trailing partial record or label out of range:
 *          names the file and the byte offset), TG_ERR_LIMIT (over
 *          TG_DATASET_MAX_IMAGES / TG_DATASET_MAX_BYTES, checked before
 *          allocating), TG_ERR_NOMEM; on error *out is untouched.
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_load_cifar(tg_ctx *ctx, const char *const *paths,
                                                    size_t n_paths,
                                                    const tg_cifar_options *opts,
                                                    tg_dataset **out);
/** @brief Load the CIFAR split in @p dir: CIFAR-10 data_batch_1.bin ..
 *  data_batch_5.bin (train; those present, at least one) or test_batch.bin;
 *  CIFAR-100 train.bin or test.bin (fine labels). Names the directory
 *  and the missing file in errors; never looks elsewhere.
 *  @param ctx context (errors, allocator)
 *  @param dir the directory, e.g. "cifar-10-batches-bin"
 *  @param train the training files (true) or the test file (false)
 *  @param variant 10 or 100
 *  @param[out] out new data set; untouched on error
 *  @return as tg_dataset_load_cifar(); TG_ERR_NOT_FOUND (no such file)
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_load_cifar_dir(tg_ctx *ctx, const char *dir,
                                                        bool train, int variant,
                                                        tg_dataset **out);

/** @brief What the target column(s) of a CSV table hold. */
typedef enum tg_csv_task {
    TG_CSV_CLASSIFICATION = 0, /**< one column of class names or integers */
    TG_CSV_REGRESSION = 1      /**< one or more numeric columns (vector target) */
} tg_csv_task;

/** @brief Options of tg_dataset_load_csv(); initialise with
 *  tg_csv_options_init(). Name the target with @p target, or several
 *  (regression) with @p targets / @p n_targets. */
typedef struct tg_csv_options {
    size_t struct_size;          /**< set by tg_csv_options_init() */
    tg_csv_task task;            /**< default TG_CSV_CLASSIFICATION */
    const char *target;          /**< the target column (when n_targets is 0) */
    const char *const *targets;  /**< regression: target columns, in target order */
    int n_targets;               /**< 0: use @p target */
    const char *const *ignore;   /**< columns to drop (ids, free text), or NULL */
    int n_ignore;                /**< entries in @p ignore */
    char delimiter;              /**< ',' (default), ';', '\\t' or '|' */
} tg_csv_options;

/** @brief Defaults: classification, no target named, ',' delimiter. @since 0.2.0 */
TG_API void tg_csv_options_init(tg_csv_options *o);

/** @brief Load a CSV table with a header row into a data set of [F] float32
 *  samples (F = every column that is not a target or ignored, in file
 *  order). Classification: class labels, numbered in sorted order of the
 *  class names (by value when all are numbers), names kept
 *  (tg_dataset_class_name()). Regression: float targets of dimension
 *  n_targets. Normalisation starts as none (mean 0, std 1); standardise
 *  with tg_dataset_standardize() (training split first). Rules and
 *  limits: guide "Data sets beyond MNIST" (docs/datasets.md).
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size, no target,
 *          classification with several targets, bad delimiter),
 *          TG_ERR_IO (cannot open or read: names the file),
 *          TG_ERR_NOT_FOUND (no such column: names it),
 *          TG_ERR_FORMAT ("iris.csv:7:2: 'abc' is not a number (column
 *          \"sepal_width\")": file:line:field; also empty cells, wrong
 *          field count, bad quoting, no data rows),
 *          TG_ERR_LIMIT (file over 1 GiB, > 4096 columns, field > 4096
 *          bytes, > 10^7 rows, > 65536 classes), TG_ERR_NOMEM;
 *          *out untouched on error.
 *  Ownership: caller owns *out; release with tg_dataset_destroy(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_load_csv(tg_ctx *ctx, const char *path,
                                                  const tg_csv_options *o, tg_dataset **out);

/** @brief Standardise @p n_sets data sets with the statistics of the first
 *  (the training split): per feature ([F] samples) or per channel (images)
 *  mean and population standard deviation of @p sets[0] (after its scale01
 *  step; tg_dataset_feature_stats() / tg_dataset_channel_stats()), std 0
 *  (a constant feature) replaced by 1, then
 *  tg_dataset_set_channel_normalization() on every set with the scale01 of
 *  @p sets[0].
 *  @param sets the data sets, training split first (same context and sample layout)
 *  @param n_sets entries in @p sets (>= 1)
 *  @param[out] mean,std optional (may be NULL): the G values applied
 *         (G = features or channels), e.g. for a saved model's metadata
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, empty training set, contexts or
 *          layouts differ), TG_ERR_NOMEM, or a callback's error; on error no
 *          set is changed. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_standardize(tg_dataset *const *sets, size_t n_sets,
                                                     float *mean, float *std);

/** @brief Per-element mean and population standard deviation of the
 *  vector targets of a stored data set (e.g. the training split: predicting
 *  its mean is the baseline a regression model must beat); @p n must be
 *  target_dim.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, empty, class or callback data
 *          set, n != target_dim) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_target_stats(const tg_dataset *ds, double *mean,
                                                      double *std, int n);

/** @brief The class names of @p ds as one JSON array of strings (class k at
 *  index k, e.g. `["setosa","versicolor","virginica"]`), for a saved
 *  model's metadata key "tg.class_names". Quotes, backslashes and control
 *  bytes are escaped; other bytes are copied as they are.
 *  @param ds a data set with class names (tg_dataset_set_class_names(),
 *         tg_dataset_load_csv())
 *  @param[out] buf receives the NUL-terminated text; NULL with @p size 0
 *         only asks for the length (then @p length is required)
 *  @param size bytes in @p buf
 *  @param[out] length optional: the text's length without the NUL (also
 *         set on TG_ERR_LIMIT)
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL), TG_ERR_NOT_FOUND (no class
 *          names), TG_ERR_LIMIT (@p size too small; @p buf then holds a
 *          NUL-terminated truncated prefix) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dataset_class_names_json(const tg_dataset *ds, char *buf,
                                                          size_t size, size_t *length);

/** @brief One batch from tg_batch_iter_next_batch(). */
typedef struct tg_batch {
    tg_tensor *x;            /**< [B, C, H, W] or [B, F], normalised (and augmented) */
    const int32_t *labels;   /**< B class labels, or NULL for vector targets */
    tg_tensor *targets;      /**< [B, target_dim], or NULL for class labels */
    size_t n;                /**< B */
} tg_batch;

/** @brief Produce the next batch of the current epoch for any data set.
 *  @param it the iterator
 *  @param[out] out x and targets are transient (step arena, valid until
 *         tg_ctx_reset()); labels are owned by the iterator, valid until the
 *         next call on it. Steady-state batches allocate nothing.
 *  @return true with a batch; false at the end of the epoch (the next call
 *          starts epoch + 1) or on error (tg_batch_iter_status() says which:
 *          NULL argument, arena out of memory, a get_item error; @p out
 *          untouched). @since 0.2.0 */
TG_API bool tg_batch_iter_next_batch(tg_batch_iter *it, tg_batch *out);
/** @brief Samples per epoch that this iterator's shard yields (n, or
 *  floor(n / shard_count) when sharded; before drop_last). @since 0.2.0 */
TG_API size_t tg_batch_iter_n_samples(const tg_batch_iter *it);
/** @} */

/** @brief Opaque `key = value` configuration (the report's config.txt).
 *  Syntax, per line: blank, or `# comment`, or `key = value`. `#` starts a
 *  comment anywhere outside double quotes; whitespace around key and value
 *  is trimmed; a value in double quotes keeps its inner text verbatim. Keys
 *  are [A-Za-z0-9_.-]+; a key may appear once. Errors name "file:line". */
typedef struct tg_config tg_config;

/** @brief Create an empty configuration (fill it with tg_config_set()).
 *  Ownership: caller owns *out; release with tg_config_destroy(). */
TG_API TG_NODISCARD tg_status tg_config_create(tg_ctx *ctx, tg_config **out);
/** @brief Parse a config file.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the file),
 *          TG_ERR_FORMAT ("config.txt:3: expected 'key = value'"; duplicate
 *          key "config.txt:9: duplicate key 'seed' (first on line 4)"),
 *          TG_ERR_LIMIT (file over 1 MiB or line over 4096 bytes), TG_ERR_NOMEM
 *  Ownership: caller owns *out; release with tg_config_destroy(). */
TG_API TG_NODISCARD tg_status tg_config_load_file(tg_ctx *ctx, const char *path,
                                                  tg_config **out);
/** @brief Parse config text; @p source_name (e.g. "config.txt") is used in
 *  error messages and may be NULL ("<string>"). Returns as tg_config_load_file(). */
TG_API TG_NODISCARD tg_status tg_config_load_string(tg_ctx *ctx, const char *text,
                                                    const char *source_name, tg_config **out);
/** @brief Destroy; NULL is a no-op. */
TG_API void tg_config_destroy(tg_config *cfg);
/** @brief Set or override @p key (e.g. from the command line); later errors
 *  about it say "command line" instead of file:line.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL or bad key), TG_ERR_NOMEM */
TG_API TG_NODISCARD tg_status tg_config_set(tg_config *cfg, const char *key, const char *value);
/** @brief Whether @p key is present. */
TG_API bool tg_config_has(const tg_config *cfg, const char *key);
/** @brief Number of entries. */
TG_API size_t tg_config_n(const tg_config *cfg);
/** @brief Key and value of entry @p i in file order (NULL if out of range).
 *  Ownership: borrowed from @p cfg; valid until it changes. */
TG_API const char *tg_config_key(const tg_config *cfg, size_t i, const char **value);
/** @brief Reject any key not in @p allowed (n names).
 *  @return TG_OK, TG_ERR_INVALID_ARG ("config.txt:7: unknown key 'lerning_rate'") */
TG_API TG_NODISCARD tg_status tg_config_check_keys(const tg_config *cfg,
                                                   const char *const *allowed, size_t n);
/** @brief String value of @p key, or @p def if absent (def NULL = required:
 *  TG_ERR_NOT_FOUND). Ownership of *out: borrowed from @p cfg (or @p def).
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_NOT_FOUND */
TG_API TG_NODISCARD tg_status tg_config_get_string(const tg_config *cfg, const char *key,
                                                   const char *def, const char **out);
/** @brief Integer value (decimal, optional sign) in [min, max], or @p def if
 *  absent. @return TG_OK, TG_ERR_INVALID_ARG ("config.txt:4: batch_size:
 *  'abc' is not an integer", "... 0 is out of range [1, 65536]") */
TG_API TG_NODISCARD tg_status tg_config_get_int(const tg_config *cfg, const char *key,
                                                int64_t def, int64_t min, int64_t max,
                                                int64_t *out);
/** @brief Finite floating-point value in [min, max], or @p def if absent.
 *  @return TG_OK, TG_ERR_INVALID_ARG (not a number, out of range) */
TG_API TG_NODISCARD tg_status tg_config_get_float(const tg_config *cfg, const char *key,
                                                  double def, double min, double max,
                                                  double *out);
/** @brief Boolean (true/false, yes/no, on/off, 1/0; any case), or @p def.
 *  @return TG_OK, TG_ERR_INVALID_ARG */
TG_API TG_NODISCARD tg_status tg_config_get_bool(const tg_config *cfg, const char *key, bool def,
                                                 bool *out);
/** @brief Value that must be one of @p choices (n, compared ignoring case);
 *  *index receives its position, or @p def_index if the key is absent.
 *  @return TG_OK, TG_ERR_INVALID_ARG ("config.txt:5: optimizer_type: 'adm'
 *  is not one of sgd, adam") */
TG_API TG_NODISCARD tg_status tg_config_get_choice(const tg_config *cfg, const char *key,
                                                   const char *const *choices, size_t n,
                                                   size_t def_index, size_t *index);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_io
 *  Module state and checkpoints are stored as safetensors
 *  (https://github.com/huggingface/safetensors): an 8-byte little-endian
 *  header length, a JSON header mapping each tensor name (tg_module_state()
 *  names, e.g. "0.weight") to {"dtype":"F32","shape":[...],
 *  "data_offsets":[begin,end]}, an optional "__metadata__" string map, space
 *  padding to 8 bytes, then the little-endian data. Files written by
 *  PyTorch's safetensors.torch.save_file() with F32 tensors load as well.
 *  Writes are atomic (temporary file in the same directory, fsync, rename,
 *  fsync of the directory): on error the previous file is intact. Loads
 *  validate everything (header size <= 100 MB, rank <= TG_MAX_DIMS, offsets
 *  in range, non-overlapping, sizes matching shapes, every name and shape)
 *  before changing anything: a failed load leaves the model (and optimiser)
 *  untouched.
 *  @{ */

/** @brief A metadata entry (both strings UTF-8, copied when saving). */
typedef struct tg_kv {
    const char *key;    /**< metadata key */
    const char *value;  /**< metadata value */
} tg_kv;

/** @brief Save every parameter and buffer of @p m (F32) to @p path.
 *  @param m the module (not modified)
 *  @param path destination file; replaced atomically
 *  @param n_metadata number of @p metadata entries
 *  @param metadata optional entries for "__metadata__" (may be NULL if
 *         @p n_metadata is 0)
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the path), TG_ERR_NOMEM
 *  Ownership: nothing retained. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_module_save(tg_module *m, const char *path,
                                             const tg_kv *metadata, size_t n_metadata);
/** @brief Load @p m's parameters and buffers from @p path. The file must hold
 *  exactly the module's state names with the same shapes and dtype F32.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO, TG_ERR_FORMAT (bad header
 *          or offsets), TG_ERR_DTYPE (a dtype other than F32), TG_ERR_LIMIT, TG_ERR_NOT_FOUND (a tensor
 *          missing from the file, or an extra one in it; names it),
 *          TG_ERR_SHAPE (names the tensor and both shapes), TG_ERR_NOMEM.
 *          On error @p m is unchanged. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_module_load(tg_module *m, const char *path);

/** @brief Read one "__metadata__" value of a safetensors file into @p buf
 *  (NUL-terminated). @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO,
 *  TG_ERR_FORMAT, TG_ERR_NOT_FOUND (no such key), TG_ERR_LIMIT (@p size too
 *  small). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_safetensors_get_metadata(tg_ctx *ctx, const char *path,
                                                          const char *key, char *buf,
                                                          size_t size);

/** @brief Save a training checkpoint: the module state, and, if @p opt is not
 *  NULL, every optimiser state buffer as "optim.<param name>.<slot>" (the
 *  name from tg_optim_param(), or the index if it has none) with the
 *  optimiser's name, step count, learning rate and @p epoch in
 *  "__metadata__" (keys "tg.optim", "tg.step", "tg.lr", "tg.epoch").
 *  Atomic like tg_module_save(). @return TG_OK, TG_ERR_INVALID_ARG,
 *  TG_ERR_IO, TG_ERR_NOMEM. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_checkpoint_save(tg_module *m, tg_optim *opt, int64_t epoch,
                                                 const char *path);
/** @brief Restore a checkpoint written by tg_checkpoint_save(). With @p opt
 *  not NULL the file must hold its state buffers and the same optimiser
 *  name; they, the step count and the lr are restored. @p epoch (may be
 *  NULL) receives the saved epoch.
 *  @return as tg_module_load(); on error nothing (module, optimiser,
 *          *epoch) is changed. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_checkpoint_load(tg_module *m, tg_optim *opt, int64_t *epoch,
                                                 const char *path);

/** @} */

/** @addtogroup tg_io
 *  @{ */

/** @brief Set (or, with @p value NULL, remove) a string metadata entry on
 *  module @p m, e.g. the preprocessing the model expects. The strings are
 *  copied. tg_module_save() writes every entry into the safetensors
 *  "__metadata__" (entries passed to it explicitly win on equal keys) and
 *  tg_module_export_onnx() into the model's metadata_props. Documented keys:
 *  "tg.input_scale" (multiply raw pixels by it first, e.g.
 *  "0.00392156862745098" for 1/255), "tg.input_mean" and "tg.input_std"
 *  (comma-separated, one value per channel: x = (x * scale - mean) / std).
 *  @param m the module (usually the root)
 *  @param key non-empty, at most 256 bytes
 *  @param value at most 65536 bytes, or NULL to remove @p key
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_LIMIT (too long, or more than
 *          256 entries), TG_ERR_NOMEM; on error the entries are unchanged.
 *  Ownership: nothing retained (the module keeps its own copies).
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_module_set_metadata(tg_module *m, const char *key,
                                                     const char *value);
/** @brief The value of metadata @p key on @p m, or NULL if absent.
 *  Ownership: borrowed from @p m; valid until the entry is changed or the
 *  module is destroyed. @since 0.2.0 */
TG_API const char *tg_module_metadata(const tg_module *m, const char *key);
/** @brief Number of metadata entries on @p m (0 for NULL). @since 0.2.0 */
TG_API size_t tg_module_n_metadata(const tg_module *m);
/** @brief Key of metadata entry @p i (in insertion order) and, if @p value is
 *  not NULL, its value; NULL if @p i is out of range.
 *  Ownership: borrowed from @p m, as tg_module_metadata(). @since 0.2.0 */
TG_API const char *tg_module_metadata_at(const tg_module *m, size_t i, const char **value);

/** @brief tg_module_export_onnx() options; initialise with
 *  tg_onnx_options_init(). */
typedef struct tg_onnx_options {
    size_t struct_size;        /**< set by tg_onnx_options_init() */
    int opset;                 /**< ONNX opset, 13 to 17 (default 13) */
    bool dynamic_batch;        /**< first input and output dimension symbolic "N" (default true) */
    const char *input_name;    /**< graph input name (default "input") */
    const char *output_name;   /**< graph output name (default "output") */
    const char *producer_version; /**< producer_version (default TG_VERSION_STRING) */
} tg_onnx_options;

/** @brief Fill @p o with the defaults. @since 0.2.0 */
TG_API void tg_onnx_options_init(tg_onnx_options *o);

/** @brief Export module @p m in evaluation mode as an ONNX model.
 *
 *  Works by tracing, as torch.onnx.export: the forward runs once on a zero
 *  input of @p shape (training flags and grad mode are restored after), and
 *  the ops it recorded become ONNX nodes. Parameters and buffers become
 *  initializers named by their dotted state names ("0.weight"); constants
 *  made inside the forward are stored as initializers too. Supported ops:
 *  conv2d (also fused with ReLU), linear, matmul, max/avg pooling, ReLU,
 *  leaky ReLU, sigmoid, tanh, softmax, log-softmax, add/sub/mul/div (with
 *  broadcasting), scalar add/mul, neg, exp, log, sqrt, pow, reshape,
 *  flatten, transpose/permute, sum/mean/max reductions, dropout (Identity),
 *  batch_norm2d/1d with the running statistics, concat, narrow, slice, pad,
 *  global and adaptive average pooling, layer_norm, gelu, clamp, abs,
 *  maximum and minimum; see docs/deployment.md for the mapping.
 *  A user-defined module made of these ops exports without extra code. The
 *  graph has one float32 input and one output; with dynamic_batch, shapes
 *  that ops hard-code from the batch size (a reshape to [N*C, ...]) still
 *  use the traced batch. The module's metadata (tg_module_set_metadata())
 *  goes into metadata_props. The file is written to a temporary file,
 *  fsynced and renamed into place.
 *  @param m the module (its parameters are read, not modified)
 *  @param ndim rank of @p shape (e.g. 4 for NCHW)
 *  @param shape example input shape, batch first
 *  @param path destination file, replaced atomically
 *  @param opts options, or NULL for the defaults
 *  @return TG_OK; TG_ERR_INVALID_ARG; TG_ERR_STATE (an op without an ONNX
 *          mapping: the message names the op and the type of the module
 *          whose forward made it; or the forward failed); TG_ERR_IO;
 *          TG_ERR_NOMEM; TG_ERR_LIMIT (a tensor over 2 GiB).
 *  Ownership: nothing retained; transient tensors made by the trace are
 *  released before it returns. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_module_export_onnx(tg_module *m, int ndim,
                                                    const int64_t *shape, const char *path,
                                                    const tg_onnx_options *opts);

/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_train
 *  A thin, optional layer for classification training over the public API
 *  (what ggml_opt_fit and kann_train_fnn1 do). Epochs are numbered from 1;
 *  a "start epoch" counts the epochs already done, so a checkpoint's epoch
 *  is where a resumed run starts. tg_fit() and tg_evaluate() call
 *  tg_ctx_reset() after every batch: transient tensors made before them are
 *  released. The model, optimiser and data sets must share one context.
 *  @{ */

/** @brief Loss used by tg_fit() and tg_evaluate(): the mean loss (0-d or
 *  numel 1 tensor) of the model @p output for @p n @p labels, or NULL with
 *  the reason kept in @p ctx. NULL as a function pointer means
 *  tg_cross_entropy() with TG_REDUCTION_MEAN. */
typedef tg_tensor *(*tg_loss_fn)(void *user, tg_ctx *ctx, tg_tensor *output,
                                 const int32_t *labels, size_t n);

/** @brief Batch-level loss for tg_fit() and tg_evaluate(), for any data
 *  set: the mean loss (numel 1) of the model @p output for @p batch (class
 *  labels or vector targets), or NULL with the reason kept in @p ctx.
 *  Unset (NULL): cross-entropy for class data sets, tg_mse_loss() (mean)
 *  for vector targets. @since 0.2.0 */
typedef tg_tensor *(*tg_batch_loss_fn)(void *user, tg_ctx *ctx, tg_tensor *output,
                                       const tg_batch *batch);

/** @brief Metrics of one epoch (a plain record, also the CSV row). Its
 *  layout is ABI: new fields only in a new major (0.y: minor) version;
 *  0.2.0 appended the four regression fields. Metrics that do not apply
 *  (accuracy for regression, RMSE/MAE for classification, validation
 *  metrics without a validation set) are NaN. */
typedef struct tg_epoch_metrics {
    int64_t epoch;          /**< 1 for the first epoch */
    double train_loss;      /**< mean training loss over the epoch's samples */
    double train_accuracy;  /**< share of training samples classified right (in train mode) */
    double val_loss;        /**< mean validation loss; NaN without a validation set */
    double val_accuracy;    /**< validation accuracy in [0, 1]; NaN without one */
    double seconds;         /**< wall time of the epoch, validation and checkpoints included */
    double samples_per_s;   /**< training samples per second of training time */
    double train_rmse;      /**< vector targets: root mean squared error over every target element (in train mode) @since 0.2.0 */
    double train_mae;       /**< vector targets: mean absolute error @since 0.2.0 */
    double val_rmse;        /**< vector targets: validation RMSE @since 0.2.0 */
    double val_mae;         /**< vector targets: validation MAE @since 0.2.0 */
} tg_epoch_metrics;

/** @brief Per-batch callback, after the step: @p batch counts from 0 to
 *  @p n_batches - 1; @p loss is the batch's mean loss; @p samples_per_s the
 *  epoch's training throughput so far. Return non-zero to stop training
 *  after this batch: the unfinished epoch gets no validation, checkpoint or
 *  epoch callback. */
typedef int (*tg_batch_fn)(void *user, int64_t epoch, size_t batch, size_t n_batches,
                           double loss, double samples_per_s);
/** @brief Per-epoch callback, called after validation and checkpointing.
 *  Return non-zero to stop training. */
typedef int (*tg_epoch_fn)(void *user, const tg_epoch_metrics *metrics);

/** @brief Step hook of tg_fit() (tg_fit_options::after_backward), for
 *  data-parallel training: average the gradients across processes.
 *  Called with @p status TG_OK after every step's tg_backward(), before
 *  gradient clipping (clip_grad_norm) and the optimiser step, so both see
 *  the averaged gradients; a returned error ends tg_fit() with it. Also called once
 *  with the error when this process fails anywhere in the epoch loop (for
 *  that call the return value is ignored), so that a distributed
 *  implementation can tell the other processes instead of leaving them
 *  waiting. @p m and @p opt are tg_fit()'s. */
typedef tg_status (*tg_fit_step_fn)(void *user, tg_module *m, tg_optim *opt, tg_status status);
/** @brief Metrics hook of tg_fit() (tg_fit_options::reduce_metrics): at the
 *  end of each training epoch, before the metrics are computed, @p sums
 *  holds this process's {loss sum, correct count, sample count, squared
 *  error sum, absolute error sum} (@p n = 5; the last two are 0 for class
 *  labels);
 *  a distributed implementation replaces them with the sums over all
 *  processes (and may synchronise module buffers). */
typedef tg_status (*tg_fit_reduce_fn)(void *user, tg_module *m, double *sums, size_t n);

/** @brief tg_fit() options; initialise with tg_fit_options_init(). */
typedef struct tg_fit_options {
    size_t struct_size;      /**< set by tg_fit_options_init() */
    int64_t epochs;          /**< number of the last epoch to run (default 10) */
    int64_t start_epoch;     /**< epochs already done, e.g. from tg_checkpoint_load() (default 0) */
    size_t batch_size;       /**< training batch size (default 32) */
    size_t eval_batch_size;  /**< validation batch size (default 256) */
    bool shuffle;            /**< reshuffle the training set every epoch (default true) */
    bool drop_last;          /**< skip a final partial training batch (default false) */
    uint64_t seed;           /**< seed of the batch order and of the per-epoch RNG (default 0) */
    /** Early stopping: stop after this many epochs without a new best
     *  monitored loss (validation loss; the training loss without a
     *  validation set). 0 = off (default); also off without a validation set. */
    int patience;
    double min_delta;        /**< a new best must be lower by more than this (default 0) */
    /** Directory for checkpoints (created if missing), or NULL (default) for
     *  none. After every epoch, atomically: "last.safetensors" (module state,
     *  tg_module_save()), "checkpoint.safetensors" (module + optimiser state
     *  and the epoch, tg_checkpoint_save(), for resuming) and, when the
     *  monitored loss improved, "best.safetensors" (module state, with the
     *  metadata "tg.epoch" and "tg.best_loss" that a resumed run reads back). */
    const char *save_dir;
    tg_loss_fn loss;         /**< NULL = mean cross-entropy */
    void *loss_user;         /**< first argument to @p loss */
    tg_batch_fn on_batch;    /**< optional per-batch callback */
    tg_epoch_fn on_epoch;    /**< optional per-epoch callback */
    void *user;              /**< first argument to the callbacks */
    /** Batch-level loss for any data set (NULL = cross-entropy for class
     *  data, MSE for vector targets); called with @p loss_user. Set at most
     *  one of @p loss and @p batch_loss. @since 0.2.0 */
    tg_batch_loss_fn batch_loss;
    int crop_padding;        /**< training augmentation, see tg_batch_options (default 0) @since 0.2.0 */
    bool hflip;              /**< training augmentation, see tg_batch_options (default false) @since 0.2.0 */
    size_t shard_rank;       /**< training shard, see tg_batch_options (default 0) @since 0.2.0 */
    size_t shard_count;      /**< training shards (default 1); validation is never sharded @since 0.2.0 */
    /** Learning-rate scheduler or NULL (default). Before each epoch (or
     *  each batch, if tg_scheduler_per_batch()) the optimiser's rate is set
     *  with tg_scheduler_apply() for the steps done so far: epoch e (from 1)
     *  is step e - 1, batch b (from 0) of epoch e step (e - 1) * batches + b,
     *  so a resumed run continues the schedule. @since 0.2.0 */
    tg_scheduler *scheduler;
    /** Clip the gradients to this global L2 norm before every optimiser
     *  step (tg_clip_grad_norm()); 0 = off (default). @since 0.2.0 */
    float clip_grad_norm;
    /* -- distributed hooks (0.2.0; tg_fit itself stays MPI-free) -- */
    tg_fit_step_fn after_backward;   /**< optional step hook (see tg_fit_step_fn) */
    tg_fit_reduce_fn reduce_metrics; /**< optional metrics hook (see tg_fit_reduce_fn) */
    void *hook_user;                 /**< first argument to the two hooks */
    /** false: this process writes no checkpoints (save_dir is ignored
     *  except when reading best.safetensors back on resume); set on every
     *  rank but 0 in data-parallel runs (default true) */
    bool is_main;
} tg_fit_options;

/** @brief Defaults: 10 epochs from 0, batch 32 (validation 256), shuffle,
 *  keep partial batches, seed 0, no early stopping, no checkpoints,
 *  cross-entropy, no callbacks. @since 0.1.0 */
TG_API void tg_fit_options_init(tg_fit_options *opts);

/** @brief Why tg_fit() returned. */
typedef enum tg_fit_stop {
    TG_FIT_COMPLETED = 0,       /**< ran up to options.epochs */
    TG_FIT_EARLY_STOPPED = 1,   /**< patience ran out */
    TG_FIT_CALLBACK_STOPPED = 2,/**< a callback returned non-zero */
    TG_FIT_FAILED = 3           /**< an error (the return value says which) */
} tg_fit_stop;

/** @brief What tg_fit() reports. Set @p struct_size to
 *  sizeof(tg_fit_result) before the call. */
typedef struct tg_fit_result {
    size_t struct_size;      /**< set by the caller */
    tg_fit_stop stop;        /**< why training ended */
    int64_t last_epoch;      /**< last completed epoch (start_epoch if none) */
    int64_t best_epoch;      /**< epoch of the best monitored loss (0 if none) */
    double best_loss;        /**< that loss (INFINITY if none) */
    double train_seconds;    /**< wall time of the epochs run, validation included */
    double samples_per_s;    /**< training samples per second of training time */
    uint64_t samples;        /**< training samples processed */
} tg_fit_result;

/** @brief Train @p m with @p opt on @p train for epochs start_epoch+1 ..
 *  epochs. Each step: zero the gradients, forward a batch (train mode),
 *  loss, tg_backward(), tg_optim_step(), tg_ctx_reset(); backward without
 *  retained intermediate gradients (tg_ctx_set_retain_grads(), restored
 *  before returning). The batch order of
 *  epoch e depends only on (seed, e) and the context RNG is re-seeded from
 *  (seed, e) at its start, so a run resumed from a checkpoint is
 *  bit-identical to an uninterrupted one (same thread count). After each
 *  epoch the model is evaluated on @p val (if not NULL), checkpoints are
 *  written and the callbacks run. A non-finite loss stops training with
 *  TG_ERR_NUMERIC before the optimiser step; the checkpoints of the last
 *  finished epoch are left as they were.
 *  @param[in] m      model whose output is [batch, classes]
 *  @param[in] opt    optimiser over @p m's parameters
 *  @param[in] train  training set (same context as @p m)
 *  @param[in] val    validation set or NULL
 *  @param[in] opts   options or NULL for defaults
 *  @param[out] result optional report (may be NULL); once training has
 *                    started it is filled on error too (stop TG_FIT_FAILED)
 *  @return TG_OK (also when stopped early or by a callback),
 *          TG_ERR_INVALID_ARG (NULL, bad option, contexts differ, empty
 *          training set, batch_size 0), TG_ERR_NUMERIC (NaN/Inf loss; names
 *          the epoch and batch), TG_ERR_IO (checkpoint or directory; names
 *          the path), TG_ERR_SHAPE (model output not [batch, classes]),
 *          or any error of the forward pass, loss or optimiser
 *  @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_fit(tg_module *m, tg_optim *opt, const tg_dataset *train,
                                     const tg_dataset *val, const tg_fit_options *opts,
                                     tg_fit_result *result);

/** @brief tg_evaluate() options; initialise with tg_eval_options_init().
 *  The two output buffers are written only on success. */
typedef struct tg_eval_options {
    size_t struct_size;      /**< set by tg_eval_options_init() */
    size_t batch_size;       /**< default 256 */
    tg_loss_fn loss;         /**< NULL = mean cross-entropy */
    void *loss_user;         /**< first argument to @p loss */
    /** Output, optional: n_classes * n_classes counts, row = true label,
     *  column = predicted class (overwritten, not accumulated). */
    int64_t *confusion;
    int n_classes;           /**< size of @p confusion; must equal the model's output width */
    /** Output, optional: the predicted class (arg max, first on ties) of
     *  every image, tg_dataset_n() entries. */
    int32_t *predictions;
    /** Batch-level loss (NULL = cross-entropy for class data, MSE for vector
     *  targets), called with @p loss_user; set at most one of @p loss and
     *  @p batch_loss. @since 0.2.0 */
    tg_batch_loss_fn batch_loss;
} tg_eval_options;

/** @brief Defaults: batch 256, cross-entropy, no confusion matrix, no
 *  predictions. @since 0.1.0 */
TG_API void tg_eval_options_init(tg_eval_options *opts);

/** @brief What tg_evaluate() reports. Set @p struct_size to
 *  sizeof(tg_eval_result) before the call. */
typedef struct tg_eval_result {
    size_t struct_size;      /**< set by the caller */
    double loss;             /**< mean loss over the images */
    double accuracy;         /**< n_correct / n */
    uint64_t n;              /**< images evaluated */
    uint64_t n_correct;      /**< images whose arg max equals the label */
    double rmse;             /**< vector targets: root mean squared error over every element; NaN for classes @since 0.2.0 */
    double mae;              /**< vector targets: mean absolute error; NaN for classes @since 0.2.0 */
} tg_eval_result;

/** @brief Evaluate @p m on every image of @p ds in order, in evaluation
 *  mode with gradients off (both restored afterwards).
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, contexts differ, empty data set,
 *          batch_size 0, label outside [0, n_classes)), TG_ERR_SHAPE (output
 *          not [batch, classes], or n_classes differs from it), TG_ERR_NUMERIC
 *          (non-finite loss), TG_ERR_NOMEM, or an error of the forward pass;
 *          on error @p out and the option buffers are untouched.
 *  @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_evaluate(tg_module *m, const tg_dataset *ds,
                                          const tg_eval_options *opts, tg_eval_result *out);

/** @brief Format an n_classes x n_classes confusion matrix (row = true
 *  label, column = predicted, as tg_eval_options.confusion) as text: a
 *  header line of class numbers, then one line per true label, each cell
 *  6 characters wide, every line ending in a newline.
 *  @return the length written (excluding the terminating NUL), or 0 if
 *          an argument is NULL, n_classes is outside 1..1000 or @p cap is
 *          too small (then @p buf holds "" if cap > 0). @since 0.2.0 */
TG_API size_t tg_confusion_format(const int64_t *confusion, int n_classes, char *buf,
                                  size_t cap);

/** @brief Write epoch metrics as CSV (atomically: temporary file + rename):
 *  header `epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_s`,
 *  then one row per entry; NaN is written as an empty field.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the path) @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_metrics_write_csv(tg_ctx *ctx, const char *path,
                                                   const tg_epoch_metrics *metrics, size_t n);
/** @brief Read a file written by tg_metrics_write_csv() into @p out
 *  (at most @p cap rows); *n receives the number of rows.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO, TG_ERR_FORMAT ("m.csv:3:
 *          ..."), TG_ERR_LIMIT (more than @p cap rows); @p out and *n are
 *          untouched on error. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_metrics_read_csv(tg_ctx *ctx, const char *path,
                                                  tg_epoch_metrics *out, size_t cap, size_t *n);

/** @brief A line chart for tg_line_chart_write_svg(); initialise with
 *  tg_line_chart_init(). Points with a non-finite y are skipped. */
typedef struct tg_line_chart {
    size_t struct_size;            /**< set by tg_line_chart_init() */
    const char *title;             /**< may be NULL */
    const char *x_label;           /**< may be NULL */
    const char *y_label;           /**< may be NULL */
    size_t n_points;               /**< points per series */
    const double *x;               /**< n_points x values (NULL = 1, 2, ...) */
    size_t n_series;               /**< 1..8 */
    const char *const *names;      /**< legend entries, n_series (NULL = none) */
    const double *const *y;        /**< n_series arrays of n_points values */
    bool y_from_zero;              /**< include 0 in the y range (default false) */
} tg_line_chart;

/** @brief Zero every field and set struct_size. @since 0.1.0 */
TG_API void tg_line_chart_init(tg_line_chart *chart);

/** @brief Write @p chart as a standalone SVG 1.1 file (atomically): title,
 *  axes with labelled ticks, a legend, one polyline per series (plus point
 *  markers). Pure C, no dependencies; text is XML-escaped.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, no points, n_series outside
 *          1..8), TG_ERR_IO (names the path) @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_line_chart_write_svg(tg_ctx *ctx, const char *path,
                                                      const tg_line_chart *chart);

/** @brief Which curves tg_metrics_write_svg() draws. */
typedef enum tg_metrics_chart {
    TG_CHART_LOSS = 0,      /**< train and validation loss per epoch */
    TG_CHART_ACCURACY = 1   /**< train and validation accuracy per epoch */
} tg_metrics_chart;

/** @brief Chart of epoch metrics (validation curves only if present), with
 *  @p title (NULL = "Loss" / "Accuracy"). Returns as
 *  tg_line_chart_write_svg(). @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_metrics_write_svg(tg_ctx *ctx, const char *path,
                                                   const tg_epoch_metrics *metrics, size_t n,
                                                   tg_metrics_chart which, const char *title);

/** @brief Read one PNG image as h*w 8-bit grayscale pixels into @p dst
 *  (converted as tg_dataset_load_png_dir() does), e.g. to classify it.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO, TG_ERR_FORMAT (corrupt,
 *          names the file), TG_ERR_SHAPE (not h x w: names the file and both
 *          sizes); @p dst is untouched on error. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_image_load_png(tg_ctx *ctx, const char *path, int64_t h,
                                                int64_t w, uint8_t *dst);
/** @brief Read one PNG as @p channels x h x w planar 8-bit values into
 *  @p dst (the [C, H, W] layout of a tg_dataset_load_png_tree() sample,
 *  converted as tg_png_options::channels 1..4 says), e.g. to classify a
 *  colour image with a model trained on such a tree.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, channels outside 1..4, bad
 *          size), TG_ERR_IO, TG_ERR_FORMAT, TG_ERR_SHAPE (names the file);
 *          @p dst is untouched on error. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_image_load_png_channels(tg_ctx *ctx, const char *path,
                                                         int channels, int64_t h, int64_t w,
                                                         uint8_t *dst);

/** @name Training configuration (0.2.0)
 *  What a training program reads from a `key = value` configuration
 *  (tg_config) and its command line, shared by examples/mnist_cnn and
 *  usable by any program. Keys that are absent leave the caller's values
 *  (or the documented defaults) in place. Value errors name the key and
 *  file:line ("config.txt:4: batch_size: 'abc' is not an integer") and
 *  are kept in the configuration's context.
 *  @{ */

/** @brief The keys tg_train_config_fit(), tg_train_config_optim() and
 *  tg_train_config_scheduler() read (static storage), *n receives their
 *  number: batch_size, epochs, seed, patience, optimizer_type, learning_rate,
 *  momentum, weight_decay, nesterov, lr_schedule, lr_step_epochs, lr_gamma,
 *  lr_min, lr_milestones, lr_warmup_epochs, lr_warmup_factor, lr_max,
 *  clip_grad_norm, loss_function. @since 0.2.0 */
TG_API const char *const *tg_train_config_keys(size_t *n);

/** @brief Help text for the keys of tg_train_config_keys() (static
 *  storage; one "  key  description (default)" line each), for a program's
 *  --help. @since 0.2.0 */
TG_API const char *tg_train_config_help(void);

/** @brief tg_config_check_keys() against tg_train_config_keys() plus the
 *  program's own @p extra keys (n_extra).
 *  @return TG_OK, TG_ERR_INVALID_ARG ("config.txt:7: unknown key
 *          'lerning_rate'"), TG_ERR_LIMIT (more than 64 extra keys)
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_check_keys(const tg_config *cfg,
                                                         const char *const *extra,
                                                         size_t n_extra);

/** @brief Read batch_size (1..65536), epochs (0..100000), seed (>= 0),
 *  patience (>= 0) and clip_grad_norm (>= 0) into @p fit; absent keys keep
 *  @p fit's values. loss_function is checked: cross_entropy (the default
 *  loss of tg_fit()) is the one value. @p fit is unchanged on error.
 *  @return TG_OK, TG_ERR_INVALID_ARG @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_fit(const tg_config *cfg, tg_fit_options *fit);

/** @brief Read optimizer_type (sgd | adam | adamw | rmsprop | adagrad, any
 *  case; default sgd) into *name (a static lower-case string for
 *  tg_optim_create_by_name()), and learning_rate (default 0.01, in
 *  [1e-12, 100]), momentum ([0, 0.9999], default 0), weight_decay ([0, 1],
 *  default 0, for AdamW too) and nesterov (default false) into @p c
 *  (initialised here). Outputs are unchanged on error.
 *  @return TG_OK, TG_ERR_INVALID_ARG @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_optim(const tg_config *cfg, const char **name,
                                                    tg_optim_config *c);

/** @brief Build the per-epoch learning-rate schedule the configuration
 *  names, or set *out to NULL for none: lr_schedule = none (default) |
 *  step (times lr_gamma every lr_step_epochs epochs) | multistep (times
 *  lr_gamma at each of lr_milestones, e.g. "30,60") | cosine (from
 *  learning_rate down to lr_min after @p epochs epochs) | onecycle (up to
 *  lr_max, default 10 x learning_rate, and down over @p epochs epochs);
 *  lr_warmup_epochs (default 0) of linear warm-up from lr_warmup_factor
 *  (default 0.1) x learning_rate go before any but onecycle (cosine then
 *  spans the remaining epochs). lr_step_epochs defaults to 5, lr_gamma to
 *  0.1 (in (0, 1]), lr_min to 0 (at most learning_rate).
 *  @param[in] cfg  configuration
 *  @param[in] ctx  context of the scheduler (and of a bad lr_milestones
 *                  message)
 *  @param[in] epochs the number of the last epoch (cosine, onecycle)
 *  @param[out] out the scheduler, or NULL for none
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_NOMEM.
 *  Ownership: caller owns *out; release with tg_scheduler_destroy().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_scheduler(const tg_config *cfg, tg_ctx *ctx,
                                                        int64_t epochs, tg_scheduler **out);

/** @brief Apply command-line flags to @p cfg: `--some-key VALUE` or
 *  `--some-key=VALUE` sets some_key (dashes become underscores) when it is
 *  one of @p keys (n_keys); for the flags named in @p passthrough (n_pass,
 *  e.g. "config", "resume") nothing is set, their values go to values[i]
 *  (NULL if absent). argv[0] is skipped. A bare `--some-key` (the last
 *  argument, or followed by another `--` argument) sets some_key to "true":
 *  `--summary` is `--summary true`. That holds for the program's keys (a
 *  non-boolean key then fails in its tg_config_get_*() call, naming the key
 *  and the value "true") and the library's boolean nesterov; the library's
 *  other keys and the pass-through flags need a value.
 *  @param[in] ctx context that keeps the message of a bad flag
 *  @param[in,out] cfg configuration the flags are set in
 *  @param[in] argc, argv the program's arguments
 *  @param[in] keys, n_keys the keys a flag may set
 *  @param[in] passthrough, n_pass flags whose values are returned, not set
 *  @param[out] values n_pass values (NULL where the flag is absent)
 *  @return TG_OK, TG_ERR_INVALID_ARG ("unknown option '--epoch'", "option
 *          '--epochs' needs a value", "unexpected argument 'x'"; a bad key
 *          from tg_config_set() is kept in @p cfg's context), TG_ERR_NOMEM
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_args(tg_ctx *ctx, tg_config *cfg, int argc,
                                                   const char *const *argv,
                                                   const char *const *keys, size_t n_keys,
                                                   const char *const *passthrough,
                                                   size_t n_pass, const char **values);

/** @brief A program's whole configuration: the file given with
 *  `--config FILE`, else the first of @p defaults (n_defaults paths) that
 *  exists, else an empty one; then the command-line flags on top
 *  (tg_train_config_args() with the library's keys plus @p keys, and
 *  "config" plus @p pass as pass-through flags whose values go to
 *  values[0 .. n_pass - 1]); then tg_train_config_check_keys().
 *  @return TG_OK, or the first error of those steps (kept in @p ctx);
 *          *out untouched on error.
 *  Ownership: caller owns *out; release with tg_config_destroy().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_load(tg_ctx *ctx, int argc,
                                                   const char *const *argv,
                                                   const char *const *defaults,
                                                   size_t n_defaults, const char *const *keys,
                                                   size_t n_keys, const char *const *pass,
                                                   size_t n_pass, const char **values,
                                                   tg_config **out);

/** @brief Apply the program keys train_subset (keep the first N training
 *  samples; 0, the default, = all) and train_val_split (training share in
 *  [1e-6, 1], default @p default_split; 1.0 = no validation set) to the
 *  training set: *train is replaced by its training part (the old handle is
 *  destroyed; the parts share its memory) and *val receives the validation
 *  part (tg_dataset_split() with @p seed), or NULL for 1.0. The program
 *  lists both keys in its own keys (tg_train_config_load()). Apply the
 *  normalisation before: subsets and splits copy it.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, a bad value naming the key),
 *          TG_ERR_NOMEM; on error *train and *val are unchanged.
 *  Ownership: caller owns the new *train and *val; release each with
 *  tg_dataset_destroy(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_config_split(const tg_config *cfg, double default_split,
                                                    uint64_t seed, tg_dataset **train,
                                                    tg_dataset **val);

/** @brief Where tg_data_dir_resolve() looks. */
typedef struct tg_data_dir_options {
    size_t struct_size;              /**< set by tg_data_dir_options_init() */
    /** A directory qualifies when it holds at least one of these names
     *  (files or directories), e.g. "train-images-idx3-ubyte"; none = any
     *  existing directory qualifies. */
    const char *const *markers;
    size_t n_markers;                /**< number of @p markers */
    /** Relative paths are tried in the current directory first, then under
     *  each of these (e.g. the source tree, the executable's directory). */
    const char *const *roots;
    size_t n_roots;                  /**< number of @p roots */
    /** Searched in this order, only when the user named no directory. */
    const char *const *defaults;
    size_t n_defaults;               /**< number of @p defaults */
    /** Optional: the program's argv[0]; the directory it is in is tried as
     *  a last root (finds data next to an installed or built program). */
    const char *argv0;
} tg_data_dir_options;

/** @brief Zero every field and set struct_size. @since 0.2.0 */
TG_API void tg_data_dir_options_init(tg_data_dir_options *o);

/** @brief Find the data directory. A directory the user @p named (not
 *  NULL or "") is used, or refused with an error that names it: it is never
 *  replaced by another directory. Only when @p named is NULL or "" are the
 *  defaults searched, in order.
 *  @param[in] ctx   context for the error message
 *  @param[in] named the directory the user named, or NULL / "" for none
 *  @param[in] o     where to look
 *  @param[out] out  the path found (as given, or joined to a root)
 *  @param[in] cap   size of @p out in bytes
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, bad struct_size), TG_ERR_NOT_FOUND
 *          ("data directory '/x' (named) does not exist" / "holds none of
 *          ...", or the defaults tried), TG_ERR_LIMIT (path longer than @p cap)
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_data_dir_resolve(tg_ctx *ctx, const char *named,
                                                  const tg_data_dir_options *o, char *out,
                                                  size_t cap);

/** @brief Opaque training logger: standard tg_fit() callbacks. */
typedef struct tg_train_logger tg_train_logger;

/** @brief tg_train_logger_create() options. */
typedef struct tg_train_logger_options {
    size_t struct_size;      /**< set by tg_train_logger_options_init() */
    /** Text log ("epoch E iter I/N loss L" per batch, "epoch E train_loss ...
     *  val_accuracy ... seconds S" per epoch), its directory created; NULL
     *  or "" = none. */
    const char *log_path;
    bool append;             /**< append to the log (a resumed run) instead of truncating */
    /** Directory for metrics.csv, loss.svg and accuracy.svg after every
     *  epoch (the curves of epochs up to start_epoch are read back from an
     *  existing metrics.csv); NULL = none. */
    const char *save_dir;
    const char *title;       /**< chart title prefix, e.g. "MNIST CNN" (NULL = none) */
    int64_t epochs;          /**< last epoch, shown as "epoch e/E" */
    int64_t start_epoch;     /**< epochs already done */
    size_t batch_size;       /**< for the ETA of the progress bar */
    bool progress;           /**< redraw a progress bar on stdout (e.g. isatty(1)) */
    tg_optim *opt;           /**< optional: its learning rate ends the epoch line */
} tg_train_logger_options;

/** @brief Defaults: no log, no save_dir, no progress bar. @since 0.2.0 */
TG_API void tg_train_logger_options_init(tg_train_logger_options *o);

/** @brief Create a logger. Pass tg_train_logger_on_batch / _on_epoch as
 *  tg_fit_options.on_batch / on_epoch with the logger as user. Each epoch
 *  prints "epoch e/E train_loss L train_acc A val_loss L val_acc A Ss N
 *  samples/s lr R" to stdout.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (log or metrics.csv: names
 *          the path), TG_ERR_NOMEM.
 *  Ownership: caller owns *out; release with tg_train_logger_destroy()
 *  (closes the log). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_logger_create(tg_ctx *ctx,
                                                     const tg_train_logger_options *o,
                                                     tg_train_logger **out);
/** @brief Close the log and free; NULL is a no-op. @since 0.2.0 */
TG_API void tg_train_logger_destroy(tg_train_logger *lg);
/** @brief tg_batch_fn for tg_fit_options.on_batch (user = the logger).
 *  @since 0.2.0 */
TG_API int tg_train_logger_on_batch(void *user, int64_t epoch, size_t batch, size_t n_batches,
                                    double loss, double samples_per_s);
/** @brief tg_epoch_fn for tg_fit_options.on_epoch (user = the logger);
 *  returns non-zero (stop) if writing the metrics files fails, with the
 *  reason in the logger's context. @since 0.2.0 */
TG_API int tg_train_logger_on_epoch(void *user, const tg_epoch_metrics *metrics);
/** @brief Append a line of text to the log (no-op without one). @since 0.2.0 */
TG_API void tg_train_logger_note(tg_train_logger *lg, const char *line);
/** @brief tg_fit() with the logger's callbacks: a copy of @p fit (NULL =
 *  defaults; its hooks, shard and is_main are kept) gets on_batch, on_epoch
 *  and user set to @p lg. A failure ends the progress bar with a newline; a
 *  stop by the logger (writing the metrics files failed) is an error; an
 *  early stop prints "early stop after epoch E (best epoch B)".
 *  @return TG_OK, the error of tg_fit() or of the logger (kept in the
 *          context), TG_ERR_INVALID_ARG (NULL, bad struct_size)
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_logger_fit(tg_train_logger *lg, tg_module *m,
                                                  tg_optim *opt, const tg_dataset *train,
                                                  const tg_dataset *val,
                                                  const tg_fit_options *fit,
                                                  tg_fit_result *result);

/** @brief tg_train_logger_test() options; initialise with
 *  tg_test_options_init() (all fields zero / NULL). */
typedef struct tg_test_options {
    size_t struct_size;          /**< set by tg_test_options_init() */
    /** If SAVE_DIR/best.safetensors exists, load it into the model first
     *  ("test set, weights PATH:"); NULL or "" = test the weights as they are. */
    const char *save_dir;
    /** With save_dir: write SAVE_DIR/model.onnx (tg_module_export_onnx(),
     *  with the model's metadata) of the weights tested ("wrote PATH"). */
    bool export_onnx;
    int ndim;                    /**< export_onnx: rank of @p input_shape */
    const int64_t *input_shape;  /**< export_onnx: example input shape, batch first */
    /** Optional file (class labels only): one predicted label per line, in
     *  the data set's order; NULL = none. */
    const char *predictions;
    /** Optional: train_seconds and samples_per_s of the last line; NULL =
     *  those of the logger's last tg_train_logger_fit(), else 0. */
    const tg_fit_result *fit;
} tg_test_options;

/** @brief Zero every field and set struct_size. @since 0.2.0 */
TG_API void tg_test_options_init(tg_test_options *o);

/** @brief Test @p m on @p test and report it as mnist_cnn does: first the
 *  best weights and the ONNX export of tg_test_options, then for class
 *  labels the confusion matrix (tg_confusion_format()), "test loss L,
 *  accuracy A (c/n)", the note "test_accuracy A" in the log, and last the
 *  machine-readable line "test_accuracy=A train_seconds=S samples_per_s=R"
 *  (S and R from o->fit or the logger's last fit). For vector targets: "test loss L,
 *  rmse R, mae M (n samples)" and last "test_rmse=R train_seconds=S
 *  samples_per_s=R". All on stdout.
 *  @param lg the logger (its context keeps the message)
 *  @param m the model (evaluated as tg_evaluate() does)
 *  @param test the test set
 *  @param o options, or NULL for none
 *  @param out optional: the tg_eval_result (set its struct_size)
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the file),
 *          TG_ERR_LIMIT (more than 1000 classes), TG_ERR_NOMEM, or an error
 *          of tg_module_load(), tg_module_export_onnx() or tg_evaluate().
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_train_logger_test(tg_train_logger *lg, tg_module *m,
                                                   const tg_dataset *test,
                                                   const tg_test_options *o,
                                                   tg_eval_result *out);

/** @brief Record the preprocessing the model expects in its metadata
 *  (tg_module_set_metadata()), so that tg_module_save() (best.safetensors,
 *  checkpoints) and tg_module_export_onnx() carry it: "tg.input_scale" =
 *  @p scale (e.g. 1.0 / 255), and with @p n > 0 "tg.input_mean" and
 *  "tg.input_std" as comma-separated lists of @p n values (one per channel,
 *  or one for all), each the shortest decimal that reads back as the same
 *  float. @p n = 0 removes the mean and std entries. The model then expects
 *  x = (raw * scale - mean) / std, as tg_dataset_set_channel_normalization().
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, scale not finite and > 0, mean or
 *          std not finite, std <= 0), TG_ERR_LIMIT (n > 64), TG_ERR_NOMEM; on
 *          error the three entries are as before. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_module_set_preprocessing(tg_module *m, double scale,
                                                          const float *mean, const float *std,
                                                          int n);
/** @} */

/** @} */

/** @addtogroup tg_profile
 *  @{ */

/** @brief One row of the profile: an op (module_type NULL) or a module
 *  call site (module_type its tg_module_type()). A plain record: its layout
 *  is ABI. */
typedef struct tg_profile_row {
    const char *name;        /**< op name ("conv2d") or module path ("0", "features.1") */
    const char *module_type; /**< module type for module rows, NULL for ops */
    double forward_ms;       /**< total forward time */
    double backward_ms;      /**< total backward time; for a module, of the ops its own forward ran (children's not included) */
    uint64_t forward_calls;  /**< forward calls */
    uint64_t backward_calls; /**< backward calls (for a module: of its own ops) */
    uint64_t bytes;          /**< step-arena bytes allocated during the op's forward interval */
} tg_profile_row;

/** @brief Turn the profiler of @p ctx on or off. While on, every op call
 *  (forward and backward) and every tg_module_forward() call is timed and
 *  logged; recorded data stay until tg_profiler_reset() (turning it off
 *  keeps them, so they can be printed). Off by default; when off an op
 *  pays one branch. An op's forward time runs from its result's creation to
 *  the next op's (or to tg_backward(), tg_ctx_reset(), or turning the
 *  profiler off), so it includes the caller's work in between.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_NOMEM (the log's header).
 *  Ownership: the log belongs to @p ctx. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_profiler_enable(tg_ctx *ctx, bool on);
/** @brief Whether the profiler of @p ctx is on. @since 0.2.0 */
TG_API bool tg_profiler_is_enabled(const tg_ctx *ctx);
/** @brief Clear the profile's rows and event log (keeps it on or off).
 *  @since 0.2.0 */
TG_API void tg_profiler_reset(tg_ctx *ctx);
/** @brief Number of rows: ops first (in order of first call), then modules.
 *  @since 0.2.0 */
TG_API size_t tg_profiler_n_rows(const tg_ctx *ctx);
/** @brief Copy row @p i into @p out.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL, or @p i out of range).
 *  Ownership: the strings in @p out are borrowed from @p ctx; valid until
 *  tg_profiler_reset(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_profiler_row(const tg_ctx *ctx, size_t i, tg_profile_row *out);
/** @brief Write the profile as a text table into @p buf: one line per op
 *  (calls, forward and backward ms, arena bytes), the op total, then one
 *  line per module.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_LIMIT (@p size too small:
 *          @p buf holds the truncated, NUL-terminated table).
 *  Ownership: nothing retained. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_profiler_table(const tg_ctx *ctx, char *buf, size_t size);
/** @brief Write the event log as Chrome trace JSON (chrome://tracing,
 *  Perfetto): one complete ("ph":"X") event per op forward call (cat
 *  "forward"), op backward call ("backward") and module call ("module", on
 *  its own tid), with ts and dur in microseconds. The log holds at most
 *  2^20 events; later ones are counted in the table, not logged.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the path).
 *  Ownership: nothing retained. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_profiler_write_trace(const tg_ctx *ctx, const char *path);

/** @brief Summarise module @p m like torchinfo: a tree of its module calls
 *  with output shapes, parameter counts per layer, the totals (trainable
 *  and all parameters, buffers) and the forward FLOPs per sample, found by
 *  running the forward once in evaluation mode on a zero input of @p shape
 *  (flags and grad mode restored). FLOPs count 2 per multiply-add of
 *  conv2d, linear and matmul (bias, activations, pooling and normalisation
 *  not counted), divided by the batch size shape[0].
 *  @param m the module (its flags are restored)
 *  @param ndim rank of @p shape
 *  @param shape input shape, batch first
 *  @param buf receives the NUL-terminated text
 *  @param size capacity of @p buf in bytes
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_STATE (the forward failed),
 *          TG_ERR_NOMEM, TG_ERR_LIMIT (@p size too small; @p buf holds the
 *          truncated text).
 *  Ownership: nothing retained. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_module_summary(tg_module *m, int ndim, const int64_t *shape,
                                                char *buf, size_t size);
/** @brief Forward FLOPs per sample of @p m for input @p shape, counted as
 *  tg_module_summary() does, into @p flops.
 *  @return as tg_module_summary(), without TG_ERR_LIMIT. @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_module_flops(tg_module *m, int ndim, const int64_t *shape,
                                              int64_t *flops);

/** @} */

/** @page misuse Misuse rules
 *
 *  What the library detects, and what stays the caller's duty (the full
 *  text with examples is in docs/memory.md, "Misuse rules").
 *
 *  Detected, with TG_ERR_MISUSE and a message in the context:
 *  - A transient tensor used after the tg_ctx_reset() that ended its step,
 *    by any op, tg_backward() or tensor accessor (accessors return
 *    0/-1/NULL). Always detected for a tensor from the previous step;
 *    one from an older step is detected unless a tensor of the current
 *    step reuses its header slot, in which case the handle silently names
 *    that newer tensor. Persistent tensors are never stale.
 *  - A context entered from a second thread while another thread is inside
 *    an op (any function returning a tensor, tg_zeros() and tg_detach()
 *    included), tg_module_forward(), tg_backward(), tg_optim_step(),
 *    tg_ctx_reset() or a destroy function: the second thread's call fails
 *    (ops return NULL) and the owner's call is unaffected. Constructors of
 *    modules, optimisers and data sets, loaders and savers are not checked.
 *
 *  Lifetimes, TG_ERR_BUSY (nothing freed, message in the context):
 *  - tg_module_destroy() of a module owned by a parent, or whose tensors a
 *    live optimiser holds; tg_tensor_destroy() of a module's tensor or of
 *    one a live optimiser holds. Destroy the optimiser first.
 *  - A persistent tensor or module destroyed while the current step's
 *    graph uses it is freed at the next tg_ctx_reset() (not refused).
 *  - tg_ctx_destroy() releases everything regardless.
 *
 *  The caller's duty (undefined behaviour, as with free()): destroying the
 *  same handle twice, using any handle after a destroy that was accepted
 *  or after tg_ctx_destroy(), and handles from a context that is gone. */

#ifdef __cplusplus
}
#endif

#endif /* TINYGRAD_H */
