/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vvdiffuse
 * @title: vvdiffuse
 *
 * Runs VibeVoice generation (Qwen2 LM + diffusion head with classifier-free
 * guidance) on each prompt from vvtokenize and pushes every 64-d acoustic
 * latent frame as soon as it exists: frame n of the stream at n·2/15 s,
 * lasting 2/15 s (3200 samples at 24 kHz).
 *
 * The 1.5B/7B loop needs each frame's decoded audio itself (the semantic
 * encoder feeds it back to the LM), so vvdiffuse decodes every frame and
 * attaches the audio to the latent buffer (GstVvAudioMeta); vvvocode outputs
 * that audio instead of decoding again. Each frame is therefore decoded
 * once. A DISCONT latent buffer starts a new decoder segment (stream start,
 * after ⟨speech_end⟩).
 *
 * On an engine with a CUDA backend, and a downstream that accepts it
 * (vvvocode), the latents go out as application/x-vv-latents
 * (memory:CUDAMemory): device memory (GstVvDeviceMemory) copied on the
 * device from the session's frame tensors, the attached audio too, so
 * nothing is downloaded per frame (docs/CUDA.md).
 *
 * A `vv-pause` event from vvtokenize becomes a GAP event of exactly that
 * length; vvvocode fills it with silence.
 *
 * A prompt with a PTS (from timestamped text) starts at that running time:
 * after a GAP up to it in a non-live stream, with a timestamp jump in a live
 * one. `overflow` decides about speech longer than its text's slot (clip to
 * the text's duration, overlap, shift). In a live pipeline the LATENCY query
 * adds `latency`; a first frame later than text time + upstream latency +
 * `latency` moves the utterance by the lateness, with a warning to raise
 * the latency.
 *
 * Messages: element message `vv-progress` (frames, steps, max-steps) after
 * each frame, and `vv-utterance` after each prompt (frames, steps,
 * stop-reason, seed, audio-seconds, processing-seconds, real-time-factor,
 * first-frame-latency, prompt-tokens, input-pts, input-duration, pts,
 * duration, late, clipped).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=script.txt ! vvdialogparse ! \
 *     vvtokenize model=/models/VibeVoice-1.5B voices="1=alice.wav,2=bob.wav" ! \
 *     vvdiffuse seed=42 steps=10 cfg-scale=1.3 ! vvvocode ! audioconvert ! \
 *     wavenc ! filesink location=out.wav
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"
#include "gstvvcaps.h"
#include "gstvvengine.h"
#include "gstvvmeta.h"
#include "gstvvdevicememory.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vv_diffuse_debug);
#define GST_CAT_DEFAULT gst_vv_diffuse_debug

/* The default latency property: the first-audio latency measured for
 * VibeVoice-1.5B on 2 CPU cores (prefill of a 150-token window + one frame,
 * 3.2 s: docs/PERFORMANCE.md) with a margin. The tiny test model needs
 * 15-50 ms (tests/pipeline/test-live.py); every vv-utterance message
 * reports the measured figure (first-frame-latency) to size it for a given
 * machine and model. */
#define DEFAULT_LATENCY_MS 4000
#define DEFAULT_OVERFLOW GST_VV_OVERFLOW_CLIP

/**
 * GstVvOverflow:
 * @GST_VV_OVERFLOW_CLIP: an utterance stops at the last frame that ends
 *   within its text's duration (at least one frame); one that starts before
 *   the previous one ended waits for it
 * @GST_VV_OVERFLOW_OVERLAP: the audio starts at its text's time even if the
 *   previous utterance is still speaking (overlapping timestamps: mix them
 *   downstream, e.g. audiomixer)
 * @GST_VV_OVERFLOW_SHIFT: an utterance that would overlap the previous one
 *   starts where that one ended
 *
 * What vvdiffuse does when the speech is longer than the text's slot (the
 * names of the gst-plugins-rs TTS elements).
 */
typedef enum {
  GST_VV_OVERFLOW_CLIP,
  GST_VV_OVERFLOW_OVERLAP,
  GST_VV_OVERFLOW_SHIFT,
} GstVvOverflow;

