/* SPDX-License-Identifier: MIT */
/* safetensors module state and checkpoints: round trip, file layout,
 * name/shape mismatches, malformed files (offsets, overlap, truncation,
 * limits, dtype), atomic saves and optimiser state. Every failed load must
 * leave the model untouched. */
#include "data_test_util.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tg_test.h"

/* Sequential(Linear(4,3), ReLU, Linear(3,out2)): 0.weight 0.bias 2.weight 2.bias */
static tg_module *mlp(tg_ctx *ctx, int64_t out2, bool extra)
{
    tg_module *seq = NULL, *l = NULL;
    ck_assert_int_eq(tg_sequential_create(ctx, &seq), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, 4, 3, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_relu_create(ctx, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    ck_assert_int_eq(tg_linear_create(ctx, 3, out2, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    if (extra) {
        ck_assert_int_eq(tg_linear_create(ctx, out2, 1, true, &l), TG_OK);
        ck_assert_int_eq(tg_sequential_append(seq, l), TG_OK);
    }
    return seq;
}

/* All state values, concatenated (malloc'd). */
static float *snapshot(tg_module *m, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < tg_module_n_state(m); i++)
        total += (size_t)tg_tensor_numel(tg_module_state(m, i, NULL, NULL));
    float *v = malloc(total * sizeof *v + 1);
    size_t k = 0;
    for (size_t i = 0; i < tg_module_n_state(m); i++) {
        tg_tensor *t = tg_module_state(m, i, NULL, NULL);
        memcpy(v + k, tg_tensor_data(t), (size_t)tg_tensor_numel(t) * sizeof *v);
        k += (size_t)tg_tensor_numel(t);
    }
    *n = total;
    return v;
}

static void assert_same_state(tg_module *a, tg_module *b)
{
    size_t na, nb;
    float *x = snapshot(a, &na), *y = snapshot(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(x, y, na * sizeof *x), 0);
    free(x);
    free(y);
}

/* The model still holds exactly `want`. */
static void assert_untouched(tg_module *m, const float *want, size_t n)
{
    size_t k;
    float *now = snapshot(m, &k);
    ck_assert_uint_eq(k, n);
    ck_assert_int_eq(memcmp(now, want, n * sizeof *now), 0);
    free(now);
}

START_TEST(round_trip_and_layout)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *a = mlp(ctx, 2, false);
    tg_ctx_manual_seed(ctx, 99);
    tg_module *b = mlp(ctx, 2, false);
    size_t n;
    float *sa = snapshot(a, &n), *sb = snapshot(b, &n);
    ck_assert_int_ne(memcmp(sa, sb, n * sizeof *sa), 0);
    const tg_kv meta[] = {{"model", "mlp \"v1\"\n"}, {"epochs", "3"}};
    ck_assert_int_eq(tg_module_save(a, tgd_path("m.safetensors"), meta, 2), TG_OK);
    ck_assert_int_eq(tg_module_load(b, tgd_path("m.safetensors")), TG_OK);
    assert_same_state(a, b);

    /* The layout follows the spec: LE length, JSON, space padding, data. */
    size_t fn;
    unsigned char *f = tgd_read(tgd_path("m.safetensors"), &fn);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | f[i];
    ck_assert_uint_eq((8 + hl) % 8, 0);
    ck_assert_uint_eq(fn, 8 + hl + n * sizeof(float));
    ck_assert_int_eq(f[8], '{');
    char *hdr = calloc(1, hl + 1);
    memcpy(hdr, f + 8, hl);
    ck_assert_ptr_nonnull(strstr(hdr, "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],"
                                      "\"data_offsets\":[0,48]}"));
    ck_assert_ptr_nonnull(strstr(hdr, "\"__metadata__\":{\"model\":\"mlp \\\"v1\\\"\\n\""));
    tg_tensor *w0 = tg_module_find(a, "0.weight");
    ck_assert_int_eq(memcmp(f + 8 + hl, tg_tensor_data(w0), 48), 0);
    free(hdr);
    free(f);

    char buf[32];
    ck_assert_int_eq(tg_safetensors_get_metadata(ctx, tgd_path("m.safetensors"), "model", buf,
                                                 sizeof buf), TG_OK);
    ck_assert_str_eq(buf, "mlp \"v1\"\n");
    ck_assert_int_eq(tg_safetensors_get_metadata(ctx, tgd_path("m.safetensors"), "model", buf, 4),
                     TG_ERR_LIMIT);
    ck_assert_int_eq(tg_safetensors_get_metadata(ctx, tgd_path("m.safetensors"), "nope", buf,
                                                 sizeof buf), TG_ERR_NOT_FOUND);
    const tg_kv dup[] = {{"k", "1"}, {"k", "2"}};
    ck_assert_int_eq(tg_module_save(a, tgd_path("x"), dup, 2), TG_ERR_INVALID_ARG);
    free(sa);
    free(sb);
    tg_module_destroy(a);
    tg_module_destroy(b);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

START_TEST(mismatch_leaves_model_untouched)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *a = mlp(ctx, 2, false);
    ck_assert_int_eq(tg_module_save(a, tgd_path("m.st"), NULL, 0), TG_OK);
    size_t n;

    tg_module *wide = mlp(ctx, 5, false); /* 2.weight [5,3] */
    float *before = snapshot(wide, &n);
    ck_assert_int_eq(tg_module_load(wide, tgd_path("m.st")), TG_ERR_SHAPE);
    tgd_assert_err(ctx, TG_ERR_SHAPE, "'2.weight'", "[2,3] in the file", "[5,3] in the model");
    assert_untouched(wide, before, n);
    free(before);

    tg_module *deeper = mlp(ctx, 2, true); /* has 3.weight, 3.bias */
    before = snapshot(deeper, &n);
    ck_assert_int_eq(tg_module_load(deeper, tgd_path("m.st")), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "'3.weight' is missing");
    assert_untouched(deeper, before, n);
    free(before);

    tg_module *small = NULL; /* only 0.weight, 0.bias: the file has extras */
    ck_assert_int_eq(tg_sequential_create(ctx, &small), TG_OK);
    tg_module *l = NULL;
    ck_assert_int_eq(tg_linear_create(ctx, 4, 3, true, &l), TG_OK);
    ck_assert_int_eq(tg_sequential_append(small, l), TG_OK);
    before = snapshot(small, &n);
    ck_assert_int_eq(tg_module_load(small, tgd_path("m.st")), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "unexpected tensor '2.");
    assert_untouched(small, before, n);
    free(before);

    ck_assert_int_eq(tg_module_load(small, tgd_path("missing.st")), TG_ERR_IO);
    tgd_assert_err(ctx, TG_ERR_IO, tgd_path("missing.st"));
    ck_assert_int_eq(tg_module_load(NULL, tgd_path("m.st")), TG_ERR_INVALID_ARG);
    tg_module_destroy(a);
    tg_module_destroy(wide);
    tg_module_destroy(deeper);
    tg_module_destroy(small);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

/* A hand-made file: 8-byte LE header length, header, data. */
static void write_st(const char *path, const char *json, const void *data, size_t dlen)
{
    size_t hl = strlen(json), n = 8 + hl + dlen;
    unsigned char *b = malloc(n);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    if (dlen)
        memcpy(b + 8 + hl, data, dlen);
    tgd_write(path, b, n);
    free(b);
}

#define W_OK_ "\"weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}"

START_TEST(malformed_files)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *lin = NULL; /* state: weight [1,2], bias [1] */
    ck_assert_int_eq(tg_linear_create(ctx, 2, 1, true, &lin), TG_OK);
    const float vals[3] = {1.5f, -2.0f, 0.25f};
    const char *p = tgd_path("f.st");

    /* A valid hand-written file (no padding, keys in any order) loads. */
    write_st(p, "{\"bias\":{\"data_offsets\":[8,12],\"shape\":[1],\"dtype\":\"F32\"}," W_OK_ "}",
             vals, 12);
    ck_assert_int_eq(tg_module_load(lin, p), TG_OK);
    tgt_assert_tensor(tg_module_find(lin, "weight"), vals, 2, 0);
    tgt_assert_tensor(tg_module_find(lin, "bias"), vals + 2, 1, 0);
    size_t n;
    float *before = snapshot(lin, &n);

    static const struct {
        const char *json;
        size_t dlen;
        tg_status st;
        const char *needle;
    } cases[] = {
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,16]}}", 12,
         TG_ERR_FORMAT, "outside the 12 data bytes"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 12,
         TG_ERR_FORMAT, "overlap"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,12]}}", 12,
         TG_ERR_FORMAT, "do not match shape [2]"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 10,
         TG_ERR_FORMAT, "outside the 10 data bytes"}, /* truncated data */
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,8]}}", 12,
         TG_ERR_FORMAT, "0 <= begin <= end"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 12,
         TG_ERR_FORMAT, "data_offsets"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[8,12]}}", 12,
         TG_ERR_FORMAT, "bad dimension 0"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
         TG_ERR_FORMAT, "unknown dtype"},
        {"{\"weight\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[0,4]},"
         "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         TG_ERR_DTYPE, "'weight' is F16"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12],\"x\":1}}",
         12, TG_ERR_FORMAT, "unknown field 'x'"},
        {"{" W_OK_ "," W_OK_ "}", 12, TG_ERR_FORMAT, "duplicate tensor 'weight'"},
        {"{\"__metadata__\":{\"a\":1}," W_OK_ "}", 12, TG_ERR_FORMAT, "not a string"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}", 12,
         TG_ERR_FORMAT, "bad JSON"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}} x", 12,
         TG_ERR_FORMAT, "trailing"},
        {"{\"a\":[[[[[[[[1]]]]]]]]}", 0, TG_ERR_LIMIT, "nested deeper"},
        {"[1,2]", 0, TG_ERR_FORMAT, "not a JSON object"},
        {"{\"we\\u0000ight\":{}}", 0, TG_ERR_FORMAT, "bad JSON"},
        {"{" W_OK_ ",\"bias\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
         "\"data_offsets\":[8,12]}}", 12, TG_ERR_LIMIT, "rank 9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static float pad[4] = {9, 9, 9, 9};
        write_st(p, cases[i].json, pad, cases[i].dlen);
        tg_ctx_clear_error(ctx);
        ck_assert_msg(tg_module_load(lin, p) == cases[i].st, "case %zu: got %d (%s)", i,
                      tg_ctx_last_status(ctx), tg_ctx_last_error(ctx));
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), cases[i].needle) != NULL,
                      "case %zu: '%s' lacks '%s'", i, tg_ctx_last_error(ctx), cases[i].needle);
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), p) != NULL, "case %zu: no path", i);
        assert_untouched(lin, before, n);
    }

    /* Header length fields that lie. */
    unsigned char raw[16] = {0};
    raw[5] = 1; /* 2^40 */
    tgd_write(p, raw, 16);
    ck_assert_int_eq(tg_module_load(lin, p), TG_ERR_LIMIT);
    tgd_assert_err(ctx, TG_ERR_LIMIT, "exceeds");
    memset(raw, 0, sizeof raw);
    raw[0] = 200; /* 200-byte header in a 16-byte file */
    tgd_write(p, raw, 16);
    ck_assert_int_eq(tg_module_load(lin, p), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "truncated");
    tgd_write(p, raw, 5);
    ck_assert_int_eq(tg_module_load(lin, p), TG_ERR_FORMAT);
    assert_untouched(lin, before, n);
    free(before);
    tg_module_destroy(lin);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

