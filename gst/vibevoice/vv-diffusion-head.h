/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"
#include "vv-rng.h"
#include "vv-scheduler.h"

G_BEGIN_DECLS

typedef struct _VvDiffusionHead VvDiffusionHead;

/* The diffusion (prediction) head, MODEL-SPEC §3: predicts the velocity v
 * of a noisy 64-d latent x at timestep t, conditioned on an LM hidden state
 * h. Weights (model.prediction_head.*) are resolved once here. Host
 * backends only for now (the modulation is applied on the host). */
VvDiffusionHead *vv_diffusion_head_new (VvModel *model, VvBackend *be, GError **error);
void             vv_diffusion_head_free (VvDiffusionHead *head);
gint             vv_diffusion_head_get_hidden_size (VvDiffusionHead *head);
gint             vv_diffusion_head_get_latent_size (VvDiffusionHead *head);

/* cond = cond_proj(h) for @n_rows conditions (n_rows × hidden floats);
 * kept until the next call, shared by every step of a frame (§2.6). */
gboolean         vv_diffusion_head_set_condition (VvDiffusionHead *head, const gfloat *h,
                                                  gint n_rows, GError **error);
/* v = head(x, t, cond) for the rows of the last set_condition():
 * @x: n_rows × latent floats; @v_out: n_rows × latent floats. */
gboolean         vv_diffusion_head_forward (VvDiffusionHead *head, const gfloat *x, gfloat t,
                                            gfloat *v_out, GError **error);

/* Draws the reference's per-frame noise, `torch.randn(2, latent)` on the
 * CPU generator (§12.3), and copies the first row (the one that matters,
 * §2.4) to @noise (latent floats). */
void             vv_diffusion_draw_noise (VvTorchGenerator *gen, gint latent_size,
                                          gfloat *noise);

/* One latent by CFG sampling (§2.4, §4.3): the scheduler is reset, then for
 * each of its @n_steps steps the head is evaluated on a batch of 2 (x with
 * h⁺, x with h⁻), v = v_u + s·(v_c − v_u), and the scheduler steps.
 * @h_pos, @h_neg: hidden floats each; @noise: the initial x (latent
 * floats); @z_out: the final latent. @trajectory (nullable): receives x
 * after every step, n_steps × latent floats. */
gboolean         vv_diffusion_sample_full (VvDiffusionHead *head, VvScheduler *sched,
                                           const gfloat *h_pos, const gfloat *h_neg,
                                           gfloat cfg_scale, gint n_steps, const gfloat *noise,
                                           gfloat *z_out, gfloat *trajectory, GError **error);
gboolean         vv_diffusion_sample (VvDiffusionHead *head, VvScheduler *sched,
                                      const gfloat *h_pos, const gfloat *h_neg,
                                      gfloat cfg_scale, gint n_steps, const gfloat *noise,
                                      gfloat *z_out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvDiffusionHead, vv_diffusion_head_free)

G_END_DECLS
