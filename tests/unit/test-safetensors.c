/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <vibevoice/vv-safetensors.h>
#include <vibevoice/vv-tensor.h>

/* Every test writes its files into one private temporary directory, removed
 * at the end. Malformed files are built byte by byte here rather than by the
 * writer, so the reader is checked against the format, not against itself. */
static gchar *tmp_dir;

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static gchar *
write_bytes (const gchar *name, const void *bytes, gsize len)
{
  gchar *path = tmp_path (name);
  g_autoptr (GError) error = NULL;
  /* No fsync: the fuzz loop rewrites the same file thousands of times.
   * Unlink first: without CONSISTENT, GLib 2.74 writes in place and does
   * not truncate, so a shorter file would keep the old file's tail. */
  g_unlink (path);
  g_file_set_contents_full (path, bytes, (gssize) len, G_FILE_SET_CONTENTS_NONE, 0644, &error);
  g_assert_no_error (error);
  return path;
}

/* A file with the given header text (its exact length is the header
 * length) followed by @data_len data bytes 0, 1, 2, ... */
static gchar *
write_file (const gchar *name, const gchar *header, gsize header_len, gsize data_len)
{
  if (header_len == (gsize) -1)
    header_len = strlen (header);
  gsize len = 8 + header_len + data_len;
  g_autofree guint8 *bytes = g_malloc (len);
  guint64 n = GUINT64_TO_LE ((guint64) header_len);
  memcpy (bytes, &n, 8);
  memcpy (bytes + 8, header, header_len);
  for (gsize i = 0; i < data_len; i++)
    bytes[8 + header_len + i] = (guint8) i;
  return write_bytes (name, bytes, len);
}

static void
assert_open_fails (const gchar *path, gint code, const gchar *must_mention)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_null (st);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, VV_SAFETENSORS_ERROR, code);
  g_autofree gchar *base = g_path_get_basename (path);
  g_assert_nonnull (strstr (error->message, base));
  if (must_mention)
    g_assert_nonnull (strstr (error->message, must_mention));
}

/* ---------------------------------------------------------------------- */
/* Round trip through the writer                                           */
/* ---------------------------------------------------------------------- */

static guint8
pattern_byte (guint index, gsize k)
{
  return (guint8) (index * 31u + k * 7u + 1u);
}

typedef struct {
  guint calls;
  guint abort_at;               /* G_MAXUINT: never */
  gboolean abort_sets_error;
  gsize seen_bytes[16];
} FillState;

static gboolean
fill_pattern (const VvSafetensorsSpec *spec, guint index, guint8 *data, gsize n_bytes,
    gpointer user_data, GError **error)
{
  FillState *fs = user_data;
  g_assert_nonnull (data);
  /* Called once per tensor, in order. */
  g_assert_cmpuint (index, ==, fs->calls);
  if (index < G_N_ELEMENTS (fs->seen_bytes))
    fs->seen_bytes[index] = n_bytes;
  fs->calls++;
  if (index == fs->abort_at) {
    if (fs->abort_sets_error)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "stopped on purpose");
    return FALSE;
  }
  for (gsize k = 0; k < n_bytes; k++)
    data[k] = pattern_byte (index, k);
  return TRUE;
}

static const VvSafetensorsSpec round_trip_specs[] = {
  { "model.embed.weight", VV_DTYPE_F32, 2, { 3, 5 } },
  { "scalar", VV_DTYPE_F16, 0, { 0 } },
  { "empty", VV_DTYPE_BF16, 2, { 4, 0 } },
  { "conv.weight", VV_DTYPE_BF16, 4, { 2, 3, 4, 5 } },
  { "odd \"name\" with \\ and\nnewline, \xc3\xa9", VV_DTYPE_F32, 1, { 7 } },
  { "bias", VV_DTYPE_F16, 1, { 1 } },
  { "big", VV_DTYPE_F32, 3, { 10, 20, 30 } },
};

static gsize
spec_bytes (const VvSafetensorsSpec *s)
{
  gsize n = vv_dtype_size (s->dtype);
  for (gint d = 0; d < s->ndim; d++)
    n *= (gsize) s->shape[d];
  return n;
}

