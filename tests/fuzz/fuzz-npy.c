/* gst-vibevoice — fuzz target: the .npy reader
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  VvNpyArray *a = vv_npy_load (vv_fuzz_file (data, size), &error);
  if (a == NULL) {
    VV_FUZZ_CHECK (error != NULL && g_utf8_validate (error->message, -1, NULL));
    return 0;
  }
  gsize n = 1;
  for (gint i = 0; i < a->ndim; i++)
    n *= (gsize) a->shape[i];
  VV_FUZZ_CHECK (n == a->n);
  /* the values came from the file: at most size/4 of them */
  VV_FUZZ_CHECK (a->n <= size / 4);
  vv_npy_array_free (a);
  return 0;
}
