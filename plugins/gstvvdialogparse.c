/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vvdialogparse
 * @title: vvdialogparse
 *
 * Parses a dialogue script into turns, one `application/x-vv-turn` buffer
 * per turn (speaker, text, emotion, pause before it, source line). Text
 * arrives in chunks of any size (filesrc and fdsrc send 4 KiB blocks and no
 * caps; that is read as UTF-8 text); `application/json` scripts are parsed
 * at EOS. Formats and tags: docs/SCRIPT-FORMAT.md.
 *
 * A turn is pushed when the next turn line starts (it may get continuation
 * lines until then) or at EOS; with `flush-on-newline=true` as soon as its
 * line ends, for live text.
 *
 * Timestamped text (subparse cues, `appsrc do-timestamp=true`): each
 * buffer is one utterance. Its turns are pushed at the end of the buffer,
 * the first one with the buffer's running time as PTS and its duration,
 * the last one flagged MARKER (end of utterance: vvtokenize generates it at
 * once); the next buffer starts a new turn. Unlabelled text is then the
 * `default-speaker`'s.
 *
 * Errors (with the line number): more than 4 speakers, invalid UTF-8, an
 * unknown leading tag, a line that is not a turn and continues none (without
 * `default-speaker`). Warnings: a turn without text (skipped), an unknown
 * mid-line `[Name:value]` tag (with line and column, dropped), and EOS
 * without any turn (a clean EOS: an idle live feed).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=script.txt ! vvdialogparse ! fakesink dump=true
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"
#include "gstvvcaps.h"

#include <vibevoice/vibevoice.h>

GST_DEBUG_CATEGORY_STATIC (gst_vv_dialog_parse_debug);
#define GST_CAT_DEFAULT gst_vv_dialog_parse_debug

#define GST_TYPE_VV_DIALOG_PARSE (gst_vv_dialog_parse_get_type ())
G_DECLARE_FINAL_TYPE (GstVvDialogParse, gst_vv_dialog_parse, GST, VV_DIALOG_PARSE, GstElement)

struct _GstVvDialogParse {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  gboolean flush_on_newline;   /* property (object lock) */
  gchar *default_speaker;      /* property (object lock) */

  VvDialogParser *parser;
  gboolean json;
  GByteArray *json_data;
  gboolean need_segment;
  guint32 seqnum;
  gboolean failed;
  GstSegment in_segment;       /* upstream's, to map text PTS to running time */
};

enum {
  PROP_0,
  PROP_FLUSH_ON_NEWLINE,
  PROP_DEFAULT_SPEAKER,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format=(string)utf8; application/json"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VV_TURN_MEDIA_TYPE "(" GST_VV_CAPS_FEATURE_CUDA "); "
        GST_VV_TURN_MEDIA_TYPE));

G_DEFINE_TYPE (GstVvDialogParse, gst_vv_dialog_parse, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvdialogparse, "vvdialogparse", GST_RANK_NONE,
    GST_TYPE_VV_DIALOG_PARSE);

static void
ensure_caps_and_segment (GstVvDialogParse *self)
{
  if (!self->need_segment)
    return;
  if (!gst_pad_has_current_caps (self->srcpad)) {
    GstCaps *caps = gst_caps_new_empty_simple (GST_VV_TURN_MEDIA_TYPE);
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

static void
post_warnings (GstVvDialogParse *self, GPtrArray *warnings)
{
  for (guint i = 0; i < warnings->len; i++)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("%s", (const gchar *) g_ptr_array_index
            (warnings, i)), (NULL));
  g_ptr_array_set_size (warnings, 0);
}

/* @pts (running time) and @duration: the timestamped text buffer the turns
 * come from, GST_CLOCK_TIME_NONE for untimed text. The first turn carries
 * them; the last one of a timestamped buffer is flagged MARKER: the end of
 * an utterance, which vvtokenize generates at once. */
static GstFlowReturn
push_turns (GstVvDialogParse *self, GPtrArray *turns, GstClockTime pts, GstClockTime duration)
{
  GstFlowReturn ret = GST_FLOW_OK;
  if (turns->len > 0)
    ensure_caps_and_segment (self);
  for (guint i = 0; i < turns->len && ret == GST_FLOW_OK; i++) {
    VvDialogTurn *t = g_ptr_array_index (turns, i);
    GST_DEBUG_OBJECT (self, "turn line %u: speaker '%s', emotion %s, pause %u ms, pts %"
        GST_TIME_FORMAT ": %s", t->line, t->speaker, t->emotion ? t->emotion : "-", t->pause_ms,
        GST_TIME_ARGS (i == 0 ? pts : GST_CLOCK_TIME_NONE), t->text);
    GstBuffer *buf = gst_vv_turn_buffer_new (t->speaker, t->text, t->emotion, t->pause_ms,
        t->line);
    if (i == 0) {
      GST_BUFFER_PTS (buf) = pts;
      GST_BUFFER_DURATION (buf) = duration;
    }
    if (GST_CLOCK_TIME_IS_VALID (pts) && i + 1 == turns->len)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_MARKER);
    ret = gst_pad_push (self->srcpad, buf);
  }
  g_ptr_array_set_size (turns, 0);
  return ret;
}

