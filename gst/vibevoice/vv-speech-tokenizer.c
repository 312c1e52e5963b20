/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-speech-tokenizer.h"

#include <string.h>

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
 * All weight views are resolved and all buffers allocated at construction;
 * buffers grow only when a longer chunk than ever before comes.
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
  VvTensor w;                   /* view; linears as [out, in, 1] */
  const VvTensor *b;
  gint c_in, c_out, k, s, groups;
  gboolean transposed;
  gint ctx;                     /* conv: k − s rows of context (§5.6) */
  gint max_prev;                /* transposed: ceil(k/s) − 1 previous frames */
  gint n_prev;                  /* transposed: frames held now */
  gfloat *state;                /* [MAX (ctx, max_prev), c_in] */
  gfloat *enc_state;            /* conv: [MAX (1, ctx), c_in], MODE_ENCODE context */
} Conv;

typedef struct {
  gint c;
  const VvTensor *norm, *ffn_norm;
  VvTensor *gamma, *ffn_gamma;  /* F32 copies: binary() takes F32 operands */
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
  /* work buffers: x (residual stream), a, b (conv input'), c, d (FFN) */
  gsize cap, cap_ffn;
  gfloat *x, *a, *bb, *c, *d;
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
/* Construction */

static const VvTensor *
require (VvModel *model, const gchar *name, gint ndim, const gint64 *shape, GError **error)
{
  const VvTensor *t = vv_model_require_tensor (model, name, error);
  if (t == NULL)
    return NULL;
  gboolean ok = t->ndim == ndim;
  for (gint i = 0; ok && i < ndim; i++)
    ok = t->shape[i] == shape[i];
  if (!ok) {
    g_autofree gchar *have = vv_tensor_shape_string (t);
    g_autofree gchar *want = vv_shape_string (ndim, shape);
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_SHAPE,
        "speech tokenizer: tensor %s is %s, expected %s", name, have, want);
    return NULL;
  }
  if (t->device != NULL) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_TENSOR_DTYPE,
        "speech tokenizer: tensor %s is not in host memory", name);
    return NULL;
  }
  return t;
}

static void
conv_clear (Conv *cv)
{
  g_clear_pointer (&cv->name, g_free);
  g_clear_pointer (&cv->state, g_free);
  g_clear_pointer (&cv->enc_state, g_free);
}

/* A conv (or linear, @k = 0) named @prefix.weight / @prefix.bias. */
static gboolean
conv_init (Conv *cv, VvModel *model, const gchar *prefix, gint c_in, gint c_out,
    gint k, gint s, gint groups, gboolean transposed, GError **error)
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
    if ((w = require (model, wn, 2, shape, error)) == NULL)
      return FALSE;
    k = 1;
    shape[2] = 1;
  } else {
    shape[0] = transposed ? c_in : c_out;
    shape[1] = transposed ? c_out : c_in / groups;
    shape[2] = k;
    if ((w = require (model, wn, 3, shape, error)) == NULL)
      return FALSE;
  }
  vv_tensor_init_view (&cv->w, w->dtype, 3, shape, w->data);
  cv->k = k;
  if ((cv->b = require (model, bn, 1, (gint64[]) { c_out }, error)) == NULL)
    return FALSE;
  if (transposed) {
    /* §5.6: only inputs whose outputs overlap the next chunk matter */
    cv->max_prev = (k + s - 1) / s - 1;
    cv->state = g_new0 (gfloat, (gsize) MAX (1, cv->max_prev) * c_in);
  } else {
    cv->ctx = k - s;            /* §5.4 / §5.6: causal context k − s */
    cv->state = g_new0 (gfloat, (gsize) MAX (1, cv->ctx) * c_in);
    cv->enc_state = g_new0 (gfloat, (gsize) MAX (1, cv->ctx) * c_in);
  }
  return TRUE;
}

static void
conv_reset (Conv *cv)
{
  /* §5.6: reset = zero contexts, empty transposed-conv history */
  memset (cv->state, 0, (gsize) MAX (1, MAX (cv->ctx, cv->max_prev)) * cv->c_in * sizeof (gfloat));
  cv->n_prev = 0;
}

