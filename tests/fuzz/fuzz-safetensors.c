/* gst-vibevoice — fuzz target: safetensors header and layout validation
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  VvSafetensors *st = vv_safetensors_open (vv_fuzz_file (data, size), &error);
  if (st == NULL) {
    VV_FUZZ_CHECK (error != NULL && g_utf8_validate (error->message, -1, NULL));
    return 0;
  }
  /* every accepted tensor lies inside the file */
  for (guint i = 0; i < vv_safetensors_get_n_tensors (st); i++) {
    const VvSafetensorsEntry *e = vv_safetensors_get_entry (st, i);
    VV_FUZZ_CHECK (e != NULL && vv_safetensors_lookup (st, e->name) == e);
    VV_FUZZ_CHECK (e->n_bytes <= size);
    volatile guint8 sink = 0;
    if (e->n_bytes > 0)
      sink ^= ((const guint8 *) e->data)[0] ^ ((const guint8 *) e->data)[e->n_bytes - 1];
    (void) sink;
  }
  vv_safetensors_free (st);
  return 0;
}
