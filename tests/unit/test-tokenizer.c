/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Qwen2.5 BPE tokenizer tests: reference id vectors (llama.cpp's Qwen2 set
 * and a peer project's HF dump), the VibeVoice prompt pieces, round trips,
 * error paths, and equivalence of the three on-disk formats. */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>

#define N_GGML_CASES 46
#define N_PEER_CASES 56

typedef struct {
  gchar *text;
  GArray *ids;                  /* gint32 */
} TokCase;

static VvTokenizer *qwen;       /* loaded once: loading costs ~0.3 s */
static GPtrArray *ggml_cases;   /* TokCase */
static GPtrArray *peer_cases;

static void
tok_case_free (gpointer p)
{
  TokCase *c = p;
  g_free (c->text);
  g_array_unref (c->ids);
  g_free (c);
}

static gchar *
qwen_dir (void)
{
  return g_build_filename (g_getenv ("VV_DATA_DIR"), "qwen2-tokenizer", NULL);
}

static gchar *
test_data_path (const gchar *name)
{
  return g_build_filename (g_getenv ("VV_TEST_DATA_DIR"), "tokenizer", name, NULL);
}

static GArray *
new_ids (void)
{
  return g_array_new (FALSE, FALSE, sizeof (gint32));
}

static gchar *
ids_to_string (const GArray *ids)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (s, "%s%d", i ? " " : "", g_array_index (ids, gint32, i));
  return g_string_free (s, FALSE);
}

static gchar *
encode_to_string (VvTokenizer *tok, const gchar *text)
{
  g_autoptr (GArray) ids = new_ids ();
  g_autoptr (GError) error = NULL;
  if (!vv_tokenizer_encode (tok, text, -1, ids, &error))
    return g_strdup_printf ("error: %s", error->message);
  return ids_to_string (ids);
}

/* C-escaped @text for messages, cut after about 160 bytes */
static gchar *
escape (const gchar *text)
{
  gsize len = strlen (text);
  if (len <= 160)
    return g_strescape (text, NULL);
  const gchar *cut = g_utf8_find_prev_char (text, text + 160);
  g_autofree gchar *head = g_strndup (text, cut ? cut - text : 160);
  g_autofree gchar *esc = g_strescape (head, NULL);
  return g_strdup_printf ("%s... (%" G_GSIZE_FORMAT " bytes)", esc, len);
}

/* llama.cpp's vocab test files: the .inp is text + "\n__ggml_vocab_test__\n"
 * for every text (so the file ends with the separator), the .out one line
 * per text with each id preceded by a space. */
static GPtrArray *
read_ggml_cases (void)
{
  static const gchar sep[] = "\n__ggml_vocab_test__\n";
  g_autofree gchar *inp_path = test_data_path ("qwen2-tokenizer-tests.inp");
  g_autofree gchar *out_path = test_data_path ("qwen2-tokenizer-tests.out");
  g_autofree gchar *inp = NULL, *out = NULL;
  gsize inp_len;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (inp_path, &inp, &inp_len, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (out_path, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (inp), ==, inp_len);

  GPtrArray *cases = g_ptr_array_new_with_free_func (tok_case_free);
  const gchar *p = inp, *end = inp + inp_len;
  while (p < end) {
    const gchar *q = g_strstr_len (p, end - p, sep);
    g_assert_nonnull (q);       /* every text, the last included, ends with sep */
    TokCase *c = g_new0 (TokCase, 1);
    c->text = g_strndup (p, q - p);
    c->ids = new_ids ();
    g_ptr_array_add (cases, c);
    p = q + strlen (sep);
  }

  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  guint n_lines = g_strv_length (lines);
  g_assert_cmpuint (n_lines, >=, 1);
  g_assert_cmpstr (lines[n_lines - 1], ==, "");     /* file ends with a newline */
  g_assert_cmpuint (n_lines - 1, ==, cases->len);
  for (guint i = 0; i + 1 < n_lines; i++) {
    TokCase *c = g_ptr_array_index (cases, i);
    if (*lines[i] == '\0')
      continue;                 /* an empty text */
    g_auto (GStrv) fields = g_strsplit (lines[i], " ", -1);
    /* each id is preceded by a space, so field 0 is always empty */
    g_assert_cmpstr (fields[0], ==, "");
    for (guint j = 1; fields[j]; j++) {
      gint64 v;
      g_assert_true (g_ascii_string_to_signed (fields[j], 10, 0, G_MAXINT32, &v, NULL));
      gint32 id = v;
      g_array_append_val (c->ids, id);
    }
  }
  return cases;
}

static GPtrArray *
read_peer_cases (void)
{
  g_autofree gchar *path = test_data_path ("peer-tokenizer-reference.jsonl");
  g_autofree gchar *data = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &data, NULL, &error));
  g_assert_no_error (error);
  GPtrArray *cases = g_ptr_array_new_with_free_func (tok_case_free);
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (*lines[i] == '\0')
      continue;
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_assert_true (json_parser_load_from_data (parser, lines[i], -1, &error));
    g_assert_no_error (error);
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    JsonArray *a = json_object_get_array_member (o, "ids");
    TokCase *c = g_new0 (TokCase, 1);
    c->text = g_strdup (json_object_get_string_member (o, "text"));
    c->ids = new_ids ();
    for (guint j = 0; j < json_array_get_length (a); j++) {
      gint32 id = json_array_get_int_element (a, j);
      g_array_append_val (c->ids, id);
    }
    g_ptr_array_add (cases, c);
  }
  return cases;
}

