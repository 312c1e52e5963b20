/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The Qwen2 decoder LM (MODEL-SPEC §6) and its KV caches (§2.1–2.3).
 *
 * Layer l, on rows x[n, H]:
 *   h = RMSNorm(x; input_layernorm)
 *   q, k, v = h·Wqᵀ + bq, h·Wkᵀ + bk, h·Wvᵀ + bv;  RoPE on q and k
 *   k, v are appended to the cache (keys after RoPE, §6)
 *   x += o_proj(Attn(q, K, V))                      (causal GQA)
 *   y = RMSNorm(x; post_attention_layernorm)
 *   x += down(SiLU(gate(y)) ⊙ up(y))
 * then the final RMSNorm. Positions are the cache length onwards.
 */
#include "vv-lm.h"
#include "vv-rng.h"

#include <string.h>

#define DEFAULT_CHUNK 256
#define DEFAULT_CAPACITY 256

static const gint32 control_ids[VV_LM_N_CONTROL] = {
  VV_TOKEN_SPEECH_START, VV_TOKEN_SPEECH_END, VV_TOKEN_DIFFUSION, VV_TOKEN_EOS,
};

typedef struct {
  const VvTensor *in_norm, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w;
  const VvTensor *post_norm, *gate_w, *up_w, *down_w;
} LmLayer;

struct _VvLm {
  VvBackend *be;
  VvLmConfig cfg;
  gint hidden, q_width, kv_width, inter;
  const VvTensor *embed, *norm;
  LmLayer *layers;
  VvTensor *control_rows;       /* F32 [4, H]: lm_head rows of control_ids */
  gsize chunk_size;
  /* device scratch for up to scratch_rows rows; pos is I32 [scratch_rows] */
  gsize scratch_rows;
  VvTensor *x, *h, *q, *att, *o, *g, *u, *pos;
  VvTensor *kf, *vf;            /* F32 new keys/values on their way into a BF16 or I8 cache */
  gint32 *host_pos;             /* staging for the positions upload */
  /* host-pointer convenience API: staging in device memory */
  VvTensor *io_in, *io_out;
};

struct _VvKvCache {
  VvLm *lm;
  VvDType dtype;                /* F32, BF16 or I8 (one scale per token and KV head) */
  gsize length, capacity, max_tokens;
  VvTensor **k, **v;            /* per layer, device [capacity, kv_width] */
};

static gboolean
lm_error (GError **error, VvBackendError code, const gchar *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
lm_error (GError **error, VvBackendError code, const gchar *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VV_BACKEND_ERROR, code, "lm: %s", msg);
  return FALSE;
}

static void
free_scratch (VvLm *lm)
{
  VvTensor **ts[] = { &lm->x, &lm->h, &lm->q, &lm->att, &lm->o, &lm->g, &lm->u, &lm->pos,
    &lm->kf, &lm->vf };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    g_clear_pointer (ts[i], vv_tensor_free);
  g_clear_pointer (&lm->host_pos, g_free);
  lm->scratch_rows = 0;
}

void
vv_lm_free (VvLm *lm)
{
  if (lm == NULL)
    return;
  free_scratch (lm);
  vv_tensor_free (lm->io_in);
  vv_tensor_free (lm->io_out);
  vv_tensor_free (lm->control_rows);
  g_free (lm->layers);
  g_free (lm);
}

static gboolean ensure_scratch (VvLm *lm, gsize rows, GError **error);

/* Requires @name with exactly the given 1-D or 2-D shape (d1 = 0: 1-D). */
static const VvTensor *
require (VvModel *model, VvBackend *be, const gchar *name, gint64 d0, gint64 d1,
    GError **error)
{
  const VvTensor *t = vv_model_require_tensor_on (model, be, name, error);
  if (t == NULL)
    return NULL;
  gboolean ok = d1 == 0 ? (t->ndim == 1 && t->shape[0] == d0)
      : (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1);
  if (!ok || !vv_tensor_is_contiguous (t)) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    if (d1 == 0)
      lm_error (error, VV_BACKEND_ERROR_SHAPE, "tensor %s is %s, expected contiguous [%"
          G_GINT64_FORMAT "]", name, s, d0);
    else
      lm_error (error, VV_BACKEND_ERROR_SHAPE, "tensor %s is %s, expected contiguous [%"
          G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", name, s, d0, d1);
    return NULL;
  }
  return t;
}

/**
 * vv_lm_new: (skip)
 * @model: a loaded model (must outlive the LM)
 * @be: the backend to run on (weights come from the model's store for its
 *   device)
 * @error: return location for a #GError
 *
 * Resolves every weight of the decoder once (MODEL-SPEC §6).
 *
 * Returns: (transfer full) (nullable): the LM
 */
