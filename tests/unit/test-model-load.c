/* gst-vibevoice — checkpoint loading tests on `vibevoice make-model` output
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real files end to end: the tool writes Hugging Face folders, the loader
 * maps and validates them; broken variants are made by rewriting those
 * files (dropping a tensor, changing a shape or dtype, editing the config
 * or the index).
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static gchar *tmp_root;
static gchar *tiny_single;
static gchar *tiny_sharded;

static void
copy_file (const gchar *from, const gchar *to)
{
  g_autofree gchar *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (from, &data, &len, NULL));
  g_assert_true (g_file_set_contents (to, data, len, NULL));
}

/* A fresh copy of @src_dir (flat folder) under tmp_root. */
static gchar *
copy_model (const gchar *src_dir, const gchar *name)
{
  gchar *dst = g_build_filename (tmp_root, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dst, 0755), ==, 0);
  g_autoptr (GDir) d = g_dir_open (src_dir, 0, NULL);
  const gchar *f;
  while ((f = g_dir_read_name (d))) {
    g_autofree gchar *a = g_build_filename (src_dir, f, NULL);
    g_autofree gchar *b = g_build_filename (dst, f, NULL);
    copy_file (a, b);
  }
  return dst;
}

typedef struct {
  VvSafetensors *st;
  const gchar *drop;          /* tensor to leave out */
  const gchar *reshape;       /* tensor to write with its first dim + 1 */
  const gchar *nan_scalar;    /* scalar tensor to overwrite with NaN */
  GPtrArray *names;
} Rewrite;

static gboolean
rewrite_fill (const VvSafetensorsSpec *spec, guint index, guint8 *data, gsize n_bytes,
    gpointer user_data, GError **error)
{
  Rewrite *rw = user_data;
  const VvSafetensorsEntry *e = vv_safetensors_lookup (rw->st, spec->name);
  memset (data, 0, n_bytes);
  memcpy (data, e->data, MIN (n_bytes, e->n_bytes));
  if (g_strcmp0 (spec->name, rw->nan_scalar) == 0)
    vv_convert_from_f32 (spec->dtype, (const gfloat[]) { NAN }, data, 1);
  return TRUE;
}

/* Rewrites the single-file model in @dir with one change. */
static void
rewrite_model (const gchar *dir, const gchar *drop, const gchar *reshape, const gchar *nan_scalar)
{
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree gchar *orig = g_strconcat (path, ".orig", NULL);
  g_assert_cmpint (g_rename (path, orig), ==, 0);
  Rewrite rw = { .drop = drop, .reshape = reshape, .nan_scalar = nan_scalar };
  rw.st = vv_safetensors_open (orig, NULL);
  g_assert_nonnull (rw.st);
  guint n = vv_safetensors_get_n_tensors (rw.st);
  g_autoptr (GArray) specs = g_array_new (FALSE, TRUE, sizeof (VvSafetensorsSpec));
  for (guint i = 0; i < n; i++) {
    const VvSafetensorsEntry *e = vv_safetensors_get_entry (rw.st, i);
    if (g_strcmp0 (e->name, drop) == 0)
      continue;
    VvSafetensorsSpec s = { .name = e->name, .dtype = e->dtype, .ndim = e->ndim };
    memcpy (s.shape, e->shape, sizeof (s.shape));
    if (g_strcmp0 (e->name, reshape) == 0)
      s.shape[0] += 1;
    g_array_append_val (specs, s);
  }
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_safetensors_write (path, (VvSafetensorsSpec *) specs->data, specs->len, NULL,
          rewrite_fill, &rw, &error));
  g_assert_no_error (error);
  vv_safetensors_free (rw.st);
  g_unlink (orig);
}

/* Replaces the header of @path by @edit(header object), keeping the data. */
static void
edit_header (const gchar *path, void (*edit) (JsonObject *hdr))
{
  g_autofree gchar *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  guint64 hlen = GUINT64_FROM_LE (*(guint64 *) data);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, data + 8, hlen, NULL));
  edit (json_node_get_object (json_parser_get_root (p)));
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, json_parser_get_root (p));
  gsize nlen;
  g_autofree gchar *hdr = json_generator_to_data (gen, &nlen);
  GString *out = g_string_new (NULL);
  guint64 pad = (8 - (8 + nlen) % 8) % 8;
  guint64 le = GUINT64_TO_LE (nlen + pad);
  g_string_append_len (out, (const gchar *) &le, 8);
  g_string_append_len (out, hdr, nlen);
  for (guint64 i = 0; i < pad; i++)
    g_string_append_c (out, ' ');
  g_string_append_len (out, data + 8 + hlen, len - 8 - hlen);
  g_assert_true (g_file_set_contents (path, out->str, out->len, NULL));
  g_string_free (out, TRUE);
}

