/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvengine.h"

GST_DEBUG_CATEGORY_STATIC (gst_vv_engine_debug);
#define GST_CAT_DEFAULT gst_vv_engine_debug

static void
init_debug (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_vv_engine_debug, "vvengine", 0, "vv model sharing");
    g_once_init_leave (&done, 1);
  }
}

VvModel *
gst_vv_engine_load_model (GstElement *element, const gchar *dir, GError **error)
{
  init_debug ();
  g_autofree gchar *text = g_strdup_printf ("Loading model %s", dir);
  gst_element_post_message (element, gst_message_new_progress (GST_OBJECT (element),
          GST_PROGRESS_TYPE_START, "load-model", text));
  gint64 t0 = g_get_monotonic_time ();
  VvModel *m = vv_model_load_shared (dir, VV_MODEL_LOAD_DEFAULT, error);
  if (m == NULL) {
    gst_element_post_message (element, gst_message_new_progress (GST_OBJECT (element),
            GST_PROGRESS_TYPE_ERROR, "load-model", (*error)->message));
    return NULL;
  }
  g_autofree gchar *done = g_strdup_printf ("Loaded model %s in %.3f s", dir,
      (g_get_monotonic_time () - t0) / 1e6);
  GST_INFO_OBJECT (element, "%s", done);
  gst_element_post_message (element, gst_message_new_progress (GST_OBJECT (element),
          GST_PROGRESS_TYPE_COMPLETE, "load-model", done));
  return m;
}

static GstContext *
make_context (VvModel *model)
{
  GstContext *ctx = gst_context_new (GST_VV_ENGINE_CONTEXT_TYPE, TRUE);
  GstStructure *s = gst_context_writable_structure (ctx);
  gst_structure_set (s, "model", VV_TYPE_MODEL, model,
      "model-dir", G_TYPE_STRING, vv_model_get_dir (model), NULL);
  return ctx;
}

void
gst_vv_engine_publish (GstElement *element, VvModel *model)
{
  init_debug ();
  GstContext *ctx = make_context (model);
  gst_element_set_context (element, ctx);
  GST_DEBUG_OBJECT (element, "publishing model %s", vv_model_get_dir (model));
  gst_element_post_message (element, gst_message_new_have_context (GST_OBJECT (element), ctx));
}

VvModel *
gst_vv_engine_context_get_model (GstContext *context)
{
  if (context == NULL || g_strcmp0 (gst_context_get_context_type (context),
          GST_VV_ENGINE_CONTEXT_TYPE) != 0)
    return NULL;
  const GstStructure *s = gst_context_get_structure (context);
  VvModel *m = NULL;
  if (!gst_structure_get (s, "model", VV_TYPE_MODEL, &m, NULL))
    return NULL;
  return m;
}

void
gst_vv_engine_handle_set_context (GstContext *context, VvModel **model)
{
  if (*model != NULL)
    return;
  *model = gst_vv_engine_context_get_model (context);
}

gboolean
gst_vv_engine_handle_context_query (GstElement *element, GstQuery *query, VvModel *model)
{
  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT || model == NULL)
    return FALSE;
  const gchar *type = NULL;
  if (!gst_query_parse_context_type (query, &type)
      || g_strcmp0 (type, GST_VV_ENGINE_CONTEXT_TYPE) != 0)
    return FALSE;
  GstContext *ctx = make_context (model);
  gst_query_set_context (query, ctx);
  gst_context_unref (ctx);
  return TRUE;
}

static VvModel *
query_pads (GstElement *element, GstPadDirection dir)
{
  VvModel *found = NULL;
  GstIterator *it = dir == GST_PAD_SRC ? gst_element_iterate_src_pads (element)
      : gst_element_iterate_sink_pads (element);
  GValue item = G_VALUE_INIT;
  while (found == NULL && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstPad *pad = g_value_get_object (&item);
    GstQuery *q = gst_query_new_context (GST_VV_ENGINE_CONTEXT_TYPE);
    if (gst_pad_peer_query (pad, q)) {
      GstContext *ctx = NULL;
      gst_query_parse_context (q, &ctx);
      found = gst_vv_engine_context_get_model (ctx);
    }
    gst_query_unref (q);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

VvModel *
gst_vv_engine_find (GstElement *element)
{
  init_debug ();
  VvModel *m = query_pads (element, GST_PAD_SRC);
  if (m == NULL)
    m = query_pads (element, GST_PAD_SINK);
  if (m == NULL) {
    /* The bin answers NEED_CONTEXT synchronously through set_context, which
     * the element stores; pick it up from the element's contexts. */
    gst_element_post_message (element,
        gst_message_new_need_context (GST_OBJECT (element), GST_VV_ENGINE_CONTEXT_TYPE));
    GstContext *ctx = gst_element_get_context (element, GST_VV_ENGINE_CONTEXT_TYPE);
    if (ctx) {
      m = gst_vv_engine_context_get_model (ctx);
      gst_context_unref (ctx);
    }
  }
  if (m)
    GST_DEBUG_OBJECT (element, "found shared model %s", vv_model_get_dir (m));
  return m;
}
