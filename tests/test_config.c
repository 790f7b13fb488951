/* SPDX-License-Identifier: MIT */
/* The `key = value` config parser: syntax, typed getters, and every error
 * message naming file:line. */
#include "data_test_util.h"

#include "tg_test.h"

static const char *good =
    "# MNIST CNN\n"
    "data_dir = ../shared/data/mnist   # trailing comment\n"
    "\n"
    "   batch_size=32\r\n"
    "epochs = 2\n"
    "learning_rate = 0.01\n"
    "optimizer_type = SGD\n"
    "log_file = \"run # 1.log\"\n"
    "save_dir =\n"
    "shuffle = Yes\n"
    "\tseed = -7\n";

START_TEST(parse_and_get)
{
    tgd_mkdtemp();
    tgd_write(tgd_path("config.txt"), good, strlen(good));
    tg_ctx *ctx = tgt_ctx(1);
    tg_config *cfg = NULL;
    ck_assert_int_eq(tg_config_load_file(ctx, tgd_path("config.txt"), &cfg), TG_OK);
    ck_assert_uint_eq(tg_config_n(cfg), 9);
    const char *v = NULL;
    ck_assert_str_eq(tg_config_key(cfg, 0, &v), "data_dir");
    ck_assert_str_eq(v, "../shared/data/mnist");
    ck_assert_ptr_null(tg_config_key(cfg, 9, &v));
    ck_assert_int_eq(tg_config_get_string(cfg, "log_file", NULL, &v), TG_OK);
    ck_assert_str_eq(v, "run # 1.log");
    ck_assert_int_eq(tg_config_get_string(cfg, "save_dir", "x", &v), TG_OK);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(tg_config_get_string(cfg, "model", "cnn", &v), TG_OK);
    ck_assert_str_eq(v, "cnn");
    int64_t i = 0;
    ck_assert_int_eq(tg_config_get_int(cfg, "batch_size", 1, 1, 4096, &i), TG_OK);
    ck_assert_int_eq(i, 32);
    ck_assert_int_eq(tg_config_get_int(cfg, "seed", 0, INT64_MIN, INT64_MAX, &i), TG_OK);
    ck_assert_int_eq(i, -7);
    ck_assert_int_eq(tg_config_get_int(cfg, "patience", 3, 0, 100, &i), TG_OK);
    ck_assert_int_eq(i, 3);
    double d = 0;
    ck_assert_int_eq(tg_config_get_float(cfg, "learning_rate", 0.1, 0.0, 10.0, &d), TG_OK);
    ck_assert_double_eq(d, 0.01);
    ck_assert_int_eq(tg_config_get_float(cfg, "epochs", 0, 0, 10, &d), TG_OK); /* ints are floats */
    ck_assert_double_eq(d, 2.0);
    bool b = false;
    ck_assert_int_eq(tg_config_get_bool(cfg, "shuffle", false, &b), TG_OK);
    ck_assert(b);
    const char *const opts[] = {"sgd", "adam"};
    size_t k = 9;
    ck_assert_int_eq(tg_config_get_choice(cfg, "optimizer_type", opts, 2, 1, &k), TG_OK);
    ck_assert_uint_eq(k, 0);
    ck_assert_int_eq(tg_config_get_choice(cfg, "loss_function", opts, 2, 1, &k), TG_OK);
    ck_assert_uint_eq(k, 1);
    const char *const allowed[] = {"data_dir", "batch_size", "epochs", "learning_rate",
                                   "optimizer_type", "log_file", "save_dir", "shuffle", "seed"};
    ck_assert_int_eq(tg_config_check_keys(cfg, allowed, 9), TG_OK);
    /* command-line override */
    ck_assert_int_eq(tg_config_set(cfg, "epochs", "5"), TG_OK);
    ck_assert_int_eq(tg_config_set(cfg, "momentum", "0.9"), TG_OK);
    ck_assert_int_eq(tg_config_get_int(cfg, "epochs", 1, 1, 100, &i), TG_OK);
    ck_assert_int_eq(i, 5);
    ck_assert(tg_config_has(cfg, "momentum"));
    ck_assert(!tg_config_has(cfg, "weight_decay"));
    ck_assert_uint_eq(tg_config_n(cfg), 10);
    tg_config_destroy(cfg);
    tg_config_destroy(NULL);
    tg_ctx_destroy(ctx);
    tgd_rmtree();
}
END_TEST

