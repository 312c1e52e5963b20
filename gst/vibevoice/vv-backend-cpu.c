/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-backend-cpu-private.h"
#include "vv-threadpool.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(VV_HAVE_X86_SIMD)
#include <cpuid.h>
#endif

/*
 * The CPU backend.
 *
 * Decoding one frame streams every LM weight once for a batch of one or two
 * rows, so linear() with small n is memory-bandwidth bound: its kernel reads
 * each weight row once, in its stored dtype, converts it in registers and
 * dots it with all n input rows, accumulating in F32. Rows are split over
 * the thread pool in contiguous chunks.
 *
 * Large n (prefill, convolutions as GEMM) converts row panels of the weight
 * to F32 into per-thread scratch (grown rarely, never freed per call) and
 * calls OpenBLAS sgemm per panel, panels spread over the pool. OpenBLAS is
 * set to one thread: one pool, no two sets of threads spinning on the same
 * cores, and the split stays under our control (see determinism).
 *
 * Determinism: every output element is computed by the same instruction
 * sequence whatever the thread count: the small-n kernels give each
 * (weight row, input row) pair its own accumulators whose summation order
 * depends only on the input dimension, never on how rows are grouped or
 * chunked, and sgemm panels have a height that depends only on the input
 * dimension (OpenBLAS's results do depend on the matrix sizes it is given).
 * So results are bit-identical for any n_threads (but differ between the
 * scalar, AVX2 and AVX-512 kernels, and between the small-n and sgemm
 * paths). Element-wise ops and rms_norm work per element / per row.
 *
 * VV_CPU_ISA=scalar|avx2|avx512|auto, read when a backend is created,
 * forces a kernel family (tests use it to check every path); asking for one
 * this CPU lacks fails with VV_BACKEND_ERROR_UNAVAILABLE.
 *
 * On CPUs with AMX (and the AVX-512 kernels chosen), VV_CPU_GEMM=amx3 (or
 * amx) runs large-n linear() with BF16 weights on the AMX tiles instead of
 * sgemm (vv-backend-cpu-amx.c), each activation split into 3 BF16 terms so
 * the result keeps F32's precision; amx2 keeps 16 mantissa bits, amx1
 * rounds activations to BF16 as the reference does in bf16.
 *
 * Where the CPU has AVX512_BF16 (and the avx512 kernels are chosen),
 * VV_CPU_GEMM=bf16x3|bf16x2|bf16 runs large-n linear() with BF16 weights
 * on vdpbf16ps (vv-backend-cpu-bf16.c), each activation split into 3, 2 or
 * 1 BF16 terms as on AMX: bf16x3 keeps F32's precision (but is slower than
 * sgemm on Zen 5), bf16x2 16 bits (within the F32 conformance bounds, 9×
 * under them; 1.5× sgemm's speed), bf16 rounds activations to BF16 as the
 * reference does in bf16 (3.3×; outside the F32 conformance bounds).
 * auto and sgemm use sgemm.
 *
 * VV_CPU_I8=avx2 keeps the AVX2 int8 gemv under the avx512 kernels (the
 * kernel before the AVX-512 one, for side-by-side measurements).
 */

/* linear() uses the small-n kernel up to this many input rows. */
#define VV_CPU_SMALL_N 8
/* Below these sizes an op runs on the calling thread: waking the pool
 * costs a few microseconds, more than the work itself. */
#define VV_CPU_PAR_MIN_LINEAR   (1 << 15)       /* out * in * n MACs */
#define VV_CPU_PAR_MIN_UNARY    (1 << 14)       /* elements (expf/erff) */
#define VV_CPU_PAR_MIN_BINARY   (1 << 17)       /* elements (add/mul/scale) */
#define VV_CPU_PAR_MIN_RMS      (1 << 16)       /* elements */
/* Chunks per thread for linear(): some slack for a preempted thread. */
#define VV_CPU_TASKS_PER_THREAD 4
/* F32 panel of the sgemm path: about this many bytes (fits L2/L3 nicely
 * while keeping OpenBLAS's per-call packing of x a small overhead). */
#define VV_CPU_PANEL_BYTES      (2 << 20)

static const gchar *const isa_names[] = { "scalar", "avx2", "avx512" };

static inline gsize
dtype_size (VvDType d)
{
  return d == VV_DTYPE_F32 ? 4 : d == VV_DTYPE_I8 ? 1 : 2;
}

/* ---------------------------------------------------------------------- */
/* Portable kernels */

/* Each (row, input) pair sums element k into acc[k % 4], then adds the
 * four partial sums pairwise. Weight rows are converted a block at a time
 * into a small F32 buffer so the conversion is paid once per row. */
static void
scalar_gemv (const void *w, VvDType dt, gint64 in, gint64 rows, const gfloat *x,
    gint n, gfloat *y, gint64 ldy)
{
  enum { BLOCK = 256, NG = 8 };
  gfloat wb[BLOCK];
  const gsize es = dtype_size (dt);

  for (gint64 r = 0; r < rows; r++) {
    const guint8 *wr = (const guint8 *) w + (gsize) (r * in) * es;
    for (gint j0 = 0; j0 < n; j0 += NG) {
      gint nj = MIN (NG, n - j0);
      gfloat acc[NG][4];
      memset (acc, 0, sizeof (acc));
      for (gint64 k0 = 0; k0 < in; k0 += BLOCK) {
        gint64 kn = MIN (BLOCK, in - k0);
        if (dt == VV_DTYPE_I8) {
          /* int8 codes; the row scale is applied to the finished dot */
          for (gint64 k = 0; k < kn; k++)
            wb[k] = ((const gint8 *) wr)[k0 + k];
        } else {
          vv_convert_to_f32 (dt, wr + (gsize) k0 * es, wb, kn);
        }
        for (gint j = 0; j < nj; j++) {
          const gfloat *xr = x + (gsize) (j0 + j) * in + k0;
          /* BLOCK is a multiple of 4, so k % 4 == (k0 + k) % 4 */
          for (gint64 k = 0; k < kn; k++)
            acc[j][k & 3] += wb[k] * xr[k];
        }
      }
      for (gint j = 0; j < nj; j++)
        y[(gsize) (j0 + j) * ldy + r] = (acc[j][0] + acc[j][1]) + (acc[j][2] + acc[j][3]);
    }
  }
}

static void
scalar_gemv_f32 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  scalar_gemv (w, VV_DTYPE_F32, in, rows, x, n, y, ldy);
}

static void
scalar_gemv_f16 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  scalar_gemv (w, VV_DTYPE_F16, in, rows, x, n, y, ldy);
}

static void
scalar_gemv_bf16 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  scalar_gemv (w, VV_DTYPE_BF16, in, rows, x, n, y, ldy);
}

static void
scalar_gemv_i8 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  scalar_gemv (w, VV_DTYPE_I8, in, rows, x, n, y, ldy);
}

static void
scalar_convert_f32 (const void *src, gfloat *dst, gint64 n)
{
  vv_convert_to_f32 (VV_DTYPE_F32, src, dst, n);
}

static void
scalar_convert_f16 (const void *src, gfloat *dst, gint64 n)
{
  vv_convert_to_f32 (VV_DTYPE_F16, src, dst, n);
}

static void
scalar_convert_bf16 (const void *src, gfloat *dst, gint64 n)
{
  vv_convert_to_f32 (VV_DTYPE_BF16, src, dst, n);
}

/* ---------------------------------------------------------------------- */
/* x86-64 SIMD kernels, compiled with target attributes and chosen at run
 * time so the library still runs on any x86-64. */

#if defined(VV_HAVE_X86_SIMD)


