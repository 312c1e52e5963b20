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
  /* scratch for up to scratch_rows rows */
  gsize scratch_rows;
  gfloat *x, *h, *q, *att, *o, *g, *u;
  gint32 *pos;
};

struct _VvKvCache {
  VvLm *lm;
  gsize length, capacity, max_tokens;
  gfloat **k, **v;              /* per layer [capacity, kv_width] */
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
  g_clear_pointer (&lm->x, g_free);
  g_clear_pointer (&lm->h, g_free);
  g_clear_pointer (&lm->q, g_free);
  g_clear_pointer (&lm->att, g_free);
  g_clear_pointer (&lm->o, g_free);
  g_clear_pointer (&lm->g, g_free);
  g_clear_pointer (&lm->u, g_free);
  g_clear_pointer (&lm->pos, g_free);
  lm->scratch_rows = 0;
}

void
vv_lm_free (VvLm *lm)
{
  if (lm == NULL)
    return;
  free_scratch (lm);
  vv_tensor_free (lm->control_rows);
  g_free (lm->layers);
  g_free (lm);
}

/* Requires @name with exactly the given 1-D or 2-D shape (d1 = 0: 1-D). */
static const VvTensor *
require (VvModel *model, const gchar *name, gint64 d0, gint64 d1, GError **error)
{
  const VvTensor *t = vv_model_require_tensor (model, name, error);
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
 * @be: a host backend
 * @error: return location for a #GError
 *
 * Resolves every weight of the decoder once (MODEL-SPEC §6).
 *
 * Returns: (transfer full) (nullable): the LM
 */
VvLm *
vv_lm_new (VvModel *model, VvBackend *be, GError **error)
{
  if (!vv_backend_is_host (be)) {
    lm_error (error, VV_BACKEND_ERROR_UNAVAILABLE,
        "backend '%s' is not supported yet (host backends only)", vv_backend_get_name (be));
    return NULL;
  }
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

  if ((lm->embed = require (model, "model.language_model.embed_tokens.weight",
              c->vocab_size, H, error)) == NULL
      || (lm->norm = require (model, "model.language_model.norm.weight", H, 0, error)) == NULL)
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
      if ((*w[i].slot = require (model, name, w[i].d0, w[i].d1, error)) == NULL)
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
  lm->control_rows = vv_tensor_new_2d (VV_DTYPE_F32, VV_LM_N_CONTROL, H);
  if (!vv_backend_get_rows (be, lm->control_rows, head, control_ids, VV_LM_N_CONTROL, error))
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

static gboolean
ensure_scratch (VvLm *lm, gsize rows, GError **error)
{
  if (lm->scratch_rows >= rows)
    return TRUE;
  free_scratch (lm);
  gsize H = lm->hidden;
  lm->x = g_try_new (gfloat, rows * H);
  lm->h = g_try_new (gfloat, rows * H);
  lm->o = g_try_new (gfloat, rows * H);
  lm->q = g_try_new (gfloat, rows * lm->q_width);
  lm->att = g_try_new (gfloat, rows * lm->q_width);
  lm->g = g_try_new (gfloat, rows * lm->inter);
  lm->u = g_try_new (gfloat, rows * lm->inter);
  lm->pos = g_try_new (gint32, rows);
  if (!lm->x || !lm->h || !lm->o || !lm->q || !lm->att || !lm->g || !lm->u || !lm->pos) {
    free_scratch (lm);
    return lm_error (error, VV_BACKEND_ERROR_NO_MEMORY,
        "out of memory for the scratch of %" G_GSIZE_FORMAT " rows", rows);
  }
  lm->scratch_rows = rows;
  return TRUE;
}

/**
 * vv_lm_embed_tokens: (skip)
 * @lm: an LM
 * @ids: (array length=n): token ids
 * @n: number of ids
 * @out: (array): n × H floats
 * @error: return location for a #GError
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
  VvTensor y;
  gint64 shape[2] = { (gint64) n, lm->hidden };
  vv_tensor_init_view (&y, VV_DTYPE_F32, 2, shape, out);
  return vv_backend_get_rows (lm->be, &y, lm->embed, ids, (gint) n, error);
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
  c->max_tokens = max_tokens;
  c->k = g_new0 (gfloat *, lm->cfg.n_layers);
  c->v = g_new0 (gfloat *, lm->cfg.n_layers);
  for (gint l = 0; l < lm->cfg.n_layers; l++) {
    c->k[l] = g_try_new (gfloat, capacity * lm->kv_width);
    c->v[l] = g_try_new (gfloat, capacity * lm->kv_width);
    if (c->k[l] == NULL || c->v[l] == NULL) {
      lm_error (error, VV_BACKEND_ERROR_NO_MEMORY, "out of memory for a kv cache of %"
          G_GSIZE_FORMAT " tokens", capacity);
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
      g_free (cache->k[l]);
    if (cache->v != NULL)
      g_free (cache->v[l]);
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

void
vv_kv_cache_reset (VvKvCache *cache)
{
  cache->length = 0;
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
  gsize w = c->lm->kv_width;
  for (gint l = 0; l < c->lm->cfg.n_layers; l++) {
    gfloat *k = g_try_realloc_n (c->k[l], cap * w, sizeof (gfloat));
    if (k != NULL)
      c->k[l] = k;
    gfloat *v = k != NULL ? g_try_realloc_n (c->v[l], cap * w, sizeof (gfloat)) : NULL;
    if (v != NULL)
      c->v[l] = v;
    if (k == NULL || v == NULL)
      /* buffers already grown keep their content; capacity stays the old one */
      return lm_error (error, VV_BACKEND_ERROR_NO_MEMORY, "out of memory growing a kv "
          "cache to %" G_GSIZE_FORMAT " tokens", cap);
  }
  c->capacity = cap;
  return TRUE;
}