static void
test_round_trip (void)
{
  g_autofree gchar *path = tmp_path ("round-trip.safetensors");
  guint n_specs = G_N_ELEMENTS (round_trip_specs);
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, "format", "pt");
  g_hash_table_insert (meta, "note", "a \"quote\", a \\ and \xc3\xa9");
  g_hash_table_insert (meta, "empty", "");

  FillState fs = { 0, G_MAXUINT, FALSE, { 0 } };
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_safetensors_write (path, round_trip_specs, n_specs, meta, fill_pattern,
          &fs, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fs.calls, ==, n_specs);
  gsize total = 0;
  for (guint i = 0; i < n_specs; i++) {
    g_assert_cmpuint (fs.seen_bytes[i], ==, spec_bytes (&round_trip_specs[i]));
    total += spec_bytes (&round_trip_specs[i]);
  }

  /* Raw layout: u64 header length, header padded to 8 with spaces,
   * "__metadata__" first, data region exactly the tensors. */
  g_autofree gchar *raw = NULL;
  gsize raw_len = 0;
  g_assert_true (g_file_get_contents (path, &raw, &raw_len, &error));
  g_assert_cmpuint (raw_len, >=, 8);
  guint64 n;
  memcpy (&n, raw, 8);
  n = GUINT64_FROM_LE (n);
  g_assert_cmpuint ((8 + n) % 8, ==, 0);
  g_assert_cmpuint (raw_len, ==, 8 + n + total);
  g_assert_true (g_str_has_prefix (raw + 8, "{\"__metadata__\""));
  gsize last_brace = 8 + n - 1;
  while (raw[last_brace] == ' ')
    last_brace--;
  g_assert_cmpint (raw[last_brace], ==, '}');
  g_assert_cmpuint (8 + n - 1 - last_brace, <, 8);
  g_autofree gchar *tmp = g_strconcat (path, ".tmp", NULL);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));

  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  g_assert_cmpstr (vv_safetensors_get_path (st), ==, path);
  g_assert_cmpuint (vv_safetensors_get_n_tensors (st), ==, n_specs);

  const guint8 *expected_data = (const guint8 *) raw + 8 + n;
  for (guint i = 0; i < n_specs; i++) {
    const VvSafetensorsSpec *s = &round_trip_specs[i];
    const VvSafetensorsEntry *e = vv_safetensors_get_entry (st, i);
    g_assert_nonnull (e);
    g_assert_cmpstr (e->name, ==, s->name);
    g_assert_true (vv_safetensors_lookup (st, s->name) == e);
    g_assert_cmpstr (e->dtype_name, ==, vv_dtype_name (s->dtype));
    g_assert_true (e->supported);
    g_assert_cmpint (e->dtype, ==, s->dtype);
    g_assert_cmpint (e->ndim, ==, s->ndim);
    for (gint d = 0; d < s->ndim; d++)
      g_assert_cmpint (e->shape[d], ==, s->shape[d]);
    g_assert_cmpuint (e->n_bytes, ==, spec_bytes (s));
    for (gsize k = 0; k < e->n_bytes; k++) {
      if (e->data[k] != pattern_byte (i, k))
        g_error ("tensor %u byte %" G_GSIZE_FORMAT ": %u != %u", i, k, e->data[k],
            pattern_byte (i, k));
    }
    /* Offsets are contiguous in the given order. */
    g_assert_true (memcmp (e->data, expected_data, e->n_bytes) == 0);
    expected_data += e->n_bytes;

    VvTensor view;
    g_assert_true (vv_safetensors_entry_to_tensor (e, &view));
    g_assert_cmpint (view.dtype, ==, s->dtype);
    g_assert_cmpint (view.ndim, ==, s->ndim);
    g_assert_true (view.data == (gpointer) e->data);
    g_assert_cmpuint (vv_tensor_n_bytes (&view), ==, e->n_bytes);
  }
  g_assert_true (expected_data == (const guint8 *) raw + raw_len);
  g_assert_null (vv_safetensors_lookup (st, "missing"));

  /* Strides of the 4-D view are row-major. */
  VvTensor conv;
  g_assert_true (vv_safetensors_entry_to_tensor (vv_safetensors_lookup (st, "conv.weight"), &conv));
  g_assert_cmpint (conv.stride[0], ==, 60);
  g_assert_cmpint (conv.stride[1], ==, 20);
  g_assert_cmpint (conv.stride[2], ==, 5);
  g_assert_cmpint (conv.stride[3], ==, 1);
  g_assert_cmpfloat (vv_tensor_get_f32 (&conv, 0),
      ==, vv_bf16_to_f32 ((guint16) (pattern_byte (3, 0) | (pattern_byte (3, 1) << 8))));

  GHashTable *m = vv_safetensors_get_metadata (st);
  g_assert_nonnull (m);
  g_assert_cmpuint (g_hash_table_size (m), ==, 3);
  g_assert_cmpstr (g_hash_table_lookup (m, "format"), ==, "pt");
  g_assert_cmpstr (g_hash_table_lookup (m, "note"), ==, "a \"quote\", a \\ and \xc3\xa9");
  g_assert_cmpstr (g_hash_table_lookup (m, "empty"), ==, "");
}

