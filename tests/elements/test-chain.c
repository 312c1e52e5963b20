/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * GstHarness tests of vvdialogparse, vvdiffuse and the model sharing
 * between elements. vvdiffuse is compared with the library's session run
 * directly (same prompt, same seed): latents, decoder-reset flags (DISCONT)
 * and the attached audio must be bit-identical, timestamps exact.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <vibevoice/vibevoice.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <math.h>
#include <string.h>

#include "vv-test-util.h"

/* Layout of GstVvAudioMeta (plugins/gstvvmeta.h); the test finds the API
 * type by name once the plugin is loaded. */
typedef struct {
  GstMeta meta;
  GstBuffer *audio;
} AudioMeta;

static GstBuffer *
attached_audio (GstBuffer *buf)
{
  GType api = g_type_from_name ("GstVvAudioMetaAPI");
  fail_unless (api != 0, "the plugin did not register GstVvAudioMetaAPI");
  AudioMeta *m = (AudioMeta *) gst_buffer_get_meta (buf, api);
  return m ? m->audio : NULL;
}

static const gchar *
tiny_model (void)
{
  const gchar *m = g_getenv ("VV_TINY_MODEL");
  fail_unless (m != NULL, "VV_TINY_MODEL not set (run through meson test)");
  return m;
}

/* ---------------------------------------------------------------- dialogparse */

static GstStructure *
pull_turn (GstHarness *h)
{
  GstBuffer *b = gst_harness_pull (h);
  fail_unless (b != NULL);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  gchar *str = g_strndup ((const gchar *) map.data, map.size);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
  GstStructure *s = gst_structure_from_string (str, NULL);
  fail_unless (s != NULL, "not a structure: %s", str);
  g_free (str);
  fail_unless (gst_structure_has_name (s, "vv-turn"));
  return s;
}

/* What filesrc sends: stream-start and a BYTES segment, no caps. */
static void
start_like_filesrc (GstHarness *h)
{
  gst_harness_play (h);
  gst_harness_push_event (h, gst_event_new_stream_start ("script"));
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_BYTES);
  gst_harness_push_event (h, gst_event_new_segment (&seg));
}

static void
push_text (GstHarness *h, const gchar *text, gsize chunk)
{
  gsize len = strlen (text);
  for (gsize off = 0; off < len; off += chunk) {
    gsize n = MIN (chunk, len - off);
    GstBuffer *b = gst_buffer_new_memdup (text + off, n);
    fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  }
}

GST_START_TEST (test_dialogparse_turns)
{
  GstHarness *h = gst_harness_new ("vvdialogparse");
  /* no caps from upstream, like filesrc */
  gst_harness_set_sink_caps_str (h, "application/x-vv-turn");
  start_like_filesrc (h);
  push_text (h, "Speaker 1: Hello there,\nhow are you?\n[Emotion:Sad][pause:250ms]\n"
      "Speaker 2: Fine.\n", 3);
  /* the second turn is still open (it could get continuation lines) */
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 2);

  GstStructure *t1 = pull_turn (h), *t2 = pull_turn (h);
  fail_unless_equals_string (gst_structure_get_string (t1, "speaker"), "1");
  fail_unless_equals_string (gst_structure_get_string (t1, "text"), "Hello there, how are you?");
  fail_unless_equals_string (gst_structure_get_string (t2, "speaker"), "2");
  fail_unless_equals_string (gst_structure_get_string (t2, "emotion"), "sad");
  guint pause = 0, line = 0;
  fail_unless (gst_structure_get_uint (t2, "pause-ms", &pause));
  fail_unless (gst_structure_get_uint (t2, "line", &line));
  fail_unless_equals_int (pause, 250);
  fail_unless_equals_int (line, 4);
  gst_structure_free (t1);
  gst_structure_free (t2);

  /* events: stream-start, caps (system memory), TIME segment, EOS */
  GstEvent *ev;
  gboolean saw_caps = FALSE, saw_segment = FALSE, saw_eos = FALSE;
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps (ev, &caps);
      fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0),
              "application/x-vv-turn"));
      GstCapsFeatures *f = gst_caps_get_features (caps, 0);
      fail_if (f && gst_caps_features_contains (f, "memory:CUDAMemory"));
      saw_caps = TRUE;
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      const GstSegment *seg;
      gst_event_parse_segment (ev, &seg);
      fail_unless_equals_int (seg->format, GST_FORMAT_TIME);
      fail_unless (saw_caps);
      saw_segment = TRUE;
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      saw_eos = TRUE;
    }
    gst_event_unref (ev);
  }
  fail_unless (saw_caps && saw_segment && saw_eos);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_dialogparse_error_names_line)
{
  GstHarness *h = gst_harness_new ("vvdialogparse");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_set_sink_caps_str (h, "application/x-vv-turn");
  start_like_filesrc (h);
  GstBuffer *b = gst_buffer_new_memdup ("Speaker 1: ok\n[Volume:11] loud\n", 31);
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_ERROR);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "line 2") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "Volume") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A text stream that never ends its line: 8 MiB (the documented
 * VV_DIALOG_MAX_LINE_BYTES, 8388608) are held, one byte more is an element
 * error naming the line and the limit, instead of growing without bound. */
static void
check_too_long (const gchar *caps, const gchar *prefix, const gchar *want)
{
  GstHarness *h = gst_harness_new ("vvdialogparse");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_set_sink_caps_str (h, "application/x-vv-turn");
  if (caps != NULL)
    gst_harness_set_src_caps_str (h, caps);
  else
    start_like_filesrc (h);
  const gsize limit = 8 * 1024 * 1024, chunk = 1024 * 1024;
  gsize plen = strlen (prefix);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup (prefix, plen)),
      GST_FLOW_OK);
  guint8 *words = g_malloc (chunk);
  memset (words, 'a', chunk);
  /* only the unfinished line counts */
  const gchar *nl = strrchr (prefix, '\n');
  gsize sent = nl != NULL && caps == NULL ? plen - (gsize) (nl + 1 - prefix) : plen;
  while (sent + chunk <= limit) {
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup (words, chunk)),
        GST_FLOW_OK);
    sent += chunk;
  }
  if (sent < limit)
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup (words, limit - sent)),
        GST_FLOW_OK);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
  /* one byte past the limit */
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup (words, 1)),
      GST_FLOW_ERROR);
  g_free (words);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "8388608") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, want) != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_dialogparse_endless_line)
{
  /* the first line ends, the second never does: "line 2" */
  check_too_long (NULL, "Speaker 1: one line\nSpeaker 2: ", "line 2");
  check_too_long ("application/json", "[{\"speaker\": \"1\", \"text\": \"", "JSON");
}
GST_END_TEST;

