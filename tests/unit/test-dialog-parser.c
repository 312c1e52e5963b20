/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The streaming dialogue parser (vv-dialog) against docs/SCRIPT-FORMAT.md:
 * turn forms, continuation lines, director tags, pauses, JSON, errors with
 * line numbers, and chunking invariance. Expected turns are written by hand
 * from the inputs.
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"

#include <string.h>

typedef struct {
  const gchar *speaker;
  const gchar *text;
  const gchar *emotion;
  guint pause_ms;
  guint line;
} Want;

static GPtrArray *
parse_chunks (const gchar *script, gsize chunk, gboolean flush, GPtrArray *warnings,
    GError **error)
{
  g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
  vv_dialog_parser_set_flush_on_newline (p, flush);
  GPtrArray *turns = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_dialog_turn_free);
  gsize len = strlen (script);
  for (gsize off = 0; off < len; off += chunk) {
    if (!vv_dialog_parser_feed (p, script + off, MIN (chunk, len - off), turns, warnings,
            error)) {
      g_ptr_array_unref (turns);
      return NULL;
    }
  }
  if (!vv_dialog_parser_finish (p, turns, warnings, error)) {
    g_ptr_array_unref (turns);
    return NULL;
  }
  return turns;
}

static void
check_turns (GPtrArray *turns, const Want *want, guint n)
{
  g_assert_nonnull (turns);
  g_assert_cmpuint (turns->len, ==, n);
  for (guint i = 0; i < n; i++) {
    VvDialogTurn *t = g_ptr_array_index (turns, i);
    g_assert_cmpstr (t->speaker, ==, want[i].speaker);
    g_assert_cmpstr (t->text, ==, want[i].text);
    g_assert_cmpstr (t->emotion, ==, want[i].emotion);
    g_assert_cmpuint (t->pause_ms, ==, want[i].pause_ms);
    g_assert_cmpuint (t->line, ==, want[i].line);
  }
}

static void
expect (const gchar *script, const Want *want, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) turns = parse_chunks (script, G_MAXSIZE, FALSE, NULL, &error);
  g_assert_no_error (error);
  check_turns (turns, want, n);
}

static void
expect_error (const gchar *script, gint code, const gchar *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) turns = parse_chunks (script, G_MAXSIZE, FALSE, NULL, &error);
  g_assert_null (turns);
  g_assert_error (error, VV_DIALOG_ERROR, code);
  if (strstr (error->message, needle) == NULL)
    g_error ("'%s' not in error message '%s'", needle, error->message);
}

static void
test_forms (void)
{
  const Want want[] = {
    { "1", "Hello there.", NULL, 0, 1 },
    { "2", "Hi!", NULL, 0, 2 },
    { "A", "Bracket form.", NULL, 0, 3 },
    { "Alice", "Name form.", NULL, 0, 4 },
    { "B", "Role form.", NULL, 0, 5 },
  };
  /* 5 labels would be a fifth speaker: keep four distinct ones */
  expect ("Speaker 1: Hello there.\nspeaker 2:Hi!\n[Speaker A] Bracket form.\n"
      "Alice: Name form.\n", want, 4);
  const Want want2[] = {
    { "1", "Hello there.", NULL, 0, 1 },
    { "B", "Role form.", NULL, 0, 2 },
  };
  expect ("Speaker 1: Hello there.\n[Role:B] Role form.\n", want2, 2);
}

static void
test_continuation_real (void)
{
  const Want want[] = {
    { "1", "First line second line then he said: no", NULL, 0, 1 },
    { "Bob", "Yes.", NULL, 0, 6 },
  };
  expect ("Speaker 1: First line\r\n\r\n  second line  \n# a comment\n"
      "then he said: no\nBob: Yes.\n", want, 2);
}

static void
test_tags_and_pauses (void)
{
  const Want want[] = {
    { "A", "Oh no.", "concerned", 250, 1 },
    { "B", "It is fine.", NULL, 1500, 4 },
    { "A", "Good.", "happy", 1000, 6 },
    { "", "", NULL, 500, 7 },
  };
  expect ("[Role:A][Emotion:Concerned][Pause:Short] Oh no.\n"
      "[pause:500ms]\n"
      "[PAUSE:1s]\n"
      "[Speaker B] It is fine.\n"
      "[Emotion:Happy]\n"
      "[Pause:Long] Speaker A: Good.\n"
      "[Pause:Medium]\n", want, 4);
}

