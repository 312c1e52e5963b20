/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Voice-prompt embeddings (vv-voice-prompt.c) against the original Python
 * implementation (vectors by gen_voice_prompt_vectors.py: the processor's
 * AudioNormalizer + padding, then torch.manual_seed and the inference
 * model's _process_speech_inputs on the tiny checkpoint, checked through the
 * sha256 in manifest.json).
 *
 * Tolerance (fp32): max|ours − ref| ≤ 1e-4 · (1 + max|ref|) for the
 * normalised audio, the connector inputs and the embeddings, with σ-VAE
 * sampling (VvTorchGenerator seeded as torch.manual_seed) and with the
 * means. The generator's state after the call must match torch's exactly
 * (the next 20 draws are bit-identical), i.e. the same number of draws on
 * the same paths.
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <vibevoice/vv-npy.h>
#include <vibevoice/vv-voice-prompt.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static gchar *vec_dir;
static gchar *tmp_root;
static gchar *model_dir;
static VvModel *model;
static VvBackend *backend;
static JsonParser *manifest;

static JsonObject *
manifest_member (const gchar *name)
{
  return json_object_get_object_member (json_node_get_object (json_parser_get_root (manifest)),
      name);
}

static void
test_normalize (gconstpointer data)
{
  const gchar *clip = data;
  const VvConfig *cfg = vv_model_get_config (model);
  g_autofree gchar *in_name = g_strdup_printf ("input-%s.npy", clip);
  g_autofree gchar *out_name = g_strdup_printf ("normalized-%s.npy", clip);
  g_autoptr (VvNpyArray) x = vv_test_load_npy (vec_dir, in_name);
  g_autofree gfloat *y = g_memdup2 (x->data, x->n * sizeof (gfloat));
  vv_audio_db_normalize (y, x->n, cfg->target_dB_FS, cfg->audio_eps);
  vv_test_check_vec (vec_dir, out_name, y, x->n, 0);
}

typedef struct {
  const gchar *name;            /* case in manifest.json */
  gboolean sampled;
} PromptCase;

static const PromptCase prompt_cases[] = {
  { "two", TRUE }, { "two", FALSE }, { "short", TRUE }, { "short", FALSE },
};

