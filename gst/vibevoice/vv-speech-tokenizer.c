/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-speech-tokenizer.h"

#include <string.h>
#include <time.h>

/*
 * σ-VAE speech tokenizers (MODEL-SPEC §5): the acoustic/semantic encoders
 * and the acoustic decoder, with the reference's streaming caches (§5.6).
 *
 * Activations are time-major [T, C] (one row per time step) so Block1D's
 * per-step parts are plain row ops: RMSNorm over channels is rms_norm, the
 * FFN linears are conv1d with k = 1 (not linear(): conv1d guarantees that a
 * row's result does not depend on how many rows a call has, which is what
 * makes chunked streaming bit-identical to one call, §5.6).
 *
 * Every conv goes through one helper: input' = [context | chunk | pad],
 * a valid conv, then (streaming) context = last k − s rows of input'.
 * Non-streaming encode uses a zero context and the reference's right
 * padding (§5.4) and leaves the streaming state alone.
 *
 * Device-resident (issue 9): weights come from the model's store for the
 * backend's device, contexts and work buffers are device tensors, and the
 * context bookkeeping is row copies / zeroing on the device, so host code
 * never touches activation memory. All weight views are resolved and all
 * buffers allocated at construction; work buffers grow (free + new, they
 * hold nothing between calls) only when a longer chunk than ever before
 * comes, at the start of a call.
 */

typedef enum {
  MODE_STREAM,                  /* context from / to the streaming state */
  /* Non-streaming encode (§5.4), run in bounded chunks: the context comes
   * from / goes to a second state (zeroed per encode, so the streaming
   * state is untouched); the last chunk is right-padded to each stride. */
  MODE_ENCODE,
  MODE_ENCODE_END,
} ConvMode;

typedef struct {
  gchar *name;                  /* tensor prefix, for messages */
  VvTensor w;                   /* view of the weight on the backend's device; linears as [out, in, 1] */
  const VvTensor *b;
  gint c_in, c_out, k, s, groups;
  gboolean transposed;
  gint ctx;                     /* conv: k − s rows of context (§5.6) */
  gint max_prev;                /* transposed: ceil(k/s) − 1 previous frames */
  gint n_prev;                  /* transposed: frames held now */
  VvTensor *state;              /* device [MAX (1, ctx, max_prev), c_in] */
  VvTensor *enc_state;          /* conv: device [MAX (1, ctx), c_in], MODE_ENCODE context */
} Conv;

typedef struct {
  gint c;
  const VvTensor *norm, *ffn_norm;
  VvTensor *gamma, *ffn_gamma;  /* F32 device copies: binary() takes F32 operands */
  Conv dw, lin1, lin2;
} Block;

typedef struct {
  Conv conv;                    /* stem, down- or up-sampling conv */
  gint n_blocks;
  Block *blocks;
} Stage;

typedef struct {
  VvBackend *be;
  VvModel *model;
  gfloat eps;
  gint n_stages;
  Stage stages[VV_MAX_STAGES];
  Conv head;
  gint c_in, c_out, hop;
  gboolean reset_pending;       /* zero the streaming contexts before the next stream call */
  VvTensor *id0;                /* I32 [1] = 0, for the F32 gamma copies */
  /* device work buffers (flat F32): x (residual stream), a, bb (conv
   * input'), c, d (FFN); grown only at the start of a call */
  gsize cap, cap_ffn;
  VvTensor *x, *a, *bb, *c, *d;
  /* device staging of the _host API (non-host backends only) */
  VvTensor *io_in, *io_out;
  VvSpeechProfile *prof;        /* benchmarks only, NULL normally */
} Net;

struct _VvSpeechEncoder {
  Net net;
  VvSpeechTokenizerKind kind;
  gsize encode_chunk_frames;    /* 0 = one call */
};

struct _VvSpeechDecoder {
  Net net;
};

/* ---------------------------------------------------------------------- */
/* Views */

/* [rows, cols] at the start of the contiguous tensor @buf (same device). */
static inline VvTensor *
view2 (VvTensor *v, const VvTensor *buf, gint64 rows, gint64 cols)
{
  g_assert (rows * cols <= vv_tensor_n_elements (buf));
  vv_tensor_init_view (v, VV_DTYPE_F32, 2, (gint64[]) { rows, cols }, buf->data);
  v->device = buf->device;
  return v;
}

/* dst rows [d0, d0 + n) = src rows [s0, s0 + n), on the device. */
static gboolean
copy_rows (VvBackend *be, const VvTensor *dst, gint64 d0, const VvTensor *src, gint64 s0,
    gint64 n, GError **error)
{
  VvTensor dv, sv;
  vv_tensor_init_rows (&dv, dst, d0, n);
  vv_tensor_init_rows (&sv, src, s0, n);
  return vv_backend_tensor_copy (be, &dv, &sv, error);
}

/* ---------------------------------------------------------------------- */
/* Construction */

static const VvTensor *
require (Net *net, const gchar *name, gint ndim, const gint64 *shape, GError **error)
{
  const VvTensor *t = vv_model_require_tensor_on (net->model, net->be, name, error);
  if (t == NULL)
    return NULL;
  gboolean ok = t->ndim == ndim && vv_tensor_is_contiguous (t);
  for (gint i = 0; ok && i < ndim; i++)
    ok = t->shape[i] == shape[i];
  if (!ok) {
    g_autofree gchar *have = vv_tensor_shape_string (t);
    g_autofree gchar *want = vv_shape_string (ndim, shape);
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "speech tokenizer: tensor %s is %s, expected contiguous %s", name, have, want);
    return NULL;
  }
  return t;
}

static void
conv_clear (Conv *cv)
{
  g_clear_pointer (&cv->name, g_free);
  g_clear_pointer (&cv->state, vv_tensor_free);
  g_clear_pointer (&cv->enc_state, vv_tensor_free);
}

static VvTensor *
new_rows (Net *net, gint64 rows, gint64 cols, GError **error)
{
  return vv_backend_tensor_new (net->be, VV_DTYPE_F32, 2, (gint64[]) { rows, cols }, error);
}

