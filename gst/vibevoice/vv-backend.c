/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-backend-impl.h"

#include <gmodule.h>
#include <math.h>
#include <string.h>

#include "vv-build-config.h"

/*
 * The public entry points: every vv_backend_<op>() checks its operands
 * once (dtype, contiguity, shapes, which backend owns the memory) and only
 * then calls the backend's op, so implementations can assume valid input.
 * Error messages name the op and the shapes involved.
 */

G_DEFINE_QUARK (vv-backend-error-quark, vv_backend_error)

/* ---------------------------------------------------------------------- */
/* Registry. The built-in "cpu" and "sim" backends are entered the same way
 * as ext/ backends, on first use. */

typedef struct {
  gchar *name;
  VvBackendNewFunc new_func;
} VvBackendEntry;

static GMutex registry_lock;
static GArray *registry;        /* VvBackendEntry; never freed */

static void
registry_add_locked (const gchar *name, VvBackendNewFunc new_func)
{
  for (guint i = 0; i < registry->len; i++) {
    VvBackendEntry *e = &g_array_index (registry, VvBackendEntry, i);
    if (strcmp (e->name, name) == 0) {
      e->new_func = new_func;
      return;
    }
  }
  VvBackendEntry e = { g_strdup (name), new_func };
  g_array_append_val (registry, e);
}

static void
registry_lock_init (void)
{
  g_mutex_lock (&registry_lock);
  if (registry == NULL) {
    registry = g_array_new (FALSE, TRUE, sizeof (VvBackendEntry));
    registry_add_locked ("cpu", vv_backend_cpu_new);
    registry_add_locked ("sim", vv_backend_sim_new);
  }
}

/**
 * vv_backend_register:
 * @name: backend name, e.g. "cuda"
 * @new_func: (scope forever): constructor
 *
 * Makes @name known to vv_backend_new_by_name(). Registering a name again
 * replaces its constructor; the built-in "cpu" and "sim" cannot be replaced.
 */
void
vv_backend_register (const gchar *name, VvBackendNewFunc new_func)
{
  g_return_if_fail (name != NULL && *name != '\0' && new_func != NULL);
  g_return_if_fail (strcmp (name, "cpu") != 0 && strcmp (name, "sim") != 0);
  registry_lock_init ();
  registry_add_locked (name, new_func);
  g_mutex_unlock (&registry_lock);
}

/* ---------------------------------------------------------------------- */
/* Backend modules (ext/): libvvbackend-NAME.so files in $VV_BACKEND_PATH
 * (a colon-separated list of folders), else in the installed folder and
 * the build tree's. Each exports vv_backend_module_register(), which calls
 * vv_backend_register(). Loaded once, outside the registry lock (the
 * module registers through it); a module that does not load is skipped,
 * its reason kept for vv_backend_new_auto()'s one log line. */

static GString *module_errors;  /* "name: why; ..." (under the once) */

static void
load_module (const gchar *path, GHashTable *seen)
{
  g_autofree gchar *base = g_path_get_basename (path);
  if (!g_str_has_prefix (base, "libvvbackend-") || !g_str_has_suffix (base, ".so")
      || g_hash_table_contains (seen, base))
    return;
  g_hash_table_add (seen, g_strdup (base));
  GModule *mod = g_module_open (path, G_MODULE_BIND_LOCAL);
  gpointer sym = NULL;
  if (mod == NULL || !g_module_symbol (mod, "vv_backend_module_register", &sym) || sym == NULL) {
    g_string_append_printf (module_errors, "%s%s: %s", module_errors->len ? "; " : "", base,
        g_module_error ());
    if (mod != NULL)
      g_module_close (mod);
    return;
  }
  g_module_make_resident (mod);
  g_debug ("loaded backend module %s", path);
  ((void (*) (void)) sym) ();
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static void
load_dir (const gchar *dir, GHashTable *seen)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (files, g_strdup (name));
  /* a stable order: registration order is listing order */
  g_ptr_array_sort (files, compare_names);
  for (guint i = 0; i < files->len; i++) {
    g_autofree gchar *path = g_build_filename (dir, g_ptr_array_index (files, i), NULL);
    load_module (path, seen);
  }
}

static void
load_modules (void)
{
  static gsize done;
  if (!g_once_init_enter (&done))
    return;
  module_errors = g_string_new (NULL);
  if (g_module_supported ()) {
    g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    const gchar *env = g_getenv ("VV_BACKEND_PATH");
    if (env != NULL) {
      g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (gint i = 0; dirs[i] != NULL; i++)
        if (*dirs[i])
          load_dir (dirs[i], seen);
    } else {
      load_dir (VV_BACKEND_DIR, seen);
      load_dir (VV_BUILD_BACKEND_DIR, seen);
    }
  }
  g_once_init_leave (&done, 1);
}

static gboolean
is_registered (const gchar *name)
{
  gboolean found = FALSE;
  registry_lock_init ();
  for (guint i = 0; i < registry->len && !found; i++)
    found = strcmp (g_array_index (registry, VvBackendEntry, i).name, name) == 0;
  g_mutex_unlock (&registry_lock);
  return found;
}

/**
 * vv_backend_new_auto:
 * @n_threads: CPU threads (0 = automatic)
 * @error: return location for a #GError
 *
 * The backend a user who did not choose one gets: $VV_DEVICE when set (and
 * not "auto"), else CUDA when it works, else the CPU. When CUDA is off the
 * process says why once, in one log line (no module, no driver, no GPU).
 * vv_backend_new_by_name ("auto", ...) is the same.
 *
 * Returns: (transfer full) (nullable): the backend
 */
VvBackend *
vv_backend_new_auto (gint n_threads, GError **error)
{
  const gchar *env = g_getenv ("VV_DEVICE");
  if (env != NULL && *env != '\0' && strcmp (env, "auto") != 0)
    return vv_backend_new_by_name (env, n_threads, error);
  load_modules ();
  g_autoptr (GError) local = NULL;
  if (is_registered ("cuda")) {
    VvBackend *be = vv_backend_new_by_name ("cuda", n_threads, &local);
    if (be != NULL)
      return be;
  }
  static gsize said;
  if (g_once_init_enter (&said)) {
    const gchar *why = local != NULL ? local->message : module_errors->len
        ? module_errors->str : "this build has no CUDA backend module (nvcc was not found "
        "when it was configured)";
    g_message ("CUDA is off (%s); running on the CPU", why);
    g_once_init_leave (&said, 1);
  }
  return vv_backend_new_by_name ("cpu", n_threads, error);
}

/**
 * vv_backend_list_names:
 *
 * Returns: (transfer full): the names vv_backend_new_by_name() accepts,
 *   "cpu" first, then "sim", then registered backends in registration order
 */
gchar **
vv_backend_list_names (void)
{
  GPtrArray *names = g_ptr_array_new ();
  load_modules ();
  registry_lock_init ();
  for (guint i = 0; i < registry->len; i++)
    g_ptr_array_add (names, g_strdup (g_array_index (registry, VvBackendEntry, i).name));
  g_mutex_unlock (&registry_lock);
  g_ptr_array_add (names, NULL);
  return (gchar **) g_ptr_array_free (names, FALSE);
}

/**
 * vv_backend_new_cpu:
 * @n_threads: CPU threads (0 = automatic)
 * @error: return location for a #GError
 *
 * Shorthand for vv_backend_new_by_name ("cpu", ...).
 *
 * Returns: (transfer full) (nullable): the backend
 */
VvBackend *
vv_backend_new_cpu (gint n_threads, GError **error)
{
  return vv_backend_new_by_name ("cpu", n_threads, error);
}

/**
 * vv_backend_new_by_name:
 * @name: "cpu", "sim", "auto" (vv_backend_new_auto()) or a registered
 *   backend name such as "cuda" or "cuda-emu" (modules, see load_modules())
 * @n_threads: CPU threads (0 = automatic)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the backend, or %NULL with
 *   %VV_BACKEND_ERROR_UNAVAILABLE when @name is unknown
 */
