/* gst-vibevoice — vvvocode element tests
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every expected sample comes from a path independent of the element: the
 * engine library called directly here (vv_speech_decoder_*), or the
 * `vibevoice decode` CLI. Latents are a fixed sin/cos pattern.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <vibevoice/vibevoice.h>
#include <glib/gstdio.h>
#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include "vv-test-util.h"
#include "gstvvmeta.h"
#include "gstvvengine.h"

#define DIM 64
#define HOP 3200
#define RATE 24000
#define N_FRAMES 10
#define LATENT_CAPS "application/x-vv-latents,format=F32LE,dim=64,rate=24000,hop=3200"
#define AUDIO_CAPS "audio/x-raw,format=F32LE,layout=interleaved,rate=24000,channels=1"

static gfloat latents[N_FRAMES * DIM];

static void
fill_latents (void)
{
  for (gint f = 0; f < N_FRAMES; f++)
    for (gint d = 0; d < DIM; d++)
      latents[f * DIM + d] = 1.5f * sinf (0.71f * f + 0.23f * d * d + 0.1f)
          + 0.3f * cosf (1.9f * d - 0.4f * f);
}

static const gchar *
tiny_model (void)
{
  const gchar *dir = g_getenv ("VV_TINY_MODEL");
  fail_unless (dir != NULL, "VV_TINY_MODEL is not set");
  return dir;
}

/* ------------------------------------------------------------------ */
/* the independent reference: the engine library                       */

/* Decoder input of frames [first, first+n): z / scale − bias. */
static gfloat *
normalised (VvModel *model, gint first, gint n)
{
  const gfloat scale = vv_model_get_speech_scaling_factor (model);
  const gfloat bias = vv_model_get_speech_bias_factor (model);
  gfloat *x = g_new (gfloat, (gsize) n * DIM);
  for (gint i = 0; i < n * DIM; i++)
    x[i] = latents[first * DIM + i] / scale - bias;
  return x;
}

/* Decodes frames [start, start + Σ seg) with a fresh decoder per segment. */
static GArray *
reference_decode (gint start, const gint *segs, gint n_segs)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) model = vv_model_load (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "?");
  g_autoptr (VvBackend) be = vv_test_new_backend (0);
  fail_unless (be != NULL);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (gfloat));
  gint f = start;
  for (gint s = 0; s < n_segs; s++) {
    g_autoptr (VvSpeechDecoder) dec = vv_speech_decoder_new (model, be, &error);
    fail_unless (dec != NULL, "%s", error ? error->message : "?");
    fail_unless_equals_int (vv_speech_decoder_get_hop (dec), HOP);
    g_autofree gfloat *x = normalised (model, f, segs[s]);
    guint at = out->len;
    g_array_set_size (out, at + segs[s] * HOP);
    fail_unless (vv_speech_decoder_decode_host (dec, x, segs[s], &g_array_index (out, gfloat, at),
            &error), "%s", error ? error->message : "?");
    f += segs[s];
  }
  return out;
}

/* ------------------------------------------------------------------ */
/* harness helpers                                                     */

static GstElement *
new_element (const gchar *model_dir, GstBus **bus)
{
  GstElement *e = gst_element_factory_make ("vvvocode", NULL);
  fail_unless (e != NULL, "vvvocode not found");
  if (model_dir)
    g_object_set (e, "model", model_dir, NULL);
  *bus = gst_bus_new ();
  gst_element_set_bus (e, *bus);
  return e;
}

/* A playing harness around @e (ref taken) with audio sink caps and,
 * if @latent_caps, the latent caps + a TIME segment pushed. */
static GstHarness *
new_harness_for (GstElement *e, const gchar *latent_caps)
{
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_sink_caps_str (h, AUDIO_CAPS);
  if (latent_caps)
    gst_harness_set_src_caps_str (h, latent_caps);
  return h;
}

static GstHarness *
new_harness (const gchar *model_dir, GstBus **bus)
{
  GstElement *e = new_element (model_dir, bus);
  GstHarness *h = new_harness_for (e, LATENT_CAPS);
  gst_object_unref (e);
  return h;
}

/* Queued messages hold the element, which holds the bus: drop them first. */
static void
teardown (GstHarness *h, GstBus *bus)
{
  gst_bus_set_flushing (bus, TRUE);
  gst_harness_teardown (h);
  gst_object_unref (bus);
}

