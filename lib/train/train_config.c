/* SPDX-License-Identifier: MIT */
/* What a training program reads from its configuration and command line:
 * fit options, the optimiser, the learning-rate schedule, flags, and the
 * data directory (a directory the user named is used or refused, never
 * silently replaced). Moved out of examples/mnist_cnn so that any program
 * can use it. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_EPOCHS 100000

static const char *const KEYS[] = {
    "batch_size",     "epochs",           "seed",           "patience",
    "optimizer_type", "learning_rate",    "momentum",       "weight_decay",
    "nesterov",       "lr_schedule",      "lr_step_epochs", "lr_gamma",
    "lr_min",         "lr_milestones",    "lr_warmup_epochs", "lr_warmup_factor",
    "lr_max",         "clip_grad_norm", "loss_function"};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static const char *const OPTIMS[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
static const char *const SCHEDULES[] = {"none", "step", "multistep", "cosine", "onecycle"};

const char *const *tg_train_config_keys(size_t *n)
{
    if (n)
        *n = N_KEYS;
    return KEYS;
}

tg_status tg_train_config_check_keys(const tg_config *cfg, const char *const *extra,
                                     size_t n_extra)
{
    if (!cfg || (n_extra && !extra))
        return TG_ERR_INVALID_ARG;
    const char *all[N_KEYS + 64];
    if (n_extra > 64)
        return TG_ERR_LIMIT;
    memcpy(all, KEYS, sizeof KEYS);
    for (size_t i = 0; i < n_extra; i++)
        all[N_KEYS + i] = extra[i];
    return tg_config_check_keys(cfg, all, N_KEYS + n_extra);
}

tg_status tg_train_config_fit(const tg_config *cfg, tg_fit_options *fit)
{
    if (!cfg || !fit || fit->struct_size < sizeof *fit)
        return TG_ERR_INVALID_ARG;
    int64_t batch, epochs, seed, patience;
    double clip;
    size_t loss;
    static const char *const LOSSES[] = {"cross_entropy"};
    tg_status s;
    if ((s = tg_config_get_choice(cfg, "loss_function", LOSSES, 1, 0, &loss)) ||
        (s = tg_config_get_int(cfg, "batch_size", (int64_t)fit->batch_size, 1, 65536, &batch)) ||
        (s = tg_config_get_int(cfg, "epochs", fit->epochs, 0, MAX_EPOCHS, &epochs)) ||
        (s = tg_config_get_int(cfg, "seed", (int64_t)fit->seed, 0, INT64_MAX, &seed)) ||
        (s = tg_config_get_int(cfg, "patience", fit->patience, 0, MAX_EPOCHS, &patience)) ||
        (s = tg_config_get_float(cfg, "clip_grad_norm", fit->clip_grad_norm, 0.0, 1e30, &clip)))
        return s;
    fit->batch_size = (size_t)batch;
    fit->epochs = epochs;
    fit->seed = (uint64_t)seed;
    fit->patience = (int)patience;
    fit->clip_grad_norm = (float)clip;
    return TG_OK;
}

tg_status tg_train_config_optim(const tg_config *cfg, const char **name, tg_optim_config *c)
{
    if (!cfg || !name || !c)
        return TG_ERR_INVALID_ARG;
    size_t type;
    double lr, mom, wd;
    bool nesterov;
    tg_status s;
    if ((s = tg_config_get_choice(cfg, "optimizer_type", OPTIMS, 5, 0, &type)) ||
        (s = tg_config_get_float(cfg, "learning_rate", 0.01, 1e-12, 100.0, &lr)) ||
        (s = tg_config_get_float(cfg, "momentum", 0.0, 0.0, 0.9999, &mom)) ||
        (s = tg_config_get_float(cfg, "weight_decay", 0.0, 0.0, 1.0, &wd)) ||
        (s = tg_config_get_bool(cfg, "nesterov", false, &nesterov)))
        return s;
    tg_optim_config_init(c);
    c->lr = (float)lr;
    c->momentum = (float)mom;
    c->weight_decay = (float)wd;
    c->weight_decay_set = true;
    c->nesterov = nesterov;
    *name = OPTIMS[type];
    return TG_OK;
}

/* "30, 60,90" -> increasing non-negative integers; false if malformed. */
static bool parse_milestones(const char *text, int64_t *m, size_t *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v > MAX_EPOCHS || *n == TG_SCHED_MAX_MILESTONES ||
            (*n && v <= m[*n - 1]))
            return false;
        m[(*n)++] = v;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return false;
    }
    return *n > 0;
}

