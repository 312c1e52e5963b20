/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Every backend op against plain reference implementations written here
 * (double accumulation), on every backend vv_backend_list_names() knows,
 * each created with 1, 2 and 3 threads; the CPU backend additionally with
 * each kernel family forced through VV_CPU_ISA (scalar, avx2, avx512 where
 * this CPU has them). Outputs of one family must be bit-identical across
 * thread counts (a project requirement), and all must match the reference.
 */
#include <vibevoice/vibevoice.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  gchar *label;                 /* "cpu/avx2/3t" */
  gchar *family;                /* "cpu/avx2": outputs must be bit-identical */
  VvBackend *be;
  /* VV_CPU_GEMM=bf16 / bf16x2: large-n linear() with BF16 weights splits x
   * into this many BF16 parts (0: sgemm or bf16x3, F32 precision) */
  gint bf16_parts;
} Variant;

static GPtrArray *variants;     /* of Variant*, grouped by family */
static GRand *rng;
/* VV_TEST_SMALL=1 (e.g. under valgrind): only small shapes */
static gboolean small_only;

static inline gboolean
too_big (gint64 elements)
{
  return small_only && elements > 4096;
}

static const gint thread_counts[] = { 1, 2, 3 };

static void
variant_free (gpointer p)
{
  Variant *v = p;
  vv_backend_free (v->be);
  g_free (v->label);
  g_free (v->family);
  g_free (v);
}

static void
add_variants_gemm (const gchar *name, const gchar *isa, const gchar *gemm)
{
  /* GPU backends compute the same whatever the host thread count: one
   * variant (the emulated one is slow enough as it is) */
  guint n_counts = g_str_has_prefix (name, "cuda") ? 1 : G_N_ELEMENTS (thread_counts);
  for (guint t = 0; t < n_counts; t++) {
    g_autoptr (GError) error = NULL;
    if (isa != NULL)
      /* Not g_setenv(): that warns once threads exist. The pools' threads
       * of the backends made so far are blocked and never read the
       * environment, so this is safe here. */
      setenv ("VV_CPU_ISA", isa, 1);
    if (gemm != NULL)
      setenv ("VV_CPU_GEMM", gemm, 1);
    VvBackend *be = vv_backend_new_by_name (name, thread_counts[t], &error);
    if (isa != NULL)
      unsetenv ("VV_CPU_ISA");
    if (gemm != NULL)
      unsetenv ("VV_CPU_GEMM");
    if (be == NULL) {
      /* e.g. a CUDA build on a machine without a GPU, or no AVX-512 */
      g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
      g_printerr ("# skipping backend %s%s%s%s%s: %s\n", name, isa ? "/" : "", isa ? isa : "",
          gemm ? "+" : "", gemm ? gemm : "", error->message);
      return;
    }
    Variant *v = g_new0 (Variant, 1);
    v->family = isa ? g_strdup_printf ("%s/%s%s%s", name, isa, gemm ? "+" : "",
        gemm ? gemm : "") : g_strdup (name);
    v->bf16_parts = gemm == NULL ? 0 : strcmp (gemm, "bf16") == 0 ? 1
        : strcmp (gemm, "bf16x2") == 0 ? 2 : 0;
    v->label = g_strdup_printf ("%s/%dt", v->family, thread_counts[t]);
    v->be = be;
    g_assert_cmpstr (vv_backend_get_name (be), ==, name);
    g_assert_cmpint (vv_backend_get_n_threads (be), ==, thread_counts[t]);
    g_ptr_array_add (variants, v);
  }
}

static void
add_variants (const gchar *name, const gchar *isa)
{
  add_variants_gemm (name, isa, NULL);
}

/* The emulated CUDA backend in forward, reverse and shuffled thread
 * order: one family, so every op must give the same bits in each (a
 * result that depends on the order is a race in the kernel). */
static void
add_cuda_emu_variants (void)
{
  static const gchar *const orders[] = { "forward", "reverse", "shuffle:12345" };
  for (guint i = 0; i < G_N_ELEMENTS (orders); i++) {
    g_autoptr (GError) error = NULL;
    setenv ("VV_CUDA_EMU_ORDER", orders[i], 1);
    VvBackend *be = vv_backend_new_by_name ("cuda-emu", 1, &error);
    unsetenv ("VV_CUDA_EMU_ORDER");
    g_assert_no_error (error);
    Variant *v = g_new0 (Variant, 1);
    v->family = g_strdup ("cuda-emu");
    v->label = g_strdup_printf ("cuda-emu/%s", orders[i]);
    v->be = be;
    g_ptr_array_add (variants, v);
  }
}

static void
setup_variants (void)
{
  variants = g_ptr_array_new_with_free_func (variant_free);
  g_auto (GStrv) names = vv_backend_list_names ();
  g_assert_cmpstr (names[0], ==, "cpu");
  for (gint i = 0; names[i] != NULL; i++) {
    if (strcmp (names[i], "cpu") == 0) {
      add_variants ("cpu", "scalar");
      add_variants ("cpu", "avx2");
      /* the avx512 family with sgemm for large n: at F32 tolerance (its
       * default on AVX512_BF16 CPUs, bf16x2, is the +bf16x2 family) */
      add_variants_gemm ("cpu", "avx512", "sgemm");
      /* large-n BF16 linear() on the AVX512_BF16 GEMM, where the CPU has
       * it: 3 parts (F32 tolerance), 2 (looser), 1 (x rounded to BF16) */
      add_variants_gemm ("cpu", "avx512", "bf16x3");
      add_variants_gemm ("cpu", "avx512", "bf16");
      add_variants_gemm ("cpu", "avx512", "bf16x2");
    } else if (strcmp (names[i], "cuda-emu") == 0) {
      add_cuda_emu_variants ();
    } else if (strcmp (names[i], "sim") == 0) {
      /* its kernels are the CPU backend's: sgemm for large n, as above */
      add_variants_gemm ("sim", NULL, "sgemm");
    } else {
      add_variants (names[i], NULL);
    }
  }
  g_assert_cmpuint (variants->len, >=, 3);
}

/* ---------------------------------------------------------------------- */
/* Host data and transfers */

static VvTensor *
random_tensor (VvDType dtype, gint ndim, const gint64 *shape, gdouble lo, gdouble hi)
{
  VvTensor *t = vv_tensor_new (dtype, ndim, shape);
  g_assert_nonnull (t);
  gint64 n = vv_tensor_n_elements (t);
  for (gint64 i = 0; i < n; i++)
    vv_tensor_set_f32 (t, i, (gfloat) g_rand_double_range (rng, lo, hi));
  return t;
}

static VvTensor *
random_2d (VvDType dtype, gint64 rows, gint64 cols)
{
  gint64 shape[2] = { rows, cols };
  return random_tensor (dtype, 2, shape, -1.0, 1.0);
}

static VvTensor *
to_backend (VvBackend *be, const VvTensor *host)
{
  if (host == NULL)
    return NULL;
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_backend_tensor_new (be, host->dtype, host->ndim, host->shape, &error);
  g_assert_no_error (error);
  vv_backend_tensor_upload (be, t, host, &error);
  g_assert_no_error (error);
  return t;
}

/* I32 ids or positions in @be's memory. */
static VvTensor *
ids_on (VvBackend *be, const gint32 *ids, gint n)
{
  gint64 len = n;
  VvTensor host;
  vv_tensor_init_view (&host, VV_DTYPE_I32, 1, &len, (gpointer) ids);
  return to_backend (be, &host);
}

static VvTensor *
to_host (VvBackend *be, const VvTensor *dev)
{
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_tensor_new (dev->dtype, dev->ndim, dev->shape);
  g_assert_nonnull (t);
  vv_backend_synchronize (be, &error);
  g_assert_no_error (error);
  vv_backend_tensor_download (be, t, dev, &error);
  g_assert_no_error (error);
  return t;
}

static VvTensor *
empty_like (VvBackend *be, const VvTensor *host)
{
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_backend_tensor_new (be, VV_DTYPE_F32, host->ndim, host->shape, &error);
  g_assert_no_error (error);
  return t;
}

static gdouble *
to_doubles (const VvTensor *t)
{
  gint64 n = vv_tensor_n_elements (t);
  gdouble *d = g_new (gdouble, MAX (n, 1));
  for (gint64 i = 0; i < n; i++)
    d[i] = vv_tensor_get_f32 (t, i);
  return d;
}

/*
 * Checks @out against @ref within @tol (per element, or exact when @tol is
 * NULL), and against the previous output of the same family bit for bit.
 * Returns FALSE (after failing the test) on the first mismatch.
 */
typedef struct {
  const gchar *what;            /* case description */
  const Variant *prev;
  VvTensor *prev_out;
} Checker;

static gboolean
check_output (Checker *c, const Variant *v, VvTensor *out, const gdouble *ref,
    const gdouble *tol)
{
  gint64 n = vv_tensor_n_elements (out);
  const gfloat *y = out->data;
  for (gint64 i = 0; i < n; i++) {
    gboolean ok = tol ? fabs (y[i] - ref[i]) <= tol[i] : (gdouble) y[i] == ref[i];
    if (!ok || isnan (y[i])) {
      g_test_fail_printf ("%s on %s: element %" G_GINT64_FORMAT " is %.9g, reference %.9g "
          "(tolerance %.3g)", c->what, v->label, i, y[i], ref[i], tol ? tol[i] : 0.0);
      vv_tensor_free (out);
      return FALSE;
    }
  }
  if (c->prev != NULL && strcmp (c->prev->family, v->family) == 0
      && memcmp (c->prev_out->data, out->data, vv_tensor_n_bytes (out)) != 0) {
    g_test_fail_printf ("%s: %s and %s differ (results must not depend on the thread count)",
        c->what, c->prev->label, v->label);
    vv_tensor_free (out);
    return FALSE;
  }
  vv_tensor_free (c->prev_out);
  c->prev = v;
  c->prev_out = out;
  return TRUE;
}

