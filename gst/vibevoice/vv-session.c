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
#include "vv-usage.h"
#include "vv-voice-prompt.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (vv-session-error-quark, vv_session_error)

/* a batch of streams is one vv_lm_forward_rows() call, two rows each */
G_STATIC_ASSERT (2 * VV_SESSION_MAX_BATCH <= VV_LM_MAX_JOINT_ROWS);

typedef struct _VvGen VvGen;
static void gen_free (VvGen *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvGen, gen_free)

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
  VvGen *gen;                   /* the generation in progress */
  /* the head of vv_session_step_batch() (2 rows per stream), made on first use */
  VvDiffusionHead *batch_head;

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
  p.kv_dtype = VV_DTYPE_BF16;
  return p;
}

gint
vv_power_low_threads (void)
{
  return MAX (1, (gint) g_get_num_processors () / 2);
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
  g_clear_pointer (&s->gen, gen_free);
  g_clear_pointer (&s->voice, vv_voice_prompt_free);
  g_clear_pointer (&s->lm, vv_lm_free);
  g_clear_pointer (&s->head, vv_diffusion_head_free);
  g_clear_pointer (&s->batch_head, vv_diffusion_head_free);
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

/* ---------------------------------------------------------------------- */
/* Generation, device-resident: activations, caches and the frame's data
 * stay in the backend's memory; per token only the 4 control logits come
 * back, per frame the noise goes up (and the latent/audio come back only
 * for callbacks that want host memory). */

struct _VvGen {
  VvSessionParams p;
  VvTorchGenerator gen;
  VvSessionResult res;
  gint64 t_start;
  VvUsage usage0;               /* CPU time and energy at the start */
  gsize max_steps;
  VvKvCache *pos_cache, *neg_cache;
  /* device tensors, one row each */
  VvTensor *h_pos, *h_neg, *input, *sem_emb, *z, *dec_in, *noise, *audio, *sem, *logits;
  VvTensor *start_end;          /* [2, H]: embed(speech_start), embed(speech_end) */
  gfloat *host_noise, *host_z, *host_audio;
  gboolean pos_pass_pending;    /* input waits for the positive pass */
  /* h_neg already holds the negative pass of the pending input (run jointly
   * with the positive one); neg_length_before is the negative cache's length
   * before it, to take it back if the token is not ⟨diffusion⟩ */
  gboolean neg_pass_done;
  gsize neg_length_before;
  gboolean dec_reset;
  gboolean done;
  gint32 token;                 /* this step's, for step_complete() */
  /* batched: the stream took part in the joint half of a step (and its
   * token was ⟨diffusion⟩), step_complete() is due */
  gboolean step_joined, step_frame;
  VvDeviceStats stats0;         /* backend counters after the prefill */
};

static void
gen_free (VvGen *g)
{
  if (g == NULL)
    return;
  vv_kv_cache_free (g->pos_cache);
  vv_kv_cache_free (g->neg_cache);
  VvTensor *ts[] = { g->h_pos, g->h_neg, g->input, g->sem_emb, g->z, g->dec_in, g->noise,
    g->audio, g->sem, g->logits, g->start_end };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vv_tensor_free (ts[i]);
  g_free (g->host_noise);
  g_free (g->host_z);
  g_free (g->host_audio);
  g_free (g);
}

#define TIMED(field, expr) G_STMT_START { \
    gint64 t_ = g_get_monotonic_time (); \
    gboolean ok_ = (expr); \
    g->res.timings.field += g_get_monotonic_time () - t_; \
    if (!ok_) \
      return FALSE; \
  } G_STMT_END

static VvTensor *
row_tensor (VvSession *s, gint64 cols, GError **error)
{
  gint64 shape[2] = { 1, cols };
  return vv_backend_tensor_new (s->be, VV_DTYPE_F32, 2, shape, error);
}

/* Block calls of the frame, on device tensors. */
static gboolean
head_sample (VvSession *s, VvGen *g, GError **error)
{
  return vv_diffusion_sample (s->head, s->sched, g->h_pos, g->h_neg, g->p.cfg_scale,
      g->p.n_steps, g->noise, g->z, error);
}

static gboolean
decode_frame (VvSession *s, VvGen *g, GError **error)
{
  return vv_speech_decoder_decode (s->dec, g->dec_in, g->audio, error);
}

