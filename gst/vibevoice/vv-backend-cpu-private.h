/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* Shared between the CPU backend's source files (vv-backend-cpu.c, -conv.c,
 * -attn.c and -amx.c); not installed. */

#include "vv-backend-impl.h"
#include "vv-threadpool.h"

/* VV_NO_SIMD builds only the portable kernels (as on non-x86 targets). */
#if defined(__x86_64__) && !defined(VV_NO_SIMD)
#define VV_HAVE_X86_SIMD 1
#include <immintrin.h>

/* SIMD kernels are compiled with target attributes and chosen at run time
 * (CpuBackend.isa), so the library still runs on any x86-64. */
#define VV_INLINE static inline __attribute__ ((always_inline))
#define VV_AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define VV_AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl")))

VV_INLINE VV_AVX2 gfloat
avx2_hsum (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

#endif

G_BEGIN_DECLS

/* One element of a weight or bias tensor, widened to F32 (the scalar tails
 * and bias adds of every CPU kernel file). */
static inline gfloat
vv_cpu_weight_at (const void *p, VvDType d, gint64 i)
{
  switch (d) {
    case VV_DTYPE_F32:
      return ((const gfloat *) p)[i];
    case VV_DTYPE_BF16:
      return vv_bf16_to_f32 (((const guint16 *) p)[i]);
    case VV_DTYPE_F16:
      return vv_f16_to_f32 (((const guint16 *) p)[i]);
    case VV_DTYPE_I32:
    case VV_DTYPE_I8:
      break;                    /* never a bias or conv weight (checked by the wrappers) */
  }
  return 0.0f;
}


typedef enum {
  CPU_ISA_SCALAR,
  CPU_ISA_AVX2,
  CPU_ISA_AVX512,
} CpuIsa;

/* y[j * ldy + r] = Σ_k w[r, k] · x[j, k] for r < rows, j < n; w points at
 * the first of @rows weight rows of length @in, x is [n, in]. */
typedef void (*GemvFunc) (const void *w, gint64 in, gint64 rows,
    const gfloat *x, gint n, gfloat *y, gint64 ldy);
/* dst[i] = f32 (src[i]) */
typedef void (*ConvertFunc) (const void *src, gfloat *dst, gint64 n);

typedef struct {
  VvThreadPool *pool;
  CpuIsa isa;
  GemvFunc gemv[VV_DTYPE_I8 + 1];   /* indexed by VvDType (I8: codes only, scaled after) */
  ConvertFunc convert[VV_DTYPE_BF16 + 1];
  gfloat **scratch;             /* n_threads panels for the sgemm path */
  gsize scratch_floats;         /* size of each */
  gfloat *attn_partial;         /* split-K attention partials (one op at a time) */
  gsize attn_partial_floats;
  gint amx_parts;               /* BF16 terms per activation on AMX; 0: no AMX */
  guint16 *amx_xp;              /* packed activations (vv-backend-cpu-amx.c) */
  gsize amx_xp_bytes;
  gfloat *amx_ct;               /* transposed F32 accumulators */
  gsize amx_ct_bytes;
  guint16 *amx_tail;            /* zero-padded last weight block */
  gsize amx_tail_bytes;
  gboolean i8_avx2;             /* VV_CPU_I8=avx2: the AVX2 int8 gemv under avx512 */
  gint bf16_gemm;               /* large-n BF16 linear() with vdpbf16ps (-bf16.c):
                                 * BF16 terms per activation; 0: not used */
  guint32 *bf16_xp;             /* packed BF16 activation pairs */
  gsize bf16_xp_bytes;
  gfloat *bf16_ct;              /* per-thread F32 partial sums */
  gsize bf16_ct_bytes;
} CpuBackend;

#define CPU(be) ((CpuBackend *) (be)->priv)

/* vv-backend-cpu-conv.c */
gboolean vv_cpu_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x,
    const VvTensor *w, const VvTensor *bias, gint stride, gint groups, GError **error);
gboolean vv_cpu_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x,
    const VvTensor *w, const VvTensor *bias, gint stride, GError **error);

/* vv-backend-cpu-amx.c */
gboolean vv_cpu_amx_detect (void);
gboolean vv_cpu_scratch_ensure (gpointer *buf, gsize *have, gsize want, const gchar *what,
    GError **error);
gboolean vv_cpu_amx_linear_supported (const CpuBackend *cpu, VvDType wdt, gint64 in, gint n);
gboolean vv_cpu_amx_linear (CpuBackend *cpu, gfloat *y, const guint16 *w, gint64 in,
    gint64 out, const gfloat *x, gint n, const void *bias, VvDType bdt, GError **error);

/* vv-backend-cpu-bf16.c */
gboolean vv_cpu_bf16_detect (void);
gboolean vv_cpu_bf16_linear_supported (const CpuBackend *cpu, VvDType wdt, gint n);
gboolean vv_cpu_bf16_linear (CpuBackend *cpu, gfloat *y, const guint16 *w, gint64 in,
    gint64 out, const gfloat *x, gint n, const void *bias, VvDType bdt, GError **error);

/* vv-backend-cpu-attn.c */
gboolean vv_cpu_rope (VvBackend *be, VvTensor *y, const VvTensor *x, gint head_dim,
    const VvTensor *positions, gdouble theta, GError **error);
gboolean vv_cpu_attention (VvBackend *be, VvTensor *y, const VvTensor *q,
    const VvTensor *k, const VvTensor *v, gint head_dim, GError **error);
/* y (I8 with scale groups) = x (F32) quantised per (row, group) */
gboolean vv_cpu_quantize_kv (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error);

G_END_DECLS