static void
test_empty_turn_warns (void)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) turns = parse_chunks ("Speaker 1:\nSpeaker 2: Text.\n", G_MAXSIZE,
      FALSE, warnings, &error);
  g_assert_no_error (error);
  const Want want[] = { { "2", "Text.", NULL, 0, 2 } };
  check_turns (turns, want, 1);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), "line 1"));
}

static void
test_errors (void)
{
  expect_error ("Speaker 1: ok\nSpeaker 2: bad \xff byte\n", VV_DIALOG_ERROR_UTF8, "line 2");
  expect_error ("Speaker 1: ok\n[Foo:bar] x\n", VV_DIALOG_ERROR_UNKNOWN_TAG, "line 2");
  expect_error ("[Emotion:sad\n", VV_DIALOG_ERROR_SYNTAX, "line 1");
  expect_error ("Speaker 1: a\n[pause:soon] b\n", VV_DIALOG_ERROR_SYNTAX, "line 2");
  expect_error ("just some words without a speaker\n", VV_DIALOG_ERROR_SYNTAX, "line 1");
  expect_error ("Speaker 1: a\nSpeaker 2: b\nSpeaker 3: c\nSpeaker 4: d\nSpeaker 5: e\n",
      VV_DIALOG_ERROR_TOO_MANY_SPEAKERS, "line 5");
  expect_error ("# only a comment\n\n", VV_DIALOG_ERROR_EMPTY, "no turn");
  expect_error ("", VV_DIALOG_ERROR_EMPTY, "no turn");
  /* a NUL byte */
  g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
  g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  g_autoptr (GError) error = NULL;
  g_assert_false (vv_dialog_parser_feed (p, "Speaker 1: a\0b\n", 15, turns, NULL, &error));
  g_assert_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_UTF8);
  g_assert_nonnull (strstr (error->message, "line 1"));
}

/* Any chunking, including inside a UTF-8 sequence and between \r and \n,
 * gives the same turns. */
static void
test_chunking (void)
{
  const gchar *script = "Speaker 1: Grüße aus Köln — 你好\r\n"
      "  und weiter\r\n[Emotion:Calm][pause:1.5s] Speaker 2: ¿Qué tal?\r\nSpeaker 1: Bien.";
  const Want want[] = {
    { "1", "Grüße aus Köln — 你好 und weiter", NULL, 0, 1 },
    { "2", "¿Qué tal?", "calm", 1500, 3 },
    { "1", "Bien.", NULL, 0, 4 },
  };
  for (gsize chunk = 1; chunk <= 8; chunk++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) turns = parse_chunks (script, chunk, FALSE, NULL, &error);
    g_assert_no_error (error);
    check_turns (turns, want, 3);
  }
  gsize len = strlen (script);
  for (gsize cut = 0; cut <= len; cut++) {
    g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
    g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
        vv_dialog_turn_free);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_dialog_parser_feed (p, script, cut, turns, NULL, &error));
    g_assert_true (vv_dialog_parser_feed (p, script + cut, len - cut, turns, NULL, &error));
    g_assert_true (vv_dialog_parser_finish (p, turns, NULL, &error));
    check_turns (turns, want, 3);
  }
}

/* flush-on-newline: a turn comes out when its line ends. */
static void
test_flush_on_newline (void)
{
  g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
  vv_dialog_parser_set_flush_on_newline (p, TRUE);
  g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_dialog_parser_feed (p, "Speaker 1: one", 14, turns, NULL, &error));
  g_assert_cmpuint (turns->len, ==, 0);
  g_assert_true (vv_dialog_parser_feed (p, "\n", 1, turns, NULL, &error));
  g_assert_cmpuint (turns->len, ==, 1);
  /* without it, the turn waits for the next turn line */
  g_autoptr (VvDialogParser) q = vv_dialog_parser_new ();
  g_autoptr (GPtrArray) t2 = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  g_assert_true (vv_dialog_parser_feed (q, "Speaker 1: one\n", 15, t2, NULL, &error));
  g_assert_cmpuint (t2->len, ==, 0);
  g_assert_true (vv_dialog_parser_feed (q, "Speaker 2: two\n", 15, t2, NULL, &error));
  g_assert_cmpuint (t2->len, ==, 1);
  /* reset forgets a partial line */
  vv_dialog_parser_reset (q);
  g_ptr_array_set_size (t2, 0);
  g_assert_true (vv_dialog_parser_feed (q, "Speaker 3: par", 14, t2, NULL, &error));
  vv_dialog_parser_reset (q);
  g_assert_true (vv_dialog_parser_feed (q, "Speaker 1: fresh\n", 17, t2, NULL, &error));
  g_assert_true (vv_dialog_parser_finish (q, t2, NULL, &error));
  const Want want[] = { { "1", "fresh", NULL, 0, 1 } };
  check_turns (t2, want, 1);
}

