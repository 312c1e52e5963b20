/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Qwen2 / Qwen2.5 byte-level BPE tokenizer.
 *
 * Pipeline of vv_tokenizer_encode():
 *   UTF-8 check -> split out added tokens (matched on the raw text, because
 *   they are "normalized": false) -> NFC -> Qwen2 pre-tokenizer regex ->
 *   bytes to ids of the GPT-2 byte-level symbols -> BPE merges -> ids.
 *
 * BPE works on ids, not on strings: every merge "a b" is stored as the pair
 * (id(a), id(b)) -> (rank, id(ab)) in an open-addressing table, and a word
 * starts as the ids of its bytes' byte-level symbols. This avoids building
 * and hashing strings in the inner loop. */
#include "vv-tokenizer.h"
#include "vv-safetensors.h"

#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (vv-tokenizer-error-quark, vv_tokenizer_error)

/* The Qwen2 pre-tokenizer split, as in the model's tokenizer.json. */
#define QWEN2_PRETOKENIZE_PATTERN \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
  "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Ids beyond this are refused at load: the id -> token table is dense, so a
 * bogus huge id in a file would otherwise allocate gigabytes. */
#define MAX_TOKEN_ID (1 << 24)

/* Per-word cache: natural text repeats a small set of words, so most words
 * skip BPE entirely. Long words are rare and would bloat the cache; the
 * whole cache is dropped when full, which is simpler than LRU and cheap
 * because refilling it costs only a few hundred thousand BPE runs. */
#define CACHE_MAX_WORD_BYTES 64
#define CACHE_MAX_ENTRIES (1 << 17)
G_STATIC_ASSERT (CACHE_MAX_WORD_BYTES <= G_MAXUINT16);

/* Words up to this many bytes run BPE on stack buffers. */
#define BPE_STACK_SYMBOLS 64

#define MERGE_EMPTY_KEY G_MAXUINT64

/* Byte-level symbols are U+0000..U+0143 (256 + 68 remapped bytes). */
#define BYTE_SYMBOL_LIMIT 0x144

typedef struct {
  guint64 key;                  /* (left id << 32) | right id */
  gint32 rank;
  gint32 merged;
} VvMergeSlot;

typedef struct {
  guint32 hash;                 /* 0 = free slot */
  guint16 len;                  /* word bytes */
  guint16 n_ids;
  guint32 offset;               /* into cache_arena */
} VvCacheSlot;

typedef struct {
  const gchar *content;         /* in tok->strings */
  gsize len;
  gint32 id;
} VvAddedToken;

struct _VvTokenizer {
  gint ref_count;
  GStringChunk *strings;
  GHashTable *token_ids;        /* token string -> GINT_TO_POINTER (id + 1) */
  GPtrArray *id_to_token;       /* const gchar * (in strings); NULL = no such id */
  guint8 *id_is_added;          /* id_to_token->len flags */

  gchar byte_symbol[256][4];    /* UTF-8 of each byte's byte-level symbol */
  gint16 symbol_byte[BYTE_SYMBOL_LIMIT];        /* inverse; -1 = not a byte symbol */
  gint32 byte_ids[256];

  VvMergeSlot *merges;
  guint merge_mask;
  guint merge_bits;
  gboolean ignore_merges;

  GArray *added;                /* VvAddedToken, longest first */
  gboolean added_first_byte[256];

  GRegex *pretokenizer;

  /* word cache, see encode_word(); all of it under cache_lock */
  GMutex cache_lock;
  VvCacheSlot *cache_slots;     /* open addressing; hash 0 = free */
  guint cache_mask;
  guint cache_n;
  GByteArray *cache_arena;      /* per entry: its ids, then the word bytes */
};

/* ------------------------------------------------------------------ */
/* GPT-2 byte <-> symbol map                                            */

static void
init_byte_map (VvTokenizer *tok)
{
  guint next_extra = 0;

  for (guint i = 0; i < BYTE_SYMBOL_LIMIT; i++)
    tok->symbol_byte[i] = -1;
  for (guint b = 0; b < 256; b++) {
    /* Printable Latin-1 bytes stand for themselves; the rest are moved to
     * U+0100.. in byte order, so every byte gets a visible, non-space
     * symbol and a token string never contains raw whitespace. */
    gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    gunichar c = printable ? b : 256 + next_extra++;
    gint n = g_unichar_to_utf8 (c, tok->byte_symbol[b]);
    tok->byte_symbol[b][n] = '\0';
    tok->symbol_byte[c] = b;
  }
}

/* ------------------------------------------------------------------ */
/* Vocabulary                                                           */

static inline gint32
lookup_token (const VvTokenizer *tok, const gchar *token)
{
  gpointer v = g_hash_table_lookup (tok->token_ids, token);
  return v ? GPOINTER_TO_INT (v) - 1 : -1;
}

static gboolean
set_token (VvTokenizer *tok, const gchar *token, gint64 id, const gchar *file,
    GError **error)
{
  if (id < 0 || id >= MAX_TOKEN_ID) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: token '%s' has id %" G_GINT64_FORMAT ", outside 0..%d", file, token, id,
        MAX_TOKEN_ID - 1);
    return FALSE;
  }
  if ((guint) id < tok->id_to_token->len && g_ptr_array_index (tok->id_to_token, id) != NULL) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: tokens '%s' and '%s' have the same id %" G_GINT64_FORMAT, file,
        (const gchar *) g_ptr_array_index (tok->id_to_token, id), token, id);
    return FALSE;
  }
  if (lookup_token (tok, token) >= 0) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: token '%s' appears twice", file, token);
    return FALSE;
  }
  if ((guint) id >= tok->id_to_token->len)
    g_ptr_array_set_size (tok->id_to_token, id + 1);
  gchar *s = g_string_chunk_insert (tok->strings, token);
  g_ptr_array_index (tok->id_to_token, id) = s;
  g_hash_table_insert (tok->token_ids, s, GINT_TO_POINTER ((gint) id + 1));
  return TRUE;
}

