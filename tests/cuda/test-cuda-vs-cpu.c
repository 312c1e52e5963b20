/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Every op of the CUDA backend against the CPU backend on the same random
 * operands, at odd sizes and the shapes the model uses (1.5B rows, a
 * σ-VAE frame), with bf16 weights: the largest difference of each kernel,
 * relative to the output's magnitude, must stay within what F32 rounding in
 * another order gives (VV_CUDA_VS_CPU_TOL, default 2e-5). Prints one line
 * per op — the table docs/CUDA.md and the issue notes quote. Runs on
 * "cuda-emu" (VV_TEST_BACKEND; "cuda" on a GPU).
 */
#include <vibevoice/vibevoice.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static GRand *rng;
static VvBackend *cpu, *dev;
static gdouble tol = 2e-5;

static VvTensor *
rnd (VvDType dt, gint ndim, const gint64 *shape, gdouble lo, gdouble hi)
{
  VvTensor *t = vv_tensor_new (dt, ndim, shape);
  for (gint64 i = 0; i < vv_tensor_n_elements (t); i++)
    vv_tensor_set_f32 (t, i, (gfloat) g_rand_double_range (rng, lo, hi));
  return t;
}

static VvTensor *
r2 (VvDType dt, gint64 a, gint64 b)
{
  return rnd (dt, 2, (gint64[]) { a, b }, -1, 1);
}

static VvTensor *
on (VvBackend *be, const VvTensor *h)
{
  if (h == NULL || vv_backend_is_host (be))
    return (VvTensor *) h;
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_backend_tensor_new_from_host (be, h, &error);
  g_assert_no_error (error);
  return t;
}

static void
off (VvBackend *be, VvTensor *t, const VvTensor *h)
{
  if (t != h)
    vv_tensor_free (t);
}

typedef gboolean (*OpFunc) (VvBackend *be, VvTensor *y, VvTensor **in, gpointer data,
    GError **error);

/* Runs @op on both backends with the host inputs @in (NULL-terminated up to
 * 6) into a y of @y_shape (which no op reads), prints and checks the max relative difference. */
static void
compare (const gchar *what, OpFunc op, VvTensor **in, gint n_in, gint y_ndim,
    const gint64 *y_shape, gpointer data)
{
  g_autoptr (VvTensor) ref = vv_tensor_new (VV_DTYPE_F32, y_ndim, y_shape);
  g_autoptr (VvTensor) got = vv_tensor_new (VV_DTYPE_F32, y_ndim, y_shape);
  VvBackend *bes[2] = { cpu, dev };
  VvTensor *outs[2] = { ref, got };
  for (gint b = 0; b < 2; b++) {
    g_autoptr (GError) error = NULL;
    VvTensor *din[6] = { NULL };
    for (gint i = 0; i < n_in; i++)
      din[i] = on (bes[b], in[i]);
    VvTensor *y = vv_backend_tensor_new (bes[b], VV_DTYPE_F32, y_ndim, y_shape, &error);
    g_assert_no_error (error);
    g_assert_true (op (bes[b], y, din, data, &error));
    g_assert_no_error (error);
    if (y != outs[b]) {
      g_assert_true (vv_backend_tensor_download (bes[b], outs[b], y, &error));
      g_assert_no_error (error);
    }
    for (gint i = 0; i < n_in; i++)
      off (bes[b], din[i], in[i]);
    if (y != outs[b])
      vv_tensor_free (y);
  }
  const gfloat *a = ref->data, *g = got->data;
  gdouble max_abs = 0, scale = 0;
  for (gint64 i = 0; i < vv_tensor_n_elements (ref); i++) {
    max_abs = MAX (max_abs, fabs ((gdouble) a[i] - g[i]));
    scale = MAX (scale, fabs ((gdouble) a[i]));
  }
  gdouble rel = max_abs / MAX (scale, 1e-30);
  g_print ("# %-44s max|cuda - cpu| = %.3g (max|cpu| %.3g, relative %.3g)\n", what, max_abs,
      scale, rel);
  if (!(rel <= tol))
    g_error ("%s on %s: relative difference %.3g above %.3g", what, vv_backend_get_name (dev),
        rel, tol);
}

/* ---------------------------------------------------------------------- */

static gboolean
op_linear (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_linear (be, y, in[0], in[1], in[2], e);
}

static gboolean
op_rms (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_rms_norm (be, y, in[0], in[1], 1e-6f, e);
}

static gboolean
op_unary (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_unary (be, GPOINTER_TO_INT (d), y, in[0], e);
}

