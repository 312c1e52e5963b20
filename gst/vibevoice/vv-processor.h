/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "vv-tokenizer.h"

G_BEGIN_DECLS

#define VV_PROCESSOR_ERROR (vv_processor_error_quark ())
GQuark vv_processor_error_quark (void);

/**
 * VvProcessorError:
 * @VV_PROCESSOR_ERROR_SCRIPT: the script is empty, or a line before the
 *   first turn is not a `Speaker N: text` line (the message gives the line)
 * @VV_PROCESSOR_ERROR_VOICES: a speaker has no voice sample
 */
typedef enum {
  VV_PROCESSOR_ERROR_SCRIPT,
  VV_PROCESSOR_ERROR_VOICES,
} VvProcessorError;

/**
 * VvScriptTurn:
 * @speaker: normalised speaker id (MODEL-SPEC §1.2: ids shifted down by one
 *   when the script's smallest id is above 0)
 * @text: the turn's text, stripped, continuation lines joined with a space
 * @line: 1-based line number where the turn starts
 */
typedef struct {
  gint speaker;
  gchar *text;
  guint line;
} VvScriptTurn;

/* Parses `Speaker N: text` lines (case-insensitive, as the reference's
 * regex); lines that do not start a turn continue the previous turn (the
 * reference demo's behaviour); `’` becomes `'`. Blank lines are skipped.
 * Returns: (element-type VvScriptTurn): turns; free with g_array_unref. */
GArray  *vv_script_parse (const gchar *text, gssize len, GError **error);
/* Number of distinct speakers, i.e. 1 + the largest normalised id. */
guint    vv_script_count_speakers (GArray *turns);

/* Builds the prompt of MODEL-SPEC §1.3, each piece tokenised separately:
 * system prompt, [" Voice input:\n", per voice i: " Speaker i:" ⟨speech_start⟩
 * ⟨diffusion⟩ × voice_frames[i] ⟨speech_end⟩ "\n"], " Text input:\n", per
 * turn " Speaker id: text\n", " Speech output:\n" ⟨speech_start⟩.
 * Appends gint32 ids to @ids and, when @voice_positions is not NULL, the
 * (gint32) positions of the ⟨diffusion⟩ placeholders, in order, whose
 * embeddings the voice-prompt rows replace (§1.6 step 7). Every speaker in
 * @turns needs a voice (n_voices ≥ speakers) unless n_voices is 0. */
gboolean vv_prompt_build (VvTokenizer *tok, GArray *turns, const gsize *voice_frames,
                          guint n_voices, GArray *ids, GArray *voice_positions,
                          GError **error);

G_END_DECLS
