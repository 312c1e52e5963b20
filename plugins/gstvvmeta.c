/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvmeta.h"

GType
gst_vv_audio_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstVvAudioMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
vv_audio_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  ((GstVvAudioMeta *) meta)->audio = NULL;
  return TRUE;
}

static void
vv_audio_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  gst_clear_buffer (&((GstVvAudioMeta *) meta)->audio);
}

static gboolean
vv_audio_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  /* Only a plain whole-buffer copy keeps the meaning (same frames). */
  if (GST_META_TRANSFORM_IS_COPY (type)) {
    GstMetaTransformCopy *copy = data;
    if (!copy->region)
      gst_buffer_add_vv_audio_meta (dest, ((GstVvAudioMeta *) meta)->audio);
  }
  return TRUE;
}

const GstMetaInfo *
gst_vv_audio_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter (&info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_VV_AUDIO_META_API_TYPE, "GstVvAudioMeta",
        sizeof (GstVvAudioMeta), vv_audio_meta_init, vv_audio_meta_free,
        vv_audio_meta_transform);
    g_once_init_leave (&info, mi);
  }
  return info;
}

GstVvAudioMeta *
gst_buffer_add_vv_audio_meta (GstBuffer *buffer, GstBuffer *audio)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (GST_IS_BUFFER (audio), NULL);
  GstVvAudioMeta *m = (GstVvAudioMeta *) gst_buffer_add_meta (buffer, GST_VV_AUDIO_META_INFO, NULL);
  if (m)
    m->audio = gst_buffer_ref (audio);
  return m;
}