tg_status tg_train_config_scheduler(const tg_config *cfg, tg_ctx *ctx, int64_t epochs,
                                    tg_scheduler **out)
{
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!cfg || !out)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "train_config_scheduler: %s is NULL",
                         !cfg ? "config" : "out");
    size_t kind;
    double lr, gamma, lr_min, warm_f, lr_max;
    int64_t step_epochs, warm;
    const char *ms_text;
    tg_status s;
    if ((s = tg_config_get_choice(cfg, "lr_schedule", SCHEDULES, 5, 0, &kind)) ||
        (s = tg_config_get_float(cfg, "learning_rate", 0.01, 1e-12, 100.0, &lr)) ||
        (s = tg_config_get_int(cfg, "lr_step_epochs", 5, 1, MAX_EPOCHS, &step_epochs)) ||
        (s = tg_config_get_float(cfg, "lr_gamma", 0.1, 1e-6, 1.0, &gamma)) ||
        (s = tg_config_get_float(cfg, "lr_min", 0.0, 0.0, lr, &lr_min)) ||
        (s = tg_config_get_string(cfg, "lr_milestones", "", &ms_text)) ||
        (s = tg_config_get_int(cfg, "lr_warmup_epochs", 0, 0, MAX_EPOCHS, &warm)) ||
        (s = tg_config_get_float(cfg, "lr_warmup_factor", 0.1, 1e-6, 1.0, &warm_f)) ||
        (s = tg_config_get_float(cfg, "lr_max", 10.0 * lr, 1e-12, 1000.0, &lr_max)))
        return s;
    tg_scheduler_options o;
    tg_scheduler_options_init(&o);
    o.base_lr = lr;
    o.warmup_steps = warm;
    o.warmup_start_factor = warm_f;
    int64_t ms[TG_SCHED_MAX_MILESTONES];
    switch (kind) {
    case 0:
        if (warm == 0) {
            *out = NULL;
            return TG_OK;
        }
        o.kind = TG_SCHED_CONSTANT;
        break;
    case 1:
        o.kind = TG_SCHED_STEP;
        o.step_size = step_epochs;
        o.gamma = gamma;
        break;
    case 2:
        o.kind = TG_SCHED_MULTISTEP;
        o.gamma = gamma;
        if (!parse_milestones(ms_text, ms, &o.n_milestones))
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "train_config_scheduler: lr_milestones '%.100s' is not a list of "
                             "increasing epochs such as \"30,60\" (at most %d)",
                             ms_text, TG_SCHED_MAX_MILESTONES);
        o.milestones = ms;
        break;
    case 3:
        o.kind = TG_SCHED_COSINE;
        o.eta_min = lr_min;
        o.t_max = epochs - warm > 0 ? epochs - warm : 1;
        break;
    default:
        o.kind = TG_SCHED_ONE_CYCLE;
        o.max_lr = lr_max;
        o.total_steps = epochs > 0 ? epochs : 1;
        o.warmup_steps = 0;
        if (warm > 0)
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "train_config_scheduler: lr_warmup_epochs cannot be combined with "
                             "lr_schedule = onecycle (it warms up by itself)");
        break;
    }
    return tg_scheduler_create(ctx, &o, out);
}

/* ---- command-line flags ------------------------------------------------------ */

static size_t find(const char *key, const char *const *list, size_t n)
{
    size_t k = 0;
    while (k < n && strcmp(list[k], key) != 0)
        k++;
    return k;
}

tg_status tg_train_config_args(tg_ctx *ctx, tg_config *cfg, int argc, const char *const *argv,
                               const char *const *keys, size_t n_keys,
                               const char *const *passthrough, size_t n_pass,
                               const char **values)
{
    const char *who = "train_config_args";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!cfg || argc < 0 || (argc && !argv) || (n_keys && !keys) ||
        (n_pass && (!passthrough || !values)))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    for (size_t i = 0; i < n_pass; i++)
        values[i] = NULL;
    for (int i = 1; i < argc; i++) {
        char key[64];
        const char *a = argv[i], *eq = strchr(a, '='), *val;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || len < 3 || len - 2 >= sizeof key)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "unexpected argument '%.200s'", a);
        memcpy(key, a + 2, len - 2);
        key[len - 2] = '\0';
        for (char *c = key; *c; c++)
            *c = *c == '-' ? '_' : *c;
        size_t k = find(key, passthrough, n_pass);
        bool known = k < n_pass || find(key, keys, n_keys) < n_keys;
        if (!known)
            return tg__error(ctx, TG_ERR_INVALID_ARG, "unknown option '--%.*s'", (int)len - 2,
                             a + 2);
        /* A bare `--flag` (last, or followed by another `--flag`) means
         * "true" for a program key (a boolean such as --summary; any other
         * type then fails in its tg_config_get_*() naming the key) and for
         * the library's boolean nesterov. The library's other keys and the
         * pass-through flags need a value. */
        bool bare = !eq && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0);
        if (eq)
            val = eq + 1;
        else if (!bare)
            val = argv[++i];
        else if (k >= n_pass && (find(key, KEYS, N_KEYS) == N_KEYS ||
                                 strcmp(key, "nesterov") == 0))
            val = "true";
        else
            return tg__error(ctx, TG_ERR_INVALID_ARG, "option '%.200s' needs a value", a);
        if (k < n_pass) {
            values[k] = val;
            continue;
        }
        tg_status s = tg_config_set(cfg, key, val);
        if (s != TG_OK)
            return s;
    }
    return TG_OK;
}