static void
checker_clear (Checker *c)
{
  vv_tensor_free (c->prev_out);
  c->prev_out = NULL;
  c->prev = NULL;
}

/* ---------------------------------------------------------------------- */
/* linear */

static const VvDType weight_dtypes[] = { VV_DTYPE_F32, VV_DTYPE_F16, VV_DTYPE_BF16 };

/*
 * Reference in double. Tolerance per output element:
 *   |y - ref| <= 1e-6 · sqrt(in) · (Σ_k |w_k·x_k| + |b|)
 * i.e. about 16 units of F32 rounding (2^-24) times the random-walk growth
 * sqrt(in) of a float sum, relative to the magnitude of what is summed
 * (not to |ref|, which cancellation can make arbitrarily small). Dropping
 * or repeating one term (≈ Σ/in) exceeds it for in up to well beyond the
 * tested sizes; bf16/f16 weights are compared against their stored values,
 * so conversion errors are not tolerated.
 */
static void
linear_reference (const gdouble *xd, const gdouble *wd, const gdouble *bd, gint64 n,
    gint64 in, gint64 out, gdouble *ref, gdouble *tol)
{
  for (gint64 j = 0; j < n; j++) {
    for (gint64 o = 0; o < out; o++) {
      gdouble s = 0.0, a = 0.0;
      for (gint64 k = 0; k < in; k++) {
        gdouble p = xd[j * in + k] * wd[o * in + k];
        s += p;
        a += fabs (p);
      }
      if (bd) {
        s += bd[o];
        a += fabs (bd[o]);
      }
      ref[j * out + o] = s;
      tol[j * out + o] = 1e-6 * sqrt ((gdouble) MAX (in, 1)) * a;
    }
  }
}

static gboolean
run_linear_case (gint ndim, const gint64 *x_shape, gint64 out, VvDType wdt,
    gboolean with_bias)
{
  gint64 in = x_shape[ndim - 1];
  g_autoptr (VvTensor) x = random_tensor (VV_DTYPE_F32, ndim, x_shape, -1.0, 1.0);
  g_autoptr (VvTensor) w = random_2d (wdt, out, in);
  gint64 bshape[1] = { out };
  g_autoptr (VvTensor) bias = with_bias ? random_tensor (wdt, 1, bshape, -1.0, 1.0) : NULL;
  gint64 y_shape[VV_MAX_DIMS];
  memcpy (y_shape, x_shape, sizeof (gint64) * ndim);
  y_shape[ndim - 1] = out;
  g_autoptr (VvTensor) y_proto = vv_tensor_new (VV_DTYPE_F32, ndim, y_shape);
  gint64 n = vv_tensor_n_elements (x) / MAX (in, 1);
  if (in == 0)
    n = vv_tensor_n_elements (y_proto) / out;

  g_autofree gdouble *xd = to_doubles (x);
  g_autofree gdouble *wd = to_doubles (w);
  g_autofree gdouble *bd = bias ? to_doubles (bias) : NULL;
  g_autofree gdouble *ref = g_new (gdouble, n * out);
  g_autofree gdouble *tol = g_new (gdouble, n * out);
  linear_reference (xd, wd, bd, n, in, out, ref, tol);
  /* the AVX512_BF16 GEMM (BF16 weights, n > 8) with 1 part: x rounded to
   * BF16 first, then the same F32 tolerance (the products are exact); with
   * 2 parts: x's residual after 2 roundings (unit roundoff 2^-8 each) is
   * at most 2^-16 |x|, so 2^-16 Σ|w·x| more than F32's tolerance */
  g_autofree gdouble *ref16 = NULL, *tol16 = NULL, *tol2 = NULL;
  if (wdt == VV_DTYPE_BF16 && n > 8) {
    g_autofree gdouble *xr = g_new (gdouble, n * in);
    for (gint64 i = 0; i < n * in; i++)
      xr[i] = vv_bf16_to_f32 (vv_f32_to_bf16 ((gfloat) xd[i]));
    ref16 = g_new (gdouble, n * out);
    tol16 = g_new (gdouble, n * out);
    linear_reference (xr, wd, bd, n, in, out, ref16, tol16);
    tol2 = g_new (gdouble, n * out);
    for (gint64 i = 0; i < n * out; i++)
      tol2[i] = tol[i] * (1.0 + ldexp (1.0, -16) / (1e-6 * sqrt ((gdouble) MAX (in, 1))));
  }

  g_autofree gchar *xs = vv_tensor_shape_string (x);
  g_autofree gchar *what = g_strdup_printf ("linear x %s w [%" G_GINT64_FORMAT ", %"
      G_GINT64_FORMAT "] %s%s", xs, out, in, vv_dtype_name (wdt), with_bias ? " +bias" : "");
  Checker c = { what, NULL, NULL };
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    g_autoptr (GError) error = NULL;
    VvTensor *dx = to_backend (v->be, x), *dw = to_backend (v->be, w);
    VvTensor *db = to_backend (v->be, bias), *dy = empty_like (v->be, y_proto);
    gboolean r = vv_backend_linear (v->be, dy, dx, dw, db, &error);
    g_assert_no_error (error);
    g_assert_true (r);
    const gdouble *rv = ref, *tv = tol;
    if (ref16 != NULL && v->bf16_parts == 1) {
      rv = ref16;
      tv = tol16;
    } else if (ref16 != NULL && v->bf16_parts == 2) {
      tv = tol2;
    }
    ok = check_output (&c, v, to_host (v->be, dy), rv, tv);
    vv_backend_tensor_free (v->be, dx);
    vv_backend_tensor_free (v->be, dw);
    vv_backend_tensor_free (v->be, db);
    vv_backend_tensor_free (v->be, dy);
  }
  checker_clear (&c);
  return ok;
}

/* n covers the small-n kernel (<= 8) and the sgemm path (9, 33, 128); the
 * dimensions are not multiples of any SIMD width except 1536. */
static void
test_linear (void)
{
  static const gint64 ns[] = { 1, 2, 3, 8, 9, 33, 128 };
  static const gint64 ins[] = { 1, 7, 17, 100, 1536 };
  static const gint64 outs[] = { 1, 3, 65, 257 };
  guint n_cases = 0;

  for (guint d = 0; d < G_N_ELEMENTS (weight_dtypes); d++)
    for (guint a = 0; a < G_N_ELEMENTS (ns); a++)
      for (guint b = 0; b < G_N_ELEMENTS (ins); b++)
        for (guint o = 0; o < G_N_ELEMENTS (outs); o++)
          for (gint bias = 0; bias < 2; bias++) {
            gint64 xs[2] = { ns[a], ins[b] };
            if (too_big (ns[a] * ins[b]) || too_big (outs[o] * ins[b]) || (small_only && ns[a] > 33))
              continue;
            n_cases++;
            if (!run_linear_case (2, xs, outs[o], weight_dtypes[d], bias))
              return;
          }
  g_test_message ("%u cases x %u backend variants", n_cases, variants->len);
}

/* Shapes beyond the table: big enough to be split over threads in every
 * path, 3-D activations, an empty inner dimension. */
