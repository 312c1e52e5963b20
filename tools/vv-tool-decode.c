/* gst-vibevoice — `vibevoice decode`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"
#include "vv-tool-audio.h"

#include <stdio.h>

int
vv_tool_decode (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *out = NULL, *dump = NULL, *resets_path = NULL;
  gint chunk = 0, threads = 0;
  gboolean pcm16 = FALSE, raw = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output WAV, 24 kHz mono (required)", "OUT.wav" },
    { "chunk", 'c', 0, G_OPTION_ARG_INT, &chunk, "Decode N frames per call (default: all at once); the result is identical", "N" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &dump, "Also write the samples as float32 .npy", "OUT.npy" },
    { "pcm16", 0, 0, G_OPTION_ARG_NONE, &pcm16, "Write 16-bit PCM (clipped) instead of float32", NULL },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "resets", 0, 0, G_OPTION_ARG_FILENAME, &resets_path, "Reset the decoder before each frame listed, one a line (what synth --dump-resets writes)", "R.txt" },
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, "LAT.npy is decoder input (sigma-VAE space, as `encode` writes), not normalised z", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("LAT.npy - decode sigma-VAE latents to audio");
  g_option_context_set_summary (ctx,
      "LAT.npy is float32 [frames, 64] (or [1, frames, 64]) of normalised latents z, as the LM\n"
      "sees them: what `synth --dump-latents` writes and vvdiffuse streams. They are decoded as\n"
      "vvvocode does, z / speech_scaling_factor - speech_bias_factor; --raw takes decoder input\n"
      "(sigma-VAE space, what `encode` writes) as is. Decoding is streaming (MODEL-SPEC 5.6).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || !model_dir || !out) {
    fprintf (stderr, "vibevoice decode: %s\n", error ? error->message : "need --model DIR, --out OUT.wav and one LAT.npy");
    return 2;
  }
  if (chunk < 0) {
    fprintf (stderr, "vibevoice decode: --chunk must be >= 1\n");
    return 2;
  }
  g_autoptr (VvNpyArray) lat = vv_npy_load (argv[1], &error);
  if (lat == NULL) {
    fprintf (stderr, "vibevoice decode: %s\n", error->message);
    return 1;
  }
  g_autoptr (VvModel) model = vv_model_load (model_dir, VV_MODEL_LOAD_DEFAULT, &error);
  g_autoptr (VvBackend) be = model ? vv_backend_new_cpu (threads, &error) : NULL;
  g_autoptr (VvSpeechDecoder) dec = be ? vv_speech_decoder_new (model, be, &error) : NULL;
  if (dec == NULL) {
    fprintf (stderr, "vibevoice decode: %s\n", error->message);
    return 1;
  }
  const VvConfig *cfg = vv_model_get_config (model);
  gint dim = cfg->acoustic.vae_dim;
  gint64 frames;
  if (lat->ndim == 2 && lat->shape[1] == dim)
    frames = lat->shape[0];
  else if (lat->ndim == 3 && lat->shape[0] == 1 && lat->shape[2] == dim)
    frames = lat->shape[1];
  else {
    g_autofree gchar *s = vv_shape_string (lat->ndim, lat->shape);
    fprintf (stderr, "vibevoice decode: %s has shape %s; expected [frames, %d] or [1, frames, %d]\n",
        argv[1], s, dim, dim);
    return 1;
  }
  if (frames == 0) {
    fprintf (stderr, "vibevoice decode: %s holds no frames\n", argv[1]);
    return 1;
  }
  /* the de-normalisation of vvvocode and of the session's decoder input, in
   * the same float operations, so a dump decodes to the same samples */
  if (!raw) {
    const gfloat scale = vv_model_get_speech_scaling_factor (model);
    const gfloat bias = vv_model_get_speech_bias_factor (model);
    for (gint64 i = 0; i < frames * dim; i++)
      lat->data[i] = lat->data[i] / scale - bias;
  }
  /* reset points: a frame list, ascending, each inside the latents */
  g_autofree gboolean *reset_at = g_new0 (gboolean, frames);
  if (resets_path != NULL) {
    g_autofree gchar *text = NULL;
    if (!g_file_get_contents (resets_path, &text, NULL, &error)) {
      fprintf (stderr, "vibevoice decode: %s\n", error->message);
      return 1;
    }
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++) {
      g_strstrip (lines[i]);
      if (*lines[i] == '\0')
        continue;
      guint64 v = 0;
      if (!g_ascii_string_to_unsigned (lines[i], 10, 0, (guint64) frames - 1, &v, NULL)) {
        fprintf (stderr, "vibevoice decode: %s line %u: \"%s\" is not a frame number below %"
            G_GINT64_FORMAT "\n", resets_path, i + 1, lines[i], frames);
        return 1;
      }
      reset_at[v] = TRUE;
    }
  }
  gint hop = vv_speech_decoder_get_hop (dec);
  g_autofree gfloat *audio = g_new0 (gfloat, frames * hop);
  gint64 step = chunk > 0 ? chunk : frames;
  gint64 t0 = g_get_monotonic_time ();
  for (gint64 f = 0, m; f < frames; f += m) {
    if (reset_at[f] && f > 0)
      vv_speech_decoder_reset (dec);
    /* a chunk never crosses a reset point */
    m = MIN (step, frames - f);
    for (gint64 k = 1; k < m; k++)
      if (reset_at[f + k]) {
        m = k;
        break;
      }
    if (!vv_speech_decoder_decode_host (dec, lat->data + f * dim, m, audio + f * hop, &error)) {
      fprintf (stderr, "vibevoice decode: frame %" G_GINT64_FORMAT ": %s\n", f, error->message);
      return 1;
    }
  }
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  gdouble audio_secs = (gdouble) frames * hop / cfg->sampling_rate;
  if (!vv_tool_audio_write (out, audio, frames * hop, cfg->sampling_rate, pcm16, &error)) {
    fprintf (stderr, "vibevoice decode: %s\n", error->message);
    return 1;
  }
  if (dump) {
    gint64 shape[1] = { frames * hop };
    if (!vv_npy_save (dump, audio, 1, shape, &error)) {
      fprintf (stderr, "vibevoice decode: %s\n", error->message);
      return 1;
    }
  }
  printf ("%s: %" G_GINT64_FORMAT " frames -> %.2f s of audio in %.2f s (real-time factor %.3f), wrote %s\n",
      argv[1], frames, audio_secs, secs, secs / audio_secs, out);
  return 0;
}