/* A conv (or linear, @k = 0) named @prefix.weight / @prefix.bias. */
static gboolean
conv_init (Conv *cv, Net *net, const gchar *prefix, gint c_in, gint c_out,
    gint k, gint s, gint groups, gboolean transposed, gboolean stateful, GError **error)
{
  cv->name = g_strdup (prefix);
  cv->c_in = c_in;
  cv->c_out = c_out;
  cv->s = s;
  cv->groups = groups;
  cv->transposed = transposed;
  g_autofree gchar *wn = g_strconcat (prefix, ".weight", NULL);
  g_autofree gchar *bn = g_strconcat (prefix, ".bias", NULL);
  const VvTensor *w;
  gint64 shape[3];
  if (k == 0) {
    /* nn.Linear [out, in] used as a k = 1 conv */
    shape[0] = c_out;
    shape[1] = c_in;
    if ((w = require (net, wn, 2, shape, error)) == NULL)
      return FALSE;
    k = 1;
    shape[2] = 1;
  } else {
    shape[0] = transposed ? c_in : c_out;
    shape[1] = transposed ? c_out : c_in / groups;
    shape[2] = k;
    if ((w = require (net, wn, 3, shape, error)) == NULL)
      return FALSE;
  }
  vv_tensor_init_view (&cv->w, w->dtype, 3, shape, w->data);
  cv->w.device = w->device;
  cv->k = k;
  if ((cv->b = require (net, bn, 1, (gint64[]) { c_out }, error)) == NULL)
    return FALSE;
  if (!stateful)
    return TRUE;
  if (transposed) {
    /* §5.6: only inputs whose outputs overlap the next chunk matter */
    cv->max_prev = (k + s - 1) / s - 1;
    cv->state = new_rows (net, MAX (1, cv->max_prev), c_in, error);
  } else {
    cv->ctx = k - s;            /* §5.4 / §5.6: causal context k − s */
    cv->state = new_rows (net, MAX (1, cv->ctx), c_in, error);
    cv->enc_state = cv->state ? new_rows (net, MAX (1, cv->ctx), c_in, error) : NULL;
  }
  if (cv->state == NULL || (!transposed && cv->enc_state == NULL)) {
    g_prefix_error (error, "speech tokenizer: %s context: ", prefix);
    return FALSE;
  }
  return TRUE;
}

/* F32 copy of a 1-D weight on the device (get_rows converts the dtype), so
 * the weight is never read on the host. */
static VvTensor *
f32_copy (Net *net, const VvTensor *t, GError **error)
{
  VvTensor table, row;
  vv_tensor_init_view (&table, t->dtype, 2, (gint64[]) { 1, t->shape[0] }, t->data);
  table.device = t->device;
  VvTensor *dev = vv_backend_tensor_new (net->be, VV_DTYPE_F32, 1, t->shape, error);
  if (dev == NULL)
    return NULL;
  if (!vv_backend_get_rows (net->be, view2 (&row, dev, 1, t->shape[0]), &table, net->id0,
          error)) {
    vv_tensor_free (dev);
    return NULL;
  }
  return dev;
}

static gboolean
block_init (Block *bl, Net *net, const gchar *prefix, gint c, GError **error)
{
  bl->c = c;
  g_autofree gchar *n1 = g_strconcat (prefix, ".norm.weight", NULL);
  g_autofree gchar *n2 = g_strconcat (prefix, ".ffn_norm.weight", NULL);
  g_autofree gchar *g1 = g_strconcat (prefix, ".gamma", NULL);
  g_autofree gchar *g2 = g_strconcat (prefix, ".ffn_gamma", NULL);
  g_autofree gchar *dw = g_strconcat (prefix, ".mixer.conv.conv.conv", NULL);
  g_autofree gchar *l1 = g_strconcat (prefix, ".ffn.linear1", NULL);
  g_autofree gchar *l2 = g_strconcat (prefix, ".ffn.linear2", NULL);
  const gint64 sc[1] = { c };
  const VvTensor *gamma, *ffn_gamma;
  if ((bl->norm = require (net, n1, 1, sc, error)) == NULL
      || (bl->ffn_norm = require (net, n2, 1, sc, error)) == NULL
      || (gamma = require (net, g1, 1, sc, error)) == NULL
      || (ffn_gamma = require (net, g2, 1, sc, error)) == NULL)
    return FALSE;
  if ((bl->gamma = f32_copy (net, gamma, error)) == NULL
      || (bl->ffn_gamma = f32_copy (net, ffn_gamma, error)) == NULL)
    return FALSE;
  /* §5.1, §12.7: depthwise mixer k7, FFN expansion 4 */
  return conv_init (&bl->dw, net, dw, c, c, 7, 1, c, FALSE, TRUE, error)
      && conv_init (&bl->lin1, net, l1, c, 4 * c, 0, 1, 1, FALSE, FALSE, error)
      && conv_init (&bl->lin2, net, l2, 4 * c, c, 0, 1, 1, FALSE, FALSE, error);
}

static void
block_clear (Block *bl)
{
  g_clear_pointer (&bl->gamma, vv_tensor_free);
  g_clear_pointer (&bl->ffn_gamma, vv_tensor_free);
  conv_clear (&bl->dw);
  conv_clear (&bl->lin1);
  conv_clear (&bl->lin2);
}

static void
free_work (Net *net)
{
  VvTensor **ts[] = { &net->x, &net->a, &net->bb, &net->c };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    g_clear_pointer (ts[i], vv_tensor_free);
  net->cap = 0;
}

static void
net_clear (Net *net)
{
  for (gint i = 0; i < net->n_stages; i++) {
    Stage *st = &net->stages[i];
    conv_clear (&st->conv);
    for (gint b = 0; b < st->n_blocks; b++)
      block_clear (&st->blocks[b]);
    g_free (st->blocks);
  }
  conv_clear (&net->head);
  free_work (net);
  g_clear_pointer (&net->d, vv_tensor_free);
  g_clear_pointer (&net->io_in, vv_tensor_free);
  g_clear_pointer (&net->io_out, vv_tensor_free);
  g_clear_pointer (&net->id0, vv_tensor_free);
  g_clear_pointer (&net->model, vv_model_unref);
}

