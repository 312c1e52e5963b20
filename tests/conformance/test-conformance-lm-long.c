/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The Qwen2 decoder LM (vv-lm.c, MODEL-SPEC §2.1–2.3, §6) at a long
 * context against the reference's language_model (HF Qwen2Model, eager, fp32)
 * on the tiny checkpoint, with the vectors of gen_lm_long_vectors.py in
 * $VV_LM_LONG_CONFORMANCE_DIR. The short LM vectors stop at position 52;
 * these check attention over ~8K cached rows and RoPE past position 2^13.
 * Each case of manifest.json (L8200, L1032: the prompt length) has its own
 * test paths, /conformance/lm-long/CASE/...; meson runs only L1032 on the
 * emulated CUDA backend (see meson.build: the 8K prefill takes minutes there).
 *
 * The prompt is not stored: its ids come from the formula in manifest.json
 * (checked against the ids the manifest lists), embedded on the device with
 * vv_lm_embed() and prefilled with vv_lm_forward() in the LM's default chunks
 * — the path vv-session.c takes — into a default F32 KV cache made at its
 * small default capacity (the forward call grows it to the prompt, the first
 * step doubles it). Then 3 single-token steps through that cache
 * with vv_lm_forward(), and the same steps again (after truncating the cache
 * back to the prompt) with vv_lm_forward_rows() joined with a second, empty
 * cache, as the engine runs the two CFG branches.
 * Tolerance (fp32): max|ours − ref| ≤ 1e-4 · (1 + max|ref|).
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <json-glib/json-glib.h>

#define N_LAST 4

static gchar *vec_dir;
static gchar *tmp_root;
static gchar *model_dir;
static VvModel *model;
static VvBackend *backend;
static JsonParser *manifest;

/* One prompt length. The prefill is made once, by the first test case of
 * the case that needs it (it is most of the test's time), and kept: the LM,
 * its cache and host copies of the last N_LAST prompt rows. */
typedef struct {
  gchar *name;                  /* "L8200": the vector files' prefix */
  gint64 prompt_len;
  VvLm *lm;
  VvKvCache *cache;
  gfloat *last_hidden, *last_embeds, *last_logits;
} Case;

static GPtrArray *cases;

static void
case_free (gpointer data)
{
  Case *c = data;
  g_free (c->last_hidden);
  g_free (c->last_embeds);
  g_free (c->last_logits);
  if (c->cache != NULL)
    vv_kv_cache_free (c->cache);
  if (c->lm != NULL)
    vv_lm_free (c->lm);
  g_free (c->name);
  g_free (c);
}

/* "CASE-name" */
static gchar *
vec_name (const Case *c, const gchar *name)
{
  return g_strdup_printf ("%s-%s", c->name, name);
}

static void
check_case_vec (const Case *c, const gchar *name, const gfloat *ours, gint64 rows, gint64 cols)
{
  g_autofree gchar *file = vec_name (c, name);
  vv_test_check_vec (vec_dir, file, ours, rows, cols);
}

static JsonObject *
manifest_root (void)
{
  return json_node_get_object (json_parser_get_root (manifest));
}

/* ids[i] = (i · 7919 + 13) mod 151643: manifest.json's prompt_ids_formula. */
static gint32
prompt_id (gint64 i)
{
  return (gint32) ((i * 7919 + 13) % 151643);
}

static VvTensor *
new_tensor (VvDType dtype, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  gint64 shape[2] = { rows, cols };
  VvTensor *t = vv_backend_tensor_new (backend, dtype, cols > 0 ? 2 : 1, shape, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  return t;
}

/* Rows [row0, row0 + n) of the device tensor @t [*, cols] into host memory. */
static gfloat *
get_rows (const VvTensor *t, gint64 row0, gint64 n, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  gfloat *out = g_new0 (gfloat, n * cols);
  g_assert_true (vv_backend_tensor_get (backend, t, (gsize) (row0 * cols) * sizeof (gfloat),
          out, (gsize) (n * cols) * sizeof (gfloat), &error));
  g_assert_no_error (error);
  return out;
}

/* The control logits (§2.2) of each of the @n rows of the device tensor
 * @hidden [n, H], into host memory [n, 4]. */
static gfloat *
control_logits (VvLm *lm, const VvTensor *hidden, gint64 n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvTensor) logits = new_tensor (VV_DTYPE_F32, n, VV_LM_N_CONTROL);
  for (gint64 i = 0; i < n; i++) {
    VvTensor h, l;
    vv_tensor_init_rows (&h, hidden, i, 1);
    vv_tensor_init_rows (&l, logits, i, 1);
    g_assert_true (vv_lm_logits_control (lm, &h, &l, &error));
    g_assert_no_error (error);
  }
  return get_rows (logits, 0, n, VV_LM_N_CONTROL);
}