static void
check_cases (VvTokenizer *tok, GPtrArray *cases, const gchar *set)
{
  guint failed = 0;
  for (guint i = 0; i < cases->len; i++) {
    TokCase *c = g_ptr_array_index (cases, i);
    g_autofree gchar *want = ids_to_string (c->ids);
    g_autofree gchar *got = encode_to_string (tok, c->text);
    if (g_strcmp0 (want, got) != 0) {
      g_autofree gchar *esc = escape (c->text);
      g_test_message ("%s case %u \"%s\": want [%s], got [%s]", set, i, esc, want, got);
      failed++;
    }
  }
  if (failed)
    g_test_fail_printf ("%u of %u %s cases differ", failed, cases->len, set);
}

static void
test_load (void)
{
  g_assert_nonnull (qwen);
  g_assert_cmpuint (vv_tokenizer_get_n_ids (qwen), ==, 151665);
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "\xc4\xa0the"), ==, 279);      /* "Ġthe" */
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "!"), ==, 0);
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "no such token here"), ==, -1);
  g_assert_cmpstr (vv_tokenizer_id_to_token (qwen, 198), ==, "\xc4\x8a");         /* "Ċ" */
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "<|endoftext|>"), ==, VV_TOKEN_EOS);
  g_assert_cmpstr (vv_tokenizer_id_to_token (qwen, VV_TOKEN_PAD), ==, "<|image_pad|>");
  g_assert_cmpstr (vv_tokenizer_id_to_token (qwen, 151664), ==, "<|file_sep|>");
  g_assert_null (vv_tokenizer_id_to_token (qwen, 151665));
  g_assert_null (vv_tokenizer_id_to_token (qwen, -1));
}

static void
test_ggml_vectors (void)
{
  g_assert_cmpuint (ggml_cases->len, ==, N_GGML_CASES);
  check_cases (qwen, ggml_cases, "llama.cpp qwen2");
}

static void
test_peer_vectors (void)
{
  g_assert_cmpuint (peer_cases->len, ==, N_PEER_CASES);
  check_cases (qwen, peer_cases, "peer reference");
}

static const struct {
  const gchar *text;
  const gchar *ids;
} prompt_pieces[] = {
  { " Transform the text provided by various speakers into speech output, utilizing the "
        "distinct voice of each respective speaker.\n",
    "15226 279 1467 3897 553 5257 21326 1119 8806 2550 11 34888 279 12460 7743 315 1817 "
        "19511 18601 624" },
  { " Voice input:\n", "27930 1946 510" },
  { " Text input:\n", "2918 1946 510" },
  { " Speech output:\n", "38741 2550 510" },
  { " Speaker 0:", "29073 220 15 25" },
  { " Speaker 3:", "29073 220 18 25" },
  { "\n", "198" },
  { " Speaker 0: Hello there.\n", "29073 220 15 25 21927 1052 624" },
  { "<|vision_start|>", "151652" },
  { "<|vision_end|>", "151653" },
  { "<|vision_pad|>", "151654" },
  { "<|endoftext|>", "151643" },
  { "<|image_pad|>", "151655" },
  { "a<|vision_pad|>b", "64 151654 65" },
  { "<|vision_start|><|vision_pad|><|vision_pad|><|vision_end|>\n",
    "151652 151654 151654 151653 198" },
  { " Speaker 1:<|vision_start|>", "29073 220 16 25 151652" },
  { "<|im_start|>user\nhi<|im_end|>", "151644 872 198 6023 151645" },
  { "<tool_call></tool_call>", "151657 151658" },
};

static void
test_prompt_pieces (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (prompt_pieces); i++) {
    g_autofree gchar *got = encode_to_string (qwen, prompt_pieces[i].text);
    g_assert_cmpstr (got, ==, prompt_pieces[i].ids);
  }
  /* a cut-off added token is ordinary text */
  g_autoptr (GArray) ids = new_ids ();
  g_assert_true (vv_tokenizer_encode (qwen, "<|vision_pad", -1, ids, NULL));
  g_assert_cmpuint (ids->len, >, 1);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpint (g_array_index (ids, gint32, i), <, VV_TOKEN_EOS);
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "<|vision_start|>"), ==, VV_TOKEN_SPEECH_START);
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "<|vision_end|>"), ==, VV_TOKEN_SPEECH_END);
  g_assert_cmpint (vv_tokenizer_token_to_id (qwen, "<|vision_pad|>"), ==,
      VV_TOKEN_SPEECH_DIFFUSION);
}

