/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-rng.h"

#include <math.h>

/* Constants of the reference MT19937 (Matsumoto & Nishimura, 1998). */
#define MT_N 624
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfU
#define MT_UPPER 0x80000000U
#define MT_LOWER 0x7fffffffU

void
vv_mt19937_init (VvMt19937 *mt, guint64 seed)
{
  mt->state[0] = (guint32) (seed & 0xffffffffU);
  for (gint i = 1; i < MT_N; i++)
    mt->state[i] = 1812433253U * (mt->state[i - 1] ^ (mt->state[i - 1] >> 30)) + (guint32) i;
  mt->index = MT_N;
}

static void
mt_twist (VvMt19937 *mt)
{
  for (gint i = 0; i < MT_N; i++) {
    guint32 y = (mt->state[i] & MT_UPPER) | (mt->state[(i + 1) % MT_N] & MT_LOWER);
    guint32 v = mt->state[(i + MT_M) % MT_N] ^ (y >> 1);
    if (y & 1)
      v ^= MT_MATRIX_A;
    mt->state[i] = v;
  }
  mt->index = 0;
}

guint32
vv_mt19937_next (VvMt19937 *mt)
{
  if (mt->index >= MT_N)
    mt_twist (mt);
  guint32 y = mt->state[mt->index++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

guint64
vv_splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

guint64
vv_hash_seed (guint64 seed, const gchar *str)
{
  guint64 h = 0xcbf29ce484222325ULL;
  for (const guchar *p = (const guchar *) str; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ULL;
  }
  guint64 s = h ^ (seed * 0x9e3779b97f4a7c15ULL);
  return vv_splitmix64 (&s);
}

/* ---- torch-compatible CPU generator (MODEL-SPEC §12.4) ------------------ */

void
vv_torch_generator_init (VvTorchGenerator *g, guint64 seed)
{
  g_return_if_fail (g != NULL);
  vv_mt19937_init (&g->mt, seed);
  g->next_normal = 0.0;
  g->has_next_normal = FALSE;
}

/* torch's random64(): two 32-bit draws, the first one in the high half. */
static inline guint64
torch_random64 (VvTorchGenerator *g)
{
  guint64 hi = vv_mt19937_next (&g->mt);
  guint64 lo = vv_mt19937_next (&g->mt);
  return (hi << 32) | lo;
}

/* uniform_real_distribution<double>(0, 1): 53 random bits · 2^-53. */
static inline gdouble
torch_uniform_double (VvTorchGenerator *g)
{
  return (gdouble) (torch_random64 (g) & ((G_GUINT64_CONSTANT (1) << 53) - 1))
      * (1.0 / (gdouble) (G_GUINT64_CONSTANT (1) << 53));
}

/* uniform_real_distribution<float>(0, 1): 24 random bits · 2^-24 (exact). */
static inline gfloat
torch_uniform_float (VvTorchGenerator *g)
{
  return (gfloat) ((gdouble) (vv_mt19937_next (&g->mt) & ((1u << 24) - 1))
      * (1.0 / (gdouble) (1u << 24)));
}

/**
 * vv_torch_normal_double:
 * @g: a generator
 *
 * One draw of torch's scalar `normal_distribution<double>` (mean 0, std 1):
 * Box-Muller on two 53-bit uniforms u1, u2 with r = sqrt(−2·log1p(−u2)),
 * θ = 2π·u1; returns r·cos θ and caches r·sin θ, which the next scalar draw
 * returns instead (the cache survives vectorised fills in between).
 */
gdouble
vv_torch_normal_double (VvTorchGenerator *g)
{
  if (g->has_next_normal) {
    g->has_next_normal = FALSE;
    return g->next_normal;
  }
  gdouble u1 = torch_uniform_double (g);
  gdouble u2 = torch_uniform_double (g);
  gdouble r = sqrt (-2.0 * log1p (-u2));
  gdouble theta = 2.0 * G_PI * u1;
  g->next_normal = r * sin (theta);
  g->has_next_normal = TRUE;
  return r * cos (theta);
}

/* torch's portable NormalFill16<float> on 16 uniforms in place: the first
 * 8 give u1 = 1 − d, the last 8 u2; float log/sqrt/cos/sin, θ rounded to
 * float from a double product. */
static void
torch_normal_fill_16 (gfloat *d)
{
  for (gint j = 0; j < 8; j++) {
    gfloat u1 = 1.0f - d[j];
    gfloat u2 = d[j + 8];
    gfloat radius = sqrtf (-2.0f * logf (u1));
    gfloat theta = (gfloat) (2.0f * G_PI * (gdouble) u2);
    d[j] = radius * cosf (theta);
    d[j + 8] = radius * sinf (theta);
  }
}

/**
 * vv_torch_randn:
 * @g: a generator
 * @out: (out caller-allocates) (array length=n): the values
 * @n: number of float32 values
 * @contiguous: whether torch would see the destination as a contiguous
 *   tensor (FALSE for e.g. `randn_like` of a transposed view)
 *
 * Fills @out with what torch's CPU `normal_` writes into a float32 tensor of
 * @n elements, in the tensor's memory order (for a non-contiguous but dense
 * tensor, torch's iterator walks memory order too).
 *
 * n < 16 or !@contiguous: the scalar path (vv_torch_normal_double() per
 * element, cast to float). Otherwise `normal_fill`: @n float uniforms, the
 * 16-element Box-Muller per whole block of 16, and, when n % 16 ≠ 0, the last
 * 16 outputs recomputed from 16 fresh uniforms. This is the portable kernel
 * (and what torch builds for AVX-512 or baseline CPUs run); torch's AVX2
 * kernel uses an approximate log/sincos and differs by ≤ 1.5e-6.
 */
void
vv_torch_randn (VvTorchGenerator *g, gfloat *out, gsize n, gboolean contiguous)
{
  g_return_if_fail (g != NULL);
  g_return_if_fail (out != NULL || n == 0);

  if (n < 16 || !contiguous) {
    for (gsize i = 0; i < n; i++)
      out[i] = (gfloat) vv_torch_normal_double (g);
    return;
  }
  for (gsize i = 0; i < n; i++)
    out[i] = torch_uniform_float (g);
  for (gsize i = 0; i + 16 <= n; i += 16)
    torch_normal_fill_16 (out + i);
  if (n % 16 != 0) {
    gfloat *tail = out + n - 16;
    for (gsize i = 0; i < 16; i++)
      tail[i] = torch_uniform_float (g);
    torch_normal_fill_16 (tail);
  }
}