static gboolean
fill_nothing (const VvSafetensorsSpec *spec, guint index, guint8 *data, gsize n_bytes,
    gpointer user_data, GError **error)
{
  g_assert_not_reached ();
  return FALSE;
}

static void
test_write_empty (void)
{
  g_autofree gchar *path = tmp_path ("empty.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_safetensors_write (path, NULL, 0, NULL, fill_nothing, NULL, &error));
  g_assert_no_error (error);
  g_autofree gchar *raw = NULL;
  gsize raw_len = 0;
  g_assert_true (g_file_get_contents (path, &raw, &raw_len, &error));
  /* "{}" padded to 8 bytes. */
  g_assert_cmpuint (raw_len, ==, 16);
  g_assert_true (memcmp (raw + 8, "{}      ", 8) == 0);
  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_safetensors_get_n_tensors (st), ==, 0);
  g_assert_null (vv_safetensors_get_metadata (st));
}

static void
test_write_fill_abort (gconstpointer data)
{
  gboolean sets_error = GPOINTER_TO_INT (data);
  g_autofree gchar *path = tmp_path (sets_error ? "abort-error.safetensors"
      : "abort-silent.safetensors");
  g_autofree gchar *tmp = g_strconcat (path, ".tmp", NULL);
  g_autoptr (GError) error = NULL;

  /* A failed write must leave nothing behind... */
  FillState fs = { 0, 3, sets_error, { 0 } };
  g_assert_false (vv_safetensors_write (path, round_trip_specs,
          G_N_ELEMENTS (round_trip_specs), NULL, fill_pattern, &fs, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "conv.weight"));
  if (sets_error) {
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "stopped on purpose"));
  } else {
    g_assert_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO);
  }
  g_assert_cmpuint (fs.calls, ==, 4);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* ...and must not touch an existing file of that name. */
  fs = (FillState) { 0, G_MAXUINT, FALSE, { 0 } };
  g_assert_true (vv_safetensors_write (path, round_trip_specs, 2, NULL, fill_pattern, &fs,
          &error));
  g_assert_no_error (error);
  g_autofree gchar *before = NULL;
  gsize before_len;
  g_assert_true (g_file_get_contents (path, &before, &before_len, NULL));

  fs = (FillState) { 0, 1, sets_error, { 0 } };
  g_assert_false (vv_safetensors_write (path, round_trip_specs,
          G_N_ELEMENTS (round_trip_specs), NULL, fill_pattern, &fs, &error));
  g_assert_nonnull (error);
  g_autofree gchar *after = NULL;
  gsize after_len;
  g_assert_true (g_file_get_contents (path, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_unlink (path);
}

static void
test_write_no_dir (void)
{
  g_autofree gchar *path = g_build_filename (tmp_dir, "no-such-dir", "x.safetensors", NULL);
  FillState fs = { 0, G_MAXUINT, FALSE, { 0 } };
  g_autoptr (GError) error = NULL;
  g_assert_false (vv_safetensors_write (path, round_trip_specs, 2, NULL, fill_pattern, &fs,
          &error));
  g_assert_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_cmpuint (fs.calls, ==, 0);
}

static void
test_write_invalid_specs (void)
{
  g_autofree gchar *path = tmp_path ("invalid-spec.safetensors");
  const VvSafetensorsSpec dup[] = {
    { "a", VV_DTYPE_F32, 1, { 2 } },
    { "a", VV_DTYPE_F32, 1, { 2 } },
  };
  const VvSafetensorsSpec reserved[] = { { "__metadata__", VV_DTYPE_F32, 1, { 2 } } };
  const VvSafetensorsSpec negative[] = { { "neg", VV_DTYPE_F32, 2, { 2, -1 } } };
  const VvSafetensorsSpec dims[] = { { "dims", VV_DTYPE_F32, VV_MAX_DIMS + 1, { 1 } } };
  const VvSafetensorsSpec huge[] = {
    { "huge", VV_DTYPE_F32, 3, { G_GINT64_CONSTANT (1) << 31, G_GINT64_CONSTANT (1) << 31, 8 } },
  };
  struct { const VvSafetensorsSpec *specs; guint n; gint code; const gchar *name; } cases[] = {
    { dup, 2, VV_SAFETENSORS_ERROR_HEADER, "'a'" },
    { reserved, 1, VV_SAFETENSORS_ERROR_HEADER, "__metadata__" },
    { negative, 1, VV_SAFETENSORS_ERROR_HEADER, "neg" },
    { dims, 1, VV_SAFETENSORS_ERROR_HEADER, "dims" },
    { huge, 1, VV_SAFETENSORS_ERROR_HEADER, "huge" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    FillState fs = { 0, G_MAXUINT, FALSE, { 0 } };
    g_autoptr (GError) error = NULL;
    g_assert_false (vv_safetensors_write (path, cases[c].specs, cases[c].n, NULL, fill_pattern,
            &fs, &error));
    g_test_message ("%s", error->message);
    g_assert_error (error, VV_SAFETENSORS_ERROR, cases[c].code);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, cases[c].name));
    g_assert_cmpuint (fs.calls, ==, 0);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  }
}