static void
assert_load_fails (const gchar *dir, GQuark domain, gint code, const gchar *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) m = vv_model_load (dir, VV_MODEL_LOAD_DEFAULT, &error);
  g_assert_null (m);
  g_assert_error (error, domain, code);
  if (needle && !strstr (error->message, needle))
    g_error ("error '%s' should mention '%s'", error->message, needle);
}

static void
test_load_single (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) m = vv_model_load (tiny_single, VV_MODEL_LOAD_PREFAULT, &error);
  g_assert_no_error (error);
  const VvConfig *c = vv_model_get_config (m);
  g_assert_cmpint (c->lm.vocab_size, ==, 151936);
  g_assert_cmpuint (vv_model_get_n_shards (m), ==, 1);
  g_autoptr (GArray) layout = vv_layout_tensors (c, FALSE, NULL);
  guint64 bytes = 0;
  for (guint i = 0; i < layout->len; i++) {
    const VvTensorInfo *ti = &g_array_index (layout, VvTensorInfo, i);
    const VvTensor *t = vv_model_get_tensor (m, ti->name);
    g_assert_nonnull (t);
    g_assert_cmpint (t->dtype, ==, VV_DTYPE_BF16);
    g_assert_cmpint (t->ndim, ==, ti->ndim);
    bytes += vv_tensor_n_bytes (t);
  }
  g_assert_cmpuint (bytes, ==, vv_model_get_n_bytes (m));
  g_assert_null (vv_model_get_tensor (m, "lm_head.weight"));
  g_assert_true (vv_model_get_lm_head (m) ==
      vv_model_get_tensor (m, "model.language_model.embed_tokens.weight"));
  /* make-model writes the published scalars, rounded to bf16 */
  g_assert_cmpfloat_with_epsilon (vv_model_get_speech_scaling_factor (m), 0.1962890625, 1e-9);
  g_assert_cmpfloat_with_epsilon (vv_model_get_speech_bias_factor (m), -0.04931640625, 1e-9);
  g_assert_cmpuint (vv_model_get_component_params (m, VV_COMPONENT_PREDICTION_HEAD), >, 0);
  g_assert_cmpuint (vv_model_get_component_params (m, VV_COMPONENT_LM_HEAD), ==, 0);
  g_assert_null (vv_model_require_tensor (m, "no.such.tensor", &error));
  g_assert_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR);
}

static void
test_load_sharded_equals_single (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) a = vv_model_load (tiny_single, 0, &error);
  g_assert_no_error (error);
  g_autoptr (VvModel) b = vv_model_load (tiny_sharded, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_model_get_n_shards (b), >, 2);
  g_autoptr (GArray) layout = vv_layout_tensors (vv_model_get_config (a), FALSE, NULL);
  for (guint i = 0; i < layout->len; i++) {
    const gchar *name = g_array_index (layout, VvTensorInfo, i).name;
    const VvTensor *ta = vv_model_get_tensor (a, name), *tb = vv_model_get_tensor (b, name);
    g_assert_cmpuint (vv_tensor_n_bytes (ta), ==, vv_tensor_n_bytes (tb));
    g_assert_cmpint (memcmp (ta->data, tb->data, vv_tensor_n_bytes (ta)), ==, 0);
  }
  /* Values are not degenerate: a weight matrix has spread. */
  const VvTensor *w = vv_model_get_tensor (a, "model.language_model.layers.0.mlp.up_proj.weight");
  gdouble s = 0, s2 = 0;
  gint64 n = vv_tensor_n_elements (w);
  for (gint64 i = 0; i < n; i++) {
    gdouble v = vv_tensor_get_f32 (w, i);
    s += v;
    s2 += v * v;
  }
  gdouble std = sqrt (s2 / n - (s / n) * (s / n));
  g_assert_cmpfloat (std, >, 0.5 / sqrt (w->shape[1]));
  g_assert_cmpfloat (std, <, 2.0 / sqrt (w->shape[1]));
}

