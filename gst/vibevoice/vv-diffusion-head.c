/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-diffusion-head.h"
#include "vv-graph-cache.h"

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
  gint hidden, ffn, latent, n_layers, hidden_lm;
  gfloat eps;
  const VvTensor *in_w, *cond_w, *t1_w, *t2_w, *final_w, *final_ada_w;
  HeadLayer *layers;
  /* device scratch, allocated once for cap_rows rows; a forward uses the
   * first n_rows (those of the last set_condition()) */
  gint n_rows, cap_rows;
  VvTensor *cond, *c, *silu_c, *x, *nrm, *mod, *gate, *up, *act, *ffn_out, *ada;
  VvTensor *temb_in, *temb_h, *temb_act, *temb;
  /* the CFG batch of vv_diffusion_sample*(): conditions [2n, H_lm], x and v
   * [2n, L], a (positive, negative) pair of rows per stream */
  VvTensor *s_h, *s_x, *s_v;
  /* staging of the host-pointer API (grown on demand, outside a forward) */
  VvTensor *io_a, *io_b, *io_c, *io_d;
  /* vv_diffusion_sample()'s ops as one graph, on backends that have them */
  VvGraphCache *sample_graph;
};

void
vv_diffusion_head_free (VvDiffusionHead *head)
{
  if (head == NULL)
    return;
  VvTensor **ts[] = { &head->cond, &head->c, &head->silu_c, &head->x, &head->nrm,
    &head->mod, &head->gate, &head->up, &head->act, &head->ffn_out, &head->ada,
    &head->temb_in, &head->temb_h, &head->temb_act, &head->temb, &head->s_h, &head->s_x,
    &head->s_v, &head->io_a, &head->io_b, &head->io_c, &head->io_d };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    g_clear_pointer (ts[i], vv_tensor_free);
  vv_graph_cache_free (head->sample_graph);
  g_free (head->layers);
  g_free (head);
}

/* @name with exactly the shape [d0] (d1 = 0) or [d0, d1], in @be's memory. */
static const VvTensor *
require (VvModel *model, VvBackend *be, const gchar *name, gint64 d0, gint64 d1,
    GError **error)
{
  const VvTensor *t = vv_model_require_tensor_on (model, be, name, error);
  if (t == NULL)
    return NULL;
  gboolean ok = d1 == 0 ? (t->ndim == 1 && t->shape[0] == d0)
      : (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1);
  if (!ok) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    if (d1 == 0)
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
          "diffusion head: tensor %s has shape %s, expected [%" G_GINT64_FORMAT "]",
          name, s, d0);
    else
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
          "diffusion head: tensor %s has shape %s, expected [%" G_GINT64_FORMAT ", %"
          G_GINT64_FORMAT "]", name, s, d0, d1);
    return NULL;
  }
  return t;
}

static VvTensor *
new_2d (VvBackend *be, gint64 rows, gint64 cols, GError **error)
{
  gint64 shape[2] = { rows, cols };
  return vv_backend_tensor_new (be, VV_DTYPE_F32, 2, shape, error);
}

/**
 * vv_diffusion_head_new_full: (skip)
 * @model: a loaded model (must outlive the head)
 * @be: the backend to run on (weights come from the model's store for its
 *   device)
 * @max_rows: the most condition rows set_condition() takes, 1 to
 *   %VV_DIFFUSION_HEAD_MAX_ROWS (vv_diffusion_sample() needs 2)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the head
 */
