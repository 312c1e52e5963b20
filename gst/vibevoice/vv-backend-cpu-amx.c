/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-backend-cpu-private.h"

#include <string.h>

/*
 * linear() for many input rows (prefill, voice connectors) on Intel AMX.
 *
 * y[m, o] = Σ_k x[m, k] · w[o, k] + b[o], w in BF16 as stored in the
 * checkpoint, x in F32. AMX multiplies BF16 tiles and accumulates in F32,
 * so each activation is split into @parts BF16 terms, x ≈ p0 + p1 + p2 with
 * p0 = bf16(x), p1 = bf16(x − p0), p2 = bf16(x − p0 − p1). Every product
 * w · p_i is exact in F32, so with 3 parts the result carries the same
 * information as the F32 GEMM (24 mantissa bits of x); 2 parts keep 16
 * bits (relative error ≤ 2^-17 per product); 1 part rounds the activation
 * to BF16 as the reference implementation does when it runs in bf16.
 *
 * The product is computed transposed, C^T = W · X^T, so that the weight
 * rows are AMX "A" tiles loaded straight from the checkpoint (16 output
 * rows × 32 k, row stride = in · 2 bytes): nothing the size of the weights
 * is repacked. X^T is the "B" operand, which AMX wants in pairs along k
 * (VNNI): for each 16-token tile and each k pair, a 64-byte row holding
 * (x[m, 2j], x[m, 2j + 1]) for the 16 tokens m. X is small (≤ 256 rows per
 * prefill chunk), so it is split and packed once per call.
 *
 * Register blocking: 4 accumulator tiles = 32 output rows × 32 tokens, two
 * weight tiles and two activation tiles (all 8 tile registers). Per 32-k
 * step the two weight tiles are loaded once and used for every part.
 *
 * Blocking for the caches: k is cut into chunks whose packed activations
 * (all tokens, all parts) stay in L2 while every 32-row weight block of the
 * task streams through; accumulators go to an F32 buffer C^T[out, m_pad]
 * between chunks (stored and reloaded exactly, so chunking does not change
 * any sum).
 *
 * Determinism: each y[m, o] is summed in the same order (k ascending in
 * 32-steps, parts in order within a step, AMX's pair order within a tile)
 * whatever the number of rows, their position, the chunking or the thread
 * count. It differs from the sgemm path's order.
 *
 * Linux lends AMX state only after arch_prctl (ARCH_REQ_XCOMP_PERM,
 * XTILEDATA); vv_cpu_amx_detect() asks once per process.
 */

#if defined(VV_HAVE_X86_SIMD) && defined(__linux__)
#define VV_HAVE_AMX 1
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VV_AMX __attribute__ ((target ("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl")))
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

/* chunk of k whose packed activations stay in L2 next to the weight block */
#define AMX_X_CHUNK_BYTES (768 << 10)