VvBackend *
vv_backend_new_by_name (const gchar *name, gint n_threads, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  if (strcmp (name, "auto") == 0)
    return vv_backend_new_auto (n_threads, error);
  VvBackendNewFunc new_func = NULL;
  load_modules ();
  registry_lock_init ();
  for (guint i = 0; i < registry->len; i++) {
    VvBackendEntry *e = &g_array_index (registry, VvBackendEntry, i);
    if (strcmp (e->name, name) == 0)
      new_func = e->new_func;
  }
  g_mutex_unlock (&registry_lock);
  if (new_func != NULL)
    return new_func (n_threads, error);

  g_auto (GStrv) names = vv_backend_list_names ();
  g_autofree gchar *known = g_strjoinv (", ", names);
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
      "Unknown backend \"%s\" (available: %s)", name, known);
  return NULL;
}

void
vv_backend_free (VvBackend *be)
{
  if (be == NULL)
    return;
  g_rec_mutex_clear (&be->lock);
  be->ops->destroy (be);
}

const gchar *
vv_backend_get_name (VvBackend *be)
{
  g_return_val_if_fail (be != NULL, NULL);
  return be->ops->name;
}

gint
vv_backend_get_n_threads (VvBackend *be)
{
  g_return_val_if_fail (be != NULL, 0);
  return be->n_threads;
}

/**
 * vv_backend_is_host:
 * @be: a backend
 *
 * Returns: %TRUE if @be computes on host memory (its tensors are plain
 *   host tensors with device %NULL)
 */
gboolean
vv_backend_is_host (VvBackend *be)
{
  g_return_val_if_fail (be != NULL, TRUE);
  return be->device->is_host;
}

/**
 * vv_backend_get_device: (skip)
 * @be: a backend
 *
 * Returns: (transfer none): the device @be computes on
 */
VvDevice *
vv_backend_get_device (VvBackend *be)
{
  g_return_val_if_fail (be != NULL, NULL);
  return be->device;
}

/* ---------------------------------------------------------------------- */
/* Devices */

static VvDevice host_device = { .name = "host", .is_host = TRUE };

/**
 * vv_device_host: (skip)
 *
 * Returns: (transfer none): the device of host memory
 */
VvDevice *
vv_device_host (void)
{
  return &host_device;
}

VvDevice *
vv_tensor_get_device (const VvTensor *t)
{
  return t->device != NULL ? t->device : &host_device;
}

const gchar *
vv_device_get_name (VvDevice *device)
{
  return device->name;
}

gboolean
vv_device_is_host (VvDevice *device)
{
  return device->is_host;
}

/**
 * vv_device_get_stats: (skip)
 * @device: a device
 * @stats: (out caller-allocates): its counters
 */
void
vv_device_get_stats (VvDevice *device, VvDeviceStats *stats)
{
  stats->bytes_up = (guint64) __atomic_load_n (&device->bytes_up, __ATOMIC_RELAXED);
  stats->bytes_down = (guint64) __atomic_load_n (&device->bytes_down, __ATOMIC_RELAXED);
  stats->n_launches = (guint64) __atomic_load_n (&device->n_launches, __ATOMIC_RELAXED);
  stats->bytes_allocated = (guint64) __atomic_load_n (&device->bytes_allocated,
      __ATOMIC_RELAXED);
  stats->n_graph_launches = (guint64) __atomic_load_n (&device->n_graph_launches,
      __ATOMIC_RELAXED);
  stats->n_graph_captures = (guint64) __atomic_load_n (&device->n_graph_captures,
      __ATOMIC_RELAXED);
}

static inline void
count (gint64 *counter, gint64 n)
{
  __atomic_add_fetch (counter, n, __ATOMIC_RELAXED);
}

/* Every op runs under the backend's lock: one backend (one thread pool)
 * serves all elements of a pipeline, which call it from their own
 * streaming threads. dispatch_begin() takes it (and counts the launch),
 * dispatch_end() releases it and passes the op's result through. */
static inline gboolean
dispatch_begin (VvBackend *be)
{
  g_rec_mutex_lock (&be->lock);
  /* recorded into a graph: launched later, counted with the graph */
  if (!be->capturing) {
    count (&be->device->n_launches, 1);
    count (&be->n_launches, 1);
  }
  return TRUE;
}

static inline gboolean
dispatch_end (VvBackend *be, gboolean ok)
{
  g_rec_mutex_unlock (&be->lock);
  return ok;
}

static inline void
launch (VvBackend *be)
{
  if (!be->capturing) {
    count (&be->device->n_launches, 1);
    count (&be->n_launches, 1);
  }
}

/**
 * vv_backend_get_stats: (skip)
 * @be: a backend
 * @stats: (out caller-allocates): the traffic and launches of this backend
 *   instance (bytes_allocated: of its whole device)
 */
void
vv_backend_get_stats (VvBackend *be, VvDeviceStats *stats)
{
  vv_device_get_stats (be->device, stats);
  stats->bytes_up = (guint64) __atomic_load_n (&be->bytes_up, __ATOMIC_RELAXED);
  stats->bytes_down = (guint64) __atomic_load_n (&be->bytes_down, __ATOMIC_RELAXED);
  stats->n_launches = (guint64) __atomic_load_n (&be->n_launches, __ATOMIC_RELAXED);
  stats->n_graph_launches = (guint64) __atomic_load_n (&be->n_graph_launches, __ATOMIC_RELAXED);
  stats->n_graph_captures = (guint64) __atomic_load_n (&be->n_graph_captures, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------- */
/* Graphs (vv-backend.h) */

struct _VvBackendGraph {
  const VvBackendOps *ops;      /* of the backend that made it (frees it) */
  VvDevice *device;
  gpointer priv;
  guint n_nodes;
};

/* $VV_GRAPHS=0 turns graphs off in every backend (read once) */
static gboolean
graphs_env_off (void)
{
  static gsize once;
  static gboolean off;
  if (g_once_init_enter (&once)) {
    const gchar *v = g_getenv ("VV_GRAPHS");
    off = v != NULL && g_strcmp0 (v, "0") == 0;
    g_once_init_leave (&once, 1);
  }
  return off;
}

/**
 * vv_backend_graphs_enabled: (skip)
 * @be: a backend
 *
 * Returns: whether @be can record graphs and they are not turned off
 */
gboolean
vv_backend_graphs_enabled (VvBackend *be)
{
  g_return_val_if_fail (be != NULL, FALSE);
  return be->ops->graph_begin != NULL && !be->graphs_off && !graphs_env_off ();
}

/**
 * vv_backend_set_graphs_enabled: (skip)
 * @be: a backend
 * @enabled: %FALSE to make callers run eagerly on @be
 */
void
vv_backend_set_graphs_enabled (VvBackend *be, gboolean enabled)
{
  g_return_if_fail (be != NULL);
  be->graphs_off = !enabled;
}

/**
 * vv_backend_graph_begin: (skip)
 * @be: a backend with graphs (vv_backend_graphs_enabled())
 * @error: return location for a #GError
 *
 * Returns: %TRUE when recording started; vv_backend_graph_end() must follow
 */
gboolean
vv_backend_graph_begin (VvBackend *be, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (be->ops->graph_begin == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: the backend has no graphs", be->ops->name);
    return FALSE;
  }
  /* held until graph_end: no other thread's op lands in the recording */
  g_rec_mutex_lock (&be->lock);
  if (be->capturing) {
    g_rec_mutex_unlock (&be->lock);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: graph_begin: a graph is already being recorded", be->ops->name);
    return FALSE;
  }
  if (!be->ops->graph_begin (be, error)) {
    g_rec_mutex_unlock (&be->lock);
    return FALSE;
  }
  be->capturing = TRUE;
  return TRUE;
}

/**
 * vv_backend_graph_end: (skip)
 * @be: the backend of the vv_backend_graph_begin() before
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the graph
 */
VvBackendGraph *
vv_backend_graph_end (VvBackend *be, GError **error)
{
  g_return_val_if_fail (be != NULL, NULL);
  g_rec_mutex_lock (&be->lock);
  if (!be->capturing) {
    g_rec_mutex_unlock (&be->lock);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: graph_end without graph_begin", be->ops->name);
    return NULL;
  }
  be->capturing = FALSE;
  gpointer priv = NULL;
  guint n_nodes = 0;
  gboolean ok = be->ops->graph_end (be, &priv, &n_nodes, error);
  /* twice: this call's lock and graph_begin's */
  g_rec_mutex_unlock (&be->lock);
  g_rec_mutex_unlock (&be->lock);
  if (!ok)
    return NULL;
  VvBackendGraph *g = g_new0 (VvBackendGraph, 1);
  g->ops = be->ops;
  g->device = be->device;
  g->priv = priv;
  g->n_nodes = n_nodes;
  count (&be->device->n_graph_captures, 1);
  count (&be->n_graph_captures, 1);
  return g;
}

/**
 * vv_backend_graph_launch: (skip)
 * @be: a backend of the kind and device that made @graph
 * @graph: a graph
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the graph was queued (it runs in order with @be's
 *   other work, like any op)
 */
gboolean
vv_backend_graph_launch (VvBackend *be, VvBackendGraph *graph, GError **error)
{
  g_return_val_if_fail (be != NULL && graph != NULL, FALSE);
  if (graph->ops != be->ops || graph->device != be->device) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: graph_launch: the graph was made by backend %s on device %s", be->ops->name,
        graph->ops->name, graph->device->name);
    return FALSE;
  }
  dispatch_begin (be);
  if (!be->capturing) {
    count (&be->device->n_graph_launches, 1);
    count (&be->n_graph_launches, 1);
  }
  return dispatch_end (be, be->ops->graph_launch (be, graph->priv, error));
}

