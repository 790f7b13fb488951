/* SPDX-License-Identifier: MIT */
/* tg_fit / tg_evaluate: the classification training loop over the public
 * API (batch iterator, module, optimiser, checkpoints). Nothing in the core
 * calls this file. The steady-state step allocates nothing here: the loss,
 * the arg max and the bookkeeping read tensors in place. */
#define _POSIX_C_SOURCE 200809L
#include "tg_internal.h"
#include "train/train_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double tg__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tg_fit_options_init(tg_fit_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->epochs = 10;
    opts->batch_size = 32;
    opts->eval_batch_size = 256;
    opts->shuffle = true;
    opts->shard_count = 1;
    opts->is_main = true;
}

void tg_eval_options_init(tg_eval_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->batch_size = 256;
}

/* The loss of one batch: the batch-level function, else the label
 * function (class data), else cross-entropy / MSE by the target kind. */
static tg_tensor *compute_loss(tg_ctx *ctx, tg_loss_fn fn, tg_batch_loss_fn bfn, void *user,
                               tg_tensor *y, const tg_batch *b)
{
    if (bfn)
        return bfn(user, ctx, y, b);
    if (!b->labels)
        return tg_mse_loss(ctx, y, b->targets, TG_REDUCTION_MEAN);
    if (fn)
        return fn(user, ctx, y, b->labels, b->n);
    return tg_cross_entropy(ctx, y, b->labels, b->n, TG_REDUCTION_MEAN);
}

/* A label loss cannot serve vector targets; both kinds at once is ambiguous. */
static tg_status check_loss_kind(tg_ctx *ctx, const char *who, const tg_dataset *ds,
                                 tg_loss_fn fn, tg_batch_loss_fn bfn)
{
    if (fn && bfn)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: set loss or batch_loss, not both", who);
    if (fn && tg_dataset_target_dim(ds) > 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: the data set has vector targets: a label loss (loss) cannot "
                         "serve it; use batch_loss", who);
    return TG_OK;
}

/* Squared and absolute errors of y against b's vector targets. */
static void regression_errors(tg_tensor *y, const tg_batch *b, double *se, double *ae)
{
    const float *p = tg_tensor_data(y), *t = tg_tensor_data(b->targets);
    int64_t m = tg_tensor_numel(b->targets);
    for (int64_t i = 0; i < m; i++) {
        double d = (double)p[i] - (double)t[i];
        *se += d * d;
        *ae += fabs(d);
    }
}

/* The status of a call that returned NULL (the reason is in the ctx). */
static tg_status failed(tg_ctx *ctx, const char *who, const char *what)
{
    tg_status s = tg_ctx_last_status(ctx);
    if (s == TG_OK)
        s = tg__error(ctx, TG_ERR_STATE, "%s: %s failed without a reason", who, what);
    return s;
}

/* Model output must be [n, C] (class data) or [n, target_dim] (vector
 * targets, td > 0); the loss must be a single value. */
static tg_status check_output(tg_ctx *ctx, const char *who, const tg_tensor *y, size_t n,
                              int64_t td, const tg_tensor *loss)
{
    if (tg_tensor_ndim(y) != 2 || tg_tensor_dim(y, 0) != (int64_t)n || tg_tensor_dim(y, 1) < 1 ||
        (td > 0 && tg_tensor_dim(y, 1) != td)) {
        char buf[96];
        if (td > 0)
            return tg__error(ctx, TG_ERR_SHAPE,
                             "%s: model output %s is not [batch=%zu, target_dim=%lld]", who,
                             tg__shape_str(buf, sizeof buf, tg_tensor_ndim(y), tg_tensor_shape(y)),
                             n, (long long)td);
        return tg__error(ctx, TG_ERR_SHAPE, "%s: model output %s is not [batch=%zu, classes]", who,
                         tg__shape_str(buf, sizeof buf, tg_tensor_ndim(y), tg_tensor_shape(y)), n);
    }
    if (loss && tg_tensor_numel(loss) != 1) {
        char buf[96];
        return tg__error(ctx, TG_ERR_SHAPE, "%s: loss %s is not a single value", who,
                         tg__shape_str(buf, sizeof buf, tg_tensor_ndim(loss),
                                       tg_tensor_shape(loss)));
    }
    return TG_OK;
}

