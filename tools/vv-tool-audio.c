/* gst-vibevoice — audio files for the `vibevoice` tool
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool-audio.h"

#include <gio/gio.h>
#include <sndfile.h>
#include <vibevoice/vibevoice.h>

#include <glib/gstdio.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>

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
  /* the mono mix and resampler the elements use too (vv-audio.h) */
  gfloat *out = vv_audio_to_model_rate (inter, frames, info.channels, info.samplerate, rate,
      n_samples, error);
  if (out == NULL)
    g_prefix_error (error, "%s: ", path);
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

gboolean
vv_tool_check_output (const gchar *path, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "%s: cannot write: it is a folder",
        path);
    return FALSE;
  }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "%s: cannot write: the folder %s does not exist", path, dir);
    return FALSE;
  }
  /* an existing file must itself be writable; a new one needs the folder */
  gboolean exists = g_file_test (path, G_FILE_TEST_EXISTS);
  if (g_access (exists ? path : dir, W_OK) != 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: cannot write: %s%s", path,
        exists ? "" : "the folder is not writable: ", g_strerror (e));
    return FALSE;
  }
  return TRUE;
}
