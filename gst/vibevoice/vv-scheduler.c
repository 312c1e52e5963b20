/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-scheduler.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (vv-scheduler-error-quark, vv_scheduler_error)

struct _VvScheduler {
  gint n_steps, dim;
  gfloat alphas_cumprod[VV_SCHEDULER_TRAIN_STEPS];
  gint *timesteps;              /* [N] */
  gfloat *sigma, *alpha, *sigma_t, *lambda;   /* [N + 1] */
  gfloat *prev_d;               /* D_{i−1} [dim] */
  gint next_step;               /* the step expected next */
};

/* ᾱ(τ) of the Glide cosine schedule (§4.1), in double. */
static gdouble
cosine_alpha_bar (gdouble tau)
{
  gdouble c = cos ((tau + 0.008) / 1.008 * G_PI / 2.0);
  return c * c;
}

/* Python's round(): half to even (numpy .round()). */
static gdouble
round_half_even (gdouble x)
{
  gdouble r = floor (x), d = x - r;
  if (d > 0.5 || (d == 0.5 && fmod (r, 2.0) != 0.0))
    r += 1.0;
  return r;
}

void
vv_scheduler_free (VvScheduler *s)
{
  if (s == NULL)
    return;
  g_free (s->timesteps);
  g_free (s->sigma);
  g_free (s->alpha);
  g_free (s->sigma_t);
  g_free (s->lambda);
  g_free (s->prev_d);
  g_free (s);
}

/**
 * vv_scheduler_new: (skip)
 * @n_steps: number of inference steps N (1..1000)
 * @dim: latent size (64)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the scheduler
 */
VvScheduler *
vv_scheduler_new (gint n_steps, gint dim, GError **error)
{
  if (n_steps < 1 || n_steps > VV_SCHEDULER_TRAIN_STEPS || dim < 1) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "scheduler: need 1..%d steps and a positive latent size, got %d steps, size %d",
        VV_SCHEDULER_TRAIN_STEPS, n_steps, dim);
    return NULL;
  }
  g_autoptr (VvScheduler) s = g_new0 (VvScheduler, 1);
  s->n_steps = n_steps;
  s->dim = dim;

  /* §4.1 + §12.5: β_i in double, stored fp32 (clipped at 0.999);
   * α_i = fp32(1 − β_i); ᾱ = fp32 of the double running product. */
  gdouble prod = 1.0;
  for (gint i = 0; i < VV_SCHEDULER_TRAIN_STEPS; i++) {
    gdouble t1 = (gdouble) i / VV_SCHEDULER_TRAIN_STEPS;
    gdouble t2 = (gdouble) (i + 1) / VV_SCHEDULER_TRAIN_STEPS;
    gfloat beta = (gfloat) MIN (1.0 - cosine_alpha_bar (t2) / cosine_alpha_bar (t1), 0.999);
    gfloat a = 1.0f - beta;
    prod *= (gdouble) a;
    s->alphas_cumprod[i] = (gfloat) prod;
  }

  /* §4.2: round_half_even(linspace(0, 999, N+1)), reversed, last dropped.
   * linspace as numpy computes it: start + k·step, step = 999/N. */
  s->timesteps = g_new (gint, n_steps);
  gdouble step = (gdouble) (VV_SCHEDULER_TRAIN_STEPS - 1) / n_steps;
  for (gint i = 0; i < n_steps; i++) {
    gint k = n_steps - i;
    gdouble v = k == n_steps ? (gdouble) (VV_SCHEDULER_TRAIN_STEPS - 1) : k * step;
    s->timesteps[i] = (gint) round_half_even (v);
  }

  /* σ_i = sqrt((1 − ᾱ)/ᾱ) in fp32, then the final σ_N = 0; per σ:
   * α = 1/sqrt(σ² + 1), σ' = σ·α, λ = ln α − ln σ' (all fp32). */
  s->sigma = g_new (gfloat, n_steps + 1);
  s->alpha = g_new (gfloat, n_steps + 1);
  s->sigma_t = g_new (gfloat, n_steps + 1);
  s->lambda = g_new (gfloat, n_steps + 1);
  for (gint i = 0; i <= n_steps; i++) {
    gfloat sg = 0.0f;
    if (i < n_steps) {
      gfloat ac = s->alphas_cumprod[s->timesteps[i]];
      sg = sqrtf ((1.0f - ac) / ac);
    }
    gfloat a = 1.0f / sqrtf (sg * sg + 1.0f);
    gfloat st = sg * a;
    s->sigma[i] = sg;
    s->alpha[i] = a;
    s->sigma_t[i] = st;
    s->lambda[i] = i < n_steps ? logf (a) - logf (st) : INFINITY;
  }
  s->prev_d = g_new0 (gfloat, dim);
  return g_steal_pointer (&s);
}

