/* SPDX-License-Identifier: MIT */
/* CSV tables (lib/data/csv.c, internal API): the committed Iris and
 * diabetes tables, every rule of csv.h on small texts, every error with its
 * exact message, the hard limits at their real values, the malformed corpus
 * (tests/corpus/csv), and "a failed read changes nothing and leaks
 * nothing" under a counting and a failing allocator. */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include "data/csv.h"

#include <float.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define CORPUS TG_FIXTURE_DIR "/../corpus/csv"

/* ---- a context whose allocator counts live blocks and can fail ---------- */

typedef struct counting {
    long live;
    long calls;
    long fail_at; /* the fail_at-th call fails (1-based); 0 = never */
} counting;

static void *cnt_alloc(void *opaque, size_t size)
{
    counting *c = opaque;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at)
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

/* ---- helpers -------------------------------------------------------------- */

static const char *const k_y[] = {"y"};

static tg__csv_spec spec_of(tg__csv_task task, const char *const *targets, int n)
{
    tg__csv_spec s;
    memset(&s, 0, sizeof s);
    s.task = task;
    s.targets = targets;
    s.n_targets = n;
    return s;
}

#define SPECP(task_, t_, n_) (&(tg__csv_spec){.targets = (t_), .n_targets = (n_), .task = (task_)})

static tg_status parse_str(tg_ctx *ctx, const char *text, const tg__csv_spec *sp, tg__table *out)
{
    return tg__csv_parse(ctx, text, strlen(text), "t.csv", sp, out);
}

/* Parse text (length n) and expect failure with exactly status and message;
 * the output must be untouched and every block allocated during the call
 * freed again. */
