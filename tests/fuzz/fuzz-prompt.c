/* gst-vibevoice — fuzz target: prompt deserialisation (what vvdiffuse reads
 * from its sink pad). An accepted prompt serialises back to the same bytes.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  VvPrompt *p = vv_prompt_deserialize (bytes, &error);
  if (p == NULL) {
    VV_FUZZ_CHECK (error != NULL && g_utf8_validate (error->message, -1, NULL));
    return 0;
  }
  g_autoptr (GBytes) again = vv_prompt_serialize (p);
  VV_FUZZ_CHECK (g_bytes_equal (bytes, again));
  vv_prompt_unref (p);
  return 0;
}
