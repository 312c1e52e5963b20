/* gst-vibevoice — helpers shared by the test programs
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

void
vv_test_run_tool (const gchar *args)
{
  const gchar *tool = g_getenv ("VV_TOOL");
  g_assert_nonnull (tool);
  g_autofree gchar *cmd = g_strdup_printf ("%s %s", tool, args);
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_command_line_sync (cmd, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("'%s' failed:\n%s%s", cmd, out, err);
}

void
vv_test_rm_rf (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const gchar *f;
    while (d && (f = g_dir_read_name (d))) {
      g_autofree gchar *p = g_build_filename (path, f, NULL);
      vv_test_rm_rf (p);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

VvNpyArray *
vv_test_load_npy (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  VvNpyArray *a = vv_npy_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (a);
  return a;
}

void
vv_test_check_vec (const gchar *dir, const gchar *name, const gfloat *ours, gint64 rows,
    gint64 cols)
{
  vv_test_check_vec_tol (dir, name, ours, rows, cols, 1e-4);
}

void
vv_test_check_vec_tol (const gchar *dir, const gchar *name, const gfloat *ours, gint64 rows,
    gint64 cols, gdouble tol)
{
  g_autoptr (VvNpyArray) ref = vv_test_load_npy (dir, name);
  if (cols == 0) {
    g_assert_cmpint (ref->ndim, ==, 1);
    g_assert_cmpint (ref->shape[0], ==, rows);
  } else {
    g_assert_cmpint (ref->ndim, ==, 2);
    g_assert_cmpint (ref->shape[0], ==, rows);
    g_assert_cmpint (ref->shape[1], ==, cols);
  }
  gdouble max_err = 0, max_ref = 0;
  gsize worst = 0;
  for (gsize i = 0; i < ref->n; i++) {
    if (!isfinite (ours[i])) {
      g_test_fail_printf ("%s: value %" G_GSIZE_FORMAT " is %g", name, i, ours[i]);
      return;
    }
    gdouble e = fabs ((gdouble) ours[i] - ref->data[i]);
    if (e > max_err) {
      max_err = e;
      worst = i;
    }
    max_ref = MAX (max_ref, fabs (ref->data[i]));
  }
  gdouble bound = tol * (1.0 + max_ref);
  g_test_message ("%s: max|err| = %.3e, bound = %.3e (max|ref| = %.4g, %" G_GSIZE_FORMAT
      " values)", name, max_err, bound, max_ref, ref->n);
  /* Not fatal: every vector still gets compared and reported. */
  if (max_err > bound)
    g_test_fail_printf ("%s: max|err| %.3e > bound %.3e at index %" G_GSIZE_FORMAT
        " (ours %.7g, ref %.7g)", name, max_err, bound, worst, ours[worst], ref->data[worst]);
}

void
vv_test_check_sha256 (const gchar *path, const gchar *want, const gchar *hint)
{
  g_autofree gchar *data = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_assert_nonnull (want);
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  g_assert_no_error (error);
  g_autofree gchar *got = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
  if (g_strcmp0 (got, want) != 0)
    g_test_fail_printf ("%s has sha256 %s, expected %s: %s", path, got, want, hint);
}

void
vv_test_make_checkpoint (guint seed, gchar **tmp_root, gchar **model_dir, VvModel **model,
    VvBackend **backend)
{
  g_autoptr (GError) error = NULL;
  *tmp_root = g_dir_make_tmp ("vv-conformance-XXXXXX", &error);
  g_assert_no_error (error);
  *model_dir = g_build_filename (*tmp_root, "tiny", NULL);
  g_autofree gchar *args = g_strdup_printf ("make-model --preset tiny --seed %u --shard-size 0 %s",
      seed, *model_dir);
  vv_test_run_tool (args);
  *model = vv_model_load (*model_dir, VV_MODEL_LOAD_DEFAULT, &error);
  g_assert_no_error (error);
  *backend = vv_test_new_backend (0);
}

/* The backend the test runs on: $VV_TEST_BACKEND ("cpu" when unset), so
 * meson runs the same program on "cpu" and on the simulated device;
 * $VV_TEST_BACKEND_OVERRIDE, from the caller's environment, wins over what
 * meson sets (tests/cuda/run-on-gpu.sh runs the suites on "cuda" so). */
VvBackend *
vv_test_new_backend (gint n_threads)
{
  g_autoptr (GError) error = NULL;
  const gchar *name = g_getenv ("VV_TEST_BACKEND_OVERRIDE");
  if (name == NULL || *name == '\0')
    name = g_getenv ("VV_TEST_BACKEND");
  VvBackend *be = vv_backend_new_by_name (name && *name ? name : "cpu", n_threads, &error);
  g_assert_no_error (error);
  return be;
}

void
vv_test_free_checkpoint (gchar *tmp_root, gchar *model_dir, VvModel *model, VvBackend *backend)
{
  vv_backend_free (backend);
  vv_model_unref (model);
  vv_test_rm_rf (tmp_root);
  g_free (tmp_root);
  g_free (model_dir);
}

void
vv_test_check_manifest_checkpoint (const gchar *vec_dir, const gchar *model_dir,
    const gchar *generator)
{
  g_autofree gchar *manifest = g_build_filename (vec_dir, "manifest.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (p, manifest, &error));
  g_assert_no_error (error);
  JsonObject *m = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)),
      "model");
  g_assert_nonnull (m);
  const gchar *want = json_object_get_string_member (m, "model_safetensors_sha256");
  g_autofree gchar *path = g_build_filename (model_dir, "model.safetensors", NULL);
  g_autofree gchar *hint = g_strdup_printf ("make-model no longer writes the checkpoint the "
      "vectors were made from: regenerate them with tests/conformance/%s", generator);
  vv_test_check_sha256 (path, want, hint);
}

/* @levels nested arrays (or objects {"a": ...} when @objects), closed again
 * around a 1: valid JSON that json-glib's recursive parser cannot survive. */
gchar *
vv_test_deep_json (guint levels, gboolean objects)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < levels; i++)
    g_string_append (s, objects ? "{\"a\": " : "[");
  g_string_append_c (s, '1');
  for (guint i = 0; i < levels; i++)
    g_string_append_c (s, objects ? '}' : ']');
  return g_string_free (s, FALSE);
}
