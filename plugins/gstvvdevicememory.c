/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvvdevicememory.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vv_device_memory_debug);
#define GST_CAT_DEFAULT gst_vv_device_memory_debug

typedef struct {
  GstMemory mem;
  VvEngine *engine;             /* a reference */
  VvTensor *tensor;             /* owned by the root memory (mem.parent == NULL) */
  /* root memory only: the host copy made by the first READ map */
  GMutex lock;
  gpointer staging;
} GstVvDeviceMemory;

typedef struct {
  GstAllocator parent;
} GstVvDeviceAllocator;

typedef struct {
  GstAllocatorClass parent_class;
} GstVvDeviceAllocatorClass;

GType gst_vv_device_allocator_get_type (void);
G_DEFINE_TYPE (GstVvDeviceAllocator, gst_vv_device_allocator, GST_TYPE_ALLOCATOR);

static GstVvDeviceMemory *
root_of (GstVvDeviceMemory *m)
{
  return m->mem.parent ? (GstVvDeviceMemory *) m->mem.parent : m;
}

static GstMemory *
allocator_alloc (GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
  /* device memory belongs to an engine's backend, which gst_allocator_alloc()
   * cannot name (the allocator is flagged CUSTOM_ALLOC) */
  GST_WARNING_OBJECT (allocator, "cannot allocate %" G_GSIZE_FORMAT " bytes without an "
      "engine; use gst_vv_device_memory_new_copy()", size);
  return NULL;
}

static void
allocator_free (GstAllocator *allocator, GstMemory *mem)
{
  GstVvDeviceMemory *m = (GstVvDeviceMemory *) mem;
  if (mem->parent == NULL && m->tensor != NULL)
    vv_backend_tensor_free (vv_engine_get_backend (m->engine), m->tensor);
  g_free (m->staging);
  g_mutex_clear (&m->lock);
  vv_engine_unref (m->engine);
  g_free (m);
}

static gpointer
mem_map (GstMemory *mem, gsize maxsize, GstMapFlags flags)
{
  if (flags & GST_MAP_WRITE) {
    /* documented in the header: the elements never write device buffers;
     * a writer copies to system memory first */
    GST_WARNING ("device memory %p cannot be mapped for writing", mem);
    return NULL;
  }
  GstVvDeviceMemory *root = root_of ((GstVvDeviceMemory *) mem);
  g_mutex_lock (&root->lock);
  if (root->staging == NULL) {
    gsize n = vv_tensor_n_bytes (root->tensor);
    gpointer host = g_try_malloc (MAX (n, 1));
    g_autoptr (GError) error = NULL;
    if (host == NULL || !vv_backend_tensor_get (vv_engine_get_backend (root->engine),
            root->tensor, 0, host, n, &error)) {
      GST_ERROR ("cannot download %" G_GSIZE_FORMAT " bytes of device memory %p: %s", n, mem,
          error ? error->message : "out of memory");
      g_free (host);
      g_mutex_unlock (&root->lock);
      return NULL;
    }
    GST_LOG ("downloaded %" G_GSIZE_FORMAT " bytes of device memory %p for reading", n, mem);
    root->staging = host;
  }
  gpointer data = root->staging;
  g_mutex_unlock (&root->lock);
  return data;
}

static void
mem_unmap (GstMemory *mem)
{
  /* the staging copy stays until the memory is freed: the tensor never
   * changes (no WRITE maps), so a second map needs no second download */
}

static GstMemory *
wrap (VvEngine *engine, VvTensor *tensor, GstMemory *parent, gsize offset, gsize size)
{
  GstVvDeviceMemory *m = g_new0 (GstVvDeviceMemory, 1);
  gsize maxsize = vv_tensor_n_bytes (tensor);
  gst_memory_init (GST_MEMORY_CAST (m), 0, gst_vv_device_allocator_get (), parent, maxsize,
      0, offset, size);
  m->engine = vv_engine_ref (engine);
  m->tensor = tensor;
  g_mutex_init (&m->lock);
  return GST_MEMORY_CAST (m);
}

static GstMemory *
mem_share (GstMemory *mem, gssize offset, gssize size)
{
  GstVvDeviceMemory *root = root_of ((GstVvDeviceMemory *) mem);
  if (size == -1)
    size = mem->size - offset;
  /* a window on the same tensor: the root keeps the tensor and the
   * staging copy, the share keeps the root (mem.parent) */
  return wrap (root->engine, root->tensor, GST_MEMORY_CAST (root), mem->offset + offset, size);
}

static GstMemory *
mem_copy (GstMemory *mem, gssize offset, gssize size)
{
  GstVvDeviceMemory *m = (GstVvDeviceMemory *) mem;
  GstVvDeviceMemory *root = root_of (m);
  if (size == -1)
    size = mem->size > (gsize) offset ? mem->size - offset : 0;
  if (mem->offset + offset == 0 && (gsize) size == vv_tensor_n_bytes (root->tensor)) {
    g_autoptr (GError) error = NULL;
    GstMemory *copy = gst_vv_device_memory_new_copy (root->engine, root->tensor, &error);
    if (copy == NULL)
      GST_ERROR ("device copy of %p failed: %s", mem, error->message);
    return copy;
  }
  /* part of a tensor: the bytes in system memory (views must be whole rows
   * of a contiguous tensor, which an arbitrary byte range is not) */
  GstMapInfo map;
  if (!gst_memory_map (mem, &map, GST_MAP_READ))
    return NULL;
  GstMemory *copy = NULL;
  if ((gsize) offset + size <= map.size) {
    gpointer data = g_memdup2 (map.data + offset, size);
    copy = gst_memory_new_wrapped (0, data, size, 0, size, data, g_free);
  }
  gst_memory_unmap (mem, &map);
  return copy;
}