static gboolean
semantic_frame (VvSession *s, VvGen *g, GError **error)
{
  return vv_speech_encoder_encode_stream (s->sem_enc, g->audio, g->sem, error);
}

static gboolean
connect_frame (VvSession *s, VvGen *g, GError **error)
{
  return vv_connector_forward (s->ac_conn, g->z, g->input, error)
      && vv_connector_forward (s->sem_conn, g->sem, g->sem_emb, error);
}

/**
 * vv_session_prefill:
 * @session: a session
 * @prompt: a prompt from vv_session_prepare() or vv_prompt_new()
 * @params: (nullable): parameters and callbacks (%NULL: defaults); kept
 *   until vv_session_finish()
 * @error: return location for a #GError
 *
 * Starts a generation: samples the voices, builds the prompt embeddings on
 * the device and runs the positive LM pass over them.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_session_prefill (VvSession *s, VvPrompt *prompt_in, const VvSessionParams *params,
    GError **error)
{
  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (prompt_in != NULL, FALSE);
  g_clear_pointer (&s->gen, gen_free);
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
  g_autoptr (VvGen) g = g_new0 (VvGen, 1);
  g->p = *p;
  g->t_start = t_start;
  vv_usage_sample (&g->usage0);

  /* 1. Prompt ids; the voice frames' positions in them. */
  vv_torch_generator_init (&g->gen, p->seed);
  guint n_voices = vv_prompt_get_n_voices (prompt_in);
  gsize L, n_pos;
  const gint32 *ids = vv_prompt_get_ids (prompt_in, &L);
  const gint32 *vpos = vv_prompt_get_voice_positions (prompt_in, &n_pos);
  const gsize P = cfg->lm.max_position_embeddings > 0 ? (gsize) cfg->lm.max_position_embeddings
      : G_MAXSIZE;
  if (L >= P) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_TOO_LONG,
        "the prompt has %" G_GSIZE_FORMAT " tokens, the model allows at most %" G_GSIZE_FORMAT,
        L, P);
    return FALSE;
  }
  gsize max_steps = MIN (P - L, 2 * L);
  /* bench: the synthetic positions come first; the prompt and every
   * generated token must still fit below P */
  if (p->bench_position > 0 && p->bench_position >= P - L) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_TOO_LONG,
        "bench position %" G_GSIZE_FORMAT " + the prompt's %" G_GSIZE_FORMAT " tokens reach "
        "the model's max_position_embeddings %" G_GSIZE_FORMAT, p->bench_position, L, P);
    return FALSE;
  }
  max_steps = MIN (max_steps, P - L - p->bench_position);
  max_steps = MIN (max_steps, (gsize) G_MAXUINT);
  g->max_steps = max_steps;
  g->res.prompt_length = L;
  g->res.max_steps = (guint) max_steps;
  g->res.stop_reason = VV_STOP_LENGTH_LIMIT;

  /* 2. Prompt embeddings on the device: the token rows, then the voice
   * rows written in place by the voice prompt (σ-VAE sampling: the first
   * draws of the generator, then the connector on the device). */
  VvBackend *be = s->be;
  gint64 id_shape = (gint64) L, prompt_shape[2] = { (gint64) L, (gint64) H };
  g_autoptr (VvTensor) d_ids = vv_backend_tensor_new (be, VV_DTYPE_I32, 1, &id_shape, error);
  g_autoptr (VvTensor) d_prompt = d_ids ? vv_backend_tensor_new (be, VV_DTYPE_F32, 2,
      prompt_shape, error) : NULL;
  if (d_prompt == NULL)
    return FALSE;
  TIMED (connector_us, vv_backend_tensor_set (be, d_ids, 0, ids, L * sizeof (gint32), error)
      && vv_lm_embed (s->lm, d_ids, d_prompt, error));
  if (n_voices > 0) {
    g_autofree const gfloat **means = g_new (const gfloat *, n_voices);
    g_autofree gsize *frames = g_new (gsize, n_voices);
    gsize n_frames = 0;
    for (guint i = 0; i < n_voices; i++) {
      means[i] = vv_prompt_get_voice_means (prompt_in, i);
      frames[i] = vv_prompt_get_voice_frames (prompt_in, i);
      n_frames += frames[i];
    }
    if (n_frames != n_pos) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "the prompt has %" G_GSIZE_FORMAT " voice positions for %" G_GSIZE_FORMAT
          " voice frames", n_pos, n_frames);
      return FALSE;
    }
    TIMED (voice_us, vv_voice_prompt_embed (s->voice, means, frames, n_voices,
            p->deterministic_voice ? NULL : &g->gen, vpos, d_prompt, NULL, error));
  }

  /* 3. State. */
  const gsize bench = p->bench_position;
  /* Each cache is allocated once for the most it can hold: the §2.5 limit
   * bounds the steps, so the positive branch never holds more than
   * L + max_steps positions and the negative one (its one-token prompt,
   * at most one position a step) 1 + max_steps. The peak is known at the
   * prefill and no cache is ever copied into a bigger one (which would
   * hold old and new at once); host pages are committed as they are
   * written, so the resident size still follows the positions in use. */
  gsize pos_capacity = bench + L + max_steps;
  gsize neg_capacity = bench + 1 + max_steps;
  if ((g->pos_cache = vv_kv_cache_new_full (s->lm, p->kv_dtype, pos_capacity, 0, error)) == NULL
      || (g->neg_cache = vv_kv_cache_new_full (s->lm, p->kv_dtype, neg_capacity, 0, error))
      == NULL)
    return FALSE;
  /* bench: both branches start at position bench (the prefill runs at
   * bench … bench + L − 1); different seeds so they differ like real ones */
  if (bench > 0)
    TIMED (bench_fill_us, vv_kv_cache_fill_synthetic (g->pos_cache, bench, (guint32) p->seed,
            error)
        && vv_kv_cache_fill_synthetic (g->neg_cache, bench, (guint32) p->seed + 1, error));
  g->res.kv_bytes_per_token = vv_kv_cache_get_bytes_per_token (g->pos_cache);
  struct { VvTensor **t; gint64 cols; } rows[] = {
    { &g->h_pos, H }, { &g->h_neg, H }, { &g->input, H }, { &g->sem_emb, H },
    { &g->z, s->latent }, { &g->dec_in, s->latent }, { &g->noise, s->latent },
    { &g->audio, s->hop }, { &g->sem, s->sem_dim }, { &g->logits, VV_LM_N_CONTROL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if ((*rows[i].t = row_tensor (s, rows[i].cols, error)) == NULL)
      return FALSE;
  gint32 se_ids[2] = { VV_TOKEN_SPEECH_START, VV_TOKEN_SPEECH_END };
  gint64 two = 2, se_shape[2] = { 2, (gint64) H };
  g_autoptr (VvTensor) d_se = vv_backend_tensor_new (be, VV_DTYPE_I32, 1, &two, error);
  if (d_se == NULL
      || (g->start_end = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, se_shape, error)) == NULL
      || !vv_backend_tensor_set (be, d_se, 0, se_ids, sizeof (se_ids), error)
      || !vv_lm_embed (s->lm, d_se, g->start_end, error))
    return FALSE;
  g->host_noise = g_new (gfloat, s->latent);
  g->host_z = g_new (gfloat, s->latent);
  g->host_audio = g_new (gfloat, s->hop);
  vv_speech_decoder_reset (s->dec);
  vv_speech_encoder_reset (s->sem_enc);
  g->dec_reset = TRUE;

  /* t = 0: prefill; the input consumed at the last position is
   * embed(speech_start), the prompt's last row. */
  VvTensor last;
  vv_tensor_init_rows (&last, d_prompt, (gint64) L - 1, 1);
  TIMED (prefill_us, vv_lm_forward (s->lm, g->pos_cache, d_prompt, g->h_pos, error)
      && vv_backend_tensor_copy (be, g->input, &last, error));
  vv_backend_get_stats (be, &g->stats0);
  s->gen = g_steal_pointer (&g);
  return TRUE;
}