static void
test_json (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  const gchar *doc = "{\"turns\": [{\"speaker\": \"1\", \"text\": \" Hello. \"},"
      "{\"speaker\": 2, \"text\": \"Hi!\", \"emotion\": \"Cheerful\", \"volume\": 3},"
      "{\"pause_ms\": 500}, {\"speaker\": \"1\", \"text\": \"Go.\"}, {\"pause_ms\": 20}]}";
  g_autoptr (GPtrArray) turns = vv_dialog_parse_json (doc, strlen (doc), warnings, &error);
  g_assert_no_error (error);
  const Want want[] = {
    { "1", "Hello.", NULL, 0, 1 },
    { "2", "Hi!", "cheerful", 0, 2 },
    { "1", "Go.", NULL, 500, 4 },
    { "", "", NULL, 20, 5 },
  };
  check_turns (turns, want, 4);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (warnings, 0), "volume"));

  const gchar *arr = "[{\"speaker\": \"A\", \"text\": \"x\"}]";
  g_autoptr (GPtrArray) t2 = vv_dialog_parse_json (arr, strlen (arr), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t2->len, ==, 1);

  const struct { const gchar *doc; gint code; const gchar *needle; } bad[] = {
    { "[{\"speaker\": \"1\", \"text\": 5}]", VV_DIALOG_ERROR_SYNTAX, "turn 1" },
    { "[{\"text\": \"x\"}, {\"text\": \"no speaker\", \"speaker\": \"\"}]",
      VV_DIALOG_ERROR_SYNTAX, "turn 1" },
    { "[{\"speaker\": \"1\", \"text\": \"a\", \"pause_ms\": -4}]", VV_DIALOG_ERROR_SYNTAX,
      "turn 1" },
    { "[1, 2]", VV_DIALOG_ERROR_SYNTAX, "turn 1" },
    { "{\"talk\": []}", VV_DIALOG_ERROR_SYNTAX, "turns" },
    { "[{\"speaker\": \"1\", \"text\": \"a\"", VV_DIALOG_ERROR_SYNTAX, "JSON" },
    { "[]", VV_DIALOG_ERROR_EMPTY, "no turn" },
    { "[{\"speaker\":1,\"text\":\"a\"},{\"speaker\":2,\"text\":\"b\"},{\"speaker\":3,"
      "\"text\":\"c\"},{\"speaker\":4,\"text\":\"d\"},{\"speaker\":5,\"text\":\"e\"}]",
      VV_DIALOG_ERROR_TOO_MANY_SPEAKERS, "turn 5" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    g_autoptr (GPtrArray) t = vv_dialog_parse_json (bad[i].doc, strlen (bad[i].doc), NULL, &e);
    g_assert_null (t);
    g_assert_error (e, VV_DIALOG_ERROR, bad[i].code);
    if (strstr (e->message, bad[i].needle) == NULL)
      g_error ("JSON case %u: '%s' not in '%s'", i, bad[i].needle, e->message);
  }
}


/* Issue 14: "[pause:nanms]" was accepted (NaN cast to guint), and one pause
 * could be 1000 hours. One pause is at most 1 hour, like JSON pause_ms. */
