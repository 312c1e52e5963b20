/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-processor.h"

#include <string.h>

G_DEFINE_QUARK (vv-processor-error-quark, vv_processor_error)

/* MODEL-SPEC §1.3, piece 1. */
#define SYSTEM_PROMPT " Transform the text provided by various speakers into speech output, " \
  "utilizing the distinct voice of each respective speaker.\n"

static void
turn_clear (gpointer p)
{
  VvScriptTurn *t = p;
  g_free (t->text);
}

/* "Speaker N:" at the start of a stripped line (case-insensitive); returns
 * the id and the text after the colon, or FALSE. */
static gboolean
match_turn (const gchar *line, gint *id, const gchar **rest)
{
  if (g_ascii_strncasecmp (line, "speaker", 7) != 0)
    return FALSE;
  const gchar *p = line + 7;
  if (!g_ascii_isspace (*p))
    return FALSE;
  while (g_ascii_isspace (*p))
    p++;
  if (!g_ascii_isdigit (*p))
    return FALSE;
  gint64 v = 0;
  while (g_ascii_isdigit (*p)) {
    v = v * 10 + (*p - '0');
    if (v > 1000000)
      return FALSE;
    p++;
  }
  while (g_ascii_isspace (*p))
    p++;
  if (*p != ':')
    return FALSE;
  *id = (gint) v;
  *rest = p + 1;
  return TRUE;
}

/* U+2019 -> ' (the demo does so) in one pass: GLib 2.74's g_string_replace
 * moves the rest of the string at each match, quadratic in their number.
 * Bounded memchr/memcmp rather than strstr: sanitizers' strstr checks the
 * whole remaining string at every call, which is quadratic again. */
static gchar *
normalise_quotes (const gchar *s)
{
  static const gchar quote[] = "\u2019";
  const gsize qlen = sizeof quote - 1;
  const gchar *end = s + strlen (s);
  GString *out = g_string_sized_new (end - s);
  const gchar *q;
  while ((q = memchr (s, quote[0], end - s)) != NULL) {
    g_string_append_len (out, s, q - s);
    if ((gsize) (end - q) >= qlen && memcmp (q, quote, qlen) == 0) {
      g_string_append_c (out, '\'');
      s = q + qlen;
    } else {
      g_string_append_c (out, *q);
      s = q + 1;
    }
  }
  g_string_append_len (out, s, end - s);
  return g_string_free (out, FALSE);
}

GArray *
vv_script_parse (const gchar *text, gssize len, GError **error)
{
  g_autofree gchar *copy = len < 0 ? g_strdup (text) : g_strndup (text, len);
  if (!g_utf8_validate (copy, -1, NULL)) {
    g_set_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_SCRIPT, "script is not valid UTF-8");
    return NULL;
  }
  g_autofree gchar *norm = normalise_quotes (copy);
  g_autoptr (GArray) turns = g_array_new (FALSE, TRUE, sizeof (VvScriptTurn));
  g_array_set_clear_func (turns, turn_clear);
  /* the last turn's text grows here, so continuation lines stay linear; it
   * moves into the turn when the next one starts and at the end */
  g_autoptr (GString) last = NULL;
  /* lines cut in place with a bounded memchr (g_strsplit's strstr is
   * quadratic under the sanitizers' string checks) */
  gchar *next = norm, *end = norm + strlen (norm);
  for (guint i = 0; next != NULL; i++) {
    gchar *nl = memchr (next, '\n', end - next);
    if (nl != NULL)
      *nl = '\0';
    gchar *line = g_strstrip (next);
    next = nl != NULL ? nl + 1 : NULL;
    if (*line == '\0')
      continue;
    gint id;
    const gchar *rest;
    if (match_turn (line, &id, &rest)) {
      if (last != NULL)
        g_array_index (turns, VvScriptTurn, turns->len - 1).text =
            g_string_free (g_steal_pointer (&last), FALSE);
      g_autofree gchar *t_text = g_strstrip (g_strdup (rest));
      last = g_string_new (t_text);
      VvScriptTurn t = { id, NULL, i + 1 };
      g_array_append_val (turns, t);
    } else if (last != NULL) {
      if (last->len > 0)
        g_string_append_c (last, ' ');
      g_string_append (last, line);
    } else {
      g_set_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_SCRIPT,
          "script line %u is not a turn (expected \"Speaker N: text\"): %.60s", i + 1, line);
      return NULL;
    }
  }
  if (last != NULL)
    g_array_index (turns, VvScriptTurn, turns->len - 1).text =
        g_string_free (g_steal_pointer (&last), FALSE);
  if (turns->len == 0) {
    g_set_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_SCRIPT,
        "script has no \"Speaker N: text\" line");
    return NULL;
  }
  /* §1.2: ids start at 0; a script numbered from 1 is shifted down. */
  gint min_id = G_MAXINT;
  for (guint i = 0; i < turns->len; i++)
    min_id = MIN (min_id, g_array_index (turns, VvScriptTurn, i).speaker);
  if (min_id > 0)
    for (guint i = 0; i < turns->len; i++)
      g_array_index (turns, VvScriptTurn, i).speaker--;
  return g_steal_pointer (&turns);
}