VvLm *
vv_lm_new (VvModel *model, VvBackend *be, GError **error)
{
  const VvLmConfig *c = &vv_model_get_config (model)->lm;
  if (c->hidden_size <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0
      || c->head_dim <= 0 || c->head_dim % 2 != 0 || c->n_heads % c->n_kv_heads != 0
      || c->intermediate_size <= 0 || c->vocab_size <= 0) {
    lm_error (error, VV_BACKEND_ERROR_SHAPE, "invalid decoder config (hidden %d, layers %d, "
        "heads %d/%d, head_dim %d, intermediate %d, vocab %d)", c->hidden_size, c->n_layers,
        c->n_heads, c->n_kv_heads, c->head_dim, c->intermediate_size, c->vocab_size);
    return NULL;
  }
  g_autoptr (VvLm) lm = g_new0 (VvLm, 1);
  lm->be = be;
  lm->cfg = *c;
  lm->hidden = c->hidden_size;
  lm->q_width = c->n_heads * c->head_dim;
  lm->kv_width = c->n_kv_heads * c->head_dim;
  lm->inter = c->intermediate_size;
  lm->chunk_size = DEFAULT_CHUNK;
  gint64 H = lm->hidden;

  if ((lm->embed = require (model, be, "model.language_model.embed_tokens.weight",
              c->vocab_size, H, error)) == NULL
      || (lm->norm = require (model, be, "model.language_model.norm.weight", H, 0,
              error)) == NULL)
    return NULL;
  lm->layers = g_new0 (LmLayer, c->n_layers);
  for (gint l = 0; l < c->n_layers; l++) {
    LmLayer *L = &lm->layers[l];
    struct { const VvTensor **slot; const gchar *suffix; gint64 d0, d1; } w[] = {
      { &L->in_norm, "input_layernorm.weight", H, 0 },
      { &L->q_w, "self_attn.q_proj.weight", lm->q_width, H },
      { &L->q_b, "self_attn.q_proj.bias", lm->q_width, 0 },
      { &L->k_w, "self_attn.k_proj.weight", lm->kv_width, H },
      { &L->k_b, "self_attn.k_proj.bias", lm->kv_width, 0 },
      { &L->v_w, "self_attn.v_proj.weight", lm->kv_width, H },
      { &L->v_b, "self_attn.v_proj.bias", lm->kv_width, 0 },
      { &L->o_w, "self_attn.o_proj.weight", H, lm->q_width },
      { &L->post_norm, "post_attention_layernorm.weight", H, 0 },
      { &L->gate_w, "mlp.gate_proj.weight", lm->inter, H },
      { &L->up_w, "mlp.up_proj.weight", lm->inter, H },
      { &L->down_w, "mlp.down_proj.weight", H, lm->inter },
    };
    for (guint i = 0; i < G_N_ELEMENTS (w); i++) {
      g_autofree gchar *name = g_strdup_printf ("model.language_model.layers.%d.%s", l,
          w[i].suffix);
      if ((*w[i].slot = require (model, be, name, w[i].d0, w[i].d1, error)) == NULL)
        return NULL;
    }
  }

  /* The four control rows of lm_head (§2.2; lm_head.weight or the tied
   * embedding, §6), converted to F32 once. */
  const VvTensor *head = vv_model_get_lm_head (model);
  if (head == NULL || head->ndim != 2 || head->shape[1] != H
      || head->shape[0] <= VV_TOKEN_DIFFUSION) {
    g_autofree gchar *s = head ? vv_tensor_shape_string (head) : g_strdup ("(missing)");
    lm_error (error, VV_BACKEND_ERROR_SHAPE, "lm_head %s cannot provide the control rows "
        "(need [> %d, %" G_GINT64_FORMAT "])", s, VV_TOKEN_DIFFUSION, H);
    return NULL;
  }
  const VvTensor *dev_head = vv_model_require_tensor_on (model, be,
      vv_model_get_lm_head_name (model), error);
  if (dev_head == NULL)
    return NULL;
  gint64 rows_shape[2] = { VV_LM_N_CONTROL, H }, n_ids = VV_LM_N_CONTROL;
  g_autoptr (VvTensor) ids = vv_backend_tensor_new (be, VV_DTYPE_I32, 1, &n_ids, error);
  if (ids == NULL
      || !vv_backend_tensor_set (be, ids, 0, control_ids, sizeof (control_ids), error)
      || (lm->control_rows = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, rows_shape,
              error)) == NULL
      || !vv_backend_get_rows (be, lm->control_rows, dev_head, ids, error))
    return NULL;
  if (!ensure_scratch (lm, lm->chunk_size == 0 ? DEFAULT_CHUNK : lm->chunk_size, error))
    return NULL;
  return g_steal_pointer (&lm);
}

gint
vv_lm_get_hidden_size (VvLm *lm)
{
  return lm->hidden;
}

void
vv_lm_set_chunk_size (VvLm *lm, gsize chunk_size)
{
  lm->chunk_size = chunk_size;
}

gsize
vv_lm_get_chunk_size (VvLm *lm)
{
  return lm->chunk_size;
}

/* Device scratch for @rows rows per pass, allocated once (at construction,
 * and again only if a longer chunk is asked for, never during a pass). */
static gboolean
ensure_scratch (VvLm *lm, gsize rows, GError **error)
{
  if (lm->scratch_rows >= rows)
    return TRUE;
  free_scratch (lm);
  if (rows > G_MAXINT32)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "chunk of %" G_GSIZE_FORMAT " rows is "
        "too long", rows);
  gint64 r = (gint64) rows;
  struct { VvTensor **t; VvDType dt; gint64 cols; } specs[] = {
    { &lm->x, VV_DTYPE_F32, lm->hidden }, { &lm->h, VV_DTYPE_F32, lm->hidden },
    { &lm->o, VV_DTYPE_F32, lm->hidden }, { &lm->q, VV_DTYPE_F32, lm->q_width },
    { &lm->att, VV_DTYPE_F32, lm->q_width }, { &lm->g, VV_DTYPE_F32, lm->inter },
    { &lm->u, VV_DTYPE_F32, lm->inter }, { &lm->pos, VV_DTYPE_I32, 0 },
    { &lm->kf, VV_DTYPE_F32, lm->kv_width }, { &lm->vf, VV_DTYPE_F32, lm->kv_width },
  };
  for (guint i = 0; i < G_N_ELEMENTS (specs); i++) {
    gint64 shape[2] = { r, specs[i].cols };
    GError *local = NULL;
    *specs[i].t = vv_backend_tensor_new (lm->be, specs[i].dt, specs[i].cols ? 2 : 1, shape,
        &local);
    if (*specs[i].t == NULL) {
      free_scratch (lm);
      lm_error (error, VV_BACKEND_ERROR_NO_MEMORY, "no memory for the scratch of %"
          G_GSIZE_FORMAT " rows: %s", rows, local->message);
      g_error_free (local);
      return FALSE;
    }
  }
  lm->host_pos = g_new (gint32, rows);
  lm->scratch_rows = rows;
  return TRUE;
}

