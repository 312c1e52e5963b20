/* gst-vibevoice — audio files for the `vibevoice` tool
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool-audio.h"

#include <gio/gio.h>
#include <sndfile.h>
#include <soxr.h>

#include <math.h>

gfloat *
vv_tool_audio_read (const gchar *path, gint rate, gsize max_samples, gsize *n_samples,
    GError **error)
{
  SF_INFO info = { 0 };
  SNDFILE *f = sf_open (path, SFM_READ, &info);
  if (f == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot read audio: %s", path,
        sf_strerror (NULL));
    return NULL;
  }
  if (info.frames <= 0 || info.channels <= 0 || info.samplerate <= 0) {
    sf_close (f);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: no audio in the file", path);
    return NULL;
  }
  gsize frames = (gsize) info.frames;
  /* the declared length, at @rate, against the caller's ceiling before
   * anything is allocated for it */
  gdouble at_rate = (gdouble) frames * rate / info.samplerate;
  if (max_samples > 0 && at_rate > (gdouble) max_samples) {
    sf_close (f);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: %.1f s of audio; at most %" G_GSIZE_FORMAT " samples (%.0f s at %d Hz) are accepted",
        path, (gdouble) frames / info.samplerate, max_samples, (gdouble) max_samples / rate, rate);
    return NULL;
  }
  /* every buffer sized by the file is a g_try_ allocation: a long file is
   * an error, not an abort */
  g_autofree gfloat *inter = g_try_new (gfloat, frames * info.channels);
  if (inter == NULL) {
    sf_close (f);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: too long to load", path);
    return NULL;
  }
  sf_count_t got = sf_readf_float (f, inter, info.frames);
  sf_close (f);
  if (got <= 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: could not decode samples", path);
    return NULL;
  }
  frames = (gsize) got;
  /* librosa's to_mono is np.mean over the channels of float32 data: a
   * float32 sum in channel order, then a float32 division. */
  g_autofree gfloat *mono = info.channels == 1 ? g_steal_pointer (&inter)
      : g_try_new (gfloat, frames);
  if (mono == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: too long to load", path);
    return NULL;
  }
  for (gsize i = 0; info.channels > 1 && i < frames; i++) {
    gfloat s = inter[i * info.channels];
    for (gint c = 1; c < info.channels; c++)
      s += inter[i * info.channels + c];
    mono[i] = s / (gfloat) info.channels;
  }
  if (info.samplerate == rate) {
    *n_samples = frames;
    return g_steal_pointer (&mono);
  }
  /* soxr (as python-soxr calls it) yields round(n · ratio) samples; librosa
   * then pads with zeros (or trims) to ceil(n · ratio). */
  gdouble ratio = (gdouble) rate / (gdouble) info.samplerate;
  gsize soxr_len = (gsize) ((gdouble) frames * ratio + 0.5);
  gsize out_len = (gsize) ceil ((gdouble) frames * ratio);
  gfloat *out = g_try_new0 (gfloat, MAX (MAX (out_len, soxr_len), 1));
  if (out == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: too long to load", path);
    return NULL;
  }
  soxr_quality_spec_t q = soxr_quality_spec (SOXR_HQ, 0);
  size_t idone = 0, odone = 0;
  soxr_error_t err = soxr_oneshot (info.samplerate, rate, 1, mono, frames, &idone, out, soxr_len,
      &odone, NULL, &q, NULL);
  if (err) {
    g_free (out);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: resampling %d → %d Hz failed: %s",
        path, info.samplerate, rate, err);
    return NULL;
  }
  /* samples past odone are already zero */
  *n_samples = out_len;
  return out;
}

gboolean
vv_tool_audio_write (const gchar *path, const gfloat *samples, gsize n, gint rate,
    gboolean pcm16, GError **error)
{
  SF_INFO info = { .samplerate = rate, .channels = 1,
    .format = SF_FORMAT_WAV | (pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT) };
  SNDFILE *f = sf_open (path, SFM_WRITE, &info);
  if (f == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot write: %s", path, sf_strerror (NULL));
    return FALSE;
  }
  /* No PEAK chunk: it carries a timestamp, so two writes of the same audio
   * would differ byte for byte. */
  sf_command (f, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
  /* libsndfile clips float → PCM16 when asked to, instead of wrapping. */
  if (pcm16)
    sf_command (f, SFC_SET_CLIPPING, NULL, SF_TRUE);
  sf_count_t put = sf_writef_float (f, samples, (sf_count_t) n);
  int close_err = sf_close (f);
  if (put != (sf_count_t) n || close_err != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: write failed", path);
    return FALSE;
  }
  return TRUE;
}
