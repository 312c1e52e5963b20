/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The CUDA kernels of the CUDA backend (declared in vv-cuda-kernels.h).
 * Included by vv-cuda-kernels.cu (nvcc, after <cuda_runtime.h>) and by
 * vv-cuda-kernels-emu.cc (g++, after cuda-emu.h); the includer defines
 * VV_LAUNCH / VV_LAUNCH_SYNC, vvk_bf16 / vvk_f16 conversions and
 * vvk_error_string. Only the CUDA subset cuda-emu.h emulates is used here.
 *
 * Numerics follow the CPU backend's expressions (vv-backend-cpu*.c) where
 * the order of a sum does not matter for the tolerance: fp32 everywhere,
 * double where the CPU uses double (RMS sums, RoPE angles).
 */

#include "vv-cuda-kernels.h"

#define VVK_THREADS 256
#define VVK_MAX_BLOCKS 4096

static inline unsigned
vvk_blocks (int64_t n, int64_t per_block)
{
  int64_t b = (n + per_block - 1) / per_block;
  return (unsigned) (b < 1 ? 1 : b > VVK_MAX_BLOCKS ? VVK_MAX_BLOCKS : b);
}

/* grid-stride loop over [0, n) */
#define VVK_FOR(i, n) \
  for (int64_t i = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t) gridDim.x * blockDim.x)

__device__ __forceinline__ float
vvk_load (const void *p, int t, int64_t i)
{
  switch (t) {
    case VVK_F32:
      return ((const float *) p)[i];
    case VVK_BF16:
      return vvk_bf16_to_f32 (((const uint16_t *) p)[i]);
    case VVK_F16:
      return vvk_f16_to_f32 (((const uint16_t *) p)[i]);
    default:
      return 0.0f;
  }
}

template <int T> __device__ __forceinline__ float
vvk_load_t (const void *p, int64_t i)
{
  if (T == VVK_F32)
    return ((const float *) p)[i];
  else if (T == VVK_BF16)
    return vvk_bf16_to_f32 (((const uint16_t *) p)[i]);
  else
    return vvk_f16_to_f32 (((const uint16_t *) p)[i]);
}

__device__ __forceinline__ float
vvk_warp_sum (float v)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

/* ---------------------------------------------------------------------- */
/* linear: GEMV for a few rows (decode), reading each weight once */

#define VVK_GEMV_WARPS 8

template <int WT> __global__ void
k_gemv (float *y, const float *x, const void *w, const void *bias, int bt, int n,
    int64_t in, int64_t out)
{
  int64_t o = (int64_t) blockIdx.x * VVK_GEMV_WARPS + threadIdx.x / 32;
  unsigned lane = threadIdx.x % 32;
  /* whole warps stay together (shuffles need every lane) */
  bool active = o < out;
  float acc[VVK_GEMV_MAX_ROWS];
  for (int r = 0; r < VVK_GEMV_MAX_ROWS; r++)
    acc[r] = 0.0f;
  if (active) {
    for (int64_t i = lane; i < in; i += 32) {
      float wi = vvk_load_t<WT> (w, o * in + i);
      for (int r = 0; r < n; r++)
        acc[r] += wi * x[r * in + i];
    }
  }
  for (int r = 0; r < n; r++)
    acc[r] = vvk_warp_sum (acc[r]);
  if (active && lane == 0) {
    float b = bias ? vvk_load (bias, bt, o) : 0.0f;
    for (int r = 0; r < n; r++)
      y[r * out + o] = acc[r] + b;
  }
}

