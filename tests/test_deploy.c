/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, mkstemp */
/* ONNX export errors, module metadata, the profiler and model summaries.
 * (The exported models themselves are checked by real consumers in
 * tests/onnx.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tg_test.h"

static tg_module *seed_cnn(tg_ctx *ctx)
{
    tg_module *s = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &s), TG_OK);
    int ch[4] = {1, 3, 6, 9};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tg_conv2d_create(ctx, ch[i], ch[i + 1], 3, 1, 1, 1, 1, true, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(s, l), TG_OK);
        ck_assert_int_eq(tg_relu_create(ctx, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(s, l), TG_OK);
    }
    ck_assert_int_eq(tg_maxpool2d_create(ctx, 2, 0, 0, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(s, l), TG_OK);
    ck_assert_int_eq(tg_flatten_create(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(s, l), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, 1764, 10, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(s, l), TG_OK);
    return s;
}

static const int64_t mnist_shape[4] = {1, 1, 28, 28};

/* ---- summary ----------------------------------------------------------------- */

START_TEST(summary_seed_cnn)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = seed_cnn(ctx);
    static char buf[8192];
    ck_assert_int_eq(tg_module_summary(m, 4, mnist_shape, buf, sizeof buf), TG_OK);
    ck_assert_msg(strstr(buf, "Total params: 18,343\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "Trainable params: 18,343\n"), "%s", buf);
    ck_assert_msg(strstr(buf, "(1.09 MFLOP)"), "%s", buf);
    /* one line per layer with its output shape; conv and relu separate */
    ck_assert_msg(strstr(buf, "0 (Conv2d)") && strstr(buf, "[1,3,28,28]"), "%s", buf);
    ck_assert_msg(strstr(buf, "1 (ReLU)"), "%s", buf);
    ck_assert_msg(strstr(buf, "6 (MaxPool2d)") && strstr(buf, "[1,9,14,14]"), "%s", buf);
    ck_assert_msg(strstr(buf, "8 (Linear)") && strstr(buf, "[1,10]"), "%s", buf);
    int64_t flops = 0;
    ck_assert_int_eq(tg_module_flops(m, 4, mnist_shape, &flops), TG_OK);
    /* 2 * (784*3*9 + 784*6*27 + 784*9*54 + 1764*10) */
    ck_assert_int_eq(flops, 1093680);
    /* per sample: a batch of 4 gives the same */
    const int64_t b4[4] = {4, 1, 28, 28};
    ck_assert_int_eq(tg_module_flops(m, 4, b4, &flops), TG_OK);
    ck_assert_int_eq(flops, 1093680);
    /* training flag and grad mode restored, no transient left behind */
    ck_assert(tg_module_is_training(m));
    ck_assert(tg_ctx_grad_enabled(ctx));
    /* too small a buffer: LIMIT and a terminated prefix */
    char small[64];
    ck_assert_int_eq(tg_module_summary(m, 4, mnist_shape, small, sizeof small), TG_ERR_LIMIT);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    /* bad shape: the forward's error is reported */
    const int64_t bad[4] = {1, 2, 28, 28};
    ck_assert_int_eq(tg_module_summary(m, 4, bad, buf, sizeof buf), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "module_summary"));
    ck_assert_int_eq(tg_module_summary(m, 0, mnist_shape, buf, sizeof buf),
                     TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_summary(NULL, 4, mnist_shape, buf, sizeof buf),
                     TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_flops(m, 4, mnist_shape, NULL), TG_ERR_INVALID_ARG);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- metadata ---------------------------------------------------------------- */

START_TEST(metadata_roundtrip)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = seed_cnn(ctx);
    ck_assert_ptr_null(tg_module_metadata(m, "tg.input_scale"));
    ck_assert_int_eq(tg_module_set_metadata(m, "tg.input_scale", "0.00392156862745098"), TG_OK);
    ck_assert_int_eq(tg_module_set_metadata(m, "tg.input_mean", "0.5"), TG_OK);
    ck_assert_int_eq(tg_module_set_metadata(m, "tg.input_mean", "0.1307"), TG_OK); /* replace */
    ck_assert_int_eq(tg_module_set_metadata(m, "gone", "x"), TG_OK);
    ck_assert_int_eq(tg_module_set_metadata(m, "gone", NULL), TG_OK); /* remove */
    ck_assert_uint_eq(tg_module_n_metadata(m), 2);
    const char *v = NULL;
    ck_assert_str_eq(tg_module_metadata_at(m, 1, &v), "tg.input_mean");
    ck_assert_str_eq(v, "0.1307");
    ck_assert_ptr_null(tg_module_metadata_at(m, 2, &v));
    ck_assert_int_eq(tg_module_set_metadata(m, "", "x"), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_set_metadata(m, NULL, "x"), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_set_metadata(NULL, "k", "x"), TG_ERR_INVALID_ARG);

    /* tg_module_save writes it; an explicit entry wins */
    char path[] = "/tmp/tg_meta_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    tg_kv kv = {"tg.input_mean", "0.2"};
    ck_assert_int_eq(tg_module_save(m, path, &kv, 1), TG_OK);
    char buf[64];
    ck_assert_int_eq(tg_safetensors_get_metadata(ctx, path, "tg.input_scale", buf, sizeof buf),
                     TG_OK);
    ck_assert_str_eq(buf, "0.00392156862745098");
    ck_assert_int_eq(tg_safetensors_get_metadata(ctx, path, "tg.input_mean", buf, sizeof buf),
                     TG_OK);
    ck_assert_str_eq(buf, "0.2");
    unlink(path);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- ONNX errors --------------------------------------------------------------- */

static tg_tensor *lossy_forward(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    return tg_mse_loss(ctx, x, x, TG_REDUCTION_MEAN);
}

static const tg_module_vtable lossy_vt = {sizeof(tg_module_vtable), "LossyThing", lossy_forward,
                                          NULL};

START_TEST(onnx_unsupported_op)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = seed_cnn(ctx), *bad = NULL;
    ck_assert_int_eq(tg_module_create(ctx, &lossy_vt, NULL, &bad), TG_OK);
    ck_assert_int_eq(tg_sequential_append(m, bad), TG_OK);
    char path[] = "/tmp/tg_onnx_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(path);
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, path, NULL), TG_ERR_STATE);
    const char *msg = tg_ctx_last_error(ctx);
    ck_assert_msg(strstr(msg, "mse_loss") && strstr(msg, "LossyThing") && strstr(msg, "'9'"),
                  "%s", msg);
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing written */
    ck_assert(tg_module_is_training(m));
    ck_assert(tg_ctx_grad_enabled(ctx));

    tg_onnx_options o;
    tg_onnx_options_init(&o);
    o.opset = 12;
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, path, &o), TG_ERR_INVALID_ARG);
    o.opset = 13;
    o.output_name = "input";
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, path, &o), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, NULL, NULL), TG_ERR_INVALID_ARG);
    ck_assert_int_eq(tg_module_export_onnx(NULL, 4, mnist_shape, path, NULL),
                     TG_ERR_INVALID_ARG);
    const int64_t bad_shape[4] = {1, 3, 28, 28};
    ck_assert_int_eq(tg_module_export_onnx(m, 4, bad_shape, path, NULL), TG_ERR_SHAPE);
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, "/nonexistent-dir/x.onnx", NULL),
                     TG_ERR_STATE); /* the op error comes first */
    tg_module_destroy(m);

    /* a writable model into a missing directory: IO naming the path */
    m = seed_cnn(ctx);
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, "/nonexistent-dir/x.onnx", NULL),
                     TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "/nonexistent-dir/x.onnx"));
    /* and a good one: starts with field 1 (ir_version = 7) */
    ck_assert_int_eq(tg_module_export_onnx(m, 4, mnist_shape, path, NULL), TG_OK);
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    unsigned char head[2];
    ck_assert_uint_eq(fread(head, 1, 2, fp), 2);
    fclose(fp);
    ck_assert_int_eq(head[0], 0x08);
    ck_assert_int_eq(head[1], 7);
    unlink(path);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- profiler ----------------------------------------------------------------- */