/* An idle feed that ends without any turn: a clean EOS and a warning, not
 * an error (a live source with nothing to say). */
GST_START_TEST (test_dialogparse_empty_script)
{
  GstHarness *h = gst_harness_new ("vvdialogparse");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_set_sink_caps_str (h, "application/x-vv-turn");
  start_like_filesrc (h);
  push_text (h, "# nothing here\n\n", 4);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "EOS without text must warn");
  fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING,
      "EOS without text must not be an error");
  GError *err = NULL;
  gst_message_parse_warning (msg, &err, NULL);
  fail_unless (strstr (err->message, "no turn") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gboolean saw_eos = FALSE;
  GstEvent *ev;
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    saw_eos |= GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (saw_eos, "EOS must go downstream");
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;


/* -------------------------------------------------- timestamped text (live) */

static GstBuffer *
text_buffer (const gchar *text, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *b = gst_buffer_new_memdup (text, strlen (text));
  GST_BUFFER_PTS (b) = pts;
  GST_BUFFER_DURATION (b) = duration;
  return b;
}

static GstBuffer *
pull_turn_buffer (GstHarness *h, GstStructure **turn)
{
  GstBuffer *b = gst_harness_pull (h);
  fail_unless (b != NULL);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  gchar *str = g_strndup ((const gchar *) map.data, map.size);
  gst_buffer_unmap (b, &map);
  *turn = gst_structure_from_string (str, NULL);
  fail_unless (*turn != NULL, "not a structure: %s", str);
  g_free (str);
  return b;
}

/* One timestamped text buffer = one utterance: its turns come out at once,
 * the first with the buffer's running time and duration, the last MARKER;
 * the next buffer starts a new turn (the default speaker's if unlabelled). */
GST_START_TEST (test_dialogparse_timestamped)
{
  GstHarness *h = gst_harness_new ("vvdialogparse");
  g_object_set (h->element, "default-speaker", "2", NULL);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  gst_harness_set_sink_caps_str (h, "application/x-vv-turn");
  /* a segment starting at 10 s: stream PTS 11 s is running time 1 s */
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = 10 * GST_SECOND;
  seg.time = 10 * GST_SECOND;
  seg.position = seg.start;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("Speaker 1: Hello there",
              11 * GST_SECOND, 2 * GST_SECOND)), GST_FLOW_OK);
  /* no newline, yet the turn is out: the buffer is the utterance */
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("Speaker 1: One.\nSpeaker 3: Two\n"
              "and more.", 14 * GST_SECOND, GST_SECOND)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("no label here",
              16 * GST_SECOND, GST_CLOCK_TIME_NONE)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 4);

  struct {
    const gchar *speaker, *text;
    GstClockTime pts, dur;
    gboolean marker;
  } want[] = {
    { "1", "Hello there", GST_SECOND, 2 * GST_SECOND, TRUE },
    { "1", "One.", 4 * GST_SECOND, GST_SECOND, FALSE },
    { "3", "Two and more.", GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE },
    { "2", "no label here", 6 * GST_SECOND, GST_CLOCK_TIME_NONE, TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    GstStructure *t;
    GstBuffer *b = pull_turn_buffer (h, &t);
    fail_unless_equals_string (gst_structure_get_string (t, "speaker"), want[i].speaker);
    fail_unless_equals_string (gst_structure_get_string (t, "text"), want[i].text);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), want[i].pts);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), want[i].dur);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_MARKER) != 0,
        want[i].marker);
    gst_structure_free (t);
    gst_buffer_unref (b);
  }
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Untimed text (filesrc, fdsrc) stays chunked: no PTS, no MARKER, turns
 * complete only when the next one starts. */
GST_START_TEST (test_dialogparse_untimed_unchanged)
{
  GstHarness *h = gst_harness_new ("vvdialogparse");
  gst_harness_set_sink_caps_str (h, "application/x-vv-turn");
  start_like_filesrc (h);
  push_text (h, "Speaker 1: Hello\nthere\nSpeaker 2: Hi\n", 5);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  GstStructure *t;
  GstBuffer *b = pull_turn_buffer (h, &t);
  fail_unless_equals_string (gst_structure_get_string (t, "text"), "Hello there");
  fail_if (GST_BUFFER_PTS_IS_VALID (b));
  fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_MARKER));
  gst_structure_free (t);
  gst_buffer_unref (b);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A real subparse: two SRT cues with different speakers stay two turns
 * with their own speakers and the cues' times. */
GST_START_TEST (test_dialogparse_subparse)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("vv-srt-XXXXXX", NULL);
  g_autofree gchar *srt = g_build_filename (tmp, "cues.srt", NULL);
  const gchar *cues = "1\n00:00:00,500 --> 00:00:02,500\nSpeaker 1: Hello <i>there</i>.\n\n"
      "2\n00:00:03,000 --> 00:00:04,250\nSpeaker 2: Hi!\nHow are you?\n\n";
  fail_unless (g_file_set_contents (srt, cues, -1, NULL));
  g_autofree gchar *desc = g_strdup_printf ("filesrc location=%s ! subparse ! vvdialogparse ! "
      "appsink name=out sync=false", srt);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  fail_unless (pipe != NULL, "subparse (gst-plugins-base) is missing");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "out");
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  const gchar *speakers[] = { "1", "2" };
  const gchar *texts[] = { "Hello there.", "Hi! How are you?" };
  const GstClockTime pts[] = { 500 * GST_MSECOND, 3 * GST_SECOND };
  const GstClockTime dur[] = { 2 * GST_SECOND, 1250 * GST_MSECOND };
  for (guint i = 0; i < 2; i++) {
    GstSample *sample = NULL;
    g_signal_emit_by_name (sink, "pull-sample", &sample);
    fail_unless (sample != NULL, "cue %u: no turn", i + 1);
    GstBuffer *b = gst_sample_get_buffer (sample);
    GstMapInfo map;
    fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
    gchar *str = g_strndup ((const gchar *) map.data, map.size);
    gst_buffer_unmap (b, &map);
    GstStructure *t = gst_structure_from_string (str, NULL);
    g_free (str);
    fail_unless (t != NULL);
    fail_unless_equals_string (gst_structure_get_string (t, "speaker"), speakers[i]);
    fail_unless_equals_string (gst_structure_get_string (t, "text"), texts[i]);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), pts[i]);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), dur[i]);
    fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_MARKER));
    gst_structure_free (t);
    gst_sample_unref (sample);
  }
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND, GST_MESSAGE_EOS
      | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_unlink (srt);
  g_rmdir (tmp);
}
GST_END_TEST;