#define GST_TYPE_VV_OVERFLOW (gst_vv_overflow_get_type ())
static GType
gst_vv_overflow_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VV_OVERFLOW_CLIP, "Clip to the text's duration", "clip" },
    { GST_VV_OVERFLOW_OVERLAP, "Overlap the previous utterance", "overlap" },
    { GST_VV_OVERFLOW_SHIFT, "Shift after the previous utterance", "shift" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVvOverflow", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* Stored as the VvDType values the engine takes. */
typedef enum {
  GST_VV_KV_CACHE_F32 = VV_DTYPE_F32,
  GST_VV_KV_CACHE_BF16 = VV_DTYPE_BF16,
  GST_VV_KV_CACHE_INT8 = VV_DTYPE_I8,
} GstVvKvCacheDtype;

#define GST_TYPE_VV_KV_CACHE_DTYPE (gst_vv_kv_cache_dtype_get_type ())
static GType
gst_vv_kv_cache_dtype_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VV_KV_CACHE_BF16, "bfloat16: half the memory (28 KiB per token per CFG branch at "
          "1.5B), as the reference keeps it in bf16", "bf16" },
    { GST_VV_KV_CACHE_F32, "float32: twice the memory, as the reference's fp32 runs", "f32" },
    { GST_VV_KV_CACHE_INT8, "int8 codes with one float32 scale per token and KV head: about "
          "half of bf16's memory (14.4 KiB per token per CFG branch at 1.5B); changes the "
          "output slightly (docs/PERFORMANCE.md); cpu backend only", "int8" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVvKvCacheDtype", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

typedef enum {
  GST_VV_WEIGHTS_CHECKPOINT,
  GST_VV_WEIGHTS_INT8,
} GstVvWeights;

#define GST_TYPE_VV_WEIGHTS (gst_vv_weights_get_type ())
static GType
gst_vv_weights_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VV_WEIGHTS_CHECKPOINT, "As stored in the checkpoint (bf16 for the published ones)",
          "checkpoint" },
    { GST_VV_WEIGHTS_INT8, "LM and diffusion-head linear weights as int8 with one scale per "
          "output channel: half the bytes read per frame; cpu device only", "int8" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVvWeights", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

typedef enum {
  GST_VV_POWER_NORMAL,
  GST_VV_POWER_LOW,
} GstVvPower;

#define GST_TYPE_VV_POWER (gst_vv_power_get_type ())
static GType
gst_vv_power_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VV_POWER_NORMAL, "Sets steps=10, weights=checkpoint, threads=0 (all)", "normal" },
    { GST_VV_POWER_LOW, "Low-power preset: sets steps=5, weights=int8 and threads to half the "
          "processors", "low" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVvPower", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_VV_DIFFUSE (gst_vv_diffuse_get_type ())
G_DECLARE_FINAL_TYPE (GstVvDiffuse, gst_vv_diffuse, GST, VV_DIFFUSE, GstElement)

struct _GstVvDiffuse {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* properties (object lock) */
  gchar *model_dir;
  gint steps;
  gfloat cfg_scale;
  gint64 seed;
  guint max_frames;
  GstVvDevice device;
  gint n_threads;
  gboolean deterministic_voice;
  gboolean attach_audio;
  guint64 last_seed;
  guint latency_ms;
  GstVvOverflow overflow;
  gboolean forced_diffusion;
  GstVvKvCacheDtype kv_cache_dtype;
  GstVvWeights weights;
  GstVvPower power;
  gboolean batch_streams;

  /* READY and up */
  VvModel *model;
  VvEngine *engine;
  VvSession *session;
  gint rate, hop, latent;

  /* streaming */
  gboolean need_segment;
  guint32 seqnum;
  guint64 sample_pos;          /* samples pushed so far (incl. pauses) */
  guint64 frames_out;
  guint utterances;
  gint flushing;               /* atomic */
  gboolean discont_next;
  gboolean records;             /* src caps are the recorded form (x-vv-latent-records) */
  gboolean device_mem;          /* src caps are memory:CUDAMemory: device buffers */
  GstSegment in_segment;        /* upstream's: prompt PTS -> running time */
};

enum {
  PROP_0,
  PROP_MODEL,
  PROP_STEPS,
  PROP_CFG_SCALE,
  PROP_SEED,
  PROP_MAX_FRAMES,
  PROP_DEVICE,
  PROP_THREADS,
  PROP_DETERMINISTIC_VOICE,
  PROP_ATTACH_AUDIO,
  PROP_LAST_SEED,
  PROP_LATENCY,
  PROP_OVERFLOW,
  PROP_FORCED_DIFFUSION,
  PROP_KV_CACHE_DTYPE,
  PROP_WEIGHTS,
  PROP_POWER,
  PROP_BATCH_STREAMS,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VV_PROMPT_MEDIA_TYPE "(" GST_VV_CAPS_FEATURE_CUDA "); "
        GST_VV_PROMPT_MEDIA_TYPE));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VV_LATENT_MEDIA_TYPE "(" GST_VV_CAPS_FEATURE_CUDA "), "
        GST_VV_LATENT_CAPS_FIELDS "; " GST_VV_LATENT_MEDIA_TYPE ", " GST_VV_LATENT_CAPS_FIELDS
        "; " GST_VV_LATENT_RECORDS_MEDIA_TYPE));

G_DEFINE_TYPE (GstVvDiffuse, gst_vv_diffuse, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvdiffuse, "vvdiffuse", GST_RANK_NONE, GST_TYPE_VV_DIFFUSE);

static gboolean
ensure_session (GstVvDiffuse *self)
{
  if (self->session != NULL)
    return TRUE;
  if (self->model == NULL) {
    /* model= may have been set in READY, after the NULL->READY load */
    g_autofree gchar *dir = NULL;
    GST_OBJECT_LOCK (self);
    dir = g_strdup (self->model_dir);
    GST_OBJECT_UNLOCK (self);
    if (dir != NULL && *dir != '\0') {
      g_autoptr (GError) lerr = NULL;
      self->model = gst_vv_engine_load_model (GST_ELEMENT (self), dir, &lerr);
      if (self->model == NULL) {
        GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Cannot load model %s", dir),
            ("%s", lerr->message));
        return FALSE;
      }
    }
  }
  if (self->model == NULL)
    self->model = gst_vv_engine_find (GST_ELEMENT (self));
  if (self->model == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No model"),
        ("set model= or put vvdiffuse after vvtokenize model=DIR"));
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  gboolean int8 = self->weights == GST_VV_WEIGHTS_INT8;
  GST_OBJECT_UNLOCK (self);
  if (int8 && !vv_model_has_int8_weights (self->model)) {
    /* the same checkpoint, its LM and head weights quantised (a model of
     * its own: vvtokenize's stays as stored for the voice encoders) */
    g_autoptr (GError) qerr = NULL;
    VvModel *m8 = vv_model_load_shared (vv_model_get_dir (self->model), VV_MODEL_LOAD_INT8,
        &qerr);
    if (m8 == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Cannot load the model for int8 weights"),
          ("%s", qerr->message));
      return FALSE;
    }
    vv_model_unref (self->model);
    self->model = m8;
  }
  g_autoptr (GError) error = NULL;
  GstVvDevice device;
  gint threads;
  GST_OBJECT_LOCK (self);
  device = self->device;
  threads = self->n_threads;
  GST_OBJECT_UNLOCK (self);
  if (self->engine == NULL
      && (self->engine = gst_vv_engine_ensure (GST_ELEMENT (self), self->model, device,
              threads, &error)) == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot open the compute device"),
        ("%s", error->message));
    return FALSE;
  }
  /* Prompts arrive ready: the session needs no tokenizer. */
  self->session = vv_session_new (self->model, NULL, vv_engine_get_backend (self->engine),
      &error);
  if (self->session == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("Cannot set up generation"), ("%s",
            error->message));
    return FALSE;
  }
  const VvConfig *cfg = vv_model_get_config (self->model);
  self->rate = cfg->sampling_rate > 0 ? cfg->sampling_rate : 24000;
  self->latent = cfg->acoustic_vae_dim;
  self->hop = cfg->acoustic.hop_length;
  return TRUE;
}

