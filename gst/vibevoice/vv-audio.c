/* gst-vibevoice — voice clips to the model's rate, as the reference loads them
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-audio.h"

#include <gio/gio.h>
#include <soxr.h>

#include <math.h>

gfloat *
vv_audio_to_model_rate (const gfloat *interleaved, gsize frames, gint channels, gint in_rate,
    gint out_rate, gsize *n_out, GError **error)
{
  g_return_val_if_fail (n_out != NULL, NULL);
  if (frames == 0 || channels < 1 || in_rate < 1 || out_rate < 1
      || frames > G_MAXSIZE / sizeof (gfloat) / (gsize) channels) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "no audio to resample (%" G_GSIZE_FORMAT " frames, %d channels, %d Hz)", frames,
        channels, in_rate);
    return NULL;
  }
  /* every buffer sized by the clip is a g_try_ allocation: a long clip is
   * an error, not an abort */
  g_autofree gfloat *mono = g_try_new (gfloat, frames);
  if (mono == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "too long to load (%" G_GSIZE_FORMAT
        " frames)", frames);
    return NULL;
  }
  for (gsize i = 0; i < frames; i++) {
    gfloat s = interleaved[i * channels];
    for (gint c = 1; c < channels; c++)
      s += interleaved[i * channels + c];
    mono[i] = channels > 1 ? s / (gfloat) channels : s;
  }
  if (in_rate == out_rate) {
    *n_out = frames;
    return g_steal_pointer (&mono);
  }
  gdouble ratio = (gdouble) out_rate / (gdouble) in_rate;
  gsize soxr_len = (gsize) ((gdouble) frames * ratio + 0.5);
  gsize out_len = (gsize) ceil ((gdouble) frames * ratio);
  gfloat *out = g_try_new0 (gfloat, MAX (MAX (out_len, soxr_len), 1));
  if (out == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "too long to resample (%"
        G_GSIZE_FORMAT " frames)", frames);
    return NULL;
  }
  soxr_quality_spec_t q = soxr_quality_spec (SOXR_HQ, 0);
  size_t idone = 0, odone = 0;
  soxr_error_t err = soxr_oneshot (in_rate, out_rate, 1, mono, frames, &idone, out, soxr_len,
      &odone, NULL, &q, NULL);
  if (err) {
    g_free (out);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "resampling %d → %d Hz failed: %s",
        in_rate, out_rate, err);
    return NULL;
  }
  /* samples past odone are already zero */
  *n_out = out_len;
  return out;
}