static GstBuffer *
latent_buffer (gint first, gint n, gboolean discont)
{
  GstBuffer *b = gst_buffer_new_memdup (latents + first * DIM, (gsize) n * DIM * sizeof (gfloat));
  if (discont)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  return b;
}

static void
append_samples (GArray *acc, GstBuffer *b)
{
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  fail_unless_equals_int (map.size % sizeof (gfloat), 0);
  g_array_append_vals (acc, map.data, map.size / sizeof (gfloat));
  gst_buffer_unmap (b, &map);
}

/* Pushes frames [start, start + Σ chunks) in @n buffers, pulls one buffer
 * per push and returns the concatenated samples. */
static GArray *
push_chunks (GstHarness *h, gint start, const gint *chunks, gint n, gboolean discont_first)
{
  GArray *acc = g_array_new (FALSE, TRUE, sizeof (gfloat));
  gint f = start;
  for (gint i = 0; i < n; i++) {
    fail_unless_equals_int (gst_harness_push (h, latent_buffer (f, chunks[i],
                discont_first && i == 0)), GST_FLOW_OK);
    GstBuffer *b = gst_harness_pull (h);
    fail_unless (b != NULL);
    fail_unless_equals_int (gst_buffer_get_size (b), chunks[i] * HOP * sizeof (gfloat));
    append_samples (acc, b);
    gst_buffer_unref (b);
    f += chunks[i];
  }
  return acc;
}

static void
assert_same_samples (GArray *ours, GArray *ref, const gchar *what)
{
  fail_unless_equals_int (ours->len, ref->len);
  gsize first_bad = ours->len;
  for (guint i = 0; i < ours->len; i++)
    if (memcmp (&g_array_index (ours, gfloat, i), &g_array_index (ref, gfloat, i),
            sizeof (gfloat)) != 0) {
      first_bad = i;
      break;
    }
  fail_unless (first_bad == ours->len, "%s: sample %" G_GSIZE_FORMAT " differs: %.9g vs %.9g",
      what, first_bad, g_array_index (ours, gfloat, first_bad),
      g_array_index (ref, gfloat, first_bad));
}

static gboolean
samples_equal (GArray *a, GArray *b)
{
  return a->len == b->len && memcmp (a->data, b->data, a->len * sizeof (gfloat)) == 0;
}

static guint64
get_u64 (GstHarness *h, const gchar *prop)
{
  guint64 v = 0;
  g_object_get (h->element, prop, &v, NULL);
  return v;
}