/*
 * Kernel shapes, measured on the target (2-core Zen 4, DRAM-bound):
 * - short rows (in <= VV_SHORT_ROW, so x stays in L1): one weight row at a
 *   time with A = 4 accumulators per input row. A single sequential stream
 *   per thread keeps the hardware prefetcher happiest (~95% of the
 *   streaming-sum bandwidth vs ~75% for 4 interleaved rows).
 * - long rows: R = 4 (or 2) weight rows share each load of x, which no
 *   longer fits L1; A = 2.
 * Inputs are taken in groups of at most 4 (2 on AVX2) to bound the
 * accumulator count; a row block is reused from cache between groups.
 *
 * The summation order of one (row, input) pair is a function of `in` only:
 * block b of W lanes goes to accumulator b % A in the main loop, the
 * remaining full blocks to accumulators 0, 1, ..., the masked/padded tail
 * to A - 1, and the accumulators are added pairwise before the horizontal
 * sum. Grouping rows (R) or inputs (N) never changes it, so neither does
 * the thread count, nor the batch size n as long as n <= VV_CPU_SMALL_N.
 */
#define VV_SHORT_ROW 4096
/* Software prefetch of the weight stream this far ahead, into L2: with
 * n = 2 the FMAs keep the core busy enough that the hardware prefetcher
 * falls behind (26 -> 30 GB/s on 2 cores; n = 1 unchanged). */
#define VV_PREFETCH_BYTES 4096
/* Row-block height of the outer loop; input groups are handled inside it
 * so a block's weights stay in L1/L2 between groups. */
#define VV_ROW_BLOCK 16

/* Prefetches the part of a weight row that lies VV_PREFETCH_BYTES after
 * the @bytes consumed from @p by one loop iteration: one prefetch per cache
 * line, or one every few iterations when an iteration reads less. */
#define VV_PREFETCH_ROW(p, offset_bytes, bytes) G_STMT_START {                \
    const char *_pf = (const char *) (p) + VV_PREFETCH_BYTES;                 \
    if ((bytes) >= 64) {                                                      \
      _Pragma ("GCC unroll 4")                                                \
      for (int _l = 0; _l < (int) (bytes) / 64; _l++)                         \
        _mm_prefetch (_pf + 64 * _l, _MM_HINT_T1);                            \
    } else if (((offset_bytes) & 63) == 0) {                                  \
      _mm_prefetch (_pf, _MM_HINT_T1);                                        \
    }                                                                         \
  } G_STMT_END

/* ---- AVX2 + FMA + F16C: 8 lanes ---- */

static const gint32 avx2_tail_mask[16] = {
  -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0
};

VV_INLINE VV_AVX2 __m256
avx2_load8 (const void *p, VvDType dt)
{
  if (dt == VV_DTYPE_F32)
    return _mm256_loadu_ps ((const gfloat *) p);
  if (dt == VV_DTYPE_I8)
    return _mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (_mm_loadl_epi64 ((const __m128i *) p)));
  __m128i h = _mm_loadu_si128 ((const __m128i *) p);
  if (dt == VV_DTYPE_BF16)
    return _mm256_castsi256_ps (_mm256_slli_epi32 (_mm256_cvtepu16_epi32 (h), 16));
  return _mm256_cvtph_ps (h);
}

/* R weight rows × N input rows, A accumulators per pair (see above). */
VV_INLINE VV_AVX2 void
avx2_block (const guint8 *w, gint64 in, const gfloat *x, gfloat *y, gint64 ldy,
    const int R, const int N, const int A, const VvDType dt)
{
  const gsize es = dtype_size (dt);
  __m256 acc[4][4][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int j = 0; j < N; j++)
#pragma GCC unroll 4
      for (int a = 0; a < A; a++)
        acc[r][j][a] = _mm256_setzero_ps ();

  gint64 k = 0;
  for (; k + 8 * A <= in; k += 8 * A) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      VV_PREFETCH_ROW (w + (gsize) (r * in + k) * es, k * es, 8 * A * es);
#pragma GCC unroll 4
      for (int a = 0; a < A; a++) {
        __m256 wv = avx2_load8 (w + (gsize) (r * in + k + 8 * a) * es, dt);
#pragma GCC unroll 4
        for (int j = 0; j < N; j++)
          acc[r][j][a] = _mm256_fmadd_ps (wv, _mm256_loadu_ps (x + j * in + k + 8 * a),
              acc[r][j][a]);
      }
    }
  }
#pragma GCC unroll 4
  for (int a = 0; a < A - 1; a++) {
    if (k + 8 <= in) {
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        __m256 wv = avx2_load8 (w + (gsize) (r * in + k) * es, dt);
#pragma GCC unroll 4
        for (int j = 0; j < N; j++)
          acc[r][j][a] = _mm256_fmadd_ps (wv, _mm256_loadu_ps (x + j * in + k), acc[r][j][a]);
      }
      k += 8;
    }
  }
  if (k < in) {
    gint rem = (gint) (in - k);
    __m256i mask = _mm256_loadu_si256 ((const __m256i *) (avx2_tail_mask + 8 - rem));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      /* no 16-bit masked load in AVX2: zero-padded copy */
      guint8 buf[32] = { 0 };
      memcpy (buf, w + (gsize) (r * in + k) * es, (gsize) rem * es);
      __m256 wv = avx2_load8 (buf, dt);
#pragma GCC unroll 4
      for (int j = 0; j < N; j++)
        acc[r][j][A - 1] = _mm256_fmadd_ps (wv, _mm256_maskload_ps (x + j * in + k, mask),
            acc[r][j][A - 1]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int j = 0; j < N; j++) {
      __m256 s = acc[r][j][0];
      if (A == 4)
        s = _mm256_add_ps (_mm256_add_ps (acc[r][j][0], acc[r][j][1]),
            _mm256_add_ps (acc[r][j][2], acc[r][j][3]));
      else if (A == 2)
        s = _mm256_add_ps (acc[r][j][0], acc[r][j][1]);
      y[j * ldy + r] = avx2_hsum (s);
    }
}

VV_INLINE VV_AVX2 void
avx2_rows (const guint8 *w, gint64 in, gint64 rows, const gfloat *x, gfloat *y,
    gint64 ldy, const int R, const int N, const int A, const VvDType dt)
{
  const gsize es = dtype_size (dt);
  gint64 r = 0;
  for (; r + R <= rows; r += R)
    avx2_block (w + (gsize) (r * in) * es, in, x, y + r, ldy, R, N, A, dt);
  for (; r < rows; r++)
    avx2_block (w + (gsize) (r * in) * es, in, x, y + r, ldy, 1, N, A, dt);
}

VV_INLINE VV_AVX2 void
avx2_gemv (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n, gfloat *y,
    gint64 ldy, const VvDType dt)
{
  const gsize es = dtype_size (dt);
  const gboolean short_rows = in <= VV_SHORT_ROW;
  for (gint64 r0 = 0; r0 < rows; r0 += VV_ROW_BLOCK) {
    gint64 nr = MIN (VV_ROW_BLOCK, rows - r0);
    const guint8 *wb = (const guint8 *) w + (gsize) (r0 * in) * es;
    for (gint j0 = 0; j0 < n;) {
      const gfloat *xj = x + (gsize) j0 * in;
      gfloat *yj = y + (gsize) j0 * ldy + r0;
      gint nj;
      if (short_rows) {
        /* 16 registers: at most 2 inputs × 4 accumulators */
        nj = MIN (2, n - j0);
        if (nj == 1)
          avx2_rows (wb, in, nr, xj, yj, ldy, 1, 1, 4, dt);
        else
          avx2_rows (wb, in, nr, xj, yj, ldy, 1, 2, 4, dt);
      } else {
        nj = MIN (4, n - j0);
        switch (nj) {
          case 1: avx2_rows (wb, in, nr, xj, yj, ldy, 4, 1, 1, dt); break;
          case 2: avx2_rows (wb, in, nr, xj, yj, ldy, 4, 2, 1, dt); break;
          case 3: avx2_rows (wb, in, nr, xj, yj, ldy, 2, 3, 1, dt); break;
          default: avx2_rows (wb, in, nr, xj, yj, ldy, 2, 4, 1, dt); break;
        }
      }
      j0 += nj;
    }
  }
}

