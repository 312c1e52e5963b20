/* gst-vibevoice — `vibevoice bench streams`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Batched streams (vv_session_step_batch()): N sessions on one backend, each
 * with its own prompt state and seed, step together so that the LM (both
 * CFG branches of every stream) and the diffusion head read their weights
 * once per step for all of them; decoder, semantic encoder and connectors
 * run per stream. Every step is a forced ⟨diffusion⟩ (the random weights
 * would stop whenever they like), so each stream makes exactly --frames
 * frames.
 *
 * For each N the bench times the frame loop after the prefills, two ways
 * in the same run: batched (one vv_session_step_batch() per step) and
 * one after another (vv_session_step() on each stream in turn, what N
 * independent sessions on one engine cost). The figures: ms per step (one
 * frame of every stream), its ratio to one stream's, and the aggregate
 * real-time factor (wall time / audio of all streams). */

typedef struct {
  gdouble step_ms;              /* one frame of every stream */
  gdouble lm_ms, head_ms, dec_ms, sem_ms;       /* per step, all streams */
} StreamsRun;

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

/* One timed run of @n streams: prefills (untimed), then the frame loop,
 * batched or stream after stream. */
static gboolean
run_streams (VvSession **ss, guint n, VvPrompt *prompt, const VvSessionParams *base,
    gboolean batched, StreamsRun *out, GError **error)
{
  for (guint i = 0; i < n; i++) {
    VvSessionParams p = *base;
    p.seed = base->seed + i;
    if (!vv_session_prefill (ss[i], prompt, &p, error))
      return FALSE;
  }
  gboolean done[VV_SESSION_MAX_BATCH] = { FALSE };
  gint32 tokens[VV_SESSION_MAX_BATCH];
  guint n_done = 0;
  gint64 t0 = g_get_monotonic_time ();
  while (n_done < n) {
    if (batched) {
      if (!vv_session_step_batch (ss, n, tokens, done, error))
        return FALSE;
    } else {
      for (guint i = 0; i < n; i++)
        if (!done[i] && !vv_session_step (ss[i], &tokens[i], &done[i], error))
          return FALSE;
    }
    n_done = 0;
    for (guint i = 0; i < n; i++)
      n_done += done[i] ? 1 : 0;
  }
  gint64 wall = g_get_monotonic_time () - t0;
  memset (out, 0, sizeof *out);
  guint frames = 0;
  for (guint i = 0; i < n; i++) {
    VvSessionResult r;
    vv_session_finish (ss[i], &r);
    if (r.n_frames != base->max_frames) {
      g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
          "stream %u made %u frames instead of %u (stop: %s); give a longer --prompt-tokens",
          i, r.n_frames, base->max_frames, vv_stop_reason_to_string (r.stop_reason));
      return FALSE;
    }
    frames = r.n_frames;
    out->lm_ms += (r.timings.lm_us + r.timings.neg_lm_us) / 1e3;
    out->head_ms += r.timings.head_us / 1e3;
    out->dec_ms += r.timings.decoder_us / 1e3;
    out->sem_ms += r.timings.semantic_us / 1e3;
  }
  out->step_ms = wall / 1e3 / frames;
  out->lm_ms /= frames;
  out->head_ms /= frames;
  out->dec_ms /= frames;
  out->sem_ms /= frames;
  return TRUE;
}