static gboolean
ensure_caps_and_segment (GstVvDiffuse *self)
{
  if (!self->need_segment)
    return TRUE;
  if (!gst_pad_has_current_caps (self->srcpad)) {
    if (!ensure_session (self))
      return FALSE;
    GstCaps *caps = gst_caps_new_simple (GST_VV_LATENT_MEDIA_TYPE,
        "format", G_TYPE_STRING, "F32LE", "dim", G_TYPE_INT, self->latent,
        "rate", G_TYPE_INT, self->rate, "hop", G_TYPE_INT, self->hop, NULL);
    /* A downstream that takes anything (filesink, a queue before it) or
     * no bare latents gets the recorded form: a bare F32 file would lose
     * the decoder reset points and the pauses. */
    GstCaps *peer = gst_pad_peer_query_caps (self->srcpad, NULL);
    GstCaps *records = gst_caps_new_empty_simple (GST_VV_LATENT_RECORDS_MEDIA_TYPE);
    /* On a CUDA engine, device latents when downstream takes them by name
     * (vvvocode, through queues); ANY (filesink) gets the recorded form,
     * which is bytes in system memory. */
    GstCaps *device = gst_caps_copy (caps);
    gst_caps_set_features (device, 0, gst_caps_features_new (GST_VV_CAPS_FEATURE_CUDA, NULL));
    self->device_mem = gst_vv_cuda_usable (self->engine) && peer && !gst_caps_is_any (peer)
        && gst_caps_can_intersect (peer, device);
    self->records = !self->device_mem && peer && (gst_caps_is_any (peer)
            || !gst_caps_can_intersect (peer, caps)) && gst_caps_can_intersect (peer, records);
    if (peer)
      gst_caps_unref (peer);
    if (self->device_mem)
      gst_caps_replace (&caps, device);
    else if (self->records)
      gst_caps_replace (&caps, records);
    gst_caps_unref (device);
    gst_caps_unref (records);
    GST_DEBUG_OBJECT (self, "latent caps %" GST_PTR_FORMAT, caps);
    gboolean ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
    gst_caps_unref (caps);
    if (!ok) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Downstream refused the latent caps"),
          (NULL));
      return FALSE;
    }
  }
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  GstEvent *ev = gst_event_new_segment (&seg);
  if (self->seqnum)
    gst_event_set_seqnum (ev, self->seqnum);
  gst_pad_push_event (self->srcpad, ev);
  self->need_segment = FALSE;
  return TRUE;
}

/* A pause: a GAP event, or in the recorded form a GAP record (the file
 * has to keep it). */
static gboolean
push_gap (GstVvDiffuse *self, GstClockTime ts, GstClockTime dur)
{
  if (!self->records)
    return gst_pad_push_event (self->srcpad, gst_event_new_gap (ts, dur));
  GstVvRecordHeader h = { 0, };
  h.flags = GST_VV_RECORD_FLAG_GAP;
  h.dim = self->latent;
  h.rate = self->rate;
  h.hop = self->hop;
  h.pts = ts;
  h.duration = dur;
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VV_RECORD_HEADER_SIZE, NULL);
  GstMapInfo map;
  if (!buf || !gst_buffer_map (buf, &map, GST_MAP_WRITE)) {
    if (buf)
      gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL), ("cannot allocate a GAP record"));
    return FALSE;
  }
  gst_vv_record_header_write (&h, map.data);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = ts;
  GST_BUFFER_DURATION (buf) = dur;
  GstFlowReturn ret = gst_pad_push (self->srcpad, buf);
  return ret == GST_FLOW_OK || ret == GST_FLOW_FLUSHING || ret == GST_FLOW_EOS;
}

static GstClockTime
samples_to_time (GstVvDiffuse *self, guint64 samples)
{
  return gst_util_uint64_scale (samples, GST_SECOND, self->rate);
}

typedef struct {
  GstVvDiffuse *self;
  GstFlowReturn ret;
  gfloat *z;
  gboolean reset;
  gboolean attach;
  gint64 t_start;
  gint64 first_frame_us;
  guint frames;
  /* live timing */
  gboolean live;
  GstClockTime upstream_min;
  GstClockTime latency;
  GstClockTime late;            /* how far the first frame was moved for the live clock */
  guint late_frames;            /* later frames past their deadline (not moved) */
  GstClockTime first_pts;
} GenCtx;

static void
on_frame (const gfloat *z, gint latent_size, guint frame, gboolean reset, gpointer user_data)
{
  GenCtx *c = user_data;
  memcpy (c->z, z, latent_size * sizeof (gfloat));
  c->reset = reset;
}

/* Pushes one frame: @buf holds its latents (host or device memory; taken),
 * @audio (nullable; taken) its n samples of audio, attached when asked. */
