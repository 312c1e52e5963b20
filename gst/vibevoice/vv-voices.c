/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-voices.h"

#include <string.h>

G_DEFINE_QUARK (vv-voices-error-quark, vv_voices_error)

void
vv_voice_entry_free (VvVoiceEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->key);
  g_free (e->path);
  g_free (e);
}

gchar *
vv_speaker_label_canonical (const gchar *label)
{
  g_autofree gchar *s = g_strstrip (g_utf8_make_valid (label, -1));
  const gchar *p = s;
  if (g_ascii_strncasecmp (p, "speaker", 7) == 0 && (p[7] == ' ' || p[7] == '_')) {
    p += 8;
    while (*p == ' ')
      p++;
  }
  return g_utf8_strdown (p, -1);
}

/* Makes the entry for @label (NULL: positional) and @path, both already
 * unescaped; an error names the entry. */
static VvVoiceEntry *
entry_make (const gchar *label, const gchar *path, guint index, const gchar *shown,
    GError **error)
{
  g_autofree gchar *key = NULL;
  if (label != NULL) {
    g_autofree gchar *raw = g_strstrip (g_strdup (label));
    gchar *colon = strchr (raw, ':');
    if (colon) {
      *colon = '\0';
      g_autofree gchar *lab = vv_speaker_label_canonical (raw);
      g_autofree gchar *emo = g_utf8_strdown (g_strstrip (colon + 1), -1);
      key = g_strdup_printf ("%s:%s", lab, emo);
    } else {
      key = vv_speaker_label_canonical (raw);
    }
  }
  g_autofree gchar *p = g_strstrip (g_strdup (path));
  if ((key != NULL && *key == '\0') || *p == '\0') {
    g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
        "voices: entry %u (\"%s\") needs label=file", index, shown);
    return NULL;
  }
  VvVoiceEntry *v = g_new0 (VvVoiceEntry, 1);
  v->key = g_steal_pointer (&key);
  v->path = g_steal_pointer (&p);
  v->index = index;
  return v;
}

VvVoiceEntry *
vv_voice_entry_new (const gchar *label, const gchar *path, guint index, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  const gchar *bad;
  if ((label && !g_utf8_validate (label, -1, &bad)) || !g_utf8_validate (path, -1, &bad)) {
    g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_UTF8,
        "voices: entry %u is not valid UTF-8", index);
    return NULL;
  }
  g_autofree gchar *shown = label ? g_strdup_printf ("%s=%s", label, path) : g_strdup (path);
  return entry_make (label, path, index, shown, error);
}

gchar *
vv_voices_escape (const gchar *s)
{
  GString *out = g_string_sized_new (strlen (s) + 4);
  for (const gchar *c = s; *c; c++) {
    if (strchr (VV_VOICES_SPECIAL, *c) != NULL)
      g_string_append_c (out, '\\');
    g_string_append_c (out, *c);
  }
  return g_string_free (out, FALSE);
}

gboolean
vv_voices_parse (const gchar *spec, GPtrArray **entries, GError **error)
{
  g_return_val_if_fail (entries != NULL, FALSE);
  *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_voice_entry_free);
  if (spec == NULL || *spec == '\0')
    return TRUE;
  /* One pass over the spec: `\` takes the next byte literally, an unescaped
   * `,` or `;` ends the entry, the entry's first unescaped `=` ends its
   * label. The label and the file are collected unescaped. */
  const gchar *p = spec;
  for (guint index = 1;; index++) {
    const gchar *start = p;
    g_autoptr (GString) label = NULL;
    g_autoptr (GString) cur = g_string_new (NULL);
    while (*p != '\0' && *p != ',' && *p != ';') {
      if (*p == '\\') {
        if (p[1] == '\0') {
          g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
              "voices: entry %u (\"%s\") ends in a lone '\\' (write '\\\\' for a backslash)",
              index, start);
          return FALSE;
        }
        g_string_append_c (cur, p[1]);
        p += 2;
        continue;
      }
      if (*p == '=' && label == NULL) {
        label = g_steal_pointer (&cur);
        cur = g_string_new (NULL);
        p++;
        continue;
      }
      g_string_append_c (cur, *p++);
    }
    g_autofree gchar *shown = g_strndup (start, (gsize) (p - start));
    /* g_utf8_strdown() below reads past the end of invalid UTF-8 */
    const gchar *bad;
    if (!g_utf8_validate (shown, -1, &bad)) {
      g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_UTF8,
          "voices: entry %u is not valid UTF-8 (byte %" G_GSIZE_FORMAT " of the entry)",
          index, (gsize) (bad - shown) + 1);
      return FALSE;
    }
    g_autofree gchar *blank = g_strstrip (g_strdup (shown));
    if (*blank != '\0') {
      VvVoiceEntry *v = entry_make (label ? label->str : NULL, cur->str, index, shown, error);
      if (v == NULL)
        return FALSE;
      g_ptr_array_add (*entries, v);
    }
    if (*p == '\0')
      break;
    p++;
  }
  return TRUE;
}
