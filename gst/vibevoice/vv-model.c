/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-model.h"
#include "vv-safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (vv-model-error-quark, vv_model_error)

typedef struct {
  VvTensor view;                 /* borrowed from the mapped shard */
  VvSafetensors *shard;
  gpointer aligned_copy;         /* owned; set when the mapped data is misaligned */
} ModelTensor;

static void
model_tensor_free (gpointer p)
{
  ModelTensor *mt = p;
  g_aligned_free (mt->aligned_copy);
  g_free (mt);
}

struct _VvModel {
  gint ref_count;
  gchar *dir;
  gchar *shared_key;             /* set when in the shared table */
  VvConfig *config;
  GPtrArray *shards;             /* VvSafetensors*, owned */
  GHashTable *tensors;           /* name (borrowed from shard) -> ModelTensor* */
  gboolean has_lm_head;
  gfloat scaling_factor;
  gfloat bias_factor;
  guint64 component_params[VV_COMPONENT_COUNT];
  guint64 component_bytes[VV_COMPONENT_COUNT];
  guint64 n_bytes;
  /* per-device weight store: VvDevice* -> (name -> device VvTensor*), filled
   * on first use and shared by every backend on that device */
  GMutex store_lock;
  GHashTable *device_weights;
  gboolean int8;                 /* VV_MODEL_LOAD_INT8 */
};

G_DEFINE_BOXED_TYPE (VvModel, vv_model, vv_model_ref, vv_model_unref)

/**
 * vv_model_ref:
 * @model: a model
 *
 * Several elements and pipelines share one loaded model this way.
 *
 * Returns: (transfer full): @model with one more reference
 */
VvModel *
vv_model_ref (VvModel *model)
{
  g_atomic_int_inc (&model->ref_count);
  return model;
}

/**
 * vv_model_unref:
 * @model: (transfer full) (nullable): a model
 *
 * Drops a reference; the last one unmaps the checkpoint.
 */
/* Process-wide table of models loaded with vv_model_load_shared():
 * canonical folder path -> VvModel (weak: the last unref removes it). */
static GMutex shared_lock;
static GHashTable *shared_models;

void
vv_model_unref (VvModel *model)
{
  if (model == NULL || !g_atomic_int_dec_and_test (&model->ref_count))
    return;
  if (model->shared_key != NULL) {
    g_mutex_lock (&shared_lock);
    if (shared_models && g_hash_table_lookup (shared_models, model->shared_key) == model)
      g_hash_table_remove (shared_models, model->shared_key);
    g_mutex_unlock (&shared_lock);
    g_free (model->shared_key);
  }
  g_clear_pointer (&model->device_weights, g_hash_table_unref);
  g_mutex_clear (&model->store_lock);
  g_clear_pointer (&model->tensors, g_hash_table_unref);
  g_clear_pointer (&model->shards, g_ptr_array_unref);
  vv_config_free (model->config);
  g_free (model->dir);
  g_free (model);
}

/* safetensors does not promise aligned data: a header whose length is not
 * a multiple of 8, or a tensor following one with an odd byte count, puts
 * data at an address that typed loads may not read (UB; it traps on some
 * CPUs). Such tensors get an aligned copy; files written by the safetensors
 * library and by make-model are aligned and stay mapped as they are. */
static gboolean
ensure_aligned (ModelTensor *mt, const gchar *path, guint *n_copied, guint64 *copied_bytes,
    GError **error)
{
  gsize align = vv_dtype_size (mt->view.dtype);
  if (((guintptr) mt->view.data) % align == 0)
    return TRUE;
  gsize n = vv_tensor_n_bytes (&mt->view);
  mt->aligned_copy = g_aligned_alloc (MAX (n, 1), 1, 64);
  if (mt->aligned_copy == NULL) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE,
        "%s: cannot copy a misaligned tensor of %" G_GSIZE_FORMAT " bytes", path, n);
    return FALSE;
  }
  memcpy (mt->aligned_copy, mt->view.data, n);
  mt->view.data = mt->aligned_copy;
  (*n_copied)++;
  *copied_bytes += n;
  return TRUE;
}

