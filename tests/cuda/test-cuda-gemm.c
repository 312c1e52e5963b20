/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The one GEMM wrapper of the CUDA runtime layer (vvcu_gemm in
 * ext/cuda/vv-cuda-rt.h) against a reference written here from cuBLAS's
 * documented column-major semantics: every transpose combination, leading
 * dimensions larger than the rows, batch strides, beta 0 (C ignored, even
 * NaN) and beta 1, F32/F16/BF16 operands, and the argument errors.
 * Linked with the emulated layer (test-cuda-gemm-emu, always) and with the
 * real one (test-cuda-gemm, on a machine with a GPU; skipped without).
 */
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vibevoice/vv-tensor.h>

#include "vv-cuda-rt.h"

static VvcuBlas *blas;

static float
stored (VvkType t, float v)
{
  /* the value an element of type t holds */
  return t == VVK_BF16 ? vv_bf16_to_f32 (vv_f32_to_bf16 (v))
      : t == VVK_F16 ? vv_f16_to_f32 (vv_f32_to_f16 (v)) : v;
}

/* host array of @n elements of type @t from @v (already representable) */
static void *
pack (VvkType t, const float *v, gsize n)
{
  if (t == VVK_F32)
    return g_memdup2 (v, n * sizeof (float));
  guint16 *p = g_new (guint16, n);
  for (gsize i = 0; i < n; i++)
    p[i] = t == VVK_BF16 ? vv_f32_to_bf16 (v[i]) : vv_f32_to_f16 (v[i]);
  return p;
}

static void *
upload (const void *host, gsize bytes)
{
  void *d = NULL;
  g_assert_cmpint (vvcu_malloc (&d, MAX (bytes, 1)), ==, 0);
  g_assert_cmpint (vvcu_memcpy_htod (d, host, bytes), ==, 0);
  return d;
}

typedef struct {
  int ta, tb, m, n, k, batch;
  int pad_a, pad_b, pad_c;      /* extra rows in the leading dimensions */
  float beta;
  VvkType type;
} Case;

static void
run_case (const Case *c)
{
  gint64 rows_a = c->ta ? c->k : c->m, cols_a = c->ta ? c->m : c->k;
  gint64 rows_b = c->tb ? c->n : c->k, cols_b = c->tb ? c->k : c->n;
  gint64 lda = rows_a + c->pad_a, ldb = rows_b + c->pad_b, ldc = c->m + c->pad_c;
  /* strides with a gap between batch items */
  gint64 sa = lda * cols_a + 3, sb = ldb * cols_b + 5, sc = ldc * c->n + 7;
  gsize na = (gsize) (sa * c->batch), nb = (gsize) (sb * c->batch), nc = (gsize) (sc * c->batch);
  g_autofree float *a = g_new (float, na), *b = g_new (float, nb), *cin = g_new (float, nc);
  GRand *r = g_rand_new_with_seed ((guint32) (c->m * 131 + c->n * 17 + c->k + c->ta * 2 + c->tb));
  for (gsize i = 0; i < na; i++)
    a[i] = stored (c->type, (float) g_rand_double_range (r, -1, 1));
  for (gsize i = 0; i < nb; i++)
    b[i] = stored (c->type, (float) g_rand_double_range (r, -1, 1));
  for (gsize i = 0; i < nc; i++)
    cin[i] = c->beta == 0.0f ? NAN : (float) g_rand_double_range (r, -1, 1);
  g_rand_free (r);

  g_autofree void *pa = pack (c->type, a, na), *pb = pack (c->type, b, nb);
  gsize es = c->type == VVK_F32 ? 4 : 2;
  void *da = upload (pa, na * es), *db = upload (pb, nb * es);
  float *dc = upload (cin, nc * sizeof (float));
  g_assert_cmpint (vvcu_gemm (blas, c->ta, c->tb, c->m, c->n, c->k, da, c->type, lda, sa,
          db, c->type, ldb, sb, c->beta, dc, ldc, sc, c->batch), ==, 0);
  g_autofree float *out = g_new (float, nc);
  g_assert_cmpint (vvcu_memcpy_dtoh (out, dc, nc * sizeof (float)), ==, 0);

  for (int bi = 0; bi < c->batch; bi++)
    for (int j = 0; j < c->n; j++)
      for (int i = 0; i < c->m; i++) {
        double s = 0, mag = 0;
        for (int l = 0; l < c->k; l++) {
          double av = c->ta ? a[bi * sa + l + (gint64) i * lda] : a[bi * sa + i + (gint64) l * lda];
          double bv = c->tb ? b[bi * sb + j + (gint64) l * ldb] : b[bi * sb + l + (gint64) j * ldb];
          s += av * bv;
          mag += fabs (av * bv);
        }
        gint64 ci = bi * sc + i + (gint64) j * ldc;
        if (c->beta != 0.0f) {
          s += c->beta * cin[ci];
          mag += fabs (c->beta * cin[ci]);
        }
        double tol = 1e-6 * sqrt ((double) MAX (c->k, 1)) * mag + 1e-30;
        if (!(fabs (out[ci] - s) <= tol))
          g_error ("gemm ta=%d tb=%d m=%d n=%d k=%d batch=%d beta=%g type=%d: C[%d](%d,%d) = %.9g, "
              "reference %.9g", c->ta, c->tb, c->m, c->n, c->k, c->batch, c->beta, c->type, bi,
              i, j, out[ci], s);
      }
  /* padding rows of C and the gaps between batches are untouched */
  for (int bi = 0; bi < c->batch; bi++)
    for (gint64 e = 0; e < sc; e++) {
      gint64 i = e % ldc, j = e / ldc;
      if (i >= c->m || j >= c->n) {
        gint64 ci = bi * sc + e;
        if (ci < (gint64) nc)
          g_assert_true (memcmp (&out[ci], &cin[ci], sizeof (float)) == 0);
      }
    }
  vvcu_free (da);
  vvcu_free (db);
  vvcu_free (dc);
}