/* ---- data directory ------------------------------------------------------------ */

void tg_data_dir_options_init(tg_data_dir_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether @p dir exists and holds one of the markers. */
static bool qualifies(const char *dir, const tg_data_dir_options *o, bool *exists)
{
    *exists = is_dir(dir);
    if (!*exists)
        return false;
    if (!o->n_markers)
        return true;
    char p[4096];
    struct stat st;
    for (size_t i = 0; i < o->n_markers; i++) {
        int k = snprintf(p, sizeof p, "%s/%s", dir, o->markers[i]);
        if (k > 0 && (size_t)k < sizeof p && stat(p, &st) == 0)
            return true;
    }
    return false;
}

/* Try @p rel in the current directory, then under each root. Sets *hit to
 * the first candidate that qualifies (in @p buf) and *seen when one exists. */
static bool try_path(const char *rel, const tg_data_dir_options *o, char *buf, size_t cap,
                     bool *seen)
{
    bool exists;
    const char *slash = o->argv0 ? strrchr(o->argv0, '/') : NULL;
    size_t n_try = rel[0] == '/' ? 1 : 1 + o->n_roots + (slash != NULL);
    for (size_t r = 0; r < n_try; r++) {
        int k = r == 0            ? snprintf(buf, cap, "%s", rel)
                : r <= o->n_roots ? snprintf(buf, cap, "%s/%s", o->roots[r - 1], rel)
                                  : snprintf(buf, cap, "%.*s/%s", (int)(slash - o->argv0),
                                             o->argv0, rel);
        if (k < 0 || (size_t)k >= cap)
            continue;
        if (qualifies(buf, o, &exists))
            return true;
        *seen = *seen || exists;
    }
    return false;
}

/* "a, b, c" of @p list into @p out. */
static void join_list(char *out, size_t cap, const char *const *list, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at + 1 < cap; i++) {
        int k = snprintf(out + at, cap - at, "%s%s", i ? ", " : "", list[i]);
        if (k < 0)
            break;
        at += (size_t)k;
    }
}

tg_status tg_data_dir_resolve(tg_ctx *ctx, const char *named, const tg_data_dir_options *o,
                              char *out, size_t cap)
{
    const char *who = "data_dir_resolve";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!o || !out || cap == 0 || o->struct_size < sizeof(size_t) || o->struct_size > sizeof *o)
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: %s", who,
                         !o || o->struct_size < sizeof(size_t) || o->struct_size > sizeof *o
                             ? "options NULL or bad struct_size (tg_data_dir_options_init)"
                             : "out is NULL or cap is 0");
    tg_data_dir_options c;
    tg_data_dir_options_init(&c);
    memcpy(&c, o, o->struct_size);
    if ((c.n_markers && !c.markers) || (c.n_roots && !c.roots) ||
        (c.n_defaults && !c.defaults))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: a list is NULL with a count > 0", who);
    char buf[4096], list[1024];
    bool seen = false;
    if (named && named[0]) {
        if (try_path(named, &c, buf, sizeof buf, &seen)) {
            if (strlen(buf) >= cap)
                return tg__error(ctx, TG_ERR_LIMIT, "%s: '%s' is longer than %zu bytes", who,
                                 buf, cap - 1);
            strcpy(out, buf);
            return TG_OK;
        }
        join_list(list, sizeof list, c.markers, c.n_markers);
        if (seen)
            return tg__error(ctx, TG_ERR_NOT_FOUND,
                             "data directory '%s' holds none of %s (no other directory is "
                             "used in its place)", named, list);
        return tg__error(ctx, TG_ERR_NOT_FOUND,
                         "data directory '%s' does not exist (no other directory is used in "
                         "its place)", named);
    }
    for (size_t i = 0; i < c.n_defaults; i++)
        if (try_path(c.defaults[i], &c, buf, sizeof buf, &seen)) {
            if (strlen(buf) >= cap)
                return tg__error(ctx, TG_ERR_LIMIT, "%s: '%s' is longer than %zu bytes", who,
                                 buf, cap - 1);
            strcpy(out, buf);
            return TG_OK;
        }
    join_list(list, sizeof list, c.defaults, c.n_defaults);
    return tg__error(ctx, TG_ERR_NOT_FOUND,
                     "no data directory named and none of the default ones (%s) holds the data",
                     list);
}

