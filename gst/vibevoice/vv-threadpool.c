/* gst-vibevoice
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vv-threadpool.h"

#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause ()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__ ("yield" ::: "memory")
#else
#define cpu_relax() do { } while (0)
#endif

/* How long an idle thread polls before it blocks on a condition variable.
 * A decoding step issues a few hundred parallel loops back to back with
 * only small serial ops in between; polling for a few tens of microseconds
 * lets workers catch the next loop without a futex wake-up (several µs
 * each), while a pool that really goes idle still sleeps almost at once.
 * A pool with more threads than processors never polls: a polling thread
 * would take the core from the one it waits for. */
#define VV_POOL_SPIN_US 50

/*
 * Protocol. A loop ("job") is published by writing func/user_data/n_tasks,
 * resetting the task counter and the count of workers still to finish, and
 * then bumping @generation under @lock (so a worker that is about to sleep
 * either sees the new generation or gets the broadcast). Every worker takes
 * part in every job: it grabs task indices from @next_task until none are
 * left, then decrements @pending; the caller, after running tasks itself,
 * waits for @pending to reach zero. Because every worker acknowledges every
 * generation, no worker can still be reading the previous job's fields when
 * the next one is published.
 */
struct _VvThreadPool {
  gint n_threads;
  GThread **threads;              /* n_threads - 1 workers */

  GMutex lock;
  GCond wake_cond;                /* workers wait here for a new generation */
  GCond done_cond;                /* the caller waits here for pending == 0 */

  VvParallelFunc func;
  gpointer user_data;
  gint n_tasks;
  gint next_task;                 /* atomic */
  gint pending;                   /* atomic: workers yet to finish the job */
  guint generation;               /* atomic; written under lock */
  gint quit;                      /* atomic; written under lock */
  gint spin_us;                   /* polling budget, see VV_POOL_SPIN_US */
  gint n_sleeping;                /* under lock: workers in wake_cond */
  gboolean caller_sleeping;       /* under lock: caller in done_cond */
};

/* Polling: call with *deadline = 0 first; returns FALSE once the pool's
 * polling budget is spent. Reads the clock only every 32 pauses. */
static inline gboolean
keep_polling (VvThreadPool *pool, gint *iter, gint64 *deadline)
{
  cpu_relax ();
  if ((++*iter & 31) != 0)
    return TRUE;
  gint64 now = g_get_monotonic_time ();
  if (*deadline == 0)
    *deadline = now + pool->spin_us;
  return now < *deadline;
}

static void
run_tasks (VvThreadPool *pool)
{
  VvParallelFunc func = pool->func;
  gpointer user_data = pool->user_data;
  gint n_tasks = pool->n_tasks;
  for (;;) {
    gint t = g_atomic_int_add (&pool->next_task, 1);
    if (t >= n_tasks)
      break;
    func (t, n_tasks, user_data);
  }
}

static gpointer
worker_main (gpointer data)
{
  VvThreadPool *pool = data;
  /* Not the current value: this thread may start after the first job was
   * published, and it must still take part in it. */
  guint seen = 0;

  for (;;) {
    /* Poll briefly, then sleep. */
    gint iter = 0;
    gint64 deadline = 0;
    if (pool->spin_us > 0)
      while ((guint) g_atomic_int_get (&pool->generation) == seen
          && !g_atomic_int_get (&pool->quit) && keep_polling (pool, &iter, &deadline))
        ;
    if ((guint) g_atomic_int_get (&pool->generation) == seen
        && !g_atomic_int_get (&pool->quit)) {
      g_mutex_lock (&pool->lock);
      pool->n_sleeping++;
      while ((guint) g_atomic_int_get (&pool->generation) == seen
          && !g_atomic_int_get (&pool->quit))
        g_cond_wait (&pool->wake_cond, &pool->lock);
      pool->n_sleeping--;
      g_mutex_unlock (&pool->lock);
    }
    if (g_atomic_int_get (&pool->quit))
      break;
    seen = g_atomic_int_get (&pool->generation);

    run_tasks (pool);

    if (g_atomic_int_dec_and_test (&pool->pending)) {
      /* Taking the lock orders this signal after the caller's check of
       * @pending under the same lock: no lost wake-up. */
      g_mutex_lock (&pool->lock);
      if (pool->caller_sleeping)
        g_cond_signal (&pool->done_cond);
      g_mutex_unlock (&pool->lock);
    }
  }
  return NULL;
}

/**
 * vv_thread_pool_default_n_threads:
 *
 * The environment variable VV_NUM_THREADS, if set to a positive integer,
 * overrides the default, which is the number of processors available to
 * the process.
 *
 * Returns: the thread count to use when 0 (auto) was asked for
 */