/* ---------------------------------------------------------------- vvdiffuse */

#define SCRIPT "Speaker 1: Hello there, how are you today?\nSpeaker 2: Fine, thanks.\n"

typedef struct {
  GArray *z;
  GArray *audio;
  GArray *resets;
} Ref;

static void
ref_frame (const gfloat *z, gint n, guint frame, gboolean reset, gpointer ud)
{
  Ref *r = ud;
  g_array_append_vals (r->z, z, n);
  g_array_append_val (r->resets, reset);
}

static void
ref_audio (const gfloat *s, gsize n, gpointer ud)
{
  g_array_append_vals (((Ref *) ud)->audio, s, n);
}

static VvPrompt *
make_prompt (VvModel *model, VvBackend *be)
{
  GError *error = NULL;
  g_autofree gchar *tok_dir = g_build_filename (g_getenv ("VV_DATA_DIR"), "qwen2-tokenizer",
      NULL);
  VvTokenizer *tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  fail_unless (tok != NULL);
  VvSession *s = vv_session_new (model, tok, be, &error);
  gsize lens[2] = { 6000, 9000 };
  gfloat *clips[2];
  for (guint c = 0; c < 2; c++) {
    clips[c] = g_new (gfloat, lens[c]);
    for (gsize i = 0; i < lens[c]; i++)
      clips[c][i] = 0.2f * sinf (0.05f * (c + 1) * i) + 0.05f * sinf (0.9f * i);
  }
  VvPrompt *p = vv_session_prepare (s, SCRIPT, (const gfloat *const *) clips, lens, 2, &error);
  fail_unless (p != NULL, "%s", error ? error->message : "");
  g_free (clips[0]);
  g_free (clips[1]);
  vv_session_free (s);
  vv_tokenizer_unref (tok);
  return p;
}

static GstBuffer *
prompt_buffer (VvPrompt *p)
{
  GBytes *bytes = vv_prompt_serialize (p);
  GstBuffer *b = gst_buffer_new_wrapped_bytes (bytes);
  g_bytes_unref (bytes);
  return b;
}

/* The first seed in 1..300 whose generation makes >= 3 frames with a
 * ⟨speech_end⟩ reset among them, if any (random weights). */
static guint64
find_seed (VvModel *model, VvBackend *be, VvPrompt *prompt, Ref *out)
{
  GError *error = NULL;
  VvSession *s = vv_session_new (model, NULL, be, &error);
  guint64 best = 0;
  for (guint64 seed = 1; seed <= 300; seed++) {
    Ref r = { g_array_new (FALSE, FALSE, sizeof (gfloat)),
      g_array_new (FALSE, FALSE, sizeof (gfloat)),
      g_array_new (FALSE, FALSE, sizeof (gboolean)) };
    VvSessionParams p = vv_session_default_params ();
    p.seed = seed;
    p.max_frames = 12;
    p.new_frame = ref_frame;
    p.new_frame_user_data = &r;
    p.new_audio = ref_audio;
    p.new_audio_user_data = &r;
    fail_unless (vv_session_generate_prompt (s, prompt, &p, NULL, &error));
    guint resets = 0;
    for (guint i = 1; i < r.resets->len; i++)
      resets += g_array_index (r.resets, gboolean, i);
    gboolean good = r.resets->len >= 3 && resets > 0;
    if (good || (best == 0 && r.resets->len >= 3)) {
      if (best != 0) {
        g_array_unref (out->z);
        g_array_unref (out->audio);
        g_array_unref (out->resets);
      }
      best = seed;
      *out = r;
      if (good)
        break;
    } else {
      g_array_unref (r.z);
      g_array_unref (r.audio);
      g_array_unref (r.resets);
    }
  }
  vv_session_free (s);
  return best;
}

