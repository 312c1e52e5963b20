/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"
#include "vv-prompt.h"
#include "vv-tokenizer.h"

G_BEGIN_DECLS

#define VV_SESSION_ERROR (vv_session_error_quark ())
GQuark vv_session_error_quark (void);

/**
 * VvSessionError:
 * @VV_SESSION_ERROR_INVALID: bad parameters (steps, cfg, voices…)
 * @VV_SESSION_ERROR_TOO_LONG: the prompt does not fit in the model's
 *   max_position_embeddings
 * @VV_SESSION_ERROR_NOISE: injected noise (@noise) ran out before generation
 *   ended
 */
typedef enum {
  VV_SESSION_ERROR_INVALID,
  VV_SESSION_ERROR_TOO_LONG,
  VV_SESSION_ERROR_NOISE,
} VvSessionError;

/**
 * VvStopReason:
 * @VV_STOP_EOS: the model emitted ⟨eos⟩
 * @VV_STOP_MAX_FRAMES: @max_frames frames were made
 * @VV_STOP_ABORTED: the abort callback returned %TRUE
 * @VV_STOP_LENGTH_LIMIT: the reference's step limit min(P − L, 2·L) was
 *   reached (MODEL-SPEC §2.5)
 */
typedef enum {
  VV_STOP_EOS,
  VV_STOP_MAX_FRAMES,
  VV_STOP_ABORTED,
  VV_STOP_LENGTH_LIMIT,
} VvStopReason;

const gchar *vv_stop_reason_to_string (VvStopReason reason);

/* Called with each latent z (normalised as the LM sees it, 64 floats) and
 * its 0-based frame index; @reset is TRUE when the streaming decoder was
 * reset before this frame (first frame, or first after ⟨speech_end⟩). */
typedef void     (*VvSessionNewFrameFunc) (const gfloat *z, gint latent_size, guint frame,
                                           gboolean reset, gpointer user_data);
/* Called with each chunk of 24 kHz audio (one frame: hop samples), right
 * after new_frame for the same frame. */
typedef void     (*VvSessionNewAudioFunc) (const gfloat *samples, gsize n, gpointer user_data);
/* Called with each generated control token (⟨speech_start⟩ 151652,
 * ⟨speech_end⟩ 151653, ⟨diffusion⟩ 151654, ⟨eos⟩ 151643); @step is 0-based. */
typedef void     (*VvSessionNewTokenFunc) (gint32 token, guint step, gpointer user_data);
/* Called after every generation step: @step generated tokens so far (1-based),
 * of at most @max_steps; @frames frames so far. */
typedef void     (*VvSessionProgressFunc) (guint step, guint max_steps, guint frames,
                                           gpointer user_data);
/* Polled before every step; returning %TRUE stops generation (VV_STOP_ABORTED). */
typedef gboolean (*VvSessionAbortFunc) (gpointer user_data);

typedef struct _VvSession VvSession;
/* Called with each frame as device tensors (valid during the call only): the
 * latent @z [1, 64] and its audio [1, hop], both in the memory of the
 * session's backend. Nothing is downloaded unless the callback asks for it
 * (vv_session_download()). */
typedef void     (*VvSessionFrameTensorFunc) (VvSession *session, const VvTensor *z,
                                              const VvTensor *audio, guint frame,
                                              gboolean reset, gpointer user_data);

