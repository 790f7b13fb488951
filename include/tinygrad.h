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
    TG_ERR_NUMERIC = 10      /**< NaN or Inf detected */
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
 *  modules, optimisers). NULL is a no-op. @since 0.1.0 */
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
 *  left alone (the arena owns it). @since 0.1.0 */
TG_API void tg_tensor_destroy(tg_tensor *t);

/** @name Transient creators
 *  Return a new tensor in the step arena, or NULL with the reason kept in the
 *  context. Ownership: borrowed from @p ctx; valid until tg_ctx_reset().
 *  @{ */
TG_API tg_tensor *tg_zeros(tg_ctx *ctx, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_ones(tg_ctx *ctx, int ndim, const int64_t *shape);
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
/** @brief Mark a leaf tensor as requiring gradients.
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
 *  @param x input [N, C_in, H, W]
 *  @param w weight [C_out, C_in/groups, kH, kW]
 *  @param b bias [C_out] or NULL
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
 *  @param vtable must outlive the module (usually static)
 *  @param userdata handed back by tg_module_userdata(); released with
 *         vtable->destroy_userdata if set
 *  Ownership: caller owns *out; release with tg_module_destroy() unless it is
 *  added to a parent, which then owns it. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_module_create(tg_ctx *ctx, const tg_module_vtable *vtable,
                                               void *userdata, tg_module **out);
/** @brief Destroy a module, its children, parameters and buffers. NULL is a
 *  no-op. Refused (no-op) for a module owned by a parent. */
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
 *  Ownership: caller owns *out; release with tg_optim_destroy(). The module
 *  must outlive it. @since 0.1.0 */
TG_API TG_NODISCARD tg_status tg_optim_create(tg_ctx *ctx, tg_module *m,
                                              const tg_optim_vtable *vtable, void *hyper, float lr,
                                              tg_optim **out);
/** @brief Create an optimiser over an explicit list of persistent tensors
 *  (copied list; the tensors must outlive it). @p names may be NULL. */
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
TG_API TG_NODISCARD tg_status tg_sgd_create(tg_ctx *ctx, tg_module *m, const tg_sgd_options *opts,
                                            tg_optim **out);
TG_API TG_NODISCARD tg_status tg_adam_create(tg_ctx *ctx, tg_module *m,
                                             const tg_adam_options *opts, tg_optim **out);
TG_API TG_NODISCARD tg_status tg_adamw_create(tg_ctx *ctx, tg_module *m,
                                              const tg_adam_options *opts, tg_optim **out);
TG_API TG_NODISCARD tg_status tg_rmsprop_create(tg_ctx *ctx, tg_module *m,
                                                const tg_rmsprop_options *opts, tg_optim **out);
TG_API TG_NODISCARD tg_status tg_adagrad_create(tg_ctx *ctx, tg_module *m,
                                                const tg_adagrad_options *opts, tg_optim **out);
/** @} */

/** @} */

/* @@TG_DATA_API@@ (data sets, serialization and training helpers follow) */

#ifdef __cplusplus
}
#endif

#endif /* TINYGRAD_H */
