/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* File layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * (possibly padded with spaces), then the data region. Every tensor's
 * "data_offsets" are relative to the start of the data region.
 *
 * Validation happens in two passes over the header. json-glib is lenient in
 * ways that matter for a checkpoint loader: it silently keeps one of two
 * members with the same name, reads integers outside the gint64 range as
 * garbage (a shape of -18446744073709551612 reads as 4), accepts comments,
 * single quotes, hex numbers and trailing values, and parses recursively (a
 * header of a million '[' would overflow the stack). So a small strict scanner
 * checks the text against the JSON grammar first, with a depth limit, no
 * duplicate keys and integers in gint64 range, and records the tensor names
 * in document order; only then does json-glib build the tree we read. */

G_DEFINE_QUARK (vv-safetensors-error-quark, vv_safetensors_error)

/* The reference implementation refuses headers above 100 MB too; real
 * headers are well under a megabyte even for thousands of tensors. */
#define HEADER_MAX_BYTES G_GUINT64_CONSTANT (100000000)

/* A safetensors header nests three levels deep; anything much deeper is
 * garbage and must not reach json-glib's recursive parser. */
#define JSON_MAX_DEPTH VV_JSON_MAX_DEPTH

#define METADATA_KEY "__metadata__"

typedef struct {
  const gchar *name;
  guint bits;                   /* element size; sub-byte types are packed */
  gboolean supported;
  VvDType dtype;
} DTypeInfo;

static const DTypeInfo dtype_table[] = {
  { "BOOL", 8, FALSE, 0 },
  { "U8", 8, FALSE, 0 },
  { "I8", 8, FALSE, 0 },
  { "I16", 16, FALSE, 0 },
  { "U16", 16, FALSE, 0 },
  { "I32", 32, FALSE, 0 },
  { "U32", 32, FALSE, 0 },
  { "I64", 64, FALSE, 0 },
  { "U64", 64, FALSE, 0 },
  { "F16", 16, TRUE, VV_DTYPE_F16 },
  { "BF16", 16, TRUE, VV_DTYPE_BF16 },
  { "F32", 32, TRUE, VV_DTYPE_F32 },
  { "F64", 64, FALSE, 0 },
  { "F8_E4M3", 8, FALSE, 0 },
  { "F8_E5M2", 8, FALSE, 0 },
  { "F8_E8M0", 8, FALSE, 0 },
  { "F4", 4, FALSE, 0 },
  { "F6_E2M3", 6, FALSE, 0 },
  { "F6_E3M2", 6, FALSE, 0 },
  { "C64", 64, FALSE, 0 },
};

static const DTypeInfo *
dtype_lookup (const gchar *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtype_table); i++) {
    if (strcmp (dtype_table[i].name, name) == 0)
      return &dtype_table[i];
  }
  return NULL;
}

struct _VvSafetensors {
  gchar *path;
  GMappedFile *map;
  VvSafetensorsEntry *entries;  /* data-offset order */
  guint n_entries;
  GHashTable *by_name;          /* name (in @strings) -> entry */
  GHashTable *metadata;         /* utf8 -> utf8, or NULL */
  GStringChunk *strings;        /* tensor names */
};

static gchar *
shape_string (gint ndim, const gint64 *shape)
{
  GString *s = g_string_new ("[");
  for (gint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* ---------------------------------------------------------------------- */
/* Depth pre-scan for the other JSON readers                               */
/* ---------------------------------------------------------------------- */

gboolean
vv_json_check_depth (const gchar *text, gsize len, guint max_depth, const gchar *what,
    GQuark domain, gint code, GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++) {
    gchar c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;                    /* the escaped character cannot end the string */
      else if (c == '"')
        in_string = FALSE;
      continue;
    }
    switch (c) {
      case '"':
        in_string = TRUE;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          g_set_error (error, domain, code,
              "%s: JSON nests deeper than %u levels (at byte %" G_GSIZE_FORMAT ")",
              what, max_depth, i);
          return FALSE;
        }
        break;
      case ']':
      case '}':
        if (depth > 0)
          depth--;
        break;
      default:
        break;
    }
  }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Strict JSON scanner (grammar, depth, duplicate keys, integer range)     */
/* ---------------------------------------------------------------------- */

typedef struct {
  const gchar *path;
  const gchar *start;
  const gchar *p;
  const gchar *end;
  GPtrArray *top_keys;          /* decoded top-level keys, document order */
  GError **error;
} Scan;

static gboolean
scan_fail (Scan *s, const gchar *what)
{
  g_set_error (s->error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
      "%s: header is not valid JSON: %s at header byte %" G_GSIZE_FORMAT,
      s->path, what, (gsize) (s->p - s->start));
  return FALSE;
}

