/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-dialog.h"
#include "vv-safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (vv-dialog-error-quark, vv_dialog_error)

struct _VvDialogParser {
  GString *partial;            /* bytes of the line not yet ended */
  guint line;                  /* lines completed so far */
  gboolean flush_on_newline;
  VvDialogTurn *current;       /* may still get continuation lines */
  GString *current_text;       /* its text while open (current->text is NULL):
                                * appending keeps many continuation lines linear */
  /* tags on lines of their own, for the next turn */
  gchar *pending_role;
  gchar *pending_emotion;
  guint pending_pause_ms;
  guint pending_line;
  gchar *default_speaker;      /* for lines without a label (NULL: an error) */
  GPtrArray *speakers;         /* distinct labels, lower-cased */
  guint n_turns;
};

void
vv_dialog_turn_free (VvDialogTurn *turn)
{
  if (turn == NULL)
    return;
  g_free (turn->speaker);
  g_free (turn->text);
  g_free (turn->emotion);
  g_free (turn);
}

VvDialogParser *
vv_dialog_parser_new (void)
{
  VvDialogParser *p = g_new0 (VvDialogParser, 1);
  p->partial = g_string_new (NULL);
  p->current_text = g_string_new (NULL);
  p->speakers = g_ptr_array_new_with_free_func (g_free);
  return p;
}

void
vv_dialog_parser_reset (VvDialogParser *p)
{
  g_string_truncate (p->partial, 0);
  p->line = 0;
  g_clear_pointer (&p->current, vv_dialog_turn_free);
  g_string_truncate (p->current_text, 0);
  g_clear_pointer (&p->pending_role, g_free);
  g_clear_pointer (&p->pending_emotion, g_free);
  p->pending_pause_ms = 0;
  p->pending_line = 0;
  g_ptr_array_set_size (p->speakers, 0);
  p->n_turns = 0;
}

void
vv_dialog_parser_free (VvDialogParser *p)
{
  if (p == NULL)
    return;
  vv_dialog_parser_reset (p);
  g_string_free (p->partial, TRUE);
  g_string_free (p->current_text, TRUE);
  g_free (p->default_speaker);
  g_ptr_array_unref (p->speakers);
  g_free (p);
}

void
vv_dialog_parser_set_flush_on_newline (VvDialogParser *p, gboolean flush)
{
  p->flush_on_newline = flush;
}

void
vv_dialog_parser_set_default_speaker (VvDialogParser *p, const gchar *label)
{
  g_free (p->default_speaker);
  p->default_speaker = label && *label ? g_strstrip (g_strdup (label)) : NULL;
  if (p->default_speaker && *p->default_speaker == '\0')
    g_clear_pointer (&p->default_speaker, g_free);
}

