/* gst-vibevoice — audio files for the `vibevoice` tool
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Reads any format libsndfile knows (WAV PCM 16/24/32, float, FLAC, ...),
 * then vv_audio_to_model_rate(): channels averaged to mono (as librosa
 * does), resampled to @rate with soxr's high-quality recipe (librosa's
 * default 'soxr_hq', which the reference uses), as vvtokenize does. Returns a newly allocated buffer of *n_samples floats.
 * A file longer than @max_samples at @rate (0: no ceiling) is an error
 * before anything is allocated for it. */
gfloat  *vv_tool_audio_read (const gchar *path, gint rate, gsize max_samples, gsize *n_samples,
                             GError **error);
/* Writes mono WAV: float32, or 16-bit PCM (clipped to [-1, 1]) when @pcm16. */
gboolean vv_tool_audio_write (const gchar *path, const gfloat *samples, gsize n, gint rate,
                              gboolean pcm16, GError **error);

/* Whether a file can be created at @path: its folder exists and is
 * writable, and @path is not a folder. For outputs checked before a long
 * computation; the error names the path and what is wrong. */
gboolean vv_tool_check_output (const gchar *path, GError **error);

G_END_DECLS
