/* gst-vibevoice — helpers shared by the test programs
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vibevoice/vibevoice.h>

G_BEGIN_DECLS

/* Runs `$VV_TOOL ARGS` (the built `vibevoice` tool); aborts the test with
 * the tool's output if it fails. */
void        vv_test_run_tool (const gchar *args);
/* Removes a file or a folder tree. */
void        vv_test_rm_rf (const gchar *path);
/* Loads DIR/NAME, asserting success. */
VvNpyArray *vv_test_load_npy (const gchar *dir, const gchar *name);
/* Compares @ours with the reference vector DIR/NAME (shape rows × cols, or
 * flat [rows] when cols is 0) under the conformance tolerance
 * max|ours − ref| ≤ 1e-4 · (1 + max|ref|); reports the error and bound with
 * g_test_message and fails the test case (without aborting) past it. */
void        vv_test_check_vec (const gchar *dir, const gchar *name, const gfloat *ours,
                               gint64 rows, gint64 cols);
/* The same with the bound max|ours − ref| ≤ @tol · (1 + max|ref|). */
void        vv_test_check_vec_tol (const gchar *dir, const gchar *name, const gfloat *ours,
                                   gint64 rows, gint64 cols, gdouble tol);

/* Fails the test case unless the sha256 of @path is @want; @hint says how
 * to regenerate whatever depends on that file. */
void        vv_test_check_sha256 (const gchar *path, const gchar *want, const gchar *hint);

/* Conformance fixtures: makes `make-model --preset tiny --seed SEED` in a new
 * temporary folder, loads it and opens a CPU backend; _free undoes it. */
VvBackend  *vv_test_new_backend (gint n_threads);
void        vv_test_make_checkpoint (guint seed, gchar **tmp_root, gchar **model_dir,
                                     VvModel **model, VvBackend **backend);
void        vv_test_free_checkpoint (gchar *tmp_root, gchar *model_dir, VvModel *model,
                                     VvBackend *backend);
/* Checks that @model_dir/model.safetensors is the checkpoint the vectors in
 * @vec_dir were made from (manifest.json: model.model_safetensors_sha256). */
void        vv_test_check_manifest_checkpoint (const gchar *vec_dir, const gchar *model_dir,
                                               const gchar *generator);

/* Valid JSON nested @levels deep (arrays, or {"a": …} objects). */
gchar *vv_test_deep_json (guint levels, gboolean objects);

G_END_DECLS
