/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * VvTorchGenerator against torch's CPU generator (vectors made by
 * gen_rng_vectors.py; cases and call sequences are read from manifest.json).
 *
 * Tolerance: every call must be bit-identical to torch's portable kernel
 * (ATEN_CPU_CAPABILITY=default), both the scalar path (n < 16 or
 * non-contiguous, with the cached Box-Muller value) and the vectorised
 * normal_fill. The vectorised calls are also compared with torch's AVX2
 * kernel (what a stock torch on an AVX2/AVX-512 machine runs): there the
 * bound is |ours − ref| ≤ 1.5e-6 (MODEL-SPEC §12.4).
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <vibevoice/vv-npy.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define AVX2_BOUND 1.5e-6

static gchar *vec_dir;
static JsonObject *cases;       /* owned by parser */

static void
test_case (gconstpointer data)
{
  const gchar *name = data;
  JsonObject *c = json_object_get_object_member (cases, name);
  guint64 seed = (guint64) json_object_get_int_member (c, "seed");
  JsonArray *calls = json_object_get_array_member (c, "calls");
  VvTorchGenerator g;
  vv_torch_generator_init (&g, seed);

  for (guint k = 0; k < json_array_get_length (calls); k++) {
    JsonObject *call = json_array_get_object_element (calls, k);
    gsize n = (gsize) json_object_get_int_member (call, "n");
    gboolean contiguous = json_object_get_boolean_member (call, "contiguous");
    const gchar *desc = json_object_get_string_member (call, "call");
    g_autoptr (VvNpyArray) ref = vv_test_load_npy (vec_dir, json_object_get_string_member (call, "file"));
    g_assert_cmpuint (ref->n, ==, n);

    g_autofree gfloat *ours = g_new (gfloat, n);
    vv_torch_randn (&g, ours, n, contiguous);

    gsize mismatches = 0, first = 0;
    gdouble max_err = 0;
    for (gsize i = 0; i < n; i++) {
      if (ours[i] != ref->data[i]) {
        if (mismatches++ == 0)
          first = i;
      }
      max_err = MAX (max_err, fabs ((gdouble) ours[i] - ref->data[i]));
    }
    const gchar *path = n < 16 || !contiguous ? "scalar" : "normal_fill";
    g_test_message ("%s call %u %s (%s, n = %" G_GSIZE_FORMAT "): %" G_GSIZE_FORMAT
        " mismatches, max|err| = %.3e", name, k, desc, path, n, mismatches, max_err);
    if (mismatches)
      g_test_fail_printf ("%s call %u %s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
          " values differ from torch (first at %" G_GSIZE_FORMAT ": ours %.9g, torch %.9g)",
          name, k, desc, mismatches, n, first, ours[first], ref->data[first]);

    if (json_object_has_member (call, "file_avx2")) {
      g_autoptr (VvNpyArray) avx = vv_test_load_npy (vec_dir, json_object_get_string_member (call, "file_avx2"));
      g_assert_cmpuint (avx->n, ==, n);
      gdouble e = 0;
      for (gsize i = 0; i < n; i++)
        e = MAX (e, fabs ((gdouble) ours[i] - avx->data[i]));
      g_test_message ("%s call %u vs torch AVX2 kernel: max|err| = %.3e (bound %.1e)",
          name, k, e, AVX2_BOUND);
      if (!(e <= AVX2_BOUND))
        g_test_fail_printf ("%s call %u %s: max|err| vs torch's AVX2 kernel %.3e > %.1e",
            name, k, desc, e, AVX2_BOUND);
    }
  }
}

/* Seeding uses only the low 32 bits, and re-seeding clears the cache. */
static void
test_reseed (void)
{
  VvTorchGenerator a, b;
  gfloat x[3], y[3];
  vv_torch_generator_init (&a, G_GUINT64_CONSTANT (0x100000005));
  vv_torch_randn (&a, x, 1, TRUE);      /* leaves a cached value */
  vv_torch_generator_init (&a, 5);
  vv_torch_generator_init (&b, 5);
  vv_torch_randn (&a, x, 3, TRUE);
  vv_torch_randn (&b, y, 3, FALSE);
  g_assert_cmpmem (x, sizeof x, y, sizeof y);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  vec_dir = g_strdup (g_getenv ("VV_RNG_CONFORMANCE_DIR"));
  if (vec_dir == NULL) {
    g_printerr ("VV_RNG_CONFORMANCE_DIR is not set: run through meson test\n");
    return 77;
  }
  g_autofree gchar *manifest = g_build_filename (vec_dir, "manifest.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_file (p, manifest, &error))
    g_error ("%s: %s", manifest, error->message);
  cases = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), "cases");
  g_assert_nonnull (cases);

  g_autoptr (GList) names = json_object_get_members (cases);
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  for (GList *l = names; l; l = l->next) {
    gchar *path = g_strdup_printf ("/conformance/rng/%s", (const gchar *) l->data);
    g_ptr_array_add (paths, path);
    g_test_add_data_func (path, l->data, test_case);
  }
  g_test_add_func ("/conformance/rng/reseed", test_reseed);

  gint ret = g_test_run ();
  g_free (vec_dir);
  return ret;
}
