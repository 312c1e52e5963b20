/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * "sim": a simulated device, so the device-resident engine is proven on a
 * machine without a GPU.
 *
 * Its memory is unreachable from host code: a tensor's data is an address
 * inside a PROT_NONE reservation, so any host loop that still reads or
 * writes device memory directly crashes (SIGSEGV) instead of quietly
 * working as it would on the CPU backend. Inside the backend every address
 * is translated to a private shadow mapping, and the ops are the CPU
 * backend's kernels run on the translated tensors — so results are
 * bit-identical to "cpu" and only the data movement differs. The device
 * counts bytes uploaded, downloaded and op launches like a GPU would.
 */
#include "vv-backend-impl.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
  guintptr base;                /* the PROT_NONE reservation (the handle) */
  gsize size;                   /* usable bytes */
  gsize map_size;               /* reservation incl. a guard page */
  guint8 *shadow;               /* where the bytes really are */
} SimRegion;

typedef struct {
  GMutex lock;
  GArray *regions;              /* SimRegion sorted by base */
} SimHeap;

static SimHeap sim_heap;

static gsize
page_round (gsize n)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  return (n + page - 1) / page * page;
}

/* Index of the region containing @addr (its end included, for the end of
 * an empty view), or -1. Call with the lock held. */
static gint
find_region_locked (guintptr addr)
{
  GArray *r = sim_heap.regions;
  gint lo = 0, hi = r == NULL ? -1 : (gint) r->len - 1;
  while (lo <= hi) {
    gint mid = (lo + hi) / 2;
    const SimRegion *m = &g_array_index (r, SimRegion, mid);
    if (addr < m->base)
      hi = mid - 1;
    else if (addr > m->base + m->size)
      lo = mid + 1;
    else
      return mid;
  }
  return -1;
}

/* The host address behind a device address. A pointer that is not device
 * memory is a bug in the engine: abort loudly. */
static gpointer
sim_translate (gconstpointer p)
{
  if (p == NULL)
    return NULL;
  g_mutex_lock (&sim_heap.lock);
  gint i = find_region_locked ((guintptr) p);
  gpointer host = NULL;
  if (i >= 0) {
    const SimRegion *r = &g_array_index (sim_heap.regions, SimRegion, i);
    host = r->shadow + ((guintptr) p - r->base);
  }
  g_mutex_unlock (&sim_heap.lock);
  if (host == NULL)
    g_error ("sim: %p is not sim device memory (host memory passed to the device?)", p);
  return host;
}

static gpointer
sim_alloc (VvDevice *dev, gsize bytes, GError **error)
{
  gsize size = page_round (bytes);
  gsize map_size = size + page_round (1);
  void *base = mmap (NULL, map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
      -1, 0);
  if (base == MAP_FAILED) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "sim: cannot reserve %" G_GSIZE_FORMAT " bytes of device address space", map_size);
    return NULL;
  }
  void *shadow = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (shadow == MAP_FAILED) {
    munmap (base, map_size);
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "sim: out of memory for %" G_GSIZE_FORMAT " bytes of device memory", bytes);
    return NULL;
  }
  SimRegion r = { (guintptr) base, size, map_size, shadow };
  g_mutex_lock (&sim_heap.lock);
  if (sim_heap.regions == NULL)
    sim_heap.regions = g_array_new (FALSE, FALSE, sizeof (SimRegion));
  guint at = 0;
  while (at < sim_heap.regions->len
      && g_array_index (sim_heap.regions, SimRegion, at).base < r.base)
    at++;
  g_array_insert_val (sim_heap.regions, at, r);
  g_mutex_unlock (&sim_heap.lock);
  __atomic_add_fetch (&dev->bytes_allocated, (gint64) size, __ATOMIC_RELAXED);
  return base;
}

static void
sim_free (VvDevice *dev, gpointer mem)
{
  g_mutex_lock (&sim_heap.lock);
  gint i = find_region_locked ((guintptr) mem);
  SimRegion r = { 0 };
  if (i >= 0 && g_array_index (sim_heap.regions, SimRegion, i).base == (guintptr) mem) {
    r = g_array_index (sim_heap.regions, SimRegion, i);
    g_array_remove_index (sim_heap.regions, i);
  }
  g_mutex_unlock (&sim_heap.lock);
  if (r.base == 0)
    g_error ("sim: free of %p, which is not a sim allocation", mem);
  munmap ((void *) r.base, r.map_size);
  munmap (r.shadow, r.size);
  __atomic_sub_fetch (&dev->bytes_allocated, (gint64) r.size, __ATOMIC_RELAXED);
}

