/* gst-vibevoice — `vibevoice make-model`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Writes a random-weight checkpoint in exactly the layout users download
 * from Hugging Face (config.json, preprocessor_config.json, one
 * model.safetensors or index + shards). Values are reproducible from
 * (seed, tensor name) alone, so a shard split or tensor order change never
 * changes a tensor's values. */

typedef struct {
  guint64 seed;
  const VvTensorInfo *infos;      /* parallel to the specs being written */
  gfloat *scratch;
  gsize scratch_len;
} FillCtx;

/* Uniform in [-1, 1) from the top 24 bits of a 64-bit draw. */
static inline gfloat
uniform_pm1 (guint64 r)
{
  return (gfloat) ((gint64) (r >> 40) - (1 << 23)) * (1.0f / (1 << 23));
}

static void
fill_values (const VvTensorInfo *ti, guint64 seed, gfloat *out, gsize n)
{
  guint64 state = vv_hash_seed (seed, ti->name);
  /* uniform(-a, a) has std a/sqrt(3) */
  gfloat center = 0.0f, halfwidth;
  switch (ti->kind) {
    case VV_KIND_WEIGHT:
      halfwidth = sqrtf (3.0f / (gfloat) MAX (ti->fan_in, 1));
      break;
    case VV_KIND_BIAS:
      halfwidth = 0.05f;
      break;
    case VV_KIND_NORM:
      center = 1.0f;
      halfwidth = 0.1f;
      break;
    case VV_KIND_LAYER_SCALE:
      /* Trained γ are far from their 1e-6 init; 0.1±0.05 lets every block
       * visibly shape the output, which conformance tests need. */
      center = 0.1f;
      halfwidth = 0.05f;
      break;
    case VV_KIND_EMBEDDING:
      halfwidth = 0.1f;
      break;
    case VV_KIND_SCALING_FACTOR:
      /* Values of the published 1.5B checkpoint as reported (MODEL-SPEC §1.6). */
      out[0] = 0.1962890625f;
      return;
    case VV_KIND_BIAS_FACTOR:
      out[0] = -0.04931640625f;
      return;
    default:
      halfwidth = 0.0f;
      break;
  }
  for (gsize i = 0; i < n; i++)
    out[i] = center + halfwidth * uniform_pm1 (vv_splitmix64 (&state));
}

static gboolean
fill_tensor (const VvSafetensorsSpec *spec, guint index, guint8 *data, gsize n_bytes,
    gpointer user_data, GError **error)
{
  FillCtx *ctx = user_data;
  gsize n = n_bytes / vv_dtype_size (spec->dtype);
  if (spec->dtype == VV_DTYPE_F32) {
    fill_values (&ctx->infos[index], ctx->seed, (gfloat *) data, n);
    return TRUE;
  }
  if (ctx->scratch_len < n) {
    g_free (ctx->scratch);
    ctx->scratch = g_try_new (gfloat, n);
    ctx->scratch_len = ctx->scratch ? n : 0;
    if (ctx->scratch == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
          "out of memory for tensor %s (%" G_GSIZE_FORMAT " values)", spec->name, n);
      return FALSE;
    }
  }
  fill_values (&ctx->infos[index], ctx->seed, ctx->scratch, n);
  vv_convert_from_f32 (spec->dtype, ctx->scratch, data, n);
  return TRUE;
}

static gboolean
write_text (const gchar *dir, const gchar *name, const gchar *text, GError **error)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  return g_file_set_contents (path, text, -1, error);
}

static gboolean
write_shard (const gchar *path, GArray *infos, guint first, guint count, VvDType dtype,
    FillCtx *ctx, GError **error)
{
  g_autofree VvSafetensorsSpec *specs = g_new0 (VvSafetensorsSpec, count);
  for (guint i = 0; i < count; i++) {
    const VvTensorInfo *ti = &g_array_index (infos, VvTensorInfo, first + i);
    specs[i].name = ti->name;
    specs[i].dtype = dtype;
    specs[i].ndim = ti->ndim;
    memcpy (specs[i].shape, ti->shape, sizeof (ti->shape));
  }
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, "format", "pt");
  ctx->infos = &g_array_index (infos, VvTensorInfo, first);
  return vv_safetensors_write (path, specs, count, meta, fill_tensor, ctx, error);
}

