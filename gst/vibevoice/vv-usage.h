/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VV_USAGE_MAX_ZONES 8

/**
 * VvUsage:
 * @cpu_seconds: user + system CPU time of the process so far
 * @n_zones: RAPL package zones read (0: the machine exposes none)
 * @energy_uj: each zone's energy counter, microjoules
 * @range_uj: each zone's counter range (it wraps there)
 *
 * One sample of what a job costs the machine; two samples give the cost
 * between them (vv_usage_diff()).
 */
typedef struct {
  gdouble cpu_seconds;
  guint n_zones;
  guint64 energy_uj[VV_USAGE_MAX_ZONES];
  guint64 range_uj[VV_USAGE_MAX_ZONES];
} VvUsage;

void     vv_usage_sample (VvUsage *usage);
void     vv_usage_diff   (const VvUsage *start, const VvUsage *end, gdouble *cpu_seconds,
                          gdouble *energy_joules);

G_END_DECLS