static void
test_linear_more (void)
{
  static const struct {
    gint ndim;
    gint64 x[3];
    gint64 out;
  } cases[] = {
    { 2, { 2, 1536 }, 1000 },   /* small-n, many row chunks, row remainder */
    { 2, { 1, 8960 }, 67 },     /* long rows: several rows per x load */
    { 2, { 2, 4097 }, 9 },
    { 2, { 3, 5000 }, 70 },
    { 2, { 8, 4500 }, 13 },
    { 2, { 4, 4096 }, 11 },     /* longest "short" row */
    { 2, { 5, 333 }, 517 },     /* n 5..8 kernels */
    { 2, { 7, 129 }, 300 },
    { 2, { 64, 1536 }, 600 },   /* several sgemm panels */
    { 2, { 146, 4001 }, 70 },   /* BF16 GEMM: several k chunks, odd in */
    { 2, { 300, 65 }, 13 },     /* BF16 GEMM: token slices of 256 */
    { 3, { 2, 3, 40 }, 30 },    /* 6 rows */
    { 3, { 3, 5, 40 }, 30 },    /* 15 rows */
    { 2, { 4, 0 }, 5 },         /* empty dot products: y = bias */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (guint d = 0; d < G_N_ELEMENTS (weight_dtypes); d++)
      for (gint bias = 0; bias < 2; bias++)
        if (!(too_big (cases[i].x[cases[i].ndim - 1] * cases[i].out)) && !run_linear_case (cases[i].ndim, cases[i].x, cases[i].out, weight_dtypes[d], bias))
          return;
}

/* Odd sizes for the SIMD kernels' edges: rows (n) 1, 2, 3 (small-n), 17,
 * 146 (GEMM: token tiles of 16 with remainders); in not a multiple of 16
 * or 32 (masked tails, odd k pairs); out not a multiple of the row
 * blocks (4, 6). */
static void
test_linear_odd (void)
{
  static const gint64 ns[] = { 1, 2, 3, 17, 146 };
  static const gint64 ins[] = { 15, 33, 1000, 1537 };
  static const gint64 outs[] = { 5, 67 };
  for (guint d = 0; d < G_N_ELEMENTS (weight_dtypes); d++)
    for (guint a = 0; a < G_N_ELEMENTS (ns); a++)
      for (guint b = 0; b < G_N_ELEMENTS (ins); b++)
        for (guint o = 0; o < G_N_ELEMENTS (outs); o++) {
          gint64 xs[2] = { ns[a], ins[b] };
          if (too_big (ns[a] * ins[b]) || too_big (outs[o] * ins[b]))
            continue;
          if (!run_linear_case (2, xs, outs[o], weight_dtypes[d], (a + b + o) & 1))
            return;
        }
}

/* The CPU backend's small-n kernels compute each input row the same way
 * whatever the batch size (up to 8 rows): row j of x[m, in] gives the same
 * bits for every m > j. (A CPU property, not asked of other backends.) */
static void
test_linear_batch_invariance (void)
{
  static const gint64 ins[] = { 17, 1536, 5000 };
  for (guint i = 0; i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    if (strcmp (vv_backend_get_name (v->be), "cpu") != 0)
      continue;
    for (guint b = 0; b < G_N_ELEMENTS (ins); b++) {
      if (too_big (ins[b] * 37))
        continue;
      for (guint d = 0; d < G_N_ELEMENTS (weight_dtypes); d++) {
        g_autoptr (VvTensor) x = random_2d (VV_DTYPE_F32, 8, ins[b]);
        g_autoptr (VvTensor) w = random_2d (weight_dtypes[d], 37, ins[b]);
        g_autoptr (VvTensor) y8 = vv_tensor_new_2d (VV_DTYPE_F32, 8, 37);
        g_autoptr (GError) error = NULL;
        g_assert_true (vv_backend_linear (v->be, y8, x, w, NULL, &error));
        for (gint m = 1; m < 8; m++) {
          VvTensor xm;
          gint64 shape[2] = { m, ins[b] };
          vv_tensor_init_view (&xm, VV_DTYPE_F32, 2, shape, x->data);
          g_autoptr (VvTensor) ym = vv_tensor_new_2d (VV_DTYPE_F32, m, 37);
          g_assert_true (vv_backend_linear (v->be, ym, &xm, w, NULL, &error));
          g_assert_no_error (error);
          if (memcmp (ym->data, y8->data, vv_tensor_n_bytes (ym)) != 0) {
            g_test_fail_printf ("%s: linear in %" G_GINT64_FORMAT " %s: rows of a batch of %d "
                "differ from the same rows in a batch of 8", v->label, ins[b],
                vv_dtype_name (weight_dtypes[d]), m);
            return;
          }
        }
      }
    }
  }
}

/* int8 weights (codes + one F32 scale per row) on the host backends: the
 * small-n kernels and the sgemm path against the double product of the
 * dequantised weights, with linear's F32 tolerance; device backends refuse
 * them with VV_BACKEND_ERROR_UNAVAILABLE. */
static gboolean
run_linear_i8_case (gint64 n, gint64 in, gint64 out, VvDType bdt)
{
  g_autoptr (VvTensor) x = random_2d (VV_DTYPE_F32, n, in);
  g_autoptr (VvTensor) w = vv_tensor_new_i8 (out, in);
  g_assert_nonnull (w);
  for (gint64 o = 0; o < out; o++) {
    /* scales over three decades, as rows of a checkpoint differ */
    w->row_scales[o] = (gfloat) (pow (10.0, g_rand_double_range (rng, -4.0, -1.0)));
    for (gint64 k = 0; k < in; k++)
      ((gint8 *) w->data)[o * in + k] = (gint8) g_rand_int_range (rng, -127, 128);
  }
  gint64 bshape[1] = { out };
  g_autoptr (VvTensor) bias = bdt != VV_DTYPE_I32
      ? random_tensor (bdt, 1, bshape, -0.1, 0.1) : NULL;
  g_autoptr (VvTensor) y_proto = vv_tensor_new_2d (VV_DTYPE_F32, n, out);
  g_autofree gdouble *ref = g_new (gdouble, n * out);
  g_autofree gdouble *tol = g_new (gdouble, n * out);
  for (gint64 j = 0; j < n; j++)
    for (gint64 o = 0; o < out; o++) {
      gdouble s = 0.0, a = 0.0;
      for (gint64 k = 0; k < in; k++) {
        gdouble p = vv_tensor_get_f32 (x, j * in + k) * ((gint8 *) w->data)[o * in + k]
            * (gdouble) w->row_scales[o];
        s += p;
        a += fabs (p);
      }
      if (bias) {
        s += vv_tensor_get_f32 (bias, o);
        a += fabs (vv_tensor_get_f32 (bias, o));
      }
      ref[j * out + o] = s;
      tol[j * out + o] = 1e-6 * sqrt ((gdouble) MAX (in, 1)) * a;
    }
  g_autofree gchar *what = g_strdup_printf ("linear x [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
      "] w [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] I8%s%s", n, in, out, in,
      bias ? " +bias " : "", bias ? vv_dtype_name (bdt) : "");
  Checker c = { what, NULL, NULL };
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    g_autoptr (GError) error = NULL;
    if (!vv_device_is_host (vv_backend_get_device (v->be))) {
      VvTensor *dw = vv_backend_tensor_new (v->be, VV_DTYPE_I8, 2, w->shape, &error);
      g_assert_no_error (error);
      VvTensor *dx = to_backend (v->be, x), *dy = empty_like (v->be, y_proto);
      g_assert_false (vv_backend_linear (v->be, dy, dx, dw, NULL, &error));
      g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
      g_assert_nonnull (strstr (error->message, "int8"));
      vv_backend_tensor_free (v->be, dw);
      vv_backend_tensor_free (v->be, dx);
      vv_backend_tensor_free (v->be, dy);
      continue;
    }
    g_autoptr (VvTensor) y = vv_tensor_new (VV_DTYPE_F32, 2, y_proto->shape);
    gboolean r = vv_backend_linear (v->be, y, x, w, bias, &error);
    g_assert_no_error (error);
    g_assert_true (r);
    ok = check_output (&c, v, g_steal_pointer (&y), ref, tol);
  }
  checker_clear (&c);
  return ok;
}

