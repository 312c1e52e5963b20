/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-rng.h"

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
