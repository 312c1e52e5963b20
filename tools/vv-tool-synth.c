/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"
#include "vv-tool-audio.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void
on_audio (const gfloat *samples, gsize n, gpointer user_data)
{
  g_array_append_vals ((GArray *) user_data, samples, n);
}

typedef struct {
  GArray *latents;              /* gfloat */
  GString *resets;              /* frame numbers of the whole output, one a line */
  guint frames_before;          /* frames of the windows before this one */
} FrameSink;

static void
on_frame (const gfloat *z, gint latent_size, guint frame, gboolean reset, gpointer user_data)
{
  FrameSink *fs = user_data;
  g_array_append_vals (fs->latents, z, latent_size);
  if (reset)
    g_string_append_printf (fs->resets, "%u\n", fs->frames_before + frame);
}

/* One step of the output: a window's prompt, or a pause of @pause_ns. */
typedef struct {
  VvPrompt *prompt;
  GstClockTime pause_ns;
} Step;

static void
step_free (gpointer p)
{
  Step *st = p;
  g_clear_pointer (&st->prompt, vv_prompt_unref);
  g_free (st);
}

/* The "vv-pause" event vvtokenize sends for a pause (plugins/gstvvcaps.h:
 * a custom downstream event with a guint64 "duration" in ns). */
static gboolean
pause_event_duration (GstEvent *event, GstClockTime *duration)
{
  const GstStructure *s = gst_event_get_structure (event);
  guint64 d = 0;
  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM || s == NULL
      || !gst_structure_has_name (s, "vv-pause") || !gst_structure_get_uint64 (s, "duration", &d))
    return FALSE;
  *duration = d;
  return TRUE;
}

/* The vv plugin from $GST_PLUGIN_PATH, else the build tree's, else the
 * installed one: the tool runs from the build folder as well as installed. */
static gboolean
ensure_plugin (GError **error)
{
  const gchar *dirs[] = { VV_PLUGIN_BUILD_DIR, VV_PLUGIN_INSTALL_DIR };
  for (guint i = 0; i <= G_N_ELEMENTS (dirs); i++) {
    GstElementFactory *f = gst_element_factory_find ("vvtokenize");
    if (f != NULL) {
      gst_object_unref (f);
      return TRUE;
    }
    if (i < G_N_ELEMENTS (dirs) && g_file_test (dirs[i], G_FILE_TEST_IS_DIR))
      gst_registry_scan_path (gst_registry_get (), dirs[i]);
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the gst-vibevoice GStreamer plugin "
      "(vvdialogparse, vvtokenize) was not found in %s, %s or $GST_PLUGIN_PATH",
      VV_PLUGIN_BUILD_DIR, VV_PLUGIN_INSTALL_DIR);
  return FALSE;
}

/* The script through the elements' own front half, `vvdialogparse !
 * vvtokenize`, as a filesrc pipeline reads it: the same parser (every script
 * form, pauses, emotions), the same voice decoder and resampler, the same
 * windows.
 * Returns the Steps in order; the tool then generates each window as
 * vvdiffuse does (window k with seed + k). */