/**
 * VvSessionParams:
 * @n_steps: diffusion steps per frame (default 10, MODEL-SPEC §2.4)
 * @cfg_scale: classifier-free guidance scale (default 1.3)
 * @seed: seeds one torch-compatible generator, used first for the voice
 *   σ-VAE sampling, then for each frame's noise (the reference's order)
 * @deterministic_voice: use the voice encoder means instead of sampling
 * @max_frames: stop after this many frames (0: only the reference rule,
 *   at most min(P − L, 2·L) generated tokens, §2.5, which always applies)
 * @n_threads: CPU threads when the session owns its backend (0 = all)
 * @noise: (array) (nullable): `[noise_frames, 64]` initial diffusion noise,
 *   row i used by frame i instead of drawing from the generator (for
 *   conformance against the reference with the same injected noise)
 * @noise_frames: rows of @noise; generating more frames is an error
 * @frame_tensor: (nullable): called with each frame on the device
 * @force_diffusion: benchmark/debug only: take ⟨diffusion⟩ at every step
 *   whatever the logits say (they are still computed), so a random-weight
 *   model makes exactly @max_frames frames (the §2.5 length limit still
 *   applies); the output is not what the model would say
 * @separate_cfg_passes: run the negative CFG branch in its own LM pass
 *   instead of together with the positive one (same numbers, the LM weights
 *   read twice per frame; for measuring the joint pass against it)
 * @kv_dtype: the KV caches' dtype: %VV_DTYPE_BF16 (the default of
 *   vv_session_default_params(): 28 KiB per token per branch at 1.5B, as
 *   the reference keeps it in its bf16 runs) or %VV_DTYPE_F32 (twice that;
 *   what the fp32 conformance vectors are checked with; also the zero
 *   value of the field)
 * @bench_position: bench only: synthetic positions (deterministic random
 *   keys/values) put in front of the prompt in both CFG caches, so the
 *   frames run at context position bench_position + L + i; the §2.5 limit
 *   is still min(P − L, 2·L), cut to P − bench_position − L so positions
 *   stay below max_position_embeddings P (0: a normal run)
 *
 * Get the defaults with vv_session_default_params(), then change fields.
 */
typedef struct {
  gint n_steps;
  gfloat cfg_scale;
  guint64 seed;
  gboolean deterministic_voice;
  guint max_frames;
  gint n_threads;
  const gfloat *noise;
  gsize noise_frames;
  gboolean force_diffusion;
  gboolean separate_cfg_passes;
  VvDType kv_dtype;
  gsize bench_position;

  VvSessionNewFrameFunc new_frame;
  gpointer new_frame_user_data;
  VvSessionNewAudioFunc new_audio;
  gpointer new_audio_user_data;
  VvSessionProgressFunc progress;
  gpointer progress_user_data;
  VvSessionAbortFunc abort;
  gpointer abort_user_data;
  VvSessionNewTokenFunc new_token;
  gpointer new_token_user_data;
  VvSessionFrameTensorFunc frame_tensor;
  gpointer frame_tensor_user_data;
} VvSessionParams;

/**
 * VvSessionTimings:
 * @voice_us: voice encoding (vv_session_generate() only), σ-VAE sampling
 *   and acoustic connector of the voices
 * @prefill_us: the prompt's positive LM pass
 * @lm_us: LM passes after the prefill (one per step; both CFG branches
 *   unless separate_cfg_passes)
 * @neg_lm_us: negative-branch LM passes of their own (one per frame with
 *   separate_cfg_passes, else only the first frame after the prefill)
 * @head_us: diffusion sampling (all steps, both CFG branches)
 * @decoder_us: σ-VAE decoder
 * @semantic_us: semantic encoder on the decoded audio
 * @connector_us: acoustic + semantic connectors, embeddings, logits
 * @bench_fill_us: the synthetic KV-cache fill of @bench_position (bench
 *   only; part of @total_us, not of a frame's work)
 * @total_us: the whole vv_session_generate_prompt()
 *
 * Wall-clock microseconds spent per block.
 */
typedef struct {
  gint64 voice_us;
  gint64 prefill_us;
  gint64 lm_us;
  gint64 neg_lm_us;
  gint64 head_us;
  gint64 decoder_us;
  gint64 semantic_us;
  gint64 connector_us;
  gint64 bench_fill_us;
  gint64 total_us;
} VvSessionTimings;

