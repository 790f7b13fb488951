/* SPDX-License-Identifier: MIT */
/* `distributed = true` of the training examples (docs/distributed.md): with
 * libtinygrad-mpi (TG_HAVE_MPI, meson -Dmpi), every rank trains a replica
 * on its shard; batch_size is per rank. Rank 0 alone prints, logs and saves.
 * The includer defines die() and CHECK(); die() names the program. */
#ifndef TG_EXAMPLES_DIST_H
#define TG_EXAMPLES_DIST_H

#ifdef TG_HAVE_MPI
#  include <tinygrad_mpi.h>

/* Joins MPI_COMM_WORLD and sets up tg_fit (tg_dist_fit_setup); ranks > 0
 * keep no log and no save_dir, and their stdout goes to /dev/null, so
 * that only rank 0 prints (the test report too). NULL when @p on is false. */
static tg_dist *dist_start(bool on, tg_ctx *c, tg_module *net, tg_fit_options *fo,
                           const char **save_dir, const char **log_path)
{
    tg_dist *d = NULL;
    if (!on)
        return NULL;
    CHECK(tg_dist_create(c, MPI_COMM_NULL, NULL, &d));
    CHECK(tg_dist_fit_setup(d, net, fo, true));
    if (tg_dist_rank(d) > 0)
        *save_dir = *log_path = "";
    printf("distributed: %d ranks x batch %zu per rank = global batch %zu\n", tg_dist_size(d),
           fo->batch_size, fo->batch_size * (size_t)tg_dist_size(d));
    return d;
}
static void dist_end(tg_dist *d) { tg_dist_destroy(d); } /* MPI_Finalize */
#else
typedef struct tg_dist tg_dist;
static tg_dist *dist_start(bool on, tg_ctx *c, tg_module *net, tg_fit_options *fo,
                           const char **save_dir, const char **log_path)
{
    (void)c, (void)net, (void)fo, (void)save_dir, (void)log_path;
    if (on)
        die("distributed = true needs libtinygrad-mpi (meson -Dmpi=enabled, Open MPI installed)");
    return NULL;
}
static void dist_end(tg_dist *d) { (void)d; }
#endif

#endif /* TG_EXAMPLES_DIST_H */