static void
test_seed_changes_weights (void)
{
  g_autofree gchar *dir = g_build_filename (tmp_root, "seed7", NULL);
  g_autofree gchar *args = g_strdup_printf ("make-model --preset tiny --seed 7 --shard-size 0 %s", dir);
  vv_test_run_tool (args);
  g_autoptr (VvModel) a = vv_model_load (tiny_single, 0, NULL);
  g_autoptr (VvModel) b = vv_model_load (dir, 0, NULL);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  const gchar *name = "model.prediction_head.cond_proj.weight";
  const VvTensor *ta = vv_model_get_tensor (a, name), *tb = vv_model_get_tensor (b, name);
  g_assert_cmpint (memcmp (ta->data, tb->data, vv_tensor_n_bytes (ta)), !=, 0);
}

static void
test_untied_lm_head (void)
{
  g_autofree gchar *dir = g_build_filename (tmp_root, "untied", NULL);
  g_autofree gchar *args = g_strdup_printf ("make-model --preset tiny --untied --shard-size 0 %s", dir);
  vv_test_run_tool (args);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) m = vv_model_load (dir, 0, &error);
  g_assert_no_error (error);
  const VvTensor *head = vv_model_get_lm_head (m);
  g_assert_true (head == vv_model_get_tensor (m, "lm_head.weight"));
  g_assert_cmpuint (vv_model_get_component_params (m, VV_COMPONENT_LM_HEAD), ==, 151936 * 64);
  /* untied config without lm_head.weight is an error naming it */
  rewrite_model (dir, "lm_head.weight", NULL, NULL);
  assert_load_fails (dir, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR, "lm_head.weight");
}

static void
test_missing_tensor (void)
{
  g_autofree gchar *dir = copy_model (tiny_single, "missing");
  const gchar *victim = "model.acoustic_tokenizer.decoder.stages.3.0.ffn.linear1.bias";
  rewrite_model (dir, victim, NULL, NULL);
  assert_load_fails (dir, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR, victim);
}

static void
test_wrong_shape (void)
{
  g_autofree gchar *dir = copy_model (tiny_single, "shape");
  const gchar *victim = "model.prediction_head.layers.2.ffn.down_proj.weight";
  rewrite_model (dir, NULL, victim, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_null (vv_model_load (dir, 0, &error));
  g_assert_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE);
  g_assert_nonnull (strstr (error->message, victim));
  g_assert_nonnull (strstr (error->message, "[65, 192]"));   /* found */
  g_assert_nonnull (strstr (error->message, "[64, 192]"));   /* expected */
}

static void
set_scalar_dtype_i16 (JsonObject *hdr)
{
  JsonObject *t = json_object_get_object_member (hdr, "model.speech_bias_factor");
  json_object_set_string_member (t, "dtype", "I16");   /* same size as BF16 */
}

static void
test_wrong_dtype (void)
{
  g_autofree gchar *dir = copy_model (tiny_single, "dtype");
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  edit_header (path, set_scalar_dtype_i16);
  assert_load_fails (dir, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE, "model.speech_bias_factor");
}

static void
test_nan_scalar (void)
{
  g_autofree gchar *dir = copy_model (tiny_single, "nan");
  rewrite_model (dir, NULL, NULL, "model.speech_scaling_factor");
  assert_load_fails (dir, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE, "model.speech_scaling_factor");
}

static void
test_config_mismatch (void)
{
  g_autofree gchar *dir = copy_model (tiny_single, "cfgmismatch");
  g_autofree gchar *cfg = g_build_filename (dir, "config.json", NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (cfg, &text, NULL, NULL));
  g_autoptr (GString) s = g_string_new (text);
  /* 160 is the LM's intermediate size in the tiny preset */
  g_assert_cmpuint (g_string_replace (s, "\"intermediate_size\" : 160", "\"intermediate_size\" : 192", 1), ==, 1);
  g_assert_true (g_file_set_contents (cfg, s->str, -1, NULL));
  assert_load_fails (dir, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
      "model.language_model.layers.0.mlp.gate_proj.weight");
}

