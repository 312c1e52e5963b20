/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"

G_BEGIN_DECLS

/**
 * VvSpeechTokenizerKind:
 * @VV_SPEECH_TOKENIZER_ACOUSTIC: σ-VAE acoustic tokenizer (64-d latents, has a decoder)
 * @VV_SPEECH_TOKENIZER_SEMANTIC: semantic tokenizer (128-d, encoder only)
 */
typedef enum {
  VV_SPEECH_TOKENIZER_ACOUSTIC,
  VV_SPEECH_TOKENIZER_SEMANTIC,
} VvSpeechTokenizerKind;

typedef struct _VvSpeechEncoder VvSpeechEncoder;
typedef struct _VvSpeechDecoder VvSpeechDecoder;

/* Encoder (MODEL-SPEC §5.2): 24 kHz mono audio → [frames, vae_dim] means.
 * Stages, depths and widths come from the config; weights are the model's
 * mapped tensors (the model must outlive the encoder). */
VvSpeechEncoder *vv_speech_encoder_new (VvModel *model, VvBackend *be,
                                        VvSpeechTokenizerKind kind, GError **error);
void             vv_speech_encoder_free (VvSpeechEncoder *enc);
gint             vv_speech_encoder_get_dim (VvSpeechEncoder *enc);
gint             vv_speech_encoder_get_hop (VvSpeechEncoder *enc);
/* vv_speech_encoder_encode() works in chunks of this many frames, so its
 * memory does not grow with the clip. */
#define VV_SPEECH_ENCODE_CHUNK_FRAMES 32

/* Non-streaming (§5.4): any n_samples ≥ 1; right-pads each strided conv to
 * its stride as the reference does. Writes ceil(n/hop) × dim floats to
 * @means (host, caller-allocated). Does not touch the streaming state. */
gboolean         vv_speech_encoder_encode (VvSpeechEncoder *enc, const gfloat *audio,
                                           gsize n_samples, gfloat *means, GError **error);
/* Streaming (§5.6): n_samples must be a multiple of the hop (3200·m);
 * writes m × dim floats. Chunked == whole (bit-identical). */
void             vv_speech_encoder_set_encode_chunk (VvSpeechEncoder *enc, gsize frames);
gboolean         vv_speech_encoder_encode_stream (VvSpeechEncoder *enc, const gfloat *audio,
                                                  gsize n_samples, gfloat *means, GError **error);
void             vv_speech_encoder_reset (VvSpeechEncoder *enc);

/* Acoustic decoder (§5.3): [frames, 64] latents (decoder input, i.e.
 * already z/scale − bias) → frames × hop samples. Always streaming (§5.6);
 * decoding all frames in one call from a fresh state equals the
 * reference's non-streaming decode. */
VvSpeechDecoder *vv_speech_decoder_new (VvModel *model, VvBackend *be, GError **error);
void             vv_speech_decoder_free (VvSpeechDecoder *dec);
gint             vv_speech_decoder_get_hop (VvSpeechDecoder *dec);
gboolean         vv_speech_decoder_decode (VvSpeechDecoder *dec, const gfloat *latents,
                                           gsize n_frames, gfloat *audio, GError **error);
void             vv_speech_decoder_reset (VvSpeechDecoder *dec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvSpeechEncoder, vv_speech_encoder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvSpeechDecoder, vv_speech_decoder_free)

G_END_DECLS
