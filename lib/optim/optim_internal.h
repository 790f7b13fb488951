/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the files of lib/optim. */
#ifndef TG_OPTIM_INTERNAL_H
#define TG_OPTIM_INTERNAL_H

#include "tg_internal.h"

/* The context @p opt was created in. */
tg_ctx *tg__optim_ctx(const tg_optim *opt);

/* Whether vt is a built-in whose update treats every element on its own
 * (SGD, Adam, AdamW, RMSprop, Adagrad): a parameter may then be updated in
 * slices, one per thread, with the same result. */
bool tg__optim_elementwise(const tg_optim_vtable *vt);

#endif
