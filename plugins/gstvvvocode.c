/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vvvocode
 * @title: vvvocode
 * @short_description: decodes VibeVoice σ-VAE latents to 24 kHz audio
 *
 * vvvocode turns `application/x-vv-latents` frames (F32LE, `dim` floats per
 * frame, normalised as the diffusion head produces them) into mono F32LE
 * audio, `hop` samples per frame, with the acoustic decoder of the model
 * (MODEL-SPEC §5.3). The decoder is streaming (§5.6): its state is kept
 * across buffers, so the audio is seamless and identical to decoding all
 * frames at once. The decoder input is z / speech_scaling_factor −
 * speech_bias_factor.
 *
 * - A DISCONT flag on an input buffer resets the decoder before its first
 *   frame (stream start, after ⟨speech_end⟩); so do FLUSH_STOP, a new
 *   STREAM_START and a GAP event.
 * - A buffer carrying #GstVvAudioMeta already has its audio (vvdiffuse
 *   decodes every frame itself): that audio is output as is and the
 *   decoder is not run, unless #GstVvVocode:use-attached-audio is FALSE.
 * - Latents in device memory (memory:CUDAMemory caps, from vvdiffuse on a
 *   CUDA engine) are decoded on the device, and attached device audio is
 *   passed on there: the output is audio/x-raw(memory:CUDAMemory) when
 *   downstream accepts it, else system memory, downloaded here once
 *   (docs/CUDA.md).
 * - A GAP event becomes exact zeros of the same duration, in buffers of at
 *   most 4096 samples (so an hour of pause is never one allocation); they
 *   stop early when downstream is flushing or at EOS.
 * - Input buffers may split frames anywhere (filesrc): whole frames are
 *   decoded as soon as they are complete; bytes left over at EOS are an
 *   error.
 *
 * The model is the folder in #GstVvVocode:model (loaded in NULL→READY) or,
 * when that is unset, the model another vv element of the pipeline shares
 * through the "vv.engine" context (looked up when the first frame needs
 * decoding).
 *
 * Timestamps come from a running sample counter starting at 0 (PTS =
 * samples / rate, OFFSET/OFFSET_END = sample numbers) in the element's own
 * TIME segment (carrying the upstream segment's seqnum). The counter
 * follows the input PTS (as running time of a TIME upstream segment) only
 * at an input DISCONT, and the output buffer is then DISCONT too;
 * otherwise input timestamps are ignored, so producer rounding never makes
 * gaps or overlaps. GAP events advance the counter by their duration
 * (their timestamp is not followed). FLUSH_STOP restarts the counter at 0
 * with a new segment. The output is DISCONT on the first buffer, after a
 * flush and when the counter jumps.
 *
 * Latency: each complete frame's audio is pushed from the chain function
 * that received it, so the element adds nothing to upstream's latency
 * (upstream already counts the frame it produces).
 *
 * #GstVvVocode:frames-decoded and #GstVvVocode:frames-passed-through count
 * since the element was created; in the vvdiffuse → vvvocode chain with
 * attached audio, every frame is decoded once (by vvdiffuse) and
 * frames-decoded stays 0.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=z.f32 ! \
 *     application/x-vv-latents,format=F32LE,dim=64,rate=24000,hop=3200 ! \
 *     vvvocode model=/path/to/VibeVoice-1.5B ! audioconvert ! wavenc ! filesink location=out.wav
 * ]| Decodes a raw file of latents (one decoder segment, no pauses).
 * |[
 * gst-launch-1.0 filesrc location=talk.lat ! application/x-vv-latent-records ! \
 *     vvvocode model=/path/to/VibeVoice-1.5B ! audioconvert ! wavenc ! filesink location=out.wav
 * ]| Decodes a recording written by `vvdiffuse ! filesink location=talk.lat`
 * (reset points and pauses kept: the live audio, sample for sample).
 * |[
 * gst-launch-1.0 filesrc location=dialog.txt ! vvdialogparse ! vvtokenize model=DIR ! \
 *     vvdiffuse ! vvvocode ! audioconvert ! wavenc ! filesink location=out.wav
 * ]| The full chain: vvvocode shares vvtokenize's model.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"
#include "gstvvcaps.h"
#include "gstvvmeta.h"
#include "gstvvengine.h"
#include "gstvvdevicememory.h"

#include <gst/base/gstadapter.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vv_vocode_debug);
#define GST_CAT_DEFAULT gst_vv_vocode_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_THREADS 0
#define DEFAULT_USE_ATTACHED_AUDIO TRUE
#define DEFAULT_RATE 24000
/* Silence for a GAP goes out in buffers of at most this many samples
 * (16 KiB, 171 ms at 24 kHz), whatever the GAP's length. */
#define SILENCE_CHUNK_SAMPLES 4096

#define AUDIO_FIELDS \
    "format=(string)F32LE, layout=(string)interleaved, rate=(int)[1,MAX], channels=(int)1"

enum {
  PROP_0,
  PROP_MODEL,
  PROP_THREADS,
  PROP_DEVICE,
  PROP_USE_ATTACHED_AUDIO,
  PROP_FRAMES_DECODED,
  PROP_FRAMES_PASSED_THROUGH,
};

typedef struct {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* Settings and the model; object lock. */
  gchar *model_dir;
  gint threads;
  GstVvDevice device;
  gboolean use_attached_audio;
  VvModel *model;               /* loaded (model=) or shared (context) */
  guint64 frames_decoded;
  guint64 frames_passed;

  /* Streaming state; stream lock (or stopped pads). */
  VvEngine *engine;             /* the pipeline's */
  VvSpeechDecoder *decoder;
  gint dim, hop, rate;          /* from the latent caps; 0 = no caps yet */
  GstSegment in_segment;        /* upstream's, for mapping input PTS */
  guint32 seqnum;               /* upstream segment seqnum, GST_SEQNUM_INVALID if none */
  gboolean need_caps, need_segment;
  gboolean discont;             /* next output buffer gets DISCONT */
  gboolean dec_reset;           /* reset the decoder before the next decode */
  gboolean dec_stale;           /* frames went by without the decoder (audio meta) */
  gboolean warned_stale;
  guint64 samples;              /* running output sample counter */
  GstAdapter *adapter;          /* partial frames */
  gboolean records;             /* sink caps are the recorded form */
  gint device_in;               /* sink caps are memory:CUDAMemory (atomic: src queries) */
  gboolean device_out;          /* src caps are memory:CUDAMemory: device audio out */
  GstAdapter *rec_adapter;      /* recorded form: bytes of an incomplete record */
  guint64 rec_offset;           /* byte offset of the first byte in rec_adapter */
  gfloat *scratch;              /* normalised decoder input */
  gsize scratch_len;
} GstVvVocode;

