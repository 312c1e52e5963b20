/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-npy.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

/* NumPy's .npy format: "\x93NUMPY", major, minor, header length (u16 LE
 * for 1.0, u32 LE for 2.0/3.0), a Python dict literal padded with spaces
 * and ended by '\n', then the raw C-order data. We read float32/float64
 * little-endian C-order arrays, which is what the tools exchange. */

G_DEFINE_QUARK (vv-npy-error-quark, vv_npy_error)

#define NPY_MAGIC "\x93NUMPY"
/* bytes of an unsupported dtype quoted in the error */
#define VV_NPY_DTYPE_SHOWN 32

void
vv_npy_array_free (VvNpyArray *a)
{
  if (a == NULL)
    return;
  g_free (a->data);
  g_free (a);
}

static gboolean
fail (GError **error, gint code, const gchar *path, const gchar *what)
{
  g_set_error (error, VV_NPY_ERROR, code, "%s: %s", path, what);
  return FALSE;
}

/* Value of 'key' in the header dict: returns a pointer just after "'key':". */
static const gchar *
dict_value (const gchar *hdr, const gchar *key)
{
  g_autofree gchar *pat = g_strdup_printf ("'%s'", key);
  const gchar *p = strstr (hdr, pat);
  if (p == NULL)
    return NULL;
  p += strlen (pat);
  while (*p == ' ')
    p++;
  if (*p != ':')
    return NULL;
  p++;
  while (*p == ' ')
    p++;
  return p;
}

/* TRUE if @p starts with the literal @lit followed by the end of the value
 * (spaces, then ',' or '}'). */
static gboolean
value_is (const gchar *p, const gchar *lit)
{
  if (!g_str_has_prefix (p, lit))
    return FALSE;
  p += strlen (lit);
  while (*p == ' ')
    p++;
  return *p == ',' || *p == '}';
}

static gboolean
parse_shape (const gchar *p, VvNpyArray *a)
{
  if (*p != '(')
    return FALSE;
  p++;
  a->ndim = 0;
  while (TRUE) {
    while (*p == ' ')
      p++;
    if (*p == ')')
      return TRUE;
    if (!g_ascii_isdigit (*p) || a->ndim >= VV_NPY_MAX_DIMS)
      return FALSE;
    gchar *end;
    guint64 v = g_ascii_strtoull (p, &end, 10);
    if (end == p || v > G_MAXINT64)
      return FALSE;
    a->shape[a->ndim++] = (gint64) v;
    p = end;
    while (*p == ' ')
      p++;
    if (*p == ',')
      p++;
    else if (*p != ')')
      return FALSE;
  }
}

/* The shape's closing parenthesis must end the value. */
static gboolean
shape_ends (const gchar *p)
{
  p = strchr (p, ')');
  return p != NULL && value_is (p, ")");
}

/**
 * vv_npy_load:
 * @path: a .npy file
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the array as float32
 */
VvNpyArray *
vv_npy_load (const gchar *path, GError **error)
{
  g_autofree gchar *buf = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &buf, &len, &local)) {
    g_set_error (error, VV_NPY_ERROR, VV_NPY_ERROR_IO, "%s", local->message);
    return NULL;
  }
  if (len < 6 || memcmp (buf, NPY_MAGIC, 6) != 0)
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "not a .npy file (bad magic)"), NULL);
  if (len < 10)
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "truncated header"), NULL);
  guint major = (guint8) buf[6];
  gsize hlen, off;
  if (major == 1) {
    hlen = (guint8) buf[8] | ((gsize) (guint8) buf[9] << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12)
      return (fail (error, VV_NPY_ERROR_FORMAT, path, "truncated header"), NULL);
    hlen = (guint8) buf[8] | ((gsize) (guint8) buf[9] << 8) | ((gsize) (guint8) buf[10] << 16) |
        ((gsize) (guint8) buf[11] << 24);
    off = 12;
  } else {
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "unsupported .npy format version"), NULL);
  }
  if (hlen > len - off)
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "header runs past the end of the file"), NULL);
  if (memchr (buf + off, '\0', hlen) != NULL)
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "NUL byte in the header"), NULL);
  g_autofree gchar *hdr = g_strndup (buf + off, hlen);
  {
    const gchar *h = hdr;
    while (*h == ' ')
      h++;
    if (*h != '{' || strchr (h, '}') == NULL)
      return (fail (error, VV_NPY_ERROR_FORMAT, path, "header is not a Python dict literal"), NULL);
  }

  const gchar *descr = dict_value (hdr, "descr");
  const gchar *fortran = dict_value (hdr, "fortran_order");
  const gchar *shape = dict_value (hdr, "shape");
  if (descr == NULL || fortran == NULL || shape == NULL)
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "header lacks descr, fortran_order or shape"), NULL);
  gsize esize;
  if (value_is (descr, "'<f4'"))
    esize = 4;
  else if (value_is (descr, "'<f8'"))
    esize = 8;
  else {
    /* the header's bytes, escaped (messages are UTF-8) and cut short */
    gsize dlen = strcspn (descr, ",}");
    g_autofree gchar *raw = g_strndup (descr, MIN (dlen, VV_NPY_DTYPE_SHOWN));
    g_autofree gchar *d = g_strescape (raw, NULL);
    g_set_error (error, VV_NPY_ERROR, VV_NPY_ERROR_DTYPE,
        "%s: dtype %s%s%s is not supported (only little-endian float32 '<f4' or float64 '<f8')",
        path, d, dlen > VV_NPY_DTYPE_SHOWN ? "…" : "",
        g_str_has_prefix (raw, "'>") ? " (big-endian)" : "");
    return NULL;
  }
  if (value_is (fortran, "True"))
    return (fail (error, VV_NPY_ERROR_DTYPE, path, "Fortran-order arrays are not supported"), NULL);
  if (!value_is (fortran, "False"))
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "fortran_order is neither True nor False"), NULL);

  g_autoptr (VvNpyArray) a = g_new0 (VvNpyArray, 1);
  if (!parse_shape (shape, a) || !shape_ends (shape))
    return (fail (error, VV_NPY_ERROR_FORMAT, path, "malformed shape in header"), NULL);
  gsize n = 1;
  for (gint i = 0; i < a->ndim; i++) {
    if (a->shape[i] != 0 && n > G_MAXSIZE / 8 / (gsize) a->shape[i])
      return (fail (error, VV_NPY_ERROR_FORMAT, path, "shape too large"), NULL);
    n *= (gsize) a->shape[i];
  }
  gsize data_off = off + hlen;
  if (len - data_off < n * esize) {
    g_autofree gchar *msg = g_strdup_printf ("data truncated: %" G_GSIZE_FORMAT " bytes for %"
        G_GSIZE_FORMAT " values", len - data_off, n);
    return (fail (error, VV_NPY_ERROR_FORMAT, path, msg), NULL);
  }
  a->n = n;
  a->data = g_try_new (gfloat, MAX (n, 1));
  if (a->data == NULL)
    return (fail (error, VV_NPY_ERROR_IO, path, "out of memory"), NULL);
  const guint8 *src = (const guint8 *) buf + data_off;
  for (gsize i = 0; i < n; i++) {
    if (esize == 4) {
      guint32 u;
      memcpy (&u, src + 4 * i, 4);
      u = GUINT32_FROM_LE (u);
      memcpy (&a->data[i], &u, 4);
    } else {
      guint64 u;
      gdouble d;
      memcpy (&u, src + 8 * i, 8);
      u = GUINT64_FROM_LE (u);
      memcpy (&d, &u, 8);
      a->data[i] = (gfloat) d;
    }
  }
  return g_steal_pointer (&a);
}