static void
test_semantics (void)
{
  static const VvkType types[] = { VVK_F32, VVK_F16, VVK_BF16 };
  guint n = 0;
  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int pad = 0; pad < 2; pad++)
          for (int beta = 0; beta < 2; beta++) {
            Case c = { ta, tb, 7, 5, 9, 3, pad * 2, pad * 3, pad, beta ? 1.0f : 0.0f, types[t] };
            run_case (&c);
            Case d = { ta, tb, 33, 1, 64, 1, pad, 0, pad * 4, beta ? 1.0f : 0.0f, types[t] };
            run_case (&d);
            n += 2;
          }
  /* k = 0: C = beta·C */
  Case z = { 0, 0, 4, 3, 0, 2, 0, 1, 0, 1.0f, VVK_F32 };   /* ldb ≥ 1 */
  run_case (&z);
  g_test_message ("%u cases", n + 1);
}

static void
test_errors (void)
{
  float x[16] = { 0 };
  void *d = upload (x, sizeof x);
  /* lda below the rows of A */
  g_assert_cmpint (vvcu_gemm (blas, 0, 0, 4, 2, 2, d, VVK_F32, 3, 0, d, VVK_F32, 2, 0, 0.0f, d,
          4, 0, 1), !=, 0);
  /* ldc below m */
  g_assert_cmpint (vvcu_gemm (blas, 1, 0, 4, 2, 2, d, VVK_F32, 2, 0, d, VVK_F32, 2, 0, 0.0f, d,
          3, 0, 1), !=, 0);
  /* negative size */
  g_assert_cmpint (vvcu_gemm (blas, 0, 0, -1, 2, 2, d, VVK_F32, 2, 0, d, VVK_F32, 2, 0, 0.0f, d,
          2, 0, 1), !=, 0);
  vvcu_free (d);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  char why[256] = "";
  if (vvcu_init (why, sizeof why) != 0) {
    /* a TAP skip of the whole program */
    g_print ("1..0 # SKIP no CUDA device: %s\n", why);
    return 0;
  }
  VvkStream s;
  g_assert_cmpint (vvcu_stream_create (&s), ==, 0);
  int rc = vvcu_blas_create (&blas, s);
  if (rc != 0) {
    g_print ("1..0 # SKIP cuBLAS unavailable: %s\n", vvcu_error_string (rc));
    return 0;
  }
  g_test_add_func ("/cuda-gemm/semantics", test_semantics);
  g_test_add_func ("/cuda-gemm/errors", test_errors);
  int ret = g_test_run ();
  vvcu_blas_destroy (blas);
  vvcu_stream_destroy (s);
  return ret;
}
