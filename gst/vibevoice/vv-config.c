/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-config.h"
#include "vv-safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (vv-config-error-quark, vv_config_error)
G_DEFINE_BOXED_TYPE (VvConfig, vv_config, vv_config_copy, vv_config_free)

/* ------------------------------------------------------------------------ */
/* Presets (MODEL-SPEC §6, §7.3). */

static void
set_tokenizer_common (VvSpeechTokenizerConfig *t, gint n_filters, const gint *depths)
{
  static const gint ratios[] = { 8, 5, 5, 4, 2, 2 };
  t->channels = 1;
  t->n_filters = n_filters;
  t->n_ratios = G_N_ELEMENTS (ratios);
  for (gint i = 0; i < t->n_ratios; i++)
    t->ratios[i] = ratios[i];
  for (gint i = 0; i <= t->n_ratios; i++)
    t->depths[i] = depths[i];
  t->layernorm_eps = 1e-5;
  t->conv_bias = TRUE;
  t->causal = TRUE;
  t->hop_length = 3200;
}

static void
set_decoder_from_encoder (VvSpeechTokenizerConfig *t, gint decoder_n_filters)
{
  t->has_decoder = TRUE;
  t->decoder_n_filters = decoder_n_filters;
  for (gint i = 0; i < t->n_ratios; i++)
    t->decoder_ratios[i] = t->ratios[i];
  /* decoder_depths null → reversed encoder depths (§5) */
  for (gint i = 0; i <= t->n_ratios; i++)
    t->decoder_depths[i] = t->depths[t->n_ratios - i];
}

/**
 * vv_config_new_preset:
 * @preset: which model
 *
 * Returns: (transfer full): the configuration of a preset model: the real
 *   1.5B or 7B shapes, or the tiny test model (same structure, small widths,
 *   full 151936-row vocabulary so real token ids work).
 */
VvConfig *
vv_config_new_preset (VvPreset preset)
{
  static const gint real_depths[] = { 3, 3, 3, 3, 3, 3, 8 };
  static const gint tiny_depths[] = { 2, 1, 1, 1, 1, 1, 2 };
  VvConfig *c = g_new0 (VvConfig, 1);
  const gint *depths = preset == VV_PRESET_TINY ? tiny_depths : real_depths;
  gint n_filters = preset == VV_PRESET_TINY ? 4 : 32;

  c->model_type = g_strdup ("vibevoice");
  switch (preset) {
    case VV_PRESET_TINY:
      c->lm = (VvLmConfig) { .hidden_size = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
        .head_dim = 16, .intermediate_size = 160, .vocab_size = 151936,
        .max_position_embeddings = 65536, .rope_theta = 1e6, .rms_norm_eps = 1e-6,
        .tie_word_embeddings = TRUE };
      c->language_model_pretrained_name = g_strdup ("Qwen/Qwen2.5-1.5B");
      break;
    case VV_PRESET_1_5B:
      c->lm = (VvLmConfig) { .hidden_size = 1536, .n_layers = 28, .n_heads = 12, .n_kv_heads = 2,
        .head_dim = 128, .intermediate_size = 8960, .vocab_size = 151936,
        .max_position_embeddings = 65536, .rope_theta = 1e6, .rms_norm_eps = 1e-6,
        .tie_word_embeddings = TRUE };
      c->language_model_pretrained_name = g_strdup ("Qwen/Qwen2.5-1.5B");
      break;
    case VV_PRESET_7B:
      c->lm = (VvLmConfig) { .hidden_size = 3584, .n_layers = 28, .n_heads = 28, .n_kv_heads = 4,
        .head_dim = 128, .intermediate_size = 18944, .vocab_size = 152064,
        .max_position_embeddings = 32768, .rope_theta = 1e6, .rms_norm_eps = 1e-6,
        .tie_word_embeddings = FALSE };
      c->language_model_pretrained_name = g_strdup ("Qwen/Qwen2.5-7B");
      break;
  }

  set_tokenizer_common (&c->acoustic, n_filters, depths);
  c->acoustic.vae_dim = 64;
  c->acoustic.fix_std = 0.5;
  set_decoder_from_encoder (&c->acoustic, n_filters);

  set_tokenizer_common (&c->semantic, n_filters, depths);
  c->semantic.vae_dim = 128;
  c->semantic.fix_std = 0.0;

  c->acoustic_vae_dim = 64;
  c->semantic_vae_dim = 128;

  c->head.hidden_size = c->lm.hidden_size;
  c->head.n_layers = 4;
  c->head.ffn_ratio = 3.0;
  c->head.ffn_dim = (gint) (c->head.ffn_ratio * c->head.hidden_size);
  c->head.latent_size = 64;
  c->head.rms_norm_eps = 1e-5;
  c->head.num_train_timesteps = 1000;
  c->head.num_inference_steps = 20;

  c->sampling_rate = 24000;
  c->speech_tok_compress_ratio = 3200;
  c->db_normalize = TRUE;
  c->target_dB_FS = -25.0;
  c->audio_eps = 1e-6;
  return c;
}

gboolean
vv_preset_from_string (const gchar *name, VvPreset *preset)
{
  if (g_ascii_strcasecmp (name, "tiny") == 0)
    *preset = VV_PRESET_TINY;
  else if (g_ascii_strcasecmp (name, "1.5b") == 0)
    *preset = VV_PRESET_1_5B;
  else if (g_ascii_strcasecmp (name, "7b") == 0 || g_ascii_strcasecmp (name, "large") == 0)
    *preset = VV_PRESET_7B;
  else
    return FALSE;
  return TRUE;
}

void
vv_config_free (VvConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->model_type);
  g_free (config->language_model_pretrained_name);
  g_free (config);
}

VvConfig *
vv_config_copy (const VvConfig *config)
{
  VvConfig *c = g_memdup2 (config, sizeof (*config));
  c->model_type = g_strdup (config->model_type);
  c->language_model_pretrained_name = g_strdup (config->language_model_pretrained_name);
  return c;
}

/* ------------------------------------------------------------------------ */
/* Parsing. Every accessor names the file and the field path on error. */

typedef struct {
  const gchar *file;
  GError **error;
} Ctx;

static gboolean
fail (Ctx *ctx, const gchar *path, const gchar *what)
{
  g_set_error (ctx->error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD,
      "%s: field '%s' %s", ctx->file, path, what);
  return FALSE;
}

static JsonNode *
member (JsonObject *obj, const gchar *name)
{
  return obj && json_object_has_member (obj, name) ? json_object_get_member (obj, name) : NULL;
}

static gboolean
is_int_node (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64;
}

static gboolean
is_number_node (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) &&
      (json_node_get_value_type (n) == G_TYPE_INT64 || json_node_get_value_type (n) == G_TYPE_DOUBLE);
}

/* ---- Ranges (one table for the parser and vv_config_validate()) ---- */

typedef enum {
  SEC_LM,      /* decoder_config → VvLmConfig */
  SEC_TOK,     /* *_tokenizer_config → VvSpeechTokenizerConfig */
  SEC_DEC,     /* as SEC_TOK, only when the tokenizer has a decoder */
  SEC_HEAD,    /* diffusion_head_config → VvHeadConfig */
  SEC_TOP,     /* config.json top level → VvConfig */
  SEC_PRE,     /* preprocessor_config.json top level → VvConfig */
  SEC_AUDIO,   /* preprocessor audio_processor → VvConfig */
} Section;

