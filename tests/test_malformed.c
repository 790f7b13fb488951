/* SPDX-License-Identifier: MIT */
/* The committed corpus of malformed files (tests/corpus, written by
 * gen_corpus.py; MANIFEST says what is wrong with each): every loader must
 * refuse each one with the documented status and a message naming the file,
 * leave its output untouched and, for safetensors, leave every byte of the
 * model and the optimiser as it was. Odd but valid files must load exactly.
 * Public API only. */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include <stdio.h>
#include <unistd.h>

#define CORPUS TG_FIXTURE_DIR "/../corpus"

static void assert_msg_has(tg_ctx *ctx, const char *needle, const char *file)
{
    const char *msg = tg_ctx_last_error(ctx);
    ck_assert_msg(strstr(msg, needle) != NULL, "%s: message '%s' lacks '%s'", file, msg, needle);
}

/* ---- IDX ------------------------------------------------------------------ */

typedef struct idx_case {
    const char *images, *labels;
    int bad; /* which file the message must name: 0 images, 1 labels */
    tg_status status;
    const char *needle;
} idx_case;

static const idx_case idx_cases[] = {
    {"empty.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "truncated"},
    {"short-header.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "truncated"},
    {"bad-magic-images.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "bad magic"},
    {"labels-as-images.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "bad magic"},
    {"good-images.idx", "bad-magic-labels.idx", 1, TG_ERR_FORMAT, "bad magic"},
    {"good-images.idx", "good-images.idx", 1, TG_ERR_FORMAT, "bad magic"},
    {"truncated-images.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "truncated"},
    {"trailing-images.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "unexpected bytes"},
    {"good-images.idx", "count-mismatch-labels.idx", 1, TG_ERR_FORMAT, "4 labels"},
    {"good-images.idx", "truncated-labels.idx", 1, TG_ERR_FORMAT, "truncated"},
    {"zero-height.idx", "good-labels.idx", 0, TG_ERR_FORMAT, "empty"},
    {"huge-dims.idx", "good-labels.idx", 0, TG_ERR_LIMIT, "limit"},
    {"huge-count.idx", "good-labels.idx", 0, TG_ERR_LIMIT, "limit"},
    {"over-max-bytes.idx", "good-labels.idx", 0, TG_ERR_LIMIT, "limit"},
    {"lying-count.idx", "good-labels.idx", 0, TG_ERR_FORMAT, NULL}, /* 5e6 images, 3 labels */
    {"truncated.idx.gz", "good-labels.idx", 0, TG_ERR_FORMAT, NULL},
    {"bad-crc.idx.gz", "good-labels.idx", 0, TG_ERR_FORMAT, NULL},
    {"corrupt-deflate.idx.gz", "good-labels.idx", 0, TG_ERR_FORMAT, NULL},
    {"gz-bad-magic.idx.gz", "good-labels.idx.gz", 0, TG_ERR_FORMAT, "bad magic"},
    {"no-such-file.idx", "good-labels.idx", 0, TG_ERR_IO, NULL},
};

START_TEST(idx_malformed)
{
    const idx_case *c = &idx_cases[_i];
    char img[512], lbl[512];
    snprintf(img, sizeof img, CORPUS "/idx/%s", c->images);
    snprintf(lbl, sizeof lbl, CORPUS "/idx/%s", c->labels);
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *sentinel = (tg_dataset *)&sentinel, *ds = sentinel;
    tg_status st = tg_dataset_load_idx(ctx, img, lbl, &ds);
    ck_assert_msg(st == c->status, "%s + %s: status %d (%s), want %d", c->images, c->labels,
                  (int)st, tg_ctx_last_error(ctx), (int)c->status);
    ck_assert_int_eq(tg_ctx_last_status(ctx), st);
    ck_assert_ptr_eq(ds, sentinel);
    assert_msg_has(ctx, c->bad ? c->labels : c->images, c->images);
    if (c->needle)
        assert_msg_has(ctx, c->needle, c->images);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(idx_valid_raw_and_gz)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *raw = NULL, *gz = NULL;
    ck_assert_int_eq(tg_dataset_load_idx(ctx, CORPUS "/idx/good-images.idx",
                                         CORPUS "/idx/good-labels.idx", &raw),
                     TG_OK);
    ck_assert_int_eq(tg_dataset_load_idx(ctx, CORPUS "/idx/good-images.idx.gz",
                                         CORPUS "/idx/good-labels.idx", &gz),
                     TG_OK);
    ck_assert_uint_eq(tg_dataset_n(raw), 3);
    ck_assert_int_eq(tg_dataset_height(raw), 2);
    ck_assert_int_eq(tg_dataset_width(raw), 3);
    ck_assert_int_eq(tg_dataset_n_classes(raw), 3);
    static const int32_t labels[3] = {0, 2, 1};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(tg_dataset_label(raw, i), labels[i]);
        ck_assert_mem_eq(tg_dataset_image(raw, i), tg_dataset_image(gz, i), 6);
        for (size_t p = 0; p < 6; p++)
            ck_assert_uint_eq(tg_dataset_image(raw, i)[p], ((i * 6 + p) * 7) % 256);
    }
    tg_dataset_destroy(raw);
    tg_dataset_destroy(gz);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- PNG trees ------------------------------------------------------------ */

typedef struct png_case {
    const char *dir;
    tg_status status;
    const char *needle;
} png_case;

static const png_case png_cases[] = {
    {"not-png", TG_ERR_FORMAT, "a.png"},
    {"empty-file", TG_ERR_FORMAT, "a.png"},
    {"truncated", TG_ERR_FORMAT, "a.png"},
    {"sig-only", TG_ERR_FORMAT, "a.png"},
    {"bad-crc", TG_ERR_FORMAT, "a.png"},
    {"wrong-size", TG_ERR_SHAPE, "a.png"},
    {"huge-dims", TG_ERR_SHAPE, "a.png"},
    {"zero-width", TG_ERR_FORMAT, "a.png"},
    {"bad-depth", TG_ERR_FORMAT, "a.png"},
    {"bad-color", TG_ERR_FORMAT, "a.png"},
    {"short-idat", TG_ERR_FORMAT, "a.png"},
    {"garbage-idat", TG_ERR_FORMAT, "a.png"},
    {"no-idat", TG_ERR_FORMAT, "a.png"},
    {"bad-filter", TG_ERR_FORMAT, "a.png"},
    {"one-bad", TG_ERR_FORMAT, "1/b.png"},
    {"no-classes", TG_ERR_NOT_FOUND, "no-classes"},
    {"no-images", TG_ERR_NOT_FOUND, "no-images"},
    {"no-such-dir", TG_ERR_NOT_FOUND, "no-such-dir"}, /* the enum: "file missing" */
};

START_TEST(png_malformed)
{
    const png_case *c = &png_cases[_i];
    char dir[512];
    snprintf(dir, sizeof dir, CORPUS "/png/%s", c->dir);
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *sentinel = (tg_dataset *)&sentinel, *ds = sentinel;
    tg_status st = tg_dataset_load_png_dir(ctx, dir, 2, 3, &ds);
    ck_assert_msg(st == c->status, "%s: status %d (%s), want %d", c->dir, (int)st,
                  tg_ctx_last_error(ctx), (int)c->status);
    ck_assert_int_eq(tg_ctx_last_status(ctx), st);
    ck_assert_ptr_eq(ds, sentinel);
    assert_msg_has(ctx, c->needle, c->dir);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(png_odd_but_valid)
{
    /* 16-bit, RGB, RGBA, gray+alpha, palette, interlaced, extra chunks: all
     * decode to the same 8-bit gray pixels. */
    static const uint8_t want[6] = {0, 10, 20, 30, 40, 250};
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *ds = NULL;
    ck_assert_msg(tg_dataset_load_png_dir(ctx, CORPUS "/png/odd", 2, 3, &ds) == TG_OK, "%s",
                  tg_ctx_last_error(ctx));
    ck_assert_uint_eq(tg_dataset_n(ds), 7);
    for (size_t i = 0; i < 7; i++)
        ck_assert_msg(memcmp(tg_dataset_image(ds, i), want, 6) == 0, "image %zu differs", i);
    tg_dataset_destroy(ds);

    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, CORPUS "/png/bits", 2, 3, &ds), TG_OK);
    ck_assert_mem_eq(tg_dataset_image(ds, 0), ((uint8_t[]){255, 0, 255, 0, 255, 0}), 6);
    tg_dataset_destroy(ds);

    ck_assert_int_eq(tg_dataset_load_png_dir(ctx, CORPUS "/png/good", 2, 3, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 2);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 3);
    ck_assert_int_eq(tg_dataset_label(ds, 1), 2);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- CIFAR binary files ----------------------------------------------------- */

typedef struct cifar_case {
    const char *file;
    int variant;
    bool coarse;
    tg_status status;
    const char *needle;
} cifar_case;

static const cifar_case cifar_cases[] = {
    {"empty.bin", 10, false, TG_ERR_FORMAT, "no records"},
    {"label-only.bin", 10, false, TG_ERR_FORMAT, "partial record at byte offset 0"},
    {"partial.bin", 10, false, TG_ERR_FORMAT, "partial record at byte offset 3073"},
    {"bad-label.bin", 10, false, TG_ERR_FORMAT, "label 200 at byte offset 0"},
    {"bad-fine-label.bin", 100, false, TG_ERR_FORMAT, "label 100 at byte offset 1"},
    {"bad-coarse-label.bin", 100, true, TG_ERR_FORMAT, "label 20 at byte offset 0"},
    {"good100.bin", 10, false, TG_ERR_FORMAT, "partial record at byte offset 6146"},
    {"good.bin", 100, false, TG_ERR_FORMAT, "partial record at byte offset 3074"},
    {"no-such-file.bin", 10, false, TG_ERR_NOT_FOUND, "no-such-file.bin"},
};

START_TEST(cifar_malformed)
{
    const cifar_case *c = &cifar_cases[_i];
    char path[512];
    snprintf(path, sizeof path, CORPUS "/cifar/%s", c->file);
    const char *paths[1] = {path};
    tg_cifar_options o;
    tg_cifar_options_init(&o);
    o.variant = c->variant;
    o.coarse = c->coarse;
    tg_ctx *ctx = tgt_ctx(1);
    tg_dataset *sentinel = (tg_dataset *)&sentinel, *ds = sentinel;
    tg_status st = tg_dataset_load_cifar(ctx, paths, 1, &o, &ds);
    ck_assert_msg(st == c->status, "%s: status %d (%s), want %d", c->file, (int)st,
                  tg_ctx_last_error(ctx), (int)c->status);
    ck_assert_int_eq(tg_ctx_last_status(ctx), st);
    ck_assert_ptr_eq(ds, sentinel);
    assert_msg_has(ctx, c->needle, c->file);
    assert_msg_has(ctx, c->file, c->file);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(cifar_valid)
{
    tg_ctx *ctx = tgt_ctx(1);
    const char *p10[1] = {CORPUS "/cifar/good.bin"}, *p100[1] = {CORPUS "/cifar/good100.bin"};
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, p10, 1, NULL, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 2);
    ck_assert_int_eq(tg_dataset_label(ds, 1), 9);
    ck_assert_int_eq(tg_dataset_image(ds, 1)[1024], 101);
    tg_dataset_destroy(ds);
    tg_cifar_options o;
    tg_cifar_options_init(&o);
    o.variant = 100;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, p100, 1, &o, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_label(ds, 0), 99);
    tg_dataset_destroy(ds);
    /* A good file followed by a bad one: nothing is kept. */
    const char *two[2] = {CORPUS "/cifar/good.bin", CORPUS "/cifar/partial.bin"};
    tg_dataset *sentinel = (tg_dataset *)&sentinel;
    ds = sentinel;
    ck_assert_int_eq(tg_dataset_load_cifar(ctx, two, 2, NULL, &ds), TG_ERR_FORMAT);
    ck_assert_ptr_eq(ds, sentinel);
    assert_msg_has(ctx, "partial.bin", "two files");
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- safetensors ---------------------------------------------------------- */

static tg_tensor *fwd(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}
static const tg_module_vtable vt = {sizeof(tg_module_vtable), "Test", fwd, NULL};

typedef struct st_model {
    tg_ctx *ctx;
    tg_module *m;
    tg_optim *opt;
} st_model;

/* params "w" [2,3], "b" [3]; child "c" with buffer "rm" [2]; Adam, 3 steps. */
static void st_model_new(st_model *md)
{
    static const int64_t sw[2] = {2, 3}, sb[1] = {3}, sr[1] = {2};
    tg_tensor *w, *b, *rm;
    tg_module *c = NULL;
    md->ctx = tgt_ctx(5);
    ck_assert_int_eq(tg_module_create(md->ctx, &vt, NULL, &md->m), TG_OK);
    ck_assert_int_eq(tg_module_create(md->ctx, &vt, NULL, &c), TG_OK);
    ck_assert_int_eq(tg_module_add_param(md->m, "w", 2, sw, &w), TG_OK);
    ck_assert_int_eq(tg_module_add_param(md->m, "b", 1, sb, &b), TG_OK);
    ck_assert_int_eq(tg_module_add_buffer(c, "rm", 1, sr, &rm), TG_OK);
    ck_assert_int_eq(tg_module_add_child(md->m, "c", c), TG_OK);
    tg_tensor_uniform_(w, -1, 1);
    tg_tensor_uniform_(b, -1, 1);
    tg_tensor_uniform_(rm, -1, 1);
    ck_assert_int_eq(tg_adam_create(md->ctx, md->m, NULL, &md->opt), TG_OK);
    tg_optim_set_step_count(md->opt, 9);
    tg_optim_set_lr(md->opt, 0.125f);
    for (size_t i = 0; i < 2; i++)
        for (int s = 0; s < 2; s++) {
            float *st = tg_optim_state(md->opt, i, s);
            ck_assert_ptr_nonnull(st);
            for (int k = 0; k < 3; k++)
                st[k] = (float)(i * 10 + (size_t)s) + 0.5f * (float)k;
        }
}

static void st_model_free(st_model *md)
{
    tg_optim_destroy(md->opt);
    tg_module_destroy(md->m);
    tg_ctx_destroy(md->ctx);
}

/* Every byte of module state and optimiser state, plus step count and lr. */
static size_t snapshot(st_model *md, unsigned char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(p, len)                                                                            \
    do {                                                                                       \
        ck_assert_uint_le(n + (len), cap);                                                     \
        memcpy(buf + n, (p), (len));                                                           \
        n += (len);                                                                            \
    } while (0)
    for (size_t i = 0; i < tg_module_n_state(md->m); i++) {
        tg_tensor *t = tg_module_state(md->m, i, NULL, NULL);
        PUT(tg_tensor_data(t), (size_t)tg_tensor_numel(t) * sizeof(float));
    }
    for (size_t i = 0; i < tg_optim_n_params(md->opt); i++)
        for (int s = 0; s < tg_optim_n_state(md->opt); s++)
            PUT(tg_optim_state(md->opt, i, s),
                (size_t)tg_tensor_numel(tg_optim_param(md->opt, i, NULL)) * sizeof(float));
    int64_t steps = tg_optim_step_count(md->opt);
    float lr = tg_optim_lr(md->opt);
    PUT(&steps, sizeof steps);
    PUT(&lr, sizeof lr);
#undef PUT
    return n;
}

typedef struct st_case {
    const char *file;
    int mode; /* 0 module_load, 1 checkpoint_load with Adam, 2 get_metadata */
    tg_status status;
    const char *needle;
} st_case;

static const st_case st_cases[] = {
    {"empty.safetensors", 0, TG_ERR_FORMAT, "truncated"},
    {"short.safetensors", 0, TG_ERR_FORMAT, "truncated"},
    {"huge-header-len.safetensors", 0, TG_ERR_LIMIT, "header"},
    {"header-past-eof.safetensors", 0, TG_ERR_FORMAT, "header length"},
    {"bad-json.safetensors", 0, TG_ERR_FORMAT, NULL},
    {"not-object.safetensors", 0, TG_ERR_FORMAT, "not a JSON object"},
    {"nul-in-header.safetensors", 0, TG_ERR_FORMAT, NULL},
    {"out-of-range.safetensors", 0, TG_ERR_FORMAT, "outside"},
    {"overlap.safetensors", 0, TG_ERR_FORMAT, "overlap"},
    {"begin-after-end.safetensors", 0, TG_ERR_FORMAT, "data_offsets"},
    {"size-mismatch.safetensors", 0, TG_ERR_FORMAT, "do not match"},
    {"negative-offset.safetensors", 0, TG_ERR_FORMAT, "data_offsets"},
    {"float-offset.safetensors", 0, TG_ERR_FORMAT, "data_offsets"},
    {"huge-offset.safetensors", 0, TG_ERR_FORMAT, "data_offsets"},
    {"wrong-dtype.safetensors", 0, TG_ERR_DTYPE, "F64"},
    {"int-dtype.safetensors", 0, TG_ERR_DTYPE, "I32"},
    {"unknown-dtype.safetensors", 0, TG_ERR_FORMAT, "dtype"},
    {"duplicate-name.safetensors", 0, TG_ERR_FORMAT, "duplicate"},
    {"missing-tensor.safetensors", 0, TG_ERR_NOT_FOUND, "c.rm"},
    {"extra-tensor.safetensors", 0, TG_ERR_NOT_FOUND, "extra"},
    {"wrong-shape.safetensors", 0, TG_ERR_SHAPE, "[3,2]"},
    {"rank-9.safetensors", 0, TG_ERR_LIMIT, "rank"},
    {"negative-dim.safetensors", 0, TG_ERR_FORMAT, "dimension"},
    {"huge-dims.safetensors", 0, TG_ERR_FORMAT, "do not match"},
    {"truncated-data.safetensors", 0, TG_ERR_FORMAT, "outside"},
    {"bad-metadata.safetensors", 0, TG_ERR_FORMAT, "metadata"},
    {"deep-json.safetensors", 0, TG_ERR_LIMIT, "deeper"},
    {"good.safetensors", 1, TG_ERR_FORMAT, "tg.epoch"},
    {"checkpoint-bad-step.safetensors", 1, TG_ERR_FORMAT, "tg.step"},
    {"checkpoint-no-epoch.safetensors", 1, TG_ERR_FORMAT, "tg.epoch"},
    {"checkpoint-wrong-optim.safetensors", 1, TG_ERR_INVALID_ARG, "SGD"},
    {"checkpoint-missing-state.safetensors", 1, TG_ERR_NOT_FOUND, "optim.b.1"},
    {"overlap.safetensors", 1, TG_ERR_FORMAT, "overlap"},
    {"good.safetensors", 2, TG_ERR_NOT_FOUND, "tg.epoch"},
    {"bad-json.safetensors", 2, TG_ERR_FORMAT, NULL},
    {"no-such-file.safetensors", 0, TG_ERR_IO, NULL},
};

START_TEST(safetensors_malformed)
{
    const st_case *c = &st_cases[_i];
    char path[512];
    snprintf(path, sizeof path, CORPUS "/st/%s", c->file);
    st_model md;
    st_model_new(&md);
    unsigned char before[512], after[512];
    size_t nb = snapshot(&md, before, sizeof before);
    int64_t epoch = -7;
    char meta[64] = "untouched";
    tg_status st;
    if (c->mode == 0)
        st = tg_module_load(md.m, path);
    else if (c->mode == 1)
        st = tg_checkpoint_load(md.m, md.opt, &epoch, path);
    else
        st = tg_safetensors_get_metadata(md.ctx, path, "tg.epoch", meta, sizeof meta);
    ck_assert_msg(st == c->status, "%s (mode %d): status %d (%s), want %d", c->file, c->mode,
                  (int)st, tg_ctx_last_error(md.ctx), (int)c->status);
    ck_assert_int_eq(tg_ctx_last_status(md.ctx), st);
    assert_msg_has(md.ctx, c->file, c->file);
    if (c->needle)
        assert_msg_has(md.ctx, c->needle, c->file);
    /* nothing changed: model, optimiser, outputs */
    size_t na = snapshot(&md, after, sizeof after);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(before, after, nb) == 0, "%s: a failed load changed the model", c->file);
    ck_assert_int_eq(epoch, -7);
    ck_assert_str_eq(meta, "untouched");
    st_model_free(&md);
}
END_TEST

START_TEST(safetensors_valid)
{
    st_model md;
    st_model_new(&md);
    ck_assert_int_eq(tg_module_load(md.m, CORPUS "/st/good.safetensors"), TG_OK);
    /* gen_corpus.py stores 0.25 * i over the whole data block */
    for (size_t i = 0; i < tg_module_n_state(md.m); i++) {
        const char *name;
        tg_tensor *t = tg_module_state(md.m, i, &name, NULL);
        size_t base = strcmp(name, "w") == 0 ? 0 : strcmp(name, "b") == 0 ? 6 : 9;
        for (int64_t k = 0; k < tg_tensor_numel(t); k++)
            ck_assert_float_eq(tg_tensor_data(t)[k], 0.25f * (float)(base + (size_t)k));
    }
    int64_t epoch = 0;
    ck_assert_int_eq(tg_checkpoint_load(md.m, md.opt, &epoch, CORPUS "/st/good-checkpoint.safetensors"),
                     TG_OK);
    ck_assert_int_eq(epoch, 5);
    ck_assert_int_eq(tg_optim_step_count(md.opt), 3);
    ck_assert_float_eq_tol(tg_optim_lr(md.opt), 0.001f, 1e-9f);
    char buf[16];
    ck_assert_int_eq(tg_safetensors_get_metadata(md.ctx, CORPUS "/st/good-checkpoint.safetensors",
                                                 "tg.optim", buf, sizeof buf),
                     TG_OK);
    ck_assert_str_eq(buf, "Adam");
    ck_assert_int_eq(tg_safetensors_get_metadata(md.ctx, CORPUS "/st/good-checkpoint.safetensors",
                                                 "tg.optim", buf, 4),
                     TG_ERR_LIMIT);
    st_model_free(&md);
}
END_TEST

/* ---- config ----------------------------------------------------------------- */

typedef struct cfg_case {
    const char *file;
    tg_status status;
    const char *needle;
} cfg_case;

static const cfg_case cfg_cases[] = {
    {"no-equals.txt", TG_ERR_FORMAT, "no-equals.txt:2: expected 'key = value'"},
    {"missing-key.txt", TG_ERR_FORMAT, "missing-key.txt:1:"},
    {"bad-key.txt", TG_ERR_FORMAT, "invalid key"},
    {"duplicate-key.txt", TG_ERR_FORMAT, ":3: duplicate key 'seed' (first on line 1)"},
    {"unterminated-quote.txt", TG_ERR_FORMAT, "unterminated"},
    {"stray-quote.txt", TG_ERR_FORMAT, "stray"},
    {"nul-byte.txt", TG_ERR_FORMAT, "NUL"},
    {"long-line.txt", TG_ERR_LIMIT, "long-line.txt:1:"},
    {"no-such-file.txt", TG_ERR_IO, "no-such-file.txt"},
};

START_TEST(config_malformed)
{
    const cfg_case *c = &cfg_cases[_i];
    char path[512];
    snprintf(path, sizeof path, CORPUS "/config/%s", c->file);
    tg_ctx *ctx = tgt_ctx(1);
    tg_config *sentinel = (tg_config *)&sentinel, *cfg = sentinel;
    tg_status st = tg_config_load_file(ctx, path, &cfg);
    ck_assert_msg(st == c->status, "%s: status %d (%s), want %d", c->file, (int)st,
                  tg_ctx_last_error(ctx), (int)c->status);
    ck_assert_ptr_eq(cfg, sentinel);
    assert_msg_has(ctx, c->needle, c->file);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(config_values)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_config *cfg = NULL;
    double d = 0;
    int64_t v = 0;
    ck_assert_int_eq(tg_config_load_file(ctx, CORPUS "/config/crlf-ok.txt", &cfg), TG_OK);
    ck_assert_int_eq(tg_config_get_float(cfg, "lr", 0, 0, 1, &d), TG_OK);
    ck_assert_double_eq(d, 0.5);
    ck_assert_int_eq(tg_config_get_int(cfg, "seed", 0, 0, 10, &v), TG_OK);
    ck_assert_int_eq(v, 7);
    tg_config_destroy(cfg);
    ck_assert_int_eq(tg_config_load_file(ctx, CORPUS "/config/bom-ok.txt", &cfg), TG_OK);
    ck_assert_int_eq(tg_config_get_float(cfg, "lr", 0, 0, 1, &d), TG_OK);
    ck_assert_double_eq(d, 0.5);
    tg_config_destroy(cfg);

    ck_assert_int_eq(tg_config_load_file(ctx, CORPUS "/config/bad-values.txt", &cfg), TG_OK);
    static const char *const opts[] = {"sgd", "adam"};
    bool b = true;
    size_t idx = 9;
    v = 42;
    d = 42;
    ck_assert_int_eq(tg_config_get_int(cfg, "batch_size", 1, 1, 100, &v), TG_ERR_INVALID_ARG);
    assert_msg_has(ctx, "bad-values.txt:1: batch_size: 'abc' is not an integer", "bad-values");
    ck_assert_int_eq(tg_config_get_float(cfg, "lr", 0, 0, 1, &d), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_config_get_bool(cfg, "flag", false, &b), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_config_get_choice(cfg, "opt", opts, 2, 0, &idx), TG_ERR_INVALID_ARG);
    assert_msg_has(ctx, "not one of sgd, adam", "bad-values");
    ck_assert_int_eq(tg_config_get_int(cfg, "big", 0, INT64_MIN, INT64_MAX, &v),
                     TG_ERR_INVALID_ARG);
    /* outputs untouched on error */
    ck_assert_int_eq(v, 42);
    ck_assert_double_eq(d, 42);
    ck_assert(b);
    ck_assert_uint_eq(idx, 9);
    tg_config_destroy(cfg);

    /* over the 1 MiB file limit (made here: too big to commit) */
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/tg-malformed-big-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *fp = fdopen(fd, "w");
    for (int i = 0; i < 40000; i++)
        fprintf(fp, "# padding line %d ...........\n", i);
    fclose(fp);
    cfg = NULL;
    ck_assert_int_eq(tg_config_load_file(ctx, path, &cfg), TG_ERR_LIMIT);
    ck_assert_ptr_null(cfg);
    unlink(path);
    tg_ctx_destroy(ctx);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *suite(void)
{
    Suite *s = suite_create("malformed");
    TCase *tc = tcase_create("corpus");
    tcase_add_loop_test(tc, idx_malformed, 0, N(idx_cases));
    tcase_add_test(tc, idx_valid_raw_and_gz);
    tcase_add_loop_test(tc, png_malformed, 0, N(png_cases));
    tcase_add_test(tc, png_odd_but_valid);
    tcase_add_loop_test(tc, cifar_malformed, 0, N(cifar_cases));
    tcase_add_test(tc, cifar_valid);
    tcase_add_loop_test(tc, safetensors_malformed, 0, N(st_cases));
    tcase_add_test(tc, safetensors_valid);
    tcase_add_loop_test(tc, config_malformed, 0, N(cfg_cases));
    tcase_add_test(tc, config_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
