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
    case VV_STOP_LENGTH_LIMIT:
      return "length-limit";
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
  VvSession *s = g_new0 (VvSession, 1);
  s->model = vv_model_ref (model);
  s->tok = tok ? vv_tokenizer_ref (tok) : NULL;
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

static void
drop_blocks (VvSession *s)
{
  g_clear_pointer (&s->voice, vv_voice_prompt_free);
  g_clear_pointer (&s->lm, vv_lm_free);
  g_clear_pointer (&s->head, vv_diffusion_head_free);
  g_clear_pointer (&s->dec, vv_speech_decoder_free);
  g_clear_pointer (&s->sem_enc, vv_speech_encoder_free);
  g_clear_pointer (&s->ac_conn, vv_connector_free);
  g_clear_pointer (&s->sem_conn, vv_connector_free);
}

/* Creates the CPU backend and the blocks on first use when the caller gave
 * no backend. */
static gboolean
session_ensure_blocks (VvSession *s, gint n_threads, GError **error)
{
  if (s->be != NULL)
    return TRUE;
  if ((s->own_be = vv_backend_new_cpu (n_threads, error)) == NULL)
    return FALSE;
  s->be = s->own_be;
  if (!session_make_blocks (s, error)) {
    /* leave the session re-usable: drop what was made */
    drop_blocks (s);
    g_clear_pointer (&s->own_be, vv_backend_free);
    s->be = NULL;
    return FALSE;
  }
  return TRUE;
}

VvBackend *
vv_session_get_backend (VvSession *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  return s->be;
}

VvPrompt *
vv_session_prepare (VvSession *s, const gchar *script, const gfloat *const *voices,
    const gsize *voice_lengths, guint n_voices, GError **error)
{
  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (script != NULL, NULL);
  if (n_voices > 0 && (voices == NULL || voice_lengths == NULL)) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "%u voices announced but no clips given", n_voices);
    return NULL;
  }
  for (guint i = 0; i < n_voices; i++) {
    if (voices[i] == NULL || voice_lengths[i] == 0) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "voice %u is empty", i);
      return NULL;
    }
  }
  if (s->tok == NULL) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "the session was made without a tokenizer; it can only generate prepared prompts");
    return NULL;
  }
  if (!session_ensure_blocks (s, 0, error))
    return NULL;

  g_autoptr (GArray) turns = vv_script_parse (script, -1, error);
  if (turns == NULL)
    return NULL;
  guint n_speakers = vv_script_count_speakers (turns);
  if (n_voices > 0 && n_voices < n_speakers) {
    g_set_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_VOICES,
        "the script has %u speakers but only %u voice sample%s were given", n_speakers,
        n_voices, n_voices == 1 ? "" : "s");
    return NULL;
  }
  guint used = MIN (n_voices, n_speakers);

  /* The reference pads the used clips to the longest one (§12.1). */
  gsize max_len = 0;
  for (guint i = 0; i < used; i++)
    max_len = MAX (max_len, voice_lengths[i]);
  g_autoptr (GPtrArray) means = g_ptr_array_new_with_free_func (g_free);
  g_autofree gsize *frames = g_new0 (gsize, MAX (used, 1));
  for (guint i = 0; i < used; i++) {
    gfloat *m = NULL;
    if (!vv_voice_prompt_encode_means (s->voice, voices[i], voice_lengths[i], max_len,
            &frames[i], &m, error)) {
      g_prefix_error (error, "voice %u: ", i);
      return NULL;
    }
    g_ptr_array_add (means, m);
  }
  return vv_prompt_new (s->tok, turns, (const gfloat *const *) means->pdata, frames, used,
      s->latent, error);
}

#define TIMED(field, expr) G_STMT_START { \
    gint64 t_ = g_get_monotonic_time (); \
    gboolean ok_ = (expr); \
    res.timings.field += g_get_monotonic_time () - t_; \
    if (!ok_) \
      return FALSE; \
  } G_STMT_END

