/* gst-vibevoice — config.json / preprocessor_config.json tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

static void
assert_same_config (const VvConfig *a, const VvConfig *b)
{
  g_assert_cmpint (memcmp (&a->lm, &b->lm, sizeof (a->lm)), ==, 0);
  g_assert_cmpint (memcmp (&a->acoustic, &b->acoustic, sizeof (a->acoustic)), ==, 0);
  g_assert_cmpint (memcmp (&a->semantic, &b->semantic, sizeof (a->semantic)), ==, 0);
  g_assert_cmpint (memcmp (&a->head, &b->head, sizeof (a->head)), ==, 0);
  g_assert_cmpint (a->acoustic_vae_dim, ==, b->acoustic_vae_dim);
  g_assert_cmpint (a->semantic_vae_dim, ==, b->semantic_vae_dim);
  g_assert_cmpint (a->sampling_rate, ==, b->sampling_rate);
  g_assert_cmpint (a->speech_tok_compress_ratio, ==, b->speech_tok_compress_ratio);
  g_assert_cmpfloat (a->target_dB_FS, ==, b->target_dB_FS);
  g_assert_cmpstr (a->language_model_pretrained_name, ==, b->language_model_pretrained_name);
}

static void
test_published_1_5b (void)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "config",
      "vibevoice-1.5b-config.json", NULL);
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_autoptr (VvConfig) c = vv_config_load_from_data (text, path, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (VvConfig) preset = vv_config_new_preset (VV_PRESET_1_5B);
  assert_same_config (c, preset);
  /* spot checks against MODEL-SPEC §5/§6 */
  g_assert_cmpint (c->lm.head_dim, ==, 128);
  g_assert_cmpint (c->acoustic.decoder_depths[0], ==, 8);   /* reversed "3-3-3-3-3-3-8" */
  g_assert_cmpint (c->acoustic.decoder_depths[6], ==, 3);
  g_assert_cmpint (c->acoustic.hop_length, ==, 3200);
  g_assert_cmpint (c->head.ffn_dim, ==, 4608);
  g_assert_false (c->semantic.has_decoder);
}

static void
test_presets_round_trip (void)
{
  for (VvPreset p = VV_PRESET_TINY; p <= VV_PRESET_7B; p++) {
    g_autoptr (VvConfig) c = vv_config_new_preset (p);
    g_autofree gchar *json = vv_config_to_json (c, NULL);
    g_autofree gchar *pp = vv_config_preprocessor_to_json (c, NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (VvConfig) back = vv_config_load_from_data (json, NULL, pp, &error);
    g_assert_no_error (error);
    assert_same_config (c, back);
  }
}

/* Edits one field of the 1.5B fixture: @path like "decoder_config.hidden_size";
 * @value_json NULL removes it. */
static gchar *
edited_fixture (const gchar *path, const gchar *value_json)
{
  g_autofree gchar *file = g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "config",
      "vibevoice-1.5b-config.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, file, NULL));
  JsonObject *obj = json_node_get_object (json_parser_get_root (p));
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  gint n = g_strv_length (parts);
  for (gint i = 0; i < n - 1; i++)
    obj = json_object_get_object_member (obj, parts[i]);
  if (value_json == NULL) {
    json_object_remove_member (obj, parts[n - 1]);
  } else {
    g_autoptr (JsonParser) vp = json_parser_new ();
    g_assert_true (json_parser_load_from_data (vp, value_json, -1, NULL));
    json_object_set_member (obj, parts[n - 1], json_node_copy (json_parser_get_root (vp)));
  }
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, json_parser_get_root (p));
  return json_generator_to_data (gen, NULL);
}

typedef struct {
  const gchar *path;
  const gchar *value;     /* NULL = remove */
  gint code;
  const gchar *in_message;
} BadField;