static void
scan_skip_ws (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gint
hex_value (gchar c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
scan_hex4 (Scan *s, guint *out)
{
  guint v = 0;
  if (s->end - s->p < 4)
    return scan_fail (s, "truncated \\u escape");
  for (gint i = 0; i < 4; i++) {
    gint h = hex_value (s->p[i]);
    if (h < 0)
      return scan_fail (s, "invalid \\u escape");
    v = (v << 4) | (guint) h;
  }
  s->p += 4;
  *out = v;
  return TRUE;
}

/* Scans a string starting at its opening quote; appends the decoded text to
 * @out when given (keys are compared decoded: "a" and "\u0061" are the same
 * member). The whole header was checked as UTF-8 beforehand. */
static gboolean
scan_string (Scan *s, GString *out)
{
  s->p++;                       /* opening quote */
  for (;;) {
    if (s->p >= s->end)
      return scan_fail (s, "unterminated string");
    guchar c = (guchar) *s->p;
    if (c == '"') {
      s->p++;
      return TRUE;
    }
    if (c < 0x20)
      return scan_fail (s, "unescaped control character in a string");
    if (c != '\\') {
      if (out)
        g_string_append_c (out, (gchar) c);
      s->p++;
      continue;
    }
    s->p++;
    if (s->p >= s->end)
      return scan_fail (s, "unterminated string");
    gchar e = *s->p++;
    gchar plain = 0;
    switch (e) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        guint u;
        if (!scan_hex4 (s, &u))
          return FALSE;
        if (u >= 0xDC00 && u <= 0xDFFF)
          return scan_fail (s, "unpaired UTF-16 surrogate in a \\u escape");
        if (u >= 0xD800 && u <= 0xDBFF) {
          guint lo;
          if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
            return scan_fail (s, "unpaired UTF-16 surrogate in a \\u escape");
          s->p += 2;
          if (!scan_hex4 (s, &lo))
            return FALSE;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return scan_fail (s, "unpaired UTF-16 surrogate in a \\u escape");
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        /* Names are C strings downstream: an embedded NUL would make two
         * different JSON keys the same tensor name. */
        if (u == 0)
          return scan_fail (s, "\\u0000 in a string");
        if (out)
          g_string_append_unichar (out, u);
        continue;
      }
      default:
        s->p--;
        return scan_fail (s, "invalid escape sequence");
    }
    if (out)
      g_string_append_c (out, plain);
  }
}

/* RFC 8259 number grammar. Integers (no fraction, no exponent) must fit a
 * gint64 because json-glib silently mangles larger ones (it parses the
 * magnitude as unsigned, saturating, then negates it modulo 2^64). */
static gboolean
scan_number (Scan *s)
{
  const gchar *p = s->p;
  gboolean negative = FALSE;
  gboolean integer = TRUE;
  guint64 magnitude = 0;
  gboolean too_big = FALSE;

  if (*p == '-') {
    negative = TRUE;
    p++;
  }
  if (p >= s->end || !g_ascii_isdigit (*p)) {
    s->p = p;
    return scan_fail (s, "invalid number");
  }
  if (*p == '0') {
    p++;
  } else {
    while (p < s->end && g_ascii_isdigit (*p)) {
      guint d = (guint) (*p - '0');
      if (magnitude > (G_MAXUINT64 - d) / 10)
        too_big = TRUE;
      else
        magnitude = magnitude * 10 + d;
      p++;
    }
  }
  if (p < s->end && g_ascii_isdigit (*p)) {
    s->p = p;
    return scan_fail (s, "number with a leading zero");
  }
  if (p < s->end && *p == '.') {
    integer = FALSE;
    p++;
    if (p >= s->end || !g_ascii_isdigit (*p)) {
      s->p = p;
      return scan_fail (s, "invalid number (no digit after '.')");
    }
    while (p < s->end && g_ascii_isdigit (*p))
      p++;
  }
  if (p < s->end && (*p == 'e' || *p == 'E')) {
    integer = FALSE;
    p++;
    if (p < s->end && (*p == '+' || *p == '-'))
      p++;
    if (p >= s->end || !g_ascii_isdigit (*p)) {
      s->p = p;
      return scan_fail (s, "invalid number (no digit in the exponent)");
    }
    while (p < s->end && g_ascii_isdigit (*p))
      p++;
  }
  if (integer && (too_big || magnitude > (guint64) G_MAXINT64 + (negative ? 1 : 0)))
    return scan_fail (s, "integer out of the 64-bit range");
  s->p = p;
  return TRUE;
}

static gboolean
scan_literal (Scan *s, const gchar *word)
{
  gsize len = strlen (word);
  if ((gsize) (s->end - s->p) < len || memcmp (s->p, word, len) != 0)
    return scan_fail (s, "unexpected character");
  s->p += len;
  return TRUE;
}

static gboolean scan_value (Scan *s, guint depth, const gchar *key);

static gboolean
scan_object (Scan *s, guint depth, const gchar *owner)
{
  if (depth > JSON_MAX_DEPTH)
    return scan_fail (s, "nested too deeply");
  s->p++;                       /* '{' */
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  scan_skip_ws (s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return TRUE;
  }
  for (;;) {
    scan_skip_ws (s);
    if (s->p >= s->end || *s->p != '"')
      return scan_fail (s, "expected a string key");
    const gchar *key_start = s->p;
    GString *decoded = g_string_new (NULL);
    if (!scan_string (s, decoded)) {
      g_string_free (decoded, TRUE);
      return FALSE;
    }
    gchar *key = g_string_free (decoded, FALSE);
    if (g_hash_table_contains (keys, key)) {
      s->p = key_start;
      if (depth == 1 && strcmp (key, METADATA_KEY) == 0)
        g_set_error (s->error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
            "%s: \"" METADATA_KEY "\" appears more than once in the header", s->path);
      else if (depth == 1)
        g_set_error (s->error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
            "%s: tensor '%s' appears more than once in the header", s->path, key);
      else if (depth == 2 && owner)
        g_set_error (s->error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
            "%s: tensor '%s': key \"%s\" appears more than once", s->path, owner, key);
      else
        g_set_error (s->error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
            "%s: header key \"%s\" appears more than once in one object (header byte %"
            G_GSIZE_FORMAT ")", s->path, key, (gsize) (key_start - s->start));
      g_free (key);
      return FALSE;
    }
    g_hash_table_add (keys, key);
    if (depth == 1 && s->top_keys)
      g_ptr_array_add (s->top_keys, g_strdup (key));

    scan_skip_ws (s);
    if (s->p >= s->end || *s->p != ':')
      return scan_fail (s, "expected ':'");
    s->p++;
    scan_skip_ws (s);
    if (!scan_value (s, depth, depth == 1 ? key : NULL))
      return FALSE;
    scan_skip_ws (s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == '}') {
      s->p++;
      return TRUE;
    }
    if (s->p >= s->end)
      return scan_fail (s, "the header ends inside an object");
    return scan_fail (s, "expected ',' or '}'");
  }
}

static gboolean
scan_array (Scan *s, guint depth)
{
  if (depth > JSON_MAX_DEPTH)
    return scan_fail (s, "nested too deeply");
  s->p++;                       /* '[' */
  scan_skip_ws (s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    return TRUE;
  }
  for (;;) {
    scan_skip_ws (s);
    if (!scan_value (s, depth, NULL))
      return FALSE;
    scan_skip_ws (s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == ']') {
      s->p++;
      return TRUE;
    }
    if (s->p >= s->end)
      return scan_fail (s, "the header ends inside an array");
    return scan_fail (s, "expected ',' or ']'");
  }
}

/* @depth is that of the container holding the value; @key names the value
 * when it is a top-level member (for messages about its fields). */
static gboolean
scan_value (Scan *s, guint depth, const gchar *key)
{
  if (s->p >= s->end)
    return scan_fail (s, "unexpected end of the header");
  switch (*s->p) {
    case '{':
      return scan_object (s, depth + 1, key);
    case '[':
      return scan_array (s, depth + 1);
    case '"':
      return scan_string (s, NULL);
    case 't':
      return scan_literal (s, "true");
    case 'f':
      return scan_literal (s, "false");
    case 'n':
      return scan_literal (s, "null");
    default:
      if (*s->p == '-' || g_ascii_isdigit (*s->p))
        return scan_number (s);
      return scan_fail (s, "unexpected character");
  }
}

/* ---------------------------------------------------------------------- */
/* Reader                                                                  */
/* ---------------------------------------------------------------------- */

/* "a string", "-3", "a non-integer number (2.5)", ... for messages. */
static gchar *
describe_node (JsonNode *node)
{
  switch (json_node_get_node_type (node)) {
    case JSON_NODE_OBJECT:
      return g_strdup ("an object");
    case JSON_NODE_ARRAY:
      return g_strdup ("an array");
    case JSON_NODE_NULL:
      return g_strdup ("null");
    case JSON_NODE_VALUE:
      break;
  }
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (t == G_TYPE_DOUBLE)
    return g_strdup_printf ("a number with a fraction or exponent (%g)",
        json_node_get_double (node));
  if (t == G_TYPE_STRING)
    return g_strdup_printf ("a string (\"%s\")", json_node_get_string (node));
  if (t == G_TYPE_BOOLEAN)
    return g_strdup ("a boolean");
  return g_strdup ("a value of unknown type");
}

static gboolean
node_get_uint (JsonNode *node, guint64 *out)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

typedef struct {
  VvSafetensorsEntry e;
  guint64 begin;
  guint64 end;
  guint order;                  /* position in the header, breaks ties */
} Pending;

static gint
pending_cmp (gconstpointer a, gconstpointer b)
{
  const Pending *x = a, *y = b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

static gboolean
parse_entry (VvSafetensors *st, const gchar *name, JsonNode *node, gsize data_len,
    Pending *out, GError **error)
{
  const gchar *path = st->path;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_autofree gchar *found = describe_node (node);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: tensor '%s': expected an object with dtype, shape and data_offsets, found %s",
        path, name, found);
    return FALSE;
  }
  JsonObject *obj = json_node_get_object (node);
  const gchar *fields[] = { "dtype", "shape", "data_offsets" };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++) {
    if (!json_object_has_member (obj, fields[i])) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: tensor '%s': \"%s\" is missing", path, name, fields[i]);
      return FALSE;
    }
  }

  /* dtype */
  JsonNode *dt = json_object_get_member (obj, "dtype");
  if (!JSON_NODE_HOLDS_VALUE (dt) || json_node_get_value_type (dt) != G_TYPE_STRING) {
    g_autofree gchar *found = describe_node (dt);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: tensor '%s': \"dtype\" must be a string, found %s", path, name, found);
    return FALSE;
  }
  const DTypeInfo *info = dtype_lookup (json_node_get_string (dt));
  if (info == NULL) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_DTYPE,
        "%s: tensor '%s': unknown dtype \"%s\"", path, name, json_node_get_string (dt));
    return FALSE;
  }

  /* shape */
  JsonNode *sh = json_object_get_member (obj, "shape");
  if (!JSON_NODE_HOLDS_ARRAY (sh)) {
    g_autofree gchar *found = describe_node (sh);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: tensor '%s': \"shape\" must be an array of non-negative integers, found %s",
        path, name, found);
    return FALSE;
  }
  JsonArray *sha = json_node_get_array (sh);
  guint ndim = json_array_get_length (sha);
  if (ndim > VV_SAFETENSORS_MAX_DIMS) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: tensor '%s': shape has %u dimensions, at most %d are supported",
        path, name, ndim, VV_SAFETENSORS_MAX_DIMS);
    return FALSE;
  }
  guint64 elements = 1;
  gboolean overflow = FALSE;
  for (guint i = 0; i < ndim; i++) {
    JsonNode *d = json_array_get_element (sha, i);
    guint64 v;
    if (!node_get_uint (d, &v)) {
      g_autofree gchar *found = describe_node (d);
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: tensor '%s': shape[%u] must be a non-negative integer, found %s",
          path, name, i, found);
      return FALSE;
    }
    out->e.shape[i] = (gint64) v;
    /* Keep scanning after an overflow: a later 0 makes the tensor empty,
     * but the reference rejects the intermediate overflow too, and so do we
     * (below), after every dimension was type-checked. */
    if (!overflow && !g_uint64_checked_mul (&elements, elements, v))
      overflow = TRUE;
  }
  out->e.ndim = (gint) ndim;

  /* data_offsets */
  JsonNode *off = json_object_get_member (obj, "data_offsets");
  guint64 range[2];
  if (!JSON_NODE_HOLDS_ARRAY (off) || json_array_get_length (json_node_get_array (off)) != 2 ||
      !node_get_uint (json_array_get_element (json_node_get_array (off), 0), &range[0]) ||
      !node_get_uint (json_array_get_element (json_node_get_array (off), 1), &range[1])) {
    g_autofree gchar *found = NULL;
    if (JSON_NODE_HOLDS_ARRAY (off)) {
      g_autoptr (JsonGenerator) gen = json_generator_new ();
      json_generator_set_root (gen, off);
      found = json_generator_to_data (gen, NULL);
    } else {
      found = describe_node (off);
    }
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: tensor '%s': \"data_offsets\" must be [begin, end] with two non-negative "
        "integers, found %s", path, name, found);
    return FALSE;
  }
  out->begin = range[0];
  out->end = range[1];

  if (out->begin > out->end) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
        "%s: tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        "] begin after end", path, name, out->begin, out->end);
    return FALSE;
  }
  if (out->end > (guint64) data_len) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
        "%s: tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        "] run past the end of the data region (%" G_GSIZE_FORMAT " bytes)",
        path, name, out->begin, out->end, data_len);
    return FALSE;
  }
  guint64 bits;
  if (overflow || !g_uint64_checked_mul (&bits, elements, info->bits)) {
    g_autofree gchar *shape = shape_string (out->e.ndim, out->e.shape);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
        "%s: tensor '%s': shape %s of %s overflows 64-bit byte counts",
        path, name, shape, info->name);
    return FALSE;
  }
  if (bits % 8 != 0) {
    g_autofree gchar *shape = shape_string (out->e.ndim, out->e.shape);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
        "%s: tensor '%s': shape %s of %s is not a whole number of bytes",
        path, name, shape, info->name);
    return FALSE;
  }
  if (bits / 8 != out->end - out->begin) {
    g_autofree gchar *shape = shape_string (out->e.ndim, out->e.shape);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
        "%s: tensor '%s': shape %s of %s needs %" G_GUINT64_FORMAT " bytes but "
        "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] span %" G_GUINT64_FORMAT,
        path, name, shape, info->name, bits / 8, out->begin, out->end, out->end - out->begin);
    return FALSE;
  }

  out->e.name = g_string_chunk_insert (st->strings, name);
  out->e.dtype_name = info->name;
  out->e.supported = info->supported;
  out->e.dtype = info->dtype;
  out->e.n_bytes = (gsize) (out->end - out->begin);
  return TRUE;
}

