/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-voice-prompt.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "vv-connector.h"
#include "vv-speech-tokenizer.h"

/* σ-VAE "gaussian" sampling: the per-clip scale is N(0,1) · fix_std / 0.8
 * (hard-coded 0.8 in the reference, MODEL-SPEC §12.7). */
#define VV_SIGMA_VAE_DIVISOR 0.8f

struct _VvVoicePrompt {
  VvBackend *be;
  VvSpeechEncoder *encoder;
  VvConnector *connector;
  gint hop, dim, hidden;
  gfloat scale, bias;           /* speech_scaling_factor, speech_bias_factor */
  gfloat sample_std;            /* fix_std / 0.8 (0.625) */
  gboolean db_normalize;
  gdouble target_dB_FS, audio_eps;
};

void
vv_voice_prompt_free (VvVoicePrompt *vp)
{
  if (vp == NULL)
    return;
  vv_speech_encoder_free (vp->encoder);
  vv_connector_free (vp->connector);
  g_free (vp);
}

/**
 * vv_voice_prompt_new: (skip)
 * @model: a loaded long-form model with an acoustic encoder (must outlive
 *   the object)
 * @be: the backend to run on (any device)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the voice prompt encoder
 */
VvVoicePrompt *
vv_voice_prompt_new (VvModel *model, VvBackend *be, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (be != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  const VvConfig *cfg = vv_model_get_config (model);
  g_autoptr (VvVoicePrompt) vp = g_new0 (VvVoicePrompt, 1);
  vp->be = be;
  vp->encoder = vv_speech_encoder_new (model, be, VV_SPEECH_TOKENIZER_ACOUSTIC, error);
  if (vp->encoder == NULL)
    return NULL;
  vp->connector = vv_connector_new (model, be, VV_SPEECH_TOKENIZER_ACOUSTIC, error);
  if (vp->connector == NULL)
    return NULL;
  vp->hop = vv_speech_encoder_get_hop (vp->encoder);
  vp->dim = vv_speech_encoder_get_dim (vp->encoder);
  vp->hidden = vv_connector_get_output_dim (vp->connector);
  if (vv_connector_get_input_dim (vp->connector) != vp->dim) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "voice prompt: the acoustic connector takes %d-d inputs but the acoustic "
        "encoder gives %d-d latents", vv_connector_get_input_dim (vp->connector), vp->dim);
    return NULL;
  }
  /* The processor counts placeholders with speech_tok_compress_ratio; the
   * encoder emits one frame per hop: they must agree. */
  if (cfg->speech_tok_compress_ratio != vp->hop) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "voice prompt: speech_tok_compress_ratio %d (preprocessor config) differs from "
        "the acoustic encoder's hop %d", cfg->speech_tok_compress_ratio, vp->hop);
    return NULL;
  }
  vp->scale = vv_model_get_speech_scaling_factor (model);
  vp->bias = vv_model_get_speech_bias_factor (model);
  if (!isfinite (vp->scale) || !isfinite (vp->bias)) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "voice prompt: speech_scaling_factor (%g) / speech_bias_factor (%g) are not set "
        "in the checkpoint", vp->scale, vp->bias);
    return NULL;
  }
  /* The reference divides the float32 fix_std buffer by 0.8 in float32. */
  vp->sample_std = (gfloat) cfg->acoustic.fix_std / VV_SIGMA_VAE_DIVISOR;
  vp->db_normalize = cfg->db_normalize;
  vp->target_dB_FS = cfg->target_dB_FS;
  vp->audio_eps = cfg->audio_eps;
  return g_steal_pointer (&vp);
}

gint
vv_voice_prompt_get_hidden_size (VvVoicePrompt *vp)
{
  g_return_val_if_fail (vp != NULL, 0);
  return vp->hidden;
}

gint
vv_voice_prompt_get_latent_dim (VvVoicePrompt *vp)
{
  g_return_val_if_fail (vp != NULL, 0);
  return vp->dim;
}

gint
vv_voice_prompt_get_hop (VvVoicePrompt *vp)
{
  g_return_val_if_fail (vp != NULL, 0);
  return vp->hop;
}