typedef struct {
  Section sec;
  const gchar *name;
  gsize offset;
  gint min, max;
} IntLimit;

typedef struct {
  Section sec;
  const gchar *name;
  gsize offset;
  gdouble min, max;
  gboolean min_open;   /* (min, max] rather than [min, max] */
} DoubleLimit;

#define LIM(sec, type, name, field) sec, name, G_STRUCT_OFFSET (type, field)

static const IntLimit int_limits[] = {
  { LIM (SEC_LM, VvLmConfig, "hidden_size", hidden_size), 1, VV_CONFIG_MAX_HIDDEN },
  { LIM (SEC_LM, VvLmConfig, "num_hidden_layers", n_layers), 1, VV_CONFIG_MAX_LAYERS },
  { LIM (SEC_LM, VvLmConfig, "num_attention_heads", n_heads), 1, VV_CONFIG_MAX_HEADS },
  { LIM (SEC_LM, VvLmConfig, "num_key_value_heads", n_kv_heads), 1, VV_CONFIG_MAX_HEADS },
  { LIM (SEC_LM, VvLmConfig, "head_dim", head_dim), 2, VV_CONFIG_MAX_HEAD_DIM },
  { LIM (SEC_LM, VvLmConfig, "intermediate_size", intermediate_size), 1, VV_CONFIG_MAX_INTERMEDIATE },
  { LIM (SEC_LM, VvLmConfig, "vocab_size", vocab_size), 1, VV_CONFIG_MAX_VOCAB },
  { LIM (SEC_LM, VvLmConfig, "max_position_embeddings", max_position_embeddings), 1, VV_CONFIG_MAX_POSITIONS },
  /* channels: anything but 1 is "unsupported", past 64 it is nonsense */
  { LIM (SEC_TOK, VvSpeechTokenizerConfig, "channels", channels), 1, 64 },
  { LIM (SEC_TOK, VvSpeechTokenizerConfig, "vae_dim", vae_dim), 1, VV_CONFIG_MAX_LATENT },
  { LIM (SEC_TOK, VvSpeechTokenizerConfig, "encoder_n_filters", n_filters), 1, VV_CONFIG_MAX_FILTERS },
  { LIM (SEC_DEC, VvSpeechTokenizerConfig, "decoder_n_filters", decoder_n_filters), 1, VV_CONFIG_MAX_FILTERS },
  { LIM (SEC_HEAD, VvHeadConfig, "hidden_size", hidden_size), 1, VV_CONFIG_MAX_HIDDEN },
  { LIM (SEC_HEAD, VvHeadConfig, "head_layers", n_layers), 1, VV_CONFIG_MAX_LAYERS },
  { LIM (SEC_HEAD, VvHeadConfig, "latent_size", latent_size), 1, VV_CONFIG_MAX_LATENT },
  { LIM (SEC_HEAD, VvHeadConfig, "ddpm_num_steps", num_train_timesteps), 2, VV_CONFIG_MAX_DIFFUSION_STEPS },
  { LIM (SEC_HEAD, VvHeadConfig, "ddpm_num_inference_steps", num_inference_steps), 1, VV_CONFIG_MAX_DIFFUSION_STEPS },
  { LIM (SEC_TOP, VvConfig, "acoustic_vae_dim", acoustic_vae_dim), 1, VV_CONFIG_MAX_LATENT },
  { LIM (SEC_TOP, VvConfig, "semantic_vae_dim", semantic_vae_dim), 1, VV_CONFIG_MAX_LATENT },
  { LIM (SEC_PRE, VvConfig, "speech_tok_compress_ratio", speech_tok_compress_ratio), 1, VV_CONFIG_MAX_HOP },
  { LIM (SEC_AUDIO, VvConfig, "sampling_rate", sampling_rate), 1, VV_CONFIG_MAX_SAMPLING_RATE },
};

static const DoubleLimit double_limits[] = {
  { LIM (SEC_LM, VvLmConfig, "rope_theta", rope_theta), 0.0, G_MAXDOUBLE, TRUE },
  { LIM (SEC_LM, VvLmConfig, "rms_norm_eps", rms_norm_eps), 0.0, 1.0, TRUE },
  { LIM (SEC_TOK, VvSpeechTokenizerConfig, "layernorm_eps", layernorm_eps), 0.0, 1.0, TRUE },
  { LIM (SEC_TOK, VvSpeechTokenizerConfig, "fix_std", fix_std), 0.0, 100.0, FALSE },
  { LIM (SEC_HEAD, VvHeadConfig, "head_ffn_ratio", ffn_ratio), 0.0, VV_CONFIG_MAX_FFN_RATIO, TRUE },
  { LIM (SEC_HEAD, VvHeadConfig, "rms_norm_eps", rms_norm_eps), 0.0, 1.0, TRUE },
  /* a normalisation target above full scale would clip */
  { LIM (SEC_AUDIO, VvConfig, "target_dB_FS", target_dB_FS), -200.0, 0.0, FALSE },
  { LIM (SEC_AUDIO, VvConfig, "eps", audio_eps), 0.0, 1.0, TRUE },
};

static const IntLimit *
int_limit (Section sec, const gchar *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (int_limits); i++)
    if (int_limits[i].sec == sec && strcmp (int_limits[i].name, name) == 0)
      return &int_limits[i];
  g_assert_not_reached ();
}

static const DoubleLimit *
double_limit (Section sec, const gchar *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (double_limits); i++)
    if (double_limits[i].sec == sec && strcmp (double_limits[i].name, name) == 0)
      return &double_limits[i];
  g_assert_not_reached ();
}

static gboolean
int_in_range (const IntLimit *lim, gint64 v)
{
  return v >= lim->min && v <= lim->max;
}

static gboolean
double_in_range (const DoubleLimit *lim, gdouble v)
{
  return isfinite (v) && (lim->min_open ? v > lim->min : v >= lim->min) && v <= lim->max;
}

/* "(0, 1]"; the upper bound G_MAXDOUBLE reads as "any finite number above" */
static gchar *
double_range_string (const DoubleLimit *lim)
{
  if (lim->max == G_MAXDOUBLE)
    return g_strdup_printf ("a finite number %s %g", lim->min_open ? ">" : ">=", lim->min);
  return g_strdup_printf ("a finite number in %c%g, %g]", lim->min_open ? '(' : '[', lim->min, lim->max);
}

static gboolean
fail_int_range (Ctx *ctx, const gchar *path, const gchar *value, const IntLimit *lim)
{
  g_autofree gchar *msg = g_strdup_printf ("is out of range (%s; expected %d..%d)", value,
      lim->min, lim->max);
  return fail (ctx, path, msg);
}

static gboolean
fail_double_range (Ctx *ctx, const gchar *path, gdouble v, const DoubleLimit *lim)
{
  g_autofree gchar *range = double_range_string (lim);
  g_autofree gchar *msg = g_strdup_printf ("is out of range (%g; expected %s)", v, range);
  return fail (ctx, path, msg);
}

/* Int @name of section @sec into its field of @base. Absent/null: @def when
 * @def >= 0 (checked like a written value, since it may be derived from other
 * fields), else "is missing". */
