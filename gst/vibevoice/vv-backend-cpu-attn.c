/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * CPU kernels of the attention ops (MODEL-SPEC §6): rotate-half RoPE and
 * causal grouped-query attention over a KV cache. Operands were checked by
 * the wrappers in vv-backend.c. Every output element is computed by the same
 * instruction sequence whatever the thread count (RoPE splits over rows;
 * attention is explained in its section), so results are bit-identical
 * across thread counts.
 */
#include "vv-backend-cpu-private.h"

#include <math.h>
#include <string.h>

static gint
attn_n_tasks (VvBackend *be, gint64 n_items, gint64 work)
{
  gint n_threads = vv_thread_pool_get_n_threads (CPU (be)->pool);
  if (n_threads <= 1 || work < 32768)
    return 1;
  return (gint) CLAMP (MIN ((gint64) n_threads * 4, n_items), 1, G_MAXINT);
}

static inline void
run (VvBackend *be, gint n_tasks, VvParallelFunc func, gpointer data)
{
  if (n_tasks <= 1)
    func (0, 1, data);
  else
    vv_thread_pool_run (CPU (be)->pool, n_tasks, func, data);
}

/* ---------------------------------------------------------------------- */
/* RoPE */

typedef struct {
  const gfloat *x;
  gfloat *y;
  gint64 n, width;
  gint d;
  const gint32 *positions;
  const gfloat *inv_freq;       /* [d/2] */
} RopeJob;

static void
rope_task (gint task, gint n_tasks, gpointer data)
{
  const RopeJob *job = data;
  gint half = job->d / 2;
  gint64 r0 = job->n * task / n_tasks, r1 = job->n * (task + 1) / n_tasks;
  gfloat *cs = g_newa (gfloat, job->d);
  gfloat *sn = cs + half;
  for (gint64 r = r0; r < r1; r++) {
    /* The reference forms the angle in F32 (inv_freq ⊗ position, one
     * rounding) and takes cos/sin of it; we do the same, with cos/sin
     * evaluated in double and rounded once. */
    gfloat pos = (gfloat) job->positions[r];
    for (gint j = 0; j < half; j++) {
      gfloat a = pos * job->inv_freq[j];
      cs[j] = (gfloat) cos ((gdouble) a);
      sn[j] = (gfloat) sin ((gdouble) a);
    }
    const gfloat *xr = job->x + r * job->width;
    gfloat *yr = job->y + r * job->width;
    for (gint64 h = 0; h < job->width; h += job->d) {
      const gfloat *xh = xr + h;
      gfloat *yh = yr + h;
      for (gint j = 0; j < half; j++) {
        gfloat x1 = xh[j], x2 = xh[j + half];
        yh[j] = x1 * cs[j] - x2 * sn[j];
        yh[j + half] = x2 * cs[j] + x1 * sn[j];
      }
    }
  }
}