static void
assert_round_trip (VvTokenizer *tok, const gchar *text)
{
  g_autoptr (GArray) ids = new_ids ();
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_tokenizer_encode (tok, text, -1, ids, &error));
  g_assert_no_error (error);
  g_autofree gchar *back = vv_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len, &error);
  g_assert_no_error (error);
  g_autofree gchar *nfc = g_utf8_normalize (text, -1, G_NORMALIZE_NFC);
  if (g_strcmp0 (back, nfc) != 0) {
    /* show both from a little before the first difference */
    gsize d = 0;
    while (nfc[d] && nfc[d] == back[d])
      d++;
    const gchar *from = g_utf8_find_prev_char (nfc, nfc + (d > 24 ? d - 24 : 0));
    gsize o = from && d > 24 ? (gsize) (from - nfc) : 0;
    g_autofree gchar *e1 = escape (nfc + o), *e2 = escape (back + o);
    g_test_fail_printf ("round trip differs at byte %" G_GSIZE_FORMAT ": want \"%s\", got \"%s\"",
        d, e1, e2);
  }
}

static void
test_round_trip (void)
{
  for (guint i = 0; i < ggml_cases->len; i++)
    assert_round_trip (qwen, ((TokCase *) g_ptr_array_index (ggml_cases, i))->text);
  for (guint i = 0; i < peer_cases->len; i++)
    assert_round_trip (qwen, ((TokCase *) g_ptr_array_index (peer_cases, i))->text);

  static const gchar *extra[] = {
    "日本語のテキスト、中文文本。한국어 텍스트",
    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d"
        "\xf0\x9f\x91\xa6 family, \xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88 flag",
    "cafe\xcc\x81 na\xc3\xafve e\xcc\x81te\xcc\x81",         /* decomposed accents */
    "A\xcc\x8angstro\xcc\x88m \xe2\x84\xab",                /* Å, ö, KELVIN-like ANGSTROM SIGN */
    "\r\n\t  mixed   spaces \xe2\x80\x83 and\xc2\xa0nbsp\n\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>",
    "",
  };
  for (guint i = 0; i < G_N_ELEMENTS (extra); i++)
    assert_round_trip (qwen, extra[i]);

  /* one long run of letters: a single pre-token of 3000 bytes, the heap BPE path */
  g_autoptr (GString) cjk = g_string_new (NULL);
  for (guint i = 0; i < 1000; i++)
    g_string_append_unichar (cjk, 0x4E00 + (i * 7919) % 20000);
  assert_round_trip (qwen, cjk->str);
}

static void
test_nfc (void)
{
  g_autofree gchar *decomposed = encode_to_string (qwen, "caf" "e\xcc\x81");
  g_autofree gchar *composed = encode_to_string (qwen, "caf\xc3\xa9");
  g_assert_cmpstr (decomposed, ==, composed);

  g_autoptr (GArray) ids = new_ids ();
  g_assert_true (vv_tokenizer_encode (qwen, "e\xcc\x81", -1, ids, NULL));
  g_autofree gchar *back = vv_tokenizer_decode (qwen, (const gint32 *) ids->data, ids->len, NULL);
  g_assert_cmpstr (back, ==, "\xc3\xa9");
}

/* A long text where NFC has work to do everywhere (decomposed accents,
 * Hangul jamo, marks to reorder, singletons, long runs without ASCII): the
 * tokenizer normalises it in pieces, which must equal NFC of the whole. */
static void
test_nfc_long (void)
{
  static const gchar *pieces[] = {
    "e\xcc\x81", "caf\xc3\xa9 ", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xe1\x84\x80\xe1\x85\xa1",
    "\xe1\x86\xa8", "\xcc\x81", "\xcc\xa3\xcc\x81", "a\xcc\x81\xcc\xa3",
    "\xe2\x84\xab", "\xe2\x84\xa6", "\xe0\xbd\xb3", "\xe0\xad\x87\xe0\xac\xbe",
    "\xd0\x96", "\xd0\xb8\xcc\x86", "\xf0\x9f\x98\x80", "\xef\xbd\x81", " ", "\n", "x",
  };
  g_autoptr (GString) text = g_string_new (NULL);
  guint32 state = 1;
  for (guint i = 0; i < 30000; i++) {
    state = state * 1664525u + 1013904223u;
    guint k = (state >> 16) % G_N_ELEMENTS (pieces);
    /* long stretches without ASCII, so segments are cut inside them */
    if ((i / 2000) % 2 == 1 && (k >= G_N_ELEMENTS (pieces) - 3 || k <= 1))
      k = 2;
    g_string_append (text, pieces[k]);
  }
  assert_round_trip (qwen, text->str);

  g_autofree gchar *nfc = g_utf8_normalize (text->str, -1, G_NORMALIZE_NFC);
  g_autofree gchar *a = encode_to_string (qwen, text->str);
  g_autofree gchar *b = encode_to_string (qwen, nfc);
  g_assert_true (g_str_equal (a, b));
}

