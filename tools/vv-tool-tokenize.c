/* gst-vibevoice — `vibevoice tokenize`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROG "vibevoice tokenize"

/* Reads all of @path ("-" = stdin). */
static gchar *
read_input (const gchar *path, gsize *len, GError **error)
{
  gchar *data = NULL;
  if (g_strcmp0 (path, "-") != 0)
    return g_file_get_contents (path, &data, len, error) ? data : NULL;

  GString *s = g_string_new (NULL);
  gchar buf[65536];
  gsize n;
  while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
    g_string_append_len (s, buf, n);
  if (ferror (stdin)) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "cannot read standard input: %s", g_strerror (errno));
    g_string_free (s, TRUE);
    return NULL;
  }
  *len = s->len;
  return g_string_free (s, FALSE);
}

static void
print_tokens (VvTokenizer *tok, const gint32 *ids, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    if (i)
      putchar (' ');
    fputs (vv_tokenizer_id_to_token (tok, ids[i]), stdout);
  }
  putchar ('\n');
}

static gboolean
parse_id (const gchar *s, gint32 *id)
{
  gint64 v;
  if (!g_ascii_string_to_signed (s, 10, G_MININT32, G_MAXINT32, &v, NULL))
    return FALSE;
  *id = (gint32) v;
  return TRUE;
}

static int
decode (VvTokenizer *tok, gchar **args, const gchar *file, gboolean tokens)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) from_file = NULL;

  if (file) {
    gsize len;
    g_autofree gchar *data = read_input (file, &len, &error);
    if (data == NULL) {
      fprintf (stderr, PROG ": %s\n", error->message);
      return 1;
    }
    /* ids separated by any whitespace, so the output of encoding can be
     * fed back */
    from_file = g_regex_split_simple ("\\s+", g_strstrip (data), 0, 0);
    args = from_file;
  }
  for (guint i = 0; args && args[i]; i++) {
    gint32 id;
    if (*args[i] == '\0')
      continue;
    if (!parse_id (args[i], &id)) {
      fprintf (stderr, PROG ": '%s' is not a token id\n", args[i]);
      return 2;
    }
    g_array_append_val (ids, id);
  }

  g_autofree gchar *text = vv_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len,
      &error);
  if (text == NULL) {
    fprintf (stderr, PROG ": %s\n", error->message);
    return 1;
  }
  if (tokens)
    print_tokens (tok, (const gint32 *) ids->data, ids->len);
  fputs (text, stdout);
  putchar ('\n');
  return 0;
}

static int
encode_one (VvTokenizer *tok, const gchar *label, const gchar *text, gssize len,
    gboolean tokens)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GError) error = NULL;

  if (!vv_tokenizer_encode (tok, text, len, ids, &error)) {
    fprintf (stderr, PROG ": %s: %s\n", label, error->message);
    return 1;
  }
  g_autoptr (GString) line = g_string_sized_new (ids->len * 7 + 1);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (line, "%s%d", i ? " " : "", g_array_index (ids, gint32, i));
  g_string_append_c (line, '\n');
  fwrite (line->str, 1, line->len, stdout);
  if (tokens)
    print_tokens (tok, (const gint32 *) ids->data, ids->len);
  return 0;
}

int
vv_tool_tokenize (int argc, char **argv)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *file = NULL;
  g_auto (GStrv) args = NULL;
  gboolean do_decode = FALSE, tokens = FALSE;
  /* FILENAME, not STRING, arguments: GOption would convert STRING ones from
   * the locale's charset and reject non-ASCII text under LANG=C; the
   * tokenizer checks UTF-8 itself and says where it breaks. */
  GOptionEntry entries[] = {
    { "tokenizer", 't', 0, G_OPTION_ARG_FILENAME, &dir,
      "Tokenizer folder (tokenizer.json, or vocab.json + merges.txt); default: the shipped Qwen2.5 one", "DIR" },
    { "decode", 'd', 0, G_OPTION_ARG_NONE, &do_decode, "Arguments are token ids: print their text", NULL },
    { "tokens", 'k', 0, G_OPTION_ARG_NONE, &tokens, "Also print the token strings (byte-level symbols)", NULL },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Read the text (or with --decode, the ids) from FILE; - for stdin", "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &args, NULL, "TEXT..." },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- Qwen2.5 BPE token ids of each TEXT");
  g_option_context_set_summary (ctx,
      "Prints the ids of each TEXT on one line, separated by spaces. No BOS/EOS is added.\n"
      "With --decode, the arguments are ids and their decoded text is printed.\n"
      "Use -- before a TEXT or id that starts with '-'.");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, PROG ": %s\n", error->message);
    return 2;
  }
  guint n_args = args ? g_strv_length (args) : 0;
  if (file && n_args > 0) {
    fprintf (stderr, PROG ": give either --file or arguments, not both\n");
    return 2;
  }
  if (!file && n_args == 0) {
    fprintf (stderr, PROG ": nothing to %s (see --help)\n", do_decode ? "decode" : "encode");
    return 2;
  }

  const gchar *tok_dir = dir ? dir : vv_tool_default_tokenizer_dir ();
  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  if (tok == NULL) {
    fprintf (stderr, PROG ": %s\n", error->message);
    return 1;
  }

  if (do_decode)
    return decode (tok, args, file, tokens);

  if (file) {
    gsize len;
    g_autofree gchar *text = read_input (file, &len, &error);
    if (text == NULL) {
      fprintf (stderr, PROG ": %s\n", error->message);
      return 1;
    }
    return encode_one (tok, file, text, len, tokens);
  }
  for (guint i = 0; i < n_args; i++) {
    g_autofree gchar *label = g_strdup_printf ("argument %u", i + 1);
    int ret = encode_one (tok, label, args[i], -1, tokens);
    if (ret != 0)
      return ret;
  }
  return 0;
}
