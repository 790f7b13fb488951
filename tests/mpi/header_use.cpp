/* SPDX-License-Identifier: MIT */
// C++ twin of header_use.c.
/* Built (not run) by tests/mpi/meson.build: <tinygrad_mpi.h> compiles on its
 * own, twice (include guard), with -Wpedantic, and links. */
#include <tinygrad_mpi.h>
#include <tinygrad_mpi.h>

int main(void)
{
    tg_dist_options o;
    tg_dist_options_init(&o);
    tg_dist_stats st = {};
    st.struct_size = sizeof st;
    tg_dist_get_stats(NULL, &st);
    return tg_dist_size(NULL) + (int)o.bucket_bytes * 0 + (int)TG_DIST_MEAN - 1;
}