static void
test_pause_value_limits (void)
{
  const gchar *bad[] = { "nanms", "NaNs", "infms", "-infs", "1e400ms", "-1ms", "-0.5s",
    "3600001ms", "3600.5s", "1e10s", "4294967296ms" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *script = g_strdup_printf ("Speaker 1: a\n\n[pause:%s] Speaker 2: b\n",
        bad[i]);
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) turns = parse_chunks (script, G_MAXSIZE, FALSE, NULL, &error);
    g_assert_null (turns);
    g_assert_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX);
    if (strstr (error->message, "line 3") == NULL || strstr (error->message, bad[i]) == NULL
        || strstr (error->message, "3600000 ms") == NULL)
      g_error ("pause '%s': message '%s' lacks the line, the value or the limit", bad[i],
          error->message);
  }
  /* exactly one hour is allowed, in both units */
  const Want want[] = {
    { "1", "a", NULL, 3600000, 1 },
    { "2", "b", NULL, 3600000, 2 },
  };
  expect ("[pause:3600s] Speaker 1: a\n[pause:3600000ms] Speaker 2: b\n", want, 2);
}

/* Issue 14: pauses in a row added up in an unchecked guint; 1000 x
 * [pause:3600s] wrapped, or asked vvvocode for 1000 hours of silence.
 * All the silence between two turns is at most 1 hour too. */
static void
test_pause_total_limits (void)
{
  /* on lines of their own */
  expect_error ("Speaker 1: a\n[pause:1800s]\n[pause:1800s]\n[pause:1ms]\nSpeaker 2: b\n",
      VV_DIALOG_ERROR_SYNTAX, "line 4");
  /* on one line */
  expect_error ("Speaker 1: a\n[pause:3600s][pause:Short] Speaker 2: b\n",
      VV_DIALOG_ERROR_SYNTAX, "line 2");
  /* pending pauses plus the turn line's own */
  expect_error ("Speaker 1: a\n[pause:3600s]\n[pause:Long] Speaker 2: b\n",
      VV_DIALOG_ERROR_SYNTAX, "line 3");
  /* carried over a skipped empty turn */
  expect_error ("Speaker 1: a\n[pause:3600s] Speaker 2:\n[pause:1ms] Speaker 1: c\n",
      VV_DIALOG_ERROR_SYNTAX, "line 3");
  /* at the end of the script */
  expect_error ("Speaker 1: a\n[pause:3600s]\n[pause:1s]\n", VV_DIALOG_ERROR_SYNTAX,
      "line 3");
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) t = parse_chunks ("Speaker 1: a\n[pause:3600s]\n[pause:1s]\n",
        G_MAXSIZE, FALSE, NULL, &error);
    g_assert_null (t);
    g_assert_nonnull (strstr (error->message, "3600000 ms"));
    g_assert_nonnull (strstr (error->message, "3601000 ms"));
  }
  /* the reported case: 1000 one-hour pauses */
  GString *many = g_string_new ("Speaker 1: a\n");
  for (guint i = 0; i < 1000; i++)
    g_string_append (many, "[pause:3600s]\n");
  g_string_append (many, "Speaker 2: b\n");
  expect_error (many->str, VV_DIALOG_ERROR_SYNTAX, "line 3");
  g_string_free (many, TRUE);
  /* a pause ends a gap: each gap may have its full hour */
  const Want want[] = {
    { "1", "a", NULL, 3600000, 2 },
    { "2", "b", NULL, 3600000, 4 },
    { "", "", NULL, 3600000, 5 },
  };
  expect ("[pause:1800s]\n[pause:1800s] Speaker 1: a\n[pause:3600s]\nSpeaker 2: b\n"
      "[pause:3599s]\n[pause:1000ms]\n", want, 3);
}

/* Issue 14: every continuation line re-copied the whole turn text
 * (100 000 lines took ~25 s). */
static void
test_continuation_linear (void)
{
  const guint n = 200000;
  const gchar *more = "more words here";
  GString *script = g_string_new ("Speaker 1: start\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (script, "%s\n", more);
  g_string_append (script, "Speaker 2: end\n");
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) turns = parse_chunks (script->str, 4096, FALSE, NULL, &error);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  g_assert_no_error (error);
  g_assert_cmpuint (turns->len, ==, 2);
  VvDialogTurn *t = g_ptr_array_index (turns, 0);
  g_assert_cmpuint (strlen (t->text), ==, strlen ("start") + n * (1 + strlen (more)));
  g_assert_true (g_str_has_prefix (t->text, "start more words here more"));
  g_assert_true (g_str_has_suffix (t->text, "here more words here"));
  g_assert_cmpuint (((VvDialogTurn *) g_ptr_array_index (turns, 1))->line, ==, n + 2);
  g_test_message ("%u continuation lines (%" G_GSIZE_FORMAT " bytes): %.3f s", n,
      script->len, secs);
  g_string_free (script, TRUE);
  /* generous for a loaded 2-core machine; the quadratic join took tens of s */
  g_assert_cmpfloat (secs, <, 3.0);
}