guint
vv_script_count_speakers (GArray *turns)
{
  gint max_id = -1;
  for (guint i = 0; i < turns->len; i++)
    max_id = MAX (max_id, g_array_index (turns, VvScriptTurn, i).speaker);
  return (guint) (max_id + 1);
}

static gboolean
add_piece (VvTokenizer *tok, const gchar *piece, GArray *ids, GError **error)
{
  return vv_tokenizer_encode (tok, piece, -1, ids, error);
}

static void
add_id (GArray *ids, gint32 id)
{
  g_array_append_val (ids, id);
}

gboolean
vv_prompt_build (VvTokenizer *tok, GArray *turns, const gsize *voice_frames, guint n_voices,
    GArray *ids, GArray *voice_positions, GError **error)
{
  guint n_speakers = vv_script_count_speakers (turns);
  if (n_voices > 0 && n_voices < n_speakers) {
    g_set_error (error, VV_PROCESSOR_ERROR, VV_PROCESSOR_ERROR_VOICES,
        "the script has %u speakers but only %u voice sample%s were given", n_speakers,
        n_voices, n_voices == 1 ? "" : "s");
    return FALSE;
  }
  guint start = ids->len, vstart = voice_positions ? voice_positions->len : 0;
  if (!add_piece (tok, SYSTEM_PROMPT, ids, error))
    goto fail;
  /* §1.3: only the first len(speakers) voice samples are used */
  guint used = MIN (n_voices, n_speakers);
  if (used > 0 && !add_piece (tok, " Voice input:\n", ids, error))
    goto fail;
  for (guint i = 0; i < used; i++) {
    g_autofree gchar *spk = g_strdup_printf (" Speaker %u:", i);
    if (!add_piece (tok, spk, ids, error))
      goto fail;
    add_id (ids, VV_TOKEN_SPEECH_START);
    for (gsize f = 0; f < voice_frames[i]; f++) {
      if (voice_positions) {
        gint32 pos = (gint32) ids->len;
        g_array_append_val (voice_positions, pos);
      }
      add_id (ids, VV_TOKEN_SPEECH_DIFFUSION);
    }
    add_id (ids, VV_TOKEN_SPEECH_END);
    if (!add_piece (tok, "\n", ids, error))
      goto fail;
  }
  if (!add_piece (tok, " Text input:\n", ids, error))
    goto fail;
  for (guint i = 0; i < turns->len; i++) {
    const VvScriptTurn *t = &g_array_index (turns, VvScriptTurn, i);
    /* one string: the final punctuation merges with the newline (§1.3) */
    g_autofree gchar *piece = g_strdup_printf (" Speaker %d: %s\n", t->speaker, t->text);
    if (!add_piece (tok, piece, ids, error))
      goto fail;
  }
  if (!add_piece (tok, " Speech output:\n", ids, error))
    goto fail;
  add_id (ids, VV_TOKEN_SPEECH_START);
  return TRUE;

fail:
  g_array_set_size (ids, start);
  if (voice_positions)
    g_array_set_size (voice_positions, vstart);
  return FALSE;
}