static gboolean
parse_metadata (VvSafetensors *st, JsonNode *node, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_autofree gchar *found = describe_node (node);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: \"" METADATA_KEY "\" must be an object of strings, found %s", st->path, found);
    return FALSE;
  }
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObjectIter iter;
  const gchar *key;
  JsonNode *value;
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value)) {
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING) {
      g_autofree gchar *found = describe_node (value);
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: \"" METADATA_KEY "\" entry \"%s\" must be a string, found %s",
          st->path, key, found);
      return FALSE;
    }
    g_hash_table_insert (st->metadata, g_strdup (key), g_strdup (json_node_get_string (value)));
  }
  return TRUE;
}

static gboolean
parse_file (VvSafetensors *st, GError **error)
{
  const gchar *path = st->path;
  const gchar *bytes = g_mapped_file_get_contents (st->map);
  gsize len = g_mapped_file_get_length (st->map);

  if (len < 8) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_TRUNCATED,
        "%s: file is %" G_GSIZE_FORMAT " bytes long, too short for the 8-byte header length",
        path, len);
    return FALSE;
  }
  guint64 n;
  memcpy (&n, bytes, sizeof (n));
  n = GUINT64_FROM_LE (n);
  if (n > (guint64) (len - 8)) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_TRUNCATED,
        "%s: header length %" G_GUINT64_FORMAT " runs past the end of the file "
        "(%" G_GSIZE_FORMAT " bytes follow the length field)", path, n, len - 8);
    return FALSE;
  }
  if (n > HEADER_MAX_BYTES) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header length %" G_GUINT64_FORMAT " exceeds the limit of %" G_GUINT64_FORMAT
        " bytes", path, n, HEADER_MAX_BYTES);
    return FALSE;
  }
  const gchar *header = bytes + 8;
  gsize header_len = (gsize) n;
  const gchar *bad = NULL;
  if (!g_utf8_validate_len (header, header_len, &bad)) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header is not valid UTF-8 (bad byte at header offset %" G_GSIZE_FORMAT ")",
        path, (gsize) (bad - header));
    return FALSE;
  }
  const guint8 *data = (const guint8 *) header + header_len;
  gsize data_len = len - 8 - header_len;

  /* Pass 1: strict grammar, also yields the tensor names in file order. */
  g_autoptr (GPtrArray) top_keys = g_ptr_array_new_with_free_func (g_free);
  Scan scan = { path, header, header, header + header_len, top_keys, error };
  scan_skip_ws (&scan);
  if (scan.p >= scan.end) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header is empty", path);
    return FALSE;
  }
  if (*scan.p != '{') {
    /* the whole character (the header is valid UTF-8), or its code point
     * if it does not print */
    gunichar c = g_utf8_get_char (scan.p);
    g_autofree gchar *shown = g_unichar_isprint (c)
        ? g_strdup_printf ("'%.*s'", (gint) (g_utf8_next_char (scan.p) - scan.p), scan.p)
        : g_strdup_printf ("U+%04X", c);
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header is not a JSON object (it starts with %s)", path, shown);
    return FALSE;
  }
  if (!scan_object (&scan, 1, NULL))
    return FALSE;
  scan_skip_ws (&scan);
  if (scan.p != scan.end)
    return scan_fail (&scan, "data after the JSON object");

  /* Pass 2: the tree. */
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, header, (gssize) header_len, &local)) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header is not valid JSON: %s", path, local->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header is not a JSON object", path);
    return FALSE;
  }
  JsonObject *obj = json_node_get_object (root);
  if (json_object_get_size (obj) != top_keys->len) {
    /* Cannot happen after the scan; guards against the two parsers
     * disagreeing on member names. */
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
        "%s: header has %u members but %u distinct names", path, top_keys->len,
        json_object_get_size (obj));
    return FALSE;
  }

  st->strings = g_string_chunk_new (4096);
  g_autofree Pending *pending = g_new0 (Pending, MAX (top_keys->len, 1));
  guint n_pending = 0;
  for (guint i = 0; i < top_keys->len; i++) {
    const gchar *key = top_keys->pdata[i];
    JsonNode *node = json_object_get_member (obj, key);
    if (node == NULL) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: header member '%s' could not be read back", path, key);
      return FALSE;
    }
    if (strcmp (key, METADATA_KEY) == 0) {
      if (!parse_metadata (st, node, error))
        return FALSE;
      continue;
    }
    Pending *p = &pending[n_pending];
    if (!parse_entry (st, key, node, data_len, p, error))
      return FALSE;
    p->order = n_pending++;
  }

  /* Like the reference: sorted by offset, the tensors must tile the data
   * region exactly — no overlap, no hole, nothing left over. */
  qsort (pending, n_pending, sizeof (Pending), pending_cmp);
  guint64 pos = 0;
  for (guint i = 0; i < n_pending; i++) {
    Pending *p = &pending[i];
    if (p->begin < pos) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
          "%s: tensor '%s' (data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
          "]) overlaps tensor '%s' (data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "])",
          path, p->e.name, p->begin, p->end, pending[i - 1].e.name, pending[i - 1].begin,
          pending[i - 1].end);
      return FALSE;
    }
    if (p->begin > pos) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
          "%s: data bytes [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ") before tensor '%s' "
          "belong to no tensor", path, pos, p->begin, p->e.name);
      return FALSE;
    }
    pos = p->end;
  }
  if (pos != (guint64) data_len) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
        "%s: data bytes [%" G_GUINT64_FORMAT ", %" G_GSIZE_FORMAT ") at the end of the file "
        "belong to no tensor", path, pos, data_len);
    return FALSE;
  }

  st->n_entries = n_pending;
  st->entries = g_new0 (VvSafetensorsEntry, MAX (n_pending, 1));
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n_pending; i++) {
    st->entries[i] = pending[i].e;
    st->entries[i].data = data + pending[i].begin;
    g_hash_table_insert (st->by_name, (gpointer) st->entries[i].name, &st->entries[i]);
  }
  return TRUE;
}