guint
vv_backend_graph_get_n_nodes (VvBackendGraph *graph)
{
  g_return_val_if_fail (graph != NULL, 0);
  return graph->n_nodes;
}

void
vv_backend_graph_free (VvBackendGraph *graph)
{
  if (graph == NULL)
    return;
  graph->ops->graph_free (graph->priv);
  g_free (graph);
}

void
vv_device_mem_free (VvDevice *dev, gpointer mem)
{
  if (mem == NULL)
    return;
  g_return_if_fail (dev->ops != NULL);
  dev->ops->free (dev, mem);
}

/* ---------------------------------------------------------------------- */
/* Operand checks */

static gboolean
set_shape_error (GError **error, VvBackendError code, const gchar *op,
    const VvTensor *a, const gchar *a_name, const VvTensor *b,
    const gchar *b_name, const gchar *what)
{
  g_autofree gchar *sa = vv_tensor_shape_string (a);
  if (b != NULL) {
    g_autofree gchar *sb = vv_tensor_shape_string (b);
    g_set_error (error, VV_BACKEND_ERROR, code, "%s: %s %s and %s %s: %s",
        op, a_name, sa, b_name, sb, what);
  } else {
    g_set_error (error, VV_BACKEND_ERROR, code, "%s: %s %s: %s", op, a_name, sa, what);
  }
  return FALSE;
}

/* Common to every operand: sane header, contiguous, on this backend. */
static gboolean
check_tensor (VvBackend *be, const gchar *op, const gchar *name,
    const VvTensor *t, GError **error)
{
  if (t == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s is missing", op, name);
    return FALSE;
  }
  if (t->ndim < 1 || t->ndim > VV_MAX_DIMS) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s has %d dimensions (1 to %d expected)", op, name, t->ndim, VV_MAX_DIMS);
    return FALSE;
  }
  for (gint i = 0; i < t->ndim; i++)
    if (t->shape[i] < 0 || t->shape[i] > G_MAXINT)
      return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, t, name, NULL, NULL,
          "dimension out of range");
  if ((guint) t->dtype > VV_DTYPE_I8)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, t, name, NULL, NULL,
        "invalid dtype");
  if (!vv_tensor_is_contiguous (t))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, t, name, NULL, NULL,
        "not contiguous");
  if (t->data == NULL && vv_tensor_n_elements (t) > 0)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, t, name, NULL, NULL,
        "has no data");
  if (vv_tensor_get_device (t) != be->device) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DEVICE,
        "%s: %s %s is not in %s device memory (it is in %s memory)", op, name, s,
        be->device->name, vv_tensor_get_device (t)->name);
    return FALSE;
  }
  return TRUE;
}

/* Activations: F32. */
static gboolean
check_act (VvBackend *be, const gchar *op, const gchar *name, const VvTensor *t,
    GError **error)
{
  if (!check_tensor (be, op, name, t, error))
    return FALSE;
  if (t->dtype != VV_DTYPE_F32) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE,
        "%s: %s %s is %s, activations must be F32", op, name, s, vv_dtype_name (t->dtype));
    return FALSE;
  }
  return TRUE;
}

/* Keys and values: F32 or BF16 (a KV cache), or I8 with one scale per
 * (row, KV head) on the host device, where the CPU backend reads it; no
 * device backend has int8-cache kernels. */
static gboolean
check_kv (VvBackend *be, const gchar *op, const gchar *name, const VvTensor *t,
    gint head_dim, GError **error)
{
  /* named before the device check: I8 tensors are host memory */
  if (t != NULL && t->dtype == VV_DTYPE_I8 && !vv_device_is_host (vv_backend_get_device (be))) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: %s is I8 (an int8 KV cache): it runs only on the cpu backend, not on %s",
        op, name, be->ops->name);
    return FALSE;
  }
  if (!check_tensor (be, op, name, t, error))
    return FALSE;
  if (t->dtype == VV_DTYPE_I8) {
    if (t->ndim != 2 || head_dim <= 0 || t->shape[1] % head_dim != 0
        || vv_tensor_get_scale_groups (t) != t->shape[1] / head_dim)
      return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, t, name, NULL, NULL,
          "is I8 without one scale per row and head (make it with vv_tensor_new_i8_groups())");
    return TRUE;
  }
  if (t->dtype != VV_DTYPE_F32 && t->dtype != VV_DTYPE_BF16) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_DTYPE,
        "%s: %s %s is %s, keys and values must be F32, BF16 or I8", op, name, s,
        vv_dtype_name (t->dtype));
    return FALSE;
  }
  return TRUE;
}

/* Weights: F32, F16 or BF16. */
static gboolean
check_weight (VvBackend *be, const gchar *op, const gchar *name, const VvTensor *t,
    GError **error)
{
  if (!check_tensor (be, op, name, t, error))
    return FALSE;
  if (t->dtype == VV_DTYPE_I32)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, t, name, NULL, NULL,
        "is I32, weights must be F32, F16 or BF16");
  if (t->dtype == VV_DTYPE_I8)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, t, name, NULL, NULL,
        "is I8: int8 weights are read only by linear()");
  return TRUE;
}

/* linear()'s weight: also I8 (with its row scales) on the host device, where
 * the CPU backend reads it; no device backend has int8 kernels. */
static gboolean
check_linear_weight (VvBackend *be, const gchar *op, const VvTensor *w, GError **error)
{
  if (w == NULL || w->dtype != VV_DTYPE_I8)
    return check_weight (be, op, "w", w, error);
  if (!check_tensor (be, op, "w", w, error))
    return FALSE;
  if (!vv_device_is_host (vv_backend_get_device (be))) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: int8 weights run only on the cpu backend, not on %s", op,
        be->ops->name);
    return FALSE;
  }
  if (w->row_scales == NULL || w->ndim != 2 || vv_tensor_get_scale_groups (w) != 1)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, w, "w", NULL, NULL,
        "is I8 without row scales, one per row (make it with vv_tensor_new_i8())");
  return TRUE;
}

/* Ids and positions: I32 [n]. */
static gboolean
check_ids (VvBackend *be, const gchar *op, const gchar *name, const VvTensor *t,
    gint64 n, GError **error)
{
  if (!check_tensor (be, op, name, t, error))
    return FALSE;
  if (t->dtype != VV_DTYPE_I32)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, t, name, NULL, NULL,
        "must be I32");
  if (t->ndim != 1 || (n >= 0 && t->shape[0] != n)) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s %s must be 1-D [%" G_GINT64_FORMAT "]", op, name, s, n);
    return FALSE;
  }
  return TRUE;
}

static inline gint64
last_dim (const VvTensor *t)
{
  return t->shape[t->ndim - 1];
}

/* Product of all but the last dimension. */
static inline gint64
n_rows (const VvTensor *t)
{
  gint64 n = 1;
  for (gint i = 0; i < t->ndim - 1; i++)
    n *= t->shape[i];
  return n;
}

/* ---------------------------------------------------------------------- */
/* Tensors and buffer operations */