typedef struct {
  GstElementClass parent_class;
} GstVvVocodeClass;

G_DEFINE_TYPE (GstVvVocode, gst_vv_vocode, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvvocode, "vvvocode", GST_RANK_NONE, gst_vv_vocode_get_type ());

static GstFlowReturn gst_vv_vocode_chain (GstPad *pad, GstObject *parent, GstBuffer *buf);
static gboolean gst_vv_vocode_sink_event (GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_vv_vocode_sink_query (GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_vv_vocode_src_query (GstPad *pad, GstObject *parent, GstQuery *query);

/* ------------------------------------------------------------------ */
/* state                                                               */

static void
reset_stream (GstVvVocode *self)
{
  gst_adapter_clear (self->adapter);
  gst_adapter_clear (self->rec_adapter);
  self->rec_offset = 0;
  gst_segment_init (&self->in_segment, GST_FORMAT_UNDEFINED);
  self->seqnum = GST_SEQNUM_INVALID;
  self->need_caps = TRUE;
  self->need_segment = TRUE;
  self->discont = TRUE;
  self->dec_reset = TRUE;
  self->dec_stale = FALSE;
  self->warned_stale = FALSE;
  self->samples = 0;
}

static void
free_engine (GstVvVocode *self)
{
  g_clear_pointer (&self->decoder, vv_speech_decoder_free);
  g_clear_pointer (&self->engine, vv_engine_unref);
  g_clear_pointer (&self->scratch, g_free);
  self->scratch_len = 0;
}

static VvModel *
get_model (GstVvVocode *self)
{
  GST_OBJECT_LOCK (self);
  VvModel *m = self->model ? vv_model_ref (self->model) : NULL;
  GST_OBJECT_UNLOCK (self);
  return m;
}

/* The model's decoder geometry against the latent caps; FALSE with an
 * element error naming both. */
static gboolean
check_model_geometry (GstVvVocode *self, VvModel *model)
{
  const VvConfig *cfg = vv_model_get_config (model);
  gint dim = cfg->acoustic.vae_dim, hop = cfg->acoustic.hop_length;
  if (self->dim == 0 || (self->dim == dim && self->hop == hop))
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FORMAT,
      ("Latent caps (dim=%d, hop=%d) do not match the decoder of model %s (dim=%d, hop=%d)",
          self->dim, self->hop, vv_model_get_dir (model), dim, hop), (NULL));
  return FALSE;
}

/* Backend and decoder, created the first time a frame needs decoding;
 * the model comes from model= or the shared "vv.engine" context. */
static gboolean
ensure_decoder (GstVvVocode *self)
{
  if (self->decoder)
    return TRUE;
  g_autoptr (VvModel) model = get_model (self);
  if (model == NULL) {
    model = gst_vv_engine_find (GST_ELEMENT (self));
    if (model == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("no model: set model= or put vvvocode after vvtokenize/vvdiffuse"), (NULL));
      return FALSE;
    }
    GST_OBJECT_LOCK (self);
    if (self->model == NULL)
      self->model = vv_model_ref (model);
    GST_OBJECT_UNLOCK (self);
  }
  if (!check_model_geometry (self, model))
    return FALSE;

  GST_OBJECT_LOCK (self);
  gint threads = self->threads;
  GstVvDevice device = self->device;
  GST_OBJECT_UNLOCK (self);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvEngine) engine = gst_vv_engine_ensure (GST_ELEMENT (self), model, device,
      threads, &error);
  VvBackend *be = engine ? vv_engine_get_backend (engine) : NULL;
  g_autoptr (VvSpeechDecoder) dec = be ? vv_speech_decoder_new (model, be, &error) : NULL;
  if (dec == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not create the acoustic decoder of model %s", vv_model_get_dir (model)),
        ("%s", error->message));
    return FALSE;
  }
  if (vv_speech_decoder_get_hop (dec) != self->hop) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Latent caps hop=%d does not match the decoder of model %s (hop=%d)",
            self->hop, vv_model_get_dir (model), vv_speech_decoder_get_hop (dec)), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "decoder ready: model %s, dim %d, hop %d, %d threads",
      vv_model_get_dir (model), self->dim, self->hop, vv_backend_get_n_threads (be));
  self->engine = g_steal_pointer (&engine);
  /* the decoder keeps pointers into the model's tensors; self->model holds
   * the model for as long as the decoder lives (freed together in READY→NULL) */
  self->decoder = g_steal_pointer (&dec);
  self->dec_reset = FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* output                                                              */

