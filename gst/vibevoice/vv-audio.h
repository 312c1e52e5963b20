/* gst-vibevoice — voice clips to the model's rate, as the reference loads them
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * vv_audio_to_model_rate:
 * @interleaved: (array): @frames frames of @channels float samples
 * @frames: frames in @interleaved
 * @channels: channels per frame, ≥ 1
 * @in_rate: the clip's sample rate, ≥ 1
 * @out_rate: the model's rate (24000)
 * @n_out: (out): samples returned
 * @error: return location for a #GError (G_IO_ERROR)
 *
 * The one voice loader of the tool and the elements (vvtokenize decodes the
 * file with GStreamer, the tool with libsndfile; both then call this), so a
 * clip at any rate gives the same samples in both. It does what the
 * reference's librosa.load does: channels averaged to mono (a float32 sum in
 * channel order, then a float32 division), then soxr's high-quality recipe
 * (librosa's default res_type 'soxr_hq'), whose round(n · ratio) samples are
 * zero-padded (or trimmed) to ceil(n · ratio). At @out_rate == @in_rate the
 * mono mix is returned as is.
 *
 * Returns: (transfer full) (nullable): g_free() it
 */
gfloat *vv_audio_to_model_rate (const gfloat *interleaved, gsize frames, gint channels,
                                gint in_rate, gint out_rate, gsize *n_out, GError **error);

G_END_DECLS