/**
 * vv_safetensors_open:
 * @path: a .safetensors file
 * @error: return location for a #GError
 *
 * Maps @path read-only and validates the whole header. Tensor data is not
 * copied: entries point into the mapping.
 *
 * Returns: (transfer full) (nullable): the open file, or %NULL with @error set
 */
VvSafetensors *
vv_safetensors_open (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GError) local = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &local);
  if (map == NULL) {
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
        "%s: cannot map the file: %s", path, local->message);
    return NULL;
  }
  VvSafetensors *st = g_new0 (VvSafetensors, 1);
  st->path = g_strdup (path);
  st->map = map;
  if (!parse_file (st, error)) {
    vv_safetensors_free (st);
    return NULL;
  }
  return st;
}

void
vv_safetensors_free (VvSafetensors *st)
{
  if (st == NULL)
    return;
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->metadata, g_hash_table_unref);
  g_free (st->entries);
  if (st->strings)
    g_string_chunk_free (st->strings);
  g_clear_pointer (&st->map, g_mapped_file_unref);
  g_free (st->path);
  g_free (st);
}

const gchar *
vv_safetensors_get_path (VvSafetensors *st)
{
  g_return_val_if_fail (st != NULL, NULL);
  return st->path;
}

guint
vv_safetensors_get_n_tensors (VvSafetensors *st)
{
  g_return_val_if_fail (st != NULL, 0);
  return st->n_entries;
}