/**
 * vv_session_download:
 * @session: a session
 * @t: a tensor in the session backend's memory (e.g. from a frame callback)
 * @host: host memory for @n_bytes
 * @n_bytes: bytes to copy from the start of @t
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_session_download (VvSession *s, const VvTensor *t, gpointer host, gsize n_bytes,
    GError **error)
{
  return vv_backend_tensor_get (s->be, t, 0, host, n_bytes, error);
}

/* A frame in three parts, so that batched streams can run the middle one
 * (diffusion sampling) for all of them at once. Part 1: the negative LM
 * pass on this step's input (unless the step ran it together with the
 * positive one) and the frame's noise on the device. */
static gboolean
frame_prepare (VvSession *s, GError **error)
{
  VvGen *g = s->gen;
  const VvSessionParams *p = &g->p;
  const gsize latent_bytes = s->latent * sizeof (gfloat);
  if (g->neg_pass_done) {
    g->neg_pass_done = FALSE;
  } else {
    TIMED (neg_lm_us, vv_lm_forward (s->lm, g->neg_cache, g->input, g->h_neg, error));
    g->res.n_lm_passes++;
  }
  if (p->noise != NULL) {
    if (g->res.n_frames >= p->noise_frames) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_NOISE,
          "the injected noise has %" G_GSIZE_FORMAT " frames; frame %u needs more",
          p->noise_frames, g->res.n_frames);
      return FALSE;
    }
    memcpy (g->host_noise, p->noise + (gsize) g->res.n_frames * s->latent, latent_bytes);
  } else {
    vv_diffusion_draw_noise (&g->gen, s->latent, g->host_noise);
  }
  TIMED (head_us, vv_backend_tensor_set (s->be, g->noise, 0, g->host_noise, latent_bytes,
          error));
  return TRUE;
}

