/* gst-vibevoice — .npy reader/writer tests
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Our writer round-trips; files written by NumPy itself (tests/data/npy,
 * see its README) load, and our writer reproduces them byte for byte;
 * unsupported, damaged or garbled files are refused with an error naming
 * them, never a crash.
 */
#include "vv-test-util.h"
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

/* Issue 14 (fuzz-npy): an unsupported dtype was quoted raw in the error, so
 * a header with non-UTF-8 bytes gave a non-UTF-8 message, and a long one a
 * message as long as the header. */
static void
test_dtype_message (void)
{
  g_autofree gchar *p1 = write_npy ("dtype-bytes.npy",
      "{'descr': '\xff\xfe<f4', 'fortran_order': False, 'shape': (), }\n", 4);
  g_autoptr (GError) e1 = NULL;
  g_assert_null (vv_npy_load (p1, &e1));
  g_assert_error (e1, VV_NPY_ERROR, VV_NPY_ERROR_DTYPE);
  g_assert_true (g_utf8_validate (e1->message, -1, NULL));
  g_assert_nonnull (strstr (e1->message, "dtype '\\377\\376<f4' is not supported"));

  g_autoptr (GString) dict = g_string_new ("{'descr': '");
  for (gint i = 0; i < 1000; i++)
    g_string_append_c (dict, 'x');
  g_string_append (dict, "', 'fortran_order': False, 'shape': (), }\n");
  g_autofree gchar *p2 = write_npy ("dtype-long.npy", dict->str, 4);
  g_autoptr (GError) e2 = NULL;
  g_assert_null (vv_npy_load (p2, &e2));
  g_assert_error (e2, VV_NPY_ERROR, VV_NPY_ERROR_DTYPE);
  g_assert_nonnull (strstr (e2->message, "dtype 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… is not supported"));
  g_assert_cmpuint (strlen (e2->message), <, 300);
}

static gchar *
fixture (const gchar *name)
{
  return g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "npy", name, NULL);
}

static void
check_numpy_file (const gchar *name, gint ndim, const gint64 *shape, const gfloat *want,
    gsize n)
{
  g_autofree gchar *path = fixture (name);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvNpyArray) a = vv_npy_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->ndim, ==, ndim);
  for (gint d = 0; d < ndim; d++)
    g_assert_cmpint (a->shape[d], ==, shape[d]);
  g_assert_cmpuint (a->n, ==, n);
  if (n > 0)
    g_assert_cmpmem (a->data, n * 4, want, n * 4);
}

/* Our writer's output for @name's array equals NumPy's file. */
static void
check_same_bytes (const gchar *name)
{
  g_autofree gchar *path = fixture (name);
  g_autoptr (VvNpyArray) a = vv_npy_load (path, NULL);
  g_assert_nonnull (a);
  g_autofree gchar *ours = g_build_filename (tmp_dir, name, NULL);
  g_assert_true (vv_npy_save (ours, a->data, a->ndim, a->shape, NULL));
  g_autofree gchar *x = NULL, *y = NULL;
  gsize lx, ly;
  g_assert_true (g_file_get_contents (path, &x, &lx, NULL));
  g_assert_true (g_file_get_contents (ours, &y, &ly, NULL));
  g_assert_cmpmem (y, ly, x, lx);
}

static void
test_numpy_files (void)
{
  const gint64 s2d[] = { 3, 4 };
  gfloat v2d[12];
  for (gint i = 0; i < 12; i++)
    v2d[i] = ((gfloat) i - 5.5f) / 4;
  check_numpy_file ("f4-2d.npy", 2, s2d, v2d, 12);

  const gint64 s1d[] = { 5 };
  const gfloat v1d[] = { 1.0f, -2.5f, (gfloat) 1e-3, (gfloat) G_PI, 65504.0f };
  check_numpy_file ("f8-1d.npy", 1, s1d, v1d, 5);

  const gfloat vs[] = { -0.75f };
  check_numpy_file ("f4-scalar.npy", 0, NULL, vs, 1);

  const gint64 s3d[] = { 2, 1, 3 };
  const gfloat v3d[] = { 0, 1, 2, 3, 4, 5 };
  check_numpy_file ("f4-v2.npy", 3, s3d, v3d, 6);

  const gint64 se[] = { 0, 64 };
  check_numpy_file ("f4-empty.npy", 2, se, NULL, 0);

  check_same_bytes ("f4-2d.npy");
  check_same_bytes ("f4-scalar.npy");
  check_same_bytes ("f4-empty.npy");

  const struct { const gchar *name, *says; } bad[] = {
    { "f4-big-endian.npy", "big-endian" },
    { "f4-fortran.npy", "Fortran" },
    { "i4.npy", "'<i4'" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *path = fixture (bad[i].name);
    g_autoptr (GError) error = NULL;
    g_autoptr (VvNpyArray) a = vv_npy_load (path, &error);
    g_assert_null (a);
    g_assert_error (error, VV_NPY_ERROR, VV_NPY_ERROR_DTYPE);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, bad[i].says));
  }
}

/* Every truncation of a valid file, and every single-byte change in its
 * header, loads or fails cleanly (run under valgrind/ASan to be sure). */
static void
test_damaged (void)
{
  g_autofree gchar *src = fixture ("f4-v2.npy");
  g_autofree gchar *good = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (src, &good, &len, NULL));
  g_autofree gchar *path = g_build_filename (tmp_dir, "damaged.npy", NULL);
  for (gsize cut = 0; cut < len; cut++) {
    g_assert_true (g_file_set_contents (path, good, cut, NULL));
    g_autoptr (GError) error = NULL;
    g_autoptr (VvNpyArray) a = vv_npy_load (path, &error);
    g_assert_null (a);
    g_assert_error (error, VV_NPY_ERROR, VV_NPY_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, path));
  }
  const guchar subst[] = { 0, ' ', '(', ')', ',', '}', '\'', '9', 0xff };
  g_autofree gchar *buf = g_memdup2 (good, len);
  gsize header_end = len - 6 * 4;
  for (gsize i = 0; i < header_end; i++) {
    for (guint k = 0; k < G_N_ELEMENTS (subst); k++) {
      buf[i] = (gchar) subst[k];
      g_assert_true (g_file_set_contents (path, buf, len, NULL));
      g_autoptr (GError) error = NULL;
      g_autoptr (VvNpyArray) a = vv_npy_load (path, &error);
      g_assert_true ((a == NULL) != (error == NULL));
      if (a != NULL)
        g_assert_cmpuint (a->n * 4, <=, len);
    }
    buf[i] = good[i];
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("vv-npy-XXXXXX", NULL);
  g_test_add_func ("/npy/round-trip", test_round_trip);
  g_test_add_func ("/npy/rejects", test_rejects);
  g_test_add_func ("/npy/dtype-message", test_dtype_message);
  g_test_add_func ("/npy/numpy-files", test_numpy_files);
  g_test_add_func ("/npy/damaged", test_damaged);
  int ret = g_test_run ();
  vv_test_rm_rf (tmp_dir);
  g_free (tmp_dir);
  return ret;
}