/* The step ids (step-ids.npy) embedded on the device, [S, H]. */
static VvTensor *
embed_steps (VvLm *lm, gint64 *n_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvNpyArray) f = vv_test_load_npy (vec_dir, "step-ids.npy");
  g_assert_cmpint (f->ndim, ==, 1);
  gint64 n = f->shape[0], H = vv_lm_get_hidden_size (lm);
  g_autofree gint32 *ids = g_new (gint32, n);
  for (gint64 i = 0; i < n; i++)
    ids[i] = (gint32) f->data[i];
  g_autoptr (VvTensor) d_ids = new_tensor (VV_DTYPE_I32, n, 0);
  VvTensor *d_emb = new_tensor (VV_DTYPE_F32, n, H);
  g_assert_true (vv_backend_tensor_set (backend, d_ids, 0, ids, n * sizeof (gint32), &error));
  g_assert_no_error (error);
  g_assert_true (vv_lm_embed (lm, d_ids, d_emb, &error));
  g_assert_no_error (error);
  *n_out = n;
  return d_emb;
}

static void
test_model_matches_manifest (void)
{
  vv_test_check_manifest_checkpoint (vec_dir, model_dir, "gen_lm_long_vectors.py");
}

/* The formula here gives the ids the reference used (the first and last
 * four of each case, as the manifest lists them). */
static void
test_prompt_ids (gconstpointer data)
{
  const Case *c = data;
  JsonObject *mc = json_object_get_object_member (json_object_get_object_member (
          manifest_root (), "cases"), c->name);
  g_test_message ("%s, L = %" G_GINT64_FORMAT,
      json_object_get_string_member (manifest_root (), "prompt_ids_formula"), c->prompt_len);
  JsonObject *check = json_object_get_object_member (mc, "prompt_ids_check");
  JsonArray *first = json_object_get_array_member (check, "first");
  JsonArray *last = json_object_get_array_member (check, "last");
  g_assert_cmpuint (json_array_get_length (first), ==, 4);
  g_assert_cmpuint (json_array_get_length (last), ==, 4);
  for (guint i = 0; i < 4; i++) {
    g_assert_cmpint (prompt_id (i), ==, json_array_get_int_element (first, i));
    g_assert_cmpint (prompt_id (c->prompt_len - 4 + i), ==, json_array_get_int_element (last, i));
  }
}

/* Embeds the case's prompt on the device and prefills it once, as the
 * session does: vv_lm_embed(), then one vv_lm_forward() that runs the LM's
 * default chunks, into a default F32 cache made at its default capacity
 * (grown by the forward call). */