static VV_AVX2 void
avx2_gemv_f32 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx2_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_F32);
}

static VV_AVX2 void
avx2_gemv_f16 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx2_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_F16);
}

static VV_AVX2 void
avx2_gemv_bf16 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx2_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_BF16);
}

static VV_AVX2 void
avx2_gemv_i8 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx2_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_I8);
}

static VV_AVX2 void
avx2_convert_f16 (const void *src, gfloat *dst, gint64 n)
{
  const guint16 *s = src;
  gint64 i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, avx2_load8 (s + i, VV_DTYPE_F16));
  for (; i < n; i++)
    dst[i] = vv_f16_to_f32 (s[i]);
}

static VV_AVX2 void
avx2_convert_bf16 (const void *src, gfloat *dst, gint64 n)
{
  const guint16 *s = src;
  gint64 i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, avx2_load8 (s + i, VV_DTYPE_BF16));
  for (; i < n; i++)
    dst[i] = vv_bf16_to_f32 (s[i]);
}

/* ---- AVX-512 (F, BW, VL): 16 lanes, masked tails ---- */

VV_INLINE VV_AVX512 __m512
avx512_cvt16 (__m256i h, const VvDType dt)
{
  if (dt == VV_DTYPE_BF16)
    return _mm512_castsi512_ps (_mm512_slli_epi32 (_mm512_cvtepu16_epi32 (h), 16));
  return _mm512_cvtph_ps (h);
}

VV_INLINE VV_AVX512 __m512
avx512_load16 (const void *p, const VvDType dt)
{
  if (dt == VV_DTYPE_F32)
    return _mm512_loadu_ps (p);
  if (dt == VV_DTYPE_I8)
    /* 16 int8 codes -> F32 (exact); the row scale comes after the dot */
    return _mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (_mm_loadu_si128 ((const __m128i *) p)));
  return avx512_cvt16 (_mm256_loadu_si256 ((const __m256i *) p), dt);
}

VV_INLINE VV_AVX512 __m512
avx512_load16_mask (const void *p, __mmask16 m, const VvDType dt)
{
  if (dt == VV_DTYPE_F32)
    return _mm512_maskz_loadu_ps (m, p);
  if (dt == VV_DTYPE_I8)
    return _mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (_mm_maskz_loadu_epi8 (m, p)));
  return avx512_cvt16 (_mm256_maskz_loadu_epi16 (m, p), dt);
}

/* R weight rows × N input rows, A accumulators per pair (see above). */
VV_INLINE VV_AVX512 void
avx512_block (const guint8 *w, gint64 in, const gfloat *x, gfloat *y, gint64 ldy,
    const int R, const int N, const int A, const VvDType dt)
{
  const gsize es = dtype_size (dt);
  __m512 acc[4][4][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int j = 0; j < N; j++)
#pragma GCC unroll 4
      for (int a = 0; a < A; a++)
        acc[r][j][a] = _mm512_setzero_ps ();

  gint64 k = 0;
  for (; k + 16 * A <= in; k += 16 * A) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      VV_PREFETCH_ROW (w + (gsize) (r * in + k) * es, k * es, 16 * A * es);
#pragma GCC unroll 4
      for (int a = 0; a < A; a++) {
        __m512 wv = avx512_load16 (w + (gsize) (r * in + k + 16 * a) * es, dt);
#pragma GCC unroll 4
        for (int j = 0; j < N; j++)
          acc[r][j][a] = _mm512_fmadd_ps (wv, _mm512_loadu_ps (x + j * in + k + 16 * a),
              acc[r][j][a]);
      }
    }
  }
#pragma GCC unroll 4
  for (int a = 0; a < A - 1; a++) {
    if (k + 16 <= in) {
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        __m512 wv = avx512_load16 (w + (gsize) (r * in + k) * es, dt);
#pragma GCC unroll 4
        for (int j = 0; j < N; j++)
          acc[r][j][a] = _mm512_fmadd_ps (wv, _mm512_loadu_ps (x + j * in + k), acc[r][j][a]);
      }
      k += 16;
    }
  }
  if (k < in) {
    __mmask16 m = (__mmask16) ((1u << (in - k)) - 1);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      __m512 wv = avx512_load16_mask (w + (gsize) (r * in + k) * es, m, dt);
#pragma GCC unroll 4
      for (int j = 0; j < N; j++)
        acc[r][j][A - 1] = _mm512_fmadd_ps (wv, _mm512_maskz_loadu_ps (m, x + j * in + k),
            acc[r][j][A - 1]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int j = 0; j < N; j++) {
      __m512 s = acc[r][j][0];
      if (A == 4)
        s = _mm512_add_ps (_mm512_add_ps (acc[r][j][0], acc[r][j][1]),
            _mm512_add_ps (acc[r][j][2], acc[r][j][3]));
      else if (A == 2)
        s = _mm512_add_ps (acc[r][j][0], acc[r][j][1]);
      y[j * ldy + r] = _mm512_reduce_add_ps (s);
    }
}

VV_INLINE VV_AVX512 void
avx512_rows (const guint8 *w, gint64 in, gint64 rows, const gfloat *x, gfloat *y,
    gint64 ldy, const int R, const int N, const int A, const VvDType dt)
{
  const gsize es = dtype_size (dt);
  gint64 r = 0;
  for (; r + R <= rows; r += R)
    avx512_block (w + (gsize) (r * in) * es, in, x, y + r, ldy, R, N, A, dt);
  for (; r < rows; r++)
    avx512_block (w + (gsize) (r * in) * es, in, x, y + r, ldy, 1, N, A, dt);
}

VV_INLINE VV_AVX512 void
avx512_gemv (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy, const VvDType dt)
{
  const gsize es = dtype_size (dt);
  const gboolean short_rows = in <= VV_SHORT_ROW;
  for (gint64 r0 = 0; r0 < rows; r0 += VV_ROW_BLOCK) {
    gint64 nr = MIN (VV_ROW_BLOCK, rows - r0);
    const guint8 *wb = (const guint8 *) w + (gsize) (r0 * in) * es;
    for (gint j0 = 0; j0 < n;) {
      const gfloat *xj = x + (gsize) j0 * in;
      gfloat *yj = y + (gsize) j0 * ldy + r0;
      gint nj;
      if (short_rows) {
        /* 32 registers: at most 4 inputs × 4 accumulators */
        nj = MIN (4, n - j0);
        switch (nj) {
          case 1: avx512_rows (wb, in, nr, xj, yj, ldy, 1, 1, 4, dt); break;
          case 2: avx512_rows (wb, in, nr, xj, yj, ldy, 1, 2, 4, dt); break;
          case 3: avx512_rows (wb, in, nr, xj, yj, ldy, 1, 3, 4, dt); break;
          default: avx512_rows (wb, in, nr, xj, yj, ldy, 1, 4, 4, dt); break;
        }
      } else {
        /* groups of at most 4 inputs, so R >= 2 rows share each x load
         * (x is read from L2 here: halving its traffic beats one pass) */
        nj = MIN (4, n - j0);
        switch (nj) {
          case 1: avx512_rows (wb, in, nr, xj, yj, ldy, 4, 1, 2, dt); break;
          case 2: avx512_rows (wb, in, nr, xj, yj, ldy, 4, 2, 2, dt); break;
          case 3: avx512_rows (wb, in, nr, xj, yj, ldy, 2, 3, 2, dt); break;
          default: avx512_rows (wb, in, nr, xj, yj, ldy, 2, 4, 2, dt); break;
        }
      }
      j0 += nj;
    }
  }
}

static VV_AVX512 void
avx512_gemv_f32 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx512_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_F32);
}

static VV_AVX512 void
avx512_gemv_f16 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx512_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_F16);
}