static gboolean
negotiate (GstVvVocode *self)
{
  gint rate = self->rate;
  if (rate == 0) {
    /* EOS or GAP before any caps: the model's rate, else VibeVoice's */
    g_autoptr (VvModel) m = get_model (self);
    rate = m ? vv_model_get_config (m)->sampling_rate : DEFAULT_RATE;
  }
  GstCaps *tmpl = gst_pad_get_pad_template_caps (self->srcpad);
  /* device audio only from device latents (template order: CUDA first) */
  gboolean device_in = g_atomic_int_get (&self->device_in);
  GstCaps *usable = gst_vv_caps_filter_usable (tmpl, device_in);
  gst_caps_unref (tmpl);
  GstCaps *ours = gst_caps_new_empty ();
  for (guint i = 0; i < gst_caps_get_size (usable); i++) {
    GstStructure *s = gst_structure_copy (gst_caps_get_structure (usable, i));
    gst_structure_set (s, "rate", G_TYPE_INT, rate, NULL);
    GstCapsFeatures *f = gst_caps_get_features (usable, i);
    gst_caps_append_structure_full (ours, s, f ? gst_caps_features_copy (f) : NULL);
  }
  gst_caps_unref (usable);
  GstCaps *answer = gst_pad_peer_query_caps (self->srcpad, ours);
  if (gst_caps_is_any (answer) && device_in) {
    /* a peer that takes anything (fakesink, a generic sink) may map for
     * writing: give it system memory, as the recorded latents are */
    GstCaps *sys = gst_vv_caps_filter_usable (ours, FALSE);
    gst_caps_replace (&ours, sys);
    gst_caps_unref (sys);
  }
  /* intersect again: a peer may answer ANY whatever the filter */
  GstCaps *peer = gst_caps_intersect_full (ours, answer, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (answer);
  gst_caps_unref (ours);
  if (gst_caps_is_empty (peer)) {
    gst_caps_unref (peer);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("downstream does not accept audio/x-raw F32LE mono at %d Hz in system memory%s", rate,
            device_in ? " or memory:CUDAMemory" : ""));
    return FALSE;
  }
  peer = gst_caps_fixate (peer);
  self->device_out = gst_vv_caps_is_cuda (peer, 0);
  GST_DEBUG_OBJECT (self, "output caps %" GST_PTR_FORMAT, peer);
  gboolean ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (peer));
  gst_caps_unref (peer);
  if (!ok) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("downstream refused the caps event"));
    return FALSE;
  }
  if (self->rate == 0)
    g_atomic_int_set (&self->rate, rate);
  self->need_caps = FALSE;
  return TRUE;
}

static gboolean
ensure_caps_and_segment (GstVvVocode *self)
{
  if (self->need_caps && !negotiate (self))
    return FALSE;
  if (self->need_segment) {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    GstEvent *ev = gst_event_new_segment (&seg);
    if (self->seqnum != GST_SEQNUM_INVALID)
      gst_event_set_seqnum (ev, self->seqnum);
    gst_pad_push_event (self->srcpad, ev);
    self->need_segment = FALSE;
  }
  return TRUE;
}

/* Timestamps @out (n samples) from the counter and pushes it. */
static GstFlowReturn
push_audio (GstVvVocode *self, GstBuffer *out, guint64 n)
{
  if (!ensure_caps_and_segment (self)) {
    gst_buffer_unref (out);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstClockTime t0 = gst_util_uint64_scale_int (self->samples, GST_SECOND, self->rate);
  GstClockTime t1 = gst_util_uint64_scale_int (self->samples + n, GST_SECOND, self->rate);
  GST_BUFFER_PTS (out) = t0;
  GST_BUFFER_DTS (out) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (out) = t1 - t0;
  GST_BUFFER_OFFSET (out) = self->samples;
  GST_BUFFER_OFFSET_END (out) = self->samples + n;
  if (self->discont) {
    GST_BUFFER_FLAG_SET (out, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  } else {
    GST_BUFFER_FLAG_UNSET (out, GST_BUFFER_FLAG_DISCONT);
  }
  self->samples += n;
  return gst_pad_push (self->srcpad, out);
}

/* At an input DISCONT, move the counter to the input PTS (as running time
 * of the upstream TIME segment) when it differs. */
static void
follow_running_time (GstVvVocode *self, GstClockTime rt)
{
  if (!GST_CLOCK_TIME_IS_VALID (rt) || self->rate == 0)
    return;
  guint64 target = gst_util_uint64_scale_int_round (rt, self->rate, GST_SECOND);
  if (target != self->samples) {
    GST_DEBUG_OBJECT (self, "input PTS %" GST_TIME_FORMAT " moves the sample counter %"
        G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT, GST_TIME_ARGS (rt), self->samples, target);
    self->samples = target;
    self->discont = TRUE;
  }
}

static void
follow_input_pts (GstVvVocode *self, GstBuffer *buf)
{
  /* a recording's record PTS is the producer's running time (recorded
   * streams come through a BYTES segment, e.g. from filesrc) */
  if (self->records)
    follow_running_time (self, GST_BUFFER_PTS (buf));
  else if (GST_BUFFER_PTS_IS_VALID (buf) && self->in_segment.format == GST_FORMAT_TIME)
    follow_running_time (self, gst_segment_to_running_time (&self->in_segment,
            GST_FORMAT_TIME, GST_BUFFER_PTS (buf)));
}

/* ------------------------------------------------------------------ */
/* decoding                                                            */

/* The output memory the src caps want: @audio (taken) itself, or a copy
 * in the other memory (a download for system-memory caps, the normal case
 * downstream of device latents; an upload for device caps). NULL after an
 * element error. Call after ensure_caps_and_segment(). */
static GstBuffer *
audio_for_output (GstVvVocode *self, GstBuffer *audio)
{
  gboolean dev = gst_vv_buffer_has_device_memory (audio);
  if (dev == self->device_out)
    return audio;
  g_autoptr (GError) error = NULL;
  GstBuffer *out = NULL;
  gsize size = gst_buffer_get_size (audio);
  if (dev) {
    out = gst_vv_buffer_to_system (audio, &error);
  } else if (ensure_decoder (self)) {
    /* host audio under device caps (latents that were not device memory
     * of our engine): into the engine's memory */
    VvBackend *be = vv_engine_get_backend (self->engine);
    gint64 n = size / sizeof (gfloat);
    VvTensor *t = vv_backend_tensor_new (be, VV_DTYPE_F32, 1, &n, &error);
    GstMapInfo map;
    if (t != NULL && gst_buffer_map (audio, &map, GST_MAP_READ)) {
      gboolean ok = vv_backend_tensor_set (be, t, 0, map.data, n * sizeof (gfloat), &error);
      gst_buffer_unmap (audio, &map);
      if (ok) {
        out = gst_buffer_new ();
        gst_buffer_append_memory (out, gst_vv_device_memory_new_wrapped (self->engine,
                g_steal_pointer (&t)));
      }
    } else if (t != NULL && error == NULL) {
      g_set_error (&error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "cannot map the audio buffer");
    }
    if (t != NULL)
      vv_backend_tensor_free (be, t);
  } else {
    gst_buffer_unref (audio);
    return NULL;                /* ensure_decoder posted the error */
  }
  gst_buffer_unref (audio);
  if (out == NULL)
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot move %" G_GSIZE_FORMAT " bytes of "
            "audio to %s memory", size, dev ? "system" : "device"), ("%s", error ? error->message
            : "?"));
  return out;
}