int
vv_bench_streams (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *tok_dir = NULL, *device = NULL, *list = NULL;
  g_autofree gchar *kv_dtype_arg = NULL, *weights_arg = NULL;
  VvDType kv_dtype;
  VvModelLoadFlags load_flags = VV_MODEL_LOAD_PREFAULT;
  gint frames = 10, steps = 10, threads = 0, prompt_tokens = 128, iters = 3;
  gdouble cfg_scale = 1.3, voice_seconds = 4.0;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &tok_dir, "Qwen2.5 tokenizer folder (default: the shipped one)", "DIR" },
    { "streams", 's', 0, G_OPTION_ARG_STRING, &list, "Comma-separated stream counts, each 1 to 4 (default 1,2,4)", "LIST" },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "Frames per stream per run (default 10)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Diffusion steps per frame (default 10)", "N" },
    { "cfg", 0, 0, G_OPTION_ARG_DOUBLE, &cfg_scale, "Classifier-free guidance scale (default 1.3)", "X" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Backend: cpu (default), cuda, auto, sim, cuda-emu", "NAME" },
    { "prompt-tokens", 0, 0, G_OPTION_ARG_INT, &prompt_tokens, "Each stream's prompt: about N tokens (default 128)", "N" },
    { "voice-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &voice_seconds, "Voice length in the prompt (default 4; 0: no voice)", "S" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters, "Timed runs of each count and mode, interleaved; the median is shown (default 3)", "N" },
    { "kv-dtype", 0, 0, G_OPTION_ARG_STRING, &kv_dtype_arg, VV_TOOL_KV_DTYPE_HELP, "TYPE" },
    { "weights", 0, 0, G_OPTION_ARG_STRING, &weights_arg, VV_TOOL_WEIGHTS_HELP, "FORMAT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object instead of the table", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- batched streams: N sessions on one engine, one weight read per step for all");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || model_dir == NULL) {
    fprintf (stderr, "vibevoice bench streams: %s\n", error ? error->message : "need --model DIR");
    return 2;
  }
  if (!vv_tool_parse_kv_dtype ("bench streams", kv_dtype_arg, &kv_dtype)
      || !vv_tool_parse_weights ("bench streams", weights_arg, &load_flags))
    return 2;
  guint counts[8], n_counts = 0;
  g_auto (GStrv) parts = g_strsplit (list ? list : "1,2,4", ",", -1);
  for (guint i = 0; parts[i] != NULL; i++) {
    guint64 v;
    if (n_counts == G_N_ELEMENTS (counts)
        || !g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, VV_SESSION_MAX_BATCH, &v,
            NULL)) {
      fprintf (stderr, "vibevoice bench streams: --streams wants up to %u counts of 1 to %d, "
          "not '%s'\n", (guint) G_N_ELEMENTS (counts), VV_SESSION_MAX_BATCH, list);
      return 2;
    }
    counts[n_counts++] = (guint) v;
  }
  if (frames < 1 || steps < 1 || threads < 0 || prompt_tokens < 0 || iters < 1
      || voice_seconds < 0 || voice_seconds > 600) {
    fprintf (stderr, "vibevoice bench streams: need --frames, --steps, --iters >= 1, "
        "--threads, --prompt-tokens >= 0, 0 <= --voice-seconds <= 600\n");
    return 2;
  }

  g_autoptr (VvModel) model = vv_model_load (model_dir, load_flags, &error);
  g_autoptr (VvTokenizer) tok = model ? vv_tokenizer_new_from_dir (tok_dir ? tok_dir
      : vv_tool_default_tokenizer_dir (), &error) : NULL;
  g_autoptr (VvBackend) be = tok ? vv_backend_new_by_name (device ? device : "cpu", threads,
      &error) : NULL;
  VvSession *ss[VV_SESSION_MAX_BATCH] = { NULL };
  for (guint i = 0; be != NULL && i < VV_SESSION_MAX_BATCH; i++)
    if ((ss[i] = vv_session_new (model, tok, be, &error)) == NULL)
      break;
  const VvConfig *cfg = model ? vv_model_get_config (model) : NULL;
  const gint rate = cfg && cfg->sampling_rate > 0 ? cfg->sampling_rate : 24000;
  const gint hop = 3200;        /* §2.2: one frame = 3200 samples at 24 kHz */
  const gdouble frame_ms = 1000.0 * hop / rate;
  g_autofree gchar *script = NULL;
  g_autoptr (VvPrompt) prompt = NULL;
  if (ss[VV_SESSION_MAX_BATCH - 1] != NULL) {
    gsize voice_frames = (gsize) ceil (voice_seconds * rate / hop);
    /* §2.5: at most 2·L steps per stream */
    gsize target = MAX ((gsize) prompt_tokens, (gsize) frames / 2 + 1);
    prompt = vv_bench_make_prompt (tok, target, voice_frames, cfg->acoustic_vae_dim, &script,
        &error);
  }
  if (prompt == NULL) {
    fprintf (stderr, "vibevoice bench streams: %s\n", error->message);
    for (guint i = 0; i < VV_SESSION_MAX_BATCH; i++)
      vv_session_free (ss[i]);
    return 1;
  }
  gsize L;
  vv_prompt_get_ids (prompt, &L);

  VvSessionParams params = vv_session_default_params ();
  params.n_steps = steps;
  params.cfg_scale = (gfloat) cfg_scale;
  params.n_threads = threads;
  params.force_diffusion = TRUE;
  params.kv_dtype = kv_dtype;
  params.seed = 1;

  /* [count][mode][iter]; a short warm-up of the largest batch first */
  gdouble *ms = g_new0 (gdouble, n_counts * 2 * iters);
  StreamsRun *last = g_new0 (StreamsRun, n_counts * 2), warm;
  guint max_n = 1;
  for (guint c = 0; c < n_counts; c++)
    max_n = MAX (max_n, counts[c]);
  params.max_frames = 2;
  gboolean ok = run_streams (ss, max_n, prompt, &params, TRUE, &warm, &error);
  params.max_frames = (guint) frames;
  for (gint it = 0; ok && it < iters; it++)
    for (guint c = 0; ok && c < n_counts; c++)
      for (guint m = 0; ok && m < 2; m++) {
        if (counts[c] == 1 && m == 1) {
          ms[(c * 2 + m) * iters + it] = ms[(c * 2) * iters + it];
          last[c * 2 + m] = last[c * 2];
          continue;
        }
        ok = run_streams (ss, counts[c], prompt, &params, m == 0, &last[c * 2 + m], &error);
        ms[(c * 2 + m) * iters + it] = last[c * 2 + m].step_ms;
      }
  for (guint i = 0; i < VV_SESSION_MAX_BATCH; i++)
    vv_session_free (ss[i]);
  if (!ok) {
    fprintf (stderr, "vibevoice bench streams: %s\n", error->message);
    g_free (ms);
    g_free (last);
    return 1;
  }
  gdouble med[16][2];
  for (guint c = 0; c < n_counts; c++)
    for (guint m = 0; m < 2; m++) {
      gdouble *v = &ms[(c * 2 + m) * iters];
      qsort (v, iters, sizeof (gdouble), cmp_double);
      med[c][m] = v[iters / 2];
    }
  /* the reference for the ratios: one stream, measured in the same run */
  gdouble one = 0;
  for (guint c = 0; c < n_counts; c++)
    if (counts[c] == 1)
      one = med[c][0];

  if (json) {
    g_autoptr (GString) o = g_string_new ("{\"model\": ");
    g_string_append_printf (o, "\"%s\", \"backend\": \"%s\", \"threads\": %d, \"frames\": %d, "
        "\"steps\": %d, \"cfg\": %g, \"iters\": %d, \"prompt_tokens\": %" G_GSIZE_FORMAT
        ", \"weights\": \"%s\", \"frame_ms\": %.3f, \"one_stream_ms_per_step\": %.3f, "
        "\"streams\": [", model_dir, vv_backend_get_name (be), vv_backend_get_n_threads (be),
        frames, steps, cfg_scale, iters, L,
        vv_model_has_int8_weights (model) ? "int8" : "checkpoint", frame_ms, one);
    for (guint c = 0; c < n_counts; c++) {
      const StreamsRun *b = &last[c * 2];
      g_string_append_printf (o, "%s{\"n\": %u, \"batched_ms_per_step\": %.3f, "
          "\"sequential_ms_per_step\": %.3f, \"batched_aggregate_rtf\": %.4f, "
          "\"sequential_aggregate_rtf\": %.4f, \"batched_vs_one\": %.4f, "
          "\"batched_blocks_ms_per_step\": {\"lm\": %.3f, \"head\": %.3f, \"decoder\": %.3f, "
          "\"semantic\": %.3f}}", c ? ", " : "", counts[c], med[c][0], med[c][1],
          med[c][0] / (counts[c] * frame_ms), med[c][1] / (counts[c] * frame_ms),
          one > 0 ? med[c][0] / one : 0.0, b->lm_ms, b->head_ms, b->dec_ms, b->sem_ms);
    }
    g_string_append (o, "]}\n");
    fputs (o->str, stdout);
  } else {
    printf ("model: %s, %s backend, %d thread(s), %d steps, cfg %.2f, weights %s\n", model_dir,
        vv_backend_get_name (be), vv_backend_get_n_threads (be), steps, cfg_scale,
        vv_model_has_int8_weights (model) ? "int8" : "checkpoint");
    printf ("each stream: %" G_GSIZE_FORMAT "-token prompt, %d forced frames; median of %d "
        "interleaved run(s); a step = one frame of every stream\n", L, frames, iters);
    printf ("%-8s %12s %12s %9s %12s %12s   %s\n", "streams", "batched ms", "one-by-one",
        "vs one", "agg. RTF", "agg. RTF", "batched per step: LM / head / decoder / semantic ms");
    printf ("%-8s %12s %12s %9s %12s %12s\n", "", "per step", "ms per step", "stream",
        "batched", "one-by-one");
    for (guint c = 0; c < n_counts; c++) {
      const StreamsRun *b = &last[c * 2];
      printf ("%-8u %12.1f %12.1f %9.2f %12.3f %12.3f   %.1f / %.1f / %.1f / %.1f\n", counts[c],
          med[c][0], med[c][1], one > 0 ? med[c][0] / one : 0.0,
          med[c][0] / (counts[c] * frame_ms), med[c][1] / (counts[c] * frame_ms), b->lm_ms,
          b->head_ms, b->dec_ms, b->sem_ms);
    }
  }
  g_free (ms);
  g_free (last);
  return 0;
}