/**
 * vv_lm_embed: (skip)
 * @lm: an LM
 * @ids: I32 [n] token ids in the LM's device memory
 * @out: F32 [n, H] in the LM's device memory
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success (ids out of range are an error)
 */
gboolean
vv_lm_embed (VvLm *lm, const VvTensor *ids, VvTensor *out, GError **error)
{
  return vv_backend_get_rows (lm->be, out, lm->embed, ids, error);
}

/* Device staging buffers of the host-pointer API, [rows, cols]. */
static VvTensor *
io_tensor (VvLm *lm, VvTensor **slot, gsize rows, gsize cols, GError **error)
{
  if (*slot == NULL || vv_tensor_n_elements (*slot) < (gint64) (rows * cols)) {
    g_clear_pointer (slot, vv_tensor_free);
    gint64 n = (gint64) (rows * cols);
    if ((*slot = vv_backend_tensor_new (lm->be, VV_DTYPE_F32, 1, &n, error)) == NULL)
      return NULL;
  }
  return *slot;
}

/**
 * vv_lm_embed_tokens: (skip)
 * @lm: an LM
 * @ids: (array length=n): token ids, host memory
 * @n: number of ids
 * @out: (array): n × H floats, host memory
 * @error: return location for a #GError
 *
 * Host-memory convenience around vv_lm_embed().
 *
 * Returns: %TRUE on success (ids out of range are an error)
 */
gboolean
vv_lm_embed_tokens (VvLm *lm, const gint32 *ids, gsize n, gfloat *out, GError **error)
{
  if (n == 0)
    return TRUE;
  if (ids == NULL || out == NULL || n > G_MAXINT)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "embed_tokens: need 1..%d ids and an "
        "output buffer", G_MAXINT);
  gint64 n_ids = (gint64) n, shape[2] = { (gint64) n, lm->hidden };
  g_autoptr (VvTensor) d_ids = vv_backend_tensor_new (lm->be, VV_DTYPE_I32, 1, &n_ids, error);
  g_autoptr (VvTensor) d_out = d_ids ? vv_backend_tensor_new (lm->be, VV_DTYPE_F32, 2, shape,
      error) : NULL;
  return d_out != NULL
      && vv_backend_tensor_set (lm->be, d_ids, 0, ids, n * sizeof (gint32), error)
      && vv_lm_embed (lm, d_ids, d_out, error)
      && vv_backend_tensor_get (lm->be, d_out, 0, out, vv_tensor_n_bytes (d_out), error);
}

/* --------------------------------------------------------------------- */
/* KV cache */

/**
 * vv_kv_cache_new: (skip)
 * @lm: the LM the cache belongs to
 * @capacity: tokens to allocate now (0 = a small default)
 * @max_tokens: most tokens ever held (0 = max_position_embeddings)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an empty cache
 */
VvKvCache *
vv_kv_cache_new (VvLm *lm, gsize capacity, gsize max_tokens, GError **error)
{
  return vv_kv_cache_new_full (lm, VV_DTYPE_F32, capacity, max_tokens, error);
}

/* One layer's keys or values for @cap tokens: [cap, kv_width] in the
 * cache's dtype; I8 (host memory) with its scales [cap, H_kv]. */
static VvTensor *
kv_tensor_new (const VvKvCache *c, gsize cap, GError **error)
{
  gint64 shape[2] = { (gint64) cap, c->lm->kv_width };
  if (c->dtype != VV_DTYPE_I8)
    return vv_backend_tensor_new (c->lm->be, c->dtype, 2, shape, error);
  VvTensor *t = vv_tensor_new_i8_groups (shape[0], shape[1], c->lm->cfg.n_kv_heads);
  if (t == NULL)
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "cannot allocate I8 [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] with its scales",
        shape[0], shape[1]);
  return t;
}

/**
 * vv_kv_cache_new_full: (skip)
 * @lm: the LM the cache belongs to
 * @dtype: %VV_DTYPE_F32, %VV_DTYPE_BF16 (half the bytes, as the
 *   reference's bf16 runs keep their cache) or %VV_DTYPE_I8 (about a
 *   quarter: int8 codes plus one F32 scale per token and KV head,
 *   quantised as they are appended; cpu backend only)
 * @capacity: tokens to allocate now (0 = a small default)
 * @max_tokens: most tokens ever held (0 = max_position_embeddings)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an empty cache
 */