static void
test_explicit_length (void)
{
  /* @len limits the text; what follows must not be read */
  g_autoptr (GArray) ids = new_ids ();
  g_assert_true (vv_tokenizer_encode (qwen, "Hello world", 5, ids, NULL));
  g_autofree gchar *got = ids_to_string (ids);
  g_assert_cmpstr (got, ==, "9707");
  /* appends, does not clear */
  g_assert_true (vv_tokenizer_encode (qwen, " world", -1, ids, NULL));
  g_autofree gchar *got2 = ids_to_string (ids);
  g_assert_cmpstr (got2, ==, "9707 1879");
  g_assert_true (vv_tokenizer_encode (qwen, NULL, 0, ids, NULL));
  g_assert_cmpuint (ids->len, ==, 2);
}

static void
test_invalid_utf8 (void)
{
  static const struct {
    const gchar *text;
    gssize len;
    gsize offset;
  } bad[] = {
    { "abc\xff", -1, 3 },
    { "ab\xe2\x82", -1, 2 },            /* truncated 3-byte sequence */
    { "\xc0\xaf", -1, 0 },              /* overlong '/' */
    { "x\xed\xa0\x80y", -1, 1 },        /* UTF-16 surrogate */
    { "ok\xf4\x90\x80\x80", -1, 2 },    /* above U+10FFFF */
    { "a\0b", 3, 1 },                   /* embedded NUL */
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GArray) ids = new_ids ();
    g_autoptr (GError) error = NULL;
    g_assert_false (vv_tokenizer_encode (qwen, bad[i].text, bad[i].len, ids, &error));
    g_assert_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_INVALID_UTF8);
    g_autofree gchar *where = g_strdup_printf ("offset %" G_GSIZE_FORMAT, bad[i].offset);
    g_assert_nonnull (strstr (error->message, where));
    g_assert_cmpuint (ids->len, ==, 0);
  }
}

static void
test_decode_invalid_id (void)
{
  const gint32 cases[][2] = { { 9707, 151665 }, { -1, 9707 }, { 9707, G_MAXINT32 } };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *text = vv_tokenizer_decode (qwen, cases[i], 2, &error);
    g_assert_null (text);
    g_assert_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_INVALID_ID);
    gint32 bad_id = cases[i][0] == 9707 ? cases[i][1] : cases[i][0];
    g_autofree gchar *s = g_strdup_printf ("%d", bad_id);
    g_assert_nonnull (strstr (error->message, s));
  }
  g_autoptr (GError) error = NULL;
  const gint32 ok[] = { 9707, 1879, VV_TOKEN_EOS };
  g_autofree gchar *text = vv_tokenizer_decode (qwen, ok, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "Hello world<|endoftext|>");
  g_autofree gchar *empty = vv_tokenizer_decode (qwen, NULL, 0, &error);
  g_assert_cmpstr (empty, ==, "");
}

/* The GPT-2 byte-level symbol of byte @b, computed independently of the
 * library so the tests check its table too. */
static gchar *
byte_symbol (guint8 b)
{
  gunichar c = b;
  if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
    guint n = 0;
    for (guint x = 0; x < b; x++)
      if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE))
        n++;
    c = 256 + n;
  }
  return g_ucs4_to_utf8 (&c, 1, NULL, NULL, NULL);
}

static gint32
byte_id (guint8 b)
{
  g_autofree gchar *s = byte_symbol (b);
  return vv_tokenizer_token_to_id (qwen, s);
}

