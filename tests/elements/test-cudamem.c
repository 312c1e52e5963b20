/* gst-vibevoice — device memory between vvdiffuse and vvvocode
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real pipelines appsrc (a prompt) ! vvdiffuse ! vvvocode ! appsink on the
 * emulated CUDA backend (cuda-emu: the CUDA backend's code, its memory
 * counted as a device's) and on the CPU:
 * - with a CUDA engine the link vvdiffuse → vvvocode negotiates
 *   memory:CUDAMemory and carries device memory (latents and the attached
 *   audio), with no byte crossing between host and device for it: the
 *   device's download/upload counters over the whole run, against a run
 *   forced to system memory by a capsfilter, differ by exactly the latents
 *   and audio that run downloads; the session's own counters (vv-utterance)
 *   show only the 16 bytes of control logits per step;
 * - the audio out of vvvocode is bit-identical to the system-memory run's,
 *   in system memory (downloaded once, at vvvocode's src pad) or as device
 *   memory to a sink that takes memory:CUDAMemory;
 * - latents without attached audio are decoded from the device tensor;
 * - a CPU engine still negotiates system memory.
 * The memory type is read from the allocator (mem_type "VvDeviceMemory"),
 * so the test needs nothing from the plugin but its registration.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <vibevoice/vibevoice.h>
#include <math.h>
#include <string.h>

#include "vv-test-util.h"

#define HOP 3200
#define DIM 64
#define FRAMES 3
#define STEPS 3
#define SCRIPT "Speaker 1: Hello there, how are you today?\n"
#define AUDIO_CAPS "audio/x-raw, format=F32LE, layout=interleaved, rate=24000, channels=1"
#define DEVICE_AUDIO_CAPS "audio/x-raw(memory:CUDAMemory), format=F32LE, " \
    "layout=interleaved, rate=24000, channels=1"
#define LOGIT_BYTES 16          /* 4 control logits (F32) downloaded per step */

typedef struct {
  GstMeta meta;
  GstBuffer *audio;
} AudioMeta;

static const gchar *
tiny_model (void)
{
  const gchar *m = g_getenv ("VV_TINY_MODEL");
  fail_unless (m != NULL, "VV_TINY_MODEL not set (run through meson test)");
  return m;
}

/* The CUDA backend to run on: cuda-emu (always built), or what
 * $VV_CUDAMEM_DEVICE names (tests/cuda/run-on-gpu.sh: cuda). */
static const gchar *
cuda_name (void)
{
  const gchar *name = g_getenv ("VV_CUDAMEM_DEVICE");
  return name && *name ? name : "cuda-emu";
}

static gboolean
is_device (GstBuffer *b)
{
  if (b == NULL || gst_buffer_n_memory (b) != 1)
    return FALSE;
  GstMemory *m = gst_buffer_peek_memory (b, 0);
  return m->allocator && g_strcmp0 (m->allocator->mem_type, "VvDeviceMemory") == 0;
}

static GstBuffer *
attached_audio (GstBuffer *buf)
{
  GType api = g_type_from_name ("GstVvAudioMetaAPI");
  fail_unless (api != 0, "the plugin did not register GstVvAudioMetaAPI");
  AudioMeta *m = (AudioMeta *) gst_buffer_get_meta (buf, api);
  return m ? m->audio : NULL;
}

