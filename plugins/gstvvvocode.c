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

typedef struct { GstElement parent; } GstVvVocode;
typedef struct { GstElementClass parent_class; } GstVvVocodeClass;
G_DEFINE_TYPE (GstVvVocode, gst_vv_vocode, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvvocode, "vvvocode", GST_RANK_NONE, gst_vv_vocode_get_type ());
static void gst_vv_vocode_class_init (GstVvVocodeClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "vvvocode", "Generic",
      "placeholder", "gst-vibevoice developers");
}
static void gst_vv_vocode_init (GstVvVocode *self) { }
