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

GType
gst_vv_device_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VV_DEVICE_AUTO, "The pipeline's engine, else CUDA if available, else CPU", "auto" },
    { GST_VV_DEVICE_CPU, "CPU", "cpu" },
    { GST_VV_DEVICE_CUDA, "CUDA GPU", "cuda" },
    { GST_VV_DEVICE_SIM, "Simulated device (testing)", "sim" },
    { 0, NULL, NULL }
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVvDevice", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* The engine stored in @context (a new reference), or NULL. */
static VvEngine *
context_get_engine (GstContext *context)
{
  if (context == NULL || g_strcmp0 (gst_context_get_context_type (context),
          GST_VV_ENGINE_CONTEXT_TYPE) != 0)
    return NULL;
  VvEngine *e = NULL;
  if (!gst_structure_get (gst_context_get_structure (context), "engine", VV_TYPE_ENGINE, &e,
          NULL))
    return NULL;
  return e;
}

/* The engine in @element's own "vv.engine" context (a new reference). */
static VvEngine *
element_get_engine (GstElement *element)
{
  GstContext *ctx = gst_element_get_context (element, GST_VV_ENGINE_CONTEXT_TYPE);
  VvEngine *e = context_get_engine (ctx);
  if (ctx)
    gst_context_unref (ctx);
  return e;
}

static GstContext *
make_context (VvModel *model, VvEngine *engine)
{
  GstContext *ctx = gst_context_new (GST_VV_ENGINE_CONTEXT_TYPE, TRUE);
  GstStructure *s = gst_context_writable_structure (ctx);
  gst_structure_set (s, "model", VV_TYPE_MODEL, model,
      "model-dir", G_TYPE_STRING, vv_model_get_dir (model), NULL);
  if (engine != NULL)
    gst_structure_set (s, "engine", VV_TYPE_ENGINE, engine,
        "device", G_TYPE_STRING, vv_engine_get_device_name (engine), NULL);
  return ctx;
}

static void
publish (GstElement *element, VvModel *model, VvEngine *engine)
{
  GstContext *ctx = make_context (model, engine);
  gst_element_set_context (element, ctx);
  GST_DEBUG_OBJECT (element, "publishing model %s%s%s", vv_model_get_dir (model),
      engine ? " on " : "", engine ? vv_engine_get_device_name (engine) : "");
  gst_element_post_message (element, gst_message_new_have_context (GST_OBJECT (element), ctx));
}

void
gst_vv_engine_publish (GstElement *element, VvModel *model)
{
  init_debug ();
  g_autoptr (VvEngine) engine = element_get_engine (element);
  if (engine != NULL && vv_engine_get_model (engine) != model)
    g_clear_pointer (&engine, vv_engine_unref);
  publish (element, model, engine);
}

static gboolean
engine_fits (VvEngine *e, VvModel *model, const gchar *want)
{
  return e != NULL && vv_engine_get_model (e) == model
      && (want == NULL || g_strcmp0 (vv_engine_get_device_name (e), want) == 0);
}

static VvEngine *query_pads_engine (GstElement *element, GstPadDirection dir);

VvEngine *
gst_vv_engine_ensure (GstElement *element, VvModel *model, GstVvDevice device,
    gint n_threads, GError **error)
{
  init_debug ();
  const gchar *want = device == GST_VV_DEVICE_CPU ? "cpu" : device == GST_VV_DEVICE_CUDA
      ? "cuda" : device == GST_VV_DEVICE_SIM ? "sim" : NULL;
  VvEngine *e = element_get_engine (element);
  if (!engine_fits (e, model, want)) {
    g_clear_pointer (&e, vv_engine_unref);
    e = query_pads_engine (element, GST_PAD_SRC);
  }
  if (!engine_fits (e, model, want)) {
    g_clear_pointer (&e, vv_engine_unref);
    e = query_pads_engine (element, GST_PAD_SINK);
  }
  if (!engine_fits (e, model, want)) {
    /* the bin answers NEED_CONTEXT with what it cached, through set_context */
    g_clear_pointer (&e, vv_engine_unref);
    gst_element_post_message (element,
        gst_message_new_need_context (GST_OBJECT (element), GST_VV_ENGINE_CONTEXT_TYPE));
    e = element_get_engine (element);
  }
  if (engine_fits (e, model, want)) {
    GST_DEBUG_OBJECT (element, "using the pipeline's engine (%s)",
        vv_engine_get_device_name (e));
    /* keep it in our own context so we hand it on to later neighbours */
    GstContext *ctx = make_context (model, e);
    gst_element_set_context (element, ctx);
    gst_context_unref (ctx);
    return e;
  }
  g_clear_pointer (&e, vv_engine_unref);
  /* auto: $VV_DEVICE, else CUDA when it works, else the CPU (the library
   * says once why CUDA is off) */
  e = vv_engine_new (model, want ? want : "auto", n_threads, error);
  if (e == NULL)
    return NULL;
  GST_INFO_OBJECT (element, "new engine on %s, %d thread(s)", vv_engine_get_device_name (e),
      vv_engine_get_n_threads (e));
  publish (element, model, e);
  return e;
}

/* The first "vv.engine" context a peer of @element's @dir pads answers
 * with (a new reference), or NULL. */
static GstContext *
query_pads_context (GstElement *element, GstPadDirection dir)
{
  GstContext *found = NULL;
  GstIterator *it = dir == GST_PAD_SRC ? gst_element_iterate_src_pads (element)
      : gst_element_iterate_sink_pads (element);
  GValue item = G_VALUE_INIT;
  while (found == NULL && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstPad *pad = g_value_get_object (&item);
    GstQuery *q = gst_query_new_context (GST_VV_ENGINE_CONTEXT_TYPE);
    if (gst_pad_peer_query (pad, q)) {
      GstContext *ctx = NULL;
      gst_query_parse_context (q, &ctx);
      found = ctx ? gst_context_ref (ctx) : NULL;
    }
    gst_query_unref (q);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

static VvEngine *
query_pads_engine (GstElement *element, GstPadDirection dir)
{
  GstContext *ctx = query_pads_context (element, dir);
  VvEngine *e = context_get_engine (ctx);
  if (ctx)
    gst_context_unref (ctx);
  return e;
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
  g_autoptr (VvEngine) engine = element_get_engine (element);
  if (engine != NULL && vv_engine_get_model (engine) != model)
    g_clear_pointer (&engine, vv_engine_unref);
  GstContext *ctx = make_context (model, engine);
  gst_query_set_context (query, ctx);
  gst_context_unref (ctx);
  return TRUE;
}

static VvModel *
query_pads (GstElement *element, GstPadDirection dir)
{
  GstContext *ctx = query_pads_context (element, dir);
  VvModel *m = gst_vv_engine_context_get_model (ctx);
  if (ctx)
    gst_context_unref (ctx);
  return m;
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
