/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"
#include "vv-speech-tokenizer.h"

G_BEGIN_DECLS

typedef struct _VvConnector VvConnector;

/* SpeechConnector (MODEL-SPEC §3.1): fc1 (d_in → H, bias) → RMSNorm (eps
 * 1e-6, weight) → fc2 (H → H, bias); no activation. The acoustic one maps
 * 64-d normalised latents, the semantic one 128-d semantic features, into
 * the LM's embedding space. */
VvConnector *vv_connector_new (VvModel *model, VvBackend *be, VvSpeechTokenizerKind kind,
                               GError **error);
void         vv_connector_free (VvConnector *conn);
gint         vv_connector_get_input_dim (VvConnector *conn);
gint         vv_connector_get_output_dim (VvConnector *conn);
/* Any backend. @x: F32 [n, input_dim], @y: F32 [n, output_dim], both in
 * the backend's memory; no host transfer. */
gboolean     vv_connector_forward (VvConnector *conn, const VvTensor *x, VvTensor *y,
                                   GError **error);
/* Host memory: @x n_rows × input_dim floats; @out n_rows × output_dim. */
gboolean     vv_connector_forward_host (VvConnector *conn, const gfloat *x, gsize n_rows,
                                        gfloat *out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvConnector, vv_connector_free)

G_END_DECLS
