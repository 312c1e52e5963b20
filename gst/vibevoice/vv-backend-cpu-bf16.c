/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-backend-cpu-private.h"

#include <string.h>

/*
 * linear() for many input rows (prefill) with BF16 weights on AVX512_BF16
 * (vdpbf16ps), where the CPU has it and VV_CPU_GEMM allows it.
 *
 * y[m, o] = Σ_k x[m, k] · w[o, k] + b[o], w in BF16 as stored. The
 * activations are split into @parts BF16 terms (round to nearest even),
 * x ≈ p0 + p1 + p2, p1 = bf16(x − p0), p2 = bf16(x − p0 − p1); each
 * product w · p_i is exact in F32 and accumulated in F32. 3 parts carry
 * x's 24 mantissa bits, so the result matches the sgemm path within F32
 * rounding; 2 keep 16 bits
 * (residual ≤ 2^-16 |x|); 1 rounds x to BF16 as the reference implementation does when it runs
 * in bf16 (fastest; not within the F32 conformance bounds). An infinite
 * activation gives NaN (its residual inf − inf), as it would give inf or
 * NaN in F32.
 *
 * vdpbf16ps multiplies 16 lanes of (a pair of BF16) by (a pair of BF16)
 * and adds both products into an F32 lane. The product is computed
 * transposed, C^T = W · X^T, so that weight pairs (w[o, 2j], w[o, 2j+1])
 * are 32-bit broadcasts read straight from the checkpoint rows: nothing
 * the size of the weights is repacked. X is packed once per call into
 * VNNI order, for each tile of 16 tokens and each k pair one 64-byte row
 * of (x[m, 2j], x[m, 2j+1]) for the 16 tokens m.
 *
 * Register blocking: 6 output rows × 4 token tiles (64 tokens) = 24
 * accumulators, 4 activation vectors and a broadcast; per k pair and part
 * 4 vector loads and 6 broadcasts feed 24 vdpbf16ps.
 *
 * Cache blocking: k is cut into chunks whose packed activations (all
 * tokens of the call) stay in L2 while a 6-row weight block (in L1) meets
 * every token tile; accumulators are parked in an F32 buffer C^T[out, m]
 * between chunks (stored and reloaded exactly, so chunking does not change
 * a sum). The last chunk writes y (and the bias) directly.
 *
 * Determinism: each y[m, o] is summed k pair by k pair in ascending order
 * (the parts in order within a pair) whatever the row grouping, the token's position, the number of tokens,
 * the chunking or the thread count (it differs from the sgemm path).
 */

#if defined(VV_HAVE_X86_SIMD)
#define VV_HAVE_BF16_GEMM 1
#include <cpuid.h>

#define VV_BF16 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512bf16")))

/* packed activations of one k chunk, all tokens: about this many bytes */
#define BF16_X_CHUNK_BYTES (512 << 10)
/* tokens per call of the blocked product (bounds the C^T buffer) */
#define BF16_MAX_M 256
#define BF16_R 6                /* output rows per register block */
#define BF16_MT 4               /* token tiles (of 16) per register block */

typedef gint32 vv_unaligned_i32 __attribute__ ((aligned (1), may_alias));
#endif

gboolean
vv_cpu_bf16_detect (void)
{
#if defined(VV_HAVE_BF16_GEMM)
  static gsize once = 0;
  static gboolean ok = FALSE;
  if (g_once_init_enter (&once)) {
    guint eax = 0, ebx, ecx, edx;
    /* CPUID.(7,1):EAX bit 5 AVX512_BF16; the rest as the avx512 kernels
     * (__builtin_cpu_supports also checks the OS saves the registers) */
    __builtin_cpu_init ();
    ok = __get_cpuid_count (7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5))
        && __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
        && __builtin_cpu_supports ("avx512vl");
    g_once_init_leave (&once, 1);
  }
  return ok;
#else
  return FALSE;
#endif
}

#if defined(VV_HAVE_BF16_GEMM)