VvDiffusionHead *
vv_diffusion_head_new_full (VvModel *model, VvBackend *be, gint max_rows, GError **error)
{
  if (max_rows < 1 || max_rows > VV_DIFFUSION_HEAD_MAX_ROWS) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: max_rows %d out of range (1 to %d)", max_rows,
        VV_DIFFUSION_HEAD_MAX_ROWS);
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
  hd->hidden_lm = full->lm.hidden_size;
  hd->eps = (gfloat) cfg->rms_norm_eps;
  gint64 H = hd->hidden, F = hd->ffn, L = hd->latent, HL = hd->hidden_lm;
  /* cond_proj maps the LM hidden size onto the head's (equal in every
   * published model, §3). */
  if ((hd->in_w = require (model, be, "model.prediction_head.noisy_images_proj.weight", H, L, error)) == NULL ||
      (hd->cond_w = require (model, be, "model.prediction_head.cond_proj.weight", H, HL, error)) == NULL ||
      (hd->t1_w = require (model, be, "model.prediction_head.t_embedder.mlp.0.weight", H, T_EMB_DIM, error)) == NULL ||
      (hd->t2_w = require (model, be, "model.prediction_head.t_embedder.mlp.2.weight", H, H, error)) == NULL ||
      (hd->final_w = require (model, be, "model.prediction_head.final_layer.linear.weight", L, H, error)) == NULL ||
      (hd->final_ada_w = require (model, be, "model.prediction_head.final_layer.adaLN_modulation.1.weight", 2 * H, H, error)) == NULL)
    return NULL;
  hd->layers = g_new0 (HeadLayer, hd->n_layers);
  for (gint l = 0; l < hd->n_layers; l++) {
    HeadLayer *ly = &hd->layers[l];
    g_autofree gchar *g = g_strdup_printf ("model.prediction_head.layers.%d.ffn.gate_proj.weight", l);
    g_autofree gchar *u = g_strdup_printf ("model.prediction_head.layers.%d.ffn.up_proj.weight", l);
    g_autofree gchar *d = g_strdup_printf ("model.prediction_head.layers.%d.ffn.down_proj.weight", l);
    g_autofree gchar *n = g_strdup_printf ("model.prediction_head.layers.%d.norm.weight", l);
    g_autofree gchar *a = g_strdup_printf ("model.prediction_head.layers.%d.adaLN_modulation.1.weight", l);
    if ((ly->gate_w = require (model, be, g, F, H, error)) == NULL ||
        (ly->up_w = require (model, be, u, F, H, error)) == NULL ||
        (ly->down_w = require (model, be, d, H, F, error)) == NULL ||
        (ly->ada_w = require (model, be, a, 3 * H, H, error)) == NULL ||
        (ly->norm_w = require (model, be, n, H, 0, error)) == NULL)
      return NULL;
  }
  gint64 R = max_rows;
  /* the CFG batch: a pair of rows per stream (vv_diffusion_sample_rows) */
  gint64 S = MAX (2, R & ~(gint64) 1);
  struct { VvTensor **t; gint64 rows, cols; } specs[] = {
    { &hd->cond, R, H }, { &hd->c, R, H }, { &hd->silu_c, R, H }, { &hd->x, R, H },
    { &hd->nrm, R, H }, { &hd->mod, R, H }, { &hd->gate, R, F }, { &hd->up, R, F },
    { &hd->act, R, F }, { &hd->ffn_out, R, H }, { &hd->ada, R, 3 * H },
    { &hd->temb_in, 1, T_EMB_DIM }, { &hd->temb_h, 1, H }, { &hd->temb_act, 1, H },
    { &hd->temb, 1, H }, { &hd->s_h, S, HL }, { &hd->s_x, S, L }, { &hd->s_v, S, L },
  };
  for (guint i = 0; i < G_N_ELEMENTS (specs); i++)
    if ((*specs[i].t = new_2d (be, specs[i].rows, specs[i].cols, error)) == NULL) {
      g_prefix_error (error, "diffusion head scratch (%d rows): ", max_rows);
      return NULL;
    }
  hd->cap_rows = max_rows;
  hd->sample_graph = vv_graph_cache_new ();
  return g_steal_pointer (&hd);
}

/**
 * vv_diffusion_head_new: (skip)
 * @model: a loaded model (must outlive the head)
 * @be: the backend to run on
 * @error: return location for a #GError
 *
 * vv_diffusion_head_new_full() for the CFG batch of 2 rows.
 *
 * Returns: (transfer full) (nullable): the head
 */
