/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The attention ops (rope, attention; MODEL-SPEC §6) on the CPU backend
 * against scalar references written here in double, with 1, 2 and 3
 * threads (outputs must be bit-identical across thread counts), with every
 * kernel family the CPU has and F32, BF16 and I8 (int8 codes with a scale
 * per token and KV head) keys/values, plus the wrappers' operand checks and
 * the measured error of an int8 cache.
 */
#include <vibevoice/vibevoice.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static GRand *rng;

/* measured values in test_attention_int8_error()'s comment, with margin */
#define BF16_ATTN_REL_BOUND 1.5e-2
#define I8_ATTN_REL_BOUND 0.12

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
  { 1, 1000, 12, 2, 128 },      /* decode at a longer context (split over keys on GPUs) */
  { 3, 5000, 4, 2, 16 },        /* several rows past many splits */
  { 2, 513, 12, 2, 128 },       /* the second row alone reaches the third key chunk */
  { 1, 20000, 12, 2, 128 },     /* 1.5B decode deep in the context: many chunks */
  { 2, 700, 14, 2, 64 },        /* 7 query heads per KV head (7B's group), d = 64 */
  { 1, 300, 2, 1, 24 },         /* d a multiple of 8 but not 16 */
  { 2, 400, 10, 1, 16 },        /* 10 query heads per KV head: CUDA's per-head kernel */
};

/* Kernel families the CPU backend has here (VV_CPU_ISA values). */
static const gchar *const isas[] = { "scalar", "avx2", "avx512" };

/* The int8 cache's rule, written independently of the backend: per row
 * and group of @per values, scale = max|x| / 127 and code = round(x / scale)
 * (nearest even), clamped to ±127; a group of zeros has scale 0. */
static VvTensor *
quantize_ref (const VvTensor *t, gint groups)
{
  gint64 rows = t->shape[0], cols = t->shape[1], per = cols / groups;
  VvTensor *c = vv_tensor_new_i8_groups (rows, cols, groups);
  const gfloat *x = t->data;
  gint8 *q = c->data;
  gfloat *sc = (gfloat *) vv_tensor_get_row_scales (c);
  for (gint64 r = 0; r < rows; r++)
    for (gint g = 0; g < groups; g++) {
      const gfloat *xg = x + r * cols + g * per;
      gfloat m = 0;
      for (gint64 j = 0; j < per; j++)
        m = MAX (m, fabsf (xg[j]));
      gfloat s = m / 127.0f;
      sc[r * groups + g] = s;
      for (gint64 j = 0; j < per; j++)
        q[r * cols + g * per + j] = s == 0 ? 0 : (gint8) CLAMP (rintf (xg[j] / s), -127, 127);
    }
  return c;
}

/* A copy of @t in @dtype (BF16 rounds to nearest even; I8 quantised per
 * group of @d values, a KV head) and, in @back, its values widened again:
 * what a kernel reading the copy must see. */
static VvTensor *
as_dtype_d (const VvTensor *t, VvDType dtype, gint d, VvTensor **back)
{
  if (dtype == VV_DTYPE_I8) {
    VvTensor *c = quantize_ref (t, (gint) (t->shape[1] / d));
    *back = vv_tensor_new (VV_DTYPE_F32, t->ndim, t->shape);
    for (gint64 r = 0; r < t->shape[0]; r++)
      vv_tensor_row_to_f32 (c, r, (gfloat *) (*back)->data + r * t->shape[1]);
    return c;
  }
  VvTensor *c = vv_tensor_new (dtype, t->ndim, t->shape);
  gint64 n = vv_tensor_n_elements (t);
  vv_convert_from_f32 (dtype, t->data, c->data, n);
  *back = vv_tensor_new (VV_DTYPE_F32, t->ndim, t->shape);
  vv_convert_to_f32 (dtype, c->data, (*back)->data, n);
  return c;
}

static VvTensor *
as_dtype (const VvTensor *t, VvDType dtype, VvTensor **back)
{
  return as_dtype_d (t, dtype, 1, back);
}