static gboolean
load_vocab_object (VvTokenizer *tok, JsonObject *vocab, const gchar *file, GError **error)
{
  JsonObjectIter iter;
  const gchar *token;
  JsonNode *node;

  json_object_iter_init (&iter, vocab);
  while (json_object_iter_next (&iter, &token, &node)) {
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s: the id of vocabulary token '%s' is not an integer", file, token);
      return FALSE;
    }
    if (!set_token (tok, token, json_node_get_int (node), file, error))
      return FALSE;
  }
  if (tok->id_to_token->len == 0) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: the vocabulary is empty", file);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Merges                                                               */

static inline guint
merge_hash (guint64 key, guint bits)
{
  /* Fibonacci hashing: ids are small dense integers, so a multiplicative
   * hash spreads them well and costs one multiply. */
  return (guint) ((key * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >> (64 - bits));
}

static void
merges_alloc (VvTokenizer *tok, guint n_merges)
{
  guint bits = 4;
  /* load factor <= 1/2 keeps linear probing short */
  while ((1u << bits) < 2 * n_merges)
    bits++;
  tok->merge_bits = bits;
  tok->merge_mask = (1u << bits) - 1;
  tok->merges = g_new (VvMergeSlot, 1u << bits);
  for (guint i = 0; i <= tok->merge_mask; i++)
    tok->merges[i].key = MERGE_EMPTY_KEY;
}

static inline const VvMergeSlot *
merge_lookup (const VvTokenizer *tok, gint32 left, gint32 right)
{
  guint64 key = ((guint64) (guint32) left << 32) | (guint32) right;
  guint i = merge_hash (key, tok->merge_bits);

  for (;;) {
    const VvMergeSlot *slot = &tok->merges[i];
    if (slot->key == key)
      return slot;
    if (slot->key == MERGE_EMPTY_KEY)
      return NULL;
    i = (i + 1) & tok->merge_mask;
  }
}

/* Errors leave the location to the caller (g_prefix_error), so the hot
 * path does not format "FILE:LINE" for every one of 150k rules. */
static gboolean
add_merge (VvTokenizer *tok, const gchar *left, const gchar *right, gint32 rank,
    GString *scratch, GError **error)
{
  gint32 l = lookup_token (tok, left);
  gint32 r = lookup_token (tok, right);
  if (l < 0 || r < 0) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "merge part '%s' is not in the vocabulary", l < 0 ? left : right);
    return FALSE;
  }
  g_string_assign (scratch, left);
  g_string_append (scratch, right);
  gint32 m = lookup_token (tok, scratch->str);
  if (m < 0) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "merged token '%s' is not in the vocabulary", scratch->str);
    return FALSE;
  }

  guint64 key = ((guint64) (guint32) l << 32) | (guint32) r;
  guint i = merge_hash (key, tok->merge_bits);
  while (tok->merges[i].key != MERGE_EMPTY_KEY && tok->merges[i].key != key)
    i = (i + 1) & tok->merge_mask;
  /* A repeated rule keeps its first (strongest) rank. */
  if (tok->merges[i].key == key)
    return TRUE;
  tok->merges[i].key = key;
  tok->merges[i].rank = rank;
  tok->merges[i].merged = m;
  return TRUE;
}

static gboolean
load_merges_txt (VvTokenizer *tok, const gchar *path, GError **error)
{
  g_autofree gchar *data = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &data, &len, &local)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE, "%s", local->message);
    return FALSE;
  }

  guint n_lines = 1;
  for (gsize i = 0; i < len; i++)
    n_lines += data[i] == '\n';
  merges_alloc (tok, n_lines);

  g_autoptr (GString) scratch = g_string_new (NULL);
  gchar *p = data, *end = data + len;
  gint32 rank = 0;
  for (guint line_no = 1; p < end; line_no++) {
    gchar *eol = memchr (p, '\n', end - p);
    gchar *next = eol ? eol + 1 : end;
    if (eol == NULL)
      eol = end;
    if (eol > p && eol[-1] == '\r')
      eol--;
    *eol = '\0';

    /* The "#version" header some copies carry is not a rule; blank lines
     * (the end of the file) carry nothing either. */
    if (*p == '\0' || (line_no == 1 && g_str_has_prefix (p, "#version"))) {
      p = next;
      continue;
    }
    gchar *space = strchr (p, ' ');
    if (space == NULL || space == p || space[1] == '\0' || strchr (space + 1, ' ') != NULL) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s:%u: expected two symbols separated by one space, got '%s'", path, line_no, p);
      return FALSE;
    }
    if (strlen (p) != (gsize) (eol - p)) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s:%u: NUL byte in the line", path, line_no);
      return FALSE;
    }
    *space = '\0';
    if (!add_merge (tok, p, space + 1, rank++, scratch, error)) {
      g_prefix_error (error, "%s:%u: ", path, line_no);
      return FALSE;
    }
    p = next;
  }
  return TRUE;
}