VvKvCache *
vv_kv_cache_new_full (VvLm *lm, VvDType dtype, gsize capacity, gsize max_tokens,
    GError **error)
{
  if (dtype != VV_DTYPE_F32 && dtype != VV_DTYPE_BF16 && dtype != VV_DTYPE_I8) {
    lm_error (error, VV_BACKEND_ERROR_DTYPE, "kv cache dtype %s: must be F32, BF16 or I8",
        vv_dtype_name (dtype));
    return NULL;
  }
  /* only the cpu backend's attention reads int8 keys/values */
  if (dtype == VV_DTYPE_I8 && !vv_device_is_host (vv_backend_get_device (lm->be))) {
    lm_error (error, VV_BACKEND_ERROR_UNAVAILABLE, "kv cache dtype I8 (int8): runs only on "
        "the cpu backend, not on %s (use F32 or BF16)", vv_backend_get_name (lm->be));
    return NULL;
  }
  if (max_tokens == 0)
    max_tokens = lm->cfg.max_position_embeddings > 0 ? (gsize) lm->cfg.max_position_embeddings
        : G_MAXINT32;
  if (capacity == 0)
    capacity = MIN ((gsize) DEFAULT_CAPACITY, max_tokens);
  if (capacity > max_tokens) {
    lm_error (error, VV_BACKEND_ERROR_SHAPE, "kv cache capacity %" G_GSIZE_FORMAT
        " exceeds its maximum of %" G_GSIZE_FORMAT " tokens", capacity, max_tokens);
    return NULL;
  }
  g_autoptr (VvKvCache) c = g_new0 (VvKvCache, 1);
  c->lm = lm;
  c->dtype = dtype;
  c->max_tokens = max_tokens;
  c->k = g_new0 (VvTensor *, lm->cfg.n_layers);
  c->v = g_new0 (VvTensor *, lm->cfg.n_layers);
  for (gint l = 0; l < lm->cfg.n_layers; l++) {
    GError *local = NULL;
    if ((c->k[l] = kv_tensor_new (c, capacity, &local)) == NULL
        || (c->v[l] = kv_tensor_new (c, capacity, &local)) == NULL) {
      lm_error (error, VV_BACKEND_ERROR_NO_MEMORY, "no memory for a kv cache of %"
          G_GSIZE_FORMAT " tokens: %s", capacity, local->message);
      g_error_free (local);
      return NULL;
    }
  }
  c->capacity = capacity;
  return g_steal_pointer (&c);
}

void
vv_kv_cache_free (VvKvCache *cache)
{
  if (cache == NULL)
    return;
  for (gint l = 0; l < cache->lm->cfg.n_layers; l++) {
    if (cache->k != NULL)
      vv_tensor_free (cache->k[l]);
    if (cache->v != NULL)
      vv_tensor_free (cache->v[l]);
  }
  g_free (cache->k);
  g_free (cache->v);
  g_free (cache);
}

gsize
vv_kv_cache_get_length (VvKvCache *cache)
{
  return cache->length;
}

gsize
vv_kv_cache_get_capacity (VvKvCache *cache)
{
  return cache->capacity;
}

VvDType
vv_kv_cache_get_dtype (VvKvCache *cache)
{
  return cache->dtype;
}

void
vv_kv_cache_reset (VvKvCache *cache)
{
  cache->length = 0;
}

/* Drops the positions from @length on (a speculative pass taken back). */
gboolean
vv_kv_cache_truncate (VvKvCache *cache, gsize length, GError **error)
{
  if (length > cache->length)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "kv cache truncate: %" G_GSIZE_FORMAT
        " is past its length %" G_GSIZE_FORMAT, length, cache->length);
  cache->length = length;
  return TRUE;
}

/* A bigger copy of one layer's cache: a new device tensor, the filled rows
 * copied on the device, the old one freed (live memory is never resized). */
static gboolean
kv_grow_one (VvKvCache *c, VvTensor **slot, gsize cap, GError **error)
{
  VvTensor *bigger = kv_tensor_new (c, cap, error);
  if (bigger == NULL)
    return FALSE;
  VvTensor dst, src;
  vv_tensor_init_rows (&dst, bigger, 0, (gint64) c->length);
  vv_tensor_init_rows (&src, *slot, 0, (gint64) c->length);
  if (!vv_backend_tensor_copy (c->lm->be, &dst, &src, error)) {
    vv_tensor_free (bigger);
    return FALSE;
  }
  vv_tensor_free (*slot);
  *slot = bigger;
  return TRUE;
}

/* Makes room for @need tokens in total (doubling, capped at max_tokens). */
static gboolean
kv_reserve (VvKvCache *c, gsize need, GError **error)
{
  if (need <= c->capacity)
    return TRUE;
  if (need > c->max_tokens)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "kv cache full: %" G_GSIZE_FORMAT
        " + %" G_GSIZE_FORMAT " tokens exceed its maximum of %" G_GSIZE_FORMAT
        " (max_position_embeddings or the cache's limit)", c->length, need - c->length,
        c->max_tokens);
  gsize cap = MAX (need, MIN (c->capacity * 2, c->max_tokens));
  for (gint l = 0; l < c->lm->cfg.n_layers; l++) {
    GError *local = NULL;
    /* layers already grown keep their content; capacity stays the old one
     * until all have grown */
    if ((vv_tensor_n_elements (c->k[l]) < (gint64) (cap * c->lm->kv_width)
            && !kv_grow_one (c, &c->k[l], cap, &local))
        || (vv_tensor_n_elements (c->v[l]) < (gint64) (cap * c->lm->kv_width)
            && !kv_grow_one (c, &c->v[l], cap, &local))) {
      lm_error (error, VV_BACKEND_ERROR_NO_MEMORY, "cannot grow a kv cache to %"
          G_GSIZE_FORMAT " tokens: %s", cap, local->message);
      g_error_free (local);
      return FALSE;
    }
  }
  c->capacity = cap;
  return TRUE;
}