static gboolean
sim_set (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes, GError **error)
{
  memcpy (sim_translate (dst), src, bytes);
  return TRUE;
}

static gboolean
sim_get (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes, GError **error)
{
  memcpy (dst, sim_translate (src), bytes);
  return TRUE;
}

static gboolean
sim_copy (VvDevice *dev, gpointer dst, gconstpointer src, gsize bytes, GError **error)
{
  memmove (sim_translate (dst), sim_translate (src), bytes);
  return TRUE;
}

static gboolean
sim_memset0 (VvDevice *dev, gpointer dst, gsize bytes, GError **error)
{
  memset (sim_translate (dst), 0, bytes);
  return TRUE;
}

static const VvDeviceOps sim_device_ops = {
  .alloc = sim_alloc,
  .free = sim_free,
  .set = sim_set,
  .get = sim_get,
  .copy = sim_copy,
  .memset0 = sim_memset0,
};

static VvDevice sim_device = { .name = "sim", .is_host = FALSE, .ops = &sim_device_ops };

/* ---------------------------------------------------------------------- */
/* Ops: the CPU kernels on translated operands */

#define INNER(be) ((VvBackend *) (be)->priv)

/* A host view of device tensor @t in @tmp (NULL stays NULL). */
static VvTensor *
host_view (const VvTensor *t, VvTensor *tmp)
{
  if (t == NULL)
    return NULL;
  *tmp = *t;
  tmp->data = sim_translate (t->data);
  tmp->device = NULL;
  tmp->owned = NULL;
  return tmp;
}

static gboolean
sim_linear (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, GError **error)
{
  VvTensor a, b, c, d;
  VvBackend *in = INNER (be);
  return in->ops->linear (in, host_view (y, &a), host_view (x, &b), host_view (w, &c),
      host_view (bias, &d), error);
}

static gboolean
sim_rms_norm (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w, gfloat eps,
    GError **error)
{
  VvTensor a, b, c;
  VvBackend *in = INNER (be);
  return in->ops->rms_norm (in, host_view (y, &a), host_view (x, &b), host_view (w, &c), eps,
      error);
}

static gboolean
sim_unary (VvBackend *be, VvUnaryOp op, VvTensor *y, const VvTensor *x, GError **error)
{
  VvTensor a, b;
  VvBackend *in = INNER (be);
  return in->ops->unary (in, op, host_view (y, &a), host_view (x, &b), error);
}

static gboolean
sim_binary (VvBackend *be, VvBinaryOp op, VvTensor *y, const VvTensor *x, const VvTensor *z,
    GError **error)
{
  VvTensor a, b, c;
  VvBackend *in = INNER (be);
  return in->ops->binary (in, op, host_view (y, &a), host_view (x, &b), host_view (z, &c),
      error);
}

static gboolean
sim_scale (VvBackend *be, VvTensor *y, const VvTensor *x, gfloat s, GError **error)
{
  VvTensor a, b;
  VvBackend *in = INNER (be);
  return in->ops->scale (in, host_view (y, &a), host_view (x, &b), s, error);
}

static gboolean
sim_affine (VvBackend *be, VvAffineOp op, VvTensor *y, const VvTensor *x, gfloat a, gfloat b,
    GError **error)
{
  VvTensor t1, t2;
  VvBackend *in = INNER (be);
  return in->ops->affine (in, op, host_view (y, &t1), host_view (x, &t2), a, b, error);
}

static gboolean
sim_get_rows (VvBackend *be, VvTensor *y, const VvTensor *table, const VvTensor *ids,
    GError **error)
{
  VvTensor a, b, c;
  VvBackend *in = INNER (be);
  return in->ops->get_rows (in, host_view (y, &a), host_view (table, &b), host_view (ids, &c),
      error);
}

static gboolean
sim_conv1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, gint groups, GError **error)
{
  VvTensor a, b, c, d;
  VvBackend *in = INNER (be);
  return in->ops->conv1d (in, host_view (y, &a), host_view (x, &b), host_view (w, &c),
      host_view (bias, &d), stride, groups, error);
}

static gboolean
sim_conv_transpose1d (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *w,
    const VvTensor *bias, gint stride, GError **error)
{
  VvTensor a, b, c, d;
  VvBackend *in = INNER (be);
  return in->ops->conv_transpose1d (in, host_view (y, &a), host_view (x, &b),
      host_view (w, &c), host_view (bias, &d), stride, error);
}