static gboolean
get_int (Ctx *ctx, JsonObject *obj, const gchar *prefix, Section sec, const gchar *name,
    gint def, gpointer base)
{
  const IntLimit *lim = int_limit (sec, name);
  gint *out = G_STRUCT_MEMBER_P (base, lim->offset);
  g_autofree gchar *path = g_strconcat (prefix, prefix[0] ? "." : "", name, NULL);
  JsonNode *n = member (obj, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    if (def < 0)
      return fail (ctx, path, "is missing");
    if (!int_in_range (lim, def)) {
      g_autofree gchar *v = g_strdup_printf ("%d implied by the other fields", def);
      return fail_int_range (ctx, path, v, lim);
    }
    *out = def;
    return TRUE;
  }
  if (!is_int_node (n)) {
    /* integer literals past 64 bits reach us as doubles (big_ints_as_doubles) */
    if (is_number_node (n) && fabs (json_node_get_double (n)) >= 0x1p63) {
      g_autofree gchar *v = g_strdup_printf ("%g", json_node_get_double (n));
      return fail_int_range (ctx, path, v, lim);
    }
    return fail (ctx, path, "must be an integer");
  }
  gint64 v = json_node_get_int (n);
  if (!int_in_range (lim, v)) {
    g_autofree gchar *vs = g_strdup_printf ("%" G_GINT64_FORMAT, v);
    return fail_int_range (ctx, path, vs, lim);
  }
  *out = (gint) v;
  return TRUE;
}

/* Double @name (absent/null: @def, or "is missing" when @required). */
static gboolean
get_double (Ctx *ctx, JsonObject *obj, const gchar *prefix, Section sec, const gchar *name,
    gboolean required, gdouble def, gpointer base)
{
  const DoubleLimit *lim = double_limit (sec, name);
  gdouble *out = G_STRUCT_MEMBER_P (base, lim->offset);
  g_autofree gchar *path = g_strconcat (prefix, prefix[0] ? "." : "", name, NULL);
  JsonNode *n = member (obj, name);
  gdouble v = def;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    if (required)
      return fail (ctx, path, "is missing");
  } else if (!is_number_node (n)) {
    return fail (ctx, path, "must be a number");
  } else {
    v = json_node_get_double (n);
  }
  if (!double_in_range (lim, v))
    return fail_double_range (ctx, path, v, lim);
  *out = v;
  return TRUE;
}

static gboolean
get_bool (Ctx *ctx, JsonObject *obj, const gchar *prefix, const gchar *name, gboolean def,
    gboolean *out)
{
  g_autofree gchar *path = g_strconcat (prefix, prefix[0] ? "." : "", name, NULL);
  JsonNode *n = member (obj, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    *out = def;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fail (ctx, path, "must be true or false");
  *out = json_node_get_boolean (n);
  return TRUE;
}

static JsonObject *
get_object (Ctx *ctx, JsonObject *obj, const gchar *name, gboolean required)
{
  JsonNode *n = member (obj, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    if (required)
      fail (ctx, name, "is missing");
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (n)) {
    fail (ctx, name, "must be an object");
    return NULL;
  }
  return json_node_get_object (n);
}

/* Ratios: a JSON int array, each 1..VV_CONFIG_MAX_RATIO. Returns count via
 * *n (1..VV_MAX_STAGES-1). */
static gboolean
get_int_list (Ctx *ctx, JsonObject *obj, const gchar *prefix, const gchar *name,
    gint *vals, gint *n, gboolean *present)
{
  g_autofree gchar *path = g_strconcat (prefix, ".", name, NULL);
  JsonNode *node = member (obj, name);
  *present = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (ctx, path, "must be an array of integers");
  JsonArray *arr = json_node_get_array (node);
  guint len = json_array_get_length (arr);
  if (len == 0 || len >= VV_MAX_STAGES)
    return fail (ctx, path, "must have between 1 and 7 entries");
  for (guint i = 0; i < len; i++) {
    JsonNode *e = json_array_get_element (arr, i);
    if (!is_int_node (e) || json_node_get_int (e) < 1 || json_node_get_int (e) > VV_CONFIG_MAX_RATIO) {
      g_autofree gchar *msg = g_strdup_printf ("must hold integers between 1 and %d (entry %u is not)",
          VV_CONFIG_MAX_RATIO, i);
      return fail (ctx, path, msg);
    }
    vals[i] = (gint) json_node_get_int (e);
  }
  *n = (gint) len;
  *present = TRUE;
  return TRUE;
}

/* Product of @n ratios in 64 bits (each is <= VV_CONFIG_MAX_RATIO, so at most
 * 64^7 = 2^42, but checked anyway); FALSE when past VV_CONFIG_MAX_HOP. */
static gboolean
ratio_product (const gint *ratios, gint n, guint64 *product)
{
  guint64 p = 1;
  for (gint i = 0; i < n; i++)
    if (ratios[i] < 1 || !g_uint64_checked_mul (&p, p, (guint64) ratios[i]) || p > VV_CONFIG_MAX_HOP)
      return FALSE;
  *product = p;
  return TRUE;
}

static gboolean
fail_hop (Ctx *ctx, const gchar *prefix, const gchar *name, const gint *ratios, gint n)
{
  g_autofree gchar *path = g_strconcat (prefix, ".", name, NULL);
  GString *prod = g_string_new (NULL);
  for (gint i = 0; i < n; i++)
    g_string_append_printf (prod, "%s%d", i ? "*" : "", ratios[i]);
  g_autofree gchar *msg = g_strdup_printf ("has a product (%s) above the limit of %d samples per frame",
      prod->str, VV_CONFIG_MAX_HOP);
  g_string_free (prod, TRUE);
  return fail (ctx, path, msg);
}

/* Widest stage is n_filters·2^n_ratios channels. */
static gboolean
check_stage_width (Ctx *ctx, const gchar *prefix, const gchar *name, gint n_filters, gint n_ratios)
{
  if (((gint64) n_filters << n_ratios) <= VV_CONFIG_MAX_HIDDEN)
    return TRUE;
  g_autofree gchar *path = g_strconcat (prefix, ".", name, NULL);
  g_autofree gchar *msg = g_strdup_printf ("is too large: %d*2^%d channels in the widest stage "
      "exceeds the limit of %d", n_filters, n_ratios, VV_CONFIG_MAX_HIDDEN);
  return fail (ctx, path, msg);
}

/* Depths: "3-3-3-3-3-3-8" as the reference stores them (or an int array). */
static gboolean
get_depths (Ctx *ctx, JsonObject *obj, const gchar *prefix, const gchar *name,
    gint expected, gint *vals, gboolean *present)
{
  g_autofree gchar *path = g_strconcat (prefix, ".", name, NULL);
  JsonNode *node = member (obj, name);
  *present = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  gint n = 0;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING) {
    g_auto (GStrv) parts = g_strsplit (json_node_get_string (node), "-", -1);
    for (n = 0; parts[n]; n++) {
      guint64 v;
      if (n >= VV_MAX_STAGES || !g_ascii_string_to_unsigned (parts[n], 10, 0, VV_CONFIG_MAX_BLOCKS, &v, NULL))
        return fail (ctx, path, "must look like \"3-3-3-3-3-3-8\" (0..64 blocks per stage)");
      vals[n] = (gint) v;
    }
  } else if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *arr = json_node_get_array (node);
    for (n = 0; n < (gint) json_array_get_length (arr); n++) {
      JsonNode *e = json_array_get_element (arr, n);
      if (n >= VV_MAX_STAGES || !is_int_node (e) || json_node_get_int (e) < 0 ||
          json_node_get_int (e) > VV_CONFIG_MAX_BLOCKS)
        return fail (ctx, path, "must hold 0..64 blocks per stage");
      vals[n] = (gint) json_node_get_int (e);
    }
  } else {
    return fail (ctx, path, "must be a string like \"3-3-3-3-3-3-8\"");
  }
  if (n != expected) {
    g_autofree gchar *msg = g_strdup_printf ("has %d stages but the ratios need %d", n, expected);
    return fail (ctx, path, msg);
  }
  *present = TRUE;
  return TRUE;
}

