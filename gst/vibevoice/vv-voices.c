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

gboolean
vv_voices_parse (const gchar *spec, GPtrArray **entries, GError **error)
{
  g_return_val_if_fail (entries != NULL, FALSE);
  *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_voice_entry_free);
  if (spec == NULL || *spec == '\0')
    return TRUE;
  g_auto (GStrv) parts = g_strsplit_set (spec, ",;", -1);
  for (guint i = 0; parts[i]; i++) {
    /* g_utf8_strdown() below reads past the end of invalid UTF-8 */
    const gchar *bad;
    if (!g_utf8_validate (parts[i], -1, &bad)) {
      g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_UTF8,
          "voices: entry %u is not valid UTF-8 (byte %" G_GSIZE_FORMAT " of the entry)",
          i + 1, (gsize) (bad - parts[i]) + 1);
      return FALSE;
    }
    g_autofree gchar *e = g_strstrip (g_strdup (parts[i]));
    if (*e == '\0')
      continue;
    gchar *eq = strchr (e, '=');
    const gchar *path = eq ? eq + 1 : e;
    g_autofree gchar *key = NULL;
    if (eq) {
      *eq = '\0';
      g_autofree gchar *raw = g_strstrip (g_strdup (e));
      gchar *colon = strchr (raw, ':');
      if (colon) {
        *colon = '\0';
        g_autofree gchar *lab = vv_speaker_label_canonical (raw);
        g_autofree gchar *emo = g_utf8_strdown (g_strstrip (colon + 1), -1);
        key = g_strdup_printf ("%s:%s", lab, emo);
      } else {
        key = vv_speaker_label_canonical (raw);
      }
      if (*key == '\0' || *path == '\0') {
        g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
            "voices: entry %u (\"%s\") needs label=file", i + 1, parts[i]);
        return FALSE;
      }
    }
    VvVoiceEntry *v = g_new0 (VvVoiceEntry, 1);
    v->key = g_steal_pointer (&key);
    /* e was stripped, so only white space after '=' is left to remove */
    v->path = g_strstrip (g_strdup (path));
    v->index = i + 1;
    g_ptr_array_add (*entries, v);
  }
  return TRUE;
}