gboolean
vv_cpu_rope (VvBackend *be, VvTensor *y, const VvTensor *x, gint head_dim,
    const VvTensor *pos, gdouble theta, GError **error)
{
  const gint32 *positions = pos->data;
  for (gint64 i = 0; i < x->shape[0]; i++) {
    if (positions[i] < 0) {
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
          "rope: negative position %d at row %" G_GINT64_FORMAT, positions[i], i);
      return FALSE;
    }
  }
  gint half = head_dim / 2;
  gfloat *inv_freq = g_newa (gfloat, half);
  /* inv_freq_j = θ^(−2j/d) (MODEL-SPEC §6), rounded to F32 as in the
   * reference */
  for (gint j = 0; j < half; j++)
    inv_freq[j] = (gfloat) (1.0 / pow (theta, (gdouble) (2 * j) / head_dim));
  RopeJob job = {
    .x = x->data, .y = y->data, .n = x->shape[0], .width = x->shape[1],
    .d = head_dim, .positions = positions, .inv_freq = inv_freq,
  };
  run (be, attn_n_tasks (be, job.n, job.n * job.width * 4), rope_task, &job);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Causal GQA attention
 *
 * The keys of one KV head are read once for all the query heads of its
 * group (6 at 1.5B), in chunks of VV_ATTN_CHUNK keys. For each (query row,
 * KV head, chunk) a partial result is formed: per query head the chunk's
 * score maximum m, the sum l of exp(score − m) and the unnormalised output
 * o = Σ exp(score − m)·v. The partials of a row are then folded in chunk
 * order, rescaling by exp(m_old − m_new) (a log-sum-exp merge).
 *
 * Chunk boundaries are absolute key indices and the fold always runs from
 * chunk 0 upwards, so a result does not depend on whether the chunks of a
 * row were computed by one task in sequence (prefill, many rows) or by
 * many tasks at once into a partial buffer that is folded afterwards
 * (decode: split-K, the context shared among the threads). Either way, and
 * for any thread count, every output is the same instruction sequence: the
 * results are bit-identical across thread counts. They differ between the
 * scalar, AVX2 and AVX-512 kernels (different summation order).
 *
 * Keys and values are F32, BF16 or I8 (the KV cache's dtype); BF16 is
 * widened in registers, I8 codes are widened and multiplied by their
 * (token, KV head) scale (one rounding: the same F32 value in every
 * kernel), so each kernel's result on an I8 cache equals, bit for bit, its
 * result on the F32 cache of the dequantised values; everything is
 * accumulated in F32.
 */

#define VV_ATTN_CHUNK 256

typedef struct {
  const gfloat *q;
  const guint8 *k, *v;
  const gfloat *ks, *vs;        /* I8: scales [t][hkv] of k, v; else NULL */
  VvDType kvdt;
  gsize es;                     /* bytes per key/value element */
  gfloat *y;
  gint64 n, t;                  /* new rows, total keys */
  gint64 hq, hkv;
  gint g;                       /* query heads per KV head */
  gint d;
  gfloat scale;
  gint64 n_chunks;              /* chunks of the longest row (t keys) */
  gint64 pb;                    /* floats of one partial: H_q·d (o), H_q (m), H_q (l) */
  gsize s_floats;               /* per-task scratch: scores, 4 widened key rows */
  gint64 row_block;             /* prefill: rows that share each key chunk */
  gfloat *partial;              /* split-K: [n][hkv][n_chunks][pb] */
  CpuIsa isa;
} AttnJob;

static inline gfloat
dot (const gfloat *a, const gfloat *b, gint d)
{
  gfloat s[8] = { 0 };
  gint i = 0;
  for (; i + 8 <= d; i += 8)
    for (gint l = 0; l < 8; l++)
      s[l] += a[i + l] * b[i + l];
  for (; i < d; i++)
    s[0] += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* Element i of a key/value row; @sc is the I8 scale of its head. */
static inline gfloat
kv_at (const guint8 *p, VvDType dt, gint64 i, gfloat sc)
{
  if (dt == VV_DTYPE_BF16)
    return vv_bf16_to_f32 (((const guint16 *) p)[i]);
  if (dt == VV_DTYPE_I8)
    return (gfloat) ((const gint8 *) p)[i] * sc;
  return ((const gfloat *) p)[i];
}

/* The I8 scale of key/value row t, KV head kvh (1 for other dtypes). */
static inline gfloat
kv_scale (const AttnJob *job, const gfloat *sc, gint64 t, gint64 kvh)
{
  return sc != NULL ? sc[t * job->hkv + kvh] : 1.0f;
}

/* ---- portable kernels ---- */

static void
scalar_scores (const AttnJob *job, const gfloat *qr, const guint8 *kb, const gfloat *ksc,
    gint64 nk, gfloat *s)
{
  const gint d = job->d;
  const gsize row_bytes = (gsize) (job->hkv * d) * job->es;
  gfloat *kr = g_newa (gfloat, d);
  for (gint64 t = 0; t < nk; t++) {
    for (gint64 kvh = 0; kvh < job->hkv; kvh++) {
      gfloat sc = kv_scale (job, ksc, t, kvh);
      for (gint j = 0; j < d; j++)
        kr[j] = kv_at (kb + t * row_bytes, job->kvdt, kvh * d + j, sc);
      for (gint64 h = kvh * job->g; h < (kvh + 1) * job->g; h++)
        s[h * VV_ATTN_CHUNK + t] = dot (qr + h * d, kr, d) * job->scale;
    }
  }
}

/* s[h][0..nk) ← exp(s − max), m[h] ← max, l[h] ← Σ */
static void
scalar_softmax_part (const AttnJob *job, gfloat *s, gint64 nk, gfloat *m, gfloat *l)
{
  for (gint h = 0; h < job->hq; h++) {
    gfloat *sh = s + h * VV_ATTN_CHUNK;
    gfloat mx = -INFINITY;
    for (gint64 t = 0; t < nk; t++)
      mx = MAX (mx, sh[t]);
    gfloat sum = 0.0f;
    for (gint64 t = 0; t < nk; t++) {
      sh[t] = expf (sh[t] - mx);
      sum += sh[t];
    }
    m[h] = mx;
    l[h] = sum;
  }
}

static void
scalar_pv (const AttnJob *job, const gfloat *s, const guint8 *vb, const gfloat *vsc,
    gint64 nk, gfloat *o)
{
  const gint d = job->d;
  const gsize row_bytes = (gsize) (job->hkv * d) * job->es;
  memset (o, 0, sizeof (gfloat) * job->hq * d);
  for (gint64 t = 0; t < nk; t++) {
    const guint8 *vr = vb + t * row_bytes;
    for (gint64 kvh = 0; kvh < job->hkv; kvh++)
      for (gint j = 0; j < d; j++) {
        gfloat vj = kv_at (vr, job->kvdt, kvh * d + j, kv_scale (job, vsc, t, kvh));
        for (gint64 h = kvh * job->g; h < (kvh + 1) * job->g; h++)
          o[h * d + j] += s[h * VV_ATTN_CHUNK + t] * vj;
      }
  }
}

/* ---- x86-64 kernels, chosen by the backend's ISA ---- */

#if defined(VV_HAVE_X86_SIMD)


/* The key/value rows of one KV head are 256-512 bytes every 512-1024
 * (the cache is [T, H_kv·d]); without help the loads wait on DRAM one key
 * at a time (2.4 GB/s on one core). So while scoring key t the kernels
 * prefetch key t + VV_ATTN_PF into L1 and value t (needed once the chunk's
 * scores are known) into L2. */
#define VV_ATTN_PF 16

VV_INLINE void
prefetch_kv (const guint8 *k_ahead, const guint8 *v_now, gsize bytes)
{
  for (gsize o = 0; o < bytes; o += 64) {
    _mm_prefetch ((const char *) k_ahead + o, _MM_HINT_T0);
    _mm_prefetch ((const char *) v_now + o, _MM_HINT_T1);
  }
}

/* exp(x) for x ≤ 0 (scores minus their maximum): 2^n · p(r) with
 * x = n·ln2 + r, |r| ≤ ln2/2, p the degree-7 Taylor polynomial (error
 * below 1 ulp of F32 on that range); inputs below −87 give ~e^−87, which
 * is nothing next to the maximum's e^0 = 1. NaN stays NaN. */
#define EXP_C7 1.98412698e-4f
#define EXP_C6 1.38888889e-3f
#define EXP_C5 8.33333333e-3f
#define EXP_C4 4.16666667e-2f
#define EXP_C3 1.66666667e-1f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440e-4f
#define EXP_LOG2E 1.44269504f

VV_INLINE VV_AVX512 __m512
avx512_exp (__m512 x)
{
  x = _mm512_max_ps (_mm512_set1_ps (-87.0f), x);       /* NaN in x is kept */
  __m512 n = _mm512_roundscale_ps (_mm512_mul_ps (x, _mm512_set1_ps (EXP_LOG2E)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps (n, _mm512_set1_ps (EXP_LN2_HI), x);
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (EXP_LN2_LO), r);
  __m512 p = _mm512_set1_ps (EXP_C7);
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (EXP_C6));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (EXP_C5));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (EXP_C4));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (EXP_C3));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (0.5f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f));
  return _mm512_scalef_ps (p, n);
}

