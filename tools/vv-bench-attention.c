/* gst-vibevoice — `vibevoice bench attention`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The CPU backend's attention op at one context length, in isolation: one
 * LM pass's layers (28 at 1.5B), each with its own K/V cache of --keys
 * positions (so the caches stream from memory as in a real pass, not from
 * L3), for --rows query rows at the end of the context (1: a decode step;
 * more: a prefill chunk). --layers 1 --iters many keeps one layer in cache
 * and gives the arithmetic cost instead. Reports ms per pass (best of
 * --iters), the cache bytes read per second and the time per (query row,
 * key) pair and thread. The machine's read bandwidth is measured in the
 * same run for the ratio.
 */
#include "vv-tool.h"

#include <stdio.h>
#include <string.h>

int
vv_bench_attention (int argc, char **argv)
{
  gint64 keys = 32768, rows = 1;
  gint threads = 0, iters = 7, layers = 28, q_heads = 12, kv_heads = 2, head_dim = 128;
  gint bw_mib = 1024;
  g_autofree gchar *kv_dtype_arg = NULL;
  GOptionEntry entries[] = {
    { "keys", 'k', 0, G_OPTION_ARG_INT64, &keys, "Context length T (default 32768)", "T" },
    { "rows", 'n', 0, G_OPTION_ARG_INT64, &rows, "Query rows, the newest positions (default 1)", "N" },
    { "kv-dtype", 0, 0, G_OPTION_ARG_STRING, &kv_dtype_arg, "bf16 (default), f32 or int8", "TYPE" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "layers", 0, 0, G_OPTION_ARG_INT, &layers, "Layers per pass, each its own cache (default 28)", "N" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters, "Timed passes, best shown (default 7)", "N" },
    { "q-heads", 0, 0, G_OPTION_ARG_INT, &q_heads, "Query heads (default 12)", "N" },
    { "kv-heads", 0, 0, G_OPTION_ARG_INT, &kv_heads, "Key/value heads (default 2)", "N" },
    { "head-dim", 0, 0, G_OPTION_ARG_INT, &head_dim, "Head size (default 128)", "D" },
    { "bandwidth-mib", 0, 0, G_OPTION_ARG_INT, &bw_mib, "Buffer for the read-bandwidth measurement (default 1024; 0: skip)", "MIB" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- the attention op at one context length");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1) {
    fprintf (stderr, "vibevoice bench attention: %s\n", error ? error->message : "unexpected argument");
    return 2;
  }
  VvDType dt;
  if (!vv_tool_parse_kv_dtype ("bench attention", kv_dtype_arg, &dt))
    return 2;
  if (keys < 1 || keys > (1 << 20) || rows < 1 || rows > keys || threads < 0 || iters < 1
      || layers < 1 || layers > 256 || q_heads < 1 || kv_heads < 1 || q_heads % kv_heads != 0
      || head_dim < 1 || head_dim > 512 || bw_mib < 0) {
    fprintf (stderr, "vibevoice bench attention: need 1 <= --rows <= --keys <= 1048576, "
        "--iters >= 1, 1 <= --layers <= 256, --q-heads a multiple of --kv-heads, "
        "1 <= --head-dim <= 512\n");
    return 2;
  }
  g_autoptr (VvBackend) be = vv_backend_new_cpu (threads, &error);
  if (be == NULL) {
    fprintf (stderr, "vibevoice bench attention: %s\n", error->message);
    return 1;
  }
  gint n_threads = vv_backend_get_n_threads (be);
  gint64 qw = (gint64) q_heads * head_dim, kvw = (gint64) kv_heads * head_dim;
  g_autoptr (VvTensor) q = vv_tensor_new_2d (VV_DTYPE_F32, rows, qw);
  g_autoptr (VvTensor) y = vv_tensor_new_2d (VV_DTYPE_F32, rows, qw);
  GRand *r = g_rand_new_with_seed (5);
  for (gint64 i = 0; i < rows * qw; i++)
    ((gfloat *) q->data)[i] = (gfloat) g_rand_double_range (r, -1, 1);
  g_autoptr (GPtrArray) kv = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_tensor_free);
  g_autofree gfloat *row = g_new (gfloat, kvw);
  for (gint l = 0; l < 2 * layers; l++) {
    VvTensor *t = dt == VV_DTYPE_I8 ? vv_tensor_new_i8_groups (keys, kvw, kv_heads)
        : vv_tensor_new_2d (dt, keys, kvw);
    gsize es = vv_dtype_size (dt);
    for (gint64 i = 0; i < keys; i++) {
      for (gint64 j = 0; j < kvw; j++)
        row[j] = (gfloat) g_rand_double_range (r, -1, 1);
      if (dt == VV_DTYPE_I8) {
        /* quantised per (token, head) as the LM appends them */
        VvTensor x, dst;
        vv_tensor_init_view (&x, VV_DTYPE_F32, 2, (gint64[]) { 1, kvw }, row);
        vv_tensor_init_rows (&dst, t, i, 1);
        if (!vv_backend_convert (be, &dst, &x, &error)) {
          fprintf (stderr, "vibevoice bench attention: %s\n", error->message);
          return 1;
        }
      } else {
        vv_convert_from_f32 (dt, row, (guint8 *) t->data + (gsize) (i * kvw) * es, kvw);
      }
    }
    g_ptr_array_add (kv, t);
  }
  g_rand_free (r);
  gdouble best = G_MAXDOUBLE;
  for (gint it = 0; it < iters + 1; it++) {        /* the first is a warm-up */
    gint64 t0 = g_get_monotonic_time ();
    for (gint l = 0; l < layers; l++)
      if (!vv_backend_attention (be, y, q, g_ptr_array_index (kv, 2 * l),
              g_ptr_array_index (kv, 2 * l + 1), head_dim, &error)) {
        fprintf (stderr, "vibevoice bench attention: %s\n", error->message);
        return 1;
      }
    gdouble ms = (g_get_monotonic_time () - t0) / 1e3;
    if (it > 0 && ms < best)
      best = ms;
  }
  gdouble bytes = 2.0 * layers * (gdouble) keys * (kvw * vv_dtype_size (dt)
      + (dt == VV_DTYPE_I8 ? kv_heads * sizeof (gfloat) : 0));
  gdouble pairs = (gdouble) layers * rows * (gdouble) keys;
  gdouble bw = bw_mib > 0 ? vv_bench_read_bandwidth ((gsize) bw_mib, n_threads, 3) : 0.0;
  printf ("attention: %" G_GINT64_FORMAT " row(s) x %" G_GINT64_FORMAT " keys, %d/%d heads x %d, "
      "%s k/v, %d layer(s), %d thread(s)\n", rows, keys, q_heads, kv_heads, head_dim,
      vv_dtype_name (dt), layers, n_threads);
  printf ("  %.2f ms per pass (best of %d); cache read %.1f GB/s", best, iters,
      bytes / (best * 1e6));
  if (bw > 0)
    printf (" (machine: %.1f GB/s, ratio %.2f)", bw, bytes / (best * 1e6) / bw);
  printf ("; %.1f ns per (row, key) and thread\n", best * 1e6 * n_threads / pairs);
  return 0;
}
