/* gst-vibevoice — `vibevoice bench gemv`
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Decoding is memory-bandwidth bound: every frame streams all LM weights
 * for a batch of one or two rows. This measures
 *   1. the machine's memory read bandwidth (streaming sum over a large
 *      buffer, 1 thread and all threads, best of several runs);
 *   2. the CPU backend's linear() on BF16 weights at VibeVoice-1.5B (Qwen2.5
 *      1.5B) shapes for n = 1 and 2, each weight replicated so that the
 *      working set is far larger than the caches (so it really streams from
 *      DRAM), and a whole LM layer set (28 × q,k,v,o,gate,up,down);
 *   3. the same products with OpenBLAS sgemm on weights converted to F32
 *      beforehand (twice the bytes), in the same run.
 * GB/s counts the weight bytes in their stored dtype per unit time.
 */
#include "vv-tool.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

/* Working set per shape: well above any L3. */
#define STREAM_BYTES ((gsize) 512 << 20)

static gint opt_threads = 0;
static gint opt_iters = 5;
static gint opt_layers = 28;
static gint opt_bw_mib = 1024;
static gint opt_prefill_n = 128;

/* ---------------------------------------------------------------------- */
/* Memory bandwidth */

/* target_clones: the widest loads this CPU has, picked at load time. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static guint64
sum_u64 (const guint64 *p, gsize n)
{
  guint64 a[8] = { 0 };
  for (gsize i = 0; i + 8 <= n; i += 8)
    for (gint l = 0; l < 8; l++)
      a[l] += p[i + l];
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

typedef struct {
  const guint64 *buf;
  gsize n;                      /* guint64 elements */
  guint64 sums[256];
} BwJob;

static void
bw_task (gint task, gint n_tasks, gpointer data)
{
  BwJob *job = data;
  gsize i0 = (job->n * task / n_tasks) & ~(gsize) 7;
  gsize i1 = (job->n * (task + 1) / n_tasks) & ~(gsize) 7;
  job->sums[task] = sum_u64 (job->buf + i0, i1 - i0);
}

static gdouble
measure_bandwidth (const guint64 *buf, gsize bytes, gint n_threads, gint iters)
{
  g_autoptr (GError) error = NULL;
  VvThreadPool *pool = vv_thread_pool_new (n_threads, &error);
  if (pool == NULL) {
    fprintf (stderr, "vibevoice bench gemv: %s\n", error->message);
    return 0.0;
  }
  BwJob job = { buf, bytes / 8, { 0 } };
  gdouble best = 1e30;
  guint64 check = 0;
  for (gint it = 0; it < iters + 1; it++) {  /* +1: warm-up */
    gint64 t0 = g_get_monotonic_time ();
    vv_thread_pool_run (pool, MIN (n_threads, 256), bw_task, &job);
    gdouble s = (g_get_monotonic_time () - t0) / 1e6;
    if (it > 0)
      best = MIN (best, s);
    check += job.sums[0];
  }
  vv_thread_pool_free (pool);
  if (check == 42)              /* keep the sums alive */
    printf (" ");
  return bytes / best / 1e9;
}

/* ---------------------------------------------------------------------- */
/* Weights */

static guint32 lcg_state = 12345;