/* 16 keys/values as F32; @sc: the I8 scale of their head (else unused). */
VV_INLINE VV_AVX512 __m512
avx512_kv16 (const guint8 *p, const VvDType dt, __m512 sc)
{
  if (dt == VV_DTYPE_BF16)
    return _mm512_castsi512_ps (_mm512_slli_epi32 (_mm512_cvtepu16_epi32 (
                _mm256_loadu_si256 ((const __m256i *) p)), 16));
  if (dt == VV_DTYPE_I8)
    return _mm512_mul_ps (_mm512_cvtepi32_ps (_mm512_cvtepi8_epi32 (
                _mm_loadu_si128 ((const __m128i *) p))), sc);
  return _mm512_loadu_ps ((const gfloat *) p);
}

/* The four horizontal sums of a0..a3, in lanes 0-3 (10 instructions
 * instead of 4 × 8). */
VV_INLINE VV_AVX512 __m128
avx512_sum4 (__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
  __m512 t0 = _mm512_add_ps (_mm512_unpacklo_ps (a0, a1), _mm512_unpackhi_ps (a0, a1));
  __m512 t1 = _mm512_add_ps (_mm512_unpacklo_ps (a2, a3), _mm512_unpackhi_ps (a2, a3));
  __m512 u = _mm512_add_ps (
      _mm512_castpd_ps (_mm512_unpacklo_pd (_mm512_castps_pd (t0), _mm512_castps_pd (t1))),
      _mm512_castpd_ps (_mm512_unpackhi_pd (_mm512_castps_pd (t0), _mm512_castps_pd (t1))));
  u = _mm512_add_ps (u, _mm512_shuffle_f32x4 (u, u, _MM_SHUFFLE (1, 0, 3, 2)));
  u = _mm512_add_ps (u, _mm512_shuffle_f32x4 (u, u, _MM_SHUFFLE (2, 3, 0, 1)));
  return _mm512_castps512_ps128 (u);
}

/* d = 128 (1.5B, 7B): two query heads at a time keep their q in
 * registers (16 vectors), so each key vector is loaded once for both and
 * the loop is bound by the FMAs, not the loads. */
VV_INLINE VV_AVX512 void
avx512_scores_pair128 (const gfloat *q0, const gfloat *q1, const gfloat *const *kp, gint64 ko,
    __m128 scale, gfloat *s0, gfloat *s1, __mmask8 store)
{
  __m512 qa[8], qb[8];
  _Pragma ("GCC unroll 8") for (int x = 0; x < 8; x++) {
    qa[x] = _mm512_loadu_ps (q0 + 16 * x);
    qb[x] = _mm512_loadu_ps (q1 + 16 * x);
  }
  __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  _Pragma ("GCC unroll 8") for (int x = 0; x < 8; x++) {
    __m512 k0 = _mm512_loadu_ps (kp[0] + ko + 16 * x), k1 = _mm512_loadu_ps (kp[1] + ko + 16 * x);
    __m512 k2 = _mm512_loadu_ps (kp[2] + ko + 16 * x), k3 = _mm512_loadu_ps (kp[3] + ko + 16 * x);
    a0 = _mm512_fmadd_ps (qa[x], k0, a0);
    a1 = _mm512_fmadd_ps (qa[x], k1, a1);
    a2 = _mm512_fmadd_ps (qa[x], k2, a2);
    a3 = _mm512_fmadd_ps (qa[x], k3, a3);
    b0 = _mm512_fmadd_ps (qb[x], k0, b0);
    b1 = _mm512_fmadd_ps (qb[x], k1, b1);
    b2 = _mm512_fmadd_ps (qb[x], k2, b2);
    b3 = _mm512_fmadd_ps (qb[x], k3, b3);
  }
  /* s1 first: when both are the same head, s0 (the same values) wins */
  _mm_mask_storeu_ps (s1, store, _mm_mul_ps (avx512_sum4 (b0, b1, b2, b3), scale));
  _mm_mask_storeu_ps (s0, store, _mm_mul_ps (avx512_sum4 (a0, a1, a2, a3), scale));
}

/* Scores of keys t … t+3 against every query head: each key row is
 * widened once into @kf (BF16, I8 dequantised) and each query head's
 * accumulators for the four keys are summed together. d % 16 == 0. */
