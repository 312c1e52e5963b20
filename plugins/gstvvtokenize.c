/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vvtokenize
 * @title: vvtokenize
 *
 * Groups dialogue turns (from vvdialogparse) into utterance windows and
 * turns each window into a generation prompt: Qwen2.5 token ids in the
 * VibeVoice template plus the acoustic-encoder latents of each speaker's
 * voice clip. Voice files are decoded with GStreamer (any format decodebin
 * reads; converted to 24 kHz mono) and encoded once, then cached.
 *
 * A window ends at a pause (the pause becomes a `vv-pause` event after it),
 * when a speaker's voice changes (an emotion variant), after `max-turns`
 * turns, when the prompt would exceed a third of the model's context (so the
 * reference's 2·L generation limit fits), and at EOS.
 *
 * Speakers are numbered per window as the reference does for `Speaker N`
 * scripts: numeric labels in ascending order, then names in order of first
 * appearance.
 *
 * Timestamped turns (from timestamped text: subparse, appsrc): a turn with a
 * PTS starts a new window and the turn flagged MARKER (the end of its text
 * buffer) ends it, so each text buffer is generated as soon as it arrives.
 * The prompt buffer carries the PTS and duration of its text.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=script.txt ! vvdialogparse ! \
 *     vvtokenize model=/models/VibeVoice-1.5B voices="1=alice.wav,2=bob.flac" ! \
 *     vvdiffuse seed=1 ! vvvocode ! audioconvert ! wavenc ! filesink location=out.wav
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"
#include "gstvvcaps.h"
#include "gstvvengine.h"

#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <stdlib.h>
#include <string.h>
#include "vv-build-config.h"

GST_DEBUG_CATEGORY_STATIC (gst_vv_tokenize_debug);
#define GST_CAT_DEFAULT gst_vv_tokenize_debug

#define GST_TYPE_VV_TOKENIZE (gst_vv_tokenize_get_type ())
G_DECLARE_FINAL_TYPE (GstVvTokenize, gst_vv_tokenize, GST, VV_TOKENIZE, GstElement)

/* A decoded voice file; its encodings are made on first use. */
typedef struct {
  gchar *path;
  gfloat *audio;
  gsize n_samples;
  gsize n_frames;
  gfloat *means_own;   /* encoded at its own length (the longest clip of a window) */
  gfloat *means_pad;   /* zero-padded to whole frames (a shorter clip of a window) */
} Voice;

struct _GstVvTokenize {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* properties (object lock) */
  gchar *model_dir;
  gchar *tokenizer_dir;
  gchar *voices;
  guint max_turns;
  gint n_threads;
  GstVvDevice device;

  /* READY and up */
  VvModel *model;
  VvTokenizer *tok;
  VvEngine *engine;             /* the pipeline's; be is its backend */
  VvBackend *be;
  VvVoicePrompt *vp;
  GHashTable *voice_files;     /* path -> Voice* (owned) */
  GHashTable *voice_map;       /* "label" / "label:emotion" -> Voice* */
  GPtrArray *positional;       /* Voice*, for entries without a label */
  gsize context_budget;

  /* streaming */
  GPtrArray *window;           /* GstStructure* turns */
  GHashTable *window_voice;    /* label -> Voice* */
  gsize window_tokens;
  GstClockTime window_pts;      /* running time of the window's text, if timestamped */
  GstClockTime window_duration;
  GPtrArray *speaker_order;    /* labels by first appearance (positional voices) */
  GHashTable *warned;
  gboolean need_segment;
  guint32 seqnum;
  guint windows_out;
};

enum {
  PROP_0,
  PROP_MODEL,
  PROP_TOKENIZER,
  PROP_VOICES,
  PROP_MAX_TURNS,
  PROP_THREADS,
  PROP_DEVICE,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VV_TURN_MEDIA_TYPE "(" GST_VV_CAPS_FEATURE_CUDA "); "
        GST_VV_TURN_MEDIA_TYPE));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VV_PROMPT_MEDIA_TYPE "(" GST_VV_CAPS_FEATURE_CUDA "); "
        GST_VV_PROMPT_MEDIA_TYPE));

G_DEFINE_TYPE (GstVvTokenize, gst_vv_tokenize, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvtokenize, "vvtokenize", GST_RANK_NONE, GST_TYPE_VV_TOKENIZE);

static void
voice_free (gpointer p)
{
  Voice *v = p;
  g_free (v->path);
  g_free (v->audio);
  g_free (v->means_own);
  g_free (v->means_pad);
  g_free (v);
}

static gboolean
label_is_number (const gchar *label, gint64 *value)
{
  if (*label == '\0')
    return FALSE;
  for (const gchar *c = label; *c; c++)
    if (!g_ascii_isdigit (*c))
      return FALSE;
  *value = g_ascii_strtoll (label, NULL, 10);
  return TRUE;
}

