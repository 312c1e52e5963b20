/* gst-vibevoice — `vibevoice bench synth`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* The whole generation loop (MODEL-SPEC §2) end to end, timed per block
 * through VvSessionResult.timings. Random-weight checkpoints pick ⟨eos⟩ or
 * ⟨speech_end⟩ whenever they like, so the session is told to take
 * ⟨diffusion⟩ at every step (force_diffusion): each run makes exactly
 * --frames frames with all the per-frame work of a real one.
 *
 * The prompt is one speaker with a voice of --voice-seconds (random
 * σ-VAE means: the voice encoder is not what is measured) and a script of a
 * filler sentence repeated until the prompt has about --prompt-tokens tokens
 * (never fewer than the §2.5 limit 2·L needs for the frames asked for).
 *
 * Per frame, the blocks' weight bytes give a bandwidth bound: the LM's
 * layers twice (positive and negative pass; the tied lm_head is read for its
 * 4 control rows only, the embedding table not at all), the diffusion head
 * once per step (both CFG rows in one batch), the σ-VAE decoder, the
 * semantic encoder and the two connectors once. The machine's read bandwidth
 * is measured in the same run.
 *
 * --position N puts N synthetic positions (random keys/values, no prefill)
 * in front of the prompt in both CFG caches, so the frames run at context
 * position N + L + i: the attention's cost deep into a long generation,
 * measured in seconds. */

#define FILLER "The committee met again on Tuesday to review the budget, and " \
  "everyone agreed that the new plan was better than the old one. "

typedef struct {
  gint64 prefill_us, lm_us, neg_us, head_us, dec_us, sem_us, other_us, fill_us, total_us;
  guint frames, steps;
  gsize kv_bytes_per_token;
  gdouble cpu_s, energy_j, audio_s;     /* the session's usage (energy < 0: none) */
} Run;

static gint
cmp_run (gconstpointer a, gconstpointer b)
{
  gint64 x = ((const Run *) a)->total_us, y = ((const Run *) b)->total_us;
  return (x > y) - (x < y);
}

/* Bytes of @component's tensors one pass reads, in the form they are read
 * (int8 copies where the model has them); the embedding table is left out
 * (one row per control token, none for speech frames). */
static guint64
component_read_bytes (VvModel *model, VvComponent component)
{
  const VvConfig *cfg = vv_model_get_config (model);
  g_autoptr (GArray) infos = vv_layout_tensors (cfg, FALSE, NULL);
  guint64 bytes = 0;
  if (infos == NULL)   /* cannot happen: the model's config was validated when it loaded */
    return 0;
  gboolean int8 = vv_model_has_int8_weights (model);
  for (guint i = 0; i < infos->len; i++) {
    const VvTensorInfo *ti = &g_array_index (infos, VvTensorInfo, i);
    if (ti->component != component || g_str_has_suffix (ti->name, "embed_tokens.weight"))
      continue;
    const VvTensor *t = vv_model_get_tensor (model, ti->name);
    if (t == NULL)
      continue;
    if (int8 && t->ndim == 2 && vv_model_int8_quantises (ti->name))
      /* what the int8 kernels read: a byte a weight and a scale a row */
      bytes += (guint64) vv_tensor_n_elements (t) + (guint64) t->shape[0] * sizeof (gfloat);
    else
      bytes += vv_tensor_n_bytes (t);
  }
  return bytes;
}

/* Bytes one single-token LM pass reads. */
static guint64
lm_pass_bytes (VvModel *model)
{
  guint64 bytes = component_read_bytes (model, VV_COMPONENT_LM);
  /* the 4 control rows of the (tied or not) lm_head */
  const VvTensor *head = vv_model_get_lm_head (model);
  if (head != NULL && head->shape[0] > 0)
    bytes += VV_LM_N_CONTROL * (vv_tensor_n_bytes (head) / head->shape[0]);
  return bytes;
}

/* A prompt of about @target tokens: @voice_frames frames of random means
 * and the filler sentence repeated. */
