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

typedef struct { GstElement parent; } GstVvDiffuse;
typedef struct { GstElementClass parent_class; } GstVvDiffuseClass;
G_DEFINE_TYPE (GstVvDiffuse, gst_vv_diffuse, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvdiffuse, "vvdiffuse", GST_RANK_NONE, gst_vv_diffuse_get_type ());
static void gst_vv_diffuse_class_init (GstVvDiffuseClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "vvdiffuse", "Generic",
      "placeholder", "gst-vibevoice developers");
}
static void gst_vv_diffuse_init (GstVvDiffuse *self) { }
