/* gst-vibevoice — `vibevoice bench`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <stdio.h>
#include <string.h>

static int vv_bench_load (int argc, char **argv);

typedef struct {
  const gchar *name;
  int (*run) (int argc, char **argv);
  const gchar *summary;
} VvBench;

static const VvBench benches[] = {
  { "tokenizer", vv_bench_tokenizer, "Qwen2.5 BPE encode throughput (MB/s, one thread)" },
  { "gemv", vv_bench_gemv, "memory bandwidth and bf16 linear() throughput vs OpenBLAS" },
  { "attention", vv_bench_attention, "the attention op at one context length (1.5B heads): ms per pass, cache GB/s, ns per key" },
  { "vae", vv_bench_vae, "one-frame σ-VAE decoder + semantic encoder: ms/frame vs the bandwidth bound" },
  { "synth", vv_bench_synth, "the generation loop per block (forced frames): ms/frame, RTF, bytes/frame vs bandwidth; --position N: at KV context position N" },
  { "streams", vv_bench_streams, "batched streams: N sessions on one engine stepped as one batch; ms per step and aggregate RTF for N = 1, 2, 4" },
  { "load", vv_bench_load, "checkpoint load time (map + validate [+ prefault]) of a model folder" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: vibevoice bench WHAT [OPTIONS...]\n\n");
  for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
    fprintf (out, "  %-10s %s\n", benches[i].name, benches[i].summary);
}

int
vv_tool_bench (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
    if (strcmp (argv[1], benches[i].name) == 0)
      return benches[i].run (argc - 1, argv + 1);
  fprintf (stderr, "vibevoice bench: unknown benchmark '%s'\n", argv[1]);
  usage (stderr);
  return 2;
}

/* Load time: the first run after writing a model may find it in the page
 * cache; --drop-note just reminds that cold numbers need a dropped cache. */
static int
vv_bench_load (int argc, char **argv)
{
  gint iters = 3;
  gboolean prefault = FALSE;
  GOptionEntry entries[] = {
    { "iters", 'n', 0, G_OPTION_ARG_INT, &iters, "Repetitions (default 3)", "N" },
    { "prefault", 0, 0, G_OPTION_ARG_NONE, &prefault, "Touch every weight page after mapping", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL_DIR - time checkpoint loading");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vibevoice bench load: %s\n", error ? error->message : "expected one MODEL_DIR");
    return 2;
  }
  printf ("model: %s\n", argv[1]);
  for (gint i = 0; i < iters; i++) {
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr (VvModel) model = vv_model_load (argv[1],
        prefault ? VV_MODEL_LOAD_PREFAULT : VV_MODEL_LOAD_DEFAULT, &error);
    gint64 t1 = g_get_monotonic_time ();
    if (model == NULL) {
      fprintf (stderr, "vibevoice bench load: %s\n", error->message);
      return 1;
    }
    printf ("run %d: %.1f ms (%u shard(s), %.2f GB%s)\n", i + 1, (t1 - t0) / 1000.0,
        vv_model_get_n_shards (model), vv_model_get_n_bytes (model) / 1e9,
        prefault ? ", prefaulted" : "");
  }
  return 0;
}
