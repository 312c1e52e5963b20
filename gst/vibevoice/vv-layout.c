/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-layout.h"

#include <stdarg.h>
#include <string.h>

/* The tensor list of a long-form VibeVoice checkpoint, derived from the
 * config exactly as the reference modules name their parameters
 * (MODEL-SPEC §7.2). Used both to validate a loaded checkpoint and to write
 * random ones (make-model), so the two can never disagree. */

static void
tensor_info_clear (gpointer p)
{
  VvTensorInfo *ti = p;
  g_free (ti->name);
}

static void
add (GArray *arr, VvComponent comp, VvTensorKind kind, gint64 fan_in, gint ndim,
    const gint64 *shape, const gchar *fmt, ...) G_GNUC_PRINTF (7, 8);

static void
add (GArray *arr, VvComponent comp, VvTensorKind kind, gint64 fan_in, gint ndim,
    const gint64 *shape, const gchar *fmt, ...)
{
  VvTensorInfo ti = { 0 };
  va_list ap;
  va_start (ap, fmt);
  ti.name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  ti.ndim = ndim;
  for (gint i = 0; i < ndim; i++)
    ti.shape[i] = shape[i];
  ti.component = comp;
  ti.kind = kind;
  ti.fan_in = fan_in;
  g_array_append_val (arr, ti);
}

#define S1(a) ((const gint64[]) { a })
#define S2(a, b) ((const gint64[]) { a, b })
#define S3(a, b, c) ((const gint64[]) { a, b, c })

/* nn.Linear(in, out) with or without bias */
static void
add_linear (GArray *arr, VvComponent comp, gint64 in, gint64 out, gboolean bias,
    const gchar *prefix)
{
  add (arr, comp, VV_KIND_WEIGHT, in, 2, S2 (out, in), "%s.weight", prefix);
  if (bias)
    add (arr, comp, VV_KIND_BIAS, in, 1, S1 (out), "%s.bias", prefix);
}

/* Block1D (§5.1), parameters in the reference's registration order. */
static void
add_block (GArray *arr, VvComponent comp, gint64 c, const gchar *prefix)
{
  add (arr, comp, VV_KIND_LAYER_SCALE, 1, 1, S1 (c), "%s.gamma", prefix);
  add (arr, comp, VV_KIND_LAYER_SCALE, 1, 1, S1 (c), "%s.ffn_gamma", prefix);
  add (arr, comp, VV_KIND_NORM, 1, 1, S1 (c), "%s.norm.weight", prefix);
  add (arr, comp, VV_KIND_NORM, 1, 1, S1 (c), "%s.ffn_norm.weight", prefix);
  add (arr, comp, VV_KIND_WEIGHT, 7, 3, S3 (c, 1, 7), "%s.mixer.conv.conv.conv.weight", prefix);
  add (arr, comp, VV_KIND_BIAS, 7, 1, S1 (c), "%s.mixer.conv.conv.conv.bias", prefix);
  g_autofree gchar *l1 = g_strdup_printf ("%s.ffn.linear1", prefix);
  g_autofree gchar *l2 = g_strdup_printf ("%s.ffn.linear2", prefix);
  add_linear (arr, comp, c, 4 * c, TRUE, l1);   /* FFN expansion 4, §12.7 */
  add_linear (arr, comp, 4 * c, c, TRUE, l2);
}

static void
add_conv (GArray *arr, VvComponent comp, gint64 cin, gint64 cout, gint64 k, const gchar *fmt_prefix)
{
  add (arr, comp, VV_KIND_WEIGHT, cin * k, 3, S3 (cout, cin, k), "%s.weight", fmt_prefix);
  add (arr, comp, VV_KIND_BIAS, cin * k, 1, S1 (cout), "%s.bias", fmt_prefix);
}

