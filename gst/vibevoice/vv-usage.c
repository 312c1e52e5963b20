/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * CPU time and energy of a job. CPU time: getrusage of the whole process
 * (the generation runs on the caller's thread and the backend's pool).
 * Energy: the Linux powercap interface's RAPL package zones
 * (/sys/class/powercap/intel-rapl:N/energy_uj, N = 0, 1, …; their
 * sub-zones intel-rapl:N:M are parts of the package and are not added
 * again), which most bare-metal x86 machines expose and VMs usually do
 * not. $VV_POWERCAP_DIR replaces /sys/class/powercap (tests).
 */
#include "vv-usage.h"

#include <stdlib.h>
#include <sys/resource.h>

static gboolean
read_u64 (const gchar *path, guint64 *out)
{
  g_autofree gchar *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  gchar *end = NULL;
  guint64 v = g_ascii_strtoull (text, &end, 10);
  if (end == text)
    return FALSE;
  *out = v;
  return TRUE;
}

/**
 * vv_usage_sample:
 * @usage: (out caller-allocates): the sample
 *
 * Reads the process's CPU time and the machine's RAPL energy counters.
 */
void
vv_usage_sample (VvUsage *usage)
{
  struct rusage ru;
  usage->cpu_seconds = 0.0;
  if (getrusage (RUSAGE_SELF, &ru) == 0)
    usage->cpu_seconds = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
        + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  usage->n_zones = 0;
  const gchar *root = g_getenv ("VV_POWERCAP_DIR");
  if (root == NULL || *root == '\0')
    root = "/sys/class/powercap";
  for (guint z = 0; z < VV_USAGE_MAX_ZONES; z++) {
    g_autofree gchar *dir = g_strdup_printf ("%s/intel-rapl:%u", root, z);
    g_autofree gchar *energy = g_build_filename (dir, "energy_uj", NULL);
    g_autofree gchar *range = g_build_filename (dir, "max_energy_range_uj", NULL);
    guint64 e, r;
    if (!read_u64 (energy, &e))
      break;                    /* zones are numbered from 0 without gaps */
    if (!read_u64 (range, &r) || r == 0)
      r = G_MAXUINT64;
    usage->energy_uj[usage->n_zones] = e;
    usage->range_uj[usage->n_zones] = r;
    usage->n_zones++;
  }
}

/**
 * vv_usage_diff:
 * @start: the earlier sample
 * @end: the later sample
 * @cpu_seconds: (out): CPU seconds between them
 * @energy_joules: (out): joules between them, < 0 when the machine exposes
 *   no energy counters
 */
void
vv_usage_diff (const VvUsage *start, const VvUsage *end, gdouble *cpu_seconds,
    gdouble *energy_joules)
{
  *cpu_seconds = MAX (0.0, end->cpu_seconds - start->cpu_seconds);
  if (start->n_zones == 0 || start->n_zones != end->n_zones) {
    *energy_joules = -1.0;
    return;
  }
  gdouble uj = 0.0;
  for (guint z = 0; z < start->n_zones; z++) {
    guint64 a = start->energy_uj[z], b = end->energy_uj[z];
    /* a counter that passed its range started again from 0 (one wrap:
     * ~60 s at 4 kW for a 2^32 µJ range, longer for real ranges) */
    uj += b >= a ? (gdouble) (b - a) : (gdouble) (start->range_uj[z] - a) + (gdouble) b;
  }
  *energy_joules = uj / 1e6;
}
