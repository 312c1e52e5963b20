/* gst-vibevoice — the memfd behind vv_fuzz_file()
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include "vv-fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

const gchar *
vv_fuzz_file (const uint8_t *data, size_t size)
{
  static gint fd = -1;
  static gchar path[64];
  if (fd < 0) {
    fd = memfd_create ("vv-fuzz-input", 0);
    VV_FUZZ_CHECK (fd >= 0);
    g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  }
  VV_FUZZ_CHECK (ftruncate (fd, 0) == 0);
  for (size_t done = 0; done < size;) {
    ssize_t w = pwrite (fd, data + done, size - done, (off_t) done);
    VV_FUZZ_CHECK (w > 0);
    done += (size_t) w;
  }
  return path;
}
