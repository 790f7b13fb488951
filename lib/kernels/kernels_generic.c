/* SPDX-License-Identifier: MIT */
/* Plain C kernels: the reference path, used on any CPU and with TG_CPU=generic.
 * "Vectors" are single floats; compiled without ISA flags. */
#include "kernels.h"

typedef float vf;
#define SFX generic
#define ISA_ID TG__ISA_GENERIC
#define VW 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VZERO() 0.0f
#define VSET1(s) (s)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VADD(a, b) ((a) + (b))
#define VKEEP(v) ((void)0)
#define VHSUM(v) (v)
#define FWD_NV(c) 8
#define FWD_COB_MAX 4
#define WG_ACC 8
#define GEMM_MR 4
#define GEMM_NV 8

#include "kernels_impl.h"