static gsize
info_bytes (const VvTensorInfo *ti, VvDType dtype)
{
  gsize n = 1;
  for (gint d = 0; d < ti->ndim; d++)
    n *= ti->shape[d];
  return n * vv_dtype_size (dtype);
}

static gboolean
dir_has_model (const gchar *dir)
{
  const gchar *names[] = { "config.json", "model.safetensors", "model.safetensors.index.json" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *p = g_build_filename (dir, names[i], NULL);
    if (g_file_test (p, G_FILE_TEST_EXISTS))
      return TRUE;
  }
  return FALSE;
}

/* Removes files a previous make-model may have left (other shard counts). */
static void
remove_old_model_files (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  while (d && (name = g_dir_read_name (d))) {
    if ((g_str_has_prefix (name, "model") && g_str_has_suffix (name, ".safetensors")) ||
        strcmp (name, "model.safetensors.index.json") == 0) {
      g_autofree gchar *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
    }
  }
}

int
vv_tool_make_model (int argc, char **argv)
{
  /* NULL defaults: GOption does not free an initial value it replaces */
  g_autofree gchar *preset_arg = NULL;
  g_autofree gchar *dtype_arg = NULL;
  gint64 seed = 0;
  gdouble shard_mb = 2000.0;
  gboolean force = FALSE, untied = FALSE;
  GOptionEntry entries[] = {
    { "preset", 'p', 0, G_OPTION_ARG_STRING, &preset_arg, "tiny (default), 1.5b or 7b", "NAME" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the random weights (default 0)", "N" },
    { "dtype", 0, 0, G_OPTION_ARG_STRING, &dtype_arg, "bf16 (default, as published), f16 or f32", "TYPE" },
    { "shard-size", 0, 0, G_OPTION_ARG_DOUBLE, &shard_mb,
      "Largest shard in MB (default 2000, like the published 1.5B); 0 = one model.safetensors", "MB" },
    { "untied", 0, 0, G_OPTION_ARG_NONE, &untied, "Write a separate lm_head.weight (as 7B does)", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Overwrite a model already in DIR", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("DIR - write a random-weight VibeVoice checkpoint");
  g_option_context_set_summary (octx,
      "The weights are random: the model produces noise, not speech. It has the exact\n"
      "file layout, tensor names, shapes and dtype of the published checkpoints.");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vibevoice make-model: %s\n", error ? error->message : "expected one DIR");
    return 2;
  }
  const gchar *dir = argv[1];
  const gchar *preset_name = preset_arg ? preset_arg : "tiny";
  const gchar *dtype_name = dtype_arg ? dtype_arg : "bf16";
  VvPreset preset;
  if (!vv_preset_from_string (preset_name, &preset)) {
    fprintf (stderr, "vibevoice make-model: unknown preset '%s' (tiny, 1.5b, 7b)\n", preset_name);
    return 2;
  }
  VvDType dtype;
  if (g_ascii_strcasecmp (dtype_name, "bf16") == 0)
    dtype = VV_DTYPE_BF16;
  else if (g_ascii_strcasecmp (dtype_name, "f16") == 0)
    dtype = VV_DTYPE_F16;
  else if (g_ascii_strcasecmp (dtype_name, "f32") == 0)
    dtype = VV_DTYPE_F32;
  else {
    fprintf (stderr, "vibevoice make-model: unknown dtype '%s' (bf16, f16, f32)\n", dtype_name);
    return 2;
  }
  if (shard_mb < 0) {
    fprintf (stderr, "vibevoice make-model: --shard-size must be >= 0\n");
    return 2;
  }
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    fprintf (stderr, "vibevoice make-model: cannot create %s: %s\n", dir, g_strerror (errno));
    return 1;
  }
  if (dir_has_model (dir) && !force) {
    fprintf (stderr, "vibevoice make-model: %s already holds a model (use --force to overwrite)\n", dir);
    return 1;
  }
  remove_old_model_files (dir);

  g_autoptr (VvConfig) config = vv_config_new_preset (preset);
  if (untied)
    config->lm.tie_word_embeddings = FALSE;
  gboolean with_lm_head = !config->lm.tie_word_embeddings;
  g_autoptr (GArray) infos = vv_layout_tensors (config, with_lm_head, &error);
  g_autofree gchar *config_json = infos ? vv_config_to_json (config, &error) : NULL;
  g_autofree gchar *pp_json = config_json ? vv_config_preprocessor_to_json (config, &error) : NULL;
  if (pp_json == NULL ||
      !write_text (dir, "config.json", config_json, &error) ||
      !write_text (dir, "preprocessor_config.json", pp_json, &error)) {
    fprintf (stderr, "vibevoice make-model: %s\n", error->message);
    return 1;
  }

  /* Greedy split in layout order, like transformers' save_pretrained. */
  gsize max_shard = shard_mb > 0 ? (gsize) (shard_mb * 1e6) : G_MAXSIZE;
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (guint));
  gsize cur = 0, total = 0;
  for (guint i = 0; i < infos->len; i++) {
    gsize b = info_bytes (&g_array_index (infos, VvTensorInfo, i), dtype);
    if (i == 0 || (cur > 0 && cur + b > max_shard)) {
      g_array_append_val (starts, i);
      cur = 0;
    }
    cur += b;
    total += b;
  }
  guint n_shards = starts->len;
  FillCtx fctx = { .seed = (guint64) seed };
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (JsonBuilder) index = json_builder_new ();
  json_builder_begin_object (index);
  json_builder_set_member_name (index, "metadata");
  json_builder_begin_object (index);
  json_builder_set_member_name (index, "total_size");
  json_builder_add_int_value (index, (gint64) total);
  json_builder_end_object (index);
  json_builder_set_member_name (index, "weight_map");
  json_builder_begin_object (index);
  for (guint s = 0; s < n_shards; s++) {
    guint first = g_array_index (starts, guint, s);
    guint end = s + 1 < n_shards ? g_array_index (starts, guint, s + 1) : infos->len;
    g_autofree gchar *name = n_shards == 1 ? g_strdup ("model.safetensors")
        : g_strdup_printf ("model-%05u-of-%05u.safetensors", s + 1, n_shards);
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    if (!write_shard (path, infos, first, end - first, dtype, &fctx, &error)) {
      fprintf (stderr, "vibevoice make-model: %s\n", error->message);
      g_free (fctx.scratch);
      return 1;
    }
    for (guint i = first; i < end; i++) {
      json_builder_set_member_name (index, g_array_index (infos, VvTensorInfo, i).name);
      json_builder_add_string_value (index, name);
    }
  }
  json_builder_end_object (index);
  json_builder_end_object (index);
  g_free (fctx.scratch);

  if (n_shards > 1) {
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = json_builder_get_root (index);
    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    json_generator_set_indent (gen, 2);
    g_autofree gchar *text = json_generator_to_data (gen, NULL);
    if (!write_text (dir, "model.safetensors.index.json", text, &error)) {
      fprintf (stderr, "vibevoice make-model: %s\n", error->message);
      return 1;
    }
  }
  printf ("wrote %s: preset %s, seed %" G_GINT64_FORMAT ", %u tensors, %.1f MB %s in %u file%s (%.1f s)\n",
      dir, preset_name, seed, infos->len, total / 1e6, vv_dtype_name (dtype), n_shards,
      n_shards == 1 ? "" : "s", (g_get_monotonic_time () - t0) / 1e6);
  printf ("note: random weights; this model makes noise, not speech\n");
  return 0;
}
