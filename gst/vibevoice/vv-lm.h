/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"

G_BEGIN_DECLS

/* Control tokens whose lm_head rows are ever needed (MODEL-SPEC §2.2), in
 * the order of vv_lm_logits_control()'s output. */
#define VV_TOKEN_SPEECH_START 151652
#define VV_TOKEN_SPEECH_END   151653
#define VV_TOKEN_DIFFUSION    151654
#define VV_TOKEN_EOS          151643
#define VV_LM_N_CONTROL 4

typedef struct _VvLm VvLm;
typedef struct _VvKvCache VvKvCache;

/* Qwen2 decoder over a loaded model (MODEL-SPEC §6). The model and backend
 * must outlive it. */
VvLm      *vv_lm_new (VvModel *model, VvBackend *be, GError **error);
void       vv_lm_free (VvLm *lm);
gint       vv_lm_get_hidden_size (VvLm *lm);
/* Rows per forward pass when prefilling (default 256; 0 = unlimited). */
void       vv_lm_set_chunk_size (VvLm *lm, gsize chunk_size);
gsize      vv_lm_get_chunk_size (VvLm *lm);

VvBackend *vv_lm_get_backend (VvLm *lm);

/* Device API: every tensor in the LM backend's device memory. */
/* ids: I32 [n]; out: F32 [n, H] (embedding rows as F32). */
gboolean   vv_lm_embed (VvLm *lm, const VvTensor *ids, VvTensor *out, GError **error);
/* Runs the n rows of @embeds [n, H] at positions cache length … + n − 1,
 * appending their keys/values to @cache. @hidden (may be NULL) receives the
 * hidden states after the final RMSNorm: all rows [n, H], or only the last
 * [1, H]. */
gboolean   vv_lm_forward (VvLm *lm, VvKvCache *cache, const VvTensor *embeds,
                          VvTensor *hidden, GError **error);
/* One row per cache (distinct caches, 1 … VV_LM_MAX_JOINT_ROWS), each at its
 * own position, with one read of the weights for all: the two CFG branches
 * of a frame, or batched streams. embeds[i], hidden[i]: F32 [1, H]. Each
 * row's result equals vv_lm_forward() on it alone, bit for bit. */
#define VV_LM_MAX_JOINT_ROWS 8
gboolean   vv_lm_forward_rows (VvLm *lm, VvKvCache **caches, const VvTensor **embeds,
                               VvTensor **hidden, guint n, GError **error);
/* logits [1, 4] = lm_head rows (151652, 151653, 151654, 151643) · hidden [1, H]. */
gboolean   vv_lm_logits_control (VvLm *lm, const VvTensor *hidden, VvTensor *logits,
                                 GError **error);

/* Host-memory conveniences (copy in and out of the device). */
gboolean   vv_lm_embed_tokens (VvLm *lm, const gint32 *ids, gsize n, gfloat *out,
                               GError **error);
gboolean   vv_lm_forward_host (VvLm *lm, VvKvCache *cache, const gfloat *embeds, gsize n,
                               gfloat *hidden_out, gboolean last_only, GError **error);
gboolean   vv_lm_logits_control_host (VvLm *lm, const gfloat *hidden, gfloat *logits,
                                      GError **error);

/* One KV cache per branch (MODEL-SPEC §2.1: positive and negative), F32
 * (vv_kv_cache_new), BF16 or I8 with one scale per token and KV head
 * (vv_kv_cache_new_full; I8 on the cpu backend only); @capacity tokens are allocated up front (0 = a small default) and the
 * cache grows on demand up to @max_tokens (0 = the model's
 * max_position_embeddings), by doubling into new device tensors (a device
 * copy; live memory is never resized); appending past it is an error. */
VvKvCache *vv_kv_cache_new (VvLm *lm, gsize capacity, gsize max_tokens, GError **error);
VvKvCache *vv_kv_cache_new_full (VvLm *lm, VvDType dtype, gsize capacity, gsize max_tokens,
                                 GError **error);
void       vv_kv_cache_free (VvKvCache *cache);
VvDType    vv_kv_cache_get_dtype (VvKvCache *cache);
gsize      vv_kv_cache_get_length (VvKvCache *cache);
gsize      vv_kv_cache_get_capacity (VvKvCache *cache);
/* Forget all positions (the negative branch's reset, §2.3). */
void       vv_kv_cache_reset (VvKvCache *cache);
/* Forget the positions from @length on (≤ the current length). */
gboolean   vv_kv_cache_truncate (VvKvCache *cache, gsize length, GError **error);
/* Bench only: append @n positions of deterministic pseudo-random keys and
 * values (seeded by @seed) to every layer, in the cache's dtype, to run at
 * a deep context position without prefilling it. Error past max_tokens. */
gboolean   vv_kv_cache_fill_synthetic (VvKvCache *cache, gsize n, guint32 seed,
                                       GError **error);
/* Bytes one position takes: keys + values of all layers in the cache's dtype
 * (I8: with their scales). */
gsize      vv_kv_cache_get_bytes_per_token (VvKvCache *cache);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvLm, vv_lm_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvKvCache, vv_kv_cache_free)

G_END_DECLS