static gboolean
add_shard (VvModel *model, const gchar *path, GError **error)
{
  VvSafetensors *st = vv_safetensors_open (path, error);
  if (st == NULL)
    return FALSE;
  g_ptr_array_add (model->shards, st);
  guint n_copied = 0;
  guint64 copied_bytes = 0;
  for (guint i = 0; i < vv_safetensors_get_n_tensors (st); i++) {
    const VvSafetensorsEntry *e = vv_safetensors_get_entry (st, i);
    ModelTensor *prev = g_hash_table_lookup (model->tensors, e->name);
    if (prev) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX,
          "tensor '%s' is stored twice: in %s and in %s", e->name,
          vv_safetensors_get_path (prev->shard), path);
      return FALSE;
    }
    ModelTensor *mt = g_new0 (ModelTensor, 1);
    mt->shard = st;
    if (!vv_safetensors_entry_to_tensor (e, &mt->view)) {
      /* Keep it visible for the dtype check, which names it. */
      mt->view.ndim = -1;
    } else if (!ensure_aligned (mt, path, &n_copied, &copied_bytes, error)) {
      g_free (mt);
      return FALSE;
    }
    g_hash_table_insert (model->tensors, (gpointer) e->name, mt);
  }
  if (n_copied > 0)
    g_info ("%s: %u tensor(s) are not aligned to their element size in the file; "
        "using aligned copies (%" G_GUINT64_FORMAT " bytes)", path, n_copied, copied_bytes);
  return TRUE;
}

/* A shard name from the index must be a plain file inside the folder. */
static gboolean
shard_name_ok (const gchar *name)
{
  return name[0] != '\0' && strchr (name, '/') == NULL && strchr (name, '\\') == NULL &&
      strcmp (name, ".") != 0 && strcmp (name, "..") != 0;
}

static gint
compare_str_ptr (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static gboolean
load_index (VvModel *model, const gchar *index_path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autoptr (GMappedFile) index_map = g_mapped_file_new (index_path, FALSE, &local);
  if (index_map == NULL) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "%s: %s", index_path,
        local->message);
    return FALSE;
  }
  const gchar *text = g_mapped_file_get_contents (index_map);
  gsize text_len = g_mapped_file_get_length (index_map);
  if (!vv_json_check_depth (text ? text : "", text_len, VV_JSON_MAX_DEPTH, index_path,
          VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, error))
    return FALSE;
  if (!json_parser_load_from_data (parser, text ? text : "", (gssize) text_len, &local)) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "%s: not valid JSON: %s",
        index_path, local->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *wm = obj ? json_object_get_member (obj, "weight_map") : NULL;
  if (wm == NULL || !JSON_NODE_HOLDS_OBJECT (wm)) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX,
        "%s: expected an object with a \"weight_map\" object", index_path);
    return FALSE;
  }
  JsonObject *map = json_node_get_object (wm);
  g_autoptr (GList) names = json_object_get_members (map);
  g_autoptr (GHashTable) shard_names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) ordered = g_ptr_array_new ();

  for (GList *l = names; l; l = l->next) {
    JsonNode *n = json_object_get_member (map, l->data);
    const gchar *file = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
        ? json_node_get_string (n) : NULL;
    if (file == NULL || !shard_name_ok (file)) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX,
          "%s: weight_map entry '%s' must name a shard file in the same folder",
          index_path, (const gchar *) l->data);
      return FALSE;
    }
    if (!g_hash_table_contains (shard_names, file)) {
      g_hash_table_add (shard_names, (gpointer) file);
      g_ptr_array_add (ordered, (gpointer) file);
    }
  }
  if (ordered->len == 0) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX, "%s: weight_map is empty", index_path);
    return FALSE;
  }
  g_ptr_array_sort (ordered, compare_str_ptr);
  for (guint i = 0; i < ordered->len; i++) {
    g_autofree gchar *path = g_build_filename (model->dir, ordered->pdata[i], NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE,
          "%s: shard %s listed in %s does not exist", model->dir,
          (const gchar *) ordered->pdata[i], "model.safetensors.index.json");
      return FALSE;
    }
    if (!add_shard (model, path, error))
      return FALSE;
  }
  /* Every mapped tensor must sit in the shard the index names. */
  for (GList *l = names; l; l = l->next) {
    const gchar *file = json_object_get_string_member (map, l->data);
    ModelTensor *mt = g_hash_table_lookup (model->tensors, l->data);
    g_autofree gchar *base = mt ? g_path_get_basename (vv_safetensors_get_path (mt->shard)) : NULL;
    if (mt == NULL || g_strcmp0 (base, file) != 0) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_INDEX,
          "%s: tensor '%s' is mapped to %s but %s", index_path, (const gchar *) l->data, file,
          mt ? "stored in another shard" : "no shard holds it");
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
read_scalar (VvModel *model, const gchar *name, gfloat *out, GError **error)
{
  ModelTensor *mt = g_hash_table_lookup (model->tensors, name);
  g_assert (mt != NULL);                   /* validated before */
  *out = vv_tensor_get_f32 (&mt->view, 0);
  if (!isfinite (*out)) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE,
        "%s: tensor '%s' is %f; the checkpoint was saved before its speech statistics were set",
        vv_safetensors_get_path (mt->shard), name, *out);
    return FALSE;
  }
  return TRUE;
}