typedef struct {
  const guint16 *w;             /* [out, in] BF16 */
  gint64 in, out;
  gint64 kp_n;                  /* k pairs, the last one half zero when in is odd */
  const gfloat *x;              /* [n, in] */
  gint n, m_tiles, parts;
  guint32 *xp;                  /* [parts][m_tiles][kp_n][16] */
  gfloat *ct;                   /* [out, m_tiles · 16] between k chunks */
  gfloat *y;                    /* [n, out] */
  const void *bias;
  VvDType bdt;
  gint64 n_groups, kp_chunk;
} Bf16Job;

/* ---- packing: x rounded to BF16, k pairs of 16 tokens side by side ---- */

static VV_BF16 void
bf16_pack_task (gint task, gint n_tasks, gpointer data)
{
  const Bf16Job *job = data;
  gint rows = job->m_tiles * 16;
  gint r0 = rows * task / n_tasks, r1 = rows * (task + 1) / n_tasks;
  for (gint m = r0; m < r1; m++) {
    const gsize part_stride = (gsize) job->m_tiles * job->kp_n * 16;
    guint32 *dst = job->xp + (gsize) (m / 16) * job->kp_n * 16 + m % 16;
    if (m >= job->n) {
      /* padding tokens: zeros, their sums are never read */
      for (gint p = 0; p < job->parts; p++)
        for (gint64 kp = 0; kp < job->kp_n; kp++)
          dst[p * part_stride + kp * 16] = 0;
      continue;
    }
    const gfloat *xr = job->x + (gsize) m * job->in;
    for (gint64 k = 0; k < job->in; k += 32) {
      gint64 rem = job->in - k;
      __mmask16 m0 = rem >= 16 ? 0xffff : (__mmask16) ((1u << rem) - 1);
      __mmask16 m1 = rem >= 32 ? 0xffff : rem <= 16 ? 0 : (__mmask16) ((1u << (rem - 16)) - 1);
      __m512 lo = _mm512_maskz_loadu_ps (m0, xr + k);
      __m512 hi = _mm512_maskz_loadu_ps (m1, xr + k + 16);
      gint64 nw = MIN (16, (rem + 1) / 2);
      for (gint p = 0; p < job->parts; p++) {
        /* word j = (bf16 x[k + 2j], bf16 x[k + 2j + 1]), zero past the
         * row; the next part is what this one's rounding left */
        __m256i blo = (__m256i) _mm512_cvtneps_pbh (lo);
        __m256i bhi = (__m256i) _mm512_cvtneps_pbh (hi);
        guint32 words[16];
        _mm512_storeu_si512 (words,
            _mm512_inserti64x4 (_mm512_castsi256_si512 (blo), bhi, 1));
        guint32 *d = dst + p * part_stride + (k / 2) * 16;
        for (gint64 j = 0; j < nw; j++)
          d[j * 16] = words[j];
        lo = _mm512_sub_ps (lo, _mm512_castsi512_ps (_mm512_slli_epi32
                (_mm512_cvtepu16_epi32 (blo), 16)));
        hi = _mm512_sub_ps (hi, _mm512_castsi512_ps (_mm512_slli_epi32
                (_mm512_cvtepu16_epi32 (bhi), 16)));
      }
    }
  }
}

/* ---- the register block ---- */

/* R output rows from @o × MT token tiles from @mt0 over k pairs
 * [kp0, kp1); @last: the final chunk, which writes y. */
