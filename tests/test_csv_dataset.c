/* SPDX-License-Identifier: MIT */
/* tg_dataset_load_csv() (public API): the committed Iris table as a
 * classification set with string labels and kept class names, the diabetes
 * table as a regression set (one and two targets, an ignored column), other
 * delimiters and integer labels, errors that name file:line:field and leave
 * *out untouched, and no leak under a failing allocator. */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include <stdio.h>
#include <unistd.h>

typedef struct counting {
    long live, calls, fail_at; /* fail_at-th call fails (1-based); 0 = never */
} counting;

static void *cnt_alloc(void *opaque, size_t size)
{
    counting *c = opaque;
    if (c->fail_at && ++c->calls == c->fail_at)
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p)
        c->live++;
    return p;
}

static void cnt_free(void *opaque, void *p)
{
    counting *c = opaque;
    if (p)
        c->live--;
    free(p);
}

static tg_ctx *cnt_ctx(counting *c)
{
    tg_ctx_options o;
    tg_ctx_options_init(&o);
    o.n_threads = 1;
    o.alloc = cnt_alloc;
    o.free = cnt_free;
    o.alloc_opaque = c;
    tg_ctx *ctx = NULL;
    ck_assert_int_eq(tg_ctx_create(&o, &ctx), TG_OK);
    return ctx;
}

/* Write text to a fresh temporary file; returns its path (static buffer). */
static const char *tmp_csv(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/tg_csv_ds_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t n = strlen(text);
    ck_assert_int_eq((long)write(fd, text, n), (long)n);
    close(fd);
    return path;
}