/* The text and debug of the first ERROR (or WARNING) on @bus, or NULL. */
static gchar *
pop_message (GstBus *bus, GstMessageType type)
{
  GstMessage *m = gst_bus_pop_filtered (bus, type);
  if (m == NULL)
    return NULL;
  GError *err = NULL;
  gchar *dbg = NULL;
  if (type == GST_MESSAGE_ERROR)
    gst_message_parse_error (m, &err, &dbg);
  else
    gst_message_parse_warning (m, &err, &dbg);
  gchar *s = g_strdup_printf ("%s | %s", err->message, dbg ? dbg : "");
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (m);
  return s;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */

GST_START_TEST (test_streaming_equivalence)
{
  fill_latents ();
  const gint whole[] = { N_FRAMES };
  g_autoptr (GArray) ref = reference_decode (0, whole, 1);

  const gint ones[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  const gint three[] = { 3, 3, 4 };
  const gint *splits[] = { ones, three, whole };
  const gint n_splits[] = { 10, 3, 1 };
  for (gint s = 0; s < 3; s++) {
    GstBus *bus;
    GstHarness *h = new_harness (tiny_model (), &bus);
    g_autoptr (GArray) out = push_chunks (h, 0, splits[s], n_splits[s], TRUE);
    g_autofree gchar *what = g_strdup_printf ("%d buffers vs library", n_splits[s]);
    assert_same_samples (out, ref, what);
    fail_unless_equals_uint64 (get_u64 (h, "frames-decoded"), N_FRAMES);
    fail_unless_equals_uint64 (get_u64 (h, "frames-passed-through"), 0);
    teardown (h, bus);
  }
}
GST_END_TEST;

/* Split at a byte that is not a frame boundary: the adapter glues them. */
GST_START_TEST (test_partial_frames_across_buffers)
{
  fill_latents ();
  const gint whole[] = { N_FRAMES };
  g_autoptr (GArray) ref = reference_decode (0, whole, 1);
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  const gsize total = N_FRAMES * DIM * sizeof (gfloat);
  const gsize cuts[] = { 0, 100, 700, 956, 1800, total };
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (gfloat));
  for (guint i = 0; i + 1 < G_N_ELEMENTS (cuts); i++) {
    GstBuffer *b = gst_buffer_new_memdup ((guint8 *) latents + cuts[i], cuts[i + 1] - cuts[i]);
    fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
    GstBuffer *o;
    while ((o = gst_harness_try_pull (h))) {
      append_samples (out, o);
      gst_buffer_unref (o);
    }
  }
  /* whatever the split, every frame comes out once, decoded in order */
  assert_same_samples (out, ref, "odd byte splits vs library");
  gst_harness_push_event (h, gst_event_new_eos ());
  g_autofree gchar *err = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (err == NULL, "unexpected error %s", err);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_cli_equivalence)
{
  fill_latents ();
  const gint whole[] = { N_FRAMES };
  g_autoptr (GArray) ref = reference_decode (0, whole, 1);

  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  const gint three[] = { 3, 3, 4 };
  g_autoptr (GArray) out = push_chunks (h, 0, three, 3, TRUE);
  teardown (h, bus);

  /* the CLI takes the element's own input, normalised z (issue 13: one
   * convention for vvvocode, `decode` and `synth --dump-latents`) */
  g_autoptr (GError) error = NULL;
  const gfloat *x = latents;
  g_autofree gchar *tmp = g_dir_make_tmp ("vvvocode-XXXXXX", &error);
  fail_unless (tmp != NULL);
  g_autofree gchar *lat = g_build_filename (tmp, "lat.npy", NULL);
  g_autofree gchar *wav = g_build_filename (tmp, "out.wav", NULL);
  g_autofree gchar *dump = g_build_filename (tmp, "out.npy", NULL);
  gint64 shape[2] = { N_FRAMES, DIM };
  fail_unless (vv_npy_save (lat, x, 2, shape, &error));
  g_autofree gchar *args = g_strdup_printf ("decode --model %s --out %s --dump %s --chunk 2 %s",
      tiny_model (), wav, dump, lat);
  vv_test_run_tool (args);
  g_autoptr (VvNpyArray) cli = vv_npy_load (dump, &error);
  fail_unless (cli != NULL, "%s", error ? error->message : "?");
  g_autoptr (GArray) cli_samples = g_array_new (FALSE, TRUE, sizeof (gfloat));
  g_array_append_vals (cli_samples, cli->data, cli->n);
  assert_same_samples (out, cli_samples, "element vs CLI");
  assert_same_samples (ref, cli_samples, "library vs CLI");
  vv_test_rm_rf (tmp);
}
GST_END_TEST;

GST_START_TEST (test_discont_resets)
{
  fill_latents ();
  const gint halves[] = { 5, 5 };
  const gint whole[] = { N_FRAMES };
  g_autoptr (GArray) ref = reference_decode (0, halves, 2);
  g_autoptr (GArray) cont = reference_decode (0, whole, 1);
  /* otherwise the test could not tell a reset from none */
  fail_if (samples_equal (ref, cont), "reset and continuous decodes are identical");

  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (gfloat));
  for (gint i = 0; i < 2; i++) {
    fail_unless_equals_int (gst_harness_push (h, latent_buffer (5 * i, 5, TRUE)), GST_FLOW_OK);
    GstBuffer *b = gst_harness_pull (h);
    /* no input PTS: the timeline stays continuous; only the first is DISCONT */
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b),
        gst_util_uint64_scale_int (5 * i * HOP, GST_SECOND, RATE));
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT), i == 0);
    append_samples (out, b);
    gst_buffer_unref (b);
  }
  assert_same_samples (out, ref, "DISCONT at frame 5 vs two fresh decodes");
  teardown (h, bus);
}
GST_END_TEST;