static void
test_missing_files (void)
{
  g_autofree gchar *nodir = g_build_filename (tmp_root, "does-not-exist", NULL);
  assert_load_fails (nodir, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE, "does-not-exist");

  g_autofree gchar *dir = copy_model (tiny_single, "nofiles");
  g_autofree gchar *st = g_build_filename (dir, "model.safetensors", NULL);
  g_unlink (st);
  assert_load_fails (dir, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE, "model.safetensors");

  g_autofree gchar *dir2 = copy_model (tiny_single, "noconfig");
  g_autofree gchar *cfg = g_build_filename (dir2, "config.json", NULL);
  g_unlink (cfg);
  assert_load_fails (dir2, VV_CONFIG_ERROR, VV_CONFIG_ERROR_FILE, "config.json");

  /* a broken shard surfaces the safetensors error with the file name */
  g_autofree gchar *dir3 = copy_model (tiny_single, "truncated");
  g_autofree gchar *st3 = g_build_filename (dir3, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (st3, "\x10\0\0\0\0\0\0\0{}", 10, NULL));
  g_autoptr (GError) error = NULL;
  g_assert_null (vv_model_load (dir3, 0, &error));
  g_assert_true (error->domain == VV_SAFETENSORS_ERROR);
  g_assert_nonnull (strstr (error->message, "model.safetensors"));
}

static void
edit_index (const gchar *dir, const gchar *tensor, const gchar *shard)
{
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors.index.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, NULL));
  JsonObject *map = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), "weight_map");
  json_object_set_string_member (map, tensor, shard);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, json_parser_get_root (p));
  g_assert_true (json_generator_to_file (gen, path, NULL));
}

/* The shard the index names for @tensor, and some other shard. */
static void
shards_of (const gchar *dir, const gchar *tensor, gchar **its, gchar **other)
{
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors.index.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, NULL));
  JsonObject *map = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), "weight_map");
  *its = g_strdup (json_object_get_string_member (map, tensor));
  *other = NULL;
  g_autoptr (GList) names = json_object_get_members (map);
  for (GList *l = names; l && !*other; l = l->next)
    if (g_strcmp0 (json_object_get_string_member (map, l->data), *its) != 0)
      *other = g_strdup (json_object_get_string_member (map, l->data));
  g_assert_nonnull (*other);
}

static void
test_index_errors (void)
{
  g_autofree gchar *its = NULL, *other = NULL;
  shards_of (tiny_sharded, "model.speech_bias_factor", &its, &other);
  g_autofree gchar *escape = g_strconcat ("../", its, NULL);
  const gchar *t = "model.language_model.norm.weight";
  g_autofree gchar *d1 = copy_model (tiny_sharded, "idx-missing-shard");
  edit_index (d1, t, "model-00009-of-00009.safetensors");
  assert_load_fails (d1, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE, "model-00009-of-00009.safetensors");

  g_autofree gchar *d2 = copy_model (tiny_sharded, "idx-wrong-shard");
  edit_index (d2, "model.speech_bias_factor", other);
  assert_load_fails (d2, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "model.speech_bias_factor");

  g_autofree gchar *d3 = copy_model (tiny_sharded, "idx-escape");
  edit_index (d3, t, escape);
  assert_load_fails (d3, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, t);

  g_autofree gchar *d4 = copy_model (tiny_sharded, "idx-garbage");
  g_autofree gchar *idx = g_build_filename (d4, "model.safetensors.index.json", NULL);
  g_assert_true (g_file_set_contents (idx, "{\"weight_map\": [", -1, NULL));
  assert_load_fails (d4, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "model.safetensors.index.json");
}

/* A header padded to an odd length puts every tensor at an odd address:
 * the loader must hand out aligned data with the same bytes (issue 14). */
static void
test_misaligned_data (void)
{
  g_autofree gchar *dir = copy_model (tiny_single, "misaligned");
  g_autofree gchar *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree gchar *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  guint64 n;
  memcpy (&n, data, 8);
  n = GUINT64_FROM_LE (n);
  g_assert_cmpuint (n % 2, ==, 0);
  gsize out_len = len + 1;
  g_autofree gchar *out = g_malloc (out_len);
  guint64 n1 = GUINT64_TO_LE (n + 1);
  memcpy (out, &n1, 8);
  memcpy (out + 8, data + 8, n);
  out[8 + n] = ' ';             /* JSON allows trailing blanks */
  memcpy (out + 9 + n, data + 8 + n, len - 8 - n);
  g_assert_true (g_file_set_contents (path, out, out_len, NULL));

  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) a = vv_model_load (tiny_single, 0, &error);
  g_assert_no_error (error);
  g_autoptr (VvModel) b = vv_model_load (dir, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) layout = vv_layout_tensors (vv_model_get_config (a), FALSE, NULL);
  for (guint i = 0; i < layout->len; i++) {
    const gchar *name = g_array_index (layout, VvTensorInfo, i).name;
    const VvTensor *ta = vv_model_get_tensor (a, name), *tb = vv_model_get_tensor (b, name);
    /* the data region starts at an odd file offset: without the copy
     * every bf16 tensor would sit at an odd address */
    g_assert_cmpuint ((guintptr) tb->data % vv_dtype_size (tb->dtype), ==, 0);
    g_assert_cmpuint (vv_tensor_n_bytes (ta), ==, vv_tensor_n_bytes (tb));
    g_assert_cmpint (memcmp (ta->data, tb->data, vv_tensor_n_bytes (ta)), ==, 0);
  }
  g_assert_cmpfloat (vv_model_get_speech_scaling_factor (b), ==,
      vv_model_get_speech_scaling_factor (a));
}


