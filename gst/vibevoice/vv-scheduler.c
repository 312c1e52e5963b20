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
  VvBackend *be;                /* bound backend (not owned) */
  VvTensor *prev_d;             /* D_{i−1} [1, dim], on be's device */
  VvTensor *io_x, *io_v;        /* [1, dim] staging of vv_scheduler_step_host() */
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
  vv_tensor_free (s->prev_d);
  vv_tensor_free (s->io_x);
  vv_tensor_free (s->io_v);
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

/**
 * vv_scheduler_set_backend: (skip)
 * @s: a scheduler
 * @be: the backend the updates run on
 * @error: return location for a #GError
 *
 * Allocates the solver state in @be's device memory unless it is already
 * there (rebinding to another backend of the same device keeps it).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_scheduler_set_backend (VvScheduler *s, VvBackend *be, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (s->be != NULL && vv_backend_get_device (s->be) == vv_backend_get_device (be)) {
    s->be = be;
    return TRUE;
  }
  gint64 shape[2] = { 1, s->dim };
  g_autoptr (VvTensor) pd = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, shape, error);
  g_autoptr (VvTensor) ix = pd ? vv_backend_tensor_new (be, VV_DTYPE_F32, 2, shape, error) : NULL;
  g_autoptr (VvTensor) iv = ix ? vv_backend_tensor_new (be, VV_DTYPE_F32, 2, shape, error) : NULL;
  if (iv == NULL) {
    g_prefix_error (error, "scheduler state (size %d): ", s->dim);
    return FALSE;
  }
  vv_tensor_free (s->prev_d);
  vv_tensor_free (s->io_x);
  vv_tensor_free (s->io_v);
  s->prev_d = g_steal_pointer (&pd);
  s->io_x = g_steal_pointer (&ix);
  s->io_v = g_steal_pointer (&iv);
  s->be = be;
  s->next_step = 0;
  return TRUE;
}

/**
 * vv_scheduler_get_backend: (skip)
 * @s: a scheduler
 *
 * Returns: (transfer none) (nullable): the bound backend
 */
VvBackend *
vv_scheduler_get_backend (VvScheduler *s)
{
  return s->be;
}

/**
 * vv_scheduler_get_state: (skip)
 * @s: a scheduler
 *
 * Returns: (transfer none) (nullable): the solver state tensor
 */
const VvTensor *
vv_scheduler_get_state (VvScheduler *s)
{
  return s->prev_d;
}

void
vv_scheduler_reset (VvScheduler *s)
{
  /* D_{i−1} needs no clearing: step 0 is first order and does not read it,
   * and every later step reads what the step before wrote */
  s->next_step = 0;
}

gboolean
vv_scheduler_step (VvScheduler *s, gint i, const VvTensor *x, const VvTensor *v,
    VvTensor *x_out, GError **error)
{
  if (i < 0 || i >= s->n_steps || i != s->next_step || x == NULL || v == NULL || x_out == NULL) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "scheduler: step %d out of order (expected %d of %d; reset per latent)",
        i, s->next_step, s->n_steps);
    return FALSE;
  }
  if (s->be == NULL) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "scheduler: no backend (call vv_scheduler_set_backend first)");
    return FALSE;
  }
  if (vv_tensor_n_elements (x) != s->dim) {
    g_autofree gchar *sx = vv_tensor_shape_string (x);
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "scheduler: x %s does not hold the latent size %d", sx, s->dim);
    return FALSE;
  }
  const gfloat a_s = s->alpha[i], st_s = s->sigma_t[i];
  const gfloat a_t = s->alpha[i + 1], st_t = s->sigma_t[i + 1];
  const gfloat h = s->lambda[i + 1] - s->lambda[i];    /* +inf on the last step */
  VvDpmStep st = {
    .order = vv_scheduler_get_order (s, i),
    .alpha_s = a_s,
    .sigma_s = st_s,
    .ratio = st_t / st_s,
    .coef = -(a_t * (expf (-h) - 1.0f)),     /* α_{i+1}(1 − e^{−h}) */
  };
  if (st.order == 2) {
    /* r = (λ_i − λ_{i−1})/h; D1 = (1/r)(D_i − D_{i−1}) */
    gfloat r0 = (s->lambda[i] - s->lambda[i - 1]) / h;
    st.r_inv = 1.0f / r0;
  }
  st.half_coef = 0.5f * st.coef;
  /* the state seen with x's shape */
  VvTensor pd;
  vv_tensor_init_view (&pd, VV_DTYPE_F32, x->ndim, x->shape, s->prev_d->data);
  pd.device = s->prev_d->device;
  if (!vv_backend_dpm_step (s->be, x_out, x, v, &pd, &st, error))
    return FALSE;
  s->next_step = i + 1;
  return TRUE;
}

/**
 * vv_scheduler_step_host: (skip)
 * @s: a scheduler bound to a backend
 * @i: the step
 * @x: (array): dim floats, host memory
 * @v: (array): dim floats, host memory
 * @x_out: (array): dim floats, host memory (may be @x)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_scheduler_step_host (VvScheduler *s, gint i, const gfloat *x, const gfloat *v,
    gfloat *x_out, GError **error)
{
  if (x == NULL || v == NULL || x_out == NULL)
    return vv_scheduler_step (s, i, NULL, NULL, NULL, error);
  if (s->be == NULL) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "scheduler: no backend (call vv_scheduler_set_backend first)");
    return FALSE;
  }
  gsize n = sizeof (gfloat) * s->dim;
  return vv_backend_tensor_set (s->be, s->io_x, 0, x, n, error)
      && vv_backend_tensor_set (s->be, s->io_v, 0, v, n, error)
      && vv_scheduler_step (s, i, s->io_x, s->io_v, s->io_x, error)
      && vv_backend_tensor_get (s->be, s->io_x, 0, x_out, n, error);
}
