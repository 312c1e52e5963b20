/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The kernels compiled by nvcc for the GPU (the emulated build is
 * vv-cuda-kernels-emu.cc; both include vv-cuda-kernels.cuh). */
#include <stdint.h>
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <math.h>

__device__ __forceinline__ float
vvk_bf16_to_f32 (uint16_t h)
{
  return __uint_as_float ((unsigned) h << 16);
}

__device__ __forceinline__ float
vvk_f16_to_f32 (uint16_t h)
{
  return __half2float (__ushort_as_half (h));
}

__device__ __forceinline__ uint16_t
vvk_f32_to_f16 (float f)
{
  return __half_as_ushort (__float2half_rn (f));
}

/* A launch's error: the configuration error now, or nothing (faults in the
 * kernel surface at the next synchronising call, which checks too). */
#define VV_LAUNCH(kernel, grid, block, stream, ...) \
  (kernel<<<(grid), (block), 0, (cudaStream_t) (stream)>>> (__VA_ARGS__), (int) cudaGetLastError ())
#define VV_LAUNCH_SYNC VV_LAUNCH

extern "C" const char *
vvk_error_string (int code)
{
  return cudaGetErrorString ((cudaError_t) code);
}

#include "vv-cuda-kernels.cuh"
