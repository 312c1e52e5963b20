/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Media types between the vv elements. Every element lists the
 * memory:CUDAMemory structure first and system memory second. The CUDA
 * structures are offered only where device memory can flow: latents (and
 * their attached audio) from a vvdiffuse whose engine runs on a CUDA
 * backend, and vvvocode's audio made from such latents. Those buffers
 * carry GstVvDeviceMemory (gstvvdevicememory.h), not GstCudaMemory. Every
 * other pad strips them, so system memory is negotiated there.
 */
#pragma once

#include <gst/gst.h>
#include <vibevoice/vibevoice.h>

G_BEGIN_DECLS

#define GST_VV_CAPS_FEATURE_CUDA "memory:CUDAMemory"

/* One buffer = one dialogue turn: the UTF-8 text of a serialized GstStructure
 * named "vv-turn" (gst_structure_to_string), fields:
 *   speaker  (string) the label as written: "1" for "Speaker 1:", "A" for
 *            "[Speaker A]" / "[Role:A]", "Alice" for "Alice:"
 *   text     (string) the words (may be empty for a pause-only turn)
 *   emotion  (string, optional) from [Emotion:X], lower-cased
 *   pause-ms (uint) silence requested before this turn (0 = none)
 *   line     (uint) 1-based source line of the turn, for error messages
 * Use gst_vv_turn_* helpers (gstvvcaps.c) to build and parse them. */
#define GST_VV_TURN_MEDIA_TYPE "application/x-vv-turn"

/* One buffer = one utterance window, ready for generation: a serialized
 * VvPrompt (vv_prompt_serialize(): token ids, voice placeholder positions,
 * the acoustic-encoder means of each voice clip). */
#define GST_VV_PROMPT_MEDIA_TYPE "application/x-vv-prompt"

/* Latent frames: F32LE, [n_frames][dim] per buffer, frame k of the stream
 * lasting hop/rate seconds (2/15 s). DISCONT on a buffer = the decoder's
 * streaming state is reset before its first frame (start of stream, after
 * ⟨speech_end⟩, after a flush). A buffer may carry GstVvAudioMeta: the
 * audio the producer already decoded for exactly those frames. */
#define GST_VV_LATENT_MEDIA_TYPE "application/x-vv-latents"
#define GST_VV_LATENT_CAPS_FIELDS \
    "format=(string)F32LE, dim=(int)[1,4096], rate=(int)[1,MAX], hop=(int)[1,MAX]"

/* Recorded latents: the latent stream as a byte stream of self-describing
 * records, so that a file (vvdiffuse ! filesink, filesrc ! vvvocode) keeps
 * the decoder reset points and the pauses. Each record is a 40-byte header,
 * all fields little-endian, then n_frames × dim F32LE floats:
 *   0  magic    "VVLR"
 *   4  version  u16 = 1
 *   6  flags    u16: bit 0 RESET (decoder reset before the first frame),
 *               bit 1 GAP (silence of `duration`, n_frames = 0)
 *   8  n_frames u32 (at most GST_VV_RECORD_MAX_FRAMES)
 *  12  dim      u32 (1..4096)
 *  16  rate     u32 audio sample rate
 *  20  hop      u32 samples per frame
 *  24  pts      u64 ns (GST_CLOCK_TIME_NONE = unknown)
 *  32  duration u64 ns
 * Caps carry no fields: every record describes itself. */
#define GST_VV_LATENT_RECORDS_MEDIA_TYPE "application/x-vv-latent-records"
#define GST_VV_RECORD_HEADER_SIZE 40
#define GST_VV_RECORD_VERSION 1
#define GST_VV_RECORD_FLAG_RESET (1 << 0)
#define GST_VV_RECORD_FLAG_GAP (1 << 1)
#define GST_VV_RECORD_MAX_FRAMES 4096
#define GST_VV_RECORD_MAX_DIM 4096

typedef struct {
  guint16 flags;
  guint32 n_frames, dim, rate, hop;
  guint64 pts, duration;
} GstVvRecordHeader;

void     gst_vv_record_header_write (const GstVvRecordHeader *h,
                                     guint8 out[GST_VV_RECORD_HEADER_SIZE]);
/* FALSE with @error naming the field when the header is not a valid record. */
gboolean gst_vv_record_header_parse (const guint8 in[GST_VV_RECORD_HEADER_SIZE],
                                     GstVvRecordHeader *h, GError **error);

/* Custom serialized downstream event (vvtokenize → vvdiffuse): silence of
 * "duration" (guint64 ns) at this point of the stream. vvdiffuse turns it
 * into a GAP event with exact timestamps; vvvocode turns GAP into zeros. */
#define GST_VV_PAUSE_EVENT_NAME "vv-pause"

/* "A(memory:CUDAMemory), F; A, F" for a media type A and fields F. */
GstCaps  *gst_vv_caps_new_template (const gchar *media_type, const gchar *fields);
/* TRUE when @engine (nullable: FALSE) computes on a CUDA backend: "cuda",
 * or "cuda-emu" (the same backend on the emulator, which the tests run), so
 * its tensors can stay in its memory between the elements. */
gboolean  gst_vv_cuda_usable (VvEngine *engine);
/* @caps without the structures that need memory:CUDAMemory unless @cuda
 * (a new reference). */
GstCaps  *gst_vv_caps_filter_usable (GstCaps *caps, gboolean cuda);
/* TRUE if structure @i of @caps has the memory:CUDAMemory feature. */
gboolean  gst_vv_caps_is_cuda (GstCaps *caps, guint i);

GstEvent *gst_vv_pause_event_new (GstClockTime duration);
gboolean  gst_vv_pause_event_parse (GstEvent *event, GstClockTime *duration);

/* Turns. gst_vv_turn_buffer_parse returns a "vv-turn" GstStructure or NULL
 * with @error set (names what is wrong). */
GstBuffer    *gst_vv_turn_buffer_new (const gchar *speaker, const gchar *text,
                                      const gchar *emotion, guint pause_ms, guint line);
GstStructure *gst_vv_turn_buffer_parse (GstBuffer *buffer, GError **error);

G_END_DECLS