/* Part 3, once z is sampled: decoding, the frame callbacks, and the next
 * LM input (acoustic + semantic connectors). */
static gboolean
frame_finish (VvSession *s, GError **error)
{
  VvGen *g = s->gen;
  const VvSessionParams *p = &g->p;
  VvBackend *be = s->be;
  const gsize latent_bytes = s->latent * sizeof (gfloat);
  const gfloat scale = vv_model_get_speech_scaling_factor (s->model);
  const gfloat bias = vv_model_get_speech_bias_factor (s->model);
  /* the decoder sees z / scale − bias (§2.5) */
  TIMED (decoder_us, vv_backend_affine (be, VV_AFFINE_DIV_SUB, g->dec_in, g->z, scale, bias,
          error) && decode_frame (s, g, error));
  gboolean reset = g->dec_reset;
  g->dec_reset = FALSE;
  guint frame = g->res.n_frames++;
  if (p->frame_tensor)
    p->frame_tensor (s, g->z, g->audio, frame, reset, p->frame_tensor_user_data);
  if (p->new_frame) {
    if (!vv_backend_tensor_get (be, g->z, 0, g->host_z, latent_bytes, error))
      return FALSE;
    p->new_frame (g->host_z, s->latent, frame, reset, p->new_frame_user_data);
  }
  if (p->new_audio) {
    gsize audio_bytes = s->hop * sizeof (gfloat);
    if (!vv_backend_tensor_get (be, g->audio, 0, g->host_audio, audio_bytes, error))
      return FALSE;
    if (!vv_backend_is_host (be))           /* a copy from the device */
      g->res.audio_bytes_down += audio_bytes;
    p->new_audio (g->host_audio, s->hop, p->new_audio_user_data);
  }
  TIMED (semantic_us, semantic_frame (s, g, error));
  TIMED (connector_us, connect_frame (s, g, error)
      && vv_backend_binary (be, VV_BINARY_ADD, g->input, g->input, g->sem_emb, error));
  return TRUE;
}

/**
 * vv_session_frame:
 * @session: a session after vv_session_step() returned ⟨diffusion⟩
 * @error: return location for a #GError
 *
 * One speech frame: the negative LM pass on the step's input, diffusion
 * sampling, decoding, and the next LM input (acoustic + semantic
 * connectors), all on the device; then the frame callbacks.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_session_frame (VvSession *s, GError **error)
{
  g_return_val_if_fail (s != NULL && s->gen != NULL, FALSE);
  VvGen *g = s->gen;
  if (!frame_prepare (s, error))
    return FALSE;
  TIMED (head_us, head_sample (s, g, error));
  return frame_finish (s, error);
}

/* The positive pass of the pending input (and, jointly, the negative one:
 * one read of the LM weights for both CFG branches). */
static gboolean
step_lm (VvSession *s, GError **error)
{
  VvGen *g = s->gen;
  if (!g->pos_pass_pending)
    return TRUE;
  if (!g->p.separate_cfg_passes) {
    /* Both branches before the token is known: nearly every token is
     * ⟨diffusion⟩, whose frame needs the negative pass of this same input;
     * any other token takes it back (step_token). */
    VvKvCache *caches[2] = { g->pos_cache, g->neg_cache };
    const VvTensor *in[2] = { g->input, g->input };
    VvTensor *out[2] = { g->h_pos, g->h_neg };
    g->neg_length_before = vv_kv_cache_get_length (g->neg_cache);
    TIMED (lm_us, vv_lm_forward_rows (s->lm, caches, in, out, 2, error));
    g->neg_pass_done = TRUE;
  } else {
    TIMED (lm_us, vv_lm_forward (s->lm, g->pos_cache, g->input, g->h_pos, error));
  }
  g->res.n_lm_passes++;
  g->pos_pass_pending = FALSE;
  return TRUE;
}

