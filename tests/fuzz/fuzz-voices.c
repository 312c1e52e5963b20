/* gst-vibevoice — fuzz target: the voices spec of vvtokenize
 * ("1=alice.wav,2:happy=bob.wav,carol.wav", `\` escapes).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

#include <string.h>

static gboolean
is_stripped (const gchar *s)
{
  gsize n = strlen (s);
  return n == 0 || (!g_ascii_isspace (s[0]) && !g_ascii_isspace (s[n - 1]));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* the property is a C string: it ends at the first NUL */
  g_autofree gchar *spec = g_strndup ((const gchar *) data, size);
  gboolean utf8 = g_utf8_validate (spec, -1, NULL);
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  gboolean ok = vv_voices_parse (spec, &entries, &error);
  VV_FUZZ_CHECK (entries != NULL);
  VV_FUZZ_CHECK (ok == (error == NULL));
  /* invalid UTF-8 is refused before any case mapping */
  VV_FUZZ_CHECK (utf8 || !ok);
  if (!ok)
    VV_FUZZ_CHECK (!utf8 || g_utf8_validate (error->message, -1, NULL));

  guint last = 0;
  for (guint i = 0; i < entries->len; i++) {
    VvVoiceEntry *e = g_ptr_array_index (entries, i);
    VV_FUZZ_CHECK (e->index > last);
    last = e->index;
    VV_FUZZ_CHECK (*e->path != '\0' && is_stripped (e->path));
    if (e->key != NULL)
      VV_FUZZ_CHECK (*e->key != '\0');
    if (utf8)
      VV_FUZZ_CHECK (g_utf8_validate (e->path, -1, NULL)
          && (e->key == NULL || g_utf8_validate (e->key, -1, NULL)));
  }

  /* An accepted spec written back as "key=path,..." with every key and
   * path escaped (vv_voices_escape(): files may hold , ; = and \) gives
   * the same files, byte for byte, in the same order, keyed the same way. Labels canonicalise again when
   * read back ("speaker_speaker_" -> "speaker_" -> ""), so a key that would
   * become empty is left out of this check. */
  gboolean again_ok = ok;
  for (guint i = 0; again_ok && i < entries->len; i++) {
    VvVoiceEntry *e = g_ptr_array_index (entries, i);
    if (e->key && strchr (e->key, ':') == NULL) {
      g_autofree gchar *c = vv_speaker_label_canonical (e->key);
      again_ok = *c != '\0';
    }
  }
  if (again_ok) {
    g_autoptr (GString) back = g_string_new (NULL);
    for (guint i = 0; i < entries->len; i++) {
      VvVoiceEntry *e = g_ptr_array_index (entries, i);
      if (i > 0)
        g_string_append_c (back, ',');
      g_autofree gchar *path = vv_voices_escape (e->path);
      if (e->key) {
        g_autofree gchar *key = vv_voices_escape (e->key);
        g_string_append_printf (back, "%s=", key);
      }
      g_string_append (back, path);
    }
    g_autoptr (GPtrArray) again = NULL;
    g_autoptr (GError) error2 = NULL;
    VV_FUZZ_CHECK (vv_voices_parse (back->str, &again, &error2));
    VV_FUZZ_CHECK (again->len == entries->len);
    for (guint i = 0; i < entries->len; i++) {
      VvVoiceEntry *a = g_ptr_array_index (entries, i), *b = g_ptr_array_index (again, i);
      VV_FUZZ_CHECK ((a->key == NULL) == (b->key == NULL));
      VV_FUZZ_CHECK (strcmp (a->path, b->path) == 0);
    }
  }
  return 0;
}