VvPrompt *
vv_bench_make_prompt (VvTokenizer *tok, gsize target, gsize voice_frames, gint latent, gchar **script_out,
    GError **error)
{
  g_autofree gfloat *means = NULL;
  if (voice_frames > 0) {
    means = g_new (gfloat, voice_frames * latent);
    GRand *r = g_rand_new_with_seed (7);
    for (gsize i = 0; i < voice_frames * latent; i++)
      means[i] = (gfloat) g_rand_double_range (r, -1.0, 1.0);
    g_rand_free (r);
  }
  const gfloat *mp[1] = { means };
  gsize reps = 1, prev_len = 0;
  for (gint attempt = 0; attempt < 64; attempt++) {
    g_autoptr (GString) s = g_string_new ("Speaker 1: ");
    for (gsize i = 0; i < reps; i++)
      g_string_append (s, FILLER);
    g_autoptr (GArray) turns = vv_script_parse (s->str, -1, error);
    if (turns == NULL)
      return NULL;
    VvPrompt *p = vv_prompt_new (tok, turns, voice_frames ? mp : NULL,
        voice_frames ? &voice_frames : NULL, voice_frames ? 1 : 0, latent, error);
    if (p == NULL)
      return NULL;
    gsize L;
    vv_prompt_get_ids (p, &L);
    if (L >= target || attempt == 63) {
      *script_out = g_string_free (g_steal_pointer (&s), FALSE);
      return p;
    }
    vv_prompt_unref (p);
    /* grow by the tokens one repetition adds (measured after the first) */
    gsize per = reps > 1 && L > prev_len ? (L - prev_len) : 24;
    prev_len = L;
    reps += MAX ((target - L + per - 1) / per, 1);
  }
  g_assert_not_reached ();
  return NULL;
}

static gboolean
run_once (VvSession *session, VvPrompt *prompt, const VvSessionParams *params, Run *run,
    GError **error)
{
  VvSessionResult res;
  if (!vv_session_generate_prompt (session, prompt, params, &res, error))
    return FALSE;
  if (res.n_frames != params->max_frames) {
    g_set_error (error, VV_SESSION_ERROR, VV_SESSION_ERROR_INVALID,
        "made %u frames instead of %u (stop: %s); give a longer --prompt-tokens",
        res.n_frames, params->max_frames, vv_stop_reason_to_string (res.stop_reason));
    return FALSE;
  }
  const VvSessionTimings *t = &res.timings;
  run->frames = res.n_frames;
  run->steps = res.n_steps;
  run->prefill_us = t->prefill_us;
  run->lm_us = t->lm_us;
  run->neg_us = t->neg_lm_us;
  run->head_us = t->head_us;
  run->dec_us = t->decoder_us;
  run->sem_us = t->semantic_us;
  run->total_us = t->total_us;
  run->fill_us = t->bench_fill_us;
  run->kv_bytes_per_token = res.kv_bytes_per_token;
  run->cpu_s = res.cpu_seconds;
  run->energy_j = res.energy_joules;
  run->audio_s = res.audio_seconds;
  /* the synthetic fill is set-up, not a frame's work */
  run->other_us = t->total_us - t->voice_us - t->prefill_us - t->lm_us - t->neg_lm_us
      - t->head_us - t->decoder_us - t->semantic_us - t->bench_fill_us;
  return TRUE;
}

static void
json_string (GString *out, const gchar *s)
{
  g_string_append_c (out, '"');
  for (const gchar *c = s; *c; c++) {
    if (*c == '"' || *c == '\\')
      g_string_append_printf (out, "\\%c", *c);
    else if ((guchar) *c < 0x20)
      g_string_append_printf (out, "\\u%04x", *c);
    else
      g_string_append_c (out, *c);
  }
  g_string_append_c (out, '"');
}