static void
gst_vv_device_allocator_class_init (GstVvDeviceAllocatorClass *klass)
{
  GstAllocatorClass *ac = GST_ALLOCATOR_CLASS (klass);
  ac->alloc = allocator_alloc;
  ac->free = allocator_free;
  GST_DEBUG_CATEGORY_INIT (gst_vv_device_memory_debug, "vvdevicememory", 0,
      "vv device memory (memory:CUDAMemory between vv elements)");
}

static void
gst_vv_device_allocator_init (GstVvDeviceAllocator *self)
{
  GstAllocator *a = GST_ALLOCATOR_CAST (self);
  a->mem_type = GST_VV_DEVICE_MEMORY_TYPE;
  a->mem_map = mem_map;
  a->mem_unmap = mem_unmap;
  a->mem_copy = mem_copy;
  a->mem_share = mem_share;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

GstAllocator *
gst_vv_device_allocator_get (void)
{
  static GstAllocator *allocator = NULL;
  if (g_once_init_enter (&allocator)) {
    GstAllocator *a = g_object_new (gst_vv_device_allocator_get_type (), NULL);
    gst_object_ref_sink (a);
    /* lives for the process, as the system allocator does */
    GST_OBJECT_FLAG_SET (a, GST_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&allocator, a);
  }
  return allocator;
}

GstMemory *
gst_vv_device_memory_new_wrapped (VvEngine *engine, VvTensor *tensor)
{
  g_return_val_if_fail (engine != NULL && tensor != NULL, NULL);
  return wrap (engine, tensor, NULL, 0, vv_tensor_n_bytes (tensor));
}

GstMemory *
gst_vv_device_memory_new_copy (VvEngine *engine, const VvTensor *src, GError **error)
{
  g_return_val_if_fail (engine != NULL && src != NULL, NULL);
  VvBackend *be = vv_engine_get_backend (engine);
  VvTensor *t = vv_backend_tensor_new (be, src->dtype, src->ndim, src->shape, error);
  if (t == NULL)
    return NULL;
  if (!vv_backend_tensor_copy (be, t, src, error)) {
    vv_backend_tensor_free (be, t);
    return NULL;
  }
  return gst_vv_device_memory_new_wrapped (engine, t);
}

gboolean
gst_is_vv_device_memory (GstMemory *mem)
{
  return mem != NULL && mem->allocator != NULL
      && g_strcmp0 (mem->allocator->mem_type, GST_VV_DEVICE_MEMORY_TYPE) == 0;
}

const VvTensor *
gst_vv_device_memory_get_tensor (GstMemory *mem)
{
  g_return_val_if_fail (gst_is_vv_device_memory (mem), NULL);
  GstVvDeviceMemory *root = root_of ((GstVvDeviceMemory *) mem);
  if (mem->offset != 0 || mem->size != vv_tensor_n_bytes (root->tensor))
    return NULL;
  return root->tensor;
}

VvEngine *
gst_vv_device_memory_get_engine (GstMemory *mem)
{
  g_return_val_if_fail (gst_is_vv_device_memory (mem), NULL);
  return ((GstVvDeviceMemory *) mem)->engine;
}

GstMemory *
gst_vv_buffer_peek_device_memory (GstBuffer *buf)
{
  if (buf == NULL || gst_buffer_n_memory (buf) != 1)
    return NULL;
  GstMemory *mem = gst_buffer_peek_memory (buf, 0);
  if (!gst_is_vv_device_memory (mem) || gst_vv_device_memory_get_tensor (mem) == NULL)
    return NULL;
  return mem;
}

gboolean
gst_vv_buffer_has_device_memory (GstBuffer *buf)
{
  guint n = buf ? gst_buffer_n_memory (buf) : 0;
  for (guint i = 0; i < n; i++)
    if (gst_is_vv_device_memory (gst_buffer_peek_memory (buf, i)))
      return TRUE;
  return FALSE;
}

GstBuffer *
gst_vv_buffer_to_system (GstBuffer *buf, GError **error)
{
  gsize size = gst_buffer_get_size (buf);
  GstBuffer *out = gst_buffer_new_allocate (NULL, size, NULL);
  GstMapInfo map;
  if (out == NULL || !gst_buffer_map (out, &map, GST_MAP_WRITE)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
        "cannot allocate %" G_GSIZE_FORMAT " bytes of system memory", size);
    if (out)
      gst_buffer_unref (out);
    return NULL;
  }
  GstMemory *dev = gst_vv_buffer_peek_device_memory (buf);
  gboolean ok;
  if (dev != NULL) {
    /* straight from the device: no staging copy to keep */
    ok = vv_backend_tensor_get (vv_engine_get_backend (gst_vv_device_memory_get_engine (dev)),
        gst_vv_device_memory_get_tensor (dev), 0, map.data, size, error);
  } else {
    ok = gst_buffer_extract (buf, 0, map.data, size) == size;
    if (!ok)
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "cannot read the %" G_GSIZE_FORMAT " bytes of the buffer", size);
  }
  gst_buffer_unmap (out, &map);
  if (!ok) {
    gst_buffer_unref (out);
    return NULL;
  }
  gst_buffer_copy_into (out, buf, GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  return out;
}