extern "C" int
vvk_gemv (VvkStream s, float *y, const float *x, const void *w, VvkType wt, const void *bias,
    VvkType bt, int n, int64_t in, int64_t out)
{
  unsigned blocks = (unsigned) ((out + VVK_GEMV_WARPS - 1) / VVK_GEMV_WARPS);
  dim3 block (32 * VVK_GEMV_WARPS);
  switch (wt) {
    case VVK_F32:
      return VV_LAUNCH_SYNC (k_gemv<VVK_F32>, blocks, block, s, y, x, w, bias, bt, n, in, out);
    case VVK_F16:
      return VV_LAUNCH_SYNC (k_gemv<VVK_F16>, blocks, block, s, y, x, w, bias, bt, n, in, out);
    default:
      return VV_LAUNCH_SYNC (k_gemv<VVK_BF16>, blocks, block, s, y, x, w, bias, bt, n, in, out);
  }
}

__global__ void
k_add_bias (float *y, const void *bias, int bt, int64_t n, int64_t out)
{
  VVK_FOR (i, n * out)
    y[i] += vvk_load (bias, bt, i % out);
}

extern "C" int
vvk_add_bias (VvkStream s, float *y, const void *bias, VvkType bt, int64_t n, int64_t out)
{
  return VV_LAUNCH (k_add_bias, vvk_blocks (n * out, VVK_THREADS), VVK_THREADS, s, y, bias,
      (int) bt, n, out);
}