VvDiffusionHead *
vv_diffusion_head_new (VvModel *model, VvBackend *be, GError **error)
{
  return vv_diffusion_head_new_full (model, be, 2, error);
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

gint
vv_diffusion_head_get_max_rows (VvDiffusionHead *head)
{
  return head->cap_rows;
}

/* The first @rows rows of scratch tensor @t. */
static VvTensor *
rows_of (VvTensor *view, const VvTensor *t, gint64 rows)
{
  vv_tensor_init_rows (view, t, 0, rows);
  return view;
}

/* The start of @t's memory read as [rows, cols] (rows·cols fit in @t). */
static VvTensor *
as_2d (VvTensor *view, const VvTensor *t, gint64 rows, gint64 cols)
{
  gint64 shape[2] = { rows, cols };
  g_assert (rows * cols <= vv_tensor_n_elements (t));
  vv_tensor_init_view (view, VV_DTYPE_F32, 2, shape, t->data);
  view->device = t->device;
  return view;
}

static gboolean
is_2d (const VvTensor *t, gint64 rows, gint64 cols)
{
  return t != NULL && t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols;
}

/**
 * vv_diffusion_head_set_condition: (skip)
 * @head: the head
 * @h: F32 [n, H_lm] in the head's backend memory, 1 ≤ n ≤ the head's max_rows
 * @error: return location for a #GError
 *
 * cond = cond_proj(h), kept until the next call and shared by every step
 * of a frame (§2.6).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_head_set_condition (VvDiffusionHead *head, const VvTensor *h, GError **error)
{
  head->n_rows = 0;
  if (h == NULL || h->ndim != 2 || h->shape[1] != head->hidden_lm || h->shape[0] < 1
      || h->shape[0] > head->cap_rows) {
    g_autofree gchar *s = h ? vv_tensor_shape_string (h) : g_strdup ("none");
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: condition %s must be [n, %d] with 1 ≤ n ≤ %d (the head's max_rows)",
        s, head->hidden_lm, head->cap_rows);
    return FALSE;
  }
  VvTensor y;
  gint n = (gint) h->shape[0];
  if (!vv_backend_linear (head->be, rows_of (&y, head->cond, n), h, head->cond_w, NULL, error))
    return FALSE;
  head->n_rows = n;
  return TRUE;
}

/**
 * vv_diffusion_head_forward: (skip)
 * @head: the head
 * @x: F32 [n, L] noisy latents, n the rows of the last set_condition()
 * @t: the timestep
 * @v: (out caller-allocates): F32 [n, L], the predicted velocities
 * @error: return location for a #GError
 *
 * v = head(x, t, cond) (§3), entirely on the head's backend.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_head_forward (VvDiffusionHead *head, const VvTensor *x, gfloat t, VvTensor *v,
    GError **error)
{
  VvDiffusionHead *hd = head;
  const gint n = hd->n_rows, H = hd->hidden, L = hd->latent;
  if (n < 1) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: no condition set (call vv_diffusion_head_set_condition first)");
    return FALSE;
  }
  if (!is_2d (x, n, L) || !is_2d (v, n, L)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: x and v must be [%d, %d] (the rows of the condition)", n, L);
    return FALSE;
  }
  VvBackend *be = hd->be;
  VvTensor c, cond, silu_c, xs, ada, nrm, mod, g, u, act, o, fada;

  /* §3 step 1: e(t) = [cos(t·f), sin(t·f)] (cos first), t in fp32 (no
   * bf16 rounding: the fp32 CPU reference, §12.6), then mlp.0 → SiLU → mlp.2 */
  if (!vv_backend_timestep_embedding (be, hd->temb_in, t, T_MAX_PERIOD, error) ||
      !vv_backend_linear (be, hd->temb_h, hd->temb_in, hd->t1_w, NULL, error) ||
      !vv_backend_unary (be, VV_UNARY_SILU, hd->temb_act, hd->temb_h, error) ||
      !vv_backend_linear (be, hd->temb, hd->temb_act, hd->t2_w, NULL, error))
    return FALSE;

  /* §3 step 2: c = cond_proj(h) + t_emb (one t row broadcast over the
   * batch); SiLU(c) is shared by every adaLN projection. */
  rows_of (&silu_c, hd->silu_c, n);
  if (!vv_backend_binary (be, VV_BINARY_ADD, rows_of (&c, hd->c, n),
          rows_of (&cond, hd->cond, n), hd->temb, error) ||
      !vv_backend_unary (be, VV_UNARY_SILU, &silu_c, &c, error))
    return FALSE;

  /* §3 step 3: x₀ = W_in·x */
  if (!vv_backend_linear (be, rows_of (&xs, hd->x, n), x, hd->in_w, NULL, error))
    return FALSE;

  /* §3 step 4: adaLN SwiGLU layers, chunk order (shift, scale, gate) */
  rows_of (&ada, hd->ada, n);
  rows_of (&nrm, hd->nrm, n);
  rows_of (&mod, hd->mod, n);
  rows_of (&g, hd->gate, n);
  rows_of (&u, hd->up, n);
  rows_of (&act, hd->act, n);
  rows_of (&o, hd->ffn_out, n);
  for (gint l = 0; l < hd->n_layers; l++) {
    const HeadLayer *ly = &hd->layers[l];
    if (!vv_backend_linear (be, &ada, &silu_c, ly->ada_w, NULL, error) ||
        !vv_backend_rms_norm (be, &nrm, &xs, ly->norm_w, hd->eps, error) ||
        !vv_backend_modulate (be, &mod, &nrm, &ada, 0, H, error) ||
        !vv_backend_linear (be, &g, &mod, ly->gate_w, NULL, error) ||
        !vv_backend_linear (be, &u, &mod, ly->up_w, NULL, error) ||
        !vv_backend_unary (be, VV_UNARY_SILU, &act, &g, error) ||
        !vv_backend_binary (be, VV_BINARY_MUL, &g, &act, &u, error) ||
        !vv_backend_linear (be, &o, &g, ly->down_w, NULL, error) ||
        /* x ← x + gate ⊙ ffn(...) */
        !vv_backend_gated_add (be, &xs, &xs, &ada, 2 * H, &o, error))
      return FALSE;
  }

  /* §3 step 5: final layer, (shift, scale) packed as [n, 2H] at the start
   * of the ada scratch, norm without weight */
  as_2d (&fada, hd->ada, n, 2 * H);
  if (!vv_backend_linear (be, &fada, &silu_c, hd->final_ada_w, NULL, error) ||
      !vv_backend_rms_norm (be, &nrm, &xs, NULL, hd->eps, error) ||
      !vv_backend_modulate (be, &mod, &nrm, &fada, 0, H, error))
    return FALSE;
  /* §3 step 6: the velocity */
  return vv_backend_linear (be, v, &mod, hd->final_w, NULL, error);
}