static VV_AVX512 void
avx512_gemv_bf16 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx512_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_BF16);
}

/* int8 codes 16 lanes at a time (the AVX2 kernel, 8 lanes, stays selectable
 * with VV_CPU_I8=avx2 for side-by-side measurements). */
static VV_AVX512 void
avx512_gemv_i8 (const void *w, gint64 in, gint64 rows, const gfloat *x, gint n,
    gfloat *y, gint64 ldy)
{
  avx512_gemv (w, in, rows, x, n, y, ldy, VV_DTYPE_I8);
}

VV_INLINE VV_AVX512 void
avx512_convert (const void *src, gfloat *dst, gint64 n, const VvDType dt)
{
  const guint16 *s = src;
  gint64 i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps (dst + i, avx512_load16 (s + i, dt));
  if (i < n) {
    __mmask16 m = (__mmask16) ((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps (dst + i, m, avx512_load16_mask (s + i, m, dt));
  }
}

static VV_AVX512 void
avx512_convert_f16 (const void *src, gfloat *dst, gint64 n)
{
  avx512_convert (src, dst, n, VV_DTYPE_F16);
}

static VV_AVX512 void
avx512_convert_bf16 (const void *src, gfloat *dst, gint64 n)
{
  avx512_convert (src, dst, n, VV_DTYPE_BF16);
}

#endif /* VV_HAVE_X86_SIMD */

/* ---------------------------------------------------------------------- */
/* ISA selection */

static CpuIsa
detect_isa (void)
{
#if defined(VV_HAVE_X86_SIMD)
  __builtin_cpu_init ();
  /* __builtin_cpu_supports also checks that the OS saves the registers. */
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512vl"))
    return CPU_ISA_AVX512;
  /* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports
   * does not know "f16c" */
  guint eax, ebx, ecx = 0, edx;
  gboolean f16c = __get_cpuid (1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && f16c)
    return CPU_ISA_AVX2;
#endif
  return CPU_ISA_SCALAR;
}

static gboolean
choose_isa (CpuIsa *isa, GError **error)
{
  CpuIsa best = detect_isa ();
  const gchar *env = g_getenv ("VV_CPU_ISA");
  if (env == NULL || *env == '\0' || g_ascii_strcasecmp (env, "auto") == 0) {
    *isa = best;
    return TRUE;
  }
  for (guint i = 0; i < G_N_ELEMENTS (isa_names); i++) {
    if (g_ascii_strcasecmp (env, isa_names[i]) == 0) {
      if ((CpuIsa) i > best) {
        g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
            "VV_CPU_ISA=%s: this CPU supports at most %s", env, isa_names[best]);
        return FALSE;
      }
      *isa = (CpuIsa) i;
      return TRUE;
    }
  }
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
      "VV_CPU_ISA=%s: expected scalar, avx2, avx512 or auto", env);
  return FALSE;
}

/* Large-n linear() with BF16 weights, from VV_CPU_GEMM: AMX terms per
 * activation (0: no AMX), or the AVX512_BF16 GEMM */
static gboolean
choose_gemm (CpuIsa isa, gint *amx_parts, gint *bf16_gemm, GError **error)
{
  gboolean have = isa == CPU_ISA_AVX512 && vv_cpu_amx_detect ();
  gboolean have_bf16 = isa == CPU_ISA_AVX512 && vv_cpu_bf16_detect ();
  const gchar *env = g_getenv ("VV_CPU_GEMM");
  *amx_parts = 0;
  *bf16_gemm = 0;
  if (env == NULL || *env == '\0' || g_ascii_strcasecmp (env, "auto") == 0) {
    /* Where the CPU has AVX512_BF16: the BF16 GEMM with x split in 2 BF16
     * parts (16 significant bits, the weights exact: 1.5-3.3x sgemm at
     * prefill, its error 9x under the conformance bounds; 3 parts, F32's
     * precision, is slower than sgemm on Zen 5; 1 part, x rounded to BF16 as
     * the reference in bf16 does, fails them). Else sgemm. AMX stays opt-in
     * until the conformance suite has been run on it. */
    *bf16_gemm = have_bf16 ? 2 : 0;
    return TRUE;
  }
  if (g_ascii_strcasecmp (env, "sgemm") == 0)
    return TRUE;
  gint bparts = g_ascii_strcasecmp (env, "bf16") == 0 ? 1
      : g_ascii_strcasecmp (env, "bf16x2") == 0 ? 2
      : g_ascii_strcasecmp (env, "bf16x3") == 0 ? 3 : 0;
  if (bparts > 0) {
    if (!have_bf16) {
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
          "VV_CPU_GEMM=%s: AVX512_BF16 is not usable here (%s)", env,
          isa != CPU_ISA_AVX512 ? "it needs the avx512 kernels"
          : "this CPU does not provide it");
      return FALSE;
    }
    *bf16_gemm = bparts;
    return TRUE;
  }
  gint parts = 0;
  if (g_ascii_strcasecmp (env, "amx") == 0 || g_ascii_strcasecmp (env, "amx3") == 0)
    parts = 3;
  else if (g_ascii_strcasecmp (env, "amx2") == 0)
    parts = 2;
  else if (g_ascii_strcasecmp (env, "amx1") == 0)
    parts = 1;
  if (parts == 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "VV_CPU_GEMM=%s: expected auto, sgemm, bf16, bf16x2, bf16x3, amx1, amx2, amx3 or amx",
        env);
    return FALSE;
  }
  if (!have) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "VV_CPU_GEMM=%s: AMX-BF16 is not usable here (%s)", env,
        isa != CPU_ISA_AVX512 ? "it needs the avx512 kernels"
        : "this CPU or kernel does not provide it");
    return FALSE;
  }
  *amx_parts = parts;
  return TRUE;
}

/* VV_CPU_I8=avx2 keeps the AVX2 int8 gemv under the avx512 kernels (to
 * measure the two side by side); auto or avx512: the AVX-512 one. */
static gboolean
choose_i8 (CpuIsa isa, gboolean *i8_avx2, GError **error)
{
  const gchar *env = g_getenv ("VV_CPU_I8");
  *i8_avx2 = FALSE;
  if (env == NULL || *env == '\0' || g_ascii_strcasecmp (env, "auto") == 0
      || g_ascii_strcasecmp (env, "avx512") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (env, "avx2") == 0) {
    *i8_avx2 = isa == CPU_ISA_AVX512;
    return TRUE;
  }
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
      "VV_CPU_I8=%s: expected auto, avx2 or avx512", env);
  return FALSE;
}

static void
set_kernels (CpuBackend *cpu)
{
  cpu->gemv[VV_DTYPE_F32] = scalar_gemv_f32;
  cpu->gemv[VV_DTYPE_F16] = scalar_gemv_f16;
  cpu->gemv[VV_DTYPE_BF16] = scalar_gemv_bf16;
  cpu->gemv[VV_DTYPE_I8] = scalar_gemv_i8;
  cpu->convert[VV_DTYPE_F32] = scalar_convert_f32;
  cpu->convert[VV_DTYPE_F16] = scalar_convert_f16;
  cpu->convert[VV_DTYPE_BF16] = scalar_convert_bf16;
#if defined(VV_HAVE_X86_SIMD)
  if (cpu->isa == CPU_ISA_AVX2) {
    cpu->gemv[VV_DTYPE_F32] = avx2_gemv_f32;
    cpu->gemv[VV_DTYPE_F16] = avx2_gemv_f16;
    cpu->gemv[VV_DTYPE_BF16] = avx2_gemv_bf16;
    cpu->gemv[VV_DTYPE_I8] = avx2_gemv_i8;
    cpu->convert[VV_DTYPE_F16] = avx2_convert_f16;
    cpu->convert[VV_DTYPE_BF16] = avx2_convert_bf16;
  } else if (cpu->isa == CPU_ISA_AVX512) {
    cpu->gemv[VV_DTYPE_F32] = avx512_gemv_f32;
    cpu->gemv[VV_DTYPE_F16] = avx512_gemv_f16;
    cpu->gemv[VV_DTYPE_BF16] = avx512_gemv_bf16;
    cpu->gemv[VV_DTYPE_I8] = cpu->i8_avx2 ? avx2_gemv_i8 : avx512_gemv_i8;
    cpu->convert[VV_DTYPE_F16] = avx512_convert_f16;
    cpu->convert[VV_DTYPE_BF16] = avx512_convert_bf16;
  }
#endif
}

