/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-diffusion-head.h"

#include <math.h>
#include <string.h>

/* Hard-coded in the reference (§12.7). */
#define T_EMB_DIM 256
#define T_MAX_PERIOD 10000.0

typedef struct {
  const VvTensor *gate_w, *up_w, *down_w, *norm_w, *ada_w;
} HeadLayer;

struct _VvDiffusionHead {
  VvBackend *be;
  gint hidden, ffn, latent, n_layers;
  gfloat eps;
  const VvTensor *in_w, *cond_w, *t1_w, *t2_w, *final_w, *final_ada_w;
  HeadLayer *layers;
  gfloat freqs[T_EMB_DIM / 2];
  /* scratch; batch rows = n_rows of the last set_condition() */
  gint n_rows, cap_rows;
  VvTensor *cond, *c, *silu_c, *x, *nrm, *mod, *gate, *up, *act, *ffn_out, *ada;
  VvTensor *temb_in, *temb_h, *temb_act, *temb;
};

static void
free_scratch (VvDiffusionHead *hd)
{
  VvTensor **ts[] = { &hd->cond, &hd->c, &hd->silu_c, &hd->x, &hd->nrm, &hd->mod, &hd->gate,
    &hd->up, &hd->act, &hd->ffn_out, &hd->ada };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    g_clear_pointer (ts[i], vv_tensor_free);
  hd->cap_rows = 0;
}

void
vv_diffusion_head_free (VvDiffusionHead *head)
{
  if (head == NULL)
    return;
  free_scratch (head);
  vv_tensor_free (head->temb_in);
  vv_tensor_free (head->temb_h);
  vv_tensor_free (head->temb_act);
  vv_tensor_free (head->temb);
  g_free (head->layers);
  g_free (head);
}

static const VvTensor *
require_2d (VvModel *model, const gchar *name, gint64 rows, gint64 cols, GError **error)
{
  const VvTensor *t = vv_model_require_tensor (model, name, error);
  if (t == NULL)
    return NULL;
  if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "diffusion head: tensor %s has shape %s, expected [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "]", name, s, rows, cols);
    return NULL;
  }
  return t;
}

/**
 * vv_diffusion_head_new: (skip)
 * @model: a loaded model (must outlive the head)
 * @be: a host backend
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the head
 */
VvDiffusionHead *
vv_diffusion_head_new (VvModel *model, VvBackend *be, GError **error)
{
  if (!vv_backend_is_host (be)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "diffusion head: backend '%s' is not supported yet (host backends only)",
        vv_backend_get_name (be));
    return NULL;
  }
  const VvHeadConfig *cfg = &vv_model_get_config (model)->head;
  const VvConfig *full = vv_model_get_config (model);
  g_autoptr (VvDiffusionHead) hd = g_new0 (VvDiffusionHead, 1);
  hd->be = be;
  hd->hidden = cfg->hidden_size;
  hd->ffn = cfg->ffn_dim;
  hd->latent = cfg->latent_size;
  hd->n_layers = cfg->n_layers;
  hd->eps = (gfloat) cfg->rms_norm_eps;
  gint64 H = hd->hidden, F = hd->ffn, L = hd->latent, HL = full->lm.hidden_size;
  /* cond_proj maps the LM hidden size onto the head's (equal in every
   * published model, §3). */
  if ((hd->in_w = require_2d (model, "model.prediction_head.noisy_images_proj.weight", H, L, error)) == NULL ||
      (hd->cond_w = require_2d (model, "model.prediction_head.cond_proj.weight", H, HL, error)) == NULL ||
      (hd->t1_w = require_2d (model, "model.prediction_head.t_embedder.mlp.0.weight", H, T_EMB_DIM, error)) == NULL ||
      (hd->t2_w = require_2d (model, "model.prediction_head.t_embedder.mlp.2.weight", H, H, error)) == NULL ||
      (hd->final_w = require_2d (model, "model.prediction_head.final_layer.linear.weight", L, H, error)) == NULL ||
      (hd->final_ada_w = require_2d (model, "model.prediction_head.final_layer.adaLN_modulation.1.weight", 2 * H, H, error)) == NULL)
    return NULL;
  hd->layers = g_new0 (HeadLayer, hd->n_layers);
  for (gint l = 0; l < hd->n_layers; l++) {
    HeadLayer *ly = &hd->layers[l];
    g_autofree gchar *g = g_strdup_printf ("model.prediction_head.layers.%d.ffn.gate_proj.weight", l);
    g_autofree gchar *u = g_strdup_printf ("model.prediction_head.layers.%d.ffn.up_proj.weight", l);
    g_autofree gchar *d = g_strdup_printf ("model.prediction_head.layers.%d.ffn.down_proj.weight", l);
    g_autofree gchar *n = g_strdup_printf ("model.prediction_head.layers.%d.norm.weight", l);
    g_autofree gchar *a = g_strdup_printf ("model.prediction_head.layers.%d.adaLN_modulation.1.weight", l);
    if ((ly->gate_w = require_2d (model, g, F, H, error)) == NULL ||
        (ly->up_w = require_2d (model, u, F, H, error)) == NULL ||
        (ly->down_w = require_2d (model, d, H, F, error)) == NULL ||
        (ly->ada_w = require_2d (model, a, 3 * H, H, error)) == NULL ||
        (ly->norm_w = vv_model_require_tensor (model, n, error)) == NULL)
      return NULL;
    if (ly->norm_w->ndim != 1 || ly->norm_w->shape[0] != H) {
      g_autofree gchar *s = vv_tensor_shape_string (ly->norm_w);
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
          "diffusion head: tensor %s has shape %s, expected [%" G_GINT64_FORMAT "]", n, s, H);
      return NULL;
    }
  }
  /* §3 step 1: freq_k = exp(−ln(10000)·k/128), in fp32 as the reference */
  for (gint k = 0; k < T_EMB_DIM / 2; k++)
    hd->freqs[k] = expf ((gfloat) (-log (T_MAX_PERIOD)) * (gfloat) k / (gfloat) (T_EMB_DIM / 2));
  hd->temb_in = vv_tensor_new_2d (VV_DTYPE_F32, 1, T_EMB_DIM);
  hd->temb_h = vv_tensor_new_2d (VV_DTYPE_F32, 1, H);
  hd->temb_act = vv_tensor_new_2d (VV_DTYPE_F32, 1, H);
  hd->temb = vv_tensor_new_2d (VV_DTYPE_F32, 1, H);
  if (!hd->temb_in || !hd->temb_h || !hd->temb_act || !hd->temb) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "diffusion head: out of memory");
    return NULL;
  }
  return g_steal_pointer (&hd);
}