static void
test_prompt (gconstpointer data)
{
  const PromptCase *pc = data;
  const gchar *mode = pc->sampled ? "sampled" : "means";
  JsonObject *c = json_object_get_object_member (manifest_member ("cases"), pc->name);
  g_assert_nonnull (c);
  JsonArray *clip_names = json_object_get_array_member (c, "clips");
  JsonArray *want_frames = json_object_get_array_member (c, "frames_per_clip");
  guint n_clips = json_array_get_length (clip_names);

  g_autoptr (GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_npy_array_free);
  g_autofree const gfloat **clips = g_new (const gfloat *, n_clips);
  g_autofree gsize *lengths = g_new (gsize, n_clips);
  for (guint b = 0; b < n_clips; b++) {
    g_autofree gchar *in_name = g_strdup_printf ("input-%s.npy",
        json_array_get_string_element (clip_names, b));
    VvNpyArray *a = vv_test_load_npy (vec_dir, in_name);
    g_ptr_array_add (inputs, a);
    clips[b] = a->data;
    lengths[b] = a->n;
  }

  g_autoptr (GError) error = NULL;
  g_autoptr (VvVoicePrompt) vp = vv_voice_prompt_new (model, backend, &error);
  g_assert_no_error (error);
  VvTorchGenerator gen;
  vv_torch_generator_init (&gen, (guint64) json_object_get_int_member (c, "seed"));
  g_autofree gsize *frames = g_new0 (gsize, n_clips);
  gsize n_frames = 0;
  g_autofree gfloat *emb = NULL, *feat = NULL;
  g_assert_true (vv_voice_prompt_encode (vp, clips, lengths, n_clips,
          pc->sampled ? &gen : NULL, frames, &n_frames, &emb, &feat, &error));
  g_assert_no_error (error);

  gsize total = 0;
  for (guint b = 0; b < n_clips; b++) {
    g_assert_cmpuint (frames[b], ==, (gsize) json_array_get_int_element (want_frames, b));
    total += frames[b];
  }
  g_assert_cmpuint (n_frames, ==, total);

  gint dim = vv_voice_prompt_get_latent_dim (vp), hidden = vv_voice_prompt_get_hidden_size (vp);
  g_autofree gchar *feat_name = g_strdup_printf ("features-%s-%s.npy", pc->name, mode);
  g_autofree gchar *emb_name = g_strdup_printf ("embeddings-%s-%s.npy", pc->name, mode);
  vv_test_check_vec (vec_dir, feat_name, feat, n_frames, dim);
  vv_test_check_vec (vec_dir, emb_name, emb, n_frames, hidden);

  /* Same number of draws as the reference (none for the means). */
  g_autofree gchar *next_name = g_strdup_printf ("next-randn-%s-%s.npy", pc->name, mode);
  g_autoptr (VvNpyArray) next = vv_test_load_npy (vec_dir, next_name);
  g_autofree gfloat *ours = g_new (gfloat, next->n);
  vv_torch_randn (&gen, ours, next->n, TRUE);
  if (memcmp (ours, next->data, next->n * sizeof (gfloat)) != 0)
    g_test_fail_printf ("%s: the generator is not where torch's is after the call", next_name);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VvVoicePrompt) vp = vv_voice_prompt_new (model, backend, &error);
  g_assert_no_error (error);
  gfloat good[100] = { 0 }, bad[4] = { 0, 0, NAN, 0 };
  const gfloat *clips[2] = { good, bad };
  gsize lengths[2] = { 100, 4 };
  gsize n = 0;
  gfloat *emb = NULL;
  g_assert_false (vv_voice_prompt_encode (vp, clips, lengths, 0, NULL, NULL, &n, &emb, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (vv_voice_prompt_encode (vp, clips, lengths, 2, NULL, NULL, &n, &emb, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "clip 1"));
  g_clear_error (&error);
  lengths[1] = 0;
  g_assert_false (vv_voice_prompt_encode (vp, clips, lengths, 2, NULL, NULL, &n, &emb, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_null (emb);
  /* Silence is legal (rms 0: the eps keeps it finite). */
  g_clear_error (&error);
  g_assert_true (vv_voice_prompt_encode (vp, clips, lengths, 1, NULL, NULL, &n, &emb, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 1);
  g_free (emb);
}

static void
test_model_matches_manifest (void)
{
  vv_test_check_manifest_checkpoint (vec_dir, model_dir, "gen_voice_prompt_vectors.py");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *tool = g_getenv ("VV_TOOL");
  vec_dir = g_strdup (g_getenv ("VV_VOICE_PROMPT_CONFORMANCE_DIR"));
  if (tool == NULL || vec_dir == NULL) {
    g_printerr ("VV_TOOL / VV_VOICE_PROMPT_CONFORMANCE_DIR are not set: run through meson test\n");
    return 77;
  }

  g_autoptr (GError) error = NULL;
  manifest = json_parser_new ();
  g_autofree gchar *manifest_path = g_build_filename (vec_dir, "manifest.json", NULL);
  if (!json_parser_load_from_file (manifest, manifest_path, &error))
    g_error ("%s: %s", manifest_path, error->message);

  vv_test_make_checkpoint (11, &tmp_root, &model_dir, &model, &backend);

  g_test_add_func ("/conformance/voice-prompt/model-matches-manifest", test_model_matches_manifest);
  static const gchar *clip_names[] = { "a", "b", "c" };
  for (guint i = 0; i < G_N_ELEMENTS (clip_names); i++) {
    g_autofree gchar *name = g_strdup_printf ("/conformance/voice-prompt/normalize/%s", clip_names[i]);
    g_test_add_data_func (name, clip_names[i], test_normalize);
  }
  for (guint i = 0; i < G_N_ELEMENTS (prompt_cases); i++) {
    g_autofree gchar *name = g_strdup_printf ("/conformance/voice-prompt/%s/%s",
        prompt_cases[i].name, prompt_cases[i].sampled ? "sampled" : "means");
    g_test_add_data_func (name, &prompt_cases[i], test_prompt);
  }
  g_test_add_func ("/conformance/voice-prompt/errors", test_errors);

  gint ret = g_test_run ();

  g_object_unref (manifest);
  vv_test_free_checkpoint (tmp_root, model_dir, model, backend);
  g_free (vec_dir);
  return ret;
}