/* round to nearest even, NaN kept quiet */
__device__ __forceinline__ uint16_t
vvk_f32_to_bf16 (float f)
{
  unsigned u = __float_as_uint (f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t) ((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t) (u >> 16);
}

__global__ void
k_split (uint16_t *parts, int t, const float *x, int64_t n, int n_parts)
{
  VVK_FOR (i, n) {
    float rest = x[i];
    for (int p = 0; p < n_parts; p++) {
      uint16_t h = t == VVK_BF16 ? vvk_f32_to_bf16 (rest) : vvk_f32_to_f16 (rest);
      parts[p * n + i] = h;
      rest -= t == VVK_BF16 ? vvk_bf16_to_f32 (h) : vvk_f16_to_f32 (h);
    }
  }
}

extern "C" int
vvk_split (VvkStream s, void *parts, VvkType t, const float *x, int64_t n, int n_parts)
{
  return VV_LAUNCH (k_split, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, (uint16_t *) parts,
      (int) t, x, n, n_parts);
}

/* ---------------------------------------------------------------------- */
/* rms_norm: one block per row; sum of squares in double like the CPU */

__global__ void
k_rms_norm (float *y, const float *x, const void *w, int wt, int64_t d, float eps)
{
  __shared__ double part[VVK_THREADS];
  const float *xr = x + (int64_t) blockIdx.x * d;
  float *yr = y + (int64_t) blockIdx.x * d;
  int nt = blockDim.x;          /* a power of two */
  double s = 0.0;
  for (int64_t k = threadIdx.x; k < d; k += nt)
    s += (double) xr[k] * xr[k];
  part[threadIdx.x] = s;
  __syncthreads ();
  for (int half = nt / 2; half > 0; half >>= 1) {
    if ((int) threadIdx.x < half)
      part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads ();
  }
  float r = (float) (1.0 / sqrt (part[0] / (double) d + (double) eps));
  for (int64_t k = threadIdx.x; k < d; k += nt)
    yr[k] = w ? (xr[k] * r) * vvk_load (w, wt, k) : xr[k] * r;
}

extern "C" int
vvk_rms_norm (VvkStream s, float *y, const float *x, const void *w, VvkType wt, int64_t rows,
    int64_t d, float eps)
{
  if (rows == 0)
    return 0;
  /* narrow rows (the σ-VAE's channels) get narrow blocks */
  unsigned nt = 32;
  while (nt < VVK_THREADS && nt < d)
    nt *= 2;
  return VV_LAUNCH_SYNC (k_rms_norm, (unsigned) rows, nt, s, y, x, w, (int) wt, d, eps);
}

/* ---------------------------------------------------------------------- */
/* element-wise */

__global__ void
k_unary (int op, float *y, const float *x, int64_t n)
{
  VVK_FOR (i, n) {
    float a = x[i];
    y[i] = op == VVK_SILU ? a / (1.0f + expf (-a))
        : 0.5f * a * (1.0f + erff (a * 0.70710678118654752440f));
  }
}

extern "C" int
vvk_unary (VvkStream s, int op, float *y, const float *x, int64_t n)
{
  return VV_LAUNCH (k_unary, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, op, y, x, n);
}

__global__ void
k_binary (int op, float *y, const float *a, const float *b, int64_t n, int64_t nb)
{
  VVK_FOR (i, n) {
    float bv = b[nb == n ? i : i % nb];
    y[i] = op == VVK_ADD ? a[i] + bv : a[i] * bv;
  }
}

extern "C" int
vvk_binary (VvkStream s, int op, float *y, const float *a, const float *b, int64_t n, int64_t nb)
{
  return VV_LAUNCH (k_binary, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, op, y, a, b, n, nb);
}

__global__ void
k_scale (float *y, const float *a, float k, int64_t n)
{
  VVK_FOR (i, n)
    y[i] = a[i] * k;
}

extern "C" int
vvk_scale (VvkStream s, float *y, const float *a, float k, int64_t n)
{
  return VV_LAUNCH (k_scale, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, y, a, k, n);
}

__global__ void
k_affine (int op, float *y, const float *x, float a, float b, int64_t n)
{
  VVK_FOR (i, n)
    y[i] = op == VVK_DIV_SUB ? x[i] / a - b : (x[i] + b) * a;
}

extern "C" int
vvk_affine (VvkStream s, int op, float *y, const float *x, float a, float b, int64_t n)
{
  return VV_LAUNCH (k_affine, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, op, y, x, a, b, n);
}

__global__ void
k_get_rows (float *y, const void *table, int tt, int64_t table_rows, int64_t d,
    const int32_t *ids, VvkErrors *err)
{
  int64_t i = blockIdx.x;
  int32_t id = ids[i];
  if (id < 0 || id >= table_rows) {
    if (threadIdx.x == 0)
      atomicMax (&err->get_rows_index, (int) (gridDim.x - i));
    return;
  }
  for (int64_t k = threadIdx.x; k < d; k += blockDim.x)
    y[i * d + k] = vvk_load (table, tt, (int64_t) id * d + k);
}

extern "C" int
vvk_get_rows (VvkStream s, float *y, const void *table, VvkType tt, int64_t table_rows,
    int64_t d, const int32_t *ids, int64_t n_ids, VvkErrors *err)
{
  if (n_ids == 0)
    return 0;
  return VV_LAUNCH (k_get_rows, (unsigned) n_ids, VVK_THREADS, s, y, table, (int) tt,
      table_rows, d, ids, err);
}

/* ---------------------------------------------------------------------- */
/* convolutions over time (time-major rows) */

__global__ void
k_im2col (float *col, const float *x, int64_t t_out, int64_t c_in, int k, int stride)
{
  int64_t width = c_in * k;
  VVK_FOR (i, t_out * width) {
    int64_t t = i / width, r = i % width;
    int64_t ci = r / k, j = r % k;
    col[i] = x[(t * stride + j) * c_in + ci];
  }
}

extern "C" int
vvk_im2col (VvkStream s, float *col, const float *x, int64_t t_out, int64_t c_in, int k,
    int stride)
{
  return VV_LAUNCH (k_im2col, vvk_blocks (t_out * c_in * k, VVK_THREADS), VVK_THREADS, s, col,
      x, t_out, c_in, k, stride);
}

__global__ void
k_conv_depthwise (float *y, const float *x, const void *w, int wt, const void *bias, int bt,
    int64_t t_out, int64_t c, int k, int stride)
{
  VVK_FOR (i, t_out * c) {
    int64_t t = i / c, ch = i % c;
    float acc = 0.0f;
    for (int j = 0; j < k; j++)
      acc += x[(t * stride + j) * c + ch] * vvk_load (w, wt, ch * k + j);
    y[i] = bias ? acc + vvk_load (bias, bt, ch) : acc;
  }
}

extern "C" int
vvk_conv_depthwise (VvkStream s, float *y, const float *x, const void *w, VvkType wt,
    const void *bias, VvkType bt, int64_t t_out, int64_t c, int k, int stride)
{
  return VV_LAUNCH (k_conv_depthwise, vvk_blocks (t_out * c, VVK_THREADS), VVK_THREADS, s, y,
      x, w, (int) wt, bias, (int) bt, t_out, c, k, stride);
}

__global__ void
k_col2im_transposed (float *y, const float *z, const void *bias, int bt, int64_t t_in,
    int64_t t_out, int64_t c_out, int k, int stride)
{
  int64_t zw = c_out * k;
  VVK_FOR (i, t_out * c_out) {
    int64_t t = i / c_out, co = i % c_out;
    float acc = 0.0f;
    /* the taps j with t − j = stride·ti, 0 ≤ ti < t_in */
    for (int j = (int) (t % stride); j < k; j += stride) {
      int64_t ti = (t - j) / stride;
      if (t - j >= 0 && ti < t_in)
        acc += z[ti * zw + co * k + j];
    }
    y[i] = bias ? acc + vvk_load (bias, bt, co) : acc;
  }
}

extern "C" int
vvk_col2im_transposed (VvkStream s, float *y, const float *z, const void *bias, VvkType bt,
    int64_t t_in, int64_t t_out, int64_t c_out, int k, int stride)
{
  return VV_LAUNCH (k_col2im_transposed, vvk_blocks (t_out * c_out, VVK_THREADS), VVK_THREADS,
      s, y, z, bias, (int) bt, t_in, t_out, c_out, k, stride);
}

/* ---------------------------------------------------------------------- */
/* RoPE: angle in F32 from the F32 inverse frequency, cos/sin in double
 * (as vv-backend-cpu-attn.c) */

__global__ void
k_rope (float *y, const float *x, int64_t n, int64_t width, int d, const int32_t *positions,
    double theta, VvkErrors *err)
{
  int half = d / 2;
  int64_t per_row = width / 2;
  VVK_FOR (i, n * per_row) {
    int64_t r = i / per_row, rem = i % per_row;
    int64_t h = rem / half;
    int j = (int) (rem % half);
    int32_t p = positions[r];
    if (p < 0) {
      atomicMax (&err->rope_row, (int) (n - r));
      continue;
    }
    float inv_freq = (float) (1.0 / pow (theta, (double) (2 * j) / d));
    float a = (float) p * inv_freq;
    float cs = (float) cos ((double) a), sn = (float) sin ((double) a);
    const float *xh = x + r * width + h * d;
    float *yh = y + r * width + h * d;
    float x1 = xh[j], x2 = xh[j + half];
    yh[j] = x1 * cs - x2 * sn;
    yh[j + half] = x2 * cs + x1 * sn;
  }
}

extern "C" int
vvk_rope (VvkStream s, float *y, const float *x, int64_t n, int64_t width, int d,
    const int32_t *positions, double theta, VvkErrors *err)
{
  return VV_LAUNCH (k_rope, vvk_blocks (n * width / 2, VVK_THREADS), VVK_THREADS, s, y, x, n,
      width, d, positions, theta, err);
}

/* ---------------------------------------------------------------------- */
/* Attention: split-K over the keys with an online softmax per split, then
 * a log-sum-exp merge. The split ranges depend only on T, so results do
 * not depend on the GPU. */

#define VVK_ATTN_THREADS 128
#define VVK_ATTN_MAX_D 256
#define VVK_ATTN_MIN_KEYS 256
#define VVK_ATTN_MAX_SPLIT 32

extern "C" int
vvk_attention_n_split (int64_t t)
{
  int64_t s = (t + VVK_ATTN_MIN_KEYS - 1) / VVK_ATTN_MIN_KEYS;
  return (int) (s < 1 ? 1 : s > VVK_ATTN_MAX_SPLIT ? VVK_ATTN_MAX_SPLIT : s);
}

__device__ __forceinline__ float
vvk_block_reduce (float v, float *buf, bool is_max)
{
  buf[threadIdx.x] = v;
  __syncthreads ();
  for (int half = VVK_ATTN_THREADS / 2; half > 0; half >>= 1) {
    if ((int) threadIdx.x < half) {
      float o = buf[threadIdx.x + half];
      buf[threadIdx.x] = is_max ? fmaxf (buf[threadIdx.x], o) : buf[threadIdx.x] + o;
    }
    __syncthreads ();
  }
  float r = buf[0];
  __syncthreads ();             /* buf is reused by the next reduction */
  return r;
}

/* grid (n·hq, n_split); partial[(item·n_split + split)·(d + 2)] = m, l, acc[d];
 * keys and values of dtype KT (F32 or BF16, the KV cache's) */
template <int KT> __global__ void
k_attn_partial (float *partial, const float *q, const void *k, const void *v, int64_t n,
    int64_t t_total, int64_t hq, int64_t hkv, int d, int n_split, float scale)
{
  __shared__ float qs[VVK_ATTN_MAX_D];
  __shared__ float p[VVK_ATTN_THREADS];
  __shared__ float red[VVK_ATTN_THREADS];
  int64_t item = blockIdx.x;
  int split = blockIdx.y;
  int64_t i = item / hq, h = item % hq;
  int64_t kvh = h / (hq / hkv);
  int64_t q_stride = hq * d, kv_stride = hkv * d;
  int64_t last = t_total - n + i;             /* causal: keys 0 … last */
  int64_t per = (t_total + n_split - 1) / n_split;
  int64_t k0 = (int64_t) split * per;
  int64_t k1 = k0 + per < last + 1 ? k0 + per : last + 1;

  for (int j = threadIdx.x; j < d; j += VVK_ATTN_THREADS)
    qs[j] = q[i * q_stride + h * d + j];
  __syncthreads ();

  float m = -INFINITY, l = 0.0f;
  float acc[VVK_ATTN_MAX_D / VVK_ATTN_THREADS];
  for (int a = 0; a < VVK_ATTN_MAX_D / VVK_ATTN_THREADS; a++)
    acc[a] = 0.0f;

  for (int64_t base = k0; base < k1; base += VVK_ATTN_THREADS) {
    int64_t key = base + threadIdx.x;
    float sc = -INFINITY;
    if (key < k1) {
      int64_t kr = key * kv_stride + kvh * d;
      float dot = 0.0f;
      for (int j = 0; j < d; j++)
        dot += qs[j] * vvk_load_t<KT> (k, kr + j);
      sc = dot * scale;
    }
    float tile_max = vvk_block_reduce (sc, red, true);
    float m_new = fmaxf (m, tile_max);
    float corr = expf (m - m_new);            /* 0 on the first tile */
    float pv = key < k1 ? expf (sc - m_new) : 0.0f;
    p[threadIdx.x] = pv;
    float tile_sum = vvk_block_reduce (pv, red, false);   /* also orders p[] */
    l = l * corr + tile_sum;
    int64_t len = k1 - base < VVK_ATTN_THREADS ? k1 - base : VVK_ATTN_THREADS;
    for (int a = 0; a * VVK_ATTN_THREADS + (int) threadIdx.x < d; a++) {
      int j = a * VVK_ATTN_THREADS + threadIdx.x;
      float s = 0.0f;
      for (int64_t u = 0; u < len; u++)
        s += p[u] * vvk_load_t<KT> (v, (base + u) * kv_stride + kvh * d + j);
      acc[a] = acc[a] * corr + s;
    }
    m = m_new;
    __syncthreads ();           /* p[] is rewritten by the next tile */
  }
  float *out = partial + (item * n_split + split) * (int64_t) (d + 2);
  if (threadIdx.x == 0) {
    out[0] = m;
    out[1] = l;
  }
  for (int a = 0; a * VVK_ATTN_THREADS + (int) threadIdx.x < d; a++)
    out[2 + a * VVK_ATTN_THREADS + threadIdx.x] = acc[a];
}

/* The same partials, one block per (row, KV head, split) for all G query
 * heads of the group (GQA 6:1 at 1.5B): each thread reads its key row once
 * for the G heads instead of G blocks reading it. Per head, the dot, the
 * block reductions and the value sums run in the same order as in
 * k_attn_partial, so the partials are the same bits. grid (n·hkv, n_split) */
#define VVK_ATTN_MAX_G 8

template <int KT> __global__ void
k_attn_partial_group (float *partial, const float *q, const void *k, const void *v, int64_t n,
    int64_t t_total, int64_t hq, int64_t hkv, int d, int n_split, float scale)
{
  __shared__ float qs[VVK_ATTN_MAX_G * VVK_ATTN_MAX_D];
  __shared__ float p[VVK_ATTN_MAX_G * VVK_ATTN_THREADS];
  __shared__ float red[VVK_ATTN_THREADS];
  int64_t item = blockIdx.x;
  int split = blockIdx.y;
  int64_t i = item / hkv, kvh = item % hkv;
  int g = (int) (hq / hkv);
  int64_t h0 = kvh * g;
  int64_t q_stride = hq * d, kv_stride = hkv * d;
  int64_t last = t_total - n + i;
  int64_t per = (t_total + n_split - 1) / n_split;
  int64_t k0 = (int64_t) split * per;
  int64_t k1 = k0 + per < last + 1 ? k0 + per : last + 1;

  for (int j = threadIdx.x; j < g * d; j += VVK_ATTN_THREADS)
    qs[j] = q[i * q_stride + h0 * d + j];
  __syncthreads ();

  float m[VVK_ATTN_MAX_G], l[VVK_ATTN_MAX_G];
  float acc[VVK_ATTN_MAX_G][VVK_ATTN_MAX_D / VVK_ATTN_THREADS];
  for (int hh = 0; hh < g; hh++) {
    m[hh] = -INFINITY;
    l[hh] = 0.0f;
    for (int a = 0; a < VVK_ATTN_MAX_D / VVK_ATTN_THREADS; a++)
      acc[hh][a] = 0.0f;
  }

  for (int64_t base = k0; base < k1; base += VVK_ATTN_THREADS) {
    int64_t key = base + threadIdx.x;
    float sc[VVK_ATTN_MAX_G];
    for (int hh = 0; hh < g; hh++)
      sc[hh] = -INFINITY;
    if (key < k1) {
      int64_t kr = key * kv_stride + kvh * d;
      float dot[VVK_ATTN_MAX_G];
      for (int hh = 0; hh < g; hh++)
        dot[hh] = 0.0f;
      for (int j = 0; j < d; j++) {
        float kj = vvk_load_t<KT> (k, kr + j);
        for (int hh = 0; hh < g; hh++)
          dot[hh] += qs[hh * d + j] * kj;
      }
      for (int hh = 0; hh < g; hh++)
        sc[hh] = dot[hh] * scale;
    }
    int64_t len = k1 - base < VVK_ATTN_THREADS ? k1 - base : VVK_ATTN_THREADS;
    float corr[VVK_ATTN_MAX_G];
    for (int hh = 0; hh < g; hh++) {
      float tile_max = vvk_block_reduce (sc[hh], red, true);
      float m_new = fmaxf (m[hh], tile_max);
      corr[hh] = expf (m[hh] - m_new);
      float pv = key < k1 ? expf (sc[hh] - m_new) : 0.0f;
      p[hh * VVK_ATTN_THREADS + threadIdx.x] = pv;
      float tile_sum = vvk_block_reduce (pv, red, false);   /* also orders p[] */
      l[hh] = l[hh] * corr[hh] + tile_sum;
      m[hh] = m_new;
    }
    for (int a = 0; a * VVK_ATTN_THREADS + (int) threadIdx.x < d; a++) {
      int j = a * VVK_ATTN_THREADS + threadIdx.x;
      float sv[VVK_ATTN_MAX_G];
      for (int hh = 0; hh < g; hh++)
        sv[hh] = 0.0f;
      for (int64_t u = 0; u < len; u++) {
        float vj = vvk_load_t<KT> (v, (base + u) * kv_stride + kvh * d + j);
        for (int hh = 0; hh < g; hh++)
          sv[hh] += p[hh * VVK_ATTN_THREADS + u] * vj;
      }
      for (int hh = 0; hh < g; hh++)
        acc[hh][a] = acc[hh][a] * corr[hh] + sv[hh];
    }
    __syncthreads ();           /* p[] is rewritten by the next tile */
  }
  for (int hh = 0; hh < g; hh++) {
    float *out = partial + ((i * hq + h0 + hh) * n_split + split) * (int64_t) (d + 2);
    if (threadIdx.x == 0) {
      out[0] = m[hh];
      out[1] = l[hh];
    }
    for (int a = 0; a * VVK_ATTN_THREADS + (int) threadIdx.x < d; a++)
      out[2 + a * VVK_ATTN_THREADS + threadIdx.x] = acc[hh][a];
  }
}

/* grid n·hq, threads over d */
__global__ void
k_attn_merge (float *y, const float *partial, int64_t hq, int d, int n_split)
{
  int64_t item = blockIdx.x;
  int64_t i = item / hq, h = item % hq;
  const float *pp = partial + item * n_split * (int64_t) (d + 2);
  float big = -INFINITY;
  for (int s = 0; s < n_split; s++)
    big = fmaxf (big, pp[s * (d + 2)]);
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < n_split; s++) {
      const float *ps = pp + s * (d + 2);
      if (ps[1] == 0.0f)
        continue;               /* an empty split (past the causal limit) */
      float wgt = expf (ps[0] - big);
      num += ps[2 + j] * wgt;
      den += ps[1] * wgt;
    }
    y[i * hq * d + h * d + j] = num / den;
  }
}