const VvSafetensorsEntry *
vv_safetensors_get_entry (VvSafetensors *st, guint index)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (index < st->n_entries, NULL);
  return &st->entries[index];
}

const VvSafetensorsEntry *
vv_safetensors_lookup (VvSafetensors *st, const gchar *name)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  return g_hash_table_lookup (st->by_name, name);
}

/**
 * vv_safetensors_get_metadata:
 * @st: an open file
 *
 * Returns: (transfer none) (nullable) (element-type utf8 utf8): the
 *   "__metadata__" map, owned by @st, or %NULL if the file has none
 */
GHashTable *
vv_safetensors_get_metadata (VvSafetensors *st)
{
  g_return_val_if_fail (st != NULL, NULL);
  return st->metadata;
}

gboolean
vv_safetensors_entry_to_tensor (const VvSafetensorsEntry *e, VvTensor *view)
{
  g_return_val_if_fail (e != NULL, FALSE);
  g_return_val_if_fail (view != NULL, FALSE);
  if (!e->supported || e->ndim > VV_MAX_DIMS)
    return FALSE;
  vv_tensor_init_view (view, e->dtype, e->ndim, e->shape, (gpointer) e->data);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                  */
/* ---------------------------------------------------------------------- */

static gboolean
write_all (gint fd, const guint8 *buf, gsize len, const gchar *path, GError **error)
{
  while (len > 0) {
    /* Linux writes at most ~2 GiB per call; loop on short writes. */
    gssize w = write (fd, buf, MIN (len, (gsize) G_MAXSSIZE));
    if (w < 0) {
      gint err = errno;
      if (err == EINTR)
        continue;
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
          "%s: write failed: %s", path, g_strerror (err));
      return FALSE;
    }
    if (w == 0) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
          "%s: write made no progress", path);
      return FALSE;
    }
    buf += w;
    len -= (gsize) w;
  }
  return TRUE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* Checks the specs and returns each tensor's byte size, so that a bad spec
 * fails before any file is created. */
