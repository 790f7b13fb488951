/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the files of lib/optim. */
#ifndef TG_OPTIM_INTERNAL_H
#define TG_OPTIM_INTERNAL_H

#include "tg_internal.h"

/* The context @p opt was created in. */
tg_ctx *tg__optim_ctx(const tg_optim *opt);

#endif
