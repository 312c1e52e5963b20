/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/*
 * One recorded graph of a fixed sequence of backend ops (vv-backend.h's
 * VvBackendGraph), kept with the key it was recorded for: the blocks whose
 * per-frame work has fixed shapes (the diffusion head's sampling) run it
 * through vv_graph_cache_run(), which replays the graph when the key is
 * unchanged, records it again when the key changed, and runs the ops as
 * they come where the backend has no graphs or recording failed. Not
 * installed.
 *
 * The key must hold everything the ops' recording depends on that can
 * change between calls: the device addresses of the tensors they read and
 * write, and their host scalars (step count, scale, …).
 */

#include "vv-backend.h"

G_BEGIN_DECLS

typedef struct _VvGraphCache VvGraphCache;

/* issues the ops (eagerly, or into a recording) */
typedef gboolean (*VvGraphOpsFunc) (gpointer data, GError **error);

VvGraphCache *vv_graph_cache_new (void);
void          vv_graph_cache_free (VvGraphCache *cache);
/* Runs @ops on @be for @key (@key_size bytes, compared bytewise: zero
 * padding). The ops' results are the same whichever way they ran; only
 * host state they change is not replayed (the caller restores it). */
gboolean      vv_graph_cache_run (VvGraphCache *cache, VvBackend *be, gconstpointer key,
                                  gsize key_size, VvGraphOpsFunc ops, gpointer data,
                                  GError **error);

G_END_DECLS