static gboolean
check_new_shape (const gchar *op, VvDType dtype, gint ndim, const gint64 *shape,
    GError **error)
{
  if (ndim < 0 || ndim > VV_MAX_DIMS || (guint) dtype > VV_DTYPE_I8) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid dtype %d or dimension count %d", op, (gint) dtype, ndim);
    return FALSE;
  }
  for (gint i = 0; i < ndim; i++) {
    if (shape[i] < 0 || shape[i] > G_MAXINT) {
      g_autofree gchar *s = vv_shape_string (ndim, shape);
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
          "%s: invalid shape %s", op, s);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vv_device_tensor_new: (skip)
 *
 * A contiguous tensor in @dev's memory: zero-filled host memory on the host
 * device, uninitialised device memory otherwise.
 */
VvTensor *
vv_device_tensor_new (VvDevice *dev, VvDType dtype, gint ndim, const gint64 *shape,
    GError **error)
{
  if (!check_new_shape ("tensor_new", dtype, ndim, shape, error))
    return NULL;
  if (dev->is_host) {
    VvTensor *t = vv_tensor_new (dtype, ndim, shape);
    if (t == NULL) {
      g_autofree gchar *s = vv_shape_string (ndim, shape);
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
          "tensor_new: cannot allocate %s %s", vv_dtype_name (dtype), s);
    }
    return t;
  }
  VvTensor *t = g_new0 (VvTensor, 1);
  vv_tensor_init_view (t, dtype, ndim, shape, NULL);
  gsize bytes = vv_tensor_n_bytes (t);
  GError *local = NULL;
  t->data = dev->ops->alloc (dev, MAX (bytes, 1), &local);
  if (t->data == NULL) {
    g_autofree gchar *s = vv_shape_string (ndim, shape);
    if (local != NULL) {
      g_propagate_prefixed_error (error, local, "tensor_new %s %s: ",
          vv_dtype_name (dtype), s);
    } else {
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
          "tensor_new: cannot allocate %s %s on %s", vv_dtype_name (dtype), s, dev->name);
    }
    g_free (t);
    return NULL;
  }
  t->device = dev;
  t->owned = t->data;
  return t;
}

/**
 * vv_backend_tensor_new:
 * @be: a backend
 * @dtype: element type
 * @ndim: number of dimensions
 * @shape: (array length=ndim): dimension sizes
 * @error: return location for a #GError
 *
 * Allocates a contiguous tensor in the memory of @be's device: a
 * zero-filled host tensor on host backends, uninitialised device memory
 * otherwise. Free it with vv_tensor_free().
 *
 * Returns: (transfer full) (nullable): the tensor
 */
VvTensor *
vv_backend_tensor_new (VvBackend *be, VvDType dtype, gint ndim,
    const gint64 *shape, GError **error)
{
  g_return_val_if_fail (be != NULL, NULL);
  return vv_device_tensor_new (be->device, dtype, ndim, shape, error);
}

void
vv_backend_tensor_free (VvBackend *be, VvTensor *t)
{
  (void) be;
  vv_tensor_free (t);
}

/**
 * vv_backend_tensor_new_from_host:
 * @be: a backend
 * @host: a contiguous host tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a copy of @host in @be's memory
 */
VvTensor *
vv_backend_tensor_new_from_host (VvBackend *be, const VvTensor *host, GError **error)
{
  g_return_val_if_fail (be != NULL && host != NULL, NULL);
  VvTensor *t = vv_backend_tensor_new (be, host->dtype, host->ndim, host->shape, error);
  if (t == NULL)
    return NULL;
  if (!vv_backend_tensor_upload (be, t, host, error)) {
    vv_tensor_free (t);
    return NULL;
  }
  return t;
}

static gboolean
check_transfer (VvBackend *be, const gchar *op, VvTensor *dev, const gchar *dev_name,
    const VvTensor *host, const gchar *host_name, GError **error)
{
  if (!check_tensor (be, op, dev_name, dev, error))
    return FALSE;
  if (host == NULL || host->device != NULL || !vv_tensor_is_contiguous (host)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s must be a contiguous host tensor", op, host_name);
    return FALSE;
  }
  if (dev->dtype != host->dtype)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, dev, dev_name, host,
        host_name, "dtypes differ");
  if (vv_tensor_n_elements (dev) != vv_tensor_n_elements (host))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, dev, dev_name, host,
        host_name, "element counts differ");
  return TRUE;
}

/* The byte range [offset, offset + n) of @t, checked. */
static gboolean
check_range (VvBackend *be, const gchar *op, const VvTensor *t, gsize offset, gsize n,
    gconstpointer host, GError **error)
{
  if (!check_tensor (be, op, "t", t, error))
    return FALSE;
  gsize size = vv_tensor_n_bytes (t);
  if (offset > size || n > size - offset || (n > 0 && host == NULL)) {
    g_autofree gchar *s = vv_tensor_shape_string (t);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: bytes %" G_GSIZE_FORMAT "..+%" G_GSIZE_FORMAT " outside tensor %s of %"
        G_GSIZE_FORMAT " bytes (or no host buffer)", op, offset, n, s, size);
    return FALSE;
  }
  return TRUE;
}

/**
 * vv_backend_tensor_set: (skip)
 * @be: a backend
 * @t: a tensor in @be's memory
 * @offset: byte offset into @t
 * @host_src: host memory
 * @n_bytes: bytes to copy
 * @error: return location for a #GError
 *
 * Copies @n_bytes from @host_src into @t at @offset (an upload).
 */
gboolean
vv_backend_tensor_set (VvBackend *be, VvTensor *t, gsize offset, gconstpointer host_src,
    gsize n_bytes, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_range (be, "tensor_set", t, offset, n_bytes, host_src, error))
    return FALSE;
  if (n_bytes == 0)
    return TRUE;
  guint8 *dst = (guint8 *) t->data + offset;
  if (be->device->is_host) {
    memmove (dst, host_src, n_bytes);
    return TRUE;
  }
  count (&be->device->bytes_up, (gint64) n_bytes);
  count (&be->bytes_up, (gint64) n_bytes);
  return be->device->ops->set (be->device, dst, host_src, n_bytes, error);
}

/**
 * vv_backend_tensor_get: (skip)
 * @be: a backend
 * @t: a tensor in @be's memory
 * @offset: byte offset into @t
 * @host_dst: host memory
 * @n_bytes: bytes to copy
 * @error: return location for a #GError
 *
 * Copies @n_bytes of @t at @offset into @host_dst (a download; waits for
 * the work queued on @be).
 */
gboolean
vv_backend_tensor_get (VvBackend *be, const VvTensor *t, gsize offset, gpointer host_dst,
    gsize n_bytes, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_range (be, "tensor_get", t, offset, n_bytes, host_dst, error))
    return FALSE;
  if (n_bytes == 0)
    return TRUE;
  const guint8 *src = (const guint8 *) t->data + offset;
  if (be->device->is_host) {
    memmove (host_dst, src, n_bytes);
    return TRUE;
  }
  if (!vv_backend_synchronize (be, error))
    return FALSE;
  count (&be->device->bytes_down, (gint64) n_bytes);
  count (&be->bytes_down, (gint64) n_bytes);
  return be->device->ops->get (be->device, host_dst, src, n_bytes, error);
}

/**
 * vv_backend_tensor_upload:
 * @be: a backend
 * @dst: a tensor in @be's memory
 * @host_src: a contiguous host tensor with the same dtype and element count
 * @error: return location for a #GError
 *
 * Copies @host_src into @dst (a memcpy on host backends).
 */
gboolean
vv_backend_tensor_upload (VvBackend *be, VvTensor *dst, const VvTensor *host_src,
    GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_transfer (be, "upload", dst, "dst", host_src, "host_src", error))
    return FALSE;
  return vv_backend_tensor_set (be, dst, 0, host_src->data, vv_tensor_n_bytes (dst), error);
}

/**
 * vv_backend_tensor_download:
 * @be: a backend
 * @host_dst: a contiguous host tensor with the same dtype and element count
 * @src: a tensor in @be's memory
 * @error: return location for a #GError
 *
 * Copies @src into @host_dst (a memcpy on host backends).
 */
