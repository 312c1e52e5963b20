/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tensor.h"
#include "vv-backend-impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Vector loads want 64-byte alignment (one AVX-512 register / cache line). */
#define VV_TENSOR_ALIGN 64

/* Under AddressSanitizer every block comes from (its) malloc, so that its
 * redzones still catch overflows of large tensors; its allocator has no
 * per-thread arenas to fragment. */
#if defined(__SANITIZE_ADDRESS__)
#define VV_HOST_MEM_MAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VV_HOST_MEM_MAP 0
#endif
#endif
#ifndef VV_HOST_MEM_MAP
#define VV_HOST_MEM_MAP 1
#endif

/* The size actually allocated for a request of @bytes (0 when it overflows). */
static gsize
host_mem_size (gsize bytes)
{
  bytes = MAX (bytes, 1);
  if (bytes > G_MAXSIZE - VV_TENSOR_ALIGN)
    return 0;
  return (bytes + VV_TENSOR_ALIGN - 1) / VV_TENSOR_ALIGN * VV_TENSOR_ALIGN;
}

/**
 * vv_host_mem_alloc: (skip)
 * @bytes: size wanted
 * @error: return location for a #GError
 *
 * See vv-backend-impl.h: blocks of at least %VV_HOST_MMAP_MIN bytes are
 * anonymous mappings (page-aligned, zero-filled by the kernel), smaller ones
 * come from posix_memalign. Free with vv_host_mem_free() and the same @bytes.
 *
 * Returns: (nullable): zero-filled memory aligned to 64 bytes
 */
gpointer
vv_host_mem_alloc (gsize bytes, GError **error)
{
  gsize size = host_mem_size (bytes);
  if (size == 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "cannot allocate %" G_GSIZE_FORMAT " bytes of host memory", bytes);
    return NULL;
  }
  if (VV_HOST_MEM_MAP && size >= VV_HOST_MMAP_MIN) {
    void *p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
          "cannot map %" G_GSIZE_FORMAT " bytes of host memory: %s", size, g_strerror (e));
      return NULL;
    }
    return p;
  }
  void *p = NULL;
  if (posix_memalign (&p, VV_TENSOR_ALIGN, size) != 0) {
    g_set_error (error, VV_BACKEND_ERROR, VV_BACKEND_ERROR_NO_MEMORY,
        "cannot allocate %" G_GSIZE_FORMAT " bytes of host memory", size);
    return NULL;
  }
  memset (p, 0, size);
  return p;
}

/**
 * vv_host_mem_free: (skip)
 * @mem: (nullable): a block from vv_host_mem_alloc()
 * @bytes: the size it was allocated with
 */
void
vv_host_mem_free (gpointer mem, gsize bytes)
{
  if (mem == NULL)
    return;
  gsize size = host_mem_size (bytes);
  if (VV_HOST_MEM_MAP && size >= VV_HOST_MMAP_MIN) {
    if (munmap (mem, size) != 0)
      g_critical ("vv_host_mem_free: munmap of %" G_GSIZE_FORMAT " bytes failed: %s", size,
          g_strerror (errno));
    return;
  }
  free (mem);
}

gsize
vv_dtype_size (VvDType dtype)
{
  switch (dtype) {
    case VV_DTYPE_F32:
    case VV_DTYPE_I32:
      return 4;
    case VV_DTYPE_F16:
    case VV_DTYPE_BF16:
      return 2;
    case VV_DTYPE_I8:
      return 1;
  }
  g_return_val_if_reached (0);
}

const gchar *
vv_dtype_name (VvDType dtype)
{
  switch (dtype) {
    case VV_DTYPE_F32:
      return "F32";
    case VV_DTYPE_F16:
      return "F16";
    case VV_DTYPE_BF16:
      return "BF16";
    case VV_DTYPE_I32:
      return "I32";
    case VV_DTYPE_I8:
      return "I8";
  }
  return "invalid";
}

static void
set_contiguous_strides (VvTensor *t)
{
  gint64 s = 1;
  for (gint i = t->ndim - 1; i >= 0; i--) {
    t->stride[i] = s;
    s *= t->shape[i];
  }
}

/**
 * vv_tensor_init_view:
 * @t: (out caller-allocates): the view to fill
 * @dtype: element type
 * @ndim: number of dimensions, at most %VV_MAX_DIMS
 * @shape: (array length=ndim): dimension sizes
 * @data: memory the view borrows
 *
 * Fills @t as a contiguous view of @data; @t does not own the memory.
 */
