/* gst-vibevoice — .npy reader/writer tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Files written by numpy itself are read by the conformance test (every
 * reference vector is one); here: our writer round-trips, and damaged or
 * unsupported files are refused with an error naming them.
 */
#include <vibevoice/vibevoice.h>
#include <glib/gstdio.h>
#include <string.h>

static gchar *tmp_dir;

static void
test_round_trip (void)
{
  const gint64 shapes[][3] = { { 0 }, { 7 }, { 3, 5 }, { 2, 3, 4 } };
  const gint ndims[] = { 0, 1, 2, 3 };
  for (guint s = 0; s < G_N_ELEMENTS (ndims); s++) {
    gsize n = 1;
    for (gint d = 0; d < ndims[s]; d++)
      n *= shapes[s][d];
    g_autofree gfloat *v = g_new (gfloat, n);
    for (gsize i = 0; i < n; i++)
      v[i] = (gfloat) i * 0.37f - 1.5f;
    g_autofree gchar *path = g_strdup_printf ("%s/rt%u.npy", tmp_dir, s);
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_npy_save (path, v, ndims[s], shapes[s], &error));
    g_assert_no_error (error);
    g_autoptr (VvNpyArray) a = vv_npy_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (a->ndim, ==, ndims[s]);
    for (gint d = 0; d < ndims[s]; d++)
      g_assert_cmpint (a->shape[d], ==, shapes[s][d]);
    g_assert_cmpuint (a->n, ==, n);
    g_assert_cmpmem (a->data, n * 4, v, n * 4);
    /* numpy's layout: header padded so the data starts on a 64-byte boundary */
    g_autofree gchar *raw = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (path, &raw, &len, NULL));
    g_assert_cmpuint ((len - n * 4) % 64, ==, 0);
    g_assert_cmpint (raw[len - n * 4 - 1], ==, '\n');
  }
}

/* A v1.0 file with @dict as header and @data_len bytes of data. */
static gchar *
write_npy (const gchar *name, const gchar *dict, gsize data_len)
{
  gchar *path = g_build_filename (tmp_dir, name, NULL);
  GString *s = g_string_new_len ("\x93NUMPY\x01\x00", 8);
  guint16 hl = (guint16) strlen (dict);
  g_string_append_c (s, (gchar) (hl & 0xff));
  g_string_append_c (s, (gchar) (hl >> 8));
  g_string_append (s, dict);
  for (gsize i = 0; i < data_len; i++)
    g_string_append_c (s, 0);
  g_assert_true (g_file_set_contents (path, s->str, s->len, NULL));
  g_string_free (s, TRUE);
  return path;
}

static void
expect_error (const gchar *path, gint code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvNpyArray) a = vv_npy_load (path, &error);
  g_assert_null (a);
  g_assert_error (error, VV_NPY_ERROR, code);
  g_autofree gchar *base = g_path_get_basename (path);
  g_assert_nonnull (strstr (error->message, base));
}

static void
test_rejects (void)
{
  g_autofree gchar *ok = write_npy ("ok.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", 16);
  g_autoptr (VvNpyArray) a = vv_npy_load (ok, NULL);
  g_assert_nonnull (a);                 /* float64 is converted */
  g_assert_cmpuint (a->n, ==, 2);

  g_autofree gchar *p1 = write_npy ("int.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", 8);
  expect_error (p1, VV_NPY_ERROR_DTYPE);
  g_autofree gchar *p2 = write_npy ("big.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8);
  expect_error (p2, VV_NPY_ERROR_DTYPE);
  g_autofree gchar *p3 = write_npy ("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", 16);
  expect_error (p3, VV_NPY_ERROR_DTYPE);
  g_autofree gchar *p4 = write_npy ("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }\n", 59);
  expect_error (p4, VV_NPY_ERROR_FORMAT);
  g_autofree gchar *p5 = write_npy ("noshape.npy", "{'descr': '<f4', 'fortran_order': False, }\n", 8);
  expect_error (p5, VV_NPY_ERROR_FORMAT);
  g_autofree gchar *p6 = write_npy ("badshape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }\n", 8);
  expect_error (p6, VV_NPY_ERROR_FORMAT);
  g_autofree gchar *p7 = g_build_filename (tmp_dir, "magic.npy", NULL);
  g_assert_true (g_file_set_contents (p7, "PK\x03\x04 not numpy at all", -1, NULL));
  expect_error (p7, VV_NPY_ERROR_FORMAT);
  g_autofree gchar *p8 = g_build_filename (tmp_dir, "hdrlen.npy", NULL);
  g_assert_true (g_file_set_contents (p8, "\x93NUMPY\x01\x00\xff\xff{'descr'", 18, NULL));
  expect_error (p8, VV_NPY_ERROR_FORMAT);
  g_autofree gchar *p9 = g_build_filename (tmp_dir, "missing.npy", NULL);
  expect_error (p9, VV_NPY_ERROR_IO);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("vv-npy-XXXXXX", NULL);
  g_test_add_func ("/npy/round-trip", test_round_trip);
  g_test_add_func ("/npy/rejects", test_rejects);
  int ret = g_test_run ();
  g_autoptr (GDir) d = g_dir_open (tmp_dir, 0, NULL);
  const gchar *f;
  while (d && (f = g_dir_read_name (d))) {
    g_autofree gchar *p = g_build_filename (tmp_dir, f, NULL);
    g_unlink (p);
  }
  g_rmdir (tmp_dir);
  return ret;
}