static gboolean
validate (VvModel *model, GError **error)
{
  const VvConfig *c = model->config;
  model->has_lm_head = g_hash_table_contains (model->tensors, "lm_head.weight");
  if (!model->has_lm_head && !c->lm.tie_word_embeddings) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR,
        "%s: tensor 'lm_head.weight' is missing and config.json says the embeddings are not tied",
        model->dir);
    return FALSE;
  }
  g_autoptr (GArray) layout = vv_layout_tensors (c, model->has_lm_head, error);
  if (layout == NULL)
    return FALSE;
  for (guint i = 0; i < layout->len; i++) {
    const VvTensorInfo *ti = &g_array_index (layout, VvTensorInfo, i);
    ModelTensor *mt = g_hash_table_lookup (model->tensors, ti->name);
    g_autofree gchar *want = vv_shape_string (ti->ndim, ti->shape);
    if (mt == NULL) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR,
          "%s: tensor '%s' %s is missing from the checkpoint", model->dir, ti->name, want);
      return FALSE;
    }
    const VvSafetensorsEntry *e = vv_safetensors_lookup (mt->shard, ti->name);
    if (!e->supported) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE,
          "%s: tensor '%s' has dtype %s; weights must be BF16, F16 or F32",
          vv_safetensors_get_path (mt->shard), ti->name, e->dtype_name);
      return FALSE;
    }
    gboolean same = e->ndim == ti->ndim;
    for (gint d = 0; same && d < ti->ndim; d++)
      same = e->shape[d] == ti->shape[d];
    if (!same) {
      g_autofree gchar *found = vv_shape_string (MIN (e->ndim, VV_MAX_DIMS), e->shape);
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
          "%s: tensor '%s' has shape %s%s, but config.json implies %s",
          vv_safetensors_get_path (mt->shard), ti->name, found,
          e->ndim > VV_MAX_DIMS ? "…" : "", want);
      return FALSE;
    }
    gint64 n = vv_tensor_n_elements (&mt->view);
    model->component_params[ti->component] += n;
    model->component_bytes[ti->component] += e->n_bytes;
  }
  if (g_hash_table_size (model->tensors) > layout->len)
    g_info ("%s: %u tensors in the checkpoint are not used by this engine", model->dir,
        g_hash_table_size (model->tensors) - layout->len);
  for (guint i = 0; i < VV_COMPONENT_COUNT; i++)
    model->n_bytes += model->component_bytes[i];
  return read_scalar (model, "model.speech_scaling_factor", &model->scaling_factor, error) &&
      read_scalar (model, "model.speech_bias_factor", &model->bias_factor, error);
}