/* After the LM pass: the 4 control logits (the only download), the token
 * and its effect on the state. *frame: the token is ⟨diffusion⟩ and its
 * frame is to run. The callbacks wait for step_complete(), which runs on
 * the stream's own thread when streams are batched. */
static gboolean
step_token (VvSession *s, gint32 *token_out, gboolean *frame, GError **error)
{
  VvGen *g = s->gen;
  const VvSessionParams *p = &g->p;
  VvBackend *be = s->be;
  *frame = FALSE;
  gfloat logits[VV_LM_N_CONTROL];
  TIMED (connector_us, vv_lm_logits_control (s->lm, g->h_pos, g->logits, error)
      && vv_backend_tensor_get (be, g->logits, 0, logits, sizeof (logits), error));
  gint32 token = p->force_diffusion ? VV_TOKEN_DIFFUSION : pick_token (logits);
  if (token != VV_TOKEN_DIFFUSION && g->neg_pass_done) {
    g->neg_pass_done = FALSE;
    if (!vv_kv_cache_truncate (g->neg_cache, g->neg_length_before, error))
      return FALSE;
  }
  *token_out = g->token = token;
  g->res.n_steps++;

  VvTensor row;
  if (token == VV_TOKEN_EOS) {
    g->res.stop_reason = VV_STOP_EOS;
  } else if (token == VV_TOKEN_SPEECH_END) {
    vv_speech_decoder_reset (s->dec);
    vv_speech_encoder_reset (s->sem_enc);
    g->dec_reset = TRUE;
    vv_tensor_init_rows (&row, g->start_end, 1, 1);
    TIMED (connector_us, vv_backend_tensor_copy (be, g->input, &row, error));
  } else if (token == VV_TOKEN_SPEECH_START) {
    /* §2.3; a bench run keeps its synthetic positions */
    if (!vv_kv_cache_truncate (g->neg_cache, p->bench_position, error))
      return FALSE;
    vv_tensor_init_rows (&row, g->start_end, 0, 1);
    TIMED (connector_us, vv_backend_tensor_copy (be, g->input, &row, error));
  } else {
    *frame = TRUE;
  }
  return TRUE;
}

/* The stream's own rest of a step, after its token (and, for ⟨diffusion⟩,
 * its sampled latent): the token callback; decoding, the frame callbacks
 * and the next input; progress and the limits. */
static gboolean
step_complete (VvSession *s, gboolean frame, GError **error)
{
  VvGen *g = s->gen;
  const VvSessionParams *p = &g->p;
  if (p->new_token)
    p->new_token (g->token, g->res.n_steps - 1, p->new_token_user_data);
  if (g->token == VV_TOKEN_EOS) {
    if (p->progress)
      p->progress (g->res.n_steps, (guint) g->max_steps, g->res.n_frames,
          p->progress_user_data);
    g->done = TRUE;
    return TRUE;
  }
  if (frame && !frame_finish (s, error))
    return FALSE;
  if (p->progress)
    p->progress (g->res.n_steps, (guint) g->max_steps, g->res.n_frames, p->progress_user_data);
  if (p->max_frames > 0 && g->res.n_frames >= p->max_frames) {
    g->res.stop_reason = VV_STOP_MAX_FRAMES;
    g->done = TRUE;
  } else if (g->res.n_steps >= g->max_steps) {
    g->res.stop_reason = VV_STOP_LENGTH_LIMIT;
    g->done = TRUE;
  } else {
    g->pos_pass_pending = TRUE;
  }
  return TRUE;
}

/* The abort callback, at the start of a step. */
static gboolean
step_aborted (VvSession *s)
{
  VvGen *g = s->gen;
  if (g->p.abort && g->p.abort (g->p.abort_user_data)) {
    g->res.stop_reason = VV_STOP_ABORTED;
    g->done = TRUE;
  }
  return g->done;
}

