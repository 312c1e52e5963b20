/* gst-vibevoice — fuzz target: config.json + preprocessor_config.json
 * (input: config, then optionally a NUL and the preprocessor config)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* a NUL-terminated copy of all @size bytes (g_strndup would stop at the
   * separator and zero the preprocessor part) */
  g_autofree gchar *text = g_malloc (size + 1);
  memcpy (text, data, size);
  text[size] = '\0';
  const gchar *nul = memchr (text, 0, size);
  const gchar *pre = nul != NULL ? nul + 1 : NULL;
  g_autoptr (GError) error = NULL;
  VvConfig *cfg = vv_config_load_from_data (text, "fuzz/config.json", pre, &error);
  if (cfg == NULL) {
    VV_FUZZ_CHECK (error != NULL && g_utf8_validate (error->message, -1, NULL));
    return 0;
  }
  /* an accepted config implies a tensor list, and writes back as JSON that
   * loads again */
  g_autoptr (GArray) layout = vv_layout_tensors (cfg, FALSE, NULL);
  VV_FUZZ_CHECK (layout != NULL && layout->len > 0);
  g_autofree gchar *again = vv_config_to_json (cfg, NULL);
  g_autofree gchar *again_pre = vv_config_preprocessor_to_json (cfg, NULL);
  VV_FUZZ_CHECK (again != NULL && again_pre != NULL);
  VvConfig *cfg2 = vv_config_load_from_data (again, "fuzz/config.json (written back)",
      again_pre, &error);
  VV_FUZZ_CHECK (cfg2 != NULL);
  vv_config_free (cfg2);
  vv_config_free (cfg);
  return 0;
}