static void
warn (GPtrArray *warnings, const gchar *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
warn (GPtrArray *warnings, const gchar *fmt, ...)
{
  if (warnings == NULL)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_ptr_array_add (warnings, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

/* Registers @label; errors past VV_DIALOG_MAX_SPEAKERS. @where: "line 5". */
static gboolean
note_speaker (GPtrArray *speakers, const gchar *label, const gchar *where, GError **error)
{
  g_autofree gchar *key = g_utf8_casefold (label, -1);
  for (guint i = 0; i < speakers->len; i++)
    if (strcmp (g_ptr_array_index (speakers, i), key) == 0)
      return TRUE;
  if (speakers->len >= VV_DIALOG_MAX_SPEAKERS) {
    GString *list = g_string_new (NULL);
    for (guint i = 0; i < speakers->len; i++)
      g_string_append_printf (list, "%s%s", i ? ", " : "",
          (const gchar *) g_ptr_array_index (speakers, i));
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_TOO_MANY_SPEAKERS,
        "%s: speaker '%s' would be a fifth speaker (already %s); VibeVoice supports at most %d",
        where, label, list->str, VV_DIALOG_MAX_SPEAKERS);
    g_string_free (list, TRUE);
    return FALSE;
  }
  g_ptr_array_add (speakers, g_steal_pointer (&key));
  return TRUE;
}

/* "500ms", "1.5s", "2 s", "short" -> milliseconds, at most
 * VV_DIALOG_MAX_PAUSE_MS; @no is the line for the error. */
static gboolean
parse_pause (const gchar *value, guint no, guint *ms, GError **error)
{
  g_autofree gchar *v = g_ascii_strdown (value, -1);
  g_strstrip (v);
  if (strcmp (v, "short") == 0) {
    *ms = VV_DIALOG_PAUSE_SHORT_MS;
    return TRUE;
  } else if (strcmp (v, "medium") == 0) {
    *ms = VV_DIALOG_PAUSE_MEDIUM_MS;
    return TRUE;
  } else if (strcmp (v, "long") == 0) {
    *ms = VV_DIALOG_PAUSE_LONG_MS;
    return TRUE;
  }
  gchar *end = NULL;
  gdouble x = g_ascii_strtod (v, &end);
  gboolean number = end != v;
  while (number && *end == ' ')
    end++;
  if (number && strcmp (end, "s") == 0)
    x *= 1000;
  else if (!number || strcmp (end, "ms") != 0) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
        "line %u: bad pause length '%s' (Short, Medium, Long, or like 500ms / 1.5s)",
        no, value);
    return FALSE;
  }
  /* NaN fails both comparisons, so test for the good range */
  if (!(isfinite (x) && x >= 0 && x <= VV_DIALOG_MAX_PAUSE_MS)) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
        "line %u: pause length '%s' out of range: a pause is 0 to %u ms (1 hour)", no,
        value, (guint) VV_DIALOG_MAX_PAUSE_MS);
    return FALSE;
  }
  *ms = (guint) (x + 0.5);      /* x <= the limit, so no wrap */
  return TRUE;
}

/* *@total += @ms for the silence before one turn, within VV_DIALOG_MAX_GAP_MS;
 * @where names the input ("line 5", "JSON turn 3"). */
static gboolean
add_pause (guint *total, guint ms, const gchar *where, GError **error)
{
  guint sum;
  if (!g_uint_checked_add (&sum, *total, ms) || sum > VV_DIALOG_MAX_GAP_MS) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
        "%s: the pauses in a row add up to %" G_GUINT64_FORMAT " ms of silence; at most "
        "%u ms (1 hour) may separate two turns", where, (guint64) *total + ms,
        (guint) VV_DIALOG_MAX_GAP_MS);
    return FALSE;
  }
  *total = sum;
  return TRUE;
}

/* "Speaker 12:" (the reference's regex, case-insensitive) or "Speaker A:"
 * at the start of @s; sets the label ("12", "A") and the rest. */
static gboolean
match_speaker_n (const gchar *s, gchar **label, const gchar **rest)
{
  if (g_ascii_strncasecmp (s, "speaker", 7) != 0)
    return FALSE;
  const gchar *p = s + 7;
  while (*p == ' ' || *p == '\t')
    p++;
  const gchar *d = p;
  while (g_ascii_isalnum (*p) || *p == '_')
    p++;
  if (p == d || (d == s + 7 && !g_ascii_isdigit (*d)))
    return FALSE;
  const gchar *d_end = p;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p != ':')
    return FALSE;
  *label = g_strndup (d, d_end - d);
  *rest = p + 1;
  return TRUE;
}

/* "Name: text": a name starts with a letter and holds letters, digits,
 * spaces, '_', '-', '.', at most 32 characters. */
static gboolean
match_name (const gchar *s, gchar **label, const gchar **rest)
{
  const gchar *colon = strchr (s, ':');
  if (colon == NULL || colon == s)
    return FALSE;
  gunichar first = g_utf8_get_char (s);
  if (!g_unichar_isalpha (first))
    return FALSE;
  glong chars = 0;
  for (const gchar *p = s; p < colon; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (!(g_unichar_isalnum (c) || c == ' ' || c == '_' || c == '-' || c == '.'))
      return FALSE;
    chars++;
  }
  if (chars > 32)
    return FALSE;
  *label = g_strstrip (g_strndup (s, colon - s));
  *rest = colon + 1;
  return TRUE;
}