/* ---------------------------------------------------------------------- */
/* Helpers */

static inline void
run_tasks (CpuBackend *cpu, gint n_tasks, VvParallelFunc func, gpointer data)
{
  if (n_tasks <= 1)
    func (0, 1, data);
  else
    vv_thread_pool_run (cpu->pool, n_tasks, func, data);
}

/* Number of tasks for @n_items items of which each task should get at
 * least @min_per_task, given that the whole job is worth parallelising
 * only when @work >= @par_min. */
static gint
pick_n_tasks (CpuBackend *cpu, gint64 n_items, gint64 min_per_task, gint64 work,
    gint64 par_min, gint tasks_per_thread)
{
  gint n_threads = vv_thread_pool_get_n_threads (cpu->pool);
  if (n_threads <= 1 || work < par_min)
    return 1;
  gint64 t = MIN ((gint64) n_threads * tasks_per_thread, n_items / MAX (1, min_per_task));
  return (gint) CLAMP (t, 1, G_MAXINT);
}

static gboolean
ensure_scratch (CpuBackend *cpu, gsize floats, GError **error)
{
  if (cpu->scratch_floats >= floats)
    return TRUE;
  gint n = vv_thread_pool_get_n_threads (cpu->pool);
  for (gint i = 0; i < n; i++) {
    vv_host_mem_free (cpu->scratch[i], cpu->scratch_floats * sizeof (gfloat));
    cpu->scratch[i] = NULL;
  }
  cpu->scratch_floats = 0;
  /* round up generously so slightly larger shapes do not regrow */
  gsize want = MAX (floats + floats / 4, (gsize) 1 << 16);
  for (gint i = 0; i < n; i++) {
    GError *local = NULL;
    void *p = vv_host_mem_alloc (want * sizeof (gfloat), &local);
    if (p == NULL) {
      for (gint k = 0; k < i; k++) {
        vv_host_mem_free (cpu->scratch[k], want * sizeof (gfloat));
        cpu->scratch[k] = NULL;
      }
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
          "linear: scratch: %s", local->message);
      g_error_free (local);
      return FALSE;
    }
    cpu->scratch[i] = p;
  }
  cpu->scratch_floats = want;
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* linear */

typedef struct {
  CpuBackend *cpu;
  const guint8 *w;
  VvDType wdt;
  gint64 in, out;
  const gfloat *x;
  gint n;
  gfloat *y;
  const void *bias;
  VvDType bdt;
  const gfloat *scales;         /* I8 weights: per-row scale */
  gint64 rows_per_task;         /* small-n path */
  gint64 panel, n_panels;       /* sgemm path */
} LinearJob;

static void
add_bias (const LinearJob *job, gint64 o0, gint64 o1)
{
  for (gint64 o = o0; o < o1; o++) {
    gfloat b = vv_cpu_weight_at (job->bias, job->bdt, o);
    for (gint j = 0; j < job->n; j++)
      job->y[(gsize) j * job->out + o] += b;
  }
}

static void
linear_small_task (gint task, gint n_tasks, gpointer data)
{
  const LinearJob *job = data;
  gint64 o0 = task * job->rows_per_task;
  gint64 o1 = MIN (job->out, o0 + job->rows_per_task);
  if (o0 >= o1)
    return;
  job->cpu->gemv[job->wdt] (job->w + (gsize) (o0 * job->in) * dtype_size (job->wdt),
      job->in, o1 - o0, job->x, job->n, job->y + o0, job->out);
  if (job->scales != NULL)
    for (gint j = 0; j < job->n; j++)
      for (gint64 o = o0; o < o1; o++)
        job->y[(gsize) j * job->out + o] *= job->scales[o];
  if (job->bias != NULL)
    add_bias (job, o0, o1);
}

/* dst[r, k] = q[r, k] · scale[r]: an I8 panel as F32 for sgemm */
static void
dequantize_i8_rows (const gint8 *q, const gfloat *scales, gfloat *dst, gint64 rows,
    gint64 in)
{
  for (gint64 r = 0; r < rows; r++) {
    const gint8 *qr = q + r * in;
    gfloat *dr = dst + r * in, sc = scales[r];
    for (gint64 k = 0; k < in; k++)
      dr[k] = qr[k] * sc;
  }
}

static void
linear_gemm_task (gint task, gint n_tasks, gpointer data)
{
  const LinearJob *job = data;
  gint64 p0 = job->n_panels * task / n_tasks;
  gint64 p1 = job->n_panels * (task + 1) / n_tasks;
  for (gint64 p = p0; p < p1; p++) {
    gint64 o0 = p * job->panel;
    gint64 rows = MIN (job->panel, job->out - o0);
    const gfloat *wp;
    if (job->wdt == VV_DTYPE_F32) {
      wp = (const gfloat *) job->w + o0 * job->in;
    } else {
      /* Tasks never outnumber threads, so each task owns scratch[task]. */
      gfloat *s = job->cpu->scratch[task];
      if (job->wdt == VV_DTYPE_I8)
        dequantize_i8_rows ((const gint8 *) job->w + o0 * job->in, job->scales + o0, s,
            rows, job->in);
      else
        job->cpu->convert[job->wdt] (job->w + (gsize) (o0 * job->in) * 2, s, rows * job->in);
      wp = s;
    }
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, job->n, (gint) rows,
        (gint) job->in, 1.0f, job->x, (gint) job->in, wp, (gint) job->in, 0.0f,
        job->y + o0, (gint) job->out);
    if (job->bias != NULL)
      add_bias (job, o0, o0 + rows);
  }
}

