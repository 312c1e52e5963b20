/* gst-vibevoice — runs a fuzz target over committed inputs (the corpus and
 * every crash reproducer), so the plain build checks them in seconds.
 * Usage: fuzz-replay-NAME FILE-OR-DIR...
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"

#include <stdio.h>

static guint n_inputs;

static void
replay_path (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    const gchar *name;
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      g_ptr_array_add (names, g_build_filename (path, name, NULL));
    g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
    for (guint i = 0; i < names->len; i++)
      replay_path (names->pdata[i]);
    return;
  }
  g_autofree gchar *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &data, &len, &error)) {
    g_printerr ("%s\n", error->message);
    exit (1);
  }
  /* a copy of exactly len bytes, so reading past the input is caught */
  g_autofree guint8 *exact = g_memdup2 (data, len);
  LLVMFuzzerTestOneInput (exact, len);
  n_inputs++;
}

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    replay_path (argv[i]);
  if (n_inputs == 0) {
    g_printerr ("no inputs found in the given paths\n");
    return 1;
  }
  printf ("replayed %u inputs\n", n_inputs);
  return 0;
}