/* Calls @func on every conv that carries state (stage convs, block
 * mixers, head). */
static gboolean
net_foreach_stateful_conv (Net *net, gboolean (*func) (Net *net, Conv *cv, GError **error),
    GError **error)
{
  for (gint i = 0; i < net->n_stages; i++) {
    Stage *st = &net->stages[i];
    if (!func (net, &st->conv, error))
      return FALSE;
    for (gint b = 0; b < st->n_blocks; b++)
      if (!func (net, &st->blocks[b].dw, error))
        return FALSE;
  }
  return func (net, &net->head, error);
}

/* §5.6: reset = zero contexts, empty transposed-conv history */
static gboolean
conv_reset (Net *net, Conv *cv, GError **error)
{
  cv->n_prev = 0;
  return cv->transposed || vv_backend_tensor_zero (net->be, cv->state, error);
}

/* Zeroes the context of a non-streaming encode (the reference's causal
 * zero padding, §5.4). */
static gboolean
conv_reset_encode (Net *net, Conv *cv, GError **error)
{
  return cv->enc_state == NULL || vv_backend_tensor_zero (net->be, cv->enc_state, error);
}

static gboolean
stage_blocks_init (Net *net, Stage *st, const gchar *root, gint stage, gint depth, gint c,
    GError **error)
{
  st->n_blocks = depth;
  st->blocks = g_new0 (Block, MAX (depth, 1));
  for (gint b = 0; b < depth; b++) {
    g_autofree gchar *p = g_strdup_printf ("%s.stages.%d.%d", root, stage, b);
    if (!block_init (&st->blocks[b], net, p, c, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
net_init_common (Net *net, const VvSpeechTokenizerConfig *t, GError **error)
{
  static const gint32 zero = 0;
  net->hop = t->hop_length;
  net->eps = (gfloat) t->layernorm_eps;
  net->reset_pending = TRUE;
  return (net->id0 = vv_backend_tensor_new (net->be, VV_DTYPE_I32, 1, (gint64[]) { 1 },
          error)) != NULL
      && vv_backend_tensor_set (net->be, net->id0, 0, &zero, sizeof zero, error);
}

/* Encoder (§5.2): stem k7, then per stage blocks; down-convs k = 2s with
 * the stored ratios reversed; head k7 to vae_dim. */
static gboolean
encoder_init (Net *net, const VvSpeechTokenizerConfig *t, const gchar *root, GError **error)
{
  gint n = t->n_ratios;
  gint ch = t->n_filters;
  net->n_stages = n + 1;
  net->c_in = t->channels;
  net->c_out = t->vae_dim;
  if (!net_init_common (net, t, error))
    return FALSE;
  for (gint i = 0; i <= n; i++) {
    Stage *st = &net->stages[i];
    g_autofree gchar *p = g_strdup_printf ("%s.downsample_layers.%d.0.conv.conv", root, i);
    gboolean ok = i == 0 ?
        conv_init (&st->conv, net, p, t->channels, ch, 7, 1, 1, FALSE, TRUE, error) :
        conv_init (&st->conv, net, p, ch << (i - 1), ch << i,
            2 * t->ratios[n - i], t->ratios[n - i], 1, FALSE, TRUE, error);
    if (!ok || !stage_blocks_init (net, st, root, i, t->depths[i], ch << i, error))
      return FALSE;
  }
  g_autofree gchar *head = g_strdup_printf ("%s.head.conv.conv", root);
  return conv_init (&net->head, net, head, ch << n, t->vae_dim, 7, 1, 1, FALSE, TRUE, error);
}

/* Decoder (§5.3): stem k7 vae_dim → widest, blocks; per stored ratio a
 * transposed conv k = 2s then blocks; head k7 to the audio channels. */
static gboolean
decoder_init (Net *net, const VvSpeechTokenizerConfig *t, const gchar *root, GError **error)
{
  gint n = t->n_ratios;
  gint ch = t->decoder_n_filters;
  net->n_stages = n + 1;
  net->c_in = t->vae_dim;
  net->c_out = t->channels;
  if (!net_init_common (net, t, error))
    return FALSE;
  for (gint i = 0; i <= n; i++) {
    Stage *st = &net->stages[i];
    gboolean ok;
    if (i == 0) {
      g_autofree gchar *p = g_strdup_printf ("%s.upsample_layers.0.0.conv.conv", root);
      ok = conv_init (&st->conv, net, p, t->vae_dim, ch << n, 7, 1, 1, FALSE, TRUE, error);
    } else {
      gint s = t->decoder_ratios[i - 1];
      g_autofree gchar *p = g_strdup_printf ("%s.upsample_layers.%d.0.convtr.convtr", root, i);
      ok = conv_init (&st->conv, net, p, ch << (n - i + 1), ch << (n - i),
          2 * s, s, 1, TRUE, TRUE, error);
    }
    if (!ok || !stage_blocks_init (net, st, root, i, t->decoder_depths[i], ch << (n - i), error))
      return FALSE;
  }
  g_autofree gchar *head = g_strdup_printf ("%s.head.conv.conv", root);
  return conv_init (&net->head, net, head, ch, t->channels, 7, 1, 1, FALSE, TRUE, error);
}

/* ---------------------------------------------------------------------- */
/* Buffers */

static inline gint64
ceil_div (gint64 a, gint64 b)
{
  return (a + b - 1) / b;
}

/* Floats each conv needs for its input' and output with @t input rows. */
static void
plan_conv (const Conv *cv, gint64 t, gint64 *t_out, gsize *need)
{
  gsize in_rows, out_rows;
  if (cv->transposed) {
    in_rows = (gsize) (cv->max_prev + t);
    out_rows = (gsize) ((cv->max_prev + t - 1) * cv->s + cv->k);
    *t_out = t * cv->s;
  } else {
    in_rows = (gsize) (cv->ctx + t + cv->s);
    *t_out = ceil_div (t, cv->s);
    out_rows = (gsize) *t_out;
  }
  *need = MAX (*need, in_rows * cv->c_in);
  *need = MAX (*need, out_rows * cv->c_out);
}

static VvTensor *
new_flat (Net *net, gsize n, GError **error)
{
  return vv_backend_tensor_new (net->be, VV_DTYPE_F32, 1, (gint64[]) { (gint64) n }, error);
}

/* Grows the work buffers for an input of @t rows (never shrinks). Called
 * at the start of a call only: the buffers hold nothing between calls, so
 * growing is free + new (no live device memory is resized). */
static gboolean
net_ensure (Net *net, gint64 t, GError **error)
{
  gsize need = (gsize) t * net->c_in, need_ffn = 0;
  for (gint i = 0; i < net->n_stages; i++) {
    const Stage *st = &net->stages[i];
    plan_conv (&st->conv, t, &t, &need);
    for (gint b = 0; b < st->n_blocks; b++) {
      gint64 tt;
      plan_conv (&st->blocks[b].dw, t, &tt, &need);
      need_ffn = MAX (need_ffn, (gsize) t * 4 * st->blocks[b].c);
    }
  }
  plan_conv (&net->head, t, &t, &need);
  if (need > net->cap) {
    free_work (net);
    gsize cap = need + need / 4;
    if ((net->x = new_flat (net, cap, error)) == NULL
        || (net->a = new_flat (net, cap, error)) == NULL
        || (net->bb = new_flat (net, cap, error)) == NULL
        || (net->c = new_flat (net, cap, error)) == NULL) {
      free_work (net);
      g_prefix_error (error, "speech tokenizer: work buffers for %" G_GINT64_FORMAT " rows: ",
          t);
      return FALSE;
    }
    net->cap = cap;
  }
  if (need_ffn > net->cap_ffn) {
    g_clear_pointer (&net->d, vv_tensor_free);
    net->cap_ffn = 0;
    gsize cap = need_ffn + need_ffn / 4;
    if ((net->d = new_flat (net, MAX (cap, 1), error)) == NULL) {
      g_prefix_error (error, "speech tokenizer: FFN buffer for %" G_GINT64_FORMAT " rows: ", t);
      return FALSE;
    }
    net->cap_ffn = cap;
  }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Forward (everything on the device: row copies for the contexts, ops for
 * the math) */

/* src [t, c_in] → @dst_buf viewed as [t_out, c_out] (may be src's buffer:
 * input' is a copy). */
static gboolean
conv_forward (Net *net, Conv *cv, const VvTensor *src, const VvTensor *dst_buf, gint64 *t_out,
    ConvMode mode, GError **error)
{
  VvBackend *be = net->be;
  const gint64 t = src->shape[0];
  VvTensor in, y, dst;

  if (cv->transposed) {
    /* §5.6: input' = [previous frames | chunk]; the raw output trimmed by
     * k − s on the right (§5.4) and stripped of the rows the previous
     * call already returned is rows [n_prev·s, (n_prev + t)·s) */
    gint64 np = cv->n_prev, n_in = np + t;
    gint64 raw_rows = (n_in - 1) * cv->s + cv->k;
    gint keep = (gint) MIN (cv->max_prev, n_in);
    *t_out = t * cv->s;
    view2 (&in, net->bb, n_in, cv->c_in);
    if (!copy_rows (be, &in, 0, cv->state, 0, np, error)
        || !copy_rows (be, &in, np, src, 0, t, error)
        || !vv_backend_conv_transpose1d (be, view2 (&y, net->c, raw_rows, cv->c_out), &in,
            &cv->w, cv->b, cv->s, error)
        || !copy_rows (be, view2 (&dst, dst_buf, *t_out, cv->c_out), 0, &y, np * cv->s,
            *t_out, error)
        || !copy_rows (be, cv->state, 0, &in, n_in - keep, keep, error)) {
      g_prefix_error (error, "%s: ", cv->name);
      return FALSE;
    }
    cv->n_prev = keep;
    return TRUE;
  }

  /* Earlier chunks of an encode are whole hops, so at every layer their
   * length is a multiple of the stride and the last chunk's padding equals
   * the whole signal's: chunked == one call, bit for bit. */
  VvTensor *state = mode == MODE_STREAM ? cv->state : cv->enc_state;
  gint64 extra = mode == MODE_ENCODE_END ? ceil_div (t, cv->s) * cv->s - t : 0;
  gint64 n_in = cv->ctx + t + extra;
  view2 (&in, net->bb, n_in, cv->c_in);
  *t_out = (n_in - cv->k) / cv->s + 1;
  VvTensor pad;
  if (!copy_rows (be, &in, 0, state, 0, cv->ctx, error)
      || !copy_rows (be, &in, cv->ctx, src, 0, t, error)
      || (extra > 0 && (vv_tensor_init_rows (&pad, &in, cv->ctx + t, extra),
              !vv_backend_tensor_zero (be, &pad, error)))
      || (mode != MODE_ENCODE_END && !copy_rows (be, state, 0, &in, t, cv->ctx, error))
      || !vv_backend_conv1d (be, view2 (&y, dst_buf, *t_out, cv->c_out), &in, &cv->w, cv->b,
          cv->s, cv->groups, error)) {
    g_prefix_error (error, "%s: ", cv->name);
    return FALSE;
  }
  return TRUE;
}

/* §5.1, in place on net->x [t, c] */
static gboolean
block_forward (Net *net, Block *bl, gint64 t, ConvMode mode, GError **error)
{
  VvBackend *be = net->be;
  VvTensor x, a, c, d;
  gint64 tt;
  view2 (&x, net->x, t, bl->c);
  view2 (&a, net->a, t, bl->c);
  view2 (&c, net->c, t, bl->c);
  view2 (&d, net->d, t, 4 * bl->c);
  /* x += γ ⊙ DWConv(RMSNorm(x)) */
  if (!vv_backend_rms_norm (be, &a, &x, bl->norm, net->eps, error)
      || !conv_forward (net, &bl->dw, &a, net->c, &tt, mode, error)
      || !vv_backend_binary (be, VV_BINARY_MUL, &c, &c, bl->gamma, error)
      || !vv_backend_binary (be, VV_BINARY_ADD, &x, &x, &c, error))
    return FALSE;
  /* x += γ_ffn ⊙ Linear₂(GELU(Linear₁(RMSNorm(x)))) */
  if (!vv_backend_rms_norm (be, &a, &x, bl->ffn_norm, net->eps, error)
      || !vv_backend_conv1d (be, &d, &a, &bl->lin1.w, bl->lin1.b, 1, 1, error)
      || !vv_backend_unary (be, VV_UNARY_GELU, &d, &d, error)
      || !vv_backend_conv1d (be, &c, &d, &bl->lin2.w, bl->lin2.b, 1, 1, error)
      || !vv_backend_binary (be, VV_BINARY_MUL, &c, &c, bl->ffn_gamma, error)
      || !vv_backend_binary (be, VV_BINARY_ADD, &x, &x, &c, error)) {
    g_prefix_error (error, "%s: ", bl->lin1.name);
    return FALSE;
  }
  return TRUE;
}

/* Multiply-adds of @cv from @t_in input rows to @t_out output rows. */
static gdouble
conv_macs (const Conv *cv, gint64 t_in, gint64 t_out)
{
  if (cv->transposed)
    return (gdouble) t_in * cv->c_in * cv->c_out * cv->k;
  return (gdouble) t_out * cv->c_out * (cv->c_in / cv->groups) * cv->k;
}

static gdouble
cpu_ms_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Profiling: charges the time since *@t_start to @part (after a
 * synchronize, so device backends are timed too). */
static gboolean
prof_part (Net *net, gint part, gint64 *t_start, gint channels, gint64 rows, gdouble macs,
    GError **error)
{
  VvSpeechProfile *p = net->prof;
  if (p == NULL)
    return TRUE;
  if (!vv_backend_synchronize (net->be, error))
    return FALSE;
  gint64 now = g_get_monotonic_time ();
  gdouble cpu = cpu_ms_now ();
  p->cpu_ms[part] += cpu - p->cpu_mark;
  p->cpu_mark = cpu;
  p->n_parts = 2 * net->n_stages + 1;
  p->channels[part] = channels;
  p->rows[part] = rows;
  p->ms[part] += (now - *t_start) / 1000.0;
  p->macs[part] += macs;
  *t_start = now;
  return TRUE;
}

/* input [t, c_in] → @output viewed as [t_out, c_out] (device tensors);
 * returns t_out or -1 */
static gint64
net_forward (Net *net, const VvTensor *input, const VvTensor *output, ConvMode mode,
    GError **error)
{
  gint64 t = input->shape[0];
  if (!net_ensure (net, t, error))
    return -1;
  if (mode == MODE_STREAM && net->reset_pending) {
    if (!net_foreach_stateful_conv (net, conv_reset, error))
      return -1;
    net->reset_pending = FALSE;
  }
  const VvTensor *src = input;
  VvTensor xv;
  gint64 t_prev = t, t_start = 0;
  if (net->prof) {
    t_start = g_get_monotonic_time ();
    net->prof->cpu_mark = cpu_ms_now ();
  }
  for (gint i = 0; i < net->n_stages; i++) {
    Stage *st = &net->stages[i];
    if (!conv_forward (net, &st->conv, src, net->x, &t, mode, error)
        || !prof_part (net, 2 * i, &t_start, st->conv.c_out, t, conv_macs (&st->conv, t_prev, t),
            error))
      return -1;
    src = view2 (&xv, net->x, t, st->conv.c_out);
    gdouble macs = 0;
    for (gint b = 0; b < st->n_blocks; b++) {
      if (!block_forward (net, &st->blocks[b], t, mode, error))
        return -1;
      /* mixer k7 depthwise + FFN c → 4c → c */
      macs += (gdouble) t * st->blocks[b].c * (7 + 8 * st->blocks[b].c);
    }
    if (!prof_part (net, 2 * i + 1, &t_start, st->conv.c_out, t, macs, error))
      return -1;
    t_prev = t;
  }
  if (!conv_forward (net, &net->head, src, output, &t, mode, error)
      || !prof_part (net, 2 * net->n_stages, &t_start, net->head.c_out, t,
          conv_macs (&net->head, t_prev, t), error))
    return -1;
  return t;
}

/* ---------------------------------------------------------------------- */
/* Arguments */

/* @t must be a contiguous F32 tensor in @net's device memory with @n
 * elements (and, if 2-D or more and @strict, @cols as its last dimension);
 * @flat becomes a [n / cols, cols] view of it. Audio of one channel may
 * come in any shape ([n], [1, n], [frames, hop]). */
static gboolean
check_arg (Net *net, const gchar *what, const gchar *name, const VvTensor *t, gint64 n,
    gint64 cols, gboolean strict, VvTensor *flat, GError **error)
{
  if (t == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE, "%s: %s is missing",
        what, name);
    return FALSE;
  }
  g_autofree gchar *s = vv_tensor_shape_string (t);
  if (t->dtype != VV_DTYPE_F32 || !vv_tensor_is_contiguous (t)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE,
        "%s: %s %s must be a contiguous F32 tensor", what, name, s);
    return FALSE;
  }
  if (vv_tensor_get_device (t) != vv_backend_get_device (net->be)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE,
        "%s: %s %s is in %s memory, not on the %s device", what, name, s,
        vv_device_get_name (vv_tensor_get_device (t)),
        vv_device_get_name (vv_backend_get_device (net->be)));
    return FALSE;
  }
  if (vv_tensor_n_elements (t) != n || (strict && t->ndim > 1
          && t->shape[t->ndim - 1] != cols)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s %s must hold %" G_GINT64_FORMAT " floats (rows of %" G_GINT64_FORMAT ")",
        what, name, s, n, cols);
    return FALSE;
  }
  vv_tensor_init_view (flat, VV_DTYPE_F32, 2, (gint64[]) { n / cols, cols }, t->data);
  flat->device = t->device;
  return TRUE;
}

static gboolean
check_io (const gchar *what, gconstpointer in, gconstpointer out, gsize n, GError **error)
{
  if (in == NULL || out == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s buffer is NULL", what, in == NULL ? "input" : "output");
    return FALSE;
  }
  if (n == 0 || n > (gsize) G_MAXINT32) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid input length %" G_GSIZE_FORMAT, what, n);
    return FALSE;
  }
  return TRUE;
}

