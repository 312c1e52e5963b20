/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The CUDA emulator itself (ext/cuda/cuda-emu.h): kernels written here in
 * CUDA C++ run under every thread order, and what CUDA promises must hold:
 * grid and block indices, shared memory per block, __syncthreads, warp
 * shuffles and votes in lock-step, launch errors, divergent barriers
 * reported instead of hanging. A deliberately racy kernel must give
 * different results under different orders: the race check can fail.
 */
#include "cuda-emu.h"
#include "vv-cuda-rt.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

static const char *const orders[] = { "forward", "reverse", "shuffle:1", "shuffle:7" };

static void
set_order (const char *o)
{
  setenv ("VV_CUDA_EMU_ORDER", o, 1);
}

/* ---------------------------------------------------------------------- */

__global__ void
k_indices (int *hits, int *coords, int n)
{
  int i = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  int t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  int g = i * blockDim.x * blockDim.y * blockDim.z + t;
  if (g < n) {
    hits[g] += 1;
    coords[g] = (int) (blockIdx.x + 100 * threadIdx.x + 10000 * threadIdx.y);
  }
}

static void
test_indices (void)
{
  dim3 grid (3, 2, 2), block (5, 4, 1);
  int n = 3 * 2 * 2 * 5 * 4;
  for (const char *o : orders) {
    set_order (o);
    std::vector<int> hits (n, 0), coords (n, -1);
    int *h = hits.data (), *c = coords.data ();
    g_assert_cmpint (VV_LAUNCH (k_indices, grid, block, 0, h, c, n), ==, 0);
    for (int g = 0; g < n; g++) {
      g_assert_cmpint (hits[g], ==, 1);
      int t = g % 20, b = g / 20;
      g_assert_cmpint (coords[g], ==, (b % 3) + 100 * (t % 5) + 10000 * (t / 5));
    }
  }
}

/* ---------------------------------------------------------------------- */

__global__ void
k_reverse (float *out, const float *in, int use_barrier)
{
  __shared__ float s[256];
  int t = threadIdx.x;
  int g = blockIdx.x * blockDim.x + t;
  s[t] = in[g];
  if (use_barrier)
    __syncthreads ();
  out[g] = s[blockDim.x - 1 - t];
}

static std::vector<float>
run_reverse (const char *order, int use_barrier)
{
  set_order (order);
  int n = 4 * 256;
  std::vector<float> in (n), out (n, -1.0f);
  for (int i = 0; i < n; i++)
    in[i] = (float) i;
  float *po = out.data ();
  const float *pi = in.data ();
  g_assert_cmpint (VV_LAUNCH_SYNC (k_reverse, 4, 256, 0, po, pi, use_barrier), ==, 0);
  return out;
}

static void
test_syncthreads (void)
{
  for (const char *o : orders) {
    std::vector<float> out = run_reverse (o, 1);
    for (int i = 0; i < 4 * 256; i++)
      g_assert_cmpfloat (out[i], ==, (float) ((i / 256) * 256 + 255 - i % 256));
  }
}

/* Without the barrier the kernel reads shared memory other threads may not
 * have written yet: the emulator's orders must expose it. */
static void
test_race_detected (void)
{
  std::vector<float> fwd = run_reverse ("forward", 0);
  std::vector<float> rev = run_reverse ("reverse", 0);
  g_assert_true (memcmp (fwd.data (), rev.data (), fwd.size () * sizeof (float)) != 0);
}

/* ---------------------------------------------------------------------- */

__global__ void
k_warp_ops (float *sum, float *down, int *ballot, int *all_any)
{
  int t = threadIdx.x;
  float v = (float) (t + 1);
  float s = v;
  for (int o = 16; o > 0; o >>= 1)
    s += __shfl_xor_sync (0xffffffffu, s, o);
  sum[t] = s;
  down[t] = __shfl_down_sync (0xffffffffu, v, 3);
  ballot[t] = (int) __ballot_sync (0xffffffffu, t % 3 == 0);
  all_any[t] = __all_sync (0xffffffffu, t < 64) * 2 + __any_sync (0xffffffffu, t == 40);
}