GST_START_TEST (test_diffuse_matches_session)
{
  GError *error = NULL;
  VvModel *model = vv_model_load (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  VvBackend *be = vv_test_new_backend (0);
  VvPrompt *prompt = make_prompt (model, be);
  Ref ref = { NULL, NULL, NULL };
  guint64 seed = find_seed (model, be, prompt, &ref);
  fail_unless (seed != 0, "no seed in 1..300 makes 3 frames with this tiny model");
  guint n = ref.resets->len;

  GstHarness *h = gst_harness_new ("vvdiffuse");
  gst_harness_set_sink_caps_str (h, "application/x-vv-prompt");
  gst_harness_set_src_caps_str (h, "application/x-vv-prompt");
  gst_harness_set_sink_caps_str (h, "application/x-vv-latents, format=F32LE, dim=64, "
      "rate=24000, hop=3200");
  g_object_set (h->element, "model", tiny_model (), "seed", (gint64) seed, "max-frames", 12,
      NULL);
  gst_harness_play (h);
  fail_unless_equals_int (gst_harness_push (h, prompt_buffer (prompt)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), n);
  for (guint i = 0; i < n; i++) {
    GstBuffer *b = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b),
        gst_util_uint64_scale (i * 3200, GST_SECOND, 24000));
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b) + GST_BUFFER_DURATION (b),
        gst_util_uint64_scale ((i + 1) * 3200, GST_SECOND, 24000));
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT) != 0,
        g_array_index (ref.resets, gboolean, i) != 0);
    GstMapInfo map;
    fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
    fail_unless_equals_int (map.size, 64 * 4);
    fail_unless (memcmp (map.data, (gfloat *) ref.z->data + i * 64, 256) == 0,
        "latent %u differs from the session's", i);
    gst_buffer_unmap (b, &map);
    GstBuffer *audio = attached_audio (b);
    fail_unless (audio != NULL, "frame %u has no attached audio", i);
    fail_unless (gst_buffer_map (audio, &map, GST_MAP_READ));
    fail_unless_equals_int (map.size, 3200 * 4);
    fail_unless (memcmp (map.data, (gfloat *) ref.audio->data + i * 3200, 3200 * 4) == 0,
        "audio of frame %u differs from the session's", i);
    gst_buffer_unmap (audio, &map);
    gst_buffer_unref (b);
  }
  guint64 last = 0;
  g_object_get (h->element, "last-seed", &last, NULL);
  fail_unless_equals_uint64 (last, seed);

  /* a pause: a GAP at the current position, later frames shifted by it */
  GstEvent *pause = gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
      gst_structure_new ("vv-pause", "duration", G_TYPE_UINT64, (guint64) 250 * GST_MSECOND,
          NULL));
  fail_unless (gst_harness_push_event (h, pause));
  GstEvent *ev;
  GstEvent *gap = NULL;
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP)
      gap = ev;
    else
      gst_event_unref (ev);
  }
  fail_unless (gap != NULL, "vv-pause must become a GAP event");
  GstClockTime ts, dur;
  gst_event_parse_gap (gap, &ts, &dur);
  fail_unless_equals_uint64 (ts, gst_util_uint64_scale (n * 3200, GST_SECOND, 24000));
  fail_unless_equals_uint64 (ts + dur, gst_util_uint64_scale (n * 3200 + 6000, GST_SECOND,
          24000));
  gst_event_unref (gap);

  /* the second window uses seed + 1 and starts after the pause, DISCONT */
  g_object_set (h->element, "max-frames", 1, NULL);
  fail_unless_equals_int (gst_harness_push (h, prompt_buffer (prompt)), GST_FLOW_OK);
  if (gst_harness_buffers_in_queue (h) > 0) {
    GstBuffer *b = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b),
        gst_util_uint64_scale (n * 3200 + 6000, GST_SECOND, 24000));
    fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    gst_buffer_unref (b);
  }
  g_object_get (h->element, "last-seed", &last, NULL);
  fail_unless_equals_uint64 (last, seed + 1);

  gst_harness_teardown (h);
  g_array_unref (ref.z);
  g_array_unref (ref.audio);
  g_array_unref (ref.resets);
  vv_prompt_unref (prompt);
  vv_backend_free (be);
  vv_model_unref (model);
}
GST_END_TEST;

GST_START_TEST (test_diffuse_bad_prompt)
{
  GstHarness *h = gst_harness_new ("vvdiffuse");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "model", tiny_model (), NULL);
  gst_harness_set_src_caps_str (h, "application/x-vv-prompt");
  gst_harness_play (h);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup ("VVPRgarbage", 11)),
      GST_FLOW_ERROR);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_diffuse_cuda_refused)
{
  VvBackend *gpu = vv_backend_new_by_name ("cuda", 1, NULL);
  if (gpu != NULL) {
    /* a machine with a working GPU: nothing to refuse */
    vv_backend_free (gpu);
    return;
  }
  GstElement *e = gst_element_factory_make ("vvdiffuse", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  gst_util_set_object_arg (G_OBJECT (e), "device", "cuda");
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY),
      GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "CUDA") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}
GST_END_TEST;


/* ---------------------------------------------------------------- vvtokenize */

/* 16-bit PCM mono WAV -> floats (x / 32768), independent of GStreamer. */
static gfloat *
read_wav16 (const gchar *path, gsize *n)
{
  gchar *data = NULL;
  gsize len = 0;
  fail_unless (g_file_get_contents (path, &data, &len, NULL));
  gsize pos = 12;
  gfloat *out = NULL;
  while (pos + 8 <= len) {
    guint32 size = GUINT32_FROM_LE (*(guint32 *) (data + pos + 4));
    if (memcmp (data + pos, "data", 4) == 0) {
      *n = size / 2;
      out = g_new (gfloat, *n);
      for (gsize i = 0; i < *n; i++)
        out[i] = (gint16) GUINT16_FROM_LE (*(guint16 *) (data + pos + 8 + 2 * i)) / 32768.0f;
      break;
    }
    pos += 8 + size + (size & 1);
  }
  g_free (data);
  fail_unless (out != NULL, "%s: no data chunk", path);
  return out;
}

static GstBuffer *
turn (const gchar *speaker, const gchar *text, guint pause_ms, guint line)
{
  GstStructure *s = gst_structure_new ("vv-turn", "speaker", G_TYPE_STRING, speaker,
      "text", G_TYPE_STRING, text, "pause-ms", G_TYPE_UINT, pause_ms, "line", G_TYPE_UINT, line,
      NULL);
  gchar *str = gst_structure_to_string (s);
  gst_structure_free (s);
  return gst_buffer_new_wrapped (str, strlen (str));
}

static VvPrompt *
pull_prompt (GstHarness *h)
{
  GstBuffer *b = gst_harness_pull (h);
  fail_unless (b != NULL);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  GBytes *bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
  GError *error = NULL;
  VvPrompt *p = vv_prompt_deserialize (bytes, &error);
  fail_unless (p != NULL, "%s", error ? error->message : "");
  g_bytes_unref (bytes);
  return p;
}

/* Prompts equal the library's for the same text and voices (ids exactly;
 * voice means within float rounding of an independent WAV read); a pause
 * ends the window and comes out as a vv-pause event between the prompts. */