static VvTensor *
f32_copy (VvBackend *be, const VvTensor *t, GError **error)
{
  g_autoptr (VvTensor) host = vv_tensor_new (VV_DTYPE_F32, 1, t->shape);
  vv_convert_to_f32 (t->dtype, t->data, host->data, (gsize) t->shape[0]);
  VvTensor *dev = vv_backend_tensor_new (be, VV_DTYPE_F32, 1, t->shape, error);
  if (dev == NULL)
    return NULL;
  if (!vv_backend_tensor_upload (be, dev, host, error)) {
    vv_backend_tensor_free (be, dev);
    return NULL;
  }
  return dev;
}

static gboolean
block_init (Block *bl, Net *net, const gchar *prefix, gint c, GError **error)
{
  VvModel *m = net->model;
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
  if ((bl->norm = require (m, n1, 1, sc, error)) == NULL
      || (bl->ffn_norm = require (m, n2, 1, sc, error)) == NULL
      || (gamma = require (m, g1, 1, sc, error)) == NULL
      || (ffn_gamma = require (m, g2, 1, sc, error)) == NULL)
    return FALSE;
  if ((bl->gamma = f32_copy (net->be, gamma, error)) == NULL
      || (bl->ffn_gamma = f32_copy (net->be, ffn_gamma, error)) == NULL)
    return FALSE;
  /* §5.1, §12.7: depthwise mixer k7, FFN expansion 4 */
  return conv_init (&bl->dw, m, dw, c, c, 7, 1, c, FALSE, error)
      && conv_init (&bl->lin1, m, l1, c, 4 * c, 0, 1, 1, FALSE, error)
      && conv_init (&bl->lin2, m, l2, 4 * c, c, 0, 1, 1, FALSE, error);
}

static void
block_clear (Net *net, Block *bl)
{
  vv_backend_tensor_free (net->be, bl->gamma);
  vv_backend_tensor_free (net->be, bl->ffn_gamma);
  conv_clear (&bl->dw);
  conv_clear (&bl->lin1);
  conv_clear (&bl->lin2);
}

static void
net_clear (Net *net)
{
  for (gint i = 0; i < net->n_stages; i++) {
    Stage *st = &net->stages[i];
    conv_clear (&st->conv);
    for (gint b = 0; b < st->n_blocks; b++)
      block_clear (net, &st->blocks[b]);
    g_free (st->blocks);
  }
  conv_clear (&net->head);
  g_free (net->x);
  g_free (net->a);
  g_free (net->bb);
  g_free (net->c);
  g_free (net->d);
  g_clear_pointer (&net->model, vv_model_unref);
}

/* Calls @func on every conv that carries state (stage convs, block
 * mixers, head). */
static void
net_foreach_stateful_conv (Net *net, void (*func) (Conv *cv))
{
  for (gint i = 0; i < net->n_stages; i++) {
    Stage *st = &net->stages[i];
    func (&st->conv);
    for (gint b = 0; b < st->n_blocks; b++)
      func (&st->blocks[b].dw);
  }
  func (&net->head);
}

static void
net_reset (Net *net)
{
  net_foreach_stateful_conv (net, conv_reset);
}

/* Zeroes the context of a non-streaming encode (the reference's causal
 * zero padding, §5.4). */
static void
conv_reset_encode (Conv *cv)
{
  if (cv->enc_state != NULL)
    memset (cv->enc_state, 0, (gsize) MAX (1, cv->ctx) * cv->c_in * sizeof (gfloat));
}