/* Decodes any audio file GStreamer reads to F32 at its own rate and
 * channels, then vv_audio_to_model_rate() mixes and resamples it exactly as
 * the tool (and the reference's librosa/soxr) does. */
static gboolean
decode_voice (const gchar *path, gint rate, gfloat **audio, gsize *n, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "voice file %s does not exist", path);
    return FALSE;
  }
  const gchar *desc = "filesrc name=src ! decodebin ! audioconvert ! "
      "audio/x-raw,format=F32LE,layout=interleaved ! appsink name=sink sync=false";
  GError *perr = NULL;
  GstElement *pipe = gst_parse_launch (desc, &perr);
  if (pipe == NULL || perr != NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "cannot build the decoder for voice file %s: %s", path,
        perr ? perr->message : "unknown error");
    g_clear_error (&perr);
    if (pipe)
      gst_object_unref (pipe);
    return FALSE;
  }
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_object_set (src, "location", path, NULL);
  GArray *samples = g_array_new (FALSE, FALSE, sizeof (gfloat));
  gint in_rate = 0, channels = 0;
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  /* Pull until EOS; an error never brings EOS, so watch the bus too. */
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = NULL;
  gboolean ok = TRUE, too_long = FALSE, changed = FALSE;
  for (;;) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 50 * GST_MSECOND);
    if (sample != NULL) {
      GstAudioInfo info;
      GstCaps *caps = gst_sample_get_caps (sample);
      if (caps == NULL || !gst_audio_info_from_caps (&info, caps)) {
        gst_sample_unref (sample);
        continue;
      }
      /* one rate and layout per clip: a file that changes them midway
       * is not a voice sample */
      if (in_rate != 0 && (in_rate != GST_AUDIO_INFO_RATE (&info)
              || channels != GST_AUDIO_INFO_CHANNELS (&info))) {
        changed = TRUE;
        gst_sample_unref (sample);
        break;
      }
      in_rate = GST_AUDIO_INFO_RATE (&info);
      channels = GST_AUDIO_INFO_CHANNELS (&info);
      GstBuffer *buf = gst_sample_get_buffer (sample);
      GstMapInfo map;
      if (buf && gst_buffer_map (buf, &map, GST_MAP_READ)) {
        g_array_append_vals (samples, map.data, map.size / sizeof (gfloat));
        gst_buffer_unmap (buf, &map);
      }
      gst_sample_unref (sample);
      /* stop decoding at the engine's limit (at the model's rate) rather
       * than after the file */
      if ((gdouble) (samples->len / channels) * rate / in_rate > VV_VOICE_MAX_SAMPLES) {
        too_long = TRUE;
        break;
      }
      continue;
    }
    if (gst_app_sink_is_eos (GST_APP_SINK (sink)))
      break;
    if ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR)) != NULL)
      break;
  }
  if (msg != NULL) {
    GError *gerr = NULL;
    gst_message_parse_error (msg, &gerr, NULL);
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "voice file %s could not be decoded: %s", path, gerr ? gerr->message : "error");
    g_clear_error (&gerr);
    gst_message_unref (msg);
    ok = FALSE;
  } else if (too_long) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "voice file %s is longer than the %d s a voice sample may last", path,
        VV_VOICE_MAX_SAMPLES / 24000);
    ok = FALSE;
  } else if (changed) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "voice file %s changes its rate or channels midway", path);
    ok = FALSE;
  } else if (samples->len == 0 || channels == 0) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "voice file %s holds no audio", path);
    ok = FALSE;
  }
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  if (ok) {
    GError *rerr = NULL;
    *audio = vv_audio_to_model_rate ((const gfloat *) samples->data, samples->len / channels,
        channels, in_rate, rate, n, &rerr);
    if (*audio == NULL) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE, "voice file %s: %s",
          path, rerr->message);
      g_error_free (rerr);
      ok = FALSE;
    }
  }
  g_array_unref (samples);
  return ok;
}

static Voice *
get_voice_file (GstVvTokenize *self, const gchar *path, GError **error)
{
  Voice *v = g_hash_table_lookup (self->voice_files, path);
  if (v)
    return v;
  const VvConfig *cfg = vv_model_get_config (self->model);
  gint rate = cfg->sampling_rate > 0 ? cfg->sampling_rate : 24000;
  v = g_new0 (Voice, 1);
  v->path = g_strdup (path);
  if (!decode_voice (path, rate, &v->audio, &v->n_samples, error)) {
    voice_free (v);
    return NULL;
  }
  v->n_frames = vv_voice_prompt_count_frames (self->vp, v->n_samples);
  GST_INFO_OBJECT (self, "voice %s: %" G_GSIZE_FORMAT " samples, %" G_GSIZE_FORMAT " frames",
      path, v->n_samples, v->n_frames);
  g_hash_table_insert (self->voice_files, v->path, v);
  return v;
}