gint
vv_thread_pool_default_n_threads (void)
{
  const gchar *env = g_getenv ("VV_NUM_THREADS");
  if (env != NULL && *env != '\0') {
    gchar *end = NULL;
    gint64 v = g_ascii_strtoll (env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v <= 1024)
      return (gint) v;
    g_warning ("Ignoring invalid VV_NUM_THREADS=\"%s\"", env);
  }
  return MAX (1, (gint) g_get_num_processors ());
}

/**
 * vv_thread_pool_new:
 * @n_threads: total number of threads including the caller's, or 0 for
 *   vv_thread_pool_default_n_threads()
 * @error: return location for a #GError
 *
 * Starts @n_threads - 1 worker threads; the thread calling
 * vv_thread_pool_run() is the remaining one.
 *
 * Returns: (transfer full) (nullable): the pool, or %NULL on error
 */
VvThreadPool *
vv_thread_pool_new (gint n_threads, GError **error)
{
  if (n_threads < 0) {
    g_set_error (error, G_THREAD_ERROR, G_THREAD_ERROR_AGAIN,
        "Invalid thread count %d", n_threads);
    return NULL;
  }
  if (n_threads == 0)
    n_threads = vv_thread_pool_default_n_threads ();

  VvThreadPool *pool = g_new0 (VvThreadPool, 1);
  pool->n_threads = n_threads;
  pool->spin_us = n_threads <= (gint) g_get_num_processors () ? VV_POOL_SPIN_US : 0;
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->wake_cond);
  g_cond_init (&pool->done_cond);
  pool->threads = g_new0 (GThread *, MAX (1, n_threads - 1));

  for (gint i = 0; i < n_threads - 1; i++) {
    g_autofree gchar *name = g_strdup_printf ("vv-worker-%d", i + 1);
    pool->threads[i] = g_thread_try_new (name, worker_main, pool, error);
    if (pool->threads[i] == NULL) {
      g_prefix_error (error, "Cannot start worker thread %d of %d: ", i + 1, n_threads);
      pool->n_threads = i + 1;  /* free only what was started */
      vv_thread_pool_free (pool);
      return NULL;
    }
  }
  return pool;
}

void
vv_thread_pool_free (VvThreadPool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->lock);
  g_atomic_int_set (&pool->quit, 1);
  g_cond_broadcast (&pool->wake_cond);
  g_mutex_unlock (&pool->lock);
  for (gint i = 0; i < pool->n_threads - 1; i++)
    if (pool->threads[i] != NULL)
      g_thread_join (pool->threads[i]);
  g_free (pool->threads);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->wake_cond);
  g_cond_clear (&pool->done_cond);
  g_free (pool);
}

gint
vv_thread_pool_get_n_threads (VvThreadPool *pool)
{
  g_return_val_if_fail (pool != NULL, 1);
  return pool->n_threads;
}

/**
 * vv_thread_pool_run:
 * @pool: a pool
 * @n_tasks: number of tasks (0 does nothing)
 * @func: (scope call): called once for each task index
 * @user_data: passed to @func
 *
 * Runs @func for every task in [0, @n_tasks) on the pool's threads (the
 * calling thread included) and returns when all have finished. Which thread
 * runs which task is unspecified, so tasks must not depend on it. Not
 * reentrant: @func must not call vv_thread_pool_run() on the same pool.
 */
void
vv_thread_pool_run (VvThreadPool *pool, gint n_tasks, VvParallelFunc func,
    gpointer user_data)
{
  g_return_if_fail (pool != NULL && func != NULL);
  if (n_tasks <= 0)
    return;

  /* Nothing to share: skip the wake-up round trip. */
  if (pool->n_threads == 1 || n_tasks == 1) {
    for (gint t = 0; t < n_tasks; t++)
      func (t, n_tasks, user_data);
    return;
  }

  pool->func = func;
  pool->user_data = user_data;
  pool->n_tasks = n_tasks;
  g_atomic_int_set (&pool->next_task, 0);
  g_atomic_int_set (&pool->pending, pool->n_threads - 1);

  /* GCond wake-ups are syscalls even with no waiter: only broadcast when a
   * worker is actually asleep (checked under the lock it sleeps under). */
  g_mutex_lock (&pool->lock);
  g_atomic_int_inc ((gint *) &pool->generation);
  if (pool->n_sleeping > 0)
    g_cond_broadcast (&pool->wake_cond);
  g_mutex_unlock (&pool->lock);

  run_tasks (pool);

  gint iter = 0;
  gint64 deadline = 0;
  if (pool->spin_us > 0)
    while (g_atomic_int_get (&pool->pending) != 0 && keep_polling (pool, &iter, &deadline))
      ;
  if (g_atomic_int_get (&pool->pending) != 0) {
    g_mutex_lock (&pool->lock);
    pool->caller_sleeping = TRUE;
    while (g_atomic_int_get (&pool->pending) != 0)
      g_cond_wait (&pool->done_cond, &pool->lock);
    pool->caller_sleeping = FALSE;
    g_mutex_unlock (&pool->lock);
  }
}