/* While a turn is open, "Some words: more" is more likely prose than a new
 * speaker: it starts a turn only if the name is a known speaker, or one or
 * two words starting with an upper-case letter ("Alice:", "Dr. Smith:"). */
static gboolean
match_name_turn (VvDialogParser *p, const gchar *s, gchar **label, const gchar **rest)
{
  g_autofree gchar *lab = NULL;
  const gchar *r = NULL;
  if (!match_name (s, &lab, &r))
    return FALSE;
  gboolean ok = FALSE;
  if (p->current == NULL) {
    ok = TRUE;
  } else {
    g_autofree gchar *key = g_utf8_casefold (lab, -1);
    for (guint i = 0; i < p->speakers->len && !ok; i++)
      ok = strcmp (g_ptr_array_index (p->speakers, i), key) == 0;
    if (!ok) {
      guint words = 1;
      for (const gchar *c = lab; *c; c++)
        if (*c == ' ' && c[1] != ' ')
          words++;
      ok = words <= 2 && g_unichar_isupper (g_utf8_get_char (lab));
    }
  }
  if (ok) {
    *label = g_steal_pointer (&lab);
    *rest = r;
  }
  return ok;
}

static void
emit_current (VvDialogParser *p, GPtrArray *turns)
{
  if (p->current == NULL)
    return;
  p->current->text = g_strndup (p->current_text->str, p->current_text->len);
  g_string_truncate (p->current_text, 0);
  g_ptr_array_add (turns, p->current);
  p->current = NULL;
  p->n_turns++;
}

/* A piece of a turn's text and the mid-line tags in front of it. */
typedef struct {
  GString *text;
  gchar *role;
  gchar *emotion;
  guint pause_ms;
  gboolean tagged;
} Segment;

static void
segment_free (gpointer data)
{
  Segment *g = data;
  g_string_free (g->text, TRUE);
  g_free (g->role);
  g_free (g->emotion);
  g_free (g);
}

static Segment *
segment_new (void)
{
  Segment *g = g_new0 (Segment, 1);
  g->text = g_string_new (NULL);
  return g;
}

static gboolean
blank (const gchar *s)
{
  for (; *s; s++)
    if (!g_ascii_isspace (*s))
      return FALSE;
  return TRUE;
}

/* Splits @text (of line @no, its first character at column @col) at
 * mid-line director tags: `[Pause:...]`, `[Emotion:X]`, `[Role:X]` and
 * `[Speaker X]` apply to the text after them, as if it were a new turn
 * line of the same speaker. An unknown `[Name:value]` is dropped with a
 * warning giving its line and column; brackets without a colon (`[sic]`)
 * stay text. The first segment may have empty text (tags right at the
 * start); the last one too (tags at the end: they apply to the next turn). */
