/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-backend-cpu-private.h"

#include <stdlib.h>
#include <string.h>

/* Multiply-adds are explicit (see the kernels .inc): the compiler must not
 * fuse some and not others, or a row's result would depend on how its
 * loop was blocked. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize ("fp-contract=off")
#endif

/*
 * Convolution kernels of the CPU backend (σ-VAE tokenizers, MODEL-SPEC §5).
 *
 * Activations are time-major [T, C]. The tokenizers stream (§5.6): a chunk
 * of any length must give the same rows, bit for bit, as one call over the
 * whole signal. So unlike linear() (whose small-n and sgemm paths differ),
 * every kernel here computes an output element with an instruction sequence
 * that depends only on the weight shape — never on T or on how the work is
 * split over threads:
 *
 * - conv1d, groups = 1 ("dot" kernel): y[t, o] = Σ_K X'[t, K] · w[o, K]
 *   with K = (c, j) in the weight's own [C_out, C_in, k] order and
 *   X'[t, c·k + j] = x[t·s + j, c] (im2col, skipped when k = 1 or
 *   C_in = 1 because X' rows are then plain windows of x). Eight lanes of
 *   partial sums over K, a fixed reduction tree, the K % 8 tail added in
 *   order. BF16 weights are widened in registers (at T = 1 the op is
 *   bound by reading each weight once), F16 rows are converted four at a
 *   time into per-task scratch.
 * - conv1d depthwise: per element, taps j = 0..k-1 in order, then bias.
 * - conv_transpose1d ("outer product" kernel): z[t, (o, j)] =
 *   Σ_c x[t, c] · w[c, (o, j)] summed over c in order, on F32 panels of
 *   64 weight columns; then y[n, o] = Σ_t z[t, o, n − t·s] (ascending t)
 *   + bias.
 *
 * The kernels are plain C with GCC vector extensions, built three times:
 * portable, AVX2+FMA and AVX-512VL (the same 8-lane code with 32 registers,
 * so wider register blocking); cpu->isa picks one. On AVX-512 the 16-lane
 * kernels below (dot512_*, nn512_*, dw512_rows) replace them unless
 * VV_CONV_KERNEL=v1: dot rows with 16-lane partial sums and fused bias;
 * dense convs with short rows and small weights, and all transposed convs,
 * on an outer-product kernel (sums over K in order, no horizontal sums).
 * Results differ between the builds (FMA contraction, lane counts) but not
 * between thread counts or chunk sizes: every kernel choice that changes
 * bits depends on the weight shape only (the T-dependent ones, e.g. BF16
 * widened in registers or through scratch, give the same bits), and
 * register blocking (rows per block) never changes an element's summation
 * order.
 *
 * Scratch (im2col / z buffer, converted weight panels) lives in one buffer
 * per calling thread (GPrivate, freed when the thread exits), grown when a
 * larger call comes, so the steady state allocates nothing.
 */

#define VV_ALWAYS_INLINE static inline __attribute__ ((always_inline))

typedef float v8sf __attribute__ ((vector_size (32)));
typedef float v8sf_u __attribute__ ((vector_size (32), aligned (4), may_alias));
typedef guint16 v8hu __attribute__ ((vector_size (16)));
typedef guint16 v8hu_u __attribute__ ((vector_size (16), aligned (2), may_alias));
typedef guint32 v8su __attribute__ ((vector_size (32)));

#define LOADU(p) (*(const v8sf_u *) (p))
#define LOADU_H(p) (*(const v8hu_u *) (p))
#define STOREU(p, v) (*(v8sf_u *) (p) = (v))

/* dot kernel: t rows per task unit, weight rows per unit */
#define DOT_TB 512
#define DOT_OG 16
/* from this many rows on, BF16 weight rows are widened into scratch */
#define DOT_CONVERT_MIN_T 8
/* the same for the AVX-512 kernel, which widens 16 at a time in registers
 * for about two instructions (a pass through scratch only pays off when
 * each weight is used by many 6-row blocks) */
#define DOT512_CONVERT_MIN_T 64
/* outer-product kernel: weight columns per panel, t rows per unit */
#define NN_PW 64
#define NN_TB 64
/* AVX-512 transposed convs with fewer input rows read BF16 / F32 weights
 * in place (see nn_task) */
#define NN_DIRECT_MAX_T 16
#define NN_STREAM_MIN_COLS 256
/* below this many MACs an op runs on the calling thread */
#define CONV_PAR_MIN (1 << 16)

/* ---------------------------------------------------------------------- */
/* Kernels, instantiated per ISA */

#define SFX(name) name##_generic
#define ATTR
#define VFMA(a, b, c) ((a) * (b) + (c))
#define SFMA(a, b, c) ((a) * (b) + (c))
#include "vv-backend-cpu-conv-kernels.inc"
#undef SFX
#undef ATTR
#undef VFMA
#undef SFMA

#if defined(__x86_64__) && !defined(VV_NO_SIMD)
#define VV_CONV_X86 1
#include <immintrin.h>
#define VFMA(a, b, c) ((v8sf) _mm256_fmadd_ps ((__m256) (a), (__m256) (b), (__m256) (c)))
#define SFMA(a, b, c) __builtin_fmaf ((a), (b), (c))
#define SFX(name) name##_avx2
#define ATTR __attribute__ ((target ("avx2,fma")))
#include "vv-backend-cpu-conv-kernels.inc"
#undef SFX
#undef ATTR
#define SFX(name) name##_avx512
#define ATTR __attribute__ ((target ("avx2,fma,avx512f,avx512vl")))
#include "vv-backend-cpu-conv-kernels.inc"
#undef SFX
#undef ATTR
#endif