static inline gfloat
rand_unit (void)
{
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return (gfloat) ((lcg_state >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

/* A weight filled with random values (every page touched for real: an
 * untouched allocation reads from the shared zero page and fakes speed). */
static VvTensor *
make_weight (VvDType dtype, gint64 out, gint64 in)
{
  VvTensor *t = vv_tensor_new_2d (dtype, out, in);
  if (t == NULL)
    return NULL;
  gint64 n = out * in;
  if (dtype == VV_DTYPE_F32) {
    gfloat *p = t->data;
    for (gint64 i = 0; i < n; i++)
      p[i] = rand_unit () * 0.05f;
  } else {
    guint16 *p = t->data;
    for (gint64 i = 0; i < n; i++)
      p[i] = vv_f32_to_bf16 (rand_unit () * 0.05f);
  }
  return t;
}

static VvTensor *
to_f32 (const VvTensor *w)
{
  VvTensor *t = vv_tensor_new_2d (VV_DTYPE_F32, w->shape[0], w->shape[1]);
  if (t != NULL)
    vv_convert_to_f32 (w->dtype, w->data, t->data, vv_tensor_n_elements (w));
  return t;
}

/* ---------------------------------------------------------------------- */
/* A list of products to time: weights[i] applied to x (n rows). */

typedef struct {
  GPtrArray *w;                 /* BF16 weights (VvTensor*) */
  GPtrArray *w32;               /* the same converted to F32 */
  gsize bytes;                  /* BF16 bytes of one pass over w */
} WeightSet;

static void
weight_set_clear (WeightSet *s)
{
  if (s->w)
    g_ptr_array_unref (s->w);
  if (s->w32)
    g_ptr_array_unref (s->w32);
  memset (s, 0, sizeof (*s));
}

static gboolean
weight_set_add (WeightSet *s, gint64 out, gint64 in)
{
  if (s->w == NULL) {
    s->w = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_tensor_free);
    s->w32 = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_tensor_free);
  }
  VvTensor *w = make_weight (VV_DTYPE_BF16, out, in);
  VvTensor *w32 = w ? to_f32 (w) : NULL;
  if (w32 == NULL) {
    vv_tensor_free (w);
    return FALSE;
  }
  g_ptr_array_add (s->w, w);
  g_ptr_array_add (s->w32, w32);
  s->bytes += vv_tensor_n_bytes (w);
  return TRUE;
}

/* An int8 copy (vv_quantize_int8_rows, as --weights int8 makes them) of a
 * fresh random BF16 weight: the set then holds only I8 tensors. */
static gboolean
weight_set_add_i8 (WeightSet *s, gint64 out, gint64 in)
{
  if (s->w == NULL)
    s->w = g_ptr_array_new_with_free_func ((GDestroyNotify) vv_tensor_free);
  g_autoptr (VvTensor) w = make_weight (VV_DTYPE_BF16, out, in);
  g_autoptr (GError) error = NULL;
  VvTensor *q = w ? vv_quantize_int8_rows (w, "bench weight", &error) : NULL;
  if (q == NULL)
    return FALSE;
  g_ptr_array_add (s->w, q);
  s->bytes += (gsize) (out * in) + (gsize) out * sizeof (gfloat);
  return TRUE;
}

typedef struct {
  gdouble ms;                   /* best time of one pass over the set */
  gboolean ok;
} Timing;

/* Best time of a pass applying every weight of @set to x[n, in] — with the
 * backend (BF16) or with sgemm (F32). */
static Timing
time_pass (VvBackend *be, WeightSet *set, gint n, gboolean use_sgemm, gint iters)
{
  Timing r = { 1e30, FALSE };
  gint64 max_in = 0, max_out = 0;
  for (guint i = 0; i < set->w->len; i++) {
    VvTensor *w = g_ptr_array_index (set->w, i);
    max_out = MAX (max_out, w->shape[0]);
    max_in = MAX (max_in, w->shape[1]);
  }
  g_autoptr (VvTensor) xbuf = vv_tensor_new_2d (VV_DTYPE_F32, n, max_in);
  g_autoptr (VvTensor) ybuf = vv_tensor_new_2d (VV_DTYPE_F32, n, max_out);
  if (xbuf == NULL || ybuf == NULL)
    return r;
  gfloat *xp = xbuf->data;
  for (gint64 i = 0; i < n * max_in; i++)
    xp[i] = rand_unit ();

  for (gint it = 0; it < iters + 1; it++) {     /* +1: warm-up */
    gint64 t0 = g_get_monotonic_time ();
    for (guint i = 0; i < set->w->len; i++) {
      VvTensor *w = g_ptr_array_index (use_sgemm ? set->w32 : set->w, i);
      gint64 out = w->shape[0], in = w->shape[1];
      if (use_sgemm) {
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, (gint) out, (gint) in,
            1.0f, xbuf->data, (gint) in, w->data, (gint) in, 0.0f, ybuf->data, (gint) out);
      } else {
        VvTensor x, y;
        gint64 xs[2] = { n, in }, ys[2] = { n, out };
        vv_tensor_init_view (&x, VV_DTYPE_F32, 2, xs, xbuf->data);
        vv_tensor_init_view (&y, VV_DTYPE_F32, 2, ys, ybuf->data);
        g_autoptr (GError) error = NULL;
        if (!vv_backend_linear (be, &y, &x, w, NULL, &error)) {
          fprintf (stderr, "vibevoice bench gemv: %s\n", error->message);
          return r;
        }
      }
    }
    gdouble ms = (g_get_monotonic_time () - t0) / 1e3;
    if (it > 0)
      r.ms = MIN (r.ms, ms);
  }
  r.ok = TRUE;
  return r;
}

