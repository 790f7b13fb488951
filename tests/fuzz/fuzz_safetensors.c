/* SPDX-License-Identifier: MIT */
/* safetensors fuzzer. Byte 0 picks the reader (module load, checkpoint load
 * with and without an Adam optimiser, metadata lookup); the rest is the
 * file. The model is params "w" [2,3] and "b" [3] plus a child "c" with the
 * buffer "rm" [2]. A load either succeeds or fails with a status and a
 * message, and a failed load must leave every byte of the model and the
 * optimiser (state, step count, lr) as it was. */
#include "fuzz_common.h"

static tg_tensor *fwd(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}

static const tg_module_vtable vt = {sizeof(tg_module_vtable), "FuzzNet", fwd, NULL};

typedef struct snapshot {
    float v[64];
    size_t n;
    int64_t steps;
    float lr;
} snapshot;

static void take(tg_module *m, tg_optim *opt, snapshot *s)
{
    s->n = 0;
    for (size_t i = 0; i < tg_module_n_state(m); i++) {
        tg_tensor *t = tg_module_state(m, i, NULL, NULL);
        for (int64_t j = 0; j < tg_tensor_numel(t); j++)
            s->v[s->n++] = tg_tensor_data(t)[j];
    }
    s->steps = opt ? tg_optim_step_count(opt) : 0;
    s->lr = opt ? tg_optim_lr(opt) : 0.0f;
    if (!opt)
        return;
    for (size_t i = 0; i < tg_optim_n_params(opt); i++)
        for (int k = 0; k < tg_optim_n_state(opt); k++) {
            const float *st = tg_optim_state(opt, i, k);
            FUZZ_CHECK(st != NULL);
            for (int64_t j = 0; j < tg_tensor_numel(tg_optim_param(opt, i, NULL)); j++)
                s->v[s->n++] = st[j];
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 4;
    const char *path = fz_write_file("model.safetensors", data + 1, size - 1);

    tg_ctx *ctx = fz_ctx(1, 7);
    tg_module *m = NULL, *c = NULL;
    tg_tensor *w, *b, *rm;
    static const int64_t sw[2] = {2, 3}, sb[1] = {3}, sr[1] = {2};
    FUZZ_CHECK(tg_module_create(ctx, &vt, NULL, &m) == TG_OK);
    FUZZ_CHECK(tg_module_create(ctx, &vt, NULL, &c) == TG_OK);
    FUZZ_CHECK(tg_module_add_param(m, "w", 2, sw, &w) == TG_OK);
    FUZZ_CHECK(tg_module_add_param(m, "b", 1, sb, &b) == TG_OK);
    FUZZ_CHECK(tg_module_add_buffer(c, "rm", 1, sr, &rm) == TG_OK);
    FUZZ_CHECK(tg_module_add_child(m, "c", c) == TG_OK);
    tg_tensor_uniform_(w, -1, 1);
    tg_tensor_uniform_(b, -1, 1);
    tg_tensor_uniform_(rm, -1, 1);
    tg_optim *opt = NULL;
    if (mode == 1) {
        FUZZ_CHECK(tg_adam_create(ctx, m, NULL, &opt) == TG_OK);
        tg_optim_set_step_count(opt, 3);
    }

    snapshot before, after;
    take(m, opt, &before);
    tg_status st;
    int64_t epoch = -12345;
    char meta[32];
    switch (mode) {
    case 0: st = tg_module_load(m, path); break;
    case 1:
    case 2: st = tg_checkpoint_load(m, opt, &epoch, path); break;
    default: st = tg_safetensors_get_metadata(ctx, path, "tg.epoch", meta, sizeof meta); break;
    }
    if (st != TG_OK) {
        FUZZ_CHECK(st == tg_ctx_last_status(ctx));
        FUZZ_CHECK_ERROR(ctx);
        take(m, opt, &after);
        FUZZ_CHECK(after.n == before.n && after.steps == before.steps);
        FUZZ_CHECK(memcmp(&after.lr, &before.lr, sizeof after.lr) == 0);
        FUZZ_CHECK(memcmp(after.v, before.v, before.n * sizeof(float)) == 0);
        FUZZ_CHECK(epoch == -12345);
    } else if (mode == 3) {
        FUZZ_CHECK(memchr(meta, '\0', sizeof meta) != NULL);
    }
    tg_optim_destroy(opt);
    tg_module_destroy(m);
    tg_ctx_destroy(ctx);
    return 0;
}