/* ---------------------------------------------------------------------- */
/* AVX-512 dot kernel: 16-lane partial sums (zmm) over K in 16-wide steps,
 * the K % 16 tail as one zero-masked step (so no scalar tail), 4 weight
 * rows × N ≤ 6 time rows of accumulators (24 of the 32 registers), then a
 * fixed reduction tree that folds the 4 rows' sums into one 4-float vector,
 * adds the bias and stores the 4 contiguous outputs of a time row. Every
 * element's instruction sequence depends on K alone. */

#if defined(VV_CONV_X86)
#define VV_CONV512 __attribute__ ((target ("avx2,fma,avx512f,avx512vl,avx512bw")))

VV_ALWAYS_INLINE VV_CONV512 __m512
dot512_load_w (const void *w, gint64 off, const int BF)
{
  if (BF)
    return _mm512_castsi512_ps (_mm512_slli_epi32 (_mm512_cvtepu16_epi32 (_mm256_loadu_si256 (
                    (const __m256i *) ((const guint16 *) w + off))), 16));
  return _mm512_loadu_ps ((const gfloat *) w + off);
}

VV_ALWAYS_INLINE VV_CONV512 __m512
dot512_load_w_tail (const void *w, gint64 off, __mmask16 m, const int BF)
{
  if (BF)
    return _mm512_castsi512_ps (_mm512_slli_epi32 (_mm512_cvtepu16_epi32 (
                _mm256_maskz_loadu_epi16 (m, (const guint16 *) w + off)), 16));
  return _mm512_maskz_loadu_ps (m, (const gfloat *) w + off);
}

/* upper 8 lanes (the float extract needs AVX512DQ) */
#define DOT512_HI256(v) _mm256_castpd_ps (_mm512_extractf64x4_pd (_mm512_castps_pd (v), 1))

/* (Σ a, Σ b, Σ c, Σ d), each over 16 lanes, in a fixed tree */
VV_ALWAYS_INLINE VV_CONV512 __m128
dot512_reduce4 (__m512 a, __m512 b, __m512 c, __m512 d)
{
  __m256 a8 = _mm256_add_ps (_mm512_castps512_ps256 (a), DOT512_HI256 (a));
  __m256 b8 = _mm256_add_ps (_mm512_castps512_ps256 (b), DOT512_HI256 (b));
  __m256 c8 = _mm256_add_ps (_mm512_castps512_ps256 (c), DOT512_HI256 (c));
  __m256 d8 = _mm256_add_ps (_mm512_castps512_ps256 (d), DOT512_HI256 (d));
  /* (a lo4 + a hi4 | b lo4 + b hi4), likewise c, d */
  __m256 ab = _mm256_add_ps (_mm256_permute2f128_ps (a8, b8, 0x20),
      _mm256_permute2f128_ps (a8, b8, 0x31));
  __m256 cd = _mm256_add_ps (_mm256_permute2f128_ps (c8, d8, 0x20),
      _mm256_permute2f128_ps (c8, d8, 0x31));
  /* pairwise: (a01 a23 c01 c23 | b01 b23 d01 d23), then (A C A C | B D B D) */
  __m256 h = _mm256_hadd_ps (ab, cd);
  h = _mm256_hadd_ps (h, h);
  return _mm_unpacklo_ps (_mm256_castps256_ps128 (h), _mm256_extractf128_ps (h, 1));
}

/* y[n·ldy + r] = Σ_k w_r[k] · x[n·ldx + k] (+ bias[r]) for r < R ≤ 4,
 * n < N; rows past R repeat row 0 and are not stored */
VV_ALWAYS_INLINE VV_CONV512 void
dot512_block (const void *w, gint64 ldw, int R, const gfloat *x, gint64 ldx, gint64 K,
    gfloat *y, gint64 ldy, const gfloat *bias, const int N, const int BF)
{
  const gsize es = BF ? 2 : 4;
  const void *wr[4];
  for (int r = 0; r < 4; r++)
    wr[r] = (const guint8 *) w + (gsize) ((r < R ? r : 0) * ldw) * es;
  __m512 acc[4][6];
#pragma GCC unroll 4
  for (int r = 0; r < 4; r++)
#pragma GCC unroll 6
    for (int n = 0; n < N; n++)
      acc[r][n] = _mm512_setzero_ps ();
  gint64 k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 wv[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      if (BF && (k & 31) == 0)
        __builtin_prefetch ((const guint16 *) wr[r] + k + 512, 0, 0);
      wv[r] = dot512_load_w (wr[r], k, BF);
    }
#pragma GCC unroll 6
    for (int n = 0; n < N; n++) {
      __m512 xv = _mm512_loadu_ps (x + n * ldx + k);
#pragma GCC unroll 4
      for (int r = 0; r < 4; r++)
        acc[r][n] = _mm512_fmadd_ps (wv[r], xv, acc[r][n]);
    }
  }
  if (k < K) {
    __mmask16 m = (__mmask16) ((1u << (K - k)) - 1);
    __m512 wv[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
      wv[r] = dot512_load_w_tail (wr[r], k, m, BF);
#pragma GCC unroll 6
    for (int n = 0; n < N; n++) {
      __m512 xv = _mm512_maskz_loadu_ps (m, x + n * ldx + k);
#pragma GCC unroll 4
      for (int r = 0; r < 4; r++)
        acc[r][n] = _mm512_fmadd_ps (wv[r], xv, acc[r][n]);
    }
  }
  const __mmask8 sm = (__mmask8) ((1u << R) - 1);
  __m128 b = bias ? _mm_maskz_loadu_ps (sm, bias) : _mm_setzero_ps ();
#pragma GCC unroll 6
  for (int n = 0; n < N; n++) {
    __m128 s = dot512_reduce4 (acc[0][n], acc[1][n], acc[2][n], acc[3][n]);
    if (bias)
      s = _mm_add_ps (s, b);
    _mm_mask_storeu_ps (y + n * ldy, sm, s);
  }
}