/* The _host API: host memory is used as it is on host backends, and staged
 * through device tensors (grown between calls) otherwise. @v becomes a
 * [rows, cols] tensor for @host. */
static gboolean
io_bind (Net *net, VvTensor **stage, gpointer host, gint64 rows, gint64 cols, VvTensor *v,
    GError **error)
{
  if (vv_backend_is_host (net->be)) {
    vv_tensor_init_view (v, VV_DTYPE_F32, 2, (gint64[]) { rows, cols }, host);
    return TRUE;
  }
  if (*stage == NULL || vv_tensor_n_elements (*stage) < rows * cols) {
    g_clear_pointer (stage, vv_tensor_free);
    if ((*stage = new_flat (net, (gsize) MAX (rows * cols, 1), error)) == NULL)
      return FALSE;
  }
  view2 (v, *stage, rows, cols);
  return TRUE;
}

static gboolean
io_upload (Net *net, VvTensor *v, gconstpointer host, GError **error)
{
  return vv_backend_is_host (net->be)
      || vv_backend_tensor_set (net->be, v, 0, host, vv_tensor_n_bytes (v), error);
}

static gboolean
io_download (Net *net, const VvTensor *v, gpointer host, GError **error)
{
  return vv_backend_is_host (net->be)
      || vv_backend_tensor_get (net->be, v, 0, host, vv_tensor_n_bytes (v), error);
}

