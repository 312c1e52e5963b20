/* gst-vibevoice — fuzz target: the dialogue parser. Feeding the input in
 * chunks (sizes drawn from the input) must give exactly the turns, warnings
 * and error of one feed; JSON documents also go through the JSON parser.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-fuzz.h"
#include <vibevoice/vibevoice.h>

#include <string.h>

typedef struct {
  GPtrArray *turns, *warnings;
  gchar *error;
} Parsed;

static void
parsed_clear (Parsed *p)
{
  g_ptr_array_unref (p->turns);
  g_ptr_array_unref (p->warnings);
  g_free (p->error);
}

static void
parse (const uint8_t *data, size_t size, gboolean flush_on_newline, guint32 seed, Parsed *out)
{
  out->turns = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_dialog_turn_free);
  out->warnings = g_ptr_array_new_with_free_func (g_free);
  out->error = NULL;
  g_autoptr (VvDialogParser) p = vv_dialog_parser_new ();
  vv_dialog_parser_set_flush_on_newline (p, flush_on_newline);
  g_autoptr (GError) error = NULL;
  size_t done = 0;
  gboolean ok = TRUE;
  while (ok && done < size) {
    size_t n = size - done;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = MIN (n, 1 + (seed >> 16) % 17);
    }
    ok = vv_dialog_parser_feed (p, (const gchar *) data + done, n, out->turns, out->warnings,
        &error);
    done += n;
  }
  if (ok)
    ok = vv_dialog_parser_finish (p, out->turns, out->warnings, &error);
  if (!ok) {
    VV_FUZZ_CHECK (error != NULL && g_utf8_validate (error->message, -1, NULL));
    out->error = g_strdup (error->message);
  }
}

static void
check_same (const Parsed *a, const Parsed *b)
{
  VV_FUZZ_CHECK (g_strcmp0 (a->error, b->error) == 0);
  if (a->error != NULL)
    return;                     /* turns before an error may be cut differently */
  VV_FUZZ_CHECK (a->turns->len == b->turns->len);
  for (guint i = 0; i < a->turns->len; i++) {
    const VvDialogTurn *x = a->turns->pdata[i], *y = b->turns->pdata[i];
    VV_FUZZ_CHECK (g_strcmp0 (x->speaker, y->speaker) == 0);
    VV_FUZZ_CHECK (g_strcmp0 (x->text, y->text) == 0);
    VV_FUZZ_CHECK (g_strcmp0 (x->emotion, y->emotion) == 0);
    VV_FUZZ_CHECK (x->pause_ms == y->pause_ms && x->line == y->line);
    VV_FUZZ_CHECK (g_utf8_validate (x->text, -1, NULL));
  }
  VV_FUZZ_CHECK (a->warnings->len == b->warnings->len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint32 seed = 0x9e3779b9u;
  for (size_t i = 0; i < MIN (size, 16); i++)
    seed = (seed ^ data[i]) * 16777619u;
  for (gint flush = 0; flush < 2; flush++) {
    Parsed one, chunked;
    parse (data, size, flush, 0, &one);
    parse (data, size, flush, seed | 1, &chunked);
    check_same (&one, &chunked);
    parsed_clear (&one);
    parsed_clear (&chunked);
  }
  if (size > 0 && (data[0] == '[' || data[0] == '{')) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
    GPtrArray *turns = vv_dialog_parse_json ((const gchar *) data, size, warnings, &error);
    VV_FUZZ_CHECK ((turns == NULL) == (error != NULL));
    if (turns != NULL)
      g_ptr_array_unref (turns);
  }
  return 0;
}