/* Issue 14: a deeply nested shard index overflowed the stack in json-glib. */
static void
test_index_deep_nesting (void)
{
  for (gint objects = 0; objects <= 1; objects++) {
    g_autofree gchar *d = copy_model (tiny_sharded, objects ? "idx-deep-objects" : "idx-deep-arrays");
    g_autofree gchar *path = g_build_filename (d, "model.safetensors.index.json", NULL);
    g_autofree gchar *deep = vv_test_deep_json (80000, objects);
    g_assert_true (g_file_set_contents (path, deep, -1, NULL));
    assert_load_fails (d, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "model.safetensors.index.json");
    assert_load_fails (d, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "deeper than 64 levels");
  }
}

/* Quantisation of known rows: symmetric scale max|row| / 127, codes
 * rounded to nearest (ties to even), zero rows exact, errors by row. */
static void
test_int8_quantise_rows (void)
{
  static const gfloat rows[3][6] = {
    { 0.0f, 2.0f, -1.0f, 0.5f, 1.0f / 127.0f, -2.0f },        /* scale 2/127 */
    { 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f },                    /* all zero */
    { 127.0f, 2.5f, 3.5f, -2.5f, -126.5f, 0.4f },              /* scale 1: ties */
  };
  static const gint8 expect[3][6] = {
    { 0, 127, -64, 32, 0, -127 },     /* -1 · 63.5 = -63.5 → -64; 0.5 · 63.5 → 32 */
    { 0, 0, 0, 0, 0, 0 },
    { 127, 2, 4, -2, -126, 0 },
  };
  const VvDType dtypes[] = { VV_DTYPE_F32, VV_DTYPE_BF16 };
  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++) {
    g_autoptr (VvTensor) w = vv_tensor_new_2d (dtypes[d], 3, 6);
    for (gint r = 0; r < 3; r++)
      for (gint k = 0; k < 6; k++)
        vv_tensor_set_f32 (w, r * 6 + k, rows[r][k]);
    if (dtypes[d] == VV_DTYPE_BF16)
      /* 1/127 is not a bf16 value; its bf16 rounding still codes to 0 */
      g_assert_cmpfloat (fabsf (vv_tensor_get_f32 (w, 4)), <, 0.5f * 2.0f / 127.0f);
    g_autoptr (GError) error = NULL;
    g_autoptr (VvTensor) q = vv_quantize_int8_rows (w, "test", &error);
    g_assert_no_error (error);
    g_assert_cmpint (q->dtype, ==, VV_DTYPE_I8);
    g_assert_cmpint (q->shape[0], ==, 3);
    g_assert_cmpint (q->shape[1], ==, 6);
    const gfloat *sc = vv_tensor_get_row_scales (q);
    g_assert_cmpfloat (sc[0], ==, 2.0f / 127.0f);
    g_assert_cmpfloat (sc[1], ==, 0.0f);
    g_assert_cmpfloat (sc[2], ==, 1.0f);
    for (gint r = 0; r < 3; r++)
      for (gint k = 0; k < 6; k++) {
        if (((gint8 *) q->data)[r * 6 + k] != expect[r][k])
          g_error ("%s row %d col %d: code %d, expected %d", vv_dtype_name (dtypes[d]), r, k,
              ((gint8 *) q->data)[r * 6 + k], expect[r][k]);
        g_assert_cmpfloat (vv_tensor_get_f32 (q, r * 6 + k), ==, expect[r][k] * sc[r]);
      }
    /* a row view keeps its own rows' scales */
    VvTensor view;
    vv_tensor_init_rows (&view, q, 2, 1);
    g_assert_true (vv_tensor_get_row_scales (&view) == sc + 2);
  }

  /* a non-finite weight is named by tensor and row */
  g_autoptr (VvTensor) bad = vv_tensor_new_2d (VV_DTYPE_F32, 4, 3);
  vv_tensor_set_f32 (bad, 2 * 3 + 1, INFINITY);
  g_autoptr (GError) error = NULL;
  g_assert_null (vv_quantize_int8_rows (bad, "w.weight", &error));
  g_assert_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE);
  g_assert_nonnull (strstr (error->message, "w.weight"));
  g_assert_nonnull (strstr (error->message, "row 2"));
  g_clear_error (&error);
  vv_tensor_set_f32 (bad, 2 * 3 + 1, NAN);
  g_assert_null (vv_quantize_int8_rows (bad, "w.weight", &error));
  g_assert_nonnull (strstr (error->message, "row 2"));
  g_clear_error (&error);
  /* not a 2-D float tensor */
  gint64 len = 4;
  g_autoptr (VvTensor) ids = vv_tensor_new (VV_DTYPE_I32, 1, &len);
  g_assert_null (vv_quantize_int8_rows (ids, "ids", &error));
  g_assert_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE);
}