static GBytes *
make_prompt (void)
{
  GError *error = NULL;
  VvModel *model = vv_model_load (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  g_autofree gchar *tok_dir = g_build_filename (g_getenv ("VV_DATA_DIR"), "qwen2-tokenizer",
      NULL);
  VvTokenizer *tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  fail_unless (tok != NULL, "%s", error ? error->message : "");
  VvBackend *be = vv_backend_new_cpu (1, &error);
  fail_unless (be != NULL);
  VvSession *s = vv_session_new (model, tok, be, &error);
  fail_unless (s != NULL);
  gsize len = 6000;
  gfloat *clip = g_new (gfloat, len);
  for (gsize i = 0; i < len; i++)
    clip[i] = 0.2f * sinf (0.05f * i) + 0.05f * sinf (0.9f * i);
  const gfloat *clips[1] = { clip };
  VvPrompt *p = vv_session_prepare (s, SCRIPT, clips, &len, 1, &error);
  fail_unless (p != NULL, "%s", error ? error->message : "");
  GBytes *bytes = vv_prompt_serialize (p);
  vv_prompt_unref (p);
  g_free (clip);
  vv_session_free (s);
  vv_backend_free (be);
  vv_tokenizer_unref (tok);
  vv_model_unref (model);
  return bytes;
}

typedef struct {
  /* at vvvocode's sink */
  guint n_latents, dev_latents, dev_attached, n_attached;
  gchar *latent_caps;
  /* out of vvvocode */
  gchar *audio_caps;
  GPtrArray *out;               /* the buffers, mapped only after the counters */
  guint dev_out;
  GArray *audio;
  /* vv-utterance sums */
  guint64 frame_up, frame_down, audio_down;
  guint steps, frames;
  gboolean device_memory;
  /* the cuda-emu device over the run */
  guint64 dev_up, dev_down;
  guint64 frames_decoded, frames_passed;
} Run;

static GstPadProbeReturn
count_latents (GstPad *pad, GstPadProbeInfo *info, gpointer ud)
{
  Run *r = ud;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  r->n_latents++;
  r->dev_latents += is_device (b);
  GstBuffer *a = attached_audio (b);
  r->n_attached += a != NULL;
  r->dev_attached += is_device (a);
  return GST_PAD_PROBE_OK;
}

/* The device of the CUDA backend, whose counters the runs read; the
 * backend is kept for the (forked) test process. */
static VvBackend *emu_backend;

static VvDevice *
emu_device (void)
{
  if (emu_backend == NULL) {
    GError *error = NULL;
    emu_backend = vv_backend_new_by_name (cuda_name (), 1, &error);
    fail_unless (emu_backend != NULL, "backend %s (cuda-emu is always built): %s",
        cuda_name (), error ? error->message : "");
  }
  return vv_backend_get_device (emu_backend);
}

static GstBuffer *
prompt_buffer (void)
{
  GBytes *bytes = make_prompt ();
  GstBuffer *b = gst_buffer_new_wrapped_bytes (bytes);
  g_bytes_unref (bytes);
  return b;
}

/* Runs the pipeline on $VV_DEVICE=@device; @link: an element description
 * between vvdiffuse and vvvocode ("" for none); @sink_caps for appsink. */
static void
run_pipeline (Run *r, const gchar *device, const gchar *link, const gchar *sink_caps,
    gboolean attach)
{
  memset (r, 0, sizeof (*r));
  r->out = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  r->audio = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_setenv ("VV_DEVICE", device, TRUE);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "caps=application/x-vv-prompt ! vvdiffuse name=d model=%s seed=7 steps=%d "
      "max-frames=%d forced-diffusion=true deterministic-voice=true attach-audio=%s ! %s%s "
      "vvvocode name=v ! appsink name=sink sync=false wait-on-eos=false",
      tiny_model (), STEPS, FRAMES, attach ? "true" : "false", link, *link ? " !" : "");
  GError *error = NULL;
  GstElement *pipe = gst_parse_launch (desc, &error);
  fail_unless (pipe != NULL, "%s: %s", desc, error ? error->message : "");
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstElement *v = gst_bin_get_by_name (GST_BIN (pipe), "v");
  GstCaps *caps = gst_caps_from_string (sink_caps);
  g_object_set (sink, "caps", caps, NULL);
  gst_caps_unref (caps);
  GstPad *vsink = gst_element_get_static_pad (v, "sink");
  gst_pad_add_probe (vsink, GST_PAD_PROBE_TYPE_BUFFER, count_latents, r, NULL);

  /* the CUDA device's counters (a CPU run needs no CUDA backend: the
   * sanitizer setup has none) */
  gboolean on_cuda = g_strcmp0 (device, "cpu") != 0;
  VvDeviceStats s0 = { 0, }, s1 = { 0, };
  if (on_cuda)
    vv_device_get_stats (emu_device (), &s0);
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src),
          prompt_buffer ()), GST_FLOW_OK);
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);

  GstBus *bus = gst_element_get_bus (pipe);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "no EOS within 300 s");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      fail ("pipeline error from %s: %s (%s)", GST_OBJECT_NAME (msg->src), err->message,
          dbg ? dbg : "");
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      gst_message_unref (msg);
      break;
    }
    const GstStructure *st = gst_message_get_structure (msg);
    if (gst_structure_has_name (st, "vv-utterance")) {
      guint64 up = 0, down = 0, adown = 0;
      guint steps = 0, frames = 0;
      fail_unless (gst_structure_get (st, "frame-bytes-up", G_TYPE_UINT64, &up,
              "frame-bytes-down", G_TYPE_UINT64, &down, "audio-bytes-down", G_TYPE_UINT64,
              &adown, "steps", G_TYPE_UINT, &steps, "frames", G_TYPE_UINT, &frames,
              "device-memory", G_TYPE_BOOLEAN, &r->device_memory, NULL),
          "vv-utterance lacks the transfer counters");
      r->frame_up += up;
      r->frame_down += down;
      r->audio_down += adown;
      r->steps += steps;
      r->frames += frames;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  /* what crossed during the run, before anything here maps a buffer */
  if (on_cuda)
    vv_device_get_stats (emu_device (), &s1);
  r->dev_up = s1.bytes_up - s0.bytes_up;
  r->dev_down = s1.bytes_down - s0.bytes_down;

  GstCaps *lc = gst_pad_get_current_caps (vsink);
  fail_unless (lc != NULL);
  r->latent_caps = gst_caps_to_string (lc);
  gst_caps_unref (lc);
  GstPad *vsrc = gst_element_get_static_pad (v, "src");
  GstCaps *ac = gst_pad_get_current_caps (vsrc);
  fail_unless (ac != NULL);
  r->audio_caps = gst_caps_to_string (ac);
  gst_caps_unref (ac);
  gst_object_unref (vsrc);
  g_object_get (v, "frames-decoded", &r->frames_decoded, "frames-passed-through",
      &r->frames_passed, NULL);

  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0)) != NULL) {
    GstBuffer *b = gst_sample_get_buffer (sample);
    r->dev_out += is_device (b);
    g_ptr_array_add (r->out, gst_buffer_ref (b));
    gst_sample_unref (sample);
  }
  for (guint i = 0; i < r->out->len; i++) {
    GstMapInfo map;
    fail_unless (gst_buffer_map (r->out->pdata[i], &map, GST_MAP_READ),
        "output buffer %u cannot be mapped for reading", i);
    g_array_append_vals (r->audio, map.data, map.size / sizeof (gfloat));
    gst_buffer_unmap (r->out->pdata[i], &map);
  }
  g_test_message ("%s%s%s: latents %s (%u/%u device, %u/%u attached audio device); audio %s "
      "(%u/%u device); device up %" G_GUINT64_FORMAT " down %" G_GUINT64_FORMAT
      "; session frame up %" G_GUINT64_FORMAT " down %" G_GUINT64_FORMAT " audio down %"
      G_GUINT64_FORMAT "; %u frames, %u steps; decoded %" G_GUINT64_FORMAT ", passed %"
      G_GUINT64_FORMAT, device, *link ? " + " : "", link, r->latent_caps, r->dev_latents,
      r->n_latents, r->dev_attached, r->n_attached, r->audio_caps, r->dev_out, r->out->len,
      r->dev_up, r->dev_down, r->frame_up, r->frame_down, r->audio_down, r->frames, r->steps,
      r->frames_decoded, r->frames_passed);

  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (vsink);
  gst_object_unref (v);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (pipe);
}