START_TEST(iris_classification)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_csv_options o;
    tg_csv_options_init(&o);
    ck_assert_uint_eq(o.struct_size, sizeof o);
    ck_assert_int_eq(o.task, TG_CSV_CLASSIFICATION);
    ck_assert_int_eq(o.delimiter, ',');
    o.target = "species";
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_csv(ctx, TG_FIXTURE_DIR "/iris.csv", &o, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 150);
    ck_assert_int_eq(tg_dataset_sample_ndim(ds), 1);
    ck_assert_int_eq(tg_dataset_sample_shape(ds)[0], 4);
    ck_assert_int_eq(tg_dataset_dtype(ds), TG_F32);
    ck_assert_int_eq(tg_dataset_target_dim(ds), 0);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 3);
    ck_assert_str_eq(tg_dataset_class_name(ds, 0), "setosa");
    ck_assert_str_eq(tg_dataset_class_name(ds, 1), "versicolor");
    ck_assert_str_eq(tg_dataset_class_name(ds, 2), "virginica");
    ck_assert_ptr_null(tg_dataset_class_name(ds, 3));
    const float row0[4] = {5.1f, 3.5f, 1.4f, 0.2f}, row149[4] = {5.9f, 3.0f, 5.1f, 1.8f};
    tgt_assert_close(tg_dataset_features(ds, 0), row0, 4, 0, 0);
    tgt_assert_close(tg_dataset_features(ds, 149), row149, 4, 0, 0);
    int count[3] = {0, 0, 0};
    for (size_t i = 0; i < 150; i++)
        count[tg_dataset_label(ds, i)]++;
    ck_assert_int_eq(count[0], 50);
    ck_assert_int_eq(count[1], 50);
    ck_assert_int_eq(count[2], 50);
    ck_assert_int_eq(tg_dataset_label(ds, 0), 0);
    ck_assert_int_eq(tg_dataset_label(ds, 149), 2);

    /* splits keep the names; standardising with the training statistics */
    tg_dataset *tr = NULL, *te = NULL;
    ck_assert_int_eq(tg_dataset_split(ds, 0.8, 7, &tr, &te), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(tr) + tg_dataset_n(te), 150);
    ck_assert_str_eq(tg_dataset_class_name(te, 2), "virginica");
    double mean[4], sd[4];
    ck_assert_int_eq(tg_dataset_feature_stats(tr, mean, sd, 4), TG_OK);
    float fm[4], fs[4];
    for (int k = 0; k < 4; k++) {
        fm[k] = (float)mean[k];
        fs[k] = (float)sd[k];
        ck_assert(sd[k] > 0.1);
    }
    ck_assert_int_eq(tg_dataset_set_channel_normalization(tr, false, fm, fs, 4), TG_OK);
    tg_batch_options bo;
    tg_batch_options_init(&bo);
    bo.batch_size = 200;
    bo.shuffle = false;
    tg_batch_iter *it = NULL;
    ck_assert_int_eq(tg_batch_iter_create(tr, &bo, &it), TG_OK);
    tg_batch b;
    ck_assert(tg_batch_iter_next_batch(it, &b));
    ck_assert_uint_eq(b.n, tg_dataset_n(tr));
    ck_assert_int_eq(tg_tensor_dim(b.x, 1), 4);
    const float *x = tg_tensor_data(b.x);
    for (int k = 0; k < 4; k++) { /* standardised: mean 0, std 1 */
        double s = 0, s2 = 0;
        for (size_t i = 0; i < b.n; i++) {
            s += x[i * 4 + k];
            s2 += (double)x[i * 4 + k] * x[i * 4 + k];
        }
        ck_assert_double_eq_tol(s / (double)b.n, 0.0, 1e-5);
        ck_assert_double_eq_tol(s2 / (double)b.n, 1.0, 1e-4);
    }
    tg_batch_iter_destroy(it);
    tg_dataset_destroy(tr);
    tg_dataset_destroy(te);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(diabetes_regression)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_csv_options o;
    tg_csv_options_init(&o);
    o.task = TG_CSV_REGRESSION;
    o.target = "target";
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_csv(ctx, TG_FIXTURE_DIR "/diabetes.csv", &o, &ds), TG_OK);
    ck_assert_uint_eq(tg_dataset_n(ds), 442);
    ck_assert_int_eq(tg_dataset_sample_shape(ds)[0], 10);
    ck_assert_int_eq(tg_dataset_target_dim(ds), 1);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 0);
    ck_assert_ptr_null(tg_dataset_class_name(ds, 0));
    ck_assert_float_eq(tg_dataset_targets(ds)[0], 151.0f);
    ck_assert_float_eq(tg_dataset_targets(ds)[441], 57.0f);
    ck_assert_float_eq(tg_dataset_features(ds, 0)[8], 4.8598f);
    tg_dataset_destroy(ds);

    /* two targets in the order given, one column ignored */
    static const char *const ys[] = {"target", "bp"}, *const drop[] = {"sex"};
    o.targets = ys;
    o.n_targets = 2;
    o.ignore = drop;
    o.n_ignore = 1;
    ds = NULL;
    ck_assert_int_eq(tg_dataset_load_csv(ctx, TG_FIXTURE_DIR "/diabetes.csv", &o, &ds), TG_OK);
    ck_assert_int_eq(tg_dataset_sample_shape(ds)[0], 8);
    ck_assert_int_eq(tg_dataset_target_dim(ds), 2);
    const float t0[2] = {151.0f, 101.0f}, f0[8] = {59, 32.1f, 157, 93.2f, 38, 4, 4.8598f, 87};
    tgt_assert_close(tg_dataset_targets(ds), t0, 2, 0, 0);
    tgt_assert_close(tg_dataset_features(ds, 0), f0, 8, 0, 0);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(delimiters_and_integer_labels)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_csv_options o;
    tg_csv_options_init(&o);
    o.target = "y";
    o.delimiter = ';';
    const char *p = tmp_csv("a;y;note\n1.5;10;x\n-2;2;\n3e1;10;\"q;r\"\n");
    static const char *const drop[] = {"note"};
    o.ignore = drop;
    o.n_ignore = 1;
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_csv(ctx, p, &o, &ds), TG_OK);
    unlink(p);
    ck_assert_uint_eq(tg_dataset_n(ds), 3);
    ck_assert_int_eq(tg_dataset_n_classes(ds), 2);
    ck_assert_str_eq(tg_dataset_class_name(ds, 0), "2"); /* numeric order */
    ck_assert_str_eq(tg_dataset_class_name(ds, 1), "10");
    ck_assert_int_eq(tg_dataset_label(ds, 0), 1);
    ck_assert_int_eq(tg_dataset_label(ds, 1), 0);
    ck_assert_float_eq(tg_dataset_features(ds, 2)[0], 30.0f);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Expect status want and a message containing needle; *out untouched. */
