/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-graph-cache.h"

#include <string.h>

struct _VvGraphCache {
  VvBackendGraph *graph;
  GBytes *key;                  /* the graph's */
  GBytes *failed_key;           /* recording failed for it: run eagerly */
};

VvGraphCache *
vv_graph_cache_new (void)
{
  return g_new0 (VvGraphCache, 1);
}

void
vv_graph_cache_free (VvGraphCache *cache)
{
  if (cache == NULL)
    return;
  vv_backend_graph_free (cache->graph);
  g_clear_pointer (&cache->key, g_bytes_unref);
  g_clear_pointer (&cache->failed_key, g_bytes_unref);
  g_free (cache);
}

static gboolean
same_key (GBytes *k, gconstpointer key, gsize key_size)
{
  gsize n = 0;
  gconstpointer d = k != NULL ? g_bytes_get_data (k, &n) : NULL;
  return k != NULL && n == key_size && memcmp (d, key, key_size) == 0;
}

/* Records @ops into a new graph for @key; FALSE (with the reason in
 * @error) when they cannot be recorded. */
static gboolean
record (VvGraphCache *c, VvBackend *be, gconstpointer key, gsize key_size, VvGraphOpsFunc ops,
    gpointer data, GError **error)
{
  vv_backend_graph_free (c->graph);
  c->graph = NULL;
  g_clear_pointer (&c->key, g_bytes_unref);
  if (!vv_backend_graph_begin (be, error))
    return FALSE;
  g_autoptr (GError) op_error = NULL;
  gboolean ok = ops (data, &op_error);
  /* always ended, also after a failed op */
  VvBackendGraph *g = vv_backend_graph_end (be, ok ? error : NULL);
  if (!ok) {
    vv_backend_graph_free (g);
    g_propagate_error (error, g_steal_pointer (&op_error));
    return FALSE;
  }
  if (g == NULL)
    return FALSE;
  c->graph = g;
  c->key = g_bytes_new (key, key_size);
  g_debug ("%s: recorded a graph of %u nodes", vv_backend_get_name (be),
      vv_backend_graph_get_n_nodes (g));
  return TRUE;
}

gboolean
vv_graph_cache_run (VvGraphCache *cache, VvBackend *be, gconstpointer key, gsize key_size,
    VvGraphOpsFunc ops, gpointer data, GError **error)
{
  if (!vv_backend_graphs_enabled (be) || same_key (cache->failed_key, key, key_size))
    return ops (data, error);
  if (cache->graph == NULL || !same_key (cache->key, key, key_size)) {
    g_autoptr (GError) why = NULL;
    if (!record (cache, be, key, key_size, ops, data, &why)) {
      /* the ops as they come: they give the real error if they fail */
      g_debug ("%s: recording a graph failed (%s); running eagerly", vv_backend_get_name (be),
          why ? why->message : "?");
      g_clear_pointer (&cache->failed_key, g_bytes_unref);
      cache->failed_key = g_bytes_new (key, key_size);
      return ops (data, error);
    }
  }
  return vv_backend_graph_launch (be, cache->graph, error);
}