/* --------------------------------------------------------------------- */
/* Forward */

#define VIEW(t, data, rows, cols) \
  do { gint64 s_[2] = { (gint64) (rows), (gint64) (cols) }; \
    vv_tensor_init_view ((t), VV_DTYPE_F32, 2, s_, (data)); } while (0)

/* One chunk of @n rows already in lm->x; leaves the pre-norm residual in
 * lm->x and advances the cache. */
static gboolean
forward_chunk (VvLm *lm, VvKvCache *c, gsize n, GError **error)
{
  VvBackend *be = lm->be;
  const VvLmConfig *cfg = &lm->cfg;
  gfloat eps = (gfloat) cfg->rms_norm_eps;
  gsize p0 = c->length, t = p0 + n;
  for (gsize i = 0; i < n; i++)
    lm->pos[i] = (gint32) (p0 + i);

  VvTensor x, h, q, att, o, g, u, kn, vn, kall, vall;
  VIEW (&x, lm->x, n, lm->hidden);
  VIEW (&h, lm->h, n, lm->hidden);
  VIEW (&o, lm->o, n, lm->hidden);
  VIEW (&q, lm->q, n, lm->q_width);
  VIEW (&att, lm->att, n, lm->q_width);
  VIEW (&g, lm->g, n, lm->inter);
  VIEW (&u, lm->u, n, lm->inter);

  for (gint l = 0; l < cfg->n_layers; l++) {
    const LmLayer *L = &lm->layers[l];
    VIEW (&kn, c->k[l] + p0 * lm->kv_width, n, lm->kv_width);
    VIEW (&vn, c->v[l] + p0 * lm->kv_width, n, lm->kv_width);
    VIEW (&kall, c->k[l], t, lm->kv_width);
    VIEW (&vall, c->v[l], t, lm->kv_width);
    /* attention block; new k/v go straight into the cache (keys after
     * RoPE, §6) */
    if (!vv_backend_rms_norm (be, &h, &x, L->in_norm, eps, error)
        || !vv_backend_linear (be, &q, &h, L->q_w, L->q_b, error)
        || !vv_backend_linear (be, &kn, &h, L->k_w, L->k_b, error)
        || !vv_backend_linear (be, &vn, &h, L->v_w, L->v_b, error)
        || !vv_backend_rope (be, &q, &q, cfg->head_dim, lm->pos, cfg->rope_theta, error)
        || !vv_backend_rope (be, &kn, &kn, cfg->head_dim, lm->pos, cfg->rope_theta, error)
        || !vv_backend_attention (be, &att, &q, &kall, &vall, cfg->head_dim, error)
        || !vv_backend_linear (be, &o, &att, L->o_w, NULL, error)
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
        "): ", l, p0, t - 1);
    return FALSE;
  }
  c->length = t;
  return TRUE;
}