static void
check_event (GstHarness *h, GstEventType type)
{
  GstEvent *ev = gst_harness_pull_event (h);
  fail_unless (ev != NULL, "expected %s, got nothing", gst_event_type_get_name (type));
  fail_unless_equals_string (GST_EVENT_TYPE_NAME (ev), gst_event_type_get_name (type));
  if (type == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (ev, &caps);
    GstCaps *want = gst_caps_from_string (AUDIO_CAPS);
    fail_unless (gst_caps_is_equal (caps, want), "caps %" GST_PTR_FORMAT, caps);
    fail_unless (gst_caps_features_is_equal (gst_caps_get_features (caps, 0),
            GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY));
    gst_caps_unref (want);
  } else if (type == GST_EVENT_SEGMENT) {
    const GstSegment *seg;
    gst_event_parse_segment (ev, &seg);
    fail_unless_equals_int (seg->format, GST_FORMAT_TIME);
    fail_unless_equals_uint64 (seg->start, 0);
  }
  gst_event_unref (ev);
}

GST_START_TEST (test_timestamps_and_events)
{
  fill_latents ();
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  const gint chunks[] = { 1, 3, 6 };
  guint64 samples = 0;
  gint f = 0;
  for (gint i = 0; i < 3; i++) {
    fail_unless_equals_int (gst_harness_push (h, latent_buffer (f, chunks[i], i == 0)),
        GST_FLOW_OK);
    GstBuffer *b = gst_harness_pull (h);
    guint64 n = (guint64) chunks[i] * HOP;
    GstClockTime t0 = gst_util_uint64_scale_int (samples, GST_SECOND, RATE);
    GstClockTime t1 = gst_util_uint64_scale_int (samples + n, GST_SECOND, RATE);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), t0);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), t1 - t0);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), samples);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (b), samples + n);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT), i == 0);
    gst_buffer_unref (b);
    samples += n;
    f += chunks[i];
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  check_event (h, GST_EVENT_STREAM_START);
  check_event (h, GST_EVENT_CAPS);
  check_event (h, GST_EVENT_SEGMENT);
  check_event (h, GST_EVENT_EOS);

  /* the src pad offers system memory only (CUDA not usable here) */
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  GstCaps *caps = gst_pad_query_caps (src, NULL);
  for (guint i = 0; i < gst_caps_get_size (caps); i++)
    fail_if (gst_caps_features_contains (gst_caps_get_features (caps, i), "memory:CUDAMemory"));
  gst_caps_unref (caps);
  gst_object_unref (src);
  teardown (h, bus);
}
GST_END_TEST;

/* At an input DISCONT with a PTS ahead of the counter, the output follows. */
GST_START_TEST (test_discont_follows_pts)
{
  fill_latents ();
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  GstBuffer *in = latent_buffer (0, 2, TRUE);
  GST_BUFFER_PTS (in) = 0;
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  /* ahead by 0.5 s, not flagged: the counter is kept */
  in = latent_buffer (2, 1, FALSE);
  GST_BUFFER_PTS (in) = GST_SECOND;
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *b = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 2 * HOP);
  fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (b);
  /* flagged: followed */
  in = latent_buffer (3, 1, TRUE);
  GST_BUFFER_PTS (in) = 2 * GST_SECOND;
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  b = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 2 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 2 * RATE);
  fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (b);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_eos_without_buffers)
{
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  check_event (h, GST_EVENT_STREAM_START);
  check_event (h, GST_EVENT_CAPS);
  check_event (h, GST_EVENT_SEGMENT);
  check_event (h, GST_EVENT_EOS);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_flush_restarts)
{
  fill_latents ();
  const gint three[] = { 3 };
  g_autoptr (GArray) ref = reference_decode (4, three, 1);
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  fail_unless_equals_int (gst_harness_push (h, latent_buffer (0, 4, TRUE)), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  /* no DISCONT on the input: the flush alone resets the decoder */
  fail_unless_equals_int (gst_harness_push (h, latent_buffer (4, 3, FALSE)), GST_FLOW_OK);
  GstBuffer *b = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 0);
  fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (gfloat));
  append_samples (out, b);
  gst_buffer_unref (b);
  assert_same_samples (out, ref, "after flush vs fresh decode");
  teardown (h, bus);
}
GST_END_TEST;

/* ------------------------------------------------------------------ */
/* GstVvAudioMeta: the functions live in the plugin module; look them up
 * there so the test uses the same registration as the element. */

typedef GstVvAudioMeta *(*AddMetaFunc) (GstBuffer *buffer, GstBuffer *audio);