/* A device staging tensor of the host API holding at least rows × cols
 * floats, viewed as [rows, cols] in @view. */
static VvTensor *
io_view (VvDiffusionHead *hd, VvTensor **slot, VvTensor *view, gint64 rows, gint64 cols,
    GError **error)
{
  if (*slot == NULL || vv_tensor_n_elements (*slot) < rows * cols) {
    g_clear_pointer (slot, vv_tensor_free);
    if ((*slot = new_2d (hd->be, rows, cols, error)) == NULL)
      return NULL;
  }
  return as_2d (view, *slot, rows, cols);
}

/**
 * vv_diffusion_head_set_condition_host: (skip)
 * @head: the head
 * @h: (array): @n_rows × H_lm floats, host memory
 * @n_rows: number of conditions
 * @error: return location for a #GError
 *
 * vv_diffusion_head_set_condition() on host memory.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_head_set_condition_host (VvDiffusionHead *head, const gfloat *h, gint n_rows,
    GError **error)
{
  if (h == NULL || n_rows < 1 || n_rows > head->cap_rows) {
    head->n_rows = 0;
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion head: condition needs 1 to %d rows (the head's max_rows) of %d floats, "
        "got %d", head->cap_rows, head->hidden_lm, h == NULL ? 0 : n_rows);
    return FALSE;
  }
  VvTensor d;
  return io_view (head, &head->io_a, &d, n_rows, head->hidden_lm, error)
      && vv_backend_tensor_set (head->be, &d, 0, h, vv_tensor_n_bytes (&d), error)
      && vv_diffusion_head_set_condition (head, &d, error);
}

/**
 * vv_diffusion_head_forward_host: (skip)
 * @head: the head
 * @x: (array): n × L floats, host memory (n: rows of the last condition)
 * @t: the timestep
 * @v_out: (array): n × L floats, host memory
 * @error: return location for a #GError
 *
 * vv_diffusion_head_forward() on host memory.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_head_forward_host (VvDiffusionHead *head, const gfloat *x, gfloat t,
    gfloat *v_out, GError **error)
{
  const gint n = head->n_rows, L = head->latent;
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
  VvTensor dx, dv;
  return io_view (head, &head->io_b, &dx, n, L, error)
      && io_view (head, &head->io_c, &dv, n, L, error)
      && vv_backend_tensor_set (head->be, &dx, 0, x, vv_tensor_n_bytes (&dx), error)
      && vv_diffusion_head_forward (head, &dx, t, &dv, error)
      && vv_backend_tensor_get (head->be, &dv, 0, v_out, vv_tensor_n_bytes (&dv), error);
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

typedef struct {
  VvDiffusionHead *head;
  VvScheduler *sched;
  const VvTensor *h_pos, *h_neg;
  gfloat cfg_scale;
  gint n_steps;
  const VvTensor *noise;
  VvTensor *z, *trajectory;
} SampleArgs;

static gboolean sample_ops (gpointer data, GError **error);

/**
 * vv_diffusion_sample_full: (skip)
 * @head: the head (max_rows ≥ 2)
 * @sched: a scheduler for @n_steps steps of the latent size
 * @h_pos: F32 [1, H_lm], the positive LM hidden state
 * @h_neg: F32 [1, H_lm], the negative LM hidden state
 * @cfg_scale: guidance scale s (1.3 in the demos, §2.4)
 * @n_steps: number of diffusion steps
 * @noise: F32 [1, L], the initial latent
 * @z: (out caller-allocates): F32 [1, L], the sampled latent (may be @noise)
 * @trajectory: (nullable): F32 [n_steps, L], x after every step
 * @error: return location for a #GError
 *
 * Every tensor is in the head's backend memory; nothing is copied between
 * host and device. The scheduler is bound to the head's backend (its state
 * allocated there on first use) and reset. On a backend with graphs (CUDA)
 * the ops are recorded once per step count, scale and set of tensor
 * addresses, and replayed with one launch (docs/CUDA.md).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_sample_full (VvDiffusionHead *head, VvScheduler *sched, const VvTensor *h_pos,
    const VvTensor *h_neg, gfloat cfg_scale, gint n_steps, const VvTensor *noise, VvTensor *z,
    VvTensor *trajectory, GError **error)
{
  const gint L = head->latent;
  VvBackend *be = head->be;
  if (n_steps != vv_scheduler_get_n_steps (sched) || vv_scheduler_get_dim (sched) != L) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "diffusion sample: scheduler has %d steps of size %d, asked for %d steps of size %d",
        vv_scheduler_get_n_steps (sched), vv_scheduler_get_dim (sched), n_steps, L);
    return FALSE;
  }
  if (head->cap_rows < 2) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion sample: the head takes %d condition row(s), CFG needs 2", head->cap_rows);
    return FALSE;
  }
  if (!is_2d (h_pos, 1, head->hidden_lm) || !is_2d (h_neg, 1, head->hidden_lm)
      || !is_2d (noise, 1, L) || !is_2d (z, 1, L)
      || (trajectory != NULL && !is_2d (trajectory, n_steps, L))) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion sample: need h_pos, h_neg [1, %d], noise and z [1, %d] and a trajectory "
        "[%d, %d] or none", head->hidden_lm, L, n_steps, L);
    return FALSE;
  }
  if (!vv_scheduler_set_backend (sched, be, error))
    return FALSE;
  /* One frame is a fixed sequence of ops for given steps, scale and
   * tensors: recorded once as a graph and replayed (docs/CUDA.md). The key
   * is what the recording depends on; the ops are sample_ops(). */
  struct {
    gint n_steps;
    gfloat cfg_scale;
    gconstpointer h_pos, h_neg, noise, z, trajectory, state;
  } key;
  memset (&key, 0, sizeof key);
  key.n_steps = n_steps;
  key.cfg_scale = cfg_scale;
  key.h_pos = h_pos->data;
  key.h_neg = h_neg->data;
  key.noise = noise->data;
  key.z = z->data;
  key.trajectory = trajectory != NULL ? trajectory->data : NULL;
  key.state = vv_scheduler_get_state (sched)->data;
  SampleArgs a = { head, sched, h_pos, h_neg, cfg_scale, n_steps, noise, z, trajectory };
  if (!vv_graph_cache_run (head->sample_graph, be, &key, sizeof key, sample_ops, &a, error))
    return FALSE;
  /* host state a replay does not set (the scheduler's step count is left
   * at the recording's end, as the ops leave it) */
  head->n_rows = 2;
  return TRUE;
}

