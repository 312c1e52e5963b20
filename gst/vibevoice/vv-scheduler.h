/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"

G_BEGIN_DECLS

#define VV_SCHEDULER_ERROR (vv_scheduler_error_quark ())
GQuark vv_scheduler_error_quark (void);

typedef enum {
  VV_SCHEDULER_ERROR_INVALID,   /* bad step count / step index / size */
} VvSchedulerError;

#define VV_SCHEDULER_TRAIN_STEPS 1000

/**
 * VvScheduler:
 *
 * DPM-Solver++ 2M (midpoint, lower_order_final, final σ = 0, v-prediction,
 * linspace timesteps) over the 1000-step cosine training schedule
 * (MODEL-SPEC §4). The tables for N inference steps are computed once;
 * the solver state (the previous data prediction) lives in the scheduler
 * and is reset by vv_scheduler_reset() for every latent (§4.3).
 *
 * All per-step values are fp32, computed with fp32 arithmetic as the fp32
 * CPU reference does (§4.1, §12.5: ᾱ accumulated in double, stored fp32).
 *
 * The tables live on the host (the per-step scalars are kernel arguments);
 * the solver state lives in the memory of the backend the scheduler is
 * bound to with vv_scheduler_set_backend(), and the update runs there.
 */
typedef struct _VvScheduler VvScheduler;

VvScheduler *vv_scheduler_new (gint n_steps, gint dim, GError **error);
void         vv_scheduler_free (VvScheduler *s);
gint         vv_scheduler_get_n_steps (VvScheduler *s);
gint         vv_scheduler_get_dim (VvScheduler *s);
/* Training ᾱ_i, i = 0..999 (fp32). */
gfloat       vv_scheduler_get_alpha_cumprod (VvScheduler *s, gint i);
/* Integer timestep t_i, i = 0..N−1 (§4.2). */
gint         vv_scheduler_get_timestep (VvScheduler *s, gint i);
/* σ_i, α_i, σ'_i, λ_i for i = 0..N (index N is the final σ = 0 point:
 * σ 0, α 1, σ' 0, λ +inf). */
gfloat       vv_scheduler_get_sigma (VvScheduler *s, gint i);
gfloat       vv_scheduler_get_alpha (VvScheduler *s, gint i);
gfloat       vv_scheduler_get_sigma_t (VvScheduler *s, gint i);
gfloat       vv_scheduler_get_lambda (VvScheduler *s, gint i);
/* Solver order used at step i: 1 for i = 0 and i = N−1, else 2 (§4.3). */
gint         vv_scheduler_get_order (VvScheduler *s, gint i);

/* Binds the scheduler to @be (not owned; must outlive the scheduler or the
 * next binding): its state is allocated in @be's device memory, once per
 * device. */
gboolean     vv_scheduler_set_backend (VvScheduler *s, VvBackend *be, GError **error);
VvBackend   *vv_scheduler_get_backend (VvScheduler *s);
/* The solver state in the bound backend's memory (NULL before the first
 * binding): its address is part of what a recorded graph of the updates
 * depends on (vv_diffusion_sample()). */
const VvTensor *vv_scheduler_get_state (VvScheduler *s);
/* Forgets the previous data prediction (start of a new latent). */
void         vv_scheduler_reset (VvScheduler *s);
/* One update (§4.3): @x (dim elements, F32 in the bound backend's memory)
 * at step @i, @v the (CFG-combined) velocity there; writes the sample at
 * step i+1 to @x_out (the shape of @x, may be @x). Steps must be taken in
 * order 0, 1, …, N−1 after a reset. */
gboolean     vv_scheduler_step (VvScheduler *s, gint i, const VvTensor *x, const VvTensor *v,
                                VvTensor *x_out, GError **error);
/* vv_scheduler_step() on host memory (dim floats each; @x_out may be @x). */
gboolean     vv_scheduler_step_host (VvScheduler *s, gint i, const gfloat *x, const gfloat *v,
                                     gfloat *x_out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvScheduler, vv_scheduler_free)

G_END_DECLS
