/* SPDX-License-Identifier: MIT */
/**
 * @file tinygrad_mpi.h
 * @brief libtinygrad-mpi: data-parallel training across processes and
 * machines with MPI (a separate library, `pkg-config tinygrad-mpi`).
 *
 * Built only when meson finds MPI (`-Dmpi=auto|enabled|disabled`); the core
 * header and `tinygrad.pc` stay MPI-free. Every rank holds a full replica
 * of the model and trains on its own shard of each batch; after backward the
 * gradients are averaged with MPI_Allreduce, so every replica applies the
 * same update. See docs/distributed.md for the communication model, faults
 * and how to run it on a cluster.
 *
 * Every function here is collective over the communicator: all ranks call
 * them in the same order (like MPI collectives). Errors are returned as
 * tg_status with the message kept in the context given to tg_dist_create().
 * Once a collective has failed (a rank reported a failure, or MPI returned
 * an error), the tg_dist object stays failed: every later collective
 * returns the same error without communicating, on every rank alike.
 */
#ifndef TINYGRAD_MPI_H
#define TINYGRAD_MPI_H

#include <mpi.h>
#include <tinygrad.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup tg_dist Distributed (MPI)
 *  @brief Data-parallel training with MPI (libtinygrad-mpi).
 *  @{ */

/** @brief Opaque distributed-training handle (one per process). */
typedef struct tg_dist tg_dist;

/** @brief tg_dist_create() options; initialise with tg_dist_options_init(). */
typedef struct tg_dist_options {
    size_t struct_size;      /**< set by tg_dist_options_init() */
    /** Gradients are packed into fused buffers of at most this many bytes,
     *  one MPI_Allreduce each, in parameter registration order (fixed, so
     *  results are deterministic for a given number of ranks). Default
     *  4 MiB; at least 1024. */
    size_t bucket_bytes;
    /** Watchdog: when one collective has not returned after this many
     *  seconds (a rank died, hangs, or left the training loop without
     *  telling the others), print which collective on which rank and call
     *  MPI_Abort(), which ends every rank. 0 = no watchdog. Default 300:
     *  longer than any legitimate wait (a rank writing checkpoints while the
     *  others wait at the next step). */
    double timeout_s;
    /** Also print failures reported through collectives to stderr, prefixed
     *  "tinygrad-mpi: rank R: " (default false: only the context holds them). */
    bool verbose;
} tg_dist_options;

/** @brief Defaults: 4 MiB buckets, 300 s watchdog, quiet. @since 0.2.0 */
TG_API void tg_dist_options_init(tg_dist_options *o);

/** @brief Join the communicator @p comm (collective).
 *  @param ctx  context for error messages (must outlive the handle)
 *  @param comm the caller's communicator, which the caller keeps owning
 *         (it is duplicated, and MPI_ERRORS_RETURN is set on the duplicate
 *         only), or MPI_COMM_NULL for MPI_COMM_WORLD: MPI is then
 *         initialised (MPI_Init_thread, MPI_THREAD_FUNNELED) unless the
 *         caller did, and finalised by tg_dist_destroy() if it was
 *         initialised here. Collectives are called from the calling thread
 *         only (the library's compute threads never call MPI).
 *  @param o    options, or NULL for defaults
 *  @param[out] out the handle; untouched on error
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL ctx/out, bad option),
 *          TG_ERR_STATE (MPI already finalised, or initialisation failed),
 *          TG_ERR_NOMEM
 *  Ownership: release with tg_dist_destroy(). @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_create(tg_ctx *ctx, MPI_Comm comm, const tg_dist_options *o,
                                             tg_dist **out);

/** @brief Free the handle (collective: frees the duplicated communicator),
 *  stop the watchdog and, if tg_dist_create() initialised MPI, finalise it.
 *  NULL is a no-op. @since 0.2.0 */
TG_API void tg_dist_destroy(tg_dist *d);

/** @brief This process's rank in [0, size). @since 0.2.0 */
TG_API int tg_dist_rank(const tg_dist *d);
/** @brief Number of ranks. @since 0.2.0 */
TG_API int tg_dist_size(const tg_dist *d);

/** @brief Copy every parameter and buffer of @p m (tg_module_state()
 *  order) from rank 0 to every other rank, so that all replicas start
 *  identical. First checks that every rank has the same number of state
 *  entries and elements.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL), TG_ERR_SHAPE (the models
 *          differ between ranks; names the ranks' sizes), TG_ERR_STATE (an
 *          MPI error or an earlier failure) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_broadcast_module(tg_dist *d, tg_module *m);

/** @brief Replace every parameter gradient of @p m with its mean over the
 *  ranks: the gradients are packed in registration order into buckets of
 *  tg_dist_options::bucket_bytes, summed with one MPI_Allreduce per bucket
 *  and scaled by 1/size. Call after tg_backward() and before
 *  tg_optim_step(). A parameter without a gradient yet contributes zeros
 *  (and receives none). Allocates its buffer on the first call only.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_SHAPE (gradient counts differ
 *          between ranks), TG_ERR_NOMEM (first call), TG_ERR_STATE (MPI
 *          error or an earlier failure) @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_allreduce_grads(tg_dist *d, tg_module *m);

/** @brief Average every buffer of @p m (running statistics of batch norm)
 *  over the ranks, in place. Without this call each rank keeps local
 *  statistics, as PyTorch DDP does without SyncBatchNorm; the tg_fit()
 *  hooks of tg_dist_fit_options() call it at the end of every epoch, so
 *  that validation and checkpoints see identical replicas.
 *  @return as tg_dist_allreduce_grads() @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_allreduce_buffers(tg_dist *d, tg_module *m);

/** @brief Reductions of tg_dist_allreduce_metrics(). */
typedef enum tg_dist_reduce {
    TG_DIST_SUM = 0,  /**< sum over the ranks */
    TG_DIST_MEAN = 1  /**< sum divided by the number of ranks */
} tg_dist_reduce;

/** @brief Reduce @p n doubles in place over the ranks (e.g. loss sums and
 *  sample counts), the same result on every rank.
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL with n > 0, bad op),
 *          TG_ERR_STATE @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_allreduce_metrics(tg_dist *d, double *v, size_t n,
                                                        tg_dist_reduce op);

/** @brief Agree on success: every rank passes its local status (e.g. of
 *  loading its data); if any rank failed, every rank returns the failing
 *  status of the lowest failing rank and its context holds
 *  "rank R: MSG: REASON", where REASON is that rank's tg_ctx_last_error()
 *  (on the failing rank too). Costs one small MPI_Allreduce (plus one
 *  MPI_Bcast on failure). @p msg may be NULL.
 *  @return TG_OK when every rank passed TG_OK @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_check(tg_dist *d, tg_status local_status, const char *msg);

/** @brief Collectives and bytes since tg_dist_create(), for measuring the
 *  communication per step. @since 0.2.0 */
typedef struct tg_dist_stats {
    size_t struct_size;      /**< set by the caller to sizeof(tg_dist_stats) */
    uint64_t collectives;    /**< MPI collective calls (status checks included) */
    uint64_t grad_allreduces;/**< of which gradient buckets */
    uint64_t grad_bytes;     /**< bytes of gradient all-reduced (per rank, payload) */
    uint64_t other_bytes;    /**< bytes of everything else (broadcast, buffers, metrics, status) */
    double comm_seconds;     /**< wall time spent inside MPI collectives */
} tg_dist_stats;

/** @brief Fill @p out (up to its struct_size). @since 0.2.0 */
TG_API void tg_dist_get_stats(const tg_dist *d, tg_dist_stats *out);

/** @brief Set up @p o for data-parallel tg_fit(): the gradient average after
 *  backward (with a status check before it, so that a rank failing in its
 *  forward pass, loss, validation or checkpoint stops every rank with its
 *  message), the sums of loss, correct and sample counts over all ranks,
 *  the batch-norm buffer average at the end of every epoch, is_main on rank
 *  0 only, and the data shard (shard_rank/shard_count) of this rank. The
 *  batch size stays per rank: the global batch is size x batch_size. Keep
 *  @p d alive during tg_fit().
 *  @return TG_OK, TG_ERR_INVALID_ARG (NULL or o->struct_size too small)
 *  @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_fit_options(tg_dist *d, tg_fit_options *o);

/** @brief What a training program does once before data-parallel tg_fit():
 *  tg_dist_fit_options(@p o), then tg_dist_broadcast_module(@p m) (every
 *  rank starts from rank 0's weights), and with @p quiet the standard output
 *  of ranks > 0 goes to /dev/null (their errors still reach stderr), so that
 *  only rank 0 prints. Collective: call on every rank.
 *  @return TG_OK, TG_ERR_INVALID_ARG, TG_ERR_IO (stdout could not be
 *          redirected), or an error of the broadcast @since 0.2.0 */
TG_API TG_NODISCARD tg_status tg_dist_fit_setup(tg_dist *d, tg_module *m, tg_fit_options *o,
                                                bool quiet);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* TINYGRAD_MPI_H */