void
vv_tensor_init_view (VvTensor *t, VvDType dtype, gint ndim, const gint64 *shape,
    gpointer data)
{
  g_return_if_fail (ndim >= 0 && ndim <= VV_MAX_DIMS);
  memset (t, 0, sizeof (*t));
  t->dtype = dtype;
  t->ndim = ndim;
  for (gint i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  set_contiguous_strides (t);
  t->data = data;
}

/**
 * vv_tensor_init_rows:
 * @view: (out caller-allocates): the view to fill
 * @t: a contiguous tensor (host or device)
 * @row0: first index along the outermost dimension
 * @n_rows: number of indices along it
 *
 * Fills @view as the sub-tensor t[row0 : row0 + n_rows, ...], on the same
 * device as @t (the address is offset, never dereferenced here).
 */
void
vv_tensor_init_rows (VvTensor *view, const VvTensor *t, gint64 row0, gint64 n_rows)
{
  g_return_if_fail (t != NULL && t->ndim >= 1 && vv_tensor_is_contiguous (t));
  g_return_if_fail (row0 >= 0 && n_rows >= 0 && row0 + n_rows <= t->shape[0]);
  gint64 shape[VV_MAX_DIMS];
  memcpy (shape, t->shape, sizeof (shape));
  shape[0] = n_rows;
  gsize offset = (gsize) row0 * (gsize) t->stride[0] * vv_dtype_size (t->dtype);
  vv_tensor_init_view (view, t->dtype, t->ndim, shape, (guint8 *) t->data + offset);
  view->device = t->device;
  if (t->row_scales != NULL) {
    view->scale_groups = t->scale_groups;
    view->row_scales = t->row_scales + row0 * vv_tensor_get_scale_groups (t);
  }
}

/* Gives @t @bytes of zeroed host memory of its own; frees @t and returns
 * NULL when there is none. */
static VvTensor *
own_host_memory (VvTensor *t, gsize bytes)
{
  void *mem = vv_host_mem_alloc (bytes, NULL);
  if (mem == NULL) {
    g_free (t);
    return NULL;
  }
  t->data = mem;
  t->owned = mem;
  t->owned_bytes = bytes;
  return t;
}

/**
 * vv_tensor_new:
 * @dtype: element type
 * @ndim: number of dimensions, at most %VV_MAX_DIMS
 * @shape: (array length=ndim): dimension sizes
 *
 * Allocates a zero-filled contiguous host tensor, aligned for vector loads.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL if the memory
 *   cannot be allocated
 */
VvTensor *
vv_tensor_new (VvDType dtype, gint ndim, const gint64 *shape)
{
  g_return_val_if_fail (ndim >= 0 && ndim <= VV_MAX_DIMS, NULL);
  VvTensor *t = g_new0 (VvTensor, 1);
  vv_tensor_init_view (t, dtype, ndim, shape, NULL);
  return own_host_memory (t, vv_tensor_n_bytes (t));
}

/**
 * vv_tensor_new_2d:
 * @dtype: element type
 * @rows: outer dimension
 * @cols: inner dimension
 *
 * Returns: (transfer full) (nullable): a zero-filled [rows, cols] tensor
 */
VvTensor *
vv_tensor_new_2d (VvDType dtype, gint64 rows, gint64 cols)
{
  gint64 shape[2] = { rows, cols };
  return vv_tensor_new (dtype, 2, shape);
}

/**
 * vv_tensor_new_i8:
 * @rows: output channels
 * @cols: input dimension
 *
 * A zero-filled contiguous host I8 [rows, cols] tensor with its F32 row
 * scales in the same allocation (after the codes, 64-byte aligned).
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL if the memory
 *   cannot be allocated
 */
VvTensor *
vv_tensor_new_i8 (gint64 rows, gint64 cols)
{
  return vv_tensor_new_i8_groups (rows, cols, 1);
}

/**
 * vv_tensor_new_i8_groups: (skip)
 * @rows: rows (tokens of a KV cache)
 * @cols: columns, a multiple of @groups
 * @groups: scales per row (KV heads): each covers cols / groups columns
 *
 * A zero-filled contiguous host I8 [rows, cols] tensor with its F32 scales
 * [rows, groups] in the same allocation (after the codes, 64-byte aligned).
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL if the memory
 *   cannot be allocated
 */
VvTensor *
vv_tensor_new_i8_groups (gint64 rows, gint64 cols, gint groups)
{
  g_return_val_if_fail (rows >= 0 && cols >= 0 && groups >= 1 && cols % groups == 0, NULL);
  gint64 shape[2] = { rows, cols };
  VvTensor *t = g_new0 (VvTensor, 1);
  vv_tensor_init_view (t, VV_DTYPE_I8, 2, shape, NULL);
  gsize codes = ((gsize) rows * (gsize) cols + 63) & ~(gsize) 63;
  if (own_host_memory (t, codes + (gsize) rows * (gsize) groups * sizeof (gfloat)) == NULL)
    return NULL;
  t->row_scales = (gfloat *) ((guint8 *) t->data + codes);
  t->scale_groups = groups;
  return t;
}

/**
 * vv_tensor_get_scale_groups: (skip)
 * @t: a tensor
 *
 * Returns: scales per row of an I8 tensor with scales (1 for int8 weights,
 *   the KV heads for an int8 KV cache), else 0
 */
gint
vv_tensor_get_scale_groups (const VvTensor *t)
{
  if (t->dtype != VV_DTYPE_I8 || t->row_scales == NULL)
    return 0;
  return MAX (t->scale_groups, 1);
}

/**
 * vv_tensor_get_row_scales: (skip)
 * @t: an I8 tensor
 *
 * Returns: the F32 scale of each row of @t (in @t's memory), or %NULL for
 *   other dtypes
 */
const gfloat *
vv_tensor_get_row_scales (const VvTensor *t)
{
  return t->dtype == VV_DTYPE_I8 ? t->row_scales : NULL;
}

void
vv_tensor_free (VvTensor *t)
{
  if (t == NULL)
    return;
  if (t->device != NULL)
    vv_device_mem_free (t->device, t->owned);  /* device memory (NULL for a view) */
  else
    vv_host_mem_free (t->owned, t->owned_bytes);
  g_free (t);
}

gint64
vv_tensor_n_elements (const VvTensor *t)
{
  gint64 n = 1;
  for (gint i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

gsize
vv_tensor_n_bytes (const VvTensor *t)
{
  return (gsize) vv_tensor_n_elements (t) * vv_dtype_size (t->dtype);
}

gboolean
vv_tensor_is_contiguous (const VvTensor *t)
{
  gint64 s = 1;
  for (gint i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s)
      return FALSE;
    s *= t->shape[i];
  }
  return TRUE;
}

gboolean
vv_tensor_same_shape (const VvTensor *a, const VvTensor *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (gint i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return TRUE;
}

/**
 * vv_shape_string:
 * @ndim: number of dimensions
 * @shape: (array length=ndim): dimension sizes
 *
 * Returns: (transfer full): the shape as "[a, b, c]", for error messages
 */
gchar *
vv_shape_string (gint ndim, const gint64 *shape)
{
  GString *s = g_string_new ("[");
  for (gint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

gchar *
vv_tensor_shape_string (const VvTensor *t)
{
  return vv_shape_string (t->ndim, t->shape);
}

static gint64
flat_to_offset (const VvTensor *t, gint64 flat)
{
  gint64 off = 0;
  for (gint i = t->ndim - 1; i >= 0; i--) {
    gint64 idx = flat % t->shape[i];
    flat /= t->shape[i];
    off += idx * t->stride[i];
  }
  return off;
}

gfloat
vv_tensor_get_f32 (const VvTensor *t, gint64 flat_index)
{
  gint64 off = flat_to_offset (t, flat_index);
  switch (t->dtype) {
    case VV_DTYPE_F32:
      return ((const gfloat *) t->data)[off];
    case VV_DTYPE_BF16:
      return vv_bf16_to_f32 (((const guint16 *) t->data)[off]);
    case VV_DTYPE_F16:
      return vv_f16_to_f32 (((const guint16 *) t->data)[off]);
    case VV_DTYPE_I32:
      return (gfloat) ((const gint32 *) t->data)[off];
    case VV_DTYPE_I8:
    {
      /* contiguous rows: the column is off % stride[0] */
      gint64 groups = MAX (vv_tensor_get_scale_groups (t), 1), row = off / t->stride[0];
      gint64 col = off % t->stride[0], per = t->stride[0] / groups;
      return ((const gint8 *) t->data)[off] * t->row_scales[row * groups + col / per];
    }
  }
  g_return_val_if_reached (NAN);
}

void
vv_tensor_set_f32 (VvTensor *t, gint64 flat_index, gfloat v)
{
  gint64 off = flat_to_offset (t, flat_index);
  switch (t->dtype) {
    case VV_DTYPE_F32:
      ((gfloat *) t->data)[off] = v;
      return;
    case VV_DTYPE_BF16:
      ((guint16 *) t->data)[off] = vv_f32_to_bf16 (v);
      return;
    case VV_DTYPE_F16:
      ((guint16 *) t->data)[off] = vv_f32_to_f16 (v);
      return;
    case VV_DTYPE_I32:
      ((gint32 *) t->data)[off] = (gint32) v;
      return;
    case VV_DTYPE_I8:
      g_return_if_reached ();     /* codes are made by quantising whole rows */
  }
}

/**
 * vv_tensor_row_to_f32:
 * @t: a contiguous 2-D host tensor
 * @row: row index
 * @out: (array): receives shape[1] floats
 *
 * Converts one row (e.g. an embedding) to F32.
 */
void
vv_tensor_row_to_f32 (const VvTensor *t, gint64 row, gfloat *out)
{
  g_return_if_fail (t->ndim == 2 && row >= 0 && row < t->shape[0]);
  const guint8 *src = (const guint8 *) t->data + row * t->stride[0] * vv_dtype_size (t->dtype);
  if (t->dtype == VV_DTYPE_I8) {
    gint64 groups = MAX (vv_tensor_get_scale_groups (t), 1), per = t->shape[1] / groups;
    for (gint64 k = 0; k < t->shape[1]; k++)
      out[k] = ((const gint8 *) src)[k] * t->row_scales[row * groups + k / per];
    return;
  }
  vv_convert_to_f32 (t->dtype, src, out, t->shape[1]);
}

guint16
vv_f32_to_bf16 (gfloat f)
{
  union { guint32 u; gfloat f; } v = { .f = f };
  if (isnan (f))
    return (guint16) ((v.u >> 16) | 0x40);      /* keep it a (quiet) NaN */
  guint32 rounding = 0x7fff + ((v.u >> 16) & 1);
  return (guint16) ((v.u + rounding) >> 16);
}

gfloat
vv_f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  union { guint32 u; gfloat f; } v;
  if (exp == 0) {
    /* zero or subnormal: mant * 2^-24 */
    gfloat m = ldexpf ((gfloat) mant, -24);
    return sign ? -m : m;
  } else if (exp == 31) {
    v.u = sign | 0x7f800000 | (mant << 13);
  } else {
    v.u = sign | ((exp + 112) << 23) | (mant << 13);
  }
  return v.f;
}

guint16
vv_f32_to_f16 (gfloat f)
{
  union { guint32 u; gfloat f; } v = { .f = f };
  guint32 sign = (v.u >> 16) & 0x8000;
  guint32 abs = v.u & 0x7fffffff;
  if (abs > 0x7f800000)
    return (guint16) (sign | 0x7e00);           /* NaN */
  if (abs >= 0x477ff000)                        /* rounds to >= 65536: inf */
    return (guint16) (sign | 0x7c00);
  if (abs < 0x38800000) {
    /* subnormal half (or zero): round(|f| * 2^24) to nearest even */
    gfloat a = fabsf (f) * 16777216.0f;
    guint32 m = (guint32) nearbyintf (a);
    return (guint16) (sign | m);
  }
  guint32 mant = abs & 0x7fffff;
  guint32 exp = (abs >> 23) - 112;
  guint32 h = (exp << 10) | (mant >> 13);
  guint32 rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    h++;
  return (guint16) (sign | h);
}

void
vv_convert_to_f32 (VvDType src_dtype, gconstpointer src, gfloat *dst, gsize n)
{
  switch (src_dtype) {
    case VV_DTYPE_F32:
      memcpy (dst, src, n * sizeof (gfloat));
      return;
    case VV_DTYPE_BF16:{
      const guint16 *s = src;
      for (gsize i = 0; i < n; i++)
        dst[i] = vv_bf16_to_f32 (s[i]);
      return;
    }
    case VV_DTYPE_F16:{
      const guint16 *s = src;
      for (gsize i = 0; i < n; i++)
        dst[i] = vv_f16_to_f32 (s[i]);
      return;
    }
    case VV_DTYPE_I32:
    case VV_DTYPE_I8:
      g_return_if_reached ();     /* not a float type / needs its row scales */
  }
}

void
vv_convert_from_f32 (VvDType dst_dtype, const gfloat *src, gpointer dst, gsize n)
{
  switch (dst_dtype) {
    case VV_DTYPE_F32:
      memcpy (dst, src, n * sizeof (gfloat));
      return;
    case VV_DTYPE_BF16:{
      guint16 *d = dst;
      for (gsize i = 0; i < n; i++)
        d[i] = vv_f32_to_bf16 (src[i]);
      return;
    }
    case VV_DTYPE_F16:{
      guint16 *d = dst;
      for (gsize i = 0; i < n; i++)
        d[i] = vv_f32_to_f16 (src[i]);
      return;
    }
    case VV_DTYPE_I32:
    case VV_DTYPE_I8:
      g_return_if_reached ();     /* not a float type / needs its row scales */
  }
}