static void
test_bad_fields (void)
{
  const BadField cases[] = {
    { "decoder_config.hidden_size", NULL, VV_CONFIG_ERROR_FIELD, "decoder_config.hidden_size" },
    { "decoder_config.hidden_size", "\"1536\"", VV_CONFIG_ERROR_FIELD, "decoder_config.hidden_size" },
    { "decoder_config.hidden_size", "-4", VV_CONFIG_ERROR_FIELD, "decoder_config.hidden_size" },
    { "decoder_config.num_attention_heads", "7", VV_CONFIG_ERROR_FIELD, "num_attention_heads" },
    { "decoder_config.num_key_value_heads", "5", VV_CONFIG_ERROR_FIELD, "num_key_value_heads" },
    { "decoder_config.rope_scaling", "{\"type\":\"linear\",\"factor\":2.0}", VV_CONFIG_ERROR_UNSUPPORTED, "rope_scaling" },
    { "decoder_config", NULL, VV_CONFIG_ERROR_FIELD, "decoder_config" },
    { "decoder_config", "[]", VV_CONFIG_ERROR_FIELD, "decoder_config" },
    { "acoustic_tokenizer_config.encoder_depths", "\"3-3-3\"", VV_CONFIG_ERROR_FIELD, "encoder_depths" },
    { "acoustic_tokenizer_config.encoder_depths", "\"3-x-3-3-3-3-8\"", VV_CONFIG_ERROR_FIELD, "encoder_depths" },
    { "acoustic_tokenizer_config.encoder_ratios", "[8, 5, 0]", VV_CONFIG_ERROR_FIELD, "encoder_ratios" },
    { "acoustic_tokenizer_config.decoder_ratios", "[8, 5, 5, 4, 4, 2]", VV_CONFIG_ERROR_FIELD, "decoder_ratios" },
    { "acoustic_tokenizer_config.mixer_layer", "\"conv\"", VV_CONFIG_ERROR_UNSUPPORTED, "mixer_layer" },
    { "acoustic_tokenizer_config.vae_dim", "32", VV_CONFIG_ERROR_FIELD, "acoustic_vae_dim" },
    { "semantic_tokenizer_config.vae_dim", "64", VV_CONFIG_ERROR_FIELD, "semantic_vae_dim" },
    { "diffusion_head_config.hidden_size", "1024", VV_CONFIG_ERROR_FIELD, "diffusion_head_config.hidden_size" },
    { "diffusion_head_config.prediction_type", "\"epsilon\"", VV_CONFIG_ERROR_UNSUPPORTED, "prediction_type" },
    { "diffusion_head_config.head_ffn_ratio", "\"3\"", VV_CONFIG_ERROR_FIELD, "head_ffn_ratio" },
    { "model_type", "\"vibevoice_streaming\"", VV_CONFIG_ERROR_UNSUPPORTED, "vibevoice_streaming" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *json = edited_fixture (cases[i].path, cases[i].value);
    g_autoptr (GError) error = NULL;
    g_autoptr (VvConfig) c = vv_config_load_from_data (json, "cfg-under-test.json", NULL, &error);
    if (c != NULL)
      g_error ("case %u (%s = %s) was accepted", i, cases[i].path, cases[i].value);
    g_assert_error (error, VV_CONFIG_ERROR, cases[i].code);
    if (!strstr (error->message, cases[i].in_message) || !strstr (error->message, "cfg-under-test.json"))
      g_error ("case %u: message '%s' should name '%s' and the file", i, error->message, cases[i].in_message);
  }
}

static void
test_config_semantics (void)
{
  /* §12.8: explicit decoder_depths is used as written; head FFN truncates. */
  g_autofree gchar *a = edited_fixture ("acoustic_tokenizer_config.decoder_depths", "\"1-2-3-4-5-6-7\"");
  g_autoptr (VvConfig) c = vv_config_load_from_data (a, NULL, NULL, NULL);
  g_assert_nonnull (c);
  for (gint i = 0; i < 7; i++)
    g_assert_cmpint (c->acoustic.decoder_depths[i], ==, i + 1);

  g_autofree gchar *b = edited_fixture ("acoustic_tokenizer_config.decoder_ratios", "null");
  g_autoptr (VvConfig) c2 = vv_config_load_from_data (b, NULL, NULL, NULL);
  g_assert_nonnull (c2);
  g_assert_cmpint (c2->acoustic.decoder_ratios[0], ==, 8);

  /* Other ratios with the same product are legal (§12.8). */
  g_autofree gchar *r = edited_fixture ("acoustic_tokenizer_config.decoder_ratios", "[5, 8, 5, 4, 2, 2]");
  g_autoptr (VvConfig) c3 = vv_config_load_from_data (r, NULL, NULL, NULL);
  g_assert_nonnull (c3);
  g_assert_cmpint (c3->acoustic.decoder_ratios[0], ==, 5);

  /* Python's int(2.3 * 100) is 229: the product is 229.99999999999997 in binary64 */
  g_autofree gchar *f = edited_fixture ("diffusion_head_config.head_ffn_ratio", "2.3");
  g_autofree gchar *f2 = NULL;
  {
    g_autoptr (JsonParser) p = json_parser_new ();
    g_assert_true (json_parser_load_from_data (p, f, -1, NULL));
    JsonObject *root = json_node_get_object (json_parser_get_root (p));
    json_object_set_int_member (json_object_get_object_member (root, "diffusion_head_config"), "hidden_size", 100);
    json_object_set_int_member (json_object_get_object_member (root, "decoder_config"), "hidden_size", 100);
    json_object_set_int_member (json_object_get_object_member (root, "decoder_config"), "num_attention_heads", 5);
    json_object_set_int_member (json_object_get_object_member (root, "decoder_config"), "num_key_value_heads", 1);
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    json_generator_set_root (gen, json_parser_get_root (p));
    f2 = json_generator_to_data (gen, NULL);
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (VvConfig) c4 = vv_config_load_from_data (f2, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (c4->head.ffn_dim, ==, 229);
  g_assert_cmpint (c4->lm.head_dim, ==, 20);
}

static void
test_not_json (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (vv_config_load_from_data ("{\"model_type\": ", "broken.json", NULL, &error));
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "broken.json"));
  g_clear_error (&error);
  g_assert_null (vv_config_load_from_data ("[1,2]", "array.json", NULL, &error));
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE);
  g_clear_error (&error);
  g_assert_null (vv_config_load_from_data ("{\"a\": \"\xff\"}", "utf8.json", NULL, &error));
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE);
}

