/* gst-vibevoice — script parsing and prompt template tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Expected ids are MODEL-SPEC §1.3's, which were computed with the
 * reference's Qwen2.5 tokenizer, piece by piece.
 */
#include <vibevoice/vibevoice.h>
#include <string.h>

static VvTokenizer *tok;

static const gint32 system_ids[] = { 15226, 279, 1467, 3897, 553, 5257, 21326, 1119, 8806, 2550,
  11, 34888, 279, 12460, 7743, 315, 1817, 19511, 18601, 624 };

static void
assert_ids (const gint32 *got, const gint32 *want, guint n)
{
  for (guint i = 0; i < n; i++)
    if (got[i] != want[i])
      g_error ("id %u: got %d, want %d", i, got[i], want[i]);
}

static void
test_parse (void)
{
  g_autoptr (GError) error = NULL;
  const gchar *script = "\n  speaker 1:  Hello there.  \nand more.\nSpeaker 2: It\u2019s me!\n\nSpeaker 1: Bye";
  g_autoptr (GArray) turns = vv_script_parse (script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (turns->len, ==, 3);
  VvScriptTurn *t = (VvScriptTurn *) turns->data;
  g_assert_cmpint (t[0].speaker, ==, 0);     /* 1-based script shifted to 0 */
  g_assert_cmpstr (t[0].text, ==, "Hello there. and more.");
  g_assert_cmpuint (t[0].line, ==, 2);
  g_assert_cmpint (t[1].speaker, ==, 1);
  g_assert_cmpstr (t[1].text, ==, "It's me!");
  g_assert_cmpint (t[2].speaker, ==, 0);
  g_assert_cmpuint (vv_script_count_speakers (turns), ==, 2);

  /* ids are kept when 0 is used */
  g_autoptr (GArray) t0 = vv_script_parse ("Speaker 0: a\nSpeaker 2: b", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_array_index (t0, VvScriptTurn, 1).speaker, ==, 2);

  g_autoptr (GArray) bad = vv_script_parse ("Narrator: hi\nSpeaker 1: x", -1, &error);
  g_assert_null (bad);
  g_assert_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_SCRIPT);
  g_assert_nonnull (strstr (error->message, "line 1"));
  g_clear_error (&error);
  g_autoptr (GArray) empty = vv_script_parse (" \n\n", -1, &error);
  g_assert_null (empty);
  g_assert_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_SCRIPT);
  g_clear_error (&error);
  g_autoptr (GArray) utf = vv_script_parse ("Speaker 1: \xff", -1, &error);
  g_assert_null (utf);
  g_assert_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_SCRIPT);
}

static void
test_prompt_template (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) turns = vv_script_parse ("Speaker 1: Hello there.", -1, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) pos = g_array_new (FALSE, FALSE, sizeof (gint32));
  const gsize frames[] = { 3 };
  g_assert_true (vv_prompt_build (tok, turns, frames, 1, ids, pos, &error));
  g_assert_no_error (error);
  /* system prompt · " Voice input:\n" · " Speaker 0:" <start> <diff>×3 <end> "\n"
   * · " Text input:\n" · " Speaker 0: Hello there.\n" · " Speech output:\n" <start> */
  const gint32 tail[] = { 27930, 1946, 510, 29073, 220, 15, 25, 151652, 151654, 151654, 151654,
    151653, 198, 2918, 1946, 510, 29073, 220, 15, 25, 21927, 1052, 624, 38741, 2550, 510, 151652 };
  g_assert_cmpuint (ids->len, ==, G_N_ELEMENTS (system_ids) + G_N_ELEMENTS (tail));
  assert_ids ((gint32 *) ids->data, system_ids, G_N_ELEMENTS (system_ids));
  assert_ids ((gint32 *) ids->data + G_N_ELEMENTS (system_ids), tail, G_N_ELEMENTS (tail));
  g_assert_cmpuint (pos->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (g_array_index (ids, gint32, g_array_index (pos, gint32, i)), ==, 151654);
  g_assert_cmpint (g_array_index (pos, gint32, 0), ==, 20 + 3 + 4 + 1);
}

static void
test_prompt_without_voices_and_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) turns = vv_script_parse ("Speaker 1: Hello there?\nSpeaker 2: Yes.", -1, &error);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_assert_true (vv_prompt_build (tok, turns, NULL, 0, ids, NULL, &error));
  g_assert_no_error (error);
  /* no voice section: " Text input:\n" follows the system prompt directly;
   * "?\n" merges into 5267 (§1.3) */
  const gint32 tail[] = { 2918, 1946, 510, 29073, 220, 15, 25, 21927, 1052, 5267 };
  assert_ids ((gint32 *) ids->data + 20, tail, G_N_ELEMENTS (tail));
  g_assert_cmpint (g_array_index (ids, gint32, ids->len - 1), ==, 151652);

  const gsize one[] = { 2 };
  guint before = ids->len;
  g_assert_false (vv_prompt_build (tok, turns, one, 1, ids, NULL, &error));
  g_assert_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_VOICES);
  g_assert_cmpuint (ids->len, ==, before);
}

/* Issue 14: each continuation line re-copied the whole turn text, and each
 * U+2019 moved the rest of the script; both were quadratic. */
static void
test_parse_linear (void)
{
  const guint n = 200000;
  const gchar *more = "it\u2019s more";
  GString *script = g_string_new ("Speaker 1: start\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (script, "%s\n", more);
  g_string_append (script, "Speaker 2: end");
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) turns = vv_script_parse (script->str, script->len, &error);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  g_assert_no_error (error);
  g_assert_cmpuint (turns->len, ==, 2);
  const gchar *text = g_array_index (turns, VvScriptTurn, 0).text;
  /* each line becomes " it's more": the 3-byte quote is one byte */
  g_assert_cmpuint (strlen (text), ==, strlen ("start") + n * strlen (" it's more"));
  g_assert_true (g_str_has_prefix (text, "start it's more it's"));
  g_assert_true (g_str_has_suffix (text, "more it's more"));
  g_assert_cmpuint (g_array_index (turns, VvScriptTurn, 1).line, ==, n + 2);
  g_test_message ("%u continuation lines (%" G_GSIZE_FORMAT " bytes): %.3f s", n,
      script->len, secs);
  g_string_free (script, TRUE);
  /* generous for a loaded 2-core machine; the quadratic version took minutes */
  g_assert_cmpfloat (secs, <, 3.0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autofree gchar *dir = g_build_filename (g_getenv ("VV_DATA_DIR"), "qwen2-tokenizer", NULL);
  g_autoptr (GError) error = NULL;
  tok = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  g_test_add_func ("/processor/parse", test_parse);
  g_test_add_func ("/processor/parse-linear", test_parse_linear);
  g_test_add_func ("/processor/prompt-template", test_prompt_template);
  g_test_add_func ("/processor/prompt-without-voices-and-errors", test_prompt_without_voices_and_errors);
  int ret = g_test_run ();
  vv_tokenizer_unref (tok);
  return ret;
}