/* Arg max of a row of c logits (the first maximum, as torch.argmax). */
static int32_t argmax(const float *row, int64_t c)
{
    int32_t best = 0;
    for (int64_t j = 1; j < c; j++)
        if (row[j] > row[best])
            best = (int32_t)j;
    return best;
}

/* Rows of y [n, c] whose arg max equals the label; pred (may be NULL)
 * receives the arg maxes. */
static size_t count_correct(const float *y, size_t n, int64_t c, const int32_t *labels,
                            int32_t *pred)
{
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t k = argmax(y + i * (size_t)c, c);
        if (pred)
            pred[i] = k;
        correct += k == labels[i];
    }
    return correct;
}

/* ---- evaluation ---------------------------------------------------------- */

/* Runs the evaluation over the (unshuffled, unaugmented) iterator it,
 * accumulating into conf/pred when given (caller's temporaries). Restores
 * the module mode and grad setting. */
static tg_status eval_run(tg_module *m, const tg_dataset *ds, tg_batch_iter *it,
                          const tg_eval_options *o, int64_t *conf, int32_t *pred,
                          tg_eval_result *r)
{
    const char *who = "evaluate";
    tg_ctx *ctx = tg_module_ctx(m);
    int64_t td = tg_dataset_target_dim(ds);
    bool was_training = tg_module_is_training(m);
    bool grad = tg_ctx_set_grad_enabled(ctx, false);
    tg_module_train(m, false);
    tg_batch_iter_set_epoch(it, 0);
    double loss_sum = 0.0, se = 0.0, ae = 0.0;
    uint64_t correct = 0;
    size_t start = 0;
    tg_status s = TG_OK;
    tg_batch bt;
    while (s == TG_OK && tg_batch_iter_next_batch(it, &bt)) {
        size_t b = bt.n;
        const int32_t *lab = bt.labels;
        tg_tensor *y = tg_module_forward(m, bt.x);
        if (!y) {
            s = failed(ctx, who, "forward");
            break;
        }
        s = check_output(ctx, who, y, b, td, NULL);
        if (s != TG_OK)
            break;
        int64_t c = tg_tensor_dim(y, 1);
        if (conf && c != o->n_classes) {
            s = tg__error(ctx, TG_ERR_SHAPE, "%s: n_classes %d differs from the model's %lld outputs",
                          who, o->n_classes, (long long)c);
            break;
        }
        tg_tensor *loss = compute_loss(ctx, o->loss, o->batch_loss, o->loss_user, y, &bt);
        if (!loss) {
            s = failed(ctx, who, "loss");
            break;
        }
        s = check_output(ctx, who, y, b, td, loss);
        if (s != TG_OK)
            break;
        float lv = tg_tensor_data(loss)[0];
        if (!isfinite(lv)) {
            s = tg__error(ctx, TG_ERR_NUMERIC, "%s: loss is %f on images [%zu, %zu)", who,
                          (double)lv, start, start + b);
            break;
        }
        loss_sum += (double)lv * (double)b;
        if (td > 0) {
            regression_errors(y, &bt, &se, &ae);
        } else {
            int32_t *p = pred ? pred + start : NULL;
            correct += count_correct(tg_tensor_data(y), b, c, lab, p);
            for (size_t i = 0; conf && i < b; i++) {
                if (lab[i] < 0 || lab[i] >= o->n_classes) {
                    s = tg__error(ctx, TG_ERR_INVALID_ARG,
                                  "%s: label %d of image %zu outside [0, %d)", who, (int)lab[i],
                                  start + i, o->n_classes);
                    break;
                }
                int32_t k = p ? p[i] : argmax(tg_tensor_data(y) + i * (size_t)c, c);
                conf[(size_t)lab[i] * (size_t)o->n_classes + (size_t)k]++;
            }
        }
        start += b;
        tg_ctx_reset(ctx);
    }
    if (s == TG_OK)
        s = tg_batch_iter_status(it);
    tg_module_train(m, was_training);
    tg_ctx_set_grad_enabled(ctx, grad);
    if (s != TG_OK)
        return s;
    size_t n = start;
    double elems = (double)n * (double)(td > 0 ? td : 1);
    r->n = n;
    r->n_correct = correct;
    r->loss = loss_sum / (double)n;
    r->accuracy = td > 0 ? NAN : (double)correct / (double)n;
    r->rmse = td > 0 ? sqrt(se / elems) : NAN;
    r->mae = td > 0 ? ae / elems : NAN;
    return TG_OK;
}