/* Encoder (§5.2): ratios applied reversed; stage channels n_filters·2^i. */
static void
add_encoder (GArray *arr, VvComponent comp, const VvSpeechTokenizerConfig *t, const gchar *root)
{
  gint n = t->n_ratios;
  gint64 ch = t->n_filters;
  g_autofree gchar *stem = g_strdup_printf ("%s.downsample_layers.0.0.conv.conv", root);
  add_conv (arr, comp, t->channels, ch, 7, stem);
  for (gint i = 0; i < n; i++) {
    gint s = t->ratios[n - 1 - i];
    g_autofree gchar *p = g_strdup_printf ("%s.downsample_layers.%d.0.conv.conv", root, i + 1);
    add_conv (arr, comp, ch << i, ch << (i + 1), 2 * s, p);
  }
  for (gint i = 0; i <= n; i++)
    for (gint b = 0; b < t->depths[i]; b++) {
      g_autofree gchar *p = g_strdup_printf ("%s.stages.%d.%d", root, i, b);
      add_block (arr, comp, ch << i, p);
    }
  g_autofree gchar *head = g_strdup_printf ("%s.head.conv.conv", root);
  add_conv (arr, comp, ch << n, t->vae_dim, 7, head);
}

/* Decoder (§5.3): ratios in stored order, channels halve per stage. */
static void
add_decoder (GArray *arr, const VvSpeechTokenizerConfig *t, const gchar *root)
{
  VvComponent comp = VV_COMPONENT_ACOUSTIC_DECODER;
  gint n = t->n_ratios;
  gint64 ch = t->decoder_n_filters;
  g_autofree gchar *stem = g_strdup_printf ("%s.upsample_layers.0.0.conv.conv", root);
  add_conv (arr, comp, t->vae_dim, ch << n, 7, stem);
  for (gint i = 0; i < n; i++) {
    gint s = t->decoder_ratios[i];
    gint64 cin = ch << (n - i), cout = ch << (n - i - 1);
    /* ConvTranspose1d weight is [in, out, k] */
    add (arr, comp, VV_KIND_WEIGHT, cin * 2, 3, S3 (cin, cout, 2 * s),
        "%s.upsample_layers.%d.0.convtr.convtr.weight", root, i + 1);
    add (arr, comp, VV_KIND_BIAS, cin * 2, 1, S1 (cout),
        "%s.upsample_layers.%d.0.convtr.convtr.bias", root, i + 1);
  }
  for (gint i = 0; i <= n; i++)
    for (gint b = 0; b < t->decoder_depths[i]; b++) {
      g_autofree gchar *p = g_strdup_printf ("%s.stages.%d.%d", root, i, b);
      add_block (arr, comp, ch << (n - i), p);
    }
  g_autofree gchar *head = g_strdup_printf ("%s.head.conv.conv", root);
  add_conv (arr, comp, ch, t->channels, 7, head);
}

static void
add_connector (GArray *arr, VvComponent comp, gint64 din, gint64 h, const gchar *root)
{
  g_autofree gchar *fc1 = g_strdup_printf ("%s.fc1", root);
  g_autofree gchar *fc2 = g_strdup_printf ("%s.fc2", root);
  add_linear (arr, comp, din, h, TRUE, fc1);
  add (arr, comp, VV_KIND_NORM, 1, 1, S1 (h), "%s.norm.weight", root);
  add_linear (arr, comp, h, h, TRUE, fc2);
}

/**
 * vv_layout_tensors: (skip)
 * @config: a model configuration
 * @with_lm_head: whether the checkpoint has a separate lm_head.weight
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (element-type VvTensorInfo) (nullable): every
 *   tensor of the checkpoint, in the reference's order; %NULL when @config is
 *   outside the ranges of vv_config_validate()
 */