/* The ops of vv_diffusion_sample_full() on checked operands. */
static gboolean
sample_ops (gpointer data, GError **error)
{
  const SampleArgs *a = data;
  VvDiffusionHead *head = a->head;
  VvScheduler *sched = a->sched;
  const VvTensor *h_pos = a->h_pos, *h_neg = a->h_neg, *noise = a->noise;
  VvTensor *z = a->z, *trajectory = a->trajectory;
  const gfloat cfg_scale = a->cfg_scale;
  const gint n_steps = a->n_steps;
  VvBackend *be = head->be;
  /* §2.6: cond_proj once per frame, positive row then negative row */
  VvTensor r0, r1, v0, v1, tr;
  if (!vv_backend_tensor_copy (be, rows_of (&r0, head->s_h, 1), h_pos, error) ||
      !vv_backend_tensor_copy (be, (vv_tensor_init_rows (&r1, head->s_h, 1, 1), &r1), h_neg,
          error) ||
      !vv_diffusion_head_set_condition (head, head->s_h, error) ||
      !vv_backend_tensor_copy (be, z, noise, error))
    return FALSE;
  rows_of (&r0, head->s_x, 1);
  vv_tensor_init_rows (&r1, head->s_x, 1, 1);
  rows_of (&v0, head->s_v, 1);
  vv_tensor_init_rows (&v1, head->s_v, 1, 1);
  vv_scheduler_reset (sched);
  for (gint i = 0; i < n_steps; i++) {
    /* §2.4: the same x for both branches; v = v_u + s·(v_c − v_u) over v_c */
    if (!vv_backend_tensor_copy (be, &r0, z, error) ||
        !vv_backend_tensor_copy (be, &r1, z, error) ||
        !vv_diffusion_head_forward (head, head->s_x,
            (gfloat) vv_scheduler_get_timestep (sched, i), head->s_v, error) ||
        !vv_backend_cfg_combine (be, &v0, &v0, &v1, cfg_scale, error) ||
        !vv_scheduler_step (sched, i, z, &v0, z, error))
      return FALSE;
    if (trajectory != NULL) {
      vv_tensor_init_rows (&tr, trajectory, i, 1);
      if (!vv_backend_tensor_copy (be, &tr, z, error))
        return FALSE;
    }
  }
  return TRUE;
}

