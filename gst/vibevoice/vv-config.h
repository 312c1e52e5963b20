/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define VV_CONFIG_ERROR (vv_config_error_quark ())
GQuark vv_config_error_quark (void);

/**
 * VvConfigError:
 * @VV_CONFIG_ERROR_FILE: config file missing or not JSON
 * @VV_CONFIG_ERROR_FIELD: a field is missing, of the wrong type or out of range
 *   (the message names the file and the field path)
 * @VV_CONFIG_ERROR_UNSUPPORTED: a valid config this engine cannot run
 */
typedef enum {
  VV_CONFIG_ERROR_FILE,
  VV_CONFIG_ERROR_FIELD,
  VV_CONFIG_ERROR_UNSUPPORTED,
} VvConfigError;

#define VV_MAX_STAGES 8  /* stem + up to 7 down/up-sampling stages */

/* Ceilings on config values (issue 14), far above the published models
 * (1.5B / 7B values in comments) so that no legitimate config trips them,
 * but low enough that every size derived from a config fits in 64 bits and
 * the tensor list stays small. A value past its ceiling is a
 * VV_CONFIG_ERROR_FIELD naming the file, the field and the range. */
#define VV_CONFIG_MAX_HIDDEN        65536    /* hidden_size (1536 / 3584); also tokenizer stage width */
#define VV_CONFIG_MAX_LAYERS        1024     /* num_hidden_layers (28), head_layers (4) */
#define VV_CONFIG_MAX_HEADS         1024     /* num_attention_heads (12 / 28), num_key_value_heads */
#define VV_CONFIG_MAX_HEAD_DIM      1024     /* head_dim (128) */
#define VV_CONFIG_MAX_INTERMEDIATE  262144   /* intermediate_size (8960 / 18944), head FFN width (4608) */
#define VV_CONFIG_MAX_VOCAB         4194304  /* vocab_size (151936 / 152064) */
#define VV_CONFIG_MAX_POSITIONS     1048576  /* max_position_embeddings (65536 / 32768) */
#define VV_CONFIG_MAX_LATENT        4096     /* vae_dim, latent_size (64, 128) */
#define VV_CONFIG_MAX_FILTERS       4096     /* encoder/decoder_n_filters (32) */
#define VV_CONFIG_MAX_RATIO         64       /* one encoder/decoder ratio (8, 5, 5, 4, 2, 2) */
#define VV_CONFIG_MAX_HOP           65536    /* product of the ratios, speech_tok_compress_ratio (3200) */
#define VV_CONFIG_MAX_BLOCKS        64       /* blocks per tokenizer stage (3, 8) */
#define VV_CONFIG_MAX_FFN_RATIO     64.0     /* head_ffn_ratio (3.0) */
#define VV_CONFIG_MAX_DIFFUSION_STEPS 100000 /* ddpm_num_steps (1000), ddpm_num_inference_steps (20) */
#define VV_CONFIG_MAX_SAMPLING_RATE 384000   /* audio_processor.sampling_rate (24000) */

/**
 * VvLmConfig:
 *
 * Qwen2 decoder (`decoder_config`, MODEL-SPEC §6).
 */
typedef struct {
  gint hidden_size;
  gint n_layers;
  gint n_heads;
  gint n_kv_heads;
  gint head_dim;
  gint intermediate_size;
  gint vocab_size;
  gint max_position_embeddings;
  gdouble rope_theta;
  gdouble rms_norm_eps;
  gboolean tie_word_embeddings;
} VvLmConfig;

/**
 * VvSpeechTokenizerConfig:
 *
 * σ-VAE acoustic or semantic tokenizer (MODEL-SPEC §5, §12.8). @ratios are as
 * stored in the config (the encoder applies them reversed); @n_stages =
 * n_ratios + 1 (the stem stage). @decoder_* are only meaningful when
 * @has_decoder.
 */
typedef struct {
  gint channels;
  gint vae_dim;
  gint n_filters;
  gint n_ratios;
  gint ratios[VV_MAX_STAGES];
  gint depths[VV_MAX_STAGES];            /* encoder order, n_ratios + 1 entries */
  gboolean has_decoder;
  gint decoder_n_filters;
  gint decoder_ratios[VV_MAX_STAGES];    /* decoder order */
  gint decoder_depths[VV_MAX_STAGES];    /* decoder order */
  gdouble layernorm_eps;
  gdouble fix_std;
  gboolean conv_bias;
  gboolean causal;
  gint hop_length;                       /* product of ratios (3200) */
} VvSpeechTokenizerConfig;

/**
 * VvHeadConfig:
 *
 * Diffusion head (`diffusion_head_config`, MODEL-SPEC §3, §4).
 */
typedef struct {
  gint hidden_size;
  gint n_layers;
  gdouble ffn_ratio;
  gint ffn_dim;                          /* int(ffn_ratio · hidden) */
  gint latent_size;
  gdouble rms_norm_eps;
  gint num_train_timesteps;
  gint num_inference_steps;
} VvHeadConfig;

/**
 * VvConfig:
 *
 * A parsed VibeVoice `config.json` plus `preprocessor_config.json`.
 */
typedef struct {
  gchar *model_type;                     /* "vibevoice" */
  VvLmConfig lm;
  VvSpeechTokenizerConfig acoustic;
  VvSpeechTokenizerConfig semantic;
  VvHeadConfig head;
  gint acoustic_vae_dim;
  gint semantic_vae_dim;
  /* preprocessor_config.json */
  gint sampling_rate;
  gint speech_tok_compress_ratio;
  gboolean db_normalize;
  gdouble target_dB_FS;
  gdouble audio_eps;
  gchar *language_model_pretrained_name;
} VvConfig;

/**
 * VvPreset:
 * @VV_PRESET_TINY: every structural feature, small widths (test fixture)
 * @VV_PRESET_1_5B: VibeVoice-1.5B shapes
 * @VV_PRESET_7B: VibeVoice-Large (7B) shapes
 */
typedef enum {
  VV_PRESET_TINY,
  VV_PRESET_1_5B,
  VV_PRESET_7B,
} VvPreset;

VvConfig *vv_config_new_preset (VvPreset preset);
gboolean  vv_preset_from_string (const gchar *name, VvPreset *preset);

/* Parses config.json (required) and preprocessor_config.json (optional:
 * defaults of MODEL-SPEC §7.3 when absent) from @dir and checks every
 * field the engine uses. */
VvConfig *vv_config_load (const gchar *dir, GError **error);
VvConfig *vv_config_load_from_data (const gchar *config_json, const gchar *config_name,
                                    const gchar *preprocessor_json, GError **error);
/* Checks every value of @config (which may have been built in code) against
 * the ranges the parser enforces, so that sizes derived from it cannot
 * overflow; @name names it in the error. */
gboolean  vv_config_validate (const VvConfig *config, const gchar *name, GError **error);
#define VV_TYPE_CONFIG (vv_config_get_type ())
GType     vv_config_get_type (void);
void      vv_config_free (VvConfig *config);
VvConfig *vv_config_copy (const VvConfig *config);

/* JSON texts in the Hugging Face layout (§7.3), as make-model writes them;
 * NULL (and @error) when vv_config_validate() refuses @config, so a
 * non-finite value can never be written (JSON has no inf / nan). */
gchar    *vv_config_to_json (const VvConfig *config, GError **error);
gchar    *vv_config_preprocessor_to_json (const VvConfig *config, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VvConfig, vv_config_free)

G_END_DECLS