VV_INLINE VV_BF16 void
bf16_block (const Bf16Job *job, gint64 o, gint mt0, gint64 kp0, gint64 kp1,
    gboolean last, const int R, const int MT)
{
  const gsize m_pad = (gsize) job->m_tiles * 16;
  gfloat *c = job->ct + (gsize) o * m_pad + (gsize) mt0 * 16;
  __m512 acc[BF16_R][BF16_MT];
#pragma GCC unroll 6
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int t = 0; t < MT; t++)
      acc[r][t] = kp0 == 0 ? _mm512_setzero_ps ()
          : _mm512_loadu_ps (c + (gsize) r * m_pad + t * 16);

  const guint32 *xb = job->xp + (gsize) mt0 * job->kp_n * 16;
  const gsize tstride = (gsize) job->kp_n * 16;
  const gsize pstride = (gsize) job->m_tiles * tstride;
  const gint parts = job->parts;
  const guint16 *w = job->w + (gsize) o * job->in;
  const gint64 in = job->in;
  /* full pairs; an odd row's last element is paired with zero below */
  const gint64 kfull = MIN (kp1, in / 2);
  for (gint64 kp = kp0; kp < kfull; kp++) {
    for (gint p = 0; p < parts; p++) {
      __m512i xv[BF16_MT];
#pragma GCC unroll 4
      for (int t = 0; t < MT; t++)
        xv[t] = _mm512_loadu_si512 (xb + p * pstride + t * tstride + kp * 16);
#pragma GCC unroll 6
      for (int r = 0; r < R; r++) {
        __m512i wv = _mm512_set1_epi32 (*(const vv_unaligned_i32 *) (w + r * in + 2 * kp));
#pragma GCC unroll 4
        for (int t = 0; t < MT; t++)
          acc[r][t] = _mm512_dpbf16_ps (acc[r][t], (__m512bh) wv, (__m512bh) xv[t]);
      }
    }
  }
  if (kp1 > in / 2 && (in & 1)) {
    gint64 kp = in / 2;
    for (gint p = 0; p < parts; p++) {
#pragma GCC unroll 6
      for (int r = 0; r < R; r++) {
        __m512i wv = _mm512_set1_epi32 ((gint32) w[r * in + in - 1]);
#pragma GCC unroll 4
        for (int t = 0; t < MT; t++)
          acc[r][t] = _mm512_dpbf16_ps (acc[r][t], (__m512bh) wv,
              (__m512bh) _mm512_loadu_si512 (xb + p * pstride + t * tstride + kp * 16));
      }
    }
  }

  if (!last) {
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
      for (int t = 0; t < MT; t++)
        _mm512_storeu_ps (c + (gsize) r * m_pad + t * 16, acc[r][t]);
    return;
  }
  /* y[m, o + r] for the block's real tokens, R consecutive floats a row */
  gfloat tmp[BF16_R][BF16_MT * 16];
  gfloat b[BF16_R];
#pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    b[r] = job->bias ? vv_cpu_weight_at (job->bias, job->bdt, o + r) : 0.0f;
#pragma GCC unroll 4
    for (int t = 0; t < MT; t++)
      _mm512_storeu_ps (tmp[r] + t * 16, acc[r][t]);
  }
  gint m0 = mt0 * 16, m1 = MIN (job->n, m0 + MT * 16);
  for (gint m = m0; m < m1; m++) {
    gfloat *yr = job->y + (gsize) m * job->out + o;
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
      yr[r] = tmp[r][m - m0] + b[r];
  }
}

#define BF16_BLOCK_CASE(R_, MT_) \
  case (R_) * 8 + (MT_): bf16_block (job, o, mt0, kp0, kp1, last, R_, MT_); break

static VV_BF16 void
bf16_block_any (const Bf16Job *job, gint64 o, gint mt0, gint64 kp0, gint64 kp1,
    gboolean last, gint R, gint MT)
{
  switch (R * 8 + MT) {
      BF16_BLOCK_CASE (6, 4); BF16_BLOCK_CASE (6, 3); BF16_BLOCK_CASE (6, 2);
      BF16_BLOCK_CASE (6, 1); BF16_BLOCK_CASE (5, 4); BF16_BLOCK_CASE (5, 3);
      BF16_BLOCK_CASE (5, 2); BF16_BLOCK_CASE (5, 1); BF16_BLOCK_CASE (4, 4);
      BF16_BLOCK_CASE (4, 3); BF16_BLOCK_CASE (4, 2); BF16_BLOCK_CASE (4, 1);
      BF16_BLOCK_CASE (3, 4); BF16_BLOCK_CASE (3, 3); BF16_BLOCK_CASE (3, 2);
      BF16_BLOCK_CASE (3, 1); BF16_BLOCK_CASE (2, 4); BF16_BLOCK_CASE (2, 3);
      BF16_BLOCK_CASE (2, 2); BF16_BLOCK_CASE (2, 1); BF16_BLOCK_CASE (1, 4);
      BF16_BLOCK_CASE (1, 3); BF16_BLOCK_CASE (1, 2); BF16_BLOCK_CASE (1, 1);
    default:
      g_assert_not_reached ();
  }
}