static gsize *
check_specs (const gchar *path, const VvSafetensorsSpec *specs, guint n_specs,
    GHashTable *metadata, GError **error)
{
  g_autofree gsize *sizes = g_new0 (gsize, MAX (n_specs, 1));
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  guint64 total = 0;

  for (guint i = 0; i < n_specs; i++) {
    const VvSafetensorsSpec *s = &specs[i];
    if (s->name == NULL || !g_utf8_validate (s->name, -1, NULL)) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: tensor #%u has no name or a name that is not UTF-8", path, i);
      return NULL;
    }
    if (strcmp (s->name, METADATA_KEY) == 0 || !g_hash_table_add (names, (gpointer) s->name)) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: tensor name '%s' is reserved or used twice", path, s->name);
      return NULL;
    }
    if (s->dtype != VV_DTYPE_F32 && s->dtype != VV_DTYPE_F16 && s->dtype != VV_DTYPE_BF16) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_DTYPE,
          "%s: tensor '%s': invalid dtype %d", path, s->name, (gint) s->dtype);
      return NULL;
    }
    if (s->ndim < 0 || s->ndim > VV_MAX_DIMS) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
          "%s: tensor '%s': %d dimensions, expected 0 to %d", path, s->name, s->ndim,
          VV_MAX_DIMS);
      return NULL;
    }
    guint64 bytes = vv_dtype_size (s->dtype);
    for (gint d = 0; d < s->ndim; d++) {
      if (s->shape[d] < 0 || !g_uint64_checked_mul (&bytes, bytes, (guint64) s->shape[d])) {
        g_autofree gchar *shape = shape_string (s->ndim, s->shape);
        g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
            "%s: tensor '%s': invalid shape %s", path, s->name, shape);
        return NULL;
      }
    }
    if (!g_uint64_checked_add (&total, total, bytes) || total > (guint64) G_MAXINT64 ||
        bytes > (guint64) G_MAXSIZE) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_OFFSETS,
          "%s: tensor '%s': data size overflows", path, s->name);
      return NULL;
    }
    sizes[i] = (gsize) bytes;
  }

  if (metadata) {
    GHashTableIter iter;
    gpointer k, v;
    g_hash_table_iter_init (&iter, metadata);
    while (g_hash_table_iter_next (&iter, &k, &v)) {
      if (k == NULL || v == NULL || !g_utf8_validate (k, -1, NULL) ||
          !g_utf8_validate (v, -1, NULL)) {
        g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_HEADER,
            "%s: metadata keys and values must be UTF-8 strings", path);
        return NULL;
      }
    }
  }
  return g_steal_pointer (&sizes);
}