static AddMetaFunc
get_add_meta (void)
{
  GstElementFactory *f = gst_element_factory_find ("vvvocode");
  fail_unless (f != NULL);
  GstPlugin *p = gst_plugin_feature_get_plugin (GST_PLUGIN_FEATURE (f));
  fail_unless (p != NULL);
  const gchar *path = gst_plugin_get_filename (p);
  void *mod = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  fail_unless (mod != NULL, "dlopen %s: %s", path, dlerror ());
  AddMetaFunc fn = (AddMetaFunc) dlsym (mod, "gst_buffer_add_vv_audio_meta");
  fail_unless (fn != NULL, "%s", dlerror ());
  gst_object_unref (p);
  gst_object_unref (f);
  return fn;
}

static GstBuffer *
known_audio (gint n_frames)
{
  gsize n = (gsize) n_frames * HOP;
  gfloat *s = g_new (gfloat, n);
  for (gsize i = 0; i < n; i++)
    s[i] = 0.25f * sinf (0.001f * i) + 1e-6f * i;
  return gst_buffer_new_wrapped (s, n * sizeof (gfloat));
}

GST_START_TEST (test_audio_meta_passthrough)
{
  fill_latents ();
  AddMetaFunc add_meta = get_add_meta ();
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);

  GstBuffer *audio = known_audio (2);
  GstBuffer *in = latent_buffer (0, 2, TRUE);
  fail_unless (add_meta (in, audio) != NULL);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *b = gst_harness_pull (h);
  GstMapInfo a;
  fail_unless (gst_buffer_map (audio, &a, GST_MAP_READ));
  fail_unless_equals_int (gst_buffer_get_size (b), a.size);
  fail_unless (gst_buffer_memcmp (b, 0, a.data, a.size) == 0, "attached audio changed");
  gst_buffer_unmap (audio, &a);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 0);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (b), 2 * HOP);
  fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (b);
  fail_unless_equals_uint64 (get_u64 (h, "frames-decoded"), 0);
  fail_unless_equals_uint64 (get_u64 (h, "frames-passed-through"), 2);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);

  /* raw frames without DISCONT after pre-decoded ones: fresh decoder + one warning */
  const gint three[] = { 3 };
  g_autoptr (GArray) ref = reference_decode (2, three, 1);
  fail_unless_equals_int (gst_harness_push (h, latent_buffer (2, 3, FALSE)), GST_FLOW_OK);
  b = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 2 * HOP);
  g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (gfloat));
  append_samples (out, b);
  gst_buffer_unref (b);
  assert_same_samples (out, ref, "raw after pre-decoded vs fresh decode");
  g_autofree gchar *warn = pop_message (bus, GST_MESSAGE_WARNING);
  fail_unless (warn != NULL && strstr (warn, "pre-decoded to raw") != NULL, "warning: %s", warn);
  fail_unless_equals_uint64 (get_u64 (h, "frames-decoded"), 3);
  fail_unless_equals_uint64 (get_u64 (h, "frames-passed-through"), 2);
  teardown (h, bus);

  /* use-attached-audio=false: decoded instead */
  const gint two[] = { 2 };
  g_autoptr (GArray) ref2 = reference_decode (0, two, 1);
  GstElement *e = new_element (tiny_model (), &bus);
  g_object_set (e, "use-attached-audio", FALSE, NULL);
  h = new_harness_for (e, LATENT_CAPS);
  gst_object_unref (e);
  in = latent_buffer (0, 2, TRUE);
  add_meta (in, audio);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  b = gst_harness_pull (h);
  g_autoptr (GArray) out2 = g_array_new (FALSE, TRUE, sizeof (gfloat));
  append_samples (out2, b);
  gst_buffer_unref (b);
  assert_same_samples (out2, ref2, "use-attached-audio=false vs library");
  fail_unless_equals_uint64 (get_u64 (h, "frames-decoded"), 2);
  fail_unless_equals_uint64 (get_u64 (h, "frames-passed-through"), 0);
  teardown (h, bus);
  gst_buffer_unref (audio);
}
GST_END_TEST;