/* An unshuffled, unaugmented, unsharded iterator for evaluation. */
static tg_status eval_iter(const tg_dataset *ds, size_t batch_size, tg_batch_iter **it)
{
    tg_batch_options bo;
    tg_batch_options_init(&bo);
    bo.batch_size = batch_size;
    bo.shuffle = false;
    return tg_batch_iter_create(ds, &bo, it);
}

/* Copy what the caller's struct_size allows (keeping its struct_size). */
static void put_result(void *dst, const void *src, size_t full)
{
    size_t have = *(const size_t *)dst;
    if (have > full)
        have = full;
    if (have > sizeof(size_t))
        memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t),
               have - sizeof(size_t));
}

/* Shared validation of m/ds; returns the ctx or NULL (error recorded). */
static tg_ctx *check_model_data(const char *who, tg_module *m, const tg_dataset *ds,
                                const char *ds_name, tg_status *s)
{
    tg_ctx *ctx = tg_module_ctx(m);
    if (!m || !ds) {
        *s = tg__error(ctx ? ctx : tg_dataset_ctx(ds), TG_ERR_INVALID_ARG,
                       "%s: %s is NULL", who, !m ? "model" : ds_name);
        return NULL;
    }
    if (tg_dataset_ctx(ds) != ctx) {
        *s = tg__error(ctx, TG_ERR_INVALID_ARG, "%s: the %s and the model use different contexts",
                       who, ds_name);
        return NULL;
    }
    if (tg_dataset_n(ds) == 0) {
        *s = tg__error(ctx, TG_ERR_INVALID_ARG, "%s: the %s is empty", who, ds_name);
        return NULL;
    }
    *s = TG_OK;
    return ctx;
}

tg_status tg_evaluate(tg_module *m, const tg_dataset *ds, const tg_eval_options *opts,
                      tg_eval_result *out)
{
    const char *who = "evaluate";
    tg_status s;
    tg_ctx *ctx = check_model_data(who, m, ds, "data set", &s);
    if (!ctx)
        return s;
    tg_eval_options o;
    tg_eval_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: bad struct_size %zu (use tg_eval_options_init)", who,
                             opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.batch_size == 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: batch_size is 0", who);
    if (out && out->struct_size < sizeof(size_t))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: result struct_size %zu not set", who,
                         out->struct_size);
    if ((s = check_loss_kind(ctx, who, ds, o.loss, o.batch_loss)) != TG_OK)
        return s;
    if ((o.confusion || o.predictions) && tg_dataset_target_dim(ds) > 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: confusion and predictions need class labels; the data set has "
                         "vector targets", who);
    size_t n = tg_dataset_n(ds);
    int64_t *conf = NULL;
    int32_t *pred = NULL;
    if (o.confusion) {
        if (o.n_classes < 1 || o.n_classes > TG_DATASET_MAX_CLASSES)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: n_classes %d outside 1..%d", who,
                             o.n_classes, TG_DATASET_MAX_CLASSES);
        conf = tg__calloc(ctx, (size_t)o.n_classes * (size_t)o.n_classes, sizeof *conf);
        if (!conf)
            return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate the confusion matrix", who);
    }
    if (o.predictions) {
        pred = tg__malloc(ctx, n * sizeof *pred);
        if (!pred) {
            tg__free(ctx, conf);
            return tg__error(ctx, TG_ERR_NOMEM, "%s: cannot allocate %zu predictions", who, n);
        }
    }
    tg_eval_result r = {sizeof r, 0, 0, 0, 0, NAN, NAN};
    tg_batch_iter *it = NULL;
    s = eval_iter(ds, o.batch_size, &it);
    if (s == TG_OK)
        s = eval_run(m, ds, it, &o, conf, pred, &r);
    tg_batch_iter_destroy(it);
    if (s == TG_OK) {
        if (conf)
            memcpy(o.confusion, conf, (size_t)o.n_classes * (size_t)o.n_classes * sizeof *conf);
        if (pred)
            memcpy(o.predictions, pred, n * sizeof *pred);
        if (out)
            put_result(out, &r, sizeof r);
    }
    tg__free(ctx, conf);
    tg__free(ctx, pred);
    return s;
}