static void
test_decode_lossy (void)
{
  static const struct {
    const gchar *bytes;
    const gchar *want;
  } cases[] = {
    { "\xc3", "\xef\xbf\xbd" },
    { "\xc3\xa9", "\xc3\xa9" },
    { "a\xe2\x82" "b", "a\xef\xbf\xbd" "b" },                   /* one U+FFFD for a truncated char */
    { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                 /* C0 is never valid */
    { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
    { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
    { "\xf0\x9f\x98" "x", "\xef\xbf\xbd" "x" },
    { "\x80", "\xef\xbf\xbd" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GArray) ids = new_ids ();
    for (const guint8 *p = (const guint8 *) cases[i].bytes; *p; p++) {
      gint32 id = byte_id (*p);
      g_assert_cmpint (id, >=, 0);
      g_array_append_val (ids, id);
    }
    g_autoptr (GError) error = NULL;
    g_autofree gchar *text = vv_tokenizer_decode (qwen, (const gint32 *) ids->data, ids->len,
        &error);
    g_assert_no_error (error);
    g_assert_cmpstr (text, ==, cases[i].want);
  }
}

/* ------------------------------------------------------------------ */
/* Other on-disk forms                                                  */

static void
remove_tree (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    g_assert_cmpint (g_unlink (path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static gchar *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("vv-tokenizer-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
copy_file (const gchar *src_dir, const gchar *name, const gchar *dst_dir)
{
  g_autofree gchar *src = g_build_filename (src_dir, name, NULL);
  g_autofree gchar *dst = g_build_filename (dst_dir, name, NULL);
  g_autofree gchar *data = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (src, &data, &len, &error));
  g_assert_true (g_file_set_contents (dst, data, len, &error));
  g_assert_no_error (error);
}

static void
write_file (const gchar *dir, const gchar *name, const gchar *data, gssize len)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, data, len, &error));
  g_assert_no_error (error);
}

/* Every reference text and prompt piece must encode the same with @tok as
 * with the tokenizer loaded from the shipped files. */
static void
assert_same_as_qwen (VvTokenizer *tok)
{
  g_assert_cmpuint (vv_tokenizer_get_n_ids (tok), ==, vv_tokenizer_get_n_ids (qwen));
  check_cases (tok, ggml_cases, "llama.cpp qwen2");
  check_cases (tok, peer_cases, "peer reference");
  for (guint i = 0; i < G_N_ELEMENTS (prompt_pieces); i++) {
    g_autofree gchar *a = encode_to_string (tok, prompt_pieces[i].text);
    g_autofree gchar *b = encode_to_string (qwen, prompt_pieces[i].text);
    g_assert_cmpstr (a, ==, b);
  }
  for (gint32 id = 151640; id < 151665; id++)
    g_assert_cmpstr (vv_tokenizer_id_to_token (tok, id), ==, vv_tokenizer_id_to_token (qwen, id));
}

static void
test_merges_version_crlf (void)
{
  g_autofree gchar *src = qwen_dir ();
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *merges_path = g_build_filename (src, "merges.txt", NULL);
  g_autofree gchar *merges = NULL;
  g_assert_true (g_file_get_contents (merges_path, &merges, NULL, NULL));

  /* (g_string_replace would be quadratic on 150k lines) */
  g_autoptr (GString) crlf = g_string_new ("#version: 0.2\r\n");
  for (const gchar *c = merges; *c; c++) {
    if (*c == '\n')
      g_string_append_c (crlf, '\r');
    g_string_append_c (crlf, *c);
  }
  write_file (dir, "merges.txt", crlf->str, crlf->len);
  copy_file (src, "vocab.json", dir);
  copy_file (src, "tokenizer_config.json", dir);

  g_autoptr (GError) error = NULL;
  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  assert_same_as_qwen (tok);
  remove_tree (dir);
}

/* Builds tokenizer.json (the HF single-file format) from the split files,
 * writing merges as "a b" strings or as ["a", "b"] pairs. */
static void
write_tokenizer_json (const gchar *src, const gchar *dir, gboolean pairs)
{
  g_autofree gchar *vocab_path = g_build_filename (src, "vocab.json", NULL);
  g_autofree gchar *merges_path = g_build_filename (src, "merges.txt", NULL);
  g_autofree gchar *config_path = g_build_filename (src, "tokenizer_config.json", NULL);
  g_autoptr (GError) error = NULL;

  g_autoptr (JsonParser) vocab = json_parser_new ();
  g_assert_true (json_parser_load_from_file (vocab, vocab_path, &error));
  g_autoptr (JsonParser) config = json_parser_new ();
  g_assert_true (json_parser_load_from_file (config, config_path, &error));
  g_autofree gchar *merges = NULL;
  g_assert_true (g_file_get_contents (merges_path, &merges, NULL, &error));

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "1.0");

  json_builder_set_member_name (b, "added_tokens");
  json_builder_begin_array (b);
  JsonObject *decoder = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (config)), "added_tokens_decoder");
  g_autoptr (GList) keys = json_object_get_members (decoder);
  for (GList *l = keys; l; l = l->next) {
    JsonObject *t = json_object_get_object_member (decoder, l->data);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, g_ascii_strtoll (l->data, NULL, 10));
    json_builder_set_member_name (b, "content");
    json_builder_add_string_value (b, json_object_get_string_member (t, "content"));
    json_builder_set_member_name (b, "normalized");
    json_builder_add_boolean_value (b, FALSE);
    json_builder_set_member_name (b, "special");
    json_builder_add_boolean_value (b, json_object_get_boolean_member (t, "special"));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "model");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "BPE");
  json_builder_set_member_name (b, "continuing_subword_prefix");
  json_builder_add_string_value (b, "");
  json_builder_set_member_name (b, "ignore_merges");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_set_member_name (b, "vocab");
  json_builder_add_value (b, json_node_copy (json_parser_get_root (vocab)));
  json_builder_set_member_name (b, "merges");
  json_builder_begin_array (b);
  g_auto (GStrv) lines = g_strsplit (merges, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (*lines[i] == '\0')
      continue;
    if (pairs) {
      g_auto (GStrv) parts = g_strsplit (lines[i], " ", 2);
      json_builder_begin_array (b);
      json_builder_add_string_value (b, parts[0]);
      json_builder_add_string_value (b, parts[1]);
      json_builder_end_array (b);
    } else {
      json_builder_add_string_value (b, lines[i]);
    }
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  g_autofree gchar *path = g_build_filename (dir, "tokenizer.json", NULL);
  g_assert_true (json_generator_to_file (gen, path, &error));
  g_assert_no_error (error);
}