/* Every kernel family this CPU has, F32, BF16 and I8 keys/values, 1-3
 * threads: close to the double reference (computed from the values the
 * kernel reads), and bit-identical across thread counts (3 threads split
 * a decode's context among them, 1 thread does not). On I8 each kernel
 * must also give exactly its result on the F32 copy of the dequantised
 * values (the codes are widened and scaled once, then the F32 path). */
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
  static const VvDType dts[] = { VV_DTYPE_F32, VV_DTYPE_BF16, VV_DTYPE_I8 };
  for (guint di = 0; di < G_N_ELEMENTS (dts); di++) {
    VvDType dt = dts[di];
    g_autoptr (VvTensor) kw = NULL, vw = NULL;
    g_autoptr (VvTensor) kd = as_dtype_d (k, dt, c->d, &kw);
    g_autoptr (VvTensor) vd = as_dtype_d (v, dt, c->d, &vw);
    g_autofree gdouble *ref = g_new (gdouble, ne);
    ref_attention (q->data, kw->data, vw->data, ref, c->n, c->t, c->hq, c->hkv, c->d);
    for (guint ii = 0; ii < G_N_ELEMENTS (isas); ii++) {
      g_autofree gfloat *first = NULL;
      for (gint nt = 1; nt <= 3; nt++) {
        g_autoptr (GError) error = NULL;
        setenv ("VV_CPU_ISA", isas[ii], 1);
        g_autoptr (VvBackend) be = vv_backend_new_cpu (nt, &error);
        unsetenv ("VV_CPU_ISA");
        if (be == NULL) {
          g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
          g_test_message ("%s kernels: %s", isas[ii], error->message);
          break;
        }
        g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, c->n, (gint64) c->hq * c->d);
        g_assert_true (vv_backend_attention (be, y, q, kd, vd, c->d, &error));
        g_assert_no_error (error);
        gdouble err = max_abs_diff (y->data, ref, ne);
        g_test_message ("attention n %" G_GINT64_FORMAT " t %" G_GINT64_FORMAT " heads %d/%d "
            "d %d, %s k/v, %s kernels, %d thread(s): max|err| = %.3g", c->n, c->t, c->hq,
            c->hkv, c->d, vv_dtype_name (dt), isas[ii], nt, err);
        g_assert_cmpfloat (err, <, 1e-5);
        if (dt == VV_DTYPE_I8) {
          g_autoptr (VvTensor) yf = vv_tensor_new_2d (VV_DTYPE_F32, c->n, (gint64) c->hq * c->d);
          g_assert_true (vv_backend_attention (be, yf, q, kw, vw, c->d, &error));
          g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), yf->data, vv_tensor_n_bytes (yf));
        }
        if (nt == 1)
          first = g_memdup2 (y->data, vv_tensor_n_bytes (y));
        else
          g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first, vv_tensor_n_bytes (y));
      }
    }
  }
}

/* ---------------------------------------------------------------------- */
/* The same ops on every other registered backend (sim, cuda-emu, cuda where
 * a GPU works): device tensors in and out, the same references and
 * tolerances; on cuda-emu in forward, reverse and shuffled thread order,
 * which must give the same bits (a difference is a race in a kernel). */

static VvTensor *
up (VvBackend *be, const VvTensor *host)
{
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_backend_tensor_new_from_host (be, host, &error);
  g_assert_no_error (error);
  return t;
}

static VvTensor *
down (VvBackend *be, const VvTensor *dev)
{
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_tensor_new (dev->dtype, dev->ndim, dev->shape);
  g_assert_true (vv_backend_tensor_download (be, t, dev, &error));
  g_assert_no_error (error);
  return t;
}