static void
push_frame (GenCtx *c, GstBuffer *buf, GstBuffer *audio, gsize n)
{
  GstVvDiffuse *self = c->self;
  if (c->live) {
    /* the sink plays this frame at its PTS + the pipeline latency: if it
     * is ready later than PTS + upstream latency + ours, it would be late */
    GstClockTime now = gst_element_get_current_running_time (GST_ELEMENT (self));
    GST_LOG_OBJECT (self, "frame %u at running time %" GST_TIME_FORMAT, c->frames,
        GST_TIME_ARGS (now));
    GstClockTime deadline = samples_to_time (self, self->sample_pos) + c->upstream_min
        + c->latency;
    if (GST_CLOCK_TIME_IS_VALID (now) && now > deadline) {
      GstClockTime delta = now - deadline;
      if (c->frames == 0) {
        /* the start of an utterance can move (its first frame resets the
         * decoder, DISCONT): shift it onto the live clock */
        self->sample_pos += gst_util_uint64_scale_ceil (delta, self->rate, GST_SECOND);
        c->late = delta;
        GST_ELEMENT_WARNING (self, CORE, CLOCK, ("Speech generation is %" G_GUINT64_FORMAT
                " ms behind the live clock: the utterance is shifted by that much; raise the "
                "latency property (now %" G_GUINT64_FORMAT " ms)", delta / GST_MSECOND,
                c->latency / GST_MSECOND), ("first frame ready at running time %"
                GST_TIME_FORMAT ", due by %" GST_TIME_FORMAT, GST_TIME_ARGS (now),
                GST_TIME_ARGS (deadline)));
      } else if (c->late_frames++ == 0) {
        GST_ELEMENT_WARNING (self, CORE, CLOCK, ("Speech generation is slower than real "
                "time: frame %u is %" G_GUINT64_FORMAT " ms late for the live clock; raise the "
                "latency property (now %" G_GUINT64_FORMAT " ms) to cover the whole utterance",
                c->frames, delta / GST_MSECOND, c->latency / GST_MSECOND), (NULL));
      }
    }
  }
  GST_BUFFER_PTS (buf) = samples_to_time (self, self->sample_pos);
  GST_BUFFER_DURATION (buf) = samples_to_time (self, self->sample_pos + n)
      - GST_BUFFER_PTS (buf);
  GST_BUFFER_OFFSET (buf) = self->frames_out;
  GST_BUFFER_OFFSET_END (buf) = self->frames_out + 1;
  if (self->records) {
    GstVvRecordHeader h = { 0, };
    h.flags = (c->reset || self->discont_next) ? GST_VV_RECORD_FLAG_RESET : 0;
    h.n_frames = 1;
    h.dim = self->latent;
    h.rate = self->rate;
    h.hop = self->hop;
    h.pts = GST_BUFFER_PTS (buf);
    h.duration = GST_BUFFER_DURATION (buf);
    guint8 *hdr = g_malloc (GST_VV_RECORD_HEADER_SIZE);
    gst_vv_record_header_write (&h, hdr);
    gst_buffer_prepend_memory (buf, gst_memory_new_wrapped (0, hdr, GST_VV_RECORD_HEADER_SIZE,
            0, GST_VV_RECORD_HEADER_SIZE, hdr, g_free));
    /* a recording carries no attached audio: the decoder reads the frames */
    c->attach = FALSE;
  }
  if (c->reset || self->discont_next)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  self->discont_next = FALSE;
  if (c->attach && audio != NULL)
    gst_buffer_add_vv_audio_meta (buf, audio);
  gst_clear_buffer (&audio);
  self->sample_pos += n;
  self->frames_out++;
  if (c->frames++ == 0) {
    c->first_frame_us = g_get_monotonic_time () - c->t_start;
    c->first_pts = GST_BUFFER_PTS (buf);
  }
  c->ret = gst_pad_push (self->srcpad, buf);
  if (c->ret != GST_FLOW_OK)
    GST_DEBUG_OBJECT (self, "push: %s, stopping generation", gst_flow_get_name (c->ret));
}

/* System memory: the session downloaded z (on_frame) and the audio. */
static void
on_audio (const gfloat *samples, gsize n, gpointer user_data)
{
  GenCtx *c = user_data;
  GstVvDiffuse *self = c->self;
  if (c->ret != GST_FLOW_OK)
    return;
  gsize zbytes = (gsize) self->latent * sizeof (gfloat);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, zbytes, NULL);
  gst_buffer_fill (buf, 0, c->z, zbytes);
  GstBuffer *audio = NULL;
  if (c->attach && !self->records) {
    audio = gst_buffer_new_allocate (NULL, n * sizeof (gfloat), NULL);
    gst_buffer_fill (audio, 0, samples, n * sizeof (gfloat));
  }
  push_frame (c, buf, audio, n);
}

/* memory:CUDAMemory: the frame's z and audio stay on the device. The
 * session's tensors are reused by the next frame, so each is copied
 * device-to-device into a tensor of its own that the buffer keeps. */
static void
on_frame_tensor (VvSession *session, const VvTensor *z, const VvTensor *audio, guint frame,
    gboolean reset, gpointer user_data)
{
  GenCtx *c = user_data;
  GstVvDiffuse *self = c->self;
  if (c->ret != GST_FLOW_OK)
    return;
  c->reset = reset;
  g_autoptr (GError) error = NULL;
  GstMemory *zmem = gst_vv_device_memory_new_copy (self->engine, z, &error);
  GstMemory *amem = zmem != NULL && c->attach
      ? gst_vv_device_memory_new_copy (self->engine, audio, &error) : NULL;
  if (zmem == NULL || (c->attach && amem == NULL)) {
    if (zmem)
      gst_memory_unref (zmem);
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot copy frame %u in device memory",
            frame), ("%s", error->message));
    c->ret = GST_FLOW_ERROR;
    return;
  }
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, zmem);
  GstBuffer *abuf = NULL;
  if (amem != NULL) {
    abuf = gst_buffer_new ();
    gst_buffer_append_memory (abuf, amem);
  }
  push_frame (c, buf, abuf, (gsize) vv_tensor_n_elements (audio));
}

static void
on_progress (guint step, guint max_steps, guint frames, gpointer user_data)
{
  GenCtx *c = user_data;
  gst_element_post_message (GST_ELEMENT (c->self),
      gst_message_new_element (GST_OBJECT (c->self), gst_structure_new ("vv-progress",
              "steps", G_TYPE_UINT, step, "max-steps", G_TYPE_UINT, max_steps,
              "frames", G_TYPE_UINT, frames, NULL)));
}

static gboolean
on_abort (gpointer user_data)
{
  GenCtx *c = user_data;
  return c->ret != GST_FLOW_OK || g_atomic_int_get (&c->self->flushing);
}

