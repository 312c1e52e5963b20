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
gst_vv_cuda_usable (void)
{
  /* The CUDA backend exists (ext/cuda), but the elements do not pass CUDA
   * memory yet: latents and audio cross in system memory (docs/CUDA.md). */
  return FALSE;
}

GstCaps *
gst_vv_caps_filter_usable (GstCaps *caps)
{
  GstCaps *out = gst_caps_new_empty ();
  gboolean cuda = gst_vv_cuda_usable ();
  guint n = gst_caps_get_size (caps);
  for (guint i = 0; i < n; i++) {
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    if (!cuda && f && !gst_caps_features_is_any (f)
        && gst_caps_features_contains (f, GST_VV_CAPS_FEATURE_CUDA))
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
