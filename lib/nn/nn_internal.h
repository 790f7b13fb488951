/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the files of lib/nn. */
#ifndef TG_NN_INTERNAL_H
#define TG_NN_INTERNAL_H

#include "tg_internal.h"

/* Copy a layer options struct @p src over @p dst (holding the defaults) after
 * checking out and struct_size (at least @p min, at most @p dst_size). false
 * with the error recorded otherwise. */
bool tg__layer_options(tg_ctx *ctx, const char *who, void *dst, size_t dst_size, size_t min,
                       const void *src, tg_module **out);

/* Run @p self's children in order, as Sequential does (Conv2d + ReLU fused;
 * tiled inference when grad is off and every child is per-sample). */
tg_tensor *tg__forward_children(tg_module *self, tg_tensor *x);
/* True for ResNet and BasicBlock (resnet.c): per-sample when their children
 * are, for tiled inference. */
bool tg__nn_is_resnet_container(const tg_module *m);
/* relu(forward of bn on x): one fused op when bn is a built-in BatchNorm2d
 * (training or evaluation) and no trace is recorded, else the two steps. */
tg_tensor *tg__nn_bn_relu(tg_module *bn, tg_ctx *ctx, tg_tensor *x);
/* relu(bn(x) + res), fused into one op under the same conditions (and x, res
 * of one shape), else the three ops. */
tg_tensor *tg__nn_bn_add_relu(tg_module *bn, tg_ctx *ctx, tg_tensor *x, tg_tensor *res);
/* A fused op standing for module m and the ones after it: run(m, ctx, x,
 * arg), whose time and results the profiler counts as m's forward (the
 * layer keeps its row). No trace is recorded while fused ops run. */
typedef tg_tensor *(*tg__nn_run_fn)(tg_module *m, tg_ctx *ctx, tg_tensor *x, void *arg);
tg_tensor *tg__nn_run_as(tg_module *m, tg_tensor *x, tg__nn_run_fn run, void *arg);

/* bn(conv(x)), then + res and ReLU (res), or ReLU (relu): one fused op when
 * bn is a built-in BatchNorm2d in evaluation after a built-in Conv2d and
 * nothing needs a gradient (tg__conv2d_bn_eval), else the modules' own
 * forwards as above. */
tg_tensor *tg__nn_conv_bn(tg_module *conv, tg_module *bn, tg_ctx *ctx, tg_tensor *x,
                          tg_tensor *res, bool relu);

#endif
