/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Script parsing and the prompt template against the original
 * VibeVoiceProcessor: vectors/processor/prompts.json holds the reference's
 * input_ids and voice placeholder positions (gen_processor_vectors.py) for
 * scripts in docs/examples/. Ids must match exactly.
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <json-glib/json-glib.h>

static JsonObject *cases;
static VvTokenizer *tok;
static gchar *root;

static void
test_case (gconstpointer data)
{
  const gchar *name = data;
  JsonObject *c = json_object_get_object_member (cases, name);
  g_autofree gchar *path = g_build_filename (root, json_object_get_string_member (c, "script"), NULL);
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_autoptr (GArray) turns = vv_script_parse (text, -1, &error);
  g_assert_no_error (error);

  JsonArray *lens = json_object_get_array_member (c, "voice_lengths");
  guint n_voices = json_array_get_length (lens);
  g_autofree gsize *frames = g_new0 (gsize, n_voices);
  for (guint i = 0; i < n_voices; i++)
    frames[i] = ((gsize) json_array_get_int_element (lens, i) + 3199) / 3200;

  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) pos = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_assert_true (vv_prompt_build (tok, turns, frames, n_voices, ids, pos, &error));
  g_assert_no_error (error);

  JsonArray *want = json_object_get_array_member (c, "input_ids");
  JsonArray *want_pos = json_object_get_array_member (c, "voice_positions");
  g_test_message ("%s: %u ids (reference %u), %u voice positions (reference %u)", name,
      ids->len, json_array_get_length (want), pos->len, json_array_get_length (want_pos));
  g_assert_cmpuint (ids->len, ==, json_array_get_length (want));
  for (guint i = 0; i < ids->len; i++)
    if (g_array_index (ids, gint32, i) != json_array_get_int_element (want, i))
      g_error ("%s: id %u is %d, the reference has %" G_GINT64_FORMAT, name, i,
          g_array_index (ids, gint32, i), json_array_get_int_element (want, i));
  g_assert_cmpuint (pos->len, ==, json_array_get_length (want_pos));
  for (guint i = 0; i < pos->len; i++)
    g_assert_cmpint (g_array_index (pos, gint32, i), ==, json_array_get_int_element (want_pos, i));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *vec_dir = g_getenv ("VV_PROCESSOR_CONFORMANCE_DIR");
  const gchar *data_dir = g_getenv ("VV_DATA_DIR");
  if (vec_dir == NULL || data_dir == NULL) {
    g_printerr ("VV_PROCESSOR_CONFORMANCE_DIR / VV_DATA_DIR are not set: run through meson test\n");
    return 77;
  }
  root = g_path_get_dirname (data_dir);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tok_dir = g_build_filename (data_dir, "qwen2-tokenizer", NULL);
  tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  g_assert_no_error (error);
  g_autofree gchar *path = g_build_filename (vec_dir, "prompts.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, path, &error))
    g_error ("%s: %s", path, error->message);
  cases = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "cases");
  g_autoptr (GList) names = json_object_get_members (cases);
  g_assert_cmpuint (g_list_length (names), >=, 2);
  for (GList *l = names; l; l = l->next) {
    g_autofree gchar *tname = g_strdup_printf ("/conformance/processor/%s", (const gchar *) l->data);
    g_test_add_data_func (tname, l->data, test_case);
  }
  int ret = g_test_run ();
  vv_tokenizer_unref (tok);
  g_free (root);
  return ret;
}