gsize
vv_voice_prompt_count_frames (VvVoicePrompt *vp, gsize n_samples)
{
  g_return_val_if_fail (vp != NULL, 0);
  return (n_samples + (gsize) vp->hop - 1) / (gsize) vp->hop;
}

void
vv_audio_db_normalize (gfloat *audio, gsize n, gdouble target_dB_FS, gdouble eps)
{
  g_return_if_fail (audio != NULL || n == 0);
  if (n == 0)
    return;
  gdouble sum = 0;
  for (gsize i = 0; i < n; i++)
    sum += (gdouble) audio[i] * audio[i];
  /* numpy: float32 mean, sqrt; a Python float meeting a float32 scalar is
   * rounded to float32 first (NEP 50). */
  gfloat rms = sqrtf ((gfloat) (sum / (gdouble) n));
  gfloat feps = (gfloat) eps;
  gfloat scalar = (gfloat) pow (10.0, target_dB_FS / 20.0) / (rms + feps);
  gfloat max_abs = 0;
  for (gsize i = 0; i < n; i++) {
    audio[i] *= scalar;
    max_abs = MAX (max_abs, fabsf (audio[i]));
  }
  if (max_abs > 1.0f) {
    gfloat div = max_abs + feps;
    for (gsize i = 0; i < n; i++)
      audio[i] /= div;
  }
}

gboolean
vv_voice_prompt_encode_means (VvVoicePrompt *vp, const gfloat *clip, gsize length,
    gsize pad_to, gsize *n_frames, gfloat **means, GError **error)
{
  g_return_val_if_fail (vp != NULL, FALSE);
  g_return_val_if_fail (n_frames != NULL && means != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (clip == NULL || length == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "voice prompt: the voice clip is empty");
    return FALSE;
  }
  if (length > VV_VOICE_MAX_SAMPLES || pad_to > VV_VOICE_MAX_SAMPLES) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "voice prompt: the voice clip has %" G_GSIZE_FORMAT " samples (%.1f s); at most %d "
        "(%d s at 24 kHz) are accepted", MAX (length, pad_to), MAX (length, pad_to) / 24000.0,
        VV_VOICE_MAX_SAMPLES, VV_VOICE_MAX_SAMPLES / 24000);
    return FALSE;
  }
  for (gsize i = 0; i < length; i++) {
    if (!isfinite (clip[i])) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "voice prompt: the voice clip has a non-finite sample (%g) at index %" G_GSIZE_FORMAT,
          clip[i], i);
      return FALSE;
    }
  }
  const gsize dim = (gsize) vp->dim;
  const gsize nf = vv_voice_prompt_count_frames (vp, length);
  /* The reference encodes a zero-padded batch (MODEL-SPEC §12.1): a clip
   * shorter than the longest one sees zeros after its end, the longest one
   * the encoder's own end padding — the last partial frame differs. */
  const gsize n_in = MAX (length, pad_to);
  const gsize nf_in = vv_voice_prompt_count_frames (vp, n_in);
  g_autofree gfloat *buf = g_new0 (gfloat, n_in);
  memcpy (buf, clip, length * sizeof (gfloat));
  if (vp->db_normalize)
    vv_audio_db_normalize (buf, length, vp->target_dB_FS, vp->audio_eps);
  g_autofree gfloat *m = g_new (gfloat, nf_in * dim);
  if (!vv_speech_encoder_encode_host (vp->encoder, buf, n_in, m, error)) {
    g_prefix_error (error, "voice prompt: encoding a %" G_GSIZE_FORMAT "-sample clip: ", length);
    return FALSE;
  }
  *n_frames = nf;
  *means = nf_in == nf ? g_steal_pointer (&m) : g_realloc (g_steal_pointer (&m),
      nf * dim * sizeof (gfloat));
  return TRUE;
}

/* Checks the clips of an embed; @t_max and @total are their longest and
 * summed frame counts. */