static GPtrArray *
split_inline_tags (const gchar *text, guint no, guint col, GPtrArray *warnings, GError **error)
{
  g_autoptr (GPtrArray) segs = g_ptr_array_new_with_free_func (segment_free);
  g_autofree gchar *where = g_strdup_printf ("line %u", no);
  Segment *cur = segment_new ();
  g_ptr_array_add (segs, cur);
  const gchar *q = text;
  while (*q) {
    const gchar *open = strchr (q, '[');
    if (open == NULL) {
      g_string_append (cur->text, q);
      break;
    }
    g_string_append_len (cur->text, q, open - q);
    const gchar *close = strchr (open + 1, ']');
    if (close == NULL) {
      /* a lone '[' is text */
      g_string_append (cur->text, open);
      break;
    }
    guint tag_col = col + (guint) g_utf8_strlen (text, open - text);
    g_autofree gchar *content = g_strstrip (g_strndup (open + 1, close - open - 1));
    gchar *colon = strchr (content, ':');
    gchar *name = NULL, *value = NULL;
    gboolean speaker_form = colon == NULL && g_ascii_strncasecmp (content, "speaker", 7) == 0
        && content[7] == ' ';
    if (colon) {
      *colon = '\0';
      name = g_strstrip (content);
      value = g_strstrip (colon + 1);
    }
    gboolean known = speaker_form || (name && *value && (g_ascii_strcasecmp (name, "role") == 0
            || g_ascii_strcasecmp (name, "emotion") == 0
            || g_ascii_strcasecmp (name, "pause") == 0));
    if (!known && name == NULL) {
      /* [sic], [laughs]: not a tag */
      g_string_append_len (cur->text, open, close + 1 - open);
      q = close + 1;
      continue;
    }
    if (!known) {
      warn (warnings, "line %u, column %u: unknown tag [%s:%s] ignored (known: [Speaker X], "
          "[Role:X], [Emotion:X], [Pause:...])", no, tag_col, name, value);
      q = close + 1;
      continue;
    }
    if (!blank (cur->text->str)) {
      cur = segment_new ();
      g_ptr_array_add (segs, cur);
    }
    cur->tagged = TRUE;
    if (speaker_form) {
      g_free (cur->role);
      cur->role = g_strstrip (g_strdup (content + 8));
    } else if (g_ascii_strcasecmp (name, "role") == 0) {
      g_free (cur->role);
      cur->role = g_strdup (value);
    } else if (g_ascii_strcasecmp (name, "emotion") == 0) {
      g_free (cur->emotion);
      cur->emotion = g_utf8_strdown (value, -1);
    } else {
      guint ms;
      if (!parse_pause (value, no, &ms, error) || !add_pause (&cur->pause_ms, ms, where, error))
        return NULL;
    }
    q = close + 1;
  }
  for (guint i = 0; i < segs->len; i++) {
    Segment *g = g_ptr_array_index (segs, i);
    g_strstrip (g->text->str);
    g_string_set_size (g->text, strlen (g->text->str));
  }
  return g_steal_pointer (&segs);
}

/* Opens a turn of @label (consumed) with @text, after emitting the open one. */
static gboolean
open_turn (VvDialogParser *p, gchar *label, const gchar *text, gchar *emotion, guint pause,
    guint no, GPtrArray *turns, GError **error)
{
  g_autofree gchar *lab = label, *emo = emotion;
  g_autofree gchar *where = g_strdup_printf ("line %u", no);
  if (!note_speaker (p->speakers, lab, where, error))
    return FALSE;
  emit_current (p, turns);
  VvDialogTurn *t = g_new0 (VvDialogTurn, 1);
  t->speaker = g_steal_pointer (&lab);
  g_string_append (p->current_text, text);
  t->emotion = g_steal_pointer (&emo);
  t->pause_ms = pause;
  t->line = no;
  p->current = t;
  return TRUE;
}

/* Turns for the segments after the first (mid-line tags) of a turn of
 * @label; the last stays open. Trailing tags go to the next turn. */
static gboolean
open_segments (VvDialogParser *p, GPtrArray *segs, const gchar *label, const gchar *emotion,
    guint no, GPtrArray *turns, GError **error)
{
  g_autofree gchar *where = g_strdup_printf ("line %u", no);
  g_autofree gchar *lab = g_strdup (label);
  g_autofree gchar *emo = g_strdup (emotion);
  for (guint i = 1; i < segs->len; i++) {
    Segment *g = g_ptr_array_index (segs, i);
    if (g->role) {
      g_free (lab);
      lab = g_strdup (g->role);
    }
    if (g->emotion) {
      g_free (emo);
      emo = g_strdup (g->emotion);
    }
    if (g->text->len == 0) {
      /* tags at the end of the line: for the next turn, like a tag line */
      if (g->role) {
        g_free (p->pending_role);
        p->pending_role = g_strdup (g->role);
      }
      if (g->emotion) {
        g_free (p->pending_emotion);
        p->pending_emotion = g_strdup (g->emotion);
      }
      if (g->pause_ms > 0) {
        if (!add_pause (&p->pending_pause_ms, g->pause_ms, where, error))
          return FALSE;
        emit_current (p, turns);
      }
      if (p->pending_line == 0)
        p->pending_line = no;
      continue;
    }
    if (!open_turn (p, g_strdup (lab), g->text->str, g_strdup (emo), g->pause_ms, no, turns,
            error))
      return FALSE;
  }
  return TRUE;
}

