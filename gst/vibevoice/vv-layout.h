/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-config.h"
#include "vv-tensor.h"

G_BEGIN_DECLS

/**
 * VvComponent:
 *
 * Parts of the checkpoint, for parameter counts and loading subsets.
 */
typedef enum {
  VV_COMPONENT_LM,
  VV_COMPONENT_LM_HEAD,
  VV_COMPONENT_ACOUSTIC_ENCODER,
  VV_COMPONENT_ACOUSTIC_DECODER,
  VV_COMPONENT_SEMANTIC_ENCODER,
  VV_COMPONENT_ACOUSTIC_CONNECTOR,
  VV_COMPONENT_SEMANTIC_CONNECTOR,
  VV_COMPONENT_PREDICTION_HEAD,
  VV_COMPONENT_SCALARS,
  VV_COMPONENT_COUNT
} VvComponent;

/**
 * VvTensorKind:
 *
 * What a tensor is, so make-model can give it sensible random values.
 */
typedef enum {
  VV_KIND_WEIGHT,        /* matrix / conv kernel: scaled by 1/sqrt(fan_in) */
  VV_KIND_BIAS,
  VV_KIND_NORM,          /* RMSNorm weight, around 1 */
  VV_KIND_LAYER_SCALE,   /* γ of Block1D */
  VV_KIND_EMBEDDING,
  VV_KIND_SCALING_FACTOR,
  VV_KIND_BIAS_FACTOR,
} VvTensorKind;

/**
 * VvTensorInfo:
 * @name: checkpoint tensor name
 * @ndim: number of dimensions
 * @shape: expected shape
 * @component: which part of the model it belongs to
 * @kind: its role
 * @fan_in: inputs per output (for initialisation scales)
 */
typedef struct {
  gchar *name;
  gint ndim;
  gint64 shape[VV_MAX_DIMS];
  VvComponent component;
  VvTensorKind kind;
  gint64 fan_in;
} VvTensorInfo;

/* Every tensor a checkpoint of @config must hold, in a stable order
 * (MODEL-SPEC §7.2; the 1.5B preset reproduces vibevoice-1.5b-tensors.tsv).
 * @with_lm_head: include lm_head.weight (untied models).
 * Returns NULL (and @error) for a config outside vv_config_validate()'s ranges.
 * Returns: (transfer full) (element-type VvTensorInfo): free with g_array_unref */
GArray      *vv_layout_tensors (const VvConfig *config, gboolean with_lm_head, GError **error);
const gchar *vv_component_name (VvComponent component);
VvComponent  vv_component_from_tensor_name (const gchar *name);

G_END_DECLS
