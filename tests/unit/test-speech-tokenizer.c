/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* σ-VAE tokenizer tests: the conv ops against plain references, and the
 * encoders/decoder against themselves for the streaming invariants of
 * MODEL-SPEC §5.6 (chunked == whole, bit for bit; reset == fresh). Numerical
 * agreement with the Python reference is tests/conformance's job. */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static gchar *tmp_root;
static gchar *tiny_dir;
static GRand *rng;

static const gint thread_counts[] = { 1, 2, 3 };
static const VvDType dtypes[] = { VV_DTYPE_F32, VV_DTYPE_F16, VV_DTYPE_BF16 };

/* ---------------------------------------------------------------------- */
/* Helpers */

static VvTensor *
rand_tensor (VvDType dt, gint ndim, const gint64 *shape, gdouble scale)
{
  VvTensor *t = vv_tensor_new (dt, ndim, shape);
  gint64 n = vv_tensor_n_elements (t);
  for (gint64 i = 0; i < n; i++)
    vv_tensor_set_f32 (t, i, (gfloat) (scale * g_rand_double_range (rng, -1.0, 1.0)));
  return t;
}

static VvBackend *
cpu (gint n_threads)
{
  g_autoptr (GError) error = NULL;
  VvBackend *be = vv_backend_new_cpu (n_threads, &error);
  g_assert_no_error (error);
  return be;
}

/* Plain references in double, from the stored (rounded) values. */
static void
ref_conv1d (const VvTensor *x, const VvTensor *w, const VvTensor *b, gint s, gint groups,
    gdouble *y, gint64 t_out)
{
  gint64 c_in = x->shape[1], c_out = w->shape[0], cpg = w->shape[1], k = w->shape[2];
  for (gint64 t = 0; t < t_out; t++)
    for (gint64 o = 0; o < c_out; o++) {
      gdouble acc = b ? vv_tensor_get_f32 (b, o) : 0.0;
      for (gint64 ci = 0; ci < cpg; ci++) {
        gint64 c = groups == 1 ? ci : o;
        for (gint64 j = 0; j < k; j++)
          acc += (gdouble) vv_tensor_get_f32 (x, (t * s + j) * c_in + c)
              * vv_tensor_get_f32 (w, (o * cpg + ci) * k + j);
      }
      y[t * c_out + o] = acc;
    }
}

static void
ref_conv_transpose1d (const VvTensor *x, const VvTensor *w, const VvTensor *b, gint s,
    gdouble *y, gint64 rows)
{
  gint64 T = x->shape[0], c_in = x->shape[1], c_out = w->shape[1], k = w->shape[2];
  for (gint64 n = 0; n < rows; n++)
    for (gint64 o = 0; o < c_out; o++)
      y[n * c_out + o] = b ? vv_tensor_get_f32 (b, o) : 0.0;
  for (gint64 t = 0; t < T; t++)
    for (gint64 c = 0; c < c_in; c++)
      for (gint64 o = 0; o < c_out; o++)
        for (gint64 j = 0; j < k; j++)
          y[(t * s + j) * c_out + o] += (gdouble) vv_tensor_get_f32 (x, t * c_in + c)
              * vv_tensor_get_f32 (w, (c * c_out + o) * k + j);
}

static void
assert_close (const VvTensor *y, const gdouble *ref, gint64 fan_in, const gchar *what)
{
  gint64 n = vv_tensor_n_elements (y);
  gdouble tol = 2e-6 * sqrt ((gdouble) MAX (fan_in, 1)) + 1e-6;
  for (gint64 i = 0; i < n; i++) {
    gdouble d = fabs (vv_tensor_get_f32 (y, i) - ref[i]);
    if (!(d <= tol * (1.0 + fabs (ref[i]))))
      g_error ("%s: element %" G_GINT64_FORMAT ": got %.9g, expected %.9g", what, i,
          vv_tensor_get_f32 (y, i), ref[i]);
  }
}

/* ---------------------------------------------------------------------- */
/* conv1d */

typedef struct {
  gint64 t_out, c_in, c_out, k;
  gint s, groups;
} ConvCase;

static void
run_conv1d_case (const ConvCase *cc, VvDType dt, gboolean with_bias)
{
  gint64 t_in = (cc->t_out - 1) * cc->s + cc->k;
  gint64 cpg = cc->groups == 1 ? cc->c_in : 1;
  g_autoptr (VvTensor) x = rand_tensor (VV_DTYPE_F32, 2, (gint64[]) { t_in, cc->c_in }, 1.0);
  g_autoptr (VvTensor) w = rand_tensor (dt, 3, (gint64[]) { cc->c_out, cpg, cc->k },
      1.0 / sqrt ((gdouble) (cpg * cc->k)));
  g_autoptr (VvTensor) b = with_bias ? rand_tensor (dt, 1, (gint64[]) { cc->c_out }, 0.1) : NULL;
  g_autofree gdouble *ref = g_new (gdouble, cc->t_out * cc->c_out);
  ref_conv1d (x, w, b, cc->s, cc->groups, ref, cc->t_out);
  g_autofree gchar *what = g_strdup_printf ("conv1d T_out=%" G_GINT64_FORMAT " C_in=%"
      G_GINT64_FORMAT " C_out=%" G_GINT64_FORMAT " k=%" G_GINT64_FORMAT " s=%d g=%d %s",
      cc->t_out, cc->c_in, cc->c_out, cc->k, cc->s, cc->groups, vv_dtype_name (dt));

  g_autoptr (VvTensor) first = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (thread_counts); i++) {
    VvBackend *be = cpu (thread_counts[i]);
    g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, cc->t_out, cc->c_out);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_backend_conv1d (be, y, x, w, b, cc->s, cc->groups, &error));
    g_assert_no_error (error);
    assert_close (y, ref, cpg * cc->k, what);
    if (first == NULL) {
      first = g_steal_pointer (&y);
    } else {
      /* determinism across thread counts */
      g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first->data, vv_tensor_n_bytes (first));
    }

    /* row locality: a window of x starting at a multiple of the stride
     * gives bit-identical rows (what streaming relies on, §5.6) */
    if (cc->t_out > 2) {
      gint64 t0 = cc->t_out / 3, t1 = cc->t_out - 1;
      gint64 in0 = t0 * cc->s, in_rows = (t1 - 1) * cc->s + cc->k - in0;
      VvTensor xs, ys;
      vv_tensor_init_view (&xs, VV_DTYPE_F32, 2, (gint64[]) { in_rows, cc->c_in },
          (gfloat *) x->data + in0 * cc->c_in);
      g_autoptr (VvTensor) ysub = vv_tensor_new_2d (VV_DTYPE_F32, t1 - t0, cc->c_out);
      g_assert_true (vv_backend_conv1d (be, ysub, &xs, w, b, cc->s, cc->groups, &error));
      vv_tensor_init_view (&ys, VV_DTYPE_F32, 2, (gint64[]) { t1 - t0, cc->c_out },
          (gfloat *) first->data + t0 * cc->c_out);
      g_assert_cmpmem (ysub->data, vv_tensor_n_bytes (ysub), ys.data, vv_tensor_n_bytes (ysub));
    }
    vv_backend_free (be);
  }
}