/* The voices property in one of its three forms (docs/ELEMENTS.md):
 * `<"a.wav", "b,c.wav">` (a GstValueArray: positional files), `voices,
 * speaker_1=a.wav, alice:happy="x;y.wav"` (a GstStructure named voices:
 * field name = label), or the flat `1=a.wav,2=b.wav` with `\` escapes. The
 * first two use GStreamer's own quoting, so any file name can be written. */
static gboolean
parse_voices_spec (const gchar *spec, GPtrArray **entries, GError **error)
{
  g_autofree gchar *trimmed = g_strstrip (g_strdup (spec ? spec : ""));
  if (trimmed[0] == '<') {
    *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_voice_entry_free);
    g_auto (GValue) arr = G_VALUE_INIT;
    g_value_init (&arr, GST_TYPE_ARRAY);
    if (!gst_value_deserialize (&arr, trimmed)) {
      g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
          "voices: \"%s\" is not an array of file names (<\"a.wav\", \"b.wav\">)", trimmed);
      return FALSE;
    }
    for (guint i = 0; i < gst_value_array_get_size (&arr); i++) {
      const GValue *v = gst_value_array_get_value (&arr, i);
      if (!G_VALUE_HOLDS_STRING (v) || g_value_get_string (v) == NULL) {
        g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
            "voices: array element %u is not a file name (a string)", i + 1);
        return FALSE;
      }
      VvVoiceEntry *e = vv_voice_entry_new (NULL, g_value_get_string (v), i + 1, error);
      if (e == NULL)
        return FALSE;
      g_ptr_array_add (*entries, e);
    }
    return TRUE;
  }
  if (g_str_has_prefix (trimmed, "voices") && (trimmed[6] == ',' || trimmed[6] == '\0'
          || g_ascii_isspace (trimmed[6]))) {
    *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_voice_entry_free);
    g_autoptr (GstStructure) st = gst_structure_from_string (trimmed, NULL);
    if (st == NULL) {
      g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
          "voices: \"%s\" is not a GstStructure (voices, speaker_1=a.wav, "
          "alice:happy=\"b,c.wav\")", trimmed);
      return FALSE;
    }
    for (gint i = 0; i < gst_structure_n_fields (st); i++) {
      const gchar *name = gst_structure_nth_field_name (st, (guint) i);
      const GValue *v = gst_structure_get_value (st, name);
      if (!G_VALUE_HOLDS_STRING (v) || g_value_get_string (v) == NULL) {
        g_set_error (error, VV_VOICES_ERROR, VV_VOICES_ERROR_SYNTAX,
            "voices: field %s is not a file name (a string)", name);
        return FALSE;
      }
      VvVoiceEntry *e = vv_voice_entry_new (name, g_value_get_string (v), (guint) i + 1, error);
      if (e == NULL)
        return FALSE;
      g_ptr_array_add (*entries, e);
    }
    return TRUE;
  }
  return vv_voices_parse (spec, entries, error);
}

/* The voices property: opens each entry's file in order, so a missing file
 * before a malformed entry is the error reported, as the user reads it. */
