/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"
#include "vv-rng.h"

G_BEGIN_DECLS

/**
 * VvVoicePrompt:
 *
 * Turns reference voice clips into the LM input embeddings of the voice
 * section of the prompt (MODEL-SPEC §1.6 steps 2–6, with §12.1 and §12.2):
 *
 * 1. dB normalisation of each clip (if the checkpoint's preprocessor config
 *    has `db_normalize`): target `target_dB_FS`, eps `audio_eps`;
 * 2. all clips zero-padded to the longest one and encoded (non-streaming)
 *    by the acoustic encoder — exactly the reference's padded batch, so the
 *    last partial frame of a shorter clip is the one the reference gets;
 * 3. σ-VAE sampling with a torch-compatible generator, in the reference's
 *    draw order: `randn(B)` (one scale per clip, × fix_std/0.8 = 0.625),
 *    then `randn_like` over the padded `[B][64][T_max]` channel-major memory
 *    order — or, without a generator, the deterministic means;
 * 4. the first ceil(len_i / hop) frames of each clip are kept, normalised as
 *    `(a + speech_bias_factor) · speech_scaling_factor`, and mapped by the
 *    acoustic connector to the LM hidden size.
 *
 * The model must outlive the object. Not thread-safe (one encode at a time).
 */
typedef struct _VvVoicePrompt VvVoicePrompt;

/* Longest voice clip accepted: 10 minutes at 24 kHz. Voice prompts are
 * seconds long; the limit bounds memory on accidental inputs (a whole
 * recording), and errors name it. */
#define VV_VOICE_MAX_SAMPLES (600 * 24000)

VvVoicePrompt *vv_voice_prompt_new (VvModel *model, VvBackend *be, GError **error);
void           vv_voice_prompt_free (VvVoicePrompt *vp);

/* LM hidden size H (the width of one embedding row). */
gint           vv_voice_prompt_get_hidden_size (VvVoicePrompt *vp);
/* Acoustic latent width (64). */
gint           vv_voice_prompt_get_latent_dim (VvVoicePrompt *vp);
/* Samples per frame (3200); a clip of n samples gives ceil(n / hop) frames,
 * the number of ⟨151654⟩ placeholders the prompt holds for it. */
gint           vv_voice_prompt_get_hop (VvVoicePrompt *vp);
gsize          vv_voice_prompt_count_frames (VvVoicePrompt *vp, gsize n_samples);

/**
 * vv_voice_prompt_encode:
 * @vp: a voice prompt encoder
 * @clips: (array length=n_clips): @n_clips mono 24 kHz float clips, as
 *   loaded (before dB normalisation, which is applied here)
 * @lengths: (array length=n_clips): samples per clip, each ≥ 1
 * @n_clips: number of clips (speakers), ≥ 1
 * @gen: (nullable): generator for the σ-VAE sampling (the reference's
 *   behaviour; seed it as `torch.manual_seed`); consumes B + 64·B·T_max
 *   normal draws. %NULL uses the encoder means (deterministic).
 * @frames_per_clip: (out caller-allocates) (array length=n_clips) (optional):
 *   ceil(lengths[i] / hop) for each clip
 * @n_frames: (out): total rows of @embeddings (sum of @frames_per_clip)
 * @embeddings: (out) (transfer full): `[n_frames, H]` floats, clip 0's
 *   frames then clip 1's…, free with g_free()
 * @features: (out) (transfer full) (optional): the connector inputs
 *   `[n_frames, 64]` (normalised latents), free with g_free()
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success. On failure nothing is written to the outputs.
 */
gboolean       vv_voice_prompt_encode (VvVoicePrompt *vp, const gfloat *const *clips,
                                       const gsize *lengths, guint n_clips,
                                       VvTorchGenerator *gen, gsize *frames_per_clip,
                                       gsize *n_frames, gfloat **embeddings,
                                       gfloat **features, GError **error);