static void
test_conv1d (void)
{
  static const ConvCase cases[] = {
    /* groups = 1: stems (C_in 1, k7), down-convs (k = 2s), heads, k = 1 linears */
    { 70, 1, 5, 7, 1, 1 },
    { 9, 1, 8, 7, 1, 1 },
    { 13, 3, 5, 4, 2, 1 },
    { 7, 17, 33, 8, 4, 1 },
    { 5, 9, 18, 10, 5, 1 },
    { 3, 16, 32, 16, 8, 1 },
    { 11, 6, 7, 6, 3, 1 },
    { 8, 5, 9, 14, 7, 1 },
    { 70, 64, 3, 7, 1, 1 },
    { 1, 64, 130, 7, 1, 1 },
    { 2, 33, 1, 7, 1, 1 },
    { 65, 12, 48, 1, 1, 1 },
    { 1, 48, 12, 1, 1, 1 },
    { 131, 40, 37, 1, 1, 1 },
    { 5, 7, 3, 1, 2, 1 },
    { 140, 8, 8, 2, 1, 1 },
    /* the AVX-512 kernels' edges: outer-product panels (K ≤ 512, C_out ≥ 16)
     * with ragged last panels and T past a unit; dot rows with K > 512, a
     * masked K tail and C_out % 4 ≠ 0 */
    { 200, 24, 70, 1, 1, 1 },
    { 30, 1, 32, 7, 1, 1 },
    { 13, 40, 17, 13, 1, 1 },
    { 5, 75, 37, 7, 1, 1 },
    { 40, 600, 21, 1, 1, 1 },
    { 1, 520, 18, 1, 1, 1 },
    /* depthwise (the Block1D mixer is k7 s1) */
    { 70, 5, 5, 7, 1, 5 },
    { 1, 64, 64, 7, 1, 64 },
    { 9, 19, 19, 7, 1, 19 },
    { 6, 8, 8, 4, 2, 8 },
    { 33, 130, 130, 7, 1, 130 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
      run_conv1d_case (&cases[i], dtypes[d], (i + d) % 4 != 3);
}

/* Every kernel family the CPU offers (VV_CPU_ISA; "avx512-v1": the
 * 8-lane kernels in the AVX-512 build, VV_CONV_KERNEL=v1), on a few shapes. */
static const gchar *const isas[] = { "scalar", "avx2", "avx512-v1", "avx512" };

static gboolean
set_isa (const gchar *isa)
{
  g_autofree gchar *name = g_strdup (isa);
  gchar *v1 = strstr (name, "-v1");
  if (v1 != NULL)
    *v1 = '\0';
  g_setenv ("VV_CPU_ISA", name, TRUE);
  if (v1 != NULL)
    g_setenv ("VV_CONV_KERNEL", "v1", TRUE);
  else
    g_unsetenv ("VV_CONV_KERNEL");
  g_autoptr (GError) error = NULL;
  VvBackend *probe = vv_backend_new_cpu (1, &error);
  if (probe == NULL) {
    g_test_message ("ISA %s not available here", isa);
    return FALSE;
  }
  vv_backend_free (probe);
  return TRUE;
}

static void
unset_isa (void)
{
  g_unsetenv ("VV_CPU_ISA");
  g_unsetenv ("VV_CONV_KERNEL");
}

static void
test_conv1d_isa (void)
{
  static const ConvCase cases[] = {
    { 13, 3, 5, 4, 2, 1 }, { 70, 64, 3, 7, 1, 1 }, { 9, 19, 19, 7, 1, 19 },
    { 200, 24, 70, 1, 1, 1 }, { 30, 1, 32, 7, 1, 1 }, { 5, 75, 37, 7, 1, 1 },
    { 40, 600, 21, 1, 1, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (isas); i++) {
    if (!set_isa (isas[i]))
      continue;
    for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
      run_conv1d_case (&cases[c], VV_DTYPE_BF16, TRUE);
      run_conv1d_case (&cases[c], VV_DTYPE_F32, c % 2 == 0);
    }
  }
  unset_isa ();
}

/* ---------------------------------------------------------------------- */
/* conv_transpose1d */

static void
run_convtr_case (gint64 T, gint64 c_in, gint64 c_out, gint s, gint64 k, VvDType dt,
    gboolean with_bias)
{
  gint64 rows = (T - 1) * s + k;
  g_autoptr (VvTensor) x = rand_tensor (VV_DTYPE_F32, 2, (gint64[]) { T, c_in }, 1.0);
  g_autoptr (VvTensor) w = rand_tensor (dt, 3, (gint64[]) { c_in, c_out, k },
      1.0 / sqrt ((gdouble) c_in));
  g_autoptr (VvTensor) b = with_bias ? rand_tensor (dt, 1, (gint64[]) { c_out }, 0.1) : NULL;
  g_autofree gdouble *ref = g_new (gdouble, rows * c_out);
  ref_conv_transpose1d (x, w, b, s, ref, rows);
  g_autofree gchar *what = g_strdup_printf ("conv_transpose1d T=%" G_GINT64_FORMAT
      " C_in=%" G_GINT64_FORMAT " C_out=%" G_GINT64_FORMAT " s=%d k=%" G_GINT64_FORMAT " %s",
      T, c_in, c_out, s, k, vv_dtype_name (dt));

  g_autoptr (VvTensor) first = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (thread_counts); i++) {
    VvBackend *be = cpu (thread_counts[i]);
    g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, rows, c_out);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_backend_conv_transpose1d (be, y, x, w, b, s, &error));
    g_assert_no_error (error);
    assert_close (y, ref, c_in * ((k + s - 1) / s), what);
    if (first == NULL)
      first = g_steal_pointer (&y);
    else
      g_assert_cmpmem (y->data, vv_tensor_n_bytes (y), first->data, vv_tensor_n_bytes (first));

    /* locality: input steps [a, T) give bit-identical rows wherever all
     * contributing steps are present, i.e. from row (a + P)·s, P = ceil(k/s) − 1 */
    gint64 P = (k + s - 1) / s - 1, a = T / 2;
    if (a >= 1 && a + P < T) {
      VvTensor xs;
      vv_tensor_init_view (&xs, VV_DTYPE_F32, 2, (gint64[]) { T - a, c_in },
          (gfloat *) x->data + a * c_in);
      g_autoptr (VvTensor) ysub = vv_tensor_new_2d (VV_DTYPE_F32, (T - a - 1) * s + k, c_out);
      g_assert_true (vv_backend_conv_transpose1d (be, ysub, &xs, w, b, s, &error));
      gint64 r0 = P * s, n = ysub->shape[0] - r0;
      g_assert_cmpmem ((gfloat *) ysub->data + r0 * c_out, n * c_out * sizeof (gfloat),
          (gfloat *) first->data + (a * s + r0) * c_out, n * c_out * sizeof (gfloat));
    }
    vv_backend_free (be);
  }
}