static gboolean
parse_voices (GstVvTokenize *self, const gchar *spec, GError **error)
{
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) syntax = NULL;
  gboolean ok = parse_voices_spec (spec, &entries, &syntax);
  for (guint i = 0; i < entries->len; i++) {
    VvVoiceEntry *e = g_ptr_array_index (entries, i);
    Voice *v = get_voice_file (self, e->path, error);
    if (v == NULL)
      return FALSE;
    if (e->key)
      g_hash_table_replace (self->voice_map, g_steal_pointer (&e->key), v);
    else
      g_ptr_array_add (self->positional, v);
  }
  if (!ok) {
    g_propagate_error (error, g_steal_pointer (&syntax));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_vv_tokenize_start (GstVvTokenize *self)
{
  g_autofree gchar *model_dir = NULL, *tok_dir = NULL, *voices = NULL;
  gint threads;
  GST_OBJECT_LOCK (self);
  model_dir = g_strdup (self->model_dir);
  tok_dir = g_strdup (self->tokenizer_dir);
  voices = g_strdup (self->voices);
  threads = self->n_threads;
  GstVvDevice device = self->device;
  GST_OBJECT_UNLOCK (self);

  if (model_dir == NULL || *model_dir == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No model folder set"),
        ("set the 'model' property to a VibeVoice model folder"));
    return FALSE;
  }
  g_autoptr (GError) error = NULL;
  self->model = gst_vv_engine_load_model (GST_ELEMENT (self), model_dir, &error);
  if (self->model == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Cannot load model %s", model_dir),
        ("%s", error->message));
    return FALSE;
  }
  /* An application running many pipelines (vibevoice studio) may put a
   * loaded tokenizer in the vv.engine context it sets on them ("tokenizer",
   * "tokenizer-dir"): loading the Qwen2.5 files takes most of a second.
   * Used when our tokenizer property is unset or names the same folder. */
  GstContext *app_ctx = gst_element_get_context (GST_ELEMENT (self), GST_VV_ENGINE_CONTEXT_TYPE);
  if (app_ctx != NULL) {
    const GstStructure *st = gst_context_get_structure (app_ctx);
    const gchar *ctx_tok_dir = gst_structure_get_string (st, "tokenizer-dir");
    VvTokenizer *t = NULL;
    if (gst_structure_has_field_typed (st, "tokenizer", VV_TYPE_TOKENIZER)
        && (tok_dir == NULL || *tok_dir == '\0' || g_strcmp0 (tok_dir, ctx_tok_dir) == 0)
        && gst_structure_get (st, "tokenizer", VV_TYPE_TOKENIZER, &t, NULL) && t != NULL) {
      GST_DEBUG_OBJECT (self, "using the tokenizer of the application's context (%s)",
          ctx_tok_dir);
      self->tok = t;
    }
    gst_context_unref (app_ctx);
  }
  if (self->tok == NULL && (tok_dir == NULL || *tok_dir == '\0')) {
    const gchar *env = g_getenv ("VV_DATA_DIR");
    g_free (tok_dir);
    tok_dir = g_build_filename (env ? env : VV_DATA_DIR, "qwen2-tokenizer", NULL);
    if (env == NULL && !g_file_test (tok_dir, G_FILE_TEST_IS_DIR)) {
      g_free (tok_dir);
      tok_dir = g_build_filename (VV_INSTALLED_DATA_DIR, "qwen2-tokenizer", NULL);
    }
  }
  if (self->tok == NULL)
    self->tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  if (self->tok == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("Cannot load tokenizer %s", tok_dir),
        ("%s", error->message));
    return FALSE;
  }
  self->engine = gst_vv_engine_ensure (GST_ELEMENT (self), self->model, device, threads,
      &error);
  self->be = self->engine ? vv_engine_get_backend (self->engine) : NULL;
  if (self->be == NULL || (self->vp = vv_voice_prompt_new (self->model, self->be,
              &error)) == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("Cannot set up the voice encoder"),
        ("%s", error->message));
    return FALSE;
  }
  self->voice_files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, voice_free);
  self->voice_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->positional = g_ptr_array_new ();
  if (!parse_voices (self, voices, &error)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message), (NULL));
    return FALSE;
  }
  const VvConfig *cfg = vv_model_get_config (self->model);
  self->context_budget = cfg->lm.max_position_embeddings > 0
      ? (gsize) cfg->lm.max_position_embeddings / 3 : G_MAXSIZE;
  gst_vv_engine_publish (GST_ELEMENT (self), self->model);
  return TRUE;
}

static void
gst_vv_tokenize_stop (GstVvTokenize *self)
{
  g_clear_pointer (&self->positional, g_ptr_array_unref);
  g_clear_pointer (&self->voice_map, g_hash_table_unref);
  g_clear_pointer (&self->voice_files, g_hash_table_unref);
  g_clear_pointer (&self->vp, vv_voice_prompt_free);
  self->be = NULL;
  g_clear_pointer (&self->engine, vv_engine_unref);
  g_clear_pointer (&self->tok, vv_tokenizer_unref);
  g_clear_pointer (&self->model, vv_model_unref);
}

static void
window_clear (GstVvTokenize *self)
{
  g_ptr_array_set_size (self->window, 0);
  g_hash_table_remove_all (self->window_voice);
  self->window_tokens = 0;
  self->window_pts = GST_CLOCK_TIME_NONE;
  self->window_duration = GST_CLOCK_TIME_NONE;
}

static void
warn_once (GstVvTokenize *self, const gchar *key, const gchar *msg)
{
  if (g_hash_table_contains (self->warned, key))
    return;
  g_hash_table_add (self->warned, g_strdup (key));
  GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("%s", msg), (NULL));
}

