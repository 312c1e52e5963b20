/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include "vv-backend.h"
#include "vv-model.h"
#include "vv-batcher.h"

G_BEGIN_DECLS

/**
 * VvEngine:
 *
 * What one pipeline (or one tool run) computes with: a loaded model, one
 * backend on the chosen device (one thread pool or stream), and through the
 * model's store the weights on that device. Every element of a pipeline
 * shares one engine (the `vv.engine` context); two engines on one device
 * still share the uploaded weights. The backend serialises its ops, so
 * elements in different streaming threads can use it together.
 */
typedef struct _VvEngine VvEngine;

#define VV_TYPE_ENGINE (vv_engine_get_type ())
GType        vv_engine_get_type (void);

VvEngine    *vv_engine_new (VvModel *model, const gchar *device, gint n_threads,
                            GError **error);
VvEngine    *vv_engine_ref (VvEngine *engine);
void         vv_engine_unref (VvEngine *engine);
VvModel     *vv_engine_get_model (VvEngine *engine);
VvBackend   *vv_engine_get_backend (VvEngine *engine);
const gchar *vv_engine_get_device_name (VvEngine *engine);
gint         vv_engine_get_n_threads (VvEngine *engine);
VvBatcher   *vv_engine_get_batcher (VvEngine *engine);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvEngine, vv_engine_unref)

G_END_DECLS
