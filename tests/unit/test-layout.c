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
  g_autoptr (GArray) layout = vv_layout_tensors (c, FALSE);
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
  g_autoptr (GArray) layout = vv_layout_tensors (c, TRUE);
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
  g_autoptr (GArray) layout = vv_layout_tensors (c, FALSE);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layout/1.5b-matches-reference-list", test_1_5b_matches_reference_list);
  g_test_add_func ("/layout/7b", test_7b);
  g_test_add_func ("/layout/tiny-keeps-structure", test_tiny_keeps_structure);
  return g_test_run ();
}