/**
 * vv_session_step:
 * @session: a session after vv_session_prefill()
 * @token: (out): the generated control token
 * @done: (out): %TRUE when generation has ended (eos, a limit, abort)
 * @error: return location for a #GError
 *
 * One generated token (MODEL-SPEC §2): the positive LM pass of the pending
 * input, the 4 control logits (the only download), the token, and its
 * effect; a ⟨diffusion⟩ token runs vv_session_frame().
 *
 * Returns: %TRUE on success
 */
gboolean
vv_session_step (VvSession *s, gint32 *token_out, gboolean *done, GError **error)
{
  g_return_val_if_fail (s != NULL && s->gen != NULL, FALSE);
  VvGen *g = s->gen;
  *done = g->done;
  *token_out = -1;
  if (g->done || step_aborted (s)) {
    *done = TRUE;
    return TRUE;
  }
  gboolean frame;
  if (!step_lm (s, error) || !step_token (s, token_out, &frame, error))
    return FALSE;
  if (frame) {
    if (!frame_prepare (s, error))
      return FALSE;
    TIMED (head_us, head_sample (s, g, error));
  }
  if (!step_complete (s, frame, error))
    return FALSE;
  *done = g->done;
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Batched streams: one step of several sessions on one engine, each
 * weight-streaming block run once for all of them. */

/* Shares @us of one joint pass among @n streams' timings. */
static void
share_time (VvSession **ss, const guint *idx, guint n, gsize field_offset, gint64 us)
{
  for (guint k = 0; k < n; k++) {
    gint64 *f = (gint64 *) ((guint8 *) &ss[idx[k]]->gen->res.timings + field_offset);
    *f += us / n;
  }
}

static gboolean
batch_check (VvSession **ss, guint n, GError **error)
{
  if (ss == NULL || n < 1 || n > VV_SESSION_MAX_BATCH) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "batched streams: 1 to %d sessions, got %u", VV_SESSION_MAX_BATCH, n);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    VvSession *s = ss[i];
    if (s == NULL || s->gen == NULL) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "batched streams: stream %u has no generation (call vv_session_prefill first)", i);
      return FALSE;
    }
    for (guint j = 0; j < i; j++)
      if (ss[j] == s) {
        g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
            "batched streams: stream %u is also stream %u", i, j);
        return FALSE;
      }
    if (s->model != ss[0]->model || s->be != ss[0]->be) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "batched streams: stream %u uses another model or backend than stream 0 (batched "
          "streams share one engine)", i);
      return FALSE;
    }
    if (s->gen->p.n_steps != ss[0]->gen->p.n_steps) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "batched streams: stream %u has %d diffusion steps, stream 0 %d (the streams share "
          "one timestep schedule)", i, s->gen->p.n_steps, ss[0]->gen->p.n_steps);
      return FALSE;
    }
  }
  return TRUE;
}

/* The joint part of a batched step: abort checks, one LM pass over every
 * pending input, the tokens, the frames' noise, one diffusion sampling for
 * every ⟨diffusion⟩ stream. Leaves each stream that took part with
 * g->step_joined (and g->step_frame) for step_complete(); a stream already
 * done takes no part. Runs no callback but abort. */