static void
prefault (VvModel *model)
{
  /* Read one byte per page so the kernel maps the whole checkpoint now. */
  volatile guint8 sink = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, model->tensors);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    ModelTensor *mt = value;
    if (mt->view.ndim < 0)
      continue;
    const guint8 *p = mt->view.data;
    gsize n = vv_tensor_n_bytes (&mt->view);
    for (gsize off = 0; off < n; off += 4096)
      sink ^= p[off];
  }
  (void) sink;
}

/**
 * vv_model_load:
 * @dir: a Hugging Face VibeVoice folder
 * @flags: #VvModelLoadFlags
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the model, with every tensor mapped
 *   and validated against config.json
 */
VvModel *
vv_model_load (const gchar *dir, VvModelLoadFlags flags, GError **error)
{
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE, "%s: model folder does not exist", dir);
    return NULL;
  }
  g_autoptr (VvModel) model = g_new0 (VvModel, 1);
  g_mutex_init (&model->store_lock);
  model->ref_count = 1;
  model->dir = g_strdup (dir);
  model->shards = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_safetensors_free);
  model->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, model_tensor_free);
  model->config = vv_config_load (dir, error);
  if (model->config == NULL)
    return NULL;

  g_autofree gchar *index = g_build_filename (dir, "model.safetensors.index.json", NULL);
  g_autofree gchar *single = g_build_filename (dir, "model.safetensors", NULL);
  if (g_file_test (index, G_FILE_TEST_EXISTS)) {
    if (!load_index (model, index, error))
      return NULL;
  } else if (g_file_test (single, G_FILE_TEST_EXISTS)) {
    if (!add_shard (model, single, error))
      return NULL;
  } else {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_FILE,
        "%s: neither model.safetensors nor model.safetensors.index.json is there", dir);
    return NULL;
  }
  if (!validate (model, error))
    return NULL;
  if (flags & VV_MODEL_LOAD_PREFAULT)
    prefault (model);
  model->int8 = (flags & VV_MODEL_LOAD_INT8) != 0;
  return g_steal_pointer (&model);
}

/**
 * vv_model_get_config:
 * @model: a model
 *
 * Returns: (transfer none): the model's configuration
 */
const VvConfig *
vv_model_get_config (VvModel *model)
{
  return model->config;
}

const gchar *
vv_model_get_dir (VvModel *model)
{
  return model->dir;
}

/**
 * vv_model_get_tensor: (skip)
 * @model: a model
 * @name: checkpoint tensor name
 *
 * Returns: (transfer none) (nullable): a view of the mapped tensor
 */
const VvTensor *
vv_model_get_tensor (VvModel *model, const gchar *name)
{
  ModelTensor *mt = g_hash_table_lookup (model->tensors, name);
  return mt && mt->view.ndim >= 0 ? &mt->view : NULL;
}

/**
 * vv_model_require_tensor: (skip)
 * @model: a model
 * @name: checkpoint tensor name
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): a view of the mapped tensor
 */
const VvTensor *
vv_model_require_tensor (VvModel *model, const gchar *name, GError **error)
{
  const VvTensor *t = vv_model_get_tensor (model, name);
  if (t == NULL)
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR,
        "%s: tensor '%s' is missing from the checkpoint", model->dir, name);
  return t;
}

gboolean
vv_model_has_int8_weights (VvModel *model)
{
  return model->int8;
}