static gboolean
op_binary (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_binary (be, GPOINTER_TO_INT (d), y, in[0], in[1], e);
}

static gboolean
op_scale (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_scale (be, y, in[0], 0.37f, e);
}

static gboolean
op_affine (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_affine (be, GPOINTER_TO_INT (d), y, in[0], 0.19f, -0.7f, e);
}

static gboolean
op_get_rows (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_get_rows (be, y, in[0], in[1], e);
}

typedef struct {
  gint stride, groups;
} ConvArgs;

static gboolean
op_conv (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  const ConvArgs *a = d;
  return vv_backend_conv1d (be, y, in[0], in[1], in[2], a->stride, a->groups, e);
}

static gboolean
op_convt (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  const ConvArgs *a = d;
  return vv_backend_conv_transpose1d (be, y, in[0], in[1], in[2], a->stride, e);
}

static gboolean
op_rope (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_rope (be, y, in[0], 128, in[1], 1e6, e);
}

static gboolean
op_attention (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_attention (be, y, in[0], in[1], in[2], 128, e);
}

static gboolean
op_temb (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_timestep_embedding (be, y, 837.0f, 10000.0, e);
}

static gboolean
op_modulate (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_modulate (be, y, in[0], in[1], 64, 128, e);
}

static gboolean
op_gated (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_gated_add (be, y, in[0], in[1], 64, in[2], e);
}

static gboolean
op_cfg (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  return vv_backend_cfg_combine (be, y, in[0], in[1], 1.3f, e);
}

static gboolean
op_dpm (VvBackend *be, VvTensor *y, VvTensor **in, gpointer d, GError **e)
{
  VvDpmStep st = { GPOINTER_TO_INT (d), 0.8f, 0.6f, 0.97f, 0.11f, 0.055f, 1.7f };
  /* prev_d is read and written: a private copy per backend */
  g_autoptr (GError) local = NULL;
  VvTensor *pd = vv_backend_tensor_new (be, VV_DTYPE_F32, in[2]->ndim, in[2]->shape, &local);
  gboolean ok = pd && vv_backend_tensor_copy (be, pd, in[2], e)
      && vv_backend_dpm_step (be, y, in[0], in[1], pd, &st, e);
  vv_backend_tensor_free (be, pd);
  return ok;
}