/* One complete line (without its newline). */
static gboolean
parse_line (VvDialogParser *p, gchar *line, GPtrArray *turns, GPtrArray *warnings,
    GError **error)
{
  const guint no = p->line;
  g_autofree gchar *where = g_strdup_printf ("line %u", no);
  gsize len = strlen (line);
  if (len > 0 && line[len - 1] == '\r')
    line[--len] = '\0';
  const gchar *bad = NULL;
  if (!g_utf8_validate (line, len, &bad)) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_UTF8,
        "line %u: invalid UTF-8 at byte %" G_GSIZE_FORMAT " of the line", no,
        (gsize) (bad - line));
    return FALSE;
  }
  /* g_strchug moves the text left: count what it removes, for columns */
  guint removed = 0;
  while (g_ascii_isspace (line[removed]))
    removed++;
  gchar *s = g_strstrip (line);
  if (*s == '\0' || *s == '#')
    return TRUE;

  /* Leading tags. */
  g_autofree gchar *role = NULL, *emotion = NULL;
  guint pause = 0;
  gboolean tagged = FALSE;
  while (*s == '[') {
    gchar *close = strchr (s, ']');
    if (close == NULL) {
      g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
          "line %u: unterminated tag '%s'", no, s);
      return FALSE;
    }
    g_autofree gchar *content = g_strstrip (g_strndup (s + 1, close - s - 1));
    gchar *colon = strchr (content, ':');
    if (colon == NULL) {
      if (g_ascii_strncasecmp (content, "speaker", 7) == 0 && content[7] == ' ') {
        g_free (role);
        role = g_strstrip (g_strdup (content + 8));
      } else {
        g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_UNKNOWN_TAG,
            "line %u: unknown tag [%s] (known: [Speaker X], [Role:X], [Emotion:X], "
            "[Pause:Short|Medium|Long|500ms|1.5s])", no, content);
        return FALSE;
      }
    } else {
      *colon = '\0';
      gchar *name = g_strstrip (content), *value = g_strstrip (colon + 1);
      if (g_ascii_strcasecmp (name, "role") == 0 && *value) {
        g_free (role);
        role = g_strdup (value);
      } else if (g_ascii_strcasecmp (name, "emotion") == 0 && *value) {
        g_free (emotion);
        emotion = g_utf8_strdown (value, -1);
      } else if (g_ascii_strcasecmp (name, "pause") == 0) {
        guint ms;
        if (!parse_pause (value, no, &ms, error) || !add_pause (&pause, ms, where, error))
          return FALSE;
      } else {
        g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_UNKNOWN_TAG,
            "line %u: unknown tag [%s:%s] (known: [Speaker X], [Role:X], [Emotion:X], "
            "[Pause:...])", no, name, value);
        return FALSE;
      }
    }
    tagged = TRUE;
    for (const gchar *w = close + 1; g_ascii_isspace (*w); w++)
      removed++;
    s = g_strchug (close + 1);
  }

  if (*s == '\0') {
    /* tags alone: they apply to the next turn, which a pause also ends */
    if (role) {
      g_free (p->pending_role);
      p->pending_role = g_steal_pointer (&role);
    }
    if (emotion) {
      g_free (p->pending_emotion);
      p->pending_emotion = g_steal_pointer (&emotion);
    }
    if (pause > 0) {
      if (!add_pause (&p->pending_pause_ms, pause, where, error))
        return FALSE;
      emit_current (p, turns);
    }
    if (p->pending_line == 0)
      p->pending_line = no;
    return TRUE;
  }

  g_autofree gchar *label = NULL;
  const gchar *rest = NULL;
  gboolean continuation = FALSE;
  if (match_speaker_n (s, &label, &rest)) {
    /* `Speaker N:` wins over a role tag on the same line */
  } else if (role != NULL || p->pending_role != NULL) {
    label = g_strdup (role ? role : p->pending_role);
    rest = s;
  } else if (!tagged && p->current != NULL && !p->flush_on_newline
      && !match_name_turn (p, s, &label, &rest)) {
    continuation = TRUE;
    rest = s;
  } else if (label == NULL && !match_name_turn (p, s, &label, &rest)) {
    if (p->default_speaker != NULL) {
      /* unlabelled text: the default speaker's */
      label = g_strdup (p->default_speaker);
      rest = s;
    } else {
      g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
          "line %u: not a turn: expected 'Speaker N: text', '[Speaker A] text' or "
          "'Name: text'%s (or set a default speaker for unlabelled text)", no,
          p->current ? "" : " (there is no turn before it to continue)");
      return FALSE;
    }
  }

  /* column of the text's first character in the line as written */
  guint lead = 0;
  while (g_ascii_isspace (rest[lead]))
    lead++;
  guint col = removed + (guint) g_utf8_strlen (line, rest - line) + lead + 1;
  g_autoptr (GPtrArray) segs = split_inline_tags (rest + lead, no, col, warnings, error);
  if (segs == NULL)
    return FALSE;
  Segment *first = g_ptr_array_index (segs, 0);

  if (continuation) {
    gsize add = first->text->len + (p->current_text->len > 0);
    if (add > VV_DIALOG_MAX_LINE_BYTES - MIN (p->current_text->len, VV_DIALOG_MAX_LINE_BYTES)) {
      g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_TOO_LONG,
          "line %u: the turn of line %u is longer than %u bytes (VV_DIALOG_MAX_LINE_BYTES)",
          no, p->current->line, (guint) VV_DIALOG_MAX_LINE_BYTES);
      return FALSE;
    }
    /* tags at the very start were leading tags, so segment 0 has text */
    if (p->current_text->len > 0 && first->text->len > 0)
      g_string_append_c (p->current_text, ' ');
    g_string_append (p->current_text, first->text->str);
    return open_segments (p, segs, p->current->speaker, p->current->emotion, no, turns, error);
  }

  /* tags right after the label count as leading tags */
  if (first->role) {
    g_free (label);
    label = g_strdup (first->role);
  }
  if (first->emotion) {
    g_free (emotion);
    emotion = g_strdup (first->emotion);
  }
  if (first->pause_ms > 0 && !add_pause (&pause, first->pause_ms, where, error))
    return FALSE;
  if (*label == '\0') {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
        "line %u: empty speaker name", no);
    return FALSE;
  }
  if (!note_speaker (p->speakers, label, where, error))
    return FALSE;
  guint total_pause = p->pending_pause_ms;
  if (!add_pause (&total_pause, pause, where, error))
    return FALSE;
  emit_current (p, turns);
  g_autofree gchar *turn_emotion = emotion ? g_strdup (emotion) : g_strdup (p->pending_emotion);
  /* (segment 0 has text whenever there are more: a tag only starts a new
   * segment after text) */
  if (first->text->len == 0) {
    warn (warnings, "line %u: speaker %s has no text; the turn is skipped", no, label);
    /* keep a pause for the next turn */
    p->pending_pause_ms = total_pause;
    g_clear_pointer (&p->pending_role, g_free);
    g_clear_pointer (&p->pending_emotion, g_free);
    return TRUE;
  }
  p->pending_pause_ms = 0;
  p->pending_line = 0;
  g_clear_pointer (&p->pending_role, g_free);
  g_clear_pointer (&p->pending_emotion, g_free);
  if (!open_turn (p, g_strdup (label), first->text->str, g_steal_pointer (&turn_emotion),
          total_pause, no, turns, error))
    return FALSE;
  if (!open_segments (p, segs, label, p->current->emotion, no, turns, error))
    return FALSE;
  if (p->flush_on_newline)
    emit_current (p, turns);
  return TRUE;
}