/* ---- fit ----------------------------------------------------------------- */

/* dir + "/" + name into buf; false (error recorded) if it does not fit. */
static bool join(tg_ctx *ctx, char *buf, size_t size, const char *dir, const char *name)
{
    int k = snprintf(buf, size, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= size) {
        tg__error(ctx, TG_ERR_LIMIT, "fit: path '%s/%s' is too long", dir, name);
        return false;
    }
    return true;
}

/* Resume early stopping from best.safetensors' metadata, if the file is
 * there (a fresh run simply has no best yet). */
static tg_status read_best(tg_ctx *ctx, const char *path, double *best, int64_t *best_epoch)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return TG_OK;
    fclose(f);
    char b1[64], b2[64];
    tg_status s = tg_safetensors_get_metadata(ctx, path, "tg.best_loss", b1, sizeof b1);
    if (s == TG_OK)
        s = tg_safetensors_get_metadata(ctx, path, "tg.epoch", b2, sizeof b2);
    if (s != TG_OK)
        return s;
    char *e1, *e2;
    double v = strtod(b1, &e1);
    long long ep = strtoll(b2, &e2, 10);
    if (*e1 || *e2 || e1 == b1 || e2 == b2 || ep < 0)
        return tg__error(ctx, TG_ERR_FORMAT, "fit: '%s' has a bad tg.best_loss '%s' or tg.epoch '%s'",
                         path, b1, b2);
    *best = v;
    *best_epoch = ep;
    return TG_OK;
}

static tg_status save_checkpoints(tg_ctx *ctx, tg_module *m, tg_optim *opt, const char *dir,
                                  int64_t epoch, bool improved, double best)
{
    char path[4096];
    tg_status s = TG_OK;
    if (improved) {
        char e[32], l[64];
        snprintf(e, sizeof e, "%lld", (long long)epoch);
        snprintf(l, sizeof l, "%.17g", best);
        const tg_kv md[2] = {{"tg.epoch", e}, {"tg.best_loss", l}};
        if (!join(ctx, path, sizeof path, dir, "best.safetensors"))
            return tg_ctx_last_status(ctx);
        s = tg_module_save(m, path, md, 2);
    }
    if (s == TG_OK) {
        if (!join(ctx, path, sizeof path, dir, "last.safetensors"))
            return tg_ctx_last_status(ctx);
        s = tg_module_save(m, path, NULL, 0);
    }
    if (s == TG_OK) {
        if (!join(ctx, path, sizeof path, dir, "checkpoint.safetensors"))
            return tg_ctx_last_status(ctx);
        s = tg_checkpoint_save(m, opt, epoch, path);
    }
    return s;
}