static gchar *
build_header (const VvSafetensorsSpec *specs, guint n_specs, const gsize *sizes,
    GHashTable *metadata, gsize *out_len)
{
  g_autoptr (JsonBuilder) b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  if (metadata) {
    /* Sorted keys: the same inputs give the same bytes. */
    guint n_keys = 0;
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array (metadata, &n_keys);
    qsort (keys, n_keys, sizeof (gpointer), compare_strings);
    json_builder_set_member_name (b, METADATA_KEY);
    json_builder_begin_object (b);
    for (guint i = 0; i < n_keys; i++) {
      json_builder_set_member_name (b, keys[i]);
      json_builder_add_string_value (b, g_hash_table_lookup (metadata, keys[i]));
    }
    json_builder_end_object (b);
  }
  guint64 offset = 0;
  for (guint i = 0; i < n_specs; i++) {
    json_builder_set_member_name (b, specs[i].name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, vv_dtype_name (specs[i].dtype));
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (gint d = 0; d < specs[i].ndim; d++)
      json_builder_add_int_value (b, specs[i].shape[d]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, (gint64) offset);
    offset += sizes[i];
    json_builder_add_int_value (b, (gint64) offset);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, out_len);
}

/**
 * vv_safetensors_write:
 * @path: the file to create or replace
 * @specs: (array length=n_specs): the tensors, in file order
 * @n_specs: number of tensors
 * @metadata: (nullable) (element-type utf8 utf8): "__metadata__" strings
 * @fill: (scope call): produces each tensor's bytes
 * @user_data: data for @fill
 * @error: return location for a #GError
 *
 * Streams the file into "@path.tmp" and renames it over @path only once
 * everything is written and synced, so @path never holds a partial file;
 * on failure the temporary file is removed and @path is left as it was.
 *
 * Returns: %TRUE on success
 */