/* pre-decoded then raw with DISCONT: a clean boundary, no warning */
GST_START_TEST (test_audio_meta_then_discont)
{
  fill_latents ();
  AddMetaFunc add_meta = get_add_meta ();
  const gint three[] = { 3 };
  g_autoptr (GArray) ref = reference_decode (2, three, 1);
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  GstBuffer *audio = known_audio (2);
  GstBuffer *in = latent_buffer (0, 2, TRUE);
  add_meta (in, audio);
  gst_buffer_unref (audio);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  g_autoptr (GArray) out = push_chunks (h, 2, three, 1, TRUE);
  assert_same_samples (out, ref, "raw DISCONT after pre-decoded vs fresh decode");
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);
  fail_unless_equals_uint64 (get_u64 (h, "frames-passed-through"), 2);
  fail_unless_equals_uint64 (get_u64 (h, "frames-decoded"), 3);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  gst_harness_set_upstream_latency (h, 40 * GST_MSECOND);
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  GstQuery *q = gst_query_new_latency ();
  fail_unless (gst_pad_query (src, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless_equals_uint64 (min, 40 * GST_MSECOND);
  gst_query_unref (q);
  gst_object_unref (src);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_audio_meta_bad_size)
{
  fill_latents ();
  AddMetaFunc add_meta = get_add_meta ();
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  GstBuffer *audio = known_audio (1);   /* 1 frame of audio for 2 frames */
  GstBuffer *in = latent_buffer (0, 2, TRUE);
  add_meta (in, audio);
  gst_buffer_unref (audio);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_ERROR);
  g_autofree gchar *err = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (err != NULL && strstr (err, "12800 bytes") != NULL, "error: %s", err);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_gap_silence)
{
  fill_latents ();
  const gint three[] = { 3 };
  g_autoptr (GArray) ref_a = reference_decode (0, three, 1);
  g_autoptr (GArray) ref_b = reference_decode (3, three, 1);
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  g_autoptr (GArray) a = push_chunks (h, 0, three, 1, TRUE);
  assert_same_samples (a, ref_a, "before GAP");

  const GstClockTime gap = 123456700;   /* 2962.96 samples → 2963 */
  const guint64 n_gap = 2963;
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (GST_SECOND, gap)));
  GstBuffer *b = gst_harness_pull (h);
  fail_unless_equals_int (gst_buffer_get_size (b), n_gap * sizeof (gfloat));
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 3 * HOP);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (b), 3 * HOP + n_gap);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  for (gsize i = 0; i < map.size; i++)
    fail_unless (map.data[i] == 0, "byte %" G_GSIZE_FORMAT " of the silence is not 0", i);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);

  /* after the pause: continuous timeline, fresh decoder */
  g_autoptr (GArray) c = push_chunks (h, 3, three, 1, FALSE);
  assert_same_samples (c, ref_b, "after GAP vs fresh decode");
  fail_unless_equals_uint64 (get_u64 (h, "frames-decoded"), 6);
  teardown (h, bus);
}
GST_END_TEST;

/* vvvocode's documented bound on one buffer of silence (element docs). */
#define SILENCE_BUFFER_MAX_SAMPLES 4096

/* Issue 14: a GAP became one buffer of its whole length (an hour of pause:
 * 345 MB at once). Now the silence streams in bounded buffers with a
 * continuous timeline. */
GST_START_TEST (test_gap_streams_in_chunks)
{
  fill_latents ();
  const gint three[] = { 3 };
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  g_autoptr (GArray) a = push_chunks (h, 0, three, 1, TRUE);
  const guint64 n_gap = 10 * RATE;                      /* 10 s */
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (0, 10 * GST_SECOND)));
  guint n_bufs = 0;
  guint64 total = 0, next_offset = 3 * HOP;
  GstClockTime next_pts = gst_util_uint64_scale_int (3 * HOP, GST_SECOND, RATE);
  GstBuffer *b;
  while ((b = gst_harness_try_pull (h)) != NULL) {
    gsize size = gst_buffer_get_size (b);
    fail_unless (size > 0 && size % sizeof (gfloat) == 0);
    guint64 n = size / sizeof (gfloat);
    fail_unless (n <= SILENCE_BUFFER_MAX_SAMPLES, "buffer %u holds %" G_GUINT64_FORMAT
        " samples", n_bufs, n);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), next_offset);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (b), next_offset + n);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), next_pts);
    next_offset += n;
    next_pts += GST_BUFFER_DURATION (b);
    fail_unless_equals_uint64 (next_pts, gst_util_uint64_scale_int (next_offset, GST_SECOND,
            RATE));
    fail_unless (!GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    GstMapInfo map;
    fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
    for (gsize i = 0; i < map.size; i++)
      fail_unless (map.data[i] == 0, "byte %" G_GSIZE_FORMAT " of buffer %u is not 0", i,
          n_bufs);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
    total += n;
    n_bufs++;
  }
  fail_unless_equals_uint64 (total, n_gap);
  fail_unless (n_bufs >= (n_gap + SILENCE_BUFFER_MAX_SAMPLES - 1) / SILENCE_BUFFER_MAX_SAMPLES);
  /* the next frame's audio follows the silence without a hole */
  fail_unless_equals_int (gst_harness_push (h, latent_buffer (3, 1, FALSE)), GST_FLOW_OK);
  b = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 3 * HOP + n_gap);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), next_pts);
  gst_buffer_unref (b);
  teardown (h, bus);
}
GST_END_TEST;