/* A big random tensor (the threaded path): every code is the nearest
 * integer to w / scale, so dequantised values are within half a step. */
static void
test_int8_quantise_big (void)
{
  const gint64 rows = 333, cols = 4099;   /* > 2^20 weights, odd sizes */
  g_autoptr (VvTensor) w = vv_tensor_new_2d (VV_DTYPE_BF16, rows, cols);
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  for (gint64 i = 0; i < rows * cols; i++)
    vv_tensor_set_f32 (w, i, (gfloat) (g_rand_double_range (rng, -1, 1) * (1 + i / cols)));
  g_autoptr (GError) error = NULL;
  g_autoptr (VvTensor) q = vv_quantize_int8_rows (w, "big", &error);
  g_assert_no_error (error);
  const gfloat *sc = vv_tensor_get_row_scales (q);
  for (gint64 r = 0; r < rows; r++) {
    gdouble amax = 0;
    for (gint64 k = 0; k < cols; k++)
      amax = MAX (amax, fabs (vv_tensor_get_f32 (w, r * cols + k)));
    g_assert_cmpfloat (fabs (sc[r] - amax / 127.0), <=, 1e-6 * amax / 127.0);
    for (gint64 k = 0; k < cols; k++) {
      gdouble x = vv_tensor_get_f32 (w, r * cols + k) / sc[r];
      gint code = ((gint8 *) q->data)[r * cols + k];
      if (fabs (code - x) > 0.5 + 1e-4)
        g_error ("row %" G_GINT64_FORMAT " col %" G_GINT64_FORMAT ": code %d for %.6f steps",
            r, k, code, x);
    }
  }
}

/* VV_MODEL_LOAD_INT8: the LM's and the head's linear weights come back as
 * I8 on the cpu backend (made once, shared), everything else as stored;
 * device backends are refused naming the tensor; shared loads with and
 * without the flag are different models. */