const char *tg_train_config_help(void)
{
    return "  batch_size       images per step (32)\n"
           "  epochs           number of the last epoch (10)\n"
           "  seed             weights, split and shuffling (11 in mnist_cnn, else 0)\n"
           "  patience         early stopping after N epochs without a better validation "
           "loss (0 = off)\n"
           "  clip_grad_norm   clip the gradients to this global L2 norm (0 = off)\n"
           "  loss_function    cross_entropy\n"
           "  optimizer_type   sgd | adam | adamw | rmsprop | adagrad (sgd)\n"
           "  learning_rate    (0.01)\n"
           "  momentum         sgd and rmsprop (0)\n"
           "  weight_decay     (0)\n"
           "  nesterov         sgd: Nesterov momentum (false)\n"
           "  lr_schedule      learning rate per epoch: none | step (times lr_gamma every\n"
           "                   lr_step_epochs epochs) | multistep (times lr_gamma at each of\n"
           "                   lr_milestones) | cosine (from learning_rate down to lr_min over\n"
           "                   the epochs) | onecycle (up to lr_max and down) (none)\n"
           "  lr_step_epochs   step: epochs between decays (5)\n"
           "  lr_gamma         step, multistep: decay factor in (0, 1] (0.1)\n"
           "  lr_min           cosine: where the curve ends, after the last epoch (0)\n"
           "  lr_milestones    multistep: epochs such as 30,60\n"
           "  lr_warmup_epochs linear warm-up epochs before the schedule (0)\n"
           "  lr_warmup_factor warm-up: first epoch's share of learning_rate (0.1)\n"
           "  lr_max           onecycle: peak rate (10 x learning_rate)\n"
           "A flag without a value (last, or before another --flag) means true for the\n"
           "program's own keys and nesterov (--nesterov); the other keys in this list need one.\n";
}

tg_status tg_train_config_load(tg_ctx *ctx, int argc, const char *const *argv,
                               const char *const *defaults, size_t n_defaults,
                               const char *const *keys, size_t n_keys, const char *const *pass,
                               size_t n_pass, const char **values, tg_config **out)
{
    const char *who = "train_config_load";
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!out || (n_defaults && !defaults) || (n_keys && !keys) || (n_pass && (!pass || !values)))
        return tg__error(ctx, TG_ERR_INVALID_ARG, "%s: NULL argument", who);
    if (n_keys > 64 || n_pass > 15)
        return tg__error(ctx, TG_ERR_LIMIT, "%s: more than 64 keys or 15 pass-through flags",
                         who);
    const char *all[N_KEYS + 64], *p[16], *v[16];
    memcpy(all, KEYS, sizeof KEYS);
    for (size_t i = 0; i < n_keys; i++)
        all[N_KEYS + i] = keys[i];
    p[0] = "config";
    for (size_t i = 0; i < n_pass; i++)
        p[1 + i] = pass[i];
    tg_config *cfg = NULL;
    tg_status s = tg_config_create(ctx, &cfg);
    if (s == TG_OK) /* a first pass finds --config and rejects bad flags early */
        s = tg_train_config_args(ctx, cfg, argc, argv, all, N_KEYS + n_keys, p, n_pass + 1, v);
    const char *path = s == TG_OK ? v[0] : NULL;
    for (size_t i = 0; s == TG_OK && !path && i < n_defaults; i++)
        if (defaults[i] && is_dir(defaults[i]) == false) {
            struct stat st;
            if (stat(defaults[i], &st) == 0)
                path = defaults[i];
        }
    if (s == TG_OK && path) {
        tg_config_destroy(cfg);
        cfg = NULL;
        s = tg_config_load_file(ctx, path, &cfg);
        if (s == TG_OK)
            s = tg_train_config_args(ctx, cfg, argc, argv, all, N_KEYS + n_keys, p, n_pass + 1,
                                     v);
    }
    if (s == TG_OK)
        s = tg_config_check_keys(cfg, all, N_KEYS + n_keys);
    if (s != TG_OK) {
        tg_config_destroy(cfg);
        return s;
    }
    for (size_t i = 0; i < n_pass; i++)
        values[i] = v[1 + i];
    *out = cfg;
    return TG_OK;
}