/**
 * vv_kv_cache_fill_synthetic: (skip)
 * @cache: a KV cache
 * @n: positions to append
 * @seed: seed of the pseudo-random values
 * @error: return location for a #GError
 *
 * Appends @n positions of deterministic pseudo-random keys and values to
 * every layer, so a benchmark can run at a deep context position without
 * prefilling it: about N(0, 1) · 0.5 (sums of four uniforms from a
 * splitmix64 stream seeded with @seed). One block of 1024 positions is
 * drawn and each uploaded block is it rotated by a random offset, so the
 * fill runs at copy speed (64K positions of a 1.5B cache in seconds). The
 * values are converted to the cache's own dtype.
 *
 * Returns: %TRUE on success; %FALSE if @n more would exceed the cache's
 *   maximum (nothing appended then)
 */
gboolean
vv_kv_cache_fill_synthetic (VvKvCache *cache, gsize n, guint32 seed, GError **error)
{
  VvKvCache *c = cache;
  if (n == 0)
    return TRUE;
  if (n > c->max_tokens - c->length)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "kv cache synthetic fill: %"
        G_GSIZE_FORMAT " + %" G_GSIZE_FORMAT " tokens exceed its maximum of %"
        G_GSIZE_FORMAT, c->length, n, c->max_tokens);
  if (!kv_reserve (c, c->length + n, error))
    return FALSE;
  /* upload in chunks so the host staging stays small at 64K positions */
  const gsize width = (gsize) c->lm->kv_width, chunk = MIN (n, (gsize) 1024);
  const gsize pool_n = chunk * width;
  g_autofree gfloat *pool = g_new (gfloat, pool_n);
  g_autofree gfloat *f = g_new (gfloat, pool_n);
  g_autofree guint8 *conv = NULL;
  guint64 state = seed;
  /* Irwin–Hall: four 16-bit uniforms of one draw sum to mean 2, variance
   * 1/3; scaled to standard deviation 0.5 */
  for (gsize i = 0; i < pool_n; i++) {
    guint64 z = vv_splitmix64 (&state);
    guint sum = (guint) (z & 0xffff) + (guint) ((z >> 16) & 0xffff)
        + (guint) ((z >> 32) & 0xffff) + (guint) (z >> 48);
    pool[i] = ((gfloat) sum / 65536.0f - 2.0f) * 0.8660254f;    /* 0.5 · √3 */
  }
  gboolean ok = TRUE;
  for (gint l = 0; ok && l < c->lm->cfg.n_layers; l++) {
    VvTensor *ts[2] = { c->k[l], c->v[l] };
    for (guint kv = 0; ok && kv < 2; kv++) {
      VvTensor *t = ts[kv];
      gsize esize = vv_dtype_size (t->dtype);
      if (conv == NULL && t->dtype != VV_DTYPE_F32 && t->dtype != VV_DTYPE_I8)
        conv = g_malloc (chunk * width * MAX (esize, sizeof (gfloat)));
      for (gsize r0 = 0; ok && r0 < n; r0 += chunk) {
        gsize m = MIN (chunk, n - r0);
        gsize off = vv_splitmix64 (&state) % pool_n;
        memcpy (f, pool + off, (pool_n - off) * sizeof (gfloat));
        memcpy (f + (pool_n - off), pool, off * sizeof (gfloat));
        gconstpointer src = f;
        if (t->dtype == VV_DTYPE_I8) {
          /* quantised as appended rows are (host memory: f is a tensor) */
          VvTensor fv, dst;
          vv_tensor_init_view (&fv, VV_DTYPE_F32, 2, (gint64[]) { (gint64) m, (gint64) width }, f);
          vv_tensor_init_rows (&dst, t, (gint64) (c->length + r0), (gint64) m);
          ok = vv_backend_convert (c->lm->be, &dst, &fv, error);
          continue;
        }
        if (t->dtype != VV_DTYPE_F32) {
          vv_convert_from_f32 (t->dtype, f, conv, m * width);
          src = conv;
        }
        ok = vv_backend_tensor_set (c->lm->be, t, (c->length + r0) * width * esize, src,
            m * width * esize, error);
      }
    }
  }
  if (!ok) {
    g_prefix_error (error, "kv cache synthetic fill: ");
    return FALSE;
  }
  c->length += n;
  return TRUE;
}

/* Bytes one position takes in the cache: keys and values of every layer, in
 * the cache tensors' dtype (I8: plus one F32 scale per KV head). */
gsize
vv_kv_cache_get_bytes_per_token (VvKvCache *cache)
{
  const VvKvCache *c = cache;
  gsize bytes = 0;
  for (gint l = 0; l < c->lm->cfg.n_layers; l++)
    bytes += (gsize) c->lm->kv_width * (vv_dtype_size (c->k[l]->dtype)
        + vv_dtype_size (c->v[l]->dtype)) + sizeof (gfloat)
        * (gsize) (vv_tensor_get_scale_groups (c->k[l]) + vv_tensor_get_scale_groups (c->v[l]));
  return bytes;
}

/* --------------------------------------------------------------------- */
/* Forward */