/* Whether @more bytes still fit in the unfinished line (else the error). */
static gboolean
partial_fits (VvDialogParser *p, gsize more, GError **error)
{
  if (more <= VV_DIALOG_MAX_LINE_BYTES - p->partial->len)
    return TRUE;
  g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_TOO_LONG,
      "line %u: longer than %u bytes (VV_DIALOG_MAX_LINE_BYTES) without a newline",
      p->line + 1, (guint) VV_DIALOG_MAX_LINE_BYTES);
  return FALSE;
}

gboolean
vv_dialog_parser_feed (VvDialogParser *p, const gchar *data, gsize len, GPtrArray *turns,
    GPtrArray *warnings, GError **error)
{
  g_return_val_if_fail (p != NULL && turns != NULL, FALSE);
  gsize start = 0;
  for (gsize i = 0; i < len; i++) {
    if (data[i] != '\n')
      continue;
    if (!partial_fits (p, i - start, error))
      return FALSE;
    g_string_append_len (p->partial, data + start, i - start);
    start = i + 1;
    p->line++;
    if (memchr (p->partial->str, '\0', p->partial->len) != NULL) {
      g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_UTF8,
          "line %u: contains a NUL byte", p->line);
      return FALSE;
    }
    gboolean ok = parse_line (p, p->partial->str, turns, warnings, error);
    g_string_truncate (p->partial, 0);
    if (!ok)
      return FALSE;
  }
  if (!partial_fits (p, len - start, error))
    return FALSE;
  g_string_append_len (p->partial, data + start, len - start);
  return TRUE;
}