/**
 * vv_diffusion_sample: (skip)
 * @head: the head
 * @sched: a scheduler for @n_steps steps
 * @h_pos: F32 [1, H_lm], the positive LM hidden state (device)
 * @h_neg: F32 [1, H_lm], the negative LM hidden state (device)
 * @cfg_scale: guidance scale s (1.3 in the demos, §2.4)
 * @n_steps: number of diffusion steps
 * @noise: F32 [1, L], the initial latent (device)
 * @z: (out caller-allocates): F32 [1, L], the sampled latent (device)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_sample (VvDiffusionHead *head, VvScheduler *sched, const VvTensor *h_pos,
    const VvTensor *h_neg, gfloat cfg_scale, gint n_steps, const VvTensor *noise, VvTensor *z,
    GError **error)
{
  return vv_diffusion_sample_full (head, sched, h_pos, h_neg, cfg_scale, n_steps, noise, z,
      NULL, error);
}

/**
 * vv_diffusion_sample_full_host: (skip)
 * @head: the head
 * @sched: a scheduler for @n_steps steps
 * @h_pos: (array): H_lm floats, host memory
 * @h_neg: (array): H_lm floats, host memory
 * @cfg_scale: guidance scale
 * @n_steps: number of diffusion steps
 * @noise: (array): L floats, host memory, the initial latent
 * @z_out: (array): L floats, host memory, the sampled latent
 * @trajectory: (array) (nullable): n_steps × L floats, host memory
 * @error: return location for a #GError
 *
 * vv_diffusion_sample_full() on host memory (uploads the inputs, downloads
 * the results).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_sample_full_host (VvDiffusionHead *head, VvScheduler *sched, const gfloat *h_pos,
    const gfloat *h_neg, gfloat cfg_scale, gint n_steps, const gfloat *noise, gfloat *z_out,
    gfloat *trajectory, GError **error)
{
  const gint L = head->latent, HL = head->hidden_lm;
  if (h_pos == NULL || h_neg == NULL || noise == NULL || z_out == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion sample: need h_pos, h_neg (%d floats), noise and z_out (%d floats)", HL, L);
    return FALSE;
  }
  if (n_steps < 1 || n_steps > VV_SCHEDULER_TRAIN_STEPS) {
    g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
        "diffusion sample: %d steps (1 to %d allowed)", n_steps, VV_SCHEDULER_TRAIN_STEPS);
    return FALSE;
  }
  /* staging: io_a [2, H_lm] (h_pos, h_neg), io_b [2, L] (noise, z),
   * io_d the trajectory */
  VvTensor hh, xz, hp, hn, nz, zz, tr;
  if (!io_view (head, &head->io_a, &hh, 2, HL, error) ||
      !io_view (head, &head->io_b, &xz, 2, L, error) ||
      (trajectory != NULL && !io_view (head, &head->io_d, &tr, n_steps, L, error)))
    return FALSE;
  rows_of (&hp, &hh, 1);
  vv_tensor_init_rows (&hn, &hh, 1, 1);
  rows_of (&nz, &xz, 1);
  vv_tensor_init_rows (&zz, &xz, 1, 1);
  return vv_backend_tensor_set (head->be, &hp, 0, h_pos, sizeof (gfloat) * HL, error)
      && vv_backend_tensor_set (head->be, &hn, 0, h_neg, sizeof (gfloat) * HL, error)
      && vv_backend_tensor_set (head->be, &nz, 0, noise, sizeof (gfloat) * L, error)
      && vv_diffusion_sample_full (head, sched, &hp, &hn, cfg_scale, n_steps, &nz, &zz,
          trajectory != NULL ? &tr : NULL, error)
      && vv_backend_tensor_get (head->be, &zz, 0, z_out, sizeof (gfloat) * L, error)
      && (trajectory == NULL || vv_backend_tensor_get (head->be, &tr, 0, trajectory,
              vv_tensor_n_bytes (&tr), error));
}

