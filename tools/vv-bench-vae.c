/* gst-vibevoice — `vibevoice bench vae`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <stdio.h>

/* The per-frame work the generation loop does on the σ-VAE side (MODEL-SPEC
 * §2.2 c-d): decode one latent frame (streaming), then run the semantic
 * encoder on its 3200 samples (streaming). Reports the time per frame, the
 * weight bytes each streams, and the ratio to the time those bytes take at
 * the read bandwidth measured in the same run. */

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

int
vv_bench_vae (int argc, char **argv)
{
  gint threads = 0, frames = 20;
  GOptionEntry entries[] = {
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "Frames to time after 2 warm-up frames (default 20)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL_DIR - per-frame σ-VAE decoder and semantic encoder");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || frames < 1) {
    fprintf (stderr, "vibevoice bench vae: %s\n", error ? error->message : "expected one MODEL_DIR");
    return 2;
  }
  g_autoptr (VvModel) model = vv_model_load (argv[1], VV_MODEL_LOAD_PREFAULT, &error);
  g_autoptr (VvBackend) be = model ? vv_backend_new_cpu (threads, &error) : NULL;
  g_autoptr (VvSpeechDecoder) dec = be ? vv_speech_decoder_new (model, be, &error) : NULL;
  g_autoptr (VvSpeechEncoder) sem = dec ? vv_speech_encoder_new (model, be,
      VV_SPEECH_TOKENIZER_SEMANTIC, &error) : NULL;
  if (sem == NULL) {
    fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
    return 1;
  }
  gint n_threads = vv_backend_get_n_threads (be);
  gint hop = vv_speech_decoder_get_hop (dec);
  gint dim = vv_model_get_config (model)->acoustic.vae_dim;
  gint sem_dim = vv_speech_encoder_get_dim (sem);
  g_autofree gfloat *z = g_new (gfloat, dim);
  /* the generation loop's data path: everything but the latent stays in
   * the backend's memory */
  g_autoptr (VvTensor) d_z = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, (gint64[]) { 1, dim },
      &error);
  g_autoptr (VvTensor) d_audio = d_z ? vv_backend_tensor_new (be, VV_DTYPE_F32, 1,
      (gint64[]) { hop }, &error) : NULL;
  g_autoptr (VvTensor) d_feat = d_audio ? vv_backend_tensor_new (be, VV_DTYPE_F32, 2,
      (gint64[]) { 1, sem_dim }, &error) : NULL;
  if (d_feat == NULL) {
    fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
    return 1;
  }
  g_autofree gdouble *t_dec = g_new (gdouble, frames);
  g_autofree gdouble *t_sem = g_new (gdouble, frames);
  GRand *rand = g_rand_new_with_seed (1);
  for (gint f = -2; f < frames; f++) {
    for (gint i = 0; i < dim; i++)
      z[i] = (gfloat) g_rand_double_range (rand, -1.0, 1.0);
    gboolean ok = vv_backend_tensor_set (be, d_z, 0, z, dim * sizeof (gfloat), &error);
    gint64 t0 = g_get_monotonic_time ();
    ok = ok && vv_speech_decoder_decode (dec, d_z, d_audio, &error)
        && vv_backend_synchronize (be, &error);
    gint64 t1 = g_get_monotonic_time ();
    ok = ok && vv_speech_encoder_encode_stream (sem, d_audio, d_feat, &error)
        && vv_backend_synchronize (be, &error);
    gint64 t2 = g_get_monotonic_time ();
    if (!ok) {
      fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
      g_rand_free (rand);
      return 1;
    }
    if (f >= 0) {
      t_dec[f] = (t1 - t0) / 1000.0;
      t_sem[f] = (t2 - t1) / 1000.0;
    }
  }
  g_rand_free (rand);
  qsort (t_dec, frames, sizeof (gdouble), cmp_double);
  qsort (t_sem, frames, sizeof (gdouble), cmp_double);
  gdouble bw = vv_bench_read_bandwidth (1024, n_threads, 3);
  guint64 b_dec = vv_model_get_component_bytes (model, VV_COMPONENT_ACOUSTIC_DECODER);
  guint64 b_sem = vv_model_get_component_bytes (model, VV_COMPONENT_SEMANTIC_ENCODER);
  gdouble bound_dec = b_dec / (bw * 1e9) * 1e3, bound_sem = b_sem / (bw * 1e9) * 1e3;
  printf ("model: %s, %d thread(s), %s backend, %d frames (median / min ms)\n", argv[1], n_threads,
      vv_backend_get_name (be), frames);
  printf ("read bandwidth (same run): %.1f GB/s\n", bw);
  printf ("%-28s %9s %9s %12s %12s %7s\n", "per frame", "median", "min", "weights MB", "bound ms", "ratio");
  printf ("%-28s %9.1f %9.1f %12.1f %12.1f %7.2f\n", "acoustic decoder (1 frame)", t_dec[frames / 2],
      t_dec[0], b_dec / 1e6, bound_dec, t_dec[frames / 2] / bound_dec);
  printf ("%-28s %9.1f %9.1f %12.1f %12.1f %7.2f\n", "semantic encoder (3200 smp)", t_sem[frames / 2],
      t_sem[0], b_sem / 1e6, bound_sem, t_sem[frames / 2] / bound_sem);
  printf ("frame budget at 7.5 Hz: 133.3 ms; these two take %.1f ms of it\n",
      t_dec[frames / 2] + t_sem[frames / 2]);
  return 0;
}