/* ---------------------------------------------------------------------- */
/* Hand-made valid files                                                   */
/* ---------------------------------------------------------------------- */

static void
test_read_non_float (void)
{
  /* An I64 [2] (16 bytes), a BOOL [3], an F64 scalar, an F32 of 5 dims
   * (valid in the file, too many for a VvTensor), an F4 [4] (2 bytes), with
   * data laid out in that order. */
  const gchar *header =
      "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
      "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[16,19]},"
      "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[19,27]},"
      "\"five\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[27,31]},"
      "\"nib\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[31,33]}}";
  g_autofree gchar *path = write_file ("non-float.safetensors", header, -1, 33);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_safetensors_get_n_tensors (st), ==, 5);

  const struct { const gchar *name, *dtype; gsize n_bytes; gint ndim; } expect[] = {
    { "ids", "I64", 16, 1 }, { "mask", "BOOL", 3, 1 }, { "d", "F64", 8, 0 },
    { "five", "F32", 4, 5 }, { "nib", "F4", 2, 1 },
  };
  gsize offset = 0;
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++) {
    const VvSafetensorsEntry *e = vv_safetensors_get_entry (st, i);
    g_assert_cmpstr (e->name, ==, expect[i].name);
    g_assert_cmpstr (e->dtype_name, ==, expect[i].dtype);
    g_assert_cmpuint (e->n_bytes, ==, expect[i].n_bytes);
    g_assert_cmpint (e->ndim, ==, expect[i].ndim);
    g_assert_cmpuint (e->data[0], ==, offset);  /* data bytes are 0, 1, 2, ... */
    offset += e->n_bytes;
    VvTensor view;
    g_assert_false (vv_safetensors_entry_to_tensor (e, &view));
    g_assert_cmpint (e->supported, ==, strcmp (expect[i].dtype, "F32") == 0);
  }
}

static void
test_read_offset_order (void)
{
  /* Header order differs from data order; entries come in data order. Two
   * zero-size tensors share offset 4. */
  const gchar *header =
      "{\"late\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]},"
      "\"z2\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
      "\"early\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[0,4]},"
      "\"z1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}";
  g_autofree gchar *path = write_file ("order.safetensors", header, -1, 8);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_safetensors_get_n_tensors (st), ==, 4);
  const gchar *order[] = { "early", "z2", "z1", "late" };
  for (guint i = 0; i < 4; i++)
    g_assert_cmpstr (vv_safetensors_get_entry (st, i)->name, ==, order[i]);
  const VvSafetensorsEntry *late = vv_safetensors_lookup (st, "late");
  g_assert_cmpuint (late->data[0], ==, 4);
  g_assert_cmpuint (vv_safetensors_lookup (st, "z1")->n_bytes, ==, 0);
  VvTensor view;
  g_assert_true (vv_safetensors_entry_to_tensor (vv_safetensors_lookup (st, "z2"), &view));
  g_assert_cmpint (vv_tensor_n_elements (&view), ==, 0);
}

static void
test_read_whitespace (void)
{
  /* Leading/trailing JSON whitespace and padding; escaped names. */
  const gchar *header =
      " \n{ \"a\\u0062\" : { \"dtype\" : \"F32\" , \"shape\" : [ 1 ] ,"
      " \"data_offsets\" : [ 0 , 4 ] , \"extra\" : {\"x\": [null, true, -1.5e3]} } }\t\r\n     ";
  g_autofree gchar *path = write_file ("whitespace.safetensors", header, -1, 4);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (vv_safetensors_lookup (st, "ab"));
}

/* json-glib is given the header's exact length: a header ending on the last
 * byte of a page must not be read past (that would fault on the mapping). */
