/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include "vv-tokenizer.h"

G_BEGIN_DECLS

#define VV_PROMPT_ERROR (vv_prompt_error_quark ())
GQuark vv_prompt_error_quark (void);

/**
 * VvPromptError:
 * @VV_PROMPT_ERROR_INVALID: inconsistent parts (voices vs placeholders…)
 * @VV_PROMPT_ERROR_FORMAT: vv_prompt_deserialize() was given bytes that are
 *   not a serialized prompt, or a damaged one
 */
typedef enum {
  VV_PROMPT_ERROR_INVALID,
  VV_PROMPT_ERROR_FORMAT,
} VvPromptError;

/**
 * VvPrompt:
 *
 * One utterance, ready for generation: the prompt token ids of MODEL-SPEC
 * §1.3, the positions of the voice placeholders, and for each voice clip
 * its acoustic-encoder means (vv_voice_prompt_encode_means()). The σ-VAE
 * sampling and the connector run at generation time, because the sampling
 * draws from the generation seed's generator first (the reference's order).
 *
 * This is what vvtokenize sends to vvdiffuse (vv_prompt_serialize()).
 * Immutable once made; ref-counted.
 */
typedef struct _VvPrompt VvPrompt;

#define VV_TYPE_PROMPT (vv_prompt_get_type ())
GType         vv_prompt_get_type (void);

/**
 * vv_prompt_new:
 * @tok: the Qwen2.5 tokenizer
 * @turns: (element-type VvScriptTurn): turns with normalised speaker ids
 * @voice_means: (array length=n_voices) (nullable): each voice's means
 *   `[voice_frames[i], latent_dim]`
 * @voice_frames: (array length=n_voices) (nullable): frames per voice
 * @n_voices: voices (speaker i uses voice i); 0 builds a prompt without a
 *   voice section
 * @latent_dim: width of a means row (64)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the prompt
 */
VvPrompt     *vv_prompt_new (VvTokenizer *tok, GArray *turns, const gfloat *const *voice_means,
                             const gsize *voice_frames, guint n_voices, gint latent_dim,
                             GError **error);
VvPrompt     *vv_prompt_ref (VvPrompt *prompt);
void          vv_prompt_unref (VvPrompt *prompt);

/**
 * vv_prompt_get_ids:
 * @prompt: a prompt
 * @n_ids: (out): number of ids (L)
 *
 * Returns: (array length=n_ids) (transfer none): the token ids
 */
const gint32 *vv_prompt_get_ids (VvPrompt *prompt, gsize *n_ids);
/**
 * vv_prompt_get_voice_positions:
 * @prompt: a prompt
 * @n_positions: (out): number of placeholders (sum of voice frames)
 *
 * Returns: (array length=n_positions) (transfer none): ascending positions
 */
const gint32 *vv_prompt_get_voice_positions (VvPrompt *prompt, gsize *n_positions);
guint         vv_prompt_get_n_voices (VvPrompt *prompt);
gint          vv_prompt_get_latent_dim (VvPrompt *prompt);
gsize         vv_prompt_get_voice_frames (VvPrompt *prompt, guint voice);
/* Borrowed `[frames, latent_dim]` means of @voice. */
const gfloat *vv_prompt_get_voice_means (VvPrompt *prompt, guint voice);

/**
 * vv_prompt_serialize:
 * @prompt: a prompt
 *
 * Little-endian binary form: "VVPR", version 1, counts, ids, positions,
 * frames per voice, float32 means.
 *
 * Returns: (transfer full): the bytes
 */
GBytes       *vv_prompt_serialize (VvPrompt *prompt);
/**
 * vv_prompt_deserialize:
 * @bytes: bytes from vv_prompt_serialize()
 * @error: return location for a #GError
 *
 * Checks sizes, counts, positions (ascending, inside the ids, each holding
 * the ⟨diffusion⟩ placeholder id) and that the means are finite.
 *
 * Returns: (transfer full) (nullable): the prompt
 */
VvPrompt     *vv_prompt_deserialize (GBytes *bytes, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvPrompt, vv_prompt_unref)

G_END_DECLS