static gboolean
parse_tokenizer (Ctx *ctx, JsonObject *root, const gchar *name, gboolean with_decoder,
    VvSpeechTokenizerConfig *t)
{
  JsonObject *o = get_object (ctx, root, name, TRUE);
  gboolean present;
  if (o == NULL)
    return FALSE;
  if (!get_int (ctx, o, name, SEC_TOK, "channels", 1, t) ||
      !get_int (ctx, o, name, SEC_TOK, "vae_dim", -1, t) ||
      !get_int (ctx, o, name, SEC_TOK, "encoder_n_filters", -1, t) ||
      !get_int_list (ctx, o, name, "encoder_ratios", t->ratios, &t->n_ratios, &present))
    return FALSE;
  if (!present)
    { g_autofree gchar *p = g_strconcat (name, ".encoder_ratios", NULL); return fail (ctx, p, "is missing"); }
  guint64 hop;
  if (!ratio_product (t->ratios, t->n_ratios, &hop))
    return fail_hop (ctx, name, "encoder_ratios", t->ratios, t->n_ratios);
  t->hop_length = (gint) hop;
  if (!check_stage_width (ctx, name, "encoder_n_filters", t->n_filters, t->n_ratios))
    return FALSE;
  if (!get_depths (ctx, o, name, "encoder_depths", t->n_ratios + 1, t->depths, &present))
    return FALSE;
  if (!present)
    { g_autofree gchar *p = g_strconcat (name, ".encoder_depths", NULL); return fail (ctx, p, "is missing"); }
  if (!get_double (ctx, o, name, SEC_TOK, "layernorm_eps", FALSE, 1e-5, t) ||
      !get_double (ctx, o, name, SEC_TOK, "fix_std", FALSE, 0.0, t) ||
      !get_bool (ctx, o, name, "conv_bias", TRUE, &t->conv_bias) ||
      !get_bool (ctx, o, name, "causal", TRUE, &t->causal))
    return FALSE;
  if (t->channels != 1) {
    g_set_error (ctx->error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
        "%s: %s.channels = %d; only mono (1) tokenizers exist", ctx->file, name, t->channels);
    return FALSE;
  }
  if (!t->causal || !t->conv_bias) {
    g_set_error (ctx->error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
        "%s: %s needs causal=true and conv_bias=true (the only published form)", ctx->file, name);
    return FALSE;
  }
  JsonNode *mixer = member (o, "mixer_layer");
  if (mixer && JSON_NODE_HOLDS_VALUE (mixer) &&
      g_strcmp0 (json_node_get_string (mixer), "depthwise_conv") != 0) {
    g_set_error (ctx->error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
        "%s: %s.mixer_layer '%s' is not supported (only depthwise_conv)", ctx->file, name,
        json_node_get_string (mixer));
    return FALSE;
  }
  if (!with_decoder)
    return TRUE;

  t->has_decoder = TRUE;
  if (!get_int (ctx, o, name, SEC_DEC, "decoder_n_filters", t->n_filters, t) ||
      !check_stage_width (ctx, name, "decoder_n_filters", t->decoder_n_filters, t->n_ratios))
    return FALSE;
  gint n_dec = 0;
  if (!get_int_list (ctx, o, name, "decoder_ratios", t->decoder_ratios, &n_dec, &present))
    return FALSE;
  g_autofree gchar *dec_path = g_strconcat (name, ".decoder_ratios", NULL);
  if (!present) {
    /* §12.8: decoder_ratios null means "use encoder_ratios" */
    for (gint i = 0; i < t->n_ratios; i++)
      t->decoder_ratios[i] = t->ratios[i];
  } else if (n_dec != t->n_ratios) {
    return fail (ctx, dec_path, "must have as many entries as encoder_ratios");
  } else {
    guint64 dec_hop;
    if (!ratio_product (t->decoder_ratios, n_dec, &dec_hop) || dec_hop != hop)
      return fail (ctx, dec_path, "must have the same product as encoder_ratios");
  }
  if (!get_depths (ctx, o, name, "decoder_depths", t->n_ratios + 1, t->decoder_depths, &present))
    return FALSE;
  if (!present)
    for (gint i = 0; i <= t->n_ratios; i++)
      t->decoder_depths[i] = t->depths[t->n_ratios - i];
  return TRUE;
}

static gboolean
parse_lm (Ctx *ctx, JsonObject *root, VvLmConfig *lm)
{
  const gchar *p = "decoder_config";
  JsonObject *o = get_object (ctx, root, p, TRUE);
  if (o == NULL)
    return FALSE;
  if (!get_int (ctx, o, p, SEC_LM, "hidden_size", -1, lm) ||
      !get_int (ctx, o, p, SEC_LM, "num_hidden_layers", -1, lm) ||
      !get_int (ctx, o, p, SEC_LM, "num_attention_heads", -1, lm) ||
      !get_int (ctx, o, p, SEC_LM, "num_key_value_heads", lm->n_heads, lm) ||
      !get_int (ctx, o, p, SEC_LM, "intermediate_size", -1, lm) ||
      !get_int (ctx, o, p, SEC_LM, "vocab_size", -1, lm) ||
      !get_int (ctx, o, p, SEC_LM, "max_position_embeddings", -1, lm) ||
      !get_double (ctx, o, p, SEC_LM, "rope_theta", FALSE, 10000.0, lm) ||
      !get_double (ctx, o, p, SEC_LM, "rms_norm_eps", FALSE, 1e-6, lm))
    return FALSE;
  if (lm->hidden_size % lm->n_heads != 0)
    return fail (ctx, "decoder_config.num_attention_heads", "must divide hidden_size");
  if (!get_int (ctx, o, p, SEC_LM, "head_dim", lm->hidden_size / lm->n_heads, lm))
    return FALSE;
  if (lm->head_dim % 2 != 0)
    return fail (ctx, "decoder_config.head_dim", "must be even (rotary embedding)");
  if (lm->n_heads % lm->n_kv_heads != 0)
    return fail (ctx, "decoder_config.num_key_value_heads", "must divide num_attention_heads");
  JsonNode *scaling = member (o, "rope_scaling");
  if (scaling && !JSON_NODE_HOLDS_NULL (scaling)) {
    g_set_error (ctx->error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
        "%s: decoder_config.rope_scaling is set; VibeVoice models use none", ctx->file);
    return FALSE;
  }
  /* The reference ties lm_head when the top-level flag is true (HF default);
   * the decoder's own flag is what Qwen2 records. The loader trusts the
   * checkpoint: lm_head.weight present → untied (MODEL-SPEC §6). */
  gboolean top_tie;
  if (!get_bool (ctx, o, p, "tie_word_embeddings", TRUE, &lm->tie_word_embeddings) ||
      !get_bool (ctx, root, "", "tie_word_embeddings", lm->tie_word_embeddings, &top_tie))
    return FALSE;
  return TRUE;
}