static void
test_warp_ops (void)
{
  for (const char *o : orders) {
    set_order (o);
    std::vector<float> sum (64), down (64);
    std::vector<int> ballot (64), all_any (64);
    float *ps = sum.data (), *pd = down.data ();
    int *pb = ballot.data (), *pa = all_any.data ();
    g_assert_cmpint (VV_LAUNCH_SYNC (k_warp_ops, 1, 64, 0, ps, pd, pb, pa), ==, 0);
    unsigned expect_ballot = 0;
    for (int l = 0; l < 32; l++)
      if (l % 3 == 0)
        expect_ballot |= 1u << l;
    for (int t = 0; t < 64; t++) {
      int w = t / 32, lane = t % 32;
      /* lanes of warp w hold 32w+1 … 32w+32 */
      g_assert_cmpfloat (sum[t], ==, (float) (32 * (32 * w) + 32 * 33 / 2));
      g_assert_cmpfloat (down[t], ==, (float) (lane + 3 < 32 ? t + 3 + 1 : t + 1));
      /* (32w + l) % 3 == 0: warp 1 starts at 32 ≡ 2 (mod 3) */
      unsigned eb = 0;
      for (int l = 0; l < 32; l++)
        if ((32 * w + l) % 3 == 0)
          eb |= 1u << l;
      g_assert_cmpuint ((unsigned) ballot[t], ==, eb);
      g_assert_cmpint (all_any[t], ==, 2 + (w == 1));
    }
    (void) expect_ballot;
  }
}

/* ---------------------------------------------------------------------- */

__global__ void
k_divergent (int *out)
{
  if (threadIdx.x % 2 == 0)
    __syncthreads ();
  else
    __syncwarp ();
  out[threadIdx.x] = 1;
}

__global__ void
k_exited_threads (int *out)
{
  /* threads that have returned do not hold a barrier up (as on Volta+) */
  if (threadIdx.x >= 16)
    return;
  __syncthreads ();
  out[threadIdx.x] = 1;
}

__global__ void
k_nothing (int *out)
{
  out[0] = 1;
}

static void
test_errors (void)
{
  set_order ("forward");
  std::vector<int> out (64, 0);
  int *p = out.data ();
  int rc = VV_LAUNCH_SYNC (k_divergent, 1, 64, 0, p);
  g_assert_cmpint (rc, !=, 0);
  g_assert_nonnull (strstr (vv_emu::last_launch_error_message (), "divergent barrier"));
  g_assert_nonnull (strstr (vv_emu::last_launch_error_message (), "k_divergent"));

  g_assert_cmpint (VV_LAUNCH_SYNC (k_exited_threads, 1, 64, 0, p), ==, 0);
  for (int i = 0; i < 64; i++)
    g_assert_cmpint (out[i], ==, i < 16 ? 1 : 0);

  rc = VV_LAUNCH (k_nothing, 1, 2048, 0, p);
  g_assert_cmpint (rc, !=, 0);
  g_assert_nonnull (strstr (vv_emu::last_launch_error_message (), "invalid launch configuration"));
  rc = VV_LAUNCH (k_nothing, dim3 (1, 0, 1), 32, 0, p);
  g_assert_cmpint (rc, !=, 0);
}

/* ---------------------------------------------------------------------- */
/* Graph capture through the runtime layer (vv-cuda-rt-emu.c) */

__global__ void
k_axpy (float *y, const float *x, float a, int n)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    y[i] += a * x[i];
}