VV_INLINE VV_AVX512 void
avx512_scores_t (const AttnJob *job, const gfloat *qr, const guint8 *kb, const guint8 *vb,
    const gfloat *ksc, gint64 nk, gfloat *s, gfloat *kf, const VvDType dt, const gsize es)
{
  const gint d = job->d;
  const gint64 kvw = job->hkv * d;
  const gsize rb = (gsize) kvw * es;
  const __m128 scale = _mm_set1_ps (job->scale);
  for (gint64 t0 = 0; t0 < nk; t0 += 4) {
    gint nb = (gint) MIN (4, nk - t0);
    const gfloat *kp[4];
    for (gint i = 0; i < nb; i++) {
      const guint8 *kr = kb + (t0 + i) * rb;
      prefetch_kv (kr + VV_ATTN_PF * rb, vb + (t0 + i) * rb, rb);
      if (dt != VV_DTYPE_F32) {
        /* per head, so the I8 scale is one load (no division per vector) */
        for (gint64 kvh = 0; kvh < job->hkv; kvh++) {
          __m512 sc = dt == VV_DTYPE_I8 ? _mm512_set1_ps (ksc[(t0 + i) * job->hkv + kvh])
              : _mm512_setzero_ps ();
          for (gint64 j = kvh * d; j < (kvh + 1) * d; j += 16)
            _mm512_storeu_ps (kf + i * kvw + j, avx512_kv16 (kr + j * es, dt, sc));
        }
        kp[i] = kf + i * kvw;
      } else {
        kp[i] = (const gfloat *) kr;
      }
    }
    for (gint i = nb; i < 4; i++)
      kp[i] = kp[0];            /* padding: computed, not stored */
    __mmask8 store = (__mmask8) ((1u << nb) - 1);
    if (d == 128) {
      for (gint64 kvh = 0; kvh < job->hkv; kvh++)
        for (gint64 h = kvh * job->g; h < (kvh + 1) * job->g; h += 2) {
          /* an odd group's last head is paired with itself, stored once */
          gint64 h1 = h + 1 < (kvh + 1) * job->g ? h + 1 : h;
          avx512_scores_pair128 (qr + h * d, qr + h1 * d, kp, kvh * d, scale,
              s + h * VV_ATTN_CHUNK + t0, s + h1 * VV_ATTN_CHUNK + t0, store);
        }
      continue;
    }
    for (gint64 h = 0; h < job->hq; h++) {
      const gfloat *qh = qr + h * d;
      gint64 ko = (h / job->g) * d;
      /* two accumulators per key: eight independent FMA chains */
      __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
      __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      gint j = 0;
      for (; j + 32 <= d; j += 32) {
        __m512 qv = _mm512_loadu_ps (qh + j), qw = _mm512_loadu_ps (qh + j + 16);
        a0 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[0] + ko + j), a0);
        a1 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[1] + ko + j), a1);
        a2 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[2] + ko + j), a2);
        a3 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[3] + ko + j), a3);
        b0 = _mm512_fmadd_ps (qw, _mm512_loadu_ps (kp[0] + ko + j + 16), b0);
        b1 = _mm512_fmadd_ps (qw, _mm512_loadu_ps (kp[1] + ko + j + 16), b1);
        b2 = _mm512_fmadd_ps (qw, _mm512_loadu_ps (kp[2] + ko + j + 16), b2);
        b3 = _mm512_fmadd_ps (qw, _mm512_loadu_ps (kp[3] + ko + j + 16), b3);
      }
      if (j < d) {
        __m512 qv = _mm512_loadu_ps (qh + j);
        a0 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[0] + ko + j), a0);
        a1 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[1] + ko + j), a1);
        a2 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[2] + ko + j), a2);
        a3 = _mm512_fmadd_ps (qv, _mm512_loadu_ps (kp[3] + ko + j), a3);
      }
      _mm_mask_storeu_ps (s + h * VV_ATTN_CHUNK + t0, store,
          _mm_mul_ps (avx512_sum4 (_mm512_add_ps (a0, b0), _mm512_add_ps (a1, b1),
                  _mm512_add_ps (a2, b2), _mm512_add_ps (a3, b3)), scale));
    }
  }
}

static VV_AVX512 void
avx512_softmax_part (const AttnJob *job, gfloat *s, gint64 nk, gfloat *m, gfloat *l)
{
  for (gint h = 0; h < job->hq; h++) {
    gfloat *sh = s + h * VV_ATTN_CHUNK;
    __m512 mx = _mm512_set1_ps (-INFINITY);
    for (gint64 t = 0; t < nk; t += 16) {
      __mmask16 mk = nk - t >= 16 ? 0xffff : (__mmask16) ((1u << (nk - t)) - 1);
      mx = _mm512_max_ps (mx, _mm512_mask_loadu_ps (_mm512_set1_ps (-INFINITY), mk, sh + t));
    }
    gfloat mh = _mm512_reduce_max_ps (mx);
    __m512 vm = _mm512_set1_ps (mh), sum = _mm512_setzero_ps ();
    for (gint64 t = 0; t < nk; t += 16) {
      __mmask16 mk = nk - t >= 16 ? 0xffff : (__mmask16) ((1u << (nk - t)) - 1);
      __m512 e = _mm512_maskz_mov_ps (mk,
          avx512_exp (_mm512_sub_ps (_mm512_maskz_loadu_ps (mk, sh + t), vm)));
      _mm512_mask_storeu_ps (sh + t, mk, e);
      sum = _mm512_add_ps (sum, e);
    }
    m[h] = mh;
    l[h] = _mm512_reduce_add_ps (sum);
  }
}

/* o[h0 + h][j0 + 16x …] for HB heads and NV vectors of 16, all in
 * registers (HB·NV ≤ 24 accumulators) over the chunk's values. */
VV_INLINE VV_AVX512 void
avx512_pv_block (const AttnJob *job, const gfloat *s, const guint8 *vb, const gfloat *vsh,
    gint64 nk, gfloat *o, gint h0, gint j0, const int HB, const int NV, const VvDType dt,
    const gsize es)
{
  const gsize rb = (gsize) (job->hkv * job->d) * es;
  __m512 acc[6][4];
  _Pragma ("GCC unroll 6") for (int h = 0; h < HB; h++)
    _Pragma ("GCC unroll 4") for (int x = 0; x < NV; x++)
      acc[h][x] = _mm512_setzero_ps ();
  for (gint64 t = 0; t < nk; t++) {
    const guint8 *vr = vb + t * rb + (gsize) j0 * es;
    __m512 sc = dt == VV_DTYPE_I8 ? _mm512_set1_ps (vsh[t * job->hkv]) : _mm512_setzero_ps ();
    __m512 vv[4];
    _Pragma ("GCC unroll 4") for (int x = 0; x < NV; x++)
      vv[x] = avx512_kv16 (vr + (gsize) (16 * x) * es, dt, sc);
    _Pragma ("GCC unroll 6") for (int h = 0; h < HB; h++) {
      __m512 p = _mm512_set1_ps (s[(h0 + h) * VV_ATTN_CHUNK + t]);
      _Pragma ("GCC unroll 4") for (int x = 0; x < NV; x++)
        acc[h][x] = _mm512_fmadd_ps (p, vv[x], acc[h][x]);
    }
  }
  _Pragma ("GCC unroll 6") for (int h = 0; h < HB; h++)
    _Pragma ("GCC unroll 4") for (int x = 0; x < NV; x++)
      _mm512_storeu_ps (o + (h0 + h) * job->d + j0 + 16 * x, acc[h][x]);
}