VV_ALWAYS_INLINE VV_CONV512 void
dot512_rows_i (const void *w, gint64 ldw, int R, const gfloat *x, gint64 ldx, gint64 T,
    gint64 K, gfloat *y, gint64 ldy, const gfloat *bias, const int BF)
{
  gint64 t = 0;
  for (; t + 6 <= T; t += 6)
    dot512_block (w, ldw, R, x + t * ldx, ldx, K, y + t * ldy, ldy, bias, 6, BF);
  switch (T - t) {
    case 5: dot512_block (w, ldw, R, x + t * ldx, ldx, K, y + t * ldy, ldy, bias, 5, BF); break;
    case 4: dot512_block (w, ldw, R, x + t * ldx, ldx, K, y + t * ldy, ldy, bias, 4, BF); break;
    case 3: dot512_block (w, ldw, R, x + t * ldx, ldx, K, y + t * ldy, ldy, bias, 3, BF); break;
    case 2: dot512_block (w, ldw, R, x + t * ldx, ldx, K, y + t * ldy, ldy, bias, 2, BF); break;
    case 1: dot512_block (w, ldw, R, x + t * ldx, ldx, K, y + t * ldy, ldy, bias, 1, BF); break;
    default: break;
  }
}

/* Outer-product kernel on 16 lanes: y[n·ldy + col] = Σ_c x[n·ldx + c] ·
 * w[c·ldw + col] (+ bias[col]) for col < ncol ≤ 16·NV, summed over c in
 * order from zero (the same arithmetic as nn_block with FMAs, so the same
 * bits as the 8-lane build's transposed convs). w is F32, or BF16 widened
 * in registers (BF: when the op reads each weight only a few times, which
 * saves the conversion pass); columns past ncol are neither read nor
 * stored. NV·N ≤ 24 accumulators. */
VV_ALWAYS_INLINE VV_CONV512 void
nn512_block (const void *w, gint64 ldw, const gfloat *x, gint64 ldx, gint64 K, gfloat *y,
    gint64 ldy, int ncol, const gfloat *bias, const int NV, const int N, const int BF)
{
  __mmask16 m[4];
  __m512 acc[12][4];
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
    int left = ncol - 16 * v;
    m[v] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16) ((1u << left) - 1);
  }