/* The backends other than cpu, each with the orders to run it in. */
static GPtrArray *
device_backends (void)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_backend_free);
  g_auto (GStrv) names = vv_backend_list_names ();
  for (gint i = 0; names[i] != NULL; i++) {
    if (strcmp (names[i], "cpu") == 0)
      continue;
    gboolean emu = strcmp (names[i], "cuda-emu") == 0;
    static const gchar *const orders[] = { "forward", "reverse", "shuffle:99" };
    for (guint o = 0; o < (emu ? G_N_ELEMENTS (orders) : 1); o++) {
      g_autoptr (GError) error = NULL;
      if (emu)
        setenv ("VV_CUDA_EMU_ORDER", orders[o], 1);
      VvBackend *be = vv_backend_new_by_name (names[i], 1, &error);
      unsetenv ("VV_CUDA_EMU_ORDER");
      if (be == NULL) {
        g_test_message ("skipping %s: %s", names[i], error->message);
        continue;
      }
      g_ptr_array_add (list, be);
    }
  }
  return list;
}

static void
test_rope_devices (void)
{
  const gint d = 16, heads = 3;
  const gint64 n = 9, width = heads * d;
  gint32 pos_ids[9] = { 0, 1, 2, 7, 100, 1000, 4095, 30000, 65535 };
  VvTensor pos_t;
  vv_tensor_init_view (&pos_t, VV_DTYPE_I32, 1, (gint64[]) { 9 }, pos_ids);
  g_autoptr (VvTensor) x = rand_2d (n, width);
  g_autofree gdouble *ref = g_new (gdouble, n * width);
  ref_rope (x->data, ref, n, width, d, pos_ids, 1e6);
  g_autoptr (GPtrArray) bes = device_backends ();
  g_autofree gfloat *first = NULL;
  const gchar *first_name = NULL;
  for (guint b = 0; b < bes->len; b++) {
    VvBackend *be = g_ptr_array_index (bes, b);
    g_autoptr (GError) error = NULL;
    VvTensor *dx = up (be, x), *dp = up (be, &pos_t);
    VvTensor *dy = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, x->shape, &error);
    g_assert_true (vv_backend_rope (be, dy, dx, d, dp, 1e6, &error));
    g_assert_no_error (error);
    g_autoptr (VvTensor) y = down (be, dy);
    gdouble err = max_abs_diff (y->data, ref, n * width);
    g_test_message ("rope on %s: max|err| = %.3g", vv_backend_get_name (be), err);
    g_assert_cmpfloat (err, <, 2e-2);
    g_assert_cmpfloat (max_abs_diff (y->data, ref, 4 * width), <, 1e-5);
    /* the same backend in another thread order: the same bits */
    if (first_name != NULL && strcmp (first_name, vv_backend_get_name (be)) == 0)
      g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first, vv_tensor_n_bytes (y));
    g_free (first);
    first = g_memdup2 (y->data, vv_tensor_n_bytes (y));
    first_name = vv_backend_get_name (be);
    /* a negative position is an error naming it */
    gint32 neg[9] = { 0, 1, -5, 3, 4, 5, 6, 7, 8 };
    VvTensor neg_t;
    vv_tensor_init_view (&neg_t, VV_DTYPE_I32, 1, (gint64[]) { 9 }, neg);
    VvTensor *dn = up (be, &neg_t);
    g_assert_false (vv_backend_rope (be, dy, dx, d, dn, 1e6, &error));
    g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
    g_assert_nonnull (strstr (error->message, "negative position -5 at row 2"));
    vv_tensor_free (dn);
    vv_tensor_free (dx);
    vv_tensor_free (dp);
    vv_tensor_free (dy);
  }
}

