/* gst-vibevoice — random generator tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <vibevoice/vibevoice.h>

static void
test_mt19937_reference (void)
{
  /* C++11 [rand.predef]: the 10000th output of a default-constructed
   * std::mt19937 (seed 5489) is 4123659995; its first is 3499211612. */
  VvMt19937 mt;
  vv_mt19937_init (&mt, 5489);
  guint32 first = vv_mt19937_next (&mt), v = first;
  for (gint i = 1; i < 10000; i++)
    v = vv_mt19937_next (&mt);
  g_assert_cmpuint (first, ==, 3499211612u);
  g_assert_cmpuint (v, ==, 4123659995u);
  /* Only the low 32 bits of the seed count (torch, MODEL-SPEC §12.4). */
  VvMt19937 a, b;
  vv_mt19937_init (&a, 42);
  vv_mt19937_init (&b, 42 + (G_GUINT64_CONSTANT (1) << 32));
  for (gint i = 0; i < 1000; i++)
    g_assert_cmpuint (vv_mt19937_next (&a), ==, vv_mt19937_next (&b));
}

static void
test_splitmix64_reference (void)
{
  /* Outputs of Vigna's splitmix64.c for state 0. */
  guint64 s = 0;
  g_assert_cmphex (vv_splitmix64 (&s), ==, G_GUINT64_CONSTANT (0xe220a8397b1dcdaf));
  g_assert_cmphex (vv_splitmix64 (&s), ==, G_GUINT64_CONSTANT (0x6e789e6aa1b965f4));
  g_assert_cmphex (vv_splitmix64 (&s), ==, G_GUINT64_CONSTANT (0x06c45d188009454f));
}

static void
test_hash_seed (void)
{
  g_assert_cmphex (vv_hash_seed (1, "a"), ==, vv_hash_seed (1, "a"));
  g_assert_cmphex (vv_hash_seed (1, "a"), !=, vv_hash_seed (2, "a"));
  g_assert_cmphex (vv_hash_seed (1, "a"), !=, vv_hash_seed (1, "b"));
  g_assert_cmphex (vv_hash_seed (0, "model.x.weight"), !=, vv_hash_seed (0, "model.x.bias"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rng/mt19937-reference", test_mt19937_reference);
  g_test_add_func ("/rng/splitmix64-reference", test_splitmix64_reference);
  g_test_add_func ("/rng/hash-seed", test_hash_seed);
  return g_test_run ();
}
