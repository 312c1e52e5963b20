/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The attention ops (rope, attention; MODEL-SPEC §6) on the CPU backend
 * against scalar references written here in double, with 1, 2 and 3
 * threads (outputs must be bit-identical across thread counts), plus the
 * wrappers' operand checks.
 */
#include <vibevoice/vibevoice.h>

#include <math.h>
#include <string.h>

static GRand *rng;

static VvTensor *
rand_2d (gint64 rows, gint64 cols)
{
  VvTensor *t = vv_tensor_new_2d (VV_DTYPE_F32, rows, cols);
  gfloat *p = t->data;
  for (gint64 i = 0; i < rows * cols; i++)
    p[i] = (gfloat) g_rand_double_range (rng, -1.5, 1.5);
  return t;
}

static gdouble
max_abs_diff (const gfloat *a, const gdouble *b, gint64 n)
{
  gdouble m = 0;
  for (gint64 i = 0; i < n; i++)
    m = MAX (m, fabs (a[i] - b[i]));
  return m;
}

static void
ref_rope (const gfloat *x, gdouble *y, gint64 n, gint64 width, gint d,
    const gint32 *pos, gdouble theta)
{
  gint half = d / 2;
  for (gint64 r = 0; r < n; r++)
    for (gint64 h = 0; h < width; h += d)
      for (gint j = 0; j < half; j++) {
        gdouble a = pos[r] * pow (theta, -2.0 * j / d);
        gdouble x1 = x[r * width + h + j], x2 = x[r * width + h + j + half];
        y[r * width + h + j] = x1 * cos (a) - x2 * sin (a);
        y[r * width + h + j + half] = x2 * cos (a) + x1 * sin (a);
      }
}

static void
test_rope (void)
{
  const gint d = 16, heads = 3;
  const gint64 n = 9, width = heads * d;
  gint32 pos_ids[9] = { 0, 1, 2, 7, 100, 1000, 4095, 30000, 65535 };
  VvTensor pos_t;
  vv_tensor_init_view (&pos_t, VV_DTYPE_I32, 1, (gint64[]) { 9 }, pos_ids);
  const VvTensor *pos = &pos_t;
  g_autoptr (VvTensor) x = rand_2d (n, width);
  g_autofree gdouble *ref = g_new (gdouble, n * width);
  g_autofree gfloat *first = NULL;
  for (gint theta_i = 0; theta_i < 2; theta_i++) {
    gdouble theta = theta_i == 0 ? 10000.0 : 1e6;
    ref_rope (x->data, ref, n, width, d, pos_ids, theta);
    for (gint nt = 1; nt <= 3; nt++) {
      g_autoptr (GError) error = NULL;
      g_autoptr (VvBackend) be = vv_backend_new_cpu (nt, &error);
      g_assert_no_error (error);
      g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, n, width);
      g_assert_true (vv_backend_rope (be, y, x, d, pos, theta, &error));
      g_assert_no_error (error);
      /* F32 angles (as the reference): error grows with the position */
      gdouble err = max_abs_diff (y->data, ref, n * width);
      g_test_message ("rope theta %g, %d thread(s): max|err| = %.3g", theta, nt, err);
      g_assert_cmpfloat (err, <, 2e-2);
      /* rows at small positions are accurate */
      g_assert_cmpfloat (max_abs_diff (y->data, ref, 4 * width), <, 1e-5);
      /* in place */
      g_autoptr (VvTensor) z = vv_tensor_new_2d (VV_DTYPE_F32, n, width);
      memcpy (z->data, x->data, vv_tensor_n_bytes (x));
      g_assert_true (vv_backend_rope (be, z, z, d, pos, theta, &error));
      g_assert_cmpmem (z->data, vv_tensor_n_bytes (z), y->data, vv_tensor_n_bytes (y));
      if (nt == 1) {
        g_free (first);
        first = g_memdup2 (y->data, vv_tensor_n_bytes (y));
      } else {
        g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first, vv_tensor_n_bytes (y));
      }
    }
  }
}

static void
ref_attention (const gfloat *q, const gfloat *k, const gfloat *v, gdouble *y, gint64 n,
    gint64 t, gint hq, gint hkv, gint d)
{
  g_autofree gdouble *p = g_new (gdouble, t);
  for (gint64 i = 0; i < n; i++)
    for (gint h = 0; h < hq; h++) {
      gint kh = h / (hq / hkv);
      gint64 last = t - n + i;
      gdouble m = -INFINITY, sum = 0;
      for (gint64 s = 0; s <= last; s++) {
        gdouble acc = 0;
        for (gint j = 0; j < d; j++)
          acc += (gdouble) q[(i * hq + h) * d + j] * k[(s * hkv + kh) * d + j];
        p[s] = acc / sqrt (d);
        m = MAX (m, p[s]);
      }
      for (gint64 s = 0; s <= last; s++)
        sum += (p[s] = exp (p[s] - m));
      for (gint j = 0; j < d; j++) {
        gdouble acc = 0;
        for (gint64 s = 0; s <= last; s++)
          acc += p[s] / sum * v[(s * hkv + kh) * d + j];
        y[(i * hq + h) * d + j] = acc;
      }
    }
}

