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

/* Most condition rows a head can be built for (its scratch is allocated
 * once for that many rows). */
#define VV_DIFFUSION_HEAD_MAX_ROWS 1024

/* The diffusion (prediction) head, MODEL-SPEC §3: predicts the velocity v
 * of a noisy latent x [n, L] at timestep t, conditioned on LM hidden
 * states h [n, H_lm]. Runs on any backend: weights come from the model's
 * store for the backend's device, scratch is allocated at construction for
 * @max_rows rows (vv_diffusion_head_new(): 2, the CFG batch), and the main
 * functions take tensors in the backend's memory; the _host variants take
 * host pointers and copy through staging tensors. */
VvDiffusionHead *vv_diffusion_head_new (VvModel *model, VvBackend *be, GError **error);
VvDiffusionHead *vv_diffusion_head_new_full (VvModel *model, VvBackend *be, gint max_rows,
                                             GError **error);
void             vv_diffusion_head_free (VvDiffusionHead *head);
gint             vv_diffusion_head_get_hidden_size (VvDiffusionHead *head);
gint             vv_diffusion_head_get_latent_size (VvDiffusionHead *head);
gint             vv_diffusion_head_get_max_rows (VvDiffusionHead *head);

/* cond = cond_proj(h) for h [n, H_lm], 1 ≤ n ≤ max_rows; kept until the
 * next call, shared by every step of a frame (§2.6). */
gboolean         vv_diffusion_head_set_condition (VvDiffusionHead *head, const VvTensor *h,
                                                  GError **error);
/* v [n, L] = head(x [n, L], t, cond), n the rows of the last condition. */
gboolean         vv_diffusion_head_forward (VvDiffusionHead *head, const VvTensor *x, gfloat t,
                                            VvTensor *v, GError **error);

/* Draws the reference's per-frame noise, `torch.randn(2, latent)` on the
 * CPU generator (§12.3), and copies the first row (the one that matters,
 * §2.4) to @noise (latent floats, host memory: the generator runs here). */
void             vv_diffusion_draw_noise (VvTorchGenerator *gen, gint latent_size,
                                          gfloat *noise);

/* One latent by CFG sampling (§2.4, §4.3): the scheduler is bound to the
 * head's backend and reset, then for each of its @n_steps steps the head
 * is evaluated on a batch of 2 (x with h⁺, x with h⁻),
 * v = v_u + s·(v_c − v_u), and the scheduler steps.
 * @h_pos, @h_neg: [1, H_lm]; @noise: the initial x [1, L]; @z: the final
 * latent [1, L]; @trajectory (nullable): x after every step, [n_steps, L].
 * All in the head's backend memory: no host transfer happens inside. */
gboolean         vv_diffusion_sample_full (VvDiffusionHead *head, VvScheduler *sched,
                                           const VvTensor *h_pos, const VvTensor *h_neg,
                                           gfloat cfg_scale, gint n_steps,
                                           const VvTensor *noise, VvTensor *z,
                                           VvTensor *trajectory, GError **error);
gboolean         vv_diffusion_sample (VvDiffusionHead *head, VvScheduler *sched,
                                      const VvTensor *h_pos, const VvTensor *h_neg,
                                      gfloat cfg_scale, gint n_steps, const VvTensor *noise,
                                      VvTensor *z, GError **error);

/* vv_diffusion_sample() for @n independent streams in one batch of 2 @n rows
 * (stream i: rows 2i, 2i + 1), so the head's weights are read once per step
 * for all of them; the streams share @n_steps (one timestep per step) and
 * each has its own scheduler and guidance scale. */
gboolean         vv_diffusion_sample_rows (VvDiffusionHead *head, VvScheduler **scheds,
                                           const VvTensor **h_pos, const VvTensor **h_neg,
                                           const gfloat *cfg_scale, gint n_steps,
                                           const VvTensor **noise, VvTensor **z, guint n,
                                           GError **error);

/* Host-pointer conveniences (copy in, run, copy out). */
gboolean         vv_diffusion_head_set_condition_host (VvDiffusionHead *head, const gfloat *h,
                                                       gint n_rows, GError **error);
gboolean         vv_diffusion_head_forward_host (VvDiffusionHead *head, const gfloat *x,
                                                 gfloat t, gfloat *v_out, GError **error);
gboolean         vv_diffusion_sample_full_host (VvDiffusionHead *head, VvScheduler *sched,
                                                const gfloat *h_pos, const gfloat *h_neg,
                                                gfloat cfg_scale, gint n_steps,
                                                const gfloat *noise, gfloat *z_out,
                                                gfloat *trajectory, GError **error);
gboolean         vv_diffusion_sample_host (VvDiffusionHead *head, VvScheduler *sched,
                                           const gfloat *h_pos, const gfloat *h_neg,
                                           gfloat cfg_scale, gint n_steps, const gfloat *noise,
                                           gfloat *z_out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvDiffusionHead, vv_diffusion_head_free)

G_END_DECLS