/**
 * VvSessionResult:
 * @n_frames: frames generated (each hop samples of audio)
 * @n_steps: tokens generated (frames plus ⟨speech_end⟩ / ⟨speech_start⟩ / ⟨eos⟩)
 * @prompt_length: L, prompt tokens including voice frames
 * @stop_reason: why generation ended
 * @audio_seconds: seconds of audio produced
 * @max_steps: the reference's step limit min(P − L, 2·L) for this prompt
 * @timings: where the time went
 * @frame_bytes_up: bytes uploaded to the device after the prefill (the
 *   frames' noise and positions; 0 on the host)
 * @frame_bytes_down: bytes downloaded after the prefill, audio excepted
 *   (control logits, latents a callback asked for)
 * @audio_bytes_down: audio bytes downloaded for host-audio callbacks
 * @n_lm_passes: LM passes after the prefill; a joint pass of both CFG
 *   branches counts once
 * @cpu_seconds: CPU time the process spent from the prefill to the end
 *   (every thread; the pipeline's other elements too, when in one)
 * @energy_joules: the machine's RAPL package energy over the same span,
 *   or < 0 where no powercap energy counter is exposed (most VMs)
 * @kv_bytes_per_token: bytes one context position takes in one CFG
 *   branch's KV cache (keys and values of all layers, in the cache's dtype)
 * @kv_capacity_tokens: positions the two KV caches held room for at the end
 *   (together): allocated once at the prefill for the most the §2.5 limit
 *   allows, L + max_steps and 1 + max_steps (plus @bench_position each), so
 *   times @kv_bytes_per_token it is the caches' peak allocation
 * @n_batched_steps: steps whose LM pass and sampling this stream shared
 *   with other streams (vv_session_step_batch(), #VvBatcher)
 */
typedef struct {
  guint n_frames;
  guint n_steps;
  gsize prompt_length;
  VvStopReason stop_reason;
  gdouble audio_seconds;
  guint max_steps;
  VvSessionTimings timings;
  guint64 frame_bytes_up;
  guint64 frame_bytes_down;
  guint64 audio_bytes_down;
  guint n_lm_passes;
  gsize kv_bytes_per_token;
  gsize kv_capacity_tokens;
  guint n_batched_steps;
  gdouble cpu_seconds;
  gdouble energy_joules;
} VvSessionResult;

VvSessionParams vv_session_default_params (void);

/**
 * VV_POWER_LOW_STEPS:
 *
 * Diffusion steps of the low-power preset (`power=low`, `--power low`):
 * half the default 10. The preset also loads the LM and head weights as
 * int8 (VV_MODEL_LOAD_INT8) and runs on vv_power_low_threads() threads.
 */
#define VV_POWER_LOW_STEPS 5
/* Threads of the low-power preset: half the processors, at least 1. */
gint            vv_power_low_threads (void);

/* @be: (nullable): the compute backend (must outlive the session); %NULL
 * makes the session create a CPU backend with the @n_threads of the first
 * vv_session_generate(). The model and tokenizer are referenced. @tok may be
 * %NULL for a session that only runs vv_session_generate_prompt(). */
VvSession *vv_session_new (VvModel *model, VvTokenizer *tok, VvBackend *be, GError **error);
void       vv_session_free (VvSession *session);

/**
 * vv_session_generate:
 * @session: a session
 * @script: `Speaker N: text` lines (MODEL-SPEC §1.2)
 * @voices: (array length=n_voices): mono 24 kHz voice clips, one per speaker
 *   (speaker i uses clip i after normalisation of the ids); extra clips are
 *   ignored
 * @voice_lengths: (array length=n_voices): samples per clip, each ≥ 1
 * @n_voices: number of clips; 0 builds a prompt without a voice section
 * @params: (nullable): parameters and callbacks (%NULL: defaults)
 * @out: (out caller-allocates) (optional): the result
 * @error: return location for a #GError
 *
 * vv_session_prepare() then vv_session_generate_prompt(). Audio is
 * delivered through the new_audio callback. Not thread-safe: one generate
 * per session at a time.
 *
 * Returns: %TRUE when generation ended by eos, the frame limit or abort.
 */