static void
net_reset_encode (Net *net)
{
  net_foreach_stateful_conv (net, conv_reset_encode);
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
net_check_backend (VvBackend *be, GError **error)
{
  /* State copies and buffer slicing below use host pointers. */
  if (!vv_backend_is_host (be)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "speech tokenizer: the %s backend is not supported yet (host backends only)",
        vv_backend_get_name (be));
    return FALSE;
  }
  return TRUE;
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
  net->hop = t->hop_length;
  net->eps = (gfloat) t->layernorm_eps;
  for (gint i = 0; i <= n; i++) {
    Stage *st = &net->stages[i];
    g_autofree gchar *p = g_strdup_printf ("%s.downsample_layers.%d.0.conv.conv", root, i);
    gboolean ok = i == 0 ?
        conv_init (&st->conv, net->model, p, t->channels, ch, 7, 1, 1, FALSE, error) :
        conv_init (&st->conv, net->model, p, ch << (i - 1), ch << i,
            2 * t->ratios[n - i], t->ratios[n - i], 1, FALSE, error);
    if (!ok || !stage_blocks_init (net, st, root, i, t->depths[i], ch << i, error))
      return FALSE;
  }
  g_autofree gchar *head = g_strdup_printf ("%s.head.conv.conv", root);
  return conv_init (&net->head, net->model, head, ch << n, t->vae_dim, 7, 1, 1, FALSE, error);
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
  net->hop = t->hop_length;
  net->eps = (gfloat) t->layernorm_eps;
  for (gint i = 0; i <= n; i++) {
    Stage *st = &net->stages[i];
    gboolean ok;
    if (i == 0) {
      g_autofree gchar *p = g_strdup_printf ("%s.upsample_layers.0.0.conv.conv", root);
      ok = conv_init (&st->conv, net->model, p, t->vae_dim, ch << n, 7, 1, 1, FALSE, error);
    } else {
      gint s = t->decoder_ratios[i - 1];
      g_autofree gchar *p = g_strdup_printf ("%s.upsample_layers.%d.0.convtr.convtr", root, i);
      ok = conv_init (&st->conv, net->model, p, ch << (n - i + 1), ch << (n - i),
          2 * s, s, 1, TRUE, error);
    }
    if (!ok || !stage_blocks_init (net, st, root, i, t->decoder_depths[i], ch << (n - i), error))
      return FALSE;
  }
  g_autofree gchar *head = g_strdup_printf ("%s.head.conv.conv", root);
  return conv_init (&net->head, net->model, head, ch, t->channels, 7, 1, 1, FALSE, error);
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

/* Grows the work buffers for an input of @t rows (never shrinks). */
static void
net_ensure (Net *net, gint64 t)
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
    net->cap = need + need / 4;
    g_free (net->x);
    g_free (net->a);
    g_free (net->bb);
    g_free (net->c);
    net->x = g_new (gfloat, net->cap);
    net->a = g_new (gfloat, net->cap);
    net->bb = g_new (gfloat, net->cap);
    net->c = g_new (gfloat, net->cap);
  }
  if (need_ffn > net->cap_ffn) {
    net->cap_ffn = need_ffn + need_ffn / 4;
    g_free (net->d);
    net->d = g_new (gfloat, net->cap_ffn);
  }
}

static inline VvTensor *
view (VvTensor *v, gfloat *data, gint64 rows, gint64 cols)
{
  vv_tensor_init_view (v, VV_DTYPE_F32, 2, (gint64[]) { rows, cols }, data);
  return v;
}

/* ---------------------------------------------------------------------- */
/* Forward */