static void
test_linear_i8 (void)
{
  static const gint64 ns[] = { 1, 2, 3, 8, 9, 33 };
  static const gint64 ins[] = { 1, 7, 17, 100, 1536 };
  static const gint64 outs[] = { 1, 3, 65, 257 };
  static const VvDType bias_dtypes[] = { VV_DTYPE_I32 /* none */, VV_DTYPE_F32, VV_DTYPE_BF16 };
  for (guint a = 0; a < G_N_ELEMENTS (ns); a++)
    for (guint b = 0; b < G_N_ELEMENTS (ins); b++)
      for (guint o = 0; o < G_N_ELEMENTS (outs); o++) {
        if (too_big (ns[a] * ins[b]) || too_big (outs[o] * ins[b]))
          continue;
        if (!run_linear_i8_case (ns[a], ins[b], outs[o],
                bias_dtypes[(a + b + o) % G_N_ELEMENTS (bias_dtypes)]))
          return;
      }
  /* odd sizes: n 17, 146; in not a multiple of 16 (the AVX-512 kernel's
   * masked tail) */
  static const gint64 odd_ns[] = { 1, 2, 3, 17, 146 };
  static const gint64 odd_ins[] = { 31, 1000, 4097 };
  for (guint a = 0; a < G_N_ELEMENTS (odd_ns); a++)
    for (guint b = 0; b < G_N_ELEMENTS (odd_ins); b++) {
      if (too_big (odd_ns[a] * odd_ins[b]) || too_big (67 * odd_ins[b]))
        continue;
      if (!run_linear_i8_case (odd_ns[a], odd_ins[b], 67,
              bias_dtypes[(a + b) % G_N_ELEMENTS (bias_dtypes)]))
        return;
    }
  /* long rows, many row chunks over the threads, sgemm panels */
  if (!too_big (8960 * 67) && (!run_linear_i8_case (2, 8960, 67, VV_DTYPE_F32)
          || !run_linear_i8_case (2, 1536, 1000, VV_DTYPE_I32)
          || !run_linear_i8_case (64, 1536, 600, VV_DTYPE_BF16)))
    return;

  /* the other ops refuse int8 weights by name */
  const Variant *v = g_ptr_array_index (variants, 0);
  g_autoptr (VvTensor) w = vv_tensor_new_i8 (4, 4);
  g_autoptr (VvTensor) x = random_2d (VV_DTYPE_F32, 2, 4);
  g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, 2, 4);
  g_autoptr (GError) error = NULL;
  g_assert_false (vv_backend_linear (v->be, y, x, x, w, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE);
  g_assert_nonnull (strstr (error->message, "I8"));
  g_clear_error (&error);
  /* I8 without row scales (not made by vv_tensor_new_i8) */
  g_autoptr (VvTensor) bare = vv_tensor_new_2d (VV_DTYPE_I8, 4, 4);
  g_assert_false (vv_backend_linear (v->be, y, x, bare, NULL, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE);
  g_assert_nonnull (strstr (error->message, "row scales"));
  g_clear_error (&error);
  /* an int8 KV cache's layout (a scale per row and head) is no weight */
  g_autoptr (VvTensor) grouped = vv_tensor_new_i8_groups (4, 4, 2);
  g_assert_false (vv_backend_linear (v->be, y, x, grouped, NULL, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE);
  g_assert_nonnull (strstr (error->message, "one per row"));
}

/* ---------------------------------------------------------------------- */
/* rms_norm */

/* Reference: double; y = x / sqrt(mean(x²) + eps) · w. The op takes a few
 * F32 roundings per element: |y - ref| <= 1e-6·|ref| + 1e-30. */
static gboolean
run_rms_case (gint64 rows, gint64 d, gint wdt, gboolean in_place)
{
  const gfloat eps = 1e-6f;
  gint64 shape[2] = { rows, d };
  g_autoptr (VvTensor) x = random_tensor (VV_DTYPE_F32, 2, shape, -2.0, 2.0);
  gint64 wshape[1] = { d };
  g_autoptr (VvTensor) w = wdt >= 0 ? random_tensor (wdt, 1, wshape, -1.5, 1.5) : NULL;
  g_autofree gdouble *xd = to_doubles (x);
  g_autofree gdouble *wd = w ? to_doubles (w) : NULL;
  g_autofree gdouble *ref = g_new (gdouble, rows * d);
  g_autofree gdouble *tol = g_new (gdouble, rows * d);
  for (gint64 r = 0; r < rows; r++) {
    gdouble ss = 0.0;
    for (gint64 k = 0; k < d; k++)
      ss += xd[r * d + k] * xd[r * d + k];
    gdouble inv = 1.0 / sqrt (ss / d + eps);
    for (gint64 k = 0; k < d; k++) {
      gdouble v = xd[r * d + k] * inv * (wd ? wd[k] : 1.0);
      ref[r * d + k] = v;
      tol[r * d + k] = 1e-6 * fabs (v) + 1e-30;
    }
  }
  g_autofree gchar *what = g_strdup_printf ("rms_norm x [%" G_GINT64_FORMAT ", %"
      G_GINT64_FORMAT "] w %s%s", rows, d, wdt >= 0 ? vv_dtype_name (wdt) : "none",
      in_place ? " in place" : "");
  Checker c = { what, NULL, NULL };
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    g_autoptr (GError) error = NULL;
    VvTensor *dx = to_backend (v->be, x), *dw = to_backend (v->be, w);
    VvTensor *dy = in_place ? dx : empty_like (v->be, x);
    g_assert_true (vv_backend_rms_norm (v->be, dy, dx, dw, eps, &error));
    g_assert_no_error (error);
    ok = check_output (&c, v, to_host (v->be, dy), ref, tol);
    if (!in_place)
      vv_backend_tensor_free (v->be, dy);
    vv_backend_tensor_free (v->be, dx);
    vv_backend_tensor_free (v->be, dw);
  }
  checker_clear (&c);
  return ok;
}

static void
test_rms_norm (void)
{
  static const gint64 rows[] = { 1, 2, 3, 64 };
  static const gint64 ds[] = { 1, 7, 17, 100, 1536 };
  for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
    for (guint d = 0; d < G_N_ELEMENTS (ds); d++)
      for (gint wdt = -1; wdt <= VV_DTYPE_BF16; wdt++)
        if (!too_big (rows[r] * ds[d]) && !run_rms_case (rows[r], ds[d], wdt, FALSE))
          return;
  run_rms_case (3, 100, VV_DTYPE_BF16, TRUE);
  if (!small_only)
    run_rms_case (64, 1536, -1, TRUE);
}

/* ---------------------------------------------------------------------- */
/* Element-wise ops */

typedef enum {
  EW_SILU, EW_GELU, EW_ADD, EW_MUL, EW_SCALE, EW_DIV_SUB, EW_ADD_MUL
} EwKind;

static const gchar *const ew_names[] = { "silu", "gelu", "add", "mul", "scale",
  "affine x/a-b", "affine (x+b)*a" };

/*
 * SILU/GELU: reference in double, |y - ref| <= 1e-6·(1 + |x|): a few F32
 * roundings of expf/erff, including GELU's 1 + erf(x/√2) cancellation for
 * negative x that the reference definition (in float) has too.
 * add/mul/scale: one correctly rounded F32 operation, so results must equal
 * the double result rounded to float exactly.
 */
static gboolean
run_ew_case (EwKind kind, gint ndim, const gint64 *a_shape, gint b_ndim,
    const gint64 *b_shape, gboolean in_place)
{
  const gfloat s = -0.3721f, s2 = 0.0917f;
  g_autoptr (VvTensor) a = random_tensor (VV_DTYPE_F32, ndim, a_shape, -8.0, 8.0);
  g_autoptr (VvTensor) b = b_ndim ? random_tensor (VV_DTYPE_F32, b_ndim, b_shape, -3.0, 3.0) : NULL;
  gint64 n = vv_tensor_n_elements (a);
  gint64 nb = b ? vv_tensor_n_elements (b) : 0;
  const gfloat *af = a->data, *bf = b ? b->data : NULL;
  g_autofree gdouble *ref = g_new (gdouble, MAX (n, 1));
  g_autofree gdouble *tol = g_new (gdouble, MAX (n, 1));
  gboolean exact = kind >= EW_ADD;
  for (gint64 i = 0; i < n; i++) {
    gdouble x = af[i];
    switch (kind) {
      case EW_SILU:
        ref[i] = x / (1.0 + exp (-x));
        break;
      case EW_GELU:
        ref[i] = 0.5 * x * (1.0 + erf (x / sqrt (2.0)));
        break;
      case EW_ADD:
        ref[i] = (gfloat) (x + bf[i % nb]);
        break;
      case EW_MUL:
        ref[i] = (gfloat) (x * bf[i % nb]);
        break;
      case EW_SCALE:
        ref[i] = (gfloat) (x * s);
        break;
      case EW_DIV_SUB:
        /* two F32 roundings, in this order */
        ref[i] = (gfloat) ((gdouble) (gfloat) (x / s) - s2);
        break;
      case EW_ADD_MUL:
        ref[i] = (gfloat) ((gdouble) (gfloat) (x + s2) * s);
        break;
    }
    tol[i] = 1e-6 * (1.0 + fabs (x));
  }
  g_autofree gchar *as = vv_tensor_shape_string (a);
  g_autofree gchar *bs = b ? vv_tensor_shape_string (b) : g_strdup ("");
  g_autofree gchar *what = g_strdup_printf ("%s a %s %s%s", ew_names[kind], as, bs,
      in_place ? " in place" : "");
  Checker c = { what, NULL, NULL };
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    g_autoptr (GError) error = NULL;
    VvTensor *da = to_backend (v->be, a), *db = to_backend (v->be, b);
    VvTensor *dy = in_place ? da : empty_like (v->be, a);
    gboolean r = FALSE;
    switch (kind) {
      case EW_SILU:
        r = vv_backend_unary (v->be, VV_UNARY_SILU, dy, da, &error);
        break;
      case EW_GELU:
        r = vv_backend_unary (v->be, VV_UNARY_GELU, dy, da, &error);
        break;
      case EW_ADD:
        r = vv_backend_binary (v->be, VV_BINARY_ADD, dy, da, db, &error);
        break;
      case EW_MUL:
        r = vv_backend_binary (v->be, VV_BINARY_MUL, dy, da, db, &error);
        break;
      case EW_SCALE:
        r = vv_backend_scale (v->be, dy, da, s, &error);
        break;
      case EW_DIV_SUB:
        r = vv_backend_affine (v->be, VV_AFFINE_DIV_SUB, dy, da, s, s2, &error);
        break;
      case EW_ADD_MUL:
        r = vv_backend_affine (v->be, VV_AFFINE_ADD_MUL, dy, da, s, s2, &error);
        break;
    }
    g_assert_no_error (error);
    g_assert_true (r);
    ok = check_output (&c, v, to_host (v->be, dy), ref, exact ? NULL : tol);
    if (!in_place)
      vv_backend_tensor_free (v->be, dy);
    vv_backend_tensor_free (v->be, da);
    vv_backend_tensor_free (v->be, db);
  }
  checker_clear (&c);
  return ok;
}

/* sizes: tiny, not multiples of a vector, and above the threading
 * thresholds (so the thread-count comparison means something) */
static const gint64 ew_sizes[][2] = {
  { 1, 1 }, { 1, 7 }, { 3, 17 }, { 2, 100 }, { 20, 2000 }, { 150, 2001 },
};

static void
test_unary (void)
{
  for (EwKind k = EW_SILU; k <= EW_GELU; k++) {
    for (guint i = 0; i < G_N_ELEMENTS (ew_sizes); i++)
      if (!too_big (ew_sizes[i][0] * ew_sizes[i][1])
          && !run_ew_case (k, 2, ew_sizes[i], 0, NULL, FALSE))
        return;
    gint64 one[1] = { 1000 };
    run_ew_case (k, 1, one, 0, NULL, TRUE);
  }
}

