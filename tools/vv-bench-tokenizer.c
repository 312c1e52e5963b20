/* gst-vibevoice — `vibevoice bench tokenizer`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Single-thread encode throughput of the Qwen2.5 BPE. The first run starts
 * with an empty word cache and so shows the cold cost; later runs show the
 * steady state of a long-lived tokenizer (a pipeline reading a book). */
#include "vv-tool.h"

#include <stdio.h>
#include <string.h>

/* Varied English (dialogue, prose, numbers, punctuation, contractions,
 * a few non-ASCII characters) so the regex and BPE see realistic input. */
static const gchar *const paragraphs[] = {
  "The committee met on Tuesday morning to review the quarterly budget. After three hours "
  "of discussion, they agreed to postpone the decision until the auditors had finished "
  "their report, which is now expected by the end of March.",
  "\"I don't think we're going to make it in time,\" she said, glancing at the clock above "
  "the station doors. \"If the train's late again, we'll have to take a taxi, and that'll "
  "cost us at least forty dollars.\"",
  "Photosynthesis converts light energy into chemical energy. In the chloroplasts, water "
  "molecules are split, releasing oxygen, while carbon dioxide is fixed into sugars through "
  "the Calvin cycle, a sequence of enzyme-driven reactions.",
  "Welcome back to the show! Today we're talking about home coffee roasting: how to pick "
  "green beans, why the first crack matters, and what you can do with a popcorn machine, "
  "a baking tray, or a $300 drum roaster.",
  "In 1969, Apollo 11 landed in the Sea of Tranquility. Neil Armstrong stepped onto the "
  "surface at 02:56 UTC on July 21, followed by Buzz Aldrin about 19 minutes later; Michael "
  "Collins stayed in lunar orbit aboard Columbia.",
  "To install the package, run the setup script with administrator rights, then restart "
  "the service. If the log shows \"permission denied\" (error 13), check that the data "
  "directory belongs to the service user and is writable.",
  "The old lighthouse keeper had seen a thousand storms, but none like this one. Waves "
  "broke over the rocks with a sound like cannon fire, and the lamp, shaking in its brass "
  "cradle, threw its beam into a sky the colour of slate.",
  "Revenue rose 12.5% year over year to 4.2 billion euros, while operating margin slipped "
  "from 18% to 16.7%, mainly because of higher energy prices and the costs of opening two "
  "new plants in Poland and Portugal.",
  "Hey, are you coming to Maya's birthday on Saturday? We're meeting at the café near the "
  "park around seven. Bring a jacket - it's supposed to get cold after sunset, and the "
  "terrace doesn't have heaters anymore.",
  "Researchers trained the model on 2.3 million hours of transcribed speech. Word error "
  "rates fell by roughly a third on noisy recordings, although accented speakers and "
  "overlapping voices remained difficult cases.",
  "Preheat the oven to 220 degrees. Toss the potatoes with olive oil, salt, rosemary and "
  "two crushed garlic cloves, spread them on a tray in a single layer, and roast for 35 to "
  "40 minutes, turning them once halfway through.",
  "Chapter Seven. Nobody in the village could remember exactly when the clock in the "
  "square had stopped; some said it was the winter of the great flood, others swore it "
  "had never worked at all, not even on the day it was installed.",
};

static gchar *
build_text (gsize min_bytes)
{
  GString *s = g_string_sized_new (min_bytes + 4096);
  guint32 state = 12345;
  for (guint i = 0; s->len < min_bytes; i++) {
    /* a small LCG picks paragraphs and speakers, so the text is not one
     * block repeated, like a multi-speaker script */
    state = state * 1664525u + 1013904223u;
    guint p = (state >> 16) % G_N_ELEMENTS (paragraphs);
    g_string_append_printf (s, "Speaker %u: %s\n", (state >> 8) % 4, paragraphs[p]);
    if (i % 10 == 9)
      g_string_append_c (s, '\n');
  }
  return g_string_free (s, FALSE);
}

