/* gst-vibevoice — tensor and dtype conversion tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <vibevoice/vibevoice.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static guint32
f32_bits (gfloat f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  return u;
}

static gfloat
bits_f32 (guint32 u)
{
  gfloat f;
  memcpy (&f, &u, 4);
  return f;
}

static void
test_bf16_rounding (void)
{
  g_assert_cmphex (vv_f32_to_bf16 (1.0f), ==, 0x3f80);
  g_assert_cmphex (vv_f32_to_bf16 (-2.0f), ==, 0xc000);
  /* exactly halfway: ties to even */
  g_assert_cmphex (vv_f32_to_bf16 (bits_f32 (0x3f808000)), ==, 0x3f80);
  g_assert_cmphex (vv_f32_to_bf16 (bits_f32 (0x3f818000)), ==, 0x3f82);
  /* just above halfway rounds up, just below rounds down */
  g_assert_cmphex (vv_f32_to_bf16 (bits_f32 (0x3f808001)), ==, 0x3f81);
  g_assert_cmphex (vv_f32_to_bf16 (bits_f32 (0x3f807fff)), ==, 0x3f80);
  /* overflow to infinity, NaN stays NaN */
  g_assert_cmphex (vv_f32_to_bf16 (bits_f32 (0x7f7fffff)), ==, 0x7f80);
  g_assert_true (isnan (vv_bf16_to_f32 (vv_f32_to_bf16 (NAN))));
  g_assert_true (isinf (vv_bf16_to_f32 (vv_f32_to_bf16 (INFINITY))));
  /* every bf16 value survives bf16 -> f32 -> bf16 */
  for (guint32 h = 0; h < 0x10000; h++) {
    gfloat f = vv_bf16_to_f32 ((guint16) h);
    if (isnan (f))
      continue;
    g_assert_cmphex (vv_f32_to_bf16 (f), ==, h);
    g_assert_cmphex (f32_bits (f), ==, h << 16);
  }
}

static void
test_f16_known_values (void)
{
  g_assert_cmphex (vv_f32_to_f16 (1.0f), ==, 0x3c00);
  g_assert_cmphex (vv_f32_to_f16 (-2.0f), ==, 0xc000);
  g_assert_cmphex (vv_f32_to_f16 (65504.0f), ==, 0x7bff);
  g_assert_cmphex (vv_f32_to_f16 (65520.0f), ==, 0x7c00);  /* tie rounds to even = inf */
  g_assert_cmphex (vv_f32_to_f16 (65519.0f), ==, 0x7bff);
  g_assert_cmphex (vv_f32_to_f16 (ldexpf (1.0f, -24)), ==, 0x0001);
  g_assert_cmphex (vv_f32_to_f16 (ldexpf (1.0f, -25)), ==, 0x0000);      /* tie to even */
  g_assert_cmphex (vv_f32_to_f16 (ldexpf (3.0f, -25)), ==, 0x0002);      /* tie to even */
  g_assert_cmphex (vv_f32_to_f16 (ldexpf (1.0f, -14)), ==, 0x0400);      /* smallest normal */
  g_assert_cmphex (vv_f32_to_f16 (ldexpf (1023.5f, -24)), ==, 0x0400);   /* rounds up into normal */
  g_assert_cmpfloat (vv_f16_to_f32 (0x3555), ==, 0.333251953125f);
  g_assert_true (isnan (vv_f16_to_f32 (vv_f32_to_f16 (NAN))));
}

static void
test_f16_against_compiler (void)
{
#ifdef __FLT16_MAX__
  /* The compiler's _Float16 conversions are an independent reference. */
  for (guint32 h = 0; h < 0x10000; h++) {
    _Float16 hf;
    guint16 hh = (guint16) h;
    memcpy (&hf, &hh, 2);
    gfloat ref = (gfloat) hf;
    gfloat got = vv_f16_to_f32 (hh);
    if (isnan (ref)) {
      g_assert_true (isnan (got));
      continue;
    }
    g_assert_cmphex (f32_bits (got), ==, f32_bits (ref));
  }
  GRand *r = g_rand_new_with_seed (7);
  for (gint i = 0; i < 200000; i++) {
    guint32 bits = g_rand_int (r);
    gfloat f = bits_f32 (bits);
    if (isnan (f))
      continue;
    _Float16 ref = (_Float16) f;
    guint16 refbits;
    memcpy (&refbits, &ref, 2);
    g_assert_cmphex (vv_f32_to_f16 (f), ==, refbits);
  }
  g_rand_free (r);
#else
  g_test_skip ("compiler has no _Float16");
#endif
}