/* ---------------------------------------------------------------------- */
/* Encoder API */

/**
 * vv_speech_encoder_new:
 * @model: a loaded model (kept alive by the encoder)
 * @be: the backend to compute with (any device; the weights come from the
 *   model's store for it)
 * @kind: acoustic or semantic tokenizer
 * @error: return location for a #GError
 *
 * Resolves every encoder weight of @kind (errors name the tensor) and
 * allocates the streaming state and work buffers on @be's device.
 *
 * Returns: (transfer full) (nullable): the encoder
 */
VvSpeechEncoder *
vv_speech_encoder_new (VvModel *model, VvBackend *be, VvSpeechTokenizerKind kind,
    GError **error)
{
  g_return_val_if_fail (model != NULL && be != NULL, NULL);
  const VvConfig *cfg = vv_model_get_config (model);
  const VvSpeechTokenizerConfig *t;
  const gchar *root;
  if (kind == VV_SPEECH_TOKENIZER_ACOUSTIC) {
    t = &cfg->acoustic;
    root = "model.acoustic_tokenizer.encoder";
  } else if (kind == VV_SPEECH_TOKENIZER_SEMANTIC) {
    t = &cfg->semantic;
    root = "model.semantic_tokenizer.encoder";
  } else {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR,
        "speech encoder: unknown tokenizer kind %d", (gint) kind);
    return NULL;
  }
  VvSpeechEncoder *enc = g_new0 (VvSpeechEncoder, 1);
  enc->kind = kind;
  enc->encode_chunk_frames = VV_SPEECH_ENCODE_CHUNK_FRAMES;
  enc->net.be = be;
  enc->net.model = vv_model_ref (model);
  if (!encoder_init (&enc->net, t, root, error)
      || !net_ensure (&enc->net, enc->net.hop, error)) {
    vv_speech_encoder_free (enc);
    return NULL;
  }
  return enc;
}