/**
 * vv_diffusion_sample_host: (skip)
 * @head: the head
 * @sched: a scheduler for @n_steps steps
 * @h_pos: (array): H_lm floats, host memory
 * @h_neg: (array): H_lm floats, host memory
 * @cfg_scale: guidance scale
 * @n_steps: number of diffusion steps
 * @noise: (array): L floats, host memory
 * @z_out: (array): L floats, host memory
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_sample_host (VvDiffusionHead *head, VvScheduler *sched, const gfloat *h_pos,
    const gfloat *h_neg, gfloat cfg_scale, gint n_steps, const gfloat *noise, gfloat *z_out,
    GError **error)
{
  return vv_diffusion_sample_full_host (head, sched, h_pos, h_neg, cfg_scale, n_steps, noise,
      z_out, NULL, error);
}

/**
 * vv_diffusion_sample_rows: (skip)
 * @head: a head made with max_rows ≥ 2 @n
 * @scheds: (array length=n): one scheduler per stream, all for @n_steps steps
 * @h_pos: (array length=n): [1, H_lm] positive conditions, device memory
 * @h_neg: (array length=n): [1, H_lm] negative conditions
 * @cfg_scale: (array length=n): each stream's guidance scale
 * @n_steps: number of diffusion steps (shared: one timestep row per step)
 * @noise: (array length=n): [1, L] initial latents
 * @z: (array length=n): [1, L] sampled latents (may not alias @noise)
 * @n: number of streams, 1 … max_rows / 2
 * @error: return location for a #GError
 *
 * vv_diffusion_sample() for several independent streams at once (batched
 * streams): each step runs the head once over all 2 @n rows, so its weights
 * are read once per step for every stream. On the CPU backend each stream's
 * latent is bit-identical to vv_diffusion_sample() on it alone (the linear
 * kernels' rows are independent up to the small-n limit).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_diffusion_sample_rows (VvDiffusionHead *head, VvScheduler **scheds, const VvTensor **h_pos,
    const VvTensor **h_neg, const gfloat *cfg_scale, gint n_steps, const VvTensor **noise,
    VvTensor **z, guint n, GError **error)
{
  const gint L = head->latent;
  VvBackend *be = head->be;
  if (n < 1 || 2 * (gint64) n > head->cap_rows || scheds == NULL || h_pos == NULL
      || h_neg == NULL || cfg_scale == NULL || noise == NULL || z == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "diffusion sample: %u streams need %u condition rows, the head takes %d", n, 2 * n,
        head->cap_rows);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    if (scheds[i] == NULL || n_steps != vv_scheduler_get_n_steps (scheds[i])
        || vv_scheduler_get_dim (scheds[i]) != L) {
      g_set_error (error, VV_SCHEDULER_ERROR, VV_SCHEDULER_ERROR_INVALID,
          "diffusion sample: stream %u's scheduler does not run %d steps of size %d", i,
          n_steps, L);
      return FALSE;
    }
    if (!is_2d (h_pos[i], 1, head->hidden_lm) || !is_2d (h_neg[i], 1, head->hidden_lm)
        || !is_2d (noise[i], 1, L) || !is_2d (z[i], 1, L)) {
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
          "diffusion sample: stream %u needs h_pos, h_neg [1, %d], noise and z [1, %d]", i,
          head->hidden_lm, L);
      return FALSE;
    }
    if (!vv_scheduler_set_backend (scheds[i], be, error))
      return FALSE;
  }
  const gint64 R = 2 * (gint64) n;
  VvTensor rows, r, v0, v1, xs, vs;
  /* §2.6: cond_proj once per frame; stream i's rows are 2i (positive) and
   * 2i + 1 (negative) */
  for (guint i = 0; i < n; i++) {
    if (!vv_backend_tensor_copy (be, (vv_tensor_init_rows (&r, head->s_h, 2 * i, 1), &r),
            h_pos[i], error) ||
        !vv_backend_tensor_copy (be, (vv_tensor_init_rows (&r, head->s_h, 2 * i + 1, 1), &r),
            h_neg[i], error) ||
        !vv_backend_tensor_copy (be, z[i], noise[i], error))
      return FALSE;
    vv_scheduler_reset (scheds[i]);
  }
  if (!vv_diffusion_head_set_condition (head, rows_of (&rows, head->s_h, R), error))
    return FALSE;
  rows_of (&xs, head->s_x, R);
  rows_of (&vs, head->s_v, R);
  for (gint s = 0; s < n_steps; s++) {
    for (guint i = 0; i < n; i++) {
      if (!vv_backend_tensor_copy (be, (vv_tensor_init_rows (&r, head->s_x, 2 * i, 1), &r),
              z[i], error) ||
          !vv_backend_tensor_copy (be, (vv_tensor_init_rows (&r, head->s_x, 2 * i + 1, 1), &r),
              z[i], error))
        return FALSE;
    }
    if (!vv_diffusion_head_forward (head, &xs, (gfloat) vv_scheduler_get_timestep (scheds[0], s),
            &vs, error))
      return FALSE;
    for (guint i = 0; i < n; i++) {
      vv_tensor_init_rows (&v0, head->s_v, 2 * i, 1);
      vv_tensor_init_rows (&v1, head->s_v, 2 * i + 1, 1);
      if (!vv_backend_cfg_combine (be, &v0, &v0, &v1, cfg_scale[i], error) ||
          !vv_scheduler_step (scheds[i], s, z[i], &v0, z[i], error))
        return FALSE;
    }
  }
  return TRUE;
}
