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
 *
 * The same context carries the pipeline's VvEngine (field "engine"): the
 * model plus one backend on one device, made by the first element that
 * computes (gst_vv_engine_ensure()) and used by all the others, so a
 * pipeline has one thread pool (or GPU stream), not one per element.
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

/**
 * GstVvDevice:
 * @GST_VV_DEVICE_AUTO: the pipeline's engine if there is one, else the
 *   backend named by $VV_DEVICE, else CUDA if a CUDA backend is registered,
 *   else CPU
 * @GST_VV_DEVICE_CPU: the CPU backend
 * @GST_VV_DEVICE_CUDA: the CUDA backend
 * @GST_VV_DEVICE_SIM: the simulated device (tests: memory the host cannot touch)
 */
typedef enum {
  GST_VV_DEVICE_AUTO,
  GST_VV_DEVICE_CPU,
  GST_VV_DEVICE_CUDA,
  GST_VV_DEVICE_SIM,
} GstVvDevice;

GType     gst_vv_device_get_type (void);
#define GST_TYPE_VV_DEVICE (gst_vv_device_get_type ())

/* The pipeline's engine for @model on @device (a new reference): the one in
 * @element's "vv.engine" context or a neighbour's when its model and device
 * fit, else a new one, published for the others. */
VvEngine *gst_vv_engine_ensure (GstElement *element, VvModel *model, GstVvDevice device,
                                gint n_threads, GError **error);

/* The "vv.engine" model of @context, a new reference, or NULL. */
VvModel  *gst_vv_engine_context_get_model (GstContext *context);

G_END_DECLS