static GPtrArray *
plan_script (const gchar *script_path, const gchar *script, gsize script_len,
    const gchar *model_dir, const gchar *tok_dir,
    const gchar *voices, gint threads, GError **error)
{
  if (!ensure_plugin (error))
    return NULL;
  g_autoptr (GstElement) pipe = gst_object_ref_sink (gst_pipeline_new ("vv-synth-script"));
  GstElement *src = gst_element_factory_make ("appsrc", NULL);
  GstElement *parse = gst_element_factory_make ("vvdialogparse", NULL);
  GstElement *tok = gst_element_factory_make ("vvtokenize", NULL);
  GstElement *sink = gst_element_factory_make ("appsink", NULL);
  if (!src || !parse || !tok || !sink) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cannot make the %s element",
        !src ? "appsrc" : !parse ? "vvdialogparse" : !tok ? "vvtokenize" : "appsink");
    g_clear_object (&src);
    g_clear_object (&parse);
    g_clear_object (&tok);
    g_clear_object (&sink);
    return NULL;
  }
  /* the text already read (bounded, checked): one untimestamped buffer, as
   * filesrc's are; the parser gives the same turns for any chunking, and a
   * pipe (--script /dev/stdin) is not read twice */
  g_object_set (src, "format", GST_FORMAT_BYTES, NULL);
  g_object_set (tok, "model", model_dir, "voices", voices, "threads", threads, NULL);
  if (tok_dir != NULL)
    g_object_set (tok, "tokenizer", tok_dir, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, parse, tok, sink, NULL);
  /* as filesrc has no caps, vvdialogparse reads text unless told JSON, as
   * a pipeline line says with `! application/json !` */
  g_autoptr (GstCaps) caps = gst_caps_from_string (g_str_has_suffix (script_path, ".json")
      ? "application/json" : "text/x-raw, format=(string)utf8");
  if (!gst_element_link_filtered (src, parse, caps)
      || !gst_element_link_many (parse, tok, sink, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot link appsrc ! vvdialogparse "
        "! vvtokenize ! appsink");
    return NULL;
  }
  g_autoptr (GstBus) bus = gst_element_get_bus (pipe);
  g_autoptr (GPtrArray) steps = g_ptr_array_new_with_free_func (step_free);
  gboolean ok = gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
  if (ok && script_len > 0)
    ok = gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_memdup (script,
            script_len)) == GST_FLOW_OK;
  if (ok)
    ok = gst_app_src_end_of_stream (GST_APP_SRC (src)) == GST_FLOW_OK;
  gboolean eos_seen = FALSE;
  GstClockTime wait = 50 * GST_MSECOND;
  while (ok) {
    /* samples (prompts) and serialized events (vv-pause) in stream order */
    GstMiniObject *obj = gst_app_sink_try_pull_object (GST_APP_SINK (sink), wait);
    if (obj != NULL) {
      GstClockTime pause = 0;
      if (GST_IS_SAMPLE (obj)) {
        GstBuffer *buf = gst_sample_get_buffer (GST_SAMPLE (obj));
        GstMapInfo map;
        if (buf != NULL && gst_buffer_map (buf, &map, GST_MAP_READ)) {
          g_autoptr (GBytes) bytes = g_bytes_new (map.data, map.size);
          gst_buffer_unmap (buf, &map);
          VvPrompt *prompt = vv_prompt_deserialize (bytes, error);
          if (prompt == NULL) {
            ok = FALSE;
          } else {
            Step *st = g_new0 (Step, 1);
            st->prompt = prompt;
            g_ptr_array_add (steps, st);
          }
        }
      } else if (GST_IS_EVENT (obj) && pause_event_duration (GST_EVENT (obj), &pause)) {
        Step *st = g_new0 (Step, 1);
        st->pause_ns = pause;
        g_ptr_array_add (steps, st);
      }
      gst_mini_object_unref (obj);
      continue;
    }
    if (eos_seen)
      break;                    /* EOS seen and the queue drained */
    /* the bus, not gst_app_sink_is_eos(): that is also TRUE while the sink
     * has not prerolled, e.g. when an element before it failed */
    g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR
        | GST_MESSAGE_EOS);
    if (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      /* EOS is posted once the sink has it: a last pass without waiting
       * takes what is still queued */
      eos_seen = TRUE;
      wait = 0;
      continue;
    }
    if (msg != NULL) {
      g_autoptr (GError) gerr = NULL;
      g_autofree gchar *dbg = NULL;
      gst_message_parse_error (msg, &gerr, &dbg);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s%s%s%s", gerr->message,
          dbg ? " (" : "", dbg ? dbg : "", dbg ? ")" : "");
      ok = FALSE;
    }
  }
  if (!ok && error != NULL && *error == NULL) {
    g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    g_autoptr (GError) gerr = NULL;
    if (msg != NULL)
      gst_message_parse_error (msg, &gerr, NULL);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
        gerr ? gerr->message : "the script pipeline did not start");
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  return ok ? g_steal_pointer (&steps) : NULL;
}