/* Issue 14: JSON pause_ms elements in a row add up to at most 1 hour too. */
static void
test_json_pause_total_limits (void)
{
  const struct { const gchar *doc; const gchar *needle; } bad[] = {
    { "[{\"speaker\": 1, \"text\": \"a\"}, {\"pause_ms\": 3600000}, {\"pause_ms\": 1},"
      " {\"speaker\": 2, \"text\": \"b\"}]", "JSON turn 3" },
    { "[{\"speaker\": 1, \"text\": \"a\"}, {\"pause_ms\": 3000000},"
      " {\"speaker\": 2, \"text\": \"b\", \"pause_ms\": 600001}]", "JSON turn 3" },
    { "[{\"speaker\": 1, \"text\": \"a\"}, {\"pause_ms\": 3600000}, {\"pause_ms\": 3600000}]",
      "JSON turn 3" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    g_autoptr (GPtrArray) t = vv_dialog_parse_json (bad[i].doc, strlen (bad[i].doc), NULL, &e);
    g_assert_null (t);
    g_assert_error (e, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX);
    if (strstr (e->message, bad[i].needle) == NULL || strstr (e->message, "3600000 ms") == NULL)
      g_error ("JSON case %u: '%s' or the limit not in '%s'", i, bad[i].needle, e->message);
  }
  /* 1000 one-hour elements: an error, not a wrapped sum */
  GString *doc = g_string_new ("[{\"speaker\": 1, \"text\": \"a\"}");
  for (guint i = 0; i < 1000; i++)
    g_string_append (doc, ", {\"pause_ms\": 3600000}");
  g_string_append (doc, ", {\"speaker\": 2, \"text\": \"b\"}]");
  g_autoptr (GError) e = NULL;
  g_autoptr (GPtrArray) t = vv_dialog_parse_json (doc->str, doc->len, NULL, &e);
  g_string_free (doc, TRUE);
  g_assert_null (t);
  g_assert_error (e, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX);
  g_assert_nonnull (strstr (e->message, "JSON turn 3"));
  /* exactly the limit is fine */
  const gchar *ok = "[{\"speaker\": 1, \"text\": \"a\"}, {\"pause_ms\": 3000000},"
      " {\"speaker\": 2, \"text\": \"b\", \"pause_ms\": 600000}]";
  g_autoptr (GError) e2 = NULL;
  g_autoptr (GPtrArray) t2 = vv_dialog_parse_json (ok, strlen (ok), NULL, &e2);
  g_assert_no_error (e2);
  g_assert_cmpuint (((VvDialogTurn *) g_ptr_array_index (t2, 1))->pause_ms, ==, 3600000);
}

/* Issue 14: a deeply nested script overflowed the stack inside json-glib. */
static void
test_json_deep_nesting (void)
{
  for (gint objects = 0; objects <= 1; objects++) {
    g_autofree gchar *deep = vv_test_deep_json (80000, objects);
    g_autoptr (GError) e = NULL;
    g_autoptr (GPtrArray) t = vv_dialog_parse_json (deep, strlen (deep), NULL, &e);
    g_assert_null (t);
    g_assert_error (e, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX);
    g_assert_nonnull (strstr (e->message, "JSON script"));
    g_assert_nonnull (strstr (e->message, "deeper than 64 levels"));
  }
}

/* Mid-line tags act like a new turn line of the same speaker. */
static void
test_inline_tags (void)
{
  const Want want[] = {
    { "1", "Hello", NULL, 0, 1 },
    { "1", "world.", NULL, 1000, 1 },
    { "1", "Great news!", "happy", 0, 1 },
    { "2", "Thanks.", "sad", 250, 2 },
    { "2", "Bye.", NULL, 500, 3 },
    { "1", "Continued here", "happy", 0, 4 },
    { "1", "and here [sic].", "calm", 0, 5 },
  };
  expect ("Speaker 1: Hello [pause:1s] world. [Emotion:Happy] Great news!\n"
      "Speaker 2: [Emotion:Sad][pause:250ms] Thanks. [pause:500ms]\n"
      "Speaker 2: Bye.\n"
      "Speaker 1: [Emotion:Happy] Continued here\n"
      "[Emotion:Calm] Speaker 1: and here [sic].\n", want, 7);
  /* a pause at the end of a line is silence before the next turn */
  const Want want2[] = {
    { "1", "One.", NULL, 0, 1 },
    { "2", "Two.", NULL, 750, 2 },
  };
  expect ("Speaker 1: One. [pause:750ms]\nSpeaker 2: Two.\n", want2, 2);
  /* mid-line tags in continuation lines split too */
  const Want want3[] = {
    { "1", "a b", NULL, 0, 1 },
    { "1", "c", NULL, 300, 2 },
  };
  expect ("Speaker 1: a\nb [pause:300ms] c\n", want3, 2);
  /* a speaker switch in mid-line */
  const Want want4[] = {
    { "A", "Hi.", NULL, 0, 1 },
    { "B", "Hello.", NULL, 0, 1 },
  };
  expect ("[Speaker A] Hi. [Speaker B] Hello.\n", want4, 2);
  /* bad mid-line pause: an error with the line */
  expect_error ("Speaker 1: x\nSpeaker 1: a [pause:2h] b\n", VV_DIALOG_ERROR_SYNTAX, "line 2");
  expect_error ("Speaker 1: a [pause:3600s][pause:1s] b\n", VV_DIALOG_ERROR_SYNTAX, "1 hour");
}

/* An unknown [Name:value] in mid-line is dropped with a warning giving the
 * line and the column (1-based characters, as written). */
static void
test_inline_unknown_tag (void)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  /* "  Speaker 1: Hé [Foo:bar] there": '[' is character 17 */
  g_autoptr (GPtrArray) turns = parse_chunks ("Speaker 2: x\n  Speaker 1: H\xc3\xa9 [Foo:bar] there\n",
      5, FALSE, warnings, &error);
  g_assert_no_error (error);
  const Want want[] = {
    { "2", "x", NULL, 0, 1 },
    { "1", "H\xc3\xa9  there", NULL, 0, 2 },
  };
  check_turns (turns, want, 2);
  g_assert_cmpuint (warnings->len, ==, 1);
  const gchar *w = g_ptr_array_index (warnings, 0);
  if (strstr (w, "line 2, column 17") == NULL || strstr (w, "[Foo:bar]") == NULL)
    g_error ("warning '%s' does not name line 2, column 17 and [Foo:bar]", w);
  /* after leading tags too: "[Emotion:Sad] Speaker 1: a [X:y]" -> column 28 */
  g_ptr_array_set_size (warnings, 0);
  g_autoptr (GPtrArray) t2 = parse_chunks ("[Emotion:Sad]   Speaker 1: a [X:y]\n", 64, FALSE,
      warnings, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t2->len, ==, 1);
  g_assert_cmpuint (warnings->len, ==, 1);
  w = g_ptr_array_index (warnings, 0);
  if (strstr (w, "line 1, column 30") == NULL)
    g_error ("warning '%s' does not name line 1, column 30", w);
}