/* The decoder, reset when the stream asks for it. */
static gboolean
begin_decode (GstVvVocode *self)
{
  if (!ensure_decoder (self))
    return FALSE;
  if (self->dec_stale) {
    /* pre-decoded frames went by: the state no longer matches the stream */
    if (!self->warned_stale) {
      GST_ELEMENT_WARNING (self, STREAM, DECODE,
          ("latent stream switched from pre-decoded to raw without DISCONT; audio may click"),
          (NULL));
      self->warned_stale = TRUE;
    }
    self->dec_reset = TRUE;
    self->dec_stale = FALSE;
  }
  if (self->dec_reset) {
    vv_speech_decoder_reset (self->decoder);
    self->dec_reset = FALSE;
  }
  return TRUE;
}

static GstFlowReturn
decode_frames (GstVvVocode *self, const gfloat *z, gsize n_frames)
{
  if (!begin_decode (self))
    return GST_FLOW_ERROR;

  g_autoptr (VvModel) model = get_model (self);
  const gfloat scale = vv_model_get_speech_scaling_factor (model);
  const gfloat bias = vv_model_get_speech_bias_factor (model);
  gsize n = n_frames * (gsize) self->dim;
  if (self->scratch_len < n) {
    self->scratch = g_renew (gfloat, self->scratch, n);
    self->scratch_len = n;
  }
  for (gsize i = 0; i < n; i++)
    self->scratch[i] = z[i] / scale - bias;

  guint64 n_samples = (guint64) n_frames * self->hop;
  GstBuffer *out = gst_buffer_new_allocate (NULL, n_samples * sizeof (gfloat), NULL);
  GstMapInfo map;
  if (out == NULL || !gst_buffer_map (out, &map, GST_MAP_WRITE)) {
    if (out)
      gst_buffer_unref (out);
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("cannot allocate %" G_GUINT64_FORMAT " samples", n_samples));
    return GST_FLOW_ERROR;
  }
  g_autoptr (GError) error = NULL;
  gboolean ok = vv_speech_decoder_decode_host (self->decoder, self->scratch, n_frames,
      (gfloat *) map.data, &error);
  gst_buffer_unmap (out, &map);
  if (!ok) {
    gst_buffer_unref (out);
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Decoding %" G_GSIZE_FORMAT " latent frames failed",
            n_frames), ("%s", error->message));
    return GST_FLOW_ERROR;
  }
  GST_OBJECT_LOCK (self);
  self->frames_decoded += n_frames;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "decoded %" G_GSIZE_FORMAT " frames", n_frames);
  if (!ensure_caps_and_segment (self)) {
    gst_buffer_unref (out);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if ((out = audio_for_output (self, out)) == NULL)
    return GST_FLOW_ERROR;
  return push_audio (self, out, n_samples);
}

/* Latents in device memory of our engine's backend, [n, dim] F32: decoded
 * there, without a host copy of the latents (the normalisation z / scale −
 * bias on the device, as the session does it). *@handled FALSE: not such a
 * tensor, the caller reads the bytes instead. */
static GstFlowReturn
decode_device (GstVvVocode *self, GstMemory *dev, gboolean *handled)
{
  *handled = FALSE;
  const VvTensor *z = gst_vv_device_memory_get_tensor (dev);
  if (!ensure_decoder (self))
    return GST_FLOW_ERROR;
  VvBackend *be = vv_engine_get_backend (self->engine);
  if (vv_engine_get_backend (gst_vv_device_memory_get_engine (dev)) != be
      || z->dtype != VV_DTYPE_F32 || z->ndim != 2 || z->shape[1] != self->dim
      || z->shape[0] < 1) {
    GST_LOG_OBJECT (self, "device latents not decodable in place: read through a map");
    return GST_FLOW_OK;
  }
  *handled = TRUE;
  if (!begin_decode (self) || !ensure_caps_and_segment (self))
    return GST_FLOW_ERROR;
  g_autoptr (VvModel) model = get_model (self);
  gsize n_frames = z->shape[0];
  guint64 n_samples = (guint64) n_frames * self->hop;
  gint64 ashape[2] = { (gint64) n_frames, self->hop };
  g_autoptr (GError) error = NULL;
  VvTensor *dec_in = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, z->shape, &error);
  VvTensor *audio = dec_in ? vv_backend_tensor_new (be, VV_DTYPE_F32, 2, ashape, &error) : NULL;
  gboolean ok = audio != NULL
      && vv_backend_affine (be, VV_AFFINE_DIV_SUB, dec_in, z,
          vv_model_get_speech_scaling_factor (model), vv_model_get_speech_bias_factor (model),
          &error)
      && vv_speech_decoder_decode (self->decoder, dec_in, audio, &error);
  if (dec_in)
    vv_backend_tensor_free (be, dec_in);
  GstBuffer *out = NULL;
  if (ok && self->device_out) {
    out = gst_buffer_new ();
    gst_buffer_append_memory (out, gst_vv_device_memory_new_wrapped (self->engine,
            g_steal_pointer (&audio)));
  } else if (ok) {
    /* system-memory caps downstream: the one download, of the audio */
    gsize bytes = n_samples * sizeof (gfloat);
    out = gst_buffer_new_allocate (NULL, bytes, NULL);
    GstMapInfo map;
    ok = out != NULL && gst_buffer_map (out, &map, GST_MAP_WRITE);
    if (ok) {
      ok = vv_backend_tensor_get (be, audio, 0, map.data, bytes, &error);
      gst_buffer_unmap (out, &map);
    } else if (error == NULL) {
      g_set_error (&error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
          "cannot allocate %" G_GSIZE_FORMAT " bytes", bytes);
    }
  }
  if (audio)
    vv_backend_tensor_free (be, audio);
  if (!ok) {
    gst_clear_buffer (&out);
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Decoding %" G_GSIZE_FORMAT " latent frames in "
            "device memory failed", n_frames), ("%s", error ? error->message : "?"));
    return GST_FLOW_ERROR;
  }
  GST_OBJECT_LOCK (self);
  self->frames_decoded += n_frames;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "decoded %" G_GSIZE_FORMAT " frames on the device", n_frames);
  return push_audio (self, out, n_samples);
}

