/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <vibevoice/vibevoice.h>

typedef struct {
  gint *counts;                 /* times each task ran (atomic) */
  gint n_tasks_seen;            /* n_tasks passed to the func, -1 if it varied */
  gint calls;                   /* atomic */
} CountData;

static void
count_task (gint task, gint n_tasks, gpointer user_data)
{
  CountData *d = user_data;
  g_assert_cmpint (task, >=, 0);
  g_assert_cmpint (task, <, n_tasks);
  if (n_tasks != d->n_tasks_seen)
    g_atomic_int_set (&d->n_tasks_seen, -1);
  g_atomic_int_inc (&d->counts[task]);
  g_atomic_int_inc (&d->calls);
}

/* Every task index runs exactly once, for several task and thread counts,
 * and the pool is reusable run after run. */
static void
test_each_task_once (void)
{
  static const gint task_counts[] = { 0, 1, 2, 3, 17, 1000 };
  static const gint thread_counts[] = { 1, 2, 4 };

  for (guint t = 0; t < G_N_ELEMENTS (thread_counts); t++) {
    g_autoptr (GError) error = NULL;
    VvThreadPool *pool = vv_thread_pool_new (thread_counts[t], &error);
    g_assert_no_error (error);
    g_assert_nonnull (pool);
    g_assert_cmpint (vv_thread_pool_get_n_threads (pool), ==, thread_counts[t]);

    for (gint rep = 0; rep < 3; rep++) {
      for (guint i = 0; i < G_N_ELEMENTS (task_counts); i++) {
        gint n = task_counts[i];
        CountData d = { g_new0 (gint, MAX (n, 1)), n, 0 };
        vv_thread_pool_run (pool, n, count_task, &d);
        /* run() must not return before every task is done */
        g_assert_cmpint (g_atomic_int_get (&d.calls), ==, n);
        g_assert_cmpint (d.n_tasks_seen, ==, n);
        for (gint k = 0; k < n; k++)
          if (d.counts[k] != 1)
            g_error ("threads %d, n_tasks %d: task %d ran %d times",
                thread_counts[t], n, k, d.counts[k]);
        g_free (d.counts);
      }
    }
    vv_thread_pool_free (pool);
  }
}

typedef struct {
  gdouble *out;
  const gdouble *in;
  gint len;
} SquareData;

static void
square_task (gint task, gint n_tasks, gpointer user_data)
{
  SquareData *d = user_data;
  gint i0 = d->len * task / n_tasks, i1 = d->len * (task + 1) / n_tasks;
  for (gint i = i0; i < i1; i++)
    d->out[i] = d->in[i] * d->in[i] + 1.0;
}

/* Many tiny back-to-back loops (the decoding pattern): no deadlock or lost
 * wake-up, results right every time, and bounded time. */
static void
test_many_runs (void)
{
  static const gint thread_counts[] = { 2, 4 };
  enum { LEN = 37, RUNS = 10000 };
  gdouble in[LEN], out[LEN];
  for (gint i = 0; i < LEN; i++)
    in[i] = i * 0.5;

  for (guint t = 0; t < G_N_ELEMENTS (thread_counts); t++) {
    g_autoptr (GError) error = NULL;
    VvThreadPool *pool = vv_thread_pool_new (thread_counts[t], &error);
    g_assert_no_error (error);
    gint64 t0 = g_get_monotonic_time ();
    for (gint run = 0; run < RUNS; run++) {
      for (gint i = 0; i < LEN; i++)
        out[i] = -1.0;
      in[run % LEN] += 1.0;     /* change the input so stale results show */
      SquareData d = { out, in, LEN };
      /* vary the task count, including more tasks than threads */
      vv_thread_pool_run (pool, 1 + run % 7, square_task, &d);
      for (gint i = 0; i < LEN; i++)
        if (out[i] != in[i] * in[i] + 1.0)
          g_error ("threads %d, run %d: element %d is %g, expected %g",
              thread_counts[t], run, i, out[i], in[i] * in[i] + 1.0);
    }
    gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
    g_test_message ("%d threads: %d runs in %.3f s (%.1f us/run)", thread_counts[t],
        RUNS, secs, secs * 1e6 / RUNS);
    /* generous bound (valgrind, loaded CI machine); a lost wake-up hangs */
    g_assert_cmpfloat (secs, <, 30.0);
    vv_thread_pool_free (pool);
  }
}

/* Runs separated by pauses long enough for the workers to go to sleep on
 * the condition variable, to exercise the blocking wake-up path. */