gboolean
vv_backend_tensor_download (VvBackend *be, VvTensor *host_dst, const VvTensor *src,
    GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_transfer (be, "download", (VvTensor *) src, "src", host_dst, "host_dst", error))
    return FALSE;
  return vv_backend_tensor_get (be, src, 0, host_dst->data, vv_tensor_n_bytes (src), error);
}

/**
 * vv_backend_tensor_copy: (skip)
 * @be: a backend
 * @dst: a tensor in @be's memory
 * @src: a tensor in @be's memory, same dtype and element count
 * @error: return location for a #GError
 *
 * dst = src, on the device (no host round trip); the two may overlap.
 */
gboolean
vv_backend_tensor_copy (VvBackend *be, VvTensor *dst, const VvTensor *src, GError **error)
{
  static const gchar op[] = "tensor_copy";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_tensor (be, op, "dst", dst, error) || !check_tensor (be, op, "src", src, error))
    return FALSE;
  if (dst->dtype != src->dtype || vv_tensor_n_elements (dst) != vv_tensor_n_elements (src))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, dst, "dst", src, "src",
        "dtypes or element counts differ");
  gint groups = vv_tensor_get_scale_groups (src);
  if (dst->dtype == VV_DTYPE_I8 && (vv_tensor_get_scale_groups (dst) != groups
          || (groups > 0 && (dst->ndim != 2 || dst->shape[0] != src->shape[0]))))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, dst, "dst", src, "src",
        "I8 scales per row or rows differ");
  gsize n = vv_tensor_n_bytes (dst);
  if (n == 0 || dst->data == src->data)
    return TRUE;
  launch (be);
  if (be->device->is_host) {
    memmove (dst->data, src->data, n);
    /* I8 rows carry their scales (I8 is host-only) */
    if (groups > 0)
      memmove (dst->row_scales, src->row_scales,
          (gsize) src->shape[0] * (gsize) groups * sizeof (gfloat));
    return TRUE;
  }
  return be->device->ops->copy (be->device, dst->data, src->data, n, error);
}

/**
 * vv_backend_tensor_zero: (skip)
 * @be: a backend
 * @t: a tensor in @be's memory
 * @error: return location for a #GError
 *
 * Sets every byte of @t to zero on the device.
 */
gboolean
vv_backend_tensor_zero (VvBackend *be, VvTensor *t, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_tensor (be, "tensor_zero", "t", t, error))
    return FALSE;
  gsize n = vv_tensor_n_bytes (t);
  if (n == 0)
    return TRUE;
  launch (be);
  if (be->device->is_host) {
    memset (t->data, 0, n);
    return TRUE;
  }
  return be->device->ops->memset0 (be->device, t->data, n, error);
}

gboolean
vv_backend_synchronize (VvBackend *be, GError **error)
{
  g_return_val_if_fail (be != NULL, FALSE);
  if (be->ops->synchronize == NULL)
    return TRUE;
  return be->ops->synchronize (be, error);
}

/* ---------------------------------------------------------------------- */
/* Ops */

/* y and x[.., d] share all dimensions; used by the element-wise ops. */
static gboolean
check_same_shape (const gchar *op, const VvTensor *y, const gchar *y_name,
    const VvTensor *x, const gchar *x_name, GError **error)
{
  if (!vv_tensor_same_shape (y, x))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, x_name, y, y_name,
        "shapes differ");
  return TRUE;
}

/**
 * vv_backend_linear:
 * @be: a backend
 * @y: (out caller-allocates): F32 [.., out]
 * @x: F32 [.., in], same leading dimensions as @y
 * @w: F32/F16/BF16 [out, in], or I8 with row scales on the cpu backend
 * @bias: (nullable): F32/F16/BF16 [out]
 * @error: return location for a #GError
 *
 * y = x · wᵀ + bias. @y must not overlap @x.
 */
gboolean
vv_backend_linear (VvBackend *be, VvTensor *y, const VvTensor *x,
    const VvTensor *w, const VvTensor *bias, GError **error)
{
  static const gchar op[] = "linear";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || !check_linear_weight (be, op, w, error)
      || (bias != NULL && !check_weight (be, op, "bias", bias, error)))
    return FALSE;
  if (w->ndim != 2)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, w, "w", NULL, NULL,
        "weight must be 2-D [out, in]");
  if (last_dim (x) != w->shape[1])
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", w, "w",
        "x's last dimension must equal w's in dimension (w is [out, in])");
  gboolean lead_ok = y->ndim == x->ndim && last_dim (y) == w->shape[0];
  for (gint i = 0; lead_ok && i < x->ndim - 1; i++)
    lead_ok = y->shape[i] == x->shape[i];
  if (!lead_ok) {
    g_autofree gchar *sy = vv_tensor_shape_string (y);
    g_autofree gchar *sx = vv_tensor_shape_string (x);
    g_autofree gchar *sw = vv_tensor_shape_string (w);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: y %s does not fit x %s and w %s (expected x's leading dimensions "
        "and a last dimension of %" G_GINT64_FORMAT ")", op, sy, sx, sw, w->shape[0]);
    return FALSE;
  }
  if (n_rows (x) > G_MAXINT)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", NULL, NULL,
        "too many rows");
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, bias, "bias", w, "w",
        "bias must be [out]");
  if (vv_tensor_n_elements (y) > 0 && y->data == x->data)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", x, "x",
        "y must not alias x");
  if (vv_tensor_n_elements (y) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->linear (be, y, x, w, bias, error));
}

/**
 * vv_backend_rms_norm:
 * @be: a backend
 * @y: (out caller-allocates): F32, shape of @x (may be @x)
 * @x: F32 [.., d]
 * @w: (nullable): F32/F16/BF16 [d]
 * @eps: added to the mean square
 * @error: return location for a #GError
 */
gboolean
vv_backend_rms_norm (VvBackend *be, VvTensor *y, const VvTensor *x,
    const VvTensor *w, gfloat eps, GError **error)
{
  static const gchar op[] = "rms_norm";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || (w != NULL && !check_weight (be, op, "w", w, error))
      || !check_same_shape (op, y, "y", x, "x", error))
    return FALSE;
  if (w != NULL && (w->ndim != 1 || w->shape[0] != last_dim (x)))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", w, "w",
        "w must be [d], d being x's last dimension");
  if (!(eps >= 0.0f) || isinf (eps)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid eps %g", op, (gdouble) eps);
    return FALSE;
  }
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->rms_norm (be, y, x, w, eps, error));
}

/**
 * vv_backend_unary:
 * @be: a backend
 * @op: the function
 * @y: (out caller-allocates): F32, shape of @x (may be @x)
 * @x: F32
 * @error: return location for a #GError
 */
gboolean
vv_backend_unary (VvBackend *be, VvUnaryOp op, VvTensor *y, const VvTensor *x,
    GError **error)
{
  static const gchar name[] = "unary";
  g_return_val_if_fail (be != NULL, FALSE);
  if (op != VV_UNARY_SILU && op != VV_UNARY_GELU) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid op %d", name, (gint) op);
    return FALSE;
  }
  if (!check_act (be, name, "y", y, error) || !check_act (be, name, "x", x, error)
      || !check_same_shape (name, y, "y", x, "x", error))
    return FALSE;
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->unary (be, op, y, x, error));
}

/**
 * vv_backend_binary:
 * @be: a backend
 * @op: the operation
 * @y: (out caller-allocates): F32, shape of @a (may be @a or @b)
 * @a: F32 [.., d]
 * @b: F32, shape of @a, or one row of d elements broadcast over @a's rows
 * @error: return location for a #GError
 */
gboolean
vv_backend_binary (VvBackend *be, VvBinaryOp op, VvTensor *y, const VvTensor *a,
    const VvTensor *b, GError **error)
{
  static const gchar name[] = "binary";
  g_return_val_if_fail (be != NULL, FALSE);
  if (op != VV_BINARY_ADD && op != VV_BINARY_MUL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid op %d", name, (gint) op);
    return FALSE;
  }
  if (!check_act (be, name, "y", y, error) || !check_act (be, name, "a", a, error)
      || !check_act (be, name, "b", b, error)
      || !check_same_shape (name, y, "y", a, "a", error))
    return FALSE;
  if (!vv_tensor_same_shape (a, b)
      && !(last_dim (b) == last_dim (a) && n_rows (b) == 1))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, name, a, "a", b, "b",
        "b must have a's shape or be one row of a's last dimension");
  if (vv_tensor_n_elements (a) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->binary (be, op, y, a, b, error));
}