static void
test_binary (void)
{
  for (EwKind k = EW_ADD; k <= EW_MUL; k++) {
    for (guint i = 0; i < G_N_ELEMENTS (ew_sizes); i++) {
      const gint64 *shape = ew_sizes[i];
      if (too_big (shape[0] * shape[1]))
        continue;
      gint64 row[1] = { shape[1] };
      gint64 row2[2] = { 1, shape[1] };
      if (!run_ew_case (k, 2, shape, 2, shape, FALSE)        /* same shape */
          || !run_ew_case (k, 2, shape, 1, row, FALSE)       /* [d] broadcast */
          || !run_ew_case (k, 2, shape, 2, row2, FALSE)      /* [1, d] broadcast */
          || !run_ew_case (k, 2, shape, 1, row, TRUE))       /* in place */
        return;
    }
    gint64 a3[3] = { 2, 3, 5 }, b1[1] = { 5 };
    run_ew_case (k, 3, a3, 1, b1, FALSE);
  }
}

static void
test_scale (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (ew_sizes); i++)
    if (!too_big (ew_sizes[i][0] * ew_sizes[i][1])
        && !run_ew_case (EW_SCALE, 2, ew_sizes[i], 0, NULL, FALSE))
      return;
  run_ew_case (EW_SCALE, 2, ew_sizes[3], 0, NULL, TRUE);
}

static void
test_affine (void)
{
  for (EwKind k = EW_DIV_SUB; k <= EW_ADD_MUL; k++) {
    for (guint i = 0; i < G_N_ELEMENTS (ew_sizes); i++)
      if (!too_big (ew_sizes[i][0] * ew_sizes[i][1])
          && !run_ew_case (k, 2, ew_sizes[i], 0, NULL, FALSE))
        return;
    run_ew_case (k, 2, ew_sizes[3], 0, NULL, TRUE);
  }
}

/* ---------------------------------------------------------------------- */
/* get_rows: exact (conversions to F32 are exact) */

static void
test_get_rows (void)
{
  static const gint64 dims[][2] = { { 1, 1 }, { 5, 7 }, { 100, 17 }, { 1000, 1536 } };
  for (guint d = 0; d < G_N_ELEMENTS (weight_dtypes); d++) {
    for (guint s = 0; s < G_N_ELEMENTS (dims); s++) {
      gint64 rows = dims[s][0], dim = dims[s][1];
      if (too_big (rows * dim))
        continue;
      g_autoptr (VvTensor) table = random_2d (weight_dtypes[d], rows, dim);
      gint n_ids = 9;
      gint32 ids[9];
      for (gint i = 0; i < n_ids; i++)
        ids[i] = (gint32) g_rand_int_range (rng, 0, (gint32) rows);
      ids[0] = (gint32) rows - 1;
      ids[1] = 0;
      g_autoptr (VvTensor) y_proto = vv_tensor_new_2d (VV_DTYPE_F32, n_ids, dim);
      g_autofree gdouble *ref = g_new (gdouble, n_ids * dim);
      for (gint i = 0; i < n_ids; i++)
        for (gint64 k = 0; k < dim; k++)
          ref[i * dim + k] = vv_tensor_get_f32 (table, ids[i] * dim + k);
      g_autofree gchar *what = g_strdup_printf ("get_rows table [%" G_GINT64_FORMAT
          ", %" G_GINT64_FORMAT "] %s", rows, dim, vv_dtype_name (weight_dtypes[d]));
      Checker c = { what, NULL, NULL };
      gboolean ok = TRUE;
      for (guint i = 0; ok && i < variants->len; i++) {
        const Variant *v = g_ptr_array_index (variants, i);
        g_autoptr (GError) error = NULL;
        VvTensor *dt = to_backend (v->be, table), *dy = empty_like (v->be, y_proto);
        VvTensor *di = ids_on (v->be, ids, n_ids);
        g_assert_true (vv_backend_get_rows (v->be, dy, dt, di, &error));
        g_assert_no_error (error);
        ok = check_output (&c, v, to_host (v->be, dy), ref, NULL);
        vv_backend_tensor_free (v->be, di);
        vv_backend_tensor_free (v->be, dt);
        vv_backend_tensor_free (v->be, dy);
      }
      checker_clear (&c);
      if (!ok)
        return;
    }
  }
}

/* ---------------------------------------------------------------------- */
/* Errors: right code, message naming the op (and the shapes) */

static void
assert_error (GError *error, gint code, const gchar *const *needles)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == VV_BACKEND_ERROR);
  if (error->code != code)
    g_test_fail_printf ("expected error code %d, got %d: %s", code, error->code, error->message);
  for (gint i = 0; needles[i] != NULL; i++)
    if (strstr (error->message, needles[i]) == NULL)
      g_test_fail_printf ("error message \"%s\" does not mention \"%s\"", error->message,
          needles[i]);
}

#define EXPECT_ERROR(call, code, ...) G_STMT_START {                    \
    g_autoptr (GError) _err = NULL;                                     \
    GError **error = &_err;                                             \
    gboolean _r = (call);                                               \
    g_assert_false (_r);                                                \
    const gchar *const _needles[] = { __VA_ARGS__, NULL };              \
    assert_error (_err, code, _needles);                                \
  } G_STMT_END

static VvTensor *
dev_tensor (VvBackend *be, VvDType dtype, gint64 rows, gint64 cols)
{
  g_autoptr (VvTensor) h = random_2d (dtype, rows, cols);
  return to_backend (be, h);
}

static void
test_errors (void)
{
  /* one backend per name suffices: the checks live in the wrappers */
  for (guint i = 0; i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    if (i > 0 && strcmp (v->family, ((Variant *) g_ptr_array_index (variants, i - 1))->family) == 0)
      continue;
    VvBackend *be = v->be;
    VvTensor *x = dev_tensor (be, VV_DTYPE_F32, 2, 16);
    VvTensor *x17 = dev_tensor (be, VV_DTYPE_F32, 2, 17);
    VvTensor *xb = dev_tensor (be, VV_DTYPE_BF16, 2, 16);
    VvTensor *w = dev_tensor (be, VV_DTYPE_BF16, 3, 17);
    VvTensor *w16 = dev_tensor (be, VV_DTYPE_F16, 3, 16);
    VvTensor *y = dev_tensor (be, VV_DTYPE_F32, 2, 3);
    VvTensor *y4 = dev_tensor (be, VV_DTYPE_F32, 2, 4);
    VvTensor *table = dev_tensor (be, VV_DTYPE_BF16, 5, 16);
    VvTensor *b4 = dev_tensor (be, VV_DTYPE_F32, 1, 4);
    gint64 bshape[1] = { 4 };
    g_autoptr (VvTensor) hb = random_tensor (VV_DTYPE_F32, 1, bshape, -1, 1);
    VvTensor *bias4 = to_backend (be, hb);

    /* linear */
    EXPECT_ERROR (vv_backend_linear (be, y, x, w, NULL, error), VV_BACKEND_ERROR_SHAPE,
        "linear", "[2, 16]", "[3, 17]");
    EXPECT_ERROR (vv_backend_linear (be, y, xb, w16, NULL, error), VV_BACKEND_ERROR_DTYPE,
        "linear", "BF16", "[2, 16]");
    EXPECT_ERROR (vv_backend_linear (be, y4, x, w16, NULL, error), VV_BACKEND_ERROR_SHAPE,
        "linear", "[2, 4]", "[3, 16]");
    EXPECT_ERROR (vv_backend_linear (be, y, x, w16, bias4, error), VV_BACKEND_ERROR_SHAPE,
        "linear", "bias", "[4]");
    EXPECT_ERROR (vv_backend_linear (be, y, x, w16, y, error), VV_BACKEND_ERROR_SHAPE,
        "linear", "bias");
    EXPECT_ERROR (vv_backend_linear (be, x17, x17, w, NULL, error), VV_BACKEND_ERROR_SHAPE,
        "linear");
    {
      /* a transposed view [16, 2] of x: not contiguous */
      VvTensor xt = *x;
      xt.shape[0] = 16;
      xt.shape[1] = 2;
      xt.stride[0] = 1;
      xt.stride[1] = 16;
      VvTensor *w2 = dev_tensor (be, VV_DTYPE_F16, 3, 2);
      VvTensor *y16 = dev_tensor (be, VV_DTYPE_F32, 16, 3);
      EXPECT_ERROR (vv_backend_linear (be, y16, &xt, w2, NULL, error),
          VV_BACKEND_ERROR_SHAPE, "linear", "x", "not contiguous", "[16, 2]");
      vv_backend_tensor_free (be, w2);
      vv_backend_tensor_free (be, y16);
    }
    if (vv_backend_is_host (be)) {
      /* memory of another device */
      VvBackend *other = vv_backend_new_by_name ("sim", 1, NULL);
      VvTensor *xo = dev_tensor (other, VV_DTYPE_F32, 2, 16);
      EXPECT_ERROR (vv_backend_linear (be, y, xo, w16, NULL, error),
          VV_BACKEND_ERROR_DEVICE, "linear", "x", "sim");
      vv_backend_tensor_free (other, xo);
      vv_backend_free (other);
    } else {
      g_autoptr (VvTensor) hx = random_2d (VV_DTYPE_F32, 2, 16);
      EXPECT_ERROR (vv_backend_linear (be, y, hx, w16, NULL, error),
          VV_BACKEND_ERROR_DEVICE, "linear", "host");
    }

    /* rms_norm */
    EXPECT_ERROR (vv_backend_rms_norm (be, x, x, b4, 1e-6f, error), VV_BACKEND_ERROR_SHAPE,
        "rms_norm", "[2, 16]", "[1, 4]");
    EXPECT_ERROR (vv_backend_rms_norm (be, x17, x, NULL, 1e-6f, error),
        VV_BACKEND_ERROR_SHAPE, "rms_norm", "[2, 16]", "[2, 17]");
    EXPECT_ERROR (vv_backend_rms_norm (be, xb, xb, NULL, 1e-6f, error),
        VV_BACKEND_ERROR_DTYPE, "rms_norm", "BF16");

    /* unary, binary, scale */
    EXPECT_ERROR (vv_backend_unary (be, VV_UNARY_GELU, x17, x, error), VV_BACKEND_ERROR_SHAPE,
        "unary", "[2, 16]", "[2, 17]");
    EXPECT_ERROR (vv_backend_unary (be, VV_UNARY_SILU, xb, xb, error), VV_BACKEND_ERROR_DTYPE,
        "unary", "BF16");
    EXPECT_ERROR (vv_backend_binary (be, VV_BINARY_ADD, x, x, b4, error),
        VV_BACKEND_ERROR_SHAPE, "binary", "[2, 16]", "[1, 4]");
    EXPECT_ERROR (vv_backend_binary (be, VV_BINARY_MUL, x, x, x17, error),
        VV_BACKEND_ERROR_SHAPE, "binary", "[2, 17]");
    EXPECT_ERROR (vv_backend_scale (be, y, x, 2.0f, error), VV_BACKEND_ERROR_SHAPE,
        "scale", "[2, 16]", "[2, 3]");

    /* get_rows */
    {
      gint32 ids[3] = { 0, 4, 5 };
      VvTensor *gy = dev_tensor (be, VV_DTYPE_F32, 3, 16);
      VvTensor *di = ids_on (be, ids, 3);
      EXPECT_ERROR (vv_backend_get_rows (be, gy, table, di, error),
          VV_BACKEND_ERROR_SHAPE, "get_rows", "id 5", "5 rows");
      vv_backend_tensor_free (be, di);
      ids[2] = -1;
      di = ids_on (be, ids, 3);
      EXPECT_ERROR (vv_backend_get_rows (be, gy, table, di, error),
          VV_BACKEND_ERROR_SHAPE, "get_rows", "id -1");
      vv_backend_tensor_free (be, di);
      ids[2] = 1;
      di = ids_on (be, ids, 3);
      EXPECT_ERROR (vv_backend_get_rows (be, x, table, di, error),
          VV_BACKEND_ERROR_SHAPE, "get_rows", "[2, 16]");
      VvTensor *di2 = ids_on (be, ids, 2);
      EXPECT_ERROR (vv_backend_get_rows (be, xb, table, di2, error),
          VV_BACKEND_ERROR_DTYPE, "get_rows", "BF16");
      /* ids must be I32 */
      EXPECT_ERROR (vv_backend_get_rows (be, gy, table, x, error),
          VV_BACKEND_ERROR_DTYPE, "get_rows", "ids", "I32");
      g_autoptr (GError) e = NULL;
      g_assert_true (vv_backend_get_rows (be, gy, table, di, &e));
      g_assert_no_error (e);
      vv_backend_tensor_free (be, di);
      vv_backend_tensor_free (be, di2);
      vv_backend_tensor_free (be, gy);
    }

    VvTensor *all[] = { x, x17, xb, w, w16, y, y4, table, b4, bias4 };
    for (guint k = 0; k < G_N_ELEMENTS (all); k++)
      vv_backend_tensor_free (be, all[k]);
  }
}