static gboolean
check_clips (const gfloat *const *clip_means, const gsize *clip_frames, guint n_clips,
    gsize *t_max, gsize *total, GError **error)
{
  if (n_clips == 0 || clip_means == NULL || clip_frames == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "voice prompt: no voice clips given (n_clips = %u)", n_clips);
    return FALSE;
  }
  *t_max = *total = 0;
  for (guint b = 0; b < n_clips; b++) {
    if (clip_means[b] == NULL || clip_frames[b] == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "voice prompt: voice clip %u is empty", b);
      return FALSE;
    }
    /* each clip is at most VV_VOICE_MAX_SAMPLES long when it comes from
     * encode_means; bound the sum so the sizes below cannot overflow */
    if (clip_frames[b] > G_MAXINT32 || *total + clip_frames[b] > G_MAXINT32) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "voice prompt: voice clip %u makes %" G_GSIZE_FORMAT " + %" G_GSIZE_FORMAT
          " frames, more than %d", b, *total, clip_frames[b], G_MAXINT32);
      return FALSE;
    }
    *t_max = MAX (*t_max, clip_frames[b]);
    *total += clip_frames[b];
  }
  return TRUE;
}

/**
 * vv_voice_prompt_embed: (skip)
 * @vp: a voice prompt encoder
 * @clip_means: (array length=n_clips): each clip's means from
 *   vv_voice_prompt_encode_means() (host memory)
 * @clip_frames: (array length=n_clips): frames of each clip
 * @n_clips: number of clips, ≥ 1
 * @gen: (nullable): σ-VAE sampling generator
 * @rows: (array) (nullable): for each of the n_frames frames, the row of
 *   @embeddings it is written to (e.g. the voice positions of a prompt);
 *   %NULL writes frame i to row i
 * @embeddings: F32 [n_frames, H] (or [L, H] with @rows) in @vp's backend
 *   memory
 * @features: (nullable): F32 [n_frames, 64] in @vp's backend memory, the
 *   connector inputs
 * @error: return location for a #GError
 *
 * Steps 3–4 of vv_voice_prompt_encode() onto the device: the sampled
 * latents (host, from the host generator) are uploaded once; the
 * normalisation, the connector and the row writes run on the device.
 */