static void
test_sleep_wakeup (void)
{
  g_autoptr (GError) error = NULL;
  VvThreadPool *pool = vv_thread_pool_new (3, &error);
  g_assert_no_error (error);
  for (gint run = 0; run < 20; run++) {
    gint counts[8] = { 0 };
    CountData d = { counts, 8, 0 };
    g_usleep (run % 2 ? 5000 : 200);
    vv_thread_pool_run (pool, 8, count_task, &d);
    for (gint k = 0; k < 8; k++)
      g_assert_cmpint (counts[k], ==, 1);
  }
  vv_thread_pool_free (pool);
}

typedef struct {
  GMutex lock;
  GHashTable *threads;
} ThreadSetData;

static void
record_thread_task (gint task, gint n_tasks, gpointer user_data)
{
  ThreadSetData *d = user_data;
  /* long enough that one thread alone cannot take every task first */
  g_usleep (2000);
  g_mutex_lock (&d->lock);
  g_hash_table_add (d->threads, g_thread_self ());
  g_mutex_unlock (&d->lock);
}

/* The work really is shared: with slow tasks, more than one thread runs
 * them, and the caller's thread is one of them. */
static void
test_uses_threads (void)
{
  g_autoptr (GError) error = NULL;
  VvThreadPool *pool = vv_thread_pool_new (2, &error);
  g_assert_no_error (error);
  ThreadSetData d;
  g_mutex_init (&d.lock);
  d.threads = g_hash_table_new (NULL, NULL);
  vv_thread_pool_run (pool, 16, record_thread_task, &d);
  g_assert_cmpuint (g_hash_table_size (d.threads), ==, 2);
  g_assert_true (g_hash_table_contains (d.threads, g_thread_self ()));
  g_hash_table_unref (d.threads);
  g_mutex_clear (&d.lock);
  vv_thread_pool_free (pool);
}

typedef struct {
  GThread *caller;
  gint done;                    /* atomic */
} SlowWorkerData;

static void
slow_on_workers_task (gint task, gint n_tasks, gpointer user_data)
{
  SlowWorkerData *d = user_data;
  if (g_thread_self () != d->caller)
    g_usleep (5000);
  g_atomic_int_inc (&d->done);
}

/* run() returns only when the tasks running on worker threads are done,
 * not merely when none is left to start. */
static void
test_waits_for_workers (void)
{
  g_autoptr (GError) error = NULL;
  VvThreadPool *pool = vv_thread_pool_new (2, &error);
  g_assert_no_error (error);
  for (gint run = 0; run < 5; run++) {
    SlowWorkerData d = { g_thread_self (), 0 };
    vv_thread_pool_run (pool, 8, slow_on_workers_task, &d);
    g_assert_cmpint (g_atomic_int_get (&d.done), ==, 8);
  }
  vv_thread_pool_free (pool);
}

static void
test_default_n_threads (void)
{
  const gchar *saved = g_getenv ("VV_NUM_THREADS");
  g_autofree gchar *saved_copy = g_strdup (saved);

  g_setenv ("VV_NUM_THREADS", "3", TRUE);
  g_assert_cmpint (vv_thread_pool_default_n_threads (), ==, 3);
  {
    g_autoptr (GError) error = NULL;
    VvThreadPool *pool = vv_thread_pool_new (0, &error);
    g_assert_no_error (error);
    g_assert_cmpint (vv_thread_pool_get_n_threads (pool), ==, 3);
    vv_thread_pool_free (pool);
  }
  g_unsetenv ("VV_NUM_THREADS");
  g_assert_cmpint (vv_thread_pool_default_n_threads (), ==, (gint) g_get_num_processors ());

  if (saved_copy != NULL)
    g_setenv ("VV_NUM_THREADS", saved_copy, TRUE);
}

static void
test_invalid (void)
{
  g_autoptr (GError) error = NULL;
  VvThreadPool *pool = vv_thread_pool_new (-1, &error);
  g_assert_null (pool);
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/threadpool/each-task-once", test_each_task_once);
  g_test_add_func ("/threadpool/many-runs", test_many_runs);
  g_test_add_func ("/threadpool/sleep-wakeup", test_sleep_wakeup);
  g_test_add_func ("/threadpool/uses-threads", test_uses_threads);
  g_test_add_func ("/threadpool/waits-for-workers", test_waits_for_workers);
  g_test_add_func ("/threadpool/default-n-threads", test_default_n_threads);
  g_test_add_func ("/threadpool/invalid", test_invalid);
  return g_test_run ();
}