/* int(ratio · hidden) as Python computes it, refusing a product that does not
 * land in 1..VV_CONFIG_MAX_INTERMEDIATE (checked in double: converting an
 * out-of-range double to int is undefined). */
static gboolean
head_ffn_dim (gdouble ratio, gint hidden, gint *ffn_dim)
{
  gdouble f = ratio * hidden;
  if (!isfinite (f) || f < 1.0 || f >= VV_CONFIG_MAX_INTERMEDIATE + 1.0)
    return FALSE;
  *ffn_dim = (gint) f;
  return TRUE;
}

static gboolean
parse_head (Ctx *ctx, JsonObject *root, VvHeadConfig *h)
{
  const gchar *p = "diffusion_head_config";
  JsonObject *o = get_object (ctx, root, p, TRUE);
  if (o == NULL)
    return FALSE;
  if (!get_int (ctx, o, p, SEC_HEAD, "hidden_size", -1, h) ||
      !get_int (ctx, o, p, SEC_HEAD, "head_layers", -1, h) ||
      !get_double (ctx, o, p, SEC_HEAD, "head_ffn_ratio", TRUE, 0, h) ||
      !get_int (ctx, o, p, SEC_HEAD, "latent_size", -1, h) ||
      !get_double (ctx, o, p, SEC_HEAD, "rms_norm_eps", FALSE, 1e-5, h) ||
      !get_int (ctx, o, p, SEC_HEAD, "ddpm_num_steps", 1000, h) ||
      !get_int (ctx, o, p, SEC_HEAD, "ddpm_num_inference_steps", 20, h))
    return FALSE;
  /* int() truncation (§12.8), range-checked in double before converting */
  if (!head_ffn_dim (h->ffn_ratio, h->hidden_size, &h->ffn_dim)) {
    g_autofree gchar *msg = g_strdup_printf ("is %g, which with hidden_size %d gives an FFN width "
        "of %.0f (expected 1..%d)", h->ffn_ratio, h->hidden_size, floor (h->ffn_ratio * h->hidden_size),
        VV_CONFIG_MAX_INTERMEDIATE);
    return fail (ctx, "diffusion_head_config.head_ffn_ratio", msg);
  }
  const gchar *strings[][2] = {
    { "prediction_type", "v_prediction" }, { "ddpm_beta_schedule", "cosine" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++) {
    JsonNode *n = member (o, strings[i][0]);
    if (n && JSON_NODE_HOLDS_VALUE (n) && g_strcmp0 (json_node_get_string (n), strings[i][1]) != 0) {
      g_set_error (ctx->error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
          "%s: diffusion_head_config.%s is '%s'; only '%s' is supported", ctx->file,
          strings[i][0], json_node_get_string (n) ? json_node_get_string (n) : "?", strings[i][1]);
      return FALSE;
    }
  }
  return TRUE;
}

/* json-glib reads an integer literal past 64 bits as a wrapped or saturated
 * int64 (99999999999999999999999 → -1, -18446744073709551588 → 28), which a
 * range check cannot tell from a real value. Such literals (outside strings)
 * are rewritten to doubles ("….0"), which json-glib reads faithfully: get_int()
 * reports them out of range, get_double() gets the right number. Returns
 * NULL when the text needs no change. */
static gchar *
big_ints_as_doubles (const gchar *text)
{
  GString *out = NULL;
  const gchar *copied = text;
  gboolean in_string = FALSE;
  for (const gchar *p = text; *p; p++) {
    if (in_string) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == '"')
        in_string = FALSE;
      continue;
    }
    if (*p == '"') {
      in_string = TRUE;
      continue;
    }
    if (*p != '-' && !g_ascii_isdigit (*p))
      continue;
    const gchar *start = p, *digits = *p == '-' ? p + 1 : p, *end = digits;
    while (g_ascii_isdigit (*end))
      end++;
    gboolean integral = *end != '.' && *end != 'e' && *end != 'E';
    /* 19 digits or more may not fit in an int64 */
    if (integral && end - digits >= 19) {
      g_autofree gchar *literal = g_strndup (start, end - start);
      g_autoptr (GError) local = NULL;
      if (!g_ascii_string_to_signed (literal, 10, G_MININT64, G_MAXINT64, NULL, &local) &&
          g_error_matches (local, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS)) {
        if (out == NULL)
          out = g_string_new (NULL);
        g_string_append_len (out, copied, end - copied);
        g_string_append (out, ".0");
        copied = end;
      }
    }
    /* skip the rest of the number (fraction, exponent) */
    while (*end && (g_ascii_isdigit (*end) || strchr (".eE+-", *end)))
      end++;
    p = end - 1;
  }
  if (out == NULL)
    return NULL;
  g_string_append (out, copied);
  return g_string_free (out, FALSE);
}

static JsonObject *
parse_json_object (const gchar *text, const gchar *file, JsonParser *parser, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE, "%s: not valid UTF-8", file);
    return NULL;
  }
  if (!vv_json_check_depth (text, strlen (text), VV_JSON_MAX_DEPTH, file, VV_CONFIG_ERROR,
          VV_CONFIG_ERROR_FILE, error))
    return NULL;
  g_autofree gchar *widened = big_ints_as_doubles (text);
  if (!json_parser_load_from_data (parser, widened ? widened : text, -1, &local)) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE, "%s: not valid JSON: %s",
        file, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE, "%s: top level must be a JSON object", file);
    return NULL;
  }
  return json_node_get_object (root);
}

static gboolean
parse_preprocessor (VvConfig *c, const gchar *text, GError **error)
{
  const gchar *file = "preprocessor_config.json";
  Ctx ctx = { file, error };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_json_object (text, file, parser, error);
  if (o == NULL)
    return FALSE;
  if (!get_int (&ctx, o, "", SEC_PRE, "speech_tok_compress_ratio", c->speech_tok_compress_ratio, c) ||
      !get_bool (&ctx, o, "", "db_normalize", c->db_normalize, &c->db_normalize))
    return FALSE;
  JsonNode *name = member (o, "language_model_pretrained_name");
  if (name && JSON_NODE_HOLDS_VALUE (name) && json_node_get_value_type (name) == G_TYPE_STRING) {
    g_free (c->language_model_pretrained_name);
    c->language_model_pretrained_name = g_strdup (json_node_get_string (name));
  }
  JsonObject *ap = get_object (&ctx, o, "audio_processor", FALSE);
  if (ap) {
    if (!get_int (&ctx, ap, "audio_processor", SEC_AUDIO, "sampling_rate", c->sampling_rate, c) ||
        !get_double (&ctx, ap, "audio_processor", SEC_AUDIO, "target_dB_FS", FALSE, c->target_dB_FS, c) ||
        !get_double (&ctx, ap, "audio_processor", SEC_AUDIO, "eps", FALSE, c->audio_eps, c))
      return FALSE;
  } else if (error && *error) {
    return FALSE;
  }
  if (c->sampling_rate != 24000) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
        "%s: audio_processor.sampling_rate is %d; VibeVoice models run at 24000 Hz", file, c->sampling_rate);
    return FALSE;
  }
  return TRUE;
}

