/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-tensor.h"

G_BEGIN_DECLS

#define VV_SAFETENSORS_ERROR (vv_safetensors_error_quark ())
GQuark vv_safetensors_error_quark (void);

/**
 * VvSafetensorsError:
 * @VV_SAFETENSORS_ERROR_IO: the file cannot be opened, mapped or written
 * @VV_SAFETENSORS_ERROR_TRUNCATED: the file is shorter than its header says
 * @VV_SAFETENSORS_ERROR_HEADER: the JSON header is malformed (bad JSON, not an
 *   object, a field missing or of the wrong type)
 * @VV_SAFETENSORS_ERROR_DTYPE: a dtype string that is not a safetensors dtype
 * @VV_SAFETENSORS_ERROR_OFFSETS: data offsets out of range, overlapping,
 *   leaving holes, or not matching dtype × shape
 */
typedef enum {
  VV_SAFETENSORS_ERROR_IO,
  VV_SAFETENSORS_ERROR_TRUNCATED,
  VV_SAFETENSORS_ERROR_HEADER,
  VV_SAFETENSORS_ERROR_DTYPE,
  VV_SAFETENSORS_ERROR_OFFSETS,
} VvSafetensorsError;

/**
 * VV_JSON_MAX_DEPTH:
 *
 * Nesting limit for every JSON file the engine reads (config.json,
 * preprocessor_config.json, the shard index, tokenizer files, JSON dialog
 * scripts, safetensors headers). Real files nest at most about five levels;
 * json-glib's parser recurses, so a deeper text must be refused before it
 * reaches the parser (80 000 '[' overflow the stack).
 */
#define VV_JSON_MAX_DEPTH 64

/* Scans @text (@len bytes) for nesting depth of '[' and '{', skipping string
 * contents (with backslash escapes), in one linear pass without recursion.
 * Validates nothing else (json-glib does the grammar afterwards). Returns
 * FALSE with an error in @domain/@code, "WHAT: JSON nests deeper than
 * MAX_DEPTH levels (at byte N)", when the depth exceeds @max_depth. */
gboolean vv_json_check_depth (const gchar *text, gsize len, guint max_depth,
                              const gchar *what, GQuark domain, gint code,
                              GError **error);

#define VV_SAFETENSORS_MAX_DIMS 8

/**
 * VvSafetensorsEntry:
 * @name: tensor name
 * @dtype_name: the safetensors dtype string ("BF16", "F32", "I64", ...)
 * @supported: whether @dtype is meaningful (F32, F16 or BF16)
 * @dtype: engine dtype when @supported
 * @ndim: number of dimensions (0 = scalar)
 * @shape: dimension sizes
 * @data: first byte of the tensor inside the mapped file
 * @n_bytes: size in bytes (= elements × dtype size, checked)
 *
 * One tensor of a mapped safetensors file. Valid while the file is open.
 */
typedef struct {
  const gchar *name;
  const gchar *dtype_name;
  gboolean supported;
  VvDType dtype;
  gint ndim;
  gint64 shape[VV_SAFETENSORS_MAX_DIMS];
  const guint8 *data;
  gsize n_bytes;
} VvSafetensorsEntry;

typedef struct _VvSafetensors VvSafetensors;

/* Maps @path (GMappedFile, read-only) and validates the whole header:
 * every malformed file is a VV_SAFETENSORS_ERROR naming @path (and the
 * tensor, where one is at fault); never a crash. */
VvSafetensors            *vv_safetensors_open (const gchar *path, GError **error);
void                      vv_safetensors_free (VvSafetensors *st);
const gchar              *vv_safetensors_get_path (VvSafetensors *st);
guint                     vv_safetensors_get_n_tensors (VvSafetensors *st);
/* Entries in file (data offset) order. */
const VvSafetensorsEntry *vv_safetensors_get_entry (VvSafetensors *st, guint index);
const VvSafetensorsEntry *vv_safetensors_lookup (VvSafetensors *st, const gchar *name);
/* "__metadata__" string map, or NULL if the file has none. (element-type utf8 utf8) */
GHashTable               *vv_safetensors_get_metadata (VvSafetensors *st);
/* Fills @view with the entry (host memory, borrowed). FALSE if not F32/F16/BF16
 * or more than VV_MAX_DIMS dimensions. */
gboolean                  vv_safetensors_entry_to_tensor (const VvSafetensorsEntry *e,
                                                          VvTensor *view);

/**
 * VvSafetensorsSpec:
 * @name: tensor name
 * @dtype: element type written
 * @ndim: number of dimensions
 * @shape: dimension sizes
 *
 * A tensor to write, see vv_safetensors_write().
 */
typedef struct {
  const gchar *name;
  VvDType dtype;
  gint ndim;
  gint64 shape[VV_MAX_DIMS];
} VvSafetensorsSpec;

/**
 * VvSafetensorsFillFunc:
 * @spec: the tensor being written
 * @index: its index in the spec array
 * @data: (array length=n_bytes): buffer to fill with the tensor's bytes
 * @n_bytes: size of @data
 * @user_data: user data
 *
 * Produces one tensor's bytes while vv_safetensors_write() streams the file,
 * so a multi-gigabyte checkpoint never sits in memory at once.
 *
 * Returns: %FALSE to abort writing (set @error)
 */
typedef gboolean (*VvSafetensorsFillFunc) (const VvSafetensorsSpec *spec, guint index,
                                           guint8 *data, gsize n_bytes,
                                           gpointer user_data, GError **error);

/* Writes a safetensors file: header (tensors in the given order, offsets
 * contiguous, header padded with spaces to a multiple of 8 bytes as the
 * reference writer does), then each tensor's bytes from @fill.
 * @metadata (element-type utf8 utf8) (nullable) becomes "__metadata__". */
gboolean vv_safetensors_write (const gchar *path, const VvSafetensorsSpec *specs,
                               guint n_specs, GHashTable *metadata,
                               VvSafetensorsFillFunc fill, gpointer user_data,
                               GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvSafetensors, vv_safetensors_free)

G_END_DECLS