static void
fail (GstVvDialogParse *self, GError *error)
{
  self->failed = TRUE;
  if (error->code == VV_DIALOG_ERROR_UTF8)
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Script: %s", error->message), (NULL));
  else
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Script: %s", error->message), (NULL));
}

static GstFlowReturn
gst_vv_dialog_parse_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstVvDialogParse *self = GST_VV_DIALOG_PARSE (parent);
  if (self->failed) {
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref (buffer);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map the input buffer"), (NULL));
    return GST_FLOW_ERROR;
  }
  GstFlowReturn ret = GST_FLOW_OK;
  if (self->json) {
    /* the document is parsed whole at EOS: bounded like a script file */
    if (map.size > VV_SCRIPT_MAX_BYTES - self->json_data->len) {
      self->failed = TRUE;
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Script: the JSON document is longer than %u "
              "bytes (VV_SCRIPT_MAX_BYTES)", (guint) VV_SCRIPT_MAX_BYTES), (NULL));
      ret = GST_FLOW_ERROR;
    } else {
      g_byte_array_append (self->json_data, map.data, map.size);
    }
  } else {
    g_autoptr (GPtrArray) turns = g_ptr_array_new_with_free_func ((GDestroyNotify)
        vv_dialog_turn_free);
    g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GError) error = NULL;
    gboolean flush;
    GST_OBJECT_LOCK (self);
    flush = self->flush_on_newline;
    vv_dialog_parser_set_default_speaker (self->parser, self->default_speaker);
    GST_OBJECT_UNLOCK (self);
    vv_dialog_parser_set_flush_on_newline (self->parser, flush);
    gboolean ok = vv_dialog_parser_feed (self->parser, (const gchar *) map.data, map.size,
        turns, warnings, &error);
    post_warnings (self, warnings);
    /* A timestamped buffer (subparse, appsrc do-timestamp) is one
     * utterance: it ends its turn, whatever follows. */
    GstClockTime pts = GST_CLOCK_TIME_NONE, duration = GST_BUFFER_DURATION (buffer);
    if (GST_BUFFER_PTS_IS_VALID (buffer)) {
      pts = self->in_segment.format == GST_FORMAT_TIME
          ? gst_segment_to_running_time (&self->in_segment, GST_FORMAT_TIME,
          GST_BUFFER_PTS (buffer))
          : GST_BUFFER_PTS (buffer);    /* do-timestamp on a BYTES source: running time */
    }
    if (ok && GST_CLOCK_TIME_IS_VALID (pts))
      ok = vv_dialog_parser_flush (self->parser, turns, warnings, &error);
    post_warnings (self, warnings);
    ret = push_turns (self, turns, pts, GST_CLOCK_TIME_IS_VALID (pts) ? duration
        : GST_CLOCK_TIME_NONE);
    if (!ok) {
      fail (self, error);
      ret = GST_FLOW_ERROR;
    }
  }
  gst_buffer_unmap (buffer, &map);
  gst_buffer_unref (buffer);
  return ret;
}

static gboolean
drain (GstVvDialogParse *self)
{
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) turns = NULL;
  if (self->json && self->json_data->len == 0) {
    g_set_error (&error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_EMPTY, "JSON script: no data");
  } else if (self->json) {
    turns = vv_dialog_parse_json ((const gchar *) self->json_data->data, self->json_data->len,
        warnings, &error);
  } else {
    turns = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_dialog_turn_free);
    if (!vv_dialog_parser_finish (self->parser, turns, warnings, &error))
      g_clear_pointer (&turns, g_ptr_array_unref);
  }
  post_warnings (self, warnings);
  if (turns)
    push_turns (self, turns, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  if (error && g_error_matches (error, VV_DIALOG_ERROR, VV_DIALOG_ERROR_EMPTY)) {
    /* an idle (live) feed that ends without text is not an error: a clean
     * EOS, and a warning in case the script was meant to hold turns */
    GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("Script: %s", error->message), (NULL));
    return TRUE;
  }
  if (error) {
    fail (self, error);
    return FALSE;
  }
  return TRUE;
}

static void
reset (GstVvDialogParse *self)
{
  vv_dialog_parser_reset (self->parser);
  g_byte_array_set_size (self->json_data, 0);
  self->failed = FALSE;
}