static void
test_read_page_end (void)
{
  const gchar *json = "{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  gsize header_len = page - 8;
  g_autofree gchar *header = g_malloc (header_len);
  memset (header, ' ', header_len);
  memcpy (header + header_len - strlen (json), json, strlen (json));
  g_autofree gchar *path = write_file ("page-end.safetensors", header, header_len, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_safetensors_get_n_tensors (st), ==, 1);

  /* Same with the JSON cut short on the last byte: an error, no fault. */
  header[header_len - 1] = ' ';
  header[header_len - 2] = '"';
  g_autofree gchar *bad = write_file ("page-end-bad.safetensors", header, header_len, 0);
  assert_open_fails (bad, VV_SAFETENSORS_ERROR_HEADER, NULL);
}

static void
test_read_missing_file (void)
{
  g_autofree gchar *path = tmp_path ("does-not-exist.safetensors");
  assert_open_fails (path, VV_SAFETENSORS_ERROR_IO, NULL);
}

/* ---------------------------------------------------------------------- */
/* Malformed files                                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
  const gchar *name;            /* test path component and file name */
  const gchar *header;          /* exact header text */
  gsize data_len;               /* data bytes after the header */
  gint code;
  const gchar *mention;         /* must appear in the message (the tensor) */
} BadCase;

#define T(name, rest) "\"" name "\":{" rest "}"
#define F32_1 "\"dtype\":\"F32\",\"shape\":[1]"

static const BadCase bad_cases[] = {
  { "invalid-json", "{" T ("w", F32_1 ",\"data_offsets\":[0,4]"), 4,
    VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "not-an-object", "[1, 2, 3]", 0, VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "empty-header", "        ", 0, VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "trailing-json", "{} {}", 0, VV_SAFETENSORS_ERROR_HEADER, NULL },
  /* Things json-glib would accept but JSON does not. */
  { "comment", "{/* c */}", 0, VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "single-quotes", "{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}", 4,
    VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "hex-number", "{" T ("w", F32_1 ",\"data_offsets\":[0,0x4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "leading-zero", "{" T ("w", F32_1 ",\"data_offsets\":[0,04]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "lone-surrogate", "{" T ("w\\ud800", F32_1 ",\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "nul-escape", "{" T ("w\\u0000x", F32_1 ",\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, NULL },
  { "entry-not-object", "{\"weird.entry\": 5}", 0, VV_SAFETENSORS_ERROR_HEADER, "weird.entry" },
  { "missing-dtype", "{" T ("enc.w", "\"shape\":[1],\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "missing-shape", "{" T ("enc.w", "\"dtype\":\"F32\",\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "missing-offsets", "{" T ("enc.w", F32_1) "}", 4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "dtype-not-string", "{" T ("enc.w", "\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]") "}",
    4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "unknown-dtype", "{" T ("enc.w", "\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,1]") "}",
    1, VV_SAFETENSORS_ERROR_DTYPE, "enc.w" },
  { "dtype-lowercase", "{" T ("enc.w", "\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]")
    "}", 4, VV_SAFETENSORS_ERROR_DTYPE, "enc.w" },
  { "shape-negative", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]")
    "}", 0, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "shape-float", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]")
    "}", 4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "shape-exponent", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]")
    "}", 4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "shape-string", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]")
    "}", 4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "shape-not-array", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]")
    "}", 4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  /* -(2^64 - 4): json-glib alone reads this as 4 (it negates the unsigned
   * value modulo 2^64) and would accept the file. */
  { "shape-beyond-int64", "{" T ("enc.w",
        "\"dtype\":\"F32\",\"shape\":[-18446744073709551612],\"data_offsets\":[0,16]") "}",
    16, VV_SAFETENSORS_ERROR_HEADER, "64-bit" },
  { "offset-beyond-int64", "{" T ("enc.w",
        F32_1 ",\"data_offsets\":[0,18446744073709551620]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "64-bit" },
  { "shape-overflow", "{" T ("enc.w",
        "\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "shape-overflow-bytes", "{" T ("enc.w",
        "\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]") "}", 0,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "too-many-dims", "{" T ("enc.w",
        "\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "offsets-past-end", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]")
    "}", 4, VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "offsets-reversed", "{" T ("enc.w", F32_1 ",\"data_offsets\":[4,0]") "}", 4,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "offsets-three", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4,4]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "offsets-negative", "{" T ("enc.w", F32_1 ",\"data_offsets\":[-4,0]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "offsets-float", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4.0]") "}", 4,
    VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  { "size-mismatch", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]")
    "}", 8, VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "sub-byte-size", "{" T ("enc.w", "\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]")
    "}", 2, VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "overlap", "{" T ("enc.w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]") ","
    T ("enc.b", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]") "}", 12,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.b" },
  { "same-range", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4]") ","
    T ("enc.b", F32_1 ",\"data_offsets\":[0,4]") "}", 4,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "hole", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4]") ","
    T ("enc.b", F32_1 ",\"data_offsets\":[8,12]") "}", 12,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.b" },
  { "hole-at-start", "{" T ("enc.w", F32_1 ",\"data_offsets\":[4,8]") "}", 8,
    VV_SAFETENSORS_ERROR_OFFSETS, "enc.w" },
  { "trailing-bytes", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4]") "}", 8,
    VV_SAFETENSORS_ERROR_OFFSETS, NULL },
  { "no-tensors-trailing-bytes", "{}", 4, VV_SAFETENSORS_ERROR_OFFSETS, NULL },
  { "metadata-not-string", "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3},"
    T ("enc.w", F32_1 ",\"data_offsets\":[0,4]") "}", 4, VV_SAFETENSORS_ERROR_HEADER, "epoch" },
  { "metadata-not-object", "{\"__metadata__\":\"pt\"}", 0, VV_SAFETENSORS_ERROR_HEADER,
    "__metadata__" },
  { "metadata-twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
    VV_SAFETENSORS_ERROR_HEADER, "__metadata__" },
  { "duplicate-name", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4]") ","
    T ("enc.w", F32_1 ",\"data_offsets\":[4,8]") "}", 8, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
  /* The same name spelled differently: JSON compares decoded strings. */
  { "duplicate-name-escaped", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4]") ","
    T ("enc\\u002ew", F32_1 ",\"data_offsets\":[4,8]") "}", 8, VV_SAFETENSORS_ERROR_HEADER,
    "enc.w" },
  { "duplicate-field", "{" T ("enc.w", F32_1 ",\"data_offsets\":[0,4],\"data_offsets\":[0,4]")
    "}", 4, VV_SAFETENSORS_ERROR_HEADER, "enc.w" },
};