gboolean
vv_cpu_amx_detect (void)
{
#if defined(VV_HAVE_AMX)
  static gsize once = 0;
  static gboolean ok = FALSE;
  if (g_once_init_enter (&once)) {
    guint eax, ebx, ecx, edx;
    /* CPUID.(7,0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE; AVX-512 BW for the
     * packing code. */
    if (__get_cpuid_count (7, 0, &eax, &ebx, &ecx, &edx)
        && (edx & (1u << 22)) && (edx & (1u << 24))
        && __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw"))
      ok = syscall (SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    g_once_init_leave (&once, 1);
  }
  return ok;
#else
  return FALSE;
#endif
}

#if defined(VV_HAVE_AMX)

typedef struct {
  guint8 palette;
  guint8 start_row;
  guint8 reserved[14];
  guint16 colsb[16];
  guint8 rows[16];
} __attribute__ ((packed)) AmxTileConfig;

typedef struct {
  const guint16 *w;             /* [out, in] BF16 */
  const guint16 *w_tail;        /* last block's rows, zero-padded to 32, or NULL */
  gint64 in, out;
  const gfloat *x;              /* [n, in] */
  gint n, m_tiles, parts;
  guint16 *xp;                  /* [parts][m_tiles][in/2][16][2] */
  gfloat *ct;                   /* [n_blocks · 32, m_tiles · 16] */
  gfloat *y;                    /* [n, out] */
  const void *bias;
  VvDType bdt;
  gint64 n_blocks, k_chunk;
} AmxJob;

/* ---- packing: split x into BF16 parts, VNNI-interleave 16 tokens ---- */

VV_INLINE VV_AMX __m512i
amx_round_bf16 (__m512 f, __m512 *hi)
{
  /* round to nearest even; *hi is the rounded value as F32 */
  __m512i u = _mm512_castps_si512 (f);
  __m512i lsb = _mm512_and_si512 (_mm512_srli_epi32 (u, 16), _mm512_set1_epi32 (1));
  __m512i t = _mm512_add_epi32 (u, _mm512_add_epi32 (lsb, _mm512_set1_epi32 (0x7fff)));
  t = _mm512_and_si512 (t, _mm512_set1_epi32 ((gint) 0xffff0000u));
  *hi = _mm512_castsi512_ps (t);
  return t;
}

static VV_AMX void
amx_pack_task (gint task, gint n_tasks, gpointer data)
{
  const AmxJob *job = data;
  gint rows = job->m_tiles * 16;
  gint r0 = rows * task / n_tasks, r1 = rows * (task + 1) / n_tasks;
  gint64 kp_n = job->in / 2;
  gsize part_stride = (gsize) job->m_tiles * kp_n * 32;    /* guint16 per part */
  /* word w of the result comes from word 2w + 1 (the high half) of lane w
   * of a | b, which is how k pairs end up adjacent */
  static const gint16 hi_words[32] = {
    1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
    33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63,
  };
  __m512i sel = _mm512_loadu_si512 (hi_words);
  /* 16 k pairs of one token go to 16 consecutive 64-byte rows */
  __m512i rows16 = _mm512_mullo_epi32 (_mm512_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7,
          8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32 (16));

  for (gint m = r0; m < r1; m++) {
    gint mt = m / 16, lane = m % 16;
    guint16 *base = job->xp + (gsize) mt * kp_n * 32 + (gsize) lane * 2;
    if (m >= job->n) {
      for (gint p = 0; p < job->parts; p++)
        for (gint64 kp = 0; kp < kp_n; kp++)
          *(guint32 *) (base + p * part_stride + kp * 32) = 0;
      continue;
    }
    const gfloat *xr = job->x + (gsize) m * job->in;
    for (gint64 k = 0; k < job->in; k += 32) {
      __m512 ra = _mm512_loadu_ps (xr + k), rb = _mm512_loadu_ps (xr + k + 16);
      guint16 *dst = base + (k / 2) * 32;
      for (gint p = 0; p < job->parts; p++) {
        __m512 ha, hb;
        __m512i ta = amx_round_bf16 (ra, &ha), tb = amx_round_bf16 (rb, &hb);
        __m512i packed = _mm512_permutex2var_epi16 (ta, sel, tb);
        _mm512_i32scatter_epi32 (dst + p * part_stride, rows16, packed, 4);
        ra = _mm512_sub_ps (ra, ha);
        rb = _mm512_sub_ps (rb, hb);
      }
    }
  }
}

/* ---- the tile loops ---- */

static VV_AMX void
amx_config (void)
{
  AmxTileConfig cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (gint t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig (&cfg);
}

/* 32 output rows × 32 tokens (tiles: 0-3 C, 4-5 W, 6-7 X) over k in
 * [k0, k1) */
VV_INLINE VV_AMX void
amx_block_2x2 (const AmxJob *job, const guint16 *w, gsize wstride, gfloat *c,
    gsize cstride, const guint16 *x0, gsize part_stride, gint64 k0, gint64 k1)
{
  if (k0 == 0) {
    _tile_zero (0);
    _tile_zero (1);
    _tile_zero (2);
    _tile_zero (3);
  } else {
    _tile_loadd (0, c, cstride);
    _tile_loadd (1, c + 16, cstride);
    _tile_loadd (2, c + 16 * cstride / 4, cstride);
    _tile_loadd (3, c + 16 * cstride / 4 + 16, cstride);
  }
  const gsize m_tile_elems = (gsize) job->in * 16;  /* guint16 per token tile */
  for (gint64 k = k0; k < k1; k += 32) {
    _tile_loadd (4, w + k, wstride);
    _tile_loadd (5, w + 16 * wstride / 2 + k, wstride);
    const guint16 *xk = x0 + (gsize) k * 16;
    for (gint p = 0; p < job->parts; p++) {
      _tile_loadd (6, xk, 64);
      _tile_loadd (7, xk + m_tile_elems, 64);
      _tile_dpbf16ps (0, 4, 6);
      _tile_dpbf16ps (1, 4, 7);
      _tile_dpbf16ps (2, 5, 6);
      _tile_dpbf16ps (3, 5, 7);
      xk += part_stride;
    }
  }
  _tile_stored (0, c, cstride);
  _tile_stored (1, c + 16, cstride);
  _tile_stored (2, c + 16 * cstride / 4, cstride);
  _tile_stored (3, c + 16 * cstride / 4 + 16, cstride);
}

/* 32 output rows × the last 16 tokens (tiles 0, 2 C; 4-5 W; 6 X) */
VV_INLINE VV_AMX void
amx_block_2x1 (const AmxJob *job, const guint16 *w, gsize wstride, gfloat *c,
    gsize cstride, const guint16 *x0, gsize part_stride, gint64 k0, gint64 k1)
{
  if (k0 == 0) {
    _tile_zero (0);
    _tile_zero (2);
  } else {
    _tile_loadd (0, c, cstride);
    _tile_loadd (2, c + 16 * cstride / 4, cstride);
  }
  for (gint64 k = k0; k < k1; k += 32) {
    _tile_loadd (4, w + k, wstride);
    _tile_loadd (5, w + 16 * wstride / 2 + k, wstride);
    const guint16 *xk = x0 + (gsize) k * 16;
    for (gint p = 0; p < job->parts; p++) {
      _tile_loadd (6, xk, 64);
      _tile_dpbf16ps (0, 4, 6);
      _tile_dpbf16ps (2, 5, 6);
      xk += part_stride;
    }
  }
  _tile_stored (0, c, cstride);
  _tile_stored (2, c + 16 * cstride / 4, cstride);
}

static VV_AMX void
amx_gemm_task (gint task, gint n_tasks, gpointer data)
{
  const AmxJob *job = data;
  gint64 b0 = job->n_blocks * task / n_tasks, b1 = job->n_blocks * (task + 1) / n_tasks;
  if (b0 >= b1)
    return;
  gsize m_pad = (gsize) job->m_tiles * 16;
  gsize cstride = m_pad * sizeof (gfloat);
  gsize wstride = (gsize) job->in * sizeof (guint16);
  gsize part_stride = (gsize) job->m_tiles * job->in * 16;

  amx_config ();
  for (gint64 k0 = 0; k0 < job->in; k0 += job->k_chunk) {
    gint64 k1 = MIN (job->in, k0 + job->k_chunk);
    for (gint64 b = b0; b < b1; b++) {
      const guint16 *w = (b * 32 + 32 <= job->out) ? job->w + (gsize) b * 32 * job->in
          : job->w_tail;
      gfloat *c = job->ct + (gsize) b * 32 * m_pad;
      gint mt = 0;
      for (; mt + 2 <= job->m_tiles; mt += 2)
        amx_block_2x2 (job, w, wstride, c + mt * 16, cstride,
            job->xp + (gsize) mt * job->in * 16, part_stride, k0, k1);
      if (mt < job->m_tiles)
        amx_block_2x1 (job, w, wstride, c + mt * 16, cstride,
            job->xp + (gsize) mt * job->in * 16, part_stride, k0, k1);
    }
  }
  _tile_release ();

  /* y = (C^T)^T + bias for this task's output rows, a 32-row block at a
   * time so the block's C^T rows stay in L1 while the tokens go by */
  for (gint64 b = b0; b < b1; b++) {
    gint64 o0 = b * 32, o1 = MIN (job->out, o0 + 32);
    gfloat bias[32];
    for (gint64 o = o0; o < o1; o++)
      bias[o - o0] = job->bias != NULL ? vv_cpu_weight_at (job->bias, job->bdt, o) : 0.0f;
    for (gint m = 0; m < job->n; m++) {
      gfloat *yr = job->y + (gsize) m * job->out;
      for (gint64 o = o0; o < o1; o++)
        yr[o] = job->ct[(gsize) o * m_pad + m] + bias[o - o0];
    }
  }
}

#endif /* VV_HAVE_AMX */

/* A grow-only per-backend scratch buffer (the AMX and BF16 GEMMs'):
 * @what names the user in the error. */
gboolean
vv_cpu_scratch_ensure (gpointer *buf, gsize *have, gsize want, const gchar *what,
    GError **error)
{
  if (*have >= want)
    return TRUE;
  vv_host_mem_free (*buf, *have);
  *buf = NULL;
  *have = 0;
  GError *local = NULL;
  gsize size = want + want / 4;
  *buf = vv_host_mem_alloc (size, &local);
  if (*buf == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "linear (%s): scratch of %" G_GSIZE_FORMAT " bytes: %s", what, size, local->message);
    g_error_free (local);
    return FALSE;
  }
  *have = size;
  return TRUE;
}

gboolean
vv_cpu_amx_linear_supported (const CpuBackend *cpu, VvDType wdt, gint64 in, gint n)
{
  return cpu->amx_parts > 0 && wdt == VV_DTYPE_BF16 && in > 0 && in % 32 == 0 && n > 0;
}

gboolean
vv_cpu_amx_linear (CpuBackend *cpu, gfloat *y, const guint16 *w, gint64 in, gint64 out,
    const gfloat *x, gint n, const void *bias, VvDType bdt, GError **error)
{
#if defined(VV_HAVE_AMX)
  AmxJob job = {
    .w = w,.in = in,.out = out,.x = x,.n = n,.y = y,.bias = bias,.bdt = bdt,
    .parts = cpu->amx_parts,
  };
  job.m_tiles = (n + 15) / 16;
  job.n_blocks = (out + 31) / 32;
  gsize m_pad = (gsize) job.m_tiles * 16;
  gsize xp_bytes = (gsize) job.parts * m_pad * in * sizeof (guint16);
  gsize ct_bytes = (gsize) job.n_blocks * 32 * m_pad * sizeof (gfloat);
  gsize tail_bytes = (out % 32) ? 32 * (gsize) in * sizeof (guint16) : 0;
  if (!vv_cpu_scratch_ensure ((gpointer *) & cpu->amx_xp, &cpu->amx_xp_bytes, xp_bytes, "AMX", error)
      || !vv_cpu_scratch_ensure ((gpointer *) & cpu->amx_ct, &cpu->amx_ct_bytes, ct_bytes, "AMX", error)
      || (tail_bytes && !vv_cpu_scratch_ensure ((gpointer *) & cpu->amx_tail, &cpu->amx_tail_bytes,
              tail_bytes, "AMX", error)))
    return FALSE;
  job.xp = cpu->amx_xp;
  job.ct = cpu->amx_ct;
  if (tail_bytes) {
    gint64 r0 = (out / 32) * 32;
    memset (cpu->amx_tail, 0, tail_bytes);
    memcpy (cpu->amx_tail, w + (gsize) r0 * in, (gsize) (out - r0) * in * sizeof (guint16));
    job.w_tail = cpu->amx_tail;
  }
  /* k chunk: a multiple of 32 whose packed activations fit the L2 budget */
  gsize per_k = (gsize) job.parts * m_pad * sizeof (guint16);
  job.k_chunk = MAX ((gint64) 32, (gint64) (AMX_X_CHUNK_BYTES / per_k) & ~(gint64) 31);

  gint n_threads = vv_thread_pool_get_n_threads (cpu->pool);
  gint pack_tasks = MIN (n_threads, job.m_tiles * 16);
  if (pack_tasks <= 1)
    amx_pack_task (0, 1, &job);
  else
    vv_thread_pool_run (cpu->pool, pack_tasks, amx_pack_task, &job);
  gint tasks = (gint) MIN ((gint64) n_threads, job.n_blocks);
  if (tasks <= 1)
    amx_gemm_task (0, 1, &job);
  else
    vv_thread_pool_run (cpu->pool, tasks, amx_gemm_task, &job);
  return TRUE;
#else
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
      "linear: AMX is not built in");
  return FALSE;
#endif
}