/* The voice for @label (canonical) with @emotion (may be NULL). */
static Voice *
pick_voice (GstVvTokenize *self, const gchar *label, const gchar *emotion)
{
  if (emotion && *emotion) {
    g_autofree gchar *emo = g_utf8_strdown (emotion, -1);
    g_autofree gchar *key = g_strdup_printf ("%s:%s", label, emo);
    Voice *v = g_hash_table_lookup (self->voice_map, key);
    if (v)
      return v;
    g_autofree gchar *msg = g_strdup_printf ("No voice for speaker %s with emotion '%s'; "
        "using the speaker's plain voice (add voices=\"%s:%s=FILE\")", label, emo, label, emo);
    warn_once (self, key, msg);
  }
  Voice *v = g_hash_table_lookup (self->voice_map, label);
  if (v)
    return v;
  guint idx;
  if (g_ptr_array_find_with_equal_func (self->speaker_order, label, g_str_equal, &idx)
      && idx < self->positional->len)
    return g_ptr_array_index (self->positional, idx);
  return NULL;
}

static const gfloat *
voice_means (GstVvTokenize *self, Voice *v, gboolean own_length, GError **error)
{
  gfloat **slot = own_length ? &v->means_own : &v->means_pad;
  if (*slot == NULL) {
    gsize nf = 0;
    gsize pad_to = own_length ? 0 : v->n_frames * vv_voice_prompt_get_hop (self->vp);
    if (!vv_voice_prompt_encode_means (self->vp, v->audio, v->n_samples, pad_to, &nf, slot,
            error)) {
      g_prefix_error (error, "voice file %s: ", v->path);
      return NULL;
    }
  }
  return *slot;
}

static gint
compare_numeric_labels (gconstpointer a, gconstpointer b)
{
  gint64 x = g_ascii_strtoll (*(const gchar **) a, NULL, 10);
  gint64 y = g_ascii_strtoll (*(const gchar **) b, NULL, 10);
  return x < y ? -1 : x > y;
}

/* Emits the current window as one prompt buffer. */
static GstFlowReturn
flush_window (GstVvTokenize *self)
{
  if (self->window->len == 0)
    return GST_FLOW_OK;

  /* Speaker ids: numeric labels ascending, then names by appearance. */
  g_autoptr (GPtrArray) numeric = g_ptr_array_new ();
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < self->window->len; i++) {
    const gchar *lab = gst_structure_get_string (g_ptr_array_index (self->window, i),
        "vv-label");
    gint64 num;
    GPtrArray *dst = label_is_number (lab, &num) ? numeric : names;
    if (!g_ptr_array_find_with_equal_func (dst, lab, g_str_equal, NULL))
      g_ptr_array_add (dst, (gpointer) lab);
  }
  g_ptr_array_sort (numeric, compare_numeric_labels);
  g_autoptr (GPtrArray) order = g_ptr_array_new ();
  g_ptr_array_extend (order, numeric, NULL, NULL);
  g_ptr_array_extend (order, names, NULL, NULL);
  if (order->len > 4) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("A window has %u speakers; VibeVoice supports "
            "at most 4", order->len), (NULL));
    return GST_FLOW_ERROR;
  }

  g_autoptr (GArray) turns = g_array_new (FALSE, TRUE, sizeof (VvScriptTurn));
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->window->len; i++) {
    GstStructure *s = g_ptr_array_index (self->window, i);
    const gchar *lab = gst_structure_get_string (s, "vv-label");
    guint id = 0, line = 0;
    g_ptr_array_find_with_equal_func (order, lab, g_str_equal, &id);
    gst_structure_get_uint (s, "line", &line);
    /* The reference's text clean-up: typographic apostrophe -> ASCII. */
    g_auto (GStrv) parts = g_strsplit (gst_structure_get_string (s, "text"), "\u2019", -1);
    gchar *text = g_strjoinv ("'", parts);
    g_ptr_array_add (texts, text);
    VvScriptTurn t = { (gint) id, text, line };
    g_array_append_val (turns, t);
  }

  /* Voices in speaker-id order; each window pads its clips like the
   * reference's batch (longest clip at its own length). */
  guint n_voices = 0;
  Voice *vs[4] = { NULL };
  for (guint k = 0; k < order->len; k++) {
    vs[k] = g_hash_table_lookup (self->window_voice, g_ptr_array_index (order, k));
    if (vs[k] != NULL)
      n_voices++;
  }
  if (n_voices != 0 && n_voices != order->len) {
    for (guint k = 0; k < order->len; k++)
      if (vs[k] == NULL) {
        GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No voice for speaker %s",
                (const gchar *) g_ptr_array_index (order, k)),
            ("set voices=\"%s=FILE,...\" (one voice per speaker)",
                (const gchar *) g_ptr_array_index (order, k)));
        return GST_FLOW_ERROR;
      }
  }
  gsize max_len = 0;
  for (guint k = 0; k < n_voices; k++)
    max_len = MAX (max_len, vs[k]->n_samples);
  const gfloat *means[4] = { NULL };
  gsize frames[4] = { 0 };
  g_autoptr (GError) error = NULL;
  for (guint k = 0; k < n_voices; k++) {
    means[k] = voice_means (self, vs[k], vs[k]->n_samples == max_len, &error);
    if (means[k] == NULL) {
      GST_ELEMENT_ERROR (self, STREAM, ENCODE, ("Cannot encode a voice"), ("%s",
              error->message));
      return GST_FLOW_ERROR;
    }
    frames[k] = vs[k]->n_frames;
  }
  guint first_line = 0;
  gst_structure_get_uint (g_ptr_array_index (self->window, 0), "line", &first_line);
  g_autoptr (VvPrompt) prompt = vv_prompt_new (self->tok, turns, means, frames, n_voices,
      vv_voice_prompt_get_latent_dim (self->vp), &error);
  if (prompt == NULL) {
    GST_ELEMENT_ERROR (self, STREAM, ENCODE, ("Cannot build the prompt of the turns from "
            "line %u", first_line), ("%s", error->message));
    return GST_FLOW_ERROR;
  }
  gsize n_ids;
  vv_prompt_get_ids (prompt, &n_ids);
  GST_INFO_OBJECT (self, "window %u: %u turns from line %u, %u speakers, %" G_GSIZE_FORMAT
      " prompt tokens", self->windows_out, self->window->len, first_line, order->len, n_ids);
  GBytes *bytes = vv_prompt_serialize (prompt);
  GstBuffer *buf = gst_buffer_new_wrapped_bytes (bytes);
  g_bytes_unref (bytes);
  GST_BUFFER_OFFSET (buf) = self->windows_out++;
  /* the text's timing travels on: vvdiffuse places the audio there */
  GST_BUFFER_PTS (buf) = self->window_pts;
  GST_BUFFER_DURATION (buf) = self->window_duration;
  window_clear (self);
  return gst_pad_push (self->srcpad, buf);
}