static void
test_malformed (gconstpointer data)
{
  const BadCase *c = data;
  g_autofree gchar *file = g_strconcat (c->name, ".safetensors", NULL);
  g_autofree gchar *path = write_file (file, c->header, -1, c->data_len);
  assert_open_fails (path, c->code, c->mention);
}

static void
test_malformed_short_file (void)
{
  g_autofree gchar *empty = write_bytes ("zero-bytes.safetensors", "", 0);
  assert_open_fails (empty, VV_SAFETENSORS_ERROR_TRUNCATED, NULL);
  g_autofree gchar *path = write_bytes ("seven-bytes.safetensors", "\x02\0\0\0\0\0\0", 7);
  assert_open_fails (path, VV_SAFETENSORS_ERROR_TRUNCATED, NULL);
}

static void
test_malformed_length_past_eof (void)
{
  /* Says 100 bytes of header, has 20. */
  guint8 bytes[28] = { 100, 0, 0, 0, 0, 0, 0, 0 };
  memset (bytes + 8, ' ', 20);
  bytes[8] = '{';
  bytes[9] = '}';
  g_autofree gchar *path = write_bytes ("length-past-eof.safetensors", bytes, sizeof (bytes));
  assert_open_fails (path, VV_SAFETENSORS_ERROR_TRUNCATED, NULL);
}

static void
test_malformed_length_huge (void)
{
  /* 2^64 - 1: 8 + N wraps around in careless size arithmetic. */
  guint8 bytes[10] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}' };
  g_autofree gchar *path = write_bytes ("length-huge.safetensors", bytes, sizeof (bytes));
  assert_open_fails (path, VV_SAFETENSORS_ERROR_TRUNCATED, NULL);
}

static void
test_malformed_length_over_limit (void)
{
  /* A header length over the 100 MB limit in a file that really is that
   * long (sparse, so it costs no disk). */
  g_autofree gchar *path = tmp_path ("length-over-limit.safetensors");
  guint64 n = GUINT64_TO_LE (G_GUINT64_CONSTANT (100000001));
  gint fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, &n, 8), ==, 8);
  g_assert_cmpint (ftruncate (fd, 8 + 100000001 + 16), ==, 0);
  g_assert_true (g_close (fd, NULL));
  assert_open_fails (path, VV_SAFETENSORS_ERROR_HEADER, NULL);
  g_unlink (path);
}

/* Issue 14 (fuzz-safetensors): a header starting with a multi-byte
 * character was quoted by its first byte, so the message was not UTF-8. */