/**
 * vv_session_prepare:
 * @session: a session
 * @script: `Speaker N: text` lines (MODEL-SPEC §1.2)
 * @voices: (array length=n_voices): mono 24 kHz voice clips, one per speaker
 * @voice_lengths: (array length=n_voices): samples per clip, each ≥ 1
 * @n_voices: number of clips (extra clips are ignored)
 * @error: return location for a #GError
 *
 * Parses, tokenises and encodes the voices (acoustic-encoder means, padded
 * as the reference's batch) — everything that does not depend on the seed.
 *
 * Returns: (transfer full) (nullable): the prompt
 */
VvPrompt  *vv_session_prepare (VvSession *session, const gchar *script,
                               const gfloat *const *voices, const gsize *voice_lengths,
                               guint n_voices, GError **error);

/**
 * vv_session_generate_prompt:
 * @session: a session
 * @prompt: a prompt from vv_session_prepare() or vv_prompt_new()
 * @params: (nullable): parameters and callbacks (%NULL: defaults)
 * @out: (out caller-allocates) (optional): the result
 * @error: return location for a #GError
 *
 * The generation loop (MODEL-SPEC §2) on a prepared prompt: the seed's
 * generator samples the voices first, then each frame's noise.
 *
 * Returns: %TRUE when generation ended by eos, a limit or abort.
 */
gboolean   vv_session_generate_prompt (VvSession *session, VvPrompt *prompt,
                                       const VvSessionParams *params, VvSessionResult *out,
                                       GError **error);

/* The generation loop in pieces (vv_session_generate_prompt() runs them):
 * prefill builds the prompt embeddings on the device and runs the LM over
 * them; each step reads back the 4 control logits, picks the token and
 * applies it; a ⟨diffusion⟩ token runs vv_session_frame() (negative pass,
 * diffusion sampling, decoding, the acoustic + semantic feedback), all on
 * the device. finish returns the result and frees the state. */
gboolean   vv_session_prefill (VvSession *session, VvPrompt *prompt,
                               const VvSessionParams *params, GError **error);
gboolean   vv_session_step (VvSession *session, gint32 *token, gboolean *done,
                            GError **error);
gboolean   vv_session_frame (VvSession *session, GError **error);
void       vv_session_finish (VvSession *session, VvSessionResult *out);
/* Batched streams: one step of up to VV_SESSION_MAX_BATCH sessions made on
 * the same model and backend (vv_session_new() with one backend), each
 * after its own vv_session_prefill(); the LM and diffusion-head weights are
 * read once for all of them. tokens[i] and done[i] as vv_session_step()'s. */
#define VV_SESSION_MAX_BATCH 4
gboolean   vv_session_step_batch (VvSession **sessions, guint n, gint32 *tokens,
                                  gboolean *done, GError **error);
/* vv_session_step_batch() in two halves, for streams on threads of their
 * own (VvBatcher): the joint LM pass and sampling for all, then each
 * stream's rest of the step (decoding, callbacks) on its own thread. */
gboolean   vv_session_step_batch_joint (VvSession **sessions, guint n, GError **error);
gboolean   vv_session_step_batch_complete (VvSession *session, gint32 *token,
                                           gboolean *done, GError **error);
gint       vv_session_get_diffusion_steps (VvSession *session);
/* Copies @n_bytes of device tensor @t (from a frame callback) to host memory. */
gboolean   vv_session_download (VvSession *session, const VvTensor *t, gpointer host,
                                gsize n_bytes, GError **error);

/* The backend the session created (or was given); NULL before the first
 * generation when it owns one. */
VvBackend *vv_session_get_backend (VvSession *session);

gboolean   vv_session_generate (VvSession *session, const gchar *script,
                                const gfloat *const *voices, const gsize *voice_lengths,
                                guint n_voices, const VvSessionParams *params,
                                VvSessionResult *out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvSession, vv_session_free)

G_END_DECLS