extern "C" int
vvk_attention (VvkStream s, float *y, const float *q, const void *k, const void *v, VvkType kvt,
    int64_t n, int64_t t, int64_t hq, int64_t hkv, int d, int n_split, float *partial)
{
  if (n == 0)
    return 0;
  float scale = (float) (1.0 / sqrt ((double) d));
  int rc;
  if (hq / hkv <= VVK_ATTN_MAX_G) {
    /* one block per KV group: each key read once for its query heads */
    dim3 grid ((unsigned) (n * hkv), (unsigned) n_split);
    rc = kvt == VVK_BF16
        ? VV_LAUNCH_SYNC (k_attn_partial_group<VVK_BF16>, grid, VVK_ATTN_THREADS, s, partial, q,
            k, v, n, t, hq, hkv, d, n_split, scale)
        : VV_LAUNCH_SYNC (k_attn_partial_group<VVK_F32>, grid, VVK_ATTN_THREADS, s, partial, q,
            k, v, n, t, hq, hkv, d, n_split, scale);
  } else {
    dim3 grid ((unsigned) (n * hq), (unsigned) n_split);
    rc = kvt == VVK_BF16
        ? VV_LAUNCH_SYNC (k_attn_partial<VVK_BF16>, grid, VVK_ATTN_THREADS, s, partial, q, k, v,
            n, t, hq, hkv, d, n_split, scale)
        : VV_LAUNCH_SYNC (k_attn_partial<VVK_F32>, grid, VVK_ATTN_THREADS, s, partial, q, k, v,
            n, t, hq, hkv, d, n_split, scale);
  }
  if (rc != 0)
    return rc;
  return VV_LAUNCH (k_attn_merge, (unsigned) (n * hq), 128, s, y, partial, hq, d, n_split);
}