static gboolean
load_merges_array (VvTokenizer *tok, JsonArray *merges, const gchar *file, GError **error)
{
  guint n = json_array_get_length (merges);
  g_autoptr (GString) scratch = g_string_new (NULL);

  merges_alloc (tok, n);
  for (guint i = 0; i < n; i++) {
    JsonNode *node = json_array_get_element (merges, i);
    g_autofree gchar *pair = NULL;
    const gchar *left = NULL, *right = NULL;

    /* tokenizers < 0.20 write "a b" strings; newer ones write ["a", "b"],
     * which also allows symbols that contain a space. */
    if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING) {
      pair = json_node_dup_string (node);
      gchar *space = strchr (pair, ' ');
      if (space && space != pair && space[1] && strchr (space + 1, ' ') == NULL) {
        *space = '\0';
        left = pair;
        right = space + 1;
      }
    } else if (JSON_NODE_HOLDS_ARRAY (node)) {
      JsonArray *a = json_node_get_array (node);
      if (json_array_get_length (a) == 2) {
        JsonNode *n0 = json_array_get_element (a, 0), *n1 = json_array_get_element (a, 1);
        if (JSON_NODE_HOLDS_VALUE (n0) && json_node_get_value_type (n0) == G_TYPE_STRING &&
            JSON_NODE_HOLDS_VALUE (n1) && json_node_get_value_type (n1) == G_TYPE_STRING) {
          left = json_node_get_string (n0);
          right = json_node_get_string (n1);
        }
      }
    }
    if (left == NULL || right == NULL || !*left || !*right) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s: model.merges[%u] is not two symbols (\"a b\" or [\"a\", \"b\"])", file, i);
      return FALSE;
    }
    if (!add_merge (tok, left, right, i, scratch, error)) {
      g_prefix_error (error, "%s: model.merges[%u]: ", file, i);
      return FALSE;
    }
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Added tokens                                                         */

static gboolean
add_added_token (VvTokenizer *tok, const gchar *content, gint64 id, const gchar *file,
    GError **error)
{
  if (content == NULL || *content == '\0') {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: added token %" G_GINT64_FORMAT " has no content", file, id);
    return FALSE;
  }
  if (!g_utf8_validate (content, -1, NULL)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: added token %" G_GINT64_FORMAT " is not valid UTF-8", file, id);
    return FALSE;
  }
  gint32 existing = lookup_token (tok, content);
  if (existing >= 0 && existing != id) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: added token '%s' has id %" G_GINT64_FORMAT " but the vocabulary gives it %d",
        file, content, id, existing);
    return FALSE;
  }
  /* An added token may repeat a vocabulary entry (same string, same id):
   * then it is only marked for matching in the text. */
  if (existing < 0 && !set_token (tok, content, id, file, error))
    return FALSE;
  for (guint i = 0; i < tok->added->len; i++)
    if (g_array_index (tok->added, VvAddedToken, i).id == id)
      return TRUE;

  VvAddedToken t = { g_ptr_array_index (tok->id_to_token, id), strlen (content), (gint32) id };
  g_array_append_val (tok->added, t);
  tok->added_first_byte[(guint8) content[0]] = TRUE;
  return TRUE;
}

static gboolean
load_added_tokens_array (VvTokenizer *tok, JsonArray *arr, const gchar *file, GError **error)
{
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonNode *node = json_array_get_element (arr, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    JsonNode *idn = o ? json_object_get_member (o, "id") : NULL;
    JsonNode *cn = o ? json_object_get_member (o, "content") : NULL;
    if (idn == NULL || cn == NULL || !JSON_NODE_HOLDS_VALUE (idn) ||
        json_node_get_value_type (idn) != G_TYPE_INT64 || !JSON_NODE_HOLDS_VALUE (cn) ||
        json_node_get_value_type (cn) != G_TYPE_STRING) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s: added_tokens[%u] needs an integer \"id\" and a string \"content\"", file, i);
      return FALSE;
    }
    if (!add_added_token (tok, json_node_get_string (cn), json_node_get_int (idn), file, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
load_added_tokens_decoder (VvTokenizer *tok, JsonObject *map, const gchar *file,
    GError **error)
{
  JsonObjectIter iter;
  const gchar *key;
  JsonNode *node;

  json_object_iter_init (&iter, map);
  while (json_object_iter_next (&iter, &key, &node)) {
    gint64 id;
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    JsonNode *cn = o ? json_object_get_member (o, "content") : NULL;
    if (!g_ascii_string_to_signed (key, 10, 0, G_MAXINT32, &id, NULL) || cn == NULL ||
        !JSON_NODE_HOLDS_VALUE (cn) || json_node_get_value_type (cn) != G_TYPE_STRING) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s: added_tokens_decoder entry '%s' needs a numeric key and a string \"content\"",
          file, key);
      return FALSE;
    }
    if (!add_added_token (tok, json_node_get_string (cn), id, file, error))
      return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Files                                                                */

static JsonParser *
parse_json_file (const gchar *path, GError **error)
{
  g_autofree gchar *data = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &data, &len, &local)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE, "%s", local->message);
    return NULL;
  }
  if (!vv_json_check_depth (data, len, VV_JSON_MAX_DEPTH, path, VV_TOKENIZER_ERROR,
          VV_TOKENIZER_ERROR_FILE, error))
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, len, &local)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: not valid JSON: %s", path, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: the top level is not a JSON object", path);
    return NULL;
  }
  return g_steal_pointer (&parser);
}

