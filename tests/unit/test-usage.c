/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * vv-usage: CPU time from getrusage, energy from a powercap tree. The tree
 * is a real directory made here (VV_POWERCAP_DIR) laid out like
 * /sys/class/powercap: two package zones (counted), a sub-zone (not
 * counted: it is part of package 0), a counter that wraps.
 */
#include <vibevoice/vibevoice.h>

#include <glib/gstdio.h>
#include <stdlib.h>

static gchar *root;

static void
write_zone (const gchar *zone, const gchar *file, guint64 v)
{
  g_autofree gchar *dir = g_build_filename (root, zone, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_autofree gchar *path = g_build_filename (dir, file, NULL);
  g_autofree gchar *text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", v);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
test_energy (void)
{
  g_setenv ("VV_POWERCAP_DIR", root, TRUE);
  write_zone ("intel-rapl:0", "energy_uj", 1000000);
  write_zone ("intel-rapl:0", "max_energy_range_uj", 4000000);
  write_zone ("intel-rapl:0:0", "energy_uj", 777);     /* sub-zone: ignored */
  write_zone ("intel-rapl:1", "energy_uj", 500);
  write_zone ("intel-rapl:1", "max_energy_range_uj", 1000000000);
  VvUsage a, b;
  vv_usage_sample (&a);
  g_assert_cmpuint (a.n_zones, ==, 2);
  /* package 0 wraps: 1.0 J → 4.0 J range → 0.5 J is 3.5 J; package 1 +2.5 J */
  write_zone ("intel-rapl:0", "energy_uj", 500000);
  write_zone ("intel-rapl:0:0", "energy_uj", 999999999);
  write_zone ("intel-rapl:1", "energy_uj", 2500500);
  /* some CPU time between the samples */
  volatile gdouble x = 0;
  for (gint i = 0; i < 20000000; i++)
    x += i * 1e-9;
  vv_usage_sample (&b);
  gdouble cpu, joules;
  vv_usage_diff (&a, &b, &cpu, &joules);
  g_test_message ("cpu %.4f s, energy %.6f J", cpu, joules);
  g_assert_cmpfloat_with_epsilon (joules, 3.5 + 2.5, 1e-9);
  g_assert_cmpfloat (cpu, >, 0.0);
  g_assert_cmpfloat (cpu, <, 60.0);
}

static void
test_no_counters (void)
{
  g_autofree gchar *empty = g_build_filename (root, "none", NULL);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);
  g_setenv ("VV_POWERCAP_DIR", empty, TRUE);
  VvUsage a, b;
  vv_usage_sample (&a);
  vv_usage_sample (&b);
  g_assert_cmpuint (a.n_zones, ==, 0);
  gdouble cpu, joules;
  vv_usage_diff (&a, &b, &cpu, &joules);
  g_assert_cmpfloat (joules, <, 0.0);
  g_assert_cmpfloat (cpu, >=, 0.0);
  /* an unreadable counter is no counter */
  write_zone ("bad/intel-rapl:0", "energy_uj", 0);
  g_autofree gchar *bad = g_build_filename (root, "bad", "intel-rapl:0", "energy_uj", NULL);
  g_assert_true (g_file_set_contents (bad, "not a number\n", -1, NULL));
  g_autofree gchar *bad_root = g_build_filename (root, "bad", NULL);
  g_setenv ("VV_POWERCAP_DIR", bad_root, TRUE);
  vv_usage_sample (&a);
  g_assert_cmpuint (a.n_zones, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  root = g_dir_make_tmp ("vv-usage-XXXXXX", NULL);
  g_assert_nonnull (root);
  g_test_add_func ("/usage/energy", test_energy);
  g_test_add_func ("/usage/no-counters", test_no_counters);
  gint ret = g_test_run ();
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", root);
  if (system (cmd) != 0)
    g_printerr ("could not remove %s\n", root);
  g_free (root);
  return ret;
}