static tg_status check_fit_options(tg_ctx *ctx, const tg_fit_options *o)
{
    const char *who = "fit";
    if (o->epochs < 0 || o->start_epoch < 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: epochs %lld and start_epoch %lld must be >= 0",
                         who, (long long)o->epochs, (long long)o->start_epoch);
    if (o->batch_size == 0 || o->eval_batch_size == 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: batch_size %zu and eval_batch_size %zu must be > 0",
                         who, o->batch_size, o->eval_batch_size);
    if (o->patience < 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: patience %d is negative", who, o->patience);
    if (!(o->min_delta >= 0.0) || !isfinite(o->min_delta))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: min_delta %g must be finite and >= 0", who,
                         o->min_delta);
    if (!(o->clip_grad_norm >= 0.0f) || isinf(o->clip_grad_norm))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: clip_grad_norm %g must be finite and >= 0",
                         who, (double)o->clip_grad_norm);
    if (o->save_dir && !o->save_dir[0])
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: save_dir is empty", who);
    if (o->shard_count == 0 || o->shard_rank >= o->shard_count)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: shard_rank %zu not in [0, shard_count %zu)",
                         who, o->shard_rank, o->shard_count);
    return TG_OK;
}

/* The scheduler's rate for batch @p b of @p epoch (tg_fit_options.scheduler). */
static tg_status schedule(const tg_fit_options *o, tg_optim *opt, int64_t epoch, size_t b,
                          size_t n_batches)
{
    if (!o->scheduler)
        return TG_OK;
    if (tg_scheduler_per_batch(o->scheduler))
        return tg_scheduler_apply(o->scheduler, opt, (epoch - 1) * (int64_t)n_batches + (int64_t)b);
    return b == 0 ? tg_scheduler_apply(o->scheduler, opt, epoch - 1) : TG_OK;
}

/* One training epoch; *stop set when the batch callback asks. */
static tg_status train_epoch(tg_module *m, tg_optim *opt, tg_batch_iter *it, int64_t td,
                             const tg_fit_options *o, int64_t epoch, tg_epoch_metrics *mt,
                             double *train_time, uint64_t *samples, bool *stop)
{
    const char *who = "fit";
    tg_ctx *ctx = tg_module_ctx(m);
    size_t n_batches = tg_batch_iter_n_batches(it);
    double t0 = tg__now_s(), loss_sum = 0.0, se = 0.0, ae = 0.0;
    uint64_t seen = 0, correct = 0;
    tg_batch bt;
    size_t b = 0;
    for (; tg_batch_iter_next_batch(it, &bt); b++) {
        size_t bn = bt.n;
        tg_status ss = schedule(o, opt, epoch, b, n_batches);
        if (ss != TG_OK)
            return ss;
        tg_optim_zero_grad(opt);
        tg_tensor *y = tg_module_forward(m, bt.x);
        if (!y)
            return failed(ctx, who, "forward");
        tg_tensor *loss = compute_loss(ctx, o->loss, o->batch_loss, o->loss_user, y, &bt);
        if (!loss)
            return failed(ctx, who, "loss");
        tg_status s = check_output(ctx, who, y, bn, td, loss);
        if (s != TG_OK)
            return s;
        float lv = tg_tensor_data(loss)[0];
        if (!isfinite(lv))
            return tg__error(ctx, TG_ERR_NUMERIC,
                             "fit: loss is %f at epoch %lld, batch %zu of %zu; stopped before "
                             "the update (checkpoints of the last finished epoch kept)",
                             (double)lv, (long long)epoch, b + 1, n_batches);
        if (td > 0)
            regression_errors(y, &bt, &se, &ae);
        else
            correct += count_correct(tg_tensor_data(y), bn, tg_tensor_dim(y, 1), bt.labels, NULL);
        s = tg_backward(ctx, loss);
        if (s == TG_OK && o->after_backward)
            s = o->after_backward(o->hook_user, m, opt, TG_OK);
        if (s == TG_OK && o->clip_grad_norm > 0.0f)
            s = tg_clip_grad_norm(opt, o->clip_grad_norm, NULL);
        if (s == TG_OK)
            s = tg_optim_step(opt);
        if (s != TG_OK)
            return s;
        tg_ctx_reset(ctx);
        loss_sum += (double)lv * (double)bn;
        seen += bn;
        if (o->on_batch) {
            double dt = tg__now_s() - t0;
            if (o->on_batch(o->user, epoch, b, n_batches, (double)lv,
                            dt > 0 ? (double)seen / dt : 0.0)) {
                *stop = true;
                break;
            }
        }
    }
    tg_status s = tg_batch_iter_status(it);
    if (s != TG_OK)
        return s;
    if (o->reduce_metrics) { /* sums over every process (distributed training) */
        double v[5] = {loss_sum, (double)correct, (double)seen, se, ae};
        if ((s = o->reduce_metrics(o->hook_user, m, v, 5)) != TG_OK)
            return s;
        loss_sum = v[0];
        correct = (uint64_t)v[1];
        seen = (uint64_t)v[2];
        se = v[3];
        ae = v[4];
    }
    double dt = tg__now_s() - t0;
    *train_time += dt;
    *samples += seen;
    double elems = (double)seen * (double)(td > 0 ? td : 1);
    mt->epoch = epoch;
    mt->train_loss = seen ? loss_sum / (double)seen : NAN;
    mt->train_accuracy = seen && td == 0 ? (double)correct / (double)seen : NAN;
    mt->train_rmse = seen && td > 0 ? sqrt(se / elems) : NAN;
    mt->train_mae = seen && td > 0 ? ae / elems : NAN;
    mt->samples_per_s = dt > 0 ? (double)seen / dt : 0.0;
    return TG_OK;
}