static void
test_graph_capture (void)
{
  set_order ("forward");
  const int n = 100;
  VvkStream s = NULL, other = NULL;
  g_assert_cmpint (vvcu_stream_create (&s), ==, 0);
  g_assert_cmpint (vvcu_stream_create (&other), ==, 0);
  std::vector<float> x (n), y (n, 0.0f), w (n, -1.0f);
  for (int i = 0; i < n; i++)
    x[i] = (float) i;
  float *px = x.data (), *py = y.data (), *pw = w.data ();
  float a = 2.0f;

  g_assert_cmpint (vvcu_stream_begin_capture (s), ==, 0);
  g_assert_cmpint (vvcu_stream_begin_capture (s), !=, 0);     /* already capturing */
  g_assert_cmpint (VV_LAUNCH (k_axpy, 1, 128, s, py, px, a, n), ==, 0);
  g_assert_cmpint (vvcu_memcpy_dtod_async (pw, py, sizeof (float) * n, s), ==, 0);
  /* another stream is not captured: it runs at once */
  g_assert_cmpint (VV_LAUNCH (k_axpy, 1, 128, other, pw, px, 0.0f, n), ==, 0);
  a = 100.0f;                   /* the recorded launch keeps its copy, 2 */
  VvcuGraph *g = NULL;
  g_assert_cmpint (vvcu_stream_end_capture (s, &g), ==, 0);
  size_t nodes = 0;
  g_assert_cmpint (vvcu_graph_n_nodes (g, &nodes), ==, 0);
  g_assert_cmpint ((int) nodes, ==, 2);
  for (int i = 0; i < n; i++) {
    g_assert_cmpfloat (y[i], ==, 0.0f);         /* recorded, not run */
    g_assert_cmpfloat (w[i], ==, -1.0f);
  }
  VvcuGraphExec *e = NULL;
  g_assert_cmpint (vvcu_graph_instantiate (&e, g), ==, 0);
  vvcu_graph_destroy (g);       /* the executable graph is independent of it */
  for (int rep = 1; rep <= 3; rep++) {
    x[0] = (float) (10 * rep); /* read at replay time */
    g_assert_cmpint (vvcu_graph_launch (e, s), ==, 0);
    g_assert_cmpfloat (y[1], ==, 2.0f * rep);
    g_assert_cmpfloat (w[1], ==, 2.0f * rep);
    g_assert_cmpfloat (w[0], ==, y[0]);
  }
  g_assert_cmpfloat (y[0], ==, 2.0f * (10 + 20 + 30));
  vvcu_graph_exec_destroy (e);

  /* a legacy-stream call fails while capturing and invalidates the capture;
   * so does synchronising the stream and a bad launch */
  for (int what = 0; what < 3; what++) {
    g_assert_cmpint (vvcu_stream_begin_capture (s), ==, 0);
    int rc = what == 0 ? vvcu_memcpy_dtod (pw, py, sizeof (float) * n)
        : what == 1 ? vvcu_stream_synchronize (s)
        : VV_LAUNCH (k_axpy, 1, 4096, s, py, px, a, n);
    g_assert_cmpint (rc, !=, 0);
    g = NULL;
    rc = vvcu_stream_end_capture (s, &g);
    g_assert_null (g);
    g_assert_nonnull (strstr (vvcu_error_string (rc), "previous error during capture"));
  }
  /* and works once the capture is over */
  g_assert_cmpint (vvcu_memcpy_dtod (pw, py, sizeof (float) * n), ==, 0);
  g_assert_cmpint (vvcu_stream_end_capture (s, &g), !=, 0);  /* not capturing */
  vvcu_stream_destroy (s);
  vvcu_stream_destroy (other);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cuda-emu/indices", test_indices);
  g_test_add_func ("/cuda-emu/syncthreads", test_syncthreads);
  g_test_add_func ("/cuda-emu/race-detected", test_race_detected);
  g_test_add_func ("/cuda-emu/warp-ops", test_warp_ops);
  g_test_add_func ("/cuda-emu/errors", test_errors);
  g_test_add_func ("/cuda-emu/graph-capture", test_graph_capture);
  return g_test_run ();
}