/* ---------------------------------------------------------------------- */
/* diffusion-head and sampler ops (expressions as in vv-backend-cpu.c) */

__global__ void
k_timestep_embedding (float *y, int64_t rows, int64_t d, float t, float neg_log_max_period)
{
  int64_t half = d / 2;
  VVK_FOR (i, rows * half) {
    int64_t r = i / half, kk = i % half;
    float f = expf (neg_log_max_period * (float) kk / (float) half);
    float arg = t * f;
    y[r * d + kk] = cosf (arg);
    y[r * d + half + kk] = sinf (arg);
  }
}

extern "C" int
vvk_timestep_embedding (VvkStream s, float *y, int64_t rows, int64_t d, float t,
    float neg_log_max_period)
{
  return VV_LAUNCH (k_timestep_embedding, vvk_blocks (rows * (d / 2), VVK_THREADS), VVK_THREADS,
      s, y, rows, d, t, neg_log_max_period);
}

__global__ void
k_modulate (float *y, const float *x, const float *ada, int64_t n, int64_t d, int64_t c,
    int shift_col, int scale_col)
{
  VVK_FOR (i, n * d) {
    int64_t r = i / d, kk = i % d;
    y[i] = x[i] * (1.0f + ada[r * c + scale_col + kk]) + ada[r * c + shift_col + kk];
  }
}

