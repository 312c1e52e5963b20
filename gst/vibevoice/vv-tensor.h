/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * VvDType:
 * @VV_DTYPE_F32: IEEE binary32
 * @VV_DTYPE_F16: IEEE binary16
 * @VV_DTYPE_BF16: bfloat16 (upper half of a binary32)
 * @VV_DTYPE_I32: 32-bit signed integer (token ids, positions)
 * @VV_DTYPE_I8: signed 8-bit codes with F32 scales: one per row (int8
 *   weights, per output channel: element [r, k] is q[r, k] · scale[r]; made
 *   by VV_MODEL_LOAD_INT8, read only by linear() on the CPU backend;
 *   vv_tensor_new_i8()) or one per (row, group of columns) (an int8 KV
 *   cache, one group per KV head: element [r, k] is
 *   q[r, k] · scale[r, k / (cols / groups)]; read only by attention() on
 *   the CPU backend; vv_tensor_new_i8_groups()).
 *
 * Element types the engine computes with. Checkpoint weights keep their
 * stored dtype in memory; activations are F32; ids and positions are I32.
 */
typedef enum {
  VV_DTYPE_F32 = 0,
  VV_DTYPE_F16 = 1,
  VV_DTYPE_BF16 = 2,
  VV_DTYPE_I32 = 3,
  VV_DTYPE_I8 = 4,
} VvDType;

/* A memory space (host RAM, a simulated device, a GPU); see vv-backend.h. */
typedef struct _VvDevice VvDevice;

#define VV_MAX_DIMS 4

/**
 * VvTensor:
 * @dtype: element type
 * @ndim: number of dimensions (0 for a scalar)
 * @shape: size of each dimension, outermost first
 * @stride: distance in elements between neighbours along each dimension
 * @data: first element: a host pointer, or on a device an address only that
 *   device's backends may dereference (offsets into it are views)
 * @device: %NULL for host memory, else the #VvDevice holding the memory
 *
 * A strided view of typed memory. Tensors made by vv_tensor_new() (host) or
 * vv_backend_tensor_new() (any device) own their memory; views
 * (vv_tensor_init_view(), vv_tensor_init_rows()) borrow it, e.g. from a
 * mapped checkpoint, and keep the device of what they view. Row-major: the
 * last dimension has stride 1 when contiguous.
 */
typedef struct _VvTensor VvTensor;
struct _VvTensor {
  VvDType dtype;
  gint ndim;
  gint64 shape[VV_MAX_DIMS];
  gint64 stride[VV_MAX_DIMS];
  gpointer data;
  VvDevice *device;
  /*< private >*/
  gpointer owned;
  gsize owned_bytes;            /* what vv_host_mem_alloc was asked for (host tensors) */
  gfloat *row_scales;           /* VV_DTYPE_I8: F32 [shape[0]][groups], same memory as data */
  gint scale_groups;            /* VV_DTYPE_I8: scales per row (0 or 1: one per row) */
};

gsize        vv_dtype_size (VvDType dtype);
const gchar *vv_dtype_name (VvDType dtype);

VvTensor    *vv_tensor_new (VvDType dtype, gint ndim, const gint64 *shape);
VvTensor    *vv_tensor_new_2d (VvDType dtype, gint64 rows, gint64 cols);
VvTensor    *vv_tensor_new_i8 (gint64 rows, gint64 cols);
VvTensor    *vv_tensor_new_i8_groups (gint64 rows, gint64 cols, gint groups);
gint         vv_tensor_get_scale_groups (const VvTensor *t);
const gfloat *vv_tensor_get_row_scales (const VvTensor *t);
void         vv_tensor_free (VvTensor *t);
void         vv_tensor_init_view (VvTensor *t, VvDType dtype, gint ndim,
                                  const gint64 *shape, gpointer data);
void         vv_tensor_init_rows (VvTensor *view, const VvTensor *t, gint64 row0,
                                  gint64 n_rows);
gint64       vv_tensor_n_elements (const VvTensor *t);
gsize        vv_tensor_n_bytes (const VvTensor *t);
gboolean     vv_tensor_is_contiguous (const VvTensor *t);
gboolean     vv_tensor_same_shape (const VvTensor *a, const VvTensor *b);
gchar       *vv_tensor_shape_string (const VvTensor *t);
gchar       *vv_shape_string (gint ndim, const gint64 *shape);

/* Element access for tests and cold paths (host memory only). */
gfloat       vv_tensor_get_f32 (const VvTensor *t, gint64 flat_index);
void         vv_tensor_set_f32 (VvTensor *t, gint64 flat_index, gfloat v);
void         vv_tensor_row_to_f32 (const VvTensor *t, gint64 row, gfloat *out);

/* Scalar conversions. f32 -> bf16/f16 round to nearest even; NaN stays NaN. */
static inline gfloat
vv_bf16_to_f32 (guint16 h)
{
  union { guint32 u; gfloat f; } v;
  v.u = ((guint32) h) << 16;
  return v.f;
}

guint16      vv_f32_to_bf16 (gfloat f);
gfloat       vv_f16_to_f32 (guint16 h);
guint16      vv_f32_to_f16 (gfloat f);

void         vv_convert_to_f32 (VvDType src_dtype, gconstpointer src, gfloat *dst, gsize n);
void         vv_convert_from_f32 (VvDType dst_dtype, const gfloat *src, gpointer dst, gsize n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvTensor, vv_tensor_free)

G_END_DECLS
