/* SPDX-License-Identifier: MIT */
/* Config parser fuzzer: the input is parsed as a file (it may hold NUL
 * bytes, which must be refused) and as a string; both must agree, and the
 * typed getters must accept or refuse every value cleanly. */
#include "fuzz_common.h"

#include <math.h>

static void query(tg_ctx *ctx, const tg_config *cfg)
{
    static const char *const choices[] = {"sgd", "adam", "x"};
    size_t n = tg_config_n(cfg);
    for (size_t i = 0; i < n && i < 16; i++) {
        const char *val = NULL;
        const char *key = tg_config_key(cfg, i, &val);
        FUZZ_CHECK(key && val && tg_config_has(cfg, key));
        const char *s = NULL;
        FUZZ_CHECK(tg_config_get_string(cfg, key, NULL, &s) == TG_OK && strcmp(s, val) == 0);
        int64_t iv;
        double dv;
        bool bv;
        size_t cv;
        if (tg_config_get_int(cfg, key, 0, -1000, 1000, &iv) == TG_OK)
            FUZZ_CHECK(iv >= -1000 && iv <= 1000);
        else
            FUZZ_CHECK_ERROR(ctx);
        if (tg_config_get_float(cfg, key, 0, -1e6, 1e6, &dv) == TG_OK)
            FUZZ_CHECK(isfinite(dv) && dv >= -1e6 && dv <= 1e6);
        else
            FUZZ_CHECK_ERROR(ctx);
        if (tg_config_get_bool(cfg, key, false, &bv) != TG_OK)
            FUZZ_CHECK_ERROR(ctx);
        if (tg_config_get_choice(cfg, key, choices, 3, 0, &cv) == TG_OK)
            FUZZ_CHECK(cv < 3);
        else
            FUZZ_CHECK_ERROR(ctx);
        tg_ctx_clear_error(ctx);
    }
    if (n && tg_config_check_keys(cfg, choices, 3) != TG_OK)
        FUZZ_CHECK_ERROR(ctx);
    tg_ctx_clear_error(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_ctx *ctx = fz_ctx(1, 0);
    const char *path = fz_write_file("config.txt", data, size);
    tg_config *cf = NULL, *cs = NULL;
    tg_status sf = tg_config_load_file(ctx, path, &cf);
    if (sf != TG_OK) {
        FUZZ_CHECK(cf == NULL);
        FUZZ_CHECK_ERROR(ctx);
    }
    tg_ctx_clear_error(ctx);

    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    tg_status ss = tg_config_load_string(ctx, text, "fuzz", &cs);
    if (ss != TG_OK) {
        FUZZ_CHECK(cs == NULL);
        FUZZ_CHECK_ERROR(ctx);
    }
    tg_ctx_clear_error(ctx);
    /* Without NUL bytes the file and the string are the same text. */
    if (!memchr(data, 0, size)) {
        FUZZ_CHECK(sf == ss);
        if (sf == TG_OK) {
            FUZZ_CHECK(tg_config_n(cf) == tg_config_n(cs));
            for (size_t i = 0; i < tg_config_n(cf); i++) {
                const char *va, *vb;
                FUZZ_CHECK(strcmp(tg_config_key(cf, i, &va), tg_config_key(cs, i, &vb)) == 0);
                FUZZ_CHECK(strcmp(va, vb) == 0);
            }
        }
    } else {
        FUZZ_CHECK(sf != TG_OK);
    }
    if (cs) {
        query(ctx, cs);
        /* overriding an entry must keep the set consistent */
        if (tg_config_n(cs)) {
            const char *k = tg_config_key(cs, 0, NULL);
            static char key[4200];
            snprintf(key, sizeof key, "%s", k);
            FUZZ_CHECK(tg_config_set(cs, key, "1") == TG_OK);
            int64_t v;
            FUZZ_CHECK(tg_config_get_int(cs, key, 0, 0, 5, &v) == TG_OK && v == 1);
        }
    }
    tg_config_destroy(cf);
    tg_config_destroy(cs);
    free(text);
    tg_ctx_destroy(ctx);
    return 0;
}
