/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvelements.h"
#include "gstvvmeta.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ok = FALSE;
  /* Never touch CUDA here: plugin_init runs in gst-plugin-scanner and its
   * result is cached in the registry (GSTREAMER-NOTES §2.3). */
  gst_vv_audio_meta_get_info ();
  ok |= GST_ELEMENT_REGISTER (vvdialogparse, plugin);
  ok |= GST_ELEMENT_REGISTER (vvtokenize, plugin);
  ok |= GST_ELEMENT_REGISTER (vvdiffuse, plugin);
  ok |= GST_ELEMENT_REGISTER (vvvocode, plugin);
  ok |= GST_ELEMENT_REGISTER (vvtts, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vibevoice,
    "VibeVoice long-form multi-speaker speech synthesis", plugin_init, VERSION, GST_LICENSE,
    GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