static void
test_conv_transpose1d (void)
{
  static const struct { gint64 T, c_in, c_out; gint s; gint64 k; } cases[] = {
    { 1, 16, 8, 8, 16 }, { 2, 16, 8, 8, 16 }, { 5, 9, 4, 5, 10 }, { 7, 70, 33, 4, 8 },
    { 13, 3, 5, 2, 4 }, { 4, 64, 32, 2, 4 }, { 6, 5, 3, 3, 7 }, { 9, 4, 6, 2, 2 },
    { 3, 130, 65, 5, 10 }, { 70, 8, 4, 2, 5 },
    /* AVX-512: weights read in place below 16 rows (the locality check's
     * half call) and converted panels from 16 on; ragged last panels */
    { 20, 37, 11, 3, 6 }, { 3, 100, 40, 8, 16 }, { 17, 33, 70, 2, 4 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
      run_convtr_case (cases[i].T, cases[i].c_in, cases[i].c_out, cases[i].s, cases[i].k,
          dtypes[d], (i + d) % 3 != 2);
}

static void
test_conv_transpose1d_isa (void)
{
  static const struct { gint64 T, c_in, c_out; gint s; gint64 k; } cases[] = {
    { 20, 37, 11, 3, 6 }, { 3, 100, 40, 8, 16 }, { 17, 33, 70, 2, 4 }, { 5, 9, 4, 5, 10 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (isas); i++) {
    if (!set_isa (isas[i]))
      continue;
    for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
      for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
        run_convtr_case (cases[c].T, cases[c].c_in, cases[c].c_out, cases[c].s, cases[c].k,
            dtypes[d], c % 2 == 0);
  }
  unset_isa ();
}

static void
test_conv_errors (void)
{
  VvBackend *be = cpu (1);
  g_autoptr (VvTensor) x = vv_tensor_new_2d (VV_DTYPE_F32, 10, 4);
  g_autoptr (VvTensor) w = vv_tensor_new (VV_DTYPE_BF16, 3, (gint64[]) { 6, 4, 3 });
  g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, 8, 6);
  g_autoptr (VvTensor) ybad = vv_tensor_new_2d (VV_DTYPE_F32, 7, 6);
  g_autoptr (VvTensor) bbad = vv_tensor_new (VV_DTYPE_F32, 1, (gint64[]) { 5 });
  g_autoptr (VvTensor) w2 = vv_tensor_new_2d (VV_DTYPE_F32, 6, 4);
  g_autoptr (VvTensor) xbf = vv_tensor_new_2d (VV_DTYPE_BF16, 10, 4);
  GError *error = NULL;

  g_assert_true (vv_backend_conv1d (be, y, x, w, NULL, 1, 1, &error));
  g_assert_no_error (error);
#define EXPECT_FAIL(call, code) G_STMT_START {                            \
    g_assert_false (call);                                                \
    g_assert_error (error, VV_BACKEND_ERROR, code);                       \
    g_test_message ("%s", error->message);                                \
    g_clear_error (&error);                                               \
  } G_STMT_END
  EXPECT_FAIL (vv_backend_conv1d (be, ybad, x, w, NULL, 1, 1, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv1d (be, y, x, w, bbad, 1, 1, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv1d (be, y, x, w2, NULL, 1, 1, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv1d (be, y, x, w, NULL, 0, 1, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv1d (be, y, x, w, NULL, 1, 2, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv1d (be, y, xbf, w, NULL, 1, 1, &error), VV_BACKEND_ERROR_DTYPE);
  EXPECT_FAIL (vv_backend_conv1d (be, y, x, NULL, NULL, 1, 1, &error), VV_BACKEND_ERROR_SHAPE);
  /* aliasing */
  VvTensor xa;
  vv_tensor_init_view (&xa, VV_DTYPE_F32, 2, (gint64[]) { 8, 6 }, x->data);
  g_autoptr (VvTensor) xin = vv_tensor_new_2d (VV_DTYPE_F32, 10, 6);
  g_autoptr (VvTensor) wdw = vv_tensor_new (VV_DTYPE_F32, 3, (gint64[]) { 6, 1, 3 });
  EXPECT_FAIL (vv_backend_conv1d (be, &xa, xin, w, NULL, 1, 1, &error), VV_BACKEND_ERROR_SHAPE);
  g_assert_true (vv_backend_conv1d (be, y, xin, wdw, NULL, 1, 6, &error));
  /* too short an input */
  g_autoptr (VvTensor) xs = vv_tensor_new_2d (VV_DTYPE_F32, 2, 4);
  g_autoptr (VvTensor) ys = vv_tensor_new_2d (VV_DTYPE_F32, 0, 6);
  EXPECT_FAIL (vv_backend_conv1d (be, ys, xs, w, NULL, 1, 1, &error), VV_BACKEND_ERROR_SHAPE);

  /* transposed: w [C_in, C_out, k] */
  g_autoptr (VvTensor) wt = vv_tensor_new (VV_DTYPE_F16, 3, (gint64[]) { 4, 3, 4 });
  g_autoptr (VvTensor) yt = vv_tensor_new_2d (VV_DTYPE_F32, 9 * 2 + 4, 3);
  g_assert_true (vv_backend_conv_transpose1d (be, yt, x, wt, NULL, 2, &error));
  g_assert_no_error (error);
  EXPECT_FAIL (vv_backend_conv_transpose1d (be, y, x, wt, NULL, 2, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv_transpose1d (be, yt, x, wt, NULL, 5, &error), VV_BACKEND_ERROR_SHAPE);
  EXPECT_FAIL (vv_backend_conv_transpose1d (be, yt, x, w, NULL, 2, &error), VV_BACKEND_ERROR_SHAPE);
#undef EXPECT_FAIL
  vv_backend_free (be);
}

/* ---------------------------------------------------------------------- */
/* Tokenizers on the tiny model */

static VvModel *
tiny_model (void)
{
  g_autoptr (GError) error = NULL;
  VvModel *m = vv_model_load (tiny_dir, VV_MODEL_LOAD_DEFAULT, &error);
  g_assert_no_error (error);
  return m;
}

static gfloat *
rand_floats (gsize n, gdouble scale)
{
  gfloat *p = g_new (gfloat, n);
  for (gsize i = 0; i < n; i++)
    p[i] = (gfloat) (scale * g_rand_double_range (rng, -1.0, 1.0));
  return p;
}

/* Decodes @latents in chunks of the given sizes (cycled) into @audio. */
static void
decode_chunked (VvSpeechDecoder *dec, const gfloat *latents, gsize n_frames,
    const gsize *chunks, guint n_chunks, gfloat *audio)
{
  gint hop = vv_speech_decoder_get_hop (dec);
  gsize f = 0;
  for (guint i = 0; f < n_frames; i = (i + 1) % n_chunks) {
    gsize n = MIN (chunks[i], n_frames - f);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_speech_decoder_decode_host (dec, latents + f * 64, n, audio + f * hop, &error));
    g_assert_no_error (error);
    f += n;
  }
}

static void
test_decoder_streaming (void)
{
  g_autoptr (VvModel) m = tiny_model ();
  VvBackend *be = cpu (2);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSpeechDecoder) dec = vv_speech_decoder_new (m, be, &error);
  g_assert_no_error (error);
  gint hop = vv_speech_decoder_get_hop (dec);
  g_assert_cmpint (hop, ==, 3200);

  const gsize F = 13;
  g_autofree gfloat *lat = rand_floats (F * 64, 1.0);
  g_autofree gfloat *whole = g_new (gfloat, F * hop);
  g_autofree gfloat *chunked = g_new (gfloat, F * hop);
  const gsize all[] = { F };
  decode_chunked (dec, lat, F, all, 1, whole);
  gdouble energy = 0;
  for (gsize i = 0; i < F * hop; i++) {
    g_assert_true (isfinite (whole[i]));
    energy += whole[i] * whole[i];
  }
  g_assert_cmpfloat (energy, >, 0.0);

  static const gsize c1[] = { 1 }, c3[] = { 3 }, c7[] = { 7 }, cmix[] = { 2, 5, 1, 4 };
  struct { const gsize *c; guint n; } plans[] = { { c1, 1 }, { c3, 1 }, { c7, 1 }, { cmix, 4 } };
  for (guint p = 0; p < G_N_ELEMENTS (plans); p++) {
    vv_speech_decoder_reset (dec);
    memset (chunked, 0, F * hop * sizeof (gfloat));
    decode_chunked (dec, lat, F, plans[p].c, plans[p].n, chunked);
    g_assert_cmpmem (chunked, F * hop * sizeof (gfloat), whole, F * hop * sizeof (gfloat));
  }

  /* reset in the middle of a stream == a fresh decoder */
  vv_speech_decoder_reset (dec);
  decode_chunked (dec, lat + 5 * 64, 4, c1, 1, chunked);
  vv_speech_decoder_reset (dec);
  decode_chunked (dec, lat, F, c3, 1, chunked);
  g_assert_cmpmem (chunked, F * hop * sizeof (gfloat), whole, F * hop * sizeof (gfloat));

  /* thread counts do not change a bit */
  for (guint t = 0; t < G_N_ELEMENTS (thread_counts); t++) {
    VvBackend *be2 = cpu (thread_counts[t]);
    g_autoptr (VvSpeechDecoder) d2 = vv_speech_decoder_new (m, be2, &error);
    g_assert_no_error (error);
    decode_chunked (d2, lat, F, cmix, 4, chunked);
    g_assert_cmpmem (chunked, F * hop * sizeof (gfloat), whole, F * hop * sizeof (gfloat));
    g_clear_pointer (&d2, vv_speech_decoder_free);
    vv_backend_free (be2);
  }

  /* bad input */
  GError *err = NULL;
  g_assert_false (vv_speech_decoder_decode_host (dec, lat, 0, chunked, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_false (vv_speech_decoder_decode_host (dec, NULL, 1, chunked, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_false (vv_speech_decoder_decode_host (dec, lat, 1, NULL, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);

  g_clear_pointer (&dec, vv_speech_decoder_free);
  vv_backend_free (be);
}

static void
encode_stream_chunked (VvSpeechEncoder *enc, const gfloat *audio, gsize n_samples,
    gsize chunk, gfloat *means)
{
  gint hop = vv_speech_encoder_get_hop (enc), dim = vv_speech_encoder_get_dim (enc);
  for (gsize s = 0; s < n_samples; s += chunk) {
    gsize n = MIN (chunk, n_samples - s);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_speech_encoder_encode_stream_host (enc, audio + s, n, means + s / hop * dim,
            &error));
    g_assert_no_error (error);
  }
}

static void
run_encoder_test (VvSpeechTokenizerKind kind, gint expect_dim)
{
  g_autoptr (VvModel) m = tiny_model ();
  VvBackend *be = cpu (2);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSpeechEncoder) enc = vv_speech_encoder_new (m, be, kind, &error);
  g_assert_no_error (error);
  gint hop = vv_speech_encoder_get_hop (enc), dim = vv_speech_encoder_get_dim (enc);
  g_assert_cmpint (hop, ==, 3200);
  g_assert_cmpint (dim, ==, expect_dim);

  const gsize F = 6, n = F * hop;
  g_autofree gfloat *audio = rand_floats (n + hop, 0.5);
  g_autofree gfloat *whole = g_new (gfloat, (F + 1) * dim);
  g_autofree gfloat *other = g_new (gfloat, (F + 1) * dim);
  const gsize bytes = F * dim * sizeof (gfloat);

  encode_stream_chunked (enc, audio, n, n, whole);
  for (gsize i = 0; i < F * dim; i++)
    g_assert_true (isfinite (whole[i]));
  static const gsize chunks[] = { 1, 2, 4 };
  for (guint c = 0; c < G_N_ELEMENTS (chunks); c++) {
    vv_speech_encoder_reset (enc);
    encode_stream_chunked (enc, audio, n, chunks[c] * hop, other);
    g_assert_cmpmem (other, bytes, whole, bytes);
  }

  /* non-streaming on a multiple of the hop == streaming from fresh; it
   * must not touch the streaming state either */
  vv_speech_encoder_reset (enc);
  encode_stream_chunked (enc, audio, 2 * hop, hop, other);
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, n, other, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (other, bytes, whole, bytes);
  encode_stream_chunked (enc, audio + 2 * hop, n - 2 * hop, hop, other + 2 * dim);
  g_assert_cmpmem (other + 2 * dim, bytes - 2 * dim * sizeof (gfloat), whole + 2 * dim,
      bytes - 2 * dim * sizeof (gfloat));

  /* a partial last frame: ceil(n/hop) frames; the full frames are causal
   * and equal the streaming ones, only the last one sees the padding */
  const gsize odd = 3 * hop + 1234;
  g_autofree gfloat *part = g_new (gfloat, 4 * dim);
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, odd, part, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (part, 3 * dim * sizeof (gfloat), whole, 3 * dim * sizeof (gfloat));
  gboolean last_differs = FALSE;
  for (gint i = 0; i < dim; i++) {
    g_assert_true (isfinite (part[3 * dim + i]));
    last_differs |= part[3 * dim + i] != whole[3 * dim + i];
  }
  g_assert_true (last_differs);
  /* very short inputs */
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, 1, part, &error));
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, hop - 1, part, &error));
  g_assert_no_error (error);

  /* thread counts */
  for (guint t = 0; t < G_N_ELEMENTS (thread_counts); t++) {
    VvBackend *be2 = cpu (thread_counts[t]);
    g_autoptr (VvSpeechEncoder) e2 = vv_speech_encoder_new (m, be2, kind, &error);
    g_assert_no_error (error);
    encode_stream_chunked (e2, audio, n, 2 * hop, other);
    g_assert_cmpmem (other, bytes, whole, bytes);
    g_clear_pointer (&e2, vv_speech_encoder_free);
    vv_backend_free (be2);
  }

  /* bad input */
  GError *err = NULL;
  g_assert_false (vv_speech_encoder_encode_stream_host (enc, audio, hop + 1, other, &err));
  g_assert_error (err, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&err);
  g_assert_false (vv_speech_encoder_encode_stream_host (enc, audio, 0, other, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_false (vv_speech_encoder_encode_host (enc, audio, 0, other, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_false (vv_speech_encoder_encode_host (enc, NULL, hop, other, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_false (vv_speech_encoder_encode_stream_host (enc, audio, hop, NULL, &err));
  g_assert_nonnull (err);
  g_clear_error (&err);

  g_clear_pointer (&enc, vv_speech_encoder_free);
  vv_backend_free (be);
}

static void
test_acoustic_encoder (void)
{
  run_encoder_test (VV_SPEECH_TOKENIZER_ACOUSTIC, 64);
}

static void
test_semantic_encoder (void)
{
  run_encoder_test (VV_SPEECH_TOKENIZER_SEMANTIC, 128);
}

/* ---------------------------------------------------------------------- */

/* vv_speech_encoder_encode() runs in chunks of whole hops so its memory is
 * bounded (issue 14); the chunking must not change a bit, partial last
 * frame included (whole-call results are what conformance checks). */
static void
test_encode_chunked (void)
{
  g_autoptr (VvModel) m = tiny_model ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = cpu (2);
  g_autoptr (VvSpeechEncoder) enc = vv_speech_encoder_new (m, be,
      VV_SPEECH_TOKENIZER_ACOUSTIC, &error);
  g_assert_no_error (error);
  const gint hop = vv_speech_encoder_get_hop (enc), dim = vv_speech_encoder_get_dim (enc);
  const gsize n = 9 * (gsize) hop + 1234, frames = 10;
  g_autofree gfloat *audio = rand_floats (n, 0.5);
  g_autofree gfloat *whole = g_new (gfloat, frames * dim);
  g_autofree gfloat *part = g_new (gfloat, frames * dim);
  vv_speech_encoder_set_encode_chunk (enc, 0);
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, n, whole, &error));
  g_assert_no_error (error);
  static const gsize chunks[] = { 1, 2, 4, 9, 10, VV_SPEECH_ENCODE_CHUNK_FRAMES };
  for (guint c = 0; c < G_N_ELEMENTS (chunks); c++) {
    vv_speech_encoder_set_encode_chunk (enc, chunks[c]);
    memset (part, 0, frames * dim * sizeof (gfloat));
    g_assert_true (vv_speech_encoder_encode_host (enc, audio, n, part, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (part, frames * dim * sizeof (gfloat), whole, frames * dim * sizeof (gfloat));
  }
  /* a whole number of hops: the last chunk ends on a frame boundary */
  vv_speech_encoder_set_encode_chunk (enc, 0);
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, 8 * (gsize) hop, whole, &error));
  vv_speech_encoder_set_encode_chunk (enc, 3);
  g_assert_true (vv_speech_encoder_encode_host (enc, audio, 8 * (gsize) hop, part, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (part, 8 * dim * sizeof (gfloat), whole, 8 * dim * sizeof (gfloat));
}

/* ---------------------------------------------------------------------- */
/* Device API (issue 9): the per-frame data path of the session — decode
 * latents to audio, semantic encode_stream of that audio, both connectors —
 * on tensors in backend memory. On "sim" (memory host code cannot touch)
 * it must give the bytes "cpu" gives and move nothing between host and
 * device during the calls. */

typedef struct {
  gfloat *audio, *sem, *sem_frame, *ac_emb, *sem_emb, *means;
  guint64 up, down;             /* sim traffic during the device calls */
} DeviceRun;

static void
device_run_clear (DeviceRun *r)
{
  g_free (r->audio);
  g_free (r->sem);
  g_free (r->sem_frame);
  g_free (r->ac_emb);
  g_free (r->sem_emb);
  g_free (r->means);
}

static VvTensor *
dev_tensor (VvBackend *be, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, (gint64[]) { rows, cols }, &error);
  g_assert_no_error (error);
  return t;
}

static gfloat *
download (VvBackend *be, const VvTensor *t)
{
  g_autoptr (GError) error = NULL;
  gfloat *p = g_new (gfloat, vv_tensor_n_elements (t));
  g_assert_true (vv_backend_tensor_get (be, t, 0, p, vv_tensor_n_bytes (t), &error));
  g_assert_no_error (error);
  return p;
}

static void
run_device_path (VvModel *m, const gchar *backend, const gfloat *lat, gsize F,
    const gfloat *clip, gsize clip_len, DeviceRun *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = vv_backend_new_by_name (backend, 2, &error);
  g_assert_no_error (error);
  g_autoptr (VvSpeechDecoder) dec = vv_speech_decoder_new (m, be, &error);
  g_assert_no_error (error);
  g_autoptr (VvSpeechEncoder) sem = vv_speech_encoder_new (m, be, VV_SPEECH_TOKENIZER_SEMANTIC,
      &error);
  g_assert_no_error (error);
  g_autoptr (VvSpeechEncoder) ac = vv_speech_encoder_new (m, be, VV_SPEECH_TOKENIZER_ACOUSTIC,
      &error);
  g_assert_no_error (error);
  vv_speech_encoder_set_encode_chunk (ac, 2);
  g_autoptr (VvConnector) ac_conn = vv_connector_new (m, be, VV_SPEECH_TOKENIZER_ACOUSTIC,
      &error);
  g_assert_no_error (error);
  g_autoptr (VvConnector) sem_conn = vv_connector_new (m, be, VV_SPEECH_TOKENIZER_SEMANTIC,
      &error);
  g_assert_no_error (error);
  const gint hop = vv_speech_decoder_get_hop (dec), sd = vv_speech_encoder_get_dim (sem);
  const gint H = vv_connector_get_output_dim (ac_conn);
  const gsize n_means = (clip_len + hop - 1) / hop;

  g_autoptr (VvTensor) d_lat = dev_tensor (be, F, 64);
  g_autoptr (VvTensor) d_clip = dev_tensor (be, clip_len, 1);
  g_autoptr (VvTensor) d_audio = dev_tensor (be, F, hop);
  g_autoptr (VvTensor) d_sem = dev_tensor (be, F, sd);
  g_autoptr (VvTensor) d_sem_frame = dev_tensor (be, F, sd);
  g_autoptr (VvTensor) d_ac_emb = dev_tensor (be, F, H);
  g_autoptr (VvTensor) d_sem_emb = dev_tensor (be, F, H);
  g_autoptr (VvTensor) d_means = dev_tensor (be, n_means, 64);
  g_assert_true (vv_backend_tensor_set (be, d_lat, 0, lat, F * 64 * sizeof (gfloat), &error));
  g_assert_true (vv_backend_tensor_set (be, d_clip, 0, clip, clip_len * sizeof (gfloat), &error));
  g_assert_no_error (error);

  VvDeviceStats before, after;
  vv_device_get_stats (vv_backend_get_device (be), &before);
  /* decode streamed in uneven chunks; each frame's audio goes through the
   * semantic encoder and both connectors as the session does it */
  static const gsize chunks[] = { 1, 2, 1, 3 };
  VvTensor l, a, a1, s1, e1, z1;
  gsize f = 0;
  for (guint i = 0; f < F; i = (i + 1) % G_N_ELEMENTS (chunks)) {
    gsize n = MIN (chunks[i], F - f);
    vv_tensor_init_rows (&l, d_lat, (gint64) f, (gint64) n);
    vv_tensor_init_rows (&a, d_audio, (gint64) f, (gint64) n);
    g_assert_true (vv_speech_decoder_decode (dec, &l, &a, &error));
    g_assert_no_error (error);
    for (gsize j = f; j < f + n; j++) {
      vv_tensor_init_rows (&a1, d_audio, (gint64) j, 1);
      vv_tensor_init_rows (&s1, d_sem_frame, (gint64) j, 1);
      vv_tensor_init_rows (&z1, d_lat, (gint64) j, 1);
      vv_tensor_init_rows (&e1, d_ac_emb, (gint64) j, 1);
      g_assert_true (vv_speech_encoder_encode_stream (sem, &a1, &s1, &error));
      g_assert_true (vv_connector_forward (ac_conn, &z1, &e1, &error));
      vv_tensor_init_rows (&e1, d_sem_emb, (gint64) j, 1);
      g_assert_true (vv_connector_forward (sem_conn, &s1, &e1, &error));
      g_assert_no_error (error);
    }
    f += n;
  }
  /* the whole audio again in one streaming call, and a non-streaming
   * encode of a clip with a partial last frame, in chunks of 2 frames */
  vv_speech_encoder_reset (sem);
  g_assert_true (vv_speech_encoder_encode_stream (sem, d_audio, d_sem, &error));
  g_assert_true (vv_speech_encoder_encode (ac, d_clip, d_means, &error));
  g_assert_no_error (error);
  vv_device_get_stats (vv_backend_get_device (be), &after);
  r->up = after.bytes_up - before.bytes_up;
  r->down = after.bytes_down - before.bytes_down;
  g_assert_cmpuint (after.n_launches, >, before.n_launches);

  r->audio = download (be, d_audio);
  r->sem = download (be, d_sem);
  r->sem_frame = download (be, d_sem_frame);
  r->ac_emb = download (be, d_ac_emb);
  r->sem_emb = download (be, d_sem_emb);
  r->means = download (be, d_means);

  /* operands in the wrong memory are refused with an error, not touched */
  if (!vv_backend_is_host (be)) {
    g_autoptr (VvTensor) host_lat = vv_tensor_new_2d (VV_DTYPE_F32, 1, 64);
    vv_tensor_init_rows (&a, d_audio, 0, 1);
    GError *err = NULL;
    g_assert_false (vv_speech_decoder_decode (dec, host_lat, &a, &err));
    g_assert_error (err, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE);
    g_test_message ("%s", err->message);
    g_clear_error (&err);
  }
  /* shapes */
  GError *err = NULL;
  vv_tensor_init_rows (&l, d_lat, 0, 2);
  vv_tensor_init_rows (&a, d_audio, 0, 1);
  g_assert_false (vv_speech_decoder_decode (dec, &l, &a, &err));
  g_assert_error (err, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&err);
  g_assert_false (vv_connector_forward (ac_conn, &a, &e1, &err));
  g_assert_error (err, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&err);
}

static void
test_device_api (void)
{
  g_autoptr (VvModel) m = tiny_model ();
  const gsize F = 7, clip_len = 4 * 3200 + 777;
  g_autofree gfloat *lat = rand_floats (F * 64, 1.0);
  g_autofree gfloat *clip = rand_floats (clip_len, 0.5);
  DeviceRun cpu_run = { 0 }, sim_run = { 0 };
  run_device_path (m, "cpu", lat, F, clip, clip_len, &cpu_run);
  run_device_path (m, "sim", lat, F, clip, clip_len, &sim_run);

  /* sim: no host<->device traffic inside the device-API calls */
  g_assert_cmpuint (sim_run.up, ==, 0);
  g_assert_cmpuint (sim_run.down, ==, 0);
  const gint hop = 3200, sd = 128, H = vv_model_get_config (m)->lm.hidden_size;
  const gsize n_means = (clip_len + hop - 1) / hop;
  g_assert_cmpmem (sim_run.audio, F * hop * 4, cpu_run.audio, F * hop * 4);
  g_assert_cmpmem (sim_run.sem, F * sd * 4, cpu_run.sem, F * sd * 4);
  g_assert_cmpmem (sim_run.sem_frame, F * sd * 4, cpu_run.sem_frame, F * sd * 4);
  g_assert_cmpmem (sim_run.ac_emb, F * H * 4, cpu_run.ac_emb, F * H * 4);
  g_assert_cmpmem (sim_run.sem_emb, F * H * 4, cpu_run.sem_emb, F * H * 4);
  g_assert_cmpmem (sim_run.means, n_means * 64 * 4, cpu_run.means, n_means * 64 * 4);
  /* frame-by-frame semantic encoding == one call over the audio */
  g_assert_cmpmem (cpu_run.sem_frame, F * sd * 4, cpu_run.sem, F * sd * 4);

  /* the host API on cpu gives the same bytes (it is what the elements and
   * the session's bit-exact tests build on) */
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = cpu (1);
  g_autoptr (VvSpeechDecoder) dec = vv_speech_decoder_new (m, be, &error);
  g_autoptr (VvSpeechEncoder) ac = vv_speech_encoder_new (m, be, VV_SPEECH_TOKENIZER_ACOUSTIC,
      &error);
  g_autoptr (VvConnector) conn = vv_connector_new (m, be, VV_SPEECH_TOKENIZER_SEMANTIC, &error);
  g_assert_no_error (error);
  g_autofree gfloat *audio = g_new (gfloat, F * hop);
  g_autofree gfloat *means = g_new (gfloat, n_means * 64);
  g_autofree gfloat *emb = g_new (gfloat, F * H);
  g_assert_true (vv_speech_decoder_decode_host (dec, lat, F, audio, &error));
  g_assert_true (vv_speech_encoder_encode_host (ac, clip, clip_len, means, &error));
  g_assert_true (vv_connector_forward_host (conn, cpu_run.sem, F, emb, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (audio, F * hop * 4, cpu_run.audio, F * hop * 4);
  g_assert_cmpmem (means, n_means * 64 * 4, cpu_run.means, n_means * 64 * 4);
  g_assert_cmpmem (emb, F * H * 4, cpu_run.sem_emb, F * H * 4);

  device_run_clear (&cpu_run);
  device_run_clear (&sim_run);
}

/* The _host API on sim stages through device memory; it must equal cpu. */
static void
test_host_api_sim (void)
{
  g_autoptr (VvModel) m = tiny_model ();
  g_autoptr (GError) error = NULL;
  const gsize F = 5, hop = 3200;
  g_autofree gfloat *lat = rand_floats (F * 64, 1.0);
  gfloat *out[2] = { NULL, NULL }, *feat[2] = { NULL, NULL };   /* freed below */
  const gchar *names[2] = { "cpu", "sim" };
  for (guint b = 0; b < 2; b++) {
    g_autoptr (VvBackend) be = vv_backend_new_by_name (names[b], 2, &error);
    g_assert_no_error (error);
    g_autoptr (VvSpeechDecoder) dec = vv_speech_decoder_new (m, be, &error);
    g_autoptr (VvSpeechEncoder) sem = vv_speech_encoder_new (m, be,
        VV_SPEECH_TOKENIZER_SEMANTIC, &error);
    g_assert_no_error (error);
    out[b] = g_new (gfloat, F * hop);
    feat[b] = g_new (gfloat, F * 128);
    decode_chunked (dec, lat, F, (const gsize[]) { 2, 1 }, 2, out[b]);
    encode_stream_chunked (sem, out[b], F * hop, hop, feat[b]);
  }
  g_assert_cmpmem (out[1], F * hop * 4, out[0], F * hop * 4);
  g_assert_cmpmem (feat[1], F * 128 * 4, feat[0], F * 128 * 4);
  for (guint b = 0; b < 2; b++) {
    g_free (out[b]);
    g_free (feat[b]);
  }
}

/* vv_voice_prompt_embed() writes the voice rows straight into device
 * prompt embeddings at the given rows; it must equal the host version row
 * for row, leave the other rows alone, and be the same on cpu and sim. */
static void
test_voice_prompt_device (void)
{
  g_autoptr (VvModel) m = tiny_model ();
  g_autoptr (GError) error = NULL;
  const gsize len[2] = { 2 * 3200 + 100, 3 * 3200 };
  g_autofree gfloat *c0 = rand_floats (len[0], 0.3);
  g_autofree gfloat *c1 = rand_floats (len[1], 0.3);
  const gfloat *clips[2] = { c0, c1 };
  /* (g_autofree on an array frees only its first element) */
  gfloat *dev_emb[2] = { NULL, NULL };
  gfloat *dev_feat[2] = { NULL, NULL };
  const gchar *names[2] = { "cpu", "sim" };
  gsize total = 0;
  gint H = 0;
  for (guint b = 0; b < 2; b++) {
    g_autoptr (VvBackend) be = vv_backend_new_by_name (names[b], 2, &error);
    g_assert_no_error (error);
    g_autoptr (VvVoicePrompt) vp = vv_voice_prompt_new (m, be, &error);
    g_assert_no_error (error);
    H = vv_voice_prompt_get_hidden_size (vp);
    gfloat *means[2] = { NULL, NULL };
    gsize frames[2];
    for (guint i = 0; i < 2; i++) {
      g_assert_true (vv_voice_prompt_encode_means (vp, clips[i], len[i], len[1], &frames[i],
              &means[i], &error));
      g_assert_no_error (error);
    }
    total = frames[0] + frames[1];
    VvTorchGenerator gen;
    vv_torch_generator_init (&gen, 42);
    gsize n = 0;
    g_autofree gfloat *emb = NULL, *feat = NULL;
    g_assert_true (vv_voice_prompt_embed_host (vp, (const gfloat *const *) means, frames, 2,
            &gen, &n, &emb, &feat, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n, ==, total);

    /* the frames into rows 2·i + 1 of an [2·total + 1, H] prompt */
    const gint64 L = 2 * (gint64) total + 1;
    g_autofree gint32 *rows = g_new (gint32, total);
    for (gsize i = 0; i < total; i++)
      rows[i] = (gint32) (2 * i + 1);
    g_autoptr (VvTensor) d_emb = dev_tensor (be, L, H);
    g_autoptr (VvTensor) d_feat = dev_tensor (be, total, 64);
    g_assert_true (vv_backend_tensor_zero (be, d_emb, &error));
    vv_torch_generator_init (&gen, 42);
    g_assert_true (vv_voice_prompt_embed (vp, (const gfloat *const *) means, frames, 2, &gen,
            rows, d_emb, d_feat, &error));
    g_assert_no_error (error);
    dev_emb[b] = download (be, d_emb);
    dev_feat[b] = download (be, d_feat);
    g_assert_cmpmem (dev_feat[b], total * 64 * 4, feat, total * 64 * 4);
    for (gint64 r = 0; r < L; r++) {
      if (r % 2 == 1) {
        g_assert_cmpmem (dev_emb[b] + r * H, H * 4, emb + (r / 2) * H, H * 4);
      } else {
        for (gint k = 0; k < H; k++)
          g_assert_cmpfloat (dev_emb[b][r * H + k], ==, 0.0f);
      }
    }
    /* a row outside the embeddings is refused, naming the frame */
    rows[total - 1] = (gint32) L;
    GError *err = NULL;
    g_assert_false (vv_voice_prompt_embed (vp, (const gfloat *const *) means, frames, 2, NULL,
            rows, d_emb, NULL, &err));
    g_assert_error (err, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
    g_test_message ("%s", err->message);
    g_clear_error (&err);
    g_free (means[0]);
    g_free (means[1]);
  }
  const gsize L = 2 * total + 1;
  g_assert_cmpmem (dev_emb[1], L * H * 4, dev_emb[0], L * H * 4);
  g_assert_cmpmem (dev_feat[1], total * 64 * 4, dev_feat[0], total * 64 * 4);
  for (guint b = 0; b < 2; b++) {
    g_free (dev_emb[b]);
    g_free (dev_feat[b]);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (1234);
  g_test_add_func ("/speech-tokenizer/conv1d", test_conv1d);
  g_test_add_func ("/speech-tokenizer/conv1d-isa", test_conv1d_isa);
  g_test_add_func ("/speech-tokenizer/conv-transpose1d", test_conv_transpose1d);
  g_test_add_func ("/speech-tokenizer/conv-transpose1d-isa", test_conv_transpose1d_isa);
  g_test_add_func ("/speech-tokenizer/conv-errors", test_conv_errors);

  const gchar *tool = g_getenv ("VV_TOOL");
  if (tool != NULL) {
    tmp_root = g_dir_make_tmp ("vv-speech-tok-XXXXXX", NULL);
    g_assert_nonnull (tmp_root);
    tiny_dir = g_build_filename (tmp_root, "tiny", NULL);
    g_autofree gchar *cmd = g_strdup_printf ("%s make-model --preset tiny --seed 5 "
        "--shard-size 0 %s", tool, tiny_dir);
    g_autofree gchar *out = NULL, *err = NULL;
    gint status = 0;
    if (!g_spawn_command_line_sync (cmd, &out, &err, &status, NULL)
        || !g_spawn_check_wait_status (status, NULL))
      g_error ("'%s' failed:\n%s%s", cmd, out ? out : "", err ? err : "");
    g_test_add_func ("/speech-tokenizer/decoder-streaming", test_decoder_streaming);
    g_test_add_func ("/speech-tokenizer/acoustic-encoder", test_acoustic_encoder);
    g_test_add_func ("/speech-tokenizer/semantic-encoder", test_semantic_encoder);
    g_test_add_func ("/speech-tokenizer/encode-chunked", test_encode_chunked);
    g_test_add_func ("/speech-tokenizer/device-api", test_device_api);
    g_test_add_func ("/speech-tokenizer/host-api-sim", test_host_api_sim);
    g_test_add_func ("/speech-tokenizer/voice-prompt-device", test_voice_prompt_device);
  } else {
    g_printerr ("VV_TOOL is not set: model tests skipped (run through meson test)\n");
  }
  int ret = g_test_run ();
  if (tmp_root != NULL)
    vv_test_rm_rf (tmp_root);
  g_free (tmp_root);
  g_free (tiny_dir);
  g_rand_free (rng);
  return ret;
}
