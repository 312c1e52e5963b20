/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * CPU kernels of the attention ops (MODEL-SPEC §6): rotate-half RoPE and
 * causal grouped-query attention over a KV cache. Operands were checked by
 * the wrappers in vv-backend.c. Every output element is computed by the same
 * instruction sequence whatever the thread count (work is split over rows
 * and heads only), so results are bit-identical across thread counts.
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
/* Causal GQA attention */

typedef struct {
  const gfloat *q, *k, *v;
  gfloat *y;
  gint64 n, t;                  /* new rows, total keys */
  gint64 hq, hkv;
  gint d;
  gfloat scale;
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

static void
attn_item (const AttnJob *job, gint64 item, gfloat *p)
{
  gint64 i = item / job->hq, h = item % job->hq;
  gint64 kvh = h / (job->hq / job->hkv);
  gint d = job->d;
  gint64 q_stride = job->hq * d, kv_stride = job->hkv * d;
  const gfloat *qv = job->q + i * q_stride + h * d;
  const gfloat *kb = job->k + kvh * d, *vb = job->v + kvh * d;
  gint64 last = job->t - job->n + i;      /* causal: keys 0 … last */

  gfloat m = -INFINITY;
  for (gint64 t = 0; t <= last; t++) {
    p[t] = dot (qv, kb + t * kv_stride, d) * job->scale;
    m = MAX (m, p[t]);
  }
  gfloat sum = 0.0f;
  for (gint64 t = 0; t <= last; t++) {
    p[t] = expf (p[t] - m);
    sum += p[t];
  }
  gfloat inv = 1.0f / sum;
  gfloat *out = job->y + i * q_stride + h * d;
  memset (out, 0, sizeof (gfloat) * d);
  for (gint64 t = 0; t <= last; t++) {
    gfloat w = p[t] * inv;
    const gfloat *vr = vb + t * kv_stride;
    for (gint j = 0; j < d; j++)
      out[j] += w * vr[j];
  }
}

static void
attn_task (gint task, gint n_tasks, gpointer data)
{
  const AttnJob *job = data;
  gint64 n_items = job->n * job->hq;
  gint64 i0 = n_items * task / n_tasks, i1 = n_items * (task + 1) / n_tasks;
  if (i0 >= i1)
    return;
  gfloat *p = g_new (gfloat, job->t);
  for (gint64 it = i0; it < i1; it++)
    attn_item (job, it, p);
  g_free (p);
}

gboolean
vv_cpu_attention (VvBackend *be, VvTensor *y, const VvTensor *q, const VvTensor *k,
    const VvTensor *v, gint head_dim, GError **error)
{
  AttnJob job = {
    .q = q->data, .k = k->data, .v = v->data, .y = y->data,
    .n = q->shape[0], .t = k->shape[0],
    .hq = q->shape[1] / head_dim, .hkv = k->shape[1] / head_dim,
    .d = head_dim, .scale = (gfloat) (1.0 / sqrt ((gdouble) head_dim)),
  };
  gint64 n_items = job.n * job.hq;
  run (be, attn_n_tasks (be, n_items, n_items * job.t * head_dim * 2), attn_task, &job);
  return TRUE;
}
