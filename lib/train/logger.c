/* SPDX-License-Identifier: MIT */
/* A standard pair of tg_fit() callbacks: a text log, a progress bar, one
 * line per epoch on stdout and the metrics files (CSV + two SVG charts)
 * rewritten after every epoch. Moved out of examples/mnist_cnn. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tg_train_logger {
    tg__object obj; /* tracked by the ctx until destroyed */
    tg_ctx *ctx;
    tg_train_logger_options o;
    char *save_dir, *title;
    FILE *log;
    double last_draw;
    tg_fit_result fit; /* of the last tg_train_logger_fit() (struct_size 0: none) */
    tg_epoch_metrics *hist;
    size_t n_hist, cap;
};

void tg_train_logger_options_init(tg_train_logger_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

static void release(tg__object *obj)
{
    tg_train_logger *lg = (tg_train_logger *)obj;
    if (lg->log)
        fclose(lg->log);
    tg__free(lg->ctx, lg->save_dir);
    tg__free(lg->ctx, lg->title);
    tg__free(lg->ctx, lg->hist);
    tg__free(lg->ctx, lg);
}

void tg_train_logger_destroy(tg_train_logger *lg)
{
    if (!lg)
        return;
    tg__object_untrack(lg->ctx, &lg->obj);
    release(&lg->obj);
}

static tg_status fail(tg_train_logger *lg, tg_status s)
{
    release(&lg->obj);
    return s;
}

tg_status tg_train_logger_create(tg_ctx *ctx, const tg_train_logger_options *o,
                                 tg_train_logger **out)
{
    const char *who = "train_logger_create";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!o || !out || o->struct_size < sizeof(size_t) || o->struct_size > sizeof *o)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: %s", who,
                         !out ? "out is NULL" : "options NULL or bad struct_size");
    if (o->epochs < 0 || o->start_epoch < 0 || o->epochs > 100000 || o->start_epoch > 100000)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: epochs %lld or start_epoch %lld out of "
                         "range [0, 100000]", who, (long long)o->epochs,
                         (long long)o->start_epoch);
    tg_train_logger *lg = tg__calloc(ctx, 1, sizeof *lg);
    if (!lg)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    lg->ctx = ctx;
    tg_train_logger_options_init(&lg->o);
    memcpy(&lg->o, o, o->struct_size);
    lg->cap = (size_t)(o->epochs > o->start_epoch ? o->epochs : o->start_epoch) + 1;
    lg->hist = tg__calloc(ctx, lg->cap, sizeof *lg->hist);
    lg->save_dir = o->save_dir && o->save_dir[0] ? tg__strdup(ctx, o->save_dir) : NULL;
    lg->title = tg__strdup(ctx, o->title ? o->title : "");
    if (!lg->hist || !lg->title || (o->save_dir && o->save_dir[0] && !lg->save_dir))
        return fail(lg, tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who));
    lg->o.save_dir = lg->save_dir;
    lg->o.title = lg->title;
    lg->o.log_path = NULL;
    tg_status s;
    char p[4096];
    if (lg->save_dir && o->start_epoch > 0) { /* keep the curves of the epochs already done */
        struct stat st;
        size_t n = 0;
        snprintf(p, sizeof p, "%s/metrics.csv", lg->save_dir);
        if (stat(p, &st) == 0 &&
            (s = tg_metrics_read_csv(ctx, p, lg->hist, lg->cap, &n)) != TG_OK)
            return fail(lg, s);
        while (lg->n_hist < n && lg->hist[lg->n_hist].epoch <= o->start_epoch)
            lg->n_hist++;
    }
    if (o->log_path && o->log_path[0]) {
        const char *slash = strrchr(o->log_path, '/');
        if (slash && slash != o->log_path) {
            snprintf(p, sizeof p, "%.*s", (int)(slash - o->log_path), o->log_path);
            if ((s = tg__make_dirs(ctx, who, p)) != TG_OK)
                return fail(lg, s);
        }
        lg->log = fopen(o->log_path, o->append ? "a" : "w");
        if (!lg->log)
            return fail(lg, tg__error(ctx, TG_ERR_IO, "%s: cannot open log file '%s'", who,
                                      o->log_path));
    }
    tg__object_track(ctx, &lg->obj, release);
    *out = lg;
    return TG_OK;
}

int tg_train_logger_on_batch(void *user, int64_t epoch, size_t b, size_t nb, double loss,
                             double sps)
{
    tg_train_logger *lg = user;
    if (!lg)
        return 0;
    if (lg->log)
        fprintf(lg->log, "epoch %lld iter %zu/%zu loss %.6f\n", (long long)epoch, b + 1, nb,
                loss);
    double t = tg__now_s();
    if (lg->o.progress && (t - lg->last_draw > 0.1 || b + 1 == nb)) {
        lg->last_draw = t;
        int fill = (int)(30 * (b + 1) / nb);
        double eta = sps > 0 ? (double)((nb - b - 1) * lg->o.batch_size) / sps : 0.0;
        printf("\repoch %lld/%lld [%.*s%*s] %zu/%zu loss %.4f %6.0f samples/s ETA %3.0fs ",
               (long long)epoch, (long long)lg->o.epochs, fill,
               "==============================", 30 - fill, "", b + 1, nb, loss, sps, eta);
        fflush(stdout);
    }
    return 0;
}