/* ---------------------------------------------------------------------- */
/* Construction, registry, VV_CPU_ISA */

static VvBackend *
fake_new (gint n_threads, GError **error)
{
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE, "fake: no device");
  return NULL;
}

static void
test_registry (void)
{
  g_autoptr (GError) error = NULL;
  VvBackend *be = vv_backend_new_by_name ("no-such-backend", 1, &error);
  g_assert_null (be);
  const gchar *const needles[] = { "no-such-backend", "cpu", NULL };
  assert_error (error, VV_BACKEND_ERROR_UNAVAILABLE, needles);
  g_clear_error (&error);

  vv_backend_register ("test-fake", fake_new);
  vv_backend_register ("test-fake", fake_new);  /* again: no duplicate */
  g_auto (GStrv) names = vv_backend_list_names ();
  g_assert_cmpstr (names[0], ==, "cpu");
  guint fakes = 0;
  for (gint i = 0; names[i] != NULL; i++)
    fakes += strcmp (names[i], "test-fake") == 0;
  g_assert_cmpuint (fakes, ==, 1);
  be = vv_backend_new_by_name ("test-fake", 1, &error);
  g_assert_null (be);
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE);
  g_clear_error (&error);

  be = vv_backend_new_by_name ("cpu", 0, &error);
  g_assert_no_error (error);
  g_assert_true (vv_backend_is_host (be));
  g_assert_cmpint (vv_backend_get_n_threads (be), ==, vv_thread_pool_default_n_threads ());
  vv_backend_free (be);
  vv_backend_free (NULL);
}

static void
test_isa_env (void)
{
  g_autoptr (GError) error = NULL;
  setenv ("VV_CPU_ISA", "bogus", 1);
  VvBackend *be = vv_backend_new_cpu (1, &error);
  unsetenv ("VV_CPU_ISA");
  g_assert_null (be);
  const gchar *const needles[] = { "VV_CPU_ISA", "bogus", NULL };
  assert_error (error, VV_BACKEND_ERROR_UNAVAILABLE, needles);
}

/* Host transfers are copies; device tensors are separate memory. */
static void
test_tensors (void)
{
  for (guint i = 0; i < variants->len; i += G_N_ELEMENTS (thread_counts)) {
    const Variant *v = g_ptr_array_index (variants, i);
    g_autoptr (VvTensor) h = random_2d (VV_DTYPE_BF16, 3, 5);
    VvTensor *d = to_backend (v->be, h);
    g_assert_true (vv_backend_is_host (v->be) ? d->device == NULL
        : d->device == vv_backend_get_device (v->be));
    g_autoptr (VvTensor) back = to_host (v->be, d);
    g_assert_cmpmem (back->data, vv_tensor_n_bytes (back), h->data, vv_tensor_n_bytes (h));
    g_autoptr (GError) error = NULL;
    g_autoptr (VvTensor) wrong = vv_tensor_new_2d (VV_DTYPE_F32, 3, 5);
    g_assert_false (vv_backend_tensor_upload (v->be, d, wrong, &error));
    g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE);
    vv_backend_tensor_free (v->be, d);
  }
}

/* The simulated device: its memory is not host memory (host code touching
 * it crashes), buffer ops at offsets work, and traffic is counted. */