static void
test_malformed_not_object_message (void)
{
  const struct { const gchar *header, *shown; } cases[] = {
    { "\xc3\xa9  ", "(it starts with '\xc3\xa9')" },
    { "\xce\x83  ", "(it starts with U+0383)" },   /* unassigned: does not print */
    { "\xe2\x82\xac[]", "(it starts with '\xe2\x82\xac')" },
    { "\x01{}", "(it starts with U+0001)" },
    { "[1]", "(it starts with '[')" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *path = write_file ("not-object.safetensors", cases[i].header, -1, 0);
    g_autoptr (GError) error = NULL;
    g_assert_null (vv_safetensors_open (path, &error));
    g_assert_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_nonnull (strstr (error->message, "header is not a JSON object"));
    g_assert_nonnull (strstr (error->message, cases[i].shown));
  }
}

static void
test_malformed_invalid_utf8 (void)
{
  g_autofree gchar *path = write_file ("invalid-utf8.safetensors",
      "{" T ("w\xff\xfe", F32_1 ",\"data_offsets\":[0,4]") "}", -1, 4);
  assert_open_fails (path, VV_SAFETENSORS_ERROR_HEADER, "UTF-8");
  /* A NUL byte inside the header is not valid either. */
  const gchar with_nul[] = "{\"w\0\":{}}";
  g_autofree gchar *nul = write_file ("nul-in-header.safetensors", with_nul,
      sizeof (with_nul) - 1, 0);
  assert_open_fails (nul, VV_SAFETENSORS_ERROR_HEADER, NULL);
}

static void
test_malformed_deep_nesting (void)
{
  /* A million nested arrays would overflow a recursive parser's stack. */
  const gsize depth = 1000000;
  GString *h = g_string_new (
      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":");
  for (gsize i = 0; i < depth; i++)
    g_string_append_c (h, '[');
  for (gsize i = 0; i < depth; i++)
    g_string_append_c (h, ']');
  g_string_append (h, "}}");
  g_autofree gchar *path = write_file ("deep-nesting.safetensors", h->str, h->len, 4);
  g_string_free (h, TRUE);
  assert_open_fails (path, VV_SAFETENSORS_ERROR_HEADER, "deep");
}

/* ---------------------------------------------------------------------- */
/* Fuzz                                                                    */
/* ---------------------------------------------------------------------- */

static gboolean
fill_small (const VvSafetensorsSpec *spec, guint index, guint8 *data, gsize n_bytes,
    gpointer user_data, GError **error)
{
  for (gsize k = 0; k < n_bytes; k++)
    data[k] = pattern_byte (index, k);
  return TRUE;
}

static void
test_fuzz (void)
{
  const VvSafetensorsSpec specs[] = {
    { "a.weight", VV_DTYPE_F32, 2, { 2, 3 } },
    { "a.bias", VV_DTYPE_BF16, 1, { 3 } },
    { "s", VV_DTYPE_F16, 0, { 0 } },
    { "z", VV_DTYPE_F32, 2, { 0, 9 } },
  };
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, "format", "pt");
  g_autofree gchar *base = tmp_path ("fuzz-base.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_safetensors_write (base, specs, G_N_ELEMENTS (specs), meta, fill_small,
          NULL, &error));
  g_autofree gchar *orig = NULL;
  gsize orig_len = 0;
  g_assert_true (g_file_get_contents (base, &orig, &orig_len, &error));
  guint64 n;
  memcpy (&n, orig, 8);
  gsize prefix = 8 + (gsize) GUINT64_FROM_LE (n);
  g_assert_cmpuint (prefix, <=, orig_len);

  const gchar interesting[] = "{}[]\":,-0123456789.eE\\u \x80\xff";
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x5afe7e55);
  g_autofree gchar *buf = g_malloc (orig_len);
  guint accepted = 0, rejected = 0;
  const guint iterations = g_test_slow () ? 20000 : 2000;

  for (guint it = 0; it < iterations; it++) {
    memcpy (buf, orig, orig_len);
    gsize len = orig_len;
    guint n_mut = (guint) g_rand_int_range (rand, 1, 4);
    for (guint m = 0; m < n_mut && len > 0; m++) {
      gsize pos = (gsize) g_rand_int_range (rand, 0, (gint32) MIN (prefix, len));
      switch (g_rand_int_range (rand, 0, 10)) {
        case 0: case 1: case 2:
          buf[pos] = (gchar) g_rand_int_range (rand, 0, 256);
          break;
        case 3: case 4: case 5:
          buf[pos] = interesting[g_rand_int_range (rand, 0, sizeof (interesting) - 1)];
          break;
        case 6:
          buf[pos] ^= (gchar) (1 << g_rand_int_range (rand, 0, 8));
          break;
        case 7:
          len = (gsize) g_rand_int_range (rand, 0, (gint32) len + 1);
          break;
        case 8: {
          /* A plausible but wrong header length. */
          guint64 nn = GUINT64_TO_LE ((guint64) g_rand_int_range (rand, 0, (gint32) orig_len + 8));
          if (len >= 8)
            memcpy (buf, &nn, 8);
          break;
        }
        default:
          /* Digits move offsets and shapes around. */
          buf[pos] = (gchar) ('0' + g_rand_int_range (rand, 0, 10));
          break;
      }
    }
    g_autofree gchar *path = write_bytes ("fuzz.safetensors", buf, len);
    g_autoptr (GError) ferr = NULL;
    g_autoptr (VvSafetensors) st = vv_safetensors_open (path, &ferr);
    if (st == NULL) {
      g_assert_nonnull (ferr);
      g_assert_true (ferr->domain == VV_SAFETENSORS_ERROR);
      g_assert_nonnull (strstr (ferr->message, "fuzz.safetensors"));
      rejected++;
      continue;
    }
    g_assert_null (ferr);
    accepted++;
    /* Whatever was accepted must be self-consistent and readable. */
    guint sum = 0;
    gsize total = 0;
    for (guint i = 0; i < vv_safetensors_get_n_tensors (st); i++) {
      const VvSafetensorsEntry *e = vv_safetensors_get_entry (st, i);
      g_assert_true (vv_safetensors_lookup (st, e->name) == e);
      for (gsize k = 0; k < e->n_bytes; k++)
        sum += e->data[k];
      total += e->n_bytes;
      if (i + 1 < vv_safetensors_get_n_tensors (st))
        g_assert_true (e->data + e->n_bytes == vv_safetensors_get_entry (st, i + 1)->data);
      VvTensor view;
      if (vv_safetensors_entry_to_tensor (e, &view))
        g_assert_cmpuint (vv_tensor_n_bytes (&view), ==, e->n_bytes);
    }
    (void) sum;
    /* The tensors cover the data region exactly. */
    guint64 hn;
    memcpy (&hn, buf, 8);
    g_assert_cmpuint (total, ==, len - 8 - (gsize) GUINT64_FROM_LE (hn));
  }
  g_test_message ("fuzz: %u accepted, %u rejected", accepted, rejected);
  g_assert_cmpuint (rejected, >, iterations / 4);
  g_assert_cmpuint (accepted, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("vv-test-safetensors-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/safetensors/write/round-trip", test_round_trip);
  g_test_add_func ("/safetensors/write/empty", test_write_empty);
  g_test_add_data_func ("/safetensors/write/fill-abort", GINT_TO_POINTER (TRUE),
      test_write_fill_abort);
  g_test_add_data_func ("/safetensors/write/fill-abort-no-error", GINT_TO_POINTER (FALSE),
      test_write_fill_abort);
  g_test_add_func ("/safetensors/write/no-dir", test_write_no_dir);
  g_test_add_func ("/safetensors/write/invalid-specs", test_write_invalid_specs);
  g_test_add_func ("/safetensors/read/non-float", test_read_non_float);
  g_test_add_func ("/safetensors/read/offset-order", test_read_offset_order);
  g_test_add_func ("/safetensors/read/whitespace", test_read_whitespace);
  g_test_add_func ("/safetensors/read/page-end", test_read_page_end);
  g_test_add_func ("/safetensors/read/missing-file", test_read_missing_file);
  g_test_add_func ("/safetensors/malformed/short-file", test_malformed_short_file);
  g_test_add_func ("/safetensors/malformed/length-past-eof", test_malformed_length_past_eof);
  g_test_add_func ("/safetensors/malformed/length-huge", test_malformed_length_huge);
  g_test_add_func ("/safetensors/malformed/length-over-limit", test_malformed_length_over_limit);
  g_test_add_func ("/safetensors/malformed/invalid-utf8", test_malformed_invalid_utf8);
  g_test_add_func ("/safetensors/malformed/not-object-message", test_malformed_not_object_message);
  g_test_add_func ("/safetensors/malformed/deep-nesting", test_malformed_deep_nesting);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
    g_autofree gchar *name = g_strconcat ("/safetensors/malformed/", bad_cases[i].name, NULL);
    g_test_add_data_func (name, &bad_cases[i], test_malformed);
  }
  g_test_add_func ("/safetensors/fuzz", test_fuzz);

  int ret = g_test_run ();

  /* Remove what the tests left (they may stop early on failure). */
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  if (dir) {
    const gchar *name;
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *p = tmp_path (name);
      g_unlink (p);
    }
    g_dir_close (dir);
  }
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return ret;
}