gint
vv_diffusion_head_get_hidden_size (VvDiffusionHead *head)
{
  return head->hidden;
}

gint
vv_diffusion_head_get_latent_size (VvDiffusionHead *head)
{
  return head->latent;
}

static gboolean
ensure_rows (VvDiffusionHead *hd, gint n, GError **error)
{
  if (n <= hd->cap_rows)
    return TRUE;
  free_scratch (hd);
  gint64 H = hd->hidden, F = hd->ffn;
  struct { VvTensor **t; gint64 cols; } specs[] = {
    { &hd->cond, H }, { &hd->c, H }, { &hd->silu_c, H }, { &hd->x, H }, { &hd->nrm, H },
    { &hd->mod, H }, { &hd->gate, F }, { &hd->up, F }, { &hd->act, F }, { &hd->ffn_out, H },
    { &hd->ada, 3 * H },
  };
  for (guint i = 0; i < G_N_ELEMENTS (specs); i++) {
    *specs[i].t = vv_tensor_new_2d (VV_DTYPE_F32, n, specs[i].cols);
    if (*specs[i].t == NULL) {
      free_scratch (hd);
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
          "diffusion head: out of memory for %d rows", n);
      return FALSE;
    }
  }
  hd->cap_rows = n;
  return TRUE;
}

/* A [rows, cols] F32 view of @data. */
static VvTensor *
view (VvTensor *t, gint64 rows, gint64 cols, gpointer data)
{
  gint64 shape[2] = { rows, cols };
  vv_tensor_init_view (t, VV_DTYPE_F32, 2, shape, data);
  return t;
}

gboolean
vv_diffusion_head_set_condition (VvDiffusionHead *head, const gfloat *h, gint n_rows,
    GError **error)
{
  if (h == NULL || n_rows < 1) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: condition needs at least one row of %" G_GINT64_FORMAT " floats",
        head->cond_w->shape[1]);
    return FALSE;
  }
  if (!ensure_rows (head, n_rows, error))
    return FALSE;
  VvTensor hin, y;
  head->n_rows = 0;
  if (!vv_backend_linear (head->be, view (&y, n_rows, head->hidden, head->cond->data),
          view (&hin, n_rows, head->cond_w->shape[1], (gpointer) h), head->cond_w, NULL, error))
    return FALSE;
  head->n_rows = n_rows;
  return TRUE;
}

/* x ← modulate(x, shift, scale) = x·(1 + scale) + shift, per row (§3). */
static void
modulate_rows (gfloat *y, const gfloat *x, const gfloat *mod, gint n, gint H, gint mod_stride,
    gint shift_off, gint scale_off)
{
  for (gint r = 0; r < n; r++) {
    const gfloat *shift = mod + (gsize) r * mod_stride + shift_off;
    const gfloat *scale = mod + (gsize) r * mod_stride + scale_off;
    const gfloat *xr = x + (gsize) r * H;
    gfloat *yr = y + (gsize) r * H;
    for (gint k = 0; k < H; k++)
      yr[k] = xr[k] * (1.0f + scale[k]) + shift[k];
  }
}