gboolean
vv_dialog_parser_flush (VvDialogParser *p, GPtrArray *turns, GPtrArray *warnings,
    GError **error)
{
  g_return_val_if_fail (p != NULL && turns != NULL, FALSE);
  if (p->partial->len > 0 && !vv_dialog_parser_feed (p, "\n", 1, turns, warnings, error))
    return FALSE;
  emit_current (p, turns);
  return TRUE;
}

gboolean
vv_dialog_parser_finish (VvDialogParser *p, GPtrArray *turns, GPtrArray *warnings,
    GError **error)
{
  g_return_val_if_fail (p != NULL && turns != NULL, FALSE);
  if (p->partial->len > 0 && !vv_dialog_parser_feed (p, "\n", 1, turns, warnings, error))
    return FALSE;
  emit_current (p, turns);
  if (p->pending_pause_ms > 0) {
    /* a pause at the very end: silence after the last turn */
    VvDialogTurn *t = g_new0 (VvDialogTurn, 1);
    t->speaker = g_strdup ("");
    t->text = g_strdup ("");
    t->pause_ms = p->pending_pause_ms;
    t->line = p->pending_line;
    g_ptr_array_add (turns, t);
    p->pending_pause_ms = 0;
  }
  if (p->n_turns == 0) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_EMPTY,
        "the script holds no turn (%u line%s read); expected lines like 'Speaker 1: text'",
        p->line, p->line == 1 ? "" : "s");
    return FALSE;
  }
  return TRUE;
}