static void
test_preprocessor (void)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "config",
      "vibevoice-1.5b-config.json", NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  const gchar *pp = "{\"processor_class\": \"VibeVoiceProcessor\", \"speech_tok_compress_ratio\": 3200,"
      " \"db_normalize\": true, \"audio_processor\": {\"feature_extractor_type\": \"VibeVoiceTokenizerProcessor\","
      " \"sampling_rate\": 24000, \"normalize_audio\": true, \"target_dB_FS\": -25, \"eps\": 1e-06},"
      " \"language_model_pretrained_name\": \"Qwen/Qwen2.5-7B\"}";
  g_autoptr (GError) error = NULL;
  g_autoptr (VvConfig) c = vv_config_load_from_data (text, NULL, pp, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->language_model_pretrained_name, ==, "Qwen/Qwen2.5-7B");
  g_assert_cmpfloat (c->target_dB_FS, ==, -25.0);

  const gchar *bad_ratio = "{\"speech_tok_compress_ratio\": 3000}";
  g_autoptr (VvConfig) c2 = vv_config_load_from_data (text, NULL, bad_ratio, &error);
  g_assert_null (c2);
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD);
  g_assert_nonnull (strstr (error->message, "speech_tok_compress_ratio"));
  g_clear_error (&error);

  const gchar *bad_rate = "{\"audio_processor\": {\"sampling_rate\": 16000}}";
  g_autoptr (VvConfig) c3 = vv_config_load_from_data (text, NULL, bad_rate, &error);
  g_assert_null (c3);
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "16000"));
}


/* Issue 14: 80 000 levels overflowed the stack inside json-glib; now a clean
 * error naming the file and the limit, for config.json and the preprocessor. */
/* Issue 14 (fuzz-config): a value such as 1e-10 was written back as
 * "1e-10.0" (json-glib appends ".0" to a double without a '.'), which is not
 * JSON, so the written config did not load again. */