int
vv_bench_synth (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *tok_dir = NULL;
  g_autofree gchar *device = NULL;
  g_autofree gchar *cfg_passes = NULL;
  g_autofree gchar *kv_dtype_arg = NULL, *weights_arg = NULL, *power = NULL;
  VvDType kv_dtype;
  VvModelLoadFlags load_flags = VV_MODEL_LOAD_PREFAULT;
  gint frames = 20, steps = -1, threads = -1, prompt_tokens = 128, iters = 3, bw_mib = 1024;
  gint64 position = 0;
  gdouble cfg_scale = 1.3, voice_seconds = 4.0;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &tok_dir, "Qwen2.5 tokenizer folder (default: the shipped one)", "DIR" },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "Frames per run (default 20)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Diffusion steps per frame (default 10)", "N" },
    { "cfg", 0, 0, G_OPTION_ARG_DOUBLE, &cfg_scale, "Classifier-free guidance scale (default 1.3)", "X" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Backend: cpu (default), cuda, auto, sim, cuda-emu", "NAME" },
    { "prompt-tokens", 0, 0, G_OPTION_ARG_INT, &prompt_tokens, "Script long enough for about N prompt tokens, voice included (default 128)", "N" },
    { "voice-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &voice_seconds, "Voice length in the prompt (default 4; 0: no voice)", "S" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters, "Timed runs after one 2-frame warm-up; the median run is shown (default 3)", "N" },
    { "bandwidth-mib", 0, 0, G_OPTION_ARG_INT, &bw_mib, "Buffer for the read-bandwidth measurement (default 1024; 0: skip it)", "MIB" },
    { "cfg-passes", 0, 0, G_OPTION_ARG_STRING, &cfg_passes, "joint (default: both CFG branches in one LM pass) or separate (one pass each)", "MODE" },
    { "kv-dtype", 0, 0, G_OPTION_ARG_STRING, &kv_dtype_arg, VV_TOOL_KV_DTYPE_HELP, "TYPE" },
    { "weights", 0, 0, G_OPTION_ARG_STRING, &weights_arg, VV_TOOL_WEIGHTS_HELP, "FORMAT" },
    { "power", 0, 0, G_OPTION_ARG_STRING, &power, VV_TOOL_POWER_HELP, "MODE" },
    { "position", 0, 0, G_OPTION_ARG_INT64, &position, "Frames at KV-cache context position N + prompt length: N synthetic positions in both CFG caches (default 0)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object instead of the table", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- time the generation loop per block (forced ⟨diffusion⟩ steps)");
  g_option_context_set_summary (ctx, "--position N measures the frames deep into the context: "
      "N synthetic KV positions (random keys/values, no prefill)\nare put in front of the "
      "prompt in both CFG caches; the output adds the LM's ms per frame, the KV-cache bytes\n"
      "per token and at the first frame, and the peak RSS.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || model_dir == NULL) {
    fprintf (stderr, "vibevoice bench synth: %s\n", error ? error->message : "need --model DIR");
    return 2;
  }
  if (!vv_tool_parse_kv_dtype ("bench synth", kv_dtype_arg, &kv_dtype)
      || !vv_tool_apply_power ("bench synth", power, &steps, &threads, &weights_arg)
      || !vv_tool_parse_weights ("bench synth", weights_arg, &load_flags))
    return 2;
  gboolean separate = g_strcmp0 (cfg_passes, "separate") == 0;
  if (cfg_passes != NULL && !separate && g_strcmp0 (cfg_passes, "joint") != 0) {
    fprintf (stderr, "vibevoice bench synth: --cfg-passes is joint or separate, not %s\n",
        cfg_passes);
    return 2;
  }
  if (frames < 2 || steps < 1 || threads < 0 || prompt_tokens < 0 || iters < 1 || bw_mib < 0
      || voice_seconds < 0 || voice_seconds > 600 || position < 0 || position > G_MAXINT32) {
    fprintf (stderr, "vibevoice bench synth: need --frames >= 2, --steps >= 1, --iters >= 1, "
        "--threads, --prompt-tokens, --bandwidth-mib >= 0, 0 <= --voice-seconds <= 600, "
        "0 <= --position <= %d\n", G_MAXINT32);
    return 2;
  }

  gint64 t_load = g_get_monotonic_time ();
  g_autoptr (VvModel) model = vv_model_load (model_dir, load_flags, &error);
  t_load = g_get_monotonic_time () - t_load;
  g_autoptr (VvTokenizer) tok = model ? vv_tokenizer_new_from_dir (tok_dir ? tok_dir
      : vv_tool_default_tokenizer_dir (), &error) : NULL;
  g_autoptr (VvBackend) be = tok ? vv_backend_new_by_name (device ? device : "cpu", threads,
      &error) : NULL;
  gint64 t_blocks = g_get_monotonic_time ();
  g_autoptr (VvSession) session = be ? vv_session_new (model, tok, be, &error) : NULL;
  t_blocks = g_get_monotonic_time () - t_blocks;   /* includes the int8 quantisation */
  if (session == NULL) {
    fprintf (stderr, "vibevoice bench synth: %s\n", error->message);
    return 1;
  }
  const gchar *weights = vv_model_has_int8_weights (model) ? "int8" : "checkpoint";
  const VvConfig *cfg = vv_model_get_config (model);
  const gint latent = cfg->acoustic_vae_dim;
  const gint rate = cfg->sampling_rate > 0 ? cfg->sampling_rate : 24000;
  const gint hop = 3200;        /* §2.2: one frame = 3200 samples at 24 kHz */
  const gdouble frame_ms = 1000.0 * hop / rate;
  gsize voice_frames = (gsize) ceil (voice_seconds * rate / hop);
  /* §2.5: at most 2·L steps; the warm-up and each run need `frames` */
  gsize target = MAX ((gsize) prompt_tokens, (gsize) frames / 2 + 1);
  g_autofree gchar *script = NULL;
  g_autoptr (VvPrompt) prompt = vv_bench_make_prompt (tok, target, voice_frames, latent, &script, &error);
  if (prompt == NULL) {
    fprintf (stderr, "vibevoice bench synth: %s\n", error->message);
    return 1;
  }
  gsize L;
  vv_prompt_get_ids (prompt, &L);

  VvSessionParams params = vv_session_default_params ();
  params.n_steps = steps;
  params.cfg_scale = (gfloat) cfg_scale;
  params.n_threads = threads;
  params.force_diffusion = TRUE;
  params.separate_cfg_passes = separate;
  params.bench_position = (gsize) position;
  params.kv_dtype = kv_dtype;
  params.max_frames = 2;
  Run warm, *runs = g_new0 (Run, iters);
  gboolean ok = run_once (session, prompt, &params, &warm, &error);
  params.max_frames = (guint) frames;
  for (gint i = 0; ok && i < iters; i++)
    ok = run_once (session, prompt, &params, &runs[i], &error);
  if (!ok) {
    fprintf (stderr, "vibevoice bench synth: %s\n", error->message);
    g_free (runs);
    return 1;
  }
  qsort (runs, iters, sizeof (Run), cmp_run);
  const Run *r = &runs[iters / 2];
  gdouble cpu_per_audio = r->audio_s > 0 ? r->cpu_s / r->audio_s : 0.0;
  g_autofree gchar *energy_json = r->energy_j >= 0 ? g_strdup_printf ("%.3f", r->energy_j)
      : g_strdup ("null");
  /* before the bandwidth buffer (1 GiB) inflates it */
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  gdouble peak_rss_mb = ru.ru_maxrss / 1024.0;  /* KiB on Linux */
  gint n_threads = vv_backend_get_n_threads (be);
  gdouble bw = bw_mib > 0 ? vv_bench_read_bandwidth (bw_mib, n_threads, 3) : 0.0;

  /* Per frame. The positive LM runs once per step after the prefill: the
   * last step stops before it, hence steps − 1 passes. */
  const gdouble F = r->frames;
  gdouble ms_lm = r->lm_us / 1e3 / MAX (r->steps - 1, 1);
  gdouble ms_neg = r->neg_us / 1e3 / F, ms_head = r->head_us / 1e3 / F;
  gdouble ms_dec = r->dec_us / 1e3 / F, ms_sem = r->sem_us / 1e3 / F;
  gdouble ms_other = r->other_us / 1e3 / F;
  gdouble ms_frame = ms_lm + ms_neg + ms_head + ms_dec + ms_sem + ms_other;
  gdouble rtf = ms_frame / frame_ms;
  gdouble prefill_ms = r->prefill_us / 1e3;
  /* all the LM work of a frame, as in the total: the joint (or positive)
   * pass of a step plus the negative passes of their own */
  gdouble ms_lm_frame = ms_lm + ms_neg;
  /* KV cache at the first frame: the positive branch holds N + L positions,
   * the negative one N */
  const guint64 kv_tok = r->kv_bytes_per_token;
  const guint64 kv_first = kv_tok * (2 * (guint64) position + L);

  guint64 b_lm = lm_pass_bytes (model);
  guint64 b_head = component_read_bytes (model, VV_COMPONENT_PREDICTION_HEAD) * steps;
  guint64 b_dec = vv_model_get_component_bytes (model, VV_COMPONENT_ACOUSTIC_DECODER);
  guint64 b_sem = vv_model_get_component_bytes (model, VV_COMPONENT_SEMANTIC_ENCODER);
  guint64 b_conn = vv_model_get_component_bytes (model, VV_COMPONENT_ACOUSTIC_CONNECTOR)
      + vv_model_get_component_bytes (model, VV_COMPONENT_SEMANTIC_CONNECTOR);
  guint64 b_frame = (separate ? 2 : 1) * b_lm + b_head + b_dec + b_sem + b_conn;
  gdouble bound_ms = bw > 0 ? b_frame / (bw * 1e9) * 1e3 : 0;
  gdouble gbs = b_frame / (ms_frame / 1e3) / 1e9;
#define BOUND(b) (bw > 0 ? (b) / (bw * 1e9) * 1e3 : 0)

  if (json) {
    g_autoptr (GString) o = g_string_new ("{");
    g_string_append (o, "\"model\": ");
    json_string (o, model_dir);
    g_string_append_printf (o, ", \"backend\": \"%s\", \"threads\": %d, \"frames\": %u, "
        "\"steps\": %d, \"cfg\": %g, \"iters\": %d, \"prompt_tokens\": %" G_GSIZE_FORMAT
        ", \"voice_frames\": %" G_GSIZE_FORMAT ", \"voice_samples\": %" G_GSIZE_FORMAT
        ", \"load_ms\": %.1f, \"power\": \"%s\", \"weights\": \"%s\", \"blocks_ms\": %.1f, \"prefill_ms\": %.2f, \"prefill_tokens_per_s\": %.1f, "
        "\"ms_per_frame\": {\"lm\": %.3f, \"neg_lm\": %.3f, \"head\": %.3f, \"decoder\": %.3f, "
        "\"semantic\": %.3f, \"other\": %.3f, \"total\": %.3f}, \"run_totals_ms\": [",
        vv_backend_get_name (be), n_threads, r->frames, steps, cfg_scale, iters, L, voice_frames,
        (gsize) (voice_seconds * rate), t_load / 1e3, power ? power : "normal", weights, t_blocks / 1e3, prefill_ms, L / (prefill_ms / 1e3),
        ms_lm, ms_neg, ms_head, ms_dec, ms_sem, ms_other, ms_frame);
    for (gint i = 0; i < iters; i++)
      g_string_append_printf (o, "%s%.1f", i ? ", " : "", runs[i].total_us / 1e3);
    g_string_append_printf (o, "], \"rtf\": %.4f, \"peak_rss_mb\": %.1f, \"bandwidth_gbs\": %.2f, "
        "\"bytes_per_frame\": {\"lm_pass\": %" G_GUINT64_FORMAT ", \"head_all_steps\": %"
        G_GUINT64_FORMAT ", \"decoder\": %" G_GUINT64_FORMAT ", \"semantic\": %" G_GUINT64_FORMAT
        ", \"connectors\": %" G_GUINT64_FORMAT ", \"total\": %" G_GUINT64_FORMAT "}, "
        "\"achieved_gbs\": %.2f, \"bound_ms_per_frame\": %.3f, \"ratio_to_bound\": %.3f, "
        "\"cfg_passes\": \"%s\", \"cpu_s_per_audio_s\": %.4f, \"energy_j\": %s, ", rtf, peak_rss_mb, bw, b_lm, b_head, b_dec,
        b_sem, b_conn, b_frame, gbs, bound_ms, bound_ms > 0 ? ms_frame / bound_ms : 0.0,
        separate ? "separate" : "joint", cpu_per_audio, energy_json);
    g_string_append_printf (o, "\"position\": %" G_GINT64_FORMAT ", \"first_frame_position\": %"
        G_GINT64_FORMAT ", \"fill_ms\": %.1f, \"lm_ms_per_frame\": %.3f, \"kv_cache\": {"
        "\"dtype\": \"%s\", \"bytes_per_token_per_branch\": %" G_GUINT64_FORMAT ", \"bytes_per_token_both_branches\": %"
        G_GUINT64_FORMAT ", \"bytes_at_first_frame\": %" G_GUINT64_FORMAT "}, \"script\": ",
        position, position + (gint64) L, r->fill_us / 1e3, ms_lm_frame,
        kv_dtype == VV_DTYPE_BF16 ? "bf16" : kv_dtype == VV_DTYPE_I8 ? "int8" : "f32", kv_tok, 2 * kv_tok, kv_first);
    json_string (o, script);
    g_string_append (o, "}\n");
    fputs (o->str, stdout);
  } else {
    printf ("model: %s, %s backend, %d thread(s), %d steps, cfg %.2f, load+prefault %.0f ms\n",
        model_dir, vv_backend_get_name (be), n_threads, steps, cfg_scale, t_load / 1e3);
    printf ("power: %s; weights: %s (blocks set up in %.0f ms%s)\n", power ? power : "normal",
        weights, t_blocks / 1e3,
        vv_model_has_int8_weights (model) ? ", quantisation included" : "");
    printf ("prompt: %" G_GSIZE_FORMAT " tokens (%" G_GSIZE_FORMAT " voice frames); "
        "%u frames per run, median of %d run(s) by total (totals:", L, voice_frames, r->frames,
        iters);
    for (gint i = 0; i < iters; i++)
      printf (" %.0f", runs[i].total_us / 1e3);
    printf (" ms)\n");
    printf ("prefill: %.1f ms, %.0f tokens/s\n", prefill_ms, L / (prefill_ms / 1e3));
    printf ("position: %" G_GINT64_FORMAT " synthetic positions (filled in %.0f ms), frames "
        "from context position %" G_GINT64_FORMAT "\n", position, r->fill_us / 1e3,
        position + (gint64) L);
    if (bw > 0)
      printf ("read bandwidth (same run): %.1f GB/s\n", bw);
    else
      printf ("read bandwidth: not measured (bound and ratio columns are 0)\n");
    printf ("%-26s %10s %11s %10s %7s\n", "per frame", "ms", "weights MB", "bound ms", "ratio");
    struct { const gchar *name; gdouble ms; guint64 b; } rows[] = {
      { separate ? "LM (positive pass)" : "LM (both CFG branches)", ms_lm, b_lm },
      { separate ? "LM (negative pass)" : "LM (neg., 1st frame only)", ms_neg,
        separate ? b_lm : b_lm / MAX (r->frames, 1) },
      { "diffusion head (all steps)", ms_head, b_head },
      { "σ-VAE decoder", ms_dec, b_dec },
      { "semantic encoder", ms_sem, b_sem },
      { "connectors + other", ms_other, b_conn },
      { "total", ms_frame, b_frame },
    };
    for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
      printf ("%-26s %10.2f %11.1f %10.2f %7.2f\n", rows[i].name, rows[i].ms, rows[i].b / 1e6,
          BOUND (rows[i].b), BOUND (rows[i].b) > 0 ? rows[i].ms / BOUND (rows[i].b) : 0.0);
    printf ("real-time factor: %.3f (%.1f ms per %.1f ms frame); weights read %.2f GB/s "
        "(%.0f %% of the measured bandwidth)\n", rtf, ms_frame, frame_ms, gbs,
        bw > 0 ? 100.0 * gbs / bw : 0.0);
    printf ("LM per frame: %.2f ms (all passes of both CFG branches) at position %"
        G_GINT64_FORMAT "\n", ms_lm_frame, position);
    printf ("KV cache: %" G_GUINT64_FORMAT " bytes per token per branch, %" G_GUINT64_FORMAT
        " for both; %.1f MB held at the first frame\n", kv_tok, 2 * kv_tok, kv_first / 1e6);
    printf ("peak RSS: %.0f MB (includes the mapped, prefaulted weights)\n", peak_rss_mb);
    printf ("usage: %.3f CPU-s per audio-s; energy: %s\n", cpu_per_audio, r->energy_j >= 0
        ? energy_json : "not exposed here (no RAPL powercap counters)");
  }
#undef BOUND
  g_free (runs);
  return 0;
}