static void
test_attention_devices (void)
{
  g_autoptr (GPtrArray) bes = device_backends ();
  for (guint i = 0; i < G_N_ELEMENTS (attn_cases); i++) {
    const AttnCase *c = &attn_cases[i];
    g_autoptr (VvTensor) q = rand_2d (c->n, (gint64) c->hq * c->d);
    g_autoptr (VvTensor) k = rand_2d (c->t, (gint64) c->hkv * c->d);
    g_autoptr (VvTensor) v = rand_2d (c->t, (gint64) c->hkv * c->d);
    ((gfloat *) q->data)[0] *= 20.0f;
    gint64 ne = c->n * c->hq * c->d;
    for (guint di = 0; di < 2; di++) {
      VvDType dt = di == 0 ? VV_DTYPE_F32 : VV_DTYPE_BF16;
      g_autoptr (VvTensor) kw = NULL, vw = NULL;
      g_autoptr (VvTensor) kd = as_dtype (k, dt, &kw);
      g_autoptr (VvTensor) vd = as_dtype (v, dt, &vw);
      g_autofree gdouble *ref = g_new (gdouble, ne);
      ref_attention (q->data, kw->data, vw->data, ref, c->n, c->t, c->hq, c->hkv, c->d);
      g_autofree gfloat *first = NULL;
      const gchar *first_name = NULL;
      for (guint b = 0; b < bes->len; b++) {
        VvBackend *be = g_ptr_array_index (bes, b);
        g_autoptr (GError) error = NULL;
        VvTensor *dq = up (be, q), *dk = up (be, kd), *dv = up (be, vd);
        VvTensor *dy = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, q->shape, &error);
        g_assert_true (vv_backend_attention (be, dy, dq, dk, dv, c->d, &error));
        g_assert_no_error (error);
        g_autoptr (VvTensor) y = down (be, dy);
        gdouble err = max_abs_diff (y->data, ref, ne);
        g_test_message ("attention n %" G_GINT64_FORMAT " t %" G_GINT64_FORMAT " %s k/v on %s: "
            "max|err| = %.3g", c->n, c->t, vv_dtype_name (dt), vv_backend_get_name (be), err);
        g_assert_cmpfloat (err, <, 1e-5);
        if (first_name != NULL && strcmp (first_name, vv_backend_get_name (be)) == 0)
          g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first, vv_tensor_n_bytes (y));
        g_free (first);
        first = g_memdup2 (y->data, vv_tensor_n_bytes (y));
        first_name = vv_backend_get_name (be);
        vv_tensor_free (dq);
        vv_tensor_free (dk);
        vv_tensor_free (dv);
        vv_tensor_free (dy);
      }
    }
  }
  /* an int8 cache is the cpu backend's only: the others refuse it, naming
   * the operand and its dtype (before noting that I8 tensors live in host
   * memory) */
  g_autoptr (VvTensor) k = rand_2d (8, 32);
  g_autoptr (VvTensor) kq = quantize_ref (k, 2);
  g_autoptr (VvTensor) q = rand_2d (1, 64);
  for (guint b = 0; b < bes->len; b++) {
    VvBackend *be = g_ptr_array_index (bes, b);
    g_autoptr (GError) error = NULL;
    VvTensor *dq = up (be, q);
    VvTensor *dy = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, q->shape, &error);
    g_assert_false (vv_backend_attention (be, dy, dq, kq, kq, 16, &error));
    g_assert_nonnull (error);
    g_test_message ("int8 keys on %s: %s", vv_backend_get_name (be), error->message);
    g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
    g_assert_nonnull (strstr (error->message, "I8"));
    g_clear_error (&error);
    /* quantising into I8 there: refused with the dtype named */
    VvTensor *dk = up (be, k);
    g_assert_false (vv_backend_convert (be, kq, dk, &error));
    g_assert_nonnull (error);
    g_test_message ("convert into I8 on %s: %s", vv_backend_get_name (be), error->message);
    g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
    g_assert_nonnull (strstr (error->message, "I8"));
    vv_tensor_free (dq);
    vv_tensor_free (dk);
    vv_tensor_free (dy);
  }
}

/* convert on every backend: BF16 / F16 rounding equals the host's
 * (round to nearest even), F32 is a copy; then a bad operand is an error. */