/* ---- preprocessing metadata ------------------------------------------------------ */

/* The shortest of %.6g .. %.9g that reads back as @p v. */
static int fmt_float(char *buf, size_t cap, float v)
{
    int k = 0;
    for (int prec = 6; prec <= 9; prec++) {
        k = snprintf(buf, cap, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    return k;
}

tg_status tg_module_set_preprocessing(tg_module *m, double scale, const float *mean,
                                      const float *std, int n)
{
    const char *who = "module_set_preprocessing";
    tg_ctx *ctx = m ? tg_module_ctx(m) : NULL;
    if (!ctx)
        return TG_ERR_INVALID_ARG;
    if (!(scale > 0.0) || !isfinite(scale) || n < 0 || n > 64 || (n && (!mean || !std)))
        return tg__error(ctx, n > 64 ? TG_ERR_LIMIT : TG_ERR_INVALID_ARG,
                         "%s: scale %g must be finite and > 0, n %d in 0..64, mean and std "
                         "not NULL when n > 0", who, scale, n);
    for (int i = 0; i < n; i++)
        if (!isfinite(mean[i]) || !(std[i] > 0.0f) || !isfinite(std[i]))
            return tg__error(ctx, TG_ERR_INVALID_ARG,
                             "%s: channel %d: mean %g or std %g is not finite, or std <= 0", who,
                             i, (double)mean[i], (double)std[i]);
    char sc[32], mt[64 * 18], st[64 * 18];
    for (int prec = 15; prec <= 17; prec++)
        if (snprintf(sc, sizeof sc, "%.*g", prec, scale) > 0 && strtod(sc, NULL) == scale)
            break;
    size_t am = 0, as = 0;
    for (int i = 0; i < n; i++) {
        am += (size_t)snprintf(mt + am, sizeof mt - am, "%s", i ? "," : "");
        am += (size_t)fmt_float(mt + am, sizeof mt - am, mean[i]);
        as += (size_t)snprintf(st + as, sizeof st - as, "%s", i ? "," : "");
        as += (size_t)fmt_float(st + as, sizeof st - as, std[i]);
    }
    /* all or nothing: keep the old entries to restore them on failure */
    const char *keys[3] = {"tg.input_scale", "tg.input_mean", "tg.input_std"};
    const char *vals[3] = {sc, n ? mt : NULL, n ? st : NULL};
    char *old[3] = {NULL, NULL, NULL};
    tg_status s = TG_OK;
    for (int i = 0; i < 3 && s == TG_OK; i++) {
        const char *o = tg_module_metadata(m, keys[i]);
        if (o && !(old[i] = tg__strdup(ctx, o)))
            s = tg__error(ctx, TG_ERR_NOMEM, "%s: out of memory", who);
    }
    int done = 0;
    for (; done < 3 && s == TG_OK; done++)
        s = tg_module_set_metadata(m, keys[done], vals[done]);
    if (s != TG_OK)
        for (int i = 0; i < done; i++)
            if (tg_module_set_metadata(m, keys[i], old[i]) != TG_OK)
                break; /* out of memory again: the first error is the one reported */
    for (int i = 0; i < 3; i++)
        tg__free(ctx, old[i]);
    return s;
}

/* ---- subset and validation split -------------------------------------------------- */

tg_status tg_train_config_split(const tg_config *cfg, double default_split, uint64_t seed,
                                tg_dataset **train, tg_dataset **val)
{
    if (!cfg || !train || !*train || !val)
        return TG_ERR_INVALID_ARG;
    int64_t subset;
    double split;
    tg_status s;
    if ((s = tg_config_get_int(cfg, "train_subset", 0, 0, TG_DATASET_MAX_IMAGES, &subset)) ||
        (s = tg_config_get_float(cfg, "train_val_split", default_split, 1e-6, 1.0, &split)))
        return s;
    tg_dataset *part = *train, *rest = NULL, *v = NULL;
    if (subset > 0 && (size_t)subset < tg_dataset_n(*train) &&
        (s = tg_dataset_subset(*train, 0, (size_t)subset, &part)) != TG_OK)
        return s;
    if (split < 1.0 && (s = tg_dataset_split(part, split, seed, &rest, &v)) != TG_OK) {
        if (part != *train)
            tg_dataset_destroy(part);
        return s;
    }
    tg_dataset *result = rest ? rest : part;
    if (rest && part != *train)
        tg_dataset_destroy(part);
    if (result != *train)
        tg_dataset_destroy(*train); /* the parts share its images */
    *train = result;
    *val = v;
    return TG_OK;
}