/**
 * vv_config_load_from_data:
 * @config_json: text of config.json
 * @config_name: (nullable): name used in error messages (default "config.json")
 * @preprocessor_json: (nullable): text of preprocessor_config.json
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the parsed configuration
 */
VvConfig *
vv_config_load_from_data (const gchar *config_json, const gchar *config_name,
    const gchar *preprocessor_json, GError **error)
{
  const gchar *file = config_name ? config_name : "config.json";
  Ctx ctx = { file, error };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root = parse_json_object (config_json, file, parser, error);
  if (root == NULL)
    return NULL;

  JsonNode *mt = member (root, "model_type");
  if (mt && JSON_NODE_HOLDS_VALUE (mt) && g_strcmp0 (json_node_get_string (mt), "vibevoice") != 0
      && g_strcmp0 (json_node_get_string (mt), "vibepod") != 0) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED,
        "%s: model_type '%s' is not a long-form VibeVoice model (expected \"vibevoice\")",
        file, json_node_get_string (mt) ? json_node_get_string (mt) : "?");
    return NULL;
  }

  g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_1_5B);  /* preprocessor defaults */
  g_free (c->model_type);
  c->model_type = g_strdup ("vibevoice");
  memset (&c->lm, 0, sizeof (c->lm));
  memset (&c->acoustic, 0, sizeof (c->acoustic));
  memset (&c->semantic, 0, sizeof (c->semantic));
  memset (&c->head, 0, sizeof (c->head));

  if (!parse_lm (&ctx, root, &c->lm) ||
      !parse_tokenizer (&ctx, root, "acoustic_tokenizer_config", TRUE, &c->acoustic) ||
      !parse_tokenizer (&ctx, root, "semantic_tokenizer_config", FALSE, &c->semantic) ||
      !parse_head (&ctx, root, &c->head) ||
      !get_int (&ctx, root, "", SEC_TOP, "acoustic_vae_dim", c->acoustic.vae_dim, c) ||
      !get_int (&ctx, root, "", SEC_TOP, "semantic_vae_dim", c->semantic.vae_dim, c))
    return NULL;

  /* Cross-field rules the blocks rely on. */
  if (c->acoustic_vae_dim != c->acoustic.vae_dim || c->head.latent_size != c->acoustic.vae_dim) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD,
        "%s: acoustic_vae_dim (%d), acoustic_tokenizer_config.vae_dim (%d) and "
        "diffusion_head_config.latent_size (%d) must agree", file, c->acoustic_vae_dim,
        c->acoustic.vae_dim, c->head.latent_size);
    return NULL;
  }
  if (c->semantic_vae_dim != c->semantic.vae_dim) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD,
        "%s: semantic_vae_dim (%d) and semantic_tokenizer_config.vae_dim (%d) must agree",
        file, c->semantic_vae_dim, c->semantic.vae_dim);
    return NULL;
  }
  if (c->head.hidden_size != c->lm.hidden_size) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD,
        "%s: diffusion_head_config.hidden_size (%d) must equal decoder_config.hidden_size (%d)",
        file, c->head.hidden_size, c->lm.hidden_size);
    return NULL;
  }
  if (c->semantic.hop_length != c->acoustic.hop_length) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD,
        "%s: acoustic and semantic encoder ratios must have the same product (%d vs %d)",
        file, c->acoustic.hop_length, c->semantic.hop_length);
    return NULL;
  }

  if (preprocessor_json && !parse_preprocessor (c, preprocessor_json, error))
    return NULL;
  if (c->speech_tok_compress_ratio != c->acoustic.hop_length) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD,
        "preprocessor_config.json: speech_tok_compress_ratio (%d) differs from the product of "
        "the tokenizer ratios in %s (%d)", c->speech_tok_compress_ratio, file, c->acoustic.hop_length);
    return NULL;
  }
  /* the parser checked each field as it read it; this keeps "accepted" and
   * "valid for vv_layout_tensors() and the writers" the same thing */
  if (!vv_config_validate (c, file, error))
    return NULL;
  return g_steal_pointer (&c);
}

/* Every int / double of section @sec in @base against its range. */
static gboolean
validate_section (Ctx *ctx, Section sec, const gchar *prefix, gconstpointer base)
{
  for (guint i = 0; i < G_N_ELEMENTS (int_limits); i++) {
    const IntLimit *lim = &int_limits[i];
    if (lim->sec != sec)
      continue;   /* the offset is into another struct */
    gint v = G_STRUCT_MEMBER (gint, base, lim->offset);
    if (!int_in_range (lim, v)) {
      g_autofree gchar *path = g_strconcat (prefix, prefix[0] ? "." : "", lim->name, NULL);
      g_autofree gchar *vs = g_strdup_printf ("%d", v);
      return fail_int_range (ctx, path, vs, lim);
    }
  }
  for (guint i = 0; i < G_N_ELEMENTS (double_limits); i++) {
    const DoubleLimit *lim = &double_limits[i];
    if (lim->sec != sec)
      continue;
    gdouble v = G_STRUCT_MEMBER (gdouble, base, lim->offset);
    if (!double_in_range (lim, v)) {
      g_autofree gchar *path = g_strconcat (prefix, prefix[0] ? "." : "", lim->name, NULL);
      return fail_double_range (ctx, path, v, lim);
    }
  }
  return TRUE;
}

static gboolean
validate_stages (Ctx *ctx, const gchar *prefix, const gchar *name, const gint *ratios,
    const gint *depths, gint n)
{
  for (gint i = 0; i < n; i++)
    if (ratios[i] < 1 || ratios[i] > VV_CONFIG_MAX_RATIO) {
      g_autofree gchar *path = g_strconcat (prefix, ".", name, "_ratios", NULL);
      g_autofree gchar *msg = g_strdup_printf ("must hold integers between 1 and %d (entry %d is %d)",
          VV_CONFIG_MAX_RATIO, i, ratios[i]);
      return fail (ctx, path, msg);
    }
  for (gint i = 0; i <= n; i++)
    if (depths[i] < 0 || depths[i] > VV_CONFIG_MAX_BLOCKS) {
      g_autofree gchar *path = g_strconcat (prefix, ".", name, "_depths", NULL);
      g_autofree gchar *msg = g_strdup_printf ("must hold 0..%d blocks per stage (stage %d has %d)",
          VV_CONFIG_MAX_BLOCKS, i, depths[i]);
      return fail (ctx, path, msg);
    }
  return TRUE;
}

