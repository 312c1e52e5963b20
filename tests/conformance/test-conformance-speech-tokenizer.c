/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * σ-VAE speech tokenizers against the original Python implementation.
 *
 * The tiny checkpoint is made here with `vibevoice make-model` (same preset
 * and seed as gen_speech_tokenizer_vectors.py, checked through the sha256 in
 * manifest.json), and our encoders / decoder are compared with the committed
 * reference vectors in $VV_CONFORMANCE_DIR. Tolerance (fp32):
 *   max|ours − ref| ≤ 1e-4 · (1 + max|ref|)
 * Each comparison reports its error and bound with g_test_message.
 *
 * The connectors (vv-connector.c) are checked against the reference's
 * acoustic_connector / semantic_connector on the same checkpoint.
 */
#include <vibevoice/vibevoice.h>
#include "vv-test-util.h"
#include <vibevoice/vv-npy.h>
#include <vibevoice/vv-speech-tokenizer.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

static gchar *vec_dir;
static gchar *tmp_root;
static gchar *model_dir;
static VvModel *model;
static VvBackend *backend;

static VvSpeechEncoder *
new_encoder (VvSpeechTokenizerKind kind)
{
  g_autoptr (GError) error = NULL;
  VvSpeechEncoder *enc = vv_speech_encoder_new (model, backend, kind, &error);
  g_assert_no_error (error);
  g_assert_nonnull (enc);
  g_assert_cmpint (vv_speech_encoder_get_hop (enc), ==, 3200);
  g_assert_cmpint (vv_speech_encoder_get_dim (enc), ==,
      kind == VV_SPEECH_TOKENIZER_ACOUSTIC ? 64 : 128);
  return enc;
}

static const gchar *
kind_name (VvSpeechTokenizerKind kind)
{
  return kind == VV_SPEECH_TOKENIZER_ACOUSTIC ? "acoustic" : "semantic";
}

typedef struct {
  VvSpeechTokenizerKind kind;
  const gchar *signal;          /* input-<signal>.npy */
} EncodeCase;

static const EncodeCase encode_cases[] = {
  { VV_SPEECH_TOKENIZER_ACOUSTIC, "sine" },
  { VV_SPEECH_TOKENIZER_ACOUSTIC, "chirp" },
  { VV_SPEECH_TOKENIZER_ACOUSTIC, "noise" },
  { VV_SPEECH_TOKENIZER_SEMANTIC, "sine" },
  { VV_SPEECH_TOKENIZER_SEMANTIC, "chirp" },
  { VV_SPEECH_TOKENIZER_SEMANTIC, "noise" },
};

static void
test_encode (gconstpointer data)
{
  const EncodeCase *c = data;
  g_autofree gchar *in_name = g_strdup_printf ("input-%s.npy", c->signal);
  g_autoptr (VvNpyArray) audio = vv_test_load_npy (vec_dir, in_name);
  g_assert_cmpint (audio->ndim, ==, 1);
  g_autoptr (VvSpeechEncoder) enc = new_encoder (c->kind);
  gint hop = vv_speech_encoder_get_hop (enc), dim = vv_speech_encoder_get_dim (enc);
  gsize frames = (audio->n + hop - 1) / hop;
  g_autofree gfloat *means = g_new0 (gfloat, frames * dim);
  g_autoptr (GError) error = NULL;
  g_assert_true (vv_speech_encoder_encode_host (enc, audio->data, audio->n, means, &error));
  g_assert_no_error (error);
  g_autofree gchar *ref_name = g_strdup_printf ("%s-mean-%s.npy", kind_name (c->kind), c->signal);
  vv_test_check_vec (vec_dir, ref_name, means, frames, dim);
}

/* The 9600-sample signal in three streaming calls of 3200 samples. */
static void
test_encode_stream (gconstpointer data)
{
  VvSpeechTokenizerKind kind = GPOINTER_TO_INT (data);
  g_autoptr (VvNpyArray) audio = vv_test_load_npy (vec_dir, "input-sine.npy");
  g_autoptr (VvSpeechEncoder) enc = new_encoder (kind);
  gint hop = vv_speech_encoder_get_hop (enc), dim = vv_speech_encoder_get_dim (enc);
  g_assert_cmpuint (audio->n % hop, ==, 0);
  gsize frames = audio->n / hop;
  g_autofree gfloat *means = g_new0 (gfloat, frames * dim);
  vv_speech_encoder_reset (enc);
  for (gsize f = 0; f < frames; f++) {
    g_autoptr (GError) error = NULL;
    g_assert_true (vv_speech_encoder_encode_stream_host (enc, audio->data + f * hop, hop,
            means + f * dim, &error));
    g_assert_no_error (error);
  }
  g_autofree gchar *ref_name = g_strdup_printf ("%s-stream-mean-sine.npy", kind_name (kind));
  vv_test_check_vec (vec_dir, ref_name, means, frames, dim);
}

typedef struct {
  const gchar *vector;          /* decoder-audio-<name>.npy */
  const guint *chunks;          /* frames per decode call, 0-terminated */
} DecodeCase;