gboolean
vv_voice_prompt_embed (VvVoicePrompt *vp, const gfloat *const *clip_means,
    const gsize *clip_frames, guint n_clips, VvTorchGenerator *gen, const gint32 *rows,
    VvTensor *embeddings, VvTensor *features, GError **error)
{
  g_return_val_if_fail (vp != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  const gsize dim = (gsize) vp->dim;
  gsize t_max, total;
  if (!check_clips (clip_means, clip_frames, n_clips, &t_max, &total, error))
    return FALSE;
  const gint64 H = vp->hidden;
  if (embeddings == NULL || embeddings->ndim != 2 || embeddings->shape[1] != H
      || (rows == NULL && embeddings->shape[0] != (gint64) total)) {
    g_autofree gchar *s = embeddings ? vv_tensor_shape_string (embeddings)
        : g_strdup ("(missing)");
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "voice prompt: embeddings %s must be [%" G_GSIZE_FORMAT ", %" G_GINT64_FORMAT "]%s",
        s, total, H, rows ? " or have a row for every frame" : "");
    return FALSE;
  }
  if (rows != NULL) {
    for (gsize i = 0; i < total; i++) {
      if (rows[i] < 0 || rows[i] >= embeddings->shape[0]) {
        g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
            "voice prompt: frame %" G_GSIZE_FORMAT " goes to row %d, outside the %"
            G_GINT64_FORMAT " rows of the embeddings", i, rows[i], embeddings->shape[0]);
        return FALSE;
      }
    }
  }
  if (features != NULL && (features->ndim != 2 || features->shape[0] != (gint64) total
          || features->shape[1] != (gint64) dim)) {
    g_autofree gchar *s = vv_tensor_shape_string (features);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "voice prompt: features %s must be [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]", s,
        total, dim);
    return FALSE;
  }

  /* The reference's padded batch [B][T_max][dim]; rows past a clip's end
   * only matter for the number of noise draws. Host data: the cached means
   * and the host generator's draws. */
  g_autofree gfloat *means = g_new0 (gfloat, (gsize) n_clips * t_max * dim);
  for (guint b = 0; b < n_clips; b++)
    memcpy (means + b * t_max * dim, clip_means[b], clip_frames[b] * dim * sizeof (gfloat));

  /* σ-VAE sampling, reference draw order (MODEL-SPEC §12.2). */
  if (gen != NULL)
    vv_sigma_vae_sample (gen, means, n_clips, t_max, dim, vp->sample_std);

  /* the kept frames of each clip, uploaded once */
  g_autofree gfloat *lat = g_new (gfloat, total * dim);
  gsize row = 0;
  for (guint b = 0; b < n_clips; b++) {
    memcpy (lat + row * dim, means + b * t_max * dim, clip_frames[b] * dim * sizeof (gfloat));
    row += clip_frames[b];
  }
  g_clear_pointer (&means, g_free);
  VvBackend *be = vp->be;
  gint64 lshape[2] = { (gint64) total, (gint64) dim };
  g_autoptr (VvTensor) d_lat = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, lshape, error);
  if (d_lat == NULL
      || !vv_backend_tensor_set (be, d_lat, 0, lat, total * dim * sizeof (gfloat), error))
    return FALSE;

  /* (a + speech_bias_factor) · speech_scaling_factor, §1.6 step 6 */
  VvTensor *feat = features != NULL ? features : d_lat;
  if (!vv_backend_affine (be, VV_AFFINE_ADD_MUL, feat, d_lat, vp->scale, vp->bias, error))
    return FALSE;

  g_autoptr (VvTensor) d_emb = NULL;
  if (rows != NULL) {
    gint64 eshape[2] = { (gint64) total, H };
    if ((d_emb = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, eshape, error)) == NULL)
      return FALSE;
  }
  g_autoptr (GError) local = NULL;
  if (!vv_connector_forward (vp->connector, feat, d_emb ? d_emb : embeddings, &local)) {
    g_propagate_prefixed_error (error, g_steal_pointer (&local),
        "voice prompt: acoustic connector on %" G_GSIZE_FORMAT " frames: ", total);
    return FALSE;
  }
  /* the rows into place, device to device */
  for (gsize i = 0; rows != NULL && i < total; i++) {
    VvTensor dst, src;
    vv_tensor_init_rows (&dst, embeddings, rows[i], 1);
    vv_tensor_init_rows (&src, d_emb, (gint64) i, 1);
    if (!vv_backend_tensor_copy (be, &dst, &src, error))
      return FALSE;
  }
  return TRUE;
}

/**
 * vv_voice_prompt_embed_host: (skip)
 *
 * vv_voice_prompt_embed() into new host buffers (see the header).
 */
gboolean
vv_voice_prompt_embed_host (VvVoicePrompt *vp, const gfloat *const *clip_means,
    const gsize *clip_frames, guint n_clips, VvTorchGenerator *gen, gsize *n_frames,
    gfloat **embeddings, gfloat **features, GError **error)
{
  g_return_val_if_fail (vp != NULL, FALSE);
  g_return_val_if_fail (n_frames != NULL && embeddings != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  gsize t_max, total;
  if (!check_clips (clip_means, clip_frames, n_clips, &t_max, &total, error))
    return FALSE;
  VvBackend *be = vp->be;
  gint64 eshape[2] = { (gint64) total, vp->hidden }, fshape[2] = { (gint64) total, vp->dim };
  g_autoptr (VvTensor) d_emb = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, eshape, error);
  if (d_emb == NULL)
    return FALSE;
  g_autoptr (VvTensor) d_feat = NULL;
  if (features != NULL
      && (d_feat = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, fshape, error)) == NULL)
    return FALSE;
  if (!vv_voice_prompt_embed (vp, clip_means, clip_frames, n_clips, gen, NULL, d_emb, d_feat,
          error))
    return FALSE;
  g_autofree gfloat *emb = g_new (gfloat, total * (gsize) vp->hidden);
  g_autofree gfloat *feat = features ? g_new (gfloat, total * (gsize) vp->dim) : NULL;
  if (!vv_backend_tensor_get (be, d_emb, 0, emb, vv_tensor_n_bytes (d_emb), error)
      || (feat != NULL
          && !vv_backend_tensor_get (be, d_feat, 0, feat, vv_tensor_n_bytes (d_feat), error)))
    return FALSE;
  *n_frames = total;
  *embeddings = g_steal_pointer (&emb);
  if (features != NULL)
    *features = g_steal_pointer (&feat);
  return TRUE;
}