static gboolean
validate_tokenizer (Ctx *ctx, const gchar *prefix, const VvSpeechTokenizerConfig *t)
{
  guint64 hop;
  if (!validate_section (ctx, SEC_TOK, prefix, t) ||
      (t->has_decoder && !validate_section (ctx, SEC_DEC, prefix, t)))
    return FALSE;
  if (t->n_ratios < 1 || t->n_ratios >= VV_MAX_STAGES) {
    g_autofree gchar *path = g_strconcat (prefix, ".encoder_ratios", NULL);
    return fail (ctx, path, "must have between 1 and 7 entries");
  }
  if (!validate_stages (ctx, prefix, "encoder", t->ratios, t->depths, t->n_ratios) ||
      !check_stage_width (ctx, prefix, "encoder_n_filters", t->n_filters, t->n_ratios))
    return FALSE;
  if (!ratio_product (t->ratios, t->n_ratios, &hop))
    return fail_hop (ctx, prefix, "encoder_ratios", t->ratios, t->n_ratios);
  if (hop != (guint64) t->hop_length) {
    g_autofree gchar *path = g_strconcat (prefix, ".encoder_ratios", NULL);
    g_autofree gchar *msg = g_strdup_printf ("multiply to %" G_GUINT64_FORMAT ", not the hop length %d",
        hop, t->hop_length);
    return fail (ctx, path, msg);
  }
  if (!t->has_decoder)
    return TRUE;
  guint64 dec_hop;
  if (!validate_stages (ctx, prefix, "decoder", t->decoder_ratios, t->decoder_depths, t->n_ratios) ||
      !check_stage_width (ctx, prefix, "decoder_n_filters", t->decoder_n_filters, t->n_ratios))
    return FALSE;
  if (!ratio_product (t->decoder_ratios, t->n_ratios, &dec_hop) || dec_hop != hop) {
    g_autofree gchar *path = g_strconcat (prefix, ".decoder_ratios", NULL);
    return fail (ctx, path, "must have the same product as encoder_ratios");
  }
  return TRUE;
}

/**
 * vv_config_validate:
 * @config: a configuration, parsed or built in code
 * @name: (nullable): what to call it in the error (default "config")
 * @error: return location for a #GError
 *
 * Checks every field against the ranges vv_config_load() enforces (the
 * VV_CONFIG_MAX_* ceilings, finite and positive epsilons, ratio products),
 * so that every size derived from @config fits its type.
 *
 * Returns: %TRUE when @config is within range
 */
gboolean
vv_config_validate (const VvConfig *c, const gchar *name, GError **error)
{
  Ctx ctx = { name ? name : "config", error };
  g_return_val_if_fail (c != NULL, FALSE);
  if (!validate_section (&ctx, SEC_LM, "decoder_config", &c->lm) ||
      !validate_tokenizer (&ctx, "acoustic_tokenizer_config", &c->acoustic) ||
      !validate_tokenizer (&ctx, "semantic_tokenizer_config", &c->semantic) ||
      !validate_section (&ctx, SEC_HEAD, "diffusion_head_config", &c->head) ||
      !validate_section (&ctx, SEC_TOP, "", c) ||
      !validate_section (&ctx, SEC_PRE, "", c) ||
      !validate_section (&ctx, SEC_AUDIO, "audio_processor", c))
    return FALSE;
  gint ffn_dim;
  if (!head_ffn_dim (c->head.ffn_ratio, c->head.hidden_size, &ffn_dim) || ffn_dim != c->head.ffn_dim) {
    g_autofree gchar *msg = g_strdup_printf ("is %g, which with hidden_size %d does not give the "
        "FFN width %d (expected int(ratio * hidden) in 1..%d)", c->head.ffn_ratio, c->head.hidden_size,
        c->head.ffn_dim, VV_CONFIG_MAX_INTERMEDIATE);
    return fail (&ctx, "diffusion_head_config.head_ffn_ratio", msg);
  }
  return TRUE;
}

/**
 * vv_config_load:
 * @dir: a model folder
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the configuration of the model in @dir
 */
VvConfig *
vv_config_load (const gchar *dir, GError **error)
{
  g_autofree gchar *path = g_build_filename (dir, "config.json", NULL);
  g_autofree gchar *pp_path = g_build_filename (dir, "preprocessor_config.json", NULL);
  g_autofree gchar *text = NULL, *pp_text = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local)) {
    g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE, "%s", local->message);
    return NULL;
  }
  if (g_file_test (pp_path, G_FILE_TEST_EXISTS)) {
    if (!g_file_get_contents (pp_path, &pp_text, NULL, &local)) {
      g_set_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE, "%s", local->message);
      return NULL;
    }
  } else {
    g_info ("%s not found; using the published defaults (24 kHz, -25 dBFS, 3200)", pp_path);
  }
  return vv_config_load_from_data (text, path, pp_text, error);
}

/* ------------------------------------------------------------------------ */
/* Writing (make-model). */

static void
add_int_array (JsonBuilder *b, const gchar *name, const gint *v, gint n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (gint i = 0; i < n; i++)
    json_builder_add_int_value (b, v[i]);
  json_builder_end_array (b);
}

static gchar *
depths_string (const gint *d, gint n)
{
  GString *s = g_string_new (NULL);
  for (gint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i ? "-" : "", d[i]);
  return g_string_free (s, FALSE);
}

#define MEMBER_INT(b, k, v) (json_builder_set_member_name (b, k), json_builder_add_int_value (b, v))
#define MEMBER_DBL(b, k, v) (json_builder_set_member_name (b, k), json_builder_add_double_value (b, v))
#define MEMBER_BOOL(b, k, v) (json_builder_set_member_name (b, k), json_builder_add_boolean_value (b, v))
#define MEMBER_STR(b, k, v) (json_builder_set_member_name (b, k), json_builder_add_string_value (b, v))
#define MEMBER_NULL(b, k) (json_builder_set_member_name (b, k), json_builder_add_null_value (b))

static void
add_tokenizer (JsonBuilder *b, const gchar *name, const VvSpeechTokenizerConfig *t,
    gboolean acoustic)
{
  g_autofree gchar *depths = depths_string (t->depths, t->n_ratios + 1);
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  MEMBER_BOOL (b, "causal", t->causal);
  MEMBER_INT (b, "channels", t->channels);
  MEMBER_BOOL (b, "conv_bias", t->conv_bias);
  MEMBER_STR (b, "conv_norm", "none");
  MEMBER_DBL (b, "corpus_normalize", 0.0);
  if (acoustic) {
    gboolean reversed = TRUE;
    for (gint i = 0; i <= t->n_ratios; i++)
      reversed &= t->decoder_depths[i] == t->depths[t->n_ratios - i];
    if (reversed) {
      MEMBER_NULL (b, "decoder_depths");
    } else {
      g_autofree gchar *dd = depths_string (t->decoder_depths, t->n_ratios + 1);
      MEMBER_STR (b, "decoder_depths", dd);
    }
    MEMBER_INT (b, "decoder_n_filters", t->decoder_n_filters);
    add_int_array (b, "decoder_ratios", t->decoder_ratios, t->n_ratios);
  }
  MEMBER_BOOL (b, "disable_last_norm", TRUE);
  MEMBER_STR (b, "encoder_depths", depths);
  MEMBER_INT (b, "encoder_n_filters", t->n_filters);
  add_int_array (b, "encoder_ratios", t->ratios, t->n_ratios);
  MEMBER_DBL (b, "fix_std", t->fix_std);
  MEMBER_DBL (b, "layer_scale_init_value", 1e-6);
  MEMBER_STR (b, "layernorm", "RMSNorm");
  MEMBER_BOOL (b, "layernorm_elementwise_affine", TRUE);
  MEMBER_DBL (b, "layernorm_eps", t->layernorm_eps);
  MEMBER_STR (b, "mixer_layer", "depthwise_conv");
  MEMBER_STR (b, "model_type", acoustic ? "vibevoice_acoustic_tokenizer" : "vibevoice_semantic_tokenizer");
  MEMBER_STR (b, "pad_mode", "constant");
  MEMBER_STR (b, "std_dist_type", acoustic ? "gaussian" : "none");
  MEMBER_INT (b, "vae_dim", t->vae_dim);
  MEMBER_DBL (b, "weight_init_value", 0.01);
  json_builder_end_object (b);
}