/**
 * vv_lm_forward: (skip)
 * @lm: an LM
 * @cache: the branch's KV cache (appended to)
 * @embeds: (array): n × H input embeddings
 * @n: number of new rows (≥ 1)
 * @hidden_out: (array) (nullable): n × H, or H floats with @last_only
 * @last_only: write only the last row's hidden state
 * @error: return location for a #GError
 *
 * Long inputs are processed in chunks of vv_lm_get_chunk_size() rows; the
 * result equals one pass up to rounding. On error the cache may hold part
 * of the rows (reset it).
 *
 * Returns: %TRUE on success
 */
gboolean
vv_lm_forward (VvLm *lm, VvKvCache *cache, const gfloat *embeds, gsize n,
    gfloat *hidden_out, gboolean last_only, GError **error)
{
  if (cache == NULL || cache->lm != lm)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward: cache missing or made for "
        "another LM");
  if (embeds == NULL || n == 0 || n > G_MAXINT32)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "forward: need 1..%d rows of [n, %d] "
        "embeddings", G_MAXINT32, lm->hidden);
  if (!kv_reserve (cache, cache->length + n, error))
    return FALSE;
  gsize chunk = lm->chunk_size == 0 ? n : MIN (lm->chunk_size, n);
  if (!ensure_scratch (lm, chunk, error))
    return FALSE;
  gsize H = lm->hidden;
  VvTensor x, y;
  for (gsize r0 = 0; r0 < n; r0 += chunk) {
    gsize m = MIN (chunk, n - r0);
    memcpy (lm->x, embeds + r0 * H, sizeof (gfloat) * m * H);
    if (!forward_chunk (lm, cache, m, error))
      return FALSE;
    if (hidden_out == NULL)
      continue;
    /* final RMSNorm (§6) */
    if (last_only) {
      if (r0 + m < n)
        continue;
      VIEW (&x, lm->x + (m - 1) * H, 1, H);
      VIEW (&y, hidden_out, 1, H);
    } else {
      VIEW (&x, lm->x, m, H);
      VIEW (&y, hidden_out + r0 * H, m, H);
    }
    if (!vv_backend_rms_norm (lm->be, &y, &x, lm->norm, (gfloat) lm->cfg.rms_norm_eps, error)) {
      g_prefix_error (error, "lm final norm: ");
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vv_lm_logits_control: (skip)
 * @lm: an LM
 * @hidden: (array): H floats, a hidden state after the final norm
 * @logits: (array fixed-size=4): logits of speech_start, speech_end,
 *   diffusion, eos (MODEL-SPEC §2.2)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_lm_logits_control (VvLm *lm, const gfloat *hidden, gfloat *logits, GError **error)
{
  if (hidden == NULL || logits == NULL)
    return lm_error (error, VV_BACKEND_ERROR_SHAPE, "logits_control: missing buffers");
  VvTensor x, y;
  VIEW (&x, (gpointer) hidden, 1, lm->hidden);
  VIEW (&y, logits, 1, VV_LM_N_CONTROL);
  return vv_backend_linear (lm->be, &y, &x, lm->control_rows, NULL, error);
}
