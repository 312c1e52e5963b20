/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (vvdialogparse);
GST_ELEMENT_REGISTER_DECLARE (vvtokenize);
GST_ELEMENT_REGISTER_DECLARE (vvdiffuse);
GST_ELEMENT_REGISTER_DECLARE (vvvocode);
GST_ELEMENT_REGISTER_DECLARE (vvtts);

/* for vvtts, which proxies their properties */
GType gst_vv_dialog_parse_get_type (void);
GType gst_vv_tokenize_get_type (void);
GType gst_vv_diffuse_get_type (void);

G_END_DECLS
