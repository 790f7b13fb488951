/* SPDX-License-Identifier: MIT */
/* Metrics files: the epoch CSV and SVG line charts (pure C, no
 * dependencies), written atomically so a crash never leaves half a file. */
#define _POSIX_C_SOURCE 200809L
#include "train/train_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ---------------------------------------------------------------- */

tg_status tg__make_dirs(tg_ctx *ctx, const char *who, const char *dir)
{
    char buf[4096];
    size_t len = strlen(dir);
    if (len >= sizeof buf)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: directory name '%.64s...' is too long", who, dir);
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (stat(buf, &st) != 0) {
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return tg__error(ctx, TG_ERR_IO, "%s: cannot create directory '%s': %s", who, buf,
                                 strerror(errno));
        } else if (!S_ISDIR(st.st_mode)) {
            return tg__error(ctx, TG_ERR_IO, "%s: '%s' exists and is not a directory", who, buf);
        }
        buf[i] = c;
    }
    return TG_OK;
}

tg_status tg__atomic_open(tg_ctx *ctx, const char *who, const char *path, tg__atomic_file *af)
{
    int k = snprintf(af->tmp, sizeof af->tmp, "%s.tmp", path);
    if (k < 0 || (size_t)k >= sizeof af->tmp)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: path '%.64s...' is too long", who, path);
    af->path = path;
    af->f = fopen(af->tmp, "w");
    if (!af->f)
        return tg__error(ctx, TG_ERR_IO, "%s: cannot create '%s': %s", who, af->tmp,
                         strerror(errno));
    return TG_OK;
}

tg_status tg__atomic_commit(tg_ctx *ctx, const char *who, tg__atomic_file *af)
{
    bool ok = !ferror(af->f) && fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    int err = errno;
    ok = (fclose(af->f) == 0) && ok;
    af->f = NULL;
    if (ok && rename(af->tmp, af->path) == 0)
        return TG_OK;
    if (ok)
        err = errno;
    remove(af->tmp);
    return tg__error(ctx, TG_ERR_IO, "%s: cannot write '%s': %s", who, af->path, strerror(err));
}

/* ---- CSV ------------------------------------------------------------------ */

/* 0.2.0 appended the regression columns; the 0.1.0 header is still read. */
static const char CSV_HEADER[] =
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_s,"
    "train_rmse,train_mae,val_rmse,val_mae";
static const char CSV_HEADER_0_1[] =
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_s";

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputc(',', f); /* NaN (no validation set) stays an empty field */
}

tg_status tg_metrics_write_csv(tg_ctx *ctx, const char *path, const tg_epoch_metrics *metrics,
                               size_t n)
{
    const char *who = "metrics_write_csv";
    if (!ctx || !path || (!metrics && n))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    tg__atomic_file af;
    tg_status s = tg__atomic_open(ctx, who, path, &af);
    if (s != TG_OK)
        return s;
    fprintf(af.f, "%s\n", CSV_HEADER);
    for (size_t i = 0; i < n; i++) {
        const tg_epoch_metrics *m = &metrics[i];
        fprintf(af.f, "%lld", (long long)m->epoch);
        csv_num(af.f, m->train_loss);
        csv_num(af.f, m->train_accuracy);
        csv_num(af.f, m->val_loss);
        csv_num(af.f, m->val_accuracy);
        csv_num(af.f, m->seconds);
        csv_num(af.f, m->samples_per_s);
        csv_num(af.f, m->train_rmse);
        csv_num(af.f, m->train_mae);
        csv_num(af.f, m->val_rmse);
        csv_num(af.f, m->val_mae);
        fputc('\n', af.f);
    }
    return tg__atomic_commit(ctx, who, &af);
}

/* Parse one CSV row of nf (7 or 11) fields into m; false if malformed. */
static bool parse_row(char *line, int nf, tg_epoch_metrics *m)
{
    double v[11] = {0, 0, 0, 0, 0, 0, 0, NAN, NAN, NAN, NAN};
    char *p = line;
    for (int k = 0; k < nf; k++) {
        char *end = p;
        while (*end && *end != ',')
            end++;
        if ((*end == ',') != (k < nf - 1))
            return false;
        char saved = *end;
        *end = '\0';
        if (*p == '\0') {
            if (k == 0)
                return false;
            v[k] = NAN;
        } else {
            char *e;
            errno = 0;
            v[k] = strtod(p, &e);
            if (*e || errno)
                return false;
        }
        *end = saved;
        p = end + 1;
    }
    if (v[0] != floor(v[0]) || v[0] < 0 || v[0] > 1e15)
        return false;
    *m = (tg_epoch_metrics){(int64_t)v[0], v[1], v[2], v[3], v[4], v[5], v[6],
                            v[7], v[8], v[9], v[10]};
    return true;
}