/* vsh: the I8 scales of this KV head's first value row (stride hkv) */
#define PV_HEADS(PREFIX, NV, dt, es)                                           \
  switch (hb) {                                                                \
    case 1: PREFIX##_pv_block (job, s, vh, vsh, nk, o, h0, j0, 1, NV, dt, es); break; \
    case 2: PREFIX##_pv_block (job, s, vh, vsh, nk, o, h0, j0, 2, NV, dt, es); break; \
    case 3: PREFIX##_pv_block (job, s, vh, vsh, nk, o, h0, j0, 3, NV, dt, es); break; \
    case 4: PREFIX##_pv_block (job, s, vh, vsh, nk, o, h0, j0, 4, NV, dt, es); break; \
    case 5: PREFIX##_pv_block (job, s, vh, vsh, nk, o, h0, j0, 5, NV, dt, es); break; \
    default: PREFIX##_pv_block (job, s, vh, vsh, nk, o, h0, j0, 6, NV, dt, es); break; \
  }

VV_INLINE VV_AVX512 void
avx512_pv_t (const AttnJob *job, const gfloat *s, const guint8 *vb, const gfloat *vsc,
    gint64 nk, gfloat *o, const VvDType dt, const gsize es)
{
  const gsize hb_bytes = (gsize) job->d * es;
  for (gint64 kvh = 0; kvh < job->hkv; kvh++)
  for (gint j0 = 0; j0 < job->d;) {
    gboolean wide = job->d - j0 >= 64;
    for (gint h0 = (gint) (kvh * job->g); h0 < (kvh + 1) * job->g; h0 += 6) {
      gint hb = (gint) MIN (6, (kvh + 1) * job->g - h0);
      const guint8 *vh = vb + kvh * hb_bytes;
      const gfloat *vsh = vsc != NULL ? vsc + kvh : NULL;
      if (wide) {
        PV_HEADS (avx512, 4, dt, es);
      } else {
        PV_HEADS (avx512, 1, dt, es);
      }
    }
    j0 += wide ? 64 : 16;
  }
}

static VV_AVX512 void
avx512_chunk (const AttnJob *job, const gfloat *qr, const guint8 *kb, const guint8 *vb,
    const gfloat *ksc, const gfloat *vsc, gint64 nk, gfloat *s, gfloat *o, gfloat *m,
    gfloat *l)
{
  /* 4 widened key rows after the scores */
  gfloat *kf = s + job->hq * VV_ATTN_CHUNK;
  if (job->kvdt == VV_DTYPE_BF16) {
    avx512_scores_t (job, qr, kb, vb, NULL, nk, s, kf, VV_DTYPE_BF16, 2);
    avx512_softmax_part (job, s, nk, m, l);
    avx512_pv_t (job, s, vb, NULL, nk, o, VV_DTYPE_BF16, 2);
  } else if (job->kvdt == VV_DTYPE_I8) {
    avx512_scores_t (job, qr, kb, vb, ksc, nk, s, kf, VV_DTYPE_I8, 1);
    avx512_softmax_part (job, s, nk, m, l);
    avx512_pv_t (job, s, vb, vsc, nk, o, VV_DTYPE_I8, 1);
  } else {
    avx512_scores_t (job, qr, kb, vb, NULL, nk, s, kf, VV_DTYPE_F32, 4);
    avx512_softmax_part (job, s, nk, m, l);
    avx512_pv_t (job, s, vb, NULL, nk, o, VV_DTYPE_F32, 4);
  }
}

/* ---- AVX2 + FMA: 8 lanes, d % 8 == 0 ---- */

VV_INLINE VV_AVX2 __m256
avx2_exp (__m256 x)
{
  x = _mm256_max_ps (_mm256_set1_ps (-87.0f), x);       /* NaN in x is kept */
  __m256 n = _mm256_round_ps (_mm256_mul_ps (x, _mm256_set1_ps (EXP_LOG2E)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps (n, _mm256_set1_ps (EXP_LN2_HI), x);
  r = _mm256_fnmadd_ps (n, _mm256_set1_ps (EXP_LN2_LO), r);
  __m256 p = _mm256_set1_ps (EXP_C7);
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (EXP_C6));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (EXP_C5));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (EXP_C4));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (EXP_C3));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (0.5f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (1.0f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (1.0f));
  /* 2^n by the exponent field: n ≥ −126 since x ≥ −87 */
  __m256i e = _mm256_slli_epi32 (_mm256_add_epi32 (_mm256_cvtps_epi32 (n),
          _mm256_set1_epi32 (127)), 23);
  return _mm256_mul_ps (p, _mm256_castsi256_ps (e));
}

/* 8 keys/values as F32; @sc: the I8 scale of their head (else unused). */
VV_INLINE VV_AVX2 __m256
avx2_kv8 (const guint8 *p, const VvDType dt, __m256 sc)
{
  if (dt == VV_DTYPE_BF16)
    return _mm256_castsi256_ps (_mm256_slli_epi32 (_mm256_cvtepu16_epi32 (
                _mm_loadu_si128 ((const __m128i *) p)), 16));
  if (dt == VV_DTYPE_I8)
    return _mm256_mul_ps (_mm256_cvtepi32_ps (_mm256_cvtepi8_epi32 (
                _mm_loadl_epi64 ((const __m128i *) p))), sc);
  return _mm256_loadu_ps ((const gfloat *) p);
}

VV_INLINE VV_AVX2 void
avx2_scores_t (const AttnJob *job, const gfloat *qr, const guint8 *kb, const guint8 *vb,
    const gfloat *ksc, gint64 nk, gfloat *s, const VvDType dt, const gsize es)
{
  const gint d = job->d;
  const gsize rb = (gsize) (job->hkv * d) * es;
  for (gint64 t = 0; t < nk; t++) {
    const guint8 *kr = kb + t * rb;
    prefetch_kv (kr + VV_ATTN_PF * rb, vb + t * rb, rb);
    for (gint64 h = 0; h < job->hq; h++) {
      const gfloat *qh = qr + h * d;
      const gint64 kvh = h / job->g;
      const guint8 *kh = kr + (gsize) (kvh * d) * es;
      __m256 sc = dt == VV_DTYPE_I8 ? _mm256_set1_ps (ksc[t * job->hkv + kvh])
          : _mm256_setzero_ps ();
      __m256 a0 = _mm256_setzero_ps (), a1 = _mm256_setzero_ps ();
      gint j = 0;
      for (; j + 16 <= d; j += 16) {
        a0 = _mm256_fmadd_ps (_mm256_loadu_ps (qh + j), avx2_kv8 (kh + j * es, dt, sc), a0);
        a1 = _mm256_fmadd_ps (_mm256_loadu_ps (qh + j + 8),
            avx2_kv8 (kh + (j + 8) * es, dt, sc), a1);
      }
      if (j < d)
        a0 = _mm256_fmadd_ps (_mm256_loadu_ps (qh + j), avx2_kv8 (kh + j * es, dt, sc), a0);
      s[h * VV_ATTN_CHUNK + t] = avx2_hsum (_mm256_add_ps (a0, a1)) * job->scale;
    }
  }
}

