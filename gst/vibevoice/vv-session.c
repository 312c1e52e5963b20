/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-session.h"

#include "vv-connector.h"
#include "vv-diffusion-head.h"
#include "vv-lm.h"
#include "vv-processor.h"
#include "vv-rng.h"
#include "vv-scheduler.h"
#include "vv-speech-tokenizer.h"
#include "vv-voice-prompt.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (vv-session-error-quark, vv_session_error)

struct _VvSession {
  VvModel *model;
  VvTokenizer *tok;
  VvBackend *be;
  VvBackend *own_be;            /* when the caller gave none */

  VvVoicePrompt *voice;
  VvLm *lm;
  VvDiffusionHead *head;
  VvScheduler *sched;           /* for sched_steps */
  gint sched_steps;
  VvSpeechDecoder *dec;
  VvSpeechEncoder *sem_enc;
  VvConnector *ac_conn;
  VvConnector *sem_conn;

  gint hidden;
  gint latent;
  gint sem_dim;
  gint hop;
};

const gchar *
vv_stop_reason_to_string (VvStopReason reason)
{
  switch (reason) {
    case VV_STOP_EOS:
      return "eos";
    case VV_STOP_MAX_FRAMES:
      return "max-frames";
    case VV_STOP_ABORTED:
      return "aborted";
  }
  return "unknown";
}

VvSessionParams
vv_session_default_params (void)
{
  VvSessionParams p;
  memset (&p, 0, sizeof p);
  p.n_steps = 10;
  p.cfg_scale = 1.3f;
  p.seed = 0;
  p.deterministic_voice = FALSE;
  p.max_frames = 0;
  p.n_threads = 0;
  return p;
}

static gboolean
session_make_blocks (VvSession *s, GError **error)
{
  VvBackend *be = s->be;
  if ((s->voice = vv_voice_prompt_new (s->model, be, error)) == NULL)
    return FALSE;
  if ((s->lm = vv_lm_new (s->model, be, error)) == NULL)
    return FALSE;
  if ((s->head = vv_diffusion_head_new (s->model, be, error)) == NULL)
    return FALSE;
  if ((s->dec = vv_speech_decoder_new (s->model, be, error)) == NULL)
    return FALSE;
  if ((s->sem_enc = vv_speech_encoder_new (s->model, be, VV_SPEECH_TOKENIZER_SEMANTIC,
              error)) == NULL)
    return FALSE;
  if ((s->ac_conn = vv_connector_new (s->model, be, VV_SPEECH_TOKENIZER_ACOUSTIC, error)) == NULL)
    return FALSE;
  if ((s->sem_conn = vv_connector_new (s->model, be, VV_SPEECH_TOKENIZER_SEMANTIC, error)) == NULL)
    return FALSE;
  s->hidden = vv_lm_get_hidden_size (s->lm);
  s->latent = vv_diffusion_head_get_latent_size (s->head);
  s->sem_dim = vv_speech_encoder_get_dim (s->sem_enc);
  s->hop = vv_speech_decoder_get_hop (s->dec);
  if (vv_voice_prompt_get_hidden_size (s->voice) != s->hidden
      || vv_connector_get_output_dim (s->ac_conn) != s->hidden
      || vv_connector_get_output_dim (s->sem_conn) != s->hidden
      || vv_connector_get_input_dim (s->ac_conn) != s->latent
      || vv_connector_get_input_dim (s->sem_conn) != s->sem_dim
      || vv_diffusion_head_get_hidden_size (s->head) != s->hidden
      || vv_speech_encoder_get_hop (s->sem_enc) != s->hop) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "%s: the model's blocks do not fit together (hidden %d, latent %d, semantic %d, hop %d)",
        vv_model_get_dir (s->model), s->hidden, s->latent, s->sem_dim, s->hop);
    return FALSE;
  }
  return TRUE;
}