static gboolean
batch_joint (VvSession **ss, guint n, GError **error)
{
  VvSession *s0 = ss[0];
  guint act[VV_SESSION_MAX_BATCH], n_act = 0;
  for (guint i = 0; i < n; i++) {
    ss[i]->gen->step_joined = ss[i]->gen->step_frame = FALSE;
    if (!ss[i]->gen->done && !step_aborted (ss[i]))
      act[n_act++] = i;
  }
  if (n_act == 0)
    return TRUE;

  /* 1. one LM pass over every pending input: 2 rows per stream (positive
   * and negative) or 1 with separate_cfg_passes */
  VvKvCache *caches[VV_LM_MAX_JOINT_ROWS];
  const VvTensor *in[VV_LM_MAX_JOINT_ROWS];
  VvTensor *out[VV_LM_MAX_JOINT_ROWS];
  guint n_rows = 0, lm_idx[VV_SESSION_MAX_BATCH], n_lm = 0;
  for (guint k = 0; k < n_act; k++) {
    VvGen *g = ss[act[k]]->gen;
    if (!g->pos_pass_pending)
      continue;
    lm_idx[n_lm++] = act[k];
    caches[n_rows] = g->pos_cache;
    in[n_rows] = g->input;
    out[n_rows++] = g->h_pos;
    if (!g->p.separate_cfg_passes) {
      g->neg_length_before = vv_kv_cache_get_length (g->neg_cache);
      caches[n_rows] = g->neg_cache;
      in[n_rows] = g->input;
      out[n_rows++] = g->h_neg;
    }
  }
  if (n_rows > 0) {
    gint64 t0 = g_get_monotonic_time ();
    if (!vv_lm_forward_rows (s0->lm, caches, in, out, n_rows, error))
      return FALSE;
    share_time (ss, lm_idx, n_lm, G_STRUCT_OFFSET (VvSessionTimings, lm_us),
        g_get_monotonic_time () - t0);
    for (guint k = 0; k < n_lm; k++) {
      VvGen *g = ss[lm_idx[k]]->gen;
      g->res.n_lm_passes++;
      g->pos_pass_pending = FALSE;
      g->neg_pass_done = !g->p.separate_cfg_passes;
    }
  }

  /* 2. tokens; the streams whose token is ⟨diffusion⟩ get a frame */
  guint fr[VV_SESSION_MAX_BATCH], n_fr = 0;
  for (guint k = 0; k < n_act; k++) {
    VvGen *g = ss[act[k]]->gen;
    gint32 token;
    if (!step_token (ss[act[k]], &token, &g->step_frame, error)) {
      g_prefix_error (error, "stream %u: ", act[k]);
      return FALSE;
    }
    if (g->step_frame)
      fr[n_fr++] = act[k];
    if (n_act > 1)
      g->res.n_batched_steps++;
  }

  /* 3. the frames' noise per stream, one sampling for all */
  if (n_fr > 0) {
    if (s0->batch_head == NULL
        && (s0->batch_head = vv_diffusion_head_new_full (s0->model, s0->be,
                2 * VV_SESSION_MAX_BATCH, error)) == NULL)
      return FALSE;
    VvScheduler *scheds[VV_SESSION_MAX_BATCH];
    const VvTensor *hp[VV_SESSION_MAX_BATCH], *hn[VV_SESSION_MAX_BATCH],
        *noise[VV_SESSION_MAX_BATCH];
    VvTensor *z[VV_SESSION_MAX_BATCH];
    gfloat cfg[VV_SESSION_MAX_BATCH];
    for (guint k = 0; k < n_fr; k++) {
      VvSession *s = ss[fr[k]];
      if (!frame_prepare (s, error)) {
        g_prefix_error (error, "stream %u: ", fr[k]);
        return FALSE;
      }
      scheds[k] = s->sched;
      hp[k] = s->gen->h_pos;
      hn[k] = s->gen->h_neg;
      noise[k] = s->gen->noise;
      z[k] = s->gen->z;
      cfg[k] = s->gen->p.cfg_scale;
    }
    gint64 t0 = g_get_monotonic_time ();
    if (!vv_diffusion_sample_rows (s0->batch_head, scheds, hp, hn, cfg, s0->gen->p.n_steps,
            noise, z, n_fr, error))
      return FALSE;
    share_time (ss, fr, n_fr, G_STRUCT_OFFSET (VvSessionTimings, head_us),
        g_get_monotonic_time () - t0);
  }
  for (guint k = 0; k < n_act; k++)
    ss[act[k]]->gen->step_joined = TRUE;
  return TRUE;
}

/**
 * vv_session_step_batch: (skip)
 * @sessions: (array length=n): sessions after vv_session_prefill(), made on
 *   the same model and backend, with the same number of diffusion steps
 * @n: number of sessions, 1 … %VV_SESSION_MAX_BATCH
 * @tokens: (array length=n) (out caller-allocates): each stream's token
 *   (-1 for a stream that had already ended)
 * @done: (array length=n) (out caller-allocates): each stream's end
 * @error: return location for a #GError
 *
 * vv_session_step() for several streams at once: the LM pass of every
 * pending stream (both CFG branches each) is one vv_lm_forward_rows() call
 * and the diffusion sampling of every stream that produced ⟨diffusion⟩ is
 * one vv_diffusion_sample_rows() call, so the LM and head weights are read
 * once for all streams; decoding, the semantic encoder and the connectors
 * run per stream (each has its own streaming state). Streams that have
 * ended are skipped; each stream's callbacks run as in vv_session_step(),
 * on the calling thread. On the CPU backend every stream's output is
 * bit-identical to running it alone. Each stream's timings get an equal
 * share of the joint passes.
 *
 * Returns: %TRUE on success; on error the streams' state is undefined
 *   (finish them).
 */
