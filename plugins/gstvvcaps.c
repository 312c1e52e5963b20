/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvcaps.h"

#include <string.h>

GstCaps *
gst_vv_caps_new_template (const gchar *media_type, const gchar *fields)
{
  g_autofree gchar *s = fields && *fields
      ? g_strdup_printf ("%s(" GST_VV_CAPS_FEATURE_CUDA "), %s; %s, %s", media_type, fields,
          media_type, fields)
      : g_strdup_printf ("%s(" GST_VV_CAPS_FEATURE_CUDA "); %s", media_type, media_type);
  return gst_caps_from_string (s);
}

gboolean
gst_vv_cuda_usable (VvEngine *engine)
{
  if (engine == NULL)
    return FALSE;
  /* by name: the emulated backend is the CUDA backend's code on host
   * memory the elements may not touch either, so it takes the same path */
  const gchar *name = vv_engine_get_device_name (engine);
  return g_strcmp0 (name, "cuda") == 0 || g_strcmp0 (name, "cuda-emu") == 0;
}

gboolean
gst_vv_caps_is_cuda (GstCaps *caps, guint i)
{
  GstCapsFeatures *f = gst_caps_get_features (caps, i);
  return f != NULL && !gst_caps_features_is_any (f)
      && gst_caps_features_contains (f, GST_VV_CAPS_FEATURE_CUDA);
}

GstCaps *
gst_vv_caps_filter_usable (GstCaps *caps, gboolean cuda)
{
  GstCaps *out = gst_caps_new_empty ();
  guint n = gst_caps_get_size (caps);
  for (guint i = 0; i < n; i++) {
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    if (!cuda && gst_vv_caps_is_cuda (caps, i))
      continue;
    gst_caps_append_structure_full (out, gst_structure_copy (gst_caps_get_structure (caps, i)),
        f ? gst_caps_features_copy (f) : NULL);
  }
  return out;
}

GstEvent *
gst_vv_pause_event_new (GstClockTime duration)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
      gst_structure_new (GST_VV_PAUSE_EVENT_NAME, "duration", G_TYPE_UINT64,
          (guint64) duration, NULL));
}

gboolean
gst_vv_pause_event_parse (GstEvent *event, GstClockTime *duration)
{
  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM)
    return FALSE;
  const GstStructure *s = gst_event_get_structure (event);
  guint64 d;
  if (s == NULL || !gst_structure_has_name (s, GST_VV_PAUSE_EVENT_NAME)
      || !gst_structure_get_uint64 (s, "duration", &d))
    return FALSE;
  if (duration)
    *duration = d;
  return TRUE;
}

GstBuffer *
gst_vv_turn_buffer_new (const gchar *speaker, const gchar *text, const gchar *emotion,
    guint pause_ms, guint line)
{
  GstStructure *s = gst_structure_new ("vv-turn",
      "speaker", G_TYPE_STRING, speaker ? speaker : "",
      "text", G_TYPE_STRING, text ? text : "",
      "pause-ms", G_TYPE_UINT, pause_ms,
      "line", G_TYPE_UINT, line, NULL);
  if (emotion && *emotion)
    gst_structure_set (s, "emotion", G_TYPE_STRING, emotion, NULL);
  gchar *str = gst_structure_to_string (s);
  gst_structure_free (s);
  gsize len = strlen (str);
  return gst_buffer_new_wrapped (str, len);
}

GstStructure *
gst_vv_turn_buffer_parse (GstBuffer *buffer, GError **error)
{
  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED, "cannot map turn buffer");
    return NULL;
  }
  g_autofree gchar *str = g_strndup ((const gchar *) map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  GstStructure *s = gst_structure_from_string (str, NULL);
  if (s == NULL || !gst_structure_has_name (s, "vv-turn")
      || gst_structure_get_string (s, "speaker") == NULL
      || gst_structure_get_string (s, "text") == NULL) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "not a vv-turn structure (needs speaker and text): %.80s", str);
    if (s)
      gst_structure_free (s);
    return NULL;
  }
  return s;
}

void
gst_vv_record_header_write (const GstVvRecordHeader *h, guint8 out[GST_VV_RECORD_HEADER_SIZE])
{
  memcpy (out, "VVLR", 4);
  GST_WRITE_UINT16_LE (out + 4, GST_VV_RECORD_VERSION);
  GST_WRITE_UINT16_LE (out + 6, h->flags);
  GST_WRITE_UINT32_LE (out + 8, h->n_frames);
  GST_WRITE_UINT32_LE (out + 12, h->dim);
  GST_WRITE_UINT32_LE (out + 16, h->rate);
  GST_WRITE_UINT32_LE (out + 20, h->hop);
  GST_WRITE_UINT64_LE (out + 24, h->pts);
  GST_WRITE_UINT64_LE (out + 32, h->duration);
}

gboolean
gst_vv_record_header_parse (const guint8 in[GST_VV_RECORD_HEADER_SIZE], GstVvRecordHeader *h,
    GError **error)
{
  if (memcmp (in, "VVLR", 4) != 0) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "bad magic (not a VVLR latent record)");
    return FALSE;
  }
  guint16 version = GST_READ_UINT16_LE (in + 4);
  if (version != GST_VV_RECORD_VERSION) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "record version %u (this build reads version %d)", version, GST_VV_RECORD_VERSION);
    return FALSE;
  }
  h->flags = GST_READ_UINT16_LE (in + 6);
  h->n_frames = GST_READ_UINT32_LE (in + 8);
  h->dim = GST_READ_UINT32_LE (in + 12);
  h->rate = GST_READ_UINT32_LE (in + 16);
  h->hop = GST_READ_UINT32_LE (in + 20);
  h->pts = GST_READ_UINT64_LE (in + 24);
  h->duration = GST_READ_UINT64_LE (in + 32);
  if (h->flags & ~(GST_VV_RECORD_FLAG_RESET | GST_VV_RECORD_FLAG_GAP)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE, "unknown flags 0x%x",
        h->flags);
    return FALSE;
  }
  if (h->n_frames > GST_VV_RECORD_MAX_FRAMES || ((h->flags & GST_VV_RECORD_FLAG_GAP)
          && h->n_frames != 0)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "n_frames %u out of range (0..%d, 0 for a GAP record)", h->n_frames,
        GST_VV_RECORD_MAX_FRAMES);
    return FALSE;
  }
  if (h->dim < 1 || h->dim > GST_VV_RECORD_MAX_DIM || h->rate < 1 || h->rate > G_MAXINT
      || h->hop < 1 || h->hop > G_MAXINT) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECODE,
        "dim %u, rate %u or hop %u out of range", h->dim, h->rate, h->hop);
    return FALSE;
  }
  return TRUE;
}