int
vv_bench_tokenizer (int argc, char **argv)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *file = NULL;
  gint iters = 5;
  gdouble size_mb = 4.0;
  GOptionEntry entries[] = {
    { "tokenizer", 't', 0, G_OPTION_ARG_FILENAME, &dir, "Tokenizer folder (default: the shipped Qwen2.5 one)", "DIR" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Encode the text of FILE instead of generated English", "FILE" },
    { "iters", 'n', 0, G_OPTION_ARG_INT, &iters, "Encode runs (default 5)", "N" },
    { "size", 's', 0, G_OPTION_ARG_DOUBLE, &size_mb, "Size of the generated text in MB (default 4)", "MB" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- Qwen2.5 BPE encode throughput on one thread");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || iters < 1 ||
      size_mb <= 0 || size_mb > 4096) {
    fprintf (stderr, "vibevoice bench tokenizer: %s\n",
        error ? error->message : "bad arguments (no positional arguments; --iters >= 1; "
        "0 < --size <= 4096)");
    return 2;
  }

  const gchar *tok_dir = dir ? dir : vv_tool_default_tokenizer_dir ();
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (VvTokenizer) tok = vv_tokenizer_new_from_dir (tok_dir, &error);
  gint64 t1 = g_get_monotonic_time ();
  if (tok == NULL) {
    fprintf (stderr, "vibevoice bench tokenizer: %s\n", error->message);
    return 1;
  }
  printf ("tokenizer: %s (%u ids), loaded in %.1f ms\n", tok_dir,
      vv_tokenizer_get_n_ids (tok), (t1 - t0) / 1000.0);

  g_autofree gchar *text = NULL;
  gsize len;
  if (file) {
    if (!g_file_get_contents (file, &text, &len, &error)) {
      fprintf (stderr, "vibevoice bench tokenizer: %s\n", error->message);
      return 1;
    }
  } else {
    text = build_text ((gsize) (size_mb * 1e6));
    len = strlen (text);
  }
  printf ("text: %s, %.2f MB\n", file ? file : "generated English", len / 1e6);

  g_autoptr (GArray) ids = g_array_sized_new (FALSE, FALSE, sizeof (gint32), len / 3);
  gdouble best = 0, total_s = 0;
  guint n_tokens = 0;
  for (gint i = 0; i < iters; i++) {
    g_array_set_size (ids, 0);
    gint64 a = g_get_monotonic_time ();
    if (!vv_tokenizer_encode (tok, text, len, ids, &error)) {
      fprintf (stderr, "vibevoice bench tokenizer: %s: %s\n", file ? file : "text",
          error->message);
      return 1;
    }
    gint64 b = g_get_monotonic_time ();
    gdouble s = MAX (b - a, 1) / 1e6;
    if (i > 0 && ids->len != n_tokens) {
      fprintf (stderr, "vibevoice bench tokenizer: run %d gave %u tokens, run 1 gave %u\n",
          i + 1, ids->len, n_tokens);
      return 1;
    }
    n_tokens = ids->len;
    total_s += s;
    best = MAX (best, len / 1e6 / s);
    printf ("encode run %d: %8.1f ms  %7.2f MB/s  %6.2f M tokens/s%s\n", i + 1, s * 1e3,
        len / 1e6 / s, n_tokens / 1e6 / s, i == 0 ? "  (cold word cache)" : "");
  }

  gint64 a = g_get_monotonic_time ();
  g_autofree gchar *back = vv_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len,
      &error);
  gint64 b = g_get_monotonic_time ();
  if (back == NULL) {
    fprintf (stderr, "vibevoice bench tokenizer: decode: %s\n", error->message);
    return 1;
  }
  gdouble ds = MAX (b - a, 1) / 1e6;

  printf ("tokens: %u (%.2f bytes/token)\n", n_tokens, (gdouble) len / MAX (n_tokens, 1));
  printf ("encode: best %.2f MB/s, mean %.2f MB/s, %.2f M tokens/s (mean)\n", best,
      len / 1e6 * iters / total_s, n_tokens / 1e6 * iters / total_s);
  printf ("decode: %.1f ms, %.2f MB/s\n", ds * 1e3, strlen (back) / 1e6 / ds);
  return 0;
}