static void
test_int8_model (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) m = vv_model_load (tiny_single, VV_MODEL_LOAD_INT8, &error);
  g_assert_no_error (error);
  g_assert_true (vv_model_has_int8_weights (m));
  g_autoptr (VvBackend) cpu = vv_backend_new_by_name ("cpu", 1, &error);
  g_assert_no_error (error);
  const gchar *q_name = "model.language_model.layers.0.self_attn.q_proj.weight";
  const VvTensor *host = vv_model_get_tensor (m, q_name);
  const VvTensor *q = vv_model_require_tensor_on (m, cpu, q_name, &error);
  g_assert_no_error (error);
  g_assert_cmpint (host->dtype, ==, VV_DTYPE_BF16);
  g_assert_cmpint (q->dtype, ==, VV_DTYPE_I8);
  g_assert_cmpint (q->shape[0], ==, host->shape[0]);
  g_assert_cmpint (q->shape[1], ==, host->shape[1]);
  g_assert_true (vv_model_require_tensor_on (m, cpu, q_name, &error) == q);
  /* within half a step of the checkpoint's values */
  const gfloat *sc = vv_tensor_get_row_scales (q);
  for (gint64 i = 0; i < vv_tensor_n_elements (host); i++)
    g_assert_cmpfloat (fabsf (vv_tensor_get_f32 (q, i) - vv_tensor_get_f32 (host, i)), <=,
        0.5f * sc[i / host->shape[1]] * (1 + 1e-5f));
  const gchar *kept[] = {
    "model.language_model.layers.0.input_layernorm.weight",
    "model.language_model.layers.0.self_attn.q_proj.bias",
    "model.language_model.embed_tokens.weight",
    "model.acoustic_connector.fc1.weight",
  };
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++) {
    const VvTensor *t = vv_model_require_tensor_on (m, cpu, kept[i], &error);
    g_assert_no_error (error);
    g_assert_true (t == vv_model_get_tensor (m, kept[i]));
  }
  const VvTensor *h = vv_model_require_tensor_on (m, cpu,
      "model.prediction_head.layers.0.ffn.down_proj.weight", &error);
  g_assert_no_error (error);
  g_assert_cmpint (h->dtype, ==, VV_DTYPE_I8);

  g_autoptr (VvBackend) sim = vv_backend_new_by_name ("sim", 1, &error);
  g_assert_no_error (error);
  g_assert_null (vv_model_require_tensor_on (m, sim, q_name, &error));
  g_assert_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE);
  g_assert_nonnull (strstr (error->message, q_name));
  g_assert_nonnull (strstr (error->message, "cpu backend"));
  g_clear_error (&error);

  g_autoptr (VvModel) s1 = vv_model_load_shared (tiny_single, VV_MODEL_LOAD_INT8, &error);
  g_autoptr (VvModel) s2 = vv_model_load_shared (tiny_single, VV_MODEL_LOAD_DEFAULT, &error);
  g_autoptr (VvModel) s3 = vv_model_load_shared (tiny_single, VV_MODEL_LOAD_INT8, &error);
  g_assert_no_error (error);
  g_assert_true (s1 != s2 && s1 == s3);
  g_assert_true (vv_model_has_int8_weights (s1) && !vv_model_has_int8_weights (s2));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("VV_TOOL") == NULL) {
    g_printerr ("VV_TOOL is not set: run through meson test\n");
    return 77;
  }
  tmp_root = g_dir_make_tmp ("vv-model-load-XXXXXX", NULL);
  g_assert_nonnull (tmp_root);
  tiny_single = g_build_filename (tmp_root, "tiny", NULL);
  tiny_sharded = g_build_filename (tmp_root, "tiny-sharded", NULL);
  g_autofree gchar *a1 = g_strdup_printf ("make-model --preset tiny --seed 3 --shard-size 0 %s", tiny_single);
  g_autofree gchar *a2 = g_strdup_printf ("make-model --preset tiny --seed 3 --shard-size 5 %s", tiny_sharded);
  vv_test_run_tool (a1);
  vv_test_run_tool (a2);

  g_test_add_func ("/model-load/single-file", test_load_single);
  g_test_add_func ("/model-load/sharded-equals-single", test_load_sharded_equals_single);
  g_test_add_func ("/model-load/seed-changes-weights", test_seed_changes_weights);
  g_test_add_func ("/model-load/untied-lm-head", test_untied_lm_head);
  g_test_add_func ("/model-load/missing-tensor", test_missing_tensor);
  g_test_add_func ("/model-load/wrong-shape", test_wrong_shape);
  g_test_add_func ("/model-load/wrong-dtype", test_wrong_dtype);
  g_test_add_func ("/model-load/nan-scalar", test_nan_scalar);
  g_test_add_func ("/model-load/config-mismatch", test_config_mismatch);
  g_test_add_func ("/model-load/missing-files", test_missing_files);
  g_test_add_func ("/model-load/index-errors", test_index_errors);
  g_test_add_func ("/model-load/misaligned-data", test_misaligned_data);
  g_test_add_func ("/model-load/index-deep-nesting", test_index_deep_nesting);
  g_test_add_func ("/model-load/int8-quantise-rows", test_int8_quantise_rows);
  g_test_add_func ("/model-load/int8-quantise-big", test_int8_quantise_big);
  g_test_add_func ("/model-load/int8-model", test_int8_model);
  int ret = g_test_run ();
  vv_test_rm_rf (tmp_root);
  g_free (tmp_root);
  g_free (tiny_single);
  g_free (tiny_sharded);
  return ret;
}