static GstFlowReturn
gst_vv_diffuse_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (parent);
  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref (buffer);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map the prompt buffer"), (NULL));
    return GST_FLOW_ERROR;
  }
  g_autoptr (GBytes) bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  /* the running time of the prompt's text (vvtokenize: from timestamped text) */
  GstClockTime in_pts = GST_BUFFER_PTS (buffer), in_dur = GST_BUFFER_DURATION (buffer);
  if (GST_CLOCK_TIME_IS_VALID (in_pts) && self->in_segment.format == GST_FORMAT_TIME)
    in_pts = gst_segment_to_running_time (&self->in_segment, GST_FORMAT_TIME, in_pts);
  gst_buffer_unref (buffer);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvPrompt) prompt = vv_prompt_deserialize (bytes, &error);
  if (prompt == NULL) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Malformed prompt buffer"), ("%s",
            error->message));
    return GST_FLOW_ERROR;
  }
  if (!ensure_session (self) || !ensure_caps_and_segment (self))
    return GST_FLOW_ERROR;

  VvSessionParams params = vv_session_default_params ();
  gint64 seed;
  GstVvOverflow overflow;
  GstClockTime latency;
  GST_OBJECT_LOCK (self);
  overflow = self->overflow;
  latency = self->latency_ms * GST_MSECOND;
  params.n_steps = self->steps;
  params.cfg_scale = self->cfg_scale;
  params.max_frames = self->max_frames;
  params.force_diffusion = self->forced_diffusion;
  params.kv_dtype = (VvDType) self->kv_cache_dtype;
  params.n_threads = self->n_threads;
  params.deterministic_voice = self->deterministic_voice;
  seed = self->seed;
  gboolean attach = self->attach_audio;
  GST_OBJECT_UNLOCK (self);
  /* -1: a fresh random seed, reported; window k of a stream uses seed + k. */
  guint64 used_seed = seed < 0 ? ((guint64) g_random_int () << 32 | g_random_int ())
      : (guint64) seed + self->utterances;
  params.seed = used_seed;
  GST_OBJECT_LOCK (self);
  self->last_seed = used_seed;
  GST_OBJECT_UNLOCK (self);

  GenCtx ctx = { self, GST_FLOW_OK, NULL, FALSE, attach, g_get_monotonic_time (), -1, 0 };
  ctx.latency = latency;
  ctx.first_pts = GST_CLOCK_TIME_NONE;
  GstQuery *lq = gst_query_new_latency ();
  if (gst_pad_peer_query (self->sinkpad, lq))
    gst_query_parse_latency (lq, &ctx.live, &ctx.upstream_min, NULL);
  gst_query_unref (lq);
  if (!GST_CLOCK_TIME_IS_VALID (ctx.upstream_min))
    ctx.upstream_min = 0;

  /* Timed text: the audio starts at the text's running time. */
  gboolean clipped = FALSE;
  if (GST_CLOCK_TIME_IS_VALID (in_pts)) {
    guint64 target = gst_util_uint64_scale_round (in_pts, self->rate, GST_SECOND);
    if (target > self->sample_pos && !ctx.live) {
      /* offline (a subtitle file): silence up to the text, so the audio
       * stream stays continuous; live, the timestamps jump instead, since
       * zeros for the past would only arrive late */
      GstClockTime ts = samples_to_time (self, self->sample_pos);
      GstClockTime dur = samples_to_time (self, target) - ts;
      GST_DEBUG_OBJECT (self, "silence up to the text at %" GST_TIME_FORMAT,
          GST_TIME_ARGS (in_pts));
      self->sample_pos = target;
      self->discont_next = TRUE;
      push_gap (self, ts, dur);
    } else if (target > self->sample_pos) {
      self->sample_pos = target;
      self->discont_next = TRUE;
    } else if (target < self->sample_pos && overflow == GST_VV_OVERFLOW_OVERLAP) {
      self->sample_pos = target;
      self->discont_next = TRUE;
    } else if (target < self->sample_pos) {
      GST_INFO_OBJECT (self, "text at %" GST_TIME_FORMAT " starts before the previous "
          "utterance ended: shifted by %" GST_TIME_FORMAT, GST_TIME_ARGS (in_pts),
          GST_TIME_ARGS (samples_to_time (self, self->sample_pos) - in_pts));
    }
    if (overflow == GST_VV_OVERFLOW_CLIP && GST_CLOCK_TIME_IS_VALID (in_dur)) {
      /* the frames that end within the text's slot, at least one */
      guint64 end = gst_util_uint64_scale_round (in_pts + in_dur, self->rate, GST_SECOND);
      guint64 fit = end > self->sample_pos ? (end - self->sample_pos) / self->hop : 0;
      fit = MAX (fit, 1);
      if (params.max_frames == 0 || fit < params.max_frames) {
        params.max_frames = (guint) MIN (fit, G_MAXUINT);
        clipped = TRUE;
      }
    }
  }

  g_autofree gfloat *z = g_new (gfloat, self->latent);
  ctx.z = z;
  if (self->device_mem) {
    /* nothing downloaded: the frames stay in the engine's memory */
    params.frame_tensor = on_frame_tensor;
    params.frame_tensor_user_data = &ctx;
  } else {
    params.new_frame = on_frame;
    params.new_frame_user_data = &ctx;
    params.new_audio = on_audio;
    params.new_audio_user_data = &ctx;
  }
  params.progress = on_progress;
  params.progress_user_data = &ctx;
  params.abort = on_abort;
  params.abort_user_data = &ctx;

  VvSessionResult res;
  GST_OBJECT_LOCK (self);
  gboolean batch = self->batch_streams;
  GST_OBJECT_UNLOCK (self);
  gboolean ok = batch
      ? vv_batcher_generate_prompt (vv_engine_get_batcher (self->engine), self->session,
          prompt, &params, &res, &error)
      : vv_session_generate_prompt (self->session, prompt, &params, &res, &error);
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Generation failed"), ("%s", error->message));
    return GST_FLOW_ERROR;
  }
  self->utterances++;
  if (ctx.ret != GST_FLOW_OK)
    return ctx.ret;
  if (g_atomic_int_get (&self->flushing))
    return GST_FLOW_FLUSHING;

  gdouble secs = res.timings.total_us / 1e6;
  GST_INFO_OBJECT (self, "utterance %u: %u frames, stop %s, %.2f s audio in %.2f s",
      self->utterances, res.n_frames, vv_stop_reason_to_string (res.stop_reason),
      res.audio_seconds, secs);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), gst_structure_new ("vv-utterance",
              "index", G_TYPE_UINT, self->utterances - 1,
              "frames", G_TYPE_UINT, res.n_frames,
              "steps", G_TYPE_UINT, res.n_steps,
              "prompt-tokens", G_TYPE_UINT, (guint) res.prompt_length,
              "stop-reason", G_TYPE_STRING, vv_stop_reason_to_string (res.stop_reason),
              "seed", G_TYPE_UINT64, used_seed,
              "audio-seconds", G_TYPE_DOUBLE, res.audio_seconds,
              "processing-seconds", G_TYPE_DOUBLE, secs,
              "cpu-seconds", G_TYPE_DOUBLE, res.cpu_seconds,
              "energy-joules", G_TYPE_DOUBLE, res.energy_joules,
              "real-time-factor", G_TYPE_DOUBLE,
              res.audio_seconds > 0 ? secs / res.audio_seconds : 0.0,
              "first-frame-latency", G_TYPE_UINT64, ctx.first_frame_us < 0
              ? GST_CLOCK_TIME_NONE : (guint64) ctx.first_frame_us * GST_USECOND,
              "input-pts", G_TYPE_UINT64, in_pts,
              "input-duration", G_TYPE_UINT64, in_dur,
              "pts", G_TYPE_UINT64, ctx.first_pts,
              "duration", G_TYPE_UINT64, samples_to_time (self, (guint64) res.n_frames
                  * self->hop),
              "clipped", G_TYPE_BOOLEAN, clipped && res.stop_reason == VV_STOP_MAX_FRAMES,
              "late", G_TYPE_UINT64, ctx.late,
              "device-memory", G_TYPE_BOOLEAN, self->device_mem,
              "frame-bytes-up", G_TYPE_UINT64, res.frame_bytes_up,
              "frame-bytes-down", G_TYPE_UINT64, res.frame_bytes_down,
              "audio-bytes-down", G_TYPE_UINT64, res.audio_bytes_down,
              "batched-steps", G_TYPE_UINT, res.n_batched_steps, NULL)));
  return GST_FLOW_OK;
}