static void
ensure_caps_and_segment (GstVvTokenize *self)
{
  if (!self->need_segment)
    return;
  if (!gst_pad_has_current_caps (self->srcpad)) {
    GstCaps *caps = gst_caps_new_empty_simple (GST_VV_PROMPT_MEDIA_TYPE);
    gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
    gst_caps_unref (caps);
  }
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  GstEvent *ev = gst_event_new_segment (&seg);
  if (self->seqnum)
    gst_event_set_seqnum (ev, self->seqnum);
  gst_pad_push_event (self->srcpad, ev);
  self->need_segment = FALSE;
}

static GstFlowReturn
gst_vv_tokenize_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (parent);
  g_autoptr (GError) error = NULL;
  GstStructure *turn = gst_vv_turn_buffer_parse (buffer, &error);
  /* Timestamped text (vvdialogparse): PTS on the first turn of an
   * utterance, MARKER on its last. */
  const GstClockTime pts = GST_BUFFER_PTS (buffer), duration = GST_BUFFER_DURATION (buffer);
  const gboolean utterance_end = GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_MARKER);
  gst_buffer_unref (buffer);
  if (turn == NULL) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Malformed turn buffer"), ("%s", error->message));
    return GST_FLOW_ERROR;
  }
  ensure_caps_and_segment (self);
  GstFlowReturn ret = GST_FLOW_OK;
  g_autofree gchar *label = NULL;

  guint pause_ms = 0, line = 0, max_turns;
  gst_structure_get_uint (turn, "pause-ms", &pause_ms);
  gst_structure_get_uint (turn, "line", &line);
  GST_OBJECT_LOCK (self);
  max_turns = self->max_turns;
  GST_OBJECT_UNLOCK (self);

  if (GST_CLOCK_TIME_IS_VALID (pts) && (ret = flush_window (self)) != GST_FLOW_OK)
    goto done;                  /* a new utterance: the window before it is complete */
  if (pause_ms > 0) {
    /* The window before the pause finishes first; then exact silence. */
    if ((ret = flush_window (self)) != GST_FLOW_OK)
      goto done;
    gst_pad_push_event (self->srcpad, gst_vv_pause_event_new (pause_ms * GST_MSECOND));
  }
  const gchar *text = gst_structure_get_string (turn, "text");
  if (text == NULL || *text == '\0') {
    if (utterance_end)
      ret = flush_window (self);
    goto done;
  }

  label = vv_speaker_label_canonical (gst_structure_get_string (turn, "speaker"));
  if (!g_ptr_array_find_with_equal_func (self->speaker_order, label, g_str_equal, NULL))
    g_ptr_array_add (self->speaker_order, g_strdup (label));
  Voice *v = pick_voice (self, label, gst_structure_get_string (turn, "emotion"));
  if (v == NULL && (g_hash_table_size (self->voice_map) > 0 || self->positional->len > 0)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No voice for speaker %s (line %u)", label,
            line), ("add it to the voices property: voices=\"%s=FILE,...\"", label));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  if (v == NULL)
    warn_once (self, "no-voices", "No voices set: generating without voice prompts");

  /* A new voice for a speaker of this window (emotion variant) starts a new window. */
  Voice *cur = g_hash_table_lookup (self->window_voice, label);
  gboolean voice_change = g_hash_table_contains (self->window_voice, label) && cur != v;
  /* Rough prompt size: text tokens + voice frames + the template. */
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  if (!vv_tokenizer_encode (self->tok, text, -1, ids, &error)) {
    g_array_unref (ids);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot tokenize the turn of line %u", line),
        ("%s", error->message));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  const gsize text_cost = ids->len + 8;
  const gsize voice_cost = v ? v->n_frames + 8 : 0;
  g_array_unref (ids);
  const gsize base_cost = 40;     /* system prompt and section headers */
  if (base_cost + text_cost + voice_cost > self->context_budget) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The turn of line %u is too long for the model's "
            "context (about %" G_GSIZE_FORMAT " tokens, at most %" G_GSIZE_FORMAT ")", line,
            base_cost + text_cost + voice_cost, self->context_budget), (NULL));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  gboolean in_window = g_hash_table_contains (self->window_voice, label);
  if (self->window->len > 0 && (voice_change
          || self->window_tokens + text_cost + (in_window ? 0 : voice_cost) > self->context_budget
          || (!in_window && g_hash_table_size (self->window_voice) >= 4))) {
    if ((ret = flush_window (self)) != GST_FLOW_OK)
      goto done;
    in_window = FALSE;
  }
  if (self->window->len == 0) {
    self->window_tokens = base_cost;
    self->window_pts = pts;
    self->window_duration = duration;
  }
  self->window_tokens += text_cost + (in_window ? 0 : voice_cost);
  g_hash_table_replace (self->window_voice, g_strdup (label), v);
  gst_structure_set (turn, "vv-label", G_TYPE_STRING, label, NULL);
  g_ptr_array_add (self->window, g_steal_pointer (&turn));
  if ((max_turns > 0 && self->window->len >= max_turns) || utterance_end)
    ret = flush_window (self);