gboolean
vv_session_generate_prompt (VvSession *s, VvPrompt *prompt_in, const VvSessionParams *params,
    VvSessionResult *out, GError **error)
{
  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (prompt_in != NULL, FALSE);
  VvSessionParams defaults = vv_session_default_params ();
  const VvSessionParams *p = params ? params : &defaults;
  const gint64 t_start = g_get_monotonic_time ();

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
  if (p->noise_frames > 0 && p->noise == NULL) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "%" G_GSIZE_FORMAT " noise frames announced but no noise given", p->noise_frames);
    return FALSE;
  }
  if (!session_ensure_blocks (s, p->n_threads, error))
    return FALSE;
  if (vv_prompt_get_latent_dim (prompt_in) != s->latent) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "the prompt's voices are %d wide, the model's latents %d",
        vv_prompt_get_latent_dim (prompt_in), s->latent);
    return FALSE;
  }
  if (s->sched == NULL || s->sched_steps != p->n_steps) {
    g_clear_pointer (&s->sched, vv_scheduler_free);
    if ((s->sched = vv_scheduler_new (p->n_steps, s->latent, error)) == NULL)
      return FALSE;
    s->sched_steps = p->n_steps;
  }

  const gsize H = s->hidden;
  const VvConfig *cfg = vv_model_get_config (s->model);
  VvSessionResult res;
  memset (&res, 0, sizeof res);

  /* 1. Voices: σ-VAE sampling (first draws of the generator) + connector. */
  VvTorchGenerator gen;
  vv_torch_generator_init (&gen, p->seed);
  guint n_voices = vv_prompt_get_n_voices (prompt_in);
  g_autofree gfloat *voice_emb = NULL;
  gsize n_voice_rows = 0;
  if (n_voices > 0) {
    g_autofree const gfloat **means = g_new (const gfloat *, n_voices);
    g_autofree gsize *frames = g_new (gsize, n_voices);
    for (guint i = 0; i < n_voices; i++) {
      means[i] = vv_prompt_get_voice_means (prompt_in, i);
      frames[i] = vv_prompt_get_voice_frames (prompt_in, i);
    }
    TIMED (voice_us, vv_voice_prompt_embed (s->voice, means, frames, n_voices,
            p->deterministic_voice ? NULL : &gen, &n_voice_rows, &voice_emb, NULL, error));
  }

  /* 2. Prompt embeddings with the voice rows in place. */
  gsize L, n_pos;
  const gint32 *ids = vv_prompt_get_ids (prompt_in, &L);
  const gint32 *vpos = vv_prompt_get_voice_positions (prompt_in, &n_pos);
  g_assert (n_pos == n_voice_rows);
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
  res.prompt_length = L;
  res.max_steps = (guint) max_steps;
  res.stop_reason = VV_STOP_LENGTH_LIMIT;

  g_autofree gfloat *prompt = g_new (gfloat, L * H);
  TIMED (connector_us, vv_lm_embed_tokens (s->lm, ids, L, prompt, error));
  for (gsize i = 0; i < n_pos; i++)
    memcpy (prompt + (gsize) vpos[i] * H, voice_emb + i * H, H * sizeof (gfloat));
  g_clear_pointer (&voice_emb, g_free);

  /* 3. State. */
  gsize pos_capacity = L + MIN (max_steps, (gsize) 1024);
  g_autoptr (VvKvCache) pos_cache = vv_kv_cache_new (s->lm, pos_capacity, 0, error);
  if (pos_cache == NULL)
    return FALSE;
  g_autoptr (VvKvCache) neg_cache = vv_kv_cache_new (s->lm, 0, 0, error);
  if (neg_cache == NULL)
    return FALSE;
  vv_speech_decoder_reset (s->dec);
  vv_speech_encoder_reset (s->sem_enc);
  gboolean dec_reset = TRUE;

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

  /* t = 0: prefill; the input consumed at the last position is embed(speech_start). */
  TIMED (prefill_us, vv_lm_forward_host (s->lm, pos_cache, prompt, L, h_pos, TRUE, error));
  memcpy (input, prompt + (L - 1) * H, H * sizeof (gfloat));
  g_clear_pointer (&prompt, g_free);

  for (;;) {
    if (p->abort && p->abort (p->abort_user_data)) {
      res.stop_reason = VV_STOP_ABORTED;
      break;
    }
    TIMED (connector_us, vv_lm_logits_control_host (s->lm, h_pos, logits, error));
    gint32 token = p->force_diffusion ? VV_TOKEN_DIFFUSION : pick_token (logits);
    if (p->new_token)
      p->new_token (token, res.n_steps, p->new_token_user_data);
    res.n_steps++;

    if (token == VV_TOKEN_EOS) {
      res.stop_reason = VV_STOP_EOS;
      if (p->progress)
        p->progress (res.n_steps, (guint) max_steps, res.n_frames, p->progress_user_data);
      break;
    } else if (token == VV_TOKEN_SPEECH_END) {
      vv_speech_decoder_reset (s->dec);
      vv_speech_encoder_reset (s->sem_enc);
      dec_reset = TRUE;
      TIMED (connector_us, vv_lm_embed_tokens (s->lm, &token, 1, input, error));
    } else if (token == VV_TOKEN_SPEECH_START) {
      vv_kv_cache_reset (neg_cache);
      TIMED (connector_us, vv_lm_embed_tokens (s->lm, &token, 1, input, error));
    } else {
      /* diffusion: negative pass on this step's input */
      TIMED (neg_lm_us, vv_lm_forward_host (s->lm, neg_cache, input, 1, h_neg, TRUE, error));
      if (p->noise != NULL) {
        if (res.n_frames >= p->noise_frames) {
          g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_NOISE,
              "the injected noise has %" G_GSIZE_FORMAT " frames; frame %u needs more",
              p->noise_frames, res.n_frames);
          return FALSE;
        }
        memcpy (noise, p->noise + (gsize) res.n_frames * s->latent,
            s->latent * sizeof (gfloat));
      } else {
        vv_diffusion_draw_noise (&gen, s->latent, noise);
      }
      TIMED (head_us, vv_diffusion_sample_host (s->head, s->sched, h_pos, h_neg, p->cfg_scale,
              p->n_steps, noise, z, error));
      for (gint k = 0; k < s->latent; k++)
        dec_in[k] = z[k] / scale - bias;
      TIMED (decoder_us, vv_speech_decoder_decode (s->dec, dec_in, 1, audio, error));
      if (p->new_frame)
        p->new_frame (z, s->latent, res.n_frames, dec_reset, p->new_frame_user_data);
      dec_reset = FALSE;
      res.n_frames++;
      if (p->new_audio)
        p->new_audio (audio, s->hop, p->new_audio_user_data);
      TIMED (semantic_us, vv_speech_encoder_encode_stream (s->sem_enc, audio, s->hop, sem,
              error));
      TIMED (connector_us, vv_connector_forward (s->ac_conn, z, 1, input, error)
          && vv_connector_forward (s->sem_conn, sem, 1, sem_emb, error));
      for (gsize k = 0; k < H; k++)
        input[k] += sem_emb[k];
    }

    if (p->progress)
      p->progress (res.n_steps, (guint) max_steps, res.n_frames, p->progress_user_data);
    if (p->max_frames > 0 && res.n_frames >= p->max_frames) {
      res.stop_reason = VV_STOP_MAX_FRAMES;
      break;
    }
    if (res.n_steps >= max_steps) {
      res.stop_reason = VV_STOP_LENGTH_LIMIT;
      break;
    }
    /* positive pass of the next input */
    TIMED (lm_us, vv_lm_forward_host (s->lm, pos_cache, input, 1, h_pos, TRUE, error));
  }

  res.audio_seconds = (gdouble) res.n_frames * s->hop / (cfg->sampling_rate > 0 ?
      cfg->sampling_rate : 24000);
  res.timings.total_us = g_get_monotonic_time () - t_start;
  if (out)
    *out = res;
  return TRUE;
}

gboolean
vv_session_generate (VvSession *s, const gchar *script, const gfloat *const *voices,
    const gsize *voice_lengths, guint n_voices, const VvSessionParams *params,
    VvSessionResult *out, GError **error)
{
  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (script != NULL, FALSE);
  if (params && !session_ensure_blocks (s, params->n_threads, error))
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (VvPrompt) prompt = vv_session_prepare (s, script, voices, voice_lengths, n_voices,
      error);
  if (prompt == NULL)
    return FALSE;
  gint64 t_prep = g_get_monotonic_time () - t0;
  if (!vv_session_generate_prompt (s, prompt, params, out, error))
    return FALSE;
  if (out) {
    out->timings.voice_us += t_prep;
    out->timings.total_us += t_prep;
  }
  return TRUE;
}