extern "C" int
vvk_modulate (VvkStream s, float *y, const float *x, const float *ada, int64_t n, int64_t d,
    int64_t c, int shift_col, int scale_col)
{
  return VV_LAUNCH (k_modulate, vvk_blocks (n * d, VVK_THREADS), VVK_THREADS, s, y, x, ada, n, d,
      c, shift_col, scale_col);
}

__global__ void
k_gated_add (float *y, const float *x, const float *ada, int gate_col, const float *o,
    int64_t n, int64_t d, int64_t c)
{
  VVK_FOR (i, n * d) {
    int64_t r = i / d, kk = i % d;
    y[i] = x[i] + ada[r * c + gate_col + kk] * o[i];
  }
}

extern "C" int
vvk_gated_add (VvkStream s, float *y, const float *x, const float *ada, int gate_col,
    const float *o, int64_t n, int64_t d, int64_t c)
{
  return VV_LAUNCH (k_gated_add, vvk_blocks (n * d, VVK_THREADS), VVK_THREADS, s, y, x, ada,
      gate_col, o, n, d, c);
}

__global__ void
k_cfg_combine (float *y, const float *cond, const float *uncond, float scale, int64_t n)
{
  VVK_FOR (i, n)
    y[i] = uncond[i] + scale * (cond[i] - uncond[i]);
}

