/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-backend.h"
#include "vv-model.h"
#include "vv-config.h"

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
 * Stages, depths and widths come from the config; weights come from the
 * model's store for @be's device (the model must outlive the encoder).
 * Any backend: streaming state and work buffers live on its device.
 *
 * The main API takes tensors in the backend's memory and does no
 * host<->device transfer; the _host variants take host pointers (copied in
 * and out on device backends, used in place on host backends). */
VvSpeechEncoder *vv_speech_encoder_new (VvModel *model, VvBackend *be,
                                        VvSpeechTokenizerKind kind, GError **error);
void             vv_speech_encoder_free (VvSpeechEncoder *enc);
gint             vv_speech_encoder_get_dim (VvSpeechEncoder *enc);
gint             vv_speech_encoder_get_hop (VvSpeechEncoder *enc);
/* vv_speech_encoder_encode() works in chunks of this many frames, so its
 * memory does not grow with the clip. */
#define VV_SPEECH_ENCODE_CHUNK_FRAMES 32
void             vv_speech_encoder_set_encode_chunk (VvSpeechEncoder *enc, gsize frames);

/* Non-streaming (§5.4): any n ≥ 1 samples; right-pads each strided conv to
 * its stride as the reference does. @audio: F32 [n] (or [n, 1]); @means:
 * F32 [ceil(n/hop), dim]. Does not touch the streaming state. */
gboolean         vv_speech_encoder_encode (VvSpeechEncoder *enc, const VvTensor *audio,
                                           VvTensor *means, GError **error);
/* Writes ceil(n/hop) × dim floats to @means (host, caller-allocated). */
gboolean         vv_speech_encoder_encode_host (VvSpeechEncoder *enc, const gfloat *audio,
                                                gsize n_samples, gfloat *means, GError **error);
/* Streaming (§5.6): n must be a multiple of the hop (3200·m); @means:
 * F32 [m, dim]. Chunked == whole (bit-identical). */
gboolean         vv_speech_encoder_encode_stream (VvSpeechEncoder *enc, const VvTensor *audio,
                                                  VvTensor *means, GError **error);
gboolean         vv_speech_encoder_encode_stream_host (VvSpeechEncoder *enc, const gfloat *audio,
                                                       gsize n_samples, gfloat *means,
                                                       GError **error);
void             vv_speech_encoder_reset (VvSpeechEncoder *enc);

/* Acoustic decoder (§5.3): [n, 64] latents (decoder input, i.e.
 * already z/scale − bias) → n × hop samples. Always streaming (§5.6);
 * decoding all frames in one call from a fresh state equals the
 * reference's non-streaming decode. Any backend, like the encoder. */
VvSpeechDecoder *vv_speech_decoder_new (VvModel *model, VvBackend *be, GError **error);
void             vv_speech_decoder_free (VvSpeechDecoder *dec);
gint             vv_speech_decoder_get_hop (VvSpeechDecoder *dec);
/* @latents: F32 [n, 64]; @audio: F32 [n · hop] or [n, hop]. */
gboolean         vv_speech_decoder_decode (VvSpeechDecoder *dec, const VvTensor *latents,
                                           VvTensor *audio, GError **error);
gboolean         vv_speech_decoder_decode_host (VvSpeechDecoder *dec, const gfloat *latents,
                                                gsize n_frames, gfloat *audio, GError **error);
void             vv_speech_decoder_reset (VvSpeechDecoder *dec);

/* Per-part profile for benchmarks: part 2i is stage i's stem / down- or
 * up-sampling conv, 2i + 1 its Block1D stack, 2·n_stages the head. While
 * set, every call synchronizes the backend after each part and adds its
 * wall time, process CPU time and multiply-adds (convs only: norms and element-wise ops do
 * none) here. */
#define VV_SPEECH_PROFILE_PARTS (2 * VV_MAX_STAGES + 1)
typedef struct {
  gint n_parts;
  gint channels[VV_SPEECH_PROFILE_PARTS];      /* output channels */
  gint64 rows[VV_SPEECH_PROFILE_PARTS];        /* output rows of the last call */
  gdouble ms[VV_SPEECH_PROFILE_PARTS];
  gdouble cpu_ms[VV_SPEECH_PROFILE_PARTS];     /* process CPU time (all threads) */
  gdouble macs[VV_SPEECH_PROFILE_PARTS];
  gdouble cpu_mark;                            /* internal */
} VvSpeechProfile;
/* @prof: (nullable): zeroed by the caller; NULL stops profiling */
void             vv_speech_encoder_set_profile (VvSpeechEncoder *enc, VvSpeechProfile *prof);
void             vv_speech_decoder_set_profile (VvSpeechDecoder *dec, VvSpeechProfile *prof);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvSpeechEncoder, vv_speech_encoder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvSpeechDecoder, vv_speech_decoder_free)

G_END_DECLS