static void
test_ops (void)
{
  /* linear: decode rows (GEMV), prefill rows (cuBLAS path), odd sizes */
  static const gint64 lin[][3] = { { 1, 1536, 1536 }, { 2, 1536, 8960 }, { 8, 8960, 1536 },
    { 3, 17, 5 }, { 9, 100, 65 }, { 146, 1536, 256 }, { 33, 7, 3 } };
  for (guint i = 0; i < G_N_ELEMENTS (lin); i++)
    for (gint bias = 0; bias < 2; bias++) {
      VvTensor *in[3] = { r2 (VV_DTYPE_F32, lin[i][0], lin[i][1]),
        r2 (VV_DTYPE_BF16, lin[i][2], lin[i][1]),
        bias ? rnd (VV_DTYPE_BF16, 1, (gint64[]) { lin[i][2] }, -1, 1) : NULL };
      g_autofree gchar *w = g_strdup_printf ("linear bf16 %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
          " -> %" G_GINT64_FORMAT "%s", lin[i][0], lin[i][1], lin[i][2], bias ? " +bias" : "");
      compare (w, op_linear, in, 3, 2, (gint64[]) { lin[i][0], lin[i][2] }, NULL);
      for (gint k = 0; k < 3; k++)
        vv_tensor_free (in[k]);
    }
  {
    VvTensor *in[3] = { r2 (VV_DTYPE_F32, 20, 300), r2 (VV_DTYPE_F16, 70, 300), NULL };
    compare ("linear f16 20x300 -> 70", op_linear, in, 3, 2, (gint64[]) { 20, 70 }, NULL);
    VvTensor *in2[3] = { in[0], r2 (VV_DTYPE_F32, 70, 300), NULL };
    compare ("linear f32 20x300 -> 70", op_linear, in2, 3, 2, (gint64[]) { 20, 70 }, NULL);
    vv_tensor_free (in[0]);
    vv_tensor_free (in[1]);
    vv_tensor_free (in2[1]);
  }
  /* rms_norm: LM rows and narrow σ-VAE rows */
  static const gint64 rms[][2] = { { 2, 1536 }, { 3200, 32 }, { 5, 7 } };
  for (guint i = 0; i < G_N_ELEMENTS (rms); i++) {
    VvTensor *in[2] = { r2 (VV_DTYPE_F32, rms[i][0], rms[i][1]),
      rnd (VV_DTYPE_BF16, 1, (gint64[]) { rms[i][1] }, -1, 1) };
    g_autofree gchar *w = g_strdup_printf ("rms_norm %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
        rms[i][0], rms[i][1]);
    compare (w, op_rms, in, 2, 2, rms[i], NULL);
    vv_tensor_free (in[0]);
    vv_tensor_free (in[1]);
  }
  {
    VvTensor *x = rnd (VV_DTYPE_F32, 2, (gint64[]) { 37, 101 }, -6, 6);
    VvTensor *row = r2 (VV_DTYPE_F32, 1, 101);
    VvTensor *full = r2 (VV_DTYPE_F32, 37, 101);
    compare ("unary silu 37x101", op_unary, &x, 1, 2, x->shape, GINT_TO_POINTER (VV_UNARY_SILU));
    compare ("unary gelu 37x101", op_unary, &x, 1, 2, x->shape, GINT_TO_POINTER (VV_UNARY_GELU));
    VvTensor *ab[2] = { x, full }, *ar[2] = { x, row };
    compare ("binary add 37x101", op_binary, ab, 2, 2, x->shape, GINT_TO_POINTER (VV_BINARY_ADD));
    compare ("binary mul, one row broadcast", op_binary, ar, 2, 2, x->shape,
        GINT_TO_POINTER (VV_BINARY_MUL));
    compare ("scale 37x101", op_scale, &x, 1, 2, x->shape, NULL);
    compare ("affine div-sub", op_affine, &x, 1, 2, x->shape, GINT_TO_POINTER (VV_AFFINE_DIV_SUB));
    compare ("affine add-mul", op_affine, &x, 1, 2, x->shape, GINT_TO_POINTER (VV_AFFINE_ADD_MUL));
    vv_tensor_free (x);
    vv_tensor_free (row);
    vv_tensor_free (full);
  }
  {
    gint32 ids[5] = { 3, 0, 999, 3, 511 };
    VvTensor idt;
    vv_tensor_init_view (&idt, VV_DTYPE_I32, 1, (gint64[]) { 5 }, ids);
    VvTensor *in[2] = { r2 (VV_DTYPE_BF16, 1000, 96), &idt };
    compare ("get_rows bf16 5 of 1000x96", op_get_rows, in, 2, 2, (gint64[]) { 5, 96 }, NULL);
    vv_tensor_free (in[0]);
  }
  /* convolutions: dense (σ-VAE stem and strided downsampling), depthwise
   * (ConvNeXt mixer), transposed (upsampling) */
  static const struct { gint64 t, cin, cout; gint k, stride, groups; } conv[] = {
    { 3206, 1, 32, 7, 1, 1 }, { 3203, 32, 64, 4, 2, 1 }, { 106, 64, 64, 7, 1, 64 },
    { 17, 5, 3, 3, 1, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (conv); i++) {
    gint64 cin_g = conv[i].cin / conv[i].groups;
    VvTensor *in[3] = { r2 (VV_DTYPE_F32, conv[i].t, conv[i].cin),
      rnd (VV_DTYPE_BF16, 3, (gint64[]) { conv[i].cout, cin_g, conv[i].k }, -0.5, 0.5),
      rnd (VV_DTYPE_BF16, 1, (gint64[]) { conv[i].cout }, -1, 1) };
    ConvArgs a = { conv[i].stride, conv[i].groups };
    gint64 t_out = (conv[i].t - conv[i].k) / conv[i].stride + 1;
    g_autofree gchar *w = g_strdup_printf ("conv1d %s T%" G_GINT64_FORMAT " %" G_GINT64_FORMAT
        "->%" G_GINT64_FORMAT " k%d s%d", conv[i].groups > 1 ? "depthwise" : "dense",
        conv[i].t, conv[i].cin, conv[i].cout, conv[i].k, conv[i].stride);
    compare (w, op_conv, in, 3, 2, (gint64[]) { t_out, conv[i].cout }, &a);
    for (gint k = 0; k < 3; k++)
      vv_tensor_free (in[k]);
  }
  static const struct { gint64 t, cin, cout; gint k, stride; } convt[] = {
    { 100, 64, 32, 4, 2 }, { 7, 16, 8, 16, 8 }, { 5, 3, 2, 3, 2 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (convt); i++) {
    VvTensor *in[3] = { r2 (VV_DTYPE_F32, convt[i].t, convt[i].cin),
      rnd (VV_DTYPE_BF16, 3, (gint64[]) { convt[i].cin, convt[i].cout, convt[i].k }, -0.5, 0.5),
      rnd (VV_DTYPE_BF16, 1, (gint64[]) { convt[i].cout }, -1, 1) };
    ConvArgs a = { convt[i].stride, 1 };
    gint64 t_out = (convt[i].t - 1) * convt[i].stride + convt[i].k;
    g_autofree gchar *w = g_strdup_printf ("conv_transpose1d T%" G_GINT64_FORMAT " %"
        G_GINT64_FORMAT "->%" G_GINT64_FORMAT " k%d s%d", convt[i].t, convt[i].cin,
        convt[i].cout, convt[i].k, convt[i].stride);
    compare (w, op_convt, in, 3, 2, (gint64[]) { t_out, convt[i].cout }, &a);
    for (gint k = 0; k < 3; k++)
      vv_tensor_free (in[k]);
  }
  /* RoPE and attention at the 1.5B head layout, incl. a long context */
  {
    gint32 pos[3] = { 5, 1234, 60000 };
    VvTensor pt;
    vv_tensor_init_view (&pt, VV_DTYPE_I32, 1, (gint64[]) { 3 }, pos);
    VvTensor *in[2] = { r2 (VV_DTYPE_F32, 3, 12 * 128), &pt };
    compare ("rope 3 rows x 12 heads x 128", op_rope, in, 2, 2, in[0]->shape, NULL);
    vv_tensor_free (in[0]);
  }
  static const gint64 att[][2] = { { 1, 146 }, { 2, 4000 }, { 146, 146 } };
  for (guint i = 0; i < G_N_ELEMENTS (att); i++) {
    VvTensor *in[3] = { r2 (VV_DTYPE_F32, att[i][0], 12 * 128),
      r2 (VV_DTYPE_F32, att[i][1], 2 * 128), r2 (VV_DTYPE_F32, att[i][1], 2 * 128) };
    g_autofree gchar *w = g_strdup_printf ("attention %" G_GINT64_FORMAT " rows, %"
        G_GINT64_FORMAT " keys, 12/2 heads", att[i][0], att[i][1]);
    compare (w, op_attention, in, 3, 2, in[0]->shape, NULL);
    for (gint k = 0; k < 3; k++)
      vv_tensor_free (in[k]);
  }
  /* diffusion head and sampler */
  compare ("timestep_embedding 2x256", op_temb, NULL, 0, 2, (gint64[]) { 2, 256 }, NULL);
  {
    VvTensor *x = r2 (VV_DTYPE_F32, 2, 64), *ada = r2 (VV_DTYPE_F32, 2, 192);
    VvTensor *o = r2 (VV_DTYPE_F32, 2, 64), *v = r2 (VV_DTYPE_F32, 2, 64);
    VvTensor *in[2] = { x, ada }, *g3[3] = { x, ada, o }, *cu[2] = { x, o };
    VvTensor *dp[3] = { x, v, o };
    compare ("modulate 2x64", op_modulate, in, 2, 2, x->shape, NULL);
    compare ("gated_add 2x64", op_gated, g3, 3, 2, x->shape, NULL);
    compare ("cfg_combine 2x64", op_cfg, cu, 2, 2, x->shape, NULL);
    compare ("dpm_step order 1", op_dpm, dp, 3, 2, x->shape, GINT_TO_POINTER (1));
    compare ("dpm_step order 2", op_dpm, dp, 3, 2, x->shape, GINT_TO_POINTER (2));
    vv_tensor_free (x);
    vv_tensor_free (ada);
    vv_tensor_free (o);
    vv_tensor_free (v);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (20261202);
  const gchar *name = g_getenv ("VV_TEST_BACKEND");
  const gchar *t = g_getenv ("VV_CUDA_VS_CPU_TOL");
  if (t != NULL)
    tol = g_ascii_strtod (t, NULL);
  g_autoptr (GError) error = NULL;
  cpu = vv_backend_new_cpu (1, &error);
  g_assert_no_error (error);
  dev = vv_backend_new_by_name (name && *name ? name : "cuda-emu", 1, &error);
  if (dev == NULL) {
    g_print ("1..0 # SKIP %s\n", error->message);
    return 0;
  }
  g_test_add_func ("/cuda-vs-cpu/ops", test_ops);
  gint ret = g_test_run ();
  vv_backend_free (dev);
  vv_backend_free (cpu);
  g_rand_free (rng);
  return ret;
}
