/* gst-vibevoice — checkpoint layout tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The 1.5B layout must match tests/data/vibevoice-1.5b-tensors.tsv, which was
 * derived from the reference model definition and checked against the byte
 * size of the published shards (MODEL-SPEC §7.1).
 */
#include <vibevoice/vibevoice.h>
#include <string.h>

static gint64
total_elements (GArray *layout)
{
  gint64 total = 0;
  for (guint i = 0; i < layout->len; i++) {
    const VvTensorInfo *ti = &g_array_index (layout, VvTensorInfo, i);
    gint64 n = 1;
    for (gint d = 0; d < ti->ndim; d++)
      n *= ti->shape[d];
    total += n;
  }
  return total;
}

static void
test_1_5b_matches_reference_list (void)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("VV_TEST_DATA_DIR"),
      "vibevoice-1.5b-tensors.tsv", NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_1_5B);
  g_autoptr (GArray) layout = vv_layout_tensors (c, FALSE, NULL);
  guint n = 0;
  for (gint i = 0; lines[i]; i++) {
    if (lines[i][0] == '#' || lines[i][0] == '\0' || g_str_has_prefix (lines[i], "name\t"))
      continue;
    g_auto (GStrv) cols = g_strsplit (lines[i], "\t", 2);
    g_assert_nonnull (cols[1]);
    g_assert_cmpuint (n, <, layout->len);
    const VvTensorInfo *ti = &g_array_index (layout, VvTensorInfo, n);
    g_assert_cmpstr (ti->name, ==, cols[0]);
    g_autofree gchar *shape = vv_shape_string (ti->ndim, ti->shape);
    /* tsv writes [a,b]; ours is "[a, b]" */
    g_autofree gchar *want = g_strdelimit (g_strdup (cols[1]), "\r", ' ');
    g_autoptr (GString) ours = g_string_new (shape);
    g_string_replace (ours, " ", "", 0);
    g_strstrip (want);
    g_assert_cmpstr (ours->str, ==, want);
    n++;
  }
  g_assert_cmpuint (n, ==, 1204);
  g_assert_cmpuint (layout->len, ==, 1204);
  g_assert_cmpint (total_elements (layout), ==, G_GINT64_CONSTANT (2704021987));
  for (guint i = 0; i < layout->len; i++)
    g_assert_cmpint (vv_component_from_tensor_name (g_array_index (layout, VvTensorInfo, i).name),
        ==, g_array_index (layout, VvTensorInfo, i).component);
}

static void
test_7b (void)
{
  g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_7B);
  g_autoptr (GArray) layout = vv_layout_tensors (c, TRUE, NULL);
  g_assert_cmpuint (layout->len, ==, 1205);
  /* MODEL-SPEC §7.1: 9 343 355 363 parameters including lm_head */
  g_assert_cmpint (total_elements (layout), ==, G_GINT64_CONSTANT (9343355363));
  const VvTensorInfo *last = &g_array_index (layout, VvTensorInfo, layout->len - 1);
  g_assert_cmpstr (last->name, ==, "lm_head.weight");
  g_assert_cmpint (last->shape[0], ==, 152064);
  g_assert_cmpint (last->shape[1], ==, 3584);
}

static gboolean
has (GArray *layout, const gchar *name)
{
  for (guint i = 0; i < layout->len; i++)
    if (strcmp (g_array_index (layout, VvTensorInfo, i).name, name) == 0)
      return TRUE;
  return FALSE;
}

static void
test_tiny_keeps_structure (void)
{
  g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_TINY);
  g_autoptr (GArray) layout = vv_layout_tensors (c, FALSE, NULL);
  g_assert_cmpint (c->lm.vocab_size, ==, 151936);
  g_assert_cmpint (c->lm.n_kv_heads, <, c->lm.n_heads);   /* GQA */
  g_assert_cmpint (c->head.n_layers, ==, 4);
  g_assert_cmpint (c->acoustic.hop_length, ==, 3200);
  g_assert_true (has (layout, "model.language_model.layers.1.self_attn.k_proj.bias"));
  g_assert_true (has (layout, "model.acoustic_tokenizer.encoder.downsample_layers.6.0.conv.conv.weight"));
  g_assert_true (has (layout, "model.acoustic_tokenizer.decoder.upsample_layers.6.0.convtr.convtr.weight"));
  g_assert_true (has (layout, "model.acoustic_tokenizer.decoder.stages.0.1.ffn.linear2.bias"));
  g_assert_true (has (layout, "model.semantic_tokenizer.encoder.stages.6.1.gamma"));
  g_assert_true (has (layout, "model.prediction_head.layers.3.adaLN_modulation.1.weight"));
  g_assert_false (has (layout, "lm_head.weight"));
  g_assert_cmpint (total_elements (layout), <, 20 * 1000 * 1000);
}