static VV_AVX2 void
avx2_softmax_part (const AttnJob *job, gfloat *s, gint64 nk, gfloat *m, gfloat *l)
{
  for (gint h = 0; h < job->hq; h++) {
    gfloat *sh = s + h * VV_ATTN_CHUNK;
    gint64 nv = nk & ~(gint64) 7;
    __m256 mx = _mm256_set1_ps (-INFINITY);
    for (gint64 t = 0; t < nv; t += 8)
      mx = _mm256_max_ps (mx, _mm256_loadu_ps (sh + t));
    gfloat lanes[8];
    _mm256_storeu_ps (lanes, mx);
    gfloat mh = -INFINITY;
    for (gint i = 0; i < 8; i++)
      mh = MAX (mh, lanes[i]);
    for (gint64 t = nv; t < nk; t++)
      mh = MAX (mh, sh[t]);
    /* the tail is padded to 8 in place (the chunk buffer has room) with
     * −inf, whose exp is 0 */
    for (gint64 t = nk; t < ((nk + 7) & ~(gint64) 7); t++)
      sh[t] = -INFINITY;
    __m256 vm = _mm256_set1_ps (mh), sum = _mm256_setzero_ps ();
    for (gint64 t = 0; t < nk; t += 8) {
      __m256 e = avx2_exp (_mm256_sub_ps (_mm256_loadu_ps (sh + t), vm));
      _mm256_storeu_ps (sh + t, e);
      sum = _mm256_add_ps (sum, e);
    }
    m[h] = mh;
    l[h] = avx2_hsum (sum);
  }
}

VV_INLINE VV_AVX2 void
avx2_pv_block (const AttnJob *job, const gfloat *s, const guint8 *vb, const gfloat *vsh,
    gint64 nk, gfloat *o, gint h0, gint j0, const int HB, const int NV, const VvDType dt,
    const gsize es)
{
  const gsize rb = (gsize) (job->hkv * job->d) * es;
  __m256 acc[6][2];
  _Pragma ("GCC unroll 6") for (int h = 0; h < HB; h++)
    _Pragma ("GCC unroll 2") for (int x = 0; x < NV; x++)
      acc[h][x] = _mm256_setzero_ps ();
  for (gint64 t = 0; t < nk; t++) {
    const guint8 *vr = vb + t * rb + (gsize) j0 * es;
    __m256 sc = dt == VV_DTYPE_I8 ? _mm256_set1_ps (vsh[t * job->hkv]) : _mm256_setzero_ps ();
    __m256 vv[2];
    _Pragma ("GCC unroll 2") for (int x = 0; x < NV; x++)
      vv[x] = avx2_kv8 (vr + (gsize) (8 * x) * es, dt, sc);
    _Pragma ("GCC unroll 6") for (int h = 0; h < HB; h++) {
      __m256 p = _mm256_set1_ps (s[(h0 + h) * VV_ATTN_CHUNK + t]);
      _Pragma ("GCC unroll 2") for (int x = 0; x < NV; x++)
        acc[h][x] = _mm256_fmadd_ps (p, vv[x], acc[h][x]);
    }
  }
  _Pragma ("GCC unroll 6") for (int h = 0; h < HB; h++)
    _Pragma ("GCC unroll 2") for (int x = 0; x < NV; x++)
      _mm256_storeu_ps (o + (h0 + h) * job->d + j0 + 8 * x, acc[h][x]);
}

VV_INLINE VV_AVX2 void
avx2_pv_t (const AttnJob *job, const gfloat *s, const guint8 *vb, const gfloat *vsc,
    gint64 nk, gfloat *o, const VvDType dt, const gsize es)
{
  const gsize hb_bytes = (gsize) job->d * es;
  for (gint64 kvh = 0; kvh < job->hkv; kvh++)
  for (gint j0 = 0; j0 < job->d;) {
    gboolean wide = job->d - j0 >= 16;
    for (gint h0 = (gint) (kvh * job->g); h0 < (kvh + 1) * job->g; h0 += 6) {
      gint hb = (gint) MIN (6, (kvh + 1) * job->g - h0);
      const guint8 *vh = vb + kvh * hb_bytes;
      const gfloat *vsh = vsc != NULL ? vsc + kvh : NULL;
      if (wide) {
        PV_HEADS (avx2, 2, dt, es);
      } else {
        PV_HEADS (avx2, 1, dt, es);
      }
    }
    j0 += wide ? 16 : 8;
  }
}

static VV_AVX2 void
avx2_chunk (const AttnJob *job, const gfloat *qr, const guint8 *kb, const guint8 *vb,
    const gfloat *ksc, const gfloat *vsc, gint64 nk, gfloat *s, gfloat *o, gfloat *m,
    gfloat *l)
{
  if (job->kvdt == VV_DTYPE_BF16) {
    avx2_scores_t (job, qr, kb, vb, NULL, nk, s, VV_DTYPE_BF16, 2);
    avx2_softmax_part (job, s, nk, m, l);
    avx2_pv_t (job, s, vb, NULL, nk, o, VV_DTYPE_BF16, 2);
  } else if (job->kvdt == VV_DTYPE_I8) {
    avx2_scores_t (job, qr, kb, vb, ksc, nk, s, VV_DTYPE_I8, 1);
    avx2_softmax_part (job, s, nk, m, l);
    avx2_pv_t (job, s, vb, vsc, nk, o, VV_DTYPE_I8, 1);
  } else {
    avx2_scores_t (job, qr, kb, vb, NULL, nk, s, VV_DTYPE_F32, 4);
    avx2_softmax_part (job, s, nk, m, l);
    avx2_pv_t (job, s, vb, NULL, nk, o, VV_DTYPE_F32, 4);
  }
}