done:
  if (turn)
    gst_structure_free (turn);
  return ret;
}

static gboolean
gst_vv_tokenize_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_SEGMENT:
      self->seqnum = gst_event_get_seqnum (event);
      self->need_segment = TRUE;
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_EOS:{
      ensure_caps_and_segment (self);
      GstFlowReturn ret = flush_window (self);
      if (ret != GST_FLOW_OK && ret != GST_FLOW_FLUSHING)
        GST_DEBUG_OBJECT (self, "flush at EOS: %s", gst_flow_get_name (ret));
      if (self->seqnum) {
        event = gst_event_make_writable (event);
        gst_event_set_seqnum (event, self->seqnum);
      }
      return gst_pad_push_event (self->srcpad, event);
    }
    case GST_EVENT_FLUSH_STOP:
      window_clear (self);
      self->need_segment = TRUE;
      return gst_pad_push_event (self->srcpad, event);
    default:
      return gst_pad_event_default (pad, parent, event);
  }
}

static gboolean
gst_vv_tokenize_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (parent);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CONTEXT:
      if (gst_vv_engine_handle_context_query (GST_ELEMENT (self), query, self->model))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_CAPS:{
      GstCaps *filter = NULL;
      gst_query_parse_caps (query, &filter);
      GstCaps *tmpl = gst_pad_get_pad_template_caps (pad);
      GstCaps *caps = gst_vv_caps_filter_usable (tmpl, FALSE);
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
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static GstStateChangeReturn
gst_vv_tokenize_change_state (GstElement *element, GstStateChange transition)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (element);
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:{
      /* Load now when the model is known; if model= comes later (set in
       * READY), load at READY->PAUSED, like filesrc checks its location. */
      gboolean have_model;
      GST_OBJECT_LOCK (self);
      have_model = self->model_dir != NULL && *self->model_dir != '\0';
      GST_OBJECT_UNLOCK (self);
      if (have_model && !gst_vv_tokenize_start (self)) {
        gst_vv_tokenize_stop (self);
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    }
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (self->model == NULL && !gst_vv_tokenize_start (self)) {
        gst_vv_tokenize_stop (self);
        return GST_STATE_CHANGE_FAILURE;
      }
      window_clear (self);
      g_ptr_array_set_size (self->speaker_order, 0);
      g_hash_table_remove_all (self->warned);
      self->need_segment = TRUE;
      self->seqnum = 0;
      self->windows_out = 0;
      break;
    default:
      break;
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS (gst_vv_tokenize_parent_class)->change_state
      (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_vv_tokenize_stop (self);
  return ret;
}

static void
gst_vv_tokenize_set_context (GstElement *element, GstContext *context)
{
  /* The model is always our own (the model property); nothing to adopt. */
  GST_ELEMENT_CLASS (gst_vv_tokenize_parent_class)->set_context (element, context);
}

static void
gst_vv_tokenize_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_dir);
      self->model_dir = g_value_dup_string (value);
      break;
    case PROP_TOKENIZER:
      g_free (self->tokenizer_dir);
      self->tokenizer_dir = g_value_dup_string (value);
      break;
    case PROP_VOICES:
      g_free (self->voices);
      self->voices = g_value_dup_string (value);
      break;
    case PROP_MAX_TURNS:
      self->max_turns = g_value_get_uint (value);
      break;
    case PROP_THREADS:
      self->n_threads = g_value_get_int (value);
      break;
    case PROP_DEVICE:
      self->device = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vv_tokenize_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_dir);
      break;
    case PROP_TOKENIZER:
      g_value_set_string (value, self->tokenizer_dir);
      break;
    case PROP_VOICES:
      g_value_set_string (value, self->voices);
      break;
    case PROP_MAX_TURNS:
      g_value_set_uint (value, self->max_turns);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->n_threads);
      break;
    case PROP_DEVICE:
      g_value_set_enum (value, self->device);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vv_tokenize_finalize (GObject *object)
{
  GstVvTokenize *self = GST_VV_TOKENIZE (object);
  gst_vv_tokenize_stop (self);
  g_ptr_array_unref (self->window);
  g_hash_table_unref (self->window_voice);
  g_ptr_array_unref (self->speaker_order);
  g_hash_table_unref (self->warned);
  g_free (self->model_dir);
  g_free (self->tokenizer_dir);
  g_free (self->voices);
  G_OBJECT_CLASS (gst_vv_tokenize_parent_class)->finalize (object);
}