gboolean
vv_voice_prompt_encode (VvVoicePrompt *vp, const gfloat *const *clips, const gsize *lengths,
    guint n_clips, VvTorchGenerator *gen, gsize *frames_per_clip, gsize *n_frames,
    gfloat **embeddings, gfloat **features, GError **error)
{
  g_return_val_if_fail (vp != NULL, FALSE);
  g_return_val_if_fail (n_frames != NULL && embeddings != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_clips == 0 || clips == NULL || lengths == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "voice prompt: no voice clips given (n_clips = %u)", n_clips);
    return FALSE;
  }
  g_autoptr (GPtrArray) means = g_ptr_array_new_with_free_func (g_free);
  g_autofree gsize *frames = g_new0 (gsize, n_clips);
  gsize max_len = 0;
  for (guint b = 0; b < n_clips; b++)
    max_len = MAX (max_len, lengths[b]);
  for (guint b = 0; b < n_clips; b++) {
    gfloat *m = NULL;
    g_autoptr (GError) local = NULL;
    if (!vv_voice_prompt_encode_means (vp, clips[b], lengths[b], max_len, &frames[b], &m,
            &local)) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "voice clip %u: ", b);
      return FALSE;
    }
    g_ptr_array_add (means, m);
  }
  if (!vv_voice_prompt_embed_host (vp, (const gfloat *const *) means->pdata, frames, n_clips,
          gen, n_frames, embeddings, features, error))
    return FALSE;
  if (frames_per_clip != NULL)
    memcpy (frames_per_clip, frames, n_clips * sizeof (gsize));
  return TRUE;
}

/**
 * vv_sigma_vae_sample: (skip)
 * @gen: a torch-compatible generator
 * @means: (inout): encoder means `[batch][t_max][dim]`, replaced by samples
 * @batch: number of clips
 * @t_max: frames per clip (the padded length)
 * @dim: latent width
 * @std_scale: fix_std / 0.8 (0.625 for the published acoustic tokenizer)
 *
 * The reference's "gaussian" σ-VAE sampling (MODEL-SPEC §1.6 step 4, §12.2):
 * `randn(batch)` · @std_scale, then `randn_like` over the channel-major
 * `[batch][dim][t_max]` memory of the encoder output; a = mean + s · ε.
 */
void
vv_sigma_vae_sample (VvTorchGenerator *gen, gfloat *means, guint batch, gsize t_max, gsize dim,
    gfloat std_scale)
{
  g_autofree gfloat *scales = g_new (gfloat, batch);
  vv_torch_randn (gen, scales, batch, TRUE);
  for (guint b = 0; b < batch; b++)
    scales[b] *= std_scale;
  /* randn_like of the [B, T_max, dim] view of the [B, dim, T_max] encoder
   * output keeps its strides and fills channel-major memory order. torch
   * counts the view as contiguous only when T_max = 1 (size-1 dims do not
   * count), and then takes normal_fill for >= 16 values. */
  gsize n_noise = (gsize) batch * dim * t_max;
  g_autofree gfloat *noise = g_new (gfloat, n_noise);
  vv_torch_randn (gen, noise, n_noise, t_max == 1);
  /* a = mean + (s · ε), as two float32 roundings like torch (the product
   * is stored first so it cannot be contracted into an fma). */
  for (guint b = 0; b < batch; b++) {
    gfloat *nb = noise + b * dim * t_max;
    for (gsize i = 0; i < dim * t_max; i++)
      nb[i] *= scales[b];
  }
  for (guint b = 0; b < batch; b++) {
    const gfloat *nb = noise + b * dim * t_max;
    gfloat *mb = means + b * t_max * dim;
    for (gsize t = 0; t < t_max; t++)
      for (gsize c = 0; c < dim; c++)
        mb[t * dim + c] += nb[c * t_max + t];
  }
}