VvSession *
vv_session_new (VvModel *model, VvTokenizer *tok, VvBackend *be, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (tok != NULL, NULL);
  VvSession *s = g_new0 (VvSession, 1);
  s->model = vv_model_ref (model);
  s->tok = vv_tokenizer_ref (tok);
  s->be = be;
  if (be != NULL && !session_make_blocks (s, error)) {
    vv_session_free (s);
    return NULL;
  }
  return s;
}

void
vv_session_free (VvSession *s)
{
  if (s == NULL)
    return;
  g_clear_pointer (&s->voice, vv_voice_prompt_free);
  g_clear_pointer (&s->lm, vv_lm_free);
  g_clear_pointer (&s->head, vv_diffusion_head_free);
  g_clear_pointer (&s->sched, vv_scheduler_free);
  g_clear_pointer (&s->dec, vv_speech_decoder_free);
  g_clear_pointer (&s->sem_enc, vv_speech_encoder_free);
  g_clear_pointer (&s->ac_conn, vv_connector_free);
  g_clear_pointer (&s->sem_conn, vv_connector_free);
  g_clear_pointer (&s->own_be, vv_backend_free);
  g_clear_pointer (&s->model, vv_model_unref);
  g_clear_pointer (&s->tok, vv_tokenizer_unref);
  g_free (s);
}

/* argmax over the 4 control logits (order 151652, 151653, 151654, 151643),
 * ties going to the lowest vocabulary id as torch.argmax does. */
static gint32
pick_token (const gfloat *logits)
{
  static const gint order[VV_LM_N_CONTROL] = { 3, 0, 1, 2 };
  static const gint32 ids[VV_LM_N_CONTROL] = {
    VV_TOKEN_SPEECH_START, VV_TOKEN_SPEECH_END, VV_TOKEN_DIFFUSION, VV_TOKEN_EOS
  };
  gint best = order[0];
  for (gint k = 1; k < VV_LM_N_CONTROL; k++)
    if (logits[order[k]] > logits[best])
      best = order[k];
  return ids[best];
}