static void
check_tokenizer_json (gboolean pairs)
{
  g_autofree gchar *src = qwen_dir ();
  g_autofree gchar *dir = make_tmp_dir ();
  write_tokenizer_json (src, dir, pairs);

  g_autoptr (GError) error = NULL;
  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  assert_same_as_qwen (tok);
  remove_tree (dir);
}

static void
test_tokenizer_json_strings (void)
{
  check_tokenizer_json (FALSE);
}

static void
test_tokenizer_json_pairs (void)
{
  check_tokenizer_json (TRUE);
}

/* ------------------------------------------------------------------ */
/* A hand-made tokenizer: BPE order and added-token matching rules that
 * the Qwen files cannot show (no added token there prefixes another).  */

/* vocab: the 256 byte symbols (id = byte), then aa=256 aaa=257 bc=258 ab=259;
 * merges: "a a" < "aa a" < "b c" < "a b" in rank; added "<x>"=300, "<x>y"=301. */
static gchar *
make_tiny_tokenizer (const gchar *merges)
{
  gchar *dir = make_tmp_dir ();
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  for (guint i = 0; i < 256; i++) {
    g_autofree gchar *s = byte_symbol (i);
    json_builder_set_member_name (b, s);
    json_builder_add_int_value (b, i);
  }
  const gchar *extra[] = { "aa", "aaa", "bc", "ab" };
  for (guint i = 0; i < G_N_ELEMENTS (extra); i++) {
    json_builder_set_member_name (b, extra[i]);
    json_builder_add_int_value (b, 256 + i);
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree gchar *vocab = json_to_string (root, FALSE);
  write_file (dir, "vocab.json", vocab, -1);
  write_file (dir, "merges.txt", merges, -1);
  write_file (dir, "tokenizer_config.json",
      "{\"added_tokens_decoder\": {"
      "\"300\": {\"content\": \"<x>\", \"special\": true},"
      "\"301\": {\"content\": \"<x>y\", \"special\": false}}}", -1);
  return dir;
}

static void
test_bpe_rules (void)
{
  g_autofree gchar *dir = make_tiny_tokenizer ("a a\nab c\naa a\nb c\na b\n");
  g_autoptr (GError) error = NULL;
  /* "ab c" needs "abc", which is not in the vocabulary */
  g_autoptr (VvTokenizer) bad = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_null (bad);
  g_assert_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "merges.txt:2"));
  g_clear_error (&error);
  write_file (dir, "merges.txt", "a a\naa a\nb c\na b\n", -1);

  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_tokenizer_get_n_ids (tok), ==, 302);
  g_assert_null (vv_tokenizer_id_to_token (tok, 280));      /* a hole in the ids */

  static const struct {
    const gchar *text, *ids;
  } cases[] = {
    { "aaa", "257" },           /* leftmost first: (aa)a -> aaa, not a(aa) */
    { "aaaa", "256 256" },
    { "abc", "97 258" },        /* "b c" outranks "a b" */
    { "ab", "259" },
    { "<x>y", "301" },          /* longest added token wins */
    { "<x>z<x>", "300 122 300" },
    { "a<x>", "97 300" },
    { "<x", "60 120" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *got = encode_to_string (tok, cases[i].text);
    g_assert_cmpstr (got, ==, cases[i].ids);
  }

  /* 1001 a's, one pre-token past the stack buffers: the rank-0 pairs merge
   * left to right, then only the last "aa a" can merge. */
  g_autofree gchar *long_a = g_strnfill (1001, 'a');
  g_autoptr (GArray) ids = new_ids ();
  g_assert_true (vv_tokenizer_encode (tok, long_a, -1, ids, NULL));
  g_assert_cmpuint (ids->len, ==, 500);
  for (guint i = 0; i < 499; i++)
    g_assert_cmpint (g_array_index (ids, gint32, i), ==, 256);
  g_assert_cmpint (g_array_index (ids, gint32, 499), ==, 257);
  g_autofree gchar *back = vv_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len, NULL);
  g_assert_cmpstr (back, ==, long_a);

  remove_tree (dir);
}

