/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The kernels of vv-cuda-kernels.cuh compiled for the host against the
 * CUDA emulator (cuda-emu.h), for backend "cuda-emu". */
#include "cuda-emu.h"

#include <vibevoice/vv-tensor.h>  /* has G_BEGIN_DECLS */

static inline float
vvk_bf16_to_f32 (uint16_t h)
{
  return vv_bf16_to_f32 (h);
}

static inline float
vvk_f16_to_f32 (uint16_t h)
{
  return vv_f16_to_f32 (h);
}

static inline uint16_t
vvk_f32_to_f16 (float f)
{
  return vv_f32_to_f16 (f);
}

extern "C" const char *
vvk_error_string (int code)
{
  return code == 0 ? "no error" : vv_emu::last_launch_error_message ();
}

#include "vv-cuda-kernels.cuh"