static void
test_tensor_basics (void)
{
  gint64 shape[3] = { 2, 3, 5 };
  g_autoptr (VvTensor) t = vv_tensor_new (VV_DTYPE_BF16, 3, shape);
  g_assert_nonnull (t);
  g_assert_cmpint (vv_tensor_n_elements (t), ==, 30);
  g_assert_cmpuint (vv_tensor_n_bytes (t), ==, 60);
  g_assert_cmpint (t->stride[0], ==, 15);
  g_assert_cmpint (t->stride[1], ==, 5);
  g_assert_cmpint (t->stride[2], ==, 1);
  g_assert_true (vv_tensor_is_contiguous (t));
  g_assert_cmpuint ((guintptr) t->data % 64, ==, 0);
  for (gint i = 0; i < 30; i++)
    g_assert_cmpfloat (vv_tensor_get_f32 (t, i), ==, 0.0f);
  for (gint i = 0; i < 30; i++)
    vv_tensor_set_f32 (t, i, (gfloat) i - 7.5f);
  for (gint i = 0; i < 30; i++)
    g_assert_cmpfloat (vv_tensor_get_f32 (t, i), ==, (gfloat) i - 7.5f);
  g_autofree gchar *s = vv_tensor_shape_string (t);
  g_assert_cmpstr (s, ==, "[2, 3, 5]");

  /* a transposed view: get_f32 follows strides */
  VvTensor tr;
  gint64 shape2[2] = { 3, 2 };
  gfloat data[6] = { 0, 1, 2, 3, 4, 5 };      /* row-major [2,3] */
  vv_tensor_init_view (&tr, VV_DTYPE_F32, 2, shape2, data);
  tr.stride[0] = 1;
  tr.stride[1] = 3;
  g_assert_false (vv_tensor_is_contiguous (&tr));
  g_assert_cmpfloat (vv_tensor_get_f32 (&tr, 1), ==, 3.0f);   /* [0,1] = data[3] */
  g_assert_cmpfloat (vv_tensor_get_f32 (&tr, 2), ==, 1.0f);   /* [1,0] = data[1] */

  /* scalar */
  g_autoptr (VvTensor) sc = vv_tensor_new (VV_DTYPE_F32, 0, NULL);
  g_assert_cmpint (vv_tensor_n_elements (sc), ==, 1);

  /* rows to f32 */
  g_autoptr (VvTensor) m = vv_tensor_new_2d (VV_DTYPE_F16, 4, 3);
  for (gint i = 0; i < 12; i++)
    vv_tensor_set_f32 (m, i, i * 0.5f);
  gfloat row[3];
  vv_tensor_row_to_f32 (m, 2, row);
  g_assert_cmpfloat (row[0], ==, 3.0f);
  g_assert_cmpfloat (row[2], ==, 4.0f);
}

/* Whether [addr, addr + 1) lies in a mapping of this process; *@start gets
 * the mapping's first address. */
static gboolean
mapped_at (guintptr addr, guintptr *start)
{
  g_autofree gchar *maps = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  for (gchar *line = maps; line != NULL && *line; ) {
    guint64 lo = 0, hi = 0;
    if (sscanf (line, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", &lo, &hi) == 2
        && addr >= lo && addr < hi) {
      *start = (guintptr) lo;
      return TRUE;
    }
    gchar *nl = strchr (line, '\n');
    line = nl ? nl + 1 : NULL;
  }
  return FALSE;
}

static gpointer
large_in_thread (gpointer data)
{
  /* 1024 × 1024 f32 = 4 MiB, over the 256 KiB at which host tensors are
   * mapped directly (vv-backend-impl.h) */
  VvTensor *t = vv_tensor_new_2d (VV_DTYPE_F32, 1024, 1024);
  g_assert_nonnull (t);
  g_assert_cmpuint ((guintptr) t->data % 64, ==, 0);
  const gfloat *f = t->data;
  for (gsize i = 0; i < 1024 * 1024; i += 997)
    g_assert_cmpfloat (f[i], ==, 0.0f);
  g_assert_cmpfloat (f[1024 * 1024 - 1], ==, 0.0f);
  for (gint64 i = 0; i < 1024 * 1024; i++)
    ((gfloat *) t->data)[i] = (gfloat) (i % 4093);
  /* a view of rows 512.. reads the same memory */
  VvTensor rows;
  vv_tensor_init_rows (&rows, t, 512, 512);
  g_assert_cmpfloat (vv_tensor_get_f32 (&rows, 5), ==, (gfloat) ((512 * 1024 + 5) % 4093));
  guintptr addr = (guintptr) t->data, start = 0;
  g_assert_true (mapped_at (addr, &start));
  *(guintptr *) data = addr;
#if !defined(__SANITIZE_ADDRESS__)
  /* its own mapping, not a chunk inside this thread's malloc arena ... */
  g_assert_cmpuint (start, ==, addr);
#endif
  vv_tensor_free (t);
  return NULL;
}

/* Large host tensors (and scratch) bypass malloc: freed by a streaming
 * thread they go back to the kernel instead of staying in that thread's
 * arena, which fragmented over a soak of many pipelines (docs/TESTING.md). */
static void
test_tensor_large_mapped (void)
{
  guintptr addr = 0, start = 0;
  GThread *th = g_thread_new ("large", large_in_thread, &addr);
  g_thread_join (th);
  g_assert_cmpuint (addr, !=, 0);
#if defined(__SANITIZE_ADDRESS__)
  g_test_message ("AddressSanitizer build: tensors come from malloc (redzones), not mapped");
#else
  /* ... so after the free nothing is mapped there any more */
  g_assert_false (mapped_at (addr, &start));
#endif
  /* small tensors still come from malloc and are zero-filled */
  g_autoptr (VvTensor) small = vv_tensor_new_2d (VV_DTYPE_F32, 16, 16);
  g_assert_nonnull (small);
  for (gint i = 0; i < 256; i++)
    g_assert_cmpfloat (((gfloat *) small->data)[i], ==, 0.0f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensor/bf16-rounding", test_bf16_rounding);
  g_test_add_func ("/tensor/f16-known-values", test_f16_known_values);
  g_test_add_func ("/tensor/f16-against-compiler", test_f16_against_compiler);
  g_test_add_func ("/tensor/basics", test_tensor_basics);
  g_test_add_func ("/tensor/large-mapped", test_tensor_large_mapped);
  return g_test_run ();
}