static void
test_exponent_round_trip (void)
{
  const gdouble eps[] = { 1e-10, 1e-5, 1.5e-12, 1e-20 };
  for (guint i = 0; i < G_N_ELEMENTS (eps); i++) {
    g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_TINY);
    c->semantic.layernorm_eps = eps[i];
    c->acoustic.layernorm_eps = eps[i];
    g_autoptr (GError) error = NULL;
    g_autofree gchar *json = vv_config_to_json (c, &error);
    g_assert_no_error (error);
    g_assert_null (strstr (json, "e-10.0"));
    g_autofree gchar *pp = vv_config_preprocessor_to_json (c, &error);
    g_assert_no_error (error);
    g_autoptr (VvConfig) back = vv_config_load_from_data (json, "written.json", pp, &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (back->semantic.layernorm_eps, ==, eps[i]);
    g_assert_cmpfloat (back->acoustic.layernorm_eps, ==, eps[i]);
    assert_same_config (c, back);
  }
}

static void
test_deep_nesting (void)
{
  for (gint objects = 0; objects <= 1; objects++) {
    g_autofree gchar *deep = vv_test_deep_json (80000, objects);
    g_autoptr (GError) error = NULL;
    g_assert_null (vv_config_load_from_data (deep, "deep-config.json", NULL, &error));
    g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE);
    g_assert_nonnull (strstr (error->message, "deep-config.json"));
    g_assert_nonnull (strstr (error->message, "deeper than 64 levels"));

    g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_TINY);
    g_autofree gchar *json = vv_config_to_json (c, NULL);
    g_autoptr (GError) error2 = NULL;
    g_assert_null (vv_config_load_from_data (json, NULL, deep, &error2));
    g_assert_error (error2, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE);
    g_assert_nonnull (strstr (error2->message, "preprocessor_config.json"));
    g_assert_nonnull (strstr (error2->message, "deeper than 64 levels"));
  }

  /* the pre-scan itself: the limit is inclusive, strings and escapes skipped */
  g_assert_cmpint (VV_JSON_MAX_DEPTH, ==, 64);
  for (gint objects = 0; objects <= 1; objects++) {
    g_autofree gchar *at = vv_test_deep_json (64, objects);
    g_autofree gchar *over = vv_test_deep_json (65, objects);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_json_check_depth (at, strlen (at), 64, "x", VV_CONFIG_ERROR, 0, &error));
    g_assert_no_error (error);
    g_assert_false (vv_json_check_depth (over, strlen (over), 64, "x", VV_CONFIG_ERROR, 0, &error));
    g_assert_nonnull (strstr (error->message, "x: JSON nests deeper than 64 levels"));
  }
  const gchar *strings = "[\"[[[[\\\"[[[\", \"{{{\\\\\", [\"]]]\"]]";
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_json_check_depth (strings, strlen (strings), 2, "s", VV_CONFIG_ERROR, 0, &error));
  g_assert_no_error (error);
  g_assert_false (vv_json_check_depth (strings, strlen (strings), 1, "s", VV_CONFIG_ERROR, 0, &error));
  g_assert_nonnull (strstr (error->message, "deeper than 1 levels"));
}

/* The 1.5B fixture as text with every @from replaced by @to (each must
 * occur): for values json-glib cannot round-trip (inf, integers past
 * 64 bits), which edited_fixture() would mangle. */
static gchar *
replaced_fixture (const gchar *from, const gchar *to, ...)
{
  g_autofree gchar *file = g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "config",
      "vibevoice-1.5b-config.json", NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  GString *s = g_string_new (text);
  va_list ap;
  va_start (ap, to);
  for (; from != NULL; from = va_arg (ap, const gchar *), to = from ? va_arg (ap, const gchar *) : NULL) {
    if (g_string_replace (s, from, to, 0) == 0)
      g_error ("fixture should hold '%s'", from);
  }
  va_end (ap);
  return g_string_free (s, FALSE);
}

static void
assert_refused (const gchar *json, const gchar *pre, const gchar *const *in_message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvConfig) c = vv_config_load_from_data (json, "cfg-under-test.json", pre, &error);
  if (c != NULL)
    g_error ("accepted; expected an error naming '%s'", in_message[0]);
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD);
  for (gint i = 0; in_message[i]; i++)
    if (!strstr (error->message, in_message[i]))
      g_error ("message '%s' should contain '%s'", error->message, in_message[i]);
}

#define MSG(...) ((const gchar *const[]) { __VA_ARGS__, NULL })

/* Issue 14: each ceiling (docs/TESTING.md "Limits on input") is an error that
 * names the field and the range, not an abort later on. */