static void
run_clear (Run *r)
{
  g_free (r->latent_caps);
  g_free (r->audio_caps);
  g_ptr_array_unref (r->out);
  g_array_unref (r->audio);
}

static void
assert_same_audio (const Run *a, const Run *ref, const gchar *what)
{
  fail_unless_equals_int (a->audio->len, ref->audio->len);
  fail_unless_equals_int (a->audio->len, FRAMES * HOP);
  for (guint i = 0; i < a->audio->len; i++)
    if (memcmp (&g_array_index (a->audio, gfloat, i), &g_array_index (ref->audio, gfloat, i),
            sizeof (gfloat)) != 0)
      fail ("%s: sample %u differs from the system-memory run: %.9g vs %.9g", what, i,
          g_array_index (a->audio, gfloat, i), g_array_index (ref->audio, gfloat, i));
}

static gboolean
has_cuda_feature (const gchar *caps)
{
  return strstr (caps, "(memory:CUDAMemory)") != NULL;
}

GST_START_TEST (test_cuda_engine_device_memory)
{
  /* the pipelines share this model (one per process): holding it keeps
   * its weights on the device after the first run, so the later runs'
   * uploads are theirs alone */
  GError *error = NULL;
  VvModel *model = vv_model_load_shared (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  /* the reference: the same engine, the link forced to system memory */
  Run sys;
  run_pipeline (&sys, cuda_name (), "application/x-vv-latents", AUDIO_CAPS, TRUE);
  fail_if (has_cuda_feature (sys.latent_caps), "%s", sys.latent_caps);
  fail_if (sys.device_memory);
  fail_unless_equals_int (sys.frames, FRAMES);
  fail_unless_equals_int (sys.dev_latents, 0);
  fail_unless_equals_int (sys.n_latents, FRAMES);
  fail_unless_equals_int (sys.n_attached, FRAMES);
  /* the session downloads each frame's z and audio for the host callbacks */
  fail_unless_equals_uint64 (sys.audio_down, (guint64) FRAMES * HOP * 4);
  fail_unless_equals_uint64 (sys.frame_down, (guint64) sys.steps * LOGIT_BYTES
      + (guint64) FRAMES * DIM * 4);

  /* device memory between the elements, system memory out (audioconvert's case) */
  Run dev;
  run_pipeline (&dev, cuda_name (), "", AUDIO_CAPS, TRUE);
  fail_unless (has_cuda_feature (dev.latent_caps), "latent caps %s", dev.latent_caps);
  fail_unless (g_str_has_prefix (dev.latent_caps,
          "application/x-vv-latents(memory:CUDAMemory)"), "%s", dev.latent_caps);
  fail_if (has_cuda_feature (dev.audio_caps), "%s", dev.audio_caps);
  fail_unless (dev.device_memory);
  fail_unless_equals_int (dev.steps, sys.steps);
  fail_unless_equals_int (dev.n_latents, FRAMES);
  fail_unless_equals_int (dev.dev_latents, FRAMES);
  fail_unless_equals_int (dev.dev_attached, FRAMES);
  fail_unless_equals_int (dev.dev_out, 0);
  fail_unless_equals_uint64 (dev.frames_passed, FRAMES);
  fail_unless_equals_uint64 (dev.frames_decoded, 0);
  /* nothing uploaded for the link; the one download is the audio at
   * vvvocode's src (in the streaming thread, so the session counts it in
   * its frame bytes) and z never comes to the host */
  fail_unless_equals_uint64 (dev.audio_down, 0);
  fail_unless_equals_uint64 (dev.frame_down, (guint64) dev.steps * LOGIT_BYTES
      + (guint64) FRAMES * HOP * 4);
  fail_unless_equals_uint64 (dev.frame_up, sys.frame_up);
  fail_unless_equals_uint64 (sys.dev_down - dev.dev_down, (guint64) FRAMES * DIM * 4);
  assert_same_audio (&dev, &sys, "device latents, system audio out");

  /* device memory all the way: zero bytes cross for latents and audio */
  Run all;
  run_pipeline (&all, cuda_name (), "", DEVICE_AUDIO_CAPS, TRUE);
  fail_unless (has_cuda_feature (all.latent_caps), "%s", all.latent_caps);
  fail_unless (has_cuda_feature (all.audio_caps), "audio caps %s", all.audio_caps);
  fail_unless_equals_int (all.dev_latents, FRAMES);
  fail_unless_equals_int (all.dev_out, all.out->len);
  fail_unless (all.out->len > 0);
  fail_unless_equals_uint64 (all.audio_down, 0);
  fail_unless_equals_uint64 (all.frame_down, (guint64) all.steps * LOGIT_BYTES);
  fail_unless_equals_uint64 (all.frame_up, sys.frame_up);
  fail_unless_equals_uint64 (all.dev_up, dev.dev_up);
  fail_unless_equals_uint64 (sys.dev_down - all.dev_down, (guint64) FRAMES * (DIM + HOP) * 4);
  /* (the buffers were read through a map, which downloads: same samples) */
  assert_same_audio (&all, &sys, "device audio out");
  /* the allocator's rules: no write maps; a whole copy stays on the device */
  GstBuffer *b = all.out->pdata[0];
  GstMapInfo map;
  GstMemory *mem = gst_buffer_peek_memory (b, 0);
  fail_if (gst_memory_map (mem, &map, GST_MAP_WRITE), "device memory mapped for writing");
  GstMemory *copy = gst_memory_copy (mem, 0, -1);
  fail_unless (copy != NULL && g_strcmp0 (copy->allocator->mem_type, "VvDeviceMemory") == 0);
  VvDeviceStats c0, c1;
  vv_device_get_stats (emu_device (), &c0);
  gst_memory_unref (gst_memory_copy (mem, 0, -1));
  vv_device_get_stats (emu_device (), &c1);
  fail_unless_equals_uint64 (c1.bytes_down - c0.bytes_down, 0);
  fail_unless_equals_uint64 (c1.bytes_up - c0.bytes_up, 0);
  fail_unless (gst_memory_map (copy, &map, GST_MAP_READ));
  fail_unless_equals_int (map.size, gst_memory_get_sizes (mem, NULL, NULL));
  fail_unless (memcmp (map.data, all.audio->data, map.size) == 0);
  gst_memory_unmap (copy, &map);
  gst_memory_unref (copy);

  /* no attached audio: vvvocode decodes the device latents in place */
  Run dec;
  run_pipeline (&dec, cuda_name (), "", AUDIO_CAPS, FALSE);
  fail_unless (has_cuda_feature (dec.latent_caps), "%s", dec.latent_caps);
  fail_unless_equals_int (dec.dev_latents, FRAMES);
  fail_unless_equals_int (dec.n_attached, 0);
  fail_unless_equals_uint64 (dec.frames_decoded, FRAMES);
  /* the session's own decode is the reference: same backend, same ops */
  assert_same_audio (&dec, &sys, "decoded from device latents");
  /* only the audio comes down, at vvvocode's src; no latent goes up (the
   * host path would upload 256 bytes a frame): what vvvocode adds is its
   * decoder's setup (a 4-byte index when it creates the decoder) */
  fail_unless_equals_uint64 (dec.frame_down, (guint64) dec.steps * LOGIT_BYTES
      + (guint64) FRAMES * HOP * 4);
  fail_unless (dec.frame_up >= sys.frame_up && dec.frame_up - sys.frame_up < DIM * 4,
      "frame uploads %" G_GUINT64_FORMAT " vs %" G_GUINT64_FORMAT, dec.frame_up, sys.frame_up);
  fail_unless (dec.dev_up >= dev.dev_up && dec.dev_up - dev.dev_up < DIM * 4,
      "uploads %" G_GUINT64_FORMAT " vs %" G_GUINT64_FORMAT, dec.dev_up, dev.dev_up);

  /* a queue between them passes the caps query on: still device memory */
  Run q;
  run_pipeline (&q, cuda_name (), "queue", AUDIO_CAPS, TRUE);
  fail_unless (has_cuda_feature (q.latent_caps), "through a queue: %s", q.latent_caps);
  fail_unless_equals_int (q.dev_latents, FRAMES);
  fail_unless_equals_uint64 (q.dev_down, dev.dev_down);
  assert_same_audio (&q, &sys, "device latents through a queue");

  run_clear (&sys);
  run_clear (&dev);
  run_clear (&all);
  run_clear (&dec);
  run_clear (&q);
  vv_model_unref (model);
}
GST_END_TEST;

GST_START_TEST (test_cpu_engine_system_memory)
{
  Run cpu;
  run_pipeline (&cpu, "cpu", "", AUDIO_CAPS, TRUE);
  fail_if (has_cuda_feature (cpu.latent_caps), "a CPU engine negotiated %s", cpu.latent_caps);
  fail_unless (g_str_has_prefix (cpu.latent_caps, "application/x-vv-latents, "), "%s",
      cpu.latent_caps);
  fail_if (cpu.device_memory);
  fail_unless_equals_int (cpu.n_latents, FRAMES);
  fail_unless_equals_int (cpu.dev_latents, 0);
  fail_unless_equals_int (cpu.dev_attached, 0);
  fail_unless_equals_int (cpu.dev_out, 0);
  fail_unless_equals_int (cpu.audio->len, FRAMES * HOP);
  run_clear (&cpu);
}
GST_END_TEST;

/* A sink that takes anything (filesink's case) gets the recorded form in
 * system memory, whatever the engine. */
GST_START_TEST (test_cuda_engine_records_system_memory)
{
  g_setenv ("VV_DEVICE", cuda_name (), TRUE);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "caps=application/x-vv-prompt ! vvdiffuse model=%s seed=7 steps=%d max-frames=%d "
      "forced-diffusion=true ! appsink name=sink sync=false wait-on-eos=false", tiny_model (),
      STEPS, FRAMES);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  fail_unless (pipe != NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src),
          prompt_buffer ()), GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 300 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  GstCaps *caps = gst_pad_get_current_caps (pad);
  g_autofree gchar *str = gst_caps_to_string (caps);
  fail_unless_equals_string (str, "application/x-vv-latent-records");
  gst_caps_unref (caps);
  gst_object_unref (pad);
  guint n = 0;
  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0)) != NULL) {
    GstBuffer *b = gst_sample_get_buffer (sample);
    fail_unless_equals_int (gst_buffer_get_size (b), 40 + DIM * 4);
    for (guint i = 0; i < gst_buffer_n_memory (b); i++)
      fail_if (g_strcmp0 (gst_buffer_peek_memory (b, i)->allocator->mem_type,
              "VvDeviceMemory") == 0, "a record in device memory");
    n++;
    gst_sample_unref (sample);
  }
  fail_unless_equals_int (n, FRAMES);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (pipe);
}
GST_END_TEST;