static gboolean
gst_vv_dialog_parse_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVvDialogParse *self = GST_VV_DIALOG_PARSE (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      const GstStructure *s = gst_caps_get_structure (caps, 0);
      self->json = gst_structure_has_name (s, "application/json");
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->in_segment);
      self->seqnum = gst_event_get_seqnum (event);
      self->need_segment = TRUE;
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_EOS:{
      if (!self->failed && !drain (self)) {
        gst_event_unref (event);
        return FALSE;
      }
      ensure_caps_and_segment (self);
      if (self->seqnum) {
        event = gst_event_make_writable (event);
        gst_event_set_seqnum (event, self->seqnum);
      }
      return gst_pad_push_event (self->srcpad, event);
    }
    case GST_EVENT_FLUSH_STOP:
      reset (self);
      self->need_segment = TRUE;
      return gst_pad_push_event (self->srcpad, event);
    default:
      return gst_pad_event_default (pad, parent, event);
  }
}

static gboolean
gst_vv_dialog_parse_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
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
  return gst_pad_query_default (pad, parent, query);
}

static GstStateChangeReturn
gst_vv_dialog_parse_change_state (GstElement *element, GstStateChange transition)
{
  GstVvDialogParse *self = GST_VV_DIALOG_PARSE (element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    reset (self);
    self->json = FALSE;
    self->need_segment = TRUE;
    self->seqnum = 0;
    gst_segment_init (&self->in_segment, GST_FORMAT_UNDEFINED);
  }
  return GST_ELEMENT_CLASS (gst_vv_dialog_parse_parent_class)->change_state (element,
      transition);
}

static void
gst_vv_dialog_parse_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstVvDialogParse *self = GST_VV_DIALOG_PARSE (object);
  if (prop_id == PROP_FLUSH_ON_NEWLINE) {
    GST_OBJECT_LOCK (self);
    self->flush_on_newline = g_value_get_boolean (value);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_DEFAULT_SPEAKER) {
    GST_OBJECT_LOCK (self);
    g_free (self->default_speaker);
    self->default_speaker = g_value_dup_string (value);
    GST_OBJECT_UNLOCK (self);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_vv_dialog_parse_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstVvDialogParse *self = GST_VV_DIALOG_PARSE (object);
  if (prop_id == PROP_FLUSH_ON_NEWLINE) {
    GST_OBJECT_LOCK (self);
    g_value_set_boolean (value, self->flush_on_newline);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_DEFAULT_SPEAKER) {
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, self->default_speaker);
    GST_OBJECT_UNLOCK (self);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_vv_dialog_parse_finalize (GObject *object)
{
  GstVvDialogParse *self = GST_VV_DIALOG_PARSE (object);
  vv_dialog_parser_free (self->parser);
  g_byte_array_unref (self->json_data);
  g_free (self->default_speaker);
  G_OBJECT_CLASS (gst_vv_dialog_parse_parent_class)->finalize (object);
}

static void
gst_vv_dialog_parse_class_init (GstVvDialogParseClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GST_DEBUG_CATEGORY_INIT (gst_vv_dialog_parse_debug, "vvdialogparse", 0,
      "VibeVoice dialogue script parser");
  gobject_class->set_property = gst_vv_dialog_parse_set_property;
  gobject_class->get_property = gst_vv_dialog_parse_get_property;
  gobject_class->finalize = gst_vv_dialog_parse_finalize;
  g_object_class_install_property (gobject_class, PROP_FLUSH_ON_NEWLINE,
      g_param_spec_boolean ("flush-on-newline", "Flush on newline", "Push each turn as soon as "
          "its line ends (live text; no continuation lines)", FALSE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DEFAULT_SPEAKER,
      g_param_spec_string ("default-speaker", "Default speaker", "Speaker label for text "
          "that names none (e.g. \"1\": plain text lines are Speaker 1's); unset: such text "
          "is an error", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VibeVoice dialogue script parser",
      "Codec/Parser/Text", "Splits a dialogue script (Speaker N: text, [Speaker A] text, "
      "Name: text, director tags, or JSON) into turns", "gst-vibevoice developers");
  /* shown by gst-inspect-1.0 */
  gst_element_class_add_static_metadata (element_class, "example-launch-line",
      "gst-launch-1.0 filesrc location=script.txt ! vvdialogparse ! vvtokenize model=DIR voices=1=a.wav,2=b.wav ! vvdiffuse ! vvvocode ! audioconvert ! wavenc ! filesink location=out.wav");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vv_dialog_parse_change_state);
}

static void
gst_vv_dialog_parse_init (GstVvDialogParse *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vv_dialog_parse_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_vv_dialog_parse_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vv_dialog_parse_src_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
  self->parser = vv_dialog_parser_new ();
  self->json_data = g_byte_array_new ();
  self->need_segment = TRUE;
  gst_segment_init (&self->in_segment, GST_FORMAT_UNDEFINED);
}