/* src [t, c_in] → dst [t_out, c_out] (dst may be src: input' is a copy). */
static gboolean
conv_forward (Net *net, Conv *cv, const gfloat *src, gint64 t, gfloat *dst, gint64 *t_out,
    ConvMode mode, GError **error)
{
  const gsize row = (gsize) cv->c_in * sizeof (gfloat);
  gfloat *in = net->bb;
  VvTensor x, y;

  if (cv->transposed) {
    /* §5.6: input' = [previous frames | chunk]; the raw output trimmed by
     * k − s on the right (§5.4) and stripped of the rows the previous
     * call already returned is rows [n_prev·s, (n_prev + t)·s) */
    gint64 np = cv->n_prev, n_in = np + t;
    memcpy (in, cv->state, (gsize) np * row);
    memcpy (in + np * cv->c_in, src, (gsize) t * row);
    gint64 raw_rows = (n_in - 1) * cv->s + cv->k;
    if (!vv_backend_conv_transpose1d (net->be, view (&y, net->c, raw_rows, cv->c_out),
            view (&x, in, n_in, cv->c_in), &cv->w, cv->b, cv->s, error)) {
      g_prefix_error (error, "%s: ", cv->name);
      return FALSE;
    }
    *t_out = t * cv->s;
    memcpy (dst, net->c + np * cv->s * cv->c_out,
        (gsize) (*t_out * cv->c_out) * sizeof (gfloat));
    cv->n_prev = (gint) MIN (cv->max_prev, n_in);
    memcpy (cv->state, in + (n_in - cv->n_prev) * cv->c_in, (gsize) cv->n_prev * row);
    return TRUE;
  }

  /* Earlier chunks of an encode are whole hops, so at every layer their
   * length is a multiple of the stride and the last chunk's padding equals
   * the whole signal's: chunked == one call, bit for bit. */
  gfloat *state = mode == MODE_STREAM ? cv->state : cv->enc_state;
  gint64 extra = mode == MODE_ENCODE_END ? ceil_div (t, cv->s) * cv->s - t : 0;
  memcpy (in, state, (gsize) cv->ctx * row);
  memcpy (in + (gsize) cv->ctx * cv->c_in, src, (gsize) t * row);
  gint64 n_in = cv->ctx + t + extra;
  memset (in + (gsize) (cv->ctx + t) * cv->c_in, 0, (gsize) extra * row);
  if (mode != MODE_ENCODE_END)
    memcpy (state, in + (gsize) t * cv->c_in, (gsize) cv->ctx * row);
  *t_out = (n_in - cv->k) / cv->s + 1;
  if (!vv_backend_conv1d (net->be, view (&y, dst, *t_out, cv->c_out),
          view (&x, in, n_in, cv->c_in), &cv->w, cv->b, cv->s, cv->groups, error)) {
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
  view (&x, net->x, t, bl->c);
  view (&a, net->a, t, bl->c);
  view (&c, net->c, t, bl->c);
  view (&d, net->d, t, 4 * bl->c);
  /* x += γ ⊙ DWConv(RMSNorm(x)) */
  if (!vv_backend_rms_norm (be, &a, &x, bl->norm, net->eps, error)
      || !conv_forward (net, &bl->dw, net->a, t, net->c, &tt, mode, error)
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

/* input [t, c_in] → output [t_out, c_out] (host); returns t_out or -1 */
static gint64
net_forward (Net *net, const gfloat *input, gint64 t, gfloat *output, ConvMode mode,
    GError **error)
{
  net_ensure (net, t);
  memcpy (net->x, input, (gsize) (t * net->c_in) * sizeof (gfloat));
  for (gint i = 0; i < net->n_stages; i++) {
    Stage *st = &net->stages[i];
    if (!conv_forward (net, &st->conv, net->x, t, net->x, &t, mode, error))
      return -1;
    for (gint b = 0; b < st->n_blocks; b++)
      if (!block_forward (net, &st->blocks[b], t, mode, error))
        return -1;
  }
  if (!conv_forward (net, &net->head, net->x, t, net->x, &t, mode, error))
    return -1;
  memcpy (output, net->x, (gsize) (t * net->c_out) * sizeof (gfloat));
  return t;
}

/* ---------------------------------------------------------------------- */
/* Encoder API */

/**
 * vv_speech_encoder_new:
 * @model: a loaded model (kept alive by the encoder)
 * @be: the backend to compute with (host backends only, for now)
 * @kind: acoustic or semantic tokenizer
 * @error: return location for a #GError
 *
 * Resolves every encoder weight of @kind (errors name the tensor) and
 * allocates the streaming state.
 *
 * Returns: (transfer full) (nullable): the encoder
 */
VvSpeechEncoder *
vv_speech_encoder_new (VvModel *model, VvBackend *be, VvSpeechTokenizerKind kind,
    GError **error)
{
  g_return_val_if_fail (model != NULL && be != NULL, NULL);
  if (!net_check_backend (be, error))
    return NULL;
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
  if (!encoder_init (&enc->net, t, root, error)) {
    vv_speech_encoder_free (enc);
    return NULL;
  }
  net_ensure (&enc->net, enc->net.hop);
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

/**
 * vv_speech_encoder_encode:
 * @enc: an encoder
 * @audio: (array length=n_samples): mono samples
 * @n_samples: at least 1
 * @means: (out caller-allocates): ceil(n_samples / hop) × dim floats
 * @error: return location for a #GError
 *
 * Non-streaming encode (§5.4): zero left context, each strided conv's input
 * right-padded to its stride. Full frames equal the streaming ones; only a
 * last partial frame depends on the padding. The streaming state is left
 * untouched.
 */
gboolean
vv_speech_encoder_encode (VvSpeechEncoder *enc, const gfloat *audio, gsize n_samples,
    gfloat *means, GError **error)
{
  g_return_val_if_fail (enc != NULL, FALSE);
  if (!check_io ("speech encoder: encode", audio, means, n_samples, error))
    return FALSE;
  Net *net = &enc->net;
  net_reset_encode (net);
  /* Bounded chunks of whole hops keep the work buffers at the chunk's size
   * whatever the clip length; the last chunk carries the padding. */
  const gsize chunk = enc->encode_chunk_frames == 0 ? n_samples
      : enc->encode_chunk_frames * (gsize) net->hop;
  gsize done = 0;
  gfloat *out = means;
  while (done < n_samples) {
    gsize n = n_samples - done;
    gboolean last = n <= chunk;
    if (!last)
      n = chunk;
    gint64 frames = net_forward (net, audio + done, (gint64) n, out,
        last ? MODE_ENCODE_END : MODE_ENCODE, error);
    if (frames < 0)
      return FALSE;
    out += (gsize) frames * (gsize) net->c_out;
    done += n;
  }
  return TRUE;
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

/**
 * vv_speech_encoder_encode_stream:
 * @enc: an encoder
 * @audio: (array length=n_samples): mono samples
 * @n_samples: a positive multiple of the hop
 * @means: (out caller-allocates): n_samples / hop × dim floats
 * @error: return location for a #GError
 *
 * Streaming encode (§5.6): chunked calls give the same frames, bit for bit,
 * as one call over the concatenation.
 */
gboolean
vv_speech_encoder_encode_stream (VvSpeechEncoder *enc, const gfloat *audio,
    gsize n_samples, gfloat *means, GError **error)
{
  g_return_val_if_fail (enc != NULL, FALSE);
  if (!check_io ("speech encoder: encode_stream", audio, means, n_samples, error))
    return FALSE;
  if (n_samples % (gsize) enc->net.hop != 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "speech encoder: encode_stream needs a multiple of %d samples, got %"
        G_GSIZE_FORMAT, enc->net.hop, n_samples);
    return FALSE;
  }
  return net_forward (&enc->net, audio, (gint64) n_samples, means, MODE_STREAM, error) >= 0;
}

void
vv_speech_encoder_reset (VvSpeechEncoder *enc)
{
  g_return_if_fail (enc != NULL);
  net_reset (&enc->net);
}

/* ---------------------------------------------------------------------- */
/* Decoder API */

/**
 * vv_speech_decoder_new:
 * @model: a loaded model with an acoustic decoder (kept alive by the decoder)
 * @be: the backend to compute with (host backends only, for now)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the decoder
 */
VvSpeechDecoder *
vv_speech_decoder_new (VvModel *model, VvBackend *be, GError **error)
{
  g_return_val_if_fail (model != NULL && be != NULL, NULL);
  if (!net_check_backend (be, error))
    return NULL;
  const VvConfig *cfg = vv_model_get_config (model);
  if (!cfg->acoustic.has_decoder) {
    g_set_error (error, VV_MODEL_ERROR, VV_MODEL_ERROR_MISSING_TENSOR,
        "speech decoder: the model's acoustic tokenizer has no decoder");
    return NULL;
  }
  VvSpeechDecoder *dec = g_new0 (VvSpeechDecoder, 1);
  dec->net.be = be;
  dec->net.model = vv_model_ref (model);
  if (!decoder_init (&dec->net, &cfg->acoustic, "model.acoustic_tokenizer.decoder", error)) {
    vv_speech_decoder_free (dec);
    return NULL;
  }
  net_ensure (&dec->net, 1);
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

/**
 * vv_speech_decoder_decode:
 * @dec: a decoder
 * @latents: (array): n_frames × vae_dim decoder inputs
 * @n_frames: at least 1
 * @audio: (out caller-allocates): n_frames × hop samples
 * @error: return location for a #GError
 *
 * Streaming decode (§5.6); any chunking of a latent sequence gives the same
 * samples, bit for bit.
 */
gboolean
vv_speech_decoder_decode (VvSpeechDecoder *dec, const gfloat *latents, gsize n_frames,
    gfloat *audio, GError **error)
{
  g_return_val_if_fail (dec != NULL, FALSE);
  if (!check_io ("speech decoder: decode", latents, audio, n_frames, error))
    return FALSE;
  if (n_frames > (gsize) (G_MAXINT32 / dec->net.hop)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "speech decoder: too many frames (%" G_GSIZE_FORMAT ")", n_frames);
    return FALSE;
  }
  return net_forward (&dec->net, latents, (gint64) n_frames, audio, MODE_STREAM, error) >= 0;
}

void
vv_speech_decoder_reset (VvSpeechDecoder *dec)
{
  g_return_if_fail (dec != NULL);
  net_reset (&dec->net);
}
