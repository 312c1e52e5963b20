/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include "vv-config.h"
#include "vv-tensor.h"
#include "vv-backend.h"
#include "vv-layout.h"

G_BEGIN_DECLS

#define VV_MODEL_ERROR (vv_model_error_quark ())
GQuark vv_model_error_quark (void);

/**
 * VvModelError:
 * @VV_MODEL_ERROR_FILE: a checkpoint file is missing or unreadable
 * @VV_MODEL_ERROR_INDEX: model.safetensors.index.json is malformed or
 *   inconsistent with the shards
 * @VV_MODEL_ERROR_MISSING_TENSOR: a tensor the config requires is absent
 * @VV_MODEL_ERROR_TENSOR_SHAPE: a tensor has the wrong shape
 * @VV_MODEL_ERROR_TENSOR_DTYPE: a tensor has a dtype the engine cannot use
 */
typedef enum {
  VV_MODEL_ERROR_FILE,
  VV_MODEL_ERROR_INDEX,
  VV_MODEL_ERROR_MISSING_TENSOR,
  VV_MODEL_ERROR_TENSOR_SHAPE,
  VV_MODEL_ERROR_TENSOR_DTYPE,
} VvModelError;

typedef struct _VvModel VvModel;

/**
 * VvModelLoadFlags:
 * @VV_MODEL_LOAD_DEFAULT: map and validate every tensor
 * @VV_MODEL_LOAD_PREFAULT: also touch every weight page after mapping, so the
 *   first frame does not pay for page faults
 * @VV_MODEL_LOAD_INT8: the LM's and the diffusion head's linear weights
 *   are quantised to int8 with one F32 scale per output channel (symmetric,
 *   scale = max|row| / 127, codes rounded to nearest) the first time a block
 *   asks for them, and read in that form (half the bytes of bf16); the
 *   σ-VAE, connectors, embeddings, norms and biases keep their checkpoint
 *   dtype. Only the cpu backend reads int8 weights.
 */
typedef enum {
  VV_MODEL_LOAD_DEFAULT = 0,
  VV_MODEL_LOAD_PREFAULT = 1 << 0,
  VV_MODEL_LOAD_INT8 = 1 << 1,
} VvModelLoadFlags;

/* Loads a Hugging Face VibeVoice folder: config.json,
 * preprocessor_config.json, and model.safetensors or
 * model.safetensors.index.json + shards. Weights are memory-mapped in their
 * checkpoint dtype. Every tensor the config requires is checked for
 * presence, shape and dtype; errors name the tensor and file. */
VvModel         *vv_model_load (const gchar *dir, VvModelLoadFlags flags, GError **error);
VvModel         *vv_model_load_shared (const gchar *dir, VvModelLoadFlags flags, GError **error);
#define VV_TYPE_MODEL (vv_model_get_type ())
GType            vv_model_get_type (void);
VvModel         *vv_model_ref (VvModel *model);
void             vv_model_unref (VvModel *model);
const VvConfig  *vv_model_get_config (VvModel *model);
const gchar     *vv_model_get_dir (VvModel *model);
/* Borrowed view of a tensor, or NULL (no error) if absent. */
const VvTensor  *vv_model_get_tensor (VvModel *model, const gchar *name);
/* Like get_tensor, but a missing tensor is a VV_MODEL_ERROR naming it. */
const VvTensor  *vv_model_require_tensor (VvModel *model, const gchar *name, GError **error);
/* lm_head.weight when present, else the tied embedding (MODEL-SPEC §6). */
const VvTensor  *vv_model_get_lm_head (VvModel *model);
const gchar     *vv_model_get_lm_head_name (VvModel *model);
/* The weight in @be's device memory: the mapped view on the host, else
 * uploaded once per device and shared (see vv-model.c). */
const VvTensor  *vv_model_require_tensor_on (VvModel *model, VvBackend *be, const gchar *name,
                                             GError **error);
/* TRUE when loaded with VV_MODEL_LOAD_INT8. */
gboolean         vv_model_has_int8_weights (VvModel *model);
/* Whether VV_MODEL_LOAD_INT8 quantises the checkpoint tensor @name. */
gboolean         vv_model_int8_quantises (const gchar *name);
/* Quantises a 2-D F32/F16/BF16 host tensor to int8 rows (see
 * VV_MODEL_LOAD_INT8); errors name @what and the row with a non-finite value. */
VvTensor        *vv_quantize_int8_rows (const VvTensor *w, const gchar *what, GError **error);
gfloat           vv_model_get_speech_scaling_factor (VvModel *model);
gfloat           vv_model_get_speech_bias_factor (VvModel *model);
guint            vv_model_get_n_shards (VvModel *model);
guint64          vv_model_get_n_bytes (VvModel *model);
guint64          vv_model_get_component_params (VvModel *model, VvComponent component);
guint64          vv_model_get_component_bytes (VvModel *model, VvComponent component);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvModel, vv_model_unref)

G_END_DECLS