#pragma GCC unroll 12
  for (int n = 0; n < N; n++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      acc[n][v] = _mm512_setzero_ps ();
  for (gint64 c = 0; c < K; c++) {
    __m512 wv[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      wv[v] = dot512_load_w_tail (w, c * ldw + 16 * v, m[v], BF);
#pragma GCC unroll 12
    for (int n = 0; n < N; n++) {
      __m512 xb = _mm512_set1_ps (x[n * ldx + c]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        acc[n][v] = _mm512_fmadd_ps (xb, wv[v], acc[n][v]);
    }
  }
  __m512 b[4];
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++)
    b[v] = bias ? _mm512_maskz_loadu_ps (m[v], bias + 16 * v) : _mm512_setzero_ps ();
#pragma GCC unroll 12
  for (int n = 0; n < N; n++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      _mm512_mask_storeu_ps (y + n * ldy + 16 * v, m[v],
          bias ? _mm512_add_ps (acc[n][v], b[v]) : acc[n][v]);
}

VV_ALWAYS_INLINE VV_CONV512 void
nn512_rows_i (const void *w, gint64 ldw, const gfloat *x, gint64 ldx, gint64 T, gint64 K,
    gfloat *y, gint64 ldy, int ncol, const gfloat *bias, const int BF)
{
  gint64 t = 0;
  if (ncol <= 32) {
    for (; t + 12 <= T; t += 12)
      nn512_block (w, ldw, x + t * ldx, ldx, K, y + t * ldy, ldy, ncol, bias, 2, 12, BF);
    for (; t < T; t++)
      nn512_block (w, ldw, x + t * ldx, ldx, K, y + t * ldy, ldy, ncol, bias, 2, 1, BF);
  } else {
    for (; t + 6 <= T; t += 6)
      nn512_block (w, ldw, x + t * ldx, ldx, K, y + t * ldy, ldy, ncol, bias, 4, 6, BF);
    for (; t < T; t++)
      nn512_block (w, ldw, x + t * ldx, ldx, K, y + t * ldy, ldy, ncol, bias, 4, 1, BF);
  }
}

/* One panel of ≤ 64 columns (starting at w) against T input rows. */
static VV_CONV512 void
nn512_rows (const void *w, gint64 ldw, gboolean bf16, const gfloat *x, gint64 ldx, gint64 T,
    gint64 K, gfloat *y, gint64 ldy, int ncol, const gfloat *bias)
{
  if (bf16)
    nn512_rows_i (w, ldw, x, ldx, T, K, y, ldy, ncol, bias, 1);
  else
    nn512_rows_i (w, ldw, x, ldx, T, K, y, ldy, ncol, bias, 0);
}

/* Few input rows (T < NN_DIRECT_MAX_T): z[t, cols] = Σ_c x[t, c] ·
 * w[c, cols] over the column range [0, ncol) of w's rows (stride ldw),
 * accumulated in z itself, c in order from zero: the same FMA sequence
 * per element as nn512_block, but the weight is read row by row in long
 * contiguous runs (a 64-column panel would stride through it). */
VV_ALWAYS_INLINE VV_CONV512 void
nn512_stream_i (const void *w, gint64 ldw, const gfloat *x, gint64 ldx, gint64 T, gint64 K,
    gfloat *z, gint64 ldz, gint64 ncol, const int BF)
{
  for (gint64 t = 0; t < T; t++)
    memset (z + t * ldz, 0, (gsize) ncol * sizeof (gfloat));
  for (gint64 c = 0; c < K; c++) {
    for (gint64 col = 0; col < ncol; col += 16) {
      __mmask16 m = ncol - col >= 16 ? 0xffff : (__mmask16) ((1u << (ncol - col)) - 1);
      /* the weight is read once: fetch a few rows ahead (a run of
       * ncol elements per row, then a jump of ldw) */
      if ((col & 31) == 0 && c + 4 < K)
        __builtin_prefetch ((const guint8 *) w + (gsize) ((c + 4) * ldw + col) * (BF ? 2 : 4),
            0, 0);
      __m512 wv = dot512_load_w_tail (w, c * ldw + col, m, BF);
      for (gint64 t = 0; t < T; t++) {
        gfloat *zp = z + t * ldz + col;
        _mm512_mask_storeu_ps (zp, m, _mm512_fmadd_ps (_mm512_set1_ps (x[t * ldx + c]), wv,
                _mm512_maskz_loadu_ps (m, zp)));
      }
    }
  }
}

static VV_CONV512 void
nn512_stream (const void *w, gint64 ldw, gboolean bf16, const gfloat *x, gint64 ldx, gint64 T,
    gint64 K, gfloat *z, gint64 ldz, gint64 ncol)
{
  if (bf16)
    nn512_stream_i (w, ldw, x, ldx, T, K, z, ldz, ncol, 1);
  else
    nn512_stream_i (w, ldw, x, ldx, T, K, z, ldz, ncol, 0);
}

/* R ≤ 4 weight rows (F32, or BF16 when @bf16) against T input rows, with
 * the R biases fused (NULL: none) */
static VV_CONV512 void
dot512_rows (const void *w, gint64 ldw, int R, const gfloat *x, gint64 ldx, gint64 T,
    gint64 K, gfloat *y, gint64 ldy, const gfloat *bias, gboolean bf16)
{
  if (bf16)
    dot512_rows_i (w, ldw, R, x, ldx, T, K, y, ldy, bias, 1);
  else
    dot512_rows_i (w, ldw, R, x, ldx, T, K, y, ldy, bias, 0);
}
#endif

typedef void (*DotRowsFunc) (const void *w, gint64 ldw, int R, const gfloat *x,
    gint64 ldx, gint64 T, gint64 K, gfloat *y, gint64 ldy, gboolean bf16);
typedef void (*NnRowsFunc) (const gfloat *wp, gint64 cin, const gfloat *x, gint64 ldx,
    gint64 T, gfloat *z);

#define DEFINE_KERNELS(suffix, attr, DOT_N, NN_N)                              \
  static attr void                                                            \
  dot_rows_##suffix (const void *w, gint64 ldw, int R, const gfloat *x,       \
      gint64 ldx, gint64 T, gint64 K, gfloat *y, gint64 ldy, gboolean bf16)   \
  {                                                                           \
    if (bf16)                                                                 \
      dot_rows_i_##suffix (w, ldw, R, x, ldx, T, K, y, ldy, DOT_N, 1);        \
    else                                                                      \
      dot_rows_i_##suffix (w, ldw, R, x, ldx, T, K, y, ldy, DOT_N, 0);        \
  }                                                                           \
  static attr void                                                            \
  nn_rows_##suffix (const gfloat *wp, gint64 cin, const gfloat *x,            \
      gint64 ldx, gint64 T, gfloat *z)                                        \
  {                                                                           \
    nn_rows_i_##suffix (wp, cin, x, ldx, T, z, NN_N);                         \
  }

DEFINE_KERNELS (generic, , 2, 2)
#if defined(VV_CONV_X86)
DEFINE_KERNELS (avx2, __attribute__ ((target ("avx2,fma"))), 2, 2)
DEFINE_KERNELS (avx512, __attribute__ ((target ("avx2,fma,avx512f,avx512vl"))), 3, 6)
#endif

static void
pick_kernels (CpuBackend *cpu, DotRowsFunc *dot, NnRowsFunc *nn)
{
  *dot = dot_rows_generic;
  *nn = nn_rows_generic;
#if defined(VV_CONV_X86)
  if (cpu->isa == CPU_ISA_AVX2) {
    *dot = dot_rows_avx2;
    *nn = nn_rows_avx2;
  } else if (cpu->isa == CPU_ISA_AVX512) {
    *dot = dot_rows_avx512;
    *nn = nn_rows_avx512;
  }
#endif
}

/* The 16-lane kernels, unless VV_CONV_KERNEL=v1 asks for the earlier
 * 8-lane ones (kept for before/after measurements in one build). */
static gboolean
use_zmm (const CpuBackend *cpu)
{
  return cpu->isa == CPU_ISA_AVX512 && g_strcmp0 (g_getenv ("VV_CONV_KERNEL"), "v1") != 0;
}