/* ------------------------------------------------------------------ */
/* Malformed folders                                                    */

static void
assert_load_fails (const gchar *dir, const gchar *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_null (tok);
  g_assert_error (error, VV_TOKENIZER_ERROR, VV_TOKENIZER_ERROR_FILE);
  if (strstr (error->message, needle) == NULL)
    g_test_fail_printf ("error \"%s\" does not mention \"%s\"", error->message, needle);
}

static void
test_malformed_missing_vocab (void)
{
  g_autofree gchar *src = qwen_dir ();
  g_autofree gchar *dir = make_tmp_dir ();
  copy_file (src, "merges.txt", dir);
  assert_load_fails (dir, "vocab.json");
  remove_tree (dir);

  assert_load_fails ("/nonexistent/vv-tokenizer-dir", "/nonexistent/vv-tokenizer-dir");
}

static void
test_malformed_vocab_not_json (void)
{
  g_autofree gchar *src = qwen_dir ();
  g_autofree gchar *dir = make_tmp_dir ();
  copy_file (src, "merges.txt", dir);
  write_file (dir, "vocab.json", "{\"a\": 0, oops", -1);
  assert_load_fails (dir, "vocab.json");
  write_file (dir, "vocab.json", "[1, 2]", -1);
  assert_load_fails (dir, "vocab.json");
  write_file (dir, "vocab.json", "{\"a\": \"zero\"}", -1);
  assert_load_fails (dir, "vocab.json");
  /* valid JSON, but the byte-level symbols are missing */
  write_file (dir, "vocab.json", "{\"a\": 0}", -1);
  write_file (dir, "merges.txt", "", -1);
  assert_load_fails (dir, "vocab.json");
  remove_tree (dir);
}

static void
test_malformed_merges (void)
{
  g_autofree gchar *dir = make_tiny_tokenizer ("a a\nb\n");
  assert_load_fails (dir, "merges.txt:2");
  write_file (dir, "merges.txt", "a a\naa a\na b c\n", -1);
  assert_load_fails (dir, "merges.txt:3");
  write_file (dir, "merges.txt", "#version: 0.2\r\na a\r\nzz a\r\n", -1);
  assert_load_fails (dir, "merges.txt:3");
  write_file (dir, "merges.txt", "a  a\n", -1);
  assert_load_fails (dir, "merges.txt:1");
  g_autofree gchar *merges = g_build_filename (dir, "merges.txt", NULL);
  g_assert_cmpint (g_unlink (merges), ==, 0);
  assert_load_fails (dir, "merges.txt");
  remove_tree (dir);
}

static void
test_malformed_config (void)
{
  g_autofree gchar *dir = make_tiny_tokenizer ("a a\n");
  write_file (dir, "tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {}}}", -1);
  assert_load_fails (dir, "tokenizer_config.json");
  write_file (dir, "tokenizer_config.json", "not json", -1);
  assert_load_fails (dir, "tokenizer_config.json");
  /* an added token that claims a vocabulary id of another string */
  write_file (dir, "tokenizer_config.json",
      "{\"added_tokens_decoder\": {\"97\": {\"content\": \"<x>\"}}}", -1);
  assert_load_fails (dir, "tokenizer_config.json");
  /* without tokenizer_config.json there are just no added tokens */
  g_autofree gchar *config = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_assert_cmpint (g_unlink (config), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vv_tokenizer_get_n_ids (tok), ==, 260);
  g_autofree gchar *got = encode_to_string (tok, "<x>");
  g_assert_cmpstr (got, ==, "60 120 62");
  remove_tree (dir);
}

static void
test_malformed_tokenizer_json (void)
{
  g_autofree gchar *dir = make_tmp_dir ();
  write_file (dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\"}}", -1);
  assert_load_fails (dir, "tokenizer.json");
  write_file (dir, "tokenizer.json", "{\"model\": {\"vocab\": {}, \"merges\": {}}}", -1);
  assert_load_fails (dir, "tokenizer.json");
  write_file (dir, "tokenizer.json",
      "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", -1);
  assert_load_fails (dir, "tokenizer.json");
  write_file (dir, "tokenizer.json",
      "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", -1);
  assert_load_fails (dir, "tokenizer.json");
  write_file (dir, "tokenizer.json", "", -1);
  assert_load_fails (dir, "tokenizer.json");
  remove_tree (dir);
}



/* Issue 14: 80 000 levels in any of the tokenizer's JSON files overflowed the
 * stack inside json-glib; now a clean error naming the file and the limit. */