static void expect_fail(tg_ctx *ctx, const char *path, const tg_csv_options *o, tg_status want,
                        const char *needle)
{
    tg_dataset *sentinel = (tg_dataset *)&sentinel, *ds = sentinel;
    tg_status st = tg_dataset_load_csv(ctx, path, o, &ds);
    ck_assert_msg(st == want, "status %d (%s), want %d", (int)st, tg_ctx_last_error(ctx),
                  (int)want);
    ck_assert_ptr_eq(ds, sentinel);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), needle), "message '%s' lacks '%s'",
                  tg_ctx_last_error(ctx), needle);
}

START_TEST(errors)
{
    counting c = {0, 0, 0};
    tg_ctx *ctx = cnt_ctx(&c);
    long live0 = c.live;
    tg_csv_options o;
    tg_csv_options_init(&o);
    o.target = "species";
    const char *iris = TG_FIXTURE_DIR "/iris.csv";
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_csv(NULL, iris, &o, &ds), TG_ERR_INVALID_ARG);
    expect_fail(ctx, NULL, &o, TG_ERR_INVALID_ARG, "NULL argument");
    expect_fail(ctx, iris, NULL, TG_ERR_INVALID_ARG, "NULL argument");
    ck_assert_int_eq(tg_dataset_load_csv(ctx, iris, &o, NULL), TG_ERR_INVALID_ARG);
    tg_csv_options bad = o;
    bad.struct_size = 3;
    expect_fail(ctx, iris, &bad, TG_ERR_INVALID_ARG, "struct_size");
    bad = o;
    bad.target = NULL;
    expect_fail(ctx, iris, &bad, TG_ERR_INVALID_ARG, "no target column");
    bad = o;
    bad.task = (tg_csv_task)7;
    expect_fail(ctx, iris, &bad, TG_ERR_INVALID_ARG, "unknown task 7");
    bad = o;
    bad.n_targets = 2;
    expect_fail(ctx, iris, &bad, TG_ERR_INVALID_ARG, "targets");
    bad = o;
    bad.delimiter = 'x';
    expect_fail(ctx, iris, &bad, TG_ERR_INVALID_ARG, "delimiter");
    static const char *const two[] = {"sepal_length", "species"};
    bad = o;
    bad.targets = two;
    bad.n_targets = 2;
    expect_fail(ctx, iris, &bad, TG_ERR_INVALID_ARG, "");
    bad = o;
    bad.target = "nope";
    expect_fail(ctx, iris, &bad, TG_ERR_NOT_FOUND, "nope");
    bad = o;
    bad.task = TG_CSV_REGRESSION; /* species is text */
    expect_fail(ctx, iris, &bad, TG_ERR_FORMAT, "iris.csv:2:5: ");
    expect_fail(ctx, "/nonexistent/t.csv", &o, TG_ERR_IO, "/nonexistent/t.csv");

    /* a bad cell names file:line:field and the column */
    const char *p = tmp_csv("sepal_length,sepal_width,species\n1,2,a\n3,abc,b\n");
    char want[128];
    snprintf(want, sizeof want, "%s:3:2: 'abc' is not a number (column \"sepal_width\")", p);
    expect_fail(ctx, p, &o, TG_ERR_FORMAT, want);
    unlink(p);
    p = tmp_csv("a,species\n1,x\n2\n");
    snprintf(want, sizeof want, "%s:3", p);
    expect_fail(ctx, p, &o, TG_ERR_FORMAT, want);
    unlink(p);
    p = tmp_csv("a,species\n");
    expect_fail(ctx, p, &o, TG_ERR_FORMAT, "no data rows");
    unlink(p);
    ck_assert_int_eq(c.live, live0); /* nothing leaked */
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

/* Every allocation of a load fails in turn: NOMEM, *out untouched, no leak. */
START_TEST(allocation_failures)
{
    tg_csv_options o;
    tg_csv_options_init(&o);
    o.target = "species";
    int ok = 0;
    for (long k = 1; k < 200 && !ok; k++) {
        counting c = {0, 0, 0};
        tg_ctx *ctx = cnt_ctx(&c);
        long live0 = c.live;
        c.calls = 0;
        c.fail_at = k;
        tg_dataset *sentinel = (tg_dataset *)&sentinel, *ds = sentinel;
        tg_status st = tg_dataset_load_csv(ctx, TG_FIXTURE_DIR "/iris.csv", &o, &ds);
        if (st == TG_OK) {
            ck_assert_str_eq(tg_dataset_class_name(ds, 1), "versicolor");
            tg_dataset_destroy(ds);
            ok = 1;
        } else {
            ck_assert_msg(st == TG_ERR_NOMEM, "fail_at %ld: status %d (%s)", k, (int)st,
                          tg_ctx_last_error(ctx));
            ck_assert_ptr_eq(ds, sentinel);
        }
        ck_assert_msg(c.live == live0, "fail_at %ld: %ld blocks leaked", k, c.live - live0);
        tg_ctx_destroy(ctx);
        ck_assert_int_eq(c.live, 0);
    }
    ck_assert(ok);
}
END_TEST