tg_status tg_fit(tg_module *m, tg_optim *opt, const tg_dataset *train, const tg_dataset *val,
                 const tg_fit_options *opts, tg_fit_result *result)
{
    const char *who = "fit";
    tg_status s;
    tg_ctx *ctx = check_model_data(who, m, train, "training set", &s);
    if (!ctx)
        return s;
    if (!opt)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: optimiser is NULL", who);
    if (val && !check_model_data(who, m, val, "validation set", &s))
        return s;
    tg_fit_options o;
    tg_fit_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: bad struct_size %zu (use tg_fit_options_init)", who,
                             opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if ((s = check_fit_options(ctx, &o)) != TG_OK)
        return s;
    if ((s = check_loss_kind(ctx, who, train, o.loss, o.batch_loss)) != TG_OK)
        return s;
    int64_t td = tg_dataset_target_dim(train);
    if (val && tg_dataset_target_dim(val) != td)
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: training targets have dimension %lld, validation targets %lld", who,
                         (long long)td, (long long)tg_dataset_target_dim(val));
    if (result && result->struct_size < sizeof(size_t))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: result struct_size %zu not set", who,
                         result->struct_size);

    tg_fit_result r = {sizeof r, TG_FIT_FAILED, o.start_epoch, 0, INFINITY, 0.0, 0.0, 0};
    char path[4096];
    if (o.save_dir) {
        if ((s = tg__make_dirs(ctx, who, o.save_dir)) != TG_OK)
            return s;
        if (o.start_epoch > 0) {
            if (!join(ctx, path, sizeof path, o.save_dir, "best.safetensors"))
                return tg_ctx_last_status(ctx);
            if ((s = read_best(ctx, path, &r.best_loss, &r.best_epoch)) != TG_OK)
                return s;
        }
    }
    tg_batch_options bo;
    tg_batch_options_init(&bo);
    bo.batch_size = o.batch_size;
    bo.shuffle = o.shuffle;
    bo.drop_last = o.drop_last;
    bo.seed = o.seed;
    bo.crop_padding = o.crop_padding;
    bo.hflip = o.hflip;
    bo.shard_rank = o.shard_rank;
    bo.shard_count = o.shard_count;
    tg_batch_iter *it = NULL, *vit = NULL;
    if ((s = tg_batch_iter_create(train, &bo, &it)) != TG_OK)
        return s;
    if (tg_batch_iter_n_batches(it) == 0) {
        tg_batch_iter_destroy(it);
        return tg__error(ctx, TG_ERR_INVALID_ARG,
                         "%s: %zu training images give no batch of %zu (drop_last, shards)", who,
                         tg_dataset_n(train), o.batch_size);
    }
    if (val && (s = eval_iter(val, o.eval_batch_size, &vit)) != TG_OK) {
        tg_batch_iter_destroy(it);
        return s;
    }
    bool was_training = tg_module_is_training(m);
    bool grad = tg_ctx_set_grad_enabled(ctx, true);
    bool retain = tg_ctx_set_retain_grads(ctx, false); /* nothing here reads them */
    double train_time = 0.0, t_start = tg__now_s();
    r.stop = TG_FIT_COMPLETED;
    for (int64_t e = o.start_epoch + 1; e <= o.epochs; e++) {
        double t0 = tg__now_s();
        bool stop = false;
        tg_epoch_metrics mt = {e, NAN, NAN, NAN, NAN, 0.0, 0.0, NAN, NAN, NAN, NAN};
        tg_batch_iter_set_epoch(it, e - 1);
        /* Per-epoch RNG stream (dropout, ...): a resumed run sees the same. */
        tg_ctx_manual_seed(ctx, o.seed ^ ((uint64_t)e * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL));
        tg_module_train(m, true);
        s = train_epoch(m, opt, it, td, &o, e, &mt, &train_time, &r.samples, &stop);
        if (s != TG_OK || stop) {
            /* a batch callback's stop abandons the unfinished epoch */
            r.stop = s != TG_OK ? TG_FIT_FAILED : TG_FIT_CALLBACK_STOPPED;
            break;
        }
        if (val) {
            tg_eval_options eo;
            tg_eval_options_init(&eo);
            eo.batch_size = o.eval_batch_size;
            eo.loss = o.loss;
            eo.loss_user = o.loss_user;
            eo.batch_loss = o.batch_loss;
            tg_eval_result er = {sizeof er, 0, 0, 0, 0, NAN, NAN};
            if ((s = eval_run(m, val, vit, &eo, NULL, NULL, &er)) != TG_OK) {
                r.stop = TG_FIT_FAILED;
                break;
            }
            mt.val_loss = er.loss;
            mt.val_accuracy = er.accuracy;
            mt.val_rmse = er.rmse;
            mt.val_mae = er.mae;
        }
        double monitored = val ? mt.val_loss : mt.train_loss;
        bool improved = monitored < r.best_loss - o.min_delta;
        if (improved) {
            r.best_loss = monitored;
            r.best_epoch = e;
        }
        if (o.save_dir && o.is_main &&
            (s = save_checkpoints(ctx, m, opt, o.save_dir, e, improved, monitored)) != TG_OK) {
            r.stop = TG_FIT_FAILED;
            break;
        }
        r.last_epoch = e;
        mt.seconds = tg__now_s() - t0;
        if (o.on_epoch && o.on_epoch(o.user, &mt)) {
            r.stop = TG_FIT_CALLBACK_STOPPED;
            break;
        }
        if (val && o.patience > 0 && e - r.best_epoch >= o.patience) {
            r.stop = TG_FIT_EARLY_STOPPED;
            break;
        }
    }
    if (s != TG_OK && o.after_backward) /* tell the other processes (see tg_fit_step_fn) */
        (void)o.after_backward(o.hook_user, m, opt, s);
    r.train_seconds = tg__now_s() - t_start;
    r.samples_per_s = train_time > 0 ? (double)r.samples / train_time : 0.0;
    tg_module_train(m, was_training);
    tg_ctx_set_grad_enabled(ctx, grad);
    tg_ctx_set_retain_grads(ctx, retain);
    tg_batch_iter_destroy(vit);
    tg_batch_iter_destroy(it);
    if (result)
        put_result(result, &r, sizeof r);
    return s;
}