/* ---------------------------------------------------------------------- */
/* Helpers */

typedef struct {
  gfloat *p;
  gsize n;
} Scratch;

static void
scratch_free (gpointer data)
{
  Scratch *s = data;
  vv_host_mem_free (s->p, s->n * sizeof (gfloat));
  g_free (s);
}

static GPrivate conv_scratch = G_PRIVATE_INIT (scratch_free);

/* The calling thread's scratch, at least @floats long (64-byte aligned). */
static gfloat *
get_scratch (gsize floats, const gchar *op, GError **error)
{
  Scratch *s = g_private_get (&conv_scratch);
  if (s == NULL) {
    s = g_new0 (Scratch, 1);
    g_private_set (&conv_scratch, s);
  }
  if (s->n >= floats)
    return s->p;
  vv_host_mem_free (s->p, s->n * sizeof (gfloat));
  s->p = NULL;
  s->n = 0;
  gsize want = MAX (floats + floats / 4, (gsize) 1 << 14);
  GError *local = NULL;
  void *p = vv_host_mem_alloc (want * sizeof (gfloat), &local);
  if (p == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "%s: scratch: %s", op, local->message);
    g_error_free (local);
    return NULL;
  }
  s->p = p;
  s->n = want;
  return s->p;
}

static inline gsize
round16 (gsize n)
{
  return (n + 15) & ~(gsize) 15;
}

static gint
pick_n_tasks (CpuBackend *cpu, gint64 n_units, gint64 macs)
{
  gint n_threads = vv_thread_pool_get_n_threads (cpu->pool);
  if (n_threads <= 1 || macs < CONV_PAR_MIN)
    return 1;
  return (gint) CLAMP (MIN ((gint64) n_threads * 2, n_units), 1, G_MAXINT);
}

static inline void
run_tasks (CpuBackend *cpu, gint n_tasks, VvParallelFunc func, gpointer data)
{
  if (n_tasks <= 1)
    func (0, 1, data);
  else
    vv_thread_pool_run (cpu->pool, n_tasks, func, data);
}

/* ---------------------------------------------------------------------- */
/* conv1d, groups = 1 */

typedef struct {
  CpuBackend *cpu;
  DotRowsFunc dot;
  const guint8 *w;
  VvDType wdt;
  gint64 K, c_out, T;
  const gfloat *x;              /* row t of X' at x + t·ldx */
  gint64 ldx;
  gfloat *y;
  const void *bias;
  VvDType bdt;
  gint64 n_og, n_units;
  gboolean zmm;                 /* the AVX-512 kernel (bias fused) */
  gfloat *task_scratch;         /* n_tasks × task_floats */
  gsize task_floats;
} DotJob;

#if defined(VV_CONV_X86)
/* Dense convs with short rows (K ≤ PK_MAX_K) and small weights run on the outer-product
 * kernel: no horizontal sums, which cost as much as the K/16 FMA steps
 * themselves at K = 32..128. The weight is transposed per call into
 * [K, 64-column] panels (cheap: these weights are small and their convs
 * run over many rows). The choice depends on the weight shape only, so
 * rows stay bit-identical whatever T is (streaming). */
#define PK_MAX_K 512
/* larger weights: the per-call transposition would cost more than the
 * horizontal sums it saves (in these models they run over few rows) */
#define PK_MAX_WEIGHTS (1 << 18)
#define PK_MIN_COUT 16
#define PK_TB 192

static void
pk_task (gint task, gint n_tasks, gpointer data)
{
  const DotJob *job = data;
  gint64 u0 = job->n_units * task / n_tasks;
  gint64 u1 = job->n_units * (task + 1) / n_tasks;
  gfloat *panel = job->task_scratch + (gsize) task * job->task_floats;
  gfloat *bias = panel + (gsize) job->K * NN_PW;
  gint64 n_tb = (job->T + PK_TB - 1) / PK_TB, last_p = -1;
  const gsize es = vv_dtype_size (job->wdt);
  for (gint64 u = u0; u < u1; u++) {
    gint64 p = u / n_tb, t0 = (u % n_tb) * PK_TB, t1 = MIN (job->T, t0 + PK_TB);
    gint64 col0 = p * NN_PW, ncol = MIN (NN_PW, job->c_out - col0);
    if (p != last_p) {
      gfloat *row = bias + NN_PW;
      for (gint64 col = 0; col < ncol; col++) {
        job->cpu->convert[job->wdt] (job->w + (gsize) ((col0 + col) * job->K) * es, row,
            job->K);
        for (gint64 kk = 0; kk < job->K; kk++)
          panel[kk * NN_PW + col] = row[kk];
        bias[col] = job->bias ? vv_cpu_weight_at (job->bias, job->bdt, col0 + col) : 0.0f;
      }
      last_p = p;
    }
    nn512_rows (panel, NN_PW, FALSE, job->x + t0 * job->ldx, job->ldx, t1 - t0, job->K,
        job->y + t0 * job->c_out + col0, job->c_out, (int) ncol, job->bias ? bias : NULL);
  }
}
#endif

