/* gst-vibevoice — fuzz targets (libFuzzer entry point, also driven by the
 * corpus replay of the test suite, replay-main.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A path whose content is @data: the targets whose API takes a file (the
 * safetensors and .npy readers map or read files) go through one memfd. */
const gchar *vv_fuzz_file (const uint8_t *data, size_t size);

/* Crash on a broken invariant: the fuzzer reports it like a memory error. */
#define VV_FUZZ_CHECK(cond) \
  G_STMT_START { if (!(cond)) { g_printerr ("fuzz invariant failed: %s (%s:%d)\n", \
      #cond, __FILE__, __LINE__); __builtin_trap (); } } G_STMT_END