/* The helpers a tabular program uses: standardise splits from the training
 * split, target statistics, class names as JSON. */
START_TEST(helpers)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_csv_options o;
    tg_csv_options_init(&o);
    o.target = "y";
    const char *p = tmp_csv("a,c,y\n1,5,x\n3,5,\"q\"\"\\\"\n5,5,x\n7,5,x\n");
    tg_dataset *ds = NULL;
    ck_assert_int_eq(tg_dataset_load_csv(ctx, p, &o, &ds), TG_OK);
    unlink(p);
    size_t len = 0;
    ck_assert_int_eq(tg_dataset_class_names_json(ds, NULL, 0, &len), TG_OK);
    const char *want = "[\"q\\\"\\\\\",\"x\"]"; /* ["q\"\\","x"] */
    ck_assert_uint_eq(len, strlen(want));
    char buf[32];
    ck_assert_int_eq(tg_dataset_class_names_json(ds, buf, sizeof buf, &len), TG_OK);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(tg_dataset_class_names_json(ds, buf, 4, NULL), TG_ERR_LIMIT);
    ck_assert_str_eq(buf, "[\"q");
    ck_assert_int_eq(tg_dataset_class_names_json(ds, NULL, 0, NULL), TG_ERR_INVALID_ARG);

    /* standardise: statistics of the first set, constant feature std 1 */
    tg_dataset *a = NULL, *b = NULL;
    size_t first2[2] = {0, 1}, last2[2] = {2, 3};
    ck_assert_int_eq(tg_dataset_select(ds, first2, 2, &a), TG_OK);
    ck_assert_int_eq(tg_dataset_select(ds, last2, 2, &b), TG_OK);
    tg_dataset *sets[2] = {a, b};
    float mean[2], sd[2];
    ck_assert_int_eq(tg_dataset_standardize(sets, 2, mean, sd), TG_OK);
    ck_assert_float_eq(mean[0], 2.0f);
    ck_assert_float_eq(sd[0], 1.0f);
    ck_assert_float_eq(mean[1], 5.0f);
    ck_assert_float_eq(sd[1], 1.0f); /* std 0 -> 1 */
    tg_tensor *x = tg_dataset_to_tensor(b, 0, 2);
    const float xb[4] = {3.0f, 0.0f, 5.0f, 0.0f}; /* (5 - 2) / 1, (5 - 5) / 1, (7 - 2) / 1 */
    tgt_assert_close(tg_tensor_data(x), xb, 4, 0, 0);
    tg_ctx_reset(ctx);
    ck_assert_int_eq(tg_dataset_standardize(NULL, 1, NULL, NULL), TG_ERR_INVALID_ARG);
    tg_dataset_destroy(a);
    tg_dataset_destroy(b);
    tg_dataset_destroy(ds);

    /* target statistics (population) */
    o.task = TG_CSV_REGRESSION;
    o.target = "target";
    ck_assert_int_eq(tg_dataset_load_csv(ctx, TG_FIXTURE_DIR "/diabetes.csv", &o, &ds), TG_OK);
    double m = 0, s = 0;
    ck_assert_int_eq(tg_dataset_target_stats(ds, &m, &s, 1), TG_OK);
    ck_assert_double_eq_tol(m, 152.133484, 1e-5); /* sklearn load_diabetes().target */
    ck_assert_double_eq_tol(s, 77.005746, 1e-5);
    ck_assert_int_eq(tg_dataset_target_stats(ds, &m, &s, 2), TG_ERR_INVALID_ARG);
    tg_dataset_destroy(ds);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("csv_dataset");
    TCase *tc = tcase_create("csv_dataset");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, iris_classification);
    tcase_add_test(tc, diabetes_regression);
    tcase_add_test(tc, delimiters_and_integer_labels);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, helpers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
