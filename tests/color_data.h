/* SPDX-License-Identifier: MIT */
/* Generate the synthetic colour data set (scripts/gen_color_data.py, Python
 * standard library only) into a temp directory at test time. */
#ifndef TG_COLOR_DATA_H
#define TG_COLOR_DATA_H

#include "data_test_util.h"

/* Writes tgd_dir/data (CIFAR .bin files + train/ and test/ PNG trees) and
 * returns that path (static buffer); fails the test if the script fails. */
static TGD_UNUSED const char *tgc_generate(int n_train, int n_test)
{
    static char out[512];
    char cmd[2048];
    const char *py = getenv("TG_PYTHON");
    tgd_mkdtemp();
    snprintf(out, sizeof out, "%s/data", tgd_dir);
    snprintf(cmd, sizeof cmd, "%s '%s/../../scripts/gen_color_data.py' --out '%s' --train %d --test %d >/dev/null",
             py && *py ? py : "python3", TG_FIXTURE_DIR, out, n_train, n_test);
    int rc = system(cmd);
    if (rc != 0)
        ck_abort_msg("gen_color_data.py failed (%d): %s", rc, cmd);
    return out;
}

#endif