gint
vv_scheduler_get_n_steps (VvScheduler *s)
{
  return s->n_steps;
}

gint
vv_scheduler_get_dim (VvScheduler *s)
{
  return s->dim;
}

gfloat
vv_scheduler_get_alpha_cumprod (VvScheduler *s, gint i)
{
  g_return_val_if_fail (i >= 0 && i < VV_SCHEDULER_TRAIN_STEPS, NAN);
  return s->alphas_cumprod[i];
}

gint
vv_scheduler_get_timestep (VvScheduler *s, gint i)
{
  g_return_val_if_fail (i >= 0 && i < s->n_steps, -1);
  return s->timesteps[i];
}

#define TABLE_GETTER(fn, field) \
  gfloat fn (VvScheduler *s, gint i) \
  { \
    g_return_val_if_fail (i >= 0 && i <= s->n_steps, NAN); \
    return s->field[i]; \
  }
TABLE_GETTER (vv_scheduler_get_sigma, sigma)
TABLE_GETTER (vv_scheduler_get_alpha, alpha)
TABLE_GETTER (vv_scheduler_get_sigma_t, sigma_t)
TABLE_GETTER (vv_scheduler_get_lambda, lambda)

gint
vv_scheduler_get_order (VvScheduler *s, gint i)
{
  /* §4.3: first order at i = 0 (no history) and at the last step (final
   * σ is zero → lower_order_final); second order (midpoint) otherwise. */
  return (i == 0 || i == s->n_steps - 1) ? 1 : 2;
}

void
vv_scheduler_reset (VvScheduler *s)
{
  s->next_step = 0;
  memset (s->prev_d, 0, sizeof (gfloat) * s->dim);
}

gboolean
vv_scheduler_step (VvScheduler *s, gint i, const gfloat *x, const gfloat *v, gfloat *x_out,
    GError **error)
{
  if (i < 0 || i >= s->n_steps || i != s->next_step || x == NULL || v == NULL || x_out == NULL) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "scheduler: step %d out of order (expected %d of %d; reset per latent)",
        i, s->next_step, s->n_steps);
    return FALSE;
  }
  const gint n = s->dim;
  const gfloat a_s = s->alpha[i], st_s = s->sigma_t[i];
  const gfloat a_t = s->alpha[i + 1], st_t = s->sigma_t[i + 1];
  const gfloat h = s->lambda[i + 1] - s->lambda[i];    /* +inf on the last step */
  const gfloat ratio = st_t / st_s;
  const gfloat coef = -(a_t * (expf (-h) - 1.0f));     /* α_{i+1}(1 − e^{−h}) */
  const gint order = vv_scheduler_get_order (s, i);
  gfloat r_inv = 0.0f;
  if (order == 2) {
    /* r = (λ_i − λ_{i−1})/h; D1 = (1/r)(D_i − D_{i−1}) */
    gfloat r0 = (s->lambda[i] - s->lambda[i - 1]) / h;
    r_inv = 1.0f / r0;
  }
  const gfloat half_coef = 0.5f * coef;
  for (gint k = 0; k < n; k++) {
    /* §4.3 step 2: data prediction of the v-parameterisation */
    gfloat d = a_s * x[k] - st_s * v[k];
    gfloat y;
    if (order == 1) {
      y = ratio * x[k] + coef * d;
    } else {
      gfloat d1 = r_inv * (d - s->prev_d[k]);
      y = ratio * x[k] + coef * d + half_coef * d1;
    }
    s->prev_d[k] = d;
    x_out[k] = y;
  }
  s->next_step = i + 1;
  return TRUE;
}