static void expect_err_n(const char *text, size_t n, const tg__csv_spec *sp, tg_status want,
                         const char *msg, int line)
{
    counting c = {0, 0, 0};
    tg_ctx *ctx = cnt_ctx(&c);
    long live0 = c.live;
    tg__table t, sentinel;
    memset(&sentinel, 0xA5, sizeof sentinel);
    t = sentinel;
    tg_status st = tg__csv_parse(ctx, text, n, "t.csv", sp, &t);
    ck_assert_msg(st == want, "line %d: status %d (%s), want %d", line, (int)st,
                  tg_ctx_last_error(ctx), (int)want);
    ck_assert_int_eq(tg_ctx_last_status(ctx), want);
    ck_assert_msg(strcmp(tg_ctx_last_error(ctx), msg) == 0, "line %d: message\n  '%s'\nwant\n  '%s'",
                  line, tg_ctx_last_error(ctx), msg);
    ck_assert_msg(memcmp(&t, &sentinel, sizeof t) == 0, "line %d: output changed", line);
    ck_assert_msg(c.live == live0, "line %d: %ld blocks leaked", line, c.live - live0);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
#define EXPECT_ERR(text, sp, st, msg) expect_err_n((text), strlen(text), (sp), (st), (msg), __LINE__)

static bool near(double a, double b) { return fabs(a - b) <= 1e-6 * fmax(1.0, fabs(b)); }

/* ---- the committed fixtures ----------------------------------------------- */

START_TEST(iris_classification)
{
    counting c = {0, 0, 0};
    tg_ctx *ctx = cnt_ctx(&c);
    const char *const tgt[] = {"species"};
    tg__csv_spec sp = spec_of(TG__CSV_CLASSIFICATION, tgt, 1);
    tg__table t;
    ck_assert_int_eq(tg__csv_read(ctx, TG_FIXTURE_DIR "/iris.csv", &sp, &t), TG_OK);
    ck_assert_uint_eq(t.n_rows, 150);
    ck_assert_int_eq(t.n_features, 4);
    ck_assert_int_eq(t.task, TG__CSV_CLASSIFICATION);
    ck_assert_ptr_null(t.targets);
    static const char *const fn[] = {"sepal_length", "sepal_width", "petal_length", "petal_width"};
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(t.feature_names[i], fn[i]);
    ck_assert_int_eq(t.n_targets, 1);
    ck_assert_str_eq(t.target_names[0], "species");
    ck_assert_int_eq(t.n_classes, 3);
    ck_assert_str_eq(t.class_names[0], "setosa");
    ck_assert_str_eq(t.class_names[1], "versicolor");
    ck_assert_str_eq(t.class_names[2], "virginica");
    int count[3] = {0, 0, 0};
    double sum[4] = {0, 0, 0, 0};
    for (size_t r = 0; r < 150; r++) {
        ck_assert_int_eq(t.labels[r], (int)(r / 50)); /* the table is sorted by species */
        count[t.labels[r]]++;
        for (int j = 0; j < 4; j++)
            sum[j] += t.features[r * 4 + (size_t)j];
    }
    ck_assert_int_eq(count[0], 50);
    ck_assert_int_eq(count[1], 50);
    ck_assert_int_eq(count[2], 50);
    static const float row0[4] = {5.1f, 3.5f, 1.4f, 0.2f}, last[4] = {5.9f, 3.0f, 5.1f, 1.8f};
    for (int j = 0; j < 4; j++) {
        ck_assert_float_eq(t.features[j], row0[j]);
        ck_assert_float_eq(t.features[149 * 4 + j], last[j]);
    }
    /* column sums of Fisher's table */
    ck_assert(fabs(sum[0] - 876.5) < 1e-3);
    ck_assert(fabs(sum[1] - 458.6) < 1e-3);
    ck_assert(fabs(sum[2] - 563.7) < 1e-3);
    ck_assert(fabs(sum[3] - 179.9) < 1e-3);
    tg__table_free(ctx, &t);
    ck_assert_ptr_null(t.features);
    tg__table_free(ctx, &t); /* a zeroed table is a no-op */
    tg__table_free(ctx, NULL);
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(diabetes_regression)
{
    tg_ctx *ctx = tgt_ctx(1);
    const char *const tgt[] = {"target"};
    tg__csv_spec sp = spec_of(TG__CSV_REGRESSION, tgt, 1);
    tg__table t;
    ck_assert_int_eq(tg__csv_read(ctx, TG_FIXTURE_DIR "/diabetes.csv", &sp, &t), TG_OK);
    ck_assert_uint_eq(t.n_rows, 442);
    ck_assert_int_eq(t.n_features, 10);
    ck_assert_int_eq(t.n_classes, 0);
    ck_assert_ptr_null(t.labels);
    ck_assert_ptr_null(t.class_names);
    ck_assert_str_eq(t.feature_names[0], "age");
    ck_assert_str_eq(t.feature_names[9], "s6");
    ck_assert_str_eq(t.target_names[0], "target");
    static const float row0[10] = {59, 2, 32.1f, 101.0f, 157, 93.2f, 38.0f, 4.0f, 4.8598f, 87};
    for (int j = 0; j < 10; j++)
        ck_assert_float_eq(t.features[j], row0[j]);
    ck_assert_float_eq(t.targets[0], 151.0f);
    ck_assert_float_eq(t.targets[1], 75.0f);
    double mean = 0, bmi = 0;
    for (size_t r = 0; r < 442; r++) {
        mean += t.targets[r];
        bmi += t.features[r * 10 + 2];
    }
    mean /= 442;
    ck_assert(fabs(mean - 152.13348416) < 1e-6);
    ck_assert(fabs(bmi - 11658.1) < 1e-2);
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- rules ---------------------------------------------------------------- */

START_TEST(integer_labels_sorted_by_value)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg__csv_spec sp = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    tg__table t;
    ck_assert_int_eq(parse_str(ctx, "a,y\n1,2\n3,0\n5,10\n7,2\n", &sp, &t), TG_OK);
    ck_assert_int_eq(t.n_classes, 3);
    ck_assert_str_eq(t.class_names[0], "0");
    ck_assert_str_eq(t.class_names[1], "2");
    ck_assert_str_eq(t.class_names[2], "10"); /* by value, not "10" < "2" */
    static const int32_t want[4] = {1, 0, 2, 1};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(t.labels[i], want[i]);
    tg__table_free(ctx, &t);
    /* labels 0..K-1 keep their values */
    ck_assert_int_eq(parse_str(ctx, "a,y\n1,2\n3,0\n5,1\n", &sp, &t), TG_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(t.labels[i], i == 0 ? 2 : i - 1);
    tg__table_free(ctx, &t);
    /* equal values, different text: two classes, ordered by bytes */
    ck_assert_int_eq(parse_str(ctx, "a,y\n1,1.0\n2,1\n3,-0.5\n", &sp, &t), TG_OK);
    ck_assert_int_eq(t.n_classes, 3);
    ck_assert_str_eq(t.class_names[0], "-0.5");
    ck_assert_str_eq(t.class_names[1], "1");
    ck_assert_str_eq(t.class_names[2], "1.0");
    tg__table_free(ctx, &t);
    /* one non-number: everything by bytes */
    ck_assert_int_eq(parse_str(ctx, "a,y\n1,b\n2,10\n3,a\n4,2\n", &sp, &t), TG_OK);
    ck_assert_int_eq(t.n_classes, 4);
    static const char *const byb[4] = {"10", "2", "a", "b"};
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(t.class_names[i], byb[i]);
    ck_assert_int_eq(t.labels[0], 3);
    ck_assert_int_eq(t.labels[1], 0);
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(multi_target_regression_and_ignore)
{
    tg_ctx *ctx = tgt_ctx(1);
    const char *const tg2[] = {"y1", "y2"};
    const char *const ign[] = {"id", "note"};
    tg__csv_spec sp = spec_of(TG__CSV_REGRESSION, tg2, 2);
    sp.ignore = ign;
    sp.n_ignore = 2;
    tg__table t;
    ck_assert_int_eq(parse_str(ctx,
                               "id,x1,y2,note,x2,y1\n"
                               "abc,1,2,,3,4\n"
                               ",5,-6e-1,\"x\"\"y\",7,8.25\n",
                               &sp, &t),
                     TG_OK);
    ck_assert_uint_eq(t.n_rows, 2);
    ck_assert_int_eq(t.n_features, 2);
    ck_assert_str_eq(t.feature_names[0], "x1");
    ck_assert_str_eq(t.feature_names[1], "x2");
    ck_assert_int_eq(t.n_targets, 2);
    ck_assert_str_eq(t.target_names[0], "y1"); /* spec order, not file order */
    ck_assert_str_eq(t.target_names[1], "y2");
    static const float f[4] = {1, 3, 5, 7}, y[4] = {4, 2, 8.25f, -0.6f};
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(t.features[i], f[i]);
        ck_assert_float_eq(t.targets[i], y[i]);
    }
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(quoting_crlf_bom_blank_tail)
{
    tg_ctx *ctx = tgt_ctx(1);
    const char *const tgt[] = {"say \"hi\""};
    tg__csv_spec sp = spec_of(TG__CSV_CLASSIFICATION, tgt, 1);
    tg__table t;
    /* BOM, quoted header names with a comma and doubled quotes, CRLF,
     * spaces around fields, quoted numbers, a label with a comma, CRLF and
     * LF inside quotes, blank lines at the end, no line end after them */
    const char *text = "\xEF\xBB\xBF\"a,b\", \"say \"\"hi\"\"\" ,c\r\n"
                       " \"1.5\" , \"x, y\" , 2 \r\n"
                       "3,\"multi\r\nline\nlabel\",-4\r\n"
                       "5 ,\"x, y\",\t6\r\n"
                       "\r\n  \n\r\n \t";
    ck_assert_int_eq(parse_str(ctx, text, &sp, &t), TG_OK);
    ck_assert_uint_eq(t.n_rows, 3);
    ck_assert_int_eq(t.n_features, 2);
    ck_assert_str_eq(t.feature_names[0], "a,b");
    ck_assert_str_eq(t.feature_names[1], "c");
    ck_assert_str_eq(t.target_names[0], "say \"hi\"");
    ck_assert_int_eq(t.n_classes, 2);
    ck_assert_str_eq(t.class_names[0], "multi\r\nline\nlabel");
    ck_assert_str_eq(t.class_names[1], "x, y");
    static const float f[6] = {1.5f, 2, 3, -4, 5, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(t.features[i], f[i]);
    ck_assert_int_eq(t.labels[0], 1);
    ck_assert_int_eq(t.labels[1], 0);
    ck_assert_int_eq(t.labels[2], 1);
    tg__table_free(ctx, &t);
    /* no line end at all after the last record */
    ck_assert_int_eq(parse_str(ctx, "a,y\r\n1,2", SPECP(TG__CSV_REGRESSION, k_y, 1), &t),
                     TG_OK);
    ck_assert_uint_eq(t.n_rows, 1);
    ck_assert_float_eq(t.targets[0], 2.0f);
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(other_delimiters)
{
    tg_ctx *ctx = tgt_ctx(1);
    static const char delims[3] = {';', '\t', '|'};
    static const char *const texts[3] = {"a;b;y\n1,5;2;x\n", "a\tb\ty\n 1 \t\"2\"\tx\n",
                                         "a|b|y\n1|2|x\n"};
    for (int i = 0; i < 3; i++) {
        tg__csv_spec sp = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
        sp.delimiter = delims[i];
        tg__table t;
        tg_status st = parse_str(ctx, texts[i], &sp, &t);
        if (i == 0) { /* "1,5" is not a number: no decimal commas */
            ck_assert_int_eq(st, TG_ERR_FORMAT);
            ck_assert_str_eq(tg_ctx_last_error(ctx),
                             "t.csv:2:1: '1,5' is not a number (column \"a\")");
            continue;
        }
        ck_assert_int_eq(st, TG_OK);
        ck_assert_int_eq(t.n_features, 2);
        ck_assert_float_eq(t.features[0], 1.0f);
        ck_assert_float_eq(t.features[1], 2.0f);
        tg__table_free(ctx, &t);
    }
    /* an empty tab-delimited field is a field, not a blank */
    tg__csv_spec sp = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    sp.delimiter = '\t';
    EXPECT_ERR("a\ty\n\tx\n", &sp, TG_ERR_FORMAT, "t.csv:2:1: empty cell (column \"a\")");
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- numbers -------------------------------------------------------------- */

START_TEST(number_syntax)
{
    static const struct {
        const char *s;
        double v;
    } ok[] = {
        {"0", 0},       {"1", 1},           {"-1.5", -1.5},     {"+2", 2},
        {".5", .5},     {"5.", 5},          {"1e5", 1e5},       {"1E-5", 1e-5},
        {"1.5e+3", 1.5e3}, {"007", 7},      {"0.1", 0.1},       {"-0", -0.0},
        {"3.4028234e38", 3.4028234e38},     {"1e-400", 0},      {"1e400", HUGE_VAL},
        {"123456789012345678901234567890", 123456789012345678901234567890.0},
        {"0.000000000000000000000000000001", 1e-30},
        {"9007199254740993", 9007199254740993.0},
        {"4.8598", 4.8598},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double d = -42;
        ck_assert_msg(tg__csv_parse_double(ok[i].s, strlen(ok[i].s), &d) == 0, "%s", ok[i].s);
        ck_assert_msg(d == ok[i].v || near(d, ok[i].v), "%s -> %.17g", ok[i].s, d);
        ck_assert_msg((float)d == (float)strtod(ok[i].s, NULL), "%s: float differs", ok[i].s);
    }
    static const char *const bad[] = {"",    "e5",  ".",   "1e",   "1e+",      "0x10", "inf",
                                      "-inf", "nan", "NaN", "1_0",  "1 0",      "--1",  "1.2.3",
                                      "Infinity", "1e5.5", "+", "-", "1,5", "１", "1d5", " 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double d = -42;
        ck_assert_msg(tg__csv_parse_double(bad[i], strlen(bad[i]), &d) == -1, "'%s' accepted",
                      bad[i]);
        ck_assert(d == -42);
    }
}
END_TEST

/* Random numbers against strtod (the test runs in the "C" locale): exact
 * for the fast-path shapes, within 1 float ulp (and a few double ulps)
 * otherwise. */
START_TEST(number_vs_strtod)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int exact = 0;
    for (int it = 0; it < 200000; it++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        char buf[64];
        int nd = 1 + (int)(s % 22), point = (int)((s >> 8) % (unsigned)(nd + 1));
        int k = 0;
        if ((s >> 16) & 1)
            buf[k++] = '-';
        uint64_t r = s;
        for (int i = 0; i < nd; i++) {
            if (i == point && i)
                buf[k++] = '.';
            buf[k++] = (char)('0' + (r % 10));
            r = r / 10 ? r / 10 : s >> 3;
        }
        int e = (int)((s >> 24) % 80) - 40;
        if ((s >> 32) & 1)
            k += snprintf(buf + k, sizeof buf - (size_t)k, "e%d", e);
        buf[k] = '\0';
        double got, want = strtod(buf, NULL);
        ck_assert_msg(tg__csv_parse_double(buf, (size_t)k, &got) == 0, "%s", buf);
        float gf = (float)got, wf = (float)want;
        if (gf == wf) {
            exact++;
        } else {
            ck_assert_msg(nextafterf(wf, gf) == gf, "%s: %.9g vs %.9g", buf, gf, wf);
        }
        ck_assert_msg(fabs(got - want) <= 8 * DBL_EPSILON * fabs(want), "%s: %.17g vs %.17g",
                      buf, got, want);
    }
    ck_assert_int_ge(exact, 199900);
}
END_TEST

START_TEST(locale_independent)
{
    /* Where a comma-decimal locale is installed, strtod would read "1.5"
     * as 1; our parser never looks at the locale. */
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; i < 4 && !set; i++)
        set = setlocale(LC_NUMERIC, names[i]);
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    tg__csv_spec sp = spec_of(TG__CSV_REGRESSION, k_y, 1);
    ck_assert_int_eq(parse_str(ctx, "a,y\n1.5,2.25\n", &sp, &t), TG_OK);
    ck_assert_float_eq(t.features[0], 1.5f);
    ck_assert_float_eq(t.targets[0], 2.25f);
    tg__table_free(ctx, &t);
    setlocale(LC_NUMERIC, "C");
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(float_range_edge)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    tg__csv_spec reg = spec_of(TG__CSV_REGRESSION, k_y, 1);
    /* just below the midpoint between FLT_MAX and 2^128: rounds to FLT_MAX */
    ck_assert_int_eq(parse_str(ctx, "a,y\n3.4028235e38,-3.40282356e38\n1e-50,-0\n", &reg, &t),
                     TG_OK);
    ck_assert_float_eq(t.features[0], FLT_MAX);
    ck_assert_float_eq(t.targets[0], -FLT_MAX);
    ck_assert_float_eq(t.features[1], 0.0f);
    ck_assert_float_eq(t.targets[1], 0.0f);
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
    EXPECT_ERR("a,y\n3.4028236e38,1\n", &reg, TG_ERR_FORMAT,
               "t.csv:2:1: '3.4028236e38' is outside the float range (column \"a\")");
    EXPECT_ERR("a,y\n1,-1e400\n", &reg, TG_ERR_FORMAT,
               "t.csv:2:2: '-1e400' is outside the float range (column \"y\")");
}
END_TEST

/* ---- errors, each with its exact message ----------------------------------- */

START_TEST(format_errors)
{
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    tg__csv_spec reg = spec_of(TG__CSV_REGRESSION, k_y, 1);
    const tg_status F = TG_ERR_FORMAT;
    EXPECT_ERR("", &cls, F, "t.csv: empty file (a header row is required)");
    EXPECT_ERR(" \r\n\n", &cls, F, "t.csv: empty file (a header row is required)");
    EXPECT_ERR("\na,y\n1,2\n", &cls, F, "t.csv:1: empty header row");
    expect_err_n("a,y\n1,x\n2,\0\n", 11, &cls, F, "t.csv:3: contains a NUL byte", __LINE__);
    EXPECT_ERR("a,y\n", &cls, F, "t.csv: no data rows (only a header)");
    EXPECT_ERR("a,y\n\n\n", &cls, F, "t.csv: no data rows (only a header)");
    EXPECT_ERR("a,y\n1,2\n3\n", &cls, F, "t.csv:3: 1 fields, expected 2 (as in the header)");
    EXPECT_ERR("a,y\n1,2,3\n", &cls, F, "t.csv:2: 3 fields, expected 2 (as in the header)");
    EXPECT_ERR("a,y\n1,2,\n", &cls, F, "t.csv:2: 3 fields, expected 2 (as in the header)");
    EXPECT_ERR("sepal_length,y\n5.1,a\nabc,b\n", &cls, F,
               "t.csv:3:1: 'abc' is not a number (column \"sepal_length\")");
    EXPECT_ERR("a,b,y\n1,\"2\"\"\",x\n", &cls, F, "t.csv:2:2: '2\"' is not a number (column \"b\")");
    EXPECT_ERR("a,y\n,x\n", &cls, F, "t.csv:2:1: empty cell (column \"a\")");
    EXPECT_ERR("a,y\n  ,x\n", &cls, F, "t.csv:2:1: empty cell (column \"a\")");
    EXPECT_ERR("a,y\n1,\n", &cls, F, "t.csv:2:2: empty cell (column \"y\")");
    EXPECT_ERR("a,y\n1,\"\"\n", &cls, F, "t.csv:2:2: empty cell (column \"y\")");
    EXPECT_ERR("a,y\n1,\n", &reg, F, "t.csv:2:2: empty cell (column \"y\")");
    EXPECT_ERR("a,y\ninf,x\n", &cls, F, "t.csv:2:1: 'inf' is not a number (column \"a\")");
    EXPECT_ERR("a,y\nNaN,x\n", &cls, F, "t.csv:2:1: 'NaN' is not a number (column \"a\")");
    EXPECT_ERR("a,y\n1e39,x\n", &cls, F, "t.csv:2:1: '1e39' is outside the float range (column \"a\")");
    EXPECT_ERR("a,y\n-4e38,x\n", &cls, F,
               "t.csv:2:1: '-4e38' is outside the float range (column \"a\")");
    EXPECT_ERR("a,y\n1,x\n", &reg, F, "t.csv:2:2: 'x' is not a number (column \"y\")");
    EXPECT_ERR("a,y\n1,\"abc\n", &cls, F, "t.csv:2:2: unterminated quoted field");
    EXPECT_ERR("a,y\n1,\"ab\"c\n", &cls, F, "t.csv:2:2: unexpected 'c' after a closing quote");
    EXPECT_ERR("a,y\n1,\"ab\" \"c\"\n", &cls, F,
               "t.csv:2:2: unexpected '\"' after a closing quote");
    EXPECT_ERR("a,y\n1,ab\"c\n", &cls, F,
               "t.csv:2:2: '\"' inside an unquoted field (quote the field and double the quote)");
    EXPECT_ERR("a,y\r1,2\n", &cls, F, "t.csv:1: carriage return not followed by a line feed");
    EXPECT_ERR("a,y\n1,2\r", &cls, F, "t.csv:2: carriage return not followed by a line feed");
    EXPECT_ERR("a,y\n1,2\n\n3,4\n", &cls, F,
               "t.csv:3: empty line inside the table (only trailing empty lines are allowed)");
    EXPECT_ERR("a,y\n1,2\n \t \n3,4\n", &cls, F,
               "t.csv:3: empty line inside the table (only trailing empty lines are allowed)");
    EXPECT_ERR("a,,y\n1,2,3\n", &cls, F, "t.csv:1:2: empty column name");
    EXPECT_ERR("a,\"\",y\n1,2,3\n", &cls, F, "t.csv:1:2: empty column name");
    EXPECT_ERR("a,b,a,y\n1,2,3,4\n", &cls, F, "t.csv:1:3: duplicate column name \"a\" (also column 1)");
    EXPECT_ERR("y\n1\n", &cls, F, "t.csv: no feature columns (every column is a target or ignored)");
    /* a quoted field spanning lines: later lines are counted right */
    EXPECT_ERR("a,y\n1,\"x\ny\"\n\"2\",\"p\r\nq\"\nbad,z\n", &cls, F,
               "t.csv:6:1: 'bad' is not a number (column \"a\")");
    EXPECT_ERR("a,y\n1,\"x\ny\nz\" q\n", &cls, F, "t.csv:4:2: unexpected 'q' after a closing quote");
    /* long and unprintable cells are shortened in messages */
    EXPECT_ERR("a,y\nabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz,x\n", &cls, F,
               "t.csv:2:1: 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqr...' is not a number "
               "(column \"a\")");
    EXPECT_ERR("a,y\n\"1\x01\n\",x\n", &cls, F, "t.csv:2:1: '1?\?' is not a number (column \"a\")");
}
END_TEST

START_TEST(spec_and_lookup_errors)
{
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    const char *text = "a,y\n1,2\n";
    const char *const sp2[] = {"species"};
    tg__csv_spec miss = spec_of(TG__CSV_CLASSIFICATION, sp2, 1);
    EXPECT_ERR(text, &miss, TG_ERR_NOT_FOUND,
               "t.csv: no target column \"species\"; the header has \"a\", \"y\"");
    const char *const ign[] = {"id"};
    tg__csv_spec ig = cls;
    ig.ignore = ign;
    ig.n_ignore = 1;
    EXPECT_ERR(text, &ig, TG_ERR_NOT_FOUND,
               "t.csv: no ignored column \"id\"; the header has \"a\", \"y\"");
    /* a long header list is cut */
    char hdr[4000];
    size_t k = 0;
    for (int i = 0; i < 60; i++)
        k += (size_t)snprintf(hdr + k, sizeof hdr - k, "column%02d,", i);
    snprintf(hdr + k, sizeof hdr - k, "y\n");
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    ck_assert_int_eq(parse_str(ctx, hdr, &miss, &t), TG_ERR_NOT_FOUND);
    const char *m = tg_ctx_last_error(ctx);
    ck_assert_msg(strncmp(m, "t.csv: no target column \"species\"; the header has \"column00\", "
                             "\"column01\"", 71) == 0, "%s", m);
    ck_assert_msg(strcmp(m + strlen(m) - 4, " ...") == 0, "%s", m);

    const tg_status A = TG_ERR_INVALID_ARG;
    const char *const two[] = {"a", "y"};
    EXPECT_ERR(text, SPECP(TG__CSV_CLASSIFICATION, two, 2), A,
               "csv: classification takes exactly one target column, got 2");
    EXPECT_ERR(text, SPECP(TG__CSV_REGRESSION, two, 0), A, "csv: no target column given");
    EXPECT_ERR(text, SPECP(TG__CSV_REGRESSION, NULL, 1), A, "csv: no target column given");
    EXPECT_ERR(text, SPECP((tg__csv_task)7, two, 1), A, "csv: unknown task 7");
    const char *const dup[] = {"y", "y"};
    EXPECT_ERR(text, SPECP(TG__CSV_REGRESSION, dup, 2), A,
               "csv: column \"y\" named twice in the target and ignore lists");
    const char *const yig[] = {"y"};
    tg__csv_spec both = cls;
    both.ignore = yig;
    both.n_ignore = 1;
    EXPECT_ERR(text, &both, A, "csv: column \"y\" named twice in the target and ignore lists");
    const char *const nul[] = {NULL};
    EXPECT_ERR(text, SPECP(TG__CSV_REGRESSION, nul, 1), A, "csv: NULL column name");
    tg__csv_spec dl = cls;
    dl.delimiter = ' ';
    EXPECT_ERR(text, &dl, A, "csv: delimiter 0x20 not supported (use ',', ';', '\\t' or '|')");
    dl.delimiter = '"';
    EXPECT_ERR(text, &dl, A, "csv: delimiter 0x22 not supported (use ',', ';', '\\t' or '|')");
    tg__csv_spec ni = cls;
    ni.n_ignore = 2;
    EXPECT_ERR(text, &ni, A, "csv: bad number of target or ignored columns");
    ni.n_ignore = -1;
    EXPECT_ERR(text, &ni, A, "csv: bad number of target or ignored columns");
    EXPECT_ERR(text, NULL, A, "csv: NULL argument");
    ck_assert_int_eq(tg__csv_parse(ctx, text, strlen(text), "t.csv", &cls, NULL), A);
    ck_assert_int_eq(tg__csv_parse(NULL, text, strlen(text), "t.csv", &cls, &t), A);
    ck_assert_int_eq(tg__csv_parse(ctx, NULL, 3, "t.csv", &cls, &t), A);
    ck_assert_int_eq(tg__csv_read(ctx, NULL, &cls, &t), A);
    ck_assert_int_eq(tg__csv_read(ctx, TG_FIXTURE_DIR "/iris.csv", NULL, &t), A);
    /* no source name */
    ck_assert_int_eq(tg__csv_parse(ctx, "a,y\n", 4, NULL, &cls, &t), TG_ERR_FORMAT);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "<csv>: no data rows (only a header)");
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(io_errors)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    tg__table t, sentinel;
    memset(&sentinel, 0x5A, sizeof sentinel);
    t = sentinel;
    ck_assert_int_eq(tg__csv_read(ctx, "/nonexistent/x.csv", &cls, &t), TG_ERR_IO);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     "csv: cannot open '/nonexistent/x.csv': No such file or directory");
    ck_assert_int_eq(tg__csv_read(ctx, TG_FIXTURE_DIR, &cls, &t), TG_ERR_IO);
    ck_assert_str_eq(tg_ctx_last_error(ctx), "csv: '" TG_FIXTURE_DIR "' is not a regular file");
    ck_assert(memcmp(&t, &sentinel, sizeof t) == 0);
    /* a file error names the path; line numbers follow it */
    ck_assert_int_eq(tg__csv_read(ctx, CORPUS "/bad-number.csv", &cls, &t), TG_ERR_FORMAT);
    ck_assert_str_eq(tg_ctx_last_error(ctx),
                     CORPUS "/bad-number.csv:3:2: 'abc' is not a number (column \"b\")");
    ck_assert(memcmp(&t, &sentinel, sizeof t) == 0);
    tg_ctx_destroy(ctx);
}
END_TEST

/* ---- hard limits at their real values ---------------------------------------- */

static char *header_of(int n_cols, size_t *len)
{
    size_t cap = (size_t)n_cols * 8 + 64;
    char *s = malloc(cap);
    size_t k = 0;
    for (int i = 0; i < n_cols - 1; i++)
        k += (size_t)snprintf(s + k, cap - k, "c%d,", i);
    k += (size_t)snprintf(s + k, cap - k, "y\n");
    *len = k;
    return s;
}

START_TEST(limit_columns)
{
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    size_t n;
    char *h = header_of(TG_CSV_MAX_COLUMNS + 1, &n);
    expect_err_n(h, n, &cls, TG_ERR_LIMIT, "t.csv:1: more than 4096 columns (TG_CSV_MAX_COLUMNS)",
                 __LINE__);
    free(h);
    /* exactly 4096: one row of 4095 features */
    h = header_of(TG_CSV_MAX_COLUMNS, &n);
    size_t cap = n + 2 * TG_CSV_MAX_COLUMNS + 8;
    h = realloc(h, cap);
    for (int i = 0; i < TG_CSV_MAX_COLUMNS - 1; i++) {
        memcpy(h + n, "7,", 2);
        n += 2;
    }
    memcpy(h + n, "x\n", 2);
    n += 2;
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    ck_assert_int_eq(tg__csv_parse(ctx, h, n, "t.csv", &cls, &t), TG_OK);
    ck_assert_int_eq(t.n_features, TG_CSV_MAX_COLUMNS - 1);
    ck_assert_float_eq(t.features[TG_CSV_MAX_COLUMNS - 2], 7.0f);
    ck_assert_str_eq(t.feature_names[4094], "c4094");
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
    free(h);
}
END_TEST

START_TEST(limit_field_bytes)
{
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    size_t cap = 3 * TG_CSV_MAX_FIELD_BYTES + 64;
    char *s = malloc(cap);
    /* a 4096-byte class name (quoted, with doubled quotes: 4097 raw bytes
     * inside the quotes are 4096 after unquoting) is fine */
    size_t k = (size_t)snprintf(s, cap, "a,y\n1,\"\"\"");
    memset(s + k, 'q', TG_CSV_MAX_FIELD_BYTES - 1);
    k += TG_CSV_MAX_FIELD_BYTES - 1;
    memcpy(s + k, "\"\n", 2);
    k += 2;
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    ck_assert_int_eq(tg__csv_parse(ctx, s, k, "t.csv", &cls, &t), TG_OK);
    ck_assert_uint_eq(strlen(t.class_names[0]), TG_CSV_MAX_FIELD_BYTES);
    ck_assert_int_eq(t.class_names[0][0], '"');
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
    /* 4097 bytes, unquoted and quoted */
    k = (size_t)snprintf(s, cap, "a,y\n1,");
    memset(s + k, 'q', TG_CSV_MAX_FIELD_BYTES + 1);
    k += TG_CSV_MAX_FIELD_BYTES + 1;
    s[k++] = '\n';
    expect_err_n(s, k, &cls, TG_ERR_LIMIT,
                 "t.csv:2:2: field longer than 4096 bytes (TG_CSV_MAX_FIELD_BYTES)", __LINE__);
    k = (size_t)snprintf(s, cap, "a,y\n\"");
    memset(s + k, '1', TG_CSV_MAX_FIELD_BYTES + 1);
    k += TG_CSV_MAX_FIELD_BYTES + 1;
    memcpy(s + k, "\",x\n", 4);
    k += 4;
    expect_err_n(s, k, &cls, TG_ERR_LIMIT,
                 "t.csv:2:1: field longer than 4096 bytes (TG_CSV_MAX_FIELD_BYTES)", __LINE__);
    free(s);
}
END_TEST

START_TEST(limit_classes)
{
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    size_t cap = (size_t)(TG_CSV_MAX_CLASSES + 1) * 12 + 16;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "a,y\n");
    for (int i = 0; i < TG_CSV_MAX_CLASSES; i++)
        k += (size_t)snprintf(s + k, cap - k, "1,c%d\n", i);
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    ck_assert_int_eq(tg__csv_parse(ctx, s, k, "t.csv", &cls, &t), TG_OK);
    ck_assert_int_eq(t.n_classes, TG_CSV_MAX_CLASSES);
    ck_assert_str_eq(t.class_names[0], "c0");
    ck_assert_str_eq(t.class_names[1], "c1");
    ck_assert_str_eq(t.class_names[2], "c10");
    ck_assert_str_eq(t.class_names[TG_CSV_MAX_CLASSES - 1], "c9999");
    ck_assert_str_eq(t.class_names[t.labels[12345]], "c12345");
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
    k += (size_t)snprintf(s + k, cap - k, "1,c0\n1,another\n");
    expect_err_n(s, k, &cls, TG_ERR_LIMIT,
                 "t.csv:65539:2: more than 65536 classes in column \"y\" (TG_CSV_MAX_CLASSES)",
                 __LINE__);
    free(s);
}
END_TEST

START_TEST(limit_rows)
{
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    size_t rows = (size_t)TG_CSV_MAX_ROWS + 1, n = 4 + rows * 4;
    char *s = malloc(n);
    memcpy(s, "a,y\n", 4);
    for (size_t r = 0; r < rows; r++)
        memcpy(s + 4 + r * 4, "1,2\n", 4);
    expect_err_n(s, n, &cls, TG_ERR_LIMIT, "t.csv:10000002: more than 10000000 rows (TG_CSV_MAX_ROWS)",
                 __LINE__);
    free(s);
}
END_TEST

START_TEST(limit_file_bytes)
{
    /* a sparse file one byte over 1 GiB: refused from its size alone */
    char path[] = "/tmp/tg_csv_big_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)TG_CSV_MAX_FILE_BYTES + 1), 0);
    close(fd);
    counting c = {0, 0, 0};
    tg_ctx *ctx = cnt_ctx(&c);
    long live0 = c.live, calls0 = c.calls;
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    tg__table t;
    ck_assert_int_eq(tg__csv_read(ctx, path, &cls, &t), TG_ERR_LIMIT);
    char want[256];
    snprintf(want, sizeof want, "%s: larger than 1073741824 bytes (TG_CSV_MAX_FILE_BYTES)", path);
    ck_assert_str_eq(tg_ctx_last_error(ctx), want);
    ck_assert_int_eq(c.calls, calls0); /* nothing allocated */
    ck_assert_int_eq(c.live, live0);
    unlink(path);
    tg_ctx_destroy(ctx);
}
END_TEST

/* The other limits through tg__csv_limits (the real ones would need
 * gigabytes). */
START_TEST(limit_overrides)
{
    tg__csv_limits lim = {0};
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    cls.limits = &lim;
    const char *text = "a,b,y\n1,2,x\n3,4,y\n5,6,z\n";
    lim.values = 5;
    EXPECT_ERR(text, &cls, TG_ERR_LIMIT, "t.csv: 3 rows x 2 values is over 5 values (TG_CSV_MAX_VALUES)");
    lim.values = 6;
    tg_ctx *ctx = tgt_ctx(1);
    tg__table t;
    ck_assert_int_eq(parse_str(ctx, text, &cls, &t), TG_OK);
    tg__table_free(ctx, &t);
    lim = (tg__csv_limits){0};
    lim.rows = 2;
    EXPECT_ERR(text, &cls, TG_ERR_LIMIT, "t.csv:4: more than 2 rows (TG_CSV_MAX_ROWS)");
    lim = (tg__csv_limits){0};
    lim.file_bytes = 10;
    EXPECT_ERR(text, &cls, TG_ERR_LIMIT, "t.csv: larger than 10 bytes (TG_CSV_MAX_FILE_BYTES)");
    lim = (tg__csv_limits){0};
    lim.columns = 2;
    EXPECT_ERR(text, &cls, TG_ERR_LIMIT, "t.csv:1: more than 2 columns (TG_CSV_MAX_COLUMNS)");
    lim = (tg__csv_limits){0};
    lim.classes = 2;
    EXPECT_ERR(text, &cls, TG_ERR_LIMIT,
               "t.csv:4:3: more than 2 classes in column \"y\" (TG_CSV_MAX_CLASSES)");
    lim = (tg__csv_limits){0};
    lim.field_bytes = 1;
    EXPECT_ERR("a,y\n1,xx\n", &cls, TG_ERR_LIMIT,
               "t.csv:2:2: field longer than 1 bytes (TG_CSV_MAX_FIELD_BYTES)");
    /* a limit above the default is clamped to it */
    lim = (tg__csv_limits){0};
    lim.columns = (size_t)TG_CSV_MAX_COLUMNS * 2;
    size_t n;
    char *h = header_of(TG_CSV_MAX_COLUMNS + 1, &n);
    expect_err_n(h, n, &cls, TG_ERR_LIMIT, "t.csv:1: more than 4096 columns (TG_CSV_MAX_COLUMNS)",
                 __LINE__);
    free(h);
    tg_ctx_destroy(ctx);
}
END_TEST

/* Every allocation of a successful parse, failed in turn: TG_ERR_NOMEM,
 * output untouched, nothing leaked. */
START_TEST(nomem_every_allocation)
{
    const char *text = "id,a,\"b\",y\nz,1,2,cat\nw,3,4,dog\nv,5,6,cat\n";
    const char *const ign[] = {"id"};
    tg__csv_spec cls = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    cls.ignore = ign;
    cls.n_ignore = 1;
    counting c = {0, 0, 0};
    tg_ctx *ctx = cnt_ctx(&c);
    long calls0 = c.calls, live0 = c.live;
    tg__table t;
    ck_assert_int_eq(parse_str(ctx, text, &cls, &t), TG_OK);
    long n_allocs = c.calls - calls0;
    ck_assert_int_ge(n_allocs, 8);
    tg__table_free(ctx, &t);
    ck_assert_int_eq(c.live, live0);
    for (long i = 1; i <= n_allocs; i++) {
        tg__table sentinel;
        memset(&sentinel, 0x3C, sizeof sentinel);
        t = sentinel;
        c.fail_at = c.calls + i;
        ck_assert_int_eq(parse_str(ctx, text, &cls, &t), TG_ERR_NOMEM);
        ck_assert_str_eq(tg_ctx_last_error(ctx), "csv: out of memory");
        ck_assert(memcmp(&t, &sentinel, sizeof t) == 0);
        ck_assert_int_eq(c.live, live0);
    }
    c.fail_at = 0;
    tg_ctx_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

/* ---- malformed corpus (tests/corpus/csv, MANIFEST) ------------------------- */

typedef struct corpus_case {
    const char *file;
    tg__csv_task task;
    tg_status status;
    const char *msg; /* after "<path>" */
} corpus_case;

static const corpus_case corpus_cases[] = {
    {"empty.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, ": empty file (a header row is required)"},
    {"header-only.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, ": no data rows (only a header)"},
    {"bad-number.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":3:2: 'abc' is not a number (column \"b\")"},
    {"empty-cell.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, ":2:1: empty cell (column \"a\")"},
    {"inf.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, ":2:1: 'inf' is not a number (column \"a\")"},
    {"nan.csv", TG__CSV_REGRESSION, TG_ERR_FORMAT, ":2:3: 'nan' is not a number (column \"y\")"},
    {"huge-number.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":2:2: '1e39' is outside the float range (column \"b\")"},
    {"decimal-comma.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":2:1: '1,5' is not a number (column \"a\")"},
    {"ragged.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":3: 2 fields, expected 3 (as in the header)"},
    {"unterminated-quote.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":2:3: unterminated quoted field"},
    {"junk-after-quote.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":2:3: unexpected 'x' after a closing quote"},
    {"stray-quote.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":2:3: '\"' inside an unquoted field (quote the field and double the quote)"},
    {"bare-cr.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":1: carriage return not followed by a line feed"},
    {"nul.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, ":2: contains a NUL byte"},
    {"blank-line-inside.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":3: empty line inside the table (only trailing empty lines are allowed)"},
    {"duplicate-header.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ":1:2: duplicate column name \"a\" (also column 1)"},
    {"empty-header-name.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, ":1:2: empty column name"},
    {"no-target.csv", TG__CSV_CLASSIFICATION, TG_ERR_NOT_FOUND, NULL},
    {"only-target.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT,
     ": no feature columns (every column is a target or ignored)"},
    {"too-many-columns.csv", TG__CSV_CLASSIFICATION, TG_ERR_LIMIT,
     ":1: more than 4096 columns (TG_CSV_MAX_COLUMNS)"},
    {"long-field.csv", TG__CSV_CLASSIFICATION, TG_ERR_LIMIT,
     ":2:3: field longer than 4096 bytes (TG_CSV_MAX_FIELD_BYTES)"},
    {"binary.csv", TG__CSV_CLASSIFICATION, TG_ERR_FORMAT, NULL},
    {"no-such-file.csv", TG__CSV_CLASSIFICATION, TG_ERR_IO, NULL},
};

START_TEST(corpus_malformed)
{
    const corpus_case *cc = &corpus_cases[_i];
    char path[512], want[1024];
    snprintf(path, sizeof path, CORPUS "/%s", cc->file);
    counting c = {0, 0, 0};
    tg_ctx *ctx = cnt_ctx(&c);
    long live0 = c.live;
    tg__csv_spec sp = spec_of(cc->task, k_y, 1);
    tg__table t, sentinel;
    memset(&sentinel, 0x77, sizeof sentinel);
    t = sentinel;
    tg_status st = tg__csv_read(ctx, path, &sp, &t);
    ck_assert_msg(st == cc->status, "%s: status %d (%s), want %d", cc->file, (int)st,
                  tg_ctx_last_error(ctx), (int)cc->status);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), cc->file) != NULL, "%s: '%s'", cc->file,
                  tg_ctx_last_error(ctx));
    if (cc->msg) {
        snprintf(want, sizeof want, "%s%s", path, cc->msg);
        ck_assert_str_eq(tg_ctx_last_error(ctx), want);
    }
    ck_assert(memcmp(&t, &sentinel, sizeof t) == 0);
    ck_assert_int_eq(c.live, live0);
    tg_ctx_destroy(ctx);
}
END_TEST

START_TEST(corpus_valid)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg__csv_spec sp = spec_of(TG__CSV_CLASSIFICATION, k_y, 1);
    tg__table t;
    ck_assert_int_eq(tg__csv_read(ctx, CORPUS "/good.csv", &sp, &t), TG_OK);
    ck_assert_uint_eq(t.n_rows, 4);
    ck_assert_int_eq(t.n_features, 2);
    ck_assert_int_eq(t.n_classes, 2);
    tg__table_free(ctx, &t);
    /* bytes that are not UTF-8 are just bytes in a class name */
    ck_assert_int_eq(tg__csv_read(ctx, CORPUS "/latin1-label.csv", &sp, &t), TG_OK);
    ck_assert_int_eq(t.n_classes, 2);
    ck_assert_str_eq(t.class_names[1], "caf\xe9");
    tg__table_free(ctx, &t);
    tg_ctx_destroy(ctx);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, iris_classification);
    tcase_add_test(tc, diabetes_regression);
    tcase_add_test(tc, integer_labels_sorted_by_value);
    tcase_add_test(tc, multi_target_regression_and_ignore);
    tcase_add_test(tc, quoting_crlf_bom_blank_tail);
    tcase_add_test(tc, other_delimiters);
    tcase_add_test(tc, number_syntax);
    tcase_add_test(tc, number_vs_strtod);
    tcase_add_test(tc, locale_independent);
    tcase_add_test(tc, float_range_edge);
    tcase_add_test(tc, format_errors);
    tcase_add_test(tc, spec_and_lookup_errors);
    tcase_add_test(tc, io_errors);
    tcase_add_test(tc, limit_columns);
    tcase_add_test(tc, limit_field_bytes);
    tcase_add_test(tc, limit_classes);
    tcase_add_test(tc, limit_rows);
    tcase_add_test(tc, limit_file_bytes);
    tcase_add_test(tc, limit_overrides);
    tcase_add_test(tc, nomem_every_allocation);
    tcase_add_loop_test(tc, corpus_malformed, 0, N(corpus_cases));
    tcase_add_test(tc, corpus_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