#endif /* VV_HAVE_X86_SIMD */

/* ---- chunks, the merge, the tasks ---- */

/* The partial of query row @row, chunk @c, all heads, into @out
 * ([H_q·d] o, [H_q] m, [H_q] l); @s is [H_q][VV_ATTN_CHUNK] scratch. */
static void
chunk_partial (const AttnJob *job, gint64 row, gint64 c, gfloat *s, gfloat *out)
{
  gint64 last = job->t - job->n + row;
  gint64 c0 = c * VV_ATTN_CHUNK, nk = MIN ((gint64) VV_ATTN_CHUNK, last + 1 - c0);
  const gint d = job->d;
  const gfloat *qr = job->q + row * job->hq * d;
  const gsize rb = (gsize) (job->hkv * d) * job->es;
  const guint8 *kb = job->k + (gsize) c0 * rb, *vb = job->v + (gsize) c0 * rb;
  const gfloat *ksc = job->ks != NULL ? job->ks + c0 * job->hkv : NULL;
  const gfloat *vsc = job->vs != NULL ? job->vs + c0 * job->hkv : NULL;
  gfloat *o = out, *m = out + job->hq * d, *l = m + job->hq;
  switch (job->isa) {
#if defined(VV_HAVE_X86_SIMD)
    case CPU_ISA_AVX512:
      avx512_chunk (job, qr, kb, vb, ksc, vsc, nk, s, o, m, l);
      return;
    case CPU_ISA_AVX2:
      avx2_chunk (job, qr, kb, vb, ksc, vsc, nk, s, o, m, l);
      return;
#endif
    default:
      scalar_scores (job, qr, kb, ksc, nk, s);
      scalar_softmax_part (job, s, nk, m, l);
      scalar_pv (job, s, vb, vsc, nk, o);
      return;
  }
}

/* acc ⊕= part: both rescaled to the larger maximum (log-sum-exp merge). */
static void
fold_partial (const AttnJob *job, gfloat *acc, const gfloat *part)
{
  const gint d = job->d;
  const gint64 hq = job->hq;
  for (gint64 h = 0; h < hq; h++) {
    gfloat *ma = acc + hq * d + h, *la = acc + hq * d + hq + h;
    gfloat mb = part[hq * d + h], lb = part[hq * d + hq + h];
    gfloat mx = MAX (*ma, mb);
    gfloat a = expf (*ma - mx), b = expf (mb - mx);
    *la = *la * a + lb * b;
    *ma = mx;
    gfloat *oa = acc + h * d;
    const gfloat *ob = part + h * d;
    for (gint j = 0; j < d; j++)
      oa[j] = oa[j] * a + ob[j] * b;
  }
}

static void
finish_row (const AttnJob *job, gint64 row, const gfloat *acc)
{
  const gint d = job->d;
  const gint64 hq = job->hq;
  gfloat *yr = job->y + row * hq * d;
  for (gint64 h = 0; h < hq; h++) {
    gfloat inv = 1.0f / acc[hq * d + hq + h];
    for (gint j = 0; j < d; j++)
      yr[h * d + j] = acc[h * d + j] * inv;
  }
}

/* Prefill: one task per range of row blocks. A block's rows take each key
 * chunk in turn while it is in cache (a chunk is 128-256 KiB at 1.5B, read
 * once per block instead of once per row), each row folding its chunks in
 * order as it makes them. */
#define VV_ATTN_ROW_BLOCK 16

static void
attn_rows_task (gint task, gint n_tasks, gpointer data)
{
  const AttnJob *job = data;
  const gint64 rb = job->row_block;
  gint64 n_blocks = (job->n + rb - 1) / rb;
  gint64 b0 = n_blocks * task / n_tasks, b1 = n_blocks * (task + 1) / n_tasks;
  if (b0 >= b1)
    return;
  /* 64-byte aligned: the widened key rows are reloaded whole vectors */
  gfloat *s = g_aligned_alloc (job->s_floats + (rb + 1) * job->pb,
      sizeof (gfloat), 64);
  gfloat *part = s + job->s_floats, *acc = part + job->pb;
  for (gint64 b = b0; b < b1; b++) {
    gint64 r0 = b * rb, r1 = MIN (job->n, r0 + rb);
    gint64 last_max = job->t - job->n + r1 - 1;
    for (gint64 c = 0; c * VV_ATTN_CHUNK <= last_max; c++)
      for (gint64 row = r0; row < r1; row++) {
        gfloat *ra = acc + (row - r0) * job->pb;
        if (c * VV_ATTN_CHUNK > job->t - job->n + row)
          continue;             /* causal: this row ends before the chunk */
        if (c == 0) {
          chunk_partial (job, row, 0, s, ra);
        } else {
          chunk_partial (job, row, c, s, part);
          fold_partial (job, ra, part);
        }
      }
    for (gint64 row = r0; row < r1; row++)
      finish_row (job, row, acc + (row - r0) * job->pb);
  }
  g_aligned_free (s);
}

/* Split-K, phase 1: one task per range of chunks, each making the
 * partials of every row that reaches the chunk. */
static void
attn_split_task (gint task, gint n_tasks, gpointer data)
{
  const AttnJob *job = data;
  gint64 c0 = job->n_chunks * task / n_tasks, c1 = job->n_chunks * (task + 1) / n_tasks;
  if (c0 >= c1)
    return;
  gfloat *s = g_aligned_alloc (job->s_floats, sizeof (gfloat), 64);
  for (gint64 c = c0; c < c1; c++)
    for (gint64 row = 0; row < job->n; row++) {
      if (c * VV_ATTN_CHUNK > job->t - job->n + row)
        continue;
      chunk_partial (job, row, c, s, job->partial + (row * job->n_chunks + c) * job->pb);
    }
  g_aligned_free (s);
}