/**
 * vv_npy_save:
 * @path: file to write
 * @data: (array): C-order values
 * @ndim: number of dimensions
 * @shape: (array length=ndim): dimension sizes
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vv_npy_save (const gchar *path, const gfloat *data, gint ndim, const gint64 *shape,
    GError **error)
{
  g_return_val_if_fail (ndim >= 0 && ndim <= VV_NPY_MAX_DIMS, FALSE);
  GString *dict = g_string_new ("{'descr': '<f4', 'fortran_order': False, 'shape': (");
  gsize n = 1;
  for (gint i = 0; i < ndim; i++) {
    g_string_append_printf (dict, "%" G_GINT64_FORMAT ",%s", shape[i], i + 1 < ndim ? " " : "");
    n *= (gsize) shape[i];
  }
  if (ndim > 1)
    g_string_truncate (dict, dict->len - 1);   /* "(a, b)" rather than "(a, b,)" */
  g_string_append (dict, "), }");
  /* total header (magic..'\n') a multiple of 64, as numpy writes it;
   * format 2.0 only when the padded dict does not fit a u16 length */
  gsize total = ((10 + dict->len + 1 + 63) / 64) * 64;
  gboolean v2 = total - 10 > G_MAXUINT16;
  gsize pre = v2 ? 12 : 10;
  if (v2)
    total = ((12 + dict->len + 1 + 63) / 64) * 64;
  while (pre + dict->len + 1 < total)
    g_string_append_c (dict, ' ');
  g_string_append_c (dict, '\n');

  GString *out = g_string_sized_new (total + n * 4);
  g_string_append_len (out, NPY_MAGIC, 6);
  g_string_append_c (out, v2 ? 2 : 1);
  g_string_append_c (out, 0);
  guint32 hl = (guint32) dict->len;
  g_string_append_c (out, (gchar) (hl & 0xff));
  g_string_append_c (out, (gchar) ((hl >> 8) & 0xff));
  if (v2) {
    g_string_append_c (out, (gchar) ((hl >> 16) & 0xff));
    g_string_append_c (out, (gchar) ((hl >> 24) & 0xff));
  }
  g_string_append_len (out, dict->str, dict->len);
  for (gsize i = 0; i < n; i++) {
    guint32 u;
    memcpy (&u, &data[i], 4);
    u = GUINT32_TO_LE (u);
    g_string_append_len (out, (const gchar *) &u, 4);
  }
  g_string_free (dict, TRUE);
  g_autoptr (GError) local = NULL;
  /* g_file_set_contents: temp file + rename. (With G_FILE_SET_CONTENTS_NONE,
   * GLib 2.74 overwrites in place without truncating a longer old file.) */
  gboolean ok = g_file_set_contents (path, out->str, out->len, &local);
  g_string_free (out, TRUE);
  if (!ok)
    g_set_error (error, VV_NPY_ERROR, VV_NPY_ERROR_IO, "%s", local->message);
  return ok;
}