static void
dot_task (gint task, gint n_tasks, gpointer data)
{
  const DotJob *job = data;
  gint64 u0 = job->n_units * task / n_tasks;
  gint64 u1 = job->n_units * (task + 1) / n_tasks;
  gfloat *wbuf = job->task_scratch + (gsize) task * job->task_floats;
  const gsize es = vv_dtype_size (job->wdt);

  for (gint64 u = u0; u < u1; u++) {
    gint64 t0 = (u / job->n_og) * DOT_TB, t1 = MIN (job->T, t0 + DOT_TB);
    gint64 o0 = (u % job->n_og) * DOT_OG, o1 = MIN (job->c_out, o0 + DOT_OG);
    for (gint64 ob = o0; ob < o1; ob += 4) {
      int R = (int) MIN (4, o1 - ob);
      const void *wp = job->w + (gsize) (ob * job->K) * es;
      gboolean bf16 = job->wdt == VV_DTYPE_BF16;
      /* Few rows: widen BF16 in registers (bandwidth-bound). Many rows:
       * widen once into scratch so the kernel is pure F32 FMAs. The
       * conversion is exact, so both give the same bits. */
      if (job->wdt == VV_DTYPE_F16
          || (bf16 && t1 - t0 >= (job->zmm ? DOT512_CONVERT_MIN_T : DOT_CONVERT_MIN_T))) {
        job->cpu->convert[job->wdt] (wp, wbuf, R * job->K);
        wp = wbuf;
        bf16 = FALSE;
      }
      gfloat *y = job->y + t0 * job->c_out + ob;
#if defined(VV_CONV_X86)
      if (job->zmm) {
        gfloat b4[4];
        for (int r = 0; r < R; r++)
          b4[r] = job->bias ? vv_cpu_weight_at (job->bias, job->bdt, ob + r) : 0.0f;
        dot512_rows (wp, job->K, R, job->x + t0 * job->ldx, job->ldx, t1 - t0, job->K, y,
            job->c_out, job->bias ? b4 : NULL, bf16);
        continue;
      }
#endif
      job->dot (wp, job->K, R, job->x + t0 * job->ldx, job->ldx, t1 - t0, job->K, y,
          job->c_out, bf16);
      if (job->bias != NULL)
        for (int r = 0; r < R; r++) {
          gfloat b = vv_cpu_weight_at (job->bias, job->bdt, ob + r);
          for (gint64 t = 0; t < t1 - t0; t++)
            y[t * job->c_out + r] += b;
        }
    }
  }
}

typedef struct {
  const gfloat *x;
  gfloat *xc;
  gint64 c_in, k, s, T;
} Im2colJob;

static void
im2col_task (gint task, gint n_tasks, gpointer data)
{
  const Im2colJob *job = data;
  gint64 t0 = job->T * task / n_tasks, t1 = job->T * (task + 1) / n_tasks;
  for (gint64 t = t0; t < t1; t++) {
    gfloat *row = job->xc + t * job->c_in * job->k;
    const gfloat *src = job->x + t * job->s * job->c_in;
    for (gint64 j = 0; j < job->k; j++)
      for (gint64 c = 0; c < job->c_in; c++)
        row[c * job->k + j] = src[j * job->c_in + c];
  }
}