/* Whole frames waiting in the adapter. */
static GstFlowReturn
decode_available (GstVvVocode *self)
{
  gsize frame_bytes = (gsize) self->dim * sizeof (gfloat);
  gsize n_frames = gst_adapter_available (self->adapter) / frame_bytes;
  if (n_frames == 0)
    return GST_FLOW_OK;
  gsize bytes = n_frames * frame_bytes;
  /* take a copy: gst_adapter_map's pointer is not guaranteed float-aligned */
  gfloat *z = g_malloc (bytes);
  gst_adapter_copy (self->adapter, z, 0, bytes);
  gst_adapter_flush (self->adapter, bytes);
  GstFlowReturn ret = decode_frames (self, z, n_frames);
  g_free (z);
  return ret;
}

static GstFlowReturn
pass_attached (GstVvVocode *self, GstBuffer *buf, GstVvAudioMeta *meta)
{
  gsize frame_bytes = (gsize) self->dim * sizeof (gfloat);
  gsize size = gst_buffer_get_size (buf);
  if (gst_adapter_available (self->adapter) > 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("buffer with attached audio follows %" G_GSIZE_FORMAT " bytes of an incomplete frame",
            gst_adapter_available (self->adapter)));
    return GST_FLOW_ERROR;
  }
  if (size == 0 || size % frame_bytes != 0) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("buffer with attached audio has %" G_GSIZE_FORMAT " bytes, not a whole number of "
            "%d-float frames (%" G_GSIZE_FORMAT " bytes each)", size, self->dim, frame_bytes));
    return GST_FLOW_ERROR;
  }
  gsize n_frames = size / frame_bytes;
  guint64 n_samples = (guint64) n_frames * self->hop;
  gsize audio_size = meta->audio ? gst_buffer_get_size (meta->audio) : 0;
  if (audio_size != n_samples * sizeof (gfloat)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("attached audio has %" G_GSIZE_FORMAT " bytes; %" G_GSIZE_FORMAT " frames × hop %d "
            "need %" G_GUINT64_FORMAT, audio_size, n_frames, self->hop,
            n_samples * (guint64) sizeof (gfloat)));
    return GST_FLOW_ERROR;
  }
  if (!ensure_caps_and_segment (self))
    return GST_FLOW_NOT_NEGOTIATED;
  /* shares the memory; only the metadata is ours. Device audio stays on
   * the device when downstream takes memory:CUDAMemory, else it is
   * downloaded here, once. */
  GstBuffer *out = audio_for_output (self, gst_buffer_copy (meta->audio));
  if (out == NULL)
    return GST_FLOW_ERROR;
  self->dec_stale = TRUE;
  GST_OBJECT_LOCK (self);
  self->frames_passed += n_frames;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "passing %" G_GSIZE_FORMAT " pre-decoded frames", n_frames);
  return push_audio (self, out, n_samples);
}

static gboolean set_latent_caps (GstVvVocode *self, GstCaps *caps);
static gboolean handle_gap (GstVvVocode *self, GstEvent *event);

static GstFlowReturn
chain_latents (GstVvVocode *self, GstBuffer *buf)
{
  GstFlowReturn ret;

  if (self->dim == 0) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("latent buffer before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT)) {
    gsize left = gst_adapter_available (self->adapter);
    if (left > 0) {
      GST_ELEMENT_WARNING (self, STREAM, DECODE, (NULL),
          ("DISCONT drops %" G_GSIZE_FORMAT " bytes of an incomplete frame", left));
      gst_adapter_clear (self->adapter);
    }
    self->dec_reset = TRUE;
    self->dec_stale = FALSE;
    follow_input_pts (self, buf);
  }

  GST_OBJECT_LOCK (self);
  gboolean use_attached = self->use_attached_audio;
  GST_OBJECT_UNLOCK (self);
  GstVvAudioMeta *meta = use_attached ? gst_buffer_get_vv_audio_meta (buf) : NULL;
  if (meta) {
    ret = pass_attached (self, buf, meta);
    gst_buffer_unref (buf);
    return ret;
  }

  GstMemory *dev = gst_vv_buffer_peek_device_memory (buf);
  if (dev != NULL && gst_adapter_available (self->adapter) == 0) {
    gboolean handled;
    ret = decode_device (self, dev, &handled);
    if (handled || ret != GST_FLOW_OK) {
      gst_buffer_unref (buf);
      return ret;
    }
  }
  /* bytes (a map of device memory downloads it once) */
  gst_adapter_push (self->adapter, buf);
  return decode_available (self);
}

/* The recorded form (gstvvcaps.h): split the byte stream, chunked however
 * upstream likes, into records; each becomes what the live stream carried
 * (a latent buffer, DISCONT at a reset point, or a GAP). */