GArray *
vv_layout_tensors (const VvConfig *config, gboolean with_lm_head, GError **error)
{
  /* The list grows with the layer and block counts and the shapes multiply
   * widths: refuse before building anything rather than trust a config that
   * did not come through vv_config_load(). Within the ceilings every shape
   * and fan-in below fits in 64 bits and the list has at most ~40 000
   * entries. */
  if (!vv_config_validate (config, "layout config", error))
    return NULL;
  GArray *arr = g_array_new (FALSE, TRUE, sizeof (VvTensorInfo));
  g_array_set_clear_func (arr, tensor_info_clear);
  const VvLmConfig *lm = &config->lm;
  gint64 h = lm->hidden_size;
  gint64 q = (gint64) lm->n_heads * lm->head_dim, kv = (gint64) lm->n_kv_heads * lm->head_dim;
  VvComponent c = VV_COMPONENT_LM;

  add (arr, c, VV_KIND_EMBEDDING, 1, 2, S2 (lm->vocab_size, h), "model.language_model.embed_tokens.weight");
  for (gint l = 0; l < lm->n_layers; l++) {
    g_autofree gchar *p = g_strdup_printf ("model.language_model.layers.%d", l);
    g_autofree gchar *qp = g_strconcat (p, ".self_attn.q_proj", NULL);
    g_autofree gchar *kp = g_strconcat (p, ".self_attn.k_proj", NULL);
    g_autofree gchar *vp = g_strconcat (p, ".self_attn.v_proj", NULL);
    g_autofree gchar *op = g_strconcat (p, ".self_attn.o_proj", NULL);
    g_autofree gchar *gp = g_strconcat (p, ".mlp.gate_proj", NULL);
    g_autofree gchar *up = g_strconcat (p, ".mlp.up_proj", NULL);
    g_autofree gchar *dp = g_strconcat (p, ".mlp.down_proj", NULL);
    add_linear (arr, c, h, q, TRUE, qp);
    add_linear (arr, c, h, kv, TRUE, kp);
    add_linear (arr, c, h, kv, TRUE, vp);
    add_linear (arr, c, q, h, FALSE, op);
    add_linear (arr, c, h, lm->intermediate_size, FALSE, gp);
    add_linear (arr, c, h, lm->intermediate_size, FALSE, up);
    add_linear (arr, c, lm->intermediate_size, h, FALSE, dp);
    add (arr, c, VV_KIND_NORM, 1, 1, S1 (h), "%s.input_layernorm.weight", p);
    add (arr, c, VV_KIND_NORM, 1, 1, S1 (h), "%s.post_attention_layernorm.weight", p);
  }
  add (arr, c, VV_KIND_NORM, 1, 1, S1 (h), "model.language_model.norm.weight");

  add_encoder (arr, VV_COMPONENT_ACOUSTIC_ENCODER, &config->acoustic, "model.acoustic_tokenizer.encoder");
  if (config->acoustic.has_decoder)
    add_decoder (arr, &config->acoustic, "model.acoustic_tokenizer.decoder");
  add_encoder (arr, VV_COMPONENT_SEMANTIC_ENCODER, &config->semantic, "model.semantic_tokenizer.encoder");

  add_connector (arr, VV_COMPONENT_ACOUSTIC_CONNECTOR, config->acoustic_vae_dim, h, "model.acoustic_connector");
  add_connector (arr, VV_COMPONENT_SEMANTIC_CONNECTOR, config->semantic_vae_dim, h, "model.semantic_connector");

  const VvHeadConfig *hd = &config->head;
  gint64 hh = hd->hidden_size, f = hd->ffn_dim;
  c = VV_COMPONENT_PREDICTION_HEAD;
  add_linear (arr, c, hd->latent_size, hh, FALSE, "model.prediction_head.noisy_images_proj");
  add_linear (arr, c, h, hh, FALSE, "model.prediction_head.cond_proj");
  add_linear (arr, c, 256, hh, FALSE, "model.prediction_head.t_embedder.mlp.0");  /* 256-d sinusoid, §12.7 */
  add_linear (arr, c, hh, hh, FALSE, "model.prediction_head.t_embedder.mlp.2");
  for (gint l = 0; l < hd->n_layers; l++) {
    g_autofree gchar *p = g_strdup_printf ("model.prediction_head.layers.%d", l);
    g_autofree gchar *gp = g_strconcat (p, ".ffn.gate_proj", NULL);
    g_autofree gchar *up = g_strconcat (p, ".ffn.up_proj", NULL);
    g_autofree gchar *dp = g_strconcat (p, ".ffn.down_proj", NULL);
    g_autofree gchar *ap = g_strconcat (p, ".adaLN_modulation.1", NULL);
    add_linear (arr, c, hh, f, FALSE, gp);
    add_linear (arr, c, hh, f, FALSE, up);
    add_linear (arr, c, f, hh, FALSE, dp);
    add (arr, c, VV_KIND_NORM, 1, 1, S1 (hh), "%s.norm.weight", p);
    add_linear (arr, c, hh, 3 * hh, FALSE, ap);
  }
  add_linear (arr, c, hh, hd->latent_size, FALSE, "model.prediction_head.final_layer.linear");
  add_linear (arr, c, hh, 2 * hh, FALSE, "model.prediction_head.final_layer.adaLN_modulation.1");

  add (arr, VV_COMPONENT_SCALARS, VV_KIND_SCALING_FACTOR, 1, 0, NULL, "model.speech_scaling_factor");
  add (arr, VV_COMPONENT_SCALARS, VV_KIND_BIAS_FACTOR, 1, 0, NULL, "model.speech_bias_factor");

  if (with_lm_head)
    add (arr, VV_COMPONENT_LM_HEAD, VV_KIND_WEIGHT, h, 2, S2 (lm->vocab_size, h), "lm_head.weight");
  return arr;
}