static size_t count_tmp_files(void)
{
    DIR *d = opendir(tgd_dir);
    ck_assert_ptr_nonnull(d);
    size_t k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        k += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return k;
}

START_TEST(atomic_save_keeps_old_file)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *a = mlp(ctx, 2, false);
    const char *p = tgd_path("model.safetensors");
    ck_assert_int_eq(tg_module_save(a, p, NULL, 0), TG_OK);
    size_t n0;
    unsigned char *old = tgd_read(p, &n0);
    tg_module *big = mlp(ctx, 200, false);
    /* In a child, cap the file size so the write fails half-way (EFBIG). */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {256, 256};
        setrlimit(RLIMIT_FSIZE, &rl);
        tg_status st = tg_module_save(big, p, NULL, 0);
        int code = st == TG_ERR_IO && strstr(tg_ctx_last_error(ctx), p) ? 0 : 1;
        free(old); /* leave nothing for valgrind's leak check in the child */
        tg_ctx_destroy(ctx);
        _exit(code);
    }
    int ws = 0;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert(WIFEXITED(ws));
    ck_assert_int_eq(WEXITSTATUS(ws), 0);
    size_t n1;
    unsigned char *now = tgd_read(p, &n1);
    ck_assert_uint_eq(n1, n0);
    ck_assert_int_eq(memcmp(old, now, n0), 0);
    ck_assert_uint_eq(count_tmp_files(), 0);
    free(now);
    free(old);
    /* A missing directory fails cleanly and names the path. */
    ck_assert_int_eq(tg_module_save(a, tgd_path("no/such/dir/m.st"), NULL, 0), TG_ERR_IO);
    tgd_assert_err(ctx, TG_ERR_IO, "no/such/dir/m.st");
    /* A successful save replaces the file whole. */
    ck_assert_int_eq(tg_module_save(big, p, NULL, 0), TG_OK);
    ck_assert_uint_eq(count_tmp_files(), 0);
    tg_module *big2 = mlp(ctx, 200, false);
    ck_assert_int_eq(tg_module_load(big2, p), TG_OK);
    assert_same_state(big, big2);
    tg_module_destroy(a);
    tg_module_destroy(big);
    tg_module_destroy(big2);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