static void
test_ceilings (void)
{
  const struct { const gchar *path, *value; const gchar *const *msg; } cases[] = {
    /* 2^31-1 layers built an 11.5 GB tensor list before any check */
    { "decoder_config.num_hidden_layers", "2147483647", MSG ("decoder_config.num_hidden_layers", "2147483647", "1..1024") },
    { "decoder_config.num_hidden_layers", "1025", MSG ("num_hidden_layers", "1..1024") },
    { "diffusion_head_config.head_layers", "2147483647", MSG ("diffusion_head_config.head_layers", "1..1024") },
    { "decoder_config.hidden_size", "131072", MSG ("decoder_config.hidden_size", "1..65536") },
    { "decoder_config.num_attention_heads", "2048", MSG ("num_attention_heads", "1..1024") },
    { "decoder_config.head_dim", "2048", MSG ("decoder_config.head_dim", "2..1024") },
    { "decoder_config.intermediate_size", "262145", MSG ("intermediate_size", "1..262144") },
    { "decoder_config.vocab_size", "4194305", MSG ("vocab_size", "1..4194304") },
    { "decoder_config.max_position_embeddings", "1048577", MSG ("max_position_embeddings", "1..1048576") },
    { "acoustic_tokenizer_config.vae_dim", "4097", MSG ("acoustic_tokenizer_config.vae_dim", "1..4096") },
    { "semantic_tokenizer_config.encoder_n_filters", "4097", MSG ("semantic_tokenizer_config.encoder_n_filters", "1..4096") },
    /* 2048·2^6 channels in the last encoder stage */
    { "semantic_tokenizer_config.encoder_n_filters", "2048", MSG ("semantic_tokenizer_config.encoder_n_filters", "65536") },
    { "acoustic_tokenizer_config.decoder_n_filters", "2048", MSG ("acoustic_tokenizer_config.decoder_n_filters", "65536") },
    { "acoustic_tokenizer_config.encoder_ratios", "[8, 5, 65]", MSG ("acoustic_tokenizer_config.encoder_ratios", "64") },
    { "diffusion_head_config.ddpm_num_steps", "100001", MSG ("ddpm_num_steps", "2..100000") },
    { "diffusion_head_config.ddpm_num_inference_steps", "1000000", MSG ("ddpm_num_inference_steps", "1..100000") },
    { "acoustic_vae_dim", "5000", MSG ("acoustic_vae_dim", "1..4096") },
    /* (gint) (1e300 · 1536) was undefined; the message said "implies [-2147483648, 64]" */
    { "diffusion_head_config.head_ffn_ratio", "1e300", MSG ("diffusion_head_config.head_ffn_ratio", "1e+300", "64]") },
    { "diffusion_head_config.head_ffn_ratio", "0.0001", MSG ("diffusion_head_config.head_ffn_ratio", "1..262144") },
    { "diffusion_head_config.head_ffn_ratio", "-3", MSG ("diffusion_head_config.head_ffn_ratio", "(0, 64]") },
    { "decoder_config.rms_norm_eps", "-1", MSG ("decoder_config.rms_norm_eps", "-1", "(0, 1]") },
    { "decoder_config.rms_norm_eps", "0", MSG ("decoder_config.rms_norm_eps", "(0, 1]") },
    { "diffusion_head_config.rms_norm_eps", "2", MSG ("diffusion_head_config.rms_norm_eps", "(0, 1]") },
    { "acoustic_tokenizer_config.layernorm_eps", "-0.5", MSG ("acoustic_tokenizer_config.layernorm_eps", "(0, 1]") },
    { "semantic_tokenizer_config.fix_std", "-1", MSG ("semantic_tokenizer_config.fix_std", "[0, 100]") },
    { "decoder_config.rope_theta", "0", MSG ("decoder_config.rope_theta", "> 0") },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_test_message ("%s = %s", cases[i].path, cases[i].value);
    g_autofree gchar *json = edited_fixture (cases[i].path, cases[i].value);
    assert_refused (json, NULL, cases[i].msg);
  }

  /* a default derived from other fields is checked too: 65536 / 32 heads
   * (both hidden sizes change, so they still agree) */
  g_autofree gchar *wide = replaced_fixture ("\"hidden_size\": 1536", "\"hidden_size\": 65536",
      "\"num_attention_heads\": 12", "\"num_attention_heads\": 32",
      "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 1", NULL);
  assert_refused (wide, NULL, MSG ("decoder_config.head_dim", "2048 implied", "2..1024"));

  /* the ceilings are far above the published models: 7B and 1.5B load */
  for (VvPreset p = VV_PRESET_1_5B; p <= VV_PRESET_7B; p++) {
    g_autoptr (VvConfig) c = vv_config_new_preset (p);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_config_validate (c, NULL, &error));
    g_assert_no_error (error);
  }
}

