/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstVvAudioMeta:
 * @meta: parent
 * @audio: F32LE mono samples the producer already decoded for exactly the
 *   latent frames of the buffer this meta is attached to (n_frames × hop)
 *
 * The 1.5B/7B loop decodes every frame itself because the semantic encoder
 * needs that audio (MODEL-SPEC §2.4). vvdiffuse attaches the result to the
 * latent buffer so vvvocode can output it instead of decoding a second time.
 * Elements that change the latents must drop the meta (it is not copied by
 * transformations).
 */
typedef struct {
  GstMeta meta;
  GstBuffer *audio;
} GstVvAudioMeta;

GType              gst_vv_audio_meta_api_get_type (void);
const GstMetaInfo *gst_vv_audio_meta_get_info (void);
#define GST_VV_AUDIO_META_API_TYPE (gst_vv_audio_meta_api_get_type ())
#define GST_VV_AUDIO_META_INFO (gst_vv_audio_meta_get_info ())
#define gst_buffer_get_vv_audio_meta(b) \
    ((GstVvAudioMeta *) gst_buffer_get_meta ((b), GST_VV_AUDIO_META_API_TYPE))

/* Attaches @audio (a new reference is taken) to @buffer. */
GstVvAudioMeta    *gst_buffer_add_vv_audio_meta (GstBuffer *buffer, GstBuffer *audio);

G_END_DECLS