static void train_steps(tg_ctx *ctx, tg_module *m, tg_optim *opt, int steps)
{
    const float xs[8] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f};
    const float ys[4] = {1.0f, -1.0f, 0.5f, 0.0f};
    for (int s = 0; s < steps; s++) {
        tg_optim_zero_grad(opt);
        tg_tensor *x = tg_from_data(ctx, 2, (int64_t[]){2, 4}, xs, 8);
        tg_tensor *y = tg_from_data(ctx, 2, (int64_t[]){2, 2}, ys, 4);
        tg_tensor *loss = tg_mse_loss(ctx, tg_module_forward(m, x), y, TG_REDUCTION_MEAN);
        ck_assert_ptr_nonnull(loss);
        ck_assert_int_eq(tg_backward(ctx, loss), TG_OK);
        ck_assert_int_eq(tg_optim_step(opt), TG_OK);
        tg_ctx_reset(ctx);
    }
}

START_TEST(checkpoint_round_trip)
{
    tgd_mkdtemp();
    tg_ctx *ctx = tgt_ctx(1);
    tg_module *a = mlp(ctx, 2, false), *b = mlp(ctx, 2, false);
    tg_adam_options ao;
    tg_adam_options_init(&ao);
    ao.lr = 0.05f;
    tg_optim *oa = NULL, *ob = NULL;
    ck_assert_int_eq(tg_adam_create(ctx, a, &ao, &oa), TG_OK);
    ao.lr = 0.001f;
    ck_assert_int_eq(tg_adam_create(ctx, b, &ao, &ob), TG_OK);
    train_steps(ctx, a, oa, 3);
    const char *p = tgd_path("ckpt.safetensors");
    ck_assert_int_eq(tg_checkpoint_save(a, oa, 4, p), TG_OK);
    int64_t epoch = -1;
    ck_assert_int_eq(tg_checkpoint_load(b, ob, &epoch, p), TG_OK);
    ck_assert_int_eq(epoch, 4);
    ck_assert_int_eq(tg_optim_step_count(ob), 3);
    ck_assert_float_eq(tg_optim_lr(ob), 0.05f);
    assert_same_state(a, b);
    ck_assert_int_eq(tg_optim_n_state(oa), 2);
    for (size_t i = 0; i < tg_optim_n_params(oa); i++)
        for (int s = 0; s < 2; s++) {
            size_t k = (size_t)tg_tensor_numel(tg_optim_param(oa, i, NULL));
            ck_assert_int_eq(memcmp(tg_optim_state(oa, i, s), tg_optim_state(ob, i, s),
                                    k * sizeof(float)), 0);
        }
    /* Training continues identically from the restored state. */
    train_steps(ctx, a, oa, 2);
    train_steps(ctx, b, ob, 2);
    assert_same_state(a, b);

    /* Failed loads change nothing: another optimiser type... */
    tg_module *c = mlp(ctx, 2, false);
    tg_optim *sgd = NULL;
    ck_assert_int_eq(tg_sgd_create(ctx, c, NULL, &sgd), TG_OK);
    size_t n;
    float *before = snapshot(c, &n);
    epoch = -1;
    ck_assert_int_eq(tg_checkpoint_load(c, sgd, &epoch, p), TG_ERR_INVALID_ARG);
    tgd_assert_err(ctx, TG_ERR_INVALID_ARG, tg_optim_name(oa), tg_optim_name(sgd));
    assert_untouched(c, before, n);
    ck_assert_int_eq(epoch, -1);
    ck_assert_int_eq(tg_optim_step_count(sgd), 0);
    free(before);
    /* ...a plain module load sees the optimiser tensors as extras... */
    before = snapshot(c, &n);
    ck_assert_int_eq(tg_module_load(c, p), TG_ERR_NOT_FOUND);
    tgd_assert_err(ctx, TG_ERR_NOT_FOUND, "unexpected tensor 'optim.");
    assert_untouched(c, before, n);
    free(before);
    /* ...and a module-only checkpoint restore ignores them. */
    ck_assert_int_eq(tg_checkpoint_load(c, NULL, &epoch, p), TG_OK);
    ck_assert_int_eq(epoch, 4);
    /* A plain model file is not a checkpoint. */
    ck_assert_int_eq(tg_module_save(c, tgd_path("plain.st"), NULL, 0), TG_OK);
    ck_assert_int_eq(tg_checkpoint_load(b, ob, &epoch, tgd_path("plain.st")), TG_ERR_FORMAT);
    tgd_assert_err(ctx, TG_ERR_FORMAT, "tg.epoch");
    ck_assert_int_eq(tg_optim_step_count(ob), 5);
    tg_optim_destroy(oa);
    tg_optim_destroy(ob);
    tg_optim_destroy(sgd);
    tg_module_destroy(a);
    tg_module_destroy(b);
    tg_module_destroy(c);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, round_trip_and_layout);
    tcase_add_test(tc, mismatch_leaves_model_untouched);
    tcase_add_test(tc, malformed_files);
    tcase_add_test(tc, atomic_save_keeps_old_file);
    tcase_add_test(tc, checkpoint_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
