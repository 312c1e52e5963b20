/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/*
 * CUDA emulation for the host (C++): enough of the CUDA C++ dialect that
 * the kernel sources in vv-cuda-kernels.cuh compile with g++ and run on the
 * CPU exactly as written, so they are tested on machines without a GPU
 * (docs/CUDA.md).
 *
 * - A launch runs every block of the grid, one after another, and every
 *   thread of a block as a fiber (ucontext) on one OS thread.
 * - __syncthreads() parks the fiber until every live thread of its block
 *   has arrived; warp shuffles, votes and __syncwarp() park it until every
 *   live lane of its warp has arrived (lock-step exchange).
 * - The order in which blocks and threads run is forward, reverse or a
 *   seeded shuffle ($VV_CUDA_EMU_ORDER = forward | reverse | shuffle[:SEED]):
 *   a kernel whose result depends on it has a race.
 * - __shared__ is static storage: one copy, which is one copy per block
 *   because blocks run one at a time and launches are serialised by a
 *   process-wide lock (the emulator is for correctness, not throughput;
 *   plain globals also avoid a TLS lookup at every threadIdx).
 * - A barrier that not every thread can reach (divergence) is reported and
 *   aborts the launch with an error instead of hanging.
 *
 * Kernels launched with VV_LAUNCH (no barriers) run without fibers; a
 * barrier there is an error. VV_LAUNCH_SYNC gives them fibers.
 */

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3 (unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x (x_), y (y_), z (z_) {}
};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

namespace vv_emu {

extern dim3 thread_idx, block_idx, block_dim, grid_dim;

/* error codes returned by launch() (nonzero = failure) */
enum {
  EMU_OK = 0,
  EMU_BAD_CONFIG = 9,           /* as cudaErrorInvalidConfiguration */
  EMU_DIVERGENT_BARRIER = 719,  /* as cudaErrorLaunchFailure */
};

int launch (const char *name, dim3 grid, dim3 block, bool fibers,
    const std::function<void ()> &body);
const char *last_launch_error_message ();
/* launch() on @stream (a VvEmuStream, or null): recorded instead of run
 * while the stream captures a graph (cuda-emu-stream.h) */
int launch_on (void *stream, const char *name, dim3 grid, dim3 block, bool fibers,
    const std::function<void ()> &body);

void sync_block ();
void sync_warp ();
/* writes @v for this lane, waits for the warp, returns lane @src's value */
uint64_t warp_exchange (uint64_t v, unsigned src_lane);
/* all 32 lanes' @pred, one bit per lane */
unsigned warp_ballot (int pred);
unsigned lane_id ();

template <typename T> inline T
shfl_from (T v, unsigned src)
{
  static_assert (sizeof (T) <= 8, "shuffle of at most 64 bits");
  uint64_t bits = 0;
  std::memcpy (&bits, &v, sizeof (T));
  bits = warp_exchange (bits, src);
  T r;
  std::memcpy (&r, &bits, sizeof (T));
  return r;
}

void check_mask (unsigned mask);

}  /* namespace vv_emu */

/* The order launches on this thread run blocks and threads in from now on
 * ("forward", "reverse", "shuffle[:SEED]"; NULL: $VV_CUDA_EMU_ORDER again).
 * Returns 0 for an unknown order (forward is used). */
extern "C" int vv_cuda_emu_set_order (const char *spec);

#define threadIdx (vv_emu::thread_idx)
#define blockIdx (vv_emu::block_idx)
#define blockDim (vv_emu::block_dim)
#define gridDim (vv_emu::grid_dim)
#define warpSize 32

inline void __syncthreads () { vv_emu::sync_block (); }
inline void __syncwarp (unsigned mask = 0xffffffffu) { vv_emu::check_mask (mask); vv_emu::sync_warp (); }

template <typename T> inline T
__shfl_xor_sync (unsigned mask, T v, int lane_mask, int width = 32)
{
  vv_emu::check_mask (mask);
  unsigned lane = vv_emu::lane_id ();
  unsigned src = lane ^ (unsigned) lane_mask;
  /* outside the lane's width group: its own value (CUDA semantics) */
  if (src / (unsigned) width != lane / (unsigned) width)
    src = lane;
  return vv_emu::shfl_from (v, src);
}

template <typename T> inline T
__shfl_down_sync (unsigned mask, T v, unsigned delta, int width = 32)
{
  vv_emu::check_mask (mask);
  unsigned lane = vv_emu::lane_id ();
  unsigned w = (unsigned) width;
  unsigned src = (lane % w) + delta < w ? lane + delta : lane;
  return vv_emu::shfl_from (v, src);
}

template <typename T> inline T
__shfl_sync (unsigned mask, T v, int src_lane, int width = 32)
{
  vv_emu::check_mask (mask);
  unsigned lane = vv_emu::lane_id ();
  unsigned w = (unsigned) width;
  return vv_emu::shfl_from (v, lane / w * w + (unsigned) src_lane % w);
}

inline unsigned __ballot_sync (unsigned mask, int pred) { vv_emu::check_mask (mask); return vv_emu::warp_ballot (pred); }
inline int __any_sync (unsigned mask, int pred) { return __ballot_sync (mask, pred) != 0; }
inline int __all_sync (unsigned mask, int pred) { return __ballot_sync (mask, pred) == 0xffffffffu; }

inline float __uint_as_float (unsigned u) { float f; std::memcpy (&f, &u, 4); return f; }
inline unsigned __float_as_uint (float f) { unsigned u; std::memcpy (&u, &f, 4); return u; }

/* Atomics: fibers switch only at barriers and blocks run one after
 * another, so a plain read-modify-write is atomic here. */
inline int atomicMin (int *p, int v) { int old = *p; if (v < old) *p = v; return old; }
inline int atomicMax (int *p, int v) { int old = *p; if (v > old) *p = v; return old; }
inline int atomicAdd (int *p, int v) { int old = *p; *p = old + v; return old; }
inline float atomicAdd (float *p, float v) { float old = *p; *p = old + v; return old; }

/* Kernel launches (the CUDA build defines these with <<< >>>). They return
 * 0 or an error code for vvk_error_string(). */
#define VV_LAUNCH(kernel, grid, block, stream, ...) \
  vv_emu::launch_on ((void *) (stream), #kernel, (grid), (block), false, \
      [=] () { kernel (__VA_ARGS__); })
#define VV_LAUNCH_SYNC(kernel, grid, block, stream, ...) \
  vv_emu::launch_on ((void *) (stream), #kernel, (grid), (block), true, \
      [=] () { kernel (__VA_ARGS__); })
