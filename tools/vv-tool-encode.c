/* gst-vibevoice — `vibevoice encode`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"
#include "vv-tool-audio.h"

#include <stdio.h>

int
vv_tool_encode (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *out = NULL;
  gboolean semantic = FALSE, mean = FALSE;
  gint threads = 0;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output .npy, float32 [frames, dim] (required)", "LAT.npy" },
    { "semantic", 0, 0, G_OPTION_ARG_NONE, &semantic, "Use the semantic encoder (128-d) instead of the acoustic one (64-d)", NULL },
    { "mean", 0, 0, G_OPTION_ARG_NONE, &mean, "Write the deterministic encoder mean instead of a sigma-VAE sample", NULL },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the sigma-VAE sample, as torch.manual_seed (default 0)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IN.wav - encode audio into sigma-VAE latents");
  g_option_context_set_summary (ctx,
      "The audio (any format libsndfile reads) is mixed to mono and resampled to 24 kHz with\n"
      "soxr HQ, as the reference's librosa.load does, then encoded whole (non-streaming,\n"
      "MODEL-SPEC section 5.4). The acoustic output is by default a sigma-VAE sample drawn as\n"
      "the reference draws it for voice prompts: mean + (fix_std / 0.8 * s) * eps, s ~ N(0, 1)\n"
      "per utterance, eps ~ N(0, 1) per value (sections 1.6, 12.2), from a torch-compatible\n"
      "generator seeded with --seed; --mean writes the mean. The semantic encoder is\n"
      "deterministic (its output is always the mean). No dB normalisation is applied here.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || !model_dir || !out) {
    fprintf (stderr, "vibevoice encode: %s\n", error ? error->message : "need --model DIR, --out LAT.npy and one IN.wav");
    return 2;
  }
  g_autoptr (VvModel) model = vv_model_load (model_dir, VV_MODEL_LOAD_DEFAULT, &error);
  g_autoptr (VvBackend) be = model ? vv_backend_new_cpu (threads, &error) : NULL;
  if (be == NULL) {
    fprintf (stderr, "vibevoice encode: %s\n", error->message);
    return 1;
  }
  const VvConfig *cfg = vv_model_get_config (model);
  gsize n = 0;
  g_autofree gfloat *audio = vv_tool_audio_read (argv[1], cfg->sampling_rate, 0, &n, &error);
  g_autoptr (VvSpeechEncoder) enc = audio ? vv_speech_encoder_new (model, be,
      semantic ? VV_SPEECH_TOKENIZER_SEMANTIC : VV_SPEECH_TOKENIZER_ACOUSTIC, &error) : NULL;
  if (enc == NULL) {
    fprintf (stderr, "vibevoice encode: %s\n", error->message);
    return 1;
  }
  gint hop = vv_speech_encoder_get_hop (enc), dim = vv_speech_encoder_get_dim (enc);
  gint64 frames = (gint64) ((n + hop - 1) / hop);
  g_autofree gfloat *means = g_new0 (gfloat, frames * dim);
  gint64 t0 = g_get_monotonic_time ();
  if (!vv_speech_encoder_encode_host (enc, audio, n, means, &error)) {
    fprintf (stderr, "vibevoice encode: %s\n", error->message);
    return 1;
  }
  gboolean sampled = !semantic && !mean && cfg->acoustic.fix_std > 0.0;
  if (sampled) {
    VvTorchGenerator gen;
    vv_torch_generator_init (&gen, (guint64) seed);
    vv_sigma_vae_sample (&gen, means, 1, frames, dim, (gfloat) (cfg->acoustic.fix_std / 0.8));
  }
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  gint64 shape[2] = { frames, dim };
  if (!vv_npy_save (out, means, 2, shape, &error)) {
    fprintf (stderr, "vibevoice encode: %s\n", error->message);
    return 1;
  }
  printf ("%s: %.2f s of audio -> %" G_GINT64_FORMAT " frames x %d (%s, %s) in %.2f s, wrote %s\n",
      argv[1], (gdouble) n / cfg->sampling_rate, frames, dim, semantic ? "semantic" : "acoustic",
      sampled ? "σ-VAE sample" : "mean", secs, out);
  return 0;
}
