/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VV_NPY_ERROR (vv_npy_error_quark ())
GQuark vv_npy_error_quark (void);

typedef enum {
  VV_NPY_ERROR_IO,
  VV_NPY_ERROR_FORMAT,     /* not a .npy file, bad header, truncated data */
  VV_NPY_ERROR_DTYPE,      /* not float32/float64 little-endian, or Fortran order */
} VvNpyError;

#define VV_NPY_MAX_DIMS 8

/**
 * VvNpyArray:
 * @ndim: number of dimensions
 * @shape: dimension sizes
 * @data: C-order float32 values (converted from float64 if the file had those)
 * @n: number of values
 */
typedef struct {
  gint ndim;
  gint64 shape[VV_NPY_MAX_DIMS];
  gfloat *data;
  gsize n;
} VvNpyArray;

/* NumPy .npy (format 1.0/2.0/3.0) float32 or float64, little-endian, C order. */
VvNpyArray *vv_npy_load (const gchar *path, GError **error);
/* Writes float32, C order, format 1.0 (2.0 if the header needs it). */
gboolean    vv_npy_save (const gchar *path, const gfloat *data, gint ndim,
                         const gint64 *shape, GError **error);
void        vv_npy_array_free (VvNpyArray *a);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvNpyArray, vv_npy_array_free)

G_END_DECLS