typedef struct {
  gint64 n, t;
  gint hq, hkv, d;
} AttnCase;

static const AttnCase attn_cases[] = {
  { 1, 1, 1, 1, 8 },            /* single position */
  { 5, 5, 4, 2, 16 },           /* prefill, GQA 2:1 */
  { 1, 40, 4, 2, 16 },          /* cached step */
  { 7, 30, 6, 2, 12 },          /* chunk after history, GQA 3:1, d not a multiple of 8 */
  { 64, 300, 12, 2, 128 },      /* 1.5B head layout */
  { 3, 10, 2, 2, 64 },          /* MHA */
};

static void
test_attention (gconstpointer data)
{
  const AttnCase *c = data;
  g_autoptr (VvTensor) q = rand_2d (c->n, (gint64) c->hq * c->d);
  g_autoptr (VvTensor) k = rand_2d (c->t, (gint64) c->hkv * c->d);
  g_autoptr (VvTensor) v = rand_2d (c->t, (gint64) c->hkv * c->d);
  /* sharpen some scores so the softmax max subtraction matters */
  ((gfloat *) q->data)[0] *= 20.0f;
  gint64 ne = c->n * c->hq * c->d;
  g_autofree gdouble *ref = g_new (gdouble, ne);
  ref_attention (q->data, k->data, v->data, ref, c->n, c->t, c->hq, c->hkv, c->d);
  g_autofree gfloat *first = NULL;
  for (gint nt = 1; nt <= 3; nt++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VvBackend) be = vv_backend_new_cpu (nt, &error);
    g_assert_no_error (error);
    g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, c->n, (gint64) c->hq * c->d);
    g_assert_true (vv_backend_attention (be, y, q, k, v, c->d, &error));
    g_assert_no_error (error);
    gdouble err = max_abs_diff (y->data, ref, ne);
    g_test_message ("attention n %" G_GINT64_FORMAT " t %" G_GINT64_FORMAT " heads %d/%d d %d, "
        "%d thread(s): max|err| = %.3g", c->n, c->t, c->hq, c->hkv, c->d, nt, err);
    g_assert_cmpfloat (err, <, 1e-5);
    if (nt == 1)
      first = g_memdup2 (y->data, vv_tensor_n_bytes (y));
    else
      g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first, vv_tensor_n_bytes (y));
  }
}

static void
test_checks (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = vv_backend_new_cpu (1, &error);
  g_assert_no_error (error);
  g_autoptr (VvTensor) x = rand_2d (2, 32);
  g_autoptr (VvTensor) y = rand_2d (2, 32);
  gint32 pos_ids[2] = { 0, 1 }, neg_ids[2] = { 0, -1 };
  VvTensor pos_t, neg_t;
  vv_tensor_init_view (&pos_t, VV_DTYPE_I32, 1, (gint64[]) { 2 }, pos_ids);
  vv_tensor_init_view (&neg_t, VV_DTYPE_I32, 1, (gint64[]) { 2 }, neg_ids);
  const VvTensor *pos = &pos_t, *neg = &neg_t;
  /* odd head_dim, head_dim not dividing the width, negative position */
  g_assert_false (vv_backend_rope (be, y, x, 7, pos, 1e4, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vv_backend_rope (be, y, x, 12, pos, 1e4, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (vv_backend_rope (be, y, x, 16, neg, 1e4, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);
  /* heads not a multiple of kv heads: q 3 heads of 8, k 2 heads of 8 */
  g_autoptr (VvTensor) q3 = rand_2d (2, 24);
  g_autoptr (VvTensor) y3 = rand_2d (2, 24);
  g_autoptr (VvTensor) k2 = rand_2d (4, 16);
  g_autoptr (VvTensor) v2 = rand_2d (4, 16);
  g_assert_false (vv_backend_attention (be, y3, q3, k2, v2, 8, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* fewer keys than new queries */
  g_autoptr (VvTensor) k1 = rand_2d (1, 16);
  g_autoptr (VvTensor) v1 = rand_2d (1, 16);
  g_assert_false (vv_backend_attention (be, y, x, k1, v1, 8, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);
  /* k / v shapes differ */
  g_assert_false (vv_backend_attention (be, y, x, k2, v1, 8, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);
  /* y aliasing q */
  g_assert_false (vv_backend_attention (be, x, x, k2, v2, 8, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (1234);
  g_test_add_func ("/lm-ops/rope", test_rope);
  for (guint i = 0; i < G_N_ELEMENTS (attn_cases); i++) {
    const AttnCase *c = &attn_cases[i];
    g_autofree gchar *name = g_strdup_printf ("/lm-ops/attention/n%" G_GINT64_FORMAT "-t%"
        G_GINT64_FORMAT "-h%d-kv%d-d%d", c->n, c->t, c->hq, c->hkv, c->d);
    g_test_add_data_func (name, c, test_attention);
  }
  g_test_add_func ("/lm-ops/checks", test_checks);
  gint ret = g_test_run ();
  g_rand_free (rng);
  return ret;
}