tg_status tg_metrics_read_csv(tg_ctx *ctx, const char *path, tg_epoch_metrics *out, size_t cap,
                              size_t *n)
{
    const char *who = "metrics_read_csv";
    if (!ctx || !path || !n || (!out && cap))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    FILE *f = fopen(path, "r");
    if (!f)
        return tg__error(ctx, TG_ERR_IO, "%s: cannot open '%s': %s", who, path, strerror(errno));
    tg_epoch_metrics *tmp = cap ? tg__malloc(ctx, cap * sizeof *tmp) : NULL;
    if (cap && !tmp) {
        fclose(f);
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    char line[1024];
    size_t rows = 0;
    int lineno = 0, nf = 11;
    tg_status s = TG_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            s = tg__error(ctx, TG_ERR_FORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, CSV_HEADER_0_1) == 0)
                nf = 7;
            else if (strcmp(line, CSV_HEADER) != 0) {
                s = tg__error(ctx, TG_ERR_FORMAT, "%s:1: expected the header '%s'", path,
                              CSV_HEADER);
                break;
            }
            continue;
        }
        if (len == 0)
            continue;
        if (rows == cap) {
            s = tg__error(ctx, TG_ERR_LIMIT, "%s:%d: more than %zu rows", path, lineno, cap);
            break;
        }
        if (!parse_row(line, nf, &tmp[rows])) {
            s = tg__error(ctx, TG_ERR_FORMAT, "%s:%d: expected %d numbers (epoch first)", path,
                          lineno, nf);
            break;
        }
        rows++;
    }
    if (s == TG_OK && ferror(f))
        s = tg__error(ctx, TG_ERR_IO, "%s: cannot read '%s'", who, path);
    if (s == TG_OK && lineno == 0)
        s = tg__error(ctx, TG_ERR_FORMAT, "%s: '%s' is empty", who, path);
    fclose(f);
    if (s == TG_OK) {
        if (rows)
            memcpy(out, tmp, rows * sizeof *tmp);
        *n = rows;
    }
    tg__free(ctx, tmp);
    return s;
}

/* ---- SVG line charts ------------------------------------------------------- */

#define W 640
#define H 400
#define ML 72  /* margins: left, right, top, bottom */
#define MR 24
#define MT 44
#define MB 56
#define MAX_SERIES 8

static const char *const COLORS[MAX_SERIES] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                               "#9467bd", "#8c564b", "#e377c2", "#17becf"};

void tg_line_chart_init(tg_line_chart *chart)
{
    if (!chart)
        return;
    memset(chart, 0, sizeof *chart);
    chart->struct_size = sizeof *chart;
}

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about 5 ticks. */
static double nice_step(double range)
{
    double raw = range / 5.0;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
}

typedef struct axis {
    double lo, hi, step;
    int decimals;
} axis;

/* Extend [lo, hi] to whole ticks; integral forces integer steps (epochs). */
static axis make_axis(double lo, double hi, bool integral)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    axis a;
    a.step = nice_step(hi - lo);
    if (integral && a.step < 1.0)
        a.step = 1.0;
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    int d = (int)-floor(log10(a.step) + 1e-9);
    a.decimals = d > 0 ? (d < 9 ? d : 9) : 0;
    return a;
}

