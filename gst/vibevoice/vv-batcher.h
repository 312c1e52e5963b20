/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __VV_BATCHER_H__
#define __VV_BATCHER_H__

#include "vv-session.h"

G_BEGIN_DECLS

/* Batched streams for generations on threads of their own (one per
 * GStreamer element, say), all on one engine: each generation's steps meet
 * in the batcher, one thread runs the joint half of the step
 * (vv_session_step_batch_joint(): one LM pass and one diffusion sampling
 * for everyone waiting) and each thread then finishes its own step
 * (decoding, callbacks) itself. A generation waits for the others at most
 * about one joint step's time, then goes on with whoever is there, so a
 * stalled stream slows the others by a bounded amount. Sessions must share
 * the model and backend (the engine's); steps with different diffusion step
 * counts are never put in one batch. */
typedef struct _VvBatcher VvBatcher;

VvBatcher *vv_batcher_new (void);
VvBatcher *vv_batcher_new_with_wait (gint64 wait_us);
void       vv_batcher_free (VvBatcher *batcher);

/* vv_session_generate_prompt() with every step taken through @batcher. */
gboolean   vv_batcher_generate_prompt (VvBatcher *batcher, VvSession *session,
                                       VvPrompt *prompt, const VvSessionParams *params,
                                       VvSessionResult *out, GError **error);

G_END_DECLS

#endif /* __VV_BATCHER_H__ */