/**
 * vv_backend_scale:
 * @be: a backend
 * @y: (out caller-allocates): F32, shape of @a (may be @a)
 * @a: F32
 * @s: factor
 * @error: return location for a #GError
 */
gboolean
vv_backend_scale (VvBackend *be, VvTensor *y, const VvTensor *a, gfloat s,
    GError **error)
{
  static const gchar op[] = "scale";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_act (be, op, "y", y, error) || !check_act (be, op, "a", a, error)
      || !check_same_shape (op, y, "y", a, "a", error))
    return FALSE;
  if (vv_tensor_n_elements (a) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->scale (be, y, a, s, error));
}

/**
 * vv_backend_convert:
 * @be: a backend
 * @y: (out caller-allocates): F32, F16 or BF16, as many elements as @x
 * @x: F32
 * @error: return location for a #GError
 *
 * y = x rounded to the dtype of @y (round to nearest even; NaN stays NaN):
 * how activations are stored into a BF16 KV cache. Into I8 with scale
 * groups (vv_tensor_new_i8_groups(), an int8 KV cache; cpu backend only),
 * each (row, group) is quantised symmetrically: scale = max|x| / 127,
 * code = round(x / scale) (nearest even), 0 for a group of zeros; a group
 * holding NaN or ±Inf gets scale NaN.
 */
gboolean
vv_backend_convert (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error)
{
  static const gchar op[] = "convert";
  g_return_val_if_fail (be != NULL, FALSE);
  /* into an int8 KV cache: host memory with its scales (named before the
   * device check) */
  if (y != NULL && y->dtype == VV_DTYPE_I8 && !vv_device_is_host (vv_backend_get_device (be))) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: y is I8 (an int8 KV cache): it runs only on the cpu backend, not on %s",
        op, be->ops->name);
    return FALSE;
  }
  if (!check_tensor (be, op, "y", y, error) || !check_act (be, op, "x", x, error))
    return FALSE;
  if (y->dtype == VV_DTYPE_I32)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, y, "y", NULL, NULL,
        "is I32, must be F32, F16, BF16 or I8");
  if (vv_tensor_n_elements (y) != vv_tensor_n_elements (x))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", x, "x",
        "must have as many elements");
  if (y->dtype == VV_DTYPE_I8) {
    gint groups = vv_tensor_get_scale_groups (y);
    if (y->ndim != 2 || groups < 1 || y->shape[1] % groups != 0)
      return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, y, "y", NULL, NULL,
          "is I8 without scales (make it with vv_tensor_new_i8_groups())");
  }
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->convert (be, y, x, error));
}

/**
 * vv_backend_affine:
 * @be: a backend
 * @op: which map
 * @y: (out caller-allocates): F32, the shape of @x (may be @x)
 * @x: F32
 * @a: the scale
 * @b: the offset
 * @error: return location for a #GError
 */
gboolean
vv_backend_affine (VvBackend *be, VvAffineOp op, VvTensor *y, const VvTensor *x, gfloat a,
    gfloat b, GError **error)
{
  static const gchar opname[] = "affine";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_act (be, opname, "y", y, error) || !check_act (be, opname, "x", x, error)
      || !check_same_shape (opname, y, "y", x, "x", error))
    return FALSE;
  if ((guint) op > VV_AFFINE_ADD_MUL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE, "%s: invalid op %d",
        opname, (gint) op);
    return FALSE;
  }
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->affine (be, op, y, x, a, b, error));
}

/**
 * vv_backend_get_rows:
 * @be: a backend
 * @y: (out caller-allocates): F32 [n, d]
 * @table: F32/F16/BF16 [rows, d]
 * @ids: I32 [n] row indices, in @be's memory
 * @error: return location for a #GError
 *
 * Ids out of range are an error reported by the backend (on a device the
 * ids are not readable here).
 */
gboolean
vv_backend_get_rows (VvBackend *be, VvTensor *y, const VvTensor *table,
    const VvTensor *ids, GError **error)
{
  static const gchar op[] = "get_rows";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_act (be, op, "y", y, error) || !check_weight (be, op, "table", table, error)
      || !check_ids (be, op, "ids", ids, -1, error))
    return FALSE;
  if (table->ndim != 2)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, table, "table", NULL, NULL,
        "table must be 2-D [rows, d]");
  gint64 n_ids = ids->shape[0];
  if (y->ndim != 2 || y->shape[0] != n_ids || y->shape[1] != table->shape[1]) {
    g_autofree gchar *sy = vv_tensor_shape_string (y);
    g_autofree gchar *st = vv_tensor_shape_string (table);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: y %s does not fit %" G_GINT64_FORMAT " ids of table %s (expected [%"
        G_GINT64_FORMAT ", %" G_GINT64_FORMAT "])", op, sy, n_ids, st, n_ids,
        table->shape[1]);
    return FALSE;
  }
  if (vv_tensor_n_elements (y) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->get_rows (be, y, table, ids, error));
}

/* ---------------------------------------------------------------------- */
/* Convolutions */

static gboolean
check_conv_operands (VvBackend *be, const gchar *op, VvTensor *y, const VvTensor *x,
    const VvTensor *w, const VvTensor *bias, gint stride, gint64 c_out, GError **error)
{
  if (!check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || !check_weight (be, op, "w", w, error)
      || (bias != NULL && !check_weight (be, op, "bias", bias, error)))
    return FALSE;
  if (x->ndim != 2)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", NULL, NULL,
        "x must be 2-D [T, C] (time-major)");
  if (y->ndim != 2)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", NULL, NULL,
        "y must be 2-D [T, C] (time-major)");
  if (w->ndim != 3 || w->shape[2] < 1)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, w, "w", NULL, NULL,
        "weight must be 3-D with a kernel size of at least 1");
  if (stride < 1) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: stride %d must be at least 1", op, stride);
    return FALSE;
  }
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != c_out))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, bias, "bias", w, "w",
        "bias must be [C_out]");
  if (vv_tensor_n_elements (y) > 0 && vv_tensor_n_elements (x) > 0) {
    const guint8 *y0 = y->data, *y1 = y0 + vv_tensor_n_bytes (y);
    const guint8 *x0 = x->data, *x1 = x0 + vv_tensor_n_bytes (x);
    if (y0 < x1 && x0 < y1)
      return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", x, "x",
          "y must not overlap x");
  }
  return TRUE;
}

/**
 * vv_backend_conv1d:
 * @be: a backend
 * @y: (out caller-allocates): F32 [T_out, C_out], T_out = (T_in − k)/@stride + 1
 * @x: F32 [T_in, C_in], time-major, T_in ≥ k
 * @w: F32/F16/BF16 [C_out, C_in/@groups, k] (PyTorch Conv1d layout)
 * @bias: (nullable): F32/F16/BF16 [C_out]
 * @stride: stride over time, ≥ 1
 * @groups: 1, or C_in for a depthwise conv (then C_out = C_in, w is [C, 1, k])
 * @error: return location for a #GError
 *
 * A "valid" 1-D convolution: y[t, o] = bias[o] + Σ x[t·stride + j, c] · w[o, c, j].
 * Padding and streaming context are the caller's (MODEL-SPEC §5.4, §5.6).
 * Each output row is computed identically whatever T_in and the thread
 * count, so chunked streaming is bit-identical to one call; with k = 1 this
 * is also a row-exact linear layer (w viewed as [out, in, 1]).
 */