void
vv_speech_encoder_free (VvSpeechEncoder *enc)
{
  if (enc == NULL)
    return;
  net_clear (&enc->net);
  g_free (enc);
}

gint
vv_speech_encoder_get_dim (VvSpeechEncoder *enc)
{
  g_return_val_if_fail (enc != NULL, 0);
  return enc->net.c_out;
}

gint
vv_speech_encoder_get_hop (VvSpeechEncoder *enc)
{
  g_return_val_if_fail (enc != NULL, 0);
  return enc->net.hop;
}

/* Non-streaming encode of @n_rows input rows, from @audio (device, [n_rows,
 * c_in]) or @host_audio, to @means (device, [frames, dim]) or
 * @host_means. */
static gboolean
encode_run (VvSpeechEncoder *enc, const VvTensor *audio, const gfloat *host_audio,
    gsize n_rows, const VvTensor *means, gfloat *host_means, GError **error)
{
  Net *net = &enc->net;
  if (!net_foreach_stateful_conv (net, conv_reset_encode, error))
    return FALSE;
  /* Bounded chunks of whole hops keep the work buffers at the chunk's size
   * whatever the clip length; the last chunk carries the padding. */
  const gsize chunk = enc->encode_chunk_frames == 0 ? n_rows
      : MIN (enc->encode_chunk_frames * (gsize) net->hop, n_rows);
  gsize done = 0, frames_done = 0;
  VvTensor in, out;
  while (done < n_rows) {
    gsize n = n_rows - done;
    gboolean last = n <= chunk;
    if (!last)
      n = chunk;
    gint64 frames = ceil_div ((gint64) n, net->hop);
    if (audio != NULL) {
      vv_tensor_init_rows (&in, audio, (gint64) done, (gint64) n);
      vv_tensor_init_rows (&out, means, (gint64) frames_done, frames);
    } else if (!io_bind (net, &net->io_in, (gpointer) (host_audio + done * net->c_in),
            (gint64) n, net->c_in, &in, error)
        || !io_upload (net, &in, host_audio + done * net->c_in, error)
        || !io_bind (net, &net->io_out, host_means + frames_done * net->c_out,
            frames, net->c_out, &out, error)) {
      return FALSE;
    }
    gint64 got = net_forward (net, &in, &out, last ? MODE_ENCODE_END : MODE_ENCODE, error);
    if (got < 0)
      return FALSE;
    g_assert (got == frames);
    if (audio == NULL && !io_download (net, &out, host_means + frames_done * net->c_out, error))
      return FALSE;
    frames_done += (gsize) got;
    done += n;
  }
  return TRUE;
}