/* Split-K, phase 2: the partials folded in chunk order, as attn_rows_task
 * folds them. */
static void
attn_merge_task (gint task, gint n_tasks, gpointer data)
{
  const AttnJob *job = data;
  gint64 i0 = job->n * task / n_tasks, i1 = job->n * (task + 1) / n_tasks;
  for (gint64 row = i0; row < i1; row++) {
    gint64 last = job->t - job->n + row;
    gfloat *acc = job->partial + row * job->n_chunks * job->pb;
    for (gint64 c = 1; c * VV_ATTN_CHUNK <= last; c++)
      fold_partial (job, acc, acc + c * job->pb);
    finish_row (job, row, acc);
  }
}

static gboolean
ensure_attn_partial (CpuBackend *cpu, gsize floats, GError **error)
{
  if (cpu->attn_partial_floats >= floats)
    return TRUE;
  vv_host_mem_free (cpu->attn_partial, cpu->attn_partial_floats * sizeof (gfloat));
  cpu->attn_partial = NULL;
  cpu->attn_partial_floats = 0;
  /* rounded up so a context that grows one token at a time regrows rarely */
  gsize want = MAX (floats + floats / 2, (gsize) 1 << 14);
  GError *local = NULL;
  if ((cpu->attn_partial = vv_host_mem_alloc (want * sizeof (gfloat), &local)) == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "attention: split-K partials: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  cpu->attn_partial_floats = want;
  return TRUE;
}

gboolean
vv_cpu_attention (VvBackend *be, VvTensor *y, const VvTensor *q, const VvTensor *k,
    const VvTensor *v, gint head_dim, GError **error)
{
  CpuBackend *cpu = CPU (be);
  AttnJob job = {
    .q = q->data, .k = k->data, .v = v->data, .kvdt = k->dtype,
    .ks = vv_tensor_get_row_scales (k), .vs = vv_tensor_get_row_scales (v),
    .es = vv_dtype_size (k->dtype), .y = y->data,
    .n = q->shape[0], .t = k->shape[0],
    .hq = q->shape[1] / head_dim, .hkv = k->shape[1] / head_dim,
    .d = head_dim, .scale = (gfloat) (1.0 / sqrt ((gdouble) head_dim)),
    .isa = cpu->isa,
  };
  job.g = (gint) (job.hq / job.hkv);
  job.n_chunks = (job.t + VV_ATTN_CHUNK - 1) / VV_ATTN_CHUNK;
  job.pb = job.hq * (job.d + 2);
  job.s_floats = (gsize) (job.hq * VV_ATTN_CHUNK + 4 * job.hkv * job.d);
  job.s_floats = (job.s_floats + 15) & ~(gsize) 15;
  /* the vector kernels need whole vectors per head */
  if ((job.isa == CPU_ISA_AVX512 && head_dim % 16 != 0)
      || (job.isa == CPU_ISA_AVX2 && head_dim % 8 != 0))
    job.isa = CPU_ISA_SCALAR;
  gint n_threads = vv_thread_pool_get_n_threads (cpu->pool);
  gint64 work = job.n * job.hq * job.t * head_dim * 2;
  /* Few rows (decode): the context is split among the threads. The
   * choice does not change a bit of the result (see above). */
  if (n_threads > 1 && work >= 32768 && job.n < (gint64) n_threads * 4 && job.n_chunks > 1) {
    if (!ensure_attn_partial (cpu, (gsize) (job.n * job.n_chunks * job.pb), error))
      return FALSE;
    job.partial = cpu->attn_partial;
    run (be, (gint) MIN ((gint64) n_threads * 4, job.n_chunks), attn_split_task, &job);
    run (be, 1, attn_merge_task, &job);
    return TRUE;
  }
  /* blocks small enough that every thread gets some (the block size does
   * not change a bit either) */
  job.row_block = CLAMP (job.n / (2 * (gint64) n_threads), 1, VV_ATTN_ROW_BLOCK);
  run (be, attn_n_tasks (be, (job.n + job.row_block - 1) / job.row_block, work),
      attn_rows_task, &job);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Int8 KV cache rows */

/**
 * vv_cpu_quantize_kv:
 *
 * Quantises each (row, group) of x — a token's keys or values of one KV
 * head — symmetrically: scale = max|x| / 127, code = round(x / scale),
 * nearest even, clamped to ±127; an all-zero group gets scale 0 (codes 0).
 * A group holding NaN or ±Inf gets scale NaN and codes 0, so the value
 * reads back as NaN, as it would spoil an F32 cache's attention too. Runs
 * on the calling thread: a pass appends n × kv_width values.
 */
gboolean
vv_cpu_quantize_kv (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error)
{
  (void) be;
  (void) error;
  const gint64 rows = y->shape[0], cols = y->shape[1];
  const gint64 groups = vv_tensor_get_scale_groups (y);
  const gsize per = (gsize) (cols / groups);
  const gfloat *xs = x->data;
  gint8 *codes = y->data;
  gfloat *scales = y->row_scales;
  for (gint64 r = 0; r < rows; r++)
    for (gint64 g = 0; g < groups; g++) {
      const gfloat *xg = xs + r * cols + (gsize) g * per;
      gint8 *qg = codes + r * cols + (gsize) g * per;
      gfloat amax = 0.0f;
      gboolean finite = TRUE;
      for (gsize j = 0; j < per; j++) {
        finite = finite && isfinite (xg[j]);
        amax = MAX (amax, fabsf (xg[j]));
      }
      gfloat sc = amax / 127.0f;
      /* sc is 0 for groups of zeros (or only the tiniest subnormals) */
      if (!finite || sc == 0.0f) {
        memset (qg, 0, per);
        scales[r * groups + g] = finite ? 0.0f : NAN;
        continue;
      }
      for (gsize j = 0; j < per; j++) {
        gfloat c = nearbyintf (xg[j] / sc);
        qg[j] = (gint8) CLAMP (c, -127.0f, 127.0f);
      }
      scales[r * groups + g] = sc;
    }
  return TRUE;
}