static gboolean
load_tokenizer_json (VvTokenizer *tok, const gchar *path, GError **error)
{
  g_autoptr (JsonParser) parser = parse_json_file (path, error);
  if (parser == NULL)
    return FALSE;
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));

  JsonNode *mn = json_object_get_member (root, "model");
  JsonObject *model = mn && JSON_NODE_HOLDS_OBJECT (mn) ? json_node_get_object (mn) : NULL;
  if (model == NULL) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: no \"model\" object", path);
    return FALSE;
  }
  const gchar *type = json_object_get_string_member_with_default (model, "type", "BPE");
  if (g_strcmp0 (type, "BPE") != 0) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: model type '%s' is not BPE", path, type);
    return FALSE;
  }
  /* Word-piece style affixes would change what the merges mean; byte-level
   * Qwen2 files never set them, so refuse rather than tokenize wrongly. */
  const gchar *affixes[] = { "continuing_subword_prefix", "end_of_word_suffix" };
  for (guint i = 0; i < G_N_ELEMENTS (affixes); i++) {
    JsonNode *n = json_object_get_member (model, affixes[i]);
    if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING &&
        *json_node_get_string (n)) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s: model.%s is not supported", path, affixes[i]);
      return FALSE;
    }
  }
  JsonNode *im = json_object_get_member (model, "ignore_merges");
  tok->ignore_merges = im && JSON_NODE_HOLDS_VALUE (im) &&
      json_node_get_value_type (im) == G_TYPE_BOOLEAN && json_node_get_boolean (im);

  JsonNode *vn = json_object_get_member (model, "vocab");
  JsonNode *gn = json_object_get_member (model, "merges");
  if (vn == NULL || !JSON_NODE_HOLDS_OBJECT (vn) || gn == NULL || !JSON_NODE_HOLDS_ARRAY (gn)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: model.vocab must be an object and model.merges an array", path);
    return FALSE;
  }
  if (!load_vocab_object (tok, json_node_get_object (vn), path, error) ||
      !load_merges_array (tok, json_node_get_array (gn), path, error))
    return FALSE;

  JsonNode *an = json_object_get_member (root, "added_tokens");
  if (an && JSON_NODE_HOLDS_ARRAY (an) &&
      !load_added_tokens_array (tok, json_node_get_array (an), path, error))
    return FALSE;
  return TRUE;
}

static gboolean
load_split_files (VvTokenizer *tok, const gchar *dir, GError **error)
{
  g_autofree gchar *vocab_path = g_build_filename (dir, "vocab.json", NULL);
  g_autofree gchar *merges_path = g_build_filename (dir, "merges.txt", NULL);
  g_autofree gchar *config_path = g_build_filename (dir, "tokenizer_config.json", NULL);

  g_autoptr (JsonParser) parser = parse_json_file (vocab_path, error);
  if (parser == NULL ||
      !load_vocab_object (tok, json_node_get_object (json_parser_get_root (parser)),
          vocab_path, error))
    return FALSE;
  g_clear_object (&parser);     /* the vocab is copied; free the tree early */

  if (!load_merges_txt (tok, merges_path, error))
    return FALSE;

  /* tokenizer_config.json is optional: without it there are no added
   * tokens, which is still a usable plain BPE. */
  if (!g_file_test (config_path, G_FILE_TEST_EXISTS))
    return TRUE;
  g_autoptr (JsonParser) cparser = parse_json_file (config_path, error);
  if (cparser == NULL)
    return FALSE;
  JsonObject *root = json_node_get_object (json_parser_get_root (cparser));
  JsonNode *an = json_object_get_member (root, "added_tokens_decoder");
  if (an == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (an)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
        "%s: added_tokens_decoder is not an object", config_path);
    return FALSE;
  }
  return load_added_tokens_decoder (tok, json_node_get_object (an), config_path, error);
}

static gint
added_longest_first (gconstpointer a, gconstpointer b)
{
  const VvAddedToken *x = a, *y = b;
  if (x->len != y->len)
    return x->len > y->len ? -1 : 1;
  return x->id - y->id;
}

/**
 * vv_tokenizer_new_from_dir:
 * @dir: folder with tokenizer.json, or vocab.json + merges.txt
 *   (+ tokenizer_config.json)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the tokenizer
 */
VvTokenizer *
vv_tokenizer_new_from_dir (const gchar *dir, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (VvTokenizer) tok = g_new0 (VvTokenizer, 1);
  tok->ref_count = 1;
  tok->strings = g_string_chunk_new (1 << 20);
  tok->token_ids = g_hash_table_new (g_str_hash, g_str_equal);
  tok->id_to_token = g_ptr_array_new ();
  tok->added = g_array_new (FALSE, FALSE, sizeof (VvAddedToken));
  tok->cache_mask = 1023;
  tok->cache_slots = g_new0 (VvCacheSlot, tok->cache_mask + 1);
  tok->cache_arena = g_byte_array_new ();
  g_mutex_init (&tok->cache_lock);
  init_byte_map (tok);

  g_autofree gchar *json_path = g_build_filename (dir, "tokenizer.json", NULL);
  g_autofree gchar *split_path = g_build_filename (dir, "vocab.json", NULL);
  gboolean single_file = g_file_test (json_path, G_FILE_TEST_EXISTS);
  const gchar *vocab_path = single_file ? json_path : split_path;
  if (single_file ? !load_tokenizer_json (tok, json_path, error) :
      !load_split_files (tok, dir, error))
    return NULL;

  for (guint b = 0; b < 256; b++) {
    tok->byte_ids[b] = lookup_token (tok, tok->byte_symbol[b]);
    /* Without all 256 byte symbols some texts could not be encoded at all. */
    if (tok->byte_ids[b] < 0) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE,
          "%s: the vocabulary lacks the byte-level symbol '%s' (byte 0x%02x)",
          vocab_path, tok->byte_symbol[b], b);
      return NULL;
    }
  }

  tok->id_is_added = g_new0 (guint8, tok->id_to_token->len);
  for (guint i = 0; i < tok->added->len; i++)
    tok->id_is_added[g_array_index (tok->added, VvAddedToken, i).id] = 1;
  g_array_sort (tok->added, added_longest_first);

  tok->pretokenizer = g_regex_new (QWEN2_PRETOKENIZE_PATTERN, G_REGEX_OPTIMIZE, 0, error);
  if (tok->pretokenizer == NULL)
    return NULL;
  return g_steal_pointer (&tok);
}