static void
test_convert (void)
{
  g_autoptr (VvTensor) x = rand_2d (37, 19);
  ((gfloat *) x->data)[3] = NAN;
  ((gfloat *) x->data)[4] = 1.0f + 1.0f / 256.0f;        /* a BF16 tie: rounds to even */
  g_autoptr (GPtrArray) bes = device_backends ();
  g_autoptr (GError) error = NULL;
  g_ptr_array_add (bes, vv_backend_new_cpu (1, &error));
  g_assert_no_error (error);
  for (guint b = 0; b < bes->len; b++) {
    VvBackend *be = g_ptr_array_index (bes, b);
    static const VvDType dts[] = { VV_DTYPE_BF16, VV_DTYPE_F16, VV_DTYPE_F32 };
    for (guint i = 0; i < G_N_ELEMENTS (dts); i++) {
      g_autoptr (VvTensor) want = vv_tensor_new (dts[i], x->ndim, x->shape);
      vv_convert_from_f32 (dts[i], x->data, want->data, (gsize) vv_tensor_n_elements (x));
      VvTensor *dx = up (be, x);
      VvTensor *dy = vv_backend_tensor_new (be, dts[i], x->ndim, x->shape, &error);
      g_assert_true (vv_backend_convert (be, dy, dx, &error));
      g_assert_no_error (error);
      g_autoptr (VvTensor) y = down (be, dy);
      g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), want->data, vv_tensor_n_bytes (want));
      if (dts[i] == VV_DTYPE_BF16)
        g_assert_cmphex (((guint16 *) y->data)[4], ==, 0x3f80);
      vv_tensor_free (dx);
      vv_tensor_free (dy);
    }
    /* too few elements in y */
    VvTensor *dx = up (be, x);
    if (vv_device_is_host (vv_backend_get_device (be))) {
      /* into I8 groups (an int8 KV cache's rows): the reference rule, NaN
       * poisoning only its own group (scale NaN) */
      g_autoptr (VvTensor) xr = rand_2d (37, 24);
      ((gfloat *) xr->data)[0] = 0.0f;      /* row 0, group 0: zeros */
      for (gint j = 1; j < 8; j++)
        ((gfloat *) xr->data)[j] = 0.0f;
      ((gfloat *) xr->data)[24 + 9] = 127.5f;       /* a large value: code ±127 */
      g_autoptr (VvTensor) want = quantize_ref (xr, 3);
      ((gfloat *) xr->data)[48 + 17] = NAN;         /* row 2, group 2 */
      g_autoptr (VvTensor) got = vv_tensor_new_i8_groups (37, 24, 3);
      g_assert_true (vv_backend_convert (be, got, xr, &error));
      g_assert_no_error (error);
      const gint8 *gq = got->data, *wq = want->data;
      const gfloat *gs = vv_tensor_get_row_scales (got), *ws = vv_tensor_get_row_scales (want);
      for (gint64 r = 0; r < 37; r++)
        for (gint g = 0; g < 3; g++) {
          if (r == 2 && g == 2) {
            g_assert_true (isnan (gs[r * 3 + g]));
            continue;
          }
          g_assert_cmpfloat (gs[r * 3 + g], ==, ws[r * 3 + g]);
          g_assert_cmpmem (gq + r * 24 + g * 8, 8, wq + r * 24 + g * 8, 8);
        }
      g_assert_cmpfloat (gs[0], ==, 0.0f);
      g_assert_cmpint (gq[24 + 9], ==, 127);
      /* widened back: within half a step of the input */
      g_autofree gfloat *row = g_new (gfloat, 24);
      for (gint64 r = 3; r < 37; r++) {
        vv_tensor_row_to_f32 (got, r, row);
        for (gint j = 0; j < 24; j++)
          g_assert_cmpfloat (fabsf (row[j] - ((gfloat *) xr->data)[r * 24 + j]), <=,
              0.5f * gs[r * 3 + j / 8] * 1.0001f);
      }
      /* I8 without scales: refused */
      g_autoptr (VvTensor) bare = vv_tensor_new (VV_DTYPE_I8, 2, xr->shape);
      g_assert_false (vv_backend_convert (be, bare, xr, &error));
      g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE);
      g_clear_error (&error);
    }
    gint64 small[2] = { 2, 2 };
    VvTensor *dy = vv_backend_tensor_new (be, VV_DTYPE_BF16, 2, small, &error);
    g_assert_false (vv_backend_convert (be, dy, dx, &error));
    g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
    g_clear_error (&error);
    vv_tensor_free (dx);
    vv_tensor_free (dy);
  }
}