static double map(double v, const axis *a, double p0, double p1)
{
    return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static double point_x(const tg_line_chart *c, size_t i)
{
    return c->x ? c->x[i] : (double)(i + 1);
}

tg_status tg_line_chart_write_svg(tg_ctx *ctx, const char *path, const tg_line_chart *chart)
{
    const char *who = "line_chart_write_svg";
    if (!ctx || !path || !chart)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    tg_line_chart c;
    tg_line_chart_init(&c);
    if (chart->struct_size < sizeof(size_t) || chart->struct_size > sizeof c)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: bad struct_size %zu (use tg_line_chart_init)",
                         who, chart->struct_size);
    memcpy(&c, chart, chart->struct_size);
    if (c.n_points == 0 || c.n_series < 1 || c.n_series > MAX_SERIES || !c.y)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: need 1+ points and 1..%d series (got %zu, %zu)",
                         who, MAX_SERIES, c.n_points, c.n_series);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    bool integral = true;
    for (size_t i = 0; i < c.n_points; i++) {
        double x = point_x(&c, i);
        if (!isfinite(x))
            return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: x[%zu] is not finite", who, i);
        xlo = fmin(xlo, x);
        xhi = fmax(xhi, x);
        integral = integral && x == floor(x);
        for (size_t k = 0; k < c.n_series; k++) {
            if (!c.y[k])
                return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: series %zu is NULL", who, k);
            double y = c.y[k][i];
            if (isfinite(y)) {
                ylo = fmin(ylo, y);
                yhi = fmax(yhi, y);
            }
        }
    }
    if (!isfinite(ylo))
        ylo = 0.0, yhi = 1.0; /* nothing to draw: still a valid, empty chart */
    if (c.y_from_zero)
        ylo = fmin(ylo, 0.0), yhi = fmax(yhi, 0.0);
    axis ax = make_axis(xlo, xhi, integral), ay = make_axis(ylo, yhi, false);
    const double x0 = ML, x1 = W - MR, y0 = H - MB, y1 = MT;

    tg__atomic_file af;
    tg_status s = tg__atomic_open(ctx, who, path, &af);
    if (s != TG_OK)
        return s;
    FILE *f = af.f;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    if (c.title) {
        fprintf(f, "<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" "
                   "font-weight=\"bold\">", (x0 + x1) / 2);
        xml_text(f, c.title);
        fputs("</text>\n", f);
    }
    /* grid and ticks */
    fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", f);
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step)
        fprintf(f, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>\n", x0,
                map(v, &ay, y0, y1), x1, map(v, &ay, y0, y1));
    for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step)
        fprintf(f, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>\n", map(v, &ax, x0, x1),
                y0, map(v, &ax, x0, x1), y1);
    fputs("</g>\n<g text-anchor=\"end\">\n", f);
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step)
        fprintf(f, "<text x=\"%g\" y=\"%.2f\">%.*f</text>\n", x0 - 6, map(v, &ay, y0, y1) + 4,
                ay.decimals, fabs(v) < ay.step * 1e-9 ? 0.0 : v);
    fputs("</g>\n<g text-anchor=\"middle\">\n", f);
    for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step)
        fprintf(f, "<text x=\"%.2f\" y=\"%g\">%.*f</text>\n", map(v, &ax, x0, x1), y0 + 18,
                ax.decimals, fabs(v) < ax.step * 1e-9 ? 0.0 : v);
    fputs("</g>\n", f);
    fprintf(f, "<path d=\"M%g %g V%g H%g\" fill=\"none\" stroke=\"black\" stroke-width=\"1\"/>\n",
            x0, y1, y0, x1);
    if (c.x_label) {
        fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">", (x0 + x1) / 2, H - 14);
        xml_text(f, c.x_label);
        fputs("</text>\n", f);
    }
    if (c.y_label) {
        fprintf(f, "<text x=\"18\" y=\"%g\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 18 %g)\">", (y0 + y1) / 2, (y0 + y1) / 2);
        xml_text(f, c.y_label);
        fputs("</text>\n", f);
    }
    /* series: one polyline per run of finite points, markers if few points */
    for (size_t k = 0; k < c.n_series; k++) {
        const char *col = COLORS[k];
        bool open = false;
        for (size_t i = 0; i < c.n_points; i++) {
            double y = c.y[k][i];
            if (!isfinite(y)) {
                if (open)
                    fputs("\"/>\n", f);
                open = false;
                continue;
            }
            if (!open)
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                        col);
            fprintf(f, "%s%.2f,%.2f", open ? " " : "", map(point_x(&c, i), &ax, x0, x1),
                    map(y, &ay, y0, y1));
            open = true;
        }
        if (open)
            fputs("\"/>\n", f);
        if (c.n_points <= 60)
            for (size_t i = 0; i < c.n_points; i++)
                if (isfinite(c.y[k][i]))
                    fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                            map(point_x(&c, i), &ax, x0, x1), map(c.y[k][i], &ay, y0, y1), col);
    }
    /* legend inside the plot, right, in the upper or lower half: whichever
     * holds fewer points of the right half (loss falls, accuracy rises) */
    if (c.names) {
        size_t hi = 0, lo = 0;
        for (size_t k = 0; k < c.n_series; k++)
            for (size_t i = 0; i < c.n_points; i++)
                if (isfinite(c.y[k][i]) && map(point_x(&c, i), &ax, x0, x1) > (x0 + x1) / 2)
                    *(map(c.y[k][i], &ay, y0, y1) < (y0 + y1) / 2 ? &hi : &lo) += 1;
        double lh = 8 + 18.0 * (double)c.n_series;
        double lx = x1 - 176, ly = hi <= lo ? y1 + 10 : y0 - 10 - lh;
        fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"166\" height=\"%g\" fill=\"white\" "
                   "fill-opacity=\"0.85\" stroke=\"#999999\"/>\n", lx, ly, lh);
        for (size_t k = 0; k < c.n_series; k++) {
            double yy = ly + 16 + 18.0 * (double)k;
            fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
                       "stroke-width=\"2\"/>\n", lx + 8, yy - 4, lx + 32, yy - 4, COLORS[k]);
            fprintf(f, "<text x=\"%g\" y=\"%g\">", lx + 38, yy);
            xml_text(f, c.names[k] ? c.names[k] : "");
            fputs("</text>\n", f);
        }
    }
    fputs("</svg>\n", f);
    return tg__atomic_commit(ctx, who, &af);
}