/* Issue 14: ratios whose product overflowed int32 wrapped to a plausible hop
 * (63·62·61·60·59·58 = 48920775120 → 1676134864) and were accepted when the
 * preprocessor declared that hop; the encoder then asked for 86 GB. */
static void
test_ratio_product_overflow (void)
{
  const gchar *ratios = "[8, 5, 5, 4, 2, 2]";
  const gchar *huge = "[63, 62, 61, 60, 59, 58]";
  g_autofree gchar *file = g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "config",
      "vibevoice-1.5b-config.json", NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  GString *s = g_string_new (text);
  g_assert_cmpuint (g_string_replace (s, ratios, huge, 0), ==, 3);   /* both encoders, the decoder */
  g_autofree gchar *json = g_string_free (s, FALSE);
  assert_refused (json, "{\"speech_tok_compress_ratio\": 1676134864}",
      MSG ("acoustic_tokenizer_config.encoder_ratios", "63*62*61*60*59*58", "65536"));
  /* within 64 per ratio but past the hop ceiling */
  g_autofree gchar *big = edited_fixture ("semantic_tokenizer_config.encoder_ratios", "[64, 64, 32]");
  assert_refused (big, NULL, MSG ("semantic_tokenizer_config.encoder_ratios", "65536"));
  g_assert_cmpint (VV_CONFIG_MAX_HOP, ==, 65536);
}

/* Issue 14: inf passed the parser and failed later (or was written back as
 * "inf", which is not JSON). */
static void
test_non_finite (void)
{
  g_autofree gchar *eps = replaced_fixture ("\"rms_norm_eps\": 1e-06", "\"rms_norm_eps\": 1e999", NULL);
  assert_refused (eps, NULL, MSG ("decoder_config.rms_norm_eps", "inf"));
  g_autofree gchar *theta = replaced_fixture ("\"rope_theta\": 1000000.0", "\"rope_theta\": -1e999", NULL);
  assert_refused (theta, NULL, MSG ("decoder_config.rope_theta", "-inf"));
  g_autofree gchar *ratio = replaced_fixture ("\"head_ffn_ratio\": 3.0", "\"head_ffn_ratio\": 1e999", NULL);
  assert_refused (ratio, NULL, MSG ("diffusion_head_config.head_ffn_ratio", "inf"));

  g_autofree gchar *text = replaced_fixture (NULL, NULL);
  assert_refused (text, "{\"audio_processor\": {\"target_dB_FS\": 1e999}}",
      MSG ("preprocessor_config.json", "audio_processor.target_dB_FS", "inf", "[-200, 0]"));
  assert_refused (text, "{\"audio_processor\": {\"target_dB_FS\": 3}}",
      MSG ("audio_processor.target_dB_FS", "[-200, 0]"));
  assert_refused (text, "{\"audio_processor\": {\"eps\": -1e999}}",
      MSG ("audio_processor.eps", "-inf", "(0, 1]"));
  assert_refused (text, "{\"audio_processor\": {\"eps\": 0}}", MSG ("audio_processor.eps", "(0, 1]"));
}

/* Issue 14: json-glib wraps integer literals past 64 bits (→ -1, or for
 * -18446744073709551588 → 28, silently "valid"); they are now out of range,
 * reported as the number they are. */