static void
print_row (const gchar *label, gint n, gsize bytes, Timing b, Timing s, gdouble bw)
{
  gdouble gbs = bytes / (b.ms / 1e3) / 1e9;
  gdouble gbs32 = 2.0 * bytes / (s.ms / 1e3) / 1e9;
  printf ("%-24s %2d %9.1f %9.3f %7.2f %5.0f%% | %9.3f %7.2f %5.0f%% %7.2fx\n",
      label, n, bytes / MIB, b.ms, gbs, 100.0 * gbs / bw, s.ms, gbs32, 100.0 * gbs32 / bw,
      s.ms / b.ms);
}

static void
print_header (void)
{
  printf ("%-24s %2s %9s %9s %7s %6s | %9s %7s %6s %8s\n", "weights", "n", "MiB(bf16)",
      "ms", "GB/s", "of bw", "sgemm ms", "GB/s", "of bw", "speedup");
}

static gint64
mem_available (void)
{
  g_autofree gchar *contents = NULL;
  if (!g_file_get_contents ("/proc/meminfo", &contents, NULL, NULL))
    return -1;
  const gchar *p = strstr (contents, "MemAvailable:");
  if (p == NULL)
    return -1;
  return g_ascii_strtoll (p + strlen ("MemAvailable:"), NULL, 10) * 1024;
}

