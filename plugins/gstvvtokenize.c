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

typedef struct { GstElement parent; } GstVvTokenize;
typedef struct { GstElementClass parent_class; } GstVvTokenizeClass;
G_DEFINE_TYPE (GstVvTokenize, gst_vv_tokenize, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vvtokenize, "vvtokenize", GST_RANK_NONE, gst_vv_tokenize_get_type ());
static void gst_vv_tokenize_class_init (GstVvTokenizeClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "vvtokenize", "Generic",
      "placeholder", "gst-vibevoice developers");
}
static void gst_vv_tokenize_init (GstVvTokenize *self) { }