/**
 * vv_speech_encoder_encode: (skip)
 * @enc: an encoder
 * @audio: F32 [n] (or [n, 1]) mono samples in the encoder backend's
 *   memory, n ≥ 1
 * @means: F32 [ceil(n / hop), dim] in the encoder backend's memory
 * @error: return location for a #GError
 *
 * Non-streaming encode (§5.4): zero left context, each strided conv's input
 * right-padded to its stride. Full frames equal the streaming ones; only a
 * last partial frame depends on the padding. The streaming state is left
 * untouched. Runs on the device only (no host transfer).
 */
gboolean
vv_speech_encoder_encode (VvSpeechEncoder *enc, const VvTensor *audio, VvTensor *means,
    GError **error)
{
  g_return_val_if_fail (enc != NULL, FALSE);
  static const gchar what[] = "speech encoder: encode";
  Net *net = &enc->net;
  gint64 n = audio ? vv_tensor_n_elements (audio) / net->c_in : 0;
  if (audio != NULL && (n < 1 || n > G_MAXINT32)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid input length %" G_GINT64_FORMAT, what, n);
    return FALSE;
  }
  VvTensor a, m;
  return check_arg (net, what, "audio", audio, n * net->c_in, net->c_in, net->c_in > 1, &a,
          error)
      && check_arg (net, what, "means", means, ceil_div (n, net->hop) * net->c_out,
          net->c_out, TRUE, &m, error)
      && encode_run (enc, &a, NULL, (gsize) n, &m, NULL, error);
}

/**
 * vv_speech_encoder_encode_host:
 * @enc: an encoder
 * @audio: (array length=n_samples): mono samples
 * @n_samples: at least 1
 * @means: (out caller-allocates): ceil(n_samples / hop) × dim floats
 * @error: return location for a #GError
 *
 * vv_speech_encoder_encode() on host memory (staged chunk by chunk).
 */
gboolean
vv_speech_encoder_encode_host (VvSpeechEncoder *enc, const gfloat *audio, gsize n_samples,
    gfloat *means, GError **error)
{
  g_return_val_if_fail (enc != NULL, FALSE);
  if (!check_io ("speech encoder: encode", audio, means, n_samples, error))
    return FALSE;
  return encode_run (enc, NULL, audio, n_samples, NULL, means, error);
}

/**
 * vv_speech_encoder_set_encode_chunk:
 * @enc: an encoder
 * @frames: frames per chunk of vv_speech_encoder_encode() (0 = the whole
 *   input in one call; the default is %VV_SPEECH_ENCODE_CHUNK_FRAMES)
 *
 * The result does not depend on it, bit for bit; only the memory does.
 */
void
vv_speech_encoder_set_encode_chunk (VvSpeechEncoder *enc, gsize frames)
{
  g_return_if_fail (enc != NULL);
  enc->encode_chunk_frames = frames;
}

static gboolean
check_stream_length (VvSpeechEncoder *enc, gsize n_samples, GError **error)
{
  if (n_samples == 0 || n_samples > (gsize) G_MAXINT32 || n_samples % (gsize) enc->net.hop != 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "speech encoder: encode_stream needs a positive multiple of %d samples, got %"
        G_GSIZE_FORMAT, enc->net.hop, n_samples);
    return FALSE;
  }
  return TRUE;
}

/**
 * vv_speech_encoder_encode_stream: (skip)
 * @enc: an encoder
 * @audio: F32 [n] (or [n, 1]) mono samples in the encoder backend's
 *   memory, n a positive multiple of the hop
 * @means: F32 [n / hop, dim] in the encoder backend's memory
 * @error: return location for a #GError
 *
 * Streaming encode (§5.6): chunked calls give the same frames, bit for bit,
 * as one call over the concatenation. Runs on the device only.
 */
gboolean
vv_speech_encoder_encode_stream (VvSpeechEncoder *enc, const VvTensor *audio,
    VvTensor *means, GError **error)
{
  g_return_val_if_fail (enc != NULL, FALSE);
  static const gchar what[] = "speech encoder: encode_stream";
  Net *net = &enc->net;
  if (audio == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE, "%s: audio is missing", what);
    return FALSE;
  }
  gint64 n = vv_tensor_n_elements (audio) / net->c_in;
  VvTensor a, m;
  return check_stream_length (enc, (gsize) n, error)
      && check_arg (net, what, "audio", audio, n * net->c_in, net->c_in, net->c_in > 1, &a,
          error)
      && check_arg (net, what, "means", means, n / net->hop * net->c_out, net->c_out, TRUE,
          &m, error)
      && net_forward (net, &a, &m, MODE_STREAM, error) >= 0;
}

/**
 * vv_speech_encoder_encode_stream_host:
 * @enc: an encoder
 * @audio: (array length=n_samples): mono samples
 * @n_samples: a positive multiple of the hop
 * @means: (out caller-allocates): n_samples / hop × dim floats
 * @error: return location for a #GError
 *
 * vv_speech_encoder_encode_stream() on host memory.
 */
gboolean
vv_speech_encoder_encode_stream_host (VvSpeechEncoder *enc, const gfloat *audio,
    gsize n_samples, gfloat *means, GError **error)
{
  g_return_val_if_fail (enc != NULL, FALSE);
  Net *net = &enc->net;
  if (!check_io ("speech encoder: encode_stream", audio, means, n_samples, error)
      || !check_stream_length (enc, n_samples, error))
    return FALSE;
  gint64 frames = (gint64) n_samples / net->hop;
  VvTensor in, out;
  return io_bind (net, &net->io_in, (gpointer) audio, (gint64) n_samples, net->c_in, &in, error)
      && io_upload (net, &in, audio, error)
      && io_bind (net, &net->io_out, means, frames, net->c_out, &out, error)
      && net_forward (net, &in, &out, MODE_STREAM, error) >= 0
      && io_download (net, &out, means, error);
}