gboolean
vv_session_step_batch (VvSession **ss, guint n, gint32 *tokens, gboolean *done,
    GError **error)
{
  g_return_val_if_fail (tokens != NULL && done != NULL, FALSE);
  if (!vv_session_step_batch_joint (ss, n, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!vv_session_step_batch_complete (ss[i], &tokens[i], &done[i], error)) {
      g_prefix_error (error, "stream %u: ", i);
      return FALSE;
    }
  return TRUE;
}

/**
 * vv_session_get_diffusion_steps: (skip)
 * @session: a session
 *
 * Returns: the diffusion steps of the generation in progress, 0 when none
 */
gint
vv_session_get_diffusion_steps (VvSession *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->gen ? s->gen->p.n_steps : 0;
}

/**
 * vv_session_step_batch_joint: (skip)
 * @sessions: (array length=n): as for vv_session_step_batch()
 * @n: number of sessions, 1 … %VV_SESSION_MAX_BATCH
 * @error: return location for a #GError
 *
 * The first half of vv_session_step_batch(), for callers that finish each
 * stream's step on its own thread (a #VvBatcher): the joint LM pass and
 * diffusion sampling. Runs no callback but abort. Each session then needs
 * vv_session_step_batch_complete() before it takes part in another step.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_session_step_batch_joint (VvSession **ss, guint n, GError **error)
{
  if (!batch_check (ss, n, error))
    return FALSE;
  return batch_joint (ss, n, error);
}

/**
 * vv_session_step_batch_complete: (skip)
 * @session: a session after vv_session_step_batch_joint()
 * @token: (out): the step's token (-1 when the stream had already ended)
 * @done: (out): %TRUE when the stream's generation has ended
 * @error: return location for a #GError
 *
 * The stream's own rest of a batched step: its token callback, decoding,
 * the semantic feedback and the frame callbacks, progress and limits.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_session_step_batch_complete (VvSession *s, gint32 *token, gboolean *done, GError **error)
{
  g_return_val_if_fail (s != NULL && s->gen != NULL, FALSE);
  VvGen *g = s->gen;
  *token = -1;
  if (g->step_joined) {
    g->step_joined = FALSE;
    *token = g->token;
    if (!step_complete (s, g->step_frame, error))
      return FALSE;
  }
  *done = g->done;
  return TRUE;
}

/**
 * vv_session_finish:
 * @session: a session
 * @out: (out caller-allocates) (optional): the result of the generation
 *
 * Ends the generation started by vv_session_prefill() and frees its state.
 */
void
vv_session_finish (VvSession *s, VvSessionResult *out)
{
  g_return_if_fail (s != NULL);
  VvGen *g = s->gen;
  if (g == NULL) {
    if (out)
      memset (out, 0, sizeof *out);
    return;
  }
  const VvConfig *cfg = vv_model_get_config (s->model);
  g->res.audio_seconds = (gdouble) g->res.n_frames * s->hop / (cfg->sampling_rate > 0 ?
      cfg->sampling_rate : 24000);
  g->res.timings.total_us = g_get_monotonic_time () - g->t_start;
  VvUsage usage1;
  vv_usage_sample (&usage1);
  vv_usage_diff (&g->usage0, &usage1, &g->res.cpu_seconds, &g->res.energy_joules);
  VvDeviceStats st;
  vv_backend_get_stats (s->be, &st);
  g->res.frame_bytes_up = st.bytes_up - g->stats0.bytes_up;
  g->res.frame_bytes_down = st.bytes_down - g->stats0.bytes_down - g->res.audio_bytes_down;
  g->res.kv_capacity_tokens = vv_kv_cache_get_capacity (g->pos_cache)
      + vv_kv_cache_get_capacity (g->neg_cache);
  if (out)
    *out = g->res;
  g_clear_pointer (&s->gen, gen_free);
}

gboolean
vv_session_generate_prompt (VvSession *s, VvPrompt *prompt_in, const VvSessionParams *params,
    VvSessionResult *out, GError **error)
{
  if (!vv_session_prefill (s, prompt_in, params, error))
    return FALSE;
  gboolean done = FALSE;
  gint32 token;
  while (!done) {
    if (!vv_session_step (s, &token, &done, error)) {
      g_clear_pointer (&s->gen, gen_free);
      return FALSE;
    }
  }
  vv_session_finish (s, out);
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