static gboolean
gst_vv_diffuse_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (parent);
  GstClockTime pause;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->in_segment);
      self->seqnum = gst_event_get_seqnum (event);
      self->need_segment = TRUE;
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (gst_vv_pause_event_parse (event, &pause)) {
        gst_event_unref (event);
        if (!ensure_caps_and_segment (self))
          return FALSE;
        guint64 n = gst_util_uint64_scale_round (pause, self->rate, GST_SECOND);
        GstClockTime ts = samples_to_time (self, self->sample_pos);
        GstClockTime dur = samples_to_time (self, self->sample_pos + n) - ts;
        self->sample_pos += n;
        self->discont_next = TRUE;
        return push_gap (self, ts, dur);
      }
      return gst_pad_event_default (pad, parent, event);
    case GST_EVENT_EOS:
      if (!ensure_caps_and_segment (self)) {
        gst_event_unref (event);
        return FALSE;
      }
      if (self->seqnum) {
        event = gst_event_make_writable (event);
        gst_event_set_seqnum (event, self->seqnum);
      }
      return gst_pad_push_event (self->srcpad, event);
    case GST_EVENT_FLUSH_START:
      g_atomic_int_set (&self->flushing, 1);
      return gst_pad_push_event (self->srcpad, event);
    case GST_EVENT_FLUSH_STOP:
      g_atomic_int_set (&self->flushing, 0);
      self->need_segment = TRUE;
      self->sample_pos = 0;
      self->frames_out = 0;
      self->discont_next = TRUE;
      return gst_pad_push_event (self->srcpad, event);
    default:
      return gst_pad_event_default (pad, parent, event);
  }
}