/* The first @rows rows of scratch tensor @t, as [rows, cols]. */
static VvTensor *
rows_of (VvTensor *view, const VvTensor *t, gsize rows)
{
  vv_tensor_init_rows (view, t, 0, (gint64) rows);
  return view;
}

/* Rows of one pass that belong to one KV cache: they sit at its positions
 * length … length + n − 1. */
typedef struct {
  VvKvCache *c;
  gsize n;
} Segment;

/* One pass over the rows already in lm->x, grouped in @n_segs segments (one
 * cache each, consecutive rows). Everything but the keys/values and the
 * attention runs on all rows at once, so those weights are read once for all
 * segments (the k/v projections, ~3 % of a layer's weights at 1.5B, are run
 * per segment so they can write straight into each cache); the small-n
 * linear kernel's result per row does not depend on the
 * other rows, so a joint pass equals separate ones bit for bit. Leaves the
 * pre-norm residual in lm->x and advances the caches. */
static gboolean
forward_chunk (VvLm *lm, const Segment *segs, guint n_segs, GError **error)
{
  VvBackend *be = lm->be;
  const VvLmConfig *cfg = &lm->cfg;
  gfloat eps = (gfloat) cfg->rms_norm_eps;
  gsize n = 0;
  /* positions: n int32 uploaded per pass (4 bytes a token) */
  for (guint s = 0; s < n_segs; s++)
    for (gsize i = 0; i < segs[s].n; i++)
      lm->host_pos[n++] = (gint32) (segs[s].c->length + i);
  VvTensor pos;
  rows_of (&pos, lm->pos, n);
  if (!vv_backend_tensor_set (be, &pos, 0, lm->host_pos, n * sizeof (gint32), error))
    return FALSE;

  VvTensor x, h, q, att, o, g, u, kn, vn, kall, vall, hs, qs, atts, poss, kc, vc;
  rows_of (&x, lm->x, n);
  rows_of (&h, lm->h, n);
  rows_of (&o, lm->o, n);
  rows_of (&q, lm->q, n);
  rows_of (&att, lm->att, n);
  rows_of (&g, lm->g, n);
  rows_of (&u, lm->u, n);

  for (gint l = 0; l < cfg->n_layers; l++) {
    const LmLayer *L = &lm->layers[l];
    if (!vv_backend_rms_norm (be, &h, &x, L->in_norm, eps, error)
        || !vv_backend_linear (be, &q, &h, L->q_w, L->q_b, error)
        || !vv_backend_rope (be, &q, &q, cfg->head_dim, &pos, cfg->rope_theta, error))
      goto fail;
    /* per cache: new k/v go straight into it (keys after RoPE, §6), then
     * attention over everything it holds */
    gsize r0 = 0;
    for (guint s = 0; s < n_segs; s++) {
      VvKvCache *c = segs[s].c;
      gsize p0 = c->length, m = segs[s].n, t = p0 + m;
      /* an F32 cache takes the new rows directly; a BF16 one gets them
       * rounded, an I8 one quantised, once they are final (keys after RoPE) */
      gboolean direct = c->dtype == VV_DTYPE_F32;
      vv_tensor_init_rows (&kc, c->k[l], (gint64) p0, (gint64) m);
      vv_tensor_init_rows (&vc, c->v[l], (gint64) p0, (gint64) m);
      if (direct) {
        kn = kc;
        vn = vc;
      } else {
        rows_of (&kn, lm->kf, m);
        rows_of (&vn, lm->vf, m);
      }
      vv_tensor_init_rows (&kall, c->k[l], 0, (gint64) t);
      vv_tensor_init_rows (&vall, c->v[l], 0, (gint64) t);
      vv_tensor_init_rows (&hs, &h, (gint64) r0, (gint64) m);
      vv_tensor_init_rows (&qs, &q, (gint64) r0, (gint64) m);
      vv_tensor_init_rows (&atts, &att, (gint64) r0, (gint64) m);
      vv_tensor_init_rows (&poss, &pos, (gint64) r0, (gint64) m);
      if (!vv_backend_linear (be, &kn, &hs, L->k_w, L->k_b, error)
          || !vv_backend_linear (be, &vn, &hs, L->v_w, L->v_b, error)
          || !vv_backend_rope (be, &kn, &kn, cfg->head_dim, &poss, cfg->rope_theta, error)
          || (!direct && (!vv_backend_convert (be, &kc, &kn, error)
                  || !vv_backend_convert (be, &vc, &vn, error)))
          || !vv_backend_attention (be, &atts, &qs, &kall, &vall, cfg->head_dim, error)) {
        if (n_segs > 1)
          g_prefix_error (error, "positions %" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT ": ", p0,
            t - 1);
        goto fail;
      }
      r0 += m;
    }
    if (!vv_backend_linear (be, &o, &att, L->o_w, NULL, error)
        || !vv_backend_binary (be, VV_BINARY_ADD, &x, &x, &o, error))
      goto fail;
    /* MLP block */
    if (!vv_backend_rms_norm (be, &h, &x, L->post_norm, eps, error)
        || !vv_backend_linear (be, &g, &h, L->gate_w, NULL, error)
        || !vv_backend_linear (be, &u, &h, L->up_w, NULL, error)
        || !vv_backend_unary (be, VV_UNARY_SILU, &g, &g, error)
        || !vv_backend_binary (be, VV_BINARY_MUL, &g, &g, &u, error)
        || !vv_backend_linear (be, &o, &g, L->down_w, NULL, error)
        || !vv_backend_binary (be, VV_BINARY_ADD, &x, &x, &o, error))
      goto fail;
    continue;
fail:
    g_prefix_error (error, "lm layer %d (positions %" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT
        "): ", l, segs[0].c->length, segs[0].c->length + segs[0].n - 1);
    return FALSE;
  }
  for (guint s = 0; s < n_segs; s++)
    segs[s].c->length += segs[s].n;
  return TRUE;
}