static GstFlowReturn
chain_records (GstVvVocode *self, GstBuffer *buf)
{
  gst_adapter_push (self->rec_adapter, buf);
  while (gst_adapter_available (self->rec_adapter) >= GST_VV_RECORD_HEADER_SIZE) {
    guint8 hdr[GST_VV_RECORD_HEADER_SIZE];
    GstVvRecordHeader h;
    g_autoptr (GError) err = NULL;
    gst_adapter_copy (self->rec_adapter, hdr, 0, GST_VV_RECORD_HEADER_SIZE);
    if (!gst_vv_record_header_parse (hdr, &h, &err)) {
      GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Bad latent record at byte offset %"
              G_GUINT64_FORMAT ": %s", self->rec_offset, err->message), (NULL));
      return GST_FLOW_ERROR;
    }
    /* bounded by the header checks: at most 4096 × 4096 floats */
    gsize payload = (gsize) h.n_frames * h.dim * sizeof (gfloat);
    if (gst_adapter_available (self->rec_adapter) < GST_VV_RECORD_HEADER_SIZE + payload)
      break;
    if ((gint) h.dim != self->dim || (gint) h.hop != self->hop || (gint) h.rate != self->rate) {
      GstCaps *caps = gst_caps_new_simple (GST_VV_LATENT_MEDIA_TYPE,
          "format", G_TYPE_STRING, "F32LE", "dim", G_TYPE_INT, (gint) h.dim,
          "rate", G_TYPE_INT, (gint) h.rate, "hop", G_TYPE_INT, (gint) h.hop, NULL);
      gboolean ok = set_latent_caps (self, caps);
      gst_caps_unref (caps);
      if (!ok)
        return GST_FLOW_NOT_NEGOTIATED;
    }
    gst_adapter_flush (self->rec_adapter, GST_VV_RECORD_HEADER_SIZE);
    self->rec_offset += GST_VV_RECORD_HEADER_SIZE + payload;
    if (h.flags & GST_VV_RECORD_FLAG_GAP) {
      if (!handle_gap (self, gst_event_new_gap (h.pts, h.duration)))
        return GST_FLOW_ERROR;
      continue;
    }
    if (payload == 0)
      continue;
    GstBuffer *frames = gst_adapter_take_buffer (self->rec_adapter, payload);
    frames = gst_buffer_make_writable (frames);
    GST_BUFFER_PTS (frames) = h.pts;
    GST_BUFFER_DURATION (frames) = h.duration;
    if (h.flags & GST_VV_RECORD_FLAG_RESET)
      GST_BUFFER_FLAG_SET (frames, GST_BUFFER_FLAG_DISCONT);
    else
      GST_BUFFER_FLAG_UNSET (frames, GST_BUFFER_FLAG_DISCONT);
    GstFlowReturn ret = chain_latents (self, frames);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_vv_vocode_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstVvVocode *self = (GstVvVocode *) parent;
  if (!self->records)
    return chain_latents (self, buf);
  GstFlowReturn ret = chain_records (self, buf);
  /* an error is reported once, not again as a truncation at EOS */
  if (ret != GST_FLOW_OK)
    gst_adapter_clear (self->rec_adapter);
  return ret;
}

/* ------------------------------------------------------------------ */
/* events                                                              */

static gboolean
set_latent_caps (GstVvVocode *self, GstCaps *caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint dim = 0, rate = 0, hop = 0;
  const gchar *format = gst_structure_get_string (s, "format");
  if (!gst_caps_is_fixed (caps) || g_strcmp0 (format, "F32LE") != 0
      || !gst_structure_get_int (s, "dim", &dim) || !gst_structure_get_int (s, "rate", &rate)
      || !gst_structure_get_int (s, "hop", &hop) || dim <= 0 || rate <= 0 || hop <= 0) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("need fixed latent caps with format=F32LE, dim, rate and hop; got %" GST_PTR_FORMAT,
            caps));
    return FALSE;
  }
  if (self->dim != 0 && (dim != self->dim || hop != self->hop)) {
    /* a different latent geometry: a new stream for the decoder */
    if (gst_adapter_available (self->adapter) > 0) {
      GST_ELEMENT_WARNING (self, STREAM, DECODE, (NULL),
          ("caps change drops %" G_GSIZE_FORMAT " bytes of an incomplete frame",
              gst_adapter_available (self->adapter)));
      gst_adapter_clear (self->adapter);
    }
    free_engine (self);
  }
  if (rate != self->rate) {
    self->need_caps = TRUE;
    if (self->rate != 0) {
      /* keep the running time continuous across the rate change */
      self->samples = gst_util_uint64_scale_int_round (self->samples, rate, self->rate);
    }
  }
  self->dim = dim;
  self->hop = hop;
  g_atomic_int_set (&self->rate, rate);
  self->dec_reset = TRUE;

  g_autoptr (VvModel) model = get_model (self);
  if (model && !check_model_geometry (self, model))
    return FALSE;
  GST_DEBUG_OBJECT (self, "latents: dim %d, rate %d, hop %d", dim, rate, hop);
  return TRUE;
}

/* @k zero samples in device memory of the pipeline's engine, or NULL
 * after an element error. */
static GstBuffer *
device_silence (GstVvVocode *self, guint64 k)
{
  if (!ensure_decoder (self))
    return NULL;
  VvBackend *be = vv_engine_get_backend (self->engine);
  gint64 n = (gint64) k;
  g_autoptr (GError) error = NULL;
  VvTensor *t = vv_backend_tensor_new (be, VV_DTYPE_F32, 1, &n, &error);
  if (t == NULL || !vv_backend_tensor_zero (be, t, &error)) {
    if (t)
      vv_backend_tensor_free (be, t);
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("cannot make %" G_GUINT64_FORMAT " samples of silence in device memory: %s", k,
            error->message));
    return NULL;
  }
  GstBuffer *out = gst_buffer_new ();
  gst_buffer_append_memory (out, gst_vv_device_memory_new_wrapped (self->engine, t));
  return out;
}

static gboolean
handle_gap (GstVvVocode *self, GstEvent *event)
{
  GstClockTime ts, duration;
  gst_event_parse_gap (event, &ts, &duration);
  gst_event_unref (event);
  /* a pause is a boundary for the decoder */
  self->dec_reset = TRUE;
  self->dec_stale = FALSE;
  if (gst_adapter_available (self->adapter) > 0) {
    GST_ELEMENT_WARNING (self, STREAM, DECODE, (NULL),
        ("GAP drops %" G_GSIZE_FORMAT " bytes of an incomplete frame",
            gst_adapter_available (self->adapter)));
    gst_adapter_clear (self->adapter);
  }
  if (!GST_CLOCK_TIME_IS_VALID (duration) || duration == 0) {
    GST_DEBUG_OBJECT (self, "GAP without duration: decoder reset only");
    return TRUE;
  }
  if (!ensure_caps_and_segment (self))
    return FALSE;
  guint64 n = gst_util_uint64_scale_int_round (duration, self->rate, GST_SECOND);
  GST_DEBUG_OBJECT (self, "GAP of %" GST_TIME_FORMAT " -> %" G_GUINT64_FORMAT " zeros",
      GST_TIME_ARGS (duration), n);
  /* in buffers of at most SILENCE_CHUNK_SAMPLES: a pause may be an hour long,
   * and a flushing or finished downstream stops it early */
  GstFlowReturn ret = GST_FLOW_OK;
  for (guint64 left = n; left > 0 && ret == GST_FLOW_OK;) {
    guint64 k = MIN (left, SILENCE_CHUNK_SAMPLES);
    GstBuffer *out;
    if (self->device_out) {
      /* zeros made on the device: nothing crosses for a pause */
      if ((out = device_silence (self, k)) == NULL)
        return FALSE;
    } else {
      out = gst_buffer_new_allocate (NULL, k * sizeof (gfloat), NULL);
      if (out == NULL) {
        GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
            ("cannot allocate %" G_GUINT64_FORMAT " samples of silence", k));
        return FALSE;
      }
      gst_buffer_memset (out, 0, 0, k * sizeof (gfloat));
    }
    /* push_audio stamps it from the sample counter: contiguous buffers */
    ret = push_audio (self, out, k);
    left -= k;
  }
  return ret == GST_FLOW_OK || ret == GST_FLOW_FLUSHING || ret == GST_FLOW_EOS;
}

