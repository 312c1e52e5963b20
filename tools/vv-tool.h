/* gst-vibevoice — the `vibevoice` command-line tool
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vibevoice/vibevoice.h>

G_BEGIN_DECLS

/* Each subcommand: argv[0] is the subcommand name; returns the exit status
 * (0 ok, 1 runtime error, 2 usage error). Errors go to stderr as
 * "vibevoice SUBCOMMAND: message". */
int vv_tool_make_model (int argc, char **argv);
int vv_tool_info (int argc, char **argv);
int vv_tool_tokenize (int argc, char **argv);
int vv_tool_bench (int argc, char **argv);
int vv_tool_encode (int argc, char **argv);
int vv_tool_decode (int argc, char **argv);
int vv_tool_synth (int argc, char **argv);
int vv_tool_studio (int argc, char **argv);

/* Benchmarks called by `vibevoice bench WHAT` (vv-tool-bench.c dispatches). */
int vv_bench_tokenizer (int argc, char **argv);
int vv_bench_gemv (int argc, char **argv);
int vv_bench_vae (int argc, char **argv);
int vv_bench_attention (int argc, char **argv);
int vv_bench_synth (int argc, char **argv);
int vv_bench_streams (int argc, char **argv);
/* A one-speaker prompt of about @target tokens (a filler sentence repeated)
 * with @voice_frames frames of random voice means; the script in *script_out. */
VvPrompt *vv_bench_make_prompt (VvTokenizer *tok, gsize target, gsize voice_frames, gint latent,
    gchar **script_out, GError **error);
gdouble vv_bench_read_bandwidth (gsize mib, gint n_threads, gint iters);

/* Default tokenizer folder: $VV_DATA_DIR/qwen2-tokenizer, else the one
 * shipped in the source tree / installed data dir. */
const gchar *vv_tool_default_tokenizer_dir (void);

/* --kv-dtype: "bf16" (NULL: the default), "f32" or "int8"; FALSE (and a
 * message on stderr naming @tool) for anything else. */
gboolean vv_tool_parse_kv_dtype (const gchar *tool, const gchar *arg, VvDType *dtype);
#define VV_TOOL_KV_DTYPE_HELP "KV cache dtype: bf16 (default: 28 KiB per token per CFG " \
  "branch at 1.5B), f32 (twice that; the fp32 reference's) or int8 (14.4 KiB: codes and " \
  "a scale per token and KV head; cpu backend only)"

/* --weights: "checkpoint" (NULL: the default; as stored, bf16 for the
 * published checkpoints) or "int8" (sets VV_MODEL_LOAD_INT8 in *@flags);
 * FALSE (and a message on stderr naming @tool) for anything else. */
gboolean vv_tool_parse_weights (const gchar *tool, const gchar *arg, VvModelLoadFlags *flags);
#define VV_TOOL_WEIGHTS_HELP "LM and diffusion-head weights: checkpoint (default: as " \
  "stored) or int8 (per-output-channel int8, half the bytes of bf16; cpu device only)"

/* --power: "normal" (NULL) or "low": the low-power preset fills in what the
 * command line left unset (*@steps, *@threads < 0; *@weights NULL):
 * VV_POWER_LOW_STEPS steps, vv_power_low_threads() threads, int8 weights;
 * "normal" fills in 10 steps, all processors, checkpoint weights. FALSE
 * (and a message naming @tool) for anything else. */
gboolean vv_tool_apply_power (const gchar *tool, const gchar *arg, gint *steps, gint *threads,
    gchar **weights);
#define VV_TOOL_POWER_HELP "normal (default) or low: the low-power preset, 5 diffusion " \
  "steps, int8 weights, half the processors (each unless given explicitly)"

G_END_DECLS
