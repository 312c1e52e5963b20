/* gst-vibevoice — the voices spec of vvtokenize (vv_voices_parse)
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The documented forms (label=FILE, label:emotion=FILE, FILE; `,` or `;`
 * between entries) parse to the keys the element looks turns up by; a
 * malformed entry is an error naming it.
 */
#include "vv-test-util.h"
#include <string.h>

static GPtrArray *
parse_ok (const gchar *spec)
{
  GPtrArray *entries = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_voices_parse (spec, &entries, &error));
  g_assert_no_error (error);
  g_assert_nonnull (entries);
  return entries;
}

static void
check_entry (GPtrArray *entries, guint i, const gchar *key, const gchar *path, guint index)
{
  g_assert_cmpuint (i, <, entries->len);
  VvVoiceEntry *e = g_ptr_array_index (entries, i);
  g_assert_cmpstr (e->key, ==, key);
  g_assert_cmpstr (e->path, ==, path);
  g_assert_cmpuint (e->index, ==, index);
}

static void
test_forms (void)
{
  g_autoptr (GPtrArray) a = parse_ok ("1=alice.wav,2=bob.flac,1:happy=alice-happy.wav");
  g_assert_cmpuint (a->len, ==, 3);
  check_entry (a, 0, "1", "alice.wav", 1);
  check_entry (a, 1, "2", "bob.flac", 2);
  check_entry (a, 2, "1:happy", "alice-happy.wav", 3);

  /* bare files are positional; ';' separates too; empty entries count */
  g_autoptr (GPtrArray) b = parse_ok ("alice.wav;;bob.wav,");
  g_assert_cmpuint (b->len, ==, 2);
  check_entry (b, 0, NULL, "alice.wav", 1);
  check_entry (b, 1, NULL, "bob.wav", 3);

  /* "Speaker 1" and "speaker_2" are the labels 1 and 2, names and emotions
   * lower-cased, white space around each part dropped; '=' in a path stays */
  g_autoptr (GPtrArray) c = parse_ok (" Speaker 1 = /tmp/a b.wav , speaker_2 : Sad =x=y.wav, Alice=al.wav");
  g_assert_cmpuint (c->len, ==, 3);
  check_entry (c, 0, "1", "/tmp/a b.wav", 1);
  check_entry (c, 1, "2:sad", "x=y.wav", 2);
  check_entry (c, 2, "alice", "al.wav", 3);

  g_autoptr (GPtrArray) d = parse_ok (NULL);
  g_assert_cmpuint (d->len, ==, 0);
  g_autoptr (GPtrArray) e = parse_ok ("");
  g_assert_cmpuint (e->len, ==, 0);
}

static void
test_errors (void)
{
  const struct { const gchar *spec; guint n_before; const gchar *named; } cases[] = {
    { "=bob.wav", 0, "entry 1 (\"=bob.wav\")" },
    { "1=a.wav,2=", 1, "entry 2 (\"2=\")" },
    { "a.wav;b.wav; =c.wav", 2, "entry 3 (\" =c.wav\")" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) entries = NULL;
    g_autoptr (GError) error = NULL;
    g_assert_false (vv_voices_parse (cases[i].spec, &entries, &error));
    g_assert_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX);
    g_assert_nonnull (strstr (error->message, cases[i].named));
    g_assert_nonnull (strstr (error->message, "needs label=file"));
    /* the entries before the bad one, for callers that open files in order */
    g_assert_cmpuint (entries->len, ==, cases[i].n_before);
  }
}

static void
test_speaker_label (void)
{
  const gchar *cases[][2] = {
    { "Speaker 1", "1" }, { "speaker_3", "3" }, { "SPEAKER  2", "2" },
    { "  Alice ", "alice" }, { "Speaker", "speaker" }, { "Speakers", "speakers" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *c = vv_speaker_label_canonical (cases[i][0]);
    g_assert_cmpstr (c, ==, cases[i][1]);
  }
}

/* Issue 14 (fuzz-voices): a label or emotion ending in a UTF-8 lead byte
 * made g_utf8_strdown() read past the end of the entry (heap over-read,
 * ASan's allocator metadata corrupted). */
static void
test_invalid_utf8 (void)
{
  const struct { const gchar *spec; guint entry, byte, n_before; } cases[] = {
    { "1\xf0=a.wav", 1, 2, 0 },
    { "1=a.wav,2:happ\xc3=b.wav", 2, 7, 1 },
    { "a.wav;b\xff.wav", 2, 2, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) entries = NULL;
    g_autoptr (GError) error = NULL;
    g_assert_false (vv_voices_parse (cases[i].spec, &entries, &error));
    g_assert_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_UTF8);
    g_autofree gchar *named = g_strdup_printf ("entry %u is not valid UTF-8 (byte %u of the entry)",
        cases[i].entry, cases[i].byte);
    g_assert_cmpstr (strstr (error->message, named), ==, named);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_cmpuint (entries->len, ==, cases[i].n_before);
  }
  /* a turn's label from another element: made valid, not read past */
  g_autofree gchar *c = vv_speaker_label_canonical ("Speaker 1\xf0");
  g_assert_true (g_utf8_validate (c, -1, NULL));
  g_assert_cmpstr (c, ==, "1\xef\xbf\xbd");
}

/* Issue 13: `\` makes , ; = and \ part of a label or file; a bare path
 * with an escaped '=' stays positional; vv_voices_escape() writes what
 * vv_voices_parse() reads back unchanged. */
static void
test_escapes (void)
{
  g_autoptr (GPtrArray) a = parse_ok ("1=/v/a\\,b.wav;/v/x\\=y.wav,2:Sad=c\\;d\\\\e.wav");
  g_assert_cmpuint (a->len, ==, 3);
  check_entry (a, 0, "1", "/v/a,b.wav", 1);
  check_entry (a, 1, NULL, "/v/x=y.wav", 2);
  check_entry (a, 2, "2:sad", "c;d\\e.wav", 3);

  const gchar *names[] = { "a,b;c=d\\e.wav", "plain.wav", "=;,", "\\" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *esc = vv_voices_escape (names[i]);
    g_autofree gchar *spec = g_strdup_printf ("alice=%s,%s", esc, esc);
    g_autoptr (GPtrArray) b = parse_ok (spec);
    g_assert_cmpuint (b->len, ==, 2);
    check_entry (b, 0, "alice", names[i], 1);
    check_entry (b, 1, NULL, names[i], 2);
  }

  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_false (vv_voices_parse ("1=a.wav,2=b\\", &entries, &error));
  g_assert_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX);
  g_assert_nonnull (strstr (error->message, "entry 2"));
  g_assert_nonnull (strstr (error->message, "lone"));
  g_assert_cmpuint (entries->len, ==, 1);

  g_autoptr (GError) e2 = NULL;
  VvVoiceEntry *v = vv_voice_entry_new ("Speaker 2:Happy", " /x,y=z.wav ", 4, &e2);
  g_assert_no_error (e2);
  g_assert_cmpstr (v->key, ==, "2:happy");
  g_assert_cmpstr (v->path, ==, "/x,y=z.wav");
  g_assert_cmpuint (v->index, ==, 4);
  vv_voice_entry_free (v);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/voices/forms", test_forms);
  g_test_add_func ("/voices/errors", test_errors);
  g_test_add_func ("/voices/speaker-label", test_speaker_label);
  g_test_add_func ("/voices/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/voices/escapes", test_escapes);
  return g_test_run ();
}