G_DEFINE_BOXED_TYPE (VvTokenizer, vv_tokenizer, vv_tokenizer_ref, vv_tokenizer_unref)

/**
 * vv_tokenizer_ref:
 * @tok: a tokenizer
 *
 * Returns: (transfer full): @tok with one more reference
 */
VvTokenizer *
vv_tokenizer_ref (VvTokenizer *tok)
{
  g_atomic_int_inc (&tok->ref_count);
  return tok;
}

/**
 * vv_tokenizer_unref:
 * @tok: (transfer full) (nullable): a tokenizer
 *
 * Drops a reference; the last one frees the tokenizer.
 */
void
vv_tokenizer_unref (VvTokenizer *tok)
{
  if (tok == NULL || !g_atomic_int_dec_and_test (&tok->ref_count))
    return;
  g_clear_pointer (&tok->pretokenizer, g_regex_unref);
  g_free (tok->cache_slots);
  g_clear_pointer (&tok->cache_arena, g_byte_array_unref);
  g_mutex_clear (&tok->cache_lock);
  g_clear_pointer (&tok->added, g_array_unref);
  g_free (tok->merges);
  g_free (tok->id_is_added);
  g_clear_pointer (&tok->id_to_token, g_ptr_array_unref);
  g_clear_pointer (&tok->token_ids, g_hash_table_unref);
  g_clear_pointer (&tok->strings, g_string_chunk_free);
  g_free (tok);
}

/* ------------------------------------------------------------------ */
/* BPE                                                                  */

typedef struct {
  guint64 order;                /* (rank << 32) | position: lowest rank, then leftmost */
  gint32 left, right, merged;
} VvBpeCandidate;