/**
 * vv_speech_encoder_reset:
 * @enc: an encoder
 *
 * Starts a new stream: the next vv_speech_encoder_encode_stream() sees a
 * zero context (zeroed on the device at that call).
 */
void
vv_speech_encoder_reset (VvSpeechEncoder *enc)
{
  g_return_if_fail (enc != NULL);
  enc->net.reset_pending = TRUE;
}

/* ---------------------------------------------------------------------- */
/* Decoder API */

/**
 * vv_speech_decoder_new:
 * @model: a loaded model with an acoustic decoder (kept alive by the decoder)
 * @be: the backend to compute with (any device)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the decoder
 */
VvSpeechDecoder *
vv_speech_decoder_new (VvModel *model, VvBackend *be, GError **error)
{
  g_return_val_if_fail (model != NULL && be != NULL, NULL);
  const VvConfig *cfg = vv_model_get_config (model);
  if (!cfg->acoustic.has_decoder) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR,
        "speech decoder: the model's acoustic tokenizer has no decoder");
    return NULL;
  }
  VvSpeechDecoder *dec = g_new0 (VvSpeechDecoder, 1);
  dec->net.be = be;
  dec->net.model = vv_model_ref (model);
  if (!decoder_init (&dec->net, &cfg->acoustic, "model.acoustic_tokenizer.decoder", error)
      || !net_ensure (&dec->net, 1, error)) {
    vv_speech_decoder_free (dec);
    return NULL;
  }
  return dec;
}

void
vv_speech_decoder_free (VvSpeechDecoder *dec)
{
  if (dec == NULL)
    return;
  net_clear (&dec->net);
  g_free (dec);
}

gint
vv_speech_decoder_get_hop (VvSpeechDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, 0);
  return dec->net.hop;
}

static gboolean
check_frames (VvSpeechDecoder *dec, gint64 n_frames, GError **error)
{
  if (n_frames < 1 || n_frames > (gint64) (G_MAXINT32 / dec->net.hop)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "speech decoder: decode needs 1 to %d frames, got %" G_GINT64_FORMAT,
        G_MAXINT32 / dec->net.hop, n_frames);
    return FALSE;
  }
  return TRUE;
}

/**
 * vv_speech_decoder_decode: (skip)
 * @dec: a decoder
 * @latents: F32 [n, vae_dim] decoder inputs in the decoder backend's memory
 * @audio: F32 [n · hop] (or [n, hop]) in the decoder backend's memory
 * @error: return location for a #GError
 *
 * Streaming decode (§5.6); any chunking of a latent sequence gives the same
 * samples, bit for bit. Runs on the device only (no host transfer).
 */
gboolean
vv_speech_decoder_decode (VvSpeechDecoder *dec, const VvTensor *latents, VvTensor *audio,
    GError **error)
{
  g_return_val_if_fail (dec != NULL, FALSE);
  static const gchar what[] = "speech decoder: decode";
  Net *net = &dec->net;
  if (latents == NULL || latents->ndim != 2 || latents->shape[1] != net->c_in) {
    g_autofree gchar *s = latents ? vv_tensor_shape_string (latents) : g_strdup ("(missing)");
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: latents %s must be [n, %d]", what, s, net->c_in);
    return FALSE;
  }
  gint64 n = latents->shape[0];
  VvTensor l, a;
  return check_frames (dec, n, error)
      && check_arg (net, what, "latents", latents, n * net->c_in, net->c_in, TRUE, &l, error)
      && check_arg (net, what, "audio", audio, n * net->hop * net->c_out, net->c_out,
          net->c_out > 1, &a, error)
      && net_forward (net, &l, &a, MODE_STREAM, error) >= 0;
}

/**
 * vv_speech_decoder_decode_host:
 * @dec: a decoder
 * @latents: (array): n_frames × vae_dim decoder inputs
 * @n_frames: at least 1
 * @audio: (out caller-allocates): n_frames × hop samples
 * @error: return location for a #GError
 *
 * vv_speech_decoder_decode() on host memory.
 */
gboolean
vv_speech_decoder_decode_host (VvSpeechDecoder *dec, const gfloat *latents, gsize n_frames,
    gfloat *audio, GError **error)
{
  g_return_val_if_fail (dec != NULL, FALSE);
  Net *net = &dec->net;
  if (!check_io ("speech decoder: decode", latents, audio, n_frames, error)
      || !check_frames (dec, (gint64) n_frames, error))
    return FALSE;
  gint64 n = (gint64) n_frames;
  VvTensor in, out;
  return io_bind (net, &net->io_in, (gpointer) latents, n, net->c_in, &in, error)
      && io_upload (net, &in, latents, error)
      && io_bind (net, &net->io_out, audio, n * net->hop, net->c_out, &out, error)
      && net_forward (net, &in, &out, MODE_STREAM, error) >= 0
      && io_download (net, &out, audio, error);
}

/**
 * vv_speech_decoder_reset:
 * @dec: a decoder
 *
 * Starts a new stream (the contexts are zeroed on the device at the next
 * decode).
 */
void
vv_speech_decoder_reset (VvSpeechDecoder *dec)
{
  g_return_if_fail (dec != NULL);
  dec->net.reset_pending = TRUE;
}

/**
 * vv_speech_encoder_set_profile:
 * @enc: an encoder
 * @prof: (nullable): where to add per-part times (see #VvSpeechProfile)
 *
 * Benchmarks only: profiling synchronizes the backend after every part.
 */
void
vv_speech_encoder_set_profile (VvSpeechEncoder *enc, VvSpeechProfile *prof)
{
  g_return_if_fail (enc != NULL);
  enc->net.prof = prof;
}

/**
 * vv_speech_decoder_set_profile:
 * @dec: a decoder
 * @prof: (nullable): where to add per-part times (see #VvSpeechProfile)
 *
 * Benchmarks only, as vv_speech_encoder_set_profile().
 */
void
vv_speech_decoder_set_profile (VvSpeechDecoder *dec, VvSpeechProfile *prof)
{
  g_return_if_fail (dec != NULL);
  dec->net.prof = prof;
}