/**
 * vv_lm_forward: (skip)
 * @lm: an LM
 * @cache: the branch's KV cache (appended to)
 * @embeds: F32 [n, H] input embeddings in the LM's device memory, n ≥ 1
 * @hidden: (nullable): F32 [n, H] for every row's hidden state after the
 *   final RMSNorm, or [1, H] for the last row's only; device memory
 * @error: return location for a #GError
 *
 * Runs the n new rows at positions cache length … + n − 1, appending their
 * keys/values to @cache. Long inputs are processed in chunks of
 * vv_lm_get_chunk_size() rows; the result equals one pass up to rounding.
 * On error the cache may hold part of the rows (reset it).
 *
 * Returns: %TRUE on success
 */
/* A cache holds only keys and values, so an LM may run it when the cache was
 * made by an LM of the same shape on the same backend (batched streams:
 * one session's LM runs the rows of all of them). Same weights is the
 * caller's business (sessions check they share the model). */
static gboolean
cache_fits (VvLm *lm, const VvKvCache *c)
{
  return c != NULL && (c->lm == lm || (c->lm->be == lm->be && c->lm->kv_width == lm->kv_width
          && c->lm->cfg.n_layers == lm->cfg.n_layers));
}

gboolean
vv_lm_forward (VvLm *lm, VvKvCache *cache, const VvTensor *embeds, VvTensor *hidden,
    GError **error)
{
  if (!cache_fits (lm, cache))
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward: cache missing or made for "
        "another LM");
  gsize H = lm->hidden;
  if (embeds == NULL || embeds->ndim != 2 || embeds->shape[1] != (gint64) H
      || embeds->shape[0] < 1 || embeds->shape[0] > G_MAXINT32)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward: need 1..%d rows of [n, %d] "
        "embeddings", G_MAXINT32, lm->hidden);
  gsize n = (gsize) embeds->shape[0];
  gboolean last_only = hidden != NULL && hidden->ndim == 2 && hidden->shape[0] == 1 && n > 1;
  if (hidden != NULL && (hidden->ndim != 2 || hidden->shape[1] != (gint64) H
          || (hidden->shape[0] != (gint64) n && !last_only)))
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward: hidden must be [%" G_GSIZE_FORMAT
        ", %" G_GSIZE_FORMAT "] or [1, %" G_GSIZE_FORMAT "]", n, H, H);
  if (!kv_reserve (cache, cache->length + n, error))
    return FALSE;
  gsize chunk = lm->chunk_size == 0 ? n : MIN (lm->chunk_size, n);
  if (!ensure_scratch (lm, chunk, error))
    return FALSE;
  VvTensor x, y, in;
  for (gsize r0 = 0; r0 < n; r0 += chunk) {
    gsize m = MIN (chunk, n - r0);
    vv_tensor_init_rows (&in, embeds, (gint64) r0, (gint64) m);
    Segment seg = { cache, m };
    if (!vv_backend_tensor_copy (lm->be, rows_of (&x, lm->x, m), &in, error)
        || !forward_chunk (lm, &seg, 1, error))
      return FALSE;
    if (hidden == NULL)
      continue;
    /* final RMSNorm (§6) */
    if (last_only) {
      if (r0 + m < n)
        continue;
      vv_tensor_init_rows (&x, lm->x, (gint64) m - 1, 1);
      y = *hidden;
    } else {
      rows_of (&x, lm->x, m);
      vv_tensor_init_rows (&y, hidden, (gint64) r0, (gint64) m);
    }
    if (!vv_backend_rms_norm (lm->be, &y, &x, lm->norm, (gfloat) lm->cfg.rms_norm_eps, error)) {
      g_prefix_error (error, "lm final norm: ");
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vv_lm_forward_rows: (skip)
 * @lm: an LM
 * @caches: (array length=n): n distinct KV caches, each appended one row
 * @embeds: (array length=n): n F32 [1, H] input rows in the LM's device memory
 * @hidden: (array length=n): n F32 [1, H] outputs (after the final RMSNorm)
 * @n: number of rows, 1 … 8
 * @error: return location for a #GError
 *
 * One decode step for several sequences at once: row i runs at position
 * length(caches[i]) against caches[i]. The weights are read once for all
 * rows (MODEL-SPEC §2.1's two CFG branches, or batched streams); each row's
 * result is bit-identical to vv_lm_forward() on it alone.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_lm_forward_rows (VvLm *lm, VvKvCache **caches, const VvTensor **embeds,
    VvTensor **hidden, guint n, GError **error)
{
  gint64 H = lm->hidden;
  if (n < 1 || n > VV_LM_MAX_JOINT_ROWS || caches == NULL || embeds == NULL || hidden == NULL)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward_rows: need 1..%d caches, inputs "
        "and outputs", VV_LM_MAX_JOINT_ROWS);
  Segment segs[VV_LM_MAX_JOINT_ROWS];
  for (guint i = 0; i < n; i++) {
    if (!cache_fits (lm, caches[i]))
      return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward_rows: cache %u missing or made "
          "for another LM", i);
    for (guint j = 0; j < i; j++)
      if (caches[j] == caches[i])
        return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward_rows: cache %u is also "
            "row %u's", i, j);
    const VvTensor *e = embeds[i], *y = hidden[i];
    if (e == NULL || e->ndim != 2 || e->shape[0] != 1 || e->shape[1] != H
        || y == NULL || y->ndim != 2 || y->shape[0] != 1 || y->shape[1] != H)
      return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward_rows: row %u needs [1, %"
          G_GINT64_FORMAT "] input and output", i, H);
    if (!kv_reserve (caches[i], caches[i]->length + 1, error))
      return FALSE;
    segs[i].c = caches[i];
    segs[i].n = 1;
  }
  if (!ensure_scratch (lm, n, error))
    return FALSE;
  VvTensor x;
  for (guint i = 0; i < n; i++) {
    vv_tensor_init_rows (&x, lm->x, i, 1);
    if (!vv_backend_tensor_copy (lm->be, &x, embeds[i], error))
      return FALSE;
  }
  if (!forward_chunk (lm, segs, n, error))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    vv_tensor_init_rows (&x, lm->x, i, 1);
    if (!vv_backend_rms_norm (lm->be, hidden[i], &x, lm->norm,
            (gfloat) lm->cfg.rms_norm_eps, error)) {
      g_prefix_error (error, "lm final norm: ");
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vv_lm_forward_host: (skip)
 * @lm: an LM
 * @cache: the branch's KV cache (appended to)
 * @embeds: (array): n × H input embeddings, host memory
 * @n: number of new rows (≥ 1)
 * @hidden_out: (array) (nullable): n × H, or H floats with @last_only
 * @last_only: write only the last row's hidden state
 * @error: return location for a #GError
 *
 * vv_lm_forward() on host memory (uploads @embeds, downloads the result).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_lm_forward_host (VvLm *lm, VvKvCache *cache, const gfloat *embeds, gsize n,
    gfloat *hidden_out, gboolean last_only, GError **error)
{
  if (embeds == NULL || n == 0 || n > G_MAXINT32)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward: need 1..%d rows of [n, %d] "
        "embeddings", G_MAXINT32, lm->hidden);
  gsize H = lm->hidden, out_rows = last_only ? 1 : n;
  if (!io_tensor (lm, &lm->io_in, n, H, error)
      || (hidden_out && !io_tensor (lm, &lm->io_out, out_rows, H, error)))
    return FALSE;
  VvTensor e, h;
  gint64 es[2] = { (gint64) n, (gint64) H }, hs[2] = { (gint64) out_rows, (gint64) H };
  vv_tensor_init_view (&e, VV_DTYPE_F32, 2, es, lm->io_in->data);
  e.device = lm->io_in->device;
  if (hidden_out) {
    vv_tensor_init_view (&h, VV_DTYPE_F32, 2, hs, lm->io_out->data);
    h.device = lm->io_out->device;
  }
  return vv_backend_tensor_set (lm->be, &e, 0, embeds, n * H * sizeof (gfloat), error)
      && vv_lm_forward (lm, cache, &e, hidden_out ? &h : NULL, error)
      && (hidden_out == NULL || vv_backend_tensor_get (lm->be, &h, 0, hidden_out,
              out_rows * H * sizeof (gfloat), error));
}

/**
 * vv_lm_logits_control: (skip)
 * @lm: an LM
 * @hidden: F32 [1, H] device memory, a hidden state after the final norm
 * @logits: F32 [1, 4] device memory: logits of speech_start, speech_end,
 *   diffusion, eos (MODEL-SPEC §2.2)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_lm_logits_control (VvLm *lm, const VvTensor *hidden, VvTensor *logits, GError **error)
{
  return vv_backend_linear (lm->be, logits, hidden, lm->control_rows, NULL, error);
}

/**
 * vv_lm_logits_control_host: (skip)
 * @lm: an LM
 * @hidden: (array): H floats, host memory
 * @logits: (array fixed-size=4): host memory
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_lm_logits_control_host (VvLm *lm, const gfloat *hidden, gfloat *logits, GError **error)
{
  if (hidden == NULL || logits == NULL)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "logits_control: missing buffers");
  gsize H = lm->hidden;
  if (!io_tensor (lm, &lm->io_in, 1, H, error)
      || !io_tensor (lm, &lm->io_out, 1, MAX (H, VV_LM_N_CONTROL), error))
    return FALSE;
  VvTensor x, y;
  gint64 xs[2] = { 1, (gint64) H }, ys[2] = { 1, VV_LM_N_CONTROL };
  vv_tensor_init_view (&x, VV_DTYPE_F32, 2, xs, lm->io_in->data);
  x.device = lm->io_in->device;
  vv_tensor_init_view (&y, VV_DTYPE_F32, 2, ys, lm->io_out->data);
  y.device = lm->io_out->device;
  return vv_backend_tensor_set (lm->be, &x, 0, hidden, H * sizeof (gfloat), error)
      && vv_lm_logits_control (lm, &x, &y, error)
      && vv_backend_tensor_get (lm->be, &y, 0, logits, sizeof (gfloat) * VV_LM_N_CONTROL,
          error);
}

/**
 * vv_lm_get_backend: (skip)
 * @lm: an LM
 *
 * Returns: (transfer none): the backend it runs on
 */
VvBackend *
vv_lm_get_backend (VvLm *lm)
{
  return lm->be;
}