static gboolean
cpu_linear (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, GError **error)
{
  CpuBackend *cpu = CPU (be);
  LinearJob job = {
    .cpu = cpu,
    .w = w->data,
    .wdt = w->dtype,
    .in = w->shape[1],
    .out = w->shape[0],
    .x = x->data,
    .n = (gint) (vv_tensor_n_elements (x) / MAX (1, w->shape[1])),
    .y = y->data,
    .bias = bias ? bias->data : NULL,
    .bdt = bias ? bias->dtype : VV_DTYPE_F32,
    .scales = vv_tensor_get_row_scales (w),
  };
  if (job.in == 0) {
    /* empty dot products */
    job.n = (gint) (vv_tensor_n_elements (y) / job.out);
    memset (job.y, 0, vv_tensor_n_bytes (y));
    if (job.bias != NULL)
      add_bias (&job, 0, job.out);
    return TRUE;
  }

  if (job.n <= VV_CPU_SMALL_N) {
    gint n_tasks = pick_n_tasks (cpu, job.out, 16, job.out * job.in * job.n,
        VV_CPU_PAR_MIN_LINEAR, VV_CPU_TASKS_PER_THREAD);
    /* chunks of whole row groups (4) so only the last chunk has a remainder */
    job.rows_per_task = ((job.out + n_tasks - 1) / n_tasks + 3) & ~(gint64) 3;
    n_tasks = (gint) ((job.out + job.rows_per_task - 1) / job.rows_per_task);
    run_tasks (cpu, n_tasks, linear_small_task, &job);
    return TRUE;
  }

  if (vv_cpu_bf16_linear_supported (cpu, job.wdt, job.n))
    return vv_cpu_bf16_linear (cpu, job.y, (const guint16 *) job.w, job.in, job.out,
        job.x, job.n, job.bias, job.bdt, error);
  if (vv_cpu_amx_linear_supported (cpu, job.wdt, job.in, job.n))
    return vv_cpu_amx_linear (cpu, job.y, (const guint16 *) job.w, job.in, job.out,
        job.x, job.n, job.bias, job.bdt, error);

  /* Panel height depends on the input dimension only (determinism). */
  gint64 panel = VV_CPU_PANEL_BYTES / (gint64) sizeof (gfloat) / job.in;
  panel = CLAMP (panel & ~(gint64) 15, 16, 1024);
  job.panel = MIN (panel, job.out);
  job.n_panels = (job.out + job.panel - 1) / job.panel;
  gint n_tasks = (gint) MIN (job.n_panels, vv_thread_pool_get_n_threads (cpu->pool));
  if ((gint64) job.n * job.out * job.in < VV_CPU_PAR_MIN_LINEAR)
    n_tasks = 1;
  if (job.wdt != VV_DTYPE_F32
      && !ensure_scratch (cpu, (gsize) (job.panel * job.in), error))
    return FALSE;
  run_tasks (cpu, n_tasks, linear_gemm_task, &job);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* rms_norm */

typedef struct {
  const gfloat *x;
  gfloat *y;
  const void *w;
  VvDType wdt;
  gint64 d, rows;
  gfloat eps;
} RmsJob;

static void
rms_row (const RmsJob *job, gint64 row)
{
  const gfloat *x = job->x + row * job->d;
  gfloat *y = job->y + row * job->d;
  gint64 d = job->d;
  /* Sum of squares in double with 8 interleaved partial sums: as cheap as
   * float here and exact enough to not matter. */
  gdouble s[8] = { 0 };
  gint64 k = 0;
  for (; k + 8 <= d; k += 8)
    for (gint l = 0; l < 8; l++)
      s[l] += (gdouble) x[k + l] * x[k + l];
  for (; k < d; k++)
    s[k & 7] += (gdouble) x[k] * x[k];
  gdouble sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  gfloat r = (gfloat) (1.0 / sqrt (sum / (gdouble) d + (gdouble) job->eps));

  switch (job->w == NULL ? -1 : (gint) job->wdt) {
    case -1:
      for (k = 0; k < d; k++)
        y[k] = x[k] * r;
      break;
    case VV_DTYPE_F32:{
      const gfloat *w = job->w;
      for (k = 0; k < d; k++)
        y[k] = (x[k] * r) * w[k];
      break;
    }
    case VV_DTYPE_BF16:{
      const guint16 *w = job->w;
      for (k = 0; k < d; k++)
        y[k] = (x[k] * r) * vv_bf16_to_f32 (w[k]);
      break;
    }
    case VV_DTYPE_F16:{
      const guint16 *w = job->w;
      for (k = 0; k < d; k++)
        y[k] = (x[k] * r) * vv_f16_to_f32 (w[k]);
      break;
    }
  }
}

static void
rms_task (gint task, gint n_tasks, gpointer data)
{
  const RmsJob *job = data;
  gint64 r0 = job->rows * task / n_tasks;
  gint64 r1 = job->rows * (task + 1) / n_tasks;
  for (gint64 r = r0; r < r1; r++)
    rms_row (job, r);
}

static gboolean
cpu_rms_norm (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    gfloat eps, GError **error)
{
  CpuBackend *cpu = CPU (be);
  gint64 d = x->shape[x->ndim - 1];
  RmsJob job = {
    .x = x->data,
    .y = y->data,
    .w = w ? w->data : NULL,
    .wdt = w ? w->dtype : VV_DTYPE_F32,
    .d = d,
    .rows = vv_tensor_n_elements (x) / d,
    .eps = eps,
  };
  gint n_tasks = pick_n_tasks (cpu, job.rows, 1, job.rows * d, VV_CPU_PAR_MIN_RMS, 1);
  run_tasks (cpu, n_tasks, rms_task, &job);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Element-wise ops */

typedef enum {
  EW_SILU,
  EW_GELU,
  EW_ADD,
  EW_MUL,
  EW_SCALE,
  EW_DIV_SUB,
  EW_ADD_MUL,
} EwKind;

typedef struct {
  EwKind kind;
  const gfloat *a, *b;
  gfloat *y;
  gint64 n;                     /* elements of a / y */
  gint64 nb;                    /* elements of b (n, or one row) */
  gfloat s, s2;
  gboolean zmm;                 /* AVX-512 GELU */
} EwJob;

#if defined(VV_HAVE_X86_SIMD)
/* erf on 16 lanes: |z| in 8 pieces of width 0.5 on [0, 4), a degree-7
 * polynomial in z − centre per piece (least squares on Chebyshev nodes,
 * fitted for this file; abs error ≤ 7e-8 in F32, i.e. about erff's
 * rounding near 1: GELU needs absolute, not relative, accuracy), the
 * piece's coefficients picked with one permute each; erf = ±1 from
 * |z| ≥ 4 (1 − erf(4) < half an F32 ulp of 1); NaN stays NaN.
 * erf_poly[j][i]: the coefficient of (z − centre_i)^j in piece i. */
static const gfloat erf_poly[8][8] = {
  { 0.276326388f, 0.711155653f, 0.92290014f, 0.986671686f,
    0.998537302f, 0.999899387f, 0.999995708f, 0.999999881f },
  { 1.06001413f, 0.642931044f, 0.236521125f, 0.0527749956f,
    0.00714231934f, 0.000586277281f, 2.91890119e-05f, 8.81428832e-07f },
  { -0.265002966f, -0.482198149f, -0.295651734f, -0.092356205f,
    -0.0160701573f, -0.00161226746f, -9.48693341e-05f, -3.30607099e-06f },
  { -0.309170485f, 0.0267883502f, 0.167535886f, 0.0901573896f,
    0.0217245128f, 0.00276038027f, 0.000195812623f, 7.97032772e-06f },
  { 0.126934558f, 0.150675625f, -0.00613203505f, -0.048105523f,
    -0.0190882571f, -0.00325771049f, -0.000286169437f, -1.37854095e-05f },
  { 0.0800362676f, -0.0532170907f, -0.0471865535f, 0.00661847321f,
    0.0106600598f, 0.00275629107f, 0.000313628843f, 1.83300599e-05f },
  { -0.0393407941f, -0.0265828297f, 0.0205977373f, 0.00904949475f,
    -0.00277956505f, -0.00166785053f, -0.000273758429f, -2.06924215e-05f },
  { -0.0158033706f, 0.017885495f, 0.00374511071f, -0.00593309943f,
    -0.000721526914f, 0.000635815493f, 0.000173596549f, 1.71447264e-05f },
};

VV_INLINE VV_AVX512 __m512
avx512_erf (__m512 z)
{
  const __m512i sign = _mm512_set1_epi32 ((gint) 0x80000000u);
  __m512i zi = _mm512_castps_si512 (z);
  __m512 az = _mm512_castsi512_ps (_mm512_andnot_si512 (sign, zi));
  __m512i idx = _mm512_min_epi32 (_mm512_cvttps_epi32 (_mm512_mul_ps (az,
              _mm512_set1_ps (2.0f))), _mm512_set1_epi32 (7));
  /* centre 0.25 + 0.5 i */
  __m512 c = _mm512_fmadd_ps (_mm512_cvtepi32_ps (idx), _mm512_set1_ps (0.5f),
      _mm512_set1_ps (0.25f));
  __m512 u = _mm512_sub_ps (az, c);
  __m512 p = _mm512_permutexvar_ps (idx, _mm512_castps256_ps512 (_mm256_loadu_ps (erf_poly[7])));
  for (int j = 6; j >= 0; j--)
    p = _mm512_fmadd_ps (p, u, _mm512_permutexvar_ps (idx,
            _mm512_castps256_ps512 (_mm256_loadu_ps (erf_poly[j]))));
  __mmask16 big = _mm512_cmp_ps_mask (az, _mm512_set1_ps (4.0f), _CMP_GE_OQ);
  p = _mm512_mask_mov_ps (p, big, _mm512_set1_ps (1.0f));
  return _mm512_castsi512_ps (_mm512_or_si512 (_mm512_castps_si512 (p),
          _mm512_and_si512 (zi, sign)));
}

/* y = 0.5·x·(1 + erf(x/√2)), the scalar loop's formula */
static VV_AVX512 void
avx512_gelu (const gfloat *a, gfloat *y, gint64 n)
{
  const __m512 r2 = _mm512_set1_ps ((gfloat) M_SQRT1_2), half = _mm512_set1_ps (0.5f),
      one = _mm512_set1_ps (1.0f);
  for (gint64 i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16) ((1u << (n - i)) - 1);
    __m512 x = _mm512_maskz_loadu_ps (m, a + i);
    __m512 e = avx512_erf (_mm512_mul_ps (x, r2));
    _mm512_mask_storeu_ps (y + i, m, _mm512_mul_ps (_mm512_mul_ps (half, x),
            _mm512_add_ps (one, e)));
  }
}
#endif

static void
ew_range (const EwJob *job, gint64 i0, gint64 i1)
{
  const gfloat *a = job->a;
  gfloat *y = job->y;
  switch (job->kind) {
    case EW_SILU:
      for (gint64 i = i0; i < i1; i++)
        y[i] = a[i] / (1.0f + expf (-a[i]));
      break;
    case EW_GELU:
#if defined(VV_HAVE_X86_SIMD)
      if (job->zmm) {
        avx512_gelu (a + i0, y + i0, i1 - i0);
        break;
      }
#endif
      for (gint64 i = i0; i < i1; i++)
        y[i] = 0.5f * a[i] * (1.0f + erff (a[i] * (gfloat) M_SQRT1_2));
      break;
    case EW_SCALE:
      for (gint64 i = i0; i < i1; i++)
        y[i] = a[i] * job->s;
      break;
    case EW_DIV_SUB:
      for (gint64 i = i0; i < i1; i++)
        y[i] = a[i] / job->s - job->s2;
      break;
    case EW_ADD_MUL:
      for (gint64 i = i0; i < i1; i++)
        y[i] = (a[i] + job->s2) * job->s;
      break;
    case EW_ADD:
    case EW_MUL:{
      /* walk b row by row so broadcasting needs no modulo per element */
      gint64 nb = job->nb;
      gint64 i = i0;
      while (i < i1) {
        gint64 off = nb == job->n ? i : i % nb;
        gint64 len = MIN (i1 - i, nb - off);
        const gfloat *ap = a + i, *bp = job->b + off;
        gfloat *yp = y + i;
        if (job->kind == EW_ADD)
          for (gint64 k = 0; k < len; k++)
            yp[k] = ap[k] + bp[k];
        else
          for (gint64 k = 0; k < len; k++)
            yp[k] = ap[k] * bp[k];
        i += len;
      }
      break;
    }
  }
}

static void
ew_task (gint task, gint n_tasks, gpointer data)
{
  const EwJob *job = data;
  /* 16-element aligned boundaries keep chunks on separate cache lines */
  gint64 i0 = (job->n * task / n_tasks) & ~(gint64) 15;
  gint64 i1 = task == n_tasks - 1 ? job->n : (job->n * (task + 1) / n_tasks) & ~(gint64) 15;
  if (i0 < i1)
    ew_range (job, i0, i1);
}

static void
ew_run (CpuBackend *cpu, const EwJob *job)
{
  gint64 par_min = job->kind == EW_SILU || job->kind == EW_GELU ?
      VV_CPU_PAR_MIN_UNARY : VV_CPU_PAR_MIN_BINARY;
  gint n_tasks = pick_n_tasks (cpu, job->n, par_min / 2, job->n, par_min, 2);
  run_tasks (cpu, n_tasks, ew_task, (gpointer) job);
}

static gboolean
cpu_unary (VvBackend *be, VvUnaryOp op, VvTensor *y, const VvTensor *x, GError **error)
{
  EwJob job = {
    .kind = op == VV_UNARY_SILU ? EW_SILU : EW_GELU,
    .a = x->data,
    .y = y->data,
    .n = vv_tensor_n_elements (x),
    /* VV_CONV_KERNEL=v1: the earlier scalar erff, for before/after runs */
    .zmm = CPU (be)->isa == CPU_ISA_AVX512 && g_strcmp0 (g_getenv ("VV_CONV_KERNEL"), "v1") != 0,
  };
  ew_run (CPU (be), &job);
  return TRUE;
}

static gboolean
cpu_binary (VvBackend *be, VvBinaryOp op, VvTensor *y, const VvTensor *a,
    const VvTensor *b, GError **error)
{
  EwJob job = {
    .kind = op == VV_BINARY_ADD ? EW_ADD : EW_MUL,
    .a = a->data,
    .b = b->data,
    .y = y->data,
    .n = vv_tensor_n_elements (a),
    .nb = vv_tensor_n_elements (b),
  };
  ew_run (CPU (be), &job);
  return TRUE;
}

/* A KV cache's new rows: small (n × kv_width), so on the calling thread. */
static gboolean
cpu_convert (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error)
{
  if (y->dtype == VV_DTYPE_I8)
    return vv_cpu_quantize_kv (be, y, x, error);         /* vv-backend-cpu-attn.c */
  vv_convert_from_f32 (y->dtype, x->data, y->data, (gsize) vv_tensor_n_elements (x));
  return TRUE;
}

static gboolean
cpu_scale (VvBackend *be, VvTensor *y, const VvTensor *a, gfloat s, GError **error)
{
  EwJob job = {
    .kind = EW_SCALE,
    .a = a->data,
    .y = y->data,
    .n = vv_tensor_n_elements (a),
    .s = s,
  };
  ew_run (CPU (be), &job);
  return TRUE;
}

static gboolean
cpu_affine (VvBackend *be, VvAffineOp op, VvTensor *y, const VvTensor *x, gfloat a, gfloat b,
    GError **error)
{
  EwJob job = {
    .kind = op == VV_AFFINE_DIV_SUB ? EW_DIV_SUB : EW_ADD_MUL,
    .a = x->data,
    .y = y->data,
    .n = vv_tensor_n_elements (x),
    .s = a,
    .s2 = b,
  };
  ew_run (CPU (be), &job);
  return TRUE;
}

static gboolean
cpu_get_rows (VvBackend *be, VvTensor *y, const VvTensor *table, const VvTensor *id_t,
    GError **error)
{
  CpuBackend *cpu = CPU (be);
  const gint32 *ids = id_t->data;
  gint64 n_ids = id_t->shape[0];
  for (gint64 i = 0; i < n_ids; i++) {
    if (ids[i] < 0 || ids[i] >= table->shape[0]) {
      g_autofree gchar *st = vv_tensor_shape_string (table);
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
          "get_rows: id %d (index %" G_GINT64_FORMAT ") is out of range for table %s with %"
          G_GINT64_FORMAT " rows", ids[i], i, st, table->shape[0]);
      return FALSE;
    }
  }
  gint64 d = table->shape[1];
  gsize es = dtype_size (table->dtype);
  for (gint64 i = 0; i < n_ids; i++)
    cpu->convert[table->dtype] ((const guint8 *) table->data + (gsize) ((gint64) ids[i] * d) * es,
        (gfloat *) y->data + (gsize) i * d, d);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Diffusion-head and sampler ops: tiny operands (a batch of 2 rows, a
 * 64-d latent), so single-threaded loops. The expressions are those of the
 * host loops they replaced in vv-diffusion-head.c and vv-scheduler.c,
 * operation for operation (cpu results stay bit-identical). */

static gboolean
cpu_timestep_embedding (VvBackend *be, VvTensor *y, gfloat t, gdouble max_period,
    GError **error)
{
  gint64 d = y->shape[y->ndim - 1], half = d / 2, rows = vv_tensor_n_elements (y) / d;
  gfloat *e = y->data;
  for (gint64 k = 0; k < half; k++) {
    gfloat f = expf ((gfloat) (-log (max_period)) * (gfloat) k / (gfloat) half);
    gfloat arg = t * f;
    e[k] = cosf (arg);
    e[k + half] = sinf (arg);
  }
  for (gint64 r = 1; r < rows; r++)
    memcpy (e + r * d, e, sizeof (gfloat) * d);
  return TRUE;
}

static gboolean
cpu_modulate (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint shift_col, gint scale_col, GError **error)
{
  gint64 n = x->shape[0], d = x->shape[1], c = ada->shape[1];
  const gfloat *xs = x->data, *mod = ada->data;
  gfloat *ys = y->data;
  for (gint64 r = 0; r < n; r++) {
    const gfloat *shift = mod + r * c + shift_col, *scale = mod + r * c + scale_col;
    const gfloat *xr = xs + r * d;
    gfloat *yr = ys + r * d;
    for (gint64 k = 0; k < d; k++)
      yr[k] = xr[k] * (1.0f + scale[k]) + shift[k];
  }
  return TRUE;
}

static gboolean
cpu_gated_add (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint gate_col, const VvTensor *o, GError **error)
{
  gint64 n = x->shape[0], d = x->shape[1], c = ada->shape[1];
  const gfloat *xs = x->data, *os = o->data, *mod = ada->data;
  gfloat *ys = y->data;
  for (gint64 r = 0; r < n; r++) {
    const gfloat *gate = mod + r * c + gate_col, *xr = xs + r * d, *orow = os + r * d;
    gfloat *yr = ys + r * d;
    for (gint64 k = 0; k < d; k++)
      yr[k] = xr[k] + gate[k] * orow[k];
  }
  return TRUE;
}

static gboolean
cpu_cfg_combine (VvBackend *be, VvTensor *y, const VvTensor *cond, const VvTensor *uncond,
    gfloat scale, GError **error)
{
  gint64 n = vv_tensor_n_elements (y);
  const gfloat *c = cond->data, *u = uncond->data;
  gfloat *ys = y->data;
  for (gint64 k = 0; k < n; k++)
    ys[k] = u[k] + scale * (c[k] - u[k]);
  return TRUE;
}

static gboolean
cpu_dpm_step (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *v,
    VvTensor *prev_d, const VvDpmStep *st, GError **error)
{
  gint64 n = vv_tensor_n_elements (x);
  const gfloat *xs = x->data, *vs = v->data;
  gfloat *ys = y->data, *pd = prev_d->data;
  const gfloat a_s = st->alpha_s, st_s = st->sigma_s, ratio = st->ratio, coef = st->coef;
  const gfloat half_coef = st->half_coef, r_inv = st->r_inv;
  for (gint64 k = 0; k < n; k++) {
    /* data prediction of the v-parameterisation (MODEL-SPEC §4.3) */
    gfloat d = a_s * xs[k] - st_s * vs[k];
    gfloat out;
    if (st->order == 1) {
      out = ratio * xs[k] + coef * d;
    } else {
      gfloat d1 = r_inv * (d - pd[k]);
      out = ratio * xs[k] + coef * d + half_coef * d1;
    }
    pd[k] = d;
    ys[k] = out;
  }
  return TRUE;
}

/* ---------------------------------------------------------------------- */

static void
cpu_destroy (VvBackend *be)
{
  CpuBackend *cpu = CPU (be);
  if (cpu != NULL) {
    if (cpu->scratch != NULL) {
      for (gint i = 0; i < be->n_threads; i++)
        vv_host_mem_free (cpu->scratch[i], cpu->scratch_floats * sizeof (gfloat));
      g_free (cpu->scratch);
    }
    vv_host_mem_free (cpu->attn_partial, cpu->attn_partial_floats * sizeof (gfloat));
    vv_host_mem_free (cpu->amx_xp, cpu->amx_xp_bytes);
    vv_host_mem_free (cpu->amx_ct, cpu->amx_ct_bytes);
    vv_host_mem_free (cpu->amx_tail, cpu->amx_tail_bytes);
    vv_host_mem_free (cpu->bf16_xp, cpu->bf16_xp_bytes);
    vv_host_mem_free (cpu->bf16_ct, cpu->bf16_ct_bytes);
    vv_thread_pool_free (cpu->pool);
    g_free (cpu);
  }
  g_free (be);
}

static const VvBackendOps cpu_ops = {
  .name = "cpu",
  .destroy = cpu_destroy,
  .linear = cpu_linear,
  .rms_norm = cpu_rms_norm,
  .unary = cpu_unary,
  .binary = cpu_binary,
  .scale = cpu_scale,
  .convert = cpu_convert,
  .affine = cpu_affine,
  .get_rows = cpu_get_rows,
  .conv1d = vv_cpu_conv1d,                      /* vv-backend-cpu-conv.c */
  .conv_transpose1d = vv_cpu_conv_transpose1d,
  .rope = vv_cpu_rope,                          /* vv-backend-cpu-attn.c */
  .attention = vv_cpu_attention,
  /* diffusion-head and sampler ops */
  .timestep_embedding = cpu_timestep_embedding,
  .modulate = cpu_modulate,
  .gated_add = cpu_gated_add,
  .cfg_combine = cpu_cfg_combine,
  .dpm_step = cpu_dpm_step,
};

/**
 * vv_backend_cpu_new:
 * @n_threads: threads to compute with (the caller's included), 0 for
 *   vv_thread_pool_default_n_threads()
 * @error: return location for a #GError
 *
 * Creates the CPU backend. Its kernels are picked for this CPU unless
 * VV_CPU_ISA says otherwise (see the top of vv-backend-cpu.c). A backend
 * must be used from one thread at a time.
 *
 * Sets OpenBLAS to one thread (process-wide): large linear() products are
 * split over this backend's own pool, one sgemm per weight panel, which
 * keeps the results independent of the thread count and avoids two thread
 * pools spinning on the same cores.
 *
 * Returns: (transfer full) (nullable): the backend, or %NULL on error
 */
VvBackend *
vv_backend_cpu_new (gint n_threads, GError **error)
{
  if (n_threads < 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "cpu: invalid thread count %d", n_threads);
    return NULL;
  }
  CpuIsa isa;
  gint amx_parts;
  gint bf16_gemm;
  gboolean i8_avx2;
  if (!choose_isa (&isa, error) || !choose_gemm (isa, &amx_parts, &bf16_gemm, error)
      || !choose_i8 (isa, &i8_avx2, error))
    return NULL;

  GError *local = NULL;
  VvThreadPool *pool = vv_thread_pool_new (n_threads, &local);
  if (pool == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "cpu: %s", local->message);
    g_error_free (local);
    return NULL;
  }

  openblas_set_num_threads (1);

  VvBackend *be = g_new0 (VvBackend, 1);
  CpuBackend *cpu = g_new0 (CpuBackend, 1);
  be->ops = &cpu_ops;
  be->device = vv_device_host ();
  g_rec_mutex_init (&be->lock);
  be->priv = cpu;
  be->n_threads = vv_thread_pool_get_n_threads (pool);
  cpu->pool = pool;
  cpu->isa = isa;
  cpu->amx_parts = amx_parts;
  cpu->bf16_gemm = bf16_gemm;
  cpu->i8_avx2 = i8_avx2;
  cpu->scratch = g_new0 (gfloat *, be->n_threads);
  set_kernels (cpu);
  g_debug ("cpu backend: %d thread(s), %s kernels, large linear on %s", be->n_threads,
      isa_names[isa], amx_parts ? "AMX" : bf16_gemm ? "AVX512_BF16" : "sgemm");
  return be;
}