/* A minimal JSON validator (RFC 8259 grammar, no semantics). */
static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *js_value(const char *p);

static const char *js_string(const char *p)
{
    if (*p != '"')
        return NULL;
    for (p++; *p && *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *js_value(const char *p)
{
    p = js_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = js_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = js_string(js_ws(p));
                if (!p)
                    return NULL;
                p = js_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = js_value(p);
            if (!p)
                return NULL;
            p = js_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return js_string(p);
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    char *end;
    (void)strtod(p, &end);
    return end > p ? end : NULL;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(profiler_training_step)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *m = seed_cnn(ctx);
    tg_optim *opt = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, m, NULL, &opt), TG_OK);
    const int64_t shape[4] = {32, 1, 28, 28};
    int32_t labels[32];
    for (int i = 0; i < 32; i++)
        labels[i] = i % 10;
    ck_assert(!tg_profiler_is_enabled(ctx));
    ck_assert_uint_eq(tg_profiler_n_rows(ctx), 0);
    /* A warm-up step unprofiled (nothing recorded), then profiled steps until
     * one is not disturbed by other processes: on a loaded machine a
     * preemption outside the ops (optimiser, bookkeeping) breaks a single
     * step's timing; a real gap between the table and the wall time shows
     * in every step. */
    bool within = false;
    double last_total = 0, last_wall = 0;
    for (int pass = 0; pass < 20 && !within; pass++) {
        if (pass > 0) {
            tg_profiler_reset(ctx);
            ck_assert_int_eq(tg_profiler_enable(ctx, true), TG_OK);
        }
        tg_tensor *x = tg_rand(ctx, 4, shape, 0.0f, 1.0f); /* the data, not the step */
        double t0 = now_s();
        tg_tensor *loss = tg_cross_entropy(ctx, tg_module_forward(m, x), labels, 32,
                                           TG_REDUCTION_MEAN);
        ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
        ck_assert_int_eq(tg_optim_step(opt), TG_OK);
        tg_optim_zero_grad(opt);
        tg_ctx_reset(ctx);
        double wall_ms = (now_s() - t0) * 1e3;
        if (pass == 0) {
            ck_assert_uint_eq(tg_profiler_n_rows(ctx), 0);
            continue;
        }
        ck_assert_int_eq(tg_profiler_enable(ctx, false), TG_OK);
        /* rows: ops, then the Sequential and its layers (conv+relu pairs,
         * and conv+relu+pool, run as one op inside the Sequential) */
        double total = 0;
        uint64_t calls = 0, bwd_calls = 0;
        size_t n_rows = tg_profiler_n_rows(ctx), n_mod = 0;
        for (size_t i = 0; i < n_rows; i++) {
            tg_profile_row r;
            ck_assert_int_eq(tg_profiler_row(ctx, i, &r), TG_OK);
            if (r.module_type) {
                n_mod++;
                if (!strcmp(r.module_type, "Linear")) /* its op's backward, charged to it */
                    ck_assert_uint_eq(r.backward_calls, 1);
                continue;
            }
            total += r.forward_ms + r.backward_ms;
            calls += r.forward_calls;
            bwd_calls += r.backward_calls;
        }
        tg_profile_row r;
        ck_assert_int_eq(tg_profiler_row(ctx, n_rows, &r), TG_ERR_INVALID_ARG);
        ck_assert_uint_ge(n_mod, 1);
        /* conv2d_relu x2, conv2d_relu_maxpool2d (the third conv, its ReLU
         * and the pool), flatten, linear, cross_entropy */
        ck_assert_uint_eq(calls, 6);
        within = fabs(total - wall_ms) <= 0.1 * wall_ms;
        last_total = total;
        last_wall = wall_ms;

        static char table[16384];
        ck_assert_int_eq(tg_profiler_table(ctx, table, sizeof table), TG_OK);
        ck_assert_msg(strstr(table, "conv2d_relu ") && strstr(table, "conv2d_relu_maxpool2d") &&
                          strstr(table, "total"),
                      "%s", table);

        char path[] = "/tmp/tg_trace_XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(tg_profiler_write_trace(ctx, path), TG_OK);
        FILE *fp = fopen(path, "rb");
        static char json[1 << 20];
        size_t n = fread(json, 1, sizeof json - 1, fp);
        fclose(fp);
        unlink(path);
        json[n] = '\0';
        const char *end = js_value(json);
        ck_assert_msg(end && *js_ws(end) == '\0', "invalid JSON:\n%s", json);
        /* one event per op call, forward and backward */
        ck_assert_uint_eq(count_str(json, "\"cat\":\"forward\""), calls);
        ck_assert_uint_eq(count_str(json, "\"cat\":\"backward\""), bwd_calls);
        ck_assert_uint_eq(count_str(json, "\"ph\":\"X\""), calls + bwd_calls + n_mod);
    }
    ck_assert_msg(within, "op total %.3f ms vs step wall time %.3f ms (last of 19 steps)",
                  last_total, last_wall);
    tg_profiler_reset(ctx);
    ck_assert_uint_eq(tg_profiler_n_rows(ctx), 0);
    char tiny[8];
    ck_assert_int_eq(tg_profiler_table(ctx, tiny, sizeof tiny), TG_ERR_LIMIT);
    ck_assert_int_eq(tg_profiler_write_trace(ctx, "/nonexistent-dir/t.json"), TG_ERR_IO);
    ck_assert_int_eq(tg_profiler_enable(NULL, true), TG_ERR_INVALID_ARG);
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("deploy");
    TCase *tc = tcase_create("deploy");
    tcase_add_test(tc, summary_seed_cnn);
    tcase_add_test(tc, metadata_roundtrip);
    tcase_add_test(tc, onnx_unsupported_op);
    tcase_add_test(tc, profiler_training_step);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