/* Parsing `text` fails with `st` and a message containing `needle`. */
static void parse_fails(tg_ctx *ctx, const char *text, tg_status st, const char *needle)
{
    tg_config *cfg = (tg_config *)0x1;
    ck_assert_int_eq(tg_config_load_string(ctx, text, "config.txt", &cfg), st);
    ck_assert_msg(strstr(tg_ctx_last_error(ctx), needle) != NULL, "'%s' lacks '%s'",
                  tg_ctx_last_error(ctx), needle);
    ck_assert_ptr_eq(cfg, (tg_config *)0x1);
}

START_TEST(syntax_errors_name_the_line)
{
    tg_ctx *ctx = tgt_ctx(1);
    parse_fails(ctx, "a = 1\n\nbatch_size 32\n", TG_ERR_FORMAT,
                "config.txt:3: expected 'key = value'");
    parse_fails(ctx, "# c\n = 4\n", TG_ERR_FORMAT, "config.txt:2: missing key");
    parse_fails(ctx, "learning rate = 0.1\n", TG_ERR_FORMAT, "config.txt:1: invalid key 'learning rate'");
    parse_fails(ctx, "seed = 1\nepochs = 2\n# x\nseed = 2\n", TG_ERR_FORMAT,
                "config.txt:4: duplicate key 'seed' (first on line 1)");
    parse_fails(ctx, "a = 1\nlog_file = \"abc\n", TG_ERR_FORMAT,
                "config.txt:2: unterminated quoted value");
    parse_fails(ctx, "log_file = a\"b\n", TG_ERR_FORMAT, "config.txt:1: stray");
    char *long_line = malloc(5000);
    memset(long_line, 'a', 4999);
    long_line[4999] = '\0';
    parse_fails(ctx, long_line, TG_ERR_LIMIT, "config.txt:1: line longer");
    free(long_line);
    tg_config *cfg = (tg_config *)0x1;
    ck_assert_int_eq(tg_config_load_file(ctx, "/nonexistent/config.txt", &cfg), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(ctx), "/nonexistent/config.txt"));
    ck_assert_int_eq(tg_config_load_string(ctx, NULL, NULL, &cfg), TG_ERR_INVALID_ARG);
    ck_assert_ptr_eq(cfg, (tg_config *)0x1);
    tg_ctx_destroy(ctx);
}
END_TEST

#define EXPECT_ERR(call, st, needle)                                                           \
    do {                                                                                       \
        ck_assert_int_eq((call), (st));                                                        \
        ck_assert_msg(strstr(tg_ctx_last_error(ctx), (needle)) != NULL, "'%s' lacks '%s'",     \
                      tg_ctx_last_error(ctx), (needle));                                       \
    } while (0)