/* vvvocode alone with device caps on both sides: pauses are zeros made on
 * the device (nothing crosses); host latents under device caps are decoded
 * and their audio goes out as device memory. */
GST_START_TEST (test_vocode_device_output)
{
  g_setenv ("VV_DEVICE", cuda_name (), TRUE);
  GstElement *e = gst_element_factory_make ("vvvocode", NULL);
  fail_unless (e != NULL);
  g_object_set (e, "model", tiny_model (), NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_sink_caps_str (h, DEVICE_AUDIO_CAPS);
  gst_harness_set_src_caps_str (h, "application/x-vv-latents(memory:CUDAMemory), "
      "format=F32LE, dim=64, rate=24000, hop=3200");
  /* 250 ms = 6000 samples: buffers of 4096 and 1904; the first GAP also
   * makes the engine and the decoder */
  for (guint pass = 0; pass < 2; pass++) {
    VvDeviceStats s0, s1;
    vv_device_get_stats (emu_device (), &s0);
    fail_unless (gst_harness_push_event (h, gst_event_new_gap (0, 250 * GST_MSECOND)));
    vv_device_get_stats (emu_device (), &s1);
    if (pass == 1) {
      fail_unless_equals_uint64 (s1.bytes_up - s0.bytes_up, 0);
      fail_unless_equals_uint64 (s1.bytes_down - s0.bytes_down, 0);
    }
    gsize total = 0;
    while (gst_harness_buffers_in_queue (h) > 0) {
      GstBuffer *b = gst_harness_pull (h);
      fail_unless (is_device (b), "silence in system memory under device caps");
      GstMapInfo map;
      fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
      for (gsize i = 0; i < map.size / 4; i++)
        fail_unless (((gfloat *) map.data)[i] == 0.0f, "silence sample %" G_GSIZE_FORMAT
            " is %g", i, ((gfloat *) map.data)[i]);
      total += map.size / 4;
      gst_buffer_unmap (b, &map);
      gst_buffer_unref (b);
    }
    fail_unless_equals_int (total, 6000);
  }
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  g_autofree gchar *str = gst_caps_to_string (caps);
  gst_caps_unref (caps);
  fail_unless (g_str_has_prefix (str, "audio/x-raw(memory:CUDAMemory)"), "%s", str);

  gfloat z[DIM];
  for (gint d = 0; d < DIM; d++)
    z[d] = 0.5f * sinf (0.3f * d);
  GstBuffer *in = gst_buffer_new_memdup (z, sizeof z);
  GST_BUFFER_FLAG_SET (in, GST_BUFFER_FLAG_DISCONT);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *b = gst_harness_pull (h);
  fail_unless (is_device (b), "decoded audio in system memory under device caps");
  fail_unless_equals_int (gst_buffer_get_size (b), HOP * 4);
  gst_buffer_unref (b);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
cudamem_suite (void)
{
  Suite *s = suite_create ("vvcudamem");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 600);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_cpu_engine_system_memory);
  /* by registration only: no backend (no CUDA context) in the parent of
   * the forked tests */
  g_auto (GStrv) names = vv_backend_list_names ();
  if (g_strv_contains ((const gchar *const *) names, cuda_name ())) {
    tcase_add_test (tc, test_cuda_engine_device_memory);
    tcase_add_test (tc, test_cuda_engine_records_system_memory);
    tcase_add_test (tc, test_vocode_device_output);
  } else if (g_getenv ("VV_BACKEND_PATH") != NULL) {
    /* the sanitizer setup hides the modules on purpose (tests/meson.build) */
    g_print ("# backend %s not found in $VV_BACKEND_PATH: only the CPU test runs\n",
        cuda_name ());
  } else {
    /* cuda-emu is part of every build: its absence is a failure */
    tcase_add_test (tc, test_cuda_engine_device_memory);
  }
  return s;
}

GST_CHECK_MAIN (cudamem);
