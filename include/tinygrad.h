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
 *  backward that reached @p t. Ownership: borrowed from @p t; for transient
 *  tensors valid until tg_ctx_reset(). */
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

/* @@OPS_NEW (new ops go below this line)@@ */


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
/** Linear: weight [out, in], bias [out]; y = x W^T + b. */
TG_API TG_NODISCARD tg_status tg_linear_create(tg_ctx *ctx, int64_t in_features,
                                               int64_t out_features, bool bias, tg_module **out);
/** Conv2d: weight [out_c, in_c/groups, k, k], bias [out_c]. */
TG_API TG_NODISCARD tg_status tg_conv2d_create(tg_ctx *ctx, int64_t in_channels,
                                               int64_t out_channels, int kernel, int stride,
                                               int padding, int dilation, int groups, bool bias,
                                               tg_module **out);
/** MaxPool2d (stride 0 = kernel). */
TG_API TG_NODISCARD tg_status tg_maxpool2d_create(tg_ctx *ctx, int kernel, int stride,
                                                  int padding, tg_module **out);
/** AvgPool2d (stride 0 = kernel). */
TG_API TG_NODISCARD tg_status tg_avgpool2d_create(tg_ctx *ctx, int kernel, int stride,
                                                  int padding, tg_module **out);
/** ReLU. */
TG_API TG_NODISCARD tg_status tg_relu_create(tg_ctx *ctx, tg_module **out);
/** Flatten all but the first dim. */
TG_API TG_NODISCARD tg_status tg_flatten_create(tg_ctx *ctx, tg_module **out);
/** Dropout with probability @p p (active in training mode only). */
TG_API TG_NODISCARD tg_status tg_dropout_create(tg_ctx *ctx, float p, tg_module **out);
/** BatchNorm2d: weight/bias [C] (ones/zeros), buffers running_mean,
 *  running_var [C] and num_batches_tracked [1]. */
TG_API TG_NODISCARD tg_status tg_batchnorm2d_create(tg_ctx *ctx, int64_t channels, float eps,
                                                    float momentum, tg_module **out);
/** Sequential: forward runs children in order; children named "0", "1", ... */
TG_API TG_NODISCARD tg_status tg_sequential_create(tg_ctx *ctx, tg_module **out);
/** Append @p child to a Sequential (ownership as tg_module_add_child()). */
TG_API TG_NODISCARD tg_status tg_sequential_append(tg_module *seq, tg_module *child);
/** @} */

/* @@NN_NEW (new layers, options-struct constructors, residual blocks go below this line)@@ */


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

/* @@OPTIM_NEW (schedulers, gradient clipping, optimiser by name go below this line)@@ */


/** @} */

/* ------------------------------------------------------------------------ */
/** @addtogroup tg_data
 *  Data sets hold n grayscale images of h x w uint8 pixels plus one int32
 *  class label each. Loaders validate every size against hard limits before
 *  allocating and name the offending file in the error message. A data set
 *  is immutable once created except for its normalisation setting; every
 *  derived data set (subset, select, split) is independent of its source:
 *  it shares the immutable pixels (no copy; they are freed with the last
 *  data set using them) and has its own labels and normalisation, so the
 *  source may be destroyed first.
 *  @{ */

/** @brief Opaque data set: n images [h, w] uint8 and n int32 labels. */
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
 *  first (they borrow it). tg_ctx_destroy() releases data sets, iterators
 *  and configs still alive. @since 0.1.0 */
TG_API void tg_dataset_destroy(tg_dataset *ds);

/** @brief Number of images (0 if @p ds is NULL). */
TG_API size_t tg_dataset_n(const tg_dataset *ds);
/** @brief Image height (rows). */
TG_API int64_t tg_dataset_height(const tg_dataset *ds);
/** @brief Image width (columns). */
TG_API int64_t tg_dataset_width(const tg_dataset *ds);
/** @brief Number of classes (labels are in [0, n_classes)). */
TG_API int tg_dataset_n_classes(const tg_dataset *ds);
/** @brief The context the data set was created in. */
TG_API tg_ctx *tg_dataset_ctx(const tg_dataset *ds);
/** @brief Pixels of image @p i (h*w bytes, row-major); NULL if out of range.
 *  Ownership: borrowed from @p ds. */
TG_API const uint8_t *tg_dataset_image(const tg_dataset *ds, size_t i);
/** @brief Label of image @p i; -1 if out of range. */
TG_API int32_t tg_dataset_label(const tg_dataset *ds, size_t i);
/** @brief All n labels. Ownership: borrowed from @p ds. */
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
/** @brief Mean and standard deviation (population) over every pixel after
 *  the scale01 step only, to feed tg_dataset_set_normalization().
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL or empty data set) */
TG_API TG_NODISCARD tg_status tg_dataset_pixel_stats(const tg_dataset *ds, double *mean,
                                                     double *std);
/** @brief Images [start, start+count) as a normalised float tensor
 *  [count, 1, h, w] in the step arena, or NULL (error in the context).
 *  Ownership: borrowed from the data set's context; valid until
 *  tg_ctx_reset(). @since 0.1.0 */
TG_API tg_tensor *tg_dataset_to_tensor(const tg_dataset *ds, size_t start, size_t count);

/** @brief Write the data set as a PNG tree (8-bit grayscale):
 *  @p dir/\<label\>/\<index\>.png with the index zero-padded to 5+ digits, so
 *  tg_dataset_load_png_dir() reads back the same images per class. Creates
 *  @p dir (and parents) and the class directories as needed.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (names the path)
 *  @since 0.1.0 */
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
 *  @param[out] x     input tensor [B, 1, h, w] float, normalised as set on
 *                    the data set; transient: in the context's step arena,
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

/* @@IO_NEW (ONNX export, metadata go below this line) @@ */

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

/** @brief Metrics of one epoch (a plain record, also the CSV row). Its
 *  layout is ABI: new fields only in a new major version. */
typedef struct tg_epoch_metrics {
    int64_t epoch;          /**< 1 for the first epoch */
    double train_loss;      /**< mean training loss over the epoch's samples */
    double train_accuracy;  /**< share of training samples classified right (in train mode) */
    double val_loss;        /**< mean validation loss; NaN without a validation set */
    double val_accuracy;    /**< validation accuracy in [0, 1]; NaN without one */
    double seconds;         /**< wall time of the epoch, validation and checkpoints included */
    double samples_per_s;   /**< training samples per second of training time */
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
 *  loss, tg_backward(), tg_optim_step(), tg_ctx_reset(). The batch order of
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

/* @@TRAIN_NEW (training-layer additions go below this line)@@ */


/** @} */

/* @@PROFILE_NEW (profiler, model summary go below this line) @@ */

/* @@RELIABILITY_NEW (misuse rules go below this line) @@ */

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
 *    tg_module_forward(), tg_backward(), tg_optim_step(), tg_ctx_reset() or
 *    a destroy function: the second thread's call fails (ops return NULL)
 *    and the owner's call is unaffected. Two threads that only call single
 *    ops at the same time are not guaranteed to be caught.
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
