/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * VvMt19937:
 *
 * The 32-bit Mersenne Twister, seeded as std::mt19937 and torch's CPU
 * generator are (MODEL-SPEC §12.4: the low 32 bits of the seed).
 */
typedef struct {
  /*< private >*/
  guint32 state[624];
  gint index;
} VvMt19937;

void    vv_mt19937_init (VvMt19937 *mt, guint64 seed);
guint32 vv_mt19937_next (VvMt19937 *mt);

/**
 * VvTorchGenerator:
 *
 * A generator that reproduces torch's default CPU generator
 * (`torch.manual_seed` + `torch.randn` / `randn_like` on float32 tensors)
 * bit for bit, MODEL-SPEC §12.4: an mt19937 seeded with the low 32 bits of
 * the seed, plus the cached second value of the scalar Box-Muller path.
 * Plain data: copy it to snapshot the stream.
 */
typedef struct {
  /*< private >*/
  VvMt19937 mt;
  gdouble next_normal;          /* cached r·sin θ of the scalar path */
  gboolean has_next_normal;
} VvTorchGenerator;

void vv_torch_generator_init (VvTorchGenerator *g, guint64 seed);
void vv_torch_randn (VvTorchGenerator *g, gfloat *out, gsize n, gboolean contiguous);
gdouble vv_torch_normal_double (VvTorchGenerator *g);

/* splitmix64: a tiny counter-based generator for bulk random weights. */
guint64 vv_splitmix64 (guint64 *state);
/* Stable 64-bit hash of a string mixed with a seed (FNV-1a then splitmix). */
guint64 vv_hash_seed (guint64 seed, const gchar *str);

G_END_DECLS