gboolean
vv_diffusion_head_forward (VvDiffusionHead *head, const gfloat *x, gfloat t, gfloat *v_out,
    GError **error)
{
  VvDiffusionHead *hd = head;
  const gint n = hd->n_rows, H = hd->hidden, F = hd->ffn, L = hd->latent;
  if (n < 1) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: no condition set (call vv_diffusion_head_set_condition first)");
    return FALSE;
  }
  if (x == NULL || v_out == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: need x and v_out buffers of %d × %d floats", n, L);
    return FALSE;
  }
  VvBackend *be = hd->be;
  VvTensor a, b, c, d;

  /* §3 step 1: e(t) = [cos(t·f), sin(t·f)] (cos first), t in fp32 (no
   * bf16 rounding: the fp32 CPU reference, §12.6), then mlp.0 → SiLU → mlp.2 */
  gfloat *e = hd->temb_in->data;
  for (gint k = 0; k < T_EMB_DIM / 2; k++) {
    gfloat arg = t * hd->freqs[k];
    e[k] = cosf (arg);
    e[k + T_EMB_DIM / 2] = sinf (arg);
  }
  if (!vv_backend_linear (be, hd->temb_h, hd->temb_in, hd->t1_w, NULL, error) ||
      !vv_backend_unary (be, VV_UNARY_SILU, hd->temb_act, hd->temb_h, error) ||
      !vv_backend_linear (be, hd->temb, hd->temb_act, hd->t2_w, NULL, error))
    return FALSE;

  /* §3 step 2: c = cond_proj(h) + t_emb (one t row broadcast over the
   * batch); SiLU(c) is shared by every adaLN projection. */
  if (!vv_backend_binary (be, VV_BINARY_ADD, view (&a, n, H, hd->c->data),
          view (&b, n, H, hd->cond->data), hd->temb, error) ||
      !vv_backend_unary (be, VV_UNARY_SILU, view (&c, n, H, hd->silu_c->data), &a, error))
    return FALSE;
  VvTensor silu_c = c;

  /* §3 step 3: x₀ = W_in·x */
  VvTensor xs;
  view (&xs, n, H, hd->x->data);
  if (!vv_backend_linear (be, &xs, view (&a, n, L, (gpointer) x), hd->in_w, NULL, error))
    return FALSE;

  /* §3 step 4: adaLN SwiGLU layers, chunk order (shift, scale, gate) */
  gfloat *xh = hd->x->data, *ada = hd->ada->data, *ffn_out = hd->ffn_out->data;
  for (gint l = 0; l < hd->n_layers; l++) {
    const HeadLayer *ly = &hd->layers[l];
    VvTensor ada_t, nrm_t, mod_t, g_t, u_t, act_t, o_t;
    view (&ada_t, n, 3 * H, ada);
    view (&nrm_t, n, H, hd->nrm->data);
    view (&mod_t, n, H, hd->mod->data);
    view (&g_t, n, F, hd->gate->data);
    view (&u_t, n, F, hd->up->data);
    view (&act_t, n, F, hd->act->data);
    view (&o_t, n, H, ffn_out);
    if (!vv_backend_linear (be, &ada_t, &silu_c, ly->ada_w, NULL, error) ||
        !vv_backend_rms_norm (be, &nrm_t, &xs, ly->norm_w, hd->eps, error))
      return FALSE;
    modulate_rows (hd->mod->data, hd->nrm->data, ada, n, H, 3 * H, 0, H);
    if (!vv_backend_linear (be, &g_t, &mod_t, ly->gate_w, NULL, error) ||
        !vv_backend_linear (be, &u_t, &mod_t, ly->up_w, NULL, error) ||
        !vv_backend_unary (be, VV_UNARY_SILU, &act_t, &g_t, error) ||
        !vv_backend_binary (be, VV_BINARY_MUL, &g_t, &act_t, &u_t, error) ||
        !vv_backend_linear (be, &o_t, &g_t, ly->down_w, NULL, error))
      return FALSE;
    /* x ← x + gate ⊙ ffn(...) */
    for (gint r = 0; r < n; r++) {
      const gfloat *gate = ada + (gsize) r * 3 * H + 2 * H;
      gfloat *xr = xh + (gsize) r * H;
      const gfloat *o = ffn_out + (gsize) r * H;
      for (gint k = 0; k < H; k++)
        xr[k] = xr[k] + gate[k] * o[k];
    }
  }

  /* §3 step 5: final layer, (shift, scale), norm without weight */
  VvTensor fada_t, nrm_t, mod_t;
  view (&fada_t, n, 2 * H, ada);
  view (&nrm_t, n, H, hd->nrm->data);
  view (&mod_t, n, H, hd->mod->data);
  if (!vv_backend_linear (be, &fada_t, &silu_c, hd->final_ada_w, NULL, error) ||
      !vv_backend_rms_norm (be, &nrm_t, &xs, NULL, hd->eps, error))
    return FALSE;
  modulate_rows (hd->mod->data, hd->nrm->data, ada, n, H, 2 * H, 0, H);
  /* §3 step 6: the velocity */
  return vv_backend_linear (be, view (&d, n, L, v_out), &mod_t, hd->final_w, NULL, error);
}