gboolean
vv_backend_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, gint groups, GError **error)
{
  static const gchar op[] = "conv1d";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_conv_operands (be, op, y, x, w, bias, stride,
          w != NULL && w->ndim == 3 ? w->shape[0] : -1, error))
    return FALSE;
  gint64 t_in = x->shape[0], c_in = x->shape[1];
  gint64 c_out = w->shape[0], k = w->shape[2];
  if (groups == 1) {
    if (w->shape[1] != c_in)
      return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", w, "w",
          "x's channels must equal w's C_in (w is [C_out, C_in, k])");
  } else if (groups == c_in && groups > 1) {
    if (w->shape[1] != 1 || c_out != c_in)
      return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", w, "w",
          "a depthwise conv needs w [C, 1, k] with C = x's channels");
  } else {
    g_autofree gchar *sx = vv_tensor_shape_string (x);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: groups %d unsupported for x %s (1 or C_in only)", op, groups, sx);
    return FALSE;
  }
  if (t_in < k)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", w, "w",
        "fewer input steps than the kernel size");
  gint64 t_out = (t_in - k) / stride + 1;
  if (y->shape[0] != t_out || y->shape[1] != c_out) {
    g_autofree gchar *sy = vv_tensor_shape_string (y);
    g_autofree gchar *sx = vv_tensor_shape_string (x);
    g_autofree gchar *sw = vv_tensor_shape_string (w);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: y %s does not fit x %s, w %s, stride %d (expected [%" G_GINT64_FORMAT
        ", %" G_GINT64_FORMAT "])", op, sy, sx, sw, stride, t_out, c_out);
    return FALSE;
  }
  if (be->ops->conv1d == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: not implemented by the %s backend", op, be->ops->name);
    return FALSE;
  }
  if (vv_tensor_n_elements (y) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->conv1d (be, y, x, w, bias, stride, groups, error));
}

/**
 * vv_backend_conv_transpose1d:
 * @be: a backend
 * @y: (out caller-allocates): F32 [(T_in − 1)·@stride + k, C_out]
 * @x: F32 [T_in, C_in], time-major, T_in ≥ 1
 * @w: F32/F16/BF16 [C_in, C_out, k] (PyTorch ConvTranspose1d layout), k ≥ @stride
 * @bias: (nullable): F32/F16/BF16 [C_out], added to every output row
 * @stride: upsampling factor, ≥ 1
 * @error: return location for a #GError
 *
 * The raw (untrimmed) transposed convolution:
 * y[t·stride + j, o] = bias[o] + Σ_t Σ_c x[t, c] · w[c, o, j], the
 * contributions of the input steps added in ascending t. Trimming (§5.4)
 * and the streaming overlap (§5.6) are the caller's: an output row depends
 * only on the input steps that touch it, so a caller that passes the
 * ceil(k/stride) − 1 previous steps again gets bit-identical rows.
 */
gboolean
vv_backend_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x,
    const VvTensor *w, const VvTensor *bias, gint stride, GError **error)
{
  static const gchar op[] = "conv_transpose1d";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_conv_operands (be, op, y, x, w, bias, stride,
          w != NULL && w->ndim == 3 ? w->shape[1] : -1, error))
    return FALSE;
  gint64 t_in = x->shape[0], c_in = x->shape[1];
  gint64 c_out = w->shape[1], k = w->shape[2];
  if (w->shape[0] != c_in)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", w, "w",
        "x's channels must equal w's C_in (w is [C_in, C_out, k])");
  if (k < stride)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, w, "w", NULL, NULL,
        "kernel size smaller than the stride");
  if (t_in < 1)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", NULL, NULL,
        "no input steps");
  gint64 t_out = (t_in - 1) * stride + k;
  if (y->shape[0] != t_out || y->shape[1] != c_out) {
    g_autofree gchar *sy = vv_tensor_shape_string (y);
    g_autofree gchar *sx = vv_tensor_shape_string (x);
    g_autofree gchar *sw = vv_tensor_shape_string (w);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: y %s does not fit x %s, w %s, stride %d (expected [%" G_GINT64_FORMAT
        ", %" G_GINT64_FORMAT "])", op, sy, sx, sw, stride, t_out, c_out);
    return FALSE;
  }
  if (be->ops->conv_transpose1d == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
        "%s: not implemented by the %s backend", op, be->ops->name);
    return FALSE;
  }
  if (vv_tensor_n_elements (y) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->conv_transpose1d (be, y, x, w, bias, stride, error));
}

/* ---------------------------------------------------------------------- */
/* Attention ops (MODEL-SPEC §6) */

static gboolean
check_op_present (VvBackend *be, const gchar *op, gconstpointer fn, GError **error)
{
  if (fn != NULL)
    return TRUE;
  g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_UNAVAILABLE,
      "%s: not implemented by the %s backend", op, be->ops->name);
  return FALSE;
}

/**
 * vv_backend_rope:
 * @be: a backend
 * @y: (out caller-allocates): F32 [n, heads·head_dim] (may be @x)
 * @x: F32 [n, heads·head_dim]
 * @head_dim: d, even
 * @positions: I32 [n] positions (≥ 0; negative ones are an error from the backend)
 * @theta: RoPE base (rope_theta)
 * @error: return location for a #GError
 *
 * Rotary position embedding, rotate-half convention (MODEL-SPEC §6):
 * inv_freq_j = θ^(−2j/d) for j < d/2, applied to every head of every row.
 */
gboolean
vv_backend_rope (VvBackend *be, VvTensor *y, const VvTensor *x, gint head_dim,
    const VvTensor *positions, gdouble theta, GError **error)
{
  static const gchar op[] = "rope";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->rope, error)
      || !check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || !check_same_shape (op, y, "y", x, "x", error))
    return FALSE;
  if (x->ndim != 2)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", NULL, NULL,
        "x must be 2-D [n, heads*head_dim]");
  if (head_dim <= 0 || head_dim % 2 != 0 || x->shape[1] % head_dim != 0) {
    g_autofree gchar *s = vv_tensor_shape_string (x);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: head_dim %d must be even and divide the last dimension of x %s", op, head_dim, s);
    return FALSE;
  }
  if (!(theta > 1.0)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: invalid rope theta %g", op, theta);
    return FALSE;
  }
  if (!check_ids (be, op, "positions", positions, x->shape[0], error))
    return FALSE;
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->rope (be, y, x, head_dim, positions, theta, error));
}

/**
 * vv_backend_attention:
 * @be: a backend
 * @y: (out caller-allocates): F32 [n, H_q·head_dim]
 * @q: F32 [n, H_q·head_dim]
 * @k: F32 or BF16 [T, H_kv·head_dim], T ≥ n: past keys, then the n new
 *   ones (a KV cache's dtype); or, on the cpu backend, I8 with one scale
 *   per (row, KV head) (vv_tensor_new_i8_groups() with H_kv groups), read
 *   as code · scale
 * @v: [T, H_kv·head_dim], like @k and of its dtype
 * @head_dim: d
 * @error: return location for a #GError
 *
 * Causal grouped-query attention of the n newest positions (MODEL-SPEC §6):
 * query row i is position T − n + i and attends to keys 0 … T − n + i;
 * H_q must be a multiple of H_kv; scale 1/sqrt(d). @y must not overlap @q.
 */
gboolean
vv_backend_attention (VvBackend *be, VvTensor *y, const VvTensor *q, const VvTensor *k,
    const VvTensor *v, gint head_dim, GError **error)
{
  static const gchar op[] = "attention";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->attention, error)
      || !check_act (be, op, "y", y, error) || !check_act (be, op, "q", q, error)
      || !check_kv (be, op, "k", k, head_dim, error) || !check_kv (be, op, "v", v, head_dim, error)
      || !check_same_shape (op, y, "y", q, "q", error)
      || !check_same_shape (op, v, "v", k, "k", error))
    return FALSE;
  if (k->dtype != v->dtype)
    return set_shape_error (error, VV_BACKEND_ERROR_DTYPE, op, k, "k", v, "v",
        "k and v must have the same dtype");
  if (q->ndim != 2 || k->ndim != 2)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, q, "q", k, "k",
        "q and k must be 2-D [rows, heads*head_dim]");
  if (head_dim <= 0 || q->shape[1] % head_dim != 0 || k->shape[1] % head_dim != 0) {
    g_autofree gchar *sq = vv_tensor_shape_string (q);
    g_autofree gchar *sk = vv_tensor_shape_string (k);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: head_dim %d does not divide the widths of q %s and k %s", op, head_dim, sq, sk);
    return FALSE;
  }
  gint64 hq = q->shape[1] / head_dim, hkv = k->shape[1] / head_dim;
  if (hkv == 0 || hq % hkv != 0)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, q, "q", k, "k",
        "query heads must be a non-zero multiple of key/value heads");
  if (k->shape[0] < q->shape[0])
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, q, "q", k, "k",
        "k must hold at least the n new rows of q");
  if (y->data == q->data && vv_tensor_n_elements (y) > 0)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", q, "q",
        "y must not be q");
  if (vv_tensor_n_elements (q) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->attention (be, y, q, k, v, head_dim, error));
}