static inline void
heap_push (VvBpeCandidate *heap, guint *n, VvBpeCandidate c)
{
  guint i = (*n)++;
  while (i > 0) {
    guint parent = (i - 1) / 2;
    if (heap[parent].order <= c.order)
      break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = c;
}

static inline VvBpeCandidate
heap_pop (VvBpeCandidate *heap, guint *n)
{
  VvBpeCandidate top = heap[0], last = heap[--(*n)];
  guint i = 0;
  for (;;) {
    guint child = 2 * i + 1;
    if (child >= *n)
      break;
    if (child + 1 < *n && heap[child + 1].order < heap[child].order)
      child++;
    if (last.order <= heap[child].order)
      break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = last;
  return top;
}

static inline void
push_pair (const VvTokenizer *tok, VvBpeCandidate *heap, guint *n_heap, const gint32 *sym,
    gint32 pos, gint32 next_pos)
{
  const VvMergeSlot *m = merge_lookup (tok, sym[pos], sym[next_pos]);
  if (m) {
    VvBpeCandidate c = { ((guint64) m->rank << 32) | (guint32) pos, sym[pos], sym[next_pos],
      m->merged };
    heap_push (heap, n_heap, c);
  }
}

/* Merges the lowest-ranked adjacent pair (leftmost on ties) until none is
 * left. Symbols live in arrays linked as a list so a merge is O(1); the
 * candidates sit in a binary heap, so long words (CJK runs, long digit-free
 * symbol runs) cost O(n log n) instead of rescanning the word per merge.
 * Stale candidates are not removed but skipped when popped: a symbol only
 * ever grows, so a candidate is current exactly when both of its recorded
 * ids still sit at its position and the next one. */
static void
bpe_word (const VvTokenizer *tok, const guint8 *word, guint n, GArray *out)
{
  gint32 sym_buf[BPE_STACK_SYMBOLS], next_buf[BPE_STACK_SYMBOLS], prev_buf[BPE_STACK_SYMBOLS];
  VvBpeCandidate heap_buf[3 * BPE_STACK_SYMBOLS];
  g_autofree gint32 *sym_alloc = NULL;
  g_autofree VvBpeCandidate *heap_alloc = NULL;
  gint32 *sym = sym_buf, *next = next_buf, *prev = prev_buf;
  VvBpeCandidate *heap = heap_buf;
  guint n_heap = 0;

  if (n == 1) {
    g_array_append_val (out, tok->byte_ids[word[0]]);
    return;
  }
  if (tok->ignore_merges) {
    /* tokenizer.json may ask for whole-word vocabulary hits to win over
     * the merges (ignore_merges); map the word to symbols to look it up. */
    g_autoptr (GString) s = g_string_sized_new (2 * n);
    for (guint i = 0; i < n; i++)
      g_string_append (s, tok->byte_symbol[word[i]]);
    gint32 id = lookup_token (tok, s->str);
    if (id >= 0) {
      g_array_append_val (out, id);
      return;
    }
  }
  if (n > BPE_STACK_SYMBOLS) {
    /* one block: 3 int arrays of n, then a heap of at most 3n candidates
     * (n-1 initial pairs + at most 2 per merge) */
    sym_alloc = g_new (gint32, 3 * (gsize) n);
    sym = sym_alloc;
    next = sym_alloc + n;
    prev = sym_alloc + 2 * (gsize) n;
    heap_alloc = g_new (VvBpeCandidate, 3 * (gsize) n);
    heap = heap_alloc;
  }

  for (guint i = 0; i < n; i++) {
    sym[i] = tok->byte_ids[word[i]];
    next[i] = i + 1 < n ? (gint32) i + 1 : -1;
    prev[i] = (gint32) i - 1;
  }
  for (guint i = 0; i + 1 < n; i++)
    push_pair (tok, heap, &n_heap, sym, i, i + 1);

  while (n_heap > 0) {
    VvBpeCandidate c = heap_pop (heap, &n_heap);
    gint32 pos = (gint32) (c.order & G_MAXUINT32);
    gint32 right = next[pos];
    if (sym[pos] != c.left || right < 0 || sym[right] != c.right)
      continue;
    sym[pos] = c.merged;
    sym[right] = -1;
    next[pos] = next[right];
    if (next[pos] >= 0)
      prev[next[pos]] = pos;
    if (prev[pos] >= 0)
      push_pair (tok, heap, &n_heap, sym, prev[pos], pos);
    if (next[pos] >= 0)
      push_pair (tok, heap, &n_heap, sym, pos, next[pos]);
  }

  for (gint32 i = 0; i >= 0; i = next[i])
    g_array_append_val (out, sym[i]);
}

static inline guint32
cache_hash (const gchar *word, guint n)
{
  guint32 h = 2166136261u;      /* FNV-1a: words are short, so it is cheap */
  for (guint i = 0; i < n; i++)
    h = (h ^ (guint8) word[i]) * 16777619u;
  return h ? h : 1;
}

static void
cache_grow (VvTokenizer *tok)
{
  guint mask = tok->cache_mask * 2 + 1;
  VvCacheSlot *slots = g_new0 (VvCacheSlot, mask + 1);
  for (guint i = 0; i <= tok->cache_mask; i++) {
    VvCacheSlot s = tok->cache_slots[i];
    if (s.hash == 0)
      continue;
    guint j = s.hash & mask;
    while (slots[j].hash != 0)
      j = (j + 1) & mask;
    slots[j] = s;
  }
  g_free (tok->cache_slots);
  tok->cache_slots = slots;
  tok->cache_mask = mask;
}

/* Most words of a text have been seen before, so BPE runs once per
 * distinct word. A private table rather than GHashTable: keys are
 * (bytes, length) slices of the text, so a lookup needs no copy, no
 * strlen and no out-of-line compare. */
static void
encode_word (VvTokenizer *tok, const gchar *word, guint n, GArray *ids)
{
  if (n > CACHE_MAX_WORD_BYTES) {
    bpe_word (tok, (const guint8 *) word, n, ids);
    return;
  }
  guint32 h = cache_hash (word, n);

  g_mutex_lock (&tok->cache_lock);
  for (guint i = h & tok->cache_mask; tok->cache_slots[i].hash != 0;
      i = (i + 1) & tok->cache_mask) {
    const VvCacheSlot *s = &tok->cache_slots[i];
    const guint8 *entry = tok->cache_arena->data + s->offset;
    if (s->hash == h && s->len == n &&
        memcmp (entry + s->n_ids * sizeof (gint32), word, n) == 0) {
      g_array_append_vals (ids, entry, s->n_ids);
      g_mutex_unlock (&tok->cache_lock);
      return;
    }
  }
  g_mutex_unlock (&tok->cache_lock);

  /* BPE outside the lock, so threads sharing the tokenizer overlap */
  guint start = ids->len;
  bpe_word (tok, (const guint8 *) word, n, ids);
  guint count = ids->len - start;

  g_mutex_lock (&tok->cache_lock);
  if (tok->cache_n >= CACHE_MAX_ENTRIES) {
    memset (tok->cache_slots, 0, (tok->cache_mask + 1) * sizeof (VvCacheSlot));
    g_byte_array_set_size (tok->cache_arena, 0);
    tok->cache_n = 0;
  }
  if (2 * (tok->cache_n + 1) > tok->cache_mask + 1)
    cache_grow (tok);
  /* another thread may have added the word meanwhile; a duplicate entry
   * is harmless (same ids) and only wastes a slot until the next reset */
  guint i = h & tok->cache_mask;
  while (tok->cache_slots[i].hash != 0)
    i = (i + 1) & tok->cache_mask;
  /* entries stay 4-byte aligned: ids first, word bytes padded */
  guint offset = tok->cache_arena->len;
  g_byte_array_append (tok->cache_arena, (const guint8 *) &g_array_index (ids, gint32, start),
      count * sizeof (gint32));
  g_byte_array_append (tok->cache_arena, (const guint8 *) word, n);
  g_byte_array_set_size (tok->cache_arena, (tok->cache_arena->len + 3) & ~3u);
  VvCacheSlot slot = { h, n, count, offset };
  tok->cache_slots[i] = slot;
  tok->cache_n++;
  g_mutex_unlock (&tok->cache_lock);
}

/* Bitmap of the characters that are the second half of some canonical
 * pair decomposition, i.e. that may compose with what precedes them
 * (combining marks, Hangul vowel and final jamo, some Indic vowel signs).
 * No pair decomposition involves characters at or above U+30000. */
#define NFC_PAIR_LIMIT 0x30000
static guint8 nfc_second[NFC_PAIR_LIMIT / 8];

static gpointer
init_nfc_second (gpointer data)
{
  for (gunichar c = 0; c < NFC_PAIR_LIMIT; c++) {
    gunichar a, b;
    if (g_unichar_decompose (c, &a, &b) && b != 0 && b < NFC_PAIR_LIMIT)
      nfc_second[b >> 3] |= 1u << (b & 7);
  }
  return NULL;
}

static inline gboolean
is_nfc_starter (gunichar c)
{
  return g_unichar_combining_class (c) == 0 &&
      (c >= NFC_PAIR_LIMIT || !(nfc_second[c >> 3] & (1u << (c & 7))));
}

/* TRUE if NFC can be applied separately to the text before @c and from @c
 * on: @c (and the start of its decomposition) has combining class 0 and
 * never composes with a preceding character, so no reordering or
 * composition crosses it. */
static gboolean
is_nfc_cut_point (gunichar c)
{
  static GOnce once = G_ONCE_INIT;
  gunichar first;

  g_once (&once, init_nfc_second, NULL);
  g_unichar_fully_decompose (c, FALSE, &first, 1);
  return is_nfc_starter (c) && is_nfc_starter (first);
}

/* Shortest non-ASCII stretch handed to the normaliser in one call. */
#define NFC_MIN_SEGMENT 256

static void
append_nfc (GString *out, const gchar *text, gsize len)
{
  g_autofree gchar *n = g_utf8_normalize (text, len, G_NORMALIZE_NFC);
  g_string_append (out, n);
}

/* NFC of valid UTF-8 @text, or NULL when @text is already NFC because it
 * is ASCII. GLib's normaliser shifts the rest of its buffer on every
 * composition, which is quadratic on a long text with many accents, so the
 * text is normalised in short segments: ASCII is copied as is, and the
 * cuts fall before ASCII characters (or, inside long non-ASCII runs,
 * before an is_nfc_cut_point() character), where NFC is independent on
 * both sides. The character before a non-ASCII stretch goes with it, as a
 * combining mark may compose with it. */
static gchar *
normalize_nfc (const gchar *text, gsize len)
{
  gsize i = 0;
  while (i < len && (guint8) text[i] < 0x80)
    i++;
  if (i == len)
    return NULL;

  GString *out = g_string_sized_new (len + 16);
  gsize seg = i > 0 ? i - 1 : 0;      /* start of the stretch to normalise */
  g_string_append_len (out, text, seg);
  while (i < len) {
    if ((guint8) text[i] < 0x80) {
      /* end the non-ASCII stretch before this ASCII character, then copy
       * the ASCII run except its last character, which may take a mark */
      append_nfc (out, text + seg, i - seg);
      gsize j = i;
      while (j < len && (guint8) text[j] < 0x80)
        j++;
      if (j == len) {
        g_string_append_len (out, text + i, len - i);
        return g_string_free (out, FALSE);
      }
      g_string_append_len (out, text + i, j - 1 - i);
      seg = j - 1;
      i = j;
      continue;
    }
    if (i - seg >= NFC_MIN_SEGMENT && is_nfc_cut_point (g_utf8_get_char (text + i))) {
      append_nfc (out, text + seg, i - seg);
      seg = i;
    }
    i = g_utf8_next_char (text + i) - text;
  }
  append_nfc (out, text + seg, len - seg);
  return g_string_free (out, FALSE);
}

/* Encodes text between added tokens: NFC, regex split, BPE per piece. */
static void
encode_piece (VvTokenizer *tok, const gchar *text, gsize len, GArray *ids)
{
  g_autoptr (GMatchInfo) match = NULL;

  if (len == 0)
    return;
  g_autofree gchar *normalized = normalize_nfc (text, len);
  if (normalized) {
    text = normalized;
    len = strlen (normalized);
  }

  /* The pattern's alternatives cover every character, so the matches tile
   * the text; a gap would still be encoded (as the reference does with the
   * unmatched parts of a split), just in case. */
  gsize done = 0;
  g_regex_match_full (tok->pretokenizer, text, len, 0, 0, &match, NULL);
  while (g_match_info_matches (match)) {
    gint start, end;
    g_match_info_fetch_pos (match, 0, &start, &end);
    if ((gsize) start > done)
      encode_word (tok, text + done, start - done, ids);
    if (end > start)
      encode_word (tok, text + start, end - start, ids);
    done = end;
    g_match_info_next (match, NULL);
  }
  if (done < len)
    encode_word (tok, text + done, len - done, ids);
}

/**
 * vv_tokenizer_encode: (skip)
 * @tok: a tokenizer
 * @text: UTF-8 text
 * @len: bytes of @text, or -1 if NUL-terminated
 * @ids: (element-type gint32): array the ids are appended to
 * @error: return location for a #GError
 *
 * Returns: %FALSE (and nothing appended) if @text is not valid UTF-8
 */
gboolean
vv_tokenizer_encode (VvTokenizer *tok, const gchar *text, gssize len, GArray *ids,
    GError **error)
{
  g_return_val_if_fail (tok != NULL, FALSE);
  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (ids != NULL && g_array_get_element_size (ids) == sizeof (gint32), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (text == NULL)
    return TRUE;
  if (len < 0)
    len = strlen (text);

  /* GLib's validator also stops at NUL bytes, which a TTS text has no use
   * for either, so they are reported the same way. */
  const gchar *bad;
  if (!g_utf8_validate (text, len, &bad)) {
    g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_INVALID_UTF8,
        "text is not valid UTF-8: bad byte 0x%02x at byte offset %" G_GSIZE_FORMAT,
        (guint8) *bad, (gsize) (bad - text));
    return FALSE;
  }

  /* Added tokens are matched first, on the raw text, leftmost then
   * longest (the list is sorted longest first). */
  const gchar *end = text + len, *piece = text, *p = text;
  if (tok->added->len > 0) {
    while (p < end) {
      if (!tok->added_first_byte[(guint8) *p]) {
        p++;
        continue;
      }
      const VvAddedToken *hit = NULL;
      for (guint i = 0; i < tok->added->len; i++) {
        const VvAddedToken *t = &g_array_index (tok->added, VvAddedToken, i);
        if (t->len <= (gsize) (end - p) && memcmp (p, t->content, t->len) == 0) {
          hit = t;
          break;
        }
      }
      if (hit == NULL) {
        p++;
        continue;
      }
      encode_piece (tok, piece, p - piece, ids);
      g_array_append_val (ids, hit->id);
      p += hit->len;
      piece = p;
    }
  }
  encode_piece (tok, piece, end - piece, ids);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Decode                                                               */

/* Appends @bytes as UTF-8, each maximal ill-formed subsequence replaced by
 * one U+FFFD: the Unicode-recommended practice, which Python's
 * errors="replace" and Rust's from_utf8_lossy (the reference decoders)
 * follow, so partial multi-byte tokens decode the same way here. */
static void
append_utf8_lossy (GString *out, const guint8 *b, gsize n)
{
  gsize i = 0;
  while (i < n) {
    guint8 c = b[i];
    if (c < 0x80) {
      g_string_append_c (out, c);
      i++;
      continue;
    }
    guint need;
    guint8 lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0)
        lo = 0xA0;              /* no overlongs */
      else if (c == 0xED)
        hi = 0x9F;              /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;              /* nothing above U+10FFFF */
    } else {
      g_string_append (out, "\xEF\xBF\xBD");
      i++;
      continue;
    }
    gsize j = i + 1;
    gboolean ok = TRUE;
    for (guint k = 0; k < need; k++, j++) {
      if (j >= n || b[j] < (k == 0 ? lo : 0x80) || b[j] > (k == 0 ? hi : 0xBF)) {
        ok = FALSE;
        break;
      }
    }
    if (ok)
      g_string_append_len (out, (const gchar *) b + i, need + 1);
    else
      g_string_append (out, "\xEF\xBF\xBD");
    i = j;
  }
}

/**
 * vv_tokenizer_decode:
 * @tok: a tokenizer
 * @ids: (array length=n_ids): token ids
 * @n_ids: number of ids
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the text
 */
gchar *
vv_tokenizer_decode (VvTokenizer *tok, const gint32 *ids, gsize n_ids, GError **error)
{
  g_return_val_if_fail (tok != NULL, NULL);
  g_return_val_if_fail (ids != NULL || n_ids == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* GString for its inline one-byte append */
  g_autoptr (GString) bytes = g_string_sized_new (4 * n_ids + 1);
  for (gsize i = 0; i < n_ids; i++) {
    gint32 id = ids[i];
    const gchar *t = vv_tokenizer_id_to_token (tok, id);
    if (t == NULL) {
      g_set_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_INVALID_ID,
          "token id %d (at index %" G_GSIZE_FORMAT ") is not in the vocabulary of %u ids",
          id, i, tok->id_to_token->len);
      return NULL;
    }
    if (tok->id_is_added[id]) {
      g_string_append (bytes, t);
      continue;
    }
    for (const gchar *s = t; *s; s = g_utf8_next_char (s)) {
      gunichar c = g_utf8_get_char (s);
      if (c < BYTE_SYMBOL_LIMIT && tok->symbol_byte[c] >= 0) {
        g_string_append_c (bytes, (gchar) tok->symbol_byte[c]);
      } else {
        /* not a byte-level symbol (a hand-made vocabulary): keep it as is */
        g_string_append_len (bytes, s, g_utf8_next_char (s) - s);
      }
    }
  }
  GString *out = g_string_sized_new (bytes->len + 1);
  append_utf8_lossy (out, (const guint8 *) bytes->str, bytes->len);
  return g_string_free (out, FALSE);
}

/**
 * vv_tokenizer_token_to_id:
 * @tok: a tokenizer
 * @token: a token string (byte-level symbols) or an added token
 *
 * Returns: its id, or -1
 */
gint32
vv_tokenizer_token_to_id (VvTokenizer *tok, const gchar *token)
{
  g_return_val_if_fail (tok != NULL, -1);
  g_return_val_if_fail (token != NULL, -1);
  return lookup_token (tok, token);
}

/**
 * vv_tokenizer_id_to_token:
 * @tok: a tokenizer
 * @id: a token id
 *
 * Returns: (nullable): the token string, or %NULL if @id is out of range
 */
const gchar *
vv_tokenizer_id_to_token (VvTokenizer *tok, gint32 id)
{
  g_return_val_if_fail (tok != NULL, NULL);
  if (id < 0 || (guint) id >= tok->id_to_token->len)
    return NULL;
  return g_ptr_array_index (tok->id_to_token, id);
}

/**
 * vv_tokenizer_get_n_ids:
 * @tok: a tokenizer
 *
 * Returns: regular vocabulary size plus added tokens
 */
guint
vv_tokenizer_get_n_ids (VvTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, 0);
  return tok->id_to_token->len;
}

/**
 * vv_tokenizer_tokenize:
 * @tok: a tokenizer
 * @text: UTF-8 text (NUL-terminated)
 * @n_ids: (out): number of ids returned
 * @error: return location for a #GError
 *
 * vv_tokenizer_encode() for bindings: returns the ids as a new array.
 *
 * Returns: (array length=n_ids) (transfer full) (nullable): the token ids
 */
gint32 *
vv_tokenizer_tokenize (VvTokenizer *tok, const gchar *text, gsize *n_ids, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  *n_ids = 0;
  if (!vv_tokenizer_encode (tok, text, -1, ids, error))
    return NULL;
  *n_ids = ids->len;
  return (gint32 *) g_array_free (g_steal_pointer (&ids), FALSE);
}