static gboolean
gst_vv_diffuse_src_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    /* Generated speech has no fixed timeline to seek in. */
    GST_DEBUG_OBJECT (parent, "seeking is not supported");
    gst_event_unref (event);
    return FALSE;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_vv_diffuse_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (parent);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CONTEXT:
      if (gst_vv_engine_handle_context_query (GST_ELEMENT (self), query, self->model))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_CAPS:{
      GstCaps *filter = NULL;
      gst_query_parse_caps (query, &filter);
      GstCaps *tmpl = gst_pad_get_pad_template_caps (pad);
      /* device latents only out of an engine on a CUDA backend (set once
       * in the streaming thread before the caps are sent; a query before
       * that sees system memory only) */
      VvEngine *engine = g_atomic_pointer_get (&self->engine);
      GstCaps *caps = gst_vv_caps_filter_usable (tmpl, pad == self->srcpad
          && gst_vv_cuda_usable (engine));
      gst_caps_unref (tmpl);
      if (filter) {
        GstCaps *i = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = i;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_SEEKING:{
      GstFormat fmt;
      gst_query_parse_seeking (query, &fmt, NULL, NULL, NULL);
      gst_query_set_seeking (query, fmt, FALSE, 0, -1);
      return TRUE;
    }
    case GST_QUERY_LATENCY:{
      if (pad != self->srcpad || !gst_pad_peer_query (self->sinkpad, query))
        return FALSE;
      /* Live: the latency property, the time allowed from a text's
       * timestamp to its first frame (prefill + one frame). Otherwise a
       * frame is pushed only once it is made: one frame. */
      gboolean live;
      GstClockTime min, max, ours;
      gst_query_parse_latency (query, &live, &min, &max);
      GST_DEBUG_OBJECT (self, "upstream latency: live %d, min %" GST_TIME_FORMAT ", max %"
          GST_TIME_FORMAT, live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
      GST_OBJECT_LOCK (self);
      ours = live ? self->latency_ms * GST_MSECOND : self->rate > 0
          ? samples_to_time (self, self->hop) : 2 * GST_SECOND / 15;
      GST_OBJECT_UNLOCK (self);
      min += ours;
      /* Live: the text of an utterance is taken in whole and kept until its
       * audio is made, so any delay can be held here (a live text source
       * such as appsrc reports max 0, which would leave no room for the
       * sinks' processing deadline). */
      if (live)
        max = GST_CLOCK_TIME_NONE;
      else if (GST_CLOCK_TIME_IS_VALID (max))
        max += ours;
      GST_DEBUG_OBJECT (self, "latency: live %d, min %" GST_TIME_FORMAT, live,
          GST_TIME_ARGS (min));
      gst_query_set_latency (query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_vv_diffuse_start (GstVvDiffuse *self)
{
  g_autofree gchar *dir = NULL;
  GstVvDevice device;
  GST_OBJECT_LOCK (self);
  dir = g_strdup (self->model_dir);
  device = self->device;
  GST_OBJECT_UNLOCK (self);
  if (device == GST_VV_DEVICE_CUDA) {
    /* fail at READY with the reason (no module, driver or GPU), not at the
     * first buffer */
    g_autoptr (GError) error = NULL;
    VvBackend *probe = vv_backend_new_by_name ("cuda", 1, &error);
    if (probe == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("device=cuda: CUDA is not available"),
          ("%s; use device=auto or cpu", error->message));
      return FALSE;
    }
    vv_backend_free (probe);
  }
  if (dir != NULL && *dir != '\0') {
    g_autoptr (GError) error = NULL;
    self->model = gst_vv_engine_load_model (GST_ELEMENT (self), dir, &error);
    if (self->model == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Cannot load model %s", dir),
          ("%s", error->message));
      return FALSE;
    }
    gst_vv_engine_publish (GST_ELEMENT (self), self->model);
  }
  return TRUE;
}

static void
gst_vv_diffuse_stop (GstVvDiffuse *self)
{
  g_clear_pointer (&self->session, vv_session_free);
  g_clear_pointer (&self->engine, vv_engine_unref);
  g_clear_pointer (&self->model, vv_model_unref);
}

static GstStateChangeReturn
gst_vv_diffuse_change_state (GstElement *element, GstStateChange transition)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (element);
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_vv_diffuse_start (self)) {
        gst_vv_diffuse_stop (self);
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      self->need_segment = TRUE;
      self->seqnum = 0;
      self->sample_pos = 0;
      self->frames_out = 0;
      self->utterances = 0;
      self->discont_next = TRUE;
      gst_segment_init (&self->in_segment, GST_FORMAT_UNDEFINED);
      g_atomic_int_set (&self->flushing, 0);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      g_atomic_int_set (&self->flushing, 1);
      break;
    default:
      break;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS (gst_vv_diffuse_parent_class)->change_state
      (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_vv_diffuse_stop (self);
  return ret;
}

static void
gst_vv_diffuse_set_context (GstElement *element, GstContext *context)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (element);
  gst_vv_engine_handle_set_context (context, &self->model);
  GST_ELEMENT_CLASS (gst_vv_diffuse_parent_class)->set_context (element, context);
}

static void
gst_vv_diffuse_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_dir);
      self->model_dir = g_value_dup_string (value);
      break;
    case PROP_STEPS:
      self->steps = g_value_get_int (value);
      break;
    case PROP_CFG_SCALE:
      self->cfg_scale = g_value_get_float (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_int64 (value);
      break;
    case PROP_MAX_FRAMES:
      self->max_frames = g_value_get_uint (value);
      break;
    case PROP_DEVICE:
      self->device = g_value_get_enum (value);
      break;
    case PROP_THREADS:
      self->n_threads = g_value_get_int (value);
      break;
    case PROP_DETERMINISTIC_VOICE:
      self->deterministic_voice = g_value_get_boolean (value);
      break;
    case PROP_ATTACH_AUDIO:
      self->attach_audio = g_value_get_boolean (value);
      break;
    case PROP_LATENCY:
      self->latency_ms = g_value_get_uint (value);
      break;
    case PROP_OVERFLOW:
      self->overflow = g_value_get_enum (value);
      break;
    case PROP_FORCED_DIFFUSION:
      self->forced_diffusion = g_value_get_boolean (value);
      break;
    case PROP_WEIGHTS:
      self->weights = g_value_get_enum (value);
      break;
    case PROP_POWER:
      /* a preset: sets the three properties it stands for (set after it,
       * they override it, as in gst-launch's left-to-right order) */
      self->power = g_value_get_enum (value);
      if (self->power == GST_VV_POWER_LOW) {
        self->steps = VV_POWER_LOW_STEPS;
        self->weights = GST_VV_WEIGHTS_INT8;
        self->n_threads = vv_power_low_threads ();
      } else {
        self->steps = 10;
        self->weights = GST_VV_WEIGHTS_CHECKPOINT;
        self->n_threads = 0;
      }
      break;
    case PROP_KV_CACHE_DTYPE:
      self->kv_cache_dtype = g_value_get_enum (value);
      break;
    case PROP_BATCH_STREAMS:
      self->batch_streams = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  if (prop_id == PROP_POWER) {
    g_object_notify (object, "steps");
    g_object_notify (object, "weights");
    g_object_notify (object, "threads");
  }
}

static void
gst_vv_diffuse_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_dir);
      break;
    case PROP_STEPS:
      g_value_set_int (value, self->steps);
      break;
    case PROP_CFG_SCALE:
      g_value_set_float (value, self->cfg_scale);
      break;
    case PROP_SEED:
      g_value_set_int64 (value, self->seed);
      break;
    case PROP_MAX_FRAMES:
      g_value_set_uint (value, self->max_frames);
      break;
    case PROP_DEVICE:
      g_value_set_enum (value, self->device);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->n_threads);
      break;
    case PROP_DETERMINISTIC_VOICE:
      g_value_set_boolean (value, self->deterministic_voice);
      break;
    case PROP_ATTACH_AUDIO:
      g_value_set_boolean (value, self->attach_audio);
      break;
    case PROP_LAST_SEED:
      g_value_set_uint64 (value, self->last_seed);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    case PROP_OVERFLOW:
      g_value_set_enum (value, self->overflow);
      break;
    case PROP_FORCED_DIFFUSION:
      g_value_set_boolean (value, self->forced_diffusion);
      break;
    case PROP_WEIGHTS:
      g_value_set_enum (value, self->weights);
      break;
    case PROP_POWER:
      g_value_set_enum (value, self->power);
      break;
    case PROP_KV_CACHE_DTYPE:
      g_value_set_enum (value, self->kv_cache_dtype);
      break;
    case PROP_BATCH_STREAMS:
      g_value_set_boolean (value, self->batch_streams);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vv_diffuse_finalize (GObject *object)
{
  GstVvDiffuse *self = GST_VV_DIFFUSE (object);
  gst_vv_diffuse_stop (self);
  g_free (self->model_dir);
  G_OBJECT_CLASS (gst_vv_diffuse_parent_class)->finalize (object);
}

