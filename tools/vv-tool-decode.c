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
  g_autofree gchar *model_dir = NULL, *out = NULL, *dump = NULL;
  gint chunk = 0, threads = 0;
  gboolean pcm16 = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output WAV, 24 kHz mono (required)", "OUT.wav" },
    { "chunk", 'c', 0, G_OPTION_ARG_INT, &chunk, "Decode N frames per call (default: all at once); the result is identical", "N" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &dump, "Also write the samples as float32 .npy", "OUT.npy" },
    { "pcm16", 0, 0, G_OPTION_ARG_NONE, &pcm16, "Write 16-bit PCM (clipped) instead of float32", NULL },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("LAT.npy - decode sigma-VAE latents to audio");
  g_option_context_set_summary (ctx,
      "LAT.npy is float32 [frames, 64] (or [1, frames, 64]): decoder input, i.e. latents already\n"
      "de-normalised (z / scaling - bias). Decoding is streaming (MODEL-SPEC section 5.6).");
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
  gint hop = vv_speech_decoder_get_hop (dec);
  g_autofree gfloat *audio = g_new0 (gfloat, frames * hop);
  gint64 step = chunk > 0 ? chunk : frames;
  gint64 t0 = g_get_monotonic_time ();
  for (gint64 f = 0; f < frames; f += step) {
    gint64 m = MIN (step, frames - f);
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