/* json-glib 1.6 writes a double as g_ascii_dtostr() and appends ".0" when
 * that has no '.', so 1e-10 comes out as "1e-10.0", which is not JSON (and
 * does not load back). Drops that ".0" from numbers with an exponent,
 * outside strings, in place. */
static void
repair_exponent_doubles (gchar *json)
{
  gboolean in_string = FALSE;
  gchar *w = json;
  for (const gchar *r = json; *r;) {
    if (in_string) {
      if (*r == '\\' && r[1] != '\0')
        *w++ = *r++;
      else if (*r == '"')
        in_string = FALSE;
      *w++ = *r++;
      continue;
    }
    if (*r == '"') {
      in_string = TRUE;
      *w++ = *r++;
      continue;
    }
    if (*r == '-' || g_ascii_isdigit (*r)) {
      const gchar *end = r;
      gboolean exponent = FALSE;
      while (*end == '-' || *end == '+' || *end == '.' || *end == 'e' || *end == 'E'
          || g_ascii_isdigit (*end)) {
        exponent |= *end == 'e' || *end == 'E';
        end++;
      }
      gsize n = end - r;
      if (exponent && n >= 2 && end[-2] == '.' && end[-1] == '0'
          && memchr (r, '.', n - 2) == NULL)
        n -= 2;
      memmove (w, r, n);
      w += n;
      r = end;
      continue;
    }
    *w++ = *r++;
  }
  *w = '\0';
}

static gchar *
builder_to_string (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  gchar *s = json_generator_to_data (gen, NULL);
  repair_exponent_doubles (s);
  gchar *with_nl = g_strconcat (s, "\n", NULL);
  g_free (s);
  return with_nl;
}

/**
 * vv_config_to_json:
 * @config: a configuration
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): config.json text in the published
 *   layout (§7.3), or %NULL when vv_config_validate() refuses @config
 */
gchar *
vv_config_to_json (const VvConfig *c, GError **error)
{
  if (!vv_config_validate (c, "config.json (being written)", error))
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_tokenizer (b, "acoustic_tokenizer_config", &c->acoustic, TRUE);
  MEMBER_INT (b, "acoustic_vae_dim", c->acoustic_vae_dim);
  json_builder_set_member_name (b, "architectures");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "VibeVoiceForConditionalGeneration");
  json_builder_end_array (b);

  json_builder_set_member_name (b, "decoder_config");
  json_builder_begin_object (b);
  MEMBER_DBL (b, "attention_dropout", 0.0);
  MEMBER_STR (b, "hidden_act", "silu");
  MEMBER_INT (b, "hidden_size", c->lm.hidden_size);
  MEMBER_DBL (b, "initializer_range", 0.02);
  MEMBER_INT (b, "intermediate_size", c->lm.intermediate_size);
  MEMBER_INT (b, "max_position_embeddings", c->lm.max_position_embeddings);
  MEMBER_INT (b, "max_window_layers", c->lm.n_layers);
  MEMBER_STR (b, "model_type", "qwen2");
  MEMBER_INT (b, "num_attention_heads", c->lm.n_heads);
  MEMBER_INT (b, "num_hidden_layers", c->lm.n_layers);
  MEMBER_INT (b, "num_key_value_heads", c->lm.n_kv_heads);
  if (c->lm.head_dim != c->lm.hidden_size / c->lm.n_heads)
    MEMBER_INT (b, "head_dim", c->lm.head_dim);
  MEMBER_DBL (b, "rms_norm_eps", c->lm.rms_norm_eps);
  MEMBER_NULL (b, "rope_scaling");
  MEMBER_DBL (b, "rope_theta", c->lm.rope_theta);
  MEMBER_NULL (b, "sliding_window");
  MEMBER_BOOL (b, "tie_word_embeddings", c->lm.tie_word_embeddings);
  MEMBER_STR (b, "torch_dtype", "bfloat16");
  MEMBER_BOOL (b, "use_cache", TRUE);
  MEMBER_BOOL (b, "use_sliding_window", FALSE);
  MEMBER_INT (b, "vocab_size", c->lm.vocab_size);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "diffusion_head_config");
  json_builder_begin_object (b);
  MEMBER_INT (b, "ddpm_batch_mul", 4);
  MEMBER_STR (b, "ddpm_beta_schedule", "cosine");
  MEMBER_INT (b, "ddpm_num_inference_steps", c->head.num_inference_steps);
  MEMBER_INT (b, "ddpm_num_steps", c->head.num_train_timesteps);
  MEMBER_STR (b, "diffusion_type", "ddpm");
  MEMBER_DBL (b, "head_ffn_ratio", c->head.ffn_ratio);
  MEMBER_INT (b, "head_layers", c->head.n_layers);
  MEMBER_INT (b, "hidden_size", c->head.hidden_size);
  MEMBER_INT (b, "latent_size", c->head.latent_size);
  MEMBER_STR (b, "model_type", "vibevoice_diffusion_head");
  MEMBER_STR (b, "prediction_type", "v_prediction");
  MEMBER_DBL (b, "rms_norm_eps", c->head.rms_norm_eps);
  MEMBER_INT (b, "speech_vae_dim", c->head.latent_size);
  json_builder_end_object (b);

  MEMBER_STR (b, "model_type", "vibevoice");
  add_tokenizer (b, "semantic_tokenizer_config", &c->semantic, FALSE);
  MEMBER_INT (b, "semantic_vae_dim", c->semantic_vae_dim);
  MEMBER_BOOL (b, "tie_word_embeddings", c->lm.tie_word_embeddings);
  MEMBER_STR (b, "torch_dtype", "bfloat16");
  MEMBER_STR (b, "transformers_version", "4.51.3");
  json_builder_end_object (b);
  return builder_to_string (b);
}

/**
 * vv_config_preprocessor_to_json:
 * @config: a configuration
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): preprocessor_config.json text (§7.3),
 *   or %NULL when vv_config_validate() refuses @config
 */
gchar *
vv_config_preprocessor_to_json (const VvConfig *c, GError **error)
{
  if (!vv_config_validate (c, "preprocessor_config.json (being written)", error))
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  MEMBER_STR (b, "processor_class", "VibeVoiceProcessor");
  MEMBER_INT (b, "speech_tok_compress_ratio", c->speech_tok_compress_ratio);
  MEMBER_BOOL (b, "db_normalize", c->db_normalize);
  json_builder_set_member_name (b, "audio_processor");
  json_builder_begin_object (b);
  MEMBER_STR (b, "feature_extractor_type", "VibeVoiceTokenizerProcessor");
  MEMBER_INT (b, "sampling_rate", c->sampling_rate);
  MEMBER_BOOL (b, "normalize_audio", c->db_normalize);
  MEMBER_DBL (b, "target_dB_FS", c->target_dB_FS);
  MEMBER_DBL (b, "eps", c->audio_eps);
  json_builder_end_object (b);
  MEMBER_STR (b, "language_model_pretrained_name", c->language_model_pretrained_name);
  json_builder_end_object (b);
  return builder_to_string (b);
}
