/* gst-vibevoice — the `vibevoice` command-line tool
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"
#include "vv-build-config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const gchar *name;
  int (*run) (int argc, char **argv);
  const gchar *summary;
} VvSubcommand;

static const VvSubcommand subcommands[] = {
  { "make-model", vv_tool_make_model, "write a random-weight checkpoint (tiny, 1.5b, 7b) in the Hugging Face layout" },
  { "info", vv_tool_info, "summarise a checkpoint folder: config, parameters and bytes per component" },
  { "tokenize", vv_tool_tokenize, "Qwen2.5 BPE: text to token ids, or ids to text with --decode" },
  { "encode", vv_tool_encode, "audio file to σ-VAE latents (.npy), acoustic or semantic encoder" },
  { "decode", vv_tool_decode, "σ-VAE latents (.npy) to a 24 kHz WAV, streaming, optionally in chunks" },
  { "synth", vv_tool_synth, "script + voice samples to speech (long-form generation loop)" },
#ifdef VV_HAVE_STUDIO
  { "studio", vv_tool_studio, "web studio: write a dialogue, pick voices, hear it as it is generated" },
#endif
  { "bench", vv_tool_bench, "benchmarks (tokenizer, gemv, load)" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: vibevoice COMMAND [OPTIONS...]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    fprintf (out, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
  fprintf (out, "\nRun 'vibevoice COMMAND --help' for the options of a command.\n");
}

gboolean
vv_tool_parse_kv_dtype (const gchar *tool, const gchar *arg, VvDType *dtype)
{
  if (arg == NULL || g_ascii_strcasecmp (arg, "bf16") == 0) {
    *dtype = VV_DTYPE_BF16;
    return TRUE;
  }
  if (g_ascii_strcasecmp (arg, "f32") == 0) {
    *dtype = VV_DTYPE_F32;
    return TRUE;
  }
  if (g_ascii_strcasecmp (arg, "int8") == 0) {
    *dtype = VV_DTYPE_I8;
    return TRUE;
  }
  fprintf (stderr, "vibevoice %s: --kv-dtype is bf16, f32 or int8, not %s\n", tool, arg);
  return FALSE;
}

gboolean
vv_tool_parse_weights (const gchar *tool, const gchar *arg, VvModelLoadFlags *flags)
{
  if (arg == NULL || g_ascii_strcasecmp (arg, "checkpoint") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (arg, "int8") == 0) {
    *flags |= VV_MODEL_LOAD_INT8;
    return TRUE;
  }
  fprintf (stderr, "vibevoice %s: --weights is checkpoint or int8, not %s\n", tool, arg);
  return FALSE;
}

gboolean
vv_tool_apply_power (const gchar *tool, const gchar *arg, gint *steps, gint *threads,
    gchar **weights)
{
  gboolean low = arg != NULL && g_ascii_strcasecmp (arg, "low") == 0;
  if (arg != NULL && !low && g_ascii_strcasecmp (arg, "normal") != 0) {
    fprintf (stderr, "vibevoice %s: --power is normal or low, not %s\n", tool, arg);
    return FALSE;
  }
  if (*steps < 0)
    *steps = low ? VV_POWER_LOW_STEPS : 10;
  if (*threads < 0)
    *threads = low ? vv_power_low_threads () : 0;
  if (*weights == NULL && low)
    *weights = g_strdup ("int8");
  return TRUE;
}

const gchar *
vv_tool_default_tokenizer_dir (void)
{
  static gchar *dir = NULL;
  if (dir == NULL) {
    /* $VV_DATA_DIR, else the source tree (running from the build dir), else
     * the installed copy. */
    const gchar *env = g_getenv ("VV_DATA_DIR");
    dir = g_build_filename (env ? env : VV_DATA_DIR, "qwen2-tokenizer", NULL);
    if (env == NULL && !g_file_test (dir, G_FILE_TEST_IS_DIR)) {
      g_free (dir);
      dir = g_build_filename (VV_INSTALLED_DATA_DIR, "qwen2-tokenizer", NULL);
    }
  }
  return dir;
}

int
main (int argc, char **argv)
{
  /* Character type only, so --help prints UTF-8 while numbers keep '.'. */
  setlocale (LC_CTYPE, "");
  if (argc < 2) {
    print_usage (stderr);
    return 2;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0) {
    print_usage (stdout);
    return 0;
  }
  if (strcmp (argv[1], "--version") == 0) {
    printf ("vibevoice %s\n", VV_VERSION);
    return 0;
  }
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (strcmp (argv[1], subcommands[i].name) == 0)
      return subcommands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "vibevoice: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return 2;
}