void
vv_diffusion_draw_noise (VvTorchGenerator *gen, gint latent_size, gfloat *noise)
{
  /* §12.3: torch.randn(2·B, latent) with B = 1 — both rows are drawn to
   * stay in step with the reference's generator; only the first is used. */
  g_autofree gfloat *both = g_new (gfloat, 2 * (gsize) latent_size);
  vv_torch_randn (gen, both, 2 * (gsize) latent_size, TRUE);
  memcpy (noise, both, sizeof (gfloat) * latent_size);
}

gboolean
vv_diffusion_sample_full (VvDiffusionHead *head, VvScheduler *sched, const gfloat *h_pos,
    const gfloat *h_neg, gfloat cfg_scale, gint n_steps, const gfloat *noise, gfloat *z_out,
    gfloat *trajectory, GError **error)
{
  const gint L = head->latent;
  const gint64 HL = head->cond_w->shape[1];
  if (n_steps != vv_scheduler_get_n_steps (sched) || vv_scheduler_get_dim (sched) != L) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "diffusion sample: scheduler has %d steps of size %d, asked for %d steps of size %d",
        vv_scheduler_get_n_steps (sched), vv_scheduler_get_dim (sched), n_steps, L);
    return FALSE;
  }
  if (h_pos == NULL || h_neg == NULL || noise == NULL || z_out == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion sample: need h_pos, h_neg (%" G_GINT64_FORMAT " floats), noise and z_out "
        "(%d floats)", HL, L);
    return FALSE;
  }
  /* §2.6: cond_proj once per frame, positive row then negative row */
  g_autofree gfloat *hh = g_new (gfloat, 2 * HL);
  memcpy (hh, h_pos, sizeof (gfloat) * HL);
  memcpy (hh + HL, h_neg, sizeof (gfloat) * HL);
  if (!vv_diffusion_head_set_condition (head, hh, 2, error))
    return FALSE;

  g_autofree gfloat *xx = g_new (gfloat, 2 * (gsize) L);
  g_autofree gfloat *vv = g_new (gfloat, 2 * (gsize) L);
  g_autofree gfloat *x = g_memdup2 (noise, sizeof (gfloat) * L);
  vv_scheduler_reset (sched);
  for (gint i = 0; i < n_steps; i++) {
    /* §2.4: the same x for both branches */
    memcpy (xx, x, sizeof (gfloat) * L);
    memcpy (xx + L, x, sizeof (gfloat) * L);
    if (!vv_diffusion_head_forward (head, xx, (gfloat) vv_scheduler_get_timestep (sched, i),
            vv, error))
      return FALSE;
    /* v = v_u + s·(v_c − v_u), written over v_c */
    for (gint k = 0; k < L; k++)
      vv[k] = vv[L + k] + cfg_scale * (vv[k] - vv[L + k]);
    if (!vv_scheduler_step (sched, i, x, vv, x, error))
      return FALSE;
    if (trajectory != NULL)
      memcpy (trajectory + (gsize) i * L, x, sizeof (gfloat) * L);
  }
  memcpy (z_out, x, sizeof (gfloat) * L);
  return TRUE;
}

/**
 * vv_diffusion_sample: (skip)
 * @head: the head
 * @sched: a scheduler for @n_steps steps
 * @h_pos: the positive LM hidden state
 * @h_neg: the negative LM hidden state
 * @cfg_scale: guidance scale s (1.3 in the demos, §2.4)
 * @n_steps: number of diffusion steps
 * @noise: the initial latent
 * @z_out: the sampled latent
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_sample (VvDiffusionHead *head, VvScheduler *sched, const gfloat *h_pos,
    const gfloat *h_neg, gfloat cfg_scale, gint n_steps, const gfloat *noise, gfloat *z_out,
    GError **error)
{
  return vv_diffusion_sample_full (head, sched, h_pos, h_neg, cfg_scale, n_steps, noise,
      z_out, NULL, error);
}