static tg_status save_metrics(tg_train_logger *lg)
{
    char p[4096], title[256];
    tg_status s;
    snprintf(p, sizeof p, "%s/metrics.csv", lg->save_dir);
    if ((s = tg_metrics_write_csv(lg->ctx, p, lg->hist, lg->n_hist)) != TG_OK)
        return s;
    snprintf(p, sizeof p, "%s/loss.svg", lg->save_dir);
    snprintf(title, sizeof title, "%s%sloss", lg->title, lg->title[0] ? ": " : "");
    if ((s = tg_metrics_write_svg(lg->ctx, p, lg->hist, lg->n_hist, TG_CHART_LOSS, title)))
        return s;
    snprintf(p, sizeof p, "%s/accuracy.svg", lg->save_dir);
    snprintf(title, sizeof title, "%s%saccuracy", lg->title, lg->title[0] ? ": " : "");
    return tg_metrics_write_svg(lg->ctx, p, lg->hist, lg->n_hist, TG_CHART_ACCURACY, title);
}

int tg_train_logger_on_epoch(void *user, const tg_epoch_metrics *m)
{
    tg_train_logger *lg = user;
    if (!lg || !m)
        return 0;
    if (lg->o.progress)
        printf("\r%*s\r", 100, "");
    printf("epoch %lld/%lld train_loss %.4f train_acc %.4f val_loss %.4f val_acc %.4f "
           "%.1fs %.0f samples/s", (long long)m->epoch, (long long)lg->o.epochs, m->train_loss,
           m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds, m->samples_per_s);
    if (lg->o.opt)
        printf(" lr %.4g", (double)tg_optim_lr(lg->o.opt));
    printf("\n");
    fflush(stdout);
    if (lg->log) {
        fprintf(lg->log, "epoch %lld train_loss %.6f train_accuracy %.6f val_loss %.6f "
                         "val_accuracy %.6f seconds %.2f\n", (long long)m->epoch, m->train_loss,
                m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds);
        fflush(lg->log);
    }
    if (lg->n_hist < lg->cap)
        lg->hist[lg->n_hist++] = *m;
    return lg->save_dir && save_metrics(lg) != TG_OK;
}

void tg_train_logger_note(tg_train_logger *lg, const char *line)
{
    if (lg && lg->log && line) {
        fprintf(lg->log, "%s\n", line);
        fflush(lg->log);
    }
}

/* ---- the test-set report ------------------------------------------------------ */