extern "C" int
vvk_cfg_combine (VvkStream s, float *y, const float *cond, const float *uncond, float scale,
    int64_t n)
{
  return VV_LAUNCH (k_cfg_combine, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, y, cond, uncond,
      scale, n);
}

__global__ void
k_dpm_step (float *y, const float *x, const float *v, float *prev_d, int order, float a_s,
    float s_s, float ratio, float coef, float half_coef, float r_inv, int64_t n)
{
  VVK_FOR (i, n) {
    float d = a_s * x[i] - s_s * v[i];
    float out;
    if (order == 1) {
      out = ratio * x[i] + coef * d;
    } else {
      float d1 = r_inv * (d - prev_d[i]);
      out = ratio * x[i] + coef * d + half_coef * d1;
    }
    prev_d[i] = d;
    y[i] = out;
  }
}

extern "C" int
vvk_dpm_step (VvkStream s, float *y, const float *x, const float *v, float *prev_d, int order,
    float alpha_s, float sigma_s, float ratio, float coef, float half_coef, float r_inv,
    int64_t n)
{
  return VV_LAUNCH (k_dpm_step, vvk_blocks (n, VVK_THREADS), VVK_THREADS, s, y, x, v, prev_d,
      order, alpha_s, sigma_s, ratio, coef, half_coef, r_inv, n);
}