GST_START_TEST (test_tokenize_windows)
{
  const gchar *ex = g_getenv ("VV_EXAMPLES_DIR");
  g_autofree gchar *va = g_build_filename (ex, "voice-a.wav", NULL);
  g_autofree gchar *vb = g_build_filename (ex, "voice-b.wav", NULL);
  g_autofree gchar *voices = g_strdup_printf ("1=%s,2=%s", va, vb);

  /* properties first: the harness starts the element right away */
  GstElement *e = gst_element_factory_make ("vvtokenize", NULL);
  g_object_set (e, "model", tiny_model (), "voices", voices, NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "application/x-vv-turn");
  gst_harness_set_sink_caps_str (h, "application/x-vv-prompt");
  gst_harness_play (h);
  fail_unless_equals_int (gst_harness_push (h, turn ("1", "Hello there.", 0, 1)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, turn ("2", "Hi, how are you?", 0, 2)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  /* a pause ends the window */
  fail_unless_equals_int (gst_harness_push (h, turn ("1", "Fine.", 300, 4)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 2);

  /* the pause event sits between the two prompts: after window 1 */
  GstEvent *ev;
  gboolean saw_pause = FALSE;
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    const GstStructure *s = gst_event_get_structure (ev);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CUSTOM_DOWNSTREAM && s
        && gst_structure_has_name (s, "vv-pause")) {
      guint64 d = 0;
      fail_unless (gst_structure_get_uint64 (s, "duration", &d));
      fail_unless_equals_uint64 (d, 300 * GST_MSECOND);
      saw_pause = TRUE;
    }
    gst_event_unref (ev);
  }
  fail_unless (saw_pause);

  VvPrompt *p1 = pull_prompt (h), *p2 = pull_prompt (h);
  /* the library on the same windows */
  GError *error = NULL;
  VvModel *model = vv_model_load (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  VvBackend *be = vv_test_new_backend (0);
  g_autofree gchar *tok_dir = g_build_filename (g_getenv ("VV_DATA_DIR"), "qwen2-tokenizer",
      NULL);
  VvTokenizer *tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  VvSession *s = vv_session_new (model, tok, be, &error);
  gsize la, lb;
  gfloat *a = read_wav16 (va, &la), *b = read_wav16 (vb, &lb);
  const gfloat *clips[2] = { a, b };
  gsize lens[2] = { la, lb };
  VvPrompt *r1 = vv_session_prepare (s, "Speaker 1: Hello there.\nSpeaker 2: Hi, how are you?\n",
      clips, lens, 2, &error);
  VvPrompt *r2 = vv_session_prepare (s, "Speaker 1: Fine.\n", clips, lens, 1, &error);
  fail_unless (r1 && r2);
  VvPrompt *pairs[2][2] = { { p1, r1 }, { p2, r2 } };
  for (guint k = 0; k < 2; k++) {
    gsize n_ours, n_ref;
    const gint32 *ours = vv_prompt_get_ids (pairs[k][0], &n_ours);
    const gint32 *want = vv_prompt_get_ids (pairs[k][1], &n_ref);
    fail_unless_equals_int (n_ours, n_ref);
    fail_unless (memcmp (ours, want, n_ours * 4) == 0, "window %u: token ids differ", k);
    guint nv = vv_prompt_get_n_voices (pairs[k][1]);
    fail_unless_equals_int (vv_prompt_get_n_voices (pairs[k][0]), nv);
    for (guint v = 0; v < nv; v++) {
      gsize nf = vv_prompt_get_voice_frames (pairs[k][1], v);
      fail_unless_equals_int (vv_prompt_get_voice_frames (pairs[k][0], v), nf);
      fail_unless_equals_int (nf, (36000 + 3199) / 3200);
      const gfloat *x = vv_prompt_get_voice_means (pairs[k][0], v);
      const gfloat *y = vv_prompt_get_voice_means (pairs[k][1], v);
      gdouble err = 0, mx = 0;
      for (gsize i = 0; i < nf * 64; i++) {
        err = MAX (err, fabs (x[i] - y[i]));
        mx = MAX (mx, fabs (y[i]));
      }
      /* same samples (S16 -> F32 is exact both ways) and the same encoder */
      fail_unless (err <= 1e-6 * (1 + mx), "window %u voice %u: max err %g", k, v, err);
    }
  }
  vv_prompt_unref (p1);
  vv_prompt_unref (p2);
  vv_prompt_unref (r1);
  vv_prompt_unref (r2);
  g_free (a);
  g_free (b);
  vv_session_free (s);
  vv_tokenizer_unref (tok);
  vv_backend_free (be);
  vv_model_unref (model);
  gst_harness_teardown (h);
}
GST_END_TEST;


/* A script longer than a third of the context is generated in several
 * windows, each within the budget (a copy of the tiny model whose config
 * allows 600 positions: budget 200 tokens). */
GST_START_TEST (test_tokenize_context_windows)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("vv-ctx-XXXXXX", NULL);
  g_autofree gchar *src_cfg = g_build_filename (tiny_model (), "config.json", NULL);
  gchar *cfg = NULL;
  fail_unless (g_file_get_contents (src_cfg, &cfg, NULL, NULL));
  GRegex *re = g_regex_new ("\"max_position_embeddings\"\\s*:\\s*\\d+", 0, 0, NULL);
  gchar *small = g_regex_replace_literal (re, cfg, -1, 0, "\"max_position_embeddings\": 600",
      0, NULL);
  g_regex_unref (re);
  fail_unless (strcmp (small, cfg) != 0, "config.json has no max_position_embeddings");
  g_autofree gchar *dst_cfg = g_build_filename (tmp, "config.json", NULL);
  fail_unless (g_file_set_contents (dst_cfg, small, -1, NULL));
  g_free (cfg);
  g_free (small);


  GDir *dir = g_dir_open (tiny_model (), 0, NULL);
  const gchar *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    if (strcmp (name, "config.json") == 0)
      continue;
    g_autofree gchar *from = g_build_filename (tiny_model (), name, NULL);
    g_autofree gchar *abs = g_canonicalize_filename (from, NULL);
    g_autofree gchar *to = g_build_filename (tmp, name, NULL);
    fail_unless (symlink (abs, to) == 0);
  }
  g_dir_close (dir);


  const gchar *ex = g_getenv ("VV_EXAMPLES_DIR");
  g_autofree gchar *voices = g_strdup_printf ("1=%s/voice-a.wav,2=%s/voice-b.wav", ex, ex);
  GstElement *e = gst_element_factory_make ("vvtokenize", NULL);
  g_object_set (e, "model", tmp, "voices", voices, NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "application/x-vv-turn");
  gst_harness_set_sink_caps_str (h, "application/x-vv-prompt");
  gst_harness_play (h);
  for (guint i = 0; i < 30; i++) {
    g_autofree gchar *text = g_strdup_printf ("This is sentence number %u of a long talk.", i);
    fail_unless_equals_int (gst_harness_push (h, turn (i % 2 ? "2" : "1", text, 0, i + 1)),
        GST_FLOW_OK);
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  guint windows = gst_harness_buffers_in_queue (h);
  fail_unless (windows >= 2, "30 turns must not fit one 200-token window (%u)", windows);
  guint turns_seen = 0;
  for (guint w = 0; w < windows; w++) {
    VvPrompt *p = pull_prompt (h);
    gsize n;
    const gint32 *ids = vv_prompt_get_ids (p, &n);
    fail_unless (n <= 200, "window %u has %" G_GSIZE_FORMAT " tokens > 200", w, n);
    /* count the turns in the window: each text has the word "sentence" */
    g_autofree gchar *tok_dir = g_build_filename (g_getenv ("VV_DATA_DIR"), "qwen2-tokenizer",
        NULL);
    VvTokenizer *tok = vv_tokenizer_new_from_dir (tok_dir, NULL);
    gchar *text = vv_tokenizer_decode (tok, ids, n, NULL);
    for (const gchar *q = text; (q = strstr (q, "sentence number")) != NULL; q++)
      turns_seen++;
    g_free (text);
    vv_tokenizer_unref (tok);
    vv_prompt_unref (p);
  }
  fail_unless_equals_int (turns_seen, 30);
  gst_harness_teardown (h);

  dir = g_dir_open (tmp, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    g_unlink (path);
  }
  g_dir_close (dir);
  g_rmdir (tmp);
}
GST_END_TEST;

/* The voices property's three forms (flat with \\ escapes, a GstStructure,
 * an array) read files whose names hold , ; and =: the same prompt as the
 * plain spec of copies with ordinary names. */
static GBytes *
prompt_bytes_for_voices (const gchar *voices)
{
  GstElement *e = gst_element_factory_make ("vvtokenize", NULL);
  g_object_set (e, "model", tiny_model (), "voices", voices, NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "application/x-vv-turn");
  gst_harness_set_sink_caps_str (h, "application/x-vv-prompt");
  gst_harness_play (h);
  fail_unless_equals_int (gst_harness_push (h, turn ("1", "Hello there.", 0, 1)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, turn ("2", "Hi.", 0, 2)), GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());
  GstBuffer *b = gst_harness_pull (h);
  fail_unless (b != NULL, "no prompt for voices=%s", voices);
  GstMapInfo map;
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  GBytes *bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
  gst_harness_teardown (h);
  return bytes;
}

GST_START_TEST (test_tokenize_voices_escaping)
{
  const gchar *ex = g_getenv ("VV_EXAMPLES_DIR");
  g_autofree gchar *va = g_build_filename (ex, "voice-a.wav", NULL);
  g_autofree gchar *vb = g_build_filename (ex, "voice-b.wav", NULL);
  g_autofree gchar *tmp = g_dir_make_tmp ("vv-voices-XXXXXX", NULL);
  fail_unless (tmp != NULL);
  g_autofree gchar *na = g_build_filename (tmp, "a,b;c=d.wav", NULL);
  g_autofree gchar *nb = g_build_filename (tmp, "e=f.wav", NULL);
  const gchar *pairs[2][2] = { { va, na }, { vb, nb } };
  for (guint i = 0; i < 2; i++) {
    gchar *data = NULL;
    gsize len = 0;
    fail_unless (g_file_get_contents (pairs[i][0], &data, &len, NULL));
    fail_unless (g_file_set_contents (pairs[i][1], data, (gssize) len, NULL));
    g_free (data);
  }
  g_autofree gchar *plain = g_strdup_printf ("1=%s,2=%s", va, vb);
  g_autofree gchar *ea = vv_voices_escape (na), *eb = vv_voices_escape (nb);
  g_autofree gchar *flat = g_strdup_printf ("1=%s;speaker_2=%s", ea, eb);
  /* a bare path with '=' is positional once escaped */
  g_autofree gchar *positional = g_strdup_printf ("%s,%s", ea, eb);
  g_autofree gchar *structure = g_strdup_printf ("voices, speaker_1=\"%s\", speaker_2=(string)\"%s\"",
      na, nb);
  g_autofree gchar *array = g_strdup_printf ("<\"%s\", \"%s\">", na, nb);
  GBytes *want = prompt_bytes_for_voices (plain);
  const gchar *forms[] = { flat, positional, structure, array };
  for (guint i = 0; i < G_N_ELEMENTS (forms); i++) {
    GBytes *got = prompt_bytes_for_voices (forms[i]);
    fail_unless (g_bytes_equal (got, want), "voices=%s: a different prompt", forms[i]);
    g_bytes_unref (got);
  }
  g_bytes_unref (want);
  g_unlink (na);
  g_unlink (nb);
  g_rmdir (tmp);
}
GST_END_TEST;

GST_START_TEST (test_tokenize_missing_voice_named)
{
  GstElement *e = gst_element_factory_make ("vvtokenize", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", tiny_model (), "voices", "1=/nonexistent/voice-x.wav", NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY),
      GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "/nonexistent/voice-x.wav") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}
GST_END_TEST;


/* ------------------------------------------------- timing of timestamped text */

GST_START_TEST (test_tokenize_timestamped)
{
  const gchar *ex = g_getenv ("VV_EXAMPLES_DIR");
  g_autofree gchar *voices = g_strdup_printf ("1=%s/voice-a.wav,2=%s/voice-b.wav", ex, ex);
  GstElement *e = gst_element_factory_make ("vvtokenize", NULL);
  g_object_set (e, "model", tiny_model (), "voices", voices, NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "application/x-vv-turn");
  gst_harness_set_sink_caps_str (h, "application/x-vv-prompt");
  gst_harness_play (h);
  /* an utterance of one turn: out at once, with its text's timing */
  GstBuffer *b = turn ("1", "Hello there.", 0, 1);
  GST_BUFFER_PTS (b) = GST_SECOND;
  GST_BUFFER_DURATION (b) = 2 * GST_SECOND;
  GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_MARKER);
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  GstBuffer *out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), 2 * GST_SECOND);
  gst_buffer_unref (out);
  /* an utterance of two turns (two speakers): one window at the first's time */
  b = turn ("2", "Hi.", 0, 2);
  GST_BUFFER_PTS (b) = 4 * GST_SECOND;
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  b = turn ("1", "Fine.", 0, 3);
  GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_MARKER);
  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 4 * GST_SECOND);
  GstMapInfo map;
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  GBytes *bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  VvPrompt *p = vv_prompt_deserialize (bytes, NULL);
  g_bytes_unref (bytes);
  fail_unless (p != NULL);
  fail_unless_equals_int (vv_prompt_get_n_voices (p), 2);
  vv_prompt_unref (p);
  /* untimed turns: windows as before, no timestamps */
  fail_unless_equals_int (gst_harness_push (h, turn ("1", "Later.", 0, 4)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  out = gst_harness_pull (h);
  fail_if (GST_BUFFER_PTS_IS_VALID (out));
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

static guint
count_frames (VvModel *model, VvBackend *be, VvPrompt *prompt, guint64 seed, guint max)
{
  GError *error = NULL;
  VvSession *s = vv_session_new (model, NULL, be, &error);
  VvSessionParams p = vv_session_default_params ();
  p.seed = seed;
  p.max_frames = max;
  VvSessionResult res;
  fail_unless (vv_session_generate_prompt (s, prompt, &p, &res, &error));
  vv_session_free (s);
  return res.n_frames;
}

static GstBuffer *
timed_prompt (VvPrompt *p, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *b = prompt_buffer (p);
  GST_BUFFER_PTS (b) = pts;
  GST_BUFFER_DURATION (b) = duration;
  return b;
}

static GstClockTime
at (guint64 samples)
{
  return gst_util_uint64_scale (samples, GST_SECOND, 24000);
}

/* Pulls the @n frames of one utterance: the first is DISCONT at sample
 * @start, the others follow without a hole. */
static void
expect_frames (GstHarness *h, guint n, guint64 start)
{
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), n);
  for (guint i = 0; i < n; i++) {
    GstBuffer *b = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), at (start + i * 3200));
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), at (start + (i + 1) * 3200)
        - at (start + i * 3200));
    if (i == 0)
      fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    gst_buffer_unref (b);
  }
}