static gboolean
sim_rope (VvBackend *be, VvTensor *y, const VvTensor *x, gint head_dim, const VvTensor *pos,
    gdouble theta, GError **error)
{
  VvTensor a, b, c;
  VvBackend *in = INNER (be);
  return in->ops->rope (in, host_view (y, &a), host_view (x, &b), head_dim,
      host_view (pos, &c), theta, error);
}

static gboolean
sim_convert (VvBackend *be, VvTensor *y, const VvTensor *x, GError **error)
{
  VvTensor a, b;
  VvBackend *in = INNER (be);
  return in->ops->convert (in, host_view (y, &a), host_view (x, &b), error);
}

static gboolean
sim_attention (VvBackend *be, VvTensor *y, const VvTensor *q, const VvTensor *k,
    const VvTensor *v, gint head_dim, GError **error)
{
  VvTensor a, b, c, d;
  VvBackend *in = INNER (be);
  return in->ops->attention (in, host_view (y, &a), host_view (q, &b), host_view (k, &c),
      host_view (v, &d), head_dim, error);
}

/* Diffusion-head and sampler ops */

static gboolean
sim_timestep_embedding (VvBackend *be, VvTensor *y, gfloat t, gdouble max_period,
    GError **error)
{
  VvTensor a;
  VvBackend *in = INNER (be);
  return in->ops->timestep_embedding (in, host_view (y, &a), t, max_period, error);
}

static gboolean
sim_modulate (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint shift_col, gint scale_col, GError **error)
{
  VvTensor a, b, c;
  VvBackend *in = INNER (be);
  return in->ops->modulate (in, host_view (y, &a), host_view (x, &b), host_view (ada, &c),
      shift_col, scale_col, error);
}

static gboolean
sim_gated_add (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *ada,
    gint gate_col, const VvTensor *o, GError **error)
{
  VvTensor a, b, c, d;
  VvBackend *in = INNER (be);
  return in->ops->gated_add (in, host_view (y, &a), host_view (x, &b), host_view (ada, &c),
      gate_col, host_view (o, &d), error);
}

static gboolean
sim_cfg_combine (VvBackend *be, VvTensor *y, const VvTensor *cond, const VvTensor *uncond,
    gfloat scale, GError **error)
{
  VvTensor a, b, c;
  VvBackend *in = INNER (be);
  return in->ops->cfg_combine (in, host_view (y, &a), host_view (cond, &b),
      host_view (uncond, &c), scale, error);
}

static gboolean
sim_dpm_step (VvBackend *be, VvTensor *y, const VvTensor *x, const VvTensor *v,
    VvTensor *prev_d, const VvDpmStep *step, GError **error)
{
  VvTensor a, b, c, d;
  VvBackend *in = INNER (be);
  return in->ops->dpm_step (in, host_view (y, &a), host_view (x, &b), host_view (v, &c),
      host_view (prev_d, &d), step, error);
}

static void
sim_destroy (VvBackend *be)
{
  vv_backend_free (INNER (be));
  g_free (be);
}

static const VvBackendOps sim_ops = {
  .name = "sim",
  .destroy = sim_destroy,
  .linear = sim_linear,
  .rms_norm = sim_rms_norm,
  .unary = sim_unary,
  .binary = sim_binary,
  .scale = sim_scale,
  .affine = sim_affine,
  .get_rows = sim_get_rows,
  .conv1d = sim_conv1d,
  .conv_transpose1d = sim_conv_transpose1d,
  .rope = sim_rope,
  .attention = sim_attention,
  .convert = sim_convert,
  /* diffusion-head and sampler ops */
  .timestep_embedding = sim_timestep_embedding,
  .modulate = sim_modulate,
  .gated_add = sim_gated_add,
  .cfg_combine = sim_cfg_combine,
  .dpm_step = sim_dpm_step,
};

/**
 * vv_backend_sim_new: (skip)
 * @n_threads: threads of the CPU kernels it runs (0 = automatic)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a backend on the simulated device
 */
VvBackend *
vv_backend_sim_new (gint n_threads, GError **error)
{
  VvBackend *inner = vv_backend_cpu_new (n_threads, error);
  if (inner == NULL)
    return NULL;
  VvBackend *be = g_new0 (VvBackend, 1);
  be->ops = &sim_ops;
  be->device = &sim_device;
  g_rec_mutex_init (&be->lock);
  be->n_threads = inner->n_threads;
  be->priv = inner;
  return be;
}
