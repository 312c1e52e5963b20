/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * PLACEHOLDER: registers the element name only; replaced by the real element.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"

typedef struct { GstElement parent; } GstVvTts;
typedef struct { GstElementClass parent_class; } GstVvTtsClass;
G_DEFINE_TYPE (GstVvTts, gst_vv_tts, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvtts, "vvtts", GST_RANK_NONE, gst_vv_tts_get_type ());
static void gst_vv_tts_class_init (GstVvTtsClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "vvtts", "Generic",
      "placeholder", "gst-vibevoice developers");
}
static void gst_vv_tts_init (GstVvTts *self) { }