static const GstStructure *
pop_utterance (GstBus *bus, GstMessage **msg)
{
  while ((*msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    const GstStructure *s = gst_message_get_structure (*msg);
    if (gst_structure_has_name (s, "vv-utterance"))
      return s;
    gst_message_unref (*msg);
  }
  fail ("no vv-utterance message");
  return NULL;
}

static gboolean
has_gap (GstHarness *h)
{
  gboolean gap = FALSE;
  GstEvent *ev;
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    gap |= GST_EVENT_TYPE (ev) == GST_EVENT_GAP;
    gst_event_unref (ev);
  }
  return gap;
}

/* Timed prompts on a live upstream (the harness answers live latency
 * queries; its test clock gives the running time): the audio starts at
 * the text's time; overflow shift/overlap; clip to the text's duration;
 * a first frame later than text time + latency moves by the lateness, with a
 * warning; the LATENCY query adds the latency property. */
GST_START_TEST (test_diffuse_timing)
{
  GError *error = NULL;
  VvModel *model = vv_model_load (tiny_model (), VV_MODEL_LOAD_DEFAULT, &error);
  VvBackend *be = vv_test_new_backend (0);
  VvPrompt *prompt = make_prompt (model, be);
  /* a seed that makes at least 2 frames (so clipping to 1 shows); window k
   * uses seed property + k, so each push sets the property to seed - k */
  guint64 seed = 0;
  guint n[4] = { 0 };
  for (guint64 s = 4; s <= 300 && seed == 0; s++)
    if ((n[0] = count_frames (model, be, prompt, s, 6)) >= 2)
      seed = s;
  fail_unless (seed != 0, "no seed in 4..300 makes 2 frames with this tiny model");
  n[1] = n[2] = n[3] = n[0];

  GstHarness *h = gst_harness_new ("vvdiffuse");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "application/x-vv-prompt");
  gst_harness_set_sink_caps_str (h, "application/x-vv-latents, format=F32LE, dim=64, "
      "rate=24000, hop=3200");
  g_object_set (h->element, "model", tiny_model (), "seed", (gint64) seed, "max-frames", 6,
      "latency", 1000, NULL);
  gst_harness_set_upstream_latency (h, 50 * GST_MSECOND);
  gst_harness_play (h);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 1050 * GST_MSECOND);

  /* 1: on time (the clock stands at 0): audio at the text's 2 s, no silence
   * for the past in a live stream */
  fail_unless_equals_int (gst_harness_push (h, timed_prompt (prompt, 2 * GST_SECOND,
              GST_CLOCK_TIME_NONE)), GST_FLOW_OK);
  fail_if (has_gap (h), "live: no GAP up to the text");
  expect_frames (h, n[0], 48000);
  GstMessage *msg;
  const GstStructure *u = pop_utterance (bus, &msg);
  guint64 v;
  fail_unless (gst_structure_get_uint64 (u, "input-pts", &v));
  fail_unless_equals_uint64 (v, 2 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (u, "pts", &v));
  fail_unless_equals_uint64 (v, 2 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (u, "duration", &v));
  fail_unless_equals_uint64 (v, at (n[0] * 3200));
  fail_unless (gst_structure_get_uint64 (u, "late", &v));
  fail_unless_equals_uint64 (v, 0);
  gdouble rtf = -1;
  fail_unless (gst_structure_get_double (u, "real-time-factor", &rtf) && rtf > 0);
  /* what the utterance cost: CPU time > 0; energy < 0 unless the machine
   * has RAPL counters */
  gdouble cpu = -1, joules = 0;
  fail_unless (gst_structure_get_double (u, "cpu-seconds", &cpu) && cpu > 0);
  fail_unless (gst_structure_get_double (u, "energy-joules", &joules));
  fail_unless (joules < 0 || g_file_test ("/sys/class/powercap/intel-rapl:0/energy_uj",
          G_FILE_TEST_EXISTS));
  gst_message_unref (msg);
  guint64 end0 = 48000 + n[0] * 3200;

  /* 2: shift: a text at 2 s while the first still speaks starts after it */
  gst_util_set_object_arg (G_OBJECT (h->element), "overflow", "shift");
  g_object_set (h->element, "seed", (gint64) seed - 1, NULL);
  fail_unless_equals_int (gst_harness_push (h, timed_prompt (prompt, 2 * GST_SECOND,
              GST_CLOCK_TIME_NONE)), GST_FLOW_OK);
  expect_frames (h, n[1], end0);
  pop_utterance (bus, &msg);
  gst_message_unref (msg);

  /* 3: overlap: it starts at its own time */
  gst_util_set_object_arg (G_OBJECT (h->element), "overflow", "overlap");
  g_object_set (h->element, "seed", (gint64) seed - 2, NULL);
  fail_unless_equals_int (gst_harness_push (h, timed_prompt (prompt, 2 * GST_SECOND,
              GST_CLOCK_TIME_NONE)), GST_FLOW_OK);
  expect_frames (h, n[2], 48000);
  pop_utterance (bus, &msg);
  gst_message_unref (msg);

  /* 4: clip to 1.5 frames -> 1 frame; the clock at 12 s is past the text's
   * 10 s + 50 ms + 1000 ms: the utterance moves by 950 ms, with a warning */
  gst_util_set_object_arg (G_OBJECT (h->element), "overflow", "clip");
  g_object_set (h->element, "seed", (gint64) seed - 3, NULL);
  gst_harness_set_time (h, 12 * GST_SECOND);
  fail_unless_equals_int (gst_harness_push (h, timed_prompt (prompt, 10 * GST_SECOND,
              at (4800))), GST_FLOW_OK);
  expect_frames (h, 1, 240000 + 22800);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "a late utterance must warn");
  GError *err = NULL;
  gst_message_parse_warning (msg, &err, NULL);
  fail_unless (strstr (err->message, "raise the latency property") != NULL, "%s",
      err->message);
  g_error_free (err);
  gst_message_unref (msg);
  u = pop_utterance (bus, &msg);
  fail_unless (gst_structure_get_uint64 (u, "late", &v));
  fail_unless_equals_uint64 (v, 950 * GST_MSECOND);
  gboolean clipped = FALSE;
  fail_unless (gst_structure_get_boolean (u, "clipped", &clipped) && clipped);
  gst_message_unref (msg);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  vv_prompt_unref (prompt);
  vv_backend_free (be);
  vv_model_unref (model);
}
GST_END_TEST;