GPtrArray *
vv_dialog_parse_json (const gchar *data, gsize len, GPtrArray *warnings, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!vv_json_check_depth (data, len, VV_JSON_MAX_DEPTH, "JSON script", VV_DIALOG_ERROR,
          VV_DIALOG_ERROR_SYNTAX, error))
    return NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local)) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX, "JSON script: %s",
        local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  JsonArray *arr = NULL;
  if (root && JSON_NODE_HOLDS_ARRAY (root)) {
    arr = json_node_get_array (root);
  } else if (root && JSON_NODE_HOLDS_OBJECT (root)) {
    JsonNode *t = json_object_get_member (json_node_get_object (root), "turns");
    if (t && JSON_NODE_HOLDS_ARRAY (t))
      arr = json_node_get_array (t);
  }
  if (arr == NULL) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
        "JSON script: expected an array of turns or an object with a \"turns\" array");
    return NULL;
  }
  g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vv_dialog_turn_free);
  g_autoptr (GPtrArray) speakers = g_ptr_array_new_with_free_func (g_free);
  guint pending_pause = 0;
  guint n = json_array_get_length (arr);
  for (guint i = 0; i < n; i++) {
    JsonNode *node = json_array_get_element (arr, i);
    g_autofree gchar *where = g_strdup_printf ("JSON turn %u", i + 1);
    if (!JSON_NODE_HOLDS_OBJECT (node)) {
      g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX, "%s: not an object", where);
      return NULL;
    }
    JsonObject *o = json_node_get_object (node);
    g_autofree gchar *speaker = NULL;
    const gchar *text = NULL, *emotion = NULL;
    guint pause = 0;
    GList *members = json_object_get_members (o);
    for (GList *m = members; m; m = m->next) {
      const gchar *k = m->data;
      JsonNode *v = json_object_get_member (o, k);
      GType vt = JSON_NODE_HOLDS_VALUE (v) ? json_node_get_value_type (v) : G_TYPE_INVALID;
      if (strcmp (k, "speaker") == 0 && vt == G_TYPE_STRING) {
        speaker = g_strstrip (g_strdup (json_node_get_string (v)));
      } else if (strcmp (k, "speaker") == 0 && vt == G_TYPE_INT64) {
        speaker = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (v));
      } else if (strcmp (k, "text") == 0 && vt == G_TYPE_STRING) {
        text = json_node_get_string (v);
      } else if (strcmp (k, "emotion") == 0 && vt == G_TYPE_STRING) {
        emotion = json_node_get_string (v);
      } else if (strcmp (k, "pause_ms") == 0 && vt == G_TYPE_INT64
          && json_node_get_int (v) >= 0 && json_node_get_int (v) <= VV_DIALOG_MAX_PAUSE_MS) {
        pause = (guint) json_node_get_int (v);
      } else if (strcmp (k, "speaker") == 0 || strcmp (k, "text") == 0
          || strcmp (k, "emotion") == 0 || strcmp (k, "pause_ms") == 0) {
        g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
            "%s: field \"%s\" has the wrong type (speaker: string or integer, text and "
            "emotion: strings, pause_ms: integer 0..%u)", where, k, (guint) VV_DIALOG_MAX_PAUSE_MS);
        g_list_free (members);
        return NULL;
      } else {
        warn (warnings, "%s: unknown field \"%s\" ignored", where, k);
      }
    }
    g_list_free (members);
    g_autofree gchar *t = text ? g_strstrip (g_strdup (text)) : g_strdup ("");
    if (*t == '\0') {
      if (pause == 0 && speaker != NULL)
        warn (warnings, "%s: speaker %s has no text; the turn is skipped", where, speaker);
      if (!add_pause (&pending_pause, pause, where, error))
        return NULL;
      continue;
    }
    if (speaker == NULL || *speaker == '\0') {
      g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_SYNTAX,
          "%s: a turn with text needs a \"speaker\"", where);
      return NULL;
    }
    if (!note_speaker (speakers, speaker, where, error))
      return NULL;
    if (!add_pause (&pending_pause, pause, where, error))
      return NULL;
    VvDialogTurn *turn = g_new0 (VvDialogTurn, 1);
    turn->speaker = g_steal_pointer (&speaker);
    turn->text = g_steal_pointer (&t);
    turn->emotion = emotion && *emotion ? g_utf8_strdown (emotion, -1) : NULL;
    turn->pause_ms = pending_pause;
    turn->line = i + 1;
    pending_pause = 0;
    g_ptr_array_add (turns, turn);
  }
  if (turns->len == 0) {
    g_set_error (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_EMPTY,
        "JSON script: no turn with text (%u elements)", n);
    return NULL;
  }
  if (pending_pause > 0) {
    VvDialogTurn *turn = g_new0 (VvDialogTurn, 1);
    turn->speaker = g_strdup ("");
    turn->text = g_strdup ("");
    turn->pause_ms = pending_pause;
    turn->line = n;
    g_ptr_array_add (turns, turn);
  }
  return g_steal_pointer (&turns);
}
