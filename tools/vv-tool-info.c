/* gst-vibevoice — `vibevoice info`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <stdio.h>

static void
print_tokenizer (const gchar *label, const VvSpeechTokenizerConfig *t)
{
  g_autoptr (GString) ratios = g_string_new (NULL);
  g_autoptr (GString) depths = g_string_new (NULL);
  for (gint i = 0; i < t->n_ratios; i++)
    g_string_append_printf (ratios, "%s%d", i ? "," : "", t->ratios[i]);
  for (gint i = 0; i <= t->n_ratios; i++)
    g_string_append_printf (depths, "%s%d", i ? "-" : "", t->depths[i]);
  printf ("  %-18s vae_dim %d, filters %d, ratios [%s] (hop %d), depths %s%s\n", label,
      t->vae_dim, t->n_filters, ratios->str, t->hop_length, depths->str,
      t->has_decoder ? ", with decoder" : "");
}

int
vv_tool_info (int argc, char **argv)
{
  gboolean prefault = FALSE;
  GOptionEntry entries[] = {
    { "prefault", 0, 0, G_OPTION_ARG_NONE, &prefault, "Touch every weight page (measures a warm load)", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL_DIR - summarise a VibeVoice checkpoint");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vibevoice info: %s\n", error ? error->message : "expected one MODEL_DIR");
    return 2;
  }
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (VvModel) model = vv_model_load (argv[1],
      prefault ? VV_MODEL_LOAD_PREFAULT : VV_MODEL_LOAD_DEFAULT, &error);
  if (model == NULL) {
    fprintf (stderr, "vibevoice info: %s\n", error->message);
    return 1;
  }
  gint64 t1 = g_get_monotonic_time ();
  const VvConfig *c = vv_model_get_config (model);
  printf ("model: %s\n", vv_model_get_dir (model));
  printf ("  %-18s %s, %u shard(s), loaded and validated in %.1f ms\n", "checkpoint",
      c->model_type, vv_model_get_n_shards (model), (t1 - t0) / 1000.0);
  printf ("  %-18s hidden %d, %d layers, %d/%d heads (head_dim %d), ffn %d, vocab %d, "
      "context %d, rope θ %g, eps %g, lm_head %s\n", "language model",
      c->lm.hidden_size, c->lm.n_layers, c->lm.n_heads, c->lm.n_kv_heads, c->lm.head_dim,
      c->lm.intermediate_size, c->lm.vocab_size, c->lm.max_position_embeddings,
      c->lm.rope_theta, c->lm.rms_norm_eps,
      vv_model_get_tensor (model, "lm_head.weight") ? "separate" : "tied to embeddings");
  print_tokenizer ("acoustic tokenizer", &c->acoustic);
  print_tokenizer ("semantic tokenizer", &c->semantic);
  printf ("  %-18s hidden %d, %d layers, ffn %d, latent %d, eps %g\n", "diffusion head",
      c->head.hidden_size, c->head.n_layers, c->head.ffn_dim, c->head.latent_size,
      c->head.rms_norm_eps);
  printf ("  %-18s scaling %.9g, bias %.9g\n", "speech latents",
      vv_model_get_speech_scaling_factor (model), vv_model_get_speech_bias_factor (model));
  printf ("  %-18s %d Hz, %d samples/frame, dB normalisation %s (%g dBFS), text tokenizer %s\n",
      "audio", c->sampling_rate, c->speech_tok_compress_ratio, c->db_normalize ? "on" : "off",
      c->target_dB_FS, c->language_model_pretrained_name);
  printf ("\n  %-20s %16s %14s\n", "component", "parameters", "bytes");
  guint64 tp = 0, tb = 0;
  for (guint i = 0; i < VV_COMPONENT_COUNT; i++) {
    guint64 p = vv_model_get_component_params (model, i), b = vv_model_get_component_bytes (model, i);
    if (p == 0)
      continue;
    printf ("  %-20s %16" G_GUINT64_FORMAT " %14" G_GUINT64_FORMAT "\n", vv_component_name (i), p, b);
    tp += p;
    tb += b;
  }
  printf ("  %-20s %16" G_GUINT64_FORMAT " %14" G_GUINT64_FORMAT "\n", "total", tp, tb);
  return 0;
}