static gboolean
conv1d_dense (CpuBackend *cpu, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, GError **error)
{
  gint64 c_in = x->shape[1], T = y->shape[0];
  gint64 c_out = w->shape[0], k = w->shape[2];
  DotJob job = {
    .cpu = cpu,
    .w = w->data,
    .wdt = w->dtype,
    .K = c_in * k,
    .c_out = c_out,
    .T = T,
    .y = y->data,
    .bias = bias ? bias->data : NULL,
    .bdt = bias ? bias->dtype : VV_DTYPE_F32,
  };
  pick_kernels (cpu, &job.dot, &(NnRowsFunc) { NULL });
  job.zmm = use_zmm (cpu);
  gboolean panels = FALSE;
#if defined(VV_CONV_X86)
  panels = job.zmm && job.K <= PK_MAX_K && c_out >= PK_MIN_COUT
      && job.K * c_out <= PK_MAX_WEIGHTS;
#endif
  if (panels) {
    job.n_og = (c_out + NN_PW - 1) / NN_PW;
    job.n_units = job.n_og * ((T + PK_TB - 1) / PK_TB);
    /* panel, biases, one converted weight row */
    job.task_floats = round16 ((gsize) ((job.K + 1) * NN_PW + job.K));
  } else {
    job.n_og = (c_out + DOT_OG - 1) / DOT_OG;
    job.n_units = job.n_og * ((T + DOT_TB - 1) / DOT_TB);
    job.task_floats = round16 ((gsize) (4 * job.K));
  }
  gint n_tasks = pick_n_tasks (cpu, job.n_units, T * c_out * job.K);

  /* X' rows are windows of x when there is nothing to interleave */
  gboolean direct = k == 1 || c_in == 1;
  gsize xc_floats = direct ? 0 : round16 ((gsize) (T * job.K));
  gfloat *scratch = get_scratch (xc_floats + (gsize) n_tasks * job.task_floats,
      "conv1d", error);
  if (scratch == NULL)
    return FALSE;
  job.task_scratch = scratch + xc_floats;
  if (direct) {
    job.x = x->data;
    job.ldx = stride * c_in;
  } else {
    Im2colJob ij = { x->data, scratch, c_in, k, stride, T };
    run_tasks (cpu, pick_n_tasks (cpu, T, T * job.K * 64), im2col_task, &ij);
    job.x = scratch;
    job.ldx = job.K;
  }
#if defined(VV_CONV_X86)
  if (panels) {
    run_tasks (cpu, n_tasks, pk_task, &job);
    return TRUE;
  }
#endif
  run_tasks (cpu, n_tasks, dot_task, &job);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* conv1d, depthwise */

typedef struct {
  const gfloat *x;
  gfloat *y;
  const gfloat *wt;             /* [k, C] F32 */
  const gfloat *b;              /* [C] F32 or NULL */
  gint64 C, k, s, T;
  gboolean zmm;
} DwJob;

#if defined(VV_CONV_X86)
/* dw_task's rows on 16 lanes: the same separate multiply and add per tap
 * (this file is built without contraction), so the same bits */
static VV_CONV512 void
dw512_rows (const DwJob *job, gint64 t0, gint64 t1)
{
  const gint64 C = job->C;
  for (gint64 t = t0; t < t1; t++) {
    gfloat *yr = job->y + t * C;
    for (gint64 c = 0; c < C; c += 16) {
      __mmask16 m = C - c >= 16 ? 0xffff : (__mmask16) ((1u << (C - c)) - 1);
      __m512 acc = _mm512_setzero_ps ();
      for (gint64 j = 0; j < job->k; j++)
        acc = _mm512_add_ps (acc, _mm512_mul_ps (
                _mm512_maskz_loadu_ps (m, job->x + (t * job->s + j) * C + c),
                _mm512_maskz_loadu_ps (m, job->wt + j * C + c)));
      if (job->b != NULL)
        acc = _mm512_add_ps (acc, _mm512_maskz_loadu_ps (m, job->b + c));
      _mm512_mask_storeu_ps (yr + c, m, acc);
    }
  }
}
#endif

static void
dw_task (gint task, gint n_tasks, gpointer data)
{
  const DwJob *job = data;
  gint64 t0 = job->T * task / n_tasks, t1 = job->T * (task + 1) / n_tasks;
  const gint64 C = job->C;
#if defined(VV_CONV_X86)
  if (job->zmm) {
    dw512_rows (job, t0, t1);
    return;
  }
#endif
  for (gint64 t = t0; t < t1; t++) {
    gfloat *yr = job->y + t * C;
    for (gint64 c = 0; c < C; c++)
      yr[c] = 0.0f;
    for (gint64 j = 0; j < job->k; j++) {
      const gfloat *xr = job->x + (t * job->s + j) * C;
      const gfloat *wr = job->wt + j * C;
      for (gint64 c = 0; c < C; c++)
        yr[c] += xr[c] * wr[c];
    }
    if (job->b != NULL)
      for (gint64 c = 0; c < C; c++)
        yr[c] += job->b[c];
  }
}

static gboolean
conv1d_depthwise (CpuBackend *cpu, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, GError **error)
{
  gint64 C = x->shape[1], k = w->shape[2], T = y->shape[0];
  gfloat *wt = get_scratch (round16 ((gsize) (k * C)) + (gsize) C, "conv1d", error);
  if (wt == NULL)
    return FALSE;
  /* [C, 1, k] → [k, C] so every tap is a contiguous row */
  for (gint64 c = 0; c < C; c++)
    for (gint64 j = 0; j < k; j++)
      wt[j * C + c] = vv_cpu_weight_at (w->data, w->dtype, c * k + j);
  gfloat *b = NULL;
  if (bias != NULL) {
    b = wt + round16 ((gsize) (k * C));
    for (gint64 c = 0; c < C; c++)
      b[c] = vv_cpu_weight_at (bias->data, bias->dtype, c);
  }
  DwJob job = { x->data, y->data, wt, b, C, k, stride, T, use_zmm (cpu) };
  run_tasks (cpu, pick_n_tasks (cpu, T, T * C * k * 8), dw_task, &job);
  return TRUE;
}

gboolean
vv_cpu_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, gint groups, GError **error)
{
  if (groups == 1)
    return conv1d_dense (CPU (be), y, x, w, bias, stride, error);
  return conv1d_depthwise (CPU (be), y, x, w, bias, stride, error);
}

/* ---------------------------------------------------------------------- */
/* conv_transpose1d */

typedef struct {
  CpuBackend *cpu;
  NnRowsFunc nn;
  const guint8 *w;
  VvDType wdt;
  gint64 c_in, n_cols, T;       /* n_cols = C_out · k */
  const gfloat *x;
  gfloat *z;                    /* [T, n_cols] */
  gint64 n_panels, n_units;
  gboolean zmm;                 /* AVX-512 kernel, straight into z */
  gboolean stream;              /* zmm with T < NN_DIRECT_MAX_T: nn512_stream */
  gint64 stream_cols;           /* columns per stream unit */
  gfloat *task_scratch;
  gsize task_floats;            /* panel c_in × NN_PW, then tile NN_TB × NN_PW */
} NnJob;