static void
ensure_prefill (Case *c)
{
  g_autoptr (GError) error = NULL;
  if (c->lm != NULL)
    return;
  gint64 L = c->prompt_len;
  c->lm = vv_lm_new (model, backend, &error);
  g_assert_no_error (error);
  gint64 H = vv_lm_get_hidden_size (c->lm);
  c->cache = vv_kv_cache_new (c->lm, 0, 0, &error);
  g_assert_no_error (error);
  gsize cap0 = vv_kv_cache_get_capacity (c->cache);

  g_autofree gint32 *ids = g_new (gint32, L);
  for (gint64 i = 0; i < L; i++)
    ids[i] = prompt_id (i);
  g_autoptr (VvTensor) d_ids = new_tensor (VV_DTYPE_I32, L, 0);
  g_autoptr (VvTensor) d_prompt = new_tensor (VV_DTYPE_F32, L, H);
  g_autoptr (VvTensor) d_hidden = new_tensor (VV_DTYPE_F32, L, H);
  g_assert_true (vv_backend_tensor_set (backend, d_ids, 0, ids, L * sizeof (gint32), &error));
  g_assert_no_error (error);
  g_assert_true (vv_lm_embed (c->lm, d_ids, d_prompt, &error));
  g_assert_no_error (error);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (vv_lm_forward (c->lm, c->cache, d_prompt, d_hidden, &error));
  g_assert_no_error (error);
  g_assert_true (vv_backend_synchronize (backend, &error));
  g_assert_no_error (error);
  g_test_message ("prefill of %" G_GINT64_FORMAT " rows in chunks of %" G_GSIZE_FORMAT
      " (cache capacity %" G_GSIZE_FORMAT " -> %" G_GSIZE_FORMAT "): %.2f s", L,
      vv_lm_get_chunk_size (c->lm), cap0, vv_kv_cache_get_capacity (c->cache),
      (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpuint (vv_kv_cache_get_length (c->cache), ==, L);
  c->last_hidden = get_rows (d_hidden, L - N_LAST, N_LAST, H);
  c->last_embeds = get_rows (d_prompt, L - N_LAST, N_LAST, H);
  VvTensor last;
  vv_tensor_init_rows (&last, d_hidden, L - N_LAST, N_LAST);
  c->last_logits = control_logits (c->lm, &last, N_LAST);
}

static void
test_prefill (gconstpointer data)
{
  Case *c = (Case *) data;
  ensure_prefill (c);
  gint64 H = vv_lm_get_hidden_size (c->lm);
  check_case_vec (c, "prompt-embeds-last4.npy", c->last_embeds, N_LAST, H);
  check_case_vec (c, "prompt-hidden-last4.npy", c->last_hidden, N_LAST, H);
  check_case_vec (c, "prompt-control-logits.npy", c->last_logits, N_LAST, VV_LM_N_CONTROL);
}

/* 3 single-token steps through the prefill's cache (positions L, L+1, L+2). */
static void
test_steps (gconstpointer data)
{
  Case *c = (Case *) data;
  ensure_prefill (c);
  g_autoptr (GError) error = NULL;
  gint64 n, H = vv_lm_get_hidden_size (c->lm);
  /* back to the prompt alone, whatever ran on this cache before */
  g_assert_true (vv_kv_cache_truncate (c->cache, c->prompt_len, &error));
  g_assert_no_error (error);
  g_autoptr (VvTensor) d_steps = embed_steps (c->lm, &n);
  g_autofree gfloat *steps = get_rows (d_steps, 0, n, H);
  vv_test_check_vec (vec_dir, "step-embeds.npy", steps, n, H);
  g_autoptr (VvTensor) d_hidden = new_tensor (VV_DTYPE_F32, n, H);
  for (gint64 i = 0; i < n; i++) {
    VvTensor e, h;
    vv_tensor_init_rows (&e, d_steps, i, 1);
    vv_tensor_init_rows (&h, d_hidden, i, 1);
    g_assert_true (vv_lm_forward (c->lm, c->cache, &e, &h, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (vv_kv_cache_get_length (c->cache), ==, c->prompt_len + n);
  g_autofree gfloat *hs = get_rows (d_hidden, 0, n, H);
  g_autofree gfloat *ls = control_logits (c->lm, d_hidden, n);
  check_case_vec (c, "step-hidden.npy", hs, n, H);
  check_case_vec (c, "step-control-logits.npy", ls, n, VV_LM_N_CONTROL);
}

/* The same steps as the first row of vv_lm_forward_rows(), the second row
 * running them from an empty cache (positions 0, 1, 2): the engine's joint
 * CFG step, a long and a short branch in the same pass. */
static void
test_joint_steps (gconstpointer data)
{
  Case *c = (Case *) data;
  ensure_prefill (c);
  g_autoptr (GError) error = NULL;
  gint64 n, H = vv_lm_get_hidden_size (c->lm);
  g_assert_true (vv_kv_cache_truncate (c->cache, c->prompt_len, &error));
  g_assert_no_error (error);
  g_autoptr (VvKvCache) short_cache = vv_kv_cache_new (c->lm, 0, 0, &error);
  g_assert_no_error (error);
  g_autoptr (VvTensor) d_steps = embed_steps (c->lm, &n);
  g_autoptr (VvTensor) d_long = new_tensor (VV_DTYPE_F32, n, H);
  g_autoptr (VvTensor) d_short = new_tensor (VV_DTYPE_F32, n, H);
  for (gint64 i = 0; i < n; i++) {
    VvTensor e, hl, hs;
    vv_tensor_init_rows (&e, d_steps, i, 1);
    vv_tensor_init_rows (&hl, d_long, i, 1);
    vv_tensor_init_rows (&hs, d_short, i, 1);
    VvKvCache *caches[2] = { c->cache, short_cache };
    const VvTensor *in[2] = { &e, &e };
    VvTensor *out[2] = { &hl, &hs };
    g_assert_true (vv_lm_forward_rows (c->lm, caches, in, out, 2, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (vv_kv_cache_get_length (c->cache), ==, c->prompt_len + n);
  g_assert_cmpuint (vv_kv_cache_get_length (short_cache), ==, n);
  g_autofree gfloat *hl = get_rows (d_long, 0, n, H);
  g_autofree gfloat *hs = get_rows (d_short, 0, n, H);
  check_case_vec (c, "step-hidden.npy", hl, n, H);
  vv_test_check_vec (vec_dir, "short-step-hidden.npy", hs, n, H);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *tool = g_getenv ("VV_TOOL");
  const gchar *dir = g_getenv ("VV_LM_LONG_CONFORMANCE_DIR");
  if (tool == NULL || dir == NULL) {
    g_printerr ("VV_TOOL / VV_LM_LONG_CONFORMANCE_DIR are not set: run through meson test\n");
    return 77;
  }
  vec_dir = g_strdup (dir);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *manifest_path = g_build_filename (vec_dir, "manifest.json", NULL);
  manifest = json_parser_new ();
  if (!json_parser_load_from_file (manifest, manifest_path, &error)) {
    g_printerr ("%s: %s\n", manifest_path, error->message);
    return 1;
  }
  JsonObject *mcases = json_object_get_object_member (manifest_root (), "cases");
  if (mcases == NULL || json_object_get_size (mcases) == 0) {
    g_printerr ("%s: no \"cases\" object\n", manifest_path);
    return 1;
  }
  vv_test_make_checkpoint (11, &tmp_root, &model_dir, &model, &backend);

  cases = g_ptr_array_new_with_free_func (case_free);
  g_test_add_func ("/conformance/lm-long/model-matches-manifest", test_model_matches_manifest);
  g_autoptr (GList) names = json_object_get_members (mcases);
  for (GList *l = names; l != NULL; l = l->next) {
    Case *c = g_new0 (Case, 1);
    c->name = g_strdup (l->data);
    c->prompt_len = json_object_get_int_member (json_object_get_object_member (mcases, l->data),
        "prompt_length");
    if (c->prompt_len < N_LAST || c->prompt_len > G_MAXINT32) {
      g_printerr ("%s: case %s: prompt_length %" G_GINT64_FORMAT " is not in %d .. %d\n",
          manifest_path, c->name, c->prompt_len, N_LAST, G_MAXINT32);
      case_free (c);
      g_ptr_array_unref (cases);
      vv_test_free_checkpoint (tmp_root, model_dir, model, backend);
      g_object_unref (manifest);
      g_free (vec_dir);
      return 1;
    }
    g_ptr_array_add (cases, c);
    struct { const gchar *what; GTestDataFunc fn; } t[] = {
      { "prompt-ids", test_prompt_ids }, { "prefill", test_prefill },
      { "steps", test_steps }, { "joint-steps", test_joint_steps },
    };
    for (guint i = 0; i < G_N_ELEMENTS (t); i++) {
      g_autofree gchar *path = g_strdup_printf ("/conformance/lm-long/%s/%s", c->name, t[i].what);
      g_test_add_data_func (path, c, t[i].fn);
    }
  }
  gint ret = g_test_run ();
  g_ptr_array_unref (cases);
  vv_test_free_checkpoint (tmp_root, model_dir, model, backend);
  g_object_unref (manifest);
  g_free (vec_dir);
  return ret;
}
