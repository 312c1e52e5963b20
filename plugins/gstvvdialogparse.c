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

typedef struct { GstElement parent; } GstVvDialogParse;
typedef struct { GstElementClass parent_class; } GstVvDialogParseClass;
G_DEFINE_TYPE (GstVvDialogParse, gst_vv_dialogparse, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvdialogparse, "vvdialogparse", GST_RANK_NONE, gst_vv_dialogparse_get_type ());
static void gst_vv_dialogparse_class_init (GstVvDialogParseClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "vvdialogparse", "Generic",
      "placeholder", "gst-vibevoice developers");
}
static void gst_vv_dialogparse_init (GstVvDialogParse *self) { }
