/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-engine.h"

struct _VvEngine {
  gint ref_count;
  VvModel *model;
  VvBackend *be;
  VvBatcher *batcher;           /* batched streams of the engine's generations */
};

G_DEFINE_BOXED_TYPE (VvEngine, vv_engine, vv_engine_ref, vv_engine_unref)

/**
 * vv_engine_new:
 * @model: a loaded model
 * @device: (nullable): backend name: "cpu" (default), "sim", or a
 *   registered one such as "cuda"
 * @n_threads: CPU threads (0 = automatic)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the engine
 */
VvEngine *
vv_engine_new (VvModel *model, const gchar *device, gint n_threads, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  VvBackend *be = vv_backend_new_by_name (device ? device : "cpu", n_threads, error);
  if (be == NULL)
    return NULL;
  VvEngine *e = g_new0 (VvEngine, 1);
  e->ref_count = 1;
  e->model = vv_model_ref (model);
  e->be = be;
  e->batcher = vv_batcher_new ();
  return e;
}

VvEngine *
vv_engine_ref (VvEngine *engine)
{
  g_return_val_if_fail (engine != NULL, NULL);
  g_atomic_int_inc (&engine->ref_count);
  return engine;
}

void
vv_engine_unref (VvEngine *engine)
{
  if (engine == NULL || !g_atomic_int_dec_and_test (&engine->ref_count))
    return;
  vv_batcher_free (engine->batcher);
  vv_backend_free (engine->be);
  vv_model_unref (engine->model);
  g_free (engine);
}

/**
 * vv_engine_get_model:
 * @engine: an engine
 *
 * Returns: (transfer none): its model
 */
VvModel *
vv_engine_get_model (VvEngine *engine)
{
  return engine->model;
}

/**
 * vv_engine_get_backend: (skip)
 * @engine: an engine
 *
 * Returns: (transfer none): its backend
 */
VvBackend *
vv_engine_get_backend (VvEngine *engine)
{
  return engine->be;
}

const gchar *
vv_engine_get_device_name (VvEngine *engine)
{
  return vv_backend_get_name (engine->be);
}

gint
vv_engine_get_n_threads (VvEngine *engine)
{
  return vv_backend_get_n_threads (engine->be);
}

/**
 * vv_engine_get_batcher: (skip)
 * @engine: an engine
 *
 * The batcher through which generations on this engine (on threads of
 * their own) share each step's LM pass and diffusion sampling.
 *
 * Returns: (transfer none): the engine's batcher
 */
VvBatcher *
vv_engine_get_batcher (VvEngine *engine)
{
  return engine->batcher;
}