static void
test_big_integer_literals (void)
{
  const gchar *layers = "\"num_hidden_layers\": 28";
  g_autofree gchar *a = replaced_fixture (layers, "\"num_hidden_layers\": 99999999999999999999999", NULL);
  assert_refused (a, NULL, MSG ("decoder_config.num_hidden_layers", "out of range (1e+23;", "1..1024"));
  g_autofree gchar *b = replaced_fixture (layers, "\"num_hidden_layers\": -18446744073709551588", NULL);
  assert_refused (b, NULL, MSG ("decoder_config.num_hidden_layers", "-1.84467e+19", "1..1024"));
  g_autofree gchar *c = replaced_fixture (layers, "\"num_hidden_layers\": 9223372036854775808", NULL);
  assert_refused (c, NULL, MSG ("decoder_config.num_hidden_layers", "9.22337e+18"));
  g_autofree gchar *d = replaced_fixture ("\"encoder_ratios\": [8, 5, 5, 4, 2, 2],\n    \"fix_std\": 0.5",
      "\"encoder_ratios\": [8, 5, 5, 4, 2, 18446744073709551618],\n    \"fix_std\": 0.5", NULL);
  assert_refused (d, NULL, MSG ("acoustic_tokenizer_config.encoder_ratios", "entry 5"));
  /* 2^63 - 1 is still an int64, just out of range */
  g_autofree gchar *e = replaced_fixture (layers, "\"num_hidden_layers\": 9223372036854775807", NULL);
  assert_refused (e, NULL, MSG ("num_hidden_layers", "9223372036854775807", "1..1024"));

  /* a big literal where a number is wanted is that number */
  g_autofree gchar *theta = replaced_fixture ("\"rope_theta\": 1000000.0",
      "\"rope_theta\": 100000000000000000000000", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvConfig) cfg = vv_config_load_from_data (theta, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (cfg->lm.rope_theta, ==, 1e23);
  /* and digits inside strings are left alone */
  g_autofree gchar *text = replaced_fixture (NULL, NULL);
  g_autoptr (VvConfig) named = vv_config_load_from_data (text, NULL,
      "{\"language_model_pretrained_name\": \"x\\\"99999999999999999999999\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (named->language_model_pretrained_name, ==, "x\"99999999999999999999999");
}

/* Issue 14: the writers refuse what the parser would (JSON has no inf). */
static void
test_writer_refuses_invalid (void)
{
  g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_TINY);
  g_autoptr (GError) error = NULL;
  c->lm.rms_norm_eps = INFINITY;
  g_assert_null (vv_config_to_json (c, &error));
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD);
  g_assert_nonnull (strstr (error->message, "decoder_config.rms_norm_eps"));
  g_assert_nonnull (strstr (error->message, "inf"));
  g_clear_error (&error);

  c->lm.rms_norm_eps = 1e-6;
  c->target_dB_FS = NAN;
  g_assert_null (vv_config_preprocessor_to_json (c, &error));
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD);
  g_assert_nonnull (strstr (error->message, "audio_processor.target_dB_FS"));
  g_clear_error (&error);

  c->target_dB_FS = -25.0;
  c->head.ffn_dim = 7;   /* no longer int(ffn_ratio · hidden) */
  g_assert_false (vv_config_validate (c, "edited", &error));
  g_assert_nonnull (strstr (error->message, "edited: field 'diffusion_head_config.head_ffn_ratio'"));
  g_clear_error (&error);

  c->head.ffn_dim = 192;
  g_autofree gchar *json = vv_config_to_json (c, &error);
  g_assert_no_error (error);
  g_assert_nonnull (json);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/published-1.5b", test_published_1_5b);
  g_test_add_func ("/config/presets-round-trip", test_presets_round_trip);
  g_test_add_func ("/config/bad-fields", test_bad_fields);
  g_test_add_func ("/config/semantics", test_config_semantics);
  g_test_add_func ("/config/not-json", test_not_json);
  g_test_add_func ("/config/preprocessor", test_preprocessor);
  g_test_add_func ("/config/deep-nesting", test_deep_nesting);
  g_test_add_func ("/config/ceilings", test_ceilings);
  g_test_add_func ("/config/ratio-product-overflow", test_ratio_product_overflow);
  g_test_add_func ("/config/non-finite", test_non_finite);
  g_test_add_func ("/config/big-integer-literals", test_big_integer_literals);
  g_test_add_func ("/config/writer-refuses-invalid", test_writer_refuses_invalid);
  g_test_add_func ("/config/exponent-round-trip", test_exponent_round_trip);
  return g_test_run ();
}
