// r1/ir/ops/conv_util.h (the conv / pool geometry shared with the CPU and shape inference) for GPU
// sources. It trips two nvcc front-end warnings (a throw-only tail, a set-but-unused flag),
// silenced for that header only.
#pragma once
#if defined(__NVCC__)
#pragma nv_diag_suppress 940
#pragma nv_diag_suppress 550
#endif
#include "r1/ir/ops/conv_util.h"
#if defined(__NVCC__)
#pragma nv_diag_default 940
#pragma nv_diag_default 550
#endif