tg_status tg_metrics_write_svg(tg_ctx *ctx, const char *path, const tg_epoch_metrics *metrics,
                               size_t n, tg_metrics_chart which, const char *title)
{
    const char *who = "metrics_write_svg";
    if (!ctx || !path || !metrics || n == 0)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument or no epochs", who);
    if (which != TG_CHART_LOSS && which != TG_CHART_ACCURACY)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: unknown chart %d", who, (int)which);
    double *buf = tg__malloc(ctx, 3 * n * sizeof *buf);
    if (!buf)
        return tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    double *x = buf, *tr = buf + n, *va = buf + 2 * n;
    bool has_val = false;
    bool acc = which == TG_CHART_ACCURACY;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)metrics[i].epoch;
        tr[i] = acc ? 100.0 * metrics[i].train_accuracy : metrics[i].train_loss;
        va[i] = acc ? 100.0 * metrics[i].val_accuracy : metrics[i].val_loss;
        has_val = has_val || isfinite(va[i]);
    }
    const char *names[2] = {acc ? "train accuracy" : "train loss",
                            acc ? "validation accuracy" : "validation loss"};
    const double *ys[2] = {tr, va};
    tg_line_chart c;
    tg_line_chart_init(&c);
    c.title = title ? title : acc ? "Accuracy" : "Loss";
    c.x_label = "epoch";
    c.y_label = acc ? "accuracy (%)" : "loss";
    c.n_points = n;
    c.x = x;
    c.n_series = has_val ? 2 : 1;
    c.names = names;
    c.y = ys;
    c.y_from_zero = !acc;
    tg_status s = tg_line_chart_write_svg(ctx, path, &c);
    tg__free(ctx, buf);
    return s;
}

size_t tg_confusion_format(const int64_t *confusion, int n_classes, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return 0;
    buf[0] = '\0';
    if (!confusion || n_classes < 1 || n_classes > 1000)
        return 0;
    size_t at = 0;
    for (int i = -1; i < n_classes; i++) {
        int k = i < 0 ? snprintf(buf + at, cap - at, "     ") : snprintf(buf + at, cap - at, "%4d ", i);
        for (int j = 0; j < n_classes && k >= 0 && at + (size_t)k < cap; j++) {
            at += (size_t)k;
            k = snprintf(buf + at, cap - at, "%6lld",
                         i < 0 ? (long long)j : (long long)confusion[(size_t)i * (size_t)n_classes + (size_t)j]);
        }
        if (k < 0 || at + (size_t)k >= cap)
            return buf[0] = '\0', 0;
        at += (size_t)k;
        k = snprintf(buf + at, cap - at, "\n");
        if (k < 0 || at + (size_t)k >= cap)
            return buf[0] = '\0', 0;
        at += (size_t)k;
    }
    return at;
}