static void
gst_vv_diffuse_class_init (GstVvDiffuseClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GST_DEBUG_CATEGORY_INIT (gst_vv_diffuse_debug, "vvdiffuse", 0, "VibeVoice generation");

  gobject_class->set_property = gst_vv_diffuse_set_property;
  gobject_class->get_property = gst_vv_diffuse_get_property;
  gobject_class->finalize = gst_vv_diffuse_finalize;
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "VibeVoice model folder (default: the model of "
          "the vvtokenize upstream, shared)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_STEPS,
      g_param_spec_int ("steps", "Steps", "Diffusion (DPM-Solver++) steps per frame", 1, 1000,
          10, flags));
  g_object_class_install_property (gobject_class, PROP_CFG_SCALE,
      g_param_spec_float ("cfg-scale", "CFG scale", "Classifier-free guidance scale", -100.0f,
          100.0f, 1.3f, flags));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_int64 ("seed", "Seed", "Seed as torch.manual_seed (-1: random; the seed used "
          "is in last-seed and in each vv-utterance message; window k uses seed + k)", -1,
          G_MAXINT64, -1, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_FRAMES,
      g_param_spec_uint ("max-frames", "Max frames", "Stop an utterance after this many frames "
          "(0: the reference's limit only)", 0, G_MAXUINT, 0, flags));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_enum ("device", "Device", "Compute device", GST_TYPE_VV_DEVICE,
          GST_VV_DEVICE_AUTO, flags));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "CPU threads (0 = all cores)", 0, 1024, 0, flags));
  g_object_class_install_property (gobject_class, PROP_DETERMINISTIC_VOICE,
      g_param_spec_boolean ("deterministic-voice", "Deterministic voice", "Use the voice "
          "encoder means instead of sampling the σ-VAE", FALSE, flags));
  g_object_class_install_property (gobject_class, PROP_ATTACH_AUDIO,
      g_param_spec_boolean ("attach-audio", "Attach audio", "Attach each frame's decoded audio "
          "(GstVvAudioMeta) so vvvocode does not decode it again", TRUE, flags));
  g_object_class_install_property (gobject_class, PROP_LAST_SEED,
      g_param_spec_uint64 ("last-seed", "Last seed", "The seed of the latest utterance", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency", "Milliseconds allowed from a text's timestamp "
          "to its first audio in a live pipeline (added to the LATENCY query; default: the "
          "first-audio latency measured for 1.5B on 2 CPU cores, with a margin; each "
          "vv-utterance message reports first-frame-latency)", 0, G_MAXUINT / 2,
          DEFAULT_LATENCY_MS, flags));
  g_object_class_install_property (gobject_class, PROP_OVERFLOW,
      g_param_spec_enum ("overflow", "Overflow", "Speech longer than its text's slot "
          "(timestamped text): clip it to the text's duration, let it overlap the next "
          "utterance, or shift the next one after it", GST_TYPE_VV_OVERFLOW, DEFAULT_OVERFLOW,
          flags));
  /* The random-weight test models pick EOS at an arbitrary frame; benchmarks and
   * soaks need utterances of a known length, as `vibevoice bench synth` makes. */
  g_object_class_install_property (gobject_class, PROP_FORCED_DIFFUSION,
      g_param_spec_boolean ("forced-diffusion", "Forced diffusion", "Benchmarks and soaks "
          "only: take the diffusion token at every step, so an utterance runs to max-frames "
          "or the reference's length limit instead of stopping where the model says",
          FALSE, flags));
  g_object_class_install_property (gobject_class, PROP_KV_CACHE_DTYPE,
      g_param_spec_enum ("kv-cache-dtype", "KV cache dtype", "Element type of the LM's "
          "key/value caches (both CFG branches)",
          GST_TYPE_VV_KV_CACHE_DTYPE, GST_VV_KV_CACHE_BF16, flags));
  g_object_class_install_property (gobject_class, PROP_WEIGHTS,
      g_param_spec_enum ("weights", "Weights", "Form of the LM's and the diffusion head's "
          "weights; int8 reads half the bytes of bf16 per frame and changes the output "
          "slightly (docs/PERFORMANCE.md); set before the first prompt",
          GST_TYPE_VV_WEIGHTS, GST_VV_WEIGHTS_CHECKPOINT, flags));
  g_object_class_install_property (gobject_class, PROP_POWER,
      g_param_spec_enum ("power", "Power", "Preset: low sets steps=5, weights=int8 and "
          "threads to half the processors (faster and less power per audio second, at a "
          "quality cost: docs/PERFORMANCE.md); normal sets them back; properties set after "
          "it override it", GST_TYPE_VV_POWER, GST_VV_POWER_NORMAL, flags));
  g_object_class_install_property (gobject_class, PROP_BATCH_STREAMS,
      g_param_spec_boolean ("batch-streams", "Batch streams", "Share each step's LM pass "
          "and diffusion sampling with the other vvdiffuse elements generating on the same "
          "engine at the same time and step count (one read of those weights for up to 4 "
          "streams; a step waits at most about one such pass for the others; on the CPU "
          "the output does not change)", TRUE, flags));
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VibeVoice latent generator",
      "Generator/Audio", "Generates VibeVoice acoustic latents (Qwen2 LM + diffusion head, "
      "DPM-Solver++ with CFG) frame by frame from prompts", "gst-vibevoice developers");
  /* shown by gst-inspect-1.0 */
  gst_element_class_add_static_metadata (element_class, "example-launch-line",
      "gst-launch-1.0 filesrc location=script.txt ! vvdialogparse ! vvtokenize model=DIR voices=1=a.wav,2=b.wav ! vvdiffuse seed=42 steps=10 cfg-scale=1.3 ! vvvocode ! audioconvert ! wavenc ! filesink location=out.wav");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vv_diffuse_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_vv_diffuse_set_context);
  gst_type_mark_as_plugin_api (GST_TYPE_VV_DEVICE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VV_OVERFLOW, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VV_KV_CACHE_DTYPE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VV_WEIGHTS, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VV_POWER, 0);
}

static void
gst_vv_diffuse_init (GstVvDiffuse *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_diffuse_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_diffuse_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_diffuse_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vv_diffuse_query));
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vv_diffuse_src_event));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->steps = 10;
  self->cfg_scale = 1.3f;
  self->seed = -1;
  self->device = GST_VV_DEVICE_AUTO;
  self->attach_audio = TRUE;
  self->latency_ms = DEFAULT_LATENCY_MS;
  self->overflow = DEFAULT_OVERFLOW;
  self->kv_cache_dtype = GST_VV_KV_CACHE_BF16;
  self->batch_streams = TRUE;
  gst_segment_init (&self->in_segment, GST_FORMAT_UNDEFINED);
  self->need_segment = TRUE;
  self->discont_next = TRUE;
}