typedef struct {
  guint seen, stop_after;
  gsize max_size;
  GstFlowReturn answer;
} StopProbe;

/* Takes the buffers itself and answers @answer from the stop_after'th on,
 * as a flushing or finished downstream would. */
static GstPadProbeReturn
stop_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  StopProbe *sp = data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  sp->seen++;
  sp->max_size = MAX (sp->max_size, gst_buffer_get_size (b));
  gst_buffer_unref (b);
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = sp->seen >= sp->stop_after ? sp->answer
      : GST_FLOW_OK;
  return GST_PAD_PROBE_HANDLED;
}

/* A GAP of hours is not allocated at once, and the silence stops as soon
 * as downstream says FLUSHING or EOS. */
GST_START_TEST (test_gap_of_hours_stops_downstream)
{
  const GstFlowReturn answers[] = { GST_FLOW_FLUSHING, GST_FLOW_EOS };
  for (guint i = 0; i < G_N_ELEMENTS (answers); i++) {
    GstBus *bus;
    GstHarness *h = new_harness (tiny_model (), &bus);
    StopProbe sp = { 0, 5, 0, answers[i] };
    GstPad *src = gst_element_get_static_pad (h->element, "src");
    gulong id = gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, stop_probe, &sp, NULL);
    /* 2 hours = 172.8 M samples = 691 MB as one buffer */
    fail_unless (gst_harness_push_event (h, gst_event_new_gap (0, 2 * 3600 * GST_SECOND)));
    fail_unless_equals_int (sp.seen, sp.stop_after);
    fail_unless (sp.max_size <= SILENCE_BUFFER_MAX_SAMPLES * sizeof (gfloat),
        "a buffer of %" G_GSIZE_FORMAT " bytes", sp.max_size);
    gst_pad_remove_probe (src, id);
    gst_object_unref (src);
    fail_unless (gst_harness_try_pull (h) == NULL);
    teardown (h, bus);
  }
}
GST_END_TEST;