static void
nn_task (gint task, gint n_tasks, gpointer data)
{
  const NnJob *job = data;
  gint64 u0 = job->n_units * task / n_tasks;
  gint64 u1 = job->n_units * (task + 1) / n_tasks;
  gfloat *panel = job->task_scratch + (gsize) task * job->task_floats;
  gfloat *tile = panel + (gsize) job->c_in * NN_PW;
  const gsize es = vv_dtype_size (job->wdt);
  gint64 last_p = -1;

  /* units run panel-major inside a task so a converted panel is reused */
  for (gint64 u = u0; u < u1; u++) {
#if defined(VV_CONV_X86)
    if (job->stream) {
      /* units are column ranges over all T rows, one per task (long
       * contiguous runs of each weight row for the prefetcher); reading
       * the weight in place (BF16 widened in registers) saves a
       * conversion pass that would cost as much as the products, and the
       * conversion is exact, so this gives the panels' bits */
      gint64 c0 = u * job->stream_cols;
      nn512_stream (job->w + (gsize) c0 * es, job->n_cols, job->wdt == VV_DTYPE_BF16,
          job->x, job->c_in, job->T, job->c_in, job->z + c0, job->n_cols,
          MIN (job->stream_cols, job->n_cols - c0));
      continue;
    }
#endif
    gint64 p = u / ((job->T + NN_TB - 1) / NN_TB);
    gint64 t0 = (u % ((job->T + NN_TB - 1) / NN_TB)) * NN_TB;
    gint64 t1 = MIN (job->T, t0 + NN_TB);
    gint64 col0 = p * NN_PW, ncol = MIN (NN_PW, job->n_cols - col0);
#if defined(VV_CONV_X86)
    if (job->zmm) {
      gfloat *z = job->z + t0 * job->n_cols + col0;
      const gfloat *x = job->x + t0 * job->c_in;
      if (p != last_p) {
        for (gint64 c = 0; c < job->c_in; c++)
          job->cpu->convert[job->wdt] (job->w + (gsize) (c * job->n_cols + col0) * es,
              panel + c * NN_PW, ncol);
        last_p = p;
      }
      nn512_rows (panel, NN_PW, FALSE, x, job->c_in, t1 - t0, job->c_in, z, job->n_cols,
          (int) ncol, NULL);
      continue;
    }
#endif
    if (p != last_p) {
      for (gint64 c = 0; c < job->c_in; c++) {
        gfloat *dst = panel + c * NN_PW;
        job->cpu->convert[job->wdt] (job->w + (gsize) (c * job->n_cols + col0) * es, dst, ncol);
        for (gint64 i = ncol; i < NN_PW; i++)
          dst[i] = 0.0f;
      }
      last_p = p;
    }
    job->nn (panel, job->c_in, job->x + t0 * job->c_in, job->c_in, t1 - t0, tile);
    for (gint64 t = t0; t < t1; t++)
      memcpy (job->z + t * job->n_cols + col0, tile + (t - t0) * NN_PW,
          (gsize) ncol * sizeof (gfloat));
  }
}

typedef struct {
  const gfloat *z;
  gfloat *y;
  const void *bias;
  VvDType bdt;
  gint64 T, c_out, k, s, rows;
} OlaJob;

static void
ola_task (gint task, gint n_tasks, gpointer data)
{
  const OlaJob *job = data;
  gint64 n0 = job->rows * task / n_tasks, n1 = job->rows * (task + 1) / n_tasks;
  const gint64 k = job->k, s = job->s, n_cols = job->c_out * k;
  for (gint64 n = n0; n < n1; n++) {
    /* input steps t with t·s ≤ n < t·s + k, ascending */
    gint64 t_hi = MIN (job->T - 1, n / s);
    gint64 t_lo = n - k + 1 <= 0 ? 0 : (n - k + 1 + s - 1) / s;
    gfloat *yr = job->y + n * job->c_out;
    for (gint64 o = 0; o < job->c_out; o++) {
      gfloat acc = 0.0f;
      for (gint64 t = t_lo; t <= t_hi; t++)
        acc += job->z[t * n_cols + o * k + (n - t * s)];
      if (job->bias != NULL)
        acc += vv_cpu_weight_at (job->bias, job->bdt, o);
      yr[o] = acc;
    }
  }
}

gboolean
vv_cpu_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, GError **error)
{
  CpuBackend *cpu = CPU (be);
  gint64 T = x->shape[0], c_in = x->shape[1];
  gint64 c_out = w->shape[1], k = w->shape[2];
  NnJob job = {
    .cpu = cpu,
    .w = w->data,
    .wdt = w->dtype,
    .c_in = c_in,
    .n_cols = c_out * k,
    .T = T,
    .x = x->data,
  };
  pick_kernels (cpu, &(DotRowsFunc) { NULL }, &job.nn);
  job.zmm = use_zmm (cpu);
  job.stream = job.zmm && T < NN_DIRECT_MAX_T && w->dtype != VV_DTYPE_F16;
  job.n_panels = (job.n_cols + NN_PW - 1) / NN_PW;
  job.n_units = job.n_panels * ((T + NN_TB - 1) / NN_TB);
  gint n_tasks = pick_n_tasks (cpu, job.n_units, T * c_in * job.n_cols);
  if (job.stream) {
    gint n_thr = MAX (1, MIN (n_tasks, vv_thread_pool_get_n_threads (cpu->pool)));
    job.stream_cols = MAX (NN_STREAM_MIN_COLS, (job.n_cols / n_thr + 15) & ~(gint64) 15);
    job.n_units = (job.n_cols + job.stream_cols - 1) / job.stream_cols;
    n_tasks = (gint) job.n_units;
  }
  gsize z_floats = round16 ((gsize) (T * job.n_cols));
  job.task_floats = round16 ((gsize) (c_in * NN_PW + NN_TB * NN_PW));
  gfloat *scratch = get_scratch (z_floats + (gsize) n_tasks * job.task_floats,
      "conv_transpose1d", error);
  if (scratch == NULL)
    return FALSE;
  job.z = scratch;
  job.task_scratch = scratch + z_floats;
  run_tasks (cpu, n_tasks, nn_task, &job);

  OlaJob ola = {
    .z = job.z,
    .y = y->data,
    .bias = bias ? bias->data : NULL,
    .bdt = bias ? bias->dtype : VV_DTYPE_F32,
    .T = T,
    .c_out = c_out,
    .k = k,
    .s = stride,
    .rows = y->shape[0],
  };
  run_tasks (cpu, pick_n_tasks (cpu, ola.rows, ola.rows * c_out * 8), ola_task, &ola);
  return TRUE;
}
