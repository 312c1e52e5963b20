/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* DPM-Solver++ 2M scheduler (vv-scheduler.c) against the independent
 * tables of MODEL-SPEC §4.1 / §4.2 / §12.5, and the solver's order
 * behaviour of §4.3. */
#include <vibevoice/vibevoice.h>
#include <math.h>
#include <string.h>

static VvBackend *cpu;

static VvScheduler *
new_sched (gint n)
{
  g_autoptr (GError) error = NULL;
  VvScheduler *s = vv_scheduler_new (n, 64, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_true (vv_scheduler_set_backend (s, cpu, &error));
  g_assert_no_error (error);
  return s;
}

/* |a − b| ≤ rel·|b| + abs */
static void
assert_close (gdouble a, gdouble b, gdouble rel, gdouble abs_tol)
{
  if (!(fabs (a - b) <= rel * fabs (b) + abs_tol))
    g_error ("%.9g vs expected %.9g (rel %.3g, abs %.3g)", a, b, rel, abs_tol);
}

static void
test_alphas_cumprod (void)
{
  g_autoptr (VvScheduler) s = new_sched (10);
  /* §4.1, with ᾱ_499 as the double-accumulated reference value (§12.5) */
  assert_close (vv_scheduler_get_alpha_cumprod (s, 0), 0.99995869, 0, 1e-8);
  assert_close (vv_scheduler_get_alpha_cumprod (s, 499), 0.49384347, 0, 1e-8);
  assert_close (vv_scheduler_get_alpha_cumprod (s, 999), 2.4287e-9, 1e-4, 0);
}

static void
test_timesteps (void)
{
  /* §4.2 */
  static const gint t5[] = { 999, 799, 599, 400, 200 };
  static const gint t10[] = { 999, 899, 799, 699, 599, 500, 400, 300, 200, 100 };
  static const gint t20[] = { 999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450,
    400, 350, 300, 250, 200, 150, 100, 50 };
  struct { gint n; const gint *t; } cases[] = { { 5, t5 }, { 10, t10 }, { 20, t20 } };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autoptr (VvScheduler) s = new_sched (cases[c].n);
    g_assert_cmpint (vv_scheduler_get_n_steps (s), ==, cases[c].n);
    for (gint i = 0; i < cases[c].n; i++)
      g_assert_cmpint (vv_scheduler_get_timestep (s, i), ==, cases[c].t[i]);
  }
}

static void
test_table_10 (void)
{
  /* §4.2, N = 10: t, σ, α, σ', λ (7 significant digits) */
  static const gdouble tab[][5] = {
    { 999, 20291.31, 4.92822e-5, 1.000000, -9.917948 },
    { 899, 6.364595, 0.155215, 0.987881, -1.850751 },
    { 799, 3.103731, 0.306668, 0.951816, -1.132605 },
    { 699, 1.980699, 0.450690, 0.892681, -0.683450 },
    { 599, 1.390753, 0.583789, 0.811906, -0.329845 },
    { 500, 1.015552, 0.701630, 0.712541, -0.015432 },
    { 400, 0.740282, 0.803734, 0.594989, 0.300725 },
    { 300, 0.522360, 0.886359, 0.462999, 0.649398 },
    { 200, 0.337461, 0.947503, 0.319746, 1.086304 },
    { 100, 0.171044, 0.985685, 0.168596, 1.765833 },
  };
  g_autoptr (VvScheduler) s = new_sched (10);
  for (gint i = 0; i < 10; i++) {
    g_assert_cmpint (vv_scheduler_get_timestep (s, i), ==, (gint) tab[i][0]);
    assert_close (vv_scheduler_get_sigma (s, i), tab[i][1], 1e-6, 1e-6);
    assert_close (vv_scheduler_get_alpha (s, i), tab[i][2], 1e-5, 1e-6);
    assert_close (vv_scheduler_get_sigma_t (s, i), tab[i][3], 0, 1e-6);
    /* λ = ln α − ln σ' in fp32 as the reference: cancellation costs a few
     * 1e-6 against the table's −ln σ */
    assert_close (vv_scheduler_get_lambda (s, i), tab[i][4], 0, 5e-6);
  }
  /* the final point: σ 0, α 1, σ' 0, λ +∞ */
  g_assert_cmpfloat (vv_scheduler_get_sigma (s, 10), ==, 0.0f);
  g_assert_cmpfloat (vv_scheduler_get_alpha (s, 10), ==, 1.0f);
  g_assert_cmpfloat (vv_scheduler_get_sigma_t (s, 10), ==, 0.0f);
  g_assert_true (isinf (vv_scheduler_get_lambda (s, 10)) && vv_scheduler_get_lambda (s, 10) > 0);
}

static void
test_sigmas_20 (void)
{
  /* §4.2: σ at the extra N = 20 points; the N = 10 points are shared */
  static const gdouble extra[] = { 12.807277, 4.19954, 2.435437, 1.647775, 1.184082,
    0.868584, 0.625998, 0.426837, 0.252646, 0.091349 };
  g_autoptr (VvScheduler) s20 = new_sched (20);
  g_autoptr (VvScheduler) s10 = new_sched (10);
  g_autoptr (VvScheduler) s5 = new_sched (5);
  /* σ = sqrt((1 − ᾱ)/ᾱ) in fp32 as the reference: near t = 0 the fp32
   * 1 − ᾱ loses digits (t = 50: the fp32 reference gives 0.0913476 where
   * the table, evaluated in higher precision, says 0.091349) */
  for (gint i = 0; i < 10; i++) {
    assert_close (vv_scheduler_get_sigma (s20, 2 * i + 1), extra[i], 2e-5, 1e-6);
    g_assert_cmpfloat (vv_scheduler_get_sigma (s20, 2 * i), ==, vv_scheduler_get_sigma (s10, i));
  }
  /* N = 5 uses the same per-t values (t 999, 799, 599 are N = 10 points) */
  for (gint i = 0; i < 3; i++)
    g_assert_cmpfloat (vv_scheduler_get_sigma (s5, i), ==, vv_scheduler_get_sigma (s10, 2 * i));
  g_assert_cmpfloat (vv_scheduler_get_sigma (s20, 20), ==, 0.0f);
}

