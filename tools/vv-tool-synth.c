/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"
#include "vv-tool-audio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void
on_audio (const gfloat *samples, gsize n, gpointer user_data)
{
  g_array_append_vals ((GArray *) user_data, samples, n);
}

static void
on_frame (const gfloat *z, gint latent_size, guint frame, gboolean reset, gpointer user_data)
{
  g_array_append_vals ((GArray *) user_data, z, latent_size);
}

static void
on_token (gint32 token, guint step, gpointer user_data)
{
  g_string_append_printf ((GString *) user_data, "%d\n", token);
}

/* Reads @path whole, but no more than VV_SCRIPT_MAX_BYTES: a bounded read
 * rather than a size check, so pipes and growing files are bounded too. */
static gchar *
read_script (const gchar *path, gsize *len, GError **error)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path,
        g_strerror (e));
    return NULL;
  }
  g_autoptr (GString) text = g_string_new (NULL);
  gchar buf[65536];
  size_t n;
  while ((n = fread (buf, 1, sizeof buf, f)) > 0) {
    if (n > VV_SCRIPT_MAX_BYTES - text->len) {
      fclose (f);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "%s: the script is longer than %d bytes (8 MiB), more text than any model's "
          "context holds", path, VV_SCRIPT_MAX_BYTES);
      return NULL;
    }
    g_string_append_len (text, buf, (gssize) n);
  }
  int e = ferror (f) ? errno : 0;
  fclose (f);
  if (e != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path,
        g_strerror (e));
    return NULL;
  }
  *len = text->len;
  return g_string_free (g_steal_pointer (&text), FALSE);
}

