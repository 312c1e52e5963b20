/* gst-vibevoice — `vibevoice bench vae`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-tool.h"

#include <stdio.h>
#include <time.h>

/* The per-frame work the generation loop does on the σ-VAE side (MODEL-SPEC
 * §2.2 c-d): decode one latent frame (streaming), then run the semantic
 * encoder on its 3200 samples (streaming). Reports the time per frame, the
 * weight bytes each streams, and the ratio to the time those bytes take at
 * the read bandwidth measured in the same run. */

/* ---- fp32 FMA peak: independent multiply-add chains on every thread ---- */

#define PEAK_CHAINS 24          /* > FMA latency × pipes, fits 32 zmm */
#define PEAK_ITERS 20000000

typedef struct {
  gint64 iters;
  gint wide;                    /* 16: AVX-512, 8: AVX2, 1: scalar */
  gfloat sink;
  gdouble cpu_s;                /* the thread's CPU time */
} PeakArg;

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__ ((target ("avx512f"))) static gfloat
peak_avx512 (gint64 iters)
{
  __m512 acc[PEAK_CHAINS];
  const __m512 a = _mm512_set1_ps (0.999999f), b = _mm512_set1_ps (1e-7f);
  for (int i = 0; i < PEAK_CHAINS; i++)
    acc[i] = _mm512_set1_ps ((gfloat) i);
  for (gint64 n = 0; n < iters; n++)
#pragma GCC unroll 24
    for (int i = 0; i < PEAK_CHAINS; i++)
      acc[i] = _mm512_fmadd_ps (acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < PEAK_CHAINS; i++)
    s = _mm512_add_ps (s, acc[i]);
  return _mm512_reduce_add_ps (s);
}

__attribute__ ((target ("avx2,fma"))) static gfloat
peak_avx2 (gint64 iters)
{
  __m256 acc[12];
  const __m256 a = _mm256_set1_ps (0.999999f), b = _mm256_set1_ps (1e-7f);
  for (int i = 0; i < 12; i++)
    acc[i] = _mm256_set1_ps ((gfloat) i);
  for (gint64 n = 0; n < iters; n++)
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
      acc[i] = _mm256_fmadd_ps (acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; i++)
    s = _mm256_add_ps (s, acc[i]);
  gfloat v[8];
  _mm256_storeu_ps (v, s);
  return v[0] + v[7];
}
#endif

static gpointer
peak_thread (gpointer data)
{
  PeakArg *a = data;
  struct timespec t0, t1;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t0);
#if defined(__x86_64__)
  if (a->wide == 16)
    a->sink = peak_avx512 (a->iters);
  else
    a->sink = peak_avx2 (a->iters / 2);
#endif
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t1);
  a->cpu_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  return NULL;
}

/* fp32 multiply-add peak of @n_threads threads in GFLOP/s (2 per FMA), and
 * the vector width it used; 0 when this build has no x86 kernels.
 * @per_cpu_s: GFLOP per second of thread CPU time (what one thread does
 * while it runs: the yardstick that other load on the machine does not
 * move). */
static gdouble
fma_peak_gflops (gint n_threads, gint *wide, gdouble *per_cpu_s)
{
  *wide = 0;
  *per_cpu_s = 0.0;
#if defined(__x86_64__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f"))
    *wide = 16;
  else if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    *wide = 8;
#endif
  if (*wide == 0)
    return 0.0;
  gdouble best = 0.0;
  for (gint rep = 0; rep < 3; rep++) {
    PeakArg *args = g_new0 (PeakArg, n_threads);
    GThread **th = g_new (GThread *, n_threads);
    gint64 t0 = g_get_monotonic_time ();
    for (gint i = 0; i < n_threads; i++) {
      args[i].iters = PEAK_ITERS / 8;
      args[i].wide = *wide;
      th[i] = g_thread_new ("fma-peak", peak_thread, &args[i]);
    }
    for (gint i = 0; i < n_threads; i++)
      g_thread_join (th[i]);
    gdouble s = (g_get_monotonic_time () - t0) / 1e6;
    /* the AVX2 loop runs half the iterations with half the chains */
    gdouble fmas = (gdouble) n_threads * (PEAK_ITERS / 8) * PEAK_CHAINS * 16
        * (*wide == 16 ? 1.0 : 0.125);
    best = MAX (best, 2.0 * fmas / s / 1e9);
    gdouble cpu = 0;
    for (gint i = 0; i < n_threads; i++)
      cpu += args[i].cpu_s;
    *per_cpu_s = MAX (*per_cpu_s, 2.0 * fmas / cpu / 1e9);
    g_free (args);
    g_free (th);
  }
  return best;
}

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