void tg_test_options_init(tg_test_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

tg_status tg_train_logger_test(tg_train_logger *lg, tg_module *m, const tg_dataset *test,
                               const tg_test_options *opts, tg_eval_result *out)
{
    const char *who = "train_logger_test";
    if (!lg)
        return TG_ERR_INVALID_ARG;
    tg_ctx *ctx = lg->ctx;
    tg_test_options o;
    tg_test_options_init(&o);
    if (opts && opts->struct_size >= sizeof(size_t) && opts->struct_size <= sizeof o)
        memcpy(&o, opts, opts->struct_size);
    const tg_fit_result *fit = o.fit ? o.fit : lg->fit.struct_size ? &lg->fit : NULL;
    const char *predictions = o.predictions;
    if (!m || !test || (opts && o.struct_size != opts->struct_size) ||
        (fit && fit->struct_size < sizeof *fit) || (out && out->struct_size < sizeof *out) ||
        (o.export_onnx && (o.ndim < 1 || !o.input_shape)))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: %s", who,
                         !m || !test ? "model or data set is NULL"
                         : o.export_onnx && (o.ndim < 1 || !o.input_shape)
                             ? "export_onnx needs ndim and input_shape"
                             : "bad struct_size");
    char path[4200];
    tg_status s = TG_OK;
    bool dir = o.save_dir && o.save_dir[0];
    struct stat st;
    snprintf(path, sizeof path, "%s/best.safetensors", dir ? o.save_dir : ".");
    if (dir && stat(path, &st) == 0) { /* the best weights (by validation loss) */
        if ((s = tg_module_load(m, path)) != TG_OK)
            return s;
        printf("test set, weights %s:\n", path);
    }
    snprintf(path, sizeof path, "%s/model.onnx", dir ? o.save_dir : ".");
    if (dir && o.export_onnx) { /* the weights tested */
        if ((s = tg_module_export_onnx(m, o.ndim, o.input_shape, path, NULL)) != TG_OK)
            return s;
        printf("wrote %s\n", path);
    }
    int nc = tg_dataset_target_dim(test) > 0 ? 0 : tg_dataset_n_classes(test);
    if (nc > 1000)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: %d classes (at most 1000)", who, nc);
    size_t n = tg_dataset_n(test), cm = (size_t)nc * (size_t)nc;
    size_t text_cap = (size_t)(nc + 1) * ((size_t)nc * 6 + 16) + 1;
    int64_t *conf = nc ? tg__malloc(ctx, cm * sizeof *conf) : NULL;
    int32_t *pred = nc && predictions ? tg__malloc(ctx, (n ? n : 1) * sizeof *pred) : NULL;
    char *text = nc ? tg__malloc(ctx, text_cap) : NULL;
    if ((nc && (!conf || !text)) || (nc && predictions && !pred))
        s = tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    tg_eval_options eo;
    tg_eval_options_init(&eo);
    eo.confusion = conf;
    eo.n_classes = nc;
    eo.predictions = pred;
    tg_eval_result er = {.struct_size = sizeof er};
    if (s == TG_OK)
        s = tg_evaluate(m, test, &eo, &er);
    if (s == TG_OK && predictions) { /* one predicted label per line */
        FILE *f = fopen(predictions, "w");
        for (size_t i = 0; f && pred && i < er.n; i++)
            fprintf(f, "%d\n", (int)pred[i]);
        if (!f || fclose(f) != 0 || !pred)
            s = tg__error(ctx, TG_ERR_IO, "%s: cannot write '%s'%s", who, predictions,
                          pred ? "" : " (predictions need class labels)");
    }
    double secs = fit ? fit->train_seconds : 0.0, rate = fit ? fit->samples_per_s : 0.0;
    char line[128];
    if (s == TG_OK && nc) {
        tg_confusion_format(conf, nc, text, text_cap);
        printf("confusion matrix (rows: true label, columns: predicted)\n%s", text);
        printf("test loss %.4f, accuracy %.4f (%llu/%llu)\n", er.loss, er.accuracy,
               (unsigned long long)er.n_correct, (unsigned long long)er.n);
        snprintf(line, sizeof line, "test_accuracy %.6f", er.accuracy);
        tg_train_logger_note(lg, line);
        printf("test_accuracy=%.4f train_seconds=%.1f samples_per_s=%.0f\n", er.accuracy, secs,
               rate);
    } else if (s == TG_OK) {
        printf("test loss %.4f, rmse %.4f, mae %.4f (%llu samples)\n", er.loss, er.rmse, er.mae,
               (unsigned long long)er.n);
        snprintf(line, sizeof line, "test_rmse %.6f", er.rmse);
        tg_train_logger_note(lg, line);
        printf("test_rmse=%.4f train_seconds=%.1f samples_per_s=%.0f\n", er.rmse, secs, rate);
    }
    fflush(stdout);
    tg__free(ctx, conf);
    tg__free(ctx, pred);
    tg__free(ctx, text);
    if (s == TG_OK && out)
        *out = er;
    return s;
}

tg_status tg_train_logger_fit(tg_train_logger *lg, tg_module *m, tg_optim *opt,
                              const tg_dataset *train, const tg_dataset *val,
                              const tg_fit_options *fit, tg_fit_result *result)
{
    if (!lg)
        return TG_ERR_INVALID_ARG;
    tg_fit_options fo;
    tg_fit_options_init(&fo);
    if (fit && (fit->struct_size < sizeof(size_t) || fit->struct_size > sizeof fo))
        return tg__error(lg->ctx, TG_ERR_INVALID_ARG,
                         "train_logger_fit: bad struct_size (tg_fit_options_init)");
    if (fit)
        memcpy(&fo, fit, fit->struct_size);
    fo.on_batch = tg_train_logger_on_batch;
    fo.on_epoch = tg_train_logger_on_epoch;
    fo.user = lg;
    tg_fit_result fr = {.struct_size = sizeof fr};
    tg_status s = tg_fit(m, opt, train, val, &fo, &fr);
    if (lg->o.progress && (s != TG_OK || fr.stop == TG_FIT_CALLBACK_STOPPED))
        printf("\n"); /* end the progress bar before the error */
    if (s == TG_OK && fr.stop == TG_FIT_CALLBACK_STOPPED) /* writing the metrics failed */
        s = tg_ctx_last_status(lg->ctx) != TG_OK ? tg_ctx_last_status(lg->ctx) : TG_ERR_IO;
    if (s == TG_OK && fr.stop == TG_FIT_EARLY_STOPPED)
        printf("early stop after epoch %lld (best epoch %lld)\n", (long long)fr.last_epoch,
               (long long)fr.best_epoch);
    lg->fit = fr;
    if (result && result->struct_size >= sizeof fr)
        *result = fr;
    return s;
}