/* The cost of an int8 cache in attention output, at the 1.5B head layout
 * (12 query heads over 2 KV heads of 128) and Qwen-like key statistics:
 * N(0, 1) values, keys with a few large channels (outliers per channel are
 * what per-head scales have to cover). Relative RMS error of the output
 * against the double reference on the unrounded F32 values, for BF16 and
 * I8 caches. Measured (AVX-512 kernels, 2 rows x 2000 keys, q ~ N(0, 4):
 * a sharp softmax, so the output is a small average and its relative
 * error large): BF16 9.1e-3, I8 7.0e-2; the bounds leave ~1.7x. */
static gdouble
box_muller (GRand *r)
{
  gdouble u = g_rand_double_range (r, 1e-12, 1), w = g_rand_double (r);
  return sqrt (-2 * log (u)) * cos (2 * G_PI * w);
}

static void
test_attention_int8_error (void)
{
  const gint hq = 12, hkv = 2, d = 128;
  const gint64 n = 2, t = 2000, kvw = hkv * d, ne = n * hq * d;
  g_autoptr (VvTensor) q = vv_tensor_new_2d (VV_DTYPE_F32, n, hq * d);
  g_autoptr (VvTensor) k = vv_tensor_new_2d (VV_DTYPE_F32, t, kvw);
  g_autoptr (VvTensor) v = vv_tensor_new_2d (VV_DTYPE_F32, t, kvw);
  gfloat *qp = q->data, *kp = k->data, *vp = v->data;
  /* its own generator: the bounds hold for these values, whatever ran before */
  g_autoptr (GRand) r = g_rand_new_with_seed (77);
  for (gint64 i = 0; i < n * hq * d; i++)
    qp[i] = (gfloat) (2.0 * box_muller (r));
  for (gint64 i = 0; i < t * kvw; i++) {
    /* channels 5 and 70 of each head: 8x larger (outlier channels) */
    gint ch = (gint) (i % d);
    kp[i] = (gfloat) (box_muller (r) * ((ch == 5 || ch == 70) ? 8.0 : 1.0));
    vp[i] = (gfloat) box_muller (r);
  }
  g_autofree gdouble *ref = g_new (gdouble, ne);
  ref_attention (qp, kp, vp, ref, n, t, hq, hkv, d);
  gdouble ref_ss = 0;
  for (gint64 i = 0; i < ne; i++)
    ref_ss += ref[i] * ref[i];
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = vv_backend_new_cpu (2, &error);
  g_assert_no_error (error);
  gdouble rel[2];
  static const VvDType dts[] = { VV_DTYPE_BF16, VV_DTYPE_I8 };
  for (guint di = 0; di < 2; di++) {
    g_autoptr (VvTensor) kw = NULL, vw = NULL;
    g_autoptr (VvTensor) kd = as_dtype_d (k, dts[di], d, &kw);
    g_autoptr (VvTensor) vd = as_dtype_d (v, dts[di], d, &vw);
    g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, n, hq * d);
    g_assert_true (vv_backend_attention (be, y, q, kd, vd, d, &error));
    g_assert_no_error (error);
    gdouble ss = 0;
    for (gint64 i = 0; i < ne; i++) {
      gdouble e = ((gfloat *) y->data)[i] - ref[i];
      ss += e * e;
    }
    rel[di] = sqrt (ss / ref_ss);
    g_test_message ("%s cache: attention output relative RMS error %.3g",
        vv_dtype_name (dts[di]), rel[di]);
  }
  g_assert_cmpfloat (rel[0], <, BF16_ATTN_REL_BOUND);
  g_assert_cmpfloat (rel[1], <, I8_ATTN_REL_BOUND);
  /* int8 does cost something: a quantiser that kept F32 would pass the
   * bound but not this */
  g_assert_cmpfloat (rel[1], >, rel[0]);
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
  g_test_add_func ("/lm-ops/rope-devices", test_rope_devices);
  g_test_add_func ("/lm-ops/attention-devices", test_attention_devices);
  g_test_add_func ("/lm-ops/convert", test_convert);
  g_test_add_func ("/lm-ops/attention-int8-error", test_attention_int8_error);
  g_test_add_func ("/lm-ops/checks", test_checks);
  gint ret = g_test_run ();
  g_rand_free (rng);
  return ret;
}