/* ---------------------------------------------------------------- sharing */

static VvModel *
context_model (GstElement *e)
{
  GstPad *pad = gst_element_get_static_pad (e, "src");
  GstQuery *q = gst_query_new_context ("vv.engine");
  VvModel *m = NULL;
  if (gst_pad_query (pad, q)) {
    GstContext *ctx = NULL;
    gst_query_parse_context (q, &ctx);
    gst_structure_get (gst_context_get_structure (ctx), "model", VV_TYPE_MODEL, &m, NULL);
  }
  gst_query_unref (q);
  gst_object_unref (pad);
  return m;
}

GST_START_TEST (test_one_model_per_process)
{
  g_autofree gchar *tmp = g_dir_make_tmp ("vv-share-XXXXXX", NULL);
  g_autofree gchar *link = g_build_filename (tmp, "same-model", NULL);
  g_autofree gchar *target = g_canonicalize_filename (tiny_model (), NULL);
  fail_unless (symlink (target, link) == 0);

  GstElement *a = gst_element_factory_make ("vvtokenize", NULL);
  GstElement *b = gst_element_factory_make ("vvtokenize", NULL);
  g_object_set (a, "model", tiny_model (), NULL);
  g_object_set (b, "model", link, NULL);
  fail_unless_equals_int (gst_element_set_state (a, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (b, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  VvModel *ma = context_model (a), *mb = context_model (b);
  fail_unless (ma != NULL && mb != NULL, "vvtokenize must answer vv.engine context queries");
  fail_unless (ma == mb, "two pipelines naming the same folder must share one model");
  vv_model_unref (ma);
  vv_model_unref (mb);

  /* a vvdiffuse without model= linked after vvtokenize finds its model */
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *tok = gst_element_factory_make ("vvtokenize", NULL);
  GstElement *dif = gst_element_factory_make ("vvdiffuse", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  g_object_set (tok, "model", tiny_model (), NULL);
  gst_bin_add_many (GST_BIN (pipe), tok, dif, sink, NULL);
  fail_unless (gst_element_link_many (tok, dif, sink, NULL));
  fail_unless (gst_element_set_state (pipe, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS);
  GstPad *dsink = gst_element_get_static_pad (dif, "sink");
  GstQuery *q = gst_query_new_context ("vv.engine");
  fail_unless (gst_pad_peer_query (dsink, q), "vvtokenize must answer through the link");
  gst_query_unref (q);
  gst_object_unref (dsink);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);

  gst_element_set_state (a, GST_STATE_NULL);
  gst_element_set_state (b, GST_STATE_NULL);
  gst_object_unref (a);
  gst_object_unref (b);
  g_unlink (link);
  g_rmdir (tmp);
}
GST_END_TEST;

static Suite *
chain_suite (void)
{
  Suite *s = suite_create ("vvchain");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_dialogparse_turns);
  tcase_add_test (tc, test_dialogparse_error_names_line);
  tcase_add_test (tc, test_dialogparse_empty_script);
  tcase_add_test (tc, test_dialogparse_endless_line);
  tcase_add_test (tc, test_dialogparse_timestamped);
  tcase_add_test (tc, test_dialogparse_untimed_unchanged);
  tcase_add_test (tc, test_dialogparse_subparse);
  tcase_add_test (tc, test_tokenize_timestamped);
  tcase_add_test (tc, test_diffuse_timing);
  tcase_add_test (tc, test_diffuse_matches_session);
  tcase_add_test (tc, test_diffuse_bad_prompt);
  tcase_add_test (tc, test_diffuse_cuda_refused);
  tcase_add_test (tc, test_one_model_per_process);
  tcase_add_test (tc, test_tokenize_windows);
  tcase_add_test (tc, test_tokenize_missing_voice_named);
  tcase_add_test (tc, test_tokenize_voices_escaping);
  tcase_add_test (tc, test_tokenize_context_windows);
  return s;
}

GST_CHECK_MAIN (chain);