GST_START_TEST (test_custom_event_forwarded)
{
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  GstEvent *ev = gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
      gst_structure_new_empty ("vv-test-marker"));
  fail_unless (gst_harness_push_event (h, ev));
  gboolean seen = FALSE;
  GstEvent *got;
  while ((got = gst_harness_try_pull_event (h))) {
    if (GST_EVENT_TYPE (got) == GST_EVENT_CUSTOM_DOWNSTREAM
        && gst_structure_has_name (gst_event_get_structure (got), "vv-test-marker"))
      seen = TRUE;
    gst_event_unref (got);
  }
  fail_unless (seen);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_wrong_dim)
{
  GstBus *bus;
  GstElement *e = new_element (tiny_model (), &bus);
  GstHarness *h = new_harness_for (e, NULL);
  gst_object_unref (e);
  gst_harness_push_event (h, gst_event_new_stream_start ("vvvocode-test"));
  GstCaps *caps = gst_caps_from_string
      ("application/x-vv-latents,format=F32LE,dim=32,rate=24000,hop=3200");
  /* (a sticky event reports TRUE once stored, whatever the element said) */
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  g_autofree gchar *err = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (err != NULL, "no error");
  fail_unless (strstr (err, "dim=32") && strstr (err, "dim=64"), "error: %s", err);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_partial_frame_at_eos)
{
  fill_latents ();
  GstBus *bus;
  GstHarness *h = new_harness (tiny_model (), &bus);
  GstBuffer *b = gst_buffer_new_memdup (latents, 2 * DIM * sizeof (gfloat) + 100);
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  GstBuffer *o = gst_harness_pull (h);
  fail_unless_equals_int (gst_buffer_get_size (o), 2 * HOP * sizeof (gfloat));
  gst_buffer_unref (o);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
  gst_harness_push_event (h, gst_event_new_eos ());
  g_autofree gchar *err = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (err != NULL && strstr (err, "100 bytes") != NULL, "error: %s", err);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_missing_model_folder)
{
  g_autofree gchar *dir = g_build_filename (g_get_tmp_dir (), "vvvocode-no-such-model", NULL);
  GstBus *bus;
  GstElement *e = new_element (dir, &bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  g_autofree gchar *err = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (err != NULL && strstr (err, dir) != NULL, "error: %s", err);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (e);
  gst_object_unref (bus);
}
GST_END_TEST;

GST_START_TEST (test_no_model)
{
  fill_latents ();
  GstBus *bus;
  GstHarness *h = new_harness (NULL, &bus);
  fail_unless_equals_int (gst_harness_push (h, latent_buffer (0, 1, TRUE)), GST_FLOW_ERROR);
  g_autofree gchar *err = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (err != NULL && strstr (err, "no model") != NULL, "error: %s", err);
  teardown (h, bus);
}
GST_END_TEST;

GST_START_TEST (test_shared_model_context)
{
  fill_latents ();
  const gint whole[] = { N_FRAMES };
  g_autoptr (GArray) ref = reference_decode (0, whole, 1);

  g_autoptr (GError) error = NULL;
  g_autoptr (VvModel) model = vv_model_load (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  fail_unless (model != NULL);
  GstContext *ctx = gst_context_new (GST_VV_ENGINE_CONTEXT_TYPE, TRUE);
  gst_structure_set (gst_context_writable_structure (ctx), "model", VV_TYPE_MODEL, model, NULL);

  GstBus *bus;
  GstElement *e = new_element (NULL, &bus);
  gst_element_set_context (e, ctx);
  gst_context_unref (ctx);
  GstHarness *h = new_harness_for (e, LATENT_CAPS);

  /* the element answers CONTEXT queries with the model it holds */
  GstPad *src = gst_element_get_static_pad (e, "src");
  GstQuery *q = gst_query_new_context (GST_VV_ENGINE_CONTEXT_TYPE);
  fail_unless (gst_pad_query (src, q));
  GstContext *got = NULL;
  gst_query_parse_context (q, &got);
  fail_unless (got != NULL);
  VvModel *m = NULL;
  gst_structure_get (gst_context_get_structure (got), "model", VV_TYPE_MODEL, &m, NULL);
  fail_unless (m == model);
  vv_model_unref (m);
  gst_query_unref (q);
  gst_object_unref (src);
  gst_object_unref (e);

  const gint three[] = { 3, 3, 4 };
  g_autoptr (GArray) out = push_chunks (h, 0, three, 3, TRUE);
  assert_same_samples (out, ref, "shared model vs library");
  teardown (h, bus);
}
GST_END_TEST;

static Suite *
vvvocode_suite (void)
{
  Suite *s = suite_create ("vvvocode");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_streaming_equivalence);
  tcase_add_test (tc, test_partial_frames_across_buffers);
  tcase_add_test (tc, test_cli_equivalence);
  tcase_add_test (tc, test_discont_resets);
  tcase_add_test (tc, test_timestamps_and_events);
  tcase_add_test (tc, test_discont_follows_pts);
  tcase_add_test (tc, test_eos_without_buffers);
  tcase_add_test (tc, test_flush_restarts);
  tcase_add_test (tc, test_audio_meta_passthrough);
  tcase_add_test (tc, test_audio_meta_then_discont);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_audio_meta_bad_size);
  tcase_add_test (tc, test_gap_silence);
  tcase_add_test (tc, test_gap_streams_in_chunks);
  tcase_add_test (tc, test_gap_of_hours_stops_downstream);
  tcase_add_test (tc, test_custom_event_forwarded);
  tcase_add_test (tc, test_wrong_dim);
  tcase_add_test (tc, test_partial_frame_at_eos);
  tcase_add_test (tc, test_missing_model_folder);
  tcase_add_test (tc, test_no_model);
  tcase_add_test (tc, test_shared_model_context);
  return s;
}

GST_CHECK_MAIN (vvvocode);