gboolean
vv_model_int8_quantises (const gchar *name)
{
  /* the bandwidth-bound blocks: every linear of the decoder layers and of
   * the diffusion head (all its 2-D tensors are linear weights) */
  return (g_str_has_prefix (name, "model.language_model.layers.")
      || g_str_has_prefix (name, "model.prediction_head.")) && g_str_has_suffix (name, ".weight");
}

/* Rows [r0, r1) of @w into @q; FALSE (with *@bad_row) on a non-finite row. */
typedef struct {
  const VvTensor *w;
  VvTensor *q;
  gint64 r0, r1;
  gint64 bad_row;               /* -1: none */
} QuantJob;

static gpointer
quantize_rows (gpointer data)
{
  QuantJob *job = data;
  const VvTensor *w = job->w;
  gint64 cols = w->shape[1];
  gsize es = vv_dtype_size (w->dtype);
  gfloat *row = g_new (gfloat, MAX (cols, 1));
  /* 1.5 · 2^23: adding and subtracting it rounds |v| < 2^22 to the nearest
   * integer, ties to even (the FPU's mode), in a loop the compiler
   * vectorises (lrintf would not be) */
  const gfloat magic = 12582912.0f;
  for (gint64 r = job->r0; r < job->r1; r++) {
    vv_convert_to_f32 (w->dtype, (const guint8 *) w->data + (gsize) (r * cols) * es, row, cols);
    gfloat amax = 0.0f;
    gboolean finite = TRUE;
    for (gint64 k = 0; k < cols; k++) {
      gfloat a = fabsf (row[k]);
      finite &= a <= G_MAXFLOAT;        /* FALSE for ±inf and NaN */
      amax = a > amax ? a : amax;
    }
    if (!finite) {
      job->bad_row = r;
      break;
    }
    /* symmetric: codes -127..127, 0 stays exactly 0 */
    gfloat scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    gint8 *qr = (gint8 *) job->q->data + r * cols;
    for (gint64 k = 0; k < cols; k++) {
      gfloat v = (row[k] * inv + magic) - magic;
      v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
      qr[k] = (gint8) v;
    }
    job->q->row_scales[r] = scale;
  }
  g_free (row);
  return NULL;
}

VvTensor *
vv_quantize_int8_rows (const VvTensor *w, const gchar *what, GError **error)
{
  if (w->ndim != 2 || !vv_tensor_is_contiguous (w) || w->device != NULL
      || (w->dtype != VV_DTYPE_F32 && w->dtype != VV_DTYPE_F16 && w->dtype != VV_DTYPE_BF16)) {
    g_autofree gchar *sh = vv_tensor_shape_string (w);
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE,
        "%s: cannot quantise a %s %s tensor to int8 (needs a contiguous 2-D float tensor)",
        what, vv_dtype_name (w->dtype), sh);
    return NULL;
  }
  gint64 rows = w->shape[0], cols = w->shape[1];
  VvTensor *q = vv_tensor_new_i8 (rows, cols);
  if (q == NULL) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "%s: out of memory for its int8 copy (%" G_GINT64_FORMAT " x %" G_GINT64_FORMAT ")",
        what, rows, cols);
    return NULL;
  }
  /* a few threads for big tensors: a 1.5B model has 1.3 G weights to do */
  gint n_jobs = rows * cols >= (1 << 20) ? (gint) CLAMP (g_get_num_processors (), 1, 16) : 1;
  n_jobs = (gint) MIN ((gint64) n_jobs, MAX (rows, 1));
  QuantJob jobs[16];
  GThread *threads[16] = { NULL, };
  for (gint i = 0; i < n_jobs; i++) {
    jobs[i] = (QuantJob) { w, q, rows * i / n_jobs, rows * (i + 1) / n_jobs, -1 };
    if (i > 0)
      threads[i] = g_thread_try_new ("vv-quantise", quantize_rows, &jobs[i], NULL);
  }
  quantize_rows (&jobs[0]);
  gint64 bad = jobs[0].bad_row;
  for (gint i = 1; i < n_jobs; i++) {
    if (threads[i] != NULL)
      g_thread_join (threads[i]);
    else
      quantize_rows (&jobs[i]);         /* no thread to be had: do it here */
    if (bad < 0)
      bad = jobs[i].bad_row;
  }
  if (bad >= 0) {
    vv_tensor_free (q);
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE,
        "%s: row %" G_GINT64_FORMAT " holds a non-finite value; it cannot be quantised to "
        "int8", what, bad);
    return NULL;
  }
  return q;
}