static const guint chunks_whole[] = { 10, 0 };
static const guint chunks_1[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
static const guint chunks_334[] = { 3, 3, 4, 0 };

static const DecodeCase decode_cases[] = {
  { "whole", chunks_whole },
  { "chunk1", chunks_1 },
  { "chunk334", chunks_334 },
};

static void
test_decode (gconstpointer data)
{
  const DecodeCase *c = data;
  g_autoptr (VvNpyArray) lat = vv_test_load_npy (vec_dir, "decoder-latents.npy");
  g_assert_cmpint (lat->ndim, ==, 2);
  g_assert_cmpint (lat->shape[1], ==, 64);
  gsize frames = lat->shape[0];
  g_autoptr (GError) error = NULL;
  g_autoptr (VvSpeechDecoder) dec = vv_speech_decoder_new (model, backend, &error);
  g_assert_no_error (error);
  g_assert_nonnull (dec);
  gint hop = vv_speech_decoder_get_hop (dec);
  g_assert_cmpint (hop, ==, 3200);
  g_autofree gfloat *audio = g_new0 (gfloat, frames * hop);
  vv_speech_decoder_reset (dec);
  gsize pos = 0;
  for (const guint *n = c->chunks; *n; n++) {
    g_assert_cmpuint (pos + *n, <=, frames);
    g_assert_true (vv_speech_decoder_decode_host (dec, lat->data + pos * 64, *n,
            audio + pos * hop, &error));
    g_assert_no_error (error);
    pos += *n;
  }
  g_assert_cmpuint (pos, ==, frames);
  g_autofree gchar *ref_name = g_strdup_printf ("decoder-audio-%s.npy", c->vector);
  vv_test_check_vec (vec_dir, ref_name, audio, frames * hop, 0);
}

static void
test_connector (gconstpointer data)
{
  VvSpeechTokenizerKind kind = GPOINTER_TO_INT (data);
  const gchar *prefix = kind == VV_SPEECH_TOKENIZER_ACOUSTIC ? "acoustic" : "semantic";
  g_autofree gchar *in_name = g_strdup_printf ("%s-connector-input.npy", prefix);
  g_autofree gchar *out_name = g_strdup_printf ("%s-connector-output.npy", prefix);
  g_autoptr (GError) error = NULL;
  g_autoptr (VvConnector) conn = vv_connector_new (model, backend, kind, &error);
  g_assert_no_error (error);
  g_autoptr (VvNpyArray) x = vv_test_load_npy (vec_dir, in_name);
  g_assert_cmpint (x->ndim, ==, 2);
  g_assert_cmpint (x->shape[1], ==, vv_connector_get_input_dim (conn));
  gint64 rows = x->shape[0], cols = vv_connector_get_output_dim (conn);
  g_autofree gfloat *y = g_new0 (gfloat, rows * cols);
  g_assert_true (vv_connector_forward_host (conn, x->data, rows, y, &error));
  g_assert_no_error (error);
  vv_test_check_vec (vec_dir, out_name, y, rows, cols);
}

/* The vectors were made from exactly this checkpoint. */
static void
test_model_matches_manifest (void)
{
  vv_test_check_manifest_checkpoint (vec_dir, model_dir, "gen_speech_tokenizer_vectors.py");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *tool = g_getenv ("VV_TOOL");
  vec_dir = g_strdup (g_getenv ("VV_CONFORMANCE_DIR"));
  if (tool == NULL || vec_dir == NULL) {
    g_printerr ("VV_TOOL / VV_CONFORMANCE_DIR are not set: run through meson test\n");
    return 77;
  }

  g_autoptr (GError) error = NULL;
  vv_test_make_checkpoint (11, &tmp_root, &model_dir, &model, &backend);

  g_test_add_func ("/conformance/speech-tokenizer/model-matches-manifest",
      test_model_matches_manifest);
  for (guint i = 0; i < G_N_ELEMENTS (encode_cases); i++) {
    g_autofree gchar *name = g_strdup_printf ("/conformance/speech-tokenizer/%s/encode/%s",
        kind_name (encode_cases[i].kind), encode_cases[i].signal);
    g_test_add_data_func (name, &encode_cases[i], test_encode);
  }
  g_test_add_data_func ("/conformance/speech-tokenizer/acoustic/encode-stream/sine",
      GINT_TO_POINTER (VV_SPEECH_TOKENIZER_ACOUSTIC), test_encode_stream);
  g_test_add_data_func ("/conformance/speech-tokenizer/semantic/encode-stream/sine",
      GINT_TO_POINTER (VV_SPEECH_TOKENIZER_SEMANTIC), test_encode_stream);
  for (guint i = 0; i < G_N_ELEMENTS (decode_cases); i++) {
    g_autofree gchar *name = g_strdup_printf ("/conformance/speech-tokenizer/acoustic/decode/%s",
        decode_cases[i].vector);
    g_test_add_data_func (name, &decode_cases[i], test_decode);
  }
  g_test_add_data_func ("/conformance/connector/acoustic",
      GINT_TO_POINTER (VV_SPEECH_TOKENIZER_ACOUSTIC), test_connector);
  g_test_add_data_func ("/conformance/connector/semantic",
      GINT_TO_POINTER (VV_SPEECH_TOKENIZER_SEMANTIC), test_connector);

  gint ret = g_test_run ();

  vv_test_free_checkpoint (tmp_root, model_dir, model, backend);
  g_free (vec_dir);
  return ret;
}