static void
gst_vv_tokenize_class_init (GstVvTokenizeClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GST_DEBUG_CATEGORY_INIT (gst_vv_tokenize_debug, "vvtokenize", 0, "VibeVoice prompt builder");

  gobject_class->set_property = gst_vv_tokenize_set_property;
  gobject_class->get_property = gst_vv_tokenize_get_property;
  gobject_class->finalize = gst_vv_tokenize_finalize;
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "VibeVoice model folder (config.json + "
          "safetensors), as downloaded from Hugging Face", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_TOKENIZER,
      g_param_spec_string ("tokenizer", "Tokenizer", "Qwen2.5 tokenizer folder (default: the "
          "copy shipped with gst-vibevoice)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_VOICES,
      g_param_spec_string ("voices", "Voices", "Speaker map, comma-separated: label=FILE "
          "(e.g. 1=alice.wav,2=bob.flac), label:emotion=FILE for an emotion variant "
          "(A:concerned=a-sad.wav), or bare FILEs for the speakers in order of first "
          "appearance; a \\ before , ; = or \\ makes it part of a file name. Also a "
          "GstStructure (voices, speaker_1=a.wav, alice:happy=\"x,y.wav\") or an array of "
          "files (<\"a.wav\", \"b;c.wav\">). Any audio format GStreamer decodes.", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_TURNS,
      g_param_spec_uint ("max-turns", "Max turns", "End a window after this many turns "
          "(0: windows end at pauses, voice changes, the context budget and EOS; use 1 for "
          "live text)", 0, G_MAXUINT, 0, flags));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "CPU threads for the voice encoder (0 = all "
          "cores)", 0, 1024, 0, flags));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_enum ("device", "Device", "Compute device of the pipeline's engine",
          GST_TYPE_VV_DEVICE, GST_VV_DEVICE_AUTO, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VibeVoice prompt builder",
      "Codec/Encoder/Text", "Turns dialogue turns and voice samples into VibeVoice "
      "generation prompts (Qwen2.5 tokens + voice latents)", "gst-vibevoice developers");
  /* shown by gst-inspect-1.0 */
  gst_element_class_add_static_metadata (element_class, "example-launch-line",
      "gst-launch-1.0 filesrc location=script.txt ! vvdialogparse ! vvtokenize model=DIR voices=1=alice.wav,2=bob.flac,1:happy=alice-happy.wav ! vvdiffuse seed=1 ! vvvocode ! audioconvert ! wavenc ! filesink location=out.wav");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vv_tokenize_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_vv_tokenize_set_context);
}

static void
gst_vv_tokenize_init (GstVvTokenize *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_tokenize_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_tokenize_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_tokenize_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vv_tokenize_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->window = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  self->window_pts = GST_CLOCK_TIME_NONE;
  self->window_duration = GST_CLOCK_TIME_NONE;
  self->window_voice = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->speaker_order = g_ptr_array_new_with_free_func (g_free);
  self->warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->need_segment = TRUE;
}