/* ---------------------------------------------------------------------- */
/* Diffusion-head and sampler ops (MODEL-SPEC §3, §2.4, §4.3) */

/* TRUE when the byte ranges of @a and @b intersect. */
static gboolean
overlaps (const VvTensor *a, const VvTensor *b)
{
  guintptr a0 = (guintptr) a->data, a1 = a0 + vv_tensor_n_bytes (a);
  guintptr b0 = (guintptr) b->data, b1 = b0 + vv_tensor_n_bytes (b);
  return a0 < b1 && b0 < a1 && a0 != a1 && b0 != b1;
}

/**
 * vv_backend_timestep_embedding:
 * @be: a backend
 * @y: (out caller-allocates): F32 [.., 2·half], every row gets the embedding
 * @t: the timestep
 * @max_period: the period of the lowest frequency (10000 in the model)
 * @error: return location for a #GError
 *
 * Sinusoidal timestep embedding, cosine half first (MODEL-SPEC §3 step 1):
 * y[k] = cos (t·f_k), y[half + k] = sin (t·f_k) with
 * f_k = expf (fp32 (−ln max_period) · k / half) in fp32.
 */
gboolean
vv_backend_timestep_embedding (VvBackend *be, VvTensor *y, gfloat t, gdouble max_period,
    GError **error)
{
  static const gchar op[] = "timestep_embedding";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->timestep_embedding, error)
      || !check_act (be, op, "y", y, error))
    return FALSE;
  if (last_dim (y) % 2 != 0)
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", NULL, NULL,
        "the last dimension must be even (cosines, then sines)");
  if (!(max_period > 1.0) || isinf (max_period) || !isfinite (t)) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: need a finite t and a finite max_period > 1, got t %g, max_period %g", op,
        (gdouble) t, max_period);
    return FALSE;
  }
  if (vv_tensor_n_elements (y) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->timestep_embedding (be, y, t, max_period, error));
}

/* x [n, d] and a column range [col, col + d) of ada [n, C]. */
static gboolean
check_column_range (const gchar *op, const VvTensor *x, const VvTensor *ada,
    const gchar *col_name, gint col, GError **error)
{
  if (x->ndim != 2 || ada->ndim != 2 || ada->shape[0] != x->shape[0])
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, x, "x", ada, "ada",
        "x must be [n, d] and ada [n, C]");
  if (col < 0 || col > ada->shape[1] - x->shape[1]) {
    g_autofree gchar *sx = vv_tensor_shape_string (x);
    g_autofree gchar *sa = vv_tensor_shape_string (ada);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: %s %d with x %s leaves ada %s (columns 0 to %" G_GINT64_FORMAT " allowed)",
        op, col_name, col, sx, sa, MAX (ada->shape[1] - x->shape[1], -1));
    return FALSE;
  }
  return TRUE;
}

/**
 * vv_backend_modulate:
 * @be: a backend
 * @y: (out caller-allocates): F32 [n, d] (may be @x)
 * @x: F32 [n, d]
 * @ada: F32 [n, C], holding shift and scale as column ranges of width d
 * @shift_col: first column of the shift
 * @scale_col: first column of the scale
 * @error: return location for a #GError
 *
 * adaLN modulation (MODEL-SPEC §3): y = x·(1 + scale) + shift, row by row.
 */
gboolean
vv_backend_modulate (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint shift_col, gint scale_col, GError **error)
{
  static const gchar op[] = "modulate";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->modulate, error)
      || !check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || !check_act (be, op, "ada", ada, error)
      || !check_same_shape (op, y, "y", x, "x", error)
      || !check_column_range (op, x, ada, "shift_col", shift_col, error)
      || !check_column_range (op, x, ada, "scale_col", scale_col, error))
    return FALSE;
  if (overlaps (y, ada))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", ada, "ada",
        "y must not overlap ada");
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->modulate (be, y, x, ada, shift_col, scale_col, error));
}

/**
 * vv_backend_gated_add:
 * @be: a backend
 * @y: (out caller-allocates): F32 [n, d] (may be @x or @o)
 * @x: F32 [n, d]
 * @ada: F32 [n, C], holding the gate as a column range of width d
 * @gate_col: first column of the gate
 * @o: F32 [n, d]
 * @error: return location for a #GError
 *
 * Gated residual (MODEL-SPEC §3): y = x + gate ⊙ o.
 */
gboolean
vv_backend_gated_add (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint gate_col, const VvTensor *o, GError **error)
{
  static const gchar op[] = "gated_add";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->gated_add, error)
      || !check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || !check_act (be, op, "ada", ada, error) || !check_act (be, op, "o", o, error)
      || !check_same_shape (op, y, "y", x, "x", error)
      || !check_same_shape (op, o, "o", x, "x", error)
      || !check_column_range (op, x, ada, "gate_col", gate_col, error))
    return FALSE;
  if (overlaps (y, ada))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, y, "y", ada, "ada",
        "y must not overlap ada");
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->gated_add (be, y, x, ada, gate_col, o, error));
}

/**
 * vv_backend_cfg_combine:
 * @be: a backend
 * @y: (out caller-allocates): F32, the shape of @cond (may be @cond or @uncond)
 * @cond: F32, the conditional prediction
 * @uncond: F32, the unconditional prediction, the shape of @cond
 * @scale: the guidance scale s
 * @error: return location for a #GError
 *
 * Classifier-free guidance (MODEL-SPEC §2.4): y = uncond + s·(cond − uncond).
 */
gboolean
vv_backend_cfg_combine (VvBackend *be, VvTensor *y, const VvTensor *cond,
    const VvTensor *uncond, gfloat scale, GError **error)
{
  static const gchar op[] = "cfg_combine";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->cfg_combine, error)
      || !check_act (be, op, "y", y, error) || !check_act (be, op, "cond", cond, error)
      || !check_act (be, op, "uncond", uncond, error)
      || !check_same_shape (op, y, "y", cond, "cond", error)
      || !check_same_shape (op, uncond, "uncond", cond, "cond", error))
    return FALSE;
  if (vv_tensor_n_elements (y) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->cfg_combine (be, y, cond, uncond, scale, error));
}

/**
 * vv_backend_dpm_step:
 * @be: a backend
 * @y: (out caller-allocates): F32, the shape of @x (may be @x)
 * @x: F32, the sample at step i
 * @v: F32, the (guided) velocity at step i
 * @prev_d: F32, the previous data prediction; replaced by this step's
 * @step: the step's scalars (from the scheduler)
 * @error: return location for a #GError
 *
 * One DPM-Solver++ 2M update (MODEL-SPEC §4.3), see #VvDpmStep.
 */
gboolean
vv_backend_dpm_step (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *v,
    VvTensor *prev_d, const VvDpmStep *step, GError **error)
{
  static const gchar op[] = "dpm_step";
  g_return_val_if_fail (be != NULL, FALSE);
  if (!check_op_present (be, op, (gconstpointer) be->ops->dpm_step, error)
      || !check_act (be, op, "y", y, error) || !check_act (be, op, "x", x, error)
      || !check_act (be, op, "v", v, error) || !check_act (be, op, "prev_d", prev_d, error)
      || !check_same_shape (op, y, "y", x, "x", error)
      || !check_same_shape (op, v, "v", x, "x", error)
      || !check_same_shape (op, prev_d, "prev_d", x, "x", error))
    return FALSE;
  if (step == NULL) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE, "%s: step is missing", op);
    return FALSE;
  }
  if (step->order != 1 && step->order != 2) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_SHAPE,
        "%s: order %d (1 or 2 allowed)", op, step->order);
    return FALSE;
  }
  if (overlaps (prev_d, y) || overlaps (prev_d, x) || overlaps (prev_d, v))
    return set_shape_error (error, VV_BACKEND_ERROR_SHAPE, op, prev_d, "prev_d", x, "x",
        "prev_d must not overlap y, x or v");
  if (vv_tensor_n_elements (x) == 0)
    return TRUE;
  return dispatch_end (be, dispatch_begin (be) && be->ops->dpm_step (be, y, x, v, prev_d, step, error));
}