/* @dev's weight store (name -> tensor), made on first use; call with
 * store_lock held. */
static GHashTable *
store_for_device (VvModel *model, VvDevice *dev)
{
  if (model->device_weights == NULL)
    model->device_weights = g_hash_table_new_full (NULL, NULL, NULL,
        (GDestroyNotify) g_hash_table_unref);
  GHashTable *store = g_hash_table_lookup (model->device_weights, dev);
  if (store == NULL) {
    store = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) vv_tensor_free);
    g_hash_table_insert (model->device_weights, dev, store);
  }
  return store;
}

/* The int8 copy of @host in @model's host store (made on first use). */
static const VvTensor *
require_int8 (VvModel *model, VvDevice *dev, const gchar *name, const VvTensor *host,
    GError **error)
{
  if (!vv_device_is_host (dev)) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE,
        "%s: int8 weights (tensor '%s') run only on the cpu backend, not on the %s device; "
        "load the model without int8 weights for it", model->dir, name,
        vv_device_get_name (dev));
    return NULL;
  }
  g_mutex_lock (&model->store_lock);
  GHashTable *store = store_for_device (model, dev);
  VvTensor *t = g_hash_table_lookup (store, name);
  if (t == NULL) {
    g_autofree gchar *what = g_strdup_printf ("%s: tensor '%s'", model->dir, name);
    t = vv_quantize_int8_rows (host, what, error);
    if (t != NULL)
      g_hash_table_insert (store, g_strdup (name), t);
  }
  g_mutex_unlock (&model->store_lock);
  return t;
}

/**
 * vv_model_require_tensor_on: (skip)
 * @model: a model
 * @be: the backend that will read the tensor
 * @name: checkpoint tensor name
 * @error: return location for a #GError
 *
 * The weight @name in the memory of @be's device. On the host this is the
 * mapped checkpoint view itself (no copy), or for a model loaded with
 * VV_MODEL_LOAD_INT8 and a tensor it quantises, the int8 copy made once on
 * first use; on a device the tensor is
 * uploaded once, in its stored dtype, on first use, and every later caller
 * on the same device (any backend instance, any session) gets the same
 * copy. Device copies live as long as the model.
 *
 * Returns: (transfer none) (nullable): the tensor
 */
const VvTensor *
vv_model_require_tensor_on (VvModel *model, VvBackend *be, const gchar *name, GError **error)
{
  const VvTensor *host = vv_model_require_tensor (model, name, error);
  if (host == NULL)
    return NULL;
  VvDevice *dev = vv_backend_get_device (be);
  if (model->int8 && host->ndim == 2 && vv_model_int8_quantises (name))
    return require_int8 (model, dev, name, host, error);
  if (vv_device_is_host (dev))
    return host;

  g_mutex_lock (&model->store_lock);
  GHashTable *store = store_for_device (model, dev);
  VvTensor *t = g_hash_table_lookup (store, name);
  if (t == NULL) {
    GError *local = NULL;
    t = vv_backend_tensor_new_from_host (be, host, &local);
    if (t == NULL) {
      g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
          "%s: cannot upload tensor '%s' to the %s device: %s", model->dir, name,
          vv_device_get_name (dev), local->message);
      g_error_free (local);
    } else {
      g_hash_table_insert (store, g_strdup (name), t);
    }
  }
  g_mutex_unlock (&model->store_lock);
  return t;
}