const gchar *
vv_component_name (VvComponent component)
{
  static const gchar *names[VV_COMPONENT_COUNT] = {
    [VV_COMPONENT_LM] = "language_model",
    [VV_COMPONENT_LM_HEAD] = "lm_head",
    [VV_COMPONENT_ACOUSTIC_ENCODER] = "acoustic_encoder",
    [VV_COMPONENT_ACOUSTIC_DECODER] = "acoustic_decoder",
    [VV_COMPONENT_SEMANTIC_ENCODER] = "semantic_encoder",
    [VV_COMPONENT_ACOUSTIC_CONNECTOR] = "acoustic_connector",
    [VV_COMPONENT_SEMANTIC_CONNECTOR] = "semantic_connector",
    [VV_COMPONENT_PREDICTION_HEAD] = "prediction_head",
    [VV_COMPONENT_SCALARS] = "scalars",
  };
  return (guint) component < VV_COMPONENT_COUNT ? names[component] : "unknown";
}

VvComponent
vv_component_from_tensor_name (const gchar *name)
{
  static const struct { const gchar *prefix; VvComponent c; } map[] = {
    { "model.language_model.", VV_COMPONENT_LM },
    { "lm_head.", VV_COMPONENT_LM_HEAD },
    { "model.acoustic_tokenizer.encoder.", VV_COMPONENT_ACOUSTIC_ENCODER },
    { "model.acoustic_tokenizer.decoder.", VV_COMPONENT_ACOUSTIC_DECODER },
    { "model.semantic_tokenizer.encoder.", VV_COMPONENT_SEMANTIC_ENCODER },
    { "model.acoustic_connector.", VV_COMPONENT_ACOUSTIC_CONNECTOR },
    { "model.semantic_connector.", VV_COMPONENT_SEMANTIC_CONNECTOR },
    { "model.prediction_head.", VV_COMPONENT_PREDICTION_HEAD },
    { "model.speech_", VV_COMPONENT_SCALARS },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_has_prefix (name, map[i].prefix))
      return map[i].c;
  return VV_COMPONENT_COUNT;
}
