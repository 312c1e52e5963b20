/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The Qwen2 decoder LM (vv-lm.c, MODEL-SPEC §2.1–2.3, §6) against the
 * reference's language_model (HF Qwen2Model) on the tiny checkpoint, with
 * the vectors of gen_lm_vectors.py in $VV_LM_CONFORMANCE_DIR:
 *  - the whole prompt in one pass, and in chunks of 7 and of 1 rows;
 *  - 3 single-row steps through the KV cache after the prefill;
 *  - the 4 control logits (§2.2) on the last prompt row and on each step.
 * Tolerance (fp32): max|ours − ref| ≤ 1e-4 · (1 + max|ref|).
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <json-glib/json-glib.h>

static gchar *vec_dir;
static gchar *tmp_root;
static gchar *model_dir;
static VvModel *model;
static VvBackend *backend;

static VvLm *
new_lm (void)
{
  g_autoptr (GError) error = NULL;
  VvLm *lm = vv_lm_new (model, backend, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lm);
  return lm;
}

/* Prefill of prompt-embeds.npy with the given chunk size (0 = whole). */
static gfloat *
prefill (VvLm *lm, VvKvCache *cache, gsize chunk, gint64 *rows_out)
{
  g_autoptr (VvNpyArray) e = vv_test_load_npy (vec_dir, "prompt-embeds.npy");
  g_assert_cmpint (e->ndim, ==, 2);
  g_assert_cmpint (e->shape[1], ==, vv_lm_get_hidden_size (lm));
  vv_lm_set_chunk_size (lm, chunk);
  gfloat *h = g_new0 (gfloat, e->shape[0] * e->shape[1]);
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_lm_forward_host (lm, cache, e->data, e->shape[0], h, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vv_kv_cache_get_length (cache), ==, e->shape[0]);
  *rows_out = e->shape[0];
  return h;
}

static void
test_prefill (gconstpointer data)
{
  gsize chunk = GPOINTER_TO_SIZE (data);
  g_autoptr (VvLm) lm = new_lm ();
  g_autoptr (GError) error = NULL;
  /* a small capacity so the chunked runs also exercise growth */
  g_autoptr (VvKvCache) cache = vv_kv_cache_new (lm, chunk == 0 ? 0 : 4, 0, &error);
  g_assert_no_error (error);
  gint64 rows;
  g_autofree gfloat *h = prefill (lm, cache, chunk, &rows);
  vv_test_check_vec (vec_dir, "prefill-hidden.npy", h, rows, vv_lm_get_hidden_size (lm));
}

/* Prompt ids → embed_tokens equals the reference's rows (outside the voice
 * rows, which the generator replaced). */
static void
test_embed (void)
{
  g_autoptr (VvLm) lm = new_lm ();
  g_autoptr (VvNpyArray) ids_f = vv_test_load_npy (vec_dir, "prompt-ids.npy");
  g_autoptr (VvNpyArray) e = vv_test_load_npy (vec_dir, "prompt-embeds.npy");
  gint64 n = ids_f->n, H = vv_lm_get_hidden_size (lm);
  g_autofree gint32 *ids = g_new (gint32, n);
  for (gint64 i = 0; i < n; i++)
    ids[i] = (gint32) ids_f->data[i];
  g_autofree gfloat *out = g_new (gfloat, n * H);
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_lm_embed_tokens (lm, ids, n, out, &error));
  g_assert_no_error (error);
  gint64 same = 0;
  for (gint64 i = 0; i < n; i++)
    if (memcmp (out + i * H, e->data + i * H, sizeof (gfloat) * H) == 0)
      same++;
  g_assert_cmpint (same, ==, n - 5);     /* 5 voice rows replaced */
  /* out of range id */
  gint32 bad = G_MAXINT32;
  g_assert_false (vv_lm_embed_tokens (lm, &bad, 1, out, &error));
  g_assert_nonnull (error);
}

