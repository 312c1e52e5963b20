/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * How the vv elements of a pipeline share one loaded model.
 *
 * The element that names the model folder (vvtokenize, or vvdiffuse /
 * vvvocode when their `model` property is set) loads it with
 * vv_model_load_shared() — one copy of the weights per process, whatever the
 * number of pipelines — and publishes it as a GstContext of type "vv.engine"
 * (field "model", a VvModel boxed). The others find it lazily, when they
 * first need it, the way gst_cuda_ensure_element_context() does: a CONTEXT
 * query downstream, then upstream, then a NEED_CONTEXT message (the bin
 * answers with the context it cached from HAVE_CONTEXT).
 */
#pragma once

#include <gst/gst.h>
#include <vibevoice/vibevoice.h>

G_BEGIN_DECLS

#define GST_VV_ENGINE_CONTEXT_TYPE "vv.engine"

/* Loads (or shares) the model in @dir, posting PROGRESS messages
 * (start / complete / error) from @element. */
VvModel  *gst_vv_engine_load_model (GstElement *element, const gchar *dir, GError **error);

/* Sets the "vv.engine" context holding @model on @element and posts
 * HAVE_CONTEXT so the bin hands it to the other elements. */
void      gst_vv_engine_publish (GstElement *element, VvModel *model);

/* A new reference to a model published by another element, or NULL. */
VvModel  *gst_vv_engine_find (GstElement *element);

/* For GstElement::set_context: takes the model of a "vv.engine" context
 * into *@model when *@model is NULL. */
void      gst_vv_engine_handle_set_context (GstContext *context, VvModel **model);

/* For pad query functions: answers a "vv.engine" CONTEXT query with @model.
 * Returns TRUE if answered. */
gboolean  gst_vv_engine_handle_context_query (GstElement *element, GstQuery *query,
                                              VvModel *model);

/* The "vv.engine" model of @context, a new reference, or NULL. */
VvModel  *gst_vv_engine_context_get_model (GstContext *context);

G_END_DECLS