/* Unlabelled text is the default speaker's when one is set; flush ends the
 * open turn (one timestamped buffer = one utterance). */
static void
test_default_speaker_and_flush (void)
{
  g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
  g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  g_autoptr (GError) error = NULL;
  /* without a default speaker: the error suggests one */
  g_assert_false (vv_dialog_parser_feed (p, "Good morning\n", 13, turns, NULL, &error));
  g_assert_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX);
  g_assert_nonnull (strstr (error->message, "default speaker"));
  g_clear_error (&error);
  vv_dialog_parser_reset (p);
  vv_dialog_parser_set_default_speaker (p, " 3 ");
  g_assert_true (vv_dialog_parser_feed (p, "Good morning", 12, turns, NULL, &error));
  g_assert_cmpuint (turns->len, ==, 0);
  g_assert_true (vv_dialog_parser_flush (p, turns, NULL, &error));
  g_assert_cmpuint (turns->len, ==, 1);
  /* the next buffer is a new utterance, not a continuation */
  g_assert_true (vv_dialog_parser_feed (p, "and welcome", 11, turns, NULL, &error));
  g_assert_true (vv_dialog_parser_flush (p, turns, NULL, &error));
  g_assert_true (vv_dialog_parser_feed (p, "Speaker 2: Hi!\nHow are you?", 27, turns, NULL,
          &error));
  g_assert_true (vv_dialog_parser_flush (p, turns, NULL, &error));
  g_assert_true (vv_dialog_parser_finish (p, turns, NULL, &error));
  g_assert_no_error (error);
  const Want want[] = {
    { "3", "Good morning", NULL, 0, 1 },
    { "3", "and welcome", NULL, 0, 2 },
    { "2", "Hi! How are you?", NULL, 0, 3 },
  };
  check_turns (turns, want, 3);
}