static void
test_steps (void)
{
  g_autoptr (VvLm) lm = new_lm ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VvKvCache) cache = vv_kv_cache_new (lm, 0, 0, &error);
  g_assert_no_error (error);
  gint64 rows, H = vv_lm_get_hidden_size (lm);
  g_autofree gfloat *h = prefill (lm, cache, 7, &rows);

  gfloat logits[VV_LM_N_CONTROL];
  g_assert_true (vv_lm_logits_control_host (lm, h + (rows - 1) * H, logits, &error));
  g_assert_no_error (error);
  vv_test_check_vec (vec_dir, "prefill-control-logits.npy", logits, 1, VV_LM_N_CONTROL);

  g_autoptr (VvNpyArray) s = vv_test_load_npy (vec_dir, "step-embeds.npy");
  gint64 n_steps = s->shape[0];
  g_autofree gfloat *hs = g_new0 (gfloat, n_steps * H);
  g_autofree gfloat *ls = g_new0 (gfloat, n_steps * VV_LM_N_CONTROL);
  for (gint64 i = 0; i < n_steps; i++) {
    g_assert_true (vv_lm_forward_host (lm, cache, s->data + i * H, 1, hs + i * H, TRUE, &error));
    g_assert_no_error (error);
    g_assert_true (vv_lm_logits_control_host (lm, hs + i * H, ls + i * VV_LM_N_CONTROL, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (vv_kv_cache_get_length (cache), ==, rows + n_steps);
  vv_test_check_vec (vec_dir, "step-hidden.npy", hs, n_steps, H);
  vv_test_check_vec (vec_dir, "step-control-logits.npy", ls, n_steps, VV_LM_N_CONTROL);

  /* last_only on a multi-row pass gives the last row of a full pass */
  vv_kv_cache_reset (cache);
  g_autoptr (VvNpyArray) e = vv_test_load_npy (vec_dir, "prompt-embeds.npy");
  g_autofree gfloat *last = g_new0 (gfloat, H);
  g_assert_true (vv_lm_forward_host (lm, cache, e->data, rows, last, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (last, H * sizeof (gfloat), h + (rows - 1) * H, H * sizeof (gfloat));
}

/* A cache with a hard limit errors clearly instead of growing past it. */
static void
test_cache_limit (void)
{
  g_autoptr (VvLm) lm = new_lm ();
  g_autoptr (GError) error = NULL;
  g_autoptr (VvKvCache) cache = vv_kv_cache_new (lm, 2, 8, &error);
  g_assert_no_error (error);
  g_autoptr (VvNpyArray) e = vv_test_load_npy (vec_dir, "prompt-embeds.npy");
  g_assert_true (vv_lm_forward_host (lm, cache, e->data, 8, NULL, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (vv_lm_forward_host (lm, cache, e->data, 1, NULL, FALSE, &error));
  g_assert_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_assert_cmpuint (vv_kv_cache_get_length (cache), ==, 8);
}

static void
test_model_matches_manifest (void)
{
  vv_test_check_manifest_checkpoint (vec_dir, model_dir, "gen_lm_vectors.py");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *tool = g_getenv ("VV_TOOL");
  vec_dir = g_strdup (g_getenv ("VV_LM_CONFORMANCE_DIR"));
  if (tool == NULL || vec_dir == NULL) {
    g_printerr ("VV_TOOL / VV_LM_CONFORMANCE_DIR are not set: run through meson test\n");
    return 77;
  }
  g_autoptr (GError) error = NULL;
  vv_test_make_checkpoint (11, &tmp_root, &model_dir, &model, &backend);

  g_test_add_func ("/conformance/lm/model-matches-manifest", test_model_matches_manifest);
  g_test_add_func ("/conformance/lm/embed-tokens", test_embed);
  g_test_add_data_func ("/conformance/lm/prefill/whole", GSIZE_TO_POINTER (0), test_prefill);
  g_test_add_data_func ("/conformance/lm/prefill/chunk7", GSIZE_TO_POINTER (7), test_prefill);
  g_test_add_data_func ("/conformance/lm/prefill/chunk1", GSIZE_TO_POINTER (1), test_prefill);
  g_test_add_func ("/conformance/lm/steps-and-control-logits", test_steps);
  g_test_add_func ("/conformance/lm/cache-limit", test_cache_limit);
  gint ret = g_test_run ();
  vv_test_free_checkpoint (tmp_root, model_dir, model, backend);
  g_free (vec_dir);
  return ret;
}