static gboolean
gst_vv_vocode_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVvVocode *self = (GstVvVocode *) parent;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      GstStructure *st = gst_caps_get_structure (caps, 0);
      self->records = gst_structure_has_name (st, GST_VV_LATENT_RECORDS_MEDIA_TYPE);
      gboolean device_in = gst_vv_caps_is_cuda (caps, 0);
      if (device_in != g_atomic_int_get (&self->device_in)) {
        /* device or system audio out follows the latents' memory */
        g_atomic_int_set (&self->device_in, device_in);
        self->need_caps = TRUE;
      }
      /* the recorded form: the geometry comes with each record */
      gboolean ok = self->records || set_latent_caps (self, caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_SEGMENT: {
      /* swallowed: ours is TIME from the sample counter */
      gst_event_copy_segment (event, &self->in_segment);
      self->seqnum = gst_event_get_seqnum (event);
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_STREAM_START:
      /* a new stream: fresh decoder; caps and segment are sent again */
      gst_adapter_clear (self->adapter);
      gst_adapter_clear (self->rec_adapter);
      self->rec_offset = 0;
      self->dec_reset = TRUE;
      self->dec_stale = FALSE;
      self->need_caps = TRUE;
      self->need_segment = TRUE;
      return gst_pad_event_default (pad, parent, event);
    case GST_EVENT_GAP:
      return handle_gap (self, event);
    case GST_EVENT_FLUSH_STOP:
      /* back to sample 0 in a new segment (upstream resends its own) */
      reset_stream (self);
      self->need_caps = self->rate == 0;
      self->seqnum = gst_event_get_seqnum (event);
      return gst_pad_event_default (pad, parent, event);
    case GST_EVENT_EOS: {
      gsize rec_left = gst_adapter_available (self->rec_adapter);
      if (self->records && rec_left > 0) {
        GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Latent recording is truncated: the record "
                "at byte offset %" G_GUINT64_FORMAT " is incomplete (%" G_GSIZE_FORMAT
                " bytes)", self->rec_offset, rec_left), (NULL));
        gst_adapter_clear (self->rec_adapter);
      }
      gsize left = gst_adapter_available (self->adapter);
      if (left > 0) {
        GST_ELEMENT_ERROR (self, STREAM, DECODE,
            ("Latent stream ends with %" G_GSIZE_FORMAT " bytes of an incomplete frame "
                "(frames are %d floats = %" G_GSIZE_FORMAT " bytes)", left, self->dim,
                (gsize) self->dim * sizeof (gfloat)), (NULL));
        gst_adapter_clear (self->adapter);
      }
      /* a valid (if empty) stream for wavenc even when nothing came */
      if (!ensure_caps_and_segment (self)) {
        gst_event_unref (event);
        return FALSE;
      }
      return gst_pad_event_default (pad, parent, event);
    }
    default:
      return gst_pad_event_default (pad, parent, event);
  }
}

/* ------------------------------------------------------------------ */
/* queries                                                             */

/* @cuda: include the memory:CUDAMemory structures */
static gboolean
answer_caps_query (GstPad *pad, GstQuery *query, gint rate, gboolean cuda)
{
  GstCaps *filter;
  gst_query_parse_caps (query, &filter);
  GstCaps *tmpl = gst_pad_get_pad_template_caps (pad);
  GstCaps *caps = gst_vv_caps_filter_usable (tmpl, cuda);
  gst_caps_unref (tmpl);
  if (rate > 0) {
    caps = gst_caps_make_writable (caps);
    gst_caps_set_simple (caps, "rate", G_TYPE_INT, rate, NULL);
  }
  if (filter) {
    GstCaps *r = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = r;
  }
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  return TRUE;
}

static gboolean
answer_context_query (GstVvVocode *self, GstQuery *query)
{
  g_autoptr (VvModel) model = get_model (self);
  return gst_vv_engine_handle_context_query (GST_ELEMENT (self), query, model);
}