/* The streaming parser's ceiling (docs/TESTING.md, limits): an unfinished
 * line, and a turn's joined text, hold at most 8 MiB = 8388608 bytes. */
static void
test_line_limit (void)
{
  const gsize limit = 8 * 1024 * 1024;
  g_autofree gchar *big = g_malloc (limit + 2);
  memcpy (big, "Speaker 1: ", 11);
  memset (big + 11, 'a', limit + 2 - 11);
  g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  {
    /* exactly the limit without a newline is held; one more byte is not */
    g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_dialog_parser_feed (p, "Speaker 2: short\n", 17, turns, NULL, &error));
    g_assert_true (vv_dialog_parser_feed (p, big, limit, turns, NULL, &error));
    g_assert_no_error (error);
    g_assert_false (vv_dialog_parser_feed (p, "a", 1, turns, NULL, &error));
    g_assert_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_TOO_LONG);
    g_assert_nonnull (strstr (error->message, "line 2"));
    g_assert_nonnull (strstr (error->message, "8388608"));
  }
  {
    /* a line one byte too long that ends in the same chunk */
    g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
    g_autoptr (GError) error = NULL;
    big[limit + 1] = '\n';
    g_assert_false (vv_dialog_parser_feed (p, big, limit + 2, turns, NULL, &error));
    g_assert_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_TOO_LONG);
    g_assert_nonnull (strstr (error->message, "line 1"));
  }
  {
    /* continuation lines of 1 MiB each: "x" + 7 × (" " + 1 MiB) = 7340040
     * bytes fit, the 8th (line 9) would make 8388617 */
    g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_dialog_parser_feed (p, "Speaker 1: x\n", 13, turns, NULL, &error));
    big[11 + 1024 * 1024] = '\n';
    for (gint k = 0; k < 7; k++)
      g_assert_true (vv_dialog_parser_feed (p, big + 11, 1024 * 1024 + 1, turns, NULL,
              &error));
    g_assert_no_error (error);
    g_assert_false (vv_dialog_parser_feed (p, big + 11, 1024 * 1024 + 1, turns, NULL,
            &error));
    g_assert_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_TOO_LONG);
    g_assert_nonnull (strstr (error->message, "line 9"));
    g_assert_nonnull (strstr (error->message, "line 1 "));
  }
}


int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dialog/forms", test_forms);
  g_test_add_func ("/dialog/inline-tags", test_inline_tags);
  g_test_add_func ("/dialog/inline-unknown-tag", test_inline_unknown_tag);
  g_test_add_func ("/dialog/default-speaker-and-flush", test_default_speaker_and_flush);
  g_test_add_func ("/dialog/continuation", test_continuation_real);
  g_test_add_func ("/dialog/tags-and-pauses", test_tags_and_pauses);
  g_test_add_func ("/dialog/empty-turn-warns", test_empty_turn_warns);
  g_test_add_func ("/dialog/errors", test_errors);
  g_test_add_func ("/dialog/chunking", test_chunking);
  g_test_add_func ("/dialog/flush-on-newline", test_flush_on_newline);
  g_test_add_func ("/dialog/json", test_json);
  g_test_add_func ("/dialog/json-deep-nesting", test_json_deep_nesting);
  g_test_add_func ("/dialog/pause-value-limits", test_pause_value_limits);
  g_test_add_func ("/dialog/pause-total-limits", test_pause_total_limits);
  g_test_add_func ("/dialog/json-pause-total-limits", test_json_pause_total_limits);
  g_test_add_func ("/dialog/continuation-linear", test_continuation_linear);
  g_test_add_func ("/dialog/line-limit", test_line_limit);
  return g_test_run ();
}