static void
test_sim_device (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvBackend) be = vv_backend_new_by_name ("sim", 1, &error);
  g_assert_no_error (error);
  VvDevice *dev = vv_backend_get_device (be);
  g_assert_false (vv_device_is_host (dev));
  g_assert_cmpstr (vv_device_get_name (dev), ==, "sim");
  /* two backends, one device: tensors of one are usable by the other */
  g_autoptr (VvBackend) be2 = vv_backend_new_by_name ("sim", 2, &error);
  g_assert_true (vv_backend_get_device (be2) == dev);

  VvDeviceStats s0, s1;
  vv_device_get_stats (dev, &s0);
  g_autoptr (VvTensor) t = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, (gint64[]) { 4, 8 },
      &error);
  g_assert_no_error (error);
  g_assert_true (t->device == dev);
  gfloat row[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, back[8] = { 0 };
  g_assert_true (vv_backend_tensor_zero (be, t, &error));
  /* row 2 through a view; read it back through be2 */
  VvTensor r2;
  vv_tensor_init_rows (&r2, t, 2, 1);
  g_assert_true (r2.device == dev);
  g_assert_true (vv_backend_tensor_set (be, &r2, 0, row, sizeof (row), &error));
  g_assert_true (vv_backend_tensor_get (be2, t, 2 * sizeof (row), back, sizeof (back), &error));
  g_assert_no_error (error);
  g_assert_cmpmem (back, sizeof (back), row, sizeof (row));
  /* row 0 = row 2 on the device; row 1 stays zero */
  VvTensor r0, r1;
  vv_tensor_init_rows (&r0, t, 0, 1);
  vv_tensor_init_rows (&r1, t, 1, 1);
  g_assert_true (vv_backend_tensor_copy (be, &r0, &r2, &error));
  g_assert_true (vv_backend_tensor_get (be, &r0, 0, back, sizeof (back), &error));
  g_assert_cmpmem (back, sizeof (back), row, sizeof (row));
  g_assert_true (vv_backend_tensor_get (be, &r1, 0, back, sizeof (back), &error));
  for (gint i = 0; i < 8; i++)
    g_assert_cmpfloat (back[i], ==, 0.0f);
  vv_device_get_stats (dev, &s1);
  g_assert_cmpuint (s1.bytes_up - s0.bytes_up, ==, sizeof (row));
  g_assert_cmpuint (s1.bytes_down - s0.bytes_down, ==, 3 * sizeof (row));
  g_assert_cmpuint (s1.n_launches - s0.n_launches, ==, 2);     /* zero, copy */
  g_assert_cmpuint (s1.bytes_allocated, >=, vv_tensor_n_bytes (t));
  /* out of range */
  g_assert_false (vv_backend_tensor_get (be, &r2, 4, back, sizeof (back), &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_clear_error (&error);

  /* the host cannot read device memory */
  if (g_test_subprocess ()) {
    volatile gfloat f = ((volatile gfloat *) t->data)[0];
    (void) f;
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
}

/* ---------------------------------------------------------------------- */
/* Diffusion-head and sampler ops. References round to F32 after every
 * operation, in the documented order (a single F32 +, −, · of floats is
 * the double result rounded to float), so the results must match exactly;
 * the timestep embedding (expf, cosf, sinf) is compared within a bound. */

static inline gdouble
f32 (gdouble x)
{
  return (gfloat) x;
}

/* Runs @call on every variant with the host tensors @in uploaded (the
 * output is @in[out_index], in place when @out_index ≥ 0, else a fresh
 * tensor shaped like @proto) and checks it against @ref. */
typedef gboolean (*DiffOpFunc) (VvBackend *be, VvTensor **dev, VvTensor *y, gpointer data,
    GError **error);

static gboolean
run_diff_op (const gchar *what, VvTensor **in, guint n_in, gint out_index,
    const VvTensor *proto, DiffOpFunc call, gpointer data, const gdouble *ref,
    const gdouble *tol)
{
  Checker c = { what, NULL, NULL };
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    g_autoptr (GError) error = NULL;
    VvTensor *dev[6] = { NULL };
    for (guint k = 0; k < n_in; k++)
      dev[k] = to_backend (v->be, in[k]);
    VvTensor *dy = out_index >= 0 ? dev[out_index] : empty_like (v->be, proto);
    gboolean r = call (v->be, dev, dy, data, &error);
    g_assert_no_error (error);
    g_assert_true (r);
    ok = check_output (&c, v, to_host (v->be, dy), ref, tol);
    if (out_index < 0)
      vv_backend_tensor_free (v->be, dy);
    for (guint k = 0; k < n_in; k++)
      vv_backend_tensor_free (v->be, dev[k]);
  }
  checker_clear (&c);
  return ok;
}

typedef struct {
  gfloat t;
  gdouble period;
} TembArgs;

static gboolean
call_temb (VvBackend *be, VvTensor **dev, VvTensor *y, gpointer data, GError **error)
{
  TembArgs *a = data;
  return vv_backend_timestep_embedding (be, y, a->t, a->period, error);
}

/* f_k = exp(−ln(P)·k/half) in double; an fp32 evaluation of the exponent
 * (|argument| ≤ ln P ≈ 9.2) is off by a few 1e-7 relative, so the
 * phase t·f_k by up to |t|·f_k·3e-6; cosf/sinf add about 1e-7. */
static void
test_timestep_embedding (void)
{
  static const gfloat ts[] = { 0.0f, 1.0f, 37.0f, 500.0f, 949.0f, 999.0f, -3.5f };
  static const gint64 dims[][2] = { { 1, 256 }, { 1, 2 }, { 3, 10 } };
  for (guint d = 0; d < G_N_ELEMENTS (dims); d++) {
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++) {
      gint64 rows = dims[d][0], D = dims[d][1], half = D / 2;
      TembArgs a = { ts[i], 10000.0 };
      g_autoptr (VvTensor) proto = vv_tensor_new_2d (VV_DTYPE_F32, rows, D);
      g_autofree gdouble *ref = g_new (gdouble, rows * D);
      g_autofree gdouble *tol = g_new (gdouble, rows * D);
      for (gint64 r = 0; r < rows; r++) {
        for (gint64 k = 0; k < half; k++) {
          gdouble f = exp (-log (a.period) * (gdouble) k / (gdouble) half);
          gdouble arg = (gdouble) a.t * f, e = fabs (arg) * 3e-6 + 2e-7;
          ref[r * D + k] = cos (arg);
          ref[r * D + half + k] = sin (arg);
          tol[r * D + k] = tol[r * D + half + k] = e;
        }
      }
      g_autofree gchar *what = g_strdup_printf ("timestep_embedding t %g [%" G_GINT64_FORMAT
          ", %" G_GINT64_FORMAT "]", (gdouble) a.t, rows, D);
      if (!run_diff_op (what, NULL, 0, -1, proto, call_temb, &a, ref, tol))
        return;
    }
  }
}

typedef struct {
  gint c1, c2;
} ColArgs;

static gboolean
call_modulate (VvBackend *be, VvTensor **dev, VvTensor *y, gpointer data, GError **error)
{
  ColArgs *a = data;
  return vv_backend_modulate (be, y, dev[0], dev[1], a->c1, a->c2, error);
}

static gboolean
call_gated_add (VvBackend *be, VvTensor **dev, VvTensor *y, gpointer data, GError **error)
{
  ColArgs *a = data;
  return vv_backend_gated_add (be, y, dev[0], dev[1], a->c1, dev[2], error);
}

/* modulate: y = x·(1 + scale) + shift, gated_add: y = x + gate·o, with
 * shift/scale/gate read from column ranges of ada [n, C] */
static void
test_modulate_gated (void)
{
  /* rows, d, C, first col, second col */
  static const gint64 cases[][5] = {
    { 1, 1, 3, 0, 1 }, { 2, 7, 21, 0, 7 }, { 2, 7, 21, 14, 7 }, { 3, 17, 34, 0, 17 },
    { 2, 100, 107, 5, 1 }, { 2, 1536, 4608, 0, 1536 }, { 4, 64, 192, 128, 64 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gint64 n = cases[i][0], d = cases[i][1], C = cases[i][2];
    ColArgs a = { (gint) cases[i][3], (gint) cases[i][4] };
    if (too_big (n * C))
      continue;
    for (gint in_place = 0; in_place <= 1; in_place++) {
      VvTensor *in[3] = { random_2d (VV_DTYPE_F32, n, d), random_2d (VV_DTYPE_F32, n, C),
        random_2d (VV_DTYPE_F32, n, d) };
      const gfloat *x = in[0]->data, *ada = in[1]->data, *o = in[2]->data;
      g_autofree gdouble *rm = g_new (gdouble, n * d);
      g_autofree gdouble *rg = g_new (gdouble, n * d);
      for (gint64 r = 0; r < n; r++)
        for (gint64 k = 0; k < d; k++) {
          gdouble xv = x[r * d + k];
          gdouble shift = ada[r * C + a.c1 + k], scale = ada[r * C + a.c2 + k];
          rm[r * d + k] = f32 (f32 (xv * f32 (1.0 + scale)) + shift);
          gdouble gate = ada[r * C + a.c1 + k];
          rg[r * d + k] = f32 (xv + f32 (gate * o[r * d + k]));
        }
      g_autofree gchar *wm = g_strdup_printf ("modulate [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
          "] ada %" G_GINT64_FORMAT " cols shift %d scale %d%s", n, d, C, a.c1, a.c2,
          in_place ? " in place" : "");
      g_autofree gchar *wg = g_strdup_printf ("gated_add [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
          "] ada %" G_GINT64_FORMAT " cols gate %d%s", n, d, C, a.c1, in_place ? " in place" : "");
      gboolean ok = run_diff_op (wm, in, 2, in_place ? 0 : -1, in[0], call_modulate, &a, rm, NULL)
          && run_diff_op (wg, in, 3, in_place ? 0 : -1, in[0], call_gated_add, &a, rg, NULL);
      for (guint k = 0; k < 3; k++)
        vv_tensor_free (in[k]);
      if (!ok)
        return;
    }
  }
}

static gboolean
call_cfg (VvBackend *be, VvTensor **dev, VvTensor *y, gpointer data, GError **error)
{
  return vv_backend_cfg_combine (be, y, dev[0], dev[1], *(gfloat *) data, error);
}

/* y = u + s·(c − u) */
static void
test_cfg_combine (void)
{
  static const gint64 sizes[][2] = { { 1, 1 }, { 1, 64 }, { 3, 17 }, { 2, 1000 } };
  static const gfloat scales[] = { 1.3f, 0.0f, 1.0f, -2.25f };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (guint j = 0; j < G_N_ELEMENTS (scales); j++)
      for (gint out = -1; out <= 1; out++) {     /* fresh y, y = cond, y = uncond */
        gfloat s = scales[j];
        VvTensor *in[2] = { random_2d (VV_DTYPE_F32, sizes[i][0], sizes[i][1]),
          random_2d (VV_DTYPE_F32, sizes[i][0], sizes[i][1]) };
        gint64 n = vv_tensor_n_elements (in[0]);
        const gfloat *c = in[0]->data, *u = in[1]->data;
        g_autofree gdouble *ref = g_new (gdouble, n);
        for (gint64 k = 0; k < n; k++)
          ref[k] = f32 (u[k] + f32 (s * f32 ((gdouble) c[k] - u[k])));
        g_autofree gchar *what = g_strdup_printf ("cfg_combine [%" G_GINT64_FORMAT ", %"
            G_GINT64_FORMAT "] s %g out %d", sizes[i][0], sizes[i][1], (gdouble) s, out);
        gboolean ok = run_diff_op (what, in, 2, out, in[0], call_cfg, &s, ref, NULL);
        vv_tensor_free (in[0]);
        vv_tensor_free (in[1]);
        if (!ok)
          return;
      }
}

typedef struct {
  VvDpmStep step;
  gboolean check_state;         /* the output is prev_d, not y */
} DpmArgs;

static gboolean
call_dpm (VvBackend *be, VvTensor **dev, VvTensor *y, gpointer data, GError **error)
{
  DpmArgs *a = data;
  /* dev: x, v, prev_d; y is a fresh tensor, or x (in place), or prev_d
   * when the state is checked (then the update goes to x) */
  if (a->check_state)
    return vv_backend_dpm_step (be, dev[0], dev[0], dev[1], dev[2], &a->step, error);
  return vv_backend_dpm_step (be, y, dev[0], dev[1], dev[2], &a->step, error);
}

/* d = α_s·x − σ_s·v; order 1: y = ratio·x + coef·d; order 2:
 * y = ratio·x + coef·d + half_coef·(r_inv·(d − prev_d)); prev_d ← d */
static void
test_dpm_step (void)
{
  static const gint64 sizes[][2] = { { 1, 1 }, { 1, 64 }, { 2, 33 } };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (gint order = 1; order <= 2; order++)
      for (gint mode = 0; mode < 3; mode++) {    /* fresh y, in place, the new state */
        DpmArgs a = { { order, 0.83f, 0.557f, 0.71f, 0.29f, 0.145f, 1.93f }, mode == 2 };
        const VvDpmStep *st = &a.step;
        VvTensor *in[3] = { random_2d (VV_DTYPE_F32, sizes[i][0], sizes[i][1]),
          random_2d (VV_DTYPE_F32, sizes[i][0], sizes[i][1]),
          random_2d (VV_DTYPE_F32, sizes[i][0], sizes[i][1]) };
        gint64 n = vv_tensor_n_elements (in[0]);
        const gfloat *x = in[0]->data, *v = in[1]->data, *pd = in[2]->data;
        g_autofree gdouble *ref = g_new (gdouble, n);
        for (gint64 k = 0; k < n; k++) {
          gdouble d = f32 (f32 ((gdouble) st->alpha_s * x[k]) - f32 ((gdouble) st->sigma_s * v[k]));
          gdouble y = f32 (f32 ((gdouble) st->ratio * x[k]) + f32 (st->coef * d));
          if (order == 2)
            y = f32 (y + f32 (st->half_coef * f32 (st->r_inv * f32 (d - pd[k]))));
          ref[k] = mode == 2 ? d : y;
        }
        g_autofree gchar *what = g_strdup_printf ("dpm_step order %d [%" G_GINT64_FORMAT ", %"
            G_GINT64_FORMAT "] %s", order, sizes[i][0], sizes[i][1],
            mode == 0 ? "" : mode == 1 ? "in place" : "state");
        gboolean ok = run_diff_op (what, in, 3, mode == 0 ? -1 : mode == 1 ? 0 : 2, in[0],
            call_dpm, &a, ref, NULL);
        for (guint k = 0; k < 3; k++)
          vv_tensor_free (in[k]);
        if (!ok)
          return;
      }
}

/* The wrappers' checks of the new ops, once per family. */
static void
test_diffusion_op_errors (void)
{
  for (guint i = 0; i < variants->len; i++) {
    const Variant *v = g_ptr_array_index (variants, i);
    if (i > 0 && strcmp (v->family, ((Variant *) g_ptr_array_index (variants, i - 1))->family) == 0)
      continue;
    VvBackend *be = v->be;
    VvTensor *x = dev_tensor (be, VV_DTYPE_F32, 2, 16);
    VvTensor *y = dev_tensor (be, VV_DTYPE_F32, 2, 16);
    VvTensor *ada = dev_tensor (be, VV_DTYPE_F32, 2, 48);
    VvTensor *ada3 = dev_tensor (be, VV_DTYPE_F32, 3, 48);
    VvTensor *odd = dev_tensor (be, VV_DTYPE_F32, 1, 7);
    VvTensor *x17 = dev_tensor (be, VV_DTYPE_F32, 2, 17);
    VvTensor row;

    EXPECT_ERROR (vv_backend_timestep_embedding (be, odd, 1.0f, 10000.0, error),
        VV_BACKEND_ERROR_SHAPE, "timestep_embedding", "[1, 7]", "even");
    EXPECT_ERROR (vv_backend_timestep_embedding (be, x, 1.0f, 0.5, error),
        VV_BACKEND_ERROR_SHAPE, "timestep_embedding", "max_period");
    EXPECT_ERROR (vv_backend_modulate (be, y, x, ada, 0, 33, error),
        VV_BACKEND_ERROR_SHAPE, "modulate", "scale_col 33", "[2, 48]", "0 to 32");
    EXPECT_ERROR (vv_backend_modulate (be, y, x, ada, -1, 16, error),
        VV_BACKEND_ERROR_SHAPE, "modulate", "shift_col -1");
    EXPECT_ERROR (vv_backend_modulate (be, y, x, ada3, 0, 16, error),
        VV_BACKEND_ERROR_SHAPE, "modulate", "[2, 16]", "[3, 48]");
    vv_tensor_init_rows (&row, ada, 0, 1);
    {
      /* y inside ada: the result would overwrite the shift/scale it reads */
      VvTensor in_ada;
      gint64 shape[2] = { 2, 16 };
      vv_tensor_init_view (&in_ada, VV_DTYPE_F32, 2, shape, ada->data);
      in_ada.device = ada->device;
      EXPECT_ERROR (vv_backend_modulate (be, &in_ada, x, ada, 16, 32, error),
          VV_BACKEND_ERROR_SHAPE, "modulate", "overlap");
      EXPECT_ERROR (vv_backend_gated_add (be, &in_ada, x, ada, 32, x, error),
          VV_BACKEND_ERROR_SHAPE, "gated_add", "overlap");
    }
    EXPECT_ERROR (vv_backend_gated_add (be, y, x, ada, 40, x, error),
        VV_BACKEND_ERROR_SHAPE, "gated_add", "gate_col 40");
    EXPECT_ERROR (vv_backend_gated_add (be, y, x, ada, 0, x17, error),
        VV_BACKEND_ERROR_SHAPE, "gated_add", "[2, 17]");
    EXPECT_ERROR (vv_backend_cfg_combine (be, y, x, x17, 1.3f, error),
        VV_BACKEND_ERROR_SHAPE, "cfg_combine", "uncond", "[2, 17]");
    VvDpmStep st = { 3, 1, 1, 1, 1, 1, 1 };
    EXPECT_ERROR (vv_backend_dpm_step (be, y, x, x, ada, &st, error),
        VV_BACKEND_ERROR_SHAPE, "dpm_step", "prev_d", "[2, 48]");
    VvTensor *pd = dev_tensor (be, VV_DTYPE_F32, 2, 16);
    EXPECT_ERROR (vv_backend_dpm_step (be, y, x, x, pd, &st, error),
        VV_BACKEND_ERROR_SHAPE, "dpm_step", "order 3");
    st.order = 1;
    EXPECT_ERROR (vv_backend_dpm_step (be, y, x, x, y, &st, error),
        VV_BACKEND_ERROR_SHAPE, "dpm_step", "prev_d", "overlap");
    EXPECT_ERROR (vv_backend_dpm_step (be, y, x, x, pd, NULL, error),
        VV_BACKEND_ERROR_SHAPE, "dpm_step", "missing");
    VvTensor *tensors[] = { x, y, ada, ada3, odd, x17, pd };
    for (guint k = 0; k < G_N_ELEMENTS (tensors); k++)
      vv_backend_tensor_free (be, tensors[k]);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (20260101);
  small_only = g_strcmp0 (g_getenv ("VV_TEST_SMALL"), "1") == 0;
  setup_variants ();

  g_test_add_func ("/backend-ops/sim-device", test_sim_device);
  g_test_add_func ("/backend-ops/linear", test_linear);
  g_test_add_func ("/backend-ops/linear-more", test_linear_more);
  g_test_add_func ("/backend-ops/linear-odd", test_linear_odd);
  g_test_add_func ("/backend-ops/linear-batch-invariance", test_linear_batch_invariance);
  g_test_add_func ("/backend-ops/linear-i8", test_linear_i8);
  g_test_add_func ("/backend-ops/rms-norm", test_rms_norm);
  g_test_add_func ("/backend-ops/unary", test_unary);
  g_test_add_func ("/backend-ops/binary", test_binary);
  g_test_add_func ("/backend-ops/scale", test_scale);
  g_test_add_func ("/backend-ops/affine", test_affine);
  g_test_add_func ("/backend-ops/get-rows", test_get_rows);
  g_test_add_func ("/backend-ops/errors", test_errors);
  g_test_add_func ("/backend-ops/tensors", test_tensors);
  g_test_add_func ("/backend-ops/registry", test_registry);
  g_test_add_func ("/backend-ops/isa-env", test_isa_env);
  g_test_add_func ("/backend-ops/timestep-embedding", test_timestep_embedding);
  g_test_add_func ("/backend-ops/modulate-gated-add", test_modulate_gated);
  g_test_add_func ("/backend-ops/cfg-combine", test_cfg_combine);
  g_test_add_func ("/backend-ops/dpm-step", test_dpm_step);
  g_test_add_func ("/backend-ops/diffusion-op-errors", test_diffusion_op_errors);

  int ret = g_test_run ();
  g_ptr_array_unref (variants);
  g_rand_free (rng);
  return ret;
}
