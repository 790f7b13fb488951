/* SPDX-License-Identifier: MIT */
/* Checkpoint saves are atomic: a child process saves checkpoints in a loop
 * and is killed with SIGKILL at random moments (before, during and after the
 * write, the rename and the fsyncs); after every kill the file at the path
 * must load, and hold one complete version: the previous one or the new
 * one, never a mix or a torn file. Public API only (plus POSIX). */
#define _POSIX_C_SOURCE 200809L
#include "tg_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_W (256 * 1024) /* 1 MiB of weights: a save takes long enough to hit */
#define N_B 10
#define KILLS 40

static tg_tensor *fwd(tg_module *self, tg_ctx *ctx, tg_tensor *x)
{
    (void)self;
    (void)ctx;
    return x;
}
static const tg_module_vtable vt = {sizeof(tg_module_vtable), "Big", fwd, NULL};

typedef struct model {
    tg_ctx *ctx;
    tg_module *m;
    tg_optim *opt;
    tg_tensor *w, *b;
} model;

static void model_new(model *md)
{
    static const int64_t sw[1] = {N_W}, sb[1] = {N_B};
    md->ctx = tgt_ctx(1);
    ck_assert_int_eq(tg_module_create(md->ctx, &vt, NULL, &md->m), TG_OK);
    ck_assert_int_eq(tg_module_add_param(md->m, "w", 1, sw, &md->w), TG_OK);
    ck_assert_int_eq(tg_module_add_param(md->m, "b", 1, sb, &md->b), TG_OK);
    tg_sgd_options so;
    tg_sgd_options_init(&so);
    so.momentum = 0.9f;
    ck_assert_int_eq(tg_sgd_create(md->ctx, md->m, &so, &md->opt), TG_OK);
}

static void model_free(model *md)
{
    tg_optim_destroy(md->opt);
    tg_module_destroy(md->m);
    tg_ctx_destroy(md->ctx);
}

static float value(int version, size_t i, int which)
{
    return (float)version + (float)(i % 1000) * 1e-3f + (float)which * 0.5f;
}

/* Fill every parameter and momentum buffer with version's pattern. */
static void model_set(model *md, int version)
{
    float *w = tg_tensor_data(md->w), *b = tg_tensor_data(md->b);
    for (size_t i = 0; i < N_W; i++)
        w[i] = value(version, i, 0);
    for (size_t i = 0; i < N_B; i++)
        b[i] = value(version, i, 1);
    for (size_t p = 0; p < 2; p++) {
        float *s = tg_optim_state(md->opt, p, 0);
        size_t n = p == 0 ? N_W : N_B;
        for (size_t i = 0; i < n; i++)
            s[i] = value(version, i, 2 + (int)p);
    }
    tg_optim_set_step_count(md->opt, version);
}

/* The version the model holds, or -1 if it is not one consistent version. */
static int model_version(model *md, int64_t epoch)
{
    int v = (int)epoch;
    if (tg_optim_step_count(md->opt) != v)
        return -1;
    const float *w = tg_tensor_data(md->w), *b = tg_tensor_data(md->b);
    for (size_t i = 0; i < N_W; i++)
        if (w[i] != value(v, i, 0))
            return -1;
    for (size_t i = 0; i < N_B; i++)
        if (b[i] != value(v, i, 1))
            return -1;
    for (size_t p = 0; p < 2; p++) {
        const float *s = tg_optim_state(md->opt, p, 0);
        size_t n = p == 0 ? N_W : N_B;
        for (size_t i = 0; i < n; i++)
            if (s[i] != value(v, i, 2 + (int)p))
                return -1;
    }
    return v;
}

static char g_dir[512], g_path[600];

static void make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/tg-crashsave-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/ckpt.safetensors", g_dir);
}

/* Remove the directory and count what else was in it (stale temporaries). */
static int remove_dir(void)
{
    int others = 0;
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        if (strcmp(e->d_name, "ckpt.safetensors") != 0)
            others++;
        unlink(p);
    }
    closedir(d);
    rmdir(g_dir);
    return others;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Child: save version forever (until killed). Never returns. */
static void child_loop(int version)
{
    model md;
    model_new(&md);
    model_set(&md, version);
    for (;;)
        if (tg_checkpoint_save(md.m, md.opt, version, g_path) != TG_OK)
            _exit(3);
}

START_TEST(sigkill_during_save)
{
    make_dir();
    model md;
    model_new(&md);
    model_set(&md, 1);
    double t0 = now();
    ck_assert_int_eq(tg_checkpoint_save(md.m, md.opt, 1, g_path), TG_OK);
    double save_s = now() - t0;
    int current = 1, saw_new = 0, saw_old = 0;
    unsigned rng = 12345;
    for (int k = 0; k < KILLS; k++) {
        int version = k + 2;
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            child_loop(version);
        /* Kill somewhere in the first ~3 saves: start-up, mid-write,
         * rename, the next save's temporary. */
        rng = rng * 1103515245u + 12345u;
        double delay = save_s * 3.0 * (double)(rng >> 8 & 0xFFFF) / 65536.0;
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int wst = 0;
        ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
        ck_assert_msg(WIFSIGNALED(wst) || (WIFEXITED(wst) && WEXITSTATUS(wst) == 0),
                      "child save failed (exit %d)", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);

        model_set(&md, 0); /* scribble: the load must overwrite all of it */
        int64_t epoch = -1;
        tg_status st = tg_checkpoint_load(md.m, md.opt, &epoch, g_path);
        ck_assert_msg(st == TG_OK, "kill %d (after %.2f ms): load failed: %s", k, delay * 1e3,
                      tg_ctx_last_error(md.ctx));
        int v = model_version(&md, epoch);
        ck_assert_msg(v == current || v == version,
                      "kill %d: loaded version %d, expected %d or %d", k, v, current, version);
        if (v == version)
            saw_new++;
        else
            saw_old++;
        current = v;
    }
    int stale = remove_dir();
    model_free(&md);
    /* Not asserted (timing-dependent), but shown in the log. */
    printf("sigkill_during_save: save %.2f ms, %d kills: %d new, %d old, %d stale temporaries\n",
           save_s * 1e3, KILLS, saw_new, saw_old, stale);
}
END_TEST

START_TEST(failed_save_keeps_previous)
{
    make_dir();
    model md;
    model_new(&md);
    model_set(&md, 7);
    ck_assert_int_eq(tg_checkpoint_save(md.m, md.opt, 7, g_path), TG_OK);
    /* Saving into a directory that does not exist fails cleanly... */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/missing/ckpt.safetensors", g_dir);
    model_set(&md, 8);
    ck_assert_int_eq(tg_checkpoint_save(md.m, md.opt, 8, bad), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_ctx_last_error(md.ctx), "missing"));
    /* ...and a path that is a directory cannot be replaced. */
    ck_assert_int_ne(tg_checkpoint_save(md.m, md.opt, 8, g_dir), TG_OK);
    int64_t epoch = -1;
    ck_assert_int_eq(tg_checkpoint_load(md.m, md.opt, &epoch, g_path), TG_OK);
    ck_assert_int_eq(model_version(&md, epoch), 7);
    ck_assert_int_eq(remove_dir(), 0);
    model_free(&md);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crash_safe_save");
    TCase *tc = tcase_create("atomic");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sigkill_during_save);
    tcase_add_test(tc, failed_save_keeps_previous);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tgt_run(suite()); }
