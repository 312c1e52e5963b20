/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * An application's vv.engine context (docs/ELEMENTS.md, "One engine per
 * pipeline"): vvtokenize takes the tokenizer it carries instead of reading
 * the tokenizer files, as `vibevoice studio` relies on. Proved by taking
 * the files away: without the context the pipeline fails naming the
 * tokenizer, with it the pipeline makes the same audio as with the files.
 */
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsink.h>
#include <vibevoice/vibevoice.h>
#include <string.h>

/* Runs the example script through vvtts into an appsink (wait-on-eos=false:
 * EOS is posted without the samples being pulled first); returns the audio
 * bytes, or NULL with the error message in *error_text. */
static GByteArray *
run_tts (GstContext *ctx, gchar **error_text)
{
  const gchar *model = g_getenv ("VV_TINY_MODEL");
  const gchar *ex = g_getenv ("VV_EXAMPLES_DIR");
  fail_unless (model != NULL && ex != NULL, "run through meson test");
  gchar *desc = g_strdup_printf ("filesrc location=%s/two-speakers.txt ! vvtts model=%s "
      "voices=1=%s/voice-a.wav,2=%s/voice-b.wav seed=1 ! appsink name=sink sync=false wait-on-eos=false",
      ex, model, ex, ex);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  g_free (desc);
  fail_unless (p != NULL, "%s", err ? err->message : "?");
  if (ctx != NULL)
    gst_element_set_context (p, ctx);
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (m != NULL, "the pipeline neither ended nor failed in 120 s");
  GByteArray *audio = NULL;
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    gchar *dbg = NULL;
    gst_message_parse_error (m, &err, &dbg);
    *error_text = g_strdup_printf ("%s %s", err->message, dbg ? dbg : "");
    g_clear_error (&err);
    g_free (dbg);
  } else {
    GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
    audio = g_byte_array_new ();
    GstSample *s;
    while ((s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0)) != NULL) {
      GstMapInfo map;
      fail_unless (gst_buffer_map (gst_sample_get_buffer (s), &map, GST_MAP_READ));
      g_byte_array_append (audio, map.data, map.size);
      gst_buffer_unmap (gst_sample_get_buffer (s), &map);
      gst_sample_unref (s);
    }
    gst_object_unref (sink);
  }
  gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  return audio;
}

GST_START_TEST (test_tokenizer_from_context)
{
  const gchar *data = g_getenv ("VV_DATA_DIR");
  fail_unless (data != NULL);
  gchar *saved = g_strdup (data);
  gchar *tok_dir = g_build_filename (data, "qwen2-tokenizer", NULL);
  GError *err = NULL;
  VvTokenizer *tok = vv_tokenizer_new_from_dir (tok_dir, &err);
  fail_unless (tok != NULL, "%s", err ? err->message : "?");

  gchar *msg = NULL;
  GByteArray *with_files = run_tts (NULL, &msg);
  fail_unless (with_files != NULL && with_files->len > 0, "reference run: %s", msg);

  /* the tokenizer files are gone for the elements */
  g_setenv ("VV_DATA_DIR", "/nonexistent-vv-test-data", TRUE);
  GByteArray *none = run_tts (NULL, &msg);
  fail_unless (none == NULL && msg && strstr (msg, "tokenizer") != NULL,
      "without the files and no context the pipeline must fail naming the tokenizer: %s",
      msg ? msg : "it ran");
  g_clear_pointer (&msg, g_free);

  GstContext *ctx = gst_context_new ("vv.engine", TRUE);
  gst_structure_set (gst_context_writable_structure (ctx), "tokenizer", VV_TYPE_TOKENIZER, tok,
      "tokenizer-dir", G_TYPE_STRING, tok_dir, NULL);
  GByteArray *from_ctx = run_tts (ctx, &msg);
  fail_unless (from_ctx != NULL, "with the context's tokenizer: %s", msg);
  fail_unless (from_ctx->len == with_files->len
      && memcmp (from_ctx->data, with_files->data, with_files->len) == 0,
      "the context's tokenizer must give the same audio (%u vs %u bytes)", from_ctx->len,
      with_files->len);

  g_setenv ("VV_DATA_DIR", saved, TRUE);
  gst_context_unref (ctx);
  g_byte_array_unref (with_files);
  g_byte_array_unref (from_ctx);
  vv_tokenizer_unref (tok);
  g_free (tok_dir);
  g_free (saved);
}
GST_END_TEST;

static Suite *
vvtts_context_suite (void)
{
  Suite *s = suite_create ("vvtts-context");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_tokenizer_from_context);
  return s;
}

GST_CHECK_MAIN (vvtts_context);