gboolean
vv_session_generate (VvSession *s, const gchar *script, const gfloat *const *voices,
    const gsize *voice_lengths, guint n_voices, const VvSessionParams *params,
    VvSessionResult *out, GError **error)
{
  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (script != NULL, FALSE);
  VvSessionParams defaults = vv_session_default_params ();
  const VvSessionParams *p = params ? params : &defaults;

  if (p->n_steps < 1) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "diffusion steps must be >= 1 (got %d)", p->n_steps);
    return FALSE;
  }
  if (!isfinite (p->cfg_scale)) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "cfg scale must be finite");
    return FALSE;
  }
  if (n_voices > 0 && (voices == NULL || voice_lengths == NULL)) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "%u voices announced but no clips given", n_voices);
    return FALSE;
  }
  for (guint i = 0; i < n_voices; i++) {
    if (voices[i] == NULL || voice_lengths[i] == 0) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "voice %u is empty", i);
      return FALSE;
    }
  }

  if (s->be == NULL) {
    if ((s->own_be = vv_backend_new_cpu (p->n_threads, error)) == NULL)
      return FALSE;
    s->be = s->own_be;
    if (!session_make_blocks (s, error)) {
      /* leave the session re-usable: drop what was made */
      g_clear_pointer (&s->voice, vv_voice_prompt_free);
      g_clear_pointer (&s->lm, vv_lm_free);
      g_clear_pointer (&s->head, vv_diffusion_head_free);
      g_clear_pointer (&s->dec, vv_speech_decoder_free);
      g_clear_pointer (&s->sem_enc, vv_speech_encoder_free);
      g_clear_pointer (&s->ac_conn, vv_connector_free);
      g_clear_pointer (&s->sem_conn, vv_connector_free);
      g_clear_pointer (&s->own_be, vv_backend_free);
      s->be = NULL;
      return FALSE;
    }
  }
  if (s->sched == NULL || s->sched_steps != p->n_steps) {
    g_clear_pointer (&s->sched, vv_scheduler_free);
    if ((s->sched = vv_scheduler_new (p->n_steps, s->latent, error)) == NULL)
      return FALSE;
    s->sched_steps = p->n_steps;
  }

  const gsize H = s->hidden;
  const VvConfig *cfg = vv_model_get_config (s->model);

  /* 1. Script → turns. */
  g_autoptr (GArray) turns = vv_script_parse (script, -1, error);
  if (turns == NULL)
    return FALSE;
  guint n_speakers = vv_script_count_speakers (turns);
  if (n_voices > 0 && n_voices < n_speakers) {
    g_set_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_VOICES,
        "the script has %u speakers but only %u voice sample%s were given", n_speakers,
        n_voices, n_voices == 1 ? "" : "s");
    return FALSE;
  }
  guint used = MIN (n_voices, n_speakers);

  /* 2. Voices → embeddings (σ-VAE sampling first on the generator). */
  VvTorchGenerator gen;
  vv_torch_generator_init (&gen, p->seed);
  g_autofree gsize *frames_per_clip = NULL;
  g_autofree gfloat *voice_emb = NULL;
  gsize n_voice_rows = 0;
  if (used > 0) {
    frames_per_clip = g_new0 (gsize, used);
    if (!vv_voice_prompt_encode (s->voice, voices, voice_lengths, used,
            p->deterministic_voice ? NULL : &gen, frames_per_clip, &n_voice_rows,
            &voice_emb, NULL, error))
      return FALSE;
  }

  /* 3. Prompt ids, embeddings with voice rows in place. */
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) vpos = g_array_new (FALSE, FALSE, sizeof (gint32));
  if (!vv_prompt_build (s->tok, turns, frames_per_clip, used, ids, vpos, error))
    return FALSE;
  if (vpos->len != n_voice_rows) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "prompt holds %u voice placeholders but the voices gave %" G_GSIZE_FORMAT " frames",
        vpos->len, n_voice_rows);
    return FALSE;
  }
  const gsize L = ids->len;
  const gsize P = cfg->lm.max_position_embeddings > 0 ? (gsize) cfg->lm.max_position_embeddings
      : G_MAXSIZE;
  if (L >= P) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_TOO_LONG,
        "the prompt has %" G_GSIZE_FORMAT " tokens, the model allows at most %" G_GSIZE_FORMAT,
        L, P);
    return FALSE;
  }
  gsize max_steps = MIN (P - L, 2 * L);
  max_steps = MIN (max_steps, (gsize) G_MAXUINT);

  g_autofree gfloat *prompt = g_new (gfloat, L * H);
  if (!vv_lm_embed_tokens (s->lm, (const gint32 *) ids->data, L, prompt, error))
    return FALSE;
  for (guint i = 0; i < vpos->len; i++)
    memcpy (prompt + (gsize) g_array_index (vpos, gint32, i) * H, voice_emb + (gsize) i * H,
        H * sizeof (gfloat));
  g_clear_pointer (&voice_emb, g_free);

  /* 4. State. */
  gsize pos_capacity = L + MIN (max_steps, (gsize) 1024);
  g_autoptr (VvKvCache) pos_cache = vv_kv_cache_new (s->lm, pos_capacity, 0, error);
  if (pos_cache == NULL)
    return FALSE;
  g_autoptr (VvKvCache) neg_cache = vv_kv_cache_new (s->lm, 0, 0, error);
  if (neg_cache == NULL)
    return FALSE;
  vv_speech_decoder_reset (s->dec);
  vv_speech_encoder_reset (s->sem_enc);

  g_autofree gfloat *h_pos = g_new (gfloat, H);
  g_autofree gfloat *h_neg = g_new (gfloat, H);
  g_autofree gfloat *input = g_new (gfloat, H);   /* the input the positive pass consumed */
  g_autofree gfloat *sem_emb = g_new (gfloat, H);
  g_autofree gfloat *z = g_new (gfloat, s->latent);
  g_autofree gfloat *dec_in = g_new (gfloat, s->latent);
  g_autofree gfloat *noise = g_new (gfloat, s->latent);
  g_autofree gfloat *audio = g_new (gfloat, s->hop);
  g_autofree gfloat *sem = g_new (gfloat, s->sem_dim);
  gfloat logits[VV_LM_N_CONTROL];
  const gfloat scale = vv_model_get_speech_scaling_factor (s->model);
  const gfloat bias = vv_model_get_speech_bias_factor (s->model);

  VvSessionResult res = { 0, 0, L, VV_STOP_MAX_FRAMES, 0.0 };

  /* t = 0: prefill; the input consumed at the last position is embed(speech_start). */
  if (!vv_lm_forward (s->lm, pos_cache, prompt, L, h_pos, TRUE, error))
    return FALSE;
  memcpy (input, prompt + (L - 1) * H, H * sizeof (gfloat));
  g_clear_pointer (&prompt, g_free);

  for (;;) {
    if (p->abort && p->abort (p->abort_user_data)) {
      res.stop_reason = VV_STOP_ABORTED;
      break;
    }
    if (!vv_lm_logits_control (s->lm, h_pos, logits, error))
      return FALSE;
    gint32 token = pick_token (logits);
    res.n_steps++;

    if (token == VV_TOKEN_EOS) {
      res.stop_reason = VV_STOP_EOS;
      if (p->progress)
        p->progress (res.n_steps, (guint) max_steps, res.n_frames, p->progress_user_data);
      break;
    } else if (token == VV_TOKEN_SPEECH_END) {
      vv_speech_decoder_reset (s->dec);
      vv_speech_encoder_reset (s->sem_enc);
      if (!vv_lm_embed_tokens (s->lm, &token, 1, input, error))
        return FALSE;
    } else if (token == VV_TOKEN_SPEECH_START) {
      vv_kv_cache_reset (neg_cache);
      if (!vv_lm_embed_tokens (s->lm, &token, 1, input, error))
        return FALSE;
    } else {
      /* diffusion: negative pass on this step's input */
      if (!vv_lm_forward (s->lm, neg_cache, input, 1, h_neg, TRUE, error))
        return FALSE;
      vv_diffusion_draw_noise (&gen, s->latent, noise);
      if (!vv_diffusion_sample (s->head, s->sched, h_pos, h_neg, p->cfg_scale, p->n_steps,
              noise, z, error))
        return FALSE;
      if (p->new_frame)
        p->new_frame (z, s->latent, res.n_frames, p->new_frame_user_data);
      for (gint k = 0; k < s->latent; k++)
        dec_in[k] = z[k] / scale - bias;
      if (!vv_speech_decoder_decode (s->dec, dec_in, 1, audio, error))
        return FALSE;
      res.n_frames++;
      if (p->new_audio)
        p->new_audio (audio, s->hop, p->new_audio_user_data);
      if (!vv_speech_encoder_encode_stream (s->sem_enc, audio, s->hop, sem, error))
        return FALSE;
      if (!vv_connector_forward (s->ac_conn, z, 1, input, error)
          || !vv_connector_forward (s->sem_conn, sem, 1, sem_emb, error))
        return FALSE;
      for (gsize k = 0; k < H; k++)
        input[k] += sem_emb[k];
    }

    if (p->progress)
      p->progress (res.n_steps, (guint) max_steps, res.n_frames, p->progress_user_data);
    if (res.n_steps >= max_steps || (p->max_frames > 0 && res.n_frames >= p->max_frames)) {
      res.stop_reason = VV_STOP_MAX_FRAMES;
      break;
    }
    /* positive pass of the next input */
    if (!vv_lm_forward (s->lm, pos_cache, input, 1, h_pos, TRUE, error))
      return FALSE;
  }

  res.audio_seconds = (gdouble) res.n_frames * s->hop / (cfg->sampling_rate > 0 ?
      cfg->sampling_rate : 24000);
  if (out)
    *out = res;
  return TRUE;
}