/* Issue 14: a config that did not come through the parser (built in code)
 * with 2^31-1 layers made vv_layout_tensors() build an 11.5 GB list and
 * abort; it now refuses up front, naming the field and the limit. */
static void
test_refuses_absurd_config (void)
{
  const struct { gsize offset; const gchar *field; } cases[] = {
    { G_STRUCT_OFFSET (VvConfig, lm.n_layers), "decoder_config.num_hidden_layers" },
    { G_STRUCT_OFFSET (VvConfig, head.n_layers), "diffusion_head_config.head_layers" },
    { G_STRUCT_OFFSET (VvConfig, lm.vocab_size), "decoder_config.vocab_size" },
    { G_STRUCT_OFFSET (VvConfig, acoustic.depths[6]), "acoustic_tokenizer_config.encoder_depths" },
    { G_STRUCT_OFFSET (VvConfig, acoustic.decoder_n_filters), "acoustic_tokenizer_config.decoder_n_filters" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_TINY);
    G_STRUCT_MEMBER (gint, c, cases[i].offset) = G_MAXINT;
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) layout = vv_layout_tensors (c, FALSE, &error);
    g_assert_null (layout);
    g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD);
    if (!strstr (error->message, cases[i].field) || !strstr (error->message, "2147483647"))
      g_error ("case %u: '%s' should name %s and the value", i, error->message, cases[i].field);
  }

  /* ratios whose product wraps in 32 bits, with the wrapped hop recorded */
  g_autoptr (VvConfig) c = vv_config_new_preset (VV_PRESET_TINY);
  const gint huge[] = { 63, 62, 61, 60, 59, 58 };
  for (gint i = 0; i < 6; i++)
    c->acoustic.ratios[i] = c->acoustic.decoder_ratios[i] = c->semantic.ratios[i] = huge[i];
  c->acoustic.hop_length = c->semantic.hop_length = c->speech_tok_compress_ratio = (gint) 1676134864;
  g_autoptr (GError) error = NULL;
  g_assert_null (vv_layout_tensors (c, FALSE, &error));
  g_assert_error (error, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FIELD);
  g_assert_nonnull (strstr (error->message, "acoustic_tokenizer_config.encoder_ratios"));
  g_clear_error (&error);

  /* at the ceilings the list is still built (and small) */
  g_autoptr (VvConfig) big = vv_config_new_preset (VV_PRESET_TINY);
  big->lm.n_layers = VV_CONFIG_MAX_LAYERS;
  big->head.n_layers = VV_CONFIG_MAX_LAYERS;
  g_autoptr (GArray) layout = vv_layout_tensors (big, FALSE, &error);
  g_assert_no_error (error);
  /* per Qwen2 layer: q/k/v weight+bias, o, gate, up, down, 2 norms = 12;
   * per head layer: gate, up, down, norm, adaLN = 5 (MODEL-SPEC §7.2) */
  g_autoptr (VvConfig) tiny_config = vv_config_new_preset (VV_PRESET_TINY);
  g_autoptr (GArray) tiny = vv_layout_tensors (tiny_config, FALSE, NULL);
  g_assert_cmpuint (layout->len, ==, tiny->len + (VV_CONFIG_MAX_LAYERS - 2) * 12 + (VV_CONFIG_MAX_LAYERS - 4) * 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layout/1.5b-matches-reference-list", test_1_5b_matches_reference_list);
  g_test_add_func ("/layout/7b", test_7b);
  g_test_add_func ("/layout/tiny-keeps-structure", test_tiny_keeps_structure);
  g_test_add_func ("/layout/refuses-absurd-config", test_refuses_absurd_config);
  return g_test_run ();
}