static void
test_malformed_deep_nesting (void)
{
  static const gchar *files[] = { "tokenizer.json", "vocab.json", "tokenizer_config.json" };
  for (guint f = 0; f < G_N_ELEMENTS (files); f++) {
    for (gint objects = 0; objects <= 1; objects++) {
      g_autofree gchar *dir = make_tiny_tokenizer ("a a\n");
      g_autofree gchar *deep = vv_test_deep_json (80000, objects);
      write_file (dir, files[f], deep, -1);
      assert_load_fails (dir, files[f]);
      assert_load_fails (dir, "deeper than 64 levels");
      remove_tree (dir);
    }
  }
}

/* ------------------------------------------------------------------ */
/* The word cache                                                       */

static gchar *
many_words_text (guint n_words)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n_words; i++) {
    /* distinct letter words, enough to overflow the cache once */
    g_string_append_c (s, ' ');
    for (guint x = i + 1; x; x /= 26)
      g_string_append_c (s, 'a' + x % 26);
    if (i % 97 == 0)
      g_string_append (s, ". \xc3\x89t\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 3.14\n");
  }
  return g_string_free (s, FALSE);
}

typedef struct {
  const gchar *text;
  gchar *result;
} ThreadJob;

static gpointer
encode_thread (gpointer data)
{
  ThreadJob *job = data;
  job->result = encode_to_string (qwen, job->text);
  return NULL;
}

static void
test_cache_consistency (void)
{
  g_autofree gchar *text = many_words_text (200000);
  g_autofree gchar *first = encode_to_string (qwen, text);
  g_autofree gchar *second = encode_to_string (qwen, text);
  g_assert_true (g_str_equal (first, second));

  /* concurrent encoders share the cache */
  ThreadJob jobs[4];
  GThread *threads[4];
  for (guint i = 0; i < 4; i++) {
    jobs[i].text = text;
    jobs[i].result = NULL;
    threads[i] = g_thread_new ("encode", encode_thread, &jobs[i]);
  }
  for (guint i = 0; i < 4; i++) {
    g_thread_join (threads[i]);
    g_assert_true (g_str_equal (jobs[i].result, first));
    g_free (jobs[i].result);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_autofree gchar *dir = qwen_dir ();
  g_autoptr (GError) error = NULL;
  if (g_getenv ("VV_DATA_DIR") == NULL || g_getenv ("VV_TEST_DATA_DIR") == NULL)
    g_error ("VV_DATA_DIR and VV_TEST_DATA_DIR must be set (meson test sets them)");
  qwen = vv_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  ggml_cases = read_ggml_cases ();
  peer_cases = read_peer_cases ();

  g_test_add_func ("/tokenizer/load", test_load);
  g_test_add_func ("/tokenizer/vectors/llama-cpp-qwen2", test_ggml_vectors);
  g_test_add_func ("/tokenizer/vectors/peer-reference", test_peer_vectors);
  g_test_add_func ("/tokenizer/prompt-pieces", test_prompt_pieces);
  g_test_add_func ("/tokenizer/round-trip", test_round_trip);
  g_test_add_func ("/tokenizer/nfc", test_nfc);
  g_test_add_func ("/tokenizer/nfc-long", test_nfc_long);
  g_test_add_func ("/tokenizer/explicit-length", test_explicit_length);
  g_test_add_func ("/tokenizer/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/tokenizer/decode/invalid-id", test_decode_invalid_id);
  g_test_add_func ("/tokenizer/decode/lossy", test_decode_lossy);
  g_test_add_func ("/tokenizer/bpe-rules", test_bpe_rules);
  g_test_add_func ("/tokenizer/format/merges-version-crlf", test_merges_version_crlf);
  g_test_add_func ("/tokenizer/format/tokenizer-json-strings", test_tokenizer_json_strings);
  g_test_add_func ("/tokenizer/format/tokenizer-json-pairs", test_tokenizer_json_pairs);
  g_test_add_func ("/tokenizer/malformed/missing-vocab", test_malformed_missing_vocab);
  g_test_add_func ("/tokenizer/malformed/vocab-not-json", test_malformed_vocab_not_json);
  g_test_add_func ("/tokenizer/malformed/merges", test_malformed_merges);
  g_test_add_func ("/tokenizer/malformed/config", test_malformed_config);
  g_test_add_func ("/tokenizer/malformed/tokenizer-json", test_malformed_tokenizer_json);
  g_test_add_func ("/tokenizer/malformed/deep-nesting", test_malformed_deep_nesting);
  g_test_add_func ("/tokenizer/cache", test_cache_consistency);

  int ret = g_test_run ();
  g_clear_pointer (&ggml_cases, g_ptr_array_unref);
  g_clear_pointer (&peer_cases, g_ptr_array_unref);
  g_clear_pointer (&qwen, vv_tokenizer_unref);
  return ret;
}