/**
 * vv_voice_prompt_encode_means:
 * @vp: a voice prompt encoder
 * @clip: (array length=length): one mono 24 kHz clip, as loaded
 * @length: samples, ≥ 1
 * @pad_to: zero-pad the (normalised) clip to this many samples before
 *   encoding, as the reference's batch does: the longest clip of the batch
 *   uses its own length (or 0), shorter ones the longest length. Any
 *   @pad_to ≥ ceil(length / hop)·hop gives the same frames, since the
 *   encoder is causal: so a shorter clip can be cached with that value.
 * @n_frames: (out): ceil(length / hop)
 * @means: (out) (transfer full): `[n_frames, 64]` acoustic-encoder means
 *   (before σ-VAE sampling and normalisation), free with g_free()
 * @error: return location for a #GError
 *
 * Steps 1–2 of vv_voice_prompt_encode() for one clip: the expensive,
 * deterministic part, which callers may cache per voice file.
 */
gboolean       vv_voice_prompt_encode_means (VvVoicePrompt *vp, const gfloat *clip, gsize length,
                                             gsize pad_to, gsize *n_frames, gfloat **means, GError **error);

/**
 * vv_voice_prompt_embed_host:
 * @vp: a voice prompt encoder
 * @clip_means: (array length=n_clips): each clip's means from
 *   vv_voice_prompt_encode_means()
 * @clip_frames: (array length=n_clips): frames of each clip
 * @n_clips: number of clips, ≥ 1
 * @gen: (nullable): σ-VAE sampling generator, as in vv_voice_prompt_encode()
 * @n_frames: (out): total rows of @embeddings
 * @embeddings: (out) (transfer full): `[n_frames, H]`
 * @features: (out) (transfer full) (optional): `[n_frames, 64]`
 * @error: return location for a #GError
 *
 * Steps 3–4 of vv_voice_prompt_encode(). vv_voice_prompt_encode() is
 * vv_voice_prompt_encode_means() on each clip followed by this. Host
 * memory; vv_voice_prompt_embed() is the device version.
 */
gboolean       vv_voice_prompt_embed_host (VvVoicePrompt *vp, const gfloat *const *clip_means,
                                           const gsize *clip_frames, guint n_clips,
                                           VvTorchGenerator *gen, gsize *n_frames,
                                           gfloat **embeddings, gfloat **features,
                                           GError **error);

/* Steps 3–4 into tensors in @vp's backend memory: the sampled latents
 * (host generator) are uploaded once; normalisation (affine), connector and
 * the row writes run on the device. @rows (nullable, one per frame): the
 * row of @embeddings each frame goes to (e.g. the prompt's voice
 * positions, @embeddings then being the [L, H] prompt embeddings); %NULL:
 * @embeddings is [n_frames, H]. @features (nullable): [n_frames, 64]. */
gboolean       vv_voice_prompt_embed (VvVoicePrompt *vp, const gfloat *const *clip_means,
                                      const gsize *clip_frames, guint n_clips,
                                      VvTorchGenerator *gen, const gint32 *rows,
                                      VvTensor *embeddings, VvTensor *features,
                                      GError **error);

/**
 * vv_audio_db_normalize:
 * @audio: (array length=n) (inout): samples, normalised in place
 * @n: number of samples
 * @target_dB_FS: target RMS level (-25 in the published configs)
 * @eps: small constant (1e-6)
 *
 * The reference processor's `AudioNormalizer` (MODEL-SPEC §1.6 step 2), in
 * float32 as numpy does it: x ← x · 10^(target/20) / (rms + eps), then, if
 * max|x| > 1, x ← x / (max|x| + eps). The mean of squares is accumulated in
 * double (numpy's float32 pairwise sum differs by ~1e-7 relative).
 */
void           vv_audio_db_normalize (gfloat *audio, gsize n, gdouble target_dB_FS, gdouble eps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvVoicePrompt, vv_voice_prompt_free)

void           vv_sigma_vae_sample (VvTorchGenerator *gen, gfloat *means, guint batch,
                                    gsize t_max, gsize dim, gfloat std_scale);

G_END_DECLS