static VV_BF16 void
bf16_gemm_task (gint task, gint n_tasks, gpointer data)
{
  const Bf16Job *job = data;
  gint64 g0 = job->n_groups * task / n_tasks, g1 = job->n_groups * (task + 1) / n_tasks;
  for (gint64 kp0 = 0; kp0 < job->kp_n; kp0 += job->kp_chunk) {
    gint64 kp1 = MIN (job->kp_n, kp0 + job->kp_chunk);
    gboolean last = kp1 == job->kp_n;
    for (gint64 g = g0; g < g1; g++) {
      gint64 o = g * BF16_R;
      gint R = (gint) MIN (BF16_R, job->out - o);
      for (gint mt0 = 0; mt0 < job->m_tiles; mt0 += BF16_MT)
        bf16_block_any (job, o, mt0, kp0, kp1, last, R, MIN (BF16_MT, job->m_tiles - mt0));
    }
  }
}

#endif /* VV_HAVE_BF16_GEMM */

gboolean
vv_cpu_bf16_linear_supported (const CpuBackend *cpu, VvDType wdt, gint n)
{
  return cpu->bf16_gemm && wdt == VV_DTYPE_BF16 && n > 0;
}

gboolean
vv_cpu_bf16_linear (CpuBackend *cpu, gfloat *y, const guint16 *w, gint64 in, gint64 out,
    const gfloat *x, gint n, const void *bias, VvDType bdt, GError **error)
{
#if defined(VV_HAVE_BF16_GEMM)
  gint n_threads = vv_thread_pool_get_n_threads (cpu->pool);
  /* tokens in slices of at most BF16_MAX_M; each token's sums do not
   * depend on the slicing */
  for (gint m0 = 0; m0 < n; m0 += BF16_MAX_M) {
    Bf16Job job = {
      .w = w,.in = in,.out = out,.x = x + (gsize) m0 * in,.n = MIN (BF16_MAX_M, n - m0),
      .y = y + (gsize) m0 * out,.bias = bias,.bdt = bdt,
    };
    job.kp_n = (in + 1) / 2;
    job.parts = cpu->bf16_gemm;
    job.m_tiles = (job.n + 15) / 16;
    job.n_groups = (out + BF16_R - 1) / BF16_R;
    gsize m_pad = (gsize) job.m_tiles * 16;
    gsize per_kp = (gsize) job.parts * m_pad * sizeof (guint32);
    job.kp_chunk = MAX ((gint64) 64, (gint64) (BF16_X_CHUNK_BYTES / per_kp) & ~(gint64) 15);
    gsize xp_bytes = (gsize) job.parts * m_pad * (gsize) job.kp_n * sizeof (guint32);
    gsize ct_bytes = job.kp_chunk < job.kp_n ? (gsize) out * m_pad * sizeof (gfloat) : 0;
    if (!vv_cpu_scratch_ensure ((gpointer *) & cpu->bf16_xp, &cpu->bf16_xp_bytes, xp_bytes,
            "BF16 GEMM", error)
        || (ct_bytes && !vv_cpu_scratch_ensure ((gpointer *) & cpu->bf16_ct,
                &cpu->bf16_ct_bytes, ct_bytes, "BF16 GEMM", error)))
      return FALSE;
    job.xp = cpu->bf16_xp;
    job.ct = cpu->bf16_ct;

    gint pack_tasks = MIN (n_threads, job.m_tiles * 16);
    if (pack_tasks <= 1)
      bf16_pack_task (0, 1, &job);
    else
      vv_thread_pool_run (cpu->pool, pack_tasks, bf16_pack_task, &job);
    gint tasks = (gint) MIN ((gint64) n_threads, job.n_groups);
    if (tasks <= 1 || (gint64) job.n * out * in < (1 << 15))
      bf16_gemm_task (0, 1, &job);
    else
      vv_thread_pool_run (cpu->pool, tasks, bf16_gemm_task, &job);
  }
  return TRUE;
#else
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
      "linear: the AVX512_BF16 GEMM is not built in");
  return FALSE;
#endif
}
