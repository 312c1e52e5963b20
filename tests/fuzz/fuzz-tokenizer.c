/* gst-vibevoice — fuzz target: the Qwen2.5 tokenizer on arbitrary text
 * (encode, then decode of the ids gives the text back for valid UTF-8) and
 * decode of arbitrary ids. Uses the shipped tokenizer (VV_DATA_DIR).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

#include <string.h>

static VvTokenizer *
tokenizer (void)
{
  static VvTokenizer *tok;
  if (tok == NULL) {
    const gchar *dir = g_getenv ("VV_DATA_DIR");
    g_autofree gchar *path = g_build_filename (dir ? dir : "data", "qwen2-tokenizer", NULL);
    g_autoptr (GError) error = NULL;
    tok = vv_tokenizer_new_from_dir (path, &error);
    if (tok == NULL) {
      g_printerr ("fuzz-tokenizer: %s (set VV_DATA_DIR to the repository's data/)\n",
          error->message);
      __builtin_trap ();
    }
  }
  return tok;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  VvTokenizer *tok = tokenizer ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GError) error = NULL;
  if (vv_tokenizer_encode (tok, (const gchar *) data, (gssize) size, ids, &error)) {
    VV_FUZZ_CHECK (g_utf8_validate ((const gchar *) data, (gssize) size, NULL));
    g_autofree gchar *text = vv_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len,
        &error);
    VV_FUZZ_CHECK (text != NULL);
    /* byte-level BPE is lossless up to NFC */
    g_autofree gchar *nfc = g_utf8_normalize ((const gchar *) data, (gssize) size,
        G_NORMALIZE_NFC);
    g_autofree gchar *text_nfc = g_utf8_normalize (text, -1, G_NORMALIZE_NFC);
    VV_FUZZ_CHECK (nfc != NULL && text_nfc != NULL && strcmp (nfc, text_nfc) == 0);
  } else {
    VV_FUZZ_CHECK (error != NULL && ids->len == 0);
  }
  /* the same bytes read as ids */
  g_clear_error (&error);
  gsize n = size / 4;
  g_autofree gint32 *raw = g_new (gint32, MAX (n, 1));
  memcpy (raw, data, n * 4);
  g_autofree gchar *dec = vv_tokenizer_decode (tok, raw, n, &error);
  VV_FUZZ_CHECK ((dec == NULL) == (error != NULL));
  if (dec != NULL)
    VV_FUZZ_CHECK (g_utf8_validate (dec, -1, NULL));
  return 0;
}