int
vv_tool_synth (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *tok_dir = NULL, *script_path = NULL, *out = NULL;
  g_autofree gchar *noise_path = NULL, *latents_path = NULL, *tokens_path = NULL;
  g_autofree gchar *device = NULL;
  g_auto (GStrv) voice_paths = NULL;
  gint64 seed = 0;
  gint steps = 10, threads = 0, max_frames = 0;
  gdouble cfg_scale = 1.3;
  gboolean det_voice = FALSE, pcm16 = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &tok_dir, "Qwen2.5 tokenizer folder (default: the shipped one)", "DIR" },
    { "script", 0, 0, G_OPTION_ARG_FILENAME, &script_path, "Script of 'Speaker N: text' lines (required)", "FILE" },
    { "voice", 'v', 0, G_OPTION_ARG_FILENAME_ARRAY, &voice_paths, "Voice sample of the next speaker (repeat: speaker 1, 2, ...)", "A.wav" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output WAV, 24 kHz mono (required)", "OUT.wav" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed, as torch.manual_seed (default 0)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Diffusion steps per frame (default 10)", "N" },
    { "cfg", 0, 0, G_OPTION_ARG_DOUBLE, &cfg_scale, "Classifier-free guidance scale (default 1.3)", "X" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Backend to run on: auto (default: CUDA when a GPU works, else cpu), cpu, cuda, sim or cuda-emu (simulated and emulated devices, for testing)", "NAME" },
    { "max-frames", 0, 0, G_OPTION_ARG_INT, &max_frames, "Stop after N frames (default 0: the reference's limit)", "N" },
    { "deterministic-voice", 0, 0, G_OPTION_ARG_NONE, &det_voice, "Use the voice encoder means instead of sampling", NULL },
    { "pcm16", 0, 0, G_OPTION_ARG_NONE, &pcm16, "Write 16-bit PCM (clipped) instead of float32", NULL },
    { "noise", 0, 0, G_OPTION_ARG_FILENAME, &noise_path, "float32 [frames, 64] .npy: frame i's initial diffusion noise (conformance)", "NOISE.npy" },
    { "dump-latents", 0, 0, G_OPTION_ARG_FILENAME, &latents_path, "Write the latents z [frames, 64] (as the LM sees them) to a .npy", "Z.npy" },
    { "dump-tokens", 0, 0, G_OPTION_ARG_FILENAME, &tokens_path, "Write the generated control-token ids, one per line", "T.txt" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- synthesise speech from a script and voice samples");
  g_option_context_set_summary (ctx,
      "Runs the long-form generation loop (MODEL-SPEC section 2): one --voice per speaker,\n"
      "in speaker order. Prints frames, stop reason, audio seconds and real-time factor.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || !model_dir
      || !script_path || !out || voice_paths == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error ? error->message
        : "need --model DIR, --script FILE, --voice A.wav (one per speaker) and --out OUT.wav");
    return 2;
  }
  if (steps < 1 || max_frames < 0 || threads < 0) {
    fprintf (stderr, "vibevoice synth: --steps must be >= 1, --max-frames and --threads >= 0\n");
    return 2;
  }

  gsize script_len = 0;
  g_autofree gchar *script = read_script (script_path, &script_len, &error);
  if (script == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  /* A NUL would silently end the script early: refuse it. */
  const gchar *nul = memchr (script, '\0', script_len);
  if (nul != NULL) {
    fprintf (stderr, "vibevoice synth: %s: NUL byte at offset %" G_GSIZE_FORMAT
        " (a script is UTF-8 text)\n", script_path, (gsize) (nul - script));
    return 1;
  }
  g_autoptr (GArray) turns = vv_script_parse (script, -1, &error);
  if (turns == NULL) {
    fprintf (stderr, "vibevoice synth: %s: %s\n", script_path, error->message);
    return 1;
  }
  guint n_voices = g_strv_length (voice_paths);
  guint n_speakers = vv_script_count_speakers (turns);
  if (n_voices < n_speakers) {
    fprintf (stderr, "vibevoice synth: %s has %u speakers but %u --voice file%s given; "
        "pass one --voice per speaker\n", script_path, n_speakers, n_voices,
        n_voices == 1 ? " was" : "s were");
    return 1;
  }

  g_autoptr (VvModel) model = vv_model_load (model_dir, VV_MODEL_LOAD_DEFAULT, &error);
  if (model == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  const VvConfig *cfg = vv_model_get_config (model);
  gint rate = cfg->sampling_rate > 0 ? cfg->sampling_rate : 24000;

  g_autoptr (GPtrArray) clips = g_ptr_array_new_with_free_func (g_free);
  g_autofree gsize *lengths = g_new0 (gsize, n_voices);
  for (guint i = 0; i < n_voices; i++) {
    gfloat *a = vv_tool_audio_read (voice_paths[i], rate, VV_VOICE_MAX_SAMPLES,
        &lengths[i], &error);
    if (a == NULL) {
      fprintf (stderr, "vibevoice synth: %s\n", error->message);
      return 1;
    }
    g_ptr_array_add (clips, a);
    if (lengths[i] == 0) {
      fprintf (stderr, "vibevoice synth: %s holds no audio\n", voice_paths[i]);
      return 1;
    }
  }

  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (tok_dir ? tok_dir
      : vv_tool_default_tokenizer_dir (), &error);
  g_autoptr (VvEngine) engine = tok ? vv_engine_new (model, device ? device : "auto", threads,
      &error) : NULL;
  g_autoptr (VvSession) session = engine ? vv_session_new (model, tok,
      vv_engine_get_backend (engine), &error) : NULL;
  if (session == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }

  g_autoptr (VvNpyArray) noise = NULL;
  if (noise_path != NULL) {
    noise = vv_npy_load (noise_path, &error);
    if (noise == NULL) {
      fprintf (stderr, "vibevoice synth: %s\n", error->message);
      return 1;
    }
    if (noise->ndim != 2 || noise->shape[1] != cfg->acoustic_vae_dim) {
      fprintf (stderr, "vibevoice synth: %s: expected a [frames, %d] array\n", noise_path,
          cfg->acoustic_vae_dim);
      return 1;
    }
  }

  g_autoptr (GArray) audio = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GArray) latents = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GString) tokens = g_string_new (NULL);
  VvSessionParams params = vv_session_default_params ();
  params.new_frame = on_frame;
  params.new_frame_user_data = latents;
  params.new_token = on_token;
  params.new_token_user_data = tokens;
  if (noise != NULL) {
    params.noise = noise->data;
    params.noise_frames = (gsize) noise->shape[0];
  }
  params.seed = (guint64) seed;
  params.n_steps = steps;
  params.cfg_scale = (gfloat) cfg_scale;
  params.n_threads = threads;
  params.max_frames = (guint) max_frames;
  params.deterministic_voice = det_voice;
  params.new_audio = on_audio;
  params.new_audio_user_data = audio;

  VvSessionResult res;
  gint64 t0 = g_get_monotonic_time ();
  if (!vv_session_generate (session, script, (const gfloat *const *) clips->pdata, lengths,
          n_voices, &params, &res, &error)) {
    fprintf (stderr, "vibevoice synth: %s: %s\n", script_path, error->message);
    return 1;
  }
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  if (!vv_tool_audio_write (out, (const gfloat *) audio->data, audio->len, rate, pcm16, &error)) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  if (latents_path != NULL) {
    gint64 shape[2] = { latents->len / cfg->acoustic_vae_dim, cfg->acoustic_vae_dim };
    if (!vv_npy_save (latents_path, (const gfloat *) latents->data, 2, shape, &error)) {
      fprintf (stderr, "vibevoice synth: %s\n", error->message);
      return 1;
    }
  }
  if (tokens_path != NULL && !g_file_set_contents (tokens_path, tokens->str, tokens->len,
          &error)) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  printf ("prompt %" G_GSIZE_FORMAT " tokens, %u steps: %u frames, stop: %s, %.2f s of audio "
      "in %.2f s (real-time factor %.3f), wrote %s\n", res.prompt_length, res.n_steps,
      res.n_frames, vv_stop_reason_to_string (res.stop_reason), res.audio_seconds, secs,
      res.audio_seconds > 0 ? secs / res.audio_seconds : 0.0, out);
  /* what crossed between host and device per frame after the prefill
   * (noise and positions up; control logits and latents down), audio apart */
  guint nf = MAX (res.n_frames, 1);
  printf ("transfers: %" G_GUINT64_FORMAT " bytes up, %" G_GUINT64_FORMAT " bytes down per "
      "frame on %s (plus %" G_GUINT64_FORMAT " bytes of audio per frame)\n",
      res.frame_bytes_up / nf, res.frame_bytes_down / nf, vv_engine_get_device_name (engine),
      res.audio_bytes_down / nf);
  return 0;
}