gboolean
vv_safetensors_write (const gchar *path, const VvSafetensorsSpec *specs, guint n_specs,
    GHashTable *metadata, VvSafetensorsFillFunc fill, gpointer user_data, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (specs != NULL || n_specs == 0, FALSE);
  g_return_val_if_fail (fill != NULL || n_specs == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree gsize *sizes = check_specs (path, specs, n_specs, metadata, error);
  if (sizes == NULL)
    return FALSE;

  gsize json_len = 0;
  g_autofree gchar *json = build_header (specs, n_specs, sizes, metadata, &json_len);
  /* Pad with spaces so the data region starts 8-byte aligned, as the
   * reference writer does; JSON allows trailing whitespace. */
  gsize header_len = (json_len + 7) & ~(gsize) 7;
  gsize prefix_len = 8 + header_len;
  g_autofree guint8 *prefix = g_malloc (prefix_len);
  guint64 n_le = GUINT64_TO_LE ((guint64) header_len);
  memcpy (prefix, &n_le, 8);
  memcpy (prefix + 8, json, json_len);
  memset (prefix + 8 + json_len, ' ', header_len - json_len);

  g_autofree gchar *tmp = g_strconcat (path, ".tmp", NULL);
  gint fd = g_open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    gint err = errno;
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
        "%s: cannot create %s: %s", path, tmp, g_strerror (err));
    return FALSE;
  }

  g_autofree guint8 *buf = NULL;
  gsize buf_cap = 0;
  static guint8 empty_buf[1];
  if (!write_all (fd, prefix, prefix_len, tmp, error))
    goto fail;

  for (guint i = 0; i < n_specs; i++) {
    gsize size = sizes[i];
    if (size > buf_cap) {
      /* One buffer, grown to the largest tensor so far; never the whole
       * checkpoint. g_try_ so a huge tensor is an error, not an abort. */
      g_free (buf);
      buf = g_try_malloc (size);
      buf_cap = buf ? size : 0;
      if (buf == NULL) {
        g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
            "%s: tensor '%s': cannot allocate %" G_GSIZE_FORMAT " bytes", path,
            specs[i].name, size);
        goto fail;
      }
    }
    guint8 *dst = size > 0 ? buf : empty_buf;
    /* A fill that leaves bytes untouched gets zeros, not the previous
     * tensor's data. */
    memset (dst, 0, size);
    GError *fill_error = NULL;
    if (!fill (&specs[i], i, dst, size, user_data, &fill_error)) {
      if (fill_error)
        g_propagate_prefixed_error (error, fill_error, "%s: tensor '%s': ", path,
            specs[i].name);
      else
        g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
            "%s: tensor '%s': writing was aborted", path, specs[i].name);
      goto fail;
    }
    if (fill_error) {
      g_warning ("%s: fill function for tensor '%s' set an error but returned TRUE: %s",
          path, specs[i].name, fill_error->message);
      g_clear_error (&fill_error);
    }
    if (!write_all (fd, dst, size, tmp, error))
      goto fail;
  }

  /* Sync before the rename: otherwise a crash can leave an empty or partial
   * file under the final name on some filesystems. EINVAL: no sync support. */
  if (fsync (fd) != 0 && errno != EINVAL) {
    gint err = errno;
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
        "%s: fsync failed: %s", tmp, g_strerror (err));
    goto fail;
  }
  {
    g_autoptr (GError) close_error = NULL;
    gint cfd = fd;
    fd = -1;
    if (!g_close (cfd, &close_error)) {
      g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
          "%s: close failed: %s", tmp, close_error->message);
      goto fail;
    }
  }
  if (g_rename (tmp, path) != 0) {
    gint err = errno;
    g_set_error (error, VV_SAFETENSORS_ERROR, VV_SAFETENSORS_ERROR_IO,
        "%s: cannot rename %s into place: %s", path, tmp, g_strerror (err));
    goto fail;
  }
  return TRUE;

fail:
  if (fd >= 0)
    g_close (fd, NULL);
  g_unlink (tmp);
  return FALSE;
}