START_TEST(value_errors_name_the_line)
{
    tg_ctx *ctx = tgt_ctx(1);
    tg_config *cfg = NULL;
    const char *text = "# report config\n"
                       "batch_size = abc\n"
                       "epochs = 0\n"
                       "learning_rate = fast\n"
                       "momentum = 1.5\n"
                       "shuffle = maybe\n"
                       "optimizer_type = adm\n"
                       "lerning_rate = 0.1\n"
                       "seed = 99999999999999999999\n"
                       "weight_decay = inf\n"
                       "patience = 3x\n";
    ck_assert_int_eq(tg_config_load_string(ctx, text, "config.txt", &cfg), TG_OK);
    int64_t i = 42;
    double d = 4.2;
    bool b = true;
    size_t k = 7;
    EXPECT_ERR(tg_config_get_int(cfg, "batch_size", 32, 1, 1024, &i), TG_ERR_INVALID_ARG,
               "config.txt:2: batch_size: 'abc' is not an integer");
    EXPECT_ERR(tg_config_get_int(cfg, "epochs", 1, 1, 1000, &i), TG_ERR_INVALID_ARG,
               "config.txt:3: epochs: 0 is out of range [1, 1000]");
    EXPECT_ERR(tg_config_get_float(cfg, "learning_rate", 0.01, 0, 1, &d), TG_ERR_INVALID_ARG,
               "config.txt:4: learning_rate: 'fast' is not a finite number");
    EXPECT_ERR(tg_config_get_float(cfg, "momentum", 0, 0, 1, &d), TG_ERR_INVALID_ARG,
               "config.txt:5: momentum: 1.5 is out of range [0, 1]");
    EXPECT_ERR(tg_config_get_bool(cfg, "shuffle", true, &b), TG_ERR_INVALID_ARG,
               "config.txt:6: shuffle: 'maybe' is not a boolean");
    const char *const opts[] = {"sgd", "adam"};
    EXPECT_ERR(tg_config_get_choice(cfg, "optimizer_type", opts, 2, 0, &k), TG_ERR_INVALID_ARG,
               "config.txt:7: optimizer_type: 'adm' is not one of sgd, adam");
    const char *const allowed[] = {"batch_size", "epochs", "learning_rate", "momentum",
                                   "shuffle", "optimizer_type", "seed", "weight_decay",
                                   "patience"};
    EXPECT_ERR(tg_config_check_keys(cfg, allowed, 9), TG_ERR_INVALID_ARG,
               "config.txt:8: unknown key 'lerning_rate'");
    EXPECT_ERR(tg_config_get_int(cfg, "seed", 0, INT64_MIN, INT64_MAX, &i), TG_ERR_INVALID_ARG,
               "config.txt:9: seed: 99999999999999999999 is out of range");
    EXPECT_ERR(tg_config_get_float(cfg, "weight_decay", 0, 0, 1, &d), TG_ERR_INVALID_ARG,
               "config.txt:10: weight_decay: 'inf' is not a finite number");
    EXPECT_ERR(tg_config_get_int(cfg, "patience", 0, 0, 10, &i), TG_ERR_INVALID_ARG,
               "config.txt:11: patience: '3x' is not an integer");
    const char *s = "keep";
    EXPECT_ERR(tg_config_get_string(cfg, "data_dir", NULL, &s), TG_ERR_NOT_FOUND,
               "required key 'data_dir' is missing");
    /* outputs untouched on every error */
    ck_assert_int_eq(i, 42);
    ck_assert_double_eq(d, 4.2);
    ck_assert(b);
    ck_assert_uint_eq(k, 7);
    ck_assert_str_eq(s, "keep");
    /* a command-line value says so */
    ck_assert_int_eq(tg_config_set(cfg, "batch_size", "-3"), TG_OK);
    EXPECT_ERR(tg_config_get_int(cfg, "batch_size", 32, 1, 1024, &i), TG_ERR_INVALID_ARG,
               "command line: batch_size: -3 is out of range");
    EXPECT_ERR(tg_config_set(cfg, "bad key", "1"), TG_ERR_INVALID_ARG, "invalid key 'bad key'");
    ck_assert_int_eq(tg_config_set(cfg, "typo_key", "1"), TG_OK);
    const char *const allowed2[] = {"batch_size", "epochs", "learning_rate", "momentum",
                                    "shuffle", "optimizer_type", "seed", "weight_decay",
                                    "patience", "lerning_rate"};
    EXPECT_ERR(tg_config_check_keys(cfg, allowed2, 10), TG_ERR_INVALID_ARG,
               "command line: unknown key 'typo_key'");
    tg_config_destroy(cfg);
    /* an empty config built up from the command line */
    ck_assert_int_eq(tg_config_create(ctx, &cfg), TG_OK);
    ck_assert_int_eq(tg_config_set(cfg, "epochs", "3"), TG_OK);
    ck_assert_int_eq(tg_config_get_int(cfg, "epochs", 1, 1, 10, &i), TG_OK);
    ck_assert_int_eq(i, 3);
    tg_config_destroy(cfg);
    tg_ctx_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, parse_and_get);
    tcase_add_test(tc, syntax_errors_name_the_line);
    tcase_add_test(tc, value_errors_name_the_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