int
vv_bench_vae (int argc, char **argv)
{
  gint threads = 0, frames = 20;
  gboolean profile = FALSE;
  GOptionEntry entries[] = {
    { "profile", 'p', 0, G_OPTION_ARG_NONE, &profile, "Also time each stage (extra frames, synchronized per part) against the fp32 FMA peak", NULL },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (0 = all)", "N" },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "Frames to time after 2 warm-up frames (default 20)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL_DIR - per-frame σ-VAE decoder and semantic encoder");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || frames < 1) {
    fprintf (stderr, "vibevoice bench vae: %s\n", error ? error->message : "expected one MODEL_DIR");
    return 2;
  }
  g_autoptr (VvModel) model = vv_model_load (argv[1], VV_MODEL_LOAD_PREFAULT, &error);
  g_autoptr (VvBackend) be = model ? vv_backend_new_cpu (threads, &error) : NULL;
  g_autoptr (VvSpeechDecoder) dec = be ? vv_speech_decoder_new (model, be, &error) : NULL;
  g_autoptr (VvSpeechEncoder) sem = dec ? vv_speech_encoder_new (model, be,
      VV_SPEECH_TOKENIZER_SEMANTIC, &error) : NULL;
  if (sem == NULL) {
    fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
    return 1;
  }
  gint n_threads = vv_backend_get_n_threads (be);
  gint hop = vv_speech_decoder_get_hop (dec);
  gint dim = vv_model_get_config (model)->acoustic.vae_dim;
  gint sem_dim = vv_speech_encoder_get_dim (sem);
  g_autofree gfloat *z = g_new (gfloat, dim);
  /* the generation loop's data path: everything but the latent stays in
   * the backend's memory */
  g_autoptr (VvTensor) d_z = vv_backend_tensor_new (be, VV_DTYPE_F32, 2, (gint64[]) { 1, dim },
      &error);
  g_autoptr (VvTensor) d_audio = d_z ? vv_backend_tensor_new (be, VV_DTYPE_F32, 1,
      (gint64[]) { hop }, &error) : NULL;
  g_autoptr (VvTensor) d_feat = d_audio ? vv_backend_tensor_new (be, VV_DTYPE_F32, 2,
      (gint64[]) { 1, sem_dim }, &error) : NULL;
  if (d_feat == NULL) {
    fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
    return 1;
  }
  g_autofree gdouble *t_dec = g_new (gdouble, frames);
  g_autofree gdouble *t_sem = g_new (gdouble, frames);
  GRand *rand = g_rand_new_with_seed (1);
  for (gint f = -2; f < frames; f++) {
    for (gint i = 0; i < dim; i++)
      z[i] = (gfloat) g_rand_double_range (rand, -1.0, 1.0);
    gboolean ok = vv_backend_tensor_set (be, d_z, 0, z, dim * sizeof (gfloat), &error);
    gint64 t0 = g_get_monotonic_time ();
    ok = ok && vv_speech_decoder_decode (dec, d_z, d_audio, &error)
        && vv_backend_synchronize (be, &error);
    gint64 t1 = g_get_monotonic_time ();
    ok = ok && vv_speech_encoder_encode_stream (sem, d_audio, d_feat, &error)
        && vv_backend_synchronize (be, &error);
    gint64 t2 = g_get_monotonic_time ();
    if (!ok) {
      fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
      g_rand_free (rand);
      return 1;
    }
    if (f >= 0) {
      t_dec[f] = (t1 - t0) / 1000.0;
      t_sem[f] = (t2 - t1) / 1000.0;
    }
  }
  VvSpeechProfile pdec = { 0 }, psem = { 0 };
  if (profile) {
    vv_speech_decoder_set_profile (dec, &pdec);
    vv_speech_encoder_set_profile (sem, &psem);
    for (gint f = 0; f < frames; f++) {
      for (gint i = 0; i < dim; i++)
        z[i] = (gfloat) g_rand_double_range (rand, -1.0, 1.0);
      if (!vv_backend_tensor_set (be, d_z, 0, z, dim * sizeof (gfloat), &error)
          || !vv_speech_decoder_decode (dec, d_z, d_audio, &error)
          || !vv_speech_encoder_encode_stream (sem, d_audio, d_feat, &error)) {
        fprintf (stderr, "vibevoice bench vae: %s\n", error->message);
        g_rand_free (rand);
        return 1;
      }
    }
    vv_speech_decoder_set_profile (dec, NULL);
    vv_speech_encoder_set_profile (sem, NULL);
  }
  g_rand_free (rand);
  qsort (t_dec, frames, sizeof (gdouble), cmp_double);
  qsort (t_sem, frames, sizeof (gdouble), cmp_double);
  gdouble bw = vv_bench_read_bandwidth (1024, n_threads, 3);
  guint64 b_dec = vv_model_get_component_bytes (model, VV_COMPONENT_ACOUSTIC_DECODER);
  guint64 b_sem = vv_model_get_component_bytes (model, VV_COMPONENT_SEMANTIC_ENCODER);
  gdouble bound_dec = b_dec / (bw * 1e9) * 1e3, bound_sem = b_sem / (bw * 1e9) * 1e3;
  printf ("model: %s, %d thread(s), %s backend, %d frames (median / min ms)\n", argv[1], n_threads,
      vv_backend_get_name (be), frames);
  printf ("read bandwidth (same run): %.1f GB/s\n", bw);
  printf ("%-28s %9s %9s %12s %12s %7s\n", "per frame", "median", "min", "weights MB", "bound ms", "ratio");
  printf ("%-28s %9.1f %9.1f %12.1f %12.1f %7.2f\n", "acoustic decoder (1 frame)", t_dec[frames / 2],
      t_dec[0], b_dec / 1e6, bound_dec, t_dec[frames / 2] / bound_dec);
  printf ("%-28s %9.1f %9.1f %12.1f %12.1f %7.2f\n", "semantic encoder (3200 smp)", t_sem[frames / 2],
      t_sem[0], b_sem / 1e6, bound_sem, t_sem[frames / 2] / bound_sem);
  printf ("frame budget at 7.5 Hz: 133.3 ms; these two take %.1f ms of it\n",
      t_dec[frames / 2] + t_sem[frames / 2]);
  if (profile) {
    gint wide;
    gdouble peak_cpu;
    gdouble peak = fma_peak_gflops (n_threads, &wide, &peak_cpu);
    printf ("\nfp32 FMA peak (same run, %d thread(s), %d-lane FMAs): %.1f GFLOP/s wall, "
        "%.1f GFLOP per thread CPU second\n", n_threads, wide, peak, peak_cpu);
    printf ("(cpu %% = GFLOP per process CPU second / that; robust to other load when the "
        "pool does not spin: VV_POOL_SPIN_US=0)\n");
    printf ("per-stage profile over %d frames (synchronized per part; GFLOP = 2 x multiply-adds)\n",
        frames);
    printf ("%-10s %-14s %5s %5s %8s %8s %8s %8s %7s %7s\n", "net", "part", "chans", "rows",
        "ms/frame", "cpu ms", "MMAC/fr", "GFLOP/s", "% peak", "cpu %");
    const VvSpeechProfile *ps[2] = { &pdec, &psem };
    const gchar *names[2] = { "decoder", "semantic" };
    for (gint n = 0; n < 2; n++) {
      gdouble ms = 0, cpu = 0, macs = 0;
      for (gint i = 0; i < ps[n]->n_parts; i++) {
        const VvSpeechProfile *p = ps[n];
        gchar part[32];
        if (i == p->n_parts - 1)
          g_snprintf (part, sizeof part, "head");
        else
          g_snprintf (part, sizeof part, "stage %d %s", i / 2, i % 2 ? "blocks" : "conv");
        gdouble gf = p->ms[i] > 0 ? 2.0 * p->macs[i] / (p->ms[i] * 1e-3) / 1e9 : 0.0;
        gdouble gc = p->cpu_ms[i] > 0 ? 2.0 * p->macs[i] / (p->cpu_ms[i] * 1e-3) / 1e9 : 0.0;
        printf ("%-10s %-14s %5d %5" G_GINT64_FORMAT " %8.2f %8.2f %8.1f %8.1f %6.1f%% %6.1f%%\n",
            names[n], part, p->channels[i], p->rows[i], p->ms[i] / frames,
            p->cpu_ms[i] / frames, p->macs[i] / frames / 1e6, gf,
            peak > 0 ? 100.0 * gf / peak : 0.0, peak_cpu > 0 ? 100.0 * gc / peak_cpu : 0.0);
        ms += p->ms[i];
        cpu += p->cpu_ms[i];
        macs += p->macs[i];
      }
      gdouble gf = ms > 0 ? 2.0 * macs / (ms * 1e-3) / 1e9 : 0.0;
      gdouble gc = cpu > 0 ? 2.0 * macs / (cpu * 1e-3) / 1e9 : 0.0;
      printf ("%-10s %-14s %5s %5s %8.2f %8.2f %8.1f %8.1f %6.1f%% %6.1f%%\n", names[n], "total",
          "", "", ms / frames, cpu / frames, macs / frames / 1e6, gf,
          peak > 0 ? 100.0 * gf / peak : 0.0, peak_cpu > 0 ? 100.0 * gc / peak_cpu : 0.0);
    }
  }
  return 0;
}