/* One latent of dim 64 through all N steps with fixed x₀ and a v that
 * depends on the step, checked against a double-precision evaluation of
 * §4.3 from the scheduler's own tables. */
static void
test_orders (gconstpointer data)
{
  gint n = GPOINTER_TO_INT (data);
  g_autoptr (VvScheduler) s = new_sched (n);
  g_autoptr (GError) error = NULL;
  gfloat x[64], v[64], y[64];
  gdouble d_prev[64] = { 0 };
  for (gint k = 0; k < 64; k++)
    x[k] = sinf (0.37f * k + 0.1f) * 1.5f;
  for (gint rep = 0; rep < 2; rep++) {       /* reset makes latents independent */
    if (rep == 1) {
      for (gint k = 0; k < 64; k++)
        x[k] = sinf (0.37f * k + 0.1f) * 1.5f;
    }
    vv_scheduler_reset (s);
    for (gint i = 0; i < n; i++) {
      gint order = vv_scheduler_get_order (s, i);
      g_assert_cmpint (order, ==, (i == 0 || i == n - 1) ? 1 : 2);
      for (gint k = 0; k < 64; k++)
        v[k] = cosf (0.11f * k * (i + 1)) * 0.8f;
      g_assert_true (vv_scheduler_step_host (s, i, x, v, y, &error));
      g_assert_no_error (error);
      gdouble a_s = vv_scheduler_get_alpha (s, i), st_s = vv_scheduler_get_sigma_t (s, i);
      gdouble a_t = vv_scheduler_get_alpha (s, i + 1), st_t = vv_scheduler_get_sigma_t (s, i + 1);
      gdouble l_s = vv_scheduler_get_lambda (s, i), l_t = vv_scheduler_get_lambda (s, i + 1);
      gdouble h = l_t - l_s, e = exp (-h);
      gdouble worst = 0, scale = 0;
      for (gint k = 0; k < 64; k++) {
        gdouble d = a_s * x[k] - st_s * v[k];
        gdouble want;
        if (i == n - 1) {
          want = d;          /* final σ = 0: the last data prediction (§4.3 step 4) */
          g_assert_cmpfloat (fabs (y[k] - want), <=, 1e-6 * (1 + fabs (want)));
        } else if (order == 1) {
          want = (st_t / st_s) * x[k] + a_t * (1 - e) * d;
        } else {
          gdouble r = (l_s - vv_scheduler_get_lambda (s, i - 1)) / h;
          want = (st_t / st_s) * x[k] + a_t * (1 - e) * (d + 0.5 * (d - d_prev[k]) / r);
        }
        d_prev[k] = d;
        worst = MAX (worst, fabs (y[k] - want));
        scale = MAX (scale, fabs (want));
      }
      g_assert_cmpfloat (worst, <=, 1e-5 * (1 + scale));
      memcpy (x, y, sizeof x);
    }
    /* a further step without a reset is refused */
    g_assert_false (vv_scheduler_step_host (s, 0, x, v, y, &error));
    g_assert_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID);
    g_clear_error (&error);
  }
}

static void
test_invalid (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (vv_scheduler_new (0, 64, &error));
  g_assert_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (VvScheduler) s = new_sched (5);
  gfloat x[64] = { 0 }, v[64] = { 0 };
  vv_scheduler_reset (s);
  g_assert_false (vv_scheduler_step_host (s, 1, x, v, x, &error));   /* out of order */
  g_assert_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID);
  g_clear_error (&error);
  /* the update runs on a backend: none bound is an error, not a host loop */
  g_autoptr (VvScheduler) unbound = vv_scheduler_new (5, 64, &error);
  g_assert_no_error (error);
  g_assert_null (vv_scheduler_get_backend (unbound));
  g_assert_false (vv_scheduler_step_host (unbound, 0, x, v, x, &error));
  g_assert_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "vv_scheduler_set_backend"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scheduler/alphas-cumprod", test_alphas_cumprod);
  g_test_add_func ("/scheduler/timesteps", test_timesteps);
  g_test_add_func ("/scheduler/table-10", test_table_10);
  g_test_add_func ("/scheduler/sigmas-20", test_sigmas_20);
  g_test_add_data_func ("/scheduler/orders/1", GINT_TO_POINTER (1), test_orders);
  g_test_add_data_func ("/scheduler/orders/2", GINT_TO_POINTER (2), test_orders);
  g_test_add_data_func ("/scheduler/orders/5", GINT_TO_POINTER (5), test_orders);
  g_test_add_data_func ("/scheduler/orders/10", GINT_TO_POINTER (10), test_orders);
  g_test_add_data_func ("/scheduler/orders/20", GINT_TO_POINTER (20), test_orders);
  g_test_add_func ("/scheduler/invalid", test_invalid);
  g_autoptr (GError) error = NULL;
  cpu = vv_backend_new_cpu (1, &error);
  g_assert_no_error (error);
  int ret = g_test_run ();
  vv_backend_free (cpu);
  return ret;
}