int
vv_bench_gemv (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "threads", 't', 0, G_OPTION_ARG_INT, &opt_threads,
      "Threads for the multi-threaded runs (default: all processors, or VV_NUM_THREADS)", "N" },
    { "iters", 'n', 0, G_OPTION_ARG_INT, &opt_iters, "Timed repetitions, best kept (default 5)", "N" },
    { "layers", 0, 0, G_OPTION_ARG_INT, &opt_layers,
      "LM layers in the layer-set test (default 28; lowered if memory is short)", "N" },
    { "prefill-n", 0, 0, G_OPTION_ARG_INT, &opt_prefill_n,
      "Rows of the large-n (prefill) products (default 128)", "N" },
    { "bw-mib", 0, 0, G_OPTION_ARG_INT, &opt_bw_mib,
      "Buffer size of the bandwidth test in MiB (default 1024)", "MIB" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- memory bandwidth and bf16 linear() throughput vs OpenBLAS");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1) {
    fprintf (stderr, "vibevoice bench gemv: %s\n", error ? error->message : "unexpected argument");
    return 2;
  }
  if (opt_threads < 0 || opt_iters < 1 || opt_layers < 1 || opt_bw_mib < 16
      || opt_prefill_n < 1) {
    fprintf (stderr, "vibevoice bench gemv: invalid option value\n");
    return 2;
  }
  gint n_threads = opt_threads > 0 ? opt_threads : vv_thread_pool_default_n_threads ();
  const gchar *isa = g_getenv ("VV_CPU_ISA");

  /* 1. bandwidth */
  gsize bw_bytes = (gsize) opt_bw_mib << 20;
  guint64 *buf = NULL;
  if (posix_memalign ((void **) &buf, 64, bw_bytes) != 0) {
    fprintf (stderr, "vibevoice bench gemv: cannot allocate %d MiB\n", opt_bw_mib);
    return 1;
  }
  for (gsize i = 0; i < bw_bytes / 8; i++)
    buf[i] = i * 0x9E3779B97F4A7C15ull;
  printf ("memory read bandwidth: streaming sum over %.0f MiB, best of %d\n",
      bw_bytes / MIB, opt_iters);
  gdouble bw1 = measure_bandwidth (buf, bw_bytes, 1, opt_iters);
  printf ("  %2d thread%s  %7.2f GB/s\n", 1, " ", bw1);
  gdouble bwn = bw1;
  if (n_threads > 1) {
    bwn = measure_bandwidth (buf, bw_bytes, n_threads, opt_iters);
    printf ("  %2d threads  %7.2f GB/s\n", n_threads, bwn);
  }
  free (buf);

  g_autoptr (GError) be_error = NULL;
  VvBackend *be = vv_backend_new_cpu (n_threads, &be_error);
  if (be == NULL) {
    fprintf (stderr, "vibevoice bench gemv: %s\n", be_error->message);
    return 1;
  }
  /* Side by side in the same run: the kernels before the AVX-512 int8 gemv
   * and the AVX512_BF16 GEMM (VV_CPU_I8=avx2, VV_CPU_GEMM=sgemm), and the
   * 1-part BF16 GEMM (VV_CPU_GEMM=bf16: x rounded to BF16) where this CPU
   * has it; only when neither variable is set (else `be` is what was asked
   * for). */
  VvBackend *be_old = NULL, *be_bf16 = NULL, *be_x2 = NULL, *be_x3 = NULL;
  if (g_getenv ("VV_CPU_GEMM") == NULL && g_getenv ("VV_CPU_I8") == NULL) {
    g_setenv ("VV_CPU_I8", "avx2", TRUE);
    g_setenv ("VV_CPU_GEMM", "sgemm", TRUE);
    be_old = vv_backend_new_cpu (n_threads, NULL);
    g_setenv ("VV_CPU_GEMM", "bf16", TRUE);
    g_unsetenv ("VV_CPU_I8");
    be_bf16 = vv_backend_new_cpu (n_threads, NULL);
    g_setenv ("VV_CPU_GEMM", "bf16x2", TRUE);
    be_x2 = vv_backend_new_cpu (n_threads, NULL);
    g_setenv ("VV_CPU_GEMM", "bf16x3", TRUE);
    be_x3 = vv_backend_new_cpu (n_threads, NULL);
    g_unsetenv ("VV_CPU_GEMM");
  }
  /* The backend runs OpenBLAS single-threaded inside its own pool; the
   * sgemm comparison gets OpenBLAS's own threading with as many threads. */
  gint blas_threads = n_threads;

  /* 2 and 3. single shapes, streamed */
  static const struct {
    const gchar *name;
    gint64 out, in;
  } shapes[] = {
    { "[1536, 1536] (q, o)", 1536, 1536 },
    { "[8960, 1536] (gate, up)", 8960, 1536 },
    { "[1536, 8960] (down)", 1536, 8960 },
  };
  printf ("\nlinear y[n, out] = x[n, in] · w[out, in]ᵀ: cpu backend on BF16 weights "
      "(%d threads, kernels %s) vs OpenBLAS sgemm on F32 copies (%d threads);\n"
      "each weight replicated to ~%.0f MiB so it streams from DRAM; best of %d; "
      "%% of the %d-thread bandwidth\n", n_threads, isa ? isa : "auto", blas_threads,
      STREAM_BYTES / MIB, opt_iters, n_threads);
  print_header ();
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    WeightSet set = { 0 };
    gsize one = (gsize) (shapes[s].out * shapes[s].in * 2);
    guint copies = MAX (1, STREAM_BYTES / one);
    gboolean ok = TRUE;
    for (guint c = 0; ok && c < copies; c++)
      ok = weight_set_add (&set, shapes[s].out, shapes[s].in);
    if (!ok) {
      fprintf (stderr, "vibevoice bench gemv: out of memory\n");
      weight_set_clear (&set);
      vv_backend_free (be);
      return 1;
    }
    for (gint n = 1; n <= 2; n++) {
      openblas_set_num_threads (1);
      Timing b = time_pass (be, &set, n, FALSE, opt_iters);
      openblas_set_num_threads (blas_threads);
      Timing t = time_pass (be, &set, n, TRUE, opt_iters);
      openblas_set_num_threads (1);
      if (!b.ok || !t.ok) {
        weight_set_clear (&set);
        vv_backend_free (be);
        return 1;
      }
      /* per single product */
      b.ms /= copies;
      t.ms /= copies;
      print_row (shapes[s].name, n, one, b, t, bwn);
    }
    weight_set_clear (&set);
  }

  /* 2d. int8 weights (--weights int8) against BF16 on the same shapes:
   * streamed from DRAM (the same number of weights, half the bytes) and
   * in cache (one copy; L2/L3-resident: the kernels' arithmetic rate) */
  printf ("\nint8 weights (codes + a scale per row) vs BF16, n = 2 (the CFG batch): "
      "streamed (~%.0f MiB of BF16 per shape) and in cache (one copy, 20 passes); best of %d\n",
      STREAM_BYTES / MIB, opt_iters);
  if (be_old != NULL)
    printf ("(int8 old: the AVX2 int8 gemv, VV_CPU_I8=avx2, in the same run)\n");
  printf ("%-24s %9s %9s %7s %6s %8s | %9s %9s %8s", "weights", "bf16 ms", "int8 ms",
      "GB/s", "of bw", "speedup", "bf16 Gw/s", "int8 Gw/s", "in cache");
  if (be_old != NULL)
    printf (" | %11s %8s %11s %8s", "int8old ms", "new/old", "old Gw/s", "new/old");
  printf ("\n");
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    gsize one = (gsize) (shapes[s].out * shapes[s].in * 2);
    guint copies = MAX (1, STREAM_BYTES / one);
    Timing tb = { 0 }, tq = { 0 }, cb = { 0 }, cq = { 0 }, to = { 0 }, co = { 0 };
    gsize qbytes = 0;
    for (gint pass = 0; pass < 2; pass++) {     /* 0: streamed, 1: in cache */
      guint nw = pass == 0 ? copies : 20;
      WeightSet b16 = { 0 }, q8 = { 0 };
      gboolean ok = weight_set_add (&b16, shapes[s].out, shapes[s].in)
          && weight_set_add_i8 (&q8, shapes[s].out, shapes[s].in);
      for (guint c = 1; ok && c < nw; c++) {
        if (pass == 0)
          ok = weight_set_add (&b16, shapes[s].out, shapes[s].in)
              && weight_set_add_i8 (&q8, shapes[s].out, shapes[s].in);
        else {
          /* the same tensor again: stays in cache */
          g_ptr_array_add (b16.w, NULL);
          g_ptr_array_add (q8.w, NULL);
        }
      }
      if (pass == 1)
        for (guint c = 1; c < nw; c++) {
          b16.w->pdata[c] = b16.w->pdata[0];
          q8.w->pdata[c] = q8.w->pdata[0];
        }
      if (!ok) {
        fprintf (stderr, "vibevoice bench gemv: out of memory\n");
        weight_set_clear (&b16);
        weight_set_clear (&q8);
        vv_backend_free (be);
        return 1;
      }
      openblas_set_num_threads (1);
      Timing b = time_pass (be, &b16, 2, FALSE, opt_iters);
      Timing q = time_pass (be, &q8, 2, FALSE, opt_iters);
      Timing qo = be_old ? time_pass (be_old, &q8, 2, FALSE, opt_iters) : q;
      b.ms /= nw;
      q.ms /= nw;
      qo.ms /= nw;
      if (pass == 0) {
        tb = b;
        tq = q;
        to = qo;
        qbytes = q8.bytes / copies;
      } else {
        cb = b;
        cq = q;
        co = qo;
        /* the aliases are not separate tensors: free each once */
        g_ptr_array_set_free_func (b16.w, NULL);
        g_ptr_array_set_free_func (q8.w, NULL);
        vv_tensor_free (b16.w->pdata[0]);
        vv_tensor_free (q8.w->pdata[0]);
        vv_tensor_free (b16.w32->pdata[0]);
        g_ptr_array_set_free_func (b16.w32, NULL);
      }
      weight_set_clear (&b16);
      weight_set_clear (&q8);
      if (!b.ok || !q.ok) {
        vv_backend_free (be);
        return 1;
      }
    }
    gdouble nweights = (gdouble) shapes[s].out * shapes[s].in;
    gdouble gbs = qbytes / (tq.ms / 1e3) / 1e9;
    printf ("%-24s %9.3f %9.3f %7.2f %5.0f%% %7.2fx | %9.2f %9.2f %7.2fx", shapes[s].name,
        tb.ms, tq.ms, gbs, 100.0 * gbs / bwn, tb.ms / tq.ms, nweights / (cb.ms / 1e3) / 1e9,
        nweights / (cq.ms / 1e3) / 1e9, cb.ms / cq.ms);
    if (be_old != NULL)
      printf (" | %11.3f %7.2fx %11.2f %7.2fx", to.ms, to.ms / tq.ms,
          nweights / (co.ms / 1e3) / 1e9, co.ms / cq.ms);
    printf ("\n");
  }

  /* 2c. large n (prefill): compute-bound, one copy of each weight */
  printf ("\nlarge n (prefill; the backend converts BF16 row panels and calls sgemm per "
      "panel): GFLOP/s, best of %d\n", opt_iters);
  if (be_bf16 != NULL)
    printf ("(ms: the default, BF16 panels widened for sgemm; the AVX512_BF16 GEMM with x "
        "in 3, 2, 1 BF16 parts: VV_CPU_GEMM=bf16x3, bf16x2, bf16; speed-ups vs ms; one run)\n");
  printf ("%-24s %4s %9s %8s | %9s %8s %8s", "weights", "n", "ms", "GFLOP/s", "sgemm ms",
      "GFLOP/s", "speedup");
  if (be_bf16 != NULL && be_x2 != NULL && be_x3 != NULL)
    printf (" | %8s %8s | %8s %8s | %8s %8s", "x3 ms", "speedup", "x2 ms", "speedup",
        "bf16 ms", "speedup");
  printf ("\n");
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    WeightSet set = { 0 };
    const gint n = opt_prefill_n;
    if (!weight_set_add (&set, shapes[s].out, shapes[s].in)) {
      fprintf (stderr, "vibevoice bench gemv: out of memory\n");
      weight_set_clear (&set);
      vv_backend_free (be);
      return 1;
    }
    openblas_set_num_threads (1);
    Timing b = time_pass (be, &set, n, FALSE, opt_iters);
    openblas_set_num_threads (blas_threads);
    Timing t = time_pass (be, &set, n, TRUE, opt_iters);
    openblas_set_num_threads (1);
    gboolean side = be_bf16 != NULL && be_x2 != NULL && be_x3 != NULL;
    Timing h = side ? time_pass (be_bf16, &set, n, FALSE, opt_iters) : b;
    Timing h2 = side ? time_pass (be_x2, &set, n, FALSE, opt_iters) : b;
    Timing h3 = side ? time_pass (be_x3, &set, n, FALSE, opt_iters) : b;
    weight_set_clear (&set);
    if (!b.ok || !t.ok || !h.ok || !h2.ok || !h3.ok) {
      vv_backend_free (be);
      return 1;
    }
    gdouble flop = 2.0 * n * shapes[s].out * shapes[s].in;
    printf ("%-24s %4d %9.3f %8.1f | %9.3f %8.1f %7.2fx", shapes[s].name, n, b.ms,
        flop / (b.ms / 1e3) / 1e9, t.ms, flop / (t.ms / 1e3) / 1e9, t.ms / b.ms);
    if (side)
      printf (" | %8.3f %7.2fx | %8.3f %7.2fx | %8.3f %7.2fx", h3.ms, b.ms / h3.ms, h2.ms,
          b.ms / h2.ms, h.ms, b.ms / h.ms);
    printf ("\n");
  }

  /* 2b. a whole LM layer set: Qwen2.5-1.5B has 28 layers of
   * q [1536,1536], k, v [256,1536] (2 KV heads × 128), o [1536,1536],
   * gate, up [8960,1536], down [1536,8960]: 2.6 GB of BF16. */
  static const gint64 layer[7][2] = {
    { 1536, 1536 }, { 256, 1536 }, { 256, 1536 }, { 1536, 1536 },
    { 8960, 1536 }, { 8960, 1536 }, { 1536, 8960 },
  };
  gsize layer_bytes = 0;
  for (gint i = 0; i < 7; i++)
    layer_bytes += (gsize) (layer[i][0] * layer[i][1] * 2);
  gint layers = opt_layers;
  gint64 avail = mem_available ();
  /* BF16 + F32 copy = 3× the BF16 bytes; keep a margin */
  if (avail > 0)
    while (layers > 1 && (gdouble) layers * layer_bytes * 3 > 0.8 * avail)
      layers--;
  WeightSet set = { 0 };
  gboolean ok = TRUE;
  for (gint l = 0; ok && l < layers; l++)
    for (gint i = 0; ok && i < 7; i++)
      ok = weight_set_add (&set, layer[i][0], layer[i][1]);
  if (!ok) {
    fprintf (stderr, "vibevoice bench gemv: out of memory for %d layers\n", layers);
    weight_set_clear (&set);
    vv_backend_free (be);
    return 1;
  }
  printf ("\nLM layer set: %d layer%s × (q, k, v, o, gate, up, down) = %.2f GB BF16%s; "
      "ms per pass over all of them\n", layers, layers > 1 ? "s" : "", set.bytes / 1e9,
      layers < opt_layers ? " (fewer layers: memory is short)" : "");
  print_header ();
  for (gint n = 1; n <= 2; n++) {
    openblas_set_num_threads (1);
    Timing b = time_pass (be, &set, n, FALSE, opt_iters);
    openblas_set_num_threads (blas_threads);
    Timing t = time_pass (be, &set, n, TRUE, opt_iters);
    openblas_set_num_threads (1);
    if (!b.ok || !t.ok)
      break;
    g_autofree gchar *label = g_strdup_printf ("%d layers", layers);
    print_row (label, n, set.bytes, b, t, bwn);
  }
  weight_set_clear (&set);
  vv_backend_free (be);
  if (be_old)
    vv_backend_free (be_old);
  if (be_bf16)
    vv_backend_free (be_bf16);
  if (be_x2)
    vv_backend_free (be_x2);
  if (be_x3)
    vv_backend_free (be_x3);
  return 0;
}

/* Read bandwidth in GB/s over a fresh @mib MiB buffer, for other benchmarks
 * that state their time against the memory-bandwidth bound in the same run. */
gdouble
vv_bench_read_bandwidth (gsize mib, gint n_threads, gint iters)
{
  gsize bytes = mib << 20;
  guint64 *buf = g_try_malloc (bytes);
  if (buf == NULL)
    return 0.0;
  for (gsize i = 0; i < bytes / 8; i++)
    buf[i] = i;
  gdouble bw = measure_bandwidth (buf, bytes, n_threads, iters);
  g_free (buf);
  return bw;
}
