/* gst-vibevoice — vv_audio_to_model_rate, the one voice loader of the tool
 * and vvtokenize
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Expectations are computed here from the definition (librosa.load with
 * res_type soxr_hq): the mono mix is the float32 mean, the length is
 * ceil(n · 24000 / rate), and a band-limited tone comes out as the same tone
 * at the new rate (to the resampler's passband accuracy).
 */
#include "vv-test-util.h"
#include <gio/gio.h>
#include <math.h>

static void
test_mono_mix (void)
{
  const gfloat st[] = { 0.5f, 0.25f, -1.0f, 0.125f, 0.3f, 0.7f };
  gsize n = 0;
  g_autoptr (GError) error = NULL;
  g_autofree gfloat *m = vv_audio_to_model_rate (st, 3, 2, 24000, 24000, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_true (m[i] == (st[2 * i] + st[2 * i + 1]) / 2.0f);
  /* three channels: a float32 sum in channel order, then one division */
  const gfloat t3[] = { 0.1f, 0.2f, 0.4f };
  g_autofree gfloat *m3 = vv_audio_to_model_rate (t3, 1, 3, 24000, 24000, &n, &error);
  g_assert_true (m3[0] == ((0.1f + 0.2f) + 0.4f) / 3.0f);
}

static void
check_tone (gint rate, gsize frames)
{
  g_autofree gfloat *in = g_new (gfloat, frames);
  const gdouble f = 440.0;
  for (gsize i = 0; i < frames; i++)
    in[i] = (gfloat) (0.5 * sin (2 * G_PI * f * (gdouble) i / rate));
  gsize n = 0;
  g_autoptr (GError) error = NULL;
  g_autofree gfloat *out = vv_audio_to_model_rate (in, frames, 1, rate, 24000, &n, &error);
  g_assert_no_error (error);
  /* librosa: int(np.ceil(n * ratio)), ratio = float(target_sr) / orig_sr
   * in doubles, so 44100 frames at 44.1 kHz give 24001 (24000.000000000004) */
  const gdouble ratio = 24000.0 / rate;
  g_assert_cmpuint (n, ==, (gsize) ceil ((gdouble) frames * ratio));
  /* away from the edges (the filter's settling), the same tone at 24 kHz */
  gdouble err = 0;
  for (gsize i = 2400; i + 2400 < n; i++)
    err = MAX (err, fabs (out[i] - 0.5 * sin (2 * G_PI * f * (gdouble) i / 24000)));
  g_assert_cmpfloat (err, <, 1e-3);
}

static void
test_resample (void)
{
  check_tone (44100, 44100);
  g_assert_cmpfloat (ceil (44100 * (24000.0 / 44100)), ==, 24001.0);
  check_tone (16000, 16001);    /* 24001.5 -> 24002 samples: the ceil rule */
  check_tone (48000, 47999);
}

static void
test_errors (void)
{
  gsize n = 0;
  g_autoptr (GError) error = NULL;
  const gfloat x = 0;
  g_assert_null (vv_audio_to_model_rate (&x, 0, 1, 16000, 24000, &n, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_null (vv_audio_to_model_rate (&x, 1, 0, 16000, 24000, &n, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/audio/mono-mix", test_mono_mix);
  g_test_add_func ("/audio/resample", test_resample);
  g_test_add_func ("/audio/errors", test_errors);
  return g_test_run ();
}