static void
on_token (gint32 token, guint step, gpointer user_data)
{
  g_string_append_printf ((GString *) user_data, "%d\n", token);
}

/* Reads @path whole, but no more than VV_SCRIPT_MAX_BYTES: a bounded read
 * rather than a size check, so pipes and growing files are bounded too. */
static gchar *
read_script (const gchar *path, gsize *len, GError **error)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path,
        g_strerror (e));
    return NULL;
  }
  g_autoptr (GString) text = g_string_new (NULL);
  gchar buf[65536];
  size_t n;
  while ((n = fread (buf, 1, sizeof buf, f)) > 0) {
    if (n > VV_SCRIPT_MAX_BYTES - text->len) {
      fclose (f);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "%s: the script is longer than %d bytes (8 MiB), more text than any model's "
          "context holds", path, VV_SCRIPT_MAX_BYTES);
      return NULL;
    }
    g_string_append_len (text, buf, (gssize) n);
  }
  int e = ferror (f) ? errno : 0;
  fclose (f);
  if (e != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path,
        g_strerror (e));
    return NULL;
  }
  *len = text->len;
  return g_string_free (g_steal_pointer (&text), FALSE);
}

int
vv_tool_synth (int argc, char **argv)
{
  g_autofree gchar *model_dir = NULL, *tok_dir = NULL, *script_path = NULL, *out = NULL;
  g_autofree gchar *noise_path = NULL, *latents_path = NULL, *tokens_path = NULL;
  g_autofree gchar *resets_path = NULL, *device = NULL, *voices_spec = NULL;
  g_autofree gchar *kv_dtype_arg = NULL, *weights_arg = NULL, *power = NULL;
  VvDType kv_dtype;
  VvModelLoadFlags load_flags = VV_MODEL_LOAD_DEFAULT;
  g_auto (GStrv) voice_paths = NULL;
  gint64 seed = 0;
  gint steps = -1, threads = -1, max_frames = 0;     /* -1: unset (--power fills them in) */
  gdouble cfg_scale = 1.3;
  gboolean det_voice = FALSE, pcm16 = FALSE, forced = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder (required)", "DIR" },
    { "tokenizer", 0, 0, G_OPTION_ARG_FILENAME, &tok_dir, "Qwen2.5 tokenizer folder (default: the shipped one)", "DIR" },
    { "script", 0, 0, G_OPTION_ARG_FILENAME, &script_path, "Script in any form vvdialogparse reads (docs/SCRIPT-FORMAT.md; *.json: JSON) (required)", "FILE" },
    { "voice", 'v', 0, G_OPTION_ARG_FILENAME_ARRAY, &voice_paths, "Voice sample of the next speaker to appear (repeat)", "A.wav" },
    { "voices", 0, 0, G_OPTION_ARG_STRING, &voices_spec, "Speaker map in the form of vvtokenize's voices property (1=a.wav,alice:happy=b.wav; after the --voice files)", "SPEC" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output WAV, 24 kHz mono (required)", "OUT.wav" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed, as torch.manual_seed (default 0); window k uses seed + k, as vvdiffuse", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Diffusion steps per frame (default 10)", "N" },
    { "cfg", 0, 0, G_OPTION_ARG_DOUBLE, &cfg_scale, "Classifier-free guidance scale (default 1.3)", "X" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Backend to run on: auto (default: CUDA when a GPU works, else cpu), cpu, cuda, sim or cuda-emu (simulated and emulated devices, for testing)", "NAME" },
    { "kv-dtype", 0, 0, G_OPTION_ARG_STRING, &kv_dtype_arg, VV_TOOL_KV_DTYPE_HELP, "TYPE" },
    { "weights", 0, 0, G_OPTION_ARG_STRING, &weights_arg, VV_TOOL_WEIGHTS_HELP, "FORMAT" },
    { "power", 0, 0, G_OPTION_ARG_STRING, &power, VV_TOOL_POWER_HELP, "MODE" },
    { "max-frames", 0, 0, G_OPTION_ARG_INT, &max_frames, "Stop each window after N frames (default 0: the reference's limit)", "N" },
    { "forced-diffusion", 0, 0, G_OPTION_ARG_NONE, &forced, "Benchmarks only: take ⟨diffusion⟩ at every step, so a random-weight model makes --max-frames frames per window (as vvdiffuse forced-diffusion=true); not what the model would say", NULL },
    { "deterministic-voice", 0, 0, G_OPTION_ARG_NONE, &det_voice, "Use the voice encoder means instead of sampling", NULL },
    { "pcm16", 0, 0, G_OPTION_ARG_NONE, &pcm16, "Write 16-bit PCM (clipped) instead of float32", NULL },
    { "noise", 0, 0, G_OPTION_ARG_FILENAME, &noise_path, "float32 [frames, 64] .npy: frame i's initial diffusion noise (conformance)", "NOISE.npy" },
    { "dump-latents", 0, 0, G_OPTION_ARG_FILENAME, &latents_path, "Write the latents z [frames, 64] (normalised, as the LM sees them; what decode reads) to a .npy", "Z.npy" },
    { "dump-resets", 0, 0, G_OPTION_ARG_FILENAME, &resets_path, "Write the frames before which the decoder was reset, one a line (decode --resets)", "R.txt" },
    { "dump-tokens", 0, 0, G_OPTION_ARG_FILENAME, &tokens_path, "Write the generated control-token ids, one per line", "T.txt" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- synthesise speech from a script and voice samples");
  g_option_context_set_summary (ctx,
      "Runs the long-form generation loop (MODEL-SPEC section 2) on the script as the pipeline\n"
      "filesrc ! vvdialogparse ! vvtokenize ! vvdiffuse ! vvvocode does: the same parser, voices,\n"
      "windows, pauses and seeds, so the samples are the pipeline's. One --voice per speaker, in\n"
      "order of first appearance, or --voices. Prints frames, stop reason, audio seconds and\n"
      "real-time factor.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || !model_dir
      || !script_path || !out || (voice_paths == NULL && voices_spec == NULL)) {
    fprintf (stderr, "vibevoice synth: %s\n", error ? error->message
        : "need --model DIR, --script FILE, --voice A.wav (one per speaker) or --voices SPEC, "
        "and --out OUT.wav");
    return 2;
  }
  if (!vv_tool_apply_power ("synth", power, &steps, &threads, &weights_arg))
    return 2;
  if (steps < 1 || max_frames < 0 || threads < 0) {
    fprintf (stderr, "vibevoice synth: --steps must be >= 1, --max-frames and --threads >= 0\n");
    return 2;
  }
  if (!vv_tool_parse_kv_dtype ("synth", kv_dtype_arg, &kv_dtype)
      || !vv_tool_parse_weights ("synth", weights_arg, &load_flags))
    return 2;
  /* every output is checked before the model loads: a typo in a path must
   * not cost the whole generation */
  const gchar *outputs[] = { out, latents_path, tokens_path, resets_path };
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++)
    if (outputs[i] != NULL && !vv_tool_check_output (outputs[i], &error)) {
      fprintf (stderr, "vibevoice synth: %s\n", error->message);
      return 1;
    }

  gsize script_len = 0;
  g_autofree gchar *script = read_script (script_path, &script_len, &error);
  if (script == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  /* A NUL would silently end the script early: refuse it. */
  const gchar *nul = memchr (script, '\0', script_len);
  if (nul != NULL) {
    fprintf (stderr, "vibevoice synth: %s: NUL byte at offset %" G_GSIZE_FORMAT
        " (a script is UTF-8 text)\n", script_path, (gsize) (nul - script));
    return 1;
  }

  /* --voice files are positional entries, escaped so any file name works */
  g_autoptr (GString) spec = g_string_new (NULL);
  for (guint i = 0; voice_paths != NULL && voice_paths[i] != NULL; i++) {
    g_autofree gchar *esc = vv_voices_escape (voice_paths[i]);
    g_string_append_printf (spec, "%s%s", spec->len ? "," : "", esc);
  }
  if (voices_spec != NULL)
    g_string_append_printf (spec, "%s%s", spec->len ? "," : "", voices_spec);

  gst_init (NULL, NULL);
  g_autoptr (GPtrArray) plan = plan_script (script_path, script, script_len, model_dir, tok_dir, spec->str, threads,
      &error);
  if (plan == NULL) {
    fprintf (stderr, "vibevoice synth: %s: %s\n", script_path, error->message);
    return 1;
  }

  gboolean any_window = FALSE;
  for (guint i = 0; i < plan->len; i++)
    any_window |= ((Step *) g_ptr_array_index (plan, i))->prompt != NULL;
  if (!any_window) {
    fprintf (stderr, "vibevoice synth: %s: the script holds no text to speak\n", script_path);
    return 1;
  }

  /* vvtokenize loaded the model with vv_model_load_shared(): the same copy
   * (with --weights int8, a second model over the same mapped files whose
   * LM and head weights are quantised) */
  g_autoptr (VvModel) model = vv_model_load_shared (model_dir, load_flags, &error);
  if (model == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  const VvConfig *cfg = vv_model_get_config (model);
  gint rate = cfg->sampling_rate > 0 ? cfg->sampling_rate : 24000;

  g_autoptr (VvEngine) engine = vv_engine_new (model, device ? device : "auto", threads, &error);
  g_autoptr (VvSession) session = engine ? vv_session_new (model, NULL,
      vv_engine_get_backend (engine), &error) : NULL;
  if (session == NULL) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }

  g_autoptr (VvNpyArray) noise = NULL;
  if (noise_path != NULL) {
    noise = vv_npy_load (noise_path, &error);
    if (noise == NULL) {
      fprintf (stderr, "vibevoice synth: %s\n", error->message);
      return 1;
    }
    if (noise->ndim != 2 || noise->shape[1] != cfg->acoustic_vae_dim) {
      fprintf (stderr, "vibevoice synth: %s: expected a [frames, %d] array\n", noise_path,
          cfg->acoustic_vae_dim);
      return 1;
    }
  }

  g_autoptr (GArray) audio = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GArray) latents = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GString) resets = g_string_new (NULL);
  g_autoptr (GString) tokens = g_string_new (NULL);
  FrameSink fs = { latents, resets, 0 };
  VvSessionParams params = vv_session_default_params ();
  params.new_frame = on_frame;
  params.new_frame_user_data = &fs;
  params.new_token = on_token;
  params.new_token_user_data = tokens;
  params.n_steps = steps;
  params.cfg_scale = (gfloat) cfg_scale;
  params.n_threads = threads;
  params.max_frames = (guint) max_frames;
  params.deterministic_voice = det_voice;
  params.force_diffusion = forced;
  params.kv_dtype = kv_dtype;
  params.new_audio = on_audio;
  params.new_audio_user_data = audio;

  if (power != NULL)
    printf ("power: %s (%d steps, %s weights, %d thread(s)%s)\n", power, steps,
        vv_model_has_int8_weights (model) ? "int8" : "checkpoint",
        threads > 0 ? threads : (gint) g_get_num_processors (), threads > 0 ? "" : ": all");
  VvSessionResult total = { 0 };
  guint window = 0;
  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < plan->len; i++) {
    Step *st = g_ptr_array_index (plan, i);
    if (st->prompt == NULL) {
      /* vvdiffuse's GAP, vvvocode's zeros: the same rounding */
      guint64 n = gst_util_uint64_scale_round (st->pause_ns, (guint64) rate, GST_SECOND);
      if (n > (guint64) G_MAXUINT - audio->len) {
        fprintf (stderr, "vibevoice synth: %s: the pauses are too long\n", script_path);
        return 1;
      }
      g_array_set_size (audio, audio->len + (guint) n);
      memset ((gfloat *) audio->data + audio->len - n, 0, n * sizeof (gfloat));
      continue;
    }
    params.seed = (guint64) seed + window;
    if (noise != NULL) {
      gsize used = MIN (fs.frames_before, (gsize) noise->shape[0]);
      params.noise = noise->data + used * cfg->acoustic_vae_dim;
      params.noise_frames = (gsize) noise->shape[0] - used;
    }
    VvSessionResult res;
    if (!vv_session_generate_prompt (session, st->prompt, &params, &res, &error)) {
      fprintf (stderr, "vibevoice synth: %s: window %u: %s\n", script_path, window + 1,
          error->message);
      return 1;
    }
    window++;
    fs.frames_before += res.n_frames;
    total.n_frames += res.n_frames;
    total.n_steps += res.n_steps;
    total.prompt_length += res.prompt_length;
    total.stop_reason = res.stop_reason;
    total.frame_bytes_up += res.frame_bytes_up;
    total.frame_bytes_down += res.frame_bytes_down;
    total.audio_bytes_down += res.audio_bytes_down;
    total.cpu_seconds += res.cpu_seconds;
    /* energy only when every window had a counter */
    total.energy_joules = total.energy_joules >= 0 && res.energy_joules >= 0
        ? total.energy_joules + res.energy_joules : -1.0;
  }
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  gdouble audio_secs = (gdouble) audio->len / rate;
  if (!vv_tool_audio_write (out, (const gfloat *) audio->data, audio->len, rate, pcm16, &error)) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  if (latents_path != NULL) {
    gint64 shape[2] = { latents->len / cfg->acoustic_vae_dim, cfg->acoustic_vae_dim };
    if (!vv_npy_save (latents_path, (const gfloat *) latents->data, 2, shape, &error)) {
      fprintf (stderr, "vibevoice synth: %s\n", error->message);
      return 1;
    }
  }
  if (tokens_path != NULL && !g_file_set_contents (tokens_path, tokens->str, tokens->len,
          &error)) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  if (resets_path != NULL && !g_file_set_contents (resets_path, resets->str, resets->len,
          &error)) {
    fprintf (stderr, "vibevoice synth: %s\n", error->message);
    return 1;
  }
  printf ("prompt %" G_GSIZE_FORMAT " tokens, %u steps: %u frames, stop: %s, %.2f s of audio "
      "in %.2f s (real-time factor %.3f), %u window%s, wrote %s\n", total.prompt_length,
      total.n_steps, total.n_frames, vv_stop_reason_to_string (total.stop_reason), audio_secs,
      secs, audio_secs > 0 ? secs / audio_secs : 0.0, window, window == 1 ? "" : "s", out);
  /* what crossed between host and device per frame after the prefill
   * (noise and positions up; control logits and latents down), audio apart */
  guint nf = MAX (total.n_frames, 1);
  printf ("transfers: %" G_GUINT64_FORMAT " bytes up, %" G_GUINT64_FORMAT " bytes down per "
      "frame on %s (plus %" G_GUINT64_FORMAT " bytes of audio per frame)\n",
      total.frame_bytes_up / nf, total.frame_bytes_down / nf,
      vv_engine_get_device_name (engine), total.audio_bytes_down / nf);
  /* what the job cost the machine (issue: the green theme) */
  if (total.energy_joules >= 0)
    printf ("usage: %.2f CPU-s (%.3f CPU-s per audio-s), %.1f J RAPL package energy (%.2f J "
        "per audio-s)\n", total.cpu_seconds, audio_secs > 0 ? total.cpu_seconds / audio_secs
        : 0.0, total.energy_joules, audio_secs > 0 ? total.energy_joules / audio_secs : 0.0);
  else
    printf ("usage: %.2f CPU-s (%.3f CPU-s per audio-s); energy: not exposed here (no RAPL "
        "powercap counters)\n", total.cpu_seconds, audio_secs > 0 ? total.cpu_seconds / audio_secs
        : 0.0);
  return 0;
}