/**
 * vv_model_get_lm_head_name: (skip)
 * @model: a model
 *
 * Returns: "lm_head.weight", or the tied embedding's name
 */
const gchar *
vv_model_get_lm_head_name (VvModel *model)
{
  return model->has_lm_head ? "lm_head.weight" : "model.language_model.embed_tokens.weight";
}

/**
 * vv_model_get_lm_head: (skip)
 * @model: a model
 *
 * Returns: (transfer none): lm_head.weight, or the tied embedding
 */
const VvTensor *
vv_model_get_lm_head (VvModel *model)
{
  return vv_model_get_tensor (model, model->has_lm_head ? "lm_head.weight"
      : "model.language_model.embed_tokens.weight");
}

gfloat
vv_model_get_speech_scaling_factor (VvModel *model)
{
  return model->scaling_factor;
}

gfloat
vv_model_get_speech_bias_factor (VvModel *model)
{
  return model->bias_factor;
}

guint
vv_model_get_n_shards (VvModel *model)
{
  return model->shards->len;
}

guint64
vv_model_get_n_bytes (VvModel *model)
{
  return model->n_bytes;
}

guint64
vv_model_get_component_params (VvModel *model, VvComponent component)
{
  g_return_val_if_fail ((guint) component < VV_COMPONENT_COUNT, 0);
  return model->component_params[component];
}

guint64
vv_model_get_component_bytes (VvModel *model, VvComponent component)
{
  g_return_val_if_fail ((guint) component < VV_COMPONENT_COUNT, 0);
  return model->component_bytes[component];
}

/* Takes a reference unless the count already reached 0 (the model is being
 * freed by another thread, which will remove it from the table). */
static gboolean
ref_if_alive (VvModel *model)
{
  gint old = g_atomic_int_get (&model->ref_count);
  while (old > 0) {
    if (g_atomic_int_compare_and_exchange_full (&model->ref_count, old, old + 1, &old))
      return TRUE;
  }
  return FALSE;
}

/**
 * vv_model_load_shared:
 * @dir: a Hugging Face VibeVoice folder
 * @flags: #VvModelLoadFlags (used only when the model is not loaded yet)
 * @error: return location for a #GError
 *
 * Like vv_model_load(), but every caller in the process that names the same
 * folder (after resolving symlinks) gets the same #VvModel, so several
 * elements and pipelines share one copy of the weights. Thread-safe.
 *
 * Returns: (transfer full) (nullable): the model
 */
VvModel *
vv_model_load_shared (const gchar *dir, VvModelLoadFlags flags, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  g_autofree gchar *key = g_canonicalize_filename (dir, NULL);
  char *real = realpath (key, NULL);
  if (real != NULL) {
    g_free (key);
    key = g_strdup (real);
    free (real);
  }
  if (flags & VV_MODEL_LOAD_INT8) {
    /* int8 and checkpoint-dtype users each get their own model (the
     * mapping's pages are shared by the kernel either way) */
    gchar *k = g_strconcat (key, "#int8", NULL);
    g_free (key);
    key = k;
  }
  /* Loading happens under the lock so two callers never map the same
   * checkpoint twice; loading is mmap + validation, i.e. short. */
  g_mutex_lock (&shared_lock);
  if (shared_models == NULL)
    shared_models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  VvModel *m = g_hash_table_lookup (shared_models, key);
  if (m != NULL && ref_if_alive (m)) {
    g_mutex_unlock (&shared_lock);
    return m;
  }
  m = vv_model_load (dir, flags, error);
  if (m != NULL) {
    m->shared_key = g_strdup (key);
    g_hash_table_replace (shared_models, g_steal_pointer (&key), m);
  }
  g_mutex_unlock (&shared_lock);
  return m;
}