static gboolean
gst_vv_vocode_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVvVocode *self = (GstVvVocode *) parent;
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      /* device latents from any producer: ours are decoded or passed on
       * in place, others read through a map */
      return answer_caps_query (pad, query, 0, TRUE);
    case GST_QUERY_CONTEXT:
      if (answer_context_query (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_vv_vocode_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVvVocode *self = (GstVvVocode *) parent;
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      /* the rate is upstream's; read without the stream lock, a stale
       * value only widens or narrows the answer for one query */
      return answer_caps_query (pad, query, g_atomic_int_get (&self->rate),
          g_atomic_int_get (&self->device_in));
    case GST_QUERY_CONTEXT:
      if (answer_context_query (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_LATENCY: {
      /* Each frame's audio is output as soon as the frame arrives: no
       * latency of our own beyond upstream's (which counts the frame). */
      if (!gst_pad_peer_query (self->sinkpad, query))
        return FALSE;
      gboolean live;
      GstClockTime min, max;
      gst_query_parse_latency (query, &live, &min, &max);
      gst_query_set_latency (query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ------------------------------------------------------------------ */
/* element                                                             */

static void
gst_vv_vocode_set_context (GstElement *element, GstContext *context)
{
  GstVvVocode *self = (GstVvVocode *) element;
  GST_OBJECT_LOCK (self);
  gst_vv_engine_handle_set_context (context, &self->model);
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_CLASS (gst_vv_vocode_parent_class)->set_context (element, context);
}

static gboolean
load_model (GstVvVocode *self)
{
  GST_OBJECT_LOCK (self);
  g_autofree gchar *dir = g_strdup (self->model_dir);
  GST_OBJECT_UNLOCK (self);
  if (dir == NULL)
    return TRUE;
  g_autoptr (GError) error = NULL;
  VvModel *m = gst_vv_engine_load_model (GST_ELEMENT (self), dir, &error);
  if (m == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Could not load model %s", dir),
        ("%s", error->message));
    return FALSE;
  }
  /* model= wins over a context set earlier */
  GST_OBJECT_LOCK (self);
  VvModel *old = self->model;
  self->model = m;
  GST_OBJECT_UNLOCK (self);
  if (old)
    vv_model_unref (old);
  gst_vv_engine_publish (GST_ELEMENT (self), m);
  return TRUE;
}

static GstStateChangeReturn
gst_vv_vocode_change_state (GstElement *element, GstStateChange transition)
{
  GstVvVocode *self = (GstVvVocode *) element;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!load_model (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      self->dim = self->hop = 0;
      g_atomic_int_set (&self->rate, 0);
      g_atomic_int_set (&self->device_in, FALSE);
      self->device_out = FALSE;
      reset_stream (self);
      break;
    default:
      break;
  }

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (gst_vv_vocode_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      reset_stream (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL: {
      free_engine (self);
      GST_OBJECT_LOCK (self);
      VvModel *m = g_steal_pointer (&self->model);
      GST_OBJECT_UNLOCK (self);
      if (m)
        vv_model_unref (m);
      break;
    }
    default:
      break;
  }
  return ret;
}

static void
gst_vv_vocode_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstVvVocode *self = (GstVvVocode *) object;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_dir);
      self->model_dir = g_value_dup_string (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_DEVICE:
      self->device = g_value_get_enum (value);
      break;
    case PROP_USE_ATTACHED_AUDIO:
      self->use_attached_audio = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vv_vocode_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVvVocode *self = (GstVvVocode *) object;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_dir);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_DEVICE:
      g_value_set_enum (value, self->device);
      break;
    case PROP_USE_ATTACHED_AUDIO:
      g_value_set_boolean (value, self->use_attached_audio);
      break;
    case PROP_FRAMES_DECODED:
      g_value_set_uint64 (value, self->frames_decoded);
      break;
    case PROP_FRAMES_PASSED_THROUGH:
      g_value_set_uint64 (value, self->frames_passed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vv_vocode_finalize (GObject *object)
{
  GstVvVocode *self = (GstVvVocode *) object;
  free_engine (self);
  g_clear_pointer (&self->model, vv_model_unref);
  g_free (self->model_dir);
  g_object_unref (self->adapter);
  g_object_unref (self->rec_adapter);
  G_OBJECT_CLASS (gst_vv_vocode_parent_class)->finalize (object);
}

static void
gst_vv_vocode_class_init (GstVvVocodeClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_vv_vocode_debug, "vvvocode", 0, "VibeVoice latent decoder");

  gobject_class->set_property = gst_vv_vocode_set_property;
  gobject_class->get_property = gst_vv_vocode_get_property;
  gobject_class->finalize = gst_vv_vocode_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "VibeVoice model folder (config.json + safetensors); unset: use the model another "
          "vv element of the pipeline shares", DEFAULT_MODEL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "CPU threads for decoding (0 = all cores)",
          0, G_MAXINT, DEFAULT_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_enum ("device", "Device", "Compute device of the pipeline's engine",
          GST_TYPE_VV_DEVICE, GST_VV_DEVICE_AUTO,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_USE_ATTACHED_AUDIO,
      g_param_spec_boolean ("use-attached-audio", "Use attached audio",
          "Output the audio the producer attached (GstVvAudioMeta) instead of decoding "
          "those frames again", DEFAULT_USE_ATTACHED_AUDIO,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_FRAMES_DECODED,
      g_param_spec_uint64 ("frames-decoded", "Frames decoded",
          "Latent frames run through the decoder", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_FRAMES_PASSED_THROUGH,
      g_param_spec_uint64 ("frames-passed-through", "Frames passed through",
          "Latent frames whose attached audio was output without decoding", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  GstCaps *sink_caps = gst_vv_caps_new_template (GST_VV_LATENT_MEDIA_TYPE,
      GST_VV_LATENT_CAPS_FIELDS);
  gst_caps_append (sink_caps, gst_caps_new_empty_simple (GST_VV_LATENT_RECORDS_MEDIA_TYPE));
  GstCaps *src_caps = gst_vv_caps_new_template ("audio/x-raw", AUDIO_FIELDS);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, sink_caps));
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, src_caps));
  gst_caps_unref (sink_caps);
  gst_caps_unref (src_caps);

  gst_element_class_set_static_metadata (element_class,
      "VibeVoice σ-VAE latent decoder", "Codec/Decoder/Audio",
      "Decodes VibeVoice acoustic latents to 24 kHz mono audio with the streaming σ-VAE "
      "decoder, or passes through the audio the producer attached",
      "gst-vibevoice developers");
  /* shown by gst-inspect-1.0 */
  gst_element_class_add_static_metadata (element_class, "example-launch-line",
      "gst-launch-1.0 filesrc location=talk.lat ! application/x-vv-latent-records ! vvvocode model=DIR ! audioconvert ! wavenc ! filesink location=out.wav");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vv_vocode_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_vv_vocode_set_context);
}

static void
gst_vv_vocode_init (GstVvVocode *self)
{
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  self->sinkpad = gst_pad_new_from_template (gst_element_class_get_pad_template (klass, "sink"),
      "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_vocode_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_vocode_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_vocode_sink_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_template (gst_element_class_get_pad_template (klass, "src"),
      "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vv_vocode_src_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->threads = DEFAULT_THREADS;
  self->use_attached_audio = DEFAULT_USE_ATTACHED_AUDIO;
  self->adapter = gst_adapter_new ();
  self->rec_adapter = gst_adapter_new ();
  reset_stream (self);
}
